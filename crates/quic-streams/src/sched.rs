//! Which stream's data fills the next packet: RFC 9218 urgency and incremental.
//!
//! Streams with something to send sit in one ordered set. The order is:
//! 1. urgency, 0 first (RFC 9218 §4.1: lower values are more urgent) — strict;
//! 2. within one urgency, non-incremental streams before incremental ones, and among
//!    non-incremental streams the lowest stream ID first, served until it has nothing
//!    left (RFC 9218 §4.2: a non-incremental response is delivered whole, one at a time);
//! 3. incremental streams of the same urgency take turns: a stream that just sent goes
//!    to the back of its urgency's queue (round robin).
//!
//! The set is a sorted deque while it is small (the usual case: a few streams, a new one
//! mostly going to the back and a finished one mostly leaving from the front, each found by
//! binary search), and a B-tree once it holds more than 256 streams, so no
//! operation ever costs more than O(log n) plus a bounded move.

use alloc::collections::{BTreeSet, VecDeque};
use core::ops::Bound;
use quic_wire::StreamId;

/// An RFC 9218 priority: urgency 0 (highest) to 7 and whether the stream is incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Priority {
    urgency: u8,
    /// Whether the receiver can use the data piecemeal, so the stream can share
    /// bandwidth with others of the same urgency.
    pub incremental: bool,
}

impl Priority {
    /// The default priority (RFC 9218 §4.1 and §4.2: urgency 3, not incremental).
    pub const DEFAULT: Priority = Priority {
        urgency: 3,
        incremental: false,
    };

    /// A priority; an urgency above 7 is clamped to 7.
    pub const fn new(urgency: u8, incremental: bool) -> Self {
        Priority {
            urgency: if urgency > 7 { 7 } else { urgency },
            incremental,
        }
    }

    /// The urgency, 0 to 7.
    pub const fn urgency(self) -> u8 {
        self.urgency
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority::DEFAULT
    }
}

/// A stream's place in the schedule: ordered by urgency, then incremental after
/// non-incremental, then the stream ID (non-incremental) or turn number (incremental). The
/// three are packed into one `rank` so that ordering keys mostly takes one comparison:
/// the derived order compares `rank`, then `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    /// The class (`urgency * 2 + incremental`) in the top [`CLASS_BITS`] bits, below it the
    /// order within the class: the stream ID for non-incremental streams, the turn number
    /// for incremental ones, capped at [`ORDER_MAX`]. Unique within a class below the cap;
    /// at the cap (stream IDs of 2^60 and more, never reached turn counts) `id` still
    /// orders non-incremental streams by ID.
    rank: u64,
    id: StreamId,
}

/// Bits of [`Key::rank`] holding the class (urgency 0-7 and the incremental bit).
const CLASS_BITS: u32 = 4;
/// Bits of [`Key::rank`] below the class.
const ORDER_BITS: u32 = u64::BITS - CLASS_BITS;
/// The largest order a rank holds.
const ORDER_MAX: u64 = (1 << ORDER_BITS) - 1;

impl Key {
    fn class(prio: Priority) -> u8 {
        prio.urgency * 2 + u8::from(prio.incremental)
    }

    fn new(class: u8, order: u64, id: StreamId) -> Self {
        Key {
            rank: (u64::from(class) << ORDER_BITS) | order.min(ORDER_MAX),
            id,
        }
    }

    fn class_of(&self) -> u8 {
        // The class is below 16: the shift leaves nothing else.
        (self.rank >> ORDER_BITS) as u8
    }

    fn is_incremental(&self) -> bool {
        self.class_of() & 1 == 1
    }
}

/// Most streams the sorted deque holds before the set becomes a B-tree.
const SMALL_MAX: usize = 256;
/// Fewest streams a B-tree keeps before the set is a sorted deque again (below
/// [`SMALL_MAX`], so a set near the bound does not switch back and forth).
const LARGE_MIN: usize = SMALL_MAX / 4;

/// An ordered set of keys: a sorted deque while small, a B-tree when large.
#[derive(Debug)]
enum KeySet {
    Small(VecDeque<Key>),
    Large(BTreeSet<Key>),
}

impl Default for KeySet {
    fn default() -> Self {
        KeySet::Small(VecDeque::new())
    }
}

impl KeySet {
    fn insert(&mut self, k: Key) {
        match self {
            KeySet::Small(v) => {
                if v.back().is_none_or(|last| *last < k) {
                    v.push_back(k);
                } else {
                    let i = v.partition_point(|x| *x < k);
                    if v.get(i) != Some(&k) {
                        v.insert(i, k);
                    }
                }
                if v.len() > SMALL_MAX {
                    *self = KeySet::Large(v.drain(..).collect());
                }
            }
            KeySet::Large(t) => {
                t.insert(k);
            }
        }
    }

