//! The client's address changing under the connection (NAT rebinding, RFC 9000 §9).

mod util;

use std::time::Duration;

use quic_conn::conn::Config;
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
