//! Version negotiation (RFC 9368) and QUIC v2 (RFC 9369) between our client and server:
//! compatible negotiation from v1 to v2 (and back), servers and clients limited to one
//! version, Version Negotiation and the attempt that follows it, the downgrade checks of
//! RFC 9368 §4, Retry and 0-RTT across a version switch.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use quic_conn::conn::{Config, ConnectionError, VersionNegotiated, Versions};
use quic_conn::endpoint::{Endpoint, EndpointConfig};
use quic_conn::tls::{Keys, Session, TlsConfig, TlsError};
use quic_conn::{DatagramMeta, SansIo};
use quic_streams::StreamRef;
use quic_wire::codec::Writer;
use quic_wire::packet::{write_version_negotiation, CoalescedPackets, Packet, ParseConfig};
use quic_wire::transport_params::VersionInformation;
use quic_wire::{
    ConnectionId, Dir, Ecn, Instant, PacketType, Side, TransportErrorCode, TransportParameters,
    Version,
};
use util::{pattern, read_all, Pair};

fn versions(list: &[Version]) -> Versions {
    Versions::new(list).expect("versions")
}

fn client_cfg(version: Version, list: &[Version]) -> Config {
    Config {
        version,
        versions: versions(list),
        ..Config::default()
    }
}

fn server_cfg(list: &[Version]) -> Config {
    Config {
        versions: versions(list),
        ..Config::default()
    }
}

/// Every long-header packet on the wire: (towards the server?, version, type).
type Seen = Rc<RefCell<Vec<(bool, Version, PacketType)>>>;

fn watch(pair: &mut Pair) -> Seen {
    let seen: Seen = Rc::default();
    let log = seen.clone();
    pair.filter = Some(Box::new(move |to_server, d| {
        for p in CoalescedPackets::new(d, ParseConfig::new(8)).flatten() {
            if let Packet::Protected(p) = p.packet {
                if let quic_wire::packet::ProtectedHeader::Long(h) = p.header {
                    log.borrow_mut().push((to_server, h.version, p.ty()));
                }
            }
        }
        false
    }));
    seen
}

/// Sends `len` bytes client -> server on a new stream and checks they arrive.
fn transfer(pair: &mut Pair, len: usize) {
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(len);
    assert_eq!(pair.client.write(id, &data).expect("write"), len);
    pair.client.finish(id).expect("finish");
    pair.drive();
    let mut got = Vec::new();
    assert!(read_all(pair.server(), id, &mut got), "stream not finished");
    assert!(got == data, "data differs");
}

fn closed_with_vn_error(err: Option<&ConnectionError>) {
    match err {
        Some(ConnectionError::Transport(e)) => assert_eq!(
            e.code,
            TransportErrorCode::VERSION_NEGOTIATION_ERROR,
            "{e:?}"
        ),
        other => panic!("expected VERSION_NEGOTIATION_ERROR, got {other:?}"),
    }
}

fn peer_closed_with_vn_error(err: Option<&ConnectionError>) {
    match err {
        Some(ConnectionError::PeerTransport { code, .. }) => {
            assert_eq!(*code, TransportErrorCode::VERSION_NEGOTIATION_ERROR)
        }
        other => panic!("expected the peer's VERSION_NEGOTIATION_ERROR, got {other:?}"),
    }
}

