//! Which stream's data fills the next packet: RFC 9218 urgency and incremental.
//!
//! Streams with something to send sit in one ordered set. The order is:
//! 1. urgency, 0 first (RFC 9218 §4.1: lower values are more urgent) — strict;
//! 2. within one urgency, non-incremental streams before incremental ones, and among
//!    non-incremental streams the lowest stream ID first, served until it has nothing
//!    left (RFC 9218 §4.2: a non-incremental response is delivered whole, one at a time);
//! 3. incremental streams of the same urgency take turns: a stream that just sent goes
//!    to the back of its urgency's queue (round robin).

use alloc::collections::BTreeSet;
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

/// A stream's place in the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    urgency: u8,
    incremental: bool,
    /// Stream ID for non-incremental streams, turn number for incremental ones.
    order: u64,
    id: StreamId,
}

/// The set of streams with data to send, in sending order.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    set: BTreeSet<Key>,
    turn: u64,
}

impl Scheduler {
    /// Adds `id` (or keeps its place when already `current`); returns its key.
    pub(crate) fn insert(&mut self, id: StreamId, prio: Priority, current: Option<Key>) -> Key {
        if let Some(k) = current {
            if k.urgency == prio.urgency && k.incremental == prio.incremental {
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
        Key {
            urgency: prio.urgency,
            incremental: prio.incremental,
            order,
            id,
        }
    }

    /// Removes a stream.
    pub(crate) fn remove(&mut self, key: Key) {
        self.set.remove(&key);
    }

    /// After `key`'s stream sent a frame: incremental streams go to the back of their
    /// urgency; others keep their place. Returns the new key.
    pub(crate) fn rotate(&mut self, key: Key) -> Key {
        if !key.incremental {
            return key;
        }
        self.set.remove(&key);
        let prio = Priority::new(key.urgency, true);
        let k = self.key(key.id, prio);
        self.set.insert(k);
        k
    }

    /// The first stream strictly after `after` (or the first of all).
    pub(crate) fn next_after(&self, after: Option<Key>) -> Option<Key> {
        match after {
            None => self.set.first().copied(),
            Some(k) => self
                .set
                .range((core::ops::Bound::Excluded(k), core::ops::Bound::Unbounded))
                .next()
                .copied(),
        }
    }

    /// Whether no stream is scheduled (a length check, no walk to the first key).
    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The first stream of all.
    #[cfg(test)]
    pub(crate) fn first(&self) -> Option<Key> {
        self.set.first().copied()
    }

    /// How many streams are scheduled.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.set.len()
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
}
