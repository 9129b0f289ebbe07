//! Per-stream statistics: enough to print a stream's data rates.

use core::time::Duration;
use quic_wire::Instant;

/// Counters for one stream. Byte counts are stream payload bytes (no frame headers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Payload bytes put into STREAM frames, retransmissions included.
    pub bytes_sent: u64,
    /// STREAM frames sent, retransmissions included.
    pub frames_sent: u64,
    /// Payload bytes sent again after a loss.
    pub bytes_retransmitted: u64,
    /// Payload bytes received in STREAM frames, duplicates included.
    pub bytes_received: u64,
    /// STREAM frames received.
    pub frames_received: u64,
    /// When the first STREAM frame was sent.
    pub first_sent: Option<Instant>,
    /// When the last STREAM frame was sent.
    pub last_sent: Option<Instant>,
    /// When the first STREAM frame arrived.
    pub first_received: Option<Instant>,
    /// When the last STREAM frame arrived.
    pub last_received: Option<Instant>,
}

impl StreamStats {
    pub(crate) fn on_sent(&mut self, len: usize, retransmit: bool, now: Instant) {
        self.bytes_sent += len as u64;
        self.frames_sent += 1;
        if retransmit {
            self.bytes_retransmitted += len as u64;
        }
        self.first_sent.get_or_insert(now);
        self.last_sent = Some(now);
    }

    pub(crate) fn on_received(&mut self, len: usize, now: Instant) {
        self.bytes_received += len as u64;
        self.frames_received += 1;
        self.first_received.get_or_insert(now);
        self.last_received = Some(now);
    }

    /// Average send rate in bytes per second between the first and last frame sent,
    /// or `None` before two distinct instants are known.
    pub fn send_rate(&self) -> Option<u64> {
        rate(self.bytes_sent, self.first_sent?, self.last_sent?)
    }

    /// Average receive rate in bytes per second between the first and last frame received.
    pub fn recv_rate(&self) -> Option<u64> {
        rate(
            self.bytes_received,
            self.first_received?,
            self.last_received?,
        )
    }
}

fn rate(bytes: u64, first: Instant, last: Instant) -> Option<u64> {
    let d: Duration = last - first;
    let nanos = d.as_nanos();
    if nanos == 0 {
        return None;
    }
    u64::try_from(u128::from(bytes) * 1_000_000_000 / nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_bytes_over_elapsed_time() {
        let mut s = StreamStats::default();
        s.on_sent(1000, false, Instant::from_nanos(0));
        assert_eq!(s.send_rate(), None);
        s.on_sent(1000, true, Instant::from_nanos(1_000_000_000));
        assert_eq!(s.send_rate(), Some(2000));
        assert_eq!(s.bytes_retransmitted, 1000);
        assert_eq!(s.frames_sent, 2);
    }
}
