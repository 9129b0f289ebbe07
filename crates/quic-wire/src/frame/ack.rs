//! ACK (RFC 9000 §19.3) and PATH_ACK (RFC 10069 §4.1): ranges kept as the raw encoded
//! Gap/ACK Range Length pairs, validated once while parsing so iterating them cannot fail.

use core::fmt;
use core::ops::RangeInclusive;

use crate::codec::{BufferTooSmall, Reader, UnexpectedEnd, Writer};
use crate::frame::FrameType;
use crate::path::PathId;
use crate::varint::size_of_u64;

/// The ECN counts an ACK of type 0x03 or a PATH_ACK of type 0x3f carries (RFC 9000 §19.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EcnCounts {
    /// Packets received with the ECT(0) codepoint.
    pub ect0: u64,
    /// Packets received with the ECT(1) codepoint.
    pub ect1: u64,
    /// Packets received with the ECN-CE codepoint.
    pub ce: u64,
}

impl EcnCounts {
    /// The number of bytes the three counts take on the wire.
    #[inline]
    pub const fn encoded_len(&self) -> usize {
        size_of_u64(self.ect0) + size_of_u64(self.ect1) + size_of_u64(self.ce)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, UnexpectedEnd> {
        Ok(EcnCounts {
            ect0: r.varint_u64()?,
            ect1: r.varint_u64()?,
            ce: r.varint_u64()?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.put_varint_u64(self.ect0)?;
        w.put_varint_u64(self.ect1)?;
        w.put_varint_u64(self.ce)
    }
}

/// The body of an ACK or PATH_ACK frame, borrowing its ACK Range fields from the packet.
///
/// Only parsing builds one, so the ranges are known to be well formed: [`AckFrame::iter`]
/// cannot fail. To send an acknowledgement, use [`AckFrame::write_ranges`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AckFrame<'a> {
    largest: u64,
    ack_delay: u64,
    range_count: u64,
    first_range: u64,
    /// The ACK Range Count Gap/ACK Range Length pairs after the first range, as received.
    ranges: &'a [u8],
    ecn: Option<EcnCounts>,
}

/// Why an ACK body failed to parse; both map to FRAME_ENCODING_ERROR.
pub(crate) enum AckError {
    Truncated,
    BelowZero,
}

impl From<UnexpectedEnd> for AckError {
    fn from(_: UnexpectedEnd) -> Self {
        AckError::Truncated
    }
}

/// Steps from the smallest packet number of one range to the next (lower) range, given its
/// Gap and ACK Range Length fields; `None` when a packet number would fall below 0.
#[inline]
fn next_range(prev_smallest: u64, gap: u64, len: u64) -> Option<RangeInclusive<u64>> {
    // RFC 9000 §19.3.1: largest = previous_smallest - gap - 2; smallest = largest - length.
    let largest = prev_smallest.checked_sub(gap)?.checked_sub(2)?;
    let smallest = largest.checked_sub(len)?;
    Some(smallest..=largest)
}

impl<'a> AckFrame<'a> {
    /// Parses the body (everything after the type and, for PATH_ACK, the path ID).
    pub(crate) fn decode(r: &mut Reader<'a>, with_ecn: bool) -> Result<Self, AckError> {
        let largest = r.varint_u64()?;
        let ack_delay = r.varint_u64()?;
        let range_count = r.varint_u64()?;
        let first_range = r.varint_u64()?;
        // RFC 9000 §19.3.1: "If any computed packet number is negative, an endpoint MUST
        // generate a connection error of type FRAME_ENCODING_ERROR."
        let mut smallest = largest
            .checked_sub(first_range)
            .ok_or(AckError::BelowZero)?;
        let start = r.position();
        // Bounded by the input: each pass consumes at least two bytes or returns an error.
        for _ in 0..range_count {
            let gap = r.varint_u64()?;
            let len = r.varint_u64()?;
            smallest = *next_range(smallest, gap, len)
                .ok_or(AckError::BelowZero)?
                .start();
        }
        let ranges = r
            .original()
            .get(start..r.position())
            .ok_or(AckError::Truncated)?;
        let ecn = if with_ecn {
            Some(EcnCounts::decode(r)?)
        } else {
            None
        };
        Ok(AckFrame {
            largest,
            ack_delay,
            range_count,
            first_range,
            ranges,
            ecn,
        })
    }

    /// The largest packet number acknowledged.
    #[inline]
    pub const fn largest(&self) -> u64 {
        self.largest
    }

    /// The ACK Delay field as sent: microseconds scaled down by the sender's
    /// ack_delay_exponent (RFC 9000 §19.3).
    #[inline]
    pub const fn ack_delay(&self) -> u64 {
        self.ack_delay
    }

    /// The ECN counts, for types 0x03 and 0x3f.
    #[inline]
    pub const fn ecn(&self) -> Option<EcnCounts> {
        self.ecn
    }

    /// The number of ranges, counting the first one (so ACK Range Count + 1).
    #[inline]
    pub const fn len(&self) -> u64 {
        self.range_count + 1
    }

    /// Always `false`: an ACK acknowledges at least its largest packet number.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The acknowledged packet numbers as inclusive ranges, highest first, without
    /// allocating.
    #[inline]
    pub fn iter(&self) -> AckRangeIter<'a> {
        AckRangeIter {
            r: Reader::new(self.ranges),
            // `first_range <= largest` was checked when parsing.
            next: Some(self.largest.saturating_sub(self.first_range)..=self.largest),
            remaining: self.range_count,
        }
    }

    /// The encoded length of the body (what follows the type and path ID).
    pub(crate) fn body_len(&self) -> usize {
        size_of_u64(self.largest)
            + size_of_u64(self.ack_delay)
            + size_of_u64(self.range_count)
            + size_of_u64(self.first_range)
            + self.ranges.len()
            + self.ecn.map_or(0, |e| e.encoded_len())
    }

    /// Writes the body back exactly as it was received.
    pub(crate) fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.put_varint_u64(self.largest)?;
        w.put_varint_u64(self.ack_delay)?;
        w.put_varint_u64(self.range_count)?;
        w.put_varint_u64(self.first_range)?;
        w.put_slice(self.ranges)?;
        if let Some(ecn) = &self.ecn {
            ecn.encode(w)?;
        }
        Ok(())
    }

