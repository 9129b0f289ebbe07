//! Byte cursors: [`Reader`] over received bytes and [`Writer`] into a caller's buffer.
//!
//! Neither allocates. Reads past the end return [`UnexpectedEnd`]; writes past the end return
//! [`BufferTooSmall`] and leave the cursor where it was.

use crate::varint::VarInt;

/// The input ended before a field did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unexpected end of input")]
pub struct UnexpectedEnd;

/// The output buffer has no room for what was being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("output buffer too small")]
pub struct BufferTooSmall;

/// A cursor over borrowed input. Everything it hands out borrows from the input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    #[inline]
    pub const fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// How many bytes have been read.
    #[inline]
    pub const fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    #[inline]
    pub const fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been read.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The whole input this reader was made from.
    #[inline]
    pub const fn original(&self) -> &'a [u8] {
        self.buf
    }

    /// The bytes not yet read, without consuming them.
    #[inline]
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Consumes and returns every remaining byte.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// The next byte, without consuming it.
    #[inline]
    pub fn peek_u8(&self) -> Result<u8, UnexpectedEnd> {
        self.buf.get(self.pos).copied().ok_or(UnexpectedEnd)
    }

    /// Consumes `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], UnexpectedEnd> {
        if n > self.remaining() {
            return Err(UnexpectedEnd);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Consumes `N` bytes into an array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], UnexpectedEnd> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<(), UnexpectedEnd> {
        self.bytes(n).map(|_| ())
    }

    /// Consumes one byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, UnexpectedEnd> {
        let b = self.peek_u8()?;
        self.pos += 1;
        Ok(b)
    }

    /// Consumes a big-endian `u16`.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, UnexpectedEnd> {
        self.array().map(u16::from_be_bytes)
    }

    /// Consumes a big-endian `u32`.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, UnexpectedEnd> {
        self.array().map(u32::from_be_bytes)
    }

    /// Consumes a variable-length integer.
    #[inline]
    pub fn varint(&mut self) -> Result<VarInt, UnexpectedEnd> {
        VarInt::decode(self)
    }

    /// Consumes a variable-length integer and returns it as a `u64`.
    #[inline]
    pub fn varint_u64(&mut self) -> Result<u64, UnexpectedEnd> {
        VarInt::decode(self).map(VarInt::into_inner)
    }
}

/// A cursor writing into a caller-supplied buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// How many bytes have been written.
    #[inline]
    pub const fn written(&self) -> usize {
        self.pos
    }

    /// How many bytes of room are left.
    #[inline]
    pub const fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes written so far.
    #[inline]
    pub fn filled(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// The bytes written so far, mutably (to patch a length or set a header bit afterwards).
    #[inline]
    pub fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.pos]
    }

    /// Gives back the whole underlying buffer.
    #[inline]
    pub fn into_inner(self) -> &'a mut [u8] {
        self.buf
    }

    /// Writes one byte.
    #[inline]
    pub fn put_u8(&mut self, v: u8) -> Result<(), BufferTooSmall> {
        let slot = self.buf.get_mut(self.pos).ok_or(BufferTooSmall)?;
        *slot = v;
        self.pos += 1;
        Ok(())
    }

    /// Writes a big-endian `u16`.
    #[inline]
    pub fn put_u16(&mut self, v: u16) -> Result<(), BufferTooSmall> {
        self.put_slice(&v.to_be_bytes())
    }

    /// Writes a big-endian `u32`.
    #[inline]
    pub fn put_u32(&mut self, v: u32) -> Result<(), BufferTooSmall> {
        self.put_slice(&v.to_be_bytes())
    }

    /// Writes a variable-length integer in its shortest encoding.
    #[inline]
    pub fn put_varint(&mut self, v: VarInt) -> Result<(), BufferTooSmall> {
        v.encode(self)
    }

    /// Writes a `u64` known to be below 2^62 as a variable-length integer.
    #[inline]
    pub fn put_varint_u64(&mut self, v: u64) -> Result<(), BufferTooSmall> {
        VarInt::from_u64_clamped(v).encode(self)
    }

    /// Writes a byte slice.
    #[inline]
    pub fn put_slice(&mut self, s: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.pos.checked_add(s.len()).ok_or(BufferTooSmall)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(BufferTooSmall)?;
        dst.copy_from_slice(s);
        self.pos = end;
        Ok(())
    }

    /// Writes `n` copies of `byte` (PADDING is `n` zero bytes).
    #[inline]
    pub fn put_bytes(&mut self, byte: u8, n: usize) -> Result<(), BufferTooSmall> {
        let end = self.pos.checked_add(n).ok_or(BufferTooSmall)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(BufferTooSmall)?;
        dst.fill(byte);
        self.pos = end;
        Ok(())
    }

    /// Reserves `n` bytes to be filled in later and returns the offset where they start.
    #[inline]
    pub fn reserve(&mut self, n: usize) -> Result<usize, BufferTooSmall> {
        let at = self.pos;
        self.put_bytes(0, n)?;
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u16(), Err(UnexpectedEnd));
        assert_eq!(r.position(), 2, "a failed read consumes nothing");
        assert_eq!(r.u8(), Ok(3));
        assert!(r.is_empty());
        assert_eq!(r.bytes(usize::MAX), Err(UnexpectedEnd));
    }

    #[test]
    fn writer_never_writes_past_the_end() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        w.put_u16(0xabcd).unwrap();
        assert_eq!(w.put_u16(1), Err(BufferTooSmall));
        assert_eq!(w.written(), 2, "a failed write moves nothing");
        w.put_u8(7).unwrap();
        assert_eq!(w.put_bytes(0, 1), Err(BufferTooSmall));
        assert_eq!(buf, [0xab, 0xcd, 7]);
    }
}
