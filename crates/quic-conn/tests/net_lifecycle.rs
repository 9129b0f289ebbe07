//! Connection lifecycle through endpoints in the simulator: idle timeout, closing from
//! either side with the code delivered, flow control blocking and unblocking, blackholes
//! shorter and longer than the idle timeout, NAT rebinding mid-transfer.
#![cfg(all(feature = "sim", feature = "rustls"))]

mod netutil;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use netutil::{addr, delay_ms, pattern, Net};
use quic_conn::conn::{Config, ConnectionError, Event};
use quic_conn::endpoint::{ConnectionHandle, EndpointConfig, HmacResetTokens};
use quic_conn::sim::{LinkConfig, TraceEvent, TraceKind};
use quic_wire::{Instant, TransportErrorCode, VarInt};

fn with_idle(idle: Duration) -> Config {
    Config {
        idle_timeout: Some(idle),
        ..Config::default()
    }
}

/// The first `Closed` reason among `events`, and for which connection.
fn closed(events: &[(ConnectionHandle, Event)]) -> Option<ConnectionError> {
    events.iter().find_map(|(_, e)| match e {
        Event::Closed(err) => Some(err.clone()),
        _ => None,
    })
}

/// Connects and runs until both sides are established.
fn connected(net: &mut Net) -> (ConnectionHandle, ConnectionHandle) {
    let h = net.connect();
    net.run_until(
        |n| {
            !n.app.accepted.is_empty()
                && n.client_events
                    .iter()
                    .any(|(_, e)| *e == Event::HandshakeConfirmed)
        },
        Duration::from_secs(5),
    );
    (h, net.app.accepted[0])
}

/// Records the time of the last datagram sent on any link.
fn last_send(net: &mut Net) -> Rc<Cell<Instant>> {
    let last = Rc::new(Cell::new(Instant::ZERO));
    let l = Rc::clone(&last);
    net.sim.on_trace(move |e: &TraceEvent| {
        if e.kind == TraceKind::Sent {
            l.set(e.time);
        }
    });
    last
}

// The endpoint removes a connection in the same input that drains it, with its final
// events: an idle-timed-out connection's `Closed(TimedOut)` never reaches the application
// (see the report of this suite). So these tests observe the removal and its timing.

#[test]
fn idle_connection_closes_silently_after_the_idle_timeout_on_both_sides() {
    let idle = Duration::from_secs(3);
    let mut net = Net::build(
        11,
        delay_ms(30),
        delay_ms(30),
        with_idle(idle),
        with_idle(idle),
    );
    let last = last_send(&mut net);
    let (c, s) = connected(&mut net);
    let removed_at = net.run_until(
        |n| n.app.removed.contains(&s) && n.client_removed.contains(&c),
        Duration::from_secs(10),
    );
    // Nothing was sent during the idle period, nor to announce the close (RFC 9000 §10.1:
    // the connection is silently closed), and both ends went when the timer expired.
    let quiet = removed_at.saturating_duration_since(last.get());
    assert!(quiet >= idle, "removed {quiet:?} after the last datagram");
    assert!(
        quiet < idle + Duration::from_millis(500),
        "removed {quiet:?} after the last datagram"
    );
    assert!(net.client_ep().connection(c).is_none());
    assert!(net.server_ep().connection(s).is_none());
    // Each end reports the idle timeout itself; a received CONNECTION_CLOSE would have
    // given another reason.
    assert_eq!(
        closed(&net.client_events),
        Some(ConnectionError::TimedOut),
        "the client saw its idle timeout, and no close from the server"
    );
    assert_eq!(
        net.app.closed(),
        Some(&ConnectionError::TimedOut),
        "the server saw its idle timeout, and no close from the client"
    );
}