#[test]
fn a_v1_client_offering_v2_ends_in_v2_on_both_sides_and_carries_data() {
    // The client prefers v2 but starts in v1 (RFC 9368 §2.5); the server follows its
    // preference (automatic server list).
    let mut pair = Pair::new(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        Config::default(),
    );
    let seen = watch(&mut pair);
    pair.connect();
    transfer(&mut pair, 100_000);
    assert_eq!(pair.client.version(), Version::V2);
    assert_eq!(pair.server().version(), Version::V2);
    assert_eq!(pair.client.initial_version(), Version::V1);
    assert_eq!(pair.server().initial_version(), Version::V1);
    let seen = seen.borrow();
    // The client's first flight is v1; everything the server sends is v2 (it chose the
    // version before sending anything), and every Handshake packet is v2 (RFC 9369 §4).
    assert_eq!(seen[0], (true, Version::V1, PacketType::Initial));
    assert!(seen.iter().any(|&(c, _, _)| !c));
    for &(to_server, v, ty) in seen.iter() {
        if !to_server || ty == PacketType::Handshake {
            assert_eq!(v, Version::V2, "{ty:?} to server: {to_server}");
        }
    }
    // Both sides exchanged version_information naming v2 as the chosen version.
    let server_vi = pair
        .client
        .peer_params()
        .unwrap()
        .version_information
        .unwrap();
    assert_eq!(server_vi.chosen(), Version::V2);
    let client_vi = pair
        .server()
        .peer_params()
        .unwrap()
        .version_information
        .unwrap();
    assert_eq!(client_vi.chosen(), Version::V1);
    assert_eq!(client_vi.available(), &[Version::V2, Version::V1]);
    assert_eq!(pair.client.error(), None);
}

#[test]
fn a_server_preferring_v2_switches_a_default_client_and_key_updates_use_v2_keys() {
    let mut pair = Pair::new(Config::default(), server_cfg(&[Version::V2, Version::V1]));
    pair.connect();
    assert_eq!(pair.client.version(), Version::V2);
    assert_eq!(pair.server().version(), Version::V2);
    transfer(&mut pair, 20_000);
    // Key updates after the switch derive with "quicv2 ku" on both sides (the client's
    // from the secrets it recorded, the server's from its v2 session).
    for _ in 0..2 {
        let now = pair.now;
        assert!(pair.client.initiate_key_update(now));
        transfer(&mut pair, 20_000);
        let now = pair.now;
        assert!(pair.server().initiate_key_update(now));
        transfer(&mut pair, 20_000);
    }
    assert_eq!(pair.client.error(), None);
    assert_eq!(pair.server().error(), None);
}

#[test]
fn a_server_can_switch_a_v2_client_to_v1() {
    let mut pair = Pair::new(
        client_cfg(Version::V2, &[Version::V2, Version::V1]),
        server_cfg(&[Version::V1, Version::V2]),
    );
    pair.connect();
    transfer(&mut pair, 10_000);
    assert_eq!(pair.client.version(), Version::V1);
    assert_eq!(pair.server().version(), Version::V1);
    assert_eq!(pair.client.initial_version(), Version::V2);
}

#[test]
fn a_server_that_only_does_v1_keeps_v1() {
    let mut pair = Pair::new(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        server_cfg(&[Version::V1]),
    );
    let seen = watch(&mut pair);
    pair.connect();
    transfer(&mut pair, 10_000);
    assert_eq!(pair.client.version(), Version::V1);
    assert_eq!(pair.server().version(), Version::V1);
    assert!(seen.borrow().iter().all(|&(_, v, _)| v == Version::V1));
    let server_vi = pair
        .client
        .peer_params()
        .unwrap()
        .version_information
        .unwrap();
    assert_eq!(server_vi.chosen(), Version::V1);
    assert_eq!(server_vi.available(), &[Version::V1]);
}

#[test]
fn a_default_pair_stays_in_v1() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    assert_eq!(pair.client.version(), Version::V1);
    assert_eq!(pair.server().version(), Version::V1);
}

#[test]
fn a_client_only_doing_v2_connects_to_a_v1_v2_server_in_v2() {
    let mut pair = Pair::new(
        client_cfg(Version::V2, &[Version::V2]),
        server_cfg(&[Version::V1, Version::V2]),
    );
    let seen = watch(&mut pair);
    pair.connect();
    transfer(&mut pair, 10_000);
    assert_eq!(pair.client.version(), Version::V2);
    assert_eq!(pair.server().version(), Version::V2);
    assert!(seen.borrow().iter().all(|&(_, v, _)| v == Version::V2));
    let client_vi = pair
        .server()
        .peer_params()
        .unwrap()
        .version_information
        .unwrap();
    assert_eq!(client_vi.available(), &[Version::V2]);
}

