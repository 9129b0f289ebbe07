//! Stream IDs (RFC 9000 §2.1): the two low bits give the initiator and the direction.

use core::fmt;

use crate::varint::VarInt;

/// Which end of a connection: the client or the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Side {
    /// The endpoint that opened the connection.
    Client = 0,
    /// The endpoint that accepted it.
    Server = 1,
}

impl Side {
    /// The other side.
    #[inline]
    pub const fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// Whether this is the client.
    #[inline]
    pub const fn is_client(self) -> bool {
        matches!(self, Side::Client)
    }

    /// Whether this is the server.
    #[inline]
    pub const fn is_server(self) -> bool {
        matches!(self, Side::Server)
    }
}

/// Whether a stream carries data both ways or one way only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Dir {
    /// Bidirectional.
    Bi = 0,
    /// Unidirectional: only the initiator sends.
    Uni = 1,
}

/// A stream ID: a 62-bit integer whose two low bits encode initiator and direction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct StreamId(VarInt);

impl StreamId {
    /// The `index`-th stream of a type (0 for the first): `index * 4 + type bits`.
    ///
    /// Returns `None` when the ID would not fit in 62 bits.
    #[inline]
    pub fn new(initiator: Side, dir: Dir, index: u64) -> Option<Self> {
        let id = index.checked_mul(4)? | (dir as u64) << 1 | initiator as u64;
        VarInt::from_u64(id).ok().map(StreamId)
    }

    /// Which side opened the stream (RFC 9000 §2.1: the least significant bit).
    #[inline]
    pub const fn initiator(self) -> Side {
        if self.0.into_inner() & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// The stream's direction (RFC 9000 §2.1: the second least significant bit).
    #[inline]
    pub const fn dir(self) -> Dir {
        if self.0.into_inner() & 2 == 0 {
            Dir::Bi
        } else {
            Dir::Uni
        }
    }

    /// The position of this stream among the streams of its type (ID >> 2).
    #[inline]
    pub const fn index(self) -> u64 {
        self.0.into_inner() >> 2
    }

    /// The ID as a variable-length integer.
    #[inline]
    pub const fn as_varint(self) -> VarInt {
        self.0
    }

    /// The ID as a `u64`.
    #[inline]
    pub const fn into_inner(self) -> u64 {
        self.0.into_inner()
    }
}

impl From<VarInt> for StreamId {
    fn from(v: VarInt) -> Self {
        StreamId(v)
    }
}

impl From<StreamId> for VarInt {
    fn from(s: StreamId) -> Self {
        s.0
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.initiator() {
            Side::Client => "client",
            Side::Server => "server",
        };
        let dir = match self.dir() {
            Dir::Bi => "bidi",
            Dir::Uni => "uni",
        };
        write!(f, "StreamId({} {who} {dir} #{})", self.0, self.index())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §2.1, Table 1: the four stream types.
    #[test]
    fn low_bits_give_the_four_types() {
        let cases = [
            (0, Side::Client, Dir::Bi),
            (1, Side::Server, Dir::Bi),
            (2, Side::Client, Dir::Uni),
            (3, Side::Server, Dir::Uni),
        ];
        for (bits, side, dir) in cases {
            let id = StreamId::new(side, dir, 5).unwrap();
            assert_eq!(id.into_inner(), 20 + bits);
            assert_eq!((id.initiator(), id.dir(), id.index()), (side, dir, 5));
        }
    }

    #[test]
    fn ids_past_62_bits_are_refused() {
        assert!(StreamId::new(Side::Server, Dir::Uni, (1 << 60) - 1).is_some());
        assert!(StreamId::new(Side::Client, Dir::Bi, 1 << 60).is_none());
        assert!(StreamId::new(Side::Client, Dir::Bi, u64::MAX).is_none());
    }
}
