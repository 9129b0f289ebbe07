//! The qlog `$QuicFrame` representation (qlog QUIC events, "QUIC Frames") and the
//! conversion from [`quic_wire::frame::Frame`].
//!
//! [`QuicFrame`] borrows from the frame it was made from (ACK ranges, reason phrases), so
//! converting a packet's frames allocates nothing beyond the slice that holds them.
//!
//! # Frames the draft does not define
//! The drafts define no representation for ACK_FREQUENCY, IMMEDIATE_ACK or the multipath
//! frames (RFC 10069). They are logged as the draft's `UnknownFrame`:
//! `{"frame_type": "unknown", "frame_type_bytes": <type>}` with `raw.length` set when known,
//! so tools that follow the draft still show them, by number.

use alloc::vec::Vec;

use quic_wire::frame::{AckFrame, ConnectionClose, Frame, FrameType};
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use super::types::{AppErrorNamer, Cid, ErrorName, Hex, RawInfo, ResetTokenHex, StreamType, Token};

/// `acked_ranges`: packet number ranges, each logged as `[first, last]`, or `[n]` when the
/// range holds a single packet number (the form the draft recommends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckRanges<'a> {
    /// Read lazily from a parsed ACK frame, highest range first.
    Frame(AckFrame<'a>),
    /// Ranges given by the caller as inclusive `(first, last)` pairs.
    List(Vec<(u64, u64)>),
}

fn serialize_range<S: SerializeSeq>(seq: &mut S, first: u64, last: u64) -> Result<(), S::Error> {
    if first == last {
        seq.serialize_element(&[first])
    } else {
        seq.serialize_element(&[first, last])
    }
}

impl Serialize for AckRanges<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AckRanges::Frame(ack) => {
                let mut seq = s.serialize_seq(None)?;
                for r in ack.iter() {
                    serialize_range(&mut seq, *r.start(), *r.end())?;
                }
                seq.end()
            }
            AckRanges::List(list) => {
                let mut seq = s.serialize_seq(Some(list.len()))?;
                for &(first, last) in list {
                    serialize_range(&mut seq, first, last)?;
                }
                seq.end()
            }
        }
    }
}

/// `ErrorSpace` of a CONNECTION_CLOSE frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSpace {
    /// Type 0x1c.
    Transport,
    /// Type 0x1d.
    Application,
}

/// `trigger_frame_type` of a CONNECTION_CLOSE: a frame type name or its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TriggerFrameType {
    /// The qlog name of a frame type the draft defines.
    Name(&'static str),
    /// The numeric type of any other frame.
    Number(u64),
}