    /// Plans an ACK (`path_id` `None`) or PATH_ACK frame for `ranges`, given highest first,
    /// within `budget` bytes: how many ranges fit, keeping the newest, and the exact frame
    /// length. Returns `ranges: 0, len: 0` when `ranges` is empty, and `Err` when not even
    /// the first range fits.
    ///
    /// Ranges must be strictly descending with at least one missing packet number between
    /// neighbours (adjacent ranges merged), each with its start at or below its end;
    /// otherwise the result is [`AckWriteError::Malformed`].
    pub fn fit<I>(
        path_id: Option<PathId>,
        ranges: I,
        ack_delay: u64,
        ecn: Option<EcnCounts>,
        budget: usize,
    ) -> Result<AckFit, AckWriteError>
    where
        I: Iterator<Item = RangeInclusive<u64>>,
    {
        let mut ranges = ranges;
        let Some(first) = ranges.next() else {
            return Ok(AckFit { ranges: 0, len: 0 });
        };
        let (lo, hi) = (*first.start(), *first.end());
        if lo > hi {
            return Err(AckWriteError::Malformed);
        }
        let fixed = ack_type(path_id, ecn).size()
            + path_id.map_or(0, |p| size_of_u64(p.as_u32().into()))
            + size_of_u64(hi)
            + size_of_u64(ack_delay)
            + size_of_u64(hi - lo)
            + ecn.map_or(0, |e| e.encoded_len());
        // With no extra range the ACK Range Count is 0, one byte.
        let mut best = AckFit {
            ranges: 1,
            len: fixed + 1,
        };
        if best.len > budget {
            return Err(AckWriteError::BufferTooSmall);
        }
        let mut prev_smallest = lo;
        let mut pairs = 0usize;
        let mut count = 0u64;
        let mut full = false;
        for r in ranges {
            // Every range is checked, even those past the budget, so a malformed list is
            // always reported rather than written only when it happens to fit.
            let (gap, len) = gap_and_len(prev_smallest, &r)?;
            prev_smallest = *r.start();
            if full {
                continue;
            }
            pairs += size_of_u64(gap) + size_of_u64(len);
            count += 1;
            // The total only grows with each range, so the first range that overflows the
            // budget ends the search: it and every older range are dropped.
            let total = fixed + size_of_u64(count) + pairs;
            if total > budget {
                full = true;
                continue;
            }
            best = AckFit {
                ranges: best.ranges + 1,
                len: total,
            };
        }
        Ok(best)
    }

