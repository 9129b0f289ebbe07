//! Frame codec: round trips, hand-checked encodings, and every way a peer can get it wrong.

use std::ops::RangeInclusive;
use std::vec::Vec;

use proptest::prelude::*;
use quic_wire::cid::ResetToken;
use quic_wire::codec::{Reader, Writer};
use quic_wire::frame::{
    AckFrame, ConnectionClose, CryptoFrameHeader, DatagramFrameHeader, EcnCounts, FrameIter,
    NewConnectionId, StreamFrame, StreamFrameHeader,
};
use quic_wire::{
    ConnectionId, Dir, Frame, FrameType, PacketType, PathId, StreamId, TransportErrorCode, VarInt,
};

const FEE: TransportErrorCode = TransportErrorCode::FRAME_ENCODING_ERROR;
const PV: TransportErrorCode = TransportErrorCode::PROTOCOL_VIOLATION;
const FRAME_PACKETS: [PacketType; 4] = [
    PacketType::Initial,
    PacketType::Handshake,
    PacketType::ZeroRtt,
    PacketType::OneRtt,
];

fn vi(v: u64) -> VarInt {
    VarInt::from_u64(v).unwrap()
}

fn sid(v: u64) -> StreamId {
    StreamId::from(vi(v))
}

fn enc(f: &Frame<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; f.encoded_len()];
    let mut w = Writer::new(&mut buf);
    f.write(&mut w).unwrap();
    assert_eq!(w.written(), f.encoded_len(), "encoded_len of {f:?}");
    buf
}

fn parse_all(bytes: &[u8]) -> Result<Frame<'_>, quic_wire::TransportError> {
    let mut r = Reader::new(bytes);
    let f = Frame::parse(&mut r)?;
    assert!(r.is_empty(), "frame {f:?} left {} bytes", r.remaining());
    Ok(f)
}

/// Checks parse(write(f)) == f, that encoded_len is exact, and that a buffer one byte short
/// is refused without writing anything.
fn assert_round_trip(f: &Frame<'_>) {
    let bytes = enc(f);
    assert_eq!(&parse_all(&bytes).unwrap(), f);
    if !bytes.is_empty() {
        let mut short = vec![0u8; bytes.len() - 1];
        let mut w = Writer::new(&mut short);
        assert!(f.write(&mut w).is_err());
        assert_eq!(w.written(), 0);
    }
}

/// ACK bodies can only come from parsing; these are hand-encoded.
/// ACK: largest 12, delay 3, one more range, first range 2 (10..=12), gap 1, length 2 (5..=7).
const ACK_BYTES: &[u8] = &[0x02, 0x0c, 0x03, 0x01, 0x02, 0x01, 0x02];
const ACK_ECN_BYTES: &[u8] = &[0x03, 0x0c, 0x03, 0x01, 0x02, 0x01, 0x02, 7, 8, 9];
/// PATH_ACK (0x3e) for path 5: largest 100, delay 0, no extra range,
/// first range 0.
const PATH_ACK_BYTES: &[u8] = &[0x3e, 0x05, 0x40, 0x64, 0x00, 0x00, 0x00];
const PATH_ACK_ECN_BYTES: &[u8] = &[0x3f, 0x05, 0x40, 0x64, 0x00, 0x00, 0x00, 1, 2, 3];

fn ncid(seq: u64, retire: u64) -> NewConnectionId {
    NewConnectionId {
        sequence: vi(seq),
        retire_prior_to: vi(retire),
        cid: ConnectionId::new(&[0xab; 8]).unwrap(),
        reset_token: ResetToken([0x5a; 16]),
    }
}

/// One frame of every frame type code this crate knows (with has_len variants chosen so each
/// frame ends where its encoding ends).
fn samples() -> Vec<Frame<'static>> {
    let mut v = vec![
        Frame::Padding { len: 3 },
        Frame::Ping,
        parse_all(ACK_BYTES).unwrap(),
        parse_all(ACK_ECN_BYTES).unwrap(),
        Frame::ResetStream {
            id: sid(4),
            error_code: vi(77),
            final_size: vi(100_000),
        },
        Frame::StopSending {
            id: sid(8),
            error_code: vi(1),
        },
        Frame::Crypto {
            offset: 1000,
            data: b"client hello",
        },
        Frame::NewToken { token: b"token" },
        Frame::MaxData(vi(1 << 40)),
        Frame::MaxStreamData {
            id: sid(2),
            max: vi(65_536),
        },
        Frame::MaxStreams {
            dir: Dir::Bi,
            count: 100,
        },
        Frame::MaxStreams {
            dir: Dir::Uni,
            count: 1 << 60,
        },
        Frame::DataBlocked(vi(5000)),
        Frame::StreamDataBlocked {
            id: sid(3),
            limit: vi(9),
        },
        Frame::StreamsBlocked {
            dir: Dir::Bi,
            limit: 7,
        },
        Frame::StreamsBlocked {
            dir: Dir::Uni,
            limit: 8,
        },
        Frame::NewConnectionId(ncid(3, 1)),
        Frame::RetireConnectionId { sequence: vi(2) },
        Frame::PathChallenge(*b"12345678"),
        Frame::PathResponse(*b"87654321"),
        Frame::ConnectionClose(ConnectionClose {
            error_code: vi(0x0a),
            frame_type: Some(FrameType::STREAM_BASE),
            reason: b"bad stream",
        }),
        Frame::ConnectionClose(ConnectionClose {
            error_code: vi(0x100),
            frame_type: None,
            reason: b"",
        }),
        Frame::HandshakeDone,
        Frame::ImmediateAck,
        Frame::Datagram {
            data: b"dgram",
            has_len: true,
        },
        Frame::Datagram {
            data: b"last dgram",
            has_len: false,
        },
        parse_all(PATH_ACK_BYTES).unwrap(),
        parse_all(PATH_ACK_ECN_BYTES).unwrap(),
        Frame::AckFrequency {
            sequence: vi(1),
            ack_eliciting_threshold: vi(10),
            requested_max_ack_delay_us: vi(25_000),
            reordering_threshold: vi(3),
        },
        Frame::PathAbandon {
            path_id: PathId(3),
            error_code: vi(0x3e76),
        },
        Frame::PathStatusBackup {
            path_id: PathId(1),
            sequence: vi(4),
        },
        Frame::PathStatusAvailable {
            path_id: PathId(1),
            sequence: vi(5),
        },
        Frame::PathNewConnectionId {
            path_id: PathId(2),
            frame: ncid(0, 0),
        },
        Frame::PathRetireConnectionId {
            path_id: PathId(2),
            sequence: vi(0),
        },
        Frame::MaxPathId(PathId(u32::MAX)),
        Frame::PathsBlocked(PathId(8)),
        Frame::PathCidsBlocked {
            path_id: PathId(8),
            next_sequence: vi(3),
        },
    ];
    // All eight STREAM types.
    for bits in 0..8u64 {
        v.push(Frame::Stream(StreamFrame {
            id: sid(4),
            offset: if bits & 4 != 0 { 1 << 20 } else { 0 },
            data: b"stream data",
            fin: bits & 1 != 0,
            has_len: bits & 2 != 0,
        }));
    }
    v
}

