//! Packet headers and coalesced datagrams: arbitrary bytes must never panic, the packets
//! found must tile the datagram, and every header read must write back to a header that
//! reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_wire::{
    codec::Writer,
    packet::{
        decode_protected_fields, write_version_negotiation, CoalescedPackets, Packet, ParseConfig,
        ProtectedHeader, ProtectedPacket, RETRY_INTEGRITY_TAG_LEN,
    },
};

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, datagram)) = data.split_first() else {
        return;
    };
    let cfg = ParseConfig::new(usize::from(knobs % 21)).accept_zero_fixed_bit(knobs & 0x80 != 0);

    let single = Packet::parse(datagram, &cfg);
    let mut covered = 0;
    for (i, item) in CoalescedPackets::new(datagram, cfg).enumerate() {
        let range = match item {
            Ok(p) => {
                assert_eq!(p.packet.bytes(), &datagram[p.range()]);
                if i == 0 {
                    if let Ok((first, _)) = single {
                        assert_eq!(first, p.packet);
                    }
                }
                check_round_trip(&p.packet, &cfg);
                p.range()
            }
            Err(d) => d.range(),
        };
        assert_eq!(range.start, covered, "packets tile the datagram");
        assert!(range.end > range.start);
        covered = range.end;
    }
    assert_eq!(covered, datagram.len());
});

fn check_round_trip(packet: &Packet<'_>, cfg: &ParseConfig) {
    // Rewriting uses the shortest varints, so it never grows the packet.
    let mut buf = vec![0u8; packet.len() + 16];
    let mut w = Writer::new(&mut buf);
    match packet {
        Packet::Protected(p) => write_protected(p, &mut w),
        Packet::Retry(r) => {
            r.header.write(&mut w, r.fixed_bit).unwrap();
            w.put_slice(&r.integrity_tag).unwrap();
            assert_eq!(r.bytes.len(), w.written());
        }
        Packet::VersionNegotiation(vn) => {
            let versions: Vec<_> = vn.versions().collect();
            write_version_negotiation(&mut w, vn.dcid, vn.scid, &versions, 0).unwrap();
            assert_eq!(vn.bytes.len(), w.written());
        }
        Packet::UnsupportedVersion(_) => return,
    }
    let n = w.written();
    let (again, rest) = Packet::parse(&buf[..n], cfg).unwrap();
    assert!(rest.is_empty());
    match (packet, again) {
        (Packet::Protected(a), Packet::Protected(b)) => {
            assert_eq!(a.header, b.header);
            assert_eq!(a.fixed_bit, b.fixed_bit);
            assert_eq!(a.len() - a.pn_offset, b.len() - b.pn_offset);
        }
        (Packet::Retry(a), Packet::Retry(b)) => {
            assert_eq!((a.header, a.integrity_tag), (b.header, b.integrity_tag));
            assert!(b.bytes.len() >= RETRY_INTEGRITY_TAG_LEN);
        }
        (Packet::VersionNegotiation(a), Packet::VersionNegotiation(b)) => {
            assert_eq!((a.dcid, a.scid), (b.dcid, b.scid));
            assert!(a.versions().eq(b.versions()));
        }
        (a, b) => panic!("{a:?} came back as {b:?}"),
    }
}

/// Rewrites a protected packet as if its header protection had been removed, with the
/// same packet-number field and payload.
fn write_protected(p: &ProtectedPacket<'_>, w: &mut Writer<'_>) {
    let after_pn = &p.bytes[p.pn_offset..];
    let clear = decode_protected_fields(p.bytes[0], after_pn)
        .expect("a yielded packet has at least 20 bytes from its packet-number offset");
    let payload = &after_pn[clear.pn.len..];
    let layout = match p.header {
        ProtectedHeader::Long(h) => h.write(w, clear.pn, payload.len(), p.fixed_bit).unwrap(),
        ProtectedHeader::Short { .. } => {
            let h = p.short_header(&clear).unwrap();
            h.write(w, clear.pn, p.fixed_bit).unwrap()
        }
    };
    assert_eq!(layout.pn_len, clear.pn.len);
    w.put_slice(payload).unwrap();
}
