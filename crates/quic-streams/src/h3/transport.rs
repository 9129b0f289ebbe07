//! The transport an HTTP/3 session runs on, and the session's events and API errors.

use super::error::Code;
use super::priority::Priority;
use super::qpack::Field;
use super::settings::Settings;
use alloc::vec::Vec;
use bytes::Bytes;
use quic_wire::StreamId;

/// Why the transport did not accept an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportError {
    /// No room now (flow control or send buffer); nothing was taken. Retry later.
    Blocked,
    /// The peer's stream-count limit forbids opening another stream now.
    StreamLimit,
    /// The stream is unknown, closed, reset or stopped.
    Closed,
}

/// What an HTTP/3 session needs from QUIC. Object-safe: a session takes `&mut dyn
/// Transport` as well as any concrete type.
///
/// Writes are all-or-nothing so HTTP/3 frames are never split by a refusal: either every
/// chunk is queued (the transport keeps the `Bytes`, no copy) or none is.
pub trait Transport {
    /// Opens a unidirectional stream of ours.
    fn open_uni(&mut self) -> Result<StreamId, TransportError>;
    /// Opens a bidirectional stream of ours (clients use one per request).
    fn open_bidi(&mut self) -> Result<StreamId, TransportError>;
    /// Queues `chunks` in order on `stream`, then the end of the stream if `fin`.
    fn write(
        &mut self,
        stream: StreamId,
        chunks: &[Bytes],
        fin: bool,
    ) -> Result<(), TransportError>;
    /// Abandons sending on `stream` (RESET_STREAM with `code`).
    fn reset(&mut self, stream: StreamId, code: Code);
    /// Asks the peer to stop sending on `stream` (STOP_SENDING with `code`).
    fn stop_sending(&mut self, stream: StreamId, code: Code);
}

/// Something the session reports to the application (see [`super::session::H3::poll_event`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's SETTINGS arrived.
    Settings(Settings),
    /// Server: a request head arrived on `stream`, with its priority (RFC 9218; defaults if
    /// the request carries no `priority` field).
    Request {
        /// The request stream.
        stream: StreamId,
        /// Pseudo-headers first, then regular fields.
        fields: Vec<Field>,
        /// The priority the client asked for.
        priority: Priority,
    },
    /// Client: an interim (1xx) response arrived.
    Informational {
        /// The request stream.
        stream: StreamId,
        /// The interim response's fields.
        fields: Vec<Field>,
    },
    /// Client: the final response head arrived.
    Response {
        /// The request stream.
        stream: StreamId,
        /// The response's fields.
        fields: Vec<Field>,
    },
    /// Body bytes (a slice of what the transport delivered, not a copy).
    Data {
        /// The stream.
        stream: StreamId,
        /// The bytes.
        data: Bytes,
    },
    /// A trailer section arrived.
    Trailers {
        /// The stream.
        stream: StreamId,
        /// The trailer fields.
        fields: Vec<Field>,
    },
    /// The peer finished its side of the message cleanly.
    Finished {
        /// The stream.
        stream: StreamId,
    },
    /// The stream was aborted: by the peer (RESET_STREAM or STOP_SENDING), by us because the
    /// peer's message was malformed (H3_MESSAGE_ERROR and the like), or because a GOAWAY
    /// showed the peer will not process it (H3_REQUEST_REJECTED).
    StreamAborted {
        /// The stream.
        stream: StreamId,
        /// The error code.
        code: Code,
        /// True if the peer sent the code, false if we did.
        by_peer: bool,
    },
    /// Server: the client reprioritized a request with PRIORITY_UPDATE.
    PriorityUpdate {
        /// The request stream (it may not have been opened yet).
        stream: StreamId,
        /// The new priority.
        priority: Priority,
    },
    /// The peer sent GOAWAY: no request on a stream with ID at or above `id` (client view)
    /// will be processed.
    GoAway {
        /// The stream ID (from a server) or push ID (from a client).
        id: u64,
    },
}

/// Why an application call was refused. The connection is unaffected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The transport refused; see the inner error.
    Transport(TransportError),
    /// The fields do not form a valid message of this kind.
    Malformed(&'static str),
    /// The call does not fit the stream's state (unknown stream, body after FIN, response on
    /// a client, ...).
    InvalidState(&'static str),
    /// The encoded field section exceeds the peer's SETTINGS_MAX_FIELD_SECTION_SIZE.
    FieldSectionTooLarge,
    /// GOAWAY forbids new requests.
    GoingAway,
    /// The connection has failed or [`super::session::H3::start`] has not been called.
    NotReady,
}

impl From<TransportError> for SendError {
    fn from(e: TransportError) -> Self {
        SendError::Transport(e)
    }
}
