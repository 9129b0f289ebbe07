//! quic-wire end to end: packets built with `PacketBuilder`, coalesced, split again with
//! `CoalescedPackets`, unprotected and opened in place, and walked with `FrameIter`, in QUIC
//! v1 and v2 (RFC 9000 §12.2, §17; RFC 9001 §5; RFC 9369; RFC 10069 §2.4).
#![cfg(feature = "ring")]

use std::vec::Vec;

use quic_wire::{
    cid::ResetToken,
    crypto::{
        initial_keys, keys_from_secret, protect_header, CryptoError, DirectionalKeys, PacketKey,
        Suite, TAG_LEN,
    },
    frame::{AckFrame, Frame, FrameIter, NewConnectionId, StreamFrame},
    packet::{
        open_in_place, BuildError, CoalescedPackets, LongHeader, OpenError, Packet, PacketBuilder,
        ParseConfig, ProtectedPacket, ShortHeader,
    },
    ConnectionId, PacketNumber, PacketType, PathId, Side, StreamId, TransportErrorCode, VarInt,
    Version,
};

const CLIENT_CID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
const SERVER_CID: [u8; 5] = [0xf0, 0x67, 0xa5, 0x50, 0x2a];
const HANDSHAKE_SECRET: [u8; 32] = [0x11; 32];
const ONE_RTT_SECRET: [u8; 32] = [0x22; 32];

fn cid(b: &[u8]) -> ConnectionId {
    ConnectionId::new(b).unwrap()
}

/// What a receiver learns from one packet.
#[derive(Debug)]
struct Received {
    ty: PacketType,
    pn: PacketNumber,
    /// The decrypted payload's range in the datagram.
    payload: std::ops::Range<usize>,
}

/// Where a protected packet sits in its datagram: what a receiver copies out of the parsed
/// header before it decrypts the packet in place.
#[derive(Debug, Clone, Copy)]
struct Located {
    at: usize,
    ty: PacketType,
    pn_offset: usize,
    len: usize,
}

impl Located {
    fn new(at: usize, p: &ProtectedPacket<'_>) -> Self {
        Located {
            at,
            ty: p.ty(),
            pn_offset: p.pn_offset,
            len: p.len(),
        }
    }
}

/// Parses the single packet at the start of `datagram`.
fn locate(datagram: &[u8], cfg: &ParseConfig) -> Located {
    let (packet, _) = Packet::parse(datagram, cfg).unwrap();
    let Packet::Protected(p) = packet else {
        panic!("not a protected packet: {packet:?}")
    };
    Located::new(0, &p)
}

/// Opens the packet at `loc` in place with `open_in_place`, as a connection does.
fn open(
    datagram: &mut [u8],
    loc: Located,
    keys: &DirectionalKeys,
    path: PathId,
    largest: Option<PacketNumber>,
) -> Result<Received, OpenError> {
    let packet = &mut datagram[loc.at..loc.at + loc.len];
    let opened = open_in_place(packet, loc.pn_offset, largest, path, &keys.header, |_| {
        Some(&keys.packet)
    })?;
    let payload = opened.payload_range();
    Ok(Received {
        ty: loc.ty,
        pn: opened.pn,
        payload: loc.at + payload.start..loc.at + payload.end,
    })
}

fn frames(payload: &[u8], ty: PacketType) -> Vec<Frame<'_>> {
    FrameIter::new(payload, ty)
        .collect::<Result<_, _>>()
        .unwrap()
}

fn one_rtt_keys(version: Version) -> DirectionalKeys {
    keys_from_secret(Suite::ChaCha20Poly1305, version, &ONE_RTT_SECRET).unwrap()
}

