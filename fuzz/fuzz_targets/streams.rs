//! Streams: a client and a server exchange stream data through a lossy, reordering,
//! duplicating in-memory wire while the fuzzer drives the applications; a reference model
//! checks that every byte read is the byte written, in order, and that a finished stream
//! ends exactly at its length. A third endpoint takes arbitrary peer frames (crafted
//! around a few small stream IDs, or fully arbitrary) with application calls in between:
//! it may close the connection with an error, but must never panic or misbehave.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use quic_streams::{Config, FrameRecord, PeerLimits, Priority, StreamEvent, StreamRef, Streams};
use quic_wire::codec::Writer;
use quic_wire::frame::{FrameIter, StreamFrame};
use quic_wire::{Dir, Frame, Instant, PacketType, Side, StreamId, VarInt};

const WINDOW: u64 = 4000;

fn config() -> Config {
    Config {
        max_concurrent_bidi: 3,
        max_concurrent_uni: 3,
        stream_window: WINDOW,
        max_stream_window: WINDOW * 4,
        conn_window: WINDOW * 2,
        max_conn_window: WINDOW * 8,
        send_buffer: 3000,
        max_send_buffer: 3000,
    }
}

fn peer_limits() -> PeerLimits {
    PeerLimits {
        max_data: WINDOW * 2,
        stream_data_bidi_local: WINDOW,
        stream_data_bidi_remote: WINDOW,
        stream_data_uni: WINDOW,
        max_streams_bidi: 3,
        max_streams_uni: 3,
    }
}

/// What the client application wrote on one stream, for the model.
#[derive(Default)]
struct Sent {
    data: Vec<u8>,
    finished: bool,
    reset: bool,
}

/// What the server application read on one stream.
#[derive(Default)]
struct Got {
    data: Vec<u8>,
    fin: bool,
    stopped: bool,
}

struct Packet {
    bytes: Vec<u8>,
    records: Vec<FrameRecord>,
    from_client: bool,
}

struct World {
    c: Streams,
    s: Streams,
    now: Instant,
    sent: BTreeMap<u64, Sent>,
    refs: Vec<(u64, StreamRef)>,
    /// Stream ID to model key, remembered once known (the client forgets freed streams).
    id_key: BTreeMap<StreamId, u64>,
    got: BTreeMap<StreamId, Got>,
    in_flight: Vec<Packet>,
    next_key: u64,
}

impl World {
    fn new() -> Self {
        let mut c = Streams::new(Side::Client, config());
        let mut s = Streams::new(Side::Server, config());
        c.set_peer_limits(peer_limits());
        s.set_peer_limits(peer_limits());
        World {
            c,
            s,
            now: Instant::ZERO,
            sent: BTreeMap::new(),
            refs: Vec::new(),
            id_key: BTreeMap::new(),
            got: BTreeMap::new(),
            in_flight: Vec::new(),
            next_key: 0,
        }
    }

    fn sent_for(&self, id: StreamId) -> Option<&Sent> {
        self.sent.get(self.id_key.get(&id)?)
    }

    fn learn_ids(&mut self) {
        for &(key, r) in &self.refs {
            if let Some(id) = self.c.id_of(r) {
                self.id_key.insert(id, key);
            }
        }
    }

    fn transmit(&mut self, client: bool, size: usize) {
        self.now += core::time::Duration::from_millis(3);
        let mut buf = vec![0u8; size];
        let mut records = Vec::new();
        let mut w = Writer::new(&mut buf);
        let st = if client { &mut self.c } else { &mut self.s };
        let n = st.write_frames(&mut w, size, self.now, false, &mut |r| records.push(r));
        assert!(n <= size);
        buf.truncate(n);
        if n > 0 {
            self.in_flight.push(Packet {
                bytes: buf,
                records,
                from_client: client,
            });
        }
    }

