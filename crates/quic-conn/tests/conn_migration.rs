//! The client's address changing under the connection (NAT rebinding, RFC 9000 §9).

mod util;

use std::time::Duration;

use quic_conn::conn::{Config, MigrationError};
use quic_streams::StreamRef;
use quic_wire::Dir;
use util::{pattern, read_all, Pair};

#[test]
fn the_server_follows_a_rebound_client_and_validates_the_new_path() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    assert!(pair.server().is_path_validated());
    let rebound: std::net::SocketAddr = "10.0.0.99:60000".parse().expect("addr");
    pair.client_seen_as = rebound;
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(150_000);
    let mut written = 0;
    let mut got = Vec::new();
    for _ in 0..1000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
        }
        pair.drive_bounded(20, Duration::from_secs(1));
        read_all(pair.server(), id, &mut got);
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data);
    assert_eq!(pair.server().remote_address(), Some(rebound));
    assert!(pair.server().is_path_validated(), "PATH_CHALLENGE answered");
    assert!(pair.server().is_established());
}

#[test]
fn a_client_moves_to_a_new_address_with_a_fresh_connection_id() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let old_cid = pair.client.remote_cid();
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().expect("addr");
    let now = pair.now;
    pair.client
        .migrate_local_address(now, moved)
        .expect("migration allowed");
    pair.client_seen_as = moved;
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(50_000);
    assert_eq!(pair.client.write(id, &data).expect("write"), data.len());
    pair.client.finish(id).expect("finish");
    pair.drive();
    let mut got = Vec::new();
    assert!(read_all(pair.server(), id, &mut got));
    assert!(got == data);
    assert_ne!(pair.client.remote_cid(), old_cid, "a new connection ID");
    assert_eq!(pair.server().remote_address(), Some(moved));
    assert!(pair.server().is_path_validated());
    assert_eq!(pair.server().error(), None);
}

#[test]
fn migration_is_refused_before_the_handshake_is_confirmed() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().expect("addr");
    let now = pair.now;
    assert_eq!(
        pair.client.migrate_local_address(now, moved),
        Err(MigrationError::NotConfirmed)
    );
}
