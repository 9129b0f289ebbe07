//! One stream: its sending and receiving halves, priority and statistics.

use quic_wire::VarInt;

use crate::flow::{RecvCredit, SendCredit};
use crate::recv::{RecvBuffer, ZERO_COPY_MIN};
use crate::sched::{Key, Priority};
use crate::send::SendBuffer;
use crate::state::{RecvEvent, RecvState, SendEvent, SendState};
use crate::stats::StreamStats;
use crate::PendingId;

/// The sending part of a stream.
#[derive(Debug)]
pub(crate) struct SendHalf {
    pub(crate) state: SendState,
    pub(crate) buf: SendBuffer,
    /// The peer's MAX_STREAM_DATA; `used` mirrors `buf.sent()`.
    pub(crate) credit: SendCredit,
    /// Error code and final size of our RESET_STREAM, once reset.
    pub(crate) reset: Option<(VarInt, u64)>,
    /// RESET_STREAM waits to be sent.
    pub(crate) reset_pending: bool,
    /// STREAM_DATA_BLOCKED at this limit waits to be sent.
    pub(crate) blocked_pending: Option<u64>,
    /// The peer's STOP_SENDING code.
    pub(crate) stopped: Option<VarInt>,
    /// Reset with this code instead of retransmitting lost data.
    pub(crate) cancel_on_loss: Option<VarInt>,
    /// Data may go out in 0-RTT packets.
    pub(crate) allow_0rtt: bool,
    /// A write came up short: tell the application when room frees up.
    pub(crate) want_writable: bool,
    /// Zero-copy writes were made: report acknowledged offsets.
    pub(crate) notify_acked: bool,
    /// The most credit the peer has granted beyond our acknowledged data so far: its
    /// window for this stream, which bounds what copying writes buffer (a steady bound,
    /// where the credit left right now rises and falls with every MAX_STREAM_DATA).
    pub(crate) window: u64,
}

impl SendHalf {
    pub(crate) fn new(max_data: u64) -> Self {
        SendHalf {
            state: SendState::Ready,
            buf: SendBuffer::default(),
            credit: SendCredit::new(max_data),
            reset: None,
            reset_pending: false,
            blocked_pending: None,
            stopped: None,
            cancel_on_loss: None,
            allow_0rtt: false,
            want_writable: false,
            notify_acked: false,
            window: max_data,
        }
    }

    /// Makes this half what `SendHalf::new(max_data)` makes, in place, keeping the memory
    /// of its buffer (a freed stream's half, for a new stream).
    pub(crate) fn renew(&mut self, max_data: u64) {
        self.state = SendState::Ready;
        self.buf.renew();
        self.credit = SendCredit::new(max_data);
        self.reset = None;
        self.reset_pending = false;
        self.blocked_pending = None;
        self.stopped = None;
        self.cancel_on_loss = None;
        self.allow_0rtt = false;
        self.want_writable = false;
        self.notify_acked = false;
        self.window = max_data;
    }

    /// Takes note of the peer's credit after it grew.
    pub(crate) fn note_credit(&mut self) {
        self.window = self
            .window
            .max(self.credit.max.saturating_sub(self.buf.acked_base()));
    }

    /// Applies a transition declared in [`SendState::on`]; an undeclared one leaves the
    /// state as it is and returns false.
    pub(crate) fn apply(&mut self, e: SendEvent) -> bool {
        match self.state.on(e) {
            Some(s) => {
                self.state = s;
                true
            }
            None => false,
        }
    }

    /// Whether this half wants the scheduler: it may send data and has some to send
    /// within the stream's credit (retransmissions need no credit).
    pub(crate) fn wants_to_send(&self) -> bool {
        if !self.state.may_send_data() {
            return false;
        }
        let b = &self.buf;
        b.first_lost().is_some()
            || (b.sent() < b.written() && b.sent() < self.credit.max)
            || (b.sent() == b.written() && b.fin_pending())
    }

    /// Resets: drops pending data, remembers the final size (everything ever sent,
    /// RFC 9000 §4.5) and queues RESET_STREAM. Returns false when nothing changed.
    pub(crate) fn reset(&mut self, code: VarInt) -> bool {
        if !self.apply(SendEvent::SendReset) {
            return false;
        }
        self.reset = Some((code, self.buf.sent()));
        self.reset_pending = true;
        self.blocked_pending = None;
        self.buf.clear();
        true
    }
}

