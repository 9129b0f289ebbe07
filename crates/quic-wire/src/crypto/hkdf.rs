//! HKDF-Extract and HKDF-Expand-Label (RFC 8446 §7.1) on ring, and traffic [`Secret`]s.

use core::fmt;

use ::ring::{hkdf, hmac};

use super::{CryptoError, HashAlg, Suite, VersionParams, NONCE_LEN};
use crate::Version;

/// Length of the longest secret (SHA-384 output).
pub const MAX_SECRET_LEN: usize = 48;
/// Length of the longest AEAD or header protection key (AES-256, ChaCha20).
const MAX_KEY_LEN: usize = 32;
/// Every TLS 1.3 label starts with this (RFC 8446 §7.1).
const LABEL_PREFIX: &[u8] = b"tls13 ";

pub(super) const fn hkdf_alg(hash: HashAlg) -> hkdf::Algorithm {
    match hash {
        HashAlg::Sha256 => hkdf::HKDF_SHA256,
        HashAlg::Sha384 => hkdf::HKDF_SHA384,
    }
}

/// Output length for ring's `Prk::expand`.
struct OkmLen(usize);

impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Extract (RFC 5869 §2.2): writes `HMAC-Hash(salt, ikm)` into `out`, which must be
/// exactly the hash length. Used for the Initial secret (RFC 9001 §5.2).
pub fn hkdf_extract(
    hash: HashAlg,
    salt: &[u8],
    ikm: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    if out.len() != hash.output_len() {
        return Err(CryptoError::BadLength);
    }
    let key = hmac::Key::new(hkdf_alg(hash).hmac_algorithm(), salt);
    out.copy_from_slice(hmac::sign(&key, ikm).as_ref());
    Ok(())
}

/// HKDF-Expand-Label (RFC 8446 §7.1): HKDF-Expand(secret, HkdfLabel, out.len()) where
/// HkdfLabel is the output length (16 bits), `"tls13 " + label` and `context`, each with an
/// 8-bit length prefix. Fills `out` completely.
///
/// The HkdfLabel is passed to ring in pieces, so nothing is copied or allocated. Fails with
/// [`CryptoError::BadLength`] when the label or context exceed 255 bytes or `out` is longer
/// than HKDF allows (255 hash lengths).
pub fn hkdf_expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    expand_label_prk(
        &hkdf::Prk::new_less_safe(hkdf_alg(hash), secret),
        label,
        context,
        out,
    )
}

