//! What the network did: per-link counters and the trace of every datagram's fate.

use core::{fmt, net::SocketAddr};

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
    /// Rejected by the link's filter ([`Sim::set_filter`](super::Sim::set_filter)).
    Filter,
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
    /// Dropped by the link's filter.
    pub dropped_filter: u64,
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
            DropCause::Filter => self.dropped_filter,
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
            DropCause::Filter => self.dropped_filter += 1,
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

impl fmt::Display for TraceEvent {
    /// One line, e.g. `12.5ms link 0 Delivered 10.0.0.1:1 -> 10.0.0.2:1 1200B #ab12..`,
    /// handy as `sim.on_trace(|e| eprintln!("{e}"))` when a test fails.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = core::time::Duration::from_nanos(self.time.as_nanos());
        write!(f, "{t:?} ")?;
        match self.link {
            Some(l) => write!(f, "link {} ", l.0)?,
            None => write!(f, "no link ")?,
        }
        match self.kind {
            TraceKind::Dropped(cause) => write!(f, "Dropped({cause:?})")?,
            kind => write!(f, "{kind:?}")?,
        }
        write!(
            f,
            " {} -> {} {}B #{:016x}",
            self.source, self.destination, self.len, self.digest
        )
    }
}

/// FNV-1a over `data`: cheap, stable across runs and platforms.
pub(crate) fn digest(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn trace_event_prints_on_one_line() {
        let e = TraceEvent {
            time: Instant::from_nanos(1_500_000),
            kind: TraceKind::Dropped(DropCause::Mtu),
            link: Some(LinkId(3)),
            source: "10.0.0.1:1".parse().unwrap(),
            destination: "10.0.0.2:2".parse().unwrap(),
            len: 1600,
            digest: 0xab,
        };
        assert_eq!(
            e.to_string(),
            "1.5ms link 3 Dropped(Mtu) 10.0.0.1:1 -> 10.0.0.2:2 1600B #00000000000000ab"
        );
    }

    #[test]
    fn digest_is_fnv1a() {
        // FNV-1a 64 reference values.
        assert_eq!(digest(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(digest(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
