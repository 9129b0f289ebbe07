//! Link-level behaviour through endpoints in the simulator: goodput on a
//! bandwidth-limited link with a small queue, and determinism of the datagram trace.
#![cfg(all(feature = "sim", feature = "rustls"))]

mod netutil;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use netutil::{pattern, Net};
use quic_conn::sim::{GilbertElliott, LinkConfig, Loss, Reorder, TraceEvent};
use quic_wire::Instant;

#[test]
fn goodput_on_a_bandwidth_limited_link_with_a_small_queue_is_a_sane_fraction_of_its_rate() {
    // 10 Mbit/s, 20 ms each way: a bandwidth-delay product of 50 kB, and a queue of
    // 25 kB, half of it, so slow start overflows it.
    let rate_bps = 10_000_000u64;
    let link = LinkConfig {
        bandwidth_bps: Some(rate_bps),
        delay: Duration::from_millis(20),
        queue_bytes: 25_000,
        ..LinkConfig::default()
    };
    let len = 2_000_000usize;
    let mut net = Net::new(31, link);
    let h = net.connect();
    net.upload(h, Arc::new(pattern(len, 31)));
    let done = net.run_uploads(Duration::from_secs(30));
    net.assert_uploads_delivered();
    let elapsed = done.saturating_duration_since(Instant::ZERO).as_secs_f64();
    let goodput_bps = len as f64 * 8.0 / elapsed;
    // It cannot beat the link, and with handshake, slow start, losses from the small queue
    // and headers it should still reach half of it.
    let ideal = len as f64 * 8.0 / rate_bps as f64;
    assert!(
        elapsed > ideal,
        "{elapsed} s, faster than the link allows ({ideal} s)"
    );
    assert!(
        goodput_bps > 0.5 * rate_bps as f64,
        "goodput {goodput_bps:.0} bit/s in {elapsed:.3} s on a {rate_bps} bit/s link"
    );
}

/// Uploads 2 MB over a 10 Mbit/s, 20 ms link with a 40 kB queue that marks CE from
/// `ce_threshold` queued bytes on, or clears the ECN codepoint when `bleach`.
fn upload_with_ecn(ce_threshold: Option<usize>, bleach: bool) -> Net {
    let link = LinkConfig {
        bandwidth_bps: Some(10_000_000),
        delay: Duration::from_millis(20),
        queue_bytes: 40_000,
        ecn_ce_threshold: ce_threshold,
        ecn_bleach: bleach,
        ..LinkConfig::default()
    };
    let mut net = Net::new(33, link);
    let h = net.connect();
    net.upload(h, Arc::new(pattern(2_000_000, 33)));
    net.run_uploads(Duration::from_secs(30));
    net.assert_uploads_delivered();
    net
}

#[test]
fn ecn_congestion_marks_slow_the_sender_before_the_queue_overflows() {
    let mut net = upload_with_ecn(Some(10_000), false);
    let s = net.sim.link_stats(net.up);
    assert!(s.ce_marked > 0, "{s:?}");
    assert_eq!(s.dropped_queue, 0, "{s:?}");
    let h = net.uploads[0].0;
    let stats = net.client_ep().connection(h).expect("client").stats();
    assert_eq!(stats.lost_packets, 0, "{stats:?}");
}

#[test]
fn transfer_completes_on_a_path_that_bleaches_ecn() {
    // The marks are cleared: ECN validation fails (RFC 9000 §13.4.2) and the sender falls
    // back to loss as its congestion signal.
    let net = upload_with_ecn(Some(10_000), true);
    let s = net.sim.link_stats(net.up);
    assert_eq!(s.ce_marked, 0, "{s:?}");
    assert!(s.dropped_queue > 0, "{s:?}");
}

/// Every impairment at once, both ways.
fn hostile() -> LinkConfig {
    LinkConfig {
        bandwidth_bps: Some(20_000_000),
        delay: Duration::from_millis(15),
        jitter: Duration::from_millis(3),
        queue_bytes: 30_000,
        loss: Loss::GilbertElliott(GilbertElliott {
            p_enter_bad: 0.02,
            p_leave_bad: 0.3,
            loss_good: 0.01,
            loss_bad: 0.7,
        }),
        reorder: Reorder {
            p: 0.05,
            extra_delay: Duration::from_millis(5),
        },
        duplicate: 0.02,
        corrupt: 0.01,
        mtu: 1400,
        ..LinkConfig::default()
    }
}

/// Trace of a 300 kB upload over [`hostile`] links, without the payload digests: the TLS
/// stack draws its key shares and randoms from the system, outside the simulator's seed.
fn trace(seed: u64) -> Vec<(Instant, String, Option<usize>, String, String, usize)> {
    let mut net = Net::new(seed, hostile());
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&events);
    net.sim
        .on_trace(move |e: &TraceEvent| sink.borrow_mut().push(*e));
    let h = net.connect();
    net.upload(h, Arc::new(pattern(300_000, seed)));
    net.run_uploads(Duration::from_secs(60));
    net.assert_uploads_delivered();
    let events = events.take();
    events
        .into_iter()
        .map(|e| {
            (
                e.time,
                format!("{:?}", e.kind),
                e.link.map(|l| l.0),
                e.source.to_string(),
                e.destination.to_string(),
                e.len,
            )
        })
        .collect()
}

#[test]
fn the_same_seed_twice_gives_the_identical_datagram_trace() {
    let first = trace(32);
    let second = trace(32);
    assert!(first.len() > 500, "{} events", first.len());
    assert_eq!(first, second);
    assert_ne!(first, trace(33), "another seed, another trace");
}
