//! [`Endpoint`]: many connections behind one socket. It routes datagrams to connections by
//! Destination Connection ID (RFC 9000 §5.2), admits new server connections within a
//! handshake budget, answers unknown versions with Version Negotiation (§6.1), multiplexes
//! the connections' timers, and transmits from the connections in round-robin order.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;

use bytes::BytesMut;
use hashbrown::HashMap;
use quic_wire::codec::Writer;
use quic_wire::packet::{write_version_negotiation, Packet, ParseConfig};
use quic_wire::{ConnectionId, Ecn, Instant, Version};
use rand_core::CryptoRngCore;

pub use crate::conn::ResetTokens;
use crate::conn::{AcceptOptions, CidEvent, Config, Connection, RetryContext};
use crate::io::{DatagramMeta, SansIo, Transmit};
use crate::tls::{TlsConfig, TlsError};
use quic_wire::cid::ResetToken;

mod timers;
use timers::Schedule;

/// Makes the RNG each new connection owns (the endpoint's embedder decides: a system RNG,
/// or seeded generators for reproducible simulations).
pub type RngFactory = Box<dyn FnMut() -> Box<dyn CryptoRngCore + Send> + Send>;

/// Identifies a connection of an [`Endpoint`]. Handles are not reused while the endpoint
/// lives.
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
    /// Validate client addresses with Retry before creating any state but a token
    /// (RFC 9000 §8.1.2).
    pub retry: bool,
    /// How long a Retry token stays valid.
    pub retry_token_lifetime: core::time::Duration,
    /// Outstanding Retry tokens at most; Initials that would need more are dropped.
    pub max_retry_tokens: usize,
    /// Stateless replies (Version Negotiation, Retry, stateless reset) per second at most.
    pub max_stateless_per_second: u32,
    /// Give clients NEW_TOKEN tokens so their next connection skips address validation
    /// (RFC 9000 §8.1.3). Tokens are remembered (bounded by `max_retry_tokens`).
    pub new_tokens: bool,
    /// How long a NEW_TOKEN token stays valid.
    pub address_token_lifetime: core::time::Duration,
    /// Derives the stateless reset tokens of our connection IDs. With it, server
    /// connections advertise a token, and short-header datagrams for unknown connection
    /// IDs get a stateless reset (RFC 9000 §10.3).
    pub reset_tokens: Option<Arc<dyn ResetTokens>>,
}

/// [`ResetTokens`] as HMAC-SHA256(key, connection ID), truncated to 16 bytes.
#[cfg(feature = "rustls")]
pub struct HmacResetTokens {
    key: [u8; 32],
}

