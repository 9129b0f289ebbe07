//! Streams through their states: transfer, graceful and abortive shutdown, STOP_SENDING,
//! loss, zero-copy completion, priorities, 0-RTT.

use super::*;

#[test]
fn graceful_transfer_walks_both_state_machines_to_their_terminal_states() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Bi).unwrap());
    assert_eq!(p.c.send_state(id), Some(SendState::Ready));
    let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    assert_eq!(p.c.write(id, &data).unwrap(), 5000);
    p.c.finish(id).unwrap();
    let pk = p.packet(Side::Client, 1200).unwrap();
    assert_eq!(p.c.send_state(id), Some(SendState::Send));
    p.deliver(Side::Server, &pk).unwrap();
    assert_eq!(p.s.recv_state(id), Some(RecvState::Recv));
    let mut rest = Vec::new();
    while let Some(pk) = p.packet(Side::Client, 1200) {
        rest.push(pk);
    }
    assert_eq!(p.c.send_state(id), Some(SendState::DataSent));
    // FIN arrives first, then the data: Size Known, then Data Recvd.
    let last = rest.pop().unwrap();
    p.deliver(Side::Server, &last).unwrap();
    assert_eq!(p.s.recv_state(id), Some(RecvState::SizeKnown));
    for pk in &rest {
        p.deliver(Side::Server, pk).unwrap();
    }
    assert_eq!(p.s.recv_state(id), Some(RecvState::DataRecvd));
    assert!(p
        .events(Side::Server)
        .contains(&StreamEvent::Readable { id }));
    assert_eq!(read_all(&mut p.s, id), (data, true));
    assert_eq!(p.s.recv_state(id), Some(RecvState::DataRead));
    p.ack(Side::Client, &pk);
    for pk in rest.iter().chain([&last]) {
        p.ack(Side::Client, pk);
    }
    assert_eq!(p.c.send_state(id), Some(SendState::DataRecvd));
    assert!(p
        .events(Side::Client)
        .contains(&StreamEvent::Finished { id }));
    assert_eq!(p.c.stream_count(), 1, "the receiving half is still open");
}

#[test]
fn bidi_stream_is_freed_once_both_halves_are_terminal() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Bi).unwrap());
    p.c.write(id, b"ping").unwrap();
    p.c.finish(id).unwrap();
    p.drive();
    assert!(p
        .events(Side::Client)
        .contains(&StreamEvent::Finished { id }));
    assert_eq!(p.c.send_state(id), Some(SendState::DataRecvd));
    assert_eq!(read_all(&mut p.s, id), (b"ping".to_vec(), true));
    p.s.write(id, b"pong").unwrap();
    p.s.finish(id).unwrap();
    p.drive();
    assert_eq!(read_all(&mut p.c, id), (b"pong".to_vec(), true));
    assert_eq!(p.c.stream_count(), 0);
    assert_eq!(p.s.stream_count(), 0);
    let closed = p.events(Side::Client).into_iter().find_map(|e| match e {
        StreamEvent::Closed { id: i, stats } if i == id => Some(stats),
        _ => None,
    });
    let stats = closed.expect("closed event with stats");
    assert_eq!((stats.bytes_sent, stats.bytes_received), (4, 4));
    assert!(stats.first_sent.is_some() && stats.last_received.is_some());
}

#[test]
fn reset_drops_data_and_walks_reset_sent_to_reset_recvd_and_reset_read() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.write(id, &[5u8; 3000]).unwrap();
    let first = p.packet(Side::Client, 1200).unwrap();
    p.c.reset(id, code(77)).unwrap();
    assert_eq!(p.c.send_state(id), Some(SendState::ResetSent));
    assert_eq!(p.c.write(id, b"more"), Err(StreamError::Closed));
    let pk = p.packet(Side::Client, 1200).unwrap();
    assert_eq!(
        pk.records,
        [FrameRecord::ResetStream(id)],
        "no data after reset"
    );
    p.deliver(Side::Server, &first).unwrap();
    p.deliver(Side::Server, &pk).unwrap();
    assert_eq!(p.s.recv_state(id), Some(RecvState::ResetRecvd));
    p.ack(Side::Client, &pk);
    assert_eq!(p.c.send_state(id), None, "Reset Recvd is terminal: freed");
    let mut buf = [0u8; 10];
    assert_eq!(p.s.read(id, &mut buf), Err(StreamError::Reset(code(77))));
    assert_eq!(p.s.recv_state(id), None, "Reset Read is terminal: freed");
}