/// Connects with the given idle timeouts (`None`: no timeout), stays idle, and returns
/// how long after the last datagram was delivered each end removed the connection.
fn idle_removal(client: Option<Duration>, server: Option<Duration>) -> (Duration, Duration) {
    let c = Config {
        idle_timeout: client,
        ..Config::default()
    };
    let s = Config {
        idle_timeout: server,
        ..Config::default()
    };
    let mut net = Net::build(19, delay_ms(30), delay_ms(30), c, s);
    let last = Rc::new(Cell::new(Instant::ZERO));
    let l = Rc::clone(&last);
    net.sim.on_trace(move |e: &TraceEvent| {
        if e.kind == TraceKind::Delivered {
            l.set(e.time);
        }
    });
    let (c, s) = connected(&mut net);
    let client_gone = net.run_until(|n| n.client_removed.contains(&c), Duration::from_secs(30));
    let server_gone = net.run_until(|n| n.app.removed.contains(&s), Duration::from_secs(30));
    (
        client_gone.saturating_duration_since(last.get()),
        server_gone.saturating_duration_since(last.get()),
    )
}

#[test]
fn the_smaller_of_the_two_idle_timeouts_applies_to_both_ends() {
    // RFC 9000 §10.1: each end uses the minimum of the two advertised values (absent or
    // 0 meaning no limit). Removal comes at most the time of one one-way trip (30 ms)
    // after the timeout, since the last delivery may precede the last receive by that.
    let two = Duration::from_secs(2);
    let ten = Duration::from_secs(10);
    for (client, server) in [
        (Some(two), Some(ten)),
        (Some(ten), Some(two)),
        (None, Some(two)),
    ] {
        let (c, s) = idle_removal(client, server);
        for after in [c, s] {
            assert!(
                after >= two,
                "{client:?}/{server:?}: removed {after:?} after"
            );
            assert!(
                after <= two + Duration::from_millis(30),
                "{client:?}/{server:?}: removed {after:?} after"
            );
        }
    }
}

#[test]
fn keep_alive_holds_an_idle_connection_open_past_the_idle_timeout() {
    // Idle timeout 3 s on both sides, the client pings after 1 s without sending.
    let idle = Duration::from_secs(3);
    let client = Config {
        keep_alive: Some(Duration::from_secs(1)),
        ..with_idle(idle)
    };
    let mut net = Net::build(18, delay_ms(20), delay_ms(20), client, with_idle(idle));
    let (c, s) = connected(&mut net);
    let before = net.sim.link_stats(net.up).sent;
    net.run_for(Duration::from_secs(20));
    assert!(net.client_ep().connection(c).is_some());
    assert!(net.server_ep().connection(s).is_some());
    assert!(net.client_removed.is_empty() && net.app.removed.is_empty());
    // About one ping a second, not a flood.
    let pings = net.sim.link_stats(net.up).sent - before;
    assert!((10..=40).contains(&pings), "{pings} datagrams in 20 s");
}

#[test]
fn server_close_during_the_handshake_reaches_the_client_as_application_error() {
    // RFC 9000 §10.2.3: an application close before the handshake is confirmed is sent
    // in Initial/Handshake packets as a transport CONNECTION_CLOSE with
    // APPLICATION_ERROR and no reason, which must not leak the application's.
    let mut net = Net::new(19, delay_ms(20));
    let c = net.connect();
    net.run_until(|n| !n.app.accepted.is_empty(), Duration::from_secs(1));
    let s = net.app.accepted[0];
    let now = net.sim.now();
    net.server_ep()
        .connection(s)
        .expect("server")
        .close(now, VarInt::from_u32(9), b"secret");
    net.run_until(
        |n| n.client_removed.contains(&c) && n.app.removed.contains(&s),
        Duration::from_secs(5),
    );
    match closed(&net.client_events) {
        Some(ConnectionError::PeerTransport { code, reason, .. }) => {
            assert_eq!(code, TransportErrorCode::APPLICATION_ERROR);
            assert!(reason.is_empty(), "reason leaked: {reason:?}");
        }
        other => panic!("client saw {other:?}"),
    }
    assert_eq!(
        net.app.closed(),
        Some(&ConnectionError::LocallyClosed(VarInt::from_u32(9)))
    );
}

