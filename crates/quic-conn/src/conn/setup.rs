//! Creating connections: a client's, and a server's from a client's first Initial
//! (optionally after a Retry validated the client's address).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;

use quic_streams::Streams;
use quic_wire::cid::ResetToken;
use quic_wire::{ConnectionId, Instant, Side, Space};
use rand_core::CryptoRngCore;

use super::path::Path;
use super::timer::Timers;
use super::{handshake, AcceptError, Config, Connection, SpaceCrypto, State, Stats};
use crate::io::DatagramMeta;
use crate::tls::{TlsConfig, TlsError};

/// What a server learnt from the Retry exchange that preceded an Initial (RFC 9000 §8.1.2):
/// the client's address is validated, and the IDs go into the transport parameters
/// (§7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryContext {
    /// The Destination Connection ID of the client's very first Initial.
    pub original_dcid: ConnectionId,
    /// The Source Connection ID of our Retry (the DCID of the Initial being accepted).
    pub retry_scid: ConnectionId,
}

/// How a server connection is set up beyond the client's Initial.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcceptOptions {
    /// The Retry exchange that validated the client, if any.
    pub retry: Option<RetryContext>,
    /// Our connection ID (random when `None`).
    pub local_cid: Option<ConnectionId>,
    /// The stateless reset token for `local_cid`, advertised in stateless_reset_token
    /// (RFC 9000 §10.3, §18.2).
    pub reset_token: Option<ResetToken>,
    /// The Initial carried a valid NEW_TOKEN token: the address counts as validated
    /// (RFC 9000 §8.1.3).
    pub validated: bool,
    /// The connection ID offered with [`Config::preferred_address`] and its stateless
    /// reset token (random when `None`).
    pub preferred_cid: Option<(ConnectionId, ResetToken)>,
}

/// The connection IDs a new connection starts with.
struct Ids {
    local: ConnectionId,
    remote: ConnectionId,
    /// For original_destination_connection_id (RFC 9000 §7.3).
    original: ConnectionId,
    /// The DCID the Initial keys derive from (RFC 9001 §5.2).
    initial: ConnectionId,
    retry_scid: Option<ConnectionId>,
    reset_token: Option<ResetToken>,
    preferred_cid: Option<(ConnectionId, ResetToken)>,
}

/// The preferred_address value for our address `addr` (the other family left out).
fn preferred_address(
    addr: SocketAddr,
    cid: ConnectionId,
    token: ResetToken,
) -> quic_wire::transport_params::PreferredAddress {
    let (ipv4, ipv6) = match addr {
        SocketAddr::V4(a) => (Some((*a.ip(), a.port())), None),
        SocketAddr::V6(a) => (None, Some((*a.ip(), a.port()))),
    };
    quic_wire::transport_params::PreferredAddress {
        ipv4,
        ipv6,
        connection_id: cid,
        stateless_reset_token: token,
    }
}

pub(crate) fn random_cid(rng: &mut dyn CryptoRngCore, len: usize) -> ConnectionId {
    let mut b = [0u8; ConnectionId::MAX_LEN];
    let len = len.clamp(1, ConnectionId::MAX_LEN);
    let bytes = b.get_mut(..len).unwrap_or_default();
    rng.fill_bytes(bytes);
    // `len` is at most MAX_LEN, so this cannot fail.
    ConnectionId::new(bytes).unwrap_or(ConnectionId::EMPTY)
}

impl Connection {
    /// Starts a client connection to `remote` for `server_name`.
    pub fn connect(
        config: Config,
        tls: Arc<dyn TlsConfig>,
        server_name: &str,
        (local, remote): (SocketAddr, SocketAddr),
        now: Instant,
        rng: Box<dyn CryptoRngCore + Send>,
    ) -> Result<Connection, TlsError> {
        Connection::connect_with_cid(config, tls, server_name, (local, remote), now, rng, None)
    }

