//! The simulator is a function of its seed and its inputs: same seed, same trace.
#![cfg(feature = "sim")]

use core::{net::SocketAddr, time::Duration};
use std::{cell::RefCell, rc::Rc};

use quic_conn::sim::{
    toy::{Echo, Scripted},
    GilbertElliott, LinkConfig, LinkId, Loss, Reorder, Sim, SimRng, TraceEvent, TraceKind,
};
use quic_wire::Instant;
use rand_core::RngCore;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Every impairment at once.
fn hostile() -> LinkConfig {
    LinkConfig {
        bandwidth_bps: Some(2_000_000),
        delay: Duration::from_millis(15),
        jitter: Duration::from_millis(4),
        queue_bytes: 8_000,
        loss: Loss::GilbertElliott(GilbertElliott {
            p_enter_bad: 0.05,
            p_leave_bad: 0.3,
            loss_good: 0.01,
            loss_bad: 0.8,
        }),
        reorder: Reorder {
            p: 0.1,
            extra_delay: Duration::from_millis(6),
        },
        duplicate: 0.05,
        corrupt: 0.05,
        mtu: 1400,
        blackholes: vec![(
            Instant::ZERO + Duration::from_millis(300),
            Instant::ZERO + Duration::from_millis(350),
        )],
        ecn_ce_threshold: Some(4_000),
        ..LinkConfig::default()
    }
}

/// Two scripted clients talking to an echo server over hostile links, one behind a
/// rebinding NAT. Returns the full trace, filtered to `only` when given.
fn scenario(seed: u64, only: Option<LinkId>, quiet_second_client: bool) -> Vec<TraceEvent> {
    let c1 = addr("10.0.0.1:1000");
    let c2 = addr("10.0.0.2:1000");
    let server = addr("192.0.2.1:443");
    let mut sim = Sim::new(seed);
    let h1 = sim.add_host(Scripted::new(), &[c1]);
    let h2 = sim.add_host(Scripted::new(), &[c2]);
    sim.add_host(Echo::new(), &[server]);
    sim.duplex(c1, server, hostile());
    sim.duplex(c2, server, hostile());
    sim.rebind(
        c2,
        Instant::ZERO + Duration::from_millis(200),
        addr("203.0.113.5:7000"),
    );
    let trace = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&trace);
    sim.on_trace(move |e: &TraceEvent| {
        if only.is_none_or(|l| e.link == Some(l)) {
            sink.borrow_mut().push(*e);
        }
    });
    let every = Duration::from_millis(2);
    sim.node_mut::<Scripted>(h1)
        .plan_numbered(server, 300, 1200, Instant::ZERO, every);
    if !quiet_second_client {
        sim.node_mut::<Scripted>(h2)
            .plan_numbered(server, 300, 900, Instant::ZERO, every);
    }
    sim.run_until_idle(Duration::from_secs(60)).unwrap();
    trace.take()
}

#[test]
fn the_same_seed_gives_the_identical_trace() {
    let first = scenario(42, None, false);
    let second = scenario(42, None, false);
    assert!(first.len() > 1000, "trace of {} events", first.len());
    assert_eq!(first, second);
    // The scenario exercised the impairments it claims to.
    for cause in ["Loss", "Queue", "Blackhole", "Nat"] {
        assert!(
            first
                .iter()
                .any(|e| matches!(e.kind, TraceKind::Dropped(c) if format!("{c:?}") == cause)),
            "no drop for {cause}"
        );
    }
}

#[test]
fn a_different_seed_gives_a_different_trace() {
    assert_ne!(scenario(42, None, false), scenario(43, None, false));
}

#[test]
fn traffic_on_one_link_does_not_change_the_fate_of_another() {
    // Link 0 is c1 -> server. Its random draws come from its own generator, so whether
    // the second client talks or not changes nothing on it.
    let busy = scenario(7, Some(LinkId(0)), false);
    let quiet = scenario(7, Some(LinkId(0)), true);
    assert!(!busy.is_empty());
    assert_eq!(busy, quiet);
}

#[test]
fn forked_generators_are_reproducible_and_distinct() {
    let mut a = Sim::new(5);
    let mut b = Sim::new(5);
    let mut ra: SimRng = a.fork_rng();
    let mut rb: SimRng = b.fork_rng();
    let mut ra2 = a.fork_rng();
    let xs: Vec<u64> = (0..4).map(|_| ra.next_u64()).collect();
    let ys: Vec<u64> = (0..4).map(|_| rb.next_u64()).collect();
    let zs: Vec<u64> = (0..4).map(|_| ra2.next_u64()).collect();
    assert_eq!(xs, ys);
    assert_ne!(xs, zs);
    let mut bytes = [0u8; 13];
    ra.fill_bytes(&mut bytes);
    assert_ne!(bytes, [0; 13]);
}
