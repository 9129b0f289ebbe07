//! Encoded field section prefix and field line representations (RFC 9204 §4.5).

use super::instructions::{put_string, Cursor, ParseError};
use super::prefix_int;
use alloc::vec::Vec;
use bytes::Bytes;

/// One field line representation (RFC 9204 §4.5.2-§4.5.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// Indexed Field Line (§4.5.2): static index, or dynamic index relative to Base.
    Indexed {
        /// Whether the index is into the static table.
        is_static: bool,
        /// The index.
        index: u64,
    },
    /// Indexed Field Line with Post-Base Index (§4.5.3).
    IndexedPostBase(u64),
    /// Literal Field Line with Name Reference (§4.5.4).
    LiteralNameRef {
        /// 'N': the field must stay a literal when forwarded.
        never_index: bool,
        /// Whether the name index is into the static table.
        is_static: bool,
        /// The name's index (static, or dynamic relative to Base).
        index: u64,
        /// The value.
        value: Bytes,
    },
    /// Literal Field Line with Post-Base Name Reference (§4.5.5).
    LiteralPostBaseNameRef {
        /// 'N' bit.
        never_index: bool,
        /// Post-Base index of the name.
        index: u64,
        /// The value.
        value: Bytes,
    },
    /// Literal Field Line with Literal Name (§4.5.6).
    Literal {
        /// 'N' bit.
        never_index: bool,
        /// The name.
        name: Bytes,
        /// The value.
        value: Bytes,
    },
}

impl Line {
    /// Parses one representation; strings longer than `max_string` are invalid.
    pub(crate) fn parse(c: &mut Cursor<'_>, max_string: usize) -> Result<Line, ParseError> {
        let first = c.peek()?;
        Ok(if first & 0x80 != 0 {
            Line::Indexed {
                is_static: first & 0x40 != 0,
                index: c.int(6)?,
            }
        } else if first & 0x40 != 0 {
            let index = c.int(4)?;
            Line::LiteralNameRef {
                never_index: first & 0x20 != 0,
                is_static: first & 0x10 != 0,
                index,
                value: c.string(7, max_string)?,
            }
        } else if first & 0x20 != 0 {
            let name = c.string(3, max_string)?;
            Line::Literal {
                never_index: first & 0x10 != 0,
                name,
                value: c.string(7, max_string)?,
            }
        } else if first & 0x10 != 0 {
            Line::IndexedPostBase(c.int(4)?)
        } else {
            let index = c.int(3)?;
            Line::LiteralPostBaseNameRef {
                never_index: first & 0x08 != 0,
                index,
                value: c.string(7, max_string)?,
            }
        })
    }

    /// Appends the wire form, Huffman-coding strings where that is shorter.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with(out, true)
    }

    /// Appends the wire form; `huffman` allows Huffman-coded strings.
    pub fn encode_with(&self, out: &mut Vec<u8>, huffman: bool) {
        match self {
            Line::Indexed { is_static, index } => {
                prefix_int::encode(*index, 6, if *is_static { 0xc0 } else { 0x80 }, out)
            }
            Line::IndexedPostBase(i) => prefix_int::encode(*i, 4, 0x10, out),
            Line::LiteralNameRef {
                never_index,
                is_static,
                index,
                value,
            } => {
                let flags =
                    0x40 | if *never_index { 0x20 } else { 0 } | if *is_static { 0x10 } else { 0 };
                prefix_int::encode(*index, 4, flags, out);
                put_string(value, 7, 0, huffman, out);
            }
            Line::LiteralPostBaseNameRef {
                never_index,
                index,
                value,
            } => {
                prefix_int::encode(*index, 3, if *never_index { 0x08 } else { 0 }, out);
                put_string(value, 7, 0, huffman, out);
            }
            Line::Literal {
                never_index,
                name,
                value,
            } => {
                put_string(
                    name,
                    3,
                    0x20 | if *never_index { 0x10 } else { 0 },
                    huffman,
                    out,
                );
                put_string(value, 7, 0, huffman, out);
            }
        }
    }
}

