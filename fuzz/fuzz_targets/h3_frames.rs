//! HTTP/3 frame decoder: arbitrary bytes on each stream kind, for each side, fed whole and
//! split at an input-chosen point. Both runs must agree, and nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_streams::h3::frame::{FrameDecoder, FrameEvent, FrameLimits, StreamKind};
use quic_streams::h3::Code;
use quic_wire::Side;

fn run(kind: StreamKind, side: Side, pieces: &[&[u8]]) -> (Vec<u8>, usize, Option<Code>) {
    let limits = FrameLimits {
        max_field_section: 4096,
        max_control_frame: 1024,
    };
    let mut d = FrameDecoder::new(kind, side, limits);
    let (mut data, mut frames) = (Vec::new(), 0);
    for p in pieces {
        let mut input = *p;
        loop {
            match d.decode(&mut input) {
                Ok(Some(FrameEvent::Data(c))) => data.extend_from_slice(c),
                Ok(Some(FrameEvent::Frame(_))) => frames += 1,
                Ok(None) => break,
                Err(e) => return (data, frames, Some(e.code)),
            }
        }
    }
    (data, frames, d.finish().err().map(|e| e.code))
}

fuzz_target!(|input: &[u8]| {
    let Some((&sel, data)) = input.split_first() else {
        return;
    };
    let kind = match sel % 3 {
        0 => StreamKind::Control,
        1 => StreamKind::Request,
        _ => StreamKind::Push,
    };
    let side = if sel & 4 == 0 {
        Side::Client
    } else {
        Side::Server
    };
    let split = usize::from(sel >> 3).min(data.len());
    let whole = run(kind, side, &[data]);
    let (a, b) = data.split_at(split);
    assert_eq!(whole, run(kind, side, &[a, b]));
});
