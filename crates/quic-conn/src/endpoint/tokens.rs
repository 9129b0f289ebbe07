//! Stateless, sealed address-validation tokens (RFC 9000 §8.1.1-§8.1.4, §21.3).
//!
//! A token is `kind (1) || nonce (12) || AEAD(plaintext) || tag (16)`, sealed under a key
//! the embedder supplies ([`TokenKey`]), so that any endpoint holding the key (the same
//! server after a restart, or its siblings behind one load balancer) can validate it
//! without having remembered anything. The plaintext is:
//!
//! ```text
//! issued      u64   nanoseconds of the endpoint's Instant when the token was made
//! family      u8    4 or 6
//! ip          16    the client's IP address (IPv4 in the first four bytes)
//! -- Retry tokens only --
//! port        u16   the client's port (§8.1.4: "SHOULD include information that allows
//!                   the server to verify that the source IP address and port in client
//!                   packets remain constant")
//! odcid       1+n   the Destination Connection ID of the client's first Initial, so the
//!                   server can send original_destination_connection_id (§7.3) statelessly
//! retry scid  1+n   the Source Connection ID of our Retry
//! ```
//!
//! NEW_TOKEN tokens do not bind the port: "It is unlikely that the client port number is
//! the same on two different connections" (§8.1.3). The kind byte is in clear (and
//! authenticated as associated data): §8.1.3 allows "Information that allows the server to
//! distinguish between tokens from Retry and NEW_TOKEN" to be visible; everything that
//! could link the token to the connection it came from is encrypted (§8.1.3: a NEW_TOKEN
//! token "MUST NOT include information that would allow values to be linked by an
//! observer to the connection on which it was issued"). A random 96-bit nonce per token
//! makes every NEW_TOKEN frame unique (§8.1.3 "MUST ensure that every NEW_TOKEN frame it
//! sends is unique across all clients").
//!
//! ## Time
//! Tokens carry the issue time as the endpoint's [`Instant`]. For tokens to survive a
//! restart, the embedder's `Instant` must keep its origin across restarts (for example,
//! nanoseconds since the UNIX epoch); a token issued "in the future" is refused.
//!
//! ## Replay (§8.1.4)
//! "Servers MUST ensure that replay of tokens is prevented or limited. Servers SHOULD
//! ensure that tokens sent in Retry packets are only accepted for a short time ...
//! Tokens that are provided in NEW_TOKEN frames ... need to be valid for longer but SHOULD
//! NOT be accepted multiple times." Retry tokens expire after
//! [`EndpointConfig::retry_token_lifetime`](super::EndpointConfig::retry_token_lifetime)
//! (seconds); NEW_TOKEN tokens after
//! [`EndpointConfig::address_token_lifetime`](super::EndpointConfig::address_token_lifetime),
//! and the nonces of redeemed tokens of both kinds go into a [`ReplayFilter`]: a
//! fixed-size set of recently seen nonces, oldest evicted. That is best effort: a token
//! whose nonce was evicted before it expired, or redeemed at another server sharing the
//! key, is accepted again. Size the filter for the number of tokens redeemed within a
//! NEW_TOKEN lifetime to make eviction-based replay unlikely.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use hashbrown::HashSet;
use quic_wire::{ConnectionId, Instant, Version};

use crate::conn::RetryContext;

/// Length of a token's random nonce.
pub const TOKEN_NONCE_LEN: usize = 12;
/// Length of a token's AEAD tag.
pub const TOKEN_TAG_LEN: usize = 16;

