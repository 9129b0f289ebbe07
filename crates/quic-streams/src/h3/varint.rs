//! QUIC variable-length integers for HTTP/3 framing: appending to a `Vec`, and reading one
//! that may arrive split across chunks. The encoding itself is `quic_wire::VarInt`'s.

use alloc::vec::Vec;
use quic_wire::codec::{Reader, Writer};
use quic_wire::VarInt;

/// Appends `v` (which must be below 2^62; larger values are clamped) as a QUIC varint.
pub fn put_varint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 8];
    let n = write_varint(&mut buf, v);
    out.extend_from_slice(&buf[..n]);
}

/// Writes `v` (clamped to 2^62 - 1) into `buf` and returns the length (1, 2, 4 or 8).
pub fn write_varint(buf: &mut [u8; 8], v: u64) -> usize {
    let v = VarInt::from_u64_clamped(v);
    let mut w = Writer::new(buf);
    // An 8-byte buffer always holds a varint.
    let _ = w.put_varint(v);
    v.size()
}

/// Accumulates the bytes of one varint across calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct PartialVarInt {
    buf: [u8; 8],
    have: u8,
}

impl PartialVarInt {
    /// Consumes bytes from the front of `input` until the varint is complete. Returns the
    /// value once complete (and resets), `None` if `input` ran out first.
    pub fn feed(&mut self, input: &mut &[u8]) -> Option<u64> {
        while let Some((&b, rest)) = input.split_first() {
            *input = rest;
            self.buf[usize::from(self.have)] = b;
            self.have += 1;
            let need = 1usize << (self.buf[0] >> 6);
            if usize::from(self.have) == need {
                self.have = 0;
                return Reader::new(&self.buf[..need]).varint_u64().ok();
            }
        }
        None
    }

    /// Whether some bytes of a varint have been consumed but it is not complete.
    pub fn is_partial(&self) -> bool {
        self.have > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn partial_varint_completes_across_any_split() {
        for v in [
            0u64,
            63,
            64,
            16383,
            16384,
            (1 << 30) - 1,
            1 << 30,
            (1 << 62) - 1,
        ] {
            let mut enc = vec![];
            put_varint(&mut enc, v);
            for split in 0..=enc.len() {
                let mut p = PartialVarInt::default();
                let mut a = &enc[..split];
                let mut b = &enc[split..];
                let first = p.feed(&mut a);
                let got = first.or_else(|| p.feed(&mut b));
                assert_eq!(got, Some(v));
                assert!(a.is_empty() && b.is_empty());
            }
        }
    }
}
