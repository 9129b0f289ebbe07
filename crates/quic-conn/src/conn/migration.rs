//! Connection migration (RFC 9000 §9): the peer's address changing under an established
//! connection (NAT rebinding or a client moving), a client moving or probing on purpose,
//! and the server's preferred address (§9.6).
//!
//! The network path is the 4-tuple; the packet-number space and loss recovery stay those
//! of path 0 (RFC 9000 has one application space; multipath will key more by `PathId`).
//! What changes with the 4-tuple is the congestion controller, RTT estimate, path MTU and
//! ECN validation (RFC 9000 §9.2, §9.4): a new path starts from initial values unless only the peer's port
//! changed, and the state of validated 4-tuples is kept (a few at most) for a return.
//!
//! - The active path's validation uses [`Challenge`] in ordinary packets; when it fails
//!   (3 PTOs, §8.2.4) the connection returns to the last validated path (§9.3.2). A
//!   challenge the anti-amplification limit kept below 1200 bytes is repeated at full
//!   size once the address is validated (§8.2.1).
//! - Paths other than the active one are probed with [`Probe`]s: padded datagrams with a
//!   PATH_CHALLENGE only (see `probe.rs`), e.g. a client trying a new local address before
//!   moving to it (§9.1), the server's preferred address (§9.6.1), or the previously active
//!   path after an apparent migration (§9.3.3). Retries back off like a PTO.
//! - A PATH_CHALLENGE is answered on the 4-tuple it came from (§8.2.2), under a
//!   connection ID of the peer's not used towards another address (§9.5); responses owed
//!   are bounded, the excess dropped.
//!
//! A server whose client sends a non-probing packet to its preferred address probes the
//! path from there and moves once it is validated, sending from its original address
//! until then (§9.6.2).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

use quic_recovery::CongestionState;
use quic_wire::cid::ResetToken;
use quic_wire::{ConnectionId, Instant, Side, Space};

use super::mtu::MtuSearch;
use super::{Connection, Event, Timer};

/// Validated 4-tuples whose congestion state is kept for a return.
const MAX_KNOWN: usize = 4;
/// Paths probed at once at most.
pub(crate) const MAX_PROBES: usize = 4;
/// PATH_RESPONSEs owed on paths other than the active one at most; more challenges are
/// not answered (RFC 9000 §8.2.2 lets the peer send more).
const MAX_OFF_PATH_RESPONSES: usize = 4;

/// A PATH_CHALLENGE on the active path that we await the response to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Challenge {
    pub(crate) data: [u8; 8],
    /// Whether it must be (re)sent.
    pub(crate) pending: bool,
    /// When validation is abandoned (RFC 9000 §8.2.4).
    pub(crate) deadline: Instant,
    /// Whether the anti-amplification budget let it go in a 1200-byte datagram; if not,
    /// a second validation checks the path MTU (RFC 9000 §8.2.1).
    pub(crate) full_size: bool,
    /// It only checks the path MTU of a validated path: failing it does not undo the move.
    pub(crate) mtu_recheck: bool,
}

/// Why a path is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeKind {
    /// Client: a new local address, moved to on success when `migrate`.
    Local { migrate: bool },
    /// Client: the server's preferred address (RFC 9000 §9.6.1), moved to on success.
    Preferred,
    /// The previously active path after an apparent migration (RFC 9000 §9.3.3).
    Previous,
    /// Server: the path from our preferred address to the client, which sent a
    /// non-probing packet there; moved to on success (RFC 9000 §9.6.2).
    ServerPreferred,
}

/// A path other than the active one being validated.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) data: [u8; 8],
    /// The peer's connection ID the probe uses, with its sequence number when reserved
    /// for this path (RFC 9000 §9.5) and its reset token.
    pub(crate) cid: ConnectionId,
    pub(crate) cid_seq: Option<u64>,
    pub(crate) token: Option<ResetToken>,
    /// When the challenge goes (again).
    pub(crate) send_at: Instant,
    /// Challenges sent so far; each wait doubles (like a PTO backing off).
    pub(crate) sent: u32,
    pub(crate) deadline: Instant,
    pub(crate) kind: ProbeKind,
}

/// A validated 4-tuple and the congestion state and path MTU it had (`None`: it shares
/// the state of the path that followed it).
#[derive(Debug)]
struct Known {
    local: SocketAddr,
    remote: SocketAddr,
    state: Option<(CongestionState, u16, MtuSearch)>,
    /// Whether ECN validation had failed there.
    ecn_failed: bool,
}

