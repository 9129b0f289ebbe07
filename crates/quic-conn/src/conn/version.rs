//! Version negotiation (RFC 9368) between the versions this crate speaks, v1 (RFC 9000)
//! and v2 (RFC 9369), which are compatible with each other in both directions (RFC 9369
//! §4).
//!
//! **Compatible negotiation** (RFC 9368 §2.3, RFC 9369 §4.1). A server does not start its
//! TLS session on the first Initial: it collects the client's ClientHello, reads the
//! client's version_information from its quic_transport_parameters extension, picks the
//! first version of its own preference list ([`Config::versions`](super::Config)) that the
//! client offers, and only then starts TLS in that version, with its own
//! version_information naming it. If that is not the client's version, its Initial keys
//! change to the new version (derived from the same Destination Connection ID), the
//! Initial receive keys of the client's version are kept until a Handshake packet arrives
//! (the client keeps sending Initials in its version until it hears back), and 0-RTT is
//! refused. A client switches when the first long-header packet of another version it
//! offered opens with that version's Initial keys, as long as no CRYPTO frame arrived in
//! its own version; its TLS session then derives the Handshake and 1-RTT keys with the new
//! version's labels ([`crate::tls::Session::switch_version`]). 0-RTT packets stay in the
//! client's version (RFC 9369 §4).
//!
//! **Incompatible negotiation** (RFC 9368 §2.1). A client receiving a valid Version
//! Negotiation packet closes with [`ConnectionError::VersionNegotiation`] naming the
//! version to try next; [`Config::after_version_negotiation`](super::Config) builds the
//! configuration of that attempt, which checks the server's version_information for a
//! downgrade (RFC 9368 §4). The attempt is a new connection (RFC 9368 §2.4 calls it one):
//! a new [`Connection`] gets a fresh TLS session, connection IDs and packet numbers,
//! instead of this one resetting half of its state.

use alloc::vec::Vec;

use quic_wire::packet::VersionIter;
use quic_wire::transport_params::VersionInformation;
use quic_wire::{
    ConnectionId, FrameType, Instant, Side, Space, TransportError, TransportErrorCode,
    TransportParameters, Version,
};

use super::config::{Config, VersionNegotiated, Versions};
use super::{Connection, ConnectionError};
use crate::tls::{DirectionalKeys, KeyChange, Keys, Level, PacketKeyPair, Session, TlsError};

/// TLS handshake message type of a ClientHello (RFC 8446 §4).
const CLIENT_HELLO: u8 = 1;
/// The quic_transport_parameters TLS extension (RFC 9001 §8.2).
const QUIC_TRANSPORT_PARAMETERS: u16 = 0x39;

/// Version negotiation state of one connection.
#[derive(Debug)]
pub(crate) struct VersionState {
    /// The client's Chosen Version: the version of its first flight (RFC 9368 §1.2).
    pub(crate) chosen: Version,
    /// The Destination Connection ID the Initial keys derive from.
    pub(crate) initial_dcid: ConnectionId,
    /// Server, after switching: the Initial receive keys of the client's version, kept
    /// until a Handshake packet arrives (RFC 9369 §4).
    pub(crate) chosen_initial_remote: Option<DirectionalKeys>,
    /// Client: a CRYPTO frame arrived, so the server's version is known (RFC 9369 §4).
    pub(crate) settled: bool,
    /// Server: ClientHello bytes collected before the TLS session starts.
    pub(crate) hello: Option<Vec<u8>>,
}

impl VersionState {
    pub(crate) fn new(side: Side, chosen: Version, initial_dcid: ConnectionId) -> Self {
        VersionState {
            chosen,
            initial_dcid,
            chosen_initial_remote: None,
            settled: false,
            hello: (side == Side::Server).then(Vec::new),
        }
    }
}

/// Whether a first flight of `from` can be converted to `to` (RFC 9368 §2.2): v1 and v2
/// convert into each other (RFC 9369 §4); nothing else is assumed compatible.
fn compatible(from: Version, to: Version) -> bool {
    from.is_supported() && to.is_supported()
}

fn vn_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::VERSION_NEGOTIATION_ERROR, reason)
}

/// The version_information a client sends (RFC 9368 §3): its chosen version first, then
/// the versions its first flight is compatible with, in preference order.
pub(crate) fn client_version_information(config: &Config) -> Option<VersionInformation> {
    let chosen = config.version;
    let mut list: Vec<Version> = config
        .offered_versions()
        .as_slice()
        .iter()
        .copied()
        .filter(|&v| v == chosen || compatible(chosen, v))
        .collect();
    list.truncate(VersionInformation::CAPACITY);
    VersionInformation::new(chosen, &list)
}

