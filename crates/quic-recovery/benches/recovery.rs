//! Benchmarks: processing an ACK with 64 ranges against 10,000 packets in flight, and
//! inserting 1,000,000 packet numbers into the receive history in order and 1% reordered.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;
use std::ops::RangeInclusive;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use quic_recovery::rand_core::{self, RngCore};
use quic_recovery::{
    CcConfig, PathRecovery, RecoveryConfig, RecoverySink, RecvHistory, SentConfig, SentPacket,
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

struct Count(u64);

impl RecoverySink<u64> for Count {
    fn on_acked(&mut self, _: Space, p: &SentPacket<u64>) {
        self.0 += p.frames;
    }
    fn on_lost(&mut self, _: Space, p: SentPacket<u64>) {
        self.0 ^= p.frames;
    }
}

const IN_FLIGHT: u64 = 10_000;

/// A path with 10,000 packets in flight, numbered 0..10_000 (no skipping).
fn loaded_path() -> PathRecovery<u64> {
    let config = RecoveryConfig {
        cc: CcConfig::Cubic { hystart: true },
        sent: SentConfig {
            skip_period: 0,
            initial_capacity: IN_FLIGHT as usize,
        },
        ..RecoveryConfig::default()
    };
    let mut rng = Rng(7);
    let mut r = PathRecovery::new(PathId::ZERO, &config, false, &mut rng);
    r.on_handshake_confirmed(Instant::ZERO);
    for i in 0..IN_FLIGHT {
        let t = Instant::from_nanos(i * 1_000);
        let pn = r.next_pn(Space::Data, &mut rng).unwrap();
        r.on_packet_sent(t, Space::Data, 1200, true, true, pn);
    }
    r
}

/// 64 ranges, highest first, over 0..`top`: runs of `len` with gaps of `gap` between them.
fn ranges(top: u64, len: u64, gap: u64) -> Vec<RangeInclusive<u64>> {
    let mut out = Vec::new();
    let mut hi = top;
    for _ in 0..64 {
        let lo = hi + 1 - len;
        out.push(lo..=hi);
        hi = lo - gap - 1;
    }
    out
}

fn encode(ranges: &[RangeInclusive<u64>]) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let len = {
        let mut w = Writer::new(&mut buf);
        let n =
            AckFrame::write_ranges(&mut w, None, ranges.iter().cloned(), 10, None, 2048).unwrap();
        assert_eq!(n, 64);
        w.filled().len()
    };
    buf.truncate(len);
    buf
}

fn parse(bytes: &[u8]) -> AckFrame<'_> {
    match Frame::parse(&mut Reader::new(bytes)).unwrap() {
        Frame::Ack(a) => a,
        _ => unreachable!(),
    }
}

fn ack_processing(c: &mut Criterion) {
    let mut g = c.benchmark_group("ack");
    // 64 ranges of 150 packets with 5-packet gaps: 9,600 newly acknowledged, 315 lost.
    let all_new = encode(&ranges(IN_FLIGHT - 1, 150, 5));
    g.bench_function("64_ranges_10k_in_flight_all_new", |b| {
        b.iter_batched(
            loaded_path,
            |mut r| {
                let mut sink = Count(0);
                let ack = parse(&all_new);
                let now = Instant::from_nanos(50_000_000);
                r.on_ack_received(now, Space::Data, &ack, &mut sink)
                    .unwrap();
                black_box(sink.0);
                r
            },
            BatchSize::LargeInput,
        )
    });
    // The same ACK again with 16 more packets at the top: 64 ranges, 16 newly acknowledged.
    let mut later = ranges(IN_FLIGHT - 1, 150, 5);
    if let Some(first) = later.first_mut() {
        *first = *first.start()..=*first.end() + 16;
    }
    let repeat = encode(&later);
    g.bench_function("64_ranges_10k_sent_16_new", |b| {
        b.iter_batched(
            || {
                let mut r = loaded_path();
                let mut rng = Rng(3);
                for i in 0..16 {
                    let pn = r.next_pn(Space::Data, &mut rng).unwrap();
                    r.on_packet_sent(
                        Instant::from_nanos(10_000_000 + i),
                        Space::Data,
                        1200,
                        true,
                        true,
                        pn,
                    );
                }
                let mut sink = Count(0);
                r.on_ack_received(
                    Instant::from_nanos(40_000_000),
                    Space::Data,
                    &parse(&all_new),
                    &mut sink,
                )
                .unwrap();
                r
            },
            |mut r| {
                let mut sink = Count(0);
                let ack = parse(&repeat);
                r.on_ack_received(
                    Instant::from_nanos(60_000_000),
                    Space::Data,
                    &ack,
                    &mut sink,
                )
                .unwrap();
                black_box(sink.0);
                r
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn history_inserts(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let in_order: Vec<u64> = (0..N).collect();
    // 1% reordered: every 100th packet arrives 1 to 3 places late.
    let mut reordered = in_order.clone();
    let mut rng = Rng(11);
    let mut i = 0usize;
    while i + 4 < reordered.len() {
        if rng.next_u64() % 100 == 0 {
            let d = 1 + (rng.next_u64() % 3) as usize;
            reordered[i..=i + d].rotate_left(1);
            i += d + 1;
        } else {
            i += 1;
        }
    }
    let mut g = c.benchmark_group("recv_history");
    g.throughput(Throughput::Elements(N));
    g.sample_size(20);
    for (name, seq) in [
        ("insert_1m_in_order", &in_order),
        ("insert_1m_1pct_reordered", &reordered),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut h = RecvHistory::new(64);
                for &pn in seq.iter() {
                    black_box(h.insert(pn));
                }
                h.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ack_processing, history_inserts);
criterion_main!(benches);
