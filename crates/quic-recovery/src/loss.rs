//! Loss detection and PTO for one path (RFC 9002 §6, Appendix A), with its congestion
//! controller, pacer and delivery-rate sampler.
//!
//! [`PathRecovery`] holds the packet-number spaces of one path: Initial, Handshake and
//! application data on path 0, the application-data space alone on any other path
//! (RFC 10069: Initial and Handshake exist on the initial path only).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::Cell;
use core::time::Duration;

use quic_wire::frame::AckFrame;
use quic_wire::{Instant, PathId, Space, TransportError};
use rand_core::RngCore;

use crate::ack_policy::{AckConfig, AckTracker, Ecn};
use crate::cc::{AckedPacket, CcConfig, CongestionController, CongestionEvent, CongestionKind};
use crate::pacer::Pacer;
use crate::rate::{RateSample, RateSampler};
use crate::recv_history::Inserted;
use crate::rtt::RttEstimator;
use crate::sent::{Acked, LostPacket, SentConfig, SentPacket, SentPackets};

/// kPersistentCongestionThreshold (RFC 9002 §7.6.1).
const PERSISTENT_CONGESTION_THRESHOLD: u32 = 3;

/// Where acknowledged and lost packets go: the caller learns exactly which frames were
/// delivered or need repair. Nothing is buffered inside the recovery.
pub trait RecoverySink<F> {
    /// `packet` of `space` was acknowledged for the first time. It is lent: the tracker
    /// drops it once this returns.
    fn on_acked(&mut self, space: Space, packet: &SentPacket<F>);
    /// `packet` of `space` was declared lost; its frames may need retransmission.
    fn on_lost(&mut self, space: Space, packet: SentPacket<F>);
    /// A packet declared lost earlier was acknowledged after all.
    fn on_spurious_loss(&mut self, space: Space, packet: &LostPacket) {
        let _ = (space, packet);
    }
}

/// Settings of a [`PathRecovery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// Our ACK settings (applied to each space).
    pub ack: AckConfig,
    /// Sent-packet tracking settings.
    pub sent: SentConfig,
    /// The congestion controller.
    pub cc: CcConfig,
    /// The maximum datagram size (default 1200).
    pub max_datagram_size: u64,
    /// kInitialRtt (default 333 ms).
    pub initial_rtt: Duration,
    /// Whether to pace (default true).
    pub pacing: bool,
    /// Pacer burst allowance in datagrams (default 10).
    pub burst_packets: u64,
    /// The peer's max_ack_delay (default 25 ms until its transport parameters arrive).
    pub peer_max_ack_delay: Duration,
    /// The peer's ack_delay_exponent (default 3).
    pub peer_ack_delay_exponent: u8,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            ack: AckConfig::default(),
            sent: SentConfig::default(),
            cc: CcConfig::default(),
            max_datagram_size: 1200,
            initial_rtt: crate::rtt::INITIAL_RTT,
            pacing: true,
            burst_packets: Pacer::DEFAULT_BURST_PACKETS,
            peer_max_ack_delay: Duration::from_millis(25),
            peer_ack_delay_exponent: 3,
        }
    }
}

/// Which deadline a timer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timer {
    /// A packet below the largest acknowledged crosses the time threshold (RFC 9002 §6.1.2).
    LossTime(Space),
    /// The probe timeout (RFC 9002 §6.2) for a space.
    Pto(Space),
    /// An ACK is owed in a space (max_ack_delay, or at once).
    Ack(Space),
}

/// What [`PathRecovery::on_timeout`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutAction {
    /// Packets were declared lost (handed to the sink).
    LossDetected,
    /// A probe timeout: send `count` ack-eliciting probe packets in `space` (new data, a
    /// retransmission or PING), regardless of the congestion window (RFC 9002 §6.2.4).
    Probe {
        /// The space to probe.
        space: Space,
        /// How many probe packets are owed.
        count: u8,
    },
}

/// What one ACK changed, for the caller's statistics and qlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckSummary {
    /// Packets newly acknowledged.
    pub newly_acked: u64,
    /// Packets declared lost while processing it.
    pub lost: u64,
    /// Whether an RTT sample was taken.
    pub rtt_sample: bool,
    /// Whether it reported new ECN-CE marks.
    pub ecn_ce: bool,
    /// Whether persistent congestion was established.
    pub persistent_congestion: bool,
    /// Spurious losses it revealed.
    pub spurious: u64,
}

/// Counters for `stats()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryStats {
    /// Packets declared lost.
    pub lost_packets: u64,
    /// Bytes declared lost.
    pub lost_bytes: u64,
    /// Losses later found spurious.
    pub spurious_losses: u64,
    /// Congestion events (loss or ECN).
    pub congestion_events: u64,
    /// Persistent congestion events.
    pub persistent_congestion: u64,
    /// Probe timeouts fired.
    pub ptos: u64,
}

