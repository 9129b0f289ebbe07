//! The workloads, written once against [`Stack`] and run on every stack alike.
//!
//! Every byte a workload sends comes from [`Pattern`] at a known offset, and every byte it
//! receives is compared with what was sent, so each result says whether the transfer was
//! intact as well as how long it took.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    time::{Duration, Instant},
};

use crate::{
    alloc, cpu,
    driver::{Driver, Flow},
    stack::{ConnId, ReadState, Side, Stack, StackConfig, StackKind, StreamId},
};

/// The hasher of the streams workload's maps. Their keys are the stream IDs the stacks hand
/// out, not input anyone could choose to collide, so a multiply-and-fold hash does; the
/// default SipHash cost the harness as much per stream as some of the stacks' own steps, the
/// same for both stacks, which pulled their ratio toward 1.
#[derive(Default)]
struct StreamIdHasher(u64);

impl Hasher for StreamIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        // The product's high bits depend on every bit of the key; the table indexes by the
        // low bits, which for IDs 4 apart would otherwise repeat.
        self.0 ^ (self.0 >> 32)
    }
}

/// A map keyed by stream ID, for the harness's own bookkeeping.
type ByStream<V> = HashMap<StreamId, V, BuildHasherDefault<StreamIdHasher>>;

/// Period of the data pattern: a prime, so no power-of-two chunking lines up with it.
const PERIOD: usize = 65_521;
/// Bytes handed to one `write` call in the bulk workload.
const WRITE_CHUNK: usize = 64 * 1024;

/// Deterministic stream contents: byte `i` of a stream that starts at pattern offset `o` is
/// `bytes()[(o + i) % PERIOD]`.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// `PERIOD` pseudo-random bytes repeated for `PERIOD + WRITE_CHUNK` bytes, so any
    /// window of up to `WRITE_CHUNK` bytes is one contiguous slice.
    buf: Vec<u8>,
}

impl Default for Pattern {
    fn default() -> Self {
        Self::new()
    }
}

impl Pattern {
    /// Builds the pattern.
    pub fn new() -> Self {
        let mut rng = crate::loss::SplitMix64::new(0x0b5e_55ed);
        let base: Vec<u8> = (0..PERIOD).map(|_| rng.next_u64() as u8).collect();
        let buf = (0..PERIOD + WRITE_CHUNK)
            .map(|i| base[i % PERIOD])
            .collect();
        Self { buf }
    }

    /// Up to `len` (at most `WRITE_CHUNK`) pattern bytes starting at stream offset `at` of a
    /// stream whose pattern starts at `origin`.
    pub fn window(&self, origin: u64, at: u64, len: usize) -> &[u8] {
        let start = ((origin + at) % PERIOD as u64) as usize;
        &self.buf[start..start + len.min(WRITE_CHUNK)]
    }

    /// Whether `data`, found at stream offset `at`, is what the pattern says.
    pub fn matches(&self, origin: u64, at: u64, data: &[u8]) -> bool {
        let mut done = 0;
        while done < data.len() {
            let n = (data.len() - done).min(WRITE_CHUNK);
            if self.window(origin, at + done as u64, n) != &data[done..done + n] {
                return false;
            }
            done += n;
        }
        true
    }
}

/// Checks what arrives on one stream against the pattern.
#[derive(Debug, Clone, Copy)]
struct Receiver {
    origin: u64,
    received: u64,
    intact: bool,
}

impl Receiver {
    fn new(origin: u64) -> Self {
        Self {
            origin,
            received: 0,
            intact: true,
        }
    }

    /// Reads what is readable; returns the stream state.
    fn pull(&mut self, s: &mut dyn Stack, side: Side, conn: ConnId, id: StreamId) -> ReadState {
        let mut sink = |b: &[u8]| {
            self.intact &= with_pattern(|p| p.matches(self.origin, self.received, b));
            self.received += b.len() as u64;
        };
        s.read(side, conn, id, &mut sink)
    }
}

