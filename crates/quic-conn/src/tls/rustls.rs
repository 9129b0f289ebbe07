//! [`Session`] on `rustls::quic` with the ring provider.
//!
//! rustls' packet and header keys are adapted to quic-wire's traits:
//! - packet keys use `encrypt_in_place_for_path` / `decrypt_in_place_for_path` for paths
//!   other than 0 (RFC 10069 §2.4 nonces; the ring provider implements them), and the plain
//!   calls on path 0, whose nonce is the RFC 9001 §5.3 one;
//! - header keys compute the 5-byte mask by protecting a zero first byte and a zero 4-byte
//!   packet number (the XOR leaves the mask; the first byte is treated as a short header,
//!   so its mask keeps the low 5 bits, a superset of the 4 a long header uses).
//!
//! Initial keys come from quic-wire's ring implementation (v1 and v2).
//!
//! Compatible version negotiation (RFC 9368 §2.3): rustls fixes a session's QUIC version,
//! which only chooses the HKDF labels of the Handshake and 1-RTT keys (RFC 9369 §3.3.2).
//! A client session therefore records its traffic secrets through a per-session
//! `rustls::KeyLog` (chained to the configured one, so SSLKEYLOGFILE still works) and,
//! once [`Session::switch_version`] moved it to the server's version, derives those keys
//! itself with quic-wire's ring keys and the new labels. A server learns the version from
//! the ClientHello before it starts its session, so it needs none of this.
//!
//! Session tickets are scoped to a QUIC version on the server (RFC 9369 §5): each server
//! session gets a copy of the configuration whose session store and ticketer tag what they
//! keep with the session's version, so a ticket issued on a v1 connection is unknown to a
//! v2 one (a full handshake, without 0-RTT) and the other way round.
//!
//! SSLKEYLOGFILE: set `key_log` on the rustls config to `rustls::KeyLogFile` (see
//! [`RustlsConfig::with_keylog_file`]).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use quic_wire::crypto::{CryptoError, HeaderKey, PacketKey, Secret, Suite, MASK_LEN, SAMPLE_LEN};
use quic_wire::{ConnectionId, PacketNumber, PathId, Side, Version};
use rustls::quic::{self as rq};

use super::{DirectionalKeys, KeyChange, Keys, Level, PacketKeyPair, Session, TlsConfig, TlsError};

/// A [`TlsConfig`] on a rustls client or server configuration.
#[derive(Debug, Clone)]
pub enum RustlsConfig {
    /// Client connections.
    Client(Arc<rustls::ClientConfig>),
    /// Server connections.
    Server(Arc<rustls::ServerConfig>),
}

impl RustlsConfig {
    /// A client configuration with the ring provider, TLS 1.3 only, trusting `roots` and
    /// offering `alpn`.
    pub fn client(roots: rustls::RootCertStore, alpn: &[&[u8]]) -> Result<Self, rustls::Error> {
        let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
        c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(RustlsConfig::Client(Arc::new(c)))
    }

    /// A server configuration with the ring provider, TLS 1.3 only, presenting
    /// `cert_chain` with `key` and accepting `alpn`.
    pub fn server(
        cert_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
        alpn: &[&[u8]],
    ) -> Result<Self, rustls::Error> {
        let mut c = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
        c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        // RFC 9001 §4.6.1: QUIC requires max_early_data_size 0 or 0xffffffff; 0 here.
        c.max_early_data_size = 0;
        Ok(RustlsConfig::Server(Arc::new(c)))
    }

    /// The same configuration with 0-RTT enabled: a client sends early data when it
    /// resumes a session that allows it; a server accepts it (RFC 9001 §4.6.1: QUIC
    /// servers advertise max_early_data_size 0xffffffff). The application must accept the
    /// replay risk of early data (RFC 8446 §8).
    #[must_use]
    pub fn with_early_data(self) -> Self {
        match self {
            RustlsConfig::Client(c) => {
                let mut c = (*c).clone();
                c.enable_early_data = true;
                RustlsConfig::Client(Arc::new(c))
            }
            RustlsConfig::Server(c) => {
                let mut c = (*c).clone();
                c.max_early_data_size = u32::MAX;
                RustlsConfig::Server(Arc::new(c))
            }
        }
    }

