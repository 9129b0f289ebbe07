//! Data types shared by the QUIC events (qlog QUIC events, "QUIC data type definitions";
//! qlog main schema §10 for `RawInfo`).
//!
//! Byte strings are logged as lowercase `hexstring`s (main schema §1.2) through [`Hex`],
//! which writes straight into the serializer without an intermediate `String`.

use core::fmt;
use core::net::IpAddr;

use quic_wire::packet::{LongHeader, RetryHeader, ShortHeader, VersionNegotiation};
use quic_wire::{ConnectionId, PacketType as WirePacketType, Space, Version};
use serde::{Serialize, Serializer};

/// Bytes logged as a lowercase `hexstring` (two digits per byte, no prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hex<T>(pub T);

/// A connection ID, logged as a `hexstring` (`ConnectionID`).
pub type Cid = Hex<ConnectionId>;
/// A stateless reset token, logged as a 16-byte `hexstring` (`StatelessResetToken`).
pub type ResetTokenHex = Hex<[u8; 16]>;

impl<T: AsRef<[u8]>> fmt::Display for Hex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.as_ref() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl<T: AsRef<[u8]>> Serialize for Hex<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<ConnectionId> for Cid {
    fn from(cid: ConnectionId) -> Self {
        Hex(cid)
    }
}

/// A QUIC version, logged as a 4-byte `hexstring` such as `"00000001"` (`QuicVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuicVersion(pub Version);

impl Serialize for QuicVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Hex(self.0 .0.to_be_bytes()))
    }
}

/// Which side of the connection an event or setting comes from (`Initiator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    /// This endpoint.
    Local,
    /// The peer.
    Remote,
}

/// Lengths and contents of a wire entity (main schema §10, `RawInfo`). For QUIC packets
/// the AEAD tag counts as a 16-byte trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RawInfo<'a> {
    /// Full length of the entity, headers and trailers included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Length of the entity's payload only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_length: Option<u64>,
    /// The (possibly truncated) bytes of the entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Hex<&'a [u8]>>,
}

impl RawInfo<'_> {
    /// Only `length` set.
    pub const fn length(length: u64) -> Self {
        RawInfo {
            length: Some(length),
            payload_length: None,
            data: None,
        }
    }

    /// Only `payload_length` set.
    pub const fn payload_length(payload_length: u64) -> Self {
        RawInfo {
            length: None,
            payload_length: Some(payload_length),
            data: None,
        }
    }
}

/// `$PacketType`: the qlog spelling of a packet's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PacketType {
    /// `"initial"`.
    Initial,
    /// `"handshake"`.
    Handshake,
    /// `"0RTT"`.
    #[serde(rename = "0RTT")]
    ZeroRtt,
    /// `"1RTT"`.
    #[serde(rename = "1RTT")]
    OneRtt,
    /// `"retry"`.
    Retry,
    /// `"version_negotiation"`.
    VersionNegotiation,
    /// `"stateless_reset"`.
    StatelessReset,
    /// `"unknown"`; the header's `packet_type_bytes` holds the raw value.
    Unknown,
}

impl From<WirePacketType> for PacketType {
    fn from(ty: WirePacketType) -> Self {
        match ty {
            WirePacketType::Initial => PacketType::Initial,
            WirePacketType::Handshake => PacketType::Handshake,
            WirePacketType::ZeroRtt => PacketType::ZeroRtt,
            WirePacketType::OneRtt => PacketType::OneRtt,
            WirePacketType::Retry => PacketType::Retry,
            WirePacketType::VersionNegotiation => PacketType::VersionNegotiation,
        }
    }
}

/// `$PacketNumberSpace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketNumberSpace {
    /// `"initial"`.
    Initial,
    /// `"handshake"`.
    Handshake,
    /// `"application_data"` (0-RTT and 1-RTT).
    ApplicationData,
}

impl From<Space> for PacketNumberSpace {
    fn from(space: Space) -> Self {
        match space {
            Space::Initial => PacketNumberSpace::Initial,
            Space::Handshake => PacketNumberSpace::Handshake,
            Space::Data => PacketNumberSpace::ApplicationData,
        }
    }
}

/// `$TokenType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// A token from a Retry packet.
    Retry,
    /// A token from a NEW_TOKEN frame, used when resuming.
    Resumption,
}

/// `Token`: an address validation token. The free-form `details` map is not offered;
/// log the bytes in `raw` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Token<'a> {
    /// Where the token came from.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<TokenType>,
    /// The token's length and, optionally, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
}

impl<'a> Token<'a> {
    /// A token logged with its length and bytes.
    pub fn from_bytes(ty: Option<TokenType>, bytes: &'a [u8]) -> Self {
        Token {
            ty,
            raw: Some(RawInfo {
                length: Some(bytes.len() as u64),
                payload_length: None,
                data: Some(Hex(bytes)),
            }),
        }
    }
}

