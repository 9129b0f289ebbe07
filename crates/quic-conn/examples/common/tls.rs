//! TLS set-up for the examples: rustls client and server configurations from the command
//! line (PEM files, `--insecure`, ALPN, the chacha20 test case's single cipher suite, the
//! key log), wrapped in quic-conn's [`RustlsConfig`].

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use quic_conn::tls::rustls::RustlsConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{Alpn, Args, TestCase};

// ---- certificates, cipher suites, key log ----

/// Every certificate of a PEM file, in order.
pub fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate"));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, SEC1 or PKCS#1).
pub fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{path}: {e}"))
}

/// The ring crypto provider; for the chacha20 test case with only
/// TLS_CHACHA20_POLY1305_SHA256.
pub fn crypto_provider(case: TestCase) -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    if case == TestCase::ChaCha20 {
        provider.cipher_suites =
            vec![rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256];
    }
    Arc::new(provider)
}

/// TLS secrets in the NSS key log format, appended to a file (for Wireshark).
#[derive(Debug)]
struct FileKeyLog(Mutex<std::fs::File>);

impl rustls::KeyLog for FileKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        if let Ok(mut f) = self.0.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// The key log `--keylog FILE` or SSLKEYLOGFILE asks for, if any.
pub fn key_log(args: &Args) -> Result<Option<Arc<dyn rustls::KeyLog>>, String> {
    let Some(path) = args.value_or_env("--keylog", "SSLKEYLOGFILE") else {
        return Ok(None);
    };
    key_log_file(Path::new(&path)).map(Some)
}

/// A key log appending to `path` (its directory is created when missing).
pub fn key_log_file(path: &Path) -> Result<Arc<dyn rustls::KeyLog>, String> {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Arc::new(FileKeyLog(Mutex::new(file))))
}

// ---- client ----

/// The client's rustls configuration: trust `--ca` (or nothing with `--insecure`), offer
/// `alpn`, log keys as asked, count session tickets.
pub fn client_config(
    args: &Args,
    case: TestCase,
    alpn: Alpn,
    tickets: Arc<TicketCounter>,
) -> Result<RustlsConfig, String> {
    let provider = crypto_provider(case);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?;
    let mut config = if args.has("--insecure") {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        let ca = args
            .value("--ca")
            .ok_or("--ca CA.pem or --insecure is needed")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in load_certs(ca)? {
            roots.add(cert).map_err(|e| format!("{ca}: {e}"))?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![alpn.id().to_vec()];
    config.resumption = rustls::client::Resumption::store(tickets);
    // Early data is sent only on streams the application allows (a replay risk).
    config.enable_early_data = case == TestCase::ZeroRtt;
    if let Some(log) = key_log(args)? {
        config.key_log = log;
    }
    Ok(RustlsConfig::Client(Arc::new(config)))
}

/// `--insecure`: accepts any certificate, but still checks the handshake signature.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// rustls' in-memory session store, counting the TLS 1.3 tickets it was given (the
/// resumption test case waits for one before opening its second connection).
#[derive(Debug)]
pub struct TicketCounter {
    inner: rustls::client::ClientSessionMemoryCache,
    tickets: AtomicUsize,
}

impl Default for TicketCounter {
    fn default() -> Self {
        TicketCounter {
            inner: rustls::client::ClientSessionMemoryCache::new(32),
            tickets: AtomicUsize::new(0),
        }
    }
}

impl TicketCounter {
    /// How many TLS 1.3 tickets were stored.
    pub fn count(&self) -> usize {
        self.tickets.load(Ordering::Relaxed)
    }
}

impl rustls::client::ClientSessionStore for TicketCounter {
    fn set_kx_hint(&self, name: rustls::pki_types::ServerName<'static>, group: rustls::NamedGroup) {
        self.inner.set_kx_hint(name, group);
    }

    fn kx_hint(&self, name: &rustls::pki_types::ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(name)
    }

    fn set_tls12_session(
        &self,
        name: rustls::pki_types::ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(name, value);
    }

    fn tls12_session(
        &self,
        name: &rustls::pki_types::ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(name)
    }

    fn remove_tls12_session(&self, name: &rustls::pki_types::ServerName<'static>) {
        self.inner.remove_tls12_session(name);
    }

    fn insert_tls13_ticket(
        &self,
        name: rustls::pki_types::ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets.fetch_add(1, Ordering::Relaxed);
        self.inner.insert_tls13_ticket(name, value);
    }

    fn take_tls13_ticket(
        &self,
        name: &rustls::pki_types::ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(name)
    }
}

// ---- server ----

/// The server's rustls configuration: the certificate chain and key from the PEM files,
/// the ALPNs offered, the cipher suites of the test case, the key log.
pub fn server_config(args: &Args, case: TestCase, alpns: &[Alpn]) -> Result<RustlsConfig, String> {
    let chain = load_certs(args.value("--cert").ok_or("--cert is needed")?)?;
    let key = load_key(args.value("--key").ok_or("--key is needed")?)?;
    let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider(case))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate or key: {e}"))?;
    config.alpn_protocols = alpns.iter().map(|a| a.id().to_vec()).collect();
    // RFC 9001 §4.6.1: 0 or 0xffffffff. Early data can be replayed: accepted only for
    // the zerortt test case.
    config.max_early_data_size = if case == TestCase::ZeroRtt {
        u32::MAX
    } else {
        0
    };
    if let Some(log) = key_log(args)? {
        config.key_log = log;
    }
    Ok(RustlsConfig::Server(Arc::new(config)))
}
