//! qlog traces started by the endpoint through a [`QlogFactory`]: both ends are logged
//! from their very first packet, including the client Initial that creates the server's
//! connection.
#![cfg(all(feature = "qlog", feature = "rustls", feature = "sim"))]

mod netutil;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netutil::{delay_ms, tls, Net};
use quic_conn::conn::Config;
use quic_conn::endpoint::EndpointConfig;
use quic_conn::qlog::file::{file_name, QlogDir, QlogFactory};
use quic_conn::qlog::{Qlog, TraceConfig};
use quic_wire::{ConnectionId, Instant, Side};
use serde_json::Value;

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

/// Keeps every trace it starts in memory, with the side and ODCID it was started for.
#[derive(Default)]
struct Memory(Mutex<Vec<(Side, ConnectionId, Shared)>>);

impl QlogFactory for Memory {
    fn start(&self, side: Side, odcid: &ConnectionId, now: Instant) -> Option<Qlog> {
        let out = Shared::default();
        let q = Qlog::start(out.clone(), &TraceConfig::connection(side, odcid), now).ok()?;
        self.0.lock().unwrap().push((side, *odcid, out));
        Some(q)
    }
}

fn events(out: &Shared) -> Vec<Value> {
    let bytes = out.0.lock().unwrap().clone();
    assert_eq!(bytes.first(), Some(&0x1e));
    bytes[1..]
        .split(|&b| b == 0x1e)
        .skip(1) // the header record
        .map(|rec| serde_json::from_slice(rec).expect("record is valid JSON"))
        .collect()
}

fn net_with(client: Arc<dyn QlogFactory>, server: Arc<dyn QlogFactory>) -> Net {
    let (client_tls, server_tls) = tls();
    Net::build_with_endpoints(
        7,
        delay_ms(10),
        delay_ms(10),
        EndpointConfig {
            qlog: Some(client),
            ..EndpointConfig::default()
        },
        EndpointConfig {
            connection: Config::default(),
            server_tls: Some(server_tls),
            qlog: Some(server),
            ..EndpointConfig::default()
        },
        client_tls,
    )
}

#[test]
fn the_server_trace_starts_with_the_clients_first_initial() {
    let (client_traces, server_traces) = (Arc::new(Memory::default()), Arc::new(Memory::default()));
    let mut net = net_with(client_traces.clone(), server_traces.clone());
    let h = net.connect();
    net.upload(h, Arc::new(vec![7u8; 20_000]));
    net.run_uploads(Duration::from_secs(10));
    net.assert_uploads_delivered();

    let clients = client_traces.0.lock().unwrap();
    let servers = server_traces.0.lock().unwrap();
    assert_eq!((clients.len(), servers.len()), (1, 1));
    let (client_side, client_odcid, client_out) = &clients[0];
    let (server_side, server_odcid, server_out) = &servers[0];
    assert_eq!((*client_side, *server_side), (Side::Client, Side::Server));
    // Both traces are grouped under the same original destination connection ID.
    assert_eq!(client_odcid, server_odcid);

    let server = events(server_out);
    assert_eq!(server[0]["name"], "quic:connection_started");
    let first_rx = server
        .iter()
        .find(|e| e["name"] == "quic:packet_received")
        .expect("server received packets");
    assert_eq!(first_rx["data"]["header"]["packet_type"], "initial");
    assert_eq!(first_rx["data"]["header"]["packet_number"], 0);
    assert!(first_rx["data"]["frames"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["frame_type"] == "crypto")));
    // Every packet the client sent is in its trace, and the server logged receiving its
    // first Initial before sending anything.
    let first_sent = server
        .iter()
        .position(|e| e["name"] == "quic:packet_sent")
        .expect("server sent packets");
    let first_recv = server
        .iter()
        .position(|e| e["name"] == "quic:packet_received")
        .unwrap();
    assert!(first_recv < first_sent);
    let client = events(client_out);
    assert_eq!(client[0]["name"], "quic:connection_started");
    let client_initials = client
        .iter()
        .filter(|e| {
            e["name"] == "quic:packet_sent" && e["data"]["header"]["packet_type"] == "initial"
        })
        .count();
    assert!(client_initials >= 1);
}

#[test]
fn qlog_dir_writes_one_file_per_connection_end() {
    let dir = std::env::temp_dir().join(format!("quic-conn-qlog-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let factory = Arc::new(QlogDir::new(&dir));
    let mut net = net_with(factory.clone(), factory.clone());
    let h = net.connect();
    net.upload(h, Arc::new(vec![1u8; 5_000]));
    net.run_uploads(Duration::from_secs(10));
    let odcid = net.client_ep().connection(h).expect("conn").original_dcid();
    // The traces are flushed when the connections close.
    let now = net.sim.now();
    net.client_ep()
        .connection(h)
        .expect("conn")
        .close(now, quic_wire::VarInt::from_u32(0), b"");
    net.run_for(Duration::from_secs(2));
    assert!(factory.take_error().is_none());
    for side in [Side::Client, Side::Server] {
        let path = dir.join(file_name(&odcid, side));
        let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.starts_with(&[0x1e]), "JSON-SEQ record separator");
        assert!(
            text.windows(b"quic:connection_closed".len())
                .any(|w| w == b"quic:connection_closed"),
            "{} has no close",
            path.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
