//! quinn-proto 0.11 (rustls on ring) as the client or the server of a cell, with its
//! hq-interop application on quinn-proto's stream API.
//!
//! quinn-proto takes `std::time::Instant`: virtual time is added to one base instant taken
//! when the end is built, so quinn only ever sees `base + virtual offset` (it never reads
//! the clock itself).
//!
//! The endpoint/connection event exchange (`poll_endpoint_events` → `Endpoint::handle_event`
//! → `Connection::handle_event`) runs after every input to a connection.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use quic_wire::Ecn;
use quinn_proto::crypto::rustls::{HandshakeData, QuicClientConfig, QuicServerConfig};
use quinn_proto::{
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Dir, EcnCodepoint, Endpoint,
    EndpointConfig, Event, ReadError, ServerConfig, StreamEvent, StreamId, VarInt, WriteError,
};

use crate::net::{Datagram, Host};
use crate::ours::{request_path, save};
use crate::quinn_tls::{KeyNotes, Sessions, WatchedClient, WatchedServer};
use crate::run::{self, Job, Notes};
use crate::{addr, Case, SERVER_NAME};

/// quinn's "buffer" argument grows as needed; this is its starting size.
const BUF: usize = 1500;
/// Application error code of a refused hq-interop request (H3_REQUEST_REJECTED's value).
const REJECTED: u32 = 0x10b;

fn ecn_in(e: Ecn) -> Option<EcnCodepoint> {
    match e {
        Ecn::NotEct => None,
        Ecn::Ect0 => Some(EcnCodepoint::Ect0),
        Ecn::Ect1 => Some(EcnCodepoint::Ect1),
        Ecn::Ce => Some(EcnCodepoint::Ce),
    }
}

fn ecn_out(e: Option<EcnCodepoint>) -> Ecn {
    match e {
        None => Ecn::NotEct,
        Some(EcnCodepoint::Ect0) => Ecn::Ect0,
        Some(EcnCodepoint::Ect1) => Ecn::Ect1,
        Some(EcnCodepoint::Ce) => Ecn::Ce,
    }
}

/// A fixed RNG seed per role, so quinn's connection IDs repeat from run to run.
fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

/// One quinn connection with the endpoint events plumbed.
struct Conn {
    ch: ConnectionHandle,
    conn: Connection,
    drained: bool,
}

impl Conn {
    /// Passes the connection's endpoint events to the endpoint and back.
    fn exchange(&mut self, ep: &mut Endpoint) {
        while let Some(ev) = self.conn.poll_endpoint_events() {
            self.drained |= ev.is_drained();
            if let Some(back) = ep.handle_event(self.ch, ev) {
                self.conn.handle_event(back);
            }
        }
    }

    /// Appends the connection's datagrams from `local`; a server's datagrams leave from
    /// the IP quinn names (`Transmit::src_ip`) on `local`'s port.
    fn transmit(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        local: SocketAddr,
        buf: &mut Vec<u8>,
        out: &mut Vec<(Datagram, Option<Duration>)>,
    ) {
        // Bounded: quinn returns None once congestion control, pacing or a lack of data
        // stops it.
        loop {
            buf.clear();
            let Some(t) = self.conn.poll_transmit(now, 1, buf) else {
                break;
            };
            let src = match t.src_ip {
                Some(ip) => SocketAddr::new(ip, local.port()),
                None => local,
            };
            out.push((
                Datagram {
                    src,
                    dst: t.destination,
                    ecn: ecn_out(t.ecn),
                    data: buf[..t.size].to_vec(),
                },
                None,
            ));
        }
        self.exchange(ep);
    }

    /// What quinn's API (and its watched crypto session, `keys`) tells about the connection.
    fn note(&self, keys: Option<KeyNotes>, n: &mut Notes) {
        if let Some(k) = keys {
            n.integrity_limit = k.one_rtt_integrity_limit;
            n.key_updates = Some(k.key_updates());
        }
        if let Some(hd) = self
            .conn
            .crypto_session()
            .handshake_data()
            .and_then(|d| d.downcast::<HandshakeData>().ok())
        {
            n.alpn = hd.protocol;
        }
        n.peer = Some(self.conn.remote_address());
        let s = self.conn.stats();
        // quinn does not expose its path state: it validated a new peer address when it
        // sent PATH_CHALLENGE and got PATH_RESPONSE (RFC 9000 §8.2).
        n.path_validated = Some(s.frame_tx.path_challenge > 0 && s.frame_rx.path_response > 0);
    }
}

// ---- client ----

