//! [`Config`]: the settings of one connection.

use core::time::Duration;

use quic_recovery::{AckConfig, AckFrequencyConfig, CcConfig, RecoveryConfig};
use quic_wire::Version;

/// Settings of a [`Connection`](super::Connection). `Default` gives safe values: CUBIC with
/// HyStart++, pacing on, 30 s idle timeout, no keep-alive, 1200-byte datagrams growing to
/// 1452 by path MTU discovery, DATAGRAM frames up to 1200 bytes accepted, the fixed bit
/// greased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The QUIC version a client starts with (v1 or v2).
    pub version: Version,
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
            ack_frequency: None,
        }
    }
}
