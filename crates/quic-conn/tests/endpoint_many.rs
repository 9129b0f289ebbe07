//! Endpoints with many connections: the deadline heap and the ready-to-send queue
//! (`endpoint/timers.rs`) give the same deadlines as asking every connection, serve every
//! backlogged connection in turn, and fire every connection's timers.

mod util;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use quic_conn::endpoint::{ConnectionHandle, Endpoint, EndpointConfig, EndpointEvent};
use quic_conn::{DatagramMeta, SansIo};
use quic_streams::StreamRef;
use quic_wire::{Dir, Ecn, Instant};
use util::{server_addr, tls_configs};

const CONNECTIONS: u16 = 24;

/// Client `i`'s address: each connection has its own port, so a datagram's source names
/// the connection that sent it.
fn client_addr(i: u16) -> SocketAddr {
    SocketAddr::new("10.0.0.1".parse().expect("ip"), 5000 + i)
}

fn meta(remote: SocketAddr, local: SocketAddr) -> DatagramMeta {
    DatagramMeta {
        remote,
        local,
        ecn: Ecn::NotEct,
    }
}

struct Net {
    client: Endpoint,
    server: Endpoint,
    now: Instant,
    /// (arrival, towards the server, source, destination, bytes)
    wire: Vec<(Instant, bool, SocketAddr, SocketAddr, Vec<u8>)>,
    /// Source port of every datagram the client endpoint sent, in order.
    client_sources: Vec<u16>,
    /// The client's TLS, which trusts the server's certificate.
    client_tls: Arc<dyn quic_conn::tls::TlsConfig>,
}

impl Net {
    /// The earliest deadline of the endpoint's connections, asked of each of them.
    fn earliest_by_scan(ep: &mut Endpoint) -> Option<Instant> {
        let handles: Vec<ConnectionHandle> = ep.handles().collect();
        handles
            .into_iter()
            .filter_map(|h| ep.connection(h).and_then(|c| c.poll_timeout()))
            .min()
    }

    fn transmit(&mut self) -> usize {
        let mut buf = vec![0u8; 1500];
        let at = self
            .now
            .checked_add(Duration::from_millis(5))
            .expect("time");
        let mut n = 0;
        while let Some(t) = self.client.poll_transmit(self.now, &mut buf) {
            let src = t.source.expect("source");
            self.client_sources.push(src.port());
            self.wire
                .push((at, true, src, t.destination, buf[..t.size].to_vec()));
            n += 1;
        }
        while let Some(t) = self.server.poll_transmit(self.now, &mut buf) {
            let src = t.source.expect("source");
            self.wire
                .push((at, false, src, t.destination, buf[..t.size].to_vec()));
            n += 1;
        }
        n
    }

    fn deliver(&mut self) -> usize {
        let now = self.now;
        let (due, rest): (Vec<_>, Vec<_>) = self.wire.drain(..).partition(|f| f.0 <= now);
        self.wire = rest;
        for (_, to_server, src, dst, data) in &due {
            let ep = if *to_server {
                &mut self.server
            } else {
                &mut self.client
            };
            ep.handle_datagram(now, meta(*src, *dst), BytesMut::from(&data[..]));
        }
        due.len()
    }

    /// Runs until nothing is left to do before `until`, checking at every timer step that
    /// each endpoint's `poll_timeout` is the earliest deadline of its connections.
    fn drive_until(&mut self, until: Instant) {
        for _ in 0..200_000 {
            if self.transmit() + self.deliver() > 0 {
                continue;
            }
            let client_next = self.client.poll_timeout();
            let server_next = self.server.poll_timeout();
            assert_eq!(client_next, Self::earliest_by_scan(&mut self.client));
            assert_eq!(server_next, Self::earliest_by_scan(&mut self.server));
            let next = [
                self.wire.iter().map(|f| f.0).min(),
                client_next,
                server_next,
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|&t| t <= until) else {
                return;
            };
            self.now = self.now.max(next);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
        }
        panic!("no quiescence");
    }
}

