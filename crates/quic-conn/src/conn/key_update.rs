//! 1-RTT key updates (RFC 9001 §6): opening 1-RTT packets with the key of their phase,
//! following the peer's updates, initiating our own, and retiring the old receive key.

use alloc::boxed::Box;
use core::time::Duration;

use quic_wire::crypto::{unprotect_header, PacketKey};
use quic_wire::packet::{OpenError, Opened};
use quic_wire::{Instant, PacketNumber, PathId, Space, TransportError, TransportErrorCode};

use super::{Connection, Timer};
use crate::tls::PacketKeyPair;

/// Packets left under the confidentiality limit when we give up waiting for a key update
/// to become possible and close instead (RFC 9001 §6.6).
const LIMIT_MARGIN: u64 = 1 << 10;

/// The key-phase state of the application space.
#[derive(Default)]
pub(crate) struct KeyPhase {
    /// The current phase bit.
    pub(crate) phase: bool,
    /// The packet keys of the next phase, prepared ahead (RFC 9001 §6.3).
    next: Option<PacketKeyPair>,
    /// The previous receive key, for packets delayed across an update (§6.5).
    prev_remote: Option<Box<dyn PacketKey>>,
    /// The smallest packet number received in the current phase.
    first_recv_pn: Option<u64>,
    /// The first packet number we sent in the current phase.
    first_sent_pn: Option<u64>,
    /// Packets sent with the current key.
    sent: u64,
    /// Whether a packet of the current phase was acknowledged (§6.1: only then may we
    /// update again).
    acked: bool,
    /// We updated and the peer has not answered in the new phase yet: packets in the
    /// other phase are old ones (the peer may not update again before that, §6.2).
    awaiting_peer: bool,
}

impl core::fmt::Debug for KeyPhase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPhase")
            .field("phase", &self.phase)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

fn key_update_error(reason: &'static str) -> TransportError {
    TransportError::new(TransportErrorCode::KEY_UPDATE_ERROR, reason)
}

impl Connection {
    /// Opens a 1-RTT packet, trying the key its phase bit and packet number call for:
    /// current, next (the peer updated) or previous (delayed packet).
    pub(crate) fn open_one_rtt(
        &mut self,
        now: Instant,
        packet: &mut [u8],
        pn_offset: usize,
        largest: Option<PacketNumber>,
        path: PathId,
    ) -> Result<Opened, OpenError> {
        let sc = self.space(Space::Data);
        let remote = sc.remote.as_ref().ok_or(OpenError::NoKey(false))?;
        let clear = unprotect_header(remote.header.as_ref(), packet, pn_offset)?;
        let pn = clear.pn.decode(largest);
        let header_len = pn_offset + clear.pn.len;
        let kp = &self.key_phase;
        let result = if clear.key_phase == kp.phase {
            remote
                .packet
                .open_packet(path, pn, packet, header_len)
                .map_err(OpenError::from)
        } else if kp.awaiting_peer || kp.first_recv_pn.is_some_and(|first| pn.as_u64() < first) {
            let prev = kp
                .prev_remote
                .as_ref()
                .ok_or(OpenError::NoKey(clear.key_phase))?;
            prev.open_packet(path, pn, packet, header_len)
                .map_err(OpenError::from)
        } else {
            self.open_with_next_key(now, packet, (header_len, pn, clear.key_phase), path)
        };
        let payload_len = result?;
        // RFC 9000 §17.3.1: reserved bits only count once the AEAD vouched for them.
        clear.check_reserved_bits().map_err(OpenError::Violation)?;
        if clear.key_phase == self.key_phase.phase {
            let kp = &mut self.key_phase;
            let answered = core::mem::replace(&mut kp.awaiting_peer, false);
            kp.first_recv_pn = Some(kp.first_recv_pn.map_or(pn.as_u64(), |f| f.min(pn.as_u64())));
            if answered {
                // The first packet of the peer's in the phase we started: only now may the
                // old receive key go (RFC 9001 §6.1), after the §6.5 grace period.
                self.arm_key_discard(now);
            }
        }
        Ok(Opened {
            pn,
            header_len,
            payload_len,
            key_phase: clear.key_phase,
        })
    }

