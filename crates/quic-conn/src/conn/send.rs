//! Transmitting: one datagram per `poll_transmit`, built straight into the caller's
//! buffer as coalesced Initial, Handshake and 1-RTT packets (RFC 9000 §12.2), within the
//! path MTU, the anti-amplification budget (§8.1), the congestion window and the pacer
//! (RFC 9002 §7).

use quic_wire::frame::DatagramFrameHeader;
use quic_wire::packet::{LongHeader, PacketBuilder, ShortHeader};
use quic_wire::{Frame, Instant, PacketNumber, PacketType, Side, Space, VarInt};

use super::control::Control;
use super::records::{Record, Records};
use super::{Connection, State, Timer};
use crate::io::Transmit;

/// RFC 9000 §14.1: datagrams carrying client Initials (and ack-eliciting server
/// Initials) are padded to at least this size.
const MIN_INITIAL_DATAGRAM: usize = 1200;

/// The packets of a datagram, in the order they are coalesced (RFC 9000 §12.2).
const SLOTS: [PacketType; 4] = [
    PacketType::Initial,
    PacketType::ZeroRtt,
    PacketType::Handshake,
    PacketType::OneRtt,
];

/// Datagrams in one GSO batch at most.
const MAX_SEGMENTS: usize = 64;

/// No packet is started in less room than this.
pub(crate) const MIN_PACKET_ROOM: usize = 48;

/// What a built packet was.
pub(crate) struct Built {
    pub(crate) len: usize,
    pub(crate) ack_eliciting: bool,
    pub(crate) pn: Option<u64>,
}

