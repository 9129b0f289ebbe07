//! DATAGRAM frames (RFC 9221) over an in-memory pair.

mod util;

use bytes::Bytes;
use quic_conn::conn::{Config, DatagramError, Event};
use util::Pair;

#[test]
fn datagrams_are_delivered_in_both_directions() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    pair.client
        .send_datagram(Bytes::from_static(b"ping"))
        .expect("send");
    pair.server()
        .send_datagram(Bytes::from_static(b"pong"))
        .expect("send");
    pair.drive();
    assert_eq!(
        pair.server().recv_datagram(),
        Some(Bytes::from_static(b"ping"))
    );
    assert_eq!(
        pair.client.recv_datagram(),
        Some(Bytes::from_static(b"pong"))
    );
    assert!(pair.client_events.contains(&Event::DatagramReceived));
    assert_eq!(pair.client.recv_datagram(), None);
}

#[test]
fn datagrams_to_a_peer_without_support_are_refused() {
    let server_cfg = Config {
        max_datagram_frame_size: None,
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_cfg);
    pair.connect();
    assert_eq!(
        pair.client.send_datagram(Bytes::from_static(b"x")),
        Err(DatagramError::Unsupported)
    );
}

#[test]
fn datagrams_larger_than_the_peer_accepts_are_refused() {
    let server_cfg = Config {
        max_datagram_frame_size: Some(100),
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_cfg);
    pair.connect();
    assert_eq!(
        pair.client.send_datagram(Bytes::from(vec![0u8; 200])),
        Err(DatagramError::TooLarge)
    );
    assert!(pair
        .client
        .send_datagram(Bytes::from(vec![0u8; 50]))
        .is_ok());
}

#[test]
fn the_receive_queue_is_bounded_and_keeps_the_newest() {
    let server_cfg = Config {
        datagram_recv_queue: 2,
        ..Config::default()
    };
    let mut pair = Pair::new(Config::default(), server_cfg);
    pair.connect();
    for i in 0..5u8 {
        pair.client
            .send_datagram(Bytes::from(vec![i]))
            .expect("send");
    }
    pair.drive();
    let got: Vec<Bytes> = std::iter::from_fn(|| pair.server().recv_datagram()).collect();
    assert_eq!(got, vec![Bytes::from(vec![3u8]), Bytes::from(vec![4u8])]);
}
