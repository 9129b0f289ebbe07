//! Path identifiers (multipath QUIC, RFC 10069 §2).

use core::fmt;

/// A path identifier. Path 0 is the path the handshake ran on; without the multipath
/// extension it is the only one.
///
/// RFC 10069 §2.1 bounds path IDs to 2^32-1 because they form the top 32 bits of the AEAD
/// nonce (§2.4), so a `u32` holds every valid value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct PathId(pub u32);

impl PathId {
    /// The initial path.
    pub const ZERO: PathId = PathId(0);
    /// The largest path ID (RFC 10069 §2.1).
    pub const MAX: PathId = PathId(u32::MAX);

    /// The path ID as a `u32`.
    #[inline]
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// A path ID read from the wire, or `None` when it is above 2^32-1.
    #[inline]
    pub fn from_u64(v: u64) -> Option<PathId> {
        u32::try_from(v).ok().map(PathId)
    }
}

impl fmt::Debug for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathId({})", self.0)
    }
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