impl Connection {
    /// Writes the next datagram into `buf` and describes it, or returns `None` when
    /// nothing may be sent now (then wait for a datagram or [`Connection::poll_timeout`]).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        // Paths other than the active one (RFC 9000 §8.2): probes and responses.
        if let Some(t) = self.write_probe(now, buf) {
            return Some(t);
        }
        let first = self.write_one(now, buf)?;
        let mut size = first;
        let mut segments = 1;
        // GSO: with room for more, further full-size datagrams follow back to back, each
        // within its own segment; a shorter one ends the batch.
        let full = self.paths.first().map(|p| usize::from(p.mtu)) == Some(first);
        if full && matches!(self.state, State::Handshaking | State::Established) {
            while segments < MAX_SEGMENTS {
                let Some(segment) = buf.get_mut(size..size + first) else {
                    break;
                };
                let Some(n) = self.write_datagram(now, segment) else {
                    break;
                };
                self.count_sent(n);
                size += n;
                segments += 1;
                if n < first {
                    break;
                }
            }
        }
        let ecn = if self.ecn_enabled() {
            quic_wire::Ecn::Ect0
        } else {
            quic_wire::Ecn::NotEct
        };
        let path = self.paths.first()?;
        Some(Transmit {
            destination: path.remote,
            source: Some(path.local),
            ecn,
            size,
            segment_size: (segments > 1).then_some(first),
            send_at: None,
        })
    }

    /// Writes one datagram, whatever the state calls for.
    fn write_one(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let n = match self.state {
            State::Drained | State::Draining => return None,
            State::Closing => self.write_close(now, buf)?,
            State::Handshaking | State::Established => match self.write_mtu_probe(now, buf) {
                Some(n) => n,
                None => self.write_datagram(now, buf)?,
            },
        };
        self.count_sent(n);
        Some(n)
    }

    fn count_sent(&mut self, n: usize) {
        if let Some(path) = self.paths.first_mut() {
            path.bytes_sent += n as u64;
        }
        self.stats.datagrams_sent += 1;
        self.stats.bytes_sent += n as u64;
    }

    /// Whether packets are marked ECT(0) (RFC 9000 §13.4): configured, and validation has
    /// not failed.
    fn ecn_enabled(&self) -> bool {
        self.config.ecn
            && !self.ecn_failed
            && self.paths.first().is_some_and(|p| !p.recovery.ecn_failed())
    }

    /// The room for the next datagram: MTU, caller's buffer and anti-amplification budget.
    fn datagram_room(&mut self, now: Instant, buf_len: usize) -> Option<usize> {
        let path = self.paths.first_mut()?;
        let budget = usize::try_from(path.amplification_budget()).unwrap_or(usize::MAX);
        let room = buf_len.min(usize::from(path.mtu)).min(budget);
        if room < MIN_PACKET_ROOM {
            if budget < MIN_PACKET_ROOM {
                // RFC 9002 §6.2.2.1: no PTO while blocked by the amplification limit.
                path.recovery.set_amplification_limited(now, true);
            }
            return None;
        }
        Some(room)
    }

    fn write_datagram(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.space(Space::Initial).local.is_none()
            && self.space(Space::Handshake).local.is_none()
            && self.space(Space::Data).local.is_some()
        {
            return self.write_one_rtt_datagram(now, buf);
        }
        let room = self.datagram_room(now, buf.len())?;
        // What each space wants to send with data allowed, as far as `may_send_data`
        // found out: still true until a packet of this datagram is built.
        let mut known = [None; 3];
        let may_send_data = self.may_send_data(now, room, &mut known);
        let buf = buf.get_mut(..room)?;
        let mut off = 0;
        let mut pad_datagram = false;
        let mut eliciting = false;
        let mut fresh = true;
        for slot in SLOTS {
            let cached = (fresh && may_send_data).then_some(&known);
            if !self.slot_wants_known(now, slot, may_send_data, cached) {
                continue;
            }
            // RFC 9000 §8.2.1, §8.2.2: datagrams with PATH_CHALLENGE or PATH_RESPONSE are
            // expanded to 1200 bytes (within the anti-amplification budget, which bounds
            // `buf`).
            if slot == PacketType::OneRtt
                && (self.challenge.is_some_and(|c| c.pending) || !self.path_responses.is_empty())
            {
                pad_datagram = true;
            }
            if slot == PacketType::Initial
                && (self.side == Side::Client
                    || self.space(Space::Initial).send.has_pending()
                    || self.probes_owed(Space::Initial))
            {
                pad_datagram = true;
            }
            let later = SLOTS
                .into_iter()
                .skip_while(|&s| s != slot)
                .skip(1)
                .any(|s| self.slot_wants_known(now, s, may_send_data, cached));
            // The last packet of a datagram that must be padded carries the padding.
            let pad = (pad_datagram && !later).then(|| MIN_INITIAL_DATAGRAM.saturating_sub(off));
            let Some(rest) = buf.get_mut(off..) else {
                break;
            };
            if rest.len() < MIN_PACKET_ROOM {
                break;
            }
            fresh = false;
            let built = match slot.space() {
                _ if slot == PacketType::ZeroRtt => self.build_zero_rtt(now, rest, pad),
                Some(space) => self.build_packet(now, space, rest, may_send_data, pad),
                None => None,
            };
            if let (Some(b), Some(space)) = (built, slot.space()) {
                off += b.len;
                eliciting |= b.ack_eliciting;
                if slot != PacketType::ZeroRtt {
                    self.on_built(now, space, &b);
                } else {
                    self.stats.packets_sent += 1;
                    #[cfg(feature = "qlog")]
                    if let Some(pn) = b.pn {
                        self.qlog_packet_sent(now, PacketType::ZeroRtt, pn, b.len);
                    }
                }
            }
        }
        if pad_datagram {
            // The packet meant to carry the padding may not have fitted after the others.
            off = pad_with_invalid(buf, off);
        }
        if may_send_data && !eliciting {
            // RFC 9002 §7.8: the window had room and nothing used it.
            if let Some(p) = self.paths.first_mut() {
                p.recovery.on_app_limited();
            }
        }
        (off > 0).then_some(off)
    }

    /// [`Connection::write_datagram`] once only 1-RTT packets can be sent (the Initial and
    /// Handshake keys are gone, and 0-RTT never goes with 1-RTT keys): the same datagram,
    /// without looking at the other packet types each time.
    fn write_one_rtt_datagram(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let room = self.datagram_room(now, buf.len())?;
        let mut known = [None; 3];
        let may_send_data = self.may_send_data_in(&[Space::Data], now, room, &mut known);
        let cached = known.get(Space::Data as usize).copied().flatten();
        let wants = match cached {
            Some(w) if may_send_data => w,
            _ => self.wants_to_send(now, Space::Data, may_send_data),
        };
        let mut eliciting = false;
        let mut len = 0;
        if wants {
            // RFC 9000 §8.2.1, §8.2.2: datagrams with PATH_CHALLENGE or PATH_RESPONSE are
            // expanded to 1200 bytes (within the anti-amplification budget, which bounds
            // `buf`).
            let pad = (self.challenge.is_some_and(|c| c.pending)
                || !self.path_responses.is_empty())
            .then_some(MIN_INITIAL_DATAGRAM);
            let buf = buf.get_mut(..room)?;
            if buf.len() >= MIN_PACKET_ROOM {
                if let Some(b) = self.build_packet(now, Space::Data, buf, may_send_data, pad) {
                    len = b.len;
                    eliciting = b.ack_eliciting;
                    self.on_built(now, Space::Data, &b);
                }
            }
        }
        if may_send_data && !eliciting {
            // RFC 9002 §7.8: the window had room and nothing used it.
            if let Some(p) = self.paths.first_mut() {
                p.recovery.on_app_limited();
            }
        }
        (len > 0).then_some(len)
    }

    fn probes_owed(&self, space: Space) -> bool {
        self.paths
            .first()
            .is_some_and(|p| p.recovery.probes_owed(space) > 0)
    }

    /// Whether congestion control and pacing let an ack-eliciting packet go now.
    /// Notes in `known` what each space it asked wants to send (with data allowed).
    fn may_send_data(&mut self, now: Instant, room: usize, known: &mut [Option<bool>; 3]) -> bool {
        self.may_send_data_in(&Space::ALL, now, room, known)
    }

    /// [`Connection::may_send_data`] looking at `spaces` only: the others have no keys, so
    /// nothing to send and no probe owed (their recovery state went with the keys).
    fn may_send_data_in(
        &mut self,
        spaces: &[Space],
        now: Instant,
        room: usize,
        known: &mut [Option<bool>; 3],
    ) -> bool {
        if spaces.iter().any(|&s| self.probes_owed(s)) {
            return true; // RFC 9002 §6.2.4: probes ignore the congestion window.
        }
        let Some(path) = self.paths.first_mut() else {
            return false;
        };
        if !path.recovery.can_send(room as u64) {
            return false;
        }
        // Only consult the pacer when something is waiting, so an idle connection sets no
        // pacing timer.
        let mut waiting = false;
        for &s in spaces {
            let wants = self.wants_to_send(now, s, true);
            if let Some(k) = known.get_mut(s as usize) {
                *k = Some(wants);
            }
            if wants {
                waiting = true;
                break;
            }
        }
        if !waiting {
            return true;
        }
        let Some(path) = self.paths.first_mut() else {
            return false;
        };
        let release = path.recovery.send_time(now, room as u64);
        if release > now {
            self.timers.set(Timer::Pacing, Some(release));
            return false;
        }
        true
    }

    /// [`Connection::slot_wants`], taken from `known` (what each space wants with data
    /// allowed) when given and known.
    fn slot_wants_known(
        &mut self,
        now: Instant,
        slot: PacketType,
        may_send_data: bool,
        known: Option<&[Option<bool>; 3]>,
    ) -> bool {
        if slot != PacketType::ZeroRtt {
            if let Some(&Some(w)) = slot
                .space()
                .and_then(|s| known.and_then(|k| k.get(s as usize)))
            {
                return w;
            }
        }
        self.slot_wants(now, slot, may_send_data)
    }

    fn slot_wants(&mut self, now: Instant, slot: PacketType, may_send_data: bool) -> bool {
        match slot.space() {
            _ if slot == PacketType::ZeroRtt => self.wants_zero_rtt(may_send_data),
            Some(space) => self.wants_to_send(now, space, may_send_data),
            None => false,
        }
    }

    /// Whether `space` has anything to send now.
    fn wants_to_send(&mut self, now: Instant, space: Space, may_send_data: bool) -> bool {
        let sc = self.space(space);
        if sc.local.is_none() {
            return false;
        }
        let crypto = sc.send.has_pending();
        let probe = self.probes_owed(space);
        let ack_due = self
            .paths
            .first_mut()
            .and_then(|p| p.recovery.ack_tracker(space))
            .is_some_and(|t| t.is_due(now));
        if ack_due || probe || self.raw_frames.as_ref().is_some_and(|(s, _)| *s == space) {
            return true;
        }
        if !may_send_data {
            return false;
        }
        if crypto {
            return true;
        }
        space == Space::Data
            && (self.handshake_done_pending
                || self.ping_pending
                || !self.path_responses.is_empty()
                || !self.peer_cids.retire_queue.is_empty()
                || self.challenge.is_some_and(|c| c.pending)
                || !self.local_cids.to_send.is_empty()
                || (self.handshake_confirmed && self.new_token.is_some())
                || !self.datagrams_out.is_empty()
                || self.streams.wants_to_send())
    }

    /// Whether to clear the fixed bit of the next packet (RFC 9287 §3): only once the
    /// peer advertised grease_quic_bit, and never in Initial packets.
    fn grease_fixed_bit(&mut self, space: Space) -> bool {
        space != Space::Initial
            && self.peer_params.as_ref().is_some_and(|p| p.grease_quic_bit)
            && self.rng.next_u32() & 1 == 0
    }

    /// Builds one packet of `space` at the start of `buf`. With `pad`, the packet is
    /// padded to that length and is never empty.
    fn build_packet(
        &mut self,
        now: Instant,
        space: Space,
        buf: &mut [u8],
        may_send_data: bool,
        pad: Option<usize>,
    ) -> Option<Built> {
        let fixed_bit = !self.grease_fixed_bit(space);
        let (version, dcid, scid, spin) =
            (self.version, self.remote_cid, self.local_cid, self.spin);
        let key_phase = self.key_phase.phase;
        let Connection {
            paths,
            spaces,
            streams,
            rng,
            handshake_done_pending,
            ping_pending,
            path_responses,
            datagrams_out,
            raw_frames,
            peer_cids,
            token,
            challenge,
            local_cids,
            new_token,
            handshake_confirmed,
            #[cfg(feature = "qlog")]
            qlog,
            stats,
            config,
            ack_frequency,
            ..
        } = self;
        let path = paths.first_mut()?;
        let sc = spaces.get_mut(space as usize)?;
        let keys = sc.local.as_ref()?;
        let pn = path.recovery.next_pn(space, rng.as_rngcore())?;
        let largest_acked = path
            .recovery
            .sent_packets(space)
            .and_then(|s| s.largest_acked())
            .map(PacketNumber);
        let tag_len = keys.packet.tag_len();
        let mut b = start_packet(
            buf,
            type_of(space),
            Header {
                token,
                version,
                dcid,
                scid,
                spin,
                key_phase,
            },
            pn,
            largest_acked,
            tag_len,
            fixed_bit,
        )?;
        let mut rec = Records::default();
        let mut eliciting = false;
        if let Some(t) = path.recovery.ack_tracker(space) {
            write_ack(t, &mut b, &mut rec, now);
        }
        if let Some((s, bytes)) = raw_frames.as_ref() {
            if *s == space && b.write(|w| w.put_slice(bytes)).is_ok() {
                *raw_frames = None;
                eliciting = true;
            }
        }
        let probe = path.recovery.probes_owed(space) > 0;
        if may_send_data || probe {
            while let Ok(Some((offset, len))) = b.write(|w| Ok::<_, ()>(sc.send.write(w))) {
                rec.push(Record::Crypto { offset, len });
                eliciting = true;
            }
        }
        if space == Space::Data && (may_send_data || probe) {
            let mut ctl = Control {
                handshake_done: handshake_done_pending,
                path_responses,
                retire_queue: &mut peer_cids.retire_queue,
                local_cids,
                challenge,
                ping: ping_pending,
            };
            eliciting |= ctl.write(&mut b, &mut rec);
            if let Some(af) = ack_frequency.as_deref_mut() {
                eliciting |= write_ack_frequency(af, path, now, &mut b, &mut rec);
            }
            if *handshake_confirmed {
                if let Some(t) = new_token.as_deref() {
                    if b.push(&Frame::NewToken { token: t }).is_ok() {
                        rec.push(Record::NewToken);
                        *new_token = None;
                        eliciting = true;
                    }
                }
            }
            eliciting |= write_datagrams(&mut b, datagrams_out);
            let wrote = b.write(|w| {
                let budget = w.remaining();
                Ok::<_, ()>(streams.write_frames(w, budget, now, false, &mut |r| {
                    rec.push(Record::Stream(r));
                }))
            });
            eliciting |= wrote.unwrap_or(0) > 0;
        }
        if (probe && !eliciting) || (pad.is_some() && b.is_empty()) {
            // RFC 9002 §6.2.4: a probe must be ack-eliciting.
            if b.push(&Frame::Ping).is_ok() {
                eliciting = true;
            }
        }
        if b.is_empty() {
            return None;
        }
        if let Some(p) = pad {
            b.pad_to(p);
        }
        #[cfg(feature = "qlog")]
        qlog.capture_sent(b.payload());
        super::frame_stats::count_sent(
            config.frame_stats,
            &mut stats.frames_sent,
            b.payload(),
            type_of(space),
        );
        let len = b
            .finish(path.id, keys.packet.as_ref(), keys.header.as_ref())
            .ok()?;
        let size = u16::try_from(len).unwrap_or(u16::MAX);
        // RFC 9002 §2: padding-only bytes still count as in flight.
        let in_flight = eliciting || pad.is_some();
        let pn = path
            .recovery
            .on_packet_sent(now, space, size, eliciting, in_flight, rec);
        Some(Built {
            len,
            ack_eliciting: eliciting,
            pn,
        })
    }

    fn on_built(&mut self, now: Instant, space: Space, b: &Built) {
        self.stats.packets_sent += 1;
        #[cfg(feature = "qlog")]
        if let Some(pn) = b.pn {
            self.qlog_packet_sent(now, type_of(space), pn, b.len);
        }
        if let (Space::Data, Some(pn)) = (space, b.pn) {
            self.on_one_rtt_sent(now, pn);
        }
        if b.ack_eliciting {
            // RFC 9000 §10.1: sending the first ack-eliciting packet since the last receipt
            // restarts the idle timer.
            if !self.sent_eliciting_since_recv {
                self.arm_idle(now);
            }
            self.sent_eliciting_since_recv = true;
            if let Some(k) = self.config.keep_alive {
                self.timers.set(Timer::KeepAlive, now.checked_add(k));
            }
        }
        if space == Space::Handshake && self.side == Side::Client {
            // RFC 9001 §4.9.1: a client discards Initial keys when it first sends a
            // Handshake packet.
            self.discard_space(now, Space::Initial);
        }
    }

    /// While closing: CONNECTION_CLOSE in every space we have keys for (RFC 9000 §10.2.3),
    /// once per owed reply.
    fn write_close(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if !self.close_pending {
            return None;
        }
        self.close_pending = false;
        let room = self.datagram_room(now, buf.len())?;
        let buf = buf.get_mut(..room)?;
        let spaces: alloc::vec::Vec<Space> = Space::ALL
            .into_iter()
            .filter(|&s| self.space(s).local.is_some())
            .collect();
        let pad_initial = self.side == Side::Client && spaces.first() == Some(&Space::Initial);
        let mut off = 0;
        for (i, &space) in spaces.iter().enumerate() {
            let last = i + 1 == spaces.len();
            let pad = (pad_initial && last).then(|| MIN_INITIAL_DATAGRAM.saturating_sub(off));
            let Some(rest) = buf.get_mut(off..) else {
                break;
            };
            if let Some(n) = self.build_close(now, space, rest, pad) {
                off += n;
            }
        }
        if pad_initial {
            off = pad_with_invalid(buf, off);
        }
        (off > 0).then_some(off)
    }

    fn build_close(
        &mut self,
        now: Instant,
        space: Space,
        buf: &mut [u8],
        pad: Option<usize>,
    ) -> Option<usize> {
        let (version, dcid, scid, spin) =
            (self.version, self.remote_cid, self.local_cid, self.spin);
        let key_phase = self.key_phase.phase;
        let Connection {
            paths,
            spaces,
            rng,
            close,
            token,
            #[cfg(feature = "qlog")]
            qlog,
            stats,
            config,
            ..
        } = self;
        let close = close.as_ref()?;
        let path = paths.first_mut()?;
        let keys = spaces.get(space as usize)?.local.as_ref()?;
        let pn = path.recovery.next_pn(space, rng.as_rngcore())?;
        let largest_acked = path
            .recovery
            .sent_packets(space)
            .and_then(|s| s.largest_acked())
            .map(PacketNumber);
        let mut b = start_packet(
            buf,
            type_of(space),
            Header {
                token,
                version,
                dcid,
                scid,
                spin,
                key_phase,
            },
            pn,
            largest_acked,
            keys.packet.tag_len(),
            true,
        )?;
        let frame = close.frame(space);
        if b.push(&Frame::ConnectionClose(frame)).is_err() {
            // The reason does not fit: send the code alone.
            let short = quic_wire::frame::ConnectionClose {
                reason: &[],
                ..frame
            };
            b.push(&Frame::ConnectionClose(short)).ok()?;
        }
        if let Some(p) = pad {
            b.pad_to(p);
        }
        #[cfg(feature = "qlog")]
        qlog.capture_sent(b.payload());
        super::frame_stats::count_sent(
            config.frame_stats,
            &mut stats.frames_sent,
            b.payload(),
            type_of(space),
        );
        let len = b
            .finish(path.id, keys.packet.as_ref(), keys.header.as_ref())
            .ok()?;
        // Not ack-eliciting and not in flight; recorded so packet numbers keep increasing.
        let _sent = path.recovery.on_packet_sent(
            now,
            space,
            u16::try_from(len).unwrap_or(u16::MAX),
            false,
            false,
            Records::default(),
        );
        #[cfg(feature = "qlog")]
        if let Some(pn) = _sent {
            self.qlog_packet_sent(now, type_of(space), pn, len);
        }
        Some(len)
    }
}

