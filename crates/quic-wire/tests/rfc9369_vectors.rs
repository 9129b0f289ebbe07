//! RFC 9369 Appendix A (Sample Packet Protection for QUIC version 2) reproduced byte for
//! byte, both ways: the keys of A.1, the client Initial of A.2, the server Initial of A.3,
//! the Retry of A.4 and the ChaCha20-Poly1305 short header packet of A.5, plus tampering and
//! truncation.
//!
//! Hex values are copied from the RFC. The headers are given unprotected by the RFC, so the
//! packet-number offsets are written here rather than parsed.
#![cfg(feature = "ring")]

use quic_wire::crypto::{
    hkdf_expand_label, hkdf_extract, initial_keys, initial_secrets, keys_from_secret, nonce,
    protect_header, retry_integrity_tag, unprotect_header, verify_retry_integrity, CryptoError,
    DirectionalKeys, HashAlg, HeaderKey, PacketKey, RingHeaderKey, RingPacketKey, Secret, Suite,
    VersionParams, RETRY_TAG_LEN,
};
use quic_wire::{ConnectionId, PacketNumber, PathId, Side, Version};

const VERSION: Version = Version::V2;
/// A version whose Retry key differs, which must reject this version's Retry.
const OTHER_VERSION: Version = Version::V1;

// A.1 Keys --------------------------------------------------------------------------------

const DCID: &str = "8394c8f03e515708";

/// (label, HkdfLabel as printed in A.1).
const HKDF_LABELS: [(&str, &str); 5] = [
    ("client in", "00200f746c73313320636c69656e7420696e00"),
    ("server in", "00200f746c7331332073657276657220696e00"),
    ("quicv2 key", "001010746c73313320717569637632206b657900"),
    ("quicv2 iv", "000c0f746c7331332071756963763220697600"),
    ("quicv2 hp", "00100f746c7331332071756963763220687000"),
];

const INITIAL_SECRET: &str = "2062e8b3cd8d52092614b8071d0aa1fb 7c2e3ac193f78b280e72d8f5751f6aba";

/// client_initial_secret, key, iv, hp.
const CLIENT_KEYS: [&str; 4] = [
    "14ec9d6eb9fd7af83bf5a668bc17a7e2 83766aade7ecd0891f70f9ff7f4bf47b",
    "8b1a0bc121284290a29e0971b5cd045d",
    "91f73e2351d8fa91660e909f",
    "45b95e15235d6f45a6b19cbcb0294ba9",
];

/// server_initial_secret, key, iv, hp.
const SERVER_KEYS: [&str; 4] = [
    "0263db1782731bf4588e7e4d93b74639 07cb8cd8200b5da55a8bd488eafc37c1",
    "82db637861d55e1d011f19ea71d5d2a7",
    "dd13c276499c0249d3310652",
    "edf6d05c83121201b436e16877593c3a",
];

// A.2 Client Initial ----------------------------------------------------------------------

const CLIENT_PAYLOAD_LEN: usize = 1162;
const CLIENT_HEADER: &str = "d36b3343cf088394c8f03e5157080000449e00000002";
/// First byte, version (4), DCID length and DCID (1 + 8), SCID length, token length, and the
/// 2-byte Length field: the packet number starts at 18.
const CLIENT_PN_OFFSET: usize = 18;
const CLIENT_SAMPLE: &str = "ffe67b6abcdb4298b485dd04de806071";
const CLIENT_MASK: &str = "94a0c95e80";
const CLIENT_HEADER_PROTECTED: &str = "d76b3343cf088394c8f03e5157080000449ea0c95e82";

// A.3 Server Initial ----------------------------------------------------------------------

const SERVER_HEADER: &str = "d16b3343cf0008f067a5502a4262b50040750001";
/// First byte, version, empty DCID, SCID (1 + 8), token length, Length (2).
const SERVER_PN_OFFSET: usize = 18;
const SERVER_SAMPLE: &str = "6f05d8a4398c47089698baeea26b91eb";
const SERVER_MASK: &str = "4dd92e91ea";
const SERVER_HEADER_PROTECTED: &str = "dc6b3343cf0008f067a5502a4262b5004075d92f";

// A.5 ChaCha20-Poly1305 Short Header Packet -----------------------------------------------

