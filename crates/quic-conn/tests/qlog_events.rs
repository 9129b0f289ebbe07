//! QUIC events serialize with the names, fields and value spellings of the qlog QUIC
//! events draft. Expected values are written by hand from the draft's CDDL.
#![cfg(feature = "qlog")]

use quic_conn::qlog::events::connectivity::*;
use quic_conn::qlog::events::data::*;
use quic_conn::qlog::events::recovery::*;
use quic_conn::qlog::events::security::*;
use quic_conn::qlog::events::transport::*;
use quic_conn::qlog::types::{Hex, PacketNumberSpace, PacketType, QuicVersion, RawInfo};
use quic_conn::qlog::{Event, Initiator, PacketHeader, QlogStreamer, QuicFrame, TraceConfig};
use quic_wire::cid::ResetToken;
use quic_wire::frame::StreamFrame;
use quic_wire::packet::{LongHeader, ShortHeader};
use quic_wire::{ConnectionId, Ecn, Frame, Instant, Side, StreamId, TransportParameters, VarInt};
use serde_json::{json, Value};

fn data<E: Event>(e: &E) -> Value {
    serde_json::to_value(e).unwrap()
}

/// Logs one event through a streamer and returns its whole record.
fn record<E: Event>(now_ns: u64, e: &E) -> Value {
    let cid = ConnectionId::new(&[1, 2]).unwrap();
    let config = TraceConfig::connection(Side::Client, &cid);
    let mut s = QlogStreamer::new(Vec::new(), &config, Instant::ZERO).unwrap();
    s.log(Instant::from_nanos(now_ns), e).unwrap();
    let out = s.into_inner();
    let last = out[..out.len() - 1]
        .iter()
        .rposition(|&b| b == 0x1e)
        .unwrap();
    serde_json::from_slice(&out[last + 1..]).unwrap()
}

fn cid(b: &[u8]) -> ConnectionId {
    ConnectionId::new(b).unwrap()
}

#[test]
fn packet_sent_with_frames_matches_the_draft() {
    let stream = Frame::Stream(StreamFrame {
        id: StreamId::from(VarInt::from_u32(0)),
        offset: 456,
        data: &[0; 10],
        fin: false,
        has_len: true,
    });
    let frames = [
        QuicFrame::from_frame(&stream),
        QuicFrame::from_frame(&Frame::Padding { len: 1200 }),
    ];
    let short = ShortHeader {
        dcid: cid(&[0xaa, 0xbb]),
        spin: false,
        key_phase: true,
    };
    let mut event = PacketSent::new(PacketHeader::short(&short, 123), &frames);
    event.raw = Some(RawInfo::length(1252));
    event.trigger = Some(PacketSentTrigger::PtoProbe);
    assert_eq!(
        record(7_000_000, &event),
        json!({
            "time": 7.0,
            "name": "quic:packet_sent",
            "data": {
                "header": {
                    "packet_type": "1RTT",
                    "packet_number": 123,
                    "spin_bit": false,
                    "key_phase_bit": true,
                    "dcil": 2,
                    "dcid": "aabb",
                },
                "frames": [
                    {"frame_type": "stream", "stream_id": 0, "offset": 456, "raw": {"length": 10}},
                    {"frame_type": "padding", "raw": {"length": 1200, "payload_length": 1200}},
                ],
                "raw": {"length": 1252},
                "trigger": "pto_probe",
            },
        })
    );
}

