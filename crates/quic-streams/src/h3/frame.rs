//! HTTP/3 frames (RFC 9114 §7, RFC 9218 §7.2): encoding, and an incremental decoder that
//! accepts a stream's bytes split at any boundary.
//!
//! The decoder never buffers DATA payloads: it hands out slices of the input as they
//! arrive. Other known frames are buffered up to a limit and parsed whole; unknown and
//! reserved frame types are skipped without buffering (RFC 9114 §9).

use super::error::{err, Code, H3Error};
use super::settings::Settings;
use super::varint::{put_varint, write_varint, PartialVarInt};
use alloc::vec::Vec;
use bytes::Bytes;
use quic_wire::codec::Reader;
use quic_wire::Side;

macro_rules! frame_types {
    ($($(#[$doc:meta])* $name:ident = $value:expr,)*) => {
        /// HTTP/3 frame type codes (RFC 9114 §11.2.1, RFC 9218 §7.2).
        pub mod frame_type {
            $($(#[$doc])* pub const $name: u64 = $value;)*

            /// The registered name of a frame type, if known.
            pub fn name(ty: u64) -> Option<&'static str> {
                match ty {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

frame_types! {
    /// DATA (§7.2.1).
    DATA = 0x00,
    /// HEADERS (§7.2.2).
    HEADERS = 0x01,
    /// CANCEL_PUSH (§7.2.3).
    CANCEL_PUSH = 0x03,
    /// SETTINGS (§7.2.4).
    SETTINGS = 0x04,
    /// PUSH_PROMISE (§7.2.5).
    PUSH_PROMISE = 0x05,
    /// GOAWAY (§7.2.6).
    GOAWAY = 0x07,
    /// MAX_PUSH_ID (§7.2.7).
    MAX_PUSH_ID = 0x0d,
    /// PRIORITY_UPDATE for a request stream (RFC 9218 §7.2).
    PRIORITY_UPDATE_REQUEST = 0xf0700,
    /// PRIORITY_UPDATE for a push stream (RFC 9218 §7.2).
    PRIORITY_UPDATE_PUSH = 0xf0701,
}

/// Whether `ty` is an HTTP/2 frame type with no HTTP/3 equivalent (RFC 9114 §7.2.8):
/// PRIORITY, PING, WINDOW_UPDATE, CONTINUATION.
pub fn is_http2_only(ty: u64) -> bool {
    matches!(ty, 0x02 | 0x06 | 0x08 | 0x09)
}

/// Whether `ty` is a reserved (grease) frame type `0x1f * N + 0x21` (RFC 9114 §7.2.8).
pub fn is_grease(ty: u64) -> bool {
    ty >= 0x21 && (ty - 0x21) % 0x1f == 0
}

/// A complete non-DATA frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// HEADERS: an encoded field section.
    Headers(Bytes),
    /// CANCEL_PUSH with a push ID.
    CancelPush(u64),
    /// SETTINGS.
    Settings(Settings),
    /// PUSH_PROMISE: push ID and encoded field section.
    PushPromise {
        /// The push ID.
        push_id: u64,
        /// The encoded request field section.
        field_section: Bytes,
    },
    /// GOAWAY with a stream ID (from a server) or push ID (from a client).
    Goaway(u64),
    /// MAX_PUSH_ID.
    MaxPushId(u64),
    /// PRIORITY_UPDATE (RFC 9218 §7.2).
    PriorityUpdate {
        /// True for the push-stream variant (0xf0701).
        push: bool,
        /// The prioritized stream ID or push ID.
        id: u64,
        /// The Priority Field Value (ASCII structured field).
        value: Bytes,
    },
}

impl Frame {
    /// The frame's type code.
    pub fn ty(&self) -> u64 {
        match self {
            Frame::Headers(_) => frame_type::HEADERS,
            Frame::CancelPush(_) => frame_type::CANCEL_PUSH,
            Frame::Settings(_) => frame_type::SETTINGS,
            Frame::PushPromise { .. } => frame_type::PUSH_PROMISE,
            Frame::Goaway(_) => frame_type::GOAWAY,
            Frame::MaxPushId(_) => frame_type::MAX_PUSH_ID,
            Frame::PriorityUpdate { push: false, .. } => frame_type::PRIORITY_UPDATE_REQUEST,
            Frame::PriorityUpdate { push: true, .. } => frame_type::PRIORITY_UPDATE_PUSH,
        }
    }

    /// Appends the frame (type, length, payload).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut payload = Vec::new();
        match self {
            Frame::Headers(b) => payload.extend_from_slice(b),
            Frame::CancelPush(v) | Frame::Goaway(v) | Frame::MaxPushId(v) => {
                put_varint(&mut payload, *v)
            }
            Frame::Settings(s) => s.encode_payload(None, &mut payload),
            Frame::PushPromise {
                push_id,
                field_section,
            } => {
                put_varint(&mut payload, *push_id);
                payload.extend_from_slice(field_section);
            }
            Frame::PriorityUpdate { id, value, .. } => {
                put_varint(&mut payload, *id);
                payload.extend_from_slice(value);
            }
        }
        put_varint(out, self.ty());
        put_varint(out, payload.len() as u64);
        out.extend_from_slice(&payload);
    }

    /// Parses a payload of frame type `ty`. `None` for types this module does not parse.
    fn parse(ty: u64, payload: Vec<u8>) -> Result<Option<Frame>, H3Error> {
        let malformed = || err(Code::H3_FRAME_ERROR, "malformed frame payload");
        // A payload consisting of exactly one varint.
        let single = |p: &[u8]| {
            let mut r = Reader::new(p);
            match r.varint_u64() {
                Ok(v) if r.is_empty() => Ok(v),
                _ => Err(malformed()),
            }
        };
        // A varint followed by the rest of the payload.
        let leading = |p: Vec<u8>| {
            let mut r = Reader::new(&p);
            let v = r.varint_u64().map_err(|_| malformed())?;
            let at = r.position();
            Ok::<_, H3Error>((v, Bytes::from(p).slice(at..)))
        };
        Ok(Some(match ty {
            frame_type::HEADERS => Frame::Headers(Bytes::from(payload)),
            frame_type::CANCEL_PUSH => Frame::CancelPush(single(&payload)?),
            frame_type::SETTINGS => Frame::Settings(Settings::parse(&payload)?),
            frame_type::PUSH_PROMISE => {
                let (push_id, field_section) = leading(payload)?;
                Frame::PushPromise {
                    push_id,
                    field_section,
                }
            }
            frame_type::GOAWAY => Frame::Goaway(single(&payload)?),
            frame_type::MAX_PUSH_ID => Frame::MaxPushId(single(&payload)?),
            frame_type::PRIORITY_UPDATE_REQUEST | frame_type::PRIORITY_UPDATE_PUSH => {
                let (id, value) = leading(payload)?;
                Frame::PriorityUpdate {
                    push: ty == frame_type::PRIORITY_UPDATE_PUSH,
                    id,
                    value,
                }
            }
            _ => return Ok(None),
        }))
    }
}

/// The largest DATA frame header: a 1-byte type and an 8-byte length.
pub const MAX_DATA_HEADER_LEN: usize = 9;

/// Writes a DATA frame header for a payload of `len` bytes into `buf`; returns its length.
/// The payload itself is sent as is, after it: this is what lets bodies go out uncopied.
pub fn encode_data_header(len: u64, buf: &mut [u8; MAX_DATA_HEADER_LEN]) -> usize {
    buf[0] = frame_type::DATA as u8;
    let mut v = [0u8; 8];
    let n = write_varint(&mut v, len);
    buf[1..1 + n].copy_from_slice(&v[..n]);
    1 + n
}

/// Appends a reserved (grease) frame of type `0x1f * n + 0x21` with `payload` (RFC 9114
/// §7.2.8), which receivers must skip.
pub fn encode_grease_frame(n: u64, payload: &[u8], out: &mut Vec<u8>) {
    put_varint(out, 0x1f * n + 0x21);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Which kind of stream a decoder reads: frame permissions differ (RFC 9114 §7.2, table
/// "HTTP/3 Frames and Stream Type Overview").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// The peer's control stream.
    Control,
    /// A request stream (bidirectional).
    Request,
    /// A push stream.
    Push,
}

/// Limits on buffered frame payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest HEADERS or PUSH_PROMISE payload accepted (exceeding it: H3_EXCESSIVE_LOAD).
    pub max_field_section: usize,
    /// Largest payload of any other buffered frame (SETTINGS, PRIORITY_UPDATE):
    /// exceeding it is H3_EXCESSIVE_LOAD.
    pub max_control_frame: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_field_section: 64 * 1024,
            max_control_frame: 16 * 1024,
        }
    }
}

/// What the decoder produced.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameEvent<'a> {
    /// A slice of DATA payload (never empty).
    Data(&'a [u8]),
    /// A complete non-DATA frame.
    Frame(Frame),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Type,
    Length,
    Data,
    Buffer,
    Skip,
}

/// Incremental frame decoder for one stream.
#[derive(Debug)]
pub struct FrameDecoder {
    kind: StreamKind,
    /// Our side; the frames come from the peer.
    local: Side,
    limits: FrameLimits,
    state: State,
    varint: PartialVarInt,
    ty: u64,
    remaining: u64,
    payload: Vec<u8>,
    frames_seen: u64,
}

impl FrameDecoder {
    /// A decoder for a stream of `kind`, received by `local`.
    pub fn new(kind: StreamKind, local: Side, limits: FrameLimits) -> Self {
        FrameDecoder {
            kind,
            local,
            limits,
            state: State::Type,
            varint: PartialVarInt::default(),
            ty: 0,
            remaining: 0,
            payload: Vec::new(),
            frames_seen: 0,
        }
    }

    /// Whether the decoder sits at a frame boundary (the stream may end here).
    pub fn at_boundary(&self) -> bool {
        self.state == State::Type && !self.varint.is_partial()
    }

    /// Checks the end of the stream: ending inside a frame is H3_FRAME_ERROR (RFC 9114 §7.1).
    pub fn finish(&self) -> Result<(), H3Error> {
        if self.at_boundary() {
            Ok(())
        } else {
            Err(err(Code::H3_FRAME_ERROR, "stream ended inside a frame"))
        }
    }

    /// Checks that frame type `ty` may arrive on this stream, from this peer, now.
    fn check_type(&self, ty: u64) -> Result<(), H3Error> {
        let unexpected = |why| Err(err(Code::H3_FRAME_UNEXPECTED, why));
        let first = self.frames_seen == 0;
        if self.kind == StreamKind::Control {
            // RFC 9114 §6.2.1: "If the first frame of the control stream is any other frame
            // type, this MUST be treated as a connection error of type H3_MISSING_SETTINGS."
            if first && ty != frame_type::SETTINGS {
                return Err(err(
                    Code::H3_MISSING_SETTINGS,
                    "control stream must start with SETTINGS",
                ));
            }
            if !first && ty == frame_type::SETTINGS {
                return unexpected("second SETTINGS frame");
            }
        }
        if is_http2_only(ty) {
            return unexpected("HTTP/2 frame type");
        }
        let control_only = matches!(
            ty,
            frame_type::CANCEL_PUSH
                | frame_type::SETTINGS
                | frame_type::GOAWAY
                | frame_type::MAX_PUSH_ID
                | frame_type::PRIORITY_UPDATE_REQUEST
                | frame_type::PRIORITY_UPDATE_PUSH
        );
        match (self.kind, ty) {
            (
                StreamKind::Control,
                frame_type::DATA | frame_type::HEADERS | frame_type::PUSH_PROMISE,
            ) => unexpected("frame not allowed on the control stream"),
            (StreamKind::Request | StreamKind::Push, _) if control_only => {
                unexpected("control frame on a request or push stream")
            }
            (StreamKind::Push, frame_type::PUSH_PROMISE) => {
                unexpected("PUSH_PROMISE on a push stream")
            }
            // RFC 9114 §7.2.5: "A client MUST NOT send a PUSH_PROMISE frame. A server MUST treat
            // the receipt of a PUSH_PROMISE frame as a connection error of type
            // H3_FRAME_UNEXPECTED."
            (_, frame_type::PUSH_PROMISE) if self.local == Side::Server => {
                unexpected("PUSH_PROMISE sent by a client")
            }
            // RFC 9114 §7.2.7: MAX_PUSH_ID received by a client is H3_FRAME_UNEXPECTED.
            (_, frame_type::MAX_PUSH_ID) if self.local == Side::Client => {
                unexpected("MAX_PUSH_ID sent by a server")
            }
            // RFC 9218 §7.2: a client receiving PRIORITY_UPDATE MUST treat it as
            // H3_FRAME_UNEXPECTED.
            (_, frame_type::PRIORITY_UPDATE_REQUEST | frame_type::PRIORITY_UPDATE_PUSH)
                if self.local == Side::Client =>
            {
                unexpected("PRIORITY_UPDATE sent by a server")
            }
            _ => Ok(()),
        }
    }

    /// Decides how to handle the payload of the current frame once its length is known.
    fn start_payload(&mut self) -> Result<(), H3Error> {
        let ty = self.ty;
        let len = self.remaining;
        let too_big = |limit: usize| len > limit as u64;
        self.state = match ty {
            frame_type::DATA => State::Data,
            frame_type::HEADERS | frame_type::PUSH_PROMISE => {
                if too_big(self.limits.max_field_section) {
                    return Err(err(
                        Code::H3_EXCESSIVE_LOAD,
                        "field section frame too large",
                    ));
                }
                State::Buffer
            }
            frame_type::CANCEL_PUSH | frame_type::GOAWAY | frame_type::MAX_PUSH_ID => {
                if len == 0 || len > 8 {
                    return Err(err(Code::H3_FRAME_ERROR, "bad frame length"));
                }
                State::Buffer
            }
            frame_type::SETTINGS
            | frame_type::PRIORITY_UPDATE_REQUEST
            | frame_type::PRIORITY_UPDATE_PUSH => {
                if too_big(self.limits.max_control_frame) {
                    return Err(err(Code::H3_EXCESSIVE_LOAD, "control frame too large"));
                }
                State::Buffer
            }
            _ => State::Skip,
        };
        self.payload.clear();
        Ok(())
    }

    /// Consumes bytes from the front of `input` and returns the next event, or `None` when
    /// `input` is exhausted without completing one. Call repeatedly until it returns `None`.
    pub fn decode<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<FrameEvent<'a>>, H3Error> {
        loop {
            match self.state {
                State::Type => {
                    let Some(ty) = self.varint.feed(input) else {
                        return Ok(None);
                    };
                    self.check_type(ty)?;
                    self.ty = ty;
                    self.frames_seen += 1;
                    self.state = State::Length;
                }
                State::Length => {
                    let Some(len) = self.varint.feed(input) else {
                        return Ok(None);
                    };
                    self.remaining = len;
                    self.start_payload()?;
                }
                State::Data => {
                    if self.remaining == 0 {
                        self.state = State::Type;
                        continue;
                    }
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let n =
                        usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
                    let (chunk, rest) = input.split_at(n);
                    *input = rest;
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = State::Type;
                    }
                    return Ok(Some(FrameEvent::Data(chunk)));
                }
                State::Skip | State::Buffer => {
                    let n =
                        usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
                    let (chunk, rest) = input.split_at(n);
                    *input = rest;
                    self.remaining -= n as u64;
                    if self.state == State::Buffer {
                        self.payload.extend_from_slice(chunk);
                    }
                    if self.remaining > 0 {
                        return Ok(None);
                    }
                    let buffered = self.state == State::Buffer;
                    self.state = State::Type;
                    if buffered {
                        let payload = core::mem::take(&mut self.payload);
                        if let Some(frame) = Frame::parse(self.ty, payload)? {
                            return Ok(Some(FrameEvent::Frame(frame)));
                        }
                    }
                }
            }
        }
    }
}
