//! Connection IDs we issue (RFC 9000 §5.1.1, §19.15, §19.16): once the handshake is
//! confirmed we offer the peer spare IDs with NEW_CONNECTION_ID, up to its
//! active_connection_id_limit (and [`MAX_ISSUED`]), and replace each one it retires. The
//! endpoint learns every ID to route through [`CidEvent`]s.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use quic_wire::cid::ResetToken;
use quic_wire::frame::NewConnectionId;
use quic_wire::{ConnectionId, FrameType, TransportError, VarInt};

use super::Connection;

/// Connection IDs active at once at most, whatever the peer allows.
pub const MAX_ISSUED: u64 = 4;

/// Derives stateless reset tokens (RFC 9000 §10.3.2): a keyed function of the connection
/// ID, so an endpoint that lost a connection can still compute its token.
pub trait ResetTokens: Send + Sync {
    /// The token for `cid`.
    fn token(&self, cid: &ConnectionId) -> ResetToken;
}

/// A change to the set of connection IDs that route to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CidEvent {
    /// Packets with this Destination Connection ID are for this connection.
    Issued(ConnectionId),
    /// This connection ID was retired: stop routing it.
    Retired(ConnectionId),
}

/// The connection IDs we issued and their state.
#[derive(Default)]
pub(crate) struct LocalCids {
    /// Active IDs: (sequence, ID, token).
    active: Vec<(u64, ConnectionId, ResetToken)>,
    next_seq: u64,
    /// NEW_CONNECTION_ID frames owed, by sequence number.
    pub(crate) to_send: VecDeque<u64>,
    events: VecDeque<CidEvent>,
    pub(crate) tokens: Option<Arc<dyn ResetTokens>>,
    /// Makes the IDs we issue (random ones of our length when unset).
    pub(crate) generator: Option<Arc<dyn crate::cid::ConnectionIdGenerator>>,
}

impl core::fmt::Debug for LocalCids {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalCids")
            .field("active", &self.active.len())
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl LocalCids {
    /// Starts with the handshake ID as sequence 0.
    pub(crate) fn new(first: ConnectionId, token: ResetToken) -> Self {
        LocalCids {
            active: alloc::vec![(0, first, token)],
            next_seq: 1,
            ..LocalCids::default()
        }
    }

    /// Server: the connection ID of our preferred address, sequence number 1 (RFC 9000
    /// §5.1.1), routed from the start.
    pub(crate) fn add_preferred(&mut self, cid: ConnectionId, token: ResetToken) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.active.push((seq, cid, token));
        self.events.push_back(CidEvent::Issued(cid));
    }

    /// Whether `cid` is one of ours.
    pub(crate) fn contains(&self, cid: &ConnectionId) -> bool {
        self.active.iter().any(|(_, c, _)| c == cid)
    }

    /// The NEW_CONNECTION_ID frame for sequence `seq`, if still active.
    pub(crate) fn frame(&self, seq: u64) -> Option<NewConnectionId> {
        let &(s, cid, reset_token) = self.active.iter().find(|(s, _, _)| *s == seq)?;
        Some(NewConnectionId {
            sequence: VarInt::from_u64_clamped(s),
            retire_prior_to: VarInt::from_u32(0),
            cid,
            reset_token,
        })
    }
}

impl Connection {
    /// Offers spare connection IDs up to the limits (after handshake confirmation).
    pub(crate) fn issue_cids(&mut self) {
        let peer_limit = self
            .peer_params
            .as_ref()
            .map_or(2, |p| p.active_connection_id_limit.into_inner());
        let target = peer_limit.min(MAX_ISSUED);
        // Bounded by `target`.
        while (self.local_cids.active.len() as u64) < target {
            let cid = match &self.local_cids.generator {
                Some(g) => g.generate(self.rng.as_mut()),
                None => super::random_cid(self.rng.as_mut(), self.local_cid.len()),
            };
            if cid.is_empty() || self.local_cids.contains(&cid) {
                // A generator that cannot make a fresh ID: offer fewer.
                break;
            }
            let token = match &self.local_cids.tokens {
                Some(t) => t.token(&cid),
                None => {
                    let mut t = [0u8; ResetToken::LEN];
                    self.rng.fill_bytes(&mut t);
                    ResetToken(t)
                }
            };
            let l = &mut self.local_cids;
            let seq = l.next_seq;
            l.next_seq += 1;
            l.active.push((seq, cid, token));
            l.to_send.push_back(seq);
            l.events.push_back(CidEvent::Issued(cid));
        }
    }

    /// RETIRE_CONNECTION_ID from the peer (RFC 9000 §19.16), in a packet sent to `dcid`.
    pub(crate) fn on_retire_cid(
        &mut self,
        seq: u64,
        dcid: &ConnectionId,
    ) -> Result<(), TransportError> {
        let violation = |reason| {
            TransportError::protocol_violation(reason).with_frame(FrameType::RETIRE_CONNECTION_ID)
        };
        // "Receipt of a RETIRE_CONNECTION_ID frame containing a sequence number greater than
        // any previously sent to the peer MUST be treated as a connection error of type
        // PROTOCOL_VIOLATION."
        if seq >= self.local_cids.next_seq {
            return Err(violation("retiring a connection ID never issued"));
        }
        let l = &mut self.local_cids;
        let Some(i) = l.active.iter().position(|(s, _, _)| *s == seq) else {
            return Ok(()); // Already retired.
        };
        // "The sequence number specified in a RETIRE_CONNECTION_ID frame MUST NOT refer to
        // the Destination Connection ID field of the packet in which the frame is
        // contained."
        if l.active.get(i).is_some_and(|(_, c, _)| c == dcid) {
            return Err(violation(
                "retiring the connection ID the packet was sent to",
            ));
        }
        let (_, cid, _) = l.active.remove(i);
        l.to_send.retain(|&s| s != seq);
        l.events.push_back(CidEvent::Retired(cid));
        if cid == self.local_cid {
            if let Some(&(_, next, _)) = self.local_cids.active.first() {
                self.local_cid = next;
            }
        }
        if self.handshake_confirmed {
            self.issue_cids();
        }
        Ok(())
    }

    /// Connection IDs issued or retired since the last call, for the endpoint's routing.
    pub fn poll_cid_event(&mut self) -> Option<CidEvent> {
        self.local_cids.events.pop_front()
    }

    /// Make the connection IDs this connection issues with NEW_CONNECTION_ID with
    /// `generator` (otherwise they are random, of the handshake ID's length).
    pub fn set_cid_generator(&mut self, generator: Arc<dyn crate::cid::ConnectionIdGenerator>) {
        self.local_cids.generator = Some(generator);
    }

    /// Derive the stateless reset tokens of the connection IDs this connection issues from
    /// `tokens` (otherwise they are random).
    pub fn set_reset_tokens(&mut self, tokens: Arc<dyn ResetTokens>) {
        self.local_cids.tokens = Some(tokens);
    }
}
