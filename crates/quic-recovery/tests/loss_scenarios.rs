//! RFC 9002 scenarios through `PathRecovery`: packet and time thresholds, PTO timing and
//! backoff, persistent congestion, ack-delay handling, the handshake rules, the
//! optimistic-ACK defence and spurious-loss undo.

mod common;

use common::{ack_frame, at, ms, Record, TestRng};
use quic_recovery::cc::{initial_window, minimum_window};
use quic_recovery::{CcConfig, PathRecovery, RecoveryConfig, SentConfig, TimeoutAction, Timer};
use quic_wire::frame::EcnCounts;
use quic_wire::{Instant, PathId, Space, TransportErrorCode};

const MDS: u64 = 1200;

fn config(cc: CcConfig) -> RecoveryConfig {
    RecoveryConfig {
        sent: SentConfig {
            skip_period: 0,
            ..SentConfig::default()
        },
        cc,
        pacing: false,
        ..RecoveryConfig::default()
    }
}

/// A confirmed server-side path (address validation is not a question).
fn confirmed(cc: CcConfig) -> PathRecovery<u64> {
    let mut r = PathRecovery::new(PathId::ZERO, &config(cc), true, &mut TestRng(1));
    r.on_handshake_confirmed(Instant::ZERO);
    r
}

fn send(r: &mut PathRecovery<u64>, now: Instant, space: Space) -> u64 {
    let pn = r.next_pn(space, &mut TestRng(0)).unwrap();
    r.on_packet_sent(now, space, MDS as u16, true, true, pn)
        .unwrap()
}

fn ack(
    r: &mut PathRecovery<u64>,
    now: Instant,
    space: Space,
    ranges: &[std::ops::RangeInclusive<u64>],
    delay: u64,
) -> Record {
    let mut buf = [0u8; 256];
    let frame = ack_frame(&mut buf, ranges, delay, None);
    let mut rec = Record::default();
    r.on_ack_received(now, space, &frame, &mut rec).unwrap();
    rec
}

/// Gives the path an RTT sample of 100 ms (smoothed 100, var 50) with packet 0.
fn with_rtt_sample(cc: CcConfig) -> PathRecovery<u64> {
    let mut r = confirmed(cc);
    send(&mut r, at(0), Space::Data);
    ack(&mut r, at(100), Space::Data, &[0..=0], 0);
    assert_eq!(r.rtt().smoothed(), ms(100));
    r
}

#[test]
fn reordering_below_the_packet_threshold_is_not_loss() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    for i in 1..=4 {
        send(&mut r, at(100 + i), Space::Data);
    }
    // 3 acknowledged while 1 and 2 are missing: 3 - 1 < 3.
    let rec = ack(&mut r, at(200), Space::Data, &[3..=3], 0);
    assert!(rec.lost.is_empty());
    // The time threshold is armed for packet 1 instead.
    assert!(matches!(
        r.loss_detection_timer(),
        Some((_, Timer::LossTime(Space::Data)))
    ));
}

#[test]
fn reordering_at_the_packet_threshold_declares_loss() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    for i in 1..=4 {
        send(&mut r, at(100 + i), Space::Data);
    }
    // 4 acknowledged: 4 - 1 >= 3, so 1 is lost; 2 and 3 are not yet.
    let rec = ack(&mut r, at(200), Space::Data, &[4..=4], 0);
    assert_eq!(rec.lost_pns(), [1]);
    assert_eq!(r.bytes_in_flight(), 2 * MDS);
}

#[test]
fn time_threshold_declares_loss_when_the_timer_fires() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    send(&mut r, at(100), Space::Data); // 1
    send(&mut r, at(110), Space::Data); // 2
                                        // 2 acknowledged at 210: latest_rtt 100, smoothed 100; loss delay 9/8 * 100 = 112.5 ms.
    let rec = ack(&mut r, at(210), Space::Data, &[2..=2], 0);
    assert!(rec.lost.is_empty());
    let (deadline, timer) = r.loss_detection_timer().unwrap();
    assert_eq!(timer, Timer::LossTime(Space::Data));
    assert_eq!(
        deadline,
        at(100) + ms(112) + std::time::Duration::from_micros(500)
    );
    let mut rec = Record::default();
    assert_eq!(r.on_timeout(deadline - ms(1), &mut rec), None);
    assert_eq!(
        r.on_timeout(deadline, &mut rec),
        Some(TimeoutAction::LossDetected)
    );
    assert_eq!(rec.lost_pns(), [1]);
}

