//! Transport parameters (RFC 9000 §7.4, §18 and the extensions): defaults, round trips,
//! every decoding rule with its error code, truncation, and skipping of unknown ids.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use std::vec::Vec;

use proptest::prelude::*;
use quic_wire::cid::ResetToken;
use quic_wire::codec::{BufferTooSmall, Writer};
use quic_wire::transport_params::{
    PreferredAddress, ReservedParameter, TransportParameterId as Id, TransportParameters,
    VersionInformation,
};
use quic_wire::{ConnectionId, PathId, Side, TransportErrorCode, VarInt, Version};

// ---------------------------------------------------------------------------------------
// Helpers

fn v(x: u64) -> VarInt {
    VarInt::from_u64(x).unwrap()
}

fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).unwrap()
}

fn varint_bytes(x: u64) -> Vec<u8> {
    let mut buf = [0u8; 8];
    let mut w = Writer::new(&mut buf);
    v(x).encode(&mut w).unwrap();
    let n = w.written();
    buf[..n].to_vec()
}

/// One parameter on the wire: id, length, value.
fn param(id: u64, value: &[u8]) -> Vec<u8> {
    let mut out = varint_bytes(id);
    out.extend(varint_bytes(value.len() as u64));
    out.extend_from_slice(value);
    out
}

/// An integer parameter.
fn int_param(id: Id, x: u64) -> Vec<u8> {
    param(id.0, &varint_bytes(x))
}

fn encode(tp: &TransportParameters) -> Vec<u8> {
    let mut buf = vec![0u8; tp.encoded_len()];
    let mut w = Writer::new(&mut buf);
    tp.encode(&mut w).unwrap();
    assert_eq!(
        w.written(),
        tp.encoded_len(),
        "encoded_len matches the bytes written"
    );
    buf
}

/// Decoding fails with TRANSPORT_PARAMETER_ERROR and a reason mentioning `what`.
#[track_caller]
fn assert_rejected(bytes: &[u8], sender: Side, what: &str) {
    let e = TransportParameters::decode(bytes, sender).expect_err("decoding must fail");
    assert_eq!(e.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR, "{e}");
    assert_eq!(e.frame_type, None);
    assert!(
        e.reason.contains(what),
        "reason {:?} lacks {what:?}",
        e.reason
    );
}

fn preferred_address() -> PreferredAddress {
    PreferredAddress {
        ipv4: Some((Ipv4Addr::new(192, 0, 2, 1), 443)),
        ipv6: Some((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 4433)),
        connection_id: cid(&[9, 8, 7, 6]),
        stateless_reset_token: ResetToken([0x5a; 16]),
    }
}

/// A server's parameters with every field away from its default.
fn full_server_params() -> TransportParameters {
    TransportParameters {
        original_destination_connection_id: Some(cid(&[1; 8])),
        max_idle_timeout_ms: v(30_000),
        stateless_reset_token: Some(ResetToken([0xab; 16])),
        max_udp_payload_size: v(1472),
        initial_max_data: v(1 << 20),
        initial_max_stream_data_bidi_local: v(1 << 16),
        initial_max_stream_data_bidi_remote: v(1 << 17),
        initial_max_stream_data_uni: v(1 << 18),
        initial_max_streams_bidi: v(100),
        initial_max_streams_uni: v(1 << 60),
        ack_delay_exponent: 20,
        max_ack_delay_ms: 40,
        disable_active_migration: true,
        preferred_address: Some(preferred_address()),
        active_connection_id_limit: v(8),
        initial_source_connection_id: Some(cid(&[2; 20])),
        retry_source_connection_id: Some(cid(&[3; 5])),
        version_information: VersionInformation::new(Version::V1, &[Version::V2, Version::V1]),
        max_datagram_frame_size: Some(v(65535)),
        initial_max_path_id: Some(PathId(u32::MAX)),
        grease_quic_bit: true,
        min_ack_delay_us: Some(v(1000)),
    }
}

// ---------------------------------------------------------------------------------------
// Defaults and encoding

#[test]
fn defaults_are_those_of_rfc9000_section_18_2() {
    let d = TransportParameters::default();
    assert_eq!(d.max_udp_payload_size, v(65527));
    assert_eq!(d.ack_delay_exponent, 3);
    assert_eq!(d.max_ack_delay_ms, 25);
    assert_eq!(d.max_ack_delay(), Duration::from_millis(25));
    assert_eq!(d.active_connection_id_limit, v(2));
    assert_eq!(d.max_idle_timeout(), None, "0 disables the idle timeout");
    assert_eq!(d.initial_max_data, VarInt::ZERO);
    assert_eq!(d.initial_max_streams_bidi, VarInt::ZERO);
    assert!(!d.disable_active_migration && !d.grease_quic_bit);
    assert!(d.preferred_address.is_none() && d.version_information.is_none());
    assert_eq!(d.min_ack_delay(), None);
    assert!(d.validate(Side::Client).is_ok());
}

#[test]
fn defaults_encode_to_nothing_and_nothing_decodes_to_defaults() {
    assert_eq!(TransportParameters::default().encoded_len(), 0);
    assert!(encode(&TransportParameters::default()).is_empty());
    for side in [Side::Client, Side::Server] {
        assert_eq!(
            TransportParameters::decode(&[], side).unwrap(),
            TransportParameters::default()
        );
    }
}