/// quinn-proto as the client.
pub struct QuinnClient {
    ep: Endpoint,
    config: ClientConfig,
    keys: Sessions,
    base: Instant,
    local: SocketAddr,
    conn: Option<Conn>,
    fetch: Option<Fetch>,
    notes: Vec<Notes>,
    buf: Vec<u8>,
}

/// The hq-interop downloads of one connection.
struct Fetch {
    job: Job,
    /// The next file to request.
    next: usize,
    streams: HashMap<StreamId, usize>,
    bodies: Vec<Vec<u8>>,
    remaining: usize,
    started: bool,
    key_update_pending: bool,
    migrate_pending: bool,
}

impl QuinnClient {
    /// A client endpoint with `tls`.
    pub fn new(tls: rustls::ClientConfig, case: Case) -> Result<Self, String> {
        let tls = Arc::new(tls);
        // chacha20: the provider lists no AES-128-GCM, which quinn needs for Initials.
        let quic = match case {
            Case::ChaCha20 => {
                let initial = crate::tls::quinn_initial_suite().ok_or("no AES-128-GCM suite")?;
                QuicClientConfig::with_initial(tls, initial)
            }
            _ => QuicClientConfig::try_from(tls),
        }
        .map_err(|e| e.to_string())?;
        let keys = Sessions::default();
        let config = ClientConfig::new(Arc::new(WatchedClient {
            inner: Arc::new(quic),
            sessions: keys.clone(),
        }));
        let ep = Endpoint::new(
            Arc::new(EndpointConfig::default()),
            None,
            true,
            Some(seed(3)),
        );
        Ok(QuinnClient {
            ep,
            config,
            keys,
            base: Instant::now(),
            local: addr::client(),
            conn: None,
            fetch: None,
            notes: Vec::new(),
            buf: Vec::with_capacity(BUF),
        })
    }
}

impl Fetch {
    /// Opens request streams while the server's stream credit allows (RFC 9000 §4.6); the
    /// rest wait for `StreamEvent::Available`.
    fn request_more(&mut self, conn: &mut Connection, n: &mut Notes) -> Result<(), String> {
        while self.next < self.job.files.len() {
            let Some(id) = conn.streams().open(Dir::Bi) else {
                n.credit_waits += 1;
                return Ok(());
            };
            let request = format!("GET /{}\r\n", self.job.files[self.next]);
            let mut s = conn.send_stream(id);
            let written = s.write(request.as_bytes()).map_err(|e| e.to_string())?;
            if written != request.len() {
                return Err("a request did not fit the send window".into());
            }
            s.finish().map_err(|e| e.to_string())?;
            self.streams.insert(id, self.next);
            self.next += 1;
        }
        Ok(())
    }

    fn read(&mut self, conn: &mut Connection, id: StreamId, n: &mut Notes) -> Result<(), String> {
        let Some(&i) = self.streams.get(&id) else {
            return Ok(());
        };
        let mut recv = conn.recv_stream(id);
        let mut chunks = recv.read(true).map_err(|e| e.to_string())?;
        let mut finished = false;
        // Bounded by what quinn has buffered for the stream.
        loop {
            match chunks.next(usize::MAX) {
                Ok(Some(c)) => {
                    n.bytes += c.bytes.len() as u64;
                    self.bodies[i].extend_from_slice(&c.bytes);
                }
                Ok(None) => {
                    finished = true;
                    break;
                }
                Err(ReadError::Blocked) => break,
                Err(ReadError::Reset(code)) => {
                    let _ = chunks.finalize();
                    return Err(format!("{}: reset with code {code}", self.job.files[i]));
                }
            }
        }
        let _ = chunks.finalize();
        if finished {
            save(&self.job, i, &self.bodies[i])?;
            self.bodies[i] = Vec::new();
            self.streams.remove(&id);
            self.remaining -= 1;
            n.files += 1;
        }
        Ok(())
    }
}

impl Host for QuinnClient {
    fn handle_datagram(&mut self, now: Duration, d: Datagram) {
        let now = self.base + now;
        let data = BytesMut::from(&d.data[..]);
        self.buf.clear();
        let ev = self.ep.handle(
            now,
            d.src,
            Some(d.dst.ip()),
            ecn_in(d.ecn),
            data,
            &mut self.buf,
        );
        if let (Some(DatagramEvent::ConnectionEvent(ch, ev)), Some(c)) = (ev, self.conn.as_mut()) {
            if c.ch == ch {
                c.conn.handle_event(ev);
                c.exchange(&mut self.ep);
            }
        }
    }

