//! The glue to quic-recovery: ACK frames in, acknowledged and lost packets' records out
//! to the streams and CRYPTO buffers, and the connection's timers.

use quic_recovery::{RecoverySink, SentPacket, TimeoutAction};
use quic_streams::{FrameRecord, Streams};
use quic_wire::frame::AckFrame;
use quic_wire::{Instant, Space, TransportError};

use super::records::{AckedAcks, Record, Records};
use super::{Connection, SpaceCrypto, State, Timer};

/// Hands acknowledged and lost frames to their owners.
struct Sink<'a> {
    streams: &'a mut Streams,
    spaces: &'a mut [SpaceCrypto; 3],
    handshake_done_pending: &'a mut bool,
    handshake_done_acked: &'a mut bool,
    retire_queue: &'a mut alloc::collections::VecDeque<u64>,
    /// Refused 0-RTT packets: their frames were already handed back.
    void: &'a super::zero_rtt::ZeroRtt,
    challenge: &'a mut Option<super::migration::Challenge>,
    local_cids: &'a mut super::local_cids::LocalCids,
    /// Outcome of a path MTU probe (at most one is in flight).
    mtu_acked: Option<u16>,
    mtu_lost: Option<u16>,
    acked_acks: AckedAcks,
    /// Our ACK_FREQUENCY requests, told which of their packets arrived or were lost.
    ack_frequency: Option<&'a mut quic_recovery::AckFrequencySender>,
    now: Instant,
    /// Acknowledged stream data not yet handed to the streams: consecutive packets mostly
    /// carry consecutive data of one stream, handed over as one range (see
    /// [`Sink::stream_acked`]).
    pending: Option<AckedRange>,
    /// Where lost packets are reported.
    #[cfg(feature = "qlog")]
    qlog: &'a mut crate::qlog::Qlog,
}

/// Acknowledged data of one stream: `len` bytes from `offset`, ending with FIN when `fin`.
#[derive(Debug, Clone, Copy)]
struct AckedRange {
    id: quic_wire::StreamId,
    offset: u64,
    len: u64,
    fin: bool,
}

impl Sink<'_> {
    /// A STREAM frame was acknowledged: it extends the pending range when it continues it,
    /// else the pending range goes to the streams and this one waits. The streams see the
    /// same bytes acknowledged, in the same order, in fewer calls.
    fn stream_acked(&mut self, id: quic_wire::StreamId, offset: u64, len: u32, fin: bool) {
        if let Some(p) = self.pending.as_mut() {
            if p.id == id && !p.fin && p.offset + p.len == offset {
                p.len += u64::from(len);
                p.fin = fin;
                return;
            }
        }
        self.flush();
        self.pending = Some(AckedRange {
            id,
            offset,
            len: u64::from(len),
            fin,
        });
    }

    /// One record of an acknowledged packet of `space`, to its owner.
    fn record_acked(&mut self, space: Space, r: Record) {
        match r {
            Record::Stream(FrameRecord::Stream {
                id,
                offset,
                len,
                fin,
            }) => self.stream_acked(id, offset, len, fin),
            Record::Stream(f) => {
                self.flush();
                self.streams.on_frame_acked(f, self.now);
            }
            Record::Ack(largest) => self.acked_acks.note(space, largest),
            Record::Crypto { offset, len } => {
                if let Some(s) = self.spaces.get_mut(space as usize) {
                    s.send.on_acked(offset, len);
                }
            }
            Record::MtuProbe(size) => self.mtu_acked = Some(size),
            Record::AckFrequency(seq) => {
                if let Some(af) = self.ack_frequency.as_deref_mut() {
                    af.on_acked(seq);
                }
            }
            Record::HandshakeDone => *self.handshake_done_acked = true,
            Record::RetireCid(_)
            | Record::PathChallenge(_)
            | Record::NewCid(_)
            | Record::NewToken => {}
        }
    }

    /// Hands the pending acknowledged range to the streams: before any other stream news
    /// (so the order is kept) and once the ACK frame is done.
    fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            self.streams
                .on_stream_data_acked(p.id, p.offset, p.len, p.fin, self.now);
        }
    }
}

