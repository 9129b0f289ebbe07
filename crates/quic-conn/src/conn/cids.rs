//! Connection IDs the peer issues (RFC 9000 §5.1, §19.15, §19.16): kept within our
//! active_connection_id_limit, retired when the peer asks, and switched away from when
//! the one in use is retired.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use quic_wire::cid::ResetToken;
use quic_wire::frame::NewConnectionId;
use quic_wire::{ConnectionId, FrameType, TransportError, TransportErrorCode};

/// The peer's connection IDs.
#[derive(Debug, Default)]
pub(crate) struct PeerCids {
    /// Active IDs by sequence number with their reset tokens; sequence 0 is the
    /// handshake one.
    active: Vec<(u64, ConnectionId, Option<ResetToken>)>,
    /// IDs below this sequence number are retired.
    retire_prior_to: u64,
    /// RETIRE_CONNECTION_ID frames owed.
    pub(crate) retire_queue: VecDeque<u64>,
    /// IDs set aside for a path being probed (RFC 9000 §9.5: one ID per path).
    reserved: Vec<u64>,
}

/// RETIRE_CONNECTION_ID frames owed at most before we stop switching IDs on our own.
const MAX_RETIRE_OWED: usize = 16;

fn limit_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::CONNECTION_ID_LIMIT_ERROR, reason)
        .with_frame(FrameType::NEW_CONNECTION_ID)
}

impl PeerCids {
    /// Handles NEW_CONNECTION_ID. `current` is the ID we send to now (sequence 0 until a
    /// switch) with its token; returns the ID (and token) to switch to when the current
    /// one was retired.
    pub(crate) fn on_new(
        &mut self,
        n: &NewConnectionId,
        (current, token): (ConnectionId, Option<ResetToken>),
        limit: u64,
    ) -> Result<Option<(ConnectionId, Option<ResetToken>)>, TransportError> {
        if self.active.is_empty() && self.retire_prior_to == 0 {
            self.active.push((0, current, token));
        }
        let seq = n.sequence.into_inner();
        let rpt = n.retire_prior_to.into_inner();
        // RFC 9000 §19.15: the same sequence number with another ID, or the same ID under
        // another sequence number, is a PROTOCOL_VIOLATION.
        for &(s, c, _) in &self.active {
            if (s == seq) != (c == n.cid) {
                return Err(TransportError::protocol_violation(
                    "connection ID reused with a different sequence number",
                )
                .with_frame(FrameType::NEW_CONNECTION_ID));
            }
        }
        if seq < self.retire_prior_to {
            // Already retired by an earlier frame: retire it at once (§19.15).
            self.queue_retire(seq, limit)?;
        } else if !self.active.iter().any(|&(s, _, _)| s == seq) {
            self.active.push((seq, n.cid, Some(n.reset_token)));
        }
        let mut switch = None;
        if rpt > self.retire_prior_to {
            self.retire_prior_to = rpt;
            let retired: Vec<u64> = self
                .active
                .iter()
                .filter(|&&(s, _, _)| s < rpt)
                .map(|&(s, _, _)| s)
                .collect();
            self.active.retain(|&(s, _, _)| s >= rpt);
            for s in retired {
                self.queue_retire(s, limit)?;
            }
            if !self.active.iter().any(|&(_, c, _)| c == current) {
                switch = self
                    .active
                    .iter()
                    .min_by_key(|&&(s, _, _)| s)
                    .map(|&(_, c, t)| (c, t));
            }
        }
        // §5.1.1: more active IDs than our limit is a CONNECTION_ID_LIMIT_ERROR.
        if self.active.len() as u64 > limit {
            return Err(limit_error(
                "more connection IDs than active_connection_id_limit",
            ));
        }
        Ok(switch)
    }