    /// The same configuration logging secrets to the file named by SSLKEYLOGFILE (NSS key
    /// log format), so captures can be decrypted.
    #[must_use]
    pub fn with_keylog_file(self) -> Self {
        let log: Arc<dyn rustls::KeyLog> = Arc::new(rustls::KeyLogFile::new());
        match self {
            RustlsConfig::Client(c) => {
                let mut c = (*c).clone();
                c.key_log = log;
                RustlsConfig::Client(Arc::new(c))
            }
            RustlsConfig::Server(c) => {
                let mut c = (*c).clone();
                c.key_log = log;
                RustlsConfig::Server(Arc::new(c))
            }
        }
    }
}

fn rustls_version(v: Version) -> Result<rq::Version, TlsError> {
    match v {
        Version::V1 => Ok(rq::Version::V1),
        Version::V2 => Ok(rq::Version::V2),
        _ => Err(TlsError {
            alert: None,
            reason: "QUIC version not supported by the TLS session",
        }),
    }
}

fn internal(reason: &'static str) -> TlsError {
    TlsError {
        alert: None,
        reason,
    }
}

impl TlsConfig for RustlsConfig {
    fn start_session(
        &self,
        side: Side,
        version: Version,
        params: &[u8],
        server_name: Option<&str>,
    ) -> Result<Box<dyn Session>, TlsError> {
        let v = rustls_version(version)?;
        let conn: rq::Connection = match (self, side) {
            (RustlsConfig::Client(c), Side::Client) => {
                let name = rustls::pki_types::ServerName::try_from(server_name.unwrap_or(""))
                    .map_err(|_| internal("invalid server name"))?
                    .to_owned();
                // The session's own copy of the configuration, whose key log records the
                // traffic secrets for a version switch (a few reference counts; resumption
                // state stays shared).
                let capture = Arc::new(Capture {
                    inner: c.key_log.clone(),
                    secrets: std::sync::Mutex::new(Captured::default()),
                });
                let mut own = (**c).clone();
                own.key_log = capture.clone();
                let conn = rq::ClientConnection::new(Arc::new(own), v, name, params.to_vec())
                    .map_err(|_| internal("rustls refused the client configuration"))?;
                return Ok(Box::new(RustlsSession {
                    conn: conn.into(),
                    next: None,
                    capture: Some(capture),
                    switched: None,
                    next_secrets: None,
                    wants_tickets: stores_tickets(c),
                }));
            }
            (RustlsConfig::Server(c), Side::Server) => {
                rq::ServerConnection::new(scoped(c, version), v, params.to_vec())
                    .map_err(|_| internal("rustls refused the server configuration"))?
                    .into()
            }
            _ => return Err(internal("TLS configuration is for the other side")),
        };
        Ok(Box::new(RustlsSession {
            conn,
            next: None,
            capture: None,
            switched: None,
            next_secrets: None,
            wants_tickets: false,
        }))
    }

    fn start_server_session(
        &self,
        version: Version,
        params: &[u8],
        early_data: bool,
    ) -> Result<Box<dyn Session>, TlsError> {
        match self {
            RustlsConfig::Server(c) if !early_data && c.max_early_data_size != 0 => {
                let mut own = (**c).clone();
                own.max_early_data_size = 0;
                RustlsConfig::Server(Arc::new(own)).start_session(
                    Side::Server,
                    version,
                    params,
                    None,
                )
            }
            _ => self.start_session(Side::Server, version, params, None),
        }
    }

    fn initial_keys(
        &self,
        version: Version,
        dcid: &ConnectionId,
        side: Side,
    ) -> Result<Keys, TlsError> {
        let k = quic_wire::crypto::initial_keys(version, dcid, side)
            .map_err(|_| internal("no Initial keys for this version"))?;
        Ok(Keys {
            local: DirectionalKeys {
                packet: Box::new(k.local.packet),
                header: Box::new(k.local.header),
            },
            remote: DirectionalKeys {
                packet: Box::new(k.remote.packet),
                header: Box::new(k.remote.header),
            },
        })
    }