#[test]
fn the_switch_survives_loss_of_the_servers_first_flight() {
    let mut pair = Pair::new(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        Config::default(),
    );
    let mut dropped = 0;
    pair.filter = Some(Box::new(move |to_server, _| {
        if !to_server && dropped < 2 {
            dropped += 1;
            return true;
        }
        false
    }));
    pair.connect();
    transfer(&mut pair, 10_000);
    assert_eq!(pair.client.version(), Version::V2);
    assert_eq!(pair.server().version(), Version::V2);
}

#[test]
fn the_server_still_opens_the_clients_v1_initials_after_switching() {
    // RFC 9369 §4: the server keeps its original-version Initial receive keys until a
    // Handshake packet arrives; the client, which has not heard back, repeats its first
    // flight in v1.
    let mut pair = Pair::new(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        Config::default(),
    );
    let seen = watch(&mut pair);
    let log = seen.clone();
    pair.filter = Some(Box::new(move |to_server, d| {
        for p in CoalescedPackets::new(d, ParseConfig::new(8)).flatten() {
            if let Packet::Protected(p) = p.packet {
                if let quic_wire::packet::ProtectedHeader::Long(h) = p.header {
                    log.borrow_mut().push((to_server, h.version, p.ty()));
                }
            }
        }
        !to_server // the server's flights are all lost
    }));
    pair.drive_bounded(300, Duration::from_secs(5));
    let client_initials = seen
        .borrow()
        .iter()
        .filter(|&&(c, v, ty)| c && v == Version::V1 && ty == PacketType::Initial)
        .count();
    assert!(client_initials >= 3, "{client_initials} client Initials");
    let stats = pair.server().stats();
    assert_eq!(pair.server().version(), Version::V2);
    assert!(
        stats.packets_received >= 3,
        "the server processed {} packets",
        stats.packets_received
    );
    assert_eq!(stats.decrypt_failures, 0);
}

#[test]
fn a_client_hello_spanning_several_packets_is_collected_before_the_switch() {
    // Many ALPN offers make the ClientHello larger than one Initial packet: the server
    // reads the version_information only once the whole message is in.
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).expect("root");
    let names: Vec<Vec<u8>> = (0..150)
        .map(|i| format!("padding-protocol-{i:04}").into_bytes())
        .collect();
    let mut alpns: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
    alpns.push(util::ALPN);
    let c = quic_conn::tls::rustls::RustlsConfig::client(roots, &alpns).expect("client");
    let s = quic_conn::tls::rustls::RustlsConfig::server(vec![der], key, &[util::ALPN])
        .expect("server");
    let mut pair = Pair::with_tls(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        Config::default(),
        (c, s),
    );
    let seen = watch(&mut pair);
    pair.connect();
    transfer(&mut pair, 10_000);
    let first_flight = seen
        .borrow()
        .iter()
        .take_while(|&&(c, _, _)| c)
        .filter(|&&(_, v, ty)| v == Version::V1 && ty == PacketType::Initial)
        .count();
    assert!(
        first_flight >= 2,
        "ClientHello in {first_flight} Initial packets"
    );
    assert_eq!(pair.client.version(), Version::V2);
    assert_eq!(pair.server().version(), Version::V2);
}

