//! `cargo xtask demo`: our HTTP/3 server and client, in one process on loopback, transfer
//! one large file and many small ones on one connection, check every byte, and print what
//! the connection and its streams did.
//!
//! ```text
//! cargo run --release -p quic-conn --example demo
//! ```
//!
//! Both ends are the sans-IO [`Endpoint`] driven by the plain UDP event loop of
//! `common/mod.rs` ([`common::Io`]), each on its own thread with its own socket. The server
//! certificate is a self-signed ECDSA P-256 one made at start, which the client verifies.
//! The files are written to `target/demo/www`, the TLS secrets to `target/demo/keylog.txt`
//! (NSS key log format, for Wireshark). The exit status is 0 only when every download is
//! complete and identical to its source.

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Clock, Io};
use quic_conn::conn::{PathStats, Stats};
use quic_conn::tls::rustls::RustlsConfig;
use quic_conn::{Connection, Endpoint, EndpointConfig, EndpointEvent, Event};
use quic_streams::h3::{self, Field, SendError, TransportError, H3};
use quic_streams::{StreamEvent, StreamStats};
use quic_wire::{Dir, Instant, PathId, Side, StreamId, VarInt};

/// Where the demo writes its files, below the workspace root.
const DEMO_DIR: &str = "target/demo";

/// Where both ends write their qlog files (set once in `main`).
static QLOG_DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// The large file's size in MiB, unless `--large-mib` says otherwise.
const LARGE_MIB: usize = 64;
/// How many small files, unless `--small` says otherwise, and each one's size.
const SMALL_COUNT: usize = 200;
const SMALL_SIZE: usize = 16 << 10;
const USAGE: &str = "usage: demo [--large-mib N] [--small N]";
/// The name the certificate is issued for and the client asks for.
const SERVER_NAME: &str = "localhost";
/// The whole transfer must finish within this, and data keep coming at least this often.
const TIME_LIMIT: Duration = Duration::from_secs(50);
const STALL_LIMIT: Duration = Duration::from_secs(5);
/// How long the client waits, after the last byte, for its streams to close (so their
/// statistics are final).
const SETTLE: Duration = Duration::from_secs(2);
/// The most body bytes the server hands a stream at once.
const CHUNK: usize = 64 * 1024;
/// How often the progress bar is redrawn on a terminal, and printed otherwise.
const REDRAW_TERMINAL: Duration = Duration::from_millis(100);
const REDRAW_PLAIN: Duration = Duration::from_secs(1);

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(1);
        }
    }
}

fn run() -> Result<(), String> {
    let started = std::time::Instant::now();
    let args = common::Args::parse(&["--large-mib", "--small"], &[])
        .map_err(|e| format!("{e}\n{USAGE}"))?;
    let number = |flag, default| match args.value(flag) {
        Some(v) => v
            .parse()
            .map_err(|_| format!("{flag}: not a number\n{USAGE}")),
        None => Ok(default),
    };
    let large = number("--large-mib", LARGE_MIB)?;
    let small = number("--small", SMALL_COUNT)?;
    let dir = demo_dir();
    let www = dir.join("www");
    let files = file_set(large << 20, small);
    write_files(&www, &files)?;
    let keylog = dir.join("keylog.txt");
    let qlog = dir.join("qlog");
    if cfg!(feature = "qlog") {
        // Fresh traces each run.
        let _ = std::fs::remove_dir_all(&qlog);
        if let Err(e) = std::fs::create_dir_all(&qlog) {
            eprintln!("demo: cannot create {}: {e}", qlog.display());
        }
        let _ = QLOG_DIR.set(qlog.display().to_string());
    }
    // The key log appends: start it afresh.
    let _ = std::fs::remove_file(&keylog);
    let (client_tls, server_tls) = tls_configs(&keylog)?;

    let clock = Clock::new();
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let server_io = Io::bind(loopback, clock).map_err(|e| format!("server socket: {e}"))?;
    let server_addr = server_io.local_addr();
    let client_io = Io::bind(loopback, clock).map_err(|e| format!("client socket: {e}"))?;
    println!(
        "demo: HTTP/3 server on {server_addr}, client on {}; {} ({}) and {small} x {} \
         from {}",
        client_io.local_addr(),
        files[0].name,
        size(files[0].size as u64),
        size(SMALL_SIZE as u64),
        www.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        let www = www.clone();
        std::thread::spawn(move || serve(server_io, server_tls, &www, &stop))
    };
    let client = fetch(client_io, client_tls, server_addr, &files, &www);
    stop.store(true, Ordering::Relaxed);
    let server = server
        .join()
        .map_err(|_| "the server thread panicked".to_owned())??;
    let client = client?;

    print_report(&client, &server, &files);
    println!();
    println!("keylog: {} (NSS key log format)", keylog.display());
    if cfg!(feature = "qlog") {
        println!(
            "qlog:   {} (one JSON-SEQ file per end; opens in qvis)",
            qlog.display()
        );
    } else {
        println!("qlog:   not written (built without the `qlog` feature)");
    }
    println!("demo:   done in {:.1} s", started.elapsed().as_secs_f64());
    match client.failures.as_slice() {
        [] => Ok(()),
        failures => Err(format!(
            "{} download(s) wrong or incomplete: {}",
            failures.len(),
            failures.join("; ")
        )),
    }
}

