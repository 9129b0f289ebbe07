//! [`Streams`]: every stream of one connection, their limits and credit, and the events
//! the application drains.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use core::time::Duration;
use quic_wire::{Dir, Instant, Side, StreamId, TransportError, TransportErrorCode, VarInt};

use crate::flow::{RecvCredit, SendCredit};
use crate::limits::{LocalLimit, RemoteLimit};
use crate::sched::Scheduler;
use crate::state::RecvEvent;
use crate::stats::StreamStats;
use crate::stream::{RecvHalf, SendHalf, Stream};

/// Limits and buffer sizes for one connection's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How many bidirectional streams the peer may have open at once
    /// (`initial_max_streams_bidi`, then replenished with MAX_STREAMS).
    pub max_concurrent_bidi: u64,
    /// How many unidirectional streams the peer may have open at once.
    pub max_concurrent_uni: u64,
    /// Initial receive window of each stream (`initial_max_stream_data_*`).
    pub stream_window: u64,
    /// The most auto-tuning may grow a stream's receive window to.
    pub max_stream_window: u64,
    /// Initial connection receive window (`initial_max_data`).
    pub conn_window: u64,
    /// The most auto-tuning may grow the connection window to.
    pub max_conn_window: u64,
    /// Send buffer of each stream for copying writes, at least (copying writes also stop
    /// at the peer's flow-control credit: see [`Streams::write`]).
    pub send_buffer: u64,
    /// The most the send buffer grows to following the bandwidth-delay product hint.
    pub max_send_buffer: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_bidi: 100,
            max_concurrent_uni: 100,
            stream_window: 256 * 1024,
            max_stream_window: 16 * 1024 * 1024,
            conn_window: 1024 * 1024,
            max_conn_window: 64 * 1024 * 1024,
            send_buffer: 256 * 1024,
            max_send_buffer: 16 * 1024 * 1024,
        }
    }
}

/// The peer's flow control and stream limits (its transport parameters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerLimits {
    /// `initial_max_data`.
    pub max_data: u64,
    /// `initial_max_stream_data_bidi_local`: for bidirectional streams the peer opens.
    pub stream_data_bidi_local: u64,
    /// `initial_max_stream_data_bidi_remote`: for bidirectional streams we open.
    pub stream_data_bidi_remote: u64,
    /// `initial_max_stream_data_uni`: for unidirectional streams we open.
    pub stream_data_uni: u64,
    /// `initial_max_streams_bidi`.
    pub max_streams_bidi: u64,
    /// `initial_max_streams_uni`.
    pub max_streams_uni: u64,
}

impl From<&quic_wire::TransportParameters> for PeerLimits {
    fn from(tp: &quic_wire::TransportParameters) -> Self {
        PeerLimits {
            max_data: tp.initial_max_data.into_inner(),
            stream_data_bidi_local: tp.initial_max_stream_data_bidi_local.into_inner(),
            stream_data_bidi_remote: tp.initial_max_stream_data_bidi_remote.into_inner(),
            stream_data_uni: tp.initial_max_stream_data_uni.into_inner(),
            max_streams_bidi: tp.initial_max_streams_bidi.into_inner(),
            max_streams_uni: tp.initial_max_streams_uni.into_inner(),
        }
    }
}

/// A locally opened stream still waiting for the peer's stream credit: it has no ID yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PendingId(pub(crate) u64);

/// A stream as the application names it: by ID, or by the pending handle `open` gave
/// while the stream waited for credit (it keeps working after the stream started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamRef {
    /// A stream with an ID.
    Id(StreamId),
    /// A stream opened while the peer's limit was reached.
    Pending(PendingId),
}

impl From<StreamId> for StreamRef {
    fn from(id: StreamId) -> Self {
        StreamRef::Id(id)
    }
}

impl From<PendingId> for StreamRef {
    fn from(p: PendingId) -> Self {
        StreamRef::Pending(p)
    }
}

