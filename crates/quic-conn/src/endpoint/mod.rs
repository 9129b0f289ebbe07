//! [`Endpoint`]: many connections behind one socket. It routes datagrams to connections by
//! Destination Connection ID (RFC 9000 §5.2), admits new server connections within a
//! handshake budget, answers unknown versions with Version Negotiation (§6.1), multiplexes
//! the connections' timers, and transmits from the connections in round-robin order.

mod tombstones;

use alloc::boxed::Box;
use alloc::collections::{BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;

use bytes::BytesMut;
use hashbrown::HashMap;
use quic_wire::codec::Writer;
use quic_wire::packet::{write_version_negotiation, Packet, ParseConfig};
use quic_wire::{ConnectionId, Ecn, Instant, Version};
use rand_core::CryptoRngCore;

use crate::cid::{ConnectionIdGenerator, RandomCids};
pub use crate::conn::ResetTokens;
use crate::conn::{AcceptOptions, CidEvent, Config, Connection};
use crate::io::{DatagramMeta, SansIo, Transmit};
use crate::tls::{TlsConfig, TlsError};
use quic_wire::cid::ResetToken;

mod routes;
mod slab;
mod timers;
mod tokens;
use routes::Routes;
use slab::Conns;
use timers::Schedule;
#[cfg(feature = "rustls")]
pub use tokens::AesGcmTokenKey;
use tokens::{Checked, ClientTokens, ReplayFilter, RetryBinding, Tokens};
pub use tokens::{TokenKey, TOKEN_NONCE_LEN, TOKEN_TAG_LEN};

/// Makes the RNG each new connection owns (the endpoint's embedder decides: a system RNG,
/// or seeded generators for reproducible simulations).
pub type RngFactory = Box<dyn FnMut() -> Box<dyn CryptoRngCore + Send> + Send>;

/// Identifies a connection of an [`Endpoint`].
///
/// The value is opaque to the application; the endpoint finds the connection from it by
/// indexing, without hashing. A handle of a removed connection finds nothing, and no later
/// connection gets the same handle until 2³² more connections were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle(pub u64);

/// Settings of an [`Endpoint`].
#[derive(Clone)]
pub struct EndpointConfig {
    /// Settings of every connection.
    pub connection: Config,
    /// TLS for accepted connections; `None` makes a client-only endpoint.
    pub server_tls: Option<Arc<dyn TlsConfig>>,
    /// Server connections allowed in their handshake at once; Initials beyond are dropped.
    pub max_handshakes: usize,
    /// Connections allowed at once.
    pub max_connections: usize,
    /// Stateless replies (Version Negotiation, Retry) waiting to be sent at most; more
    /// are not generated, so a flood cannot grow memory.
    pub max_stateless_queue: usize,
    /// Validate client addresses with Retry before creating any state (RFC 9000 §8.1.2).
    /// The token is sealed under [`EndpointConfig::token_key`], so the endpoint keeps
    /// nothing per Retry.
    pub retry: bool,
    /// How long a Retry token stays valid: short, since clients return it at once
    /// (RFC 9000 §8.1.4).
    pub retry_token_lifetime: core::time::Duration,
    /// Seals Retry and NEW_TOKEN tokens (see [`TokenKey`]). A secret the embedder keeps
    /// across restarts and shares with the servers behind one load balancer, so that
    /// their tokens validate anywhere. When `None` and [`EndpointConfig::retry`] or
    /// [`EndpointConfig::new_tokens`] is set, a random key is made at start (feature
    /// `rustls`), whose tokens die with the endpoint; without `rustls`, tokens are then
    /// neither issued nor accepted, and no Retry is sent.
    pub token_key: Option<Arc<dyn TokenKey>>,
    /// Nonces of redeemed tokens remembered to refuse replays (RFC 9000 §8.1.4); the
    /// oldest is forgotten beyond this many, so single use is best effort.
    pub token_replay_capacity: usize,
    /// Stateless replies (Version Negotiation, Retry, stateless reset) per second at most.
    pub max_stateless_per_second: u32,
    /// Give clients NEW_TOKEN tokens so their next connection skips address validation
    /// (RFC 9000 §8.1.3), sealed under [`EndpointConfig::token_key`].
    pub new_tokens: bool,
    /// How long a NEW_TOKEN token stays valid (RFC 9000 §8.1.3 "a token SHOULD have an
    /// expiration time").
    pub address_token_lifetime: core::time::Duration,
    /// Derives the stateless reset tokens of our connection IDs. With it, server
    /// connections advertise a token, and short-header datagrams for unknown connection
    /// IDs get a stateless reset (RFC 9000 §10.3).
    pub reset_tokens: Option<Arc<dyn ResetTokens>>,
    /// Makes every connection ID the endpoint issues: handshake IDs, Retry IDs and the
    /// spares of NEW_CONNECTION_ID (e.g. [`QuicLbPlaintext`](crate::cid::QuicLbPlaintext)
    /// so a load balancer can route them). `None`: random IDs of `connection.cid_len`
    /// bytes. With a generator, `connection.cid_len` is taken from it.
    pub cid_generator: Option<Arc<dyn ConnectionIdGenerator>>,
    /// How long the connection IDs of a removed connection stay reserved: datagrams for
    /// them are dropped (long header) or answered with a stateless reset (short header)
    /// instead of creating a connection. At most four per allowed connection are kept.
    pub cid_tombstone_lifetime: core::time::Duration,
    /// Starts a qlog trace for every new connection, client or server, before it handles
    /// its first packet.
    #[cfg(feature = "qlog")]
    pub qlog: Option<Arc<dyn crate::qlog::file::QlogFactory>>,
}

/// [`ResetTokens`] as HMAC-SHA256(key, connection ID), truncated to 16 bytes.
///
/// The HMAC key is set up once (the padded key hashed into the inner and outer states), so a
/// token costs only the hashing of the connection ID.
#[cfg(feature = "rustls")]
pub struct HmacResetTokens {
    key: ring::hmac::Key,
}

#[cfg(feature = "rustls")]
impl HmacResetTokens {
    /// Tokens under `key`, a secret that must survive restarts of the endpoint (and be
    /// shared by the endpoints behind one load balancer).
    pub fn new(key: [u8; 32]) -> Self {
        HmacResetTokens {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        }
    }
}

#[cfg(feature = "rustls")]
impl core::fmt::Debug for HmacResetTokens {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HmacResetTokens")
    }
}

