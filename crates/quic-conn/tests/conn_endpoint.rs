//! Endpoints: connection-ID routing, accepting within the handshake budget, Version
//! Negotiation, and fair transmission across connections.

mod util;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use quic_conn::endpoint::{Endpoint, EndpointConfig, EndpointEvent};
use quic_conn::{DatagramMeta, SansIo};
use quic_streams::StreamRef;
use quic_wire::packet::{Packet, ParseConfig};
use quic_wire::{Dir, Ecn, Instant, Version};
use util::{client_addr, pattern, read_all, server_addr, tls_configs};

/// Two endpoints on a 5 ms link.
struct Net {
    client: Endpoint,
    server: Endpoint,
    now: Instant,
    wire: Vec<(Instant, bool, Vec<u8>)>,
    /// First byte of every datagram the server sent.
    server_first_bytes: Vec<u8>,
}

impl Net {
    fn new(server_cfg: EndpointConfig) -> Net {
        Net {
            client: Endpoint::new(EndpointConfig::default(), util::rng_factory(100)),
            server: Endpoint::new(server_cfg, util::rng_factory(200)),
            now: Instant::from_nanos(1_000_000_000),
            wire: Vec::new(),
            server_first_bytes: Vec::new(),
        }
    }

    /// Moves what both endpoints send onto the wire; returns the datagrams in order.
    fn transmit(&mut self) -> usize {
        let mut buf = vec![0u8; 1500];
        let mut n = 0;
        let at = self
            .now
            .checked_add(Duration::from_millis(5))
            .expect("time");
        while let Some(t) = self.client.poll_transmit(self.now, &mut buf) {
            self.wire.push((at, true, buf[..t.size].to_vec()));
            n += 1;
        }
        while let Some(t) = self.server.poll_transmit(self.now, &mut buf) {
            self.server_first_bytes.push(buf[0]);
            self.wire.push((at, false, buf[..t.size].to_vec()));
            n += 1;
        }
        n
    }

    fn deliver(&mut self) -> usize {
        let now = self.now;
        let (due, rest): (Vec<_>, Vec<_>) = self.wire.drain(..).partition(|f| f.0 <= now);
        self.wire = rest;
        for (_, to_server, data) in &due {
            let (meta, ep) = if *to_server {
                (meta(client_addr(), server_addr()), &mut self.server)
            } else {
                (meta(server_addr(), client_addr()), &mut self.client)
            };
            ep.handle_datagram(now, meta, BytesMut::from(&data[..]));
        }
        due.len()
    }