#[test]
fn explicit_default_values_decode_like_absent_ones() {
    let mut bytes = int_param(Id::MAX_UDP_PAYLOAD_SIZE, 65527);
    bytes.extend(int_param(Id::ACK_DELAY_EXPONENT, 3));
    bytes.extend(int_param(Id::ACTIVE_CONNECTION_ID_LIMIT, 2));
    let tp = TransportParameters::decode(&bytes, Side::Client).unwrap();
    assert_eq!(tp, TransportParameters::default());
}

#[test]
fn integer_parameter_is_written_as_id_length_varint() {
    let tp = TransportParameters {
        max_idle_timeout_ms: v(30_000),
        ..Default::default()
    };
    // id 0x01, length 4, 30000 in a 4-byte varint (0x80 prefix).
    assert_eq!(encode(&tp), [0x01, 0x04, 0x80, 0x00, 0x75, 0x30]);
    assert_eq!(tp.max_idle_timeout(), Some(Duration::from_secs(30)));
}

#[test]
fn flags_are_written_with_an_empty_value() {
    let tp = TransportParameters {
        disable_active_migration: true,
        grease_quic_bit: true,
        ..Default::default()
    };
    // 0x0c, length 0; 0x2ab2 as a 2-byte varint (0x6ab2), length 0.
    assert_eq!(encode(&tp), [0x0c, 0x00, 0x6a, 0xb2, 0x00]);
}

#[test]
fn preferred_address_is_written_in_the_rfc_layout() {
    let tp = TransportParameters {
        preferred_address: Some(PreferredAddress {
            ipv4: Some((Ipv4Addr::new(10, 0, 0, 1), 0x1234)),
            ipv6: None,
            connection_id: cid(&[0xcc, 0xdd]),
            stateless_reset_token: ResetToken([7; 16]),
        }),
        ..Default::default()
    };
    let mut value = vec![10, 0, 0, 1, 0x12, 0x34];
    value.extend([0u8; 18]); // [::]:0
    value.extend([2, 0xcc, 0xdd]);
    value.extend([7u8; 16]);
    assert_eq!(encode(&tp), param(0x0d, &value));
}

#[test]
fn parameters_are_written_in_increasing_id_order_and_each_once() {
    let full = full_server_params();
    // Each field alone encodes to exactly one parameter; the full encoding is their
    // concatenation.
    let singles = single_field_params(&full);
    let concatenated: Vec<u8> = singles.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(encode(&full), concatenated);
    let ids: Vec<u64> = singles.iter().map(|(id, _)| id.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:x?}");
    assert_eq!(ids.len(), 22, "every parameter of the table is exercised");
}

/// For each field of `full`, a struct with only that field set, encoded, with its id.
fn single_field_params(full: &TransportParameters) -> Vec<(Id, Vec<u8>)> {
    let d = TransportParameters::default;
    let variants: Vec<(Id, TransportParameters)> = vec![
        (
            Id::ORIGINAL_DESTINATION_CONNECTION_ID,
            TransportParameters {
                original_destination_connection_id: full.original_destination_connection_id,
                ..d()
            },
        ),
        (
            Id::MAX_IDLE_TIMEOUT,
            TransportParameters {
                max_idle_timeout_ms: full.max_idle_timeout_ms,
                ..d()
            },
        ),
        (
            Id::STATELESS_RESET_TOKEN,
            TransportParameters {
                stateless_reset_token: full.stateless_reset_token,
                ..d()
            },
        ),
        (
            Id::MAX_UDP_PAYLOAD_SIZE,
            TransportParameters {
                max_udp_payload_size: full.max_udp_payload_size,
                ..d()
            },
        ),
        (
            Id::INITIAL_MAX_DATA,
            TransportParameters {
                initial_max_data: full.initial_max_data,
                ..d()
            },
        ),
        (
            Id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
            TransportParameters {
                initial_max_stream_data_bidi_local: full.initial_max_stream_data_bidi_local,
                ..d()
            },
        ),
        (
            Id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
            TransportParameters {
                initial_max_stream_data_bidi_remote: full.initial_max_stream_data_bidi_remote,
                ..d()
            },
        ),
        (
            Id::INITIAL_MAX_STREAM_DATA_UNI,
            TransportParameters {
                initial_max_stream_data_uni: full.initial_max_stream_data_uni,
                ..d()
            },
        ),
        (
            Id::INITIAL_MAX_STREAMS_BIDI,
            TransportParameters {
                initial_max_streams_bidi: full.initial_max_streams_bidi,
                ..d()
            },
        ),
        (
            Id::INITIAL_MAX_STREAMS_UNI,
            TransportParameters {
                initial_max_streams_uni: full.initial_max_streams_uni,
                ..d()
            },
        ),
        (
            Id::ACK_DELAY_EXPONENT,
            TransportParameters {
                ack_delay_exponent: full.ack_delay_exponent,
                ..d()
            },
        ),
        (
            Id::MAX_ACK_DELAY,
            TransportParameters {
                max_ack_delay_ms: full.max_ack_delay_ms,
                ..d()
            },
        ),
        (
            Id::DISABLE_ACTIVE_MIGRATION,
            TransportParameters {
                disable_active_migration: full.disable_active_migration,
                ..d()
            },
        ),
        (
            Id::PREFERRED_ADDRESS,
            TransportParameters {
                preferred_address: full.preferred_address,
                ..d()
            },
        ),
        (
            Id::ACTIVE_CONNECTION_ID_LIMIT,
            TransportParameters {
                active_connection_id_limit: full.active_connection_id_limit,
                ..d()
            },
        ),
        (
            Id::INITIAL_SOURCE_CONNECTION_ID,
            TransportParameters {
                initial_source_connection_id: full.initial_source_connection_id,
                ..d()
            },
        ),
        (
            Id::RETRY_SOURCE_CONNECTION_ID,
            TransportParameters {
                retry_source_connection_id: full.retry_source_connection_id,
                ..d()
            },
        ),
        (
            Id::VERSION_INFORMATION,
            TransportParameters {
                version_information: full.version_information,
                ..d()
            },
        ),
        (
            Id::MAX_DATAGRAM_FRAME_SIZE,
            TransportParameters {
                max_datagram_frame_size: full.max_datagram_frame_size,
                ..d()
            },
        ),
        (
            Id::INITIAL_MAX_PATH_ID,
            TransportParameters {
                initial_max_path_id: full.initial_max_path_id,
                ..d()
            },
        ),
        (
            Id::GREASE_QUIC_BIT,
            TransportParameters {
                grease_quic_bit: full.grease_quic_bit,
                ..d()
            },
        ),
        (
            Id::MIN_ACK_DELAY,
            TransportParameters {
                min_ack_delay_us: full.min_ack_delay_us,
                ..d()
            },
        ),
    ];
    variants
        .into_iter()
        .map(|(id, tp)| {
            let bytes = encode(&tp);
            // The encoding starts with the id of the one field that is set.
            assert!(bytes.starts_with(&varint_bytes(id.0)), "{id:?}");
            (id, bytes)
        })
        .collect()
}