/// Migration state beyond path 0's.
#[derive(Debug, Default)]
pub(crate) struct Migration {
    known: Vec<Known>,
    /// The last validated 4-tuple, returned to when validating the current one fails.
    last_validated: Option<(SocketAddr, SocketAddr)>,
    pub(crate) probes: Vec<Probe>,
    /// PATH_RESPONSEs owed on other 4-tuples: (local, remote, data, bytes received there).
    pub(crate) off_path_responses: VecDeque<(SocketAddr, SocketAddr, [u8; 8], usize)>,
    /// The 4-tuple (local, remote) and size of the datagram being processed, when it is
    /// not the active path's.
    pub(crate) off_path: Option<(SocketAddr, SocketAddr, usize)>,
    /// Client: the server's preferred address was tried.
    pub(crate) preferred_tried: bool,
    /// The Destination Connection ID of the peer's latest non-probing datagram on the
    /// active path: a migration under another one is intentional (RFC 9000 §9.5).
    path_dcid: Option<ConnectionId>,
    /// Connection IDs of the peer's set aside for answering on other 4-tuples (RFC 9000
    /// §9.5: one ID per destination): (local, remote, sequence, ID).
    pub(crate) response_cids: Vec<(SocketAddr, SocketAddr, u64, ConnectionId)>,
}

/// Why a migration or probe was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// Only clients migrate (RFC 9000 §9).
    #[error("only a client initiates migration")]
    NotClient,
    /// Before the handshake is confirmed (RFC 9000 §9: "MUST NOT initiate connection
    /// migration before the handshake is confirmed").
    #[error("the handshake is not confirmed")]
    NotConfirmed,
    /// The connection is closing.
    #[error("the connection is closed")]
    Closed,
    /// The server sent disable_active_migration (RFC 9000 §18.2).
    #[error("the peer disabled active migration")]
    Disabled,
    /// The peer offered no unused connection ID for a new path (RFC 9000 §9.5).
    #[error("no unused connection ID of the peer")]
    NoConnectionId,
    /// As many paths are being probed as allowed.
    #[error("too many paths probed at once")]
    TooManyProbes,
    /// That is the path in use already.
    #[error("already on that path")]
    SamePath,
}

/// A step of a probe or migration, for qlog's `quic:migration_state_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    ProbingStarted,
    ProbingAbandoned,
    ProbingSuccessful,
    MigrationStarted,
    MigrationAbandoned,
    MigrationComplete,
}

/// How a datagram relates to the active path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// On the active path.
    Active,
    /// On another 4-tuple the connection accepts packets from.
    Other,
    /// Dropped without a word (no stateless reset either, RFC 9000 §9).
    Drop,
}

impl Connection {
    /// Traces a migration step on the 4-tuple (local, remote) (with feature `qlog`).
    #[cfg_attr(not(feature = "qlog"), allow(clippy::unused_self))]
    fn trace_migration(
        &mut self,
        now: Instant,
        step: Step,
        (local, remote): (SocketAddr, SocketAddr),
    ) {
        #[cfg(feature = "qlog")]
        {
            use crate::qlog::events::data::{MigrationState, MigrationStateUpdated};
            use crate::qlog::types::TupleEndpointInfo;
            let new = match step {
                Step::ProbingStarted => MigrationState::ProbingStarted,
                Step::ProbingAbandoned => MigrationState::ProbingAbandoned,
                Step::ProbingSuccessful => MigrationState::ProbingSuccessful,
                Step::MigrationStarted => MigrationState::MigrationStarted,
                Step::MigrationAbandoned => MigrationState::MigrationAbandoned,
                Step::MigrationComplete => MigrationState::MigrationComplete,
            };
            self.qlog.emit(now, || MigrationStateUpdated {
                old: None,
                new,
                tuple_id: None,
                tuple_remote: Some(TupleEndpointInfo::from_addr(remote)),
                tuple_local: Some(TupleEndpointInfo::from_addr(local)),
            });
        }
        #[cfg(not(feature = "qlog"))]
        let _ = (now, step, local, remote);
    }

    /// The validation timeout of RFC 9000 §8.2.4: "three times the larger of the current
    /// PTO or the PTO for the new path (using kInitialRtt)".
    fn validation_timeout(&self) -> Duration {
        let initial = self.config.recovery.initial_rtt;
        // RFC 9002 §6.2.1 with no sample: smoothed = kInitialRtt, rttvar = kInitialRtt / 2.
        let new_pto = initial + 2 * initial;
        let current = self
            .paths
            .first()
            .map_or(new_pto, |p| p.recovery.pto_period(Space::Data));
        current.max(new_pto).saturating_mul(3)
    }

