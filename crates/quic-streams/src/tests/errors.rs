//! Peer frames that break RFC 9000 rules, each with the exact error code and frame type.

use super::*;
use quic_wire::frame::StreamFrame;
use quic_wire::{FrameType, TransportErrorCode as Code};

fn server() -> Streams {
    let mut s = Streams::new(Side::Server, config(2, 1000));
    s.set_peer_limits(limits(2, 1000));
    s
}

fn stream(id: StreamId, offset: u64, data: &[u8], fin: bool) -> Frame<'_> {
    Frame::Stream(StreamFrame {
        id,
        offset,
        data,
        fin,
        has_len: true,
    })
}

fn err(st: &mut Streams, f: Frame<'_>) -> (Code, Option<FrameType>) {
    let e = feed(st, f).expect_err("the frame breaks a rule");
    (e.code, e.frame_type.map(|t| FrameType(t.0 & !7).max(t)))
}

fn code_of(st: &mut Streams, f: Frame<'_>) -> Code {
    feed(st, f).expect_err("the frame breaks a rule").code
}

#[test]
fn stream_frame_on_our_send_only_stream_is_a_stream_state_error() {
    let mut s = server();
    let ours = id_of(s.open(Dir::Uni).unwrap());
    let (c, ty) = err(&mut s, stream(ours, 0, b"x", false));
    assert_eq!(c, Code::STREAM_STATE_ERROR);
    assert_eq!(ty, Some(FrameType(0x0a)), "frame type is reported");
}

#[test]
fn frames_for_local_streams_not_yet_opened_are_stream_state_errors() {
    let mut s = server();
    let not_open = bidi(Side::Server, 0);
    assert_eq!(
        code_of(&mut s, stream(not_open, 0, b"x", false)),
        Code::STREAM_STATE_ERROR
    );
    let f = Frame::StopSending {
        id: not_open,
        error_code: code(1),
    };
    assert_eq!(code_of(&mut s, f), Code::STREAM_STATE_ERROR);
    let f = Frame::MaxStreamData {
        id: not_open,
        max: code(5),
    };
    assert_eq!(code_of(&mut s, f), Code::STREAM_STATE_ERROR);
    let f = Frame::StreamDataBlocked {
        id: not_open,
        limit: code(5),
    };
    assert_eq!(code_of(&mut s, f), Code::STREAM_STATE_ERROR);
    let f = Frame::ResetStream {
        id: not_open,
        error_code: code(1),
        final_size: code(0),
    };
    assert_eq!(code_of(&mut s, f), Code::STREAM_STATE_ERROR);
}

#[test]
fn reset_and_blocked_on_send_only_and_stop_and_max_on_receive_only_are_errors() {
    let mut s = server();
    let ours = id_of(s.open(Dir::Uni).unwrap());
    let theirs = uni(Side::Client, 0);
    let f = Frame::ResetStream {
        id: ours,
        error_code: code(1),
        final_size: code(0),
    };
    assert_eq!(code_of(&mut s, f), Code::STREAM_STATE_ERROR);
    let f = Frame::StreamDataBlocked {
        id: ours,
        limit: code(0),
    };
    assert_eq!(code_of(&mut s, f), Code::STREAM_STATE_ERROR);
    let f = Frame::StopSending {
        id: theirs,
        error_code: code(1),
    };
    assert_eq!(code_of(&mut s, f), Code::STREAM_STATE_ERROR);
    let f = Frame::MaxStreamData {
        id: theirs,
        max: code(10),
    };
    assert_eq!(code_of(&mut s, f), Code::STREAM_STATE_ERROR);
}

#[test]
fn opening_past_our_limit_is_a_stream_limit_error() {
    let mut s = server();
    feed(&mut s, stream(bidi(Side::Client, 1), 0, b"", false)).unwrap();
    let opened: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(
        opened,
        [
            StreamEvent::Opened {
                id: bidi(Side::Client, 0)
            },
            StreamEvent::Opened {
                id: bidi(Side::Client, 1)
            }
        ],
        "lower-numbered streams open too"
    );
    for f in [
        stream(bidi(Side::Client, 2), 0, b"", false),
        Frame::ResetStream {
            id: uni(Side::Client, 2),
            error_code: code(0),
            final_size: code(0),
        },
        Frame::StopSending {
            id: bidi(Side::Client, 2),
            error_code: code(0),
        },
        Frame::MaxStreamData {
            id: bidi(Side::Client, 5),
            max: code(0),
        },
        Frame::StreamDataBlocked {
            id: uni(Side::Client, 9),
            limit: code(0),
        },
    ] {
        assert_eq!(code_of(&mut s, f), Code::STREAM_LIMIT_ERROR, "{f:?}");
    }
}

