//! The client's address changing under the connection (NAT rebinding, RFC 9000 §9).

mod util;

use std::time::Duration;

use quic_conn::conn::{Config, MigrationError};
use quic_streams::StreamRef;
use quic_wire::Dir;
use util::{pattern, read_all, Pair};

#[test]
fn the_server_follows_a_rebound_client_and_validates_the_new_path() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    assert!(pair.server().is_path_validated());
    let server_sends_to = pair.server().remote_cid();
    let rebound: std::net::SocketAddr = "10.0.0.99:60000".parse().expect("addr");
    pair.client_seen_as = rebound;
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(150_000);
    let mut written = 0;
    let mut got = Vec::new();
    for _ in 0..1000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
        }
        pair.drive_bounded(20, Duration::from_secs(1));
        read_all(pair.server(), id, &mut got);
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data);
    assert_eq!(pair.server().remote_address(), Some(rebound));
    assert!(pair.server().is_path_validated(), "PATH_CHALLENGE answered");
    assert!(pair.server().is_established());
    // RFC 9000 §9.5: a rebinding (same connection ID from the client) may keep the ID.
    assert_eq!(pair.server().remote_cid(), server_sends_to);
}

#[test]
fn a_client_moves_to_a_new_address_with_a_fresh_connection_id() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let old_cid = pair.client.remote_cid();
    let server_sends_to = pair.server().remote_cid();
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().expect("addr");
    let now = pair.now;
    pair.client
        .migrate_local_address(now, moved)
        .expect("migration allowed");
    pair.client_seen_as = moved;
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(50_000);
    assert_eq!(pair.client.write(id, &data).expect("write"), data.len());
    pair.client.finish(id).expect("finish");
    pair.drive();
    let mut got = Vec::new();
    assert!(read_all(pair.server(), id, &mut got));
    assert!(got == data);
    assert_ne!(pair.client.remote_cid(), old_cid, "a new connection ID");
    // RFC 9000 §9.5: the server does not reuse its ID for the client on the new path.
    assert_ne!(pair.server().remote_cid(), server_sends_to);
    assert_eq!(pair.server().remote_address(), Some(moved));
    assert!(pair.server().is_path_validated());
    assert_eq!(pair.server().error(), None);
}

#[test]
fn migration_is_refused_before_the_handshake_is_confirmed() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().expect("addr");
    let now = pair.now;
    assert_eq!(
        pair.client.migrate_local_address(now, moved),
        Err(MigrationError::NotConfirmed)
    );
}

/// The client uploads `len` bytes on a new stream and the server reads them all.
fn upload(pair: &mut Pair, len: usize) {
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(len);
    let mut written = 0;
    let mut got = Vec::new();
    // Bounded: the data goes within a few hundred rounds on a clean link.
    for _ in 0..1000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
            if written == data.len() {
                pair.client.finish(id).expect("finish");
            }
        }
        pair.drive_bounded(20, Duration::from_secs(1));
        if read_all(pair.server(), id, &mut got) {
            break;
        }
    }
    assert!(got == data, "upload delivered");
}

/// The initial window (RFC 9002 §7.2) for `conn`'s datagram size.
fn initial_cwnd(conn: &quic_conn::conn::Connection) -> u64 {
    quic_recovery::cc::initial_window(u64::from(conn.stats().mtu))
}

