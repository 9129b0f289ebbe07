//! Sent-packet tracking for one (path, packet-number space).
//!
//! Packets live in a ring of slots indexed by `packet number - base`, so finding a packet is
//! O(1) and an ACK is a merge walk of its ranges (ascending) over the ring. Slots of packets
//! already acknowledged form runs of empty slots; each empty slot points past its run
//! (union-find with path compression), so walking an ACK costs O(ranges + newly acknowledged)
//! amortized, and loss detection skips acknowledged stretches the same way.
//!
//! Declared-lost packets leave a small marker behind for a while, so that a late ACK of one
//! is recognised as a spurious loss (and so that persistent congestion can see runs of
//! losses across several detections).
//!
//! Optimistic-ACK defence (RFC 9000 §21.4): now and then a packet number is skipped at
//! random; an ACK covering a skipped number, or a number never sent, is a
//! PROTOCOL_VIOLATION.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::ops::RangeInclusive;
use core::time::Duration;

use quic_wire::frame::AckFrame;
use quic_wire::{Instant, TransportError};
use rand_core::RngCore;

use crate::rate::DeliveryState;

/// A packet as the tracker keeps it, with the caller's frame record `F`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPacket<F> {
    /// Its packet number.
    pub pn: u64,
    /// When it was sent.
    pub time_sent: Instant,
    /// Its size in bytes (UDP payload bytes it took).
    pub size: u16,
    /// Whether it contained an ack-eliciting frame.
    pub ack_eliciting: bool,
    /// Whether it counts towards bytes in flight (RFC 9002 §2: anything but ACK, PADDING
    /// and CONNECTION_CLOSE only).
    pub in_flight: bool,
    /// The caller's record of what the packet carried.
    pub frames: F,
    /// The path's delivery state when it was sent (for rate samples).
    pub delivery: DeliveryState,
}

/// What is left of a packet declared lost: enough to recognise a late ACK of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostPacket {
    /// Its packet number.
    pub pn: u64,
    /// When it was sent.
    pub time_sent: Instant,
    /// Its size in bytes.
    pub size: u16,
    /// Whether it was ack-eliciting.
    pub ack_eliciting: bool,
    /// When it was declared lost.
    pub declared_at: Instant,
}

#[derive(Debug, Clone)]
enum Slot<F> {
    /// Acknowledged, skipped, or forgotten. Every slot from here up to (not including)
    /// `skip_to` is empty too, and `acked` says whether any of them was acknowledged.
    Empty {
        skip_to: u64,
        acked: bool,
    },
    Sent(SentPacket<F>),
    Lost(LostPacket),
}

/// One item of an ACK, handed to the caller's closure. A newly acknowledged packet is lent,
/// not moved: its slot is cleared (and its records dropped in place) right after the
/// closure returns, so a packet's records are never copied on the way out.
#[derive(Debug)]
pub enum Acked<'a, F> {
    /// A packet acknowledged for the first time.
    Packet(&'a SentPacket<F>),
    /// A packet we had declared lost was acknowledged after all: the loss was spurious.
    SpuriousLoss(LostPacket),
}

/// What an ACK did, besides the packets handed to the closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckOutcome {
    /// The ACK's largest number was newly acknowledged, sent at this time: an RTT sample
    /// candidate (RFC 9002 §5.1).
    pub largest_newly_acked: Option<(u64, Instant)>,
    /// Whether any newly acknowledged packet was ack-eliciting.
    pub includes_ack_eliciting: bool,
    /// Newly acknowledged packets.
    pub newly_acked: u64,
}

/// What a loss-detection pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossOutcome {
    /// When the earliest not-yet-lost packet below the largest acknowledged crosses the time
    /// threshold (RFC 9002 §6.1.2), if any.
    pub loss_time: Option<Instant>,
    /// The send time of the newest packet declared lost now, if any.
    pub newest_lost_sent: Option<Instant>,
    /// Bytes in flight declared lost now.
    pub lost_bytes: u64,
    /// Packets declared lost now.
    pub lost_packets: u64,
    /// Whether the losses show persistent congestion (RFC 9002 §7.6.2) within this space.
    pub persistent_congestion: bool,
}

