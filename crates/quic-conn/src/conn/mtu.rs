//! Datagram Packetization Layer PMTU Discovery (RFC 9000 §14.3, RFC 8899 §5): once the
//! handshake is confirmed, PING-and-PADDING probes of growing sizes search, by bisection,
//! the largest datagram the path carries, up to `Config::max_udp_payload` and the peer's
//! max_udp_payload_size. Probes are not congestion-controlled and their loss is not a
//! congestion signal (RFC 9000 §14.4): they are sent as not in flight.
//!
//! The search probes the maximum first (the common case is a path that carries it), then
//! bisects. Black holes (RFC 8899 §4.3): after three consecutive PTOs with a grown MTU the
//! path falls back to the base size and searches again below the size that stopped
//! working. Not done yet: raising the search again later (RFC 8899 PROBE_RAISE_TIMER).

/// Search steps smaller than this end the search.
const MIN_STEP: u16 = 16;

/// Probes of one size lost before that size counts as too large (RFC 8899 MAX_PROBES).
const MAX_PROBES: u8 = 3;

/// The search on one path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MtuSearch {
    /// Largest size known to work.
    lo: u16,
    /// Smallest size known not to work, minus one (the upper bound of the search).
    hi: u16,
    /// The probe in flight: its size.
    in_flight: Option<u16>,
    /// Losses of the current probe size.
    losses: u8,
    /// Whether the maximum was tried first.
    tried_max: bool,
}

impl MtuSearch {
    pub(crate) fn new(current: u16, max: u16) -> Self {
        MtuSearch {
            lo: current,
            hi: max.max(current),
            in_flight: None,
            losses: 0,
            tried_max: false,
        }
    }

    /// Lowers the upper bound (the peer's max_udp_payload_size).
    pub(crate) fn cap(&mut self, max: u16) {
        self.hi = self.hi.min(max).max(self.lo);
    }

    /// The size of the next probe, if one should be sent now.
    pub(crate) fn next_probe(&self) -> Option<u16> {
        if self.in_flight.is_some() || self.hi <= self.lo {
            return None;
        }
        if !self.tried_max {
            return Some(self.hi);
        }
        if self.hi - self.lo < MIN_STEP {
            return None;
        }
        Some(self.lo + (self.hi - self.lo).div_ceil(2))
    }

    pub(crate) fn on_sent(&mut self, size: u16) {
        self.in_flight = Some(size);
    }

    /// A probe of `size` was acknowledged: the path carries it. Returns the new MTU.
    pub(crate) fn on_acked(&mut self, size: u16) -> Option<u16> {
        if self.in_flight == Some(size) {
            self.in_flight = None;
        }
        self.losses = 0;
        if size > self.lo {
            self.lo = size;
            return Some(size);
        }
        None
    }

    /// A probe of `size` was lost.
    pub(crate) fn on_lost(&mut self, size: u16) {
        if self.in_flight == Some(size) {
            self.in_flight = None;
        }
        self.losses += 1;
        if self.losses >= MAX_PROBES {
            self.losses = 0;
            self.tried_max = true;
            self.hi = size.saturating_sub(1).max(self.lo);
        }
    }
}

impl super::Connection {
    /// Writes a path MTU probe into `buf` when one is due: a datagram of its own holding
    /// a 1-RTT packet with PING and PADDING.
    pub(crate) fn write_mtu_probe(
        &mut self,
        now: quic_wire::Instant,
        buf: &mut [u8],
    ) -> Option<usize> {
        use super::records::{Record, Records};
        use super::send::{start_packet, Header};
        use quic_wire::{Frame, PacketNumber, PacketType, Space};

        if !self.handshake_confirmed || self.is_closed() {
            return None;
        }
        let path = self.paths.first()?;
        let size = path.mtu_search.next_probe()?;
        let len = usize::from(size);
        if !path.validated || buf.len() < len || !path.recovery.can_send(u64::from(size)) {
            return None;
        }
        let hdr = Header {
            token: &[],
            version: self.version,
            dcid: self.remote_cid,
            scid: self.local_cid,
            spin: self.spin,
            key_phase: self.key_phase.phase,
        };
        let super::Connection {
            paths,
            spaces,
            rng,
            #[cfg(feature = "qlog")]
            qlog,
            stats,
            config,
            ..
        } = self;
        let path = paths.first_mut()?;
        let keys = spaces.get(Space::Data as usize)?.local.as_ref()?;
        let pn = path.recovery.next_pn(Space::Data, rng.as_rngcore())?;
        let largest_acked = path
            .recovery
            .sent_packets(Space::Data)
            .and_then(|s| s.largest_acked())
            .map(PacketNumber);
        let tag_len = keys.packet.tag_len();
        let out = buf.get_mut(..len)?;
        let mut b = start_packet(
            out,
            PacketType::OneRtt,
            hdr,
            pn,
            largest_acked,
            tag_len,
            true,
        )?;
        b.push(&Frame::Ping).ok()?;
        b.pad_to(len);
        #[cfg(feature = "qlog")]
        qlog.capture_sent(b.payload());
        super::frame_stats::count_sent(
            config.frame_stats,
            &mut stats.frames_sent,
            b.payload(),
            PacketType::OneRtt,
        );
        let written = b
            .finish(path.id, keys.packet.as_ref(), keys.header.as_ref())
            .ok()?;
        let mut rec = Records::default();
        rec.push(Record::MtuProbe(size));
        // RFC 9000 §14.4: not in flight, so its loss is no congestion signal.
        path.recovery
            .on_packet_sent(now, Space::Data, size, true, false, rec);
        path.mtu_search.on_sent(size);
        self.stats.packets_sent += 1;
        #[cfg(feature = "qlog")]
        self.qlog_packet_sent(now, PacketType::OneRtt, pn, written);
        Some(written)
    }

    /// Black-hole detection: after three consecutive PTOs with an MTU above the base, the
    /// path goes back to the base size and searches again below the size in use.
    pub(crate) fn check_black_hole(&mut self) {
        let base = self.config.initial_mtu.max(1200);
        let Some(path) = self.paths.first_mut() else {
            return;
        };
        if path.mtu > base && path.recovery.pto_count() >= 3 {
            let failed = path.mtu;
            path.mtu = base;
            path.recovery.set_max_datagram_size(u64::from(base));
            path.mtu_search = MtuSearch::new(base, failed.saturating_sub(1));
        }
    }

    /// Applies the outcome of a probe reported by loss recovery.
    pub(crate) fn on_mtu_probe(&mut self, acked: Option<u16>, lost: Option<u16>) {
        let Some(path) = self.paths.first_mut() else {
            return;
        };
        if let Some(size) = lost {
            path.mtu_search.on_lost(size);
        }
        if let Some(size) = acked {
            if let Some(mtu) = path.mtu_search.on_acked(size) {
                path.mtu = mtu;
                path.recovery.set_max_datagram_size(u64::from(mtu));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_converges_below_the_path_limit() {
        let path_limit = 1400;
        let mut s = MtuSearch::new(1200, 1500);
        let mut mtu = 1200;
        for _ in 0..100 {
            let Some(size) = s.next_probe() else {
                break;
            };
            s.on_sent(size);
            if size <= path_limit {
                if let Some(m) = s.on_acked(size) {
                    mtu = m;
                }
            } else {
                s.on_lost(size);
            }
        }
        assert!(
            mtu <= path_limit && mtu > path_limit - MIN_STEP,
            "mtu {mtu}"
        );
        assert_eq!(s.next_probe(), None, "the search ended");
    }
}