const CHACHA_SECRET: &str = "9ac312a7f877468ebe69422748ad00a1 5443f18203a07d6060f688f30f21632b";
const CHACHA_KEY: &str = "3bfcddd72bcf02541d7fa0dd1f5f9eee a817e09a6963a0e6c7df0f9a1bab90f2";
const CHACHA_IV: &str = "a6b5bc6ab7dafce30ffff5dd";
const CHACHA_HP: &str = "d659760d2ba434a226fd37b35c69e2da 8211d10c4f12538787d65645d5d1b8e2";
const CHACHA_KU: &str = "c69374c49e3d2a9466fa689e49d476db 5d0dfbc87d32ceeaa6343fd0ae4c7d88";
const CHACHA_PN: u64 = 654_360_564;
const CHACHA_NONCE: &str = "a6b5bc6ab7dafce328ff4a29";
const CHACHA_HEADER: &str = "4200bff4";
const CHACHA_CIPHERTEXT: &str = "0ae7b6b932bc27d786f4bc2bb20f2162ba";
const CHACHA_SAMPLE: &str = "e7b6b932bc27d786f4bc2bb20f2162ba";
const CHACHA_MASK: &str = "97580e32bf";
const CHACHA_HEADER_PROTECTED: &str = "5558b1c6";
const CHACHA_PACKET: &str = "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba";

// Long values: A.2 CRYPTO frame and protected packet, A.3 payload and packet, A.4 Retry ----

const CRYPTO_FRAME: &str = "\
    060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868\
    04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578\
    616d706c652e636f6dff01000100000a 00080006001d00170018001000070005\
    04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba\
    baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400\
    0d0010000e0403050306030203080408 050806002d00020101001c0002400100\
    3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000\
    75300901100f088394c8f03e51570806 048000ffff\
";
const CLIENT_INITIAL_PROTECTED: &str = "\
    d76b3343cf088394c8f03e5157080000 449ea0c95e82ffe67b6abcdb4298b485\
    dd04de806071bf03dceebfa162e75d6c 96058bdbfb127cdfcbf903388e99ad04\
    9f9a3dd4425ae4d0992cfff18ecf0fdb 5a842d09747052f17ac2053d21f57c5d\
    250f2c4f0e0202b70785b7946e992e58 a59ac52dea6774d4f03b55545243cf1a\
    12834e3f249a78d395e0d18f4d766004 f1a2674802a747eaa901c3f10cda5500\
    cb9122faa9f1df66c392079a1b40f0de 1c6054196a11cbea40afb6ef5253cd68\
    18f6625efce3b6def6ba7e4b37a40f77 32e093daa7d52190935b8da58976ff33\
    12ae50b187c1433c0f028edcc4c2838b 6a9bfc226ca4b4530e7a4ccee1bfa2a3\
    d396ae5a3fb512384b2fdd851f784a65 e03f2c4fbe11a53c7777c023462239dd\
    6f7521a3f6c7d5dd3ec9b3f233773d4b 46d23cc375eb198c63301c21801f6520\
    bcfb7966fc49b393f0061d974a2706df 8c4a9449f11d7f3d2dcbb90c6b877045\
    636e7c0c0fe4eb0f697545460c806910 d2c355f1d253bc9d2452aaa549e27a1f\
    ac7cf4ed77f322e8fa894b6a83810a34 b361901751a6f5eb65a0326e07de7c12\
    16ccce2d0193f958bb3850a833f7ae43 2b65bc5a53975c155aa4bcb4f7b2c4e5\
    4df16efaf6ddea94e2c50b4cd1dfe060 17e0e9d02900cffe1935e0491d77ffb4\
    fdf85290fdd893d577b1131a610ef6a5 c32b2ee0293617a37cbb08b847741c3b\
    8017c25ca9052ca1079d8b78aebd4787 6d330a30f6a8c6d61dd1ab5589329de7\
    14d19d61370f8149748c72f132f0fc99 f34d766c6938597040d8f9e2bb522ff9\
    9c63a344d6a2ae8aa8e51b7b90a4a806 105fcbca31506c446151adfeceb51b91\
    abfe43960977c87471cf9ad4074d30e1 0d6a7f03c63bd5d4317f68ff325ba3bd\
    80bf4dc8b52a0ba031758022eb025cdd 770b44d6d6cf0670f4e990b22347a7db\
    848265e3e5eb72dfe8299ad7481a4083 22cac55786e52f633b2fb6b614eaed18\
    d703dd84045a274ae8bfa73379661388 d6991fe39b0d93debb41700b41f90a15\
    c4d526250235ddcd6776fc77bc97e7a4 17ebcb31600d01e57f32162a8560cacc\
    7e27a096d37a1a86952ec71bd89a3e9a 30a2a26162984d7740f81193e8238e61\
    f6b5b984d4d3dfa033c1bb7e4f0037fe bf406d91c0dccf32acf423cfa1e70710\
    10d3f270121b493ce85054ef58bada42 310138fe081adb04e2bd901f2f13458b\
    3d6758158197107c14ebb193230cd115 7380aa79cae1374a7c1e5bbcb80ee23e\
    06ebfde206bfb0fcbc0edc4ebec30966 1bdd908d532eb0c6adc38b7ca7331dce\
    8dfce39ab71e7c32d318d136b6100671 a1ae6a6600e3899f31f0eed19e3417d1\
    34b90c9058f8632c798d4490da498730 7cba922d61c39805d072b589bd52fdf1\
    e86215c2d54e6670e07383a27bbffb5a ddf47d66aa85a0c6f9f32e59d85a44dd\
    5d3b22dc2be80919b490437ae4f36a0a e55edf1d0b5cb4e9a3ecabee93dfc6e3\
    8d209d0fa6536d27a5d6fbb17641cde2 7525d61093f1b28072d111b2b4ae5f89\
    d5974ee12e5cf7d5da4d6a31123041f3 3e61407e76cffcdcfd7e19ba58cf4b53\
    6f4c4938ae79324dc402894b44faf8af bab35282ab659d13c93f70412e85cb19\
    9a37ddec600545473cfb5a05e08d0b20 9973b2172b4d21fb69745a262ccde96b\
    a18b2faa745b6fe189cf772a9f84cbfc\
";
const SERVER_PAYLOAD: &str = "\
    02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739\
    88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94\
    0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00\
    020304\
";
const SERVER_INITIAL_PROTECTED: &str = "\
    dc6b3343cf0008f067a5502a4262b500 4075d92faaf16f05d8a4398c47089698\
    baeea26b91eb761d9b89237bbf872630 17915358230035f7fd3945d88965cf17\
    f9af6e16886c61bfc703106fbaf3cb4c fa52382dd16a393e42757507698075b2\
    c984c707f0a0812d8cd5a6881eaf21ce da98f4bd23f6fe1a3e2c43edd9ce7ca8\
    4bed8521e2e140\
";
const RETRY: &str = "\
    cf6b3343cf0008f067a5502a4262b574 6f6b656ec8646ce8bfe33952d9555436\
    65dcc7b6\
";