/// Frames whose prefixes can themselves be valid frames: PADDING runs and frames without a
/// Length field that extend to the end of the packet.
fn extends_to_end(f: &Frame<'_>) -> bool {
    matches!(
        f,
        Frame::Padding { .. }
            | Frame::Datagram { has_len: false, .. }
            | Frame::Stream(StreamFrame { has_len: false, .. })
    )
}

fn known_types() -> Vec<u64> {
    let mut t: Vec<u64> = (0x00..=0x1f).collect();
    t.extend([0x30, 0x31, 0x3e, 0x3f, 0xaf]);
    t.extend(0x3e75..=0x3e7c);
    t
}

#[test]
fn samples_cover_every_known_frame_type_and_round_trip() {
    let samples = samples();
    for ty in known_types() {
        assert!(
            samples.iter().any(|f| f.ty() == FrameType(ty)),
            "no sample of type {ty:#x}"
        );
        assert!(FrameType(ty).is_known());
    }
    for f in &samples {
        assert_round_trip(f);
        // The first bytes are the frame type in its shortest encoding.
        let bytes = enc(f);
        let mut r = Reader::new(&bytes);
        let (t, len) = VarInt::decode_with_len(&mut r).unwrap();
        assert_eq!((FrameType(t.into_inner()), len), (f.ty(), f.ty().size()));
    }
}

// ---- Hand-checked encodings (RFC 9000 §19, RFC 10069 §4, ack-frequency §4) ----

#[test]
fn ack_with_two_ranges_has_the_rfc_layout_and_iterates_highest_first() {
    let Frame::Ack(ack) = parse_all(ACK_BYTES).unwrap() else {
        panic!("not an ACK")
    };
    assert_eq!(ack.largest(), 12);
    assert_eq!(ack.ack_delay(), 3);
    assert_eq!(ack.ecn(), None);
    assert_eq!(ack.len(), 2);
    assert_eq!(ack.iter().collect::<Vec<_>>(), [10..=12, 5..=7]);
    assert_eq!(ack.iter().size_hint(), (2, Some(2)));

    let Frame::Ack(ack) = parse_all(ACK_ECN_BYTES).unwrap() else {
        panic!("not an ACK")
    };
    let ecn = EcnCounts {
        ect0: 7,
        ect1: 8,
        ce: 9,
    };
    assert_eq!(ack.ecn(), Some(ecn));

    // Writing the same ranges gives the same bytes.
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    let n = AckFrame::write_ranges(&mut w, None, [10..=12, 5..=7].into_iter(), 3, Some(ecn), 64)
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(w.filled(), ACK_ECN_BYTES);
}

#[test]
fn path_ack_carries_the_path_id_after_the_type() {
    let f = parse_all(PATH_ACK_ECN_BYTES).unwrap();
    let Frame::PathAck { path_id, ack } = f else {
        panic!("not a PATH_ACK: {f:?}")
    };
    assert_eq!(path_id, PathId(5));
    assert_eq!(ack.iter().collect::<Vec<_>>(), [100..=100]);
    assert_eq!(f.ty(), FrameType::PATH_ACK_ECN);
    let mut buf = [0u8; 32];
    let mut w = Writer::new(&mut buf);
    let ecn = EcnCounts {
        ect0: 1,
        ect1: 2,
        ce: 3,
    };
    AckFrame::write_ranges(
        &mut w,
        Some(PathId(5)),
        core::iter::once(100..=100),
        0,
        Some(ecn),
        32,
    )
    .unwrap();
    assert_eq!(w.filled(), PATH_ACK_ECN_BYTES);
}

