//! [`PacketKey`] and [`HeaderKey`] on ring, and the keys of a connection: Initial keys
//! (RFC 9001 §5.2, RFC 9369 §3.3.1) and keys from TLS secrets (RFC 9001 §5.1).

use core::fmt;

use ::ring::aead::{self, quic};
use ::ring::hkdf;

use super::hkdf::{expand_label_prk, hkdf_alg};
use super::{
    nonce, CryptoError, HashAlg, HeaderKey, KeyMaterial, PacketKey, Secret, Suite, VersionParams,
    MASK_LEN, NONCE_LEN, TAG_LEN,
};
use crate::{ConnectionId, PacketNumber, PathId, Side, Version};

/// An AEAD packet key and IV on ring (AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305).
pub struct RingPacketKey {
    suite: Suite,
    key: aead::LessSafeKey,
    iv: [u8; NONCE_LEN],
}

impl RingPacketKey {
    /// A key from raw key bytes (`suite.key_len()` of them) and an IV.
    pub fn new(suite: Suite, key: &[u8], iv: &[u8; NONCE_LEN]) -> Result<Self, CryptoError> {
        let alg = match suite {
            Suite::Aes128Gcm => &aead::AES_128_GCM,
            Suite::Aes256Gcm => &aead::AES_256_GCM,
            Suite::ChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
        };
        let key = aead::UnboundKey::new(alg, key).map_err(|_| CryptoError::BadLength)?;
        Ok(RingPacketKey {
            suite,
            key: aead::LessSafeKey::new(key),
            iv: *iv,
        })
    }

    /// The packet key of some derived key material.
    #[inline]
    pub fn from_material(m: &KeyMaterial) -> Result<Self, CryptoError> {
        Self::new(m.suite(), m.key(), m.iv())
    }

    /// The packet key of a secret. On key update (RFC 9001 §6.1) this is all that changes:
    /// `keys.packet = RingPacketKey::from_secret(&secret.next()?)?`, keeping `keys.header`.
    #[inline]
    pub fn from_secret(secret: &Secret) -> Result<Self, CryptoError> {
        Self::from_material(&secret.key_material()?)
    }

    fn ring_nonce(&self, path: PathId, pn: PacketNumber) -> Result<aead::Nonce, CryptoError> {
        // RFC 10069 §2.4; RFC 9001 §5.3 on path 0. One nonce per (path, packet number): the
        // caller never reuses a packet number on a path, so the nonce is unique for the key.
        Ok(aead::Nonce::assume_unique_for_key(nonce(
            &self.iv, path, pn,
        )?))
    }
}

impl PacketKey for RingPacketKey {
    #[inline]
    fn suite(&self) -> Suite {
        self.suite
    }

    fn seal(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        if tag.len() != TAG_LEN {
            return Err(CryptoError::BadLength);
        }
        let nonce = self.ring_nonce(path, pn)?;
        // RFC 9001 §5.3: the associated data is the header up to and including the
        // unprotected packet number.
        let t = self
            .key
            .seal_in_place_separate_tag(nonce, aead::Aad::from(header), payload)
            .map_err(|_| CryptoError::Backend)?;
        tag.copy_from_slice(t.as_ref());
        Ok(())
    }

    fn open(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload_and_tag: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if payload_and_tag.len() < TAG_LEN {
            return Err(CryptoError::PacketTooShort);
        }
        let nonce = self.ring_nonce(path, pn)?;
        self.key
            .open_in_place(nonce, aead::Aad::from(header), payload_and_tag)
            .map(|plain| plain.len())
            .map_err(|_| CryptoError::DecryptFailed)
    }
}

impl fmt::Debug for RingPacketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingPacketKey")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// A header protection key on ring: AES-ECB (RFC 9001 §5.4.3) or ChaCha20 (§5.4.4).
pub struct RingHeaderKey {
    suite: Suite,
    key: quic::HeaderProtectionKey,
}

