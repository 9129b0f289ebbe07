//! The JSON-SEQ writer: record framing (RFC 7464), the header record of the qlog main
//! schema (§5 QlogFileSeq, §6 VantagePoint, §7.1 timestamps, §7.3 CommonFields) and event
//! times in milliseconds since the reference instant.
#![cfg(feature = "qlog")]

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use quic_conn::qlog::events::connectivity::{ConnectionState, ConnectionStateUpdated};
use quic_conn::qlog::events::recovery::RecoveryMetricsUpdated;
use quic_conn::qlog::{relative_ms, Qlog, QlogStreamer, TraceConfig, VantagePointType};
use quic_wire::{ConnectionId, Instant, Side};
use serde_json::{json, Value};

/// Splits a JSON-SEQ text into records, checking the framing: every record starts with
/// 0x1E and ends with a line feed, and parses as JSON on its own.
fn records(bytes: &[u8]) -> Vec<Value> {
    assert_eq!(
        bytes.first(),
        Some(&0x1e),
        "file must start with a record separator"
    );
    bytes[1..]
        .split(|&b| b == 0x1e)
        .map(|rec| {
            assert_eq!(rec.last(), Some(&b'\n'), "record must end with a newline");
            serde_json::from_slice(rec).expect("record is valid JSON")
        })
        .collect()
}

fn odcid() -> ConnectionId {
    ConnectionId::new(&[0x12, 0x7e, 0xcc, 0x83]).unwrap()
}

fn state(new: ConnectionState) -> ConnectionStateUpdated {
    ConnectionStateUpdated { old: None, new }
}

#[test]
fn trace_is_json_seq_with_one_record_per_event() {
    let config = TraceConfig::connection(Side::Client, &odcid());
    let mut s = QlogStreamer::new(Vec::new(), &config, Instant::ZERO).unwrap();
    s.log(
        Instant::from_nanos(1_000_000),
        &state(ConnectionState::Attempted),
    )
    .unwrap();
    s.log(
        Instant::from_nanos(2_000_000),
        &state(ConnectionState::HandshakeComplete),
    )
    .unwrap();
    let out = s.into_inner();
    let recs = records(&out);
    assert_eq!(recs.len(), 3);
    assert_eq!(out.iter().filter(|&&b| b == 0x1e).count(), 3);
    assert_eq!(recs[1]["name"], "quic:connection_state_updated");
    assert_eq!(recs[2]["data"], json!({"new": "handshake_complete"}));
}

#[test]
fn header_has_the_fields_the_main_schema_requires() {
    let mut config = TraceConfig::connection(Side::Server, &odcid());
    config.title = Some("t".into());
    config.description = Some("d".into());
    config.compat_fields = false;
    let s = QlogStreamer::new(Vec::new(), &config, Instant::ZERO).unwrap();
    let out = s.into_inner();
    // file_schema and serialization_format within the first 256 bytes (§4).
    let head = String::from_utf8_lossy(&out[..out.len().min(256)]).into_owned();
    assert!(head.contains("\"file_schema\":\"urn:ietf:params:qlog:file:sequential\""));
    assert!(head.contains("\"serialization_format\":\"application/qlog+json-seq\""));
    let header = &records(&out)[0];
    assert_eq!(
        header,
        &json!({
            "file_schema": "urn:ietf:params:qlog:file:sequential",
            "serialization_format": "application/qlog+json-seq",
            "title": "t",
            "description": "d",
            "trace": {
                "common_fields": {
                    "group_id": "127ecc83",
                    "time_format": "relative_to_epoch",
                    "reference_time": {"clock_type": "monotonic", "epoch": "unknown"},
                },
                "vantage_point": {"type": "server"},
                "event_schemas": [
                    "urn:ietf:params:qlog:events:quic-13",
                    "urn:ietf:params:qlog:events:http3-13",
                ],
            },
        })
    );
    // A sequential file has a single trace and no "events" array.
    assert!(header.get("traces").is_none());
    assert!(header["trace"].get("events").is_none());
}

#[test]
fn compat_fields_add_the_older_header_keys() {
    let mut config = TraceConfig::connection(Side::Client, &odcid());
    config.http3 = false;
    config.wall_clock_time = Some("2026-11-22T00:00:00.000Z".into());
    let out = QlogStreamer::new(Vec::new(), &config, Instant::ZERO)
        .unwrap()
        .into_inner();
    let header = &records(&out)[0];
    assert_eq!(header["qlog_version"], "0.3");
    assert_eq!(header["qlog_format"], "JSON-SEQ");
    let common = &header["trace"]["common_fields"];
    assert_eq!(common["protocol_types"], json!(["QUIC"]));
    assert_eq!(
        common["reference_time"]["wall_clock_time"],
        "2026-11-22T00:00:00.000Z"
    );
    assert_eq!(header["trace"]["vantage_point"]["type"], "client");
    assert_eq!(
        header["trace"]["event_schemas"],
        json!(["urn:ietf:params:qlog:events:quic-13"])
    );
}