#[cfg(feature = "rustls")]
impl ResetTokens for HmacResetTokens {
    fn token(&self, cid: &ConnectionId) -> ResetToken {
        let tag = ring::hmac::sign(&self.key, cid.as_bytes());
        let mut t = [0u8; ResetToken::LEN];
        // HMAC-SHA256 gives 32 bytes; the token is the first 16.
        t.copy_from_slice(&tag.as_ref()[..ResetToken::LEN]);
        ResetToken(t)
    }
}

impl core::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("connection", &self.connection)
            .field("server", &self.server_tls.is_some())
            .field("max_handshakes", &self.max_handshakes)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            connection: Config::default(),
            server_tls: None,
            max_handshakes: 64,
            max_connections: 10_000,
            max_stateless_queue: 64,
            retry: false,
            retry_token_lifetime: core::time::Duration::from_secs(10),
            token_key: None,
            token_replay_capacity: 4096,
            max_stateless_per_second: 1000,
            new_tokens: false,
            address_token_lifetime: core::time::Duration::from_secs(3600),
            reset_tokens: None,
            cid_generator: None,
            cid_tombstone_lifetime: core::time::Duration::from_secs(30),
            #[cfg(feature = "qlog")]
            qlog: None,
        }
    }
}

/// Endpoint-wide counters, for monitoring ([`Endpoint::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStats {
    /// Datagrams handed to [`SansIo::handle_datagram`].
    pub datagrams_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Datagrams returned by [`SansIo::poll_transmit`] (a GSO batch counts its segments).
    pub datagrams_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Server connections created from a client's Initial.
    pub accepted: u64,
    /// Client Initials dropped because the handshake or connection budget was full.
    pub refused: u64,
    /// Datagrams that matched no connection and started none (too small, not an
    /// Initial, over budget, answered statelessly, for a removed connection ...).
    pub unroutable: u64,
    /// Version Negotiation packets queued.
    pub version_negotiations: u64,
    /// Retry packets queued.
    pub retries: u64,
    /// Stateless resets queued.
    pub stateless_resets: u64,
    /// Connections removed after draining.
    pub removed: u64,
}

/// Something the application should know about the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointEvent {
    /// A client's Initial created a server connection.
    Accepted(ConnectionHandle),
    /// A connection is over and was removed; its handle is no longer valid.
    Removed(ConnectionHandle),
}

struct StatelessReply {
    destination: SocketAddr,
    source: SocketAddr,
    bytes: Vec<u8>,
}

/// Many connections on one local address.
///
/// ## Usage contract
/// - **Inputs**: [`SansIo::handle_datagram`] for every received datagram,
///   [`SansIo::handle_timeout`] when [`SansIo::poll_timeout`] passes.
/// - **Outputs**: [`SansIo::poll_transmit`] until `None` after any input or application
///   call; [`Endpoint::poll_event`] for accepted and removed connections; each
///   connection's own events through [`Endpoint::connection`] and
///   [`Connection::poll_event`].
/// - **Application calls**: [`Endpoint::connect`], then the connection API on
///   [`Endpoint::connection`].
///
/// ## Retry
/// With [`EndpointConfig::retry`], a client's first Initial gets a Retry carrying a token
/// sealed under [`EndpointConfig::token_key`] (client address and port, issue time, the
/// original and Retry connection IDs); the Initial that returns it creates the connection
/// with its address validated, and an Initial with a Retry token that does not validate is
/// answered with a stateless CONNECTION_CLOSE (INVALID_TOKEN, RFC 9000 §8.1.2). Nothing is
/// kept per Retry, so tokens survive a restart and work across servers sharing the key.
///
/// ## Stateless resets
/// With [`EndpointConfig::reset_tokens`], server connections advertise a token derived from
/// their connection ID, short-header datagrams for unknown connection IDs are answered with
/// a stateless reset, and datagrams no connection ID routes are checked against the reset
/// tokens of the connections with that peer.
///
/// ## Connection IDs
/// Each connection's own IDs (the handshake one and the spares it issues, reported through
/// [`Connection::poll_cid_event`]) and, for a server, the client's original Destination
/// Connection ID route to it. Every ID the endpoint or its connections issue (handshake,
/// Retry, preferred address, NEW_CONNECTION_ID) comes from one
/// [`ConnectionIdGenerator`] ([`EndpointConfig::cid_generator`]; random by default, or
/// [`QuicLbPlaintext`](crate::cid::QuicLbPlaintext) for a QUIC-LB load balancer); short
/// headers for unknown IDs get a stateless reset only when the ID has the generator's
/// format.
///
/// ## NEW_TOKEN
/// With [`EndpointConfig::new_tokens`], each server connection gives its client a sealed
/// token (bound to the client's IP address, expiring, single use as far as a bounded
/// replay filter remembers); an Initial carrying it is accepted with the address
/// validated, without Retry. A NEW_TOKEN token that does not validate counts as none
/// (RFC 9000 §8.1.3). A client endpoint keeps the tokens its connections receive per
/// server name and gives each one to one later [`Endpoint::connect`] to that name.
///
/// Stateless replies are bounded by a queue and a per-second rate.
///
/// ## Removed connections
/// The connection IDs of a removed connection stay reserved for
/// [`EndpointConfig::cid_tombstone_lifetime`] (bounded in number), so a late Initial or
/// 0-RTT packet of it does not start a new connection.
///
/// ## Versions and qlog
/// Initials in the versions [`Config::accepted_versions`] lists create connections;
/// others get a Version Negotiation packet listing them (RFC 9000 §6, RFC 9368).
/// With `EndpointConfig::qlog` (feature `qlog`) every new connection gets its trace before
/// its first packet. [`Endpoint::stats`] counts datagrams, bytes and the endpoint's decisions.
///
/// ## Timers and transmission across connections
/// Connection deadlines sit in a heap and the connections that may have something to send
/// in a round-robin queue (`endpoint/timers.rs`): `poll_timeout` is O(1), `handle_timeout`
/// O(log n) per due connection, and `poll_transmit` never visits idle connections. A
/// connection changed through [`Endpoint::connection`] is looked at again on the next call.
pub struct Endpoint {
    config: EndpointConfig,
    rng: RngFactory,
    /// Every connection, by handle (see `slab.rs`).
    conns: Conns,
    /// Every connection ID routed to a connection: its own, and for a server the client's
    /// original Destination Connection ID.
    cids: Routes,
    /// The stateless reset token each connection's peer gave for the connection ID in use
    /// (RFC 9000 §10.3.1), so a datagram no connection ID routes is checked against the
    /// one connection its last 16 bytes name, not against every connection.
    reset_tokens: HashMap<ResetToken, ConnectionHandle>,
    /// Connections that may still be handshaking: a superset, pruned when counted.
    handshaking: BTreeSet<ConnectionHandle>,
    /// Deadlines and ready-to-send queue across connections (see `timers.rs`).
    schedule: Schedule,
    /// Connections whose deadline passed, reused by `handle_timeout`.
    due: Vec<ConnectionHandle>,
    stateless: VecDeque<StatelessReply>,
    /// Accepted and removed connections, for [`Endpoint::poll_event`] (bounded like
    /// `final_events`).
    events: VecDeque<EndpointEvent>,
    /// Events a connection still had queued when it was removed (its close reason and
    /// `Drained`), kept for [`Endpoint::poll_connection_event`]: at most four per allowed
    /// connection, the oldest dropped beyond, so an application that reads each
    /// connection's events itself and never polls these does not make them pile up.
    final_events: VecDeque<(ConnectionHandle, crate::conn::Event)>,
    /// The endpoint's own randomness (connection IDs, tokens).
    own_rng: Box<dyn CryptoRngCore + Send>,
    /// The key tokens are sealed with: the configured one, or a random one.
    token_key: Option<Arc<dyn TokenKey>>,
    /// Nonces of redeemed tokens (RFC 9000 §8.1.4).
    replay: ReplayFilter,
    /// Client: NEW_TOKEN tokens per server name, and the server name of each client
    /// connection.
    client_tokens: ClientTokens,
    client_names: HashMap<ConnectionHandle, alloc::string::String>,
    /// Start of the current one-second window of stateless replies, and their count.
    rate_window: Instant,
    rate_count: u32,
    /// Connection IDs of removed connections, so their late packets are not taken for new
    /// connections.
    tombstones: tombstones::Tombstones,
    stats: EndpointStats,
    /// Makes the connection IDs of every connection.
    cid_generator: Arc<dyn ConnectionIdGenerator>,
}

