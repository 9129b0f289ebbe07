//! A whole connection fed arbitrary input: after a real handshake in memory, the fuzz
//! input is either sent by the client as raw frames inside a genuine encrypted packet
//! (Initial, Handshake or 1-RTT), so the server's frame handling sees it, or delivered to
//! the server as a raw datagram. Nothing may panic or loop; every close must carry a
//! transport error code.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use quic_conn::conn::{Config, Connection};
use quic_wire::{Instant, Space};

#[path = "shared/conn_setup.rs"]
mod conn_setup;
use conn_setup::{meta, tls, Rng, C, S};

/// Exchanges datagrams and fires timers until quiet or `rounds` pass.
fn drive(
    now: &mut Instant,
    client: &mut Connection,
    server: &mut Option<Connection>,
    rounds: usize,
) {
    let mut buf = vec![0u8; 1500];
    for _ in 0..rounds {
        let mut moved = false;
        while let Some(t) = client.poll_transmit(*now, &mut buf) {
            moved = true;
            let d = &buf[..t.size];
            if server.is_none() {
                let tls = tls().1.clone();
                *server = Connection::accept(
                    Config::default(),
                    tls,
                    *now,
                    meta(C, S),
                    d,
                    Box::new(Rng(2)),
                )
                .ok();
            }
            if let Some(s) = server.as_mut() {
                s.handle_datagram(*now, meta(C, S), BytesMut::from(d));
            }
        }
        if let Some(s) = server.as_mut() {
            while let Some(t) = s.poll_transmit(*now, &mut buf) {
                moved = true;
                client.handle_datagram(*now, meta(S, C), BytesMut::from(&buf[..t.size]));
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
            Some(t) if t <= now.checked_add(Duration::from_secs(2)).unwrap() => {
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

/// A server endpoint with Retry and stateless resets fed one arbitrary datagram (as
/// large as the input, at least 1200 bytes so the Initial and Version Negotiation paths
/// are reachable): whatever it sends must be smaller than three times what it got.
fn endpoint_input(now: Instant, input: &[u8]) {
    use quic_conn::endpoint::{Endpoint, EndpointConfig, HmacResetTokens};
    use quic_conn::SansIo;
    let cfg = EndpointConfig {
        server_tls: Some(tls().1.clone()),
        retry: input.first().is_some_and(|b| b & 1 == 1),
        reset_tokens: Some(Arc::new(HmacResetTokens::new([3; 32]))),
        ..EndpointConfig::default()
    };
    let mut n = 10;
    let mut ep = Endpoint::new(
        cfg,
        Box::new(move || {
            n += 1;
            Box::new(Rng(n))
        }),
    );
    let mut d = input.to_vec();
    if d.len() < 1200 && input.first().is_some_and(|b| b & 2 == 2) {
        d.resize(1200, 0);
    }
    let len = d.len();
    ep.handle_datagram(now, meta(C, S), BytesMut::from(&d[..]));
    let mut buf = vec![0u8; 1500];
    let mut sent = 0;
    for _ in 0..100 {
        let Some(t) = ep.poll_transmit(now, &mut buf) else {
            break;
        };
        sent += t.size;
    }
    assert!(sent <= 3 * len, "sent {sent} for {len}");
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
    if selector % 5 == 4 {
        endpoint_input(now, input);
        return;
    }
    let mut server = None;
    match selector % 4 {
        0 => client.inject_raw_frames(Space::Initial, input.to_vec()),
        1 => {
            drive(&mut now, &mut client, &mut server, 1000);
            client.inject_raw_frames(Space::Data, input.to_vec());
        }
        2 => {
            drive(&mut now, &mut client, &mut server, 1000);
            if let Some(s) = server.as_mut() {
                s.handle_datagram(now, meta(C, S), BytesMut::from(input));
            }
        }
        _ => {
            drive(&mut now, &mut client, &mut server, 1000);
            client.handle_datagram(now, meta(S, C), BytesMut::from(input));
        }
    }
    drive(&mut now, &mut client, &mut server, 1000);
    if let Some(s) = server.as_ref() {
        if let Some(quic_conn::ConnectionError::Transport(e)) = s.error() {
            assert!(
                e.code.0 <= 0x01ff || e.code.0 >= 0x3e,
                "unexpected code {e:?}"
            );
        }
    }
});
