//! Congestion controller traces: slow start, congestion avoidance, reaction to loss and
//! ECN-CE, CUBIC's window against the RFC 9438 formulas, and every controller over a
//! simulated bottleneck link (virtual time), where BBR must find the bottleneck rate and the
//! min RTT.

mod common;

use std::collections::VecDeque;
use std::time::Duration;

use common::{Record, TestRng};
use quic_recovery::cc::{
    cubic, initial_window, AckedPacket, Bbr, BbrState, CongestionController, CongestionEvent,
    CongestionKind, Cubic, NewReno,
};
use quic_recovery::{
    AckConfig, AckTracker, CcConfig, Ecn, PathRecovery, RateSample, RecoveryConfig, RttEstimator,
    SentConfig,
};
use quic_wire::codec::{Reader, Writer};
use quic_wire::{Frame, Instant, PathId, Space};

const MDS: u64 = 1200;

fn t(ms: f64) -> Instant {
    Instant::from_nanos((ms * 1e6) as u64)
}

fn rtt_of(ms: u64) -> RttEstimator {
    let mut r = RttEstimator::default();
    r.update(
        Duration::from_millis(ms),
        Duration::ZERO,
        Duration::ZERO,
        true,
        Instant::ZERO,
    );
    r
}

fn acked(sent_ms: f64) -> AckedPacket {
    AckedPacket {
        time_sent: t(sent_ms),
        size: MDS,
        app_limited: false,
    }
}

fn loss_at(now_ms: f64, newest_sent_ms: f64, kind: CongestionKind) -> (Instant, CongestionEvent) {
    (
        t(now_ms),
        CongestionEvent {
            kind,
            newest_sent: t(newest_sent_ms),
            lost_bytes: MDS,
            bytes_in_flight: 0,
        },
    )
}

#[test]
fn newreno_slow_start_grows_by_each_acknowledged_byte() {
    let rtt = rtt_of(100);
    let mut cc = NewReno::new(MDS);
    let iw = initial_window(MDS);
    for i in 0..50 {
        cc.on_packets_acked(t(100.0 + i as f64), &[acked(i as f64)], &rtt);
        assert_eq!(cc.window(), iw + (i + 1) * MDS);
    }
    assert!(cc.in_slow_start());
}

#[test]
fn newreno_congestion_avoidance_adds_one_datagram_per_window() {
    let rtt = rtt_of(100);
    let mut cc = NewReno::new(MDS);
    for i in 0..40 {
        cc.on_packets_acked(t(100.0), &[acked(i as f64)], &rtt);
    }
    let before_loss = cc.window();
    let (now, e) = loss_at(200.0, 150.0, CongestionKind::Loss);
    cc.on_congestion_event(now, &e, &rtt);
    let w = cc.window();
    assert_eq!(w, before_loss / 2);
    assert_eq!(cc.ssthresh(), w);
    // Packets sent before the loss do not grow the window (recovery period).
    cc.on_packets_acked(t(210.0), &[acked(190.0)], &rtt);
    assert_eq!(cc.window(), w);
    // A window's worth acknowledged, sent after recovery began: + one datagram.
    let n = w / MDS;
    for i in 0..n {
        cc.on_packets_acked(t(300.0 + i as f64), &[acked(201.0 + i as f64)], &rtt);
    }
    assert_eq!(cc.window(), w + MDS);
    // An application-limited packet grows nothing.
    cc.on_packets_acked(
        t(400.0),
        &[AckedPacket {
            app_limited: true,
            ..acked(350.0)
        }],
        &rtt,
    );
    assert_eq!(cc.window(), w + MDS);
}

