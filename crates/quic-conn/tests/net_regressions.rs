//! Regressions found by the simulator suite, each named after the bug it pins.
#![cfg(all(feature = "sim", feature = "rustls"))]

mod netutil;

use std::sync::Arc;
use std::time::Duration;

use netutil::*;
use quic_conn::conn::{Config, ConnectionError, Event};
use quic_wire::packet::{Packet, ParseConfig, ProtectedHeader};
use quic_wire::PacketType;

fn has_handshake(d: &[u8]) -> bool {
    let cfg = ParseConfig::new(8).accept_zero_fixed_bit(true);
    let mut rest = d;
    while !rest.is_empty() {
        let Ok((p, next)) = Packet::parse(rest, &cfg) else {
            return false;
        };
        if let Packet::Protected(p) = p {
            if let ProtectedHeader::Long(h) = p.header {
                if h.ty == PacketType::Handshake {
                    return true;
                }
            }
        }
        rest = next;
    }
    false
}
/// A packet carrying the client Finished twice (two lost copies queued for retransmission)
/// completes the handshake on the first frame; the second, for a space discarded meanwhile,
/// must be ignored (RFC 9000 §19.6), not handed to TLS again.
#[test]
fn finished_repeated_in_one_packet_does_not_fail_the_handshake() {
    let mut net = Net::new(1, delay_ms(10));
    let mut n = 0;
    // Lose the client's first 4 datagrams that carry a Handshake packet.
    net.sim.set_filter(net.up, move |_, d| {
        if has_handshake(d) {
            n += 1;
            n > 4
        } else {
            true
        }
    });
    let h = net.connect();
    net.upload(h, Arc::new(pattern(1000, 1)));
    net.run_uploads(Duration::from_secs(20));
    net.assert_uploads_delivered();
}

/// After we start a key update, the old receive key must stay until the peer was heard in
/// the new phase (RFC 9001 §6.1), or a peer that missed our new-phase packets is cut off.
#[test]
fn old_key_is_kept_until_the_peer_answers_a_key_update() {
    let mut net = Net::new(1, delay_ms(10));
    let c = net.connect();
    net.upload(c, Arc::new(pattern(1000, 1)));
    net.run_uploads(Duration::from_secs(5));
    net.run_for(Duration::from_millis(500));
    let s = net.app.accepted[0];
    let now = net.sim.now();
    assert!(net
        .server_ep()
        .connection(s)
        .unwrap()
        .initiate_key_update(now));
    // Everything the server sends for the next 2 s is lost.
    let until = now + Duration::from_secs(2);
    net.sim.set_filter(net.down, move |t, _| t >= until);
    net.upload(c, Arc::new(pattern(100_000, 2)));
    let r = net.try_run_until(|n| n.app.complete() == 2, Duration::from_secs(60));
    r.expect("the upload completes once the 2 s outage ends");
}

/// A connection removed by the endpoint still reports why it closed.
#[test]
fn idle_timeout_is_reported_through_the_endpoint() {
    let cfg = Config {
        idle_timeout: Some(Duration::from_secs(3)),
        ..Config::default()
    };
    let mut net = Net::build(11, delay_ms(30), delay_ms(30), cfg, cfg);
    let c = net.connect();
    net.run_until(|n| n.client_removed.contains(&c), Duration::from_secs(10));
    assert!(net
        .client_events
        .iter()
        .any(|(_, e)| *e == Event::Closed(ConnectionError::TimedOut)));
}
