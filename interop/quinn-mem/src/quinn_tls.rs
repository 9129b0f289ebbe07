//! quinn-proto's crypto configurations wrapped to watch what quinn does with its keys: the
//! integrity limit of its 1-RTT packet keys (which names the AEAD, RFC 9001 §6.6) and how
//! often it asks for the next key phase. quinn-proto's API shows neither the cipher suite nor
//! the key phase, so this is how the chacha20 and keyupdate cells see quinn's side.
//!
//! quinn asks for the next 1-RTT keys once when the 1-RTT keys are installed (to have the
//! first update ready) and once per key update (connection `update_keys`), so a session
//! with two or more calls went through at least one key update.

use std::any::Any;
use std::sync::{Arc, Mutex};

use quinn_proto::crypto::{
    self, ExportKeyingMaterialError, HeaderKey, KeyPair, Keys, PacketKey, UnsupportedVersion,
};
use quinn_proto::transport_parameters::TransportParameters;
use quinn_proto::{ConnectError, ConnectionId, Side, TransportError};

/// RFC 9001 §6.6: the integrity limit of AEAD_CHACHA20_POLY1305.
pub const CHACHA20_INTEGRITY_LIMIT: u64 = 1 << 36;

/// What one quinn session did with its keys.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyNotes {
    /// The integrity limit of the 1-RTT packet key quinn sends with.
    pub one_rtt_integrity_limit: Option<u64>,
    /// Calls for the next 1-RTT key phase.
    pub next_key_calls: usize,
}

impl KeyNotes {
    /// Key updates the session went through.
    pub fn key_updates(&self) -> usize {
        self.next_key_calls.saturating_sub(1)
    }
}

/// The notes of every session of one end, in the order they started.
pub type Sessions = Arc<Mutex<Vec<KeyNotes>>>;

/// A quinn client crypto configuration that notes its sessions' keys.
pub struct WatchedClient {
    /// The real configuration.
    pub inner: Arc<dyn crypto::ClientConfig>,
    /// Where the notes go.
    pub sessions: Sessions,
}

impl crypto::ClientConfig for WatchedClient {
    fn start_session(
        self: Arc<Self>,
        version: u32,
        server_name: &str,
        params: &TransportParameters,
    ) -> Result<Box<dyn crypto::Session>, ConnectError> {
        let inner = self
            .inner
            .clone()
            .start_session(version, server_name, params)?;
        Ok(watch(inner, &self.sessions))
    }
}

/// A quinn server crypto configuration that notes its sessions' keys.
pub struct WatchedServer {
    /// The real configuration.
    pub inner: Arc<dyn crypto::ServerConfig>,
    /// Where the notes go.
    pub sessions: Sessions,
}

impl crypto::ServerConfig for WatchedServer {
    fn initial_keys(
        &self,
        version: u32,
        dst_cid: &ConnectionId,
    ) -> Result<Keys, UnsupportedVersion> {
        self.inner.initial_keys(version, dst_cid)
    }

    fn retry_tag(&self, version: u32, orig_dst_cid: &ConnectionId, packet: &[u8]) -> [u8; 16] {
        self.inner.retry_tag(version, orig_dst_cid, packet)
    }

    fn start_session(
        self: Arc<Self>,
        version: u32,
        params: &TransportParameters,
    ) -> Box<dyn crypto::Session> {
        let inner = self.inner.clone().start_session(version, params);
        watch(inner, &self.sessions)
    }
}

fn watch(inner: Box<dyn crypto::Session>, sessions: &Sessions) -> Box<dyn crypto::Session> {
    let index = sessions.lock().map_or(usize::MAX, |mut s| {
        s.push(KeyNotes::default());
        s.len() - 1
    });
    Box::new(Watched {
        inner,
        sessions: sessions.clone(),
        index,
        key_sets: 0,
    })
}

/// A session passing everything through, noting 1-RTT keys and key phase requests.
struct Watched {
    inner: Box<dyn crypto::Session>,
    sessions: Sessions,
    index: usize,
    /// Key sets `write_handshake` handed out so far.
    key_sets: u8,
}

impl Watched {
    fn note(&self, f: impl FnOnce(&mut KeyNotes)) {
        if let Ok(mut s) = self.sessions.lock() {
            if let Some(n) = s.get_mut(self.index) {
                f(n);
            }
        }
    }
}

impl crypto::Session for Watched {
    fn initial_keys(&self, dst_cid: &ConnectionId, side: Side) -> Keys {
        self.inner.initial_keys(dst_cid, side)
    }

    fn handshake_data(&self) -> Option<Box<dyn Any>> {
        self.inner.handshake_data()
    }

    fn peer_identity(&self) -> Option<Box<dyn Any>> {
        self.inner.peer_identity()
    }

    fn early_crypto(&self) -> Option<(Box<dyn HeaderKey>, Box<dyn PacketKey>)> {
        self.inner.early_crypto()
    }

    fn early_data_accepted(&self) -> Option<bool> {
        self.inner.early_data_accepted()
    }

    fn is_handshaking(&self) -> bool {
        self.inner.is_handshaking()
    }

    fn read_handshake(&mut self, buf: &[u8]) -> Result<bool, TransportError> {
        self.inner.read_handshake(buf)
    }

    fn transport_parameters(&self) -> Result<Option<TransportParameters>, TransportError> {
        self.inner.transport_parameters()
    }

    fn write_handshake(&mut self, buf: &mut Vec<u8>) -> Option<Keys> {
        let keys = self.inner.write_handshake(buf)?;
        // The handshake hands out Handshake keys, then 1-RTT keys (RFC 9001 §4.1.4).
        self.key_sets += 1;
        if self.key_sets == 2 {
            let limit = keys.packet.local.integrity_limit();
            self.note(|n| n.one_rtt_integrity_limit = Some(limit));
        }
        Some(keys)
    }

    fn next_1rtt_keys(&mut self) -> Option<KeyPair<Box<dyn PacketKey>>> {
        let keys = self.inner.next_1rtt_keys();
        if keys.is_some() {
            self.note(|n| n.next_key_calls += 1);
        }
        keys
    }

    fn is_valid_retry(&self, orig_dst_cid: &ConnectionId, header: &[u8], payload: &[u8]) -> bool {
        self.inner.is_valid_retry(orig_dst_cid, header, payload)
    }

    fn export_keying_material(
        &self,
        output: &mut [u8],
        label: &[u8],
        context: &[u8],
    ) -> Result<(), ExportKeyingMaterialError> {
        self.inner.export_keying_material(output, label, context)
    }
}