#[test]
fn reset_event_counts_as_reading_the_reset() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.write(id, b"abc").unwrap();
    p.drive();
    p.c.reset(id, code(3)).unwrap();
    p.drive();
    let ev = p.events(Side::Server);
    assert!(
        ev.contains(&StreamEvent::Reset {
            id,
            error_code: code(3)
        }),
        "{ev:?}"
    );
    assert_eq!(p.s.stream_count(), 0);
}

#[test]
fn stop_sending_is_answered_with_reset_stream_carrying_its_code() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Bi).unwrap());
    p.c.write(id, b"unwanted").unwrap();
    p.drive();
    p.s.stop_sending(id, code(42)).unwrap();
    let pk = p.packet(Side::Server, 1200).unwrap();
    assert!(pk.records.contains(&FrameRecord::StopSending(id)));
    p.deliver(Side::Client, &pk).unwrap();
    assert!(p.events(Side::Client).contains(&StreamEvent::Stopped {
        id,
        error_code: code(42)
    }));
    assert_eq!(p.c.write(id, b"x"), Err(StreamError::Stopped(code(42))));
    assert_eq!(p.c.send_state(id), Some(SendState::ResetSent));
    let reply = p.packet(Side::Client, 1200).unwrap();
    assert!(reply.records.contains(&FrameRecord::ResetStream(id)));
    p.deliver(Side::Server, &reply).unwrap();
    assert_eq!(
        p.s.recv_state(id),
        Some(RecvState::ResetRead),
        "stopped reader needs no telling"
    );
}

#[test]
fn lost_data_is_retransmitted_from_the_buffer() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    p.c.write(id, &data).unwrap();
    p.c.finish(id).unwrap();
    let a = p.packet(Side::Client, 1200).unwrap();
    let b = p.packet(Side::Client, 1200).unwrap();
    let c = p.packet(Side::Client, 1200).unwrap();
    p.deliver(Side::Server, &a).unwrap();
    p.deliver(Side::Server, &c).unwrap();
    p.ack(Side::Client, &a);
    p.ack(Side::Client, &c);
    p.lose(Side::Client, &b);
    p.drive();
    assert_eq!(read_all(&mut p.s, id), (data, true));
    let stats = p.events(Side::Client).into_iter().find_map(|e| match e {
        StreamEvent::Closed { stats, .. } => Some(stats),
        _ => None,
    });
    let stats = stats.expect("sender freed once all acked");
    let lost_len: u64 = b
        .records
        .iter()
        .map(|r| match r {
            FrameRecord::Stream { len, .. } => u64::from(*len),
            _ => 0,
        })
        .sum();
    assert_eq!(stats.bytes_retransmitted, lost_len);
    assert_eq!(stats.bytes_sent, 3000 + lost_len);
}

#[test]
fn cancel_on_loss_resets_instead_of_retransmitting() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.set_cancel_on_loss(id, Some(code(5))).unwrap();
    p.c.write(id, b"frame of video").unwrap();
    let pk = p.packet(Side::Client, 1200).unwrap();
    p.lose(Side::Client, &pk);
    let next = p.packet(Side::Client, 1200).unwrap();
    assert_eq!(next.records, [FrameRecord::ResetStream(id)]);
}