// ---- the files ----

/// One file of the set.
struct FileSpec {
    name: String,
    size: usize,
}

/// `target/demo` of the workspace, wherever the demo is run from.
fn demo_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root).join(DEMO_DIR)
}

/// The large file first, then the small ones.
fn file_set(large: usize, small: usize) -> Vec<FileSpec> {
    let mut files = vec![FileSpec {
        name: "large.bin".into(),
        size: large,
    }];
    files.extend((0..small).map(|i| FileSpec {
        name: format!("small-{i:03}.bin"),
        size: SMALL_SIZE,
    }));
    files
}

/// Deterministic, incompressible-looking content: xorshift64* words seeded by the name.
fn content(name: &str, size: usize) -> Vec<u8> {
    let mut state = name.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(size);
    out
}

/// Writes every file of the set into `www`.
fn write_files(www: &Path, files: &[FileSpec]) -> Result<(), String> {
    std::fs::create_dir_all(www).map_err(|e| format!("{}: {e}", www.display()))?;
    for f in files {
        let path = www.join(&f.name);
        std::fs::write(&path, content(&f.name, f.size))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

// ---- TLS ----

/// Client and server configurations around a fresh self-signed certificate; the client
/// trusts only it and logs its secrets to `keylog`.
fn tls_configs(keylog: &Path) -> Result<(RustlsConfig, RustlsConfig), String> {
    let cert = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()])
        .map_err(|e| format!("certificate: {e}"))?;
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let provider = common::tls::crypto_provider(common::TestCase::Transfer);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).map_err(|e| format!("root: {e}"))?;
    let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"h3".to_vec()];
    client.key_log = common::tls::key_log_file(keylog)?;

    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .map_err(|e| format!("certificate or key: {e}"))?;
    server.alpn_protocols = vec![b"h3".to_vec()];
    Ok((
        RustlsConfig::Client(Arc::new(client)),
        RustlsConfig::Server(Arc::new(server)),
    ))
}

// ---- what each side reports ----

/// A connection's counters at the end, and the time they cover.
#[derive(Clone, Copy)]
struct ConnReport {
    stats: Stats,
    path: Option<PathStats>,
    /// Client: from `connect` to the last file's last byte. Server: from the first packet
    /// to the last response stream's close (every byte acknowledged).
    duration: Duration,
}

impl ConnReport {
    fn of(conn: &Connection, duration: Duration) -> Self {
        ConnReport {
            stats: conn.stats(),
            path: conn.path_stats(PathId::ZERO),
            duration,
        }
    }
}

/// What the server thread hands back.
struct ServerReport {
    conn: Option<ConnReport>,
    /// The request streams' statistics, by stream.
    streams: HashMap<StreamId, StreamStats>,
}

/// What the client hands back.
struct ClientReport {
    conn: ConnReport,
    /// The request streams, in file order (`None`: never opened or never closed).
    streams: Vec<Option<(StreamId, StreamStats)>>,
    /// What went wrong with which file.
    failures: Vec<String>,
}

// ---- the server ----