#[test]
fn a_forged_v2_initial_that_does_not_open_changes_nothing() {
    // Before the server answers, a packet claiming v2 arrives at the client; it does not
    // authenticate with the v2 Initial keys, so the client stays in v1 (the tentative key
    // change is undone) and the real v1 handshake completes.
    let mut pair = Pair::new(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        server_cfg(&[Version::V1]),
    );
    let us = pair.client.local_cid();
    let mut forged = vec![0xd0u8]; // long header, fixed bit, v2 Initial type bits (0b01)
    forged.extend_from_slice(&Version::V2.0.to_be_bytes());
    forged.push(us.len() as u8);
    forged.extend_from_slice(us.as_bytes());
    forged.push(8);
    forged.extend_from_slice(&[0x77; 8]);
    forged.push(0); // no token
    forged.extend_from_slice(&[0x40, 100]); // length 100
    forged.extend_from_slice(&[0x5a; 100]);
    let now = pair.now;
    pair.client
        .handle_datagram(now, to_client(), bytes::BytesMut::from(&forged[..]));
    assert_eq!(pair.client.version(), Version::V1);
    assert!(!pair.client.is_closed());
    pair.connect();
    transfer(&mut pair, 5_000);
    assert_eq!(pair.client.version(), Version::V1);
    assert_eq!(pair.client.stats().decrypt_failures, 0);
}

// ---- Version Negotiation and the attempt after it ----

/// A client endpoint connecting with `cfg` to `server`; returns the connection's last
/// error (None if it is established).
fn attempt(
    cfg: Config,
    server: &mut Endpoint,
    client_tls: &Arc<dyn TlsConfig>,
    now: &mut Instant,
    seed: u64,
) -> (Option<ConnectionError>, Option<Version>) {
    let mut client = Endpoint::new(
        EndpointConfig {
            connection: cfg,
            ..EndpointConfig::default()
        },
        util::rng_factory(seed),
    );
    let h = client
        .connect(
            *now,
            client_tls.clone(),
            "localhost",
            util::client_addr(),
            util::server_addr(),
        )
        .expect("connect");
    util::drive_endpoints(&mut client, server, now);
    let mut err = None;
    while let Some((hh, e)) = client.poll_connection_event() {
        if let (true, quic_conn::Event::Closed(e)) = (hh == h, e) {
            err = Some(e);
        }
    }
    let version = client
        .connection(h)
        .filter(|c| c.is_established())
        .map(|c| c.version());
    (err, version)
}

fn server_endpoint(list: &[Version], tls: quic_conn::tls::rustls::RustlsConfig) -> Endpoint {
    Endpoint::new(
        EndpointConfig {
            connection: server_cfg(list),
            server_tls: Some(Arc::new(tls)),
            ..EndpointConfig::default()
        },
        util::rng_factory(100),
    )
}

#[test]
fn version_negotiation_names_the_version_to_retry_with_and_the_retry_connects() {
    let (c, s) = util::tls_configs(0);
    let c: Arc<dyn TlsConfig> = Arc::new(c);
    let mut server = server_endpoint(&[Version::V1], s);
    let mut now = Instant::from_nanos(1_000_000_000);
    // A client that starts in v2 gets Version Negotiation listing v1 only.
    let cfg = client_cfg(Version::V2, &[Version::V2, Version::V1]);
    let (err, version) = attempt(cfg, &mut server, &c, &mut now, 10);
    assert_eq!(version, None);
    let vn = match err {
        Some(ConnectionError::VersionNegotiation(vn)) => vn,
        other => panic!("expected VersionNegotiation, got {other:?}"),
    };
    assert_eq!(vn.original, Version::V2);
    assert_eq!(vn.chosen, Version::V1);
    assert_eq!(vn.offered.as_slice(), &[Version::V1]);
    // The next attempt connects in v1, and the server's version_information (v1 only)
    // agrees with the Version Negotiation packet.
    let (err, version) = attempt(
        cfg.after_version_negotiation(vn),
        &mut server,
        &c,
        &mut now,
        20,
    );
    assert_eq!(err, None);
    assert_eq!(version, Some(Version::V1));
}

