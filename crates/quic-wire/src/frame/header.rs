//! Frame headers for zero-copy sending: the connection writes the header, then copies the
//! data from its own buffers straight after it. Each header knows how much data fits in a
//! given space, exactly (the Length field's size depends on the length).

use crate::codec::{BufferTooSmall, Writer};
use crate::frame::{FrameType, MAX_OFFSET};
use crate::stream_id::StreamId;
use crate::varint::size_of_u64;

/// The largest `n` with `n` plus the size of `n` as a varint at most `room`: the most data a
/// length-prefixed field can carry in `room` bytes. `None` when `room` is 0.
fn len_prefixed_fit(room: usize) -> Option<usize> {
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
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        if w.remaining() < self.encoded_len() {
            return Err(BufferTooSmall);
        }
        w.put_varint_u64(self.ty().0)?;
        w.put_varint(self.id.as_varint())?;
        if self.offset != 0 {
            w.put_varint_u64(self.offset)?;
        }
        if let Some(len) = self.len {
            w.put_varint_u64(len as u64)?;
        }
        Ok(())
    }

    /// How many data bytes a STREAM frame for `id` at `offset` can carry when header and data
    /// together take at most `space` bytes; `None` when not even an empty frame fits. With
    /// `with_len` false the frame has no Length field and fills `space` exactly, unless the
    /// 2^62-1 offset limit cuts the data short.
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
}
