//! BBR, after the published BBRv3 model (draft-cardwell-ccwg-bbr and the Linux/QUIC
//! implementations it describes). There is no spec text for it in this project; this is
//! written from that public description:
//!
//! - the model: `max_bw` (windowed maximum delivery rate over the last two ProbeBW cycles),
//!   `min_rtt` (10 s window), and the short-term lower bounds `bw_lo` / `inflight_lo` cut by
//!   β = 0.7 in rounds with loss or ECN-CE, plus the long-term upper bound `inflight_hi` set
//!   when a probe pushes the loss rate above 2%;
//! - the states: Startup (pacing gain 2.77, cwnd gain 2) until the bandwidth stops growing by
//!   25% for 3 rounds or loss is too high; Drain (pacing gain 0.35) until in flight is below
//!   one BDP; ProbeBW cycling Down (0.9) → Cruise (1.0) → Refill (1.0, one round) → Up
//!   (1.25, cwnd gain 2.25); ProbeRTT (cwnd half a BDP for 200 ms) when the min RTT has not
//!   been refreshed for 5 s.
//!
//! Simplifications, stated: the ACK-aggregation allowance (`extra_acked`) is not modelled;
//! ECN-CE is handled like loss (a cut of the lower bounds), not with the L4S alpha; the time
//! between bandwidth probes is 2 to 3 s drawn from a small deterministic generator (the
//! model asks for randomness only to desynchronise flows).

use core::time::Duration;

use quic_wire::Instant;

use super::{initial_window, AckedPacket, CongestionController, CongestionEvent};
use crate::rate::RateSample;
use crate::rtt::RttEstimator;

const STARTUP_PACING_GAIN: f64 = 2.77;
const DRAIN_PACING_GAIN: f64 = 0.35;
const DEFAULT_CWND_GAIN: f64 = 2.0;
const UP_CWND_GAIN: f64 = 2.25;
const LOSS_THRESH: f64 = 0.02;
const BETA: f64 = 0.7;
const HEADROOM: f64 = 0.15;
const FULL_BW_GROWTH: f64 = 1.25;
const FULL_BW_ROUNDS: u32 = 3;
const MIN_RTT_WINDOW: Duration = Duration::from_secs(10);
const PROBE_RTT_INTERVAL: Duration = Duration::from_secs(5);
const PROBE_RTT_DURATION: Duration = Duration::from_millis(200);
const PACING_MARGIN: f64 = 0.99;

/// BBR's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BbrState {
    /// Exponential search for the bottleneck rate.
    Startup,
    /// Draining the queue Startup built.
    Drain,
    /// ProbeBW, decelerating.
    ProbeBwDown,
    /// ProbeBW, cruising at the estimated rate.
    ProbeBwCruise,
    /// ProbeBW, refilling the pipe before probing.
    ProbeBwRefill,
    /// ProbeBW, probing for more bandwidth.
    ProbeBwUp,
    /// Draining the queue to measure the min RTT.
    ProbeRtt,
}

/// BBR congestion control (v3 model).
#[derive(Debug, Clone)]
pub struct Bbr {
    mds: u64,
    state: BbrState,
    pacing_gain: f64,
    cwnd_gain: f64,
    cwnd: u64,
    pacing_rate: u64,
    // Model.
    max_bw_slots: [u64; 2],
    cycle_count: u64,
    bw_lo: u64,
    inflight_lo: u64,
    inflight_hi: u64,
    bw_latest: u64,
    inflight_latest: u64,
    min_rtt: Option<Duration>,
    min_rtt_stamp: Instant,
    probe_rtt_min: Option<Duration>,
    probe_rtt_min_stamp: Instant,
    // Rounds.
    delivered: u64,
    next_round_delivered: u64,
    round_count: u64,
    round_start: bool,
    loss_in_round: bool,
    // Startup.
    full_bw: u64,
    full_bw_count: u32,
    filled_pipe: bool,
    // ProbeBW.
    cycle_stamp: Instant,
    probe_wait: Duration,
    rounds_since_probe: u64,
    up_start_round: u64,
    rng: u64,
    // ProbeRTT.
    probe_rtt_done: Option<Instant>,
    probe_rtt_round_done: bool,
    prior_cwnd: u64,
}