/// The fields of a client Initial the endpoint looks at.
struct InitialInfo<'a> {
    version: Version,
    dcid: ConnectionId,
    scid: ConnectionId,
    token: &'a [u8],
}

/// `grease`: we advertise grease_quic_bit, so an Initial may have its fixed bit cleared
/// (RFC 9287 §3: such an endpoint "MUST accept packets with the QUIC Bit set to a value of
/// 0"; §3.1 lets a client clear it in Initials).
fn initial_info(data: &[u8], cid_len: usize, grease: bool) -> Option<InitialInfo<'_>> {
    let cfg = ParseConfig::new(cid_len).accept_zero_fixed_bit(grease);
    let (p, _) = Packet::parse(data, &cfg).ok()?;
    let Packet::Protected(p) = p else { return None };
    let quic_wire::packet::ProtectedHeader::Long(h) = p.header else {
        return None;
    };
    if h.ty != quic_wire::PacketType::Initial {
        return None;
    }
    Some(InitialInfo {
        version: h.version,
        dcid: h.dcid,
        scid: h.scid,
        token: h.token,
    })
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("connections", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint; `rng` makes each connection's RNG.
    pub fn new(mut config: EndpointConfig, mut rng: RngFactory) -> Self {
        let mut own_rng = rng();
        let token_key = config.token_key.clone().or_else(|| {
            (config.retry || config.new_tokens)
                .then(|| random_token_key(own_rng.as_mut()))
                .flatten()
        });
        let cid_generator = match &config.cid_generator {
            Some(g) => g.clone(),
            None => Arc::new(RandomCids::new(config.connection.cid_len)),
        };
        config.connection.cid_len = cid_generator.cid_len();
        Endpoint {
            cid_generator,
            own_rng,
            token_key,
            replay: ReplayFilter::new(config.token_replay_capacity),
            client_tokens: ClientTokens::default(),
            client_names: HashMap::new(),
            rate_window: Instant::ZERO,
            rate_count: 0,
            stats: EndpointStats::default(),
            tombstones: tombstones::Tombstones::new(
                config.cid_tombstone_lifetime,
                config.max_connections.saturating_mul(4),
            ),
            config,
            rng,
            conns: Conns::default(),
            cids: Routes::default(),
            reset_tokens: HashMap::new(),
            handshaking: BTreeSet::new(),
            schedule: Schedule::default(),
            due: Vec::new(),
            stateless: VecDeque::new(),
            events: VecDeque::new(),
            final_events: VecDeque::new(),
        }
    }

    /// Starts a client connection.
    pub fn connect(
        &mut self,
        now: Instant,
        tls: Arc<dyn TlsConfig>,
        server_name: &str,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<ConnectionHandle, TlsError> {
        let config = self.config.connection;
        self.connect_with(config, now, tls, server_name, local, remote)
    }

    /// Starts a client connection with its own settings instead of
    /// [`EndpointConfig::connection`]: for example the attempt that follows a Version
    /// Negotiation packet, with
    /// [`Config::after_version_negotiation`](crate::Config::after_version_negotiation).
    pub fn connect_with(
        &mut self,
        config: Config,
        now: Instant,
        tls: Arc<dyn TlsConfig>,
        server_name: &str,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<ConnectionHandle, TlsError> {
        let rng = (self.rng)();
        let local_cid = self.new_cid();
        let mut conn = Connection::connect_with_cid(
            config,
            tls,
            server_name,
            (local, remote),
            now,
            rng,
            Some(local_cid),
        )?;
        // RFC 9000 §8.1.3: "When connecting to a server for which the client retains an
        // applicable and unused token, it SHOULD include that token".
        if let Some(token) = self.client_tokens.take(server_name, conn.version()) {
            conn.set_initial_token(&token);
        }
        let h = self.insert(now, conn).ok_or(TlsError {
            alert: None,
            reason: "the endpoint holds as many connections as handles can name",
        })?;
        self.client_names.insert(h, server_name.into());
        Ok(h)
    }

    /// A fresh connection ID from the generator, not routed to any connection yet.
    fn new_cid(&mut self) -> ConnectionId {
        // Bounded: a collision among random IDs is rare; after a few tries the last one
        // is used (the connection then simply shares no route with the other).
        let mut cid = self.cid_generator.generate(self.own_rng.as_mut());
        for _ in 0..4 {
            if !self.cids.contains(&cid) {
                break;
            }
            cid = self.cid_generator.generate(self.own_rng.as_mut());
        }
        cid
    }

    /// Registers `conn`; `now` starts its qlog trace, if the endpoint makes traces. `None`
    /// when 2³² connections exist already (see [`ConnectionHandle`]).
    #[cfg_attr(not(feature = "qlog"), allow(unused_variables))]
    fn insert(&mut self, now: Instant, mut conn: Connection) -> Option<ConnectionHandle> {
        if let Some(t) = &self.config.reset_tokens {
            conn.set_reset_tokens(t.clone());
        }
        conn.set_cid_generator(self.cid_generator.clone());
        #[cfg(feature = "qlog")]
        if let Some(q) = self
            .config
            .qlog
            .as_ref()
            .and_then(|f| f.start(conn.side(), &conn.original_dcid(), now))
        {
            conn.set_qlog(q);
        }
        let cid = conn.local_cid();
        conn.routed.push(cid);
        let h = self.conns.insert(conn)?;
        self.cids.insert(cid, h);
        self.handshaking.insert(h);
        self.schedule.add(h);
        self.conns.may_have_events(h);
        Some(h)
    }

    /// Endpoint-wide counters.
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// A connection, while it exists. What the application does with it is taken into
    /// account by the endpoint's next `poll_timeout`, `poll_transmit` or input.
    #[inline]
    pub fn connection(&mut self, h: ConnectionHandle) -> Option<&mut Connection> {
        self.schedule.touch(h);
        // What the application does next may queue events.
        self.conns.may_have_events(h);
        self.conns.get_mut(h)
    }

    /// Reads again the deadlines of the connections touched since the last flush.
    /// Each of them is filed under its peer's current reset token at the same time: a
    /// token changes only through an input, a timer or an application call, all of which
    /// touch the connection, and the index is read only for a datagram that no connection
    /// ID routes, after a flush.
    fn flush_touched(&mut self) {
        if !self.schedule.has_touched() {
            return;
        }
        let Endpoint {
            conns,
            schedule,
            reset_tokens,
            ..
        } = self;
        schedule.flush(|h| {
            let c = conns.get_mut(h)?;
            index_reset_token(reset_tokens, h, c);
            c.poll_timeout()
        });
    }

    /// Connection `h` had an input or a timer: queue it to transmit (its deadline is read
    /// on the next flush), route its connection IDs and remove it if it is over.
    fn after_input(&mut self, now: Instant, h: ConnectionHandle) {
        self.schedule.touch(h);
        if self.conns.get(h).is_some_and(|c| c.has_events()) {
            self.conns.may_have_events(h);
        }
        self.sync_cids(h);
        self.reap_one(now, h);
    }

    /// The handles of every connection.
    pub fn handles(&self) -> impl Iterator<Item = ConnectionHandle> + '_ {
        self.conns.handles()
    }

    /// How many connections exist.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// How many connection IDs route datagrams to a connection (each connection's own IDs,
    /// and for a server the client's original Destination Connection IDs).
    pub fn route_count(&self) -> usize {
        self.cids.len()
    }

    /// Most endpoint events, and most last events of removed connections, kept for an
    /// application that does not poll them: four per allowed connection.
    fn queue_bound(&self) -> usize {
        self.config.max_connections.saturating_mul(4).max(64)
    }

    /// Queues an endpoint event; beyond [`Endpoint::queue_bound`] unread ones, the oldest
    /// goes.
    fn push_event(&mut self, e: EndpointEvent) {
        self.events.push_back(e);
        if self.events.len() > self.queue_bound() {
            self.events.pop_front();
        }
    }

    /// The next endpoint event. At most four times [`EndpointConfig::max_connections`]
    /// unread events are kept; beyond, the oldest are dropped.
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// The next event of any connection, with its handle (drain until `None`). The last
    /// events of a connection that was removed (its close reason and `Drained`) come first,
    /// after [`EndpointEvent::Removed`] was queued (at most four times
    /// [`EndpointConfig::max_connections`] of them wait; beyond, the oldest are dropped);
    /// then each connection that had an input, a timer or an application call gives all its
    /// events in turn. Only those connections are visited, so a call costs nothing per idle
    /// connection.
    pub fn poll_connection_event(&mut self) -> Option<(ConnectionHandle, crate::conn::Event)> {
        if let Some(e) = self.final_events.pop_front() {
            return Some(e);
        }
        self.conns.poll_event()
    }

    /// How many connections are handshaking. Those that finished (or were removed) since
    /// the last count leave the set now, so each connection is looked at a bounded number
    /// of times in its life rather than once per new connection.
    fn handshaking(&mut self) -> usize {
        let conns = &self.conns;
        self.handshaking.retain(|&h| {
            conns
                .get(h)
                .is_some_and(|c| !c.is_established() && !c.is_closed())
        });
        self.handshaking.len()
    }

    /// A datagram matched no connection: accept it, answer it statelessly, or drop it.
    fn handle_unknown(&mut self, now: Instant, meta: DatagramMeta, data: BytesMut) {
        if data.first().is_some_and(|b| b & 0x80 == 0) {
            // RFC 9000 §10.3.1: a stateless reset carries no connection ID of ours; the
            // connection whose peer gave the token it ends with checks it, if the datagram
            // comes from that peer. The flush brings the token index up to date.
            self.flush_touched();
            let reset = crate::conn::reset_tail(&data)
                .and_then(|t| self.reset_tokens.get(&ResetToken(t)).copied())
                .filter(|&h| {
                    self.conns.get_mut(h).is_some_and(|c| {
                        c.remote_address() == Some(meta.remote) && c.handle_stateless_reset(&data)
                    })
                });
            match reset {
                // The connection is over: its events, and its removal once drained.
                Some(h) => self.after_input(now, h),
                None => self.stateless_reset(now, meta, &data),
            }
            return;
        }
        // RFC 9000 §14.1: Initials and version probes in datagrams below 1200 bytes are
        // dropped, which also bounds what a spoofed source can make us send.
        if data.len() < 1200 {
            return;
        }
        // A late Initial or 0-RTT packet of a connection that is gone must not start a
        // new one.
        if first_dcid(&data, self.config.connection.cid_len)
            .is_some_and(|d| self.tombstones.contains(now, d))
        {
            return;
        }
        // RFC 9287 §3: we advertise grease_quic_bit on every connection, so a client's
        // Initial with the fixed bit cleared is accepted as on an existing connection.
        let cfg = ParseConfig::new(self.config.connection.cid_len)
            .accept_zero_fixed_bit(self.config.connection.grease_quic_bit);
        let parsed = Packet::parse(&data, &cfg);
        match parsed {
            Ok((Packet::UnsupportedVersion(u), _)) => {
                self.version_negotiation(now, meta, u.scid, u.dcid);
            }
            Ok((Packet::Protected(p), _)) => match p.header {
                // RFC 9368 §2.1: versions we can parse but are not configured to accept
                // get Version Negotiation too.
                quic_wire::packet::ProtectedHeader::Long(h)
                    if !self
                        .config
                        .connection
                        .accepted_versions()
                        .contains(h.version) =>
                {
                    let (scid, dcid) = (h.scid, h.dcid);
                    self.version_negotiation(now, meta, scid.as_bytes(), dcid.as_bytes());
                }
                _ => self.accept(now, meta, data),
            },
            _ => {}
        }
    }

    /// Whether one more stateless reply may be queued: within the queue bound and the
    /// per-second rate (DESIGN: stateless replies are rate-limited).
    fn stateless_allowed(&mut self, now: Instant) -> bool {
        if self.stateless.len() >= self.config.max_stateless_queue {
            return false;
        }
        let window_over =
            now.saturating_duration_since(self.rate_window) >= core::time::Duration::from_secs(1);
        if window_over {
            self.rate_window = now;
            self.rate_count = 0;
        }
        if self.rate_count >= self.config.max_stateless_per_second {
            return false;
        }
        self.rate_count += 1;
        true
    }

    /// Answers a short-header datagram for a connection we do not know with a stateless
    /// reset (RFC 9000 §10.3), smaller than what arrived so two endpoints cannot loop, and
    /// at least 21 bytes so it looks like a short-header packet.
    fn stateless_reset(&mut self, now: Instant, meta: DatagramMeta, data: &[u8]) {
        let Some(keys) = self.config.reset_tokens.clone() else {
            return;
        };
        let cid_len = self.config.connection.cid_len;
        let Some(cid) = data
            .get(1..1 + cid_len)
            .and_then(|c| ConnectionId::new(c).ok())
        else {
            return;
        };
        // Only IDs of our format could have been ours.
        if !self.cid_generator.validate(&cid) {
            return;
        }
        // RFC 9000 §10.3: "An endpoint MUST NOT send a Stateless Reset that is three times
        // or more larger than the packet it receives"; one byte smaller rules out loops.
        let len = data.len().saturating_sub(1).min(43);
        if len < 21 || !self.stateless_allowed(now) {
            return;
        }
        let mut bytes = alloc::vec![0u8; len];
        self.own_rng.fill_bytes(&mut bytes);
        let token = keys.token(&cid);
        let split = len - ResetToken::LEN;
        bytes[0] = (bytes[0] & 0x3f) | 0x40; // short header, fixed bit set
        bytes[split..].copy_from_slice(&token.0);
        self.stats.stateless_resets += 1;
        self.stateless.push_back(StatelessReply {
            destination: meta.remote,
            source: meta.local,
            bytes,
        });
    }

    fn version_negotiation(
        &mut self,
        now: Instant,
        meta: DatagramMeta,
        their_scid: &[u8],
        their_dcid: &[u8],
    ) {
        if self.config.server_tls.is_none() || !self.stateless_allowed(now) {
            return;
        }
        // RFC 9368 §2.1: the packet lists the server's Offered Versions: the configured ones.
        let versions = self.config.connection.accepted_versions();
        let versions: &[Version] = versions.as_slice();
        let mut bytes =
            alloc::vec![0u8; 1 + 4 + 2 + their_dcid.len() + their_scid.len() + 4 * versions.len()];
        let mut w = Writer::new(&mut bytes);
        let random = self.own_rng.next_u32() as u8;
        // RFC 9000 §17.2.1: our Destination CID is their Source CID and vice versa.
        if write_version_negotiation(&mut w, their_scid, their_dcid, versions, random).is_err() {
            return;
        }
        let n = w.written();
        bytes.truncate(n);
        self.stats.version_negotiations += 1;
        self.stateless.push_back(StatelessReply {
            destination: meta.remote,
            source: meta.local,
            bytes,
        });
    }

    fn accept(&mut self, now: Instant, meta: DatagramMeta, data: BytesMut) {
        let Some(tls) = self.config.server_tls.clone() else {
            return;
        };
        if self.conns.len() >= self.config.max_connections
            || self.handshaking() >= self.config.max_handshakes
        {
            // Over budget: drop; the client retries and may find room later.
            self.stats.refused += 1;
            return;
        }
        let cid_len = self.config.connection.cid_len;
        let grease = self.config.connection.grease_quic_bit;
        let Some(info) = initial_info(&data, cid_len, grease) else {
            return;
        };
        // RFC 9000 §8.1.3: a valid NEW_TOKEN token validates the address; an invalid one
        // counts as none. A valid Retry token validates it too; an invalid one closes.
        let (retry, validated, nonce) = match self.check_token(now, meta, &info) {
            Checked::Address(n) => (None, true, Some(n)),
            Checked::Retry(ctx, n) => (Some(ctx), false, Some(n)),
            Checked::InvalidRetry => {
                self.invalid_token_close(now, meta, &info, tls.as_ref());
                return;
            }
            Checked::None if self.config.retry && self.token_key.is_some() => {
                self.send_retry(now, meta, &info, tls.as_ref());
                return;
            }
            Checked::None => (None, false, None),
        };
        let rng = (self.rng)();
        let local_cid = self.new_cid();
        let preferred_cid = match self.config.connection.preferred_address {
            Some(_) => {
                let cid = self.new_cid();
                let token = match &self.config.reset_tokens {
                    Some(k) => k.token(&cid),
                    None => {
                        let mut t = [0u8; ResetToken::LEN];
                        self.own_rng.fill_bytes(&mut t);
                        ResetToken(t)
                    }
                };
                Some((cid, token))
            }
            None => None,
        };
        let opts = AcceptOptions {
            preferred_cid,
            retry,
            local_cid: Some(local_cid),
            reset_token: self
                .config
                .reset_tokens
                .as_ref()
                .map(|k| k.token(&local_cid)),
            validated,
        };
        let conn =
            Connection::accept_with(self.config.connection, tls, now, meta, &data, rng, opts);
        let Ok(conn) = conn else { return };
        // The token is used up only once it created a connection (RFC 9000 §8.1.4).
        if let Some(n) = nonce {
            self.replay.insert(n);
        }
        let Some(h) = self.insert(now, conn) else {
            self.stats.refused += 1;
            return;
        };
        self.cids.insert(info.dcid, h);
        self.stats.accepted += 1;
        self.push_event(EndpointEvent::Accepted(h));
        if let Some(c) = self.conns.get_mut(h) {
            c.routed.push(info.dcid);
            c.handle_datagram(now, meta, data);
        }
        self.sync_cids(h);
    }

    /// The tokens under our key, if we have one.
    fn tokens(&self) -> Option<Tokens<'_>> {
        Some(Tokens {
            key: self.token_key.as_deref()?,
            retry_lifetime: self.config.retry_token_lifetime,
            address_lifetime: self.config.address_token_lifetime,
        })
    }

    /// Checks the token of a client Initial (RFC 9000 §8.1.3: "it MUST attempt to
    /// validate the token").
    fn check_token(&self, now: Instant, meta: DatagramMeta, info: &InitialInfo<'_>) -> Checked {
        if info.token.is_empty() {
            return Checked::None;
        }
        match self.tokens() {
            Some(t) => t.check(
                info.token,
                now,
                meta.remote,
                &info.dcid,
                &self.replay,
                info.version,
            ),
            None => Checked::None,
        }
    }

    fn nonce(&mut self) -> [u8; TOKEN_NONCE_LEN] {
        let mut n = [0u8; TOKEN_NONCE_LEN];
        self.own_rng.fill_bytes(&mut n);
        n
    }

    /// Answers an Initial whose Retry token does not validate with an Initial carrying
    /// CONNECTION_CLOSE (INVALID_TOKEN), without creating any state (RFC 9000 §8.1.2: "the
    /// server SHOULD immediately close ... the connection with an INVALID_TOKEN error.
    /// Note that a server has not established any state for the connection at this point
    /// and so does not enter the closing period"). Subject to the stateless-reply limits,
    /// and far smaller than the 1200-byte Initial that caused it.
    fn invalid_token_close(
        &mut self,
        now: Instant,
        meta: DatagramMeta,
        info: &InitialInfo<'_>,
        tls: &dyn TlsConfig,
    ) {
        if !self.stateless_allowed(now) {
            return;
        }
        let scid = self.new_cid();
        if let Some(bytes) = tokens::initial_close(tls, info.version, info.dcid, info.scid, scid) {
            self.stateless.push_back(StatelessReply {
                destination: meta.remote,
                source: meta.local,
                bytes,
            });
        }
    }

    /// Gives each server connection, once its handshake is confirmed, a NEW_TOKEN token
    /// for its client's next connection (RFC 9000 §8.1.3).
    fn issue_address_token(&mut self, now: Instant, h: ConnectionHandle) {
        if !self.config.new_tokens {
            return;
        }
        let Some(c) = self.conns.get(h) else { return };
        if c.address_token_issued {
            return;
        }
        let Some(remote) = c.remote_address() else {
            return;
        };
        if c.side() != quic_wire::Side::Server || !c.is_handshake_confirmed() {
            return;
        }
        // RFC 9369 §5: the token belongs to the negotiated version.
        let version = c.version();
        let nonce = self.nonce();
        let Some(token) = self
            .tokens()
            .and_then(|t| t.address_token(nonce, now, remote, version))
        else {
            return;
        };
        if let Some(c) = self.conns.get_mut(h) {
            c.address_token_issued = true;
            c.send_new_token(&token);
        }
        self.schedule.touch(h);
    }

    /// Answers a token-less Initial with a Retry (RFC 9000 §17.2.5, §8.1.2).
    fn send_retry(
        &mut self,
        now: Instant,
        meta: DatagramMeta,
        info: &InitialInfo<'_>,
        tls: &dyn TlsConfig,
    ) {
        if !self.stateless_allowed(now) {
            return;
        }
        let retry_scid = self.new_cid();
        let nonce = self.nonce();
        let binding = RetryBinding {
            original_dcid: info.dcid,
            retry_scid,
        };
        let Some(token) = self
            .tokens()
            .and_then(|t| t.retry_token(nonce, now, meta.remote, binding, info.version))
        else {
            return;
        };
        let header = quic_wire::packet::RetryHeader {
            version: info.version,
            dcid: info.scid,
            scid: retry_scid,
            token: &token,
        };
        let len = header.encoded_len();
        let mut bytes = alloc::vec![0u8; len];
        if header.write(&mut Writer::new(&mut bytes), true).is_err() {
            return;
        }
        let Ok(tag) = tls.retry_integrity_tag(info.version, &info.dcid, &bytes) else {
            return;
        };
        bytes.extend_from_slice(&tag);
        self.stats.retries += 1;
        self.stateless.push_back(StatelessReply {
            destination: meta.remote,
            source: meta.local,
            bytes,
        });
    }

    /// Routes the connection IDs connection `h` issued, and stops routing retired ones.
    fn sync_cids(&mut self, h: ConnectionHandle) {
        let Endpoint { conns, cids, .. } = self;
        if let Some(c) = conns.get_mut(h) {
            route_cids(cids, h, c);
        }
    }

    /// Connection `h` had a datagram (already given to it): route its new connection IDs,
    /// keep a NEW_TOKEN it received, queue it to transmit, and remove it if it is over.
    /// One lookup of the connection for most of it, as this runs for every datagram.
    fn after_datagram(&mut self, now: Instant, h: ConnectionHandle) {
        let Endpoint {
            conns,
            cids,
            schedule,
            ..
        } = self;
        let Some(c) = conns.get_mut(h) else {
            return;
        };
        let token = c.take_new_token().map(|t| (c.version(), t));
        route_cids(cids, h, c);
        schedule.touch(h);
        let drained = c.is_drained();
        let events = c.has_events();
        let token_due = !c.address_token_issued && c.side() == quic_wire::Side::Server;
        if events {
            conns.may_have_events(h);
        }
        if token_due {
            self.issue_address_token(now, h);
        }
        if let (Some((version, t)), Some(name)) = (token, self.client_names.get(&h)) {
            self.client_tokens.store(name, version, t);
        }
        if drained {
            self.reap_one(now, h);
        }
    }

    /// The next datagram: stateless replies first, then the connections in turn.
    fn next_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if let Some(r) = self.stateless.pop_front() {
            if let Some(dst) = buf.get_mut(..r.bytes.len()) {
                dst.copy_from_slice(&r.bytes);
                return Some(Transmit {
                    destination: r.destination,
                    source: Some(r.source),
                    ecn: Ecn::NotEct,
                    size: r.bytes.len(),
                    segment_size: None,
                    send_at: None,
                });
            }
        }
        // Round robin over the connections that may have something to send: one that
        // sends goes to the back of the line, one that has nothing leaves it.
        while let Some(h) = self.schedule.next_ready() {
            let Some(c) = self.conns.get_mut(h) else {
                continue;
            };
            let t = c.poll_transmit(now, buf);
            if c.has_events() {
                self.conns.may_have_events(h);
            }
            self.schedule.transmitted(h, t.is_some());
            if t.is_some() {
                return t;
            }
        }
        // Nothing more to send: the embedder waits for `poll_timeout` next, which is
        // cheapest with every deadline in the heap.
        self.flush_touched();
        None
    }

    /// Removes connection `h` if it is drained; its routes are kept as tombstones for a
    /// while.
    fn reap_one(&mut self, now: Instant, h: ConnectionHandle) {
        if !self.conns.get(h).is_some_and(|c| c.is_drained()) {
            return;
        }
        if let Some(mut c) = self.conns.remove(h) {
            // A removed connection's last events (why it closed, `Drained`) still
            // reach the application.
            while let Some(e) = c.poll_event() {
                self.final_events.push_back((h, e));
            }
            let most = self.queue_bound();
            while self.final_events.len() > most {
                self.final_events.pop_front();
            }
            // Only this connection's routes: no scan of the whole table.
            for cid in c.routed.drain(..) {
                if self.cids.remove_if(&cid, h) {
                    self.tombstones.bury(now, cid);
                }
            }
            if let Some(t) = c.indexed_reset_token {
                if self.reset_tokens.get(&t) == Some(&h) {
                    self.reset_tokens.remove(&t);
                }
            }
        }
        self.schedule.remove(h);
        self.client_names.remove(&h);
        self.handshaking.remove(&h);
        self.stats.removed += 1;
        self.push_event(EndpointEvent::Removed(h));
    }
}