/// The quic_transport_parameters extension of a complete ClientHello message, or `None`
/// when the message is not a ClientHello this parser understands (TLS then decides).
pub(crate) fn client_hello_params(msg: &[u8]) -> Option<&[u8]> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (b.get(..n)?, b.get(n..)?);
        *b = rest;
        Some(head)
    }
    fn vec<'a>(b: &mut &'a [u8], len_bytes: usize) -> Option<&'a [u8]> {
        let len = take(b, len_bytes)?
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        take(b, len)
    }
    let mut b = msg;
    if *take(&mut b, 1)?.first()? != CLIENT_HELLO {
        return None;
    }
    // RFC 8446 §4.1.2: legacy_version, random, legacy_session_id, cipher_suites,
    // legacy_compression_methods, extensions.
    let mut body = vec(&mut b, 3)?;
    take(&mut body, 2 + 32)?;
    vec(&mut body, 1)?;
    vec(&mut body, 2)?;
    vec(&mut body, 1)?;
    let mut exts = vec(&mut body, 2)?;
    while !exts.is_empty() {
        let ty = take(&mut exts, 2)?;
        let data = vec(&mut exts, 2)?;
        if u16::from_be_bytes([*ty.first()?, *ty.get(1)?]) == QUIC_TRANSPORT_PARAMETERS {
            return Some(data);
        }
    }
    None
}

/// The length of the first TLS handshake message in `bytes`, once it is all there.
fn complete_message(bytes: &[u8]) -> Option<usize> {
    let len = bytes
        .get(1..4)?
        .iter()
        .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
    (bytes.len() >= 4 + len).then_some(4 + len)
}

/// The TLS session of a server before the ClientHello is complete: it has nothing to say.
pub(crate) struct NotStarted;

impl Session for NotStarted {
    fn is_handshaking(&self) -> bool {
        true
    }
    fn read_handshake(&mut self, _level: Level, _data: &[u8]) -> Result<(), TlsError> {
        Ok(())
    }
    fn write_handshake(&mut self, _out: &mut Vec<u8>) -> Option<KeyChange> {
        None
    }
    fn peer_transport_parameters(&self) -> Option<&[u8]> {
        None
    }
    fn alpn(&self) -> Option<&[u8]> {
        None
    }
    fn zero_rtt_keys(&self) -> Option<DirectionalKeys> {
        None
    }
    fn is_early_data_accepted(&self) -> bool {
        false
    }
    fn next_one_rtt_keys(&mut self) -> Option<PacketKeyPair> {
        None
    }
}

/// What a client needs to undo a tentative switch when the packet does not open.
pub(crate) struct Tentative {
    version: Version,
    old: Keys,
}

impl Connection {
    /// Server: whether Initial CRYPTO data still goes to the ClientHello collector.
    pub(crate) fn collecting_hello(&self, space: Space) -> bool {
        space == Space::Initial && self.vn.hello.is_some()
    }

    /// Server: a CRYPTO frame of the Initial space before the TLS session started.
    pub(crate) fn on_hello_crypto(
        &mut self,
        now: Instant,
        offset: u64,
        data: &[u8],
    ) -> Result<(), TransportError> {
        let limit = self.config.crypto_buffer;
        let mut got = Vec::new();
        let recv = &mut self.space_mut(Space::Initial).recv;
        let _ = recv.on_frame(offset, data, limit, |b| {
            got.extend_from_slice(b);
            Ok::<(), ()>(())
        })?;
        if got.is_empty() {
            return Ok(());
        }
        self.collect_hello(now, &got)
    }

    /// Server: contiguous Initial CRYPTO bytes before the TLS session started. Once the
    /// ClientHello is complete (or the bytes exceed the CRYPTO buffer limit, when TLS is
    /// left to judge them), the version is chosen and the session starts.
    fn collect_hello(&mut self, now: Instant, bytes: &[u8]) -> Result<(), TransportError> {
        let limit = self.config.crypto_buffer;
        let Some(hello) = self.vn.hello.as_mut() else {
            return Ok(());
        };
        hello.extend_from_slice(bytes);
        let done = complete_message(hello).is_some() || hello.len() > limit;
        if done {
            self.start_server_tls(now)?;
        }
        Ok(())
    }

