//! Frames from the peer: STREAM, RESET_STREAM, STOP_SENDING, MAX_DATA, MAX_STREAM_DATA,
//! MAX_STREAMS, DATA_BLOCKED, STREAM_DATA_BLOCKED, STREAMS_BLOCKED.
//!
//! Every violation returns the [`TransportError`] RFC 9000 names, with the frame type set.

use bytes::Bytes;
use quic_wire::frame::StreamFrame;
use quic_wire::{Dir, Frame, Instant, StreamId, TransportError, TransportErrorCode, VarInt};

use crate::recv::Incoming;
use crate::state::{RecvEvent, RecvState};
use crate::streams::{dir_index, StreamEvent, Streams};

const FINAL_SIZE_CHANGED: TransportError = TransportError::new(
    TransportErrorCode::FINAL_SIZE_ERROR,
    "final size changed or data past it",
);

fn state_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::STREAM_STATE_ERROR, reason)
}

impl Streams {
    /// Handles one frame from a decrypted packet; received STREAM data is copied.
    ///
    /// Returns `Ok(true)` when the frame was a stream frame handled here, `Ok(false)` for
    /// frames that are not ours (ACK, CRYPTO ...), and the connection error to close with
    /// when the peer broke a rule.
    pub fn handle_frame(
        &mut self,
        frame: &Frame<'_>,
        now: Instant,
    ) -> Result<bool, TransportError> {
        self.handle(frame, None, now)
    }

    /// Like [`Streams::handle_frame`], with `payload` the packet payload the frame was
    /// parsed from as `Bytes`: STREAM data pieces of at least
    /// [`crate::recv::ZERO_COPY_MIN`] bytes are then kept as slices of it, not copied.
    pub fn handle_frame_shared(
        &mut self,
        frame: &Frame<'_>,
        payload: &Bytes,
        now: Instant,
    ) -> Result<bool, TransportError> {
        self.handle(frame, Some(payload), now)
    }

    fn handle(
        &mut self,
        frame: &Frame<'_>,
        payload: Option<&Bytes>,
        now: Instant,
    ) -> Result<bool, TransportError> {
        self.now = self.now.max(now);
        let r = match *frame {
            Frame::Stream(ref s) => self.on_stream(s, payload, now),
            Frame::ResetStream {
                id,
                error_code,
                final_size,
            } => self.on_reset_stream(id, error_code, final_size.into_inner()),
            Frame::StopSending { id, error_code } => self.on_stop_sending(id, error_code),
            Frame::MaxData(max) => {
                self.conn_send.raise(max.into_inner());
                Ok(())
            }
            Frame::MaxStreamData { id, max } => self.on_max_stream_data(id, max.into_inner()),
            Frame::MaxStreams { dir, count } => {
                if self.local[dir_index(dir)].raise(count) {
                    self.start_pending();
                }
                Ok(())
            }
            Frame::DataBlocked(_) => {
                let (now, rtt) = (self.now, self.rtt);
                self.conn_recv.maybe_update(now, rtt);
                Ok(())
            }
            Frame::StreamDataBlocked { id, .. } => self.on_stream_data_blocked(id),
            Frame::StreamsBlocked { dir, .. } => {
                self.remote[dir_index(dir)].on_peer_blocked();
                Ok(())
            }
            _ => return Ok(false),
        };
        r.map(|()| true).map_err(|e| e.with_frame(frame.ty()))
    }