/// CUBIC takes one ACK's packets as one step (RFC 9406 §4.2, RFC 9438 §4.3-4.5 per ACK):
/// packets sent before the recovery period and application-limited ones are left out, and
/// slow start stops at ssthresh with the rest counted in congestion avoidance.
#[test]
fn cubic_grows_once_per_ack_by_the_bytes_it_acknowledged() {
    let rtt = rtt_of(100);
    // Slow start: one ACK of five packets adds five datagrams.
    let mut cc = Cubic::new(MDS, true);
    let iw = initial_window(MDS);
    let five: Vec<_> = (0..5).map(|i| acked(i as f64)).collect();
    cc.on_packets_acked(t(100.0), &five, &rtt);
    assert_eq!(cc.window(), iw + 5 * MDS);

    // After a loss: of [before recovery, after it, after it but app-limited] only the
    // second counts, exactly as an ACK of that packet alone would.
    for _ in 0..40 {
        cc.on_packets_acked(t(150.0), &[acked(100.0)], &rtt);
    }
    let (now, e) = loss_at(1000.0, 999.0, CongestionKind::Loss);
    cc.on_congestion_event(now, &e, &rtt);
    let mut alone = cc.clone();
    let mixed = [
        acked(990.0),
        acked(1001.0),
        AckedPacket {
            app_limited: true,
            ..acked(1002.0)
        },
    ];
    cc.on_packets_acked(t(1100.0), &mixed, &rtt);
    alone.on_packets_acked(t(1100.0), &[acked(1001.0)], &rtt);
    assert_eq!(cc.window(), alone.window());
    assert!(
        cc.window() > cc.ssthresh(),
        "the counted packet grew the window"
    );
    // An ACK of nothing that counts changes nothing.
    let w = cc.window();
    cc.on_packets_acked(t(1200.0), &mixed[..1], &rtt);
    assert_eq!(cc.window(), w);

    // Slow start below ssthresh (after persistent congestion): an ACK that would overshoot
    // ssthresh stops slow start there and grows only a little beyond it.
    cc.on_persistent_congestion(t(2000.0));
    let ssthresh = cc.ssthresh();
    assert!(cc.in_slow_start());
    let many: Vec<_> = (0..100).map(|i| acked(2001.0 + i as f64)).collect();
    cc.on_packets_acked(t(2200.0), &many, &rtt);
    assert!(!cc.in_slow_start());
    assert!(
        cc.window() >= ssthresh && cc.window() < ssthresh + 100 * MDS / 2,
        "window {} against ssthresh {ssthresh}",
        cc.window()
    );
}

#[test]
fn newreno_and_cubic_react_to_ecn_ce_like_loss() {
    let rtt = rtt_of(50);
    let mut reno = NewReno::new(MDS);
    let mut cubic = Cubic::new(MDS, false);
    let (now, e) = loss_at(100.0, 50.0, CongestionKind::Ecn);
    let (rw, cw) = (reno.window(), cubic.window());
    reno.on_congestion_event(now, &e, &rtt);
    cubic.on_congestion_event(now, &e, &rtt);
    assert_eq!(reno.window(), rw / 2);
    assert_eq!(cubic.window(), (cw as f64 * cubic::BETA) as u64);
}

/// Slow start to 100 datagrams, a loss, then ACKs of a window's worth per RTT (100 ms). At
/// chosen times the window follows RFC 9438: the larger of the cubic curve
/// W_cubic(t) = C (t - K)^3 + W_max (§4.2) and the Reno-friendly estimate W_est (§4.3,
/// growing by α_cubic = 3(1-β)/(1+β) segments per RTT until it reaches cwnd_prior, then by 1),
/// within the lag of one RTT and 2% slack.
#[test]
fn cubic_window_follows_the_rfc9438_formulas() {
    const RTT: f64 = 0.1;
    let rtt = rtt_of(100);
    let mut cc = Cubic::new(MDS, false);
    while cc.window() < 100 * MDS {
        cc.on_packets_acked(t(0.0), &[acked(0.0)], &rtt);
    }
    assert_eq!(cc.window(), 100 * MDS);
    let (now, e) = loss_at(1000.0, 999.0, CongestionKind::Loss);
    cc.on_congestion_event(now, &e, &rtt);
    // §4.6: cwnd = β W_max = 70 segments; K = cbrt((W_max - cwnd) / C) = cbrt(75) s.
    assert_eq!(cc.window(), 70 * MDS);
    assert!((cc.k() - 4.217_163).abs() < 1e-5, "K = {}", cc.k());
    let k = cc.k();
    let w_cubic = |s: f64| cubic::C * (s - k).powi(3) + 100.0;
    let alpha = 3.0 * (1.0 - cubic::BETA) / (1.0 + cubic::BETA);
    let t_reach = 30.0 / alpha * RTT;
    let w_est = |s: f64| {
        if s < t_reach {
            70.0 + alpha * s / RTT
        } else {
            100.0 + (s - t_reach) / RTT
        }
    };
    let expected = |s: f64| w_cubic(s).max(w_est(s));
    // Concave region, the plateau at t = K, convex region, then the Reno-friendly region.
    let times = [1.0, 2.5, k, 5.0, 6.5];
    let mut now_ms = 1000.0;
    let mut next = 0;
    while next < times.len() {
        let n = cc.window() / MDS;
        for _ in 0..n {
            now_ms += RTT * 1000.0 / n as f64;
            cc.on_packets_acked(t(now_ms), &[acked(now_ms - RTT * 1000.0)], &rtt);
        }
        let s = (now_ms - 1000.0) / 1000.0;
        if s >= times[next] {
            let w = cc.window() as f64 / MDS as f64;
            let (lo, hi) = (expected(s - RTT), expected(s + RTT));
            assert!(
                w >= lo * 0.98 && w <= hi * 1.02,
                "t = {s:.2} s: cwnd {w:.2} segments, expected {lo:.2} to {hi:.2}"
            );
            next += 1;
        }
        assert!(now_ms < 20_000.0);
    }
}

