//! The in-memory network: a virtual clock, a link with a fixed one-way delay and an MTU, and
//! what an observer on the wire can see without keys (RFC 8999 invariants and the RFC 9000
//! §17.2 long header fields, which header protection leaves in the clear).
//!
//! Nothing here reads a clock: time is a [`Duration`] since the start of the run, advanced by
//! the driver to the next delivery or timer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Duration;

use quic_wire::Ecn;

/// One UDP datagram on the link.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Sender's address.
    pub src: SocketAddr,
    /// Receiver's address.
    pub dst: SocketAddr,
    /// ECN codepoint of the IP packet.
    pub ecn: Ecn,
    /// UDP payload.
    pub data: Vec<u8>,
}

/// What one side of a cell looks like to the driver: a sans-IO endpoint plus its application.
pub trait Host {
    /// A datagram arrived.
    fn handle_datagram(&mut self, now: Duration, d: Datagram);
    /// Appends every datagram the host wants to send now; each may carry the earliest time
    /// it may leave (pacing).
    fn poll_transmit(&mut self, now: Duration, out: &mut Vec<(Datagram, Option<Duration>)>);
    /// The host's next deadline.
    fn poll_timeout(&mut self) -> Option<Duration>;
    /// Deadlines at or before `now` fire.
    fn handle_timeout(&mut self, now: Duration);
    /// Whether datagrams sent to `addr` reach this host (its current local address).
    fn owns(&self, addr: SocketAddr) -> bool;
}

/// Which way a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// What an observer sees in one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WireStats {
    /// Datagrams sent.
    pub datagrams: u64,
    /// Datagrams dropped: larger than the MTU, or for an address nobody owns.
    pub dropped: u64,
    /// Datagrams marked ECT(0) by their sender.
    pub ect0: u64,
    /// Whether the latest datagram carrying a short-header (1-RTT) packet was marked ECT(0).
    pub last_short_ect0: bool,
    /// Initial packets (RFC 9000 §17.2.2) and, of those, ones carrying a token.
    pub initials: u64,
    /// Initial packets with a non-empty Token field.
    pub initials_with_token: u64,
    /// 0-RTT packets (§17.2.3).
    pub zero_rtt: u64,
    /// Retry packets (§17.2.5).
    pub retries: u64,
    /// Datagrams delivered at the receiver's first address and at any other: down, the
    /// client after migrating; up, the server's preferred address.
    pub delivered_to: [u64; 2],
    /// Datagrams sent from another address than the sender's first one (the client after
    /// migrating, the server from its preferred address).
    pub sent_from_other: u64,
}

/// A datagram waiting on the link.
struct InFlight {
    at: Duration,
    seq: u64,
    way: Way,
    d: Datagram,
}

