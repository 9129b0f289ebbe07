//! Per-version constants of packet protection: Initial salt, HKDF labels, Retry integrity key.

use crate::Version;

/// The constants a QUIC version fixes for packet protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionParams {
    /// The version these constants belong to.
    pub version: Version,
    /// Salt for HKDF-Extract of the Initial secret from the client's first Destination
    /// Connection ID.
    pub initial_salt: [u8; 20],
    /// HKDF label of the AEAD key.
    pub key_label: &'static [u8],
    /// HKDF label of the IV.
    pub iv_label: &'static [u8],
    /// HKDF label of the header protection key.
    pub hp_label: &'static [u8],
    /// HKDF label of the next secret on key update.
    pub ku_label: &'static [u8],
    /// AEAD_AES_128_GCM key of the Retry Integrity Tag.
    pub retry_key: [u8; 16],
    /// Nonce of the Retry Integrity Tag.
    pub retry_nonce: [u8; 12],
}

impl VersionParams {
    /// QUIC version 1: salt from RFC 9001 §5.2, labels from §5.1, §5.4 and §6.1, Retry key and
    /// nonce from §5.8.
    pub const V1: VersionParams = VersionParams {
        version: Version::V1,
        initial_salt: [
            0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
            0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
        ],
        key_label: b"quic key",
        iv_label: b"quic iv",
        hp_label: b"quic hp",
        ku_label: b"quic ku",
        retry_key: [
            0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68,
            0xc8, 0x4e,
        ],
        retry_nonce: [
            0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
        ],
    };

    /// QUIC version 2: salt from RFC 9369 §3.3.1, labels from §3.3.2, Retry key and nonce from
    /// §3.3.3.
    pub const V2: VersionParams = VersionParams {
        version: Version::V2,
        initial_salt: [
            0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
            0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
        ],
        key_label: b"quicv2 key",
        iv_label: b"quicv2 iv",
        hp_label: b"quicv2 hp",
        ku_label: b"quicv2 ku",
        retry_key: [
            0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c,
            0xcc, 0x92,
        ],
        retry_nonce: [
            0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
        ],
    };

    /// The constants of `version`, or `None` for a version this crate does not support.
    #[inline]
    pub const fn for_version(version: Version) -> Option<&'static VersionParams> {
        match version {
            Version::V1 => Some(&Self::V1),
            Version::V2 => Some(&Self::V2),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_version_has_params_and_others_do_not() {
        for v in Version::SUPPORTED {
            assert_eq!(VersionParams::for_version(v).map(|p| p.version), Some(v));
        }
        assert!(VersionParams::for_version(Version(0x1a2a_3a4a)).is_none());
        assert!(VersionParams::for_version(Version::NEGOTIATION).is_none());
    }
}
