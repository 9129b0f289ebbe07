//! The endpoint's view of its connections' deadlines and of which of them may have
//! something to send, so neither [`super::Endpoint`]'s timers nor its transmit loop scan
//! every connection.
//!
//! - **Deadlines**: a binary min-heap of `(deadline, handle)` with each connection's
//!   position recorded, so a connection's deadline is replaced or removed in O(log n) and
//!   the earliest one is read in O(1). The heap is kept exact (no stale entries), which
//!   lets [`Schedule::next_deadline`] work through `&self`.
//! - **Ready queue**: the connections that may have something to send, each at most once,
//!   in round-robin order. A connection joins when anything happened to it (a datagram, a
//!   timer, an application call); it leaves when its `poll_transmit` returns nothing, and
//!   goes to the back after sending one datagram, so every ready connection gets its turn
//!   before any sends twice.
//! - **Touched connections**: the application changes a connection through
//!   [`super::Endpoint::connection`] without the endpoint seeing what it did. Such a
//!   connection is noted, its deadline is read again on the endpoint's next input or
//!   output, and until then [`Schedule::next_deadline`] asks it directly.
//!
//! A connection whose `poll_transmit` returned nothing only has something to send again
//! after an input, a timer (the pacer and delayed ACKs are timers) or an application call,
//! which is why the ready queue needs no polling of idle connections.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use quic_wire::Instant;

use super::ConnectionHandle;

/// What the schedule knows of one connection.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// The connection tracked in this slot (see `slab.rs`), if any.
    handle: Option<ConnectionHandle>,
    /// Index in the heap, while the connection has a deadline.
    pos: Option<usize>,
    /// In the ready queue.
    ready: bool,
    /// Touched by the application since the deadline was last read.
    touched: bool,
}

/// Deadlines, ready queue and touched connections of an endpoint (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    heap: Vec<(Instant, ConnectionHandle)>,
    /// By the handle's slot: a lookup is an index and a comparison.
    entries: Vec<Entry>,
    ready: VecDeque<ConnectionHandle>,
    touched: Vec<ConnectionHandle>,
}

impl Schedule {
    /// Starts tracking a new connection: it is ready (it may have its first flight to send)
    /// and touched (its deadline is read on the next flush).
    pub(crate) fn add(&mut self, h: ConnectionHandle) {
        let i = h.slot();
        if self.entries.len() <= i {
            self.entries.resize(i + 1, Entry::default());
        }
        if let Some(old) = self.entries[i].handle {
            // The slot's earlier connection was not removed: forget it first.
            self.remove(old);
        }
        self.entries[i] = Entry {
            handle: Some(h),
            ..Entry::default()
        };
        self.touch(h);
        self.make_ready(h);
    }

    /// Stops tracking a connection that was removed.
    pub(crate) fn remove(&mut self, h: ConnectionHandle) {
        if let Some(e) = entry_mut(&mut self.entries, h) {
            let pos = e.pos;
            *e = Entry::default();
            if let Some(i) = pos {
                self.remove_at(i);
            }
        }
        // Lazily dropped from `ready` and `touched`: both skip unknown handles.
    }

    /// Notes that connection `h` may have changed (an input, a timer, a transmission or an
    /// application call): its deadline is read again on the next flush (until then
    /// [`Schedule::next_deadline`] asks it directly), and it is ready to transmit.
    #[inline]
    pub(crate) fn touch(&mut self, h: ConnectionHandle) {
        if self.touched.last() == Some(&h) && self.ready.back() == Some(&h) {
            // The usual repeated call on one connection: already noted and queued (every
            // handle in `ready` is a ready connection, stale ones are popped). Checked
            // inline, as every `Endpoint::connection` call comes here.
            return;
        }
        self.touch_slow(h);
    }

