//! RTT estimation for one path (RFC 9002 §5).

use core::time::Duration;

use quic_wire::Instant;

/// Timer granularity, kGranularity (RFC 9002 §6.1.2): 1 ms.
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// The RTT assumed before any sample, kInitialRtt (RFC 9002 §6.2.2): 333 ms.
pub const INITIAL_RTT: Duration = Duration::from_millis(333);

/// The RTT estimator of one path: min_rtt, smoothed_rtt, rttvar, latest_rtt (RFC 9002 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttEstimator {
    latest: Duration,
    smoothed: Duration,
    var: Duration,
    min: Duration,
    first_sample_at: Option<Instant>,
    /// smoothed + max(4*var, kGranularity), kept up to date whenever `smoothed` or `var`
    /// change (the PTO and idle timers read it on every packet).
    pto_base: Duration,
}

impl Default for RttEstimator {
    fn default() -> Self {
        Self::new(INITIAL_RTT)
    }
}

impl RttEstimator {
    /// An estimator starting from `initial_rtt` (kInitialRtt, or a remembered value:
    /// RFC 9002 §6.2.2 allows a previous connection's RTT).
    pub fn new(initial_rtt: Duration) -> Self {
        // RFC 9002 §5.3: smoothed_rtt = kInitialRtt, rttvar = kInitialRtt / 2.
        RttEstimator {
            latest: initial_rtt,
            smoothed: initial_rtt,
            var: initial_rtt / 2,
            min: initial_rtt,
            first_sample_at: None,
            pto_base: Self::compute_pto_base(initial_rtt, initial_rtt / 2),
        }
    }

    fn compute_pto_base(smoothed: Duration, var: Duration) -> Duration {
        smoothed + (var * 4).max(GRANULARITY)
    }

    /// Feeds one RTT sample: `latest` is the time from sending the newly acknowledged
    /// largest packet to receiving its ACK; `ack_delay` is the peer's reported delay,
    /// already decoded; `max_ack_delay` the peer's max_ack_delay; `confirmed` whether the
    /// handshake is confirmed.
    pub fn update(
        &mut self,
        latest: Duration,
        ack_delay: Duration,
        max_ack_delay: Duration,
        confirmed: bool,
        now: Instant,
    ) {
        self.latest = latest;
        if self.first_sample_at.is_none() {
            // RFC 9002 §5.3: the first sample resets the estimator.
            self.first_sample_at = Some(now);
            self.min = latest;
            self.smoothed = latest;
            self.var = latest / 2;
            self.pto_base = Self::compute_pto_base(self.smoothed, self.var);
            return;
        }
        // RFC 9002 §5.2: min_rtt ignores ack delay.
        self.min = self.min.min(latest);
        // RFC 9002 §5.3: after confirmation, the ack delay is limited to max_ack_delay; before
        // it, the reported delay may be used as is ("MAY ignore ... prior to handshake
        // confirmation" is the peer's option; subtracting it is always allowed).
        let ack_delay = if confirmed {
            ack_delay.min(max_ack_delay)
        } else {
            ack_delay
        };
        // "MUST NOT subtract the acknowledgment delay from the RTT sample if the resulting
        // value is smaller than the min_rtt."
        let adjusted = if latest >= self.min + ack_delay {
            latest - ack_delay
        } else {
            latest
        };
        let diff = self.smoothed.abs_diff(adjusted);
        self.var = (self.var * 3 + diff) / 4;
        self.smoothed = (self.smoothed * 7 + adjusted) / 8;
        self.pto_base = Self::compute_pto_base(self.smoothed, self.var);
    }

    /// smoothed_rtt.
    pub fn smoothed(&self) -> Duration {
        self.smoothed
    }

    /// rttvar.
    pub fn var(&self) -> Duration {
        self.var
    }

    /// min_rtt (kInitialRtt until the first sample).
    pub fn min(&self) -> Duration {
        self.min
    }

    /// latest_rtt.
    pub fn latest(&self) -> Duration {
        self.latest
    }