    fn poll_transmit(&mut self, now: Duration, out: &mut Vec<(Datagram, Option<Duration>)>) {
        let now = self.base + now;
        if let Some(c) = self.conn.as_mut() {
            c.transmit(&mut self.ep, now, self.local, &mut self.buf, out);
        }
    }

    fn poll_timeout(&mut self) -> Option<Duration> {
        let t = self.conn.as_mut()?.conn.poll_timeout()?;
        Some(t.saturating_duration_since(self.base))
    }

    fn handle_timeout(&mut self, now: Duration) {
        let now = self.base + now;
        if let Some(c) = self.conn.as_mut() {
            c.conn.handle_timeout(now);
            c.exchange(&mut self.ep);
        }
    }

    fn owns(&self, addr: SocketAddr) -> bool {
        addr == self.local
    }
}

impl run::Client for QuinnClient {
    fn connect(&mut self, now: Duration, job: Job) -> Result<(), String> {
        let (ch, conn) = self
            .ep
            .connect(
                self.base + now,
                self.config.clone(),
                addr::server(),
                SERVER_NAME,
            )
            .map_err(|e| format!("connect: {e}"))?;
        let mut c = Conn {
            ch,
            conn,
            drained: false,
        };
        let mut fetch = Fetch {
            next: 0,
            streams: HashMap::new(),
            bodies: vec![Vec::new(); job.files.len()],
            remaining: job.files.len(),
            started: false,
            key_update_pending: job.key_update,
            migrate_pending: job.migrate_to.is_some(),
            job,
        };
        let mut n = Notes::default();
        if fetch.job.early {
            if !c.conn.has_0rtt() {
                return Err("quinn has no 0-RTT keys for the resumed connection".into());
            }
            fetch.started = true;
            fetch.request_more(&mut c.conn, &mut n)?;
        }
        c.exchange(&mut self.ep);
        self.conn = Some(c);
        self.fetch = Some(fetch);
        self.notes.push(n);
        Ok(())
    }

    fn step(&mut self, _now: Duration) -> Result<bool, String> {
        // One crypto session per connection, in order.
        let index = self.notes.len().checked_sub(1).ok_or("no connection")?;
        let keys = self.keys.lock().ok().and_then(|k| k.get(index).copied());
        let (Some(c), Some(fetch), Some(n)) = (
            self.conn.as_mut(),
            self.fetch.as_mut(),
            self.notes.last_mut(),
        ) else {
            return Err("no connection".into());
        };
        while let Some(ev) = c.conn.poll() {
            match ev {
                Event::Connected => {
                    fetch.started = true;
                    if fetch.job.early {
                        n.zero_rtt_accepted = Some(c.conn.accepted_0rtt());
                    }
                }
                Event::Stream(StreamEvent::Readable { id }) => fetch.read(&mut c.conn, id, n)?,
                Event::Stream(StreamEvent::Stopped { id, error_code }) => {
                    if let Some(&i) = fetch.streams.get(&id) {
                        return Err(format!(
                            "{}: stopped with code {error_code}",
                            fetch.job.files[i]
                        ));
                    }
                }
                Event::ConnectionLost { reason } if fetch.remaining > 0 => {
                    return Err(format!("connection lost: {reason}"));
                }
                _ => {}
            }
        }
        if fetch.started {
            fetch.request_more(&mut c.conn, n)?;
        }
        // The client confirms the handshake when HANDSHAKE_DONE arrives (RFC 9001 §4.1.2);
        // only then may it update keys (§6).
        let confirmed = c.conn.stats().frame_rx.handshake_done > 0;
        if fetch.key_update_pending && confirmed {
            c.conn.force_key_update();
            fetch.key_update_pending = false;
            n.key_update_at = Some(n.bytes);
        }
        if let Some(to) = fetch.job.migrate_to.filter(|_| fetch.migrate_pending) {
            if confirmed && n.bytes >= run::MIGRATE_AFTER {
                // An active migration (RFC 9000 §9.2): new local address, fresh peer CID.
                self.local = to;
                c.conn.local_address_changed();
                fetch.migrate_pending = false;
                n.migrated = true;
            }
        }
        c.note(keys, n);
        c.exchange(&mut self.ep);
        if fetch.remaining == 0 && fetch.key_update_pending {
            return Err("the downloads finished before a key update could start".into());
        }
        if fetch.remaining == 0 && fetch.migrate_pending {
            return Err("the downloads finished before the client could migrate".into());
        }
        Ok(fetch.remaining == 0)
    }

    fn close(&mut self, now: Duration) {
        if let Some(c) = self.conn.as_mut() {
            c.conn.close(
                self.base + now,
                VarInt::from_u32(0),
                Bytes::from_static(b"done"),
            );
            c.exchange(&mut self.ep);
        }
    }