/// Something the application should know about; drained with [`Streams::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The peer opened a stream (one event per stream, lower-numbered ones included).
    Opened {
        /// The stream.
        id: StreamId,
    },
    /// Data (or the end of the stream) can be read. Edge-triggered: after any read call,
    /// the next Readable comes only when more data arrives, so read until a read returns
    /// no data (or `fin`).
    Readable {
        /// The stream.
        id: StreamId,
    },
    /// A copying write came up short earlier and there is room again.
    Writable {
        /// The stream.
        id: StreamId,
    },
    /// Zero-copy completion: every byte below `offset` was acknowledged and released.
    Acked {
        /// The stream.
        id: StreamId,
        /// The acknowledged prefix.
        offset: u64,
    },
    /// Graceful shutdown complete: all data and the FIN were acknowledged.
    Finished {
        /// The stream.
        id: StreamId,
    },
    /// The peer reset its sending part ("App Read Reset" happens when this is polled).
    Reset {
        /// The stream.
        id: StreamId,
        /// The peer's application error code.
        error_code: VarInt,
    },
    /// The peer sent STOP_SENDING; the stream was reset in reply.
    Stopped {
        /// The stream.
        id: StreamId,
        /// The peer's application error code.
        error_code: VarInt,
    },
    /// A stream opened while the peer's limit was reached got its ID.
    Started {
        /// The handle `open` returned.
        pending: PendingId,
        /// Its ID.
        id: StreamId,
    },
    /// Both halves reached a terminal state and the stream was freed.
    Closed {
        /// The stream.
        id: StreamId,
        /// Its final statistics.
        stats: StreamStats,
    },
}

pub(crate) const fn dir_index(d: Dir) -> usize {
    match d {
        Dir::Bi => 0,
        Dir::Uni => 1,
    }
}

pub(crate) const DIRS: [Dir; 2] = [Dir::Bi, Dir::Uni];

/// Every stream of one connection: the sans-IO core of quic-streams.
///
/// ## Usage contract
/// - **Inputs from the connection**: [`Streams::handle_frame`] (or
///   [`Streams::handle_frame_shared`] to keep received data zero-copy) for each
///   stream-related frame of a decrypted packet; [`Streams::on_frame_acked`] and
///   [`Streams::on_frame_lost`] for each [`crate::FrameRecord`] of a packet acknowledged
///   or declared lost; [`Streams::set_peer_limits`] once the peer's transport parameters
///   are known; [`Streams::set_rtt`] and [`Streams::set_bdp`] as estimates change.
/// - **Output to the connection**: [`Streams::write_frames`] fills part of a packet and
///   reports the frames written; call it while [`Streams::wants_to_send`] and the packet
///   has room.
/// - **Application calls**: `open`, `write`, `write_bytes`, `finish`, `reset`, `read`,
///   `read_chunk`, `peek`/`consume`, `stop_sending`, `set_priority` ...; misuse returns
///   a [`crate::StreamError`].
/// - **Events**: after any input or call, drain [`Streams::poll_event`].
///
/// Time is always an input: the latest `now` given to a `handle_*`, `on_*` or
/// `write_frames` call is the time the application calls are taken to happen at.
#[derive(Debug)]
pub struct Streams {
    pub(crate) side: Side,
    pub(crate) config: Config,
    /// Live streams by ID: every frame, write and acknowledgement looks its stream up,
    /// often several times, so the lookup is an index, not a hash (see `map.rs`).
    pub(crate) map: crate::map::StreamMap,
    pub(crate) pending: [VecDeque<(PendingId, Stream)>; 2],
    pub(crate) started: BTreeMap<PendingId, StreamId>,
    pub(crate) next_pending: u64,
    pub(crate) local: [LocalLimit; 2],
    pub(crate) remote: [RemoteLimit; 2],
    pub(crate) peer: PeerLimits,
    pub(crate) conn_send: SendCredit,
    pub(crate) conn_recv: RecvCredit,
    pub(crate) data_blocked_pending: Option<u64>,
    pub(crate) ctl: VecDeque<StreamId>,
    pub(crate) sched: Scheduler,
    pub(crate) events: crate::events::EventQueue,
    pub(crate) rtt: Duration,
    pub(crate) bdp: u64,
    pub(crate) now: Instant,
    /// Send-buffer segments released by acknowledgements, for the next writes.
    pub(crate) seg_pool: crate::send::SegmentPool,
    /// Allocations of freed streams, for the next streams (see [`RECYCLED_MIN`]).
    #[expect(
        clippy::vec_box,
        reason = "the boxes are what is kept: each is the allocation of a future stream"
    )]
    pub(crate) recycled: alloc::vec::Vec<Box<Stream>>,
}