#[test]
fn full_server_parameters_round_trip() {
    let full = full_server_params();
    assert_eq!(
        TransportParameters::decode(&encode(&full), Side::Server),
        Ok(full)
    );
}

#[test]
fn encoding_into_a_short_buffer_fails_and_writes_nothing() {
    let full = full_server_params();
    let mut buf = vec![0xeeu8; full.encoded_len() - 1];
    let mut w = Writer::new(&mut buf);
    assert_eq!(full.encode(&mut w), Err(BufferTooSmall));
    assert_eq!(w.written(), 0);
    assert!(buf.iter().all(|&b| b == 0xee));
}

// ---------------------------------------------------------------------------------------
// Truncation and lengths

#[test]
fn every_truncation_is_an_error_except_at_parameter_boundaries() {
    let full = full_server_params();
    let bytes = encode(&full);
    let singles = single_field_params(&full);
    // Prefixes that end exactly after a parameter decode to the parameters before them.
    let mut boundaries = vec![(0usize, TransportParameters::default())];
    let mut end = 0;
    for (_, b) in &singles {
        end += b.len();
        let decoded = TransportParameters::decode(&bytes[..end], Side::Server).unwrap();
        boundaries.push((end, decoded));
    }
    assert_eq!(end, bytes.len());
    assert_eq!(boundaries.last().unwrap().1, full);

    for cut in 0..bytes.len() {
        let result = TransportParameters::decode(&bytes[..cut], Side::Server);
        match boundaries.iter().find(|(at, _)| *at == cut) {
            Some((_, expected)) => assert_eq!(result.as_ref(), Ok(expected), "cut at {cut}"),
            None => {
                let e = result.expect_err("a cut inside a parameter must fail");
                assert_eq!(e.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR);
            }
        }
    }
}

#[test]
fn length_past_the_end_is_an_error() {
    // initial_max_data claiming 5 bytes with 1 present.
    assert_rejected(&[0x04, 0x05, 0x01], Side::Client, "past the end");
    // An unknown parameter is skipped by its length, which must still fit.
    assert_rejected(&[0x40, 0x50, 0x03, 0x01], Side::Client, "past the end");
    // The largest length a varint can carry.
    let mut bytes = vec![0x21];
    bytes.extend(varint_bytes(VarInt::MAX.into_inner()));
    assert_rejected(&bytes, Side::Client, "past the end");
}

#[test]
fn truncated_id_or_length_is_an_error() {
    assert_rejected(&[0x40], Side::Client, "id");
    assert_rejected(&[0x04], Side::Client, "length");
    assert_rejected(&[0x04, 0x80, 0x00], Side::Client, "length");
}

#[test]
fn integer_value_must_fill_its_length_exactly() {
    // initial_max_data = 1 followed by a stray byte.
    assert_rejected(&param(0x04, &[0x01, 0x00]), Side::Client, "trailing");
    // A 2-byte varint in a 1-byte value.
    assert_rejected(&param(0x04, &[0x40]), Side::Client, "truncated");
    assert_rejected(&param(0x04, &[]), Side::Client, "truncated");
    // A longer-than-needed varint encoding that fills the value is fine.
    let tp = TransportParameters::decode(&param(0x04, &[0x80, 0, 0, 7]), Side::Client).unwrap();
    assert_eq!(tp.initial_max_data, v(7));
}

