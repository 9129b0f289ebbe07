//! Errors the application API returns on misuse. Peer misbehaviour is a
//! [`quic_wire::TransportError`] instead.

use quic_wire::VarInt;

/// Why an application call on a stream failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// No such stream: never opened, already closed and freed, or a pending stream that
    /// was cancelled.
    #[error("unknown or closed stream")]
    UnknownStream,
    /// The stream has no sending part: it is the peer's unidirectional stream.
    #[error("stream is receive-only")]
    ReceiveOnly,
    /// The stream has no receiving part: it is our unidirectional stream.
    #[error("stream is send-only")]
    SendOnly,
    /// The sending part was finished or reset; nothing more can be written.
    #[error("stream already finished or reset")]
    Closed,
    /// The peer asked us to stop sending (STOP_SENDING with this code); the stream was
    /// reset in reply.
    #[error("peer stopped the stream with code {0}")]
    Stopped(VarInt),
    /// The peer reset the stream with this application error code.
    #[error("peer reset the stream with code {0}")]
    Reset(VarInt),
    /// Every stream ID of this type has been used.
    #[error("stream IDs exhausted")]
    IdsExhausted,
}