    /// [`Schedule::touch`] past its check for a repeated call.
    #[inline(never)]
    fn touch_slow(&mut self, h: ConnectionHandle) {
        let Some(e) = entry_mut(&mut self.entries, h) else {
            return;
        };
        if !e.touched {
            e.touched = true;
            self.touched.push(h);
        }
        if !e.ready {
            e.ready = true;
            self.ready.push_back(h);
        }
    }

    /// Re-reads the deadline of every touched connection (with `deadline_of`).
    pub(crate) fn flush(
        &mut self,
        mut deadline_of: impl FnMut(ConnectionHandle) -> Option<Instant>,
    ) {
        // Taken out and put back, so the list keeps its capacity.
        let mut touched = core::mem::take(&mut self.touched);
        for &h in &touched {
            let Some(e) = entry_mut(&mut self.entries, h) else {
                continue;
            };
            e.touched = false;
            self.set_deadline(h, deadline_of(h));
        }
        touched.clear();
        self.touched = touched;
    }

    /// Connection `h` was asked to transmit: if it sent something it goes to the back of
    /// the ready queue (it may have more), if not it stays out of it. Either way its
    /// deadline may have moved.
    pub(crate) fn transmitted(&mut self, h: ConnectionHandle, sent: bool) {
        if sent {
            self.touch(h);
        } else if self.touched.last() != Some(&h) {
            if let Some(e) = entry_mut(&mut self.entries, h) {
                if !e.touched {
                    e.touched = true;
                    self.touched.push(h);
                }
            }
        }
    }

    /// What is known of connection `h`, if it is tracked.
    #[inline]
    fn entry(&self, h: ConnectionHandle) -> Option<&Entry> {
        self.entries.get(h.slot()).filter(|e| e.handle == Some(h))
    }

    /// Whether a flush has anything to do.
    pub(crate) fn has_touched(&self) -> bool {
        !self.touched.is_empty()
    }

    /// The next connection that may have something to send; it leaves the queue.
    pub(crate) fn next_ready(&mut self) -> Option<ConnectionHandle> {
        while let Some(h) = self.ready.pop_front() {
            if let Some(e) = entry_mut(&mut self.entries, h) {
                if e.ready {
                    e.ready = false;
                    return Some(h);
                }
            }
        }
        None
    }

    /// The earliest deadline: of the touched connections as `deadline_of` reads it now,
    /// of the others as the heap has it.
    pub(crate) fn next_deadline(
        &self,
        deadline_of: impl Fn(ConnectionHandle) -> Option<Instant>,
    ) -> Option<Instant> {
        let touched = self.touched.iter().filter_map(|&h| deadline_of(h)).min();
        earlier(touched, self.earliest_untouched(0))
    }

    /// The earliest heap deadline at or below index `i` that belongs to an untouched
    /// connection (a touched one's entry may be stale). Nothing below an untouched entry
    /// is earlier, so this visits at most two nodes per touched connection, plus one.
    fn earliest_untouched(&self, i: usize) -> Option<Instant> {
        let &(t, h) = self.heap.get(i)?;
        if !self.entry(h).is_some_and(|e| e.touched) {
            return Some(t);
        }
        earlier(
            self.earliest_untouched(2 * i + 1),
            self.earliest_untouched(2 * i + 2),
        )
    }

