//! A QUIC client on a plain `std::net::UdpSocket` event loop: downloads every URL in
//! parallel on one connection, over HTTP/3 (`--alpn h3`) or HTTP/0.9 over QUIC
//! (`--alpn hq-interop`, the QUIC interop runner's protocol).
//!
//! ```text
//! h3-client [--ca CA.pem | --insecure] --downloads DIR [--alpn h3|hq-interop]
//!           [--keylog FILE] [--qlog-dir DIR] [--versions v1,v2] [URL...]
//! ```
//!
//! Each body is saved as `DIR/<last path segment>`. Without URL arguments the URLs come
//! from `REQUESTS` (space-separated). The exit status is 0 only when every download
//! completed. `TESTCASE` selects an interop test case (127 = not supported): `keyupdate`
//! starts a key update once the handshake is confirmed, `resumption` fetches the first URL
//! on a first connection and the others on a second one that resumes the TLS session, `v2`
//! starts in QUIC version 1 offering version 2 and fails unless the server moved the
//! connection to version 2 (compatible version negotiation, RFC 9368), `connectionmigration`
//! downloads as usual while the library moves the connection to the server's preferred
//! address (RFC 9000 §9.6) once the handshake is confirmed; it prints `h3-client: migrated
//! to ADDR` then and fails unless the downloads ended with the connection there. Each handshake
//! prints `h3-client: handshake done: version=0x........ initial_version=0x........`.
//! `--versions` lists the QUIC versions to offer, the first one used for the first flight;
//! a Version Negotiation packet naming another of them makes the client connect again in
//! that version (RFC 9368 §2.1).
//!
//! The event loop itself is in `common/mod.rs` ([`common::Io`]).

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Alpn, Args, Io, TestCase};
use quic_conn::conn::VersionNegotiated;
use quic_conn::tls::TlsConfig;
use quic_conn::{Connection, ConnectionError, ConnectionHandle, Endpoint, EndpointConfig, Event};
use quic_streams::h3::{self, Field, SendError, TransportError, H3};
use quic_streams::{PendingId, StreamEvent, StreamRef};
use quic_wire::{Dir, Side, StreamId, VarInt};

const USAGE: &str = "usage: h3-client [--ca CA.pem | --insecure] --downloads DIR \
                     [--alpn h3|hq-interop] [--keylog FILE] [--qlog-dir DIR] \
                     [--versions v1,v2] [URL...]";

/// How long to wait for a session ticket before starting the resumed connection anyway.
const TICKET_WAIT: Duration = Duration::from_secs(2);
/// connectionmigration: how long to wait after the downloads for the move to the server's
/// preferred address, if it has not happened yet.
const MIGRATION_WAIT: Duration = Duration::from_secs(2);
/// How long the program stays after closing, at least and at most (see `linger`).
const MIN_LINGER: Duration = Duration::from_millis(300);
const MAX_LINGER: Duration = Duration::from_secs(1);

fn main() {
    let case = TestCase::from_env("h3-client");
    if let Err(e) = run(case) {
        eprintln!("h3-client: {e}");
        std::process::exit(1);
    }
}

/// Where the URLs point: one server, many paths.
struct Target {
    remote: SocketAddr,
    server_name: String,
}

/// One file to fetch.
#[derive(Clone)]
struct Download {
    /// The request path, e.g. `/file-1`.
    path: String,
    /// Where the body is saved.
    file: PathBuf,
    body: Vec<u8>,
}

impl Download {
    /// The body is complete: save it.
    fn save(&mut self) -> Result<(), String> {
        std::fs::write(&self.file, &self.body)
            .map_err(|e| format!("cannot write {}: {e}", self.file.display()))
    }
}

