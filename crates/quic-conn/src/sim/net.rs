//! The network half of the simulator: taking datagrams out of nodes, routing them
//! through NATs and links, delivering them, and reporting each step to the trace hook.

use core::net::SocketAddr;

use bytes::BytesMut;

use super::{
    event::{Datagram, Event},
    stats, DropCause, HostId, LinkId, Sim, TraceEvent, TraceKind, MAX_DRAIN,
};
use crate::io::DatagramMeta;

impl Sim {
    /// Drains the output of one host; returns `false` if it was still transmitting
    /// after [`MAX_DRAIN`] transmits (it stays marked for the next step).
    pub(super) fn drain(&mut self, host: HostId) -> bool {
        self.hosts[host.0].dirty = false;
        for _ in 0..MAX_DRAIN {
            let now = self.now;
            let h = &mut self.hosts[host.0];
            let Some(t) = h.node.poll_transmit(now, &mut self.tx_buf) else {
                return true;
            };
            let source = t.source.unwrap_or(h.addrs[0]);
            let owned = h.addrs.contains(&source);
            // A size beyond the buffer is a node bug; send what the buffer holds.
            let size = t.size.min(self.tx_buf.len());
            let segment = t.segment_size.filter(|&s| s > 0).unwrap_or(size);
            let mut rest = BytesMut::from(&self.tx_buf[..size]);
            loop {
                let data = rest.split_to(segment.min(rest.len()));
                let datagram = Datagram {
                    source,
                    destination: t.destination,
                    ecn: t.ecn,
                    data,
                };
                match t.send_at {
                    _ if !owned => self.drop_unrouted(datagram, None),
                    Some(at) if at > now => {
                        self.events.push(at, Event::Send { source, datagram });
                    }
                    _ => self.send(source, datagram),
                }
                if rest.is_empty() {
                    break;
                }
            }
        }
        self.hosts[host.0].dirty = true;
        false
    }

    /// Puts a datagram sent from the host's own address `source` on its link.
    fn send(&mut self, source: SocketAddr, mut datagram: Datagram) {
        datagram.source = self.nat.public_of(source);
        let route = self.nat.resolve(datagram.destination);
        let Some(&link_id) = self.routes.get(&(source, route.local)) else {
            self.drop_unrouted(datagram, None);
            return;
        };
        let sent = self.trace_event(TraceKind::Sent, Some(link_id), &datagram);
        if let Some(event) = sent {
            self.emit_event(event);
        }
        let link = &mut self.links[link_id.0];
        match link.carry(self.now, datagram.data, datagram.ecn) {
            Err(cause) => {
                if let Some(event) = sent {
                    self.emit_event(TraceEvent {
                        kind: TraceKind::Dropped(cause),
                        ..event
                    });
                }
            }
            Ok(carried) => {
                let mut deliver = |data| Event::Deliver {
                    link: link_id,
                    local: route.local,
                    via_public: route.via_public,
                    datagram: Datagram {
                        source: datagram.source,
                        destination: datagram.destination,
                        ecn: carried.ecn,
                        data,
                    },
                };
                let first = deliver(carried.data);
                let copy = carried.duplicate.map(&mut deliver);
                self.events.push(carried.arrival, first);
                if let Some(copy) = copy {
                    self.events.push(carried.arrival, copy);
                }
            }
        }
    }

    pub(super) fn handle_event(&mut self, event: Event) {
        match event {
            Event::Send { source, datagram } => self.send(source, datagram),
            Event::Rebind { private, public } => self.nat.bind(private, public),
            Event::Deliver {
                link,
                local,
                via_public,
                datagram,
            } => self.deliver(link, local, via_public, datagram),
            Event::Inject { local, datagram } => self.hand_over(None, local, datagram),
        }
    }

    fn deliver(
        &mut self,
        link: LinkId,
        local: SocketAddr,
        via_public: Option<SocketAddr>,
        datagram: Datagram,
    ) {
        if via_public.is_some_and(|public| !self.nat.forwards(public, local)) {
            self.links[link.0].stats.dropped_nat += 1;
            self.emit(TraceKind::Dropped(DropCause::Nat), Some(link), &datagram);
            return;
        }
        self.hand_over(Some(link), local, datagram);
    }

    /// Gives a datagram to the host owning `local`, counting it on `link`.
    fn hand_over(&mut self, link: Option<LinkId>, local: SocketAddr, datagram: Datagram) {
        let Some(&host) = self.owners.get(&local) else {
            self.drop_unrouted(datagram, link);
            return;
        };
        if let Some(link) = link {
            let stats = &mut self.links[link.0].stats;
            stats.delivered += 1;
            stats.delivered_bytes += datagram.data.len() as u64;
        }
        self.emit(TraceKind::Delivered, link, &datagram);
        let meta = DatagramMeta {
            remote: datagram.source,
            local,
            ecn: datagram.ecn,
        };
        let h = &mut self.hosts[host.0];
        h.node.handle_datagram(self.now, meta, datagram.data);
        h.dirty = true;
    }

    fn drop_unrouted(&mut self, datagram: Datagram, link: Option<LinkId>) {
        self.no_route += 1;
        self.emit(TraceKind::Dropped(DropCause::NoRoute), link, &datagram);
    }

    /// The trace record of `datagram`, or `None` when nobody listens.
    fn trace_event(
        &self,
        kind: TraceKind,
        link: Option<LinkId>,
        datagram: &Datagram,
    ) -> Option<TraceEvent> {
        self.trace.as_ref()?;
        Some(TraceEvent {
            time: self.now,
            kind,
            link,
            source: datagram.source,
            destination: datagram.destination,
            len: datagram.data.len(),
            digest: stats::digest(&datagram.data),
        })
    }

    fn emit(&mut self, kind: TraceKind, link: Option<LinkId>, datagram: &Datagram) {
        if let Some(event) = self.trace_event(kind, link, datagram) {
            self.emit_event(event);
        }
    }

    fn emit_event(&mut self, event: TraceEvent) {
        if let Some(hook) = self.trace.as_mut() {
            hook(&event);
        }
    }
}