#[test]
fn known_encodings_match_the_spec_formats() {
    let cases: Vec<(Frame<'static>, Vec<u8>)> = vec![
        (Frame::Ping, vec![0x01]),
        (Frame::Padding { len: 2 }, vec![0, 0]),
        // STREAM with OFF|LEN|FIN: 0x0f, id 4, offset 100 (2-byte varint), length 3.
        (
            Frame::Stream(StreamFrame {
                id: sid(4),
                offset: 100,
                data: b"abc",
                fin: true,
                has_len: true,
            }),
            vec![0x0f, 0x04, 0x40, 0x64, 0x03, b'a', b'b', b'c'],
        ),
        // STREAM without flags: type 0x08, id, then data to the end.
        (
            Frame::Stream(StreamFrame {
                id: sid(1),
                offset: 0,
                data: b"xy",
                fin: false,
                has_len: false,
            }),
            vec![0x08, 0x01, b'x', b'y'],
        ),
        (
            Frame::ConnectionClose(ConnectionClose {
                error_code: vi(0x0a),
                frame_type: Some(FrameType(0x08)),
                reason: b"x",
            }),
            vec![0x1c, 0x0a, 0x08, 0x01, b'x'],
        ),
        (
            Frame::ConnectionClose(ConnectionClose {
                error_code: vi(0x0a),
                frame_type: None,
                reason: b"",
            }),
            vec![0x1d, 0x0a, 0x00],
        ),
        (
            Frame::MaxStreams {
                dir: Dir::Uni,
                count: 64,
            },
            vec![0x13, 0x40, 0x40],
        ),
        (
            Frame::NewConnectionId(NewConnectionId {
                sequence: vi(1),
                retire_prior_to: vi(0),
                cid: ConnectionId::new(&[1, 2, 3, 4]).unwrap(),
                reset_token: ResetToken([0xee; 16]),
            }),
            [&[0x18, 0x01, 0x00, 0x04, 1, 2, 3, 4][..], &[0xee; 16]].concat(),
        ),
        (Frame::MaxPathId(PathId(5)), vec![0x7e, 0x7a, 0x05]),
        (
            Frame::PathAbandon {
                path_id: PathId(1),
                error_code: vi(0x3e77),
            },
            vec![0x7e, 0x75, 0x01, 0x7e, 0x77],
        ),
        (
            Frame::AckFrequency {
                sequence: vi(0),
                ack_eliciting_threshold: vi(1),
                requested_max_ack_delay_us: vi(25_000),
                reordering_threshold: vi(1),
            },
            // 0xaf needs two bytes (0x40af); 25000 = 0x61a8 needs four.
            vec![0x40, 0xaf, 0x00, 0x01, 0x80, 0x00, 0x61, 0xa8, 0x01],
        ),
        (Frame::ImmediateAck, vec![0x1f]),
        (
            Frame::Datagram {
                data: b"hi",
                has_len: true,
            },
            vec![0x31, 0x02, b'h', b'i'],
        ),
    ];
    for (frame, bytes) in cases {
        assert_eq!(enc(&frame), bytes, "{frame:?}");
        assert_eq!(parse_all(&bytes).unwrap(), frame);
    }
}

#[test]
fn stream_without_len_and_datagram_0x30_take_the_rest_of_the_payload() {
    let payload = [0x08, 0x04, 0x05, 0x01, 0x02, 0x00, 0x01];
    let Frame::Stream(s) = parse_all(&payload).unwrap() else {
        panic!()
    };
    assert_eq!(s.data, &[0x05, 0x01, 0x02, 0x00, 0x01]);
    assert!(!s.has_len && !s.fin && s.offset == 0);
    let payload = [0x30, 0x01, 0x00, 0x00];
    assert_eq!(
        parse_all(&payload).unwrap(),
        Frame::Datagram {
            data: &[0x01, 0x00, 0x00],
            has_len: false
        }
    );
}

// ---- Parse-time validation, with the codes of the specification ----

fn err_of(bytes: &[u8]) -> (TransportErrorCode, Option<FrameType>) {
    let e = Frame::parse(&mut Reader::new(bytes)).unwrap_err();
    (e.code, e.frame_type)
}

#[test]
fn truncation_at_every_byte_is_a_frame_encoding_error() {
    for f in samples() {
        let bytes = enc(&f);
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            let got = Frame::parse(&mut Reader::new(prefix));
            if extends_to_end(&f) && cut >= f.encoded_len() - frame_data_len(&f) {
                continue; // a shorter run or shorter data is still a valid frame
            }
            let e = got.expect_err("truncated frame parsed");
            assert_eq!(e.code, FEE, "{f:?} cut at {cut}: {e}");
            let expected_ty = (cut >= f.ty().size()).then(|| f.ty());
            assert_eq!(e.frame_type, expected_ty, "{f:?} cut at {cut}");
        }
    }
}

/// Bytes at the end of a frame that may be cut without making it invalid.
fn frame_data_len(f: &Frame<'_>) -> usize {
    match f {
        Frame::Padding { len } => *len,
        Frame::Datagram { data, .. } => data.len(),
        Frame::Stream(s) => s.data.len(),
        _ => 0,
    }
}

#[test]
fn length_fields_past_the_end_are_frame_encoding_errors() {
    let cases: &[&[u8]] = &[
        &[0x06, 0x00, 0x05, 1, 2, 3],       // CRYPTO length 5, 3 bytes
        &[0x07, 0x04, 1, 2],                // NEW_TOKEN
        &[0x0a, 0x00, 0x10, 1],             // STREAM with LEN
        &[0x0e, 0x00, 0x01, 0x02, 1],       // STREAM with OFF|LEN
        &[0x31, 0x03, 1],                   // DATAGRAM with length
        &[0x1c, 0x00, 0x00, 0x02, b'a'],    // CONNECTION_CLOSE reason
        &[0x1d, 0x00, 0x01],                // application CONNECTION_CLOSE
        &[0x18, 0x01, 0x00, 0x08, 1, 2, 3], // NEW_CONNECTION_ID cid
        &[
            0x06, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1,
        ], // 2^62-1
    ];
    for bytes in cases {
        let (code, ty) = err_of(bytes);
        assert_eq!(code, FEE, "{bytes:02x?}");
        assert!(ty.is_some(), "{bytes:02x?}");
    }
}

#[test]
fn new_connection_id_rules() {
    let body = |len: u8, seq: u8, retire: u8| {
        let mut b = vec![0x18, seq, retire, len];
        b.extend(std::iter::repeat_n(0x11, len as usize + 16));
        b
    };
    assert_eq!(err_of(&body(0, 1, 0)).0, FEE, "zero-length connection ID");
    assert_eq!(err_of(&body(21, 1, 0)).0, FEE, "21-byte connection ID");
    assert!(parse_all(&body(20, 1, 0)).is_ok());
    assert!(parse_all(&body(1, 1, 1)).is_ok());
    assert_eq!(
        err_of(&body(4, 1, 2)),
        (FEE, Some(FrameType::NEW_CONNECTION_ID)),
        "Retire Prior To above Sequence Number"
    );
    // PATH_NEW_CONNECTION_ID follows the same rules.
    let mut b = vec![0x7e, 0x78, 0x01];
    b.extend(&body(4, 1, 2)[1..]);
    assert_eq!(err_of(&b), (FEE, Some(FrameType::PATH_NEW_CONNECTION_ID)));
    let mut b = vec![0x7e, 0x78, 0x01];
    b.extend(&body(0, 1, 0)[1..]);
    assert_eq!(err_of(&b).0, FEE);
}

