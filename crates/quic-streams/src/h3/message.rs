//! HTTP message validation (RFC 9114 §4.1.2, §4.2, §4.3).
//!
//! A message that breaks these rules is malformed; the receiver answers with a stream error
//! of type H3_MESSAGE_ERROR (§4.1.2). The same checks run on what the application asks us
//! to send, so we never emit a malformed message.

use super::qpack::Field;

/// Why a field section is malformed (the code is always H3_MESSAGE_ERROR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageError(pub &'static str);

type Result<T> = core::result::Result<T, MessageError>;

/// What the session needs to know about a valid request head.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RequestInfo {
    /// Whether the method is HEAD (the response then has no content).
    pub is_head: bool,
    /// Whether the method is CONNECT.
    pub is_connect: bool,
    /// The content-length, if given.
    pub content_length: Option<u64>,
}

/// What the session needs to know about a valid response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseInfo {
    /// The status code.
    pub status: u16,
    /// The content-length, if given.
    pub content_length: Option<u64>,
}

impl ResponseInfo {
    /// Whether this is an interim (1xx) response.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status)
    }
}

/// RFC 9110 §5.6.2 `tchar`, restricted to lowercase as RFC 9114 §4.2 requires.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.iter().all(|&b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// RFC 9110 §5.5: no NUL, CR or LF, and no leading or trailing whitespace.
fn valid_value(value: &[u8]) -> bool {
    let edge_ws = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    !value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n')
        && !edge_ws(value.first())
        && !edge_ws(value.last())
}

/// Checks the regular (non-pseudo) fields and reads content-length.
fn regular_field(f: &Field, content_length: &mut Option<u64>) -> Result<()> {
    if !valid_name(&f.name) {
        // RFC 9114 §4.2: "A request or response containing uppercase characters in field
        // names MUST be treated as malformed."
        return Err(MessageError("invalid field name"));
    }
    if !valid_value(&f.value) {
        return Err(MessageError("invalid field value"));
    }
    match &f.name[..] {
        // RFC 9114 §4.2: connection-specific fields MUST NOT appear; "TE" only as "trailers".
        b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" => {
            Err(MessageError("connection-specific field"))
        }
        b"te" if &f.value[..] != b"trailers" => Err(MessageError("TE other than trailers")),
        b"content-length" => {
            // Several values (or fields) are allowed only if they all agree (RFC 9110 §8.6).
            for part in f.value.split(|&b| b == b',') {
                let part = part.strip_prefix(b" ").unwrap_or(part);
                let v = parse_decimal(part).ok_or(MessageError("invalid content-length"))?;
                if content_length.is_some_and(|c| c != v) {
                    return Err(MessageError("conflicting content-length"));
                }
                *content_length = Some(v);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')))
}

/// Splits the pseudo-header prefix from the regular fields: every pseudo-header must come
/// first (RFC 9114 §4.3: "All pseudo-header fields MUST appear in the header section before
/// regular header fields").
fn split_pseudo(fields: &[Field]) -> Result<(&[Field], &[Field])> {
    let n = fields
        .iter()
        .take_while(|f| f.name.first() == Some(&b':'))
        .count();
    let (pseudo, regular) = fields.split_at(n);
    if regular.iter().any(|f| f.name.first() == Some(&b':')) {
        return Err(MessageError("pseudo-header after a regular field"));
    }
    Ok((pseudo, regular))
}

/// Finds the single value of pseudo-header `name` among `pseudo`; a repeat is malformed.
fn one<'a>(pseudo: &'a [Field], name: &[u8]) -> Result<Option<&'a [u8]>> {
    let mut it = pseudo.iter().filter(|f| &f.name[..] == name);
    let first = it.next().map(|f| &f.value[..]);
    if it.next().is_some() {
        return Err(MessageError("repeated pseudo-header"));
    }
    Ok(first)
}

/// Validates a request header section (RFC 9114 §4.3.1).
pub fn validate_request(fields: &[Field]) -> Result<RequestInfo> {
    let (pseudo, regular) = split_pseudo(fields)?;
    for f in pseudo {
        // Response or unknown pseudo-headers (incl. :protocol, as extended CONNECT is not
        // negotiated) make the request malformed.
        if !matches!(
            &f.name[..],
            b":method" | b":scheme" | b":authority" | b":path"
        ) {
            return Err(MessageError("unexpected pseudo-header in a request"));
        }
    }
    let method = one(pseudo, b":method")?.ok_or(MessageError("missing :method"))?;
    let scheme = one(pseudo, b":scheme")?;
    let authority = one(pseudo, b":authority")?;
    let path = one(pseudo, b":path")?;
    if method.is_empty() || !method.iter().all(|b| b.is_ascii_graphic()) {
        return Err(MessageError("invalid :method"));
    }
    let is_connect = method == b"CONNECT";
    if is_connect {
        // §4.4: CONNECT omits :scheme and :path and carries :authority.
        if scheme.is_some() || path.is_some() || authority.is_none_or(<[u8]>::is_empty) {
            return Err(MessageError("malformed CONNECT request"));
        }
    } else {
        // §4.3.1: ":scheme" and ":path" are required (except CONNECT); ":path" non-empty for
        // http and https.
        let scheme = scheme.ok_or(MessageError("missing :scheme"))?;
        let path = path.ok_or(MessageError("missing :path"))?;
        if path.is_empty() {
            return Err(MessageError("empty :path"));
        }
        if path == b"*" && method != b"OPTIONS" {
            return Err(MessageError(":path * is only for OPTIONS"));
        }
        if scheme == b"http" || scheme == b"https" {
            let host = regular
                .iter()
                .find(|f| &f.name[..] == b"host")
                .map(|f| &f.value[..]);
            match (authority, host) {
                (None | Some(b""), None) => return Err(MessageError("no :authority or host")),
                (Some(a), Some(h)) if !a.is_empty() && a != h => {
                    return Err(MessageError(":authority and host differ"))
                }
                _ => {}
            }
        }
    }
    let mut content_length = None;
    for f in regular {
        regular_field(f, &mut content_length)?;
    }
    Ok(RequestInfo {
        is_head: method == b"HEAD",
        is_connect,
        content_length,
    })
}