    /// How a datagram from `remote` to `local` is treated.
    pub(crate) fn arrival(&self, local: SocketAddr, remote: SocketAddr) -> Arrival {
        let Some(path) = self.paths.first() else {
            return Arrival::Drop;
        };
        // A server with a preferred address tells its addresses apart; otherwise the local
        // address is not part of the decision (a host may see it differently).
        let preferred = self.config.preferred_address;
        let local_differs = self.side == Side::Server
            && preferred.is_some()
            && local != path.local
            && (local == path.local_original || Some(local) == preferred);
        if remote == path.remote && !local_differs {
            return Arrival::Active;
        }
        match self.side {
            // RFC 9000 §9: "If a client receives packets from an unknown server address,
            // the client MUST discard these packets"; addresses it probes are known, and
            // so is the address of the handshake: after a move to the preferred address a
            // server may go on sending from there (quinn-proto 0.11 keeps one local IP per
            // connection). Those packets are processed without moving back (§9.6.2 asks
            // the server, not the client, to send from the preferred address only).
            Side::Client => {
                let known = remote == path.remote_original
                    || self.migration.probes.iter().any(|p| p.remote == remote);
                if known {
                    Arrival::Other
                } else {
                    Arrival::Drop
                }
            }
            // Migration before the handshake is confirmed is forbidden (§9).
            Side::Server if !self.handshake_confirmed => Arrival::Drop,
            Side::Server => {
                // RFC 9000 §9: with disable_active_migration, packets from a client that
                // moved anyway "MUST either drop the incoming packets on that path
                // without generating a Stateless Reset or proceed with path validation".
                // A change of port only is taken for NAT rebinding and followed; a new IP
                // address is dropped, unless the client is using our preferred address.
                let to_preferred = Some(local) == preferred;
                if self.config.disable_active_migration
                    && remote.ip() != path.remote.ip()
                    && !to_preferred
                {
                    Arrival::Drop
                } else {
                    Arrival::Other
                }
            }
        }
    }

    /// The datagram being processed arrived on another 4-tuple than the active path's
    /// (`Some`), or on the active path (`None`).
    #[inline]
    pub(crate) fn note_off_path(&mut self, off: Option<(SocketAddr, SocketAddr, usize)>) {
        // Nearly every datagram arrives on the active path, after another that did: then
        // there is nothing to write.
        if off.is_some() || self.migration.off_path.is_some() {
            self.migration.off_path = off;
        }
    }

    /// A datagram was processed; `active_dcid` is the Destination Connection ID of a
    /// non-probing one on the active path.
    pub(crate) fn end_datagram(&mut self, active_non_probing: bool, dcid: Option<ConnectionId>) {
        self.migration.off_path = None;
        if active_non_probing && dcid.is_some() {
            self.migration.path_dcid = dcid;
        }
    }

    /// A PATH_CHALLENGE arrived: the response goes back on the 4-tuple it came from
    /// (RFC 9000 §8.2.2). Responses owed are bounded; the excess is dropped.
    pub(crate) fn on_path_challenge(&mut self, data: [u8; 8], max_active: usize) {
        match self.migration.off_path {
            None => {
                if self.path_responses.len() < max_active {
                    self.path_responses.push_back(data);
                }
                // RFC 9000 §9.3.3: "An endpoint that receives a PATH_CHALLENGE on an
                // active path SHOULD send a non-probing packet in response", which moves
                // the peer back if an attacker's copy had drawn it away.
                if self.handshake_confirmed {
                    self.ping_pending = true;
                }
            }
            Some((local, remote, len)) => {
                let q = &mut self.migration.off_path_responses;
                if q.len() < MAX_OFF_PATH_RESPONSES {
                    q.push_back((local, remote, data, len));
                }
            }
        }
    }