struct SpaceState<F> {
    sent: SentPackets<F>,
    recv: AckTracker,
    loss_time: Option<Instant>,
    ecn_ce_reported: u64,
    ecn_total_reported: u64,
    probes: u8,
}

/// The losses of the latest congestion event, to tell when all of them were spurious.
#[derive(Debug, Clone, Copy)]
struct UndoTrack {
    started: Instant,
    lost: u64,
    spurious: u64,
}

/// Loss recovery for one path: the sent packets and receive history of its spaces, its RTT,
/// congestion controller, pacer, PTO state.
///
/// ## Usage
/// - sending: [`PathRecovery::next_pn`], then [`PathRecovery::on_packet_sent`]; ask
///   [`PathRecovery::can_send`] and [`PathRecovery::send_time`] first (probes owed, see
///   [`PathRecovery::probes_owed`], ignore the window);
/// - receiving: [`PathRecovery::on_packet_received`] for every processed packet,
///   [`PathRecovery::on_ack_received`] for each ACK/PATH_ACK for this path, the ACK
///   policy through [`PathRecovery::ack_tracker`];
/// - time: [`PathRecovery::poll_timeout`], then [`PathRecovery::on_timeout`] when the loss
///   timer passes (ACK timers are served by writing an ACK);
/// - handshake: [`PathRecovery::on_handshake_keys`], [`PathRecovery::on_handshake_confirmed`],
///   [`PathRecovery::discard_space`].
pub struct PathRecovery<F> {
    path: PathId,
    /// Boxed: Initial and Handshake are gone once the handshake is confirmed, and an
    /// inline `None` would still take a whole space's room in every path of every idle
    /// connection.
    spaces: [Option<Box<SpaceState<F>>>; 3],
    rtt: RttEstimator,
    cc: Box<dyn CongestionController>,
    pacer: Pacer,
    pacing: bool,
    rate: RateSampler,
    mds: u64,
    bytes_in_flight: u64,
    /// The part of `bytes_in_flight` sent on earlier network paths: RFC 9000 §9.4 "Packets
    /// sent on the old path MUST NOT contribute to congestion control ... for the new
    /// path", so it does not count against this path's window.
    earlier_path_in_flight: u64,
    pto_count: u32,
    /// The loss-detection timer as last worked out.
    loss_timer: Cell<Option<(Instant, Timer)>>,
    /// Set (to the time of the call) when a sent packet moved the timer: it is worked out
    /// when next read, so a burst of packets works it out once, not once per packet.
    loss_timer_stale: Cell<Option<Instant>>,
    peer_max_ack_delay: Duration,
    peer_ack_delay_exponent: u8,
    is_server: bool,
    has_handshake_keys: bool,
    handshake_confirmed: bool,
    handshake_acked: bool,
    amplification_limited: bool,
    ecn_failed: bool,
    undo: Option<UndoTrack>,
    stats: RecoveryStats,
    /// Packets newly acknowledged by the ACK being processed, held until loss detection has
    /// run so the controller sees them in RFC 9002 A.7 order. Reused: it grows to the
    /// largest ACK once and never allocates again.
    acked_scratch: Vec<AckedPacket>,
    /// When the current network path started (RFC 9000 §9.4): packets sent before it feed
    /// neither the RTT estimate nor the congestion controller.
    path_start: Option<Instant>,
}

/// The congestion controller, RTT estimate and pacer of one network path, set aside while
/// the connection uses another (RFC 9000 §9.4).
pub struct CongestionState {
    rtt: RttEstimator,
    cc: Box<dyn CongestionController>,
    pacer: Pacer,
}

impl core::fmt::Debug for CongestionState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CongestionState")
            .field("rtt", &self.rtt)
            .field("window", &self.cc.window())
            .finish_non_exhaustive()
    }
}

impl CongestionState {
    /// Initial values (RFC 9002 A.4, B.3) for a path with `config`.
    pub fn initial(config: &RecoveryConfig) -> Self {
        CongestionState {
            rtt: RttEstimator::new(config.initial_rtt),
            cc: config.cc.build(config.max_datagram_size),
            pacer: Pacer::new(config.max_datagram_size, config.burst_packets),
        }
    }

    /// The congestion window.
    pub fn window(&self) -> u64 {
        self.cc.window()
    }

    /// The RTT estimate.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }
}

impl<F> core::fmt::Debug for PathRecovery<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PathRecovery")
            .field("path", &self.path)
            .field("rtt", &self.rtt)
            .field("cc", &self.cc)
            .field("bytes_in_flight", &self.bytes_in_flight)
            .field("pto_count", &self.pto_count)
            .field("loss_timer", &self.current_loss_timer())
            .finish_non_exhaustive()
    }
}

