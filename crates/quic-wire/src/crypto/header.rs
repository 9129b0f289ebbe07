//! Applying and removing header protection in place (RFC 9001 §5.4.1, §5.4.2).

use super::{CryptoError, HeaderKey, MASK_LEN, SAMPLE_LEN, SAMPLE_OFFSET};
use crate::packet::{decode_protected_fields, ClearFields};

/// The bits of the first byte header protection covers: the four low bits of a long header
/// (reserved bits and packet number length), the five low bits of a short header (reserved
/// bits, key phase and packet number length). RFC 9001 §5.4.1.
#[inline]
const fn first_byte_bits(first: u8) -> u8 {
    // The header form bit (0x80) is itself never protected.
    if first & 0x80 != 0 {
        0x0f
    } else {
        0x1f
    }
}

/// Computes the mask from the sample at `pn_offset + 4` (RFC 9001 §5.4.2).
fn mask_for<K: HeaderKey + ?Sized>(
    hk: &K,
    packet: &[u8],
    pn_offset: usize,
) -> Result<[u8; MASK_LEN], CryptoError> {
    // The first byte is never part of the packet number.
    if pn_offset == 0 {
        return Err(CryptoError::BadLength);
    }
    let sample = pn_offset
        .checked_add(SAMPLE_OFFSET)
        .and_then(|start| Some(start..start.checked_add(SAMPLE_LEN)?))
        .and_then(|range| packet.get(range))
        // RFC 9001 §5.4.2: "An endpoint MUST discard packets that are not long enough to
        // contain a complete sample."
        .ok_or(CryptoError::PacketTooShort)?;
    hk.mask(sample)
}

/// XORs the packet-number mask bytes over the `pn_len` bytes at `pn_offset`.
fn mask_packet_number(packet: &mut [u8], pn_offset: usize, pn_len: usize, mask: &[u8; MASK_LEN]) {
    // `mask_for` succeeded, so `packet` holds at least pn_offset + 4 + 16 bytes and
    // `pn_len <= 4`; `get_mut` keeps this panic-free regardless.
    if let Some(pn) = packet.get_mut(pn_offset..pn_offset + pn_len) {
        for (b, m) in pn.iter_mut().zip(&mask[1..]) {
            *b ^= m;
        }
    }
}

/// Applies header protection in place (RFC 9001 §5.4.1) to a packet whose payload is already
/// sealed. `pn_offset` is the offset of the Packet Number field; the packet number length is
/// read from the unprotected first byte. Fails with [`CryptoError::PacketTooShort`] when the
/// packet does not reach past the sample (`pn_offset + 4 + 16` bytes), without changing it.
pub fn protect_header<K: HeaderKey + ?Sized>(
    hk: &K,
    packet: &mut [u8],
    pn_offset: usize,
) -> Result<(), CryptoError> {
    let mask = mask_for(hk, packet, pn_offset)?;
    let Some(first) = packet.first_mut() else {
        return Err(CryptoError::PacketTooShort);
    };
    let pn_len = usize::from(*first & 0x03) + 1;
    *first ^= mask[0] & first_byte_bits(*first);
    mask_packet_number(packet, pn_offset, pn_len, &mask);
    Ok(())
}

