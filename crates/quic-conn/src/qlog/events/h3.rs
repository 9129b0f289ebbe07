//! HTTP/3 events (qlog HTTP/3 events, namespace `http3`) and the `$HTTP3Frame`
//! representation, with conversions from [`quic_streams::h3`] types.
//!
//! The HTTP/3 frame decoder hands out DATA payloads without a frame value, and HEADERS
//! and PUSH_PROMISE as QPACK-encoded bytes; the caller passes the decoded fields (if it
//! wants them logged) to [`Http3Frame::from_frame`], and builds [`Http3Frame::Data`]
//! itself.

use alloc::vec::Vec;

use quic_streams::h3::frame::Frame as H3Frame;
use quic_streams::h3::settings::Settings;
use quic_streams::h3::stream_type::UniStreamType;
use quic_streams::h3::Field;
use serde::Serialize;

use crate::qlog::types::{Hex, Initiator, RawInfo};

/// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §5).
const SETTINGS_ENABLE_CONNECT_PROTOCOL: u64 = 0x08;
/// SETTINGS_H3_DATAGRAM (RFC 9297 §5).
const SETTINGS_H3_DATAGRAM: u64 = 0x33;

/// The qlog `HTTP3ApplicationError` name of an HTTP/3 error code (RFC 9114 §8.1), for
/// [`crate::qlog::types::ErrorName::application`].
///
/// The draft's list has no entry for H3_MESSAGE_ERROR (0x010e) and lists an
/// `http_early_response` that RFC 9114 does not define; H3_MESSAGE_ERROR and the QPACK
/// codes therefore have no name here and are logged as `"unknown"` with their number.
pub fn application_error_name(code: u64) -> Option<&'static str> {
    Some(match code {
        0x0100 => "http_no_error",
        0x0101 => "http_general_protocol_error",
        0x0102 => "http_internal_error",
        0x0103 => "http_stream_creation_error",
        0x0104 => "http_closed_critical_stream",
        0x0105 => "http_frame_unexpected",
        0x0106 => "http_frame_error",
        0x0107 => "http_excessive_load",
        0x0108 => "http_id_error",
        0x0109 => "http_settings_error",
        0x010a => "http_missing_settings",
        0x010b => "http_request_rejected",
        0x010c => "http_request_cancelled",
        0x010d => "http_request_incomplete",
        0x010f => "http_connect_error",
        0x0110 => "http_version_fallback",
        _ => return None,
    })
}

/// `quic:parameters_set`'s HTTP/3 counterpart, `http3:parameters_set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Http3ParametersSet {
    /// `local` for settings sent, `remote` for settings received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiator: Option<Initiator>,
    /// SETTINGS_MAX_FIELD_SECTION_SIZE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_field_section_size: Option<u64>,
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_table_capacity: Option<u64>,
    /// SETTINGS_QPACK_BLOCKED_STREAMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_streams_count: Option<u64>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_connect: Option<u16>,
    /// SETTINGS_H3_DATAGRAM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h3_datagram: Option<u16>,
    /// Whether requests wait for the peer's SETTINGS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_for_settings: Option<bool>,
}

impl Http3ParametersSet {
    /// The settings of one side.
    pub fn from_settings(initiator: Initiator, s: &Settings) -> Self {
        let other = |id: u64| {
            s.other
                .iter()
                .find(|&&(k, _)| k == id)
                .map(|&(_, v)| u16::try_from(v).unwrap_or(u16::MAX))
        };
        Http3ParametersSet {
            initiator: Some(initiator),
            max_field_section_size: s.max_field_section_size,
            max_table_capacity: Some(s.qpack_max_table_capacity),
            blocked_streams_count: Some(s.qpack_blocked_streams),
            extended_connect: other(SETTINGS_ENABLE_CONNECT_PROTOCOL),
            h3_datagram: other(SETTINGS_H3_DATAGRAM),
            waits_for_settings: None,
        }
    }
}