/// [`hkdf_expand_label`] under a PRK already keyed. Keying HMAC hashes the padded key twice
/// (inner and outer pad), as much as one expansion costs, so several labels of one secret
/// share one PRK.
pub(super) fn expand_label_prk(
    prk: &hkdf::Prk,
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let out_len = u16::try_from(out.len()).map_err(|_| CryptoError::BadLength)?;
    let label_len =
        u8::try_from(LABEL_PREFIX.len() + label.len()).map_err(|_| CryptoError::BadLength)?;
    let context_len = u8::try_from(context.len()).map_err(|_| CryptoError::BadLength)?;
    let out_len = out_len.to_be_bytes();
    let label_len = [label_len];
    let context_len = [context_len];
    let info: [&[u8]; 6] = [
        &out_len,
        &label_len,
        LABEL_PREFIX,
        label,
        &context_len,
        context,
    ];
    // QUIC's labels are short: their HkdfLabel goes to ring as one slice (one hash update
    // instead of six). Longer ones go in pieces.
    let mut short = [0u8; SHORT_INFO_LEN];
    let whole = info.iter().map(|p| p.len()).sum::<usize>();
    let joined;
    let info: &[&[u8]] = match short.get_mut(..whole) {
        Some(buf) => {
            let mut at = 0;
            for piece in info {
                buf[at..at + piece.len()].copy_from_slice(piece);
                at += piece.len();
            }
            joined = [&*buf];
            &joined
        }
        None => &info,
    };
    prk.expand(info, OkmLen(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| CryptoError::BadLength)
}

/// The longest HkdfLabel [`expand_label_prk`] joins into one buffer: room for every label
/// QUIC and TLS 1.3 use with a hash-length context.
const SHORT_INFO_LEN: usize = 96;

/// A traffic secret of one direction and encryption level, with the suite and version it
/// belongs to: the input of [`Secret::key_material`] and of key updates ([`Secret::next`]).
///
/// `Debug` does not print the bytes. The bytes are not wiped on drop (no volatile writes in a
/// `forbid(unsafe_code)` crate); hold secrets no longer than needed.
#[derive(Clone)]
pub struct Secret {
    suite: Suite,
    params: &'static VersionParams,
    len: u8,
    bytes: [u8; MAX_SECRET_LEN],
}

impl Secret {
    /// A secret as TLS exports it. `bytes` must be the suite's hash length.
    pub fn new(suite: Suite, version: Version, bytes: &[u8]) -> Result<Secret, CryptoError> {
        let params = VersionParams::for_version(version).ok_or(CryptoError::UnsupportedVersion)?;
        if bytes.len() != suite.secret_len() {
            return Err(CryptoError::BadLength);
        }
        let mut buf = [0; MAX_SECRET_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(Secret {
            suite,
            params,
            // At most MAX_SECRET_LEN (48), checked above through `secret_len`.
            len: bytes.len() as u8,
            bytes: buf,
        })
    }

    /// The cipher suite.
    #[inline]
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The QUIC version whose labels derive keys from this secret.
    #[inline]
    pub fn version(&self) -> Version {
        self.params.version
    }

    /// The secret bytes (for example for an SSLKEYLOGFILE entry).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// HKDF-Expand-Label of this secret with the suite's hash and an empty context.
    #[inline]
    pub fn expand_label(&self, label: &[u8], out: &mut [u8]) -> Result<(), CryptoError> {
        hkdf_expand_label(self.suite.hash(), self.as_bytes(), label, &[], out)
    }

    /// The AEAD key, IV and header protection key (RFC 9001 §5.1, RFC 9369 §3.3.2 labels).
    pub fn key_material(&self) -> Result<KeyMaterial, CryptoError> {
        let mut m = KeyMaterial {
            suite: self.suite,
            key: [0; MAX_KEY_LEN],
            iv: [0; NONCE_LEN],
            hp: [0; MAX_KEY_LEN],
        };
        let key_len = self.suite.key_len();
        let hp_len = self.suite.hp_key_len();
        // One keyed PRK for the three labels.
        let prk = hkdf::Prk::new_less_safe(hkdf_alg(self.suite.hash()), self.as_bytes());
        expand_label_prk(&prk, self.params.key_label, &[], &mut m.key[..key_len])?;
        expand_label_prk(&prk, self.params.iv_label, &[], &mut m.iv)?;
        expand_label_prk(&prk, self.params.hp_label, &[], &mut m.hp[..hp_len])?;
        Ok(m)
    }

    /// The secret after a key update (RFC 9001 §6.1):
    /// `HKDF-Expand-Label(secret, "quic ku", "", Hash.length)` ("quicv2 ku" in v2). Only the
    /// packet key changes; the header protection key stays (RFC 9001 §6.1).
    pub fn next(&self) -> Result<Secret, CryptoError> {
        let mut next = self.clone();
        let len = usize::from(self.len);
        self.expand_label(self.params.ku_label, &mut next.bytes[..len])?;
        Ok(next)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("suite", &self.suite)
            .field("version", &self.params.version)
            .finish_non_exhaustive()
    }
}

/// The keys derived from one [`Secret`]: AEAD key, IV and header protection key.
/// `Debug` does not print them.
#[derive(Clone)]
pub struct KeyMaterial {
    suite: Suite,
    key: [u8; MAX_KEY_LEN],
    iv: [u8; NONCE_LEN],
    hp: [u8; MAX_KEY_LEN],
}

impl KeyMaterial {
    /// The suite the keys are for.
    #[inline]
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The AEAD key (`Suite::key_len` bytes).
    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.key[..self.suite.key_len()]
    }

    /// The IV.
    #[inline]
    pub fn iv(&self) -> &[u8; NONCE_LEN] {
        &self.iv
    }

    /// The header protection key (`Suite::hp_key_len` bytes).
    #[inline]
    pub fn hp(&self) -> &[u8] {
        &self.hp[..self.suite.hp_key_len()]
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_label_builds_the_rfc9001_hkdf_label() {
        // RFC 9001 Appendix A.1 lists the HkdfLabel for "quic key" (16 bytes) as
        // 00100e746c7331332071756963206b657900. Expanding directly with that info must give
        // the same bytes as hkdf_expand_label.
        let secret = [0x42; 32];
        let info: &[u8] = &[
            0x00, 0x10, 0x0e, b't', b'l', b's', b'1', b'3', b' ', b'q', b'u', b'i', b'c', b' ',
            b'k', b'e', b'y', 0x00,
        ];
        let mut direct = [0; 16];
        hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret)
            .expand(&[info], OkmLen(16))
            .unwrap()
            .fill(&mut direct)
            .unwrap();
        let mut ours = [0; 16];
        hkdf_expand_label(HashAlg::Sha256, &secret, b"quic key", &[], &mut ours).unwrap();
        assert_eq!(ours, direct);
    }

    /// An HkdfLabel too long for the joined buffer goes to ring in pieces; both ways hash
    /// the same bytes.
    #[test]
    fn a_long_hkdf_label_gives_what_the_joined_label_gives() {
        let secret = [0x24; 32];
        let label = [b'l'; 40];
        let context = [0x99; 64];
        let mut info = std::vec![0x00, 20, (6 + label.len()) as u8];
        info.extend_from_slice(b"tls13 ");
        info.extend_from_slice(&label);
        info.push(context.len() as u8);
        info.extend_from_slice(&context);
        assert!(info.len() > SHORT_INFO_LEN);
        let mut direct = [0; 20];
        hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret)
            .expand(&[&info], OkmLen(20))
            .unwrap()
            .fill(&mut direct)
            .unwrap();
        let mut ours = [0; 20];
        hkdf_expand_label(HashAlg::Sha256, &secret, &label, &context, &mut ours).unwrap();
        assert_eq!(ours, direct);
    }

    #[test]
    fn expand_label_rejects_oversized_inputs_instead_of_panicking() {
        let secret = [0; 32];
        let mut out = [0; 16];
        let long = [b'x'; 250];
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &secret, &long, &[], &mut out),
            Err(CryptoError::BadLength)
        );
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &secret, b"l", &[0; 256], &mut out),
            Err(CryptoError::BadLength)
        );
        let mut huge = std::vec![0u8; 255 * 32 + 1];
        assert_eq!(
            hkdf_expand_label(HashAlg::Sha256, &secret, b"l", &[], &mut huge),
            Err(CryptoError::BadLength)
        );
    }

    #[test]
    fn secrets_check_their_length_and_version() {
        assert_eq!(
            Secret::new(Suite::Aes256Gcm, Version::V1, &[0; 32]).unwrap_err(),
            CryptoError::BadLength
        );
        assert_eq!(
            Secret::new(Suite::Aes128Gcm, Version(0xff00_001d), &[0; 32]).unwrap_err(),
            CryptoError::UnsupportedVersion
        );
        let s = Secret::new(Suite::Aes256Gcm, Version::V2, &[7; 48]).unwrap();
        assert_eq!(s.as_bytes(), &[7; 48]);
        let m = s.key_material().unwrap();
        assert_eq!(m.key().len(), 32);
        assert_eq!(m.hp().len(), 32);
        let next = s.next().unwrap();
        assert_eq!(next.as_bytes().len(), 48);
        assert_ne!(next.as_bytes(), s.as_bytes());
        assert!(!std::format!("{s:?}").contains("07"));
    }
}
