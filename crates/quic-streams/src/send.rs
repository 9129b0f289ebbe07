//! The send buffer of one stream: data the application wrote, kept until acknowledged.
//!
//! Two ways in, one storage:
//! - copying ([`SendBuffer::write_copy`]): bytes are appended to owned segments of up to
//!   [`SEGMENT_SIZE`] bytes; the write is complete as soon as it returns;
//! - zero-copy ([`SendBuffer::write_shared`]): the caller's `Bytes` is kept as a segment
//!   of its own and released once every byte of it is acknowledged.
//!
//! Offsets below `acked_base` were acknowledged and their memory released. Above it, the
//! buffer tracks which ranges were acknowledged out of order and which were declared lost
//! and wait for retransmission; new data is sent from `sent`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::Bytes;
use core::ops::Range;
use quic_wire::codec::{BufferTooSmall, Writer};

use crate::ranges::RangeSet;

/// Largest owned segment that copying writes append to.
pub(crate) const SEGMENT_SIZE: usize = 16 * 1024;

/// Segments released by acknowledged data, kept for the next copying writes of any stream
/// of the connection, so steady sending (full-size segments) and request/response churn
/// (small ones) allocate nothing. Holds at most [`SegmentPool::MAX`] full-size segments and
/// smaller ones of [`SegmentPool::SMALL_BYTES`] in all; the rest are freed.
#[derive(Debug, Default)]
pub(crate) struct SegmentPool {
    /// Segments with room for [`SEGMENT_SIZE`] bytes.
    free: Vec<Vec<u8>>,
    /// Smaller segments (first writes of short streams).
    small: Vec<Vec<u8>>,
    /// The capacity of the segments in `small`, together.
    small_bytes: usize,
}

impl SegmentPool {
    /// Full-size segments kept at most (128 KiB per connection).
    pub(crate) const MAX: usize = 8;
    /// The most memory kept in smaller segments: as much as the full-size ones hold at
    /// most, which covers the first writes of many short streams in flight at once.
    pub(crate) const SMALL_BYTES: usize = Self::MAX * SEGMENT_SIZE;

    /// An empty segment with room for [`SEGMENT_SIZE`] bytes.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(SEGMENT_SIZE))
    }

    /// An empty segment with room for at least `len` (< [`SEGMENT_SIZE`]) bytes.
    pub(crate) fn take_small(&mut self, len: usize) -> Vec<u8> {
        if let Some(v) = self.small.pop() {
            if v.capacity() >= len {
                self.small_bytes -= v.capacity();
                return v;
            }
            self.small.push(v);
        }
        Vec::with_capacity(len)
    }

    /// Takes back a released segment, when the pool has room for its kind.
    pub(crate) fn give(&mut self, mut v: Vec<u8>) {
        let cap = v.capacity();
        if cap == SEGMENT_SIZE {
            if self.free.len() < Self::MAX {
                if self.free.capacity() == 0 {
                    self.free.reserve_exact(Self::MAX);
                }
                v.clear();
                self.free.push(v);
            }
        } else if (SMALL_POOLED_MIN..SEGMENT_SIZE).contains(&cap)
            && self.small_bytes + cap <= Self::SMALL_BYTES
        {
            v.clear();
            self.small_bytes += cap;
            self.small.push(v);
        }
    }

    /// Segments held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.free.len() + self.small.len()
    }
}

/// Smaller segments are not worth keeping.
const SMALL_POOLED_MIN: usize = 256;

#[derive(Debug)]
enum Segment {
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl Segment {
    fn as_slice(&self) -> &[u8] {
        match self {
            Segment::Owned(v) => v,
            Segment::Shared(b) => b,
        }
    }
}

/// Written data of one stream, from the lowest unacknowledged offset on.
#[derive(Debug, Default)]
pub(crate) struct SendBuffer {
    /// Segments with the stream offset of their first byte, in order and contiguous.
    segs: VecDeque<(u64, Segment)>,
    /// Everything below was acknowledged and released.
    acked_base: u64,
    /// End of the written data.
    written: u64,
    /// Everything below has been sent at least once.
    sent: u64,
    /// Acknowledged ranges at or above `acked_base`.
    acked: RangeSet,
    /// Ranges declared lost and not acknowledged since, waiting to be sent again.
    lost: RangeSet,
    /// The application finished the stream: the final size is `written`.
    fin: bool,
    fin_sent: bool,
    fin_lost: bool,
    fin_acked: bool,
}

impl SendBuffer {
    /// Bytes held in memory (written and not yet acknowledged in order).
    pub(crate) fn held(&self) -> u64 {
        self.written - self.acked_base
    }

