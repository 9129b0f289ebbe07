//! Checks shared by `rfc9001_vectors.rs` (QUIC v1) and `rfc9369_vectors.rs` (QUIC v2).
//!
//! Both RFCs give the same Appendix A walk-through (the Initial keys, a client Initial, a
//! server Initial, a Retry and a ChaCha20-Poly1305 short header packet) with different
//! values. The values live in each test file as a [`Vectors`]; every check here takes one and
//! runs the same steps for either version.
//!
//! Cargo does not build `tests/common/mod.rs` as a test target of its own; each test file
//! pulls it in with `mod common;`.

use quic_wire::crypto::{
    hkdf_expand_label, hkdf_extract, initial_keys, initial_secrets, keys_from_secret, nonce,
    protect_header, retry_integrity_tag, unprotect_header, verify_retry_integrity, CryptoError,
    DirectionalKeys, HashAlg, HeaderKey, PacketKey, RingHeaderKey, RingPacketKey, Secret, Suite,
    VersionParams, RETRY_TAG_LEN,
};
use quic_wire::{ConnectionId, PacketNumber, PathId, Side, Version};

/// One RFC's Appendix A. Hex strings may contain white space, as the RFCs print long values in
/// groups.
pub struct Vectors {
    /// The version the appendix is written for.
    pub version: Version,
    /// A version with another Retry key, which must not accept this version's Retry.
    pub other_version: Version,
    /// The client's Destination Connection ID that every Initial secret derives from.
    pub dcid: &'static str,
    /// Each label with the HkdfLabel structure printed for it (length, label, empty context).
    pub hkdf_labels: [(&'static str, &'static str); 5],
    /// `initial_secret`, from HKDF-Extract of the DCID with the version's salt.
    pub initial_secret: &'static str,
    /// What the client's Initial secret expands to.
    pub client_keys: InitialKeys,
    /// What the server's Initial secret expands to.
    pub server_keys: InitialKeys,
    /// The client's first Initial.
    pub client: InitialPacket,
    /// The CRYPTO frame that the client Initial carries before its PADDING.
    pub crypto_frame: &'static str,
    /// The client Initial payload length once PADDING is added.
    pub client_payload_len: usize,
    /// The server's first Initial.
    pub server: InitialPacket,
    /// The server Initial payload (ACK and CRYPTO frames).
    pub server_payload: &'static str,
    /// A Retry, integrity tag included, sent in reply to the client Initial.
    pub retry: &'static str,
    /// The ChaCha20-Poly1305 short header packet.
    pub chacha: ChaChaVectors,
}

/// One side's Initial secret and the packet protection material derived from it.
pub struct InitialKeys {
    pub secret: &'static str,
    pub key: &'static str,
    pub iv: &'static str,
    pub hp: &'static str,
}

/// An Initial packet before and after protection.
pub struct InitialPacket {
    /// The unprotected header, packet number included.
    pub header: &'static str,
    /// Where the packet number starts. The RFCs give the header unprotected, so the test
    /// files state this rather than parsing it.
    pub pn_offset: usize,
    /// The header protection sample taken from the ciphertext.
    pub sample: &'static str,
    /// The mask header protection derives from the sample.
    pub mask: &'static str,
    /// The header once protected.
    pub header_protected: &'static str,
    /// The whole protected packet.
    pub packet: &'static str,
}

/// The ChaCha20-Poly1305 short header example.
pub struct ChaChaVectors {
    pub secret: &'static str,
    pub key: &'static str,
    pub iv: &'static str,
    pub hp: &'static str,
    /// The secret after one key update.
    pub ku: &'static str,
    /// The full packet number of the example packet.
    pub pn: u64,
    pub nonce: &'static str,
    /// The unprotected header (packet number offset 1).
    pub header: &'static str,
    /// The sealed payload (a single PING frame) with its tag.
    pub ciphertext: &'static str,
    pub sample: &'static str,
    pub mask: &'static str,
    pub header_protected: &'static str,
    pub packet: &'static str,
}

// Helpers ---------------------------------------------------------------------------------

/// Decodes hex, skipping white space.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn dcid(v: &Vectors) -> ConnectionId {
    ConnectionId::new(&hex(v.dcid)).unwrap()
}