fn with_varint(prefix: &[u8], v: u64) -> Vec<u8> {
    let mut b = prefix.to_vec();
    let mut buf = [0u8; 8];
    let mut w = Writer::new(&mut buf);
    w.put_varint(vi(v)).unwrap();
    b.extend_from_slice(w.filled());
    b
}

#[test]
fn stream_counts_above_2_pow_60_are_frame_encoding_errors() {
    for ty in [0x12u8, 0x13, 0x16, 0x17] {
        assert!(parse_all(&with_varint(&[ty], 1 << 60)).is_ok());
        assert_eq!(
            err_of(&with_varint(&[ty], (1 << 60) + 1)),
            (FEE, Some(FrameType(ty.into())))
        );
    }
}

#[test]
fn offsets_past_2_pow_62_are_frame_encoding_errors() {
    let max = (1u64 << 62) - 1;
    // STREAM OFF|LEN, id 0, offset 2^62-1, length 0: ends exactly at the limit.
    let mut ok = with_varint(&[0x0e, 0x00], max);
    ok.push(0x00);
    assert!(parse_all(&ok).is_ok());
    let mut bad = with_varint(&[0x0e, 0x00], max);
    bad.extend([0x01, 0xaa]);
    assert_eq!(err_of(&bad), (FEE, Some(FrameType(0x0e))));
    // Without LEN: the rest of the payload counts.
    let mut bad = with_varint(&[0x0c, 0x00], max);
    bad.push(0xaa);
    assert_eq!(err_of(&bad), (FEE, Some(FrameType(0x0c))));
    let mut bad = with_varint(&[0x06], max - 1);
    bad.extend([0x02, 0xaa, 0xbb]);
    assert_eq!(err_of(&bad), (FEE, Some(FrameType::CRYPTO)));
    let mut ok = with_varint(&[0x06], max - 1);
    ok.extend([0x01, 0xaa]);
    assert!(parse_all(&ok).is_ok());
}

#[test]
fn empty_new_token_is_a_frame_encoding_error() {
    assert_eq!(err_of(&[0x07, 0x00]), (FEE, Some(FrameType::NEW_TOKEN)));
}

#[test]
fn ack_ranges_below_packet_number_zero_are_frame_encoding_errors() {
    // First range longer than the largest acknowledged.
    assert_eq!(
        err_of(&[0x02, 0x05, 0x00, 0x00, 0x06]),
        (FEE, Some(FrameType::ACK))
    );
    // Exactly down to 0 is fine.
    let Frame::Ack(a) = parse_all(&[0x02, 0x05, 0x00, 0x00, 0x05]).unwrap() else {
        panic!()
    };
    assert_eq!(a.iter().collect::<Vec<_>>(), [0..=5]);
    // Gap: 3..=5 then gap 0 -> next largest 1, length 1 -> 0..=1: fine; length 2: below 0.
    let Frame::Ack(a) = parse_all(&[0x02, 0x05, 0x00, 0x01, 0x02, 0x00, 0x01]).unwrap() else {
        panic!()
    };
    assert_eq!(a.iter().collect::<Vec<_>>(), [3..=5, 0..=1]);
    assert_eq!(err_of(&[0x02, 0x05, 0x00, 0x01, 0x02, 0x00, 0x02]).0, FEE);
    // A gap that steps below 0.
    assert_eq!(err_of(&[0x02, 0x05, 0x00, 0x01, 0x02, 0x02, 0x00]).0, FEE);
    // Same rules for PATH_ACK.
    assert_eq!(
        err_of(&[0x3e, 0x00, 0x05, 0x00, 0x00, 0x06]),
        (FEE, Some(FrameType::PATH_ACK))
    );
}

#[test]
fn huge_ack_range_count_fails_fast_on_short_input() {
    // ACK Range Count 2^62-1 with two bytes of ranges: must end with an error, quickly.
    let mut b = vec![0x02, 0x40, 0x64, 0x00];
    b.extend([0xff; 8]);
    b.extend([0x00, 0x00, 0x00]);
    assert_eq!(err_of(&b), (FEE, Some(FrameType::ACK)));
}

#[test]
fn multipath_path_ids_above_2_pow_32_are_protocol_violations() {
    let big = 1u64 << 32;
    let cases: Vec<(FrameType, Vec<u8>)> = vec![
        (FrameType::PATH_ACK, {
            let mut b = with_varint(&[0x3e], big);
            b.extend([0x00, 0x00, 0x00, 0x00]);
            b
        }),
        (FrameType::PATH_ABANDON, {
            let mut b = with_varint(&[0x7e, 0x75], big);
            b.push(0);
            b
        }),
        (FrameType::PATH_STATUS_BACKUP, {
            let mut b = with_varint(&[0x7e, 0x76], big);
            b.push(0);
            b
        }),
        (FrameType::PATH_STATUS_AVAILABLE, {
            let mut b = with_varint(&[0x7e, 0x77], big);
            b.push(0);
            b
        }),
        (FrameType::PATH_NEW_CONNECTION_ID, {
            let mut b = with_varint(&[0x7e, 0x78], big);
            b.extend([0x00, 0x00, 0x01, 0x01]);
            b.extend([0u8; 16]);
            b
        }),
        (FrameType::PATH_RETIRE_CONNECTION_ID, {
            let mut b = with_varint(&[0x7e, 0x79], big);
            b.push(0);
            b
        }),
        (FrameType::MAX_PATH_ID, with_varint(&[0x7e, 0x7a], big)),
        (FrameType::PATHS_BLOCKED, with_varint(&[0x7e, 0x7b], big)),
        (FrameType::PATH_CIDS_BLOCKED, {
            let mut b = with_varint(&[0x7e, 0x7c], big);
            b.push(0);
            b
        }),
    ];
    for (ty, bytes) in cases {
        assert_eq!(err_of(&bytes), (PV, Some(ty)), "{ty:?}");
        // 2^32-1 itself is accepted.
        let ok: Vec<u8> = {
            let mut r = Reader::new(&bytes);
            let (_, ty_len) = VarInt::decode_with_len(&mut r).unwrap();
            VarInt::decode(&mut r).unwrap();
            let rest = r.rest();
            let mut b = with_varint(&bytes[..ty_len], u32::MAX.into());
            b.extend_from_slice(rest);
            b
        };
        assert!(parse_all(&ok).is_ok(), "{ty:?}");
    }
}