/// [`Streams::write_cap`] from its parts, for callers that hold the stream borrowed.
pub(crate) fn write_cap(ideal: u64, floor: u64, h: &SendHalf) -> u64 {
    ideal.min(h.window.max(floor))
}

/// [`Streams::refresh`] for a stream the caller already holds (one hash lookup fewer):
/// its place in the scheduler, blocked signals and control frames. Returns whether the
/// stream is closed, in which case the caller frees it with [`Streams::free`].
pub(crate) fn refresh_stream(
    id: StreamId,
    s: &mut Stream,
    sched: &mut Scheduler,
    ctl: &mut VecDeque<StreamId>,
) -> bool {
    if let Some(h) = s.send.as_mut() {
        // RFC 9000 §4.1: a sender SHOULD send STREAM_DATA_BLOCKED when it has data to
        // send but is blocked by the stream's flow control.
        if h.state.may_send_data() && h.buf.sent() < h.buf.written() {
            h.credit.used = h.buf.sent();
            if let Some(limit) = h.credit.take_blocked() {
                h.blocked_pending = Some(limit);
            }
        }
    }
    let wants = s.send.as_ref().is_some_and(SendHalf::wants_to_send);
    match (wants, s.sched) {
        (true, Some(k)) if Scheduler::keeps(k, s.prio) => {}
        (true, cur) => s.sched = Some(sched.insert(id, s.prio, cur)),
        (false, Some(k)) => {
            sched.remove(k);
            s.sched = None;
        }
        (false, None) => {}
    }
    closed_or_queue_control(id, s, ctl)
}

/// The last part of every refresh: whether the stream is closed, and if it is not, its
/// place in the control-frame queue (taken once) when it has a control frame to send.
fn closed_or_queue_control(id: StreamId, s: &mut Stream, ctl: &mut VecDeque<StreamId>) -> bool {
    if s.is_closed() {
        return true;
    }
    if !s.ctl_queued && s.has_control() {
        s.ctl_queued = true;
        ctl.push_back(id);
    }
    false
}

/// [`refresh_stream`] after a change to the receiving half only (data received, data read):
/// the sending half, and with it the stream's place in the scheduler and its blocked
/// signal, is as the last full refresh left it, so only the end of the stream and its
/// control frames are looked at. Returns whether the stream is closed.
pub(crate) fn refresh_after_recv(
    id: StreamId,
    s: &mut Stream,
    ctl: &mut VecDeque<StreamId>,
) -> bool {
    debug_assert_eq!(
        s.sched.is_some(),
        s.send.as_ref().is_some_and(SendHalf::wants_to_send),
        "stream {id:?}: scheduler place out of date before a receive-side refresh"
    );
    closed_or_queue_control(id, s, ctl)
}

/// What a stream's send buffer takes for copying writes while the peer has given it no
/// credit (see [`Streams::write`]).
pub const CREDITLESS_BUFFER: u64 = 64 * 1024;

/// Freed streams kept for reuse: this many, or as many as are live when more are (a
/// connection that keeps N streams open churns through about N at a time, so each new one
/// finds an allocation), but never more than [`RECYCLED_MAX`]. When the streams close, the
/// pool shrinks with them back to this size, so an idle connection keeps little.
pub(crate) const RECYCLED_MIN: usize = 32;

/// The most freed streams kept for reuse, whatever the number of live streams.
pub(crate) const RECYCLED_MAX: usize = 256;

impl Streams {
    /// Streams for one endpoint of a connection. Until [`Streams::set_peer_limits`] is
    /// called, the peer allows nothing: streams can be opened (they wait) and written
    /// (the data waits).
    pub fn new(side: Side, config: Config) -> Self {
        Streams {
            side,
            config,
            map: crate::map::StreamMap::default(),
            pending: [VecDeque::new(), VecDeque::new()],
            started: BTreeMap::new(),
            next_pending: 0,
            local: [LocalLimit::default(); 2],
            remote: [
                RemoteLimit::new(config.max_concurrent_bidi),
                RemoteLimit::new(config.max_concurrent_uni),
            ],
            peer: PeerLimits::default(),
            conn_send: SendCredit::new(0),
            conn_recv: RecvCredit::new(config.conn_window, config.max_conn_window),
            data_blocked_pending: None,
            ctl: VecDeque::new(),
            sched: Scheduler::default(),
            events: crate::events::EventQueue::default(),
            rtt: Duration::from_millis(100),
            bdp: 0,
            now: Instant::ZERO,
            seg_pool: crate::send::SegmentPool::default(),
            recycled: alloc::vec::Vec::new(),
        }
    }