/// Closes from one side with an application code and reason, and returns what each side
/// reported.
fn close_from(client_closes: bool, code: u32, reason: &[u8]) -> (ConnectionError, ConnectionError) {
    let mut net = Net::new(12, delay_ms(20));
    let (c, s) = connected(&mut net);
    let now = net.sim.now();
    let code = VarInt::from_u32(code);
    if client_closes {
        net.client_ep()
            .connection(c)
            .expect("client")
            .close(now, code, reason);
    } else {
        net.server_ep()
            .connection(s)
            .expect("server")
            .close(now, code, reason);
    }
    net.run_until(
        |n| closed(&n.client_events).is_some() && n.app.closed().is_some(),
        Duration::from_secs(2),
    );
    // Both connections go away within a few PTOs (the closing and draining periods).
    net.run_until(
        |n| n.app.removed.contains(&s) && n.client_ep().connection(c).is_none(),
        Duration::from_secs(5),
    );
    let client = closed(&net.client_events).expect("client closed");
    let server = net.app.closed().expect("server closed").clone();
    (client, server)
}

#[test]
fn client_close_delivers_its_code_and_reason_to_the_server() {
    let (client, server) = close_from(true, 0x42, b"client done");
    assert_eq!(
        client,
        ConnectionError::LocallyClosed(VarInt::from_u32(0x42))
    );
    assert_eq!(
        server,
        ConnectionError::PeerApplication {
            code: VarInt::from_u32(0x42),
            reason: b"client done".to_vec(),
        }
    );
}

#[test]
fn server_close_delivers_its_code_and_reason_to_the_client() {
    let (client, server) = close_from(false, 7, b"server shutting down");
    assert_eq!(server, ConnectionError::LocallyClosed(VarInt::from_u32(7)));
    assert_eq!(
        client,
        ConnectionError::PeerApplication {
            code: VarInt::from_u32(7),
            reason: b"server shutting down".to_vec(),
        }
    );
}

/// The server grants `window` per stream and twice that per connection, never growing
/// them, and its application does not read at first. The client uploads 100 kB on each of
/// `streams` streams. Checks the client stops, stays stopped, and completes once the
/// application reads; returns the bytes the client sent while blocked.
fn blocked_then_unblocked(seed: u64, window: u64, streams: u64) -> u64 {
    let mut server = Config::default();
    server.streams.stream_window = window;
    server.streams.max_stream_window = window;
    server.streams.conn_window = 2 * window;
    server.streams.max_conn_window = 2 * window;
    let mut net = Net::build(seed, delay_ms(20), delay_ms(20), Config::default(), server);
    net.app.paused = true;
    let h = net.connect();
    for i in 0..streams {
        net.upload(h, Arc::new(pattern(100_000, seed + i)));
    }
    net.run_for(Duration::from_secs(2));
    let blocked_bytes = net.sim.link_stats(net.up).sent_bytes;
    let blocked_datagrams = net.sim.link_stats(net.up).sent;
    net.run_for(Duration::from_secs(2));
    // Two more seconds blocked add at most a few small packets (ACKs, BLOCKED frames).
    let more_bytes = net.sim.link_stats(net.up).sent_bytes - blocked_bytes;
    let more = net.sim.link_stats(net.up).sent - blocked_datagrams;
    assert!(more_bytes < 2_000, "{more_bytes} more bytes while blocked");
    assert!(more < 10, "{more} more datagrams while blocked");
    assert_eq!(net.app.complete(), 0);
    // Unblocked: the application reads, the windows move, every upload completes.
    net.app.paused = false;
    net.app.unread.extend(net.app.streams.keys().copied());
    net.run_uploads(Duration::from_secs(20));
    net.assert_uploads_delivered();
    blocked_bytes
}

#[test]
fn stream_flow_control_blocks_the_sender_until_the_receiver_reads_then_unblocks() {
    // One stream: its 16 KiB window binds before the connection's 32 KiB.
    let window = 16 * 1024;
    let sent = blocked_then_unblocked(13, window, 1);
    // The handshake, one stream window of data and framing; nothing like 100 kB.
    assert!(sent >= window, "{sent} bytes sent while blocked");
    assert!(sent < window + 12_000, "{sent} bytes sent while blocked");
}

#[test]
fn connection_flow_control_blocks_the_sender_until_the_receiver_reads_then_unblocks() {
    // Four streams of 16 KiB windows: the connection's 32 KiB binds first.
    let window = 16 * 1024;
    let sent = blocked_then_unblocked(17, window, 4);
    assert!(sent >= 2 * window, "{sent} bytes sent while blocked");
    assert!(
        sent < 2 * window + 12_000,
        "{sent} bytes sent while blocked"
    );
}