    fn retry_integrity_tag(
        &self,
        version: Version,
        original_dcid: &ConnectionId,
        retry_without_tag: &[u8],
    ) -> Result<[u8; 16], TlsError> {
        quic_wire::crypto::retry_integrity_tag(version, original_dcid, retry_without_tag)
            .map_err(|_| internal("cannot compute the Retry integrity tag"))
    }
}

/// The server configuration of a session in `version`: session IDs and tickets carry the
/// version (RFC 9369 §5: "Servers MUST validate the originating version of any session
/// ticket or token and not accept one issued from a different version").
fn scoped(c: &Arc<rustls::ServerConfig>, version: Version) -> Arc<rustls::ServerConfig> {
    let mut own = (**c).clone();
    own.session_storage = Arc::new(ScopedStore {
        inner: c.session_storage.clone(),
        version,
    });
    own.ticketer = Arc::new(ScopedTickets {
        inner: c.ticketer.clone(),
        version,
    });
    Arc::new(own)
}

/// `key` with the version in front.
fn tagged(version: Version, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + key.len());
    out.extend_from_slice(&version.0.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// A server session store whose keys are prefixed with a QUIC version.
#[derive(Debug)]
struct ScopedStore {
    inner: Arc<dyn rustls::server::StoresServerSessions>,
    version: Version,
}

impl rustls::server::StoresServerSessions for ScopedStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.inner.put(tagged(self.version, &key), value)
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(&tagged(self.version, key))
    }
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(&tagged(self.version, key))
    }
    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

/// A ticketer that seals the QUIC version into each ticket and opens only its own
/// version's.
#[derive(Debug)]
struct ScopedTickets {
    inner: Arc<dyn rustls::server::ProducesTickets>,
    version: Version,
}

impl rustls::server::ProducesTickets for ScopedTickets {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }
    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.inner.encrypt(&tagged(self.version, plain))
    }
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let plain = self.inner.decrypt(cipher)?;
        let (tag, rest) = plain.split_at_checked(4)?;
        (tag == self.version.0.to_be_bytes()).then(|| rest.to_vec())
    }
}

/// A rustls QUIC connection seen as a [`Session`].
struct RustlsSession {
    conn: rq::Connection,
    /// The secrets of the next 1-RTT key phase.
    next: Option<rq::Secrets>,
    /// Client: the traffic secrets rustls logged.
    capture: Option<Arc<Capture>>,
    /// The version keys are derived in, when it is not the one the session started with.
    switched: Option<Version>,
    /// After a switch: the (local, remote) 1-RTT secrets of the current key phase.
    next_secrets: Option<(Secret, Secret)>,
    /// Client: the configuration stores session tickets, so the session is kept until one
    /// arrived (see [`Session::release`]).
    wants_tickets: bool,
}

/// Whether a client configuration keeps session tickets. rustls does not say whether
/// `ClientConfig::resumption` is `Resumption::disabled()`; its `Debug` output names the
/// no-op store. Should that output change, every client counts as keeping tickets and waits
/// for one before releasing its handshake state: more memory, never a lost ticket.
fn stores_tickets(c: &rustls::ClientConfig) -> bool {
    !alloc::format!("{:?}", c.resumption).contains("NoClientSessionStorage")
}

/// What a [`RustlsSession`] keeps once the handshake is confirmed (see
/// [`Session::release`]): the secrets of the next 1-RTT key phase and a few facts about the
/// handshake. A few hundred bytes instead of the rustls connection's several kilobytes
/// (transcript, key schedule, record-layer ciphers, certificates, message buffers).
struct Released {
    side: Side,
    suite: Suite,
    next: Option<rq::Secrets>,
    next_secrets: Option<(Secret, Secret)>,
    alpn: Option<Box<[u8]>>,
    resumed: bool,
    early_data_accepted: bool,
}

