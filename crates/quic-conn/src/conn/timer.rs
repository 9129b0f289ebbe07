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

/// One deadline per [`Timer`]. A disarmed timer holds [`Instant::FAR_FUTURE`], a time that
/// never comes, so the table is seven plain integers and the earliest deadline is a minimum
/// without branches on `Option`s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers([Instant; Timer::COUNT]);

impl Default for Timers {
    fn default() -> Self {
        Timers([Instant::FAR_FUTURE; Timer::COUNT])
    }
}

impl Timers {
    /// Arms `t` for `at`, or disarms it (`None`, or a deadline past the end of time).
    #[inline]
    pub(crate) fn set(&mut self, t: Timer, at: Option<Instant>) {
        if let Some(slot) = self.0.get_mut(t as usize) {
            *slot = at.unwrap_or(Instant::FAR_FUTURE);
        }
    }

    /// The deadline of `t`, if armed.
    #[inline]
    pub(crate) fn get(&self, t: Timer) -> Option<Instant> {
        self.0
            .get(t as usize)
            .copied()
            .filter(|&at| at != Instant::FAR_FUTURE)
    }

    /// The earliest deadline, if any timer is armed.
    #[inline]
    pub(crate) fn earliest(&self) -> Option<Instant> {
        let at = self
            .0
            .iter()
            .copied()
            .fold(Instant::FAR_FUTURE, Instant::min);
        (at != Instant::FAR_FUTURE).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_is_the_smallest_armed_deadline() {
        let mut t = Timers::default();
        assert_eq!(t.earliest(), None);
        assert_eq!(t.get(Timer::Idle), None);
        t.set(Timer::Idle, Some(Instant::from_nanos(50)));
        t.set(Timer::Pacing, Some(Instant::from_nanos(20)));
        t.set(Timer::PathValidation, Some(Instant::from_nanos(30)));
        assert_eq!(t.earliest(), Some(Instant::from_nanos(20)));
        t.set(Timer::Pacing, None);
        assert_eq!(t.earliest(), Some(Instant::from_nanos(30)));
        assert_eq!(t.get(Timer::Pacing), None);
        // A deadline past the end of time never fires: it reads as disarmed.
        t.set(Timer::Idle, Some(Instant::FAR_FUTURE));
        assert_eq!(t.get(Timer::Idle), None);
        assert_eq!(t.earliest(), Some(Instant::from_nanos(30)));
    }
}
