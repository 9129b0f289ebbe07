//! Packet numbers (RFC 9000 §12.3, §17.1, Appendix A.2 and A.3).
//!
//! A packet number is a 62-bit integer per packet-number space; on the wire it is truncated
//! to its 1 to 4 least significant bytes and recovered by the receiver from the largest
//! number it has received in that space.

use core::fmt;

use crate::codec::BufferTooSmall;

/// A full packet number, 0 to 2^62-1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct PacketNumber(pub u64);

/// A packet number as it appears in a header: its low `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncatedPacketNumber {
    /// The low `8 * len` bits of the full packet number.
    pub value: u32,
    /// 1, 2, 3 or 4.
    pub len: usize,
}

impl PacketNumber {
    /// The largest packet number (RFC 9000 §12.3).
    pub const MAX: PacketNumber = PacketNumber((1 << 62) - 1);

    /// The packet number as a `u64`.
    #[inline]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// The shortest encoding that the peer can decode unambiguously, given the largest
    /// packet number it has acknowledged in this space (`None` when nothing was
    /// acknowledged yet). RFC 9000 §17.1 and Appendix A.2: the encoding must cover more
    /// than twice the number of packets in flight.
    #[inline]
    pub fn truncate(self, largest_acked: Option<PacketNumber>) -> TruncatedPacketNumber {
        let num_unacked = match largest_acked {
            None => self.0 + 1,
            Some(acked) => self.0.saturating_sub(acked.0),
        };
        // Bits needed to represent 2 * num_unacked, rounded up to whole bytes.
        let min_bits = 64 - (num_unacked.saturating_mul(2)).leading_zeros() as usize;
        let len = min_bits.div_ceil(8).clamp(1, 4);
        self.truncate_to(len)
    }

    /// The low `len` bytes of this packet number, `len` in 1..=4.
    #[inline]
    pub fn truncate_to(self, len: usize) -> TruncatedPacketNumber {
        debug_assert!((1..=4).contains(&len));
        let mask = if len >= 4 {
            u32::MAX as u64
        } else {
            (1u64 << (8 * len)) - 1
        };
        TruncatedPacketNumber {
            value: (self.0 & mask) as u32,
            len,
        }
    }
}

impl TruncatedPacketNumber {
    /// Recovers the full packet number closest to one past the largest packet number
    /// received so far in this space (`None` when none was received). RFC 9000 Appendix A.3.
    #[inline]
    pub fn decode(self, largest_received: Option<PacketNumber>) -> PacketNumber {
        let expected = largest_received.map_or(0, |pn| pn.0 + 1);
        let bits = 8 * self.len as u32;
        let win = 1u64 << bits;
        let hwin = win / 2;
        let mask = win - 1;
        // The candidate shares the high bits of `expected` and has the received low bits.
        let candidate = (expected & !mask) | u64::from(self.value);
        let pn =
            if expected >= hwin && candidate <= expected - hwin && candidate < (1u64 << 62) - win {
                candidate + win
            } else if candidate > expected + hwin && candidate >= win {
                candidate - win
            } else {
                candidate
            };
        PacketNumber(pn)
    }

    /// Writes the truncated number into the first `len` bytes of `out` in network order.
    #[inline]
    pub fn write(self, out: &mut [u8]) -> Result<(), BufferTooSmall> {
        let bytes = self.value.to_be_bytes();
        let src = bytes
            .get(4usize.saturating_sub(self.len)..)
            .ok_or(BufferTooSmall)?;
        out.get_mut(..src.len())
            .ok_or(BufferTooSmall)?
            .copy_from_slice(src);
        Ok(())
    }

    /// Reads a truncated packet number from `bytes`, whose length (1 to 4) is the encoded
    /// packet-number length; `None` for any other length.
    #[inline]
    pub fn read(bytes: &[u8]) -> Option<Self> {
        if !(1..=4).contains(&bytes.len()) {
            return None;
        }
        let value = bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
        Some(TruncatedPacketNumber {
            value,
            len: bytes.len(),
        })
    }
}