#[test]
fn a_new_local_address_starts_from_initial_congestion_state_and_a_return_restores_it() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    upload(&mut pair, 300_000);
    let before = pair.client.stats();
    let server_home = pair.server().stats();
    assert!(
        before.cwnd > initial_cwnd(&pair.client),
        "the window grew: {}",
        before.cwnd
    );
    let home = util::client_addr();
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().expect("addr");
    let now = pair.now;
    pair.client
        .migrate_local_address(now, moved)
        .expect("migration");
    pair.client_seen_as = moved;
    // RFC 9000 §9.4: initial window and RTT on the new path, and the path MTU is
    // searched again from the base size.
    let fresh = pair.client.stats();
    assert!(before.mtu > 1200, "the first path's MTU grew");
    assert_eq!(fresh.mtu, 1200);
    assert_eq!(fresh.cwnd, quic_recovery::cc::initial_window(1200));
    assert_eq!(fresh.rtt, Duration::from_millis(333));
    upload(&mut pair, 300_000);
    let moved_stats = pair.client.stats();
    assert!(
        moved_stats.cwnd > initial_cwnd(&pair.client),
        "the window recovers"
    );
    assert!(
        moved_stats.rtt < Duration::from_millis(100),
        "the RTT is sampled anew"
    );
    assert_eq!(moved_stats.mtu, before.mtu, "the MTU search ran again");
    // The server also started over for the client's new address, and validated it.
    assert_eq!(pair.server().remote_address(), Some(moved));
    assert!(pair.server().is_path_validated());
    // Back home: the state of the validated old path returns, on both sides.
    let now = pair.now;
    pair.client
        .migrate_local_address(now, home)
        .expect("return");
    pair.client_seen_as = home;
    assert_eq!(pair.client.stats().cwnd, before.cwnd);
    assert_eq!(pair.client.stats().rtt, before.rtt);
    assert_eq!(pair.client.stats().mtu, before.mtu);
    let id = pair.client.open(Dir::Uni).expect("open");
    pair.client.write(id, b"home").expect("write");
    // Until the client's first packet from home reaches the server.
    assert!(pair.drive_until(100, |p| p.server().remote_address() == Some(home)));
    assert!(
        pair.server().is_path_validated(),
        "a known address skips validation"
    );
    assert_eq!(pair.server().stats().cwnd, server_home.cwnd);
    // (The ACK in the client's first datagram from its new address still sampled the home
    // path, whose packets it acknowledged.)
    let rtt = pair.server().stats().rtt;
    assert!(
        rtt.abs_diff(server_home.rtt) < Duration::from_millis(1),
        "{rtt:?}"
    );
    upload(&mut pair, 1000);
    assert_eq!(pair.server().error(), None);
    assert_eq!(pair.client.error(), None);
}

#[test]
fn the_server_starts_over_for_a_new_client_ip_but_keeps_its_state_for_a_new_port() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // Server-to-client data grows the server's window: the client asks, the server sends.
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    pair.client.write(id, b"get").expect("write");
    pair.drive();
    let body = pattern(300_000);
    let mut sent = 0;
    let mut got = Vec::new();
    for _ in 0..1000 {
        if sent < body.len() {
            sent += pair.server().write(id, &body[sent..]).expect("write");
        }
        pair.drive_bounded(20, Duration::from_secs(1));
        read_all(&mut pair.client, id, &mut got);
        if got.len() == body.len() {
            break;
        }
    }
    assert!(got == body);
    let grown = pair.server().stats().cwnd;
    // A new path starts from the base datagram size (its MTU is searched again).
    let initial = quic_recovery::cc::initial_window(1200);
    assert!(grown > initial);
    // A new port only: NAT rebinding, the state stays (RFC 9000 §9.4 allows it).
    pair.client_seen_as = "10.0.0.1:5555".parse().expect("addr");
    pair.client.write(id, b"more").expect("write");
    pair.drive();
    assert_eq!(pair.server().remote_address(), Some(pair.client_seen_as));
    assert!(pair.server().stats().cwnd >= grown, "not reset");
    // A new IP address: initial values until the new path proves itself.
    pair.client_seen_as = "10.0.0.77:5555".parse().expect("addr");
    pair.client.write(id, b"again").expect("write");
    pair.drive_bounded(3, Duration::from_secs(1));
    assert_eq!(pair.server().remote_address(), Some(pair.client_seen_as));
    assert_eq!(pair.server().stats().cwnd, initial);
    pair.drive();
    assert!(pair.server().is_path_validated());
    assert_eq!(pair.server().error(), None);
}

