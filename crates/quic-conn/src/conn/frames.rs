//! Dispatching the frames of a decrypted packet. The frame iterator already refused
//! frames the packet type may not carry (RFC 9000 §12.4); here are the rules that need
//! connection state.

use bytes::Bytes;
use quic_wire::{Frame, Instant, Side, Space, TransportError};

use super::{Connection, Event};

/// PATH_RESPONSEs owed at most; more challenges than this between two transmits are
/// answered only in part (RFC 9000 §8.2.2 lets an endpoint limit its responses).
const MAX_PATH_RESPONSES: usize = 4;

fn violation(frame: &Frame<'_>, reason: &'static str) -> TransportError {
    TransportError::protocol_violation(reason).with_frame(frame.ty())
}

impl Connection {
    pub(crate) fn handle_frame(
        &mut self,
        now: Instant,
        space: Space,
        frame: &Frame<'_>,
        payload: &Bytes,
    ) -> Result<(), TransportError> {
        match *frame {
            Frame::Padding { .. } | Frame::Ping => Ok(()),
            Frame::Ack(ref ack) => self.on_ack(now, space, ack),
            Frame::Crypto { offset, data } => self.on_crypto(now, space, offset, data),
            Frame::NewToken { token } => {
                // RFC 9000 §19.7: "A server MUST treat receipt of a NEW_TOKEN frame as a
                // connection error of type PROTOCOL_VIOLATION."
                if self.side == Side::Server {
                    return Err(violation(frame, "NEW_TOKEN sent by a client"));
                }
                // For the application to keep for a later connection to this server
                // (RFC 9000 §8.1.3); bounded by the packet it came in.
                let token = Bytes::copy_from_slice(token);
                self.received_token = Some(token.clone());
                self.events.push_back(Event::NewToken(token));
                Ok(())
            }
            Frame::Stream(_)
            | Frame::ResetStream { .. }
            | Frame::StopSending { .. }
            | Frame::MaxData(_)
            | Frame::MaxStreamData { .. }
            | Frame::MaxStreams { .. }
            | Frame::DataBlocked(_)
            | Frame::StreamDataBlocked { .. }
            | Frame::StreamsBlocked { .. } => {
                self.streams.handle_frame_shared(frame, payload, now)?;
                Ok(())
            }
            Frame::NewConnectionId(n) => {
                // RFC 9000 §19.15: a peer using zero-length connection IDs must not send
                // NEW_CONNECTION_ID.
                if self.remote_cid.is_empty() {
                    return Err(violation(frame, "NEW_CONNECTION_ID with zero-length CIDs"));
                }
                if n.retire_prior_to.into_inner() > n.sequence.into_inner() {
                    return Err(
                        TransportError::frame_encoding("retire_prior_to above sequence")
                            .with_frame(frame.ty()),
                    );
                }
                let limit = self.local_params.active_connection_id_limit.into_inner();
                let current = (self.remote_cid, self.peer_reset_token);
                if let Some((cid, token)) = self.peer_cids.on_new(&n, current, limit)? {
                    self.remote_cid = cid;
                    self.peer_reset_token = token;
                }
                Ok(())
            }
            Frame::RetireConnectionId { sequence } => {
                let dcid = self.packet_dcid;
                self.on_retire_cid(sequence.into_inner(), &dcid)
            }
            Frame::PathChallenge(data) => {
                self.on_path_challenge(data, MAX_PATH_RESPONSES);
                Ok(())
            }
            Frame::PathResponse(data) => {
                self.on_path_response(now, data);
                Ok(())
            }
            Frame::ConnectionClose(ref c) => {
                self.on_peer_close(now, c);
                Ok(())
            }
            Frame::HandshakeDone => {
                // RFC 9000 §19.20: "A server MUST treat receipt of a HANDSHAKE_DONE frame
                // as a connection error of type PROTOCOL_VIOLATION."
                if self.side == Side::Server {
                    return Err(violation(frame, "HANDSHAKE_DONE sent by a client"));
                }
                self.confirm(now);
                Ok(())
            }
            Frame::Datagram { data, .. } => self.on_datagram(frame, data, payload),
            Frame::AckFrequency {
                sequence,
                ack_eliciting_threshold,
                requested_max_ack_delay_us,
                reordering_threshold,
            } => {
                // ack-frequency §3: allowed only once we advertised min_ack_delay (the
                // tracker knows; without it this is a PROTOCOL_VIOLATION), §4 for the rest.
                let tracker = self
                    .paths
                    .first_mut()
                    .and_then(|p| p.recovery.ack_tracker(Space::Data));
                match tracker {
                    Some(t) => t
                        .on_ack_frequency(
                            sequence.into_inner(),
                            ack_eliciting_threshold.into_inner(),
                            requested_max_ack_delay_us.into_inner(),
                            reordering_threshold.into_inner(),
                            now,
                        )
                        .map_err(|e| e.with_frame(frame.ty())),
                    None => Ok(()),
                }
            }
            Frame::ImmediateAck => {
                if self.config.recovery.ack.min_ack_delay.is_none() {
                    return Err(violation(frame, "IMMEDIATE_ACK without min_ack_delay"));
                }
                // ack-frequency §5: "SHOULD send a packet containing an ACK frame
                // immediately".
                if let Some(t) = self
                    .paths
                    .first_mut()
                    .and_then(|p| p.recovery.ack_tracker(Space::Data))
                {
                    t.on_immediate_ack(now);
                }
                Ok(())
            }
            // Not negotiated: we do not advertise initial_max_path_id, so the multipath
            // frames are forbidden (RFC 10069 §2.1).
            Frame::PathAck { .. }
            | Frame::PathAbandon { .. }
            | Frame::PathStatusBackup { .. }
            | Frame::PathStatusAvailable { .. }
            | Frame::PathNewConnectionId { .. }
            | Frame::PathRetireConnectionId { .. }
            | Frame::MaxPathId(_)
            | Frame::PathsBlocked(_)
            | Frame::PathCidsBlocked { .. } => Err(violation(frame, "extension not negotiated")),
        }
    }

