//! Per-path state (DESIGN.md: keyed by `PathId` from day one; path 0 is the only path
//! until multipath lands).

use core::net::SocketAddr;

use quic_recovery::{PathRecovery, RecoveryConfig};
use quic_wire::{PathId, Space};
use rand_core::RngCore;

use super::records::Records;

/// One network path: its addresses, recovery (RTT, congestion, pacing, PTO, the
/// application packet-number space), anti-amplification budget and validation.
#[derive(Debug)]
pub(crate) struct Path {
    pub(crate) id: PathId,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
    /// The addresses of the handshake (RFC 9000 §9: disable_active_migration and the
    /// preferred address refer to them).
    pub(crate) remote_original: SocketAddr,
    pub(crate) local_original: SocketAddr,
    pub(crate) recovery: PathRecovery<Records>,
    /// Whether the peer's address is validated (RFC 9000 §8). Until then a server sends
    /// at most three times what it received (§8.1).
    pub(crate) validated: bool,
    pub(crate) bytes_received: u64,
    pub(crate) bytes_sent: u64,
    /// The datagram size used on this path.
    pub(crate) mtu: u16,
    /// Largest packet number received per space, for packet-number decoding.
    pub(crate) largest_received: [Option<u64>; 3],
    /// Path MTU discovery.
    pub(crate) mtu_search: super::mtu::MtuSearch,
}

impl Path {
    pub(crate) fn new(
        id: PathId,
        remote: SocketAddr,
        local: SocketAddr,
        config: &RecoveryConfig,
        is_server: bool,
        (mtu, max_mtu): (u16, u16),
        rng: &mut dyn RngCore,
    ) -> Self {
        // The congestion window is counted in datagrams of the path's current size (RFC 9002
        // §7.2): start from the initial MTU, and MTU discovery raises it.
        let config = RecoveryConfig {
            max_datagram_size: u64::from(mtu),
            ..*config
        };
        Path {
            id,
            remote,
            local,
            remote_original: remote,
            local_original: local,
            recovery: PathRecovery::new(id, &config, is_server, rng),
            validated: !is_server,
            bytes_received: 0,
            bytes_sent: 0,
            mtu,
            largest_received: [None; 3],
            mtu_search: super::mtu::MtuSearch::new(mtu, max_mtu),
        }
    }

    /// Bytes we may still send before the address is validated (RFC 9000 §8.1: "an
    /// endpoint MUST limit the amount of data it sends to the unvalidated address to
    /// three times the amount of data received from that address").
    pub(crate) fn amplification_budget(&self) -> u64 {
        if self.validated {
            u64::MAX
        } else {
            (3 * self.bytes_received).saturating_sub(self.bytes_sent)
        }
    }

    pub(crate) fn largest_received(&self, space: Space) -> Option<u64> {
        self.largest_received.get(space as usize).copied().flatten()
    }

    pub(crate) fn note_received(&mut self, space: Space, pn: u64) {
        if let Some(slot) = self.largest_received.get_mut(space as usize) {
            *slot = Some(slot.map_or(pn, |l| l.max(pn)));
        }
    }
}