/// Uploads 1 MB while both links drop everything for `blackhole` starting at 300 ms.
fn upload_through_blackhole(blackhole: Duration, idle: Duration) -> (Net, Instant) {
    let start = Instant::ZERO + Duration::from_millis(300);
    let link = LinkConfig {
        blackholes: vec![(start, start + blackhole)],
        ..delay_ms(20)
    };
    let mut net = Net::build(14, link.clone(), link, with_idle(idle), with_idle(idle));
    let h = net.connect();
    net.upload(h, Arc::new(pattern(1_000_000, 14)));
    (net, start)
}

#[test]
fn connection_survives_a_blackhole_shorter_than_the_idle_timeout() {
    let (mut net, _) = upload_through_blackhole(Duration::from_secs(3), Duration::from_secs(10));
    net.run_uploads(Duration::from_secs(40));
    net.assert_uploads_delivered();
    assert!(net.sim.link_stats(net.up).dropped_blackhole > 0);
    assert_eq!(closed(&net.client_events), None);
    assert_eq!(net.app.closed(), None);
}

#[test]
fn connection_closes_with_the_idle_timeout_in_a_blackhole_longer_than_it() {
    let idle = Duration::from_secs(4);
    let (mut net, start) = upload_through_blackhole(Duration::from_secs(60), idle);
    let last_delivered = Rc::new(Cell::new(Instant::ZERO));
    let l = Rc::clone(&last_delivered);
    net.sim.on_trace(move |e: &TraceEvent| {
        if e.kind == TraceKind::Delivered {
            l.set(e.time);
        }
    });
    let c = net.uploads[0].0;
    let at = net.run_until(
        |n| n.client_removed.contains(&c) && !n.app.removed.is_empty(),
        Duration::from_secs(20),
    );
    // Neither side sent a close (nothing would get through): both timed out, the idle
    // timer (at least three PTOs, RFC 9000 §10.1) running from the last packet received
    // or first ack-eliciting packet sent after it, around the start of the blackhole.
    assert!(last_delivered.get() <= start + Duration::from_millis(20));
    let after = at.saturating_duration_since(last_delivered.get());
    assert!(after >= idle, "removed {after:?} after the last delivery");
    assert!(
        after <= idle + Duration::from_millis(500),
        "removed {after:?} after the last delivery"
    );
    assert_eq!(net.app.complete(), 0);
}

#[test]
fn transfer_survives_nat_rebinding_and_the_server_sees_the_new_address() {
    let mut net = Net::new(15, delay_ms(20));
    let old_public = addr("198.51.100.7:40000");
    let new_public = addr("198.51.100.7:40001");
    net.sim.nat(net.client_addr, old_public);
    let rebind_at = Instant::ZERO + Duration::from_millis(400);
    net.sim.rebind(net.client_addr, rebind_at, new_public);
    let from_new = Rc::new(Cell::new(0u64));
    let f = Rc::clone(&from_new);
    let server_addr = net.server_addr;
    net.sim.on_trace(move |e: &TraceEvent| {
        if e.kind == TraceKind::Delivered && e.source == new_public && e.destination == server_addr
        {
            f.set(f.get() + e.len as u64);
        }
    });
    let h = net.connect();
    net.upload(h, Arc::new(pattern(2_000_000, 15)));
    let done = net.run_uploads(Duration::from_secs(30));
    assert!(
        done > rebind_at,
        "finished at {done:?}, before the rebinding"
    );
    net.assert_uploads_delivered();
    let s = net.app.accepted[0];
    let remote = net
        .server_ep()
        .connection(s)
        .expect("server")
        .remote_address();
    assert_eq!(remote, Some(new_public));
    // A good part of the upload came from the new address.
    assert!(
        from_new.get() > 300_000,
        "{} bytes from the new address",
        from_new.get()
    );
}

