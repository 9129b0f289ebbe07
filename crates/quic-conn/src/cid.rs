//! Connection-ID generators: how an endpoint makes the connection IDs it issues (the
//! handshake Source Connection ID and every NEW_CONNECTION_ID, RFC 9000 §5.1), and how it
//! tells its own IDs apart when routing.
//!
//! - [`RandomCids`]: random IDs of a fixed length, the default.
//! - [`QuicLbPlaintext`]: the unencrypted QUIC-LB format (draft-ietf-quic-load-balancers,
//!   "Server ID Encoding in Connection IDs"): a first octet with the config rotation bits
//!   and the self-encoded length, the server ID a load balancer routes by, then a random
//!   nonce. A load balancer (or a test) reads a CID back with [`QuicLbPlaintext::decode`].

use quic_wire::ConnectionId;
use rand_core::RngCore;

/// Makes the connection IDs an endpoint issues. One generator serves every connection of
/// an [`Endpoint`](crate::endpoint::Endpoint) (see
/// [`EndpointConfig::cid_generator`](crate::endpoint::EndpointConfig::cid_generator)).
pub trait ConnectionIdGenerator: Send + Sync {
    /// The length of every ID it makes: short headers are parsed with it (RFC 9000 §5.2).
    fn cid_len(&self) -> usize;

    /// A new connection ID, unpredictable where the format leaves room (RFC 9000 §5.1:
    /// IDs must not be linkable by observers).
    fn generate(&self, rng: &mut dyn RngCore) -> ConnectionId;

    /// Whether `cid` has this generator's format, so could route to one of our
    /// connections. The default checks the length.
    fn validate(&self, cid: &ConnectionId) -> bool {
        cid.len() == self.cid_len()
    }
}

/// Random connection IDs of one length (1 to 20 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomCids {
    len: usize,
}

impl RandomCids {
    /// IDs of `len` bytes, clamped to 1..=20 (RFC 9000 §17.2: at most 20; we never issue
    /// empty ones, which would tie the connection to the 4-tuple).
    pub fn new(len: usize) -> Self {
        RandomCids {
            len: len.clamp(1, ConnectionId::MAX_LEN),
        }
    }
}

impl ConnectionIdGenerator for RandomCids {
    fn cid_len(&self) -> usize {
        self.len
    }

    fn generate(&self, rng: &mut dyn RngCore) -> ConnectionId {
        let mut b = [0u8; ConnectionId::MAX_LEN];
        let bytes = b.get_mut(..self.len).unwrap_or_default();
        rng.fill_bytes(bytes);
        // `len` is at most MAX_LEN, so this cannot fail.
        ConnectionId::new(bytes).unwrap_or(ConnectionId::EMPTY)
    }
}

/// Why a QUIC-LB configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuicLbError {
    /// The config rotation codepoint must be 0 to 6; 0b111 is reserved for unroutable
    /// IDs ("A configuration MUST NOT use the reserved identifier 0b111").
    #[error("config rotation codepoint above 6")]
    ConfigId,
    /// "The server ID length MUST be at least 1 octet."
    #[error("empty server ID")]
    ServerId,
    /// "The nonce length MUST be at least 4 octets."
    #[error("nonce shorter than 4 bytes")]
    Nonce,
    /// "the server ID and nonce lengths MUST sum to 19 octets or less."
    #[error("server ID and nonce longer than 19 bytes")]
    TooLong,
}

/// The parts of a QUIC-LB connection ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuicLbCid<'a> {
    /// The config rotation bits (the first octet's three most significant bits).
    pub config_id: u8,
    /// The server ID.
    pub server_id: &'a [u8],
    /// The nonce.
    pub nonce: &'a [u8],
}

/// The QUIC-LB plaintext (unencrypted) connection-ID format, with the length
/// self-encoded in the first octet.
///
/// Without a key, observers can read the server ID of every connection ID, which makes
/// migrations linkable (QUIC-LB "Configuration Agent Actions"); the encrypted modes are
/// not implemented here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicLbPlaintext {
    config_id: u8,
    /// The server ID in the first `sid_len` bytes.
    server_id: [u8; 19],
    sid_len: usize,
    nonce_len: usize,
}