    fn is_gone(&mut self) -> bool {
        self.conn
            .as_ref()
            .is_none_or(|c| c.drained || c.conn.is_drained())
    }

    fn notes(&self) -> Vec<Notes> {
        self.notes.clone()
    }
}

// ---- server ----

/// quinn-proto as the server: answers hq-interop requests from the files it holds.
pub struct QuinnServer {
    ep: Endpoint,
    keys: Sessions,
    base: Instant,
    files: BTreeMap<String, Bytes>,
    retry: bool,
    sessions: Vec<Serve>,
    /// The preferred address offered (RFC 9000 §9.6), where datagrams reach us too.
    preferred: Option<SocketAddr>,
    /// Datagrams the endpoint itself produced (Retry, refusals).
    stateless: VecDeque<Datagram>,
    buf: Vec<u8>,
}

/// One connection's requests and responses.
struct Serve {
    c: Conn,
    /// Request bytes so far, and whether the stream was opened before the handshake
    /// completed (so its request came in 0-RTT).
    requests: HashMap<StreamId, (Vec<u8>, bool)>,
    /// Response bodies and how much of each was written, in stream order (so every run
    /// writes them in the same order).
    bodies: BTreeMap<StreamId, (Bytes, usize)>,
    notes: Notes,
}

impl QuinnServer {
    /// A server endpoint serving `files`, validating addresses with Retry when `retry` and
    /// offering `preferred` as its preferred address (RFC 9000 §9.6).
    pub fn new(
        tls: rustls::ServerConfig,
        files: BTreeMap<String, Bytes>,
        retry: bool,
        preferred: Option<SocketAddr>,
    ) -> Result<Self, String> {
        let quic = QuicServerConfig::try_from(tls).map_err(|e| e.to_string())?;
        let keys = Sessions::default();
        let mut config = ServerConfig::with_crypto(Arc::new(WatchedServer {
            inner: Arc::new(quic),
            sessions: keys.clone(),
        }));
        match preferred {
            Some(SocketAddr::V4(a)) => config.preferred_address_v4(Some(a)),
            Some(SocketAddr::V6(a)) => config.preferred_address_v6(Some(a)),
            None => &mut config,
        };
        let ep = Endpoint::new(
            Arc::new(EndpointConfig::default()),
            Some(Arc::new(config)),
            true,
            Some(seed(4)),
        );
        Ok(QuinnServer {
            ep,
            keys,
            base: Instant::now(),
            files,
            retry,
            sessions: Vec::new(),
            preferred,
            stateless: VecDeque::new(),
            buf: Vec::with_capacity(BUF),
        })
    }

    fn stateless_reply(&mut self, destination: SocketAddr, size: usize) {
        self.stateless.push_back(Datagram {
            src: addr::server(),
            dst: destination,
            ecn: Ecn::NotEct,
            data: self.buf[..size].to_vec(),
        });
    }
}

impl Serve {
    fn on_event(&mut self, ev: Event, files: &BTreeMap<String, Bytes>) {
        match ev {
            Event::Stream(StreamEvent::Opened { dir: Dir::Bi }) => {
                let early = self.c.conn.is_handshaking();
                while let Some(id) = self.c.conn.streams().accept(Dir::Bi) {
                    self.requests.insert(id, (Vec::new(), early));
                    self.read_request(id, files);
                }
            }
            Event::Stream(StreamEvent::Readable { id }) => self.read_request(id, files),
            Event::Stream(StreamEvent::Stopped { id, .. }) => {
                self.bodies.remove(&id);
            }
            _ => {}
        }
    }

