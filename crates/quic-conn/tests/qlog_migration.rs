//! qlog `quic:migration_state_updated` events of a client that moves, and of one that
//! probes a path that never answers.
#![cfg(all(feature = "qlog", feature = "rustls"))]

mod util;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use quic_conn::conn::Config;
use quic_conn::qlog::{Qlog, TraceConfig};
use quic_wire::{ConnectionId, Side};
use serde_json::Value;
use util::Pair;

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

/// The `new` states of the migration events in a JSON-SEQ trace, with their local port.
fn migration_states(bytes: &[u8]) -> Vec<(String, u64)> {
    bytes[1..]
        .split(|&b| b == 0x1e)
        .map(|rec| serde_json::from_slice::<Value>(rec).expect("JSON"))
        .filter(|e| e["name"] == "quic:migration_state_updated")
        .map(|e| {
            let d = &e["data"];
            let port = d["tuple_local"]["port_v4"].as_u64().expect("local port");
            (d["new"].as_str().expect("state").to_string(), port)
        })
        .collect()
}

fn traced_pair() -> (Pair, Shared) {
    let mut pair = Pair::new(Config::default(), Config::default());
    let out = Shared::default();
    let odcid = ConnectionId::new(&[9; 8]).unwrap();
    let qlog = Qlog::start(
        out.clone(),
        &TraceConfig::connection(Side::Client, &odcid),
        pair.now,
    )
    .expect("trace");
    pair.client.set_qlog(qlog);
    pair.connect();
    (pair, out)
}

#[test]
fn a_move_is_traced_from_start_to_completion() {
    let (mut pair, out) = traced_pair();
    let moved: std::net::SocketAddr = "10.0.0.50:7000".parse().unwrap();
    let now = pair.now;
    pair.client.migrate_local_address(now, moved).expect("move");
    pair.client_seen_as = moved;
    pair.drive();
    let states = migration_states(&out.0.lock().unwrap());
    assert_eq!(
        states,
        [
            ("migration_started".to_string(), 7000),
            ("migration_complete".to_string(), 7000)
        ]
    );
}

#[test]
fn an_unanswered_probe_is_traced_as_abandoned() {
    let (mut pair, out) = traced_pair();
    let probe: std::net::SocketAddr = "10.0.0.60:8000".parse().unwrap();
    // Datagrams from the probed address never arrive.
    pair.filter = Some(Box::new(|to_server, d| to_server && d.len() >= 1200));
    let now = pair.now;
    pair.client
        .probe_local_address(now, probe, true)
        .expect("probe");
    pair.drive_until(10_000, |p| {
        p.client_events
            .iter()
            .any(|e| matches!(e, quic_conn::conn::Event::PathValidationFailed { .. }))
    });
    let states = migration_states(&out.0.lock().unwrap());
    assert_eq!(
        states,
        [
            ("probing_started".to_string(), 8000),
            ("probing_abandoned".to_string(), 8000)
        ]
    );
}