/// Traffic secrets of one client session, as rustls logs them (NSS key log labels).
#[derive(Default)]
struct Captured {
    client_hs: Option<Vec<u8>>,
    server_hs: Option<Vec<u8>>,
    client_ap: Option<Vec<u8>>,
    server_ap: Option<Vec<u8>>,
}

/// A `rustls::KeyLog` that keeps one session's traffic secrets and passes every line on
/// to the configured key log.
struct Capture {
    inner: Arc<dyn rustls::KeyLog>,
    secrets: std::sync::Mutex<Captured>,
}

impl core::fmt::Debug for Capture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Capture")
    }
}

impl rustls::KeyLog for Capture {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        if self.inner.will_log(label) {
            self.inner.log(label, client_random, secret);
        }
        // A poisoned lock only means another thread panicked while holding it; the
        // secrets are plain data, still usable.
        let mut s = self
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = match label {
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut s.client_hs,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut s.server_hs,
            "CLIENT_TRAFFIC_SECRET_0" => &mut s.client_ap,
            "SERVER_TRAFFIC_SECRET_0" => &mut s.server_ap,
            _ => return,
        };
        *slot = Some(secret.to_vec());
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

impl RustlsSession {
    fn suite(&self) -> Suite {
        // Only TLS 1.3 suites QUIC can use are offered by the ring provider; fall back to
        // the Initial suite if rustls has not negotiated yet.
        self.conn
            .negotiated_cipher_suite()
            .and_then(|s| Suite::from_tls_id(u16::from(s.suite())))
            .unwrap_or(Suite::Aes128Gcm)
    }

    fn keys(&self, k: rq::Keys) -> Keys {
        let suite = self.suite();
        Keys {
            local: directional(k.local, suite),
            remote: directional(k.remote, suite),
        }
    }

    /// After a version switch: the (local, remote) secrets of the Handshake level
    /// (`one_rtt` false) or of the first 1-RTT key phase, in `version`.
    fn switched_secrets(
        &self,
        version: Version,
        one_rtt: bool,
    ) -> Result<(Secret, Secret), CryptoError> {
        let suite = self.suite();
        let capture = self.capture.as_ref().ok_or(CryptoError::Backend)?;
        let s = capture
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (client, server) = if one_rtt {
            (&s.client_ap, &s.server_ap)
        } else {
            (&s.client_hs, &s.server_hs)
        };
        let client = Secret::new(suite, version, client.as_deref().unwrap_or_default())?;
        let server = Secret::new(suite, version, server.as_deref().unwrap_or_default())?;
        // Only client sessions capture secrets.
        Ok((client, server))
    }

    /// The keys of a level in the switched version (RFC 9369 §3.3.2 labels).
    fn switched_keys(&mut self, version: Version, one_rtt: bool) -> Option<Keys> {
        let (local, remote) = self.switched_secrets(version, one_rtt).ok()?;
        let keys = Keys {
            local: ring_directional(&local)?,
            remote: ring_directional(&remote)?,
        };
        if one_rtt {
            self.next_secrets = Some((local, remote));
        }
        Some(keys)
    }
}

fn ring_directional(secret: &Secret) -> Option<DirectionalKeys> {
    let k = quic_wire::crypto::DirectionalKeys::from_secret(secret).ok()?;
    Some(DirectionalKeys {
        packet: Box::new(k.packet),
        header: Box::new(k.header),
    })
}

fn directional(k: rq::DirectionalKeys, suite: Suite) -> DirectionalKeys {
    DirectionalKeys {
        packet: Box::new(RustlsPacketKey {
            key: k.packet,
            suite,
        }),
        header: Box::new(RustlsHeaderKey(k.header)),
    }
}

impl Session for RustlsSession {
    fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    fn read_handshake(&mut self, _level: Level, data: &[u8]) -> Result<(), TlsError> {
        // rustls tracks the level itself; it only needs data of different levels in
        // separate calls, which the connection guarantees.
        self.conn.read_hs(data).map_err(|_| TlsError {
            alert: self.conn.alert().map(u8::from),
            reason: "TLS handshake failed",
        })
    }