    /// Server: picks the version from the client's version_information (RFC 9368 §2.3)
    /// and starts TLS in it with the collected ClientHello.
    fn start_server_tls(&mut self, now: Instant) -> Result<(), TransportError> {
        let Some(hello) = self.vn.hello.take() else {
            return Ok(());
        };
        let client_vi = complete_message(&hello)
            .and_then(|n| hello.get(..n))
            .and_then(client_hello_params)
            .and_then(|raw| TransportParameters::decode(raw, Side::Client).ok())
            .and_then(|tp| tp.version_information);
        let chosen = self.vn.chosen;
        let accepted = self.config.accepted_versions();
        let negotiated = match client_vi {
            // A mismatch between the packets' version and the client's Chosen Version is
            // refused once TLS reports the parameters (`check_version_information`).
            Some(vi) if vi.chosen() == chosen => {
                let usable =
                    |v: Version| v == chosen || (compatible(chosen, v) && accepted.contains(v));
                if self.config.versions.is_empty() {
                    // Automatic: the client's preference (RFC 9368 §3: advisory).
                    vi.available().iter().copied().find(|&v| usable(v))
                } else {
                    // Our own preference, among what the client offers.
                    accepted
                        .as_slice()
                        .iter()
                        .copied()
                        .find(|&v| usable(v) && vi.available().contains(&v))
                }
                .unwrap_or(chosen)
            }
            _ => chosen,
        };
        if negotiated != chosen {
            // RFC 9369 §4: "The server MUST NOT discard its original version Initial
            // receive keys until it successfully processes a Handshake packet with the
            // negotiated version."
            let old = self
                .switch_initial_keys(negotiated)
                .map_err(|_| internal("no Initial keys for the negotiated version"))?;
            self.vn.chosen_initial_remote = Some(old.remote);
        }
        // RFC 9368 §3: a server's Available Versions are its Fully Deployed versions.
        self.local_params.version_information =
            VersionInformation::new(negotiated, accepted.as_slice());
        let params = super::handshake::encode_params(&self.local_params);
        let session = self
            .tls_config
            .start_server_session(negotiated, &params, negotiated == chosen)
            .map_err(|_| internal("the TLS session could not start"))?;
        self.tls = session;
        self.version = negotiated;
        #[cfg(feature = "qlog")]
        self.qlog_version(now, client_vi.as_ref());
        #[cfg(not(feature = "qlog"))]
        let _ = now;
        self.tls
            .read_handshake(Level::Initial, &hello)
            .map_err(|e| {
                // RFC 9001 §4.8: TLS alerts become CRYPTO_ERROR 0x0100 + alert.
                let code = e.alert.map_or(
                    TransportErrorCode::PROTOCOL_VIOLATION,
                    TransportErrorCode::crypto,
                );
                TransportError::new(code, e.reason).with_frame(FrameType::CRYPTO)
            })
    }

    /// Installs the Initial keys of `version` (derived from the same Destination
    /// Connection ID, RFC 9369 §3.3.1) and returns the keys they replace.
    fn switch_initial_keys(&mut self, version: Version) -> Result<Keys, TlsError> {
        let keys = self
            .tls_config
            .initial_keys(version, &self.vn.initial_dcid, self.side)?;
        let s = self.space_mut(Space::Initial);
        match (s.local.take(), s.remote.take()) {
            (Some(local), Some(remote)) => {
                s.local = Some(keys.local);
                s.remote = Some(keys.remote);
                Ok(Keys { local, remote })
            }
            (local, remote) => {
                s.local = local;
                s.remote = remote;
                Err(internal_tls("Initial keys already discarded"))
            }
        }
    }

    /// Client: a long-header packet of `version`, not ours. Returns the state to undo if
    /// the packet does not open with `version`'s Initial keys.
    pub(crate) fn begin_switch(
        &mut self,
        version: Version,
        ty: quic_wire::PacketType,
    ) -> Option<Tentative> {
        // RFC 9369 §4: "The client learns the negotiated version by observing the first
        // long header Version field that differs from the original version. If the
        // client receives a CRYPTO frame from the server in the original version, it
        // indicates that the negotiated version is equal to the original version."
        let offered = client_version_information(&self.config)
            .is_some_and(|vi| vi.available().contains(&version));
        if self.side != Side::Client
            || ty != quic_wire::PacketType::Initial
            || self.version != self.vn.chosen
            || self.vn.settled
            || !offered
        {
            return None;
        }
        let old = self.switch_initial_keys(version).ok()?;
        Some(Tentative { version, old })
    }

