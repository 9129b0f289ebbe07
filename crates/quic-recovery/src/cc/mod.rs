//! Congestion control behind one object-safe trait, [`CongestionController`].
//!
//! ## Who keeps what
//! Bytes in flight are counted by the caller of the trait ([`crate::PathRecovery`]), which
//! knows every sent, acknowledged, lost and discarded packet; it passes the current value
//! where a controller needs it. A controller keeps only its own state (window, thresholds,
//! model). The caller also decides when to call: once per sent packet, once per newly
//! acknowledged packet plus once at the end of each ACK (with a delivery-rate sample), once
//! per congestion event.
//!
//! ## Controllers
//! - [`NewReno`]: RFC 9002 §7 and Appendix B.
//! - [`Cubic`]: RFC 9438, with HyStart++ (RFC 9406) in slow start.
//! - [`Bbr`]: the BBRv3 model (startup, drain, probe_bw cycling, probe_rtt).
//! - [`Adaptive`]: runs CUBIC and BBR side by side until the path's min RTT is known, then
//!   keeps CUBIC below a threshold and BBR above it.

use alloc::boxed::Box;
use core::fmt::Debug;
use core::time::Duration;

use quic_wire::Instant;

use crate::rate::RateSample;
use crate::rtt::RttEstimator;

mod adaptive;
mod bbr;
pub mod cubic;
mod hystart;
mod newreno;

pub use adaptive::{Adaptive, Choice as AdaptiveChoice};
pub use bbr::{Bbr, BbrState};
pub use cubic::Cubic;
pub use hystart::HyStart;
pub use newreno::NewReno;

/// A newly acknowledged packet, as a controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckedPacket {
    /// When it was sent.
    pub time_sent: Instant,
    /// Its size in bytes.
    pub size: u64,
    /// Whether the sender was application-limited when it was sent: windows do not grow
    /// on such packets (RFC 9002 §7.8).
    pub app_limited: bool,
}

/// Why the window is being reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CongestionKind {
    /// Packets were declared lost.
    Loss,
    /// The peer reported new ECN-CE marks (RFC 9002 §7.1, B.7).
    Ecn,
}

/// A congestion event (RFC 9002 B.6 OnCongestionEvent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CongestionEvent {
    /// Loss or ECN-CE.
    pub kind: CongestionKind,
    /// The send time of the newest packet lost (or, for ECN, of the largest acknowledged
    /// packet): a new recovery period starts only if it was sent after the current one began.
    pub newest_sent: Instant,
    /// Bytes declared lost (0 for ECN).
    pub lost_bytes: u64,
    /// Bytes in flight after removing the lost packets.
    pub bytes_in_flight: u64,
}

/// A congestion controller. Object safe: quic-conn keeps a `Box<dyn CongestionController>`
/// per path.
pub trait CongestionController: Debug + Send {
    /// A packet of `bytes` counted in flight was sent; `bytes_in_flight` includes it.
    fn on_packet_sent(&mut self, now: Instant, bytes: u64, bytes_in_flight: u64);

    /// One ACK newly acknowledged `packets` (those counted in flight, ascending by packet
    /// number, never empty), after its RTT sample and loss detection (RFC 9002 B.5
    /// OnPacketsAcked). A controller that grows per ACK (CUBIC, HyStart++) treats the
    /// slice as one ACK; one that grows per packet walks it.
    fn on_packets_acked(&mut self, now: Instant, packets: &[AckedPacket], rtt: &RttEstimator);

    /// The end of an ACK: the delivery-rate sample (which also counts the bytes newly
    /// acknowledged and lost) and the bytes in flight now.
    fn on_ack_end(
        &mut self,
        now: Instant,
        sample: &RateSample,
        rtt: &RttEstimator,
        bytes_in_flight: u64,
    );

    /// Loss or ECN-CE (RFC 9002 B.6).
    fn on_congestion_event(&mut self, now: Instant, event: &CongestionEvent, rtt: &RttEstimator);

    /// Persistent congestion was established (RFC 9002 §7.6.2): collapse to the minimum
    /// window.
    fn on_persistent_congestion(&mut self, now: Instant);

    /// Every loss of the latest congestion event turned out spurious: undo its response
    /// where the controller can (RFC 9438 §4.9). Returns whether something was undone.
    fn on_spurious_congestion(&mut self, now: Instant) -> bool;

    /// The congestion window in bytes.
    fn window(&self) -> u64;

    /// The slow start threshold, `u64::MAX` while unset.
    fn ssthresh(&self) -> u64;

    /// Whether the controller is in slow start (or BBR's startup).
    fn in_slow_start(&self) -> bool;

    /// The pacing rate in bytes per second the controller wants, or `None` to let the pacer
    /// derive one from the window and the smoothed RTT (RFC 9002 §7.7).
    fn pacing_rate(&self, rtt: &RttEstimator) -> Option<u64>;

    /// The path's maximum datagram size changed (after PMTU discovery).
    fn set_max_datagram_size(&mut self, bytes: u64);

    /// A short name for logs and qlog.
    fn name(&self) -> &'static str;

    /// The controller's estimate of the path's bottleneck bandwidth in bytes per second, if
    /// it models one (BBR).
    fn bandwidth_estimate(&self) -> Option<u64> {
        None
    }
}

/// Which controller a path runs, with its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CcConfig {
    /// NewReno (RFC 9002 §7).
    NewReno,
    /// CUBIC (RFC 9438); `hystart` enables HyStart++ (RFC 9406) in slow start.
    Cubic {
        /// Use HyStart++.
        hystart: bool,
    },
    /// BBR, the v3 model.
    Bbr,
    /// CUBIC when the path's min RTT is below `threshold`, BBR above it (lsquic's default
    /// behaviour).
    Adaptive {
        /// The min RTT that separates the two.
        threshold: Duration,
    },
}

impl Default for CcConfig {
    fn default() -> Self {
        CcConfig::Cubic { hystart: true }
    }
}

impl CcConfig {
    /// A controller for a path with `max_datagram_size`.
    pub fn build(&self, max_datagram_size: u64) -> Box<dyn CongestionController> {
        match *self {
            CcConfig::NewReno => Box::new(NewReno::new(max_datagram_size)),
            CcConfig::Cubic { hystart } => Box::new(Cubic::new(max_datagram_size, hystart)),
            CcConfig::Bbr => Box::new(Bbr::new(max_datagram_size)),
            CcConfig::Adaptive { threshold } => {
                Box::new(Adaptive::new(max_datagram_size, threshold))
            }
        }
    }
}

/// The initial window (RFC 9002 §7.2): min(10 * max_datagram_size, max(14720, 2 *
/// max_datagram_size)).
pub fn initial_window(max_datagram_size: u64) -> u64 {
    (10 * max_datagram_size).min(14_720.max(2 * max_datagram_size))
}

/// The minimum window (RFC 9002 §7.2): 2 * max_datagram_size.
pub fn minimum_window(max_datagram_size: u64) -> u64 {
    2 * max_datagram_size
}
