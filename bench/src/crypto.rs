//! The crypto ceiling: what ring's AES-128-GCM alone costs per QUIC packet.
//!
//! Every 1-RTT packet a bulk transfer moves is sealed once (by the sender) and opened once (by
//! the receiver), and both ends apply header protection. This module times exactly that work on
//! one core, with nothing else: a packet with a short header (1 flag byte, an 8-byte
//! destination connection ID and a 2-byte packet number), AES-128-GCM over the rest with the
//! header as associated data, and AES-based header protection (RFC 9001 §5.3–5.4). Dividing the
//! datagram size by the time gives the most bytes per second any stack could move with this
//! cipher on this core; a bulk figure divided by that is the stack's share of the ceiling.
//! Times are thread CPU time, as are the bulk runs' when shares are computed.

use std::{hint::black_box, time::Instant};

use ring::aead::{
    quic::{HeaderProtectionKey, AES_128},
    Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, NONCE_LEN,
};

/// Length of the simulated short header.
const HEADER_LEN: usize = 1 + 8 + 2;
/// Offset of the packet number in that header.
const PN_OFFSET: usize = 1 + 8;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// Sealing and opening state for one direction of a connection.
struct PacketKeys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    hp: HeaderProtectionKey,
}

impl PacketKeys {
    fn new() -> Result<Self, String> {
        let key = UnboundKey::new(&AES_128_GCM, &[0x11; 16]).map_err(|e| e.to_string())?;
        let hp = HeaderProtectionKey::new(&AES_128, &[0x22; 16]).map_err(|e| e.to_string())?;
        Ok(Self {
            key: LessSafeKey::new(key),
            iv: [0x33; NONCE_LEN],
            hp,
        })
    }

    fn nonce(&self, pn: u64) -> Nonce {
        let mut n = self.iv;
        for (b, p) in n[NONCE_LEN - 8..].iter_mut().zip(pn.to_be_bytes()) {
            *b ^= p;
        }
        Nonce::assume_unique_for_key(n)
    }

    fn toggle_header_protection(&self, packet: &mut [u8]) -> Result<(), String> {
        let sample_at = PN_OFFSET + 4;
        let mask = self
            .hp
            .new_mask(&packet[sample_at..sample_at + 16])
            .map_err(|e| e.to_string())?;
        packet[0] ^= mask[0] & 0x1f;
        for (b, m) in packet[PN_OFFSET..HEADER_LEN].iter_mut().zip(&mask[1..]) {
            *b ^= m;
        }
        Ok(())
    }

    /// Encrypts the payload in place and protects the header.
    fn seal(&self, packet: &mut [u8], pn: u64) -> Result<(), String> {
        let (header, body) = packet.split_at_mut(HEADER_LEN);
        let plain_len = body.len() - TAG_LEN;
        let (plain, tag_out) = body.split_at_mut(plain_len);
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(pn), Aad::from(&*header), plain)
            .map_err(|e| e.to_string())?;
        tag_out.copy_from_slice(tag.as_ref());
        self.toggle_header_protection(packet)
    }

    /// Removes header protection and decrypts in place; returns the plaintext length.
    fn open(&self, packet: &mut [u8], pn: u64) -> Result<usize, String> {
        self.toggle_header_protection(packet)?;
        let (header, body) = packet.split_at_mut(HEADER_LEN);
        let plain = self
            .key
            .open_in_place(self.nonce(pn), Aad::from(&*header), body)
            .map_err(|_| "packet failed to authenticate".to_string())?;
        Ok(plain.len())
    }
}

/// Seals and opens `packets` packets of `datagram` bytes each; returns nanoseconds per packet
/// (one seal plus one open, header protection included), counted in thread CPU time so that
/// other load on the machine does not inflate it (wall time where CPU time is unavailable).
pub fn seal_open_ns(datagram: usize, packets: u64) -> Result<f64, String> {
    if datagram < HEADER_LEN + TAG_LEN + 20 {
        return Err(format!("{datagram}-byte packets are too small to sample"));
    }
    let keys = PacketKeys::new()?;
    let mut packet = vec![0u8; datagram];
    packet[0] = 0x41;
    for (i, b) in packet[HEADER_LEN..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let original = packet.clone();
    // One checked round trip first, so a broken measurement cannot pass silently.
    keys.seal(&mut packet, 0)?;
    if packet == original {
        return Err("sealing changed nothing".into());
    }
    keys.open(&mut packet, 0)?;
    if packet[..datagram - TAG_LEN] != original[..datagram - TAG_LEN] {
        return Err("open did not restore the packet".into());
    }
    let cpu0 = crate::cpu::thread_cpu_time();
    let wall0 = Instant::now();
    for pn in 1..=packets {
        keys.seal(black_box(&mut packet), pn)?;
        black_box(keys.open(black_box(&mut packet), pn)?);
    }
    let wall = wall0.elapsed();
    let elapsed = match (cpu0, crate::cpu::thread_cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => wall,
    };
    Ok(elapsed.as_nanos() as f64 / packets.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips() {
        let keys = PacketKeys::new().unwrap();
        let mut p = vec![7u8; 1200];
        p[0] = 0x40;
        let before = p.clone();
        keys.seal(&mut p, 42).unwrap();
        assert_ne!(p, before);
        assert_eq!(keys.open(&mut p, 42).unwrap(), 1200 - HEADER_LEN - TAG_LEN);
        assert_eq!(p[..1200 - TAG_LEN], before[..1200 - TAG_LEN]);
        // A wrong packet number must not authenticate.
        keys.seal(&mut p, 43).unwrap();
        assert!(keys.open(&mut p, 44).is_err());
    }

    #[test]
    fn timing_runs() {
        assert!(seal_open_ns(1452, 10).unwrap() > 0.0);
        assert!(seal_open_ns(10, 10).is_err());
    }
}