    /// Delivers (or not), then acknowledges or loses, one packet in flight.
    fn settle(&mut self, pick: usize, deliver: bool, ack: bool, keep: bool) {
        if self.in_flight.is_empty() {
            return;
        }
        let i = pick % self.in_flight.len();
        let p = if keep {
            // Duplicate: deliver a copy now, settle the packet later.
            let p = &self.in_flight[i];
            Packet {
                bytes: p.bytes.clone(),
                records: Vec::new(),
                from_client: p.from_client,
            }
        } else {
            self.in_flight.swap_remove(i)
        };
        let now = self.now;
        if deliver {
            let to = if p.from_client {
                &mut self.s
            } else {
                &mut self.c
            };
            for f in FrameIter::new(&p.bytes, PacketType::OneRtt) {
                let f = f.expect("streams write valid frames");
                // An honest peer never makes us close the connection.
                to.handle_frame(&f, now)
                    .expect("honest frames are accepted");
            }
        }
        let from = if p.from_client {
            &mut self.c
        } else {
            &mut self.s
        };
        for &r in &p.records {
            if ack && deliver {
                from.on_frame_acked(r, now);
            } else {
                from.on_frame_lost(r, now);
            }
        }
    }

    /// Reads until nothing more is readable (Readable is edge-triggered).
    fn server_read_all(&mut self, id: StreamId) {
        loop {
            let before = self.got.get(&id).map_or(0, |g| g.data.len());
            self.server_read(id, 1 << 16, true);
            let g = self
                .got
                .get(&id)
                .map_or((0, true), |g| (g.data.len(), g.fin));
            if g.0 == before || g.1 {
                break;
            }
        }
    }

    fn server_read(&mut self, id: StreamId, max: usize, chunk: bool) {
        let got = self.got.entry(id).or_default();
        let r = if chunk {
            self.s.read_chunk(id, max).map(|c| {
                got.data.extend_from_slice(&c.data);
                c.fin
            })
        } else {
            let mut buf = vec![0u8; max];
            self.s.read(id, &mut buf).map(|r| {
                got.data.extend_from_slice(&buf[..r.len]);
                r.fin
            })
        };
        if let Ok(fin) = r {
            got.fin |= fin;
        }
        self.check(id);
    }

    /// The model: what was read is a prefix of what was written; FIN only at the end.
    fn check(&self, id: StreamId) {
        let (Some(got), Some(sent)) = (self.got.get(&id), self.sent_for(id)) else {
            return;
        };
        assert!(got.data.len() <= sent.data.len(), "read more than written");
        assert_eq!(
            got.data[..],
            sent.data[..got.data.len()],
            "read bytes differ"
        );
        if got.fin {
            assert!(sent.finished, "FIN the application never gave");
            assert_eq!(got.data.len(), sent.data.len(), "FIN before the end");
        }
    }

    fn drain_events(&mut self) {
        self.learn_ids();
        while let Some(e) = self.c.poll_event() {
            match e {
                StreamEvent::Readable { id } => {
                    let mut buf = [0u8; 64];
                    let _ = self.c.read(id, &mut buf);
                }
                StreamEvent::Started { pending, id } => {
                    if let Some(&(key, _)) = self
                        .refs
                        .iter()
                        .find(|(_, r)| *r == StreamRef::Pending(pending))
                    {
                        self.id_key.insert(id, key);
                    }
                }
                _ => {}
            }
        }
        while let Some(e) = self.s.poll_event() {
            if let StreamEvent::Readable { id } = e {
                self.server_read_all(id);
            }
        }
    }

