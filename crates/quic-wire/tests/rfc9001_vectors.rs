//! RFC 9001 Appendix A (Sample Packet Protection) reproduced byte for byte, both ways: the
//! keys of A.1, the client Initial of A.2, the server Initial of A.3, the Retry of A.4 and
//! the ChaCha20-Poly1305 short header packet of A.5, plus tampering and truncation.
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

const VERSION: Version = Version::V1;
/// A version whose Retry key differs, which must reject this version's Retry.
const OTHER_VERSION: Version = Version::V2;

// A.1 Keys --------------------------------------------------------------------------------

const DCID: &str = "8394c8f03e515708";

/// (label, HkdfLabel as printed in A.1).
const HKDF_LABELS: [(&str, &str); 5] = [
    ("client in", "00200f746c73313320636c69656e7420696e00"),
    ("server in", "00200f746c7331332073657276657220696e00"),
    ("quic key", "00100e746c7331332071756963206b657900"),
    ("quic iv", "000c0d746c733133207175696320697600"),
    ("quic hp", "00100d746c733133207175696320687000"),
];

const INITIAL_SECRET: &str = "7db5df06e7a69e432496adedb0085192 3595221596ae2ae9fb8115c1e9ed0a44";

/// client_initial_secret, key, iv, hp.
const CLIENT_KEYS: [&str; 4] = [
    "c00cf151ca5be075ed0ebfb5c80323c4 2d6b7db67881289af4008f1f6c357aea",
    "1f369613dd76d5467730efcbe3b1a22d",
    "fa044b2f42a3fd3b46fb255c",
    "9f50449e04a0e810283a1e9933adedd2",
];

/// server_initial_secret, key, iv, hp.
const SERVER_KEYS: [&str; 4] = [
    "3c199828fd139efd216c155ad844cc81 fb82fa8d7446fa7d78be803acdda951b",
    "cf3a5331653c364c88f0f379b6067e37",
    "0ac1493ca1905853b0bba03e",
    "c206b8d9b9f0f37644430b490eeaa314",
];

// A.2 Client Initial ----------------------------------------------------------------------

const CLIENT_PAYLOAD_LEN: usize = 1162;
const CLIENT_HEADER: &str = "c300000001088394c8f03e5157080000449e00000002";
/// First byte, version (4), DCID length and DCID (1 + 8), SCID length, token length, and the
/// 2-byte Length field: the packet number starts at 18.
const CLIENT_PN_OFFSET: usize = 18;
const CLIENT_SAMPLE: &str = "d1b1c98dd7689fb8ec11d242b123dc9b";
const CLIENT_MASK: &str = "437b9aec36";
const CLIENT_HEADER_PROTECTED: &str = "c000000001088394c8f03e5157080000449e7b9aec34";

// A.3 Server Initial ----------------------------------------------------------------------

const SERVER_HEADER: &str = "c1000000010008f067a5502a4262b50040750001";
/// First byte, version, empty DCID, SCID (1 + 8), token length, Length (2).
const SERVER_PN_OFFSET: usize = 18;
const SERVER_SAMPLE: &str = "2cd0991cd25b0aac406a5816b6394100";
const SERVER_MASK: &str = "2ec0d8356a";
const SERVER_HEADER_PROTECTED: &str = "cf000000010008f067a5502a4262b5004075c0d9";

// A.5 ChaCha20-Poly1305 Short Header Packet -----------------------------------------------

const CHACHA_SECRET: &str = "9ac312a7f877468ebe69422748ad00a1 5443f18203a07d6060f688f30f21632b";
const CHACHA_KEY: &str = "c6d98ff3441c3fe1b2182094f69caa2e d4b716b65488960a7a984979fb23e1c8";
const CHACHA_IV: &str = "e0459b3474bdd0e44a41c144";
const CHACHA_HP: &str = "25a282b9e82f06f21f488917a4fc8f1b 73573685608597d0efcb076b0ab7a7a4";
const CHACHA_KU: &str = "1223504755036d556342ee9361d25342 1a826c9ecdf3c7148684b36b714881f9";
const CHACHA_PN: u64 = 654_360_564;
const CHACHA_NONCE: &str = "e0459b3474bdd0e46d417eb0";
const CHACHA_HEADER: &str = "4200bff4";
const CHACHA_CIPHERTEXT: &str = "655e5cd55c41f69080575d7999c25a5bfb";
const CHACHA_SAMPLE: &str = "5e5cd55c41f69080575d7999c25a5bfb";
const CHACHA_MASK: &str = "aefefe7d03";
const CHACHA_HEADER_PROTECTED: &str = "4cfe4189";
const CHACHA_PACKET: &str = "4cfe4189655e5cd55c41f69080575d7999c25a5bfb";

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
    c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11\
    d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399\
    1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c\
    8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212\
    30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5\
    457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208\
    4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec\
    4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3\
    485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db\
    059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c\
    7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8\
    9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556\
    be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74\
    68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a\
    c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00\
    f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632\
    291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964\
    25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd\
    14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff\
    ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198\
    e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd\
    c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73\
    203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f\
    cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e\
    fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade\
    a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047\
    90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2\
    162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4\
    40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0\
    6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e\
    8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0\
    be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400\
    54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab\
    760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9\
    f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4\
    056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064\
    7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241\
    e221af44860018ab0856972e194cd934\
";
const SERVER_PAYLOAD: &str = "\
    02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739\
    88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94\
    0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00\
    020304\
";
const SERVER_INITIAL_PROTECTED: &str = "\
    cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a\
    5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3\
    dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84\
    022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4\
    2158407dd074ee\
";
const RETRY: &str = "\
    ff000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f\
    0f2496ba\
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