#[test]
fn long_header_packets_log_version_cids_and_token() {
    let lh = LongHeader {
        ty: quic_wire::PacketType::Initial,
        version: quic_wire::Version::V1,
        dcid: cid(&[0x83, 0x94, 0xc8, 0xf0]),
        scid: cid(&[]),
        token: b"tok",
    };
    let mut header = PacketHeader::long(&lh, 0);
    header.length = Some(1182);
    let event = PacketReceived::new(header, &[]);
    assert_eq!(
        data(&event),
        json!({
            "header": {
                "packet_type": "initial",
                "packet_number": 0,
                "token": {"raw": {"length": 3}},
                "length": 1182,
                "version": "00000001",
                "scil": 0,
                "dcil": 4,
                "scid": "",
                "dcid": "8394c8f0",
            },
            "frames": [],
        })
    );
    let spellings: Vec<Value> = [
        quic_wire::PacketType::Initial,
        quic_wire::PacketType::Handshake,
        quic_wire::PacketType::ZeroRtt,
        quic_wire::PacketType::OneRtt,
        quic_wire::PacketType::Retry,
        quic_wire::PacketType::VersionNegotiation,
    ]
    .into_iter()
    .map(|t| serde_json::to_value(PacketType::from(t)).unwrap())
    .collect();
    assert_eq!(
        spellings,
        json!([
            "initial",
            "handshake",
            "0RTT",
            "1RTT",
            "retry",
            "version_negotiation"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
}

#[test]
fn packets_acked_lists_space_and_numbers() {
    let event = PacketsAcked {
        packet_number_space: Some(PacketNumberSpace::from(quic_wire::Space::Data)),
        packet_numbers: Some(&[1, 2, 5]),
    };
    assert_eq!(
        record(1_500_000, &event),
        json!({
            "time": 1.5,
            "name": "quic:packets_acked",
            "data": {"packet_number_space": "application_data", "packet_numbers": [1, 2, 5]},
        })
    );
}

#[test]
fn recovery_metrics_updated_uses_the_draft_field_names() {
    let event = RecoveryMetricsUpdated {
        min_rtt: Some(10.0),
        smoothed_rtt: Some(12.5),
        latest_rtt: Some(11.0),
        rtt_variance: Some(2.25),
        pto_count: Some(1),
        congestion_window: Some(14720),
        bytes_in_flight: Some(2400),
        ssthresh: Some(100_000),
        packets_in_flight: Some(2),
        pacing_rate: Some(1_000_000),
    };
    assert_eq!(
        data(&event),
        json!({
            "min_rtt": 10.0, "smoothed_rtt": 12.5, "latest_rtt": 11.0, "rtt_variance": 2.25,
            "pto_count": 1, "congestion_window": 14720, "bytes_in_flight": 2400,
            "ssthresh": 100000, "packets_in_flight": 2, "pacing_rate": 1000000,
        })
    );
    let only_cwnd = RecoveryMetricsUpdated {
        congestion_window: Some(1),
        ..Default::default()
    };
    assert_eq!(data(&only_cwnd), json!({"congestion_window": 1}));
    assert!(RecoveryMetricsUpdated::default().is_empty());
    assert!(!only_cwnd.is_empty());
}

#[test]
fn parameters_set_from_transport_parameters() {
    let tp = TransportParameters {
        original_destination_connection_id: Some(cid(&[0xde, 0xad])),
        initial_source_connection_id: Some(cid(&[0xbe, 0xef])),
        stateless_reset_token: Some(ResetToken([0x11; 16])),
        max_idle_timeout_ms: VarInt::from_u32(30_000),
        initial_max_data: VarInt::from_u32(1 << 20),
        initial_max_streams_bidi: VarInt::from_u32(100),
        max_datagram_frame_size: Some(VarInt::from_u32(1200)),
        ..Default::default()
    };
    let event = ParametersSet::from_transport_parameters(Initiator::Remote, &tp);
    assert_eq!(
        data(&event),
        json!({
            "initiator": "remote",
            "original_destination_connection_id": "dead",
            "initial_source_connection_id": "beef",
            "stateless_reset_token": "11111111111111111111111111111111",
            "disable_active_migration": false,
            "max_idle_timeout": 30000,
            "max_udp_payload_size": 65527,
            "ack_delay_exponent": 3,
            "max_ack_delay": 25,
            "active_connection_id_limit": 2,
            "initial_max_data": 1048576,
            "initial_max_stream_data_bidi_local": 0,
            "initial_max_stream_data_bidi_remote": 0,
            "initial_max_stream_data_uni": 0,
            "initial_max_streams_bidi": 100,
            "initial_max_streams_uni": 0,
            "max_datagram_frame_size": 1200,
            "grease_quic_bit": false,
        })
    );
    let tls = ParametersSet {
        initiator: Some(Initiator::Local),
        tls_cipher: Some("AES_128_GCM_SHA256"),
        early_data_enabled: Some(false),
        ..Default::default()
    };
    assert_eq!(
        record(0, &tls)["data"],
        json!({"initiator": "local", "early_data_enabled": false,
               "tls_cipher": "AES_128_GCM_SHA256"})
    );
}

#[test]
fn connection_closed_names_transport_crypto_and_application_errors() {
    let mut idle = ConnectionClosed::transport(Initiator::Local, 0);
    idle.trigger = Some(ConnectionClosedTrigger::IdleTimeout);
    assert_eq!(
        record(0, &idle),
        json!({
            "time": 0.0,
            "name": "quic:connection_closed",
            "data": {"initiator": "local", "connection_error": "no_error",
                     "trigger": "idle_timeout"},
        })
    );
    assert_eq!(
        data(&ConnectionClosed::transport(Initiator::Remote, 0x012a)),
        json!({"initiator": "remote", "connection_error": "crypto_error_0x12a"})
    );
    assert_eq!(
        data(&ConnectionClosed::transport(Initiator::Remote, 0x11)),
        json!({"initiator": "remote", "connection_error": "unknown", "error_code": 17})
    );
    let mut app = ConnectionClosed::application(
        Initiator::Remote,
        0x0100,
        Some(quic_conn::qlog::events::h3::application_error_name),
    );
    app.reason = Some("bye".into());
    app.trigger = Some(ConnectionClosedTrigger::Application);
    assert_eq!(
        data(&app),
        json!({"initiator": "remote", "application_error": "http_no_error", "reason": "bye",
               "trigger": "application"})
    );
}

#[test]
fn connectivity_events_serialize_as_specified() {
    let started = ConnectionStarted {
        local: quic_conn::qlog::types::TupleEndpointInfo::from_addr(
            "127.0.0.1:4433".parse().unwrap(),
        ),
        remote: quic_conn::qlog::types::TupleEndpointInfo::from_addr("[::1]:443".parse().unwrap()),
    };
    assert_eq!(
        data(&started),
        json!({"local": {"ip_v4": "127.0.0.1", "port_v4": 4433},
               "remote": {"ip_v6": "::1", "port_v6": 443}})
    );
    let updated = ConnectionIdUpdated {
        initiator: Initiator::Remote,
        old: Some(Hex(cid(&[1]))),
        new: Some(Hex(cid(&[2, 3]))),
    };
    assert_eq!(
        data(&updated),
        json!({"initiator": "remote", "old": "01", "new": "0203"})
    );
    let states = ConnectionStateUpdated {
        old: Some(ConnectionState::HandshakeStarted),
        new: ConnectionState::HandshakeConfirmed,
    };
    assert_eq!(
        data(&states),
        json!({"old": "handshake_started", "new": "handshake_confirmed"})
    );
    let tuple = TupleAssigned {
        tuple_id: "1".into(),
        ..Default::default()
    };
    assert_eq!(data(&tuple), json!({"tuple_id": "1"}));
    let mtu = MtuUpdated {
        old: Some(1200),
        new: 1452,
        done: Some(true),
    };
    assert_eq!(data(&mtu), json!({"old": 1200, "new": 1452, "done": true}));
}

#[test]
fn transport_events_serialize_as_specified() {
    let versions = VersionInformation {
        server_versions: Some(vec![
            QuicVersion(quic_wire::Version::V2),
            QuicVersion(quic_wire::Version::V1),
        ]),
        client_versions: None,
        chosen_version: Some(QuicVersion(quic_wire::Version::V1)),
    };
    assert_eq!(
        data(&versions),
        json!({"server_versions": ["6b3343cf", "00000001"], "chosen_version": "00000001"})
    );
    let alpn = AlpnInformation {
        client_alpns: Some(vec![
            AlpnIdentifier::new(b"h3"),
            AlpnIdentifier::new(&[0xff]),
        ]),
        chosen_alpn: Some(AlpnIdentifier::new(b"h3")),
        ..Default::default()
    };
    assert_eq!(
        data(&alpn),
        json!({
            "client_alpns": [{"byte_value": "6833", "string_value": "h3"}, {"byte_value": "ff"}],
            "chosen_alpn": {"byte_value": "6833", "string_value": "h3"},
        })
    );
    let dropped = PacketDropped {
        header: Some(PacketHeader::new(PacketType::Handshake, None)),
        raw: Some(RawInfo::length(50)),
        datagram_payload_checksum: None,
        trigger: Some(PacketDroppedTrigger::KeyUnavailable),
    };
    assert_eq!(
        data(&dropped),
        json!({"header": {"packet_type": "handshake"}, "raw": {"length": 50},
               "trigger": "key_unavailable"})
    );
    let buffered = PacketBuffered {
        header: Some(PacketHeader::new(PacketType::OneRtt, None)),
        trigger: Some(PacketBufferedTrigger::KeysUnavailable),
        ..Default::default()
    };
    assert_eq!(
        data(&buffered),
        json!({"header": {"packet_type": "1RTT"}, "trigger": "keys_unavailable"})
    );
    assert_eq!(
        data(&UdpDatagramsSent::one(1200, Ecn::Ect0)),
        json!({"count": 1, "raw": [{"length": 1200}], "ecn": ["ECT(0)"]})
    );
    assert_eq!(
        data(&UdpDatagramsReceived::one(40, Ecn::NotEct)),
        json!({"count": 1, "raw": [{"length": 40}], "ecn": ["Not-ECT"]})
    );
    assert_eq!(
        data(&UdpDatagramDropped {
            raw: Some(RawInfo::length(3))
        }),
        json!({"raw": {"length": 3}})
    );
}

#[test]
fn stream_and_data_events_serialize_as_specified() {
    let state = StreamStateUpdated {
        stream_id: 4,
        stream_type: Some(quic_conn::qlog::types::StreamType::Bidirectional),
        old: Some(StreamState::Send),
        new: StreamState::DataSent,
        stream_side: StreamSide::Sending,
        trigger: Some(LocalOrRemote::Local),
    };
    assert_eq!(
        data(&state),
        json!({"stream_id": 4, "stream_type": "bidirectional", "old": "send",
               "new": "data_sent", "stream_side": "sending", "trigger": "local"})
    );
    let moved = StreamDataMoved {
        stream_id: Some(4),
        offset: Some(0),
        from: Some(DataLocation::Application),
        to: Some(DataLocation::Transport),
        additional_info: Some(DataMovedAdditionalInfo::FinSet),
        raw: Some(RawInfo::length(100)),
    };
    assert_eq!(
        data(&moved),
        json!({"stream_id": 4, "offset": 0, "from": "application", "to": "transport",
               "additional_info": "fin_set", "raw": {"length": 100}})
    );
    let dgram = DatagramDataMoved {
        from: Some(DataLocation::Network),
        to: Some(DataLocation::Transport),
        raw: Some(RawInfo::length(9)),
    };
    assert_eq!(
        data(&dgram),
        json!({"from": "network", "to": "transport", "raw": {"length": 9}})
    );
    let blocked = StreamDataBlockedUpdated {
        old: None,
        new: BlockedState::Blocked,
        stream_id: 8,
        reason: Some(BlockedReason::StreamFlowControl),
    };
    assert_eq!(
        data(&blocked),
        json!({"new": "blocked", "stream_id": 8, "reason": "stream_flow_control"})
    );
    let migration = MigrationStateUpdated {
        old: Some(MigrationState::ProbingSuccessful),
        new: MigrationState::MigrationComplete,
        tuple_id: Some("1".into()),
        tuple_remote: None,
        tuple_local: None,
    };
    assert_eq!(
        data(&migration),
        json!({"old": "probing_successful", "new": "migration_complete", "tuple_id": "1"})
    );
    let timer = TimerUpdated {
        timer_type: Some(TimerType::Pto),
        timer_id: None,
        packet_number_space: Some(PacketNumberSpace::Handshake),
        event_type: TimerEventType::Set,
        delta: Some(37.5),
    };
    assert_eq!(
        data(&timer),
        json!({"timer_type": "pto", "packet_number_space": "handshake", "event_type": "set",
               "delta": 37.5})
    );
    let frames = [QuicFrame::from_frame(&Frame::Ping)];
    let created = FramesCreated {
        frames: &frames,
        packet_numbers: Some(&[9]),
    };
    assert_eq!(
        data(&created),
        json!({"frames": [{"frame_type": "ping"}], "packet_numbers": [9]})
    );
}

#[test]
fn security_and_recovery_events_serialize_as_specified() {
    let key = KeyUpdated {
        key_type: KeyType::Client1RttSecret,
        old: None,
        new: None,
        key_phase: Some(1),
        trigger: Some(KeyTrigger::LocalUpdate),
    };
    assert_eq!(
        data(&key),
        json!({"key_type": "client_1rtt_secret", "key_phase": 1, "trigger": "local_update"})
    );
    let discarded = KeyDiscarded {
        key_type: KeyType::Server0RttSecret,
        key: Some(Hex(&[0xab][..])),
        key_phase: None,
        trigger: Some(KeyTrigger::Tls),
    };
    assert_eq!(
        data(&discarded),
        json!({"key_type": "server_0rtt_secret", "key": "ab", "trigger": "tls"})
    );
    let params = RecoveryParametersSet {
        reordering_threshold: Some(3),
        time_threshold: Some(1.125),
        timer_granularity: 1,
        initial_rtt: Some(333.0),
        max_datagram_size: Some(1200),
        initial_congestion_window: Some(12000),
        minimum_congestion_window: Some(2400),
        loss_reduction_factor: Some(0.5),
        persistent_congestion_threshold: Some(3),
    };
    assert_eq!(
        data(&params),
        json!({"reordering_threshold": 3, "time_threshold": 1.125, "timer_granularity": 1,
               "initial_rtt": 333.0, "max_datagram_size": 1200,
               "initial_congestion_window": 12000, "minimum_congestion_window": 2400,
               "loss_reduction_factor": 0.5, "persistent_congestion_threshold": 3})
    );
    let cc = CongestionStateUpdated {
        old: Some("slow_start".into()),
        new: "recovery".into(),
        trigger: None,
    };
    assert_eq!(data(&cc), json!({"old": "slow_start", "new": "recovery"}));
    let frames = [QuicFrame::from_frame(&Frame::HandshakeDone)];
    let lost = PacketLost {
        header: Some(PacketHeader::new(PacketType::OneRtt, Some(42))),
        frames: Some(&frames),
        is_mtu_probe_packet: None,
        trigger: Some(PacketLostTrigger::TimeThreshold),
    };
    assert_eq!(
        data(&lost),
        json!({"header": {"packet_type": "1RTT", "packet_number": 42},
               "frames": [{"frame_type": "handshake_done"}], "trigger": "time_threshold"})
    );
    assert_eq!(
        data(&MarkedForRetransmit { frames: &frames }),
        json!({"frames": [{"frame_type": "handshake_done"}]})
    );
    let ecn = EcnStateUpdated {
        old: Some(EcnState::Testing),
        new: EcnState::Capable,
    };
    assert_eq!(data(&ecn), json!({"old": "testing", "new": "capable"}));
}

/// The name of every QUIC event, as in the draft's "QUIC Events" table.
#[test]
fn quic_event_names_match_the_draft_table() {
    let names = [
        ServerListening::NAME,
        ConnectionStarted::NAME,
        ConnectionClosed::NAME,
        ConnectionIdUpdated::NAME,
        SpinBitUpdated::NAME,
        ConnectionStateUpdated::NAME,
        TupleAssigned::NAME,
        MtuUpdated::NAME,
        VersionInformation::NAME,
        AlpnInformation::NAME,
        ParametersSet::NAME,
        ParametersRestored::NAME,
        PacketSent::NAME,
        PacketReceived::NAME,
        PacketDropped::NAME,
        PacketBuffered::NAME,
        PacketsAcked::NAME,
        UdpDatagramsSent::NAME,
        UdpDatagramsReceived::NAME,
        UdpDatagramDropped::NAME,
        StreamStateUpdated::NAME,
        FramesCreated::NAME,
        FramesParsed::NAME,
        StreamDataMoved::NAME,
        DatagramDataMoved::NAME,
        ConnectionDataBlockedUpdated::NAME,
        StreamDataBlockedUpdated::NAME,
        DatagramDataBlockedUpdated::NAME,
        MigrationStateUpdated::NAME,
        TimerUpdated::NAME,
        KeyUpdated::NAME,
        KeyDiscarded::NAME,
        RecoveryParametersSet::NAME,
        RecoveryMetricsUpdated::NAME,
        CongestionStateUpdated::NAME,
        PacketLost::NAME,
        MarkedForRetransmit::NAME,
        EcnStateUpdated::NAME,
    ];
    let expected = [
        "quic:server_listening",
        "quic:connection_started",
        "quic:connection_closed",
        "quic:connection_id_updated",
        "quic:spin_bit_updated",
        "quic:connection_state_updated",
        "quic:tuple_assigned",
        "quic:mtu_updated",
        "quic:version_information",
        "quic:alpn_information",
        "quic:parameters_set",
        "quic:parameters_restored",
        "quic:packet_sent",
        "quic:packet_received",
        "quic:packet_dropped",
        "quic:packet_buffered",
        "quic:packets_acked",
        "quic:udp_datagrams_sent",
        "quic:udp_datagrams_received",
        "quic:udp_datagram_dropped",
        "quic:stream_state_updated",
        "quic:frames_created",
        "quic:frames_parsed",
        "quic:stream_data_moved",
        "quic:datagram_data_moved",
        "quic:connection_data_blocked_updated",
        "quic:stream_data_blocked_updated",
        "quic:datagram_data_blocked_updated",
        "quic:migration_state_updated",
        "quic:timer_updated",
        "quic:key_updated",
        "quic:key_discarded",
        "quic:recovery_parameters_set",
        "quic:recovery_metrics_updated",
        "quic:congestion_state_updated",
        "quic:packet_lost",
        "quic:marked_for_retransmit",
        "quic:ecn_state_updated",
    ];
    assert_eq!(names, expected);
}

#[test]
fn retry_and_version_negotiation_headers() {
    let retry = quic_wire::packet::RetryHeader {
        version: quic_wire::Version::V2,
        dcid: cid(&[1]),
        scid: cid(&[2, 2]),
        token: b"retry-token",
    };
    assert_eq!(
        serde_json::to_value(PacketHeader::retry(&retry)).unwrap(),
        json!({"packet_type": "retry", "token": {"type": "retry", "raw": {"length": 11}},
               "version": "6b3343cf", "scil": 2, "dcil": 1, "scid": "0202", "dcid": "01"})
    );
    // Version Negotiation: long header, version 0, DCID 1 byte, SCID 21 bytes (too long
    // for a v1 connection ID), then versions 1 and 2.
    let mut bytes = vec![0x80, 0, 0, 0, 0, 1, 0xaa, 21];
    bytes.extend([0xbb; 21]);
    bytes.extend([0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf]);
    let cfg = quic_wire::packet::ParseConfig::new(8);
    let (packet, _) = quic_wire::packet::Packet::parse(&bytes, &cfg).unwrap();
    let quic_wire::packet::Packet::VersionNegotiation(vn) = packet else {
        panic!("not a version negotiation packet: {packet:?}");
    };
    let versions: Vec<QuicVersion> = vn.versions().map(QuicVersion).collect();
    let mut event = PacketReceived::new(PacketHeader::version_negotiation(&vn), &[]);
    event.frames = None;
    event.supported_versions = Some(&versions);
    assert_eq!(
        data(&event),
        json!({
            "header": {"packet_type": "version_negotiation", "version": "00000000",
                       "scil": 21, "dcil": 1, "dcid": "aa"},
            "supported_versions": ["00000001", "6b3343cf"],
        })
    );
}
