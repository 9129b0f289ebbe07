//! Shared test helpers: a deterministic RNG, self-signed certificates, and an in-memory
//! client/server pair with a virtual clock that jumps to the earliest deadline and a
//! bounded drive loop.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use quic_conn::conn::{Config, Connection, Event};
use quic_conn::tls::rustls::RustlsConfig;
use quic_conn::tls::TlsConfig;
use quic_conn::{DatagramMeta, SansIo};
use quic_wire::{Ecn, Instant};

/// A small deterministic generator (SplitMix64) standing in for a CSPRNG in tests.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng(seed)
    }
}

impl rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Tests only: the generator is deterministic on purpose.
impl rand_core::CryptoRng for TestRng {}

pub const ALPN: &[u8] = b"test";

/// Client and server TLS configurations with a fresh self-signed certificate for
/// "localhost"; `extra_names` SANs make the certificate (and the server's flight) larger.
pub fn tls_configs(extra_names: usize) -> (RustlsConfig, RustlsConfig) {
    let mut names = vec!["localhost".to_string()];
    for i in 0..extra_names {
        names.push(format!("padding-name-{i:04}.example.invalid"));
    }
    let cert = rcgen::generate_simple_self_signed(names).expect("certificate");
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).expect("root");
    let client = RustlsConfig::client(roots, &[ALPN]).expect("client config");
    let server = RustlsConfig::server(vec![der], key, &[ALPN]).expect("server config");
    (client, server)
}

pub fn client_addr() -> SocketAddr {
    "10.0.0.1:4433".parse().expect("addr")
}

pub fn server_addr() -> SocketAddr {
    "10.0.0.2:443".parse().expect("addr")
}

/// Decides whether to drop a datagram: (towards the server?, bytes) -> drop?
pub type Filter = Box<dyn FnMut(bool, &[u8]) -> bool>;

/// A datagram on the virtual wire.
struct Flight {
    at: Instant,
    to_server: bool,
    ecn: Ecn,
    data: Vec<u8>,
}

/// An in-memory client and server joined by a lossy, delayed link.
pub struct Pair {
    pub client: Connection,
    pub server: Option<Connection>,
    pub now: Instant,
    /// One-way delay.
    pub latency: Duration,
    /// Percentage of datagrams dropped (both directions), from the seeded RNG.
    pub loss_percent: u32,
    /// Extra random delay of each datagram, up to this (reorders datagrams).
    pub jitter: Duration,
    /// Drop every datagram for which this returns true (after `loss_percent`).
    pub filter: Option<Filter>,
    rng: TestRng,
    wire: VecDeque<Flight>,
    server_tls: Arc<dyn TlsConfig>,
    server_config: Config,
    /// Bytes the server sent and received while it had not completed the handshake.
    pub server_sent_unvalidated: u64,
    pub server_received_unvalidated: u64,
    /// The largest ratio sent/received seen before validation, times 1000.
    pub worst_amplification_permille: u64,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    last_activity: Instant,
    seed: u64,
    /// The client's address as the server sees it (change it to simulate NAT rebinding).
    pub client_seen_as: SocketAddr,
    /// Clear the ECN codepoint of every datagram (a bleaching path).
    pub bleach_ecn: bool,
    /// ECN codepoints of the datagrams the client sent.
    pub client_ecn: Vec<Ecn>,
}

impl Pair {
    pub fn new(client_config: Config, server_config: Config) -> Pair {
        Pair::with_tls(client_config, server_config, tls_configs(0))
    }

    pub fn with_tls(
        client_config: Config,
        server_config: Config,
        tls: (impl TlsConfig + 'static, impl TlsConfig + 'static),
    ) -> Pair {
        Pair::seeded(client_config, server_config, tls, 0)
    }

    /// A pair whose RNG seeds (connection IDs, packet-number skips ...) derive from `seed`.
    pub fn seeded(
        client_config: Config,
        server_config: Config,
        (client_tls, server_tls): (impl TlsConfig + 'static, impl TlsConfig + 'static),
        seed: u64,
    ) -> Pair {
        let now = Instant::from_nanos(1_000_000_000);
        let client = Connection::connect(
            client_config,
            Arc::new(client_tls),
            "localhost",
            (client_addr(), server_addr()),
            now,
            Box::new(TestRng::new(1 + 2 * seed)),
        )
        .expect("client connection");
        Pair {
            client,
            server: None,
            now,
            latency: Duration::from_millis(10),
            loss_percent: 0,
            jitter: Duration::ZERO,
            filter: None,
            rng: TestRng::new(99 + seed),
            seed,
            client_seen_as: client_addr(),
            bleach_ecn: false,
            client_ecn: Vec::new(),
            wire: VecDeque::new(),
            server_tls: Arc::new(server_tls),
            server_config,
            server_sent_unvalidated: 0,
            server_received_unvalidated: 0,
            worst_amplification_permille: 0,
            client_events: Vec::new(),
            server_events: Vec::new(),
            last_activity: now,
        }
    }

