//! TLS for both stacks: one self-signed certificate, rustls client and server configurations
//! per test case, and hooks that count what rustls does with session tickets, so resumption
//! can be checked the same way whichever stack carries the handshake.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rcgen::{CertificateParams, KeyPair, PKCS_ED25519};
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore};
use rustls::crypto::{ring as ring_provider, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};

use crate::{Case, ALPN, SERVER_NAME};

/// The server's certificate (self-signed, Ed25519) and key; the client trusts exactly it.
/// Ed25519 signatures have one size, so handshakes (and with them whole cells) repeat packet
/// for packet from run to run, where ECDSA's DER signatures vary by a byte or two.
#[derive(Debug, Clone)]
pub struct Pki {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl Pki {
    /// Generates a fresh key and certificate for [`SERVER_NAME`].
    pub fn generate() -> Result<Self, String> {
        let key = KeyPair::generate_for(&PKCS_ED25519).map_err(|e| e.to_string())?;
        let cert = CertificateParams::new(vec![SERVER_NAME.to_owned()])
            .and_then(|p| p.self_signed(&key))
            .map_err(|e| e.to_string())?;
        Ok(Pki {
            cert: cert.der().to_vec(),
            key: key.serialize_der(),
        })
    }
}

/// What rustls did with session tickets, counted on both ends.
#[derive(Debug, Default)]
pub struct Hooks {
    /// TLS 1.3 tickets the client stored.
    pub tickets_stored: AtomicUsize,
    /// Tickets the client took to offer resumption.
    pub tickets_offered: AtomicUsize,
    /// Sessions the server found for a client's resumption offer.
    pub server_resumed: AtomicUsize,
}

impl Hooks {
    /// Reads a counter.
    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }
}

/// The ring provider; for chacha20 with TLS_CHACHA20_POLY1305_SHA256 only.
fn provider(case: Case) -> Arc<CryptoProvider> {
    let mut p = ring_provider::default_provider();
    if case == Case::ChaCha20 {
        p.cipher_suites = vec![ring_provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256];
    }
    Arc::new(p)
}

/// The rustls client configuration of a case: TLS 1.3, trusting the test certificate, ALPN
/// hq-interop, tickets kept in a counting store, early data for zerortt.
pub fn client_config(
    pki: &Pki,
    case: Case,
    hooks: &Arc<Hooks>,
    keylog: Option<&Path>,
) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.cert.clone()))
        .map_err(|e| e.to_string())?;
    let mut c = rustls::ClientConfig::builder_with_provider(provider(case))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = vec![ALPN.to_vec()];
    c.resumption = rustls::client::Resumption::store(Arc::new(CountingClientStore {
        inner: ClientSessionMemoryCache::new(8),
        hooks: hooks.clone(),
    }));
    // 0-RTT data can be replayed (RFC 8446 §8): only the zerortt case asks for it.
    c.enable_early_data = case == Case::ZeroRtt;
    if let Some(path) = keylog {
        c.key_log = key_log(path)?;
    }
    Ok(c)
}

/// The rustls server configuration of a case: TLS 1.3, the test certificate, ALPN hq-interop,
/// sessions in a counting store, 0-RTT accepted for zerortt (RFC 9001 §4.6.1: QUIC servers
/// say 0xffffffff or 0).
pub fn server_config(
    pki: &Pki,
    case: Case,
    hooks: &Arc<Hooks>,
    keylog: Option<&Path>,
) -> Result<rustls::ServerConfig, String> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key.clone()));
    let mut c = rustls::ServerConfig::builder_with_provider(provider(Case::Handshake))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(pki.cert.clone())], key)
        .map_err(|e| e.to_string())?;
    c.alpn_protocols = vec![ALPN.to_vec()];
    c.session_storage = Arc::new(CountingServerStore {
        inner: ServerSessionMemoryCache::new(64),
        hooks: hooks.clone(),
    });
    c.max_early_data_size = if case == Case::ZeroRtt { u32::MAX } else { 0 };
    if let Some(path) = keylog {
        c.key_log = key_log(path)?;
    }
    Ok(c)
}

/// The QUIC suite quinn needs for Initial packets (AES-128-GCM, RFC 9001 §5.2), which a
/// chacha20-only client provider does not list.
pub fn quinn_initial_suite() -> Option<rustls::quic::Suite> {
    ring_provider::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .and_then(|s| s.quic_suite())
}

/// TLS secrets in the NSS key log format, appended to a file.
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

fn key_log(path: &Path) -> Result<Arc<dyn rustls::KeyLog>, String> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Arc::new(FileKeyLog(Mutex::new(f))))
}

/// rustls' client session cache, counting tickets stored and taken.
#[derive(Debug)]
struct CountingClientStore {
    inner: ClientSessionMemoryCache,
    hooks: Arc<Hooks>,
}

impl ClientSessionStore for CountingClientStore {
    fn set_kx_hint(&self, name: ServerName<'static>, group: rustls::NamedGroup) {
        self.inner.set_kx_hint(name, group);
    }

    fn kx_hint(&self, name: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(name)
    }

    fn set_tls12_session(
        &self,
        name: ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(name, value);
    }

    fn tls12_session(
        &self,
        name: &ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(name)
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.inner.remove_tls12_session(name);
    }

    fn insert_tls13_ticket(
        &self,
        name: ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.hooks.tickets_stored.fetch_add(1, Ordering::Relaxed);
        self.inner.insert_tls13_ticket(name, value);
    }

    fn take_tls13_ticket(
        &self,
        name: &ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        let t = self.inner.take_tls13_ticket(name);
        if t.is_some() {
            self.hooks.tickets_offered.fetch_add(1, Ordering::Relaxed);
        }
        t
    }
}

/// rustls' server session cache, counting sessions found for resumption offers.
#[derive(Debug)]
struct CountingServerStore {
    inner: Arc<ServerSessionMemoryCache>,
    hooks: Arc<Hooks>,
}

impl StoresServerSessions for CountingServerStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.inner.put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.inner.get(key);
        if v.is_some() {
            self.hooks.server_resumed.fetch_add(1, Ordering::Relaxed);
        }
        v
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.inner.take(key);
        if v.is_some() {
            self.hooks.server_resumed.fetch_add(1, Ordering::Relaxed);
        }
        v
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}
