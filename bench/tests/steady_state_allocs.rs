//! Proof of the DESIGN rule "no heap allocation per packet in steady state": a bulk transfer
//! between our two endpoints, driven through the library API with a counting global
//! allocator, makes no allocation inside the library once the transfer is under way.
//!
//! Only the library's calls are counted (`handle_datagram`, `poll_transmit`,
//! `handle_timeout`, `poll_timeout`, `write`, `read_chunk`, event polling); the harness's own
//! buffers are made outside the counted windows. Received datagrams are handed over as
//! `BytesMut` views of one shared receive arena, as an embedder reading into a large buffer
//! would: handing out received stream data as `Bytes` then needs no allocation per datagram
//! (a `Vec`-backed `BytesMut` per datagram would need one reference count each, in `bytes`).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use quic_bench::alloc::{self, CountingAlloc};
use quic_bench::ours;
use quic_bench::run::stack_config;
use quic_bench::tls::TlsMaterial;
use quic_conn::{ConnectionHandle, DatagramMeta, Endpoint, SansIo};
use quic_streams::StreamRef;
use quic_wire::{Dir, Ecn, Instant, StreamId};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000);
const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 4433);
/// One-way delay of the virtual link.
const DELAY: Duration = Duration::from_millis(5);
const ARENA: usize = 1 << 20;

/// Allocations made by the library: `f` runs inside a counted window.
#[derive(Default)]
struct Meter {
    allocations: u64,
    counting: bool,
}

impl Meter {
    fn run<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let before = alloc::stats().allocations;
        let r = f();
        if self.counting {
            self.allocations += alloc::stats().allocations - before;
        }
        r
    }
}

struct InFlight {
    at: Instant,
    to_server: bool,
    data: BytesMut,
}

struct Harness {
    client: Endpoint,
    server: Endpoint,
    now: Instant,
    wire: VecDeque<InFlight>,
    arena: BytesMut,
    buf: Vec<u8>,
    meter: Meter,
    /// Datagrams delivered while counting.
    datagrams: u64,
}

impl Harness {
    /// A view of `bytes` in the shared arena; a new arena (made outside any counted window)
    /// when the current one is full.
    fn stash(&mut self, bytes: &[u8]) -> BytesMut {
        if self.arena.capacity() - self.arena.len() < bytes.len() {
            self.arena = BytesMut::with_capacity(ARENA);
            // Make it shared now, so splitting later allocates nothing.
            drop(self.arena.split_to(0));
        }
        self.arena.extend_from_slice(bytes);
        self.arena.split_to(bytes.len())
    }

    /// Sends what both ends have, delivers what arrived, fires due timers; then moves the
    /// clock to the next event. Returns false when nothing at all is pending.
    fn step(&mut self) -> bool {
        for to_server in [true, false] {
            loop {
                let now = self.now;
                let (ep, buf, meter) = if to_server {
                    (&mut self.client, &mut self.buf, &mut self.meter)
                } else {
                    (&mut self.server, &mut self.buf, &mut self.meter)
                };
                let Some(t) = meter.run(|| ep.poll_transmit(now, buf)) else {
                    break;
                };
                let seg = t.segment_size.unwrap_or(t.size);
                let mut off = 0;
                while off < t.size {
                    let end = (off + seg).min(t.size);
                    let chunk = self.buf[off..end].to_vec();
                    let data = self.stash(&chunk);
                    self.wire.push_back(InFlight {
                        at: self.now.checked_add(DELAY).expect("time"),
                        to_server,
                        data,
                    });
                    off = end;
                }
            }
        }
        while self.wire.front().is_some_and(|f| f.at <= self.now) {
            let f = self.wire.pop_front().expect("front");
            let now = self.now;
            let (ep, meta) = if f.to_server {
                (&mut self.server, meta(CLIENT, SERVER))
            } else {
                (&mut self.client, meta(SERVER, CLIENT))
            };
            self.meter.run(|| ep.handle_datagram(now, meta, f.data));
            if self.meter.counting {
                self.datagrams += 1;
            }
        }
        for ep in [&mut self.client, &mut self.server] {
            let now = self.now;
            let due = self.meter.run(|| ep.poll_timeout());
            if due.is_some_and(|t| t <= now) {
                self.meter.run(|| ep.handle_timeout(now));
            }
        }
        let next = [
            self.wire.front().map(|f| f.at),
            self.meter.run(|| self.client.poll_timeout()),
            self.meter.run(|| self.server.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) => {
                self.now = self.now.max(t);
                true
            }
            None => false,
        }
    }
}