    fn drive(&mut self) {
        for _ in 0..100_000 {
            if self.transmit() + self.deliver() > 0 {
                continue;
            }
            let next = [
                self.wire.iter().map(|f| f.0).min(),
                self.client.poll_timeout(),
                self.server.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { return };
            if next
                > self
                    .now
                    .checked_add(Duration::from_millis(500))
                    .expect("time")
            {
                return;
            }
            self.now = self.now.max(next);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
        }
    }
}

fn meta(remote: std::net::SocketAddr, local: std::net::SocketAddr) -> DatagramMeta {
    DatagramMeta {
        remote,
        local,
        ecn: Ecn::NotEct,
    }
}

fn server_config(max_handshakes: usize) -> (EndpointConfig, Arc<dyn quic_conn::tls::TlsConfig>) {
    let (client_tls, server_tls) = tls_configs(0);
    let client_tls: Arc<dyn quic_conn::tls::TlsConfig> = Arc::new(client_tls);
    let cfg = EndpointConfig {
        server_tls: Some(Arc::new(server_tls)),
        max_handshakes,
        ..EndpointConfig::default()
    };
    (cfg, client_tls)
}

#[test]
fn endpoints_route_by_connection_id_and_carry_a_stream() {
    let (cfg, client_tls) = server_config(8);
    let mut net = Net::new(cfg);
    let now = net.now;
    let h = net
        .client
        .connect(
            now,
            client_tls.clone(),
            "localhost",
            client_addr(),
            server_addr(),
        )
        .expect("connect");
    net.drive();
    let accepted = match net.server.poll_event() {
        Some(EndpointEvent::Accepted(s)) => s,
        other => panic!("expected an accepted connection, got {other:?}"),
    };
    assert!(net.client.connection(h).expect("client").is_established());
    let mut connected = Vec::new();
    while let Some((handle, e)) = net.server.poll_connection_event() {
        if e == quic_conn::Event::Connected {
            connected.push(handle);
        }
    }
    assert_eq!(connected, [accepted]);
    let c = net.client.connection(h).expect("client");
    let id = match c.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(20_000);
    assert_eq!(c.write(id, &data).expect("write"), data.len());
    c.finish(id).expect("finish");
    net.drive();
    let mut got = Vec::new();
    let s = net.server.connection(accepted).expect("server");
    assert!(read_all(s, id, &mut got));
    assert_eq!(got, data);
    // Nothing was lost on this lossless link: every packet found its connection, greased
    // fixed bit or not.
    assert_eq!(s.stats().lost_packets, 0);
    // Endpoint counters: every datagram one side sent, the other received.
    let (cs, ss) = (net.client.stats(), net.server.stats());
    assert!(cs.datagrams_sent > 0 && ss.datagrams_sent > 0);
    assert_eq!(cs.datagrams_sent, ss.datagrams_received);
    assert_eq!(ss.datagrams_sent, cs.datagrams_received);
    assert_eq!(cs.bytes_sent, ss.bytes_received);
    assert_eq!((ss.accepted, ss.unroutable), (1, 0));
}

#[test]
fn unknown_versions_get_a_version_negotiation_listing_ours() {
    let (cfg, _) = server_config(8);
    let mut server = Endpoint::new(cfg, util::rng_factory(1));
    let mut probe = vec![0u8; 1200];
    probe[0] = 0xc0;
    probe[1..5].copy_from_slice(&0x1a2a_3a4a_u32.to_be_bytes());
    probe[5] = 8;
    probe[6..14].copy_from_slice(&[1; 8]); // DCID
    probe[14] = 4;
    probe[15..19].copy_from_slice(&[2; 4]); // SCID
    let now = Instant::from_nanos(1);
    server.handle_datagram(
        now,
        meta(client_addr(), server_addr()),
        BytesMut::from(&probe[..]),
    );
    let mut buf = vec![0u8; 1500];
    let t = server.poll_transmit(now, &mut buf).expect("a reply");
    assert_eq!(t.destination, client_addr());
    let (p, _) = Packet::parse(&buf[..t.size], &ParseConfig::new(8)).expect("parse");
    let Packet::VersionNegotiation(vn) = p else {
        panic!("not a Version Negotiation packet: {p:?}");
    };
    assert_eq!(vn.dcid, &[2; 4]);
    assert_eq!(vn.scid, &[1; 8]);
    let versions: Vec<Version> = vn.versions().collect();
    assert!(versions.contains(&Version::V1) && versions.contains(&Version::V2));
    assert_eq!(server.connection_count(), 0, "no state for a probe");
    assert!(server.poll_transmit(now, &mut buf).is_none());
    let stats = server.stats();
    assert_eq!(
        (
            stats.datagrams_received,
            stats.version_negotiations,
            stats.unroutable,
            stats.accepted
        ),
        (1, 1, 1, 0)
    );
    assert_eq!((stats.datagrams_sent, stats.bytes_sent), (1, t.size as u64));
}

#[test]
fn small_datagrams_from_unknown_peers_get_no_reply() {
    let (cfg, _) = server_config(8);
    let mut server = Endpoint::new(cfg, util::rng_factory(1));
    let mut probe = [0u8; 100];
    probe[0] = 0xc0;
    probe[1..5].copy_from_slice(&0x1a2a_3a4a_u32.to_be_bytes());
    let now = Instant::from_nanos(1);
    server.handle_datagram(
        now,
        meta(client_addr(), server_addr()),
        BytesMut::from(&probe[..]),
    );
    assert!(server.poll_transmit(now, &mut vec![0u8; 1500]).is_none());
    assert_eq!(server.stats().unroutable, 1);
    assert_eq!(server.stats().version_negotiations, 0);
    assert_eq!(server.stats().bytes_received, 100);
}

#[test]
fn initials_beyond_the_handshake_budget_are_not_accepted() {
    let (cfg, client_tls) = server_config(1);
    let mut net = Net::new(cfg);
    let now = net.now;
    for _ in 0..3 {
        net.client
            .connect(
                now,
                client_tls.clone(),
                "localhost",
                client_addr(),
                server_addr(),
            )
            .expect("connect");
    }
    // Deliver only the first flights: the server may hold one handshake.
    net.transmit();
    net.now = net.now.checked_add(Duration::from_millis(5)).expect("time");
    net.deliver();
    assert_eq!(net.server.connection_count(), 1);
    let stats = net.server.stats();
    assert_eq!((stats.accepted, stats.refused), (1, 2));
    // Once it completes, the others get in on their retransmissions.
    for _ in 0..20 {
        net.drive();
        net.now = net.now.checked_add(Duration::from_secs(1)).expect("time");
        net.client.handle_timeout(net.now);
        net.server.handle_timeout(net.now);
    }
    let established = net
        .client
        .handles()
        .collect::<Vec<_>>()
        .into_iter()
        .filter(|&h| net.client.connection(h).is_some_and(|c| c.is_established()))
        .count();
    assert_eq!(established, 3);
    assert_eq!(net.server.stats().accepted, 3);
}

#[test]
fn transmission_alternates_between_busy_connections() {
    let (cfg, client_tls) = server_config(8);
    let mut net = Net::new(cfg);
    let now = net.now;
    let a = net
        .client
        .connect(
            now,
            client_tls.clone(),
            "localhost",
            client_addr(),
            server_addr(),
        )
        .expect("connect");
    let b = net
        .client
        .connect(
            now,
            client_tls.clone(),
            "localhost",
            client_addr(),
            server_addr(),
        )
        .expect("connect");
    net.drive();
    let data = pattern(100_000);
    for h in [a, b] {
        let c = net.client.connection(h).expect("conn");
        let id = match c.open(Dir::Uni).expect("open") {
            StreamRef::Id(id) => id,
            other => panic!("{other:?}"),
        };
        c.write(id, &data).expect("write");
    }
    let dcid_a = net.client.connection(a).expect("a").remote_cid();
    let mut buf = vec![0u8; 1500];
    let mut from_a = Vec::new();
    for _ in 0..6 {
        let t = net
            .client
            .poll_transmit(net.now, &mut buf)
            .expect("data to send");
        // Short header: the DCID follows the first byte.
        from_a.push(buf[1..1 + dcid_a.len()] == *dcid_a.as_bytes());
        let _ = t;
    }
    let a_count = from_a.iter().filter(|&&x| x).count();
    assert_eq!(a_count, 3, "order was {from_a:?}");
}

#[test]
fn retry_validates_the_client_before_the_server_keeps_state() {
    let (mut cfg, client_tls) = server_config(8);
    cfg.retry = true;
    let mut net = Net::new(cfg);
    let now = net.now;
    let h = net
        .client
        .connect(
            now,
            client_tls.clone(),
            "localhost",
            client_addr(),
            server_addr(),
        )
        .expect("connect");
    // The first answer is a Retry (v1 long header type 0b11) and creates no connection.
    net.transmit();
    net.now = net.now.checked_add(Duration::from_millis(5)).expect("time");
    net.deliver();
    assert_eq!(net.server.connection_count(), 0);
    net.transmit();
    assert_eq!(net.server_first_bytes.first().map(|b| b & 0xf0), Some(0xf0));
    net.drive();
    let c = net.client.connection(h).expect("client");
    assert!(c.is_established());
    let tp = *c.peer_params().expect("params");
    assert!(tp.retry_source_connection_id.is_some());
    assert_eq!(net.server.connection_count(), 1);
}

/// A client Initial (v1) with `token`, padded to 1200 bytes.
fn initial_with_token(token: &[u8]) -> Vec<u8> {
    use quic_wire::packet::{LongHeader, PacketBuilder};
    use quic_wire::{ConnectionId, Frame, PacketNumber, PacketType, PathId, Side};
    let dcid = ConnectionId::new(&[7; 8]).expect("cid");
    let keys = quic_wire::crypto::initial_keys(Version::V1, &dcid, Side::Client).expect("keys");
    let header = LongHeader {
        ty: PacketType::Initial,
        version: Version::V1,
        dcid,
        scid: ConnectionId::new(&[8; 8]).expect("cid"),
        token,
    };
    let mut buf = vec![0u8; 1200];
    let mut b =
        PacketBuilder::long(&mut buf, &header, PacketNumber(0), None, 16, true).expect("builder");
    b.push(&Frame::Ping).expect("ping");
    b.pad_to(1200);
    let n = b
        .finish(PathId::ZERO, &keys.local.packet, &keys.local.header)
        .expect("seal");
    buf.truncate(n);
    buf
}

#[test]
fn initials_with_forged_retry_tokens_get_a_stateless_invalid_token_close() {
    let (mut cfg, _) = server_config(8);
    cfg.retry = true;
    let mut server = Endpoint::new(cfg, util::rng_factory(1));
    let now = Instant::from_nanos(1);
    // Shaped like one of our Retry tokens (kind byte 'R', nonce, sealed part, tag) but
    // never issued: RFC 9000 §8.1.2, the server closes with INVALID_TOKEN at once, in a
    // small Initial packet, keeping no state.
    let mut forged_token = vec![b'R'];
    forged_token.extend_from_slice(&[0xab; 60]);
    let forged = initial_with_token(&forged_token);
    server.handle_datagram(
        now,
        meta(client_addr(), server_addr()),
        BytesMut::from(&forged[..]),
    );
    assert_eq!(server.connection_count(), 0);
    let mut buf = vec![0u8; 1500];
    let t = server.poll_transmit(now, &mut buf).expect("a close");
    assert_eq!(buf[0] & 0xf0, 0xc0, "an Initial packet");
    assert!(t.size < 200, "{} bytes", t.size);
    assert!(server.poll_transmit(now, &mut buf).is_none());
    // An unknown token of another kind counts as none (RFC 9000 §8.1.3): a Retry, like
    // an Initial without a token.
    let unknown = initial_with_token(&[0xcd; 16]);
    server.handle_datagram(
        now,
        meta(client_addr(), server_addr()),
        BytesMut::from(&unknown[..]),
    );
    assert!(server.poll_transmit(now, &mut vec![0u8; 1500]).is_some());
    let fresh = initial_with_token(&[]);
    server.handle_datagram(
        now,
        meta(client_addr(), server_addr()),
        BytesMut::from(&fresh[..]),
    );
    assert!(server.poll_transmit(now, &mut vec![0u8; 1500]).is_some());
    assert_eq!(server.connection_count(), 0);
}

#[test]
fn a_retry_with_a_bad_integrity_tag_is_ignored() {
    let (_, client_tls) = server_config(8);
    let mut client = Endpoint::new(EndpointConfig::default(), util::rng_factory(5));
    let now = Instant::from_nanos(1);
    let h = client
        .connect(now, client_tls, "localhost", client_addr(), server_addr())
        .expect("connect");
    let before = client.connection(h).expect("conn").remote_cid();
    let local = client.connection(h).expect("conn").local_cid();
    let header = quic_wire::packet::RetryHeader {
        version: Version::V1,
        dcid: local,
        scid: quic_wire::ConnectionId::new(&[9; 8]).expect("cid"),
        token: b"token",
    };
    let mut retry = vec![0u8; header.encoded_len()];
    header
        .write(&mut quic_wire::codec::Writer::new(&mut retry), true)
        .expect("write");
    retry.extend_from_slice(&[0u8; 16]); // not the integrity tag
    client.handle_datagram(
        now,
        meta(server_addr(), client_addr()),
        BytesMut::from(&retry[..]),
    );
    assert_eq!(client.connection(h).expect("conn").remote_cid(), before);
}

#[test]
fn a_server_that_lost_its_state_resets_the_connection() {
    use quic_conn::endpoint::HmacResetTokens;
    let (mut cfg, client_tls) = server_config(8);
    cfg.reset_tokens = Some(Arc::new(HmacResetTokens::new([7; 32])));
    let restarted = cfg.clone();
    let mut net = Net::new(cfg);
    let now = net.now;
    let h = net
        .client
        .connect(now, client_tls, "localhost", client_addr(), server_addr())
        .expect("connect");
    net.drive();
    assert!(net.client.connection(h).expect("client").is_established());
    // The server restarts with the same reset key and no connections.
    net.server = Endpoint::new(restarted, util::rng_factory(300));
    let c = net.client.connection(h).expect("client");
    let id = match c.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    c.write(id, b"are you there?").expect("write");
    net.drive();
    assert_eq!(
        net.client.connection_count(),
        0,
        "the client connection was removed"
    );
    let mut removed = false;
    while let Some(e) = net.client.poll_event() {
        removed |= e == EndpointEvent::Removed(h);
    }
    assert!(removed);
}

#[test]
fn without_a_reset_key_unknown_short_headers_get_no_reply() {
    let (cfg, _) = server_config(8);
    let mut server = Endpoint::new(cfg, util::rng_factory(1));
    let mut d = [0x40u8; 100];
    d[1..9].copy_from_slice(&[3; 8]);
    let now = Instant::from_nanos(1);
    server.handle_datagram(
        now,
        meta(client_addr(), server_addr()),
        BytesMut::from(&d[..]),
    );
    assert!(server.poll_transmit(now, &mut vec![0u8; 1500]).is_none());
    assert_eq!(server.stats().unroutable, 1);
    assert_eq!(server.stats().version_negotiations, 0);
    assert_eq!(server.stats().bytes_received, 100);
}

#[test]
fn stateless_replies_are_rate_limited() {
    let (mut cfg, _) = server_config(8);
    cfg.max_stateless_per_second = 3;
    let mut server = Endpoint::new(cfg, util::rng_factory(1));
    let mut probe = vec![0u8; 1200];
    probe[0] = 0xc0;
    probe[1..5].copy_from_slice(&0x1a2a_3a4a_u32.to_be_bytes());
    probe[5] = 8;
    probe[14] = 0;
    let now = Instant::from_nanos(5_000_000_000);
    let mut buf = vec![0u8; 1500];
    let mut replies = 0;
    for _ in 0..10 {
        server.handle_datagram(
            now,
            meta(client_addr(), server_addr()),
            BytesMut::from(&probe[..]),
        );
        while server.poll_transmit(now, &mut buf).is_some() {
            replies += 1;
        }
    }
    assert_eq!(replies, 3);
    // A second later the budget is back.
    let later = now.checked_add(Duration::from_secs(1)).expect("time");
    server.handle_datagram(
        later,
        meta(client_addr(), server_addr()),
        BytesMut::from(&probe[..]),
    );
    assert!(server.poll_transmit(later, &mut buf).is_some());
}

#[test]
fn a_new_token_lets_the_next_connection_skip_retry() {
    let (mut cfg, client_tls) = server_config(8);
    cfg.retry = true;
    cfg.new_tokens = true;
    let mut net = Net::new(cfg);
    let now = net.now;
    let first = net
        .client
        .connect(
            now,
            client_tls.clone(),
            "localhost",
            client_addr(),
            server_addr(),
        )
        .expect("connect");
    net.drive();
    let mut token = None;
    while let Some(e) = net.client.connection(first).expect("first").poll_event() {
        if let quic_conn::Event::NewToken(t) = e {
            token = Some(t);
        }
    }
    let token = token.expect("the server sent NEW_TOKEN");
    // The next connection carries the token: no Retry this time.
    net.server_first_bytes.clear();
    let now = net.now;
    let second = net
        .client
        .connect(now, client_tls, "localhost", client_addr(), server_addr())
        .expect("connect");
    net.client
        .connection(second)
        .expect("second")
        .set_initial_token(&token);
    net.drive();
    let c = net.client.connection(second).expect("second");
    assert!(c.is_established());
    assert!(c
        .peer_params()
        .expect("params")
        .retry_source_connection_id
        .is_none());
    assert!(
        !net.server_first_bytes.iter().any(|b| b & 0xf0 == 0xf0),
        "no Retry was sent"
    );
}

#[test]
fn a_late_initial_of_a_removed_connection_does_not_create_a_new_one() {
    let (cfg, client_tls) = server_config(8);
    let lifetime = cfg.cid_tombstone_lifetime;
    let mut net = Net::new(cfg);
    let now = net.now;
    net.client
        .connect(now, client_tls, "localhost", client_addr(), server_addr())
        .expect("connect");
    net.transmit();
    // A copy of the client's first Initial, as a network could deliver it late.
    let first_initial = net.wire[0].2.clone();
    net.drive();
    let accepted = match net.server.poll_event() {
        Some(EndpointEvent::Accepted(s)) => s,
        other => panic!("expected an accepted connection, got {other:?}"),
    };
    let now = net.now;
    net.server.connection(accepted).expect("server").close(
        now,
        quic_wire::VarInt::from_u32(0),
        b"done",
    );
    // Let both ends close, drain and be removed.
    for _ in 0..100 {
        net.drive();
        if net.server.connection_count() == 0 {
            break;
        }
        net.now = net
            .now
            .checked_add(Duration::from_millis(500))
            .expect("time");
        let now = net.now;
        net.server.handle_timeout(now);
        net.client.handle_timeout(now);
    }
    assert_eq!(
        net.server.connection_count(),
        0,
        "server connection removed"
    );
    while net.server.poll_event().is_some() {}

    let late = |net: &mut Net| {
        let now = net.now;
        net.server.handle_datagram(
            now,
            meta(client_addr(), server_addr()),
            BytesMut::from(&first_initial[..]),
        );
        net.server.connection_count()
    };
    assert_eq!(late(&mut net), 0, "the late Initial made a connection");
    assert!(net.server.poll_event().is_none());
    // Once the IDs are no longer reserved, the same bytes are a new client's Initial
    // again: the reservation, not something else, kept the connection out.
    net.now = net.now.checked_add(lifetime).expect("time");
    assert_eq!(late(&mut net), 1);
    assert!(matches!(
        net.server.poll_event(),
        Some(EndpointEvent::Accepted(_))
    ));
}