    /// Switches to an unused connection ID of the peer (RFC 9000 §9.5: a migrating
    /// endpoint uses a new one), retiring `current`. `None` when the peer offered no spare.
    pub(crate) fn rotate(
        &mut self,
        current: ConnectionId,
        token: Option<ResetToken>,
    ) -> Option<(ConnectionId, Option<ResetToken>)> {
        if self.active.is_empty() && self.retire_prior_to == 0 {
            self.active.push((0, current, token));
        }
        // Bounded: with this many RETIRE_CONNECTION_ID frames still unsent (a path that
        // cannot send), a peer moving again and again does not make us switch again.
        if self.retire_queue.len() >= MAX_RETIRE_OWED {
            return None;
        }
        let reserved = &self.reserved;
        let &(_, next, next_token) = self
            .active
            .iter()
            .filter(|&&(s, c, _)| c != current && !reserved.contains(&s))
            .min_by_key(|&&(s, _, _)| s)?;
        if let Some(i) = self.active.iter().position(|&(_, c, _)| c == current) {
            let (seq, _, _) = self.active.remove(i);
            if !self.retire_queue.contains(&seq) {
                self.retire_queue.push_back(seq);
            }
        }
        Some((next, next_token))
    }

    /// Client: the connection ID of the server's preferred address, sequence number 1
    /// (RFC 9000 §5.1.1), next to `current` (sequence 0) with its token.
    pub(crate) fn add_preferred(
        &mut self,
        (current, token): (ConnectionId, Option<ResetToken>),
        cid: ConnectionId,
        reset: ResetToken,
    ) {
        if self.active.is_empty() && self.retire_prior_to == 0 {
            self.active.push((0, current, token));
        }
        if !self.active.iter().any(|&(s, _, _)| s == 1) {
            self.active.push((1, cid, Some(reset)));
        }
    }

    /// Sets an unused ID aside for a new path: the lowest sequence number that is neither
    /// `current` nor reserved.
    pub(crate) fn reserve(
        &mut self,
        current: ConnectionId,
    ) -> Option<(u64, ConnectionId, Option<ResetToken>)> {
        if self.retire_queue.len() >= MAX_RETIRE_OWED {
            return None; // See `rotate`.
        }
        let reserved = &self.reserved;
        let &(seq, cid, token) = self
            .active
            .iter()
            .filter(|&&(s, c, _)| c != current && !reserved.contains(&s))
            .min_by_key(|&&(s, _, _)| s)?;
        self.reserved.push(seq);
        Some((seq, cid, token))
    }

    /// Sets the ID of sequence `seq` aside for a new path, if unused.
    pub(crate) fn reserve_seq(
        &mut self,
        seq: u64,
        current: ConnectionId,
    ) -> Option<(u64, ConnectionId, Option<ResetToken>)> {
        if self.reserved.contains(&seq) {
            return None;
        }
        let &(s, cid, token) = self
            .active
            .iter()
            .find(|&&(s, c, _)| s == seq && c != current)?;
        self.reserved.push(s);
        Some((s, cid, token))
    }

    /// A reserved ID's path was given up: retire it (it must not serve another path).
    pub(crate) fn release(&mut self, seq: u64) {
        self.reserved.retain(|&s| s != seq);
        if let Some(i) = self.active.iter().position(|&(s, _, _)| s == seq) {
            self.active.remove(i);
            if !self.retire_queue.contains(&seq) {
                self.retire_queue.push_back(seq);
            }
        }
    }

    /// Moves to the reserved ID `seq`, retiring `current`. `false` when `seq` is no
    /// longer active (the peer retired it meanwhile).
    pub(crate) fn switch_to(&mut self, seq: u64, current: ConnectionId) -> bool {
        self.reserved.retain(|&s| s != seq);
        if !self.active.iter().any(|&(s, _, _)| s == seq) {
            return false;
        }
        if let Some(i) = self.active.iter().position(|&(_, c, _)| c == current) {
            let (old, _, _) = self.active.remove(i);
            if !self.retire_queue.contains(&old) {
                self.retire_queue.push_back(old);
            }
        }
        true
    }

    /// The reset token of the active ID of sequence `seq`.
    pub(crate) fn token_of(&self, seq: u64) -> Option<ResetToken> {
        self.active
            .iter()
            .find(|&&(s, _, _)| s == seq)
            .and_then(|&(_, _, t)| t)
    }

