//! HTTP/3 frame codec: round trips split at every byte boundary, and each error case with
//! its code (RFC 9114 §7, RFC 9218 §7.2).

use bytes::Bytes;
use quic_streams::h3::frame::{
    encode_data_header, encode_grease_frame, frame_type, Frame, FrameDecoder, FrameEvent,
    FrameLimits, StreamKind, MAX_DATA_HEADER_LEN,
};
use quic_streams::h3::settings::Settings;
use quic_streams::h3::Code;
use quic_wire::Side;

/// Decodes `wire` fed in the given pieces; returns DATA bytes joined per run and frames.
fn decode_pieces(
    kind: StreamKind,
    local: Side,
    pieces: &[&[u8]],
) -> Result<(Vec<u8>, Vec<Frame>), Code> {
    let mut d = FrameDecoder::new(kind, local, FrameLimits::default());
    let mut data = vec![];
    let mut frames = vec![];
    for p in pieces {
        let mut input = *p;
        while let Some(ev) = d.decode(&mut input).map_err(|e| e.code)? {
            match ev {
                FrameEvent::Data(c) => {
                    assert!(!c.is_empty());
                    data.extend_from_slice(c)
                }
                FrameEvent::Frame(f) => frames.push(f),
            }
        }
        assert!(input.is_empty());
    }
    d.finish().map_err(|e| e.code)?;
    Ok((data, frames))
}

fn data_frame(body: &[u8]) -> Vec<u8> {
    let mut h = [0u8; MAX_DATA_HEADER_LEN];
    let n = encode_data_header(body.len() as u64, &mut h);
    let mut v = h[..n].to_vec();
    v.extend_from_slice(body);
    v
}

#[test]
fn request_stream_frames_decode_identically_at_every_split() {
    let mut wire = vec![];
    Frame::Headers(Bytes::from_static(b"\x00\x00\xd1")).encode(&mut wire);
    encode_grease_frame(2, b"ignored", &mut wire);
    wire.extend(data_frame(&[7u8; 100]));
    wire.extend(data_frame(b""));
    wire.extend(data_frame(b"tail"));
    Frame::Headers(Bytes::from_static(b"\x00\x00")).encode(&mut wire);
    let whole = decode_pieces(StreamKind::Request, Side::Server, &[&wire]).unwrap();
    assert_eq!(whole.0.len(), 104);
    assert_eq!(whole.1.len(), 2);
    for split in 0..=wire.len() {
        let (a, b) = wire.split_at(split);
        assert_eq!(
            decode_pieces(StreamKind::Request, Side::Server, &[a, b]).unwrap(),
            whole
        );
    }
    // And one byte at a time.
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(
        decode_pieces(StreamKind::Request, Side::Server, &bytes).unwrap(),
        whole
    );
}

#[test]
fn control_stream_frames_round_trip_at_every_split() {
    let frames = vec![
        Frame::Settings(Settings {
            qpack_max_table_capacity: 4096,
            qpack_blocked_streams: 100,
            max_field_section_size: Some(16384),
            other: vec![(0x33, 1)],
        }),
        Frame::CancelPush(3),
        Frame::Goaway(1 << 40),
        Frame::MaxPushId(77),
        Frame::PriorityUpdate {
            push: false,
            id: 4,
            value: Bytes::from_static(b"u=1, i"),
        },
        Frame::PriorityUpdate {
            push: true,
            id: 0,
            value: Bytes::from_static(b"u=7"),
        },
    ];
    let mut wire = vec![];
    for (i, f) in frames.iter().enumerate() {
        f.encode(&mut wire);
        encode_grease_frame(i as u64, &[0xff; 3], &mut wire);
    }
    for split in 0..=wire.len() {
        let (a, b) = wire.split_at(split);
        let (data, got) = decode_pieces(StreamKind::Control, Side::Server, &[a, b]).unwrap();
        assert!(data.is_empty());
        assert_eq!(got, frames);
    }
}

#[test]
fn push_promise_round_trips_on_a_client_request_stream() {
    let f = Frame::PushPromise {
        push_id: 9,
        field_section: Bytes::from_static(b"\x00\x00\xd1"),
    };
    let mut wire = vec![];
    f.encode(&mut wire);
    assert_eq!(
        decode_pieces(StreamKind::Request, Side::Client, &[&wire])
            .unwrap()
            .1,
        [f]
    );
}

fn frame_bytes(ty: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![];
    quic_streams::h3::varint::put_varint(&mut v, ty);
    quic_streams::h3::varint::put_varint(&mut v, payload.len() as u64);
    v.extend_from_slice(payload);
    v
}

fn settings() -> Vec<u8> {
    frame_bytes(frame_type::SETTINGS, &[])
}

fn control(after_settings: &[u8], local: Side) -> Result<(), Code> {
    let mut wire = settings();
    wire.extend_from_slice(after_settings);
    decode_pieces(StreamKind::Control, local, &[&wire]).map(|_| ())
}