    pub fn server(&mut self) -> &mut Connection {
        self.server.as_mut().expect("server accepted")
    }

    /// Moves every datagram both sides want to send onto the wire; true if any.
    fn transmit(&mut self) -> bool {
        let mut any = false;
        let mut buf = vec![0u8; 1500];
        // Bounded: each side sends at most this many datagrams per round.
        for _ in 0..1000 {
            let Some(t) = self.client.poll_transmit(self.now, &mut buf) else {
                break;
            };
            any = true;
            self.client_ecn.push(t.ecn);
            self.put_on_wire(true, buf[..t.size].to_vec(), t.ecn);
        }
        let mut out = Vec::new();
        if let Some(server) = self.server.as_mut() {
            for _ in 0..1000 {
                let Some(t) = server.poll_transmit(self.now, &mut buf) else {
                    break;
                };
                out.push((server.is_established(), buf[..t.size].to_vec(), t.ecn));
            }
        }
        for (established, data, ecn) in out {
            any = true;
            if !established {
                self.server_sent_unvalidated += data.len() as u64;
                let ratio =
                    self.server_sent_unvalidated * 1000 / self.server_received_unvalidated.max(1);
                self.worst_amplification_permille = self.worst_amplification_permille.max(ratio);
            }
            self.put_on_wire(false, data, ecn);
        }
        any
    }

    fn put_on_wire(&mut self, to_server: bool, data: Vec<u8>, ecn: Ecn) {
        let ecn = if self.bleach_ecn { Ecn::NotEct } else { ecn };
        use rand_core::RngCore;
        self.last_activity = self.now;
        if self.loss_percent > 0 && self.rng.next_u32() % 100 < self.loss_percent {
            return;
        }
        if let Some(f) = self.filter.as_mut() {
            if f(to_server, &data) {
                return;
            }
        }
        let jitter = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            let nanos = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(self.rng.next_u64() % nanos)
        };
        self.wire.push_back(Flight {
            at: self.now.checked_add(self.latency + jitter).expect("time"),
            to_server,
            ecn,
            data,
        });
    }

    /// Delivers every datagram due now; true if any.
    fn deliver(&mut self) -> bool {
        let mut any = false;
        let mut i = 0;
        while i < self.wire.len() {
            if self.wire[i].at > self.now {
                i += 1;
                continue;
            }
            let f = self.wire.remove(i).expect("index checked");
            any = true;
            self.last_activity = self.now;
            if f.to_server {
                self.deliver_to_server(f.data, f.ecn);
            } else {
                let meta = DatagramMeta {
                    remote: server_addr(),
                    local: client_addr(),
                    ecn: f.ecn,
                };
                self.client
                    .handle_datagram(self.now, meta, BytesMut::from(&f.data[..]));
            }
        }
        any
    }

    fn deliver_to_server(&mut self, data: Vec<u8>, ecn: Ecn) {
        let meta = DatagramMeta {
            remote: self.client_seen_as,
            local: server_addr(),
            ecn,
        };
        if self.server.is_none() {
            match Connection::accept(
                self.server_config,
                self.server_tls.clone(),
                self.now,
                meta,
                &data,
                Box::new(TestRng::new(2 + 2 * self.seed)),
            ) {
                Ok(s) => self.server = Some(s),
                Err(_) => return,
            }
        }
        let server = self.server.as_mut().expect("just set");
        if !server.is_established() {
            self.server_received_unvalidated += data.len() as u64;
        }
        server.handle_datagram(self.now, meta, BytesMut::from(&data[..]));
    }

    fn collect_events(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        if let Some(s) = self.server.as_mut() {
            while let Some(e) = s.poll_event() {
                self.server_events.push(e);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let wire = self.wire.iter().map(|f| f.at).min();
        let c = self.client.poll_timeout();
        let s = self.server.as_ref().and_then(|s| s.poll_timeout());
        [wire, c, s].into_iter().flatten().min()
    }

    /// Runs until nothing is in flight and no deadline falls within `horizon` of the last
    /// activity, or `max_rounds` rounds pass. Returns whether it settled.
    pub fn drive_bounded(&mut self, max_rounds: usize, horizon: Duration) -> bool {
        for _ in 0..max_rounds {
            let sent = self.transmit();
            let delivered = self.deliver();
            self.collect_events();
            if sent || delivered {
                continue;
            }
            let Some(next) = self.next_deadline() else {
                return true;
            };
            let limit = self.last_activity.checked_add(horizon).expect("time");
            if next > limit {
                return true;
            }
            self.now = self.now.max(next);
            if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
                self.client.handle_timeout(self.now);
            }
            if let Some(s) = self.server.as_mut() {
                if s.poll_timeout().is_some_and(|t| t <= self.now) {
                    s.handle_timeout(self.now);
                }
            }
            self.collect_events();
        }
        false
    }

    /// Drives with a 1-second horizon (ACK and PTO timers fire, the idle timeout does
    /// not).
    pub fn drive(&mut self) -> bool {
        self.drive_bounded(100_000, Duration::from_secs(1))
    }

    /// Drives until `done` holds (checked each round) or `max_rounds` pass.
    pub fn drive_until(
        &mut self,
        max_rounds: usize,
        mut done: impl FnMut(&mut Pair) -> bool,
    ) -> bool {
        for _ in 0..max_rounds {
            if done(self) {
                return true;
            }
            if self.drive_bounded(1, Duration::from_secs(5)) {
                // Settled without `done`: let time run a little further.
                if done(self) {
                    return true;
                }
                let Some(next) = self.next_deadline() else {
                    return done(self);
                };
                self.now = self.now.max(next);
                self.client.handle_timeout(self.now);
                if let Some(s) = self.server.as_mut() {
                    s.handle_timeout(self.now);
                }
            }
        }
        done(self)
    }

    pub fn connect(&mut self) {
        let done = self.drive_until(100_000, |p| {
            p.client.is_handshake_confirmed()
                && p.server.as_ref().is_some_and(|s| s.is_established())
        });
        assert!(done, "handshake did not complete");
        // Let the last ACKs settle (bounded by the horizon, not by keep-alives).
        self.drive_bounded(1_000, Duration::from_millis(200));
        assert!(self.client.is_established(), "client not connected");
        assert!(self.server().is_established(), "server not connected");
    }
}