    /// The peer moved to `remote` (and, for a server with a preferred address, to our
    /// `local`): a non-probing packet with the largest packet number so far arrived there
    /// in a datagram of `len` bytes (RFC 9000 §9.3).
    pub(crate) fn migrate(
        &mut self,
        now: Instant,
        (local, remote): (SocketAddr, SocketAddr),
        len: usize,
        dcid: Option<ConnectionId>,
    ) {
        let Some(path) = self.paths.first() else {
            return;
        };
        let (old_local, old_remote, old_validated) = (path.local, path.remote, path.validated);
        let local = if self.side == Side::Server && self.config.preferred_address.is_none() {
            old_local
        } else {
            local
        };
        if self.side == Side::Server
            && Some(old_local) == self.config.preferred_address
            && local == path.local_original
        {
            // RFC 9000 §9.6.2: once on the preferred address, "The server SHOULD drop newer
            // packets for this connection that are received on the old IP address": they
            // never take the connection back there.
            return;
        }
        if self.side == Side::Server && local != old_local && remote == old_remote {
            // RFC 9000 §9.6.2: "The server MUST send non-probing packets from its original
            // address until it receives a non-probing packet from the client at its
            // preferred address and until the server has validated the new path", and "MUST
            // probe on the path toward the client from its preferred address".
            self.probe_preferred_path(now, local, remote);
            return;
        }
        // RFC 9000 §9.4: "unless the only change in the peer's address is its port
        // number", the new path starts from initial values. A port change alone is taken
        // for NAT rebinding and keeps the state.
        let port_only = local == old_local && remote.ip() == old_remote.ip();
        // A peer that moved on purpose changed its connection ID too (§9.5); NAT
        // rebinding keeps it.
        let intentional =
            dcid.is_some() && self.migration.path_dcid.is_some_and(|d| Some(d) != dcid);
        self.migration.path_dcid = dcid.or(self.migration.path_dcid);
        let answered = self
            .migration
            .response_cids
            .iter()
            .position(|&(l, r, _, _)| (l, r) == (local, remote))
            .map(|i| self.migration.response_cids.remove(i));
        if let Some((_, _, seq, cid)) = answered {
            // We answered the peer's probes on this path under an ID of its: keep it.
            if self.peer_cids.switch_to(seq, self.remote_cid) {
                self.remote_cid = cid;
                self.peer_reset_token = self.peer_cids.token_of(seq);
            }
        } else if local != old_local || intentional {
            // RFC 9000 §9.5: "An endpoint MUST NOT reuse a connection ID when sending from
            // more than one local address" nor "when sending to more than one destination
            // address" (unless the peer's move was not its own doing, when it "MAY
            // continue to use the current connection ID"): take a fresh ID of the peer's
            // when there is one.
            if let Some((cid, token)) = self
                .peer_cids
                .rotate(self.remote_cid, self.peer_reset_token)
            {
                self.remote_cid = cid;
                self.peer_reset_token = token;
            }
        }
        if old_validated {
            self.migration.last_validated = Some((old_local, old_remote));
        }
        self.migration
            .probes
            .retain(|p| (p.local, p.remote) != (local, remote));
        let revisit = self.switch_path(now, (local, remote), old_validated, port_only);
        self.trace_migration(now, Step::MigrationStarted, (local, remote));
        let Some(path) = self.paths.first_mut() else {
            return;
        };
        path.bytes_received = len as u64;
        path.bytes_sent = 0;
        if revisit {
            // RFC 9000 §9.3: "An endpoint MAY skip validation of a peer address if that
            // address has been seen recently."
            path.validated = true;
            self.challenge = None;
            self.migration.last_validated = Some((local, remote));
            self.trace_migration(now, Step::MigrationComplete, (local, remote));
        } else {
            path.validated = false;
            // RFC 9000 §9: "An endpoint MUST perform path validation if it detects any
            // change to a peer's address, unless it has previously validated that
            // address."
            self.start_challenge(now);
        }
        if old_validated && self.side == Side::Server && !intentional {
            // RFC 9000 §9.3.3: "In response to an apparent migration, endpoints MUST
            // validate the previously active path using a PATH_CHALLENGE frame." (A copy
            // forwarded by an attacker carries the connection ID of the original, so a
            // move under a new ID is no such apparent migration; and the old path's ID
            // would be used towards two addresses, §9.5.)
            let (cid, token) = (self.remote_cid, self.peer_reset_token);
            self.add_probe(
                now,
                (old_local, old_remote),
                (cid, None, token),
                ProbeKind::Previous,
            );
        }
    }

    /// Server: validates the path from our preferred address `local` to the client before
    /// moving there, under the client ID set aside for that path if we answered there.
    fn probe_preferred_path(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr) {
        if self
            .migration
            .probes
            .iter()
            .any(|p| (p.local, p.remote) == (local, remote))
        {
            return;
        }
        let reserved = self
            .migration
            .response_cids
            .iter()
            .position(|&(l, r, _, _)| (l, r) == (local, remote))
            .map(|i| self.migration.response_cids.remove(i))
            .map(|(_, _, seq, cid)| (seq, cid))
            .or_else(|| {
                self.peer_cids
                    .reserve(self.remote_cid)
                    .map(|(seq, cid, _)| (seq, cid))
            });
        let (cid, seq) = match reserved {
            Some((seq, cid)) => (cid, Some(seq)),
            None => (self.remote_cid, None),
        };
        let token = match seq {
            Some(s) => self.peer_cids.token_of(s),
            None => self.peer_reset_token,
        };
        self.add_probe(
            now,
            (local, remote),
            (cid, seq, token),
            ProbeKind::ServerPreferred,
        );
    }

