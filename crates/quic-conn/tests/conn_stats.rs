//! Connection statistics: frame counts by kind agree between the two ends of a lossless
//! link, and sent frames are counted only when asked for.
#![cfg(feature = "rustls")]

mod util;

use quic_conn::conn::Config;
use quic_streams::StreamRef;
use quic_wire::Dir;
use util::{pattern, read_all, Pair};

fn counted() -> Config {
    Config {
        frame_stats: true,
        ..Config::default()
    }
}

/// Connects, moves `len` bytes client to server on one stream, and settles.
fn transfer(pair: &mut Pair, len: usize) {
    pair.connect();
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("stream pending: {other:?}"),
    };
    let data = pattern(len);
    let mut written = 0;
    let mut got = Vec::new();
    for _ in 0..10_000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
            if written == data.len() {
                pair.client.finish(id).expect("finish");
            }
        }
        pair.drive();
        if read_all(pair.server(), id, &mut got) {
            break;
        }
    }
    assert_eq!(got, data);
    pair.drive();
}

#[test]
fn frames_sent_by_one_end_are_the_frames_the_other_received() {
    let mut pair = Pair::new(counted(), counted());
    transfer(&mut pair, 300_000);
    let client = pair.client.stats();
    let server = pair.server().stats();
    assert_eq!(client.lost_packets, 0, "the link is lossless");
    assert_eq!(client.frames_sent, server.frames_received);
    assert_eq!(server.frames_sent, client.frames_received);
    let (c, s) = (client.frames_sent, server.frames_sent);
    assert!(c.stream >= 300_000 / 1500, "{c:?}");
    assert!(c.crypto >= 2 && s.crypto >= 2, "{c:?} {s:?}");
    assert!(s.ack > 0 && c.ack > 0);
    assert!(c.padding > 0, "the client's Initials are padded");
    assert!(s.other >= 1, "HANDSHAKE_DONE");
    assert!(client.packets_sent <= c.total());
}

#[test]
fn sent_frames_are_not_counted_unless_configured() {
    let mut pair = Pair::new(Config::default(), Config::default());
    transfer(&mut pair, 20_000);
    let client = pair.client.stats();
    let server = pair.server().stats();
    assert_eq!(client.frames_sent.total(), 0);
    assert_eq!(server.frames_sent.total(), 0);
    // Received frames always are.
    assert!(server.frames_received.stream > 0);
    assert!(client.frames_received.ack > 0);
}