#[test]
fn pto_fires_after_the_rfc_period_and_backs_off_exponentially() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    // PTO = smoothed + max(4 var, 1 ms) + max_ack_delay = 100 + 200 + 25 = 325 ms.
    send(&mut r, at(1000), Space::Data);
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(1325), Timer::Pto(Space::Data)))
    );
    let mut rec = Record::default();
    assert_eq!(
        r.on_timeout(at(1325), &mut rec),
        Some(TimeoutAction::Probe {
            space: Space::Data,
            count: 2
        })
    );
    assert_eq!(r.pto_count(), 1);
    assert_eq!(r.probes_owed(Space::Data), 2);
    // Backed off: 2 * 325 from the last ack-eliciting packet.
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(1650), Timer::Pto(Space::Data)))
    );
    send(&mut r, at(1325), Space::Data);
    send(&mut r, at(1325), Space::Data);
    assert_eq!(r.probes_owed(Space::Data), 0);
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(1975), Timer::Pto(Space::Data)))
    );
    r.on_timeout(at(1975), &mut rec);
    assert_eq!(r.pto_count(), 2);
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(1325 + 4 * 325), Timer::Pto(Space::Data)))
    );
    // PTO does not declare anything lost by itself.
    assert!(rec.lost.is_empty());
    // An ACK resets the backoff.
    ack(&mut r, at(2000), Space::Data, &[3..=3], 0);
    assert_eq!(r.pto_count(), 0);
}

#[test]
fn persistent_congestion_collapses_the_window() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    // Duration: (100 + 200 + 25) * 3 = 975 ms. Packets 1..=12 sent 100 ms apart: 1.1 s.
    assert_eq!(r.persistent_congestion_duration(), ms(975));
    for i in 0..12 {
        send(&mut r, at(200 + i * 100), Space::Data);
    }
    let pn = send(&mut r, at(1400), Space::Data); // 13
    let rec = ack(&mut r, at(1500), Space::Data, &[pn..=pn], 0);
    // 1..=10 by the packet threshold, 11 and 12 by the time threshold (112.5 ms).
    assert_eq!(rec.lost_pns(), (1..=12).collect::<Vec<_>>());
    // 1..=12 with nothing acknowledged between them span 1.1 s > 975 ms.
    assert_eq!(r.stats().persistent_congestion, 1);
    // RFC 9002 B.8: the window collapses to the minimum and the recovery period ends; the
    // acknowledged packet 13 then grows it in slow start (A.7 order).
    assert_eq!(r.window(), minimum_window(MDS) + MDS);
}

#[test]
fn losses_separated_by_an_acknowledgement_are_not_persistent_congestion() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    for i in 0..14 {
        send(&mut r, at(200 + i * 100), Space::Data); // 1..=14
    }
    // 7 was acknowledged: the runs 1..=6 and 8..=13 each span 500 ms, less than 975 ms,
    // although 1..=13 span 1.2 s.
    let rec = ack(&mut r, at(1700), Space::Data, &[14..=14, 7..=7], 0);
    assert_eq!(rec.lost_pns(), [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13]);
    assert_eq!(r.stats().persistent_congestion, 0);
    assert!(r.window() > minimum_window(MDS));
}

#[test]
fn ack_delay_is_clamped_by_max_ack_delay_after_confirmation() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    send(&mut r, at(1000), Space::Data);
    // ACK Delay field 10_000 << 3 = 80 ms, clamped to 25 ms: sample 200 - 25 = 175.
    ack(&mut r, at(1200), Space::Data, &[1..=1], 10_000);
    assert_eq!(r.rtt().smoothed(), (ms(100) * 7 + ms(175)) / 8);
}

#[test]
fn ack_delay_is_not_clamped_before_confirmation_and_ignored_in_initial() {
    let mut r: PathRecovery<u64> = PathRecovery::new(
        PathId::ZERO,
        &config(CcConfig::NewReno),
        true,
        &mut TestRng(1),
    );
    send(&mut r, at(0), Space::Initial);
    // Initial: the delay field is ignored; the sample is the full 100 ms.
    ack(&mut r, at(100), Space::Initial, &[0..=0], 5_000);
    assert_eq!(r.rtt().smoothed(), ms(100));
    send(&mut r, at(1000), Space::Handshake);
    // Handshake before confirmation: the whole 80 ms is subtracted.
    ack(&mut r, at(1200), Space::Handshake, &[0..=0], 10_000);
    assert_eq!(r.rtt().smoothed(), (ms(100) * 7 + ms(120)) / 8);
}

