//! What each sent packet carried, so that an acknowledgement or a loss finds exactly the
//! frames to release or repair.
//!
//! A packet's records live inline in its [`Records`] (no heap allocation for packets of up
//! to [`INLINE`] recorded frames, which is every packet but ones packed with many small
//! stream frames; those spill into a `Vec`).

use alloc::vec::Vec;

use quic_streams::FrameRecord;
use quic_wire::Space;

/// Recorded frames kept inline per packet.
pub const INLINE: usize = 4;
const _: () = assert!(INLINE <= u8::MAX as usize);

/// One frame a sent packet carried that matters once the packet is acknowledged or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// A stream-layer frame (STREAM, RESET_STREAM, MAX_DATA ...).
    Stream(FrameRecord),
    /// CRYPTO data: `len` bytes at `offset` in the space the packet was sent in.
    Crypto {
        /// Offset in the crypto stream.
        offset: u64,
        /// Length.
        len: u32,
    },
    /// An ACK frame with this Largest Acknowledged.
    Ack(u64),
    /// HANDSHAKE_DONE (RFC 9000 §19.20): sent again if lost.
    HandshakeDone,
    /// RETIRE_CONNECTION_ID with this sequence number: sent again if lost.
    RetireCid(u64),
    /// PATH_CHALLENGE: sent again if lost while the path is still being validated.
    PathChallenge([u8; 8]),
    /// A path MTU probe of this datagram size.
    MtuProbe(u16),
    /// NEW_CONNECTION_ID with this sequence number: sent again if lost while active.
    NewCid(u64),
    /// NEW_TOKEN (not repaired: the next connection simply validates its address).
    NewToken,
    /// ACK_FREQUENCY with this sequence number (not repaired as such: a loss lets the
    /// policy make a fresh request, ack-frequency §4).
    AckFrequency(u64),
}

/// The records of one packet.
#[derive(Debug, Clone)]
pub struct Records {
    /// The first `len` entries are records; the rest are filler.
    inline: [Record; INLINE],
    len: u8,
    more: Vec<Record>,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            // Filler only: never read past `len`.
            inline: [Record::NewToken; INLINE],
            len: 0,
            more: Vec::new(),
        }
    }
}

impl Records {
    /// Adds a record.
    pub fn push(&mut self, r: Record) {
        if let Some(slot) = self.inline.get_mut(usize::from(self.len)) {
            *slot = r;
            self.len += 1;
        } else {
            self.more.push(r);
        }
    }

    /// The records, in the order they were added: the inline ones, then the rest. Two
    /// plain slices for the per-packet ACK path, which walks them without a chained
    /// iterator's state checks.
    pub fn as_slices(&self) -> (&[Record], &[Record]) {
        let inline = self.inline.get(..usize::from(self.len)).unwrap_or_default();
        (inline, &self.more)
    }

    /// The records, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = Record> + '_ {
        let (inline, more) = self.as_slices();
        inline.iter().chain(more).copied()
    }
}

/// Where the frames of acknowledged and lost packets go (see `conn::ack`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AckedAcks {
    /// The largest "Largest Acknowledged" of our ACK frames now acknowledged, per space.
    pub largest: [Option<u64>; 3],
}

impl AckedAcks {
    pub(crate) fn note(&mut self, space: Space, largest: u64) {
        if let Some(slot) = self.largest.get_mut(space as usize) {
            *slot = Some(slot.map_or(largest, |l| l.max(largest)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_order_past_the_inline_capacity() {
        let mut r = Records::default();
        for i in 0..(INLINE as u64 + 3) {
            r.push(Record::Ack(i));
        }
        let got: Vec<u64> = r
            .iter()
            .map(|x| match x {
                Record::Ack(n) => n,
                _ => u64::MAX,
            })
            .collect();
        assert_eq!(got, (0..INLINE as u64 + 3).collect::<Vec<_>>());
    }
}