/// The receiving part of a stream.
#[derive(Debug)]
pub(crate) struct RecvHalf {
    pub(crate) state: RecvState,
    pub(crate) buf: RecvBuffer,
    pub(crate) credit: RecvCredit,
    pub(crate) final_size: Option<u64>,
    /// The peer's RESET_STREAM code.
    pub(crate) reset_code: Option<VarInt>,
    /// The application stopped reading with this code.
    pub(crate) stopped: Option<VarInt>,
    /// STOP_SENDING waits to be sent.
    pub(crate) stop_pending: bool,
    /// A Readable event is outstanding.
    pub(crate) readable_notified: bool,
}

impl RecvHalf {
    pub(crate) fn new(window: u64, max_window: u64) -> Self {
        RecvHalf {
            state: RecvState::Recv,
            buf: RecvBuffer::new(chunk_cap(window)),
            credit: RecvCredit::new(window, max_window),
            final_size: None,
            reset_code: None,
            stopped: None,
            stop_pending: false,
            readable_notified: false,
        }
    }

    /// Makes this half what `RecvHalf::new(window, max_window)` makes, in place, keeping
    /// the memory of its buffer (a freed stream's half, for a new stream).
    pub(crate) fn renew(&mut self, window: u64, max_window: u64) {
        self.state = RecvState::Recv;
        self.buf.renew(chunk_cap(window));
        self.credit = RecvCredit::new(window, max_window);
        self.final_size = None;
        self.reset_code = None;
        self.stopped = None;
        self.stop_pending = false;
        self.readable_notified = false;
    }

    /// Applies a transition declared in [`RecvState::on`].
    pub(crate) fn apply(&mut self, e: RecvEvent) -> bool {
        match self.state.on(e) {
            Some(s) => {
                self.state = s;
                true
            }
            None => false,
        }
    }

    /// Whether incoming data is thrown away (after a reset, a stop, or reading it all).
    pub(crate) fn discards(&self) -> bool {
        self.stopped.is_some()
            || matches!(
                self.state,
                RecvState::ResetRecvd | RecvState::ResetRead | RecvState::DataRead
            )
    }

    /// Moves to "Data Recvd" once every byte up to the final size is in.
    pub(crate) fn check_all_data(&mut self) {
        if let Some(fs) = self.final_size {
            if self.state == RecvState::SizeKnown && self.buf.contiguous_end() >= fs {
                self.apply(RecvEvent::RecvAllData);
            }
        }
    }

    /// Whether a MAX_STREAM_DATA should be sent (RFC 9000 §3.3: only in "Recv").
    pub(crate) fn wants_max_stream_data(&self) -> bool {
        self.credit.update_pending && self.state == RecvState::Recv && self.stopped.is_none()
    }

    /// Keeps the chunk cap in line with the (possibly auto-tuned) window.
    pub(crate) fn sync_chunk_cap(&mut self) {
        self.buf.set_max_chunks(chunk_cap(self.credit.window));
    }
}

/// Chunks a stream may hold for a window: one per [`ZERO_COPY_MIN`] bytes plus slack,
/// enough for any sender that does not deliberately fragment.
fn chunk_cap(window: u64) -> usize {
    usize::try_from(window / ZERO_COPY_MIN as u64)
        .unwrap_or(usize::MAX)
        .saturating_add(64)
}

/// A stream: one or two halves, priority, statistics and bookkeeping.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) send: Option<SendHalf>,
    pub(crate) recv: Option<RecvHalf>,
    pub(crate) prio: Priority,
    /// Its place in the scheduler, when it has data to send.
    pub(crate) sched: Option<Key>,
    pub(crate) stats: StreamStats,
    /// Already in the control-frame queue.
    pub(crate) ctl_queued: bool,
    /// The pending handle it was opened with, if it waited for stream credit.
    pub(crate) pending_id: Option<PendingId>,
}

impl Stream {
    pub(crate) fn new(send: Option<SendHalf>, recv: Option<RecvHalf>) -> Self {
        Stream {
            send,
            recv,
            prio: Priority::DEFAULT,
            sched: None,
            stats: StreamStats::default(),
            ctl_queued: false,
            pending_id: None,
        }
    }

    /// Makes this (freed) stream what a new one with these halves would be, in place:
    /// a sending half with the peer's credit `send`, a receiving half with the window and
    /// largest window `recv`. The memory of halves present before and after is kept.
    pub(crate) fn renew(&mut self, send: Option<u64>, recv: Option<(u64, u64)>) {
        match (self.send.as_mut(), send) {
            (Some(h), Some(max)) => h.renew(max),
            (_, send) => self.send = send.map(SendHalf::new),
        }
        match (self.recv.as_mut(), recv) {
            (Some(r), Some((window, max))) => r.renew(window, max),
            (_, recv) => self.recv = recv.map(|(window, max)| RecvHalf::new(window, max)),
        }
        self.prio = Priority::DEFAULT;
        self.sched = None;
        self.stats = StreamStats::default();
        self.ctl_queued = false;
        self.pending_id = None;
    }

