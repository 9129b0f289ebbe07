//! Connection IDs (RFC 9000 §5.1): 0 to 20 bytes, stored inline.

use core::{fmt, ops::Deref};

/// A connection ID of 0 to [`ConnectionId::MAX_LEN`] bytes, stored inline (no heap). The
/// bytes past the length are always zero, so the derived comparisons see only the ID.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; ConnectionId::MAX_LEN],
}

/// A connection ID longer than 20 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connection ID of {0} bytes is longer than 20")]
pub struct ConnectionIdTooLong(pub usize);

impl ConnectionId {
    /// The longest connection ID QUIC v1 and v2 allow (RFC 9000 §17.2).
    pub const MAX_LEN: usize = 20;
    /// The zero-length connection ID.
    pub const EMPTY: ConnectionId = ConnectionId {
        len: 0,
        bytes: [0; Self::MAX_LEN],
    };

    /// Copies `s` into a connection ID.
    #[inline]
    pub fn new(s: &[u8]) -> Result<Self, ConnectionIdTooLong> {
        if s.len() > Self::MAX_LEN {
            return Err(ConnectionIdTooLong(s.len()));
        }
        let mut bytes = [0; Self::MAX_LEN];
        // Eight bytes, the length nearly every endpoint uses, as one fixed-size move rather
        // than a copy of run-time length.
        match <[u8; 8]>::try_from(s) {
            Ok(eight) => bytes[..8].copy_from_slice(&eight),
            Err(_) => bytes[..s.len()].copy_from_slice(s),
        }
        Ok(ConnectionId {
            len: s.len() as u8,
            bytes,
        })
    }

    /// The length in bytes.
    #[inline]
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether this is the zero-length connection ID.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Hashes the ID's bytes alone (consistent with the derived `Eq`, as the padding is always
/// zero): a routing table hashes eight bytes, not the whole inline array.
impl core::hash::Hash for ConnectionId {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// Lets a table keyed by connection IDs be searched with the bytes of a received packet,
/// without copying them into a [`ConnectionId`] first (hash and equality agree: both see
/// the ID's bytes alone).
impl core::borrow::Borrow<[u8]> for ConnectionId {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Default for ConnectionId {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Deref for ConnectionId {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for ConnectionId {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl TryFrom<&[u8]> for ConnectionId {
    type Error = ConnectionIdTooLong;
    fn try_from(s: &[u8]) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionId(")?;
        fmt::Display::fmt(self, f)?;
        write!(f, ")")
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for ConnectionId {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = u.int_in_range(0..=Self::MAX_LEN)?;
        let s = u.bytes(len)?;
        Ok(Self::new(s).expect("length is at most MAX_LEN"))
    }
}

/// A stateless reset token (RFC 9000 §10.3): 16 bytes bound to a connection ID.
///
/// Equality takes the same time whatever the bytes (RFC 9000 §10.3.1: the comparison
/// "MUST" not leak the value of a token), so tokens can key a table that a datagram's last
/// 16 bytes are looked up in; with a randomly seeded hasher, the place a lookup probes says
/// nothing of the tokens either.
#[derive(Clone, Copy, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ResetToken(pub [u8; ResetToken::LEN]);

impl ResetToken {
    /// Length of a stateless reset token.
    pub const LEN: usize = 16;
}

impl PartialEq for ResetToken {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        // Every byte is looked at, with no early exit.
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        core::hint::black_box(diff) == 0
    }
}

impl core::hash::Hash for ResetToken {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        // Equal tokens have equal bytes, so hashing the bytes agrees with `eq`.
        self.0.hash(state);
    }
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResetToken(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_zero_to_twenty_bytes_inline() {
        assert!(ConnectionId::new(&[]).unwrap().is_empty());
        let cid = ConnectionId::new(&[7; 20]).unwrap();
        assert_eq!(cid.len(), 20);
        assert_eq!(&*cid, &[7; 20]);
        assert_eq!(ConnectionId::new(&[0; 21]), Err(ConnectionIdTooLong(21)));
    }

    #[test]
    fn reset_tokens_are_equal_only_when_every_byte_is() {
        let a = ResetToken([9; ResetToken::LEN]);
        assert_eq!(a, ResetToken([9; ResetToken::LEN]));
        for i in 0..ResetToken::LEN {
            let mut b = a;
            b.0[i] ^= 0x80;
            assert_ne!(a, b, "byte {i}");
        }
    }

    #[test]
    fn equality_ignores_unused_storage() {
        let a = ConnectionId::new(&[1, 2]).unwrap();
        let b = ConnectionId::try_from(&[1u8, 2][..]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, ConnectionId::new(&[1, 2, 0]).unwrap());
        assert_eq!(std::format!("{a}"), "0102");
    }
}
