//! Recovery events (qlog QUIC events, "Recovery events"). Times are milliseconds.

use alloc::borrow::Cow;

use serde::Serialize;

use crate::qlog::frames::QuicFrame;
use crate::qlog::types::PacketHeader;

/// `quic:recovery_parameters_set`: loss detection and congestion control constants.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RecoveryParametersSet {
    /// kPacketThreshold, in packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reordering_threshold: Option<u16>,
    /// kTimeThreshold, as an RTT multiplier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_threshold: Option<f32>,
    /// kGranularity in milliseconds (required).
    pub timer_granularity: u16,
    /// kInitialRtt in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_rtt: Option<f32>,
    /// max_datagram_size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_datagram_size: Option<u32>,
    /// Initial congestion window in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_congestion_window: Option<u64>,
    /// Minimum congestion window in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_congestion_window: Option<u64>,
    /// kLossReductionFactor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_reduction_factor: Option<f32>,
    /// kPersistentCongestionThreshold, as a PTO multiplier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_congestion_threshold: Option<u16>,
}

/// `quic:recovery_metrics_updated`: set only the metrics that changed.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RecoveryMetricsUpdated {
    /// min_rtt in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rtt: Option<f32>,
    /// smoothed_rtt in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoothed_rtt: Option<f32>,
    /// latest_rtt in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_rtt: Option<f32>,
    /// rttvar in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_variance: Option<f32>,
    /// pto_count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pto_count: Option<u16>,
    /// Congestion window in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub congestion_window: Option<u64>,
    /// Bytes in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_in_flight: Option<u64>,
    /// Slow start threshold in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssthresh: Option<u64>,
    /// Packets in flight over all spaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets_in_flight: Option<u64>,
    /// Pacing rate in bits per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pacing_rate: Option<u64>,
}

impl RecoveryMetricsUpdated {
    /// Whether no metric is set (such an event should not be logged).
    pub fn is_empty(&self) -> bool {
        *self == RecoveryMetricsUpdated::default()
    }
}

/// `quic:congestion_state_updated`: the states are free text (e.g. `"slow_start"`,
/// `"congestion_avoidance"`, `"application_limited"`, `"recovery"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CongestionStateUpdated {
    /// The previous state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Cow<'static, str>>,
    /// The new state.
    pub new: Cow<'static, str>,
    /// What caused the change (e.g. `"persistent_congestion"`, `"ecn"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Cow<'static, str>>,
}

/// `trigger` of `quic:packet_lost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PacketLostTrigger {
    /// Declared lost by the packet threshold.
    ReorderingThreshold,
    /// Declared lost by the time threshold.
    TimeThreshold,
    /// Declared lost when a PTO expired (RFC 9002 §6.2.4).
    PtoExpired,
}

/// `quic:packet_lost`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PacketLost<'a> {
    /// At least the type and number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<PacketHeader<'a>>,
    /// The frames the packet held, if tracked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<&'a [QuicFrame<'a>]>,
    /// Whether it was a PMTU probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_mtu_probe_packet: Option<bool>,
    /// Why it was declared lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<PacketLostTrigger>,
}

/// `quic:marked_for_retransmit`: data queued again after a loss, as frames.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkedForRetransmit<'a> {
    /// The frames (at least one).
    pub frames: &'a [QuicFrame<'a>],
}

/// `ECNState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EcnState {
    /// Testing in progress.
    Testing,
    /// Waiting for the testing packets to be acknowledged.
    Unknown,
    /// Testing failed.
    Failed,
    /// Testing succeeded.
    Capable,
}

/// `quic:ecn_state_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EcnStateUpdated {
    /// The previous state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<EcnState>,
    /// The new state.
    pub new: EcnState,
}

crate::qlog::impl_event! {
    RecoveryParametersSet => "quic:recovery_parameters_set",
    RecoveryMetricsUpdated => "quic:recovery_metrics_updated",
    CongestionStateUpdated => "quic:congestion_state_updated",
    PacketLost<'_> => "quic:packet_lost",
    MarkedForRetransmit<'_> => "quic:marked_for_retransmit",
    EcnStateUpdated => "quic:ecn_state_updated",
}
