//! Sealed address-validation tokens (RFC 9000 §8.1.1-§8.1.4): Retry and NEW_TOKEN tokens
//! carry everything the server needs, so a second endpoint with the same key (a restart,
//! or a sibling behind a load balancer) accepts them, and they are refused under another
//! key, from another address, after they expire, when replayed, or when tampered with.
#![cfg(feature = "rustls")]

mod util;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use quic_conn::endpoint::{AesGcmTokenKey, ConnectionHandle, Endpoint, EndpointConfig};
use quic_conn::tls::TlsConfig;
use quic_conn::{ConnectionError, DatagramMeta, SansIo};
use quic_wire::{Ecn, Instant, TransportErrorCode};
use util::{client_addr, server_addr, tls_configs};

/// A server endpoint configuration sealing tokens under `secret`.
fn server_cfg(tls: &Arc<dyn TlsConfig>, secret: u8, retry: bool) -> EndpointConfig {
    EndpointConfig {
        server_tls: Some(tls.clone()),
        retry,
        new_tokens: true,
        token_key: Some(Arc::new(AesGcmTokenKey::new(&[secret; 32]))),
        ..EndpointConfig::default()
    }
}

/// A client endpoint and a server endpoint exchanging datagrams without delay or loss;
/// the virtual clock jumps to the next timer when nothing moves.
struct Net {
    client: Endpoint,
    server: Endpoint,
    now: Instant,
    /// Every datagram the server sent, in order.
    server_sent: Vec<Vec<u8>>,
}

impl Net {
    fn new(server: EndpointConfig) -> Net {
        Net {
            client: Endpoint::new(EndpointConfig::default(), util::rng_factory(100)),
            server: Endpoint::new(server, util::rng_factory(200)),
            now: Instant::from_nanos(1_000_000_000),
            server_sent: Vec::new(),
        }
    }

    /// The client's datagrams, with the address each came from.
    fn take_client_datagrams(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut buf = vec![0u8; 1500];
        let mut out = Vec::new();
        while let Some(t) = self.client.poll_transmit(self.now, &mut buf) {
            out.push((t.source.unwrap_or(client_addr()), buf[..t.size].to_vec()));
        }
        out
    }

    fn deliver_to_server(&mut self, d: Vec<(SocketAddr, Vec<u8>)>) {
        for (from, d) in d {
            let meta = DatagramMeta {
                remote: from,
                local: server_addr(),
                ecn: Ecn::NotEct,
            };
            self.server
                .handle_datagram(self.now, meta, BytesMut::from(&d[..]));
        }
    }

    /// The server's datagrams, delivered to the client; returns their total size.
    fn server_to_client(&mut self) -> usize {
        let mut buf = vec![0u8; 1500];
        let mut total = 0;
        while let Some(t) = self.server.poll_transmit(self.now, &mut buf) {
            total += t.size;
            self.server_sent.push(buf[..t.size].to_vec());
            let meta = DatagramMeta {
                remote: server_addr(),
                local: t.destination,
                ecn: Ecn::NotEct,
            };
            self.client
                .handle_datagram(self.now, meta, BytesMut::from(&buf[..t.size]));
        }
        total
    }

    /// What the server sends, pacer timers included, within `horizon` and before anything
    /// more from the client (its first flight): delivered to the client afterwards.
    /// Returns the total size.
    fn server_flight(&mut self, horizon: Duration) -> usize {
        let end = self.now.checked_add(horizon).expect("time");
        let mut buf = vec![0u8; 1500];
        let mut flight = Vec::new();
        loop {
            while let Some(t) = self.server.poll_transmit(self.now, &mut buf) {
                flight.push((t.destination, buf[..t.size].to_vec()));
            }
            match self.server.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.server.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        let total = flight.iter().map(|(_, d)| d.len()).sum();
        for (to, d) in flight {
            self.server_sent.push(d.clone());
            let meta = DatagramMeta {
                remote: server_addr(),
                local: to,
                ecn: Ecn::NotEct,
            };
            self.client
                .handle_datagram(self.now, meta, BytesMut::from(&d[..]));
        }
        total
    }

    /// Runs until quiet (nothing moves and no timer within two seconds).
    fn drive(&mut self) {
        for _ in 0..10_000 {
            let d = self.take_client_datagrams();
            let moved = !d.is_empty();
            self.deliver_to_server(d);
            if moved | (self.server_to_client() > 0) {
                continue;
            }
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= self.now.checked_add(Duration::from_secs(2)).expect("time") => {
                    self.now = self.now.max(t);
                    self.client.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
                }
                _ => return,
            }
        }
        panic!("the exchange did not settle");
    }

