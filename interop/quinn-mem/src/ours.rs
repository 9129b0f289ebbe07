//! This project's stack (quic-conn's `Endpoint` and `Connection`, rustls on ring) as the
//! client or the server of a cell, with its hq-interop application on the `Connection`
//! stream API.
//!
//! Time: our `quic_wire::Instant` is nanoseconds from an origin we choose; virtual time
//! zero is put one second after it, so no deadline is ever computed below zero.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use quic_conn::tls::rustls::RustlsConfig;
use quic_conn::tls::{KeyChange, Keys, Level, PacketKeyPair, Session, TlsConfig, TlsError};
use quic_conn::{
    Connection, ConnectionHandle, DatagramMeta, Endpoint, EndpointConfig, EndpointEvent, Event,
    SansIo,
};
use quic_streams::{PendingId, StreamEvent, StreamRef};
use quic_wire::crypto::Suite;
use quic_wire::{ConnectionId, Dir, Side, StreamId, VarInt, Version};

use crate::net::{Datagram, Host};
use crate::run::{self, Job, Notes};
use crate::{addr, SERVER_NAME};

/// Where virtual time zero sits on our clock.
const ORIGIN: Duration = Duration::from_secs(1);
/// Room for one datagram: the link carries at most 1472 bytes.
const BUF: usize = 1500;
/// Application error code of a refused hq-interop request (H3_REQUEST_REJECTED's value).
const REJECTED: VarInt = VarInt::from_u32(0x10b);

