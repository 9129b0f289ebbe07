//! A typical 1-RTT payload: an ACK with 4 ranges and one 1200-byte STREAM frame.
//! Parse it with `FrameIter`; write it the way a connection does (ACK from ranges, STREAM
//! header then a copy of the data) and through `Frame::write`.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use quic_wire::codec::Writer;
use quic_wire::frame::{AckFrame, FrameIter, StreamFrame, StreamFrameHeader};
use quic_wire::{Frame, PacketType, StreamId, VarInt};

const RANGES: [std::ops::RangeInclusive<u64>; 4] = [
    100_000..=100_040,
    99_900..=99_990,
    99_000..=99_800,
    98_000..=98_500,
];

fn stream() -> StreamFrameHeader {
    StreamFrameHeader {
        id: StreamId::from(VarInt::from_u32(4)),
        offset: 1_234_567,
        len: None,
        fin: false,
    }
}

fn write_payload(out: &mut [u8], data: &[u8]) -> usize {
    let mut w = Writer::new(out);
    AckFrame::write_ranges(&mut w, None, RANGES.iter().cloned(), 25, None, 64).unwrap();
    stream().write(&mut w).unwrap();
    w.put_slice(data).unwrap();
    w.written()
}

fn bench(c: &mut Criterion) {
    let data = vec![0xa5u8; 1200];
    let mut payload = vec![0u8; 1400];
    let n = write_payload(&mut payload, &data);
    payload.truncate(n);

    let mut g = c.benchmark_group("frames");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse 1-RTT payload (ACK 4 ranges + STREAM 1200)", |b| {
        b.iter(|| {
            let mut acked = 0u64;
            let mut bytes = 0usize;
            for f in FrameIter::new(black_box(&payload), PacketType::OneRtt) {
                match f.unwrap() {
                    Frame::Ack(a) => {
                        acked += a.iter().map(|r| r.end() - r.start() + 1).sum::<u64>()
                    }
                    Frame::Stream(s) => bytes += s.data.len(),
                    _ => {}
                }
            }
            (acked, bytes)
        })
    });

    let mut out = vec![0u8; 1400];
    g.bench_function("write 1-RTT payload (ranges + header + copy)", |b| {
        b.iter(|| write_payload(black_box(&mut out), black_box(&data)))
    });

    let frames: Vec<Frame<'_>> = FrameIter::new(&payload, PacketType::OneRtt)
        .map(Result::unwrap)
        .collect();
    assert!(matches!(frames[1], Frame::Stream(StreamFrame { .. })));
    g.bench_function("write 1-RTT payload (Frame::write)", |b| {
        b.iter(|| {
            let mut w = Writer::new(black_box(&mut out));
            for f in black_box(&frames) {
                f.write(&mut w).unwrap();
            }
            w.written()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
