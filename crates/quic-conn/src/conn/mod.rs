//! [`Connection`]: one QUIC connection (RFC 9000) as a sans-IO state machine.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

use bytes::Bytes;
use quic_streams::{Read, StreamError, StreamEvent, StreamRef, Streams};
use quic_wire::{ConnectionId, Dir, Instant, Side, Space, StreamId, TransportParameters, VarInt};
use rand_core::CryptoRngCore;

use crate::tls::{DirectionalKeys, Session, TlsConfig};

mod ack;
mod cids;
mod close;
mod config;
mod control;
mod crypto;
mod error;
mod frame_stats;
mod frames;
mod h3;
mod handshake;
mod key_update;
mod local_cids;
mod migration;
mod mtu;
mod path;
mod probe;
#[cfg(feature = "qlog")]
mod qlog;
mod records;
mod recv;
pub(crate) use recv::reset_tail;
mod retry;
mod send;
mod setup;
mod timer;
mod version;
mod zero_rtt;

pub use config::{Config, VersionNegotiated, Versions};
pub use error::{AcceptError, ConnectionError, DatagramError};
pub use frame_stats::FrameStats;
pub use local_cids::{CidEvent, ResetTokens, MAX_ISSUED};
pub use migration::MigrationError;
pub(crate) use setup::random_cid;
pub use setup::{AcceptOptions, RetryContext};
pub use timer::Timer;

use crypto::{CryptoRecv, CryptoSend};
use path::Path;
use timer::Timers;

/// Something the application should know about, drained with [`Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed (RFC 9001 §4.1.1): streams and datagrams flow.
    Connected,
    /// The handshake is confirmed (RFC 9001 §4.1.2).
    HandshakeConfirmed,
    /// A stream event (opened, readable, writable, finished, reset ...).
    Stream(StreamEvent),
    /// A datagram arrived; read it with [`Connection::recv_datagram`].
    DatagramReceived,
    /// Client: the server gave an address-validation token for a future connection
    /// (RFC 9000 §8.1.3); pass it to [`Connection::set_initial_token`] next time.
    NewToken(Bytes),
    /// The connection is closing or draining for this reason; no more application data
    /// flows.
    Closed(ConnectionError),
    /// The connection is over: no more packets will be sent or accepted and its state may
    /// be dropped.
    Drained,
    /// Path validation succeeded (RFC 9000 §8.2.3) for the path from our `local` address
    /// to the peer's `remote` one.
    PathValidated {
        /// Our address on the path.
        local: SocketAddr,
        /// The peer's address on the path.
        remote: SocketAddr,
    },
    /// Path validation gave up (RFC 9000 §8.2.4): the path is not usable.
    PathValidationFailed {
        /// Our address on the path.
        local: SocketAddr,
        /// The peer's address on the path.
        remote: SocketAddr,
    },
    /// The connection moved to a path it validated first: a client to a probed local
    /// address or the server's preferred address, a server to its preferred address
    /// once the client used it.
    Migrated {
        /// Our address on the new path.
        local: SocketAddr,
        /// The peer's address on the new path.
        remote: SocketAddr,
    },
}

/// The connection's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Handshaking,
    Established,
    /// We sent CONNECTION_CLOSE (RFC 9000 §10.2.1).
    Closing,
    /// The peer closed (RFC 9000 §10.2.2).
    Draining,
    Drained,
}

/// The keys and CRYPTO stream of one packet-number space (Initial and Handshake on path 0,
/// application data shared by all paths).
#[derive(Debug, Default)]
struct SpaceCrypto {
    local: Option<DirectionalKeys>,
    remote: Option<DirectionalKeys>,
    send: CryptoSend,
    recv: CryptoRecv,
    /// Keys were installed and then discarded (RFC 9001 §4.9): never again.
    discarded: bool,
}