    /// Writes an ACK (`path_id` `None`) or PATH_ACK frame acknowledging `ranges`, given
    /// highest first, in at most `budget` bytes (and at most the writer's remaining room).
    /// When not every range fits, the oldest (lowest) ranges are left out. `ack_delay` is
    /// the already-scaled ACK Delay field. Returns the number of ranges written (0, writing
    /// nothing, when `ranges` is empty) or `Err` when not even the newest range fits or the
    /// ranges are malformed (see [`AckFrame::fit`]); nothing is written on error.
    pub fn write_ranges<I>(
        w: &mut Writer<'_>,
        path_id: Option<PathId>,
        ranges: I,
        ack_delay: u64,
        ecn: Option<EcnCounts>,
        budget: usize,
    ) -> Result<usize, AckWriteError>
    where
        I: Iterator<Item = RangeInclusive<u64>> + Clone,
    {
        let budget = budget.min(w.remaining());
        let plan = Self::fit(path_id, ranges.clone(), ack_delay, ecn, budget)?;
        if plan.ranges == 0 {
            return Ok(0);
        }
        let mut ranges = ranges.take(plan.ranges);
        let Some(first) = ranges.next() else {
            return Ok(0);
        };
        let (lo, hi) = (*first.start(), *first.end());
        // `fit` checked that `plan.len` bytes, all of the frame, fit in the writer.
        w.put_varint_u64(ack_type(path_id, ecn).0)?;
        if let Some(p) = path_id {
            w.put_varint_u64(p.as_u32().into())?;
        }
        w.put_varint_u64(hi)?;
        w.put_varint_u64(ack_delay)?;
        w.put_varint_u64(plan.ranges as u64 - 1)?;
        w.put_varint_u64(hi - lo)?;
        let mut prev_smallest = lo;
        for r in ranges {
            let (gap, len) = gap_and_len(prev_smallest, &r)?;
            w.put_varint_u64(gap)?;
            w.put_varint_u64(len)?;
            prev_smallest = *r.start();
        }
        if let Some(ecn) = &ecn {
            ecn.encode(w)?;
        }
        Ok(plan.ranges)
    }
}

/// The Gap and ACK Range Length fields for range `r` following a range whose smallest packet
/// number is `prev_smallest` (RFC 9000 §19.3.1); `Malformed` unless `r` is below it with a
/// gap and its start is at or below its end.
fn gap_and_len(prev_smallest: u64, r: &RangeInclusive<u64>) -> Result<(u64, u64), AckWriteError> {
    let (lo, hi) = (*r.start(), *r.end());
    if lo > hi {
        return Err(AckWriteError::Malformed);
    }
    let gap = prev_smallest
        .checked_sub(hi)
        .and_then(|d| d.checked_sub(2))
        .ok_or(AckWriteError::Malformed)?;
    Ok((gap, hi - lo))
}

/// Why an ACK frame could not be planned or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckWriteError {
    /// Not even the newest range fits in the budget.
    #[error("no room for an ACK frame")]
    BufferTooSmall,
    /// The ranges are not descending, disjoint and non-adjacent, or one is inverted.
    #[error("malformed ACK ranges")]
    Malformed,
}

