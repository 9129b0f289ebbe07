//! A QUIC file server on a plain `std::net::UdpSocket` event loop: answers `GET /NAME`
//! with the file NAME of a directory, over HTTP/3 (`h3`) or HTTP/0.9 over QUIC
//! (`hq-interop`, the QUIC interop runner's protocol).
//!
//! ```text
//! h3-server --listen ADDR:PORT --cert CERT.pem --key KEY.pem --www DIR [--retry]
//!           [--alpn h3|hq-interop] [--keylog FILE] [--qlog-dir DIR] [--versions v2,v1]
//!           [--preferred-address ADDR:PORT]
//! ```
//!
//! CERT.pem is the certificate chain (server certificate first), KEY.pem its private key.
//! Without `--alpn` both protocols are offered. `--retry` (or `TESTCASE=retry`) validates
//! client addresses with a Retry packet first. `TESTCASE=v2` prefers QUIC version 2, so a
//! client that offers it is moved there (compatible version negotiation, RFC 9368). Each
//! handshake prints `h3-server: handshake done: version=0x........
//! initial_version=0x........`. `--versions v2,v1` lists the versions accepted, most
//! preferred first (others get Version Negotiation). Runs until killed.
//!
//! `--preferred-address ADDR:PORT` binds a second UDP socket there and offers it to every
//! client as the server's preferred_address (RFC 9000 §9.6); `TESTCASE=connectionmigration`
//! does the same on the `--listen` IP and a port the system picks. (The interop runner's
//! server has another IP address for it; on loopback another port is what we have.) The
//! event loop receives on both sockets and sends each datagram from the one its path uses.
//! When a client's connection has moved to the preferred address and the server validated
//! the client's address there, it prints `h3-server: preferred address in use: local=ADDR
//! remote=ADDR path validated`.
//!
//! Bodies are streamed from the file in chunks as the stream's send buffer has room, so
//! memory stays bounded whatever the file sizes. The event loop itself is in
//! `common/mod.rs` ([`common::Io`]).

#[path = "common/mod.rs"]
mod common;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use common::{Alpn, Args, Io, TestCase};
use quic_conn::{Connection, ConnectionHandle, Endpoint, EndpointConfig, EndpointEvent, Event};
use quic_streams::h3::{self, Field, H3};
use quic_streams::StreamEvent;
use quic_wire::{Dir, Instant, Side, StreamId, VarInt};

const USAGE: &str = "usage: h3-server --listen ADDR:PORT --cert CERT.pem --key KEY.pem \
                     --www DIR [--retry] [--alpn h3|hq-interop] [--keylog FILE] [--qlog-dir DIR] \
                     [--versions v2,v1] [--preferred-address ADDR:PORT]";

/// The most body bytes handed to a stream at once.
const CHUNK: usize = 64 * 1024;
/// The longest hq-interop request line accepted.
const MAX_REQUEST: usize = 4096;
/// Application error code for refused hq-interop requests (H3_REQUEST_REJECTED's value).
const HQ_REJECTED: VarInt = VarInt::from_u32(0x10b);

fn main() {
    let case = TestCase::from_env("h3-server");
    if let Err(e) = run(case) {
        eprintln!("h3-server: {e}");
        std::process::exit(1);
    }
}

