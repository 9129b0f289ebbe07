//! Transport events about streams, datagrams, blocking, migration and timers (qlog QUIC
//! events, "Transport events", second half).

use alloc::string::String;

use serde::Serialize;

use crate::qlog::frames::QuicFrame;
use crate::qlog::types::{PacketNumberSpace, RawInfo, StreamType, TupleEndpointInfo};

/// `$StreamState`: base and granular stream states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamState {
    /// Not yet used.
    Idle,
    /// Open.
    Open,
    /// Closed.
    Closed,
    /// Bidirectional: our side is closed (RFC 9000 §3.4).
    HalfClosedLocal,
    /// Bidirectional: the peer's side is closed.
    HalfClosedRemote,
    /// Sending: Ready (RFC 9000 §3.1).
    Ready,
    /// Sending: Send.
    Send,
    /// Sending: Data Sent.
    DataSent,
    /// Sending: Reset Sent.
    ResetSent,
    /// Sending: Reset Recvd.
    ResetReceived,
    /// Receiving: Recv (RFC 9000 §3.2).
    Receive,
    /// Receiving: Size Known.
    SizeKnown,
    /// Receiving: Data Read.
    DataRead,
    /// Receiving: Reset Read.
    ResetRead,
    /// Data Recvd, either side.
    DataReceived,
    /// The stream's memory was freed.
    Destroyed,
}

/// `stream_side` of `quic:stream_state_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamSide {
    /// The sending part.
    Sending,
    /// The receiving part.
    Receiving,
}

/// Whether a state change came from a local or a remote action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalOrRemote {
    /// A local action.
    Local,
    /// A remote action.
    Remote,
}

/// `quic:stream_state_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamStateUpdated {
    /// The stream.
    pub stream_id: u64,
    /// Its direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_type: Option<StreamType>,
    /// The previous state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<StreamState>,
    /// The new state.
    pub new: StreamState,
    /// Which half changed.
    pub stream_side: StreamSide,
    /// Who caused the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<LocalOrRemote>,
}

/// `quic:frames_created`: frames built outside a `packet_sent` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FramesCreated<'a> {
    /// The frames.
    pub frames: &'a [QuicFrame<'a>],
    /// The packet number of each frame, index for index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_numbers: Option<&'a [u64]>,
}

/// `quic:frames_parsed`: frames parsed outside a `packet_received` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FramesParsed<'a> {
    /// The frames.
    pub frames: &'a [QuicFrame<'a>],
    /// The packet number of each frame, index for index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_numbers: Option<&'a [u64]>,
}

/// `$DataLocation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DataLocation {
    /// The application (e.g. HTTP/3).
    Application,
    /// QUIC's buffers.
    Transport,
    /// The network.
    Network,
}

/// `$DataMovedAdditionalInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DataMovedAdditionalInfo {
    /// The move also ended the stream.
    FinSet,
    /// The stream was reset.
    StreamReset,
}

/// `quic:stream_data_moved`: stream data moved between layers; `raw.length` is the
/// number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StreamDataMoved<'a> {
    /// The stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<u64>,
    /// Offset of the data in the stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Where the data came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DataLocation>,
    /// Where it went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DataLocation>,
    /// FIN or reset information.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<DataMovedAdditionalInfo>,
    /// The amount moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
}

/// `quic:datagram_data_moved`: DATAGRAM payload moved between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DatagramDataMoved<'a> {
    /// Where the data came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DataLocation>,
    /// Where it went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DataLocation>,
    /// The amount moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
}

/// `$BlockedState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockedState {
    /// Cannot send.
    Blocked,
    /// Can send again.
    Unblocked,
}

/// `$BlockedReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BlockedReason {
    /// The scheduler chose other data.
    Scheduling,
    /// The pacer.
    Pacing,
    /// The anti-amplification limit.
    AmplificationProtection,
    /// The congestion window.
    CongestionControl,
    /// Connection flow control.
    ConnectionFlowControl,
    /// Stream flow control.
    StreamFlowControl,
    /// The stream ID limit.
    StreamId,
    /// The application.
    Application,
}

/// `quic:connection_data_blocked_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConnectionDataBlockedUpdated {
    /// The previous state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<BlockedState>,
    /// The new state.
    pub new: BlockedState,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<BlockedReason>,
}

/// `quic:stream_data_blocked_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamDataBlockedUpdated {
    /// The previous state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<BlockedState>,
    /// The new state.
    pub new: BlockedState,
    /// The stream.
    pub stream_id: u64,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<BlockedReason>,
}

/// `quic:datagram_data_blocked_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DatagramDataBlockedUpdated {
    /// The previous state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<BlockedState>,
    /// The new state.
    pub new: BlockedState,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<BlockedReason>,
}

/// `MigrationState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// Probing packets sent.
    ProbingStarted,
    /// No answer to probes; path given up.
    ProbingAbandoned,
    /// Probes answered; path is a candidate.
    ProbingSuccessful,
    /// Non-probing packets sent on the new path.
    MigrationStarted,
    /// Migration given up.
    MigrationAbandoned,
    /// The new path is in use, the old one discarded.
    MigrationComplete,
}

/// `quic:migration_state_updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStateUpdated {
    /// The previous state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<MigrationState>,
    /// The new state.
    pub new: MigrationState,
    /// The tuple concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuple_id: Option<String>,
    /// Remote side of the tuple.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuple_remote: Option<TupleEndpointInfo>,
    /// Local side of the tuple.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuple_local: Option<TupleEndpointInfo>,
}

/// `$TimerType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimerType {
    /// The threshold loss detection timeout (RFC 9002 §6.1.2).
    Ack,
    /// The probe timeout (RFC 9002 §6.2).
    Pto,
    /// The combined loss detection timer (RFC 9002 Appendix A.8).
    LossTimeout,
    /// Path validation.
    PathValidation,
    /// Handshake timeout.
    HandshakeTimeout,
    /// Idle timeout.
    IdleTimeout,
}

/// `event_type` of `quic:timer_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerEventType {
    /// Armed or re-armed; `delta` holds the time left.
    Set,
    /// Fired.
    Expired,
    /// Disarmed.
    Cancelled,
}

/// `quic:timer_updated` (called `loss_timer_updated` in older drafts).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimerUpdated {
    /// Which timer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_type: Option<TimerType>,
    /// Tells timers of one type apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_id: Option<u64>,
    /// For recovery timers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_number_space: Option<PacketNumberSpace>,
    /// What happened.
    pub event_type: TimerEventType,
    /// With `set`: milliseconds from this event until the timer fires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<f32>,
}

crate::qlog::impl_event! {
    StreamStateUpdated => "quic:stream_state_updated",
    FramesCreated<'_> => "quic:frames_created",
    FramesParsed<'_> => "quic:frames_parsed",
    StreamDataMoved<'_> => "quic:stream_data_moved",
    DatagramDataMoved<'_> => "quic:datagram_data_moved",
    ConnectionDataBlockedUpdated => "quic:connection_data_blocked_updated",
    StreamDataBlockedUpdated => "quic:stream_data_blocked_updated",
    DatagramDataBlockedUpdated => "quic:datagram_data_blocked_updated",
    MigrationStateUpdated => "quic:migration_state_updated",
    TimerUpdated => "quic:timer_updated",
}
