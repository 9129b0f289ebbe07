//! NewReno (RFC 9002 §7, Appendix B).

use quic_wire::Instant;

use super::{initial_window, minimum_window, AckedPacket, CongestionController, CongestionEvent};
use crate::rate::RateSample;
use crate::rtt::RttEstimator;

/// NewReno: slow start, congestion avoidance by one datagram per window, halving on loss.
#[derive(Debug, Clone)]
pub struct NewReno {
    mds: u64,
    window: u64,
    ssthresh: u64,
    /// Bytes acknowledged towards the next one-datagram increase in congestion avoidance.
    acked_in_ca: u64,
    recovery_start: Option<Instant>,
    /// State before the latest congestion event, for undo.
    undo: Option<(u64, u64, Option<Instant>)>,
}

impl NewReno {
    /// A controller for datagrams of up to `max_datagram_size` bytes.
    pub fn new(max_datagram_size: u64) -> Self {
        NewReno {
            mds: max_datagram_size,
            window: initial_window(max_datagram_size),
            ssthresh: u64::MAX,
            acked_in_ca: 0,
            recovery_start: None,
            undo: None,
        }
    }

    /// RFC 9002 B.5: a packet sent before the recovery period began.
    fn in_recovery(&self, sent: Instant) -> bool {
        self.recovery_start.is_some_and(|r| sent <= r)
    }
}

impl CongestionController for NewReno {
    fn on_packet_sent(&mut self, _now: Instant, _bytes: u64, _bytes_in_flight: u64) {}

    fn on_packets_acked(&mut self, _now: Instant, packets: &[AckedPacket], _rtt: &RttEstimator) {
        for p in packets {
            // RFC 9002 B.5: no growth during recovery, nor when the window is not the
            // limit (§7.8).
            if self.in_recovery(p.time_sent) || p.app_limited {
                continue;
            }
            if self.window < self.ssthresh {
                // Slow start: one byte per byte acknowledged.
                self.window += p.size;
            } else {
                // Congestion avoidance: one datagram per window acknowledged.
                self.acked_in_ca += p.size;
                if self.acked_in_ca >= self.window {
                    self.acked_in_ca -= self.window;
                    self.window += self.mds;
                }
            }
        }
    }

    fn on_ack_end(&mut self, _: Instant, _: &RateSample, _: &RttEstimator, _: u64) {}

    fn on_congestion_event(&mut self, now: Instant, e: &CongestionEvent, _rtt: &RttEstimator) {
        // RFC 9002 B.6: one reduction per recovery period.
        if self.in_recovery(e.newest_sent) {
            return;
        }
        self.undo = Some((self.window, self.ssthresh, self.recovery_start));
        self.recovery_start = Some(now);
        // kLossReductionFactor = 0.5.
        self.ssthresh = (self.window / 2).max(minimum_window(self.mds));
        self.window = self.ssthresh;
        self.acked_in_ca = 0;
    }

    fn on_persistent_congestion(&mut self, _now: Instant) {
        // RFC 9002 B.8: collapse to the minimum window, leave recovery.
        self.window = minimum_window(self.mds);
        self.recovery_start = None;
        self.undo = None;
    }

    fn on_spurious_congestion(&mut self, _now: Instant) -> bool {
        let Some((window, ssthresh, recovery_start)) = self.undo.take() else {
            return false;
        };
        self.window = self.window.max(window);
        self.ssthresh = ssthresh;
        self.recovery_start = recovery_start;
        true
    }

    fn window(&self) -> u64 {
        self.window
    }

    fn ssthresh(&self) -> u64 {
        self.ssthresh
    }

    fn in_slow_start(&self) -> bool {
        self.window < self.ssthresh
    }

    fn pacing_rate(&self, _rtt: &RttEstimator) -> Option<u64> {
        None
    }

    fn set_max_datagram_size(&mut self, bytes: u64) {
        self.mds = bytes;
        self.window = self.window.max(minimum_window(bytes));
    }

    fn name(&self) -> &'static str {
        "newreno"
    }
}