    /// Moves the active path to `to`, storing the old path's congestion state when it was
    /// validated and taking the state `to` had if it was validated before. Returns whether
    /// `to` is such a validated 4-tuple.
    fn switch_path(
        &mut self,
        now: Instant,
        to: (SocketAddr, SocketAddr),
        old_validated: bool,
        keep_state: bool,
    ) -> bool {
        let Some(path) = self.paths.first() else {
            return false;
        };
        let from = (path.local, path.remote);
        let known = self
            .migration
            .known
            .iter()
            .position(|k| (k.local, k.remote) == to)
            .map(|i| self.migration.known.remove(i));
        let revisit = known.is_some();
        let old_ecn_failed = self.ecn_failed;
        let new_state = match known {
            // A path left with its state kept (a port change) shares the current state.
            Some(k) => {
                if k.state.is_some() {
                    self.ecn_failed = k.ecn_failed;
                }
                k.state
            }
            None if keep_state => None,
            None => {
                // RFC 9000 §9.2: "The new path might not have the same ECN capability.
                // Therefore, the endpoint validates ECN capability" (§13.4): from scratch.
                self.ecn_failed = false;
                Some(self.initial_path_state())
            }
        };
        let Some(path) = self.paths.first_mut() else {
            return false;
        };
        let old_state = new_state.map(|(s, mtu, search)| {
            let old = path.recovery.switch_network_path(now, s);
            let old_mtu = core::mem::replace(&mut path.mtu, mtu);
            let old_search = core::mem::replace(&mut path.mtu_search, search);
            path.recovery.set_max_datagram_size(u64::from(mtu));
            (old, old_mtu, old_search)
        });
        path.local = to.0;
        path.remote = to.1;
        if old_validated {
            let m = &mut self.migration;
            m.known.retain(|k| (k.local, k.remote) != from);
            if m.known.len() >= MAX_KNOWN {
                m.known.remove(0);
            }
            m.known.push(Known {
                local: from.0,
                remote: from.1,
                state: old_state,
                ecn_failed: old_ecn_failed,
            });
        }
        revisit
    }

    /// Initial values for a new network path (RFC 9000 §9.4): congestion controller and
    /// RTT estimate, and the path MTU, searched again from the base size (RFC 8899 §5.2:
    /// a new path starts from the base PLPMTU).
    fn initial_path_state(&self) -> (CongestionState, u16, MtuSearch) {
        let base = self.config.initial_mtu.max(1200);
        let peer_max = self.peer_params.as_ref().map_or(u16::MAX, |p| {
            u16::try_from(p.max_udp_payload_size.into_inner()).unwrap_or(u16::MAX)
        });
        let mut search = MtuSearch::new(base, self.config.max_udp_payload.max(base));
        search.cap(peer_max.max(1200));
        let mut recovery_config = self.config.recovery;
        recovery_config.max_datagram_size = u64::from(base);
        (CongestionState::initial(&recovery_config), base, search)
    }

    /// Starts validating the active path.
    fn start_challenge(&mut self, now: Instant) {
        self.start_challenge_for(now, false);
    }

    fn start_challenge_for(&mut self, now: Instant, mtu_recheck: bool) {
        let mut data = [0u8; 8];
        self.rng.fill_bytes(&mut data);
        let deadline = now.checked_add(self.validation_timeout()).unwrap_or(now);
        let full_size = self
            .paths
            .first()
            .is_some_and(|p| p.amplification_budget() >= 1200);
        self.challenge = Some(Challenge {
            data,
            pending: true,
            deadline,
            full_size,
            mtu_recheck,
        });
        self.arm_path_timer();
    }

    /// Starts probing `path` (local, remote) with the peer's connection ID `cid`.
    pub(crate) fn add_probe(
        &mut self,
        now: Instant,
        (local, remote): (SocketAddr, SocketAddr),
        (cid, cid_seq, token): (ConnectionId, Option<u64>, Option<ResetToken>),
        kind: ProbeKind,
    ) {
        let probes = &mut self.migration.probes;
        probes.retain(|p| (p.local, p.remote) != (local, remote));
        if probes.len() >= MAX_PROBES {
            return;
        }
        let mut data = [0u8; 8];
        self.rng.fill_bytes(&mut data);
        let deadline = now.checked_add(self.validation_timeout()).unwrap_or(now);
        self.trace_migration(now, Step::ProbingStarted, (local, remote));
        self.migration.probes.push(Probe {
            local,
            remote,
            data,
            cid,
            cid_seq,
            token,
            send_at: now,
            sent: 0,
            deadline,
            kind,
        });
        self.arm_path_timer();
    }