/// The header fields of the packets we send.
pub(crate) struct Header<'t> {
    /// The Initial token (from a Retry).
    pub(crate) token: &'t [u8],
    pub(crate) version: quic_wire::Version,
    pub(crate) dcid: quic_wire::ConnectionId,
    pub(crate) scid: quic_wire::ConnectionId,
    pub(crate) spin: bool,
    pub(crate) key_phase: bool,
}

/// The packet type of the packets of `space` once the handshake keys are in place.
fn type_of(space: Space) -> PacketType {
    match space {
        Space::Initial => PacketType::Initial,
        Space::Handshake => PacketType::Handshake,
        Space::Data => PacketType::OneRtt,
    }
}

/// Starts a packet of type `ty` in `buf`.
pub(crate) fn start_packet<'a>(
    buf: &'a mut [u8],
    ty: PacketType,
    hdr: Header<'_>,
    pn: u64,
    largest_acked: Option<PacketNumber>,
    tag_len: usize,
    fixed_bit: bool,
) -> Option<PacketBuilder<'a>> {
    let pn = PacketNumber(pn);
    if ty == PacketType::OneRtt {
        let h = ShortHeader {
            dcid: hdr.dcid,
            spin: hdr.spin,
            key_phase: hdr.key_phase,
        };
        return PacketBuilder::short(buf, &h, pn, largest_acked, tag_len, fixed_bit).ok();
    }
    let h = LongHeader {
        ty,
        version: hdr.version,
        dcid: hdr.dcid,
        scid: hdr.scid,
        token: if ty == PacketType::Initial {
            hdr.token
        } else {
            &[]
        },
    };
    PacketBuilder::long(buf, &h, pn, largest_acked, tag_len, fixed_bit).ok()
}

