//! Shared helpers of the `net_*` suite: a client and a server [`Endpoint`] in the
//! simulator, joined by a duplex link, driven through the public sans-IO API only, with a
//! small application on each side (the client uploads on streams, the server reads them).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use quic_conn::conn::{Config, ConnectionError, Event};
use quic_conn::endpoint::{ConnectionHandle, Endpoint, EndpointConfig, EndpointEvent};
use quic_conn::sim::{HostId, LinkConfig, LinkId, Sim, SimRng};
use quic_conn::tls::rustls::RustlsConfig;
use quic_conn::tls::TlsConfig;
use quic_streams::{StreamEvent, StreamRef};
use quic_wire::{Dir, Instant, StreamId};

pub const ALPN: &[u8] = b"net";

/// Client and server TLS configurations for "localhost", made once per test binary (an
/// Ed25519 certificate: its signatures have a fixed length, so datagram sizes do not
/// depend on the signer's randomness).
pub fn tls() -> (Arc<dyn TlsConfig>, Arc<dyn TlsConfig>) {
    static TLS: OnceLock<(RustlsConfig, RustlsConfig)> = OnceLock::new();
    let (c, s) = TLS.get_or_init(|| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        let cert = params.self_signed(&key).expect("certificate");
        let der = cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der.clone()).expect("root");
        let client = RustlsConfig::client(roots, &[ALPN]).expect("client config");
        let server = RustlsConfig::server(vec![der], key, &[ALPN]).expect("server config");
        (client, server)
    });
    (Arc::new(c.clone()), Arc::new(s.clone()))
}

