//! [`Config`]: the settings of one connection.

use core::time::Duration;

use quic_recovery::{AckConfig, AckFrequencyConfig, CcConfig, RecoveryConfig};
use quic_wire::Version;

/// A short list of QUIC versions in preference order (at most [`Versions::CAPACITY`]),
/// `Copy` so that [`Config`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Versions {
    list: [Version; Versions::CAPACITY],
    len: u8,
}

impl Versions {
    /// How many versions a list holds.
    pub const CAPACITY: usize = 8;

    /// Version 1 and version 2, version 1 preferred.
    pub const V1_V2: Versions = Versions {
        list: [
            Version::V1,
            Version::V2,
            Version(0),
            Version(0),
            Version(0),
            Version(0),
            Version(0),
            Version(0),
        ],
        len: 2,
    };

    /// The list `versions` (duplicates and version 0 left out), or `None` when it holds
    /// more than [`Versions::CAPACITY`] distinct versions.
    pub fn new(versions: &[Version]) -> Option<Versions> {
        let mut out = Versions {
            list: [Version(0); Versions::CAPACITY],
            len: 0,
        };
        for &v in versions {
            if v != Version(0) && !out.contains(v) {
                out.push(v)?;
            }
        }
        Some(out)
    }

    /// Appends `v`; `None` when the list is full.
    fn push(&mut self, v: Version) -> Option<()> {
        *self.list.get_mut(usize::from(self.len))? = v;
        self.len += 1;
        Some(())
    }