/// Settings of a [`SentPackets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentConfig {
    /// Skip one packet number about every this many (uniformly 1 to 2× apart); 0 disables
    /// skipping. Default 128.
    pub skip_period: u64,
    /// Slots allocated up front (the ring grows beyond it as needed, then keeps the room).
    /// Default 0: the ring is allocated by the first packet sent, so a space that never
    /// sends (or a connection that never gets past the handshake) holds no slots, and an
    /// idle connection holds only as many as its busiest moment needed. A slot carries the
    /// caller's frame record inline (about 300 bytes in quic-conn).
    pub initial_capacity: usize,
}

impl Default for SentConfig {
    fn default() -> Self {
        SentConfig {
            skip_period: 128,
            initial_capacity: 0,
        }
    }
}

/// How many recently skipped numbers are remembered for the optimistic-ACK check.
const SKIPPED_KEPT: usize = 16;

/// The packets sent in one (path, packet-number space) that are not yet acknowledged or
/// given up on, with the caller's frame records `F`.
#[derive(Debug, Clone)]
pub struct SentPackets<F> {
    slots: VecDeque<Slot<F>>,
    /// The packet number of `slots[0]`.
    base: u64,
    /// The number the next packet gets.
    next_pn: u64,
    /// The next number to skip (u64::MAX: none).
    skip_at: u64,
    skip_period: u64,
    /// Recently skipped numbers, ascending.
    skipped: VecDeque<u64>,
    largest_acked: Option<u64>,
    bytes_in_flight: u64,
    ack_eliciting_in_flight: u64,
    last_ack_eliciting_sent: Option<Instant>,
    /// Decoded ACK ranges, ascending; reused between ACKs.
    scratch: Vec<RangeInclusive<u64>>,
    /// Give the ring's memory back the next time it empties (once; see
    /// [`SentPackets::release_when_empty`]).
    release_when_empty: bool,
}

impl<F> SentPackets<F> {
    /// An empty tracker. `rng` picks the first skipped number.
    pub fn new(config: &SentConfig, rng: &mut dyn RngCore) -> Self {
        let mut s = SentPackets {
            slots: VecDeque::with_capacity(config.initial_capacity),
            base: 0,
            next_pn: 0,
            skip_at: u64::MAX,
            skip_period: config.skip_period,
            // Grows to `SKIPPED_KEPT + 1` with the first skips, then stays.
            skipped: VecDeque::new(),
            largest_acked: None,
            bytes_in_flight: 0,
            ack_eliciting_in_flight: 0,
            last_ack_eliciting_sent: None,
            // Grows to the most ranges an ACK brought, then stays.
            scratch: Vec::new(),
            release_when_empty: false,
        };
        s.draw_skip(rng);
        s
    }

    fn draw_skip(&mut self, rng: &mut dyn RngCore) {
        self.skip_at = if self.skip_period == 0 {
            u64::MAX
        } else {
            let span = self.skip_period.saturating_mul(2).max(1);
            self.next_pn
                .saturating_add(1)
                .saturating_add(rng.next_u64() % span)
        };
    }

    /// The packet number the next packet must use, skipping one first when its turn has
    /// come (the only use of `rng`, about once per skip period).
    pub fn next_pn(&mut self, rng: &mut dyn RngCore) -> u64 {
        if self.next_pn == self.skip_at {
            self.slots.push_back(Slot::Empty {
                skip_to: self.next_pn + 1,
                acked: false,
            });
            self.skipped.push_back(self.next_pn);
            if self.skipped.len() > SKIPPED_KEPT {
                self.skipped.pop_front();
            }
            self.next_pn += 1;
            self.draw_skip(rng);
        }
        self.next_pn
    }

    /// The number the next packet will use if no skip comes first (no side effects).
    pub fn peek_next_pn(&self) -> u64 {
        self.next_pn
    }

