//! The sender side of the ack-frequency extension: asking the peer for fewer ACKs when the
//! window is large enough to afford it (ack-frequency §9 "Determining Acknowledgment
//! Frequency"), and the max_ack_delay to use for PTO while requests are in flight (§7).
//!
//! Policy: aim for about `target_acks_per_rtt` ACKs per round trip. With a window of W
//! datagrams, ask for an ACK every W / target ack-eliciting packets (the Ack-Eliciting
//! Threshold is one less: "more than" that many), at most `max_threshold`, and a
//! Requested Max Ack Delay of smoothed_rtt / target, never below the peer's min_ack_delay
//! (§4 makes smaller values a PROTOCOL_VIOLATION) and below 2^14 ms. The Reordering
//! Threshold is kPacketThreshold - 1 = 2, so the peer acknowledges at once when we could
//! declare a loss (§9.3 guidance). A new request is made at most once per RTT and only when
//! a value changes noticeably.

use core::time::Duration;

use quic_wire::frame::MAX_REQUESTED_ACK_DELAY_US;
use quic_wire::Instant;

/// Settings of an [`AckFrequencySender`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckFrequencyConfig {
    /// ACKs wanted per round trip (default 4).
    pub target_acks_per_rtt: u64,
    /// The largest Ack-Eliciting Threshold to ask for (default 10).
    pub max_threshold: u64,
    /// The Reordering Threshold to ask for (default 2).
    pub reordering_threshold: u64,
}

impl Default for AckFrequencyConfig {
    fn default() -> Self {
        AckFrequencyConfig {
            target_acks_per_rtt: 4,
            max_threshold: 10,
            reordering_threshold: 2,
        }
    }
}

/// The values of one ACK_FREQUENCY frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckFrequencyRequest {
    /// Sequence Number.
    pub sequence: u64,
    /// Ack-Eliciting Threshold.
    pub ack_eliciting_threshold: u64,
    /// Requested Max Ack Delay.
    pub requested_max_ack_delay: Duration,
    /// Reordering Threshold.
    pub reordering_threshold: u64,
}

impl AckFrequencyRequest {
    /// The Requested Max Ack Delay field in microseconds.
    pub fn requested_max_ack_delay_us(&self) -> u64 {
        u64::try_from(self.requested_max_ack_delay.as_micros()).unwrap_or(u64::MAX)
    }
}

/// How many requests may be in flight at once; more simply wait.
const IN_FLIGHT: usize = 4;

/// Decides when to send ACK_FREQUENCY and tracks the max_ack_delay the peer may be using.
#[derive(Debug, Clone)]
pub struct AckFrequencySender {
    config: AckFrequencyConfig,
    peer_min_ack_delay: Duration,
    next_sequence: u64,
    last: Option<AckFrequencyRequest>,
    last_at: Option<Instant>,
    /// The max_ack_delay the peer is known to use (its transport parameter, then the value of
    /// the latest acknowledged request).
    acked_delay: Duration,
    acked_sequence: Option<u64>,
    in_flight: [Option<(u64, Duration)>; IN_FLIGHT],
}

impl AckFrequencySender {
    /// A sender for a peer that advertised `peer_min_ack_delay` and `peer_max_ack_delay`.
    pub fn new(
        config: AckFrequencyConfig,
        peer_min_ack_delay: Duration,
        peer_max_ack_delay: Duration,
    ) -> Self {
        AckFrequencySender {
            config,
            peer_min_ack_delay,
            next_sequence: 0,
            last: None,
            last_at: None,
            acked_delay: peer_max_ack_delay,
            acked_sequence: None,
            in_flight: [None; IN_FLIGHT],
        }
    }

    /// A request to send now, if one is due, given the congestion window, datagram size,
    /// smoothed RTT and whether the congestion controller is in slow start. Calling it
    /// counts the request as sent; report its fate with [`AckFrequencySender::on_acked`] /
    /// [`AckFrequencySender::on_lost`].
    ///
    /// Fewer ACKs are asked for only when that keeps one ACK per round trip (the peer's
    /// min_ack_delay at most the smoothed RTT, §9.1: "set the Requested Max Ack Delay value
    /// to no more than the estimated round trip time") and outside slow start, where ACKs
    /// both grow the window and clock packets out (§9.1.1). Otherwise the request is for
    /// the default of one ACK per two packets, sent only to undo an earlier reduction.
    pub fn poll(
        &mut self,
        now: Instant,
        window: u64,
        mds: u64,
        srtt: Duration,
        slow_start: bool,
    ) -> Option<AckFrequencyRequest> {
        if self.last_at.is_some_and(|t| now < t + srtt) {
            return None;
        }
        let slot = self.in_flight.iter().position(Option::is_none)?;
        let target = self.config.target_acks_per_rtt.max(1);
        let reduce = !slow_start && self.peer_min_ack_delay <= srtt;
        let threshold = if reduce {
            let per_rtt = window / mds.max(1);
            (per_rtt / target)
                .saturating_sub(1)
                .clamp(1, self.config.max_threshold.max(1))
        } else {
            1
        };
        if self.last.is_none() && threshold == 1 {
            return None; // the peer's default behaviour already
        }
        let max = Duration::from_micros(MAX_REQUESTED_ACK_DELAY_US - 1);
        let divisor = u32::try_from(target).unwrap_or(u32::MAX);
        let delay = (srtt / divisor).max(self.peer_min_ack_delay).min(max);
        if let Some(last) = self.last {
            let old = last.requested_max_ack_delay;
            let delay_moved = delay > old + old / 4 || delay + old / 4 < old;
            if last.ack_eliciting_threshold == threshold && !delay_moved {
                return None;
            }
        }
        let req = AckFrequencyRequest {
            sequence: self.next_sequence,
            ack_eliciting_threshold: threshold,
            requested_max_ack_delay: delay,
            reordering_threshold: self.config.reordering_threshold,
        };
        self.next_sequence += 1;
        self.last = Some(req);
        self.last_at = Some(now);
        if let Some(s) = self.in_flight.get_mut(slot) {
            *s = Some((req.sequence, delay));
        }
        Some(req)
    }