/// One QUIC connection, client or server, all its paths.
///
/// ## Usage contract
/// - **Create**: [`Connection::connect`] (client) or [`Connection::accept`] (server, from
///   the first datagram, which must then also be given to `handle_datagram`).
/// - **Inputs**: [`Connection::handle_datagram`] for every datagram of this connection,
///   [`Connection::handle_timeout`] when [`Connection::poll_timeout`]'s deadline passes.
///   Time is always an argument; the connection never reads a clock.
/// - **Outputs**: after any input or application call, call [`Connection::poll_transmit`]
///   until it returns `None`, drain [`Connection::poll_event`], then sleep until the next
///   datagram or [`Connection::poll_timeout`].
/// - **Application calls**: streams ([`Connection::open`], [`Connection::write`],
///   [`Connection::read`], [`Connection::finish`], [`Connection::reset`],
///   [`Connection::stop_sending`], or the whole [`Streams`] API through
///   [`Connection::streams`]), datagrams ([`Connection::send_datagram`],
///   [`Connection::recv_datagram`]), client migration
///   ([`Connection::probe_local_address`], [`Connection::migrate_local_address`]) and
///   [`Connection::close`]. Misuse is a typed error, never a panic.
/// - **Getters**: [`Connection::side`], [`Connection::is_established`],
///   [`Connection::is_drained`], [`Connection::error`], [`Connection::stats`],
///   [`Connection::alpn`], [`Connection::peer_params`].
///
/// Every rule the peer breaks closes the connection with the RFC's error code
/// ([`Event::Closed`] with [`ConnectionError::Transport`]).
///
/// ## What it does
/// Handshake over Initial/Handshake/1-RTT with coalescing, padding and the 3x
/// anti-amplification limit; Retry (client side) and 0-RTT; transport parameters with the
/// connection-ID authentication of RFC 9000 §7.3; streams and flow control (quic-streams);
/// loss recovery, congestion control and pacing (quic-recovery); key updates; path MTU
/// discovery; ECN; GSO batches; DATAGRAM frames; idle timeout and keep-alive; immediate
/// close with closing and draining periods; stateless reset detection; spare connection
/// IDs (made by the endpoint's [`ConnectionIdGenerator`](crate::cid::ConnectionIdGenerator));
/// connection migration (RFC 9000 §9): following a client's new address (NAT rebinding)
/// with a fresh congestion state for a new path and the old one kept for a return, a
/// client moving on purpose ([`Connection::migrate_local_address`]) or after validating
/// the new path ([`Connection::probe_local_address`]), the server's preferred address,
/// disable_active_migration, and the defences against spoofed migrations; the spin bit
/// and the greased fixed bit; QUIC v1 and v2 with version negotiation (RFC 9368, RFC
/// 9369): compatible negotiation moves a connection between v1 and v2 without a round
/// trip, a Version Negotiation packet closes a client with
/// [`ConnectionError::VersionNegotiation`] naming the version to connect with next, and
/// version_information is checked against downgrades (see [`Config::versions`]).
///
/// ## Not yet supported
/// Multipath (RFC 10069; per-path state is keyed by `PathId` but only path 0 exists),
/// DATAGRAM frames in 0-RTT, the `send_at` pacing hint (the connection holds packets back
/// instead), qlog events.
pub struct Connection {
    side: Side,
    version: quic_wire::Version,
    /// Boxed, like the other large fields read rarely or only around the handshake: the
    /// endpoint keeps its connections inline in a hash table (with up to twice as many
    /// buckets as connections), so every byte of `Connection` costs up to two per
    /// connection.
    config: Box<Config>,
    tls: Box<dyn Session>,
    rng: Box<dyn CryptoRngCore + Send>,
    state: State,
    error: Option<ConnectionError>,
    local_cid: ConnectionId,
    remote_cid: ConnectionId,
    /// The Destination Connection ID of the client's first Initial (RFC 9000 §7.3).
    orig_dcid: ConnectionId,
    /// The Source Connection ID of the peer's long headers: the client's from the start
    /// (server side), the server's once its first Initial was opened (client side).
    peer_scid: Option<ConnectionId>,
    spaces: Box<[SpaceCrypto; 3]>,
    /// The space new handshake bytes from TLS go to.
    write_space: Space,
    paths: Vec<Path>,
    streams: Streams,
    local_params: Box<TransportParameters>,
    peer_params: Option<Box<TransportParameters>>,
    handshake_complete: bool,
    handshake_confirmed: bool,
    handshake_done_pending: bool,
    /// Server: a packet carrying HANDSHAKE_DONE was acknowledged (RFC 9000 §13.3: it is
    /// retransmitted until then, probes included).
    handshake_done_acked: bool,
    ping_pending: bool,
    path_responses: VecDeque<[u8; 8]>,
    datagrams_in: VecDeque<Bytes>,
    datagrams_out: VecDeque<Bytes>,
    events: VecDeque<Event>,
    /// The connection IDs an endpoint routes to this connection (kept by the endpoint, so
    /// that removing the connection removes its routes without a scan of the table).
    pub(crate) routed: Vec<ConnectionId>,
    /// Whether the endpoint gave this connection an address token to send (NEW_TOKEN).
    pub(crate) address_token_issued: bool,
    /// The peer's stateless reset token under which the endpoint finds this connection
    /// (kept by the endpoint, which compares it with the current one after each input).
    pub(crate) indexed_reset_token: Option<quic_wire::cid::ResetToken>,
    timers: Timers,
    /// The effective idle timeout, once known.
    idle_timeout: Option<Duration>,
    /// The idle period worked out for the idle timer's last restart (see
    /// `close::IdlePeriod`).
    idle_period: close::IdlePeriod,
    /// Whether an ack-eliciting packet was sent since the last packet was received.
    sent_eliciting_since_recv: bool,
    /// The close frame to send while closing, and whether one is owed.
    close: Option<close::CloseFrame>,
    close_pending: bool,
    spin: bool,
    stats: Stats,
    /// Raw frame bytes to put in the next packet of a space (testing hook).
    raw_frames: Option<(Space, Vec<u8>)>,
    key_phase: Box<key_update::KeyPhase>,
    peer_cids: Box<cids::PeerCids>,
    /// The TLS configuration, for Initial keys after a Retry and its integrity tag.
    tls_config: Arc<dyn TlsConfig>,
    /// The token our Initials carry (from a Retry).
    token: Vec<u8>,
    /// The Source Connection ID of the Retry we followed, or (server) sent.
    retry_scid: Option<ConnectionId>,
    /// The stateless reset token of the connection ID we send to (RFC 9000 §10.3.1).
    peer_reset_token: Option<quic_wire::cid::ResetToken>,
    zero_rtt: Box<zero_rtt::ZeroRtt>,
    /// The PATH_CHALLENGE of the active path while it is validated.
    challenge: Option<migration::Challenge>,
    /// Other paths probed, responses owed on them, congestion state of earlier paths.
    migration: Box<migration::Migration>,
    /// ECN validation failed (RFC 9000 §13.4.2): packets are no longer marked.
    ecn_failed: bool,
    /// The connection IDs we issued.
    local_cids: Box<local_cids::LocalCids>,
    /// The Destination Connection ID of the packet being processed.
    packet_dcid: ConnectionId,
    /// Server: a NEW_TOKEN frame to send.
    new_token: Option<Vec<u8>>,
    /// Client: the latest NEW_TOKEN token received, for the endpoint's token store.
    received_token: Option<Bytes>,
    /// Version negotiation (RFC 9368).
    vn: Box<version::VersionState>,
    /// Our ACK_FREQUENCY requests, once the peer showed it takes them (ack-frequency §3);
    /// boxed, as most connections never need one.
    ack_frequency: Option<alloc::boxed::Box<quic_recovery::AckFrequencySender>>,
    /// Where this connection's qlog events go (disabled unless [`Connection::set_qlog`]).
    #[cfg(feature = "qlog")]
    qlog: crate::qlog::Qlog,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.side)
            .field("state", &self.state)
            .field("local_cid", &self.local_cid)
            .field("remote_cid", &self.remote_cid)
            .finish_non_exhaustive()
    }
}

/// Counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams sent.
    pub datagrams_sent: u64,
    /// Datagrams received.
    pub datagrams_received: u64,
    /// Packets sent.
    pub packets_sent: u64,
    /// Packets received and processed.
    pub packets_received: u64,
    /// Bytes sent (UDP payload).
    pub bytes_sent: u64,
    /// Bytes received (UDP payload).
    pub bytes_received: u64,
    /// Packets declared lost on path 0.
    pub lost_packets: u64,
    /// Congestion window of path 0.
    pub cwnd: u64,
    /// Smoothed RTT of path 0.
    pub rtt: Duration,
    /// The datagram size path 0 uses (grows with path MTU discovery).
    pub mtu: u16,
    /// Received packets that failed authentication (RFC 9001 §6.6).
    pub decrypt_failures: u64,
    /// 1-RTT key updates (ours and the peer's, RFC 9001 §6).
    pub key_updates: u64,
    /// Frames received, by kind (in packets that were processed).
    pub frames_received: FrameStats,
    /// Frames sent, by kind; counted only with [`Config::frame_stats`], which costs a
    /// parse of every packet's frames before it is sealed.
    pub frames_sent: FrameStats,
}

/// The state of one path, for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathStats {
    /// The path.
    pub id: quic_wire::PathId,
    /// The peer's address on it.
    pub remote: SocketAddr,
    /// Whether the address is validated.
    pub validated: bool,
    /// Smoothed RTT.
    pub rtt: Duration,
    /// Minimum RTT.
    pub min_rtt: Duration,
    /// Congestion window in bytes.
    pub cwnd: u64,
    /// Bytes in flight.
    pub bytes_in_flight: u64,
    /// Datagram size.
    pub mtu: u16,
    /// Recovery counters (losses, congestion events, PTOs).
    pub recovery: quic_recovery::RecoveryStats,
}