#[test]
fn ack_frequency_delay_of_2_pow_14_ms_is_a_protocol_violation() {
    let frame = |delay_us: u64| {
        let mut b = vec![0x40, 0xaf, 0x00, 0x01];
        b = with_varint(&b, delay_us);
        b.push(0x01);
        b
    };
    assert!(parse_all(&frame(16_383_999)).is_ok());
    assert_eq!(
        err_of(&frame(16_384_000)),
        (PV, Some(FrameType::ACK_FREQUENCY))
    );
    assert_eq!(err_of(&frame((1 << 62) - 1)).0, PV);
}

#[test]
fn non_minimal_frame_types_are_protocol_violations() {
    for f in samples() {
        let bytes = enc(&f);
        let ty = f.ty();
        let body = &bytes[ty.size()..];
        for len in [2usize, 4, 8] {
            if len <= ty.size() {
                continue;
            }
            let mut buf = [0u8; 8];
            let mut w = Writer::new(&mut buf);
            vi(ty.0).encode_with_len(len, &mut w).unwrap();
            let mut long = w.filled().to_vec();
            long.extend_from_slice(body);
            assert_eq!(err_of(&long), (PV, Some(ty)), "{ty:?} in {len} bytes");
            let mut it = FrameIter::new(&long, PacketType::OneRtt);
            assert_eq!(it.next().unwrap().unwrap_err().code, PV);
        }
    }
    // PING as 0x4001, the RFC's own example.
    assert_eq!(err_of(&[0x40, 0x01]), (PV, Some(FrameType::PING)));
    // Unknown types: FRAME_ENCODING_ERROR, but a non-minimal encoding is caught first.
    assert_eq!(err_of(&[0x20]), (FEE, Some(FrameType(0x20))));
    assert_eq!(err_of(&[0x40, 0x20]), (PV, Some(FrameType(0x20))));
    assert_eq!(err_of(&[0x40]), (FEE, None), "truncated type");
}

// ---- FrameIter ----

#[test]
fn every_frame_is_refused_in_packet_types_table_3_forbids() {
    for f in samples() {
        let bytes = enc(&f);
        for pt in FRAME_PACKETS {
            let mut it = FrameIter::new(&bytes, pt);
            let first = it.next().unwrap();
            if f.ty().allowed_in(pt) {
                assert_eq!(first.unwrap(), f);
                assert!(it.next().is_none());
            } else {
                let e = first.unwrap_err();
                assert_eq!(
                    (e.code, e.frame_type),
                    (PV, Some(f.ty())),
                    "{f:?} in {pt:?}"
                );
                assert!(it.next().is_none(), "fused after an error");
            }
        }
        for pt in [PacketType::Retry, PacketType::VersionNegotiation] {
            let e = FrameIter::new(&bytes, pt).next().unwrap().unwrap_err();
            assert_eq!(e.code, PV);
        }
    }
}

#[test]
fn table_3_spot_checks() {
    let refused = |bytes: &[u8], pt| {
        let e = FrameIter::new(bytes, pt).next().unwrap().unwrap_err();
        (e.code, e.frame_type)
    };
    // The packet type is checked before the body: a bare STREAM type in an Initial is a
    // PROTOCOL_VIOLATION even though its body is missing.
    assert_eq!(
        refused(&[0x08], PacketType::Initial),
        (PV, Some(FrameType(0x08)))
    );
    assert_eq!(
        refused(ACK_BYTES, PacketType::ZeroRtt),
        (PV, Some(FrameType::ACK))
    );
    assert_eq!(
        refused(&[0x07, 0x01, 0xaa], PacketType::Handshake),
        (PV, Some(FrameType::NEW_TOKEN))
    );
    assert_eq!(
        refused(&[0x1e], PacketType::ZeroRtt),
        (PV, Some(FrameType::HANDSHAKE_DONE))
    );
    assert_eq!(
        refused(&[0x1d, 0x00, 0x00], PacketType::Initial),
        (PV, Some(FrameType::CONNECTION_CLOSE_APP))
    );
    assert_eq!(
        refused(&[0x1b, 0, 0, 0, 0, 0, 0, 0, 0], PacketType::ZeroRtt),
        (PV, Some(FrameType::PATH_RESPONSE))
    );
    assert_eq!(
        refused(&[0x31, 0x00], PacketType::Handshake),
        (PV, Some(FrameType::DATAGRAM_LEN))
    );
    assert_eq!(
        refused(PATH_ACK_BYTES, PacketType::ZeroRtt),
        (PV, Some(FrameType::PATH_ACK))
    );
    assert_eq!(
        refused(&[0x1f], PacketType::ZeroRtt),
        (PV, Some(FrameType::IMMEDIATE_ACK))
    );
    // Allowed ones pass.
    assert!(FrameIter::new(&[0x1c, 0, 0, 0], PacketType::Initial)
        .next()
        .unwrap()
        .is_ok());
    assert!(FrameIter::new(ACK_BYTES, PacketType::Handshake)
        .next()
        .unwrap()
        .is_ok());
}

#[test]
fn empty_payload_is_a_protocol_violation() {
    let mut it = FrameIter::new(&[], PacketType::OneRtt);
    let e = it.next().unwrap().unwrap_err();
    assert_eq!((e.code, e.frame_type), (PV, None));
    assert!(it.next().is_none());
}