#[test]
fn with_disable_active_migration_the_client_does_not_move_and_a_new_ip_is_ignored() {
    let server_config = Config {
        disable_active_migration: true,
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_config);
    pair.connect();
    assert!(
        pair.client
            .peer_params()
            .expect("params")
            .disable_active_migration
    );
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().expect("addr");
    let now = pair.now;
    assert_eq!(
        pair.client.migrate_local_address(now, moved),
        Err(MigrationError::Disabled)
    );
    assert_eq!(
        pair.client.probe_local_address(now, moved, true),
        Err(MigrationError::Disabled)
    );
    // A client that moves anyway: its packets from the new IP address are dropped, with
    // no stateless reset and no close (RFC 9000 §9).
    let home = util::client_addr();
    pair.client_seen_as = moved;
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    pair.client.write(id, b"hello").expect("write");
    pair.client.finish(id).expect("finish");
    pair.drive_bounded(50, Duration::from_millis(200));
    let mut got = Vec::new();
    assert!(!read_all(pair.server(), id, &mut got));
    assert!(got.is_empty());
    assert_eq!(pair.server().remote_address(), Some(home));
    assert_eq!(pair.server().error(), None);
    // NAT rebinding (a new port only) is still followed.
    pair.client_seen_as = "10.0.0.1:6000".parse().expect("addr");
    pair.drive();
    assert!(read_all(pair.server(), id, &mut got));
    assert_eq!(got, b"hello");
    assert_eq!(pair.server().remote_address(), Some(pair.client_seen_as));
}

#[test]
fn a_path_challenge_flood_is_answered_within_a_bounded_queue() {
    use bytes::BytesMut;
    use quic_conn::DatagramMeta;
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let mut buf = vec![0u8; 1500];
    let mut frames = Vec::new();
    for i in 0..100u8 {
        frames.push(0x1a); // PATH_CHALLENGE
        frames.extend_from_slice(&[i; 8]);
    }
    // 50 datagrams of 100 challenges each, the server sending nothing in between: on the
    // active path and, probing, from a new address.
    for round in 0..50 {
        let now = pair.now;
        pair.client
            .inject_raw_frames(quic_wire::Space::Data, frames.clone());
        let t = pair.client.poll_transmit(now, &mut buf).expect("datagram");
        let remote = if round % 2 == 0 {
            util::client_addr()
        } else {
            "10.0.0.66:1234".parse().expect("addr")
        };
        let meta = DatagramMeta {
            remote,
            local: util::server_addr(),
            ecn: quic_wire::Ecn::NotEct,
        };
        pair.server()
            .handle_datagram(now, meta, BytesMut::from(&buf[..t.size]));
        assert!(pair.server().pending_path_responses() <= 8);
    }
    assert_eq!(pair.server().error(), None);
    // The responses owed go out in a few datagrams, then nothing more.
    let now = pair.now;
    let mut datagrams = 0;
    while pair.server().poll_transmit(now, &mut buf).is_some() {
        datagrams += 1;
        assert!(datagrams <= 4, "bounded output");
    }
    assert_eq!(pair.server().pending_path_responses(), 0);
}

/// A TLS configuration that edits our transport parameters before they are sent: a
/// server misbehaving on purpose.
struct RewriteParams {
    inner: quic_conn::tls::rustls::RustlsConfig,
    rewrite: fn(&mut quic_wire::TransportParameters),
}

impl quic_conn::tls::TlsConfig for RewriteParams {
    fn start_session(
        &self,
        side: quic_wire::Side,
        version: quic_wire::Version,
        params: &[u8],
        server_name: Option<&str>,
    ) -> Result<Box<dyn quic_conn::tls::Session>, quic_conn::tls::TlsError> {
        let mut tp = quic_wire::TransportParameters::decode(params, side).expect("our params");
        (self.rewrite)(&mut tp);
        let mut out = vec![0u8; tp.encoded_len()];
        let mut w = quic_wire::codec::Writer::new(&mut out);
        tp.encode(&mut w).expect("encode");
        let n = w.written();
        self.inner
            .start_session(side, version, &out[..n], server_name)
    }

    fn initial_keys(
        &self,
        version: quic_wire::Version,
        dcid: &quic_wire::ConnectionId,
        side: quic_wire::Side,
    ) -> Result<quic_conn::tls::Keys, quic_conn::tls::TlsError> {
        self.inner.initial_keys(version, dcid, side)
    }
}