/// The AEAD that seals address-validation tokens: a secret only the server (and servers
/// cooperating with it) knows (RFC 9000 §8.1.4 "Only the server requires access to the
/// integrity protection key for tokens"). It must survive restarts for tokens to.
///
/// With feature `rustls`, [`AesGcmTokenKey`] implements it with ring; a `no_std` embedder
/// can plug in any AEAD with a 96-bit nonce and a 128-bit tag.
pub trait TokenKey: Send + Sync {
    /// Encrypts `data` in place under `nonce`, authenticating `aad` too; returns the tag,
    /// or `None` when the AEAD fails.
    fn seal(
        &self,
        nonce: &[u8; TOKEN_NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
    ) -> Option<[u8; TOKEN_TAG_LEN]>;

    /// Decrypts `data` in place if `tag` authenticates it with `aad`; returns whether it
    /// did (on `false`, `data` is unspecified).
    fn open(
        &self,
        nonce: &[u8; TOKEN_NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; TOKEN_TAG_LEN],
    ) -> bool;
}

/// [`TokenKey`] with AES-256-GCM (ring), under a key derived from the embedder's secret
/// (HMAC-SHA256 with a fixed label, so the same secret may also serve other purposes,
/// such as [`HmacResetTokens`](super::HmacResetTokens), without reusing key material).
#[cfg(feature = "rustls")]
pub struct AesGcmTokenKey {
    key: ring::aead::LessSafeKey,
}

#[cfg(feature = "rustls")]
impl AesGcmTokenKey {
    /// A key from `secret`, which must survive restarts of the endpoint and be shared by
    /// the endpoints behind one load balancer that should accept each other's tokens.
    pub fn new(secret: &[u8; 32]) -> Self {
        let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let derived = ring::hmac::sign(&mac, b"quic-conn address validation token v1");
        // HMAC-SHA256 output is 32 bytes, exactly an AES-256 key: `new` cannot fail.
        let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, derived.as_ref())
            .unwrap_or_else(|_| unreachable!("32-byte key for AES-256-GCM"));
        AesGcmTokenKey {
            key: ring::aead::LessSafeKey::new(unbound),
        }
    }
}

#[cfg(feature = "rustls")]
impl core::fmt::Debug for AesGcmTokenKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AesGcmTokenKey")
    }
}

#[cfg(feature = "rustls")]
impl TokenKey for AesGcmTokenKey {
    fn seal(
        &self,
        nonce: &[u8; TOKEN_NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
    ) -> Option<[u8; TOKEN_TAG_LEN]> {
        let nonce = ring::aead::Nonce::assume_unique_for_key(*nonce);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, ring::aead::Aad::from(aad), data)
            .ok()?;
        tag.as_ref().try_into().ok()
    }

    fn open(
        &self,
        nonce: &[u8; TOKEN_NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; TOKEN_TAG_LEN],
    ) -> bool {
        let nonce = ring::aead::Nonce::assume_unique_for_key(*nonce);
        let tag = ring::aead::Tag::from(*tag);
        self.key
            .open_in_place_separate_tag(nonce, ring::aead::Aad::from(aad), tag, data, 0..)
            .is_ok()
    }
}

/// What a token was issued as (RFC 9000 §8.1.1: "A token sent in a NEW_TOKEN frame or a
/// Retry packet MUST be constructed in a way that allows the server to identify how it
/// was provided to a client").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Retry,
    NewToken,
}

impl Kind {
    const fn byte(self) -> u8 {
        match self {
            Kind::Retry => 0x52,    // 'R'
            Kind::NewToken => 0x4e, // 'N'
        }
    }

    fn from_byte(b: u8) -> Option<Kind> {
        [Kind::Retry, Kind::NewToken]
            .into_iter()
            .find(|k| k.byte() == b)
    }
}

/// Issue time (8), family (1), IP (16).
const ADDRESS_PART: usize = 8 + 1 + 16;
/// The longest plaintext: a Retry token's, with two 20-byte connection IDs.
const MAX_PLAINTEXT: usize = ADDRESS_PART + 2 + 2 * (1 + ConnectionId::MAX_LEN);
/// Longest token we make; longer ones are not ours.
pub(crate) const MAX_TOKEN_LEN: usize = 1 + TOKEN_NONCE_LEN + MAX_PLAINTEXT + TOKEN_TAG_LEN;