/// The client Initial payload: the CRYPTO frame, then zero bytes (PADDING frames) up to the
/// stated payload length.
fn client_payload(v: &Vectors) -> Vec<u8> {
    let mut payload = hex(v.crypto_frame);
    assert!(payload.len() < v.client_payload_len);
    payload.resize(v.client_payload_len, 0);
    payload
}

/// The sender's side: seals `header | payload`, then protects the header.
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

/// The receiver's view of an opened packet.
#[derive(Debug, PartialEq)]
struct Opened {
    header: Vec<u8>,
    pn: PacketNumber,
    plaintext: Vec<u8>,
}

/// The receiver's side: strips header protection, expands the packet number relative to
/// `largest`, then opens the payload.
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

/// An output length for ring's HKDF-Expand, so the printed HkdfLabel bytes can be fed to it
/// as they are.
struct OkmLen(usize);

impl ring::hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// The keys protecting client Initials, as held by `side`.
fn client_keys(v: &Vectors, side: Side) -> DirectionalKeys {
    let keys = initial_keys(v.version, &dcid(v), side).unwrap();
    match side {
        Side::Client => keys.local,
        Side::Server => keys.remote,
    }
}

/// The keys protecting server Initials, as held by `side`.
fn server_keys(v: &Vectors, side: Side) -> DirectionalKeys {
    let keys = initial_keys(v.version, &dcid(v), side).unwrap();
    match side {
        Side::Server => keys.local,
        Side::Client => keys.remote,
    }
}

fn chacha_keys(v: &Vectors) -> DirectionalKeys {
    keys_from_secret(Suite::ChaCha20Poly1305, v.version, &hex(v.chacha.secret)).unwrap()
}

/// Flips each bit of the bytes at `positions` in turn and checks that the receiver rejects
/// every variant.
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

// Keys ------------------------------------------------------------------------------------

pub fn initial_secret_is_hkdf_extract_of_the_client_dcid_with_the_version_salt(v: &Vectors) {
    let params = VersionParams::for_version(v.version).unwrap();
    let mut initial = [0u8; 32];
    hkdf_extract(
        HashAlg::Sha256,
        &params.initial_salt,
        &dcid(v),
        &mut initial,
    )
    .unwrap();
    assert_eq!(initial.as_slice(), hex(v.initial_secret));
}