/// Reads everything readable on `id`; returns whether the end of the stream was reached.
pub fn read_all(conn: &mut Connection, id: quic_wire::StreamId, out: &mut Vec<u8>) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    // Bounded by the data buffered in the connection.
    loop {
        match conn.read(id, &mut buf) {
            Ok(r) => {
                out.extend_from_slice(&buf[..r.len]);
                if r.fin {
                    return true;
                }
                if r.len == 0 {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}

/// A test pattern of `len` bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 11) as u8)
        .collect()
}

/// Gives each connection of an endpoint its own deterministic RNG, seeded from `seed`.
pub fn rng_factory(seed: u64) -> quic_conn::endpoint::RngFactory {
    let mut n = seed;
    Box::new(move || {
        n += 1;
        Box::new(TestRng::new(n))
    })
}

/// Two endpoints with a lossless 5 ms link, driven until quiet.
pub fn drive_endpoints(
    client: &mut quic_conn::Endpoint,
    server: &mut quic_conn::Endpoint,
    now: &mut Instant,
) {
    let c_addr = client_addr();
    let s_addr = server_addr();
    let mut buf = vec![0u8; 1500];
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(t) = client.poll_transmit(*now, &mut buf) {
            moved = true;
            let meta = DatagramMeta {
                remote: c_addr,
                local: s_addr,
                ecn: Ecn::NotEct,
            };
            server.handle_datagram(*now, meta, BytesMut::from(&buf[..t.size]));
        }
        while let Some(t) = server.poll_transmit(*now, &mut buf) {
            moved = true;
            let meta = DatagramMeta {
                remote: s_addr,
                local: c_addr,
                ecn: Ecn::NotEct,
            };
            client.handle_datagram(*now, meta, BytesMut::from(&buf[..t.size]));
        }
        if moved {
            continue;
        }
        let next = [client.poll_timeout(), server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= now.checked_add(Duration::from_millis(500)).expect("time") => {
                *now = (*now).max(t);
                client.handle_timeout(*now);
                server.handle_timeout(*now);
            }
            _ => return,
        }
    }
}