#[test]
fn final_size_may_not_change_nor_be_exceeded() {
    let id = uni(Side::Client, 0);
    let mut s = server();
    feed(&mut s, stream(id, 0, b"abcd", true)).unwrap();
    assert_eq!(s.recv_state(id), Some(RecvState::DataRecvd));
    assert_eq!(
        code_of(&mut s, stream(id, 2, b"cdef", false)),
        Code::FINAL_SIZE_ERROR
    );
    assert_eq!(
        code_of(&mut s, stream(id, 0, b"abc", true)),
        Code::FINAL_SIZE_ERROR
    );
    let f = Frame::ResetStream {
        id,
        error_code: code(0),
        final_size: code(5),
    };
    assert_eq!(code_of(&mut s, f), Code::FINAL_SIZE_ERROR);
    // The same final size again is fine.
    feed(&mut s, stream(id, 0, b"abcd", true)).unwrap();

    let id = uni(Side::Client, 1);
    feed(&mut s, stream(id, 10, b"xy", false)).unwrap();
    assert_eq!(
        code_of(&mut s, stream(id, 0, b"abc", true)),
        Code::FINAL_SIZE_ERROR,
        "FIN below data received"
    );
    let f = Frame::ResetStream {
        id,
        error_code: code(0),
        final_size: code(11),
    };
    assert_eq!(
        code_of(&mut s, f),
        Code::FINAL_SIZE_ERROR,
        "reset below data received"
    );
}

#[test]
fn data_past_stream_or_connection_limit_is_a_flow_control_error() {
    let mut s = server();
    let big = [0u8; 1001];
    assert_eq!(
        code_of(&mut s, stream(bidi(Side::Client, 0), 0, &big, false)),
        Code::FLOW_CONTROL_ERROR
    );
    let f = Frame::ResetStream {
        id: bidi(Side::Client, 1),
        error_code: code(0),
        final_size: code(1001),
    };
    assert_eq!(code_of(&mut s, f), Code::FLOW_CONTROL_ERROR);

    // Connection window is 4000: four full streams fit, a fifth byte does not.
    let mut s = Streams::new(Side::Server, config(8, 1000));
    for i in 0..4 {
        feed(&mut s, stream(uni(Side::Client, i), 0, &big[..1000], false)).unwrap();
    }
    assert_eq!(
        code_of(&mut s, stream(uni(Side::Client, 4), 0, b"x", false)),
        Code::FLOW_CONTROL_ERROR
    );
    let f = Frame::ResetStream {
        id: uni(Side::Client, 5),
        error_code: code(0),
        final_size: code(1),
    };
    assert_eq!(code_of(&mut s, f), Code::FLOW_CONTROL_ERROR);
}

#[test]
fn changed_retransmitted_data_is_a_protocol_violation() {
    let mut s = server();
    let id = bidi(Side::Client, 0);
    feed(&mut s, stream(id, 0, b"hello", false)).unwrap();
    assert_eq!(
        code_of(&mut s, stream(id, 1, b"EL", false)),
        Code::PROTOCOL_VIOLATION
    );
}

#[test]
fn frames_for_closed_streams_are_ignored() {
    let mut p = Pair::new(4, 1000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.write(id, b"bye").unwrap();
    p.c.finish(id).unwrap();
    p.drive();
    assert_eq!(read_all(&mut p.s, id), (b"bye".to_vec(), true));
    assert_eq!(p.s.recv_state(id), None, "freed");
    feed(&mut p.s, stream(id, 0, b"bye", true)).unwrap();
    feed(
        &mut p.s,
        Frame::ResetStream {
            id,
            error_code: code(0),
            final_size: code(3),
        },
    )
    .unwrap();
    assert_eq!(p.s.stream_count(), 0);
}

#[test]
fn frames_that_are_not_stream_frames_are_left_to_the_connection() {
    let mut s = server();
    assert_eq!(feed(&mut s, Frame::Ping), Ok(false));
}
