//! Streams and flow control over an in-memory pair.

mod util;

use std::time::Duration;

use quic_conn::conn::Config;
use quic_streams::StreamRef;
use quic_wire::{Dir, StreamId};
use util::{pattern, read_all, Pair};

fn open_bi(pair: &mut Pair) -> StreamId {
    match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("stream pending: {other:?}"),
    }
}

/// Sends `data` from the client on a new bidirectional stream and returns what the server
/// read, echoing it back and returning what the client read too.
fn round_trip(pair: &mut Pair, data: &[u8], max_steps: usize) -> (Vec<u8>, Vec<u8>) {
    let id = open_bi(pair);
    let (mut written, mut echoed) = (0, 0);
    let (mut at_server, mut at_client) = (Vec::new(), Vec::new());
    let (mut server_fin, mut client_fin) = (false, false);
    for _ in 0..max_steps {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
            if written == data.len() {
                pair.client.finish(id).expect("finish");
            }
        }
        pair.drive_bounded(20, Duration::from_secs(1));
        let server = pair.server();
        if !server_fin {
            server_fin = read_all(server, id, &mut at_server);
        }
        if echoed < at_server.len() {
            echoed += server.write(id, &at_server[echoed..]).expect("echo");
        }
        if server_fin && echoed == at_server.len() {
            let _ = server.finish(id);
        }
        if !client_fin {
            client_fin = read_all(&mut pair.client, id, &mut at_client);
        }
        if client_fin {
            break;
        }
    }
    (at_server, at_client)
}

#[test]
fn bidirectional_stream_carries_bytes_exactly_both_ways() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let data = pattern(100_000);
    let (at_server, at_client) = round_trip(&mut pair, &data, 10_000);
    assert_eq!(at_server, data);
    assert_eq!(at_client, data);
}

#[test]
fn multi_megabyte_transfer_arrives_intact() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let data = pattern(3 * 1024 * 1024);
    let (at_server, at_client) = round_trip(&mut pair, &data, 100_000);
    assert_eq!(at_server.len(), data.len());
    assert!(at_server == data);
    assert!(at_client == data);
}

#[test]
fn transfer_completes_with_random_datagram_loss() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    pair.loss_percent = 5;
    let data = pattern(300_000);
    let (at_server, at_client) = round_trip(&mut pair, &data, 100_000);
    assert!(
        at_server == data,
        "server got {} of {}",
        at_server.len(),
        data.len()
    );
    assert!(at_client == data);
    assert!(
        pair.client.stats().lost_packets > 0,
        "the loss was exercised"
    );
}

#[test]
fn flow_control_blocks_the_sender_until_the_receiver_reads() {
    let server_cfg = Config {
        streams: quic_streams::Config {
            stream_window: 16 * 1024,
            max_stream_window: 16 * 1024,
            conn_window: 64 * 1024,
            max_conn_window: 64 * 1024,
            ..quic_streams::Config::default()
        },
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_cfg);
    pair.connect();
    let id = open_bi(&mut pair);
    let data = pattern(64 * 1024);
    let mut written = pair.client.write(id, &data).expect("write");
    pair.drive();
    // The server has not read: no more than its stream window may have arrived.
    let mut got = Vec::new();
    read_all(pair.server(), id, &mut got);
    assert!(!got.is_empty());
    assert!(
        got.len() <= 16 * 1024,
        "{} bytes beyond a 16 KiB window",
        got.len()
    );
    // Reading opens the window; everything arrives in the end.
    for _ in 0..200 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
        }
        pair.drive();
        read_all(pair.server(), id, &mut got);
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data);
}

#[test]
fn streams_opened_beyond_the_peer_limit_wait_for_credit() {
    let server_cfg = Config {
        streams: quic_streams::Config {
            max_concurrent_bidi: 1,
            ..quic_streams::Config::default()
        },
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_cfg);
    pair.connect();
    let first = open_bi(&mut pair);
    let second = pair.client.open(Dir::Bi).expect("open");
    assert!(
        matches!(second, StreamRef::Pending(_)),
        "second stream must wait"
    );
    pair.client.write(first, b"one").expect("write");
    pair.client.finish(first).expect("finish");
    pair.drive();
    let mut got = Vec::new();
    assert!(read_all(pair.server(), first, &mut got));
    pair.server().finish(first).expect("finish reply");
    pair.drive();
    let mut reply = Vec::new();
    assert!(read_all(&mut pair.client, first, &mut reply));
    pair.drive();
    assert!(
        pair.client.streams().id_of(second).is_some(),
        "second stream started"
    );
}

#[test]
fn misuse_of_streams_is_a_typed_error() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let unknown = StreamId::new(quic_wire::Side::Server, Dir::Bi, 7).expect("id");
    assert!(pair.client.write(unknown, b"x").is_err());
    let mut buf = [0u8; 4];
    assert!(pair.client.read(unknown, &mut buf).is_err());
    let uni = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    assert!(pair.client.read(uni, &mut buf).is_err());
}
