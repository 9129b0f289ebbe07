//! The Retry Integrity Tag (RFC 9001 §5.8; RFC 9369 §3.3.3 for v2).

use ::ring::aead;

use super::{CryptoError, VersionParams};
use crate::{ConnectionId, Version};

/// Length of the Retry Integrity Tag.
pub const RETRY_TAG_LEN: usize = 16;

/// The longest Retry packet, tag included, this module computes or verifies a tag for.
///
/// The tag covers a Retry pseudo-packet (ODCID length, ODCID, Retry packet without its tag)
/// that is built in a stack buffer of `1 + 20 + MAX_RETRY_PACKET_LEN - 16` bytes, so no
/// allocation is needed. A Retry is a server's answer to a client Initial; 1500 bytes (a
/// full Ethernet frame) leaves over 1400 bytes for the token. A longer Retry fails
/// verification, which RFC 9000 §17.2.5.2 treats like any invalid Retry: the client
/// discards it.
pub const MAX_RETRY_PACKET_LEN: usize = 1500;

const PSEUDO_LEN: usize = 1 + ConnectionId::MAX_LEN + MAX_RETRY_PACKET_LEN - RETRY_TAG_LEN;

/// Builds the Retry pseudo-packet (RFC 9001 §5.8 Figure 8) into `buf` and returns its length.
fn pseudo_packet(
    buf: &mut [u8; PSEUDO_LEN],
    odcid: &ConnectionId,
    retry_without_tag: &[u8],
) -> Result<usize, CryptoError> {
    let odcid = odcid.as_bytes();
    let len = 1 + odcid.len() + retry_without_tag.len();
    let out = buf.get_mut(..len).ok_or(CryptoError::RetryTooLong)?;
    let (odcid_len, rest) = out.split_at_mut(1);
    let (odcid_out, retry_out) = rest.split_at_mut(odcid.len());
    // ODCID is at most 20 bytes (ConnectionId invariant), so the length fits a byte.
    odcid_len[0] = odcid.len() as u8;
    odcid_out.copy_from_slice(odcid);
    retry_out.copy_from_slice(retry_without_tag);
    Ok(len)
}

fn retry_key(params: &VersionParams) -> Result<aead::LessSafeKey, CryptoError> {
    let key = aead::UnboundKey::new(&aead::AES_128_GCM, &params.retry_key)
        .map_err(|_| CryptoError::Backend)?;
    Ok(aead::LessSafeKey::new(key))
}

/// The Retry Integrity Tag of a Retry packet (`retry_without_tag`: everything before the
/// tag) sent in answer to an Initial whose Destination Connection ID was `odcid`
/// (RFC 9001 §5.8): AES-128-GCM with the version's fixed key and nonce over an empty
/// plaintext, with the Retry pseudo-packet as associated data.
///
/// Fails with [`CryptoError::RetryTooLong`] when the Retry with its tag would exceed
/// [`MAX_RETRY_PACKET_LEN`], and [`CryptoError::UnsupportedVersion`] for a version other than
/// v1 and v2.
pub fn retry_integrity_tag(
    version: Version,
    odcid: &ConnectionId,
    retry_without_tag: &[u8],
) -> Result<[u8; RETRY_TAG_LEN], CryptoError> {
    let params = VersionParams::for_version(version).ok_or(CryptoError::UnsupportedVersion)?;
    let mut buf = [0u8; PSEUDO_LEN];
    let len = pseudo_packet(&mut buf, odcid, retry_without_tag)?;
    let nonce = aead::Nonce::assume_unique_for_key(params.retry_nonce);
    let aad = aead::Aad::from(buf.get(..len).ok_or(CryptoError::RetryTooLong)?);
    let tag = retry_key(params)?
        .seal_in_place_separate_tag(nonce, aad, &mut [])
        .map_err(|_| CryptoError::Backend)?;
    let mut out = [0u8; RETRY_TAG_LEN];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// Whether `retry_with_tag` (a whole Retry packet) carries a valid Retry Integrity Tag for
/// `odcid`, the Destination Connection ID of the client's first Initial (RFC 9001 §5.8).
/// RFC 9000 §17.2.5.2: "Clients MUST discard Retry packets that have a Retry Integrity Tag
/// that cannot be validated." The comparison is constant time (the AEAD checks the tag).
///
/// Returns false for an unsupported version, a packet shorter than the tag, or one longer
/// than [`MAX_RETRY_PACKET_LEN`].
pub fn verify_retry_integrity(
    version: Version,
    odcid: &ConnectionId,
    retry_with_tag: &[u8],
) -> bool {
    let Some(params) = VersionParams::for_version(version) else {
        return false;
    };
    let Some(split) = retry_with_tag.len().checked_sub(RETRY_TAG_LEN) else {
        return false;
    };
    let (packet, tag) = retry_with_tag.split_at(split);
    let mut buf = [0u8; PSEUDO_LEN];
    let Ok(len) = pseudo_packet(&mut buf, odcid, packet) else {
        return false;
    };
    let Ok(key) = retry_key(params) else {
        return false;
    };
    let mut tag_buf = [0u8; RETRY_TAG_LEN];
    tag_buf.copy_from_slice(tag);
    let nonce = aead::Nonce::assume_unique_for_key(params.retry_nonce);
    let aad = aead::Aad::from(buf.get(..len).unwrap_or_default());
    key.open_in_place(nonce, aad, &mut tag_buf).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_tag_binds_the_original_dcid() {
        let odcid = ConnectionId::new(&[9; 8]).unwrap();
        let other = ConnectionId::new(&[9; 7]).unwrap();
        let mut retry = std::vec![0xf0, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4, b't', b'k'];
        let tag = retry_integrity_tag(Version::V1, &odcid, &retry).unwrap();
        retry.extend_from_slice(&tag);
        assert!(verify_retry_integrity(Version::V1, &odcid, &retry));
        assert!(!verify_retry_integrity(Version::V1, &other, &retry));
        assert!(!verify_retry_integrity(Version::V2, &odcid, &retry));
        assert!(!verify_retry_integrity(Version(5), &odcid, &retry));
        assert!(!verify_retry_integrity(Version::V1, &odcid, &retry[..15]));
    }

    #[test]
    fn retry_length_bound_is_an_error_not_a_panic() {
        let odcid = ConnectionId::new(&[1; 20]).unwrap();
        let max = std::vec![0xf0u8; MAX_RETRY_PACKET_LEN - RETRY_TAG_LEN];
        let tag = retry_integrity_tag(Version::V2, &odcid, &max).unwrap();
        let mut full = max.clone();
        full.extend_from_slice(&tag);
        assert!(verify_retry_integrity(Version::V2, &odcid, &full));

        let over = std::vec![0xf0u8; MAX_RETRY_PACKET_LEN - RETRY_TAG_LEN + 1];
        assert_eq!(
            retry_integrity_tag(Version::V2, &odcid, &over),
            Err(CryptoError::RetryTooLong)
        );
        let over_with_tag = std::vec![0xf0u8; MAX_RETRY_PACKET_LEN + 1];
        assert!(!verify_retry_integrity(Version::V2, &odcid, &over_with_tag));
    }
}