    /// Drops what the buffers hold (a freed stream kept for reuse pins no data).
    pub(crate) fn release_contents(&mut self) {
        if let Some(h) = self.send.as_mut() {
            h.buf.release();
        }
        if let Some(r) = self.recv.as_mut() {
            r.buf.release();
        }
    }

    /// Moves `self` into the allocation of `old`, a freed stream, keeping the memory of its
    /// buffer lists too: opening and closing many short streams then allocates little.
    pub(crate) fn into_recycled(
        mut self,
        mut old: alloc::boxed::Box<Stream>,
    ) -> alloc::boxed::Box<Stream> {
        if let (Some(new), Some(used)) = (self.send.as_mut(), old.send.as_mut()) {
            new.buf.adopt_storage(&mut used.buf);
        }
        if let (Some(new), Some(used)) = (self.recv.as_mut(), old.recv.as_mut()) {
            new.buf.adopt_storage(&mut used.buf);
        }
        *old = self;
        old
    }

    /// RFC 9000 §3: once both halves are in a terminal state the stream's state can be
    /// freed (a missing half counts as terminal).
    pub(crate) fn is_closed(&self) -> bool {
        self.send.as_ref().is_none_or(|s| s.state.is_terminal())
            && self.recv.as_ref().is_none_or(|r| r.state.is_terminal())
    }

    /// Whether a control frame for this stream waits to be sent.
    pub(crate) fn has_control(&self) -> bool {
        self.send
            .as_ref()
            .is_some_and(|s| s.reset_pending || s.blocked_pending.is_some())
            || self
                .recv
                .as_ref()
                .is_some_and(|r| r.stop_pending || r.wants_max_stream_data())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::SegmentPool;
    use alloc::format;
    use quic_wire::Instant;

    /// A stream with every field moved away from its initial value.
    fn used() -> Stream {
        let mut s = Stream::new(Some(SendHalf::new(10)), Some(RecvHalf::new(2000, 4000)));
        let mut pool = SegmentPool::default();
        let h = s.send.as_mut().unwrap();
        h.buf.write_copy(&[1; 700], &mut pool);
        h.buf.on_sent(0..300, false);
        h.buf.on_lost(0..100, false);
        h.buf.on_acked(200..300, false, &mut pool);
        h.buf.finish();
        h.credit.raise(5000);
        h.reset(VarInt::from_u32(3));
        h.blocked_pending = Some(7);
        h.stopped = Some(VarInt::from_u32(4));
        h.cancel_on_loss = Some(VarInt::from_u32(5));
        h.allow_0rtt = true;
        h.want_writable = true;
        h.notify_acked = true;
        h.window = 99;
        let r = s.recv.as_mut().unwrap();
        r.buf
            .insert(0, crate::recv::Incoming::Slice(&[2; 50]))
            .unwrap();
        r.buf
            .insert(100, crate::recv::Incoming::Slice(&[2; 50]))
            .unwrap();
        r.credit.on_received(150).unwrap();
        r.credit
            .on_consumed(1500, Instant::from_nanos(5), core::time::Duration::ZERO);
        r.apply(RecvEvent::RecvFin);
        r.final_size = Some(150);
        r.reset_code = Some(VarInt::from_u32(6));
        r.stopped = Some(VarInt::from_u32(8));
        r.stop_pending = true;
        r.readable_notified = true;
        s.prio = Priority::new(1, true);
        s.stats.on_sent(10, true, Instant::from_nanos(9));
        s.stats.on_received(10, Instant::from_nanos(9));
        s.ctl_queued = true;
        s.pending_id = Some(PendingId(3));
        s
    }

    #[test]
    fn a_renewed_stream_is_a_new_stream() {
        let fresh = |send: Option<u64>, recv: Option<(u64, u64)>| {
            Stream::new(
                send.map(SendHalf::new),
                recv.map(|(w, m)| RecvHalf::new(w, m)),
            )
        };
        let shapes = [
            (Some(1000), Some((3000, 6000))),
            (Some(1000), None),
            (None, Some((3000, 6000))),
        ];
        for (send, recv) in shapes {
            let mut s = used();
            s.release_contents();
            s.renew(send, recv);
            assert_eq!(format!("{s:?}"), format!("{:?}", fresh(send, recv)));
            // And from a stream of another shape.
            let mut t = fresh(None, Some((1, 1)));
            t.renew(send, recv);
            assert_eq!(format!("{t:?}"), format!("{:?}", fresh(send, recv)));
        }
    }
}