fn meta(from: SocketAddr, to: SocketAddr) -> DatagramMeta {
    DatagramMeta {
        remote: from,
        local: to,
        ecn: Ecn::NotEct,
    }
}

#[test]
fn steady_state_bulk_makes_no_allocation_per_packet() {
    let tls = TlsMaterial::generate("localhost").expect("certificate");
    let config = stack_config(&tls, 7);
    let eps = ours::endpoints(&config).expect("endpoints");
    let mut h = Harness {
        client: eps.client,
        server: eps.server,
        now: Instant::from_nanos(1_000_000_000),
        wire: VecDeque::new(),
        arena: BytesMut::new(),
        buf: vec![0u8; 64 * 1452],
        meter: Meter::default(),
        datagrams: 0,
    };
    let now = h.now;
    let c: ConnectionHandle = h
        .client
        .connect(now, eps.client_tls, &config.server_name, CLIENT, SERVER)
        .expect("connect");
    // Handshake.
    let mut established = false;
    for _ in 0..10_000 {
        h.step();
        let server_ready = h
            .server
            .handles()
            .collect::<Vec<_>>()
            .into_iter()
            .any(|s| h.server.connection(s).is_some_and(|c| c.is_established()));
        if server_ready && h.client.connection(c).is_some_and(|c| c.is_established()) {
            established = true;
            break;
        }
    }
    assert!(established, "handshake did not complete");
    let s: ConnectionHandle = h.server.handles().next().expect("server connection");
    let id: StreamId = match h.client.connection(c).expect("client").open(Dir::Bi) {
        Ok(StreamRef::Id(id)) => id,
        other => panic!("cannot open the stream: {other:?}"),
    };

    let total: u64 = 48 << 20;
    let warm_up: u64 = 16 << 20;
    let block = vec![0x5au8; 64 * 1024];
    let (mut written, mut received) = (0u64, 0u64);
    let mut rounds = 0u64;
    while received < total {
        rounds += 1;
        assert!(rounds < 10_000_000, "transfer stalled at {received} bytes");
        h.meter.counting = received >= warm_up;
        // The application writes as much as the stream takes...
        while written < total {
            let n = (total - written).min(block.len() as u64) as usize;
            let took = h.meter.run(|| {
                h.client
                    .connection(c)
                    .expect("client")
                    .write(id, &block[..n])
                    .expect("write")
            });
            written += took as u64;
            if took < n {
                break;
            }
        }
        // ...and the server application reads whatever arrived.
        let conn = h.server.connection(s).expect("server");
        loop {
            let before = alloc::stats().allocations;
            let chunk = conn.streams().read_chunk(id, usize::MAX);
            let chunk_allocs = alloc::stats().allocations - before;
            if h.meter.counting {
                h.meter.allocations += chunk_allocs;
            }
            match chunk {
                Ok(ch) if !ch.data.is_empty() => received += ch.data.len() as u64,
                _ => break,
            }
        }
        for ep in [&mut h.client, &mut h.server] {
            let meter = &mut h.meter;
            let handles: Vec<ConnectionHandle> = ep.handles().collect();
            for hd in handles {
                while meter
                    .run(|| ep.connection(hd).and_then(|c| c.poll_event()))
                    .is_some()
                {}
            }
            while meter.run(|| ep.poll_event()).is_some() {}
        }
        h.step();
    }
    assert_eq!(received, total);
    assert!(
        h.datagrams > 20_000,
        "only {} datagrams measured",
        h.datagrams
    );
    assert_eq!(
        h.meter.allocations, 0,
        "{} allocations in the library over {} datagrams of steady-state bulk",
        h.meter.allocations, h.datagrams
    );
}
