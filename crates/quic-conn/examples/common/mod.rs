//! What `h3-client` and `h3-server` share: the plain UDP event loop around an [`Endpoint`],
//! the clock and RNG the library asks its embedder for, TLS set-up (PEM files, cipher
//! suites, key log), the interop runner's `TESTCASE` and a small argument parser.
//!
//! # The event loop contract
//!
//! The library never touches a socket or a clock. The loop in both examples is:
//!
//! 1. feed one input: a received datagram ([`SansIo::handle_datagram`]) or, when the
//!    deadline from [`SansIo::poll_timeout`] has passed, [`SansIo::handle_timeout`];
//! 2. drain every connection's events and make application calls (open, write, read);
//! 3. drain [`SansIo::poll_transmit`] into the socket until it returns `None`;
//! 4. sleep in `recv_from` with a read timeout set to the next deadline (with several
//!    sockets: poll them, non-blocking, every millisecond until then).
//!
//! [`Io`] does steps 1, 3 and 4; each example does step 2.

// Each example uses most, not all, of this module.
#![allow(dead_code, reason = "shared by two examples that each use part of it")]

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub mod tls;

use bytes::BytesMut;
use quic_conn::endpoint::RngFactory;
use quic_conn::{DatagramMeta, Endpoint, SansIo};
use quic_wire::{Ecn, Instant};

/// Exit status telling the interop harness that a test case is not implemented.
pub const EXIT_UNSUPPORTED: i32 = 127;

/// The largest UDP datagram we can receive.
const MAX_DATAGRAM: usize = 65_535;

/// The longest the loop sleeps without a deadline, so it notices when the work is done.
const IDLE_WAKEUP: Duration = Duration::from_secs(1);

// ---- time and randomness: the embedder supplies both ----

/// Converts `std::time::Instant` to the library's `Instant` (nanoseconds since start).
#[derive(Debug, Clone, Copy)]
pub struct Clock(std::time::Instant);

impl Clock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Clock(std::time::Instant::now())
    }

    /// The current time for the library.
    pub fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

