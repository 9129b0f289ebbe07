//! A client following a Retry (RFC 9000 §17.2.5.2, §8.1.2; RFC 9001 §5.8).

use quic_wire::packet::Retry;
use quic_wire::{Instant, Side, Space};

use super::Connection;

impl Connection {
    /// A Retry arrived. RFC 9000 §17.2.5.2: a client accepts at most one Retry, only
    /// before it processed any other packet from the server, only with a valid integrity
    /// tag, a non-empty token and a Source Connection ID other than the DCID it used;
    /// everything else is discarded.
    pub(crate) fn on_retry(&mut self, now: Instant, r: &Retry<'_>) {
        let any_received = self
            .paths
            .first()
            .is_some_and(|p| p.largest_received.iter().any(Option::is_some));
        if self.side != Side::Client
            || self.retry_scid.is_some()
            || self.peer_scid.is_some()
            || any_received
            || r.header.version != self.version
            || r.header.token.is_empty()
            || r.header.scid == self.orig_dcid
        {
            return;
        }
        let tag =
            self.tls_config
                .retry_integrity_tag(self.version, &self.orig_dcid, r.without_tag());
        if tag.ok() != Some(r.integrity_tag) {
            return;
        }
        // RFC 9001 §5.2: Initial keys now derive from the Retry's Source Connection ID.
        let Ok(keys) = self
            .tls_config
            .initial_keys(self.version, &r.header.scid, Side::Client)
        else {
            return;
        };
        self.token = r.header.token.to_vec();
        self.retry_scid = Some(r.header.scid);
        self.vn.initial_dcid = r.header.scid;
        self.remote_cid = r.header.scid;
        let s = self.space_mut(Space::Initial);
        s.local = Some(keys.local);
        s.remote = Some(keys.remote);
        // The ClientHello goes again, in packets with the token. Packet numbers continue
        // (§17.2.5.3). RFC 9002 §6.3: loss recovery starts over (the Initials sent before
        // leave flight, the probe backoff resets), so the retried Initial is not held
        // back by a timer backed off while the Retry was on its way.
        s.send.requeue_all();
        if let Some(p) = self.paths.first_mut() {
            p.recovery.on_retry(now);
        }
        // RFC 9000 §10.1: "An endpoint restarts its idle timer when a packet from its peer
        // is received and processed successfully" (a Retry with a valid tag is one).
        self.sent_eliciting_since_recv = false;
        self.arm_idle(now);
        if !self.initial_has_room_for_crypto() {
            // Every Initial would carry the token and no CRYPTO byte: the client could only
            // send PINGs until its idle timeout. Nothing can be sent to the server either
            // (a CONNECTION_CLOSE would not fit beside the token), so the state just goes.
            let error = super::ConnectionError::RetryTokenTooLong {
                len: self.token.len(),
            };
            #[cfg(feature = "qlog")]
            self.qlog_closed(now, &error);
            self.drain(Some(error));
        }
    }

    /// Whether the next Initial packet, with the current token and connection IDs, in a
    /// datagram of the path's size, leaves room for a CRYPTO frame with at least one byte
    /// of data.
    fn initial_has_room_for_crypto(&self) -> bool {
        let mtu = self.paths.first().map_or(1200, |p| usize::from(p.mtu));
        let Some(tag_len) = self
            .space(Space::Initial)
            .local
            .as_ref()
            .map(|k| k.packet.tag_len())
        else {
            return false;
        };
        let mut scratch = alloc::vec![0u8; mtu];
        let header = super::send::Header {
            token: &self.token,
            version: self.version,
            dcid: self.remote_cid,
            scid: self.local_cid,
            spin: false,
            key_phase: false,
        };
        // Nothing is acknowledged yet: the encoding length follows the number itself.
        let pn = self
            .paths
            .first()
            .and_then(|p| p.recovery.sent_packets(Space::Initial))
            .map_or(0, |s| s.peek_next_pn());
        let b = super::send::start_packet(
            &mut scratch,
            quic_wire::PacketType::Initial,
            header,
            pn,
            None,
            tag_len,
            true,
        );
        // A CRYPTO frame: type (1 byte), offset and length (up to 2 bytes each for a
        // ClientHello), and at least one byte of data.
        const CRYPTO_FRAME_HEADER: usize = 1 + 2 + 2;
        b.is_some_and(|b| b.remaining() > CRYPTO_FRAME_HEADER)
    }
}
