//! Connection IDs of removed connections, remembered for a while so that packets still in
//! flight for them (a client's retransmitted Initial, a late 1-RTT packet) do not create a
//! new connection or look like a new peer (RFC 9000 §10.2: a drained connection's IDs stay
//! reserved until its peer can no longer be sending to them).

use alloc::collections::VecDeque;
use core::time::Duration;

use hashbrown::HashMap;
use quic_wire::{ConnectionId, Instant};

/// Recently retired routing entries, bounded in count and in age.
#[derive(Debug)]
pub(crate) struct Tombstones {
    /// When each entry expires, in insertion order (lifetimes are equal, so also in expiry
    /// order); an ID buried again appears twice and the map keeps the later expiry.
    order: VecDeque<(Instant, ConnectionId)>,
    expiry: HashMap<ConnectionId, Instant>,
    lifetime: Duration,
    capacity: usize,
}

impl Tombstones {
    /// Entries live `lifetime`; beyond `capacity` the oldest go first.
    pub(crate) fn new(lifetime: Duration, capacity: usize) -> Self {
        Tombstones {
            order: VecDeque::new(),
            expiry: HashMap::new(),
            lifetime,
            capacity,
        }
    }

    /// Remembers `cid` from `now` on.
    pub(crate) fn bury(&mut self, now: Instant, cid: ConnectionId) {
        if self.capacity == 0 {
            return;
        }
        self.expire(now);
        while self.order.len() >= self.capacity {
            self.pop_oldest();
        }
        let until = now + self.lifetime;
        self.order.push_back((until, cid));
        self.expiry.insert(cid, until);
    }

    /// Whether `cid` belonged to a connection removed less than the lifetime ago.
    pub(crate) fn contains(&mut self, now: Instant, cid: &[u8]) -> bool {
        self.expire(now);
        self.expiry.contains_key(cid)
    }

    /// How many IDs are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.expiry.len()
    }

    fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|&(t, _)| t <= now) {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((t, cid)) = self.order.pop_front() {
            // Only the latest burial of an ID removes it from the map.
            if self.expiry.get(&cid) == Some(&t) {
                self.expiry.remove(&cid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::new(&[b; 8]).unwrap()
    }

    #[test]
    fn entries_expire_after_their_lifetime() {
        let mut t = Tombstones::new(Duration::from_secs(2), 10);
        let t0 = Instant::ZERO;
        t.bury(t0, cid(1));
        t.bury(t0 + Duration::from_secs(1), cid(2));
        assert!(t.contains(t0 + Duration::from_millis(1999), &cid(1)));
        assert!(!t.contains(t0 + Duration::from_secs(2), &cid(1)));
        assert!(t.contains(t0 + Duration::from_secs(2), &cid(2)));
        assert!(!t.contains(t0 + Duration::from_secs(3), &cid(2)));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn capacity_bounds_memory_and_drops_the_oldest() {
        let mut t = Tombstones::new(Duration::from_secs(60), 3);
        for b in 0..10u8 {
            t.bury(Instant::ZERO, cid(b));
        }
        assert_eq!(t.len(), 3);
        assert!(!t.contains(Instant::ZERO, &cid(6)));
        assert!((7..10).all(|b| t.contains(Instant::ZERO, &cid(b))));
    }

    #[test]
    fn burying_again_extends_the_lifetime() {
        let mut t = Tombstones::new(Duration::from_secs(2), 10);
        t.bury(Instant::ZERO, cid(1));
        t.bury(Instant::ZERO + Duration::from_secs(1), cid(1));
        // The first burial's expiry passes; the second keeps the ID.
        assert!(t.contains(Instant::ZERO + Duration::from_millis(2500), &cid(1)));
        assert!(!t.contains(Instant::ZERO + Duration::from_secs(3), &cid(1)));
    }
}
