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
