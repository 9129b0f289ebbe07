//! Driving TLS (RFC 9001 §4): CRYPTO data in and out per level, keys as they come,
//! transport parameters (RFC 9000 §7.3, §7.4, §18), completion, confirmation and key
//! discard (RFC 9001 §4.9).

use alloc::boxed::Box;
use alloc::vec::Vec;

use quic_streams::{PeerLimits, Streams};
use quic_wire::codec::Writer;
use quic_wire::packet::{Packet, ParseConfig};
use quic_wire::{
    ConnectionId, FrameType, Instant, PacketType, Side, Space, TransportError, TransportErrorCode,
    TransportParameters, VarInt, Version,
};

use super::{Config, Connection, Event, State};
use crate::tls::{KeyChange, Level};

/// What a server needs from a client's first Initial.
pub(crate) struct ClientInitial {
    pub(crate) version: Version,
    pub(crate) dcid: ConnectionId,
    pub(crate) scid: ConnectionId,
}

/// Reads the first packet of a datagram as a client Initial a server may accept. `grease`:
/// the server advertises grease_quic_bit, so the fixed bit may be 0 (RFC 9287 §3).
pub(crate) fn parse_client_initial(datagram: &[u8], grease: bool) -> Option<ClientInitial> {
    // RFC 9000 §14.1: "A server MUST discard an Initial packet that is carried in a UDP
    // datagram with a payload that is smaller than the smallest allowed maximum datagram
    // size of 1200 bytes."
    if datagram.len() < 1200 {
        return None;
    }
    let cfg = ParseConfig::new(0).accept_zero_fixed_bit(grease);
    let (packet, _) = Packet::parse(datagram, &cfg).ok()?;
    let Packet::Protected(p) = packet else {
        return None;
    };
    let quic_wire::packet::ProtectedHeader::Long(h) = p.header else {
        return None;
    };
    // RFC 9000 §7.2: the client's first Destination Connection ID is at least 8 bytes.
    if h.ty != PacketType::Initial || !h.version.is_supported() || h.dcid.len() < 8 {
        return None;
    }
    Some(ClientInitial {
        version: h.version,
        dcid: h.dcid,
        scid: h.scid,
    })
}

/// Our transport parameters (RFC 9000 §18.2).
pub(crate) fn local_params(
    config: &Config,
    streams: &Streams,
    side: Side,
    local_cid: ConnectionId,
    orig_dcid: ConnectionId,
) -> TransportParameters {
    let mut tp = TransportParameters::default();
    streams.fill_transport_params(&mut tp);
    tp.max_idle_timeout_ms = VarInt::from_u64_clamped(
        config
            .idle_timeout
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    );
    tp.max_udp_payload_size = VarInt::from_u32(u32::from(config.max_udp_payload.max(1200)));
    tp.initial_source_connection_id = Some(local_cid);
    if side == Side::Server {
        tp.original_destination_connection_id = Some(orig_dcid);
    } else {
        // RFC 9368 §3, RFC 9369 §4: a client speaking v2 sends version_information; the
        // server's is set once it chose the version (`conn::version`).
        tp.version_information = super::version::client_version_information(config);
    }
    tp.max_datagram_frame_size = config
        .max_datagram_frame_size
        .map(|n| VarInt::from_u32(u32::from(n)));
    tp.grease_quic_bit = config.grease_quic_bit;
    tp.disable_active_migration = side == Side::Server && config.disable_active_migration;
    tp.active_connection_id_limit = VarInt::from_u32(u32::from(config.active_cid_limit.max(2)));
    tp.ack_delay_exponent = config.recovery.ack.ack_delay_exponent;
    tp.max_ack_delay_ms =
        u16::try_from(config.recovery.ack.max_ack_delay.as_millis()).unwrap_or(25);
    // ack-frequency §3: advertising min_ack_delay is what lets the peer send ACK_FREQUENCY
    // and IMMEDIATE_ACK. It may not exceed max_ack_delay.
    tp.min_ack_delay_us = config.recovery.ack.min_ack_delay.map(|d| {
        let d = d.min(config.recovery.ack.max_ack_delay);
        VarInt::from_u64_clamped(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    });
    tp
}

pub(crate) fn encode_params(tp: &TransportParameters) -> Vec<u8> {
    let mut out = alloc::vec![0u8; tp.encoded_len()];
    let mut w = Writer::new(&mut out);
    // The buffer is exactly `encoded_len` bytes.
    if tp.encode(&mut w).is_err() {
        return Vec::new();
    }
    let n = w.written();
    out.truncate(n);
    out
}

fn tp_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::TRANSPORT_PARAMETER_ERROR, reason)
}

fn level_of(space: Space) -> Level {
    match space {
        Space::Initial => Level::Initial,
        Space::Handshake => Level::Handshake,
        Space::Data => Level::OneRtt,
    }
}

