//! Receiving: a datagram is split into its coalesced packets (RFC 9000 §12.2), each is
//! unprotected and decrypted in place (RFC 9001 §5), its frames dispatched, and its
//! packet number recorded for acknowledgement.

use bytes::{Buf, BytesMut};
use quic_wire::crypto::CryptoError;
use quic_wire::frame::FrameIter;
use quic_wire::packet::{
    open_in_place, parse_short_fields, OpenError, Packet, ParseConfig, ProtectedHeader,
};
use quic_wire::{ConnectionId, Instant, PacketType, Side, Space, Version};

use super::{Connection, ConnectionError, State};
use crate::io::DatagramMeta;

const RESET_TOKEN_LEN: usize = quic_wire::cid::ResetToken::LEN;

/// The last 16 bytes of a datagram that could be a stateless reset: a short header (RFC
/// 9000 §10.3: resets look like short-header packets) of at least 21 bytes.
pub(crate) fn reset_tail(data: &[u8]) -> Option<[u8; RESET_TOKEN_LEN]> {
    if data.len() < 21 || data.first().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    data.get(data.len() - RESET_TOKEN_LEN..)?.try_into().ok()
}

/// The parts of a protected packet's header the connection needs, copied out of the
/// datagram so it can be split and decrypted.
#[derive(Debug, Clone, Copy)]
struct Header {
    ty: PacketType,
    version: Option<Version>,
    dcid: ConnectionId,
    scid: Option<ConnectionId>,
    pn_offset: usize,
    spin: bool,
}

impl Connection {
    /// Processes one received datagram. The buffer is decrypted in place and slices of it
    /// are handed to the application as received stream data (no copy).
    pub fn handle_datagram(&mut self, now: Instant, meta: DatagramMeta, mut data: BytesMut) {
        match self.state {
            State::Drained | State::Draining => return,
            State::Closing => {
                // RFC 9000 §10.2.1: answer packets with the CONNECTION_CLOSE again (one per
                // datagram received, so never more than the peer sends).
                self.close_pending = true;
                return;
            }
            State::Handshaking | State::Established => {}
        }
        self.stats.datagrams_received += 1;
        self.stats.bytes_received += data.len() as u64;
        // RFC 9000 §9: a server follows a client to a new address once the handshake is
        // confirmed (migration before that is forbidden, §9); a client only talks to the
        // addresses it chose.
        let arrival = self.arrival(meta.local, meta.remote);
        if arrival == super::migration::Arrival::Drop {
            return;
        }
        let from_new_address = arrival == super::migration::Arrival::Other;
        self.note_off_path(from_new_address.then_some((meta.local, meta.remote, data.len())));
        let Some(path) = self.paths.first_mut() else {
            return;
        };
        let datagram_len = data.len();
        let largest_before = path.largest_received(Space::Data);
        if !from_new_address {
            path.bytes_received += datagram_len as u64;
            let was_limited = path.amplification_budget() == 0;
            if was_limited {
                path.recovery.set_amplification_limited(now, false);
            }
        }
        let mut non_probing: Option<u64> = None;
        let cfg = ParseConfig::new(self.local_cid.len())
            .accept_zero_fixed_bit(self.local_params.grease_quic_bit);
        let mut first_dcid: Option<ConnectionId> = None;
        // RFC 9000 §10.3.1: the last 16 bytes of a datagram no packet of which could be
        // processed may be a stateless reset token.
        let tail = reset_tail(&data);
        let processed_before = self.stats.packets_received;
        // Each round removes at least one byte from `data`.
        while !data.is_empty() && !self.is_closed() {
            // The usual datagram: one short-header packet, read in place (no `Packet` built
            // and moved around).
            let short = match parse_short_fields(&data, &cfg) {
                Some(Ok(f)) => ConnectionId::new(f.dcid).ok().map(|dcid| Header {
                    ty: PacketType::OneRtt,
                    version: None,
                    dcid,
                    scid: None,
                    pn_offset: f.pn_offset,
                    spin: f.spin,
                }),
                Some(Err(_)) => return,
                None => None,
            };
            let (len, header) = match short {
                Some(h) => (data.len(), Some(h)),
                None => match Packet::parse(&data, &cfg) {
                    Ok((Packet::Protected(p), _)) => {
                        let (version, scid, spin) = match p.header {
                            ProtectedHeader::Long(h) => (Some(h.version), Some(h.scid), false),
                            ProtectedHeader::Short { spin, .. } => (None, None, spin),
                        };
                        let h = Header {
                            ty: p.ty(),
                            version,
                            dcid: *p.dcid(),
                            scid,
                            pn_offset: p.pn_offset,
                            spin,
                        };
                        (p.len(), Some(h))
                    }
                    Ok((Packet::VersionNegotiation(vn), _)) => {
                        self.on_version_negotiation(vn.versions(), (vn.dcid, vn.scid));
                        return;
                    }
                    Ok((Packet::Retry(r), _)) => {
                        self.on_retry(now, &r);
                        return; // A Retry takes the rest of the datagram.
                    }
                    // Unknown versions: dropped.
                    Ok((other, _)) => (other.len(), None),
                    Err(_) => return,
                },
            };
            // The usual datagram is one packet: take it whole rather than split it (a split
            // makes the buffer shared).
            let packet = if len >= data.len() {
                core::mem::take(&mut data)
            } else {
                data.split_to(len.max(1))
            };
            let Some(header) = header else { continue };
            // RFC 9000 §12.2: packets after the first with another DCID are ignored.
            match first_dcid {
                None => first_dcid = Some(header.dcid),
                Some(d) if d != header.dcid => continue,
                Some(_) => {}
            }
            if let Some((Space::Data, pn, false)) =
                self.handle_packet(now, meta.ecn, packet, &header)
            {
                non_probing = Some(non_probing.map_or(pn, |p| p.max(pn)));
            }
        }
        // RFC 9000 §9.3: only a non-probing packet with the largest packet number so far
        // moves the connection to the new address.
        if from_new_address
            && self.side == Side::Server
            && !self.is_closed()
            && non_probing.is_some_and(|pn| largest_before.is_none_or(|l| pn > l))
        {
            self.migrate(now, (meta.local, meta.remote), datagram_len, first_dcid);
        }
        self.end_datagram(!from_new_address && non_probing.is_some(), first_dcid);
        if self.stats.packets_received == processed_before && !self.is_closed() {
            self.check_stateless_reset(tail);
        }
    }

