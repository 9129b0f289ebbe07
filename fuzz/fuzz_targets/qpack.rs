//! QPACK decoder: arbitrary encoder-stream chunks and field sections interleaved, with
//! stream cancellations, for table sizes chosen by the input; plus arbitrary decoder-stream
//! bytes into an encoder. Nothing may panic, and the table never exceeds its capacity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_streams::h3::qpack::{Decoder, DecoderConfig, Encoder, EncoderConfig, Field};
use quic_streams::h3::Bytes;

fuzz_target!(|input: &[u8]| {
    let [cap, blocked, rest @ ..] = input else {
        return;
    };
    let config = DecoderConfig {
        max_table_capacity: u64::from(*cap) * 8,
        max_blocked_streams: u64::from(*blocked % 8),
        max_field_section_size: 4096,
    };
    let mut dec = Decoder::new(config);
    let mut enc = Encoder::new(EncoderConfig::default());
    enc.set_peer_settings(u64::from(*cap) * 8, u64::from(*blocked % 8));
    let mut ops = rest;
    while let [op, len, tail @ ..] = ops {
        let n = usize::from(*len).min(tail.len());
        let (chunk, after) = tail.split_at(n);
        ops = after;
        let stream = u64::from(op >> 3) * 4;
        match op % 5 {
            0 => {
                if dec.on_encoder_stream(chunk).is_err() {
                    return;
                }
                while let Some((_, r)) = dec.poll_unblocked() {
                    if matches!(r, Err(quic_streams::h3::qpack::DecodeError::Connection(_))) {
                        return;
                    }
                }
            }
            1 => {
                if let Err(quic_streams::h3::qpack::DecodeError::Connection(_)) =
                    dec.decode_section(stream, Bytes::copy_from_slice(chunk))
                {
                    return;
                }
            }
            2 => dec.cancel_stream(stream),
            3 => {
                let _ = dec.take_output();
            }
            _ => {
                // The encoder side: encode a field from the chunk, then read decoder-stream bytes.
                let mid = chunk.len() / 2;
                let f = Field::new(
                    Bytes::copy_from_slice(&chunk[..mid]),
                    Bytes::copy_from_slice(&chunk[mid..]),
                );
                let mut out = Vec::new();
                enc.encode(stream, &[f], &mut out);
                let _ = enc.take_output();
                if enc.on_decoder_stream(chunk).is_err() {
                    return;
                }
            }
        }
        assert!(dec.table().size() <= dec.table().capacity());
        assert!(dec.blocked_streams() as u64 <= config.max_blocked_streams);
    }
});