/// RFC 9000 §18.2: "a server MUST NOT include a zero-length connection ID in this
/// transport parameter. A client MUST treat a violation of these requirements as a
/// connection error of type TRANSPORT_PARAMETER_ERROR."
#[test]
fn a_preferred_address_with_an_empty_connection_id_is_a_transport_parameter_error() {
    use quic_conn::conn::ConnectionError;
    use quic_wire::TransportErrorCode;
    let (client_tls, server_tls) = util::tls_configs(0);
    let server_tls = RewriteParams {
        inner: server_tls,
        rewrite: |tp| {
            if let Some(pa) = tp.preferred_address.as_mut() {
                pa.connection_id = quic_wire::ConnectionId::EMPTY;
            }
        },
    };
    let server_config = Config {
        preferred_address: Some("10.0.0.3:443".parse().expect("addr")),
        ..Config::default()
    };
    let mut pair = Pair::with_tls(Config::default(), server_config, (client_tls, server_tls));
    pair.drive();
    match pair.client.error() {
        Some(ConnectionError::Transport(e)) => {
            assert_eq!(e.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR);
        }
        other => panic!("{other:?}"),
    }
    assert!(!pair.client.is_established());
}

/// RFC 9000 §8.2.1, §8.2.3: when the anti-amplification limit keeps the challenge to a new
/// address below 1200 bytes, a second validation with a full-size datagram follows.
#[test]
fn a_challenge_cut_short_by_the_amplification_limit_is_repeated_at_full_size() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    // Sizes of the server's datagrams from now on.
    let sizes: Rc<RefCell<Vec<usize>>> = Rc::new(RefCell::new(Vec::new()));
    let s = sizes.clone();
    pair.filter = Some(Box::new(move |to_server, d| {
        if !to_server {
            s.borrow_mut().push(d.len());
        }
        false
    }));
    // The client's first datagram from its new address is a small one.
    pair.client_seen_as = "10.0.0.42:4433".parse().expect("addr");
    let id = pair.client.open(Dir::Uni).expect("open");
    pair.client.write(id, b"x").expect("write");
    pair.drive();
    assert_eq!(pair.server().remote_address(), Some(pair.client_seen_as));
    assert!(pair.server().is_path_validated());
    let sizes = sizes.borrow();
    // The first answer is held to three times the small datagram; a full-size
    // challenge datagram follows once the address is validated.
    let short = sizes
        .iter()
        .position(|&n| n < 1200)
        .expect("a short datagram");
    assert!(sizes[short] <= 3 * 60, "{sizes:?}");
    assert!(sizes[short + 1..].iter().any(|&n| n >= 1200), "{sizes:?}");
    // (The first 1200-byte datagram is the server's probe of the client's old address,
    // RFC 9000 §9.3.3.) The new address is reported validated once.
    let new_address = pair.client_seen_as;
    let events: Vec<_> = pair
        .server_events
        .iter()
        .filter(|e| {
            matches!(e, quic_conn::conn::Event::PathValidated { remote, .. } if *remote == new_address)
        })
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
}

/// RFC 9000 §9.2: "The new path might not have the same ECN capability. Therefore, the
/// endpoint validates ECN capability": a path that bleached ECN does not stop marking on
/// the next one, and returning to it restores the failed state.
#[test]
fn ecn_is_validated_again_on_a_new_path() {
    use quic_wire::Ecn;
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.bleach_ecn = true;
    pair.connect();
    upload(&mut pair, 20_000);
    let sent = pair.client_ecn.len();
    upload(&mut pair, 20_000);
    assert!(
        pair.client_ecn[sent..].iter().all(|&e| e == Ecn::NotEct),
        "validation failed on the bleaching path"
    );
    // A new local address whose path keeps the marks.
    pair.bleach_ecn = false;
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().expect("addr");
    let now = pair.now;
    pair.client.migrate_local_address(now, moved).expect("move");
    pair.client_seen_as = moved;
    let sent = pair.client_ecn.len();
    upload(&mut pair, 20_000);
    assert!(pair.client_ecn[sent..].iter().all(|&e| e == Ecn::Ect0));
    // Back on the bleaching path: known to fail, no marks.
    let now = pair.now;
    pair.client
        .migrate_local_address(now, util::client_addr())
        .expect("return");
    pair.client_seen_as = util::client_addr();
    let sent = pair.client_ecn.len();
    upload(&mut pair, 5_000);
    assert!(pair.client_ecn[sent..].iter().all(|&e| e == Ecn::NotEct));
}