    fn on_decrypt_failure(&mut self, now: Instant, space: Space) {
        self.stats.decrypt_failures += 1;
        let limit = self
            .space(space)
            .remote
            .as_ref()
            .map_or(u64::MAX, |k| k.packet.integrity_limit());
        if self.stats.decrypt_failures >= limit {
            // RFC 9001 §6.6: "If the total number of received packets that fail
            // authentication within the connection, across all keys, exceeds the integrity
            // limit for the selected AEAD, the endpoint MUST immediately close the
            // connection with a connection error of type AEAD_LIMIT_REACHED".
            self.close_with_error(
                now,
                quic_wire::TransportError::new(
                    quic_wire::TransportErrorCode::AEAD_LIMIT_REACHED,
                    "AEAD integrity limit reached",
                ),
            );
        }
    }

    /// For an endpoint that could not route `datagram` by connection ID: whether it is a
    /// stateless reset for this connection (RFC 9000 §10.3.1), which then ends.
    pub fn handle_stateless_reset(&mut self, datagram: &[u8]) -> bool {
        if self.is_closed() {
            return false;
        }
        self.check_stateless_reset(reset_tail(datagram))
    }

    fn check_stateless_reset(&mut self, tail: Option<[u8; RESET_TOKEN_LEN]>) -> bool {
        let (Some(tail), Some(token)) = (tail, self.peer_reset_token) else {
            return false;
        };
        // Compared without an early exit, so timing reveals nothing of the token.
        let diff = tail
            .iter()
            .zip(token.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            // RFC 9000 §10.3.1: the connection ends; nothing more is sent.
            self.drain(Some(ConnectionError::Reset));
        }
        diff == 0
    }