#[test]
fn application_pto_waits_for_handshake_confirmation() {
    let mut r: PathRecovery<u64> = PathRecovery::new(
        PathId::ZERO,
        &config(CcConfig::NewReno),
        true,
        &mut TestRng(1),
    );
    send(&mut r, at(0), Space::Data);
    // Server: address validation is not in question, and Data may not arm the PTO yet.
    assert_eq!(r.loss_detection_timer(), None);
    r.on_handshake_confirmed(at(10));
    // 333 + 4 * 166.5 + 25 = 1024 ms after the packet.
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(1024), Timer::Pto(Space::Data)))
    );
}

#[test]
fn earliest_handshake_space_pto_wins_and_excludes_max_ack_delay() {
    let mut r: PathRecovery<u64> = PathRecovery::new(
        PathId::ZERO,
        &config(CcConfig::NewReno),
        true,
        &mut TestRng(1),
    );
    send(&mut r, at(0), Space::Initial);
    send(&mut r, at(10), Space::Handshake);
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(999), Timer::Pto(Space::Initial)))
    );
    // Discarding Initial keys drops its packets from flight and moves the PTO.
    r.discard_space(at(20), Space::Initial);
    assert_eq!(r.bytes_in_flight(), MDS);
    assert!(!r.has_space(Space::Initial));
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(1009), Timer::Pto(Space::Handshake)))
    );
}

#[test]
fn client_arms_anti_deadlock_pto_with_nothing_in_flight() {
    let mut r: PathRecovery<u64> = PathRecovery::new(
        PathId::ZERO,
        &config(CcConfig::NewReno),
        false,
        &mut TestRng(1),
    );
    send(&mut r, at(0), Space::Initial);
    ack(&mut r, at(100), Space::Initial, &[0..=0], 0);
    // Nothing in flight, but the client does not know its address is validated: a PTO is
    // armed from now (100 + 200 = 300 ms), probing in Initial.
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(400), Timer::Pto(Space::Initial)))
    );
    r.on_handshake_keys(at(100));
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(400), Timer::Pto(Space::Handshake)))
    );
    let mut rec = Record::default();
    assert_eq!(
        r.on_timeout(at(400), &mut rec),
        Some(TimeoutAction::Probe {
            space: Space::Handshake,
            count: 1
        })
    );
    // Once a Handshake packet is acknowledged, the client stops.
    send(&mut r, at(400), Space::Handshake);
    ack(&mut r, at(500), Space::Handshake, &[0..=0], 0);
    assert_eq!(r.loss_detection_timer(), None);
}

#[test]
fn server_at_amplification_limit_arms_no_pto() {
    let mut r: PathRecovery<u64> = PathRecovery::new(
        PathId::ZERO,
        &config(CcConfig::NewReno),
        true,
        &mut TestRng(1),
    );
    send(&mut r, at(0), Space::Initial);
    assert!(r.loss_detection_timer().is_some());
    r.set_amplification_limited(at(1), true);
    assert_eq!(r.loss_detection_timer(), None);
    r.set_amplification_limited(at(2), false);
    assert!(r.loss_detection_timer().is_some());
}

#[test]
fn other_paths_have_only_the_application_space() {
    let cfg = config(CcConfig::NewReno);
    let mut r: PathRecovery<u64> = PathRecovery::new(PathId(3), &cfg, false, &mut TestRng(1));
    assert!(!r.has_space(Space::Initial) && !r.has_space(Space::Handshake));
    assert_eq!(r.next_pn(Space::Initial, &mut TestRng(0)), None);
    send(&mut r, at(0), Space::Data);
    assert_eq!(
        r.loss_detection_timer(),
        Some((at(1024), Timer::Pto(Space::Data)))
    );
}

#[test]
fn ack_of_an_unsent_packet_is_a_protocol_violation() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    let mut buf = [0u8; 64];
    let frame = ack_frame(&mut buf, &[5..=5], 0, None);
    let err = r
        .on_ack_received(at(200), Space::Data, &frame, &mut Record::default())
        .unwrap_err();
    assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
}