impl RecoverySink<Records> for Sink<'_> {
    fn on_acked(&mut self, space: Space, packet: &SentPacket<Records>) {
        if space == Space::Data && self.void.is_void(packet.pn) {
            return;
        }
        let (inline, more) = packet.frames.as_slices();
        for &r in inline {
            self.record_acked(space, r);
        }
        for &r in more {
            self.record_acked(space, r);
        }
    }

    fn on_lost(&mut self, space: Space, packet: SentPacket<Records>) {
        if space == Space::Data && self.void.is_void(packet.pn) {
            return;
        }
        // What was acknowledged is known before a loss asks what to send again.
        self.flush();
        #[cfg(feature = "qlog")]
        super::qlog::packet_lost(self.qlog, self.now, space, packet.pn);
        for r in packet.frames.iter() {
            match r {
                Record::Stream(f) => self.streams.on_frame_lost(f, self.now),
                Record::Crypto { offset, len } => {
                    if let Some(s) = self.spaces.get_mut(space as usize) {
                        if s.local.is_some() {
                            s.send.on_lost(offset, len);
                        }
                    }
                }
                Record::HandshakeDone => *self.handshake_done_pending = true,
                Record::MtuProbe(size) => self.mtu_lost = Some(size),
                Record::NewCid(seq) => {
                    let l = &mut *self.local_cids;
                    if l.frame(seq).is_some() && !l.to_send.contains(&seq) {
                        l.to_send.push_back(seq);
                    }
                }
                Record::PathChallenge(data) => {
                    if let Some(c) = self.challenge.as_mut().filter(|c| c.data == data) {
                        c.pending = true;
                    }
                }
                Record::RetireCid(seq) => {
                    if !self.retire_queue.contains(&seq) {
                        self.retire_queue.push_back(seq);
                    }
                }
                Record::AckFrequency(seq) => {
                    if let Some(af) = self.ack_frequency.as_deref_mut() {
                        af.on_lost(seq);
                    }
                }
                Record::Ack(_) | Record::NewToken => {}
            }
        }
    }
}

impl Connection {
    /// An ACK frame arrived in `space` (RFC 9002 A.7).
    pub(crate) fn on_ack(
        &mut self,
        now: Instant,
        space: Space,
        ack: &AckFrame<'_>,
    ) -> Result<(), TransportError> {
        let Connection {
            paths,
            streams,
            spaces,
            handshake_done_pending,
            handshake_done_acked,
            peer_cids,
            zero_rtt,
            challenge,
            local_cids,
            ack_frequency,
            #[cfg(feature = "qlog")]
            qlog,
            ..
        } = self;
        let Some(path) = paths.first_mut() else {
            return Ok(());
        };
        let mut sink = Sink {
            streams,
            spaces,
            handshake_done_pending,
            handshake_done_acked,
            retire_queue: &mut peer_cids.retire_queue,
            void: zero_rtt,
            challenge,
            local_cids,
            mtu_acked: None,
            mtu_lost: None,
            acked_acks: AckedAcks::default(),
            ack_frequency: ack_frequency.as_deref_mut(),
            now,
            pending: None,
            #[cfg(feature = "qlog")]
            qlog,
        };
        let summary = path.recovery.on_ack_received(now, space, ack, &mut sink);
        sink.flush();
        let summary = summary?;
        // RFC 9000 §13.4.2.1: an ACK newly acknowledging ECT-marked packets without ECN
        // counts fails ECN validation (every packet we send is marked while enabled).
        if summary.newly_acked > 0 && ack.ecn().is_none() {
            self.ecn_failed = true;
        }
        let acked = sink.acked_acks;
        let (mtu_acked, mtu_lost) = (sink.mtu_acked, sink.mtu_lost);
        // ack-frequency §7: PTO allows for the largest max_ack_delay the peer may be using.
        if let Some(af) = ack_frequency.as_deref() {
            path.recovery
                .set_peer_max_ack_delay(af.max_ack_delay_for_pto());
        }
        for s in [Space::Initial, Space::Handshake, Space::Data] {
            if let Some(largest) = acked.largest.get(s as usize).copied().flatten() {
                if let Some(t) = path.recovery.ack_tracker(s) {
                    t.on_ack_frame_acked(largest);
                }
            }
        }
        self.streams.set_rtt(path.recovery.rtt().smoothed());
        self.streams.set_bdp(path.recovery.window());
        if space == Space::Data {
            self.note_phase_acked();
        }
        self.on_mtu_probe(mtu_acked, mtu_lost);
        #[cfg(feature = "qlog")]
        if summary.newly_acked > 0 {
            self.qlog_metrics(now);
        }
        Ok(())
    }

