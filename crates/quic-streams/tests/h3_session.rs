//! HTTP/3 sessions: a client and a server over an in-memory loopback transport (bodies both
//! ways, trailers, interim responses, GOAWAY, priorities, QPACK blocking), and the
//! connection and stream errors a misbehaving peer triggers, each with its code.

use bytes::Bytes;
use quic_streams::h3::frame::{frame_type, Frame};
use quic_streams::h3::qpack::encoder::InsertPolicy;
use quic_streams::h3::settings::Settings;
use quic_streams::h3::varint::put_varint;
use quic_streams::h3::{
    Code, Config, Event, Field, Priority, SendError, Transport, TransportError, H3,
};
use quic_wire::{Dir, Side, StreamId};

/// One endpoint's view of the QUIC connection: what the session asked the transport to do.
struct Pipe {
    side: Side,
    next_bidi: u64,
    next_uni: u64,
    writes: Vec<(StreamId, Bytes, bool)>,
    resets: Vec<(StreamId, Code)>,
    stops: Vec<(StreamId, Code)>,
    /// Refuse every write (to test Blocked handling).
    refuse: bool,
}

impl Pipe {
    fn new(side: Side) -> Self {
        Pipe {
            side,
            next_bidi: 0,
            next_uni: 0,
            writes: vec![],
            resets: vec![],
            stops: vec![],
            refuse: false,
        }
    }
}

impl Transport for Pipe {
    fn open_uni(&mut self) -> Result<StreamId, TransportError> {
        self.next_uni += 1;
        Ok(StreamId::new(self.side, Dir::Uni, self.next_uni - 1).unwrap())
    }
    fn open_bidi(&mut self) -> Result<StreamId, TransportError> {
        self.next_bidi += 1;
        Ok(StreamId::new(self.side, Dir::Bi, self.next_bidi - 1).unwrap())
    }
    fn write(
        &mut self,
        stream: StreamId,
        chunks: &[Bytes],
        fin: bool,
    ) -> Result<(), TransportError> {
        if self.refuse {
            return Err(TransportError::Blocked);
        }
        if chunks.is_empty() {
            self.writes.push((stream, Bytes::new(), fin));
        }
        for (i, c) in chunks.iter().enumerate() {
            self.writes
                .push((stream, c.clone(), fin && i + 1 == chunks.len()));
        }
        Ok(())
    }
    fn reset(&mut self, stream: StreamId, code: Code) {
        self.resets.push((stream, code));
    }
    fn stop_sending(&mut self, stream: StreamId, code: Code) {
        self.stops.push((stream, code));
    }
}

struct Pair {
    client: H3,
    server: H3,
    ct: Pipe,
    st: Pipe,
    /// Deliver request-stream data before unidirectional-stream data (forces QPACK blocking).
    bidi_first: bool,
    /// Split every write into pieces of at most this many bytes.
    chunk: usize,
}

impl Pair {
    fn new(client: Config, server: Config) -> Pair {
        let mut p = Pair {
            client: H3::new(Side::Client, client),
            server: H3::new(Side::Server, server),
            ct: Pipe::new(Side::Client),
            st: Pipe::new(Side::Server),
            bidi_first: false,
            chunk: usize::MAX,
        };
        p.client.start(&mut p.ct).unwrap();
        p.server.start(&mut p.st).unwrap();
        p.drive();
        let c: Vec<Event> = drain(&mut p.client);
        let s: Vec<Event> = drain(&mut p.server);
        assert!(matches!(c[..], [Event::Settings(_)]), "{c:?}");
        assert!(matches!(s[..], [Event::Settings(_)]), "{s:?}");
        p
    }

    /// Moves everything each side wrote to the other until nothing is left. Bounded.
    fn drive(&mut self) {
        for _ in 0..100 {
            let cw = std::mem::take(&mut self.ct.writes);
            let sw = std::mem::take(&mut self.st.writes);
            let cr = std::mem::take(&mut self.ct.resets);
            let sr = std::mem::take(&mut self.st.resets);
            let cs = std::mem::take(&mut self.ct.stops);
            let ss = std::mem::take(&mut self.st.stops);
            if cw.is_empty()
                && sw.is_empty()
                && cr.is_empty()
                && sr.is_empty()
                && cs.is_empty()
                && ss.is_empty()
            {
                return;
            }
            deliver(
                &mut self.server,
                &mut self.st,
                cw,
                self.bidi_first,
                self.chunk,
            );
            deliver(
                &mut self.client,
                &mut self.ct,
                sw,
                self.bidi_first,
                self.chunk,
            );
            for (id, code) in cr {
                self.server.on_stream_reset(&mut self.st, id, code).unwrap();
            }
            for (id, code) in sr {
                self.client.on_stream_reset(&mut self.ct, id, code).unwrap();
            }
            for (id, code) in cs {
                self.server.on_stop_sending(&mut self.st, id, code).unwrap();
            }
            for (id, code) in ss {
                self.client.on_stop_sending(&mut self.ct, id, code).unwrap();
            }
        }
        panic!("loopback did not settle");
    }
}