fn idx(space: Space) -> usize {
    space as usize
}

impl<F> PathRecovery<F> {
    /// Recovery for `path`. Path 0 gets the Initial, Handshake and application spaces, any
    /// other path the application space only. `rng` seeds packet-number skipping.
    pub fn new(
        path: PathId,
        config: &RecoveryConfig,
        is_server: bool,
        rng: &mut dyn RngCore,
    ) -> Self {
        let mut space = |s: Space| {
            Box::new(SpaceState {
                sent: SentPackets::new(&config.sent, rng),
                recv: AckTracker::new(s, &config.ack),
                loss_time: None,
                ecn_ce_reported: 0,
                ecn_total_reported: 0,
                probes: 0,
            })
        };
        let spaces = if path == PathId::ZERO {
            [
                Some(space(Space::Initial)),
                Some(space(Space::Handshake)),
                Some(space(Space::Data)),
            ]
        } else {
            [None, None, Some(space(Space::Data))]
        };
        PathRecovery {
            path,
            spaces,
            rtt: RttEstimator::new(config.initial_rtt),
            cc: config.cc.build(config.max_datagram_size),
            pacer: Pacer::new(config.max_datagram_size, config.burst_packets),
            pacing: config.pacing,
            rate: RateSampler::new(),
            mds: config.max_datagram_size,
            bytes_in_flight: 0,
            earlier_path_in_flight: 0,
            pto_count: 0,
            loss_timer: Cell::new(None),
            loss_timer_stale: Cell::new(None),
            peer_max_ack_delay: config.peer_max_ack_delay,
            peer_ack_delay_exponent: config.peer_ack_delay_exponent.min(20),
            is_server,
            has_handshake_keys: false,
            // Paths other than the first open after the handshake.
            handshake_confirmed: path != PathId::ZERO,
            handshake_acked: false,
            amplification_limited: false,
            ecn_failed: false,
            undo: None,
            stats: RecoveryStats::default(),
            acked_scratch: Vec::new(),
            path_start: None,
        }
    }

    /// The peer address (or ours) changed (RFC 9000 §9.4): from `now` on the path uses
    /// `state` (fresh [`CongestionState::initial`] values, or what an earlier visit left);
    /// returns the state in use until now. Packets sent before `now` no longer contribute
    /// to the RTT estimate or the congestion controller; they still count as in flight
    /// until acknowledged or lost.
    pub fn switch_network_path(&mut self, now: Instant, state: CongestionState) -> CongestionState {
        self.path_start = Some(now);
        self.pto_count = 0;
        self.undo = None;
        // Everything outstanding now was sent on an earlier path.
        self.earlier_path_in_flight = self.bytes_in_flight;
        let old = CongestionState {
            rtt: core::mem::replace(&mut self.rtt, state.rtt),
            cc: core::mem::replace(&mut self.cc, state.cc),
            pacer: core::mem::replace(&mut self.pacer, state.pacer),
        };
        self.set_loss_timer(now);
        old
    }

    /// Whether a packet sent at `sent` belongs to the current network path.
    fn on_current_path(&self, sent: Instant) -> bool {
        self.path_start.is_none_or(|start| sent >= start)
    }

    fn st(&mut self, space: Space) -> Option<&mut SpaceState<F>> {
        self.spaces.get_mut(idx(space))?.as_deref_mut()
    }

    /// The path.
    pub fn path_id(&self) -> PathId {
        self.path
    }

    /// Whether `space` exists on this path (and its keys were not discarded).
    pub fn has_space(&self, space: Space) -> bool {
        self.spaces.get(idx(space)).is_some_and(Option::is_some)
    }

    // ---- sending ----

    /// The packet number for the next packet in `space` (`None` if the space is gone).
    pub fn next_pn(&mut self, space: Space, rng: &mut dyn RngCore) -> Option<u64> {
        Some(self.st(space)?.sent.next_pn(rng))
    }

    /// Whether the congestion window has room for `bytes` more.
    pub fn can_send(&self, bytes: u64) -> bool {
        self.bytes_in_flight
            .saturating_sub(self.earlier_path_in_flight)
            + bytes
            <= self.cc.window()
    }

    /// Probe packets owed in `space` after a PTO; they are sent even when the window is full.
    pub fn probes_owed(&self, space: Space) -> u8 {
        self.spaces
            .get(idx(space))
            .and_then(Option::as_deref)
            .map_or(0, |s| s.probes)
    }