    fn queue_retire(&mut self, seq: u64, limit: u64) -> Result<(), TransportError> {
        // Bounded: a peer retiring faster than we can send is cut off.
        if self.retire_queue.len() as u64 >= limit.saturating_mul(4).max(8) {
            return Err(limit_error("too many connection IDs to retire"));
        }
        if !self.retire_queue.contains(&seq) {
            self.retire_queue.push_back(seq);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quic_wire::VarInt;

    fn ncid(seq: u32, rpt: u32, byte: u8) -> NewConnectionId {
        NewConnectionId {
            sequence: VarInt::from_u32(seq),
            retire_prior_to: VarInt::from_u32(rpt),
            cid: ConnectionId::new(&[byte; 8]).unwrap(),
            reset_token: ResetToken([byte; 16]),
        }
    }

    #[test]
    fn exceeding_the_limit_is_a_connection_id_limit_error() {
        let mut p = PeerCids::default();
        let cur = ConnectionId::new(&[0; 8]).unwrap();
        assert_eq!(p.on_new(&ncid(1, 0, 1), (cur, None), 2), Ok(None));
        let e = p.on_new(&ncid(2, 0, 2), (cur, None), 2).unwrap_err();
        assert_eq!(e.code, TransportErrorCode::CONNECTION_ID_LIMIT_ERROR);
    }

    #[test]
    fn retiring_the_current_id_switches_and_owes_a_retire_frame() {
        let mut p = PeerCids::default();
        let cur = ConnectionId::new(&[0; 8]).unwrap();
        let next = p.on_new(&ncid(1, 1, 1), (cur, None), 2).unwrap();
        assert_eq!(
            next,
            Some((
                ConnectionId::new(&[1; 8]).unwrap(),
                Some(ResetToken([1; 16]))
            ))
        );
        assert_eq!(p.retire_queue, [0]);
    }

    #[test]
    fn reserved_ids_serve_one_path_and_are_retired_when_given_up() {
        let mut p = PeerCids::default();
        let cur = ConnectionId::new(&[0; 8]).unwrap();
        p.on_new(&ncid(1, 0, 1), (cur, None), 4).unwrap();
        p.on_new(&ncid(2, 0, 2), (cur, None), 4).unwrap();
        let (seq, cid, _) = p.reserve(cur).expect("a spare");
        assert_eq!((seq, cid), (1, ConnectionId::new(&[1; 8]).unwrap()));
        // A reserved ID is not handed out again, neither by `reserve` nor by `rotate`.
        assert_eq!(p.reserve(cur).map(|r| r.0), Some(2));
        assert_eq!(p.reserve(cur), None);
        assert_eq!(p.rotate(cur, None), None);
        // Given up: retired. Moved to: the old current one is retired.
        p.release(2);
        assert!(p.switch_to(1, cur));
        assert_eq!(p.retire_queue, [2, 0]);
        assert!(!p.switch_to(2, ConnectionId::new(&[1; 8]).unwrap()));
    }

    #[test]
    fn switching_stops_while_many_retirements_are_owed() {
        let mut p = PeerCids::default();
        let mut cur = ConnectionId::new(&[0; 8]).unwrap();
        let mut switches = 0;
        // The peer keeps offering IDs and we keep moving, but nothing is ever sent.
        for i in 1..100u32 {
            p.on_new(&ncid(i, 0, i as u8), (cur, None), 100).unwrap();
            if let Some((next, _)) = p.rotate(cur, None) {
                cur = next;
                switches += 1;
            }
        }
        assert_eq!(switches, MAX_RETIRE_OWED);
        assert_eq!(p.retire_queue.len(), MAX_RETIRE_OWED);
        assert_eq!(p.reserve(cur), None);
    }

    #[test]
    fn one_id_under_two_sequence_numbers_is_a_protocol_violation() {
        let mut p = PeerCids::default();
        let cur = ConnectionId::new(&[0; 8]).unwrap();
        p.on_new(&ncid(1, 0, 1), (cur, None), 4).unwrap();
        let e = p.on_new(&ncid(2, 0, 1), (cur, None), 4).unwrap_err();
        assert_eq!(e.code, TransportErrorCode::PROTOCOL_VIOLATION);
    }
}