    fn connect_from(&mut self, tls: &Arc<dyn TlsConfig>, local: SocketAddr) -> ConnectionHandle {
        self.client
            .connect(self.now, tls.clone(), "localhost", local, server_addr())
            .expect("connect")
    }

    /// Whether the server sent a Retry since `from` (long header, type 3 in v1).
    fn retried_since(&self, from: usize) -> bool {
        self.server_sent[from..].iter().any(|d| d[0] & 0xf0 == 0xf0)
    }

    fn established(&mut self, h: ConnectionHandle) -> bool {
        self.client
            .connection(h)
            .is_some_and(|c| c.is_established())
    }

    /// Advances the clock by `d` (both endpoints see the timers that passed).
    fn wait(&mut self, d: Duration) {
        self.now = self.now.checked_add(d).expect("time");
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
    }
}

fn tls(extra_names: usize) -> (Arc<dyn TlsConfig>, Arc<dyn TlsConfig>) {
    let (c, s) = tls_configs(extra_names);
    (Arc::new(c), Arc::new(s))
}

/// A server TLS configuration with a certificate carrying `extra_names` more names, and
/// `n` client configurations trusting it that share no session cache (so a connection
/// with a fresh one is a full handshake, certificate included, not a resumption).
fn tls_clients(extra_names: usize, n: usize) -> (Arc<dyn TlsConfig>, Vec<Arc<dyn TlsConfig>>) {
    use quic_conn::tls::rustls::RustlsConfig;
    let mut names = vec!["localhost".to_string()];
    for i in 0..extra_names {
        names.push(format!("padding-name-{i:04}.example.invalid"));
    }
    let cert = rcgen::generate_simple_self_signed(names).expect("certificate");
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).expect("root");
    let clients = (0..n)
        .map(|_| -> Arc<dyn TlsConfig> {
            Arc::new(RustlsConfig::client(roots.clone(), &[util::ALPN]).expect("client config"))
        })
        .collect();
    let server = RustlsConfig::server(vec![der], key, &[util::ALPN]).expect("server config");
    (Arc::new(server), clients)
}

/// One connection to `net`'s server; returns the client's handle once it settled.
fn first_connection(net: &mut Net, tls: &Arc<dyn TlsConfig>) -> ConnectionHandle {
    let h = net.connect_from(tls, client_addr());
    net.drive();
    assert!(net.established(h));
    h
}