#[test]
fn zero_copy_write_completes_when_acknowledged() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    let end =
        p.c.write_bytes(id, Bytes::from(std::vec![3u8; 2000]))
            .unwrap();
    assert_eq!(end, 2000);
    let a = p.packet(Side::Client, 1200).unwrap();
    let b = p.packet(Side::Client, 1200).unwrap();
    p.ack(Side::Client, &b);
    assert!(
        p.events(Side::Client).is_empty(),
        "nothing complete while a gap remains"
    );
    p.ack(Side::Client, &a);
    assert_eq!(
        p.events(Side::Client),
        [StreamEvent::Acked { id, offset: 2000 }]
    );
}

#[test]
fn copying_write_comes_up_short_when_the_buffer_is_full_then_reports_writable() {
    let mut p = Pair::new(4, 1 << 20);
    p.c.set_bdp(0);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    let room = p.c.ideal_send_buffer() as usize;
    assert_eq!(p.c.write(id, &std::vec![0u8; room + 10]).unwrap(), room);
    assert_eq!(p.c.write(id, b"x").unwrap(), 0);
    let pk = p.packet(Side::Client, 1200).unwrap();
    p.ack(Side::Client, &pk);
    assert_eq!(p.events(Side::Client), [StreamEvent::Writable { id }]);
    assert!(p.c.write(id, &[0u8; 2000]).unwrap() > 0);
}

#[test]
fn ideal_send_buffer_follows_the_bandwidth_delay_product_within_bounds() {
    let mut s = Streams::new(Side::Client, Config::default());
    s.set_bdp(10);
    assert_eq!(s.ideal_send_buffer(), Config::default().send_buffer);
    s.set_bdp(4 << 20);
    assert_eq!(s.ideal_send_buffer(), 4 << 20);
    s.set_bdp(u64::MAX);
    assert_eq!(s.ideal_send_buffer(), Config::default().max_send_buffer);
}