impl QuicLbPlaintext {
    /// A configuration with rotation codepoint `config_id` (0 to 6), this server's
    /// `server_id` and nonces of `nonce_len` bytes.
    pub fn new(config_id: u8, server_id: &[u8], nonce_len: usize) -> Result<Self, QuicLbError> {
        if config_id > 6 {
            return Err(QuicLbError::ConfigId);
        }
        if server_id.is_empty() {
            return Err(QuicLbError::ServerId);
        }
        if nonce_len < 4 {
            return Err(QuicLbError::Nonce);
        }
        if server_id.len() + nonce_len > 19 {
            return Err(QuicLbError::TooLong);
        }
        let mut sid = [0u8; 19];
        sid.get_mut(..server_id.len())
            .ok_or(QuicLbError::TooLong)?
            .copy_from_slice(server_id);
        Ok(QuicLbPlaintext {
            config_id,
            server_id: sid,
            sid_len: server_id.len(),
            nonce_len,
        })
    }

    /// This server's ID.
    pub fn server_id(&self) -> &[u8] {
        self.server_id.get(..self.sid_len).unwrap_or_default()
    }

    /// Builds the ID with `nonce` (which must be `nonce_len` bytes); `None` otherwise.
    pub fn encode(&self, nonce: &[u8]) -> Option<ConnectionId> {
        if nonce.len() != self.nonce_len {
            return None;
        }
        let mut b = [0u8; ConnectionId::MAX_LEN];
        let rest = self.sid_len + self.nonce_len;
        // QUIC-LB "First Octet": config rotation (3 bits), then the length of what
        // follows the first octet (5 bits).
        b[0] = (self.config_id << 5) | u8::try_from(rest).ok()?;
        b.get_mut(1..=self.sid_len)?
            .copy_from_slice(self.server_id());
        b.get_mut(1 + self.sid_len..=rest)?.copy_from_slice(nonce);
        ConnectionId::new(b.get(..=rest)?).ok()
    }

    /// Reads a plaintext QUIC-LB connection ID whose server ID is `sid_len` bytes, as a
    /// load balancer configured alike would. `None` when the first octet's length does not
    /// match the ID or leaves no room for a 4-byte nonce.
    pub fn decode(cid: &ConnectionId, sid_len: usize) -> Option<QuicLbCid<'_>> {
        let bytes = cid.as_bytes();
        let (&first, rest) = bytes.split_first()?;
        let len = usize::from(first & 0x1f);
        if len != rest.len() || sid_len == 0 || len < sid_len + 4 {
            return None;
        }
        let (server_id, nonce) = rest.split_at(sid_len);
        Some(QuicLbCid {
            config_id: first >> 5,
            server_id,
            nonce,
        })
    }
}

impl ConnectionIdGenerator for QuicLbPlaintext {
    fn cid_len(&self) -> usize {
        1 + self.sid_len + self.nonce_len
    }

    fn generate(&self, rng: &mut dyn RngCore) -> ConnectionId {
        let mut nonce = [0u8; 19];
        let nonce = nonce.get_mut(..self.nonce_len).unwrap_or_default();
        // "the server MUST fill the Nonce field with bytes that have no observable
        // relationship to the field in previously issued connection IDs".
        rng.fill_bytes(nonce);
        self.encode(nonce).unwrap_or(ConnectionId::EMPTY)
    }