/// Routes the connection IDs connection `h` (that is, `c`) issued, and stops routing the
/// ones it retired.
fn route_cids(cids: &mut Routes, h: ConnectionHandle, c: &mut Connection) {
    // Bounded: a connection has a handful of connection IDs in flux.
    while let Some(e) = c.poll_cid_event() {
        match e {
            CidEvent::Issued(cid) => {
                cids.insert(cid, h);
                if !c.routed.contains(&cid) {
                    c.routed.push(cid);
                }
            }
            CidEvent::Retired(cid) => {
                cids.remove_if(&cid, h);
                c.routed.retain(|&r| r != cid);
            }
        }
    }
}

/// Files connection `h` (that is, `c`) under its peer's current stateless reset token,
/// if that changed since it was last filed. Two connections given the same token by their
/// peers (only a peer's own mistake or malice) leave the later one filed.
#[inline(always)]
fn index_reset_token(
    tokens: &mut HashMap<ResetToken, ConnectionHandle>,
    h: ConnectionHandle,
    c: &mut Connection,
) {
    // Our own copy against the current token: nothing secret is compared, so the bytes
    // are compared directly rather than in constant time.
    if c.peer_reset_token().map(|t| t.0) != c.indexed_reset_token.map(|t| t.0) {
        refile_reset_token(tokens, h, c);
    }
}