    fn remove(&mut self, k: &Key) {
        match self {
            KeySet::Small(v) => {
                if v.front() == Some(k) {
                    v.pop_front();
                } else {
                    let i = v.partition_point(|x| x < k);
                    if v.get(i) == Some(k) {
                        v.remove(i);
                    }
                }
            }
            KeySet::Large(t) => {
                t.remove(k);
                if t.len() < LARGE_MIN {
                    *self = KeySet::Small(core::mem::take(t).into_iter().collect());
                }
            }
        }
    }

    fn first(&self) -> Option<Key> {
        match self {
            KeySet::Small(v) => v.front().copied(),
            KeySet::Large(t) => t.first().copied(),
        }
    }

    /// The first key strictly after `k`.
    fn after(&self, k: &Key) -> Option<Key> {
        match self {
            // The writer mostly asks right after serving the first stream, which is then
            // still first or gone: no search for those.
            KeySet::Small(v) => match v.front() {
                Some(f) if f > k => Some(*f),
                Some(f) if f == k => v.get(1).copied(),
                _ => v.get(v.partition_point(|x| x <= k)).copied(),
            },
            KeySet::Large(t) => t
                .range((Bound::Excluded(k), Bound::Unbounded))
                .next()
                .copied(),
        }
    }

    fn len(&self) -> usize {
        match self {
            KeySet::Small(v) => v.len(),
            KeySet::Large(t) => t.len(),
        }
    }
}

/// The set of streams with data to send, in sending order.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    set: KeySet,
    turn: u64,
}

impl Scheduler {
    /// Whether a stream scheduled at `key` keeps its place with priority `prio`.
    pub(crate) fn keeps(key: Key, prio: Priority) -> bool {
        key.class_of() == Key::class(prio)
    }

    /// Adds `id` (or keeps its place when already `current`); returns its key.
    pub(crate) fn insert(&mut self, id: StreamId, prio: Priority, current: Option<Key>) -> Key {
        if let Some(k) = current {
            if Self::keeps(k, prio) {
                return k;
            }
            self.set.remove(&k);
        }
        let k = self.key(id, prio);
        self.set.insert(k);
        k
    }

    fn key(&mut self, id: StreamId, prio: Priority) -> Key {
        let order = if prio.incremental {
            self.turn += 1;
            self.turn
        } else {
            id.into_inner()
        };
        Key::new(Key::class(prio), order, id)
    }

    /// Removes a stream.
    pub(crate) fn remove(&mut self, key: Key) {
        self.set.remove(&key);
    }

    /// After `key`'s stream sent a frame: incremental streams go to the back of their
    /// urgency; others keep their place. Returns the new key.
    pub(crate) fn rotate(&mut self, key: Key) -> Key {
        if !key.is_incremental() {
            return key;
        }
        self.set.remove(&key);
        let prio = Priority::new(key.class_of() / 2, true);
        let k = self.key(key.id, prio);
        self.set.insert(k);
        k
    }

    /// The first stream strictly after `after` (or the first of all).
    pub(crate) fn next_after(&self, after: Option<Key>) -> Option<Key> {
        match after {
            None => self.set.first(),
            Some(k) => self.set.after(&k),
        }
    }

    /// Whether no stream is scheduled.
    pub(crate) fn is_empty(&self) -> bool {
        self.set.len() == 0
    }

    /// The first stream of all.
    #[cfg(test)]
    pub(crate) fn first(&self) -> Option<Key> {
        self.set.first()
    }

    /// How many streams are scheduled.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether the set is in its B-tree form.
    #[cfg(test)]
    fn is_large(&self) -> bool {
        matches!(self.set, KeySet::Large(_))
    }
}