    fn step(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        self.learn_ids();
        match u.int_in_range(0..=11u8)? {
            0 => {
                let dir = if u.arbitrary()? { Dir::Bi } else { Dir::Uni };
                if let Ok(r) = self.c.open(dir) {
                    let key = self.next_key;
                    self.next_key += 1;
                    self.sent.insert(key, Sent::default());
                    self.refs.push((key, r));
                }
            }
            1 | 2 => {
                if let Some(&(key, r)) = pick(u, &self.refs)? {
                    let len = u.int_in_range(0..=2500usize)?;
                    let seed: u8 = u.arbitrary()?;
                    let data: Vec<u8> = (0..len)
                        .map(|i| seed.wrapping_add(i as u8 ^ (i >> 8) as u8))
                        .collect();
                    let sent = self.sent.get_mut(&key).expect("model entry");
                    if u.arbitrary()? {
                        if let Ok(n) = self.c.write(r, &data) {
                            sent.data.extend_from_slice(&data[..n]);
                        }
                    } else if self.c.write_bytes(r, data.clone().into()).is_ok() {
                        sent.data.extend_from_slice(&data);
                    }
                }
            }
            3 => {
                if let Some(&(key, r)) = pick(u, &self.refs)? {
                    if self.c.finish(r).is_ok() {
                        self.sent.get_mut(&key).expect("model entry").finished = true;
                    }
                }
            }
            4 => {
                if let Some(&(key, r)) = pick(u, &self.refs)? {
                    let code = VarInt::from_u32(u.arbitrary()?);
                    if self.c.reset(r, code).is_ok() {
                        self.sent.get_mut(&key).expect("model entry").reset = true;
                    }
                }
            }
            5 => {
                if let Some(&(_, r)) = pick(u, &self.refs)? {
                    let p = Priority::new(u.int_in_range(0..=7)?, u.arbitrary()?);
                    let _ = self.c.set_priority(r, p);
                    if u.arbitrary()? {
                        let _ = self.c.set_cancel_on_loss(r, None);
                    }
                }
            }
            6 | 7 => {
                let client = u.arbitrary()?;
                let size = u.int_in_range(20..=1500usize)?;
                self.transmit(client, size);
            }
            8 | 9 => {
                let (pick, deliver, ack, keep) = (
                    u.arbitrary()?,
                    u.ratio(7u8, 8)?,
                    u.ratio(7u8, 8)?,
                    u.ratio(1u8, 10)?,
                );
                self.settle(pick, deliver, ack, keep);
            }
            10 => {
                let ids: Vec<StreamId> = self.got.keys().copied().collect();
                if let Some(&id) = pick(u, &ids)? {
                    let max = u.int_in_range(1..=3000usize)?;
                    self.server_read(id, max, u.arbitrary()?);
                    if u.ratio(1u8, 8)? && self.s.stop_sending(id, VarInt::from_u32(7)).is_ok() {
                        self.got.entry(id).or_default().stopped = true;
                    }
                }
            }
            _ => self.drain_events(),
        }
        Ok(())
    }
}

fn pick<'a, T>(u: &mut Unstructured<'_>, v: &'a [T]) -> Result<Option<&'a T>> {
    if v.is_empty() {
        return Ok(None);
    }
    let i = u.choose_index(v.len())?;
    Ok(v.get(i))
}

/// A peer frame aimed at a few small stream IDs, so it reaches deep into the state
/// machines, or any frame at all.
fn peer_frame<'a>(u: &mut Unstructured<'a>) -> Result<Frame<'a>> {
    let ty = u.int_in_range(0..=3u8)?;
    let id = StreamId::new(
        if u.arbitrary()? {
            Side::Client
        } else {
            Side::Server
        },
        if u.arbitrary()? { Dir::Bi } else { Dir::Uni },
        u.int_in_range(0..=4)?,
    )
    .expect("small index");
    let small = |u: &mut Unstructured<'a>| -> Result<VarInt> {
        Ok(VarInt::from_u32(u.int_in_range(0..=9000)?))
    };
    Ok(match (ty, u.int_in_range(0..=9u8)?) {
        (0, _) => Frame::arbitrary(u)?,
        (_, 0..=3) => {
            let len = u.int_in_range(0..=600usize)?;
            let data = u.bytes(len.min(u.len()))?;
            Frame::Stream(StreamFrame {
                id,
                offset: u.int_in_range(0..=6000)?,
                data,
                fin: u.ratio(1u8, 4)?,
                has_len: true,
            })
        }
        (_, 4) => Frame::ResetStream {
            id,
            error_code: small(u)?,
            final_size: small(u)?,
        },
        (_, 5) => Frame::StopSending {
            id,
            error_code: small(u)?,
        },
        (_, 6) => Frame::MaxStreamData { id, max: small(u)? },
        (_, 7) => Frame::StreamDataBlocked {
            id,
            limit: small(u)?,
        },
        (_, 8) => Frame::MaxStreams {
            dir: if u.arbitrary()? { Dir::Bi } else { Dir::Uni },
            count: u.int_in_range(0..=10)?,
        },
        _ => Frame::MaxData(small(u)?),
    })
}

