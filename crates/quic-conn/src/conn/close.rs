//! Connection termination (RFC 9000 §10): immediate close with the closing and draining
//! periods, and the idle timeout.

use alloc::vec::Vec;
use core::time::Duration;

use quic_wire::frame::ConnectionClose;
use quic_wire::{FrameType, Instant, Space, TransportError, TransportErrorCode, VarInt};

use super::{Connection, ConnectionError, Event, State, Timer};

/// The idle timer's period, max(idle timeout, 3 × PTO) (RFC 9000 §10.1), in nanoseconds,
/// for the inputs it was last worked out from. The timer restarts on every packet
/// received, while the PTO changes only with an RTT sample (at most once per ACK) or a
/// probe timeout's backoff, and the idle timeout once, at the handshake.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdlePeriod {
    idle: Duration,
    pto: Duration,
    nanos: u64,
}

impl IdlePeriod {
    /// The period for `idle` and `pto`, worked out again only when either changed.
    fn nanos(&mut self, idle: Duration, pto: Duration) -> u64 {
        if idle != self.idle || pto != self.pto {
            let period = idle.max(pto.saturating_mul(3));
            *self = IdlePeriod {
                idle,
                pto,
                nanos: u64::try_from(period.as_nanos()).unwrap_or(u64::MAX),
            };
        }
        self.nanos
    }
}

/// Longest reason phrase we send.
const MAX_REASON: usize = 256;

/// The CONNECTION_CLOSE we send while closing.
#[derive(Debug, Clone)]
pub(crate) struct CloseFrame {
    /// Transport error code (with the frame type) or application code (`None`).
    pub(crate) transport: Option<(TransportErrorCode, FrameType)>,
    pub(crate) app_code: VarInt,
    pub(crate) reason: Vec<u8>,
}

impl CloseFrame {
    /// The frame to send in `space`. RFC 9000 §10.2.3: an application close in an Initial
    /// or Handshake packet is sent as a transport CONNECTION_CLOSE with
    /// APPLICATION_ERROR and no reason, since those packets are not confidential.
    pub(crate) fn frame(&self, space: Space) -> ConnectionClose<'_> {
        match (self.transport, space) {
            (Some((code, ft)), _) => ConnectionClose {
                error_code: VarInt::from_u64_clamped(code.0),
                frame_type: Some(ft),
                reason: &self.reason,
            },
            (None, Space::Data) => ConnectionClose {
                error_code: self.app_code,
                frame_type: None,
                reason: &self.reason,
            },
            (None, _) => ConnectionClose {
                error_code: VarInt::from_u64_clamped(TransportErrorCode::APPLICATION_ERROR.0),
                frame_type: Some(FrameType::PADDING),
                reason: &[],
            },
        }
    }
}

impl Connection {
    /// Closes the connection with an application error code and reason (RFC 9000 §10.2).
    /// The connection sends CONNECTION_CLOSE and lingers in the closing state for three
    /// PTOs. Does nothing when it is already closed.
    pub fn close(&mut self, now: Instant, code: VarInt, reason: &[u8]) {
        if self.is_closed() {
            return;
        }
        let reason = reason
            .get(..MAX_REASON.min(reason.len()))
            .unwrap_or_default();
        self.enter_closing(
            now,
            CloseFrame {
                transport: None,
                app_code: code,
                reason: reason.to_vec(),
            },
            ConnectionError::LocallyClosed(code),
        );
    }

    /// Closes because of a protocol error (the peer's, or TLS's).
    pub(crate) fn close_with_error(&mut self, now: Instant, e: TransportError) {
        if self.is_closed() {
            return;
        }
        self.enter_closing(
            now,
            CloseFrame {
                transport: Some((e.code, e.frame_type.unwrap_or(FrameType::PADDING))),
                app_code: VarInt::from_u32(0),
                reason: e.reason.as_bytes().to_vec(),
            },
            ConnectionError::Transport(e),
        );
    }

    fn enter_closing(&mut self, now: Instant, frame: CloseFrame, error: ConnectionError) {
        self.state = State::Closing;
        self.close = Some(frame);
        self.close_pending = true;
        self.finish_with(now, error);
    }