impl RingHeaderKey {
    /// A key from raw bytes (`suite.hp_key_len()` of them).
    pub fn new(suite: Suite, hp: &[u8]) -> Result<Self, CryptoError> {
        let alg = match suite {
            Suite::Aes128Gcm => &quic::AES_128,
            Suite::Aes256Gcm => &quic::AES_256,
            Suite::ChaCha20Poly1305 => &quic::CHACHA20,
        };
        let key = quic::HeaderProtectionKey::new(alg, hp).map_err(|_| CryptoError::BadLength)?;
        Ok(RingHeaderKey { suite, key })
    }

    /// The header key of some derived key material.
    #[inline]
    pub fn from_material(m: &KeyMaterial) -> Result<Self, CryptoError> {
        Self::new(m.suite(), m.hp())
    }

    /// The suite of the key.
    #[inline]
    pub fn suite(&self) -> Suite {
        self.suite
    }
}

impl HeaderKey for RingHeaderKey {
    #[inline]
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
        // ring checks that the sample is exactly 16 bytes.
        self.key
            .new_mask(sample)
            .map_err(|_| CryptoError::PacketTooShort)
    }
}

impl fmt::Debug for RingHeaderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingHeaderKey")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// The keys of one direction at one encryption level.
#[derive(Debug)]
pub struct DirectionalKeys {
    /// Payload protection; replaced on key update.
    pub packet: RingPacketKey,
    /// Header protection; kept across key updates (RFC 9001 §6.1).
    pub header: RingHeaderKey,
}

impl DirectionalKeys {
    /// The keys derived from `secret`.
    pub fn from_secret(secret: &Secret) -> Result<Self, CryptoError> {
        let m = secret.key_material()?;
        Ok(DirectionalKeys {
            packet: RingPacketKey::from_material(&m)?,
            header: RingHeaderKey::from_material(&m)?,
        })
    }
}

/// The keys of both directions at one encryption level.
#[derive(Debug)]
pub struct Keys {
    /// Keys for the packets this endpoint sends.
    pub local: DirectionalKeys,
    /// Keys for the packets the peer sends.
    pub remote: DirectionalKeys,
}

/// The Initial secrets derived from the client's first Destination Connection ID.
#[derive(Debug, Clone)]
pub struct InitialSecrets {
    /// `client_initial_secret`: protects what the client sends.
    pub client: Secret,
    /// `server_initial_secret`: protects what the server sends.
    pub server: Secret,
}

/// The Initial secrets of `version` for `dcid`, the Destination Connection ID of the
/// client's first Initial (RFC 9001 §5.2; RFC 9369 §3.3.1 for the v2 salt):
///
/// ```text
/// initial_secret = HKDF-Extract(initial_salt, dcid)
/// client_initial_secret = HKDF-Expand-Label(initial_secret, "client in", "", 32)
/// server_initial_secret = HKDF-Expand-Label(initial_secret, "server in", "", 32)
/// ```
///
/// Initial packets always use AES-128-GCM with SHA-256.
pub fn initial_secrets(
    version: Version,
    dcid: &ConnectionId,
) -> Result<InitialSecrets, CryptoError> {
    const SUITE: Suite = Suite::Aes128Gcm;
    const LEN: usize = HashAlg::Sha256.output_len();
    let params = VersionParams::for_version(version).ok_or(CryptoError::UnsupportedVersion)?;
    let initial = with_initial_salt(params, |salt| salt.extract(dcid));
    let mut client = [0u8; LEN];
    let mut server = [0u8; LEN];
    expand_label_prk(&initial, b"client in", &[], &mut client)?;
    expand_label_prk(&initial, b"server in", &[], &mut server)?;
    Ok(InitialSecrets {
        client: Secret::new(SUITE, version, &client)?,
        server: Secret::new(SUITE, version, &server)?,
    })
}