    /// Sets [`Timer::PathValidation`] to the earliest validation deadline.
    pub(crate) fn arm_path_timer(&mut self) {
        let active = self.challenge.map(|c| c.deadline);
        let probes = self
            .migration
            .probes
            .iter()
            .map(|p| p.deadline.min(p.send_at))
            .min();
        let at = match (active, probes) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.timers.set(Timer::PathValidation, at);
    }

    /// A PATH_RESPONSE arrived (RFC 9000 §8.2.3): "A PATH_RESPONSE frame received on any
    /// network path validates the path on which the PATH_CHALLENGE was sent."
    pub(crate) fn on_path_response(&mut self, now: Instant, data: [u8; 8]) {
        if let Some(c) = self.challenge.filter(|c| c.data == data) {
            self.challenge = None;
            if let Some(p) = self.paths.first_mut() {
                p.validated = true;
                p.recovery.set_amplification_limited(now, false);
                let tuple = (p.local, p.remote);
                self.migration.last_validated = Some(tuple);
                if !c.mtu_recheck {
                    self.events.push_back(Event::PathValidated {
                        local: tuple.0,
                        remote: tuple.1,
                    });
                    self.trace_migration(now, Step::MigrationComplete, tuple);
                }
            }
            if !c.full_size {
                // RFC 9000 §8.2.3: "the path is validated but not the path MTU ... the
                // endpoint MUST initiate another path validation with an expanded
                // datagram".
                self.start_challenge_for(now, true);
            }
        } else if let Some(i) = self.migration.probes.iter().position(|p| p.data == data) {
            let probe = self.migration.probes.remove(i);
            self.events.push_back(Event::PathValidated {
                local: probe.local,
                remote: probe.remote,
            });
            self.trace_migration(now, Step::ProbingSuccessful, (probe.local, probe.remote));
            let moves = matches!(
                probe.kind,
                ProbeKind::Local { migrate: true }
                    | ProbeKind::Preferred
                    | ProbeKind::ServerPreferred
            );
            if moves && !self.is_closed() {
                self.move_to_probed(now, &probe);
            } else if let Some(seq) = probe.cid_seq {
                // Not moving there now: the ID used on that path is retired (§9.5), so
                // the peer replaces it; a later move takes a fresh one.
                self.peer_cids.release(seq);
            }
        }
        self.arm_path_timer();
    }

    /// Client: moves to a path a probe validated, under the probe's connection ID (RFC
    /// 9000 §9.2, §9.6.1).
    fn move_to_probed(&mut self, now: Instant, probe: &Probe) {
        match probe.cid_seq {
            Some(seq) => {
                if !self.peer_cids.switch_to(seq, self.remote_cid) {
                    return;
                }
                self.remote_cid = probe.cid;
                self.peer_reset_token = probe.token;
            }
            // A server probing under the current ID (the client offered no spare).
            None if probe.kind == ProbeKind::ServerPreferred => {}
            None => return,
        }
        let validated = self.paths.first().is_some_and(|p| p.validated);
        let to = (probe.local, probe.remote);
        self.switch_path(now, to, validated, false);
        if let Some(p) = self.paths.first_mut() {
            p.validated = true;
        }
        self.challenge = None;
        self.migration.last_validated = Some(to);
        // Non-probing packets now leave on the new path (RFC 9000 §9.2).
        self.ping_pending = true;
        self.events.push_back(Event::Migrated {
            local: to.0,
            remote: to.1,
        });
        self.trace_migration(now, Step::MigrationComplete, to);
    }

