//! Frames (RFC 9000 §12.4, §19; RFC 9221; ack-frequency; RFC 10069 §4).
//!
//! - [`Frame`] is one parsed frame, borrowing its byte fields from the decrypted payload;
//!   [`Frame::parse`] reads one, [`Frame::encoded_len`] and [`Frame::write`] produce one.
//! - [`FrameIter`] walks a whole payload and enforces which frames each packet type may
//!   carry (RFC 9000 §12.4, Table 3), reporting the exact error code and frame type.
//! - [`AckFrame`] holds ACK and PATH_ACK ranges without allocating; [`AckFrame::write_ranges`]
//!   writes ranges from any iterator, dropping the oldest ones to fit a byte budget.
//! - [`StreamFrameHeader`], [`CryptoFrameHeader`] and [`DatagramFrameHeader`] write a frame's
//!   header so the caller can copy the data straight after it, and know how much data fits.
//!
//! ## Validation
//! Parsing checks everything that can be checked without connection state, with the code
//! the specification names: truncated fields, lengths past the end, unknown types, bad
//! connection ID lengths, ACK ranges below packet number 0, stream limits above 2^60 and
//! offsets past 2^62-1 give FRAME_ENCODING_ERROR; frame types not in their shortest encoding,
//! path IDs above 2^32-1 and invalid ACK_FREQUENCY delays give PROTOCOL_VIOLATION.

mod ack;
#[cfg(feature = "arbitrary")]
mod arbitrary;
mod header;
mod iter;
mod parse;
pub mod types;
mod write;

pub use ack::{AckFit, AckFrame, AckRangeIter, AckWriteError, EcnCounts};
pub use header::{CryptoFrameHeader, DatagramFrameHeader, StreamFrameHeader};
pub use iter::FrameIter;
pub use types::{FrameType, FrameTypeInfo};

use crate::cid::{ConnectionId, ResetToken};
use crate::path::PathId;
use crate::stream_id::{Dir, StreamId};
use crate::varint::VarInt;

/// The largest stream or CRYPTO offset plus length: 2^62-1 (RFC 9000 §19.6, §19.8).
pub const MAX_OFFSET: u64 = VarInt::MAX.into_inner();

/// The largest stream count MAX_STREAMS and STREAMS_BLOCKED may carry: 2^60
/// (RFC 9000 §19.11, §19.14).
pub const MAX_STREAM_COUNT: u64 = 1 << 60;

/// The bound on ACK_FREQUENCY's Requested Max Ack Delay, in microseconds: values of
/// 2^14 milliseconds or more are invalid (ack-frequency §4, RFC 9000 §18.2).
pub const MAX_REQUESTED_ACK_DELAY_US: u64 = (1 << 14) * 1000;