/// Calls `f` with the HKDF salt of `params`' Initial salt (SHA-256, the only hash Initial
/// packets use). Keying HMAC with the salt hashes two padded blocks; with `std` that is done
/// once per version and process (the salt is a constant), else on every call.
fn with_initial_salt<R>(params: &VersionParams, f: impl FnOnce(&hkdf::Salt) -> R) -> R {
    let alg = hkdf_alg(HashAlg::Sha256);
    #[cfg(feature = "std")]
    {
        static V1: std::sync::OnceLock<hkdf::Salt> = std::sync::OnceLock::new();
        static V2: std::sync::OnceLock<hkdf::Salt> = std::sync::OnceLock::new();
        let cell = match params.version {
            Version::V1 => Some(&V1),
            Version::V2 => Some(&V2),
            _ => None,
        };
        if let Some(cell) = cell {
            return f(cell.get_or_init(|| hkdf::Salt::new(alg, &params.initial_salt)));
        }
    }
    f(&hkdf::Salt::new(alg, &params.initial_salt))
}

/// The Initial keys of `version` for `dcid` as seen by `side`: a client sends with the
/// client secret and receives with the server secret, a server the reverse (RFC 9001 §5.2).
pub fn initial_keys(
    version: Version,
    dcid: &ConnectionId,
    side: Side,
) -> Result<Keys, CryptoError> {
    let s = initial_secrets(version, dcid)?;
    let (local, remote) = match side {
        Side::Client => (&s.client, &s.server),
        Side::Server => (&s.server, &s.client),
    };
    Ok(Keys {
        local: DirectionalKeys::from_secret(local)?,
        remote: DirectionalKeys::from_secret(remote)?,
    })
}