    /// RFC 9000 §19.8.
    fn on_stream(
        &mut self,
        f: &StreamFrame<'_>,
        payload: Option<&Bytes>,
        now: Instant,
    ) -> Result<(), TransportError> {
        let id = f.id;
        // "An endpoint MUST terminate the connection with error STREAM_STATE_ERROR if it
        // receives a STREAM frame for a locally initiated stream that has not yet been
        // created, or for a send-only stream."
        if self.is_local(id) && id.dir() == Dir::Uni {
            return Err(state_error("STREAM on a send-only stream"));
        }
        let conn_max = self.conn_recv.max;
        let conn_highest = self.conn_recv.highest;
        let (app_now, rtt) = (self.now, self.rtt);
        self.open_for_frame(id)?;
        // One lookup of the stream for the frame and the refresh after it.
        let Streams {
            map,
            ctl,
            conn_recv,
            events,
            ..
        } = self;
        let Some(st) = map.get_mut(&id) else {
            return Ok(());
        };
        // The stream has a receiving part: it is bidirectional or the peer's.
        let Some(r) = st.recv.as_mut() else {
            return Ok(());
        };
        // The parser bounds offset + length by 2^62-1 (RFC 9000 §19.8); saturate anyway.
        let end = f.offset.saturating_add(f.data.len() as u64);
        // RFC 9000 §4.5: once the final size is known it cannot change, and no data may
        // lie past it; a FIN below data already received is an error too.
        match r.final_size {
            Some(fs) if end > fs || (f.fin && end != fs) => return Err(FINAL_SIZE_CHANGED),
            None if f.fin && end < r.credit.highest => return Err(FINAL_SIZE_CHANGED),
            _ => {}
        }
        // Flow control, stream then connection (RFC 9000 §4.1), checked before any change.
        if end > r.credit.max {
            return Err(TransportError::new(
                TransportErrorCode::FLOW_CONTROL_ERROR,
                "stream data past MAX_STREAM_DATA",
            ));
        }
        let grew = end.saturating_sub(r.credit.highest);
        if conn_highest + grew > conn_max {
            return Err(TransportError::new(
                TransportErrorCode::FLOW_CONTROL_ERROR,
                "stream data past MAX_DATA",
            ));
        }
        r.credit.on_received(end)?;
        st.stats.on_received(f.data.len(), now);
        let mut discarded = 0;
        if r.discards() {
            // Counted for flow control, then dropped (RFC 9000 §3.5); the credit returns.
            discarded = grew;
            r.buf.discard_all(r.credit.highest);
        } else {
            let incoming = payload
                .and_then(|p| Incoming::within(p, f.data))
                .unwrap_or(Incoming::Slice(f.data));
            let data = r.buf.insert(f.offset, incoming);
            data?;
        }
        if f.fin {
            r.final_size = Some(end);
            r.apply(RecvEvent::RecvFin);
        } else {
            r.apply(RecvEvent::RecvData);
        }
        if r.stopped.is_some() {
            // Nothing more is wanted from a stopped stream once its size is known.
            if r.final_size.is_some() && r.state == RecvState::SizeKnown {
                r.apply(RecvEvent::RecvAllData);
            }
            Self::settle_stopped(r);
        } else {
            r.check_all_data();
        }
        let notify = !r.readable_notified
            && r.stopped.is_none()
            && (r.buf.is_readable() || r.state == RecvState::DataRecvd);
        if notify {
            r.readable_notified = true;
        }
        conn_recv.highest += grew;
        if notify {
            events.push_back(StreamEvent::Readable { id });
        }
        // What `Streams::conn_consumed` does.
        if discarded > 0 {
            conn_recv.on_consumed(discarded, app_now, rtt);
        }
        // Only the receiving half changed.
        if crate::streams::refresh_after_recv(id, st, ctl) {
            self.free(id);
        }
        Ok(())
    }