fn run(case: TestCase) -> Result<(), String> {
    let args = Args::parse(
        &[
            "--ca",
            "--downloads",
            "--alpn",
            "--keylog",
            "--qlog-dir",
            "--versions",
        ],
        &["--insecure"],
    )
    .map_err(|e| format!("{e}\n{USAGE}"))?;
    let qlog_dir = common::note_qlog(&args, "h3-client");
    let alpn = match args.value("--alpn") {
        Some(a) => Alpn::parse(a)?,
        None if case == TestCase::Http3 => Alpn::H3,
        None => Alpn::Hq,
    };
    let dir = PathBuf::from(args.value("--downloads").ok_or(USAGE)?);
    let mut urls = args.positional.clone();
    if urls.is_empty() {
        let requests = std::env::var("REQUESTS").unwrap_or_default();
        urls = requests.split_whitespace().map(str::to_owned).collect();
    }
    let (target, downloads) = plan(&urls, &dir)?;
    let tickets = Arc::new(common::tls::TicketCounter::default());
    let tls: Arc<dyn TlsConfig> = Arc::new(common::tls::client_config(
        &args,
        case,
        alpn,
        tickets.clone(),
    )?);

    // An ephemeral port on the wildcard address of the server's family.
    let unspecified = if target.remote.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let mut io = Io::bind(unspecified, common::Clock::new()).map_err(|e| format!("bind: {e}"))?;
    let connection = common::apply_versions(case.connection_config(), args.value("--versions"))?;
    let config = EndpointConfig {
        connection,
        ..EndpointConfig::default()
    };
    let mut ep = Endpoint::new(config, common::system_rng());
    let mut fetch = Fetch {
        target: &target,
        tls,
        alpn,
        case,
        tickets,
        qlog_dir,
        config: connection,
    };

    let resume = matches!(case, TestCase::Resumption | TestCase::ZeroRtt);
    if resume && downloads.len() > 1 {
        // First URL on a first connection; the rest on a second one resuming its
        // session (zerortt: with the requests in 0-RTT).
        let mut downloads = downloads;
        let rest = downloads.split_off(1);
        fetch.run(&mut io, &mut ep, downloads, Conn::First)?;
        fetch.run(&mut io, &mut ep, rest, Conn::Resumed)
    } else {
        fetch.run(&mut io, &mut ep, downloads, Conn::Only)
    }
}

/// Parses the URLs (`https://HOST:PORT/PATH`, all on one server) into the server's
/// address and the downloads.
fn plan(urls: &[String], dir: &Path) -> Result<(Target, Vec<Download>), String> {
    let mut authority = None;
    let mut downloads = Vec::new();
    for url in urls {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| format!("{url}: not an https:// URL"))?;
        let (auth, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.get_or_insert(auth) != &auth {
            return Err(format!("{url}: all URLs must name the same server"));
        }
        let name = common::file_name(path).ok_or_else(|| format!("{url}: no file name"))?;
        downloads.push(Download {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            file: dir.join(name),
            body: Vec::new(),
        });
    }
    let auth = authority.ok_or_else(|| format!("no URL to fetch\n{USAGE}"))?;
    let with_port = if auth.ends_with(']') || !auth.contains(':') {
        format!("{auth}:443")
    } else {
        auth.to_owned()
    };
    let remote = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{auth}: {e}"))?
        .next()
        .ok_or_else(|| format!("{auth}: no address"))?;
    let host = with_port
        .rsplit_once(':')
        .map_or(auth, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let target = Target {
        remote,
        server_name: host.to_owned(),
    };
    Ok((target, downloads))
}

/// Which connection of the run this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// The one connection.
    Only,
    /// The first of two (resumption, zerortt): it waits for a session ticket.
    First,
    /// The second, resuming the first one's session.
    Resumed,
}

/// What every connection of this run shares.
struct Fetch<'a> {
    target: &'a Target,
    tls: Arc<dyn TlsConfig>,
    alpn: Alpn,
    case: TestCase,
    tickets: Arc<common::tls::TicketCounter>,
    /// Where each connection's qlog trace goes, if anywhere.
    qlog_dir: Option<String>,
    /// The connection settings (changed after a Version Negotiation packet).
    config: quic_conn::Config,
}