/// `http3:parameters_restored`: settings remembered for 0-RTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Http3ParametersRestored {
    /// SETTINGS_MAX_FIELD_SECTION_SIZE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_field_section_size: Option<u64>,
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_table_capacity: Option<u64>,
    /// SETTINGS_QPACK_BLOCKED_STREAMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_streams_count: Option<u64>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_connect: Option<u16>,
    /// SETTINGS_H3_DATAGRAM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h3_datagram: Option<u16>,
}

/// `$HTTP3StreamType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Http3StreamType {
    /// A request stream.
    Request,
    /// The control stream.
    Control,
    /// A push stream.
    Push,
    /// A reserved (grease) stream type.
    Reserved,
    /// An unknown type; its value goes in `stream_type_bytes`.
    Unknown,
    /// The QPACK encoder stream.
    QpackEncode,
    /// The QPACK decoder stream.
    QpackDecode,
}

/// `http3:stream_type_set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamTypeSet {
    /// Who opened the stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiator: Option<Initiator>,
    /// The stream.
    pub stream_id: u64,
    /// Its type.
    pub stream_type: Http3StreamType,
    /// Only with `unknown`: the type value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_type_bytes: Option<u64>,
    /// Only for push streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associated_push_id: Option<u64>,
}

impl StreamTypeSet {
    /// A unidirectional stream whose type became known.
    pub fn uni(initiator: Initiator, stream_id: u64, ty: UniStreamType) -> Self {
        let (stream_type, bytes) = match ty {
            UniStreamType::Control => (Http3StreamType::Control, None),
            UniStreamType::Push => (Http3StreamType::Push, None),
            UniStreamType::QpackEncoder => (Http3StreamType::QpackEncode, None),
            UniStreamType::QpackDecoder => (Http3StreamType::QpackDecode, None),
            UniStreamType::Reserved(_) => (Http3StreamType::Reserved, None),
            UniStreamType::Unknown(v) => (Http3StreamType::Unknown, Some(v)),
        };
        StreamTypeSet {
            initiator: Some(initiator),
            stream_id,
            stream_type,
            stream_type_bytes: bytes,
            associated_push_id: None,
        }
    }
}

/// `trigger` of `http3:priority_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityTrigger {
    /// A client signal (HEADERS or PRIORITY_UPDATE) arrived.
    ClientSignalReceived,
    /// A local decision.
    Local,
    /// Anything else.
    Other,
}

/// `reason` of `http3:priority_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityReason {
    /// Only the client's signal was used.
    ClientSignalOnly,
    /// Client and server input merged.
    ClientServerMerged,
    /// Local policy.
    LocalPolicy,
    /// Anything else.
    Other,
}

/// `http3:priority_updated`. Priorities are Structured Field text such as `"u=5, i"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PriorityUpdated<'a> {
    /// For a request stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<u64>,
    /// For a push stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_id: Option<u64>,
    /// The previous priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<&'a str>,
    /// The new priority.
    pub new: &'a str,
    /// What caused the update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<PriorityTrigger>,
    /// How the value was chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<PriorityReason>,
}

/// `HTTP3HTTPField`: a header field, as text when it is UTF-8, as bytes otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HttpField<'a> {
    /// The name as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// The name as bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_bytes: Option<Hex<&'a [u8]>>,
    /// The value as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
    /// The value as bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_bytes: Option<Hex<&'a [u8]>>,
}

impl<'a> HttpField<'a> {
    /// A field from its name and value bytes.
    pub fn new(name: &'a [u8], value: &'a [u8]) -> Self {
        let (name, name_bytes) = match core::str::from_utf8(name) {
            Ok(s) => (Some(s), None),
            Err(_) => (None, Some(Hex(name))),
        };
        let (value, value_bytes) = match core::str::from_utf8(value) {
            Ok(s) => (Some(s), None),
            Err(_) => (None, Some(Hex(value))),
        };
        HttpField {
            name,
            name_bytes,
            value,
            value_bytes,
        }
    }
}