/// TLS configurations whose certificate carries `extra_names` more SANs, so the server's
/// first flight spans several datagrams (a fresh ECDSA certificate each call).
pub fn tls_with_big_cert(extra_names: usize) -> (Arc<dyn TlsConfig>, Arc<dyn TlsConfig>) {
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
    (Arc::new(client), Arc::new(server))
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

pub const CLIENT: &str = "10.0.0.1:50000";
pub const SERVER: &str = "192.0.2.1:443";

/// An endpoint whose connections draw from generators forked off `rng`.
pub fn endpoint(config: EndpointConfig, mut rng: SimRng) -> Endpoint {
    Endpoint::new(config, Box::new(move || Box::new(rng.fork())))
}

/// The deterministic payload of `len` bytes, different for each `salt`.
pub fn pattern(len: usize, salt: u64) -> Vec<u8> {
    let mut x = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A stream the client is uploading.
#[derive(Debug)]
pub struct Upload {
    pub stream: StreamRef,
    pub data: Arc<Vec<u8>>,
    pub written: usize,
    pub finished: bool,
}

/// What the server application saw.
#[derive(Debug, Default)]
pub struct ServerApp {
    /// Bytes read per (connection, stream), and whether the FIN was read.
    pub streams: Received,
    /// Every connection event, in order.
    pub events: Vec<(ConnectionHandle, Event)>,
    pub accepted: Vec<ConnectionHandle>,
    pub removed: Vec<ConnectionHandle>,
    /// While set, the application reads nothing (its receive windows fill up).
    pub paused: bool,
    /// Finish our half of each bidirectional stream once its FIN was read (so the
    /// stream closes and the peer gets its stream credit back).
    pub finish_bidi: bool,
    /// Streams that signalled data not read yet.
    pub unread: std::collections::BTreeSet<(ConnectionHandle, StreamId)>,
}

impl ServerApp {
    /// Streams whose every byte and FIN were read.
    pub fn complete(&self) -> usize {
        self.streams.values().filter(|(_, fin)| *fin).count()
    }

    pub fn closed(&self) -> Option<&ConnectionError> {
        self.events.iter().find_map(|(_, e)| match e {
            Event::Closed(err) => Some(err),
            _ => None,
        })
    }
}

/// Client and server endpoints on one duplex link.
pub struct Net {
    pub sim: Sim,
    pub client: HostId,
    pub server: HostId,
    pub client_addr: SocketAddr,
    pub server_addr: SocketAddr,
    /// Client to server.
    pub up: LinkId,
    /// Server to client.
    pub down: LinkId,
    pub client_tls: Arc<dyn TlsConfig>,
    pub uploads: Vec<(ConnectionHandle, Upload)>,
    pub app: ServerApp,
    pub client_events: Vec<(ConnectionHandle, Event)>,
    /// What the client read, per (connection, stream).
    pub client_streams: Received,
    client_unread: std::collections::BTreeSet<(ConnectionHandle, StreamId)>,
    /// Server streams sending to the client.
    pub downloads: Vec<(ConnectionHandle, Upload)>,
    download_cursor: usize,
    /// Client connections the endpoint removed.
    pub client_removed: Vec<ConnectionHandle>,
    /// Pump the applications once per this much virtual time instead of after every
    /// simulator step (cheaper with many connections; coarser reactions).
    pub slice: Option<Duration>,
    /// Uploads before this index are finished.
    cursor: usize,
    buf: Vec<u8>,
}

impl Net {
    /// Default connection settings, the same link both ways.
    pub fn new(seed: u64, link: LinkConfig) -> Net {
        Net::build(
            seed,
            link.clone(),
            link,
            Config::default(),
            Config::default(),
        )
    }

    pub fn build(
        seed: u64,
        up: LinkConfig,
        down: LinkConfig,
        client_config: Config,
        server_config: Config,
    ) -> Net {
        Net::build_with_tls(seed, up, down, client_config, server_config, tls())
    }

    pub fn build_with_tls(
        seed: u64,
        up: LinkConfig,
        down: LinkConfig,
        client_config: Config,
        server_config: Config,
        tls: (Arc<dyn TlsConfig>, Arc<dyn TlsConfig>),
    ) -> Net {
        Net::build_at(
            seed,
            (addr(CLIENT), addr(SERVER)),
            (up, down),
            (client_config, server_config),
            tls,
        )
    }

    /// [`Net::build_with_tls`] with the client and server at the given addresses (IPv6
    /// ones, for example).
    pub fn build_at(
        seed: u64,
        (client_addr, server_addr): (SocketAddr, SocketAddr),
        (up, down): (LinkConfig, LinkConfig),
        (client_config, server_config): (Config, Config),
        (client_tls, server_tls): (Arc<dyn TlsConfig>, Arc<dyn TlsConfig>),
    ) -> Net {
        let client = EndpointConfig {
            connection: client_config,
            ..EndpointConfig::default()
        };
        let server = EndpointConfig {
            connection: server_config,
            server_tls: Some(server_tls),
            max_handshakes: 2000,
            max_stateless_per_second: 100_000,
            ..EndpointConfig::default()
        };
        Net::build_endpoints_at(
            seed,
            (client_addr, server_addr),
            (up, down),
            (client, server),
            client_tls,
        )
    }

    /// Endpoints with the given settings (the server's must carry its TLS).
    pub fn build_with_endpoints(
        seed: u64,
        up: LinkConfig,
        down: LinkConfig,
        client_config: EndpointConfig,
        server_config: EndpointConfig,
        client_tls: Arc<dyn TlsConfig>,
    ) -> Net {
        Net::build_endpoints_at(
            seed,
            (addr(CLIENT), addr(SERVER)),
            (up, down),
            (client_config, server_config),
            client_tls,
        )
    }

    /// [`Net::build_with_endpoints`] with the client and server at the given addresses.
    pub fn build_endpoints_at(
        seed: u64,
        (client_addr, server_addr): (SocketAddr, SocketAddr),
        (up, down): (LinkConfig, LinkConfig),
        (client_config, server_config): (EndpointConfig, EndpointConfig),
        client_tls: Arc<dyn TlsConfig>,
    ) -> Net {
        let mut sim = Sim::new(seed);
        let client_rng = sim.fork_rng();
        let server_rng = sim.fork_rng();
        let client = sim.add_host(endpoint(client_config, client_rng), &[client_addr]);
        let server = sim.add_host(endpoint(server_config, server_rng), &[server_addr]);
        let up = sim.link(client_addr, server_addr, up);
        let down = sim.link(server_addr, client_addr, down);
        Net {
            sim,
            client,
            server,
            client_addr,
            server_addr,
            up,
            down,
            client_tls,
            uploads: Vec::new(),
            app: ServerApp::default(),
            client_events: Vec::new(),
            client_removed: Vec::new(),
            client_streams: BTreeMap::new(),
            client_unread: Default::default(),
            downloads: Vec::new(),
            download_cursor: 0,
            slice: None,
            cursor: 0,
            buf: vec![0; 64 * 1024],
        }
    }

    pub fn client_ep(&mut self) -> &mut Endpoint {
        self.sim.node_mut::<Endpoint>(self.client)
    }

    pub fn server_ep(&mut self) -> &mut Endpoint {
        self.sim.node_mut::<Endpoint>(self.server)
    }

    /// Starts a client connection to the server.
    pub fn connect(&mut self) -> ConnectionHandle {
        let now = self.sim.now();
        let (tls, local, remote) = (self.client_tls.clone(), self.client_addr, self.server_addr);
        self.client_ep()
            .connect(now, tls, "localhost", local, remote)
            .expect("connect")
    }

    /// Opens a bidirectional client stream on `h` that will carry `data` and a FIN.
    pub fn upload(&mut self, h: ConnectionHandle, data: Arc<Vec<u8>>) {
        self.upload_on(h, Dir::Bi, data);
    }

    /// Opens a client stream of direction `dir` on `h` that will carry `data` and a FIN.
    pub fn upload_on(&mut self, h: ConnectionHandle, dir: Dir, data: Arc<Vec<u8>>) {
        let stream = self
            .client_ep()
            .connection(h)
            .expect("client connection")
            .open(dir)
            .expect("open");
        self.uploads.push((
            h,
            Upload {
                stream,
                data,
                written: 0,
                finished: false,
            },
        ));
    }

    /// One round of both applications: each side writes what flow control takes on its
    /// uploads, the server accepts and reads everything readable (unless paused), the
    /// client reads what the server sends; events are recorded.
    pub fn pump(&mut self) {
        let sim = &mut self.sim;
        let client = sim.node_mut::<Endpoint>(self.client);
        while let Some((h, e)) = client.poll_connection_event() {
            if let Event::Stream(StreamEvent::Opened { id } | StreamEvent::Readable { id }) = &e {
                self.client_unread.insert((h, *id));
            }
            self.client_events.push((h, e));
        }
        while let Some(e) = client.poll_event() {
            if let EndpointEvent::Removed(h) = e {
                self.client_removed.push(h);
            }
        }
        write_uploads(client, &mut self.uploads, &mut self.cursor);
        read_streams(
            client,
            &mut self.client_unread,
            &mut self.client_streams,
            &mut self.buf,
            false,
        );
        let server = sim.node_mut::<Endpoint>(self.server);
        while let Some(e) = server.poll_event() {
            match e {
                EndpointEvent::Accepted(h) => self.app.accepted.push(h),
                EndpointEvent::Removed(h) => self.app.removed.push(h),
                _ => {}
            }
        }
        while let Some((h, e)) = server.poll_connection_event() {
            if let Event::Stream(StreamEvent::Opened { id } | StreamEvent::Readable { id }) = &e {
                self.app.streams.entry((h, *id)).or_default();
                self.app.unread.insert((h, *id));
            }
            self.app.events.push((h, e));
        }
        write_uploads(server, &mut self.downloads, &mut self.download_cursor);
        if !self.app.paused {
            read_streams(
                server,
                &mut self.app.unread,
                &mut self.app.streams,
                &mut self.buf,
                self.app.finish_bidi,
            );
        }
    }

    /// The server opens a unidirectional stream on its connection `h` that will carry
    /// `data` and a FIN to the client.
    pub fn download(&mut self, h: ConnectionHandle, data: Arc<Vec<u8>>) {
        let stream = self
            .server_ep()
            .connection(h)
            .expect("server connection")
            .open(Dir::Uni)
            .expect("open");
        self.downloads.push((
            h,
            Upload {
                stream,
                data,
                written: 0,
                finished: false,
            },
        ));
    }

    /// Runs (pumping the applications before every step) until `done` holds, within
    /// `limit` of virtual time. Returns when it held.
    pub fn run_until(
        &mut self,
        mut done: impl FnMut(&mut Net) -> bool,
        limit: Duration,
    ) -> Instant {
        self.try_run_until(&mut done, limit)
            .unwrap_or_else(|e| panic!("run_until: {e:?}"))
    }

    /// As [`Net::run_until`], returning the simulator's error instead of panicking.
    pub fn try_run_until(
        &mut self,
        mut done: impl FnMut(&mut Net) -> bool,
        limit: Duration,
    ) -> Result<Instant, quic_conn::sim::RunError> {
        // The simulator's predicate only sees the Sim; the applications live in `Net`,
        // so step in slices and pump between them.
        let deadline = self.sim.now() + limit;
        loop {
            self.pump();
            if done(self) {
                return Ok(self.sim.now());
            }
            let now = self.sim.now();
            if now >= deadline {
                return Err(quic_conn::sim::RunError::TimedOut { at: now });
            }
            // One step: run until anything happens (the first predicate check after a
            // step returns true).
            let mut first = true;
            let rest = deadline.saturating_duration_since(now);
            let step = match self.slice {
                Some(slice) => self.sim.run_until(|_| false, slice.min(rest)),
                None => self
                    .sim
                    .run_until(|_| !std::mem::replace(&mut first, false), rest),
            };
            match step {
                // Nothing more happens before the deadline: the clock is there now.
                Ok(_) | Err(quic_conn::sim::RunError::TimedOut { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `duration` of virtual time (pumping the applications); the clock ends at
    /// `now + duration`.
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.sim.now() + duration;
        match self.try_run_until(|_| false, duration) {
            Err(quic_conn::sim::RunError::TimedOut { .. }) => {}
            Err(quic_conn::sim::RunError::Stalled { .. }) => {
                let rest = end.saturating_duration_since(self.sim.now());
                self.sim.run_for(rest).expect("run_for");
                self.pump();
            }
            other => panic!("run_for: {other:?}"),
        }
    }

    /// Byte-exact check of every upload against what the server read.
    pub fn assert_uploads_delivered(&self) {
        assert!(!self.uploads.is_empty());
        for (h, up) in &self.uploads {
            assert!(up.finished, "upload on {h:?} not finished");
        }
        let got: Vec<&(Vec<u8>, bool)> = self.app.streams.values().collect();
        assert_eq!(got.len(), self.uploads.len(), "streams seen by the server");
        for ((_, up), (data, fin)) in self.uploads.iter().zip(got) {
            assert!(*fin, "FIN not read");
            assert_eq!(data.len(), up.data.len(), "length");
            assert!(data[..] == up.data[..], "payload differs");
        }
    }

    /// Runs until every upload's bytes and FIN were read by the server.
    pub fn run_uploads(&mut self, limit: Duration) -> Instant {
        let n = self.uploads.len();
        self.run_until(|net| net.app.complete() == n, limit)
    }
}

/// Writes what flow control takes on each unfinished upload, and the FIN after the last
/// byte. Uploads before `cursor` are finished.
fn write_uploads(
    ep: &mut Endpoint,
    uploads: &mut [(ConnectionHandle, Upload)],
    cursor: &mut usize,
) {
    while uploads.get(*cursor).is_some_and(|(_, u)| u.finished) {
        *cursor += 1;
    }
    for (h, up) in &mut uploads[*cursor..] {
        if up.finished {
            continue;
        }
        let Some(conn) = ep.connection(*h) else {
            continue;
        };
        while up.written < up.data.len() {
            match conn.write(up.stream, &up.data[up.written..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => up.written += n,
            }
        }
        if up.written == up.data.len() && conn.finish(up.stream).is_ok() {
            up.finished = true;
        }
    }
}

/// Bytes read per (connection, stream), and whether the FIN was read.
pub type Received = BTreeMap<(ConnectionHandle, StreamId), (Vec<u8>, bool)>;

/// Reads everything readable on the streams in `unread` into `streams`; with
/// `finish_bidi`, finishes our half of a bidirectional stream once its FIN was read.
fn read_streams(
    ep: &mut Endpoint,
    unread: &mut std::collections::BTreeSet<(ConnectionHandle, StreamId)>,
    streams: &mut Received,
    buf: &mut [u8],
    finish_bidi: bool,
) {
    for (h, id) in std::mem::take(unread) {
        let Some(conn) = ep.connection(h) else {
            continue;
        };
        let entry = streams.entry((h, id)).or_default();
        while let Ok(r) = conn.read(id, buf) {
            entry.0.extend_from_slice(&buf[..r.len]);
            if r.fin && !entry.1 {
                entry.1 = true;
                if finish_bidi && id.dir() == Dir::Bi {
                    let _ = conn.finish(id);
                }
            }
            if r.fin || r.len == 0 {
                break;
            }
        }
    }
}

/// A link with `delay` one way and otherwise ideal.
pub fn delay_ms(ms: u64) -> LinkConfig {
    LinkConfig::with_delay(Duration::from_millis(ms))
}