impl Fetch<'_> {
    /// Opens a connection, fetches `downloads` on it and closes it. The first of two
    /// connections stays until the server's session ticket arrived. When the server
    /// answers with Version Negotiation listing a version we speak, a second connection
    /// tries that version (RFC 9368 §2.1).
    fn run(
        &mut self,
        io: &mut Io,
        ep: &mut Endpoint,
        downloads: Vec<Download>,
        which: Conn,
    ) -> Result<(), String> {
        let mut negotiated = None;
        let first = self.attempt(io, ep, downloads.clone(), which, &mut negotiated);
        match negotiated {
            Some(vn) if first.is_err() => {
                eprintln!("h3-client: version negotiation: trying {:?}", vn.chosen);
                self.config = self.config.after_version_negotiation(vn);
                self.attempt(io, ep, downloads, which, &mut None)
            }
            _ => first,
        }
    }

    /// One connection attempt; `negotiated` is set when it ended with a Version
    /// Negotiation packet naming a version to try.
    fn attempt(
        &mut self,
        io: &mut Io,
        ep: &mut Endpoint,
        downloads: Vec<Download>,
        which: Conn,
        negotiated: &mut Option<VersionNegotiated>,
    ) -> Result<(), String> {
        let wait_ticket = which == Conn::First;
        let h = ep
            .connect_with(
                self.config,
                io.clock.now(),
                self.tls.clone(),
                &self.target.server_name,
                io.local_addr(),
                self.target.remote,
            )
            .map_err(|e| format!("connect: {e}"))?;
        common::start_qlog(
            self.qlog_dir.as_deref(),
            connection(ep, h)?,
            io.clock.now(),
            "h3-client",
        );
        let mut app: Box<dyn Fetcher> = match self.alpn {
            Alpn::H3 => Box::new(H3Fetcher::new(downloads, &self.target.server_name)),
            Alpn::Hq => Box::new(HqFetcher::new(downloads)),
        };
        if which == Conn::Resumed && self.case == TestCase::ZeroRtt {
            app.start(connection(ep, h)?, true)?;
        }
        let mut key_update_pending = self.case == TestCase::KeyUpdate;
        let mut announced = false;
        // Where the library moved the connection (Event::Migrated), if it did.
        let mut migrated = None;
        let migration_wanted = self.case == TestCase::ConnectionMigration;
        let mut done_at = None;
        loop {
            let now = io.clock.now();
            let Some(conn) = ep.connection(h) else {
                // Drained and removed (a Version Negotiation packet ends a connection at
                // once): its last events wait in the endpoint.
                while let Some((of, e)) = ep.poll_connection_event() {
                    if let (true, Event::Closed(ConnectionError::VersionNegotiation(vn))) =
                        (of == h, e)
                    {
                        *negotiated = Some(vn);
                    }
                }
                return Err("connection removed".into());
            };
            if let Err(e) = step(conn, app.as_mut(), negotiated, &mut migrated) {
                let code = app.close_code();
                conn.close(now, code, e.as_bytes());
                io.flush(ep);
                return Err(e);
            }
            if !announced && conn.is_established() {
                announced = true;
                eprintln!("{}", common::handshake_line("h3-client", conn));
                // v2: the server must have moved the connection to version 2.
                if self.case == TestCase::V2 && conn.version() != quic_wire::Version::V2 {
                    let e = format!("negotiated {:?}, not version 2", conn.version());
                    conn.close(now, VarInt::from_u32(0), e.as_bytes());
                    io.flush(ep);
                    return Err(e);
                }
            }
            if key_update_pending && conn.is_handshake_confirmed() {
                // Refused until a packet of the current key phase was acknowledged.
                key_update_pending = !conn.initiate_key_update(now);
            }
            if key_update_pending && conn.is_closed() {
                return Err("connection closed before the key update".into());
            }
            if app.remaining() == 0 {
                let since = *done_at.get_or_insert(now);
                let ticket_wait = wait_ticket
                    && self.tickets.count() == 0
                    && !conn.is_closed()
                    && now.saturating_duration_since(since) < TICKET_WAIT;
                let waited = now.saturating_duration_since(since);
                let migration_wait = migration_wanted
                    && migrated.is_none()
                    && !conn.is_closed()
                    && waited < MIGRATION_WAIT;
                if !ticket_wait && !key_update_pending && !migration_wait {
                    let on_preferred = migration_wanted.then(|| {
                        // RFC 9000 §9.6.1: after a successful validation "the client SHOULD
                        // begin sending all future packets to the new server address".
                        conn.remote_address()
                            .filter(|r| migrated == Some(*r) && *r != self.target.remote)
                    });
                    conn.close(now, VarInt::from_u32(0), b"done");
                    linger(io, ep, h)?;
                    return match on_preferred {
                        Some(Some(remote)) => {
                            eprintln!("h3-client: ended on the preferred address {remote}");
                            Ok(())
                        }
                        Some(None) => Err(format!(
                            "the connection did not end on the server's preferred address \
                             (moved to {migrated:?}, started at {})",
                            self.target.remote
                        )),
                        None => Ok(()),
                    };
                }
            }
            io.flush(ep);
            io.wait(ep).map_err(|e| format!("socket: {e}"))?;
        }
    }
}

