//! ECN marking and validation (RFC 9000 §13.4), GSO batches from `poll_transmit`, and
//! zero-copy receive from the embedder's datagram buffer.

mod util;

use bytes::BytesMut;
use quic_conn::conn::Config;
use quic_conn::DatagramMeta;
use quic_streams::StreamRef;
use quic_wire::{Dir, Ecn, StreamId};
use util::{pattern, read_all, Pair};

fn open_uni(pair: &mut Pair) -> StreamId {
    match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    }
}

/// How the server sees a datagram from the client.
fn from_client(ecn: Ecn) -> DatagramMeta {
    DatagramMeta {
        remote: util::client_addr(),
        local: util::server_addr(),
        ecn,
    }
}

fn send(pair: &mut Pair, len: usize) {
    let id = open_uni(pair);
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
    let id = open_uni(&mut pair);
    let data = pattern(60_000);
    pair.client.write(id, &data).expect("write");
    pair.client.finish(id).expect("finish");
    let mut buf = vec![0u8; 64 * 1500];
    let now = pair.now;
    let t = pair.client.poll_transmit(now, &mut buf).expect("data");
    let seg = t.segment_size.expect("a GSO batch");
    assert!(t.size > seg, "{} bytes in segments of {seg}", t.size);
    // Every segment is a datagram of its own for the server.
    let meta = from_client(t.ecn);
    let server = pair.server();
    for chunk in buf[..t.size].chunks(seg) {
        server.handle_datagram(now, meta, BytesMut::from(chunk));
    }
    let mut got = Vec::new();
    read_all(server, id, &mut got);
    assert!(!got.is_empty());
    assert_eq!(&got[..], &data[..got.len()]);
}

/// Received stream data is handed to the application as a view of the datagram buffer the
/// embedder passed in (no copy).
#[test]
fn received_stream_data_is_a_view_of_the_datagram_buffer() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let id = open_uni(&mut pair);
    let data = pattern(1000);
    assert_eq!(pair.client.write(id, &data).expect("write"), data.len());
    let mut buf = vec![0u8; 1500];
    let now = pair.now;
    let t = pair.client.poll_transmit(now, &mut buf).expect("data");
    // The datagram sits in the middle of a larger receive buffer, as in a receive loop
    // that reads many datagrams into one allocation.
    let mut arena = BytesMut::with_capacity(4096);
    arena.extend_from_slice(&[0xee; 100]);
    arena.extend_from_slice(&buf[..t.size]);
    arena.extend_from_slice(&[0xee; 100]);
    let _front = arena.split_to(100);
    let datagram = arena.split_to(t.size);
    let (start, end) = (
        datagram.as_ptr() as usize,
        datagram.as_ptr() as usize + datagram.len(),
    );
    let meta = from_client(t.ecn);
    let server = pair.server();
    server.handle_datagram(now, meta, datagram);
    let chunk = server
        .streams()
        .read_chunk(id, usize::MAX)
        .expect("readable");
    assert_eq!(&chunk.data[..], &data[..]);
    let at = chunk.data.as_ptr() as usize;
    assert!(
        at >= start && at + chunk.data.len() <= end,
        "the chunk at {at:#x}+{} is not inside the datagram {start:#x}..{end:#x}",
        chunk.data.len()
    );
}