/// The result of checking a client Initial's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    /// No token, or one that counts as none: not ours, or a NEW_TOKEN token that does not
    /// validate (§8.1.3: "If the token is invalid, then the server SHOULD proceed as if
    /// the client did not have a validated address").
    None,
    /// A valid NEW_TOKEN token: the client's address is validated.
    Address([u8; TOKEN_NONCE_LEN]),
    /// A valid Retry token, with what the Retry exchange established.
    Retry(RetryContext, [u8; TOKEN_NONCE_LEN]),
    /// A Retry token that does not validate (forged, expired, replayed, from another
    /// address, for another connection ID): §8.1.2 "the server SHOULD immediately close
    /// the connection with an INVALID_TOKEN error".
    InvalidRetry,
}

/// Makes and checks tokens under one key.
pub(crate) struct Tokens<'k> {
    pub(crate) key: &'k dyn TokenKey,
    pub(crate) retry_lifetime: Duration,
    pub(crate) address_lifetime: Duration,
}

/// Writes `ip` as family byte and 16 address bytes.
fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => {
            out.push(4);
            b[..4].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            b = v6.octets();
        }
    }
    out.extend_from_slice(&b);
}

fn put_cid(out: &mut Vec<u8>, cid: &ConnectionId) {
    // At most 20 bytes (ConnectionId invariant).
    out.push(cid.len() as u8);
    out.extend_from_slice(cid.as_bytes());
}

/// Reads sequentially from a decrypted plaintext.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2)?.try_into().ok().map(u16::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_be_bytes)
    }

    fn ip(&mut self) -> Option<IpAddr> {
        let family = self.u8()?;
        let b: [u8; 16] = self.take(16)?.try_into().ok()?;
        match family {
            4 => Some(IpAddr::from([b[0], b[1], b[2], b[3]])),
            6 => Some(IpAddr::from(b)),
            _ => None,
        }
    }

    fn cid(&mut self) -> Option<ConnectionId> {
        let n = usize::from(self.u8()?);
        ConnectionId::new(self.take(n)?).ok()
    }
}

/// The associated data of a token: its kind and the QUIC version it is valid in (the
/// version of the Initial a Retry token returns in, the negotiated version of the
/// connection that gave a NEW_TOKEN token; RFC 9369 §5).
fn aad(kind: Kind, version: Version) -> [u8; 5] {
    let v = version.0.to_be_bytes();
    [kind.byte(), v[0], v[1], v[2], v[3]]
}

/// A Retry token's bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryBinding {
    pub(crate) original_dcid: ConnectionId,
    pub(crate) retry_scid: ConnectionId,
}

