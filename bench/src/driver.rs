//! The in-memory link and clock that drive both endpoints of a [`Stack`].
//!
//! One thread does everything: it runs due timers, then moves every datagram the client wants
//! to send to the server, then every datagram the server wants to send to the client, each
//! delivered at once (no latency, no reordering), optionally dropping some by a seeded
//! [`Loss`]. The workload's application logic runs between these rounds.
//!
//! The clock the stacks see is the real monotonic clock plus an offset. Whenever a round moves
//! nothing and the application is waiting, the driver advances the offset to the earliest
//! pending timer instead of sleeping, so waits (probe timeouts, draining) cost no real time and
//! the wall-clock figures count only work done. Real time measured around a run therefore
//! covers the CPU work of both ends and of the harness.

use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::{
    loss::Loss,
    stack::{Side, Stack},
};

/// Default for [`Driver::batch`]: the most datagrams one end sends before the other end runs,
/// like a receive batch of a real socket (recvmmsg or GRO). Without a bound a sender would put a
/// whole congestion window on the link before the receiver could acknowledge any of it.
pub const BATCH: usize = BATCH_DEFAULT;
const BATCH_DEFAULT: usize = 32;

/// Size of one receive arena: what a 64 KiB GRO read fills.
pub const ARENA: usize = 64 * 1024;

/// Most datagrams one `poll_transmit` call may return back to back (a GSO send): what
/// quinn's own driver asks quinn-proto for.
pub const GSO_SEGMENTS: usize = 10;

/// What a workload's application step reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The workload is complete.
    Done,
    /// More to do.
    Continue,
}

/// Datagram counts of one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams the sender produced.
    pub sent: u64,
    /// `poll_transmit` calls that returned something (a GSO burst is one send).
    pub sends: u64,
    /// Of those, datagrams the link dropped.
    pub dropped: u64,
    /// Bytes of the datagrams delivered.
    pub delivered_bytes: u64,
}

