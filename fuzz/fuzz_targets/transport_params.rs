//! Transport parameters: decode arbitrary bytes as sent by a client and by a server; whatever
//! decodes must re-encode to exactly `encoded_len` bytes that decode to the same value. The
//! same input, read as structured parameters, must round trip whenever it validates.
#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use quic_wire::codec::Writer;
use quic_wire::transport_params::TransportParameters;
use quic_wire::{Side, TransportErrorCode};

fn round_trip(tp: &TransportParameters, side: Side) {
    let mut buf = vec![0u8; tp.encoded_len()];
    let mut w = Writer::new(&mut buf);
    tp.encode(&mut w).expect("encoded_len bytes are enough");
    assert_eq!(w.written(), tp.encoded_len());
    let again = TransportParameters::decode(&buf, side).expect("re-encoded parameters decode");
    assert_eq!(&again, tp);
}

fuzz_target!(|data: &[u8]| {
    for side in [Side::Client, Side::Server] {
        match TransportParameters::decode(data, side) {
            Ok(tp) => round_trip(&tp, side),
            Err(e) => assert_eq!(e.code, TransportErrorCode::TRANSPORT_PARAMETER_ERROR),
        }
    }

    let mut u = Unstructured::new(data);
    if let (Ok(tp), Ok(side)) = (
        TransportParameters::arbitrary(&mut u),
        Side::arbitrary(&mut u),
    ) {
        if tp.validate(side).is_ok() {
            round_trip(&tp, side);
        }
    }
});
