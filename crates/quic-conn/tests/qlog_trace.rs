//! A short client trace built the way a connection would build it, checked record by
//! record: the file a tool such as qvis opens.
#![cfg(feature = "qlog")]

use quic_conn::qlog::events::connectivity::{ConnectionState, ConnectionStateUpdated};
use quic_conn::qlog::events::recovery::RecoveryMetricsUpdated;
use quic_conn::qlog::events::transport::{PacketReceived, PacketSent, PacketsAcked};
use quic_conn::qlog::types::PacketNumberSpace;
use quic_conn::qlog::{FrameOptions, PacketHeader, QlogStreamer, QuicFrame, TraceConfig};
use quic_wire::frame::FrameIter;
use quic_wire::packet::LongHeader;
use quic_wire::{ConnectionId, Frame, Instant, PacketType, Side, Version};
use serde_json::Value;

#[test]
fn handshake_trace_has_ordered_times_and_parsed_frames() {
    let odcid = ConnectionId::new(&[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]).unwrap();
    let scid = ConnectionId::new(&[0xc1]).unwrap();
    let t0 = Instant::from_nanos(10_000_000_000);
    let mut s = QlogStreamer::new(
        Vec::new(),
        &TraceConfig::connection(Side::Client, &odcid),
        t0,
    )
    .unwrap();

    let header = LongHeader {
        ty: PacketType::Initial,
        version: Version::V1,
        dcid: odcid,
        scid,
        token: &[],
    };
    let crypto = Frame::Crypto {
        offset: 0,
        data: &[0x01; 300],
    };
    let sent = [
        QuicFrame::from_frame(&crypto),
        QuicFrame::from_frame(&Frame::Padding { len: 880 }),
    ];
    s.log(t0, &PacketSent::new(PacketHeader::long(&header, 0), &sent))
        .unwrap();
    s.log(
        t0,
        &ConnectionStateUpdated {
            old: None,
            new: ConnectionState::Attempted,
        },
    )
    .unwrap();

    // The server's Initial payload: ACK of packet 0 (delay 0) and a CRYPTO frame.
    let payload = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x03, 0xaa, 0xbb, 0xcc,
    ];
    let opts = FrameOptions {
        ack_delay_exponent: Some(3),
        app_error_names: None,
    };
    let received: Vec<QuicFrame<'_>> = FrameIter::new(&payload, PacketType::Initial)
        .map(|f| QuicFrame::from_frame_with(&f.unwrap(), &opts))
        .collect();
    let server_header = LongHeader {
        ty: PacketType::Initial,
        version: Version::V1,
        dcid: scid,
        scid: ConnectionId::new(&[0x5e]).unwrap(),
        token: &[],
    };
    let t1 = Instant::from_nanos(10_031_250_000);
    s.log(
        t1,
        &PacketReceived::new(PacketHeader::long(&server_header, 0), &received),
    )
    .unwrap();
    s.log(
        t1,
        &PacketsAcked {
            packet_number_space: Some(PacketNumberSpace::Initial),
            packet_numbers: Some(&[0]),
        },
    )
    .unwrap();
    s.log(
        t1,
        &RecoveryMetricsUpdated {
            latest_rtt: Some(31.25),
            smoothed_rtt: Some(31.25),
            min_rtt: Some(31.25),
            rtt_variance: Some(15.625),
            ..Default::default()
        },
    )
    .unwrap();

    let out = s.into_inner();
    let text = String::from_utf8(out).unwrap();
    let recs: Vec<Value> = text
        .split('\u{1e}')
        .skip(1)
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert_eq!(recs.len(), 6);
    assert_eq!(
        recs[0]["trace"]["common_fields"]["group_id"],
        "8394c8f03e515708"
    );
    let names: Vec<&str> = recs[1..]
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "quic:packet_sent",
            "quic:connection_state_updated",
            "quic:packet_received",
            "quic:packets_acked",
            "quic:recovery_metrics_updated",
        ]
    );
    let times: Vec<f64> = recs[1..]
        .iter()
        .map(|r| r["time"].as_f64().unwrap())
        .collect();
    assert_eq!(times, [0.0, 0.0, 31.25, 31.25, 31.25]);
    let rx = &recs[3]["data"];
    assert_eq!(rx["frames"][0]["frame_type"], "ack");
    assert_eq!(rx["frames"][0]["ack_delay"], 0.0);
    assert_eq!(rx["frames"][0]["acked_ranges"], serde_json::json!([[0]]));
    assert_eq!(rx["frames"][1]["frame_type"], "crypto");
    assert_eq!(rx["frames"][1]["raw"]["length"], 3);
    assert_eq!(recs[1]["data"]["header"]["dcid"], "8394c8f03e515708");
    assert_eq!(recs[1]["data"]["frames"][1]["raw"]["payload_length"], 880);
}