#[test]
fn ack_of_a_skipped_packet_number_is_a_protocol_violation() {
    let cfg = RecoveryConfig {
        sent: SentConfig {
            skip_period: 4,
            ..SentConfig::default()
        },
        pacing: false,
        ..RecoveryConfig::default()
    };
    let mut rng = TestRng(7);
    let mut r: PathRecovery<u64> = PathRecovery::new(PathId::ZERO, &cfg, true, &mut rng);
    r.on_handshake_confirmed(at(0));
    let mut sent = Vec::new();
    for i in 0..40 {
        let pn = r.next_pn(Space::Data, &mut rng).unwrap();
        sent.push(
            r.on_packet_sent(at(i), Space::Data, 1200, true, true, pn)
                .unwrap(),
        );
    }
    let skipped: Vec<u64> = (0..*sent.last().unwrap())
        .filter(|p| !sent.contains(p))
        .collect();
    assert!(!skipped.is_empty(), "some number was skipped");
    // Acknowledging exactly what was sent is fine.
    let mut ranges = Vec::new();
    for &pn in sent.iter().rev() {
        match ranges.last_mut() {
            Some(r) if *std::ops::RangeInclusive::start(r) == pn + 1 => *r = pn..=*r.end(),
            _ => ranges.push(pn..=pn),
        }
    }
    let mut buf = [0u8; 512];
    let ok = ack_frame(&mut buf, &ranges, 0, None);
    let mut rec = Record::default();
    r.on_ack_received(at(100), Space::Data, &ok, &mut rec)
        .unwrap();
    assert_eq!(rec.acked_pns(), sent);
    // Covering a skipped number is not.
    let top = *sent.last().unwrap();
    let mut buf = [0u8; 64];
    let bad = ack_frame(&mut buf, &[0..=top], 0, None);
    let err = r
        .on_ack_received(at(101), Space::Data, &bad, &mut Record::default())
        .unwrap_err();
    assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
}

#[test]
fn spurious_loss_is_reported_and_undoes_the_window_reduction() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    for i in 1..=5 {
        send(&mut r, at(100 + i), Space::Data);
    }
    let before = r.window();
    // 4 acknowledged: 1 is lost by the packet threshold (2 and 3 are within it).
    let rec = ack(&mut r, at(210), Space::Data, &[4..=4], 0);
    assert_eq!(rec.lost_pns(), [1]);
    // RFC 9002 A.7: the loss is handled first (the window halves and a recovery period
    // starts), then packet 4, sent before that period, does not grow the window.
    assert_eq!(r.window(), before / 2);
    // The "lost" packet 1 is acknowledged after all: back to the window before the event.
    let rec = ack(&mut r, at(212), Space::Data, &[4..=4, 1..=1], 0);
    assert_eq!(rec.spurious, [(Space::Data, 1)]);
    assert_eq!(r.window(), before);
    assert_eq!(r.stats().spurious_losses, 1);
}

#[test]
fn ecn_ce_reduces_the_window_once_per_recovery_period() {
    let mut r = with_rtt_sample(CcConfig::NewReno);
    let before = r.window();
    assert_eq!(before, initial_window(MDS) + MDS); // slow start grew by packet 0
    for i in 1..=4 {
        send(&mut r, at(100 + i), Space::Data);
    }
    let ecn = |ce| {
        Some(EcnCounts {
            ect0: 3,
            ect1: 0,
            ce,
        })
    };
    let mut buf = [0u8; 64];
    let f = ack_frame(&mut buf, &[1..=2], 0, ecn(1));
    r.on_ack_received(at(200), Space::Data, &f, &mut Record::default())
        .unwrap();
    // RFC 9002 A.7: the CE mark is processed before OnPacketsAcked, so the window halves
    // and packets 1 and 2, sent before the recovery period, do not grow it.
    let reduced = before / 2;
    assert_eq!(r.window(), reduced);
    // More CE for packets sent before the reduction: same recovery period.
    let f = ack_frame(&mut buf, &[1..=4], 0, ecn(2));
    r.on_ack_received(at(210), Space::Data, &f, &mut Record::default())
        .unwrap();
    assert_eq!(r.window(), reduced);
}