impl fmt::Debug for PacketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pn{}", self.0)
    }
}

impl fmt::Display for PacketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u64> for PacketNumber {
    fn from(v: u64) -> Self {
        PacketNumber(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §17.1 / Appendix A.2 examples.
    #[test]
    fn rfc9000_encoding_examples() {
        // "if an endpoint has received an acknowledgment for packet 0xabe8b3 and is sending
        // a packet with a number of 0xac5c02, there are 29,519 (0x734f) outstanding packet
        // numbers. In order to represent at least twice this range (59,038 packets, or
        // 0xe69e), 16 bits are required."
        let t = PacketNumber(0xac5c02).truncate(Some(PacketNumber(0xabe8b3)));
        assert_eq!(
            t,
            TruncatedPacketNumber {
                value: 0x5c02,
                len: 2
            }
        );
        // "In the same state, sending a packet with a number of 0xace8fe uses the 24-bit
        // encoding, because at least 18 bits are required to represent twice the range".
        let t = PacketNumber(0xace8fe).truncate(Some(PacketNumber(0xabe8b3)));
        assert_eq!(
            t,
            TruncatedPacketNumber {
                value: 0xace8fe,
                len: 3
            }
        );
    }

    /// RFC 9000 Appendix A.3 example: largest 0xa82f30ea, received 0x9b32 in 16 bits.
    #[test]
    fn rfc9000_decoding_example() {
        let t = TruncatedPacketNumber {
            value: 0x9b32,
            len: 2,
        };
        assert_eq!(
            t.decode(Some(PacketNumber(0xa82f30ea))),
            PacketNumber(0xa82f9b32)
        );
    }

    #[test]
    fn reading_and_writing_bad_lengths_fails_without_panicking() {
        assert_eq!(TruncatedPacketNumber::read(&[]), None);
        assert_eq!(TruncatedPacketNumber::read(&[0; 5]), None);
        assert_eq!(
            PacketNumber(5).truncate_to(2).write(&mut [0u8; 1]),
            Err(BufferTooSmall)
        );
    }

    #[test]
    fn first_packets_and_window_edges() {
        assert_eq!(PacketNumber(0).truncate(None).len, 1);
        assert_eq!(
            TruncatedPacketNumber { value: 0, len: 1 }.decode(None),
            PacketNumber(0)
        );
        // Near the top of the space the candidate is not pushed past 2^62.
        let top = PacketNumber::MAX;
        let t = top.truncate_to(4);
        assert_eq!(t.decode(Some(PacketNumber(top.0 - 1))), top);
        // A number just below the window is taken from the previous epoch.
        let t = TruncatedPacketNumber {
            value: 0xff,
            len: 1,
        };
        assert_eq!(t.decode(Some(PacketNumber(0x100))), PacketNumber(0xff));
    }

    #[test]
    fn truncate_then_decode_round_trips() {
        let mut x = 0x1234_5678_9abcu64;
        for _ in 0..10_000 {
            // xorshift for a spread of values without a dependency.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let largest_acked = x & ((1 << 40) - 1);
            let gap = (x >> 40) & 0xffff;
            let pn = PacketNumber(largest_acked + 1 + gap);
            let t = pn.truncate(Some(PacketNumber(largest_acked)));
            // The receiver has seen anything from largest_acked up to pn - 1.
            for seen in [largest_acked, pn.0 - 1] {
                assert_eq!(
                    t.decode(Some(PacketNumber(seen))),
                    pn,
                    "pn {pn:?} seen {seen}"
                );
            }
            let mut buf = [0u8; 4];
            t.write(&mut buf).unwrap();
            assert_eq!(TruncatedPacketNumber::read(&buf[..t.len]), Some(t));
        }
    }
}
