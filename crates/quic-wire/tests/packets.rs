//! Packet headers: RFC test vectors, round trips, malformed input, coalesced datagrams.
//!
//! RFC 9001 Appendix A and RFC 9369 Appendix A give protected packets; version, connection
//! IDs, token, Length and the packet-number offset are not protected, so the protected
//! bytes parse as they are. Their unprotected headers check the writers byte for byte and
//! the second parsing phase.

use proptest::prelude::*;
use quic_wire::{
    codec::Writer,
    packet::{
        decode_protected_fields, parse_short_fields, write_version_negotiation, CoalescedPackets,
        HeaderError, HeaderLayout, LongHeader, Packet, ParseConfig, ProtectedHeader,
        ProtectedPacket, RetryHeader, ShortHeader, WriteError, RETRY_INTEGRITY_TAG_LEN,
    },
    pn::TruncatedPacketNumber,
    ConnectionId, PacketType, TransportErrorCode, Version,
};

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn cid(s: &str) -> ConnectionId {
    ConnectionId::new(&hex(s)).unwrap()
}

fn protected(bytes: &[u8], cfg: ParseConfig) -> ProtectedPacket<'_> {
    match Packet::parse(bytes, &cfg) {
        Ok((Packet::Protected(p), rest)) => {
            assert!(rest.is_empty());
            p
        }
        other => panic!("expected a protected packet, got {other:?}"),
    }
}

fn pn(value: u32, len: usize) -> TruncatedPacketNumber {
    TruncatedPacketNumber { value, len }
}

/// Replaces the protected header of `packet` by its clear version and runs phase two.
fn clear_fields(p: &ProtectedPacket<'_>, clear_header: &[u8]) -> quic_wire::packet::ClearFields {
    let mut buf = p.bytes.to_vec();
    buf[..clear_header.len()].copy_from_slice(clear_header);
    decode_protected_fields(buf[0], &buf[p.pn_offset..]).unwrap()
}

const CLIENT_DCID: &str = "8394c8f03e515708";
const SERVER_SCID: &str = "f067a5502a4262b5";

struct InitialVector {
    version: Version,
    client: &'static str,
    client_clear_header: &'static str,
    server: &'static str,
    server_clear_header: &'static str,
    retry: &'static str,
    short: &'static str,
}

const VECTORS: [InitialVector; 2] = [
    // RFC 9001 Appendix A.2-A.5.
    InitialVector {
        version: Version::V1,
        client: V1_CLIENT_INITIAL,
        client_clear_header: "c300000001088394c8f03e5157080000449e00000002",
        server: V1_SERVER_INITIAL,
        server_clear_header: "c1000000010008f067a5502a4262b50040750001",
        retry: "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba",
        short: "4cfe4189655e5cd55c41f69080575d7999c25a5bfb",
    },
    // RFC 9369 Appendix A.2-A.5.
    InitialVector {
        version: Version::V2,
        client: V2_CLIENT_INITIAL,
        client_clear_header: "d36b3343cf088394c8f03e5157080000449e00000002",
        server: V2_SERVER_INITIAL,
        server_clear_header: "d16b3343cf0008f067a5502a4262b50040750001",
        retry: "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6",
        short: "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
    },
];

#[test]
fn rfc_client_initials_parse_to_their_fields() {
    for v in &VECTORS {
        let bytes = hex(v.client);
        let p = protected(&bytes, ParseConfig::new(0));
        let expected = LongHeader {
            ty: PacketType::Initial,
            version: v.version,
            dcid: cid(CLIENT_DCID),
            scid: ConnectionId::EMPTY,
            token: &[],
        };
        assert_eq!(p.header, ProtectedHeader::Long(expected));
        assert!(p.fixed_bit);
        // 1 + 4 + 1 + 8 + 1 + 1 (token length) + 2 (Length 1182).
        assert_eq!(p.pn_offset, 18);
        assert_eq!(p.len(), 1200);
        assert_eq!(p.len() - p.pn_offset, 1182);

        let clear = clear_fields(&p, &hex(v.client_clear_header));
        assert_eq!(clear.pn, pn(2, 4));
        assert_eq!(clear.reserved_bits, 0);
        assert!(clear.check_reserved_bits().is_ok());
        assert_eq!(p.payload_offset(&clear), 22);

        // The writer produces the unprotected header byte for byte: 1162 bytes of frames
        // plus a 16-byte tag.
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let layout = expected.write(&mut w, pn(2, 4), 1162 + 16, true).unwrap();
        assert_eq!(w.filled(), &hex(v.client_clear_header)[..]);
        assert_eq!(layout.pn_offset, 18);
        assert_eq!(layout.header_len(), 22);
        assert_eq!(expected.encoded_len(4, 1178), 22);
    }
}

