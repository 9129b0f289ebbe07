//! Removing packet protection from arbitrary bytes must never panic (RFC 9001 §5.4.2: short
//! packets are discarded, §5.3: forged ones fail to open).
//!
//! Input: byte 0 picks the keys (v1 or v2 Initial keys as a server receives them, or 1-RTT
//! keys for one of the three suites) and, with its top bit, a round-trip mode; byte 1 gives
//! the packet-number offset (clamped to the buffer); byte 2 the path ID; the rest is the
//! packet. In round-trip mode the packet is sealed first and must then open to the same
//! plaintext.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use quic_wire::crypto::{
    initial_keys, keys_from_secret, protect_header, unprotect_header, verify_retry_integrity,
    DirectionalKeys, PacketKey, Suite, TAG_LEN,
};
use quic_wire::{ConnectionId, PacketNumber, PathId, Side, Version};

const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// Each entry: (version, keys a receiver uses).
fn keys() -> &'static [(Version, DirectionalKeys)] {
    static KEYS: OnceLock<Vec<(Version, DirectionalKeys)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dcid = ConnectionId::new(&DCID).unwrap();
        let secret = [0x9a; 48];
        let one_rtt = |suite: Suite| {
            keys_from_secret(suite, Version::V1, &secret[..suite.secret_len()]).unwrap()
        };
        vec![
            (
                Version::V1,
                initial_keys(Version::V1, &dcid, Side::Server)
                    .unwrap()
                    .remote,
            ),
            (
                Version::V2,
                initial_keys(Version::V2, &dcid, Side::Server)
                    .unwrap()
                    .remote,
            ),
            (Version::V1, one_rtt(Suite::Aes128Gcm)),
            (Version::V1, one_rtt(Suite::Aes256Gcm)),
            (Version::V1, one_rtt(Suite::ChaCha20Poly1305)),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let [select, offset, path, packet @ ..] = data else {
        return;
    };
    let all = keys();
    let (version, k) = &all[usize::from(*select & 0x7f) % all.len()];
    let path = PathId(u32::from(*path));
    let pn_offset = usize::from(*offset).min(packet.len());
    let mut buf = packet.to_vec();

    if *select & 0x80 == 0 {
        // Receive path: arbitrary bytes as a protected packet.
        let _ = verify_retry_integrity(*version, &ConnectionId::new(&DCID).unwrap(), packet);
        let Ok(clear) = unprotect_header(&k.header, &mut buf, pn_offset) else {
            return;
        };
        let truncated = clear.pn;
        assert!((1..=4).contains(&truncated.len));
        let pn = truncated.decode(Some(PacketNumber(0x1234)));
        let header_len = pn_offset + truncated.len;
        if let Ok(len) = k.packet.open_packet(path, pn, &mut buf, header_len) {
            assert!(header_len + len + TAG_LEN == buf.len());
        }
    } else {
        // Round trip: the input is header | payload; seal it with room for the tag, then a
        // receiver with the same keys must get it back.
        let header_len = (pn_offset + 4).min(buf.len());
        let pn = PacketNumber(0x1234);
        let pn_len = header_len - pn_offset;
        if pn_len == 0 || pn_offset == 0 {
            return;
        }
        // Make the first byte announce the packet-number length actually present.
        buf[0] = (buf[0] & !0x03) | (pn_len as u8 - 1);
        buf[pn_offset..header_len].copy_from_slice(&0x1234u32.to_be_bytes()[4 - pn_len..]);
        let original = buf.clone();
        buf.extend_from_slice(&[0; TAG_LEN]);
        k.packet
            .seal_packet(path, pn, &mut buf, header_len)
            .unwrap();
        if protect_header(&k.header, &mut buf, pn_offset).is_err() {
            return; // too short to sample: a sender pads first
        }
        let truncated = unprotect_header(&k.header, &mut buf, pn_offset).unwrap().pn;
        assert_eq!(truncated.len, pn_len);
        let decoded = truncated.decode(Some(PacketNumber(0x1233)));
        assert_eq!(decoded, pn);
        let len = k
            .packet
            .open_packet(path, decoded, &mut buf, header_len)
            .unwrap();
        assert_eq!(&buf[..header_len + len], &original[..]);
    }
});