fn run(case: TestCase) -> Result<(), String> {
    let args = Args::parse(
        &[
            "--listen",
            "--cert",
            "--key",
            "--www",
            "--alpn",
            "--keylog",
            "--qlog-dir",
            "--versions",
            "--preferred-address",
        ],
        &["--retry"],
    )
    .map_err(|e| format!("{e}\n{USAGE}"))?;
    let qlog_dir = common::note_qlog(&args, "h3-server");
    let listen: SocketAddr = args
        .value("--listen")
        .ok_or(USAGE)?
        .parse()
        .map_err(|e| format!("--listen: {e}"))?;
    let www = PathBuf::from(args.value("--www").ok_or(USAGE)?);
    let alpns = match args.value("--alpn") {
        Some(a) => vec![Alpn::parse(a)?],
        None => vec![Alpn::H3, Alpn::Hq],
    };
    let tls = common::tls::server_config(&args, case, &alpns)?;
    let mut connection =
        common::apply_versions(case.connection_config(), args.value("--versions"))?;
    let mut io = Io::bind(listen, common::Clock::new()).map_err(|e| format!("{listen}: {e}"))?;
    eprintln!("h3-server: listening on {}", io.local_addr());
    let preferred = match args.value("--preferred-address") {
        Some(a) => Some(a.parse().map_err(|e| format!("--preferred-address: {e}"))?),
        // Same IP, a port of the system's choosing.
        None if case == TestCase::ConnectionMigration => Some(SocketAddr::new(listen.ip(), 0)),
        None => None,
    };
    if let Some(addr) = preferred {
        // RFC 9000 §18.2: the client needs an address it can send to.
        if addr.ip().is_unspecified() {
            return Err(format!(
                "preferred address {addr}: needs a specific IP address (not a wildcard)"
            ));
        }
        let bound = io
            .bind_another(addr)
            .map_err(|e| format!("preferred address {addr}: {e}"))?;
        eprintln!("h3-server: offering preferred address {bound}");
        connection.preferred_address = Some(bound);
    }
    let mut config = EndpointConfig {
        connection,
        server_tls: Some(Arc::new(tls)),
        retry: args.has("--retry") || case == TestCase::Retry,
        ..EndpointConfig::default()
    };
    common::qlog_accepted(&mut config, qlog_dir.as_deref());
    let config_preferred = config.connection.preferred_address;
    let mut ep = Endpoint::new(config, common::system_rng());

    let mut sessions: HashMap<ConnectionHandle, Session> = HashMap::new();
    // Connections already reported on the preferred address.
    let mut on_preferred: HashSet<ConnectionHandle> = HashSet::new();
    loop {
        let now = io.clock.now();
        while let Some(event) = ep.poll_event() {
            match event {
                EndpointEvent::Accepted(h) => {
                    sessions.insert(h, Session::Handshaking);
                }
                EndpointEvent::Removed(h) => {
                    sessions.remove(&h);
                    on_preferred.remove(&h);
                }
                _ => {}
            }
        }
        // Step 2 of the loop, for every connection: events, then application calls.
        for (&h, session) in &mut sessions {
            if let Some(conn) = ep.connection(h) {
                session.step(conn, now, &www);
                if let Some((local, remote)) = preferred_in_use(conn, config_preferred) {
                    if on_preferred.insert(h) {
                        eprintln!(
                            "h3-server: preferred address in use: local={local} \
                             remote={remote} path validated"
                        );
                    }
                }
            }
        }
        io.flush(&mut ep);
        io.wait(&mut ep).map_err(|e| format!("socket: {e}"))?;
    }
}

/// The connection's path when it runs through our preferred address `preferred` (RFC 9000
/// §9.6.2: the client sent a non-probing packet there) and we validated the client's
/// address on it: (local, remote).
fn preferred_in_use(
    conn: &Connection,
    preferred: Option<SocketAddr>,
) -> Option<(SocketAddr, SocketAddr)> {
    let local = conn.local_address()?;
    let remote = conn.remote_address()?;
    (preferred == Some(local) && conn.is_path_validated()).then_some((local, remote))
}

/// The application state of one connection.
enum Session {
    /// ALPN not negotiated yet.
    Handshaking,
    Hq(HqServer),
    H3(Box<H3Server>),
    /// Closed or failed: events are drained and ignored.
    Done,
}

impl Session {
    /// Handles the connection's events and writes response bodies as room allows.
    fn step(&mut self, conn: &mut Connection, now: Instant, www: &Path) {
        while let Some(event) = conn.poll_event() {
            // Pick the protocol as soon as ALPN is known: with 0-RTT, requests arrive
            // before the handshake completes.
            let mut result = Ok(());
            if matches!(self, Session::Handshaking)
                && (conn.alpn().is_some() || matches!(event, Event::Connected))
            {
                result = self.choose_protocol(conn);
            }
            let result = result.and_then(|()| match event {
                Event::Stream(e) => match self {
                    Session::Hq(s) => s.on_stream_event(conn, e, www),
                    Session::H3(s) => s.on_stream_event(conn, e, www),
                    _ => Ok(()),
                },
                Event::Connected => {
                    eprintln!("{}", common::handshake_line("h3-server", conn));
                    Ok(())
                }
                Event::Closed(e) => {
                    if !matches!(e, quic_conn::ConnectionError::PeerApplication { .. }) {
                        eprintln!("h3-server: connection closed: {e}");
                    }
                    *self = Session::Done;
                    Ok(())
                }
                _ => Ok(()),
            });
            if let Err(e) = result {
                eprintln!("h3-server: {}", e.reason);
                common::close_on_h3_error(conn, now, e);
                *self = Session::Done;
            }
        }
        match self {
            Session::Hq(s) => s.bodies.pump(conn, |c, id, chunk, fin| {
                let n = c.write(id, &chunk).map_err(|_| ())?;
                if fin && n == chunk.len() {
                    c.finish(id).map_err(|_| ())?;
                }
                Ok(n)
            }),
            Session::H3(s) => {
                s.h3.flush(conn);
                let h3 = &mut s.h3;
                s.bodies.pump(conn, |c, id, chunk, fin| {
                    let n = chunk.len();
                    match h3.send_data(c, id, chunk, fin) {
                        Ok(()) => Ok(n),
                        Err(h3::SendError::Transport(h3::TransportError::Blocked)) => Ok(0),
                        // The body cannot go on (the client reset the stream, say): reset
                        // our side too, so the client is not left waiting for the rest.
                        Err(_) => {
                            h3.cancel(c, id, h3::Code::H3_INTERNAL_ERROR);
                            Err(())
                        }
                    }
                });
            }
            _ => {}
        }
    }

