//! Packets: types, number spaces, headers (RFC 9000 §17, RFC 9369 §3.2, RFC 8999).

use core::fmt;

pub mod builder;
pub mod coalesced;
pub mod header;
pub mod open;
pub mod write;

pub use builder::*;
pub use coalesced::*;
pub use header::*;
pub use open::*;
pub use write::*;

/// The kind of a QUIC packet.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketType {
    /// Initial (long header): CRYPTO for the first flight, protected with Initial keys.
    Initial,
    /// 0-RTT (long header): early application data.
    ZeroRtt,
    /// Handshake (long header).
    Handshake,
    /// Retry (long header): carries a token, no packet number, no frames.
    Retry,
    /// 1-RTT (short header).
    OneRtt,
    /// Version Negotiation (long header with version 0).
    VersionNegotiation,
}

impl PacketType {
    /// The packet-number space packets of this type belong to, or `None` for packets
    /// without a packet number (Retry, Version Negotiation). RFC 9000 §12.3.
    #[inline]
    pub const fn space(self) -> Option<Space> {
        match self {
            PacketType::Initial => Some(Space::Initial),
            PacketType::Handshake => Some(Space::Handshake),
            PacketType::ZeroRtt | PacketType::OneRtt => Some(Space::Data),
            PacketType::Retry | PacketType::VersionNegotiation => None,
        }
    }

    /// Whether this packet type has a long header.
    #[inline]
    pub const fn is_long(self) -> bool {
        !matches!(self, PacketType::OneRtt)
    }
}

impl fmt::Debug for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketType::Initial => "Initial",
            PacketType::ZeroRtt => "0-RTT",
            PacketType::Handshake => "Handshake",
            PacketType::Retry => "Retry",
            PacketType::OneRtt => "1-RTT",
            PacketType::VersionNegotiation => "VersionNegotiation",
        })
    }
}

/// A packet-number space (RFC 9000 §12.3). The Data space holds 0-RTT and 1-RTT packets;
/// with multipath it exists once per path (RFC 10069), Initial and Handshake on path 0 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Space {
    /// Initial packets.
    Initial = 0,
    /// Handshake packets.
    Handshake = 1,
    /// 0-RTT and 1-RTT packets.
    Data = 2,
}

impl Space {
    /// The three spaces in order.
    pub const ALL: [Space; 3] = [Space::Initial, Space::Handshake, Space::Data];
}