#[test]
fn cubic_spurious_loss_restores_the_previous_window() {
    let rtt = rtt_of(100);
    let mut cc = Cubic::new(MDS, true);
    let before = cc.window();
    let (now, e) = loss_at(100.0, 90.0, CongestionKind::Loss);
    cc.on_congestion_event(now, &e, &rtt);
    assert!(cc.window() < before);
    assert!(cc.on_spurious_congestion(t(120.0)));
    assert_eq!(cc.window(), before);
    assert!(cc.in_slow_start());
}

// ---- the simulated link ----

struct Link {
    /// Bottleneck rate, bytes per second.
    rate: u64,
    /// Propagation delay each way.
    one_way: Duration,
    /// Bottleneck buffer, bytes.
    buffer: u64,
}

struct Outcome {
    recovery: PathRecovery<()>,
    /// Bytes acknowledged in the second half of the run.
    late_goodput: u64,
    lost: u64,
    /// Largest smoothed RTT seen in the second half.
    max_late_srtt: Duration,
}

/// Runs a bulk transfer over `link` for `secs` seconds of virtual time.
fn simulate(cc: CcConfig, link: &Link, secs: u64) -> Outcome {
    let config = RecoveryConfig {
        cc,
        sent: SentConfig::default(),
        ..RecoveryConfig::default()
    };
    let mut rng = TestRng(42);
    let mut r: PathRecovery<()> = PathRecovery::new(PathId(1), &config, true, &mut rng);
    let mut receiver = AckTracker::new(Space::Data, &AckConfig::default());
    let mut to_receiver: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut to_sender: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut link_free = Instant::ZERO;
    let mut now = Instant::ZERO;
    let end = Instant::ZERO + Duration::from_secs(secs);
    let half = Instant::ZERO + Duration::from_secs(secs / 2);
    let tx_time = Duration::from_nanos(MDS * 1_000_000_000 / link.rate);
    let mut sink = Record::default();
    let (mut late_goodput, mut max_late_srtt) = (0u64, Duration::ZERO);
    let mut steps = 0u64;
    while now < end {
        steps += 1;
        assert!(steps < 50_000_000, "simulation does not progress");
        let probe = r.probes_owed(Space::Data) > 0;
        let next_send = (probe || r.can_send(MDS)).then(|| r.send_time(now, MDS));
        let candidates = [
            to_sender.front().map(|a| a.0),
            to_receiver.front().map(|p| p.0),
            r.loss_detection_timer().map(|x| x.0),
            next_send,
        ];
        let Some(next) = candidates.iter().flatten().min().copied() else {
            break;
        };
        now = next.max(now);
        if to_sender.front().is_some_and(|a| a.0 <= now) {
            let (_, bytes) = to_sender.pop_front().unwrap();
            let Frame::Ack(ack) = Frame::parse(&mut Reader::new(&bytes)).unwrap() else {
                panic!("not an ACK");
            };
            let before = sink.acked.len();
            r.on_ack_received(now, Space::Data, &ack, &mut sink)
                .unwrap();
            if now >= half {
                late_goodput += (sink.acked.len() - before) as u64 * MDS;
                max_late_srtt = max_late_srtt.max(r.rtt().smoothed());
            }
            continue;
        }
        if to_receiver.front().is_some_and(|p| p.0 <= now) {
            let (_, pn) = to_receiver.pop_front().unwrap();
            receiver.on_packet(pn, true, Ecn::NotEct, now);
            let mut buf = vec![0u8; 1200];
            let mut w = Writer::new(&mut buf);
            receiver.write_ack(&mut w, None, now, 1200).unwrap();
            let len = w.filled().len();
            buf.truncate(len);
            to_sender.push_back((now + link.one_way, buf));
            continue;
        }
        if r.loss_detection_timer().is_some_and(|x| x.0 <= now) {
            r.on_timeout(now, &mut sink);
            continue;
        }
        if next_send.is_some_and(|s| s <= now) {
            let pn = r.next_pn(Space::Data, &mut rng).unwrap();
            r.on_packet_sent(now, Space::Data, MDS as u16, true, true, ());
            // The bottleneck queue: drop when the backlog exceeds the buffer.
            let backlog = link_free.saturating_duration_since(now);
            let queued = backlog.as_nanos() as u64 * link.rate / 1_000_000_000;
            if queued + MDS <= link.buffer {
                link_free = link_free.max(now) + tx_time;
                to_receiver.push_back((link_free + link.one_way, pn));
            }
        }
    }
    let lost = r.stats().lost_packets;
    Outcome {
        recovery: r,
        late_goodput,
        lost,
        max_late_srtt,
    }
}