// ---------------------------------------------------------------------------------------
// Harness (the same in rfc9001_vectors.rs and rfc9369_vectors.rs; only the data differs).
// ---------------------------------------------------------------------------------------

/// Decodes hex, ignoring whitespace (the RFC prints packets in 16-byte groups).
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn dcid() -> ConnectionId {
    ConnectionId::new(&hex(DCID)).unwrap()
}

/// The client Initial payload: the CRYPTO frame followed by PADDING frames (zero bytes) up
/// to 1162 bytes.
fn client_payload() -> Vec<u8> {
    let mut payload = hex(CRYPTO_FRAME);
    assert!(payload.len() < CLIENT_PAYLOAD_LEN);
    payload.resize(CLIENT_PAYLOAD_LEN, 0);
    payload
}

/// Seals `header | payload` and applies header protection, as a sender does.
fn protect(
    keys: &DirectionalKeys,
    header: &[u8],
    pn_offset: usize,
    pn: u64,
    payload: &[u8],
) -> Vec<u8> {
    let mut packet = [header, payload, &[0; 16]].concat();
    keys.packet
        .seal_packet(PathId::ZERO, PacketNumber(pn), &mut packet, header.len())
        .unwrap();
    protect_header(&keys.header, &mut packet, pn_offset).unwrap();
    packet
}

/// What a receiver recovers from a packet: the unprotected header, the full packet number
/// and the plaintext.
#[derive(Debug, PartialEq)]
struct Opened {
    header: Vec<u8>,
    pn: PacketNumber,
    plaintext: Vec<u8>,
}

/// Removes header protection, decodes the packet number against `largest` and opens the
/// payload, as a receiver does.
fn unprotect(
    keys: &DirectionalKeys,
    packet: &[u8],
    pn_offset: usize,
    largest: Option<u64>,
) -> Result<Opened, CryptoError> {
    let mut packet = packet.to_vec();
    let truncated = unprotect_header(&keys.header, &mut packet, pn_offset)?.pn;
    let pn = truncated.decode(largest.map(PacketNumber));
    let header_len = pn_offset + truncated.len;
    let len = keys
        .packet
        .open_packet(PathId::ZERO, pn, &mut packet, header_len)?;
    Ok(Opened {
        header: packet[..header_len].to_vec(),
        pn,
        plaintext: packet[header_len..header_len + len].to_vec(),
    })
}