/// One client connection from each client address, started now.
fn connect_all(net: &mut Net) -> Vec<ConnectionHandle> {
    let now = net.now;
    (0..CONNECTIONS)
        .map(|i| {
            net.client
                .connect(
                    now,
                    net.client_tls.clone(),
                    "localhost",
                    client_addr(i),
                    server_addr(),
                )
                .expect("connect")
        })
        .collect()
}

fn setup() -> (Net, Vec<ConnectionHandle>) {
    let (client_tls, server_tls) = tls_configs(0);
    let client_tls: Arc<dyn quic_conn::tls::TlsConfig> = Arc::new(client_tls);
    let mut connection = EndpointConfig::default().connection;
    connection.idle_timeout = Some(Duration::from_secs(3));
    let server_cfg = EndpointConfig {
        connection,
        server_tls: Some(Arc::new(server_tls)),
        max_handshakes: usize::from(CONNECTIONS),
        ..EndpointConfig::default()
    };
    let client_cfg = EndpointConfig {
        connection,
        ..EndpointConfig::default()
    };
    let mut net = Net {
        // Seeds far apart: no connection of one end shares a generator with the other.
        client: Endpoint::new(client_cfg, util::rng_factory(1_000)),
        server: Endpoint::new(server_cfg, util::rng_factory(1_000_000)),
        now: Instant::from_nanos(1_000_000_000),
        wire: Vec::new(),
        client_sources: Vec::new(),
        client_tls,
    };
    let now = net.now;
    let handles = connect_all(&mut net);
    let until = now.checked_add(Duration::from_millis(500)).expect("time");
    net.drive_until(until);
    (net, handles)
}

#[test]
fn many_connections_handshake_with_exact_deadlines() {
    let (mut net, handles) = setup();
    for &h in &handles {
        assert!(net.client.connection(h).expect("client").is_established());
    }
    let mut accepted = 0;
    while let Some(e) = net.server.poll_event() {
        if matches!(e, EndpointEvent::Accepted(_)) {
            accepted += 1;
        }
    }
    assert_eq!(accepted, usize::from(CONNECTIONS));
}

#[test]
fn backlogged_connections_transmit_in_turn() {
    let (mut net, handles) = setup();
    // Every connection gets much more data than one flight can carry.
    let data = vec![7u8; 200_000];
    for &h in &handles {
        let c = net.client.connection(h).expect("client");
        let id = match c.open(Dir::Uni).expect("open") {
            StreamRef::Id(id) => id,
            other => panic!("{other:?}"),
        };
        assert_eq!(c.write(id, &data).expect("write"), data.len());
    }
    net.client_sources.clear();
    let now = net.now;
    let mut buf = vec![0u8; 1500];
    // Round robin: while all of them have data and window, each sends one datagram per
    // round, in the same order every round.
    let rounds = 5;
    let mut sent = Vec::new();
    for _ in 0..rounds * usize::from(CONNECTIONS) {
        let t = net.client.poll_transmit(now, &mut buf).expect("backlogged");
        sent.push(t.source.expect("source").port());
    }
    let first_round = &sent[..usize::from(CONNECTIONS)];
    let distinct: HashSet<u16> = first_round.iter().copied().collect();
    assert_eq!(distinct.len(), usize::from(CONNECTIONS), "{first_round:?}");
    for round in sent.chunks(usize::from(CONNECTIONS)) {
        assert_eq!(
            round, first_round,
            "every round serves every connection once"
        );
    }
}

