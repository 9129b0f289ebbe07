//! ECN codepoints (RFC 3168 §5, RFC 9000 §13.4): the two low bits of the IP TOS / traffic
//! class byte, as the embedder reads them from and writes them to its sockets.

/// The ECN codepoint of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Ecn {
    /// Not ECN-capable transport (0b00).
    #[default]
    NotEct,
    /// ECT(1) (0b01).
    Ect1,
    /// ECT(0) (0b10).
    Ect0,
    /// Congestion Experienced (0b11).
    Ce,
}

impl Ecn {
    /// The codepoint in the two low bits of a TOS / traffic class byte.
    #[inline]
    pub const fn from_tos(tos: u8) -> Ecn {
        match tos & 0b11 {
            0b00 => Ecn::NotEct,
            0b01 => Ecn::Ect1,
            0b10 => Ecn::Ect0,
            _ => Ecn::Ce,
        }
    }

    /// The two-bit value to put in a TOS / traffic class byte.
    #[inline]
    pub const fn to_bits(self) -> u8 {
        match self {
            Ecn::NotEct => 0b00,
            Ecn::Ect1 => 0b01,
            Ecn::Ect0 => 0b10,
            Ecn::Ce => 0b11,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codepoints_match_rfc3168() {
        for e in [Ecn::NotEct, Ecn::Ect1, Ecn::Ect0, Ecn::Ce] {
            assert_eq!(Ecn::from_tos(e.to_bits() | 0xfc), e);
        }
        assert_eq!(Ecn::Ect0.to_bits(), 0b10);
        assert_eq!(Ecn::Ce.to_bits(), 0b11);
    }
}