impl Connection {
    /// A CRYPTO frame arrived in `space`.
    pub(crate) fn on_crypto(
        &mut self,
        now: Instant,
        space: Space,
        offset: u64,
        data: &[u8],
    ) -> Result<(), TransportError> {
        if self.side == Side::Client && space == Space::Initial {
            // RFC 9369 §4: CRYPTO from the server settles the version.
            self.vn.settled = true;
        }
        if self.collecting_hello(space) {
            self.on_hello_crypto(now, offset, data)?;
            return self.after_crypto(now);
        }
        let limit = self.config.crypto_buffer;
        let level = level_of(space);
        let Connection { spaces, tls, .. } = self;
        let sc = &mut spaces[space as usize]; // three spaces, three slots
        if sc.discarded {
            // The space's keys were dropped while this packet was being processed (the
            // handshake completed on an earlier frame of the same packet). Its CRYPTO data
            // was all delivered already: RFC 9000 §19.6 has such retransmissions ignored.
            return Ok(());
        }
        let tls_result = sc.recv.on_frame(offset, data, limit, |bytes| {
            tls.read_handshake(level, bytes)
        })?;
        if let Err(e) = tls_result {
            // RFC 9001 §4.8: TLS alerts become CRYPTO_ERROR 0x0100 + alert.
            let code = e.alert.map_or(
                TransportErrorCode::PROTOCOL_VIOLATION,
                TransportErrorCode::crypto,
            );
            return Err(TransportError::new(code, e.reason).with_frame(FrameType::CRYPTO));
        }
        self.after_crypto(now)
    }

    /// After CRYPTO data went to TLS: its output, keys and parameters.
    fn after_crypto(&mut self, now: Instant) -> Result<(), TransportError> {
        self.drive_tls(now);
        self.accept_zero_rtt();
        // A server takes the client's parameters from the ClientHello at once. A client
        // waits for the end of the handshake: when resuming, TLS reports the parameters
        // remembered from the earlier connection until EncryptedExtensions replaces them.
        if self.side == Side::Server || !self.tls.is_handshaking() {
            self.check_params(now)?;
        }
        self.check_complete(now);
        // A session ticket that arrived after the confirmation lets a client release now.
        self.release_tls(now);
        Ok(())
    }

    /// Once the handshake is confirmed, TLS keeps only what key updates need (DESIGN.md:
    /// handshake-only state is dropped once the handshake is confirmed). A server's
    /// session tickets were written when its handshake completed, before it confirmed; a
    /// client that stores tickets waits for one (see [`crate::tls::Session::release`]).
    fn release_tls(&mut self, now: Instant) {
        if !self.handshake_confirmed || self.tls.is_handshaking() {
            return;
        }
        // Every byte TLS wrote goes to the CRYPTO stream first (the release's precondition).
        self.drive_tls(now);
        if let Some(released) = self.tls.release() {
            self.tls = released;
        }
    }

    /// Collects TLS output: handshake bytes for the current write level and new keys.
    pub(crate) fn drive_tls(&mut self, now: Instant) {
        // Bounded: each round either appends bytes TLS had queued or moves the write level
        // up, and TLS queues finitely many messages per input.
        for _ in 0..16 {
            // TLS appends straight to the CRYPTO stream of the current write level: the
            // bytes of a call that moves the level up still belong to the old one.
            let ws = self.write_space;
            let tls = &mut self.tls;
            let (change, wrote) = self.spaces[ws as usize]
                .send
                .append_with(|out| tls.write_handshake(out));
            match change {
                Some(KeyChange::Handshake(keys)) => {
                    let s = self.space_mut(Space::Handshake);
                    s.local = Some(keys.local);
                    s.remote = Some(keys.remote);
                    self.write_space = Space::Handshake;
                    if let Some(p) = self.paths.first_mut() {
                        p.recovery.on_handshake_keys(now);
                    }
                }
                Some(KeyChange::OneRtt(keys)) => {
                    let s = self.space_mut(Space::Data);
                    s.local = Some(keys.local);
                    s.remote = Some(keys.remote);
                    self.write_space = Space::Data;
                }
                None if !wrote => break,
                None => {}
            }
        }
    }

    /// Applies the peer's transport parameters as soon as TLS has them.
    fn check_params(&mut self, now: Instant) -> Result<(), TransportError> {
        if self.peer_params.is_some() {
            return Ok(());
        }
        let Some(raw) = self.tls.peer_transport_parameters() else {
            return Ok(());
        };
        let peer_side = match self.side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        let tp = TransportParameters::decode(raw, peer_side)?;
        self.validate_cids(&tp)?;
        self.check_version_information(&tp)?;
        self.apply_params(&tp);
        self.note_preferred_address(&tp);
        self.peer_params = Some(Box::new(tp));
        #[cfg(feature = "qlog")]
        {
            self.qlog_peer_params(now);
            // A client knows the negotiated version for sure once the server's
            // version_information checked out (a server logs it when it chooses).
            if self.side == Side::Client {
                self.qlog_version(now, None);
            }
        }
        #[cfg(not(feature = "qlog"))]
        let _ = now;
        Ok(())
    }