impl Bbr {
    /// A controller for datagrams of `max_datagram_size` bytes.
    pub fn new(max_datagram_size: u64) -> Self {
        Bbr {
            mds: max_datagram_size,
            state: BbrState::Startup,
            pacing_gain: STARTUP_PACING_GAIN,
            cwnd_gain: DEFAULT_CWND_GAIN,
            cwnd: initial_window(max_datagram_size),
            pacing_rate: 0,
            max_bw_slots: [0; 2],
            cycle_count: 0,
            bw_lo: u64::MAX,
            inflight_lo: u64::MAX,
            inflight_hi: u64::MAX,
            bw_latest: 0,
            inflight_latest: 0,
            min_rtt: None,
            min_rtt_stamp: Instant::ZERO,
            probe_rtt_min: None,
            probe_rtt_min_stamp: Instant::ZERO,
            delivered: 0,
            next_round_delivered: 0,
            round_count: 0,
            round_start: false,
            loss_in_round: false,
            full_bw: 0,
            full_bw_count: 0,
            filled_pipe: false,
            cycle_stamp: Instant::ZERO,
            probe_wait: Duration::from_secs(2),
            rounds_since_probe: 0,
            up_start_round: 0,
            rng: 0x2545_f491_4f6c_dd1d,
            probe_rtt_done: None,
            probe_rtt_round_done: false,
            prior_cwnd: 0,
        }
    }

    /// The state.
    pub fn state(&self) -> BbrState {
        self.state
    }

    /// The bottleneck bandwidth estimate (max_bw), bytes per second.
    pub fn max_bw(&self) -> u64 {
        self.max_bw_slots[0].max(self.max_bw_slots[1])
    }

    /// The bandwidth the model uses: min(max_bw, bw_lo).
    pub fn bw(&self) -> u64 {
        self.max_bw().min(self.bw_lo)
    }