// ---------------------------------------------------------------------------------------
// Duplicates, unknown and reserved parameters

#[test]
fn duplicate_known_parameter_is_an_error() {
    for bytes in [
        [
            int_param(Id::INITIAL_MAX_DATA, 1),
            int_param(Id::INITIAL_MAX_DATA, 1),
        ]
        .concat(),
        [
            int_param(Id::INITIAL_MAX_DATA, 1),
            int_param(Id::MAX_IDLE_TIMEOUT, 9),
            int_param(Id::INITIAL_MAX_DATA, 2),
        ]
        .concat(),
        [param(0x0c, &[]), param(0x0c, &[])].concat(),
        [
            int_param(Id::MIN_ACK_DELAY, 1),
            int_param(Id::MIN_ACK_DELAY, 1),
        ]
        .concat(),
    ] {
        assert_rejected(&bytes, Side::Client, "duplicate");
    }
}

#[test]
fn unknown_and_reserved_parameters_are_skipped() {
    let reserved = Id::reserved(5).unwrap();
    assert!(reserved.is_reserved());
    let bytes = [
        param(reserved.0, &[1, 2, 3]),
        int_param(Id::INITIAL_MAX_DATA, 77),
        param(0x12, &[0xff; 40]), // unassigned
        param(0x12, &[]),         // unknown ids may repeat
        param(reserved.0, &[]),
        param(VarInt::MAX.into_inner(), &[0]),
        param(0x3f, &[0x40]), // a known-looking id nearby, but unknown
    ]
    .concat();
    let tp = TransportParameters::decode(&bytes, Side::Client).unwrap();
    assert_eq!(
        tp,
        TransportParameters {
            initial_max_data: v(77),
            ..Default::default()
        }
    );
}

#[test]
fn grease_parameter_is_written_first_and_ignored_on_decode() {
    let full = full_server_params();
    let grease = ReservedParameter::new(1000, &[0xde, 0xad]).unwrap();
    assert_eq!(grease.id(), Id(31 * 1000 + 27));
    assert_eq!(grease.value(), &[0xde, 0xad]);

    let len = grease.encoded_len() + full.encoded_len();
    let mut buf = vec![0u8; len];
    let mut w = Writer::new(&mut buf);
    full.encode_with_grease(&grease, &mut w).unwrap();
    assert_eq!(w.written(), len);
    assert_eq!(
        &buf[..grease.encoded_len()],
        &param(31 * 1000 + 27, &[0xde, 0xad])[..]
    );
    assert_eq!(TransportParameters::decode(&buf, Side::Server), Ok(full));

    let mut short = vec![0u8; len - 1];
    let mut w = Writer::new(&mut short);
    assert_eq!(
        full.encode_with_grease(&grease, &mut w),
        Err(BufferTooSmall)
    );
    assert_eq!(w.written(), 0);
}

#[test]
fn reserved_parameter_id_must_fit_a_varint() {
    assert!(ReservedParameter::new(0, &[]).is_some());
    assert!(ReservedParameter::new(u64::MAX / 31, &[]).is_none());
    assert!(ReservedParameter::new(VarInt::MAX.into_inner() / 31, &[]).is_none());
}

// ---------------------------------------------------------------------------------------
// Value rules (RFC 9000 §18.2 and the extensions)

#[test]
fn max_udp_payload_size_below_1200_is_an_error() {
    assert_rejected(
        &int_param(Id::MAX_UDP_PAYLOAD_SIZE, 1199),
        Side::Client,
        "1200",
    );
    assert_rejected(
        &int_param(Id::MAX_UDP_PAYLOAD_SIZE, 0),
        Side::Client,
        "1200",
    );
    let tp = TransportParameters::decode(&int_param(Id::MAX_UDP_PAYLOAD_SIZE, 1200), Side::Client);
    assert_eq!(tp.unwrap().max_udp_payload_size, v(1200));
}

#[test]
fn ack_delay_exponent_above_20_is_an_error() {
    assert_rejected(
        &int_param(Id::ACK_DELAY_EXPONENT, 21),
        Side::Client,
        "ack_delay_exponent",
    );
    assert_rejected(
        &int_param(Id::ACK_DELAY_EXPONENT, 256),
        Side::Client,
        "ack_delay_exponent",
    );
    let tp = TransportParameters::decode(&int_param(Id::ACK_DELAY_EXPONENT, 20), Side::Client);
    assert_eq!(tp.unwrap().ack_delay_exponent, 20);
    let tp = TransportParameters::decode(&int_param(Id::ACK_DELAY_EXPONENT, 0), Side::Client);
    assert_eq!(tp.unwrap().ack_delay_exponent, 0);
}