/// After `close`: runs the loop until the connection is over (it repeats its
/// CONNECTION_CLOSE for three PTOs, RFC 9000 §10.2.1) and at least `MIN_LINGER` has
/// passed, at most `MAX_LINGER`. The peer, which drains for about as long, can finish
/// closing (and, for aioquic, write its qlog) before a test harness stops it because we
/// exited.
fn linger(io: &mut Io, ep: &mut Endpoint, h: ConnectionHandle) -> Result<(), String> {
    let start = io.clock.now();
    loop {
        io.flush(ep);
        let over = ep.connection(h).is_none_or(|c| c.is_drained());
        let elapsed = io.clock.now().saturating_duration_since(start);
        if (over && elapsed >= MIN_LINGER) || elapsed >= MAX_LINGER {
            return Ok(());
        }
        io.wait_at_most(ep, MIN_LINGER / 4)
            .map_err(|e| format!("socket: {e}"))?;
    }
}

/// Step 2 of the loop: the connection's events, then application calls.
/// `migrated` is set to the server address the connection moved to, if it did.
fn step(
    conn: &mut Connection,
    app: &mut dyn Fetcher,
    negotiated: &mut Option<VersionNegotiated>,
    migrated: &mut Option<SocketAddr>,
) -> Result<(), String> {
    while let Some(event) = conn.poll_event() {
        if let Event::Closed(ConnectionError::VersionNegotiation(vn)) = &event {
            *negotiated = Some(*vn);
        }
        match event {
            // The library validated a new path and moved there: the server's preferred
            // address (RFC 9000 §9.6.1) is the only move this client does not make itself.
            Event::Migrated { local, remote } => {
                eprintln!("h3-client: migrated to {remote} (local {local})");
                *migrated = Some(remote);
            }
            Event::Connected => app.start(conn, false)?,
            Event::Stream(e) => app.on_stream_event(conn, e)?,
            // Closed after the last download is fine (the server may close first).
            Event::Closed(e) if app.remaining() > 0 => {
                return Err(format!("connection closed: {e}"))
            }
            _ => {}
        }
    }
    app.poll(conn)
}

fn connection(ep: &mut Endpoint, h: ConnectionHandle) -> Result<&mut Connection, String> {
    ep.connection(h)
        .ok_or_else(|| "connection removed".to_owned())
}