    /// When a packet of `bytes` may leave according to the pacer (`now` when it may go at
    /// once, or always when pacing is off).
    pub fn send_time(&mut self, now: Instant, bytes: u64) -> Instant {
        if !self.pacing {
            return now;
        }
        let rate = match self.cc.pacing_rate(&self.rtt) {
            Some(r) => r,
            None => self
                .pacer
                .window_rate(self.cc.window(), self.rtt.smoothed()),
        };
        self.pacer.update_rate(now, rate, self.mds);
        self.pacer.release_time(now, bytes)
    }

    /// Records a packet sent in `space` under the number [`PathRecovery::next_pn`] gave;
    /// returns that number (`None` if the space is gone). RFC 9002 A.5.
    pub fn on_packet_sent(
        &mut self,
        now: Instant,
        space: Space,
        size: u16,
        ack_eliciting: bool,
        in_flight: bool,
        frames: F,
    ) -> Option<u64> {
        let bytes = u64::from(size);
        let delivery = self.rate.on_sent(now, bytes, self.bytes_in_flight);
        let st = self.spaces.get_mut(idx(space))?.as_deref_mut()?;
        let pn = st
            .sent
            .on_sent(now, size, ack_eliciting, in_flight, frames, delivery);
        if ack_eliciting && st.probes > 0 {
            st.probes -= 1;
        }
        if in_flight {
            self.bytes_in_flight += bytes;
            self.cc.on_packet_sent(now, bytes, self.bytes_in_flight);
            if self.pacing {
                self.pacer.on_sent(now, bytes);
            }
            // RFC 9002 A.5: SetLossDetectionTimer, worked out when the timer is next read.
            self.loss_timer_stale.set(Some(now));
        }
        Some(pn)
    }

    /// The sender had nothing to send although the window had room: mark the path
    /// application-limited so that windows do not grow on what is in flight now (RFC 9002
    /// §7.8).
    pub fn on_app_limited(&mut self) {
        if self.bytes_in_flight < self.cc.window() {
            self.rate.on_app_limited(self.bytes_in_flight);
        }
    }

    // ---- receiving ----

    /// Records a received, processed packet in `space` for acknowledgement. `None` when the
    /// space is gone; [`Inserted::Duplicate`] for a duplicate.
    pub fn on_packet_received(
        &mut self,
        now: Instant,
        space: Space,
        pn: u64,
        ack_eliciting: bool,
        ecn: Ecn,
    ) -> Option<Inserted> {
        Some(self.st(space)?.recv.on_packet(pn, ack_eliciting, ecn, now))
    }

    /// The ACK policy and receive history of `space`.
    pub fn ack_tracker(&mut self, space: Space) -> Option<&mut AckTracker> {
        Some(&mut self.st(space)?.recv)
    }