    /// The peer sent CONNECTION_CLOSE: drain (RFC 9000 §10.2.2).
    pub(crate) fn on_peer_close(&mut self, now: Instant, c: &ConnectionClose<'_>) {
        let reason = c
            .reason
            .get(..MAX_REASON.min(c.reason.len()))
            .unwrap_or_default();
        let error = match c.frame_type {
            Some(ft) => ConnectionError::PeerTransport {
                code: TransportErrorCode(c.error_code.into_inner()),
                frame_type: (ft != FrameType::PADDING).then_some(ft),
                reason: reason.to_vec(),
            },
            None => ConnectionError::PeerApplication {
                code: c.error_code,
                reason: reason.to_vec(),
            },
        };
        let was_closing = self.state == State::Closing;
        self.state = State::Draining;
        self.close_pending = false;
        if was_closing {
            // Already reported and timed; the draining period replaces the closing one.
            return;
        }
        self.finish_with(now, error);
    }

    fn finish_with(&mut self, now: Instant, error: ConnectionError) {
        #[cfg(feature = "qlog")]
        self.qlog_closed(now, &error);
        self.error = Some(error.clone());
        self.events.push_back(Event::Closed(error));
        // RFC 9000 §10.2: the closing and draining states last at least three times the
        // current PTO.
        let pto = self.paths.first().map_or(Duration::from_secs(1), |p| {
            p.recovery.pto_period(Space::Data)
        });
        self.timers
            .set(Timer::Close, now.checked_add(pto.saturating_mul(3)));
        for t in [
            Timer::Idle,
            Timer::KeepAlive,
            Timer::Pacing,
            Timer::Recovery,
            Timer::KeyDiscard,
            Timer::PathValidation,
        ] {
            self.timers.set(t, None);
        }
    }

    /// The connection is over.
    pub(crate) fn drain(&mut self, error: Option<ConnectionError>) {
        if let Some(e) = error {
            if self.error.is_none() {
                self.error = Some(e.clone());
                self.events.push_back(Event::Closed(e));
            }
        }
        self.state = State::Drained;
        self.close_pending = false;
        self.timers = Default::default();
        self.events.push_back(Event::Drained);
    }

    /// Restarts the idle timer (RFC 9000 §10.1), no shorter than three PTOs.
    pub(crate) fn arm_idle(&mut self, now: Instant) {
        let Some(idle) = self.idle_timeout else {
            self.timers.set(Timer::Idle, None);
            return;
        };
        let pto = self
            .paths
            .first()
            .map_or(Duration::ZERO, |p| p.recovery.pto_period(Space::Data));
        let period = self.idle_period.nanos(idle, pto);
        self.timers.set(
            Timer::Idle,
            now.as_nanos().checked_add(period).map(Instant::from_nanos),
        );
        if let Some(k) = self.config.keep_alive {
            self.timers.set(Timer::KeepAlive, now.checked_add(k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_period_follows_both_inputs() {
        let ms = Duration::from_millis;
        let mut p = IdlePeriod::default();
        let nanos = |d: Duration| d.as_nanos() as u64;
        // The idle timeout when it is the longer, three PTOs when they are.
        assert_eq!(p.nanos(ms(30_000), ms(100)), nanos(ms(30_000)));
        assert_eq!(p.nanos(ms(30_000), ms(100)), nanos(ms(30_000)));
        assert_eq!(p.nanos(ms(200), ms(100)), nanos(ms(300)));
        assert_eq!(p.nanos(ms(200), ms(50)), nanos(ms(200)));
        assert_eq!(p.nanos(ms(200), ms(400)), nanos(ms(1_200)));
        // A period past u64 nanoseconds saturates (and the timer then never fires).
        assert_eq!(p.nanos(Duration::MAX, ms(1)), u64::MAX);
        assert_eq!(p.nanos(ms(1), Duration::MAX), u64::MAX);
        assert_eq!(p.nanos(Duration::ZERO, Duration::ZERO), 0);
    }
}
