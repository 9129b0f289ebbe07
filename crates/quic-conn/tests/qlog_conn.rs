//! A connection's qlog trace: a handshake, a transfer with some loss and a close, written
//! to memory as JSON-SEQ and read back.
#![cfg(all(feature = "qlog", feature = "rustls"))]

mod util;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quic_conn::conn::Config;
use quic_conn::qlog::{Qlog, TraceConfig};
use quic_streams::StreamRef;
use quic_wire::{ConnectionId, Dir, Side, VarInt};
use serde_json::Value;
use util::{pattern, read_all, Pair};

/// A writer into a buffer the test keeps a handle on.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The records of a JSON-SEQ text, each parsed as JSON.
fn records(bytes: &[u8]) -> Vec<Value> {
    assert_eq!(bytes.first(), Some(&0x1e));
    bytes[1..]
        .split(|&b| b == 0x1e)
        .map(|rec| serde_json::from_slice(rec).expect("record is valid JSON"))
        .collect()
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["name"] == name).collect()
}

#[test]
fn client_trace_has_handshake_transfer_and_close() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let out = Shared::default();
    let odcid = ConnectionId::new(&[1, 2, 3, 4]).unwrap();
    let qlog = Qlog::start(
        out.clone(),
        &TraceConfig::connection(Side::Client, &odcid),
        pair.now,
    )
    .expect("start trace");
    pair.client.set_qlog(qlog);
    pair.connect();

    // A transfer client to server, with some datagrams lost on the way.
    pair.loss_percent = 5;
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("stream pending: {other:?}"),
    };
    let data = pattern(200_000);
    let (mut written, mut received) = (0, Vec::new());
    let mut fin = false;
    for _ in 0..20_000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
            if written == data.len() {
                pair.client.finish(id).expect("finish");
            }
        }
        pair.drive_bounded(20, Duration::from_secs(1));
        fin = read_all(pair.server(), id, &mut received);
        if fin {
            break;
        }
    }
    assert!(fin && received == data, "transfer incomplete");
    pair.loss_percent = 0;
    pair.drive_bounded(1_000, Duration::from_millis(200));

    let now = pair.now;
    pair.client.close(now, VarInt::from_u32(7), b"bye");
    pair.drive_bounded(1_000, Duration::from_secs(5));

    let bytes = out.0.lock().unwrap().clone();
    let recs = records(&bytes);
    let events = &recs[1..];
    assert!(recs[0].get("trace").is_some(), "header record first");

    // Transport parameters: ours, then the server's.
    let params = named(events, "quic:parameters_set");
    assert_eq!(params.len(), 2);
    assert_eq!(params[0]["data"]["initiator"], "local");
    assert_eq!(params[1]["data"]["initiator"], "remote");
    assert!(params[1]["data"]["initial_max_data"].as_u64().is_some());

    let state = named(events, "quic:connection_state_updated");
    assert_eq!(state.len(), 1);
    assert_eq!(state[0]["data"]["new"], "handshake_complete");

    // The trace opens with the connection's addresses and IDs.
    assert_eq!(events[0]["name"], "quic:connection_started");
    let started = &events[0]["data"];
    assert_eq!(
        started["local"]["port_v4"].as_u64(),
        Some(u64::from(util::client_addr().port()))
    );
    assert_eq!(
        started["remote"]["port_v4"].as_u64(),
        Some(u64::from(util::server_addr().port()))
    );
    assert_eq!(
        started["local"]["connection_ids"].as_array().unwrap().len(),
        1
    );

    // Sent packets: numbers increase within each type, lengths are positive.
    let sent = named(events, "quic:packet_sent");
    // They list their frames: the first Initial carries the ClientHello and is padded
    // (RFC 9000 §14.1), 1-RTT packets carry the stream, the last packet the close.
    let frame_types = |e: &Value| -> Vec<String> {
        e["data"]["frames"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|f| f["frame_type"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(sent[0]["data"]["header"]["packet_type"], "initial");
    let first = frame_types(sent[0]);
    assert!(first.contains(&"crypto".to_owned()), "{first:?}");
    assert!(first.contains(&"padding".to_owned()), "{first:?}");
    assert!(sent
        .iter()
        .filter(|e| e["data"]["header"]["packet_type"] == "1RTT")
        .any(|e| frame_types(e).contains(&"stream".to_owned())));
    assert!(frame_types(sent.last().unwrap()).contains(&"connection_close".to_owned()));
    assert!(sent.iter().all(|e| !frame_types(e).is_empty()));
    for ty in ["initial", "handshake", "1RTT"] {
        let pns: Vec<u64> = sent
            .iter()
            .filter(|e| e["data"]["header"]["packet_type"] == ty)
            .map(|e| e["data"]["header"]["packet_number"].as_u64().unwrap())
            .collect();
        assert!(!pns.is_empty(), "no {ty} packet sent");
        assert!(pns.windows(2).all(|w| w[0] < w[1]), "{ty}: {pns:?}");
    }
    assert!(sent
        .iter()
        .all(|e| e["data"]["raw"]["length"].as_u64().unwrap() > 0));

    // Received packets carry their frames.
    let received = named(events, "quic:packet_received");
    assert!(received
        .iter()
        .any(|e| e["data"]["header"]["packet_type"] == "initial"));
    assert!(received.iter().any(|e| e["data"]["frames"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["frame_type"] == "ack"))));

    // ACKs update the recovery metrics.
    let metrics = named(events, "quic:recovery_metrics_updated");
    assert!(!metrics.is_empty());
    let m = &metrics.last().unwrap()["data"];
    assert!(m["smoothed_rtt"].as_f64().unwrap() > 0.0);
    assert!(m["min_rtt"].as_f64().unwrap() > 0.0);
    assert!(m["congestion_window"].as_u64().unwrap() > 0);
    assert!(m["bytes_in_flight"].as_u64().is_some());

    let lost = named(events, "quic:packet_lost");
    assert!(!lost.is_empty(), "5% loss but no packet_lost");
    assert!(lost[0]["data"]["header"]["packet_number"]
        .as_u64()
        .is_some());

    // The close comes once, after every other event but the CONNECTION_CLOSE packets.
    let closed = named(events, "quic:connection_closed");
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["data"]["initiator"], "local");
    assert_eq!(closed[0]["data"]["trigger"], "application");
    let at = events
        .iter()
        .position(|e| e["name"] == "quic:connection_closed")
        .unwrap();
    assert!(events[at + 1..]
        .iter()
        .all(|e| e["name"] == "quic:packet_sent" || e["name"] == "quic:packet_received"));
    // Event times never go backwards.
    let times: Vec<f64> = events.iter().map(|e| e["time"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn zero_rtt_packets_are_logged_as_0rtt_with_their_frames() {
    let (c, s) = util::tls_configs(0);
    let (c, s) = (c.with_early_data(), s.with_early_data());
    // A first connection leaves a ticket that allows early data.
    let mut first = Pair::with_tls(Config::default(), Config::default(), (c.clone(), s.clone()));
    first.connect();
    first.drive();

    let mut pair = Pair::seeded(Config::default(), Config::default(), (c, s), 1);
    assert!(pair.client.is_zero_rtt_active());
    let out = Shared::default();
    let odcid = pair.client.original_dcid();
    let qlog = Qlog::start(
        out.clone(),
        &TraceConfig::connection(Side::Client, &odcid),
        pair.now,
    )
    .expect("start trace");
    pair.client.set_qlog(qlog);
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("stream pending: {other:?}"),
    };
    pair.client
        .streams()
        .set_0rtt_allowed(id, true)
        .expect("allow 0-RTT");
    pair.client.write(id, b"early").expect("write");
    pair.client.finish(id).expect("finish");
    pair.connect();
    pair.drive();
    assert!(pair.client.is_zero_rtt_accepted());

    let bytes = out.0.lock().unwrap().clone();
    let recs = records(&bytes);
    let sent = named(&recs[1..], "quic:packet_sent");
    let early: Vec<_> = sent
        .iter()
        .filter(|e| e["data"]["header"]["packet_type"] == "0RTT")
        .collect();
    assert!(!early.is_empty(), "no 0RTT packet_sent");
    assert!(early.iter().any(|e| e["data"]["frames"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["frame_type"] == "stream"))));
    // 0-RTT packets share the application packet-number space with 1-RTT ones: numbers
    // keep increasing across both.
    let data_pns: Vec<u64> = sent
        .iter()
        .filter(|e| {
            let ty = &e["data"]["header"]["packet_type"];
            ty == "0RTT" || ty == "1RTT"
        })
        .map(|e| e["data"]["header"]["packet_number"].as_u64().unwrap())
        .collect();
    assert!(data_pns.windows(2).all(|w| w[0] < w[1]), "{data_pns:?}");
}
