//! A client connection during its handshake fed arbitrary server input. The first byte
//! picks how the input reaches the client:
//!
//! - 0, 1, 5: a real server puts the input, as raw frames, in its first Initial,
//!   Handshake or 1-RTT (0.5-RTT) packet (genuinely encrypted), so the client's frame
//!   handling at those levels sees it;
//! - 2: the input, cut into datagrams (two-byte length prefixes), is delivered to the
//!   client between the real server's datagrams, from the server's address or another;
//! - 3: the real server's datagrams are mutated (XOR at offsets the input names);
//! - 4: the input is a Retry (Source Connection ID and token) with a valid integrity tag,
//!   after which the handshake runs against the real server, which knows nothing of it:
//!   if the client took the Retry, the transport parameters cannot match (RFC 9000 §7.3)
//!   and the client must never report the handshake complete.
//!
//! Nothing may panic or loop; a close must carry a transport error code, and the client
//! never sends an Initial datagram below 1200 bytes (RFC 9000 §14.1).
#![no_main]

use std::time::Duration;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use quic_conn::conn::{Config, Connection};
use quic_wire::codec::Writer;
use quic_wire::packet::RetryHeader;
use quic_wire::{ConnectionId, Instant, Space};

#[path = "shared/conn_setup.rs"]
mod conn_setup;
use conn_setup::{meta, tls, Rng, C, S};

/// Another source for arbitrary datagrams (an off-path attacker).
const X: &str = "10.9.9.9:2000";

