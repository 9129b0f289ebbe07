//! Variable-length integers (RFC 9000 §16).
//!
//! The two most significant bits of the first byte give the length (1, 2, 4 or 8 bytes);
//! the remaining bits hold the value in network byte order, so values up to 2^62-1 fit.

use core::fmt;

use crate::codec::{BufferTooSmall, Reader, UnexpectedEnd, Writer};

/// An integer less than 2^62, the range a QUIC variable-length integer can carry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VarInt(u64);

/// A value that does not fit in a [`VarInt`] (it is 2^62 or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("value {0} does not fit in a QUIC variable-length integer")]
pub struct VarIntBoundsExceeded(pub u64);

impl VarInt {
    /// The largest value a variable-length integer can carry: 2^62-1.
    pub const MAX: VarInt = VarInt((1 << 62) - 1);
    /// Zero.
    pub const ZERO: VarInt = VarInt(0);
    /// The largest number of bytes an encoding takes.
    pub const MAX_SIZE: usize = 8;

    /// Builds a `VarInt` from a `u32`, which always fits.
    #[inline]
    pub const fn from_u32(v: u32) -> Self {
        VarInt(v as u64)
    }

    /// Builds a `VarInt`, failing when `v` is 2^62 or more.
    #[inline]
    pub const fn from_u64(v: u64) -> Result<Self, VarIntBoundsExceeded> {
        if v <= Self::MAX.0 {
            Ok(VarInt(v))
        } else {
            Err(VarIntBoundsExceeded(v))
        }
    }

    /// Builds a `VarInt` from a value the caller knows is below 2^62.
    ///
    /// Values above the bound are clamped to [`VarInt::MAX`] in release builds and trip a
    /// debug assertion in debug builds.
    #[inline]
    pub const fn from_u64_clamped(v: u64) -> Self {
        debug_assert!(v <= Self::MAX.0);
        if v <= Self::MAX.0 {
            VarInt(v)
        } else {
            Self::MAX
        }
    }

    /// The value.
    #[inline]
    pub const fn into_inner(self) -> u64 {
        self.0
    }

    /// The number of bytes the shortest encoding of this value takes (1, 2, 4 or 8).
    #[inline]
    pub const fn size(self) -> usize {
        size_of_u64(self.0)
    }

    /// Reads a variable-length integer in any of its four lengths.
    #[inline]
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, UnexpectedEnd> {
        Self::decode_with_len(r).map(|(v, _)| v)
    }

    /// Reads a variable-length integer and reports how many bytes it took, which the
    /// minimal-encoding rule for frame types (RFC 9000 §12.4) needs.
    #[inline]
    pub fn decode_with_len(r: &mut Reader<'_>) -> Result<(Self, usize), UnexpectedEnd> {
        // RFC 9000 §16 and Appendix A.1: the two high bits of the first byte are the log2
        // of the length.
        let first = r.u8()?;
        let len = 1usize << (first >> 6);
        let mut v = u64::from(first & 0x3f);
        let rest = r.bytes(len - 1)?;
        for &b in rest {
            v = (v << 8) | u64::from(b);
        }
        Ok((VarInt(v), len))
    }

    /// Writes the shortest encoding of this value.
    #[inline]
    pub fn encode(self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        self.encode_with_len(self.size(), w)
    }

    /// Writes this value with a given encoding length (1, 2, 4 or 8 bytes), for fields whose
    /// length is fixed before the value is known (a long header's Length field, for one).
    ///
    /// # Panics
    /// When `len` is not one of 1, 2, 4, 8 or is too short for the value: both are bugs in
    /// the caller, never a result of peer input.
    #[inline]
    pub fn encode_with_len(self, len: usize, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        let v = self.0;
        match len {
            1 => {
                assert!(v < 1 << 6, "varint does not fit in 1 byte");
                w.put_u8(v as u8)
            }
            2 => {
                assert!(v < 1 << 14, "varint does not fit in 2 bytes");
                w.put_slice(&((v as u16) | 0x4000).to_be_bytes())
            }
            4 => {
                assert!(v < 1 << 30, "varint does not fit in 4 bytes");
                w.put_slice(&((v as u32) | 0x8000_0000).to_be_bytes())
            }
            8 => w.put_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes()),
            _ => panic!("invalid varint length {len}"),
        }
    }
}

