//! Extensible priorities (RFC 9218): the `priority` field value and PRIORITY_UPDATE payloads.
//!
//! Both carry a Structured Fields Dictionary (RFC 8941 §3.2). We read the two parameters RFC
//! 9218 defines, `u` (urgency, Integer 0-7, default 3) and `i` (incremental, Boolean, default
//! false); unknown members, out-of-range values and values of the wrong type are ignored
//! (§4: they "MUST be ignored"). A value that is not a well-formed dictionary as far as this
//! reader checks (member keys, Booleans, Integers) yields `None`, and the caller keeps the
//! previous or default priority.

use alloc::string::String;
use core::fmt::Write;

/// Urgency when none is given (RFC 9218 §4.1).
pub const DEFAULT_URGENCY: u8 = 3;

/// The stream scheduler's priority type is also HTTP/3's: what the `priority` header and
/// PRIORITY_UPDATE frames carry is what [`crate::Streams::set_priority`] takes.
pub use crate::sched::Priority;

fn is_key_start(b: u8) -> bool {
    b.is_ascii_lowercase() || b == b'*'
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.' | b'*')
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end]
}

enum Value {
    Bool(bool),
    Int(i64),
    Other,
}

fn parse_value(v: &[u8]) -> Option<Value> {
    match v {
        b"?0" => Some(Value::Bool(false)),
        b"?1" => Some(Value::Bool(true)),
        [b'?', ..] => None,
        [b'-' | b'0'..=b'9', ..] => {
            let (neg, digits) = match v.split_first() {
                Some((b'-', d)) => (true, d),
                _ => (false, v),
            };
            // RFC 8941 §3.3.1: at most 15 digits.
            if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_digit) {
                // Could be a Decimal; not a type we use.
                return Some(Value::Other);
            }
            let n = digits
                .iter()
                .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
            Some(Value::Int(if neg { -n } else { n }))
        }
        _ => Some(Value::Other),
    }
}

impl Priority {
    /// Parses a Priority field value (or PRIORITY_UPDATE Priority Field Value), starting
    /// from the defaults. `None` if the dictionary is malformed.
    pub fn parse(value: &[u8]) -> Option<Priority> {
        let mut p = Priority::default();
        if trim(value).is_empty() {
            return Some(p);
        }
        for member in value.split(|&b| b == b',') {
            let member = trim(member);
            // Parameters after ';' do not affect these members.
            let item = member.split(|&b| b == b';').next().unwrap_or(&[]);
            let (key, val) = match item.iter().position(|&b| b == b'=') {
                Some(eq) => (&item[..eq], Some(&item[eq + 1..])),
                None => (item, None),
            };
            match key.split_first() {
                Some((&first, rest))
                    if is_key_start(first) && rest.iter().all(|&b| is_key_char(b)) => {}
                _ => return None,
            }
            // A bare key is the Boolean true (RFC 8941 §3.2).
            let val = match val {
                None => Value::Bool(true),
                Some(v) => parse_value(v)?,
            };
            match (key, val) {
                (b"u", Value::Int(n)) if (0..=7).contains(&n) => {
                    p = Priority::new(n as u8, p.incremental);
                }
                (b"i", Value::Bool(b)) => p.incremental = b,
                _ => {}
            }
        }
        Some(p)
    }

    /// Serializes as a field value, omitting defaults (e.g. `u=1, i`, or empty).
    pub fn to_field_value(&self) -> String {
        let mut s = String::new();
        if self.urgency() != DEFAULT_URGENCY {
            let _ = write!(s, "u={}", self.urgency());
        }
        if self.incremental {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push('i');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urgency_and_incremental_and_ignores_the_rest() {
        let p = |s: &str| Priority::parse(s.as_bytes());
        assert_eq!(p("u=5, i"), Some(Priority::new(5, true)));
        assert_eq!(p("i=?0,u=0"), Some(Priority::new(0, false)));
        assert_eq!(p(""), Some(Priority::default()));
        assert_eq!(p("u=9"), Some(Priority::default()));
        assert_eq!(
            p("u=-1, i=?1;x=1, foo=\"bar\""),
            Some(Priority::new(3, true))
        );
        assert_eq!(p("u=1.5"), Some(Priority::default()));
        assert_eq!(p("U=1"), None);
        assert_eq!(p("u=?2"), None);
    }

    #[test]
    fn serialization_round_trips() {
        for urgency in 0..8 {
            for incremental in [false, true] {
                let pr = Priority::new(urgency, incremental);
                assert_eq!(Priority::parse(pr.to_field_value().as_bytes()), Some(pr));
            }
        }
    }
}