/// The keys of one direction from a TLS traffic secret (RFC 9001 §5.1): Handshake, 0-RTT
/// and 1-RTT keys. For key updates keep a [`Secret`] and use [`Secret::next`].
pub fn keys_from_secret(
    suite: Suite,
    version: Version,
    secret: &[u8],
) -> Result<DirectionalKeys, CryptoError> {
    DirectionalKeys::from_secret(&Secret::new(suite, version, secret)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{protect_header, unprotect_header};
    use proptest::prelude::*;

    fn keys(suite: Suite) -> DirectionalKeys {
        let secret = [0x5c; 48];
        keys_from_secret(suite, Version::V1, &secret[..suite.secret_len()]).unwrap()
    }

    #[test]
    fn seal_then_open_round_trips_for_every_suite_and_path() {
        for suite in [Suite::Aes128Gcm, Suite::Aes256Gcm, Suite::ChaCha20Poly1305] {
            let k = keys(suite);
            for path in [PathId::ZERO, PathId(1), PathId::MAX] {
                let mut packet = [0u8; 5 + 40 + TAG_LEN];
                packet[..5].copy_from_slice(&[0x41, 1, 2, 3, 4]);
                packet[5..45].fill(0xab);
                let pn = PacketNumber(0x0102_0304);
                k.packet.seal_packet(path, pn, &mut packet, 5).unwrap();
                assert_ne!(&packet[5..45], &[0xab; 40][..]);
                let n = k.packet.open_packet(path, pn, &mut packet, 5).unwrap();
                assert_eq!(n, 40);
                assert_eq!(&packet[5..45], &[0xab; 40][..]);
            }
        }
    }

    #[test]
    fn a_packet_sealed_for_one_path_does_not_open_on_another() {
        let k = keys(Suite::Aes128Gcm);
        let mut packet = [0u8; 1 + 20 + TAG_LEN];
        packet[0] = 0x40;
        k.packet
            .seal_packet(PathId(1), PacketNumber(9), &mut packet, 1)
            .unwrap();
        assert_eq!(
            k.packet
                .open_packet(PathId(2), PacketNumber(9), &mut packet, 1),
            Err(CryptoError::DecryptFailed)
        );
    }

    #[test]
    fn bad_buffer_shapes_are_errors() {
        let k = keys(Suite::ChaCha20Poly1305);
        let mut small = [0u8; 10];
        assert_eq!(
            k.packet
                .seal_packet(PathId::ZERO, PacketNumber(0), &mut small, 1),
            Err(CryptoError::BadLength)
        );
        assert_eq!(
            k.packet
                .open_packet(PathId::ZERO, PacketNumber(0), &mut small, 1),
            Err(CryptoError::PacketTooShort)
        );
        assert_eq!(
            k.packet
                .open_packet(PathId::ZERO, PacketNumber(0), &mut small, 11),
            Err(CryptoError::BadLength)
        );
        let mut tag = [0u8; 15];
        assert_eq!(
            k.packet
                .seal(PathId::ZERO, PacketNumber(0), &[], &mut [], &mut tag),
            Err(CryptoError::BadLength)
        );
        assert!(RingPacketKey::new(Suite::Aes128Gcm, &[0; 32], &[0; 12]).is_err());
        assert!(RingHeaderKey::new(Suite::Aes256Gcm, &[0; 16]).is_err());
        assert_eq!(k.header.mask(&[0; 15]), Err(CryptoError::PacketTooShort));
    }

    #[test]
    fn initial_keys_pair_up_across_sides() {
        let dcid = ConnectionId::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        for version in Version::SUPPORTED {
            let client = initial_keys(version, &dcid, Side::Client).unwrap();
            let server = initial_keys(version, &dcid, Side::Server).unwrap();
            let mut packet = [0u8; 4 + 30 + TAG_LEN];
            packet[0] = 0xc0;
            client
                .local
                .packet
                .seal_packet(PathId::ZERO, PacketNumber(0), &mut packet, 4)
                .unwrap();
            server
                .remote
                .packet
                .open_packet(PathId::ZERO, PacketNumber(0), &mut packet, 4)
                .unwrap();
        }
        assert_eq!(
            initial_keys(Version(0x0a0a_0a0a), &dcid, Side::Client).unwrap_err(),
            CryptoError::UnsupportedVersion
        );
    }

    proptest! {
        /// Whatever the suite, path, packet number, header and payload, a sender's seal and
        /// header protection are undone exactly by a receiver with the same keys.
        #[test]
        fn protection_round_trips(
            suite in prop::sample::select(&[
                Suite::Aes128Gcm,
                Suite::Aes256Gcm,
                Suite::ChaCha20Poly1305,
            ][..]),
            path in any::<u32>(),
            pn in 0..=PacketNumber::MAX.0,
            pn_len in 1usize..=4,
            long in any::<bool>(),
            header_rest in prop::collection::vec(any::<u8>(), 0..40),
            payload in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let k = keys(suite);
            let first = if long { 0xc0 } else { 0x40 } | (pn_len as u8 - 1);
            let pn_offset = 1 + header_rest.len();
            let truncated = PacketNumber(pn).truncate_to(pn_len);
            let mut packet = std::vec![first];
            packet.extend_from_slice(&header_rest);
            packet.extend_from_slice(&[0; 4][..pn_len]);
            truncated.write(&mut packet[pn_offset..]).unwrap();
            let header_len = packet.len();
            packet.extend_from_slice(&payload);
            let plain = packet.clone();
            packet.extend_from_slice(&[0; TAG_LEN]);

            let path = PathId(path);
            let pn = PacketNumber(pn);
            k.packet.seal_packet(path, pn, &mut packet, header_len).unwrap();
            let sampled = protect_header(&k.header, &mut packet, pn_offset);
            if payload.len() + pn_len + TAG_LEN < 4 + crate::crypto::SAMPLE_LEN {
                // RFC 9001 §5.4.2: too short to sample; a sender pads first.
                prop_assert_eq!(sampled, Err(CryptoError::PacketTooShort));
                return Ok(());
            }
            sampled.unwrap();
            let got = unprotect_header(&k.header, &mut packet, pn_offset).unwrap().pn;
            prop_assert_eq!(got, truncated);
            let len = k.packet.open_packet(path, pn, &mut packet, header_len).unwrap();
            prop_assert_eq!(&packet[..header_len + len], &plain[..]);
        }
    }
}