/// One frame, parsed zero-copy from a decrypted packet payload (its byte fields borrow from
/// the payload) or built by the sender to be written.
///
/// The enum is exhaustive on purpose: a connection dispatches on every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of `len` consecutive PADDING bytes, collapsed into one item (RFC 9000 §19.1).
    /// Parsing always gives `len >= 1`; writing `len` 0 writes nothing.
    Padding {
        /// The number of 0x00 bytes.
        len: usize,
    },
    /// PING (RFC 9000 §19.2).
    Ping,
    /// ACK, type 0x02 or, with ECN counts, 0x03 (RFC 9000 §19.3).
    Ack(AckFrame<'a>),
    /// RESET_STREAM (RFC 9000 §19.4).
    ResetStream {
        /// The stream being reset.
        id: StreamId,
        /// The application protocol error code.
        error_code: VarInt,
        /// The final size of the stream in bytes.
        final_size: VarInt,
    },
    /// STOP_SENDING (RFC 9000 §19.5).
    StopSending {
        /// The stream whose incoming data is being discarded.
        id: StreamId,
        /// The application protocol error code.
        error_code: VarInt,
    },
    /// CRYPTO (RFC 9000 §19.6). `offset + data.len()` is at most 2^62-1.
    Crypto {
        /// Byte offset of `data` in the crypto stream.
        offset: u64,
        /// The handshake bytes.
        data: &'a [u8],
    },
    /// NEW_TOKEN (RFC 9000 §19.7). The token is never empty when parsed.
    NewToken {
        /// The opaque address validation token.
        token: &'a [u8],
    },
    /// STREAM, types 0x08 to 0x0f (RFC 9000 §19.8).
    Stream(StreamFrame<'a>),
    /// MAX_DATA (RFC 9000 §19.9): the connection-level flow control limit in bytes.
    MaxData(VarInt),
    /// MAX_STREAM_DATA (RFC 9000 §19.10).
    MaxStreamData {
        /// The stream the limit applies to.
        id: StreamId,
        /// The stream-level flow control limit in bytes.
        max: VarInt,
    },
    /// MAX_STREAMS, 0x12 (bidirectional) or 0x13 (unidirectional) (RFC 9000 §19.11).
    MaxStreams {
        /// Which kind of stream the limit applies to.
        dir: Dir,
        /// The cumulative number of streams the peer may open, at most 2^60.
        count: u64,
    },
    /// DATA_BLOCKED (RFC 9000 §19.12): the connection limit the sender is blocked at.
    DataBlocked(VarInt),
    /// STREAM_DATA_BLOCKED (RFC 9000 §19.13).
    StreamDataBlocked {
        /// The blocked stream.
        id: StreamId,
        /// The stream limit the sender is blocked at.
        limit: VarInt,
    },
    /// STREAMS_BLOCKED, 0x16 (bidirectional) or 0x17 (unidirectional) (RFC 9000 §19.14).
    StreamsBlocked {
        /// Which kind of stream the sender cannot open.
        dir: Dir,
        /// The stream limit at the time the frame was sent, at most 2^60.
        limit: u64,
    },
    /// NEW_CONNECTION_ID (RFC 9000 §19.15), for path 0.
    NewConnectionId(NewConnectionId),
    /// RETIRE_CONNECTION_ID (RFC 9000 §19.16), for path 0.
    RetireConnectionId {
        /// The sequence number of the connection ID being retired.
        sequence: VarInt,
    },
    /// PATH_CHALLENGE (RFC 9000 §19.17).
    PathChallenge([u8; 8]),
    /// PATH_RESPONSE (RFC 9000 §19.18).
    PathResponse([u8; 8]),
    /// CONNECTION_CLOSE, 0x1c (transport) or 0x1d (application) (RFC 9000 §19.19).
    ConnectionClose(ConnectionClose<'a>),
    /// HANDSHAKE_DONE (RFC 9000 §19.20).
    HandshakeDone,
    /// DATAGRAM, 0x30 (no Length field: extends to the end of the packet) or 0x31 (RFC 9221 §4).
    Datagram {
        /// The application datagram.
        data: &'a [u8],
        /// Whether the frame carries a Length field (type 0x31).
        has_len: bool,
    },
    /// ACK_FREQUENCY (ack-frequency §4).
    AckFrequency {
        /// Sequence number, so the receiver can ignore stale frames.
        sequence: VarInt,
        /// How many ack-eliciting packets may arrive before an ACK must be sent.
        ack_eliciting_threshold: VarInt,
        /// The max_ack_delay the sender asks for, in microseconds; below 2^14 ms when parsed.
        requested_max_ack_delay_us: VarInt,
        /// How much reordering is tolerated before an immediate ACK (0: never).
        reordering_threshold: VarInt,
    },
    /// IMMEDIATE_ACK (ack-frequency §5).
    ImmediateAck,
    /// PATH_ACK, 0x3e or, with ECN counts, 0x3f (RFC 10069 §4.1).
    PathAck {
        /// The path whose packet number space is acknowledged.
        path_id: PathId,
        /// The acknowledgement itself, laid out as in ACK.
        ack: AckFrame<'a>,
    },
    /// PATH_ABANDON (RFC 10069 §4.2).
    PathAbandon {
        /// The path to abandon.
        path_id: PathId,
        /// Why (NO_ERROR or one of the codes of RFC 10069 §4.2.1).
        error_code: VarInt,
    },
    /// PATH_STATUS_BACKUP (RFC 10069 §4.3).
    PathStatusBackup {
        /// The path the status applies to.
        path_id: PathId,
        /// Path status sequence number, shared with PATH_STATUS_AVAILABLE.
        sequence: VarInt,
    },
    /// PATH_STATUS_AVAILABLE (RFC 10069 §4.3).
    PathStatusAvailable {
        /// The path the status applies to.
        path_id: PathId,
        /// Path status sequence number, shared with PATH_STATUS_BACKUP.
        sequence: VarInt,
    },
    /// PATH_NEW_CONNECTION_ID (RFC 10069 §4.4): NEW_CONNECTION_ID for one path.
    PathNewConnectionId {
        /// The path the connection ID may be used on.
        path_id: PathId,
        /// The connection ID, its sequence number (per path) and reset token.
        frame: NewConnectionId,
    },
    /// PATH_RETIRE_CONNECTION_ID (RFC 10069 §4.5).
    PathRetireConnectionId {
        /// The path of the connection ID being retired.
        path_id: PathId,
        /// Its per-path sequence number.
        sequence: VarInt,
    },
    /// MAX_PATH_ID (RFC 10069 §4.6): the largest path ID the peer may use.
    MaxPathId(PathId),
    /// PATHS_BLOCKED (RFC 10069 §4.7): the maximum path ID that blocked the sender.
    PathsBlocked(PathId),
    /// PATH_CIDS_BLOCKED (RFC 10069 §4.7).
    PathCidsBlocked {
        /// The path lacking unused connection IDs.
        path_id: PathId,
        /// The next sequence number the sender expects the peer to issue.
        next_sequence: VarInt,
    },
}

/// A STREAM frame (RFC 9000 §19.8).
///
/// The OFF bit is written when `offset` is not zero; a parsed frame that carried an explicit
/// zero offset therefore re-encodes one varint shorter, with the same meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFrame<'a> {
    /// The stream.
    pub id: StreamId,
    /// Byte offset of `data` in the stream; `offset + data.len()` is at most 2^62-1.
    pub offset: u64,
    /// The stream bytes.
    pub data: &'a [u8],
    /// Whether this frame ends the stream (the FIN bit).
    pub fin: bool,
    /// Whether the frame carries a Length field (the LEN bit). Without one it extends to
    /// the end of the packet, so it must be the packet's last frame.
    pub has_len: bool,
}

/// The body of NEW_CONNECTION_ID (RFC 9000 §19.15) and PATH_NEW_CONNECTION_ID
/// (RFC 10069 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewConnectionId {
    /// Sequence number of the connection ID (per path for PATH_NEW_CONNECTION_ID).
    pub sequence: VarInt,
    /// Connection IDs with lower sequence numbers should be retired; at most `sequence`.
    pub retire_prior_to: VarInt,
    /// The connection ID, 1 to 20 bytes when parsed.
    pub cid: ConnectionId,
    /// The stateless reset token bound to it.
    pub reset_token: ResetToken,
}