    fn write_handshake(&mut self, out: &mut Vec<u8>) -> Option<KeyChange> {
        let change = self.conn.write_hs(out)?;
        if let Some(v) = self.switched {
            // rustls derived these keys with the labels of the version the session
            // started in; the secrets it logged give the negotiated version's. Without
            // them (cannot happen: rustls logs every traffic secret it derives) the level's
            // keys are missing and the handshake times out rather than using wrong keys.
            return match change {
                rq::KeyChange::Handshake { .. } => {
                    self.switched_keys(v, false).map(KeyChange::Handshake)
                }
                rq::KeyChange::OneRtt { .. } => self.switched_keys(v, true).map(KeyChange::OneRtt),
            };
        }
        match change {
            rq::KeyChange::Handshake { keys } => Some(KeyChange::Handshake(self.keys(keys))),
            rq::KeyChange::OneRtt { keys, next } => {
                self.next = Some(next);
                Some(KeyChange::OneRtt(self.keys(keys)))
            }
        }
    }

    fn switch_version(&mut self, version: Version) -> Result<(), TlsError> {
        rustls_version(version)?;
        if self.capture.is_none() {
            return Err(internal("only client sessions switch versions"));
        }
        self.switched = Some(version);
        Ok(())
    }

    fn peer_transport_parameters(&self) -> Option<&[u8]> {
        self.conn.quic_transport_parameters()
    }

    fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    fn zero_rtt_keys(&self) -> Option<DirectionalKeys> {
        let suite = self.suite();
        self.conn.zero_rtt_keys().map(|k| directional(k, suite))
    }

    fn is_early_data_accepted(&self) -> bool {
        match &self.conn {
            rq::Connection::Client(c) => c.is_early_data_accepted(),
            rq::Connection::Server(_) => false,
        }
    }

    fn is_resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }

    fn next_one_rtt_keys(&mut self) -> Option<PacketKeyPair> {
        let suite = self.suite();
        next_packet_keys(&mut self.next_secrets, &mut self.next, suite)
    }

    fn release(&mut self) -> Option<Box<dyn Session>> {
        if self.conn.is_handshaking() {
            return None;
        }
        let side = match &self.conn {
            rq::Connection::Client(c) => {
                if self.wants_tickets && c.tls13_tickets_received() == 0 {
                    return None;
                }
                Side::Client
            }
            rq::Connection::Server(_) => Side::Server,
        };
        Some(Box::new(Released {
            side,
            suite: self.suite(),
            next: self.next.take(),
            next_secrets: self.next_secrets.take(),
            alpn: self.conn.alpn_protocol().map(Box::from),
            resumed: self.is_resumed(),
            early_data_accepted: self.is_early_data_accepted(),
        }))
    }
}

/// The packet keys of the next 1-RTT key phase: from the secrets this crate derives after a
/// version switch, else from rustls' secrets.
fn next_packet_keys(
    switched: &mut Option<(Secret, Secret)>,
    next: &mut Option<rq::Secrets>,
    suite: Suite,
) -> Option<PacketKeyPair> {
    if let Some((local, remote)) = switched.as_mut() {
        // RFC 9001 §6.1 with the negotiated version's "quicv2 ku" label (RFC 9369
        // §3.3.2).
        let (l, r) = (local.next().ok()?, remote.next().ok()?);
        let lk = quic_wire::crypto::RingPacketKey::from_secret(&l).ok()?;
        let rk = quic_wire::crypto::RingPacketKey::from_secret(&r).ok()?;
        *local = l;
        *remote = r;
        return Some(PacketKeyPair {
            local: Box::new(lk),
            remote: Box::new(rk),
        });
    }
    let keys = next.as_mut()?.next_packet_keys();
    Some(PacketKeyPair {
        local: Box::new(RustlsPacketKey {
            key: keys.local,
            suite,
        }),
        remote: Box::new(RustlsPacketKey {
            key: keys.remote,
            suite,
        }),
    })
}

impl Session for Released {
    fn is_handshaking(&self) -> bool {
        false
    }