/// [`index_reset_token`] once the token changed.
#[inline(never)]
fn refile_reset_token(
    tokens: &mut HashMap<ResetToken, ConnectionHandle>,
    h: ConnectionHandle,
    c: &mut Connection,
) {
    let current = c.peer_reset_token();
    if let Some(old) = c.indexed_reset_token.take() {
        if tokens.get(&old) == Some(&h) {
            tokens.remove(&old);
        }
    }
    if let Some(t) = current {
        tokens.insert(t, h);
    }
    c.indexed_reset_token = current;
}

/// The Destination Connection ID that routes a datagram. The fixed bit is not checked
/// here: peers may grease it (RFC 9287) and connections check it themselves.
///
/// Only the version-independent layout is read (RFC 8999 §5): the connection parses the
/// whole header itself, so a datagram is not parsed twice. A datagram too short to hold
/// the connection ID routes nowhere.
/// The bytes are returned in place: tables keyed by [`ConnectionId`] are searched with them
/// directly.
fn first_dcid(data: &[u8], cid_len: usize) -> Option<&[u8]> {
    let first = *data.first()?;
    let dcid = if first & 0x80 != 0 {
        // Long header: first byte, 4-byte version, DCID length, DCID.
        let len = usize::from(*data.get(5)?);
        data.get(6..6 + len)?
    } else {
        data.get(1..1 + cid_len)?
    };
    (dcid.len() <= ConnectionId::MAX_LEN).then_some(dcid)
}