    fn on_datagram(
        &mut self,
        frame: &Frame<'_>,
        data: &[u8],
        payload: &Bytes,
    ) -> Result<(), TransportError> {
        // RFC 9221 §3: receiving DATAGRAM without having advertised support, or one larger
        // than advertised, is a PROTOCOL_VIOLATION.
        let Some(max) = self.config.max_datagram_frame_size else {
            return Err(violation(frame, "DATAGRAM not negotiated"));
        };
        if frame.encoded_len() > usize::from(max) {
            return Err(violation(
                frame,
                "DATAGRAM larger than max_datagram_frame_size",
            ));
        }
        if self.datagrams_in.len() >= self.config.datagram_recv_queue.max(1) {
            self.datagrams_in.pop_front();
        }
        // One event per batch: the application reads until the queue is empty.
        if self.datagrams_in.is_empty() {
            self.events.push_back(Event::DatagramReceived);
        }
        self.datagrams_in.push_back(slice_of(payload, data));
        Ok(())
    }
}

/// `part` as a zero-copy slice of `whole` when it lies inside it, a copy otherwise.
fn slice_of(whole: &Bytes, part: &[u8]) -> Bytes {
    let base = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    match at.checked_sub(base) {
        Some(off) if off + part.len() <= whole.len() => whole.slice(off..off + part.len()),
        _ => Bytes::copy_from_slice(part),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn datagram_slices_share_the_payload() {
        let whole = bytes::Bytes::from_static(b"0123456789");
        let part = &whole[3..6];
        let s = super::slice_of(&whole, part);
        assert_eq!(&s[..], b"345");
        assert_eq!(s.as_ptr(), part.as_ptr());
    }
}
