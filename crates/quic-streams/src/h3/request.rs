//! Request streams (RFC 9114 §4.1, §6.1): the receive state machine that turns frames into
//! message events, and the application calls that send requests, responses, bodies and
//! trailers.
//!
//! Receive side, per stream:
//!
//! ```text
//!  Headers --HEADERS(1xx, client)--> Headers
//!  Headers --HEADERS(request / final response)--> Body --DATA--> Body
//!  Body --HEADERS(trailers)--> Trailers --FIN--> Done
//!  Body --FIN--> Done
//! ```
//!
//! DATA in `Headers` or `Trailers`, or HEADERS in `Trailers`, is H3_FRAME_UNEXPECTED
//! (RFC 9114 §4.1: "Receipt of an invalid sequence of frames MUST be treated as a connection
//! error of type H3_FRAME_UNEXPECTED").

use super::error::{err, Code, H3Error};
use super::frame::{
    encode_data_header, Frame, FrameDecoder, FrameEvent, StreamKind, MAX_DATA_HEADER_LEN,
};
use super::message::{validate_request, validate_response, validate_trailers};
use super::priority::Priority;
use super::qpack::{DecodeError, Decoded, Field};
use super::session::H3;
use super::transport::{Event, SendError, Transport};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::Bytes;
use quic_wire::{Side, StreamId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recv {
    Headers,
    Body,
    Trailers,
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendPhase {
    /// Server: no final response yet.
    Headers,
    Body,
    Done,
}

/// State of one request stream.
pub(crate) struct Request {
    dec: FrameDecoder,
    recv: Recv,
    /// Waiting for QPACK encoder instructions; input is queued meanwhile.
    blocked: bool,
    queued: VecDeque<(Bytes, bool)>,
    queued_len: usize,
    content_length: Option<u64>,
    received: u64,
    /// Client: our request was HEAD; server: the request was HEAD.
    is_head: bool,
    send: SendPhase,
    send_content_length: Option<u64>,
    sent: u64,
    pub(crate) priority: Priority,
}

impl Request {
    fn new(h3: &H3, send: SendPhase) -> Self {
        Request {
            dec: FrameDecoder::new(StreamKind::Request, h3.side, h3.config.frame_limits),
            recv: Recv::Headers,
            blocked: false,
            queued: VecDeque::new(),
            queued_len: 0,
            content_length: None,
            received: 0,
            is_head: false,
            send,
            send_content_length: None,
            sent: 0,
            priority: Priority::default(),
        }
    }
}

fn sid(id: u64) -> StreamId {
    StreamId::from(quic_wire::VarInt::from_u64_clamped(id))
}

/// Whether a response with this status to this request carries no content (RFC 9110 §6.4.1).
fn no_content(is_head: bool, status: u16) -> bool {
    is_head || status == 204 || status == 304
}

impl H3 {
    pub(crate) fn on_request_data(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        id: StreamId,
        data: Bytes,
        fin: bool,
    ) -> Result<(), H3Error> {
        let key = id.into_inner();
        if id.initiator() == self.side {
            // Data on our own request stream: the response. Unknown (cancelled) ones are dropped.
            let Some(req) = self.requests.remove(&key) else {
                return Ok(());
            };
            return self.feed(t, key, req, data, fin);
        }
        if self.side == Side::Client {
            // RFC 9114 §6.1: "Clients MUST treat receipt of a server-initiated bidirectional
            // stream as a connection error of type H3_STREAM_CREATION_ERROR".
            return Err(err(
                Code::H3_STREAM_CREATION_ERROR,
                "server-initiated bidirectional stream",
            ));
        }
        let req = match self.requests.remove(&key) {
            Some(r) => r,
            None => {
                let index = key >> 2;
                if self.requests_seen.contains(index) {
                    // A request that already ended (answered, rejected or reset): what
                    // still arrives for it is dropped, never taken for a new request.
                    return Ok(());
                }
                self.requests_seen.insert(index);
                if self.goaway_sent.is_some_and(|g| key >= g) {
                    // RFC 9114 §5.2: requests at or past our GOAWAY ID are rejected unprocessed.
                    t.stop_sending(id, Code::H3_REQUEST_REJECTED);
                    t.reset(id, Code::H3_REQUEST_REJECTED);
                    return Ok(());
                }
                self.max_request_seen = Some(self.max_request_seen.map_or(key, |m| m.max(key)));
                Request::new(self, SendPhase::Headers)
            }
        };
        self.feed(t, key, req, data, fin)
    }

    /// Runs `data` through the stream's frame decoder and message state machine, then stores
    /// the stream back unless it is finished.
    fn feed(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        key: u64,
        mut req: Request,
        data: Bytes,
        fin: bool,
    ) -> Result<(), H3Error> {
        if req.blocked {
            req.queued_len = req.queued_len.saturating_add(data.len());
            if req.queued_len > self.config.max_buffered_while_blocked {
                return Err(err(
                    Code::H3_EXCESSIVE_LOAD,
                    "too much data behind a blocked field section",
                ));
            }
            req.queued.push_back((data, fin));
            self.requests.insert(key, req);
            return Ok(());
        }
        let mut input: &[u8] = &data;
        while let Some(ev) = req.dec.decode(&mut input)? {
            match ev {
                FrameEvent::Data(chunk) => {
                    if req.recv != Recv::Body {
                        return Err(err(
                            Code::H3_FRAME_UNEXPECTED,
                            "DATA outside a message body",
                        ));
                    }
                    req.received += chunk.len() as u64;
                    if req.content_length.is_some_and(|cl| req.received > cl) {
                        // RFC 9114 §4.1.2: content-length not matching the DATA is malformed.
                        self.stream_error(t, key, req, Code::H3_MESSAGE_ERROR);
                        return Ok(());
                    }
                    let data = data.slice_ref(chunk);
                    self.events.push_back(Event::Data {
                        stream: sid(key),
                        data,
                    });
                }
                FrameEvent::Frame(Frame::Headers(block)) => {
                    if matches!(req.recv, Recv::Trailers | Recv::Done) {
                        return Err(err(Code::H3_FRAME_UNEXPECTED, "HEADERS after trailers"));
                    }
                    match self.decoder.decode_section(key, block) {
                        Ok(Decoded::Fields(fields)) => {
                            if !self.on_fields(t, key, &mut req, fields) {
                                return Ok(());
                            }
                        }
                        Ok(Decoded::Blocked) => {
                            req.blocked = true;
                            if !input.is_empty() || fin {
                                req.queued_len = input.len();
                                req.queued.push_back((data.slice_ref(input), fin));
                            }
                            self.requests.insert(key, req);
                            return Ok(());
                        }
                        Err(DecodeError::TooLarge) => {
                            self.stream_error(t, key, req, Code::H3_EXCESSIVE_LOAD);
                            return Ok(());
                        }
                        Err(DecodeError::Connection(e)) => return Err(e),
                    }
                }
                FrameEvent::Frame(Frame::PushPromise { .. }) => {
                    // RFC 9114 §7.2.5: a push ID above the maximum (we never sent MAX_PUSH_ID)
                    // is H3_ID_ERROR.
                    return Err(err(Code::H3_ID_ERROR, "PUSH_PROMISE without MAX_PUSH_ID"));
                }
                FrameEvent::Frame(_) => {
                    return Err(err(
                        Code::H3_FRAME_UNEXPECTED,
                        "control frame on a request stream",
                    ));
                }
            }
        }
        if fin {
            req.dec.finish()?;
            match req.recv {
                Recv::Headers => {
                    let code = if self.side == Side::Server {
                        Code::H3_REQUEST_INCOMPLETE
                    } else {
                        Code::H3_MESSAGE_ERROR
                    };
                    self.stream_error(t, key, req, code);
                    return Ok(());
                }
                Recv::Body | Recv::Trailers => {
                    if req.content_length.is_some_and(|cl| cl != req.received) {
                        self.stream_error(t, key, req, Code::H3_MESSAGE_ERROR);
                        return Ok(());
                    }
                    req.recv = Recv::Done;
                    self.events.push_back(Event::Finished { stream: sid(key) });
                }
                Recv::Done => {}
            }
        }
        self.store(key, req);
        Ok(())
    }

    /// Keeps the stream unless both directions are done.
    fn store(&mut self, key: u64, req: Request) {
        if !(req.recv == Recv::Done && req.send == SendPhase::Done) {
            self.requests.insert(key, req);
        }
    }

    /// Handles a decoded field section. Returns false if the stream was aborted.
    fn on_fields(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        key: u64,
        req: &mut Request,
        fields: Vec<Field>,
    ) -> bool {
        let stream = sid(key);
        let result = match (self.side, req.recv) {
            (Side::Server, Recv::Headers) => validate_request(&fields).map(|info| {
                req.content_length = info.content_length;
                req.is_head = info.is_head;
                req.recv = Recv::Body;
                let priority = fields
                    .iter()
                    .find(|f| &f.name[..] == b"priority")
                    .and_then(|f| Priority::parse(&f.value))
                    .unwrap_or_default();
                req.priority = priority;
                Event::Request {
                    stream,
                    fields,
                    priority,
                }
            }),
            (Side::Client, Recv::Headers) => validate_response(&fields).map(|info| {
                if info.is_interim() {
                    Event::Informational { stream, fields }
                } else {
                    req.content_length = if no_content(req.is_head, info.status) {
                        Some(0)
                    } else {
                        info.content_length
                    };
                    req.recv = Recv::Body;
                    Event::Response { stream, fields }
                }
            }),
            _ => validate_trailers(&fields).map(|()| {
                req.recv = Recv::Trailers;
                Event::Trailers { stream, fields }
            }),
        };
        match result {
            Ok(ev) => {
                self.events.push_back(ev);
                true
            }
            Err(_) => {
                // RFC 9114 §4.1.2: a malformed message is a stream error of type
                // H3_MESSAGE_ERROR.
                let taken = core::mem::replace(req, Request::new(self, SendPhase::Done));
                self.stream_error(t, key, taken, Code::H3_MESSAGE_ERROR);
                false
            }
        }
    }

    /// Aborts a stream because of the peer's message: reset, stop sending, cancel QPACK state.
    fn stream_error(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        key: u64,
        req: Request,
        code: Code,
    ) {
        let stream = sid(key);
        if req.send != SendPhase::Done {
            t.reset(stream, code);
        }
        t.stop_sending(stream, code);
        self.decoder.cancel_stream(key);
        self.events.push_back(Event::StreamAborted {
            stream,
            code,
            by_peer: false,
        });
    }

    /// Decodes sections that were waiting for encoder instructions, then replays the input
    /// queued behind them.
    pub(crate) fn resume_unblocked(
        &mut self,
        t: &mut (impl Transport + ?Sized),
    ) -> Result<(), H3Error> {
        while let Some((key, result)) = self.decoder.poll_unblocked() {
            let Some(mut req) = self.requests.remove(&key) else {
                continue;
            };
            req.blocked = false;
            match result {
                Ok(fields) => {
                    if !self.on_fields(t, key, &mut req, fields) {
                        continue;
                    }
                }
                Err(DecodeError::TooLarge) => {
                    self.stream_error(t, key, req, Code::H3_EXCESSIVE_LOAD);
                    continue;
                }
                Err(DecodeError::Connection(e)) => return Err(e),
            }
            let queued = core::mem::take(&mut req.queued);
            req.queued_len = 0;
            if queued.is_empty() {
                self.store(key, req);
                continue;
            }
            self.requests.insert(key, req);
            for (data, fin) in queued {
                match self.requests.remove(&key) {
                    Some(req) => self.feed(t, key, req, data, fin)?,
                    None => break,
                }
            }
        }
        Ok(())
    }

    pub(crate) fn on_request_reset(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        id: StreamId,
        code: Code,
    ) {
        let key = id.into_inner();
        let Some(mut req) = self.requests.remove(&key) else {
            return;
        };
        // RFC 9204 §2.2.2.2: a reset before all field sections are processed calls for a
        // Stream Cancellation.
        self.decoder.cancel_stream(key);
        req.recv = Recv::Done;
        req.blocked = false;
        req.queued.clear();
        let _ = t;
        self.events.push_back(Event::StreamAborted {
            stream: id,
            code,
            by_peer: true,
        });
        self.store(key, req);
    }

    pub(crate) fn on_request_stop(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        id: StreamId,
        code: Code,
    ) {
        let key = id.into_inner();
        let Some(mut req) = self.requests.remove(&key) else {
            return;
        };
        if req.send != SendPhase::Done {
            t.reset(id, code);
            req.send = SendPhase::Done;
            self.events.push_back(Event::StreamAborted {
                stream: id,
                code,
                by_peer: true,
            });
        }
        self.store(key, req);
    }

    /// Client: after GOAWAY(`first`), requests at or above it will not be processed.
    pub(crate) fn reject_requests_from(&mut self, t: &mut (impl Transport + ?Sized), first: u64) {
        let doomed: Vec<u64> = self.requests.range(first..).map(|(&k, _)| k).collect();
        for key in doomed {
            self.requests.remove(&key);
            let stream = sid(key);
            t.reset(stream, Code::H3_REQUEST_CANCELLED);
            t.stop_sending(stream, Code::H3_REQUEST_CANCELLED);
            self.decoder.cancel_stream(key);
            self.events.push_back(Event::StreamAborted {
                stream,
                code: Code::H3_REQUEST_REJECTED,
                by_peer: true,
            });
        }
    }

    // ---- Application calls ----

    fn ready(&self) -> Result<(), SendError> {
        if self.error().is_some() || !self.is_started() {
            return Err(SendError::NotReady);
        }
        Ok(())
    }

    /// QPACK-encodes `fields` into a HEADERS frame for `key`, after checking the peer's
    /// SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2).
    fn headers_frame(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        key: u64,
        fields: &[Field],
    ) -> Result<Bytes, SendError> {
        let size: u64 = fields.iter().map(|f| f.size() as u64).sum();
        if let Some(max) = self
            .peer_settings
            .as_ref()
            .and_then(|s| s.max_field_section_size)
        {
            if size > max {
                return Err(SendError::FieldSectionTooLarge);
            }
        }
        let mut block = Vec::new();
        self.encoder.encode(key, fields, &mut block);
        // Encoder instructions go out first so the peer is blocked as little as possible.
        self.flush_encoder(t);
        let mut frame = Vec::with_capacity(block.len() + 9);
        Frame::Headers(Bytes::from(block)).encode(&mut frame);
        Ok(Bytes::from(frame))
    }

    fn write_or_retract(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        key: u64,
        chunks: &[Bytes],
        fin: bool,
    ) -> Result<(), SendError> {
        t.write(sid(key), chunks, fin).map_err(|e| {
            // The section never left: its references must not stay outstanding.
            self.encoder.retract_last_section(key);
            SendError::Transport(e)
        })
    }

    /// Client: sends a request head on a new stream; `end_stream` if there is no body.
    pub fn send_request(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        fields: &[Field],
        end_stream: bool,
    ) -> Result<StreamId, SendError> {
        self.ready()?;
        if self.side != Side::Client {
            return Err(SendError::InvalidState("only clients send requests"));
        }
        if self.goaway_received.is_some() {
            return Err(SendError::GoingAway);
        }
        let info = validate_request(fields).map_err(|e| SendError::Malformed(e.0))?;
        let id = t.open_bidi()?;
        let key = id.into_inner();
        let frame = self.headers_frame(t, key, fields)?;
        self.write_or_retract(t, key, &[frame], end_stream)?;
        let mut req = Request::new(
            self,
            if end_stream {
                SendPhase::Done
            } else {
                SendPhase::Body
            },
        );
        req.is_head = info.is_head;
        req.send_content_length = info.content_length;
        self.requests.insert(key, req);
        Ok(id)
    }

    /// Server: sends a response head. Interim (1xx) responses may precede the final one.
    pub fn send_response(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        stream: StreamId,
        fields: &[Field],
        end_stream: bool,
    ) -> Result<(), SendError> {
        self.ready()?;
        let key = stream.into_inner();
        let req = self
            .requests
            .get(&key)
            .filter(|r| {
                self.side == Side::Server && r.send == SendPhase::Headers && r.recv != Recv::Headers
            })
            .ok_or(SendError::InvalidState(
                "no request awaiting a response on this stream",
            ))?;
        let is_head = req.is_head;
        let info = validate_response(fields).map_err(|e| SendError::Malformed(e.0))?;
        if info.is_interim() && end_stream {
            return Err(SendError::Malformed(
                "an interim response cannot end the stream",
            ));
        }
        let frame = self.headers_frame(t, key, fields)?;
        self.write_or_retract(t, key, &[frame], end_stream)?;
        let Some(mut req) = self.requests.remove(&key) else {
            return Ok(());
        };
        if !info.is_interim() {
            req.send = if end_stream {
                SendPhase::Done
            } else {
                SendPhase::Body
            };
            req.send_content_length = if no_content(is_head, info.status) {
                Some(0)
            } else {
                info.content_length
            };
        }
        self.store(key, req);
        Ok(())
    }

    /// Sends body bytes in one DATA frame: the frame header is written, then `data` itself,
    /// uncopied. `fin` ends the stream.
    pub fn send_data(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        stream: StreamId,
        data: Bytes,
        fin: bool,
    ) -> Result<(), SendError> {
        self.ready()?;
        let key = stream.into_inner();
        let req = self
            .requests
            .get(&key)
            .filter(|r| r.send == SendPhase::Body)
            .ok_or(SendError::InvalidState("stream is not sending a body"))?;
        let total = req.sent + data.len() as u64;
        if let Some(cl) = req.send_content_length {
            if total > cl || (fin && total != cl) {
                return Err(SendError::Malformed("body does not match content-length"));
            }
        }
        let mut hdr = [0u8; MAX_DATA_HEADER_LEN];
        let n = encode_data_header(data.len() as u64, &mut hdr);
        let chunks = [Bytes::copy_from_slice(&hdr[..n]), data];
        let chunks: &[Bytes] = if chunks[1].is_empty() { &[] } else { &chunks };
        t.write(stream, chunks, fin)?;
        let Some(mut req) = self.requests.remove(&key) else {
            return Ok(());
        };
        req.sent = total;
        if fin {
            req.send = SendPhase::Done;
        }
        self.store(key, req);
        Ok(())
    }

    /// Sends a trailer section and ends the stream.
    pub fn send_trailers(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        stream: StreamId,
        fields: &[Field],
    ) -> Result<(), SendError> {
        self.ready()?;
        let key = stream.into_inner();
        let req = self
            .requests
            .get(&key)
            .filter(|r| r.send == SendPhase::Body)
            .ok_or(SendError::InvalidState("stream is not sending a body"))?;
        if req.send_content_length.is_some_and(|cl| cl != req.sent) {
            return Err(SendError::Malformed("body does not match content-length"));
        }
        validate_trailers(fields).map_err(|e| SendError::Malformed(e.0))?;
        let frame = self.headers_frame(t, key, fields)?;
        self.write_or_retract(t, key, &[frame], true)?;
        if let Some(mut req) = self.requests.remove(&key) {
            req.send = SendPhase::Done;
            self.store(key, req);
        }
        Ok(())
    }

    /// Ends the body without trailers.
    pub fn finish(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        stream: StreamId,
    ) -> Result<(), SendError> {
        self.send_data(t, stream, Bytes::new(), true)
    }

    /// Abandons a request stream in both directions with `code` (e.g. H3_REQUEST_CANCELLED).
    pub fn cancel(&mut self, t: &mut (impl Transport + ?Sized), stream: StreamId, code: Code) {
        let key = stream.into_inner();
        if let Some(req) = self.requests.remove(&key) {
            if req.send != SendPhase::Done {
                t.reset(stream, code);
            }
            if req.recv != Recv::Done {
                t.stop_sending(stream, code);
                self.decoder.cancel_stream(key);
                // Deliver the Stream Cancellation now.
                self.flush_decoder(t);
            }
        }
    }

    /// Starts graceful shutdown (RFC 9114 §5.2). A server announces the first request stream
    /// it will not process (every request already received will be); a client announces push
    /// ID 0, as it allows no pushes. May be called again; the ID never increases.
    pub fn goaway(&mut self, t: &mut (impl Transport + ?Sized)) -> Result<(), SendError> {
        self.ready()?;
        let id = match self.side {
            Side::Server => self.max_request_seen.map_or(0, |m| m + 4),
            Side::Client => 0,
        };
        let id = self.goaway_sent.map_or(id, |prev| prev.min(id));
        self.goaway_sent = Some(id);
        self.write_control_frame(t, &Frame::Goaway(id));
        Ok(())
    }

    /// Client: asks the server to reprioritize a request (RFC 9218 §7.2).
    pub fn send_priority_update(
        &mut self,
        t: &mut (impl Transport + ?Sized),
        stream: StreamId,
        priority: Priority,
    ) -> Result<(), SendError> {
        self.ready()?;
        if self.side != Side::Client
            || stream.initiator() != Side::Client
            || stream.dir() != quic_wire::Dir::Bi
        {
            return Err(SendError::InvalidState(
                "PRIORITY_UPDATE is sent by clients for requests",
            ));
        }
        let value = Bytes::from(priority.to_field_value().into_bytes());
        self.write_control_frame(
            t,
            &Frame::PriorityUpdate {
                push: false,
                id: stream.into_inner(),
                value,
            },
        );
        Ok(())
    }

    /// The current priority of a request stream (server: from the `priority` field and
    /// PRIORITY_UPDATE frames).
    pub fn priority(&self, stream: StreamId) -> Option<Priority> {
        self.requests.get(&stream.into_inner()).map(|r| r.priority)
    }
}