/// Serves `www` over HTTP/3 to the demo's one connection until `stop` is set.
fn serve(
    mut io: Io,
    tls: RustlsConfig,
    www: &Path,
    stop: &AtomicBool,
) -> Result<ServerReport, String> {
    let mut config = EndpointConfig {
        server_tls: Some(Arc::new(tls)),
        connection: counting_frames(),
        ..EndpointConfig::default()
    };
    common::qlog_accepted(&mut config, QLOG_DIR.get().map(String::as_str));
    let mut ep = Endpoint::new(config, common::system_rng());
    let mut session: Option<(quic_conn::ConnectionHandle, Server)> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = io.clock.now();
        while let Some(event) = ep.poll_event() {
            if let (EndpointEvent::Accepted(h), None) = (event, &session) {
                session = Some((h, Server::new(now)));
            }
        }
        if let Some((h, server)) = &mut session {
            if let Some(conn) = ep.connection(*h) {
                server.step(conn, now, www);
            }
        }
        io.flush(&mut ep);
        io.wait_at_most(&mut ep, Duration::from_millis(20))
            .map_err(|e| format!("server socket: {e}"))?;
    }
    Ok(match session {
        Some((_, server)) => ServerReport {
            conn: server.report,
            streams: server.closed,
        },
        None => ServerReport {
            conn: None,
            streams: HashMap::new(),
        },
    })
}

/// The server's HTTP/3 session on the connection.
struct Server {
    h3: Option<H3>,
    /// Response bodies still being handed to their streams.
    bodies: HashMap<StreamId, Body>,
    /// Request streams that closed, with their final statistics.
    closed: HashMap<StreamId, StreamStats>,
    accepted: Instant,
    /// When the last request stream closed.
    last_closed: Instant,
    report: Option<ConnReport>,
}

/// A response body and how much of it the stream took.
struct Body {
    data: Bytes,
    sent: usize,
}

impl Server {
    fn new(now: Instant) -> Self {
        Server {
            h3: None,
            bodies: HashMap::new(),
            closed: HashMap::new(),
            accepted: now,
            last_closed: now,
            report: None,
        }
    }

    /// Handles the connection's events, writes bodies as room allows, notes the counters.
    fn step(&mut self, conn: &mut Connection, now: Instant, www: &Path) {
        let closed_before = self.closed.len();
        while let Some(event) = conn.poll_event() {
            if self.h3.is_none() && conn.alpn().is_some() {
                let mut h3 = H3::new(Side::Server, h3::Config::default());
                if h3.start(conn).is_err() {
                    let code = h3_code(h3::Code::H3_INTERNAL_ERROR);
                    conn.close(now, code, b"cannot start HTTP/3");
                    return;
                }
                self.h3 = Some(h3);
            }
            if let Event::Stream(e) = event {
                if let Err(e) = self.on_stream_event(conn, e, now, www) {
                    common::close_on_h3_error(conn, now, e);
                }
            }
        }
        self.pump(conn);
        // The counters as of the last response fully acknowledged.
        if self.closed.len() > closed_before {
            let duration = self.last_closed.saturating_duration_since(self.accepted);
            self.report = Some(ConnReport::of(conn, duration));
        }
    }

