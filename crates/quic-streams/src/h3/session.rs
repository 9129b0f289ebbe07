//! The HTTP/3 session (RFC 9114): one per QUIC connection, sans-IO.
//!
//! # Usage contract
//!
//! - Build with [`H3::new`], then call [`H3::start`] once the QUIC handshake allows
//!   application data: it opens our control stream (SETTINGS first) and the two QPACK streams.
//! - Inputs: [`H3::on_stream_data`] for every chunk QUIC delivers on any stream the peer can
//!   send on, [`H3::on_stream_reset`] for RESET_STREAM, [`H3::on_stop_sending`] for
//!   STOP_SENDING, and [`H3::flush`] when the transport has room again after a
//!   [`TransportError::Blocked`].
//! - Application calls: client [`H3::send_request`]; server [`H3::send_response`]; both
//!   [`H3::send_data`], [`H3::send_trailers`], [`H3::finish`], [`H3::cancel`], [`H3::goaway`];
//!   client [`H3::send_priority_update`].
//! - Outputs: after any input or call, drain [`H3::poll_event`] until it returns `None`.
//!
//! An `Err(H3Error)` from an input is a connection error: close the QUIC connection with
//! `error.code`. The session then refuses further input with the same error. Stream errors
//! (a malformed message, say) are handled inside: the stream is reset, STOP_SENDING is sent,
//! and [`Event::StreamAborted`] reports it.
//!
//! Server push is never enabled: we send no MAX_PUSH_ID, so any push the peer attempts is
//! an H3_ID_ERROR, as RFC 9114 §4.6 requires.

use super::error::{err, Code, H3Error};
use super::frame::{encode_grease_frame, Frame, FrameDecoder, FrameEvent, FrameLimits, StreamKind};
use super::priority::Priority;
use super::qpack::{Decoder, DecoderConfig, Encoder, EncoderConfig};
use super::request::Request;
use super::settings::Settings;
use super::stream_type::{self, UniStreamType};
use super::transport::{Event, Transport, TransportError};
use super::varint::{put_varint, PartialVarInt};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use bytes::Bytes;
use quic_wire::{Dir, Side, StreamId};

/// Session configuration: our limits and behaviour. Defaults are safe for untrusted peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Limits our QPACK decoder advertises (table capacity, blocked streams, field section
    /// size; the last is also SETTINGS_MAX_FIELD_SECTION_SIZE).
    pub decoder: DecoderConfig,
    /// Our QPACK encoder's preferences.
    pub encoder: EncoderConfig,
    /// Limits on buffered frames.
    pub frame_limits: FrameLimits,
    /// Send a reserved setting, a reserved frame and a reserved stream type so peers keep
    /// tolerating unknown values (RFC 9114 §7.2.4.1, §7.2.8, §6.2.3).
    pub grease: bool,
    /// Bytes a request stream may buffer while its field section waits for QPACK encoder
    /// instructions; beyond it, H3_EXCESSIVE_LOAD.
    pub max_buffered_while_blocked: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            decoder: DecoderConfig::default(),
            encoder: EncoderConfig::default(),
            frame_limits: FrameLimits::default(),
            grease: true,
            max_buffered_while_blocked: 256 * 1024,
        }
    }
}

/// State of a peer unidirectional stream.
enum Uni {
    /// Reading the stream type.
    Type(PartialVarInt),
    Control(FrameDecoder),
    QpackEncoder,
    QpackDecoder,
    /// Reserved or unknown type: discarded.
    Discard,
}

/// One of our critical unidirectional streams, with writes the transport has not yet taken.
struct Outgoing {
    id: StreamId,
    pending: VecDeque<Bytes>,
}

const CONTROL: usize = 0;
const ENCODER: usize = 1;
const DECODER: usize = 2;

/// An HTTP/3 session. See the module documentation for the usage contract.
pub struct H3 {
    pub(crate) side: Side,
    pub(crate) config: Config,
    pub(crate) encoder: Encoder,
    pub(crate) decoder: Decoder,
    ours: [Option<Outgoing>; 3],
    peer_critical: [Option<StreamId>; 3],
    uni: BTreeMap<u64, Uni>,
    pub(crate) requests: BTreeMap<u64, Request>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) peer_settings: Option<Settings>,
    pub(crate) goaway_sent: Option<u64>,
    pub(crate) goaway_received: Option<u64>,
    /// Server: the client's MAX_PUSH_ID (we never push; kept to check it never decreases).
    max_push_id: Option<u64>,
    /// Server: the highest request stream ID seen, for GOAWAY.
    pub(crate) max_request_seen: Option<u64>,
    /// Server: the request streams already started (by index), so late data on a finished
    /// one is ignored instead of starting it again.
    pub(crate) requests_seen: super::seen::Seen,
    error: Option<H3Error>,
}

