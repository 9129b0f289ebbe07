//! Stream-count limits (RFC 9000 §4.6): how many streams of one type each side may open.
//!
//! [`RemoteLimit`] is what we allow the peer: `concurrent` open streams at a time. Each
//! stream the peer opened and we freed returns one unit of credit, and MAX_STREAMS is
//! queued once the unsent increase is worth a frame (a quarter of `concurrent`, at least
//! one) or at once when the peer says it is blocked.
//!
//! [`LocalLimit`] is what the peer allows us; opening past it is not an error for the
//! application: the stream waits in the pending queue (see `Streams::open`).

use core::ops::Range;
use quic_wire::frame::MAX_STREAM_COUNT;
use quic_wire::{TransportError, TransportErrorCode};

/// The limit on streams of one type the peer opens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RemoteLimit {
    /// Streams opened by the peer so far (indices below this exist or existed).
    pub(crate) opened: u64,
    /// Streams the peer opened and we have freed.
    pub(crate) freed: u64,
    /// How many may be open at once.
    pub(crate) concurrent: u64,
    /// The cumulative limit: advertised, or queued to be.
    pub(crate) max: u64,
    /// The limit last written into a packet.
    pub(crate) sent: u64,
    /// A MAX_STREAMS frame is waiting to be sent.
    pub(crate) update_pending: bool,
}

impl RemoteLimit {
    /// A limit letting the peer hold `concurrent` streams open; the initial value goes out
    /// in the transport parameters, so nothing is pending.
    pub(crate) fn new(concurrent: u64) -> Self {
        let concurrent = concurrent.min(MAX_STREAM_COUNT);
        RemoteLimit {
            opened: 0,
            freed: 0,
            concurrent,
            max: concurrent,
            sent: concurrent,
            update_pending: false,
        }
    }

    /// The peer referred to stream `index`: returns the indices this opens (all lower ones
    /// not yet opened too, RFC 9000 §3.2 "Create Higher-Numbered Stream"), empty when it
    /// was already opened.
    pub(crate) fn open(&mut self, index: u64) -> Result<Range<u64>, TransportError> {
        // RFC 9000 §4.6: "An endpoint that receives a frame with a stream ID exceeding the
        // limit it has sent MUST treat this as a connection error of type
        // STREAM_LIMIT_ERROR".
        if index >= self.max {
            return Err(TransportError::new(
                TransportErrorCode::STREAM_LIMIT_ERROR,
                "stream opened beyond the limit",
            ));
        }
        if index < self.opened {
            return Ok(0..0);
        }
        let r = self.opened..index + 1;
        self.opened = index + 1;
        Ok(r)
    }

    /// A peer-opened stream was freed: its credit returns.
    pub(crate) fn on_freed(&mut self) {
        self.freed += 1;
        self.recompute(false);
    }

    /// The application changed how many streams may be open at once. The advertised
    /// limit never shrinks; a lower value takes effect as streams close.
    pub(crate) fn set_concurrent(&mut self, concurrent: u64) {
        self.concurrent = concurrent.min(MAX_STREAM_COUNT);
        self.recompute(true);
    }

    /// The peer sent STREAMS_BLOCKED: send any increase we have at once.
    pub(crate) fn on_peer_blocked(&mut self) {
        self.recompute(true);
    }

    fn recompute(&mut self, eager: bool) {
        let target = self
            .freed
            .saturating_add(self.concurrent)
            .min(MAX_STREAM_COUNT);
        if target > self.max {
            self.max = target;
        }
        let threshold = self.concurrent.div_ceil(4).max(1);
        if self.max > self.sent && (eager || self.max - self.sent >= threshold) {
            self.update_pending = true;
        }
    }

    /// Takes the MAX_STREAMS value to send, if any.
    pub(crate) fn take_update(&mut self) -> Option<u64> {
        if !self.update_pending {
            return None;
        }
        self.update_pending = false;
        self.sent = self.max;
        Some(self.max)
    }

    /// A MAX_STREAMS frame carrying `count` was lost: send again if still the latest.
    pub(crate) fn on_update_lost(&mut self, count: u64) {
        if count == self.max {
            self.update_pending = true;
        }
    }
}

/// The limit on streams of one type we open.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LocalLimit {
    /// Index of the next stream we open.
    pub(crate) next: u64,
    /// The peer's cumulative limit.
    pub(crate) max: u64,
    /// The limit at which STREAMS_BLOCKED was last queued.
    pub(crate) blocked_reported: Option<u64>,
    /// A STREAMS_BLOCKED frame is waiting to be sent.
    pub(crate) blocked_pending: bool,
}

impl LocalLimit {
    /// Whether a stream may be opened now.
    pub(crate) fn can_open(&self) -> bool {
        self.next < self.max
    }

    /// Applies MAX_STREAMS; a value not above the current limit is ignored (RFC 9000
    /// §19.11). Returns whether it grew.
    pub(crate) fn raise(&mut self, max: u64) -> bool {
        if max > self.max {
            self.max = max.min(MAX_STREAM_COUNT);
            true
        } else {
            false
        }
    }

    /// We want to open a stream and cannot: queue STREAMS_BLOCKED once per limit
    /// (RFC 9000 §4.6: "an endpoint SHOULD send a STREAMS_BLOCKED frame").
    pub(crate) fn note_blocked(&mut self) {
        if self.blocked_reported != Some(self.max) {
            self.blocked_reported = Some(self.max);
            self.blocked_pending = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_past_the_limit_is_a_stream_limit_error() {
        let mut l = RemoteLimit::new(4);
        assert_eq!(l.open(2), Ok(0..3));
        assert_eq!(l.open(1), Ok(0..0));
        assert_eq!(l.open(3), Ok(3..4));
        let e = l.open(4).unwrap_err();
        assert_eq!(e.code, TransportErrorCode::STREAM_LIMIT_ERROR);
    }

    #[test]
    fn max_streams_is_sent_once_a_quarter_of_the_credit_returned() {
        let mut l = RemoteLimit::new(8);
        l.open(7).unwrap();
        l.on_freed();
        assert_eq!(l.take_update(), None);
        l.on_freed();
        assert_eq!(l.take_update(), Some(10));
        l.on_freed();
        assert_eq!(l.take_update(), None);
        l.on_peer_blocked();
        assert_eq!(l.take_update(), Some(11));
    }

    #[test]
    fn lost_max_streams_is_resent_only_if_still_current() {
        let mut l = RemoteLimit::new(1);
        l.open(0).unwrap();
        l.on_freed();
        assert_eq!(l.take_update(), Some(2));
        l.open(1).unwrap();
        l.on_freed();
        assert_eq!(l.take_update(), Some(3));
        l.on_update_lost(2);
        assert_eq!(l.take_update(), None);
        l.on_update_lost(3);
        assert_eq!(l.take_update(), Some(3));
    }

    #[test]
    fn limit_is_replenished_over_100_000_open_close_cycles() {
        let mut l = RemoteLimit::new(3);
        let mut advertised = l.max;
        let mut open = std::collections::VecDeque::new();
        for i in 0..100_000u64 {
            // The peer opens the next stream as soon as the advertised limit allows.
            assert!(i < advertised, "peer starved at stream {i}");
            l.open(i).unwrap();
            open.push_back(i);
            if open.len() == 3 {
                open.pop_front();
                l.on_freed();
            }
            if let Some(m) = l.take_update() {
                assert!(m > advertised);
                advertised = m;
            }
            assert!(advertised - l.freed <= 3, "never more than 3 open at once");
        }
    }
}