    /// Takes the connection with the earliest deadline if that deadline is at or before
    /// `now`; its deadline is cleared until it is touched and flushed. Flush first, so no
    /// deadline in the heap is stale.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<ConnectionHandle> {
        let &(t, h) = self.heap.first()?;
        if t > now {
            return None;
        }
        self.remove_at(0);
        if let Some(e) = entry_mut(&mut self.entries, h) {
            e.pos = None;
        }
        Some(h)
    }

    /// How many connections have a deadline.
    #[cfg(test)]
    pub(crate) fn deadlines(&self) -> usize {
        self.heap.len()
    }

    fn make_ready(&mut self, h: ConnectionHandle) {
        if let Some(e) = entry_mut(&mut self.entries, h) {
            if !e.ready {
                e.ready = true;
                self.ready.push_back(h);
            }
        }
    }

    fn set_deadline(&mut self, h: ConnectionHandle, deadline: Option<Instant>) {
        let Some(pos) = self.entry(h).map(|e| e.pos) else {
            return;
        };
        match (pos, deadline) {
            (Some(i), Some(t)) => {
                let Some(slot) = self.heap.get_mut(i) else {
                    return;
                };
                let earlier = t < slot.0;
                slot.0 = t;
                if earlier {
                    self.sift_up(i);
                } else {
                    self.sift_down(i);
                }
            }
            (Some(i), None) => {
                self.remove_at(i);
                if let Some(e) = entry_mut(&mut self.entries, h) {
                    e.pos = None;
                }
            }
            (None, Some(t)) => {
                self.heap.push((t, h));
                let i = self.heap.len() - 1;
                self.set_pos(i);
                self.sift_up(i);
            }
            (None, None) => {}
        }
    }

    /// Removes the heap entry at `i` (the caller clears the connection's `pos`).
    fn remove_at(&mut self, i: usize) {
        let last = self.heap.len().saturating_sub(1);
        if i > last || self.heap.is_empty() {
            return;
        }
        self.heap.swap(i, last);
        self.heap.pop();
        if i < self.heap.len() {
            self.set_pos(i);
            self.sift_up(i);
            self.sift_down(i);
        }
    }

    /// Records in the entry of the connection at heap index `i` that it is there.
    fn set_pos(&mut self, i: usize) {
        if let Some(&(_, h)) = self.heap.get(i) {
            if let Some(e) = entry_mut(&mut self.entries, h) {
                e.pos = Some(i);
            }
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[parent].0 <= self.heap[i].0 {
                break;
            }
            self.heap.swap(parent, i);
            self.set_pos(i);
            self.set_pos(parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut min = i;
            if l < n && self.heap[l].0 < self.heap[min].0 {
                min = l;
            }
            if r < n && self.heap[r].0 < self.heap[min].0 {
                min = r;
            }
            if min == i {
                break;
            }
            self.heap.swap(min, i);
            self.set_pos(i);
            self.set_pos(min);
            i = min;
        }
    }
}

/// What is known of connection `h`, if it is tracked.
#[inline]
fn entry_mut(entries: &mut [Entry], h: ConnectionHandle) -> Option<&mut Entry> {
    entries.get_mut(h.slot()).filter(|e| e.handle == Some(h))
}

