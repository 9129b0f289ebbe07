//! The live streams by ID, found by indexing rather than hashing.
//!
//! Streams of one type (the two low bits of the ID: initiator and direction) open in ID
//! order (RFC 9000 §2.1, §3.2: a stream opens all lower-numbered streams of its type) and
//! mostly close in about that order too. So each type keeps a window of slots from its
//! oldest live stream to its newest, and a stream's slot is its index minus the window's
//! base: a lookup is a subtraction and a bounds check, and the streams of neighbouring IDs
//! sit next to each other.
//!
//! A window never spans more than [`MAX_SPAN`] slots. When a new stream would stretch it
//! further, the oldest streams (one long-lived stream among thousands of short ones, say)
//! move to a hash map and the window moves on, so memory follows the live streams, not the
//! IDs ever used.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use hashbrown::HashMap;
use quic_wire::{Dir, Side, StreamId};

use crate::stream::Stream;

/// Most slots a window spans: ten times the default concurrent-stream limit, so stragglers
/// are rare, while a peer that keeps one stream open and cycles through others makes a
/// window hold at most 8 KiB of slots (8 bytes each). With a higher limit more streams
/// move behind the window, which costs what a hash map costs anyway.
pub(crate) const MAX_SPAN: u64 = 1024;

/// The streams of one type.
#[derive(Debug, Default)]
struct Window {
    /// The index (ID >> 2) of the first slot.
    base: u64,
    /// From `base` on; the first and the last slot, when there are slots, hold a stream.
    slots: VecDeque<Option<Box<Stream>>>,
}

/// The live streams by ID (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct StreamMap {
    windows: [Window; 4],
    /// Streams the windows moved past; boxed, as it is rarely used and the map lives inline
    /// in every connection.
    behind: Option<Box<HashMap<StreamId, Box<Stream>>>>,
    len: usize,
}

/// A stream's type (which window) and index (ID >> 2).
#[inline]
fn place(id: StreamId) -> (usize, u64) {
    ((id.into_inner() & 3) as usize, id.index())
}

impl StreamMap {
    /// How many streams there are.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The stream `id`, if live.
    #[inline]
    pub(crate) fn get(&self, id: &StreamId) -> Option<&Stream> {
        let (t, index) = place(*id);
        let w = self.windows.get(t)?;
        match index.checked_sub(w.base) {
            Some(i) => w
                .slots
                .get(usize::try_from(i).ok()?)
                .and_then(|s| s.as_deref()),
            None => self.behind.as_ref()?.get(id).map(|s| &**s),
        }
    }

    /// The stream `id`, if live.
    #[inline]
    pub(crate) fn get_mut(&mut self, id: &StreamId) -> Option<&mut Box<Stream>> {
        let (t, index) = place(*id);
        let w = self.windows.get_mut(t)?;
        match index.checked_sub(w.base) {
            Some(i) => w
                .slots
                .get_mut(usize::try_from(i).ok()?)
                .and_then(|s| s.as_mut()),
            None => self.behind.as_mut()?.get_mut(id),
        }
    }

    /// Whether stream `id` is live.
    #[inline]
    pub(crate) fn contains_key(&self, id: &StreamId) -> bool {
        self.get(id).is_some()
    }

    /// Stores stream `id`, returning the stream it replaces, if any.
    pub(crate) fn insert(&mut self, id: StreamId, s: Box<Stream>) -> Option<Box<Stream>> {
        let (t, index) = place(id);
        let w = self.windows.get_mut(t)?;
        // Every stream behind the window has an index below its base, so an empty window
        // only moves forward.
        if w.slots.is_empty() && index >= w.base {
            w.base = index;
        }
        let Some(i) = index.checked_sub(w.base) else {
            // Older than the window: it joins the ones the window moved past.
            let old = self.behind.get_or_insert_default().insert(id, s);
            if old.is_none() {
                self.len += 1;
            }
            return old;
        };
        if i >= MAX_SPAN {
            // Move the window so that it ends at `index`: what falls out goes behind.
            let new_base = index - (MAX_SPAN - 1);
            while w.base < new_base {
                let Some(slot) = w.slots.pop_front() else {
                    break;
                };
                if let (Some(old), Some(old_id)) = (slot, stream_id(t, w.base)) {
                    self.behind.get_or_insert_default().insert(old_id, old);
                }
                w.base += 1;
            }
            trim_front(w);
            if w.slots.is_empty() {
                w.base = index;
            }
        }
        let i = (index - w.base) as usize;
        if i >= w.slots.len() {
            w.slots.resize_with(i + 1, || None);
        }
        let old = w.slots.get_mut(i).and_then(|slot| slot.replace(s));
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Takes stream `id` out.
    pub(crate) fn remove(&mut self, id: &StreamId) -> Option<Box<Stream>> {
        let (t, index) = place(*id);
        let w = self.windows.get_mut(t)?;
        let s = match index.checked_sub(w.base) {
            Some(i) => {
                let i = usize::try_from(i).ok()?;
                let s = w.slots.get_mut(i)?.take()?;
                trim_front(w);
                while w.slots.back().is_some_and(Option::is_none) {
                    w.slots.pop_back();
                }
                if w.slots.is_empty() && w.slots.capacity() > 2 * MAX_SPAN as usize / 8 {
                    // A burst is over: do not keep its slots.
                    w.slots = VecDeque::new();
                }
                s
            }
            None => {
                let behind = self.behind.as_mut()?;
                let s = behind.remove(id)?;
                if behind.is_empty() {
                    self.behind = None;
                }
                s
            }
        };
        self.len -= 1;
        Some(s)
    }

    /// The IDs of the live streams, in no particular order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = StreamId> + '_ {
        let windows = self.windows.iter().enumerate().flat_map(|(t, w)| {
            w.slots
                .iter()
                .zip(w.base..)
                .filter(|(s, _)| s.is_some())
                .filter_map(move |(_, index)| stream_id(t, index))
        });
        windows.chain(self.behind.iter().flat_map(|b| b.keys().copied()))
    }
}