fn deliver(
    h3: &mut H3,
    t: &mut Pipe,
    mut writes: Vec<(StreamId, Bytes, bool)>,
    bidi_first: bool,
    chunk: usize,
) {
    if bidi_first {
        writes.sort_by_key(|w| w.0.dir() == Dir::Uni);
    }
    for (id, data, fin) in writes {
        if data.is_empty() {
            h3.on_stream_data(t, id, data, fin).unwrap();
            continue;
        }
        let mut off = 0;
        while off < data.len() {
            let end = (off + chunk).min(data.len());
            h3.on_stream_data(t, id, data.slice(off..end), fin && end == data.len())
                .unwrap();
            off = end;
        }
    }
}

fn drain(h3: &mut H3) -> Vec<Event> {
    std::iter::from_fn(|| h3.poll_event()).collect()
}

fn fields(pairs: &[(&'static str, &'static str)]) -> Vec<Field> {
    pairs.iter().map(|&(n, v)| Field::new(n, v)).collect()
}

fn get(path: &'static str) -> Vec<Field> {
    fields(&[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", path),
    ])
}

/// Joins the DATA events for `stream`.
fn body(events: &[Event], stream: StreamId) -> Vec<u8> {
    let mut v = vec![];
    for e in events {
        if let Event::Data { stream: s, data } = e {
            if *s == stream {
                v.extend_from_slice(data);
            }
        }
    }
    v
}

