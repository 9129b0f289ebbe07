//! The packet numbers received in one (path, packet-number space): a bounded, sorted set of
//! disjoint ranges in one ring buffer (RFC 9000 §13.2.3 "Managing ACK Ranges").
//!
//! - In-order arrival extends the newest range in place: O(1).
//! - A new gap pushes one range at the back: O(1) amortized.
//! - A reordered packet is placed by binary search and may merge two ranges; the shift this
//!   costs is bounded by the configured number of ranges.
//! - When more than `max_ranges` ranges would be kept, the oldest range is dropped and the
//!   history's *floor* rises past it. Numbers below the floor are reported as duplicates: the
//!   RFC allows this ("a receiver MUST retain an ACK Range unless it can ensure that it will
//!   not subsequently accept packets with numbers in that range", §13.2.3), and it is the
//!   only way to keep duplicate detection sound with bounded memory.

use alloc::collections::VecDeque;
use core::ops::RangeInclusive;

/// One range of received packet numbers, inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    lo: u64,
    hi: u64,
}

/// What [`RecvHistory::insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The number is new.
    New,
    /// The number was already received, or lies below the history's floor.
    Duplicate,
}

/// The received packet numbers of one packet-number space, as at most `max_ranges` ranges.
#[derive(Debug, Clone)]
pub struct RecvHistory {
    /// Ascending, disjoint and non-adjacent.
    runs: VecDeque<Run>,
    max_ranges: usize,
    /// Every number below this is treated as already received.
    floor: u64,
}

impl RecvHistory {
    /// The default bound on the ranges kept (and so on the ranges one ACK can report).
    pub const DEFAULT_MAX_RANGES: usize = 64;

    /// An empty history keeping at most `max_ranges` ranges (at least 1). Nothing is
    /// allocated here: the ring grows (by doubling) with the number of ranges actually
    /// kept, up to `max_ranges + 1`, and keeps its room. A space that only ever sees
    /// in-order packets holds one range, so an idle connection does not pay for the
    /// 64-range bound it never reaches.
    pub fn new(max_ranges: usize) -> Self {
        let max_ranges = max_ranges.max(1);
        RecvHistory {
            runs: VecDeque::new(),
            max_ranges,
            floor: 0,
        }
    }

    /// Records `pn`; says whether it is new. O(1) for in-order arrival.
    pub fn insert(&mut self, pn: u64) -> Inserted {
        if pn < self.floor {
            return Inserted::Duplicate;
        }
        // Fast paths at the back: the newest range grows or a new one starts.
        let Some(back) = self.runs.back_mut() else {
            self.runs.push_back(Run { lo: pn, hi: pn });
            return Inserted::New;
        };
        if back.hi.checked_add(1) == Some(pn) {
            back.hi = pn;
            return Inserted::New;
        }
        if pn > back.hi {
            self.runs.push_back(Run { lo: pn, hi: pn });
            self.enforce_bound();
            return Inserted::New;
        }
        self.insert_slow(pn)
    }

    fn insert_slow(&mut self, pn: u64) -> Inserted {
        // Index of the first range whose end is at or above `pn`; it exists because
        // `pn <= back.hi` (checked by the caller).
        let i = self.runs.partition_point(|r| r.hi < pn);
        let Some(&cur) = self.runs.get(i) else {
            return Inserted::Duplicate; // unreachable by the invariant above; harmless
        };
        if cur.lo <= pn {
            return Inserted::Duplicate;
        }
        let joins_prev = i > 0 && self.runs.get(i - 1).is_some_and(|p| p.hi + 1 == pn);
        let joins_next = cur.lo == pn + 1;
        match (joins_prev, joins_next) {
            (true, true) => {
                // `pn` fills the only hole between two ranges: merge them.
                if let Some(next) = self.runs.remove(i) {
                    if let Some(prev) = self.runs.get_mut(i - 1) {
                        prev.hi = next.hi;
                    }
                }
            }
            (true, false) => {
                if let Some(prev) = self.runs.get_mut(i - 1) {
                    prev.hi = pn;
                }
            }
            (false, true) => {
                if let Some(next) = self.runs.get_mut(i) {
                    next.lo = pn;
                }
            }
            (false, false) => {
                self.runs.insert(i, Run { lo: pn, hi: pn });
                self.enforce_bound();
            }
        }
        Inserted::New
    }

    fn enforce_bound(&mut self) {
        while self.runs.len() > self.max_ranges {
            if let Some(old) = self.runs.pop_front() {
                self.floor = old.hi + 1;
            }
        }
    }

    /// Whether `pn` counts as received (a duplicate if it arrives again).
    pub fn contains(&self, pn: u64) -> bool {
        if pn < self.floor {
            return true;
        }
        let i = self.runs.partition_point(|r| r.hi < pn);
        self.runs.get(i).is_some_and(|r| r.lo <= pn)
    }

    /// Forgets every number at or below `pn`: they are no longer reported in ACKs and count
    /// as duplicates from now on. Used once an ACK we sent that covered them has itself been
    /// acknowledged (RFC 9000 §13.2.4).
    pub fn forget_up_to(&mut self, pn: u64) {
        let new_floor = pn.saturating_add(1);
        if new_floor <= self.floor {
            return;
        }
        self.floor = new_floor;
        while let Some(front) = self.runs.front_mut() {
            if front.hi < new_floor {
                self.runs.pop_front();
            } else {
                front.lo = front.lo.max(new_floor);
                break;
            }
        }
    }

