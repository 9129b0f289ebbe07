//! QPACK primitives over a byte cursor, and the encoder and decoder stream instructions
//! (RFC 9204 §4.1, §4.3, §4.4).

use super::huffman;
use super::prefix_int::{self, IntError};
use alloc::vec::Vec;
use bytes::Bytes;

/// Why a QPACK instruction or representation could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The input ended early. `need` is the total input length known to be required
    /// (0 when unknown), so an incremental caller can wait instead of re-parsing.
    Incomplete {
        /// Minimum total number of bytes needed, when known.
        need: usize,
    },
    /// The bytes are not a valid encoding (bad integer, bad Huffman string).
    Invalid(&'static str),
    /// A string literal is longer than the caller's limit.
    TooLong,
}

/// A read position over a complete or partial buffer.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn peek(&self) -> Result<u8, ParseError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(ParseError::Incomplete { need: self.pos + 1 })
    }

    /// Reads a prefixed integer with an `n`-bit prefix.
    pub(crate) fn int(&mut self, n: u8) -> Result<u64, ParseError> {
        match prefix_int::decode(&self.buf[self.pos..], n) {
            Ok((v, used)) => {
                self.pos += used;
                Ok(v)
            }
            Err(IntError::Incomplete) => Err(ParseError::Incomplete { need: 0 }),
            Err(IntError::Overflow) => Err(ParseError::Invalid("integer too large")),
        }
    }

    /// Reads a string literal whose Huffman flag is the bit just above an `n`-bit length
    /// prefix (RFC 9204 §4.1.2). The decoded string may hold at most `max_len` bytes.
    pub(crate) fn string(&mut self, n: u8, max_len: usize) -> Result<Bytes, ParseError> {
        let huff = self.peek()? & (1 << n) != 0;
        let len = self.int(n)?;
        // A Huffman code is at least 5 bits per symbol, so `len` encoded bytes decode to at
        // most len * 8 / 5 bytes; and no symbol is longer than 30 bits, so a string of
        // `max_len` bytes never needs more than max_len * 30 / 8 + 1 encoded bytes.
        let limit = if huff {
            max_len.saturating_mul(4).saturating_add(1)
        } else {
            max_len
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= limit)
            .ok_or(ParseError::TooLong)?;
        let end = self.pos + len;
        if end > self.buf.len() {
            return Err(ParseError::Incomplete { need: end });
        }
        let raw = &self.buf[self.pos..end];
        self.pos = end;
        if huff {
            let mut out = Vec::with_capacity(len.saturating_mul(8) / 5);
            huffman::decode(raw, &mut out, max_len).map_err(|e| match e {
                huffman::HuffmanError::TooLong => ParseError::TooLong,
                _ => ParseError::Invalid("bad Huffman string"),
            })?;
            Ok(Bytes::from(out))
        } else {
            Ok(Bytes::copy_from_slice(raw))
        }
    }
}

/// Appends a string literal: `flags` are the bits above the H bit, which sits just above an
/// `n`-bit length prefix. With `huff`, Huffman coding is used when it is shorter.
pub(crate) fn put_string(s: &[u8], n: u8, flags: u8, huff: bool, out: &mut Vec<u8>) {
    let hlen = if huff {
        huffman::encoded_len(s)
    } else {
        usize::MAX
    };
    if hlen < s.len() {
        prefix_int::encode(hlen as u64, n, flags | (1 << n), out);
        huffman::encode(s, out);
    } else {
        prefix_int::encode(s.len() as u64, n, flags, out);
        out.extend_from_slice(s);
    }
}

/// An instruction on the encoder stream (RFC 9204 §4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncoderInstruction {
    /// Set Dynamic Table Capacity (§4.3.1).
    SetCapacity(u64),
    /// Insert with Name Reference (§4.3.2): a static index, or a dynamic relative index.
    InsertWithNameRef {
        /// Whether the name comes from the static table.
        is_static: bool,
        /// Static index, or dynamic index relative to the insert count.
        index: u64,
        /// The new entry's value.
        value: Bytes,
    },
    /// Insert with Literal Name (§4.3.3).
    InsertWithLiteralName {
        /// The new entry's name.
        name: Bytes,
        /// The new entry's value.
        value: Bytes,
    },
    /// Duplicate (§4.3.4) of the entry at this relative index.
    Duplicate(u64),
}