    /// Processes an ACK (or PATH_ACK for this path) received in `space` (RFC 9002 A.7).
    /// Acknowledged, lost and spuriously lost packets go to `sink`.
    ///
    /// PROTOCOL_VIOLATION if it acknowledges a packet number never sent or skipped.
    pub fn on_ack_received(
        &mut self,
        now: Instant,
        space: Space,
        ack: &AckFrame<'_>,
        sink: &mut dyn RecoverySink<F>,
    ) -> Result<AckSummary, TransportError> {
        let mut summary = AckSummary::default();
        let path_start = self.path_start;
        let confirmed = self.handshake_confirmed;
        let max_ack_delay = self.peer_max_ack_delay;
        let Self {
            spaces,
            rtt,
            cc,
            rate,
            bytes_in_flight,
            earlier_path_in_flight,
            undo,
            stats,
            acked_scratch,
            ..
        } = self;
        let Some(st) = spaces.get_mut(idx(space)).and_then(Option::as_deref_mut) else {
            // Keys for the space are gone; nothing it acknowledges is tracked any more.
            return Ok(summary);
        };
        acked_scratch.clear();
        st.sent.decode_ack(ack)?;
        // RFC 9002 §5.3: the delay is ignored in Initial, and its unit is 2^exponent µs.
        let ack_delay = if space == Space::Initial {
            Duration::ZERO
        } else {
            // The field is peer input up to 2^62: scale with saturation.
            let scale = 1u64 << self.peer_ack_delay_exponent.min(20);
            Duration::from_micros(ack.ack_delay().saturating_mul(scale))
        };
        rate.begin_ack();
        let mut spurious = 0u64;
        let outcome = st.sent.on_ack(ack.largest(), |item| match item {
            Acked::Packet(p) => {
                if p.in_flight {
                    let size = u64::from(p.size);
                    *bytes_in_flight -= size;
                    if path_start.is_some_and(|start| p.time_sent < start) {
                        *earlier_path_in_flight = earlier_path_in_flight.saturating_sub(size);
                    }
                    rate.on_acked(now, p.time_sent, size, &p.delivery);
                    // The controller hears of it after the RTT sample and loss detection;
                    // packets of an earlier network path do not grow this path's window
                    // (RFC 9000 §9.4).
                    if path_start.is_none_or(|start| p.time_sent >= start) {
                        acked_scratch.push(AckedPacket {
                            time_sent: p.time_sent,
                            size,
                            app_limited: p.delivery.is_app_limited,
                        });
                    }
                }
                sink.on_acked(space, p);
            }
            Acked::SpuriousLoss(l) => {
                spurious += 1;
                sink.on_spurious_loss(space, &l);
                if let Some(u) = undo {
                    if l.declared_at >= u.started && l.ack_eliciting {
                        u.spurious += 1;
                    }
                }
            }
        });
        summary.spurious = spurious;
        stats.spurious_losses += spurious;
        if let Some(u) = *undo {
            if u.lost > 0 && u.spurious >= u.lost {
                // Every loss of the latest congestion event was spurious.
                cc.on_spurious_congestion(now);
                *undo = None;
            }
        }
        summary.newly_acked = outcome.newly_acked;
        if outcome.newly_acked == 0 {
            // RFC 9002 A.7: nothing newly acknowledged, nothing else to do.
            return Ok(summary);
        }
        // RFC 9002 §5.1: a sample when the largest is newly acknowledged and something
        // ack-eliciting was.
        // RFC 9000 §9.4: packets of an earlier network path give no sample for this one.
        let sample_from = outcome
            .largest_newly_acked
            .filter(|&(_, sent)| path_start.is_none_or(|start| sent >= start));
        if let (Some((_, sent)), true) = (sample_from, outcome.includes_ack_eliciting) {
            let latest = now.saturating_duration_since(sent);
            rtt.update(latest, ack_delay, max_ack_delay, confirmed, now);
            summary.rtt_sample = true;
        }
        // RFC 9002 B.7 / RFC 9000 §13.4.2: new CE marks are a congestion signal.
        if let Some(ecn) = ack.ecn() {
            let total = ecn.ect0.saturating_add(ecn.ect1).saturating_add(ecn.ce);
            if ecn.ce < st.ecn_ce_reported || total < st.ecn_total_reported {
                // Counts never decrease (§13.4.2.1): ECN validation fails.
                self.ecn_failed = true;
            } else {
                st.ecn_total_reported = total;
                if ecn.ce > st.ecn_ce_reported {
                    st.ecn_ce_reported = ecn.ce;
                    if let Some((_, sent)) = sample_from {
                        stats.congestion_events += 1;
                        summary.ecn_ce = true;
                        cc.on_congestion_event(
                            now,
                            &CongestionEvent {
                                kind: CongestionKind::Ecn,
                                newest_sent: sent,
                                lost_bytes: 0,
                                bytes_in_flight: *bytes_in_flight,
                            },
                            rtt,
                        );
                    }
                }
            }
        }
        if space == Space::Handshake {
            // RFC 9002 A.6: a client knows the server validated its address once a Handshake
            // packet of its own is acknowledged.
            self.handshake_acked = true;
        }
        let (lost, pc) = self.detect_lost(now, space, sink);
        summary.lost = lost;
        summary.persistent_congestion = pc;
        // RFC 9002 A.7: OnPacketsAcked comes after the RTT update and after
        // OnPacketsLost, so packets sent before a recovery period that this ACK opened do
        // not grow the window.
        if !self.acked_scratch.is_empty() {
            self.cc
                .on_packets_acked(now, &self.acked_scratch, &self.rtt);
            self.acked_scratch.clear();
        }
        let min_rtt = self.rtt.min();
        let sample: RateSample = self.rate.end_ack(min_rtt);
        self.cc
            .on_ack_end(now, &sample, &self.rtt, self.bytes_in_flight);
        // RFC 9002 A.7: reset the backoff unless a client is unsure the server validated
        // its address.
        if self.peer_completed_address_validation() {
            self.pto_count = 0;
        }
        self.set_loss_timer(now);
        Ok(summary)
    }

    /// The persistent congestion duration (RFC 9002 §7.6.1).
    pub fn persistent_congestion_duration(&self) -> Duration {
        (self.rtt.pto_base() + self.peer_max_ack_delay) * PERSISTENT_CONGESTION_THRESHOLD
    }