#[test]
fn client_initial_is_padded_to_1200_bytes_and_opens_at_the_server() {
    for version in Version::SUPPORTED {
        let client = initial_keys(version, &cid(&CLIENT_CID), Side::Client).unwrap();
        let server = initial_keys(version, &cid(&CLIENT_CID), Side::Server).unwrap();
        let hello = [0x01u8; 300];
        let header = LongHeader {
            ty: PacketType::Initial,
            version,
            dcid: cid(&CLIENT_CID),
            scid: cid(&[]),
            token: &[],
        };
        let mut datagram = [0u8; 1500];
        let mut b =
            PacketBuilder::long(&mut datagram, &header, PacketNumber(0), None, TAG_LEN, true)
                .unwrap();
        b.push(&Frame::Crypto {
            offset: 0,
            data: &hello,
        })
        .unwrap();
        b.pad_to(1200);
        let len = b
            .finish(PathId::ZERO, &client.local.packet, &client.local.header)
            .unwrap();
        assert_eq!(
            len, 1200,
            "RFC 9000 §14.1: client Initial datagrams are at least 1200 bytes"
        );

        let datagram = &mut datagram[..len];
        let (packet, rest) = Packet::parse(datagram, &ParseConfig::new(8)).unwrap();
        assert!(rest.is_empty());
        let Packet::Protected(p) = packet else {
            panic!("not a protected packet: {packet:?}")
        };
        assert_eq!(p.version(), Some(version));
        let got = open(
            datagram,
            Located::new(0, &p),
            &server.remote,
            PathId::ZERO,
            None,
        )
        .unwrap();
        assert_eq!((got.ty, got.pn), (PacketType::Initial, PacketNumber(0)));
        let payload = &datagram[got.payload.clone()];
        let fr = frames(payload, PacketType::Initial);
        assert_eq!(
            fr[0],
            Frame::Crypto {
                offset: 0,
                data: &hello
            }
        );
        let padding = 1200
            - TAG_LEN
            - got.payload.start
            - Frame::Crypto {
                offset: 0,
                data: &hello,
            }
            .encoded_len();
        assert_eq!(fr[1..], [Frame::Padding { len: padding }]);
    }
}

#[test]
fn server_flight_coalesces_initial_handshake_and_one_rtt_and_splits_back() {
    for version in Version::SUPPORTED {
        let initial = initial_keys(version, &cid(&CLIENT_CID), Side::Server).unwrap();
        let client_initial = initial_keys(version, &cid(&CLIENT_CID), Side::Client).unwrap();
        let handshake = keys_from_secret(Suite::Aes128Gcm, version, &HANDSHAKE_SECRET).unwrap();
        let one_rtt = one_rtt_keys(version);
        let (ack_buf, server_hello, extensions, body) =
            ([0u8; 0], [0x02u8; 90], [0x08u8; 700], [0x42u8; 150]);
        let _ = ack_buf;

        let mut datagram = [0u8; 1452];
        let mut at = 0;
        // Initial: ACK of the client's packet 0 and the ServerHello.
        let long = |ty| LongHeader {
            ty,
            version,
            dcid: cid(&[]),
            scid: cid(&SERVER_CID),
            token: &[],
        };
        let mut b = PacketBuilder::long(
            &mut datagram[at..],
            &long(PacketType::Initial),
            PacketNumber(0),
            None,
            TAG_LEN,
            true,
        )
        .unwrap();
        b.write(|w| AckFrame::write_ranges(w, None, [0..=0u64].into_iter(), 0, None, 64))
            .unwrap();
        b.push(&Frame::Crypto {
            offset: 0,
            data: &server_hello,
        })
        .unwrap();
        at += b
            .finish(PathId::ZERO, &initial.local.packet, &initial.local.header)
            .unwrap();
        // Handshake: EncryptedExtensions and the rest of the flight.
        let mut b = PacketBuilder::long(
            &mut datagram[at..],
            &long(PacketType::Handshake),
            PacketNumber(0),
            None,
            TAG_LEN,
            true,
        )
        .unwrap();
        b.push(&Frame::Crypto {
            offset: 0,
            data: &extensions,
        })
        .unwrap();
        at += b
            .finish(PathId::ZERO, &handshake.packet, &handshake.header)
            .unwrap();
        // 1-RTT (0.5-RTT data): a STREAM frame, a new connection ID and a DATAGRAM.
        let new_cid = NewConnectionId {
            sequence: VarInt::from_u32(1),
            retire_prior_to: VarInt::ZERO,
            cid: cid(&[9; 8]),
            reset_token: ResetToken([7; 16]),
        };
        let stream = StreamFrame {
            id: StreamId::from(VarInt::from_u32(1)),
            offset: 0,
            data: &body,
            fin: true,
            has_len: true,
        };
        let short = ShortHeader {
            dcid: cid(&[]),
            spin: false,
            key_phase: false,
        };
        let mut b = PacketBuilder::short(
            &mut datagram[at..],
            &short,
            PacketNumber(0),
            None,
            TAG_LEN,
            true,
        )
        .unwrap();
        b.push(&Frame::Stream(stream)).unwrap();
        b.push(&Frame::NewConnectionId(new_cid)).unwrap();
        b.push(&Frame::Datagram {
            data: b"unreliable",
            has_len: false,
        })
        .unwrap();
        at += b
            .finish(PathId::ZERO, &one_rtt.packet, &one_rtt.header)
            .unwrap();

        // The client splits the datagram; empty CIDs, since it chose a zero-length one.
        let datagram = &mut datagram[..at];
        // Copy out where each packet is, then decrypt in place.
        let layout: Vec<Located> = CoalescedPackets::new(datagram, ParseConfig::new(0))
            .map(|r| {
                let dp = r.unwrap();
                let Packet::Protected(p) = dp.packet else {
                    panic!("{:?}", dp.packet)
                };
                Located::new(dp.offset, &p)
            })
            .collect();
        let types: Vec<PacketType> = layout.iter().map(|l| l.ty).collect();
        assert_eq!(
            types,
            [
                PacketType::Initial,
                PacketType::Handshake,
                PacketType::OneRtt
            ]
        );

        let got = open(
            datagram,
            layout[0],
            &client_initial.remote,
            PathId::ZERO,
            None,
        )
        .unwrap();
        let fr = frames(&datagram[got.payload], PacketType::Initial);
        let Frame::Ack(ack) = fr[0] else {
            panic!("{fr:?}")
        };
        assert_eq!(ack.iter().collect::<Vec<_>>(), [0..=0]);
        assert_eq!(
            fr[1],
            Frame::Crypto {
                offset: 0,
                data: &server_hello
            }
        );

        let got = open(datagram, layout[1], &handshake, PathId::ZERO, None).unwrap();
        assert_eq!(
            frames(&datagram[got.payload], PacketType::Handshake),
            [Frame::Crypto {
                offset: 0,
                data: &extensions
            }]
        );

        let got = open(datagram, layout[2], &one_rtt, PathId::ZERO, None).unwrap();
        assert_eq!(
            frames(&datagram[got.payload], PacketType::OneRtt),
            [
                Frame::Stream(stream),
                Frame::NewConnectionId(new_cid),
                Frame::Datagram {
                    data: b"unreliable",
                    has_len: false
                }
            ]
        );
    }
}