    /// End of the written data (the final size once finished).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Lowest offset not yet acknowledged.
    pub(crate) fn acked_base(&self) -> u64 {
        self.acked_base
    }

    /// Everything below has been sent at least once.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether the application finished the stream.
    pub(crate) fn is_finished(&self) -> bool {
        self.fin
    }

    /// Appends a copy of `data`; the caller has checked the buffer room. Full-size
    /// segments come from `pool` when it has one, so a stream that keeps writing reuses
    /// the memory its acknowledged data released instead of allocating.
    pub(crate) fn write_copy(&mut self, data: &[u8], pool: &mut SegmentPool) {
        let mut rest = data;
        while !rest.is_empty() {
            let tail = match self.segs.back_mut() {
                Some((_, Segment::Owned(v))) if v.len() < SEGMENT_SIZE => v,
                last => {
                    // Small first writes get a segment of their size (a short message
                    // costs little); a stream past its first full segment is streaming,
                    // and gets full ones.
                    let streaming = matches!(last, Some((_, Segment::Owned(v))) if v.capacity() >= SEGMENT_SIZE);
                    let seg = if streaming || rest.len() >= SEGMENT_SIZE {
                        pool.take()
                    } else {
                        pool.take_small(rest.len())
                    };
                    self.segs.push_back((self.written, Segment::Owned(seg)));
                    match self.segs.back_mut() {
                        Some((_, Segment::Owned(v))) => v,
                        // Just pushed an owned segment.
                        _ => return,
                    }
                }
            };
            let n = rest.len().min(SEGMENT_SIZE - tail.len());
            let (now, later) = rest.split_at(n);
            if tail.capacity() - tail.len() < n {
                // Grow a small segment geometrically, never past the full size.
                let want = (tail.capacity() * 2).max(tail.len() + n).min(SEGMENT_SIZE);
                tail.reserve_exact(want - tail.len());
            }
            tail.extend_from_slice(now);
            self.written += n as u64;
            rest = later;
        }
    }

    /// Takes over the segment list of `old` (a freed stream's buffer) if this buffer has
    /// none yet: its memory is kept, its contents dropped.
    pub(crate) fn adopt_storage(&mut self, old: &mut SendBuffer) {
        if self.segs.capacity() == 0 {
            old.segs.clear();
            core::mem::swap(&mut self.segs, &mut old.segs);
        }
    }

    /// Keeps `data` itself as a segment.
    pub(crate) fn write_shared(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let len = data.len() as u64;
        self.segs.push_back((self.written, Segment::Shared(data)));
        self.written += len;
    }

    /// Marks the end of the stream at the current written offset.
    pub(crate) fn finish(&mut self) {
        self.fin = true;
    }

    /// The first range waiting for retransmission, if any.
    pub(crate) fn first_lost(&self) -> Option<Range<u64>> {
        self.lost.first()
    }

    /// Whether a FIN must be (re)sent on its own: the FIN was requested and not yet sent or
    /// lost, and there is no data left to carry it.
    pub(crate) fn fin_pending(&self) -> bool {
        self.fin && !self.fin_acked && (!self.fin_sent || self.fin_lost)
    }

    /// Whether anything is waiting to be sent: lost ranges, new data, or a FIN.
    #[cfg(test)]
    pub(crate) fn has_pending(&self) -> bool {
        !self.lost.is_empty() || self.sent < self.written || self.fin_pending()
    }

    /// Records that `range` went out in a frame (with `fin` when the frame carried FIN).
    pub(crate) fn on_sent(&mut self, range: Range<u64>, fin: bool) {
        self.lost.remove(range.clone());
        if range.end > self.sent {
            self.sent = range.end;
        }
        if fin {
            self.fin_sent = true;
            self.fin_lost = false;
        }
    }

