//! Placeholder fuzz target; filled in with the h3 module.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = quic_wire::VarInt::decode(&mut quic_wire::codec::Reader::new(data));
});