    /// Client: the packet opened (`opened`) or not; commits or undoes the switch.
    pub(crate) fn end_switch(&mut self, t: Tentative, opened: bool) -> bool {
        if opened && self.tls.switch_version(t.version).is_ok() {
            self.version = t.version;
            return true;
        }
        let s = self.space_mut(Space::Initial);
        s.local = Some(t.old.local);
        s.remote = Some(t.old.remote);
        false
    }

    /// RFC 9368 §4 checks on the peer's version_information, run with the other
    /// transport parameter checks.
    pub(crate) fn check_version_information(
        &self,
        tp: &TransportParameters,
    ) -> Result<(), TransportError> {
        let vi = tp.version_information;
        match self.side {
            Side::Server => {
                // "the server MUST validate that the client's Chosen Version matches the
                // version in use for the connection. If the two differ, the server MUST
                // close the connection with a version negotiation error." (The version of
                // the client's first flight; servers MAY complete without it.)
                if vi.is_some_and(|vi| vi.chosen() != self.vn.chosen) {
                    return Err(vn_error("client's chosen version is not its packets'"));
                }
                Ok(())
            }
            Side::Client => self.check_server_version_information(vi),
        }
    }

    fn check_server_version_information(
        &self,
        vi: Option<VersionInformation>,
    ) -> Result<(), TransportError> {
        let after_vn = self.config.version_negotiated;
        let vi = match vi {
            Some(vi) => vi,
            // RFC 9368 §8: reacting to Version Negotiation, a v1 server without the
            // parameter counts as Chosen 1, Available [1].
            None if after_vn.is_some() && self.version == Version::V1 => {
                VersionInformation::new(Version::V1, &[Version::V1])
                    .ok_or_else(|| vn_error("version_information missing"))?
            }
            // "If a client has reacted to a Version Negotiation packet and the server's
            // Version Information was missing, the client MUST close the connection with
            // a version negotiation error." A server that switched our version without
            // saying so is treated the same.
            None if after_vn.is_some() || self.version != self.vn.chosen => {
                return Err(vn_error("server sent no version_information"));
            }
            None => return Ok(()),
        };
        // "clients MUST validate that the server's Chosen Version is equal to the
        // Negotiated Version"
        if vi.chosen() != self.version {
            return Err(vn_error(
                "server's chosen version is not the version in use",
            ));
        }
        // "If a client receives Version Information where the server's Chosen Version
        // was not sent by the client as part of its Available Versions, the client MUST
        // close the connection with a version negotiation error."
        let offered = client_version_information(&self.config);
        if !offered.is_some_and(|o| o.available().contains(&vi.chosen())) {
            return Err(vn_error("server chose a version we did not offer"));
        }
        if let Some(vn) = after_vn {
            // "the client would have selected the same version if it received a Version
            // Negotiation packet that listed the versions in the server's Available
            // Versions field, plus the Negotiated Version"; an empty list fails.
            if vi.available().is_empty() {
                return Err(vn_error("server lists no available versions"));
            }
            let mut listed: Vec<Version> = vi.available().to_vec();
            listed.push(self.version);
            if select_after_vn(&self.config.offered_versions(), &listed) != Some(vn.chosen) {
                return Err(vn_error("version downgrade detected"));
            }
        }
        Ok(())
    }

    /// Client: a Version Negotiation packet arrived (RFC 9000 §6.2, RFC 9368 §2.1, §4).
    pub(crate) fn on_version_negotiation(
        &mut self,
        versions: VersionIter<'_>,
        echoed: (&[u8], &[u8]),
    ) {
        let any_received = self
            .paths
            .first()
            .is_some_and(|p| p.largest_received.iter().any(Option::is_some));
        // RFC 8999 §6: the packet must echo our connection IDs; RFC 9000 §6.2: only before
        // any other packet from the server; RFC 9368 §4: not in response to an attempt
        // that followed a Version Negotiation packet.
        if self.side != Side::Client
            || any_received
            || self.peer_scid.is_some()
            || self.config.version_negotiated.is_some()
            || echoed.0 != self.local_cid.as_bytes()
            || echoed.1 != self.orig_dcid.as_bytes()
        {
            return;
        }
        let listed: Vec<Version> = versions.take(64).collect();
        let original = self.vn.chosen;
        // "Clients MUST ignore any received Version Negotiation packets that contain the
        // Original Version."
        if listed.contains(&original) {
            return;
        }
        let error = match select_after_vn(&self.config.offered_versions(), &listed) {
            Some(chosen) => ConnectionError::VersionNegotiation(VersionNegotiated {
                original,
                offered: Versions::new(
                    &listed
                        .iter()
                        .copied()
                        .filter(|v| v.is_supported())
                        .collect::<Vec<_>>(),
                )
                .unwrap_or_default(),
                chosen,
            }),
            // "If it doesn't find one, it SHALL abort the connection attempt."
            None => ConnectionError::VersionMismatch,
        };
        self.drain(Some(error));
    }
}

