//! Combinations: stream resets and stop-sending across the connection, Retry on QUIC v2,
//! key updates under loss, 0-RTT after a Retry.

mod util;

use std::sync::Arc;
use std::time::Duration;

use quic_conn::conn::{Config, Event};
use quic_conn::endpoint::{Endpoint, EndpointConfig};
use quic_streams::{StreamEvent, StreamRef};
use quic_wire::{Dir, Instant, VarInt, Version};
use util::{pattern, read_all, Pair};

fn open(pair: &mut Pair, dir: Dir) -> quic_wire::StreamId {
    match pair.client.open(dir).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reset_stream_reaches_the_peer_with_its_code() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let id = open(&mut pair, Dir::Uni);
    pair.client.write(id, b"partial").expect("write");
    pair.drive();
    pair.client.reset(id, VarInt::from_u32(77)).expect("reset");
    pair.drive();
    let reset = pair.server_events.iter().any(|e| {
        matches!(e, Event::Stream(StreamEvent::Reset { id: i, error_code }) if *i == id && *error_code == VarInt::from_u32(77))
    });
    assert!(reset, "server events: {:?}", pair.server_events);
}

#[test]
fn stop_sending_makes_the_peer_reset_its_stream() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    let id = open(&mut pair, Dir::Bi);
    pair.client.write(id, b"request").expect("write");
    pair.drive();
    pair.server()
        .stop_sending(id, VarInt::from_u32(5))
        .expect("stop");
    pair.drive();
    let stopped = pair.client_events.iter().any(|e| {
        matches!(e, Event::Stream(StreamEvent::Stopped { id: i, error_code }) if *i == id && *error_code == VarInt::from_u32(5))
    });
    assert!(stopped, "client events: {:?}", pair.client_events);
}

#[test]
fn key_updates_survive_loss_and_reordering() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    pair.loss_percent = 10;
    pair.jitter = Duration::from_millis(10);
    let id = open(&mut pair, Dir::Uni);
    let data = pattern(400_000);
    let mut written = 0;
    let mut got = Vec::new();
    let mut updates = 0;
    for round in 0..5000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
        }
        if round % 20 == 19 {
            let now = pair.now;
            updates += usize::from(pair.client.initiate_key_update(now));
        }
        pair.drive_bounded(10, Duration::from_secs(1));
        read_all(pair.server(), id, &mut got);
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data, "{} of {}", got.len(), data.len());
    assert!(updates >= 2, "{updates} key updates");
    assert_eq!(pair.client.error(), None);
}

#[test]
fn retry_works_on_quic_v2() {
    let (c, s) = util::tls_configs(0);
    let server_cfg = EndpointConfig {
        server_tls: Some(Arc::new(s)),
        retry: true,
        ..EndpointConfig::default()
    };
    let mut server = Endpoint::new(server_cfg, util::rng_factory(10));
    let client_cfg = EndpointConfig {
        connection: Config {
            version: Version::V2,
            ..Config::default()
        },
        ..EndpointConfig::default()
    };
    let mut client = Endpoint::new(client_cfg, util::rng_factory(20));
    let mut now = Instant::from_nanos(1_000_000_000);
    let h = client
        .connect(
            now,
            Arc::new(c),
            "localhost",
            util::client_addr(),
            util::server_addr(),
        )
        .expect("connect");
    util::drive_endpoints(&mut client, &mut server, &mut now);
    let conn = client.connection(h).expect("client");
    assert!(conn.is_established());
    assert_eq!(conn.version(), Version::V2);
    assert!(conn
        .peer_params()
        .expect("params")
        .retry_source_connection_id
        .is_some());
}

#[test]
fn zero_rtt_after_a_retry_still_delivers_the_data() {
    let (c, s) = util::tls_configs(0);
    let (c, s) = (Arc::new(c.with_early_data()), Arc::new(s.with_early_data()));
    let server_cfg = EndpointConfig {
        server_tls: Some(s),
        retry: true,
        ..EndpointConfig::default()
    };
    let mut server = Endpoint::new(server_cfg, util::rng_factory(30));
    let mut client = Endpoint::new(EndpointConfig::default(), util::rng_factory(40));
    let mut now = Instant::from_nanos(1_000_000_000);
    // A first connection for the ticket.
    let first = client
        .connect(
            now,
            c.clone(),
            "localhost",
            util::client_addr(),
            util::server_addr(),
        )
        .expect("connect");
    util::drive_endpoints(&mut client, &mut server, &mut now);
    assert!(client.connection(first).expect("first").is_established());
    let second = client
        .connect(
            now,
            c,
            "localhost",
            util::client_addr(),
            util::server_addr(),
        )
        .expect("connect");
    let conn = client.connection(second).expect("second");
    assert!(conn.is_zero_rtt_active());
    let id = match conn.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    conn.streams().set_0rtt_allowed(id, true).expect("allow");
    conn.write(id, b"early").expect("write");
    conn.finish(id).expect("finish");
    util::drive_endpoints(&mut client, &mut server, &mut now);
    assert!(client.connection(second).expect("second").is_established());
    // Find the server connection that got the stream.
    let handles: Vec<_> = server.handles().collect();
    let mut got = Vec::new();
    for h in handles {
        let s = server.connection(h).expect("server");
        let mut buf = Vec::new();
        if read_all(s, id, &mut buf) {
            got = buf;
        }
    }
    assert_eq!(got, b"early");
}

/// RFC 9002 §6.2.4: "An endpoint SHOULD include new data in packets that are sent on PTO
/// expiration. Previously sent data MAY be sent if no new data can be sent." When the only
/// data packet is lost and nothing new waits, the probe carries that data again: the
/// server has it before the client ever declares the packet lost.
#[test]
fn a_probe_resends_the_tail_data_before_it_is_declared_lost() {
    use std::cell::Cell;
    use std::rc::Rc;
    let mut pair = util::Pair::new(Config::default(), Config::default());
    pair.connect();
    pair.drive();
    // Drop the client's next datagram: the one carrying the request.
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    pair.filter = Some(Box::new(move |to_server, _| {
        if to_server && !d.get() {
            d.set(true);
            return true;
        }
        false
    }));
    let id = match pair.client.open(Dir::Uni).expect("open") {
        quic_streams::StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = util::pattern(800);
    assert_eq!(pair.client.write(id, &data).expect("write"), data.len());
    pair.client.finish(id).expect("finish");
    let mut got = Vec::new();
    let mut lost_when_done = None;
    assert!(pair.drive_until(10_000, |p| {
        if util::read_all(p.server(), id, &mut got) {
            lost_when_done = Some(p.client.stats().lost_packets);
            true
        } else {
            false
        }
    }));
    assert!(dropped.get());
    assert_eq!(got, data);
    assert_eq!(lost_when_done, Some(0), "the data came with the probe");
}
