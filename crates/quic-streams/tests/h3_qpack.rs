//! QPACK: RFC 9204 Appendix B examples byte for byte, RFC 7541 Appendix C.4/C.6 Huffman
//! strings, encoder/decoder round trips with random field lists, table sizes and instruction
//! chunking, blocked streams, and every error with its code.

use bytes::Bytes;
use quic_streams::h3::qpack::encoder::InsertPolicy;
use quic_streams::h3::qpack::field::Line;
use quic_streams::h3::qpack::instructions::EncoderInstruction;
use quic_streams::h3::qpack::{
    huffman, DecodeError, Decoded, Decoder, DecoderConfig, Encoder, EncoderConfig, Field,
};
use quic_streams::h3::Code;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn f(n: &'static str, v: &'static str) -> Field {
    Field::new(
        Bytes::from_static(n.as_bytes()),
        Bytes::from_static(v.as_bytes()),
    )
}

fn decoder(cap: u64, blocked: u64) -> Decoder {
    Decoder::new(DecoderConfig {
        max_table_capacity: cap,
        max_blocked_streams: blocked,
        max_field_section_size: 1 << 20,
    })
}

fn fields(d: Decoded) -> Vec<Field> {
    match d {
        Decoded::Fields(f) => f,
        Decoded::Blocked => panic!("unexpectedly blocked"),
    }
}

fn code_of(e: DecodeError) -> Code {
    match e {
        DecodeError::Connection(e) => e.code,
        DecodeError::TooLarge => panic!("expected a connection error"),
    }
}

fn no_huffman_encoder(cap: u64) -> Encoder {
    Encoder::new(EncoderConfig {
        max_table_capacity: cap,
        policy: InsertPolicy::Always,
        allow_blocking: true,
        huffman: false,
    })
}

// RFC 9204 Appendix B.1: Literal Field Line with Name Reference.
#[test]
fn appendix_b1_literal_with_static_name_reference() {
    let wire = hex("0000 510b 2f69 6e64 6578 2e68 746d 6c");
    let mut enc = no_huffman_encoder(0);
    let mut out = vec![];
    enc.encode(0, &[f(":path", "/index.html")], &mut out);
    assert_eq!(out, wire);
    assert!(!enc.has_output());
    let mut dec = decoder(0, 0);
    assert_eq!(
        fields(dec.decode_section(0, wire.into()).unwrap()),
        [f(":path", "/index.html")]
    );
    assert!(!dec.has_output());
}