    /// The model's min RTT.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    fn min_pipe_cwnd(&self) -> u64 {
        4 * self.mds
    }

    /// The bandwidth-delay product times `gain`, in bytes; the initial window before there is
    /// an RTT sample.
    fn bdp(&self, gain: f64) -> u64 {
        let Some(rtt) = self.min_rtt else {
            return initial_window(self.mds);
        };
        let bdp = self.bw() as f64 * rtt.as_secs_f64();
        (bdp * gain) as u64
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn update_round(&mut self, rs: &RateSample) {
        self.delivered += rs.newly_acked;
        self.round_start = false;
        if rs.newly_acked > 0 && rs.prior_delivered >= self.next_round_delivered {
            self.next_round_delivered = self.delivered;
            self.round_count += 1;
            self.rounds_since_probe += 1;
            self.round_start = true;
        }
    }

    fn update_min_rtt(&mut self, now: Instant, sample: Duration) {
        if sample.is_zero() {
            return;
        }
        let probe_expired =
            now.saturating_duration_since(self.probe_rtt_min_stamp) > PROBE_RTT_INTERVAL;
        if self.probe_rtt_min.is_none_or(|m| sample < m) || probe_expired {
            self.probe_rtt_min = Some(sample);
            self.probe_rtt_min_stamp = now;
        }
        let expired = now.saturating_duration_since(self.min_rtt_stamp) > MIN_RTT_WINDOW;
        if let Some(p) = self.probe_rtt_min {
            if self.min_rtt.is_none_or(|m| p < m) || expired {
                self.min_rtt = Some(p);
                self.min_rtt_stamp = self.probe_rtt_min_stamp;
            }
        }
    }

    fn update_max_bw(&mut self, rs: &RateSample) {
        if rs.delivery_rate == 0 {
            return;
        }
        self.bw_latest = self.bw_latest.max(rs.delivery_rate);
        self.inflight_latest = self.inflight_latest.max(rs.delivered);
        if !rs.is_app_limited || rs.delivery_rate >= self.max_bw() {
            let slot = (self.cycle_count % 2) as usize;
            if let Some(s) = self.max_bw_slots.get_mut(slot) {
                *s = (*s).max(rs.delivery_rate);
            }
        }
    }

    fn advance_max_bw_filter(&mut self) {
        self.cycle_count += 1;
        let slot = (self.cycle_count % 2) as usize;
        if let Some(s) = self.max_bw_slots.get_mut(slot) {
            *s = 0;
        }
    }

    /// v3: an ACK whose loss rate exceeds 2% of what was in flight when the sampled packet
    /// left.
    fn inflight_too_high(rs: &RateSample) -> bool {
        rs.lost > 0 && rs.lost as f64 > rs.tx_in_flight as f64 * LOSS_THRESH
    }

    fn is_probing_bw(&self) -> bool {
        matches!(
            self.state,
            BbrState::Startup | BbrState::ProbeBwRefill | BbrState::ProbeBwUp
        )
    }

    fn check_startup_done(&mut self, rs: &RateSample) {
        if self.filled_pipe || !self.round_start || rs.is_app_limited {
            return;
        }
        let max_bw = self.max_bw();
        if max_bw as f64 >= self.full_bw as f64 * FULL_BW_GROWTH {
            self.full_bw = max_bw;
            self.full_bw_count = 0;
            return;
        }
        self.full_bw_count += 1;
        if self.full_bw_count >= FULL_BW_ROUNDS {
            self.filled_pipe = true;
        }
    }

    fn handle_loss_signals(&mut self, rs: &RateSample) {
        if Self::inflight_too_high(rs) && self.is_probing_bw() {
            // v3 BBRHandleInflightTooHigh: remember how much in flight the path tolerated.
            let floor = (self.bdp(1.0) as f64 * BETA) as u64;
            self.inflight_hi = rs.tx_in_flight.max(floor).max(self.min_pipe_cwnd());
            if self.state == BbrState::Startup {
                self.filled_pipe = true;
            } else if self.state == BbrState::ProbeBwUp {
                self.start_probe_bw_down();
            }
        }
        if self.round_start {
            if self.loss_in_round && !self.is_probing_bw() {
                // v3 BBRAdaptLowerBoundsFromCongestion, once per round.
                if self.bw_lo == u64::MAX {
                    self.bw_lo = self.max_bw();
                }
                if self.inflight_lo == u64::MAX {
                    self.inflight_lo = self.cwnd;
                }
                self.bw_lo = self.bw_latest.max((self.bw_lo as f64 * BETA) as u64);
                self.inflight_lo = self
                    .inflight_latest
                    .max((self.inflight_lo as f64 * BETA) as u64);
            }
            self.loss_in_round = false;
            self.bw_latest = 0;
            self.inflight_latest = 0;
        }
    }

    fn start_probe_bw_down(&mut self) {
        self.state = BbrState::ProbeBwDown;
        self.pacing_gain = 0.9;
        self.cwnd_gain = DEFAULT_CWND_GAIN;
        self.advance_max_bw_filter();
        // 2 to 3 s until the next probe.
        let jitter = self.next_random() % 1_000_000_000;
        self.probe_wait = Duration::from_secs(2) + Duration::from_nanos(jitter);
        self.rounds_since_probe = 0;
    }

    fn start_cruise(&mut self) {
        self.state = BbrState::ProbeBwCruise;
        self.pacing_gain = 1.0;
        self.cwnd_gain = DEFAULT_CWND_GAIN;
    }

    fn start_refill(&mut self) {
        self.state = BbrState::ProbeBwRefill;
        self.pacing_gain = 1.0;
        self.cwnd_gain = DEFAULT_CWND_GAIN;
        // Forget the short-term lower bounds before probing.
        self.bw_lo = u64::MAX;
        self.inflight_lo = u64::MAX;
        self.next_round_delivered = self.delivered;
    }

    fn start_up(&mut self) {
        self.state = BbrState::ProbeBwUp;
        self.pacing_gain = 1.25;
        self.cwnd_gain = UP_CWND_GAIN;
        self.up_start_round = self.round_count;
        self.full_bw = self.max_bw();
        self.full_bw_count = 0;
    }

    fn time_to_probe(&self, now: Instant) -> bool {
        // Wall-clock wait, or a Reno-compatible number of rounds (one per BDP packet, at most
        // 63).
        let reno_rounds = (self.bdp(1.0) / self.mds.max(1)).min(63);
        now.saturating_duration_since(self.cycle_stamp) > self.probe_wait
            || self.rounds_since_probe >= reno_rounds.max(1)
    }

    fn update_probe_bw(&mut self, now: Instant, rs: &RateSample, bytes_in_flight: u64) {
        match self.state {
            BbrState::ProbeBwDown => {
                if self.time_to_probe(now) {
                    self.start_refill();
                } else if bytes_in_flight <= self.bdp(1.0).min(self.headroom_inflight_hi()) {
                    self.start_cruise();
                }
            }
            BbrState::ProbeBwCruise if self.time_to_probe(now) => self.start_refill(),
            BbrState::ProbeBwRefill if self.round_start => self.start_up(),
            BbrState::ProbeBwUp => {
                if self.round_start && !rs.is_app_limited {
                    // Raise the ceiling while probing without trouble.
                    if self.inflight_hi != u64::MAX {
                        self.inflight_hi = self.inflight_hi.saturating_add(self.mds * 2);
                    }
                }
                // After a full round of probing, stop once 1.25 BDP is in flight: the probe
                // has shown whether more bandwidth is there, and more would only queue.
                if self.round_count > self.up_start_round && bytes_in_flight >= self.bdp(1.25) {
                    self.cycle_stamp = now;
                    self.start_probe_bw_down();
                }
            }
            _ => {}
        }
    }

    fn headroom_inflight_hi(&self) -> u64 {
        if self.inflight_hi == u64::MAX {
            return u64::MAX;
        }
        let h = (self.inflight_hi as f64 * (1.0 - HEADROOM)) as u64;
        h.max(self.min_pipe_cwnd())
    }

    fn check_probe_rtt(&mut self, now: Instant, bytes_in_flight: u64) {
        let expired = now.saturating_duration_since(self.probe_rtt_min_stamp) > PROBE_RTT_INTERVAL;
        if self.state != BbrState::ProbeRtt && expired && self.min_rtt.is_some() {
            self.prior_cwnd = self.cwnd;
            self.state = BbrState::ProbeRtt;
            self.pacing_gain = 1.0;
            self.cwnd_gain = 0.5;
            self.probe_rtt_done = None;
        }
        if self.state != BbrState::ProbeRtt {
            return;
        }
        if self.probe_rtt_done.is_none() && bytes_in_flight <= self.probe_rtt_cwnd() {
            self.probe_rtt_done = Some(now + PROBE_RTT_DURATION);
            self.probe_rtt_round_done = false;
            self.next_round_delivered = self.delivered;
        } else if let Some(done) = self.probe_rtt_done {
            if self.round_start {
                self.probe_rtt_round_done = true;
            }
            if self.probe_rtt_round_done && now >= done {
                self.probe_rtt_min_stamp = now;
                self.cwnd = self.cwnd.max(self.prior_cwnd);
                if self.filled_pipe {
                    self.cycle_stamp = now;
                    self.start_probe_bw_down();
                    self.start_cruise();
                } else {
                    self.state = BbrState::Startup;
                    self.pacing_gain = STARTUP_PACING_GAIN;
                    self.cwnd_gain = DEFAULT_CWND_GAIN;
                }
            }
        }
    }

    fn probe_rtt_cwnd(&self) -> u64 {
        self.bdp(0.5).max(self.min_pipe_cwnd())
    }

    fn set_pacing_rate(&mut self, rtt: &RttEstimator) {
        let bw = self.bw();
        if bw == 0 || self.min_rtt.is_none() {
            // Before a bandwidth sample: the initial window over the smoothed RTT.
            let srtt = rtt.smoothed().as_secs_f64().max(1e-3);
            self.pacing_rate = (STARTUP_PACING_GAIN * self.cwnd as f64 / srtt) as u64;
            return;
        }
        let rate = (self.pacing_gain * bw as f64 * PACING_MARGIN) as u64;
        if self.filled_pipe || rate > self.pacing_rate {
            self.pacing_rate = rate;
        }
    }

    fn set_cwnd(&mut self, rs: &RateSample) {
        let target = self.bdp(self.cwnd_gain).max(self.min_pipe_cwnd());
        if self.filled_pipe {
            self.cwnd = (self.cwnd + rs.newly_acked).min(target);
        } else if self.cwnd < target || self.delivered < initial_window(self.mds) {
            self.cwnd += rs.newly_acked;
        }
        self.cwnd = self.cwnd.max(self.min_pipe_cwnd());
        // Bounds from the model.
        let cap = match self.state {
            BbrState::ProbeBwCruise => self.headroom_inflight_hi(),
            BbrState::ProbeBwUp | BbrState::ProbeBwRefill | BbrState::Startup => self.inflight_hi,
            _ => self.inflight_hi,
        };
        self.cwnd = self.cwnd.min(cap).min(self.inflight_lo);
        if self.state == BbrState::ProbeRtt {
            self.cwnd = self.cwnd.min(self.probe_rtt_cwnd());
        }
        self.cwnd = self.cwnd.max(self.min_pipe_cwnd());
    }
}