/// A protocol that fetches files on a connection.
trait Fetcher {
    /// Sends the requests: when the handshake completed, or with `early` right after
    /// `connect`, as 0-RTT data (protocols that cannot send early ignore that call).
    fn start(&mut self, conn: &mut Connection, early: bool) -> Result<(), String>;
    /// A stream event of the connection.
    fn on_stream_event(&mut self, conn: &mut Connection, e: StreamEvent) -> Result<(), String>;
    /// Once per turn of the loop: send what waited for room.
    fn poll(&mut self, conn: &mut Connection) -> Result<(), String>;
    /// Downloads not complete yet.
    fn remaining(&self) -> usize;
    /// The application error code to close the connection with after an `Err`.
    fn close_code(&self) -> VarInt {
        VarInt::from_u32(0)
    }
}

// ---- HTTP/0.9 over QUIC (hq-interop) ----

/// hq-interop: `GET /path\r\n` on a bidirectional stream, the bare file back.
struct HqFetcher {
    downloads: Vec<Download>,
    /// Streams opened beyond the server's limit wait without an ID.
    pending: HashMap<PendingId, usize>,
    streams: HashMap<StreamId, usize>,
    remaining: usize,
    started: bool,
}

impl HqFetcher {
    fn new(downloads: Vec<Download>) -> Self {
        HqFetcher {
            remaining: downloads.len(),
            downloads,
            pending: HashMap::new(),
            streams: HashMap::new(),
            started: false,
        }
    }

    /// Reads what arrived on a response stream.
    fn read(&mut self, conn: &mut Connection, id: StreamId) -> Result<(), String> {
        let Some(&i) = self.streams.get(&id) else {
            return Ok(());
        };
        let d = &mut self.downloads[i];
        loop {
            let chunk = conn
                .streams()
                .read_chunk(id, usize::MAX)
                .map_err(|e| format!("{}: {e}", d.path))?;
            d.body.extend_from_slice(&chunk.data);
            if chunk.fin {
                d.save()?;
                self.streams.remove(&id);
                self.remaining -= 1;
                return Ok(());
            }
            if chunk.data.is_empty() {
                return Ok(());
            }
        }
    }
}

impl Fetcher for HqFetcher {
    fn start(&mut self, conn: &mut Connection, early: bool) -> Result<(), String> {
        if std::mem::replace(&mut self.started, true) {
            return Ok(()); // sent early already
        }
        // Every request at once: streams past the server's limit are queued by the
        // library and start (StreamEvent::Started) as MAX_STREAMS allows.
        for (i, d) in self.downloads.iter().enumerate() {
            let s = conn.open(Dir::Bi).map_err(|e| format!("open: {e}"))?;
            if early {
                // 0-RTT data can be replayed: the application opts in per stream. A GET
                // is safe to replay.
                conn.streams()
                    .set_0rtt_allowed(s, true)
                    .map_err(|e| e.to_string())?;
            }
            let request = format!("GET {}\r\n", d.path);
            let n = conn
                .write(s, request.as_bytes())
                .map_err(|e| e.to_string())?;
            if n != request.len() {
                return Err("request did not fit the send buffer".into());
            }
            conn.finish(s).map_err(|e| e.to_string())?;
            match s {
                StreamRef::Id(id) => self.streams.insert(id, i),
                StreamRef::Pending(p) => self.pending.insert(p, i),
            };
        }
        Ok(())
    }

