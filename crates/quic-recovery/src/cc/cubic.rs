//! CUBIC (RFC 9438) with optional HyStart++ (RFC 9406) in slow start.
//!
//! Windows are kept in bytes as `f64`; the cubic function works in segments and seconds as
//! RFC 9438 §4.2 writes it. `core` has no cube root, so [`cbrt`] is a few Newton steps.

use quic_wire::Instant;

use super::hystart::{HyStart, HyStartPhase, CSS_GROWTH_DIVISOR};
use super::{initial_window, minimum_window, AckedPacket, CongestionController, CongestionEvent};
use crate::rate::RateSample;
use crate::rtt::RttEstimator;

/// C (RFC 9438 §5.1).
pub const C: f64 = 0.4;
/// β_cubic (RFC 9438 §4.6).
pub const BETA: f64 = 0.7;

/// The cube root of `x` (x >= 0), by Newton's method from a power-of-two first guess.
pub fn cbrt(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    // A first guess within a factor of two: 2^(exponent / 3).
    let exp = ((x.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let mut y = f64::from_bits((((exp / 3) + 1023) as u64) << 52);
    for _ in 0..60 {
        let next = (2.0 * y + x / (y * y)) / 3.0;
        if (next - y).abs() <= 1e-12 * next {
            return next;
        }
        y = next;
    }
    y
}

#[derive(Debug, Clone, Copy)]
struct Saved {
    window: f64,
    ssthresh: f64,
    w_max: f64,
    k: f64,
    epoch_start: Option<Instant>,
    w_est: f64,
    recovery_start: Option<Instant>,
}

/// CUBIC congestion control.
#[derive(Debug, Clone)]
pub struct Cubic {
    mds: f64,
    window: f64,
    /// `window` in whole bytes, as [`CongestionController::window`] reports it: read
    /// several times per packet sent, so converted once per change (see [`Cubic::synced`]).
    window_bytes: u64,
    ssthresh: f64,
    /// W_max in bytes: the window before the last reduction.
    w_max: f64,
    /// K in seconds.
    k: f64,
    epoch_start: Option<Instant>,
    /// W_est in bytes (Reno-friendly estimate).
    w_est: f64,
    /// cwnd_prior: the window just before the last reduction (for α_cubic).
    cwnd_prior: f64,
    recovery_start: Option<Instant>,
    last_sent: Option<Instant>,
    hystart: Option<HyStart>,
    undo: Option<Saved>,
}

impl Cubic {
    /// A controller for datagrams of `max_datagram_size` bytes, with or without HyStart++.
    pub fn new(max_datagram_size: u64, hystart: bool) -> Self {
        let mds = max_datagram_size as f64;
        Cubic {
            mds,
            window: initial_window(max_datagram_size) as f64,
            window_bytes: initial_window(max_datagram_size),
            ssthresh: f64::INFINITY,
            w_max: 0.0,
            k: 0.0,
            epoch_start: None,
            w_est: 0.0,
            cwnd_prior: 0.0,
            recovery_start: None,
            last_sent: None,
            hystart: hystart.then(HyStart::new),
            undo: None,
        }
    }

    /// Brings `window_bytes` up to date; every method that moves the window ends here.
    fn synced(&mut self) {
        self.window_bytes = self.window as u64;
    }

    fn min_window(&self) -> f64 {
        minimum_window(self.mds as u64) as f64
    }

    fn in_recovery(&self, sent: Instant) -> bool {
        self.recovery_start.is_some_and(|r| sent <= r)
    }

    /// W_cubic(t) in bytes, `t` seconds into the epoch (RFC 9438 §4.2, Figure 1).
    pub fn w_cubic(&self, t: f64) -> f64 {
        let d = t - self.k;
        (C * d * d * d) * self.mds + self.w_max
    }

    /// K in seconds.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// W_max in bytes.
    pub fn w_max(&self) -> f64 {
        self.w_max
    }

    fn save(&self) -> Saved {
        Saved {
            window: self.window,
            ssthresh: self.ssthresh,
            w_max: self.w_max,
            k: self.k,
            epoch_start: self.epoch_start,
            w_est: self.w_est,
            recovery_start: self.recovery_start,
        }
    }

    fn congestion_avoidance(&mut self, now: Instant, bytes: f64, rtt: &RttEstimator) {
        let epoch = match self.epoch_start {
            Some(e) => e,
            None => {
                // RFC 9438 §4.2: a new epoch. After slow start without loss (or above the old
                // maximum) the curve starts at its plateau: W_max = cwnd, K = 0.
                if self.w_max <= self.window {
                    self.w_max = self.window;
                    self.k = 0.0;
                } else {
                    self.k = cbrt((self.w_max - self.window) / self.mds / C);
                }
                self.w_est = self.window;
                self.epoch_start = Some(now);
                now
            }
        };
        let t = now.saturating_duration_since(epoch).as_secs_f64();
        // §4.2: the target is W_cubic one RTT ahead, kept within [cwnd, 1.5 cwnd].
        let target = self
            .w_cubic(t + rtt.smoothed().as_secs_f64())
            .clamp(self.window, 1.5 * self.window);
        // §4.3: the Reno-friendly estimate; α_cubic becomes 1 once W_est reaches cwnd_prior.
        let alpha = if self.w_est >= self.cwnd_prior {
            1.0
        } else {
            3.0 * (1.0 - BETA) / (1.0 + BETA)
        };
        self.w_est += alpha * bytes * self.mds / self.window;
        if self.w_cubic(t) < self.w_est {
            // Reno-friendly region.
            self.window = self.window.max(self.w_est);
        } else {
            // Concave and convex regions (§4.4, §4.5): (target - cwnd) / cwnd per segment.
            self.window += (target - self.window) * bytes / self.window;
        }
    }

    /// One ACK's growth of the window (see [`CongestionController::on_packets_acked`]).
    fn grow(&mut self, now: Instant, packets: &[AckedPacket], rtt: &RttEstimator) {
        // RFC 9002 B.5: packets sent before the current recovery period began, and packets
        // sent while the window was not the limit (§7.8), grow nothing.
        let mut bytes = 0u64;
        let mut newest = None;
        for p in packets {
            if !p.app_limited && !self.in_recovery(p.time_sent) {
                bytes += p.size;
                newest = Some(p.time_sent);
            }
        }
        let Some(newest) = newest else { return };
        let mut bytes = bytes as f64;
        if self.window < self.ssthresh {
            // RFC 9406 §4.2: HyStart++ works per ACK: one round check and one RTT sample,
            // and growth by the bytes the ACK acknowledged (L is unlimited: we pace).
            let phase = match &mut self.hystart {
                Some(h) => h.on_ack(newest, rtt.latest()),
                None => HyStartPhase::SlowStart,
            };
            match phase {
                HyStartPhase::SlowStart => {
                    // Slow start ends at ssthresh; what the ACK acknowledged beyond it
                    // counts in congestion avoidance, as it would packet by packet.
                    let room = self.ssthresh - self.window;
                    if bytes <= room {
                        self.window += bytes;
                        return;
                    }
                    self.window = self.ssthresh;
                    bytes -= room;
                }
                HyStartPhase::Css => {
                    self.window += bytes / CSS_GROWTH_DIVISOR as f64;
                    return;
                }
                HyStartPhase::Exit => {
                    self.ssthresh = self.window;
                    return;
                }
            }
        }
        // RFC 9438 §4.3-4.5 give the growth per acknowledged segment; one ACK's worth is
        // applied at once.
        self.congestion_avoidance(now, bytes, rtt);
    }
}

impl CongestionController for Cubic {
    fn on_packet_sent(&mut self, now: Instant, bytes: u64, bytes_in_flight: u64) {
        // After an idle period, do not let the cubic curve run on while nothing was sent:
        // shift the epoch by the idle time (RFC 9438 §5.8, app-limited).
        if bytes_in_flight == bytes {
            if let (Some(epoch), Some(last)) = (self.epoch_start, self.last_sent) {
                self.epoch_start = Some(epoch + now.saturating_duration_since(last));
            }
        }
        self.last_sent = Some(now);
        if let Some(h) = &mut self.hystart {
            h.on_sent(now);
        }
    }

    fn on_packets_acked(&mut self, now: Instant, packets: &[AckedPacket], rtt: &RttEstimator) {
        self.grow(now, packets, rtt);
        self.synced();
    }

    fn on_ack_end(&mut self, _: Instant, _: &RateSample, _: &RttEstimator, _: u64) {}

    fn on_congestion_event(&mut self, now: Instant, e: &CongestionEvent, _rtt: &RttEstimator) {
        if self.in_recovery(e.newest_sent) {
            return;
        }
        self.undo = Some(self.save());
        self.recovery_start = Some(now);
        self.epoch_start = None;
        if let Some(h) = &mut self.hystart {
            h.reset();
        }
        self.cwnd_prior = self.window;
        // §4.7 fast convergence: a lower maximum than last time releases bandwidth.
        self.w_max = if self.window < self.w_max {
            self.window * (1.0 + BETA) / 2.0
        } else {
            self.window
        };
        // §4.6 multiplicative decrease.
        self.ssthresh = (self.window * BETA).max(self.min_window());
        self.window = self.ssthresh;
        self.k = cbrt((self.w_max - self.window).max(0.0) / self.mds / C);
        self.w_est = self.window;
        self.synced();
    }

    fn on_persistent_congestion(&mut self, _now: Instant) {
        // §4.8: like a timeout; ssthresh from β, the window to the minimum, a new epoch.
        self.ssthresh = (self.window * BETA).max(self.min_window());
        self.w_max = self.window;
        self.window = self.min_window();
        self.epoch_start = None;
        self.recovery_start = None;
        self.undo = None;
        self.synced();
    }

    fn on_spurious_congestion(&mut self, _now: Instant) -> bool {
        // §4.9: restore the state from before the spurious event.
        let Some(s) = self.undo.take() else {
            return false;
        };
        self.window = self.window.max(s.window);
        self.ssthresh = s.ssthresh;
        self.w_max = s.w_max;
        self.k = s.k;
        self.epoch_start = s.epoch_start;
        self.w_est = s.w_est;
        self.recovery_start = s.recovery_start;
        self.synced();
        true
    }

    fn window(&self) -> u64 {
        debug_assert_eq!(
            self.window_bytes, self.window as u64,
            "window_bytes not synced"
        );
        self.window_bytes
    }

    fn ssthresh(&self) -> u64 {
        if self.ssthresh.is_finite() {
            self.ssthresh as u64
        } else {
            u64::MAX
        }
    }

    fn in_slow_start(&self) -> bool {
        self.window < self.ssthresh
    }

    fn pacing_rate(&self, _rtt: &RttEstimator) -> Option<u64> {
        None
    }

    fn set_max_datagram_size(&mut self, bytes: u64) {
        self.mds = bytes as f64;
        self.window = self.window.max(self.min_window());
        self.synced();
    }

    fn name(&self) -> &'static str {
        if self.hystart.is_some() {
            "cubic+hystart++"
        } else {
            "cubic"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_root_is_accurate() {
        for x in [1e-6, 0.5, 1.0, 8.0, 75.0, 1e9] {
            let y = cbrt(x);
            assert!(
                (y * y * y - x).abs() <= 1e-9 * x.max(1.0),
                "cbrt({x}) = {y}"
            );
        }
        assert_eq!(cbrt(0.0), 0.0);
    }
}