#[test]
fn rfc_server_initials_parse_to_their_fields() {
    for v in &VECTORS {
        let bytes = hex(v.server);
        let p = protected(&bytes, ParseConfig::new(8));
        let expected = LongHeader {
            ty: PacketType::Initial,
            version: v.version,
            dcid: ConnectionId::EMPTY,
            scid: cid(SERVER_SCID),
            token: &[],
        };
        assert_eq!(p.header, ProtectedHeader::Long(expected));
        assert_eq!(p.pn_offset, 18);
        assert_eq!(p.len(), 135);
        let clear = clear_fields(&p, &hex(v.server_clear_header));
        assert_eq!(clear.pn, pn(1, 2));
        assert_eq!(clear.pn.decode(None).0, 1);

        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        expected.write(&mut w, pn(1, 2), 115, true).unwrap();
        assert_eq!(w.filled(), &hex(v.server_clear_header)[..]);
    }
}

#[test]
fn rfc_retry_packets_parse_and_write() {
    for v in &VECTORS {
        let bytes = hex(v.retry);
        let (packet, rest) = Packet::parse(&bytes, &ParseConfig::new(8)).unwrap();
        assert!(rest.is_empty());
        let Packet::Retry(retry) = packet else {
            panic!("expected Retry, got {packet:?}")
        };
        let header = RetryHeader {
            version: v.version,
            dcid: ConnectionId::EMPTY,
            scid: cid(SERVER_SCID),
            token: b"token",
        };
        assert_eq!(retry.header, header);
        assert_eq!(&retry.integrity_tag[..], &bytes[bytes.len() - 16..]);
        assert_eq!(retry.without_tag(), &bytes[..bytes.len() - 16]);

        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        assert_eq!(header.write(&mut w, true), Ok(0));
        assert_eq!(w.written(), header.encoded_len());
        w.put_slice(&retry.integrity_tag).unwrap();
        // RFC 9001 A.4 sets the Unused bits to 0xf; ours are 0, the rest is identical.
        let mut expected = bytes.clone();
        expected[0] &= 0xf0;
        assert_eq!(w.filled(), &expected[..]);
    }
}

#[test]
fn rfc_short_header_packets_parse_and_write() {
    for v in &VECTORS {
        let bytes = hex(v.short);
        let p = protected(&bytes, ParseConfig::new(0));
        assert_eq!(p.ty(), PacketType::OneRtt);
        assert_eq!(p.version(), None);
        assert_eq!(p.pn_offset, 1);
        assert_eq!(p.len(), 21);
        let clear = clear_fields(&p, &hex("4200bff4"));
        assert_eq!(clear.pn, pn(0xbff4, 3));
        assert_eq!(clear.pn.decode(Some(654360563.into())).0, 654360564);
        let header = ShortHeader {
            dcid: ConnectionId::EMPTY,
            spin: false,
            key_phase: false,
        };
        assert_eq!(p.short_header(&clear), Some(header));

        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        let layout = header.write(&mut w, pn(0xbff4, 3), true).unwrap();
        assert_eq!(w.filled(), &hex("4200bff4")[..]);
        assert_eq!(layout.header_len(), header.encoded_len(3));
    }
}