/// RFC 9000 §9.3.2 on the client side: a move whose path never validates is undone, under
/// yet another connection ID of the server's (§9.5).
#[test]
fn a_client_move_that_does_not_validate_is_undone() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let home = util::client_addr();
    let first_cid = pair.client.remote_cid();
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().expect("addr");
    let now = pair.now;
    pair.client.migrate_local_address(now, moved).expect("move");
    let moved_cid = pair.client.remote_cid();
    // Nothing from the new address gets through.
    pair.filter = Some(Box::new(|to_server, _| to_server));
    let undone = pair.drive_until(10_000, |p| p.client.local_address() == Some(home));
    assert!(undone);
    assert!(pair
        .client_events
        .contains(&quic_conn::conn::Event::PathValidationFailed {
            local: moved,
            remote: util::server_addr(),
        }));
    let cid = pair.client.remote_cid();
    assert!(
        cid != first_cid && cid != moved_cid,
        "a third connection ID"
    );
    pair.filter = None;
    upload(&mut pair, 10_000);
    assert_eq!(pair.client.error(), None);
}

/// Many moves in a row, of every kind, over a lossy link: rebinding to new ports and new
/// addresses, returns to old ones, client moves and probes. Every upload arrives and the
/// connection stays up.
#[test]
fn a_restless_client_keeps_its_connection() {
    for seed in 0..4u64 {
        let mut pair = Pair::seeded(
            Config::default(),
            Config::default(),
            util::tls_configs(0),
            seed,
        );
        pair.connect();
        pair.loss_percent = 2;
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut seen = Vec::new();
        for round in 0..12u64 {
            let now = pair.now;
            let addr: std::net::SocketAddr =
                format!("10.0.{}.{}:{}", next(3), 1 + next(3), 4000 + next(3))
                    .parse()
                    .expect("addr");
            match next(4) {
                // NAT rebinding: the server sees a new address, the client does not know.
                0 => pair.client_seen_as = addr,
                1 => {
                    if pair.client.migrate_local_address(now, addr).is_ok() {
                        pair.client_seen_as = addr;
                    }
                }
                2 => {
                    // A probe whose success moves the client: the Pair delivers everything
                    // from the client as coming from `client_seen_as`.
                    let _ = pair.client.probe_local_address(now, addr, false);
                }
                _ => pair.client_seen_as = util::client_addr(),
            }
            upload(&mut pair, 5_000 + 1_000 * round as usize);
            assert_eq!(pair.client.error(), None, "seed {seed} round {round}");
            assert_eq!(pair.server().error(), None, "seed {seed} round {round}");
            if let Some(r) = pair.server().remote_address() {
                if !seen.contains(&r) {
                    seen.push(r);
                }
            }
        }
        assert!(seen.len() >= 3, "seed {seed}: the server followed {seen:?}");
    }
}

/// Regression (the quinn connectionmigration cell, quinn-proto 0.11 as the server): a
/// server that offered a preferred address answers the client there but keeps sending
/// from the address of the handshake (this pair delivers everything as from
/// `server_addr()`). The client moved to the preferred address and dropped those packets
/// as coming from an unknown address, and the transfer stalled. The handshake address is
/// known (RFC 9000 §9 only discards unknown ones): its packets are processed, and the
/// client stays on the preferred address.
#[test]
fn a_client_on_the_preferred_address_accepts_packets_from_the_original_one() {
    let preferred: std::net::SocketAddr = "192.0.2.99:443".parse().expect("addr");
    let server_config = Config {
        preferred_address: Some(preferred),
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_config);
    pair.connect();
    let moved = pair.drive_until(10_000, |p| {
        p.client_events
            .iter()
            .any(|e| matches!(e, quic_conn::Event::Migrated { remote, .. } if *remote == preferred))
    });
    assert!(moved, "events: {:?}", pair.client_events);
    let id = match pair.server().open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(200_000);
    let mut written = 0;
    let mut got = Vec::new();
    let mut done = false;
    for _ in 0..1000 {
        if written < data.len() {
            written += pair.server().write(id, &data[written..]).expect("write");
            if written == data.len() {
                pair.server().finish(id).expect("finish");
            }
        }
        pair.drive_bounded(20, Duration::from_secs(1));
        done = read_all(&mut pair.client, id, &mut got);
        if done {
            break;
        }
    }
    assert!(done && got == data, "{} of {} bytes", got.len(), data.len());
    assert_eq!(pair.client.remote_address(), Some(preferred));
    assert_eq!(pair.client.error(), None);
}
