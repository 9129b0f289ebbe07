//! Receive-side reassembly for one stream, with bounded memory.
//!
//! Chunks are kept in a deque sorted by stream offset, never overlapping, all at or above the
//! read offset. Data given as `Bytes` is kept zero-copy when the piece is at least
//! [`ZERO_COPY_MIN`] bytes long, or when it is the only piece and readable at once; other
//! small pieces are copied (so one-byte frames cannot pin whole datagram buffers), and a small copied piece that continues the chunk before it is
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

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::Bytes;
use quic_wire::{TransportError, TransportErrorCode};

/// Pieces at least this long are kept zero-copy when given as `Bytes`.
pub const ZERO_COPY_MIN: usize = 256;
/// A small copied chunk grows by appending until it reaches this size.
const OWNED_APPEND_MAX: usize = 4096;
/// Bookkeeping bytes counted per buffered chunk when bounding reassembly memory.
pub const CHUNK_OVERHEAD: usize = 64;

/// Received bytes: borrowed (copied if kept) or shared (kept zero-copy when large enough).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Incoming<'a> {
    /// Bytes borrowed from the caller; copied into the buffer.
    Slice(&'a [u8]),
    /// Bytes the caller shares; large pieces are kept without copying.
    Shared(&'a Bytes),
}

impl Incoming<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Incoming::Slice(s) => s,
            Incoming::Shared(b) => b,
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
    /// Buffered chunks by stream offset, sorted, not overlapping, all at or above `read`.
    /// A deque rather than a tree: data mostly arrives in order (a push at the back, a pop
    /// at the front), and the deque keeps its memory, so steady receiving allocates nothing.
    chunks: VecDeque<(u64, Chunk)>,
    /// Everything below has been consumed by the application.
    read: u64,
    /// Bytes held in `chunks`.
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
            chunks: VecDeque::new(),
            read: 0,
            buffered: 0,
            max_chunks: max_chunks.max(1),
        }
    }

    /// Takes over the chunk list of `old` (a freed stream's buffer) if this buffer has
    /// none yet: its memory is kept, its contents dropped.
    pub(crate) fn adopt_storage(&mut self, old: &mut RecvBuffer) {
        if self.chunks.capacity() == 0 {
            old.chunks.clear();
            core::mem::swap(&mut self.chunks, &mut old.chunks);
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
        self.buffered + self.chunks.len() * CHUNK_OVERHEAD
    }

    /// End of the data readable without a gap from the read offset.
    pub(crate) fn contiguous_end(&self) -> u64 {
        let mut end = self.read;
        for (start, c) in &self.chunks {
            if *start != end {
                break;
            }
            end += c.len() as u64;
        }
        end
    }

    /// Whether data is readable at the read offset.
    pub(crate) fn is_readable(&self) -> bool {
        self.chunks.front().is_some_and(|(s, _)| *s == self.read)
    }

    /// Index of the first chunk starting after `offset` with `inclusive` (so chunks
    /// starting at `offset` come before it), or at or after `offset` without.
    fn after(&self, offset: u64, inclusive: bool) -> usize {
        if inclusive {
            self.chunks.partition_point(|(s, _)| *s <= offset)
        } else {
            self.chunks.partition_point(|(s, _)| *s < offset)
        }
    }

    /// Inserts `data` at `offset`, dropping what was already received.
    pub(crate) fn insert(&mut self, offset: u64, data: Incoming<'_>) -> Result<(), TransportError> {
        let bytes = data.as_slice();
        let end = offset.saturating_add(bytes.len() as u64);
        let mut cursor = offset.max(self.read);
        while cursor < end {
            // The chunk holding `cursor`, if any: the last one starting at or before it.
            let next = self.after(cursor, true);
            let covering = next
                .checked_sub(1)
                .and_then(|i| self.chunks.get(i))
                .map(|(s, c)| (*s, *s + c.len() as u64))
                .filter(|&(_, e)| e > cursor);
            if let Some((s, e)) = covering {
                let upto = e.min(end);
                self.check_same(s, cursor, upto, bytes, offset)?;
                cursor = upto;
                continue;
            }
            let next_start = self.chunks.get(next).map_or(end, |(s, _)| (*s).min(end));
            self.put_piece(cursor, next_start, data, offset)?;
            cursor = next_start;
        }
        Ok(())
    }

    /// Checks that the buffered bytes of chunk `chunk_start` over `from..to` equal the
    /// incoming bytes there.
    fn check_same(
        &self,
        chunk_start: u64,
        from: u64,
        to: u64,
        incoming: &[u8],
        incoming_start: u64,
    ) -> Result<(), TransportError> {
        let i = self.after(chunk_start, false);
        let Some((_, chunk)) = self.chunks.get(i).filter(|(s, _)| *s == chunk_start) else {
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

    /// Stores the part `from..to` of the incoming data, which no chunk covers.
    fn put_piece(
        &mut self,
        from: u64,
        to: u64,
        data: Incoming<'_>,
        data_start: u64,
    ) -> Result<(), TransportError> {
        let a = usize::try_from(from - data_start).unwrap_or(usize::MAX);
        let b = usize::try_from(to - data_start).unwrap_or(usize::MAX);
        let len = b.saturating_sub(a);
        if len == 0 {
            return Ok(());
        }
        if let Incoming::Shared(bytes) = data {
            // A small piece is kept zero-copy too when it is readable at once and nothing
            // else is buffered: it pins at most one datagram per stream, and it spares an
            // allocation for the short frames of an in-order transfer.
            let next_to_read = from == self.read && self.chunks.is_empty();
            if len >= ZERO_COPY_MIN || next_to_read {
                if let Some(piece) = bytes.get(a..b).map(|_| bytes.slice(a..b)) {
                    return self.add_chunk(from, Chunk::Shared(piece));
                }
            }
        }
        let Some(piece) = data.as_slice().get(a..b) else {
            return Ok(());
        };
        // Append to the chunk just before when it is a small owned one ending here.
        let before = self.after(from, false).checked_sub(1);
        if let Some((s, Chunk::Owned(v))) = before.and_then(|i| self.chunks.get_mut(i)) {
            if *s + v.len() as u64 == from && v.len() + piece.len() <= OWNED_APPEND_MAX {
                v.extend_from_slice(piece);
                self.buffered += piece.len();
                return Ok(());
            }
        }
        self.add_chunk(from, Chunk::Owned(piece.to_vec()))
    }

    fn add_chunk(&mut self, at: u64, c: Chunk) -> Result<(), TransportError> {
        if self.chunks.len() >= self.max_chunks {
            return Err(FRAGMENTED);
        }
        self.buffered += c.len();
        // Callers only add where no chunk starts; in-order data goes at the back.
        if self.chunks.back().is_none_or(|(s, _)| *s < at) {
            self.chunks.push_back((at, c));
        } else {
            let i = self.after(at, false);
            self.chunks.insert(i, (at, c));
        }
        Ok(())
    }

    /// Takes up to `max` contiguous bytes at the read offset as one chunk, zero-copy.
    pub(crate) fn read_chunk(&mut self, max: usize) -> Option<Bytes> {
        if !self.is_readable() {
            return None;
        }
        let (_, chunk) = self.chunks.pop_front()?;
        let mut bytes = chunk.into_bytes();
        self.buffered -= bytes.len();
        if bytes.len() > max {
            let rest = bytes.split_off(max);
            self.buffered += rest.len();
            self.chunks
                .push_front((self.read + max as u64, Chunk::Shared(rest)));
        }
        self.read += bytes.len() as u64;
        Some(bytes)
    }

    /// The contiguous chunk at the read offset, without consuming it.
    pub(crate) fn peek(&self) -> Option<&[u8]> {
        self.chunks
            .front()
            .filter(|(s, _)| *s == self.read)
            .map(|(_, c)| c.as_slice())
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
        self.chunks.clear();
        self.buffered = 0;
        self.read = self.read.max(to);
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
        r.insert(0, Incoming::Shared(&data)).unwrap();
        let out = r.read_chunk(usize::MAX).unwrap();
        assert_eq!(out.as_ptr(), data.as_ptr(), "same memory, no copy");
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
                let inc = if zero_copy { Incoming::Shared(&piece) } else { Incoming::Slice(&piece) };
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
}