// RFC 9204 Appendix B.2-B.5, one connection's worth of state carried through.
#[test]
fn appendix_b2_to_b5_dynamic_table_walkthrough() {
    let mut enc = no_huffman_encoder(220);
    let mut dec = decoder(220, 100);

    // B.2: capacity 220, two inserts with static name references, a blocking section.
    enc.set_peer_settings(220, 100);
    let mut section = vec![];
    enc.encode(
        4,
        &[
            f(":authority", "www.example.com"),
            f(":path", "/sample/path"),
        ],
        &mut section,
    );
    let enc_stream = enc.take_output();
    assert_eq!(
        enc_stream,
        hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468")
    );
    assert_eq!(section, hex("0381 10 11"));
    // The section arrives first and blocks; the encoder stream then unblocks it.
    assert_eq!(dec.decode_section(4, section.into()), Ok(Decoded::Blocked));
    assert_eq!(dec.blocked_streams(), 1);
    for b in &enc_stream {
        dec.on_encoder_stream(&[*b]).unwrap();
    }
    let (stream, res) = dec.poll_unblocked().unwrap();
    assert_eq!(stream, 4);
    assert_eq!(
        res.unwrap(),
        [
            f(":authority", "www.example.com"),
            f(":path", "/sample/path")
        ]
    );
    assert_eq!(dec.table().size(), 106);
    let ack = dec.take_output();
    assert_eq!(ack, hex("84"));
    enc.on_decoder_stream(&ack).unwrap();
    assert_eq!(enc.known_received_count(), 2);

    // B.3: speculative insert with a literal name; the decoder answers Insert Count Increment.
    let mut ins = vec![];
    EncoderInstruction::InsertWithLiteralName {
        name: Bytes::from_static(b"custom-key"),
        value: Bytes::from_static(b"custom-value"),
    }
    .encode_with(&mut ins, false);
    assert_eq!(
        ins,
        hex("4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565")
    );
    dec.on_encoder_stream(&ins).unwrap();
    assert_eq!(dec.table().size(), 160);
    assert_eq!(dec.take_output(), hex("01"));

    // B.4: Duplicate, a section referencing it arrives before the duplicate, the stream is
    // cancelled.
    let mut dup = vec![];
    EncoderInstruction::Duplicate(2).encode(&mut dup);
    assert_eq!(dup, hex("02"));
    let mut lines = hex("0500");
    for l in [
        Line::Indexed {
            is_static: false,
            index: 0,
        },
        Line::Indexed {
            is_static: true,
            index: 1,
        },
        Line::Indexed {
            is_static: false,
            index: 1,
        },
    ] {
        l.encode(&mut lines);
    }
    assert_eq!(lines, hex("0500 80 c1 81"));
    assert_eq!(
        dec.decode_section(8, lines.clone().into()),
        Ok(Decoded::Blocked)
    );
    dec.cancel_stream(8);
    assert_eq!(dec.take_output(), hex("48"));
    assert_eq!(dec.blocked_streams(), 0);
    dec.on_encoder_stream(&dup).unwrap();
    assert!(dec.poll_unblocked().is_none());
    assert_eq!(dec.table().size(), 217);
    // Had it not been cancelled, the section would decode to these fields.
    assert_eq!(
        fields(dec.decode_section(12, lines.into()).unwrap()),
        [
            f(":authority", "www.example.com"),
            f(":path", "/"),
            f("custom-key", "custom-value")
        ]
    );
    let _ = dec.take_output();

    // B.5: insert with a dynamic name reference evicts the oldest entry.
    let mut ins = vec![];
    EncoderInstruction::InsertWithNameRef {
        is_static: false,
        index: 1,
        value: Bytes::from_static(b"custom-value2"),
    }
    .encode_with(&mut ins, false);
    assert_eq!(ins, hex("810d 6375 7374 6f6d 2d76 616c 7565 32"));
    dec.on_encoder_stream(&ins).unwrap();
    assert_eq!(dec.table().size(), 215);
    assert_eq!(dec.table().oldest(), 1);
    let e = dec.table().get(4).unwrap();
    assert_eq!(
        (&e.name[..], &e.value[..]),
        (&b"custom-key"[..], &b"custom-value2"[..])
    );
}

