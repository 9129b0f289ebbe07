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

use crate::{
    loss::Loss,
    stack::{Side, Stack},
};

/// Default for [`Driver::batch`]: the most datagrams one end sends before the other end runs,
/// like a receive batch of a real socket (recvmmsg or GRO). Without a bound a sender would put a
/// whole congestion window on the link before the receiver could acknowledge any of it.
pub const BATCH: usize = BATCH_DEFAULT;
const BATCH_DEFAULT: usize = 32;

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
        for _ in 0..self.batch {
            let mut buf = Vec::with_capacity(self.max_udp_payload);
            let now = self.now();
            if !self.stack.poll_transmit(from, now, &mut buf) {
                break;
            }
            any = true;
            self.links[dir].sent += 1;
            if buf.len() > self.max_udp_payload {
                return Err(format!(
                    "{from:?} sent a {}-byte datagram (limit {})",
                    buf.len(),
                    self.max_udp_payload
                ));
            }
            if self.loss[dir].drop_next() {
                self.links[dir].dropped += 1;
                continue;
            }
            self.links[dir].delivered_bytes += buf.len() as u64;
            self.stack.handle_datagram(from.peer(), now, buf);
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
