//! The event queue: events ordered by virtual time, ties broken by insertion order.
//!
//! The sequence number makes the order total, so a run never depends on how a heap
//! happens to arrange equal keys: the same inputs always pop in the same order.

use core::{cmp::Ordering, net::SocketAddr};
use std::collections::BinaryHeap;

use bytes::BytesMut;
use quic_wire::{Ecn, Instant};

use super::LinkId;

/// A datagram travelling through the simulated network.
#[derive(Debug)]
pub(crate) struct Datagram {
    /// The source address as the receiver will see it (after NAT).
    pub(crate) source: SocketAddr,
    /// The destination address the sender wrote.
    pub(crate) destination: SocketAddr,
    /// The ECN codepoint.
    pub(crate) ecn: Ecn,
    /// The payload.
    pub(crate) data: BytesMut,
}

/// Something that happens at a point of virtual time.
#[derive(Debug)]
pub(crate) enum Event {
    /// A datagram reaches the far end of a link.
    Deliver {
        /// The link that carried it.
        link: LinkId,
        /// The receiving address (behind any NAT).
        local: SocketAddr,
        /// When the destination was a NAT's public address: that address, checked again
        /// on arrival because the mapping may have changed in flight.
        via_public: Option<SocketAddr>,
        /// The datagram.
        datagram: Datagram,
    },
    /// A paced datagram leaves its host at its `send_at` time.
    Send {
        /// The sender's own (private) source address.
        source: SocketAddr,
        /// The datagram, with the private source address.
        datagram: Datagram,
    },
    /// A datagram appears at a host without crossing a link (an off-path sender).
    Inject {
        /// The receiving address.
        local: SocketAddr,
        /// The datagram, with the source address to claim.
        datagram: Datagram,
    },
    /// A NAT changes the public address of a private one.
    Rebind {
        /// The host's address behind the NAT.
        private: SocketAddr,
        /// The new public address.
        public: SocketAddr,
    },
}

struct Entry<E> {
    time: Instant,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed, so that the max-heap pops the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .cmp(&self.time)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A min-queue of events keyed by (time, insertion sequence).
pub(crate) struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `time`, after everything already scheduled at that time.
    pub(crate) fn push(&mut self, time: Instant, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, event });
    }

    /// The time of the earliest event.
    pub(crate) fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.time)
    }

    /// Removes and returns the earliest event.
    pub(crate) fn pop(&mut self) -> Option<(Instant, E)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    /// How many events are pending.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = EventQueue::new();
        let t = |n| Instant::from_nanos(n);
        q.push(t(5), "c");
        q.push(t(1), "a");
        q.push(t(5), "d");
        q.push(t(1), "b");
        q.push(t(3), "x");
        let order: std::vec::Vec<_> = core::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "x", "c", "d"]);
    }
}
