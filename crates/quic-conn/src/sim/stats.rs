//! What the network did: per-link counters and the trace of every datagram's fate.

use core::net::SocketAddr;

use quic_wire::Instant;

use super::LinkId;

/// Why the network dropped a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DropCause {
    /// Random or bursty loss on the wire ([`Loss`](super::Loss)).
    Loss,
    /// The link's queue was full (tail drop).
    Queue,
    /// Larger than the link's MTU.
    Mtu,
    /// Sent during a blackhole window.
    Blackhole,
    /// Addressed to a NAT public address that no longer forwards to the host.
    Nat,
    /// No link from the source to the destination, no host owns the destination, or the
    /// sender used a source address it does not own.
    NoRoute,
}

/// Counters of one directional link. Everything is in datagrams unless named `_bytes`;
/// a GSO batch counts as the datagrams it was split into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams offered to the link.
    pub sent: u64,
    /// Payload bytes offered to the link.
    pub sent_bytes: u64,
    /// Datagrams handed to the receiving host (duplicates included).
    pub delivered: u64,
    /// Payload bytes handed to the receiving host.
    pub delivered_bytes: u64,
    /// Dropped by random or bursty loss.
    pub lost: u64,
    /// Dropped because the queue was full.
    pub dropped_queue: u64,
    /// Dropped for exceeding the MTU.
    pub dropped_mtu: u64,
    /// Dropped in a blackhole window.
    pub dropped_blackhole: u64,
    /// Dropped at a NAT whose mapping had changed.
    pub dropped_nat: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Copies with one bit flipped.
    pub corrupted: u64,
    /// Datagrams held back so that later ones could overtake them.
    pub reordered: u64,
    /// ECN-capable datagrams marked Congestion Experienced.
    pub ce_marked: u64,
}

impl LinkStats {
    /// How many datagrams were dropped for `cause`.
    pub fn dropped(&self, cause: DropCause) -> u64 {
        match cause {
            DropCause::Loss => self.lost,
            DropCause::Queue => self.dropped_queue,
            DropCause::Mtu => self.dropped_mtu,
            DropCause::Blackhole => self.dropped_blackhole,
            DropCause::Nat => self.dropped_nat,
            DropCause::NoRoute => 0,
        }
    }

    /// All drops, whatever the cause.
    pub fn dropped_total(&self) -> u64 {
        self.lost
            + self.dropped_queue
            + self.dropped_mtu
            + self.dropped_blackhole
            + self.dropped_nat
    }

    pub(crate) fn count_drop(&mut self, cause: DropCause) {
        match cause {
            DropCause::Loss => self.lost += 1,
            DropCause::Queue => self.dropped_queue += 1,
            DropCause::Mtu => self.dropped_mtu += 1,
            DropCause::Blackhole => self.dropped_blackhole += 1,
            DropCause::Nat => self.dropped_nat += 1,
            // Counted by the simulator, not by a link.
            DropCause::NoRoute => {}
        }
    }
}

/// What happened to a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceKind {
    /// Offered to a link (or to routing, when no link matched).
    Sent,
    /// Handed to the receiving host.
    Delivered,
    /// Dropped, and why.
    Dropped(DropCause),
}

/// One step in the life of a datagram, passed to the trace hook
/// ([`Sim::on_trace`](super::Sim::on_trace)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceEvent {
    /// The virtual time it happened.
    pub time: Instant,
    /// What happened.
    pub kind: TraceKind,
    /// The link involved, if routing found one.
    pub link: Option<LinkId>,
    /// The source address as the receiver sees it (after NAT).
    pub source: SocketAddr,
    /// The destination address the sender wrote.
    pub destination: SocketAddr,
    /// The payload length.
    pub len: usize,
    /// A 64-bit FNV-1a hash of the payload, to tell copies and corruptions apart.
    pub digest: u64,
}

/// FNV-1a over `data`: cheap, stable across runs and platforms.
pub(crate) fn digest(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}