impl H3 {
    /// A session for `side` (client or server).
    pub fn new(side: Side, config: Config) -> Self {
        H3 {
            side,
            encoder: Encoder::new(config.encoder),
            decoder: Decoder::new(config.decoder),
            config,
            ours: [None, None, None],
            peer_critical: [None, None, None],
            uni: BTreeMap::new(),
            requests: BTreeMap::new(),
            events: VecDeque::new(),
            peer_settings: None,
            goaway_sent: None,
            goaway_received: None,
            max_push_id: None,
            max_request_seen: None,
            requests_seen: super::seen::Seen::default(),
            error: None,
        }
    }

    /// Which side this session plays.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The peer's SETTINGS, once received.
    pub fn peer_settings(&self) -> Option<&Settings> {
        self.peer_settings.as_ref()
    }

    /// The connection error that ended this session, if any.
    pub fn error(&self) -> Option<H3Error> {
        self.error
    }

    /// Whether [`H3::start`] succeeded.
    pub fn is_started(&self) -> bool {
        self.ours[CONTROL].is_some()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The SETTINGS we announce.
    pub fn local_settings(&self) -> Settings {
        Settings {
            qpack_max_table_capacity: self.config.decoder.max_table_capacity,
            qpack_blocked_streams: self.config.decoder.max_blocked_streams,
            max_field_section_size: Some(self.config.decoder.max_field_section_size),
            other: Vec::new(),
        }
    }

    /// Opens our control stream (with SETTINGS) and QPACK encoder and decoder streams.
    pub fn start(&mut self, t: &mut (impl Transport + ?Sized)) -> Result<(), TransportError> {
        if self.is_started() {
            return Ok(());
        }
        let mut control = Vec::new();
        put_varint(&mut control, stream_type::CONTROL);
        let mut payload = Vec::new();
        let grease = self.config.grease.then_some((0x21 + 0x1f * 7, 0));
        self.local_settings().encode_payload(grease, &mut payload);
        put_varint(&mut control, super::frame::frame_type::SETTINGS);
        put_varint(&mut control, payload.len() as u64);
        control.extend_from_slice(&payload);
        if self.config.grease {
            encode_grease_frame(3, b"h3", &mut control);
        }
        let types = [
            stream_type::CONTROL,
            stream_type::QPACK_ENCODER,
            stream_type::QPACK_DECODER,
        ];
        let mut ids = [None; 3];
        for (slot, ty) in types.into_iter().enumerate() {
            let id = t.open_uni()?;
            let first = if ty == stream_type::CONTROL {
                Bytes::from(core::mem::take(&mut control))
            } else {
                let mut v = Vec::new();
                put_varint(&mut v, ty);
                Bytes::from(v)
            };
            ids[slot] = Some(id);
            self.ours[slot] = Some(Outgoing {
                id,
                pending: VecDeque::from([first]),
            });
        }
        if self.config.grease {
            // A reserved stream type, finished at once; a failure here is harmless.
            if let Ok(id) = t.open_uni() {
                let mut v = Vec::new();
                put_varint(&mut v, 0x21 + 0x1f * 2);
                let _ = t.write(id, &[Bytes::from(v)], true);
            }
        }
        self.flush(t);
        Ok(())
    }

    /// Retries writes to our critical streams that the transport refused earlier.
    pub fn flush(&mut self, t: &mut (impl Transport + ?Sized)) {
        for out in self.ours.iter_mut().flatten() {
            while let Some(front) = out.pending.front() {
                match t.write(out.id, core::slice::from_ref(front), false) {
                    Ok(()) => {
                        out.pending.pop_front();
                    }
                    Err(_) => break,
                }
            }
        }
    }

    fn write_critical(&mut self, t: &mut (impl Transport + ?Sized), slot: usize, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if let Some(out) = self.ours[slot].as_mut() {
            out.pending.push_back(Bytes::from(data));
        }
        self.flush(t);
    }

    /// Sends pending QPACK encoder instructions.
    pub(crate) fn flush_encoder(&mut self, t: &mut (impl Transport + ?Sized)) {
        let out = self.encoder.take_output();
        self.write_critical(t, ENCODER, out);
    }

    /// Sends pending QPACK decoder instructions.
    pub(crate) fn flush_decoder(&mut self, t: &mut (impl Transport + ?Sized)) {
        if self.decoder.has_output() {
            let out = self.decoder.take_output();
            self.write_critical(t, DECODER, out);
        }
    }

    pub(crate) fn write_control_frame(&mut self, t: &mut (impl Transport + ?Sized), frame: &Frame) {
        let mut v = Vec::new();
        frame.encode(&mut v);
        self.write_critical(t, CONTROL, v);
    }

    /// Feeds data the peer sent on `stream`; `fin` marks the end of the stream.
    pub fn on_stream_data(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        stream: StreamId,
        data: Bytes,
        fin: bool,
    ) -> Result<(), H3Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = match stream.dir() {
            Dir::Uni if stream.initiator() != self.side => self.on_uni_data(t, stream, data, fin),
            Dir::Uni => Ok(()), // our own send-only stream: nothing can arrive
            Dir::Bi => self.on_request_data(t, stream, data, fin),
        };
        let r = r.map(|()| self.flush_decoder(t));
        if let Err(e) = r {
            self.error = Some(e);
        }
        r
    }