    /// Which side we are.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Writes our stream limits into our transport parameters.
    pub fn fill_transport_params(&self, tp: &mut quic_wire::TransportParameters) {
        let v = VarInt::from_u64_clamped;
        tp.initial_max_data = v(self.config.conn_window);
        tp.initial_max_stream_data_bidi_local = v(self.config.stream_window);
        tp.initial_max_stream_data_bidi_remote = v(self.config.stream_window);
        tp.initial_max_stream_data_uni = v(self.config.stream_window);
        tp.initial_max_streams_bidi = v(self.remote[0].sent);
        tp.initial_max_streams_uni = v(self.remote[1].sent);
    }

    /// Applies the peer's limits (its transport parameters, or remembered ones for 0-RTT).
    /// Limits only ever grow: existing streams get the larger credit, and pending streams
    /// start when stream credit allows.
    pub fn set_peer_limits(&mut self, p: PeerLimits) {
        self.peer = p;
        self.conn_send.raise(p.max_data);
        let mut ids: alloc::vec::Vec<StreamId> = self.map.keys().collect();
        // In ID order, so the scheduler and the events see the same sequence on every run.
        ids.sort_unstable_by_key(|id| id.into_inner());
        for id in ids {
            let initial = self.initial_send_credit(id);
            if let Some(s) = self.map.get_mut(&id).and_then(|s| s.send.as_mut()) {
                s.credit.raise(initial);
                s.note_credit();
            }
            self.maybe_writable(id);
            self.refresh(id);
        }
        self.local[0].raise(p.max_streams_bidi);
        self.local[1].raise(p.max_streams_uni);
        self.start_pending();
    }

    /// Sets the current smoothed RTT, used by window auto-tuning.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// Sets the connection's bandwidth-delay product in bytes (congestion window is a good
    /// estimate); the ideal send buffer follows it.
    pub fn set_bdp(&mut self, bytes: u64) {
        self.bdp = bytes;
    }

    /// How much a stream's send buffer holds before copying writes come up short: the
    /// bandwidth-delay product (so one stream can keep the path full), at least
    /// `Config::send_buffer`, at most `Config::max_send_buffer`.
    pub fn ideal_send_buffer(&self) -> u64 {
        self.bdp
            .max(self.config.send_buffer)
            .min(self.config.max_send_buffer.max(self.config.send_buffer))
    }

    /// The most a stream's send buffer holds for copying writes: the ideal size
    /// ([`Streams::ideal_send_buffer`]), but no more than the peer's window for the stream
    /// (the most credit it has granted beyond our acknowledged data), as more could only
    /// wait. A stream without credit yet (pending, or before the peer's transport
    /// parameters) still takes up to [`CREDITLESS_BUFFER`] (or `Config::send_buffer` if
    /// smaller).
    pub(crate) fn write_cap(&self, h: &SendHalf) -> u64 {
        write_cap(self.ideal_send_buffer(), self.credit_floor(), h)
    }

    /// What a stream takes for copying writes whatever its credit.
    pub(crate) fn credit_floor(&self) -> u64 {
        self.config.send_buffer.min(CREDITLESS_BUFFER)
    }

    /// After the send buffer of stream `id` got room (acknowledgements, more credit): tell
    /// the application with [`StreamEvent::Writable`] if a write came up short.
    pub(crate) fn maybe_writable(&mut self, id: StreamId) {
        let Some(h) = self.map.get(&id).and_then(|s| s.send.as_ref()) else {
            return;
        };
        let ready = h.want_writable
            && h.state.may_send_data()
            && !h.buf.is_finished()
            && h.buf.held() < self.write_cap(h);
        if ready {
            if let Some(h) = self.map.get_mut(&id).and_then(|s| s.send.as_mut()) {
                h.want_writable = false;
            }
            self.events.push_back(StreamEvent::Writable { id });
        }
    }