    /// When the first sample was taken, if any (persistent congestion only counts packets
    /// sent after it, RFC 9002 §7.6.2).
    pub fn first_sample_at(&self) -> Option<Instant> {
        self.first_sample_at
    }

    /// Whether a sample was taken.
    pub fn has_sample(&self) -> bool {
        self.first_sample_at.is_some()
    }

    /// The PTO period without the backoff and without max_ack_delay:
    /// smoothed_rtt + max(4*rttvar, kGranularity) (RFC 9002 §6.2.1).
    pub fn pto_base(&self) -> Duration {
        self.pto_base
    }

    /// The time threshold for loss: max(9/8 * max(smoothed_rtt, latest_rtt), kGranularity)
    /// (RFC 9002 §6.1.2).
    pub fn loss_delay(&self) -> Duration {
        (self.smoothed.max(self.latest) * 9 / 8).max(GRANULARITY)
    }

    /// Resets to the initial state (RFC 9002 §7.6.2 allows it on persistent congestion; a
    /// new path also starts here).
    pub fn reset(&mut self, initial_rtt: Duration) {
        *self = Self::new(initial_rtt);
    }

    /// Forgets min_rtt and starts it from `latest` (RFC 9002 §5.2: after persistent
    /// congestion an endpoint MAY re-establish it).
    pub fn reset_min(&mut self) {
        self.min = self.latest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn first_sample_initialises_every_estimate() {
        let mut r = RttEstimator::default();
        assert_eq!(r.smoothed(), ms(333));
        assert_eq!(r.var(), Duration::from_micros(166_500));
        r.update(ms(100), ms(10), ms(25), true, Instant::ZERO);
        assert_eq!((r.smoothed(), r.var(), r.min()), (ms(100), ms(50), ms(100)));
    }

    #[test]
    fn later_samples_are_smoothed_with_ack_delay_removed() {
        let mut r = RttEstimator::default();
        r.update(ms(100), ms(0), ms(25), true, Instant::ZERO);
        // 140 - 20 = 120: smoothed = (7*100 + 120)/8 = 102.5, var = (3*50 + 20)/4 = 42.5.
        r.update(ms(140), ms(20), ms(25), true, Instant::ZERO);
        assert_eq!(r.smoothed(), Duration::from_micros(102_500));
        assert_eq!(r.var(), Duration::from_micros(42_500));
        assert_eq!(r.min(), ms(100));
    }

    #[test]
    fn ack_delay_is_clamped_to_max_ack_delay_after_confirmation() {
        let mut confirmed = RttEstimator::default();
        confirmed.update(ms(100), ms(0), ms(25), true, Instant::ZERO);
        confirmed.update(ms(200), ms(80), ms(25), true, Instant::ZERO);
        // 200 - min(80, 25) = 175.
        assert_eq!(confirmed.smoothed(), (ms(100) * 7 + ms(175)) / 8);
        let mut unconfirmed = RttEstimator::default();
        unconfirmed.update(ms(100), ms(0), ms(25), false, Instant::ZERO);
        unconfirmed.update(ms(200), ms(80), ms(25), false, Instant::ZERO);
        // Before confirmation the whole delay is subtracted: 200 - 80 = 120.
        assert_eq!(unconfirmed.smoothed(), (ms(100) * 7 + ms(120)) / 8);
    }

    #[test]
    fn ack_delay_is_not_subtracted_below_min_rtt() {
        let mut r = RttEstimator::default();
        r.update(ms(100), ms(0), ms(25), true, Instant::ZERO);
        // 110 - 20 = 90 < min_rtt 100: the raw 110 is used.
        r.update(ms(110), ms(20), ms(25), true, Instant::ZERO);
        assert_eq!(r.smoothed(), (ms(100) * 7 + ms(110)) / 8);
    }

    #[test]
    fn min_rtt_tracks_the_smallest_raw_sample() {
        let mut r = RttEstimator::default();
        r.update(ms(100), ms(0), ms(25), true, Instant::ZERO);
        r.update(ms(60), ms(50), ms(25), true, Instant::ZERO);
        assert_eq!(r.min(), ms(60));
        assert_eq!(r.latest(), ms(60));
    }
}