/// The client endpoint stores the NEW_TOKEN token of its first connection and spends it
/// on its next connection to the same server name: after a restart with the same key, the
/// server accepts it without Retry, and with the address validated sends its whole first
/// flight (a ~9 KB certificate chain) at once, beyond three times what it received.
#[test]
fn a_new_token_survives_a_restart_and_lifts_the_amplification_limit() {
    let (server_tls, clients) = tls_clients(200, 3);
    let [client_tls, fresh_tls, fresh_tls2] = &clients[..] else {
        unreachable!()
    };
    let mut net = Net::new(server_cfg(&server_tls, 1, true));
    first_connection(&mut net, client_tls);
    // Restart: a new endpoint with the same key and no memory. The client connects with
    // a TLS configuration that has no session to resume, so the server sends its
    // certificate chain.
    net.server = Endpoint::new(server_cfg(&server_tls, 1, true), util::rng_factory(300));
    let mark = net.server_sent.len();
    let h = net.connect_from(fresh_tls, client_addr());
    let first = net.take_client_datagrams();
    let received: usize = first.iter().map(|(_, d)| d.len()).sum();
    net.deliver_to_server(first);
    let sent = net.server_flight(Duration::from_millis(200));
    eprintln!("first flight with a NEW_TOKEN token: {sent} bytes for {received} received");
    assert!(
        sent > 3 * received,
        "with a valid token the server is not amplification-limited ({sent} for {received})"
    );
    net.drive();
    assert!(net.established(h));
    assert!(!net.retried_since(mark), "no Retry with a valid token");
    let c = net.client.connection(h).expect("client");
    let tp = c.peer_params().expect("params");
    assert!(tp.retry_source_connection_id.is_none());

    // Without a token the same server stays within three times what it received (RFC
    // 9000 §8.1), and (Retry enabled) asks for a Retry first.
    let mut cfg = server_cfg(&server_tls, 1, false);
    cfg.new_tokens = false;
    let mut plain = Net::new(cfg);
    plain.connect_from(fresh_tls2, client_addr());
    let first = plain.take_client_datagrams();
    let received: usize = first.iter().map(|(_, d)| d.len()).sum();
    plain.deliver_to_server(first);
    let sent = plain.server_flight(Duration::from_millis(200));
    eprintln!("first flight without a token: {sent} bytes for {received} received");
    assert!(sent <= 3 * received, "{sent} for {received}");
}

/// NEW_TOKEN tokens that do not validate count as no token (RFC 9000 §8.1.3): the server
/// sends a Retry, and the connection still succeeds.
fn assert_token_refused(net: &mut Net, tls: &Arc<dyn TlsConfig>, local: SocketAddr, why: &str) {
    let mark = net.server_sent.len();
    let h = net.connect_from(tls, local);
    net.drive();
    assert!(net.retried_since(mark), "{why}: the token counted as none");
    assert!(net.established(h), "{why}: the connection still succeeds");
}

#[test]
fn a_new_token_is_refused_under_another_key() {
    let (client_tls, server_tls) = tls(0);
    let mut net = Net::new(server_cfg(&server_tls, 1, true));
    first_connection(&mut net, &client_tls);
    net.server = Endpoint::new(server_cfg(&server_tls, 2, true), util::rng_factory(300));
    assert_token_refused(&mut net, &client_tls, client_addr(), "another key");
}

#[test]
fn a_new_token_is_refused_from_another_ip_but_not_another_port() {
    let (client_tls, server_tls) = tls(0);
    let mut net = Net::new(server_cfg(&server_tls, 1, true));
    first_connection(&mut net, &client_tls);
    let other_ip: SocketAddr = "10.0.0.99:4433".parse().expect("addr");
    assert_token_refused(&mut net, &client_tls, other_ip, "another IP");
    // The connection from the other IP got a token for that IP; a new port keeps it valid
    // (§8.1.3: NEW_TOKEN tokens do not bind the port).
    let mark = net.server_sent.len();
    let h = net.connect_from(&client_tls, "10.0.0.99:5555".parse().expect("addr"));
    net.drive();
    assert!(net.established(h));
    assert!(
        !net.retried_since(mark),
        "another port keeps the token valid"
    );
}

#[test]
fn a_new_token_expires() {
    let (client_tls, server_tls) = tls(0);
    let mut cfg = server_cfg(&server_tls, 1, true);
    cfg.address_token_lifetime = Duration::from_secs(60);
    let mut net = Net::new(cfg);
    first_connection(&mut net, &client_tls);
    net.wait(Duration::from_secs(61));
    assert_token_refused(&mut net, &client_tls, client_addr(), "expired");
}

/// The token of a NEW_TOKEN frame, taken by hand from the client's first connection.
fn grab_token(net: &mut Net, h: ConnectionHandle) -> bytes::Bytes {
    let c = net.client.connection(h).expect("client");
    let mut token = None;
    while let Some(e) = c.poll_event() {
        if let quic_conn::Event::NewToken(t) = e {
            token = Some(t);
        }
    }
    token.expect("the server sent NEW_TOKEN")
}