thread_local! {
    static PATTERN: Pattern = Pattern::new();
}

fn with_pattern<R>(f: impl FnOnce(&Pattern) -> R) -> R {
    PATTERN.with(f)
}

/// Writes pattern bytes `[*sent, total)` as far as the stack takes them; finishes the stream
/// once everything is queued. Returns whether the stream is finished.
fn push(
    s: &mut dyn Stack,
    side: Side,
    conn: ConnId,
    id: StreamId,
    origin: u64,
    sent: &mut u64,
    total: u64,
) -> bool {
    while *sent < total {
        let len = (total - *sent).min(WRITE_CHUNK as u64) as usize;
        let n = with_pattern(|p| s.write(side, conn, id, p.window(origin, *sent, len)));
        *sent += n as u64;
        if n < len {
            return false;
        }
    }
    s.finish(side, conn, id);
    true
}

/// Opens a connection and drives until both ends have completed the handshake; returns the
/// client's and the server's handle.
pub fn establish(d: &mut Driver) -> Result<(ConnId, ConnId), String> {
    let now = d.now();
    let client = d.stack.connect(now)?;
    let mut server = None;
    d.run(|s, _| {
        if server.is_none() {
            server = s.accept();
        }
        if s.is_closed(Side::Client, client) {
            return Err("client connection closed during the handshake".into());
        }
        Ok(match server {
            Some(sv)
                if s.is_established(Side::Client, client) && s.is_established(Side::Server, sv) =>
            {
                Flow::Done
            }
            _ => Flow::Continue,
        })
    })?;
    let server = server.ok_or("no server connection")?;
    Ok((client, server))
}

/// Result of one bulk transfer.
#[derive(Debug, Clone)]
pub struct BulkRun {
    /// Stream bytes the server received.
    pub bytes: u64,
    /// Whether they were exactly the bytes sent, in order, and all of them.
    pub intact: bool,
    /// Real time from the first write to the server reading the end of the stream.
    pub wall: Duration,
    /// CPU time of the harness thread over the same span (both ends), if known.
    pub cpu: Option<Duration>,
    /// Highest heap use during the run above the heap before the endpoints existed.
    pub peak_heap: u64,
    /// Datagrams sent client to server and how many the link dropped.
    pub datagrams_up: u64,
    /// The sends (`poll_transmit` results) those datagrams went out in: fewer than the
    /// datagrams when the stack fills GSO bursts.
    pub sends_up: u64,
    /// Of those, dropped.
    pub dropped_up: u64,
    /// Datagrams sent server to client.
    pub datagrams_down: u64,
    /// Of those, dropped.
    pub dropped_down: u64,
    /// Protocol time the driver skipped over while both ends waited on timers.
    pub skipped: Duration,
    /// Heap allocations (and reallocations) made during the transfer, both ends and harness.
    pub allocations: u64,
}

impl BulkRun {
    /// Goodput in MB/s (10^6 bytes per second).
    pub fn goodput_mbps(&self) -> f64 {
        self.bytes as f64 / self.wall.as_secs_f64() / 1e6
    }

    /// MB/s per CPU second: what the goodput would be if the thread had its core to itself
    /// (equal to [`BulkRun::goodput_mbps`] on an idle machine; wall time when CPU time is
    /// unknown).
    pub fn cpu_goodput_mbps(&self) -> f64 {
        self.bytes as f64 / self.cpu.unwrap_or(self.wall).as_secs_f64() / 1e6
    }

    /// CPU seconds per GiB moved (wall seconds when CPU time is unknown).
    pub fn cpu_s_per_gib(&self) -> f64 {
        let secs = self.cpu.unwrap_or(self.wall).as_secs_f64();
        secs / (self.bytes as f64 / (1u64 << 30) as f64)
    }
}