    /// The versions, most preferred first.
    pub fn as_slice(&self) -> &[Version] {
        self.list.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Whether `v` is listed.
    pub fn contains(&self, v: Version) -> bool {
        self.as_slice().contains(&v)
    }

    /// The first listed version (in our preference order) that `offered` also contains.
    pub fn first_in(&self, offered: &[Version]) -> Option<Version> {
        self.as_slice()
            .iter()
            .copied()
            .find(|v| offered.contains(v))
    }

    /// This list with `v` added at the front if it is missing (a client's Available
    /// Versions must include its Chosen Version, RFC 9368 §3).
    pub fn including(&self, v: Version) -> Versions {
        if self.contains(v) {
            return *self;
        }
        let mut out = Versions {
            list: [Version(0); Versions::CAPACITY],
            len: 0,
        };
        let _ = out.push(v);
        for &w in self.as_slice() {
            if out.push(w).is_none() {
                break;
            }
        }
        out
    }
}

impl core::fmt::Debug for Versions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Versions {
    /// The empty list: [`Config::versions`]' default, "automatic".
    pub const AUTO: Versions = Versions {
        list: [Version(0); Versions::CAPACITY],
        len: 0,
    };

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for Versions {
    fn default() -> Self {
        Versions::AUTO
    }
}

/// What a client learnt from a Version Negotiation packet (RFC 9368 §2.1), carried into
/// the connection attempt that follows it so the server's version_information can be
/// checked for a downgrade (RFC 9368 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionNegotiated {
    /// The Original Version: the version of the very first attempt.
    pub original: Version,
    /// The versions the Version Negotiation packet listed.
    pub offered: Versions,
    /// The version chosen from them for the next attempt.
    pub chosen: Version,
}

/// Settings of a [`Connection`](super::Connection). `Default` gives safe values: CUBIC with
/// HyStart++, pacing on, 30 s idle timeout, no keep-alive, 1200-byte datagrams growing to
/// 1452 by path MTU discovery, DATAGRAM frames up to 1200 bytes accepted, the fixed bit
/// greased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The QUIC version a client starts with (v1 or v2): its Original Version (RFC 9368
    /// §1.2). A server takes the version of the client's first Initial.
    pub version: Version,
    /// The versions we use, most preferred first (RFC 9368). A client lists them (with
    /// `version`) as the Available Versions of its version_information: the versions its
    /// first flight may be converted to by compatible negotiation. A server accepts
    /// Initials of these versions (the [`Endpoint`](crate::Endpoint) answers others with
    /// Version Negotiation listing these) and switches a client to the first of them, in
    /// this order, that the client offers.
    ///
    /// Empty (the default) is automatic: a client offers `version` first, then the other
    /// versions it can convert to (v1 and v2 convert into each other, RFC 9369 §4); a
    /// server accepts v1 and v2 and follows the client's preference.
    pub versions: Versions,
    /// Client: set on a connection attempt made after a Version Negotiation packet (see
    /// [`ConnectionError::VersionNegotiation`](super::ConnectionError::VersionNegotiation)
    /// and [`Config::after_version_negotiation`]): Version Negotiation packets are then
    /// ignored and the server's version_information is checked against it (RFC 9368 §4).
    pub version_negotiated: Option<VersionNegotiated>,
    /// Stream limits, windows and buffers.
    pub streams: quic_streams::Config,
    /// Loss recovery, ACK policy, pacing; `recovery.cc` picks the congestion controller.
    pub recovery: RecoveryConfig,
    /// Our max_idle_timeout; `None` for no idle timeout (RFC 9000 §10.1).
    pub idle_timeout: Option<Duration>,
    /// Send a PING after this long without sending anything ack-eliciting, to keep the
    /// connection (and NAT bindings) alive.
    pub keep_alive: Option<Duration>,
    /// Length of the connection IDs we choose (1 to 20).
    pub cid_len: usize,
    /// The datagram size before path MTU discovery (at least 1200, RFC 9000 §14.1).
    pub initial_mtu: u16,
    /// The largest UDP payload we send or accept: the upper end of path MTU discovery
    /// (equal to `initial_mtu` to disable it), advertised as max_udp_payload_size.
    pub max_udp_payload: u16,
    /// max_datagram_frame_size we advertise (RFC 9221 §3); `None` refuses DATAGRAM frames.
    pub max_datagram_frame_size: Option<u16>,
    /// Received datagrams kept until read; the oldest is dropped beyond this.
    pub datagram_recv_queue: usize,
    /// Datagrams waiting to be sent; the oldest is dropped beyond this.
    pub datagram_send_queue: usize,
    /// Advertise grease_quic_bit and grease the fixed bit when the peer does (RFC 9287).
    pub grease_quic_bit: bool,
    /// Out-of-order CRYPTO bytes buffered per level before CRYPTO_BUFFER_EXCEEDED.
    pub crypto_buffer: usize,
    /// Mark packets ECT(0) and react to CE (RFC 9000 §13.4), until validation fails.
    pub ecn: bool,
    /// active_connection_id_limit we advertise: how many of the peer's connection IDs we
    /// keep (at least 2, RFC 9000 §18.2).
    pub active_cid_limit: u8,
    /// Server: advertise disable_active_migration (RFC 9000 §18.2). Clients then never
    /// move on purpose; packets from a new IP address are dropped, while a change of port
    /// only (NAT rebinding) is still followed.
    pub disable_active_migration: bool,
    /// Server: a second address of ours offered as preferred_address (RFC 9000 §9.6), to
    /// which clients move once the handshake is confirmed.
    pub preferred_address: Option<core::net::SocketAddr>,
    /// Count the frames of every packet sent, by kind, in [`Stats::frames_sent`]
    /// (received frames are always counted). Off by default: it parses each packet's
    /// frames once more before sealing.
    ///
    /// [`Stats::frames_sent`]: super::Stats::frames_sent
    pub frame_stats: bool,
    /// Packets sent under one 1-RTT key before we update keys on our own (RFC 9001 §6);
    /// at most half the AEAD's confidentiality limit is used (§6.6: 2^23 packets for
    /// AES-GCM). Default 2^22.
    pub key_update_interval: u64,
    /// As a data sender, ask a peer that supports the ack-frequency extension (it sent
    /// min_ack_delay) for fewer ACKs with this policy; `None` (the default) never sends
    /// ACK_FREQUENCY. Whether we accept the peer's requests is
    /// `recovery.ack.min_ack_delay` (advertised when set; 1 ms by default).
    ///
    /// In the simulator it cuts the ACKs of a bulk transfer three- to fourfold at equal
    /// goodput. It is off by default because with fewer ACKs a sender's transmissions are
    /// released by its pacing timer rather than by arriving ACKs, and an event loop whose
    /// timer wake-ups are late (a loaded host, a plain `recv_from` timeout) then sends
    /// far less: turn it on where the loop wakes up on time or sends in GSO batches.
    pub ack_frequency: Option<AckFrequencyConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: Version::V1,
            versions: Versions::AUTO,
            version_negotiated: None,
            streams: quic_streams::Config::default(),
            recovery: RecoveryConfig {
                cc: CcConfig::Cubic { hystart: true },
                ack: AckConfig {
                    // ack-frequency §3: the smallest delay we can honour, our timer
                    // granularity (RFC 9002 §6.1.2's kGranularity).
                    min_ack_delay: Some(Duration::from_millis(1)),
                    ..AckConfig::default()
                },
                ..RecoveryConfig::default()
            },
            idle_timeout: Some(Duration::from_secs(30)),
            keep_alive: None,
            cid_len: 8,
            initial_mtu: 1200,
            max_udp_payload: 1452,
            max_datagram_frame_size: Some(1200),
            datagram_recv_queue: 64,
            datagram_send_queue: 64,
            grease_quic_bit: true,
            crypto_buffer: 64 * 1024,
            ecn: true,
            active_cid_limit: 4,
            disable_active_migration: false,
            preferred_address: None,
            frame_stats: false,
            key_update_interval: 1 << 22,
            ack_frequency: None,
        }
    }
}

impl Config {
    /// Client: the versions offered in version_information, most preferred first
    /// (always including `version`, RFC 9368 §3).
    pub fn offered_versions(&self) -> Versions {
        if self.versions.is_empty() {
            Versions::new(&[self.version, Version::V1, Version::V2]).unwrap_or_default()
        } else {
            self.versions.including(self.version)
        }
    }

    /// Server: the versions Initials are accepted in and Version Negotiation lists.
    pub fn accepted_versions(&self) -> Versions {
        if self.versions.is_empty() {
            Versions::V1_V2
        } else {
            self.versions
        }
    }

    /// The configuration of the connection attempt that follows a Version Negotiation
    /// packet (RFC 9368 §2.1), from what the failed attempt reported in
    /// [`ConnectionError::VersionNegotiation`](super::ConnectionError::VersionNegotiation):
    /// the new version, and the record that makes the next attempt ignore further Version
    /// Negotiation packets and check the server for a downgrade.
    #[must_use]
    pub fn after_version_negotiation(self, vn: VersionNegotiated) -> Config {
        Config {
            version: vn.chosen,
            version_negotiated: Some(vn),
            ..self
        }
    }
}