/// The version a client picks from a Version Negotiation list: the first of its own
/// preferences that the server lists (reserved versions are never picked, RFC 9368 §3).
fn select_after_vn(ours: &Versions, listed: &[Version]) -> Option<Version> {
    ours.as_slice()
        .iter()
        .copied()
        .find(|&v| v.is_supported() && !v.is_reserved() && listed.contains(&v))
}

fn internal(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::INTERNAL_ERROR, reason)
}

fn internal_tls(reason: &'static str) -> TlsError {
    TlsError {
        alert: None,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_parser_finds_the_transport_parameters() {
        // type, len(3), version, random, session id, suites, compression, extensions.
        let mut body = alloc::vec![0x03, 0x03];
        body.extend([7u8; 32]);
        body.extend([0]); // empty session id
        body.extend([0, 2, 0x13, 0x01]);
        body.extend([1, 0]);
        let exts = [
            0x00, 0x10, 0x00, 0x01, 0xaa, 0x00, 0x39, 0x00, 0x03, 1, 2, 3,
        ];
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        let mut msg = alloc::vec![CLIENT_HELLO, 0, 0, body.len() as u8];
        msg.extend(&body);
        assert_eq!(complete_message(&msg), Some(msg.len()));
        assert_eq!(complete_message(&msg[..msg.len() - 1]), None);
        assert_eq!(client_hello_params(&msg), Some(&[1u8, 2, 3][..]));
        // Truncated or another message type: nothing, never a panic.
        for n in 0..msg.len() {
            assert_eq!(client_hello_params(&msg[..n]), None);
        }
        msg[0] = 2;
        assert_eq!(client_hello_params(&msg), None);
    }

    #[test]
    fn client_hello_parser_survives_arbitrary_bytes() {
        // A peer controls these bytes: any input gives an answer, never a panic.
        let mut x = 0x1234_5678_9abc_def0u64;
        for len in 0..600 {
            let msg: Vec<u8> = (0..len)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Mostly small bytes, so lengths often fit and parsing goes deep.
                    if i % 3 == 0 {
                        (x % 4) as u8
                    } else {
                        x as u8
                    }
                })
                .collect();
            let mut msg = msg;
            if let Some(b) = msg.first_mut() {
                *b = CLIENT_HELLO;
            }
            let _ = complete_message(&msg);
            if let Some(p) = client_hello_params(&msg) {
                assert!(p.len() < msg.len());
            }
        }
    }

    #[test]
    fn vn_selection_follows_our_preference_and_skips_reserved() {
        let ours = Versions::new(&[Version::V2, Version::V1]).unwrap();
        assert_eq!(
            select_after_vn(&ours, &[Version::V1, Version::V2]),
            Some(Version::V2)
        );
        assert_eq!(
            select_after_vn(&ours, &[Version(0x1a2a_3a4a), Version::V1]),
            Some(Version::V1)
        );
        assert_eq!(select_after_vn(&ours, &[Version(0x1a2a_3a4a)]), None);
    }

    fn cfg(version: Version, versions: &[Version]) -> Config {
        Config {
            version,
            versions: Versions::new(versions).unwrap(),
            ..Config::default()
        }
    }

    #[test]
    fn client_version_information_follows_the_configured_preference() {
        // Automatic: the chosen version first, then the other compatible one.
        for (chosen, other) in [(Version::V1, Version::V2), (Version::V2, Version::V1)] {
            let vi = client_version_information(&cfg(chosen, &[])).unwrap();
            assert_eq!(vi.chosen(), chosen);
            assert_eq!(vi.available(), &[chosen, other]);
        }
        let vi = client_version_information(&cfg(Version::V1, &[Version::V2, Version::V1]));
        let vi = vi.unwrap();
        assert_eq!(vi.chosen(), Version::V1);
        assert_eq!(vi.available(), &[Version::V2, Version::V1]);
        // The chosen version is always listed (RFC 9368 §3).
        let vi = client_version_information(&cfg(Version::V1, &[Version::V2])).unwrap();
        assert_eq!(vi.available(), &[Version::V1, Version::V2]);
    }
}