impl PartialEq for InFlight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for InFlight {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// The link between the client and the server.
pub struct Net {
    /// The virtual time.
    pub now: Duration,
    /// One-way delay of every datagram.
    pub delay: Duration,
    /// Largest UDP payload carried (1472: a 1500-byte IPv4 MTU); bigger ones are dropped.
    pub mtu: usize,
    /// Clear every ECN mark on the way (a bleaching middlebox), to show ECN validation fail.
    pub bleach_ecn: bool,
    /// Observations, client to server and server to client.
    pub up: WireStats,
    /// Server to client.
    pub down: WireStats,
    /// The client's original address, to tell deliveries before and after a migration.
    pub client_first_addr: SocketAddr,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
}

impl Net {
    /// An empty link with `delay` each way.
    pub fn new(delay: Duration, client_first_addr: SocketAddr) -> Self {
        Net {
            now: Duration::ZERO,
            delay,
            mtu: 1472,
            bleach_ecn: false,
            up: WireStats::default(),
            down: WireStats::default(),
            client_first_addr,
            queue: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Puts a datagram on the link; it arrives one delay after `send_at` (or now).
    pub fn send(&mut self, way: Way, mut d: Datagram, send_at: Option<Duration>) {
        let stats = match way {
            Way::Up => &mut self.up,
            Way::Down => &mut self.down,
        };
        observe(stats, way, &d);
        let first = match way {
            Way::Up => self.client_first_addr,
            Way::Down => crate::addr::server(),
        };
        stats.sent_from_other += u64::from(d.src != first);
        if d.data.len() > self.mtu {
            stats.dropped += 1;
            return;
        }
        if self.bleach_ecn {
            d.ecn = Ecn::NotEct;
        }
        let at = send_at.unwrap_or(self.now).max(self.now) + self.delay;
        self.seq += 1;
        self.queue.push(Reverse(InFlight {
            at,
            seq: self.seq,
            way,
            d,
        }));
    }

    /// The next datagram due at or before now.
    pub fn pop_due(&mut self) -> Option<(Way, Datagram)> {
        if self.queue.peek().is_some_and(|f| f.0.at <= self.now) {
            let Reverse(f) = self.queue.pop()?;
            return Some((f.way, f.d));
        }
        None
    }

    /// When the next datagram arrives.
    pub fn next_arrival(&self) -> Option<Duration> {
        self.queue.peek().map(|f| f.0.at)
    }

    /// Counts a datagram the receiver did not own as dropped, or a delivery at the
    /// receiver's first address or another one.
    pub fn note_delivery(&mut self, way: Way, dst: SocketAddr, delivered: bool) {
        let (stats, first) = match way {
            Way::Up => (&mut self.up, crate::addr::server()),
            Way::Down => (&mut self.down, self.client_first_addr),
        };
        if !delivered {
            stats.dropped += 1;
        } else {
            stats.delivered_to[usize::from(dst != first)] += 1;
        }
    }
}

/// Reads a QUIC variable-length integer (RFC 9000 §16) at `*at`.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let first = *b.get(*at)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*at..*at + len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *at += len;
    Some(v)
}

/// Counts what the unprotected header fields of each packet in `d` show.
fn observe(stats: &mut WireStats, _way: Way, d: &Datagram) {
    stats.datagrams += 1;
    if d.ecn == Ecn::Ect0 {
        stats.ect0 += 1;
    }
    let b = &d.data;
    let mut at = 0;
    // Bounded: every round moves `at` forward or stops.
    while at < b.len() {
        let first = b[at];
        if first & 0x80 == 0 {
            // A short header runs to the end of the datagram (RFC 9000 §12.2).
            stats.last_short_ect0 = d.ecn == Ecn::Ect0;
            return;
        }
        let Some(end) = long_packet(stats, b, at) else {
            return;
        };
        at = end;
    }
}

/// Counts one long-header packet at `start` and returns where the next one begins.
fn long_packet(stats: &mut WireStats, b: &[u8], start: usize) -> Option<usize> {
    let first = b[start];
    let version = u32::from_be_bytes(b.get(start + 1..start + 5)?.try_into().ok()?);
    if version != 1 {
        // Version negotiation, or a version whose type bits this observer does not know.
        return None;
    }
    let mut at = start + 5;
    let dcid_len = usize::from(*b.get(at)?);
    at += 1 + dcid_len;
    let scid_len = usize::from(*b.get(at)?);
    at += 1 + scid_len;
    // RFC 9000 §17.2, Table 5: the long packet type of version 1.
    match (first >> 4) & 0x3 {
        0 => {
            stats.initials += 1;
            let token_len = varint(b, &mut at)?;
            if token_len > 0 {
                stats.initials_with_token += 1;
            }
            at += usize::try_from(token_len).ok()?;
        }
        1 => stats.zero_rtt += 1,
        2 => {}
        _ => {
            // Retry: token and integrity tag fill the rest of the datagram (§17.2.5).
            stats.retries += 1;
            return None;
        }
    }
    let len = varint(b, &mut at)?;
    Some(at + usize::try_from(len).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(data: Vec<u8>) -> Datagram {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        Datagram {
            src: a,
            dst: a,
            ecn: Ecn::Ect0,
            data,
        }
    }

    #[test]
    fn observer_reads_coalesced_long_headers() {
        // Initial (token "ab", 3 bytes of payload), then 0-RTT (2 bytes), then a short header.
        let mut d = vec![0xc0, 0, 0, 0, 1, 1, 0xaa, 0, 2, b'a', b'b', 3, 1, 2, 3];
        d.extend_from_slice(&[0xd0, 0, 0, 0, 1, 0, 0, 2, 9, 9]);
        d.extend_from_slice(&[0x40, 1, 2, 3]);
        let mut s = WireStats::default();
        observe(&mut s, Way::Up, &datagram(d));
        assert_eq!((s.initials, s.initials_with_token, s.zero_rtt), (1, 1, 1));
        assert!(s.last_short_ect0);
        assert_eq!(s.ect0, 1);
    }

    #[test]
    fn observer_counts_retry_and_stops() {
        let d = vec![0xf0, 0, 0, 0, 1, 0, 0, 1, 2, 3];
        let mut s = WireStats::default();
        observe(&mut s, Way::Down, &datagram(d));
        assert_eq!(s.retries, 1);
        assert_eq!(s.initials, 0);
    }

    #[test]
    fn link_delays_and_drops_oversized() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut net = Net::new(Duration::from_millis(5), a);
        net.send(Way::Up, datagram(vec![0x40; 1473]), None);
        net.send(Way::Up, datagram(vec![0x40; 100]), None);
        assert_eq!(net.up.dropped, 1);
        assert!(net.pop_due().is_none());
        assert_eq!(net.next_arrival(), Some(Duration::from_millis(5)));
        net.now = Duration::from_millis(5);
        assert_eq!(net.pop_due().map(|(_, d)| d.data.len()), Some(100));
    }
}
