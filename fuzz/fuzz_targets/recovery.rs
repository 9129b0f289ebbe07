//! Feeds arbitrary packet-number arrivals, ACK frames (well-formed ones from the wire crate's
//! `Arbitrary`, and ones built from random ranges below what was sent), timeouts and
//! handshake events to the receive history, ACK policy and per-path recovery. Nothing may
//! panic, and the bookkeeping must stay consistent.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use quic_recovery::rand_core::{self, RngCore};
use quic_recovery::{
    AckConfig, CcConfig, Ecn, Inserted, PathRecovery, RecoveryConfig, RecoverySink, SentConfig,
    SentPacket,
};
use quic_wire::codec::{Reader, Writer};
use quic_wire::frame::AckFrame;
use quic_wire::{Frame, Instant, PathId, Space};

struct Rng(u64);

impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[derive(Default)]
struct Sink {
    acked: u64,
    lost: u64,
}

impl RecoverySink<u32> for Sink {
    fn on_acked(&mut self, _: Space, _: &SentPacket<u32>) {
        self.acked += 1;
    }
    fn on_lost(&mut self, _: Space, _: SentPacket<u32>) {
        self.lost += 1;
    }
}

fn space(u: &mut Unstructured<'_>) -> arbitrary::Result<Space> {
    Ok(Space::ALL[u.int_in_range(0..=2usize)?])
}

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let cc = match u.int_in_range(0..=3u8)? {
        0 => CcConfig::NewReno,
        1 => CcConfig::Cubic { hystart: true },
        2 => CcConfig::Bbr,
        _ => CcConfig::Adaptive {
            threshold: core::time::Duration::from_millis(u.int_in_range(1..=100u64)?),
        },
    };
    let config = RecoveryConfig {
        ack: AckConfig {
            max_ranges: u.int_in_range(1..=16usize)?,
            min_ack_delay: Some(core::time::Duration::from_millis(1)),
            ..AckConfig::default()
        },
        sent: SentConfig {
            skip_period: u.int_in_range(0..=16u64)?,
            initial_capacity: 4,
        },
        cc,
        ..RecoveryConfig::default()
    };
    let mut rng = Rng(u64::arbitrary(u)? | 1);
    let path = if bool::arbitrary(u)? {
        PathId::ZERO
    } else {
        PathId(1)
    };
    let mut r: PathRecovery<u32> = PathRecovery::new(path, &config, bool::arbitrary(u)?, &mut rng);
    let mut sink = Sink::default();
    let mut now = 0u64;
    let mut sent_upto = [0u64; 3];
    let mut ops = 0;
    while !u.is_empty() && ops < 2000 {
        ops += 1;
        now += u.int_in_range(0..=50_000_000u64)?;
        let t = Instant::from_nanos(now);
        match u.int_in_range(0..=8u8)? {
            0 => {
                let s = space(u)?;
                let pn = u.int_in_range(0..=(1u64 << 62) - 1)?;
                let pn = if bool::arbitrary(u)? { pn % 512 } else { pn };
                let ecn =
                    [Ecn::NotEct, Ecn::Ect0, Ecn::Ect1, Ecn::Ce][u.int_in_range(0..=3usize)?];
                if let Some(res) = r.on_packet_received(t, s, pn, bool::arbitrary(u)?, ecn) {
                    let tracker = r.ack_tracker(s).expect("space exists");
                    assert!(
                        tracker.is_duplicate(pn),
                        "a received number counts as received"
                    );
                    assert!(tracker.history().len() <= tracker.history().max_ranges());
                    let _ = res == Inserted::New;
                }
            }
            1 => {
                let s = space(u)?;
                let count = u.int_in_range(1..=64u32)?;
                for _ in 0..count {
                    let Some(pn) = r.next_pn(s, &mut rng) else {
                        break;
                    };
                    let size = u.int_in_range(1..=1500u16)?;
                    r.on_packet_sent(
                        t,
                        s,
                        size,
                        bool::arbitrary(u)?,
                        bool::arbitrary(u)?,
                        pn as u32,
                    );
                    sent_upto[s as usize] = pn + 1;
                }
            }
            2 => {
                let s = space(u)?;
                let ack = AckFrame::arbitrary(u)?;
                let _ = r.on_ack_received(t, s, &ack, &mut sink);
            }
            3 => {
                // An ACK of random ranges within what was sent.
                let s = space(u)?;
                let top = sent_upto[s as usize];
                if top == 0 {
                    continue;
                }
                let mut ranges = Vec::new();
                let mut hi = u.int_in_range(0..=top - 1)?;
                for _ in 0..u.int_in_range(1..=32usize)? {
                    let lo = hi.saturating_sub(u.int_in_range(0..=8u64)?);
                    ranges.push(lo..=hi);
                    if lo < 2 {
                        break;
                    }
                    hi = lo - 2 - u.int_in_range(0..=(lo - 2).min(8))?;
                }
                let mut buf = [0u8; 1024];
                let len = {
                    let mut w = Writer::new(&mut buf);
                    let _ = AckFrame::write_ranges(&mut w, None, ranges.into_iter(), 0, None, 1024);
                    w.filled().len()
                };
                if let Ok(Frame::Ack(ack)) = Frame::parse(&mut Reader::new(&buf[..len])) {
                    let _ = r.on_ack_received(t, s, &ack, &mut sink);
                }
            }
            4 => {
                let _ = r.on_timeout(t, &mut sink);
            }
            5 => {
                let s = space(u)?;
                let mut buf = [0u8; 256];
                let budget = u.int_in_range(0..=256usize)?;
                if let Some(tracker) = r.ack_tracker(s) {
                    let mut w = Writer::new(&mut buf);
                    if let Ok(Some(written)) = tracker.write_ack(&mut w, None, t, budget) {
                        assert!(written.len <= budget);
                        let len = w.filled().len();
                        match Frame::parse(&mut Reader::new(&buf[..len])) {
                            Ok(Frame::Ack(a)) => assert_eq!(a.largest(), written.largest),
                            other => panic!("written ACK does not parse: {other:?}"),
                        }
                        if bool::arbitrary(u)? {
                            tracker.on_ack_frame_acked(written.largest);
                        }
                    }
                }
            }
            6 => match u.int_in_range(0..=3u8)? {
                0 => r.on_handshake_keys(t),
                1 => r.on_handshake_confirmed(t),
                2 => r.discard_space(t, space(u)?),
                _ => r.set_amplification_limited(t, bool::arbitrary(u)?),
            },
            7 => {
                if let Some(tracker) = r.ack_tracker(Space::Data) {
                    let _ = tracker.on_ack_frequency(
                        u.int_in_range(0..=16u64)?,
                        u.int_in_range(0..=20u64)?,
                        u.int_in_range(0..=100_000u64)?,
                        u.int_in_range(0..=8u64)?,
                        t,
                    );
                }
            }
            _ => {
                r.on_app_limited();
                let _ = r.send_time(t, 1200);
                let _ = r.poll_timeout();
            }
        }
        // Bytes in flight are the sum over the spaces.
        let sum: u64 = Space::ALL
            .iter()
            .filter_map(|&s| r.sent_packets(s))
            .map(|p| p.bytes_in_flight())
            .sum();
        assert_eq!(r.bytes_in_flight(), sum);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
