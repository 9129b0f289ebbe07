//! When to acknowledge, and what: the receive side of one (path, packet-number space).
//!
//! [`AckTracker`] owns the [`RecvHistory`] of the space, the ECN counts, and the ACK policy:
//!
//! - RFC 9000 §13.2.1: Initial and Handshake ack-eliciting packets are acknowledged at once;
//!   in the application space an ACK is due after more than `ack_eliciting_threshold`
//!   ack-eliciting packets, or `max_ack_delay` after the first unacknowledged one;
//! - an immediate ACK on reordering or a new gap (§13.2.1), on ECN-CE (§13.2.1, and
//!   ack-frequency §6.2 when the threshold is above 1: only on a non-CE → CE transition),
//!   and on IMMEDIATE_ACK (ack-frequency §5);
//! - the receiver side of the ack-frequency extension: the peer's ACK_FREQUENCY frame sets the
//!   threshold, max_ack_delay and reordering threshold (ack-frequency §4, §6.1).
//!
//! The ACK Delay field is encoded with our ack_delay_exponent (RFC 9000 §13.2.5, §18.2).

use core::time::Duration;

use quic_wire::codec::{BufferTooSmall, Writer};
use quic_wire::frame::{AckFrame, EcnCounts, MAX_REQUESTED_ACK_DELAY_US};
use quic_wire::{Instant, PathId, Space, TransportError};

use crate::recv_history::{Inserted, RecvHistory};

/// The ECN codepoint a packet arrived with: quic-wire's shared type (RFC 9000 §13.4).
pub use quic_wire::Ecn;

/// Local ACK settings for one packet-number space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckConfig {
    /// The most ranges kept (and reported). Default 64.
    pub max_ranges: usize,
    /// ACK after receiving *more than* this many ack-eliciting packets (the ack-frequency
    /// draft's meaning). The default 1 is RFC 9000 §13.2.2's "every second ack-eliciting
    /// packet", i.e. an ACK is due once 2 are unacknowledged.
    pub ack_eliciting_threshold: u64,
    /// Our max_ack_delay transport parameter (default 25 ms, RFC 9000 §18.2).
    pub max_ack_delay: Duration,
    /// Our ack_delay_exponent transport parameter (default 3, RFC 9000 §18.2).
    pub ack_delay_exponent: u8,
    /// Our min_ack_delay transport parameter when we support the ack-frequency extension;
    /// `None` when we do not advertise it.
    pub min_ack_delay: Option<Duration>,
}

impl Default for AckConfig {
    fn default() -> Self {
        AckConfig {
            max_ranges: RecvHistory::DEFAULT_MAX_RANGES,
            ack_eliciting_threshold: 1,
            max_ack_delay: Duration::from_millis(25),
            ack_delay_exponent: 3,
            min_ack_delay: None,
        }
    }
}

/// What one written ACK frame covered; keep it with the sent packet, and call
/// [`AckTracker::on_ack_frame_acked`] when that packet is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckWritten {
    /// The Largest Acknowledged field written.
    pub largest: u64,
    /// How many ranges were written (older ones may have been left out for room).
    pub ranges: usize,
    /// The encoded length of the frame.
    pub len: usize,
}

/// The receive side of one (path, packet-number space): history, ECN counts, ACK timing.
#[derive(Debug, Clone)]
pub struct AckTracker {
    space: Space,
    history: RecvHistory,
    ack_delay_exponent: u8,
    min_ack_delay: Option<Duration>,
    // Policy in force (ours, or what the peer asked for with ACK_FREQUENCY).
    threshold: u64,
    max_ack_delay: Duration,
    reordering_threshold: u64,
    last_ack_frequency_seq: Option<u64>,
    // State since the last ACK we sent.
    /// Largest number received, and when.
    largest_received: Option<(u64, Instant)>,
    /// Largest ack-eliciting number received ("Largest Unacked" in ack-frequency §6.2).
    largest_eliciting: Option<u64>,
    /// The Largest Acknowledged of the last ACK we sent.
    largest_acked_sent: Option<u64>,
    eliciting_since_ack: u64,
    /// Something new to report (ack-eliciting or not).
    unreported: bool,
    deadline: Option<Instant>,
    last_was_ce: bool,
    ecn: EcnCounts,
    ecn_seen: bool,
}