#[test]
fn max_ack_delay_of_2_pow_14_or_more_is_an_error() {
    assert_rejected(
        &int_param(Id::MAX_ACK_DELAY, 1 << 14),
        Side::Client,
        "max_ack_delay",
    );
    assert_rejected(
        &int_param(Id::MAX_ACK_DELAY, 1 << 40),
        Side::Client,
        "max_ack_delay",
    );
    let tp =
        TransportParameters::decode(&int_param(Id::MAX_ACK_DELAY, (1 << 14) - 1), Side::Client);
    assert_eq!(tp.unwrap().max_ack_delay_ms, (1 << 14) - 1);
}

#[test]
fn active_connection_id_limit_below_2_is_an_error() {
    for n in [0, 1] {
        assert_rejected(
            &int_param(Id::ACTIVE_CONNECTION_ID_LIMIT, n),
            Side::Client,
            "active_connection_id_limit",
        );
    }
}

#[test]
fn initial_max_streams_above_2_pow_60_is_an_error() {
    for id in [Id::INITIAL_MAX_STREAMS_BIDI, Id::INITIAL_MAX_STREAMS_UNI] {
        assert_rejected(&int_param(id, (1 << 60) + 1), Side::Client, "2^60");
        assert!(TransportParameters::decode(&int_param(id, 1 << 60), Side::Client).is_ok());
    }
}

#[test]
fn stateless_reset_token_must_be_16_bytes() {
    assert_rejected(&param(0x02, &[0; 15]), Side::Server, "16 bytes");
    assert_rejected(&param(0x02, &[0; 17]), Side::Server, "16 bytes");
    let tp = TransportParameters::decode(&param(0x02, &[4; 16]), Side::Server).unwrap();
    assert_eq!(tp.stateless_reset_token, Some(ResetToken([4; 16])));
}

#[test]
fn connection_ids_longer_than_20_bytes_are_errors() {
    for id in [0x00, 0x0f, 0x10] {
        assert_rejected(&param(id, &[1; 21]), Side::Server, "20 bytes");
        let tp = TransportParameters::decode(&param(id, &[1; 20]), Side::Server).unwrap();
        let got = [
            tp.original_destination_connection_id,
            tp.initial_source_connection_id,
            tp.retry_source_connection_id,
        ];
        assert_eq!(got.iter().flatten().count(), 1);
    }
    // A zero-length initial_source_connection_id is allowed (RFC 9000 §7.3).
    let tp = TransportParameters::decode(&param(0x0f, &[]), Side::Client).unwrap();
    assert_eq!(tp.initial_source_connection_id, Some(ConnectionId::EMPTY));
}

#[test]
fn flags_with_a_value_are_errors() {
    assert_rejected(&param(0x0c, &[0]), Side::Client, "disable_active_migration");
    assert_rejected(&param(0x2ab2, &[1]), Side::Client, "grease_quic_bit");
    let tp = TransportParameters::decode(&[0x0c, 0x00, 0x6a, 0xb2, 0x00], Side::Client).unwrap();
    assert!(tp.disable_active_migration && tp.grease_quic_bit);
}

#[test]
fn server_only_parameters_from_a_client_are_errors() {
    let pa = TransportParameters {
        preferred_address: Some(preferred_address()),
        ..Default::default()
    };
    for bytes in [
        param(0x00, &[1; 8]),
        param(0x02, &[0; 16]),
        encode(&pa),
        param(0x10, &[3; 4]),
    ] {
        assert_rejected(&bytes, Side::Client, "server-only");
        assert!(TransportParameters::decode(&bytes, Side::Server).is_ok());
    }
}

#[test]
fn min_ack_delay_above_max_ack_delay_is_an_error_in_either_order() {
    let min = int_param(Id::MIN_ACK_DELAY, 40_001);
    let max = int_param(Id::MAX_ACK_DELAY, 40);
    assert_rejected(
        &[min.clone(), max.clone()].concat(),
        Side::Client,
        "min_ack_delay",
    );
    assert_rejected(&[max.clone(), min].concat(), Side::Client, "min_ack_delay");
    // Against the default of 25 ms.
    assert_rejected(
        &int_param(Id::MIN_ACK_DELAY, 25_001),
        Side::Client,
        "min_ack_delay",
    );

    let equal = [int_param(Id::MIN_ACK_DELAY, 40_000), max].concat();
    let tp = TransportParameters::decode(&equal, Side::Client).unwrap();
    assert_eq!(tp.min_ack_delay(), Some(Duration::from_millis(40)));
    assert_eq!(tp.min_ack_delay(), Some(tp.max_ack_delay()));
}

#[test]
fn initial_max_path_id_above_2_pow_32_minus_1_is_an_error() {
    assert_rejected(
        &int_param(Id::INITIAL_MAX_PATH_ID, 1 << 32),
        Side::Client,
        "2^32-1",
    );
    let tp = TransportParameters::decode(&int_param(Id::INITIAL_MAX_PATH_ID, 0), Side::Client);
    assert_eq!(tp.unwrap().initial_max_path_id, Some(PathId::ZERO));
}

#[test]
fn max_datagram_frame_size_zero_is_kept_apart_from_absent() {
    let bytes = int_param(Id::MAX_DATAGRAM_FRAME_SIZE, 0);
    let tp = TransportParameters::decode(&bytes, Side::Client).unwrap();
    assert_eq!(tp.max_datagram_frame_size, Some(VarInt::ZERO));
    assert_eq!(encode(&tp), bytes);
}