impl Key {
    /// The stream.
    pub(crate) fn id(&self) -> StreamId {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quic_wire::{Dir, Side};
    use std::vec::Vec;

    fn sid(i: u64) -> StreamId {
        StreamId::new(Side::Client, Dir::Bi, i).unwrap()
    }

    /// Serves `n` turns: the first stream sends, then rotates.
    fn serve(s: &mut Scheduler, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let k = s.first().unwrap();
                s.rotate(k);
                k.id().index()
            })
            .collect()
    }

    #[test]
    fn lower_urgency_value_goes_first() {
        let mut s = Scheduler::default();
        s.insert(sid(0), Priority::new(5, false), None);
        s.insert(sid(1), Priority::new(1, false), None);
        s.insert(sid(2), Priority::new(3, true), None);
        assert_eq!(serve(&mut s, 3), [1, 1, 1]);
        let k = s.first().unwrap();
        s.remove(k);
        assert_eq!(serve(&mut s, 2), [2, 2]);
    }

    #[test]
    fn incremental_streams_of_equal_urgency_take_turns() {
        let mut s = Scheduler::default();
        for i in 0..3 {
            s.insert(sid(i), Priority::new(3, true), None);
        }
        assert_eq!(serve(&mut s, 7), [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn non_incremental_streams_are_served_one_at_a_time_in_id_order() {
        let mut s = Scheduler::default();
        s.insert(sid(4), Priority::new(3, false), None);
        s.insert(sid(2), Priority::new(3, false), None);
        s.insert(sid(3), Priority::new(3, true), None);
        assert_eq!(serve(&mut s, 3), [2, 2, 2]);
        let k = s.first().unwrap();
        s.remove(k);
        assert_eq!(serve(&mut s, 2), [4, 4]);
        let k = s.first().unwrap();
        s.remove(k);
        assert_eq!(serve(&mut s, 1), [3]);
    }

    /// The same operations on the scheduler and on a plain ordered set of keys give the
    /// same order, across the switches between the small and the large form.
    #[test]
    fn matches_an_ordered_set_across_both_forms() {
        let mut s = Scheduler::default();
        let mut model: BTreeSet<Key> = BTreeSet::new();
        let mut keys: Vec<Option<Key>> = alloc::vec![None; 2 * SMALL_MAX];
        // A deterministic pseudo-random walk: inserts, removals, rotations, priority changes.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut went_large = false;
        let mut went_back = false;
        for step in 0..40_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % keys.len() as u64) as usize;
            // Grow for the first half, then shrink, so both switches happen.
            let grow = (step / 10_000) % 2 == 0;
            let prio = Priority::new((x >> 20) as u8 % 8, (x >> 30) % 2 == 0);
            match (keys[i], grow || (x >> 40) % 16 == 0) {
                (cur, true) => {
                    if let Some(k) = cur {
                        model.remove(&k);
                    }
                    let k = s.insert(sid(i as u64), prio, cur);
                    model.insert(k);
                    keys[i] = Some(k);
                }
                (Some(k), false) if (x >> 50) % 3 == 0 => {
                    model.remove(&k);
                    let k2 = s.rotate(k);
                    model.insert(k2);
                    keys[i] = Some(k2);
                }
                (Some(k), false) => {
                    s.remove(k);
                    model.remove(&k);
                    keys[i] = None;
                }
                (None, false) => {}
            }
            went_large |= s.is_large();
            went_back |= went_large && !s.is_large();
            assert_eq!(s.len(), model.len());
            assert_eq!(s.first(), model.first().copied());
            if let Some(k) = keys[i] {
                let after = model
                    .range((Bound::Excluded(k), Bound::Unbounded))
                    .next()
                    .copied();
                assert_eq!(s.next_after(Some(k)), after);
            }
        }
        assert!(went_large && went_back, "both forms were exercised");
        let order: Vec<Key> =
            core::iter::successors(s.first(), |k| s.next_after(Some(*k))).collect();
        assert_eq!(order, model.iter().copied().collect::<Vec<_>>());
    }

    #[test]
    fn priority_can_change_while_scheduled() {
        let mut s = Scheduler::default();
        let a = s.insert(sid(0), Priority::new(3, false), None);
        s.insert(sid(1), Priority::new(2, false), None);
        assert_eq!(s.first().unwrap().id(), sid(1));
        s.insert(sid(0), Priority::new(0, false), Some(a));
        assert_eq!(s.first().unwrap().id(), sid(0));
        assert_eq!(s.len(), 2);
    }

    /// Packed keys order exactly as (class, order, id) do, stream IDs past the rank's order
    /// bits included.
    #[test]
    fn packed_keys_order_as_class_then_order_then_id() {
        let raw = [
            0u64,
            1,
            4,
            7,
            1 << 40,
            ORDER_MAX - 1,
            ORDER_MAX,
            ORDER_MAX + 1,
            (1 << 62) - 1,
        ];
        let mut keys = Vec::new();
        for class in 0..16u8 {
            for (n, &v) in raw.iter().enumerate() {
                let id = StreamId::from(quic_wire::VarInt::from_u64(v).unwrap());
                // Non-incremental: ordered by stream ID; incremental: by a turn number.
                let order = if class & 1 == 0 { v } else { n as u64 };
                keys.push(((class, order, v), Key::new(class, order, id)));
            }
        }
        for (a, ka) in &keys {
            assert_eq!(ka.class_of(), a.0);
            for (b, kb) in &keys {
                assert_eq!(ka.cmp(kb), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
