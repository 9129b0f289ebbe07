//! Frame headers for zero-copy sending: the connection writes the header, then copies the
//! data from its own buffers straight after it. Each header knows how much data fits in a
//! given space, exactly (the Length field's size depends on the length).

use crate::codec::{BufferTooSmall, Writer};
use crate::frame::{FrameType, MAX_OFFSET};
use crate::stream_id::StreamId;
use crate::varint::size_of_u64;

/// The largest `n` with `n` plus the size of `n` as a varint at most `room`: the most data a
/// length-prefixed field can carry in `room` bytes. `None` when `room` is 0.
#[inline]
fn len_prefixed_fit(room: usize) -> Option<usize> {
    // Every room a packet can offer is covered by the first two arms: a 1-byte Length
    // describes up to 63 bytes, a 2-byte one up to 16,383, and with 65 bytes or more of room
    // the 2-byte Length is never worse than the 1-byte one.
    match room {
        0..=64 => return room.checked_sub(1),
        65..=16_385 => return Some(room - 2),
        _ => {}
    }
    // For each Length size, the most data that size can describe and that fits beside it;
    // the best of the four is the answer (the optimum's own size gives at least as much).
    const SIZES: [(usize, u64); 4] = [(1, 63), (2, 16_383), (4, (1 << 30) - 1), (8, MAX_OFFSET)];
    let mut best = None;
    for (size, max) in SIZES {
        let Some(n) = room.checked_sub(size) else {
            break;
        };
        let n = usize::try_from(max).map_or(n, |max| n.min(max));
        best = best.max(Some(n));
    }
    best
}

/// Writes `v` (below 2^62) as a varint of `size` bytes (its shortest encoding) into `buf`
/// at `at`; returns the position after it. The caller sized `buf` for every field.
#[inline(always)]
fn put_varint_at(buf: &mut [u8; STREAM_HEADER_MAX], at: usize, v: u64, size: usize) -> usize {
    // RFC 9000 §16: the two high bits of the first byte give the length.
    match size {
        1 => buf[at] = v as u8,
        2 => buf[at..at + 2].copy_from_slice(&((v as u16) | 0x4000).to_be_bytes()),
        4 => buf[at..at + 4].copy_from_slice(&((v as u32) | 0x8000_0000).to_be_bytes()),
        _ => buf[at..at + 8].copy_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
    }
    at + size
}

/// The longest STREAM frame header: a 1-byte type and three 8-byte varints.
const STREAM_HEADER_MAX: usize = 1 + 3 * 8;

/// How much data fits in `room` bytes after a header's fixed part, with or without a Length
/// field.
fn data_fit(room: usize, with_len: bool) -> Option<usize> {
    if with_len {
        len_prefixed_fit(room)
    } else {
        Some(room)
    }
}

/// Clamps a data length so `offset + len` stays within 2^62-1.
fn clamp_to_offset_limit(offset: u64, len: usize) -> usize {
    let left = MAX_OFFSET.saturating_sub(offset);
    usize::try_from(left).map_or(len, |left| len.min(left))
}

/// Everything of a STREAM frame but its data (RFC 9000 §19.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFrameHeader {
    /// The stream.
    pub id: StreamId,
    /// Offset of the data in the stream; the OFF bit is set when it is not zero.
    pub offset: u64,
    /// The data length, written as a Length field; `None` leaves the field out, so the data
    /// extends to the end of the packet.
    pub len: Option<usize>,
    /// Whether the frame ends the stream.
    pub fin: bool,
}

impl StreamFrameHeader {
    /// The frame type with its OFF, LEN and FIN bits.
    pub fn ty(&self) -> FrameType {
        let mut ty = FrameType::STREAM_BASE.0;
        if self.offset != 0 {
            ty |= FrameType::STREAM_OFF;
        }
        if self.len.is_some() {
            ty |= FrameType::STREAM_LEN;
        }
        if self.fin {
            ty |= FrameType::STREAM_FIN;
        }
        FrameType(ty)
    }

    /// The encoded length of the header, without the data.
    pub fn encoded_len(&self) -> usize {
        Self::fixed_len(self.id, self.offset) + self.len.map_or(0, |l| size_of_u64(l as u64))
    }

    /// Type, Stream ID and Offset: the part that does not depend on the data length.
    fn fixed_len(id: StreamId, offset: u64) -> usize {
        let off = if offset != 0 { size_of_u64(offset) } else { 0 };
        1 + id.as_varint().size() + off
    }

    /// Writes the header; the caller writes the data after it. Writes nothing on `Err`.
    #[inline]
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        // Assembled on the stack and handed to the writer in one piece: one bounds check
        // for the whole header instead of one per field. The type (at most 0x0f) takes one
        // byte.
        let mut buf = [0u8; STREAM_HEADER_MAX];
        buf[0] = self.ty().0 as u8;
        let id = self.id.as_varint().into_inner();
        let mut at = put_varint_at(&mut buf, 1, id, size_of_u64(id));
        if self.offset != 0 {
            // Clamped as every varint writer clamps: values past 2^62-1 are a caller's bug.
            let off = self.offset.min(MAX_OFFSET);
            at = put_varint_at(&mut buf, at, off, size_of_u64(off));
        }
        if let Some(len) = self.len {
            let len = (len as u64).min(MAX_OFFSET);
            at = put_varint_at(&mut buf, at, len, size_of_u64(len));
        }
        w.put_slice(&buf[..at])
    }

    /// How many data bytes a STREAM frame for `id` at `offset` can carry when header and data
    /// together take at most `space` bytes; `None` when not even an empty frame fits. With
    /// `with_len` false the frame has no Length field and fills `space` exactly, unless the
    /// 2^62-1 offset limit cuts the data short.
    #[inline]
    pub fn max_data(id: StreamId, offset: u64, space: usize, with_len: bool) -> Option<usize> {
        let room = space.checked_sub(Self::fixed_len(id, offset))?;
        data_fit(room, with_len).map(|n| clamp_to_offset_limit(offset, n))
    }
}