    fn on_stream_event(
        &mut self,
        conn: &mut Connection,
        e: StreamEvent,
        now: Instant,
        www: &Path,
    ) -> Result<(), h3::H3Error> {
        if let StreamEvent::Closed { id, stats } = e {
            if id.dir() == Dir::Bi {
                self.closed.insert(id, stats);
                self.last_closed = now;
            }
        }
        let Some(h3) = &mut self.h3 else {
            return Ok(());
        };
        common::h3_stream_event(h3, conn, e)?;
        while let Some(event) = h3.poll_event() {
            match event {
                h3::Event::Request { stream, fields, .. } => {
                    if let Some(body) = respond(h3, conn, stream, &fields, www) {
                        self.bodies.insert(stream, body);
                    }
                }
                h3::Event::StreamAborted { stream, .. } => {
                    self.bodies.remove(&stream);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Hands every body its next chunks while its stream has room.
    fn pump(&mut self, conn: &mut Connection) {
        let Some(h3) = &mut self.h3 else {
            return;
        };
        h3.flush(conn);
        self.bodies.retain(|&id, body| loop {
            // Keep room for an HTTP/3 DATA frame header.
            let room = conn
                .streams()
                .write_room(id)
                .unwrap_or(0)
                .saturating_sub(16);
            let left = body.data.len() - body.sent;
            let n = left.min(CHUNK).min(usize::try_from(room).unwrap_or(CHUNK));
            if n == 0 {
                return true;
            }
            let chunk = body.data.slice(body.sent..body.sent + n);
            let fin = n == left;
            match h3.send_data(conn, id, chunk, fin) {
                Ok(()) if fin => return false,
                Ok(()) => body.sent += n,
                Err(SendError::Transport(TransportError::Blocked)) => return true,
                // E.g. the client reset the stream; cancelling then is harmless.
                Err(_) => {
                    h3.cancel(conn, id, h3::Code::H3_INTERNAL_ERROR);
                    return false;
                }
            }
        });
    }
}

/// Answers a GET with 200 and the file (returned, to be streamed), anything else with 404.
fn respond(
    h3: &mut H3,
    conn: &mut Connection,
    stream: StreamId,
    fields: &[Field],
    www: &Path,
) -> Option<Body> {
    let get = |name: &[u8]| {
        fields
            .iter()
            .find(|f| &f.name[..] == name)
            .and_then(|f| std::str::from_utf8(&f.value).ok())
    };
    let data = match (get(b":method"), get(b":path").and_then(common::file_name)) {
        (Some("GET"), Some(name)) => std::fs::read(www.join(name)).ok(),
        _ => None,
    };
    let Some(data) = data else {
        let _ = h3.send_response(conn, stream, &[Field::new(":status", "404")], true);
        return None;
    };
    let head = [
        Field::new(":status", "200"),
        Field::new("content-length", Bytes::from(data.len().to_string())),
    ];
    if h3
        .send_response(conn, stream, &head, data.is_empty())
        .is_err()
    {
        h3.cancel(conn, stream, h3::Code::H3_INTERNAL_ERROR);
        return None;
    }
    (!data.is_empty()).then(|| Body {
        data: Bytes::from(data),
        sent: 0,
    })
}

// ---- the client ----

/// One file to fetch and check.
struct Download {
    path: String,
    /// The source file's bytes, to check against.
    expected: Vec<u8>,
    received: usize,
    stream: Option<StreamId>,
    done: bool,
    stats: Option<StreamStats>,
}

/// The client's HTTP/3 session: requests every file, checks every byte.
struct Client {
    h3: H3,
    downloads: Vec<Download>,
    /// The next download to request.
    next: usize,
    by_stream: HashMap<StreamId, usize>,
    failures: Vec<String>,
    progress: Progress,
}

/// Downloads every file over one connection to `server`; checks each against `www`.
fn fetch(
    mut io: Io,
    tls: RustlsConfig,
    server: SocketAddr,
    files: &[FileSpec],
    www: &Path,
) -> Result<ClientReport, String> {
    let mut downloads = Vec::with_capacity(files.len());
    for f in files {
        let path = www.join(&f.name);
        downloads.push(Download {
            path: format!("/{}", f.name),
            expected: std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            received: 0,
            stream: None,
            done: false,
            stats: None,
        });
    }
    let total = downloads.iter().map(|d| d.expected.len() as u64).sum();
    let mut client = Client {
        h3: H3::new(Side::Client, h3::Config::default()),
        downloads,
        next: 0,
        by_stream: HashMap::new(),
        failures: Vec::new(),
        progress: Progress::new(total, files.len()),
    };
    let config = EndpointConfig {
        connection: counting_frames(),
        ..EndpointConfig::default()
    };
    let mut ep = Endpoint::new(config, common::system_rng());
    let start = io.clock.now();
    let h = ep
        .connect(start, Arc::new(tls), SERVER_NAME, io.local_addr(), server)
        .map_err(|e| format!("connect: {e}"))?;
    if let Some(conn) = ep.connection(h) {
        common::start_qlog(QLOG_DIR.get().map(String::as_str), conn, start, "client");
    }
    let mut done_at = None;
    let mut report = None;
    loop {
        let now = io.clock.now();
        let Some(conn) = ep.connection(h) else {
            return Err(format!(
                "the connection is gone; not finished: {}",
                client.left()
            ));
        };
        if let Err(e) = client.step(conn, now) {
            client.progress.finish(now);
            conn.close(now, h3_code(h3::Code::H3_INTERNAL_ERROR), e.as_bytes());
            io.flush(&mut ep);
            return Err(e);
        }
        client.progress.draw(now, false);
        if client.remaining() == 0 {
            let done = *done_at.get_or_insert_with(|| {
                client.progress.finish(now);
                report = Some(ConnReport::of(conn, now.saturating_duration_since(start)));
                now
            });
            // The connection's counters are those of the last byte (`report`); the
            // streams' statistics are final once they closed.
            let settled = client.downloads.iter().all(|d| d.stats.is_some());
            if settled || now.saturating_duration_since(done) > SETTLE || conn.is_closed() {
                conn.close(now, h3_code(h3::Code::H3_NO_ERROR), b"done");
                linger(&mut io, &mut ep, h)?;
                break;
            }
        } else if let Some(why) = client.too_slow(now, start) {
            client.progress.finish(now);
            let left = client.left();
            conn.close(now, h3_code(h3::Code::H3_INTERNAL_ERROR), why.as_bytes());
            io.flush(&mut ep);
            return Err(format!("{why}; not finished: {left}"));
        }
        io.flush(&mut ep);
        io.wait_at_most(&mut ep, REDRAW_TERMINAL)
            .map_err(|e| format!("client socket: {e}"))?;
    }
    Ok(ClientReport {
        conn: report.ok_or("no report")?,
        streams: client
            .downloads
            .iter()
            .map(|d| d.stream.zip(d.stats))
            .collect(),
        failures: client.failures,
    })
}

/// An HTTP/3 error code as a QUIC application error code.
fn h3_code(code: h3::Code) -> VarInt {
    VarInt::from_u64_clamped(code.0)
}

/// After `close`: runs the loop until the connection is over, at most a second, so the
/// server hears the CONNECTION_CLOSE.
fn linger(io: &mut Io, ep: &mut Endpoint, h: quic_conn::ConnectionHandle) -> Result<(), String> {
    let start = io.clock.now();
    while io.clock.now().saturating_duration_since(start) < Duration::from_secs(1) {
        io.flush(ep);
        if ep.connection(h).is_none_or(|c| c.is_drained()) {
            break;
        }
        io.wait_at_most(ep, Duration::from_millis(50))
            .map_err(|e| format!("client socket: {e}"))?;
    }
    Ok(())
}

impl Client {
    /// Downloads not finished yet (complete, or failed).
    fn remaining(&self) -> usize {
        self.downloads.iter().filter(|d| !d.done).count()
    }

    /// The first few downloads not finished yet.
    fn left(&self) -> String {
        let left: Vec<&str> = self
            .downloads
            .iter()
            .filter(|d| !d.done)
            .map(|d| d.path.as_str())
            .collect();
        match left.len() {
            0..=5 => left.join(", "),
            n => format!("{} and {} more", left[..5].join(", "), n - 5),
        }
    }

    /// Why the transfer is given up, if it is: over the time limit, or stalled.
    fn too_slow(&self, now: Instant, start: Instant) -> Option<String> {
        let last = self.progress.last_byte.unwrap_or(start);
        if now.saturating_duration_since(start) > TIME_LIMIT {
            Some(format!("not done after {} s", TIME_LIMIT.as_secs()))
        } else if now.saturating_duration_since(last) > STALL_LIMIT {
            Some(format!("no data for {} s", STALL_LIMIT.as_secs()))
        } else {
            None
        }
    }

    /// The connection's events, then as many requests as the stream limit allows.
    fn step(&mut self, conn: &mut Connection, now: Instant) -> Result<(), String> {
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Connected => self
                    .h3
                    .start(conn)
                    .map_err(|e| format!("HTTP/3 start: {e:?}"))?,
                Event::Stream(e) => self.on_stream_event(conn, e, now)?,
                Event::Closed(e) if self.remaining() > 0 => {
                    return Err(format!("connection closed: {e}"))
                }
                _ => {}
            }
        }
        self.request(conn)
    }

    fn on_stream_event(
        &mut self,
        conn: &mut Connection,
        e: StreamEvent,
        now: Instant,
    ) -> Result<(), String> {
        if let StreamEvent::Closed { id, stats } = e {
            if let Some(&i) = self.by_stream.get(&id) {
                self.downloads[i].stats = Some(stats);
            }
        }
        common::h3_stream_event(&mut self.h3, conn, e)
            .map_err(|e| format!("HTTP/3: {}", e.reason))?;
        while let Some(event) = self.h3.poll_event() {
            match event {
                h3::Event::Response { stream, fields } => {
                    let status = fields.iter().find(|f| &f.name[..] == b":status");
                    if status.is_none_or(|f| &f.value[..] != b"200") {
                        self.fail(stream, "status is not 200".into());
                    }
                }
                h3::Event::Data { stream, data } => self.on_data(stream, &data, now),
                h3::Event::Finished { stream } => self.on_finished(stream),
                h3::Event::StreamAborted { stream, code, .. } => {
                    self.fail(stream, format!("aborted with {code:?}"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks body bytes against the source file as they arrive.
    fn on_data(&mut self, stream: StreamId, data: &[u8], now: Instant) {
        let Some(d) = self.download(stream) else {
            return;
        };
        let at = d.received;
        d.received += data.len();
        let expected = d.expected.get(at..).unwrap_or_default();
        let wrong = if data.len() > expected.len() {
            Some(format!("more than the source's {} bytes", d.expected.len()))
        } else {
            let first = data.iter().zip(expected).position(|(a, b)| a != b);
            first.map(|i| format!("byte {} differs from the source", at + i))
        };
        self.progress.add(data.len() as u64, now);
        if let Some(why) = wrong {
            self.fail(stream, why);
        }
    }

    fn on_finished(&mut self, stream: StreamId) {
        let Some(d) = self.download(stream) else {
            return;
        };
        if d.received != d.expected.len() {
            let msg = format!("{} of {} bytes", d.received, d.expected.len());
            self.fail(stream, msg);
        } else {
            d.done = true;
            self.progress.files_done += 1;
        }
    }

    /// The download on `stream`, if it is still going.
    fn download(&mut self, stream: StreamId) -> Option<&mut Download> {
        let &i = self.by_stream.get(&stream)?;
        let d = &mut self.downloads[i];
        (!d.done).then_some(d)
    }

    /// Records a failure; the download counts as over.
    fn fail(&mut self, stream: StreamId, why: String) {
        if let Some(d) = self.download(stream) {
            d.done = true;
            let msg = format!("{}: {why}", d.path);
            self.failures.push(msg);
        }
    }

    /// Sends requests while the server's stream limit allows.
    fn request(&mut self, conn: &mut Connection) -> Result<(), String> {
        self.h3.flush(conn);
        if !self.h3.is_started() {
            return Ok(());
        }
        while let Some(d) = self.downloads.get_mut(self.next) {
            let request = [
                Field::new(":method", "GET"),
                Field::new(":scheme", "https"),
                Field::new(":authority", SERVER_NAME),
                Field::new(":path", Bytes::from(d.path.clone())),
            ];
            match self.h3.send_request(conn, &request, true) {
                Ok(id) => {
                    d.stream = Some(id);
                    self.by_stream.insert(id, self.next);
                    self.next += 1;
                }
                // The rest goes out as streams close.
                Err(SendError::Transport(
                    TransportError::StreamLimit | TransportError::Blocked,
                )) => break,
                Err(e) => return Err(format!("{}: request refused: {e:?}", d.path)),
            }
        }
        Ok(())
    }
}

// ---- the progress bar ----

/// A progress bar on stderr: redrawn in place on a terminal, a line a second otherwise.
struct Progress {
    total: u64,
    received: u64,
    files: usize,
    files_done: usize,
    started: Option<Instant>,
    /// When the latest body bytes arrived.
    last_byte: Option<Instant>,
    last_draw: Option<Instant>,
    terminal: bool,
}

impl Progress {
    fn new(total: u64, files: usize) -> Self {
        Progress {
            total,
            received: 0,
            files,
            files_done: 0,
            started: None,
            last_byte: None,
            last_draw: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn add(&mut self, n: u64, now: Instant) {
        if n == 0 {
            return;
        }
        self.started.get_or_insert(now);
        self.last_byte = Some(now);
        self.received += n;
    }

    /// Draws the bar if it is time to (or always, with `force`).
    fn draw(&mut self, now: Instant, force: bool) {
        let every = if self.terminal {
            REDRAW_TERMINAL
        } else {
            REDRAW_PLAIN
        };
        // The first line comes one interval after the first byte.
        let due = self
            .last_draw
            .or(self.started)
            .is_some_and(|t| now.saturating_duration_since(t) >= every);
        if !(force || due) {
            return;
        }
        self.last_draw = Some(now);
        let fraction = self.received as f64 / self.total.max(1) as f64;
        let elapsed = self
            .started
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        let line = format!(
            "{} {:5.1}% {:>10} / {}  {:>10}  files {}/{}",
            bar(fraction, 30),
            fraction * 100.0,
            mib(self.received),
            mib(self.total),
            rate(self.received, elapsed),
            self.files_done,
            self.files
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    /// The final state, and a new line on a terminal.
    fn finish(&mut self, now: Instant) {
        self.draw(now, true);
        if self.terminal {
            eprintln!();
        }
    }
}

/// `[#####.....]` for a fraction in 0..=1.
fn bar(fraction: f64, width: usize) -> String {
    let full = ((fraction.clamp(0.0, 1.0) * width as f64) as usize).min(width);
    format!("[{}{}]", "#".repeat(full), ".".repeat(width - full))
}

/// Connection settings for both ends: the defaults, with sent frames counted for the
/// report.
fn counting_frames() -> quic_conn::Config {
    quic_conn::Config {
        frame_stats: true,
        ..quic_conn::Config::default()
    }
}

// ---- the report ----

fn print_report(client: &ClientReport, server: &ServerReport, files: &[FileSpec]) {
    println!();
    print_connections(client, server);
    println!();
    print_streams(client, server, files);
}

/// The per-connection table: one row per counter, one column per side.
fn print_connections(client: &ClientReport, server: &ServerReport) {
    let c = &client.conn;
    let s = server.conn.as_ref();
    let client_streams: Vec<StreamStats> =
        client.streams.iter().flatten().map(|(_, s)| *s).collect();
    let server_streams: Vec<StreamStats> = server.streams.values().copied().collect();
    let frames = |v: &[StreamStats]| {
        pair(
            v.iter().map(|s| s.frames_sent).sum::<u64>(),
            v.iter().map(|s| s.frames_received).sum::<u64>(),
        )
    };
    let payload = |v: &[StreamStats]| {
        format!(
            "{} / {}",
            size(v.iter().map(|s| s.bytes_sent).sum()),
            size(v.iter().map(|s| s.bytes_received).sum())
        )
    };
    let retransmitted = |v: &[StreamStats]| size(v.iter().map(|s| s.bytes_retransmitted).sum());
    type Row = fn(&ConnReport) -> String;
    let rows: [(&str, Row); 15] = [
        ("packets sent / received", |r| {
            pair(r.stats.packets_sent, r.stats.packets_received)
        }),
        ("frames sent / received", |r| {
            pair(r.stats.frames_sent.total(), r.stats.frames_received.total())
        }),
        ("  STREAM", |r| {
            pair(r.stats.frames_sent.stream, r.stats.frames_received.stream)
        }),
        ("  ACK", |r| {
            pair(r.stats.frames_sent.ack, r.stats.frames_received.ack)
        }),
        ("  flow control (MAX_*)", |r| {
            pair(
                r.stats.frames_sent.flow_control,
                r.stats.frames_received.flow_control,
            )
        }),
        ("datagrams sent / received", |r| {
            pair(r.stats.datagrams_sent, r.stats.datagrams_received)
        }),
        ("UDP bytes sent / received", |r| {
            format!(
                "{} / {}",
                size(r.stats.bytes_sent),
                size(r.stats.bytes_received)
            )
        }),
        ("packets lost", |r| r.stats.lost_packets.to_string()),
        ("probe timeouts", |r| {
            r.path.map_or("-".into(), |p| p.recovery.ptos.to_string())
        }),
        ("RTT smoothed / min", |r| {
            let min = r.path.map_or("-".into(), |p| ms(p.min_rtt));
            format!("{} / {min}", ms(r.stats.rtt))
        }),
        ("congestion window", |r| kib(r.stats.cwnd)),
        ("datagram size", |r| format!("{} B", r.stats.mtu)),
        ("duration", |r| ms(r.duration)),
        ("data rate sent / received", |r| {
            format!(
                "{} / {}",
                rate(r.stats.bytes_sent, r.duration),
                rate(r.stats.bytes_received, r.duration)
            )
        }),
        ("packet rate sent / received", |r| {
            format!(
                "{} / {}",
                per_sec(r.stats.packets_sent, r.duration),
                per_sec(r.stats.packets_received, r.duration)
            )
        }),
    ];
    let mut table = Table::new(["connection", "client", "server"], 1);
    for (name, f) in rows {
        table.row([name.to_owned(), f(c), s.map_or("-".into(), f)]);
    }
    table.row([
        "request streams' STREAM frames".into(),
        frames(&client_streams),
        frames(&server_streams),
    ]);
    table.row([
        "stream payload sent / received".into(),
        payload(&client_streams),
        payload(&server_streams),
    ]);
    table.row([
        "payload retransmitted".into(),
        retransmitted(&client_streams),
        retransmitted(&server_streams),
    ]);
    table.print();
    println!("frames: every frame of the connection by kind; the last rows count the request streams alone");
    println!("duration: client, connect to the last byte received; server, first packet to the last response acknowledged");
}

/// The large file's stream seen from both ends, and a summary of the small files.
fn print_streams(client: &ClientReport, server: &ServerReport, files: &[FileSpec]) {
    let mut table = Table::new(
        [
            "stream",
            "file",
            "side",
            "frames",
            "payload",
            "retransmitted",
            "time",
            "data rate",
        ],
        3,
    );
    if let Some(Some((id, c))) = client.streams.first() {
        let name = files.first().map_or("", |f| f.name.as_str());
        let time = span(c.first_received, c.last_received);
        table.row([
            id.into_inner().to_string(),
            name.into(),
            "client, received".into(),
            c.frames_received.to_string(),
            mib(c.bytes_received),
            "-".into(),
            ms(time),
            rate(c.bytes_received, time),
        ]);
        if let Some(s) = server.streams.get(id) {
            let time = span(s.first_sent, s.last_sent);
            table.row([
                id.into_inner().to_string(),
                name.into(),
                "server, sent".into(),
                s.frames_sent.to_string(),
                mib(s.bytes_sent),
                size(s.bytes_retransmitted),
                ms(time),
                rate(s.bytes_sent, time),
            ]);
        }
    }
    table.print();

    // The small files: request sent to last response byte, on the client.
    let small: Vec<&StreamStats> = client
        .streams
        .get(1..)
        .unwrap_or_default()
        .iter()
        .flatten()
        .map(|(_, s)| s)
        .collect();
    let mut times: Vec<Duration> = small
        .iter()
        .map(|s| span(s.first_sent, s.last_received))
        .collect();
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let bytes: u64 = small.iter().map(|s| s.bytes_received).sum();
    let first = small.iter().filter_map(|s| s.first_sent).min();
    let last = small.iter().filter_map(|s| s.last_received).max();
    let all = span(first, last);
    println!();
    println!(
        "small files: {} streams, {} received, median {} from request to last byte, \
         all {} in {} ({}, alongside the large file)",
        small.len(),
        size(bytes),
        ms(median),
        small.len(),
        ms(all),
        rate(bytes, all)
    );
}

/// The time from `a` to `b`, zero when either is unknown.
fn span(a: Option<Instant>, b: Option<Instant>) -> Duration {
    match (a, b) {
        (Some(a), Some(b)) => b.saturating_duration_since(a),
        _ => Duration::ZERO,
    }
}

/// A text table with columns sized to fit.
struct Table<const N: usize> {
    rows: Vec<[String; N]>,
    /// How many leading columns are text (left-aligned); the others are numbers.
    text_columns: usize,
}

impl<const N: usize> Table<N> {
    fn new(head: [&str; N], text_columns: usize) -> Self {
        Table {
            rows: vec![head.map(str::to_owned)],
            text_columns,
        }
    }

    fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }

    /// Text columns left-aligned, numbers right-aligned, a rule under the head.
    fn print(&self) {
        let mut widths = [0; N];
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for (i, row) in self.rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(j, (cell, w))| {
                    if j < self.text_columns {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            println!("{}", cells.join("  "));
            if i == 0 {
                let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
                println!("{}", rule.join("  "));
            }
        }
    }
}

fn pair(a: u64, b: u64) -> String {
    format!("{a} / {b}")
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// Bytes in the unit that suits them.
fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => kib(bytes),
        _ => mib(bytes),
    }
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Megabytes (10^6 bytes) per second.
fn rate(bytes: u64, d: Duration) -> String {
    if d.is_zero() {
        return "-".into();
    }
    format!("{:.1} MB/s", bytes as f64 / d.as_secs_f64() / 1e6)
}

fn per_sec(n: u64, d: Duration) -> String {
    if d.is_zero() {
        return "-".into();
    }
    format!("{:.0}/s", n as f64 / d.as_secs_f64())
}