#[test]
fn request_and_response_with_bodies_trailers_and_interim_responses() {
    for chunk in [usize::MAX, 7, 1] {
        let mut p = Pair::new(Config::default(), Config::default());
        p.chunk = chunk;
        let mut req = fields(&[
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "example.com"),
            (":path", "/upload"),
            ("content-length", "11"),
            ("priority", "u=1, i"),
        ]);
        req.push(Field::new("authorization", "secret").sensitive(true));
        let id = p.client.send_request(&mut p.ct, &req, false).unwrap();
        p.client
            .send_data(&mut p.ct, id, Bytes::from_static(b"hello "), false)
            .unwrap();
        p.client
            .send_data(&mut p.ct, id, Bytes::from_static(b"world"), true)
            .unwrap();
        p.drive();
        let ev = drain(&mut p.server);
        match &ev[0] {
            Event::Request {
                stream,
                fields,
                priority,
            } => {
                assert_eq!(*stream, id);
                assert_eq!(fields, &req);
                assert_eq!(*priority, Priority::new(1, true));
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(body(&ev, id), b"hello world");
        assert_eq!(ev.last(), Some(&Event::Finished { stream: id }));
        assert_eq!(p.server.priority(id), Some(Priority::new(1, true)));

        p.server
            .send_response(
                &mut p.st,
                id,
                &fields(&[(":status", "103"), ("link", "</s.css>")]),
                false,
            )
            .unwrap();
        p.server
            .send_response(
                &mut p.st,
                id,
                &fields(&[(":status", "200"), ("content-type", "text/plain")]),
                false,
            )
            .unwrap();
        let big = Bytes::from(vec![b'x'; 5000]);
        p.server
            .send_data(&mut p.st, id, big.clone(), false)
            .unwrap();
        p.server
            .send_trailers(&mut p.st, id, &fields(&[("x-checksum", "abc")]))
            .unwrap();
        p.drive();
        let ev = drain(&mut p.client);
        assert!(
            matches!(&ev[0], Event::Informational { stream, .. } if *stream == id),
            "{ev:?}"
        );
        assert!(
            matches!(&ev[1], Event::Response { stream, fields } if *stream == id && fields[0].value == "200")
        );
        assert_eq!(body(&ev, id), &big[..]);
        let n = ev.len();
        assert_eq!(
            ev[n - 2],
            Event::Trailers {
                stream: id,
                fields: fields(&[("x-checksum", "abc")])
            }
        );
        assert_eq!(ev[n - 1], Event::Finished { stream: id });
    }
}

#[test]
fn body_bytes_are_sent_without_copying() {
    let mut p = Pair::new(Config::default(), Config::default());
    let id = p.client.send_request(&mut p.ct, &get("/"), true).unwrap();
    p.drive();
    drain(&mut p.server);
    p.server
        .send_response(&mut p.st, id, &fields(&[(":status", "200")]), false)
        .unwrap();
    let body = Bytes::from(vec![1u8; 1000]);
    p.st.writes.clear();
    p.server
        .send_data(&mut p.st, id, body.clone(), true)
        .unwrap();
    // The second chunk handed to the transport is the application's buffer itself.
    assert_eq!(p.st.writes.len(), 2);
    assert_eq!(p.st.writes[0].1[..], [0x00, 0x43, 0xe8]);
    assert_eq!(p.st.writes[1].1.as_ptr(), body.as_ptr());
}

#[test]
fn many_requests_with_a_dynamic_table_and_blocked_streams() {
    let cfg = |policy| Config {
        encoder: quic_streams::h3::qpack::EncoderConfig {
            policy,
            ..Default::default()
        },
        ..Config::default()
    };
    let mut p = Pair::new(cfg(InsertPolicy::Always), cfg(InsertPolicy::Always));
    p.bidi_first = true;
    p.chunk = 3;
    for round in 0..20 {
        let mut req = get("/a");
        req.push(Field::new("x-round", format!("{round}")));
        req.push(Field::new("user-agent", "loopback-test/1.0"));
        let id = p.client.send_request(&mut p.ct, &req, true).unwrap();
        // The request stream alone: its section references a new, unreceived entry.
        let (bidi, uni): (Vec<_>, Vec<_>) = std::mem::take(&mut p.ct.writes)
            .into_iter()
            .partition(|w| w.0.dir() == Dir::Bi);
        deliver(&mut p.server, &mut p.st, bidi, false, 3);
        assert!(
            drain(&mut p.server).is_empty(),
            "round {round}: request should be blocked"
        );
        p.ct.writes = uni;
        p.drive();
        let ev = drain(&mut p.server);
        assert!(
            matches!(&ev[0], Event::Request { fields, .. } if *fields == req),
            "{ev:?}"
        );
        p.server
            .send_response(
                &mut p.st,
                id,
                &fields(&[(":status", "200"), ("server", "loop")]),
                true,
            )
            .unwrap();
        p.drive();
        let ev = drain(&mut p.client);
        assert!(matches!(&ev[0], Event::Response { .. }));
    }
    // Both ends used their dynamic tables.
    assert!(p.client.error().is_none() && p.server.error().is_none());
}

#[test]
fn goaway_from_the_server_rejects_later_requests() {
    let mut p = Pair::new(Config::default(), Config::default());
    let first = p.client.send_request(&mut p.ct, &get("/1"), true).unwrap();
    p.drive();
    drain(&mut p.server);
    p.server.goaway(&mut p.st).unwrap();
    // A request the client sent before it saw the GOAWAY.
    let late = p.client.send_request(&mut p.ct, &get("/2"), true).unwrap();
    p.drive();
    assert!(
        drain(&mut p.server).is_empty(),
        "late request must not surface"
    );
    let ev = drain(&mut p.client);
    assert!(ev.contains(&Event::GoAway { id: 4 }), "{ev:?}");
    assert!(ev.contains(&Event::StreamAborted {
        stream: late,
        code: Code::H3_REQUEST_REJECTED,
        by_peer: true
    }));
    assert_eq!(
        p.client.send_request(&mut p.ct, &get("/3"), true),
        Err(SendError::GoingAway)
    );
    // The request before the GOAWAY still completes.
    p.server
        .send_response(&mut p.st, first, &fields(&[(":status", "204")]), true)
        .unwrap();
    p.drive();
    let ev = drain(&mut p.client);
    assert!(matches!(ev[0], Event::Response { stream, .. } if stream == first));
    // Client-side GOAWAY carries push ID 0.
    p.client.goaway(&mut p.ct).unwrap();
    p.drive();
    assert_eq!(drain(&mut p.server), [Event::GoAway { id: 0 }]);
}

#[test]
fn priority_update_reaches_the_server() {
    let mut p = Pair::new(Config::default(), Config::default());
    let id = p.client.send_request(&mut p.ct, &get("/"), true).unwrap();
    p.drive();
    drain(&mut p.server);
    let pr = Priority::new(6, true);
    p.client.send_priority_update(&mut p.ct, id, pr).unwrap();
    p.drive();
    assert_eq!(
        drain(&mut p.server),
        [Event::PriorityUpdate {
            stream: id,
            priority: pr
        }]
    );
    assert_eq!(p.server.priority(id), Some(pr));
}

#[test]
fn malformed_requests_are_stream_errors_with_h3_message_error() {
    let cases = [
        fields(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
            (":authority", "a"),
            ("Upper", "x"),
        ]),
        fields(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/"),
            (":authority", "a"),
            ("connection", "close"),
        ]),
        fields(&[(":method", "GET"), (":path", "/"), (":authority", "a")]),
    ];
    for req in cases {
        let mut p = Pair::new(Config::default(), Config::default());
        // Bypass the client's own validation: write a raw HEADERS frame.
        let id = StreamId::new(Side::Client, Dir::Bi, 0).unwrap();
        let mut enc = quic_streams::h3::qpack::Encoder::new(Default::default());
        let mut block = vec![];
        enc.encode(0, &req, &mut block);
        let mut wire = vec![];
        Frame::Headers(block.into()).encode(&mut wire);
        p.server
            .on_stream_data(&mut p.st, id, wire.into(), true)
            .unwrap();
        assert_eq!(
            drain(&mut p.server),
            [Event::StreamAborted {
                stream: id,
                code: Code::H3_MESSAGE_ERROR,
                by_peer: false
            }]
        );
        assert!(p.st.resets.contains(&(id, Code::H3_MESSAGE_ERROR)));
        assert!(p.st.stops.contains(&(id, Code::H3_MESSAGE_ERROR)));
    }
}