#[test]
fn iterator_collapses_padding_runs_and_tracks_ack_eliciting() {
    let mut payload = ACK_BYTES.to_vec();
    payload.extend([0, 0, 0]);
    let mut it = FrameIter::new(&payload, PacketType::Initial);
    assert!(matches!(it.next(), Some(Ok(Frame::Ack(_)))));
    assert_eq!(it.next(), Some(Ok(Frame::Padding { len: 3 })));
    assert_eq!(it.next(), None);
    assert!(!it.ack_eliciting(), "ACK + PADDING is not ack-eliciting");
    assert!(!it.probing_only(), "ACK is not a probing frame");

    let payload = [0, 0, 0x01, 0, 0x1f];
    let mut it = FrameIter::new(&payload, PacketType::OneRtt);
    let frames: Vec<_> = it.by_ref().map(Result::unwrap).collect();
    assert_eq!(
        frames,
        [
            Frame::Padding { len: 2 },
            Frame::Ping,
            Frame::Padding { len: 1 },
            Frame::ImmediateAck
        ]
    );
    assert!(it.ack_eliciting());
    assert!(!it.probing_only());
    assert_eq!(it.position(), payload.len());

    // PATH_CHALLENGE padded out: a probing packet, and ack-eliciting.
    let payload = [0x1a, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0];
    let mut it = FrameIter::new(&payload, PacketType::OneRtt);
    assert_eq!(it.by_ref().count(), 2);
    assert!(it.probing_only() && it.ack_eliciting());
}

#[test]
fn iterator_stops_at_the_first_bad_frame() {
    // PING, then an unknown frame type, then a PING that must never be reached.
    let payload = [0x01, 0x21, 0x01];
    let mut it = FrameIter::new(&payload, PacketType::OneRtt);
    assert_eq!(it.next(), Some(Ok(Frame::Ping)));
    let e = it.next().unwrap().unwrap_err();
    assert_eq!((e.code, e.frame_type), (FEE, Some(FrameType(0x21))));
    assert_eq!(it.next(), None);
    // PING, then MAX_DATA whose 4-byte varint is cut short.
    let payload = [0x01, 0x10, 0x80, 0x01];
    let mut it = FrameIter::new(&payload, PacketType::OneRtt);
    assert_eq!(it.next(), Some(Ok(Frame::Ping)));
    let e = it.next().unwrap().unwrap_err();
    assert_eq!((e.code, e.frame_type), (FEE, Some(FrameType::MAX_DATA)));
    assert_eq!(it.next(), None);
}

#[test]
fn a_packet_of_every_one_rtt_frame_parses_back_in_order() {
    let frames: Vec<_> = samples()
        .into_iter()
        .filter(|f| !extends_to_end(f) || matches!(f, Frame::Padding { .. }))
        .collect();
    let mut payload = Vec::new();
    for f in &frames {
        payload.extend(enc(f));
    }
    let last = Frame::Stream(StreamFrame {
        id: sid(0),
        offset: 5,
        data: b"tail",
        fin: true,
        has_len: false,
    });
    payload.extend(enc(&last));
    let got: Vec<_> = FrameIter::new(&payload, PacketType::OneRtt)
        .map(Result::unwrap)
        .collect();
    let mut want = frames;
    want.push(last);
    assert_eq!(got, want);
}

// ---- ACK writing under a byte budget ----

/// Descending, non-adjacent ranges from a start and (length, gap) steps.
fn make_ranges(largest: u64, steps: &[(u64, u64)]) -> Vec<RangeInclusive<u64>> {
    let mut out = Vec::new();
    let mut hi = largest;
    for &(len, gap) in steps {
        let Some(lo) = hi.checked_sub(len) else { break };
        out.push(lo..=hi);
        let Some(next) = lo.checked_sub(gap + 2) else {
            break;
        };
        hi = next;
    }
    out
}

fn ack_len(
    path: Option<PathId>,
    ranges: &[RangeInclusive<u64>],
    delay: u64,
    ecn: Option<EcnCounts>,
) -> usize {
    AckFrame::fit(path, ranges.iter().cloned(), delay, ecn, usize::MAX)
        .unwrap()
        .len
}

#[test]
fn tight_budget_keeps_the_newest_ranges() {
    // Ten ranges of one packet each, every other packet number: 40, 38, ..., 22.
    let ranges: Vec<_> = (0..10u64).map(|i| 40 - 2 * i..=40 - 2 * i).collect();
    // Type, largest, delay, count, first range: 5 bytes; each further range 2 bytes.
    assert_eq!(ack_len(None, &ranges[..1], 0, None), 5);
    assert_eq!(ack_len(None, &ranges, 0, None), 5 + 18);
    for budget in 5..=23 {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let n =
            AckFrame::write_ranges(&mut w, None, ranges.iter().cloned(), 0, None, budget).unwrap();
        assert_eq!(n, 1 + (budget - 5) / 2, "budget {budget}");
        assert!(w.written() <= budget);
        let Frame::Ack(a) = parse_all(w.filled()).unwrap() else {
            panic!()
        };
        assert_eq!(a.iter().collect::<Vec<_>>(), ranges[..n]);
    }
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    assert!(AckFrame::write_ranges(&mut w, None, ranges.iter().cloned(), 0, None, 4).is_err());
    assert_eq!(w.written(), 0);
    // The writer's room bounds the budget too.
    let mut small = [0u8; 9];
    let mut w = Writer::new(&mut small);
    assert_eq!(
        AckFrame::write_ranges(&mut w, None, ranges.iter().cloned(), 0, None, 100),
        Ok(3)
    );
    // No ranges: nothing to write.
    let mut w = Writer::new(&mut buf);
    assert_eq!(
        AckFrame::write_ranges(&mut w, None, core::iter::empty(), 0, None, 100),
        Ok(0)
    );
    assert_eq!(w.written(), 0);
}

#[test]
fn range_count_field_growing_to_two_bytes_is_accounted_for() {
    // 64 extra ranges make the ACK Range Count a two-byte varint.
    let ranges: Vec<_> = (0..=64u64).map(|i| 1000 - 2 * i..=1000 - 2 * i).collect();
    let full = ack_len(None, &ranges, 0, None);
    // type 1, largest 2, delay 1, count 2, first 1, 64 pairs of 2.
    assert_eq!(full, 1 + 2 + 1 + 2 + 1 + 128);
    let fit = AckFrame::fit(None, ranges.iter().cloned(), 0, None, full - 1).unwrap();
    // One byte short: drop the oldest range, which also shrinks the count to one byte.
    assert_eq!(fit.ranges, 64);
    assert_eq!(fit.len, full - 3);
}

