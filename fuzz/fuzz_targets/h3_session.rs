//! HTTP/3 sessions fed arbitrary stream data: a client and a server, each receiving
//! input-chosen chunks on input-chosen streams, with resets and STOP_SENDING mixed in, and
//! application calls answering what arrives. Nothing may panic; errors must be sticky.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_streams::h3::{Bytes, Code, Config, Event, Field, Transport, TransportError, H3};
use quic_wire::{Dir, Side, StreamId};

struct Sink {
    side: Side,
    next: [u64; 2],
}

impl Transport for Sink {
    fn open_uni(&mut self) -> Result<StreamId, TransportError> {
        self.next[1] += 1;
        StreamId::new(self.side, Dir::Uni, self.next[1] - 1).ok_or(TransportError::StreamLimit)
    }
    fn open_bidi(&mut self) -> Result<StreamId, TransportError> {
        self.next[0] += 1;
        StreamId::new(self.side, Dir::Bi, self.next[0] - 1).ok_or(TransportError::StreamLimit)
    }
    fn write(&mut self, _: StreamId, _: &[Bytes], _: bool) -> Result<(), TransportError> {
        Ok(())
    }
    fn reset(&mut self, _: StreamId, _: Code) {}
    fn stop_sending(&mut self, _: StreamId, _: Code) {}
}

fuzz_target!(|input: &[u8]| {
    let mut sessions = [Side::Client, Side::Server].map(|side| {
        let mut t = Sink { side, next: [0; 2] };
        let mut h = H3::new(side, Config::default());
        h.start(&mut t).unwrap();
        (h, t)
    });
    // Give the client a request stream of its own so responses have somewhere to land.
    {
        let (h, t) = &mut sessions[0];
        let req = [
            Field::new(":method", "GET"),
            Field::new(":scheme", "https"),
            Field::new(":authority", "a"),
            Field::new(":path", "/"),
        ];
        h.send_request(t, &req, false).unwrap();
    }
    let mut ops = input;
    while let [op, sid, len, tail @ ..] = ops {
        let n = usize::from(*len).min(tail.len());
        let (chunk, after) = tail.split_at(n);
        ops = after;
        let (h, t) = &mut sessions[usize::from(op & 1)];
        let peer = if h.side() == Side::Client {
            Side::Server
        } else {
            Side::Client
        };
        // Streams 0..3 of each type from the peer, plus our own request stream 0.
        let initiator = if sid & 0x80 != 0 { h.side() } else { peer };
        let dir = if sid & 1 == 0 { Dir::Bi } else { Dir::Uni };
        let id = StreamId::new(initiator, dir, u64::from((sid >> 1) & 3)).unwrap();
        let before = h.error();
        let r = match (op >> 1) % 8 {
            0 => h.on_stream_reset(t, id, Code(u64::from(*len))).map(|_| ()),
            1 => h.on_stop_sending(t, id, Code(u64::from(*len))),
            2 => {
                // An application call: refused (not an input), so not part of the check.
                let _ = h.goaway(t);
                h.error().map_or(Ok(()), Err)
            }
            fin => h.on_stream_data(t, id, Bytes::copy_from_slice(chunk), fin == 7),
        };
        if let Some(e) = before {
            assert_eq!(r, Err(e));
        }
        while let Some(ev) = h.poll_event() {
            if let Event::Request { stream, .. } = ev {
                let _ = h.send_response(t, stream, &[Field::new(":status", "200")], false);
                let _ = h.send_data(t, stream, Bytes::from_static(b"ok"), true);
            }
        }
    }
});