    /// Whether [`Streams::poll_event`] has an event to give: a cheap check for callers that
    /// poll often and mostly find nothing.
    #[inline]
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event, if any.
    #[inline]
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        let e = self.events.pop_front()?;
        if let StreamEvent::Reset { id, .. } = e {
            self.reset_polled(id);
        }
        Some(e)
    }

    /// The application polled the [`StreamEvent::Reset`] of stream `id`.
    #[cold]
    fn reset_polled(&mut self, id: StreamId) {
        // RFC 9000 §3.2: the application has now read the reset.
        if let Some(r) = self.map.get_mut(&id).and_then(|s| s.recv.as_mut()) {
            r.apply(RecvEvent::AppReadReset);
        }
        self.refresh(id);
    }

    /// Number of live streams (with an ID).
    pub fn stream_count(&self) -> usize {
        self.map.len()
    }

    /// Number of locally opened streams waiting for stream credit.
    pub fn pending_count(&self) -> usize {
        self.pending[0].len() + self.pending[1].len()
    }

    pub(crate) fn is_local(&self, id: StreamId) -> bool {
        id.initiator() == self.side
    }

    /// The peer's initial MAX_STREAM_DATA for a stream (RFC 9000 §18.2).
    pub(crate) fn initial_send_credit(&self, id: StreamId) -> u64 {
        match (self.is_local(id), id.dir()) {
            (true, Dir::Bi) => self.peer.stream_data_bidi_remote,
            (true, Dir::Uni) => self.peer.stream_data_uni,
            (false, _) => self.peer.stream_data_bidi_local,
        }
    }

    /// What the halves of a new stream `id` start from: the peer's credit for a sending
    /// half, our window and largest window for a receiving half (`None`: no such half).
    fn halves_of(&self, id: StreamId) -> (Option<u64>, Option<(u64, u64)>) {
        let local = self.is_local(id);
        let send = (id.dir() == Dir::Bi || local).then(|| self.initial_send_credit(id));
        let recv = (id.dir() == Dir::Bi || !local)
            .then_some((self.config.stream_window, self.config.max_stream_window));
        (send, recv)
    }

    /// A new stream `id` on the heap: a freed stream renewed in place when one is kept.
    pub(crate) fn new_boxed(&mut self, id: StreamId) -> Box<Stream> {
        let (send, recv) = self.halves_of(id);
        match self.recycled.pop() {
            Some(mut s) => {
                s.renew(send, recv);
                s
            }
            None => Box::new(Stream::new(
                send.map(SendHalf::new),
                recv.map(|(w, m)| RecvHalf::new(w, m)),
            )),
        }
    }

    /// `s` on the heap, in a freed stream's allocation when one is kept.
    pub(crate) fn boxed(&mut self, s: Stream) -> Box<Stream> {
        match self.recycled.pop() {
            Some(old) => s.into_recycled(old),
            None => Box::new(s),
        }
    }

    /// The stream a peer frame refers to, opening peer streams as needed.
    ///
    /// `Ok(None)`: the stream existed and was freed; the frame is late and ignored.
    pub(crate) fn stream_for_frame(
        &mut self,
        id: StreamId,
    ) -> Result<Option<&mut Stream>, TransportError> {
        self.open_for_frame(id)?;
        Ok(self.map.get_mut(&id).map(|s| &mut **s))
    }

    /// The checks and peer-stream openings of [`Streams::stream_for_frame`], without
    /// looking the stream up.
    #[inline]
    pub(crate) fn open_for_frame(&mut self, id: StreamId) -> Result<(), TransportError> {
        let d = dir_index(id.dir());
        let local = self.is_local(id);
        // The usual case, checked inline: an existing stream (or a freed one) of either
        // side. A peer stream below `opened` is below the limit we sent too.
        let existing = if local {
            self.local[d].next
        } else {
            self.remote[d].opened
        };
        if id.index() < existing {
            return Ok(());
        }
        self.open_new_for_frame(id)
    }

    /// [`Streams::open_for_frame`] for a stream that does not exist yet.
    #[inline(never)]
    fn open_new_for_frame(&mut self, id: StreamId) -> Result<(), TransportError> {
        let d = dir_index(id.dir());
        if self.is_local(id) {
            // RFC 9000 §19.8, §19.10, §19.13, §19.5: a frame for a locally initiated stream
            // that has not yet been created is a STREAM_STATE_ERROR.
            if id.index() >= self.local[d].next {
                return Err(TransportError::new(
                    TransportErrorCode::STREAM_STATE_ERROR,
                    "frame for a stream we have not opened",
                ));
            }
        } else {
            let opened = self.remote[d].open(id.index())?;
            for index in opened {
                let Some(new_id) = StreamId::new(id.initiator(), id.dir(), index) else {
                    continue;
                };
                let s = self.new_boxed(new_id);
                self.map.insert(new_id, s);
                self.events.push_back(StreamEvent::Opened { id: new_id });
            }
        }
        Ok(())
    }

    /// Starts pending local streams while the peer's limits allow.
    pub(crate) fn start_pending(&mut self) {
        for dir in DIRS {
            let d = dir_index(dir);
            while self.local[d].can_open() {
                let Some((pid, mut s)) = self.pending[d].pop_front() else {
                    break;
                };
                let Some(id) = StreamId::new(self.side, dir, self.local[d].next) else {
                    break;
                };
                self.local[d].next += 1;
                let credit = self.initial_send_credit(id);
                if let Some(h) = s.send.as_mut() {
                    h.credit.raise(credit);
                    h.note_credit();
                }
                s.sched = None;
                s.pending_id = Some(pid);
                let s = self.boxed(s);
                self.map.insert(id, s);
                self.started.insert(pid, id);
                self.events
                    .push_back(StreamEvent::Started { pending: pid, id });
                self.maybe_writable(id);
                self.refresh(id);
            }
        }
    }

    /// Brings derived state up to date after anything changed on stream `id`: its place
    /// in the scheduler, blocked signals, control frames, and freeing it once closed.
    pub(crate) fn refresh(&mut self, id: StreamId) {
        let Some(s) = self.map.get_mut(&id) else {
            return;
        };
        if refresh_stream(id, s, &mut self.sched, &mut self.ctl) {
            self.free(id);
        }
    }

    /// Frees a closed stream; a peer stream returns its stream credit.
    pub(crate) fn free(&mut self, id: StreamId) {
        let Some(s) = self.map.remove(&id) else {
            return;
        };
        if let Some(k) = s.sched {
            self.sched.remove(k);
        }
        if let Some(p) = s.pending_id {
            self.started.remove(&p);
        }
        if !self.is_local(id) {
            self.remote[dir_index(id.dir())].on_freed();
        }
        self.events
            .push_back(StreamEvent::Closed { id, stats: s.stats });
        let keep = self.map.len().clamp(RECYCLED_MIN, RECYCLED_MAX);
        if self.recycled.len() < keep {
            let mut s = s;
            s.release_contents();
            if self.recycled.capacity() == 0 {
                self.recycled.reserve_exact(RECYCLED_MIN);
            }
            self.recycled.push(s);
        } else {
            // One stream fewer is live: the pool follows it down (one per freed stream).
            self.recycled.truncate(keep);
            if self.recycled.len() <= RECYCLED_MIN && self.recycled.capacity() > 2 * RECYCLED_MIN {
                self.recycled.shrink_to(RECYCLED_MIN);
            }
        }
    }

    /// Releases `n` bytes of connection credit (consumed or discarded) and queues
    /// MAX_DATA when worthwhile.
    pub(crate) fn conn_consumed(&mut self, n: u64) {
        if n > 0 {
            self.conn_recv.on_consumed(n, self.now, self.rtt);
        }
    }

    /// Whether there is anything for [`Streams::write_frames`] to write: control frames
    /// or stream data. May be true while the data is held back by connection flow control.
    pub fn wants_to_send(&self) -> bool {
        self.conn_recv.update_pending
            || self.data_blocked_pending.is_some()
            || self.remote.iter().any(|r| r.update_pending)
            || self.local.iter().any(|l| l.blocked_pending)
            || !self.ctl.is_empty()
            || !self.sched.is_empty()
    }
}
