//! WORKAROUND, to delete once the library is fixed: a copy of quic-conn's rustls
//! [`Session`] whose header protection mask is complete.
//!
//! `quic_conn::tls::rustls`'s `RustlsHeaderKey::mask` asks rustls for the mask by
//! protecting a zero first byte and a zero 4-byte packet number. rustls only masks as many
//! packet-number bytes as the first byte's two length bits say (here: one), so mask bytes
//! 2 to 4 come back as zero. Between two quic-conn endpoints this goes unnoticed (both
//! sides apply the same short mask), but a peer that sends 2-byte packet numbers (aioquic
//! always does) is misread and every Handshake and 1-RTT packet fails to decrypt. Asking
//! with the length bits set (first byte `0x03`) gives the whole mask.
//!
//! [`FixedRustls`] wraps a [`RustlsConfig`] and differs from it only in that mask.

use std::sync::Arc;

use quic_conn::tls::rustls::RustlsConfig;
use quic_conn::tls::{
    DirectionalKeys, KeyChange, Keys, Level, PacketKeyPair, Session, TlsConfig, TlsError,
};
use quic_wire::crypto::{CryptoError, HeaderKey, PacketKey, Suite, MASK_LEN, SAMPLE_LEN};
use quic_wire::{ConnectionId, PacketNumber, PathId, Side, Version};
use rustls::quic as rq;

/// A [`RustlsConfig`] whose sessions use complete header protection masks.
pub struct FixedRustls(pub RustlsConfig);

fn internal(reason: &'static str) -> TlsError {
    TlsError {
        alert: None,
        reason,
    }
}

impl TlsConfig for FixedRustls {
    fn start_session(
        &self,
        side: Side,
        version: Version,
        params: &[u8],
        server_name: Option<&str>,
    ) -> Result<Box<dyn Session>, TlsError> {
        let v = match version {
            Version::V1 => rq::Version::V1,
            Version::V2 => rq::Version::V2,
            _ => return Err(internal("QUIC version not supported by the TLS session")),
        };
        let conn: rq::Connection = match (&self.0, side) {
            (RustlsConfig::Client(c), Side::Client) => {
                let name = rustls::pki_types::ServerName::try_from(server_name.unwrap_or(""))
                    .map_err(|_| internal("invalid server name"))?
                    .to_owned();
                rq::ClientConnection::new(c.clone(), v, name, params.to_vec())
                    .map_err(|_| internal("rustls refused the client configuration"))?
                    .into()
            }
            (RustlsConfig::Server(c), Side::Server) => {
                rq::ServerConnection::new(c.clone(), v, params.to_vec())
                    .map_err(|_| internal("rustls refused the server configuration"))?
                    .into()
            }
            _ => return Err(internal("TLS configuration is for the other side")),
        };
        Ok(Box::new(FixedSession { conn, next: None }))
    }

    fn initial_keys(
        &self,
        version: Version,
        dcid: &ConnectionId,
        side: Side,
    ) -> Result<Keys, TlsError> {
        // Initial keys come from quic-wire, not from rustls: not affected.
        self.0.initial_keys(version, dcid, side)
    }

    fn retry_integrity_tag(
        &self,
        version: Version,
        original_dcid: &ConnectionId,
        retry_without_tag: &[u8],
    ) -> Result<[u8; 16], TlsError> {
        self.0
            .retry_integrity_tag(version, original_dcid, retry_without_tag)
    }
}

struct FixedSession {
    conn: rq::Connection,
    next: Option<rq::Secrets>,
}

impl FixedSession {
    fn suite(&self) -> Suite {
        self.conn
            .negotiated_cipher_suite()
            .and_then(|s| Suite::from_tls_id(u16::from(s.suite())))
            .unwrap_or(Suite::Aes128Gcm)
    }

    fn keys(&self, k: rq::Keys) -> Keys {
        let suite = self.suite();
        Keys {
            local: directional(k.local, suite),
            remote: directional(k.remote, suite),
        }
    }
}

fn directional(k: rq::DirectionalKeys, suite: Suite) -> DirectionalKeys {
    DirectionalKeys {
        packet: Box::new(FixedPacketKey {
            key: k.packet,
            suite,
        }),
        header: Box::new(FixedHeaderKey(k.header)),
    }
}