// ---------------------------------------------------------------------------------------
// preferred_address

fn pa_value(v4: [u8; 6], v6: [u8; 18], cid: &[u8], trailing: &[u8]) -> Vec<u8> {
    let mut value = v4.to_vec();
    value.extend(v6);
    value.push(cid.len() as u8);
    value.extend_from_slice(cid);
    value.extend([0x11; 16]);
    value.extend_from_slice(trailing);
    value
}

#[test]
fn preferred_address_all_zero_family_is_absent() {
    let mut v6 = [0u8; 18];
    v6[0] = 0x20;
    let bytes = param(0x0d, &pa_value([0; 6], v6, &[1, 2], &[]));
    let pa = TransportParameters::decode(&bytes, Side::Server)
        .unwrap()
        .preferred_address
        .unwrap();
    assert_eq!(pa.ipv4, None);
    assert_eq!(pa.ipv6.unwrap().0.octets()[0], 0x20);
    assert_eq!(pa.ipv6.unwrap().1, 0);
    assert_eq!(pa.connection_id, cid(&[1, 2]));
    assert_eq!(pa.stateless_reset_token, ResetToken([0x11; 16]));

    // An unspecified address with a port, or an address with port 0, is present.
    let bytes = param(0x0d, &pa_value([0, 0, 0, 0, 0, 1], [0; 18], &[1], &[]));
    let pa = TransportParameters::decode(&bytes, Side::Server)
        .unwrap()
        .preferred_address
        .unwrap();
    assert_eq!(pa.ipv4, Some((Ipv4Addr::UNSPECIFIED, 1)));
    assert_eq!(pa.ipv6, None);
}

#[test]
fn preferred_address_with_an_empty_connection_id_is_an_error() {
    let bytes = param(0x0d, &pa_value([1; 6], [0; 18], &[], &[]));
    assert_rejected(&bytes, Side::Server, "empty connection ID");
}

#[test]
fn preferred_address_from_a_server_using_an_empty_connection_id_is_an_error() {
    let pa = param(0x0d, &pa_value([1; 6], [0; 18], &[5], &[]));
    let bytes = [pa.clone(), param(0x0f, &[])].concat();
    assert_rejected(&bytes, Side::Server, "empty connection ID");
    let bytes = [param(0x0f, &[]), pa.clone()].concat();
    assert_rejected(&bytes, Side::Server, "empty connection ID");
    assert!(TransportParameters::decode(&[pa, param(0x0f, &[9])].concat(), Side::Server).is_ok());
}

#[test]
fn preferred_address_must_exactly_fill_its_length() {
    assert_rejected(
        &param(0x0d, &pa_value([1; 6], [0; 18], &[5], &[0])),
        Side::Server,
        "longer",
    );
    let full = pa_value([1; 6], [0; 18], &[5, 6], &[]);
    for cut in 0..full.len() {
        assert_rejected(
            &param(0x0d, &full[..cut]),
            Side::Server,
            "preferred_address",
        );
    }
    // A connection ID length above 20.
    let mut long = pa_value([1; 6], [0; 18], &[5; 21], &[]);
    assert_rejected(&param(0x0d, &long), Side::Server, "20 bytes");
    long[24] = 0xff;
    assert_rejected(&param(0x0d, &long), Side::Server, "truncated");
}

// ---------------------------------------------------------------------------------------
// version_information (RFC 9368 §3, §4)

fn vi_value(versions: &[u32]) -> Vec<u8> {
    versions.iter().flat_map(|v| v.to_be_bytes()).collect()
}

#[test]
fn version_information_length_must_be_a_positive_multiple_of_4() {
    for len in [0, 1, 3, 5, 7, 9] {
        let mut value = vi_value(&[1, 1, 1]);
        value.resize(len, 1);
        assert_rejected(&param(0x11, &value), Side::Server, "multiple of 4");
    }
}

#[test]
fn version_information_with_a_zero_version_is_an_error() {
    assert_rejected(&param(0x11, &vi_value(&[0])), Side::Server, "zero");
    assert_rejected(&param(0x11, &vi_value(&[1, 2, 0])), Side::Server, "zero");
    // Zero past the kept capacity is still seen.
    let mut long = vec![1u32; 20];
    long.push(0);
    assert_rejected(&param(0x11, &vi_value(&long)), Side::Server, "zero");
}

#[test]
fn client_version_information_must_list_the_chosen_version() {
    let bytes = param(0x11, &vi_value(&[1, 0x6b33_43cf]));
    assert_rejected(&bytes, Side::Client, "chosen");
    // A server's list need not hold its chosen version, and may be empty.
    let tp = TransportParameters::decode(&bytes, Side::Server).unwrap();
    let vi = tp.version_information.unwrap();
    assert_eq!(vi.chosen(), Version::V1);
    assert_eq!(vi.available(), &[Version::V2]);
    let tp = TransportParameters::decode(&param(0x11, &vi_value(&[1])), Side::Server).unwrap();
    assert!(tp.version_information.unwrap().available().is_empty());

    let ok = param(0x11, &vi_value(&[1, 0x6b33_43cf, 1]));
    let vi = TransportParameters::decode(&ok, Side::Client)
        .unwrap()
        .version_information
        .unwrap();
    assert_eq!(vi.available(), &[Version::V2, Version::V1]);
}