impl AckTracker {
    /// A tracker for `space` with `config`.
    pub fn new(space: Space, config: &AckConfig) -> Self {
        AckTracker {
            space,
            history: RecvHistory::new(config.max_ranges),
            ack_delay_exponent: config.ack_delay_exponent.min(20),
            min_ack_delay: config.min_ack_delay,
            threshold: config.ack_eliciting_threshold,
            max_ack_delay: config.max_ack_delay,
            reordering_threshold: 1,
            last_ack_frequency_seq: None,
            largest_received: None,
            largest_eliciting: None,
            largest_acked_sent: None,
            eliciting_since_ack: 0,
            unreported: false,
            deadline: None,
            last_was_ce: false,
            ecn: EcnCounts::default(),
            ecn_seen: false,
        }
    }

    /// The packet-number space.
    pub fn space(&self) -> Space {
        self.space
    }

    /// The receive history.
    pub fn history(&self) -> &RecvHistory {
        &self.history
    }

    /// Whether `pn` was already received (check after decrypting, before processing frames:
    /// RFC 9000 §12.3 duplicates are discarded).
    pub fn is_duplicate(&self, pn: u64) -> bool {
        self.history.contains(pn)
    }

    /// Records a packet that was decrypted and processed. Returns
    /// [`Inserted::Duplicate`] (and changes nothing) for a duplicate.
    pub fn on_packet(&mut self, pn: u64, ack_eliciting: bool, ecn: Ecn, now: Instant) -> Inserted {
        if self.history.insert(pn) == Inserted::Duplicate {
            return Inserted::Duplicate;
        }
        // RFC 9000 §13.4.1: count each packet's codepoint once.
        match ecn {
            Ecn::NotEct => {}
            Ecn::Ect0 => self.ecn.ect0 += 1,
            Ecn::Ect1 => self.ecn.ect1 += 1,
            Ecn::Ce => self.ecn.ce += 1,
        }
        self.ecn_seen |= ecn != Ecn::NotEct;
        if self.largest_received.is_none_or(|(l, _)| pn > l) {
            self.largest_received = Some((pn, now));
        }
        self.unreported = true;
        let ce_transition = ecn == Ecn::Ce && !self.last_was_ce;
        self.last_was_ce = ecn == Ecn::Ce;
        if !ack_eliciting {
            // RFC 9000 §13.2.1: non-ack-eliciting packets are only acknowledged along with
            // others; they arm no timer.
            return Inserted::New;
        }
        self.eliciting_since_ack += 1;
        let immediate = self.space != Space::Data
            || self.eliciting_since_ack > self.threshold
            || self.reordering_triggers(pn)
            || (ecn == Ecn::Ce && (self.threshold <= 1 || ce_transition));
        self.largest_eliciting = Some(self.largest_eliciting.map_or(pn, |l| l.max(pn)));
        let due = if immediate {
            now
        } else {
            now + self.max_ack_delay
        };
        self.deadline = Some(self.deadline.map_or(due, |d| d.min(due)));
        Inserted::New
    }

    /// Whether receiving ack-eliciting `pn` (already in the history) calls for an immediate
    /// ACK because of reordering.
    fn reordering_triggers(&self, pn: u64) -> bool {
        match self.reordering_threshold {
            // ack-frequency §6.2: 0 disables immediate ACKs on reordering.
            0 => false,
            // RFC 9000 §13.2.1: a packet below the largest ack-eliciting one, or above it
            // with missing packets in between.
            1 => match self.largest_eliciting {
                None => false,
                Some(l) if pn < l => true,
                Some(l) => self
                    .history
                    .smallest_missing_from(l.saturating_add(1))
                    .is_some_and(|m| m < pn),
            },
            // ack-frequency §6.2, with Largest Unacked, Largest Acked, Largest Reported
            // Missing and Unreported Missing as defined there.
            t => {
                let largest_unacked = self.largest_eliciting.map_or(pn, |l| l.max(pn));
                let reported_missing = self.largest_acked_sent.and_then(|a| a.checked_sub(t));
                if reported_missing.is_some_and(|r| pn <= r) {
                    return true;
                }
                let from = reported_missing.map_or(0, |r| r + 1);
                self.history
                    .smallest_missing_from(from)
                    .is_some_and(|m| m < largest_unacked && largest_unacked - m >= t)
            }
        }
    }