    /// RFC 9002 A.10 DetectAndRemoveLostPackets for `space`, then B.8 OnPacketsLost.
    /// Returns the number lost and whether persistent congestion was established.
    fn detect_lost(
        &mut self,
        now: Instant,
        space: Space,
        sink: &mut dyn RecoverySink<F>,
    ) -> (u64, bool) {
        let loss_delay = self.rtt.loss_delay();
        let pc_duration = self.persistent_congestion_duration();
        let first_sample = self.rtt.first_sample_at();
        let path_start = self.path_start;
        let Self {
            spaces,
            rate,
            bytes_in_flight,
            earlier_path_in_flight,
            ..
        } = self;
        let Some(st) = spaces.get_mut(idx(space)).and_then(Option::as_deref_mut) else {
            return (0, false);
        };
        let out = st.sent.detect_lost(
            now,
            loss_delay,
            first_sample,
            pc_duration,
            pc_duration,
            |p| {
                if p.in_flight {
                    *bytes_in_flight -= u64::from(p.size);
                    if path_start.is_some_and(|start| p.time_sent < start) {
                        *earlier_path_in_flight =
                            earlier_path_in_flight.saturating_sub(u64::from(p.size));
                    }
                    rate.on_lost(u64::from(p.size));
                }
                sink.on_lost(space, p);
            },
        );
        st.loss_time = out.loss_time;
        self.stats.lost_packets += out.lost_packets;
        self.stats.lost_bytes += out.lost_bytes;
        // RFC 9000 §9.4: losses of packets sent on an earlier network path say nothing
        // about this one.
        let newest_lost = out
            .newest_lost_sent
            .filter(|&sent| self.on_current_path(sent));
        if let (Some(newest), true) = (newest_lost, out.lost_bytes > 0) {
            // A new congestion event, or more losses within the current one.
            let new_event = self.undo.is_none_or(|u| newest > u.started);
            if new_event {
                self.stats.congestion_events += 1;
                self.undo = Some(UndoTrack {
                    started: now,
                    lost: 0,
                    spurious: 0,
                });
            }
            if let Some(u) = &mut self.undo {
                u.lost += out.lost_packets;
            }
            self.cc.on_congestion_event(
                now,
                &CongestionEvent {
                    kind: CongestionKind::Loss,
                    newest_sent: newest,
                    lost_bytes: out.lost_bytes,
                    bytes_in_flight: self.bytes_in_flight,
                },
                &self.rtt,
            );
        }
        let pc = out.persistent_congestion && self.rtt.has_sample() && newest_lost.is_some();
        if pc {
            // RFC 9002 §7.6.2, B.8.
            self.stats.persistent_congestion += 1;
            self.cc.on_persistent_congestion(now);
            self.undo = None;
        }
        (out.lost_packets, pc)
    }

    // ---- timers ----

    /// RFC 9002 A.6 PeerCompletedAddressValidation.
    fn peer_completed_address_validation(&self) -> bool {
        self.is_server || self.handshake_confirmed || self.handshake_acked
    }

    fn earliest_loss_time(&self) -> Option<(Instant, Space)> {
        Space::ALL
            .iter()
            .filter_map(|&s| {
                let st = self.spaces.get(idx(s))?.as_deref()?;
                Some((st.loss_time?, s))
            })
            .min_by_key(|(t, _)| *t)
    }

    fn any_ack_eliciting_in_flight(&self) -> bool {
        self.spaces
            .iter()
            .flatten()
            .any(|s| s.sent.has_ack_eliciting_in_flight())
    }

    /// The PTO period with backoff, without max_ack_delay.
    fn pto_backed_off(&self) -> Duration {
        self.backed_off(self.rtt.pto_base())
    }

    /// `d` times the PTO backoff factor 2^pto_count (capped at 2^20); no multiplication in
    /// the usual case of no backoff.
    fn backed_off(&self, d: Duration) -> Duration {
        if self.pto_count == 0 {
            d
        } else {
            d * (1u32 << self.pto_count.min(20))
        }
    }

    /// RFC 9002 A.8 GetPtoTimeAndSpace.
    fn pto_time_and_space(&self, now: Instant) -> Option<(Instant, Space)> {
        self.pto_time_and_space_given(now, self.any_ack_eliciting_in_flight())
    }

    /// [`PathRecovery::pto_time_and_space`] when the caller already knows whether anything
    /// ack-eliciting is in flight.
    fn pto_time_and_space_given(
        &self,
        now: Instant,
        any_eliciting_in_flight: bool,
    ) -> Option<(Instant, Space)> {
        let duration = self.pto_backed_off();
        if !any_eliciting_in_flight {
            // Anti-deadlock (RFC 9002 §6.2.2.1): the client arms the PTO from now.
            let space = if self.has_handshake_keys {
                Space::Handshake
            } else {
                Space::Initial
            };
            return self.has_space(space).then_some((now + duration, space));
        }
        let mut best: Option<(Instant, Space)> = None;
        for space in Space::ALL {
            let Some(st) = self.spaces.get(idx(space)).and_then(Option::as_deref) else {
                continue;
            };
            if !st.sent.has_ack_eliciting_in_flight() {
                continue;
            }
            let mut d = duration;
            if space == Space::Data {
                // §6.2.1: "An endpoint MUST NOT set its PTO timer for the Application Data
                // packet number space until the handshake is confirmed."
                if !self.handshake_confirmed {
                    break;
                }
                d += self.backed_off(self.peer_max_ack_delay);
            }
            let Some(last) = st.sent.last_ack_eliciting_sent() else {
                continue;
            };
            let t = last + d;
            if best.is_none_or(|(b, _)| t < b) {
                best = Some((t, space));
            }
        }
        best
    }

