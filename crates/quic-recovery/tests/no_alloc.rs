//! Steady state allocates nothing: after a warm-up that lets the rings and scratch buffers
//! reach their working size, sending packets, receiving them, writing ACKs, processing ACKs
//! (with gaps, so losses and loss detection run too) and timeouts make no heap allocation.
//!
//! A counting `#[global_allocator]` needs `unsafe impl GlobalAlloc`. The library forbids
//! unsafe code in `lib.rs`; the package's lint table sets `unsafe_code = "deny"` (rather than
//! the workspace's `forbid`) so that this test file alone can allow it.
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use common::TestRng;
use quic_recovery::{
    AckConfig, AckTracker, CcConfig, Ecn, PathRecovery, RecoveryConfig, RecoverySink, SentPacket,
};
use quic_wire::codec::{Reader, Writer};
use quic_wire::{Frame, Instant, PathId, Space};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is the system allocator's; counting touches only an atomic and a
// const-initialised thread-local, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout` (all allocations go
        // through this type).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged; `ptr` and `layout` come from this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A frame record like quic-conn's: small and inline.
#[derive(Debug, Clone, Copy)]
struct Record {
    stream: u64,
    offset: u64,
    len: u16,
}

#[derive(Default)]
struct Sink {
    acked: u64,
    lost: u64,
}

impl RecoverySink<Record> for Sink {
    fn on_acked(&mut self, _: Space, p: &SentPacket<Record>) {
        self.acked += u64::from(p.frames.len);
    }
    fn on_lost(&mut self, _: Space, p: SentPacket<Record>) {
        self.lost += p.frames.stream + p.frames.offset;
    }
}

/// One round: send `n` packets, the peer receives all but every 50th, acknowledges every
/// second one, and the ACKs come back.
fn round(
    r: &mut PathRecovery<Record>,
    peer: &mut AckTracker,
    rng: &mut TestRng,
    sink: &mut Sink,
    now: &mut u64,
    n: u64,
) {
    let mut buf = [0u8; 1200];
    for i in 0..n {
        *now += 100_000;
        let t = Instant::from_nanos(*now);
        let _ = r.send_time(t, 1200);
        let pn = r.next_pn(Space::Data, rng).unwrap();
        r.on_packet_sent(
            t,
            Space::Data,
            1200,
            true,
            true,
            Record {
                stream: 4,
                offset: pn * 1000,
                len: 1000,
            },
        );
        if pn % 50 == 7 {
            continue; // lost on the way
        }
        let arrive = Instant::from_nanos(*now + 20_000_000);
        peer.on_packet(pn, true, Ecn::Ect0, arrive);
        if i % 2 == 1 {
            let len = {
                let mut w = Writer::new(&mut buf);
                peer.write_ack(&mut w, None, arrive, 1000).unwrap();
                w.filled().len()
            };
            let Ok(Frame::Ack(ack)) = Frame::parse(&mut Reader::new(&buf[..len])) else {
                panic!("ACK does not parse");
            };
            let back = Instant::from_nanos(*now + 40_000_000);
            r.on_ack_received(back, Space::Data, &ack, sink).unwrap();
            r.on_timeout(back, sink);
            let _ = r.poll_timeout();
        }
    }
}

#[test]
fn steady_state_sending_receiving_and_acking_does_not_allocate() {
    // The counter works.
    COUNTING.with(|c| c.set(true));
    drop(std::hint::black_box(Vec::<u8>::with_capacity(8)));
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCATIONS.swap(0, Ordering::Relaxed), 1);
    for cc in [
        CcConfig::NewReno,
        CcConfig::Cubic { hystart: true },
        CcConfig::Bbr,
    ] {
        let config = RecoveryConfig {
            cc,
            ..RecoveryConfig::default()
        };
        let mut rng = TestRng(9);
        let mut r = PathRecovery::new(PathId::ZERO, &config, false, &mut rng);
        r.on_handshake_confirmed(Instant::ZERO);
        r.discard_space(Instant::ZERO, Space::Initial);
        r.discard_space(Instant::ZERO, Space::Handshake);
        let mut peer = AckTracker::new(Space::Data, &AckConfig::default());
        let mut sink = Sink::default();
        let mut now = 0;
        // Warm-up: rings and scratch space reach their working size.
        round(&mut r, &mut peer, &mut rng, &mut sink, &mut now, 10_000);
        let before_acked = sink.acked;
        COUNTING.with(|c| c.set(true));
        round(&mut r, &mut peer, &mut rng, &mut sink, &mut now, 30_000);
        COUNTING.with(|c| c.set(false));
        let allocations = ALLOCATIONS.swap(0, Ordering::Relaxed);
        assert!(sink.acked > before_acked, "the run acknowledged data");
        assert!(sink.lost > 0, "the run declared losses");
        assert_eq!(allocations, 0, "{cc:?}: heap allocations in steady state");
    }
}