    /// Records an acknowledgement; returns whether `acked_base` moved. Released full-size
    /// segments go back to `pool`.
    pub(crate) fn on_acked(
        &mut self,
        range: Range<u64>,
        fin: bool,
        pool: &mut SegmentPool,
    ) -> bool {
        if fin {
            self.fin_acked = true;
            self.fin_lost = false;
        }
        let start = range.start.max(self.acked_base);
        if start >= range.end {
            return false;
        }
        self.lost.remove(start..range.end);
        let new_base = if start == self.acked_base {
            // In order (the usual case): the base moves to the end of the range and on
            // through whatever was acknowledged out of order right after it.
            self.acked.contiguous_end(range.end).unwrap_or(range.end)
        } else {
            self.acked.insert(start..range.end);
            return false;
        };
        self.acked.remove_below(new_base);
        self.acked_base = new_base;
        while let Some((start, seg)) = self.segs.front() {
            if start + seg.as_slice().len() as u64 > new_base {
                break;
            }
            if let Some((_, Segment::Owned(v))) = self.segs.pop_front() {
                pool.give(v);
            }
        }
        true
    }

    /// Records a loss: the parts of `range` not acknowledged since will be sent again.
    /// Returns the number of bytes newly queued for retransmission.
    pub(crate) fn on_lost(&mut self, range: Range<u64>, fin: bool) -> u64 {
        if fin && !self.fin_acked {
            self.fin_lost = true;
        }
        let start = range.start.max(self.acked_base);
        let end = range.end.min(self.sent);
        if start >= end {
            return 0;
        }
        let mut add = RangeSet::new();
        add.insert(start..end);
        for a in self.acked.iter() {
            if a.start >= end {
                break;
            }
            add.remove(a);
        }
        let mut n = 0;
        for r in add.iter() {
            n += r.end - r.start;
            self.lost.insert(r);
        }
        n
    }

    /// Whether all data and the FIN were acknowledged.
    pub(crate) fn all_acked(&self) -> bool {
        self.fin && self.fin_acked && self.acked_base == self.written
    }

    /// Releases every byte, keeping the segment list's memory only when it is small (a
    /// freed stream kept for reuse must not hold what a large transfer once needed).
    pub(crate) fn release(&mut self) {
        self.clear();
        if self.segs.capacity() > 16 {
            self.segs = VecDeque::new();
        }
    }

    /// Empties the buffer for a new stream, keeping the segment list's memory.
    pub(crate) fn renew(&mut self) {
        self.clear();
        self.acked_base = 0;
        self.written = 0;
        self.sent = 0;
        self.fin = false;
        self.fin_sent = false;
        self.fin_lost = false;
        self.fin_acked = false;
    }

    /// Releases every byte: the stream was reset.
    pub(crate) fn clear(&mut self) {
        self.segs.clear();
        self.lost = RangeSet::new();
        self.acked = RangeSet::new();
    }

    /// The index of the segment holding `offset`: the last one starting at or before it
    /// (0 when there is none). Segments are mostly full, so the index is first guessed
    /// from the first segment's start and checked; a binary search finds it otherwise.
    fn segment_at(&self, offset: u64) -> usize {
        if let Some(&(first, _)) = self.segs.front() {
            let guess = usize::try_from(offset.saturating_sub(first) / SEGMENT_SIZE as u64)
                .unwrap_or(usize::MAX);
            if let Some(&(start, _)) = self.segs.get(guess) {
                let next_after = self
                    .segs
                    .get(guess.saturating_add(1))
                    .is_none_or(|&(next, _)| next > offset);
                if start <= offset && next_after {
                    return guess;
                }
            }
        }
        self.segs
            .partition_point(|(s, _)| *s <= offset)
            .saturating_sub(1)
    }