/// Drives one stack's two endpoints over a simulated link.
pub struct Driver {
    /// The stack being driven.
    pub stack: Box<dyn Stack>,
    /// Loss applied to client-to-server and server-to-client datagrams.
    loss: [Loss; 2],
    /// How far the stacks' clock runs ahead of the real clock.
    skew: Duration,
    /// Largest datagram; a bigger one is a stack bug and fails the run.
    max_udp_payload: usize,
    /// Client-to-server and server-to-client counts.
    pub links: [LinkStats; 2],
    /// Virtual time skipped in total; a run that needs more than `skip_budget` is stuck.
    pub skipped: Duration,
    skip_budget: Duration,
    /// Most datagrams one end sends in one round before the other end gets its turn.
    pub batch: usize,
    /// Where the stacks write the datagram they send; reused.
    scratch: Vec<u8>,
    /// The unused tail of the current receive arena; delivered datagrams are split off its
    /// front, and a new arena is started when one no longer fits.
    arena: BytesMut,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("links", &self.links)
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl Driver {
    /// A lossless link for `stack`.
    pub fn new(stack: Box<dyn Stack>, max_udp_payload: u16) -> Self {
        Self {
            stack,
            loss: [Loss::new(0.0, 0), Loss::new(0.0, 0)],
            skew: Duration::ZERO,
            max_udp_payload: usize::from(max_udp_payload),
            links: [LinkStats::default(); 2],
            skipped: Duration::ZERO,
            skip_budget: Duration::from_secs(3600),
            batch: BATCH,
            scratch: Vec::with_capacity(usize::from(max_udp_payload)),
            arena: BytesMut::new(),
        }
    }

    /// From now on drops `percent` percent of the datagrams in each direction; the two
    /// directions use generators seeded from `seed`.
    pub fn set_loss(&mut self, percent: f64, seed: u64) {
        self.loss = [
            Loss::new(percent, seed),
            Loss::new(percent, seed ^ 0x5a5a_5a5a_5a5a_5a5a),
        ];
    }

    /// The time the stacks see now.
    pub fn now(&self) -> Instant {
        Instant::now() + self.skew
    }

    /// One round: due timers on both ends, then the client's datagrams, then the server's.
    /// Returns whether anything happened.
    pub fn round(&mut self) -> Result<bool, String> {
        let mut busy = false;
        for side in [Side::Client, Side::Server] {
            let now = self.now();
            if self.stack.poll_timeout(side).is_some_and(|t| t <= now) {
                self.stack.handle_timeout(side, now);
                busy = true;
            }
        }
        busy |= self.send_all(Side::Client)?;
        busy |= self.send_all(Side::Server)?;
        Ok(busy)
    }

    fn send_all(&mut self, from: Side) -> Result<bool, String> {
        let dir = match from {
            Side::Client => 0,
            Side::Server => 1,
        };
        let mut any = false;
        let mut sent = 0;
        while sent < self.batch {
            let now = self.now();
            let max = (self.batch - sent).min(GSO_SEGMENTS);
            let Some(burst) = self.stack.poll_transmit(from, now, &mut self.scratch, max) else {
                break;
            };
            any = true;
            self.links[dir].sends += 1;
            let (size, segment) = (burst.size, burst.segment);
            if size == 0
                || segment == 0
                || size > self.scratch.len()
                || size.div_ceil(segment) > max
            {
                return Err(format!(
                    "{from:?} reported a {size}-byte burst of {segment}-byte segments (at most \
                     {max} datagrams, {} bytes written)",
                    self.scratch.len()
                ));
            }
            for datagram in self.scratch[..size].chunks(segment) {
                sent += 1;
                self.links[dir].sent += 1;
                if datagram.len() > self.max_udp_payload {
                    return Err(format!(
                        "{from:?} sent a {}-byte datagram (limit {})",
                        datagram.len(),
                        self.max_udp_payload
                    ));
                }
                if self.loss[dir].drop_next() {
                    self.links[dir].dropped += 1;
                    continue;
                }
                self.links[dir].delivered_bytes += datagram.len() as u64;
                if self.arena.capacity() < datagram.len() {
                    self.arena = BytesMut::with_capacity(ARENA.max(datagram.len()));
                }
                self.arena.extend_from_slice(datagram);
                let d = self.arena.split();
                self.stack.handle_datagram(from.peer(), now, d);
            }
        }
        Ok(any)
    }

    /// Moves the clock to the earliest pending timer, if it lies within `limit` of now.
    /// Returns whether it did.
    pub fn skip_to_timer(&mut self, limit: Duration) -> Result<bool, String> {
        let now = self.now();
        let next = [Side::Client, Side::Server]
            .into_iter()
            .filter_map(|s| self.stack.poll_timeout(s))
            .min();
        let Some(t) = next else {
            return Ok(false);
        };
        let gap = t.saturating_duration_since(now);
        if gap > limit {
            return Ok(false);
        }
        self.skew += gap;
        self.skipped += gap;
        if self.skipped > self.skip_budget {
            return Err(format!(
                "stuck: skipped {:?} of virtual time waiting for timers",
                self.skipped
            ));
        }
        Ok(true)
    }

    /// Alternates `app` and link rounds until `app` says it is done. When a round moves
    /// nothing after the application has had its turn, the clock jumps to the next timer; with
    /// no timer left the run is stalled and fails.
    pub fn run(
        &mut self,
        mut app: impl FnMut(&mut dyn Stack, Instant) -> Result<Flow, String>,
    ) -> Result<(), String> {
        let mut idle_rounds = 0u32;
        loop {
            let now = self.now();
            if app(self.stack.as_mut(), now)? == Flow::Done {
                return Ok(());
            }
            if self.round()? {
                idle_rounds = 0;
                continue;
            }
            idle_rounds += 1;
            if idle_rounds >= 2 && !self.skip_to_timer(Duration::MAX)? {
                return Err("stalled: nothing to send, no timer, workload not done".into());
            }
        }
    }

    /// Lets both ends go quiet: runs rounds, jumping over timers due within `horizon`, until
    /// a round moves nothing and no timer is due within `horizon`.
    pub fn settle(&mut self, horizon: Duration) -> Result<(), String> {
        for _ in 0..100_000 {
            if self.round()? {
                continue;
            }
            if !self.skip_to_timer(horizon)? {
                return Ok(());
            }
        }
        Err("never went quiet".into())
    }
}

#[cfg(test)]
mod tests {
    use std::{cell::RefCell, rc::Rc};

    use super::*;
    use crate::stack::{Burst, ConnId, ReadState, StreamId};