    /// Opens a packet whose phase bit announces the next key phase. Enforces RFC 9001
    /// §6.2 (no second update before we acknowledged a packet of the current phase) and
    /// §6.4 (no packet under the previous keys after one under newer keys).
    fn open_with_next_key(
        &mut self,
        now: Instant,
        packet: &mut [u8],
        (header_len, pn, phase): (usize, PacketNumber, bool),
        path: PathId,
    ) -> Result<usize, OpenError> {
        if self.key_phase.next.is_none() {
            self.key_phase.next = self.tls.next_one_rtt_keys();
        }
        // The ciphertext is kept only while a previous key exists to tell a §6.4 violation
        // from a forgery; this branch runs once per key update (or per forged packet).
        let saved = match (&self.key_phase.prev_remote, packet.get(header_len..)) {
            (Some(_), Some(body)) => Some(body.to_vec()),
            _ => None,
        };
        let next = self
            .key_phase
            .next
            .as_ref()
            .ok_or(OpenError::NoKey(phase))?;
        match next.remote.open_packet(path, pn, packet, header_len) {
            Ok(len) => {
                if !self.peer_may_update() {
                    // RFC 9001 §6.2: "If an endpoint detects a second update before it has
                    // sent any packets with updated keys containing an acknowledgment for
                    // the packet that initiated the key update, it indicates that its peer
                    // has updated keys twice without awaiting confirmation. An endpoint MAY
                    // treat such consecutive key updates as a connection error of type
                    // KEY_UPDATE_ERROR."
                    return Err(OpenError::Violation(key_update_error(
                        "key update before the previous one was acknowledged",
                    )));
                }
                // Authenticated with the next key: the peer updated (or answered ours).
                self.rotate_keys(now, true);
                Ok(len)
            }
            Err(e) => {
                let (Some(saved), Some(prev)) = (saved, self.key_phase.prev_remote.as_ref()) else {
                    return Err(OpenError::Crypto(e));
                };
                let Some(body) = packet.get_mut(header_len..) else {
                    return Err(OpenError::Crypto(e));
                };
                body.copy_from_slice(&saved);
                if prev.open_packet(path, pn, packet, header_len).is_ok() {
                    // RFC 9001 §6.4: "An endpoint that successfully removes protection with
                    // old keys when newer keys were used for packets with lower packet
                    // numbers MUST treat this as a connection error of type
                    // KEY_UPDATE_ERROR."
                    return Err(OpenError::Violation(key_update_error(
                        "packet under old keys after packets under newer keys",
                    )));
                }
                Err(OpenError::Crypto(e))
            }
        }
    }

    /// Whether the peer could have seen our acknowledgement of one of its packets in the
    /// current phase, which it needs before it may update again (RFC 9001 §6.1, §6.2).
    /// Every ACK covering such a packet was sent under the current keys, since it was sent
    /// after the packet arrived.
    fn peer_may_update(&mut self) -> bool {
        let Some(first) = self.key_phase.first_recv_pn else {
            return false;
        };
        self.paths
            .first_mut()
            .and_then(|p| p.recovery.ack_tracker(Space::Data))
            .and_then(|t| t.largest_acked_sent())
            .is_some_and(|l| l >= first)
    }

    /// Testing hook: moves to the next key phase at once, skipping the wait for an
    /// acknowledgement RFC 9001 §6.1 demands, to play a misbehaving peer. Not for
    /// production use.
    #[doc(hidden)]
    pub fn force_key_update(&mut self, now: Instant) -> bool {
        self.handshake_confirmed && !self.is_closed() && self.rotate_keys(now, false)
    }