#[test]
fn a_packet_sealed_for_one_path_does_not_open_on_another() {
    let keys = one_rtt_keys(Version::V1);
    let short = ShortHeader {
        dcid: cid(&SERVER_CID),
        spin: true,
        key_phase: false,
    };
    let mut buf = [0u8; 200];
    let mut b = PacketBuilder::short(
        &mut buf,
        &short,
        PacketNumber(77),
        Some(PacketNumber(70)),
        TAG_LEN,
        true,
    )
    .unwrap();
    b.push(&Frame::Ping).unwrap();
    let len = b.finish(PathId(3), &keys.packet, &keys.header).unwrap();
    let cfg = ParseConfig::new(SERVER_CID.len());
    let received = buf[..len].to_vec();
    for (path, opens) in [(PathId(3), true), (PathId::ZERO, false), (PathId(4), false)] {
        let mut datagram = received.clone();
        let got = open(
            &mut datagram,
            locate(&received, &cfg),
            &keys,
            path,
            Some(PacketNumber(76)),
        );
        match got {
            Ok(r) => {
                assert!(opens, "opened on {path:?}");
                assert_eq!(r.pn, PacketNumber(77));
                // 1-byte first byte, 5-byte CID, 1-byte packet number, PING: padded by 2
                // so the sample (pn offset + 4, 16 bytes) fits.
                assert_eq!(
                    frames(&datagram[r.payload], PacketType::OneRtt),
                    [Frame::Ping, Frame::Padding { len: 2 }]
                );
            }
            Err(e) => {
                assert!(!opens, "did not open on {path:?}: {e}");
                assert_eq!(e, OpenError::Crypto(CryptoError::DecryptFailed));
            }
        }
    }
}

