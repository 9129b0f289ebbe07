//! Delivery-rate sampling and app-limited tracking for one path, after the published
//! delivery-rate estimation model (draft-cheng-iccrg-delivery-rate-estimation): each sent
//! packet remembers how much had been delivered when it left; the ACK of the newest such
//! packet yields "delivered bytes over elapsed time".
//!
//! The same app-limited mark serves every controller: a sample taken while the sender had
//! nothing to send does not count as a measure of the path (BBR), and windows do not grow
//! on it (RFC 9002 §7.8, for NewReno and CUBIC).

use core::time::Duration;

use quic_wire::Instant;

/// What a sent packet remembers of the path's delivery state when it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryState {
    /// Bytes delivered (acknowledged) on the path when this packet was sent.
    pub delivered: u64,
    /// When `delivered` last changed, as of sending.
    pub delivered_time: Instant,
    /// The send time of the packet that started the current sampling interval.
    pub first_sent_time: Instant,
    /// Whether the sender was application-limited when this packet was sent.
    pub is_app_limited: bool,
    /// Bytes in flight just after this packet was sent.
    pub tx_in_flight: u64,
    /// Bytes lost on the path when this packet was sent.
    pub lost: u64,
}

/// One delivery-rate sample, produced at the end of an ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateSample {
    /// Bytes delivered over the sample interval.
    pub delivered: u64,
    /// The sample interval: the longer of the send and ACK intervals.
    pub interval: Duration,
    /// Bytes per second; 0 when the sample is invalid.
    pub delivery_rate: u64,
    /// Whether the packet the sample is based on was sent while app-limited.
    pub is_app_limited: bool,
    /// Path's delivered count when that packet was sent.
    pub prior_delivered: u64,
    /// Bytes in flight when that packet was sent.
    pub tx_in_flight: u64,
    /// Bytes lost between sending that packet and now.
    pub lost: u64,
    /// Bytes newly acknowledged by this ACK.
    pub newly_acked: u64,
    /// Bytes newly declared lost while processing this ACK.
    pub newly_lost: u64,
    /// The RTT of the packet the sample is based on.
    pub rtt: Duration,
}

impl RateSample {
    /// Whether the sample measured a rate (an acknowledged packet, an interval of at least
    /// min_rtt).
    pub fn is_valid(&self) -> bool {
        self.delivery_rate > 0
    }
}

/// The delivery-rate state of one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateSampler {
    delivered: u64,
    delivered_time: Instant,
    first_sent_time: Instant,
    /// Non-zero while app-limited: the delivered count at which the mark ends.
    app_limited_until: u64,
    lost: u64,
    // The sample being built by the current ACK.
    sample: RateSample,
    sample_has_packet: bool,
    // The sample packet's instants; the sample's durations (rtt, send and ACK intervals)
    // are worked out from them once, in `end_ack`, not for every packet the ACK covers.
    sample_now: Instant,
    sample_time_sent: Instant,
    sample_first_sent: Instant,
    prior_time: Instant,
}

impl RateSampler {
    /// A sampler with nothing delivered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state to store with a packet of `size` bytes sent at `now`, with `bytes_in_flight`
    /// before it was sent.
    pub fn on_sent(&mut self, now: Instant, size: u64, bytes_in_flight: u64) -> DeliveryState {
        if bytes_in_flight == 0 {
            // Nothing in flight: a new interval starts with this packet.
            self.first_sent_time = now;
            self.delivered_time = now;
        }
        DeliveryState {
            delivered: self.delivered,
            delivered_time: self.delivered_time,
            first_sent_time: self.first_sent_time,
            is_app_limited: self.app_limited_until != 0,
            tx_in_flight: bytes_in_flight + size,
            lost: self.lost,
        }
    }

    /// Starts a new ACK's sample.
    pub fn begin_ack(&mut self) {
        self.sample = RateSample::default();
        self.sample_has_packet = false;
    }