#[test]
fn discarding_a_space_forgets_its_packets_without_loss() {
    let mut r: PathRecovery<u64> = PathRecovery::new(
        PathId::ZERO,
        &config(CcConfig::NewReno),
        false,
        &mut TestRng(1),
    );
    for i in 0..3 {
        send(&mut r, at(i), Space::Initial);
    }
    send(&mut r, at(5), Space::Handshake);
    r.discard_space(at(6), Space::Initial);
    assert_eq!(r.bytes_in_flight(), MDS);
    assert_eq!(r.stats().lost_packets, 0);
    assert_eq!(r.pto_count(), 0);
}

/// RFC 9000 §9.4: after the peer moves, the path starts over from initial values, packets
/// of the old path neither sample the RTT nor grow or shrink the window, and the old
/// state comes back when the peer returns.
#[test]
fn a_new_network_path_starts_from_initial_values_and_the_old_one_can_return() {
    use quic_recovery::CongestionState;
    let mut r = with_rtt_sample(CcConfig::NewReno);
    // Grow the window on the first path: packets 1..=10 acknowledged.
    for i in 1..=10 {
        send(&mut r, at(100 + i), Space::Data);
    }
    ack(&mut r, at(200), Space::Data, &[0..=10], 0);
    let grown = r.window();
    let old_rtt = r.rtt().smoothed();
    assert!(grown > initial_window(MDS));
    // Packets 11..=14 leave on the old path; then the peer moves.
    for i in 11..=14 {
        send(&mut r, at(200 + i), Space::Data);
    }
    let old = r.switch_network_path(
        at(300),
        CongestionState::initial(&config(CcConfig::NewReno)),
    );
    assert_eq!(old.window(), grown);
    assert_eq!(r.window(), initial_window(MDS));
    assert!(!r.rtt().has_sample());
    // The old path's packets are acknowledged late (900 ms): no sample, no growth.
    ack(&mut r, at(900), Space::Data, &[0..=12], 0);
    assert!(!r.rtt().has_sample());
    assert_eq!(r.window(), initial_window(MDS));
    // Losing the last old-path packets is no congestion event for the new path.
    for i in 0..3 {
        send(&mut r, at(900 + i), Space::Data);
    }
    let rec = ack(&mut r, at(950), Space::Data, &[15..=17], 0);
    assert_eq!(rec.lost_pns(), [13, 14]);
    assert_eq!(r.window(), initial_window(MDS) + 3 * MDS);
    // The new path's packets sample its RTT (sent at 902 ms, acknowledged at 950 ms).
    assert_eq!(r.rtt().smoothed(), ms(48));
    // Back on the first path: its window and RTT return.
    let new = r.switch_network_path(at(1000), old);
    assert_eq!(new.rtt().smoothed(), ms(48));
    assert_eq!(r.window(), grown);
    assert_eq!(r.rtt().smoothed(), old_rtt);
}

/// RFC 9000 §9.4: "Packets sent on the old path MUST NOT contribute to congestion control
/// ... for the new path": what is still in flight from the old path does not fill the new
/// path's initial window (found by the quinn interop cell, where the new path could not
/// even carry its PATH_CHALLENGE).
#[test]
fn old_path_bytes_in_flight_do_not_block_the_new_path() {
    use quic_recovery::CongestionState;
    let mut r = with_rtt_sample(CcConfig::NewReno);
    // Fill more than an initial window on the first path.
    let mut n = 0;
    while r.can_send(MDS) {
        send(&mut r, at(100 + n), Space::Data);
        n += 1;
    }
    let old_in_flight = r.bytes_in_flight();
    assert!(old_in_flight >= initial_window(MDS));
    r.switch_network_path(
        at(300),
        CongestionState::initial(&config(CcConfig::NewReno)),
    );
    // Still in flight (they may yet be acknowledged), but not against the new window.
    assert_eq!(r.bytes_in_flight(), old_in_flight);
    assert!(r.can_send(MDS));
    let mut sent_new = 0;
    while r.can_send(MDS) {
        send(&mut r, at(301 + sent_new), Space::Data);
        sent_new += 1;
    }
    assert_eq!(sent_new * MDS, initial_window(MDS));
    // The old packets leave flight (acknowledged late): the new path's room is unchanged,
    // it is still full with its own packets.
    ack(&mut r, at(400), Space::Data, &[1..=n], 0);
    assert_eq!(r.bytes_in_flight(), sent_new * MDS);
    assert!(!r.can_send(MDS));
}