    /// Moves to the next key phase. `by_peer`: the peer's packet in the new phase arrived;
    /// otherwise we initiate and the peer follows.
    fn rotate_keys(&mut self, now: Instant, by_peer: bool) -> bool {
        let Some(next) = self
            .key_phase
            .next
            .take()
            .or_else(|| self.tls.next_one_rtt_keys())
        else {
            return false;
        };
        let s = self.space_mut(Space::Data);
        let (Some(local), Some(remote)) = (s.local.as_mut(), s.remote.as_mut()) else {
            return false;
        };
        local.packet = next.local;
        let old_remote = core::mem::replace(&mut remote.packet, next.remote);
        let kp = &mut self.key_phase;
        kp.prev_remote = Some(old_remote);
        kp.phase = !kp.phase;
        self.stats.key_updates += 1;
        let kp = &mut self.key_phase;
        kp.first_recv_pn = None;
        kp.first_sent_pn = None;
        kp.sent = 0;
        kp.acked = false;
        kp.awaiting_peer = !by_peer;
        // RFC 9001 §6.3: the keys after these are derived ahead, off the receive path.
        kp.next = self.tls.next_one_rtt_keys();
        if by_peer {
            // A packet in the new phase just authenticated.
            self.arm_key_discard(now);
        } else {
            // RFC 9001 §6.1: "An endpoint MUST retain old keys until it has successfully
            // unprotected a packet sent using the new keys": the peer may keep sending in
            // the old phase for as long as it has not seen ours, so no timer yet.
            self.timers.set(Timer::KeyDiscard, None);
        }
        true
    }

    /// §6.5: the old receive key is kept for about three PTOs after the new phase was
    /// seen from the peer, for packets reordered across the update.
    fn arm_key_discard(&mut self, now: Instant) {
        let pto = self.paths.first().map_or(Duration::from_secs(1), |p| {
            p.recovery.pto_period(Space::Data)
        });
        self.timers
            .set(Timer::KeyDiscard, now.checked_add(pto.saturating_mul(3)));
    }

    /// Starts a key update (RFC 9001 §6.1). Refused (returns `false`) before the handshake
    /// is confirmed and until a packet sent with the current keys was acknowledged.
    pub fn initiate_key_update(&mut self, now: Instant) -> bool {
        if !self.handshake_confirmed || self.is_closed() || !self.key_phase.acked {
            return false;
        }
        self.rotate_keys(now, false)
    }

    /// The current 1-RTT key phase bit.
    pub fn key_phase(&self) -> bool {
        self.key_phase.phase
    }

    /// A 1-RTT packet was sent under the current keys with this packet number.
    pub(crate) fn on_one_rtt_sent(&mut self, now: Instant, pn: u64) {
        let kp = &mut self.key_phase;
        kp.first_sent_pn.get_or_insert(pn);
        kp.sent += 1;
        let sent = kp.sent;
        // RFC 9001 §6.6: a key protects at most its AEAD's confidentiality limit of packets
        // (2^23 for AES-GCM); we update well before, after `key_update_interval` packets
        // (at most half the limit).
        let limit = self
            .space(Space::Data)
            .local
            .as_ref()
            .map_or(u64::MAX, |k| k.packet.confidentiality_limit());
        let interval = self.config.key_update_interval.clamp(1, limit / 2);
        if sent < interval || self.initiate_key_update(now) {
            return;
        }
        // The update is not possible yet (no packet of this phase acknowledged). Close
        // before the limit rather than use the key beyond it: "It is RECOMMENDED that
        // endpoints immediately close the connection with a connection error of type
        // AEAD_LIMIT_REACHED before reaching a state where key updates are not possible."
        if sent >= limit.saturating_sub(LIMIT_MARGIN) {
            self.close_with_error(
                now,
                TransportError::new(
                    TransportErrorCode::AEAD_LIMIT_REACHED,
                    "confidentiality limit reached without a key update",
                ),
            );
        }
    }

    /// After an ACK in the application space: has a packet of the current phase been
    /// acknowledged?
    pub(crate) fn note_phase_acked(&mut self) {
        let largest = self
            .paths
            .first()
            .and_then(|p| p.recovery.sent_packets(Space::Data))
            .and_then(|s| s.largest_acked());
        let kp = &mut self.key_phase;
        if let (Some(first), Some(l)) = (kp.first_sent_pn, largest) {
            if l >= first {
                kp.acked = true;
            }
        }
    }

    /// The previous receive key has lived long enough.
    pub(crate) fn discard_old_key(&mut self) {
        self.timers.set(Timer::KeyDiscard, None);
        if self.key_phase.awaiting_peer {
            // Never before the peer was heard in the new phase (RFC 9001 §6.1).
            return;
        }
        self.key_phase.prev_remote = None;
    }
}