/// Largest number of entries a table of `max_capacity` bytes can hold (RFC 9204 §4.5.1.1).
pub fn max_entries(max_capacity: u64) -> u64 {
    max_capacity / 32
}

/// Appends the encoded field section prefix (RFC 9204 §4.5.1) for a Required Insert Count
/// and Base.
pub fn encode_prefix(ric: u64, base: u64, max_capacity: u64, out: &mut Vec<u8>) {
    let enc_ric = if ric == 0 {
        0
    } else {
        // §4.5.1.1: EncInsertCount = (ReqInsertCount mod (2 * MaxEntries)) + 1.
        ric % (2 * max_entries(max_capacity)) + 1
    };
    prefix_int::encode(enc_ric, 8, 0, out);
    if base >= ric {
        prefix_int::encode(base - ric, 7, 0, out);
    } else {
        prefix_int::encode(ric - base - 1, 7, 0x80, out);
    }
}

/// Reads the encoded field section prefix and returns `(required insert count, base)`.
/// `total_inserts` is the decoder's insert count so far.
pub(crate) fn decode_prefix(
    c: &mut Cursor<'_>,
    max_capacity: u64,
    total_inserts: u64,
) -> Result<(u64, u64), ParseError> {
    let enc = c.int(8)?;
    let ric = decode_ric(enc, max_capacity, total_inserts)?;
    let sign = c.peek()? & 0x80 != 0;
    let delta = c.int(7)?;
    let base = if sign {
        // §4.5.1.2: "An endpoint MUST treat a field block with a Sign bit of 1 as invalid if
        // the value of Required Insert Count is less than or equal to the value of Delta Base."
        if ric <= delta {
            return Err(ParseError::Invalid("negative Base"));
        }
        ric - delta - 1
    } else {
        ric.checked_add(delta)
            .filter(|&b| b <= prefix_int::MAX_VALUE)
            .ok_or(ParseError::Invalid("Base too large"))?
    };
    Ok((ric, base))
}

/// Reconstructs the Required Insert Count from its encoded form (RFC 9204 §4.5.1.1).
fn decode_ric(enc: u64, max_capacity: u64, total_inserts: u64) -> Result<u64, ParseError> {
    if enc == 0 {
        return Ok(0);
    }
    let max_entries = max_entries(max_capacity);
    let full_range = 2 * max_entries;
    if enc > full_range {
        return Err(ParseError::Invalid("Required Insert Count out of range"));
    }
    let max_value = total_inserts + max_entries;
    let max_wrapped = max_value / full_range * full_range;
    let mut ric = max_wrapped + enc - 1;
    if ric > max_value {
        if ric <= full_range {
            return Err(ParseError::Invalid("Required Insert Count out of range"));
        }
        ric -= full_range;
    }
    if ric == 0 {
        return Err(ParseError::Invalid(
            "Required Insert Count encoded as non-zero zero",
        ));
    }
    Ok(ric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_insert_count_example_from_section_4_5_1_1() {
        // 100-byte table: MaxEntries = 3, encoded modulo 6. With 10 inserts, 4 means 9.
        assert_eq!(decode_ric(4, 100, 10), Ok(9));
        assert!(decode_ric(7, 100, 10).is_err());
        for total in 0..40u64 {
            for ric in total.saturating_sub(2).max(1)..=total + 3 {
                let mut v = Vec::new();
                encode_prefix(ric, ric, 100, &mut v);
                let mut c = Cursor::new(&v);
                assert_eq!(decode_prefix(&mut c, 100, total), Ok((ric, ric)));
            }
        }
    }

    #[test]
    fn sign_bit_with_delta_at_least_ric_is_rejected() {
        // RIC = 2 (enc 3 with max capacity 220 → 6 entries), sign=1, delta=2.
        let mut c = Cursor::new(&[0x03, 0x82]);
        assert_eq!(
            decode_prefix(&mut c, 220, 2),
            Err(ParseError::Invalid("negative Base"))
        );
    }
}
