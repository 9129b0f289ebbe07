//! Conversion of every `quic_wire::frame::Frame` to the qlog `$QuicFrame` form (qlog QUIC
//! events, "QUIC Frames").
#![cfg(feature = "qlog")]

use quic_conn::qlog::events::h3::application_error_name;
use quic_conn::qlog::frames::{frame_type_name, AckRanges, FrameOptions, QuicFrame};
use quic_wire::cid::ResetToken;
use quic_wire::codec::Reader;
use quic_wire::frame::{ConnectionClose, NewConnectionId, StreamFrame};
use quic_wire::{ConnectionId, Dir, Frame, FrameType, PathId, StreamId, VarInt};
use serde_json::{json, Value};

fn vi(v: u64) -> VarInt {
    VarInt::from_u64(v).unwrap()
}

fn sid(v: u64) -> StreamId {
    StreamId::from(vi(v))
}

fn parse(bytes: &[u8]) -> Frame<'_> {
    Frame::parse(&mut Reader::new(bytes)).unwrap()
}

/// ACK: largest 12, delay 3, one more range; first range 10..=12, gap 1, then 5..=7.
const ACK: &[u8] = &[0x02, 0x0c, 0x03, 0x01, 0x02, 0x01, 0x02];
/// The same with ECN counts ECT(0) 7, ECT(1) 8, CE 9.
const ACK_ECN: &[u8] = &[0x03, 0x0c, 0x03, 0x01, 0x02, 0x01, 0x02, 7, 8, 9];
/// ACK: largest 4, first range 0 (just 4), gap 0, range length 0 (just 2).
const ACK_SINGLES: &[u8] = &[0x02, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00];
/// PATH_ACK for path 5: largest 100, no extra range.
const PATH_ACK: &[u8] = &[0x3e, 0x05, 0x40, 0x64, 0x00, 0x00, 0x00];

fn ncid() -> NewConnectionId {
    NewConnectionId {
        sequence: vi(3),
        retire_prior_to: vi(1),
        cid: ConnectionId::new(&[0xab; 4]).unwrap(),
        reset_token: ResetToken([0x5a; 16]),
    }
}

/// One sample of every frame variant, with the `frame_type` qlog logs it as.
fn samples() -> Vec<(Frame<'static>, &'static str)> {
    vec![
        (Frame::Padding { len: 3 }, "padding"),
        (Frame::Ping, "ping"),
        (parse(ACK), "ack"),
        (parse(ACK_ECN), "ack"),
        (
            Frame::ResetStream {
                id: sid(4),
                error_code: vi(77),
                final_size: vi(100),
            },
            "reset_stream",
        ),
        (
            Frame::StopSending {
                id: sid(8),
                error_code: vi(1),
            },
            "stop_sending",
        ),
        (
            Frame::Crypto {
                offset: 1000,
                data: b"client hello",
            },
            "crypto",
        ),
        (Frame::NewToken { token: b"token" }, "new_token"),
        (
            Frame::Stream(StreamFrame {
                id: sid(4),
                offset: 20,
                data: b"stream data",
                fin: true,
                has_len: true,
            }),
            "stream",
        ),
        (Frame::MaxData(vi(1 << 40)), "max_data"),
        (
            Frame::MaxStreamData {
                id: sid(2),
                max: vi(65_536),
            },
            "max_stream_data",
        ),
        (
            Frame::MaxStreams {
                dir: Dir::Uni,
                count: 100,
            },
            "max_streams",
        ),
        (Frame::DataBlocked(vi(5000)), "data_blocked"),
        (
            Frame::StreamDataBlocked {
                id: sid(3),
                limit: vi(9),
            },
            "stream_data_blocked",
        ),
        (
            Frame::StreamsBlocked {
                dir: Dir::Bi,
                limit: 7,
            },
            "streams_blocked",
        ),
        (Frame::NewConnectionId(ncid()), "new_connection_id"),
        (
            Frame::RetireConnectionId { sequence: vi(2) },
            "retire_connection_id",
        ),
        (Frame::PathChallenge(*b"12345678"), "path_challenge"),
        (Frame::PathResponse(*b"87654321"), "path_response"),
        (
            Frame::ConnectionClose(ConnectionClose {
                error_code: vi(0x0a),
                frame_type: Some(FrameType::STREAM_BASE),
                reason: b"bad stream",
            }),
            "connection_close",
        ),
        (Frame::HandshakeDone, "handshake_done"),
        (
            Frame::Datagram {
                data: b"dgram",
                has_len: true,
            },
            "datagram",
        ),
        (
            Frame::AckFrequency {
                sequence: vi(1),
                ack_eliciting_threshold: vi(10),
                requested_max_ack_delay_us: vi(25_000),
                reordering_threshold: vi(3),
            },
            "unknown",
        ),
        (Frame::ImmediateAck, "unknown"),
        (parse(PATH_ACK), "unknown"),
        (
            Frame::PathAbandon {
                path_id: PathId(3),
                error_code: vi(0x3e76),
            },
            "unknown",
        ),
        (
            Frame::PathStatusBackup {
                path_id: PathId(1),
                sequence: vi(4),
            },
            "unknown",
        ),
        (
            Frame::PathStatusAvailable {
                path_id: PathId(1),
                sequence: vi(5),
            },
            "unknown",
        ),
        (
            Frame::PathNewConnectionId {
                path_id: PathId(2),
                frame: ncid(),
            },
            "unknown",
        ),
        (
            Frame::PathRetireConnectionId {
                path_id: PathId(2),
                sequence: vi(0),
            },
            "unknown",
        ),
        (Frame::MaxPathId(PathId(9)), "unknown"),
        (Frame::PathsBlocked(PathId(8)), "unknown"),
        (
            Frame::PathCidsBlocked {
                path_id: PathId(8),
                next_sequence: vi(3),
            },
            "unknown",
        ),
    ]
}

