//! A directional link and the impairments it applies.
//!
//! The model, in the order a datagram meets it:
//! 0. **Filter**: the test's own hook ([`Sim::set_filter`](super::Sim::set_filter)) may
//!    drop or rewrite the datagram.
//! 1. **MTU**: a datagram longer than [`LinkConfig::mtu`] is dropped.
//! 2. **Blackholes**: a datagram sent inside one of [`LinkConfig::blackholes`] is dropped.
//! 3. **Queue and bandwidth**: with a bandwidth, the link serialises one datagram at a
//!    time (`len * 8 / bandwidth` seconds each) and holds waiting ones in a FIFO of
//!    [`LinkConfig::queue_bytes`]; a datagram that does not fit is tail-dropped.
//!    Without a bandwidth serialisation takes no time and nothing queues.
//! 4. **Loss** on the wire ([`Loss`]): the datagram still used its share of bandwidth.
//! 5. **Propagation**: arrival = end of serialisation + [`LinkConfig::delay`] + a uniform
//!    jitter in `[0, jitter]`. A link is FIFO: jitter never lets a datagram overtake an
//!    earlier one (it waits for it instead), unless [`Reorder`] picks it to be held back
//!    by an extra delay, which lets later datagrams pass it.
//! 6. **Duplication**: a second copy arrives at the same time, right after the first.
//! 7. **Corruption**: each copy independently may have one random bit flipped.
//!
//! ECN: a link can clear the codepoint ([`LinkConfig::ecn_bleach`], a middlebox that
//! strips it) and mark ECN-capable datagrams Congestion Experienced when its queue holds
//! at least [`LinkConfig::ecn_ce_threshold`] bytes on arrival (a step-marking AQM).

use core::{net::SocketAddr, time::Duration};
use std::{boxed::Box, collections::VecDeque, vec::Vec};

use bytes::BytesMut;
use quic_wire::{Ecn, Instant};

use super::{
    rng::SimRng,
    stats::{DropCause, LinkStats},
};

/// How a link loses datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Loss {
    /// No loss.
    #[default]
    None,
    /// Each datagram is lost independently with this probability.
    Random(f64),
    /// Bursty loss from a two-state Markov chain.
    GilbertElliott(GilbertElliott),
}

/// The Gilbert-Elliott bursty loss model: the link is in a good or a bad state, each with
/// its own loss probability, and switches state with the given probabilities after each
/// datagram. The mean burst length in the bad state is `1 / p_leave_bad` datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of going from good to bad after a datagram.
    pub p_enter_bad: f64,
    /// Probability of going from bad to good after a datagram.
    pub p_leave_bad: f64,
    /// Loss probability in the good state (often 0).
    pub loss_good: f64,
    /// Loss probability in the bad state (often 1).
    pub loss_bad: f64,
}

/// Reordering: a datagram is held back by an extra delay with probability `p`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reorder {
    /// The probability that a datagram is held back.
    pub p: f64,
    /// How long it is held back, on top of the normal delay.
    pub extra_delay: Duration,
}

/// The properties of a directional link. [`Default`] is an ideal link: unlimited
/// bandwidth, no delay, an MTU of 1500 bytes and no impairments.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Bits per second, or `None` for unlimited (no serialisation time, no queue).
    pub bandwidth_bps: Option<u64>,
    /// One-way propagation delay.
    pub delay: Duration,
    /// The most extra delay added to a datagram, drawn uniformly in `[0, jitter]`.
    pub jitter: Duration,
    /// Capacity of the queue in payload bytes, counting every datagram accepted but not
    /// fully serialised (the one on the wire included). Only used with a bandwidth.
    pub queue_bytes: usize,
    /// Loss on the wire.
    pub loss: Loss,
    /// Reordering.
    pub reorder: Reorder,
    /// Probability that a datagram is duplicated.
    pub duplicate: f64,
    /// Probability that a copy has one random bit flipped.
    pub corrupt: f64,
    /// The largest payload (UDP datagram) the link carries.
    pub mtu: usize,
    /// Half-open windows `[start, end)` of virtual time during which everything sent on
    /// the link is dropped.
    pub blackholes: Vec<(Instant, Instant)>,
    /// Mark ECT(0)/ECT(1) datagrams CE when the queue already holds at least this many
    /// bytes as they enter it; `None` never marks. Only meaningful with a bandwidth.
    pub ecn_ce_threshold: Option<usize>,
    /// Clear the ECN codepoint of every datagram (to Not-ECT).
    pub ecn_bleach: bool,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            bandwidth_bps: None,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            queue_bytes: 64 * 1024,
            loss: Loss::None,
            reorder: Reorder::default(),
            duplicate: 0.0,
            corrupt: 0.0,
            mtu: 1500,
            blackholes: Vec::new(),
            ecn_ce_threshold: None,
            ecn_bleach: false,
        }
    }
}