#[test]
fn idle_timers_of_every_connection_fire() {
    let (mut net, handles) = setup();
    // Nothing happens for longer than the idle timeout: every connection on both ends
    // times out, found through the deadline heap alone.
    // Each connection's routes: its IDs on both ends, and the original DCID on the server.
    assert!(net.client.route_count() >= usize::from(CONNECTIONS));
    assert!(net.server.route_count() >= 2 * usize::from(CONNECTIONS));
    let until = net.now.checked_add(Duration::from_secs(10)).expect("time");
    net.drive_until(until);
    assert_eq!(net.client.connection_count(), 0);
    assert_eq!(net.server.connection_count(), 0);
    // Removing a connection took every route to it, and nothing else was left behind.
    assert_eq!(net.client.route_count(), 0);
    assert_eq!(net.server.route_count(), 0);
    let mut removed: HashMap<ConnectionHandle, usize> = HashMap::new();
    while let Some(e) = net.client.poll_event() {
        if let EndpointEvent::Removed(h) = e {
            *removed.entry(h).or_default() += 1;
        }
    }
    for h in handles {
        assert_eq!(removed.get(&h), Some(&1), "{h:?} removed once");
    }
    assert_eq!(net.client.poll_timeout(), None);
    assert_eq!(net.server.poll_timeout(), None);
}

/// Every connection event the endpoint gives, by connection.
fn connection_events(ep: &mut Endpoint) -> HashMap<ConnectionHandle, Vec<quic_conn::Event>> {
    let mut by = HashMap::<ConnectionHandle, Vec<quic_conn::Event>>::new();
    while let Some((h, e)) = ep.poll_connection_event() {
        by.entry(h).or_default().push(e);
    }
    by
}

#[test]
fn connection_events_come_from_the_connections_that_have_them() {
    let (mut net, handles) = setup();
    // The handshakes' events, each under its own connection.
    let first = connection_events(&mut net.client);
    for h in &handles {
        let events = first.get(h).expect("handshake events");
        assert!(events.contains(&quic_conn::Event::Connected), "{events:?}");
    }
    assert!(connection_events(&mut net.client).is_empty(), "drained");
    // The server writes to three of the clients only: their stream events, and nothing
    // from the others.
    let writers: Vec<ConnectionHandle> = net.server.handles().take(3).collect();
    for &s in &writers {
        let c = net.server.connection(s).expect("server");
        let id = match c.open(Dir::Uni).expect("open") {
            StreamRef::Id(id) => id,
            other => panic!("{other:?}"),
        };
        c.write(id, b"hello").expect("write");
    }
    // Server connection events were drained by nobody: the writes made none.
    let until = net
        .now
        .checked_add(Duration::from_millis(100))
        .expect("time");
    net.drive_until(until);
    let second = connection_events(&mut net.client);
    assert_eq!(second.len(), writers.len(), "{second:?}");
    for events in second.values() {
        assert!(
            events
                .iter()
                .any(|e| matches!(e, quic_conn::Event::Stream(_))),
            "{events:?}"
        );
    }
}

#[test]
fn handles_of_removed_connections_stay_dead_when_slots_are_reused() {
    let (mut net, old) = setup();
    let until = net.now.checked_add(Duration::from_secs(10)).expect("time");
    net.drive_until(until);
    assert_eq!(net.client.connection_count(), 0);
    // The removed connections' last events are still given, under their handles.
    let last = connection_events(&mut net.client);
    for h in &old {
        let events = last.get(h).expect("final events");
        assert_eq!(
            events.last(),
            Some(&quic_conn::Event::Drained),
            "{events:?}"
        );
    }
    // New connections take the freed slots under new handles; the old handles find none
    // of them.
    let new = connect_all(&mut net);
    let all: HashSet<ConnectionHandle> = old.iter().chain(&new).copied().collect();
    assert_eq!(
        all.len(),
        2 * usize::from(CONNECTIONS),
        "no handle made twice"
    );
    for &h in &old {
        assert!(net.client.connection(h).is_none(), "{h:?} is gone");
    }
    for &h in &new {
        assert!(net.client.connection(h).is_some(), "{h:?} exists");
    }
    // Handles are listed in the order their connections were made.
    assert_eq!(net.client.handles().collect::<Vec<_>>(), new);
    let until = net
        .now
        .checked_add(Duration::from_millis(500))
        .expect("time");
    net.drive_until(until);
    for &h in &new {
        assert!(net.client.connection(h).expect("client").is_established());
    }
}