    /// RFC 9000 §19.4.
    fn on_reset_stream(
        &mut self,
        id: StreamId,
        code: VarInt,
        final_size: u64,
    ) -> Result<(), TransportError> {
        // "An endpoint that receives a RESET_STREAM frame for a send-only stream MUST
        // terminate the connection with error STREAM_STATE_ERROR."
        if self.is_local(id) && id.dir() == Dir::Uni {
            return Err(state_error("RESET_STREAM on a send-only stream"));
        }
        let conn_max = self.conn_recv.max;
        let conn_highest = self.conn_recv.highest;
        let Some(st) = self.stream_for_frame(id)? else {
            return Ok(());
        };
        let Some(r) = st.recv.as_mut() else {
            return Ok(());
        };
        // RFC 9000 §4.5: the final size must match a known one and cover data received.
        if r.final_size.is_some_and(|fs| fs != final_size) || final_size < r.credit.highest {
            return Err(FINAL_SIZE_CHANGED);
        }
        if final_size > r.credit.max {
            return Err(TransportError::new(
                TransportErrorCode::FLOW_CONTROL_ERROR,
                "final size past MAX_STREAM_DATA",
            ));
        }
        let grew = final_size - r.credit.highest;
        if conn_highest + grew > conn_max {
            return Err(TransportError::new(
                TransportErrorCode::FLOW_CONTROL_ERROR,
                "final size past MAX_DATA",
            ));
        }
        r.credit.on_received(final_size)?;
        r.final_size = Some(final_size);
        let mut released = 0;
        let mut notify = false;
        if r.apply(RecvEvent::RecvReset) {
            // Unread data will never be read: its connection credit returns (RFC 9000
            // §4.5: the final size counts toward connection flow control).
            released = final_size - r.buf.read_offset();
            r.buf.discard_all(final_size);
            r.reset_code = Some(code);
            notify = r.stopped.is_none();
            Self::settle_stopped(r);
        } else if r.discards() {
            released = grew;
        }
        self.conn_recv.highest += grew;
        self.conn_consumed(released);
        if notify {
            self.push_event(StreamEvent::Reset {
                id,
                error_code: code,
            });
        }
        self.refresh(id);
        Ok(())
    }

    /// RFC 9000 §19.5.
    fn on_stop_sending(&mut self, id: StreamId, code: VarInt) -> Result<(), TransportError> {
        // "An endpoint that receives a STOP_SENDING frame for a receive-only stream MUST
        // terminate the connection with error STREAM_STATE_ERROR."
        if !self.is_local(id) && id.dir() == Dir::Uni {
            return Err(state_error("STOP_SENDING on a receive-only stream"));
        }
        let Some(st) = self.stream_for_frame(id)? else {
            return Ok(());
        };
        let Some(h) = st.send.as_mut() else {
            return Ok(());
        };
        // RFC 9000 §3.5: answer with RESET_STREAM, using the peer's code.
        if h.stopped.is_none() && h.reset(code) {
            h.stopped = Some(code);
            self.push_event(StreamEvent::Stopped {
                id,
                error_code: code,
            });
        }
        self.refresh(id);
        Ok(())
    }

    /// RFC 9000 §19.10.
    fn on_max_stream_data(&mut self, id: StreamId, max: u64) -> Result<(), TransportError> {
        // "An endpoint that receives a MAX_STREAM_DATA frame for a receive-only stream
        // MUST terminate the connection with error STREAM_STATE_ERROR."
        if !self.is_local(id) && id.dir() == Dir::Uni {
            return Err(state_error("MAX_STREAM_DATA on a receive-only stream"));
        }
        let Some(st) = self.stream_for_frame(id)? else {
            return Ok(());
        };
        if let Some(h) = st.send.as_mut() {
            h.credit.raise(max);
            h.note_credit();
        }
        self.maybe_writable(id);
        self.refresh(id);
        Ok(())
    }

    /// RFC 9000 §19.13.
    fn on_stream_data_blocked(&mut self, id: StreamId) -> Result<(), TransportError> {
        // "An endpoint that receives a STREAM_DATA_BLOCKED frame for a send-only stream
        // MUST terminate the connection with error STREAM_STATE_ERROR."
        if self.is_local(id) && id.dir() == Dir::Uni {
            return Err(state_error("STREAM_DATA_BLOCKED on a send-only stream"));
        }
        let (now, rtt) = (self.now, self.rtt);
        let Some(st) = self.stream_for_frame(id)? else {
            return Ok(());
        };
        if let Some(r) = st.recv.as_mut() {
            r.apply(RecvEvent::RecvData);
            if r.state == RecvState::Recv {
                r.credit.maybe_update(now, rtt);
            }
        }
        self.refresh(id);
        Ok(())
    }
}