#[test]
fn a_flipped_bit_anywhere_makes_the_packet_fail_to_open() {
    let keys = one_rtt_keys(Version::V2);
    let short = ShortHeader {
        dcid: cid(&SERVER_CID),
        spin: false,
        key_phase: true,
    };
    let mut buf = [0u8; 200];
    let mut b = PacketBuilder::short(
        &mut buf,
        &short,
        PacketNumber(5),
        Some(PacketNumber(4)),
        TAG_LEN,
        true,
    )
    .unwrap();
    b.push(&Frame::MaxData(VarInt::from_u32(1 << 20))).unwrap();
    let len = b.finish(PathId::ZERO, &keys.packet, &keys.header).unwrap();
    let cfg = ParseConfig::new(SERVER_CID.len());
    let sealed = buf[..len].to_vec();
    // Bits 0x80 and 0x40 of the first byte and the CID decide how the packet is parsed, so
    // flip everything after the CID and the protected bits of the first byte.
    let mut positions: Vec<(usize, u8)> = (0..5).map(|b| (0, 1u8 << b)).collect();
    positions.extend((1 + SERVER_CID.len()..len).flat_map(|i| (0..8).map(move |b| (i, 1u8 << b))));
    for (i, bit) in positions {
        let mut datagram = sealed.clone();
        datagram[i] ^= bit;
        let Ok((Packet::Protected(p), _)) = Packet::parse(&datagram, &cfg) else {
            continue;
        };
        let loc = Located::new(0, &p);
        assert!(
            open(
                &mut datagram,
                loc,
                &keys,
                PathId::ZERO,
                Some(PacketNumber(4))
            )
            .is_err(),
            "byte {i} bit {bit:#x}"
        );
    }
}

#[test]
fn builder_pads_tiny_packets_for_the_header_protection_sample() {
    let keys = one_rtt_keys(Version::V1);
    let short = ShortHeader {
        dcid: cid(&[]),
        spin: false,
        key_phase: false,
    };
    let mut buf = [0u8; 100];
    let mut b = PacketBuilder::short(
        &mut buf,
        &short,
        PacketNumber(1000),
        Some(PacketNumber(999)),
        TAG_LEN,
        true,
    )
    .unwrap();
    b.push(&Frame::Ping).unwrap();
    let len = b.finish(PathId::ZERO, &keys.packet, &keys.header).unwrap();
    // RFC 9001 §5.4.2: the sample is 16 bytes starting 4 bytes after the packet number.
    assert_eq!(len, 1 + 4 + 16, "1-byte header, then pn offset + 4 + 16");
    let loc = locate(&buf[..len], &ParseConfig::new(0));
    let got = open(
        &mut buf[..len],
        loc,
        &keys,
        PathId::ZERO,
        Some(PacketNumber(999)),
    )
    .unwrap();
    let fr = frames(&buf[got.payload], PacketType::OneRtt);
    assert_eq!(fr[0], Frame::Ping);
    assert!(matches!(fr[1..], [Frame::Padding { .. }]));
}

#[test]
fn builder_refuses_empty_packets_and_short_buffers() {
    let keys = one_rtt_keys(Version::V1);
    let short = ShortHeader {
        dcid: cid(&[1; 8]),
        spin: false,
        key_phase: false,
    };
    let mut buf = [0u8; 100];
    let b = PacketBuilder::short(&mut buf, &short, PacketNumber(0), None, TAG_LEN, true).unwrap();
    assert_eq!(
        b.finish(PathId::ZERO, &keys.packet, &keys.header),
        Err(BuildError::Empty)
    );
    let mut tiny = [0u8; 28];
    let mut b =
        PacketBuilder::short(&mut tiny, &short, PacketNumber(0), None, TAG_LEN, true).unwrap();
    assert_eq!(b.remaining(), 28 - TAG_LEN - 1 - 8 - 1);
    assert_eq!(
        b.push(&Frame::MaxData(VarInt::from_u32(1 << 30))),
        Err(BuildError::BufferTooSmall)
    );
    b.push(&Frame::Ping).unwrap();
    assert_eq!(
        b.finish(PathId::ZERO, &keys.packet, &keys.header),
        Err(BuildError::BufferTooSmall)
    );
    assert_eq!(
        PacketBuilder::short(&mut [0u8; 10], &short, PacketNumber(0), None, TAG_LEN, true).err(),
        Some(BuildError::BufferTooSmall)
    );
}