impl Connection {
    // ---- getters ----

    /// Which side we are.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The QUIC version in use: once the handshake completed, the Negotiated Version
    /// (RFC 9368 §4).
    pub fn version(&self) -> quic_wire::Version {
        self.version
    }

    /// The version of the client's first flight (its Chosen Version, RFC 9368 §1.2),
    /// which differs from [`Connection::version`] after compatible version negotiation.
    pub fn initial_version(&self) -> quic_wire::Version {
        self.vn.chosen
    }

    /// Whether the handshake completed and the connection is not closing.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// Whether the handshake is confirmed (RFC 9001 §4.1.2).
    pub fn is_handshake_confirmed(&self) -> bool {
        self.handshake_confirmed
    }

    /// Whether the connection is closing or draining (or over).
    pub fn is_closed(&self) -> bool {
        matches!(
            self.state,
            State::Closing | State::Draining | State::Drained
        )
    }

    /// Whether the connection is over and can be dropped.
    pub fn is_drained(&self) -> bool {
        self.state == State::Drained
    }

    /// Why the connection closed, once it did.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.error.as_ref()
    }

    /// The connection ID the peer uses to reach us.
    pub fn local_cid(&self) -> ConnectionId {
        self.local_cid
    }

    /// The connection ID we address the peer with.
    pub fn remote_cid(&self) -> ConnectionId {
        self.remote_cid
    }

    /// The Destination Connection ID of the client's first Initial (RFC 9000 §7.3): the
    /// name qlog files and key logs group a connection's traces under.
    pub fn original_dcid(&self) -> ConnectionId {
        self.orig_dcid
    }

    /// Whether the TLS handshake resumed an earlier session.
    pub fn is_resumed(&self) -> bool {
        self.tls.is_resumed()
    }

    /// The negotiated application protocol.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tls.alpn()
    }

    /// The peer's transport parameters, once received and validated.
    pub fn peer_params(&self) -> Option<&TransportParameters> {
        self.peer_params.as_deref()
    }

    /// Our transport parameters.
    pub fn local_params(&self) -> &TransportParameters {
        &self.local_params
    }

    /// The peer's address on path 0.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.paths.first().map(|p| p.remote)
    }

    /// The stateless reset token of the peer's connection ID in use (RFC 9000 §10.3): a
    /// datagram from the peer ending in it resets the connection.
    #[inline]
    pub(crate) fn peer_reset_token(&self) -> Option<quic_wire::cid::ResetToken> {
        self.peer_reset_token
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        if let Some(p) = self.paths.first() {
            s.lost_packets = p.recovery.stats().lost_packets;
            s.cwnd = p.recovery.window();
            s.rtt = p.recovery.rtt().smoothed();
            s.mtu = p.mtu;
        }
        s
    }

    /// The state of path `id`, if it exists (only path 0 until multipath).
    pub fn path_stats(&self, id: quic_wire::PathId) -> Option<PathStats> {
        let p = self.paths.iter().find(|p| p.id == id)?;
        Some(PathStats {
            id: p.id,
            remote: p.remote,
            validated: p.validated,
            rtt: p.recovery.rtt().smoothed(),
            min_rtt: p.recovery.rtt().min(),
            cwnd: p.recovery.window(),
            bytes_in_flight: p.recovery.bytes_in_flight(),
            mtu: p.mtu,
            recovery: p.recovery.stats(),
        })
    }

    /// Whether [`Connection::poll_event`] has an event to give. Polling with nothing queued
    /// is cheap anyway (this check is inlined into it); this is for callers that want to
    /// know without taking the event.
    #[inline]
    pub fn has_events(&self) -> bool {
        !self.events.is_empty() || self.streams.has_events()
    }

    /// The next event, if any.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        // Applications poll after every call and mostly find nothing: that case is two
        // length checks, inlined into the caller.
        if !self.has_events() {
            return None;
        }
        self.take_event()
    }

    /// [`Connection::poll_event`] once something is queued.
    fn take_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        self.streams.poll_event().map(Event::Stream)
    }

    // ---- streams ----

    /// The full stream API (priorities, zero-copy writes and reads, statistics ...).
    pub fn streams(&mut self) -> &mut Streams {
        &mut self.streams
    }

    /// Opens a stream; see [`Streams::open`] for streams opened beyond the peer's limit.
    pub fn open(&mut self, dir: Dir) -> Result<StreamRef, StreamError> {
        self.streams.open(dir)
    }

    /// Writes to a stream; returns how much was accepted.
    pub fn write(&mut self, s: impl Into<StreamRef>, data: &[u8]) -> Result<usize, StreamError> {
        self.streams.write(s, data)
    }

    /// Reads from a stream into `buf`.
    pub fn read(&mut self, id: StreamId, buf: &mut [u8]) -> Result<Read, StreamError> {
        self.streams.read(id, buf)
    }

    /// Ends a stream's sending part (FIN).
    pub fn finish(&mut self, s: impl Into<StreamRef>) -> Result<(), StreamError> {
        self.streams.finish(s)
    }

    /// Resets a stream's sending part with an application error code.
    pub fn reset(&mut self, s: impl Into<StreamRef>, code: VarInt) -> Result<(), StreamError> {
        self.streams.reset(s, code)
    }

    /// Asks the peer to stop sending on a stream.
    pub fn stop_sending(&mut self, id: StreamId, code: VarInt) -> Result<(), StreamError> {
        self.streams.stop_sending(id, code)
    }

    // ---- datagrams (RFC 9221) ----

    /// Queues an unreliable datagram. When the queue is full the oldest queued datagram is
    /// dropped (RFC 9221 §5: datagrams may be dropped).
    pub fn send_datagram(&mut self, data: Bytes) -> Result<(), DatagramError> {
        if self.is_closed() {
            return Err(DatagramError::Closed);
        }
        let max = self
            .peer_params
            .as_ref()
            .and_then(|p| p.max_datagram_frame_size)
            .ok_or(DatagramError::Unsupported)?
            .into_inner();
        // The frame (type, length, data) must fit the peer's limit and one packet: the
        // short header (1 + CID + 4-byte packet number) and the AEAD tag come off the MTU.
        let frame_len = 1 + 8 + data.len() as u64;
        let mtu = self.paths.first().map_or(1200, |p| p.mtu);
        let packet_room = u64::from(mtu.max(1200))
            - 1
            - self.remote_cid.len() as u64
            - 4
            - quic_wire::crypto::TAG_LEN as u64;
        if frame_len > max || frame_len > packet_room {
            return Err(DatagramError::TooLarge);
        }
        if self.datagrams_out.len() >= self.config.datagram_send_queue.max(1) {
            self.datagrams_out.pop_front();
        }
        self.datagrams_out.push_back(data);
        Ok(())
    }

    /// Client, right after [`Connection::connect`] and before the first transmit: the
    /// token from an earlier connection's [`Event::NewToken`], so the server can skip
    /// address validation (RFC 9000 §8.1.3). Ignored on a server or once sending began.
    pub fn set_initial_token(&mut self, token: &[u8]) {
        if self.side == Side::Client && self.stats.packets_sent == 0 && self.retry_scid.is_none() {
            self.token = token.to_vec();
        }
    }

    /// Server: sends `token` in a NEW_TOKEN frame (RFC 9000 §19.7) once the handshake is
    /// confirmed. The endpoint makes and checks tokens.
    pub fn send_new_token(&mut self, token: &[u8]) {
        if self.side == Side::Server && !token.is_empty() {
            self.new_token = Some(token.to_vec());
        }
    }

    /// Client: takes the latest token a NEW_TOKEN frame brought (RFC 9000 §8.1.3), which
    /// was also reported as [`Event::NewToken`]. The [`Endpoint`](crate::endpoint::Endpoint)
    /// takes it to keep for the next connection to the same server name.
    pub fn take_new_token(&mut self) -> Option<Bytes> {
        self.received_token.take()
    }

    /// Testing and fuzzing hook: puts `frames` (encoded frames, written as they are) in
    /// the next packet of `space`, to make this endpoint misbehave on purpose. Not for
    /// production use.
    #[doc(hidden)]
    pub fn inject_raw_frames(&mut self, space: Space, frames: Vec<u8>) {
        self.raw_frames = Some((space, frames));
    }

    /// The oldest received datagram not read yet.
    pub fn recv_datagram(&mut self) -> Option<Bytes> {
        self.datagrams_in.pop_front()
    }

    fn space(&self, space: Space) -> &SpaceCrypto {
        // `Space` has three variants, indexing an array of three.
        &self.spaces[space as usize]
    }

    fn space_mut(&mut self, space: Space) -> &mut SpaceCrypto {
        &mut self.spaces[space as usize]
    }
}

impl crate::io::SansIo for Connection {
    fn handle_datagram(
        &mut self,
        now: Instant,
        meta: crate::io::DatagramMeta,
        data: bytes::BytesMut,
    ) {
        Connection::handle_datagram(self, now, meta, data);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<crate::io::Transmit> {
        Connection::poll_transmit(self, now, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Connection::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Connection::handle_timeout(self, now);
    }
}