    fn on_stream_event(&mut self, conn: &mut Connection, e: StreamEvent) -> Result<(), String> {
        match e {
            StreamEvent::Started { pending, id } => {
                if let Some(i) = self.pending.remove(&pending) {
                    self.streams.insert(id, i);
                }
                Ok(())
            }
            StreamEvent::Readable { id } => self.read(conn, id),
            StreamEvent::Reset { id, error_code } | StreamEvent::Stopped { id, error_code } => {
                match self.streams.get(&id) {
                    Some(&i) => Err(format!(
                        "{}: stream reset with code {error_code}",
                        self.downloads[i].path
                    )),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    fn poll(&mut self, _conn: &mut Connection) -> Result<(), String> {
        Ok(())
    }

    fn remaining(&self) -> usize {
        self.remaining
    }
}

// ---- HTTP/3 ----

/// HTTP/3 GET requests, as many at once as the server's stream limit allows.
struct H3Fetcher {
    h3: H3,
    authority: String,
    downloads: Vec<Download>,
    /// The next download to request.
    next: usize,
    streams: HashMap<StreamId, usize>,
    remaining: usize,
    /// H3_NO_ERROR, or the HTTP/3 connection error that made us fail.
    close_code: VarInt,
}

impl H3Fetcher {
    fn new(downloads: Vec<Download>, authority: &str) -> Self {
        H3Fetcher {
            h3: H3::new(Side::Client, h3::Config::default()),
            authority: authority.to_owned(),
            remaining: downloads.len(),
            downloads,
            next: 0,
            streams: HashMap::new(),
            close_code: VarInt::from_u64_clamped(h3::Code::H3_NO_ERROR.0),
        }
    }

    /// Handles what the HTTP/3 session reports.
    fn on_h3_events(&mut self) -> Result<(), String> {
        while let Some(event) = self.h3.poll_event() {
            match event {
                h3::Event::Response { stream, fields } => {
                    let status = fields.iter().find(|f| &f.name[..] == b":status");
                    if status.is_none_or(|f| &f.value[..] != b"200") {
                        return Err(format!("stream {stream:?}: status {status:?}"));
                    }
                }
                h3::Event::Data { stream, data } => {
                    if let Some(&i) = self.streams.get(&stream) {
                        self.downloads[i].body.extend_from_slice(&data);
                    }
                }
                h3::Event::Finished { stream } => {
                    if let Some(i) = self.streams.remove(&stream) {
                        self.downloads[i].save()?;
                        self.remaining -= 1;
                    }
                }
                h3::Event::StreamAborted { stream, code, .. }
                    if self.streams.contains_key(&stream) =>
                {
                    return Err(format!("stream {stream:?} aborted: {code:?}"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Fetcher for H3Fetcher {
    fn start(&mut self, conn: &mut Connection, early: bool) -> Result<(), String> {
        if early {
            return Ok(()); // HTTP/3 here waits for the handshake (SETTINGS first)
        }
        self.h3
            .start(conn)
            .map_err(|e| format!("HTTP/3 start: {e:?}"))?;
        self.poll(conn)
    }

    fn on_stream_event(&mut self, conn: &mut Connection, e: StreamEvent) -> Result<(), String> {
        if let Err(e) = common::h3_stream_event(&mut self.h3, conn, e) {
            self.close_code = VarInt::from_u64_clamped(e.code.0);
            return Err(format!("HTTP/3: {}", e.reason));
        }
        self.on_h3_events()
    }

    fn poll(&mut self, conn: &mut Connection) -> Result<(), String> {
        self.h3.flush(conn);
        if !self.h3.is_started() {
            return Ok(());
        }
        while let Some(d) = self.downloads.get(self.next) {
            let request = [
                Field::new(":method", "GET"),
                Field::new(":scheme", "https"),
                Field::new(":authority", Bytes::from(self.authority.clone())),
                Field::new(":path", Bytes::from(d.path.clone())),
            ];
            match self.h3.send_request(conn, &request, true) {
                Ok(id) => {
                    self.streams.insert(id, self.next);
                    self.next += 1;
                }
                // The server's stream limit: the rest goes out as streams close.
                Err(SendError::Transport(
                    TransportError::StreamLimit | TransportError::Blocked,
                )) => break,
                Err(e) => return Err(format!("{}: request refused: {e:?}", d.path)),
            }
        }
        Ok(())
    }

    fn remaining(&self) -> usize {
        self.remaining
    }

    fn close_code(&self) -> VarInt {
        self.close_code
    }
}
