//! The TLS material both stacks share: one self-signed ECDSA P-256 certificate.

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};

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