/// HKDF-Expand output length for ring, to check HkdfLabel encodings directly.
struct OkmLen(usize);

impl ring::hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

fn client_keys(side: Side) -> DirectionalKeys {
    let keys = initial_keys(VERSION, &dcid(), side).unwrap();
    match side {
        Side::Client => keys.local,
        Side::Server => keys.remote,
    }
}

fn server_keys(side: Side) -> DirectionalKeys {
    let keys = initial_keys(VERSION, &dcid(), side).unwrap();
    match side {
        Side::Server => keys.local,
        Side::Client => keys.remote,
    }
}

fn chacha_keys() -> DirectionalKeys {
    keys_from_secret(Suite::ChaCha20Poly1305, VERSION, &hex(CHACHA_SECRET)).unwrap()
}

// Keys ------------------------------------------------------------------------------------

#[test]
fn initial_secret_is_hkdf_extract_of_the_client_dcid_with_the_version_salt() {
    let params = VersionParams::for_version(VERSION).unwrap();
    let mut initial = [0u8; 32];
    hkdf_extract(HashAlg::Sha256, &params.initial_salt, &dcid(), &mut initial).unwrap();
    assert_eq!(initial.as_slice(), hex(INITIAL_SECRET));
}

#[test]
fn hkdf_expand_label_encodes_the_listed_hkdf_labels() {
    // Expanding with the HkdfLabel bytes printed in Appendix A.1 must match
    // hkdf_expand_label with the label name.
    let secret = hex(INITIAL_SECRET);
    let prk = ring::hkdf::Prk::new_less_safe(ring::hkdf::HKDF_SHA256, &secret);
    for (label, info) in HKDF_LABELS {
        let info = hex(info);
        let len = usize::from(u16::from_be_bytes([info[0], info[1]]));
        let mut expected = vec![0u8; len];
        prk.expand(&[&info], OkmLen(len))
            .unwrap()
            .fill(&mut expected)
            .unwrap();
        let mut ours = vec![0u8; len];
        hkdf_expand_label(HashAlg::Sha256, &secret, label.as_bytes(), &[], &mut ours).unwrap();
        assert_eq!(ours, expected, "label {label}");
    }
}

#[test]
fn initial_secrets_and_keys_match_for_both_sides() {
    let secrets = initial_secrets(VERSION, &dcid()).unwrap();
    for (secret, [s, key, iv, hp]) in [
        (&secrets.client, CLIENT_KEYS),
        (&secrets.server, SERVER_KEYS),
    ] {
        assert_eq!(secret.as_bytes(), hex(s));
        assert_eq!(secret.suite(), Suite::Aes128Gcm);
        assert_eq!(secret.version(), VERSION);
        let m = secret.key_material().unwrap();
        assert_eq!(m.key(), hex(key));
        assert_eq!(m.iv().as_slice(), hex(iv));
        assert_eq!(m.hp(), hex(hp));
    }
}

// Client Initial --------------------------------------------------------------------------

#[test]
fn client_initial_is_protected_byte_for_byte() {
    let keys = client_keys(Side::Client);
    assert_eq!(
        keys.header.mask(&hex(CLIENT_SAMPLE)).unwrap().as_slice(),
        hex(CLIENT_MASK)
    );
    let packet = protect(
        &keys,
        &hex(CLIENT_HEADER),
        CLIENT_PN_OFFSET,
        2,
        &client_payload(),
    );
    assert_eq!(packet.len(), 1200);
    assert_eq!(
        &packet[..CLIENT_PN_OFFSET + 4],
        hex(CLIENT_HEADER_PROTECTED)
    );
    assert_eq!(
        &packet[CLIENT_PN_OFFSET + 4..CLIENT_PN_OFFSET + 20],
        hex(CLIENT_SAMPLE)
    );
    assert_eq!(packet, hex(CLIENT_INITIAL_PROTECTED));
}

#[test]
fn client_initial_is_unprotected_by_the_server() {
    let opened = unprotect(
        &client_keys(Side::Server),
        &hex(CLIENT_INITIAL_PROTECTED),
        CLIENT_PN_OFFSET,
        None,
    )
    .unwrap();
    assert_eq!(opened.header, hex(CLIENT_HEADER));
    assert_eq!(opened.pn, PacketNumber(2));
    assert_eq!(opened.plaintext, client_payload());
}

