//! Adaptive congestion control: CUBIC on short paths, BBR on long ones, as lsquic does by
//! default.
//!
//! Both controllers run side by side from the start and see every event. Until the choice is
//! made, CUBIC's window applies and nothing is paced by BBR's rate. After `SETTLE_SAMPLES`
//! ACKs with an RTT sample, the path's min RTT decides once: below `threshold` CUBIC stays,
//! at or above it BBR takes over, and the other controller is no longer fed.

use core::time::Duration;

use quic_wire::Instant;

use super::{AckedPacket, Bbr, CongestionController, CongestionEvent, Cubic};
use crate::rate::RateSample;
use crate::rtt::RttEstimator;

/// ACKs with an RTT sample before the choice is made.
const SETTLE_SAMPLES: u32 = 4;

/// Which controller an [`Adaptive`] settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Not decided yet; both run, CUBIC's window applies.
    Undecided,
    /// CUBIC (min RTT below the threshold).
    Cubic,
    /// BBR (min RTT at or above the threshold).
    Bbr,
}

/// CUBIC and BBR together until the path's min RTT picks one.
#[derive(Debug, Clone)]
pub struct Adaptive {
    cubic: Cubic,
    bbr: Bbr,
    threshold: Duration,
    samples: u32,
    choice: Choice,
}

impl Adaptive {
    /// Both controllers, for datagrams of `max_datagram_size`, choosing at `threshold`.
    pub fn new(max_datagram_size: u64, threshold: Duration) -> Self {
        Adaptive {
            cubic: Cubic::new(max_datagram_size, true),
            bbr: Bbr::new(max_datagram_size),
            threshold,
            samples: 0,
            choice: Choice::Undecided,
        }
    }

    /// The choice so far.
    pub fn choice(&self) -> Choice {
        self.choice
    }

    fn each(&mut self, mut f: impl FnMut(&mut dyn CongestionController)) {
        match self.choice {
            Choice::Undecided => {
                f(&mut self.cubic);
                f(&mut self.bbr);
            }
            Choice::Cubic => f(&mut self.cubic),
            Choice::Bbr => f(&mut self.bbr),
        }
    }

    fn active(&self) -> &dyn CongestionController {
        match self.choice {
            Choice::Bbr => &self.bbr,
            _ => &self.cubic,
        }
    }
}

impl CongestionController for Adaptive {
    fn on_packet_sent(&mut self, now: Instant, bytes: u64, bytes_in_flight: u64) {
        self.each(|c| c.on_packet_sent(now, bytes, bytes_in_flight));
    }

    fn on_packets_acked(&mut self, now: Instant, packets: &[AckedPacket], rtt: &RttEstimator) {
        self.each(|c| c.on_packets_acked(now, packets, rtt));
    }

    fn on_ack_end(
        &mut self,
        now: Instant,
        sample: &RateSample,
        rtt: &RttEstimator,
        bytes_in_flight: u64,
    ) {
        self.each(|c| c.on_ack_end(now, sample, rtt, bytes_in_flight));
        if self.choice == Choice::Undecided && rtt.has_sample() && sample.newly_acked > 0 {
            self.samples += 1;
            if self.samples >= SETTLE_SAMPLES {
                self.choice = if rtt.min() < self.threshold {
                    Choice::Cubic
                } else {
                    Choice::Bbr
                };
            }
        }
    }

    fn on_congestion_event(&mut self, now: Instant, e: &CongestionEvent, rtt: &RttEstimator) {
        self.each(|c| c.on_congestion_event(now, e, rtt));
    }

    fn on_persistent_congestion(&mut self, now: Instant) {
        self.each(|c| c.on_persistent_congestion(now));
    }

    fn on_spurious_congestion(&mut self, now: Instant) -> bool {
        let mut any = false;
        self.each(|c| any |= c.on_spurious_congestion(now));
        any
    }

    fn window(&self) -> u64 {
        self.active().window()
    }

    fn ssthresh(&self) -> u64 {
        self.active().ssthresh()
    }

    fn in_slow_start(&self) -> bool {
        self.active().in_slow_start()
    }

    fn pacing_rate(&self, rtt: &RttEstimator) -> Option<u64> {
        self.active().pacing_rate(rtt)
    }

    fn set_max_datagram_size(&mut self, bytes: u64) {
        self.cubic.set_max_datagram_size(bytes);
        self.bbr.set_max_datagram_size(bytes);
    }

    fn name(&self) -> &'static str {
        match self.choice {
            Choice::Undecided => "adaptive",
            Choice::Cubic => "adaptive/cubic",
            Choice::Bbr => "adaptive/bbr",
        }
    }

    fn bandwidth_estimate(&self) -> Option<u64> {
        self.active().bandwidth_estimate()
    }
}
