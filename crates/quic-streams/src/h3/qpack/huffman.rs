//! Huffman encoding and decoding of string literals (RFC 7541 §5.2 and Appendix B).
//!
//! The code is canonical: codes of one length are consecutive integers, assigned in symbol
//! order, and each length's first code follows from the previous length's last one. Decoding
//! therefore needs only, per length, the first code, how many codes there are and where they
//! start in a symbol list sorted by (length, symbol). Those tables are built at compile time
//! from the `CODES` table, so the transcribed RFC table is the single source of truth.

use super::huffman_table::CODES;
use alloc::vec::Vec;

/// The longest code, in bits (EOS).
const MAX_LEN: usize = 30;

/// Why a Huffman string could not be decoded (RFC 7541 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HuffmanError {
    /// The padding was longer than 7 bits or not a prefix of EOS (all ones).
    BadPadding,
    /// The EOS symbol appeared in the string.
    Eos,
    /// The decoded string would exceed the caller's limit.
    TooLong,
}

struct Canonical {
    /// Number of codes of each length.
    count: [u16; MAX_LEN + 1],
    /// The first (smallest) code of each length.
    first_code: [u32; MAX_LEN + 1],
    /// Where each length's symbols begin in `symbols`.
    first_index: [u16; MAX_LEN + 1],
    /// Symbols sorted by (code length, symbol).
    symbols: [u16; 257],
}

const fn build() -> Canonical {
    let mut count = [0u16; MAX_LEN + 1];
    let mut i = 0;
    while i < 257 {
        count[CODES[i].1 as usize] += 1;
        i += 1;
    }
    let mut first_index = [0u16; MAX_LEN + 1];
    let mut len = 1;
    while len <= MAX_LEN {
        first_index[len] = first_index[len - 1] + count[len - 1];
        len += 1;
    }
    let mut symbols = [0u16; 257];
    let mut fill = first_index;
    let mut sym = 0;
    while sym < 257 {
        let l = CODES[sym].1 as usize;
        symbols[fill[l] as usize] = sym as u16;
        fill[l] += 1;
        sym += 1;
    }
    let mut first_code = [0u32; MAX_LEN + 1];
    let mut len = 1;
    while len <= MAX_LEN {
        if count[len] > 0 {
            first_code[len] = CODES[symbols[first_index[len] as usize] as usize].0;
        }
        len += 1;
    }
    Canonical {
        count,
        first_code,
        first_index,
        symbols,
    }
}

const CANON: Canonical = build();

/// Number of bytes [`encode`] produces for `data`.
pub fn encoded_len(data: &[u8]) -> usize {
    let bits: usize = data
        .iter()
        .map(|&b| usize::from(CODES[usize::from(b)].1))
        .sum();
    bits.div_ceil(8)
}

/// Appends the Huffman encoding of `data`, padded with the most significant bits of EOS.
pub fn encode(data: &[u8], out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut nbits: u32 = 0;
    for &b in data {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        nbits += u32::from(len);
        while nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
        // Keep only the bits not yet written so `acc` never overflows.
        acc &= (1u64 << nbits) - 1;
    }
    if nbits > 0 {
        // RFC 7541 §5.2: pad with the most significant bits of EOS, i.e. ones.
        let pad = 8 - nbits;
        out.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
}

/// Decodes `data`, appending to `out`. Fails if more than `max_len` bytes would be produced.
pub fn decode(data: &[u8], out: &mut Vec<u8>, max_len: usize) -> Result<(), HuffmanError> {
    let start = out.len();
    let mut code: u32 = 0;
    let mut len: usize = 0;
    for &byte in data {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            let count = u32::from(CANON.count[len]);
            let offset = code.wrapping_sub(CANON.first_code[len]);
            if count > 0 && code >= CANON.first_code[len] && offset < count {
                let sym = CANON.symbols[usize::from(CANON.first_index[len]) + offset as usize];
                if sym == 256 {
                    // RFC 7541 §5.2: "A Huffman-encoded string literal containing the EOS
                    // symbol MUST be treated as a decoding error."
                    return Err(HuffmanError::Eos);
                }
                if out.len() - start >= max_len {
                    return Err(HuffmanError::TooLong);
                }
                out.push(sym as u8);
                code = 0;
                len = 0;
            } else if len >= MAX_LEN {
                // Unreachable for a complete prefix code (every 30-bit string starts with a
                // codeword), kept so a table error could never loop or index out of bounds.
                return Err(HuffmanError::BadPadding);
            }
        }
    }
    // RFC 7541 §5.2: padding longer than 7 bits, or not matching the most significant bits
    // of EOS (all ones), MUST be treated as a decoding error.
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(HuffmanError::BadPadding);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn code_is_a_complete_prefix_code() {
        // Kraft sum == 1 exactly, scaled by 2^30.
        let sum: u64 = CODES
            .iter()
            .map(|&(_, l)| 1u64 << (MAX_LEN - usize::from(l)))
            .sum();
        assert_eq!(sum, 1u64 << MAX_LEN);
        // No code is a prefix of another.
        for (i, &(ci, li)) in CODES.iter().enumerate() {
            assert!(
                u64::from(ci) < (1u64 << li),
                "code {i} wider than its length"
            );
            for (j, &(cj, lj)) in CODES.iter().enumerate() {
                if i != j && li <= lj {
                    assert_ne!(cj >> (lj - li), ci, "{i} is a prefix of {j}");
                }
            }
        }
    }

    #[test]
    fn every_symbol_round_trips() {
        for b in 0..=255u8 {
            let mut enc = vec![];
            encode(&[b, b, b], &mut enc);
            assert_eq!(enc.len(), encoded_len(&[b, b, b]));
            let mut dec = vec![];
            decode(&enc, &mut dec, 3).unwrap();
            assert_eq!(dec, [b, b, b]);
        }
    }

    #[test]
    fn rejects_eos_long_padding_and_zero_padding() {
        let mut out = vec![];
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff], &mut out, 99),
            Err(HuffmanError::Eos)
        );
        // 'a' is 00011 (5 bits); pad with three ones -> 0x1f is fine, with zeros is not.
        assert_eq!(decode(&[0x1f], &mut out, 99), Ok(()));
        assert_eq!(out, b"a");
        assert_eq!(decode(&[0x18], &mut out, 99), Err(HuffmanError::BadPadding));
        // A full byte of padding is more than 7 bits.
        assert_eq!(
            decode(&[0x1f, 0xff], &mut out, 99),
            Err(HuffmanError::BadPadding)
        );
        assert_eq!(decode(&[0x1f], &mut vec![], 0), Err(HuffmanError::TooLong));
    }
}