#[test]
fn version_information_keeps_the_first_16_versions_and_the_chosen_one() {
    let cap = VersionInformation::CAPACITY as u32;
    // Server: 20 listed, the first 16 kept.
    let list: Vec<u32> = (0..=20).map(|i| 100 + i).collect();
    let tp = TransportParameters::decode(&param(0x11, &vi_value(&list)), Side::Server).unwrap();
    let vi = tp.version_information.unwrap();
    assert_eq!(vi.chosen(), Version(100));
    let kept: Vec<u32> = vi.available().iter().map(|v| v.0).collect();
    assert_eq!(kept, (101..101 + cap).collect::<Vec<_>>());

    // Client whose chosen version is listed 19th: it replaces the 16th kept entry.
    let mut list: Vec<u32> = (1..=20).map(|i| 0x1000 + i).collect();
    list.insert(0, 0x1000 + 19);
    let tp = TransportParameters::decode(&param(0x11, &vi_value(&list)), Side::Client).unwrap();
    let vi = tp.version_information.unwrap();
    let kept: Vec<u32> = vi.available().iter().map(|v| v.0).collect();
    let mut expected: Vec<u32> = (1..cap).map(|i| 0x1000 + i).collect();
    expected.push(0x1000 + 19);
    assert_eq!(kept, expected);
    // What was kept re-encodes into parameters the client rule still accepts.
    assert_eq!(
        TransportParameters::decode(&encode(&tp), Side::Client),
        Ok(tp)
    );
}

#[test]
fn version_information_new_refuses_more_than_capacity() {
    let list = [Version::V1; VersionInformation::CAPACITY + 1];
    assert!(VersionInformation::new(Version::V1, &list).is_none());
    let vi = VersionInformation::new(Version::V1, &list[1..]).unwrap();
    assert_eq!(vi.available().len(), VersionInformation::CAPACITY);
    assert_eq!(vi.encoded_len(), 4 * (1 + VersionInformation::CAPACITY));
}

// ---------------------------------------------------------------------------------------
// Validation of hand-built values