#[test]
fn a_client_sharing_no_version_gives_up_with_version_mismatch() {
    let (c, s) = util::tls_configs(0);
    let c: Arc<dyn TlsConfig> = Arc::new(c);
    let mut server = server_endpoint(&[Version::V1], s);
    let mut now = Instant::from_nanos(1_000_000_000);
    let (err, _) = attempt(
        client_cfg(Version::V2, &[Version::V2]),
        &mut server,
        &c,
        &mut now,
        10,
    );
    assert_eq!(err, Some(ConnectionError::VersionMismatch));
}

#[test]
fn a_downgrade_by_a_forged_version_negotiation_is_detected() {
    // RFC 9368 §4: a forged Version Negotiation listing only v1 made the client retry in
    // v1, but the server lists v2 too: the client would have chosen v2.
    let (c, s) = util::tls_configs(0);
    let c: Arc<dyn TlsConfig> = Arc::new(c);
    let mut server = server_endpoint(&[Version::V1, Version::V2], s);
    let mut now = Instant::from_nanos(1_000_000_000);
    let cfg = client_cfg(Version::V2, &[Version::V2, Version::V1]);
    let forged = VersionNegotiated {
        original: Version::V2,
        offered: versions(&[Version::V1]),
        chosen: Version::V1,
    };
    let (err, version) = attempt(
        cfg.after_version_negotiation(forged),
        &mut server,
        &c,
        &mut now,
        10,
    );
    assert_eq!(version, None);
    closed_with_vn_error(err.as_ref());
}

fn vn_packet(to: ConnectionId, from: ConnectionId, list: &[Version]) -> bytes::BytesMut {
    let mut out = vec![0u8; 64];
    let mut w = Writer::new(&mut out);
    write_version_negotiation(&mut w, to.as_bytes(), from.as_bytes(), list, 0x5a).expect("vn");
    let n = w.written();
    out.truncate(n);
    bytes::BytesMut::from(&out[..])
}

fn to_client() -> DatagramMeta {
    DatagramMeta {
        remote: util::server_addr(),
        local: util::client_addr(),
        ecn: Ecn::NotEct,
    }
}

#[test]
fn version_negotiation_listing_our_version_or_arriving_late_is_ignored() {
    let mut pair = Pair::new(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        Config::default(),
    );
    let (us, them) = (pair.client.local_cid(), pair.client.remote_cid());
    let now = pair.now;
    // Lists the Original Version: ignored (RFC 9368 §4).
    pair.client.handle_datagram(
        now,
        to_client(),
        vn_packet(us, them, &[Version(0x1a2a_3a4a), Version::V1]),
    );
    // Wrong connection IDs: ignored (RFC 8999 §6).
    let other = ConnectionId::new(&[9; 8]).unwrap();
    pair.client
        .handle_datagram(now, to_client(), vn_packet(other, them, &[Version::V2]));
    assert!(!pair.client.is_closed());
    // Let the server answer, then a forged VN without v1 arrives: too late (RFC 9000 §6.2).
    pair.drive_until(10_000, |p| {
        p.client.peer_params().is_some() || p.client.is_established()
    });
    let now = pair.now;
    pair.client
        .handle_datagram(now, to_client(), vn_packet(us, them, &[Version::V2]));
    assert!(!pair.client.is_closed(), "{:?}", pair.client.error());
    pair.connect();
    assert_eq!(pair.client.version(), Version::V2);
}

#[test]
fn after_version_negotiation_further_version_negotiation_is_ignored() {
    let vn = VersionNegotiated {
        original: Version::V2,
        offered: versions(&[Version::V1]),
        chosen: Version::V1,
    };
    let mut pair = Pair::new(
        client_cfg(Version::V2, &[Version::V2, Version::V1]).after_version_negotiation(vn),
        server_cfg(&[Version::V1]),
    );
    let (us, them) = (pair.client.local_cid(), pair.client.remote_cid());
    let now = pair.now;
    pair.client.handle_datagram(
        now,
        to_client(),
        vn_packet(us, them, &[Version(0x1a2a_3a4a)]),
    );
    assert!(!pair.client.is_closed());
    pair.connect();
    assert_eq!(pair.client.version(), Version::V1);
}

