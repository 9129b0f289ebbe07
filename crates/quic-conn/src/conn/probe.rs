//! Datagrams on paths other than the active one (RFC 9000 §8.2, §9.1): a PATH_CHALLENGE
//! probing a path, and PATH_RESPONSEs owed on the 4-tuple their challenge came from. They
//! are 1-RTT packets of the application space, padded to 1200 bytes (§8.2.1, §8.2.2)
//! within the anti-amplification limit, and carry nothing else, so they are probing
//! packets: the peer does not move to the path because of them.
//!
//! They are recorded as not in flight: their loss is no congestion signal for the active
//! path (RFC 9000 §9.4 allows the exception), and the validation timer, not loss
//! recovery, decides when a challenge goes again.

use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

use quic_wire::{ConnectionId, Frame, Instant, PacketNumber, PacketType, Space};

use super::records::Records;
use super::send::{start_packet, Header};
use super::{Connection, State};
use crate::io::Transmit;

/// Datagrams carrying PATH_CHALLENGE or PATH_RESPONSE are expanded to this size.
const PROBE_DATAGRAM: usize = 1200;

/// What one probe datagram carries.
struct ProbeDatagram {
    local: SocketAddr,
    remote: SocketAddr,
    dcid: ConnectionId,
    challenge: Option<[u8; 8]>,
    responses: Vec<[u8; 8]>,
    /// The size to pad to.
    size: usize,
}

impl Connection {
    /// The next datagram for a path other than the active one, if one is due.
    pub(crate) fn write_probe(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.state != State::Established || self.space(Space::Data).local.is_none() {
            return None;
        }
        let d = self.next_probe_datagram(now)?;
        let len = self.build_probe(now, &d, buf);
        // Whatever happened, the probe waits a PTO, doubled after each try, before going
        // again (§8.2.1: not more often than an Initial would be), so a probe that cannot
        // be built does not keep the timer in the past either.
        let pto = self.paths.first().map_or(Duration::from_secs(1), |p| {
            p.recovery.pto_period(Space::Data)
        });
        if d.challenge.is_some() {
            for p in &mut self.migration.probes {
                if (p.local, p.remote) == (d.local, d.remote) {
                    let wait = pto.saturating_mul(1 << p.sent.min(16));
                    p.sent += 1;
                    p.send_at = now.checked_add(wait).unwrap_or(p.deadline);
                }
            }
        }
        self.arm_path_timer();
        let len = len?;
        self.stats.datagrams_sent += 1;
        self.stats.bytes_sent += len as u64;
        self.stats.packets_sent += 1;
        Some(Transmit {
            destination: d.remote,
            source: Some(d.local),
            ecn: quic_wire::Ecn::NotEct,
            size: len,
            segment_size: None,
            send_at: None,
        })
    }

    /// Picks the 4-tuple to serve: one with responses owed first, else a probe that is due.
    fn next_probe_datagram(&mut self, now: Instant) -> Option<ProbeDatagram> {
        let m = &mut self.migration;
        let (local, remote, size) =
            if let Some(&(local, remote, _, received)) = m.off_path_responses.front() {
                // RFC 9000 §8.2.2: expanded to 1200 bytes, but never beyond three times what
                // arrived on that path.
                (
                    local,
                    remote,
                    PROBE_DATAGRAM.min(received.saturating_mul(3)),
                )
            } else {
                let p = m.probes.iter().find(|p| p.send_at <= now)?;
                (p.local, p.remote, PROBE_DATAGRAM)
            };
        let mut responses = Vec::new();
        m.off_path_responses.retain(|&(l, r, data, _)| {
            if (l, r) == (local, remote) {
                responses.push(data);
                false
            } else {
                true
            }
        });
        let probe = m
            .probes
            .iter()
            .find(|p| (p.local, p.remote) == (local, remote));
        let challenge = probe.filter(|p| p.send_at <= now).map(|p| p.data);
        let dcid = match probe {
            Some(p) => p.cid,
            None => self.response_cid(local, remote),
        };
        Some(ProbeDatagram {
            local,
            remote,
            dcid,
            challenge,
            responses,
            size,
        })
    }

    /// Builds the probe datagram `d` into `buf`; returns its length.
    fn build_probe(&mut self, now: Instant, d: &ProbeDatagram, buf: &mut [u8]) -> Option<usize> {
        let (version, scid, spin) = (self.version, self.local_cid, self.spin);
        let key_phase = self.key_phase.phase;
        let Connection {
            paths, spaces, rng, ..
        } = self;
        let path = paths.first_mut()?;
        let keys = spaces.get(Space::Data as usize)?.local.as_ref()?;
        let room = buf
            .len()
            .min(usize::from(path.mtu))
            .max(d.size.min(buf.len()));
        let buf = buf.get_mut(..room)?;
        let pn = path.recovery.next_pn(Space::Data, rng.as_rngcore())?;
        let largest_acked = path
            .recovery
            .sent_packets(Space::Data)
            .and_then(|s| s.largest_acked())
            .map(PacketNumber);
        let header = Header {
            token: &[],
            version,
            dcid: d.dcid,
            scid,
            spin,
            key_phase,
        };
        let tag_len = keys.packet.tag_len();
        let mut b = start_packet(
            buf,
            PacketType::OneRtt,
            header,
            pn,
            largest_acked,
            tag_len,
            true,
        )?;
        // RFC 9000 §8.2.1: one PATH_CHALLENGE per packet.
        if let Some(data) = d.challenge {
            b.push(&Frame::PathChallenge(data)).ok()?;
        }
        for &r in &d.responses {
            if b.push(&Frame::PathResponse(r)).is_err() {
                break;
            }
        }
        b.pad_to(d.size);
        let len = b
            .finish(path.id, keys.packet.as_ref(), keys.header.as_ref())
            .ok()?;
        let size = u16::try_from(len).unwrap_or(u16::MAX);
        let sent =
            path.recovery
                .on_packet_sent(now, Space::Data, size, false, false, Records::default());
        if let Some(pn) = sent {
            self.on_one_rtt_sent(now, pn);
        }
        Some(len)
    }
}
