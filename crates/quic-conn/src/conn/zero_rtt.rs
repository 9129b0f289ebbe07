//! 0-RTT (RFC 9001 §4.6, RFC 9000 §7.4.1): a resuming client sends stream data before
//! the handshake completes, under the limits remembered from the earlier connection; a
//! server that accepted early data opens those packets; if it refused, the client's 0-RTT
//! data counts as lost and goes again in 1-RTT packets.

use quic_streams::PeerLimits;
use quic_wire::{Instant, PacketNumber, PacketType, Side, Space, TransportParameters};

use super::records::{Record, Records};
use super::send::{start_packet, Built, Header};
use super::Connection;
use crate::tls::DirectionalKeys;

/// 0-RTT state of one connection.
#[derive(Debug, Default)]
pub(crate) struct ZeroRtt {
    /// Client: keys to send with; server: keys to open with.
    pub(crate) keys: Option<DirectionalKeys>,
    /// Client: packet numbers sent in 0-RTT packets (first, last).
    sent: Option<(u64, u64)>,
    /// Client: the server refused early data; the packets of this range are void.
    pub(crate) rejected: Option<(u64, u64)>,
    /// Client: the server accepted early data.
    pub(crate) accepted: bool,
}

impl ZeroRtt {
    /// Whether packet `pn` of the application space was a refused 0-RTT packet, whose
    /// frames are neither acknowledged nor lost any more.
    pub(crate) fn is_void(&self, pn: u64) -> bool {
        self.rejected
            .is_some_and(|(first, last)| (first..=last).contains(&pn))
    }
}

impl Connection {
    /// Client, right after the ClientHello: 0-RTT keys exist when TLS resumes a session
    /// that allows early data; the remembered transport parameters bound what may be sent
    /// (RFC 9000 §7.4.1).
    pub(crate) fn start_zero_rtt(&mut self) {
        if self.side != Side::Client {
            return;
        }
        let Some(keys) = self.tls.zero_rtt_keys() else {
            return;
        };
        let remembered = self
            .tls
            .peer_transport_parameters()
            .and_then(|raw| TransportParameters::decode(raw, Side::Server).ok());
        let Some(tp) = remembered else {
            return; // Without the old limits nothing may be sent early.
        };
        self.streams.set_peer_limits(PeerLimits::from(&tp));
        self.zero_rtt.keys = Some(keys);
    }

    /// Server, after reading the ClientHello: keys to open 0-RTT packets with, when TLS
    /// accepted early data.
    pub(crate) fn accept_zero_rtt(&mut self) {
        if self.side == Side::Server && self.zero_rtt.keys.is_none() && !self.handshake_complete {
            self.zero_rtt.keys = self.tls.zero_rtt_keys();
        }
    }

    /// Client, when the handshake completes: 0-RTT is over, accepted or not.
    pub(crate) fn finish_zero_rtt(&mut self, now: Instant) {
        self.zero_rtt.keys = None;
        if self.side != Side::Client {
            return;
        }
        self.zero_rtt.accepted = self.tls.is_early_data_accepted();
        let Some((first, last)) = self.zero_rtt.sent else {
            return;
        };
        if self.zero_rtt.accepted {
            return;
        }
        // RFC 9001 §4.6.2: refused 0-RTT data is lost; stream data goes again in 1-RTT.
        let mut lost = alloc::vec::Vec::new();
        if let Some(sent) = self
            .paths
            .first()
            .and_then(|p| p.recovery.sent_packets(Space::Data))
        {
            for p in sent.unacked().filter(|p| (first..=last).contains(&p.pn)) {
                lost.extend(p.frames.iter());
            }
        }
        self.zero_rtt.rejected = Some((first, last));
        for r in lost {
            if let Record::Stream(f) = r {
                self.streams.on_frame_lost(f, now);
            }
        }
    }

    /// Whether the client has early data to send.
    pub(crate) fn wants_zero_rtt(&self, may_send_data: bool) -> bool {
        may_send_data
            && self.side == Side::Client
            && self.zero_rtt.keys.is_some()
            && self.space(Space::Data).local.is_none()
            && self.streams.wants_to_send()
    }

    /// Builds a 0-RTT packet of stream frames (RFC 9000 §12.4: no ACK, CRYPTO or
    /// HANDSHAKE_DONE in 0-RTT).
    pub(crate) fn build_zero_rtt(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        pad: Option<usize>,
    ) -> Option<Built> {
        let hdr = Header {
            token: &[],
            // RFC 9369 §4: "The client MUST NOT send 0-RTT packets using the negotiated
            // version": they stay in the version of its first flight.
            version: self.vn.chosen,
            dcid: self.remote_cid,
            scid: self.local_cid,
            spin: false,
            key_phase: false,
        };
        let Connection {
            paths,
            streams,
            rng,
            zero_rtt,
            #[cfg(feature = "qlog")]
            qlog,
            stats,
            config,
            ..
        } = self;
        let keys = zero_rtt.keys.as_ref()?;
        let path = paths.first_mut()?;
        let pn = path.recovery.next_pn(Space::Data, rng.as_rngcore())?;
        let largest_acked = path
            .recovery
            .sent_packets(Space::Data)
            .and_then(|s| s.largest_acked())
            .map(PacketNumber);
        let tag_len = keys.packet.tag_len();
        let mut b = start_packet(
            buf,
            PacketType::ZeroRtt,
            hdr,
            pn,
            largest_acked,
            tag_len,
            true,
        )?;
        let mut rec = Records::default();
        let wrote = b.write(|w| {
            let budget = w.remaining();
            Ok::<_, ()>(streams.write_frames(w, budget, now, true, &mut |r| {
                rec.push(Record::Stream(r));
            }))
        });
        let mut eliciting = wrote.unwrap_or(0) > 0;
        if pad.is_some() && b.is_empty() {
            eliciting |= b.push(&quic_wire::Frame::Ping).is_ok();
        }
        if b.is_empty() {
            return None;
        }
        if let Some(p) = pad {
            b.pad_to(p);
        }
        #[cfg(feature = "qlog")]
        qlog.capture_sent(b.payload());
        super::frame_stats::count_sent(
            config.frame_stats,
            &mut stats.frames_sent,
            b.payload(),
            PacketType::ZeroRtt,
        );
        let len = b
            .finish(path.id, keys.packet.as_ref(), keys.header.as_ref())
            .ok()?;
        let size = u16::try_from(len).unwrap_or(u16::MAX);
        let pn = path
            .recovery
            .on_packet_sent(now, Space::Data, size, eliciting, true, rec)?;
        zero_rtt.sent = Some(zero_rtt.sent.map_or((pn, pn), |(f, _)| (f, pn)));
        Some(Built {
            len,
            ack_eliciting: eliciting,
            pn: Some(pn),
        })
    }

    /// Whether the server accepted early data (client; known once the handshake
    /// completed).
    pub fn is_zero_rtt_accepted(&self) -> bool {
        self.zero_rtt.accepted
    }

    /// Whether this client is sending 0-RTT packets now.
    pub fn is_zero_rtt_active(&self) -> bool {
        self.side == Side::Client && self.zero_rtt.keys.is_some()
    }
}