    fn validate(&self, cid: &ConnectionId) -> bool {
        QuicLbPlaintext::decode(cid, self.sid_len)
            .is_some_and(|d| d.config_id == self.config_id && d.server_id == self.server_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> alloc::vec::Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// QUIC-LB "Load Balancer Test Vectors", "Unencrypted CIDs", first row:
    /// cr_bits 0, sid c4605e, nonce 4504cc4f, cid 07c4605e4504cc4f.
    #[test]
    fn the_unencrypted_test_vector_encodes_and_decodes() {
        let lb = QuicLbPlaintext::new(0, &hex("c4605e"), 4).unwrap();
        let cid = lb.encode(&hex("4504cc4f")).unwrap();
        assert_eq!(cid.as_bytes(), hex("07c4605e4504cc4f"));
        let d = QuicLbPlaintext::decode(&cid, 3).unwrap();
        assert_eq!(d.config_id, 0);
        assert_eq!(d.server_id, hex("c4605e"));
        assert_eq!(d.nonce, hex("4504cc4f"));
        assert!(lb.validate(&cid));
    }

    /// The second row (cr_bits 1, sid 350d28b420) prints a 9-digit nonce "3487d970b" and
    /// the cid "20a350d28b4203487d970b", which cannot both hold; with the 5-byte nonce
    /// 3487d970b0 the first octet is 0x2a (config 1, 10 bytes follow), as the format
    /// demands.
    #[test]
    fn the_second_vector_with_its_typo_resolved() {
        let lb = QuicLbPlaintext::new(1, &hex("350d28b420"), 5).unwrap();
        let cid = lb.encode(&hex("3487d970b0")).unwrap();
        assert_eq!(cid.as_bytes(), hex("2a350d28b4203487d970b0"));
        let d = QuicLbPlaintext::decode(&cid, 5).unwrap();
        assert_eq!((d.config_id, d.server_id), (1, &hex("350d28b420")[..]));
    }

    #[test]
    fn generated_ids_carry_the_server_id_and_fresh_nonces() {
        struct Counter(u8);
        impl RngCore for Counter {
            fn next_u32(&mut self) -> u32 {
                u32::from(self.next_byte())
            }
            fn next_u64(&mut self) -> u64 {
                u64::from(self.next_byte())
            }
            fn fill_bytes(&mut self, dest: &mut [u8]) {
                for b in dest {
                    *b = self.next_byte();
                }
            }
            fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
                self.fill_bytes(dest);
                Ok(())
            }
        }
        impl Counter {
            fn next_byte(&mut self) -> u8 {
                self.0 = self.0.wrapping_add(1);
                self.0
            }
        }
        let lb = QuicLbPlaintext::new(2, &[0xab, 0xcd], 6).unwrap();
        let mut rng = Counter(0);
        let a = lb.generate(&mut rng);
        let b = lb.generate(&mut rng);
        assert_eq!(a.len(), lb.cid_len());
        assert_eq!(a.as_bytes(), [0x48, 0xab, 0xcd, 1, 2, 3, 4, 5, 6]);
        assert_ne!(a, b);
        assert!(lb.validate(&a) && lb.validate(&b));
        // Another server's, another config's, or a random ID do not validate.
        let other = QuicLbPlaintext::new(2, &[0xab, 0xce], 6).unwrap();
        assert!(!lb.validate(&other.generate(&mut rng)));
        let rotated = QuicLbPlaintext::new(3, &[0xab, 0xcd], 6).unwrap();
        assert!(!lb.validate(&rotated.generate(&mut rng)));
        assert!(!lb.validate(&RandomCids::new(9).generate(&mut rng)));
    }

    #[test]
    fn configurations_outside_the_limits_are_refused() {
        assert_eq!(QuicLbPlaintext::new(7, &[1], 4), Err(QuicLbError::ConfigId));
        assert_eq!(QuicLbPlaintext::new(0, &[], 4), Err(QuicLbError::ServerId));
        assert_eq!(QuicLbPlaintext::new(0, &[1], 3), Err(QuicLbError::Nonce));
        assert_eq!(
            QuicLbPlaintext::new(0, &[1; 10], 10),
            Err(QuicLbError::TooLong)
        );
        assert!(QuicLbPlaintext::new(6, &[1; 10], 9).is_ok());
    }

    #[test]
    fn malformed_ids_do_not_decode() {
        let wrong_len = ConnectionId::new(&hex("08c4605e4504cc4f")).unwrap();
        assert_eq!(QuicLbPlaintext::decode(&wrong_len, 3), None);
        let short_nonce = ConnectionId::new(&hex("05c4605e4504")).unwrap();
        assert_eq!(QuicLbPlaintext::decode(&short_nonce, 3), None);
        assert_eq!(QuicLbPlaintext::decode(&ConnectionId::EMPTY, 3), None);
    }
}