impl SansIo for Endpoint {
    fn handle_datagram(&mut self, now: Instant, meta: DatagramMeta, data: BytesMut) {
        self.stats.datagrams_received += 1;
        self.stats.bytes_received += data.len() as u64;
        let route =
            first_dcid(&data, self.config.connection.cid_len).and_then(|d| self.cids.route(d));
        match route.and_then(|h| self.conns.get_mut(h).map(|c| (h, c))) {
            Some((h, c)) => {
                c.handle_datagram(now, meta, data);
                self.after_datagram(now, h);
            }
            None => {
                let accepted = self.stats.accepted;
                self.handle_unknown(now, meta, data);
                if self.stats.accepted == accepted {
                    self.stats.unroutable += 1;
                }
                self.flush_touched();
            }
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let t = self.next_transmit(now, buf)?;
        let segments = t.segment_size.map_or(1, |s| t.size.div_ceil(s.max(1)));
        self.stats.datagrams_sent += segments as u64;
        self.stats.bytes_sent += t.size as u64;
        Some(t)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.schedule
            .next_deadline(|h| self.conns.get(h).and_then(|c| c.poll_timeout()))
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.flush_touched();
        // Every connection due now is taken first, so one whose deadline stays in the past
        // after its timers fired is not served twice in one call.
        let mut due = core::mem::take(&mut self.due);
        while let Some(h) = self.schedule.pop_due(now) {
            due.push(h);
        }
        for &h in &due {
            if let Some(c) = self.conns.get_mut(h) {
                c.handle_timeout(now);
            }
            self.after_input(now, h);
        }
        due.clear();
        self.due = due;
    }
}

/// A random token key, for an endpoint configured without one (its tokens do not outlive
/// it).
#[cfg(feature = "rustls")]
fn random_token_key(rng: &mut (dyn CryptoRngCore + Send)) -> Option<Arc<dyn TokenKey>> {
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    Some(Arc::new(AesGcmTokenKey::new(&secret)))
}

/// Without a built-in AEAD there is no key to make: tokens need the embedder's.
#[cfg(not(feature = "rustls"))]
fn random_token_key(_rng: &mut (dyn CryptoRngCore + Send)) -> Option<Arc<dyn TokenKey>> {
    None
}

#[cfg(all(test, feature = "rustls"))]
mod tests {
    use super::*;

