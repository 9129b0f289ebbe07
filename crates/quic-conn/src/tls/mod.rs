//! The TLS session interface a [`Connection`](crate::conn::Connection) drives (RFC 9001 §4),
//! and with feature `rustls` its implementation on `rustls::quic`.
//!
//! The interface is deliberately small and independent of any TLS library, so the
//! connection builds without `std` and a different TLS stack (or a null-crypto fuzzing
//! session) can be plugged in:
//!
//! - [`TlsConfig`] starts a [`Session`] for one connection and derives the Initial keys
//!   (RFC 9001 §5.2), which need no handshake;
//! - [`Session`] takes handshake bytes received at an encryption level
//!   ([`Session::read_handshake`]), hands out handshake bytes to send and, in between, the
//!   keys of the next level ([`Session::write_handshake`], [`KeyChange`]), and reports the
//!   peer's transport parameters, the negotiated ALPN, 0-RTT keys and key updates.
//!
//! Keys are boxed [`quic_wire::crypto::PacketKey`] / [`quic_wire::crypto::HeaderKey`]
//! trait objects: the connection protects packets with quic-wire's in-place builder and
//! opener whatever the TLS library.

use alloc::boxed::Box;
use alloc::vec::Vec;

use quic_wire::crypto::{HeaderKey, PacketKey};
use quic_wire::{ConnectionId, Side, Version};

#[cfg(feature = "rustls")]
pub mod rustls;

/// An encryption level (RFC 9001 §4, Table 1 "Encryption Keys by Packet Type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Level {
    /// Initial packets.
    Initial,
    /// 0-RTT packets.
    ZeroRtt,
    /// Handshake packets.
    Handshake,
    /// 1-RTT packets.
    OneRtt,
}

/// The keys of one direction at one level.
pub struct DirectionalKeys {
    /// Payload protection.
    pub packet: Box<dyn PacketKey>,
    /// Header protection.
    pub header: Box<dyn HeaderKey>,
}

impl core::fmt::Debug for DirectionalKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DirectionalKeys")
            .field("suite", &self.packet.suite())
            .finish_non_exhaustive()
    }
}

/// The keys of both directions at one level.
#[derive(Debug)]
pub struct Keys {
    /// For what we send.
    pub local: DirectionalKeys,
    /// For what the peer sends.
    pub remote: DirectionalKeys,
}

/// The packet keys of the next 1-RTT key phase (RFC 9001 §6); header keys do not change.
pub struct PacketKeyPair {
    /// For what we send.
    pub local: Box<dyn PacketKey>,
    /// For what the peer sends.
    pub remote: Box<dyn PacketKey>,
}

impl core::fmt::Debug for PacketKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketKeyPair").finish_non_exhaustive()
    }
}

/// New keys the handshake produced, returned by [`Session::write_handshake`].
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyChange {
    /// Handshake keys: handshake bytes written after this go in Handshake packets.
    Handshake(Keys),
    /// 1-RTT keys: handshake bytes written after this go in 1-RTT packets (session
    /// tickets). Later key phases come from [`Session::next_one_rtt_keys`].
    OneRtt(Keys),
}

/// Why the TLS handshake failed: the connection closes with CRYPTO_ERROR carrying the
/// alert (RFC 9001 §4.8), or with `code` when set (a transport-level problem found by the
/// session, such as missing transport parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("TLS: {reason}")]
pub struct TlsError {
    /// The TLS alert to report, if TLS raised one.
    pub alert: Option<u8>,
    /// A description, for logs.
    pub reason: &'static str,
}

/// Starts TLS sessions: one per connection.
pub trait TlsConfig: Send + Sync {
    /// A session for a new connection on `side` speaking `version`, sending `params` (our
    /// encoded transport parameters, RFC 9001 §8.2). A client names the server it connects
    /// to in `server_name`.
    fn start_session(
        &self,
        side: Side,
        version: Version,
        params: &[u8],
        server_name: Option<&str>,
    ) -> Result<Box<dyn Session>, TlsError>;

    /// The Initial keys for `version` derived from the client's first Destination
    /// Connection ID (RFC 9001 §5.2; RFC 9369 §3.3.1 for v2), as seen by `side`.
    fn initial_keys(
        &self,
        version: Version,
        dcid: &ConnectionId,
        side: Side,
    ) -> Result<Keys, TlsError>;