#[test]
fn a_new_token_is_accepted_once() {
    let (client_tls, server_tls) = tls(0);
    let mut net = Net::new(server_cfg(&server_tls, 1, true));
    let h = first_connection(&mut net, &client_tls);
    let token = grab_token(&mut net, h);
    // A restarted server with the same key: the replay filter is per endpoint, so both
    // uses go to the same one.
    net.server = Endpoint::new(server_cfg(&server_tls, 1, true), util::rng_factory(300));
    for (attempt, retried) in [(1, false), (2, true)] {
        let mark = net.server_sent.len();
        let h = net.connect_from(&client_tls, client_addr());
        net.client
            .connection(h)
            .expect("client")
            .set_initial_token(&token);
        net.drive();
        assert!(net.established(h));
        assert_eq!(net.retried_since(mark), retried, "use {attempt}");
    }
}

#[test]
fn a_bit_flipped_new_token_counts_as_none() {
    let (client_tls, server_tls) = tls(0);
    let mut net = Net::new(server_cfg(&server_tls, 1, true));
    let h = first_connection(&mut net, &client_tls);
    let token = grab_token(&mut net, h);
    for bit in [0, 8 * 5 + 3, 8 * (token.len() - 1)] {
        let mut t = token.to_vec();
        t[bit / 8] ^= 1 << (bit % 8);
        let mark = net.server_sent.len();
        let h = net.connect_from(&client_tls, client_addr());
        net.client
            .connection(h)
            .expect("client")
            .set_initial_token(&t);
        net.drive();
        assert!(net.retried_since(mark), "bit {bit}");
        assert!(net.established(h), "bit {bit}");
    }
}

/// A Retry exchange where the Retry comes from one server and the Initial carrying its
/// token reaches another with the same key (a load balancer): the second server learns the
/// original Destination Connection ID from the token, and the client checks it in
/// original_destination_connection_id (RFC 9000 §7.3).
#[test]
fn a_retry_token_works_across_servers_and_carries_the_original_dcid() {
    let (client_tls, server_tls) = tls(0);
    let mut net = Net::new(server_cfg(&server_tls, 1, true));
    let h = net.connect_from(&client_tls, client_addr());
    let first = net.take_client_datagrams();
    net.deliver_to_server(first);
    assert_eq!(net.server_to_client(), net.server_sent[0].len());
    assert!(net.retried_since(0), "a Retry");
    assert_eq!(net.server.connection_count(), 0, "no state for the Retry");
    net.server = Endpoint::new(server_cfg(&server_tls, 1, true), util::rng_factory(300));
    net.drive();
    assert!(net.established(h));
    let c = net.client.connection(h).expect("client");
    let tp = c.peer_params().expect("params");
    assert_eq!(
        tp.original_destination_connection_id,
        Some(c.original_dcid())
    );
    assert!(tp.retry_source_connection_id.is_some());
    assert_eq!(net.server.connection_count(), 1);
}

/// The client's state after the server's answer to an Initial carrying `token`.
fn send_retry_token(net: &mut Net, tls: &Arc<dyn TlsConfig>, token: &[u8]) -> ConnectionHandle {
    let h = net.connect_from(tls, client_addr());
    net.client
        .connection(h)
        .expect("client")
        .set_initial_token(token);
    let d = net.take_client_datagrams();
    net.deliver_to_server(d);
    net.server_to_client();
    h
}

fn closed_with_invalid_token(net: &mut Net, h: ConnectionHandle) -> bool {
    let c = net.client.connection(h).expect("client");
    matches!(
        c.error(),
        Some(ConnectionError::PeerTransport { code, .. }) if *code == TransportErrorCode::INVALID_TOKEN
    )
}