    /// [`Timer::PathValidation`] passed: resend challenges that are due, abandon the
    /// validations that ran out of time (RFC 9000 §8.2.4).
    pub(crate) fn on_path_timeout(&mut self, now: Instant) {
        if let Some(c) = self.challenge.filter(|c| c.deadline <= now) {
            self.challenge = None;
            if c.mtu_recheck {
                // Only the path MTU was being checked: the address stays validated.
                if let Some(p) = self.paths.first() {
                    let (local, remote) = (p.local, p.remote);
                    self.events
                        .push_back(Event::PathValidationFailed { local, remote });
                }
            } else {
                self.on_active_validation_failed(now);
            }
        }
        // Probes whose `send_at` passed are due: `poll_transmit` sends them and sets the
        // next time, a PTO later (§8.2.1: not more often than an Initial would be sent).
        let mut failed = Vec::new();
        self.migration.probes.retain(|p| {
            if p.deadline <= now {
                failed.push((p.local, p.remote, p.cid_seq));
                return false;
            }
            true
        });
        for (local, remote, seq) in failed {
            if let Some(seq) = seq {
                // Used on a path that is given up: never again elsewhere (§9.5).
                self.peer_cids.release(seq);
            }
            self.events
                .push_back(Event::PathValidationFailed { local, remote });
            self.trace_migration(now, Step::ProbingAbandoned, (local, remote));
        }
        self.arm_path_timer();
    }

    /// RFC 9000 §9.3.2: "an endpoint MUST revert to using the last validated peer
    /// address when validation of a new peer address fails"; with none, "it MUST close
    /// the connection silently by discarding all connection state".
    fn on_active_validation_failed(&mut self, now: Instant) {
        let Some(path) = self.paths.first() else {
            return;
        };
        let failed = (path.local, path.remote);
        self.events.push_back(Event::PathValidationFailed {
            local: failed.0,
            remote: failed.1,
        });
        self.trace_migration(now, Step::MigrationAbandoned, failed);
        match self.migration.last_validated.filter(|&t| t != failed) {
            Some(to) => {
                if self.side == Side::Client {
                    // The ID used on the failed path is not taken back to the old one
                    // (RFC 9000 §9.5), when there is another.
                    if let Some((cid, token)) = self
                        .peer_cids
                        .rotate(self.remote_cid, self.peer_reset_token)
                    {
                        self.remote_cid = cid;
                        self.peer_reset_token = token;
                    }
                }
                self.switch_path(now, to, false, false);
                if let Some(p) = self.paths.first_mut() {
                    p.validated = true;
                    p.recovery.set_amplification_limited(now, false);
                }
                self.migration.probes.retain(|p| (p.local, p.remote) != to);
            }
            None => self.drain(None),
        }
    }

    /// Client: moves to a new local address at once (RFC 9000 §9.2), under a fresh
    /// connection ID of the server's (§9.5), retiring the old one; the new path starts
    /// from initial congestion state (§9.4) and is validated. See
    /// [`Connection::probe_local_address`] to validate first.
    pub fn migrate_local_address(
        &mut self,
        now: Instant,
        local: SocketAddr,
    ) -> Result<(), MigrationError> {
        self.check_may_migrate(local)?;
        let Some((cid, token)) = self
            .peer_cids
            .rotate(self.remote_cid, self.peer_reset_token)
        else {
            return Err(MigrationError::NoConnectionId);
        };
        self.remote_cid = cid;
        self.peer_reset_token = token;
        let Some(path) = self.paths.first() else {
            return Err(MigrationError::Closed);
        };
        let (remote, validated) = (path.remote, path.validated);
        if validated {
            self.migration.last_validated = Some((path.local, remote));
        }
        self.switch_path(now, (local, remote), validated, false);
        self.trace_migration(now, Step::MigrationStarted, (local, remote));
        // A packet must go out from the new address so the server notices, and the new
        // path is validated (RFC 9000 §9.2).
        self.ping_pending = true;
        self.start_challenge(now);
        Ok(())
    }

    /// Client: validates the path from `local` to the server (RFC 9000 §9.1) with padded
    /// PATH_CHALLENGE datagrams under an unused connection ID of the server's (§9.5),
    /// while traffic stays on the current path. [`Event::PathValidated`] or
    /// [`Event::PathValidationFailed`] (after three PTOs, §8.2.4) tells the outcome; with
    /// `migrate`, the connection moves to the new path on success
    /// ([`Event::Migrated`]) and stays where it is on failure.
    pub fn probe_local_address(
        &mut self,
        now: Instant,
        local: SocketAddr,
        migrate: bool,
    ) -> Result<(), MigrationError> {
        self.check_may_migrate(local)?;
        if self.migration.probes.len() >= MAX_PROBES {
            return Err(MigrationError::TooManyProbes);
        }
        let remote = self
            .paths
            .first()
            .map(|p| p.remote)
            .ok_or(MigrationError::Closed)?;
        let (seq, cid, token) = self
            .peer_cids
            .reserve(self.remote_cid)
            .ok_or(MigrationError::NoConnectionId)?;
        self.add_probe(
            now,
            (local, remote),
            (cid, Some(seq), token),
            ProbeKind::Local { migrate },
        );
        Ok(())
    }