#[cfg(feature = "rustls")]
impl HmacResetTokens {
    /// Tokens under `key`, a secret that must survive restarts of the endpoint (and be
    /// shared by the endpoints behind one load balancer).
    pub fn new(key: [u8; 32]) -> Self {
        HmacResetTokens { key }
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
        let mut out = [0u8; 32];
        // The output buffer is exactly the SHA-256 length, the only failure case.
        let _ = quic_wire::crypto::hkdf_extract(
            quic_wire::crypto::HashAlg::Sha256,
            &self.key,
            cid.as_bytes(),
            &mut out,
        );
        let mut t = [0u8; ResetToken::LEN];
        t.copy_from_slice(&out[..ResetToken::LEN]);
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
            max_retry_tokens: 4096,
            max_stateless_per_second: 1000,
            new_tokens: false,
            address_token_lifetime: core::time::Duration::from_secs(3600),
            reset_tokens: None,
        }
    }
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
/// With [`EndpointConfig::retry`], a client's first Initial gets a Retry carrying a random
/// token the endpoint remembers (bounded, expiring); the Initial that returns it creates the
/// connection with its address validated. Tokens are kept in a table rather than sealed,
/// so they do not survive a restart and do not serve NEW_TOKEN.
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
/// Connection ID route to it.
///
/// ## NEW_TOKEN
/// With [`EndpointConfig::new_tokens`], each server connection gives its client a token
/// (remembered, bounded, expiring, single use, bound to the client's IP address); an
/// Initial carrying it is accepted with the address validated, without Retry.
///
/// Stateless replies are bounded by a queue and a per-second rate.
///
/// ## Timers and transmission across connections
/// Connection deadlines sit in a heap and the connections that may have something to send
/// in a round-robin queue (`endpoint/timers.rs`): `poll_timeout` is O(1), `handle_timeout`
/// O(log n) per due connection, and `poll_transmit` never visits idle connections. A
/// connection changed through [`Endpoint::connection`] is looked at again on the next call.
///
/// ## Not yet supported
/// Sealed (stateless) tokens that survive a restart.
pub struct Endpoint {
    config: EndpointConfig,
    rng: RngFactory,
    /// Boxed: a connection is a few kilobytes, and the table keeps spare slots.
    conns: HashMap<ConnectionHandle, Box<Connection>>,
    /// Every connection ID routed to a connection: its own, and for a server the client's
    /// original Destination Connection ID.
    cids: HashMap<ConnectionId, ConnectionHandle>,
    /// Every connection, in the order they were made.
    order: VecDeque<ConnectionHandle>,
    /// Deadlines and ready-to-send queue across connections (see `timers.rs`).
    schedule: Schedule,
    /// Connections whose deadline passed, reused by `handle_timeout`.
    due: Vec<ConnectionHandle>,
    next_handle: u64,
    stateless: VecDeque<StatelessReply>,
    events: VecDeque<EndpointEvent>,
    /// Events a connection still had queued when it was removed (its close reason and
    /// `Drained`), kept for [`Endpoint::poll_connection_event`].
    final_events: VecDeque<(ConnectionHandle, crate::conn::Event)>,
    /// The endpoint's own randomness (connection IDs, tokens).
    own_rng: Box<dyn CryptoRngCore + Send>,
    tokens: HashMap<[u8; TOKEN_LEN], TokenEntry>,
    /// Start of the current one-second window of stateless replies, and their count.
    rate_window: Instant,
    rate_count: u32,
    /// NEW_TOKEN tokens given out: client IP and expiry.
    address_tokens: HashMap<[u8; TOKEN_LEN], (core::net::IpAddr, Instant)>,
    /// Server connections that got their NEW_TOKEN token.
    token_issued: hashbrown::HashSet<ConnectionHandle>,
}

/// Length of our tokens: a kind byte ([`RETRY_TOKEN`] or [`ADDRESS_TOKEN`]) and 16 random
/// bytes.
const TOKEN_LEN: usize = 17;
/// Kind byte of a Retry token.
const RETRY_TOKEN: u8 = 0;
/// Kind byte of a NEW_TOKEN token.
const ADDRESS_TOKEN: u8 = 1;

/// What a Retry token stands for.
#[derive(Debug, Clone, Copy)]
struct TokenEntry {
    original_dcid: ConnectionId,
    retry_scid: ConnectionId,
    remote: SocketAddr,
    expires: Instant,
}

/// The fields of a client Initial the endpoint looks at.
struct InitialInfo {
    version: Version,
    dcid: ConnectionId,
    scid: ConnectionId,
    /// The token, when it has our length.
    token: Option<[u8; TOKEN_LEN]>,
}

