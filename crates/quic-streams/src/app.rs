//! The application API of [`Streams`]: open, write, finish, reset, read, stop.

use alloc::collections::{BTreeMap, VecDeque};
use bytes::Bytes;
use quic_wire::{Dir, StreamId, VarInt};

use crate::error::StreamError;
use crate::recv::RecvBuffer;
use crate::sched::Priority;
use crate::send::SegmentPool;
use crate::state::{RecvEvent, RecvState, SendState};
use crate::stats::StreamStats;
use crate::stream::{RecvHalf, SendHalf, Stream};
use crate::streams::{dir_index, PendingId, StreamEvent, StreamRef, Streams};

/// What a read returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// Bytes copied into the caller's buffer (0 when nothing is readable yet).
    pub len: usize,
    /// The end of the stream was reached: every byte has been read.
    pub fin: bool,
}

/// A chunk of received data, zero-copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The bytes (empty when nothing is readable yet).
    pub data: Bytes,
    /// The end of the stream was reached: every byte has been read.
    pub fin: bool,
}

impl Streams {
    /// Opens a stream. When the peer's stream limit is reached the stream still opens,
    /// without an ID: it is queued, its writes are buffered, and it starts (with a
    /// [`StreamEvent::Started`]) once MAX_STREAMS allows, in the order opened.
    pub fn open(&mut self, dir: Dir) -> Result<StreamRef, StreamError> {
        let d = dir_index(dir);
        if self.pending[d].is_empty() && self.local[d].can_open() {
            let id = StreamId::new(self.side, dir, self.local[d].next)
                .ok_or(StreamError::IdsExhausted)?;
            self.local[d].next += 1;
            let s = self.new_boxed(id);
            self.map.insert(id, s);
            return Ok(StreamRef::Id(id));
        }
        // RFC 9000 §4.6: blocked by the peer's limit; tell it (once per limit).
        self.local[d].note_blocked();
        let pid = PendingId(self.next_pending);
        self.next_pending += 1;
        let recv = (dir == Dir::Bi).then(|| {
            crate::stream::RecvHalf::new(self.config.stream_window, self.config.max_stream_window)
        });
        self.pending[d].push_back((pid, Stream::new(Some(SendHalf::new(0)), recv)));
        Ok(StreamRef::Pending(pid))
    }

    /// The ID of a stream, once it has one.
    pub fn id_of(&self, s: impl Into<StreamRef>) -> Option<StreamId> {
        match s.into() {
            StreamRef::Id(id) => self.map.contains_key(&id).then_some(id),
            StreamRef::Pending(p) => self.started.get(&p).copied(),
        }
    }

    /// Resolves a reference to the stream and, when it has one, its ID.
    fn find(&mut self, s: StreamRef) -> Result<(Option<StreamId>, &mut Stream), StreamError> {
        find_in(&mut self.map, &mut self.pending, &self.started, s)
    }

    /// Runs `f` on the stream `s` refers to and, when `f` succeeds, brings the stream's
    /// derived state up to date (what [`Streams::refresh`] does) with the same lookup.
    fn update<T>(
        &mut self,
        s: StreamRef,
        f: impl FnOnce(&mut Stream, &mut SegmentPool) -> Result<T, StreamError>,
    ) -> Result<T, StreamError> {
        let Streams {
            map,
            pending,
            started,
            sched,
            ctl,
            seg_pool,
            ..
        } = self;
        let (id, st) = find_in(map, pending, started, s)?;
        let out = f(st, seg_pool)?;
        if let Some(id) = id {
            if crate::streams::refresh_stream(id, st, sched, ctl) {
                self.free(id);
            }
        }
        Ok(out)
    }

    fn send_half(
        &mut self,
        s: StreamRef,
    ) -> Result<(Option<StreamId>, &mut SendHalf), StreamError> {
        let (id, st) = self.find(s)?;
        let h = st.send.as_mut().ok_or(StreamError::ReceiveOnly)?;
        Ok((id, h))
    }

    /// Checks that the sending part accepts more data.
    fn writable(h: &SendHalf) -> Result<(), StreamError> {
        if let Some(code) = h.stopped {
            return Err(StreamError::Stopped(code));
        }
        if !h.state.may_send_data() || h.buf.is_finished() {
            return Err(StreamError::Closed);
        }
        Ok(())
    }