#[test]
fn forbidden_frames_in_a_decrypted_handshake_packet_close_with_protocol_violation() {
    let keys = keys_from_secret(Suite::Aes256Gcm, Version::V1, &[0x33; 48]).unwrap();
    let header = LongHeader {
        ty: PacketType::Handshake,
        version: Version::V1,
        dcid: cid(&[]),
        scid: cid(&[]),
        token: &[],
    };
    let mut buf = [0u8; 200];
    let mut b = PacketBuilder::long(
        &mut buf,
        &header,
        PacketNumber(3),
        None,
        keys.packet.tag_len(),
        true,
    )
    .unwrap();
    b.push(&Frame::Ping).unwrap();
    // HANDSHAKE_DONE is 1-RTT only (RFC 9000 §12.4, Table 3).
    b.push(&Frame::HandshakeDone).unwrap();
    let len = b.finish(PathId::ZERO, &keys.packet, &keys.header).unwrap();
    let loc = locate(&buf[..len], &ParseConfig::new(0));
    let got = open(&mut buf[..len], loc, &keys, PathId::ZERO, None).unwrap();
    let mut it = FrameIter::new(&buf[got.payload], PacketType::Handshake);
    assert_eq!(it.next(), Some(Ok(Frame::Ping)));
    let err = it.next().unwrap().unwrap_err();
    assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
    assert_eq!(err.frame_type, Some(quic_wire::FrameType::HANDSHAKE_DONE));
    assert_eq!(it.next(), None);
}

#[test]
fn reserved_bits_close_the_connection_only_after_the_packet_authenticates() {
    let keys = one_rtt_keys(Version::V1);
    let short = ShortHeader {
        dcid: cid(&SERVER_CID),
        spin: false,
        key_phase: false,
    };
    // Build by hand so the reserved bits (0x18 in a short header) can be set before sealing.
    let mut buf = [0u8; 64];
    let mut w = quic_wire::codec::Writer::new(&mut buf);
    let layout = short
        .write(&mut w, PacketNumber(9).truncate(None), true)
        .unwrap();
    Frame::Ping.write(&mut w).unwrap();
    w.put_bytes(0, 20).unwrap();
    let len = w.written() + TAG_LEN;
    buf[0] |= 0x08;
    let header_len = layout.payload_offset();
    keys.packet
        .seal_packet(PathId::ZERO, PacketNumber(9), &mut buf[..len], header_len)
        .unwrap();
    protect_header(&keys.header, &mut buf[..len], layout.pn_offset).unwrap();

    let mut forged = buf;
    forged[len - 1] ^= 1;
    let loc = locate(&buf[..len], &ParseConfig::new(SERVER_CID.len()));
    // Forged: the AEAD fails first, so the packet is merely dropped.
    assert_eq!(
        open(&mut forged, loc, &keys, PathId::ZERO, None).unwrap_err(),
        OpenError::Crypto(CryptoError::DecryptFailed)
    );
    // Genuine: PROTOCOL_VIOLATION (RFC 9000 §17.3.1).
    let OpenError::Violation(e) = open(&mut buf, loc, &keys, PathId::ZERO, None).unwrap_err()
    else {
        panic!("expected a violation")
    };
    assert_eq!(e.code, TransportErrorCode::PROTOCOL_VIOLATION);
}

#[test]
fn a_missing_key_for_the_key_phase_drops_the_packet() {
    let keys = one_rtt_keys(Version::V1);
    let short = ShortHeader {
        dcid: cid(&[]),
        spin: false,
        key_phase: true,
    };
    let mut buf = [0u8; 64];
    let mut b =
        PacketBuilder::short(&mut buf, &short, PacketNumber(3), None, TAG_LEN, true).unwrap();
    b.push(&Frame::Ping).unwrap();
    let len = b.finish(PathId::ZERO, &keys.packet, &keys.header).unwrap();
    let loc = locate(&buf[..len], &ParseConfig::new(0));
    let got = open_in_place(
        &mut buf[..len],
        loc.pn_offset,
        None,
        PathId::ZERO,
        &keys.header,
        |phase| (!phase).then_some(&keys.packet),
    );
    assert_eq!(got, Err(OpenError::NoKey(true)));
}