fn first_stream_in_packet(p: &mut Pair) -> Vec<StreamId> {
    let pk = p.packet(Side::Client, 1200).unwrap();
    pk.records
        .iter()
        .filter_map(|r| match r {
            FrameRecord::Stream { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn urgent_stream_fills_the_packet_first() {
    let mut p = Pair::new(8, 100_000);
    let low = id_of(p.c.open(Dir::Uni).unwrap());
    let high = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.set_priority(low, Priority::new(6, false)).unwrap();
    p.c.set_priority(high, Priority::new(1, false)).unwrap();
    p.c.write(low, &[1; 3000]).unwrap();
    p.c.write(high, &[2; 3000]).unwrap();
    assert_eq!(first_stream_in_packet(&mut p), [high]);
    assert_eq!(first_stream_in_packet(&mut p), [high]);
    assert_eq!(first_stream_in_packet(&mut p), [high, low]);
    // Priority changes take effect at once.
    p.c.set_priority(low, Priority::new(0, false)).unwrap();
    p.c.write(high, &[2; 3000]).unwrap();
    assert_eq!(first_stream_in_packet(&mut p), [low]);
}

#[test]
fn incremental_streams_of_equal_urgency_share_packets_round_robin() {
    let mut p = Pair::new(8, 100_000);
    let ids: Vec<_> = (0..3).map(|_| id_of(p.c.open(Dir::Uni).unwrap())).collect();
    for &id in &ids {
        p.c.set_priority(id, Priority::new(3, true)).unwrap();
        p.c.write(id, &[9; 5000]).unwrap();
    }
    let order: Vec<StreamId> = (0..6)
        .flat_map(|_| first_stream_in_packet(&mut p))
        .collect();
    let firsts: Vec<StreamId> = order.iter().copied().take(6).collect();
    assert_eq!(firsts, [ids[0], ids[1], ids[2], ids[0], ids[1], ids[2]]);
}

#[test]
fn only_streams_allowing_0rtt_send_in_0rtt_packets() {
    let mut p = Pair::new(8, 100_000);
    let a = id_of(p.c.open(Dir::Uni).unwrap());
    let b = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.set_0rtt_allowed(b, true).unwrap();
    p.c.write(a, b"no").unwrap();
    p.c.write(b, b"yes").unwrap();
    let mut buf = [0u8; 1200];
    let mut recs = Vec::new();
    p.c.write_frames(
        &mut Writer::new(&mut buf),
        1200,
        Instant::ZERO,
        true,
        &mut |r| recs.push(r),
    );
    assert!(matches!(recs[..], [FrameRecord::Stream { id, .. }] if id == b));
}

#[test]
fn partial_consumption_leaves_the_rest_for_later() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.write(id, b"header:body").unwrap();
    p.c.finish(id).unwrap();
    p.drive();
    assert_eq!(p.s.peek(id).unwrap(), b"header:body");
    assert_eq!(p.s.consume(id, 7).unwrap(), Read { len: 7, fin: false });
    let c = p.s.read_chunk(id, 100).unwrap();
    assert_eq!((&c.data[..], c.fin), (&b"body"[..], true));
}

#[test]
fn writing_to_a_receive_only_stream_is_an_error() {
    let mut p = Pair::new(4, 100_000);
    let id = id_of(p.c.open(Dir::Uni).unwrap());
    p.c.write(id, b"x").unwrap();
    p.drive();
    assert_eq!(p.s.write(id, b"y"), Err(StreamError::ReceiveOnly));
    let mut buf = [0u8; 4];
    assert_eq!(p.c.read(id, &mut buf), Err(StreamError::SendOnly));
    assert_eq!(
        p.c.write(uni(Side::Client, 9), b"y"),
        Err(StreamError::UnknownStream)
    );
    p.c.finish(id).unwrap();
    assert_eq!(p.c.write(id, b"late"), Err(StreamError::Closed));
}

#[test]
fn a_stream_frame_that_fills_the_packet_leaves_out_its_length() {
    let mut p = Pair::new(8, 100_000);
    let a = id_of(p.c.open(Dir::Uni).unwrap());
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 13 + 7) as u8).collect();
    p.c.write(a, &data).unwrap();
    p.c.finish(a).unwrap();
    // (packet size, has_len of each STREAM frame in it)
    let mut seen: Vec<(usize, Vec<bool>)> = Vec::new();
    while let Some(pk) = p.packet(Side::Client, 1200) {
        let payload = Bytes::from(pk.bytes.clone());
        let flags = FrameIter::new(&payload, PacketType::OneRtt)
            .filter_map(|f| match f.expect("valid frames") {
                Frame::Stream(s) => Some(s.has_len),
                _ => None,
            })
            .collect();
        seen.push((pk.bytes.len(), flags));
        p.deliver(Side::Server, &pk).unwrap();
        p.ack(Side::Client, &pk);
    }
    // Full packets end with a STREAM frame without Length (RFC 9000 §19.8); the last,
    // shorter one keeps its Length.
    assert!(seen.len() >= 5, "{seen:?}");
    let (last, full) = seen.split_last().unwrap();
    for (size, flags) in full {
        assert_eq!(*size, 1200);
        assert_eq!(flags.last(), Some(&false), "{seen:?}");
    }
    assert!(last.0 < 1200 && last.1.iter().all(|&l| l), "{seen:?}");
    let (got, fin) = read_all(&mut p.s, a);
    assert!(fin);
    assert_eq!(got, data);
}

#[test]
fn has_events_says_whether_poll_event_has_something() {
    let mut p = Pair::new(4, 100_000);
    assert!(!p.s.has_events());
    assert_eq!(p.s.poll_event(), None);
    let id = id_of(p.c.open(Dir::Bi).unwrap());
    p.c.write(id, b"hi").unwrap();
    let pk = p.packet(Side::Client, 1200).unwrap();
    p.deliver(Side::Server, &pk).unwrap();
    assert!(p.s.has_events());
    let ev = p.events(Side::Server);
    assert_eq!(
        ev,
        [StreamEvent::Opened { id }, StreamEvent::Readable { id }]
    );
    assert!(!p.s.has_events());
    assert_eq!(p.s.poll_event(), None);
}