    /// Copying write: copies as much of `data` as the send buffer has room for and
    /// returns how much (`Ok(0)` when it is full: the typed "would block"). The write is
    /// complete on return. The buffer holds the ideal send buffer
    /// ([`Streams::ideal_send_buffer`]) at most, and no more than the peer's window for
    /// the stream: the most flow-control credit it has granted beyond our acknowledged
    /// data (a stream without credit yet takes [`crate::CREDITLESS_BUFFER`]), so data that
    /// could only wait does not pile up. When a write comes up short, a [`StreamEvent::Writable`] follows once room
    /// frees up (acknowledgements or more credit).
    pub fn write(&mut self, s: impl Into<StreamRef>, data: &[u8]) -> Result<usize, StreamError> {
        let ideal = self.ideal_send_buffer();
        let floor = self.credit_floor();
        self.update(s.into(), |st, pool| {
            let h = st.send.as_mut().ok_or(StreamError::ReceiveOnly)?;
            Self::writable(h)?;
            // What `Streams::write_cap` computes (`self` is borrowed here).
            let limit = crate::streams::write_cap(ideal, floor, h);
            let room = usize::try_from(limit.saturating_sub(h.buf.held())).unwrap_or(usize::MAX);
            let n = data.len().min(room);
            // Offsets and lengths stay below 2^62 (RFC 9000 §4.5): cap what the stream can
            // hold.
            let n = n.min(
                usize::try_from(quic_wire::frame::MAX_OFFSET - h.buf.written())
                    .unwrap_or(usize::MAX),
            );
            h.buf.write_copy(&data[..n], pool);
            if n < data.len() {
                h.want_writable = true;
            }
            Ok(n)
        })
    }

    /// Zero-copy write: keeps `data` itself until every byte is acknowledged, then reports
    /// [`StreamEvent::Acked`] with an offset at or past the returned end offset. The whole
    /// `data` is always taken (its memory is the caller's already); it counts against the
    /// send buffer, so later copying writes wait for it.
    pub fn write_bytes(
        &mut self,
        s: impl Into<StreamRef>,
        data: Bytes,
    ) -> Result<u64, StreamError> {
        self.update(s.into(), |st, _| {
            let h = st.send.as_mut().ok_or(StreamError::ReceiveOnly)?;
            Self::writable(h)?;
            if data.len() as u64 > quic_wire::frame::MAX_OFFSET - h.buf.written() {
                return Err(StreamError::Closed);
            }
            h.buf.write_shared(data);
            h.notify_acked = true;
            Ok(h.buf.written())
        })
    }

    /// Graceful shutdown: no more writes; once all data and the FIN are acknowledged the
    /// stream reports [`StreamEvent::Finished`]. Finishing twice is harmless.
    pub fn finish(&mut self, s: impl Into<StreamRef>) -> Result<(), StreamError> {
        self.update(s.into(), |st, _| {
            let h = st.send.as_mut().ok_or(StreamError::ReceiveOnly)?;
            if let Some(code) = h.stopped {
                return Err(StreamError::Stopped(code));
            }
            if !h.state.may_send_data() {
                return Err(StreamError::Closed);
            }
            h.buf.finish();
            Ok(())
        })
    }

    /// Abortive shutdown: drops unsent and unacknowledged data and sends RESET_STREAM with
    /// `code` and the final size (RFC 9000 §3.1, §19.4). No-op when the sending part is
    /// already reset or fully acknowledged. A pending stream is simply dropped: it never
    /// reached the wire.
    pub fn reset(&mut self, s: impl Into<StreamRef>, code: VarInt) -> Result<(), StreamError> {
        let s = s.into();
        let (id, h) = self.send_half(s)?;
        let Some(id) = id else {
            if let StreamRef::Pending(p) = s {
                for q in &mut self.pending {
                    q.retain(|(pid, _)| *pid != p);
                }
            }
            return Ok(());
        };
        h.reset(code);
        self.refresh(id);
        Ok(())
    }

    /// Stops reading: buffered and future data is discarded (still counted for flow
    /// control) and, in "Recv" or "Size Known", STOP_SENDING with `code` asks the peer to
    /// reset (RFC 9000 §3.5).
    pub fn stop_sending(&mut self, id: StreamId, code: VarInt) -> Result<(), StreamError> {
        let st = self.map.get_mut(&id).ok_or(StreamError::UnknownStream)?;
        let r = st.recv.as_mut().ok_or(StreamError::SendOnly)?;
        if r.stopped.is_some() || r.state.is_terminal() {
            return Ok(());
        }
        r.stopped = Some(code);
        if matches!(r.state, RecvState::Recv | RecvState::SizeKnown) {
            r.stop_pending = true;
        }
        let released = r.credit.highest.saturating_sub(r.buf.read_offset());
        r.buf.discard_all(r.credit.highest);
        Self::settle_stopped(r);
        self.conn_consumed(released);
        self.refresh(id);
        Ok(())
    }