// ---- version_information checks (RFC 9368 §4) ----

/// A TLS configuration that rewrites the transport parameters it is asked to send.
struct Tamper<T> {
    inner: T,
    edit: fn(&mut TransportParameters),
}

impl<T: TlsConfig> TlsConfig for Tamper<T> {
    fn start_session(
        &self,
        side: Side,
        version: Version,
        params: &[u8],
        server_name: Option<&str>,
    ) -> Result<Box<dyn Session>, TlsError> {
        let mut tp = TransportParameters::decode(params, side).expect("our own parameters");
        (self.edit)(&mut tp);
        let mut out = vec![0u8; tp.encoded_len()];
        let mut w = Writer::new(&mut out);
        tp.encode(&mut w).expect("encode");
        self.inner.start_session(side, version, &out, server_name)
    }

    fn initial_keys(&self, v: Version, dcid: &ConnectionId, side: Side) -> Result<Keys, TlsError> {
        self.inner.initial_keys(v, dcid, side)
    }
}

fn tampered(
    client: Config,
    server: Config,
    client_edit: fn(&mut TransportParameters),
    server_edit: fn(&mut TransportParameters),
) -> Pair {
    let (c, s) = util::tls_configs(0);
    let c = Tamper {
        inner: c,
        edit: client_edit,
    };
    let s = Tamper {
        inner: s,
        edit: server_edit,
    };
    let mut pair = Pair::with_tls(client, server, (c, s));
    pair.drive();
    pair
}

#[test]
fn a_client_chosen_version_other_than_its_packets_is_a_version_negotiation_error() {
    let mut pair = tampered(
        client_cfg(Version::V1, &[Version::V1, Version::V2]),
        Config::default(),
        |tp| {
            tp.version_information =
                VersionInformation::new(Version::V2, &[Version::V2, Version::V1]);
        },
        |_| {},
    );
    closed_with_vn_error(pair.server().error());
    peer_closed_with_vn_error(pair.client.error());
}

#[test]
fn a_server_chosen_version_other_than_the_version_in_use_is_a_version_negotiation_error() {
    // The server switches to v2 but claims v1 in its version_information.
    let mut pair = tampered(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        Config::default(),
        |_| {},
        |tp| {
            tp.version_information =
                VersionInformation::new(Version::V1, &[Version::V1, Version::V2]);
        },
    );
    closed_with_vn_error(pair.client.error());
    peer_closed_with_vn_error(pair.server().error());
}

#[test]
fn a_server_that_switches_without_version_information_is_refused() {
    let mut pair = tampered(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        Config::default(),
        |_| {},
        |tp| tp.version_information = None,
    );
    assert_eq!(pair.client.version(), Version::V2);
    closed_with_vn_error(pair.client.error());
    assert!(pair.server().is_closed());
}

#[test]
fn without_a_switch_a_server_may_omit_version_information() {
    // RFC 9368 §4: clients MAY complete the handshake without it unless they reacted to
    // Version Negotiation.
    let mut pair = tampered(
        Config::default(),
        Config::default(),
        |_| {},
        |tp| tp.version_information = None,
    );
    assert!(pair.client.is_established(), "{:?}", pair.client.error());
    assert_eq!(pair.server().version(), Version::V1);
}

// ---- Retry and 0-RTT across a switch ----