// Server Initial --------------------------------------------------------------------------

#[test]
fn server_initial_is_protected_byte_for_byte() {
    let keys = server_keys(Side::Server);
    assert_eq!(
        keys.header.mask(&hex(SERVER_SAMPLE)).unwrap().as_slice(),
        hex(SERVER_MASK)
    );
    let packet = protect(
        &keys,
        &hex(SERVER_HEADER),
        SERVER_PN_OFFSET,
        1,
        &hex(SERVER_PAYLOAD),
    );
    assert_eq!(
        &packet[..SERVER_PN_OFFSET + 2],
        hex(SERVER_HEADER_PROTECTED)
    );
    assert_eq!(packet, hex(SERVER_INITIAL_PROTECTED));
}

#[test]
fn server_initial_is_unprotected_by_the_client() {
    let opened = unprotect(
        &server_keys(Side::Client),
        &hex(SERVER_INITIAL_PROTECTED),
        SERVER_PN_OFFSET,
        None,
    )
    .unwrap();
    assert_eq!(opened.header, hex(SERVER_HEADER));
    assert_eq!(opened.pn, PacketNumber(1));
    assert_eq!(opened.plaintext, hex(SERVER_PAYLOAD));
}

// Retry -----------------------------------------------------------------------------------

#[test]
fn retry_integrity_tag_is_computed_and_verified() {
    let retry = hex(RETRY);
    let (packet, tag) = retry.split_at(retry.len() - RETRY_TAG_LEN);
    assert_eq!(
        retry_integrity_tag(VERSION, &dcid(), packet)
            .unwrap()
            .as_slice(),
        tag
    );
    assert!(verify_retry_integrity(VERSION, &dcid(), &retry));
}

#[test]
fn retry_with_any_flipped_bit_or_another_odcid_is_rejected() {
    let retry = hex(RETRY);
    for i in 0..retry.len() * 8 {
        let mut bad = retry.clone();
        bad[i / 8] ^= 1 << (i % 8);
        assert!(!verify_retry_integrity(VERSION, &dcid(), &bad), "bit {i}");
    }
    let mut odcid = hex(DCID);
    odcid[0] ^= 1;
    let odcid = ConnectionId::new(&odcid).unwrap();
    assert!(!verify_retry_integrity(VERSION, &odcid, &retry));
    assert!(!verify_retry_integrity(OTHER_VERSION, &dcid(), &retry));
}

// ChaCha20-Poly1305 short header ----------------------------------------------------------

#[test]
fn chacha20_keys_key_update_secret_and_nonce_match() {
    let secret = Secret::new(Suite::ChaCha20Poly1305, VERSION, &hex(CHACHA_SECRET)).unwrap();
    let m = secret.key_material().unwrap();
    assert_eq!(m.key(), hex(CHACHA_KEY));
    assert_eq!(m.iv().as_slice(), hex(CHACHA_IV));
    assert_eq!(m.hp(), hex(CHACHA_HP));
    assert_eq!(secret.next().unwrap().as_bytes(), hex(CHACHA_KU));
    let n = nonce(m.iv(), PathId::ZERO, PacketNumber(CHACHA_PN)).unwrap();
    assert_eq!(n.as_slice(), hex(CHACHA_NONCE));
}

#[test]
fn chacha20_short_header_is_protected_byte_for_byte() {
    let keys = chacha_keys();
    assert_eq!(
        keys.header.mask(&hex(CHACHA_SAMPLE)).unwrap().as_slice(),
        hex(CHACHA_MASK)
    );
    let header = hex(CHACHA_HEADER);
    let packet = protect(&keys, &header, 1, CHACHA_PN, &[0x01]);
    assert_eq!(&packet[header.len()..], hex(CHACHA_CIPHERTEXT));
    assert_eq!(&packet[..header.len()], hex(CHACHA_HEADER_PROTECTED));
    assert_eq!(packet, hex(CHACHA_PACKET));
}

#[test]
fn chacha20_short_header_is_unprotected() {
    let opened = unprotect(&chacha_keys(), &hex(CHACHA_PACKET), 1, Some(CHACHA_PN - 1)).unwrap();
    assert_eq!(opened.header, hex(CHACHA_HEADER));
    assert_eq!(opened.pn, PacketNumber(CHACHA_PN));
    assert_eq!(opened.plaintext, [0x01]);
}