    /// The next time [`Connection::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !matches!(self.state, State::Handshaking | State::Established) {
            // Closing or draining: only the end of that period is served (see
            // `handle_timeout`); reporting another timer left set (pacing, key discard,
            // idle) would hand the driver a deadline that never clears, and it would spin.
            return self.timers.get(Timer::Close);
        }
        let mut best = self.timers.earliest();
        let recovery = self.paths.first().and_then(|p| {
            // An ACK owed while the anti-amplification budget is spent cannot go before
            // more bytes arrive (an input of its own): only the loss timer counts then,
            // so a driver never spins on a deadline that cannot be served.
            if p.amplification_budget() < super::send::MIN_PACKET_ROOM as u64 {
                p.recovery.loss_detection_timer()
            } else {
                p.recovery.poll_timeout()
            }
        });
        if let Some((t, _)) = recovery {
            best = Some(best.map_or(t, |b| b.min(t)));
        }
        best
    }

    /// Time passed: fires every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(at) = self.timers.get(Timer::Close) {
            if at <= now {
                self.drain(None);
                return;
            }
        }
        if !matches!(self.state, State::Handshaking | State::Established) {
            return;
        }
        if self.timers.get(Timer::Idle).is_some_and(|at| at <= now) {
            // RFC 9000 §10.1: the connection is silently closed and its state discarded.
            #[cfg(feature = "qlog")]
            self.qlog_closed(now, &super::ConnectionError::TimedOut);
            self.drain(Some(super::ConnectionError::TimedOut));
            return;
        }
        if self
            .timers
            .get(Timer::KeepAlive)
            .is_some_and(|at| at <= now)
        {
            self.timers.set(Timer::KeepAlive, None);
            if self.handshake_complete {
                self.ping_pending = true;
            }
        }
        if self.timers.get(Timer::Pacing).is_some_and(|at| at <= now) {
            self.timers.set(Timer::Pacing, None);
        }
        if self
            .timers
            .get(Timer::KeyDiscard)
            .is_some_and(|at| at <= now)
        {
            self.discard_old_key();
        }
        if self
            .timers
            .get(Timer::PathValidation)
            .is_some_and(|at| at <= now)
        {
            self.on_path_timeout(now);
        }
        self.on_recovery_timeout(now);
    }

    fn on_recovery_timeout(&mut self, now: Instant) {
        let Connection {
            paths,
            streams,
            spaces,
            handshake_done_pending,
            handshake_done_acked,
            peer_cids,
            zero_rtt,
            challenge,
            local_cids,
            ack_frequency,
            #[cfg(feature = "qlog")]
            qlog,
            ..
        } = self;
        let Some(path) = paths.first_mut() else {
            return;
        };
        let mut sink = Sink {
            streams,
            spaces,
            handshake_done_pending,
            handshake_done_acked,
            retire_queue: &mut peer_cids.retire_queue,
            void: zero_rtt,
            challenge,
            local_cids,
            mtu_acked: None,
            mtu_lost: None,
            acked_acks: AckedAcks::default(),
            ack_frequency: ack_frequency.as_deref_mut(),
            now,
            pending: None,
            #[cfg(feature = "qlog")]
            qlog,
        };
        // A probe is owed through `probes_owed`, which `poll_transmit` honours.
        let action = path.recovery.on_timeout(now, &mut sink);
        sink.flush();
        let (mtu_acked, mtu_lost) = (sink.mtu_acked, sink.mtu_lost);
        // ack-frequency §7: PTO allows for the largest max_ack_delay the peer may be using.
        if let Some(af) = ack_frequency.as_deref() {
            path.recovery
                .set_peer_max_ack_delay(af.max_ack_delay_for_pto());
        }
        if let Some(TimeoutAction::Probe { space, count }) = action {
            // RFC 9002 §6.2.4: a probe should carry data; resend unacknowledged CRYPTO
            // data of the space if there is any, PING otherwise.
            if let Some(s) = self.spaces.get_mut(space as usize) {
                s.send.requeue_unacked();
            }
            if space == Space::Data {
                self.probe_with_old_data(now, count);
            }
            // RFC 9000 §13.3: "HANDSHAKE_DONE frames MUST be retransmitted until they are
            // acknowledged." Loss detection alone needs acknowledgements of later packets;
            // when those are lost too, only the probe can carry it (the client, not
            // confirmed, probes in the Handshake space the server has discarded).
            if space == Space::Data
                && self.side == quic_wire::Side::Server
                && self.handshake_confirmed
                && !self.handshake_done_acked
            {
                self.handshake_done_pending = true;
            }
        }
        self.on_mtu_probe(mtu_acked, mtu_lost);
        if matches!(action, Some(TimeoutAction::Probe { .. })) {
            self.check_black_hole();
        }
    }

    /// RFC 9002 §6.2.4: "An endpoint SHOULD include new data in packets that are sent on
    /// PTO expiration. Previously sent data MAY be sent if no new data can be sent." With
    /// no new stream data waiting, the STREAM frames of the oldest unacknowledged packets
    /// (one per probe owed) are queued again, so the probe repairs the tail instead of
    /// only eliciting an ACK. Whichever copy is acknowledged first settles the range.
    fn probe_with_old_data(&mut self, now: Instant, count: u8) {
        if self.streams.wants_to_send() {
            return;
        }
        let Connection {
            paths,
            streams,
            zero_rtt,
            ..
        } = self;
        let Some(sent) = paths
            .first()
            .and_then(|p| p.recovery.sent_packets(Space::Data))
        else {
            return;
        };
        for p in sent
            .unacked()
            .filter(|p| p.ack_eliciting && !zero_rtt.is_void(p.pn))
            .take(usize::from(count.max(1)))
        {
            for r in p.frames.iter() {
                if let Record::Stream(f) = r {
                    streams.on_frame_lost(f, now);
                }
            }
        }
    }
}