    /// ALPN is known: speak the negotiated protocol.
    fn choose_protocol(&mut self, conn: &mut Connection) -> Result<(), h3::H3Error> {
        *self = match conn.alpn().and_then(Alpn::from_id) {
            Some(Alpn::Hq) => Session::Hq(HqServer::default()),
            Some(Alpn::H3) => {
                let mut h3 = H3::new(Side::Server, h3::Config::default());
                h3.start(conn).map_err(|_| {
                    h3::H3Error::new(h3::Code::H3_INTERNAL_ERROR, "cannot open control streams")
                })?;
                Session::H3(Box::new(H3Server {
                    h3,
                    bodies: Bodies::default(),
                }))
            }
            None => Session::Done,
        };
        Ok(())
    }
}

// ---- response bodies, streamed from files ----

/// A file being sent on a stream.
struct Body {
    file: File,
    left: u64,
}

/// What one round of [`Body::next_chunk`] did.
enum Step {
    /// Handed over a chunk; there may be room for more.
    Sent,
    /// The stream's send buffer is full; try again later.
    NoRoom,
    /// The whole body is handed over, or the stream failed.
    Done,
}

impl Body {
    /// Reads the next chunk that fits the stream's send-buffer room and writes it.
    fn next_chunk(
        &mut self,
        conn: &mut Connection,
        id: StreamId,
        write: &mut impl FnMut(&mut Connection, StreamId, Bytes, bool) -> Result<usize, ()>,
    ) -> Step {
        // Keep room for an HTTP/3 DATA frame header.
        let room = conn
            .streams()
            .write_room(id)
            .unwrap_or(0)
            .saturating_sub(16);
        let n = usize::try_from(self.left.min(room))
            .unwrap_or(CHUNK)
            .min(CHUNK);
        if n == 0 && self.left > 0 {
            return Step::NoRoom;
        }
        let mut chunk = vec![0; n];
        if self.file.read_exact(&mut chunk).is_err() {
            return Step::Done;
        }
        let fin = self.left == n as u64;
        let Ok(taken) = write(conn, id, Bytes::from(chunk), fin) else {
            return Step::Done; // reset or stopped by the peer
        };
        // Put back what the stream did not take.
        let back = n.saturating_sub(taken) as i64;
        if back > 0 && self.file.seek(SeekFrom::Current(-back)).is_err() {
            return Step::Done;
        }
        self.left = self.left.saturating_sub(taken as u64);
        match (fin && taken == n, taken == n) {
            (true, _) => Step::Done,
            (false, true) => Step::Sent,
            (false, false) => Step::NoRoom,
        }
    }
}

/// The response bodies of one connection.
#[derive(Default)]
struct Bodies {
    streams: HashMap<StreamId, Body>,
}

impl Bodies {
    /// Hands every body its next chunks while its stream has send-buffer room.
    /// `write(conn, stream, chunk, fin)` returns how much of the chunk it took.
    fn pump(
        &mut self,
        conn: &mut Connection,
        mut write: impl FnMut(&mut Connection, StreamId, Bytes, bool) -> Result<usize, ()>,
    ) {
        self.streams.retain(|&id, body| {
            // Bounded: each round hands over a chunk, or stops for lack of room.
            loop {
                match body.next_chunk(conn, id, &mut write) {
                    Step::Sent => {}
                    Step::NoRoom => return true,
                    Step::Done => return false,
                }
            }
        });
    }

    /// Starts sending `file` on `id`.
    fn start(&mut self, id: StreamId, file: File, len: u64) {
        self.streams.insert(id, Body { file, left: len });
    }
}

