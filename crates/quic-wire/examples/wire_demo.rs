//! `cargo run -p quic-wire --example wire_demo`: a walk through quic-wire.
//!
//! For QUIC v1 and v2 it builds a client's first Initial and a server's coalesced
//! Initial + Handshake + 1-RTT flight, protects them, then parses, unprotects, opens and
//! walks them as a receiver does; it shows a Retry with its integrity tag, a Version
//! Negotiation exchange, transport parameters, and how bad input is answered.
//!
//! The Handshake and 1-RTT secrets are fixed here: in a connection they come from TLS.

use std::error::Error;

use quic_wire::{
    codec::Writer,
    crypto::{
        initial_keys, keys_from_secret, retry_integrity_tag, verify_retry_integrity,
        DirectionalKeys, Suite, TAG_LEN,
    },
    frame::{AckFrame, Frame, FrameIter, StreamFrame},
    packet::{
        open_in_place, write_version_negotiation, CoalescedPackets, LongHeader, Packet,
        PacketBuilder, ParseConfig, RetryHeader, ShortHeader,
    },
    transport_params::{TransportParameters, VersionInformation},
    ConnectionId, PacketNumber, PacketType, PathId, Side, StreamId, VarInt, Version,
};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const CLIENT_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
const CLIENT_SCID: [u8; 4] = [0xc1, 0x1e, 0x47, 0x01];
const SERVER_CID: [u8; 8] = [0x5e, 0x4f, 0xe4, 0x00, 0x00, 0x00, 0x00, 0x01];

fn cid(b: &[u8]) -> ConnectionId {
    ConnectionId::new(b).expect("demo CIDs are at most 20 bytes")
}

fn hex(b: &[u8], max: usize) -> String {
    let mut s: String = b.iter().take(max).map(|x| format!("{x:02x}")).collect();
    if b.len() > max {
        s.push('…');
    }
    s
}

fn main() -> Result {
    println!("quic-wire demo: packets and frames on the wire, protected in place\n");
    for version in Version::SUPPORTED {
        first_flight(version)?;
        server_flight(version)?;
    }
    retry()?;
    version_negotiation()?;
    transport_parameters()?;
    bad_input()?;
    Ok(())
}

/// The client's first datagram: one Initial with a CRYPTO frame, padded to 1200 bytes.
fn first_flight(version: Version) -> Result {
    println!("== {version}: client Initial ==");
    let keys = initial_keys(version, &cid(&CLIENT_DCID), Side::Client)?;
    let client_hello = [0x16u8; 280];
    let header = LongHeader {
        ty: PacketType::Initial,
        version,
        dcid: cid(&CLIENT_DCID),
        scid: cid(&CLIENT_SCID),
        token: &[],
    };
    let mut datagram = [0u8; 1452];
    let mut b = PacketBuilder::long(&mut datagram, &header, PacketNumber(0), None, TAG_LEN, true)?;
    b.push(&Frame::Crypto {
        offset: 0,
        data: &client_hello,
    })?;
    b.pad_to(1200);
    let len = b.finish(PathId::ZERO, &keys.local.packet, &keys.local.header)?;
    println!("sent {len} bytes: {}", hex(&datagram[..len], 40));
    // The server derives the same Initial keys from the DCID it sees.
    let server = initial_keys(version, &cid(&CLIENT_DCID), Side::Server)?;
    receive(&mut datagram[..len], 8, |_| Some(&server.remote))?;
    Ok(())
}

