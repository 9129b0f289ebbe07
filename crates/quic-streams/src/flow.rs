//! Flow control credit (RFC 9000 §4.1-4.2), for one stream or the whole connection.
//!
//! [`SendCredit`] is what the peer lets us send; [`RecvCredit`] is what we let the peer send,
//! with the window update policy and auto-tuning: when the application drains a window in
//! less than two round trips, the window doubles, up to its configured maximum, so a fast
//! reader on a long path is not held back by a small initial window.

use core::time::Duration;
use quic_wire::{Instant, TransportError, TransportErrorCode};

/// Credit granted by the peer (its MAX_DATA or MAX_STREAM_DATA) and how much is used.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SendCredit {
    /// The peer's limit: the offset (or connection byte count) we may not exceed.
    pub(crate) max: u64,
    /// How much new data we have sent against it.
    pub(crate) used: u64,
    /// The limit at which we last queued a *_BLOCKED frame, so each limit is reported once.
    pub(crate) blocked_reported: Option<u64>,
}

impl SendCredit {
    /// Credit with the peer's initial limit.
    pub(crate) fn new(max: u64) -> Self {
        SendCredit {
            max,
            used: 0,
            blocked_reported: None,
        }
    }

    /// Bytes we may still send.
    pub(crate) fn available(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }

    /// Applies a new limit from the peer; limits never shrink (RFC 9000 §4.1: a frame that
    /// does not raise the limit is ignored). Returns whether it grew.
    pub(crate) fn raise(&mut self, max: u64) -> bool {
        if max > self.max {
            self.max = max;
            true
        } else {
            false
        }
    }

    /// Whether we are blocked and have not yet said so at this limit; marks it reported.
    pub(crate) fn take_blocked(&mut self) -> Option<u64> {
        if self.available() == 0 && self.blocked_reported != Some(self.max) {
            self.blocked_reported = Some(self.max);
            Some(self.max)
        } else {
            None
        }
    }
}

/// Credit we grant the peer, for one stream or the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvCredit {
    /// The limit we last advertised (or will advertise once `update_pending` is sent).
    pub(crate) max: u64,
    /// The largest offset (or byte count) the peer has used.
    pub(crate) highest: u64,
    /// How much the application consumed (or we discarded).
    pub(crate) consumed: u64,
    /// The current window: the limit is kept `window` ahead of `consumed`.
    pub(crate) window: u64,
    /// The most auto-tuning may grow `window` to.
    pub(crate) max_window: u64,
    /// A larger limit is waiting to be sent.
    pub(crate) update_pending: bool,
    /// When the limit was last raised, for auto-tuning.
    last_update: Option<Instant>,
}

impl RecvCredit {
    /// Credit of `window` bytes, which may grow up to `max_window`.
    pub(crate) fn new(window: u64, max_window: u64) -> Self {
        RecvCredit {
            max: window,
            highest: 0,
            consumed: 0,
            window,
            max_window: max_window.max(window),
            update_pending: false,
            last_update: None,
        }
    }

    /// The peer used credit up to `end`; an error when that is past the limit.
    pub(crate) fn on_received(&mut self, end: u64) -> Result<u64, TransportError> {
        // RFC 9000 §4.1: "A receiver MUST close the connection with an error of type
        // FLOW_CONTROL_ERROR if the sender violates the advertised connection or stream
        // data limits".
        if end > self.max {
            return Err(TransportError::new(
                TransportErrorCode::FLOW_CONTROL_ERROR,
                "data past the advertised limit",
            ));
        }
        let grew = end.saturating_sub(self.highest);
        self.highest = self.highest.max(end);
        Ok(grew)
    }

    /// The application consumed `n` more bytes; raises the limit when the unused credit
    /// falls below half a window, growing the window when it was drained quickly.
    /// Returns whether an update is now pending.
    pub(crate) fn on_consumed(&mut self, n: u64, now: Instant, rtt: Duration) -> bool {
        self.consumed += n;
        self.maybe_update(now, rtt)
    }

    /// Queues a larger limit when worthwhile (RFC 9000 §4.2: updates are sent when the
    /// consumed window crosses a threshold, here half of the window).
    pub(crate) fn maybe_update(&mut self, now: Instant, rtt: Duration) -> bool {
        let left = self.max.saturating_sub(self.consumed);
        if left >= self.window.div_ceil(2) {
            return self.update_pending;
        }
        // Auto-tuning: a whole window consumed within two RTTs of the last update means the
        // window, not the application, is what limits the transfer.
        if let Some(last) = self.last_update {
            if !rtt.is_zero() && now.saturating_duration_since(last) < rtt * 2 {
                self.window = (self.window.saturating_mul(2)).min(self.max_window);
            }
        }
        self.last_update = Some(now);
        let new_max = self
            .consumed
            .saturating_add(self.window)
            .min(quic_wire::frame::MAX_OFFSET);
        if new_max > self.max {
            self.max = new_max;
            self.update_pending = true;
        }
        self.update_pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTT: Duration = Duration::from_millis(100);

    #[test]
    fn data_past_the_limit_is_a_flow_control_error() {
        let mut c = RecvCredit::new(100, 100);
        assert_eq!(c.on_received(100), Ok(100));
        assert_eq!(c.on_received(50), Ok(0));
        let e = c.on_received(101).unwrap_err();
        assert_eq!(e.code, TransportErrorCode::FLOW_CONTROL_ERROR);
    }

    #[test]
    fn limit_is_raised_once_half_the_window_is_consumed() {
        let mut c = RecvCredit::new(100, 100);
        assert!(!c.on_consumed(49, Instant::ZERO, RTT));
        assert!(c.on_consumed(2, Instant::ZERO, RTT));
        assert_eq!(c.max, 151);
    }

    #[test]
    fn window_grows_when_drained_within_two_rtts_up_to_the_maximum() {
        let mut c = RecvCredit::new(100, 300);
        let mut now = Instant::ZERO;
        c.on_consumed(60, now, RTT);
        assert_eq!(c.window, 100, "first update only starts the clock");
        for _ in 0..5 {
            now += Duration::from_millis(10);
            let need = c.max - c.consumed - c.window / 2 + 1;
            c.on_consumed(need, now, RTT);
        }
        assert_eq!(c.window, 300);
    }

    #[test]
    fn window_stays_when_drained_slowly() {
        let mut c = RecvCredit::new(100, 300);
        let mut now = Instant::ZERO;
        for _ in 0..5 {
            now += Duration::from_secs(1);
            c.on_consumed(60, now, RTT);
        }
        assert_eq!(c.window, 100);
    }

    #[test]
    fn blocked_is_reported_once_per_limit() {
        let mut s = SendCredit::new(10);
        assert_eq!(s.take_blocked(), None);
        s.used = 10;
        assert_eq!(s.take_blocked(), Some(10));
        assert_eq!(s.take_blocked(), None);
        assert!(s.raise(20));
        assert!(!s.raise(15));
        s.used = 20;
        assert_eq!(s.take_blocked(), Some(20));
    }
}
