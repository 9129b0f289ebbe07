//! The queue of [`StreamEvent`]s waiting for the application, kept compact.
//!
//! A [`StreamEvent`] is as large as its largest variant, [`StreamEvent::Closed`] with the
//! stream's statistics (over a hundred bytes), while almost every event is a stream ID and
//! at most one number. Queued events are therefore stored as a kind, an ID and one `u64`
//! (24 bytes), and the statistics of closed streams wait in a queue of their own, in the
//! same order as their `Closed` events. The public event is rebuilt when it is taken.

use alloc::collections::VecDeque;
use quic_wire::{StreamId, VarInt};

use crate::stats::StreamStats;
use crate::streams::StreamEvent;
use crate::PendingId;

/// Which [`StreamEvent`] a queued entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Opened,
    Readable,
    Writable,
    /// `x` is the acknowledged offset.
    Acked,
    Finished,
    /// `x` is the error code.
    Reset,
    /// `x` is the error code.
    Stopped,
    /// `x` is the pending handle's number.
    Started,
    /// The statistics are the front of [`EventQueue::closed`].
    Closed,
}

/// One queued event: its kind, its stream and the one number it may carry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: Kind,
    id: StreamId,
    x: u64,
}

/// Events in the order they happened, compactly.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    entries: VecDeque<Entry>,
    /// The statistics of the `Closed` entries, in queue order.
    closed: VecDeque<StreamStats>,
}

impl EventQueue {
    /// Queues `e` after every event queued so far.
    #[inline]
    pub(crate) fn push_back(&mut self, e: StreamEvent) {
        let (kind, id, x) = match e {
            StreamEvent::Opened { id } => (Kind::Opened, id, 0),
            StreamEvent::Readable { id } => (Kind::Readable, id, 0),
            StreamEvent::Writable { id } => (Kind::Writable, id, 0),
            StreamEvent::Acked { id, offset } => (Kind::Acked, id, offset),
            StreamEvent::Finished { id } => (Kind::Finished, id, 0),
            StreamEvent::Reset { id, error_code } => (Kind::Reset, id, error_code.into_inner()),
            StreamEvent::Stopped { id, error_code } => (Kind::Stopped, id, error_code.into_inner()),
            StreamEvent::Started { pending, id } => (Kind::Started, id, pending.0),
            StreamEvent::Closed { id, stats } => {
                self.closed.push_back(stats);
                (Kind::Closed, id, 0)
            }
        };
        self.entries.push_back(Entry { kind, id, x });
    }

    /// Takes the oldest event.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<StreamEvent> {
        let Entry { kind, id, x } = self.entries.pop_front()?;
        // The codes were varints when queued: the clamp never changes them.
        let code = VarInt::from_u64_clamped;
        Some(match kind {
            Kind::Opened => StreamEvent::Opened { id },
            Kind::Readable => StreamEvent::Readable { id },
            Kind::Writable => StreamEvent::Writable { id },
            Kind::Acked => StreamEvent::Acked { id, offset: x },
            Kind::Finished => StreamEvent::Finished { id },
            Kind::Reset => StreamEvent::Reset {
                id,
                error_code: code(x),
            },
            Kind::Stopped => StreamEvent::Stopped {
                id,
                error_code: code(x),
            },
            Kind::Started => StreamEvent::Started {
                pending: PendingId(x),
                id,
            },
            Kind::Closed => StreamEvent::Closed {
                id,
                // Pushed together with the entry; a missing one would be a bug here, and
                // default statistics are the harmless answer to it.
                stats: self.closed.pop_front().unwrap_or_default(),
            },
        })
    }

    /// Whether no event is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many events are queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use quic_wire::{Dir, Instant, Side};

    #[test]
    fn every_event_comes_back_as_it_went_in_and_in_order() {
        let id = |i| StreamId::new(Side::Server, Dir::Bi, i).unwrap();
        let mut stats = StreamStats::default();
        stats.on_sent(700, true, Instant::from_nanos(3));
        stats.on_received(9, Instant::from_nanos(5));
        let mut other = StreamStats::default();
        other.on_sent(1, false, Instant::from_nanos(8));
        let code = VarInt::from_u64((1 << 62) - 1).unwrap();
        let events = [
            StreamEvent::Opened { id: id(0) },
            StreamEvent::Closed { id: id(1), stats },
            StreamEvent::Readable { id: id(2) },
            StreamEvent::Writable { id: id(3) },
            StreamEvent::Acked {
                id: id(4),
                offset: u64::MAX,
            },
            StreamEvent::Finished { id: id(5) },
            StreamEvent::Reset {
                id: id(6),
                error_code: code,
            },
            StreamEvent::Stopped {
                id: id(7),
                error_code: VarInt::from_u32(77),
            },
            StreamEvent::Started {
                pending: PendingId(u64::MAX),
                id: id(8),
            },
            StreamEvent::Closed {
                id: id(9),
                stats: other,
            },
        ];
        let mut q = EventQueue::default();
        assert!(q.is_empty());
        for e in events {
            q.push_back(e);
        }
        assert_eq!(q.len(), events.len());
        let mut out = Vec::new();
        while let Some(e) = q.pop_front() {
            out.push(e);
        }
        assert_eq!(out, events);
        assert!(q.is_empty());
        assert!(q.closed.is_empty());
    }
}