impl Tokens<'_> {
    /// Seals a token of `kind` for `client`, issued `now`, with a fresh `nonce`.
    fn seal(
        &self,
        kind: Kind,
        nonce: [u8; TOKEN_NONCE_LEN],
        now: Instant,
        client: SocketAddr,
        retry: Option<RetryBinding>,
        version: Version,
    ) -> Option<Vec<u8>> {
        let mut plain = Vec::with_capacity(MAX_PLAINTEXT);
        plain.extend_from_slice(&now.as_nanos().to_be_bytes());
        put_ip(&mut plain, client.ip());
        if let Some(r) = retry {
            plain.extend_from_slice(&client.port().to_be_bytes());
            put_cid(&mut plain, &r.original_dcid);
            put_cid(&mut plain, &r.retry_scid);
        }
        let aad = aad(kind, version);
        let tag = self.key.seal(&nonce, &aad, &mut plain)?;
        let mut token = Vec::with_capacity(1 + TOKEN_NONCE_LEN + plain.len() + TOKEN_TAG_LEN);
        token.push(kind.byte());
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&plain);
        token.extend_from_slice(&tag);
        Some(token)
    }

    /// A Retry token (§8.1.2) for `client`, whose first Initial went to `original_dcid`,
    /// answered by a Retry from `retry_scid`.
    pub(crate) fn retry_token(
        &self,
        nonce: [u8; TOKEN_NONCE_LEN],
        now: Instant,
        client: SocketAddr,
        binding: RetryBinding,
        version: Version,
    ) -> Option<Vec<u8>> {
        self.seal(Kind::Retry, nonce, now, client, Some(binding), version)
    }

    /// A NEW_TOKEN token (§8.1.3) for a client at `client` (its IP address only).
    pub(crate) fn address_token(
        &self,
        nonce: [u8; TOKEN_NONCE_LEN],
        now: Instant,
        client: SocketAddr,
        version: Version,
    ) -> Option<Vec<u8>> {
        self.seal(Kind::NewToken, nonce, now, client, None, version)
    }

    /// Checks the token of an Initial from `client` sent to `dcid` (§8.1.3: "When a server
    /// receives an Initial packet with an address validation token, it MUST attempt to
    /// validate the token"). `replay` holds the nonces of tokens already redeemed.
    pub(crate) fn check(
        &self,
        token: &[u8],
        now: Instant,
        client: SocketAddr,
        dcid: &ConnectionId,
        replay: &ReplayFilter,
        version: Version,
    ) -> Checked {
        let Some((&kind_byte, rest)) = token.split_first() else {
            return Checked::None;
        };
        let Some(kind) = Kind::from_byte(kind_byte) else {
            return Checked::None; // Not one of ours.
        };
        let invalid = match kind {
            Kind::Retry => Checked::InvalidRetry,
            Kind::NewToken => Checked::None,
        };
        if token.len() > MAX_TOKEN_LEN || rest.len() < TOKEN_NONCE_LEN + TOKEN_TAG_LEN {
            return invalid;
        }
        let (nonce, rest) = rest.split_at(TOKEN_NONCE_LEN);
        let (sealed, tag) = rest.split_at(rest.len() - TOKEN_TAG_LEN);
        let (Ok(nonce), Ok(tag)) = (
            <[u8; TOKEN_NONCE_LEN]>::try_from(nonce),
            <[u8; TOKEN_TAG_LEN]>::try_from(tag),
        ) else {
            return invalid;
        };
        let mut buf = [0u8; MAX_PLAINTEXT];
        let Some(plain) = buf.get_mut(..sealed.len()) else {
            return invalid;
        };
        plain.copy_from_slice(sealed);
        // RFC 9369 §5: "Servers MUST validate the originating version of any ... token and
        // not accept one issued from a different version": the version is authenticated.
        if !self.key.open(&nonce, &aad(kind, version), plain, &tag) {
            return invalid;
        }
        if replay.contains(&nonce) {
            return invalid;
        }
        let mut r = Reader(plain);
        let (Some(issued), Some(ip)) = (r.u64(), r.ip()) else {
            return invalid;
        };
        let issued = Instant::from_nanos(issued);
        let lifetime = match kind {
            Kind::Retry => self.retry_lifetime,
            Kind::NewToken => self.address_lifetime,
        };
        // A token from the future (a clock that went back) is refused, as is an old one.
        let fresh = issued <= now && now.saturating_duration_since(issued) <= lifetime;
        if !fresh || ip != client.ip() {
            return invalid;
        }
        match kind {
            Kind::NewToken => {
                if r.0.is_empty() {
                    Checked::Address(nonce)
                } else {
                    Checked::None
                }
            }
            Kind::Retry => {
                let (Some(port), Some(original_dcid), Some(retry_scid)) =
                    (r.u16(), r.cid(), r.cid())
                else {
                    return invalid;
                };
                // The Initial carrying a Retry token goes to the Retry's Source Connection
                // ID (§7.2), from the same port (§8.1.4).
                if !r.0.is_empty() || port != client.port() || retry_scid != *dcid {
                    return invalid;
                }
                Checked::Retry(
                    RetryContext {
                        original_dcid,
                        retry_scid,
                    },
                    nonce,
                )
            }
        }
    }
}

