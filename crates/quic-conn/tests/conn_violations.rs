//! Peer violations close the connection with the exact RFC error code. The misbehaving
//! side is one of our own connections with raw frames injected into its next packet.

mod util;

use quic_conn::conn::{Config, ConnectionError, Event};
use quic_wire::{FrameType, Space, TransportErrorCode};
use util::Pair;

/// The error the server closed with, after the client sent `frames` in `space`.
fn server_error_after(pair: &mut Pair, space: Space, frames: &[u8]) -> ConnectionError {
    pair.client.inject_raw_frames(space, frames.to_vec());
    pair.drive();
    pair.server().error().cloned().expect("server closed")
}

fn assert_transport(err: &ConnectionError, code: TransportErrorCode, ft: Option<FrameType>) {
    match err {
        ConnectionError::Transport(e) => {
            assert_eq!(e.code, code, "{e:?}");
            if ft.is_some() {
                assert_eq!(e.frame_type, ft, "{e:?}");
            }
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

/// The client learnt the code through CONNECTION_CLOSE.
fn client_saw(pair: &Pair, code: TransportErrorCode) {
    let seen = pair.client_events.iter().any(|e| {
        matches!(e, Event::Closed(ConnectionError::PeerTransport { code: c, .. }) if *c == code)
    });
    assert!(seen, "client events: {:?}", pair.client_events);
}

#[test]
fn stream_frame_in_an_initial_packet_is_a_protocol_violation() {
    let mut pair = Pair::new(Config::default(), Config::default());
    // STREAM (with LEN) on stream 0: one byte.
    let err = server_error_after(&mut pair, Space::Initial, &[0x0a, 0x00, 0x01, b'x']);
    assert_transport(
        &err,
        TransportErrorCode::PROTOCOL_VIOLATION,
        Some(FrameType(0x0a)),
    );
    client_saw(&pair, TransportErrorCode::PROTOCOL_VIOLATION);
}

#[test]
fn crypto_data_far_beyond_the_buffer_is_crypto_buffer_exceeded() {
    let mut pair = Pair::new(Config::default(), Config::default());
    // CRYPTO at offset 1_000_000 (4-byte varint), one byte.
    let frame = [0x06, 0x80, 0x0f, 0x42, 0x40, 0x01, b'x'];
    let err = server_error_after(&mut pair, Space::Initial, &frame);
    assert_transport(&err, TransportErrorCode::CRYPTO_BUFFER_EXCEEDED, None);
    client_saw(&pair, TransportErrorCode::CRYPTO_BUFFER_EXCEEDED);
}

#[test]
fn opening_a_stream_beyond_the_limit_is_a_stream_limit_error() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // Client bidirectional stream 800 = index 200, above the default limit of 100.
    let err = server_error_after(&mut pair, Space::Data, &[0x0a, 0x43, 0x20, 0x01, b'x']);
    assert_transport(&err, TransportErrorCode::STREAM_LIMIT_ERROR, None);
    client_saw(&pair, TransportErrorCode::STREAM_LIMIT_ERROR);
}

#[test]
fn handshake_done_from_a_client_is_a_protocol_violation() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let err = server_error_after(&mut pair, Space::Data, &[0x1e]);
    assert_transport(
        &err,
        TransportErrorCode::PROTOCOL_VIOLATION,
        Some(FrameType::HANDSHAKE_DONE),
    );
}

#[test]
fn new_token_from_a_client_is_a_protocol_violation() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let err = server_error_after(&mut pair, Space::Data, &[0x07, 0x01, 0xaa]);
    assert_transport(
        &err,
        TransportErrorCode::PROTOCOL_VIOLATION,
        Some(FrameType::NEW_TOKEN),
    );
}