#[test]
fn updated_keys_replace_the_packet_key_only() {
    // RFC 9001 §6.1: after a key update the header protection key stays the same, so a
    // packet sealed with the next packet key still has its header removed by the old
    // header key, while the old packet key can no longer open it.
    let secret = Secret::new(Suite::ChaCha20Poly1305, VERSION, &hex(CHACHA_SECRET)).unwrap();
    let old = chacha_keys();
    let updated = DirectionalKeys {
        packet: RingPacketKey::from_secret(&secret.next().unwrap()).unwrap(),
        header: RingHeaderKey::from_material(&secret.key_material().unwrap()).unwrap(),
    };
    let header = hex(CHACHA_HEADER);
    let packet = protect(&updated, &header, 1, CHACHA_PN, &[0x01]);
    assert_ne!(packet, hex(CHACHA_PACKET));
    let opened = unprotect(&updated, &packet, 1, Some(CHACHA_PN - 1)).unwrap();
    assert_eq!(opened.header, header);
    assert_eq!(opened.plaintext, [0x01]);
    assert_eq!(
        unprotect(&old, &packet, 1, Some(CHACHA_PN - 1)),
        Err(CryptoError::DecryptFailed)
    );
}

// Negative tests --------------------------------------------------------------------------

/// Flips every bit of `packet` in turn (or those in `positions`) and checks the receiver
/// rejects each variant.
fn assert_every_flip_fails(
    keys: &DirectionalKeys,
    packet: &[u8],
    pn_offset: usize,
    largest: Option<u64>,
    positions: impl Iterator<Item = usize>,
) {
    for byte in positions {
        for bit in 0..8 {
            let mut bad = packet.to_vec();
            bad[byte] ^= 1 << bit;
            assert_eq!(
                unprotect(keys, &bad, pn_offset, largest),
                Err(CryptoError::DecryptFailed),
                "byte {byte} bit {bit}"
            );
        }
    }
}

#[test]
fn any_flipped_bit_in_the_short_header_packet_fails_to_open() {
    let packet = hex(CHACHA_PACKET);
    let len = packet.len();
    assert_every_flip_fails(&chacha_keys(), &packet, 1, Some(CHACHA_PN - 1), 0..len);
}

#[test]
fn any_flipped_bit_in_the_server_initial_fails_to_open() {
    let packet = hex(SERVER_INITIAL_PROTECTED);
    let len = packet.len();
    assert_every_flip_fails(
        &server_keys(Side::Client),
        &packet,
        SERVER_PN_OFFSET,
        None,
        0..len,
    );
}

#[test]
fn flipped_header_packet_number_ciphertext_or_tag_bits_fail_to_open_the_client_initial() {
    let packet = hex(CLIENT_INITIAL_PROTECTED);
    let len = packet.len();
    let positions = [
        0,                    // first byte (protected bits and the type)
        6,                    // Destination Connection ID
        CLIENT_PN_OFFSET - 1, // Length
        CLIENT_PN_OFFSET,     // packet number
        CLIENT_PN_OFFSET + 3, // packet number
        CLIENT_PN_OFFSET + 4, // ciphertext, inside the sample
        600,                  // ciphertext
        len - 17,             // last ciphertext byte
        len - 16,             // tag
        len - 1,              // tag
    ];
    assert_every_flip_fails(
        &client_keys(Side::Server),
        &packet,
        CLIENT_PN_OFFSET,
        None,
        positions.into_iter(),
    );
}

#[test]
fn packets_too_short_for_the_sample_fail_header_unprotection() {
    let keys = chacha_keys();
    let packet = hex(CHACHA_PACKET);
    for len in 0..packet.len() {
        let mut short = packet[..len].to_vec();
        assert_eq!(
            unprotect_header(&keys.header, &mut short, 1),
            Err(CryptoError::PacketTooShort),
            "length {len}"
        );
        assert_eq!(short, &packet[..len], "a rejected packet is left unchanged");
    }
    let keys = client_keys(Side::Server);
    let mut short = hex(CLIENT_INITIAL_PROTECTED)[..CLIENT_PN_OFFSET + 4 + 15].to_vec();
    assert_eq!(
        unprotect_header(&keys.header, &mut short, CLIENT_PN_OFFSET),
        Err(CryptoError::PacketTooShort)
    );
}

#[test]
fn a_truncated_client_initial_fails_to_open() {
    let packet = hex(CLIENT_INITIAL_PROTECTED);
    assert_eq!(
        unprotect(
            &client_keys(Side::Server),
            &packet[..1199],
            CLIENT_PN_OFFSET,
            None
        ),
        Err(CryptoError::DecryptFailed)
    );
}