    /// RFC 9002 A.8 SetLossDetectionTimer.
    fn set_loss_timer(&mut self, now: Instant) {
        self.loss_timer_stale.set(None);
        self.loss_timer.set(self.compute_loss_timer(now));
    }

    /// The loss-detection timer, worked out first if a sent packet left it stale.
    fn current_loss_timer(&self) -> Option<(Instant, Timer)> {
        if let Some(at) = self.loss_timer_stale.take() {
            self.loss_timer.set(self.compute_loss_timer(at));
        }
        self.loss_timer.get()
    }

    /// What SetLossDetectionTimer (RFC 9002 A.8) sets the timer to, called at `now`.
    fn compute_loss_timer(&self, now: Instant) -> Option<(Instant, Timer)> {
        // One pass over the spaces finds both the earliest loss time (the first space wins
        // a tie) and whether anything ack-eliciting is in flight.
        let mut loss: Option<(Instant, Space)> = None;
        let mut any_eliciting = false;
        for space in Space::ALL {
            let Some(st) = self.spaces.get(idx(space)).and_then(Option::as_deref) else {
                continue;
            };
            if let Some(t) = st.loss_time {
                if loss.is_none_or(|(b, _)| t < b) {
                    loss = Some((t, space));
                }
            }
            any_eliciting |= st.sent.has_ack_eliciting_in_flight();
        }
        if let Some((t, s)) = loss {
            Some((t, Timer::LossTime(s)))
        } else if self.amplification_limited
            || (!any_eliciting && self.peer_completed_address_validation())
        {
            // §6.2.2.1: a server at its amplification limit must not arm the PTO; nothing
            // in flight and a validated address need no probe either.
            None
        } else {
            self.pto_time_and_space_given(now, any_eliciting)
                .map(|(t, s)| (t, Timer::Pto(s)))
        }
    }

    /// The earliest deadline of this path: the loss-detection timer (loss time or PTO) or
    /// an ACK owed in one of its spaces.
    pub fn poll_timeout(&self) -> Option<(Instant, Timer)> {
        let mut best = self.current_loss_timer();
        for space in Space::ALL {
            let Some(st) = self.spaces.get(idx(space)).and_then(Option::as_deref) else {
                continue;
            };
            if let Some(t) = st.recv.deadline() {
                if best.is_none_or(|(b, _)| t < b) {
                    best = Some((t, Timer::Ack(space)));
                }
            }
        }
        best
    }

    /// The loss-detection timer alone.
    pub fn loss_detection_timer(&self) -> Option<(Instant, Timer)> {
        self.current_loss_timer()
    }

    /// Handles the loss-detection timer if it has passed (RFC 9002 A.9 OnLossDetectionTimeout).
    pub fn on_timeout(
        &mut self,
        now: Instant,
        sink: &mut dyn RecoverySink<F>,
    ) -> Option<TimeoutAction> {
        let (deadline, _) = self.current_loss_timer()?;
        if deadline > now {
            return None;
        }
        if let Some((_, space)) = self.earliest_loss_time() {
            self.detect_lost(now, space, sink);
            self.set_loss_timer(now);
            return Some(TimeoutAction::LossDetected);
        }
        let action = if !self.any_ack_eliciting_in_flight() {
            // §6.2.2.1 anti-deadlock: one Handshake packet, or a padded Initial.
            let space = if self.has_handshake_keys {
                Space::Handshake
            } else {
                Space::Initial
            };
            self.set_probes(space, 1)
        } else {
            // §6.2.4: one or two ack-eliciting packets in the space whose PTO fired.
            match self.pto_time_and_space(now) {
                Some((_, space)) => self.set_probes(space, 2),
                None => None,
            }
        };
        self.pto_count += 1;
        self.stats.ptos += 1;
        self.set_loss_timer(now);
        action
    }

    fn set_probes(&mut self, space: Space, count: u8) -> Option<TimeoutAction> {
        let st = self.st(space)?;
        st.probes = count;
        Some(TimeoutAction::Probe { space, count })
    }

    // ---- handshake and configuration ----

    /// Handshake keys are available (the anti-deadlock probe then goes in Handshake).
    pub fn on_handshake_keys(&mut self, now: Instant) {
        self.has_handshake_keys = true;
        self.set_loss_timer(now);
    }

