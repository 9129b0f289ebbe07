//! Receive-side reassembly for one stream, with bounded memory.
//!
//! Chunks are kept by stream offset, never overlapping, all at or above the read offset:
//! the readable ones (contiguous from the read offset) in a deque, those after a gap in a
//! tree. Data given as `Bytes` is kept zero-copy when the piece is at least
//! [`ZERO_COPY_MIN`] bytes long, or when it is the only readable piece; other small pieces
//! are copied (so one-byte frames cannot pin whole datagram buffers), and a small copied
//! piece that continues the chunk before it is
//! appended to it, so a trickle of tiny in-order frames makes one chunk, not thousands.
//!
//! ## Memory bound
//! Flow control keeps every buffered byte below the advertised limit, so at most `window`
//! bytes are held. What remains is per-chunk overhead, which a peer could inflate by sending
//! many tiny frames separated by gaps: the number of chunks is capped (`max_chunks`), and a
//! peer that exceeds it is closed with PROTOCOL_VIOLATION. That is a documented choice: the
//! RFC has no code for "too fragmented", and legitimate senders fill packets.
//!
//! ## Duplicates
//! Bytes that were already received are dropped. RFC 9000 §2.2: "The data at a given offset
//! MUST NOT change if it is sent multiple times; an endpoint MAY treat receipt of different
//! data at the same offset within a stream as a connection error of type
//! PROTOCOL_VIOLATION." We do, for every byte still buffered (bytes already handed to the
//! application are gone and cannot be compared).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use bytes::Bytes;
use core::ops::Bound;
use quic_wire::{TransportError, TransportErrorCode};

/// Pieces at least this long are kept zero-copy when given as `Bytes`.
pub const ZERO_COPY_MIN: usize = 256;
/// Readable-chunk list entries a freed stream keeps for reuse at most.
const RECYCLED_CHUNKS_MAX: usize = 16;
/// A small copied chunk grows by appending until it reaches this size.
const OWNED_APPEND_MAX: usize = 4096;
/// Bookkeeping bytes counted per buffered chunk when bounding reassembly memory.
pub const CHUNK_OVERHEAD: usize = 64;

/// Received bytes: borrowed (copied if kept) or shared (kept zero-copy when large enough).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Incoming<'a> {
    /// Bytes borrowed from the caller; copied into the buffer.
    Slice(&'a [u8]),
    /// Bytes `start..end` of `whole`, which the caller shares; large pieces are kept without
    /// copying, as slices of `whole` (so no `Bytes` is made for data that gets copied).
    Shared {
        /// The shared buffer the bytes lie in (a packet payload).
        whole: &'a Bytes,
        /// Where the bytes start in `whole`.
        start: usize,
        /// Where they end.
        end: usize,
    },
}

impl<'a> Incoming<'a> {
    /// All of `b`, shared.
    #[cfg(test)]
    pub(crate) fn shared(b: &'a Bytes) -> Self {
        Incoming::Shared {
            whole: b,
            start: 0,
            end: b.len(),
        }
    }

    /// `data` shared, when it lies within `whole`'s memory.
    pub(crate) fn within(whole: &'a Bytes, data: &[u8]) -> Option<Self> {
        let start = (data.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
        let end = start.checked_add(data.len())?;
        (end <= whole.len()).then_some(Incoming::Shared { whole, start, end })
    }

    fn as_slice(&self) -> &[u8] {
        match *self {
            Incoming::Slice(s) => s,
            Incoming::Shared { whole, start, end } => whole.get(start..end).unwrap_or(&[]),
        }
    }
}

#[derive(Debug)]
enum Chunk {
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl Chunk {
    fn as_slice(&self) -> &[u8] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(b) => b,
        }
    }
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn into_bytes(self) -> Bytes {
        match self {
            Chunk::Owned(v) => Bytes::from(v),
            Chunk::Shared(b) => b,
        }
    }
}

