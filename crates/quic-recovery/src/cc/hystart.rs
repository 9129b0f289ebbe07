//! HyStart++ (RFC 9406), the slow-start exit heuristic used by [`super::Cubic`].
//!
//! RFC 9406 is not among the specification texts of this project; this follows the
//! published RFC from memory: rounds of one RTT, the minimum RTT of each round compared
//! with the previous round's, Conservative Slow Start (CSS) for up to `CSS_ROUNDS` rounds
//! with a quarter of the growth, back to slow start if the RTT falls below the CSS baseline.
//!
//! Rounds are delimited by send time rather than packet number (the window "ends" at the
//! last packet sent when the round began), which is equivalent for one path and does not
//! need packet numbers from several spaces.

use core::time::Duration;

use quic_wire::Instant;

/// RFC 9406 §4.3 constants.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
const MIN_RTT_DIVISOR: u32 = 8;
const N_RTT_SAMPLE: u32 = 8;
/// Growth in CSS is divided by this.
pub(crate) const CSS_GROWTH_DIVISOR: u64 = 4;
const CSS_ROUNDS: u32 = 5;

/// What slow start should do with an ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HyStartPhase {
    /// Standard slow start: grow by the bytes acknowledged.
    SlowStart,
    /// Conservative slow start: grow by a quarter of them.
    Css,
    /// Leave slow start now (ssthresh = cwnd).
    Exit,
}

/// HyStart++ state.
#[derive(Debug, Clone, Default)]
pub struct HyStart {
    in_css: bool,
    css_rounds: u32,
    css_baseline: Duration,
    /// The RTT at which CSS starts, from the previous round's minimum RTT `last` (worked
    /// out once per round): last + clamp(last / MIN_RTT_DIVISOR, MIN_RTT_THRESH, MAX_RTT_THRESH).
    css_entry: Option<Duration>,
    current_round_min: Option<Duration>,
    samples: u32,
    /// Packets sent after this instant belong to the next round.
    round_end: Option<Instant>,
    last_sent: Instant,
}

impl HyStart {
    /// Fresh state.
    pub fn new() -> Self {
        Self::default()
    }

    /// A packet was sent.
    pub fn on_sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    /// Whether CSS is in progress.
    pub fn in_css(&self) -> bool {
        self.in_css
    }

    /// An ACK during slow start (once per ACK, RFC 9406 §4.2), whose newest counted packet
    /// was sent at `time_sent`, with the latest RTT sample.
    pub fn on_ack(&mut self, time_sent: Instant, latest_rtt: Duration) -> HyStartPhase {
        if self.round_end.is_none_or(|end| time_sent > end) {
            // RFC 9406 §4.2: a new round starts.
            self.css_entry = self
                .current_round_min
                .map(|last| last + (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH));
            self.current_round_min = None;
            self.samples = 0;
            self.round_end = Some(self.last_sent);
            if self.in_css {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    // "If CSS_ROUNDS rounds are complete, enter congestion avoidance."
                    *self = HyStart::default();
                    return HyStartPhase::Exit;
                }
            }
        }
        self.current_round_min = Some(
            self.current_round_min
                .map_or(latest_rtt, |m| m.min(latest_rtt)),
        );
        self.samples += 1;
        if let (Some(cur), Some(entry), true) = (
            self.current_round_min,
            self.css_entry,
            self.samples >= N_RTT_SAMPLE,
        ) {
            if !self.in_css {
                if cur >= entry {
                    self.in_css = true;
                    self.css_rounds = 0;
                    self.css_baseline = cur;
                }
            } else if cur < self.css_baseline {
                // The RTT increase was spurious: back to standard slow start.
                self.in_css = false;
            }
        }
        if self.in_css {
            HyStartPhase::Css
        } else {
            HyStartPhase::SlowStart
        }
    }

    /// Slow start ended by a congestion event.
    pub fn reset(&mut self) {
        *self = HyStart::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Runs rounds of 10 ACKs each with the given min RTT per round; returns the phase
    /// after each round.
    fn run(rtts: &[u64]) -> alloc::vec::Vec<HyStartPhase> {
        let mut h = HyStart::new();
        let mut phases = alloc::vec::Vec::new();
        let mut t = 0u64;
        for &rtt in rtts {
            // Sends of this round happen at t..t+10, ACKs after.
            let mut phase = HyStartPhase::SlowStart;
            for i in 0..10 {
                let ts = Instant::from_nanos((t + i) * 1_000_000);
                h.on_sent(ts);
            }
            for i in 0..10 {
                let ts = Instant::from_nanos((t + i) * 1_000_000);
                phase = h.on_ack(ts, ms(rtt));
                if phase == HyStartPhase::Exit {
                    break;
                }
            }
            phases.push(phase);
            t += 100;
        }
        phases
    }

    #[test]
    fn stable_rtt_stays_in_slow_start() {
        assert!(run(&[50; 6]).iter().all(|p| *p == HyStartPhase::SlowStart));
    }

    #[test]
    fn rtt_increase_enters_css_then_exits_after_css_rounds() {
        let phases = run(&[50, 50, 60, 60, 60, 60, 60, 60, 60]);
        assert_eq!(phases[1], HyStartPhase::SlowStart);
        assert_eq!(phases[2], HyStartPhase::Css);
        assert!(phases.contains(&HyStartPhase::Exit));
    }

    #[test]
    fn rtt_falling_back_leaves_css() {
        let phases = run(&[50, 50, 60, 50]);
        assert_eq!(phases[2], HyStartPhase::Css);
        assert_eq!(phases[3], HyStartPhase::SlowStart);
    }
}
