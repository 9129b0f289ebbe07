//! The TLS material both stacks share: one self-signed ECDSA P-256 certificate.

use std::sync::Arc;

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::{
    client::Resumption,
    crypto::{ring as ring_provider, CryptoProvider},
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    server::NoServerSessionStorage,
    RootCertStore,
};

use crate::stack::StackConfig;

/// A certificate and its key, in the DER forms TLS libraries take.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The certificate (self-signed, ECDSA P-256 with SHA-256, for `server_name`).
    pub cert_der: Vec<u8>,
    /// The private key as PKCS#8 DER.
    pub key_der: Vec<u8>,
    /// The DNS name the certificate is issued for.
    pub server_name: String,
}

impl TlsMaterial {
    /// Generates a fresh P-256 key and a self-signed certificate for `server_name`.
    pub fn generate(server_name: &str) -> Result<Self, String> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| e.to_string())?;
        let cert = CertificateParams::new(vec![server_name.to_owned()])
            .and_then(|p| p.self_signed(&key))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
            server_name: server_name.to_owned(),
        })
    }
}

/// A ring provider that can negotiate only AES-128-GCM and X25519: the one both stacks use.
pub fn provider() -> Arc<CryptoProvider> {
    let base = ring_provider::default_provider();
    Arc::new(CryptoProvider {
        cipher_suites: vec![ring_provider::cipher_suite::TLS13_AES_128_GCM_SHA256],
        kx_groups: vec![ring_provider::kx_group::X25519],
        ..base
    })
}

/// The rustls client configuration both stacks wrap: TLS 1.3 only, the benchmark
/// certificate as the only root, no resumption and no early data, so every connection is
/// a full handshake.
pub fn rustls_client(config: &StackConfig) -> Result<rustls::ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(config.cert_der.clone()))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.resumption = Resumption::disabled();
    tls.enable_early_data = false;
    Ok(tls)
}

/// The rustls server configuration both stacks wrap: TLS 1.3 only, the benchmark
/// certificate, no session tickets or session storage, no 0-RTT.
pub fn rustls_server(config: &StackConfig) -> Result<rustls::ServerConfig, String> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(config.key_der.clone()));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(config.cert_der.clone())], key)
        .map_err(|e| e.to_string())?;
    tls.send_tls13_tickets = 0;
    tls.session_storage = Arc::new(NoServerSessionStorage {});
    // RFC 9001 §4.6.1: 0 means no 0-RTT.
    tls.max_early_data_size = 0;
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_aes_128_gcm_and_x25519_can_be_negotiated() {
        let p = provider();
        let suites: Vec<_> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(suites, [rustls::CipherSuite::TLS13_AES_128_GCM_SHA256]);
        let groups: Vec<_> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [rustls::NamedGroup::X25519]);
    }
}