    /// Copies `len` bytes from `offset` into `w`. The range must lie within what was
    /// written and not yet released; otherwise nothing is written and `Err` is returned.
    pub(crate) fn copy_out(
        &self,
        offset: u64,
        len: usize,
        w: &mut Writer<'_>,
    ) -> Result<(), BufferTooSmall> {
        if offset < self.acked_base || offset + len as u64 > self.written || w.remaining() < len {
            return Err(BufferTooSmall);
        }
        let mut i = self.segment_at(offset);
        let mut pos = offset;
        let end = offset + len as u64;
        while pos < end {
            let Some((start, seg)) = self.segs.get(i) else {
                return Err(BufferTooSmall);
            };
            let data = seg.as_slice();
            let from = usize::try_from(pos - start).map_err(|_| BufferTooSmall)?;
            let to = data
                .len()
                .min(from + usize::try_from(end - pos).unwrap_or(usize::MAX));
            let part = data.get(from..to).ok_or(BufferTooSmall)?;
            w.put_slice(part)?;
            pos += part.len() as u64;
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(buf: &SendBuffer, offset: u64, len: usize) -> Vec<u8> {
        let mut out = std::vec![0u8; len];
        let mut w = Writer::new(&mut out);
        buf.copy_out(offset, len, &mut w).unwrap();
        out
    }

    #[test]
    fn copies_and_shared_segments_read_back_across_boundaries() {
        let mut b = SendBuffer::default();
        let first: Vec<u8> = (0..SEGMENT_SIZE + 10).map(|i| i as u8).collect();
        b.write_copy(&first, &mut SegmentPool::default());
        b.write_shared(Bytes::from_static(b"shared"));
        b.write_copy(b"tail", &mut SegmentPool::default());
        assert_eq!(b.written(), first.len() as u64 + 10);
        assert_eq!(
            read(&b, SEGMENT_SIZE as u64 - 2, 4),
            first[SEGMENT_SIZE - 2..SEGMENT_SIZE + 2]
        );
        let at = first.len() as u64 - 2;
        let mut want = first[first.len() - 2..].to_vec();
        want.extend_from_slice(b"sharedta");
        assert_eq!(read(&b, at, 10), want);
    }

    #[test]
    fn every_offset_reads_back_with_full_short_and_released_segments() {
        let mut pool = SegmentPool::default();
        let mut b = SendBuffer::default();
        let mut all: Vec<u8> = Vec::new();
        let mut push_copy = |b: &mut SendBuffer, all: &mut Vec<u8>, n: usize, seed: u8| {
            let data: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
            b.write_copy(&data, &mut pool);
            all.extend_from_slice(&data);
        };
        // Full segments, then short shared ones (the index guess misses), then full again.
        push_copy(&mut b, &mut all, 2 * SEGMENT_SIZE + 100, 1);
        for n in [1usize, 7, 300] {
            let data: Vec<u8> = (0..n).map(|i| i as u8 ^ 0x5a).collect();
            b.write_shared(Bytes::from(data.clone()));
            all.extend_from_slice(&data);
        }
        push_copy(&mut b, &mut all, 2 * SEGMENT_SIZE, 2);
        let check = |b: &SendBuffer, from: usize| {
            for offset in (from..all.len()).step_by(97).chain([from, all.len() - 1]) {
                let len = 1500.min(all.len() - offset);
                assert_eq!(
                    read(b, offset as u64, len),
                    all[offset..offset + len],
                    "{offset}"
                );
            }
        };
        check(&b, 0);
        // With the first segment released, the guess starts from the next one.
        b.on_sent(0..all.len() as u64, false);
        assert!(b.on_acked(
            0..SEGMENT_SIZE as u64 + 5,
            false,
            &mut SegmentPool::default()
        ));
        check(&b, SEGMENT_SIZE + 5);
    }

    #[test]
    fn acknowledged_prefix_is_released_and_lost_ranges_skip_acked_parts() {
        let mut b = SendBuffer::default();
        b.write_copy(&[7u8; 100], &mut SegmentPool::default());
        b.on_sent(0..100, false);
        assert!(!b.on_acked(50..60, false, &mut SegmentPool::default()));
        assert_eq!(b.on_lost(0..100, false), 90);
        assert_eq!(b.first_lost(), Some(0..50));
        assert!(b.on_acked(0..50, false, &mut SegmentPool::default()));
        assert_eq!(b.acked_base(), 60, "joins the range acked earlier");
        assert_eq!(b.held(), 40);
        assert_eq!(b.first_lost(), Some(60..100));
        let mut out = [0u8; 10];
        assert!(b.copy_out(40, 10, &mut Writer::new(&mut out)).is_err());
    }

    #[test]
    fn fin_completes_only_when_everything_is_acked() {
        let mut b = SendBuffer::default();
        b.write_copy(b"abc", &mut SegmentPool::default());
        b.finish();
        b.on_sent(0..3, true);
        assert!(!b.fin_pending());
        b.on_lost(0..3, true);
        assert!(b.fin_pending());
        b.on_sent(0..3, true);
        b.on_acked(0..3, true, &mut SegmentPool::default());
        assert!(b.all_acked());
        assert!(!b.has_pending());
    }

    #[test]
    fn acknowledged_segments_are_reused_by_later_writes() {
        let mut pool = SegmentPool::default();
        let mut b = SendBuffer::default();
        let data = std::vec![3u8; 4 * SEGMENT_SIZE];
        b.write_copy(&data, &mut pool);
        b.on_sent(0..data.len() as u64, false);
        // Acknowledging three full segments returns them to the pool.
        assert!(b.on_acked(0..3 * SEGMENT_SIZE as u64, false, &mut pool));
        assert_eq!(pool.len(), 3);
        // The next full-size writes take them back instead of allocating.
        b.write_copy(&data[..2 * SEGMENT_SIZE], &mut pool);
        assert_eq!(pool.len(), 1);
        assert_eq!(read(&b, 4 * SEGMENT_SIZE as u64, 10), std::vec![3u8; 10]);
        // Small first writes are not given a full segment.
        let mut small = SendBuffer::default();
        small.write_copy(b"hello", &mut pool);
        assert_eq!(pool.len(), 1);
        assert_eq!(read(&small, 0, 5), b"hello".to_vec());
    }

    #[test]
    fn small_segments_of_finished_messages_are_reused() {
        let mut pool = SegmentPool::default();
        let mut first = SendBuffer::default();
        first.write_copy(&[1u8; 1000], &mut pool);
        first.on_sent(0..1000, false);
        assert!(first.on_acked(0..1000, false, &mut pool));
        assert_eq!(pool.len(), 1);
        // The next short message takes it (and sees none of the old bytes).
        let mut second = SendBuffer::default();
        second.write_copy(&[2u8; 700], &mut pool);
        assert_eq!(pool.len(), 0);
        assert_eq!(read(&second, 0, 700), std::vec![2u8; 700]);
        // A message larger than the kept segment allocates its own.
        let mut third = SendBuffer::default();
        pool.give(Vec::with_capacity(300));
        third.write_copy(&[3u8; 900], &mut pool);
        assert_eq!(pool.len(), 1);
        assert_eq!(read(&third, 0, 900), std::vec![3u8; 900]);
    }

    #[test]
    fn pool_keeps_a_bounded_number_of_segments() {
        let mut pool = SegmentPool::default();
        for _ in 0..3 * SegmentPool::MAX {
            pool.give(Vec::with_capacity(SEGMENT_SIZE));
        }
        assert_eq!(pool.len(), SegmentPool::MAX);
        // Odd-sized buffers are not kept.
        let mut pool = SegmentPool::default();
        pool.give(Vec::with_capacity(100));
        assert_eq!(pool.len(), 0);
        // Smaller segments: bounded by their memory together.
        let mut pool = SegmentPool::default();
        for _ in 0..2 * SegmentPool::SMALL_BYTES / 1024 {
            pool.give(Vec::with_capacity(1024));
        }
        assert_eq!(pool.len(), SegmentPool::SMALL_BYTES / 1024);
        // A segment taken out and given back is counted out and in again.
        let v = pool.take_small(1000);
        assert!(v.capacity() >= 1000);
        pool.give(v);
        pool.give(Vec::with_capacity(1024));
        assert_eq!(pool.len(), SegmentPool::SMALL_BYTES / 1024);
    }
}
