//! The interface quic-conn builds packets with: [`Streams::write_frames`] writes control
//! frames and STREAM frames straight into the packet buffer and reports a
//! [`FrameRecord`] for each; quic-conn keeps the records with the sent packet and hands
//! each back through [`Streams::on_frame_acked`] or [`Streams::on_frame_lost`].

use quic_wire::codec::Writer;
use quic_wire::frame::StreamFrameHeader;
use quic_wire::{Dir, Frame, Instant, StreamId, VarInt};

use crate::sched::Key;
use crate::state::{RecvState, SendEvent, SendState};
use crate::streams::{dir_index, StreamEvent, Streams, DIRS};

/// What one frame written by [`Streams::write_frames`] carried: small and `Copy`, to be
/// stored with the sent packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameRecord {
    /// A STREAM frame: `len` bytes at `offset`, and whether it carried FIN.
    Stream {
        /// The stream.
        id: StreamId,
        /// Offset of the first byte.
        offset: u64,
        /// Number of data bytes.
        len: u32,
        /// Whether the frame carried FIN.
        fin: bool,
    },
    /// RESET_STREAM.
    ResetStream(StreamId),
    /// STOP_SENDING.
    StopSending(StreamId),
    /// MAX_STREAM_DATA with this limit.
    MaxStreamData(StreamId, u64),
    /// STREAM_DATA_BLOCKED at this limit.
    StreamDataBlocked(StreamId, u64),
    /// MAX_DATA with this limit.
    MaxData(u64),
    /// DATA_BLOCKED at this limit.
    DataBlocked(u64),
    /// MAX_STREAMS for one direction.
    MaxStreams(Dir, u64),
    /// STREAMS_BLOCKED for one direction.
    StreamsBlocked(Dir, u64),
}

/// What one attempt to write a stream's frame did.
enum Step {
    /// Wrote a frame.
    Wrote,
    /// Nothing to send from this stream now; move on.
    Skip,
    /// The packet is full.
    Full,
}

/// Smallest room worth starting a STREAM frame in: a header and a few bytes.
const MIN_STREAM_ROOM: usize = 8;

/// Smallest room in which a STREAM frame may go without its Length field: well above what
/// header protection needs, so the packet builder never pads after it.
const TO_END_MIN_ROOM: usize = 32;

impl Streams {
    /// Writes frames for the next packet into `w`, at most `budget` bytes: control frames
    /// first (MAX_DATA, DATA_BLOCKED, MAX_STREAMS, STREAMS_BLOCKED, then per stream
    /// RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED), then STREAM frames
    /// in scheduler order, lost data before new data. A STREAM frame whose data fills all
    /// of the room left leaves out its Length field (RFC 9000 §19.8) and so must end the
    /// packet: `budget` must reach the end of the packet's payload, and the caller adds
    /// nothing after these frames when the room is used up (there is no room for it
    /// anyway). Every other STREAM frame carries a Length field. Data is copied once, from the send
    /// buffer into `w`. In a 0-RTT packet (`zero_rtt`), only streams that allow 0-RTT send
    /// data.
    ///
    /// Calls `record` once per frame written; returns the number of bytes written.
    pub fn write_frames(
        &mut self,
        w: &mut Writer<'_>,
        budget: usize,
        now: Instant,
        zero_rtt: bool,
        record: &mut impl FnMut(FrameRecord),
    ) -> usize {
        self.now = self.now.max(now);
        let start = w.written();
        let limit = budget.min(w.remaining());
        let room = |w: &Writer<'_>| limit.saturating_sub(w.written() - start);
        if self.control_pending() {
            self.write_control(w, &room, record);
        }
        let mut cursor: Option<Key> = None;
        loop {
            // The room first: a full packet needs no scheduler lookup.
            let space = room(w);
            if space < MIN_STREAM_ROOM {
                break;
            }
            let Some(key) = self.sched.next_after(cursor) else {
                break;
            };
            match self.write_stream_frame(key.id(), w, space, now, zero_rtt, record) {
                Step::Wrote | Step::Skip => cursor = Some(key),
                Step::Full => break,
            }
        }
        // Blocked signals noticed while writing data go out in the same packet if they fit.
        if self.control_pending() {
            self.write_control(w, &room, record);
        }
        w.written() - start
    }

    /// Whether `write_control` has anything to write: checked inline, as most
    /// packets carry no control frame.
    #[inline]
    fn control_pending(&self) -> bool {
        self.conn_recv.update_pending
            || self.data_blocked_pending.is_some()
            || !self.ctl.is_empty()
            || self
                .remote
                .iter()
                .zip(&self.local)
                .any(|(r, l)| r.update_pending || l.blocked_pending)
    }