/// Removes header protection in place (RFC 9001 §5.4.1) and returns the fields it hid:
/// the truncated packet number (whose `len` gives the header length, `pn_offset + len`),
/// the key phase of a short header (which selects the packet key) and the reserved bits
/// (to be checked with [`ClearFields::check_reserved_bits`] once the AEAD has
/// authenticated the packet). The payload is left sealed.
///
/// Fails with [`CryptoError::PacketTooShort`] when the packet does not hold a complete sample
/// at `pn_offset + 4`, leaving the packet unchanged; such packets are to be discarded
/// (RFC 9001 §5.4.2).
pub fn unprotect_header<K: HeaderKey + ?Sized>(
    hk: &K,
    packet: &mut [u8],
    pn_offset: usize,
) -> Result<ClearFields, CryptoError> {
    let mask = mask_for(hk, packet, pn_offset)?;
    let Some(first) = packet.first_mut() else {
        return Err(CryptoError::PacketTooShort);
    };
    *first ^= mask[0] & first_byte_bits(*first);
    let first = *first;
    let pn_len = usize::from(first & 0x03) + 1;
    mask_packet_number(packet, pn_offset, pn_len, &mask);
    let pn_bytes = packet.get(pn_offset..).ok_or(CryptoError::PacketTooShort)?;
    decode_protected_fields(first, pn_bytes).map_err(|_| CryptoError::PacketTooShort)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pn::TruncatedPacketNumber;

    /// A header key whose mask is the first five sample bytes, so tests can predict it.
    struct EchoKey;

    impl HeaderKey for EchoKey {
        fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
            let mut m = [0; MASK_LEN];
            m.copy_from_slice(sample.get(..MASK_LEN).ok_or(CryptoError::BadLength)?);
            Ok(m)
        }
    }

    fn packet(first: u8, pn_offset: usize, total: usize) -> std::vec::Vec<u8> {
        let mut p: std::vec::Vec<u8> = (0..total).map(|i| i as u8 ^ 0x5a).collect();
        p[0] = first;
        p[pn_offset..pn_offset + 4].copy_from_slice(&[0x11, 0x22, 0x33, 0x44]);
        p
    }

    #[test]
    fn long_header_masks_four_bits_and_the_encoded_packet_number_only() {
        let pn_offset = 18;
        let mut p = packet(0xc1, pn_offset, pn_offset + 20); // 2-byte packet number
        let orig = p.clone();
        protect_header(&EchoKey, &mut p, pn_offset).unwrap();
        let mask = &orig[pn_offset + 4..pn_offset + 9];
        assert_eq!(p[0], 0xc1 ^ (mask[0] & 0x0f));
        assert_eq!(p[pn_offset], 0x11 ^ mask[1]);
        assert_eq!(p[pn_offset + 1], 0x22 ^ mask[2]);
        assert_eq!(&p[pn_offset + 2..], &orig[pn_offset + 2..]);
        let pn = unprotect_header(&EchoKey, &mut p, pn_offset).unwrap().pn;
        assert_eq!(
            pn,
            TruncatedPacketNumber {
                value: 0x1122,
                len: 2
            }
        );
        assert_eq!(p, orig);
    }

    #[test]
    fn short_header_masks_five_bits_including_key_phase() {
        let mut p = packet(0x43, 1, 1 + 20); // 4-byte packet number
        let orig = p.clone();
        protect_header(&EchoKey, &mut p, 1).unwrap();
        assert_eq!(p[0], 0x43 ^ (orig[5] & 0x1f));
        let pn = unprotect_header(&EchoKey, &mut p, 1).unwrap().pn;
        assert_eq!(pn.len, 4);
        assert_eq!(pn.value, 0x1122_3344);
        assert_eq!(p, orig);
    }

    #[test]
    fn packets_shorter_than_the_sample_are_rejected_unchanged() {
        for len in 0..21 {
            let mut p = std::vec![0x40u8; len];
            let orig = p.clone();
            assert_eq!(
                unprotect_header(&EchoKey, &mut p, 1),
                Err(CryptoError::PacketTooShort)
            );
            assert_eq!(
                protect_header(&EchoKey, &mut p, 1),
                Err(CryptoError::PacketTooShort)
            );
            assert_eq!(p, orig);
        }
        let mut p = std::vec![0x40u8; 64];
        assert!(unprotect_header(&EchoKey, &mut p, usize::MAX).is_err());
        assert!(unprotect_header(&EchoKey, &mut p, usize::MAX - 4).is_err());
        assert_eq!(
            unprotect_header(&EchoKey, &mut p, 0),
            Err(CryptoError::BadLength)
        );
    }
}
