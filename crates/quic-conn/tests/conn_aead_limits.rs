//! RFC 9001 §6.6: "If the total number of received packets that fail authentication within
//! the connection, across all keys, exceeds the integrity limit for the selected AEAD, the
//! endpoint MUST immediately close the connection with a connection error of type
//! AEAD_LIMIT_REACHED". Real limits (2^52 for AES-GCM) cannot be reached in a test, so the
//! server's 1-RTT receive keys are wrapped to report a limit of three.
#![cfg(feature = "rustls")]

mod util;

use bytes::BytesMut;
use quic_conn::conn::{Config, ConnectionError};
use quic_conn::tls::{
    DirectionalKeys, KeyChange, Keys, Level, PacketKeyPair, Session, TlsConfig, TlsError,
};
use quic_conn::DatagramMeta;
use quic_streams::StreamRef;
use quic_wire::crypto::{CryptoError, PacketKey, Suite};
use quic_wire::{ConnectionId, Dir, Ecn, PacketNumber, PathId, Side, TransportErrorCode, Version};
use util::Pair;

/// The integrity limit the wrapped keys report.
const LIMIT: u64 = 3;

/// A packet key that reports a tiny integrity limit and otherwise is its inner key.
struct LowLimit(Box<dyn PacketKey>);

impl PacketKey for LowLimit {
    fn suite(&self) -> Suite {
        self.0.suite()
    }
    fn integrity_limit(&self) -> u64 {
        LIMIT
    }
    fn seal(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.0.seal(path, pn, header, payload, tag)
    }
    fn open(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload_and_tag: &mut [u8],
    ) -> Result<usize, CryptoError> {
        self.0.open(path, pn, header, payload_and_tag)
    }
}

fn low(keys: Keys) -> Keys {
    Keys {
        local: keys.local,
        remote: DirectionalKeys {
            packet: Box::new(LowLimit(keys.remote.packet)),
            header: keys.remote.header,
        },
    }
}

/// A session whose 1-RTT receive keys report the low limit.
struct LowLimitSession(Box<dyn Session>);

impl Session for LowLimitSession {
    fn is_handshaking(&self) -> bool {
        self.0.is_handshaking()
    }
    fn read_handshake(&mut self, level: Level, data: &[u8]) -> Result<(), TlsError> {
        self.0.read_handshake(level, data)
    }
    fn write_handshake(&mut self, out: &mut Vec<u8>) -> Option<KeyChange> {
        match self.0.write_handshake(out)? {
            KeyChange::OneRtt(keys) => Some(KeyChange::OneRtt(low(keys))),
            other => Some(other),
        }
    }
    fn peer_transport_parameters(&self) -> Option<&[u8]> {
        self.0.peer_transport_parameters()
    }
    fn alpn(&self) -> Option<&[u8]> {
        self.0.alpn()
    }
    fn zero_rtt_keys(&self) -> Option<DirectionalKeys> {
        self.0.zero_rtt_keys()
    }
    fn is_early_data_accepted(&self) -> bool {
        self.0.is_early_data_accepted()
    }
    fn next_one_rtt_keys(&mut self) -> Option<PacketKeyPair> {
        let next = self.0.next_one_rtt_keys()?;
        Some(PacketKeyPair {
            local: next.local,
            remote: Box::new(LowLimit(next.remote)),
        })
    }
}

/// A TLS configuration whose sessions use [`LowLimitSession`].
struct LowLimitTls<T>(T);

impl<T: TlsConfig> TlsConfig for LowLimitTls<T> {
    fn start_session(
        &self,
        side: Side,
        version: Version,
        params: &[u8],
        server_name: Option<&str>,
    ) -> Result<Box<dyn Session>, TlsError> {
        let inner = self.0.start_session(side, version, params, server_name)?;
        Ok(Box::new(LowLimitSession(inner)))
    }
    fn initial_keys(&self, v: Version, dcid: &ConnectionId, side: Side) -> Result<Keys, TlsError> {
        self.0.initial_keys(v, dcid, side)
    }
}

/// The client sends one 1-RTT datagram of stream data whose last byte (in the AEAD tag) is
/// flipped, straight to the server.
fn forged_datagram_to_server(pair: &mut Pair) {
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    pair.client.write(id, &[7; 100]).expect("write");
    let now = pair.now;
    let mut buf = vec![0u8; 1500];
    let t = pair
        .client
        .poll_transmit(now, &mut buf)
        .expect("a datagram");
    buf[t.size - 1] ^= 0x01;
    let meta = DatagramMeta {
        remote: util::client_addr(),
        local: util::server_addr(),
        ecn: Ecn::NotEct,
    };
    pair.server()
        .handle_datagram(now, meta, BytesMut::from(&buf[..t.size]));
}

#[test]
fn too_many_forged_packets_close_with_aead_limit_reached() {
    let (c, s) = util::tls_configs(0);
    let mut pair = Pair::with_tls(Config::default(), Config::default(), (c, LowLimitTls(s)));
    pair.connect();
    pair.drive();
    for _ in 0..LIMIT - 1 {
        forged_datagram_to_server(&mut pair);
    }
    // Below the limit: counted and dropped, the connection goes on.
    assert_eq!(pair.server().stats().decrypt_failures, LIMIT - 1);
    assert_eq!(pair.server().error(), None);
    forged_datagram_to_server(&mut pair);
    match pair.server().error() {
        Some(ConnectionError::Transport(e)) => {
            assert_eq!(e.code, TransportErrorCode::AEAD_LIMIT_REACHED, "{e:?}")
        }
        other => panic!("expected AEAD_LIMIT_REACHED, got {other:?}"),
    }
}