    fn handle_packet(
        &mut self,
        now: Instant,
        ecn: quic_wire::Ecn,
        mut packet: BytesMut,
        h: &Header,
    ) -> Option<(Space, u64, bool)> {
        let space = h.ty.space()?;
        if h.ty == PacketType::ZeroRtt
            && (self.side == Side::Client || self.zero_rtt.keys.is_none())
        {
            return None; // Early data not accepted (or over): drop (RFC 9001 §5.7).
        }
        // RFC 9369 §4: Handshake and 1-RTT packets of another version are dropped; a
        // server still opens the client's Initials of its first version, a client may
        // learn the server switched versions (`conn::version`).
        let mut switch = None;
        let mut chosen_keys = false;
        if let Some(v) = h.version.filter(|&v| v != self.version) {
            chosen_keys = self.side == Side::Server
                && h.ty == PacketType::Initial
                && v == self.vn.chosen
                && self.vn.chosen_initial_remote.is_some();
            if !chosen_keys {
                switch = Some(self.begin_switch(v, h.ty)?);
            }
        }
        if self.side == Side::Client && h.scid.is_some() {
            // RFC 9000 §7.2: "Once a client has received a valid Initial packet from the
            // server, it MUST discard any subsequent packet it receives on that connection
            // with a different Source Connection ID."
            if self.peer_scid.is_some_and(|s| Some(s) != h.scid) {
                return None;
            }
        } else if h.ty == PacketType::OneRtt && !self.local_cids.contains(&h.dcid) {
            return None; // Not addressed to one of our connection IDs.
        }
        self.packet_dcid = h.dcid;
        let path = self.paths.first()?;
        let path_id = path.id;
        let largest = path.largest_received(space).map(quic_wire::PacketNumber);
        let opened = if h.ty == PacketType::OneRtt {
            self.open_one_rtt(now, &mut packet, h.pn_offset, largest, path_id)
        } else if h.ty == PacketType::ZeroRtt {
            let k = self.zero_rtt.keys.as_ref()?;
            open_in_place(
                &mut packet,
                h.pn_offset,
                largest,
                path_id,
                k.header.as_ref(),
                |_| Some(k.packet.as_ref()),
            )
        } else {
            let sc = self.space(space);
            let keys = if chosen_keys {
                self.vn.chosen_initial_remote.as_ref()
            } else {
                sc.remote.as_ref()
            };
            let Some(remote) = keys else {
                return None; // No keys (yet, or any more): drop (RFC 9001 §5.7).
            };
            open_in_place(
                &mut packet,
                h.pn_offset,
                largest,
                path_id,
                remote.header.as_ref(),
                // Long headers have no key phase.
                |_| Some(remote.packet.as_ref()),
            )
        };
        if let Some(t) = switch {
            if !self.end_switch(t, opened.is_ok()) {
                return None;
            }
        }
        let opened = match opened {
            Ok(o) => o,
            Err(OpenError::Violation(e)) => {
                self.close_with_error(now, e);
                return None;
            }
            Err(OpenError::Crypto(CryptoError::DecryptFailed)) => {
                // RFC 9001 §5.5: discard what fails authentication; §6.6: count it against
                // the integrity limit of the AEAD.
                self.on_decrypt_failure(now, space);
                return None;
            }
            Err(_) => return None,
        };
        let pn = opened.pn.as_u64();
        if let (Side::Client, PacketType::Initial, None, Some(scid)) =
            (self.side, h.ty, self.peer_scid, h.scid)
        {
            // RFC 9000 §7.2: the client switches to the server's chosen connection ID, once
            // an Initial from the server proved genuine.
            self.remote_cid = scid;
            self.peer_scid = Some(scid);
        }
        let duplicate = self
            .paths
            .first_mut()
            .and_then(|p| p.recovery.ack_tracker(space))
            .is_none_or(|t| t.is_duplicate(pn));
        if duplicate {
            return None;
        }
        let range = opened.payload_range();
        #[cfg(feature = "qlog")]
        let packet_len = packet.len();
        // The payload is cut out of the packet in place: `Bytes::slice` would take another
        // reference to the shared receive buffer (an atomic increment, and a decrement when
        // the packet is dropped) for every packet. The range starts at the header's end and
        // lies within the opened packet; the check keeps a broken one from panicking.
        if range.end > packet.len() {
            return None;
        }
        packet.truncate(range.end);
        packet.advance(range.start);
        let payload = packet.freeze();
        #[cfg(feature = "qlog")]
        self.qlog_packet_received(now, h.ty, pn, &payload, packet_len);
        let mut frames = FrameIter::new(&payload, h.ty);
        for frame in frames.by_ref() {
            let result = frame.and_then(|f| {
                self.stats.frames_received.record(&f);
                self.handle_frame(now, space, &f, &payload)
            });
            if let Err(e) = result {
                self.close_with_error(now, e);
                return None;
            }
            if self.is_closed() {
                return None;
            }
        }
        self.on_packet_processed(now, ecn, space, pn, frames.ack_eliciting(), h);
        Some((space, pn, frames.probing_only()))
    }

    fn on_packet_processed(
        &mut self,
        now: Instant,
        ecn: quic_wire::Ecn,
        space: Space,
        pn: u64,
        ack_eliciting: bool,
        h: &Header,
    ) {
        self.stats.packets_received += 1;
        let side = self.side;
        let Some(path) = self.paths.first_mut() else {
            return;
        };
        let newest = path.largest_received(space).is_none_or(|l| pn > l);
        path.note_received(space, pn);
        path.recovery
            .on_packet_received(now, space, pn, ack_eliciting, ecn);
        if space == Space::Handshake && side == Side::Server {
            // RFC 9000 §8.1: a Handshake packet proves the client got our Initial, which
            // validates its address. RFC 9001 §4.9.1: a server discards Initial keys when
            // it first processes a Handshake packet.
            path.validated = true;
            path.recovery.set_amplification_limited(now, false);
            self.discard_space(now, Space::Initial);
        }
        if h.ty == PacketType::OneRtt && newest {
            // RFC 9000 §17.4: the server echoes the spin bit, the client inverts it.
            self.spin = match side {
                Side::Server => h.spin,
                Side::Client => !h.spin,
            };
        }
        self.sent_eliciting_since_recv = false;
        self.arm_idle(now);
    }
}