impl CongestionController for Bbr {
    fn on_packet_sent(&mut self, now: Instant, bytes: u64, bytes_in_flight: u64) {
        if bytes_in_flight == bytes && self.state == BbrState::ProbeBwCruise {
            // Restarting from idle: the probe clock does not run while idle.
            self.cycle_stamp = self.cycle_stamp.max(now - self.probe_wait / 2);
        }
    }

    // The model learns from the delivery-rate sample at the end of the ACK instead.
    fn on_packets_acked(&mut self, _: Instant, _: &[AckedPacket], _: &RttEstimator) {}

    fn on_ack_end(
        &mut self,
        now: Instant,
        rs: &RateSample,
        rtt: &RttEstimator,
        bytes_in_flight: u64,
    ) {
        if rs.newly_acked == 0 {
            return;
        }
        self.update_round(rs);
        self.update_min_rtt(
            now,
            if rs.rtt.is_zero() {
                rtt.latest()
            } else {
                rs.rtt
            },
        );
        self.update_max_bw(rs);
        if rs.newly_lost > 0 {
            self.loss_in_round = true;
        }
        self.handle_loss_signals(rs);
        self.check_startup_done(rs);
        if self.state == BbrState::Startup && self.filled_pipe {
            self.state = BbrState::Drain;
            self.pacing_gain = DRAIN_PACING_GAIN;
            self.cwnd_gain = DEFAULT_CWND_GAIN;
        }
        if self.state == BbrState::Drain && bytes_in_flight <= self.bdp(1.0) {
            self.cycle_stamp = now;
            self.start_probe_bw_down();
        }
        self.update_probe_bw(now, rs, bytes_in_flight);
        self.check_probe_rtt(now, bytes_in_flight);
        self.set_pacing_rate(rtt);
        self.set_cwnd(rs);
    }

