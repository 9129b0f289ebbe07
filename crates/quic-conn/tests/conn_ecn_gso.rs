//! ECN marking and validation (RFC 9000 §13.4), and GSO batches from `poll_transmit`.

mod util;

use bytes::BytesMut;
use quic_conn::conn::Config;
use quic_conn::DatagramMeta;
use quic_streams::StreamRef;
use quic_wire::{Dir, Ecn};
use util::{pattern, read_all, Pair};

fn send(pair: &mut Pair, len: usize) {
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(len);
    let mut written = 0;
    let mut got = Vec::new();
    for _ in 0..1000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
        }
        pair.drive_bounded(20, std::time::Duration::from_secs(1));
        read_all(pair.server(), id, &mut got);
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data);
}

#[test]
fn packets_stay_ect0_marked_on_a_path_that_passes_ecn() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    send(&mut pair, 100_000);
    let last = *pair.client_ecn.last().expect("datagrams");
    assert_eq!(last, Ecn::Ect0);
}

#[test]
fn ecn_marking_stops_on_a_bleaching_path() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.bleach_ecn = true;
    pair.connect();
    send(&mut pair, 100_000);
    assert_eq!(pair.client_ecn.first(), Some(&Ecn::Ect0), "marked at first");
    assert_eq!(
        pair.client_ecn.last(),
        Some(&Ecn::NotEct),
        "validation failed"
    );
}

#[test]
fn a_large_buffer_gets_a_batch_of_full_size_datagrams() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(60_000);
    pair.client.write(id, &data).expect("write");
    pair.client.finish(id).expect("finish");
    let mut buf = vec![0u8; 64 * 1500];
    let now = pair.now;
    let t = pair.client.poll_transmit(now, &mut buf).expect("data");
    let seg = t.segment_size.expect("a GSO batch");
    assert!(t.size > seg, "{} bytes in segments of {seg}", t.size);
    // Every segment is a datagram of its own for the server.
    let meta = DatagramMeta {
        remote: util::client_addr(),
        local: util::server_addr(),
        ecn: t.ecn,
    };
    let server = pair.server();
    for chunk in buf[..t.size].chunks(seg) {
        server.handle_datagram(now, meta, BytesMut::from(chunk));
    }
    let mut got = Vec::new();
    read_all(server, id, &mut got);
    assert!(!got.is_empty());
    assert_eq!(&got[..], &data[..got.len()]);
}