fn raw_headers(req: &[Field]) -> Vec<u8> {
    let mut enc = quic_streams::h3::qpack::Encoder::new(Default::default());
    let mut block = vec![];
    enc.encode(0, req, &mut block);
    let mut wire = vec![];
    Frame::Headers(block.into()).encode(&mut wire);
    wire
}

fn raw_data(body: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00];
    put_varint(&mut v, body.len() as u64);
    v.extend_from_slice(body);
    v
}

#[test]
fn content_length_mismatch_is_h3_message_error_and_missing_request_is_incomplete() {
    let post = fields(&[
        (":method", "POST"),
        (":scheme", "https"),
        (":authority", "a"),
        (":path", "/"),
        ("content-length", "3"),
    ]);
    let id = StreamId::new(Side::Client, Dir::Bi, 0).unwrap();
    for (body, fin) in [(&b"toolong"[..], false), (&b"ab"[..], true)] {
        let mut p = Pair::new(Config::default(), Config::default());
        let mut wire = raw_headers(&post);
        wire.extend(raw_data(body));
        p.server
            .on_stream_data(&mut p.st, id, wire.into(), fin)
            .unwrap();
        let ev = drain(&mut p.server);
        assert_eq!(
            ev.last(),
            Some(&Event::StreamAborted {
                stream: id,
                code: Code::H3_MESSAGE_ERROR,
                by_peer: false
            }),
            "{ev:?}"
        );
    }
    let mut p = Pair::new(Config::default(), Config::default());
    p.server
        .on_stream_data(&mut p.st, id, Bytes::new(), true)
        .unwrap();
    assert_eq!(
        drain(&mut p.server),
        [Event::StreamAborted {
            stream: id,
            code: Code::H3_REQUEST_INCOMPLETE,
            by_peer: false
        }]
    );
}

/// Feeds `bytes` to a fresh server (after the client's normal start) on `stream`.
fn server_gets(stream: StreamId, bytes: &[u8], fin: bool) -> Result<(), Code> {
    let mut p = Pair::new(Config::default(), Config::default());
    p.server
        .on_stream_data(&mut p.st, stream, Bytes::copy_from_slice(bytes), fin)
        .map_err(|e| e.code)
}