const LONG_LINK: Link = Link {
    rate: 1_250_000, // 10 Mbit/s
    one_way: Duration::from_millis(20),
    buffer: 100_000, // two BDPs
};

#[test]
fn bbr_finds_the_bottleneck_rate_and_min_rtt_of_a_simulated_link() {
    let out = simulate(CcConfig::Bbr, &LONG_LINK, 20);
    let r = &out.recovery;
    let bw = r.congestion_controller().bandwidth_estimate().unwrap();
    // Within 10% of 1.25 MB/s.
    assert!(
        bw.abs_diff(LONG_LINK.rate) * 10 <= LONG_LINK.rate,
        "bandwidth estimate {bw} B/s"
    );
    // Min RTT: 40 ms of propagation plus one datagram's serialisation (0.96 ms), within 5%.
    let min = r.rtt().min();
    assert!(
        min >= Duration::from_millis(40) && min <= Duration::from_millis(42),
        "min RTT {min:?}"
    );
    // It uses the link (>= 90% in the second half) without standing queues (smoothed RTT
    // below 1.5 x min RTT).
    let rate = out.late_goodput / 10;
    assert!(rate * 10 >= LONG_LINK.rate * 9, "goodput {rate} B/s");
    assert!(
        out.max_late_srtt < Duration::from_millis(60),
        "smoothed RTT reached {:?}",
        out.max_late_srtt
    );
}

#[test]
fn bbr_cycles_through_startup_drain_and_probe_bw() {
    let mut bbr = Bbr::new(MDS);
    assert_eq!(bbr.state(), BbrState::Startup);
    let rtt = rtt_of(40);
    // A flat delivery rate: the pipe is full after three rounds without 25% growth.
    let mut delivered = 0;
    let mut now = 0.0;
    let mut states = vec![bbr.state()];
    for _ in 0..60 {
        now += 40.0;
        let sample = RateSample {
            delivered: 50_000,
            interval: Duration::from_millis(40),
            delivery_rate: 1_250_000,
            prior_delivered: delivered,
            tx_in_flight: 50_000,
            newly_acked: 50_000,
            rtt: Duration::from_millis(40),
            ..RateSample::default()
        };
        delivered += 50_000;
        // The sender keeps a queue while starting up and while probing up.
        let in_flight = match bbr.state() {
            BbrState::Startup => 100_000,
            BbrState::ProbeBwUp => 70_000,
            _ => 10_000,
        };
        bbr.on_ack_end(t(now), &sample, &rtt, in_flight);
        if states.last() != Some(&bbr.state()) {
            states.push(bbr.state());
        }
    }
    // Down is passed through within one ACK when in flight is already below one BDP.
    assert_eq!(
        states,
        [
            BbrState::Startup,
            BbrState::Drain,
            BbrState::ProbeBwCruise,
            BbrState::ProbeBwRefill,
            BbrState::ProbeBwUp,
            BbrState::ProbeBwDown,
            BbrState::ProbeBwCruise,
        ]
    );
    assert_eq!(bbr.max_bw(), 1_250_000);
    assert_eq!(bbr.min_rtt(), Some(Duration::from_millis(40)));
}

#[test]
fn cubic_and_newreno_fill_the_simulated_link() {
    for cc in [CcConfig::Cubic { hystart: true }, CcConfig::NewReno] {
        let out = simulate(cc, &LONG_LINK, 20);
        let rate = out.late_goodput / 10;
        // Loss-based controllers fill the buffer, then back off: at least 80% of the link.
        assert!(
            rate * 10 >= LONG_LINK.rate * 8,
            "{cc:?}: goodput {rate} B/s"
        );
        assert!(out.lost > 0, "{cc:?} found the buffer limit");
        assert!(out.recovery.bytes_in_flight() <= out.recovery.window() + 2 * MDS);
    }
}

#[test]
fn adaptive_settles_on_bbr_for_long_paths_and_cubic_for_short_ones() {
    let threshold = Duration::from_millis(10);
    let out = simulate(CcConfig::Adaptive { threshold }, &LONG_LINK, 3);
    assert_eq!(out.recovery.congestion_controller().name(), "adaptive/bbr");
    let short = Link {
        rate: 12_500_000,
        one_way: Duration::from_micros(500),
        buffer: 100_000,
    };
    let out = simulate(CcConfig::Adaptive { threshold }, &short, 3);
    assert_eq!(
        out.recovery.congestion_controller().name(),
        "adaptive/cubic"
    );
}