    /// A client endpoint with `config`, deterministic randomness from `seed`, and a client
    /// TLS configuration (no roots: these connections never get past their first flight).
    #[cfg(feature = "sim")]
    fn client_endpoint(config: EndpointConfig, seed: u64) -> (Endpoint, Arc<dyn TlsConfig>) {
        let mut rng = crate::sim::SimRng::new(seed);
        let factory: RngFactory =
            Box::new(move || Box::new(rng.fork()) as Box<dyn CryptoRngCore + Send>);
        let tls: Arc<dyn TlsConfig> = Arc::new(
            crate::tls::rustls::RustlsConfig::client(rustls::RootCertStore::empty(), &[b"hq"])
                .expect("client TLS"),
        );
        (Endpoint::new(config, factory), tls)
    }

    /// Makes `n` connections one after the other, each closed and then removed once its
    /// closing period is over; polls nothing but transmissions. Returns their handles and
    /// the largest the connection-event queue got.
    #[cfg(feature = "sim")]
    fn churn(
        ep: &mut Endpoint,
        tls: &Arc<dyn TlsConfig>,
        n: usize,
    ) -> (Vec<ConnectionHandle>, usize) {
        let local: SocketAddr = "10.0.0.1:5000".parse().expect("addr");
        let remote: SocketAddr = "10.0.0.2:443".parse().expect("addr");
        let mut now = Instant::from_nanos(1_000_000_000);
        let mut buf = alloc::vec![0u8; 1500];
        let mut handles = Vec::new();
        let mut most = 0;
        for _ in 0..n {
            let h = ep
                .connect(now, tls.clone(), "localhost", local, remote)
                .expect("connect");
            while ep.poll_transmit(now, &mut buf).is_some() {}
            ep.connection(h)
                .expect("connection")
                .close(now, quic_wire::VarInt::from_u32(0), b"");
            while ep.poll_transmit(now, &mut buf).is_some() {}
            // Past the closing period: the connection is drained and removed.
            now = now
                .checked_add(core::time::Duration::from_secs(60))
                .expect("time");
            ep.handle_timeout(now);
            assert!(ep.connection(h).is_none(), "removed");
            most = most.max(ep.conns.event_queue_len());
            handles.push(h);
        }
        (handles, most)
    }