#[test]
fn validate_rejects_what_decode_would_reject() {
    let ok = full_server_params();
    assert!(ok.validate(Side::Server).is_ok());
    assert!(ok.validate(Side::Client).is_err(), "server-only fields");

    let cases: Vec<TransportParameters> = vec![
        TransportParameters {
            ack_delay_exponent: 21,
            ..ok
        },
        TransportParameters {
            max_ack_delay_ms: 1 << 14,
            ..ok
        },
        TransportParameters {
            max_udp_payload_size: v(1199),
            ..ok
        },
        TransportParameters {
            active_connection_id_limit: v(1),
            ..ok
        },
        TransportParameters {
            initial_max_streams_bidi: v((1 << 60) + 1),
            ..ok
        },
        TransportParameters {
            version_information: VersionInformation::new(Version(0), &[]),
            ..ok
        },
        TransportParameters {
            min_ack_delay_us: Some(v(40_001)),
            ..ok
        },
    ];
    for bad in cases {
        let e = bad.validate(Side::Server).unwrap_err();
        assert_eq!(e.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR);
        // What validate rejects, decode rejects with the same error.
        assert_eq!(
            TransportParameters::decode(&encode(&bad), Side::Server),
            Err(e)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Property: decode(encode(x)) == x for every valid x

fn varint_in(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = VarInt> {
    range.prop_map(|x| VarInt::from_u64(x).unwrap())
}

fn any_varint() -> impl Strategy<Value = VarInt> {
    prop_oneof![
        varint_in(0..=63),
        varint_in(0..=16_383),
        varint_in(0..=VarInt::MAX.into_inner()),
    ]
}

fn any_cid(min: usize) -> impl Strategy<Value = ConnectionId> {
    proptest::collection::vec(any::<u8>(), min..=20).prop_map(|b| ConnectionId::new(&b).unwrap())
}

fn any_preferred_address() -> impl Strategy<Value = PreferredAddress> {
    (
        proptest::option::of((any::<[u8; 4]>(), any::<u16>())),
        proptest::option::of((any::<[u8; 16]>(), any::<u16>())),
        any_cid(1),
        any::<[u8; 16]>(),
    )
        .prop_map(|(v4, v6, connection_id, token)| PreferredAddress {
            // All zeros means absent on the wire.
            ipv4: v4
                .map(|(a, p)| (Ipv4Addr::from(a), p))
                .filter(|(a, p)| !(a.is_unspecified() && *p == 0)),
            ipv6: v6
                .map(|(a, p)| (Ipv6Addr::from(a), p))
                .filter(|(a, p)| !(a.is_unspecified() && *p == 0)),
            connection_id,
            stateless_reset_token: ResetToken(token),
        })
}

fn any_version_information() -> impl Strategy<Value = VersionInformation> {
    (
        1..=u32::MAX,
        proptest::collection::vec(1..=u32::MAX, 0..=VersionInformation::CAPACITY),
    )
        .prop_map(|(chosen, list)| {
            let list: Vec<Version> = list.into_iter().map(Version).collect();
            VersionInformation::new(Version(chosen), &list).unwrap()
        })
}

/// Valid parameters as `sender` may send them.
fn any_params(sender: Side) -> impl Strategy<Value = TransportParameters> {
    let ids = (
        proptest::option::of(any_cid(0)),
        proptest::option::of(any::<[u8; 16]>()),
        proptest::option::of(any_preferred_address()),
        proptest::option::of(any_cid(0)),
        proptest::option::of(any_cid(0)),
    );
    let ints = (
        any_varint(),
        varint_in(1200..=VarInt::MAX.into_inner()),
        any_varint(),
        any_varint(),
        any_varint(),
        any_varint(),
        varint_in(0..=1 << 60),
        varint_in(0..=1 << 60),
        0..=20u8,
        0..(1u16 << 14),
        varint_in(2..=VarInt::MAX.into_inner()),
    );
    let extensions = (
        any::<bool>(),
        proptest::option::of(any_version_information()),
        proptest::option::of(any_varint()),
        proptest::option::of(any::<u32>()),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
    );
    (ids, ints, extensions).prop_map(move |(ids, ints, ext)| {
        let (odcid, token, pa, iscid, rscid) = ids;
        let (idle, udp, data, bidi_local, bidi_remote, uni, s_bidi, s_uni, exp, mad, acl) = ints;
        let (dam, vi, dgram, path, grease, min_ack) = ext;
        let mut tp = TransportParameters {
            original_destination_connection_id: odcid,
            max_idle_timeout_ms: idle,
            stateless_reset_token: token.map(ResetToken),
            max_udp_payload_size: udp,
            initial_max_data: data,
            initial_max_stream_data_bidi_local: bidi_local,
            initial_max_stream_data_bidi_remote: bidi_remote,
            initial_max_stream_data_uni: uni,
            initial_max_streams_bidi: s_bidi,
            initial_max_streams_uni: s_uni,
            ack_delay_exponent: exp,
            max_ack_delay_ms: mad,
            disable_active_migration: dam,
            preferred_address: pa,
            active_connection_id_limit: acl,
            initial_source_connection_id: iscid,
            retry_source_connection_id: rscid,
            version_information: vi,
            max_datagram_frame_size: dgram,
            initial_max_path_id: path.map(PathId),
            grease_quic_bit: grease,
            // Scaled into 0..=max_ack_delay.
            min_ack_delay_us: min_ack
                .map(|x| VarInt::from_u64(x % (u64::from(mad) * 1000 + 1)).unwrap()),
        };
        if tp.preferred_address.is_some()
            && tp.initial_source_connection_id == Some(ConnectionId::EMPTY)
        {
            tp.initial_source_connection_id = Some(cid(&[1]));
        }
        if sender.is_client() {
            tp.original_destination_connection_id = None;
            tp.stateless_reset_token = None;
            tp.preferred_address = None;
            tp.retry_source_connection_id = None;
            if let Some(vi) = tp.version_information {
                // A client lists its chosen version.
                let mut list = vi.available().to_vec();
                if !list.contains(&vi.chosen()) {
                    list.truncate(VersionInformation::CAPACITY - 1);
                    list.push(vi.chosen());
                }
                tp.version_information = VersionInformation::new(vi.chosen(), &list);
            }
        }
        tp
    })
}

proptest! {
    #[test]
    fn server_parameters_round_trip(tp in any_params(Side::Server)) {
        prop_assert!(tp.validate(Side::Server).is_ok());
        let bytes = encode(&tp);
        prop_assert_eq!(bytes.len(), tp.encoded_len());
        prop_assert_eq!(TransportParameters::decode(&bytes, Side::Server), Ok(tp));
    }

    #[test]
    fn client_parameters_round_trip(tp in any_params(Side::Client)) {
        prop_assert!(tp.validate(Side::Client).is_ok());
        let bytes = encode(&tp);
        prop_assert_eq!(TransportParameters::decode(&bytes, Side::Client), Ok(tp));
    }

    #[test]
    fn greased_parameters_round_trip(
        tp in any_params(Side::Server),
        n in 0..(VarInt::MAX.into_inner() / 31),
        value in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let grease = ReservedParameter::new(n, &value).unwrap();
        let mut buf = vec![0u8; grease.encoded_len() + tp.encoded_len()];
        let mut w = Writer::new(&mut buf);
        tp.encode_with_grease(&grease, &mut w).unwrap();
        prop_assert_eq!(w.written(), buf.len());
        prop_assert_eq!(TransportParameters::decode(&buf, Side::Server), Ok(tp));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_what_decodes_re_encodes(
        bytes in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        for side in [Side::Client, Side::Server] {
            match TransportParameters::decode(&bytes, side) {
                Ok(tp) => {
                    prop_assert_eq!(TransportParameters::decode(&encode(&tp), side), Ok(tp));
                }
                Err(e) => prop_assert_eq!(e.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR),
            }
        }
    }
}