/// Writes an ACK frame when something is unreported (it rides along with any packet).
fn write_ack(
    t: &mut quic_recovery::AckTracker,
    b: &mut PacketBuilder<'_>,
    rec: &mut Records,
    now: Instant,
) {
    if !t.has_unreported() {
        return;
    }
    let written = b.write(|w| {
        let budget = w.remaining();
        t.write_ack(w, None, now, budget)
    });
    if let Ok(Some(a)) = written {
        rec.push(Record::Ack(a.largest));
    }
}

/// Writes queued DATAGRAM frames that fit; drops one that could never fit a packet.
fn write_datagrams(
    b: &mut PacketBuilder<'_>,
    queue: &mut alloc::collections::VecDeque<bytes::Bytes>,
) -> bool {
    let mut wrote = false;
    while let Some(d) = queue.front() {
        let h = DatagramFrameHeader { len: Some(d.len()) };
        if h.encoded_len() + d.len() > b.remaining() {
            if b.is_empty() {
                queue.pop_front(); // larger than an empty packet: it can never go
                continue;
            }
            break;
        }
        let ok = b.write(|w| {
            h.write(w)?;
            w.put_slice(d)
        });
        if ok.is_err() {
            break;
        }
        queue.pop_front();
        wrote = true;
    }
    wrote
}