#[test]
fn truncating_an_rfc_packet_at_any_byte_is_an_error() {
    for v in &VECTORS {
        for (packet, cfg) in [
            (v.client, ParseConfig::new(0)),
            (v.server, ParseConfig::new(0)),
            (v.short, ParseConfig::new(0)),
        ] {
            let bytes = hex(packet);
            for n in 0..bytes.len() {
                let r = Packet::parse(&bytes[..n], &cfg);
                assert!(r.is_err(), "prefix of {n} bytes parsed: {r:?}");
            }
        }
        // A Retry has no length: cut into its tag or header it is an error, cut into its
        // token it is a Retry with a shorter token.
        let bytes = hex(v.retry);
        let header_len = 1 + 4 + 1 + 1 + 8;
        for n in 0..bytes.len() {
            match Packet::parse(&bytes[..n], &ParseConfig::new(0)) {
                Err(e) => assert!(n < header_len + RETRY_INTEGRITY_TAG_LEN, "{n}: {e}"),
                Ok((Packet::Retry(r), _)) => assert_eq!(r.header.token.len(), n - header_len - 16),
                Ok(other) => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn length_past_the_end_is_refused() {
    let mut bytes = hex(V1_CLIENT_INITIAL);
    // Length 1182 -> 1183 (bytes 16..18 hold 0x449e).
    bytes[17] = 0x9f;
    assert_eq!(
        Packet::parse(&bytes, &ParseConfig::new(0)),
        Err(HeaderError::LengthPastEnd)
    );
    // An 8-byte Length with the largest varint value.
    let mut huge = bytes[..16].to_vec();
    huge.extend_from_slice(&[0xff; 8]);
    huge.extend_from_slice(&[0; 40]);
    assert_eq!(
        Packet::parse(&huge, &ParseConfig::new(0)),
        Err(HeaderError::LengthPastEnd)
    );
    // A token length past the end.
    let mut token = bytes[..15].to_vec();
    token.extend_from_slice(&[0x80, 0, 0x10, 0]);
    token.extend_from_slice(&[0; 100]);
    assert_eq!(
        Packet::parse(&token, &ParseConfig::new(0)),
        Err(HeaderError::LengthPastEnd)
    );
}

#[test]
fn fixed_bit_zero_is_dropped_unless_greasing_was_advertised() {
    for v in &VECTORS {
        for (packet, dcid_len) in [(v.client, 0), (v.short, 0), (v.retry, 0)] {
            let mut bytes = hex(packet);
            bytes[0] &= !0x40;
            let strict = ParseConfig::new(dcid_len);
            assert_eq!(
                Packet::parse(&bytes, &strict),
                Err(HeaderError::FixedBitZero)
            );
            let (p, _) = Packet::parse(&bytes, &strict.accept_zero_fixed_bit(true)).unwrap();
            match p {
                Packet::Protected(p) => assert!(!p.fixed_bit),
                Packet::Retry(r) => assert!(!r.fixed_bit),
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn reserved_bits_become_a_protocol_violation_after_decryption() {
    for (first, bit) in [(0xc0u8, 0x08u8), (0xc0, 0x04), (0x40, 0x10), (0x40, 0x08)] {
        let clear = decode_protected_fields(first | bit, &[0]).unwrap();
        assert_eq!(clear.reserved_bits, bit);
        let err = clear.check_reserved_bits().unwrap_err();
        assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
    }
    // The key phase bit of a short header is not reserved; in a long header that bit is.
    let short = decode_protected_fields(0x44, &[0]).unwrap();
    assert!(short.key_phase);
    assert!(short.check_reserved_bits().is_ok());
    let long = decode_protected_fields(0xc4, &[0]).unwrap();
    assert!(!long.key_phase);
    assert!(long.check_reserved_bits().is_err());
    // Too few packet-number bytes.
    assert_eq!(
        decode_protected_fields(0x43, &[1, 2, 3]),
        Err(HeaderError::Truncated)
    );
}

#[test]
fn connection_ids_longer_than_20_bytes_are_dropped_in_v1_and_v2() {
    for version in Version::SUPPORTED {
        let mut bytes = vec![0xc0];
        bytes.extend_from_slice(&version.0.to_be_bytes());
        bytes.push(21);
        bytes.extend_from_slice(&[7; 21]);
        bytes.extend_from_slice(&[0, 0, 0x14]);
        bytes.extend_from_slice(&[0; 20]);
        assert_eq!(
            Packet::parse(&bytes, &ParseConfig::new(0)),
            Err(HeaderError::CidTooLong(21))
        );
    }
}

#[test]
fn unknown_versions_yield_their_connection_ids_up_to_255_bytes() {
    let mut bytes = vec![0x80];
    bytes.extend_from_slice(&0x1a2a_3a4au32.to_be_bytes());
    bytes.push(255);
    bytes.extend_from_slice(&[1; 255]);
    bytes.push(200);
    bytes.extend_from_slice(&[2; 200]);
    bytes.extend_from_slice(&[0xab; 900]);
    let (p, rest) = Packet::parse(&bytes, &ParseConfig::new(0)).unwrap();
    assert!(rest.is_empty());
    let Packet::UnsupportedVersion(u) = p else {
        panic!("{p:?}")
    };
    assert_eq!(u.version, Version(0x1a2a_3a4a));
    assert_eq!(u.dcid, &[1; 255][..]);
    assert_eq!(u.scid, &[2; 200][..]);

    // The server answers by echoing them swapped.
    let mut out = vec![0u8; 1000];
    let mut w = Writer::new(&mut out);
    write_version_negotiation(&mut w, u.scid, u.dcid, &Version::SUPPORTED, 0x3f).unwrap();
    let n = w.written();
    let (p, _) = Packet::parse(&out[..n], &ParseConfig::new(0)).unwrap();
    let Packet::VersionNegotiation(vn) = p else {
        panic!("{p:?}")
    };
    assert_eq!(vn.dcid, u.scid);
    assert_eq!(vn.scid, u.dcid);
    assert_eq!(vn.versions().collect::<Vec<_>>(), Version::SUPPORTED);
    assert_eq!(out[0], 0xff, "form, 0x40 and the six random bits");
}

#[test]
fn version_negotiation_with_a_partial_version_is_refused() {
    let mut out = [0u8; 64];
    let mut w = Writer::new(&mut out);
    write_version_negotiation(
        &mut w,
        &[1, 2],
        &[3],
        &[Version::V1, Version(0x0a0a0a0a)],
        0,
    )
    .unwrap();
    let n = w.written();
    let full = out[..n].to_vec();
    let header_len = n - 8;
    for cut in 0..=8 {
        let r = Packet::parse(&full[..n - cut], &ParseConfig::new(0));
        if n - cut < header_len {
            assert_eq!(r, Err(HeaderError::Truncated));
        } else if cut % 4 != 0 {
            assert_eq!(r, Err(HeaderError::BadVersionList), "cut {cut}");
        } else {
            let Ok((Packet::VersionNegotiation(vn), _)) = r else {
                panic!("{r:?}")
            };
            assert_eq!(vn.versions().len(), (8 - cut) / 4);
        }
    }
    // The fixed bit of a Version Negotiation packet is not checked (RFC 9000 §17.2.1).
    let mut zero = full.clone();
    zero[0] = 0x80;
    assert!(matches!(
        Packet::parse(&zero, &ParseConfig::new(0)),
        Ok((Packet::VersionNegotiation(_), _))
    ));
}

// ---------------------------------------------------------------------------------------
// Coalesced datagrams (RFC 9000 §12.2).

/// Writes a long-header packet with `payload` bytes after the packet number.
fn put_long(w: &mut Writer<'_>, h: &LongHeader<'_>, pn_: TruncatedPacketNumber, payload: usize) {
    let layout = h.write_with_length_placeholder(w, pn_, true).unwrap();
    w.put_bytes(0xaa, payload).unwrap();
    layout.patch_length(w.filled_mut(), payload).unwrap();
}

fn long(ty: PacketType, dcid: ConnectionId) -> LongHeader<'static> {
    LongHeader {
        ty,
        version: Version::V1,
        dcid,
        scid: cid("0102"),
        token: if ty == PacketType::Initial {
            b"tok"
        } else {
            &[]
        },
    }
}

#[test]
fn coalesced_initial_handshake_and_one_rtt_split_in_order() {
    let dcid = cid("0a0b0c0d");
    let mut buf = [0u8; 1200];
    let mut w = Writer::new(&mut buf);
    put_long(&mut w, &long(PacketType::Initial, dcid), pn(0, 1), 100);
    let second = w.written();
    put_long(&mut w, &long(PacketType::Handshake, dcid), pn(7, 2), 50);
    let third = w.written();
    let short = ShortHeader {
        dcid,
        spin: true,
        key_phase: false,
    };
    short.write(&mut w, pn(9, 1), true).unwrap();
    w.put_bytes(0xbb, 30).unwrap();
    let n = w.written();

    let packets: Vec<_> = CoalescedPackets::new(&buf[..n], ParseConfig::new(4))
        .map(Result::unwrap)
        .collect();
    let summary: Vec<_> = packets
        .iter()
        .map(|d| match d.packet {
            Packet::Protected(p) => (p.ty(), d.range()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            (PacketType::Initial, 0..second),
            (PacketType::Handshake, second..third),
            (PacketType::OneRtt, third..n),
        ]
    );
    let Packet::Protected(hs) = packets[1].packet else {
        unreachable!()
    };
    let clear = decode_protected_fields(hs.bytes[0], &hs.bytes[hs.pn_offset..]).unwrap();
    assert_eq!(clear.pn, pn(7, 2));
    assert_eq!(
        hs.header,
        ProtectedHeader::Long(long(PacketType::Handshake, dcid))
    );
    let Packet::Protected(one) = packets[2].packet else {
        unreachable!()
    };
    assert_eq!(one.header, ProtectedHeader::Short { dcid, spin: true });
}

#[test]
fn coalesced_packet_with_another_dcid_is_dropped_alone() {
    let a = cid("aaaaaaaa");
    let b = cid("bbbbbbbb");
    let mut buf = [0u8; 1200];
    let mut w = Writer::new(&mut buf);
    put_long(&mut w, &long(PacketType::Initial, a), pn(0, 1), 40);
    let second = w.written();
    put_long(&mut w, &long(PacketType::Handshake, b), pn(1, 1), 40);
    let third = w.written();
    put_long(&mut w, &long(PacketType::Handshake, a), pn(2, 1), 40);
    let n = w.written();

    let items: Vec<_> = CoalescedPackets::new(&buf[..n], ParseConfig::new(4)).collect();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].as_ref().unwrap().range(), 0..second);
    let dropped = items[1].unwrap_err();
    assert_eq!(dropped.error, HeaderError::DcidMismatch);
    assert_eq!(dropped.range(), second..third);
    assert_eq!(items[2].as_ref().unwrap().range(), third..n);
}

#[test]
fn coalesced_length_past_the_end_drops_the_rest_of_the_datagram() {
    let a = cid("aaaaaaaa");
    let mut buf = [0u8; 1200];
    let mut w = Writer::new(&mut buf);
    put_long(&mut w, &long(PacketType::Initial, a), pn(0, 1), 40);
    let second = w.written();
    let layout = long(PacketType::Handshake, a)
        .write_with_length_placeholder(&mut w, pn(1, 1), true)
        .unwrap();
    w.put_bytes(0, 40).unwrap();
    layout.patch_length(w.filled_mut(), 41).unwrap();
    let n = w.written();

    let mut it = CoalescedPackets::new(&buf[..n], ParseConfig::new(4));
    assert!(it.next().unwrap().is_ok());
    let dropped = it.next().unwrap().unwrap_err();
    assert_eq!(dropped.error, HeaderError::LengthPastEnd);
    assert_eq!(dropped.range(), second..n);
    assert!(it.next().is_none());
    assert!(it.next().is_none());
}

#[test]
fn zero_padding_after_the_last_long_packet_is_dropped() {
    let a = cid("aaaaaaaa");
    let mut buf = [0u8; 1200];
    let mut w = Writer::new(&mut buf);
    put_long(&mut w, &long(PacketType::Initial, a), pn(0, 1), 40);
    let end = w.written();
    let items: Vec<_> = CoalescedPackets::new(&buf, ParseConfig::new(4)).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].unwrap_err().range(), end..1200);
    assert_eq!(items[1].unwrap_err().error, HeaderError::FixedBitZero);
}

#[test]
fn too_short_for_a_sample_is_dropped_alone() {
    let a = cid("aaaaaaaa");
    let mut buf = [0u8; 400];
    let mut w = Writer::new(&mut buf);
    put_long(&mut w, &long(PacketType::Initial, a), pn(0, 1), 18);
    let second = w.written();
    put_long(&mut w, &long(PacketType::Handshake, a), pn(0, 1), 19);
    let n = w.written();
    let items: Vec<_> = CoalescedPackets::new(&buf[..n], ParseConfig::new(4)).collect();
    assert_eq!(items[0].unwrap_err().error, HeaderError::TooShortForSample);
    assert_eq!(items[1].as_ref().unwrap().range(), second..n);
    assert_eq!(
        Packet::parse(&buf[..second], &ParseConfig::new(4)),
        Err(HeaderError::TooShortForSample)
    );
}

// ---------------------------------------------------------------------------------------
// Writers.

#[test]
fn failed_writes_leave_the_writer_where_it_was() {
    let h = long(PacketType::Initial, cid("0102030405060708"));
    let need = h.encoded_len(2, 100);
    let mut buf = vec![0u8; need - 1];
    let mut w = Writer::new(&mut buf);
    w.put_u8(9).unwrap();
    assert_eq!(
        h.write(&mut w, pn(1, 2), 100, true),
        Err(WriteError::BufferTooSmall)
    );
    assert_eq!(w.written(), 1);
}

#[test]
fn misused_writers_report_typed_errors() {
    let mut buf = [0u8; 128];
    let mut w = Writer::new(&mut buf);
    let mut h = long(PacketType::Handshake, cid("01"));
    h.token = b"x";
    assert_eq!(
        h.write(&mut w, pn(0, 1), 20, true),
        Err(WriteError::TokenNotAllowed)
    );
    let h = long(PacketType::OneRtt, cid("01"));
    assert_eq!(
        h.write(&mut w, pn(0, 1), 20, true),
        Err(WriteError::WrongPacketType(PacketType::OneRtt))
    );
    let mut h = long(PacketType::Initial, cid("01"));
    assert_eq!(
        h.write(&mut w, pn(0, 5), 20, true),
        Err(WriteError::BadPacketNumberLength(5))
    );
    h.version = Version(0x1234);
    assert_eq!(
        h.write(&mut w, pn(0, 1), 20, true),
        Err(WriteError::UnsupportedVersion(Version(0x1234)))
    );
    assert_eq!(
        write_version_negotiation(&mut w, &[0; 256], &[], &[], 0),
        Err(WriteError::CidTooLong(256))
    );
    assert_eq!(w.written(), 0);
}

#[test]
fn length_placeholder_patches_and_refuses_what_does_not_fit() {
    let h = long(PacketType::Handshake, cid("01"));
    let mut buf = vec![0u8; 20_000];
    let mut w = Writer::new(&mut buf);
    let layout: HeaderLayout = h
        .write_with_length_placeholder(&mut w, pn(3, 2), true)
        .unwrap();
    assert_eq!(layout.header_len(), h.encoded_len_with_placeholder(2));
    assert_eq!(
        layout.patch_length(w.filled_mut(), (1 << 14) - 2),
        Err(WriteError::LengthTooLarge(1 << 14))
    );
    w.put_bytes(0xcc, 70).unwrap();
    layout.patch_length(w.filled_mut(), 70).unwrap();
    let n = w.written();
    let p = protected(&buf[..n], ParseConfig::new(0));
    assert_eq!(p.len(), n);
    assert_eq!(p.len() - p.pn_offset, 72);
    // A short header has no Length field to patch.
    let mut w = Writer::new(&mut buf);
    let layout = ShortHeader {
        dcid: ConnectionId::EMPTY,
        spin: false,
        key_phase: true,
    }
    .write(&mut w, pn(0, 1), true)
    .unwrap();
    assert_eq!(
        layout.patch_length(&mut buf, 3),
        Err(WriteError::NoLengthField)
    );
}

// ---------------------------------------------------------------------------------------
// Round trips: parse(write(x)) == x for every header kind, v1 and v2.

fn arb_cid() -> impl Strategy<Value = ConnectionId> {
    prop::collection::vec(any::<u8>(), 0..=20).prop_map(|v| ConnectionId::new(&v).unwrap())
}

fn arb_version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V1), Just(Version::V2)]
}

fn arb_pn() -> impl Strategy<Value = TruncatedPacketNumber> {
    (1usize..=4, any::<u32>()).prop_map(|(len, v)| {
        let mask = if len == 4 {
            u32::MAX
        } else {
            (1 << (8 * len)) - 1
        };
        pn(v & mask, len)
    })
}

proptest! {
    /// The in-place reading of a short-header datagram agrees with the full parser on every
    /// input: the same error, or the same fields.
    #[test]
    fn short_fields_agree_with_the_parser(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..64),
        cid_len in 0usize..24,
        grease in any::<bool>(),
    ) {
        if let Some(b) = bytes.first_mut() {
            *b &= 0x7f; // short-header form
        }
        let cfg = ParseConfig::new(cid_len).accept_zero_fixed_bit(grease);
        let fast = parse_short_fields(&bytes, &cfg);
        let full = Packet::parse(&bytes, &cfg);
        match (fast, full) {
            (None, Err(e)) => prop_assert_eq!(e, HeaderError::Truncated),
            (Some(Err(a)), Err(b)) => prop_assert_eq!(a, b),
            (Some(Ok(f)), Ok((Packet::Protected(p), rest))) => {
                prop_assert!(rest.is_empty());
                prop_assert_eq!(f.dcid, p.dcid().as_bytes());
                prop_assert_eq!(f.pn_offset, p.pn_offset);
                prop_assert_eq!(f.fixed_bit, p.fixed_bit);
                let spin = matches!(p.header, ProtectedHeader::Short { spin: true, .. });
                prop_assert_eq!(f.spin, spin);
            }
            (fast, full) => prop_assert!(false, "disagree: {:?} vs {:?}", fast, full),
        }
    }
}

