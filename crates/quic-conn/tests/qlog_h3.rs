//! HTTP/3 events serialize with the names and fields of the qlog HTTP/3 events draft.
#![cfg(feature = "qlog")]

use bytes::Bytes;
use quic_conn::qlog::events::h3::*;
use quic_conn::qlog::types::RawInfo;
use quic_conn::qlog::{Event, Initiator, QlogStreamer, TraceConfig};
use quic_streams::h3::frame::Frame;
use quic_streams::h3::settings::Settings;
use quic_streams::h3::stream_type::UniStreamType;
use quic_streams::h3::Field;
use quic_wire::{ConnectionId, Instant, Side};
use serde_json::{json, Value};

fn data<E: Event>(e: &E) -> Value {
    serde_json::to_value(e).unwrap()
}

fn field(name: &'static [u8], value: &'static [u8]) -> Field {
    Field {
        name: Bytes::from_static(name),
        value: Bytes::from_static(value),
        sensitive: false,
    }
}

#[test]
fn frame_created_with_headers_matches_the_draft() {
    let encoded = Frame::Headers(Bytes::from_static(&[0, 0, 0xd1, 0xd7]));
    let fields = [field(b":method", b"GET"), field(b":path", b"/index.html")];
    let event = FrameCreated {
        stream_id: 0,
        frame: Http3Frame::from_frame(&encoded, Some(&fields)),
    };
    let odcid = ConnectionId::new(&[9]).unwrap();
    let mut s = QlogStreamer::new(
        Vec::new(),
        &TraceConfig::connection(Side::Client, &odcid),
        Instant::ZERO,
    )
    .unwrap();
    s.log(Instant::from_nanos(2_000_000), &event).unwrap();
    let out = s.into_inner();
    let rec = out.split(|&b| b == 0x1e).nth(2).unwrap();
    let v: Value = serde_json::from_slice(rec).unwrap();
    assert_eq!(
        v,
        json!({
            "time": 2.0,
            "name": "http3:frame_created",
            "data": {
                "stream_id": 0,
                "frame": {
                    "frame_type": "headers",
                    "headers": [
                        {"name": ":method", "value": "GET"},
                        {"name": ":path", "value": "/index.html"},
                    ],
                    "raw": {"payload_length": 4},
                },
            },
        })
    );
}

#[test]
fn non_utf8_fields_are_logged_as_bytes() {
    let f = field(b"x-bin", &[0xff, 0x00]);
    assert_eq!(
        serde_json::to_value(HttpField::from(&f)).unwrap(),
        json!({"name": "x-bin", "value_bytes": "ff00"})
    );
}

#[test]
fn every_h3_frame_converts_to_its_frame_type() {
    let settings = Settings {
        qpack_max_table_capacity: 4096,
        qpack_blocked_streams: 16,
        max_field_section_size: Some(8192),
        other: vec![(0x33, 1), (0x21, 7), (0x1234, 5)],
    };
    let cases = [
        (
            Frame::Headers(Bytes::new()),
            json!({"frame_type": "headers", "headers": [], "raw": {"payload_length": 0}}),
        ),
        (
            Frame::CancelPush(3),
            json!({"frame_type": "cancel_push", "push_id": 3}),
        ),
        (
            Frame::Settings(settings),
            json!({"frame_type": "settings", "settings": [
                {"name": "settings_qpack_max_table_capacity", "value": 4096},
                {"name": "settings_max_field_section_size", "value": 8192},
                {"name": "settings_qpack_blocked_streams", "value": 16},
                {"name": "settings_h3_datagram", "value": 1},
                {"name": "reserved", "value": 7},
                {"name": "unknown", "name_bytes": 0x1234, "value": 5},
            ]}),
        ),
        (
            Frame::PushPromise {
                push_id: 1,
                field_section: Bytes::from_static(&[0, 0]),
            },
            json!({"frame_type": "push_promise", "push_id": 1, "headers": [],
                   "raw": {"payload_length": 2}}),
        ),
        (Frame::Goaway(8), json!({"frame_type": "goaway", "id": 8})),
        (
            Frame::MaxPushId(10),
            json!({"frame_type": "max_push_id", "push_id": 10}),
        ),
        (
            Frame::PriorityUpdate {
                push: false,
                id: 4,
                value: Bytes::from_static(b"u=5, i"),
            },
            json!({"frame_type": "priority_update", "stream_id": 4,
                   "priority_field_value": "u=5, i"}),
        ),
        (
            Frame::PriorityUpdate {
                push: true,
                id: 2,
                value: Bytes::from_static(b"u=1"),
            },
            json!({"frame_type": "priority_update", "push_id": 2,
                   "priority_field_value": "u=1"}),
        ),
    ];
    for (frame, expected) in &cases {
        let v = serde_json::to_value(Http3Frame::from_frame(frame, None)).unwrap();
        assert_eq!(&v, expected, "{frame:?}");
    }
    assert_eq!(
        serde_json::to_value(Http3Frame::skipped(0x21, 3)).unwrap(),
        json!({"frame_type": "reserved", "frame_type_bytes": 0x21, "raw": {"payload_length": 3}})
    );
    assert_eq!(
        serde_json::to_value(Http3Frame::skipped(0x02, 0)).unwrap(),
        json!({"frame_type": "unknown", "frame_type_bytes": 2, "raw": {"payload_length": 0}})
    );
    assert_eq!(
        serde_json::to_value(Http3Frame::Data {
            raw: Some(RawInfo::payload_length(1000))
        })
        .unwrap(),
        json!({"frame_type": "data", "raw": {"payload_length": 1000}})
    );
}

