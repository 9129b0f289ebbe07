//! Splitting a datagram into its coalesced packets (RFC 9000 §12.2).

use core::{iter::FusedIterator, ops::Range};

use crate::{
    packet::header::{parse_one, HeaderError, Packet, ParseConfig},
    ConnectionId,
};

/// A packet found in a datagram, with its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramPacket<'a> {
    /// Where the packet starts in the datagram.
    pub offset: usize,
    /// The packet.
    pub packet: Packet<'a>,
}

impl DatagramPacket<'_> {
    /// The packet's bytes as a range of the datagram, to apply to the caller's mutable
    /// copy for header-protection removal and in-place decryption.
    #[inline]
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.packet.len()
    }
}

/// A packet (or the rest of a datagram) that was dropped, with why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedPacket {
    /// Where the dropped bytes start in the datagram.
    pub offset: usize,
    /// How many bytes were dropped.
    pub len: usize,
    /// Why.
    pub error: HeaderError,
}

impl DroppedPacket {
    /// The dropped bytes as a range of the datagram.
    #[inline]
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// The packets of one datagram, in order (RFC 9000 §12.2).
///
/// Yields `Ok` for each packet and `Err` for each drop:
/// - a packet whose header cannot be read (truncated, Length past the end, fixed bit 0,
///   ...) drops **the rest of the datagram** and ends the iteration: without a trustworthy
///   Length the next packet cannot be found;
/// - a packet whose Destination Connection ID differs from the first packet's is dropped
///   alone and the iteration goes on after it. RFC 9000 §12.2: "Senders MUST NOT coalesce
///   QUIC packets with different connection IDs into a single UDP datagram. Receivers
///   SHOULD ignore any subsequent packets with a different Destination Connection ID than
///   the first packet in the datagram.";
/// - a protected packet too short for a header-protection sample (RFC 9001 §5.4.2) is
///   dropped alone too.
///
/// Short-header, Retry, Version Negotiation and unknown-version packets have no Length
/// field and take the rest of the datagram, so they are always last. The iterator makes
/// progress on every step and ends after at most `datagram.len()` items.
#[derive(Debug, Clone)]
pub struct CoalescedPackets<'a> {
    datagram: &'a [u8],
    offset: usize,
    cfg: ParseConfig,
    first_dcid: Option<ConnectionId>,
}

impl<'a> CoalescedPackets<'a> {
    /// An iterator over the packets of `datagram`.
    #[inline]
    pub fn new(datagram: &'a [u8], cfg: ParseConfig) -> Self {
        CoalescedPackets {
            datagram,
            offset: 0,
            cfg,
            first_dcid: None,
        }
    }

    /// The Destination Connection ID of the first packet, once it has been read (`None`
    /// for a first packet whose connection IDs may exceed 20 bytes).
    #[inline]
    pub fn first_dcid(&self) -> Option<&ConnectionId> {
        self.first_dcid.as_ref()
    }
}

impl<'a> Iterator for CoalescedPackets<'a> {
    type Item = Result<DatagramPacket<'a>, DroppedPacket>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.datagram.get(self.offset..).unwrap_or_default();
        if rest.is_empty() {
            return None;
        }
        let offset = self.offset;
        let packet = match parse_one(rest, &self.cfg) {
            Ok(p) => p,
            Err(error) => {
                self.offset = self.datagram.len();
                return Some(Err(DroppedPacket {
                    offset,
                    len: rest.len(),
                    error,
                }));
            }
        };
        // A parsed packet is never empty (its first byte at least), so this advances.
        let len = packet.len().max(1);
        self.offset = offset + len;
        let drop = |error| Some(Err(DroppedPacket { offset, len, error }));

        match self.first_dcid {
            None if offset == 0 => self.first_dcid = ConnectionId::new(packet.dcid()).ok(),
            Some(first) if first.as_bytes() != packet.dcid() => {
                return drop(HeaderError::DcidMismatch)
            }
            _ => {}
        }
        if let Packet::Protected(p) = &packet {
            if let Err(error) = p.check_sample_room() {
                return drop(error);
            }
        }
        Some(Ok(DatagramPacket { offset, packet }))
    }
}

impl FusedIterator for CoalescedPackets<'_> {}