    /// The peer sent IMMEDIATE_ACK (ack-frequency §5): an ACK is due now.
    pub fn on_immediate_ack(&mut self, now: Instant) {
        self.unreported = true;
        self.deadline = Some(self.deadline.map_or(now, |d| d.min(now)));
    }

    /// The peer sent ACK_FREQUENCY (ack-frequency §4). Stale sequence numbers are ignored.
    ///
    /// Errors with PROTOCOL_VIOLATION when we never advertised min_ack_delay (the peer
    /// "MUST NOT send" the frame then, §3) or when the requested delay is below our
    /// min_ack_delay ("Receipt of an invalid value MUST be treated as a connection error of
    /// type PROTOCOL_VIOLATION", §4).
    pub fn on_ack_frequency(
        &mut self,
        sequence: u64,
        ack_eliciting_threshold: u64,
        requested_max_ack_delay_us: u64,
        reordering_threshold: u64,
        now: Instant,
    ) -> Result<(), TransportError> {
        let Some(min_ack_delay) = self.min_ack_delay else {
            return Err(TransportError::protocol_violation(
                "ACK_FREQUENCY without min_ack_delay advertised",
            ));
        };
        let requested = Duration::from_micros(requested_max_ack_delay_us);
        if requested < min_ack_delay || requested_max_ack_delay_us >= MAX_REQUESTED_ACK_DELAY_US {
            return Err(TransportError::protocol_violation(
                "ACK_FREQUENCY Requested Max Ack Delay out of bounds",
            ));
        }
        // §4: "MUST ignore a received ACK_FREQUENCY frame unless the Sequence Number value in
        // the frame is greater than the largest processed value."
        if self.last_ack_frequency_seq.is_some_and(|s| sequence <= s) {
            return Ok(());
        }
        self.last_ack_frequency_seq = Some(sequence);
        self.threshold = ack_eliciting_threshold;
        self.max_ack_delay = requested;
        self.reordering_threshold = reordering_threshold;
        // A shorter delay or a lower threshold applies to what is already waiting.
        if self.eliciting_since_ack > 0 {
            let due = if self.eliciting_since_ack > self.threshold {
                now
            } else {
                self.largest_received.map_or(now, |(_, t)| t) + self.max_ack_delay
            };
            self.deadline = Some(self.deadline.map_or(due, |d| d.min(due)));
        }
        Ok(())
    }

    /// The max_ack_delay in force (ours, or the peer's request).
    pub fn max_ack_delay(&self) -> Duration {
        self.max_ack_delay
    }

    /// The ack-eliciting threshold in force.
    pub fn ack_eliciting_threshold(&self) -> u64 {
        self.threshold
    }

    /// The reordering threshold in force (1 unless the peer changed it).
    pub fn reordering_threshold(&self) -> u64 {
        self.reordering_threshold
    }