    /// The packet carrying request `sequence` was acknowledged: the peer uses its delay now
    /// (unless a later request was acknowledged first).
    pub fn on_acked(&mut self, sequence: u64) {
        if let Some(s) = self
            .in_flight
            .iter_mut()
            .find(|s| s.is_some_and(|(q, _)| q == sequence))
        {
            if let Some((q, d)) = s.take() {
                if self.acked_sequence.is_none_or(|a| q > a) {
                    self.acked_sequence = Some(q);
                    self.acked_delay = d;
                }
            }
        }
    }

    /// The packet carrying request `sequence` was lost: it no longer counts, and if it was
    /// the latest one a new request may be made at once.
    pub fn on_lost(&mut self, sequence: u64) {
        for s in &mut self.in_flight {
            if s.is_some_and(|(q, _)| q == sequence) {
                *s = None;
            }
        }
        if self.last.is_some_and(|l| l.sequence == sequence) {
            self.last = None;
            self.last_at = None;
        }
    }

    /// The max_ack_delay to use for PTO: the largest of the value in use and every value in
    /// flight (§7: "endpoints MUST use the maximum of the current value and all those in
    /// flight").
    pub fn max_ack_delay_for_pto(&self) -> Duration {
        self.in_flight
            .iter()
            .flatten()
            .map(|&(_, d)| d)
            .fold(self.acked_delay, Duration::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn large_window_asks_for_fewer_acks_bounded_by_min_ack_delay() {
        let mut s = AckFrequencySender::new(AckFrequencyConfig::default(), ms(1), ms(25));
        // 100 datagrams per RTT, 4 ACKs wanted: every 25th, capped at threshold 10.
        let r = s.poll(Instant::ZERO, 120_000, 1200, ms(40), false).unwrap();
        assert_eq!(r.ack_eliciting_threshold, 10);
        assert_eq!(r.requested_max_ack_delay, ms(10));
        assert_eq!(r.reordering_threshold, 2);
        // A small RTT cannot push the delay below the peer's min_ack_delay.
        let mut s = AckFrequencySender::new(AckFrequencyConfig::default(), ms(3), ms(25));
        let r = s.poll(Instant::ZERO, 24_000, 1200, ms(4), false).unwrap();
        assert_eq!(r.requested_max_ack_delay, ms(3));
        assert_eq!(r.ack_eliciting_threshold, 4);
    }

    #[test]
    fn no_reduction_in_slow_start_or_below_the_peers_timer_granularity() {
        let mut s = AckFrequencySender::new(AckFrequencyConfig::default(), ms(1), ms(25));
        // Slow start: ACKs grow the window; nothing to ask.
        assert!(s.poll(Instant::ZERO, 120_000, 1200, ms(40), true).is_none());
        // An RTT under the peer's min_ack_delay: a reduced ACK rate would not even give
        // one ACK per round trip.
        assert!(s
            .poll(
                Instant::ZERO,
                120_000,
                1200,
                Duration::from_micros(300),
                false
            )
            .is_none());
    }

    #[test]
    fn a_reduction_is_undone_when_the_connection_goes_back_to_slow_start() {
        let mut s = AckFrequencySender::new(AckFrequencyConfig::default(), ms(1), ms(25));
        let r = s.poll(Instant::ZERO, 120_000, 1200, ms(40), false).unwrap();
        assert_eq!(r.ack_eliciting_threshold, 10);
        let undo = s
            .poll(Instant::ZERO + ms(100), 120_000, 1200, ms(40), true)
            .unwrap();
        assert_eq!(undo.ack_eliciting_threshold, 1);
        assert!(undo.sequence > r.sequence);
    }

    #[test]
    fn requests_are_rate_limited_and_only_sent_on_change() {
        let mut s = AckFrequencySender::new(AckFrequencyConfig::default(), ms(1), ms(25));
        let t = |v| Instant::ZERO + ms(v);
        assert!(s.poll(t(0), 24_000, 1200, ms(40), false).is_some());
        assert!(
            s.poll(t(10), 120_000, 1200, ms(40), false).is_none(),
            "within one RTT"
        );
        assert!(
            s.poll(t(50), 24_000, 1200, ms(40), false).is_none(),
            "nothing changed"
        );
        let r = s.poll(t(100), 120_000, 1200, ms(40), false).unwrap();
        assert_eq!(r.sequence, 1);
    }

    #[test]
    fn pto_uses_the_largest_delay_in_flight_until_acknowledged() {
        let mut s = AckFrequencySender::new(AckFrequencyConfig::default(), ms(1), ms(25));
        let r = s
            .poll(Instant::ZERO, 120_000, 1200, ms(200), false)
            .unwrap();
        assert_eq!(r.requested_max_ack_delay, ms(50));
        assert_eq!(s.max_ack_delay_for_pto(), ms(50));
        let r2 = s
            .poll(Instant::ZERO + ms(300), 120_000, 1200, ms(40), false)
            .unwrap();
        assert_eq!(s.max_ack_delay_for_pto(), ms(50));
        s.on_acked(r2.sequence);
        // The older, larger request is still in flight.
        assert_eq!(s.max_ack_delay_for_pto(), ms(50));
        s.on_lost(r.sequence);
        assert_eq!(s.max_ack_delay_for_pto(), ms(10));
    }
}
