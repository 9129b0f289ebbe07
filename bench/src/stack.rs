//! The interface every benchmarked QUIC stack provides to the harness.
//!
//! A [`Stack`] value owns one client endpoint and one server endpoint. The harness (see
//! [`crate::driver`]) moves datagrams between the two and hands every call the current time;
//! the stack never reads a clock and never touches a socket. Workloads (see
//! [`crate::workloads`]) talk to either end through the same small application surface: connect,
//! accept, open a bidirectional stream, write, finish, read.
//!
//! Adding a stack means writing one module that implements [`Stack`] and exposes a
//! [`StackKind`], and listing that kind in [`crate::STACKS`].

use std::time::{Duration, Instant};

use bytes::BytesMut;

/// Which end of the in-memory link a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The endpoint that opens connections.
    Client,
    /// The endpoint that accepts them.
    Server,
}

impl Side {
    /// The other end.
    pub fn peer(self) -> Self {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// A connection as one endpoint knows it: the client's and the server's handle of the same
/// connection are unrelated numbers, paired by the workloads (connections are accepted in the
/// order they are opened, and the workloads open them one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub usize);

/// A stream, by its QUIC stream ID (RFC 9000 §2.1), so both stacks number streams alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// What a [`Stack::read`] call found after handing over every readable byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadState {
    /// More data may come later.
    Open,
    /// The peer finished the stream and every byte has been read.
    Finished,
    /// The peer reset the stream, or the stream is gone.
    Reset,
}

/// Congestion controller both stacks run (each with its own implementation of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Congestion {
    /// CUBIC (RFC 9438), quinn's default; the benchmark's choice.
    Cubic,
    /// NewReno (RFC 9002 §7).
    NewReno,
}

/// Settings shared by every stack, so each runs the same protocol configuration. Each stack
/// module documents how it maps these onto its own configuration.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// DER of the server's self-signed ECDSA P-256 certificate (also the client's only root).
    pub cert_der: Vec<u8>,
    /// PKCS#8 DER of the certificate's private key.
    pub key_der: Vec<u8>,
    /// The name the client asks for and the certificate carries.
    pub server_name: String,
    /// Largest UDP payload either end sends or accepts, and the fixed path MTU (no discovery).
    pub max_udp_payload: u16,
    /// Receive window of each stream, in bytes.
    pub stream_window: u64,
    /// Receive window of the whole connection, in bytes.
    pub connection_window: u64,
    /// Bytes a sender may hold unacknowledged across its streams.
    pub send_window: u64,
    /// Bidirectional streams the peer may have open at once.
    pub max_bidi_streams: u64,
    /// Congestion controller.
    pub congestion: Congestion,
    /// Idle timeout of a connection.
    pub idle_timeout: Duration,
    /// Seed for the endpoints' own random numbers (connection IDs and the like).
    pub seed: u64,
}

/// Why a stack cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// What one [`Stack::poll_transmit`] call wrote at the front of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// Bytes written.
    pub size: usize,
    /// Size of each datagram but possibly the last; equal to `size` for a single datagram.
    pub segment: usize,
}

impl Burst {
    /// A burst as a stack's transmit describes it: `size` bytes, cut into `segment_size`
    /// pieces when it holds several datagrams (`None`: one datagram).
    pub fn new(size: usize, segment_size: Option<usize>) -> Self {
        Burst {
            size,
            segment: segment_size.unwrap_or(size),
        }
    }
}

/// A benchmarked stack: a client endpoint and a server endpoint, driven without sockets.
///
/// Every method that may change protocol state takes `now`; the driver supplies it. After any
/// call the stack must have done whatever internal bookkeeping it needs (endpoint events,
/// retiring drained connections) so that [`Stack::poll_transmit`] and [`Stack::poll_timeout`]
/// tell the whole truth.
pub trait Stack {
    /// Writes what `side` wants to send next to the front of `buf` and returns its
    /// [`Burst`], or `None` when that end has nothing to send now.
    ///
    /// The burst is one datagram, or with `max_datagrams > 1` up to that many back to back
    /// (a GSO send): every segment but the last is `segment` bytes long. Each datagram is at
    /// most [`StackConfig::max_udp_payload`] bytes and goes to the other end. `buf` is the
    /// driver's reused scratch: what it holds on entry is left over from earlier calls, and
    /// the stack may resize it.
    fn poll_transmit(
        &mut self,
        side: Side,
        now: Instant,
        buf: &mut Vec<u8>,
        max_datagrams: usize,
    ) -> Option<Burst>;

    /// Hands `side` a datagram that arrived from the other end: a view into the driver's
    /// receive arena, as a socket loop's receive buffer would give it.
    fn handle_datagram(&mut self, side: Side, now: Instant, datagram: BytesMut);

    /// The earliest time at which `side` has a timer to run, if any.
    fn poll_timeout(&mut self, side: Side) -> Option<Instant>;

    /// Runs every timer of `side` that is due at `now`.
    fn handle_timeout(&mut self, side: Side, now: Instant);

    /// Starts a connection from the client endpoint to the server endpoint.
    fn connect(&mut self, now: Instant) -> Result<ConnId, String>;

    /// The server's next newly accepted connection, in arrival order.
    fn accept(&mut self) -> Option<ConnId>;

    /// Whether `side`'s connection has completed its handshake (and is not closed).
    fn is_established(&self, side: Side, conn: ConnId) -> bool;

    /// Whether `side`'s connection has been lost or closed; set when an error ends it too.
    fn is_closed(&self, side: Side, conn: ConnId) -> bool;

    /// Number of connections `side`'s endpoint still holds state for.
    fn connection_count(&self, side: Side) -> usize;

    /// Opens a bidirectional stream, or returns None while the peer's stream limit is reached.
    fn open_bi(&mut self, side: Side, conn: ConnId) -> Option<StreamId>;

    /// The next bidirectional stream the peer opened, if any.
    fn accept_bi(&mut self, side: Side, conn: ConnId) -> Option<StreamId>;

    /// Queues as much of `data` as flow control and buffers allow; returns how many bytes.
    fn write(&mut self, side: Side, conn: ConnId, stream: StreamId, data: &[u8]) -> usize;

    /// Marks the end of what `side` sends on `stream`.
    fn finish(&mut self, side: Side, conn: ConnId, stream: StreamId);

    /// Hands every byte readable now on `stream`, in order, to `sink`, and says whether the
    /// stream has ended.
    fn read(
        &mut self,
        side: Side,
        conn: ConnId,
        stream: StreamId,
        sink: &mut dyn FnMut(&[u8]),
    ) -> ReadState;

    /// Closes `side`'s connection with application error code 0.
    fn close(&mut self, side: Side, conn: ConnId, now: Instant);
}

/// A stack the harness can build: its name in tables and a constructor.
#[derive(Clone, Copy)]
pub struct StackKind {
    /// Short name used in the table, the JSON and the chart.
    pub name: &'static str,
    /// Longer description (crate, version, crypto backend).
    pub description: &'static str,
    /// Builds a fresh client/server endpoint pair, or says why it cannot.
    pub make: fn(&StackConfig) -> Result<Box<dyn Stack>, Unavailable>,
}

impl std::fmt::Debug for StackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackKind")
            .field("name", &self.name)
            .finish()
    }
}