    /// When an ACK must be sent, if one is owed: the ACK-delay timer, or a past instant when
    /// one is due immediately.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether an ACK is due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| d <= now)
    }

    /// The largest Largest Acknowledged of the ACKs sent so far (`None` before the first).
    pub fn largest_acked_sent(&self) -> Option<u64> {
        self.largest_acked_sent
    }

    /// Whether there is anything not yet reported (an ACK may ride along with other frames).
    pub fn has_unreported(&self) -> bool {
        self.unreported
    }

    /// The ECN counts so far.
    pub fn ecn_counts(&self) -> EcnCounts {
        self.ecn
    }

    /// The ACK Delay field for an ACK sent at `now`: the time since the largest number was
    /// received, in microseconds scaled down by our exponent (RFC 9000 §13.2.5, §19.3). In
    /// Initial and Handshake it is 0: the peer ignores it there (RFC 9002 §5.3).
    pub fn encoded_ack_delay(&self, now: Instant) -> u64 {
        if self.space != Space::Data {
            return 0;
        }
        let Some((_, at)) = self.largest_received else {
            return 0;
        };
        let micros =
            u64::try_from(now.saturating_duration_since(at).as_micros()).unwrap_or(u64::MAX);
        micros >> self.ack_delay_exponent
    }

    /// Writes an ACK (or, with `path_id`, PATH_ACK) frame of at most `budget` bytes and
    /// counts it as sent: the delay timer and counters restart. `Ok(None)` when there is
    /// nothing to acknowledge. Oldest ranges are left out if they do not fit.
    pub fn write_ack(
        &mut self,
        w: &mut Writer<'_>,
        path_id: Option<PathId>,
        now: Instant,
        budget: usize,
    ) -> Result<Option<AckWritten>, BufferTooSmall> {
        let Some(largest) = self.history.largest() else {
            return Ok(None);
        };
        let ecn = self.ecn_seen.then_some(self.ecn);
        let delay = self.encoded_ack_delay(now);
        let before = w.filled().len();
        // The history keeps its ranges descending, disjoint and non-adjacent, so the only
        // failure left is the lack of room.
        let ranges = AckFrame::write_ranges(w, path_id, self.history.iter(), delay, ecn, budget)
            .map_err(|e| {
                debug_assert_eq!(e, quic_wire::frame::AckWriteError::BufferTooSmall);
                BufferTooSmall
            })?;
        if ranges == 0 {
            return Ok(None);
        }
        let len = w.filled().len() - before;
        self.on_ack_sent(largest);
        Ok(Some(AckWritten {
            largest,
            ranges,
            len,
        }))
    }

    /// Counts an ACK with Largest Acknowledged `largest` as sent (done by
    /// [`AckTracker::write_ack`]; call it directly when writing the frame yourself).
    pub fn on_ack_sent(&mut self, largest: u64) {
        self.eliciting_since_ack = 0;
        self.unreported = false;
        self.deadline = None;
        self.largest_acked_sent = Some(self.largest_acked_sent.map_or(largest, |l| l.max(largest)));
    }

    /// A packet carrying our ACK with Largest Acknowledged `largest` was acknowledged: the
    /// peer knows about everything up to it, so those numbers need not be reported again
    /// (RFC 9000 §13.2.4). They count as duplicates from now on.
    pub fn on_ack_frame_acked(&mut self, largest: u64) {
        self.history.forget_up_to(largest);
    }

    /// Forgets everything (the space's keys were discarded).
    pub fn clear(&mut self) {
        self.history.clear();
        self.largest_received = None;
        self.largest_eliciting = None;
        self.eliciting_since_ack = 0;
        self.unreported = false;
        self.deadline = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quic_wire::codec::Reader;
    use quic_wire::Frame;

    const MS: u64 = 1_000_000;
    fn t(ms: u64) -> Instant {
        Instant::from_nanos(ms * MS)
    }

    fn data() -> AckTracker {
        AckTracker::new(Space::Data, &AckConfig::default())
    }

    #[test]
    fn second_ack_eliciting_packet_makes_an_ack_due() {
        let mut a = data();
        a.on_packet(0, true, Ecn::NotEct, t(0));
        assert_eq!(a.deadline(), Some(t(25)));
        assert!(!a.is_due(t(1)));
        a.on_packet(1, true, Ecn::NotEct, t(1));
        assert!(a.is_due(t(1)));
    }

    #[test]
    fn max_ack_delay_timer_fires_for_a_lone_packet() {
        let mut a = data();
        a.on_packet(0, true, Ecn::NotEct, t(10));
        assert!(!a.is_due(t(34)));
        assert!(a.is_due(t(35)));
    }

    #[test]
    fn non_ack_eliciting_packets_arm_nothing() {
        let mut a = data();
        a.on_packet(0, false, Ecn::NotEct, t(0));
        a.on_packet(1, false, Ecn::NotEct, t(0));
        assert_eq!(a.deadline(), None);
        assert!(a.has_unreported());
    }

    #[test]
    fn handshake_spaces_ack_immediately() {
        for space in [Space::Initial, Space::Handshake] {
            let mut a = AckTracker::new(space, &AckConfig::default());
            a.on_packet(0, true, Ecn::NotEct, t(3));
            assert!(a.is_due(t(3)));
            assert_eq!(a.encoded_ack_delay(t(50)), 0);
        }
    }

    #[test]
    fn gap_or_reordering_triggers_an_immediate_ack() {
        let mut a = data();
        a.on_packet(0, true, Ecn::NotEct, t(0));
        a.on_ack_sent(0);
        a.on_packet(2, true, Ecn::NotEct, t(1)); // gap: 1 missing
        assert!(a.is_due(t(1)));
        a.on_ack_sent(2);
        a.on_packet(1, true, Ecn::NotEct, t(2)); // reordered
        assert!(a.is_due(t(2)));
    }

    /// RFC 9000 §13.2.1 asks for an ACK without delay only when a packet arrives below an
    /// ack-eliciting one already received, or above the largest with *missing packets between
    /// that packet and this one*: a gap that was already reported and is merely still open
    /// (the usual state under random loss until the retransmission arrives under a new number)
    /// does not make every later in-order packet trigger an ACK of its own.
    #[test]
    fn only_a_new_gap_triggers_an_immediate_ack_not_one_still_open() {
        let mut a = data();
        a.on_packet(0, true, Ecn::NotEct, t(0));
        a.on_packet(1, true, Ecn::NotEct, t(0));
        assert!(a.is_due(t(0)));
        a.on_ack_sent(1);
        // 2 is lost: 3 reveals the gap, an ACK is due at once.
        a.on_packet(3, true, Ecn::NotEct, t(1));
        assert!(a.is_due(t(1)));
        a.on_ack_sent(3);
        // 4 and 5 arrive in order while 2 is still missing: 4 waits for the delay timer (or
        // a second packet), 5 makes the ACK due by count alone.
        a.on_packet(4, true, Ecn::NotEct, t(2));
        assert!(!a.is_due(t(2)));
        assert_eq!(a.deadline(), Some(t(27)));
        a.on_packet(5, true, Ecn::NotEct, t(2));
        assert!(a.is_due(t(2)));
        a.on_ack_sent(5);
        // A non-ack-eliciting packet in between leaves no hole: still no immediate ACK.
        a.on_packet(6, false, Ecn::NotEct, t(3));
        a.on_packet(7, true, Ecn::NotEct, t(3));
        assert!(!a.is_due(t(3)));
        // A second, new gap (8 lost) triggers again.
        a.on_packet(9, true, Ecn::NotEct, t(4));
        assert!(a.is_due(t(4)));
        a.on_ack_sent(9);
        // The retransmission arrives under a new number above the largest: in order, no
        // immediate ACK although 2 and 8 are never filled.
        a.on_packet(10, true, Ecn::NotEct, t(5));
        assert!(!a.is_due(t(5)));
    }

    #[test]
    fn ce_mark_triggers_an_immediate_ack_and_is_counted() {
        let mut a = data();
        a.on_packet(0, true, Ecn::Ce, t(0));
        assert!(a.is_due(t(0)));
        a.on_packet(1, false, Ecn::Ect0, t(0));
        assert_eq!(
            a.ecn_counts(),
            EcnCounts {
                ect0: 1,
                ect1: 0,
                ce: 1
            }
        );
    }

    #[test]
    fn duplicates_are_reported_and_change_nothing() {
        let mut a = data();
        a.on_packet(0, true, Ecn::Ect0, t(0));
        a.on_ack_sent(0);
        assert_eq!(a.on_packet(0, true, Ecn::Ect0, t(1)), Inserted::Duplicate);
        assert_eq!(a.deadline(), None);
        assert_eq!(a.ecn_counts().ect0, 1);
    }

    #[test]
    fn written_ack_round_trips_with_scaled_delay_and_ecn() {
        let mut a = data();
        for pn in [0, 1, 2, 5, 6, 9] {
            a.on_packet(pn, true, Ecn::Ect0, t(pn));
        }
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        // 8 ms after the largest (9, at 9 ms): 8000 µs >> 3 = 1000.
        let written = a.write_ack(&mut w, None, t(17), 64).unwrap().unwrap();
        assert_eq!(written.largest, 9);
        assert_eq!(written.ranges, 3);
        assert_eq!(a.deadline(), None);
        let len = w.filled().len();
        let mut r = Reader::new(&buf[..len]);
        let Frame::Ack(ack) = Frame::parse(&mut r).unwrap() else {
            panic!("not an ACK");
        };
        assert_eq!(ack.ack_delay(), 1000);
        assert_eq!(ack.ecn().unwrap().ect0, 6);
        let got: alloc::vec::Vec<_> = ack.iter().collect();
        assert_eq!(got, [9..=9, 5..=6, 0..=2]);
    }

    #[test]
    fn ack_frequency_raises_threshold_and_delay() {
        let cfg = AckConfig {
            min_ack_delay: Some(Duration::from_millis(1)),
            ..AckConfig::default()
        };
        let mut a = AckTracker::new(Space::Data, &cfg);
        a.on_ack_frequency(1, 9, 40_000, 0, t(0)).unwrap();
        for pn in 0..9 {
            a.on_packet(pn, true, Ecn::NotEct, t(0));
        }
        assert_eq!(a.deadline(), Some(t(40)));
        // The tenth is "more than 9".
        a.on_packet(9, true, Ecn::NotEct, t(1));
        assert!(a.is_due(t(1)));
        // A stale sequence number is ignored.
        a.on_ack_frequency(1, 0, 1_000, 1, t(2)).unwrap();
        assert_eq!(a.ack_eliciting_threshold(), 9);
        // Reordering threshold 0: a gap no longer forces an ACK.
        a.on_ack_sent(9);
        a.on_packet(15, true, Ecn::NotEct, t(3));
        assert!(!a.is_due(t(3)));
    }

    #[test]
    fn ack_frequency_below_min_ack_delay_or_unnegotiated_is_a_protocol_violation() {
        let mut plain = data();
        assert_eq!(
            plain
                .on_ack_frequency(0, 2, 25_000, 1, t(0))
                .unwrap_err()
                .code,
            quic_wire::TransportErrorCode::PROTOCOL_VIOLATION
        );
        let cfg = AckConfig {
            min_ack_delay: Some(Duration::from_millis(5)),
            ..AckConfig::default()
        };
        let mut a = AckTracker::new(Space::Data, &cfg);
        assert!(a.on_ack_frequency(0, 2, 4_999, 1, t(0)).is_err());
        assert!(a.on_ack_frequency(0, 2, 5_000, 1, t(0)).is_ok());
    }

    /// The example table of ack-frequency §6.2 with a reordering threshold of 3: ACKs are
    /// sent only where the table says "Yes".
    #[test]
    fn reordering_threshold_three_follows_the_draft_example() {
        let cfg = AckConfig {
            min_ack_delay: Some(Duration::from_millis(1)),
            ..AckConfig::default()
        };
        let mut a = AckTracker::new(Space::Data, &cfg);
        a.on_ack_frequency(0, 100, 100_000, 3, t(0)).unwrap();
        let mut acked_at = alloc::vec::Vec::new();
        for pn in [0, 1, 3, 4, 5, 8, 9, 10] {
            a.on_packet(pn, true, Ecn::NotEct, t(0));
            if a.is_due(t(0)) {
                acked_at.push(pn);
                a.on_ack_sent(a.history().largest().unwrap());
            }
        }
        assert_eq!(acked_at, [5, 9, 10]);
    }

    /// The same with a reordering threshold of 5.
    #[test]
    fn reordering_threshold_five_follows_the_draft_example() {
        let cfg = AckConfig {
            min_ack_delay: Some(Duration::from_millis(1)),
            ..AckConfig::default()
        };
        let mut a = AckTracker::new(Space::Data, &cfg);
        a.on_ack_frequency(0, 100, 100_000, 5, t(0)).unwrap();
        let mut acked_at = alloc::vec::Vec::new();
        for pn in [0, 1, 3, 5, 6, 7, 8, 9] {
            a.on_packet(pn, true, Ecn::NotEct, t(0));
            if a.is_due(t(0)) {
                acked_at.push(pn);
                a.on_ack_sent(a.history().largest().unwrap());
            }
        }
        assert_eq!(acked_at, [7, 9]);
    }

    #[test]
    fn immediate_ack_frame_makes_an_ack_due() {
        let mut a = data();
        a.on_packet(0, true, Ecn::NotEct, t(0));
        a.on_immediate_ack(t(0));
        assert!(a.is_due(t(0)));
    }
}