fn to_json(f: &QuicFrame<'_>) -> Value {
    serde_json::to_value(f).unwrap()
}

/// The index of a frame's variant. The match is exhaustive, so a new `Frame` variant
/// fails to compile here until it gets a sample.
fn variant(f: &Frame<'_>) -> usize {
    match f {
        Frame::Padding { .. } => 0,
        Frame::Ping => 1,
        Frame::Ack(_) => 2,
        Frame::ResetStream { .. } => 3,
        Frame::StopSending { .. } => 4,
        Frame::Crypto { .. } => 5,
        Frame::NewToken { .. } => 6,
        Frame::Stream(_) => 7,
        Frame::MaxData(_) => 8,
        Frame::MaxStreamData { .. } => 9,
        Frame::MaxStreams { .. } => 10,
        Frame::DataBlocked(_) => 11,
        Frame::StreamDataBlocked { .. } => 12,
        Frame::StreamsBlocked { .. } => 13,
        Frame::NewConnectionId(_) => 14,
        Frame::RetireConnectionId { .. } => 15,
        Frame::PathChallenge(_) => 16,
        Frame::PathResponse(_) => 17,
        Frame::ConnectionClose(_) => 18,
        Frame::HandshakeDone => 19,
        Frame::Datagram { .. } => 20,
        Frame::AckFrequency { .. } => 21,
        Frame::ImmediateAck => 22,
        Frame::PathAck { .. } => 23,
        Frame::PathAbandon { .. } => 24,
        Frame::PathStatusBackup { .. } => 25,
        Frame::PathStatusAvailable { .. } => 26,
        Frame::PathNewConnectionId { .. } => 27,
        Frame::PathRetireConnectionId { .. } => 28,
        Frame::MaxPathId(_) => 29,
        Frame::PathsBlocked(_) => 30,
        Frame::PathCidsBlocked { .. } => 31,
    }
}

const VARIANTS: usize = 32;

#[test]
fn every_frame_variant_gets_its_qlog_frame_type() {
    let samples = samples();
    let mut seen = [false; VARIANTS];
    for (f, _) in &samples {
        seen[variant(f)] = true;
    }
    assert!(seen.iter().all(|&s| s), "unsampled variants: {seen:?}");

    for (frame, expected) in &samples {
        let q = QuicFrame::from_frame(frame);
        assert_eq!(q.frame_type(), *expected, "{frame:?}");
        let v = to_json(&q);
        assert_eq!(v["frame_type"], *expected, "{frame:?}");
        if *expected == "unknown" {
            assert_eq!(v["frame_type_bytes"], frame.ty().0, "{frame:?}");
            assert_eq!(v["raw"]["length"], frame.encoded_len() as u64, "{frame:?}");
        } else {
            assert_eq!(frame_type_name(frame.ty()), Some(*expected));
        }
    }
}

#[test]
fn ack_ranges_are_first_last_pairs_and_single_numbers() {
    let v = to_json(&QuicFrame::from_frame(&parse(ACK)));
    assert_eq!(
        v,
        json!({"frame_type": "ack", "acked_ranges": [[10, 12], [5, 7]]})
    );
    let v = to_json(&QuicFrame::from_frame(&parse(ACK_SINGLES)));
    assert_eq!(v["acked_ranges"], json!([[4], [2]]));
    let list = AckRanges::List(vec![(1, 2), (4, 4)]);
    assert_eq!(serde_json::to_value(&list).unwrap(), json!([[1, 2], [4]]));
}

