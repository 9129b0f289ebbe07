//! Packet protection (RFC 9001 §5, RFC 9369 §3.3, RFC 10069 §2.4).
//!
//! This module is always compiled and has no cryptographic dependency: it defines the
//! [`PacketKey`] and [`HeaderKey`] traits, the [`Suite`]s QUIC uses, the AEAD nonce for a
//! (path, packet number) pair, the per-version constants ([`VersionParams`]) and the
//! header-protection transforms [`protect_header`] / [`unprotect_header`], which work for
//! any [`HeaderKey`]. With feature `ring`, the ring backend (below) provides the
//! implementations: HKDF-Expand-Label, Initial keys, key update and the Retry integrity tag.
//!
//! ## Order of operations
//! Sending (RFC 9001 §5.3, §5.4): write the header with its unprotected packet number and the
//! plaintext payload into one buffer, leaving [`PacketKey::tag_len`] bytes at the end; call
//! [`PacketKey::seal_packet`]; then [`protect_header`].
//!
//! Receiving: [`unprotect_header`] (which yields the truncated packet number and its length,
//! hence the header length), recover the full packet number
//! ([`TruncatedPacketNumber::decode`]), then [`PacketKey::open_packet`]. Nothing allocates
//! and every step works in place.
//!
//! [`TruncatedPacketNumber::decode`]: crate::pn::TruncatedPacketNumber::decode
//!
//! ## Multipath nonces
//! Every nonce takes a [`PathId`]. For path 0 the nonce is exactly the RFC 9001 §5.3 nonce, so
//! single-path connections and Initial/Handshake packets simply pass [`PathId::ZERO`].
//!
//! ## Ring backend
//! With feature `ring`: `RingPacketKey`, `RingHeaderKey`, `Secret` (with `Secret::next` for
//! key updates), `KeyMaterial`, `DirectionalKeys`, `Keys`, `initial_secrets`, `initial_keys`,
//! `keys_from_secret`, `hkdf_expand_label`, `retry_integrity_tag` and
//! `verify_retry_integrity`. Everything is built on ring 0.17 without allocation.

mod header;
mod params;

#[cfg(feature = "ring")]
mod hkdf;
#[cfg(feature = "ring")]
mod retry;
#[cfg(feature = "ring")]
mod ring;

pub use header::{protect_header, unprotect_header};
pub use params::VersionParams;

#[cfg(feature = "ring")]
pub use self::hkdf::{hkdf_expand_label, hkdf_extract, KeyMaterial, Secret, MAX_SECRET_LEN};
#[cfg(feature = "ring")]
pub use self::retry::{
    retry_integrity_tag, verify_retry_integrity, MAX_RETRY_PACKET_LEN, RETRY_TAG_LEN,
};
#[cfg(feature = "ring")]
pub use self::ring::{
    initial_keys, initial_secrets, keys_from_secret, DirectionalKeys, InitialSecrets, Keys,
    RingHeaderKey, RingPacketKey,
};

use crate::{PacketNumber, PathId};

/// Length of every AEAD nonce and IV QUIC uses (RFC 9001 §5.3; RFC 10069 §2.4 forbids
/// shorter nonces with multipath).
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag of every AEAD QUIC defines header protection for
/// (RFC 9001 §5.3).
pub const TAG_LEN: usize = 16;
/// Length of the ciphertext sample header protection takes (RFC 9001 §5.4.2).
pub const SAMPLE_LEN: usize = 16;
/// Length of a header-protection mask: one byte for the first byte, four for the packet
/// number (RFC 9001 §5.4.1).
pub const MASK_LEN: usize = 5;
/// Offset of the sample from the start of the Packet Number field: the packet number is
/// assumed to be 4 bytes long (RFC 9001 §5.4.2).
pub const SAMPLE_OFFSET: usize = 4;