    /// A stand-in stack: the client has `left` one-byte datagrams to send, at most `burst` per
    /// timer period of `period`; the server checks what arrives.
    ///
    /// With `gso`, each call sends as many datagrams as allowed back to back: 3 bytes each but
    /// the last, which has 2, every byte of datagram `i` being `i`; the server keeps them all.
    struct Ticker {
        left: u32,
        burst: u32,
        sendable: u32,
        next_tick: Option<Instant>,
        period: Duration,
        gso: bool,
        next: u8,
        got: Rc<RefCell<Vec<Vec<u8>>>>,
        /// With `gso`: what to report instead of the burst actually written.
        claim: Option<Burst>,
    }

    impl Stack for Ticker {
        fn poll_transmit(
            &mut self,
            side: Side,
            _now: Instant,
            buf: &mut Vec<u8>,
            max_datagrams: usize,
        ) -> Option<Burst> {
            if side == Side::Client && self.gso && self.sendable > 0 && self.left > 0 {
                let n = self.sendable.min(self.left).min(max_datagrams as u32);
                buf.clear();
                for k in 0..n {
                    let len = if k + 1 == n { 2 } else { 3 };
                    buf.extend(std::iter::repeat_n(self.next, len));
                    self.next += 1;
                }
                self.sendable -= n;
                self.left -= n;
                return Some(
                    self.claim
                        .unwrap_or(Burst::new(buf.len(), (n > 1).then_some(3))),
                );
            }
            if side == Side::Client && self.sendable > 0 && self.left > 0 {
                self.sendable -= 1;
                self.left -= 1;
                buf.clear();
                buf.push(1);
                return Some(Burst {
                    size: 1,
                    segment: 1,
                });
            }
            None
        }
        fn handle_datagram(&mut self, side: Side, _now: Instant, d: BytesMut) {
            assert_eq!(side, Side::Server);
            if self.gso {
                self.got.borrow_mut().push(d.to_vec());
            } else {
                assert_eq!(d[..], [1]);
            }
        }
        fn poll_timeout(&mut self, side: Side) -> Option<Instant> {
            (side == Side::Client && self.left > 0)
                .then_some(self.next_tick)
                .flatten()
        }
        fn handle_timeout(&mut self, _side: Side, now: Instant) {
            self.sendable = self.burst;
            self.next_tick = Some(now + self.period);
        }
        fn connect(&mut self, _now: Instant) -> Result<ConnId, String> {
            Ok(ConnId(0))
        }
        fn accept(&mut self) -> Option<ConnId> {
            None
        }
        fn is_established(&self, _: Side, _: ConnId) -> bool {
            true
        }
        fn is_closed(&self, _: Side, _: ConnId) -> bool {
            false
        }
        fn connection_count(&self, _: Side) -> usize {
            0
        }
        fn open_bi(&mut self, _: Side, _: ConnId) -> Option<StreamId> {
            None
        }
        fn accept_bi(&mut self, _: Side, _: ConnId) -> Option<StreamId> {
            None
        }
        fn write(&mut self, _: Side, _: ConnId, _: StreamId, _: &[u8]) -> usize {
            0
        }
        fn finish(&mut self, _: Side, _: ConnId, _: StreamId) {}
        fn read(&mut self, _: Side, _: ConnId, _: StreamId, _: &mut dyn FnMut(&[u8])) -> ReadState {
            ReadState::Reset
        }
        fn close(&mut self, _: Side, _: ConnId, _: Instant) {}
    }

    fn ticker(left: u32, burst: u32, period: Duration) -> Driver {
        let stack = Ticker {
            left,
            burst,
            sendable: 0,
            next_tick: Some(Instant::now()),
            period,
            gso: false,
            next: 0,
            got: Rc::default(),
            claim: None,
        };
        Driver::new(Box::new(stack), 1452)
    }

    /// A ticker that sends GSO bursts, and what its server receives.
    fn gso_ticker(left: u32) -> (Driver, Rc<RefCell<Vec<Vec<u8>>>>) {
        gso_ticker_on(left, 1452, None)
    }