impl<'a> From<&'a Field> for HttpField<'a> {
    fn from(f: &'a Field) -> Self {
        HttpField::new(&f.name, &f.value)
    }
}

/// `$HTTP3SettingsName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Http3SettingsName {
    /// 0x01.
    SettingsQpackMaxTableCapacity,
    /// 0x06.
    SettingsMaxFieldSectionSize,
    /// 0x07.
    SettingsQpackBlockedStreams,
    /// 0x08.
    SettingsEnableConnectProtocol,
    /// 0x33.
    #[serde(rename = "settings_h3_datagram")]
    SettingsH3Datagram,
    /// A reserved (grease) identifier.
    Reserved,
    /// Any other identifier; its value goes in `name_bytes`.
    Unknown,
}

/// `HTTP3Setting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Http3Setting {
    /// The setting's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Http3SettingsName>,
    /// Only with `unknown`: the identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_bytes: Option<u64>,
    /// The value.
    pub value: u64,
}

impl Http3Setting {
    /// Names a setting by its identifier.
    pub fn new(id: u64, value: u64) -> Self {
        use Http3SettingsName::*;
        let name = match id {
            0x01 => SettingsQpackMaxTableCapacity,
            0x06 => SettingsMaxFieldSectionSize,
            0x07 => SettingsQpackBlockedStreams,
            SETTINGS_ENABLE_CONNECT_PROTOCOL => SettingsEnableConnectProtocol,
            SETTINGS_H3_DATAGRAM => SettingsH3Datagram,
            id if quic_streams::h3::settings::is_grease(id) => Reserved,
            _ => Unknown,
        };
        Http3Setting {
            name: Some(name),
            name_bytes: (name == Unknown).then_some(id),
            value,
        }
    }
}

/// `HTTP3OriginEntry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OriginEntry<'a> {
    /// Length of the origin.
    pub origin_len: u16,
    /// The origin as ASCII.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ascii_origin: Option<&'a str>,
}