/// The number of bytes the shortest varint encoding of `v` takes; `v` must be below 2^62.
#[inline]
pub const fn size_of_u64(v: u64) -> usize {
    if v < 1 << 6 {
        1
    } else if v < 1 << 14 {
        2
    } else if v < 1 << 30 {
        4
    } else {
        8
    }
}

impl From<u8> for VarInt {
    fn from(v: u8) -> Self {
        VarInt(v.into())
    }
}
impl From<u16> for VarInt {
    fn from(v: u16) -> Self {
        VarInt(v.into())
    }
}
impl From<u32> for VarInt {
    fn from(v: u32) -> Self {
        VarInt(v.into())
    }
}
impl TryFrom<u64> for VarInt {
    type Error = VarIntBoundsExceeded;
    fn try_from(v: u64) -> Result<Self, Self::Error> {
        Self::from_u64(v)
    }
}
impl TryFrom<usize> for VarInt {
    type Error = VarIntBoundsExceeded;
    fn try_from(v: usize) -> Result<Self, Self::Error> {
        Self::from_u64(v as u64)
    }
}
impl From<VarInt> for u64 {
    fn from(v: VarInt) -> u64 {
        v.0
    }
}

impl fmt::Debug for VarInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl fmt::Display for VarInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for VarInt {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(VarInt(u.int_in_range(0..=Self::MAX.0)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(bytes: &[u8]) -> (u64, usize) {
        let mut r = Reader::new(bytes);
        let (v, len) = VarInt::decode_with_len(&mut r).unwrap();
        assert_eq!(r.position(), len);
        (v.into_inner(), len)
    }

    /// RFC 9000 Appendix A.1: the four sample encodings.
    #[test]
    fn rfc9000_appendix_a1_samples() {
        assert_eq!(
            dec(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c]),
            (151_288_809_941_952_652, 8)
        );
        assert_eq!(dec(&[0x9d, 0x7f, 0x3e, 0x7d]), (494_878_333, 4));
        assert_eq!(dec(&[0x7b, 0xbd]), (15_293, 2));
        assert_eq!(dec(&[0x25]), (37, 1));
        // The same value in a longer encoding decodes too (only frame types must be minimal).
        assert_eq!(dec(&[0x40, 0x25]), (37, 2));
    }

    #[test]
    fn shortest_encoding_round_trips_at_every_boundary() {
        for v in [
            0,
            63,
            64,
            16_383,
            16_384,
            (1 << 30) - 1,
            1 << 30,
            VarInt::MAX.0,
        ] {
            let v = VarInt::from_u64(v).unwrap();
            let mut buf = [0u8; 8];
            let mut w = Writer::new(&mut buf);
            v.encode(&mut w).unwrap();
            let n = w.written();
            assert_eq!(n, v.size());
            assert_eq!(dec(&buf[..n]), (v.into_inner(), n));
        }
    }

    #[test]
    fn out_of_range_is_rejected() {
        assert_eq!(
            VarInt::from_u64(1 << 62),
            Err(VarIntBoundsExceeded(1 << 62))
        );
        assert!(VarInt::from_u64(u64::MAX).is_err());
    }

    #[test]
    fn truncated_input_is_an_error() {
        for bytes in [
            &[][..],
            &[0x40][..],
            &[0x80, 1, 2][..],
            &[0xc0, 1, 2, 3, 4, 5, 6][..],
        ] {
            assert_eq!(VarInt::decode(&mut Reader::new(bytes)), Err(UnexpectedEnd));
        }
    }

    #[test]
    fn encoding_into_a_short_buffer_fails_without_panicking() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        assert_eq!(
            VarInt::from_u32(1 << 20).encode(&mut w),
            Err(BufferTooSmall)
        );
    }
}