pub fn hkdf_expand_label_encodes_the_listed_hkdf_labels(v: &Vectors) {
    // Feeding ring the HkdfLabel bytes exactly as printed must give what hkdf_expand_label
    // produces from the bare label.
    let secret = hex(v.initial_secret);
    let prk = ring::hkdf::Prk::new_less_safe(ring::hkdf::HKDF_SHA256, &secret);
    for (label, info) in v.hkdf_labels {
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

pub fn initial_secrets_and_keys_match_for_both_sides(v: &Vectors) {
    let secrets = initial_secrets(v.version, &dcid(v)).unwrap();
    for (secret, expected) in [
        (&secrets.client, &v.client_keys),
        (&secrets.server, &v.server_keys),
    ] {
        assert_eq!(secret.as_bytes(), hex(expected.secret));
        assert_eq!(secret.suite(), Suite::Aes128Gcm);
        assert_eq!(secret.version(), v.version);
        let m = secret.key_material().unwrap();
        assert_eq!(m.key(), hex(expected.key));
        assert_eq!(m.iv().as_slice(), hex(expected.iv));
        assert_eq!(m.hp(), hex(expected.hp));
    }
}

// Client Initial --------------------------------------------------------------------------

pub fn client_initial_is_protected_byte_for_byte(v: &Vectors) {
    let c = &v.client;
    let keys = client_keys(v, Side::Client);
    assert_eq!(
        keys.header.mask(&hex(c.sample)).unwrap().as_slice(),
        hex(c.mask)
    );
    let packet = protect(&keys, &hex(c.header), c.pn_offset, 2, &client_payload(v));
    assert_eq!(packet.len(), 1200);
    assert_eq!(&packet[..c.pn_offset + 4], hex(c.header_protected));
    assert_eq!(&packet[c.pn_offset + 4..c.pn_offset + 20], hex(c.sample));
    assert_eq!(packet, hex(c.packet));
}

pub fn client_initial_is_unprotected_by_the_server(v: &Vectors) {
    let c = &v.client;
    let opened = unprotect(
        &client_keys(v, Side::Server),
        &hex(c.packet),
        c.pn_offset,
        None,
    )
    .unwrap();
    assert_eq!(opened.header, hex(c.header));
    assert_eq!(opened.pn, PacketNumber(2));
    assert_eq!(opened.plaintext, client_payload(v));
}

// Server Initial --------------------------------------------------------------------------

pub fn server_initial_is_protected_byte_for_byte(v: &Vectors) {
    let s = &v.server;
    let keys = server_keys(v, Side::Server);
    assert_eq!(
        keys.header.mask(&hex(s.sample)).unwrap().as_slice(),
        hex(s.mask)
    );
    let packet = protect(
        &keys,
        &hex(s.header),
        s.pn_offset,
        1,
        &hex(v.server_payload),
    );
    assert_eq!(&packet[..s.pn_offset + 2], hex(s.header_protected));
    assert_eq!(packet, hex(s.packet));
}

pub fn server_initial_is_unprotected_by_the_client(v: &Vectors) {
    let s = &v.server;
    let opened = unprotect(
        &server_keys(v, Side::Client),
        &hex(s.packet),
        s.pn_offset,
        None,
    )
    .unwrap();
    assert_eq!(opened.header, hex(s.header));
    assert_eq!(opened.pn, PacketNumber(1));
    assert_eq!(opened.plaintext, hex(v.server_payload));
}

// Retry -----------------------------------------------------------------------------------

pub fn retry_integrity_tag_is_computed_and_verified(v: &Vectors) {
    let retry = hex(v.retry);
    let (packet, tag) = retry.split_at(retry.len() - RETRY_TAG_LEN);
    assert_eq!(
        retry_integrity_tag(v.version, &dcid(v), packet)
            .unwrap()
            .as_slice(),
        tag
    );
    assert!(verify_retry_integrity(v.version, &dcid(v), &retry));
}

pub fn retry_with_any_flipped_bit_or_another_odcid_is_rejected(v: &Vectors) {
    let retry = hex(v.retry);
    for i in 0..retry.len() * 8 {
        let mut bad = retry.clone();
        bad[i / 8] ^= 1 << (i % 8);
        assert!(
            !verify_retry_integrity(v.version, &dcid(v), &bad),
            "bit {i}"
        );
    }
    let mut odcid = hex(v.dcid);
    odcid[0] ^= 1;
    let odcid = ConnectionId::new(&odcid).unwrap();
    assert!(!verify_retry_integrity(v.version, &odcid, &retry));
    assert!(!verify_retry_integrity(v.other_version, &dcid(v), &retry));
}

// ChaCha20-Poly1305 short header ----------------------------------------------------------

pub fn chacha20_keys_key_update_secret_and_nonce_match(v: &Vectors) {
    let c = &v.chacha;
    let secret = Secret::new(Suite::ChaCha20Poly1305, v.version, &hex(c.secret)).unwrap();
    let m = secret.key_material().unwrap();
    assert_eq!(m.key(), hex(c.key));
    assert_eq!(m.iv().as_slice(), hex(c.iv));
    assert_eq!(m.hp(), hex(c.hp));
    assert_eq!(secret.next().unwrap().as_bytes(), hex(c.ku));
    let n = nonce(m.iv(), PathId::ZERO, PacketNumber(c.pn)).unwrap();
    assert_eq!(n.as_slice(), hex(c.nonce));
}

pub fn chacha20_short_header_is_protected_byte_for_byte(v: &Vectors) {
    let c = &v.chacha;
    let keys = chacha_keys(v);
    assert_eq!(
        keys.header.mask(&hex(c.sample)).unwrap().as_slice(),
        hex(c.mask)
    );
    let header = hex(c.header);
    let packet = protect(&keys, &header, 1, c.pn, &[0x01]);
    assert_eq!(&packet[header.len()..], hex(c.ciphertext));
    assert_eq!(&packet[..header.len()], hex(c.header_protected));
    assert_eq!(packet, hex(c.packet));
}

pub fn chacha20_short_header_is_unprotected(v: &Vectors) {
    let c = &v.chacha;
    let opened = unprotect(&chacha_keys(v), &hex(c.packet), 1, Some(c.pn - 1)).unwrap();
    assert_eq!(opened.header, hex(c.header));
    assert_eq!(opened.pn, PacketNumber(c.pn));
    assert_eq!(opened.plaintext, [0x01]);
}

pub fn updated_keys_replace_the_packet_key_only(v: &Vectors) {
    // A key update (RFC 9001 §6.1, which RFC 9369 keeps) changes the packet key but not the
    // header protection key: the old header key still strips the header of a packet sealed
    // under the next packet key, and the old packet key fails to open it.
    let c = &v.chacha;
    let secret = Secret::new(Suite::ChaCha20Poly1305, v.version, &hex(c.secret)).unwrap();
    let old = chacha_keys(v);
    let updated = DirectionalKeys {
        packet: RingPacketKey::from_secret(&secret.next().unwrap()).unwrap(),
        header: RingHeaderKey::from_material(&secret.key_material().unwrap()).unwrap(),
    };
    let header = hex(c.header);
    let packet = protect(&updated, &header, 1, c.pn, &[0x01]);
    assert_ne!(packet, hex(c.packet));
    let opened = unprotect(&updated, &packet, 1, Some(c.pn - 1)).unwrap();
    assert_eq!(opened.header, header);
    assert_eq!(opened.plaintext, [0x01]);
    assert_eq!(
        unprotect(&old, &packet, 1, Some(c.pn - 1)),
        Err(CryptoError::DecryptFailed)
    );
}

// Negative tests --------------------------------------------------------------------------

pub fn any_flipped_bit_in_the_short_header_packet_fails_to_open(v: &Vectors) {
    let packet = hex(v.chacha.packet);
    let len = packet.len();
    assert_every_flip_fails(&chacha_keys(v), &packet, 1, Some(v.chacha.pn - 1), 0..len);
}

pub fn any_flipped_bit_in_the_server_initial_fails_to_open(v: &Vectors) {
    let packet = hex(v.server.packet);
    let len = packet.len();
    assert_every_flip_fails(
        &server_keys(v, Side::Client),
        &packet,
        v.server.pn_offset,
        None,
        0..len,
    );
}

pub fn flipped_header_packet_number_ciphertext_or_tag_bits_fail_to_open_the_client_initial(
    v: &Vectors,
) {
    let packet = hex(v.client.packet);
    let len = packet.len();
    let pn_offset = v.client.pn_offset;
    let positions = [
        0,             // first byte: type and the protected low bits
        6,             // inside the Destination Connection ID
        pn_offset - 1, // Length field
        pn_offset,     // first packet number byte
        pn_offset + 3, // last packet number byte
        pn_offset + 4, // ciphertext, within the sample
        600,           // ciphertext
        len - 17,      // final ciphertext byte
        len - 16,      // first tag byte
        len - 1,       // last tag byte
    ];
    assert_every_flip_fails(
        &client_keys(v, Side::Server),
        &packet,
        pn_offset,
        None,
        positions.into_iter(),
    );
}

pub fn packets_too_short_for_the_sample_fail_header_unprotection(v: &Vectors) {
    let keys = chacha_keys(v);
    let packet = hex(v.chacha.packet);
    for len in 0..packet.len() {
        let mut short = packet[..len].to_vec();
        assert_eq!(
            unprotect_header(&keys.header, &mut short, 1),
            Err(CryptoError::PacketTooShort),
            "length {len}"
        );
        assert_eq!(short, &packet[..len], "a rejected packet is left unchanged");
    }
    let pn_offset = v.client.pn_offset;
    let keys = client_keys(v, Side::Server);
    let mut short = hex(v.client.packet)[..pn_offset + 4 + 15].to_vec();
    assert_eq!(
        unprotect_header(&keys.header, &mut short, pn_offset),
        Err(CryptoError::PacketTooShort)
    );
}

pub fn a_truncated_client_initial_fails_to_open(v: &Vectors) {
    let packet = hex(v.client.packet);
    assert_eq!(
        unprotect(
            &client_keys(v, Side::Server),
            &packet[..1199],
            v.client.pn_offset,
            None
        ),
        Err(CryptoError::DecryptFailed)
    );
}