/// An Initial packet from a server that never kept state for the connection, carrying
/// CONNECTION_CLOSE with INVALID_TOKEN (RFC 9000 §8.1.2), protected with the Initial keys
/// of the client's `dcid` (RFC 9001 §5.2) and sent to the client's `client_scid` from
/// `our_scid`. `None` when the version has no Initial keys.
pub(crate) fn initial_close(
    tls: &dyn crate::tls::TlsConfig,
    version: quic_wire::Version,
    dcid: ConnectionId,
    client_scid: ConnectionId,
    our_scid: ConnectionId,
) -> Option<Vec<u8>> {
    use quic_wire::frame::ConnectionClose;
    use quic_wire::packet::{LongHeader, PacketBuilder};
    use quic_wire::{
        Frame, FrameType, PacketNumber, PacketType, PathId, Side, TransportErrorCode, VarInt,
    };
    let keys = tls.initial_keys(version, &dcid, Side::Server).ok()?;
    let header = LongHeader {
        ty: PacketType::Initial,
        version,
        dcid: client_scid,
        scid: our_scid,
        token: &[],
    };
    let mut buf = alloc::vec![0u8; 128];
    let tag_len = keys.local.packet.tag_len();
    let mut b =
        PacketBuilder::long(&mut buf, &header, PacketNumber(0), None, tag_len, true).ok()?;
    b.push(&Frame::ConnectionClose(ConnectionClose {
        error_code: VarInt::from_u64_clamped(TransportErrorCode::INVALID_TOKEN.0),
        frame_type: Some(FrameType::PADDING),
        reason: b"",
    }))
    .ok()?;
    let n = b
        .finish(
            PathId::ZERO,
            keys.local.packet.as_ref(),
            keys.local.header.as_ref(),
        )
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

/// The nonces of recently redeemed tokens, so a token is accepted once as far as this
/// filter remembers (RFC 9000 §8.1.4). Fixed capacity: when full, the oldest nonce is
/// forgotten, which is why single use is best effort (see the module documentation).
#[derive(Debug)]
pub(crate) struct ReplayFilter {
    seen: HashSet<[u8; TOKEN_NONCE_LEN]>,
    order: VecDeque<[u8; TOKEN_NONCE_LEN]>,
    capacity: usize,
}

impl ReplayFilter {
    pub(crate) fn new(capacity: usize) -> Self {
        ReplayFilter {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn contains(&self, nonce: &[u8; TOKEN_NONCE_LEN]) -> bool {
        self.seen.contains(nonce)
    }

    /// Remembers `nonce`, forgetting the oldest one when full.
    pub(crate) fn insert(&mut self, nonce: [u8; TOKEN_NONCE_LEN]) {
        if self.capacity == 0 || !self.seen.insert(nonce) {
            return;
        }
        self.order.push_back(nonce);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }
}

/// NEW_TOKEN tokens a client endpoint received, kept per server name for later
/// connections (RFC 9000 §8.1.3). Bounded: the oldest token is dropped when full. A token
/// is handed out once ("A client SHOULD NOT reuse a token from a NEW_TOKEN frame for
/// different connection attempts"), the most recent first ("sending the most recent
/// unused token is most likely to be effective").
#[derive(Debug, Default)]
pub(crate) struct ClientTokens {
    tokens: VecDeque<(alloc::string::String, Version, bytes::Bytes)>,
}

/// Tokens a client endpoint keeps at most, over all server names.
const MAX_CLIENT_TOKENS: usize = 256;

impl ClientTokens {
    /// Keeps `token` from `server_name`, given on a connection of `version` (RFC 9369 §5:
    /// it may only start a connection of that version).
    pub(crate) fn store(&mut self, server_name: &str, version: Version, token: bytes::Bytes) {
        if token.is_empty() {
            return;
        }
        if self.tokens.len() >= MAX_CLIENT_TOKENS {
            self.tokens.pop_front();
        }
        self.tokens.push_back((server_name.into(), version, token));
    }

    /// The most recent unused token of `server_name` for a connection starting in
    /// `version`.
    pub(crate) fn take(&mut self, server_name: &str, version: Version) -> Option<bytes::Bytes> {
        let i = self
            .tokens
            .iter()
            .rposition(|(n, v, _)| n == server_name && *v == version)?;
        self.tokens.remove(i).map(|(_, _, t)| t)
    }
}

#[cfg(all(test, feature = "rustls"))]
mod tests {
    use super::*;

    const V1: Version = Version::V1;

    const LIFE: Duration = Duration::from_secs(10);

    fn tokens(key: &AesGcmTokenKey) -> Tokens<'_> {
        Tokens {
            key,
            retry_lifetime: LIFE,
            address_lifetime: Duration::from_secs(3600),
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    fn cid(b: u8) -> ConnectionId {
        ConnectionId::new(&[b; 8]).expect("cid")
    }

    fn binding() -> RetryBinding {
        RetryBinding {
            original_dcid: cid(1),
            retry_scid: cid(2),
        }
    }

    const T0: Instant = Instant::from_nanos(5_000_000_000);

    #[test]
    fn a_retry_token_round_trips_its_connection_ids() {
        let key = AesGcmTokenKey::new(&[9; 32]);
        let t = tokens(&key);
        let c = addr("10.0.0.1:4000");
        let token = t.retry_token([1; 12], T0, c, binding(), V1).expect("seal");
        let replay = ReplayFilter::new(8);
        let got = t.check(&token, T0, c, &cid(2), &replay, V1);
        assert_eq!(
            got,
            Checked::Retry(
                RetryContext {
                    original_dcid: cid(1),
                    retry_scid: cid(2)
                },
                [1; 12]
            )
        );
    }

    #[test]
    fn retry_tokens_bind_port_connection_id_and_a_short_lifetime() {
        let key = AesGcmTokenKey::new(&[9; 32]);
        let t = tokens(&key);
        let c = addr("10.0.0.1:4000");
        let token = t.retry_token([1; 12], T0, c, binding(), V1).expect("seal");
        let replay = ReplayFilter::new(8);
        let bad = Checked::InvalidRetry;
        assert_eq!(
            t.check(&token, T0, addr("10.0.0.1:4001"), &cid(2), &replay, V1),
            bad
        );
        assert_eq!(
            t.check(&token, T0, addr("10.0.0.2:4000"), &cid(2), &replay, V1),
            bad
        );
        assert_eq!(t.check(&token, T0, c, &cid(3), &replay, V1), bad);
        let late = T0
            .checked_add(LIFE + Duration::from_nanos(1))
            .expect("time");
        assert_eq!(t.check(&token, late, c, &cid(2), &replay, V1), bad);
        let early = Instant::from_nanos(T0.as_nanos() - 1);
        assert_eq!(t.check(&token, early, c, &cid(2), &replay, V1), bad);
    }

    #[test]
    fn address_tokens_ignore_the_port_and_fail_as_no_token() {
        let key = AesGcmTokenKey::new(&[9; 32]);
        let t = tokens(&key);
        let token = t
            .address_token([4; 12], T0, addr("[2001:db8::1]:4000"), V1)
            .expect("seal");
        let mut replay = ReplayFilter::new(8);
        let any = cid(7);
        let later = T0.checked_add(Duration::from_secs(3000)).expect("time");
        assert_eq!(
            t.check(&token, later, addr("[2001:db8::1]:5555"), &any, &replay, V1),
            Checked::Address([4; 12])
        );
        assert_eq!(
            t.check(&token, later, addr("[2001:db8::2]:4000"), &any, &replay, V1),
            Checked::None
        );
        let expired = T0.checked_add(Duration::from_secs(3601)).expect("time");
        assert_eq!(
            t.check(
                &token,
                expired,
                addr("[2001:db8::1]:4000"),
                &any,
                &replay,
                V1
            ),
            Checked::None
        );
        replay.insert([4; 12]);
        assert_eq!(
            t.check(&token, later, addr("[2001:db8::1]:4000"), &any, &replay, V1),
            Checked::None
        );
    }

    #[test]
    fn every_bit_flip_and_another_key_are_refused() {
        let key = AesGcmTokenKey::new(&[9; 32]);
        let t = tokens(&key);
        let c = addr("10.0.0.1:4000");
        let replay = ReplayFilter::new(8);
        let token = t.address_token([4; 12], T0, c, V1).expect("seal");
        for i in 0..token.len() * 8 {
            let mut f = token.clone();
            f[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                t.check(&f, T0, c, &cid(1), &replay, V1),
                Checked::None,
                "bit {i}"
            );
        }
        let retry = t.retry_token([5; 12], T0, c, binding(), V1).expect("seal");
        for i in 8..retry.len() * 8 {
            let mut f = retry.clone();
            f[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                t.check(&f, T0, c, &cid(2), &replay, V1),
                Checked::InvalidRetry,
                "bit {i}"
            );
        }
        let other = AesGcmTokenKey::new(&[8; 32]);
        let o = tokens(&other);
        assert_eq!(o.check(&token, T0, c, &cid(1), &replay, V1), Checked::None);
        assert_eq!(
            o.check(&retry, T0, c, &cid(2), &replay, V1),
            Checked::InvalidRetry
        );
        // Truncated and oversized tokens are refused, not a panic.
        for n in 0..retry.len() {
            assert_ne!(
                t.check(&retry[..n], T0, c, &cid(2), &replay, V1),
                Checked::Retry(
                    RetryContext {
                        original_dcid: cid(1),
                        retry_scid: cid(2)
                    },
                    [5; 12]
                )
            );
        }
        let mut long = retry.clone();
        long.resize(MAX_TOKEN_LEN + 1, 0);
        assert_eq!(
            t.check(&long, T0, c, &cid(2), &replay, V1),
            Checked::InvalidRetry
        );
    }

    #[test]
    fn the_replay_filter_forgets_the_oldest_when_full() {
        let mut f = ReplayFilter::new(2);
        f.insert([1; 12]);
        f.insert([2; 12]);
        f.insert([2; 12]);
        assert!(f.contains(&[1; 12]) && f.contains(&[2; 12]));
        f.insert([3; 12]);
        assert!(!f.contains(&[1; 12]));
        assert!(f.contains(&[2; 12]) && f.contains(&[3; 12]));
    }

    #[test]
    fn a_token_is_valid_only_in_the_version_it_was_issued_for() {
        let key = AesGcmTokenKey::new(&[7; 32]);
        let t = tokens(&key);
        let replay = ReplayFilter::new(8);
        let c = addr("10.0.0.1:4000");
        let token = t.address_token([9; 12], T0, c, Version::V2).expect("seal");
        assert_eq!(t.check(&token, T0, c, &cid(1), &replay, V1), Checked::None);
        assert!(matches!(
            t.check(&token, T0, c, &cid(1), &replay, Version::V2),
            Checked::Address(_)
        ));
        let retry = t.retry_token([5; 12], T0, c, binding(), V1).expect("seal");
        assert_eq!(
            t.check(&retry, T0, c, &cid(2), &replay, Version::V2),
            Checked::InvalidRetry
        );
    }

    #[test]
    fn client_tokens_are_used_once_most_recent_first() {
        let mut c = ClientTokens::default();
        c.store("a", V1, bytes::Bytes::from_static(b"1"));
        c.store("b", V1, bytes::Bytes::from_static(b"2"));
        c.store("a", V1, bytes::Bytes::from_static(b"3"));
        // RFC 9369 §5: a v1 token never starts a v2 connection.
        assert_eq!(c.take("a", Version::V2), None);
        assert_eq!(c.take("a", V1).as_deref(), Some(&b"3"[..]));
        assert_eq!(c.take("a", V1).as_deref(), Some(&b"1"[..]));
        assert_eq!(c.take("a", V1), None);
        for i in 0..MAX_CLIENT_TOKENS + 1 {
            c.store("x", V1, bytes::Bytes::from(alloc::vec![1u8; i % 7 + 1]));
        }
        assert_eq!(c.tokens.len(), MAX_CLIENT_TOKENS);
    }
}
