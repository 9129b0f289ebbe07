//! Transport events about versions, parameters, packets and datagrams (qlog QUIC events,
//! "Transport events", first half; the stream and data events are in
//! [`super::data`]).

use alloc::vec::Vec;

use quic_wire::transport_params::PreferredAddress as WirePreferredAddress;
use quic_wire::TransportParameters;
use serde::Serialize;

use crate::qlog::frames::QuicFrame;
use crate::qlog::types::{
    Cid, Ecn, Hex, Initiator, PacketHeader, PacketNumberSpace, QuicVersion, RawInfo, ResetTokenHex,
};

/// `quic:version_information`: versions offered by each side and the one chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VersionInformation {
    /// The server's versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_versions: Option<Vec<QuicVersion>>,
    /// The client's versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_versions: Option<Vec<QuicVersion>>,
    /// The version in use; absent when there is no overlap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen_version: Option<QuicVersion>,
}

/// `ALPNIdentifier`: an ALPN protocol ID as bytes and, when UTF-8, as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AlpnIdentifier<'a> {
    /// The raw bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_value: Option<Hex<&'a [u8]>>,
    /// The bytes as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_value: Option<&'a str>,
}

impl<'a> AlpnIdentifier<'a> {
    /// Logs the bytes, and the text too when the bytes are UTF-8.
    pub fn new(alpn: &'a [u8]) -> Self {
        AlpnIdentifier {
            byte_value: Some(Hex(alpn)),
            string_value: core::str::from_utf8(alpn).ok(),
        }
    }
}

/// `quic:alpn_information`: ALPN lists of each side and the chosen protocol.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AlpnInformation<'a> {
    /// The server's protocols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_alpns: Option<Vec<AlpnIdentifier<'a>>>,
    /// The client's protocols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_alpns: Option<Vec<AlpnIdentifier<'a>>>,
    /// The negotiated protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen_alpn: Option<AlpnIdentifier<'a>>,
}

/// `PreferredAddress` in `quic:parameters_set`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreferredAddress {
    /// IPv4 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_v4: Option<core::net::Ipv4Addr>,
    /// IPv4 port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_v4: Option<u16>,
    /// IPv6 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_v6: Option<core::net::Ipv6Addr>,
    /// IPv6 port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_v6: Option<u16>,
    /// The connection ID to use with the address.
    pub connection_id: Cid,
    /// Its stateless reset token.
    pub stateless_reset_token: ResetTokenHex,
}

impl From<&WirePreferredAddress> for PreferredAddress {
    fn from(p: &WirePreferredAddress) -> Self {
        PreferredAddress {
            ip_v4: p.ipv4.map(|(a, _)| a),
            port_v4: p.ipv4.map(|(_, port)| port),
            ip_v6: p.ipv6.map(|(a, _)| a),
            port_v6: p.ipv6.map(|(_, port)| port),
            connection_id: Hex(p.connection_id),
            stateless_reset_token: Hex(p.stateless_reset_token.0),
        }
    }
}

/// `UnknownParameter`: a transport parameter this endpoint does not interpret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnknownParameter<'a> {
    /// The parameter ID.
    pub id: u64,
    /// Its value bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Hex<&'a [u8]>>,
}

/// `quic:parameters_set`: transport parameters and TLS settings of one side.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[allow(
    missing_docs,
    reason = "each field is the transport parameter of the same name"
)]
pub struct ParametersSet<'a> {
    /// Whose settings these are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiator: Option<Initiator>,
    /// Whether a valid session ticket was received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumption_allowed: Option<bool>,
    /// Whether the TLS early data extension is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_data_enabled: Option<bool>,
    /// The negotiated cipher suite, such as `"AES_128_GCM_SHA256"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cipher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_destination_connection_id: Option<Cid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_source_connection_id: Option<Cid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_source_connection_id: Option<Cid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stateless_reset_token: Option<ResetTokenHex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_active_migration: Option<bool>,
    /// In milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_idle_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_udp_payload_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_delay_exponent: Option<u64>,
    /// In milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ack_delay: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_connection_id_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_data: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_stream_data_bidi_local: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_stream_data_bidi_remote: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_stream_data_uni: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_streams_bidi: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_streams_uni: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_address: Option<PreferredAddress>,
    /// Parameters not interpreted by this endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_parameters: Option<Vec<UnknownParameter<'a>>>,
    /// RFC 9221.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_datagram_frame_size: Option<u64>,
    /// RFC 9287.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grease_quic_bit: Option<bool>,
    /// Reliable stream reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_stream_at: Option<bool>,
}