/// Validates a response header section (RFC 9114 §4.3.2), interim or final.
pub fn validate_response(fields: &[Field]) -> Result<ResponseInfo> {
    let (pseudo, regular) = split_pseudo(fields)?;
    if pseudo.iter().any(|f| &f.name[..] != b":status") {
        return Err(MessageError("unexpected pseudo-header in a response"));
    }
    let status = one(pseudo, b":status")?.ok_or(MessageError("missing :status"))?;
    let status = match status {
        [a @ b'1'..=b'5', b, c] if b.is_ascii_digit() && c.is_ascii_digit() => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(MessageError("invalid :status")),
    };
    // RFC 9114 §4.5 (and the HTTP/2 precedent): 101 Switching Protocols does not exist in
    // HTTP/3.
    if status == 101 {
        return Err(MessageError("101 is not allowed in HTTP/3"));
    }
    let mut content_length = None;
    for f in regular {
        regular_field(f, &mut content_length)?;
    }
    Ok(ResponseInfo {
        status,
        content_length,
    })
}

/// Validates a trailer section: no pseudo-headers (RFC 9114 §4.3), regular-field rules.
pub fn validate_trailers(fields: &[Field]) -> Result<()> {
    let mut ignored = None;
    for f in fields {
        if f.name.first() == Some(&b':') {
            return Err(MessageError("pseudo-header in trailers"));
        }
        regular_field(f, &mut ignored)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn fl(pairs: &[(&'static str, &'static str)]) -> Vec<Field> {
        pairs.iter().map(|&(n, v)| Field::new(n, v)).collect()
    }

    const GET: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "a.example"),
        (":path", "/"),
    ];

    #[test]
    fn accepts_well_formed_requests_and_responses() {
        assert!(validate_request(&fl(GET)).is_ok());
        assert!(
            validate_request(&fl(&[(":method", "CONNECT"), (":authority", "a:443")]))
                .unwrap()
                .is_connect
        );
        let head = validate_request(&fl(&[
            (":method", "HEAD"),
            (":scheme", "http"),
            (":path", "/x"),
            ("host", "h"),
            ("content-length", "0"),
        ]))
        .unwrap();
        assert!(head.is_head);
        assert_eq!(head.content_length, Some(0));
        let r = validate_response(&fl(&[(":status", "103"), ("link", "</a>")])).unwrap();
        assert!(r.is_interim());
        assert_eq!(
            validate_response(&fl(&[(":status", "200"), ("content-length", "5, 5")]))
                .unwrap()
                .content_length,
            Some(5)
        );
        assert!(validate_trailers(&fl(&[("grpc-status", "0")])).is_ok());
    }

    #[test]
    fn rejects_malformed_messages() {
        let mut bad: Vec<Vec<Field>> = Vec::new();
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = fl(GET);
            v.extend(fl(extra));
            v
        };
        bad.push(with(&[("Content-Type", "x")]));
        bad.push(with(&[("connection", "close")]));
        bad.push(with(&[("transfer-encoding", "chunked")]));
        bad.push(with(&[("te", "gzip")]));
        bad.push(with(&[("content-length", "abc")]));
        bad.push(with(&[("content-length", "1"), ("content-length", "2")]));
        bad.push(with(&[(":method", "GET")]));
        bad.push(with(&[("x", "a\r\nb")]));
        bad.push(with(&[("x", " padded")]));
        bad.push(fl(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
        ]));
        bad.push(fl(&[
            (":method", "GET"),
            (":authority", "a"),
            (":path", "/"),
        ]));
        bad.push(fl(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", ""),
        ]));
        bad.push(fl(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
            (":status", "200"),
        ]));
        bad.push(fl(&[
            ("x", "1"),
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "/"),
        ]));
        bad.push(fl(&[
            (":method", "CONNECT"),
            (":authority", "a"),
            (":path", "/"),
        ]));
        for b in &bad {
            assert!(validate_request(b).is_err(), "{b:?}");
        }
        for r in [
            &[(":status", "99")][..],
            &[(":status", "2000")],
            &[(":status", "101")],
            &[(":status", "200"), (":status", "200")],
            &[(":status", "200"), (":path", "/")],
            &[("x", "1")],
        ] {
            assert!(validate_response(&fl(r)).is_err(), "{r:?}");
        }
        assert!(validate_trailers(&fl(&[(":status", "200")])).is_err());
    }
}