    /// Records a sent packet under the number [`SentPackets::next_pn`] returned (or
    /// [`SentPackets::peek_next_pn`]); returns that number.
    #[allow(clippy::too_many_arguments)]
    pub fn on_sent(
        &mut self,
        now: Instant,
        size: u16,
        ack_eliciting: bool,
        in_flight: bool,
        frames: F,
        delivery: DeliveryState,
    ) -> u64 {
        let pn = self.next_pn;
        self.next_pn += 1;
        if in_flight {
            self.bytes_in_flight += u64::from(size);
        }
        if ack_eliciting {
            self.last_ack_eliciting_sent = Some(now);
            if in_flight {
                self.ack_eliciting_in_flight += 1;
            }
        }
        self.slots.push_back(Slot::Sent(SentPacket {
            pn,
            time_sent: now,
            size,
            ack_eliciting,
            in_flight,
            frames,
            delivery,
        }));
        pn
    }

    /// Checks an ACK frame against what was sent and decodes its ranges for
    /// [`SentPackets::on_ack`]. PROTOCOL_VIOLATION when it acknowledges a number never
    /// sent (RFC 9000 §13.1: "An endpoint SHOULD treat receipt of an acknowledgment for a
    /// packet it did not send as a connection error of type PROTOCOL_VIOLATION") or a
    /// skipped number (§21.4). Changes nothing but the scratch space.
    pub fn decode_ack(&mut self, ack: &AckFrame<'_>) -> Result<(), TransportError> {
        if ack.largest() >= self.next_pn {
            return Err(TransportError::protocol_violation(
                "ACK of a packet number never sent",
            ));
        }
        let low_water = self
            .skipped
            .front()
            .map_or(self.base, |&s| s.min(self.base));
        self.scratch.clear();
        for r in ack.iter() {
            if *r.end() < low_water {
                break;
            }
            self.scratch.push(r);
        }
        self.scratch.reverse();
        // Merge the ascending ranges with the ascending skipped numbers.
        let mut skipped = self.skipped.iter().peekable();
        for r in &self.scratch {
            while let Some(&&s) = skipped.peek() {
                if s < *r.start() {
                    skipped.next();
                } else if s <= *r.end() {
                    return Err(TransportError::protocol_violation(
                        "ACK of a skipped packet number",
                    ));
                } else {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Applies the ACK last decoded by [`SentPackets::decode_ack`]: each newly acknowledged
    /// packet and each spurious loss goes to `on_item`, in increasing packet-number order.
    pub fn on_ack(&mut self, largest: u64, mut on_item: impl FnMut(Acked<'_, F>)) -> AckOutcome {
        let mut out = AckOutcome::default();
        let ranges = core::mem::take(&mut self.scratch);
        for r in &ranges {
            let mut pn = (*r.start()).max(self.base);
            let end = (*r.end()).min(self.next_pn.saturating_sub(1));
            while pn <= end {
                let Some(slot) = self.slot_mut(pn) else { break };
                match slot {
                    Slot::Empty { .. } => {
                        pn = self.skip_empty(pn).0;
                        continue;
                    }
                    Slot::Sent(p) => {
                        let (in_flight, size, eliciting) = (p.in_flight, p.size, p.ack_eliciting);
                        out.newly_acked += 1;
                        out.includes_ack_eliciting |= eliciting;
                        if p.pn == largest {
                            out.largest_newly_acked = Some((p.pn, p.time_sent));
                        }
                        on_item(Acked::Packet(p));
                        *slot = Slot::Empty {
                            skip_to: pn + 1,
                            acked: true,
                        };
                        self.leave_flight(in_flight, size, eliciting);
                    }
                    Slot::Lost(l) => {
                        let l = *l;
                        *slot = Slot::Empty {
                            skip_to: pn + 1,
                            acked: true,
                        };
                        on_item(Acked::SpuriousLoss(l));
                    }
                }
                pn += 1;
            }
        }
        self.scratch = ranges;
        self.scratch.clear();
        self.largest_acked = Some(self.largest_acked.map_or(largest, |l| l.max(largest)));
        self.pop_front_empties();
        if self.release_when_empty && self.slots.is_empty() {
            self.release_when_empty = false;
            self.slots = VecDeque::new();
        }
        out
    }

    /// Frees the ring the next time an ACK leaves it empty, once. For the end of the
    /// handshake: the burst that completes it (HANDSHAKE_DONE, NEW_CONNECTION_ID, session
    /// tickets) sizes the application space's ring, and a connection that then goes quiet
    /// should not keep that room (several hundred bytes a slot). Only one release per call,
    /// so a busy connection never trades its ring for an allocation per packet.
    pub fn release_when_empty(&mut self) {
        self.release_when_empty = true;
    }

    fn on_leaving_flight(&mut self, p: &SentPacket<F>) {
        self.leave_flight(p.in_flight, p.size, p.ack_eliciting);
    }

    fn leave_flight(&mut self, in_flight: bool, size: u16, ack_eliciting: bool) {
        if in_flight {
            self.bytes_in_flight -= u64::from(size);
            if ack_eliciting {
                self.ack_eliciting_in_flight -= 1;
            }
        }
    }

    fn slot_mut(&mut self, pn: u64) -> Option<&mut Slot<F>> {
        let i = usize::try_from(pn.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(i)
    }

    /// From the empty slot `pn`, finds the next slot that is not empty (or one past the
    /// end), and whether any slot skipped over was acknowledged; compresses the path.
    fn skip_empty(&mut self, pn: u64) -> (u64, bool) {
        let (mut cur, mut acked) = (pn, false);
        while let Some(Slot::Empty { skip_to, acked: a }) = self.slot_mut(cur) {
            acked |= *a;
            cur = *skip_to;
        }
        let root = cur;
        let mut cur = pn;
        while cur < root {
            let Some(Slot::Empty { skip_to, acked: a }) = self.slot_mut(cur) else {
                break;
            };
            let next = *skip_to;
            *skip_to = root;
            *a = acked;
            cur = next;
        }
        (root, acked)
    }

    fn pop_front_empties(&mut self) {
        // Counted first, then dropped in place: popping one by one would move each slot
        // (a frame record of a few hundred bytes) out only to drop it.
        let n = self
            .slots
            .iter()
            .take_while(|s| matches!(s, Slot::Empty { .. }))
            .count();
        if n > 0 {
            self.slots.drain(..n);
            self.base += n as u64;
        }
    }

    /// Declares lost the packets below the largest acknowledged that cross the packet
    /// threshold (3, RFC 9002 §6.1.1) or the time threshold `loss_delay` (§6.1.2), handing
    /// each to `on_lost`; forgets lost markers declared more than `forget_lost_after` ago;
    /// checks the new losses for persistent congestion (§7.6.2) with `pc_duration`,
    /// counting only packets sent after `first_rtt_sample`.
    pub fn detect_lost(
        &mut self,
        now: Instant,
        loss_delay: Duration,
        first_rtt_sample: Option<Instant>,
        pc_duration: Duration,
        forget_lost_after: Duration,
        mut on_lost: impl FnMut(SentPacket<F>),
    ) -> LossOutcome {
        let mut out = LossOutcome::default();
        let Some(largest_acked) = self.largest_acked else {
            return out;
        };
        let mut run = PcRun::default();
        let mut pn = self.base;
        let end = largest_acked.min(self.next_pn.saturating_sub(1));
        while pn <= end {
            let Some(slot) = self.slot_mut(pn) else { break };
            match slot {
                Slot::Empty { .. } => {
                    let (next, acked) = self.skip_empty(pn);
                    if acked {
                        run.close(pc_duration, &mut out);
                    }
                    pn = next;
                    continue;
                }
                Slot::Sent(p) => {
                    // RFC 9002 §6.1: kPacketThreshold = 3.
                    let by_count = largest_acked >= p.pn + 3;
                    let by_time = p.time_sent + loss_delay <= now;
                    if by_count || by_time {
                        let marker = LostPacket {
                            pn,
                            time_sent: p.time_sent,
                            size: p.size,
                            ack_eliciting: p.ack_eliciting,
                            declared_at: now,
                        };
                        let Slot::Sent(p) = core::mem::replace(slot, Slot::Lost(marker)) else {
                            continue; // matched just above
                        };
                        self.on_leaving_flight(&p);
                        if p.in_flight {
                            out.lost_bytes += u64::from(p.size);
                        }
                        out.lost_packets += 1;
                        out.newest_lost_sent = Some(p.time_sent);
                        if p.ack_eliciting && first_rtt_sample.is_some_and(|f| p.time_sent > f) {
                            run.add(p.time_sent, true);
                        }
                        on_lost(p);
                    } else {
                        let at = p.time_sent + loss_delay;
                        out.loss_time = Some(out.loss_time.map_or(at, |t: Instant| t.min(at)));
                    }
                }
                Slot::Lost(l) => {
                    if l.declared_at + forget_lost_after <= now {
                        *slot = Slot::Empty {
                            skip_to: pn + 1,
                            acked: false,
                        };
                    } else if l.ack_eliciting && first_rtt_sample.is_some_and(|f| l.time_sent > f) {
                        run.add(l.time_sent, false);
                    }
                }
            }
            pn += 1;
        }
        run.close(pc_duration, &mut out);
        self.pop_front_empties();
        out
    }

    /// Forgets every packet (the space's keys were discarded, RFC 9002 §6.4): they are
    /// neither acknowledged nor lost. Returns the bytes that were in flight.
    pub fn discard(&mut self) -> u64 {
        let bytes = self.bytes_in_flight;
        self.base = self.next_pn;
        self.slots.clear();
        self.bytes_in_flight = 0;
        self.ack_eliciting_in_flight = 0;
        self.last_ack_eliciting_sent = None;
        bytes
    }

    /// Bytes in flight in this space.
    pub fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// Whether an ack-eliciting packet is in flight.
    pub fn has_ack_eliciting_in_flight(&self) -> bool {
        self.ack_eliciting_in_flight > 0
    }

    /// When the last ack-eliciting packet was sent (RFC 9002 A.3
    /// time_of_last_ack_eliciting_packet).
    pub fn last_ack_eliciting_sent(&self) -> Option<Instant> {
        self.last_ack_eliciting_sent
    }

    /// The largest number acknowledged so far.
    pub fn largest_acked(&self) -> Option<u64> {
        self.largest_acked
    }

    /// Packets not yet acknowledged nor declared lost, oldest first (for choosing what a
    /// probe retransmits). Walks the whole ring: for PTO, not for the hot path.
    pub fn unacked(&self) -> impl Iterator<Item = &SentPacket<F>> + '_ {
        self.slots.iter().filter_map(|s| match s {
            Slot::Sent(p) => Some(p),
            _ => None,
        })
    }

    /// The number of slots in the ring (outstanding packets, lost markers and the empty
    /// slots between them).
    pub fn ring_len(&self) -> usize {
        self.slots.len()
    }

    /// The slots the ring has room for without allocating (memory accounting: each slot
    /// holds a packet with its frame record inline).
    pub fn ring_capacity(&self) -> usize {
        self.slots.capacity()
    }
}

/// A run of lost ack-eliciting packets with no acknowledged packet between them.
#[derive(Default)]
struct PcRun {
    first: Option<Instant>,
    last: Option<Instant>,
    has_new: bool,
}

impl PcRun {
    fn add(&mut self, time_sent: Instant, new: bool) {
        self.first.get_or_insert(time_sent);
        self.last = Some(time_sent);
        self.has_new |= new;
    }

    /// Ends the run: RFC 9002 §7.6.2, two lost ack-eliciting packets further apart than the
    /// persistent congestion duration with nothing acknowledged between them. A run made only
    /// of earlier losses was judged before.
    fn close(&mut self, duration: Duration, out: &mut LossOutcome) {
        if let (Some(first), Some(last)) = (self.first, self.last) {
            if self.has_new && last.saturating_duration_since(first) > duration {
                out.persistent_congestion = true;
            }
        }
        *self = PcRun::default();
    }
}