fn initial_info(data: &[u8], cid_len: usize) -> Option<InitialInfo> {
    let (p, _) = Packet::parse(data, &ParseConfig::new(cid_len)).ok()?;
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
        token: h.token.try_into().ok(),
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
    pub fn new(config: EndpointConfig, mut rng: RngFactory) -> Self {
        let own_rng = rng();
        Endpoint {
            own_rng,
            tokens: HashMap::new(),
            rate_window: Instant::ZERO,
            rate_count: 0,
            address_tokens: HashMap::new(),
            token_issued: hashbrown::HashSet::new(),
            config,
            rng,
            conns: HashMap::new(),
            cids: HashMap::new(),
            order: VecDeque::new(),
            schedule: Schedule::default(),
            due: Vec::new(),
            next_handle: 0,
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
        let rng = (self.rng)();
        let conn = Connection::connect(
            self.config.connection,
            tls,
            server_name,
            (local, remote),
            now,
            rng,
        )?;
        Ok(self.insert(conn))
    }

    fn insert(&mut self, mut conn: Connection) -> ConnectionHandle {
        if let Some(t) = &self.config.reset_tokens {
            conn.set_reset_tokens(t.clone());
        }
        let h = ConnectionHandle(self.next_handle);
        self.next_handle += 1;
        self.cids.insert(conn.local_cid(), h);
        self.order.push_back(h);
        self.conns.insert(h, Box::new(conn));
        self.schedule.add(h);
        h
    }

    /// A connection, while it exists. What the application does with it is taken into
    /// account by the endpoint's next `poll_timeout`, `poll_transmit` or input.
    pub fn connection(&mut self, h: ConnectionHandle) -> Option<&mut Connection> {
        let c = self.conns.get_mut(&h)?;
        self.schedule.touch(h);
        Some(c)
    }

    /// Reads again the deadlines of the connections touched since the last flush.
    fn flush_touched(&mut self) {
        if !self.schedule.has_touched() {
            return;
        }
        let conns = &self.conns;
        self.schedule
            .flush(|h| conns.get(&h).and_then(|c| c.poll_timeout()));
    }

    /// Connection `h` had an input or a timer: queue it to transmit (its deadline is read
    /// on the next flush), route its connection IDs and remove it if it is over.
    fn after_input(&mut self, h: ConnectionHandle) {
        self.schedule.touch(h);
        self.sync_cids(h);
        self.reap_one(h);
    }

    /// The handles of every connection.
    pub fn handles(&self) -> impl Iterator<Item = ConnectionHandle> + '_ {
        self.order.iter().copied()
    }

    /// How many connections exist.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The next endpoint event.
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// The next event of any connection, with its handle (connections are visited in
    /// order; drain until `None`). The last events of a connection that was removed (its
    /// close reason and `Drained`) come first, after [`EndpointEvent::Removed`] was queued.
    pub fn poll_connection_event(&mut self) -> Option<(ConnectionHandle, crate::conn::Event)> {
        if let Some(e) = self.final_events.pop_front() {
            return Some(e);
        }
        for &h in &self.order {
            if let Some(e) = self.conns.get_mut(&h).and_then(|c| c.poll_event()) {
                return Some((h, e));
            }
        }
        None
    }

    fn handshaking(&self) -> usize {
        self.conns
            .values()
            .filter(|c| !c.is_established() && !c.is_closed())
            .count()
    }

    /// A datagram matched no connection: accept it, answer it statelessly, or drop it.
    fn handle_unknown(&mut self, now: Instant, meta: DatagramMeta, data: BytesMut) {
        if data.first().is_some_and(|b| b & 0x80 == 0) {
            // RFC 9000 §10.3.1: a stateless reset carries no connection ID of ours; the
            // connections with this peer check its token (a scan: fine for a few
            // connections per peer address).
            let reset = self
                .conns
                .values_mut()
                .filter(|c| c.remote_address() == Some(meta.remote))
                .any(|c| c.handle_stateless_reset(&data));
            if !reset {
                self.stateless_reset(now, meta, &data);
            }
            return;
        }
        // RFC 9000 §14.1: Initials and version probes in datagrams below 1200 bytes are
        // dropped, which also bounds what a spoofed source can make us send.
        if data.len() < 1200 {
            return;
        }
        let parsed = Packet::parse(&data, &ParseConfig::new(self.config.connection.cid_len));
        match parsed {
            Ok((Packet::UnsupportedVersion(u), _)) => {
                self.version_negotiation(now, meta, u.scid, u.dcid);
            }
            Ok((Packet::Protected(_), _)) => self.accept(now, meta, data),
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
        let mut bytes = alloc::vec![0u8; 1 + 4 + 2 + their_dcid.len() + their_scid.len() + 4 * Version::SUPPORTED.len()];
        let mut w = Writer::new(&mut bytes);
        let random = self.own_rng.next_u32() as u8;
        // RFC 9000 §17.2.1: our Destination CID is their Source CID and vice versa.
        if write_version_negotiation(&mut w, their_scid, their_dcid, &Version::SUPPORTED, random)
            .is_err()
        {
            return;
        }
        let n = w.written();
        bytes.truncate(n);
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
            return; // Over budget: drop; the client retries and may find room later.
        }
        let cid_len = self.config.connection.cid_len;
        let Some(info) = initial_info(&data, cid_len) else {
            return;
        };
        // RFC 9000 §8.1.3: a valid NEW_TOKEN token validates the address; an invalid one
        // counts as none.
        let validated = self.redeem_address_token(now, meta, &info);
        let is_retry_token = info.token.is_some_and(|t| t[0] == RETRY_TOKEN);
        let retry = if self.config.retry && !validated {
            if !is_retry_token {
                self.send_retry(now, meta, &info, tls.as_ref());
                return;
            }
            // A Retry token we did not issue, expired, or from elsewhere: dropped
            // (RFC 9000 §8.1.2 allows closing with INVALID_TOKEN or discarding).
            let Some(ctx) = self.redeem(now, meta, &info) else {
                return;
            };
            Some(ctx)
        } else {
            None
        };
        let rng = (self.rng)();
        let local_cid =
            crate::conn::random_cid(self.own_rng.as_mut(), self.config.connection.cid_len);
        let opts = AcceptOptions {
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
        let h = self.insert(conn);
        self.cids.insert(info.dcid, h);
        self.events.push_back(EndpointEvent::Accepted(h));
        if let Some(c) = self.conns.get_mut(&h) {
            c.handle_datagram(now, meta, data);
        }
        self.sync_cids(h);
    }

    /// Takes back a NEW_TOKEN token: once, from the IP address it was given to (the port
    /// may have changed), before it expires.
    fn redeem_address_token(
        &mut self,
        now: Instant,
        meta: DatagramMeta,
        info: &InitialInfo,
    ) -> bool {
        let Some(token) = info.token.filter(|t| t[0] == ADDRESS_TOKEN) else {
            return false;
        };
        self.address_tokens
            .remove(&token)
            .is_some_and(|(ip, expires)| ip == meta.remote.ip() && now <= expires)
    }

    /// Gives each server connection, once its handshake is confirmed, a NEW_TOKEN token
    /// for its client's next connection (RFC 9000 §8.1.3).
    fn issue_address_token(&mut self, now: Instant, h: ConnectionHandle) {
        if !self.config.new_tokens || self.token_issued.contains(&h) {
            return;
        }
        let Some(c) = self.conns.get(&h) else { return };
        let Some(remote) = c.remote_address() else {
            return;
        };
        if c.side() != quic_wire::Side::Server || !c.is_handshake_confirmed() {
            return;
        }
        self.address_tokens.retain(|_, (_, e)| *e > now);
        let Some(expires) = now.checked_add(self.config.address_token_lifetime) else {
            return;
        };
        if self.address_tokens.len() >= self.config.max_retry_tokens {
            return;
        }
        let mut token = [ADDRESS_TOKEN; TOKEN_LEN];
        self.own_rng
            .fill_bytes(token.get_mut(1..).unwrap_or_default());
        self.address_tokens.insert(token, (remote.ip(), expires));
        self.token_issued.insert(h);
        if let Some(c) = self.conns.get_mut(&h) {
            c.send_new_token(&token);
        }
        self.schedule.touch(h);
    }

    /// Answers a token-less Initial with a Retry (RFC 9000 §17.2.5, §8.1.2).
    fn send_retry(
        &mut self,
        now: Instant,
        meta: DatagramMeta,
        info: &InitialInfo,
        tls: &dyn TlsConfig,
    ) {
        if !self.stateless_allowed(now) {
            return;
        }
        self.tokens.retain(|_, e| e.expires > now);
        if self.tokens.len() >= self.config.max_retry_tokens {
            return;
        }
        let retry_scid =
            crate::conn::random_cid(self.own_rng.as_mut(), self.config.connection.cid_len);
        let mut token = [RETRY_TOKEN; TOKEN_LEN];
        self.own_rng
            .fill_bytes(token.get_mut(1..).unwrap_or_default());
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
        let Some(expires) = now.checked_add(self.config.retry_token_lifetime) else {
            return;
        };
        self.tokens.insert(
            token,
            TokenEntry {
                original_dcid: info.dcid,
                retry_scid,
                remote: meta.remote,
                expires,
            },
        );
        self.stateless.push_back(StatelessReply {
            destination: meta.remote,
            source: meta.local,
            bytes,
        });
    }

    /// Takes back a Retry token: valid once, from the address it was sent to, before it
    /// expires, on an Initial sent to the Retry's connection ID.
    fn redeem(
        &mut self,
        now: Instant,
        meta: DatagramMeta,
        info: &InitialInfo,
    ) -> Option<RetryContext> {
        let e = self.tokens.remove(&info.token?)?;
        (e.remote == meta.remote && now <= e.expires && info.dcid == e.retry_scid).then_some(
            RetryContext {
                original_dcid: e.original_dcid,
                retry_scid: e.retry_scid,
            },
        )
    }

    /// Routes the connection IDs connection `h` issued, and stops routing retired ones.
    fn sync_cids(&mut self, h: ConnectionHandle) {
        let Endpoint { conns, cids, .. } = self;
        if let Some(c) = conns.get_mut(&h) {
            route_cids(cids, h, c);
        }
    }

    /// Connection `h` had an input (already given to `c`): route its new connection IDs,
    /// queue it to transmit, and remove it if it is over. One lookup of the connection
    /// for all of it, as this runs for every datagram.
    fn after_datagram(&mut self, now: Instant, h: ConnectionHandle) {
        let Endpoint {
            conns,
            cids,
            schedule,
            ..
        } = self;
        let Some(c) = conns.get_mut(&h) else {
            return;
        };
        route_cids(cids, h, c);
        schedule.touch(h);
        let drained = c.is_drained();
        if self.config.new_tokens {
            self.issue_address_token(now, h);
        }
        if drained {
            self.reap_one(h);
        }
    }

    /// Removes drained connections and their routes (a scan: only where an input may have
    /// ended connections the endpoint cannot name, such as a stateless reset).
    fn reap(&mut self) {
        let dead: Vec<ConnectionHandle> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_drained())
            .map(|(&h, _)| h)
            .collect();
        for h in dead {
            self.reap_one(h);
        }
    }

    /// Removes connection `h` and its routes if it is drained.
    fn reap_one(&mut self, h: ConnectionHandle) {
        if !self.conns.get(&h).is_some_and(|c| c.is_drained()) {
            return;
        }
        if let Some(mut c) = self.conns.remove(&h) {
            // A removed connection's last events (why it closed, `Drained`) still
            // reach the application.
            while let Some(e) = c.poll_event() {
                self.final_events.push_back((h, e));
            }
        }
        self.schedule.remove(h);
        self.token_issued.remove(&h);
        self.cids.retain(|_, v| *v != h);
        self.order.retain(|&x| x != h);
        self.events.push_back(EndpointEvent::Removed(h));
    }
}

