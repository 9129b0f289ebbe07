//! Packet protection cost per packet: seal and open a 1200-byte payload behind a 1-RTT short
//! header, for each suite, and header protection on its own.
#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use quic_wire::crypto::{
    keys_from_secret, protect_header, unprotect_header, DirectionalKeys, PacketKey, Suite, TAG_LEN,
};
use quic_wire::{PacketNumber, PathId, Version};

/// Short header: first byte, 8-byte DCID, 4-byte packet number.
const HEADER_LEN: usize = 13;
const PN_OFFSET: usize = 9;
const PAYLOAD_LEN: usize = 1200;
const PN: PacketNumber = PacketNumber(0x1234_5678);

fn keys(suite: Suite) -> DirectionalKeys {
    let secret = [0x42u8; 48];
    keys_from_secret(suite, Version::V1, &secret[..suite.secret_len()]).expect("valid secret")
}

fn plaintext_packet() -> Vec<u8> {
    let mut p = vec![0u8; HEADER_LEN + PAYLOAD_LEN + TAG_LEN];
    p[0] = 0x43; // short header, 4-byte packet number
    p[1..PN_OFFSET].fill(0xcd);
    p[PN_OFFSET..HEADER_LEN].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    p[HEADER_LEN..HEADER_LEN + PAYLOAD_LEN].fill(0x61);
    p
}

fn sealed_packet(k: &DirectionalKeys) -> Vec<u8> {
    let mut p = plaintext_packet();
    k.packet
        .seal_packet(PathId::ZERO, PN, &mut p, HEADER_LEN)
        .expect("seal");
    protect_header(&k.header, &mut p, PN_OFFSET).expect("long enough");
    p
}

fn bench_suite(c: &mut Criterion, name: &str, suite: Suite) {
    let k = keys(suite);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(PAYLOAD_LEN as u64));

    // Seal in place; the buffer is reused, so each iteration encrypts the previous ciphertext,
    // which costs the same.
    let mut buf = plaintext_packet();
    g.bench_function("seal_1200", |b| {
        b.iter(|| {
            k.packet
                .seal_packet(PathId::ZERO, black_box(PN), &mut buf, HEADER_LEN)
                .expect("seal");
        })
    });

    let mut buf = plaintext_packet();
    g.bench_function("seal_and_protect_header_1200", |b| {
        b.iter(|| {
            k.packet
                .seal_packet(PathId::ZERO, black_box(PN), &mut buf, HEADER_LEN)
                .expect("seal");
            protect_header(&k.header, &mut buf, PN_OFFSET).expect("long enough");
        })
    });

    // Opening decrypts in place, so each iteration starts from a fresh copy (not timed).
    let sealed = sealed_packet(&k);
    g.bench_function("unprotect_header_and_open_1200", |b| {
        b.iter_batched_ref(
            || sealed.clone(),
            |p| {
                let pn = unprotect_header(&k.header, p, PN_OFFSET)
                    .expect("long enough")
                    .pn;
                let pn = pn.decode(Some(PacketNumber(PN.0 - 1)));
                let len = k
                    .packet
                    .open_packet(PathId::ZERO, pn, p, PN_OFFSET + 4)
                    .expect("authentic");
                black_box(len)
            },
            BatchSize::SmallInput,
        )
    });

    g.throughput(Throughput::Elements(1));
    let mut buf = sealed_packet(&k);
    g.bench_function("header_protection_round_trip", |b| {
        b.iter(|| {
            let pn = unprotect_header(&k.header, &mut buf, PN_OFFSET)
                .expect("long enough")
                .pn;
            protect_header(&k.header, &mut buf, PN_OFFSET).expect("long enough");
            black_box(pn)
        })
    });
    g.finish();
}

fn crypto(c: &mut Criterion) {
    bench_suite(c, "aes128gcm", Suite::Aes128Gcm);
    bench_suite(c, "aes256gcm", Suite::Aes256Gcm);
    bench_suite(c, "chacha20poly1305", Suite::ChaCha20Poly1305);
}

criterion_group!(benches, crypto);
criterion_main!(benches);
