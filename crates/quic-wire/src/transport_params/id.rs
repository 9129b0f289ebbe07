//! The transport parameter code space: one table names every parameter this crate knows
//! (RFC 9000 §22.3 Table 6 and the extensions' registrations).

use core::fmt;

use crate::varint::VarInt;

/// A transport parameter identifier as carried on the wire (a variable-length integer,
/// RFC 9000 §18).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TransportParameterId(pub u64);

macro_rules! transport_parameter_ids {
    ($($(#[$doc:meta])* $name:ident = $val:literal,)*) => {
        impl TransportParameterId {
            $($(#[$doc])* pub const $name: TransportParameterId = TransportParameterId($val);)*

            /// The registered name of a parameter this crate knows, or `None`.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }

        /// Every known identifier, in table order; a parameter's position here is its bit in
        /// the decoder's set of ids already seen.
        pub(super) const KNOWN: &[TransportParameterId] = &[$(TransportParameterId::$name,)*];
    };
}

transport_parameter_ids! {
    /// original_destination_connection_id (RFC 9000 §18.2), server only.
    ORIGINAL_DESTINATION_CONNECTION_ID = 0x00,
    /// max_idle_timeout in milliseconds (RFC 9000 §18.2).
    MAX_IDLE_TIMEOUT = 0x01,
    /// stateless_reset_token (RFC 9000 §18.2), server only.
    STATELESS_RESET_TOKEN = 0x02,
    /// max_udp_payload_size (RFC 9000 §18.2).
    MAX_UDP_PAYLOAD_SIZE = 0x03,
    /// initial_max_data (RFC 9000 §18.2).
    INITIAL_MAX_DATA = 0x04,
    /// initial_max_stream_data_bidi_local (RFC 9000 §18.2).
    INITIAL_MAX_STREAM_DATA_BIDI_LOCAL = 0x05,
    /// initial_max_stream_data_bidi_remote (RFC 9000 §18.2).
    INITIAL_MAX_STREAM_DATA_BIDI_REMOTE = 0x06,
    /// initial_max_stream_data_uni (RFC 9000 §18.2).
    INITIAL_MAX_STREAM_DATA_UNI = 0x07,
    /// initial_max_streams_bidi (RFC 9000 §18.2).
    INITIAL_MAX_STREAMS_BIDI = 0x08,
    /// initial_max_streams_uni (RFC 9000 §18.2).
    INITIAL_MAX_STREAMS_UNI = 0x09,
    /// ack_delay_exponent (RFC 9000 §18.2).
    ACK_DELAY_EXPONENT = 0x0a,
    /// max_ack_delay in milliseconds (RFC 9000 §18.2).
    MAX_ACK_DELAY = 0x0b,
    /// disable_active_migration, a flag with an empty value (RFC 9000 §18.2).
    DISABLE_ACTIVE_MIGRATION = 0x0c,
    /// preferred_address (RFC 9000 §18.2), server only.
    PREFERRED_ADDRESS = 0x0d,
    /// active_connection_id_limit (RFC 9000 §18.2).
    ACTIVE_CONNECTION_ID_LIMIT = 0x0e,
    /// initial_source_connection_id (RFC 9000 §18.2).
    INITIAL_SOURCE_CONNECTION_ID = 0x0f,
    /// retry_source_connection_id (RFC 9000 §18.2), server only.
    RETRY_SOURCE_CONNECTION_ID = 0x10,
    /// version_information (RFC 9368 §3).
    VERSION_INFORMATION = 0x11,
    /// max_datagram_frame_size (RFC 9221 §3).
    MAX_DATAGRAM_FRAME_SIZE = 0x20,
    /// initial_max_path_id (multipath, RFC 10069 §2.1).
    INITIAL_MAX_PATH_ID = 0x3e,
    /// grease_quic_bit, a flag with an empty value (RFC 9287 §3).
    GREASE_QUIC_BIT = 0x2ab2,
    /// min_ack_delay in microseconds (ack-frequency draft §3; provisional codepoint).
    MIN_ACK_DELAY = 0xff04_de1b,
}

impl TransportParameterId {
    /// The reserved identifier `31 * n + 27` (RFC 9000 §18.1), or `None` when it would not
    /// fit in a variable-length integer.
    #[inline]
    pub const fn reserved(n: u64) -> Option<Self> {
        let Some(id) = n.checked_mul(31) else {
            return None;
        };
        let Some(id) = id.checked_add(27) else {
            return None;
        };
        if id <= VarInt::MAX.into_inner() {
            Some(TransportParameterId(id))
        } else {
            None
        }
    }

    /// Whether this is a reserved identifier of the form `31 * N + 27` (RFC 9000 §18.1),
    /// which carries no meaning and exists to exercise the rule that unknown parameters are
    /// ignored.
    #[inline]
    pub const fn is_reserved(self) -> bool {
        self.0 >= 27 && (self.0 - 27) % 31 == 0
    }

    /// This identifier's position in the table of known parameters, or `None` when the
    /// crate does not know it.
    pub(super) fn known_index(self) -> Option<u32> {
        // The table has fewer than 32 entries (checked by a test), so the index fits a u32
        // bit position.
        KNOWN
            .iter()
            .position(|&k| k == self)
            .and_then(|i| u32::try_from(i).ok())
    }
}

impl fmt::Debug for TransportParameterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({:#x})", self.0),
            None => write!(f, "TransportParameterId({:#x})", self.0),
        }
    }
}

impl fmt::Display for TransportParameterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids_fit_the_seen_bitset_and_are_not_reserved() {
        assert!(KNOWN.len() <= 32);
        for (i, id) in KNOWN.iter().enumerate() {
            assert_eq!(id.known_index(), Some(i as u32));
            assert!(!id.is_reserved(), "{id:?} collides with the GREASE space");
        }
        assert_eq!(TransportParameterId(0x12).known_index(), None);
    }

    #[test]
    fn reserved_ids_are_31n_plus_27() {
        assert_eq!(
            TransportParameterId::reserved(0),
            Some(TransportParameterId(27))
        );
        assert_eq!(
            TransportParameterId::reserved(2),
            Some(TransportParameterId(89))
        );
        assert!(TransportParameterId(89).is_reserved());
        assert!(!TransportParameterId(88).is_reserved());
        assert!(!TransportParameterId(0).is_reserved());
        assert_eq!(TransportParameterId::reserved(u64::MAX / 31), None);
        let last = (VarInt::MAX.into_inner() - 27) / 31;
        assert!(TransportParameterId::reserved(last).is_some());
        assert_eq!(TransportParameterId::reserved(last + 1), None);
    }

    #[test]
    fn names_come_from_the_table() {
        assert_eq!(
            std::format!("{}", TransportParameterId::MIN_ACK_DELAY),
            "MIN_ACK_DELAY"
        );
        assert_eq!(
            std::format!("{:?}", TransportParameterId(0x1b)),
            "TransportParameterId(0x1b)"
        );
    }
}