impl Session for FixedSession {
    fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    fn read_handshake(&mut self, _level: Level, data: &[u8]) -> Result<(), TlsError> {
        self.conn.read_hs(data).map_err(|_| TlsError {
            alert: self.conn.alert().map(u8::from),
            reason: "TLS handshake failed",
        })
    }

    fn write_handshake(&mut self, out: &mut Vec<u8>) -> Option<KeyChange> {
        match self.conn.write_hs(out)? {
            rq::KeyChange::Handshake { keys } => Some(KeyChange::Handshake(self.keys(keys))),
            rq::KeyChange::OneRtt { keys, next } => {
                self.next = Some(next);
                Some(KeyChange::OneRtt(self.keys(keys)))
            }
        }
    }

    fn peer_transport_parameters(&self) -> Option<&[u8]> {
        self.conn.quic_transport_parameters()
    }

    fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    fn zero_rtt_keys(&self) -> Option<DirectionalKeys> {
        let suite = self.suite();
        self.conn.zero_rtt_keys().map(|k| directional(k, suite))
    }

    fn is_early_data_accepted(&self) -> bool {
        match &self.conn {
            rq::Connection::Client(c) => c.is_early_data_accepted(),
            rq::Connection::Server(_) => false,
        }
    }

    fn next_one_rtt_keys(&mut self) -> Option<PacketKeyPair> {
        let suite = self.suite();
        let keys = self.next.as_mut()?.next_packet_keys();
        Some(PacketKeyPair {
            local: Box::new(FixedPacketKey {
                key: keys.local,
                suite,
            }),
            remote: Box::new(FixedPacketKey {
                key: keys.remote,
                suite,
            }),
        })
    }
}

struct FixedPacketKey {
    key: Box<dyn rq::PacketKey>,
    suite: Suite,
}

impl PacketKey for FixedPacketKey {
    fn suite(&self) -> Suite {
        self.suite
    }

    fn seal(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        if tag.len() != self.key.tag_len() {
            return Err(CryptoError::BadLength);
        }
        let t = if path == PathId::ZERO {
            self.key.encrypt_in_place(pn.as_u64(), header, payload)
        } else {
            self.key
                .encrypt_in_place_for_path(path.as_u32(), pn.as_u64(), header, payload)
        }
        .map_err(|_| CryptoError::Backend)?;
        tag.copy_from_slice(t.as_ref());
        Ok(())
    }

    fn open(
        &self,
        path: PathId,
        pn: PacketNumber,
        header: &[u8],
        payload_and_tag: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if payload_and_tag.len() < self.key.tag_len() {
            return Err(CryptoError::PacketTooShort);
        }
        let r = if path == PathId::ZERO {
            self.key
                .decrypt_in_place(pn.as_u64(), header, payload_and_tag)
        } else {
            self.key
                .decrypt_in_place_for_path(path.as_u32(), pn.as_u64(), header, payload_and_tag)
        };
        r.map(<[u8]>::len).map_err(|_| CryptoError::DecryptFailed)
    }
}

/// The fix: protect a first byte whose packet-number length bits say 4 bytes, so rustls
/// masks all four; the first byte's mask is what changed in it.
struct FixedHeaderKey(Box<dyn rq::HeaderProtectionKey>);

impl HeaderKey for FixedHeaderKey {
    fn mask(&self, sample: &[u8]) -> Result<[u8; MASK_LEN], CryptoError> {
        if sample.len() != SAMPLE_LEN {
            return Err(CryptoError::BadLength);
        }
        // Short-header form (bit 0x80 clear): rustls masks the low 5 bits, a superset of
        // the 4 a long header uses, as the library expects.
        const PN_LEN_4: u8 = 0x03;
        let mut first = PN_LEN_4;
        let mut pn = [0u8; 4];
        self.0
            .encrypt_in_place(sample, &mut first, &mut pn)
            .map_err(|_| CryptoError::Backend)?;
        Ok([first ^ PN_LEN_4, pn[0], pn[1], pn[2], pn[3]])
    }
}

/// Wraps a rustls configuration for an endpoint.
pub fn tls_config(config: RustlsConfig) -> Arc<dyn TlsConfig> {
    Arc::new(FixedRustls(config))
}
