//! The connection's deadlines, each named by why it exists.

use quic_wire::Instant;

/// Why the connection wants to be woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timer {
    /// The idle timeout (RFC 9000 §10.1).
    Idle = 0,
    /// Time to send a keep-alive PING.
    KeepAlive = 1,
    /// The end of the closing or draining period (RFC 9000 §10.2).
    Close = 2,
    /// Loss detection, PTO or a delayed ACK on path 0 (quic-recovery).
    Recovery = 3,
    /// The pacer releases the next packet.
    Pacing = 4,
    /// The receive key of the previous 1-RTT key phase is retired (RFC 9001 §6.5).
    KeyDiscard = 5,
    /// A path validation resends its PATH_CHALLENGE or gives up (RFC 9000 §8.2.4).
    PathValidation = 6,
}

impl Timer {
    /// Every timer, in table order.
    pub const ALL: [Timer; 7] = [
        Timer::Idle,
        Timer::KeepAlive,
        Timer::Close,
        Timer::Recovery,
        Timer::Pacing,
        Timer::KeyDiscard,
        Timer::PathValidation,
    ];
    /// How many timers there are.
    pub const COUNT: usize = Timer::ALL.len();
}

/// One deadline per [`Timer`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timers([Option<Instant>; Timer::COUNT]);

impl Timers {
    pub(crate) fn set(&mut self, t: Timer, at: Option<Instant>) {
        if let Some(slot) = self.0.get_mut(t as usize) {
            *slot = at;
        }
    }

    pub(crate) fn get(&self, t: Timer) -> Option<Instant> {
        self.0.get(t as usize).copied().flatten()
    }

    /// The earliest deadline and its timer.
    pub(crate) fn next(&self) -> Option<(Instant, Timer)> {
        Timer::ALL
            .iter()
            .filter_map(|&t| self.get(t).map(|at| (at, t)))
            .min_by_key(|&(at, _)| at)
    }
}