/// The operating system's RNG (through ring, via rustls' crypto provider).
struct SystemRng(&'static dyn rustls::crypto::SecureRandom);

impl rand_core::RngCore for SystemRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // Without randomness QUIC is not safe to run: stop rather than go on.
        if self.0.fill(dest).is_err() {
            eprintln!("fatal: the system RNG failed");
            std::process::exit(1);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for SystemRng {}

/// Gives every connection of an endpoint its own handle on the system RNG.
pub fn system_rng() -> RngFactory {
    let random = rustls::crypto::ring::default_provider().secure_random;
    Box::new(move || Box::new(SystemRng(random)))
}

// ---- the socket side of the event loop ----

/// How often the loop looks at its sockets while it has more than one: std has no way to
/// sleep on several sockets at once, so they are non-blocking and polled at this interval
/// (one socket blocks in `recv_from` with a read timeout instead).
const POLL_TICK: Duration = Duration::from_millis(1);

/// One or more UDP sockets driving an [`Endpoint`]: feeds it datagrams and timeouts, sends
/// what it produces. Each datagram is sent from the socket bound to its
/// [`quic_conn::Transmit::source`] (a server with a preferred address, RFC 9000 §9.6, has
/// two), the first socket when no socket matches.
pub struct Io {
    sockets: Vec<(UdpSocket, SocketAddr)>,
    /// The socket looked at first in the next poll round (round robin, so a busy socket
    /// does not starve the others).
    next: usize,
    pub clock: Clock,
    recv_buf: BytesMut,
    send_buf: Vec<u8>,
}

impl Io {
    /// Binds a UDP socket to `addr`.
    pub fn bind(addr: SocketAddr, clock: Clock) -> io::Result<Self> {
        let socket = UdpSocket::bind(addr)?;
        let local = socket.local_addr()?;
        Ok(Io {
            sockets: vec![(socket, local)],
            next: 0,
            clock,
            recv_buf: BytesMut::new(),
            send_buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// Binds one more UDP socket to `addr` and returns its local address. From then on
    /// every socket is non-blocking and polled every `POLL_TICK`.
    pub fn bind_another(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let socket = UdpSocket::bind(addr)?;
        let local = socket.local_addr()?;
        self.sockets.push((socket, local));
        for (s, _) in &self.sockets {
            s.set_nonblocking(true)?;
        }
        Ok(local)
    }

    /// The first socket's local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.sockets[0].1
    }

    /// Step 3: sends everything the endpoint has to send now.
    pub fn flush(&mut self, ep: &mut Endpoint) {
        // Bounded: `poll_transmit` returns `None` once congestion control, pacing or the
        // lack of data stops it.
        while let Some(t) = ep.poll_transmit(self.clock.now(), &mut self.send_buf) {
            let Some(data) = self.send_buf.get(..t.size) else {
                continue;
            };
            let socket = t
                .source
                .and_then(|src| self.sockets.iter().find(|(_, local)| *local == src))
                .unwrap_or(&self.sockets[0]);
            // Several same-size datagrams may come back to back (GSO); without GSO,
            // send them one by one.
            let segment = t.segment_size.unwrap_or(t.size).max(1);
            for datagram in data.chunks(segment) {
                // A non-blocking socket whose buffer is full drops the datagram: UDP is
                // unreliable anyway and the connection recovers from the loss.
                if let Err(e) = socket.0.send_to(datagram, t.destination) {
                    eprintln!("send to {}: {e}", t.destination);
                }
            }
        }
    }

    /// Steps 4 and 1: waits for a datagram, at most until the endpoint's next deadline
    /// (or `IDLE_WAKEUP`), and feeds the datagram or the timeout in.
    pub fn wait(&mut self, ep: &mut Endpoint) -> io::Result<()> {
        self.wait_at_most(ep, IDLE_WAKEUP)
    }

    /// [`Io::wait`], sleeping at most `max`.
    pub fn wait_at_most(&mut self, ep: &mut Endpoint, max: Duration) -> io::Result<()> {
        let now = self.clock.now();
        let timeout = match ep.poll_timeout() {
            Some(deadline) if deadline <= now => {
                ep.handle_timeout(now);
                return Ok(());
            }
            Some(deadline) => (deadline - now).min(max),
            None => max,
        };
        self.recv_buf.resize(MAX_DATAGRAM, 0);
        if let Some((n, remote, local)) = self.recv(timeout)? {
            let data = self.recv_buf.split_to(n);
            let meta = DatagramMeta {
                remote,
                local,
                ecn: Ecn::NotEct,
            };
            ep.handle_datagram(self.clock.now(), meta, data);
        }
        let now = self.clock.now();
        if ep.poll_timeout().is_some_and(|deadline| deadline <= now) {
            ep.handle_timeout(now);
        }
        Ok(())
    }

    /// Receives one datagram into `recv_buf` within `timeout`: its length, sender and the
    /// local address it arrived on.
    fn recv(&mut self, timeout: Duration) -> io::Result<Option<(usize, SocketAddr, SocketAddr)>> {
        if let [(socket, local)] = &self.sockets[..] {
            // A zero read timeout is an error for std; wake up a little late instead.
            socket.set_read_timeout(Some(timeout.max(Duration::from_micros(50))))?;
            return match socket.recv_from(&mut self.recv_buf) {
                Ok((n, remote)) => Ok(Some((n, remote, *local))),
                Err(e) if quiet(&e) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let end = std::time::Instant::now() + timeout;
        // Bounded by `timeout`: each round sleeps a tick unless a datagram ends it.
        loop {
            let count = self.sockets.len();
            for k in 0..count {
                let i = (self.next + k) % count;
                let (socket, local) = &self.sockets[i];
                match socket.recv_from(&mut self.recv_buf) {
                    Ok((n, remote)) => {
                        self.next = (i + 1) % count;
                        return Ok(Some((n, remote, *local)));
                    }
                    Err(e) if quiet(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(POLL_TICK));
        }
    }
}

/// Receive errors that only mean "nothing now": a timeout, an empty non-blocking socket,
/// or an ICMP "port unreachable" reported on a later call (not fatal for UDP).
fn quiet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::ConnectionRefused
    )
}

// ---- the interop runner's test cases ----

/// The `TESTCASE` values of the QUIC interop runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCase {
    Handshake,
    Transfer,
    Multiplexing,
    Http3,
    ChaCha20,
    Retry,
    Resumption,
    ZeroRtt,
    KeyUpdate,
    V2,
    /// The server offers a preferred address (RFC 9000 §9.6) and the client moves there.
    ConnectionMigration,
}

impl TestCase {
    /// Reads `TESTCASE`; unset means a plain transfer. An unknown name exits with 127.
    pub fn from_env(who: &str) -> TestCase {
        let name = std::env::var("TESTCASE").unwrap_or_default();
        let case = match name.as_str() {
            "" | "transfer" => TestCase::Transfer,
            "handshake" => TestCase::Handshake,
            "multiplexing" => TestCase::Multiplexing,
            "http3" => TestCase::Http3,
            "chacha20" => TestCase::ChaCha20,
            "retry" => TestCase::Retry,
            "resumption" => TestCase::Resumption,
            "zerortt" => TestCase::ZeroRtt,
            "keyupdate" => TestCase::KeyUpdate,
            "v2" => TestCase::V2,
            "connectionmigration" => TestCase::ConnectionMigration,
            _ => unsupported(who, &name),
        };
        case
    }

    /// The connection settings of this test case. `v2`: a client starts in version 1 and
    /// offers version 2 first in its version_information; a server prefers version 2, so
    /// compatible version negotiation (RFC 9368 §2.3) moves the connection to it.
    pub fn connection_config(self) -> quic_conn::Config {
        let mut config = quic_conn::Config::default();
        if self == TestCase::V2 {
            config.version = quic_wire::Version::V1;
            config.versions =
                quic_conn::conn::Versions::new(&[quic_wire::Version::V2, quic_wire::Version::V1])
                    .unwrap_or_default();
        }
        config
    }
}

/// Applies `--versions v2,v1` (a comma-separated list, most preferred first) to `config`:
/// a client starts in the first listed version and offers them all; a server accepts them
/// and prefers them in this order (RFC 9368).
pub fn apply_versions(
    mut config: quic_conn::Config,
    list: Option<&str>,
) -> Result<quic_conn::Config, String> {
    let Some(list) = list else {
        return Ok(config);
    };
    let versions = list
        .split(',')
        .map(|v| match v.trim() {
            "v1" | "1" => Ok(quic_wire::Version::V1),
            "v2" | "2" => Ok(quic_wire::Version::V2),
            other => Err(format!("--versions: unknown version {other:?} (v1, v2)")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let first = *versions.first().ok_or("--versions: empty list")?;
    config.version = first;
    config.versions = quic_conn::conn::Versions::new(&versions).ok_or("--versions: too many")?;
    Ok(config)
}

/// The line both examples print when a handshake completes, which the interop harness
/// reads: the version in use (`0x6b3343cf` for v2) and the client's first version.
pub fn handshake_line(who: &str, conn: &quic_conn::Connection) -> String {
    format!(
        "{who}: handshake done: version={:#010x} initial_version={:#010x}",
        conn.version().0,
        conn.initial_version().0
    )
}

/// Exits with 127: the harness shows the test case as unsupported.
pub fn unsupported(who: &str, case: &str) -> ! {
    eprintln!("{who}: test case {case:?} is not supported");
    std::process::exit(EXIT_UNSUPPORTED);
}

/// The application protocol: HTTP/3, or HTTP/0.9 over QUIC as the interop runner uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    H3,
    Hq,
}

impl Alpn {
    /// Parses `--alpn`.
    pub fn parse(s: &str) -> Result<Alpn, String> {
        match s {
            "h3" => Ok(Alpn::H3),
            "hq-interop" => Ok(Alpn::Hq),
            _ => Err(format!("--alpn: unknown protocol {s:?} (h3 or hq-interop)")),
        }
    }

    /// The ALPN protocol ID.
    pub fn id(self) -> &'static [u8] {
        match self {
            Alpn::H3 => b"h3",
            Alpn::Hq => b"hq-interop",
        }
    }

    /// The protocol a negotiated ALPN ID names.
    pub fn from_id(id: &[u8]) -> Option<Alpn> {
        [Alpn::H3, Alpn::Hq].into_iter().find(|a| a.id() == id)
    }
}

// ---- command line ----

/// Parsed command line: `--flag value` options, `--switch`es and positional arguments.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
    switches: Vec<String>,
    pub positional: Vec<String>,
}

impl Args {
    /// Parses `std::env::args()`, knowing which flags take a value and which do not.
    pub fn parse(with_value: &[&str], switches: &[&str]) -> Result<Args, String> {
        let mut args = Args::default();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if with_value.contains(&a.as_str()) {
                let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                args.values.insert(a, v);
            } else if switches.contains(&a.as_str()) {
                args.switches.push(a);
            } else if a.starts_with("--") {
                return Err(format!("unknown option {a}"));
            } else {
                args.positional.push(a);
            }
        }
        Ok(args)
    }

    /// The value of `--flag`, if given.
    pub fn value(&self, flag: &str) -> Option<&str> {
        self.values.get(flag).map(String::as_str)
    }

    /// Whether `--switch` was given.
    pub fn has(&self, switch: &str) -> bool {
        self.switches.iter().any(|s| s == switch)
    }

    /// `--flag`, falling back to the environment variable `var`.
    pub fn value_or_env(&self, flag: &str, var: &str) -> Option<String> {
        self.value(flag)
            .map(str::to_owned)
            .or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
    }
}

/// Says what happens to `--qlog-dir` / QLOGDIR and returns the directory traces go to:
/// one file per connection when built with the `qlog` feature, none otherwise.
pub fn note_qlog(args: &Args, who: &str) -> Option<String> {
    let dir = args.value_or_env("--qlog-dir", "QLOGDIR")?;
    if cfg!(feature = "qlog") {
        eprintln!("{who}: writing a qlog trace per connection to {dir}");
        Some(dir)
    } else {
        eprintln!("{who}: qlog not written to {dir}: built without the `qlog` feature");
        None
    }
}

/// Starts a qlog trace of `conn` in `dir` (when given), named after the connection's
/// original destination connection ID. A file that cannot be created is reported and
/// the connection goes on without a trace.
#[cfg(feature = "qlog")]
pub fn start_qlog(dir: Option<&str>, conn: &mut quic_conn::Connection, now: Instant, who: &str) {
    let Some(dir) = dir else {
        return;
    };
    let odcid = conn.original_dcid();
    match quic_conn::qlog::Qlog::create_in_dir(std::path::Path::new(dir), conn.side(), &odcid, now)
    {
        Ok(q) => conn.set_qlog(q),
        Err(e) => eprintln!("{who}: cannot create a qlog file in {dir}: {e}"),
    }
}

/// Without the `qlog` feature there is nothing to start.
#[cfg(not(feature = "qlog"))]
pub fn start_qlog(_: Option<&str>, _: &mut quic_conn::Connection, _: Instant, _: &str) {}

/// Has the endpoint start a qlog trace in `dir` (when given) for every connection it
/// accepts, before the connection handles the client's first Initial.
#[cfg(feature = "qlog")]
pub fn qlog_accepted(config: &mut quic_conn::endpoint::EndpointConfig, dir: Option<&str>) {
    if let Some(dir) = dir {
        config.qlog = Some(std::sync::Arc::new(quic_conn::qlog::file::QlogDir::new(
            dir,
        )));
    }
}

/// Without the `qlog` feature there is nothing to start.
#[cfg(not(feature = "qlog"))]
pub fn qlog_accepted(_: &mut quic_conn::endpoint::EndpointConfig, _: Option<&str>) {}

// ---- files ----

/// The file name a request path names: its last segment, without a query. `None` for
/// names that could leave the directory ("..", empty).
pub fn file_name(path: &str) -> Option<&str> {
    let path = path.split('?').next().unwrap_or_default();
    let name = path.trim_end_matches('/').rsplit('/').next()?;
    (!name.is_empty() && name != "." && name != ".." && !name.contains('\\')).then_some(name)
}

// ---- HTTP/3 over a connection ----

/// Feeds everything readable on `id` to the HTTP/3 session. An `Err` is a connection
/// error: close the connection with its code.
pub fn feed_h3(
    h3: &mut quic_streams::h3::H3,
    conn: &mut quic_conn::Connection,
    id: quic_wire::StreamId,
) -> Result<(), quic_streams::h3::H3Error> {
    // Bounded by the data the connection has buffered for the stream.
    loop {
        let Ok(chunk) = conn.streams().read_chunk(id, usize::MAX) else {
            return Ok(()); // reset (reported as its own event) or not readable by us
        };
        if chunk.data.is_empty() && !chunk.fin {
            return Ok(());
        }
        h3.on_stream_data(conn, id, chunk.data, chunk.fin)?;
        if chunk.fin {
            return Ok(());
        }
    }
}

/// Passes a stream event that HTTP/3 cares about to the session.
pub fn h3_stream_event(
    h3: &mut quic_streams::h3::H3,
    conn: &mut quic_conn::Connection,
    event: quic_streams::StreamEvent,
) -> Result<(), quic_streams::h3::H3Error> {
    use quic_streams::h3::Code;
    use quic_streams::StreamEvent as S;
    match event {
        // Readable only: a stream's Opened comes with a Readable when data arrived, and
        // reading it twice would hand HTTP/3 its end a second time.
        S::Readable { id } => feed_h3(h3, conn, id),
        S::Reset { id, error_code } => h3.on_stream_reset(conn, id, Code(error_code.into_inner())),
        S::Stopped { id, error_code } => {
            h3.on_stop_sending(conn, id, Code(error_code.into_inner()))
        }
        S::Writable { .. } => {
            h3.flush(conn);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Closes `conn` because HTTP/3 failed with `e` (RFC 9114 §8).
pub fn close_on_h3_error(
    conn: &mut quic_conn::Connection,
    now: Instant,
    e: quic_streams::h3::H3Error,
) {
    let code = quic_wire::VarInt::from_u64_clamped(e.code.0);
    conn.close(now, code, e.reason.as_bytes());
}
