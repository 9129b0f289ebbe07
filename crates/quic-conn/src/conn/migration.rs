//! The peer's address changing under an established connection (RFC 9000 §9): NAT
//! rebinding or a client moving. The server follows a non-probing packet with the largest
//! packet number from a new address, limits what it sends there to three times what it
//! received until PATH_CHALLENGE / PATH_RESPONSE validates it (§8.2, §9.3).
//!
//! Known simplifications: the congestion controller and RTT are kept (RFC 9000 §9.4 says
//! to reset them unless only the port changed); a failed validation does not fall back to
//! the old address; a probing packet from a new address is answered on the current path.

use core::net::SocketAddr;

use super::Connection;

/// A PATH_CHALLENGE we sent and await the response to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Challenge {
    pub(crate) data: [u8; 8],
    /// Whether it must be (re)sent.
    pub(crate) pending: bool,
}

impl Connection {
    /// Moves path 0 to `remote`, from which a datagram of `len` bytes just arrived.
    pub(crate) fn migrate(&mut self, remote: SocketAddr, len: usize) {
        let mut data = [0u8; 8];
        self.rng.fill_bytes(&mut data);
        let Some(path) = self.paths.first_mut() else {
            return;
        };
        path.remote = remote;
        path.validated = false;
        path.bytes_received = len as u64;
        path.bytes_sent = 0;
        // RFC 9000 §9.3: "An endpoint MUST perform path validation if it detects any change
        // to a peer's address".
        self.challenge = Some(Challenge {
            data,
            pending: true,
        });
    }

    /// A PATH_RESPONSE arrived (RFC 9000 §8.2.2): the path is validated when it echoes our
    /// challenge.
    pub(crate) fn on_path_response(&mut self, data: [u8; 8]) {
        if self.challenge.is_some_and(|c| c.data == data) {
            self.challenge = None;
            if let Some(p) = self.paths.first_mut() {
                p.validated = true;
            }
        }
    }

    /// Client: the local address changed (a new interface or port). Packets now leave
    /// from `local` under a fresh connection ID of the server's (RFC 9000 §9.5), retiring
    /// the old one; the server validates the new path. Refused (`false`) on a server,
    /// before the handshake is confirmed, when the server disabled active migration, or
    /// when it offered no spare connection ID.
    pub fn migrate_local_address(&mut self, local: SocketAddr) -> bool {
        let allowed = self.side == quic_wire::Side::Client
            && self.handshake_confirmed
            && !self.is_closed()
            && self
                .peer_params
                .as_ref()
                .is_some_and(|p| !p.disable_active_migration);
        if !allowed {
            return false;
        }
        let Some((cid, token)) = self
            .peer_cids
            .rotate(self.remote_cid, self.peer_reset_token)
        else {
            return false;
        };
        self.remote_cid = cid;
        self.peer_reset_token = token;
        if let Some(p) = self.paths.first_mut() {
            p.local = local;
        }
        // A packet must go out from the new address so the server notices.
        self.ping_pending = true;
        true
    }

    /// Whether the peer's current address is validated.
    pub fn is_path_validated(&self) -> bool {
        self.paths.first().is_some_and(|p| p.validated)
    }
}