impl EncoderInstruction {
    /// Parses one instruction from the start of `buf`; strings longer than `max_string`
    /// are invalid. Returns the instruction and its length.
    pub fn parse(buf: &[u8], max_string: usize) -> Result<(Self, usize), ParseError> {
        let mut c = Cursor::new(buf);
        let first = c.peek()?;
        let ins = if first & 0x80 != 0 {
            let is_static = first & 0x40 != 0;
            let index = c.int(6)?;
            let value = c.string(7, max_string)?;
            EncoderInstruction::InsertWithNameRef {
                is_static,
                index,
                value,
            }
        } else if first & 0x40 != 0 {
            let name = c.string(5, max_string)?;
            let value = c.string(7, max_string)?;
            EncoderInstruction::InsertWithLiteralName { name, value }
        } else if first & 0x20 != 0 {
            EncoderInstruction::SetCapacity(c.int(5)?)
        } else {
            EncoderInstruction::Duplicate(c.int(5)?)
        };
        Ok((ins, c.pos()))
    }

    /// Appends the wire form, Huffman-coding strings where that is shorter.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with(out, true)
    }

    /// Appends the wire form; `huffman` allows Huffman-coded strings.
    pub fn encode_with(&self, out: &mut Vec<u8>, huffman: bool) {
        match self {
            EncoderInstruction::SetCapacity(c) => prefix_int::encode(*c, 5, 0x20, out),
            EncoderInstruction::InsertWithNameRef {
                is_static,
                index,
                value,
            } => {
                let flags = if *is_static { 0xc0 } else { 0x80 };
                prefix_int::encode(*index, 6, flags, out);
                put_string(value, 7, 0, huffman, out);
            }
            EncoderInstruction::InsertWithLiteralName { name, value } => {
                put_string(name, 5, 0x40, huffman, out);
                put_string(value, 7, 0, huffman, out);
            }
            EncoderInstruction::Duplicate(i) => prefix_int::encode(*i, 5, 0, out),
        }
    }
}

/// An instruction on the decoder stream (RFC 9204 §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecoderInstruction {
    /// Section Acknowledgment (§4.4.1) for a stream.
    SectionAck(u64),
    /// Stream Cancellation (§4.4.2).
    StreamCancel(u64),
    /// Insert Count Increment (§4.4.3).
    InsertCountIncrement(u64),
}

impl DecoderInstruction {
    /// Parses one instruction from the start of `buf`, returning it and its length.
    pub fn parse(buf: &[u8]) -> Result<(Self, usize), ParseError> {
        let mut c = Cursor::new(buf);
        let first = c.peek()?;
        let ins = if first & 0x80 != 0 {
            DecoderInstruction::SectionAck(c.int(7)?)
        } else if first & 0x40 != 0 {
            DecoderInstruction::StreamCancel(c.int(6)?)
        } else {
            DecoderInstruction::InsertCountIncrement(c.int(6)?)
        };
        Ok((ins, c.pos()))
    }

    /// Appends the wire form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            DecoderInstruction::SectionAck(s) => prefix_int::encode(s, 7, 0x80, out),
            DecoderInstruction::StreamCancel(s) => prefix_int::encode(s, 6, 0x40, out),
            DecoderInstruction::InsertCountIncrement(n) => prefix_int::encode(n, 6, 0, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn instructions_round_trip() {
        let all = [
            EncoderInstruction::SetCapacity(220),
            EncoderInstruction::InsertWithNameRef {
                is_static: true,
                index: 0,
                value: Bytes::from_static(b"www.example.com"),
            },
            EncoderInstruction::InsertWithNameRef {
                is_static: false,
                index: 70,
                value: Bytes::new(),
            },
            EncoderInstruction::InsertWithLiteralName {
                name: Bytes::from_static(b"custom-key"),
                value: Bytes::from_static(b"custom-value"),
            },
            EncoderInstruction::Duplicate(2),
        ];
        for ins in all {
            let mut v = vec![];
            ins.encode(&mut v);
            assert_eq!(
                EncoderInstruction::parse(&v, 100),
                Ok((ins.clone(), v.len()))
            );
            for cut in 0..v.len() {
                assert!(matches!(
                    EncoderInstruction::parse(&v[..cut], 100),
                    Err(ParseError::Incomplete { .. })
                ));
            }
        }
        for ins in [
            DecoderInstruction::SectionAck(4),
            DecoderInstruction::StreamCancel(1000),
            DecoderInstruction::InsertCountIncrement(1),
        ] {
            let mut v = vec![];
            ins.encode(&mut v);
            assert_eq!(DecoderInstruction::parse(&v), Ok((ins, v.len())));
        }
    }

    #[test]
    fn string_over_limit_is_invalid_before_its_bytes_arrive() {
        // Literal name of declared length 100, none of it present.
        let buf = [0x40 | 0x1f, 100 - 31];
        assert_eq!(
            EncoderInstruction::parse(&buf, 50),
            Err(ParseError::TooLong)
        );
        assert_eq!(
            EncoderInstruction::parse(&buf, 200),
            Err(ParseError::Incomplete { need: 102 })
        );
    }
}
