//! The CRYPTO stream of one encryption level (RFC 9000 §19.6, §7.5): what we send, with
//! retransmission of lost ranges, and bounded reassembly of what the peer sends.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use quic_wire::codec::Writer;
use quic_wire::frame::CryptoFrameHeader;
use quic_wire::{FrameType, TransportError, TransportErrorCode};

/// Outgoing handshake bytes of one level.
#[derive(Debug, Default)]
pub(crate) struct CryptoSend {
    /// Every byte handed over by TLS, from offset 0 (handshake flights are small and the
    /// level's state is dropped with its keys).
    data: Vec<u8>,
    /// The next offset never sent.
    sent: u64,
    /// Every byte below this offset was acknowledged.
    acked: u64,
    /// Ranges declared lost, to send again first.
    lost: Vec<(u64, u64)>,
}

impl CryptoSend {
    /// Lets `write` append bytes to the stream (no copy through a temporary buffer); returns
    /// what `write` returned and whether it appended anything. `write` must only append:
    /// the bytes already there keep their stream offsets.
    pub(crate) fn append_with<R>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> R) -> (R, bool) {
        let before = self.data.len();
        let r = write(&mut self.data);
        (r, self.data.len() > before)
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.lost.is_empty() || self.sent < self.data.len() as u64
    }

    pub(crate) fn on_lost(&mut self, offset: u64, len: u32) {
        // Bounded: a range is only queued for bytes we sent, at most once per loss, and
        // the queue is drained by the next packet of this level.
        if len > 0 && self.lost.len() < 256 {
            self.lost.push((offset, u64::from(len)));
        }
    }

    /// A packet carrying `len` bytes at `offset` was acknowledged.
    pub(crate) fn on_acked(&mut self, offset: u64, len: u32) {
        if offset <= self.acked {
            self.acked = self.acked.max(offset + u64::from(len));
        }
    }

    /// A probe timeout: queue everything sent and not known to be acknowledged again, so
    /// the probe carries data (RFC 9002 §6.2.4). Handshake flights are small.
    pub(crate) fn requeue_unacked(&mut self) {
        if self.sent > self.acked && self.lost.is_empty() {
            self.lost.push((self.acked, self.sent - self.acked));
        }
    }

    /// Everything sent must go again (the client followed a Retry).
    pub(crate) fn requeue_all(&mut self) {
        self.acked = 0;
        self.lost.clear();
        if self.sent > 0 {
            self.lost.push((0, self.sent));
        }
    }

    /// Writes one CRYPTO frame (lost data first) into `w`; returns its (offset, len).
    pub(crate) fn write(&mut self, w: &mut Writer<'_>) -> Option<(u64, u32)> {
        let (offset, avail) = match self.lost.last().copied() {
            Some((off, len)) => (off, len),
            None => (self.sent, (self.data.len() as u64).checked_sub(self.sent)?),
        };
        if avail == 0 {
            self.lost.pop();
            return None;
        }
        let fit = CryptoFrameHeader::max_data(offset, w.remaining())?;
        let n = fit
            .min(usize::try_from(avail).unwrap_or(usize::MAX))
            .min(u32::MAX as usize);
        if n == 0 {
            return None;
        }
        let start = usize::try_from(offset).ok()?;
        let bytes = self.data.get(start..start + n)?;
        CryptoFrameHeader { offset, len: n }.write(w).ok()?;
        w.put_slice(bytes).ok()?;
        let n64 = n as u64;
        match self.lost.last_mut() {
            Some(last) if last.0 == offset => {
                last.0 += n64;
                last.1 -= n64.min(last.1);
                if last.1 == 0 {
                    self.lost.pop();
                }
            }
            _ => self.sent += n64,
        }
        Some((offset, n as u32))
    }
}

/// Incoming handshake bytes of one level, reassembled in order.
#[derive(Debug, Default)]
pub(crate) struct CryptoRecv {
    /// Everything below this offset was handed to TLS.
    delivered: u64,
    /// Out-of-order pieces by offset.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Bytes held in `pending`.
    buffered: usize,
}

fn exceeded() -> TransportError {
    TransportError::new(
        TransportErrorCode::CRYPTO_BUFFER_EXCEEDED,
        "too much out-of-order CRYPTO data",
    )
    .with_frame(FrameType::CRYPTO)
}