/// Drops the empty slots at the front of `w`, moving its base past them.
fn trim_front(w: &mut Window) {
    while w.slots.front().is_some_and(Option::is_none) {
        w.slots.pop_front();
        w.base += 1;
    }
}

/// The stream of type `t` (the two low bits of its ID: initiator, then direction) and
/// index `index`.
fn stream_id(t: usize, index: u64) -> Option<StreamId> {
    let side = if t & 1 == 0 {
        Side::Client
    } else {
        Side::Server
    };
    let dir = if t & 2 == 0 { Dir::Bi } else { Dir::Uni };
    StreamId::new(side, dir, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    fn stream() -> Box<Stream> {
        Box::new(Stream::new(None, None))
    }

    /// Built from the raw number, not through `stream_id`, so the test checks it.
    fn id(t: u64, index: u64) -> StreamId {
        StreamId::from(quic_wire::VarInt::from_u64(index * 4 + t).expect("id"))
    }

    /// A small deterministic generator.
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

    fn check(m: &StreamMap, model: &BTreeMap<StreamId, ()>) {
        assert_eq!(m.len(), model.len());
        let mut keys: Vec<StreamId> = m.keys().collect();
        keys.sort_unstable();
        let want: Vec<StreamId> = model.keys().copied().collect();
        assert_eq!(keys, want);
        for w in &m.windows {
            assert!(w.slots.len() as u64 <= MAX_SPAN, "window within its span");
            assert!(w.slots.front().is_none_or(Option::is_some), "trimmed front");
            assert!(w.slots.back().is_none_or(Option::is_some), "trimmed back");
        }
    }

    /// Against a model, under the pattern streams follow (mostly opened in order and
    /// closed roughly in order, with stragglers that outlive many later streams) and
    /// random inserts and removals.
    #[test]
    fn behaves_like_a_map_and_stays_within_its_span() {
        let mut m = StreamMap::default();
        let mut model: BTreeMap<StreamId, ()> = BTreeMap::new();
        let mut rng = Lcg(3);
        let mut next = [0u64; 4];
        let mut went_behind = false;
        for step in 0..60_000 {
            let t = rng.next(4);
            match rng.next(10) {
                0..=4 => {
                    let i = next[t as usize];
                    next[t as usize] += 1;
                    let k = id(t, i);
                    assert!(m.insert(k, stream()).is_none());
                    model.insert(k, ());
                }
                5..=7 => {
                    // Close one of the oldest live streams of the type, mostly; now and
                    // then a straggler (every 500th stream) is skipped and lives on.
                    let k = model
                        .keys()
                        .copied()
                        .filter(|k| k.into_inner() & 3 == t && k.index() % 500 != 7)
                        .nth(rng.next(3) as usize);
                    if let Some(k) = k {
                        assert!(m.remove(&k).is_some());
                        model.remove(&k);
                    }
                }
                8 => {
                    // Random lookups of live, closed and unopened IDs.
                    let k = id(t, rng.next(next[t as usize] + 10));
                    assert_eq!(m.contains_key(&k), model.contains_key(&k), "{k:?}");
                    assert_eq!(m.get_mut(&k).is_some(), model.contains_key(&k));
                    assert!(m.remove(&id(t, next[t as usize] + 5)).is_none());
                }
                _ => {
                    // Stragglers close too, long after the streams around them.
                    let n = next[t as usize];
                    if step % 7 == 0 {
                        let k = model.keys().copied().find(|k| {
                            k.into_inner() & 3 == t
                                && k.index() % 500 == 7
                                && k.index() + 2 * MAX_SPAN < n
                        });
                        if let Some(k) = k {
                            assert!(m.remove(&k).is_some());
                            model.remove(&k);
                        }
                    }
                }
            }
            went_behind |= m.behind.is_some();
            if step % 1000 == 0 {
                check(&m, &model);
            }
        }
        check(&m, &model);
        assert!(went_behind, "stragglers moved behind the window");
        for k in model.keys().copied().collect::<Vec<_>>() {
            assert!(m.remove(&k).is_some());
        }
        assert_eq!(m.len(), 0);
        check(&m, &BTreeMap::new());
    }

    /// Replacing a live stream returns the old one and keeps the count.
    #[test]
    fn insert_replaces() {
        let mut m = StreamMap::default();
        let k = id(1, 3);
        assert!(m.insert(k, stream()).is_none());
        assert!(m.insert(k, stream()).is_some());
        assert_eq!(m.len(), 1);
        // An ID far below the window goes behind it, and is found there.
        let far = id(1, 3 + 2 * MAX_SPAN);
        assert!(m.insert(far, stream()).is_none());
        assert!(m.contains_key(&k) && m.contains_key(&far));
        assert!(
            m.insert(k, stream()).is_some(),
            "replaced behind the window"
        );
        assert_eq!(m.len(), 2);
    }
}