proptest! {
    #[test]
    fn long_headers_round_trip(
        ty in prop_oneof![Just(PacketType::Initial), Just(PacketType::ZeroRtt), Just(PacketType::Handshake)],
        version in arb_version(),
        dcid in arb_cid(),
        scid in arb_cid(),
        token in prop::collection::vec(any::<u8>(), 0..100),
        pn_ in arb_pn(),
        payload in 20usize..400,
        fixed_bit: bool,
        placeholder: bool,
        trailing in prop::collection::vec(any::<u8>(), 0..30),
    ) {
        let token = if ty == PacketType::Initial { &token[..] } else { &[][..] };
        let h = LongHeader { ty, version, dcid, scid, token };
        let mut buf = vec![0u8; 1000];
        let mut w = Writer::new(&mut buf);
        let layout = if placeholder {
            let l = h.write_with_length_placeholder(&mut w, pn_, fixed_bit).unwrap();
            prop_assert_eq!(w.written(), h.encoded_len_with_placeholder(pn_.len));
            l
        } else {
            let l = h.write(&mut w, pn_, payload, fixed_bit).unwrap();
            prop_assert_eq!(w.written(), h.encoded_len(pn_.len, payload));
            l
        };
        w.put_bytes(0x5a, payload).unwrap();
        if placeholder {
            layout.patch_length(w.filled_mut(), payload).unwrap();
        }
        let n = w.written();
        w.put_slice(&trailing).unwrap();
        let total = w.written();

        let cfg = ParseConfig::new(0).accept_zero_fixed_bit(!fixed_bit);
        let (packet, rest) = Packet::parse(&buf[..total], &cfg).unwrap();
        prop_assert_eq!(rest, &buf[n..total]);
        let Packet::Protected(p) = packet else { panic!("{packet:?}") };
        prop_assert_eq!(p.header, ProtectedHeader::Long(h));
        prop_assert_eq!(p.fixed_bit, fixed_bit);
        prop_assert_eq!(p.pn_offset, layout.pn_offset);
        prop_assert_eq!(p.len(), n);
        let clear = decode_protected_fields(buf[0], &buf[p.pn_offset..]).unwrap();
        prop_assert_eq!(clear.pn, pn_);
        prop_assert_eq!(clear.reserved_bits, 0);
        prop_assert_eq!(p.payload_offset(&clear), layout.payload_offset());

        // Cut anywhere inside the packet: an error, never a panic.
        for cut in 0..n {
            prop_assert!(Packet::parse(&buf[..cut], &cfg).is_err());
        }
    }

    #[test]
    fn short_headers_round_trip(
        dcid in arb_cid(),
        spin: bool,
        key_phase: bool,
        pn_ in arb_pn(),
        payload in 20usize..200,
        fixed_bit: bool,
    ) {
        let h = ShortHeader { dcid, spin, key_phase };
        let mut buf = vec![0u8; 300];
        let mut w = Writer::new(&mut buf);
        let layout = h.write(&mut w, pn_, fixed_bit).unwrap();
        prop_assert_eq!(w.written(), h.encoded_len(pn_.len));
        w.put_bytes(0x77, payload).unwrap();
        let n = w.written();
        let cfg = ParseConfig::new(dcid.len()).accept_zero_fixed_bit(!fixed_bit);
        let p = protected(&buf[..n], cfg);
        prop_assert_eq!(p.pn_offset, layout.pn_offset);
        let clear = decode_protected_fields(buf[0], &buf[p.pn_offset..]).unwrap();
        prop_assert_eq!(clear.pn, pn_);
        prop_assert_eq!(p.short_header(&clear), Some(h));
        for cut in 0..layout.pn_offset + 20 {
            prop_assert!(Packet::parse(&buf[..cut], &cfg).is_err());
        }
    }

    #[test]
    fn retry_headers_round_trip(
        version in arb_version(),
        dcid in arb_cid(),
        scid in arb_cid(),
        token in prop::collection::vec(any::<u8>(), 0..100),
        tag: [u8; 16],
        fixed_bit: bool,
    ) {
        let h = RetryHeader { version, dcid, scid, token: &token };
        let mut buf = vec![0u8; 300];
        let mut w = Writer::new(&mut buf);
        h.write(&mut w, fixed_bit).unwrap();
        w.put_slice(&tag).unwrap();
        let n = w.written();
        let cfg = ParseConfig::new(0).accept_zero_fixed_bit(!fixed_bit);
        let (packet, rest) = Packet::parse(&buf[..n], &cfg).unwrap();
        prop_assert!(rest.is_empty());
        let Packet::Retry(r) = packet else { panic!("{packet:?}") };
        prop_assert_eq!(r.header, h);
        prop_assert_eq!(r.integrity_tag, tag);
        prop_assert_eq!(r.fixed_bit, fixed_bit);
    }

    #[test]
    fn version_negotiation_round_trips(
        dcid in prop::collection::vec(any::<u8>(), 0..=255),
        scid in prop::collection::vec(any::<u8>(), 0..=255),
        versions in prop::collection::vec(any::<u32>().prop_map(Version), 0..10),
        bits: u8,
    ) {
        let mut buf = vec![0u8; 600];
        let mut w = Writer::new(&mut buf);
        write_version_negotiation(&mut w, &dcid, &scid, &versions, bits).unwrap();
        let n = w.written();
        prop_assert_eq!(n, quic_wire::packet::version_negotiation_len(dcid.len(), scid.len(), versions.len()));
        let (packet, _) = Packet::parse(&buf[..n], &ParseConfig::new(0)).unwrap();
        let Packet::VersionNegotiation(vn) = packet else { panic!("{packet:?}") };
        prop_assert_eq!(vn.dcid, &dcid[..]);
        prop_assert_eq!(vn.scid, &scid[..]);
        prop_assert_eq!(vn.versions().collect::<Vec<_>>(), versions);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        dcid_len in 0usize..=21,
        grease: bool,
    ) {
        let cfg = ParseConfig::new(dcid_len).accept_zero_fixed_bit(grease);
        let _ = Packet::parse(&bytes, &cfg);
        let mut covered = 0;
        for item in CoalescedPackets::new(&bytes, cfg) {
            let range = match item {
                Ok(p) => p.range(),
                Err(d) => d.range(),
            };
            prop_assert_eq!(range.start, covered, "items tile the datagram");
            covered = range.end;
        }
        prop_assert_eq!(covered, bytes.len());
        if let Some(&first) = bytes.first() {
            let _ = decode_protected_fields(first, &bytes[1..]);
        }
    }
}