#[test]
fn download_survives_nat_rebinding_and_the_new_address_gets_at_most_3x_until_it_answers() {
    // The server sends 2 MB; the client's NAT rebinds 100 ms into the download, dropping
    // whatever is in flight to the old address. The client, which only acknowledges,
    // would never be heard from again; a 500 ms keep-alive makes it send. Until the
    // client's second datagram from the new address (the earliest that can carry the
    // PATH_RESPONSE) the server may send at most three times what it received from that
    // address (RFC 9000 §9.3, §8).
    let client = Config {
        keep_alive: Some(Duration::from_millis(500)),
        ..Config::default()
    };
    let mut net = Net::build(16, delay_ms(20), delay_ms(20), client, Config::default());
    let old_public = addr("198.51.100.7:40000");
    let new_public = addr("198.51.100.7:40001");
    net.sim.nat(net.client_addr, old_public);
    let h = net.connect();
    net.upload(h, Arc::new(pattern(10, 16)));
    net.run_uploads(Duration::from_secs(5));
    let s = net.app.accepted[0];
    let data = pattern(2_000_000, 17);
    net.download(s, Arc::new(data.clone()));
    let rebind_at = net.sim.now() + Duration::from_millis(100);
    net.sim.rebind(net.client_addr, rebind_at, new_public);
    #[derive(Default)]
    struct Tally {
        from_new: u64,
        datagrams_from_new: u64,
        to_new_before_answer: u64,
        violations: Vec<String>,
    }
    let tally = Rc::new(std::cell::RefCell::new(Tally::default()));
    let t = Rc::clone(&tally);
    net.sim.on_trace(move |e: &TraceEvent| {
        let mut t = t.borrow_mut();
        if e.source == new_public && e.kind == TraceKind::Delivered {
            t.from_new += e.len as u64;
            t.datagrams_from_new += 1;
        }
        if e.destination == new_public && e.kind == TraceKind::Sent && t.datagrams_from_new < 2 {
            t.to_new_before_answer += e.len as u64;
            if t.to_new_before_answer > 3 * t.from_new {
                let v = format!(
                    "{:?}: {} > 3 x {}",
                    e.time, t.to_new_before_answer, t.from_new
                );
                t.violations.push(v);
            }
        }
    });
    let r = net.try_run_until(
        |n| n.client_streams.values().any(|(_, fin)| *fin),
        Duration::from_secs(30),
    );
    let done = r.expect("download completes");
    assert!(done > rebind_at);
    let got = &net.client_streams.values().next().expect("a stream").0;
    assert!(
        got[..] == data[..],
        "download differs ({} bytes)",
        got.len()
    );
    let t = tally.borrow();
    assert!(t.violations.is_empty(), "{:?}", t.violations);
    // The server did send to the new address before it was answered (a PATH_CHALLENGE).
    assert!(t.to_new_before_answer > 0);
    let remote = net
        .server_ep()
        .connection(s)
        .expect("server")
        .remote_address();
    assert_eq!(remote, Some(new_public));
}

#[test]
fn a_restarted_server_resets_the_client_connection_statelessly() {
    // The server derives reset tokens from a key it keeps across a restart (RFC 9000
    // §10.3). After the restart it knows no connection; the client's next packet gets a
    // stateless reset and the client drops the connection within a round trip, instead
    // of waiting for its 30 s idle timeout.
    let mut net = Net::new(20, delay_ms(10));
    let (_, server_tls) = netutil::tls();
    let config = EndpointConfig {
        server_tls: Some(server_tls),
        reset_tokens: Some(Arc::new(HmacResetTokens::new([7; 32]))),
        ..EndpointConfig::default()
    };
    let rng = net.sim.fork_rng();
    *net.server_ep() = netutil::endpoint(config.clone(), rng);
    let c = net.connect();
    net.upload(c, Arc::new(pattern(1000, 20)));
    net.run_uploads(Duration::from_secs(5));
    net.assert_uploads_delivered();
    // Let the handshake's last acknowledgements settle.
    net.run_for(Duration::from_millis(200));
    let rng = net.sim.fork_rng();
    *net.server_ep() = netutil::endpoint(config, rng);
    let restarted = net.sim.now();
    net.upload(c, Arc::new(pattern(1000, 21)));
    let gone = net.run_until(|n| n.client_removed.contains(&c), Duration::from_secs(5));
    let after = gone.saturating_duration_since(restarted);
    assert!(
        after <= Duration::from_millis(40),
        "removed {after:?} after the restart"
    );
    assert_eq!(net.server_ep().connection_count(), 0);
}
