//! Pacing (RFC 9002 §7.7): a token bucket that says when the next packet may leave.
//!
//! The rate is the controller's pacing rate when it has one (BBR), otherwise
//! N * cwnd / smoothed_rtt with N = 5/4 ("Using a value for N that is small, but at least 1
//! (for example, 1.25) ensures that variations in RTT do not result in underutilization of
//! the congestion window"). The bucket holds a burst allowance of `burst_packets` datagrams
//! (default 10, the initial window: "senders SHOULD limit bursts to the initial congestion
//! window").

use core::time::Duration;

use quic_wire::Instant;

/// The pacer of one path.
#[derive(Debug, Clone)]
pub struct Pacer {
    tokens: u64,
    capacity: u64,
    burst_packets: u64,
    rate: u64,
    last: Option<Instant>,
    /// The last [`Pacer::window_rate`] inputs (window, smoothed RTT) and its result.
    memo: (u64, Duration, u64),
}

impl Pacer {
    /// The default burst allowance in datagrams.
    pub const DEFAULT_BURST_PACKETS: u64 = 10;

    /// A pacer with a full bucket of `burst_packets` datagrams of `max_datagram_size`.
    pub fn new(max_datagram_size: u64, burst_packets: u64) -> Self {
        let capacity = burst_packets.max(1) * max_datagram_size;
        Pacer {
            tokens: capacity,
            capacity,
            burst_packets: burst_packets.max(1),
            rate: 0,
            last: None,
            memo: (0, Duration::ZERO, 0),
        }
    }

    /// The pacing rate from a window and RTT: 5/4 * window / srtt, in bytes per second.
    pub fn rate_for_window(window: u64, srtt: Duration) -> u64 {
        let nanos = srtt.as_nanos().max(1);
        // The same quotient in 64 bits when everything fits (it always does for real windows
        // and RTTs): a 128-bit division is a library call.
        if let (Some(num), Some(den)) = (
            window.checked_mul(5 * 1_000_000_000),
            u64::try_from(nanos).ok().and_then(|n| n.checked_mul(4)),
        ) {
            return num / den;
        }
        let r = u128::from(window) * 5 * 1_000_000_000 / (4 * nanos);
        u64::try_from(r).unwrap_or(u64::MAX)
    }

    /// [`Pacer::rate_for_window`], remembered for the last inputs: the window and the
    /// smoothed RTT change once per ACK at most, packets go out many times more often.
    pub fn window_rate(&mut self, window: u64, srtt: Duration) -> u64 {
        if self.memo.0 != window || self.memo.1 != srtt {
            self.memo = (window, srtt, Self::rate_for_window(window, srtt));
        }
        self.memo.2
    }

    /// Sets the rate (bytes per second; 0 disables pacing) and the datagram size, refilling
    /// the bucket up to `now` at the old rate first.
    pub fn set_rate(&mut self, now: Instant, rate: u64, max_datagram_size: u64) {
        self.refill(now);
        self.rate = rate;
        self.capacity = self.burst_packets * max_datagram_size;
        self.tokens = self.tokens.min(self.capacity);
    }

    /// [`Pacer::set_rate`], skipped when neither the rate nor the datagram size changed
    /// (then it would only refill, which [`Pacer::release_time`] does anyway).
    pub fn update_rate(&mut self, now: Instant, rate: u64, max_datagram_size: u64) {
        if rate != self.rate || self.capacity != self.burst_packets * max_datagram_size {
            self.set_rate(now, rate, max_datagram_size);
        }
    }

    fn refill(&mut self, now: Instant) {
        let Some(last) = self.last else {
            self.last = Some(now);
            return;
        };
        // Plain nanoseconds: no `Duration` round trip on a path taken twice per packet.
        let elapsed = now.as_nanos().saturating_sub(last.as_nanos());
        if elapsed == 0 && self.rate != 0 {
            // Nothing added and nothing to update (the pacer is asked several times per
            // packet at the same instant).
            return;
        }
        let added = match self.rate.checked_mul(elapsed) {
            // The same quotient without a 128-bit division when the product fits.
            Some(p) => p / 1_000_000_000,
            None => {
                let q = u128::from(self.rate) * u128::from(elapsed) / 1_000_000_000;
                u64::try_from(q).unwrap_or(u64::MAX)
            }
        };
        if added > 0 || self.rate == 0 {
            // When nothing whole was added, keep `last` so the fraction is not lost.
            self.last = Some(now);
            self.tokens = self.tokens.saturating_add(added).min(self.capacity);
        }
    }

    /// When a packet of `bytes` may be sent: `now` if the bucket allows, otherwise the
    /// instant it will have refilled enough.
    pub fn release_time(&mut self, now: Instant, bytes: u64) -> Instant {
        self.refill(now);
        if self.rate == 0 || self.tokens >= bytes.min(self.capacity) {
            return now;
        }
        let deficit = bytes.min(self.capacity) - self.tokens;
        let nanos = (u128::from(deficit) * 1_000_000_000).div_ceil(u128::from(self.rate));
        let base = self.last.unwrap_or(now);
        base + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// A packet of `bytes` left at `now`.
    pub fn on_sent(&mut self, now: Instant, bytes: u64) {
        self.refill(now);
        self.tokens = self.tokens.saturating_sub(bytes);
    }

    /// The rate in force, bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_paced_at_the_rate() {
        let mut p = Pacer::new(1000, 10);
        let t0 = Instant::ZERO;
        // 1 MB/s: one 1000-byte packet per ms once the burst is used.
        p.set_rate(t0, 1_000_000, 1000);
        for _ in 0..10 {
            assert_eq!(p.release_time(t0, 1000), t0);
            p.on_sent(t0, 1000);
        }
        let next = p.release_time(t0, 1000);
        assert_eq!(next, t0 + Duration::from_millis(1));
        p.on_sent(next, 1000);
        assert_eq!(p.release_time(next, 1000), next + Duration::from_millis(1));
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let mut p = Pacer::new(1000, 2);
        p.set_rate(Instant::ZERO, 1_000_000, 1000);
        let later = Instant::ZERO + Duration::from_secs(10);
        for _ in 0..2 {
            assert_eq!(p.release_time(later, 1000), later);
            p.on_sent(later, 1000);
        }
        assert!(p.release_time(later, 1000) > later);
    }

    #[test]
    fn the_remembered_window_rate_follows_its_inputs() {
        let mut p = Pacer::new(1000, 10);
        let srtt = Duration::from_millis(100);
        assert_eq!(p.window_rate(100_000, srtt), 1_250_000);
        assert_eq!(p.window_rate(100_000, srtt), 1_250_000);
        assert_eq!(p.window_rate(200_000, srtt), 2_500_000);
        assert_eq!(p.window_rate(200_000, srtt * 2), 1_250_000);
        // Not a stale zero for the inputs the memo starts with.
        assert_eq!(p.window_rate(0, Duration::ZERO), 0);
        assert_eq!(
            p.window_rate(1000, Duration::ZERO),
            Pacer::rate_for_window(1000, Duration::ZERO)
        );
    }

    #[test]
    fn rate_from_window_is_five_quarters_of_window_per_rtt() {
        assert_eq!(
            Pacer::rate_for_window(100_000, Duration::from_millis(100)),
            1_250_000
        );
    }
}