    fn read_handshake(&mut self, _level: Level, _data: &[u8]) -> Result<(), TlsError> {
        match self.side {
            // Post-handshake messages for a client are session tickets (RFC 9001 §4.6.1);
            // a released client keeps no more of them.
            Side::Client => Ok(()),
            // A client sends nothing after its Finished in QUIC (no KeyUpdate, RFC 9001
            // §6; no post-handshake authentication, §4.4): rustls answers anything with
            // unexpected_message, and so does this.
            Side::Server => Err(TlsError {
                alert: Some(u8::from(rustls::AlertDescription::UnexpectedMessage)),
                reason: "handshake message after the handshake",
            }),
        }
    }

    fn write_handshake(&mut self, _out: &mut Vec<u8>) -> Option<KeyChange> {
        None
    }

    fn peer_transport_parameters(&self) -> Option<&[u8]> {
        None
    }

    fn alpn(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    fn zero_rtt_keys(&self) -> Option<DirectionalKeys> {
        None
    }

    fn is_early_data_accepted(&self) -> bool {
        self.early_data_accepted
    }

    fn is_resumed(&self) -> bool {
        self.resumed
    }

    fn next_one_rtt_keys(&mut self) -> Option<PacketKeyPair> {
        next_packet_keys(&mut self.next_secrets, &mut self.next, self.suite)
    }
}

/// A rustls packet key as a quic-wire [`PacketKey`].
struct RustlsPacketKey {
    key: Box<dyn rq::PacketKey>,
    suite: Suite,
}

impl PacketKey for RustlsPacketKey {
    fn suite(&self) -> Suite {
        self.suite
    }

    fn seal(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        if tag.len() != self.key.tag_len() {
            return Err(CryptoError::BadLength);
        }
        let t = if path == PathId::ZERO {
            self.key.encrypt_in_place(pn.as_u64(), header, payload)
        } else {
            self.key
                .encrypt_in_place_for_path(path.as_u32(), pn.as_u64(), header, payload)
        }
        .map_err(|_| CryptoError::Backend)?;
        tag.copy_from_slice(t.as_ref());
        Ok(())
    }