/// Out-of-order reassembly for one stream.
#[derive(Debug)]
pub(crate) struct RecvBuffer {
    /// The readable chunks: contiguous from `read` to `ready_end`, in order. A deque: data
    /// mostly arrives in order (a push at the back) and is read in order (a pop at the
    /// front), and the deque keeps its memory, so steady receiving allocates nothing.
    ready: VecDeque<(u64, Chunk)>,
    /// End of the readable chunks (`read` when there are none).
    ready_end: u64,
    /// Chunks after a gap, by stream offset, not overlapping, all starting after
    /// `ready_end`. A tree: out-of-order data may land anywhere, and a peer must not be able
    /// to make an insertion cost more than O(log n).
    later: BTreeMap<u64, Chunk>,
    /// Everything below has been consumed by the application.
    read: u64,
    /// Bytes held in `ready` and `later`.
    buffered: usize,
    max_chunks: usize,
}

const MISMATCH: TransportError = TransportError::new(
    TransportErrorCode::PROTOCOL_VIOLATION,
    "stream data changed on retransmission",
);
const FRAGMENTED: TransportError = TransportError::new(
    TransportErrorCode::PROTOCOL_VIOLATION,
    "stream data too fragmented to buffer",
);

impl RecvBuffer {
    /// An empty buffer holding at most `max_chunks` separate chunks.
    pub(crate) fn new(max_chunks: usize) -> Self {
        RecvBuffer {
            ready: VecDeque::new(),
            ready_end: 0,
            later: BTreeMap::new(),
            read: 0,
            buffered: 0,
            max_chunks: max_chunks.max(1),
        }
    }

    /// Takes over the readable-chunk list of `old` (a freed stream's buffer) if this
    /// buffer has none yet: its memory is kept, its contents dropped.
    pub(crate) fn adopt_storage(&mut self, old: &mut RecvBuffer) {
        if self.ready.capacity() == 0 {
            old.ready.clear();
            core::mem::swap(&mut self.ready, &mut old.ready);
        }
    }

    /// Drops everything, keeping the readable-chunk list's memory only when it is small
    /// (a freed stream kept for reuse must not hold what a burst once needed).
    pub(crate) fn release(&mut self) {
        self.discard_all(self.read);
        if self.ready.capacity() > RECYCLED_CHUNKS_MAX {
            self.ready = VecDeque::new();
        }
    }

    /// Empties the buffer for a new stream holding at most `max_chunks` chunks, keeping the
    /// readable-chunk list's memory.
    pub(crate) fn renew(&mut self, max_chunks: usize) {
        self.ready.clear();
        self.clear_later();
        self.ready_end = 0;
        self.read = 0;
        self.buffered = 0;
        self.max_chunks = max_chunks.max(1);
    }

    /// Empties the out-of-order chunks. Clearing a B-tree walks it even when it is empty,
    /// and it almost always is (every freed or renewed stream comes here).
    #[inline]
    fn clear_later(&mut self) {
        if !self.later.is_empty() {
            self.later.clear();
        }
    }

    /// Changes the chunk cap (the window it derives from was tuned).
    pub(crate) fn set_max_chunks(&mut self, max_chunks: usize) {
        self.max_chunks = max_chunks.max(1);
    }

    /// Offset up to which the application has consumed.
    pub(crate) fn read_offset(&self) -> u64 {
        self.read
    }