    /// Like [`Connection::connect`], with our handshake connection ID chosen by the caller
    /// (an endpoint's [`ConnectionIdGenerator`](crate::cid::ConnectionIdGenerator)); random
    /// of `config.cid_len` bytes when `None`.
    pub fn connect_with_cid(
        config: Config,
        tls: Arc<dyn TlsConfig>,
        server_name: &str,
        (local, remote): (SocketAddr, SocketAddr),
        now: Instant,
        mut rng: Box<dyn CryptoRngCore + Send>,
        local_cid: Option<ConnectionId>,
    ) -> Result<Connection, TlsError> {
        // RFC 9000 §7.2: the first Destination Connection ID is unpredictable, at least
        // 8 bytes.
        let dcid = random_cid(rng.as_mut(), config.cid_len.max(8));
        let scid = match local_cid {
            Some(c) => c,
            None => random_cid(rng.as_mut(), config.cid_len),
        };
        let ids = Ids {
            local: scid,
            remote: dcid,
            original: dcid,
            initial: dcid,
            retry_scid: None,
            reset_token: None,
            preferred_cid: None,
        };
        let mut conn = Connection::new(
            Side::Client,
            config,
            tls,
            ids,
            (local, remote),
            Some(server_name),
            rng,
        )?;
        conn.drive_tls(now);
        conn.start_zero_rtt();
        conn.arm_idle(now);
        Ok(conn)
    }

    /// Creates a server connection from the first datagram of a client (which must then
    /// be passed to [`Connection::handle_datagram`]).
    pub fn accept(
        config: Config,
        tls: Arc<dyn TlsConfig>,
        now: Instant,
        meta: DatagramMeta,
        datagram: &[u8],
        rng: Box<dyn CryptoRngCore + Send>,
    ) -> Result<Connection, AcceptError> {
        Connection::accept_with(
            config,
            tls,
            now,
            meta,
            datagram,
            rng,
            AcceptOptions::default(),
        )
    }

    /// Like [`Connection::accept`], with options: after a Retry the client's address counts
    /// as validated (RFC 9000 §8.1.2); the endpoint may choose our connection ID and its
    /// stateless reset token.
    pub fn accept_with(
        config: Config,
        tls: Arc<dyn TlsConfig>,
        now: Instant,
        meta: DatagramMeta,
        datagram: &[u8],
        mut rng: Box<dyn CryptoRngCore + Send>,
        opts: AcceptOptions,
    ) -> Result<Connection, AcceptError> {
        let retry = opts.retry;
        let first = handshake::parse_client_initial(datagram, config.grease_quic_bit)
            .ok_or(AcceptError::NotInitial)?;
        // A server accepts the versions it is configured for (RFC 9368 §2: its Acceptable
        // Versions); an endpoint answers others with Version Negotiation.
        if !config.accepted_versions().contains(first.version) {
            return Err(AcceptError::NotInitial);
        }
        if retry.is_some_and(|r| r.retry_scid != first.dcid) {
            return Err(AcceptError::NotInitial);
        }
        let scid = match opts.local_cid {
            Some(c) => c,
            None => random_cid(rng.as_mut(), config.cid_len),
        };
        let config = Config {
            version: first.version,
            ..config
        };
        let ids = Ids {
            local: scid,
            remote: first.scid,
            original: retry.map_or(first.dcid, |r| r.original_dcid),
            initial: first.dcid,
            retry_scid: retry.map(|r| r.retry_scid),
            reset_token: opts.reset_token,
            preferred_cid: opts.preferred_cid,
        };
        let mut conn = Connection::new(
            Side::Server,
            config,
            tls,
            ids,
            (meta.local, meta.remote),
            None,
            rng,
        )
        .map_err(AcceptError::Tls)?;
        if retry.is_some() || opts.validated {
            if let Some(p) = conn.paths.first_mut() {
                p.validated = true;
            }
        }
        conn.arm_idle(now);
        Ok(conn)
    }

