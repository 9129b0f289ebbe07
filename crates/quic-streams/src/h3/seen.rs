//! The peer's request streams a server has already started, so that data arriving for one
//! after it finished (a duplicate FIN, a late read by the application) is not taken for a
//! new request.
//!
//! Request streams are numbered by their index (stream ID / 4). Most arrive in order, so
//! the set is kept as sorted, disjoint ranges: one range when nothing is missing. A gap
//! is a stream the peer has not used yet; RFC 9000 §3.2 opens it implicitly with any higher
//! one, so gaps count against the peer's stream limit. The range count is still capped:
//! past the cap the two lowest ranges are joined, treating the oldest missing streams as
//! seen (their late data is then ignored; a peer has no reason to leave such gaps).

use alloc::vec::Vec;

/// Ranges kept at most (each 16 bytes).
const MAX_RANGES: usize = 256;

/// A set of request indices, as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    ranges: Vec<(u64, u64)>,
}

impl Seen {
    /// Whether `index` was inserted (or given up as seen when the cap was hit).
    pub(crate) fn contains(&self, index: u64) -> bool {
        let i = self.ranges.partition_point(|&(_, end)| end < index);
        self.ranges.get(i).is_some_and(|&(start, _)| start <= index)
    }

    /// Adds `index`.
    pub(crate) fn insert(&mut self, index: u64) {
        let i = self
            .ranges
            .partition_point(|&(_, end)| end.saturating_add(1) < index);
        match self.ranges.get_mut(i) {
            Some(r) if r.0 <= index && index <= r.1 => return,
            Some(r) if r.1.saturating_add(1) == index => {
                r.1 = index;
                // It may now touch the next range.
                if let Some(&(next_start, next_end)) = self.ranges.get(i + 1) {
                    if next_start == index + 1 {
                        self.ranges[i].1 = next_end;
                        self.ranges.remove(i + 1);
                    }
                }
            }
            Some(r) if index.saturating_add(1) == r.0 => r.0 = index,
            _ => self.ranges.insert(i, (index, index)),
        }
        if self.ranges.len() > MAX_RANGES {
            let (_, end) = self.ranges.remove(1);
            self.ranges[0].1 = end;
        }
    }

    #[cfg(test)]
    fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_inserts_keep_one_range() {
        let mut s = Seen::default();
        for i in 0..1000 {
            s.insert(i);
        }
        assert_eq!(s.ranges(), &[(0, 999)]);
        assert!(s.contains(0) && s.contains(999) && !s.contains(1000));
    }

    #[test]
    fn gaps_are_remembered_and_filled() {
        let mut s = Seen::default();
        for i in [5, 1, 3, 9, 2, 4, 0, 8] {
            s.insert(i);
        }
        assert_eq!(s.ranges(), &[(0, 5), (8, 9)]);
        assert!(!s.contains(6) && !s.contains(7) && !s.contains(10));
        s.insert(7);
        s.insert(6);
        assert_eq!(s.ranges(), &[(0, 9)]);
        s.insert(3);
        assert_eq!(s.ranges(), &[(0, 9)]);
    }

    #[test]
    fn matches_a_plain_set_under_random_inserts() {
        let mut s = Seen::default();
        let mut plain = alloc::collections::BTreeSet::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = x % 600;
            s.insert(i);
            plain.insert(i);
            assert!(s.ranges().windows(2).all(|w| w[0].1 + 1 < w[1].0));
        }
        for i in 0..700 {
            assert_eq!(s.contains(i), plain.contains(&i), "{i}");
        }
    }

    #[test]
    fn memory_is_capped_by_joining_the_oldest_gap() {
        let mut s = Seen::default();
        for i in 0..10_000u64 {
            s.insert(i * 2); // every other index: a gap each time
        }
        assert!(s.ranges().len() <= MAX_RANGES);
        assert!(s.contains(19_998));
        assert!(s.contains(1), "the oldest gaps are given up as seen");
        assert!(!s.contains(19_997));
    }
}
