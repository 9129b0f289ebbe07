//! Property tests against plain reference models:
//! - the receive history equals a reference set (within its bound) for any arrival order;
//! - ACK frames against sent packets: newly acknowledged, lost and spuriously lost sets equal
//!   a reference model, and nothing in flight is forgotten.

mod common;

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::time::Duration;

use common::{ack_frame, TestRng};
use proptest::prelude::*;
use quic_recovery::{Acked, DeliveryState, Inserted, RecvHistory, SentConfig, SentPackets};
use quic_wire::Instant;

/// Turns a set into ranges, highest first.
fn ranges_desc(set: &BTreeSet<u64>) -> Vec<RangeInclusive<u64>> {
    let mut out: Vec<RangeInclusive<u64>> = Vec::new();
    for &pn in set.iter().rev() {
        match out.last_mut() {
            Some(r) if *r.start() == pn + 1 => *r = pn..=*r.end(),
            _ => out.push(pn..=pn),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn receive_history_matches_a_reference_set(
        arrivals in prop::collection::vec(0u64..200, 0..400),
        max_ranges in 1usize..12,
    ) {
        let mut h = RecvHistory::new(max_ranges);
        let mut reference = BTreeSet::new();
        for &pn in &arrivals {
            let floor_before = h.floor();
            let expected_new = pn >= floor_before && !reference.contains(&pn);
            let got = h.insert(pn);
            prop_assert_eq!(got == Inserted::New, expected_new, "pn {}", pn);
            reference.insert(pn);
            prop_assert!(h.len() <= max_ranges);
            // What is reported is exactly the reference at or above the floor.
            let kept: BTreeSet<u64> = reference.range(h.floor()..).copied().collect();
            let ranges: Vec<_> = h.iter().collect();
            prop_assert_eq!(&ranges, &ranges_desc(&kept));
            // Only dropped ranges raise the floor: nothing at or above it is forgotten, and
            // below it everything counts as a duplicate.
            for x in 0..210 {
                prop_assert_eq!(h.contains(x), x < h.floor() || reference.contains(&x));
            }
        }
        // With an unbounded history the floor never moves.
        if arrivals.len() < max_ranges {
            prop_assert_eq!(h.floor(), 0);
        }
    }

    #[test]
    fn ack_processing_matches_a_reference_model(
        steps in prop::collection::vec(
            (1usize..20, prop::collection::vec(any::<bool>(), 0..200), 0u64..50),
            1..12,
        ),
    ) {
        let cfg = SentConfig { skip_period: 0, initial_capacity: 4 };
        let mut sent: SentPackets<u64> = SentPackets::new(&cfg, &mut TestRng(3));
        let loss_delay = Duration::from_millis(30);
        let mut now = 0u64;
        let mut next = 0u64;
        let mut times = Vec::new();
        let mut outstanding = BTreeSet::new();
        let mut lost = BTreeSet::new();
        let mut acked_ever = BTreeSet::new();
        for (to_send, mask, advance) in steps {
            for _ in 0..to_send {
                let pn = sent.on_sent(
                    Instant::from_nanos(now * 1_000_000), 100, true, true, next,
                    DeliveryState::default(),
                );
                prop_assert_eq!(pn, next);
                times.push(now);
                outstanding.insert(pn);
                next += 1;
                now += 1;
            }
            now += advance;
            let t = Instant::from_nanos(now * 1_000_000);
            // Acknowledge a random subset of everything sent so far (possibly again).
            let set: BTreeSet<u64> = mask
                .iter()
                .enumerate()
                .filter(|(i, b)| **b && (*i as u64) < next)
                .map(|(i, _)| i as u64)
                .collect();
            if set.is_empty() {
                continue;
            }
            let mut buf = [0u8; 2048];
            let frame = ack_frame(&mut buf, &ranges_desc(&set), 0, None);
            sent.decode_ack(&frame).unwrap();
            let mut got_acked = Vec::new();
            let mut got_spurious = Vec::new();
            sent.on_ack(frame.largest(), |item| match item {
                Acked::Packet(p) => got_acked.push(p.pn),
                Acked::SpuriousLoss(l) => got_spurious.push(l.pn),
            });
            let want_acked: Vec<u64> = set.intersection(&outstanding).copied().collect();
            let want_spurious: Vec<u64> = set.intersection(&lost).copied().collect();
            prop_assert_eq!(&got_acked, &want_acked);
            prop_assert_eq!(&got_spurious, &want_spurious);
            for pn in &set {
                outstanding.remove(pn);
                lost.remove(pn);
                acked_ever.insert(*pn);
            }
            // Loss detection.
            let largest = *acked_ever.iter().next_back().unwrap();
            let mut got_lost = Vec::new();
            sent.detect_lost(
                t, loss_delay, None, Duration::MAX, Duration::MAX,
                |p| got_lost.push(p.pn),
            );
            let want_lost: Vec<u64> = outstanding
                .iter()
                .copied()
                .filter(|&pn| {
                    pn < largest
                        && (largest >= pn + 3
                            || Duration::from_millis(now - times[pn as usize]) >= loss_delay)
                })
                .collect();
            prop_assert_eq!(&got_lost, &want_lost);
            for pn in &want_lost {
                outstanding.remove(pn);
                lost.insert(*pn);
            }
            // Nothing in flight is forgotten.
            let still: Vec<u64> = sent.unacked().map(|p| p.pn).collect();
            prop_assert_eq!(still, outstanding.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(sent.bytes_in_flight(), 100 * outstanding.len() as u64);
        }
    }
}