    /// The peer reset `stream` (RESET_STREAM with `code`).
    pub fn on_stream_reset(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        stream: StreamId,
        code: Code,
    ) -> Result<(), H3Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = if self.peer_critical.contains(&Some(stream)) {
            // RFC 9114 §6.2.1 / RFC 9204 §4.2: closing a critical stream is a connection
            // error of type H3_CLOSED_CRITICAL_STREAM.
            Err(err(
                Code::H3_CLOSED_CRITICAL_STREAM,
                "peer reset a critical stream",
            ))
        } else if stream.dir() == Dir::Uni {
            self.uni.remove(&stream.into_inner());
            Ok(())
        } else {
            self.on_request_reset(t, stream, code);
            Ok(())
        };
        let r = r.map(|()| self.flush_decoder(t));
        if let Err(e) = r {
            self.error = Some(e);
        }
        r
    }

    /// The peer sent STOP_SENDING for `stream`.
    pub fn on_stop_sending(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        stream: StreamId,
        code: Code,
    ) -> Result<(), H3Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.ours.iter().flatten().any(|o| o.id == stream) {
            let e = err(
                Code::H3_CLOSED_CRITICAL_STREAM,
                "peer stopped a critical stream",
            );
            self.error = Some(e);
            return Err(e);
        }
        self.on_request_stop(t, stream, code);
        Ok(())
    }

    fn on_uni_data(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        id: StreamId,
        data: Bytes,
        fin: bool,
    ) -> Result<(), H3Error> {
        let key = id.into_inner();
        let mut state = self
            .uni
            .remove(&key)
            .unwrap_or(Uni::Type(PartialVarInt::default()));
        let mut input: &[u8] = &data;
        loop {
            state = match state {
                Uni::Type(mut p) => match p.feed(&mut input) {
                    Some(code) => self.open_uni(t, id, code)?,
                    None => {
                        // A stream that ends before its type is simply ignored.
                        if !fin {
                            self.uni.insert(key, Uni::Type(p));
                        }
                        return Ok(());
                    }
                },
                Uni::Control(mut dec) => {
                    while let Some(ev) = dec.decode(&mut input)? {
                        match ev {
                            FrameEvent::Frame(f) => self.on_control_frame(t, f)?,
                            FrameEvent::Data(_) => {
                                return Err(err(
                                    Code::H3_FRAME_UNEXPECTED,
                                    "DATA on control stream",
                                ))
                            }
                        }
                    }
                    if fin {
                        return Err(err(
                            Code::H3_CLOSED_CRITICAL_STREAM,
                            "peer closed its control stream",
                        ));
                    }
                    self.uni.insert(key, Uni::Control(dec));
                    return Ok(());
                }
                Uni::QpackEncoder => {
                    self.decoder.on_encoder_stream(input)?;
                    self.resume_unblocked(t)?;
                    if fin {
                        return Err(err(
                            Code::H3_CLOSED_CRITICAL_STREAM,
                            "peer closed its encoder stream",
                        ));
                    }
                    self.uni.insert(key, Uni::QpackEncoder);
                    return Ok(());
                }
                Uni::QpackDecoder => {
                    self.encoder.on_decoder_stream(input)?;
                    if fin {
                        return Err(err(
                            Code::H3_CLOSED_CRITICAL_STREAM,
                            "peer closed its decoder stream",
                        ));
                    }
                    self.uni.insert(key, Uni::QpackDecoder);
                    return Ok(());
                }
                Uni::Discard => {
                    if !fin {
                        self.uni.insert(key, Uni::Discard);
                    }
                    return Ok(());
                }
            }
        }
    }

    fn open_uni(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        id: StreamId,
        code: u64,
    ) -> Result<Uni, H3Error> {
        let ty = UniStreamType::from_code(code);
        let slot = match ty {
            UniStreamType::Control => CONTROL,
            UniStreamType::QpackEncoder => ENCODER,
            UniStreamType::QpackDecoder => DECODER,
            UniStreamType::Push if self.side == Side::Server => {
                // RFC 9114 §6.2.2: a client-initiated push stream is H3_STREAM_CREATION_ERROR.
                return Err(err(
                    Code::H3_STREAM_CREATION_ERROR,
                    "push stream from a client",
                ));
            }
            UniStreamType::Push => {
                // RFC 9114 §4.6: we never sent MAX_PUSH_ID, so every push ID exceeds the
                // maximum: H3_ID_ERROR.
                return Err(err(Code::H3_ID_ERROR, "push stream without MAX_PUSH_ID"));
            }
            UniStreamType::Reserved(_) | UniStreamType::Unknown(_) => {
                // RFC 9114 §6.2: unknown types are discarded; ask the peer to stop sending.
                t.stop_sending(id, Code::H3_STREAM_CREATION_ERROR);
                return Ok(Uni::Discard);
            }
        };
        // RFC 9114 §6.2.1 and RFC 9204 §4.2: a second control, encoder or decoder stream
        // MUST be treated as a connection error of type H3_STREAM_CREATION_ERROR.
        if self.peer_critical[slot].is_some() {
            return Err(err(
                Code::H3_STREAM_CREATION_ERROR,
                "duplicate critical stream",
            ));
        }
        self.peer_critical[slot] = Some(id);
        Ok(match ty {
            UniStreamType::Control => Uni::Control(FrameDecoder::new(
                StreamKind::Control,
                self.side,
                self.config.frame_limits,
            )),
            UniStreamType::QpackEncoder => Uni::QpackEncoder,
            _ => Uni::QpackDecoder,
        })
    }

    fn on_control_frame(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        frame: Frame,
    ) -> Result<(), H3Error> {
        let id_error = |why| Err(err(Code::H3_ID_ERROR, why));
        match frame {
            Frame::Settings(s) => {
                self.encoder
                    .set_peer_settings(s.qpack_max_table_capacity, s.qpack_blocked_streams);
                self.flush_encoder(t);
                self.peer_settings = Some(s.clone());
                self.events.push_back(Event::Settings(s));
            }
            Frame::Goaway(id) => {
                // RFC 9114 §5.2: a client receiving a GOAWAY whose ID is not a
                // client-initiated bidirectional stream ID MUST treat it as H3_ID_ERROR, and an
                // endpoint MUST NOT increase the ID in later GOAWAYs.
                if self.side == Side::Client && id % 4 != 0 {
                    return id_error("GOAWAY with a non-request stream ID");
                }
                if self.goaway_received.is_some_and(|prev| id > prev) {
                    return id_error("GOAWAY ID increased");
                }
                self.goaway_received = Some(id);
                self.events.push_back(Event::GoAway { id });
                if self.side == Side::Client {
                    self.reject_requests_from(t, id);
                }
            }
            Frame::MaxPushId(id) => {
                // RFC 9114 §7.2.7: a MAX_PUSH_ID smaller than a previous one is H3_ID_ERROR.
                if self.max_push_id.is_some_and(|prev| id < prev) {
                    return id_error("MAX_PUSH_ID decreased");
                }
                self.max_push_id = Some(id);
            }
            Frame::CancelPush(_) => {
                // Client: the ID exceeds the maximum we never raised. Server: we never promised
                // a push. Both are H3_ID_ERROR (RFC 9114 §7.2.3).
                return id_error("CANCEL_PUSH for a push that cannot exist");
            }
            Frame::PriorityUpdate { push, id, value } => {
                // RFC 9218 §7.2: the push variant must name a promised push; the request variant
                // a client-initiated bidirectional stream. Otherwise H3_ID_ERROR.
                if push {
                    return id_error("PRIORITY_UPDATE for a push that was never promised");
                }
                if id % 4 != 0 {
                    return id_error("PRIORITY_UPDATE for a non-request stream");
                }
                let stream = StreamId::from(quic_wire::VarInt::from_u64_clamped(id));
                if let Some(priority) = Priority::parse(&value) {
                    if let Some(req) = self.requests.get_mut(&id) {
                        req.priority = priority;
                    }
                    self.events
                        .push_back(Event::PriorityUpdate { stream, priority });
                }
            }
            Frame::Headers(_) | Frame::PushPromise { .. } => {
                return Err(err(
                    Code::H3_FRAME_UNEXPECTED,
                    "message frame on control stream",
                ));
            }
        }
        Ok(())
    }
}
