//! Prefixed integers (RFC 9204 §4.1.1, which reuses RFC 7541 §5.1).
//!
//! An integer is packed into the low `N` bits of a first byte whose high bits carry flags; if
//! it does not fit, the prefix is all ones and the rest follows in 7-bit groups, least
//! significant first, with the high bit of each byte meaning "more follows".

use alloc::vec::Vec;

/// Why a prefixed integer could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntError {
    /// The input ended before the integer did; more bytes may complete it.
    Incomplete,
    /// The value does not fit in 62 bits (our bound; RFC 9204 §4.1.1 lets implementations
    /// reject values they cannot represent).
    Overflow,
}

/// The largest value we accept: QUIC's varint range, enough for every QPACK field.
pub const MAX_VALUE: u64 = (1 << 62) - 1;

/// Decodes an integer with an `n`-bit prefix (1..=8) from the start of `buf`.
/// Returns the value and the number of bytes it used. Flag bits above the prefix are ignored.
pub fn decode(buf: &[u8], n: u8) -> Result<(u64, usize), IntError> {
    debug_assert!((1..=8).contains(&n));
    let first = *buf.first().ok_or(IntError::Incomplete)?;
    let mask = if n == 8 { 0xff } else { (1u8 << n) - 1 };
    let mut value = u64::from(first & mask);
    if value < u64::from(mask) {
        return Ok((value, 1));
    }
    let mut shift = 0u32;
    for (i, &b) in buf[1..].iter().enumerate() {
        // 62-bit bound: at most 9 continuation bytes can matter; anything longer or larger
        // overflows. Checking per byte keeps the loop bounded by the input *and* by 10.
        if shift > 56 {
            return Err(IntError::Overflow);
        }
        let add = u64::from(b & 0x7f) << shift;
        value = value.checked_add(add).ok_or(IntError::Overflow)?;
        if value > MAX_VALUE {
            return Err(IntError::Overflow);
        }
        if b & 0x80 == 0 {
            return Ok((value, i + 2));
        }
        shift += 7;
    }
    Err(IntError::Incomplete)
}

/// Appends `value` with an `n`-bit prefix; `flags` supplies the bits above the prefix.
pub fn encode(value: u64, n: u8, flags: u8, out: &mut Vec<u8>) {
    debug_assert!((1..=8).contains(&n));
    let mask: u8 = if n == 8 { 0xff } else { (1u8 << n) - 1 };
    let flags = flags & !mask;
    if value < u64::from(mask) {
        // The comparison above bounds value below 255.
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask);
    let mut rest = value - u64::from(mask);
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// The number of bytes [`encode`] writes for `value` with an `n`-bit prefix.
pub fn encoded_len(value: u64, n: u8) -> usize {
    let mask = if n == 8 { 0xff } else { (1u64 << n) - 1 };
    if value < mask {
        return 1;
    }
    let mut rest = value - mask;
    let mut len = 2;
    while rest >= 0x80 {
        rest >>= 7;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    // RFC 7541 §C.1.1-C.1.3.
    #[test]
    fn rfc7541_integer_examples() {
        let mut v = Vec::new();
        encode(10, 5, 0, &mut v);
        assert_eq!(v, [0x0a]);
        v.clear();
        encode(1337, 5, 0, &mut v);
        assert_eq!(v, [0x1f, 0x9a, 0x0a]);
        v.clear();
        encode(42, 8, 0, &mut v);
        assert_eq!(v, [0x2a]);
        assert_eq!(decode(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
        assert_eq!(decode(&[0xea], 5), Ok((10, 1)));
    }

    #[test]
    fn round_trips_every_prefix_and_edge() {
        for n in 1..=8u8 {
            for &value in &[
                0,
                1,
                30,
                31,
                126,
                127,
                128,
                254,
                255,
                256,
                1 << 20,
                MAX_VALUE,
            ] {
                let mut v = vec![];
                encode(value, n, 0xff, &mut v);
                assert_eq!(v.len(), encoded_len(value, n));
                assert_eq!(decode(&v, n), Ok((value, v.len())), "n={n} value={value}");
                for cut in 0..v.len() {
                    assert_eq!(decode(&v[..cut], n), Err(IntError::Incomplete));
                }
            }
        }
    }

    #[test]
    fn rejects_values_beyond_62_bits_and_endless_continuations() {
        let mut v = vec![0x1f];
        v.extend([0xff; 20]);
        v.push(0);
        assert_eq!(decode(&v, 5), Err(IntError::Overflow));
        let mut big = vec![];
        encode(MAX_VALUE, 5, 0, &mut big);
        // Bump the last group so the value exceeds 2^62 - 1.
        *big.last_mut().unwrap() += 1;
        assert_eq!(decode(&big, 5), Err(IntError::Overflow));
    }
}
