//! What the connection fuzz targets share: a deterministic RNG, one TLS configuration
//! for both ends (generated once), and the addresses of the two ends.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use quic_conn::tls::rustls::RustlsConfig;
use quic_conn::DatagramMeta;
use quic_wire::Ecn;

/// A deterministic RNG (splitmix64).
pub struct Rng(pub u64);

impl rand_core::RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u32() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Fuzzing only: deterministic on purpose.
impl rand_core::CryptoRng for Rng {}

/// Client and server TLS configurations with a self-signed certificate, made once.
pub fn tls() -> &'static (Arc<RustlsConfig>, Arc<RustlsConfig>) {
    static TLS: OnceLock<(Arc<RustlsConfig>, Arc<RustlsConfig>)> = OnceLock::new();
    TLS.get_or_init(|| {
        let cert = rcgen::generate_simple_self_signed(["localhost".to_string()]).unwrap();
        let der = cert.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der.clone()).unwrap();
        (
            Arc::new(RustlsConfig::client(roots, &[b"fuzz"]).unwrap()),
            Arc::new(RustlsConfig::server(vec![der], key, &[b"fuzz"]).unwrap()),
        )
    })
}

/// The client's address.
pub const C: &str = "10.0.0.1:1000";
/// The server's address.
pub const S: &str = "10.0.0.2:2000";

/// Datagram metadata for a datagram from `remote` to `local`.
pub fn meta(remote: &str, local: &str) -> DatagramMeta {
    DatagramMeta {
        remote: remote.parse::<SocketAddr>().unwrap(),
        local: local.parse::<SocketAddr>().unwrap(),
        ecn: Ecn::NotEct,
    }
}
