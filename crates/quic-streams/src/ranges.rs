//! A set of disjoint half-open `u64` ranges, kept sorted and merged.
//!
//! The send side uses it for acknowledged and lost byte ranges. Its ranges come from frames
//! we sent ourselves, so their number is bounded by the frames in flight, never by the peer.

use alloc::vec::Vec;
use core::ops::Range;

/// Disjoint, non-adjacent, sorted half-open ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    /// An empty set.
    pub(crate) const fn new() -> Self {
        RangeSet { ranges: Vec::new() }
    }

    /// Whether the set holds no range.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The lowest range.
    pub(crate) fn first(&self) -> Option<Range<u64>> {
        self.ranges.first().map(|&(s, e)| s..e)
    }

    /// Iterates the ranges in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.ranges.iter().map(|&(s, e)| s..e)
    }

    /// Adds `r`, merging with overlapping or adjacent ranges.
    pub(crate) fn insert(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        // First range whose end reaches r.start (could merge), and first whose start is past r.end.
        let lo = self.ranges.partition_point(|&(_, e)| e < r.start);
        let hi = self.ranges.partition_point(|&(s, _)| s <= r.end);
        if lo == hi {
            self.ranges.insert(lo, (r.start, r.end));
            return;
        }
        // Ranges lo..hi touch r: merge them into one. lo < hi, so both indices exist.
        let start = self.ranges[lo].0.min(r.start);
        let end = self.ranges[hi - 1].1.max(r.end);
        self.ranges[lo] = (start, end);
        self.ranges.drain(lo + 1..hi);
    }

    /// Removes `r` from the set.
    #[inline]
    pub(crate) fn remove(&mut self, r: Range<u64>) {
        // Empty is the usual case (nothing lost, acknowledgements in order).
        if r.start >= r.end || self.ranges.is_empty() {
            return;
        }
        self.remove_from_some(r);
    }

    /// [`RangeSet::remove`] once the set has ranges.
    fn remove_from_some(&mut self, r: Range<u64>) {
        let lo = self.ranges.partition_point(|&(_, e)| e <= r.start);
        let hi = self.ranges.partition_point(|&(s, _)| s < r.end);
        if lo >= hi {
            return;
        }
        // Ranges lo..hi overlap r; keep the parts outside it.
        let (first_s, _) = self.ranges[lo];
        let (_, last_e) = self.ranges[hi - 1];
        let mut keep: [(u64, u64); 2] = [(0, 0); 2];
        let mut n = 0;
        if first_s < r.start {
            keep[n] = (first_s, r.start);
            n += 1;
        }
        if last_e > r.end {
            keep[n] = (r.end, last_e);
            n += 1;
        }
        self.ranges.splice(lo..hi, keep.into_iter().take(n));
    }

    /// Removes everything below `offset`.
    pub(crate) fn remove_below(&mut self, offset: u64) {
        self.remove(0..offset);
    }

    /// The end of the range starting at or before `offset` and containing it, if any:
    /// how far the set continues without a gap from `offset`.
    pub(crate) fn contiguous_end(&self, offset: u64) -> Option<u64> {
        if self.ranges.is_empty() {
            return None;
        }
        let i = self.ranges.partition_point(|&(_, e)| e < offset);
        self.ranges
            .get(i)
            .and_then(|&(s, e)| (s <= offset).then_some(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    #[test]
    fn insert_merges_overlapping_and_adjacent_ranges() {
        let mut s = RangeSet::new();
        s.insert(10..20);
        s.insert(30..40);
        s.insert(20..25);
        assert_eq!(s.iter().collect::<Vec<_>>(), [10..25, 30..40]);
        s.insert(5..35);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![5..40]);
    }

    #[test]
    fn remove_splits_ranges() {
        let mut s = RangeSet::new();
        s.insert(0..100);
        s.remove(10..20);
        s.remove(50..60);
        assert_eq!(s.iter().collect::<Vec<_>>(), [0..10, 20..50, 60..100]);
        s.remove(5..70);
        assert_eq!(s.iter().collect::<Vec<_>>(), [0..5, 70..100]);
        assert_eq!(s.contiguous_end(0), Some(5));
        assert_eq!(s.contiguous_end(5), Some(5));
        assert_eq!(s.contiguous_end(6), None);
    }

    proptest! {
        #[test]
        fn behaves_like_a_bitmap(ops in prop::collection::vec((any::<bool>(), 0u64..200, 0u64..40), 0..60)) {
            let mut s = RangeSet::new();
            let mut bits = [false; 256];
            for (add, start, len) in ops {
                let r = start..start + len;
                if add { s.insert(r.clone()) } else { s.remove(r.clone()) }
                for b in &mut bits[r.start as usize..r.end as usize] { *b = add; }
                let mut model = RangeSet::new();
                for (i, &b) in bits.iter().enumerate() {
                    if b { model.insert(i as u64..i as u64 + 1); }
                }
                prop_assert_eq!(&s, &model);
            }
        }
    }
}