    /// A stopped receiving part ends itself once the peer's side resolves.
    pub(crate) fn settle_stopped(r: &mut crate::stream::RecvHalf) {
        if r.stopped.is_some() {
            r.apply(RecvEvent::AppReadAll);
            r.apply(RecvEvent::AppReadReset);
        }
    }

    /// Checks the receiving part can be read; reports a reset.
    fn readable(&mut self, id: StreamId) -> Result<&mut crate::stream::RecvHalf, StreamError> {
        let st = self.map.get_mut(&id).ok_or(StreamError::UnknownStream)?;
        check_readable(st)
    }

    /// A read of stream `id`: `take` takes data from the receive buffer and says how many
    /// bytes it took; then flow-control credit, the end of the stream and freeing, all
    /// with one lookup of the stream. Returns what `take` returned and whether the end of
    /// the stream was reached.
    fn read_with<T>(
        &mut self,
        id: StreamId,
        take: impl FnOnce(&mut RecvBuffer) -> (T, usize),
    ) -> Result<(T, bool), StreamError> {
        let (now, rtt) = (self.now, self.rtt);
        let Streams { map, ctl, .. } = self;
        let Some(st) = map.get_mut(&id) else {
            return Err(StreamError::UnknownStream);
        };
        let r = match check_readable(st) {
            Ok(r) => r,
            Err(e) => return Err(self.reset_seen(id, e)),
        };
        let (out, n) = take(&mut r.buf);
        if n > 0 {
            r.credit.on_consumed(n as u64, now, rtt);
            r.sync_chunk_cap();
        }
        let fin = r.final_size == Some(r.buf.read_offset());
        if fin {
            r.apply(RecvEvent::AppReadAll);
        }
        // A read that took nothing and did not reach the end changed nothing the refresh
        // derives from (only the Readable edge was re-armed).
        let closed = (n > 0 || fin) && crate::streams::refresh_after_recv(id, st, ctl);
        self.conn_consumed(n as u64);
        if closed {
            self.free(id);
        }
        Ok((out, fin))
    }

    /// Copies readable data into `buf`. A reset stream gives [`StreamError::Reset`] (and
    /// counts as the application reading the reset).
    pub fn read(&mut self, id: StreamId, buf: &mut [u8]) -> Result<Read, StreamError> {
        let (len, fin) = self.read_with(id, |b| {
            let n = b.read_into(buf);
            (n, n)
        })?;
        Ok(Read { len, fin })
    }

    /// Takes up to `max` readable bytes as one zero-copy chunk.
    pub fn read_chunk(&mut self, id: StreamId, max: usize) -> Result<Chunk, StreamError> {
        let (data, fin) = self.read_with(id, |b| {
            let data = b.read_chunk(max).unwrap_or_default();
            let n = data.len();
            (data, n)
        })?;
        Ok(Chunk { data, fin })
    }

    /// The readable bytes at the read position (the first contiguous chunk), without
    /// consuming them; see [`Streams::consume`].
    pub fn peek(&mut self, id: StreamId) -> Result<&[u8], StreamError> {
        if let Err(e) = self.readable(id) {
            return Err(self.reset_seen(id, e));
        }
        let r = self
            .map
            .get(&id)
            .and_then(|s| s.recv.as_ref())
            .ok_or(StreamError::UnknownStream)?;
        Ok(r.buf.peek().unwrap_or(&[]))
    }

    /// Partial consumption: drops up to `n` readable bytes, leaving the rest in place.
    /// Returns how many were dropped and whether that reached the end of the stream.
    pub fn consume(&mut self, id: StreamId, n: usize) -> Result<Read, StreamError> {
        let (len, fin) = self.read_with(id, |b| {
            let done = b.consume(n);
            (done, done)
        })?;
        Ok(Read { len, fin })
    }

    /// Reading a reset stream is the application reading the reset (RFC 9000 §3.2).
    fn reset_seen(&mut self, id: StreamId, e: StreamError) -> StreamError {
        if let StreamError::Reset(_) = e {
            if let Some(r) = self.map.get_mut(&id).and_then(|s| s.recv.as_mut()) {
                r.apply(RecvEvent::AppReadReset);
            }
            self.refresh(id);
        }
        e
    }

