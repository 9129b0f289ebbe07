//! The endpoint's routing table: connection ID to connection handle, with the last route
//! taken remembered.
//!
//! Most datagrams an endpoint receives in a row belong to the same connection (a client
//! has one; a busy server gets runs of packets from each flow). The remembered route is
//! checked first, with one comparison of the packet's connection ID against it, before the
//! table is hashed and probed.

use hashbrown::HashMap;
use quic_wire::ConnectionId;

use super::ConnectionHandle;

/// Connection IDs routed to connections, with the last lookup's answer kept.
#[derive(Debug, Default)]
pub(super) struct Routes {
    table: HashMap<ConnectionId, ConnectionHandle>,
    /// The route the last successful [`Routes::route`] took. Always a copy of an entry of
    /// `table`: every change of the table that could touch it clears it.
    last: Option<(ConnectionId, ConnectionHandle)>,
}

impl Routes {
    /// The connection the connection ID `cid` (as read from a packet) routes to.
    #[inline]
    pub(super) fn route(&mut self, cid: &[u8]) -> Option<ConnectionHandle> {
        let id = ConnectionId::new(cid).ok()?;
        if let Some((last, h)) = self.last {
            if last == id {
                return Some(h);
            }
        }
        let h = *self.table.get(&id)?;
        self.last = Some((id, h));
        Some(h)
    }

    /// Whether `cid` routes anywhere.
    pub(super) fn contains(&self, cid: &ConnectionId) -> bool {
        self.table.contains_key(cid)
    }

    /// Routes `cid` to `h` (replacing any route it had).
    pub(super) fn insert(&mut self, cid: ConnectionId, h: ConnectionHandle) {
        if self.last.is_some_and(|(l, _)| l == cid) {
            self.last = None;
        }
        self.table.insert(cid, h);
    }

    /// Stops routing `cid`, if it routes to `h`. Returns whether it did.
    pub(super) fn remove_if(&mut self, cid: &ConnectionId, h: ConnectionHandle) -> bool {
        let hashbrown::hash_map::Entry::Occupied(e) = self.table.entry(*cid) else {
            return false;
        };
        if *e.get() != h {
            return false;
        }
        e.remove();
        if self.last.is_some_and(|(l, _)| l == *cid) {
            self.last = None;
        }
        true
    }

    /// How many connection IDs are routed.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::new(&[b; 8]).expect("cid")
    }

    fn handle(n: u64) -> ConnectionHandle {
        ConnectionHandle(n)
    }

    #[test]
    fn the_remembered_route_follows_every_change_of_the_table() {
        let mut r = Routes::default();
        r.insert(cid(1), handle(1));
        r.insert(cid(2), handle(2));
        assert_eq!(r.route(&[1; 8]), Some(handle(1)));
        // Remembered now; a new route for the same ID must win over the memory.
        r.insert(cid(1), handle(3));
        assert_eq!(r.route(&[1; 8]), Some(handle(3)));
        // Removed while remembered: no route any more.
        assert!(r.remove_if(&cid(1), handle(3)));
        assert_eq!(r.route(&[1; 8]), None);
        assert_eq!(r.route(&[2; 8]), Some(handle(2)));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn a_route_is_removed_only_for_the_connection_it_leads_to() {
        let mut r = Routes::default();
        r.insert(cid(1), handle(1));
        assert_eq!(r.route(&[1; 8]), Some(handle(1)));
        assert!(!r.remove_if(&cid(1), handle(2)));
        assert_eq!(r.route(&[1; 8]), Some(handle(1)));
        assert!(r.contains(&cid(1)));
    }

    #[test]
    fn ids_of_other_lengths_are_told_apart_from_the_remembered_one() {
        let mut r = Routes::default();
        r.insert(cid(1), handle(1));
        assert_eq!(r.route(&[1; 8]), Some(handle(1)));
        // A prefix of the remembered ID, and a longer one: neither is routed.
        assert_eq!(r.route(&[1; 4]), None);
        assert_eq!(r.route(&[1; 9]), None);
        assert_eq!(r.route(&[1; 21]), None);
    }
}