/// The earlier of two optional instants.
fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn h(n: u64) -> ConnectionHandle {
        ConnectionHandle(n)
    }

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    /// A small deterministic generator for the model test.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, below: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % below
        }
    }

    /// Checks every connection's recorded heap position and the heap order.
    fn check_invariants(s: &Schedule) {
        for (i, &(t, conn)) in s.heap.iter().enumerate() {
            let e = s.entry(conn).expect("a heap entry is a tracked connection");
            assert_eq!(e.pos, Some(i), "position of {conn:?}");
            if i > 0 {
                assert!(s.heap[(i - 1) / 2].0 <= t, "heap order at {i}");
            }
        }
        let with_pos = s.entries.iter().filter(|e| e.pos.is_some()).count();
        assert_eq!(with_pos, s.heap.len());
    }

    #[test]
    fn deadlines_match_a_simple_model_under_random_operations() {
        let mut s = Schedule::default();
        // The connections' own deadlines, which the schedule learns by touch and flush.
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        let mut live: Vec<u64> = Vec::new();
        let mut rng = Lcg(7);
        // Handles as the slab makes them: freed slots are reused under a new serial, and
        // removed handles are still touched now and then, which must change nothing.
        let mut made = 0;
        let mut free: Vec<u64> = Vec::new();
        let mut slots = 0;
        let mut dead: Vec<u64> = Vec::new();
        for _ in 0..20_000 {
            let read = |m: &BTreeMap<u64, u64>, c: ConnectionHandle| m.get(&c.0).map(|&t| at(t));
            match rng.next(11) {
                0 | 1 => {
                    let slot = free.pop().unwrap_or_else(|| {
                        slots += 1;
                        slots - 1
                    });
                    let k = (made << 32) | slot;
                    made += 1;
                    s.add(h(k));
                    live.push(k);
                }
                2 if !live.is_empty() => {
                    let k = live.swap_remove(rng.next(live.len() as u64) as usize);
                    s.remove(h(k));
                    model.remove(&k);
                    free.push(k & u64::from(u32::MAX));
                    dead.push(k);
                }
                10 if !dead.is_empty() => {
                    let k = dead[rng.next(dead.len() as u64) as usize];
                    s.touch(h(k));
                    s.transmitted(h(k), rng.next(2) == 0);
                    s.remove(h(k));
                }
                3..=5 if !live.is_empty() => {
                    let k = live[rng.next(live.len() as u64) as usize];
                    let t = rng.next(1000);
                    if t < 100 {
                        model.remove(&k);
                    } else {
                        model.insert(k, t);
                    }
                    s.touch(h(k));
                }
                6 => s.flush(|c| read(&model, c)),
                _ => {
                    s.flush(|c| read(&model, c));
                    check_invariants(&s);
                    let now = rng.next(1000);
                    while let Some(c) = s.pop_due(at(now)) {
                        let t = model
                            .remove(&c.0)
                            .expect("popped a connection with no deadline");
                        assert!(t <= now);
                    }
                    assert!(model.values().all(|&t| t > now), "a due deadline was left");
                }
            }
            let earliest = model.values().min().map(|&t| at(t));
            assert_eq!(s.next_deadline(|c| read(&model, c)), earliest);
        }
    }

    #[test]
    fn touched_connections_count_before_the_flush() {
        let mut s = Schedule::default();
        s.add(h(1));
        s.add(h(2));
        s.flush(|c| Some(at(100 + c.0)));
        assert_eq!(s.next_deadline(|_| None), Some(at(101)));
        // Connection 1 changed: its stale heap entry no longer counts, its new deadline does.
        s.touch(h(1));
        assert_eq!(
            s.next_deadline(|c| (c == h(1)).then(|| at(500))),
            Some(at(102))
        );
        s.flush(|c| (c == h(1)).then(|| at(500)));
        assert_eq!(s.next_deadline(|_| None), Some(at(102)));
        // Connection 2 changed to earlier.
        s.touch(h(2));
        assert_eq!(
            s.next_deadline(|c| (c == h(2)).then(|| at(50))),
            Some(at(50))
        );
        s.flush(|c| (c == h(2)).then(|| at(50)));
        assert_eq!(s.pop_due(at(60)), Some(h(2)));
        assert_eq!(s.pop_due(at(60)), None);
        assert_eq!(s.deadlines(), 1);
    }

    #[test]
    fn ready_connections_take_turns() {
        let mut s = Schedule::default();
        for n in 0..4 {
            s.add(h(n));
        }
        // Connections 0..4 all have data: each sends once before any sends twice.
        let mut order = Vec::new();
        for _ in 0..12 {
            let c = s.next_ready().expect("ready");
            order.push(c.0);
            s.transmitted(c, true);
        }
        assert_eq!(order, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
        // A connection with nothing to send leaves the queue until something happens.
        let c = s.next_ready().expect("ready");
        s.transmitted(c, false);
        let others: Vec<u64> = core::iter::from_fn(|| s.next_ready())
            .map(|c| c.0)
            .collect();
        assert_eq!(others, [1, 2, 3]);
        assert_eq!(s.next_ready(), None);
        s.touch(h(0));
        s.flush(|_| None);
        s.touch(h(0));
        assert_eq!(s.next_ready(), Some(h(0)));
        assert_eq!(
            s.next_ready(),
            None,
            "queued once however often it was woken"
        );
        // A removed connection is never handed out again.
        s.touch(h(3));
        s.remove(h(3));
        assert_eq!(s.next_ready(), None);
    }
}