// ---- Zero-copy headers ----

#[test]
fn stream_header_then_data_parses_as_a_stream_frame() {
    let data = [0x42u8; 300];
    let h = StreamFrameHeader {
        id: sid(8),
        offset: 70_000,
        len: Some(data.len()),
        fin: true,
    };
    let mut buf = [0u8; 400];
    let mut w = Writer::new(&mut buf);
    h.write(&mut w).unwrap();
    assert_eq!(w.written(), h.encoded_len());
    w.put_slice(&data).unwrap();
    let n = w.written();
    assert_eq!(
        parse_all(&buf[..n]).unwrap(),
        Frame::Stream(StreamFrame {
            id: sid(8),
            offset: 70_000,
            data: &data,
            fin: true,
            has_len: true
        })
    );
}

// ---- Properties ----

fn varint() -> impl Strategy<Value = u64> {
    prop_oneof![0..64u64, 0..16_384u64, 0..(1u64 << 30), 0..(1u64 << 62)]
}

/// A frame of kind `kind` built from raw numbers, always valid; byte fields borrow `data`.
fn build(kind: u8, n: [u64; 4], flags: [bool; 3], data: &[u8]) -> Frame<'_> {
    let v = |i: usize| VarInt::from_u64(n[i] & ((1 << 62) - 1)).unwrap();
    let p = |i: usize| PathId(n[i] as u32);
    let id = |i: usize| StreamId::from(v(i));
    let dir = if flags[0] { Dir::Bi } else { Dir::Uni };
    let off = |d: &[u8]| n[1] % ((1u64 << 62) - d.len() as u64);
    let ncid = |seq: VarInt| NewConnectionId {
        sequence: seq,
        retire_prior_to: vi(n[3] % (seq.into_inner() + 1)),
        cid: ConnectionId::new(&data[..data.len().clamp(1, 20)]).unwrap_or_default(),
        reset_token: ResetToken([n[2] as u8; 16]),
    };
    match kind {
        0 => Frame::Padding {
            len: 1 + (n[0] % 100) as usize,
        },
        1 => Frame::Ping,
        2 => Frame::ResetStream {
            id: id(0),
            error_code: v(1),
            final_size: v(2),
        },
        3 => Frame::StopSending {
            id: id(0),
            error_code: v(1),
        },
        4 => Frame::Crypto {
            offset: off(data),
            data,
        },
        5 => Frame::NewToken { token: data },
        6 => Frame::Stream(StreamFrame {
            id: id(0),
            offset: off(data),
            data,
            fin: flags[1],
            has_len: flags[2],
        }),
        7 => Frame::MaxData(v(0)),
        8 => Frame::MaxStreamData {
            id: id(0),
            max: v(1),
        },
        9 => Frame::MaxStreams {
            dir,
            count: n[0] % ((1 << 60) + 1),
        },
        10 => Frame::DataBlocked(v(0)),
        11 => Frame::StreamDataBlocked {
            id: id(0),
            limit: v(1),
        },
        12 => Frame::StreamsBlocked {
            dir,
            limit: n[0] % ((1 << 60) + 1),
        },
        13 => Frame::NewConnectionId(ncid(v(0))),
        14 => Frame::RetireConnectionId { sequence: v(0) },
        15 => Frame::PathChallenge(n[0].to_be_bytes()),
        16 => Frame::PathResponse(n[1].to_be_bytes()),
        17 => Frame::ConnectionClose(ConnectionClose {
            error_code: v(0),
            frame_type: flags[0].then(|| FrameType(v(1).into_inner())),
            reason: data,
        }),
        18 => Frame::HandshakeDone,
        19 => Frame::Datagram {
            data,
            has_len: flags[2],
        },
        20 => Frame::AckFrequency {
            sequence: v(0),
            ack_eliciting_threshold: v(1),
            requested_max_ack_delay_us: vi(n[2] % 16_384_000),
            reordering_threshold: v(3),
        },
        21 => Frame::ImmediateAck,
        22 => Frame::PathAbandon {
            path_id: p(0),
            error_code: v(1),
        },
        23 => Frame::PathStatusBackup {
            path_id: p(0),
            sequence: v(1),
        },
        24 => Frame::PathStatusAvailable {
            path_id: p(0),
            sequence: v(1),
        },
        25 => Frame::PathNewConnectionId {
            path_id: p(0),
            frame: ncid(v(1)),
        },
        26 => Frame::PathRetireConnectionId {
            path_id: p(0),
            sequence: v(1),
        },
        27 => Frame::MaxPathId(p(0)),
        28 => Frame::PathsBlocked(p(0)),
        _ => Frame::PathCidsBlocked {
            path_id: p(0),
            next_sequence: v(1),
        },
    }
}

const KINDS: u8 = 30;

#[test]
fn builder_covers_every_non_ack_variant() {
    let data = b"some bytes";
    let mut names: Vec<&str> = (0..KINDS)
        .map(|k| {
            build(k, [1, 2, 3, 4], [true, true, true], data)
                .ty()
                .info()
                .unwrap()
                .name
        })
        .collect();
    names.sort();
    names.dedup();
    // 37 registered names minus ACK and PATH_ACK, which the ACK property covers.
    let mut all: Vec<&str> = known_types()
        .into_iter()
        .map(|t| FrameType(t).info().unwrap().name)
        .filter(|n| *n != "ACK" && *n != "PATH_ACK")
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(names, all);
}