    fn new(
        side: Side,
        config: Config,
        tls: Arc<dyn TlsConfig>,
        ids: Ids,
        (local, remote): (SocketAddr, SocketAddr),
        server_name: Option<&str>,
        mut rng: Box<dyn CryptoRngCore + Send>,
    ) -> Result<Connection, TlsError> {
        let version = config.version;
        let streams = Streams::new(side, config.streams);
        let mut local_params =
            handshake::local_params(&config, &streams, side, ids.local, ids.original);
        if side == Side::Server {
            local_params.retry_source_connection_id = ids.retry_scid;
            local_params.stateless_reset_token = ids.reset_token;
        }
        // RFC 9000 §9.6: a server's preferred address comes with the connection ID of
        // sequence number 1 and its reset token (§5.1.1).
        let preferred = match config.preferred_address {
            Some(addr) if side == Side::Server => {
                let (cid, token) = ids.preferred_cid.unwrap_or_else(|| {
                    let mut t = [0u8; ResetToken::LEN];
                    rng.fill_bytes(&mut t);
                    (random_cid(rng.as_mut(), config.cid_len), ResetToken(t))
                });
                local_params.preferred_address = Some(preferred_address(addr, cid, token));
                Some((cid, token))
            }
            _ => None,
        };
        let session: Box<dyn crate::tls::Session> = match side {
            Side::Client => {
                let encoded = handshake::encode_params(&local_params);
                tls.start_session(side, version, &encoded, server_name)?
            }
            // The server's session starts once the ClientHello is in and the version is
            // chosen (RFC 9368 §2.3, see `conn::version`).
            Side::Server => Box::new(super::version::NotStarted),
        };
        let initial = tls.initial_keys(version, &ids.initial, side)?;
        let mtu = config.initial_mtu.max(1200);
        let path = Path::new(
            quic_wire::PathId::ZERO,
            remote,
            local,
            &config.recovery,
            side == Side::Server,
            (mtu, config.max_udp_payload.max(mtu)),
            rng.as_rngcore(),
        );
        // The token of the handshake connection ID: advertised by a server, random otherwise.
        let first_token = ids.reset_token.unwrap_or_else(|| {
            let mut t = [0u8; ResetToken::LEN];
            rng.fill_bytes(&mut t);
            ResetToken(t)
        });
        let mut local_cids = super::local_cids::LocalCids::new(ids.local, first_token);
        if let Some((cid, token)) = preferred {
            local_cids.add_preferred(cid, token);
        }
        let mut spaces: Box<[SpaceCrypto; 3]> = Box::default();
        spaces[Space::Initial as usize].local = Some(initial.local);
        spaces[Space::Initial as usize].remote = Some(initial.remote);
        Ok(Connection {
            side,
            version,
            config: Box::new(config),
            tls: session,
            rng,
            state: State::Handshaking,
            error: None,
            local_cid: ids.local,
            remote_cid: ids.remote,
            orig_dcid: ids.original,
            peer_scid: (side == Side::Server).then_some(ids.remote),
            spaces,
            write_space: Space::Initial,
            paths: alloc::vec![path],
            streams,
            local_params: Box::new(local_params),
            peer_params: None,
            handshake_complete: false,
            handshake_confirmed: false,
            handshake_done_pending: false,
            handshake_done_acked: false,
            ping_pending: false,
            path_responses: VecDeque::new(),
            datagrams_in: VecDeque::new(),
            datagrams_out: VecDeque::new(),
            events: VecDeque::new(),
            routed: Vec::new(),
            indexed_reset_token: None,
            address_token_issued: false,
            timers: Timers::default(),
            idle_timeout: config.idle_timeout,
            idle_period: super::close::IdlePeriod::default(),
            sent_eliciting_since_recv: false,
            close: None,
            close_pending: false,
            spin: false,
            stats: Stats::default(),
            raw_frames: None,
            key_phase: Box::default(),
            peer_cids: Box::default(),
            tls_config: tls,
            token: Vec::new(),
            retry_scid: ids.retry_scid,
            peer_reset_token: None,
            zero_rtt: Default::default(),
            challenge: None,
            migration: Default::default(),
            ecn_failed: false,
            local_cids: Box::new(local_cids),
            packet_dcid: ids.local,
            new_token: None,
            received_token: None,
            vn: Box::new(super::version::VersionState::new(
                side,
                version,
                ids.initial,
            )),
            ack_frequency: None,
            #[cfg(feature = "qlog")]
            qlog: crate::qlog::Qlog::disabled(),
        })
    }
}