    /// The Retry Integrity Tag (RFC 9001 §5.8; RFC 9369 §3.3.3 for v2) of a Retry packet
    /// (`retry_without_tag`) answering an Initial sent to `original_dcid`. Without an
    /// implementation, Retry packets are neither sent nor accepted.
    fn retry_integrity_tag(
        &self,
        version: Version,
        original_dcid: &ConnectionId,
        retry_without_tag: &[u8],
    ) -> Result<[u8; 16], TlsError> {
        let _ = (version, original_dcid, retry_without_tag);
        Err(TlsError {
            alert: None,
            reason: "Retry integrity not supported by this TLS configuration",
        })
    }

    /// Like [`TlsConfig::start_session`] for a server, refusing 0-RTT when `early_data` is
    /// false. A server that switched versions by compatible version negotiation refuses
    /// early data: the client's 0-RTT packets stay in its original version (RFC 9369 §4)
    /// and their keys would not match a session of the negotiated version (RFC 9368 §6.3
    /// lets the compatibility document require the refusal). The default ignores
    /// `early_data`, which is right for configurations that never accept 0-RTT.
    fn start_server_session(
        &self,
        version: Version,
        params: &[u8],
        early_data: bool,
    ) -> Result<Box<dyn Session>, TlsError> {
        let _ = early_data;
        self.start_session(Side::Server, version, params, None)
    }
}

/// One TLS 1.3 handshake as QUIC carries it (RFC 9001 §4.1.5 "TLS Interface Summary").
pub trait Session: Send {
    /// Whether the handshake is still running. A server's handshake completes when it
    /// has read the client's Finished, a client's when it has written its Finished
    /// (RFC 9001 §4.1.1).
    fn is_handshaking(&self) -> bool;

    /// Handshake bytes received in CRYPTO frames at `level`, in stream order (the
    /// connection reassembles them first).
    fn read_handshake(&mut self, level: Level, data: &[u8]) -> Result<(), TlsError>;

    /// Appends handshake bytes to send to `out`, which may already hold earlier bytes of
    /// the level (the connection passes its CRYPTO send buffer): only append, never change
    /// or remove what is there. The bytes belong to the current write level
    /// (Initial at first); when this returns a [`KeyChange`], the bytes appended by this
    /// call still belong to the old level and the write level moves up for later calls.
    /// Call again until it returns `None` and appends nothing.
    fn write_handshake(&mut self, out: &mut Vec<u8>) -> Option<KeyChange>;

    /// The peer's encoded transport parameters, once received.
    fn peer_transport_parameters(&self) -> Option<&[u8]>;

    /// The negotiated application protocol (ALPN, RFC 9001 §8.1).
    fn alpn(&self) -> Option<&[u8]>;

    /// The 0-RTT keys of this session, when 0-RTT is possible: the client's for sending,
    /// the server's for receiving (RFC 9001 §4.6).
    fn zero_rtt_keys(&self) -> Option<DirectionalKeys>;

    /// Whether the server accepted 0-RTT (client side; `false` on a server).
    fn is_early_data_accepted(&self) -> bool;

    /// Whether the handshake resumed an earlier session (known once it completed).
    fn is_resumed(&self) -> bool {
        false
    }

    /// The packet keys of the next 1-RTT key phase (RFC 9001 §6); `None` before the
    /// 1-RTT keys exist.
    fn next_one_rtt_keys(&mut self) -> Option<PacketKeyPair>;

    /// The handshake is confirmed (RFC 9001 §4.1.2) and every handshake byte TLS wrote
    /// was taken: a session that can drop what only the handshake needed (transcript, key
    /// schedule, certificates, message buffers) returns the small session that replaces it.
    /// The replacement keeps what a confirmed connection still asks of TLS: the next 1-RTT
    /// key phases ([`Session::next_one_rtt_keys`]), [`Session::alpn`],
    /// [`Session::is_resumed`] and [`Session::is_early_data_accepted`]. Handshake bytes it
    /// reads later are post-handshake messages: a client may ignore them (only
    /// NewSessionTicket is allowed in QUIC, RFC 9001 §4.6.1, and a released client no longer
    /// stores tickets); a server has none to expect and fails as TLS would. The default
    /// keeps the session (`None`).
    fn release(&mut self) -> Option<Box<dyn Session>> {
        None
    }

    /// Client, compatible version negotiation (RFC 9368 §2.3, RFC 9369 §4): the server
    /// answered in `version`, so the Handshake and 1-RTT keys (and key updates) from now on
    /// must be derived with that version's labels (RFC 9369 §3.3.2), although the session
    /// started in another. Called before any Handshake keys were returned. The default
    /// refuses, which makes the client ignore the server's packets of other versions.
    fn switch_version(&mut self, version: Version) -> Result<(), TlsError> {
        let _ = version;
        Err(TlsError {
            alert: None,
            reason: "this TLS session cannot change QUIC versions",
        })
    }
}
