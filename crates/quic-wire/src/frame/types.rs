//! The frame type code space: one table gives every known frame type its name, the packet
//! types it may appear in (RFC 9000 §12.4 Table 3 and the extensions' equivalents) and its
//! special rules (ack-eliciting, probing).

use core::fmt;

use crate::packet::PacketType;

/// A frame type as carried on the wire (a variable-length integer, RFC 9000 §12.4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FrameType(pub u64);

/// Bit set of packet types a frame may appear in.
const I: u8 = 1;
const H: u8 = 2;
const Z: u8 = 4; // 0-RTT
const O: u8 = 8; // 1-RTT

/// What the table knows about one frame type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTypeInfo {
    /// The registered name ("STREAM" for all eight STREAM types, and so on).
    pub name: &'static str,
    packets: u8,
    /// Whether a packet holding this frame must be acknowledged (RFC 9000 §13.2:
    /// every frame but ACK, PADDING and CONNECTION_CLOSE; PATH_ACK is an ACK).
    pub ack_eliciting: bool,
    /// Whether the frame may be sent on a path being probed (RFC 9000 §9.1, "P").
    pub probing: bool,
}

impl FrameTypeInfo {
    /// Whether a frame of this type may appear in a packet of type `ty` (see
    /// [`FrameType::allowed_in`]).
    #[inline]
    pub const fn allowed_in(&self, ty: PacketType) -> bool {
        let bit = match ty {
            PacketType::Initial => I,
            PacketType::Handshake => H,
            PacketType::ZeroRtt => Z,
            PacketType::OneRtt => O,
            PacketType::Retry | PacketType::VersionNegotiation => 0,
        };
        self.packets & bit != 0
    }
}