/// Why a protection operation failed. Small and `Copy`; none of these carries secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The AEAD rejected the packet: wrong key, wrong packet number, or the header,
    /// ciphertext or tag was altered. RFC 9001 §5.3: such packets are discarded.
    #[error("packet failed authentication")]
    DecryptFailed,
    /// The packet is too short to hold a header-protection sample (RFC 9001 §5.4.2: "An
    /// endpoint MUST discard packets that are not long enough to contain a complete
    /// sample") or a tag.
    #[error("packet too short for its protection")]
    PacketTooShort,
    /// A buffer passed by the caller has the wrong size (header length beyond the packet,
    /// tag buffer not `tag_len()` bytes, secret of the wrong length).
    #[error("buffer of the wrong length")]
    BadLength,
    /// The packet number is above 2^62-1 (RFC 9000 §12.3), so it has no nonce.
    #[error("packet number above 2^62-1")]
    PacketNumberTooLarge,
    /// This crate has no keys, salts or labels for the version.
    #[error("QUIC version not supported")]
    UnsupportedVersion,
    /// A Retry packet longer than `MAX_RETRY_PACKET_LEN` (1500 bytes): its pseudo-packet does
    /// not fit the stack buffer.
    #[error("Retry packet too long")]
    RetryTooLong,
    /// The cryptographic backend refused an operation that should not fail (for example a
    /// key of the wrong length for the algorithm).
    #[error("cryptographic backend failure")]
    Backend,
}

/// The hash function of a TLS 1.3 cipher suite, used by HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

impl HashAlg {
    /// Output length in bytes, which is also the length of every secret derived with it.
    #[inline]
    pub const fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }
}

/// A TLS 1.3 cipher suite usable for QUIC packet protection (RFC 9001 §5.3: every TLS 1.3
/// suite except TLS_AES_128_CCM_8_SHA256; AES-128-CCM is not offered here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// TLS_AES_128_GCM_SHA256: AEAD_AES_128_GCM, AES-128 header protection. Also the Initial
    /// suite (RFC 9001 §5.2).
    Aes128Gcm,
    /// TLS_AES_256_GCM_SHA384: AEAD_AES_256_GCM, AES-256 header protection.
    Aes256Gcm,
    /// TLS_CHACHA20_POLY1305_SHA256: AEAD_CHACHA20_POLY1305, ChaCha20 header protection.
    ChaCha20Poly1305,
}