    /// An application that never polls endpoint-wide connection events (it reads each
    /// connection's own) must not make the endpoint's queue of connections with events grow
    /// with every connection it ever had: removed connections' entries are dropped once
    /// they outnumber the live connections.
    #[cfg(feature = "sim")]
    #[test]
    fn the_connection_event_queue_stays_bounded_without_polling() {
        let (mut ep, tls) = client_endpoint(EndpointConfig::default(), 1);
        let (_, most) = churn(&mut ep, &tls, 1_000);
        assert_eq!(ep.connection_count(), 0);
        assert!(most <= 2 * 64 + 2, "queue reached {most}");
        // The removed connections' last events are still given, the most recent ones: at
        // most four per allowed connection wait.
        let mut last = 0;
        while ep.poll_connection_event().is_some() {
            last += 1;
        }
        assert!(last > 0 && last <= 4 * ep.config.max_connections.max(16));
    }

    /// Removed connections' last events wait for [`Endpoint::poll_connection_event`] up to
    /// four per allowed connection, and so do endpoint events; the oldest go first.
    #[cfg(feature = "sim")]
    #[test]
    fn final_events_of_removed_connections_are_bounded() {
        let config = EndpointConfig {
            max_connections: 20,
            ..EndpointConfig::default()
        };
        let (mut ep, tls) = client_endpoint(config, 100);
        let (handles, _) = churn(&mut ep, &tls, 100);
        let mut got = Vec::new();
        while let Some((h, _)) = ep.poll_connection_event() {
            got.push(h);
        }
        // Four per allowed connection (80 here), from the most recent connections.
        assert_eq!(got.len(), 80, "{} events", got.len());
        assert_eq!(got.last(), handles.last());
        assert!(!got.contains(&handles[0]), "the oldest were dropped");
        // The `Removed` events are bounded the same way.
        let mut removed = Vec::new();
        while let Some(e) = ep.poll_event() {
            if let EndpointEvent::Removed(h) = e {
                removed.push(h);
            }
        }
        assert_eq!(removed.len(), 80);
        assert_eq!(removed.last(), handles.last());
    }

    /// A token is the first 16 bytes of HMAC-SHA256(key, CID): the key set up once gives
    /// what a freshly keyed HMAC (quic-wire's HKDF-Extract, the same function) gives, for
    /// every CID length, and different keys or CIDs give different tokens.
    #[test]
    fn hmac_reset_tokens_are_the_truncated_hmac_of_the_cid() {
        let key = core::array::from_fn(|i| i as u8 ^ 0x5a);
        let tokens = HmacResetTokens::new(key);
        let other = HmacResetTokens::new([0x11; 32]);
        for len in 0..=ConnectionId::MAX_LEN {
            let bytes: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            let cid = ConnectionId::new(&bytes).unwrap();
            let mut full = [0u8; 32];
            quic_wire::crypto::hkdf_extract(
                quic_wire::crypto::HashAlg::Sha256,
                &key,
                &bytes,
                &mut full,
            )
            .unwrap();
            let t = tokens.token(&cid);
            assert_eq!(t.0[..], full[..ResetToken::LEN], "CID length {len}");
            assert_eq!(tokens.token(&cid), t, "deterministic");
            assert_ne!(other.token(&cid), t, "keyed");
        }
    }
}
