//! Helpers shared by the integration tests: a seeded RNG, ACK frames built through the
//! wire crate, and a sink that records what recovery reports.
#![allow(dead_code)]

use std::ops::RangeInclusive;
use std::time::Duration;

use quic_recovery::{LostPacket, RecoverySink, SentPacket};
use quic_wire::codec::{Reader, Writer};
use quic_wire::frame::{AckFrame, EcnCounts};
use quic_wire::{Frame, Instant, Space};

/// SplitMix64: deterministic, seeded.
pub struct TestRng(pub u64);

impl rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
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

pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

pub fn at(ms: u64) -> Instant {
    Instant::from_nanos(ms * 1_000_000)
}

/// Encodes an ACK for `ranges` (highest first) into `buf` and parses it back.
pub fn ack_frame<'a>(
    buf: &'a mut [u8],
    ranges: &[RangeInclusive<u64>],
    delay: u64,
    ecn: Option<EcnCounts>,
) -> AckFrame<'a> {
    let len = {
        let mut w = Writer::new(buf);
        let n = AckFrame::write_ranges(&mut w, None, ranges.iter().cloned(), delay, ecn, 4096)
            .expect("ACK fits");
        assert_eq!(n, ranges.len(), "every range written");
        w.filled().len()
    };
    match Frame::parse(&mut Reader::new(&buf[..len])).expect("ACK parses") {
        Frame::Ack(a) => a,
        other => panic!("not an ACK: {other:?}"),
    }
}

/// Records everything recovery reports.
#[derive(Default, Debug)]
pub struct Record {
    pub acked: Vec<(Space, u64)>,
    pub lost: Vec<(Space, u64)>,
    pub spurious: Vec<(Space, u64)>,
}

impl<F> RecoverySink<F> for Record {
    fn on_acked(&mut self, space: Space, p: &SentPacket<F>) {
        self.acked.push((space, p.pn));
    }
    fn on_lost(&mut self, space: Space, p: SentPacket<F>) {
        self.lost.push((space, p.pn));
    }
    fn on_spurious_loss(&mut self, space: Space, p: &LostPacket) {
        self.spurious.push((space, p.pn));
    }
}

impl Record {
    pub fn lost_pns(&self) -> Vec<u64> {
        self.lost.iter().map(|x| x.1).collect()
    }
    pub fn acked_pns(&self) -> Vec<u64> {
        self.acked.iter().map(|x| x.1).collect()
    }
}