    /// The handshake is confirmed (RFC 9001 §4.1.2): max_ack_delay now bounds the ack delay
    /// used for RTT, and the application space gets a PTO. The application space's ring is
    /// freed once the packets of the handshake's end are acknowledged
    /// ([`SentPackets::release_when_empty`]).
    pub fn on_handshake_confirmed(&mut self, now: Instant) {
        self.handshake_confirmed = true;
        // The handshake's last burst need not size the ring for the connection's life.
        if let Some(st) = self.st(Space::Data) {
            st.sent.release_when_empty();
        }
        self.set_loss_timer(now);
    }

    /// Whether the handshake is confirmed.
    pub fn is_handshake_confirmed(&self) -> bool {
        self.handshake_confirmed
    }

    /// A server at its anti-amplification limit must not arm the PTO (RFC 9002 §6.2.2.1);
    /// call with `false` once it can send again.
    pub fn set_amplification_limited(&mut self, now: Instant, limited: bool) {
        self.amplification_limited = limited;
        self.set_loss_timer(now);
    }

    /// A client accepted a Retry (RFC 9002 §6.3: "Clients that receive a Retry packet reset
    /// congestion control and loss recovery state, including resetting any pending
    /// timers"). The Initial packets sent so far leave flight without being acknowledged
    /// or declared lost (the caller sends their CRYPTO data again), packet numbers carry
    /// on (RFC 9000 §17.2.5.3), and the probe backoff starts over, so a Retry that came
    /// after several probe timeouts does not leave the retried Initial waiting for the
    /// backed-off timer. The congestion controller saw no acknowledgement yet and keeps
    /// its state.
    pub fn on_retry(&mut self, now: Instant) {
        if let Some(st) = self.st(Space::Initial) {
            let bytes = st.sent.discard();
            st.loss_time = None;
            st.probes = 0;
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(bytes);
        }
        self.pto_count = 0;
        self.set_loss_timer(now);
    }

    /// Discards a space when its keys are dropped (RFC 9002 §6.4, A.11, B.9): its packets
    /// leave bytes in flight without being acknowledged or lost; its receive state goes too.
    pub fn discard_space(&mut self, now: Instant, space: Space) {
        let Some(slot) = self.spaces.get_mut(idx(space)) else {
            return;
        };
        if let Some(mut st) = slot.take() {
            let bytes = st.sent.discard();
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(bytes);
            self.earlier_path_in_flight = self.earlier_path_in_flight.min(self.bytes_in_flight);
        }
        // A.11: "pto_count = 0" when Initial or Handshake keys are discarded.
        self.pto_count = 0;
        self.set_loss_timer(now);
    }

    /// The peer's max_ack_delay (from its transport parameters, or the largest value asked
    /// for with ACK_FREQUENCY and not yet acknowledged; ack-frequency §7).
    pub fn set_peer_max_ack_delay(&mut self, d: Duration) {
        self.peer_max_ack_delay = d;
    }

    /// The peer's ack_delay_exponent (from its transport parameters).
    pub fn set_peer_ack_delay_exponent(&mut self, e: u8) {
        self.peer_ack_delay_exponent = e.min(20);
    }

    /// A new maximum datagram size (PMTU discovery).
    pub fn set_max_datagram_size(&mut self, mds: u64) {
        self.mds = mds;
        self.cc.set_max_datagram_size(mds);
    }

    // ---- getters ----

    /// The RTT estimator.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The congestion controller.
    pub fn congestion_controller(&self) -> &dyn CongestionController {
        &*self.cc
    }

    /// The congestion window in bytes.
    pub fn window(&self) -> u64 {
        self.cc.window()
    }

    /// Bytes in flight on this path.
    pub fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// The current PTO backoff exponent.
    pub fn pto_count(&self) -> u32 {
        self.pto_count
    }

    /// The PTO period for `space` with the current backoff (RFC 9002 §6.2.1).
    pub fn pto_period(&self, space: Space) -> Duration {
        let mut d = self.pto_backed_off();
        if space == Space::Data {
            d += self.backed_off(self.peer_max_ack_delay);
        }
        d
    }

    /// Whether ECN validation failed (the caller should stop marking packets ECT).
    pub fn ecn_failed(&self) -> bool {
        self.ecn_failed
    }

    /// The sent packets of `space`.
    pub fn sent_packets(&self, space: Space) -> Option<&SentPackets<F>> {
        Some(&self.spaces.get(idx(space))?.as_deref()?.sent)
    }

    /// Counters.
    pub fn stats(&self) -> RecoveryStats {
        self.stats
    }

    /// The delivery-rate sampler.
    pub fn rate_sampler(&self) -> &RateSampler {
        &self.rate
    }
}