/// Sends `total` bytes on one client-opened stream to the server, with `loss_percent` percent
/// of datagrams dropped in each direction after the handshake (generators seeded by `seed`).
pub fn bulk(
    kind: &StackKind,
    config: &StackConfig,
    total: u64,
    loss_percent: f64,
    seed: u64,
) -> Result<BulkRun, String> {
    with_pattern(|_| ());
    let heap_before = alloc::stats().current;
    alloc::reset_peak();
    let stack = (kind.make)(config).map_err(|e| e.0)?;
    let mut d = Driver::new(stack, config.max_udp_payload);
    let (c, sv) = establish(&mut d)?;
    d.set_loss(loss_percent, seed);
    let links_before = d.links;
    let skipped_before = d.skipped;
    let id = d
        .stack
        .open_bi(Side::Client, c)
        .ok_or("cannot open the bulk stream")?;
    let mut sent = 0u64;
    let mut fin = false;
    let mut server_stream = None;
    let mut rx = Receiver::new(0);
    let allocs0 = alloc::stats().allocations;
    let cpu0 = cpu::thread_cpu_time();
    let t0 = Instant::now();
    d.run(|s, _| {
        if !fin {
            fin = push(s, Side::Client, c, id, 0, &mut sent, total);
        }
        if server_stream.is_none() {
            server_stream = s.accept_bi(Side::Server, sv);
        }
        if let Some(ss) = server_stream {
            match rx.pull(s, Side::Server, sv, ss) {
                ReadState::Finished => return Ok(Flow::Done),
                ReadState::Reset => return Err("bulk stream reset".into()),
                ReadState::Open => {}
            }
        }
        if s.is_closed(Side::Client, c) || s.is_closed(Side::Server, sv) {
            return Err("connection closed during the bulk transfer".into());
        }
        Ok(Flow::Continue)
    })?;
    let wall = t0.elapsed();
    let cpu = match (cpu0, cpu::thread_cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let allocations = alloc::stats().allocations - allocs0;
    let peak_heap = (alloc::stats().peak - heap_before).max(0) as u64;
    let up = d.links[0];
    let down = d.links[1];
    Ok(BulkRun {
        bytes: rx.received,
        intact: rx.intact && rx.received == total && server_stream.map(|s| s == id) == Some(true),
        wall,
        cpu,
        peak_heap,
        datagrams_up: up.sent - links_before[0].sent,
        sends_up: up.sends - links_before[0].sends,
        dropped_up: up.dropped - links_before[0].dropped,
        datagrams_down: down.sent - links_before[1].sent,
        dropped_down: down.dropped - links_before[1].dropped,
        skipped: d.skipped - skipped_before,
        allocations,
    })
}

/// Result of the sequential handshakes workload.
#[derive(Debug, Clone)]
pub struct HandshakeRun {
    /// Connections completed (handshake, request, response, close).
    pub connections: u64,
    /// Whether every request and response arrived exactly as sent.
    pub intact: bool,
    /// Real time for all of them.
    pub wall: Duration,
}

impl HandshakeRun {
    /// Connections per second.
    pub fn per_sec(&self) -> f64 {
        self.connections as f64 / self.wall.as_secs_f64()
    }
}

/// Bytes of the request and of the response in the handshake workload.
pub const SMALL_MESSAGE: u64 = 100;

/// Runs `count` connections one after another on one endpoint pair. Each: full handshake, the
/// client sends a `SMALL_MESSAGE`-byte request on a new stream, the server answers with a
/// `SMALL_MESSAGE`-byte response, the client closes, and both ends drain the connection
/// (waiting is skipped by the driver's clock, so only work is timed).
pub fn handshakes(
    kind: &StackKind,
    config: &StackConfig,
    count: u64,
) -> Result<HandshakeRun, String> {
    let stack = (kind.make)(config).map_err(|e| e.0)?;
    let mut d = Driver::new(stack, config.max_udp_payload);
    let mut intact = true;
    let t0 = Instant::now();
    for i in 0..count {
        let (c, sv) = establish(&mut d)?;
        let req_origin = i * 977;
        let resp_origin = req_origin + 500;
        let id = d
            .stack
            .open_bi(Side::Client, c)
            .ok_or("cannot open the request stream")?;
        let mut req_sent = 0;
        let mut req_fin = false;
        let mut server_stream = None;
        let mut req_rx = Receiver::new(req_origin);
        let mut req_done = false;
        let mut resp_sent = 0;
        let mut resp_fin = false;
        let mut resp_rx = Receiver::new(resp_origin);
        d.run(|s, _| {
            if !req_fin {
                req_fin = push(
                    s,
                    Side::Client,
                    c,
                    id,
                    req_origin,
                    &mut req_sent,
                    SMALL_MESSAGE,
                );
            }
            if server_stream.is_none() {
                server_stream = s.accept_bi(Side::Server, sv);
            }
            if let Some(ss) = server_stream {
                if !req_done {
                    match req_rx.pull(s, Side::Server, sv, ss) {
                        ReadState::Finished => req_done = true,
                        ReadState::Reset => return Err("request stream reset".into()),
                        ReadState::Open => {}
                    }
                }
                if req_done && !resp_fin {
                    resp_fin = push(
                        s,
                        Side::Server,
                        sv,
                        ss,
                        resp_origin,
                        &mut resp_sent,
                        SMALL_MESSAGE,
                    );
                }
            }
            match resp_rx.pull(s, Side::Client, c, id) {
                ReadState::Finished => Ok(Flow::Done),
                ReadState::Reset => Err("response stream reset".into()),
                ReadState::Open => Ok(Flow::Continue),
            }
        })?;
        intact &= req_rx.intact
            && req_rx.received == SMALL_MESSAGE
            && resp_rx.intact
            && resp_rx.received == SMALL_MESSAGE;
        let now = d.now();
        d.stack.close(Side::Client, c, now);
        d.run(|s, _| {
            Ok(
                if s.connection_count(Side::Client) == 0 && s.connection_count(Side::Server) == 0 {
                    Flow::Done
                } else {
                    Flow::Continue
                },
            )
        })?;
    }
    Ok(HandshakeRun {
        connections: count,
        intact,
        wall: t0.elapsed(),
    })
}

/// Result of the many-streams workload.
#[derive(Debug, Clone)]
pub struct StreamsRun {
    /// Request/response exchanges completed.
    pub streams: u64,
    /// Whether every request and response arrived exactly as sent.
    pub intact: bool,
    /// Real time for all of them, after the handshake.
    pub wall: Duration,
}

impl StreamsRun {
    /// Streams per second.
    pub fn per_sec(&self) -> f64 {
        self.streams as f64 / self.wall.as_secs_f64()
    }
}

/// Bytes of each request and each response in the streams workload.
pub const STREAM_MESSAGE: u64 = 1024;

#[derive(Debug)]
struct ClientSide {
    sent: u64,
    fin: bool,
    rx: Receiver,
}

#[derive(Debug)]
struct ServerSide {
    rx: Receiver,
    request_done: bool,
    sent: u64,
}

fn origins(id: StreamId) -> (u64, u64) {
    let req = id.0.wrapping_mul(131) % PERIOD as u64;
    (req, req + 17)
}

/// Runs `count` bidirectional streams on one connection, each a `STREAM_MESSAGE`-byte request
/// answered by a `STREAM_MESSAGE`-byte response. The client keeps as many streams open as the
/// server's stream limit allows.
pub fn streams(kind: &StackKind, config: &StackConfig, count: u64) -> Result<StreamsRun, String> {
    let stack = (kind.make)(config).map_err(|e| e.0)?;
    let mut d = Driver::new(stack, config.max_udp_payload);
    let (c, sv) = establish(&mut d)?;
    let mut opened = 0u64;
    let mut done = 0u64;
    let mut intact = true;
    let mut client: ByStream<ClientSide> = ByStream::default();
    let mut server: ByStream<ServerSide> = ByStream::default();
    let mut ids: Vec<StreamId> = Vec::new();
    let t0 = Instant::now();
    d.run(|s, _| {
        while opened < count {
            let Some(id) = s.open_bi(Side::Client, c) else {
                break;
            };
            opened += 1;
            client.insert(
                id,
                ClientSide {
                    sent: 0,
                    fin: false,
                    rx: Receiver::new(origins(id).1),
                },
            );
        }
        ids.clear();
        ids.extend(client.keys().copied());
        for id in &ids {
            let Some(st) = client.get_mut(id) else {
                continue;
            };
            if !st.fin {
                st.fin = push(
                    s,
                    Side::Client,
                    c,
                    *id,
                    origins(*id).0,
                    &mut st.sent,
                    STREAM_MESSAGE,
                );
            }
            match st.rx.pull(s, Side::Client, c, *id) {
                ReadState::Finished => {
                    intact &= st.rx.intact && st.rx.received == STREAM_MESSAGE;
                    done += 1;
                    client.remove(id);
                }
                ReadState::Reset => return Err(format!("stream {} reset", id.0)),
                ReadState::Open => {}
            }
        }
        while let Some(id) = s.accept_bi(Side::Server, sv) {
            server.insert(
                id,
                ServerSide {
                    rx: Receiver::new(origins(id).0),
                    request_done: false,
                    sent: 0,
                },
            );
        }
        ids.clear();
        ids.extend(server.keys().copied());
        for id in &ids {
            let Some(st) = server.get_mut(id) else {
                continue;
            };
            if !st.request_done {
                match st.rx.pull(s, Side::Server, sv, *id) {
                    ReadState::Finished => {
                        intact &= st.rx.intact && st.rx.received == STREAM_MESSAGE;
                        st.request_done = true;
                    }
                    ReadState::Reset => return Err(format!("stream {} reset", id.0)),
                    ReadState::Open => {}
                }
            }
            if st.request_done
                && push(
                    s,
                    Side::Server,
                    sv,
                    *id,
                    origins(*id).1,
                    &mut st.sent,
                    STREAM_MESSAGE,
                )
            {
                server.remove(id);
            }
        }
        if s.is_closed(Side::Client, c) {
            return Err("connection closed during the streams workload".into());
        }
        Ok(if done == count {
            Flow::Done
        } else {
            Flow::Continue
        })
    })?;
    Ok(StreamsRun {
        streams: done,
        intact,
        wall: t0.elapsed(),
    })
}

/// Result of the idle-connections workload.
#[derive(Debug, Clone)]
pub struct IdleRun {
    /// Connections established and left idle.
    pub connections: u64,
    /// Heap growth per connection, both ends together, in bytes.
    pub bytes_per_connection: f64,
}

/// Establishes `count` connections on one endpoint pair, one after another, lets every one go
/// quiet (timers due within a second run; nothing is sent afterwards), and reports the heap
/// they hold per connection, client and server state together.
pub fn idle_memory(kind: &StackKind, config: &StackConfig, count: u64) -> Result<IdleRun, String> {
    let stack = (kind.make)(config).map_err(|e| e.0)?;
    let mut d = Driver::new(stack, config.max_udp_payload);
    let mut conns: Vec<(ConnId, ConnId)> = Vec::with_capacity(count as usize);
    d.settle(Duration::from_secs(1))?;
    let before = alloc::stats().current;
    for _ in 0..count {
        conns.push(establish(&mut d)?);
    }
    d.settle(Duration::from_secs(1))?;
    let after = alloc::stats().current;
    for &(c, sv) in &conns {
        if !d.stack.is_established(Side::Client, c) || !d.stack.is_established(Side::Server, sv) {
            return Err("a connection did not stay established".into());
        }
    }
    if d.stack.connection_count(Side::Client) != count as usize
        || d.stack.connection_count(Side::Server) != count as usize
    {
        return Err("connection count does not match".into());
    }
    Ok(IdleRun {
        connections: count,
        bytes_per_connection: (after - before) as f64 / count.max(1) as f64,
    })
}
