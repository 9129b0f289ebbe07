//! Scale through endpoints in the simulator: many streams on one connection, many
//! connections on one endpoint.
#![cfg(all(feature = "sim", feature = "rustls"))]

mod netutil;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use netutil::{addr, delay_ms, endpoint, pattern, Net};
use quic_conn::endpoint::{Endpoint, EndpointConfig};
use quic_wire::Dir;

#[test]
fn ten_thousand_streams_on_one_connection_all_arrive_byte_exact() {
    // 10,000 unidirectional streams of 64 to 319 bytes each; the server allows 100 at a
    // time (the default), so most start only as MAX_STREAMS credit returns.
    let streams = 10_000u64;
    let mut net = Net::new(21, delay_ms(10));
    let h = net.connect();
    for i in 0..streams {
        let len = 64 + (i % 256) as usize;
        net.upload_on(h, Dir::Uni, Arc::new(pattern(len, i)));
    }
    net.run_uploads(Duration::from_secs(60));
    net.assert_uploads_delivered();
    let ids: BTreeSet<_> = net.app.streams.keys().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), streams as usize);
}

#[test]
fn ten_thousand_bidirectional_streams_reuse_stream_credit_as_they_close() {
    // 10,000 bidirectional streams of 100 bytes; the server finishes its half of each
    // once it read the client's, so each closes and MAX_STREAMS lets the next 100 in.
    let streams = 10_000u64;
    let mut net = Net::new(23, delay_ms(10));
    net.app.finish_bidi = true;
    let h = net.connect();
    for i in 0..streams {
        net.upload_on(h, Dir::Bi, Arc::new(pattern(100, i)));
    }
    net.run_uploads(Duration::from_secs(60));
    net.assert_uploads_delivered();
    // The client saw every stream's FIN from the server.
    net.run_until(
        |n| n.client_streams.values().filter(|(_, fin)| *fin).count() == streams as usize,
        Duration::from_secs(5),
    );
}

#[test]
fn one_endpoint_serves_a_thousand_connections() {
    // 1,000 connections from 10 client hosts (100 each, on their own links), each
    // uploading 500 to 599 bytes on one stream, all opened at once.
    let (hosts, per_host) = (10u64, 100u64);
    let mut net = Net::new(22, delay_ms(15));
    net.slice = Some(Duration::from_millis(5));
    let server_addr = net.server_addr;
    let mut expected = BTreeSet::new();
    for c in 0..hosts {
        let local = addr(&format!("10.1.{c}.1:4000"));
        let rng = net.sim.fork_rng();
        let host = net
            .sim
            .add_host(endpoint(EndpointConfig::default(), rng), &[local]);
        net.sim.duplex(local, server_addr, delay_ms(15));
        for i in 0..per_host {
            let n = c * per_host + i;
            let data = pattern(500 + (n % 100) as usize, n);
            let now = net.sim.now();
            let tls = net.client_tls.clone();
            let ep = net.sim.node_mut::<Endpoint>(host);
            let h = ep
                .connect(now, tls, "localhost", local, server_addr)
                .expect("connect");
            let conn = ep.connection(h).expect("connection");
            let s = conn.open(Dir::Bi).expect("open");
            assert_eq!(conn.write(s, &data).expect("write"), data.len());
            conn.finish(s).expect("finish");
            expected.insert(data);
        }
    }
    let conns = (hosts * per_host) as usize;
    net.run_until(|n| n.app.complete() == conns, Duration::from_secs(60));
    assert_eq!(net.app.accepted.len(), conns);
    let handles: BTreeSet<_> = net.app.streams.keys().map(|(h, _)| *h).collect();
    assert_eq!(handles.len(), conns, "one stream per connection");
    let got: BTreeSet<Vec<u8>> = net.app.streams.values().map(|(d, _)| d.clone()).collect();
    assert_eq!(got, expected, "every payload arrived byte-exact");
    assert_eq!(net.server_ep().connection_count(), conns);
}