    fn on_congestion_event(&mut self, _now: Instant, _e: &CongestionEvent, _rtt: &RttEstimator) {
        // Loss and ECN-CE mark the round; the model reacts at the round's end
        // (handle_loss_signals). Losses found by the timer have no ACK to carry a sample.
        self.loss_in_round = true;
    }

    fn on_persistent_congestion(&mut self, _now: Instant) {
        // Like a retransmission timeout: keep the model, restart from a minimal window.
        self.prior_cwnd = self.cwnd;
        self.cwnd = self.min_pipe_cwnd();
    }

    fn on_spurious_congestion(&mut self, _now: Instant) -> bool {
        // The response to loss was to cut the short-term lower bounds: lift them again.
        let had_bounds = self.bw_lo != u64::MAX || self.inflight_lo != u64::MAX;
        self.bw_lo = u64::MAX;
        self.inflight_lo = u64::MAX;
        had_bounds
    }

    fn window(&self) -> u64 {
        self.cwnd
    }

    fn ssthresh(&self) -> u64 {
        u64::MAX
    }

    fn in_slow_start(&self) -> bool {
        self.state == BbrState::Startup
    }

    fn pacing_rate(&self, _rtt: &RttEstimator) -> Option<u64> {
        (self.pacing_rate > 0).then_some(self.pacing_rate)
    }

    fn set_max_datagram_size(&mut self, bytes: u64) {
        self.mds = bytes;
        self.cwnd = self.cwnd.max(self.min_pipe_cwnd());
    }

    fn name(&self) -> &'static str {
        "bbr"
    }

    fn bandwidth_estimate(&self) -> Option<u64> {
        let bw = self.max_bw();
        (bw > 0).then_some(bw)
    }
}