macro_rules! frame_types {
    ($($(#[$doc:meta])* $name:ident = $val:literal $(..= $hi:literal)?, $label:literal, $pk:expr, $ae:literal, $pr:literal;)*) => {
        impl FrameType {
            $($(#[$doc])* pub const $name: FrameType = FrameType($val);)*

            /// The table entry for this type, or `None` for an unknown frame type (which
            /// RFC 9000 §12.4 makes a FRAME_ENCODING_ERROR).
            pub const fn info(self) -> Option<FrameTypeInfo> {
                match self.0 {
                    $($val $(..= $hi)? => Some(FrameTypeInfo {
                        name: $label, packets: $pk, ack_eliciting: $ae, probing: $pr,
                    }),)*
                    _ => None,
                }
            }
        }
    };
}

frame_types! {
    /// PADDING (RFC 9000 §19.1).
    PADDING = 0x00, "PADDING", I | H | Z | O, false, true;
    /// PING (RFC 9000 §19.2).
    PING = 0x01, "PING", I | H | Z | O, true, false;
    /// ACK without ECN counts (RFC 9000 §19.3).
    ACK = 0x02, "ACK", I | H | O, false, false;
    /// ACK with ECN counts (RFC 9000 §19.3).
    ACK_ECN = 0x03, "ACK", I | H | O, false, false;
    /// RESET_STREAM (RFC 9000 §19.4).
    RESET_STREAM = 0x04, "RESET_STREAM", Z | O, true, false;
    /// STOP_SENDING (RFC 9000 §19.5).
    STOP_SENDING = 0x05, "STOP_SENDING", Z | O, true, false;
    /// CRYPTO (RFC 9000 §19.6).
    CRYPTO = 0x06, "CRYPTO", I | H | O, true, false;
    /// NEW_TOKEN (RFC 9000 §19.7).
    NEW_TOKEN = 0x07, "NEW_TOKEN", O, true, false;
    /// STREAM with no flags; 0x08..=0x0f carry OFF (0x04), LEN (0x02) and FIN (0x01)
    /// (RFC 9000 §19.8).
    STREAM_BASE = 0x08 ..= 0x0f, "STREAM", Z | O, true, false;
    /// MAX_DATA (RFC 9000 §19.9).
    MAX_DATA = 0x10, "MAX_DATA", Z | O, true, false;
    /// MAX_STREAM_DATA (RFC 9000 §19.10).
    MAX_STREAM_DATA = 0x11, "MAX_STREAM_DATA", Z | O, true, false;
    /// MAX_STREAMS for bidirectional streams (RFC 9000 §19.11).
    MAX_STREAMS_BIDI = 0x12, "MAX_STREAMS", Z | O, true, false;
    /// MAX_STREAMS for unidirectional streams (RFC 9000 §19.11).
    MAX_STREAMS_UNI = 0x13, "MAX_STREAMS", Z | O, true, false;
    /// DATA_BLOCKED (RFC 9000 §19.12).
    DATA_BLOCKED = 0x14, "DATA_BLOCKED", Z | O, true, false;
    /// STREAM_DATA_BLOCKED (RFC 9000 §19.13).
    STREAM_DATA_BLOCKED = 0x15, "STREAM_DATA_BLOCKED", Z | O, true, false;
    /// STREAMS_BLOCKED for bidirectional streams (RFC 9000 §19.14).
    STREAMS_BLOCKED_BIDI = 0x16, "STREAMS_BLOCKED", Z | O, true, false;
    /// STREAMS_BLOCKED for unidirectional streams (RFC 9000 §19.14).
    STREAMS_BLOCKED_UNI = 0x17, "STREAMS_BLOCKED", Z | O, true, false;
    /// NEW_CONNECTION_ID (RFC 9000 §19.15).
    NEW_CONNECTION_ID = 0x18, "NEW_CONNECTION_ID", Z | O, true, true;
    /// RETIRE_CONNECTION_ID (RFC 9000 §19.16).
    RETIRE_CONNECTION_ID = 0x19, "RETIRE_CONNECTION_ID", Z | O, true, false;
    /// PATH_CHALLENGE (RFC 9000 §19.17).
    PATH_CHALLENGE = 0x1a, "PATH_CHALLENGE", Z | O, true, true;
    /// PATH_RESPONSE (RFC 9000 §19.18).
    PATH_RESPONSE = 0x1b, "PATH_RESPONSE", O, true, true;
    /// CONNECTION_CLOSE signalling a transport error (RFC 9000 §19.19).
    CONNECTION_CLOSE = 0x1c, "CONNECTION_CLOSE", I | H | Z | O, false, false;
    /// CONNECTION_CLOSE signalling an application error (RFC 9000 §19.19); only in 0-RTT
    /// and 1-RTT packets (Table 3, "ih").
    CONNECTION_CLOSE_APP = 0x1d, "CONNECTION_CLOSE", Z | O, false, false;
    /// HANDSHAKE_DONE (RFC 9000 §19.20).
    HANDSHAKE_DONE = 0x1e, "HANDSHAKE_DONE", O, true, false;
    /// IMMEDIATE_ACK (ack-frequency draft §5). Not in 0-RTT (§3: it cannot be sent before
    /// the peer's min_ack_delay is known).
    IMMEDIATE_ACK = 0x1f, "IMMEDIATE_ACK", O, true, false;
    /// DATAGRAM without a Length field (RFC 9221 §4).
    DATAGRAM = 0x30, "DATAGRAM", Z | O, true, false;
    /// DATAGRAM with a Length field (RFC 9221 §4).
    DATAGRAM_LEN = 0x31, "DATAGRAM", Z | O, true, false;
    /// PATH_ACK without ECN counts (RFC 10069 §4.1). Multipath frames are 1-RTT only (§4).
    PATH_ACK = 0x3e, "PATH_ACK", O, false, false;
    /// PATH_ACK with ECN counts (RFC 10069 §4.1).
    PATH_ACK_ECN = 0x3f, "PATH_ACK", O, false, false;
    /// ACK_FREQUENCY (ack-frequency draft §4). 1-RTT only (§3).
    ACK_FREQUENCY = 0xaf, "ACK_FREQUENCY", O, true, false;
    /// PATH_ABANDON (RFC 10069 §4.2).
    PATH_ABANDON = 0x3e75, "PATH_ABANDON", O, true, false;
    /// PATH_STATUS_BACKUP (RFC 10069 §4.3).
    PATH_STATUS_BACKUP = 0x3e76, "PATH_STATUS_BACKUP", O, true, false;
    /// PATH_STATUS_AVAILABLE (RFC 10069 §4.3).
    PATH_STATUS_AVAILABLE = 0x3e77, "PATH_STATUS_AVAILABLE", O, true, false;
    /// PATH_NEW_CONNECTION_ID (RFC 10069 §4.4).
    PATH_NEW_CONNECTION_ID = 0x3e78, "PATH_NEW_CONNECTION_ID", O, true, false;
    /// PATH_RETIRE_CONNECTION_ID (RFC 10069 §4.5).
    PATH_RETIRE_CONNECTION_ID = 0x3e79, "PATH_RETIRE_CONNECTION_ID", O, true, false;
    /// MAX_PATH_ID (RFC 10069 §4.6).
    MAX_PATH_ID = 0x3e7a, "MAX_PATH_ID", O, true, false;
    /// PATHS_BLOCKED (RFC 10069 §4.7).
    PATHS_BLOCKED = 0x3e7b, "PATHS_BLOCKED", O, true, false;
    /// PATH_CIDS_BLOCKED (RFC 10069 §4.7).
    PATH_CIDS_BLOCKED = 0x3e7c, "PATH_CIDS_BLOCKED", O, true, false;
}

impl FrameType {
    /// STREAM flag: an Offset field is present (RFC 9000 §19.8).
    pub const STREAM_OFF: u64 = 0x04;
    /// STREAM flag: a Length field is present.
    pub const STREAM_LEN: u64 = 0x02;
    /// STREAM flag: the frame ends the stream.
    pub const STREAM_FIN: u64 = 0x01;

    /// Whether this is one of the eight STREAM types.
    #[inline]
    pub const fn is_stream(self) -> bool {
        self.0 >= 0x08 && self.0 <= 0x0f
    }

    /// Whether this type is known to this crate.
    #[inline]
    pub const fn is_known(self) -> bool {
        self.info().is_some()
    }

    /// Whether a frame of this type may appear in a packet of type `ty`
    /// (RFC 9000 §12.4 Table 3; RFC 9221 §4; ack-frequency §3; RFC 10069 §4).
    /// Unknown types and packet types without frames give `false`.
    #[inline]
    pub const fn allowed_in(self, ty: PacketType) -> bool {
        match self.info() {
            Some(info) => info.allowed_in(ty),
            None => false,
        }
    }

    /// Whether a packet holding this frame is ack-eliciting; unknown types count as
    /// ack-eliciting.
    #[inline]
    pub const fn is_ack_eliciting(self) -> bool {
        match self.info() {
            Some(info) => info.ack_eliciting,
            None => true,
        }
    }

    /// Whether this frame may be sent on a path being probed (RFC 9000 §9.1).
    #[inline]
    pub const fn is_probing(self) -> bool {
        match self.info() {
            Some(info) => info.probing,
            None => false,
        }
    }

    /// The number of bytes the (minimal) encoding of this type takes.
    #[inline]
    pub const fn size(self) -> usize {
        crate::varint::size_of_u64(self.0)
    }
}

impl fmt::Debug for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.info() {
            Some(info) => write!(f, "{}({:#x})", info.name, self.0),
            None => write!(f, "FrameType({:#x})", self.0),
        }
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.info() {
            Some(info) => f.write_str(info.name),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PacketType::*;

    /// RFC 9000 §12.4 Table 3, the "Pkts" column, row by row.
    #[test]
    fn table_3_packet_permissions() {
        let rows: &[(u64, &str)] = &[
            (0x00, "IH01"),
            (0x01, "IH01"),
            (0x02, "IH_1"),
            (0x03, "IH_1"),
            (0x04, "__01"),
            (0x05, "__01"),
            (0x06, "IH_1"),
            (0x07, "___1"),
            (0x08, "__01"),
            (0x0f, "__01"),
            (0x10, "__01"),
            (0x11, "__01"),
            (0x12, "__01"),
            (0x13, "__01"),
            (0x14, "__01"),
            (0x15, "__01"),
            (0x16, "__01"),
            (0x17, "__01"),
            (0x18, "__01"),
            (0x19, "__01"),
            (0x1a, "__01"),
            (0x1b, "___1"),
            (0x1c, "IH01"),
            (0x1d, "__01"),
            (0x1e, "___1"),
        ];
        for &(ty, pkts) in rows {
            let ty = FrameType(ty);
            let p = pkts.as_bytes();
            assert_eq!(ty.allowed_in(Initial), p[0] == b'I', "{ty:?} Initial");
            assert_eq!(ty.allowed_in(Handshake), p[1] == b'H', "{ty:?} Handshake");
            assert_eq!(ty.allowed_in(ZeroRtt), p[2] == b'0', "{ty:?} 0-RTT");
            assert_eq!(ty.allowed_in(OneRtt), p[3] == b'1', "{ty:?} 1-RTT");
            assert!(!ty.allowed_in(Retry) && !ty.allowed_in(VersionNegotiation));
        }
    }

    #[test]
    fn extension_frames_are_one_rtt_only_except_datagram() {
        for ty in [
            0x1f, 0xaf, 0x3e, 0x3f, 0x3e75, 0x3e76, 0x3e77, 0x3e78, 0x3e79, 0x3e7a, 0x3e7b, 0x3e7c,
        ] {
            let ty = FrameType(ty);
            assert!(ty.is_known());
            assert!(ty.allowed_in(OneRtt) && !ty.allowed_in(ZeroRtt) && !ty.allowed_in(Initial));
        }
        for ty in [FrameType::DATAGRAM, FrameType::DATAGRAM_LEN] {
            assert!(ty.allowed_in(ZeroRtt) && ty.allowed_in(OneRtt) && !ty.allowed_in(Handshake));
        }
    }

    #[test]
    fn ack_eliciting_and_probing_flags() {
        for ty in [
            FrameType::PADDING,
            FrameType::ACK,
            FrameType::ACK_ECN,
            FrameType::CONNECTION_CLOSE,
            FrameType::CONNECTION_CLOSE_APP,
            FrameType::PATH_ACK,
            FrameType::PATH_ACK_ECN,
        ] {
            assert!(!ty.is_ack_eliciting(), "{ty:?}");
        }
        assert!(FrameType::PING.is_ack_eliciting());
        let probing: std::vec::Vec<u64> =
            (0..0x40).filter(|&t| FrameType(t).is_probing()).collect();
        assert_eq!(probing, [0x00, 0x18, 0x1a, 0x1b]);
        assert!(!FrameType(0x20).is_known());
        assert_eq!(std::format!("{}", FrameType(0x0b)), "STREAM");
    }
}