#[test]
fn ack_delay_is_scaled_to_milliseconds_and_ecn_counts_are_kept() {
    let opts = FrameOptions {
        ack_delay_exponent: Some(3),
        app_error_names: None,
    };
    // Delay field 3 with exponent 3 is 24 microseconds.
    let v = to_json(&QuicFrame::from_frame_with(&parse(ACK_ECN), &opts));
    assert_eq!(
        v,
        json!({
            "frame_type": "ack",
            "ack_delay": 0.024f32,
            "acked_ranges": [[10, 12], [5, 7]],
            "ect1": 8, "ect0": 7, "ce": 9,
        })
    );
}

#[test]
fn stream_crypto_and_datagram_log_data_length_in_raw() {
    let s = samples();
    let find = |ty: &str| {
        s.iter()
            .find(|(_, t)| *t == ty)
            .map(|(f, _)| to_json(&QuicFrame::from_frame(f)))
            .unwrap()
    };
    assert_eq!(
        find("stream"),
        json!({"frame_type": "stream", "stream_id": 4, "offset": 20, "fin": true,
               "raw": {"length": 11}})
    );
    assert_eq!(
        find("crypto"),
        json!({"frame_type": "crypto", "offset": 1000, "raw": {"length": 12}})
    );
    assert_eq!(
        find("datagram"),
        json!({"frame_type": "datagram", "raw": {"length": 5}})
    );
    assert_eq!(
        find("padding"),
        json!({"frame_type": "padding", "raw": {"length": 3, "payload_length": 3}})
    );
    assert_eq!(
        find("max_streams"),
        json!({"frame_type": "max_streams", "stream_type": "unidirectional", "maximum": 100})
    );
    assert_eq!(
        find("new_connection_id"),
        json!({"frame_type": "new_connection_id", "sequence_number": 3, "retire_prior_to": 1,
               "connection_id_length": 4, "connection_id": "abababab",
               "stateless_reset_token": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"})
    );
    assert_eq!(
        find("path_challenge"),
        json!({"frame_type": "path_challenge", "data": "3132333435363738"})
    );
}

#[test]
fn connection_close_names_errors_and_trigger_frame() {
    let transport = Frame::ConnectionClose(ConnectionClose {
        error_code: vi(0x0a),
        frame_type: Some(FrameType(0x0e)),
        reason: b"bad stream",
    });
    assert_eq!(
        to_json(&QuicFrame::from_frame(&transport)),
        json!({"frame_type": "connection_close", "error_space": "transport",
               "error": "protocol_violation", "reason": "bad stream",
               "trigger_frame_type": "stream"})
    );
    let crypto = Frame::ConnectionClose(ConnectionClose {
        error_code: vi(0x0128),
        frame_type: Some(FrameType(0x06)),
        reason: b"",
    });
    let v = to_json(&QuicFrame::from_frame(&crypto));
    assert_eq!(v["error"], "crypto_error_0x128");
    assert!(v.get("error_code").is_none() && v.get("reason").is_none());
    let unknown_trigger = Frame::ConnectionClose(ConnectionClose {
        error_code: vi(0x3e75),
        frame_type: Some(FrameType(0x3e76)),
        reason: &[0xff, 0x00],
    });
    let v = to_json(&QuicFrame::from_frame(&unknown_trigger));
    assert_eq!(v["error"], "unknown");
    assert_eq!(v["error_code"], 0x3e75);
    assert_eq!(v["trigger_frame_type"], 0x3e76);
    assert_eq!(v["reason_bytes"], "ff00");
    let app = Frame::ConnectionClose(ConnectionClose {
        error_code: vi(0x010c),
        frame_type: None,
        reason: b"",
    });
    let opts = FrameOptions {
        ack_delay_exponent: None,
        app_error_names: Some(application_error_name),
    };
    assert_eq!(
        to_json(&QuicFrame::from_frame_with(&app, &opts)),
        json!({"frame_type": "connection_close", "error_space": "application",
               "error": "http_request_cancelled"})
    );
    assert_eq!(
        to_json(&QuicFrame::from_frame(&app)),
        json!({"frame_type": "connection_close", "error_space": "application",
               "error": "unknown", "error_code": 0x010c})
    );
}

#[test]
fn stream_resets_log_application_errors() {
    let reset = Frame::ResetStream {
        id: sid(4),
        error_code: vi(0x0102),
        final_size: vi(100),
    };
    let opts = FrameOptions {
        ack_delay_exponent: None,
        app_error_names: Some(application_error_name),
    };
    assert_eq!(
        to_json(&QuicFrame::from_frame_with(&reset, &opts)),
        json!({"frame_type": "reset_stream", "stream_id": 4, "error": "http_internal_error",
               "final_size": 100})
    );
    let stop = Frame::StopSending {
        id: sid(8),
        error_code: vi(77),
    };
    assert_eq!(
        to_json(&QuicFrame::from_frame_with(&stop, &opts)),
        json!({"frame_type": "stop_sending", "stream_id": 8, "error": "unknown",
               "error_code": 77})
    );
}