/// Asks the peer for fewer ACKs when the sender policy has a new request
/// (ack-frequency §4, §9). Returns whether a frame was written.
fn write_ack_frequency(
    af: &mut quic_recovery::AckFrequencySender,
    path: &mut super::path::Path,
    now: Instant,
    b: &mut PacketBuilder<'_>,
    rec: &mut Records,
) -> bool {
    // Room for the largest frame: type (2 bytes) and four 8-byte varints.
    const MAX_LEN: usize = 2 + 4 * 8;
    if b.remaining() < MAX_LEN {
        return false;
    }
    let srtt = path.recovery.rtt().smoothed();
    let slow_start = path.recovery.congestion_controller().in_slow_start();
    let window = path.recovery.window();
    let Some(r) = af.poll(now, window, u64::from(path.mtu), srtt, slow_start) else {
        return false;
    };
    let frame = Frame::AckFrequency {
        sequence: VarInt::from_u64_clamped(r.sequence),
        ack_eliciting_threshold: VarInt::from_u64_clamped(r.ack_eliciting_threshold),
        requested_max_ack_delay_us: VarInt::from_u64_clamped(r.requested_max_ack_delay_us()),
        reordering_threshold: VarInt::from_u64_clamped(r.reordering_threshold),
    };
    if b.push(&frame).is_err() {
        af.on_lost(r.sequence);
        return false;
    }
    rec.push(Record::AckFrequency(r.sequence));
    // ack-frequency §7: until acknowledged, PTO uses the larger of the old and new delays.
    path.recovery
        .set_peer_max_ack_delay(af.max_ack_delay_for_pto());
    true
}

/// Makes a datagram of `off` bytes that carries an Initial packet 1200 bytes long (within
/// `buf`, the room the datagram has), when its packets fell short: the packet meant to carry
/// the padding did not fit after the others (a long Retry token can fill most of the
/// datagram with the Initial alone). RFC 9000 §14.1: "Initial packets can even be coalesced
/// with invalid packets, which a receiver will discard"; zeros read as a short header with
/// the fixed bit cleared and another connection ID. Returns the new length.
fn pad_with_invalid(buf: &mut [u8], off: usize) -> usize {
    if off == 0 || off >= MIN_INITIAL_DATAGRAM {
        return off;
    }
    let end = MIN_INITIAL_DATAGRAM.min(buf.len());
    match buf.get_mut(off..end) {
        Some(tail) => {
            tail.fill(0);
            end
        }
        None => off,
    }
}
