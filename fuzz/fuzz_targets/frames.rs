//! Frames: parse a payload, re-encode every frame, re-parse it and compare; and, from the
//! same input, build valid frames with `Arbitrary` and check they survive a round trip.
#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use quic_wire::codec::{Reader, Writer};
use quic_wire::frame::FrameIter;
use quic_wire::{Frame, PacketType, TransportErrorCode};

const PACKETS: [PacketType; 4] = [
    PacketType::Initial,
    PacketType::Handshake,
    PacketType::ZeroRtt,
    PacketType::OneRtt,
];

fn round_trip(f: &Frame<'_>, buf: &mut [u8]) {
    let len = f.encoded_len();
    let mut w = Writer::new(&mut buf[..]);
    f.write(&mut w).expect("buffer holds any frame");
    assert_eq!(w.written(), len, "encoded_len is exact for {f:?}");
    let bytes = &buf[..len];
    let mut r = Reader::new(bytes);
    let again = Frame::parse(&mut r).expect("a written frame parses");
    assert!(r.is_empty(), "re-parse consumed everything");
    assert_eq!(&again, f);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let mut buf = vec![0u8; data.len() + 64];
    if selector & 0x80 == 0 {
        let pt = PACKETS[usize::from(selector) % PACKETS.len()];
        for item in FrameIter::new(payload, pt) {
            match item {
                Ok(f) => {
                    assert!(f.ty().allowed_in(pt));
                    round_trip(&f, &mut buf);
                }
                Err(e) => assert!(
                    e.code == TransportErrorCode::FRAME_ENCODING_ERROR
                        || e.code == TransportErrorCode::PROTOCOL_VIOLATION
                ),
            }
        }
    } else {
        let mut u = Unstructured::new(payload);
        while let Ok(f) = Frame::arbitrary(&mut u) {
            if buf.len() < f.encoded_len() {
                buf.resize(f.encoded_len(), 0);
            }
            round_trip(&f, &mut buf);
            if u.is_empty() {
                break;
            }
        }
    }
});