#[test]
fn acknowledging_a_packet_never_sent_is_a_protocol_violation() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // ACK: largest 1000, delay 0, no extra ranges, first range 0.
    let err = server_error_after(
        &mut pair,
        Space::Data,
        &[0x02, 0x43, 0xe8, 0x00, 0x00, 0x00],
    );
    assert_transport(&err, TransportErrorCode::PROTOCOL_VIOLATION, None);
}

#[test]
fn datagram_larger_than_advertised_is_a_protocol_violation() {
    let server_cfg = Config {
        max_datagram_frame_size: Some(100),
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_cfg);
    pair.connect();
    let mut frame = vec![0x31, 0x40, 0xc8]; // DATAGRAM with length 200
    frame.extend_from_slice(&[0u8; 200]);
    let err = server_error_after(&mut pair, Space::Data, &frame);
    assert_transport(
        &err,
        TransportErrorCode::PROTOCOL_VIOLATION,
        Some(FrameType(0x31)),
    );
}

#[test]
fn datagram_when_not_advertised_is_a_protocol_violation() {
    let server_cfg = Config {
        max_datagram_frame_size: None,
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_cfg);
    pair.connect();
    let err = server_error_after(&mut pair, Space::Data, &[0x31, 0x01, b'x']);
    assert_transport(&err, TransportErrorCode::PROTOCOL_VIOLATION, None);
}

#[test]
fn retiring_the_connection_id_in_use_is_a_protocol_violation() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let err = server_error_after(&mut pair, Space::Data, &[0x19, 0x00]);
    assert_transport(
        &err,
        TransportErrorCode::PROTOCOL_VIOLATION,
        Some(FrameType::RETIRE_CONNECTION_ID),
    );
}

#[test]
fn multipath_frames_without_negotiation_are_a_protocol_violation() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // MAX_PATH_ID (type 0x3e7a, a 2-byte varint) with path 1.
    let err = server_error_after(&mut pair, Space::Data, &[0x7e, 0x7a, 0x01]);
    assert_transport(
        &err,
        TransportErrorCode::PROTOCOL_VIOLATION,
        Some(FrameType::MAX_PATH_ID),
    );
}

/// A NEW_CONNECTION_ID frame.
fn new_cid(seq: u8, retire_prior_to: u8, byte: u8) -> Vec<u8> {
    let mut f = vec![0x18, seq, retire_prior_to, 8];
    f.extend_from_slice(&[byte; 8]);
    f.extend_from_slice(&[byte; 16]);
    f
}

#[test]
fn more_connection_ids_than_the_limit_is_a_connection_id_limit_error() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // The server's limit (4 by default) is filled by the handshake ID and the spares the
    // client issued after the handshake: one more is too many.
    let err = server_error_after(&mut pair, Space::Data, &new_cid(9, 0, 0x55));
    assert_transport(
        &err,
        TransportErrorCode::CONNECTION_ID_LIMIT_ERROR,
        Some(FrameType::NEW_CONNECTION_ID),
    );
}

#[test]
fn a_retired_connection_id_is_replaced() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // The server issued spare IDs up to the client's limit after the handshake. A forged
    // RETIRE_CONNECTION_ID for sequence 1 (the client itself still holds it) makes the
    // server issue a replacement, which overflows the client's limit: the client's
    // CONNECTION_ID_LIMIT_ERROR shows the replacement was sent, and the server accepted
    // the retirement without error of its own.
    pair.client.inject_raw_frames(Space::Data, vec![0x19, 0x01]);
    pair.drive();
    match pair.client.error() {
        Some(ConnectionError::Transport(e)) => {
            assert_eq!(e.code, TransportErrorCode::CONNECTION_ID_LIMIT_ERROR)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn retiring_a_connection_id_never_issued_is_a_protocol_violation() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let err = server_error_after(&mut pair, Space::Data, &[0x19, 0x32]);
    assert_transport(
        &err,
        TransportErrorCode::PROTOCOL_VIOLATION,
        Some(FrameType::RETIRE_CONNECTION_ID),
    );
}