impl CryptoRecv {
    /// Takes a CRYPTO frame's data and hands every newly contiguous byte to `deliver`.
    /// RFC 9000 §7.5: an endpoint may close with CRYPTO_BUFFER_EXCEEDED when data runs
    /// more than `limit` bytes ahead of what it has delivered.
    pub(crate) fn on_frame<E>(
        &mut self,
        offset: u64,
        data: &[u8],
        limit: usize,
        mut deliver: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Result<(), E>, TransportError> {
        let end = offset + data.len() as u64; // parse guarantees end <= 2^62-1
        if end <= self.delivered {
            return Ok(Ok(()));
        }
        if end - self.delivered > limit as u64 {
            return Err(exceeded());
        }
        if offset > self.delivered {
            if self.buffered + data.len() > limit {
                return Err(exceeded());
            }
            let slot = self.pending.entry(offset).or_default();
            if slot.len() < data.len() {
                self.buffered += data.len() - slot.len();
                *slot = data.to_vec();
            }
            return Ok(Ok(()));
        }
        // `offset <= delivered < end`: the new part starts inside `data`.
        let skip = usize::try_from(self.delivered - offset).unwrap_or(usize::MAX);
        if let Some(new) = data.get(skip..) {
            self.delivered = end;
            if let Err(e) = deliver(new) {
                return Ok(Err(e));
            }
        }
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > self.delivered {
                break;
            }
            let (off, piece) = entry.remove_entry();
            self.buffered -= piece.len();
            let end = off + piece.len() as u64;
            if end <= self.delivered {
                continue;
            }
            let skip = usize::try_from(self.delivered - off).unwrap_or(usize::MAX);
            if let Some(new) = piece.get(skip..) {
                self.delivered = end;
                if let Err(e) = deliver(new) {
                    return Ok(Err(e));
                }
            }
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_crypto_is_delivered_in_order_once() {
        let mut r = CryptoRecv::default();
        let mut got = Vec::new();
        let mut d = |b: &[u8]| -> Result<(), ()> {
            got.extend_from_slice(b);
            Ok(())
        };
        r.on_frame(3, b"def", 100, &mut d).unwrap().unwrap();
        r.on_frame(0, b"abc", 100, &mut d).unwrap().unwrap();
        r.on_frame(1, b"bcdefg", 100, &mut d).unwrap().unwrap();
        assert_eq!(got, b"abcdefg");
    }

    #[test]
    fn crypto_far_ahead_is_crypto_buffer_exceeded() {
        let mut r = CryptoRecv::default();
        let e = r
            .on_frame(5000, b"x", 4096, |_| Ok::<(), ()>(()))
            .unwrap_err();
        assert_eq!(e.code, TransportErrorCode::CRYPTO_BUFFER_EXCEEDED);
    }

    #[test]
    fn lost_crypto_is_sent_again_before_new_data() {
        let mut s = CryptoSend::default();
        s.append_with(|out| out.extend_from_slice(b"hello world"));
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        assert_eq!(s.write(&mut w), Some((0, 11)));
        assert!(!s.has_pending());
        s.on_lost(6, 5);
        let mut w = Writer::new(&mut buf);
        assert_eq!(s.write(&mut w), Some((6, 5)));
        assert!(!s.has_pending());
    }

    /// What TLS appends goes out after what was there, at the following offsets; a write
    /// that appends nothing says so and queues nothing.
    #[test]
    fn appended_handshake_bytes_follow_the_earlier_ones() {
        let mut s = CryptoSend::default();
        let (r, wrote) = s.append_with(|out| {
            out.extend_from_slice(b"abc");
            7
        });
        assert_eq!((r, wrote), (7, true));
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        assert_eq!(s.write(&mut w), Some((0, 3)));
        let ((), wrote) = s.append_with(|_| ());
        assert!(!wrote && !s.has_pending());
        let ((), wrote) = s.append_with(|out| out.extend_from_slice(b"defg"));
        assert!(wrote && s.has_pending());
        let mut w = Writer::new(&mut buf);
        assert_eq!(s.write(&mut w), Some((3, 4)));
        let n = w.written();
        assert!(buf[..n].ends_with(b"defg"));
    }
}
