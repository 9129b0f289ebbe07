//! Path MTU discovery (RFC 9000 §14.3).

mod util;

use std::time::Duration;

use quic_conn::conn::Config;
use quic_streams::StreamRef;
use quic_wire::Dir;
use util::{pattern, read_all, Pair};

/// Sends `len` bytes client to server and checks they arrive.
fn transfer(pair: &mut Pair, len: usize) {
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(len);
    let mut written = 0;
    let mut got = Vec::new();
    for _ in 0..2000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
        }
        pair.drive_bounded(20, Duration::from_secs(1));
        read_all(pair.server(), id, &mut got);
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data, "{} of {} bytes", got.len(), data.len());
}

#[test]
fn datagrams_grow_to_the_configured_maximum_on_a_clear_path() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    transfer(&mut pair, 200_000);
    assert_eq!(pair.client.stats().mtu, 1452);
}

#[test]
fn discovery_settles_below_a_smaller_path_mtu_and_data_still_flows() {
    let mut pair = Pair::new(Config::default(), Config::default());
    // The path drops every datagram above 1400 bytes.
    pair.filter = Some(Box::new(|_, d| d.len() > 1400));
    pair.connect();
    transfer(&mut pair, 300_000);
    let mtu = pair.client.stats().mtu;
    assert!((1384..=1400).contains(&mtu), "mtu {mtu}");
    // Probe losses are not congestion: the window stayed well above the minimum.
    assert!(
        pair.client.stats().cwnd > 4 * 1400,
        "cwnd {}",
        pair.client.stats().cwnd
    );
}

#[test]
fn discovery_is_off_when_the_maximum_is_the_initial_size() {
    let cfg = Config {
        max_udp_payload: 1200,
        ..Config::default()
    };
    let mut pair = Pair::new(cfg, Config::default());
    pair.connect();
    transfer(&mut pair, 100_000);
    assert_eq!(pair.client.stats().mtu, 1200);
}

#[test]
fn a_path_mtu_that_shrinks_later_is_detected_as_a_black_hole() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    transfer(&mut pair, 50_000);
    assert_eq!(pair.client.stats().mtu, 1452);
    // The route changes: datagrams above 1300 bytes vanish.
    pair.filter = Some(Box::new(|_, d| d.len() > 1300));
    transfer(&mut pair, 200_000);
    let mtu = pair.client.stats().mtu;
    assert!((1200..=1300).contains(&mtu), "mtu {mtu}");
}