    /// RFC 9000 §7.3: the connection IDs in the handshake packets must match the ones the
    /// peer authenticated in its transport parameters; "An endpoint MUST treat the
    /// absence of the initial_source_connection_id transport parameter from either
    /// endpoint or the absence of the original_destination_connection_id transport
    /// parameter from the server as a connection error of type
    /// TRANSPORT_PARAMETER_ERROR", and likewise a mismatch.
    fn validate_cids(&self, tp: &TransportParameters) -> Result<(), TransportError> {
        match tp.initial_source_connection_id {
            None => return Err(tp_error("initial_source_connection_id missing")),
            Some(c) if c != self.remote_cid => {
                return Err(tp_error("initial_source_connection_id mismatch"))
            }
            Some(_) => {}
        }
        if self.side == Side::Client {
            match tp.original_destination_connection_id {
                None => return Err(tp_error("original_destination_connection_id missing")),
                Some(c) if c != self.orig_dcid => {
                    return Err(tp_error("original_destination_connection_id mismatch"))
                }
                Some(_) => {}
            }
            // §7.3: retry_source_connection_id must name the Retry we followed, and be
            // absent when there was none.
            if tp.retry_source_connection_id != self.retry_scid {
                return Err(tp_error(
                    "retry_source_connection_id does not match the Retry",
                ));
            }
        }
        Ok(())
    }

    fn apply_params(&mut self, tp: &TransportParameters) {
        self.streams.set_peer_limits(PeerLimits::from(tp));
        // The server's token for the connection ID of its handshake (RFC 9000 §18.2).
        self.peer_reset_token = tp.stateless_reset_token;
        if let Some(p) = self.paths.first_mut() {
            // RFC 9000 §18.2: never send datagrams larger than the peer accepts.
            let peer_max = u16::try_from(tp.max_udp_payload_size.into_inner()).unwrap_or(u16::MAX);
            p.mtu = p.mtu.min(peer_max.max(1200));
            p.mtu_search.cap(peer_max.max(1200));
            p.recovery.set_peer_max_ack_delay(tp.max_ack_delay());
            p.recovery
                .set_peer_ack_delay_exponent(tp.ack_delay_exponent);
        }
        // ack-frequency §3: the peer's min_ack_delay says it takes ACK_FREQUENCY. Only the
        // parameters of this handshake count: remembered ones never enable it (§3 "MUST NOT
        // remember"), so nothing is sent in 0-RTT.
        self.ack_frequency = match (self.config.ack_frequency, tp.min_ack_delay_us) {
            (Some(policy), Some(min)) => Some(alloc::boxed::Box::new(
                quic_recovery::AckFrequencySender::new(
                    policy,
                    core::time::Duration::from_micros(min.into_inner()),
                    tp.max_ack_delay(),
                ),
            )),
            _ => None,
        };
        // RFC 9000 §10.1: the effective idle timeout is the smaller of the two advertised
        // values, a value of 0 meaning none.
        self.idle_timeout = match (self.config.idle_timeout, tp.max_idle_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn check_complete(&mut self, now: Instant) {
        if self.handshake_complete || self.tls.is_handshaking() {
            return;
        }
        // TLS finished, so the parameters were exchanged (rustls refuses a QUIC handshake
        // without them); a session that does not is a broken TLS stack.
        if self.peer_params.is_none() {
            self.close_with_error(
                now,
                tp_error("handshake completed without transport parameters"),
            );
            return;
        }
        self.handshake_complete = true;
        self.finish_zero_rtt(now);
        if self.state == State::Handshaking {
            self.state = State::Established;
            #[cfg(feature = "qlog")]
            self.qlog_state(
                now,
                None,
                crate::qlog::events::connectivity::ConnectionState::HandshakeComplete,
            );
        }
        self.events.push_back(Event::Connected);
        if self.side == Side::Server {
            // RFC 9001 §4.1.2: the server's handshake is confirmed once complete; it sends
            // HANDSHAKE_DONE (RFC 9000 §19.20).
            self.handshake_done_pending = true;
            self.confirm(now);
        }
    }

    /// The handshake is confirmed: Handshake keys go (RFC 9001 §4.9.2).
    pub(crate) fn confirm(&mut self, now: Instant) {
        if self.handshake_confirmed {
            return;
        }
        self.handshake_confirmed = true;
        self.discard_space(now, Space::Handshake);
        if let Some(p) = self.paths.first_mut() {
            p.recovery.on_handshake_confirmed(now);
        }
        self.events.push_back(Event::HandshakeConfirmed);
        self.issue_cids();
        self.try_preferred_address(now);
        self.release_tls(now);
    }

    /// Drops the keys and state of `space` (RFC 9001 §4.9, RFC 9002 §6.4).
    pub(crate) fn discard_space(&mut self, now: Instant, space: Space) {
        let s = self.space_mut(space);
        if s.discarded || s.local.is_none() {
            return;
        }
        s.local = None;
        s.remote = None;
        s.discarded = true;
        s.send = Default::default();
        s.recv = Default::default();
        if space == Space::Initial {
            self.vn.chosen_initial_remote = None;
        }
        if let Some(p) = self.paths.first_mut() {
            p.recovery.discard_space(now, space);
        }
    }
}
