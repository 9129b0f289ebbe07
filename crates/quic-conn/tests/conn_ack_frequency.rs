//! The ack-frequency extension: a data sender asks a peer that advertised min_ack_delay
//! for fewer ACKs, the peer obeys, and misuse of the frames is a PROTOCOL_VIOLATION.
#![cfg(feature = "rustls")]

#[cfg(feature = "sim")]
mod netutil;
mod util;

#[cfg(feature = "sim")]
use std::time::Duration;

use quic_conn::conn::{Config, ConnectionError};
use quic_wire::{FrameType, Space, TransportErrorCode};
use util::Pair;

#[cfg_attr(not(feature = "sim"), allow(dead_code))]
fn counted() -> Config {
    Config {
        frame_stats: true,
        ack_frequency: Some(Default::default()),
        ..Config::default()
    }
}

/// Moves 20 MB client to server across a 1 Gbit/s bottleneck with a 10 ms RTT and a
/// 256-packet queue (so slow start ends); returns (client, server) stats.
#[cfg(feature = "sim")]
fn upload(client: Config, server: Config) -> (quic_conn::conn::Stats, quic_conn::conn::Stats) {
    use quic_conn::sim::LinkConfig;
    use std::sync::Arc;
    let link = LinkConfig {
        bandwidth_bps: Some(1_000_000_000),
        queue_bytes: 256 * 1500,
        ..LinkConfig::with_delay(Duration::from_millis(5))
    };
    let mut net = netutil::Net::build(1, link.clone(), link, client, server);
    let h = net.connect();
    net.upload(h, Arc::new(util::pattern(20_000_000)));
    net.run_uploads(Duration::from_secs(60));
    net.assert_uploads_delivered();
    let c = net.client_ep().connection(h).expect("client").stats();
    let sh = net.server_ep().handles().next().expect("server connection");
    let s = net.server_ep().connection(sh).expect("server").stats();
    (c, s)
}

#[cfg(feature = "sim")]
#[test]
fn a_data_sender_gets_fewer_acks_from_a_peer_that_supports_it() {
    let (client, server) = upload(counted(), counted());
    let without = Config {
        ack_frequency: None,
        ..counted()
    };
    let (client_plain, server_plain) = upload(without, counted());
    // The client asked (its ACK_FREQUENCY frames count as "other" at the server, which
    // gets no other such frame from a client here).
    assert!(server.frames_received.other > 0);
    assert_eq!(server_plain.frames_received.other, 0);
    // By default an ACK for every second packet (RFC 9000 §13.2.2); asked for fewer once
    // slow start is over, the server sent far fewer.
    let (acks, acks_plain) = (server.frames_sent.ack, server_plain.frames_sent.ack);
    assert!(
        acks_plain * 10 > client_plain.packets_sent * 4,
        "{acks_plain} ACKs for {} packets",
        client_plain.packets_sent
    );
    assert!(
        acks * 3 < acks_plain * 2,
        "{acks} ACKs with ack-frequency against {acks_plain} without"
    );
    eprintln!(
        "ACKs for a 20 MB upload: {acks} with ack-frequency, {acks_plain} without; \
         {} and {} packets lost",
        client.lost_packets, client_plain.lost_packets
    );
}

#[cfg(feature = "sim")]
#[test]
fn nothing_is_asked_of_a_peer_without_min_ack_delay() {
    let mut server = counted();
    server.recovery.ack.min_ack_delay = None;
    let (_, s) = upload(counted(), server);
    assert_eq!(s.frames_received.other, 0, "no ACK_FREQUENCY sent");
}

fn server_error_after(pair: &mut Pair, frames: &[u8]) -> ConnectionError {
    pair.client.inject_raw_frames(Space::Data, frames.to_vec());
    pair.drive();
    pair.server().error().cloned().expect("server closed")
}

fn assert_violation(err: &ConnectionError, ft: u64) {
    match err {
        ConnectionError::Transport(e) => {
            assert_eq!(e.code, TransportErrorCode::PROTOCOL_VIOLATION, "{e:?}");
            assert_eq!(e.frame_type, Some(FrameType(ft)), "{e:?}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[test]
fn ack_frequency_frames_to_an_endpoint_that_did_not_advertise_are_violations() {
    for frame in [
        // ACK_FREQUENCY (0xaf, two-byte varint 0x40af): seq 0, threshold 1, 25 ms, 1.
        &[0x40, 0xaf, 0x00, 0x01, 0x80, 0x00, 0x61, 0xa8, 0x01][..],
        // IMMEDIATE_ACK (0x1f).
        &[0x1f][..],
    ] {
        let mut server = Config::default();
        server.recovery.ack.min_ack_delay = None;
        let mut pair = Pair::new(Config::default(), server);
        pair.connect();
        let err = server_error_after(&mut pair, frame);
        let ft = if frame[0] == 0x1f { 0x1f } else { 0xaf };
        assert_violation(&err, ft);
    }
}

#[test]
fn a_requested_delay_below_our_min_ack_delay_is_a_violation() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // Requested Max Ack Delay 500 µs (two-byte varint 0x41f4) under our 1 ms.
    let err = server_error_after(&mut pair, &[0x40, 0xaf, 0x00, 0x01, 0x41, 0xf4, 0x01]);
    assert_violation(&err, 0xaf);
}

#[test]
fn a_valid_request_and_immediate_ack_are_accepted() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // seq 5, threshold 3, 2 ms (0x47d0), reordering 0; then IMMEDIATE_ACK.
    pair.client.inject_raw_frames(
        Space::Data,
        vec![0x40, 0xaf, 0x05, 0x03, 0x47, 0xd0, 0x00, 0x1f],
    );
    pair.drive();
    assert!(pair.server().error().is_none());
    assert!(pair.server().is_established());
}