    /// Bytes currently buffered.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Memory charged to this buffer: buffered bytes plus per-chunk overhead.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> usize {
        self.buffered + self.chunk_count() * CHUNK_OVERHEAD
    }

    fn chunk_count(&self) -> usize {
        self.ready.len() + self.later.len()
    }

    /// End of the data readable without a gap from the read offset.
    pub(crate) fn contiguous_end(&self) -> u64 {
        self.ready_end
    }

    /// Whether data is readable at the read offset.
    pub(crate) fn is_readable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Inserts `data` at `offset`, dropping what was already received.
    pub(crate) fn insert(&mut self, offset: u64, data: Incoming<'_>) -> Result<(), TransportError> {
        let bytes = data.as_slice();
        let end = offset.saturating_add(bytes.len() as u64);
        let mut cursor = offset.max(self.read);
        // Each round moves `cursor` forward.
        while cursor < end {
            if cursor < self.ready_end {
                // Within the readable chunks: compare with what is there.
                let i = self
                    .ready
                    .partition_point(|(s, _)| *s <= cursor)
                    .saturating_sub(1);
                let Some((s, c)) = self.ready.get(i) else {
                    return Ok(());
                };
                let (s, e) = (*s, *s + c.len() as u64);
                let upto = e.min(end);
                if upto <= cursor {
                    return Ok(()); // Cannot happen: the readable chunks are contiguous.
                }
                let old = slice(c.as_slice(), cursor - s, upto - s);
                let new = slice(bytes, cursor - offset, upto - offset);
                if old != new {
                    return Err(MISMATCH);
                }
                cursor = upto;
                continue;
            }
            let first_later = self.later.keys().next().copied();
            if cursor == self.ready_end && first_later.is_none_or(|f| f > cursor) {
                // Continues the readable data: append, then take in what it joins.
                let to = first_later.map_or(end, |f| f.min(end));
                self.put_ready(cursor, to, data, offset)?;
                cursor = to;
                self.absorb();
                continue;
            }
            // After a gap: the chunk holding `cursor`, if any, is the last one starting at or
            // before it.
            let covering = self
                .later
                .range(..=cursor)
                .next_back()
                .map(|(&s, c)| (s, s + c.len() as u64))
                .filter(|&(_, e)| e > cursor);
            if let Some((s, e)) = covering {
                let upto = e.min(end);
                self.check_same(s, cursor, upto, bytes, offset)?;
                cursor = upto;
                continue;
            }
            let next_start = self
                .later
                .range((Bound::Excluded(cursor), Bound::Unbounded))
                .next()
                .map_or(end, |(&s, _)| s.min(end));
            self.put_later(cursor, next_start, data, offset)?;
            cursor = next_start;
        }
        Ok(())
    }

    /// Moves the chunks of `later` that now continue the readable data into `ready`.
    fn absorb(&mut self) {
        while let Some(entry) = self.later.first_entry() {
            if *entry.key() != self.ready_end {
                break;
            }
            let (at, c) = entry.remove_entry();
            self.ready_end = at + c.len() as u64;
            self.ready.push_back((at, c));
        }
    }

    /// Checks that the buffered bytes of chunk `chunk_start` (in `later`) over `from..to`
    /// equal the incoming bytes there.
    fn check_same(
        &self,
        chunk_start: u64,
        from: u64,
        to: u64,
        incoming: &[u8],
        incoming_start: u64,
    ) -> Result<(), TransportError> {
        let Some(chunk) = self.later.get(&chunk_start) else {
            return Ok(());
        };
        // Offsets lie within both the chunk and the incoming data by construction.
        let old = slice(chunk.as_slice(), from - chunk_start, to - chunk_start);
        let new = slice(incoming, from - incoming_start, to - incoming_start);
        if old == new {
            Ok(())
        } else {
            Err(MISMATCH)
        }
    }

    /// The part `from..to` of the incoming data as a chunk of its own: zero-copy when given
    /// as `Bytes` and large enough (or `small_shared`), copied otherwise. `None` when empty.
    fn piece(
        from: u64,
        to: u64,
        data: Incoming<'_>,
        data_start: u64,
        small_shared: bool,
    ) -> Option<Chunk> {
        let a = usize::try_from(from - data_start).unwrap_or(usize::MAX);
        let b = usize::try_from(to - data_start).unwrap_or(usize::MAX);
        if b <= a {
            return None;
        }
        if let Incoming::Shared { whole, start, end } = data {
            if (b - a >= ZERO_COPY_MIN || small_shared) && b <= end - start {
                return Some(Chunk::Shared(whole.slice(start + a..start + b)));
            }
        }
        data.as_slice().get(a..b).map(|p| Chunk::Owned(p.to_vec()))
    }

    /// Appends the part `from..to` (starting at `ready_end`) to the readable chunks.
    fn put_ready(
        &mut self,
        from: u64,
        to: u64,
        data: Incoming<'_>,
        data_start: u64,
    ) -> Result<(), TransportError> {
        let len = usize::try_from(to - from).unwrap_or(usize::MAX);
        // A small copied piece grows the small copied chunk it continues.
        if let (Some((_, Chunk::Owned(v))), Some(p)) = (
            self.ready.back_mut(),
            data.as_slice()
                .get(usize::try_from(from - data_start).unwrap_or(usize::MAX)..)
                .and_then(|rest| rest.get(..len)),
        ) {
            if len < ZERO_COPY_MIN && v.len() + len <= OWNED_APPEND_MAX {
                v.extend_from_slice(p);
                self.buffered += len;
                self.ready_end = to;
                return Ok(());
            }
        }
        // A small piece is kept zero-copy too when it is the only readable data: it pins at
        // most one datagram per stream, and spares an allocation for the short frames of
        // an in-order transfer.
        let alone = self.ready.is_empty();
        let Some(c) = Self::piece(from, to, data, data_start, alone) else {
            return Ok(());
        };
        if self.chunk_count() >= self.max_chunks {
            return Err(FRAGMENTED);
        }
        self.buffered += c.len();
        self.ready_end = to;
        self.ready.push_back((from, c));
        Ok(())
    }

    /// Stores the part `from..to` (after a gap) in `later`; no chunk covers it.
    fn put_later(
        &mut self,
        from: u64,
        to: u64,
        data: Incoming<'_>,
        data_start: u64,
    ) -> Result<(), TransportError> {
        let len = usize::try_from(to - from).unwrap_or(usize::MAX);
        let a = usize::try_from(from - data_start).unwrap_or(usize::MAX);
        let small = data.as_slice().get(a..).and_then(|r| r.get(..len));
        // Append to the chunk just before when it is a small owned one ending here.
        if let (Some((&s, Chunk::Owned(v))), Some(p)) =
            (self.later.range_mut(..from).next_back(), small)
        {
            if len < ZERO_COPY_MIN
                && s + v.len() as u64 == from
                && v.len() + len <= OWNED_APPEND_MAX
            {
                v.extend_from_slice(p);
                self.buffered += len;
                return Ok(());
            }
        }
        let Some(c) = Self::piece(from, to, data, data_start, false) else {
            return Ok(());
        };
        if self.chunk_count() >= self.max_chunks {
            return Err(FRAGMENTED);
        }
        self.buffered += c.len();
        self.later.insert(from, c);
        Ok(())
    }

    /// Takes up to `max` contiguous bytes at the read offset as one chunk, zero-copy.
    pub(crate) fn read_chunk(&mut self, max: usize) -> Option<Bytes> {
        let (_, chunk) = self.ready.pop_front()?;
        let mut bytes = chunk.into_bytes();
        self.buffered -= bytes.len();
        if bytes.len() > max {
            let rest = bytes.split_off(max);
            self.buffered += rest.len();
            self.ready
                .push_front((self.read + max as u64, Chunk::Shared(rest)));
        }
        self.read += bytes.len() as u64;
        Some(bytes)
    }

    /// The contiguous chunk at the read offset, without consuming it.
    pub(crate) fn peek(&self) -> Option<&[u8]> {
        self.ready.front().map(|(_, c)| c.as_slice())
    }

    /// Copies contiguous bytes into `buf`; returns how many.
    pub(crate) fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some(chunk) = self.read_chunk(buf.len() - n) else {
                break;
            };
            let dst = buf.get_mut(n..n + chunk.len());
            if let Some(dst) = dst {
                dst.copy_from_slice(&chunk);
            }
            n += chunk.len();
        }
        n
    }

    /// Drops up to `n` contiguous bytes at the read offset; returns how many.
    pub(crate) fn consume(&mut self, n: usize) -> usize {
        let mut done = 0;
        while done < n {
            let Some(chunk) = self.read_chunk(n - done) else {
                break;
            };
            done += chunk.len();
        }
        done
    }

    /// Drops everything buffered and moves the read offset to `to` (the application stopped
    /// reading or the stream was reset). Later data below `to` is ignored.
    pub(crate) fn discard_all(&mut self, to: u64) {
        self.ready.clear();
        self.clear_later();
        self.buffered = 0;
        self.read = self.read.max(to);
        self.ready_end = self.read;
    }
}

