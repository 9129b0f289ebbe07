//! Handshake behaviour of a client/server pair in memory.

mod util;

use quic_conn::conn::{Config, Event};
use quic_wire::Version;
use util::Pair;

fn handshake_with(version: Version) -> Pair {
    let cfg = Config {
        version,
        ..Config::default()
    };
    let mut pair = Pair::new(cfg, Config::default());
    pair.connect();
    pair
}

#[test]
fn handshake_completes_and_is_confirmed_on_v1() {
    let mut pair = handshake_with(Version::V1);
    assert!(pair.client_events.contains(&Event::Connected));
    assert!(pair.client_events.contains(&Event::HandshakeConfirmed));
    assert!(pair.server_events.contains(&Event::Connected));
    assert!(pair.client.is_handshake_confirmed());
    assert!(pair.server().is_handshake_confirmed());
    assert_eq!(pair.client.alpn(), Some(util::ALPN));
    assert_eq!(pair.server().alpn(), Some(util::ALPN));
    assert_eq!(pair.server().version(), Version::V1);
}

#[test]
fn handshake_completes_on_v2() {
    let mut pair = handshake_with(Version::V2);
    assert!(pair.client.is_handshake_confirmed());
    assert_eq!(pair.server().version(), Version::V2);
}

#[test]
fn client_adopts_the_server_connection_id_and_parameters_authenticate_it() {
    let mut pair = handshake_with(Version::V1);
    let server_cid = pair.server().local_cid();
    assert_eq!(pair.client.remote_cid(), server_cid);
    let tp = *pair.client.peer_params().expect("server parameters");
    assert_eq!(tp.initial_source_connection_id, Some(server_cid));
    let client_cid = pair.client.local_cid();
    assert_eq!(pair.server().remote_cid(), client_cid);
}

#[test]
fn client_initial_datagrams_are_padded_to_1200_bytes() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let mut buf = vec![0u8; 1500];
    let t = pair
        .client
        .poll_transmit(pair.now, &mut buf)
        .expect("first flight");
    assert!(
        t.size >= 1200,
        "client Initial datagram of {} bytes",
        t.size
    );
    // A first packet that is a long-header Initial (v1 type bits 00).
    assert_eq!(buf[0] & 0xb0, 0x80);
}

#[test]
fn server_never_sends_more_than_three_times_what_it_received_before_validation() {
    // A certificate with many names makes the server's first flight larger than 3x the
    // client's 1200-byte Initial, so the limit actually binds.
    let tls = util::tls_configs(150);
    let mut pair = Pair::with_tls(Config::default(), Config::default(), tls);
    pair.connect();
    // The flight exceeded what one 1200-byte Initial allows, so the limit was tested.
    assert!(pair.server_sent_unvalidated > 3 * 1200);
    assert!(
        pair.worst_amplification_permille <= 3000,
        "server sent {} bytes for {} received",
        pair.server_sent_unvalidated,
        pair.server_received_unvalidated
    );
}

#[test]
fn handshake_survives_loss_of_the_first_server_flight() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let mut dropped = 0;
    pair.filter = Some(Box::new(move |to_server, _| {
        if !to_server && dropped < 2 {
            dropped += 1;
            return true;
        }
        false
    }));
    pair.connect();
    assert!(pair.client.is_handshake_confirmed());
}

#[test]
fn a_second_connection_resumes_the_tls_session() {
    let (client_tls, server_tls) = util::tls_configs(0);
    let mut first = Pair::with_tls(
        Config::default(),
        Config::default(),
        (client_tls.clone(), server_tls.clone()),
    );
    first.connect();
    assert!(!first.client.is_resumed());
    // Session tickets travel after the handshake; let them arrive.
    first.drive();
    // Other seeds: other connection IDs than the remembered parameters name.
    let mut second = Pair::seeded(
        Config::default(),
        Config::default(),
        (client_tls, server_tls),
        1,
    );
    second.connect();
    assert!(second.client.is_resumed(), "the client resumed");
    // The parameters of this connection, not the remembered ones, were authenticated.
    let server_cid = second.server().local_cid();
    let tp = *second.client.peer_params().expect("params");
    assert_eq!(tp.initial_source_connection_id, Some(server_cid));
}

#[test]
fn path_stats_describe_path_zero_and_no_other() {
    let mut pair = handshake_with(Version::V1);
    let p = pair
        .client
        .path_stats(quic_wire::PathId::ZERO)
        .expect("path 0");
    assert_eq!(p.remote, util::server_addr());
    assert!(p.validated);
    assert!(
        p.rtt >= std::time::Duration::from_millis(20),
        "rtt {:?}",
        p.rtt
    );
    assert!(p.cwnd > 0);
    assert!(pair.server().path_stats(quic_wire::PathId(1)).is_none());
}

#[test]
fn a_server_at_its_amplification_limit_sets_no_deadline_it_cannot_serve() {
    let tls = util::tls_configs(150);
    let mut pair = Pair::with_tls(Config::default(), Config::default(), tls);
    // Only the client's first datagram gets through: the server cannot validate the
    // address and runs out of budget.
    let mut first = true;
    pair.filter = Some(Box::new(move |to_server, _| {
        if to_server {
            let drop = !first;
            first = false;
            return drop;
        }
        false
    }));
    pair.drive_bounded(10_000, std::time::Duration::from_secs(1));
    let now = pair.now;
    let server = pair.server();
    let mut buf = vec![0u8; 1500];
    assert!(
        server.poll_transmit(now, &mut buf).is_none(),
        "budget spent"
    );
    let deadline = server.poll_timeout();
    assert!(
        deadline.is_none_or(|t| t > now),
        "deadline {deadline:?} at {now:?}"
    );
}
