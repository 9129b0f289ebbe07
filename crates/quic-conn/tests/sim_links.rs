//! Each link impairment of the simulator, measured with toy nodes and fixed seeds.
#![cfg(feature = "sim")]

use core::{net::SocketAddr, time::Duration};

use quic_conn::sim::{
    toy::{numbered_payload, Planned, Scripted},
    DropCause, GilbertElliott, HostId, LinkConfig, LinkId, Loss, Reorder, Sim,
};
use quic_wire::{Ecn, Instant};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at_ms(n: u64) -> Instant {
    Instant::ZERO + ms(n)
}

const A: &str = "10.0.0.1:1000";
const B: &str = "10.0.0.2:2000";

/// Two scripted hosts and one link A -> B with `config`.
struct Bench {
    sim: Sim,
    sender: HostId,
    receiver: HostId,
    link: LinkId,
}

impl Bench {
    fn new(seed: u64, config: LinkConfig) -> Self {
        let mut sim = Sim::new(seed);
        let sender = sim.add_host(Scripted::new(), &[addr(A)]);
        let receiver = sim.add_host(Scripted::new(), &[addr(B)]);
        let link = sim.link(addr(A), addr(B), config);
        Bench {
            sim,
            sender,
            receiver,
            link,
        }
    }

    /// Sends `count` numbered datagrams of `len` bytes, one every `interval` from 0, and
    /// runs until everything settled.
    fn blast(
        &mut self,
        count: u64,
        len: usize,
        interval: Duration,
    ) -> &[quic_conn::sim::toy::Arrival] {
        self.sim.node_mut::<Scripted>(self.sender).plan_numbered(
            addr(B),
            count,
            len,
            Instant::ZERO,
            interval,
        );
        self.sim.run_until_idle(Duration::from_secs(3600)).unwrap();
        self.sim.node::<Scripted>(self.receiver).received()
    }

    fn seqs(&self) -> Vec<u64> {
        self.sim.node::<Scripted>(self.receiver).received_seqs()
    }
}