/// Routes the connection IDs connection `h` (that is, `c`) issued, and stops routing the
/// ones it retired.
fn route_cids(
    cids: &mut HashMap<ConnectionId, ConnectionHandle>,
    h: ConnectionHandle,
    c: &mut Connection,
) {
    // Bounded: a connection has a handful of connection IDs in flux.
    while let Some(e) = c.poll_cid_event() {
        match e {
            CidEvent::Issued(cid) => {
                cids.insert(cid, h);
            }
            CidEvent::Retired(cid) => {
                if cids.get(&cid) == Some(&h) {
                    cids.remove(&cid);
                }
            }
        }
    }
}

/// The Destination Connection ID that routes a datagram. The fixed bit is not checked
/// here: peers may grease it (RFC 9287) and connections check it themselves.
///
/// Only the version-independent layout is read (RFC 8999 §5): the connection parses the
/// whole header itself, so a datagram is not parsed twice. A datagram too short to hold
/// the connection ID routes nowhere.
fn first_dcid(data: &[u8], cid_len: usize) -> Option<ConnectionId> {
    let first = *data.first()?;
    let dcid = if first & 0x80 != 0 {
        // Long header: first byte, 4-byte version, DCID length, DCID.
        let len = usize::from(*data.get(5)?);
        data.get(6..6 + len)?
    } else {
        data.get(1..1 + cid_len)?
    };
    ConnectionId::new(dcid).ok()
}

impl SansIo for Endpoint {
    fn handle_datagram(&mut self, now: Instant, meta: DatagramMeta, data: BytesMut) {
        let route = first_dcid(&data, self.config.connection.cid_len)
            .and_then(|d| self.cids.get(&d).copied());
        match route.and_then(|h| self.conns.get_mut(&h).map(|c| (h, c))) {
            Some((h, c)) => {
                c.handle_datagram(now, meta, data);
                self.after_datagram(now, h);
            }
            None => {
                self.handle_unknown(now, meta, data);
                self.flush_touched();
                self.reap();
            }
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
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
            let Some(c) = self.conns.get_mut(&h) else {
                continue;
            };
            let t = c.poll_transmit(now, buf);
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

    fn poll_timeout(&self) -> Option<Instant> {
        self.schedule
            .next_deadline(|h| self.conns.get(&h).and_then(|c| c.poll_timeout()))
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
            if let Some(c) = self.conns.get_mut(&h) {
                c.handle_timeout(now);
            }
            self.after_input(h);
        }
        due.clear();
        self.due = due;
    }
}