/// One HTTP/3 frame as qlog logs it (`$HTTP3Frame`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "frame_type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Http3Frame<'a> {
    /// DATA; `raw.payload_length` is the payload length.
    Data {
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// HEADERS, with the decoded field section.
    Headers {
        /// The fields.
        headers: Vec<HttpField<'a>>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// CANCEL_PUSH.
    CancelPush {
        /// The push.
        push_id: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// SETTINGS.
    Settings {
        /// The settings in order.
        settings: Vec<Http3Setting>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// PUSH_PROMISE, with the decoded field section.
    PushPromise {
        /// The push.
        push_id: u64,
        /// The fields.
        headers: Vec<HttpField<'a>>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// GOAWAY: a stream ID from a server, a push ID from a client.
    Goaway {
        /// The ID.
        id: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// MAX_PUSH_ID.
    MaxPushId {
        /// The push ID.
        push_id: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// A reserved (grease) frame type.
    Reserved {
        /// The type.
        frame_type_bytes: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// Any other frame type.
    Unknown {
        /// The type.
        frame_type_bytes: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// PRIORITY_UPDATE (RFC 9218 §7).
    PriorityUpdate {
        /// For a request stream.
        #[serde(skip_serializing_if = "Option::is_none")]
        stream_id: Option<u64>,
        /// For a push stream.
        #[serde(skip_serializing_if = "Option::is_none")]
        push_id: Option<u64>,
        /// The Priority Field Value.
        priority_field_value: &'a str,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// ORIGIN (RFC 9412).
    Origin {
        /// The origins.
        origin_entries: Vec<OriginEntry<'a>>,
    },
}

impl<'a> Http3Frame<'a> {
    /// Converts a decoded HTTP/3 frame. `fields` is the decoded field section of a HEADERS
    /// or PUSH_PROMISE frame (logged as an empty list when not given); the encoded
    /// section's length goes into `raw.payload_length`. A PRIORITY_UPDATE value that is not
    /// UTF-8 is logged as an empty string.
    pub fn from_frame(frame: &'a H3Frame, fields: Option<&'a [Field]>) -> Self {
        let headers = || fields.map_or_else(Vec::new, |f| f.iter().map(Into::into).collect());
        let payload = |n: usize| Some(RawInfo::payload_length(n as u64));
        match frame {
            H3Frame::Headers(section) => Http3Frame::Headers {
                headers: headers(),
                raw: payload(section.len()),
            },
            H3Frame::CancelPush(id) => Http3Frame::CancelPush {
                push_id: *id,
                raw: None,
            },
            H3Frame::Settings(s) => {
                let mut settings = Vec::with_capacity(3 + s.other.len());
                settings.push(Http3Setting::new(0x01, s.qpack_max_table_capacity));
                if let Some(v) = s.max_field_section_size {
                    settings.push(Http3Setting::new(0x06, v));
                }
                settings.push(Http3Setting::new(0x07, s.qpack_blocked_streams));
                settings.extend(s.other.iter().map(|&(k, v)| Http3Setting::new(k, v)));
                Http3Frame::Settings {
                    settings,
                    raw: None,
                }
            }
            H3Frame::PushPromise {
                push_id,
                field_section,
            } => Http3Frame::PushPromise {
                push_id: *push_id,
                headers: headers(),
                raw: payload(field_section.len()),
            },
            H3Frame::Goaway(id) => Http3Frame::Goaway { id: *id, raw: None },
            H3Frame::MaxPushId(id) => Http3Frame::MaxPushId {
                push_id: *id,
                raw: None,
            },
            H3Frame::PriorityUpdate { push, id, value } => Http3Frame::PriorityUpdate {
                stream_id: (!push).then_some(*id),
                push_id: push.then_some(*id),
                priority_field_value: core::str::from_utf8(value).unwrap_or(""),
                raw: None,
            },
        }
    }

    /// A frame of a type the decoder skipped: `reserved` for grease types, else `unknown`.
    pub fn skipped(frame_type: u64, payload_len: u64) -> Self {
        let raw = Some(RawInfo::payload_length(payload_len));
        if quic_streams::h3::frame::is_grease(frame_type) {
            Http3Frame::Reserved {
                frame_type_bytes: frame_type,
                raw,
            }
        } else {
            Http3Frame::Unknown {
                frame_type_bytes: frame_type,
                raw,
            }
        }
    }
}

/// `http3:frame_created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameCreated<'a> {
    /// The stream the frame is written to.
    pub stream_id: u64,
    /// The frame.
    pub frame: Http3Frame<'a>,
}

/// `http3:frame_parsed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameParsed<'a> {
    /// The stream the frame was read from.
    pub stream_id: u64,
    /// The frame.
    pub frame: Http3Frame<'a>,
}

/// `http3:datagram_created` (RFC 9297 HTTP Datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DatagramCreated<'a> {
    /// The Quarter Stream ID.
    pub quarter_stream_id: u64,
    /// Lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
}

/// `http3:datagram_parsed` (RFC 9297 HTTP Datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DatagramParsed<'a> {
    /// The Quarter Stream ID.
    pub quarter_stream_id: u64,
    /// Lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawInfo<'a>>,
}

/// `HTTP3PushDecision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushDecision {
    /// The application used the pushed resource.
    Claimed,
    /// The application rejected it.
    Abandoned,
}

/// `http3:push_resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PushResolved {
    /// The push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_id: Option<u64>,
    /// The push stream, when the push ID is not at hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<u64>,
    /// What happened.
    pub decision: PushDecision,
}

crate::qlog::impl_event! {
    Http3ParametersSet => "http3:parameters_set",
    Http3ParametersRestored => "http3:parameters_restored",
    StreamTypeSet => "http3:stream_type_set",
    PriorityUpdated<'_> => "http3:priority_updated",
    FrameCreated<'_> => "http3:frame_created",
    FrameParsed<'_> => "http3:frame_parsed",
    DatagramCreated<'_> => "http3:datagram_created",
    DatagramParsed<'_> => "http3:datagram_parsed",
    PushResolved => "http3:push_resolved",
}