#[test]
fn bandwidth_spaces_arrivals_by_serialization_time() {
    // 1000 bytes at 8 Mbit/s take exactly 1 ms on the wire.
    let config = LinkConfig {
        bandwidth_bps: Some(8_000_000),
        delay: ms(5),
        queue_bytes: 100_000,
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(1, config);
    let arrivals = bench.blast(10, 1000, Duration::ZERO);
    let times: Vec<Instant> = arrivals.iter().map(|a| a.time).collect();
    let expected: Vec<Instant> = (1..=10).map(|k| at_ms(5 + k)).collect();
    assert_eq!(times, expected);
    assert_eq!(bench.seqs(), (0..10).collect::<Vec<_>>());
    let stats = bench.sim.link_stats(bench.link);
    assert_eq!((stats.sent, stats.delivered), (10, 10));
    assert_eq!((stats.sent_bytes, stats.delivered_bytes), (10_000, 10_000));
}

#[test]
fn an_idle_link_does_not_delay_a_datagram_by_its_past_load() {
    let config = LinkConfig {
        bandwidth_bps: Some(8_000_000),
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(1, config);
    let s = bench.sim.node_mut::<Scripted>(bench.sender);
    s.plan(Planned::new(
        Instant::ZERO,
        addr(B),
        numbered_payload(0, 1000),
    ));
    s.plan(Planned::new(at_ms(10), addr(B), numbered_payload(1, 500)));
    bench.sim.run_until_idle(ms(100)).unwrap();
    let times: Vec<Instant> = bench
        .sim
        .node::<Scripted>(bench.receiver)
        .received()
        .iter()
        .map(|a| a.time)
        .collect();
    assert_eq!(times, [at_ms(1), at_ms(10) + Duration::from_micros(500)]);
}

#[test]
fn delay_adds_exactly_the_propagation_time() {
    let mut bench = Bench::new(1, LinkConfig::with_delay(ms(25)));
    let arrivals = bench.blast(5, 100, ms(3));
    for (k, a) in arrivals.iter().enumerate() {
        assert_eq!(a.time, at_ms(25 + 3 * k as u64));
        assert_eq!(a.meta.remote, addr(A));
        assert_eq!(a.meta.local, addr(B));
    }
    assert_eq!(arrivals.len(), 5);
}

#[test]
fn jitter_stays_within_bounds_and_never_reorders() {
    // Jitter (5 ms) larger than the spacing (1 ms): without the FIFO rule datagrams
    // would overtake each other.
    let config = LinkConfig {
        delay: ms(10),
        jitter: ms(5),
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(7, config);
    let arrivals = bench.blast(500, 100, ms(1)).to_vec();
    assert_eq!(arrivals.len(), 500);
    let mut delays = Vec::new();
    for a in &arrivals {
        let sent = at_ms(a.seq().unwrap());
        let delay = a.time - sent;
        assert!(
            delay >= ms(10) && delay <= ms(15),
            "delay {delay:?} out of bounds"
        );
        delays.push(delay);
    }
    assert_eq!(bench.seqs(), (0..500).collect::<Vec<_>>());
    // The jitter really varies the delay.
    delays.sort();
    delays.dedup();
    assert!(delays.len() > 100, "only {} distinct delays", delays.len());
    assert_eq!(bench.sim.link_stats(bench.link).reordered, 0);
}

#[test]
fn reordering_lets_later_datagrams_overtake_held_ones() {
    let config = LinkConfig {
        delay: ms(10),
        reorder: Reorder {
            p: 0.2,
            extra_delay: ms(5),
        },
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(11, config);
    let arrivals = bench.blast(1000, 100, ms(1)).to_vec();
    assert_eq!(arrivals.len(), 1000);
    let held: Vec<u64> = arrivals
        .iter()
        .filter(|a| a.time - at_ms(a.seq().unwrap()) == ms(15))
        .map(|a| a.seq().unwrap())
        .collect();
    let on_time = arrivals
        .iter()
        .filter(|a| a.time - at_ms(a.seq().unwrap()) == ms(10))
        .count();
    assert_eq!(
        held.len() + on_time,
        1000,
        "every datagram is either on time or held"
    );
    let stats = bench.sim.link_stats(bench.link);
    assert_eq!(stats.reordered, held.len() as u64);
    assert!((150..=250).contains(&held.len()), "held {}", held.len());
    // A held datagram arrives after the next ones (sent 1 ms apart, 5 ms extra).
    let seqs = bench.seqs();
    let first_held = held[0];
    let pos = seqs.iter().position(|&s| s == first_held).unwrap();
    assert!(seqs[..pos].iter().any(|&s| s > first_held));
    assert!(seqs.windows(2).any(|w| w[0] > w[1]));
}

#[test]
fn a_full_queue_drops_the_tail() {
    // 1 ms per datagram, room for five: a burst of 20 keeps the first five.
    let config = LinkConfig {
        bandwidth_bps: Some(8_000_000),
        queue_bytes: 5000,
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(1, config);
    bench.blast(20, 1000, Duration::ZERO);
    assert_eq!(bench.seqs(), [0, 1, 2, 3, 4]);
    let stats = bench.sim.link_stats(bench.link).clone();
    assert_eq!(stats.dropped_queue, 15);
    assert_eq!(stats.dropped(DropCause::Queue), 15);
    assert_eq!(stats.delivered, 5);

    // Spaced at the link rate, nothing is dropped.
    let config = LinkConfig {
        bandwidth_bps: Some(8_000_000),
        queue_bytes: 5000,
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(1, config);
    bench.blast(20, 1000, ms(1));
    assert_eq!(bench.seqs().len(), 20);
    assert_eq!(bench.sim.link_stats(bench.link).dropped_queue, 0);
}

#[test]
fn random_loss_rate_is_near_p() {
    let config = LinkConfig {
        loss: Loss::Random(0.1),
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(3, config);
    bench.blast(20_000, 50, Duration::from_micros(10));
    let stats = bench.sim.link_stats(bench.link);
    assert_eq!(stats.lost + stats.delivered, 20_000);
    // Three standard deviations (about 127) around the mean of 2000.
    assert!((1870..=2130).contains(&stats.lost), "lost {}", stats.lost);
    assert_eq!(stats.dropped_total(), stats.lost);
}

/// The lengths of runs of consecutive missing sequence numbers below `count`.
fn loss_runs(received: &[u64], count: u64) -> Vec<u64> {
    let mut got = vec![false; count as usize];
    for &s in received {
        got[s as usize] = true;
    }
    let mut runs = Vec::new();
    let mut run = 0;
    for g in got {
        if g {
            if run > 0 {
                runs.push(run);
            }
            run = 0;
        } else {
            run += 1;
        }
    }
    if run > 0 {
        runs.push(run);
    }
    runs
}

#[test]
fn gilbert_elliott_loss_comes_in_bursts() {
    // Stationary bad fraction 0.01 / (0.01 + 0.25), about 3.8%; mean burst 4.
    let bursty = LinkConfig {
        loss: Loss::GilbertElliott(GilbertElliott {
            p_enter_bad: 0.01,
            p_leave_bad: 0.25,
            loss_good: 0.0,
            loss_bad: 1.0,
        }),
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(5, bursty);
    bench.blast(20_000, 50, Duration::from_micros(10));
    let runs = loss_runs(&bench.seqs(), 20_000);
    let lost: u64 = runs.iter().sum();
    assert_eq!(lost, bench.sim.link_stats(bench.link).lost);
    let mean_burst = lost as f64 / runs.len() as f64;
    assert!((3.0..=5.0).contains(&mean_burst), "mean burst {mean_burst}");
    let rate = lost as f64 / 20_000.0;
    assert!((0.025..=0.055).contains(&rate), "loss rate {rate}");

    // Independent loss at the same rate hardly ever loses two in a row.
    let random = LinkConfig {
        loss: Loss::Random(rate),
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(5, random);
    bench.blast(20_000, 50, Duration::from_micros(10));
    let runs = loss_runs(&bench.seqs(), 20_000);
    let mean_run = runs.iter().sum::<u64>() as f64 / runs.len() as f64;
    assert!(mean_run < 1.2, "mean run {mean_run}");
}

#[test]
fn duplication_delivers_a_second_copy_at_the_same_time() {
    let config = LinkConfig {
        delay: ms(2),
        duplicate: 0.3,
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(9, config);
    let arrivals = bench.blast(1000, 64, ms(1)).to_vec();
    let stats = bench.sim.link_stats(bench.link).clone();
    assert!(
        (250..=350).contains(&stats.duplicated),
        "dup {}",
        stats.duplicated
    );
    assert_eq!(stats.delivered, 1000 + stats.duplicated);
    assert_eq!(arrivals.len() as u64, stats.delivered);
    let mut doubled = 0;
    for w in arrivals.windows(2) {
        if w[0].seq() == w[1].seq() {
            assert_eq!(w[0].time, w[1].time);
            assert_eq!(w[0].data, w[1].data);
            doubled += 1;
        }
    }
    assert_eq!(doubled, stats.duplicated);
}

#[test]
fn corruption_flips_exactly_one_bit() {
    let config = LinkConfig {
        corrupt: 0.5,
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(13, config);
    let arrivals = bench.blast(400, 32, ms(1)).to_vec();
    assert_eq!(arrivals.len(), 400);
    let mut corrupted = 0;
    for (k, a) in arrivals.iter().enumerate() {
        // No loss or reordering: the k-th arrival is datagram k.
        let original = numbered_payload(k as u64, 32);
        let flipped: u32 = original
            .iter()
            .zip(&a.data)
            .map(|(x, y)| (x ^ y).count_ones())
            .sum();
        assert!(flipped <= 1, "datagram {k} has {flipped} flipped bits");
        corrupted += u64::from(flipped);
    }
    assert_eq!(corrupted, bench.sim.link_stats(bench.link).corrupted);
    assert!((160..=240).contains(&corrupted), "corrupted {corrupted}");
}

#[test]
fn mtu_drops_oversize_datagrams() {
    let config = LinkConfig {
        mtu: 1200,
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(1, config);
    let s = bench.sim.node_mut::<Scripted>(bench.sender);
    s.plan(Planned::new(
        Instant::ZERO,
        addr(B),
        numbered_payload(0, 1200),
    ));
    s.plan(Planned::new(
        Instant::ZERO,
        addr(B),
        numbered_payload(1, 1201),
    ));
    s.plan(Planned::new(
        Instant::ZERO,
        addr(B),
        numbered_payload(2, 9000),
    ));
    bench.sim.run_until_idle(ms(10)).unwrap();
    assert_eq!(bench.seqs(), [0]);
    let stats = bench.sim.link_stats(bench.link);
    assert_eq!(stats.dropped_mtu, 2);
    assert_eq!(stats.delivered_bytes, 1200);
}

#[test]
fn blackhole_windows_drop_exactly_what_is_sent_inside_them() {
    let config = LinkConfig {
        delay: ms(3),
        blackholes: vec![(at_ms(10), at_ms(20)), (at_ms(50), at_ms(55))],
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(1, config);
    bench.blast(100, 100, ms(1));
    let expected: Vec<u64> = (0..100)
        .filter(|s| !(10..20).contains(s) && !(50..55).contains(s))
        .collect();
    assert_eq!(bench.seqs(), expected);
    assert_eq!(bench.sim.link_stats(bench.link).dropped_blackhole, 15);
}

#[test]
fn changing_a_link_mid_run_applies_to_later_datagrams() {
    let mut bench = Bench::new(1, LinkConfig::with_delay(ms(5)));
    bench.sim.node_mut::<Scripted>(bench.sender).plan_numbered(
        addr(B),
        10,
        100,
        Instant::ZERO,
        ms(10),
    );
    bench.sim.run_for(ms(45)).unwrap();
    assert_eq!(bench.sim.now(), at_ms(45));
    bench.sim.link_config_mut(bench.link).delay = ms(1);
    bench.sim.run_until_idle(ms(1000)).unwrap();
    let delays: Vec<Duration> = bench
        .sim
        .node::<Scripted>(bench.receiver)
        .received()
        .iter()
        .map(|a| a.time - at_ms(a.seq().unwrap() * 10))
        .collect();
    assert_eq!(
        delays,
        [
            ms(5),
            ms(5),
            ms(5),
            ms(5),
            ms(5),
            ms(1),
            ms(1),
            ms(1),
            ms(1),
            ms(1)
        ]
    );
}

fn ect0_burst(bench: &mut Bench, count: u64, ecn: Ecn) {
    let s = bench.sim.node_mut::<Scripted>(bench.sender);
    for seq in 0..count {
        s.plan(Planned {
            ecn,
            ..Planned::new(Instant::ZERO, addr(B), numbered_payload(seq, 1000))
        });
    }
    bench.sim.run_until_idle(ms(100)).unwrap();
}

fn arrival_ecn(bench: &Bench) -> Vec<Ecn> {
    let r = bench.sim.node::<Scripted>(bench.receiver).received();
    r.iter().map(|a| a.meta.ecn).collect()
}

#[test]
fn a_queue_above_the_threshold_marks_ecn_capable_datagrams_ce() {
    // All sent at once: the k-th finds k * 1000 bytes queued.
    let config = LinkConfig {
        bandwidth_bps: Some(8_000_000),
        queue_bytes: 100_000,
        ecn_ce_threshold: Some(3000),
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(1, config.clone());
    ect0_burst(&mut bench, 10, Ecn::Ect0);
    let mut expected = vec![Ecn::Ect0; 3];
    expected.extend([Ecn::Ce; 7]);
    assert_eq!(arrival_ecn(&bench), expected);
    assert_eq!(bench.sim.link_stats(bench.link).ce_marked, 7);

    // Not-ECT traffic is never marked.
    let mut bench = Bench::new(1, config);
    ect0_burst(&mut bench, 10, Ecn::NotEct);
    assert_eq!(arrival_ecn(&bench), [Ecn::NotEct; 10]);
    assert_eq!(bench.sim.link_stats(bench.link).ce_marked, 0);
}

#[test]
fn ecn_passes_through_unless_the_link_bleaches_it() {
    let mut bench = Bench::new(1, LinkConfig::default());
    ect0_burst(&mut bench, 3, Ecn::Ect1);
    assert_eq!(arrival_ecn(&bench), [Ecn::Ect1; 3]);

    let config = LinkConfig {
        ecn_bleach: true,
        ..LinkConfig::default()
    };
    let mut bench = Bench::new(1, config);
    ect0_burst(&mut bench, 3, Ecn::Ect0);
    assert_eq!(arrival_ecn(&bench), [Ecn::NotEct; 3]);
}