// RFC 7541 Appendix C.4 and C.6: every Huffman-coded string in the examples.
#[test]
fn rfc7541_c4_c6_huffman_strings() {
    let cases = [
        ("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"),
        ("a8eb 1064 9cbf", "no-cache"),
        ("25a8 49e9 5ba9 7d7f", "custom-key"),
        ("25a8 49e9 5bb8 e8b4 bf", "custom-value"),
        ("6402", "302"),
        ("aec3 771a 4b", "private"),
        ("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com"),
        ("640e ff", "307"),
        ("d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("9bd9 ab", "gzip"),
        (
            "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];
    for (h, s) in cases {
        let wire = hex(h);
        let mut enc = vec![];
        huffman::encode(s.as_bytes(), &mut enc);
        assert_eq!(enc, wire, "encoding {s}");
        assert_eq!(huffman::encoded_len(s.as_bytes()), wire.len());
        let mut dec = vec![];
        huffman::decode(&wire, &mut dec, 1000).unwrap();
        assert_eq!(dec, s.as_bytes());
    }
}

/// SplitMix64: a tiny deterministic generator for the randomized tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_field(rng: &mut Rng) -> Field {
    const NAMES: &[&str] = &[
        ":method",
        ":path",
        ":authority",
        "content-type",
        "cookie",
        "x-a",
        "x-b",
        "user-agent",
    ];
    const VALUES: &[&str] = &[
        "GET",
        "/",
        "/index.html",
        "example.com",
        "text/plain",
        "a=b",
        "",
        "Mozilla/5.0",
    ];
    match rng.below(4) {
        0 => {
            let n = rng.below(40) as usize;
            let name: Vec<u8> = (0..n.max(1)).map(|_| b'a' + rng.below(26) as u8).collect();
            let value: Vec<u8> = (0..rng.below(60)).map(|_| rng.below(256) as u8).collect();
            Field::new(name, value)
        }
        _ => Field::new(
            NAMES[rng.below(NAMES.len() as u64) as usize],
            VALUES[rng.below(VALUES.len() as u64) as usize],
        )
        .sensitive(rng.below(10) == 0),
    }
}

/// Delivers `data` to `sink` in random-sized chunks.
fn chunked(rng: &mut Rng, data: &[u8], mut sink: impl FnMut(&[u8])) {
    let mut i = 0;
    while i < data.len() {
        let n = 1 + rng.below(8) as usize;
        let end = (i + n).min(data.len());
        sink(&data[i..end]);
        i = end;
    }
}

#[test]
fn random_field_lists_round_trip_across_table_sizes_and_chunkings() {
    let mut rng = Rng(7);
    let (mut blocked_seen, mut inserts) = (0, 0);
    for &cap in &[0u64, 32, 100, 220, 1024, 4096] {
        for &policy in &[
            InsertPolicy::Never,
            InsertPolicy::Repeated,
            InsertPolicy::Always,
        ] {
            for &blocked in &[0u64, 1, 4] {
                let mut enc = Encoder::new(EncoderConfig {
                    max_table_capacity: cap,
                    policy,
                    allow_blocking: true,
                    huffman: rng.below(2) == 0,
                });
                let mut dec = decoder(cap, blocked);
                enc.set_peer_settings(cap, blocked);
                let mut pending: Vec<(u64, Vec<Field>)> = vec![];
                for i in 0..60u64 {
                    let stream = i * 4;
                    let list: Vec<Field> =
                        (0..rng.below(12)).map(|_| random_field(&mut rng)).collect();
                    let mut section = vec![];
                    enc.encode(stream, &list, &mut section);
                    // Sometimes the section overtakes the encoder stream.
                    let instructions = enc.take_output();
                    let early = rng.below(2) == 0;
                    if !early {
                        chunked(&mut rng, &instructions, |c| {
                            dec.on_encoder_stream(c).unwrap()
                        });
                    }
                    match dec.decode_section(stream, section.into()).unwrap() {
                        Decoded::Fields(got) => assert_eq!(got, list),
                        Decoded::Blocked => {
                            blocked_seen += 1;
                            pending.push((stream, list))
                        }
                    }
                    if early {
                        chunked(&mut rng, &instructions, |c| {
                            dec.on_encoder_stream(c).unwrap()
                        });
                    }
                    while let Some((s, res)) = dec.poll_unblocked() {
                        let idx = pending.iter().position(|p| p.0 == s).unwrap();
                        assert_eq!(res.unwrap(), pending.remove(idx).1);
                    }
                    assert!(pending.is_empty());
                    assert!(dec.blocked_streams() as u64 <= blocked);
                    let feedback = dec.take_output();
                    chunked(&mut rng, &feedback, |c| enc.on_decoder_stream(c).unwrap());
                    assert!(dec.table().size() <= cap as usize);
                }
                inserts += dec.table().insert_count();
            }
        }
    }
    // The run exercised the dynamic table and blocking, not just literals.
    assert!(inserts > 500, "{inserts}");
    assert!(blocked_seen > 50, "{blocked_seen}");
}

#[test]
fn encoder_never_blocks_more_streams_than_allowed() {
    let mut enc = Encoder::new(EncoderConfig {
        max_table_capacity: 4096,
        policy: InsertPolicy::Always,
        allow_blocking: true,
        huffman: true,
    });
    let mut dec = decoder(4096, 2);
    enc.set_peer_settings(4096, 2);
    let mut sections = vec![];
    for s in 0..5u64 {
        let mut out = vec![];
        enc.encode(s * 4, &[Field::new(format!("x-{s}"), "v")], &mut out);
        sections.push((s * 4, out));
    }
    // Nothing acknowledged yet: only two sections may reference unacknowledged entries.
    let mut blocked = 0;
    for (s, data) in &sections {
        if dec.decode_section(*s, data.clone().into()).unwrap() == Decoded::Blocked {
            blocked += 1;
        }
    }
    assert_eq!(blocked, 2);
    dec.on_encoder_stream(&enc.take_output()).unwrap();
    let mut n = 0;
    while let Some((_, r)) = dec.poll_unblocked() {
        r.unwrap();
        n += 1;
    }
    assert_eq!(n, 2);
}

#[test]
fn more_blocked_streams_than_advertised_is_decompression_failed() {
    let mut dec = decoder(220, 1);
    // Required Insert Count 1 (encoded 2 with 6 max entries), Base 1.
    assert_eq!(
        dec.decode_section(0, hex("0200 80").into()),
        Ok(Decoded::Blocked)
    );
    let e = dec.decode_section(4, hex("0200 80").into()).unwrap_err();
    assert_eq!(code_of(e), Code::QPACK_DECOMPRESSION_FAILED);
}

#[test]
fn decompression_failures_carry_qpack_decompression_failed() {
    let cases: &[(&str, &str)] = &[
        ("0000 ff64", "static index 99+ does not exist"),
        ("0000 80", "dynamic reference with no table"),
        ("0d00", "Required Insert Count beyond the full range"),
        ("0000 5f", "truncated representation"),
        ("0000 5185 ffffff", "bad Huffman padding/EOS"),
        ("0281", "sign bit with Delta Base >= Required Insert Count"),
        ("00", "truncated prefix"),
    ];
    for (wire, why) in cases {
        let mut dec = decoder(220, 0);
        dec.on_encoder_stream(&hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d"))
            .unwrap();
        let e = dec.decode_section(0, hex(wire).into()).unwrap_err();
        assert_eq!(code_of(e), Code::QPACK_DECOMPRESSION_FAILED, "{why}");
    }
    // A reference at or past the Required Insert Count is invalid even if the entry exists.
    let mut dec = decoder(220, 0);
    dec.on_encoder_stream(&hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d"))
        .unwrap();
    dec.on_encoder_stream(&hex("c10c 2f73 616d 706c 652f 7061 7468"))
        .unwrap();
    // RIC = 1, Base = 1, post-base index 0 => absolute 1 >= RIC.
    let e = dec.decode_section(0, hex("0200 10").into()).unwrap_err();
    assert_eq!(code_of(e), Code::QPACK_DECOMPRESSION_FAILED);
}

#[test]
fn field_section_over_the_size_limit_is_reported_as_too_large() {
    let mut dec = Decoder::new(DecoderConfig {
        max_table_capacity: 0,
        max_blocked_streams: 0,
        max_field_section_size: 100,
    });
    let mut enc = Encoder::new(EncoderConfig::default());
    let mut out = vec![];
    enc.encode(0, &[Field::new("x-long", vec![b'a'; 80])], &mut out);
    assert_eq!(
        dec.decode_section(0, out.into()),
        Err(DecodeError::TooLarge)
    );
    let mut out = vec![];
    enc.encode(0, &[Field::new("x-short", "ok")], &mut out);
    assert!(dec.decode_section(0, out.into()).is_ok());
}

#[test]
fn encoder_stream_errors_carry_qpack_encoder_stream_error() {
    let cases: &[(&str, &str)] = &[
        ("3fde01", "capacity 253 above the advertised 220"),
        ("ff7f00", "static name index out of range"),
        ("8100", "dynamic name reference to an empty table"),
        ("00", "duplicate of a missing entry"),
        ("3fbd01 5fff01", "name longer than the table capacity"),
        ("3f01 4161 0162", "entry larger than the capacity (32)"),
        ("3fbd01 c085 ffffffffff", "bad Huffman value"),
        ("3fffffffffffffffffffff7f", "capacity integer overflow"),
    ];
    for (wire, why) in cases {
        let mut dec = decoder(220, 0);
        let e = dec.on_encoder_stream(&hex(wire)).expect_err(why);
        assert_eq!(e.code, Code::QPACK_ENCODER_STREAM_ERROR, "{why}");
    }
}

#[test]
fn decoder_stream_errors_carry_qpack_decoder_stream_error() {
    let mut enc = no_huffman_encoder(220);
    enc.set_peer_settings(220, 10);
    let mut out = vec![];
    enc.encode(4, &[f(":authority", "www.example.com")], &mut out);
    // Acknowledging a stream with nothing outstanding.
    assert_eq!(
        enc.on_decoder_stream(&hex("88")).unwrap_err().code,
        Code::QPACK_DECODER_STREAM_ERROR
    );
    // Increment of zero.
    assert_eq!(
        enc.on_decoder_stream(&hex("00")).unwrap_err().code,
        Code::QPACK_DECODER_STREAM_ERROR
    );
    // Increment beyond what was inserted (one insert so far).
    assert_eq!(
        enc.on_decoder_stream(&hex("02")).unwrap_err().code,
        Code::QPACK_DECODER_STREAM_ERROR
    );
    // The valid acknowledgment, then a second one for the same stream.
    enc.on_decoder_stream(&hex("84")).unwrap();
    assert_eq!(
        enc.on_decoder_stream(&hex("84")).unwrap_err().code,
        Code::QPACK_DECODER_STREAM_ERROR
    );
    // Integer overflow.
    assert_eq!(
        enc.on_decoder_stream(&hex("3fffffffffffffffffffff7f"))
            .unwrap_err()
            .code,
        Code::QPACK_DECODER_STREAM_ERROR
    );
}

#[test]
fn sensitive_fields_stay_literal_with_the_n_bit() {
    let mut enc = Encoder::new(EncoderConfig {
        policy: InsertPolicy::Always,
        ..EncoderConfig::default()
    });
    enc.set_peer_settings(4096, 10);
    let secret = Field::new("authorization", "Bearer x").sensitive(true);
    let mut out = vec![];
    enc.encode(0, &[secret.clone(), secret.clone()], &mut out);
    assert_eq!(enc.table().insert_count(), 0);
    let mut dec = decoder(4096, 10);
    dec.on_encoder_stream(&enc.take_output()).unwrap();
    assert_eq!(
        fields(dec.decode_section(0, out.into()).unwrap()),
        [secret.clone(), secret]
    );
}

#[test]
fn stream_cancellation_releases_references_so_entries_can_be_evicted() {
    let mut enc = Encoder::new(EncoderConfig {
        max_table_capacity: 100,
        policy: InsertPolicy::Always,
        allow_blocking: true,
        huffman: false,
    });
    enc.set_peer_settings(100, 10);
    let mut dec = decoder(100, 10);
    let mut out = vec![];
    enc.encode(0, &[Field::new("x-aaaaaaaaaa", "1")], &mut out); // 44 bytes
    dec.on_encoder_stream(&enc.take_output()).unwrap();
    assert!(matches!(
        dec.decode_section(0, out.into()),
        Ok(Decoded::Fields(_))
    ));
    // Acknowledge via Insert Count Increment only, keep the section outstanding.
    let _ = dec.take_output();
    enc.on_decoder_stream(&hex("01")).unwrap();
    // While stream 0's reference is outstanding, a 60-byte entry cannot evict it.
    let mut out = vec![];
    enc.encode(
        4,
        &[Field::new("x-bbbbbbbbbbbbbbbbbbbbbbbbbb", "1")],
        &mut out,
    );
    assert_eq!(enc.table().insert_count(), 1);
    enc.on_decoder_stream(&hex("40")).unwrap(); // Stream Cancellation, stream 0
    let mut out = vec![];
    enc.encode(
        8,
        &[Field::new("x-bbbbbbbbbbbbbbbbbbbbbbbbbb", "1")],
        &mut out,
    );
    assert_eq!(enc.table().insert_count(), 2);
    assert_eq!(enc.table().oldest(), 1);
}