impl LinkConfig {
    /// An ideal link with this one-way delay.
    pub fn with_delay(delay: Duration) -> Self {
        LinkConfig {
            delay,
            ..LinkConfig::default()
        }
    }

    /// The time to put `len` bytes on the wire, rounded down to the nanosecond.
    pub fn serialization_time(&self, len: usize) -> Duration {
        match self.bandwidth_bps {
            None | Some(0) => Duration::ZERO,
            Some(bps) => {
                let bits = u128::try_from(len).unwrap_or(u128::MAX).saturating_mul(8);
                let nanos = bits.saturating_mul(1_000_000_000) / u128::from(bps);
                Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            }
        }
    }

    fn in_blackhole(&self, now: Instant) -> bool {
        self.blackholes
            .iter()
            .any(|&(start, end)| start <= now && now < end)
    }
}

/// A datagram the link accepted: when it arrives, and an optional duplicate.
pub(crate) struct Carried {
    pub(crate) arrival: Instant,
    /// The codepoint on arrival (possibly bleached or marked).
    pub(crate) ecn: Ecn,
    pub(crate) data: BytesMut,
    pub(crate) duplicate: Option<BytesMut>,
}

/// A test's hook on a link: sees each datagram offered (time, payload), may rewrite it,
/// returns `false` to drop it.
pub(crate) type Filter = Box<dyn FnMut(Instant, &mut BytesMut) -> bool>;

/// One direction of a link and its state.
pub(crate) struct Link {
    pub(crate) filter: Option<Filter>,
    pub(crate) from: SocketAddr,
    pub(crate) to: SocketAddr,
    pub(crate) config: LinkConfig,
    pub(crate) stats: LinkStats,
    rng: SimRng,
    /// When the transmitter finishes the last accepted datagram.
    busy_until: Instant,
    /// (end of serialisation, len) of datagrams accepted but not yet fully sent.
    backlog: VecDeque<(Instant, usize)>,
    backlog_bytes: usize,
    /// The latest arrival time of an in-order datagram (FIFO floor).
    last_arrival: Instant,
    /// Gilbert-Elliott state.
    in_bad_state: bool,
}

impl Link {
    pub(crate) fn new(from: SocketAddr, to: SocketAddr, config: LinkConfig, rng: SimRng) -> Self {
        Link {
            filter: None,
            from,
            to,
            config,
            stats: LinkStats::default(),
            rng,
            busy_until: Instant::ZERO,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            last_arrival: Instant::ZERO,
            in_bad_state: false,
        }
    }

