//! Flow control and stream limits through the pair.

use super::*;
use quic_wire::frame::StreamFrame;

#[test]
fn max_stream_data_and_max_data_follow_the_reader() {
    let mut p = Pair::new(4, 1000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    let data = [7u8; 3000];
    assert_eq!(p.c.write(id, &data).unwrap(), 3000);
    p.drive();
    // Only the window got through; the sender said it is blocked.
    assert_eq!(p.s.recv_state(id), Some(RecvState::Recv));
    let mut buf = [0u8; 4000];
    assert_eq!(p.s.read(id, &mut buf).unwrap().len, 1000);
    p.drive();
    assert_eq!(p.s.read(id, &mut buf).unwrap().len, 1000);
    p.drive();
    assert_eq!(p.s.read(id, &mut buf).unwrap().len, 1000);
    assert_eq!(p.c.stats(id).unwrap().bytes_sent, 3000);
}

#[test]
fn blocked_sender_sends_stream_data_blocked_and_data_blocked() {
    let mut p = Pair::new(4, 1000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.write(id, &[1u8; 1500]).unwrap();
    let mut recs = Vec::new();
    while let Some(pk) = p.packet(Side::Client, 1200) {
        recs.extend(pk.records);
    }
    assert_eq!(
        recs.iter()
            .filter(|r| **r == FrameRecord::StreamDataBlocked(id, 1000))
            .count(),
        1,
        "once per limit: {recs:?}"
    );
    // Connection level: 4 streams can use the 4000-byte window; a fifth is blocked.
    let mut p = Pair::new(8, 1000);
    let ids: Vec<_> = (0..5).map(|_| id_of(p.c.open(Dir::Uni).unwrap())).collect();
    for &i in &ids {
        p.c.write(i, &[2u8; 1000]).unwrap();
    }
    let mut recs = Vec::new();
    while let Some(pk) = p.packet(Side::Client, 1200) {
        recs.extend(pk.records);
    }
    assert!(recs.contains(&FrameRecord::DataBlocked(4000)), "{recs:?}");
}

#[test]
fn lost_max_data_is_sent_again() {
    let mut p = Pair::new(4, 1000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.write(id, &[1u8; 1000]).unwrap();
    p.drive();
    let mut buf = [0u8; 1000];
    p.s.read(id, &mut buf).unwrap();
    let pk = p.packet(Side::Server, 1200).unwrap();
    assert!(pk
        .records
        .iter()
        .any(|r| matches!(r, FrameRecord::MaxStreamData(..))));
    p.lose(Side::Server, &pk);
    let again = p.packet(Side::Server, 1200).unwrap();
    assert_eq!(again.records, pk.records);
}

#[test]
fn stopped_stream_still_counts_for_flow_control_and_returns_credit() {
    let mut p = Pair::new(4, 1000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.write(id, &[1u8; 800]).unwrap();
    p.drive();
    p.s.stop_sending(id, code(9)).unwrap();
    let f = Frame::Stream(StreamFrame {
        id,
        offset: 800,
        data: &[0; 300],
        fin: false,
        has_len: true,
    });
    let e = feed(&mut p.s, f).unwrap_err();
    assert_eq!(e.code, quic_wire::TransportErrorCode::FLOW_CONTROL_ERROR);
}

#[test]
fn stream_limit_is_replenished_over_100_000_open_close_cycles() {
    let mut p = Pair::new(8, 1000);
    let mut open = std::collections::VecDeque::new();
    let mut served = 0u32;
    for i in 0..100_000u32 {
        let r = p.c.open(Dir::Bi).unwrap();
        p.c.write(r, &i.to_be_bytes()).unwrap();
        p.c.finish(r).unwrap();
        open.push_back(r);
        p.drive();
        for e in p.events(Side::Server) {
            if let StreamEvent::Readable { id } = e {
                let (data, fin) = read_all(&mut p.s, id);
                assert!(fin);
                assert_eq!(data, served.to_be_bytes());
                served += 1;
                p.s.finish(id).unwrap();
            }
        }
        p.drive();
        p.events(Side::Client);
        while let Some(&r) = open.front() {
            let Some(id) = p.c.id_of(r) else { break };
            if read_all(&mut p.c, id).1 {
                open.pop_front();
            } else {
                break;
            }
        }
        p.drive();
    }
    assert_eq!(
        served, 100_000,
        "every stream was opened, carried data and closed"
    );
    assert_eq!(p.c.stream_count(), 0);
    assert_eq!(p.s.stream_count(), 0);
    assert_eq!(p.c.pending_count(), 0);
}

#[test]
fn streams_opened_past_the_limit_wait_then_start_in_order() {
    let mut p = Pair::new(1, 1000);
    let a = p.c.open(Dir::Uni).unwrap();
    let b = p.c.open(Dir::Uni).unwrap();
    let c = p.c.open(Dir::Uni).unwrap();
    assert!(matches!(a, StreamRef::Id(_)));
    let (StreamRef::Pending(pb), StreamRef::Pending(pc)) = (b, c) else {
        panic!("b and c wait");
    };
    p.c.write(b, b"second").unwrap();
    p.c.finish(b).unwrap();
    p.c.write(c, b"third").unwrap();
    p.c.finish(c).unwrap();
    let pk = p.packet(Side::Client, 1200).unwrap();
    assert!(pk
        .records
        .contains(&FrameRecord::StreamsBlocked(Dir::Uni, 1)));
    p.deliver(Side::Server, &pk).unwrap();
    p.ack(Side::Client, &pk);
    p.c.write(a, b"first").unwrap();
    p.c.finish(a).unwrap();
    p.drive();
    let a_id = id_of(a);
    assert_eq!(read_all(&mut p.s, a_id), (b"first".to_vec(), true));
    p.drive();
    let started: Vec<_> = p
        .events(Side::Client)
        .into_iter()
        .filter(|e| matches!(e, StreamEvent::Started { .. }))
        .collect();
    let b_id = uni(Side::Client, 1);
    assert_eq!(
        started,
        [StreamEvent::Started {
            pending: pb,
            id: b_id
        }]
    );
    assert_eq!(read_all(&mut p.s, b_id), (b"second".to_vec(), true));
    p.drive();
    let c_id = uni(Side::Client, 2);
    assert!(p.events(Side::Client).contains(&StreamEvent::Started {
        pending: pc,
        id: c_id
    }));
    assert_eq!(read_all(&mut p.s, c_id), (b"third".to_vec(), true));
}

#[test]
fn freed_streams_are_reused_without_their_data() {
    let mut p = Pair::new(8, 1000);
    for i in 0..50u32 {
        let r = p.c.open(Dir::Bi).unwrap();
        // Each request differs in length and content, so leftovers of an earlier stream
        // in a reused allocation would show.
        let msg: Vec<u8> = (0..(i % 7 + 1) * 100).map(|k| (k + i) as u8).collect();
        p.c.write(r, &msg).unwrap();
        p.c.finish(r).unwrap();
        p.drive();
        let mut got = None;
        for e in p.events(Side::Server) {
            if let StreamEvent::Readable { id } = e {
                let (data, fin) = read_all(&mut p.s, id);
                assert!(fin);
                got = Some(data);
                p.s.finish(id).unwrap();
            }
        }
        assert_eq!(got.as_deref(), Some(&msg[..]), "request {i}");
        p.drive();
        p.events(Side::Client);
        let id = p.c.id_of(r).unwrap();
        let (reply, fin) = read_all(&mut p.c, id);
        assert!(fin && reply.is_empty());
        p.drive();
        p.events(Side::Client);
        p.events(Side::Server);
        // Both ends keep a bounded number of freed allocations.
        assert!(p.c.recycled.len() <= crate::streams::RECYCLED_MAX);
        assert!(p.s.recycled.len() <= crate::streams::RECYCLED_MAX);
    }
    // Streams were freed, and kept for reuse.
    assert!(!p.c.recycled.is_empty() && !p.s.recycled.is_empty());
    assert_eq!(p.c.stream_count(), 0);
}

/// The pool of freed streams follows the number of live streams: while many streams are
/// open, the ones that close leave their allocations for the next ones, and once the
/// streams are gone the pool is back to its small size.
#[test]
fn the_freed_stream_pool_grows_with_live_streams_and_shrinks_with_them() {
    use crate::streams::{RECYCLED_MAX, RECYCLED_MIN};
    let wave = 120;
    assert!(2 * RECYCLED_MIN < wave && wave <= RECYCLED_MAX);
    let mut p = Pair::new(1000, 1000);
    let open = |p: &mut Pair, n: usize| -> Vec<_> {
        (0..n)
            .map(|_| {
                let r = p.c.open(Dir::Uni).unwrap();
                p.c.write(r, b"x").unwrap();
                r
            })
            .collect()
    };
    let settle = |p: &mut Pair| {
        for _ in 0..3 {
            p.drive();
            p.events(Side::Server);
            p.events(Side::Client);
        }
    };
    let first = open(&mut p, wave);
    // Half of them end: with the other half still live, all of their allocations stay.
    for &r in &first[..wave / 2] {
        p.c.finish(r).unwrap();
    }
    settle(&mut p);
    assert_eq!(p.c.stream_count(), wave / 2);
    assert_eq!(p.c.recycled.len(), wave / 2, "one kept per live stream");
    // The next half-wave takes them all.
    let second = open(&mut p, wave / 2);
    assert!(p.c.recycled.is_empty());
    // Everything ends: the pool shrinks back with the live streams.
    for &r in first[wave / 2..].iter().chain(&second) {
        p.c.finish(r).unwrap();
    }
    settle(&mut p);
    assert_eq!(p.c.stream_count(), 0);
    assert_eq!(p.c.recycled.len(), RECYCLED_MIN);
    assert!(p.c.recycled.capacity() <= 2 * RECYCLED_MIN);
}

#[test]
fn copying_writes_stop_at_the_peer_credit_and_resume_when_it_grows() {
    // The peer allows 100 000 bytes per stream; our send buffer would take more.
    let mut p = Pair::new(8, 100_000);
    assert!(p.c.ideal_send_buffer() > 100_000);
    let a = id_of(p.c.open(Dir::Uni).unwrap());
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let first = p.c.write(a, &data).unwrap();
    assert_eq!(first, 100_000, "the buffer stops at the credit");
    assert_eq!(
        p.c.write(a, &data[first..]).unwrap(),
        0,
        "full: would block"
    );
    // The data goes out and is acknowledged; the server reads it, which gives more
    // credit (MAX_STREAM_DATA), and the client is told it may write again.
    p.drive();
    let (got, fin) = read_all(&mut p.s, a);
    assert!(!fin);
    assert_eq!(got, data[..first]);
    p.drive();
    let writable = p
        .events(Side::Client)
        .into_iter()
        .any(|e| e == StreamEvent::Writable { id: a });
    assert!(writable, "Writable after more credit");
    let second = p.c.write(a, &data[first..]).unwrap();
    assert!(second > 0 && second <= 100_000, "{second}");
}

#[test]
fn a_stream_without_credit_still_buffers_a_little() {
    // Before the peer's limits are known nothing may be sent, but writes are taken up to
    // CREDITLESS_BUFFER.
    let mut c = Streams::new(Side::Client, config(8, 1_000_000));
    let r = c.open(Dir::Bi).unwrap();
    let data = std::vec![9u8; 200_000];
    let n = c.write(r, &data).unwrap();
    assert_eq!(
        n as u64,
        crate::CREDITLESS_BUFFER.min(c.config().send_buffer)
    );
    // Once the limits arrive, the stream has credit and is told it may write more.
    c.set_peer_limits(limits(8, 1_000_000));
    let events: Vec<_> = core::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, StreamEvent::Writable { .. })),
        "{events:?}"
    );
    assert!(c.write(r, &data[n..]).unwrap() > 0);
}

/// Acknowledging consecutive STREAM frames of a stream as one range (what a connection
/// does for the packets one ACK frame covers) leaves the streams exactly as acknowledging
/// each frame does: the same data released, the same streams finished and freed, the same
/// last zero-copy acknowledgement; only intermediate `Acked` events are merged.
#[test]
fn acknowledging_a_merged_range_equals_acknowledging_each_frame() {
    type Outcome = (Vec<StreamEvent>, usize, Vec<(StreamId, u64)>);
    fn run(merge: bool) -> (Outcome, usize) {
        let mut p = Pair::new(8, 100_000);
        let a = id_of(p.c.open(Dir::Uni).unwrap());
        let b = id_of(p.c.open(Dir::Uni).unwrap());
        let big: Vec<u8> = (0..9_000u32).map(|i| (i % 253) as u8).collect();
        p.c.write(a, &big).unwrap();
        p.c.finish(a).unwrap();
        p.c.write_bytes(b, Bytes::from(std::vec![5u8; 4_000]))
            .unwrap();
        p.c.finish(b).unwrap();
        let mut packets = Vec::new();
        while let Some(pk) = p.packet(Side::Client, 1200) {
            p.deliver(Side::Server, &pk).unwrap();
            packets.push(pk);
        }
        assert!(packets.len() > 8, "{} packets", packets.len());
        let now = p.now;
        // The records of every packet, in order, as one ACK frame would hand them over.
        let records: Vec<FrameRecord> = packets.iter().flat_map(|pk| pk.records.clone()).collect();
        let mut calls = 0;
        if merge {
            let mut pending: Option<(StreamId, u64, u64, bool)> = None;
            for r in records {
                match r {
                    FrameRecord::Stream {
                        id,
                        offset,
                        len,
                        fin,
                    } => {
                        if let Some(q) = pending.as_mut() {
                            if q.0 == id && !q.3 && q.1 + q.2 == offset {
                                q.2 += u64::from(len);
                                q.3 = fin;
                                continue;
                            }
                        }
                        if let Some((id, o, l, f)) = pending.take() {
                            p.c.on_stream_data_acked(id, o, l, f, now);
                            calls += 1;
                        }
                        pending = Some((id, offset, u64::from(len), fin));
                    }
                    other => {
                        if let Some((id, o, l, f)) = pending.take() {
                            p.c.on_stream_data_acked(id, o, l, f, now);
                            calls += 1;
                        }
                        p.c.on_frame_acked(other, now);
                        calls += 1;
                    }
                }
            }
            if let Some((id, o, l, f)) = pending.take() {
                p.c.on_stream_data_acked(id, o, l, f, now);
                calls += 1;
            }
        } else {
            for r in records {
                p.c.on_frame_acked(r, now);
                calls += 1;
            }
        }
        let events = p.events(Side::Client);
        let mut last_acked = Vec::new();
        let mut others = Vec::new();
        for e in events {
            match e {
                StreamEvent::Acked { id, offset } => {
                    last_acked.retain(|&(i, _)| i != id);
                    last_acked.push((id, offset));
                }
                e => others.push(e),
            }
        }
        last_acked.sort_by_key(|&(i, _)| i.into_inner());
        ((others, p.c.stream_count(), last_acked), calls)
    }
    let (each, each_calls) = run(false);
    let (merged, merged_calls) = run(true);
    assert_eq!(each, merged);
    assert!(
        merged_calls * 3 < each_calls,
        "{merged_calls} calls, not {each_calls}"
    );
    // Both streams were fully acknowledged, finished and freed.
    assert_eq!(each.1, 0);
    assert_eq!(
        each.2.len(),
        1,
        "the zero-copy stream reports its acknowledgement"
    );
    assert_eq!(each.2[0].1, 4_000);
}