#[test]
fn event_time_is_milliseconds_since_the_reference_instant() {
    let reference = Instant::from_nanos(5_000_000_000);
    assert_eq!(relative_ms(reference, reference), 0.0);
    assert_eq!(
        relative_ms(reference, Instant::from_nanos(5_001_500_000)),
        1.5
    );
    assert_eq!(
        relative_ms(reference, Instant::from_nanos(5_000_000_001)),
        0.000001
    );
    assert_eq!(
        relative_ms(reference, Instant::from_nanos(8_000_000_000)),
        3000.0
    );
    // Before the reference: clamped to zero rather than negative.
    assert_eq!(relative_ms(reference, Instant::from_nanos(1)), 0.0);

    let config = TraceConfig::connection(Side::Client, &odcid());
    let mut s = QlogStreamer::new(Vec::new(), &config, reference).unwrap();
    s.log(
        Instant::from_nanos(5_012_345_678),
        &state(ConnectionState::Closed),
    )
    .unwrap();
    let recs = records(&s.into_inner());
    assert_eq!(recs[1]["time"].as_f64().unwrap(), 12.345678);
}

#[test]
fn tuple_field_is_written_only_when_given() {
    let config = TraceConfig::connection(Side::Client, &odcid());
    let mut s = QlogStreamer::new(Vec::new(), &config, Instant::ZERO).unwrap();
    s.log_on_tuple(Instant::ZERO, "path-1", &state(ConnectionState::Attempted))
        .unwrap();
    s.log(Instant::ZERO, &state(ConnectionState::Attempted))
        .unwrap();
    let recs = records(&s.into_inner());
    assert_eq!(recs[1]["tuple"], "path-1");
    assert!(recs[2].get("tuple").is_none());
}

/// A writer shared with the test, to look at what a boxed `Qlog` wrote.
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

#[test]
fn disabled_qlog_never_builds_events() {
    let mut qlog = Qlog::disabled();
    assert!(!qlog.enabled());
    let mut built = false;
    qlog.emit(Instant::ZERO, || {
        built = true;
        state(ConnectionState::Attempted)
    });
    qlog.with(|_| panic!("must not run when disabled"));
    assert!(!built);
}

#[test]
fn enabled_qlog_writes_emitted_events() {
    let sink = Shared::default();
    let config = TraceConfig::connection(Side::Client, &odcid());
    let mut qlog = Qlog::start(sink.clone(), &config, Instant::ZERO).unwrap();
    assert!(qlog.enabled());
    qlog.emit(Instant::from_nanos(3_000_000), || RecoveryMetricsUpdated {
        smoothed_rtt: Some(25.5),
        ..Default::default()
    });
    qlog.with(|s| {
        s.log(
            Instant::from_nanos(4_000_000),
            &state(ConnectionState::Closed),
        )
    });
    qlog.flush();
    let recs = records(&sink.0.lock().unwrap());
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1]["name"], "quic:recovery_metrics_updated");
    assert_eq!(recs[1]["time"].as_f64().unwrap(), 3.0);
    assert_eq!(recs[1]["data"], json!({"smoothed_rtt": 25.5}));
    assert_eq!(recs[2]["time"].as_f64().unwrap(), 4.0);
}

/// Accepts the header, then fails every write.
struct FailAfterHeader(bool);

impl Write for FailAfterHeader {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if std::mem::replace(&mut self.0, true) {
            Err(io::Error::other("disk full"))
        } else {
            Ok(buf.len())
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_error_turns_logging_off_and_is_kept() {
    let config = TraceConfig::connection(Side::Client, &odcid());
    let mut qlog = Qlog::start(FailAfterHeader(false), &config, Instant::ZERO).unwrap();
    assert!(qlog.enabled());
    qlog.emit(Instant::ZERO, || state(ConnectionState::Attempted));
    assert!(!qlog.enabled());
    assert_eq!(qlog.take_error().unwrap().to_string(), "disk full");
    assert!(qlog.take_error().is_none());
}

#[test]
fn vantage_point_follows_the_side() {
    assert_eq!(
        VantagePointType::from(Side::Client),
        VantagePointType::Client
    );
    assert_eq!(
        VantagePointType::from(Side::Server),
        VantagePointType::Server
    );
}

#[test]
fn file_name_is_odcid_and_vantage_point() {
    use quic_conn::qlog::file::file_name;
    assert_eq!(file_name(&odcid(), Side::Client), "127ecc83_client.sqlog");
    assert_eq!(file_name(&odcid(), Side::Server), "127ecc83_server.sqlog");
}

#[test]
fn trace_written_to_a_directory_is_readable_after_drop() {
    let dir = std::env::temp_dir().join(format!("quic-conn-qlog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    {
        let mut qlog = Qlog::create_in_dir(&dir, Side::Server, &odcid(), Instant::ZERO).unwrap();
        qlog.emit(Instant::from_nanos(1_000_000), || {
            state(ConnectionState::Attempted)
        });
    }
    let path = dir.join("127ecc83_server.sqlog");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let recs = records(&bytes);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["trace"]["vantage_point"]["type"], "server");
    assert_eq!(recs[1]["data"]["new"], "attempted");
}

#[test]
fn qlog_handle_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Qlog>();
}

#[test]
fn endpoint_trace_has_no_group_id() {
    let out = QlogStreamer::new(
        Vec::new(),
        &TraceConfig::endpoint(Side::Server),
        Instant::ZERO,
    )
    .unwrap()
    .into_inner();
    let header = &records(&out)[0];
    assert!(header["trace"]["common_fields"].get("group_id").is_none());
    assert_eq!(header["trace"]["vantage_point"]["type"], "server");
}