#[test]
fn parameters_set_from_settings() {
    let s = Settings {
        qpack_max_table_capacity: 0,
        qpack_blocked_streams: 0,
        max_field_section_size: None,
        other: vec![(0x08, 1), (0x33, 1)],
    };
    assert_eq!(
        data(&Http3ParametersSet::from_settings(Initiator::Remote, &s)),
        json!({"initiator": "remote", "max_table_capacity": 0, "blocked_streams_count": 0,
               "extended_connect": 1, "h3_datagram": 1})
    );
    let restored = Http3ParametersRestored {
        max_field_section_size: Some(100),
        ..Default::default()
    };
    assert_eq!(data(&restored), json!({"max_field_section_size": 100}));
}

#[test]
fn stream_type_set_names_unidirectional_types() {
    let cases = [
        (
            UniStreamType::Control,
            json!({"initiator": "local", "stream_id": 2, "stream_type": "control"}),
        ),
        (
            UniStreamType::Push,
            json!({"initiator": "local", "stream_id": 2, "stream_type": "push"}),
        ),
        (
            UniStreamType::QpackEncoder,
            json!({"initiator": "local", "stream_id": 2, "stream_type": "qpack_encode"}),
        ),
        (
            UniStreamType::QpackDecoder,
            json!({"initiator": "local", "stream_id": 2, "stream_type": "qpack_decode"}),
        ),
        (
            UniStreamType::Reserved(0x21),
            json!({"initiator": "local", "stream_id": 2, "stream_type": "reserved"}),
        ),
        (
            UniStreamType::Unknown(0x54),
            json!({"initiator": "local", "stream_id": 2, "stream_type": "unknown",
                   "stream_type_bytes": 0x54}),
        ),
    ];
    for (ty, expected) in cases {
        assert_eq!(data(&StreamTypeSet::uni(Initiator::Local, 2, ty)), expected);
    }
}

#[test]
fn priority_datagram_and_push_events_serialize_as_specified() {
    let p = PriorityUpdated {
        stream_id: Some(0),
        push_id: None,
        old: Some("u=3"),
        new: "u=1, i",
        trigger: Some(PriorityTrigger::ClientSignalReceived),
        reason: Some(PriorityReason::ClientSignalOnly),
    };
    assert_eq!(
        data(&p),
        json!({"stream_id": 0, "old": "u=3", "new": "u=1, i",
               "trigger": "client_signal_received", "reason": "client_signal_only"})
    );
    let d = DatagramCreated {
        quarter_stream_id: 1,
        raw: Some(RawInfo::length(20)),
    };
    assert_eq!(
        data(&d),
        json!({"quarter_stream_id": 1, "raw": {"length": 20}})
    );
    let push = PushResolved {
        push_id: Some(3),
        stream_id: None,
        decision: PushDecision::Abandoned,
    };
    assert_eq!(data(&push), json!({"push_id": 3, "decision": "abandoned"}));
}

#[test]
fn http3_application_error_names_follow_rfc_9114_codes() {
    assert_eq!(application_error_name(0x100), Some("http_no_error"));
    assert_eq!(application_error_name(0x10b), Some("http_request_rejected"));
    assert_eq!(application_error_name(0x110), Some("http_version_fallback"));
    assert_eq!(application_error_name(0x10f), Some("http_connect_error"));
    // H3_MESSAGE_ERROR has no name in the draft's list.
    assert_eq!(application_error_name(0x10e), None);
    assert_eq!(application_error_name(0x111), None);
    assert_eq!(application_error_name(0x200), None); // QPACK: no qlog name
    assert_eq!(application_error_name(0), None);
}

#[test]
fn http3_event_names_match_the_draft() {
    assert_eq!(
        [
            Http3ParametersSet::NAME,
            Http3ParametersRestored::NAME,
            StreamTypeSet::NAME,
            PriorityUpdated::NAME,
            FrameCreated::NAME,
            FrameParsed::NAME,
            DatagramCreated::NAME,
            DatagramParsed::NAME,
            PushResolved::NAME,
        ],
        [
            "http3:parameters_set",
            "http3:parameters_restored",
            "http3:stream_type_set",
            "http3:priority_updated",
            "http3:frame_created",
            "http3:frame_parsed",
            "http3:datagram_created",
            "http3:datagram_parsed",
            "http3:push_resolved",
        ]
    );
}