/// Virtual time on our clock.
fn ours(now: Duration) -> quic_wire::Instant {
    let t = now + ORIGIN;
    quic_wire::Instant::from_nanos(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
}

/// Our clock as virtual time.
fn virt(t: quic_wire::Instant) -> Duration {
    Duration::from_nanos(t.as_nanos()).saturating_sub(ORIGIN)
}

/// A seeded RNG for an endpoint's connections: HMAC-SHA256 of a counter under a fixed key
/// (a deterministic generator, fine for a test harness whose runs should repeat).
struct HmacRng {
    key: ring::hmac::Key,
    counter: u64,
}

impl rand_core::RngCore for HmacRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            self.counter += 1;
            let tag = ring::hmac::sign(&self.key, &self.counter.to_le_bytes());
            chunk.copy_from_slice(&tag.as_ref()[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for HmacRng {}

/// Each connection gets its own generator, keyed by `seed` and its number.
fn rng_factory(seed: u8) -> quic_conn::endpoint::RngFactory {
    let mut n = 0u64;
    Box::new(move || {
        n += 1;
        let mut key = [seed; 32];
        key[..8].copy_from_slice(&n.to_le_bytes());
        Box::new(HmacRng {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            counter: 0,
        })
    })
}

/// Our TLS configuration, recording the suite of every set of 1-RTT keys it hands out (the
/// chacha20 case checks what our stack really encrypts with).
struct Recording {
    inner: RustlsConfig,
    suites: Arc<Mutex<Vec<Suite>>>,
}

impl TlsConfig for Recording {
    fn start_session(
        &self,
        side: Side,
        version: Version,
        params: &[u8],
        server_name: Option<&str>,
    ) -> Result<Box<dyn Session>, TlsError> {
        let inner = self
            .inner
            .start_session(side, version, params, server_name)?;
        Ok(Box::new(RecordingSession {
            inner,
            suites: self.suites.clone(),
        }))
    }

    fn initial_keys(
        &self,
        version: Version,
        dcid: &ConnectionId,
        side: Side,
    ) -> Result<Keys, TlsError> {
        self.inner.initial_keys(version, dcid, side)
    }

    fn retry_integrity_tag(
        &self,
        version: Version,
        original_dcid: &ConnectionId,
        retry_without_tag: &[u8],
    ) -> Result<[u8; 16], TlsError> {
        self.inner
            .retry_integrity_tag(version, original_dcid, retry_without_tag)
    }
}

/// A session that passes everything through and notes the 1-RTT suite.
struct RecordingSession {
    inner: Box<dyn Session>,
    suites: Arc<Mutex<Vec<Suite>>>,
}

impl Session for RecordingSession {
    fn is_handshaking(&self) -> bool {
        self.inner.is_handshaking()
    }

    fn read_handshake(&mut self, level: Level, data: &[u8]) -> Result<(), TlsError> {
        self.inner.read_handshake(level, data)
    }

    fn write_handshake(&mut self, out: &mut Vec<u8>) -> Option<KeyChange> {
        let change = self.inner.write_handshake(out);
        if let Some(KeyChange::OneRtt(keys)) = &change {
            if let Ok(mut s) = self.suites.lock() {
                s.push(keys.local.packet.suite());
            }
        }
        change
    }

    fn peer_transport_parameters(&self) -> Option<&[u8]> {
        self.inner.peer_transport_parameters()
    }

    fn alpn(&self) -> Option<&[u8]> {
        self.inner.alpn()
    }

    fn zero_rtt_keys(&self) -> Option<quic_conn::tls::DirectionalKeys> {
        self.inner.zero_rtt_keys()
    }

    fn is_early_data_accepted(&self) -> bool {
        self.inner.is_early_data_accepted()
    }

    fn is_resumed(&self) -> bool {
        self.inner.is_resumed()
    }

    fn next_one_rtt_keys(&mut self) -> Option<PacketKeyPair> {
        self.inner.next_one_rtt_keys()
    }

    fn release(&mut self) -> Option<Box<dyn Session>> {
        let inner = self.inner.release()?;
        Some(Box::new(RecordingSession {
            inner,
            suites: self.suites.clone(),
        }))
    }

    fn switch_version(&mut self, version: Version) -> Result<(), TlsError> {
        self.inner.switch_version(version)
    }
}

/// An endpoint on one local address, with the datagram plumbing both roles share.
struct End {
    ep: Endpoint,
    local: SocketAddr,
    /// A server's second address: its preferred address (RFC 9000 §9.6).
    other: Option<SocketAddr>,
    buf: Vec<u8>,
    suites: Arc<Mutex<Vec<Suite>>>,
}

impl End {
    fn handle_datagram(&mut self, now: Duration, d: Datagram) {
        let meta = DatagramMeta {
            remote: d.src,
            local: d.dst,
            ecn: d.ecn,
        };
        self.ep
            .handle_datagram(ours(now), meta, BytesMut::from(&d.data[..]));
    }

    fn poll_transmit(&mut self, now: Duration, out: &mut Vec<(Datagram, Option<Duration>)>) {
        // Bounded: the endpoint returns None once congestion control, pacing or a lack of
        // data stops it.
        while let Some(t) = self.ep.poll_transmit(ours(now), &mut self.buf) {
            let Some(data) = self.buf.get(..t.size) else {
                continue;
            };
            let segment = t.segment_size.unwrap_or(t.size).max(1);
            for d in data.chunks(segment) {
                let src = t.source.filter(|s| Some(*s) == self.other);
                out.push((
                    Datagram {
                        src: src.unwrap_or(self.local),
                        dst: t.destination,
                        ecn: t.ecn,
                        data: d.to_vec(),
                    },
                    t.send_at.map(virt),
                ));
            }
        }
    }

    fn last_suite(&self) -> Option<Suite> {
        self.suites.lock().ok().and_then(|s| s.last().copied())
    }
}

/// What our connection API tells about `c`; `suite` is the latest 1-RTT suite recorded.
fn note(c: &Connection, suite: Option<Suite>, n: &mut Notes) {
    n.alpn = c.alpn().map(<[u8]>::to_vec);
    if c.is_established() {
        n.resumed = Some(c.is_resumed());
        if c.side() == Side::Client {
            n.zero_rtt_accepted = Some(c.is_zero_rtt_accepted());
        }
        n.key_phase = Some(c.key_phase());
        n.suite = suite;
    }
    n.peer = c.remote_address();
    n.path_validated = Some(c.is_path_validated());
}

/// An endpoint on `local` with `tls` wrapped in a [`Recording`]; also returns that wrapper.
/// `(retry, preferred)`: a server's Retry and preferred address.
fn end(
    tls: RustlsConfig,
    local: SocketAddr,
    server: bool,
    (retry, preferred): (bool, Option<SocketAddr>),
) -> (End, Arc<dyn TlsConfig>) {
    let suites = Arc::new(Mutex::new(Vec::new()));
    let tls: Arc<dyn TlsConfig> = Arc::new(Recording {
        inner: tls,
        suites: suites.clone(),
    });
    let connection = quic_conn::Config {
        preferred_address: preferred,
        ..quic_conn::Config::default()
    };
    let config = EndpointConfig {
        connection,
        server_tls: server.then(|| tls.clone()),
        retry,
        // With the `qlog` feature, our end is traced into QLOGDIR (when set).
        #[cfg(feature = "qlog")]
        qlog: quic_conn::qlog::file::QlogDir::from_env().map(|d| {
            std::sync::Arc::new(d) as std::sync::Arc<dyn quic_conn::qlog::file::QlogFactory>
        }),
        ..EndpointConfig::default()
    };
    let ep = Endpoint::new(config, rng_factory(if server { 1 } else { 2 }));
    (
        End {
            ep,
            local,
            other: None,
            buf: vec![0; BUF],
            suites,
        },
        tls,
    )
}

// ---- client ----

/// Our stack as the client.
pub struct OurClient {
    end: End,
    tls: Arc<dyn TlsConfig>,
    conn: Option<ConnectionHandle>,
    fetch: Option<Fetch>,
    notes: Vec<Notes>,
}

/// The hq-interop downloads of one connection.
struct Fetch {
    job: Job,
    /// Streams opened beyond the server's limit wait without an ID (the library queues
    /// them and starts them as MAX_STREAMS arrives, RFC 9000 §4.6).
    pending: HashMap<PendingId, usize>,
    streams: HashMap<StreamId, usize>,
    bodies: Vec<Vec<u8>>,
    remaining: usize,
    started: bool,
    key_update_pending: bool,
    migrate_pending: bool,
}

impl OurClient {
    /// A client endpoint with `tls`.
    pub fn new(tls: rustls::ClientConfig) -> Result<Self, String> {
        let (end, tls) = end(
            RustlsConfig::Client(Arc::new(tls)),
            addr::client(),
            false,
            (false, None),
        );
        Ok(OurClient {
            end,
            tls,
            conn: None,
            fetch: None,
            notes: Vec::new(),
        })
    }

    fn connection(&mut self) -> Result<&mut Connection, String> {
        let h = self.conn.ok_or("no connection")?;
        self.end
            .ep
            .connection(h)
            .ok_or_else(|| "connection removed".into())
    }
}

impl Fetch {
    /// Sends every request: streams past the server's limit wait in the library.
    fn start(&mut self, conn: &mut Connection, early: bool, n: &mut Notes) -> Result<(), String> {
        if std::mem::replace(&mut self.started, true) {
            return Ok(());
        }
        for (i, name) in self.job.files.iter().enumerate() {
            let s = conn.open(Dir::Bi).map_err(|e| format!("open: {e}"))?;
            if early {
                // 0-RTT data may be replayed; a GET is safe to replay (RFC 9001 §9.2).
                conn.streams()
                    .set_0rtt_allowed(s, true)
                    .map_err(|e| e.to_string())?;
            }
            let request = format!("GET /{name}\r\n");
            let written = conn
                .write(s, request.as_bytes())
                .map_err(|e| e.to_string())?;
            if written != request.len() {
                return Err("a request did not fit the send buffer".into());
            }
            conn.finish(s).map_err(|e| e.to_string())?;
            match s {
                StreamRef::Id(id) => {
                    self.streams.insert(id, i);
                }
                StreamRef::Pending(p) => {
                    n.credit_waits += 1;
                    self.pending.insert(p, i);
                }
            }
        }
        Ok(())
    }

    fn on_stream_event(
        &mut self,
        conn: &mut Connection,
        e: StreamEvent,
        n: &mut Notes,
    ) -> Result<(), String> {
        match e {
            StreamEvent::Started { pending, id } => {
                if let Some(i) = self.pending.remove(&pending) {
                    self.streams.insert(id, i);
                }
            }
            StreamEvent::Readable { id } => self.read(conn, id, n)?,
            StreamEvent::Reset { id, error_code } => {
                if let Some(&i) = self.streams.get(&id) {
                    return Err(format!(
                        "{}: reset with code {error_code}",
                        self.job.files[i]
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn read(&mut self, conn: &mut Connection, id: StreamId, n: &mut Notes) -> Result<(), String> {
        let Some(&i) = self.streams.get(&id) else {
            return Ok(());
        };
        // Bounded by what the connection has buffered for the stream.
        loop {
            let chunk = conn
                .streams()
                .read_chunk(id, usize::MAX)
                .map_err(|e| format!("{}: {e}", self.job.files[i]))?;
            n.bytes += chunk.data.len() as u64;
            self.bodies[i].extend_from_slice(&chunk.data);
            if chunk.fin {
                save(&self.job, i, &self.bodies[i])?;
                self.bodies[i] = Vec::new();
                self.streams.remove(&id);
                self.remaining -= 1;
                n.files += 1;
                return Ok(());
            }
            if chunk.data.is_empty() {
                return Ok(());
            }
        }
    }
}

/// Writes download `i` of `job` to its file.
pub(crate) fn save(job: &Job, i: usize, body: &[u8]) -> Result<(), String> {
    let path = job.downloads.join(&job.files[i]);
    std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))
}

impl Host for OurClient {
    fn handle_datagram(&mut self, now: Duration, d: Datagram) {
        self.end.handle_datagram(now, d);
    }

    fn poll_transmit(&mut self, now: Duration, out: &mut Vec<(Datagram, Option<Duration>)>) {
        self.end.poll_transmit(now, out);
    }

    fn poll_timeout(&mut self) -> Option<Duration> {
        self.end.ep.poll_timeout().map(virt)
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.end.ep.handle_timeout(ours(now));
    }

    fn owns(&self, addr: SocketAddr) -> bool {
        addr == self.end.local
    }
}

impl run::Client for OurClient {
    fn connect(&mut self, now: Duration, job: Job) -> Result<(), String> {
        let h = self
            .end
            .ep
            .connect(
                ours(now),
                self.tls.clone(),
                SERVER_NAME,
                self.end.local,
                addr::server(),
            )
            .map_err(|e| format!("connect: {e}"))?;
        self.conn = Some(h);
        let mut fetch = Fetch {
            remaining: job.files.len(),
            bodies: vec![Vec::new(); job.files.len()],
            pending: HashMap::new(),
            streams: HashMap::new(),
            started: false,
            key_update_pending: job.key_update,
            migrate_pending: job.migrate_to.is_some(),
            job,
        };
        let mut n = Notes::default();
        if fetch.job.early {
            let conn = self.connection()?;
            if !conn.is_zero_rtt_active() {
                return Err("no 0-RTT keys for the resumed connection".into());
            }
            fetch.start(conn, true, &mut n)?;
        }
        self.fetch = Some(fetch);
        self.notes.push(n);
        Ok(())
    }

    fn step(&mut self, now: Duration) -> Result<bool, String> {
        while self.end.ep.poll_event().is_some() {}
        let h = self.conn.ok_or("no connection")?;
        let suite = self.end.last_suite();
        let (Some(fetch), Some(n)) = (self.fetch.as_mut(), self.notes.last_mut()) else {
            return Err("no connection".into());
        };
        let conn = self
            .end
            .ep
            .connection(h)
            .ok_or("connection removed before the downloads completed")?;
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Connected => fetch.start(conn, false, n)?,
                Event::Stream(e) => fetch.on_stream_event(conn, e, n)?,
                Event::Closed(e) if fetch.remaining > 0 => {
                    return Err(format!("connection closed: {e}"))
                }
                // The library validated the server's preferred address and moved there
                // (RFC 9000 §9.6.1).
                Event::Migrated { .. } => n.migrated = true,
                _ => {}
            }
        }
        if fetch.key_update_pending && conn.is_handshake_confirmed() {
            // Refused until a packet of the current phase was acknowledged (RFC 9001 §6.1).
            if conn.initiate_key_update(ours(now)) {
                fetch.key_update_pending = false;
                n.key_update_at = Some(n.bytes);
            }
        }
        if let Some(to) = fetch.job.migrate_to.filter(|_| fetch.migrate_pending) {
            if n.bytes >= run::MIGRATE_AFTER && conn.migrate_local_address(ours(now), to).is_ok() {
                fetch.migrate_pending = false;
                n.migrated = true;
                self.end.local = to;
            }
        }
        note(conn, suite, n);
        if fetch.remaining == 0 && fetch.key_update_pending {
            return Err("the downloads finished before a key update could start".into());
        }
        if fetch.remaining == 0 && fetch.migrate_pending {
            return Err("the downloads finished before the client could migrate".into());
        }
        Ok(fetch.remaining == 0)
    }

    fn close(&mut self, now: Duration) {
        if let Ok(c) = self.connection() {
            c.close(ours(now), VarInt::from_u32(0), b"done");
        }
    }

    fn is_gone(&mut self) -> bool {
        while self.end.ep.poll_event().is_some() {}
        self.connection().map_or(true, |c| c.is_drained())
    }

    fn notes(&self) -> Vec<Notes> {
        self.notes.clone()
    }
}

// ---- server ----

/// Our stack as the server: answers hq-interop requests from the files it holds.
pub struct OurServer {
    end: End,
    files: BTreeMap<String, Bytes>,
    sessions: Vec<(ConnectionHandle, Serve)>,
}

/// One connection's requests and responses.
#[derive(Default)]
struct Serve {
    requests: HashMap<StreamId, Vec<u8>>,
    /// Streams whose request was answered (or refused).
    answered: HashSet<StreamId>,
    /// Response bodies and how much of each was written, in stream order (so every run
    /// writes them in the same order).
    bodies: BTreeMap<StreamId, (Bytes, usize)>,
    notes: Notes,
}

impl OurServer {
    /// A server endpoint serving `files`, validating addresses with Retry when `retry` and
    /// offering `preferred` as its preferred address (RFC 9000 §9.6).
    pub fn new(
        tls: rustls::ServerConfig,
        files: BTreeMap<String, Bytes>,
        retry: bool,
        preferred: Option<SocketAddr>,
    ) -> Result<Self, String> {
        let (mut end, _) = end(
            RustlsConfig::Server(Arc::new(tls)),
            addr::server(),
            true,
            (retry, preferred),
        );
        end.other = preferred;
        Ok(OurServer {
            end,
            files,
            sessions: Vec::new(),
        })
    }
}

/// The file a request line `GET /NAME` names.
pub(crate) fn request_path(line: &[u8]) -> Option<&str> {
    let line = std::str::from_utf8(line).ok()?;
    let line = line.split("\r\n").next()?;
    let path = line.strip_prefix("GET ")?.trim();
    let name = path.trim_start_matches('/');
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

impl Serve {
    fn on_event(&mut self, conn: &mut Connection, e: Event, files: &BTreeMap<String, Bytes>) {
        match e {
            Event::Stream(StreamEvent::Readable { id }) if id.dir() == Dir::Bi => {
                self.read_request(conn, id, files);
            }
            Event::Stream(StreamEvent::Reset { id, .. } | StreamEvent::Stopped { id, .. }) => {
                self.bodies.remove(&id);
            }
            Event::Stream(StreamEvent::Closed { id, .. }) => {
                self.bodies.remove(&id);
                self.answered.remove(&id);
            }
            _ => {}
        }
    }

    fn read_request(
        &mut self,
        conn: &mut Connection,
        id: StreamId,
        files: &BTreeMap<String, Bytes>,
    ) {
        if self.answered.contains(&id) {
            return; // the rest (a late FIN) does not matter
        }
        let buf = self.requests.entry(id).or_default();
        let mut fin = false;
        // Bounded by what the connection has buffered for the stream.
        while let Ok(chunk) = conn.streams().read_chunk(id, usize::MAX) {
            buf.extend_from_slice(&chunk.data);
            fin = chunk.fin;
            if chunk.data.is_empty() || chunk.fin {
                break;
            }
        }
        if !fin && !buf.windows(2).any(|w| w == b"\r\n") {
            return;
        }
        let Some(buf) = self.requests.remove(&id) else {
            return;
        };
        self.answered.insert(id);
        if !conn.is_established() {
            // Read before the handshake completed: it came in 0-RTT packets.
            self.notes.early_requests += 1;
        }
        match request_path(&buf).and_then(|name| files.get(name)) {
            Some(body) => {
                self.notes.requests += 1;
                self.bodies.insert(id, (body.clone(), 0));
            }
            None => {
                let _ = conn.reset(id, REJECTED);
            }
        }
    }

    /// Writes response bytes while the streams take them.
    fn pump(&mut self, conn: &mut Connection) {
        self.bodies.retain(|&id, (body, off)| {
            if *off < body.len() {
                match conn.write(id, &body[*off..]) {
                    Ok(n) => *off += n,
                    Err(_) => return false,
                }
            }
            if *off < body.len() {
                return true;
            }
            let _ = conn.finish(id);
            false
        });
    }
}

impl Host for OurServer {
    fn handle_datagram(&mut self, now: Duration, d: Datagram) {
        self.end.handle_datagram(now, d);
    }

    fn poll_transmit(&mut self, now: Duration, out: &mut Vec<(Datagram, Option<Duration>)>) {
        self.end.poll_transmit(now, out);
    }

    fn poll_timeout(&mut self) -> Option<Duration> {
        self.end.ep.poll_timeout().map(virt)
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.end.ep.handle_timeout(ours(now));
    }

    fn owns(&self, addr: SocketAddr) -> bool {
        addr == self.end.local || Some(addr) == self.end.other
    }
}

impl run::Server for OurServer {
    fn step(&mut self, _now: Duration) -> Result<(), String> {
        while let Some(e) = self.end.ep.poll_event() {
            if let EndpointEvent::Accepted(h) = e {
                self.sessions.push((h, Serve::default()));
            }
        }
        let suite = self.end.last_suite();
        for (h, s) in &mut self.sessions {
            let Some(conn) = self.end.ep.connection(*h) else {
                continue;
            };
            while let Some(e) = conn.poll_event() {
                s.on_event(conn, e, &self.files);
            }
            s.pump(conn);
            note(conn, suite, &mut s.notes);
        }
        Ok(())
    }

    fn notes(&self) -> Vec<Notes> {
        self.sessions.iter().map(|(_, s)| s.notes.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_name_one_file() {
        assert_eq!(request_path(b"GET /a-1\r\n"), Some("a-1"));
        assert_eq!(request_path(b"GET /x"), Some("x"));
        assert_eq!(request_path(b"GET /\r\n"), None);
        assert_eq!(request_path(b"GET /../etc/passwd\r\n"), None);
        assert_eq!(request_path(b"PUT /a\r\n"), None);
    }

    #[test]
    fn clock_round_trips() {
        let d = Duration::from_millis(1234);
        assert_eq!(virt(ours(d)), d);
        assert_eq!(ours(Duration::ZERO).as_nanos(), 1_000_000_000);
    }
}