/// Everything of a CRYPTO frame but its data (RFC 9000 §19.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoFrameHeader {
    /// Offset of the data in the crypto stream.
    pub offset: u64,
    /// The data length.
    pub len: usize,
}

impl CryptoFrameHeader {
    /// The encoded length of the header, without the data.
    pub fn encoded_len(&self) -> usize {
        1 + size_of_u64(self.offset) + size_of_u64(self.len as u64)
    }

    /// Writes the header; the caller writes the data after it. Writes nothing on `Err`.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        if w.remaining() < self.encoded_len() {
            return Err(BufferTooSmall);
        }
        w.put_varint_u64(FrameType::CRYPTO.0)?;
        w.put_varint_u64(self.offset)?;
        w.put_varint_u64(self.len as u64)
    }

    /// How many data bytes a CRYPTO frame at `offset` can carry when header and data together
    /// take at most `space` bytes; `None` when not even an empty frame fits.
    pub fn max_data(offset: u64, space: usize) -> Option<usize> {
        let room = space.checked_sub(1 + size_of_u64(offset))?;
        len_prefixed_fit(room).map(|n| clamp_to_offset_limit(offset, n))
    }
}

/// Everything of a DATAGRAM frame but its data (RFC 9221 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramFrameHeader {
    /// The data length, written as a Length field (type 0x31); `None` gives type 0x30,
    /// whose data extends to the end of the packet.
    pub len: Option<usize>,
}

impl DatagramFrameHeader {
    /// The frame type: 0x31 with a Length field, 0x30 without.
    pub fn ty(&self) -> FrameType {
        if self.len.is_some() {
            FrameType::DATAGRAM_LEN
        } else {
            FrameType::DATAGRAM
        }
    }

    /// The encoded length of the header, without the data.
    pub fn encoded_len(&self) -> usize {
        self.ty().size() + self.len.map_or(0, |l| size_of_u64(l as u64))
    }

    /// Writes the header; the caller writes the data after it. Writes nothing on `Err`.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        if w.remaining() < self.encoded_len() {
            return Err(BufferTooSmall);
        }
        w.put_varint_u64(self.ty().0)?;
        if let Some(len) = self.len {
            w.put_varint_u64(len as u64)?;
        }
        Ok(())
    }

    /// How many data bytes a DATAGRAM frame can carry when it takes at most `space` bytes;
    /// `None` when not even an empty frame fits.
    pub fn max_data(space: usize, with_len: bool) -> Option<usize> {
        let room = space.checked_sub(1)?;
        data_fit(room, with_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_prefixed_fit_is_exact_at_varint_boundaries() {
        assert_eq!(len_prefixed_fit(0), None);
        assert_eq!(len_prefixed_fit(1), Some(0));
        assert_eq!(len_prefixed_fit(64), Some(63));
        // 64 data bytes need a 2-byte length: 66 bytes; 65 bytes hold only 63 + 1.
        assert_eq!(len_prefixed_fit(65), Some(63));
        assert_eq!(len_prefixed_fit(66), Some(64));
        assert_eq!(len_prefixed_fit(16_385), Some(16_383));
        assert_eq!(len_prefixed_fit(16_386), Some(16_383));
        assert_eq!(len_prefixed_fit(16_388), Some(16_384));
        // Brute force against the definition for every small room.
        for room in 0..20_000usize {
            let best = (0..=room)
                .rev()
                .find(|&n| n + size_of_u64(n as u64) <= room);
            assert_eq!(len_prefixed_fit(room), best, "room {room}");
        }
    }

    /// The header written field by field with the generic varint writer, as the reference.
    fn reference(h: &StreamFrameHeader) -> ([u8; 32], usize) {
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        w.put_varint_u64(h.ty().0).unwrap();
        w.put_varint(h.id.as_varint()).unwrap();
        if h.offset != 0 {
            w.put_varint_u64(h.offset).unwrap();
        }
        if let Some(len) = h.len {
            w.put_varint_u64(len as u64).unwrap();
        }
        let n = w.written();
        (buf, n)
    }

    #[test]
    fn stream_header_matches_field_by_field_encoding_at_every_size() {
        use crate::varint::VarInt;
        let values = [
            0u64,
            1,
            63,
            64,
            16_383,
            16_384,
            (1 << 30) - 1,
            1 << 30,
            MAX_OFFSET,
        ];
        for &id in &values {
            for &offset in &values {
                for len in [
                    None,
                    Some(0),
                    Some(63),
                    Some(64),
                    Some(16_384),
                    Some(1 << 30),
                ] {
                    for fin in [false, true] {
                        let h = StreamFrameHeader {
                            id: StreamId::from(VarInt::from_u64(id).unwrap()),
                            offset,
                            len,
                            fin,
                        };
                        let (want, n) = reference(&h);
                        let want = &want[..n];
                        assert_eq!(want.len(), h.encoded_len());
                        let mut buf = [0u8; 32];
                        let mut w = Writer::new(&mut buf);
                        h.write(&mut w).unwrap();
                        assert_eq!(w.filled(), want, "{h:?}");
                        // One byte short: an error and nothing written.
                        let mut short = [0u8; 32];
                        let mut w = Writer::new(&mut short[..n - 1]);
                        assert_eq!(h.write(&mut w), Err(BufferTooSmall));
                        assert_eq!(w.written(), 0);
                    }
                }
            }
        }
    }
}
