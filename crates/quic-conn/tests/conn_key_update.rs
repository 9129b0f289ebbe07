//! 1-RTT key updates (RFC 9001 §6).

mod util;

use quic_conn::conn::Config;
use quic_streams::StreamRef;
use quic_wire::Dir;
use util::{pattern, read_all, Pair};

fn send_and_check(pair: &mut Pair, len: usize) {
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(len);
    assert_eq!(pair.client.write(id, &data).expect("write"), len);
    pair.client.finish(id).expect("finish");
    pair.drive();
    let mut got = Vec::new();
    assert!(read_all(pair.server(), id, &mut got), "stream not finished");
    assert!(got == data);
}

#[test]
fn key_update_is_refused_before_the_handshake_is_confirmed() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let now = pair.now;
    assert!(!pair.client.initiate_key_update(now));
    assert!(!pair.client.key_phase());
}

#[test]
fn both_sides_follow_a_client_key_update_and_data_keeps_flowing() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    send_and_check(&mut pair, 10_000);
    let now = pair.now;
    assert!(pair.client.initiate_key_update(now));
    // A second update must wait for an acknowledgement in the new phase (RFC 9001 §6.1).
    assert!(!pair.client.initiate_key_update(now));
    send_and_check(&mut pair, 50_000);
    assert!(pair.client.key_phase());
    assert!(pair.server().key_phase());
    let now = pair.now;
    assert!(pair.client.initiate_key_update(now));
    send_and_check(&mut pair, 50_000);
    assert!(!pair.client.key_phase());
    assert!(!pair.server().key_phase());
}

#[test]
fn a_server_key_update_is_followed_by_the_client() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    send_and_check(&mut pair, 10_000);
    let now = pair.now;
    assert!(pair.server().initiate_key_update(now));
    send_and_check(&mut pair, 10_000);
    assert!(pair.client.key_phase());
    assert!(pair.server().key_phase());
}