    /// A GSO ticker on a link of `max_udp_payload`, reporting `claim` if given.
    fn gso_ticker_on(
        left: u32,
        max_udp_payload: u16,
        claim: Option<Burst>,
    ) -> (Driver, Rc<RefCell<Vec<Vec<u8>>>>) {
        let got = Rc::<RefCell<Vec<Vec<u8>>>>::default();
        let stack = Ticker {
            left,
            burst: left,
            sendable: left,
            next_tick: None,
            period: Duration::from_secs(1),
            gso: true,
            next: 0,
            got: Rc::clone(&got),
            claim,
        };
        (Driver::new(Box::new(stack), max_udp_payload), got)
    }

    #[test]
    fn a_burst_the_stack_misreports_or_oversizes_fails_the_run() {
        let fails = |max_udp_payload, claim| {
            let (mut d, got) = gso_ticker_on(5, max_udp_payload, claim);
            let err = d.round().unwrap_err();
            assert!(got.borrow().is_empty(), "nothing is delivered: {err}");
            err
        };
        // More segments than the 10 a send may hold: 14 one-byte segments.
        let err = fails(1452, Some(Burst::new(14, Some(1))));
        assert!(err.contains("14-byte burst of 1-byte segments"), "{err}");
        // More bytes than were written (4 × 3 + 2 = 14).
        let err = fails(1452, Some(Burst::new(15, Some(3))));
        assert!(err.contains("15-byte burst"), "{err}");
        // Empty.
        let err = fails(1452, Some(Burst::new(0, None)));
        assert!(err.contains("0-byte burst"), "{err}");
        // Honest, but its 3-byte datagrams exceed a 2-byte link.
        let err = fails(2, None);
        assert!(err.contains("3-byte datagram (limit 2)"), "{err}");
    }

    #[test]
    fn gso_bursts_arrive_as_separate_datagrams_within_the_batch() {
        // 40 datagrams to send: the first round takes the 32 of one batch, as bursts of
        // 10, 10, 10 and 2 (the last burst asked for no more than the batch had left).
        let (mut d, got) = gso_ticker(40);
        assert!(d.round().unwrap());
        assert_eq!(d.links[0].sent, BATCH as u64);
        let got = got.borrow();
        assert_eq!(got.len(), BATCH);
        let short = [9, 19, 29, 31];
        for (i, g) in got.iter().enumerate() {
            let len = if short.contains(&i) { 2 } else { 3 };
            assert_eq!(g[..], vec![i as u8; len][..], "datagram {i}");
        }
        assert_eq!(d.links[0].delivered_bytes, 28 * 3 + 4 * 2);
    }

    #[test]
    fn timers_are_skipped_not_slept() {
        // 100 datagrams, 10 per tick, a tick every 10 s: 90 s of protocol time.
        let mut d = ticker(100, 10, Duration::from_secs(10));
        let start = Instant::now();
        d.run(|s, _| {
            Ok(if s.poll_timeout(Side::Client).is_none() {
                Flow::Done
            } else {
                Flow::Continue
            })
        })
        .unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(d.skipped >= Duration::from_secs(80), "{:?}", d.skipped);
        assert_eq!(d.links[0].sent, 100);
        assert_eq!(d.links[0].delivered_bytes, 100);
    }

    #[test]
    fn rounds_are_bounded_by_the_batch() {
        let mut d = ticker(1000, 1000, Duration::from_secs(1));
        assert!(d.round().unwrap());
        assert_eq!(d.links[0].sent, BATCH as u64);
    }

    #[test]
    fn loss_drops_the_same_datagrams_for_the_same_seed() {
        let run = |seed| {
            let mut d = ticker(20_000, 20_000, Duration::from_secs(1));
            d.set_loss(1.0, seed);
            while d.round().unwrap() {}
            d.links[0]
        };
        let a = run(3);
        assert_eq!(a.sent, 20_000);
        assert!((100..300).contains(&a.dropped), "{}", a.dropped);
        assert_eq!(a.delivered_bytes, a.sent - a.dropped);
        assert_eq!(run(3), a);
        assert_ne!(run(4).dropped, 0);
    }

    #[test]
    fn a_workload_with_nothing_left_to_wait_for_is_stalled() {
        let mut d = ticker(0, 0, Duration::from_secs(1));
        let err = d.run(|_, _| Ok(Flow::Continue)).unwrap_err();
        assert!(err.contains("stalled"), "{err}");
    }
}