/// RFC 9000 §8.1.2: an Initial with a Retry token that does not validate gets an
/// immediate, stateless CONNECTION_CLOSE with INVALID_TOKEN, which the client takes.
#[test]
fn an_invalid_retry_token_closes_with_invalid_token() {
    let (client_tls, server_tls) = tls(0);
    let mut net = Net::new(server_cfg(&server_tls, 1, true));
    // A genuine Retry token, captured from a Retry.
    let h = net.connect_from(&client_tls, client_addr());
    let first = net.take_client_datagrams();
    net.deliver_to_server(first);
    net.server_to_client();
    let retry = net.server_sent.last().expect("retry").clone();
    let cfg = quic_wire::packet::ParseConfig::new(8);
    let token = match quic_wire::packet::Packet::parse(&retry, &cfg) {
        Ok((quic_wire::packet::Packet::Retry(r), _)) => r.header.token.to_vec(),
        other => panic!("not a Retry: {other:?}"),
    };
    assert_eq!(token[0], b'R', "a Retry-kind token");
    net.client
        .connection(h)
        .expect("client")
        .close(net.now, quic_wire::VarInt::from_u32(0), b"");
    // Forged: one bit flipped.
    let mut forged = token.clone();
    forged[20] ^= 4;
    let h = send_retry_token(&mut net, &client_tls, &forged);
    assert!(closed_with_invalid_token(&mut net, h), "forged");
    // Genuine, but the new connection's Initial goes to another connection ID and from
    // another port than the Retry's.
    let h = send_retry_token(&mut net, &client_tls, &token);
    assert!(
        closed_with_invalid_token(&mut net, h),
        "wrong connection ID"
    );
    // Expired: Retry tokens live seconds.
    net.wait(Duration::from_secs(11));
    let h = send_retry_token(&mut net, &client_tls, &token);
    assert!(closed_with_invalid_token(&mut net, h), "expired");
    assert_eq!(
        net.server.connection_count(),
        0,
        "no state for invalid tokens"
    );
}

/// RFC 9000 §8.1.4: a Retry token is accepted once. The client's Initial carrying it,
/// replayed after its connection is gone (within the token's lifetime, from the same
/// address and port, to the same connection ID), is refused with INVALID_TOKEN instead of
/// creating a second connection.
#[test]
fn a_replayed_retry_token_is_refused() {
    let (client_tls, server_tls) = tls(0);
    // The connection IDs of a removed connection stay reserved for a while, and its late
    // Initials are dropped; past that, only the replay filter stands in the way.
    let cfg = EndpointConfig {
        cid_tombstone_lifetime: Duration::from_secs(1),
        ..server_cfg(&server_tls, 1, true)
    };
    let mut net = Net::new(cfg);
    let t0 = net.now;
    let h = net.connect_from(&client_tls, client_addr());
    let first = net.take_client_datagrams();
    net.deliver_to_server(first);
    net.server_to_client();
    assert!(net.retried_since(0));
    // The client's Initial with the Retry token: captured on its way.
    let with_token = net.take_client_datagrams();
    assert!(!with_token.is_empty());
    net.deliver_to_server(with_token.clone());
    net.drive();
    assert!(net.established(h));
    assert_eq!(net.server.connection_count(), 1);
    net.client.connection(h).expect("client").close(
        net.now,
        quic_wire::VarInt::from_u32(0),
        b"bye",
    );
    net.drive();
    assert_eq!(net.server.connection_count(), 0, "the connection is gone");
    assert!(
        net.now.saturating_duration_since(t0) < Duration::from_secs(10),
        "still within the Retry token's lifetime"
    );
    // While the connection's IDs are reserved, the replay is dropped without a word.
    net.deliver_to_server(with_token.clone());
    let mut buf = vec![0u8; 1500];
    assert!(net.server.poll_transmit(net.now, &mut buf).is_none());
    assert_eq!(net.server.connection_count(), 0);
    net.wait(Duration::from_millis(1100));
    assert!(
        net.now.saturating_duration_since(t0) < Duration::from_secs(10),
        "still within the Retry token's lifetime"
    );
    let mark = net.server_sent.len();
    net.deliver_to_server(with_token);
    let reply = net
        .server
        .poll_transmit(net.now, &mut buf)
        .expect("a close");
    assert_eq!(buf[0] & 0xf0, 0xc0, "an Initial packet");
    assert!(
        reply.size < 200,
        "a bare CONNECTION_CLOSE, {} bytes",
        reply.size
    );
    assert_eq!(net.server.connection_count(), 0, "no second connection");
    assert_eq!(net.server_sent.len(), mark);
}