/// `PacketHeader`. Build one with [`PacketHeader::new`], [`PacketHeader::long`] or
/// [`PacketHeader::short`] and set the remaining fields directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PacketHeader<'a> {
    /// The packet's type.
    pub packet_type: PacketType,
    /// Only with `packet_type` unknown: the raw type value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_type_bytes: Option<u64>,
    /// 1-RTT only: the latency spin bit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spin_bit: Option<bool>,
    /// 1-RTT only: the full key phase, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_phase: Option<u64>,
    /// 1-RTT only, when `key_phase` is not set: the key phase bit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_phase_bit: Option<bool>,
    /// Encoded packet number length in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_number_length: Option<u8>,
    /// The full packet number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_number: Option<u64>,
    /// Initial and Retry only: the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Token<'a>>,
    /// Initial, Handshake and 0-RTT: the Length field (packet number plus payload).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u16>,
    /// The version, for long headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<QuicVersion>,
    /// Source connection ID length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scil: Option<u8>,
    /// Destination connection ID length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcil: Option<u8>,
    /// Source connection ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scid: Option<Cid>,
    /// Destination connection ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcid: Option<Cid>,
}

impl<'a> PacketHeader<'a> {
    /// A header with only the type and, if given, the packet number.
    pub const fn new(packet_type: PacketType, packet_number: Option<u64>) -> Self {
        PacketHeader {
            packet_type,
            packet_type_bytes: None,
            spin_bit: None,
            key_phase: None,
            key_phase_bit: None,
            packet_number_length: None,
            packet_number,
            token: None,
            length: None,
            version: None,
            scil: None,
            dcil: None,
            scid: None,
            dcid: None,
        }
    }

    /// From an Initial, 0-RTT or Handshake header: type, version, both connection IDs
    /// with their lengths, and for Initial packets the token (length only, no bytes).
    pub fn long(header: &LongHeader<'a>, packet_number: u64) -> Self {
        let mut h = PacketHeader::new(header.ty.into(), Some(packet_number));
        h.version = Some(QuicVersion(header.version));
        h.set_cids(&header.scid, &header.dcid);
        if header.ty == WirePacketType::Initial && !header.token.is_empty() {
            h.token = Some(Token {
                ty: None,
                raw: Some(RawInfo::length(header.token.len() as u64)),
            });
        }
        h
    }

    /// From a Retry header: version, both connection IDs and the token (length only).
    pub fn retry(header: &RetryHeader<'a>) -> Self {
        let mut h = PacketHeader::new(PacketType::Retry, None);
        h.version = Some(QuicVersion(header.version));
        h.set_cids(&header.scid, &header.dcid);
        h.token = Some(Token {
            ty: Some(TokenType::Retry),
            raw: Some(RawInfo::length(header.token.len() as u64)),
        });
        h
    }

    /// From a Version Negotiation packet: version 0 and the connection IDs, which are
    /// left out when longer than 20 bytes (the lengths are always logged). The offered
    /// versions go in the event's `supported_versions`.
    pub fn version_negotiation(vn: &VersionNegotiation<'_>) -> Self {
        let mut h = PacketHeader::new(PacketType::VersionNegotiation, None);
        h.version = Some(QuicVersion(Version::NEGOTIATION));
        h.scil = u8::try_from(vn.scid.len()).ok();
        h.dcil = u8::try_from(vn.dcid.len()).ok();
        h.scid = ConnectionId::new(vn.scid).ok().map(Hex);
        h.dcid = ConnectionId::new(vn.dcid).ok().map(Hex);
        h
    }

    fn set_cids(&mut self, scid: &ConnectionId, dcid: &ConnectionId) {
        self.scil = Some(scid.len() as u8);
        self.dcil = Some(dcid.len() as u8);
        self.scid = Some(Hex(*scid));
        self.dcid = Some(Hex(*dcid));
    }

    /// From a 1-RTT header: spin bit, key phase bit and destination connection ID.
    pub fn short(header: &ShortHeader, packet_number: u64) -> Self {
        let mut h = PacketHeader::new(PacketType::OneRtt, Some(packet_number));
        h.spin_bit = Some(header.spin);
        h.key_phase_bit = Some(header.key_phase);
        h.dcil = Some(header.dcid.len() as u8);
        h.dcid = Some(Hex(header.dcid));
        h
    }
}

/// `ECN`: the codepoint in the IP header, spelled as in the draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Ecn {
    /// `"Not-ECT"`.
    #[serde(rename = "Not-ECT")]
    NotEct,
    /// `"ECT(1)"`.
    #[serde(rename = "ECT(1)")]
    Ect1,
    /// `"ECT(0)"`.
    #[serde(rename = "ECT(0)")]
    Ect0,
    /// `"CE"`.
    #[serde(rename = "CE")]
    Ce,
}

impl From<quic_wire::Ecn> for Ecn {
    fn from(e: quic_wire::Ecn) -> Self {
        match e {
            quic_wire::Ecn::NotEct => Ecn::NotEct,
            quic_wire::Ecn::Ect1 => Ecn::Ect1,
            quic_wire::Ecn::Ect0 => Ecn::Ect0,
            quic_wire::Ecn::Ce => Ecn::Ce,
        }
    }
}

