//! Closing: application close in both directions, the closing/draining periods, idle
//! timeout and keep-alive.

mod util;

use std::time::Duration;

use quic_conn::conn::{Config, ConnectionError, Event};
use quic_wire::VarInt;
use util::Pair;

fn closed_with(events: &[Event]) -> Option<ConnectionError> {
    events.iter().find_map(|e| match e {
        Event::Closed(err) => Some(err.clone()),
        _ => None,
    })
}

#[test]
fn application_close_from_the_client_reaches_the_server_with_its_code() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    pair.client.close(pair.now, VarInt::from_u32(42), b"bye");
    assert!(pair.drive_bounded(100_000, Duration::from_secs(10)));
    assert_eq!(
        closed_with(&pair.server_events),
        Some(ConnectionError::PeerApplication {
            code: VarInt::from_u32(42),
            reason: b"bye".to_vec()
        })
    );
    assert_eq!(
        pair.client.error(),
        Some(&ConnectionError::LocallyClosed(VarInt::from_u32(42)))
    );
    // Both leave after their closing/draining periods.
    assert!(pair.client.is_drained());
    assert!(pair.server().is_drained());
    assert!(pair.server_events.contains(&Event::Drained));
}

#[test]
fn application_close_from_the_server_reaches_the_client_with_its_code() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let now = pair.now;
    pair.server().close(now, VarInt::from_u32(7), b"");
    assert!(pair.drive_bounded(100_000, Duration::from_secs(10)));
    assert_eq!(
        closed_with(&pair.client_events),
        Some(ConnectionError::PeerApplication {
            code: VarInt::from_u32(7),
            reason: Vec::new()
        })
    );
    assert!(pair.client.is_drained());
}

#[test]
fn close_during_the_handshake_is_sent_as_a_transport_application_error() {
    let mut pair = Pair::new(Config::default(), Config::default());
    // Let the first flights go, then close before the client completes.
    let mut buf = vec![0u8; 1500];
    let now = pair.now;
    let _ = pair.client.poll_transmit(now, &mut buf);
    pair.client
        .close(now, VarInt::from_u32(9), b"secret reason");
    assert!(pair.drive_bounded(100_000, Duration::from_secs(10)));
    // RFC 9000 §10.2.3: in Initial packets the close is APPLICATION_ERROR without reason.
    // The first datagram was never delivered, so the close is the server's first packet.
    assert_eq!(
        closed_with(&pair.server_events),
        Some(ConnectionError::PeerTransport {
            code: quic_wire::TransportErrorCode::APPLICATION_ERROR,
            frame_type: None,
            reason: Vec::new()
        })
    );
    assert!(pair.client.is_drained());
}

#[test]
fn idle_timeout_closes_both_sides_silently() {
    let cfg = Config {
        idle_timeout: Some(Duration::from_secs(5)),
        ..Config::default()
    };
    let mut pair = Pair::new(cfg, cfg);
    pair.connect();
    let start = pair.now;
    assert!(pair.drive_bounded(100_000, Duration::from_secs(60)));
    assert_eq!(pair.client.error(), Some(&ConnectionError::TimedOut));
    assert_eq!(pair.server().error(), Some(&ConnectionError::TimedOut));
    assert!(pair.client.is_drained());
    let waited = pair.now.saturating_duration_since(start);
    assert!(waited >= Duration::from_secs(4), "closed after {waited:?}");
    assert!(waited <= Duration::from_secs(7), "closed after {waited:?}");
}

#[test]
fn keep_alive_keeps_an_idle_connection_open() {
    let cfg = Config {
        idle_timeout: Some(Duration::from_secs(5)),
        keep_alive: Some(Duration::from_secs(1)),
        ..Config::default()
    };
    let mut pair = Pair::new(
        cfg,
        Config {
            idle_timeout: Some(Duration::from_secs(5)),
            ..Config::default()
        },
    );
    pair.connect();
    let end = pair.now.checked_add(Duration::from_secs(30)).expect("time");
    assert!(pair.drive_until(1_000_000, |p| p.now >= end));
    assert!(pair.client.is_established());
    assert!(pair.server().is_established());
}