/// One frame as qlog logs it (`$QuicFrame`). The `frame_type` tag carries the draft's
/// spelling; `raw` holds lengths.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "frame_type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum QuicFrame<'a> {
    /// PADDING; one item for a run of padding bytes, whose count is in `raw.payload_length`.
    Padding {
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// PING.
    Ping {
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// ACK.
    Ack {
        /// The ACK Delay in milliseconds, when the exponent is known.
        #[serde(skip_serializing_if = "Option::is_none")]
        ack_delay: Option<f32>,
        /// The acknowledged ranges.
        #[serde(skip_serializing_if = "Option::is_none")]
        acked_ranges: Option<AckRanges<'a>>,
        /// ECT(1) count.
        #[serde(skip_serializing_if = "Option::is_none")]
        ect1: Option<u64>,
        /// ECT(0) count.
        #[serde(skip_serializing_if = "Option::is_none")]
        ect0: Option<u64>,
        /// ECN-CE count.
        #[serde(skip_serializing_if = "Option::is_none")]
        ce: Option<u64>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// RESET_STREAM.
    ResetStream {
        /// The stream.
        stream_id: u64,
        /// The application error name.
        error: ErrorName,
        /// The raw code when `error` is unknown.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<u64>,
        /// Final size in bytes.
        final_size: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// RESET_STREAM_AT (reliable stream reset).
    ResetStreamAt {
        /// The stream.
        stream_id: u64,
        /// The application error name.
        error: ErrorName,
        /// The raw code when `error` is unknown.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<u64>,
        /// Final size in bytes.
        final_size: u64,
        /// Bytes delivered reliably despite the reset.
        reliable_size: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// STOP_SENDING.
    StopSending {
        /// The stream.
        stream_id: u64,
        /// The application error name.
        error: ErrorName,
        /// The raw code when `error` is unknown.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<u64>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// CRYPTO; `raw.length` is the frame's Length field (required by the draft).
    Crypto {
        /// Offset in the crypto stream.
        offset: u64,
        /// Lengths.
        raw: RawInfo<'a>,
    },
    /// NEW_TOKEN.
    NewToken {
        /// The token.
        token: Token<'a>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// STREAM; `raw.length` is the data length.
    Stream {
        /// The stream.
        stream_id: u64,
        /// Offset of the data (default 0).
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
        /// Whether the frame ends the stream (default false).
        #[serde(skip_serializing_if = "Option::is_none")]
        fin: Option<bool>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// MAX_DATA.
    MaxData {
        /// The limit.
        maximum: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// MAX_STREAM_DATA.
    MaxStreamData {
        /// The stream.
        stream_id: u64,
        /// The limit.
        maximum: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// MAX_STREAMS.
    MaxStreams {
        /// Which streams.
        stream_type: StreamType,
        /// The cumulative count.
        maximum: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// DATA_BLOCKED.
    DataBlocked {
        /// The limit blocked at.
        limit: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// STREAM_DATA_BLOCKED.
    StreamDataBlocked {
        /// The stream.
        stream_id: u64,
        /// The limit blocked at.
        limit: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// STREAMS_BLOCKED.
    StreamsBlocked {
        /// Which streams.
        stream_type: StreamType,
        /// The limit blocked at.
        limit: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// NEW_CONNECTION_ID.
    #[serde(rename = "new_connection_id")]
    NewConnectionId {
        /// Sequence number.
        sequence_number: u64,
        /// Retire Prior To.
        retire_prior_to: u64,
        /// Length of the connection ID.
        #[serde(skip_serializing_if = "Option::is_none")]
        connection_id_length: Option<u8>,
        /// The connection ID.
        connection_id: Cid,
        /// Its stateless reset token.
        #[serde(skip_serializing_if = "Option::is_none")]
        stateless_reset_token: Option<ResetTokenHex>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// RETIRE_CONNECTION_ID.
    #[serde(rename = "retire_connection_id")]
    RetireConnectionId {
        /// Sequence number retired.
        sequence_number: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// PATH_CHALLENGE.
    PathChallenge {
        /// The 8 bytes of data.
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Hex<[u8; 8]>>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// PATH_RESPONSE.
    PathResponse {
        /// The 8 bytes of data.
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Hex<[u8; 8]>>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// CONNECTION_CLOSE.
    ConnectionClose {
        /// Transport (0x1c) or application (0x1d).
        #[serde(skip_serializing_if = "Option::is_none")]
        error_space: Option<ErrorSpace>,
        /// The error name.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<ErrorName>,
        /// The raw code when `error` is unknown.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_code: Option<u64>,
        /// The reason phrase, when it is UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
        /// The reason phrase bytes, when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason_bytes: Option<Hex<&'a [u8]>>,
        /// For transport closes: the frame type that caused the error.
        #[serde(skip_serializing_if = "Option::is_none")]
        trigger_frame_type: Option<TriggerFrameType>,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// HANDSHAKE_DONE.
    HandshakeDone {
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// DATAGRAM; `raw.length` is the data length.
    Datagram {
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
    /// Any frame the draft does not define, by its numeric type.
    Unknown {
        /// The frame type, without varint encoding.
        frame_type_bytes: u64,
        /// Lengths.
        #[serde(skip_serializing_if = "Option::is_none")]
        raw: Option<RawInfo<'a>>,
    },
}

/// The qlog `frame_type` name of a frame type the draft defines, or `None`.
pub fn frame_type_name(ty: FrameType) -> Option<&'static str> {
    Some(match ty.0 {
        0x00 => "padding",
        0x01 => "ping",
        0x02 | 0x03 => "ack",
        0x04 => "reset_stream",
        0x05 => "stop_sending",
        0x06 => "crypto",
        0x07 => "new_token",
        0x08..=0x0f => "stream",
        0x10 => "max_data",
        0x11 => "max_stream_data",
        0x12 | 0x13 => "max_streams",
        0x14 => "data_blocked",
        0x15 => "stream_data_blocked",
        0x16 | 0x17 => "streams_blocked",
        0x18 => "new_connection_id",
        0x19 => "retire_connection_id",
        0x1a => "path_challenge",
        0x1b => "path_response",
        0x1c | 0x1d => "connection_close",
        0x1e => "handshake_done",
        0x30 | 0x31 => "datagram",
        _ => return None,
    })
}

/// Options for [`QuicFrame::from_frame_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameOptions {
    /// The peer's ack_delay_exponent (for received ACKs) or ours (for sent ones); without
    /// it `ack_delay` is left out.
    pub ack_delay_exponent: Option<u8>,
    /// Names application error codes (RESET_STREAM, STOP_SENDING, application closes).
    pub app_error_names: Option<AppErrorNamer>,
}

fn app_error(code: u64, opts: &FrameOptions) -> (ErrorName, Option<u64>) {
    let name = ErrorName::application(code, opts.app_error_names);
    (name, name.is_unknown().then_some(code))
}

fn ack<'a>(ack: &AckFrame<'a>, opts: &FrameOptions) -> QuicFrame<'a> {
    let ecn = ack.ecn();
    QuicFrame::Ack {
        ack_delay: opts
            .ack_delay_exponent
            .map(|e| (ack.ack_delay().saturating_mul(1u64 << e.min(20)) as f64 / 1000.0) as f32),
        acked_ranges: Some(AckRanges::Frame(*ack)),
        ect1: ecn.map(|c| c.ect1),
        ect0: ecn.map(|c| c.ect0),
        ce: ecn.map(|c| c.ce),
        raw: None,
    }
}

fn close<'a>(c: &ConnectionClose<'a>, opts: &FrameOptions) -> QuicFrame<'a> {
    let code = c.error_code.into_inner();
    let (space, error, error_code, trigger) = match c.frame_type {
        Some(ft) => {
            let name = ErrorName::transport(code);
            let trigger = match frame_type_name(ft) {
                Some(n) => TriggerFrameType::Name(n),
                None => TriggerFrameType::Number(ft.0),
            };
            let unknown = name.is_unknown().then_some(code);
            (ErrorSpace::Transport, name, unknown, Some(trigger))
        }
        None => {
            let (name, unknown) = app_error(code, opts);
            (ErrorSpace::Application, name, unknown, None)
        }
    };
    let (reason, reason_bytes) = match core::str::from_utf8(c.reason) {
        Ok(s) if !s.is_empty() => (Some(s), None),
        Ok(_) => (None, None),
        Err(_) => (None, Some(Hex(c.reason))),
    };
    QuicFrame::ConnectionClose {
        error_space: Some(space),
        error: Some(error),
        error_code,
        reason,
        reason_bytes,
        trigger_frame_type: trigger,
        raw: None,
    }
}

impl<'a> QuicFrame<'a> {
    /// Converts a frame with default options (no ack delay, application errors unknown).
    pub fn from_frame(frame: &Frame<'a>) -> Self {
        Self::from_frame_with(frame, &FrameOptions::default())
    }

    /// Converts a frame. Frames without a definition in the draft become
    /// [`QuicFrame::Unknown`] with their type number and encoded length.
    pub fn from_frame_with(frame: &Frame<'a>, opts: &FrameOptions) -> Self {
        let len = |n: usize| Some(RawInfo::length(n as u64));
        match *frame {
            Frame::Padding { len: n } => QuicFrame::Padding {
                raw: Some(RawInfo {
                    length: Some(n as u64),
                    payload_length: Some(n as u64),
                    data: None,
                }),
            },
            Frame::Ping => QuicFrame::Ping { raw: None },
            Frame::Ack(ref a) => ack(a, opts),
            Frame::ResetStream {
                id,
                error_code,
                final_size,
            } => {
                let (error, error_code) = app_error(error_code.into_inner(), opts);
                QuicFrame::ResetStream {
                    stream_id: id.into_inner(),
                    error,
                    error_code,
                    final_size: final_size.into_inner(),
                    raw: None,
                }
            }
            Frame::StopSending { id, error_code } => {
                let (error, error_code) = app_error(error_code.into_inner(), opts);
                QuicFrame::StopSending {
                    stream_id: id.into_inner(),
                    error,
                    error_code,
                    raw: None,
                }
            }
            Frame::Crypto { offset, data } => QuicFrame::Crypto {
                offset,
                raw: RawInfo::length(data.len() as u64),
            },
            Frame::NewToken { token } => QuicFrame::NewToken {
                token: Token {
                    ty: Some(super::types::TokenType::Resumption),
                    raw: len(token.len()),
                },
                raw: None,
            },
            Frame::Stream(s) => QuicFrame::Stream {
                stream_id: s.id.into_inner(),
                offset: Some(s.offset),
                fin: s.fin.then_some(true),
                raw: len(s.data.len()),
            },
            Frame::MaxData(m) => QuicFrame::MaxData {
                maximum: m.into_inner(),
                raw: None,
            },
            Frame::MaxStreamData { id, max } => QuicFrame::MaxStreamData {
                stream_id: id.into_inner(),
                maximum: max.into_inner(),
                raw: None,
            },
            Frame::MaxStreams { dir, count } => QuicFrame::MaxStreams {
                stream_type: dir.into(),
                maximum: count,
                raw: None,
            },
            Frame::DataBlocked(l) => QuicFrame::DataBlocked {
                limit: l.into_inner(),
                raw: None,
            },
            Frame::StreamDataBlocked { id, limit } => QuicFrame::StreamDataBlocked {
                stream_id: id.into_inner(),
                limit: limit.into_inner(),
                raw: None,
            },
            Frame::StreamsBlocked { dir, limit } => QuicFrame::StreamsBlocked {
                stream_type: dir.into(),
                limit,
                raw: None,
            },
            Frame::NewConnectionId(n) => QuicFrame::NewConnectionId {
                sequence_number: n.sequence.into_inner(),
                retire_prior_to: n.retire_prior_to.into_inner(),
                connection_id_length: Some(n.cid.len() as u8),
                connection_id: Hex(n.cid),
                stateless_reset_token: Some(Hex(n.reset_token.0)),
                raw: None,
            },
            Frame::RetireConnectionId { sequence } => QuicFrame::RetireConnectionId {
                sequence_number: sequence.into_inner(),
                raw: None,
            },
            Frame::PathChallenge(d) => QuicFrame::PathChallenge {
                data: Some(Hex(d)),
                raw: None,
            },
            Frame::PathResponse(d) => QuicFrame::PathResponse {
                data: Some(Hex(d)),
                raw: None,
            },
            Frame::ConnectionClose(ref c) => close(c, opts),
            Frame::HandshakeDone => QuicFrame::HandshakeDone { raw: None },
            Frame::Datagram { data, .. } => QuicFrame::Datagram {
                raw: len(data.len()),
            },
            Frame::AckFrequency { .. }
            | Frame::ImmediateAck
            | Frame::PathAck { .. }
            | Frame::PathAbandon { .. }
            | Frame::PathStatusBackup { .. }
            | Frame::PathStatusAvailable { .. }
            | Frame::PathNewConnectionId { .. }
            | Frame::PathRetireConnectionId { .. }
            | Frame::MaxPathId(_)
            | Frame::PathsBlocked(_)
            | Frame::PathCidsBlocked { .. } => QuicFrame::Unknown {
                frame_type_bytes: frame.ty().0,
                raw: len(frame.encoded_len()),
            },
        }
    }

    /// The `frame_type` string this frame is logged with.
    pub fn frame_type(&self) -> &'static str {
        match self {
            QuicFrame::Padding { .. } => "padding",
            QuicFrame::Ping { .. } => "ping",
            QuicFrame::Ack { .. } => "ack",
            QuicFrame::ResetStream { .. } => "reset_stream",
            QuicFrame::ResetStreamAt { .. } => "reset_stream_at",
            QuicFrame::StopSending { .. } => "stop_sending",
            QuicFrame::Crypto { .. } => "crypto",
            QuicFrame::NewToken { .. } => "new_token",
            QuicFrame::Stream { .. } => "stream",
            QuicFrame::MaxData { .. } => "max_data",
            QuicFrame::MaxStreamData { .. } => "max_stream_data",
            QuicFrame::MaxStreams { .. } => "max_streams",
            QuicFrame::DataBlocked { .. } => "data_blocked",
            QuicFrame::StreamDataBlocked { .. } => "stream_data_blocked",
            QuicFrame::StreamsBlocked { .. } => "streams_blocked",
            QuicFrame::NewConnectionId { .. } => "new_connection_id",
            QuicFrame::RetireConnectionId { .. } => "retire_connection_id",
            QuicFrame::PathChallenge { .. } => "path_challenge",
            QuicFrame::PathResponse { .. } => "path_response",
            QuicFrame::ConnectionClose { .. } => "connection_close",
            QuicFrame::HandshakeDone { .. } => "handshake_done",
            QuicFrame::Datagram { .. } => "datagram",
            QuicFrame::Unknown { .. } => "unknown",
        }
    }
}

impl<'a> From<&Frame<'a>> for QuicFrame<'a> {
    fn from(frame: &Frame<'a>) -> Self {
        QuicFrame::from_frame(frame)
    }
}