/// `StreamType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamType {
    /// `"unidirectional"`.
    Unidirectional,
    /// `"bidirectional"`.
    Bidirectional,
}

impl From<quic_wire::Dir> for StreamType {
    fn from(d: quic_wire::Dir) -> Self {
        match d {
            quic_wire::Dir::Bi => StreamType::Bidirectional,
            quic_wire::Dir::Uni => StreamType::Unidirectional,
        }
    }
}

/// `TupleEndpointInfo`: one direction of a four-tuple. Addresses are logged in their
/// human-readable form.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TupleEndpointInfo {
    /// IPv4 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_v4: Option<IpAddr>,
    /// IPv4 port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_v4: Option<u16>,
    /// IPv6 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_v6: Option<IpAddr>,
    /// IPv6 port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_v6: Option<u16>,
    /// Connection IDs used towards this endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_ids: Option<alloc::vec::Vec<Cid>>,
}

impl TupleEndpointInfo {
    /// The info for one socket address: the v4 or v6 fields, depending on its family.
    pub fn from_addr(addr: core::net::SocketAddr) -> Self {
        let mut info = TupleEndpointInfo::default();
        match addr.ip() {
            ip @ IpAddr::V4(_) => {
                info.ip_v4 = Some(ip);
                info.port_v4 = Some(addr.port());
            }
            ip @ IpAddr::V6(_) => {
                info.ip_v6 = Some(ip);
                info.port_v6 = Some(addr.port());
            }
        }
        info
    }
}

/// The name of an error code, as logged in `connection_closed` and in frames:
/// `$TransportError`, `CryptoError` or `$ApplicationError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorName {
    /// A registered name such as `"protocol_violation"` or `"http_no_error"`.
    Named(&'static str),
    /// A CRYPTO_ERROR carrying this TLS alert, logged as `"crypto_error_0x1XX"`.
    Crypto(u8),
    /// `"unknown"`: the numeric code goes into the sibling `error_code` field.
    Unknown,
}

/// The `$TransportError` names, indexed by code (RFC 9000 §20.1).
const TRANSPORT_ERROR_NAMES: [&str; 17] = [
    "no_error",
    "internal_error",
    "connection_refused",
    "flow_control_error",
    "stream_limit_error",
    "stream_state_error",
    "final_size_error",
    "frame_encoding_error",
    "transport_parameter_error",
    "connection_id_limit_error",
    "protocol_violation",
    "invalid_token",
    "application_error",
    "crypto_buffer_exceeded",
    "key_update_error",
    "aead_limit_reached",
    "no_viable_path",
];

/// Maps an application error code to its qlog name, if the application protocol has one.
pub type AppErrorNamer = fn(u64) -> Option<&'static str>;

impl ErrorName {
    /// The name of a transport error code: a `$TransportError` string, a `CryptoError` for
    /// 0x100-0x1ff, or unknown (which includes codes the draft does not list, such as the
    /// multipath ones).
    pub fn transport(code: u64) -> Self {
        match code {
            0..=0x10 => ErrorName::Named(TRANSPORT_ERROR_NAMES[code as usize]),
            0x100..=0x1ff => ErrorName::Crypto((code & 0xff) as u8),
            _ => ErrorName::Unknown,
        }
    }

    /// The name of an application error code through `namer` (for example
    /// [`crate::qlog::events::h3::application_error_name`]), or unknown.
    pub fn application(code: u64, namer: Option<AppErrorNamer>) -> Self {
        match namer.and_then(|f| f(code)) {
            Some(name) => ErrorName::Named(name),
            None => ErrorName::Unknown,
        }
    }

    /// Whether this is `"unknown"`, so the raw code must be logged beside it.
    pub const fn is_unknown(&self) -> bool {
        matches!(self, ErrorName::Unknown)
    }
}

impl Serialize for ErrorName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ErrorName::Named(name) => s.serialize_str(name),
            ErrorName::Crypto(alert) => s.collect_str(&format_args!("crypto_error_0x1{alert:02x}")),
            ErrorName::Unknown => s.serialize_str("unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(Hex([0x00u8, 0x0f, 0xa0, 0xff]).to_string(), "000fa0ff");
        assert_eq!(Hex(&[][..]).to_string(), "");
    }

    #[test]
    fn transport_error_names_cover_rfc_9000_and_crypto_range() {
        assert_eq!(ErrorName::transport(0x00), ErrorName::Named("no_error"));
        assert_eq!(
            ErrorName::transport(0x10),
            ErrorName::Named("no_viable_path")
        );
        assert_eq!(ErrorName::transport(0x11), ErrorName::Unknown);
        assert_eq!(ErrorName::transport(0x100), ErrorName::Crypto(0));
        assert_eq!(ErrorName::transport(0x1ff), ErrorName::Crypto(0xff));
        assert_eq!(ErrorName::transport(0x200), ErrorName::Unknown);
        assert_eq!(ErrorName::application(5, None), ErrorName::Unknown);
    }
}