    /// Offers a datagram at `now`: either when and in how many copies it arrives, or why
    /// it was dropped. Updates every counter except `delivered`.
    pub(crate) fn carry(
        &mut self,
        now: Instant,
        mut data: BytesMut,
        ecn: Ecn,
    ) -> Result<Carried, DropCause> {
        let len = data.len();
        self.stats.sent += 1;
        self.stats.sent_bytes += len as u64;
        if let Some(filter) = self.filter.as_mut() {
            if !filter(now, &mut data) {
                self.stats.count_drop(DropCause::Filter);
                return Err(DropCause::Filter);
            }
        }
        let mut ecn = if self.config.ecn_bleach {
            Ecn::NotEct
        } else {
            ecn
        };
        let result = self.admit(now, len, &mut ecn).and_then(|done| {
            if self.lose() {
                Err(DropCause::Loss)
            } else {
                Ok(done)
            }
        });
        let serialized = match result {
            Ok(t) => t,
            Err(cause) => {
                self.stats.count_drop(cause);
                return Err(cause);
            }
        };
        let arrival = self.arrival_time(serialized);
        let duplicate = if self.rng.chance(self.config.duplicate) {
            self.stats.duplicated += 1;
            let mut copy = data.clone();
            self.maybe_corrupt(&mut copy);
            Some(copy)
        } else {
            None
        };
        self.maybe_corrupt(&mut data);
        Ok(Carried {
            arrival,
            ecn,
            data,
            duplicate,
        })
    }

    /// MTU, blackhole and queue checks (and CE marking); on success, the time
    /// serialisation ends.
    fn admit(&mut self, now: Instant, len: usize, ecn: &mut Ecn) -> Result<Instant, DropCause> {
        if len > self.config.mtu {
            return Err(DropCause::Mtu);
        }
        if self.config.in_blackhole(now) {
            return Err(DropCause::Blackhole);
        }
        let tx = self.config.serialization_time(len);
        if tx.is_zero() {
            return Ok(now.max(self.busy_until));
        }
        while let Some(&(end, n)) = self.backlog.front() {
            if end > now {
                break;
            }
            self.backlog.pop_front();
            self.backlog_bytes -= n;
        }
        if self.backlog_bytes + len > self.config.queue_bytes {
            return Err(DropCause::Queue);
        }
        let congested = self
            .config
            .ecn_ce_threshold
            .is_some_and(|threshold| self.backlog_bytes >= threshold);
        if congested && matches!(ecn, Ecn::Ect0 | Ecn::Ect1) {
            *ecn = Ecn::Ce;
            self.stats.ce_marked += 1;
        }
        let end = now.max(self.busy_until) + tx;
        self.busy_until = end;
        self.backlog.push_back((end, len));
        self.backlog_bytes += len;
        Ok(end)
    }

    /// Draws the loss decision and advances the Gilbert-Elliott chain.
    fn lose(&mut self) -> bool {
        match self.config.loss {
            Loss::None => false,
            Loss::Random(p) => self.rng.chance(p),
            Loss::GilbertElliott(ge) => {
                let p = if self.in_bad_state {
                    ge.loss_bad
                } else {
                    ge.loss_good
                };
                let lost = self.rng.chance(p);
                let switch = if self.in_bad_state {
                    ge.p_leave_bad
                } else {
                    ge.p_enter_bad
                };
                if self.rng.chance(switch) {
                    self.in_bad_state = !self.in_bad_state;
                }
                lost
            }
        }
    }

    fn arrival_time(&mut self, serialized: Instant) -> Instant {
        let jitter = self.rng.duration_up_to(self.config.jitter);
        let arrival = serialized + self.config.delay + jitter;
        if self.rng.chance(self.config.reorder.p) {
            self.stats.reordered += 1;
            // Held back and exempt from the FIFO floor: later datagrams may pass it.
            return arrival + self.config.reorder.extra_delay;
        }
        let arrival = arrival.max(self.last_arrival);
        self.last_arrival = arrival;
        arrival
    }

    fn maybe_corrupt(&mut self, data: &mut BytesMut) {
        if data.is_empty() || !self.rng.chance(self.config.corrupt) {
            return;
        }
        let bit = self.rng.below(data.len() as u64 * 8);
        // `bit / 8 < data.len()` because `bit < len * 8`.
        let byte = usize::try_from(bit / 8).unwrap_or(0);
        data[byte] ^= 1 << (bit % 8);
        self.stats.corrupted += 1;
    }
}
