//! QUIC versions: v1 (RFC 9000), v2 (RFC 9369), and the long-header type codes of each.

use core::fmt;

use crate::packet::PacketType;

/// A QUIC version number as carried in long headers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Version(pub u32);

impl Version {
    /// Version Negotiation packets carry version 0 (RFC 9000 §17.2.1).
    pub const NEGOTIATION: Version = Version(0);
    /// QUIC version 1 (RFC 9000).
    pub const V1: Version = Version(0x0000_0001);
    /// QUIC version 2 (RFC 9369 §3.1).
    pub const V2: Version = Version(0x6b33_43cf);

    /// Versions this crate can protect and parse packets for, in preference order.
    pub const SUPPORTED: [Version; 2] = [Version::V2, Version::V1];

    /// Whether this crate knows the packet formats and keys of this version.
    #[inline]
    pub const fn is_supported(self) -> bool {
        matches!(self, Version::V1 | Version::V2)
    }

    /// Whether this is a reserved version of the form 0x?a?a?a?a, used to exercise version
    /// negotiation (RFC 9000 §15).
    #[inline]
    pub const fn is_reserved(self) -> bool {
        self.0 & 0x0f0f_0f0f == 0x0a0a_0a0a
    }

    /// The long-header packet type encoded by the two type bits (`(first_byte >> 4) & 3`)
    /// in this version, or `None` for a version this crate does not know.
    ///
    /// RFC 9000 §17.2 Table 5 for v1; RFC 9369 §3.2 for v2 (Initial 0b01, 0-RTT 0b10,
    /// Handshake 0b11, Retry 0b00).
    #[inline]
    pub const fn packet_type_from_bits(self, bits: u8) -> Option<PacketType> {
        let bits = bits & 0b11;
        match self {
            Version::V1 => Some(match bits {
                0b00 => PacketType::Initial,
                0b01 => PacketType::ZeroRtt,
                0b10 => PacketType::Handshake,
                _ => PacketType::Retry,
            }),
            Version::V2 => Some(match bits {
                0b01 => PacketType::Initial,
                0b10 => PacketType::ZeroRtt,
                0b11 => PacketType::Handshake,
                _ => PacketType::Retry,
            }),
            _ => None,
        }
    }

    /// The two type bits for a long-header packet type in this version; `None` for a
    /// version this crate does not know or a type that has no long header.
    #[inline]
    pub const fn packet_type_bits(self, ty: PacketType) -> Option<u8> {
        let v1 = match ty {
            PacketType::Initial => 0b00,
            PacketType::ZeroRtt => 0b01,
            PacketType::Handshake => 0b10,
            PacketType::Retry => 0b11,
            PacketType::OneRtt | PacketType::VersionNegotiation => return None,
        };
        match self {
            Version::V1 => Some(v1),
            // RFC 9369 §3.2: each v1 code plus one, modulo 4.
            Version::V2 => Some((v1 + 1) & 0b11),
            _ => None,
        }
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Version::V1 => f.write_str("v1"),
            Version::V2 => f.write_str("v2"),
            Version(v) => write!(f, "Version({v:#010x})"),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_bits_round_trip_in_both_versions() {
        for v in Version::SUPPORTED {
            for ty in [
                PacketType::Initial,
                PacketType::ZeroRtt,
                PacketType::Handshake,
                PacketType::Retry,
            ] {
                let bits = v.packet_type_bits(ty).unwrap();
                assert_eq!(v.packet_type_from_bits(bits), Some(ty));
            }
        }
        // RFC 9369 §3.2.
        assert_eq!(
            Version::V2.packet_type_bits(PacketType::Initial),
            Some(0b01)
        );
        assert_eq!(Version::V2.packet_type_bits(PacketType::Retry), Some(0b00));
        assert_eq!(Version(7).packet_type_from_bits(0), None);
    }

    #[test]
    fn reserved_versions_are_recognised() {
        assert!(Version(0x1a2a3a4a).is_reserved());
        assert!(Version(0xfafafafa).is_reserved());
        assert!(!Version::V1.is_reserved());
        assert!(!Version::V2.is_reserved());
    }
}