    /// Writes `f` if it fits the room left; reports whether it did.
    fn put(w: &mut Writer<'_>, room: usize, f: &Frame<'_>) -> bool {
        f.encoded_len() <= room && f.write(w).is_ok()
    }

    fn write_control(
        &mut self,
        w: &mut Writer<'_>,
        room: &impl Fn(&Writer<'_>) -> usize,
        record: &mut impl FnMut(FrameRecord),
    ) {
        let v = VarInt::from_u64_clamped;
        if self.conn_recv.update_pending {
            let max = self.conn_recv.max;
            if !Self::put(w, room(w), &Frame::MaxData(v(max))) {
                return;
            }
            self.conn_recv.update_pending = false;
            record(FrameRecord::MaxData(max));
        }
        if let Some(limit) = self.data_blocked_pending {
            if !Self::put(w, room(w), &Frame::DataBlocked(v(limit))) {
                return;
            }
            self.data_blocked_pending = None;
            record(FrameRecord::DataBlocked(limit));
        }
        for dir in DIRS {
            let d = dir_index(dir);
            if self.remote[d].update_pending {
                let count = self.remote[d].max;
                if !Self::put(w, room(w), &Frame::MaxStreams { dir, count }) {
                    return;
                }
                self.remote[d].take_update();
                record(FrameRecord::MaxStreams(dir, count));
            }
            if self.local[d].blocked_pending {
                let limit = self.local[d].max;
                if !Self::put(w, room(w), &Frame::StreamsBlocked { dir, limit }) {
                    return;
                }
                self.local[d].blocked_pending = false;
                record(FrameRecord::StreamsBlocked(dir, limit));
            }
        }
        while let Some(&id) = self.ctl.front() {
            if !self.write_stream_control(id, w, room, record) {
                return;
            }
            self.ctl.pop_front();
            if let Some(s) = self.map.get_mut(&id) {
                s.ctl_queued = false;
            }
        }
    }

    /// Writes every pending control frame of one stream; false when one did not fit.
    fn write_stream_control(
        &mut self,
        id: StreamId,
        w: &mut Writer<'_>,
        room: &impl Fn(&Writer<'_>) -> usize,
        record: &mut impl FnMut(FrameRecord),
    ) -> bool {
        let v = VarInt::from_u64_clamped;
        let Some(s) = self.map.get_mut(&id) else {
            return true;
        };
        if let Some(h) = s.send.as_mut() {
            if let (true, Some((error_code, final_size))) = (h.reset_pending, h.reset) {
                let f = Frame::ResetStream {
                    id,
                    error_code,
                    final_size: v(final_size),
                };
                if !Self::put(w, room(w), &f) {
                    return false;
                }
                h.reset_pending = false;
                record(FrameRecord::ResetStream(id));
            }
            if let Some(limit) = h.blocked_pending {
                if h.state.may_send_data() {
                    let f = Frame::StreamDataBlocked {
                        id,
                        limit: v(limit),
                    };
                    if !Self::put(w, room(w), &f) {
                        return false;
                    }
                    // RFC 9000 §3.1: sending STREAM_DATA_BLOCKED moves "Ready" to "Send".
                    if h.state == SendState::Ready {
                        h.apply(SendEvent::SendData);
                    }
                    record(FrameRecord::StreamDataBlocked(id, limit));
                }
                h.blocked_pending = None;
            }
        }
        if let Some(r) = s.recv.as_mut() {
            if r.stop_pending {
                if let Some(error_code) = r.stopped {
                    if !Self::put(w, room(w), &Frame::StopSending { id, error_code }) {
                        return false;
                    }
                    record(FrameRecord::StopSending(id));
                }
                r.stop_pending = false;
            }
            if r.wants_max_stream_data() {
                let max = r.credit.max;
                if !Self::put(w, room(w), &Frame::MaxStreamData { id, max: v(max) }) {
                    return false;
                }
                record(FrameRecord::MaxStreamData(id, max));
            }
            r.credit.update_pending = false;
        }
        true
    }

    /// Writes one STREAM frame for stream `id` in at most `space` bytes.
    fn write_stream_frame(
        &mut self,
        id: StreamId,
        w: &mut Writer<'_>,
        space: usize,
        now: Instant,
        zero_rtt: bool,
        record: &mut impl FnMut(FrameRecord),
    ) -> Step {
        let conn_avail = self.conn_send.available();
        let Some(s) = self.map.get_mut(&id) else {
            return Step::Skip;
        };
        let Some(h) = s.send.as_mut() else {
            return Step::Skip;
        };
        if (zero_rtt && !h.allow_0rtt) || !h.state.may_send_data() {
            return Step::Skip;
        }
        let b = &h.buf;
        let fits = |offset: u64| StreamFrameHeader::max_data(id, offset, space, true);
        // Lost data first: it needs no new credit.
        // (offset, length, retransmission, bytes available to send from there, the most
        // data a frame with a Length field fits)
        let (offset, len, retransmit, avail, max) = if let Some(r) = b.first_lost() {
            let Some(max) = fits(r.start).filter(|&m| m > 0) else {
                return Step::Full;
            };
            let len = (r.end - r.start).min(max as u64);
            (r.start, len, true, r.end - r.start, max)
        } else if b.sent() < b.written() {
            let stream_avail = h.credit.max.saturating_sub(b.sent());
            let allowed = (b.written() - b.sent()).min(stream_avail).min(conn_avail);
            if allowed == 0 {
                if stream_avail > 0 {
                    // Held back by the connection: RFC 9000 §4.1, DATA_BLOCKED once per limit.
                    if let Some(limit) = self.conn_send.take_blocked() {
                        self.data_blocked_pending = Some(limit);
                    }
                }
                return Step::Skip;
            }
            let Some(max) = fits(b.sent()).filter(|&m| m > 0) else {
                return Step::Full;
            };
            (b.sent(), allowed.min(max as u64), false, allowed, max)
        } else if b.fin_pending() {
            let Some(max) = fits(b.written()) else {
                return Step::Full;
            };
            (b.written(), 0, false, 0, max)
        } else {
            return Step::Skip;
        };
        // RFC 9000 §19.8: the last frame of a packet may leave out its Length and extend to
        // the end of the packet. Done when the data fills all the room that is left, so
        // nothing (no other frame, no padding) can follow it. Without the Length field a
        // frame fits at least `max` bytes, so with less available it cannot fill the room.
        let to_end = (avail >= max as u64)
            .then(|| StreamFrameHeader::max_data(id, offset, space, false))
            .flatten()
            .filter(|&n| space >= TO_END_MIN_ROOM && n > 0 && avail >= n as u64);
        let (len, with_len) = match to_end {
            Some(n) => (n as u64, false),
            None => (len, true),
        };
        let end = offset + len;
        let fin = b.is_finished() && end == b.written();
        // `len` fits in the packet, so in usize.
        let ulen = usize::try_from(len).unwrap_or(usize::MAX);
        let header = StreamFrameHeader {
            id,
            offset,
            len: with_len.then_some(ulen),
            fin,
        };
        let before = w.written();
        if header.write(w).is_err() || b.copy_out(offset, ulen, w).is_err() {
            // Cannot happen: max_data sized the frame to the room. Undo nothing written
            // beyond the header; report the packet as full.
            debug_assert_eq!(w.written(), before, "partial frame");
            return Step::Full;
        }
        if !retransmit {
            self.conn_send.used += end.saturating_sub(h.buf.sent());
        }
        h.buf.on_sent(offset..end, fin);
        h.credit.used = h.buf.sent();
        h.apply(if fin {
            SendEvent::SendFin
        } else {
            SendEvent::SendData
        });
        s.stats.on_sent(ulen, retransmit, now);
        if let Some(k) = s.sched {
            s.sched = Some(self.sched.rotate(k));
        }
        record(FrameRecord::Stream {
            id,
            offset,
            len: u32::try_from(len).unwrap_or(u32::MAX),
            fin,
        });
        if crate::streams::refresh_stream(id, s, &mut self.sched, &mut self.ctl) {
            self.free(id);
        }
        Step::Wrote
    }

    /// A frame from an acknowledged packet.
    pub fn on_frame_acked(&mut self, rec: FrameRecord, now: Instant) {
        self.now = self.now.max(now);
        match rec {
            FrameRecord::Stream {
                id,
                offset,
                len,
                fin,
            } => self.on_stream_acked(id, offset, u64::from(len), fin),
            FrameRecord::ResetStream(id) => {
                if let Some(h) = self.map.get_mut(&id).and_then(|s| s.send.as_mut()) {
                    h.apply(SendEvent::RecvResetAck);
                }
                self.refresh(id);
            }
            _ => {}
        }
    }

    /// Stream data from acknowledged packets: `len` bytes of stream `id` from `offset`,
    /// ending with its FIN when `fin`. The same as [`Streams::on_frame_acked`] for each of
    /// the STREAM frames that carried them, done once: a receiver acknowledges many packets
    /// at a time, and consecutive packets mostly carry consecutive data of one stream.
    pub fn on_stream_data_acked(
        &mut self,
        id: StreamId,
        offset: u64,
        len: u64,
        fin: bool,
        now: Instant,
    ) {
        self.now = self.now.max(now);
        self.on_stream_acked(id, offset, len, fin);
    }

    fn on_stream_acked(&mut self, id: StreamId, offset: u64, len: u64, fin: bool) {
        let ideal = self.ideal_send_buffer();
        let floor = self.credit_floor();
        let Some(s) = self.map.get_mut(&id) else {
            return;
        };
        let Some(h) = s.send.as_mut() else {
            return;
        };
        if !h.state.may_send_data() {
            return;
        }
        let moved = h
            .buf
            .on_acked(offset..offset + len, fin, &mut self.seg_pool);
        if moved && h.notify_acked {
            self.events.push_back(StreamEvent::Acked {
                id,
                offset: h.buf.acked_base(),
            });
        }
        let limit = crate::streams::write_cap(ideal, floor, h);
        if moved && h.want_writable && h.buf.held() < limit && !h.buf.is_finished() {
            h.want_writable = false;
            self.events.push_back(StreamEvent::Writable { id });
        }
        if h.buf.all_acked() && h.apply(SendEvent::RecvAllAcks) {
            self.events.push_back(StreamEvent::Finished { id });
        }
        if crate::streams::refresh_stream(id, s, &mut self.sched, &mut self.ctl) {
            self.free(id);
        }
    }

    /// A frame from a packet declared lost: its content is queued again if still needed.
    pub fn on_frame_lost(&mut self, rec: FrameRecord, now: Instant) {
        self.now = self.now.max(now);
        let id = match rec {
            FrameRecord::Stream {
                id,
                offset,
                len,
                fin,
            } => {
                self.on_stream_lost(id, offset, u64::from(len), fin);
                id
            }
            FrameRecord::ResetStream(id) => {
                if let Some(h) = self.map.get_mut(&id).and_then(|s| s.send.as_mut()) {
                    h.reset_pending = h.state == SendState::ResetSent;
                }
                id
            }
            FrameRecord::StopSending(id) => {
                if let Some(r) = self.map.get_mut(&id).and_then(|s| s.recv.as_mut()) {
                    r.stop_pending = r.stopped.is_some()
                        && matches!(r.state, RecvState::Recv | RecvState::SizeKnown);
                }
                id
            }
            FrameRecord::MaxStreamData(id, max) => {
                if let Some(r) = self.map.get_mut(&id).and_then(|s| s.recv.as_mut()) {
                    if r.credit.max == max {
                        r.credit.update_pending = true;
                    }
                }
                id
            }
            FrameRecord::StreamDataBlocked(id, limit) => {
                if let Some(h) = self.map.get_mut(&id).and_then(|s| s.send.as_mut()) {
                    if h.credit.max == limit && h.credit.available() == 0 && h.state.may_send_data()
                    {
                        h.blocked_pending = Some(limit);
                    }
                }
                id
            }
            FrameRecord::MaxData(max) => {
                if self.conn_recv.max == max {
                    self.conn_recv.update_pending = true;
                }
                return;
            }
            FrameRecord::DataBlocked(limit) => {
                if self.conn_send.max == limit && self.conn_send.available() == 0 {
                    self.data_blocked_pending = Some(limit);
                }
                return;
            }
            FrameRecord::MaxStreams(dir, count) => {
                self.remote[dir_index(dir)].on_update_lost(count);
                return;
            }
            FrameRecord::StreamsBlocked(dir, limit) => {
                let d = dir_index(dir);
                if self.local[d].max == limit && !self.pending[d].is_empty() {
                    self.local[d].blocked_pending = true;
                }
                return;
            }
        };
        self.refresh(id);
    }

    fn on_stream_lost(&mut self, id: StreamId, offset: u64, len: u64, fin: bool) {
        let Some(h) = self.map.get_mut(&id).and_then(|s| s.send.as_mut()) else {
            return;
        };
        if !h.state.may_send_data() {
            return;
        }
        if let Some(code) = h.cancel_on_loss {
            h.reset(code);
            return;
        }
        h.buf.on_lost(offset..offset + len, fin);
    }
}