fn client_gets(stream: StreamId, bytes: &[u8], fin: bool) -> Result<(), Code> {
    let mut p = Pair::new(Config::default(), Config::default());
    p.client
        .on_stream_data(&mut p.ct, stream, Bytes::copy_from_slice(bytes), fin)
        .map_err(|e| e.code)
}

fn settings_frame() -> Vec<u8> {
    let mut v = vec![];
    Frame::Settings(Settings::default()).encode(&mut v);
    v
}

#[test]
fn connection_errors_have_their_codes() {
    let cuni = |i| StreamId::new(Side::Client, Dir::Uni, i).unwrap();
    let suni = |i| StreamId::new(Side::Server, Dir::Uni, i).unwrap();
    let cbidi = StreamId::new(Side::Client, Dir::Bi, 0).unwrap();
    // A second control / encoder / decoder stream (the client's real ones are uni 0..2).
    for ty in [0u8, 2, 3] {
        assert_eq!(
            server_gets(cuni(10), &[ty], false),
            Err(Code::H3_STREAM_CREATION_ERROR)
        );
    }
    // The client's control stream ending, and the QPACK streams ending.
    for i in 0..3 {
        assert_eq!(
            server_gets(cuni(i), &[], true),
            Err(Code::H3_CLOSED_CRITICAL_STREAM)
        );
    }
    // A fresh control stream whose first frame is not SETTINGS (fresh server without peers).
    let mut s = H3::new(Side::Server, Config::default());
    let mut t = Pipe::new(Side::Server);
    s.start(&mut t).unwrap();
    let mut wire = vec![0x00];
    Frame::Goaway(0).encode(&mut wire);
    assert_eq!(
        s.on_stream_data(&mut t, cuni(0), wire.into(), false)
            .unwrap_err()
            .code,
        Code::H3_MISSING_SETTINGS
    );
    // Errors are sticky.
    assert_eq!(
        s.on_stream_data(&mut t, cuni(5), Bytes::new(), false)
            .unwrap_err()
            .code,
        Code::H3_MISSING_SETTINGS
    );
    // Push streams: from a client, and to a client that never sent MAX_PUSH_ID.
    assert_eq!(
        server_gets(cuni(10), &[0x01, 0x00], false),
        Err(Code::H3_STREAM_CREATION_ERROR)
    );
    assert_eq!(
        client_gets(suni(10), &[0x01, 0x00], false),
        Err(Code::H3_ID_ERROR)
    );
    // Server-initiated bidirectional stream.
    assert_eq!(
        client_gets(
            StreamId::new(Side::Server, Dir::Bi, 0).unwrap(),
            &[0x01, 0x00],
            false
        ),
        Err(Code::H3_STREAM_CREATION_ERROR)
    );
    // DATA before HEADERS; HEADERS after trailers; control frames on a request stream.
    assert_eq!(
        server_gets(cbidi, &raw_data(b"x"), false),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
    let mut wire = raw_headers(&get("/"));
    wire.extend(raw_headers(&fields(&[("x-t", "1")])));
    wire.extend(raw_headers(&fields(&[("x-t", "2")])));
    assert_eq!(
        server_gets(cbidi, &wire, false),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
    let mut wire = vec![];
    Frame::Goaway(0).encode(&mut wire);
    assert_eq!(
        server_gets(cbidi, &wire, false),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
    // PUSH_PROMISE: from a client; to a client that allows no pushes.
    let mut pp = vec![];
    Frame::PushPromise {
        push_id: 0,
        field_section: Bytes::from_static(&[0, 0]),
    }
    .encode(&mut pp);
    assert_eq!(
        server_gets(cbidi, &pp, false),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
    let mut p = Pair::new(Config::default(), Config::default());
    let id = p.client.send_request(&mut p.ct, &get("/"), true).unwrap();
    assert_eq!(
        p.client
            .on_stream_data(&mut p.ct, id, pp.into(), false)
            .unwrap_err()
            .code,
        Code::H3_ID_ERROR
    );
    // Truncated frame at end of a request stream.
    assert_eq!(
        server_gets(cbidi, &[0x01, 0x05, 0x00], true),
        Err(Code::H3_FRAME_ERROR)
    );
}

/// Sends `frames` on a new control stream to a fresh session of `side` and returns its error.
fn control_error(side: Side, frames: &[Frame]) -> Option<Code> {
    let mut h = H3::new(side, Config::default());
    let mut t = Pipe::new(side);
    h.start(&mut t).unwrap();
    let mut wire = vec![0x00];
    wire.extend(settings_frame());
    for f in frames {
        f.encode(&mut wire);
    }
    let peer = if side == Side::Client {
        Side::Server
    } else {
        Side::Client
    };
    h.on_stream_data(
        &mut t,
        StreamId::new(peer, Dir::Uni, 0).unwrap(),
        wire.into(),
        false,
    )
    .err()
    .map(|e| e.code)
}

#[test]
fn control_frame_id_rules() {
    use Frame::*;
    // GOAWAY to a client must name a client bidi stream and never increase.
    assert_eq!(
        control_error(Side::Client, &[Goaway(1)]),
        Some(Code::H3_ID_ERROR)
    );
    assert_eq!(
        control_error(Side::Client, &[Goaway(8), Goaway(12)]),
        Some(Code::H3_ID_ERROR)
    );
    assert_eq!(control_error(Side::Client, &[Goaway(8), Goaway(4)]), None);
    assert_eq!(
        control_error(Side::Server, &[Goaway(3), Goaway(5)]),
        Some(Code::H3_ID_ERROR)
    );
    // MAX_PUSH_ID never decreases.
    assert_eq!(
        control_error(Side::Server, &[MaxPushId(5), MaxPushId(4)]),
        Some(Code::H3_ID_ERROR)
    );
    assert_eq!(
        control_error(Side::Server, &[MaxPushId(5), MaxPushId(5)]),
        None
    );
    // CANCEL_PUSH for pushes that cannot exist.
    assert_eq!(
        control_error(Side::Server, &[CancelPush(0)]),
        Some(Code::H3_ID_ERROR)
    );
    assert_eq!(
        control_error(Side::Client, &[CancelPush(0)]),
        Some(Code::H3_ID_ERROR)
    );
    // PRIORITY_UPDATE: non-request stream ID, or an unpromised push.
    let pu = |push, id| PriorityUpdate {
        push,
        id,
        value: Bytes::from_static(b"u=1"),
    };
    assert_eq!(
        control_error(Side::Server, &[pu(false, 2)]),
        Some(Code::H3_ID_ERROR)
    );
    assert_eq!(
        control_error(Side::Server, &[pu(true, 0)]),
        Some(Code::H3_ID_ERROR)
    );
    assert_eq!(control_error(Side::Server, &[pu(false, 8)]), None);
    // Frames a client must not receive.
    assert_eq!(
        control_error(Side::Client, &[pu(false, 0)]),
        Some(Code::H3_FRAME_UNEXPECTED)
    );
    assert_eq!(
        control_error(Side::Client, &[MaxPushId(1)]),
        Some(Code::H3_FRAME_UNEXPECTED)
    );
    // HTTP/2 settings, reserved frame types.
    let mut h = H3::new(Side::Server, Config::default());
    let mut t = Pipe::new(Side::Server);
    h.start(&mut t).unwrap();
    let wire = [0x00, frame_type::SETTINGS as u8, 2, 0x03, 0x01];
    let e = h.on_stream_data(
        &mut t,
        StreamId::new(Side::Client, Dir::Uni, 0).unwrap(),
        Bytes::copy_from_slice(&wire),
        false,
    );
    assert_eq!(e.unwrap_err().code, Code::H3_SETTINGS_ERROR);
}

#[test]
fn reserved_and_unknown_stream_types_are_discarded_with_stop_sending() {
    let mut p = Pair::new(Config::default(), Config::default());
    let id = StreamId::new(Side::Client, Dir::Uni, 20).unwrap();
    let mut wire = vec![];
    put_varint(&mut wire, 0x21 + 0x1f * 9);
    wire.extend_from_slice(b"whatever bytes");
    p.server
        .on_stream_data(&mut p.st, id, wire.into(), false)
        .unwrap();
    p.server
        .on_stream_data(&mut p.st, id, Bytes::from_static(b"more"), true)
        .unwrap();
    assert!(p.st.stops.contains(&(id, Code::H3_STREAM_CREATION_ERROR)));
    assert!(p.server.error().is_none());
}

#[test]
fn peer_reset_of_a_request_is_reported_and_qpack_state_cancelled() {
    let mut p = Pair::new(Config::default(), Config::default());
    let id = p.client.send_request(&mut p.ct, &get("/"), false).unwrap();
    p.drive();
    drain(&mut p.server);
    p.client.cancel(&mut p.ct, id, Code::H3_REQUEST_CANCELLED);
    p.drive();
    let ev = drain(&mut p.server);
    assert!(
        ev.contains(&Event::StreamAborted {
            stream: id,
            code: Code::H3_REQUEST_CANCELLED,
            by_peer: true
        }),
        "{ev:?}"
    );
    assert!(p.server.error().is_none() && p.client.error().is_none());
    // A reset of a critical stream closes the connection.
    let ctrl = StreamId::new(Side::Client, Dir::Uni, 0).unwrap();
    assert_eq!(
        p.server
            .on_stream_reset(&mut p.st, ctrl, Code::H3_NO_ERROR)
            .unwrap_err()
            .code,
        Code::H3_CLOSED_CRITICAL_STREAM
    );
}

#[test]
fn api_misuse_is_a_typed_error() {
    let mut p = Pair::new(Config::default(), Config::default());
    let bad = fields(&[(":method", "GET")]);
    assert!(matches!(
        p.client.send_request(&mut p.ct, &bad, true),
        Err(SendError::Malformed(_))
    ));
    let id = p.client.send_request(&mut p.ct, &get("/"), true).unwrap();
    assert!(matches!(
        p.client
            .send_data(&mut p.ct, id, Bytes::from_static(b"x"), true),
        Err(SendError::InvalidState(_))
    ));
    assert!(matches!(
        p.client
            .send_response(&mut p.ct, id, &fields(&[(":status", "200")]), true),
        Err(SendError::InvalidState(_))
    ));
    p.drive();
    drain(&mut p.server);
    assert!(matches!(
        p.server
            .send_response(&mut p.st, id, &fields(&[(":status", "100")]), true),
        Err(SendError::Malformed(_))
    ));
    p.server
        .send_response(
            &mut p.st,
            id,
            &fields(&[(":status", "200"), ("content-length", "2")]),
            false,
        )
        .unwrap();
    assert!(matches!(
        p.server
            .send_data(&mut p.st, id, Bytes::from_static(b"abc"), false),
        Err(SendError::Malformed(_))
    ));
    p.st.refuse = true;
    assert_eq!(
        p.server
            .send_data(&mut p.st, id, Bytes::from_static(b"ab"), true),
        Err(SendError::Transport(TransportError::Blocked))
    );
    p.st.refuse = false;
    p.server
        .send_data(&mut p.st, id, Bytes::from_static(b"ab"), true)
        .unwrap();
    let unstarted = H3::new(Side::Client, Config::default());
    assert!(!unstarted.is_started());
}

#[test]
fn late_data_on_a_finished_request_does_not_start_it_again() {
    let mut p = Pair::new(Config::default(), Config::default());
    // Two requests; the second is answered and done before the first arrives.
    let first = p.client.send_request(&mut p.ct, &get("/a"), true).unwrap();
    let second = p.client.send_request(&mut p.ct, &get("/b"), true).unwrap();
    let mut writes = std::mem::take(&mut p.ct.writes);
    writes.sort_by_key(|w| std::cmp::Reverse(w.0.into_inner()));
    deliver(&mut p.server, &mut p.st, writes, false, usize::MAX);
    let ev = drain(&mut p.server);
    let started: Vec<StreamId> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Request { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    assert_eq!(started, [second, first]);
    for id in [first, second] {
        p.server
            .send_response(&mut p.st, id, &fields(&[(":status", "200")]), true)
            .unwrap();
    }
    p.drive();
    drain(&mut p.client);
    drain(&mut p.server);

    // The application hands the end of both streams over again, and some stray bytes.
    for id in [first, second] {
        p.server
            .on_stream_data(&mut p.st, id, Bytes::new(), true)
            .unwrap();
        p.server
            .on_stream_data(&mut p.st, id, Bytes::from(raw_headers(&get("/x"))), true)
            .unwrap();
    }
    assert_eq!(drain(&mut p.server), []);
    assert!(p.st.resets.is_empty() && p.st.stops.is_empty());

    // A stream not seen yet is still a new request.
    let third = StreamId::new(Side::Client, Dir::Bi, 2).unwrap();
    p.server
        .on_stream_data(&mut p.st, third, Bytes::from(raw_headers(&get("/c"))), true)
        .unwrap();
    assert!(matches!(
        drain(&mut p.server)[..],
        [Event::Request { stream, .. }, Event::Finished { .. }] if stream == third
    ));
}
