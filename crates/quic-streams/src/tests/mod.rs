//! Tests of [`Streams`] as a whole: two endpoints exchanging frames over an in-memory
//! wire, with acknowledgements and losses decided by the test.

mod errors;
mod flow;
mod lifecycle;

use std::vec::Vec;

use bytes::Bytes;
use quic_wire::codec::Writer;
use quic_wire::frame::FrameIter;
use quic_wire::{Dir, Frame, Instant, PacketType, Side, StreamId, TransportError, VarInt};

use crate::*;

pub(crate) fn limits(streams: u64, data: u64) -> PeerLimits {
    PeerLimits {
        max_data: data * 4,
        stream_data_bidi_local: data,
        stream_data_bidi_remote: data,
        stream_data_uni: data,
        max_streams_bidi: streams,
        max_streams_uni: streams,
    }
}

pub(crate) fn config(streams: u64, window: u64) -> Config {
    Config {
        max_concurrent_bidi: streams,
        max_concurrent_uni: streams,
        stream_window: window,
        max_stream_window: window,
        conn_window: window * 4,
        max_conn_window: window * 4,
        ..Config::default()
    }
}

/// A client and a server with matching limits.
pub(crate) struct Pair {
    pub c: Streams,
    pub s: Streams,
    pub now: Instant,
}

/// One packet's worth: its bytes and the records of what it carried.
pub(crate) struct Packet {
    pub bytes: Vec<u8>,
    pub records: Vec<FrameRecord>,
}

impl Pair {
    pub fn new(streams: u64, window: u64) -> Self {
        let mut c = Streams::new(Side::Client, config(streams, window));
        let mut s = Streams::new(Side::Server, config(streams, window));
        c.set_peer_limits(limits(streams, window));
        s.set_peer_limits(limits(streams, window));
        Pair {
            c,
            s,
            now: Instant::ZERO,
        }
    }

    pub fn side(&mut self, side: Side) -> &mut Streams {
        match side {
            Side::Client => &mut self.c,
            Side::Server => &mut self.s,
        }
    }

    /// Builds one packet of up to `size` bytes from `from`.
    pub fn packet(&mut self, from: Side, size: usize) -> Option<Packet> {
        self.now += core::time::Duration::from_millis(1);
        let now = self.now;
        let mut buf = std::vec![0u8; size];
        let mut records = Vec::new();
        let mut w = Writer::new(&mut buf);
        let n = self
            .side(from)
            .write_frames(&mut w, size, now, false, &mut |r| records.push(r));
        buf.truncate(n);
        (n > 0).then_some(Packet {
            bytes: buf,
            records,
        })
    }

    /// Delivers a packet's frames to the other side.
    pub fn deliver(&mut self, to: Side, p: &Packet) -> Result<(), TransportError> {
        let now = self.now;
        let payload = Bytes::from(p.bytes.clone());
        for f in FrameIter::new(&payload, PacketType::OneRtt) {
            let f = f.expect("we write valid frames");
            assert!(self.side(to).handle_frame_shared(&f, &payload, now)?);
        }
        Ok(())
    }

    pub fn ack(&mut self, from: Side, p: &Packet) {
        let now = self.now;
        for &r in &p.records {
            self.side(from).on_frame_acked(r, now);
        }
    }

    pub fn lose(&mut self, from: Side, p: &Packet) {
        let now = self.now;
        for &r in &p.records {
            self.side(from).on_frame_lost(r, now);
        }
    }

    /// Sends, delivers and acknowledges packets both ways until both sides are idle.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            let mut idle = true;
            for from in [Side::Client, Side::Server] {
                if let Some(p) = self.packet(from, 1200) {
                    idle = false;
                    self.deliver(from.peer(), &p).expect("no peer error");
                    self.ack(from, &p);
                }
            }
            if idle {
                return;
            }
        }
        panic!("pair did not settle");
    }

    pub fn events(&mut self, side: Side) -> Vec<StreamEvent> {
        let st = self.side(side);
        std::iter::from_fn(|| st.poll_event()).collect()
    }
}

/// Feeds a single frame to `st`.
pub(crate) fn feed(st: &mut Streams, f: Frame<'_>) -> Result<bool, TransportError> {
    st.handle_frame(&f, Instant::ZERO)
}

pub(crate) fn id_of(r: StreamRef) -> StreamId {
    match r {
        StreamRef::Id(id) => id,
        StreamRef::Pending(p) => panic!("stream {p:?} is pending"),
    }
}

pub(crate) fn code(n: u32) -> VarInt {
    VarInt::from_u32(n)
}

/// Reads everything readable from a stream.
pub(crate) fn read_all(st: &mut Streams, id: StreamId) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let mut buf = [0u8; 700];
        let r = st.read(id, &mut buf).expect("readable");
        out.extend_from_slice(&buf[..r.len]);
        if r.fin || r.len == 0 {
            return (out, r.fin);
        }
    }
}

pub(crate) fn bidi(side: Side, i: u64) -> StreamId {
    StreamId::new(side, Dir::Bi, i).unwrap()
}

pub(crate) fn uni(side: Side, i: u64) -> StreamId {
    StreamId::new(side, Dir::Uni, i).unwrap()
}