/// How the fuzz input enters the exchange.
enum Mode<'a> {
    /// The server's first packet at this level carries these raw frames.
    Frames(Space, &'a [u8]),
    /// Arbitrary datagrams, delivered one after each server datagram.
    Datagrams(Vec<(&'a [u8], bool)>),
    /// (offset, xor) edits of the server's datagrams, in order.
    Mutate(&'a [u8]),
    /// Nothing more after the Retry the caller already delivered.
    Plain,
}

/// Cuts `input` into datagrams: a two-byte header (length in the low 11 bits, the top bit
/// choosing the off-path source), then the bytes.
fn datagrams(mut input: &[u8]) -> Vec<(&[u8], bool)> {
    let mut out = Vec::new();
    while let [a, b, rest @ ..] = input {
        let len = (usize::from(*a & 0x07) << 8 | usize::from(*b)).min(rest.len());
        let (d, tail) = rest.split_at(len);
        out.push((d, a & 0x80 != 0));
        input = tail;
        if out.len() >= 64 {
            break;
        }
    }
    out
}

/// Checks a client datagram: one carrying an Initial is at least 1200 bytes.
fn check_client_datagram(d: &[u8]) {
    let long_initial = d.first().is_some_and(|b| b & 0xb0 == 0x80);
    assert!(
        !long_initial || d.len() >= 1200,
        "client Initial datagram of {}",
        d.len()
    );
}

/// Runs the exchange until quiet, the client's handshake ends, or `rounds` pass.
fn drive(now: &mut Instant, client: &mut Connection, mut mode: Mode<'_>, rounds: usize) {
    let mut server: Option<Connection> = None;
    let mut buf = vec![0u8; 1500];
    let mut server_datagrams = 0usize;
    let mut edits = 0usize;
    for _ in 0..rounds {
        let mut moved = false;
        while let Some(t) = client.poll_transmit(*now, &mut buf) {
            moved = true;
            let d = &buf[..t.size];
            check_client_datagram(d);
            if server.is_none() {
                let tls = tls().1.clone();
                server = Connection::accept(
                    Config::default(),
                    tls,
                    *now,
                    meta(C, S),
                    d,
                    Box::new(Rng(2)),
                )
                .ok();
                if let (Some(s), Mode::Frames(space, frames)) = (server.as_mut(), &mode) {
                    s.handle_datagram(*now, meta(C, S), BytesMut::from(d));
                    // After the ClientHello, so Handshake keys exist too.
                    s.inject_raw_frames(*space, frames.to_vec());
                    continue;
                }
            }
            if let Some(s) = server.as_mut() {
                s.handle_datagram(*now, meta(C, S), BytesMut::from(d));
            }
        }
        if let Some(s) = server.as_mut() {
            while let Some(t) = s.poll_transmit(*now, &mut buf) {
                moved = true;
                let mut d = buf[..t.size].to_vec();
                if let Mode::Mutate(e) = mode {
                    while let Some(&[hi, lo, x]) = e.get(edits * 3..edits * 3 + 3) {
                        let at = usize::from(hi) << 8 | usize::from(lo);
                        // Edits name the datagram they apply to by the top bits of `hi`:
                        // edits for later datagrams wait.
                        if usize::from(hi >> 5) > server_datagrams {
                            break;
                        }
                        let len = d.len().max(1);
                        if let Some(b) = d.get_mut(at % len) {
                            *b ^= x;
                        }
                        edits += 1;
                    }
                }
                client.handle_datagram(*now, meta(S, C), BytesMut::from(&d[..]));
                if let Mode::Datagrams(list) = &mut mode {
                    if !list.is_empty() {
                        let (x, off_path) = list.remove(0);
                        let from = if off_path { X } else { S };
                        client.handle_datagram(*now, meta(from, C), BytesMut::from(x));
                    }
                }
                server_datagrams += 1;
            }
        }
        if moved {
            continue;
        }
        let next = [
            client.poll_timeout(),
            server.as_ref().and_then(|s| s.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) if t <= now.checked_add(Duration::from_secs(5)).unwrap() => {
                *now = (*now).max(t);
                client.handle_timeout(*now);
                if let Some(s) = server.as_mut() {
                    s.handle_timeout(*now);
                }
            }
            _ => return,
        }
    }
}

/// A Retry answering the client's first Initial, built from `input` (SCID length in the
/// first byte, then SCID, then the token), with a valid integrity tag.
fn retry(client: &Connection, input: &[u8]) -> Option<Vec<u8>> {
    let (&n, rest) = input.split_first()?;
    let n = usize::from(n % 21).min(rest.len());
    let (scid, token) = rest.split_at(n);
    let header = RetryHeader {
        version: client.version(),
        dcid: client.local_cid(),
        scid: ConnectionId::new(scid).ok()?,
        token,
    };
    let mut bytes = vec![0u8; header.encoded_len()];
    header.write(&mut Writer::new(&mut bytes), true).ok()?;
    let tag =
        quic_wire::crypto::retry_integrity_tag(client.version(), &client.original_dcid(), &bytes)
            .ok()?;
    bytes.extend_from_slice(&tag);
    Some(bytes)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let mut now = Instant::from_nanos(1_000_000_000);
    let mut client = Connection::connect(
        Config::default(),
        tls().0.clone(),
        "localhost",
        (C.parse().unwrap(), S.parse().unwrap()),
        now,
        Box::new(Rng(1)),
    )
    .unwrap();
    // The client took the fuzzer's Retry: the real server never sent it, so its transport
    // parameters cannot match (RFC 9000 §7.3) and the handshake must not complete.
    let mut retried = false;
    let mode = match selector % 6 {
        0 => Mode::Frames(Space::Initial, input),
        1 => Mode::Frames(Space::Handshake, input),
        5 => Mode::Frames(Space::Data, input),
        2 => Mode::Datagrams(datagrams(input)),
        3 => Mode::Mutate(input),
        _ => {
            // The client's first Initial goes out (and is lost); the Retry answers it.
            let mut buf = vec![0u8; 1500];
            while let Some(t) = client.poll_transmit(now, &mut buf) {
                check_client_datagram(&buf[..t.size]);
            }
            if let Some(r) = retry(&client, input) {
                let before = client.remote_cid();
                client.handle_datagram(now, meta(S, C), BytesMut::from(&r[..]));
                retried = client.remote_cid() != before;
            }
            Mode::Plain
        }
    };
    drive(&mut now, &mut client, mode, 1000);
    if retried {
        while let Some(e) = client.poll_event() {
            assert!(
                e != quic_conn::Event::Connected,
                "connected after a Retry the server did not send"
            );
        }
    }
    if let Some(quic_conn::ConnectionError::Transport(e)) = client.error() {
        assert!(
            e.code.0 <= 0x01ff || e.code.0 >= 0x3e,
            "unexpected code {e:?}"
        );
    }
});