impl ParametersSet<'_> {
    /// Every RFC 9000, RFC 9221 and RFC 9287 parameter of `tp`, as declared by
    /// `initiator`. Parameters the draft has no field for (multipath, ack-frequency,
    /// version_information) are left out.
    pub fn from_transport_parameters(initiator: Initiator, tp: &TransportParameters) -> Self {
        ParametersSet {
            initiator: Some(initiator),
            original_destination_connection_id: tp.original_destination_connection_id.map(Hex),
            initial_source_connection_id: tp.initial_source_connection_id.map(Hex),
            retry_source_connection_id: tp.retry_source_connection_id.map(Hex),
            stateless_reset_token: tp.stateless_reset_token.map(|t| Hex(t.0)),
            disable_active_migration: Some(tp.disable_active_migration),
            max_idle_timeout: Some(tp.max_idle_timeout_ms.into_inner()),
            max_udp_payload_size: Some(tp.max_udp_payload_size.into_inner()),
            ack_delay_exponent: Some(tp.ack_delay_exponent.into()),
            max_ack_delay: Some(tp.max_ack_delay_ms.into()),
            active_connection_id_limit: Some(tp.active_connection_id_limit.into_inner()),
            initial_max_data: Some(tp.initial_max_data.into_inner()),
            initial_max_stream_data_bidi_local: Some(
                tp.initial_max_stream_data_bidi_local.into_inner(),
            ),
            initial_max_stream_data_bidi_remote: Some(
                tp.initial_max_stream_data_bidi_remote.into_inner(),
            ),
            initial_max_stream_data_uni: Some(tp.initial_max_stream_data_uni.into_inner()),
            initial_max_streams_bidi: Some(tp.initial_max_streams_bidi.into_inner()),
            initial_max_streams_uni: Some(tp.initial_max_streams_uni.into_inner()),
            preferred_address: tp.preferred_address.as_ref().map(Into::into),
            max_datagram_frame_size: tp.max_datagram_frame_size.map(|v| v.into_inner()),
            grease_quic_bit: Some(tp.grease_quic_bit),
            ..Default::default()
        }
    }
}

/// `quic:parameters_restored`: the server parameters a client restored for 0-RTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[allow(
    missing_docs,
    reason = "each field is the transport parameter of the same name"
)]
pub struct ParametersRestored {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_active_migration: Option<bool>,
    /// In milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_idle_timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_udp_payload_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_connection_id_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_data: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_stream_data_bidi_local: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_stream_data_bidi_remote: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_stream_data_uni: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_streams_bidi: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_max_streams_uni: Option<u64>,
    /// RFC 9221.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_datagram_frame_size: Option<u64>,
    /// RFC 9287; clients only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grease_quic_bit: Option<bool>,
}

/// `trigger` of `quic:packet_sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PacketSentTrigger {
    /// Retransmission after reordering-based loss (RFC 9002 §6.1.1).
    RetransmitReordered,
    /// Retransmission after time-based loss (RFC 9002 §6.1.2).
    RetransmitTimeout,
    /// A probe after PTO (RFC 9002 §6.2.4).
    PtoProbe,
    /// Handshake data retransmission (RFC 9002 §6.2.3).
    RetransmitCrypto,
    /// A congestion controller's bandwidth probe.
    CcBandwidthProbe,
}

/// `quic:packet_sent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PacketSent<'a> {
    /// The header.
    pub header: PacketHeader<'a>,
    /// The frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<&'a [QuicFrame<'a>]>,
    /// Stateless reset packets only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stateless_reset_token: Option<ResetTokenHex>,
    /// Version Negotiation packets only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_versions: Option<&'a [QuicVersion]>,
    /// Packet lengths (`length` includes the 16-byte AEAD tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
    /// CRC32c of the datagram payload, to relate coalesced packets to their datagram.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagram_payload_checksum: Option<u32>,
    /// Whether this is a PMTU probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_mtu_probe_packet: Option<bool>,
    /// Why the packet was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<PacketSentTrigger>,
}

impl<'a> PacketSent<'a> {
    /// A packet with a header and frames, everything else unset.
    pub const fn new(header: PacketHeader<'a>, frames: &'a [QuicFrame<'a>]) -> Self {
        PacketSent {
            header,
            frames: Some(frames),
            stateless_reset_token: None,
            supported_versions: None,
            raw: None,
            datagram_payload_checksum: None,
            is_mtu_probe_packet: None,
            trigger: None,
        }
    }
}

/// `trigger` of `quic:packet_received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PacketReceivedTrigger {
    /// A buffered packet could be decrypted once its keys arrived.
    KeysAvailable,
}

/// `quic:packet_received`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PacketReceived<'a> {
    /// The header.
    pub header: PacketHeader<'a>,
    /// The frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<&'a [QuicFrame<'a>]>,
    /// Stateless reset packets only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stateless_reset_token: Option<ResetTokenHex>,
    /// Version Negotiation packets only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_versions: Option<&'a [QuicVersion]>,
    /// Packet lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
    /// CRC32c of the datagram payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagram_payload_checksum: Option<u32>,
    /// Why the packet is processed now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<PacketReceivedTrigger>,
}