/// `s[from..to]`, empty when out of range (never panics).
fn slice(s: &[u8], from: u64, to: u64) -> &[u8] {
    let from = usize::try_from(from).unwrap_or(usize::MAX);
    let to = usize::try_from(to).unwrap_or(usize::MAX);
    s.get(from..to).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;

    #[test]
    fn out_of_order_pieces_are_reassembled() {
        let mut r = RecvBuffer::new(16);
        r.insert(5, Incoming::Slice(b"fghij")).unwrap();
        assert!(!r.is_readable());
        r.insert(0, Incoming::Slice(b"abcde")).unwrap();
        assert_eq!(r.contiguous_end(), 10);
        let mut out = [0u8; 16];
        assert_eq!(r.read_into(&mut out), 10);
        assert_eq!(&out[..10], b"abcdefghij");
    }

    #[test]
    fn overlapping_retransmission_with_other_bytes_is_a_protocol_violation() {
        let mut r = RecvBuffer::new(16);
        r.insert(0, Incoming::Slice(b"hello")).unwrap();
        r.insert(3, Incoming::Slice(b"lo world")).unwrap();
        let e = r.insert(4, Incoming::Slice(b"X")).unwrap_err();
        assert_eq!(e.code, TransportErrorCode::PROTOCOL_VIOLATION);
        assert_eq!(r.contiguous_end(), 11);
    }

    #[test]
    fn large_shared_pieces_are_kept_without_copying() {
        let mut r = RecvBuffer::new(16);
        let data = Bytes::from(vec![9u8; 1000]);
        r.insert(0, Incoming::shared(&data)).unwrap();
        let out = r.read_chunk(usize::MAX).unwrap();
        assert_eq!(out.as_ptr(), data.as_ptr(), "same memory, no copy");
    }

    #[test]
    fn data_within_a_shared_payload_is_kept_as_its_slice() {
        // A payload with a 300-byte piece of stream data at 100..400, then a small one.
        let payload = Bytes::from((0..500u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let mut r = RecvBuffer::new(16);
        let big = Incoming::within(&payload, &payload[100..400]).unwrap();
        r.insert(0, big).unwrap();
        // Bytes outside the payload are not "within" it.
        assert!(Incoming::within(&payload, &[1, 2, 3]).is_none());
        let out = r.read_chunk(usize::MAX).unwrap();
        assert_eq!(out, payload.slice(100..400));
        assert_eq!(
            out.as_ptr(),
            payload[100..].as_ptr(),
            "same memory, no copy"
        );
        // A small piece that is not alone is copied, whatever it was given as.
        r.insert(300, Incoming::Slice(&[7; 10])).unwrap();
        let small = Incoming::within(&payload, &payload[450..460]).unwrap();
        r.insert(310, small).unwrap();
        let out = r.read_chunk(usize::MAX).unwrap();
        assert_eq!(&out[..10], &[7; 10]);
        assert_eq!(&out[10..], &payload[450..460]);
    }

    #[test]
    fn tiny_in_order_frames_share_one_chunk() {
        let mut r = RecvBuffer::new(4);
        for i in 0..1000u64 {
            r.insert(i, Incoming::Slice(&[i as u8])).unwrap();
        }
        assert_eq!(r.contiguous_end(), 1000);
        assert!(r.memory() < 1000 + 2 * CHUNK_OVERHEAD);
    }

    #[test]
    fn fragmentation_past_the_chunk_cap_is_refused() {
        let mut r = RecvBuffer::new(4);
        for i in 0..4u64 {
            r.insert(i * 2, Incoming::Slice(b"x")).unwrap();
        }
        let e = r.insert(100, Incoming::Slice(b"x")).unwrap_err();
        assert_eq!(e.code, TransportErrorCode::PROTOCOL_VIOLATION);
    }

    #[test]
    fn partial_consumption_leaves_the_rest() {
        let mut r = RecvBuffer::new(4);
        r.insert(0, Incoming::Slice(b"abcdef")).unwrap();
        assert_eq!(r.consume(2), 2);
        assert_eq!(r.peek(), Some(&b"cdef"[..]));
        assert_eq!(r.read_chunk(3).as_deref(), Some(&b"cde"[..]));
        assert_eq!(r.read_offset(), 5);
    }

    proptest! {
        /// Random chunking, order and duplication of a byte string give it back exactly,
        /// and memory stays within the window plus the chunk overhead bound.
        #[test]
        fn reassembly_reconstructs_any_chunking(
            len in 1usize..3000,
            cuts in prop::collection::vec((0usize..3000, 1usize..700, any::<bool>()), 1..80),
            seed in any::<u64>(),
            read_every in 1usize..10,
        ) {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 + (i >> 3)) as u8).collect();
            let shared = Bytes::from(data.clone());
            // Pieces: the random ones plus a full cover in order, then shuffled.
            let mut pieces: Vec<(usize, usize, bool)> = cuts
                .into_iter()
                .map(|(s, l, z)| (s % len, (s % len + l).min(len), z))
                .collect();
            let mut at = 0;
            while at < len {
                let e = (at + 1 + (seed as usize % 500)).min(len);
                pieces.push((at, e, at % 2 == 0));
                at = e;
            }
            let mut rng = seed | 1;
            for i in (1..pieces.len()).rev() {
                rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
                pieces.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            let max_chunks = 4096;
            let mut r = RecvBuffer::new(max_chunks);
            let mut out = Vec::new();
            for (i, (s, e, zero_copy)) in pieces.into_iter().enumerate() {
                let piece = shared.slice(s..e);
                let inc = if zero_copy { Incoming::shared(&piece) } else { Incoming::Slice(&piece) };
                r.insert(s as u64, inc).unwrap();
                prop_assert!(r.buffered() <= len);
                prop_assert!(r.memory() <= len + max_chunks * CHUNK_OVERHEAD);
                if i % read_every == 0 {
                    let mut buf = [0u8; 97];
                    let n = r.read_into(&mut buf);
                    out.extend_from_slice(&buf[..n]);
                }
            }
            while let Some(c) = r.read_chunk(usize::MAX) {
                out.extend_from_slice(&c);
            }
            prop_assert_eq!(out, data);
            prop_assert_eq!(r.buffered(), 0);
        }
    }

    #[test]
    fn pieces_in_any_order_end_up_readable_in_order() {
        // Every other 10-byte piece first, from the middle outwards, then the gaps: the
        // data after a gap waits in the tree and joins the readable deque when the gap
        // before it fills.
        let data: Vec<u8> = (0..4000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut r = RecvBuffer::new(1000);
        let pieces: Vec<usize> = (0..400).collect();
        let mut order: Vec<usize> = pieces.iter().copied().filter(|p| p % 2 == 1).collect();
        order.sort_by_key(|&p| (p as i64 - 200).abs());
        order.extend(pieces.iter().copied().filter(|p| p % 2 == 0).rev());
        for (n, &p) in order.iter().enumerate() {
            let at = p * 10;
            r.insert(at as u64, Incoming::Slice(&data[at..at + 10]))
                .unwrap();
            if n + 1 < order.len() {
                assert!(r.contiguous_end() < 4000);
            }
        }
        assert_eq!(r.contiguous_end(), 4000);
        assert!(r.later.is_empty());
        let mut out = vec![0u8; 4000];
        assert_eq!(r.read_into(&mut out), 4000);
        assert_eq!(out, data);
        assert_eq!(r.buffered(), 0);
    }
}