#[test]
fn control_stream_rules_have_their_codes() {
    // First frame not SETTINGS.
    let goaway = frame_bytes(frame_type::GOAWAY, &[0]);
    assert_eq!(
        decode_pieces(StreamKind::Control, Side::Client, &[&goaway]),
        Err(Code::H3_MISSING_SETTINGS)
    );
    let grease = frame_bytes(0x21, &[]);
    assert_eq!(
        decode_pieces(StreamKind::Control, Side::Client, &[&grease]),
        Err(Code::H3_MISSING_SETTINGS)
    );
    // Second SETTINGS; DATA, HEADERS, PUSH_PROMISE on control.
    assert_eq!(
        control(&settings(), Side::Client),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
    for ty in [
        frame_type::DATA,
        frame_type::HEADERS,
        frame_type::PUSH_PROMISE,
    ] {
        assert_eq!(
            control(&frame_bytes(ty, &[0, 0]), Side::Client),
            Err(Code::H3_FRAME_UNEXPECTED)
        );
    }
    // MAX_PUSH_ID to a client, PRIORITY_UPDATE to a client.
    assert_eq!(
        control(&frame_bytes(frame_type::MAX_PUSH_ID, &[1]), Side::Client),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
    assert_eq!(
        control(&frame_bytes(frame_type::MAX_PUSH_ID, &[1]), Side::Server),
        Ok(())
    );
    assert_eq!(
        control(
            &frame_bytes(frame_type::PRIORITY_UPDATE_REQUEST, &[0]),
            Side::Client
        ),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
    // HTTP/2-only frame types anywhere.
    for ty in [0x02u64, 0x06, 0x08, 0x09] {
        assert_eq!(
            control(&frame_bytes(ty, &[]), Side::Server),
            Err(Code::H3_FRAME_UNEXPECTED)
        );
        assert_eq!(
            decode_pieces(StreamKind::Request, Side::Server, &[&frame_bytes(ty, &[])]),
            Err(Code::H3_FRAME_UNEXPECTED)
        );
    }
}

#[test]
fn request_and_push_stream_rules_have_their_codes() {
    for ty in [
        frame_type::CANCEL_PUSH,
        frame_type::SETTINGS,
        frame_type::GOAWAY,
        frame_type::MAX_PUSH_ID,
        frame_type::PRIORITY_UPDATE_REQUEST,
        frame_type::PRIORITY_UPDATE_PUSH,
    ] {
        for kind in [StreamKind::Request, StreamKind::Push] {
            assert_eq!(
                decode_pieces(kind, Side::Server, &[&frame_bytes(ty, &[0])]),
                Err(Code::H3_FRAME_UNEXPECTED),
                "type {ty:#x} on {kind:?}"
            );
        }
    }
    // A client must not send PUSH_PROMISE; push streams never carry it.
    let pp = frame_bytes(frame_type::PUSH_PROMISE, &[0, 0, 0]);
    assert_eq!(
        decode_pieces(StreamKind::Request, Side::Server, &[&pp]),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
    assert_eq!(
        decode_pieces(StreamKind::Push, Side::Client, &[&pp]),
        Err(Code::H3_FRAME_UNEXPECTED)
    );
}

#[test]
fn malformed_frames_are_frame_errors() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            frame_bytes(frame_type::GOAWAY, &[0, 0]),
            "GOAWAY with trailing bytes",
        ),
        (frame_bytes(frame_type::GOAWAY, &[]), "empty GOAWAY"),
        (
            frame_bytes(frame_type::CANCEL_PUSH, &[0x40]),
            "truncated CANCEL_PUSH varint",
        ),
        (
            frame_bytes(frame_type::MAX_PUSH_ID, &[0; 9]),
            "MAX_PUSH_ID longer than a varint",
        ),
        (frame_bytes(frame_type::SETTINGS, &[1]), "truncated setting"),
        (
            frame_bytes(frame_type::PRIORITY_UPDATE_REQUEST, &[]),
            "PRIORITY_UPDATE without an ID",
        ),
    ];
    for (wire, why) in cases {
        let r = if wire[0] == frame_type::SETTINGS as u8 {
            decode_pieces(StreamKind::Control, Side::Server, &[&wire])
        } else {
            let mut w = settings();
            w.extend(wire);
            decode_pieces(StreamKind::Control, Side::Server, &[&w])
        };
        assert_eq!(r.map(|_| ()), Err(Code::H3_FRAME_ERROR), "{why}");
    }
    // A stream ending inside a frame (header or payload).
    let mut wire = data_frame(b"hello");
    wire.pop();
    assert_eq!(
        decode_pieces(StreamKind::Request, Side::Server, &[&wire]),
        Err(Code::H3_FRAME_ERROR)
    );
    assert_eq!(
        decode_pieces(StreamKind::Request, Side::Server, &[&[0x40]]),
        Err(Code::H3_FRAME_ERROR)
    );
}

#[test]
fn oversized_buffered_frames_are_excessive_load_before_buffering() {
    let mut d = FrameDecoder::new(StreamKind::Request, Side::Server, FrameLimits::default());
    // A HEADERS frame declaring 1 GiB: rejected as soon as the length is known.
    let mut hdr = vec![];
    quic_streams::h3::varint::put_varint(&mut hdr, frame_type::HEADERS);
    quic_streams::h3::varint::put_varint(&mut hdr, 1 << 30);
    let mut input = &hdr[..];
    assert_eq!(
        d.decode(&mut input).unwrap_err().code,
        Code::H3_EXCESSIVE_LOAD
    );
    // But a huge DATA or unknown frame is streamed, not buffered.
    let mut d = FrameDecoder::new(StreamKind::Request, Side::Server, FrameLimits::default());
    let mut hdr = vec![];
    quic_streams::h3::varint::put_varint(&mut hdr, 0x21 + 0x1f * 1000);
    quic_streams::h3::varint::put_varint(&mut hdr, 1 << 40);
    let mut input = &hdr[..];
    assert_eq!(d.decode(&mut input), Ok(None));
    let junk = vec![0u8; 1 << 16];
    let mut input = &junk[..];
    assert_eq!(d.decode(&mut input), Ok(None));
    assert!(!d.at_boundary());
}