impl From<BufferTooSmall> for AckWriteError {
    fn from(_: BufferTooSmall) -> Self {
        AckWriteError::BufferTooSmall
    }
}

fn ack_type(path_id: Option<PathId>, ecn: Option<EcnCounts>) -> FrameType {
    match (path_id.is_some(), ecn.is_some()) {
        (false, false) => FrameType::ACK,
        (false, true) => FrameType::ACK_ECN,
        (true, false) => FrameType::PATH_ACK,
        (true, true) => FrameType::PATH_ACK_ECN,
    }
}

/// What [`AckFrame::fit`] found room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckFit {
    /// How many ranges fit, counting the first.
    pub ranges: usize,
    /// The exact encoded length of the frame with those ranges.
    pub len: usize,
}

impl fmt::Debug for AckFrame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckFrame")
            .field("ack_delay", &self.ack_delay)
            .field("ranges", &RangesDebug(*self))
            .field("ecn", &self.ecn)
            .finish()
    }
}

struct RangesDebug<'a>(AckFrame<'a>);

impl fmt::Debug for RangesDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

/// Iterator over an ACK frame's ranges, highest first. Made by [`AckFrame::iter`].
#[derive(Debug, Clone)]
pub struct AckRangeIter<'a> {
    r: Reader<'a>,
    next: Option<RangeInclusive<u64>>,
    remaining: u64,
}

impl Iterator for AckRangeIter<'_> {
    type Item = RangeInclusive<u64>;

    fn next(&mut self) -> Option<RangeInclusive<u64>> {
        let current = self.next.take()?;
        if self.remaining > 0 {
            self.remaining -= 1;
            // The pairs were checked when parsing, so neither read nor step can fail; if one
            // did, iteration would just end.
            let gap = self.r.varint_u64().ok();
            let len = self.r.varint_u64().ok();
            if let (Some(gap), Some(len)) = (gap, len) {
                self.next = next_range(*current.start(), gap, len);
            }
        }
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.next.is_none() {
            return (0, Some(0));
        }
        let n = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        (n, Some(n))
    }
}

impl core::iter::FusedIterator for AckRangeIter<'_> {}

impl<'a> IntoIterator for &AckFrame<'a> {
    type Item = RangeInclusive<u64>;
    type IntoIter = AckRangeIter<'a>;
    fn into_iter(self) -> AckRangeIter<'a> {
        self.iter()
    }
}

/// Builds a valid ACK body: the ranges are the longest run of well-formed Gap/Length pairs at
/// the start of some input bytes, so they borrow from the fuzzer's input.
#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for AckFrame<'a> {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        use crate::varint::VarInt;
        let largest = u.int_in_range(0..=VarInt::MAX.into_inner())?;
        let first_range = u.int_in_range(0..=largest)?;
        let ack_delay = VarInt::arbitrary(u)?.into_inner();
        let ecn = if bool::arbitrary(u)? {
            Some(EcnCounts {
                ect0: VarInt::arbitrary(u)?.into_inner(),
                ect1: VarInt::arbitrary(u)?.into_inner(),
                ce: VarInt::arbitrary(u)?.into_inner(),
            })
        } else {
            None
        };
        let len = u.int_in_range(0..=64usize)?;
        let raw: &'a [u8] = u.bytes(len.min(u.len()))?;
        let mut r = Reader::new(raw);
        let mut smallest = largest - first_range;
        let (mut range_count, mut end) = (0u64, 0usize);
        while let (Ok(gap), Ok(len)) = (r.varint_u64(), r.varint_u64()) {
            let Some(next) = next_range(smallest, gap, len) else {
                break;
            };
            smallest = *next.start();
            range_count += 1;
            end = r.position();
        }
        Ok(AckFrame {
            largest,
            ack_delay,
            range_count,
            first_range,
            ranges: raw.get(..end).unwrap_or_default(),
            ecn,
        })
    }
}