// ---------------------------------------------------------------------------------------
// RFC 9001 Appendix A.2, A.3 and RFC 9369 Appendix A.2, A.3: the protected packets,
// copied from /work/shared/specs. Included by packets.rs.

const V1_CLIENT_INITIAL: &str = concat!(
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11",
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399",
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c",
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212",
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5",
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208",
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec",
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3",
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db",
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c",
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8",
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556",
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74",
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a",
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00",
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632",
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964",
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd",
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff",
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198",
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd",
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73",
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f",
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e",
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade",
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047",
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2",
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4",
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0",
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e",
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0",
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400",
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab",
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9",
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4",
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064",
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241",
    "e221af44860018ab0856972e194cd934",
);
const V1_SERVER_INITIAL: &str = concat!(
    "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a",
    "5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3",
    "dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84",
    "022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4",
    "2158407dd074ee",
);
const V2_CLIENT_INITIAL: &str = concat!(
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485",
    "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04",
    "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d",
    "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a",
    "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500",
    "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68",
    "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33",
    "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3",
    "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd",
    "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520",
    "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045",
    "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f",
    "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12",
    "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5",
    "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4",
    "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b",
    "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7",
    "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9",
    "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91",
    "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd",
    "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db",
    "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18",
    "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15",
    "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc",
    "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61",
    "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710",
    "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b",
    "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e",
    "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce",
    "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1",
    "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1",
    "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd",
    "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3",
    "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89",
    "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53",
    "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19",
    "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b",
    "a18b2faa745b6fe189cf772a9f84cbfc",
);
const V2_SERVER_INITIAL: &str = concat!(
    "dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698",
    "baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17",
    "f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2",
    "c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8",
    "4bed8521e2e140",
);
