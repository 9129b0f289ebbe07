//! Why a connection ended, and the errors of application calls.

use alloc::vec::Vec;

use quic_wire::{FrameType, TransportError, TransportErrorCode, VarInt};

/// Why the connection closed: the one error the application matches on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer closed with a transport error (CONNECTION_CLOSE 0x1c).
    #[error("peer closed: transport error {code:?}")]
    PeerTransport {
        /// The error code.
        code: TransportErrorCode,
        /// The frame type that caused it, when given.
        frame_type: Option<FrameType>,
        /// The peer's reason phrase.
        reason: Vec<u8>,
    },
    /// The peer's application closed (CONNECTION_CLOSE 0x1d).
    #[error("peer application closed with code {code}")]
    PeerApplication {
        /// The application error code.
        code: VarInt,
        /// The reason phrase.
        reason: Vec<u8>,
    },
    /// We closed because the peer broke a rule (or TLS failed): this is the error we sent.
    #[error("closed on protocol error: {0}")]
    Transport(TransportError),
    /// The application closed the connection with this code.
    #[error("closed locally with code {0}")]
    LocallyClosed(VarInt),
    /// The idle timeout passed (RFC 9000 §10.1).
    #[error("idle timeout")]
    TimedOut,
    /// The peer answered with a stateless reset (RFC 9000 §10.3): it lost the connection.
    #[error("stateless reset")]
    Reset,
    /// The server supports none of our versions (RFC 9000 §6.2).
    #[error("no common QUIC version")]
    VersionMismatch,
    /// The server answered with a Version Negotiation packet listing a version we also
    /// speak (RFC 9368 §2.1): connect again with
    /// [`Config::after_version_negotiation`](super::Config::after_version_negotiation).
    #[error("server asks for another QUIC version: {:?}", .0.chosen)]
    VersionNegotiation(super::VersionNegotiated),
    /// The server's Retry token is so long that an Initial packet carrying it has no room
    /// for handshake data within the path's datagram size: the handshake could never
    /// progress, so the client gives up at once instead of waiting for its idle timeout.
    #[error("Retry token of {len} bytes leaves no room for the handshake in an Initial packet")]
    RetryTokenTooLong {
        /// The token's length.
        len: usize,
    },
}

/// Why a datagram could not be queued (RFC 9221).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatagramError {
    /// The peer does not accept DATAGRAM frames (or its transport parameters are not
    /// known yet).
    #[error("peer does not accept datagrams")]
    Unsupported,
    /// Larger than the peer accepts or than fits one packet.
    #[error("datagram too large")]
    TooLarge,
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
}

/// Why a server connection could not be created from a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// Not a client Initial of a supported version in a datagram of at least 1200 bytes
    /// with a Destination Connection ID of at least 8 bytes (RFC 9000 §14.1, §7.2).
    #[error("not an acceptable client Initial")]
    NotInitial,
    /// The TLS session could not start.
    #[error("TLS: {0}")]
    Tls(crate::tls::TlsError),
}
