//! Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2).

/// The control stream (RFC 9114 §6.2.1).
pub const CONTROL: u64 = 0x00;
/// A push stream (RFC 9114 §6.2.2).
pub const PUSH: u64 = 0x01;
/// The QPACK encoder stream (RFC 9204 §4.2).
pub const QPACK_ENCODER: u64 = 0x02;
/// The QPACK decoder stream (RFC 9204 §4.2).
pub const QPACK_DECODER: u64 = 0x03;

/// A unidirectional stream's type, from the varint at its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UniStreamType {
    /// Control stream.
    Control,
    /// Push stream.
    Push,
    /// QPACK encoder stream.
    QpackEncoder,
    /// QPACK decoder stream.
    QpackDecoder,
    /// A reserved (grease) type `0x1f * N + 0x21` (RFC 9114 §6.2.3).
    Reserved(u64),
    /// Any other type; RFC 9114 §6.2: the recipient must abort reading it or discard it.
    Unknown(u64),
}

impl UniStreamType {
    /// Classifies a stream type code.
    pub fn from_code(code: u64) -> Self {
        match code {
            CONTROL => UniStreamType::Control,
            PUSH => UniStreamType::Push,
            QPACK_ENCODER => UniStreamType::QpackEncoder,
            QPACK_DECODER => UniStreamType::QpackDecoder,
            c if c >= 0x21 && (c - 0x21) % 0x1f == 0 => UniStreamType::Reserved(c),
            c => UniStreamType::Unknown(c),
        }
    }

    /// The type code.
    pub fn code(self) -> u64 {
        match self {
            UniStreamType::Control => CONTROL,
            UniStreamType::Push => PUSH,
            UniStreamType::QpackEncoder => QPACK_ENCODER,
            UniStreamType::QpackDecoder => QPACK_DECODER,
            UniStreamType::Reserved(c) | UniStreamType::Unknown(c) => c,
        }
    }

    /// Whether closing the stream closes the connection (H3_CLOSED_CRITICAL_STREAM):
    /// control (RFC 9114 §6.2.1) and the QPACK streams (RFC 9204 §4.2).
    pub fn is_critical(self) -> bool {
        matches!(
            self,
            UniStreamType::Control | UniStreamType::QpackEncoder | UniStreamType::QpackDecoder
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_known_reserved_and_unknown_types() {
        assert_eq!(UniStreamType::from_code(0), UniStreamType::Control);
        assert_eq!(UniStreamType::from_code(3), UniStreamType::QpackDecoder);
        assert_eq!(
            UniStreamType::from_code(0x21),
            UniStreamType::Reserved(0x21)
        );
        assert_eq!(
            UniStreamType::from_code(0x40),
            UniStreamType::Reserved(0x40)
        );
        assert_eq!(UniStreamType::from_code(0x04), UniStreamType::Unknown(4));
        assert!(UniStreamType::Control.is_critical());
        assert!(!UniStreamType::Push.is_critical());
    }
}