/// CONNECTION_CLOSE (RFC 9000 §19.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionClose<'a> {
    /// The error code: a transport error code for 0x1c, an application one for 0x1d.
    pub error_code: VarInt,
    /// For a transport close (type 0x1c), the type of the frame that caused the error
    /// (0 when unknown); `None` makes this an application close (type 0x1d).
    pub frame_type: Option<FrameType>,
    /// The reason phrase; UTF-8 by the RFC's recommendation but not checked here.
    pub reason: &'a [u8],
}

impl Frame<'_> {
    /// The exact frame type this frame is written with, including the STREAM flag bits,
    /// the ECN variants of ACK and PATH_ACK, and the Length variant of DATAGRAM.
    pub fn ty(&self) -> FrameType {
        match self {
            Frame::Padding { .. } => FrameType::PADDING,
            Frame::Ping => FrameType::PING,
            Frame::Ack(ack) => {
                if ack.ecn().is_some() {
                    FrameType::ACK_ECN
                } else {
                    FrameType::ACK
                }
            }
            Frame::ResetStream { .. } => FrameType::RESET_STREAM,
            Frame::StopSending { .. } => FrameType::STOP_SENDING,
            Frame::Crypto { .. } => FrameType::CRYPTO,
            Frame::NewToken { .. } => FrameType::NEW_TOKEN,
            Frame::Stream(s) => s.ty(),
            Frame::MaxData(_) => FrameType::MAX_DATA,
            Frame::MaxStreamData { .. } => FrameType::MAX_STREAM_DATA,
            Frame::MaxStreams { dir: Dir::Bi, .. } => FrameType::MAX_STREAMS_BIDI,
            Frame::MaxStreams { dir: Dir::Uni, .. } => FrameType::MAX_STREAMS_UNI,
            Frame::DataBlocked(_) => FrameType::DATA_BLOCKED,
            Frame::StreamDataBlocked { .. } => FrameType::STREAM_DATA_BLOCKED,
            Frame::StreamsBlocked { dir: Dir::Bi, .. } => FrameType::STREAMS_BLOCKED_BIDI,
            Frame::StreamsBlocked { dir: Dir::Uni, .. } => FrameType::STREAMS_BLOCKED_UNI,
            Frame::NewConnectionId(_) => FrameType::NEW_CONNECTION_ID,
            Frame::RetireConnectionId { .. } => FrameType::RETIRE_CONNECTION_ID,
            Frame::PathChallenge(_) => FrameType::PATH_CHALLENGE,
            Frame::PathResponse(_) => FrameType::PATH_RESPONSE,
            Frame::ConnectionClose(c) => {
                if c.frame_type.is_some() {
                    FrameType::CONNECTION_CLOSE
                } else {
                    FrameType::CONNECTION_CLOSE_APP
                }
            }
            Frame::HandshakeDone => FrameType::HANDSHAKE_DONE,
            Frame::Datagram { has_len: false, .. } => FrameType::DATAGRAM,
            Frame::Datagram { has_len: true, .. } => FrameType::DATAGRAM_LEN,
            Frame::AckFrequency { .. } => FrameType::ACK_FREQUENCY,
            Frame::ImmediateAck => FrameType::IMMEDIATE_ACK,
            Frame::PathAck { ack, .. } => {
                if ack.ecn().is_some() {
                    FrameType::PATH_ACK_ECN
                } else {
                    FrameType::PATH_ACK
                }
            }
            Frame::PathAbandon { .. } => FrameType::PATH_ABANDON,
            Frame::PathStatusBackup { .. } => FrameType::PATH_STATUS_BACKUP,
            Frame::PathStatusAvailable { .. } => FrameType::PATH_STATUS_AVAILABLE,
            Frame::PathNewConnectionId { .. } => FrameType::PATH_NEW_CONNECTION_ID,
            Frame::PathRetireConnectionId { .. } => FrameType::PATH_RETIRE_CONNECTION_ID,
            Frame::MaxPathId(_) => FrameType::MAX_PATH_ID,
            Frame::PathsBlocked(_) => FrameType::PATHS_BLOCKED,
            Frame::PathCidsBlocked { .. } => FrameType::PATH_CIDS_BLOCKED,
        }
    }

    /// Whether a packet holding this frame must be acknowledged (RFC 9000 §13.2).
    #[inline]
    pub fn is_ack_eliciting(&self) -> bool {
        self.ty().is_ack_eliciting()
    }
}

impl StreamFrame<'_> {
    /// The frame type with its OFF, LEN and FIN bits.
    #[inline]
    pub fn ty(&self) -> FrameType {
        self.header().ty()
    }

    /// The header of this frame, for writing it and copying the data separately.
    #[inline]
    pub fn header(&self) -> StreamFrameHeader {
        StreamFrameHeader {
            id: self.id,
            offset: self.offset,
            len: if self.has_len {
                Some(self.data.len())
            } else {
                None
            },
            fin: self.fin,
        }
    }
}