#[test]
fn retry_uses_the_original_version_and_the_connection_then_switches_to_v2() {
    let (c, s) = util::tls_configs(0);
    let mut server = Endpoint::new(
        EndpointConfig {
            connection: server_cfg(&[Version::V2, Version::V1]),
            server_tls: Some(Arc::new(s)),
            retry: true,
            ..EndpointConfig::default()
        },
        util::rng_factory(10),
    );
    let mut client = Endpoint::new(
        EndpointConfig {
            connection: Config::default(),
            ..EndpointConfig::default()
        },
        util::rng_factory(20),
    );
    let mut now = Instant::from_nanos(1_000_000_000);
    let h = client
        .connect(
            now,
            Arc::new(c),
            "localhost",
            util::client_addr(),
            util::server_addr(),
        )
        .expect("connect");
    // The Retry answers the v1 Initial in v1 (RFC 9369 §4).
    let mut buf = vec![0u8; 1500];
    let t = client.poll_transmit(now, &mut buf).expect("first flight");
    let meta = DatagramMeta {
        remote: util::client_addr(),
        local: util::server_addr(),
        ecn: Ecn::NotEct,
    };
    server.handle_datagram(now, meta, bytes::BytesMut::from(&buf[..t.size]));
    let t = server.poll_transmit(now, &mut buf).expect("retry");
    match Packet::parse(&buf[..t.size], &ParseConfig::new(8)) {
        Ok((Packet::Retry(r), _)) => assert_eq!(r.header.version, Version::V1),
        other => panic!("expected a Retry, got {other:?}"),
    }
    client.handle_datagram(now, to_client(), bytes::BytesMut::from(&buf[..t.size]));
    util::drive_endpoints(&mut client, &mut server, &mut now);
    let conn = client.connection(h).expect("client");
    assert!(conn.is_established(), "{:?}", conn.error());
    assert_eq!(conn.version(), Version::V2);
    assert_eq!(conn.initial_version(), Version::V1);
    assert!(conn
        .peer_params()
        .unwrap()
        .retry_source_connection_id
        .is_some());
}

#[test]
fn zero_rtt_is_refused_across_a_version_switch_and_its_data_is_sent_again() {
    let (c, s) = util::tls_configs(0);
    let (c, s) = (c.with_early_data(), s.with_early_data());
    // A first connection (v1, no switch) leaves a ticket allowing early data.
    let mut first = Pair::with_tls(Config::default(), Config::default(), (c.clone(), s.clone()));
    first.connect();
    first.drive();
    // The second starts in v1 with 0-RTT; the server switches it to v2.
    let mut pair = Pair::seeded(
        client_cfg(Version::V1, &[Version::V2, Version::V1]),
        Config::default(),
        (c, s),
        1,
    );
    assert!(pair.client.is_zero_rtt_active());
    let seen = watch(&mut pair);
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    pair.client
        .streams()
        .set_0rtt_allowed(id, true)
        .expect("0-RTT");
    pair.client.write(id, b"early request").expect("write");
    pair.client.finish(id).expect("finish");
    pair.connect();
    pair.drive();
    assert_eq!(pair.client.version(), Version::V2);
    assert_eq!(pair.server().version(), Version::V2);
    // 0-RTT went in v1 only (RFC 9369 §4), and was refused, so the data went again.
    let zero_rtt: Vec<Version> = seen
        .borrow()
        .iter()
        .filter(|&&(_, _, ty)| ty == PacketType::ZeroRtt)
        .map(|&(_, v, _)| v)
        .collect();
    assert!(!zero_rtt.is_empty(), "the client tried 0-RTT");
    assert!(zero_rtt.iter().all(|&v| v == Version::V1));
    assert!(!pair.client.is_zero_rtt_accepted());
    let mut got = Vec::new();
    assert!(read_all(pair.server(), id, &mut got));
    assert_eq!(got, b"early request");
}