fn steps() -> impl Strategy<Value = Vec<(u64, u64)>> {
    proptest::collection::vec(
        (
            prop_oneof![0..4u64, 0..100_000u64],
            prop_oneof![0..4u64, 0..1_000_000u64],
        ),
        1..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_frame_round_trips(
        kind in 0..KINDS,
        n in [varint(), varint(), varint(), varint()],
        flags in any::<[bool; 3]>(),
        data in proptest::collection::vec(any::<u8>(), 1..300),
    ) {
        let f = build(kind, n, flags, &data);
        assert_round_trip(&f);
        // Any prefix of a length-delimited frame fails cleanly.
        let bytes = enc(&f);
        if !extends_to_end(&f) {
            for cut in 0..bytes.len() {
                prop_assert_eq!(err_of(&bytes[..cut]).0, FEE);
            }
        }
    }

    #[test]
    fn ack_and_path_ack_round_trip_and_keep_the_newest_ranges(
        largest in varint(),
        steps in steps(),
        delay in varint(),
        ecn in proptest::option::of((varint(), varint(), varint())),
        path in proptest::option::of(any::<u32>()),
        budget in 0usize..400,
    ) {
        let ranges = make_ranges(largest, &steps);
        prop_assume!(!ranges.is_empty());
        let ecn = ecn.map(|(ect0, ect1, ce)| EcnCounts { ect0, ect1, ce });
        let path = path.map(PathId);
        let mut buf = vec![0u8; 2048];
        let mut w = Writer::new(&mut buf);
        match AckFrame::write_ranges(&mut w, path, ranges.iter().cloned(), delay, ecn, budget) {
            Ok(n) => {
                prop_assert!(n >= 1 && n <= ranges.len());
                prop_assert!(w.written() <= budget);
                prop_assert_eq!(w.written(), ack_len(path, &ranges[..n], delay, ecn));
                // Keeping one more range would not have fit.
                if n < ranges.len() {
                    prop_assert!(ack_len(path, &ranges[..=n], delay, ecn) > budget);
                }
                let written = w.filled().to_vec();
                let f = parse_all(&written).unwrap();
                let ack = match f {
                    Frame::Ack(a) => { prop_assert_eq!(path, None); a }
                    Frame::PathAck { path_id, ack } => { prop_assert_eq!(path, Some(path_id)); ack }
                    other => panic!("{other:?}"),
                };
                prop_assert_eq!(ack.iter().collect::<Vec<_>>(), &ranges[..n]);
                prop_assert_eq!(ack.largest(), largest);
                prop_assert_eq!(ack.ack_delay(), delay);
                prop_assert_eq!(ack.ecn(), ecn);
                assert_round_trip(&f);
            }
            Err(_) => {
                prop_assert_eq!(w.written(), 0);
                prop_assert!(ack_len(path, &ranges[..1], delay, ecn) > budget);
            }
        }
    }

    #[test]
    fn header_max_data_fills_the_space_exactly(
        id in varint(),
        offset in prop_oneof![Just(0u64), varint()],
        space in 0usize..20_000,
        with_len in any::<bool>(),
    ) {
        let id = sid(id);
        match StreamFrameHeader::max_data(id, offset, space, with_len) {
            Some(n) => {
                let h = |len: usize| StreamFrameHeader { id, offset, len: with_len.then_some(len), fin: false };
                prop_assert!(h(n).encoded_len() + n <= space);
                if with_len {
                    if offset + (n as u64) < (1 << 62) - 1 {
                        prop_assert!(h(n + 1).encoded_len() + n + 1 > space);
                    }
                } else if offset + (space as u64) < (1 << 62) {
                    prop_assert_eq!(h(n).encoded_len() + n, space);
                }
            }
            None => {
                let empty = StreamFrameHeader { id, offset, len: with_len.then_some(0), fin: false };
                prop_assert!(empty.encoded_len() > space);
            }
        }
        match CryptoFrameHeader::max_data(offset, space) {
            Some(n) => {
                let h = |len| CryptoFrameHeader { offset, len };
                prop_assert!(h(n).encoded_len() + n <= space);
                if offset + (n as u64) < (1 << 62) - 1 {
                    prop_assert!(h(n + 1).encoded_len() + n + 1 > space);
                }
            }
            None => {
                let empty = CryptoFrameHeader { offset, len: 0 };
                prop_assert!(empty.encoded_len() > space);
            }
        }
        match DatagramFrameHeader::max_data(space, with_len) {
            Some(n) => {
                let h = |len| DatagramFrameHeader { len: with_len.then_some(len) };
                prop_assert!(h(n).encoded_len() + n <= space);
                if with_len {
                    prop_assert!(h(n + 1).encoded_len() + n + 1 > space);
                } else {
                    prop_assert_eq!(h(n).encoded_len() + n, space);
                }
            }
            None => {
                // Not even an empty frame fits: the type byte, plus a one-byte Length of
                // zero when it has one (space 1 with a Length is the case that showed it).
                let empty = DatagramFrameHeader { len: with_len.then_some(0) };
                prop_assert!(empty.encoded_len() > space);
            }
        }
    }

    #[test]
    fn random_payloads_never_panic_and_reencode_to_equal_frames(
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        pt in 0usize..4,
    ) {
        for item in FrameIter::new(&payload, FRAME_PACKETS[pt]) {
            match item {
                Ok(f) => {
                    let again = enc(&f);
                    prop_assert_eq!(parse_all(&again).unwrap(), f);
                }
                Err(e) => prop_assert!(e.code == FEE || e.code == PV),
            }
        }
    }
}

#[test]
fn malformed_ack_ranges_are_a_typed_error_and_write_nothing() {
    use quic_wire::frame::AckWriteError;
    // An inverted range, built at run time (a literal one is a lint error).
    let inverted = RangeInclusive::new(5u64, 3);
    let cases: [&[RangeInclusive<u64>]; 4] = [
        std::slice::from_ref(&inverted),
        &[10..=12, 9..=9],            // adjacent: must be merged
        &[10..=12, 11..=20],          // not descending
        &[40..=40, 30..=31, 31..=32], // a bad range far past a small budget
    ];
    for ranges in cases {
        for budget in [8, 100] {
            let mut buf = [0u8; 64];
            let mut w = Writer::new(&mut buf);
            assert_eq!(
                AckFrame::write_ranges(&mut w, None, ranges.iter().cloned(), 0, None, budget),
                Err(AckWriteError::Malformed),
                "{ranges:?} budget {budget}"
            );
            assert_eq!(w.written(), 0);
        }
    }
}