    /// The largest number received, if any is still tracked.
    pub fn largest(&self) -> Option<u64> {
        self.runs.back().map(|r| r.hi)
    }

    /// The smallest number still reported (ranges below it were dropped or forgotten).
    pub fn smallest(&self) -> Option<u64> {
        self.runs.front().map(|r| r.lo)
    }

    /// Numbers below this are treated as received without being reported.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// The number of ranges kept.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The configured bound on ranges.
    pub fn max_ranges(&self) -> usize {
        self.max_ranges
    }

    /// The ranges, highest first, as [`quic_wire::frame::AckFrame::write_ranges`] wants them.
    pub fn iter(&self) -> RangesDesc<'_> {
        RangesDesc {
            inner: self.runs.iter().rev(),
        }
    }

    /// The smallest number at or above `start` (and the floor) that is missing and below
    /// the largest received number, if any (used by the reordering rules of the ACK policy).
    pub fn smallest_missing_from(&self, start: u64) -> Option<u64> {
        let largest = self.largest()?;
        let start = start.max(self.floor);
        if start >= largest {
            return None;
        }
        let i = self.runs.partition_point(|r| r.hi < start);
        let r = self.runs.get(i)?;
        let missing = if r.lo <= start { r.hi + 1 } else { start };
        (missing < largest).then_some(missing)
    }

    /// Forgets everything (keys discarded, or the path abandoned).
    pub fn clear(&mut self) {
        self.runs.clear();
        self.floor = 0;
    }
}

/// The ranges of a [`RecvHistory`], highest first.
#[derive(Debug, Clone)]
pub struct RangesDesc<'a> {
    inner: core::iter::Rev<alloc::collections::vec_deque::Iter<'a, Run>>,
}

impl Iterator for RangesDesc<'_> {
    type Item = RangeInclusive<u64>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|r| r.lo..=r.hi)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn ranges(h: &RecvHistory) -> Vec<(u64, u64)> {
        h.iter().map(|r| (*r.start(), *r.end())).collect()
    }

    #[test]
    fn in_order_arrival_keeps_one_range() {
        let mut h = RecvHistory::new(8);
        for pn in 0..1000 {
            assert_eq!(h.insert(pn), Inserted::New);
        }
        assert_eq!(ranges(&h), [(0, 999)]);
        assert_eq!(h.insert(500), Inserted::Duplicate);
    }

    #[test]
    fn reordered_packet_fills_and_merges_gaps() {
        let mut h = RecvHistory::new(8);
        for pn in [0, 1, 3, 5, 6] {
            h.insert(pn);
        }
        assert_eq!(ranges(&h), [(5, 6), (3, 3), (0, 1)]);
        assert_eq!(h.insert(4), Inserted::New);
        assert_eq!(ranges(&h), [(3, 6), (0, 1)]);
        assert_eq!(h.insert(2), Inserted::New);
        assert_eq!(ranges(&h), [(0, 6)]);
        assert_eq!(h.insert(2), Inserted::Duplicate);
    }

    #[test]
    fn oldest_range_is_dropped_at_the_bound_and_becomes_duplicate() {
        let mut h = RecvHistory::new(2);
        for pn in [0, 2, 4] {
            h.insert(pn);
        }
        assert_eq!(ranges(&h), [(4, 4), (2, 2)]);
        assert_eq!(h.floor(), 1);
        assert_eq!(h.insert(0), Inserted::Duplicate);
        assert!(h.contains(0));
        assert_eq!(h.insert(3), Inserted::New);
        assert_eq!(ranges(&h), [(2, 4)]);
    }

    #[test]
    fn forgetting_acknowledged_ranges_raises_the_floor() {
        let mut h = RecvHistory::new(8);
        for pn in [0, 1, 2, 5, 6, 9] {
            h.insert(pn);
        }
        h.forget_up_to(5);
        assert_eq!(ranges(&h), [(9, 9), (6, 6)]);
        assert_eq!(h.insert(3), Inserted::Duplicate);
        assert_eq!(h.insert(7), Inserted::New);
    }

    #[test]
    fn smallest_missing_from_finds_holes() {
        let mut h = RecvHistory::new(8);
        for pn in [0, 1, 3, 4, 8] {
            h.insert(pn);
        }
        assert_eq!(h.smallest_missing_from(0), Some(2));
        assert_eq!(h.smallest_missing_from(3), Some(5));
        assert_eq!(h.smallest_missing_from(7), Some(7));
        assert_eq!(h.smallest_missing_from(8), None);
    }

    #[test]
    fn largest_packet_number_does_not_overflow() {
        let mut h = RecvHistory::new(4);
        let top = (1u64 << 62) - 1;
        assert_eq!(h.insert(top), Inserted::New);
        assert_eq!(h.insert(top - 1), Inserted::New);
        assert_eq!(ranges(&h), [(top - 1, top)]);
        h.forget_up_to(u64::MAX);
        assert!(h.is_empty());
    }
}