#[test]
fn zero_rtt_without_a_switch_is_still_accepted() {
    let (c, s) = util::tls_configs(0);
    let (c, s) = (c.with_early_data(), s.with_early_data());
    let mut first = Pair::with_tls(Config::default(), Config::default(), (c.clone(), s.clone()));
    first.connect();
    first.drive();
    let mut pair = Pair::seeded(Config::default(), Config::default(), (c, s), 1);
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    pair.client
        .streams()
        .set_0rtt_allowed(id, true)
        .expect("0-RTT");
    pair.client.write(id, b"early").expect("write");
    pair.client.finish(id).expect("finish");
    pair.connect();
    pair.drive();
    assert_eq!(pair.client.version(), Version::V1);
    assert!(pair.client.is_zero_rtt_accepted());
}

// ---- session tickets are specific to a version (RFC 9369 §5) ----

/// A first connection in `first` (leaving a ticket), then a second client in `second`
/// (offering only that version); returns whether the second resumed, and its version.
fn resume_across(first: Version, second: Version) -> (bool, Version) {
    let (c, s) = util::tls_configs(0);
    let (c, s) = (c.with_early_data(), s.with_early_data());
    let mut one = Pair::with_tls(
        client_cfg(first, &[first]),
        Config::default(),
        (c.clone(), s.clone()),
    );
    one.connect();
    one.drive();
    assert_eq!(one.server().version(), first);
    let mut two = Pair::seeded(client_cfg(second, &[second]), Config::default(), (c, s), 1);
    let id = match two.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    // With a ticket the client tries 0-RTT: a refusal must still deliver the data.
    let _ = two.client.streams().set_0rtt_allowed(id, true);
    two.client.write(id, b"request").expect("write");
    two.client.finish(id).expect("finish");
    two.connect();
    two.drive();
    let mut got = Vec::new();
    assert!(read_all(two.server(), id, &mut got));
    assert_eq!(got, b"request");
    assert_eq!(two.client.is_resumed(), two.server().is_resumed());
    (two.client.is_resumed(), two.client.version())
}

#[test]
fn a_session_ticket_resumes_only_in_the_version_that_issued_it() {
    assert_eq!(resume_across(Version::V2, Version::V2), (true, Version::V2));
    assert_eq!(resume_across(Version::V1, Version::V1), (true, Version::V1));
    // "Servers MUST validate the originating version of any session ticket ... A
    // rejected ticket results in falling back to a full TLS handshake, without 0-RTT."
    assert_eq!(
        resume_across(Version::V2, Version::V1),
        (false, Version::V1)
    );
    assert_eq!(
        resume_across(Version::V1, Version::V2),
        (false, Version::V2)
    );
}

// ---- qlog ----

#[cfg(feature = "qlog")]
mod qlog {
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex};

    use quic_conn::qlog::{Qlog, TraceConfig};
    use quic_wire::{ConnectionId, Side, Version};
    use serde_json::Value;

    use super::{client_cfg, util::Pair};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_client_logs_the_negotiated_version() {
        let mut pair = Pair::new(
            client_cfg(Version::V1, &[Version::V2, Version::V1]),
            quic_conn::conn::Config::default(),
        );
        let out = Shared::default();
        let odcid = ConnectionId::new(&[1, 2, 3, 4]).unwrap();
        let qlog = Qlog::start(
            out.clone(),
            &TraceConfig::connection(Side::Client, &odcid),
            pair.now,
        )
        .expect("start trace");
        pair.client.set_qlog(qlog);
        pair.connect();
        let bytes = out.0.lock().unwrap().clone();
        let events: Vec<Value> = bytes[1..]
            .split(|&b| b == 0x1e)
            .map(|rec| serde_json::from_slice(rec).expect("JSON"))
            .collect();
        let vi: Vec<&Value> = events
            .iter()
            .filter(|e| e["name"] == "quic:version_information")
            .collect();
        assert_eq!(vi.len(), 1, "one version_information event");
        assert_eq!(vi[0]["data"]["chosen_version"], "6b3343cf");
        assert_eq!(
            vi[0]["data"]["client_versions"],
            serde_json::json!(["6b3343cf", "00000001"])
        );
    }
}