    fn check_may_migrate(&self, local: SocketAddr) -> Result<(), MigrationError> {
        if self.side != Side::Client {
            return Err(MigrationError::NotClient);
        }
        if self.is_closed() {
            return Err(MigrationError::Closed);
        }
        if !self.handshake_confirmed {
            return Err(MigrationError::NotConfirmed);
        }
        // RFC 9000 §9: with disable_active_migration, "an endpoint also MUST NOT send
        // packets (including probing packets ...) from a different local address to the
        // address the peer used during the handshake, unless the endpoint has acted on a
        // preferred_address transport parameter from the peer".
        let Some(path) = self.paths.first() else {
            return Err(MigrationError::Closed);
        };
        let on_handshake_address = path.remote == path.remote_original;
        if on_handshake_address
            && self
                .peer_params
                .as_ref()
                .is_some_and(|p| p.disable_active_migration)
        {
            return Err(MigrationError::Disabled);
        }
        if local == path.local {
            return Err(MigrationError::SamePath);
        }
        Ok(())
    }

    /// Client, once the handshake is confirmed: validates the server's preferred address
    /// (RFC 9000 §9.6.1) of our address family and moves there on success.
    pub(crate) fn try_preferred_address(&mut self, now: Instant) {
        if self.side != Side::Client || self.migration.preferred_tried {
            return;
        }
        self.migration.preferred_tried = true;
        let Some(pa) = self.peer_params.as_ref().and_then(|p| p.preferred_address) else {
            return;
        };
        let Some(path) = self.paths.first() else {
            return;
        };
        let (local, current) = (path.local, path.remote);
        let target = match current {
            SocketAddr::V4(_) => pa.ipv4.map(SocketAddr::from),
            SocketAddr::V6(_) => pa.ipv6.map(SocketAddr::from),
        };
        // An unspecified address (or port 0) means none of that family.
        let Some(target) = target.filter(|a| !a.ip().is_unspecified() && a.port() != 0) else {
            return;
        };
        if target == current {
            return;
        }
        // RFC 9000 §5.1.1: the preferred address's connection ID has sequence number 1;
        // it was added with the transport parameters.
        let Some((seq, cid, token)) = self.peer_cids.reserve_seq(1, self.remote_cid) else {
            return;
        };
        self.add_probe(
            now,
            (local, target),
            (cid, Some(seq), token),
            ProbeKind::Preferred,
        );
    }

    /// Client: the server's transport parameters arrived; a preferred address brings the
    /// server's connection ID of sequence number 1 (RFC 9000 §5.1.1, §18.2).
    pub(crate) fn note_preferred_address(&mut self, tp: &quic_wire::TransportParameters) {
        if self.side != Side::Client {
            return;
        }
        if let Some(pa) = &tp.preferred_address {
            let current = (self.remote_cid, tp.stateless_reset_token);
            self.peer_cids
                .add_preferred(current, pa.connection_id, pa.stateless_reset_token);
        }
    }

    /// The peer's connection ID to answer on the 4-tuple `(local, remote)` with: one set
    /// aside for it (RFC 9000 §9.5: never one used towards another address), or the
    /// current one when the peer offered no spare.
    pub(crate) fn response_cid(&mut self, local: SocketAddr, remote: SocketAddr) -> ConnectionId {
        let m = &mut self.migration;
        if let Some(&(_, _, _, cid)) = m
            .response_cids
            .iter()
            .find(|&&(l, r, _, _)| (l, r) == (local, remote))
        {
            return cid;
        }
        let Some((seq, cid, _)) = self.peer_cids.reserve(self.remote_cid) else {
            return self.remote_cid;
        };
        if self.migration.response_cids.len() >= MAX_PROBES {
            let (_, _, old, _) = self.migration.response_cids.remove(0);
            self.peer_cids.release(old);
        }
        self.migration.response_cids.push((local, remote, seq, cid));
        cid
    }

    /// Whether the peer's current address is validated.
    pub fn is_path_validated(&self) -> bool {
        self.paths.first().is_some_and(|p| p.validated)
    }

    /// Testing hook: PATH_RESPONSE frames owed, on the active path and on others.
    #[doc(hidden)]
    pub fn pending_path_responses(&self) -> usize {
        self.path_responses.len() + self.migration.off_path_responses.len()
    }

    /// The local address packets leave from on the active path.
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.paths.first().map(|p| p.local)
    }
}