    /// A packet sent at `time_sent` with `state`, of `size` bytes, was acknowledged at `now`.
    pub fn on_acked(&mut self, now: Instant, time_sent: Instant, size: u64, state: &DeliveryState) {
        self.delivered += size;
        self.delivered_time = now;
        self.sample.newly_acked += size;
        // The newest packet (by delivered count, ties to the later send) defines the sample.
        if !self.sample_has_packet || state.delivered >= self.sample.prior_delivered {
            self.sample_has_packet = true;
            self.sample.prior_delivered = state.delivered;
            self.prior_time = state.delivered_time;
            self.sample.is_app_limited = state.is_app_limited;
            self.sample.tx_in_flight = state.tx_in_flight;
            self.sample.lost = self.lost.saturating_sub(state.lost);
            self.sample_now = now;
            self.sample_time_sent = time_sent;
            self.sample_first_sent = state.first_sent_time;
            self.first_sent_time = time_sent;
        }
    }

    /// `size` bytes were declared lost.
    pub fn on_lost(&mut self, size: u64) {
        self.lost += size;
        self.sample.newly_lost += size;
    }

    /// Finishes the ACK's sample. Samples with an interval shorter than `min_rtt` are marked
    /// invalid (rate 0): they would overestimate the rate (ACK compression).
    pub fn end_ack(&mut self, min_rtt: Duration) -> RateSample {
        if self.app_limited_until != 0 && self.delivered > self.app_limited_until {
            self.app_limited_until = 0;
        }
        let mut s = self.sample;
        if !self.sample_has_packet {
            return s;
        }
        s.rtt = self
            .sample_now
            .saturating_duration_since(self.sample_time_sent);
        let send_elapsed = self
            .sample_time_sent
            .saturating_duration_since(self.sample_first_sent);
        let ack_elapsed = self.sample_now.saturating_duration_since(self.prior_time);
        s.delivered = self.delivered - s.prior_delivered;
        s.interval = send_elapsed.max(ack_elapsed);
        s.delivery_rate = if s.interval.is_zero() || s.interval < min_rtt {
            0
        } else {
            rate(s.delivered, s.interval)
        };
        self.sample = s;
        s
    }

    /// The sender has nothing to send although the window would allow it: samples until
    /// what is in flight now is delivered are app-limited.
    pub fn on_app_limited(&mut self, bytes_in_flight: u64) {
        self.app_limited_until = (self.delivered + bytes_in_flight).max(1);
    }

    /// Whether the path is currently marked app-limited.
    pub fn is_app_limited(&self) -> bool {
        self.app_limited_until != 0
    }

    /// Total bytes delivered.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Total bytes lost.
    pub fn lost(&self) -> u64 {
        self.lost
    }
}

/// `bytes` over `interval`, in bytes per second, saturating.
pub fn rate(bytes: u64, interval: Duration) -> u64 {
    let nanos = interval.as_nanos().max(1);
    u64::try_from(u128::from(bytes) * 1_000_000_000 / nanos).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_flow_samples_the_sending_rate() {
        // One 1000-byte packet per ms, each acknowledged 50 ms after it was sent.
        let mut r = RateSampler::new();
        let ms = |v: u64| Instant::from_nanos(v * 1_000_000);
        let mut states = alloc::collections::VecDeque::new();
        let mut inflight = 0;
        let mut last = RateSample::default();
        for now in 0..300u64 {
            if now >= 50 {
                let s = states.pop_front().unwrap();
                r.begin_ack();
                r.on_acked(ms(now), ms(now - 50), 1000, &s);
                inflight -= 1000;
                last = r.end_ack(Duration::from_millis(50));
            }
            states.push_back(r.on_sent(ms(now), 1000, inflight));
            inflight += 1000;
        }
        // 1000 bytes per ms = 1 MB/s.
        assert!(last.is_valid());
        assert!(last.delivery_rate.abs_diff(1_000_000) < 20_000, "{last:?}");
        assert!(!last.is_app_limited);
    }

    #[test]
    fn app_limited_mark_clears_once_in_flight_data_is_delivered() {
        let mut r = RateSampler::new();
        let s = r.on_sent(Instant::ZERO, 1000, 0);
        r.on_app_limited(1000);
        let s2 = r.on_sent(Instant::from_nanos(1), 1000, 1000);
        assert!(!s.is_app_limited && s2.is_app_limited);
        r.begin_ack();
        r.on_acked(Instant::from_nanos(10), Instant::ZERO, 1000, &s);
        r.end_ack(Duration::ZERO);
        assert!(r.is_app_limited());
        r.begin_ack();
        r.on_acked(Instant::from_nanos(11), Instant::from_nanos(1), 1000, &s2);
        let sample = r.end_ack(Duration::ZERO);
        assert!(sample.is_app_limited);
        assert!(!r.is_app_limited());
    }
}