    fn open(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload_and_tag: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if payload_and_tag.len() < self.key.tag_len() {
            return Err(CryptoError::PacketTooShort);
        }
        let r = if path == PathId::ZERO {
            self.key
                .decrypt_in_place(pn.as_u64(), header, payload_and_tag)
        } else {
            self.key
                .decrypt_in_place_for_path(path.as_u32(), pn.as_u64(), header, payload_and_tag)
        };
        r.map(<[u8]>::len).map_err(|_| CryptoError::DecryptFailed)
    }
}

/// A rustls header protection key as a quic-wire [`HeaderKey`].
struct RustlsHeaderKey(Box<dyn rq::HeaderProtectionKey>);

impl HeaderKey for RustlsHeaderKey {
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
        if sample.len() != SAMPLE_LEN {
            return Err(CryptoError::BadLength);
        }
        // rustls masks only as many packet-number bytes as the first byte's low two bits
        // announce, so announce four (0x03) to get the whole 5-byte mask (RFC 9001 §5.4.1),
        // then take the announced bits back out. A short-header first byte (form bit 0) gets
        // the 0x1f mask bits, which cover the long header's 0x0f too.
        let mut first = 0x03u8;
        let mut pn = [0u8; 4];
        self.0
            .encrypt_in_place(sample, &mut first, &mut pn)
            .map_err(|_| CryptoError::Backend)?;
        Ok([first ^ 0x03, pn[0], pn[1], pn[2], pn[3]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mask through rustls must equal quic-wire's ring header key for the same
    /// secret, on all five bytes (the first restricted to the 0x1f bits a short header
    /// uses): a partial mask would only show against another implementation.
    #[test]
    fn header_mask_matches_quic_wire_for_the_same_initial_secret() {
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
            .tls13()
            .unwrap();
        let keys = rq::Keys::initial(
            rq::Version::V1,
            suite,
            suite.quic.unwrap(),
            &dcid,
            rustls::Side::Client,
        );
        let ours = RustlsHeaderKey(keys.local.header);
        let ring = quic_wire::crypto::initial_keys(
            quic_wire::Version::V1,
            &quic_wire::ConnectionId::new(&dcid).unwrap(),
            quic_wire::Side::Client,
        )
        .unwrap();
        for seed in 0u8..32 {
            let sample: [u8; SAMPLE_LEN] =
                core::array::from_fn(|i| seed.wrapping_mul(31) ^ i as u8);
            let a = ours.mask(&sample).unwrap();
            let b = ring.local.header.mask(&sample).unwrap();
            assert_eq!(a[0], b[0] & 0x1f, "first byte, sample {seed}");
            assert_eq!(a[1..], b[1..], "packet-number bytes, sample {seed}");
        }
    }

    fn configs() -> (RustlsConfig, RustlsConfig) {
        let cert = rcgen::generate_simple_self_signed(["localhost".into()]).unwrap();
        let der = cert.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der.clone()).unwrap();
        let client = RustlsConfig::client(roots, &[b"hq"]).unwrap();
        let server = RustlsConfig::server(alloc::vec![der], key, &[b"hq"]).unwrap();
        (client, server)
    }

    /// Runs the TLS handshake between two sessions, moving bytes level by level; returns
    /// the 1-RTT keys of the client and the server.
    fn run_handshake(c: &mut Box<dyn Session>, s: &mut Box<dyn Session>) -> (Keys, Keys) {
        let mut levels = [Level::Initial, Level::Initial];
        let mut one_rtt: [Option<Keys>; 2] = [None, None];
        for _ in 0..10 {
            for i in 0..2 {
                let (from, to) = if i == 0 {
                    (&mut *c, &mut *s)
                } else {
                    (&mut *s, &mut *c)
                };
                loop {
                    let mut out = Vec::new();
                    let change = from.write_handshake(&mut out);
                    if !out.is_empty() {
                        to.read_handshake(levels[i], &out).unwrap();
                    }
                    match change {
                        Some(KeyChange::Handshake(_)) => levels[i] = Level::Handshake,
                        Some(KeyChange::OneRtt(k)) => {
                            levels[i] = Level::OneRtt;
                            one_rtt[i] = Some(k);
                        }
                        None if out.is_empty() => break,
                        None => {}
                    }
                }
            }
        }
        let [ck, sk] = one_rtt;
        (ck.unwrap(), sk.unwrap())
    }

    fn sessions(cc: &RustlsConfig, sc: &RustlsConfig) -> (Box<dyn Session>, Box<dyn Session>) {
        let c = cc
            .start_session(
                Side::Client,
                Version::V1,
                &[0x01, 0x01, 0x00],
                Some("localhost"),
            )
            .unwrap();
        let s = sc
            .start_session(Side::Server, Version::V1, &[0x01, 0x01, 0x00], None)
            .unwrap();
        (c, s)
    }

    /// What `local` seals, `remote` opens (path 0).
    fn seal_open(local: &dyn PacketKey, remote: &dyn PacketKey) -> bool {
        let mut packet = [0u8; 26];
        packet[..10].copy_from_slice(&[0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        local
            .seal_packet(PathId::ZERO, PacketNumber(3), &mut packet, 2)
            .unwrap();
        remote
            .open_packet(PathId::ZERO, PacketNumber(3), &mut packet, 2)
            .is_ok_and(|len| packet[2..2 + len] == [2, 3, 4, 5, 6, 7, 8, 9])
    }

    /// Once confirmed, both ends drop the rustls connection and keep key updates working:
    /// the released server's next key phase matches the client's (still live, then
    /// released too), ALPN stays, and a released server refuses handshake bytes as rustls
    /// does (unexpected_message) while a released client ignores them.
    #[test]
    fn released_sessions_keep_key_updates_and_the_alpn() {
        let (cc, sc) = configs();
        let (mut c, mut s) = sessions(&cc, &sc);
        run_handshake(&mut c, &mut s);
        let mut s = s
            .release()
            .expect("a server releases once the handshake is over");
        assert!(!s.is_handshaking());
        assert_eq!(s.alpn(), Some(&b"hq"[..]));
        assert!(!s.is_resumed());
        // Phase 1 from a live client and a released server.
        let (c1, s1) = (
            c.next_one_rtt_keys().unwrap(),
            s.next_one_rtt_keys().unwrap(),
        );
        assert!(seal_open(&*c1.local, &*s1.remote) && seal_open(&*s1.local, &*c1.remote));
        // The server's tickets reached the client in the handshake, so it releases too,
        // and phase 2 still agrees.
        let mut c = c.release().expect("a client with a ticket releases");
        assert_eq!(c.alpn(), Some(&b"hq"[..]));
        let (c2, s2) = (
            c.next_one_rtt_keys().unwrap(),
            s.next_one_rtt_keys().unwrap(),
        );
        assert!(seal_open(&*c2.local, &*s2.remote) && seal_open(&*s2.local, &*c2.remote));
        assert!(
            !seal_open(&*c2.local, &*s1.remote),
            "phase 2 differs from phase 1"
        );
        let e = s.read_handshake(Level::OneRtt, &[4, 0, 0, 0]).unwrap_err();
        assert_eq!(e.alert, Some(10));
        assert!(c.read_handshake(Level::OneRtt, &[4, 0, 0, 0]).is_ok());
        assert!(
            c.release().is_none() && s.release().is_none(),
            "released once"
        );
    }

    /// A client whose configuration stores tickets keeps its session until one arrives; one
    /// with resumption disabled releases at once.
    #[test]
    fn a_client_that_stores_tickets_releases_only_after_one_arrived() {
        let (cc, sc) = configs();
        let RustlsConfig::Server(server) = &sc else {
            unreachable!("configs() returns a server configuration second")
        };
        let mut no_tickets = (**server).clone();
        no_tickets.send_tls13_tickets = 0;
        let sc = RustlsConfig::Server(Arc::new(no_tickets));
        let (mut c, mut s) = sessions(&cc, &sc);
        run_handshake(&mut c, &mut s);
        assert!(!c.is_handshaking());
        assert!(c.release().is_none(), "waits for a ticket");

        let RustlsConfig::Client(client) = &cc else {
            unreachable!("configs() returns a client configuration first")
        };
        let mut no_resumption = (**client).clone();
        no_resumption.resumption = rustls::client::Resumption::disabled();
        let cc = RustlsConfig::Client(Arc::new(no_resumption));
        let (mut c, mut s) = sessions(&cc, &sc);
        run_handshake(&mut c, &mut s);
        assert!(c.release().is_some(), "nothing to wait for");
    }

    /// Runs the TLS handshake between two sessions, moving bytes level by level.
    #[test]
    fn rustls_sessions_complete_a_handshake_and_agree_on_keys() {
        let (cc, sc) = configs();
        let (mut c, mut s) = sessions(&cc, &sc);
        let (ck, sk) = run_handshake(&mut c, &mut s);
        assert!(!c.is_handshaking() && !s.is_handshaking());
        assert_eq!(c.alpn(), Some(&b"hq"[..]));
        assert_eq!(s.peer_transport_parameters(), Some(&[0x01, 0x01, 0x00][..]));
        // What the client seals, the server opens, on path 0 and on path 3.
        for path in [PathId::ZERO, PathId(3)] {
            let mut packet = [0u8; 26];
            packet[..10].copy_from_slice(&[0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
            ck.local
                .packet
                .seal_packet(path, PacketNumber(7), &mut packet, 2)
                .unwrap();
            let len = sk
                .remote
                .packet
                .open_packet(path, PacketNumber(7), &mut packet, 2)
                .unwrap();
            assert_eq!(&packet[2..2 + len], &[2, 3, 4, 5, 6, 7, 8, 9]);
        }
        let sample = [9u8; SAMPLE_LEN];
        assert_eq!(
            ck.local.header.mask(&sample).unwrap(),
            sk.remote.header.mask(&sample).unwrap()
        );
        assert!(c.next_one_rtt_keys().is_some());
    }
}