/// Arbitrary peer frames against one endpoint, with application calls in between.
fn chaos(u: &mut Unstructured<'_>) -> Result<()> {
    let mut st = Streams::new(Side::Server, config());
    st.set_peer_limits(peer_limits());
    let mut records: Vec<FrameRecord> = Vec::new();
    let mut now = Instant::ZERO;
    while !u.is_empty() {
        now += core::time::Duration::from_millis(1);
        match u.int_in_range(0..=5u8)? {
            0 | 1 => {
                let f = peer_frame(u)?;
                if st.handle_frame(&f, now).is_err() {
                    // The connection closes; nothing more reaches these streams.
                    return Ok(());
                }
            }
            2 => {
                let r = st.open(if u.arbitrary()? { Dir::Bi } else { Dir::Uni });
                if let Ok(r) = r {
                    let _ = st.write(r, &[1; 700]);
                    if u.arbitrary()? {
                        let _ = st.finish(r);
                    }
                }
            }
            3 => {
                let size = u.int_in_range(1..=1500usize)?;
                let mut buf = vec![0u8; size];
                let mut w = Writer::new(&mut buf);
                let n =
                    st.write_frames(&mut w, size, now, u.arbitrary()?, &mut |r| records.push(r));
                assert!(n <= size);
                if n > 0 {
                    for f in FrameIter::new(&buf[..n], PacketType::OneRtt) {
                        f.expect("streams write valid frames");
                    }
                }
            }
            4 => {
                if !records.is_empty() {
                    let i = u.choose_index(records.len())?;
                    let r = records.swap_remove(i);
                    if u.arbitrary()? {
                        st.on_frame_acked(r, now);
                    } else {
                        st.on_frame_lost(r, now);
                    }
                }
            }
            _ => {
                while let Some(e) = st.poll_event() {
                    match e {
                        StreamEvent::Readable { id } | StreamEvent::Opened { id } => {
                            let mut buf = [0u8; 512];
                            let _ = st.read(id, &mut buf);
                            if u.ratio(1u8, 4)? {
                                let _ = st.stop_sending(id, VarInt::from_u32(1));
                            }
                            if u.ratio(1u8, 4)? {
                                let _ = st.write(id, b"reply");
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    if mode & 1 == 1 {
        let _ = chaos(&mut u);
        return;
    }
    let mut world = World::new();
    while !u.is_empty() {
        if world.step(&mut u).is_err() {
            break;
        }
    }
    // Heal the network: deliver and acknowledge everything, then check the model again.
    for _ in 0..200 {
        world.transmit(true, 1200);
        world.transmit(false, 1200);
        while !world.in_flight.is_empty() {
            world.settle(0, true, true, false);
        }
        world.drain_events();
    }
    let ids: Vec<StreamId> = world.got.keys().copied().collect();
    for id in ids {
        world.check(id);
    }
    for (id, key) in &world.id_key {
        let sent = &world.sent[key];
        if let Some(got) = world.got.get(id) {
            if sent.finished && !sent.reset && !got.stopped {
                // Healed network, nothing reset: everything written arrives, then FIN.
                assert!(got.fin, "finished stream {id:?} never completed");
                assert_eq!(got.data, sent.data);
            }
        }
    }
});
