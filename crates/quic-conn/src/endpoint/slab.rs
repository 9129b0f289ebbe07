//! The endpoint's connections, found by handle without hashing.
//!
//! A [`ConnectionHandle`] names a slot of a vector (its low 32 bits) and which of the
//! connections that used the slot it means (its high 32 bits: the number of connections made
//! before it, modulo 2³²). A lookup is an index and one comparison, and a handle kept after
//! its connection was removed finds nothing, even once its slot holds another connection.
//!
//! Freed slots are reused last-freed first, so a busy endpoint keeps touching the same
//! memory. The connections are also listed in the order they were made, for
//! [`super::Endpoint::handles`].
//!
//! Connections that may have events for [`super::Endpoint::poll_connection_event`] wait in
//! a queue, each at most once, so polling events does not visit every connection.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use super::ConnectionHandle;
use crate::conn::Connection;

impl ConnectionHandle {
    /// The slot this handle names.
    #[inline]
    pub(crate) fn slot(self) -> usize {
        (self.0 & u64::from(u32::MAX)) as usize
    }
}

struct Slot {
    /// The handle of the connection in the slot, or of the last one it held.
    handle: ConnectionHandle,
    /// How many connections were made before this one: its place in [`Conns::order`].
    made: u64,
    conn: Option<Box<Connection>>,
    /// In [`Conns::with_events`].
    queued: bool,
}

/// Connections by handle (see the module docs).
#[derive(Default)]
pub(crate) struct Conns {
    slots: Vec<Slot>,
    /// Empty slots, the last freed at the end.
    free: Vec<u32>,
    len: usize,
    /// Connections made so far.
    made: u64,
    /// Handles in the order their connections were made.
    order: BTreeMap<u64, ConnectionHandle>,
    /// Connections that may have events, each once (`Slot::queued`), and the handles of
    /// removed connections that were still waiting there.
    with_events: VecDeque<ConnectionHandle>,
    /// How many of `with_events` are removed connections: an application that never polls
    /// endpoint-wide events must not make the queue grow with every connection it ever had.
    stale_events: usize,
}

impl Conns {
    /// Stores `conn` and returns its new handle, or `None` when the endpoint already holds
    /// 2³² connections.
    pub(crate) fn insert(&mut self, conn: Connection) -> Option<ConnectionHandle> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Slot {
                    handle: ConnectionHandle(u64::MAX),
                    made: 0,
                    conn: None,
                    queued: false,
                });
                i
            }
        };
        let made = self.made;
        self.made += 1;
        // The serial in the high half tells this connection from the slot's earlier ones.
        let h = ConnectionHandle((made << 32) | u64::from(index));
        let slot = &mut self.slots[index as usize];
        slot.handle = h;
        slot.made = made;
        slot.conn = Some(Box::new(conn));
        slot.queued = false;
        self.len += 1;
        self.order.insert(made, h);
        Some(h)
    }

    /// The connection of `h`, while it exists.
    #[inline]
    pub(crate) fn get(&self, h: ConnectionHandle) -> Option<&Connection> {
        let slot = self.slots.get(h.slot())?;
        if slot.handle != h {
            return None;
        }
        slot.conn.as_deref()
    }

    /// The connection of `h`, while it exists.
    #[inline]
    pub(crate) fn get_mut(&mut self, h: ConnectionHandle) -> Option<&mut Connection> {
        let slot = self.slots.get_mut(h.slot())?;
        if slot.handle != h {
            return None;
        }
        slot.conn.as_deref_mut()
    }

    /// Takes connection `h` out; its slot is free for the next connection.
    pub(crate) fn remove(&mut self, h: ConnectionHandle) -> Option<Box<Connection>> {
        let slot = self.slots.get_mut(h.slot())?;
        if slot.handle != h {
            return None;
        }
        let conn = slot.conn.take()?;
        // A stale entry in `with_events` finds no connection and is dropped when reached,
        // or when stale entries outnumber the live connections (amortized O(1)).
        if core::mem::take(&mut slot.queued) {
            self.stale_events += 1;
        }
        self.order.remove(&slot.made);
        self.len -= 1;
        self.free.push(h.slot() as u32);
        if self.stale_events > self.len.max(64) {
            let slots = &self.slots;
            self.with_events.retain(|&q| {
                slots
                    .get(q.slot())
                    .is_some_and(|s| s.handle == q && s.queued && s.conn.is_some())
            });
            self.stale_events = 0;
        }
        Some(conn)
    }

    /// How many connections there are.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The handles, in the order their connections were made.
    pub(crate) fn handles(&self) -> impl Iterator<Item = ConnectionHandle> + '_ {
        self.order.values().copied()
    }

    /// Notes that connection `h` may have events to poll.
    #[inline]
    pub(crate) fn may_have_events(&mut self, h: ConnectionHandle) {
        let Some(slot) = self.slots.get_mut(h.slot()) else {
            return;
        };
        if slot.handle == h && !slot.queued && slot.conn.is_some() {
            slot.queued = true;
            self.with_events.push_back(h);
        }
    }

    /// The next event of a connection noted by [`Conns::may_have_events`]: a connection
    /// stays first until it has no more, then leaves the queue.
    pub(crate) fn poll_event(&mut self) -> Option<(ConnectionHandle, crate::conn::Event)> {
        while let Some(&h) = self.with_events.front() {
            if let Some(slot) = self.slots.get_mut(h.slot()) {
                if slot.handle == h && slot.queued {
                    if let Some(e) = slot.conn.as_deref_mut().and_then(|c| c.poll_event()) {
                        return Some((h, e));
                    }
                    slot.queued = false;
                } else {
                    self.stale_events = self.stale_events.saturating_sub(1);
                }
            }
            self.with_events.pop_front();
        }
        None
    }

    /// Entries in the queue of connections that may have events (live and stale).
    #[cfg(all(test, feature = "sim"))]
    pub(crate) fn event_queue_len(&self) -> usize {
        self.with_events.len()
    }
}