    fn read_request(&mut self, id: StreamId, files: &BTreeMap<String, Bytes>) {
        let Some((buf, _)) = self.requests.get_mut(&id) else {
            return;
        };
        let mut recv = self.c.conn.recv_stream(id);
        let Ok(mut chunks) = recv.read(true) else {
            return;
        };
        let mut fin = false;
        // Bounded by what quinn has buffered for the stream.
        loop {
            match chunks.next(usize::MAX) {
                Ok(Some(c)) => buf.extend_from_slice(&c.bytes),
                Ok(None) => {
                    fin = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let _ = chunks.finalize();
        if !fin && !buf.windows(2).any(|w| w == b"\r\n") {
            return;
        }
        let Some((buf, early)) = self.requests.remove(&id) else {
            return;
        };
        if early {
            self.notes.early_requests += 1;
        }
        match request_path(&buf).and_then(|name| files.get(name)) {
            Some(body) => {
                self.notes.requests += 1;
                self.bodies.insert(id, (body.clone(), 0));
            }
            None => {
                let _ = self
                    .c
                    .conn
                    .send_stream(id)
                    .reset(VarInt::from_u32(REJECTED));
            }
        }
    }

    /// Writes response bytes while the streams take them.
    fn pump(&mut self) {
        let conn = &mut self.c.conn;
        self.bodies.retain(|&id, (body, off)| {
            let mut s = conn.send_stream(id);
            if *off < body.len() {
                match s.write(&body[*off..]) {
                    Ok(n) => *off += n,
                    Err(WriteError::Blocked) => return true,
                    Err(_) => return false,
                }
            }
            if *off < body.len() {
                return true;
            }
            let _ = s.finish();
            false
        });
    }
}

impl Host for QuinnServer {
    fn handle_datagram(&mut self, now: Duration, d: Datagram) {
        let now = self.base + now;
        let data = BytesMut::from(&d.data[..]);
        self.buf.clear();
        let ev = self.ep.handle(
            now,
            d.src,
            Some(d.dst.ip()),
            ecn_in(d.ecn),
            data,
            &mut self.buf,
        );
        match ev {
            Some(DatagramEvent::ConnectionEvent(ch, ev)) => {
                // quinn reuses the handle of a drained connection.
                let live = self
                    .sessions
                    .iter_mut()
                    .find(|s| s.c.ch == ch && !s.c.drained);
                if let Some(s) = live {
                    s.c.conn.handle_event(ev);
                    s.c.exchange(&mut self.ep);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                self.buf.clear();
                // RFC 9000 §8.1.2: validate the address with a Retry first.
                if self.retry && !incoming.remote_address_validated() {
                    match self.ep.retry(incoming, &mut self.buf) {
                        Ok(t) => self.stateless_reply(t.destination, t.size),
                        Err(e) => self.ep.ignore(e.into_incoming()),
                    }
                    return;
                }
                match self.ep.accept(incoming, now, &mut self.buf, None) {
                    Ok((ch, conn)) => {
                        let mut c = Conn {
                            ch,
                            conn,
                            drained: false,
                        };
                        c.exchange(&mut self.ep);
                        self.sessions.push(Serve {
                            c,
                            requests: HashMap::new(),
                            bodies: BTreeMap::new(),
                            notes: Notes::default(),
                        });
                    }
                    Err(e) => {
                        if let Some(t) = e.response {
                            self.stateless_reply(t.destination, t.size);
                        }
                    }
                }
            }
            Some(DatagramEvent::Response(t)) => self.stateless_reply(t.destination, t.size),
            None => {}
        }
    }

    fn poll_transmit(&mut self, now: Duration, out: &mut Vec<(Datagram, Option<Duration>)>) {
        out.extend(self.stateless.drain(..).map(|d| (d, None)));
        let now = self.base + now;
        for s in &mut self.sessions {
            if !s.c.drained {
                s.c.transmit(&mut self.ep, now, addr::server(), &mut self.buf, out);
            }
        }
    }

    fn poll_timeout(&mut self) -> Option<Duration> {
        let base = self.base;
        self.sessions
            .iter_mut()
            .filter(|s| !s.c.drained)
            .filter_map(|s| s.c.conn.poll_timeout())
            .min()
            .map(|t| t.saturating_duration_since(base))
    }

    fn handle_timeout(&mut self, now: Duration) {
        let now = self.base + now;
        for s in &mut self.sessions {
            if !s.c.drained && s.c.conn.poll_timeout().is_some_and(|t| t <= now) {
                s.c.conn.handle_timeout(now);
                s.c.exchange(&mut self.ep);
            }
        }
    }

    fn owns(&self, addr: SocketAddr) -> bool {
        addr == addr::server() || Some(addr) == self.preferred
    }
}

impl run::Server for QuinnServer {
    fn step(&mut self, _now: Duration) -> Result<(), String> {
        let keys: Vec<KeyNotes> = self.keys.lock().map(|k| k.clone()).unwrap_or_default();
        for (i, s) in self.sessions.iter_mut().enumerate() {
            if s.c.drained {
                continue;
            }
            while let Some(ev) = s.c.conn.poll() {
                s.on_event(ev, &self.files);
            }
            s.pump();
            // quinn starts one crypto session per accepted connection, in order.
            s.c.note(keys.get(i).copied(), &mut s.notes);
            s.c.exchange(&mut self.ep);
        }
        Ok(())
    }

    fn notes(&self) -> Vec<Notes> {
        self.sessions.iter().map(|s| s.notes.clone()).collect()
    }
}