impl Suite {
    /// The suite with this TLS 1.3 cipher suite identifier (RFC 8446 Appendix B.4), if QUIC
    /// can use it.
    #[inline]
    pub const fn from_tls_id(id: u16) -> Option<Suite> {
        match id {
            0x1301 => Some(Suite::Aes128Gcm),
            0x1302 => Some(Suite::Aes256Gcm),
            0x1303 => Some(Suite::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// The hash of the suite (its HKDF hash).
    #[inline]
    pub const fn hash(self) -> HashAlg {
        match self {
            Suite::Aes256Gcm => HashAlg::Sha384,
            Suite::Aes128Gcm | Suite::ChaCha20Poly1305 => HashAlg::Sha256,
        }
    }

    /// Length of the traffic secrets of this suite (the hash length).
    #[inline]
    pub const fn secret_len(self) -> usize {
        self.hash().output_len()
    }

    /// Length of the AEAD key.
    #[inline]
    pub const fn key_len(self) -> usize {
        match self {
            Suite::Aes128Gcm => 16,
            Suite::Aes256Gcm | Suite::ChaCha20Poly1305 => 32,
        }
    }

    /// Length of the IV: the AEAD nonce length, 12 for all these suites (RFC 9001 §5.1).
    #[inline]
    pub const fn iv_len(self) -> usize {
        NONCE_LEN
    }

    /// Length of the header protection key: the AEAD key length (RFC 9001 §5.4.3, §5.4.4).
    #[inline]
    pub const fn hp_key_len(self) -> usize {
        self.key_len()
    }

    /// Length of the authentication tag (RFC 9001 §5.3: 16 for all these suites).
    #[inline]
    pub const fn tag_len(self) -> usize {
        TAG_LEN
    }

    /// How many packets one key may encrypt (RFC 9001 §6.6): 2^23 for AES-GCM; for
    /// ChaCha20-Poly1305 the limit exceeds the number of packet numbers, 2^62.
    #[inline]
    pub const fn confidentiality_limit(self) -> u64 {
        match self {
            Suite::Aes128Gcm | Suite::Aes256Gcm => 1 << 23,
            Suite::ChaCha20Poly1305 => 1 << 62,
        }
    }

    /// How many packets may fail authentication in a connection (RFC 9001 §6.6): 2^52 for
    /// AES-GCM, 2^36 for ChaCha20-Poly1305.
    #[inline]
    pub const fn integrity_limit(self) -> u64 {
        match self {
            Suite::Aes128Gcm | Suite::Aes256Gcm => 1 << 52,
            Suite::ChaCha20Poly1305 => 1 << 36,
        }
    }
}

/// The AEAD nonce for a packet: the IV XORed with the 96-bit Path-and-Packet-Number
/// (RFC 10069 §2.4): path ID (32 bits) | `0b00` | packet number (62 bits), in network byte
/// order. For path 0 this is the RFC 9001 §5.3 nonce (the packet number left-padded with
/// zeros).
///
/// Fails with [`CryptoError::PacketNumberTooLarge`] above 2^62-1, where the packet number
/// would overlap the path ID.
#[inline]
pub fn nonce(
    iv: &[u8; NONCE_LEN],
    path: PathId,
    pn: PacketNumber,
) -> Result<[u8; NONCE_LEN], CryptoError> {
    if pn > PacketNumber::MAX {
        return Err(CryptoError::PacketNumberTooLarge);
    }
    let mut ppn = [0u8; NONCE_LEN];
    let (path_bytes, pn_bytes) = ppn.split_at_mut(4);
    path_bytes.copy_from_slice(&path.as_u32().to_be_bytes());
    pn_bytes.copy_from_slice(&pn.as_u64().to_be_bytes());
    let mut out = *iv;
    for (o, p) in out.iter_mut().zip(ppn) {
        *o ^= p;
    }
    Ok(out)
}

/// An AEAD packet protection key for one direction (RFC 9001 §5.3), with its IV.
///
/// Every operation takes the [`PathId`] the packet travels on, which goes into the nonce
/// (RFC 10069 §2.4); pass [`PathId::ZERO`] without multipath. Implementations work in place
/// and must not allocate.
pub trait PacketKey: Send + Sync {
    /// The cipher suite of the key.
    fn suite(&self) -> Suite;

    /// Bytes the AEAD adds to a payload.
    #[inline]
    fn tag_len(&self) -> usize {
        self.suite().tag_len()
    }

    /// Packets one key may protect (RFC 9001 §6.6); the endpoint must update keys first.
    #[inline]
    fn confidentiality_limit(&self) -> u64 {
        self.suite().confidentiality_limit()
    }

    /// Packets that may fail authentication over a connection (RFC 9001 §6.6).
    #[inline]
    fn integrity_limit(&self) -> u64 {
        self.suite().integrity_limit()
    }

    /// Encrypts `payload` in place, with `header` (up to and including the unprotected
    /// packet number) as associated data, and writes the tag into `tag`, which must be
    /// [`tag_len`](Self::tag_len) bytes long.
    fn seal(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError>;

    /// Decrypts `payload_and_tag` (ciphertext followed by the tag) in place and returns the
    /// plaintext length; the plaintext is `payload_and_tag[..len]`. On failure the buffer
    /// holds no usable data.
    fn open(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload_and_tag: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// Seals a whole packet in place: `packet` is header (`header_len` bytes) | plaintext
    /// payload | [`tag_len`](Self::tag_len) bytes of room, and the tag is written into the
    /// room at the end.
    #[inline]
    fn seal_packet(
        &self,
        path: PathId,
        pn: PacketNumber,
        packet: &mut [u8],
        header_len: usize,
    ) -> Result<(), CryptoError> {
        let tag_at = packet
            .len()
            .checked_sub(self.tag_len())
            .filter(|&at| at >= header_len)
            .ok_or(CryptoError::BadLength)?;
        let (rest, tag) = packet.split_at_mut(tag_at);
        let (header, payload) = rest.split_at_mut(header_len);
        self.seal(path, pn, header, payload, tag)
    }

    /// Opens a whole packet in place: `packet` is header (`header_len` bytes, header
    /// protection already removed) | ciphertext | tag. Returns the plaintext length; the
    /// plaintext is `packet[header_len..header_len + len]`.
    #[inline]
    fn open_packet(
        &self,
        path: PathId,
        pn: PacketNumber,
        packet: &mut [u8],
        header_len: usize,
    ) -> Result<usize, CryptoError> {
        if header_len > packet.len() {
            return Err(CryptoError::BadLength);
        }
        let (header, body) = packet.split_at_mut(header_len);
        self.open(path, pn, header, body)
    }
}

/// A header protection key for one direction (RFC 9001 §5.4). Header keys are not changed
/// by key updates (RFC 9001 §6.1).
pub trait HeaderKey: Send + Sync {
    /// The 5-byte mask for a [`SAMPLE_LEN`]-byte ciphertext sample: AES-ECB of the sample
    /// (RFC 9001 §5.4.3) or ChaCha20 keyed by it (§5.4.4). Fails when `sample` is not
    /// [`SAMPLE_LEN`] bytes.
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError>;
}

impl<T: PacketKey + ?Sized> PacketKey for &T {
    fn suite(&self) -> Suite {
        (**self).suite()
    }
    fn seal(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        (**self).seal(path, pn, header, payload, tag)
    }
    fn open(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload_and_tag: &mut [u8],
    ) -> Result<usize, CryptoError> {
        (**self).open(path, pn, header, payload_and_tag)
    }
}

impl<T: HeaderKey + ?Sized> HeaderKey for &T {
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
        (**self).mask(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_matches_the_multipath_example() {
        // RFC 10069 §2.4, Figure "Example Nonce Calculation".
        let iv = [
            0x6b, 0x26, 0x11, 0x4b, 0x9c, 0xba, 0x2b, 0x63, 0xa9, 0xe8, 0xdd, 0x4f,
        ];
        let n = nonce(&iv, PathId(3), PacketNumber(54321)).unwrap();
        assert_eq!(
            n,
            [0x6b, 0x26, 0x11, 0x48, 0x9c, 0xba, 0x2b, 0x63, 0xa9, 0xe8, 0x09, 0x7e]
        );
    }

    #[test]
    fn nonce_on_path_zero_is_the_rfc9001_nonce() {
        // RFC 9001 Appendix A.5: iv e0459b3474bdd0e44a41c144, pn 654360564.
        let iv = [
            0xe0, 0x45, 0x9b, 0x34, 0x74, 0xbd, 0xd0, 0xe4, 0x4a, 0x41, 0xc1, 0x44,
        ];
        let n = nonce(&iv, PathId::ZERO, PacketNumber(654_360_564)).unwrap();
        assert_eq!(
            n,
            [0xe0, 0x45, 0x9b, 0x34, 0x74, 0xbd, 0xd0, 0xe4, 0x6d, 0x41, 0x7e, 0xb0]
        );
    }

    #[test]
    fn nonce_rejects_packet_numbers_that_would_overlap_the_path_id() {
        let iv = [0; NONCE_LEN];
        let top = nonce(&iv, PathId::ZERO, PacketNumber::MAX).unwrap();
        assert_eq!(top[3], 0);
        assert_eq!(top[4], 0x3f);
        assert_eq!(
            nonce(&iv, PathId::ZERO, PacketNumber(1 << 62)),
            Err(CryptoError::PacketNumberTooLarge)
        );
        // Distinct paths give distinct nonces for the same packet number.
        assert_ne!(
            nonce(&iv, PathId(1), PacketNumber(7)).unwrap(),
            nonce(&iv, PathId(2), PacketNumber(7)).unwrap()
        );
    }

    #[test]
    fn suites_have_their_rfc_parameters() {
        assert_eq!(Suite::from_tls_id(0x1301), Some(Suite::Aes128Gcm));
        assert_eq!(Suite::from_tls_id(0x1302), Some(Suite::Aes256Gcm));
        assert_eq!(Suite::from_tls_id(0x1303), Some(Suite::ChaCha20Poly1305));
        assert_eq!(Suite::from_tls_id(0x1304), None); // CCM: no QUIC header protection here
        assert_eq!(Suite::Aes256Gcm.secret_len(), 48);
        assert_eq!(Suite::ChaCha20Poly1305.key_len(), 32);
        assert_eq!(Suite::Aes128Gcm.hp_key_len(), 16);
        assert_eq!(Suite::Aes128Gcm.confidentiality_limit(), 1 << 23);
        assert_eq!(Suite::ChaCha20Poly1305.integrity_limit(), 1 << 36);
    }
}