    /// Sets a stream's RFC 9218 priority; takes effect for the next packet.
    pub fn set_priority(
        &mut self,
        s: impl Into<StreamRef>,
        prio: Priority,
    ) -> Result<(), StreamError> {
        let (id, st) = self.find(s.into())?;
        st.prio = prio;
        if let Some(id) = id {
            self.refresh(id);
        }
        Ok(())
    }

    /// A stream's priority.
    pub fn priority(&mut self, s: impl Into<StreamRef>) -> Result<Priority, StreamError> {
        Ok(self.find(s.into())?.1.prio)
    }

    /// Cancel-on-loss mode: with `Some(code)`, data declared lost is not retransmitted;
    /// the stream is reset with `code` instead (for data that is useless when late).
    pub fn set_cancel_on_loss(
        &mut self,
        s: impl Into<StreamRef>,
        code: Option<VarInt>,
    ) -> Result<(), StreamError> {
        self.send_half(s.into())?.1.cancel_on_loss = code;
        Ok(())
    }

    /// Allows this stream's data in 0-RTT packets (off by default: 0-RTT data can be
    /// replayed, so the application opts in per stream).
    pub fn set_0rtt_allowed(
        &mut self,
        s: impl Into<StreamRef>,
        allowed: bool,
    ) -> Result<(), StreamError> {
        self.send_half(s.into())?.1.allow_0rtt = allowed;
        Ok(())
    }

    /// The send buffer room left for copying writes.
    pub fn write_room(&mut self, s: impl Into<StreamRef>) -> Result<u64, StreamError> {
        let limit = self.ideal_send_buffer();
        let (_, h) = self.send_half(s.into())?;
        Ok(limit.saturating_sub(h.buf.held()))
    }

    /// A live stream's statistics.
    pub fn stats(&self, id: StreamId) -> Option<StreamStats> {
        self.map.get(&id).map(|s| s.stats)
    }

    /// The state of a live stream's sending part.
    pub fn send_state(&self, id: StreamId) -> Option<SendState> {
        self.map.get(&id)?.send.as_ref().map(|h| h.state)
    }

    /// The state of a live stream's receiving part.
    pub fn recv_state(&self, id: StreamId) -> Option<RecvState> {
        self.map.get(&id)?.recv.as_ref().map(|h| h.state)
    }

    /// Sets how many streams of `dir` the peer may have open at once. A larger value is
    /// advertised with MAX_STREAMS right away; a smaller one applies as streams close.
    pub fn set_max_concurrent(&mut self, dir: Dir, n: u64) {
        self.remote[dir_index(dir)].set_concurrent(n);
    }

    pub(crate) fn push_event(&mut self, e: StreamEvent) {
        self.events.push_back(e);
    }
}

/// [`Streams::find`] over the fields it needs, so callers can keep other fields borrowed.
fn find_in<'a>(
    map: &'a mut crate::map::StreamMap,
    pending: &'a mut [VecDeque<(PendingId, Stream)>; 2],
    started: &BTreeMap<PendingId, StreamId>,
    s: StreamRef,
) -> Result<(Option<StreamId>, &'a mut Stream), StreamError> {
    let (id, pid) = match s {
        StreamRef::Id(id) => (Some(id), None),
        StreamRef::Pending(p) => (started.get(&p).copied(), Some(p)),
    };
    if let Some(id) = id {
        return map
            .get_mut(&id)
            .map(|s| (Some(id), &mut **s))
            .ok_or(StreamError::UnknownStream);
    }
    pending
        .iter_mut()
        .flat_map(|q| q.iter_mut())
        .find(|(p, _)| Some(*p) == pid)
        .map(|(_, s)| (None, s))
        .ok_or(StreamError::UnknownStream)
}

/// Checks the receiving part of `st` can be read (reporting a reset) and re-arms its
/// Readable event.
fn check_readable(st: &mut Stream) -> Result<&mut RecvHalf, StreamError> {
    let r = st.recv.as_mut().ok_or(StreamError::SendOnly)?;
    if let Some(code) = r.reset_code {
        if r.state != RecvState::DataRecvd && r.state != RecvState::DataRead {
            return Err(StreamError::Reset(code));
        }
    }
    if r.stopped.is_some() {
        return Err(StreamError::Closed);
    }
    r.readable_notified = false;
    Ok(r)
}