/// The server's reply: Initial (ACK + ServerHello), Handshake and 1-RTT coalesced.
fn server_flight(version: Version) -> Result {
    println!("== {version}: server flight, three packets in one datagram ==");
    let initial = initial_keys(version, &cid(&CLIENT_DCID), Side::Server)?;
    let handshake = keys_from_secret(Suite::Aes128Gcm, version, &[0x48; 32])?;
    let one_rtt = keys_from_secret(Suite::ChaCha20Poly1305, version, &[0x31; 32])?;
    let long = |ty| LongHeader {
        ty,
        version,
        dcid: cid(&CLIENT_SCID),
        scid: cid(&SERVER_CID),
        token: &[],
    };
    let mut datagram = [0u8; 1452];
    let mut at = 0;

    let mut b = PacketBuilder::long(
        &mut datagram,
        &long(PacketType::Initial),
        PacketNumber(0),
        None,
        TAG_LEN,
        true,
    )?;
    b.write(|w| AckFrame::write_ranges(w, None, [0..=0u64].into_iter(), 0, None, 32))?;
    b.push(&Frame::Crypto {
        offset: 0,
        data: &[0x02; 90],
    })?;
    at += b.finish(PathId::ZERO, &initial.local.packet, &initial.local.header)?;

    let mut b = PacketBuilder::long(
        &mut datagram[at..],
        &long(PacketType::Handshake),
        PacketNumber(0),
        None,
        TAG_LEN,
        true,
    )?;
    b.push(&Frame::Crypto {
        offset: 0,
        data: &[0x08; 600],
    })?;
    at += b.finish(PathId::ZERO, &handshake.packet, &handshake.header)?;

    let short = ShortHeader {
        dcid: cid(&CLIENT_SCID),
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
    )?;
    let stream = StreamFrame {
        id: StreamId::from(VarInt::from_u32(1)),
        offset: 0,
        data: b"HTTP/3 would go here",
        fin: true,
        has_len: true,
    };
    b.push(&Frame::Stream(stream))?;
    b.push(&Frame::Datagram {
        data: b"an unreliable datagram",
        has_len: false,
    })?;
    at += b.finish(PathId::ZERO, &one_rtt.packet, &one_rtt.header)?;
    println!("sent {at} bytes");
    let client_initial = initial_keys(version, &cid(&CLIENT_DCID), Side::Client)?;

    receive(&mut datagram[..at], CLIENT_SCID.len(), |ty| match ty {
        PacketType::Initial => Some(&client_initial.remote),
        PacketType::Handshake => Some(&handshake),
        PacketType::OneRtt => Some(&one_rtt),
        _ => None,
    })
}

/// Splits a datagram into packets, removes protection in place and prints every frame.
fn receive<'k, F>(datagram: &mut [u8], local_cid_len: usize, keys_for: F) -> Result
where
    F: Fn(PacketType) -> Option<&'k DirectionalKeys>,
{
    // Copy where each packet is out of the parse, then decrypt each in place.
    let located: Vec<(usize, PacketType, usize, usize)> =
        CoalescedPackets::new(datagram, ParseConfig::new(local_cid_len))
            .filter_map(|r| match r {
                Ok(dp) => match dp.packet {
                    Packet::Protected(p) => Some((dp.offset, p.ty(), p.pn_offset, p.len())),
                    other => {
                        println!("  not a protected packet: {other:?}");
                        None
                    }
                },
                Err(dropped) => {
                    println!("  dropped {} bytes: {}", dropped.len, dropped.error);
                    None
                }
            })
            .collect();
    for (at, ty, pn_offset, len) in located {
        let Some(keys) = keys_for(ty) else { continue };
        let packet = &mut datagram[at..at + len];
        // Header protection off, packet number recovered, payload decrypted in place.
        let opened = open_in_place(packet, pn_offset, None, PathId::ZERO, &keys.header, |_| {
            Some(&keys.packet)
        })?;
        println!(
            "  {ty:?} packet {}: {len} bytes at offset {at}, {} bytes of frames",
            opened.pn, opened.payload_len
        );
        for frame in FrameIter::new(&packet[opened.payload_range()], ty) {
            match frame? {
                Frame::Crypto { offset, data } => {
                    println!("    CRYPTO offset {offset}, {} bytes", data.len())
                }
                Frame::Stream(s) => println!(
                    "    STREAM {} offset {} fin {}: {:?}",
                    s.id,
                    s.offset,
                    s.fin,
                    String::from_utf8_lossy(s.data)
                ),
                Frame::Datagram { data, .. } => {
                    println!("    DATAGRAM {:?}", String::from_utf8_lossy(data))
                }
                Frame::Ack(ack) => println!("    ACK {:?}", ack.iter().collect::<Vec<_>>()),
                other => println!("    {other:?}"),
            }
        }
    }
    println!();
    Ok(())
}

/// A Retry, its integrity tag (RFC 9001 §5.8, RFC 9369 §3.3.3), and a forged one.
fn retry() -> Result {
    println!("== Retry ==");
    for version in Version::SUPPORTED {
        let header = RetryHeader {
            version,
            dcid: cid(&CLIENT_SCID),
            scid: cid(&SERVER_CID),
            token: b"address-validation-token",
        };
        let mut buf = [0u8; 128];
        let mut w = Writer::new(&mut buf);
        header.write(&mut w, true)?;
        let len = w.written();
        let tag = retry_integrity_tag(version, &cid(&CLIENT_DCID), &buf[..len])?;
        buf[len..len + 16].copy_from_slice(&tag);
        let retry = &mut buf[..len + 16];
        let valid = verify_retry_integrity(version, &cid(&CLIENT_DCID), retry);
        retry[10] ^= 1;
        let forged = verify_retry_integrity(version, &cid(&CLIENT_DCID), retry);
        println!(
            "  {version}: {} bytes, tag {}; verifies: {valid}; with one bit flipped: {forged}",
            len + 16,
            hex(&tag, 16)
        );
    }
    println!();
    Ok(())
}