/// Opens the file a request path names in `www`, with its length.
fn open_file(www: &Path, path: &str) -> Option<(File, u64)> {
    let name = common::file_name(path)?;
    let file = File::open(www.join(name)).ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta.len()))
}

// ---- HTTP/0.9 over QUIC (hq-interop) ----

/// hq-interop: reads `GET /NAME\r\n` on each client bidirectional stream, answers with
/// the bare file and FIN.
#[derive(Default)]
struct HqServer {
    requests: HashMap<StreamId, HqRequest>,
    bodies: Bodies,
}

/// Where a request stream is.
enum HqRequest {
    /// The request line so far.
    Reading(Vec<u8>),
    /// Answered (or refused); whatever else arrives is ignored.
    Answered,
}

impl HqServer {
    fn on_stream_event(
        &mut self,
        conn: &mut Connection,
        e: StreamEvent,
        www: &Path,
    ) -> Result<(), h3::H3Error> {
        match e {
            StreamEvent::Readable { id } if id.dir() == Dir::Bi => {
                self.read_request(conn, id, www);
            }
            StreamEvent::Reset { id, .. } | StreamEvent::Stopped { id, .. } => {
                self.bodies.streams.remove(&id);
            }
            StreamEvent::Closed { id, .. } => {
                self.requests.remove(&id);
                self.bodies.streams.remove(&id);
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads request bytes; once the line is complete, starts the response.
    fn read_request(&mut self, conn: &mut Connection, id: StreamId, www: &Path) {
        let request = self
            .requests
            .entry(id)
            .or_insert_with(|| HqRequest::Reading(Vec::new()));
        let mut fin = false;
        // Bounded by the data the connection has buffered for the stream.
        while let Ok(chunk) = conn.streams().read_chunk(id, usize::MAX) {
            if let HqRequest::Reading(buf) = request {
                buf.extend_from_slice(&chunk.data);
            }
            fin = chunk.fin;
            if chunk.data.is_empty() || chunk.fin {
                break;
            }
        }
        let HqRequest::Reading(buf) = request else {
            return;
        };
        let line_end = buf.windows(2).position(|w| w == b"\r\n");
        if line_end.is_none() && !fin && buf.len() <= MAX_REQUEST {
            return; // wait for the rest of the line
        }
        let line = &buf[..line_end.unwrap_or(buf.len())];
        let path = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_prefix("GET "))
            .map(str::trim);
        match path.and_then(|p| open_file(www, p)) {
            Some((file, len)) => self.bodies.start(id, file, len),
            None => {
                let _ = conn.reset(id, HQ_REJECTED);
            }
        }
        *request = HqRequest::Answered;
    }
}

// ---- HTTP/3 ----

/// HTTP/3: `GET` requests answered with 200 and the file, or 404.
struct H3Server {
    h3: H3,
    bodies: Bodies,
}

impl H3Server {
    fn on_stream_event(
        &mut self,
        conn: &mut Connection,
        e: StreamEvent,
        www: &Path,
    ) -> Result<(), h3::H3Error> {
        common::h3_stream_event(&mut self.h3, conn, e)?;
        while let Some(event) = self.h3.poll_event() {
            match event {
                h3::Event::Request { stream, fields, .. } => {
                    self.respond(conn, stream, &fields, www)
                }
                h3::Event::StreamAborted { stream, .. } => {
                    self.bodies.streams.remove(&stream);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Answers one request: the file with 200, or 404.
    fn respond(&mut self, conn: &mut Connection, stream: StreamId, fields: &[Field], www: &Path) {
        let get = |name: &[u8]| {
            fields
                .iter()
                .find(|f| &f.name[..] == name)
                .and_then(|f| std::str::from_utf8(&f.value).ok())
        };
        let file = match (get(b":method"), get(b":path")) {
            (Some("GET"), Some(path)) => open_file(www, path),
            _ => None,
        };
        let result = match file {
            Some((file, len)) => {
                let head = [
                    Field::new(":status", "200"),
                    Field::new("content-length", Bytes::from(len.to_string())),
                ];
                let r = self.h3.send_response(conn, stream, &head, len == 0);
                if r.is_ok() && len > 0 {
                    self.bodies.start(stream, file, len);
                }
                r
            }
            None => self
                .h3
                .send_response(conn, stream, &[Field::new(":status", "404")], true),
        };
        if let Err(e) = result {
            eprintln!("h3-server: cannot respond on {stream:?}: {e:?}");
            self.h3.cancel(conn, stream, h3::Code::H3_INTERNAL_ERROR);
        }
    }
}
