//! The control frames of 1-RTT packets that are not stream-layer frames: HANDSHAKE_DONE,
//! PATH_RESPONSE, RETIRE_CONNECTION_ID, NEW_CONNECTION_ID, PATH_CHALLENGE and PING, each
//! recorded for retransmission where the RFC wants it repaired.

use alloc::collections::VecDeque;

use quic_wire::packet::PacketBuilder;
use quic_wire::{Frame, VarInt};

use super::local_cids::LocalCids;
use super::migration::Challenge;
use super::records::{Record, Records};

/// The connection state the control frames come from, borrowed for one packet.
pub(crate) struct Control<'a> {
    pub(crate) handshake_done: &'a mut bool,
    pub(crate) path_responses: &'a mut VecDeque<[u8; 8]>,
    pub(crate) retire_queue: &'a mut VecDeque<u64>,
    pub(crate) local_cids: &'a mut LocalCids,
    pub(crate) challenge: &'a mut Option<Challenge>,
    pub(crate) ping: &'a mut bool,
}

impl Control<'_> {
    /// Writes what is owed and fits; returns whether anything ack-eliciting was written.
    pub(crate) fn write(&mut self, b: &mut PacketBuilder<'_>, rec: &mut Records) -> bool {
        let mut eliciting = false;
        if *self.handshake_done && b.push(&Frame::HandshakeDone).is_ok() {
            *self.handshake_done = false;
            rec.push(Record::HandshakeDone);
            eliciting = true;
        }
        // PATH_RESPONSE is not retransmitted (RFC 9000 §8.2.2): a new challenge comes.
        while let Some(&d) = self.path_responses.front() {
            if b.push(&Frame::PathResponse(d)).is_err() {
                break;
            }
            self.path_responses.pop_front();
            eliciting = true;
        }
        while let Some(&seq) = self.retire_queue.front() {
            let f = Frame::RetireConnectionId {
                sequence: VarInt::from_u64_clamped(seq),
            };
            if b.push(&f).is_err() {
                break;
            }
            self.retire_queue.pop_front();
            rec.push(Record::RetireCid(seq));
            eliciting = true;
        }
        eliciting |= self.write_new_cids(b, rec);
        if let Some(c) = self.challenge.as_mut().filter(|c| c.pending) {
            if b.push(&Frame::PathChallenge(c.data)).is_ok() {
                c.pending = false;
                rec.push(Record::PathChallenge(c.data));
                eliciting = true;
            }
        }
        if *self.ping && b.push(&Frame::Ping).is_ok() {
            *self.ping = false;
            eliciting = true;
        }
        eliciting
    }

    fn write_new_cids(&mut self, b: &mut PacketBuilder<'_>, rec: &mut Records) -> bool {
        let mut eliciting = false;
        // Bounded by the queue, which holds at most the IDs issued.
        while let Some(&seq) = self.local_cids.to_send.front() {
            if let Some(n) = self.local_cids.frame(seq) {
                if b.push(&Frame::NewConnectionId(n)).is_err() {
                    break;
                }
                rec.push(Record::NewCid(seq));
                eliciting = true;
            }
            self.local_cids.to_send.pop_front();
        }
        eliciting
    }
}