/// A client offers an unknown version; the server answers with Version Negotiation.
fn version_negotiation() -> Result {
    println!("== Version Negotiation ==");
    let offered = Version(0x1a2a_3a4a);
    let mut first = [0u8; 1200];
    let header = LongHeader {
        ty: PacketType::Initial,
        version: Version::V1,
        dcid: cid(&CLIENT_DCID),
        scid: cid(&CLIENT_SCID),
        token: &[],
    };
    let keys = initial_keys(Version::V1, &cid(&CLIENT_DCID), Side::Client)?;
    let mut b = PacketBuilder::long(&mut first, &header, PacketNumber(0), None, TAG_LEN, true)?;
    b.push(&Frame::Ping)?;
    b.pad_to(1200);
    let len = b.finish(PathId::ZERO, &keys.local.packet, &keys.local.header)?;
    first[1..5].copy_from_slice(&offered.0.to_be_bytes()); // as if the client spoke a version we don't
    let Packet::UnsupportedVersion(u) = Packet::parse(&first[..len], &ParseConfig::new(8))?.0
    else {
        return Err("expected an unsupported version".into());
    };
    println!(
        "  server got version {:?} from {}",
        u.version,
        hex(u.scid, 8)
    );
    let mut vn = [0u8; 64];
    let mut w = Writer::new(&mut vn);
    write_version_negotiation(&mut w, u.scid, u.dcid, &Version::SUPPORTED, 0x2a)?;
    let n = w.written();
    let Packet::VersionNegotiation(v) = Packet::parse(&vn[..n], &ParseConfig::new(4))?.0 else {
        return Err("expected Version Negotiation".into());
    };
    println!(
        "  client got Version Negotiation ({n} bytes) listing {:?}\n",
        v.versions().collect::<Vec<_>>()
    );
    Ok(())
}

/// The server's transport parameters, encoded and decoded (RFC 9000 §18).
fn transport_parameters() -> Result {
    println!("== Transport parameters ==");
    let tp = TransportParameters {
        original_destination_connection_id: Some(cid(&CLIENT_DCID)),
        initial_source_connection_id: Some(cid(&SERVER_CID)),
        max_idle_timeout_ms: VarInt::from_u32(30_000),
        initial_max_data: VarInt::from_u32(10 << 20),
        initial_max_stream_data_bidi_remote: VarInt::from_u32(1 << 20),
        initial_max_streams_bidi: VarInt::from_u32(100),
        max_datagram_frame_size: Some(VarInt::from_u32(1200)),
        grease_quic_bit: true,
        min_ack_delay_us: Some(VarInt::from_u32(1000)),
        initial_max_path_id: Some(PathId(4)),
        version_information: VersionInformation::new(Version::V1, &Version::SUPPORTED),
        ..TransportParameters::default()
    };
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf);
    tp.encode(&mut w)?;
    let n = w.written();
    println!("  {n} bytes: {}", hex(&buf[..n], 48));
    let back = TransportParameters::decode(&buf[..n], Side::Server)?;
    println!("  decodes to the same parameters: {}", back == tp);
    match TransportParameters::decode(&buf[..n], Side::Client) {
        Err(e) => println!("  the same bytes from a client: {e}\n"),
        Ok(_) => println!("  the same bytes from a client were accepted?!\n"),
    }
    Ok(())
}

/// What a receiver answers to bad input: connection errors with their exact code.
fn bad_input() -> Result {
    println!("== Bad input ==");
    let cases: [(&str, &[u8], PacketType); 5] = [
        (
            "STREAM in an Initial packet",
            &[0x08, 0x00, 0x61],
            PacketType::Initial,
        ),
        (
            "PING encoded in two bytes",
            &[0x40, 0x01],
            PacketType::OneRtt,
        ),
        ("unknown frame type 0x21", &[0x21], PacketType::OneRtt),
        (
            "ACK range below packet 0",
            &[0x02, 0x05, 0x00, 0x00, 0x06],
            PacketType::OneRtt,
        ),
        ("empty payload", &[], PacketType::Handshake),
    ];
    for (what, payload, ty) in cases {
        let err = FrameIter::new(payload, ty).find_map(|f| f.err());
        match err {
            Some(e) => println!("  {what}: {e}"),
            None => println!("  {what}: accepted?!"),
        }
    }
    Ok(())
}