impl<'a> PacketReceived<'a> {
    /// A packet with a header and frames, everything else unset.
    pub const fn new(header: PacketHeader<'a>, frames: &'a [QuicFrame<'a>]) -> Self {
        PacketReceived {
            header,
            frames: Some(frames),
            stateless_reset_token: None,
            supported_versions: None,
            raw: None,
            datagram_payload_checksum: None,
            trigger: None,
        }
    }
}

/// `trigger` of `quic:packet_dropped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PacketDroppedTrigger {
    /// Not initialized, out of memory.
    InternalError,
    /// Limits, DoS protection.
    Rejected,
    /// Unsupported version.
    Unsupported,
    /// Parsing or validation failed.
    Invalid,
    /// A duplicate packet.
    Duplicate,
    /// No connection matches.
    ConnectionUnknown,
    /// Decryption failed.
    DecryptionFailure,
    /// The keys are not available.
    KeyUnavailable,
    /// Anything else.
    General,
}

/// `quic:packet_dropped`. The free-form `details` map is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PacketDropped<'a> {
    /// What is known of the header, usually just the type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<PacketHeader<'a>>,
    /// Lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
    /// CRC32c of the datagram payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagram_payload_checksum: Option<u32>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<PacketDroppedTrigger>,
}

/// `trigger` of `quic:packet_buffered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PacketBufferedTrigger {
    /// The parser cannot keep up.
    Backpressure,
    /// The keys to decrypt it are not there yet.
    KeysUnavailable,
}

/// `quic:packet_buffered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PacketBuffered<'a> {
    /// What is known of the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<PacketHeader<'a>>,
    /// Lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
    /// CRC32c of the datagram payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagram_payload_checksum: Option<u32>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<PacketBufferedTrigger>,
}

/// `quic:packets_acked`: packets acknowledged for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PacketsAcked<'a> {
    /// The space (`application_data` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_number_space: Option<PacketNumberSpace>,
    /// The packet numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_numbers: Option<&'a [u64]>,
}

/// `quic:udp_datagrams_sent`. `raw` excludes UDP headers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UdpDatagramsSent<'a> {
    /// How many datagrams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u16>,
    /// Per datagram lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Vec<RawInfo<'a>>>,
    /// Per datagram ECN codepoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecn: Option<Vec<Ecn>>,
    /// Per datagram CRC32c of the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagram_payload_checksums: Option<Vec<u32>>,
}

impl UdpDatagramsSent<'_> {
    /// One datagram of `len` bytes sent with `ecn`.
    pub fn one(len: usize, ecn: quic_wire::Ecn) -> Self {
        UdpDatagramsSent {
            count: Some(1),
            raw: Some(alloc::vec![RawInfo::length(len as u64)]),
            ecn: Some(alloc::vec![ecn.into()]),
            datagram_payload_checksums: None,
        }
    }
}

/// `quic:udp_datagrams_received`. `raw` excludes UDP headers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UdpDatagramsReceived<'a> {
    /// How many datagrams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u16>,
    /// Per datagram lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<Vec<RawInfo<'a>>>,
    /// Per datagram ECN codepoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecn: Option<Vec<Ecn>>,
    /// Per datagram CRC32c of the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagram_payload_checksums: Option<Vec<u32>>,
}

impl UdpDatagramsReceived<'_> {
    /// One datagram of `len` bytes received with `ecn`.
    pub fn one(len: usize, ecn: quic_wire::Ecn) -> Self {
        UdpDatagramsReceived {
            count: Some(1),
            raw: Some(alloc::vec![RawInfo::length(len as u64)]),
            ecn: Some(alloc::vec![ecn.into()]),
            datagram_payload_checksums: None,
        }
    }
}

/// `quic:udp_datagram_dropped`: a datagram without a usable QUIC packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct UdpDatagramDropped<'a> {
    /// Lengths, excluding UDP headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
}

crate::qlog::impl_event! {
    VersionInformation => "quic:version_information",
    AlpnInformation<'_> => "quic:alpn_information",
    ParametersSet<'_> => "quic:parameters_set",
    ParametersRestored => "quic:parameters_restored",
    PacketSent<'_> => "quic:packet_sent",
    PacketReceived<'_> => "quic:packet_received",
    PacketDropped<'_> => "quic:packet_dropped",
    PacketBuffered<'_> => "quic:packet_buffered",
    PacketsAcked<'_> => "quic:packets_acked",
    UdpDatagramsSent<'_> => "quic:udp_datagrams_sent",
    UdpDatagramsReceived<'_> => "quic:udp_datagrams_received",
    UdpDatagramDropped<'_> => "quic:udp_datagram_dropped",
}
