//! qlog events of a connection: the glue between the connection's state and the typed
//! events of [`crate::qlog`]. Every event is built inside the closure handed to
//! [`Qlog::emit`], so nothing is computed while logging is off.

use alloc::vec::Vec;
use core::time::Duration;

use quic_wire::frame::FrameIter;
use quic_wire::{Instant, Space};

use super::{Connection, ConnectionError};
use crate::qlog::events::connectivity::{
    ConnectionClosed, ConnectionClosedTrigger, ConnectionStarted, ConnectionState,
    ConnectionStateUpdated,
};
use crate::qlog::events::recovery::{PacketLost, RecoveryMetricsUpdated};
use crate::qlog::events::transport::{PacketReceived, PacketSent, ParametersSet};
use crate::qlog::types::{PacketType, TupleEndpointInfo};
use crate::qlog::{Initiator, PacketHeader, Qlog, QuicFrame, RawInfo};

/// A duration in (fractional) milliseconds, as qlog wants RTTs.
fn ms(d: Duration) -> f32 {
    d.as_secs_f32() * 1000.0
}

/// The qlog type of the packets we send in `space`.
pub(crate) fn sent_type(space: Space) -> PacketType {
    match space {
        Space::Initial => PacketType::Initial,
        Space::Handshake => PacketType::Handshake,
        Space::Data => PacketType::OneRtt,
    }
}

/// A header with the type and number of a packet and its length.
fn header(ty: PacketType, pn: u64) -> PacketHeader<'static> {
    PacketHeader::new(ty, Some(pn))
}

/// `quic:packet_lost` for packet `pn` of `space`, declared lost by recovery.
pub(crate) fn packet_lost(qlog: &mut Qlog, now: Instant, space: Space, pn: u64) {
    qlog.emit(now, || PacketLost {
        header: Some(header(sent_type(space), pn)),
        ..Default::default()
    });
}

impl Connection {
    /// Sends this connection's qlog events to `qlog` from now on, starting with
    /// `connection_started` (the addresses and connection IDs of path 0) and the local
    /// transport parameters (and the peer's, if already known). Events of the past are
    /// not replayed: to log a server connection from its first packet, give the endpoint a
    /// [`QlogFactory`](crate::qlog::file::QlogFactory).
    pub fn set_qlog(&mut self, qlog: Qlog) {
        self.qlog = qlog;
        let now = self.qlog_reference();
        if let Some(path) = self.paths.first() {
            let (local_cid, remote_cid) = (self.local_cid, self.remote_cid);
            self.qlog.emit(now, || {
                let mut local = TupleEndpointInfo::from_addr(path.local);
                local.connection_ids = Some(alloc::vec![local_cid.into()]);
                let mut remote = TupleEndpointInfo::from_addr(path.remote);
                remote.connection_ids = Some(alloc::vec![remote_cid.into()]);
                ConnectionStarted { local, remote }
            });
        }
        let local = &self.local_params;
        self.qlog.emit(now, || {
            ParametersSet::from_transport_parameters(Initiator::Local, local)
        });
        if let Some(peer) = self.peer_params.as_ref() {
            self.qlog.emit(now, || {
                ParametersSet::from_transport_parameters(Initiator::Remote, peer)
            });
        }
    }

    /// The time of the events logged outside any input: the trace's start.
    fn qlog_reference(&mut self) -> Instant {
        let mut at = Instant::ZERO;
        self.qlog.with(|s| {
            at = s.reference();
            Ok(())
        });
        at
    }

    /// The peer's transport parameters were accepted.
    pub(crate) fn qlog_peer_params(&mut self, now: Instant) {
        let Some(peer) = self.peer_params.as_ref() else {
            return;
        };
        self.qlog.emit(now, || {
            ParametersSet::from_transport_parameters(Initiator::Remote, peer)
        });
    }

    /// The connection state moved from `old` to `new`.
    pub(crate) fn qlog_state(
        &mut self,
        now: Instant,
        old: Option<ConnectionState>,
        new: ConnectionState,
    ) {
        self.qlog.emit(now, || ConnectionStateUpdated { old, new });
    }

    /// A packet of type `ty` numbered `pn`, `len` bytes long, was sent; its frames are the
    /// plaintext kept by [`Qlog::capture_sent`] just before it was sealed.
    pub(crate) fn qlog_packet_sent(
        &mut self,
        now: Instant,
        ty: quic_wire::packet::PacketType,
        pn: u64,
        len: usize,
    ) {
        if !self.qlog.enabled() {
            return;
        }
        let payload = self.qlog.take_sent();
        {
            let frames: Vec<QuicFrame<'_>> = FrameIter::new(&payload, ty)
                .map_while(Result::ok)
                .map(|f| QuicFrame::from_frame(&f))
                .collect();
            self.qlog.emit(now, || {
                let mut e = PacketSent::new(header(ty.into(), pn), &frames);
                e.raw = Some(RawInfo::length(len as u64));
                e
            });
        }
        self.qlog.restore_sent(payload);
    }

    /// A packet numbered `pn` was opened; `payload` is its plaintext and `len` its size.
    pub(crate) fn qlog_packet_received(
        &mut self,
        now: Instant,
        ty: quic_wire::packet::PacketType,
        pn: u64,
        payload: &[u8],
        len: usize,
    ) {
        if !self.qlog.enabled() {
            return;
        }
        let frames: Vec<QuicFrame<'_>> = FrameIter::new(payload, ty)
            .map_while(Result::ok)
            .map(|f| QuicFrame::from_frame(&f))
            .collect();
        self.qlog.emit(now, || {
            let mut e = PacketReceived::new(header(ty.into(), pn), &frames);
            e.raw = Some(RawInfo::length(len as u64));
            e
        });
    }

    /// An ACK was processed: the RTT estimates and the congestion state of path 0.
    pub(crate) fn qlog_metrics(&mut self, now: Instant) {
        let Connection { qlog, paths, .. } = self;
        let Some(path) = paths.first() else {
            return;
        };
        qlog.emit(now, || {
            let rtt = path.recovery.rtt();
            RecoveryMetricsUpdated {
                min_rtt: Some(ms(rtt.min())),
                smoothed_rtt: Some(ms(rtt.smoothed())),
                latest_rtt: Some(ms(rtt.latest())),
                congestion_window: Some(path.recovery.window()),
                bytes_in_flight: Some(path.recovery.bytes_in_flight()),
                ..Default::default()
            }
        });
    }

    /// The version was chosen (`quic:version_information`): a server logs the client's
    /// offer (`client`) and its own list, a client its own offer.
    pub(crate) fn qlog_version(
        &mut self,
        now: Instant,
        client: Option<&quic_wire::transport_params::VersionInformation>,
    ) {
        use crate::qlog::events::transport::VersionInformation;
        use crate::qlog::types::QuicVersion;
        let list = match self.side {
            quic_wire::Side::Server => self.config.accepted_versions(),
            quic_wire::Side::Client => self.config.offered_versions(),
        };
        let ours: Vec<QuicVersion> = list.as_slice().iter().copied().map(QuicVersion).collect();
        let theirs: Option<Vec<QuicVersion>> =
            client.map(|vi| vi.available().iter().copied().map(QuicVersion).collect());
        let chosen = Some(QuicVersion(self.version));
        let server = self.side == quic_wire::Side::Server;
        self.qlog.emit(now, || {
            if server {
                VersionInformation {
                    server_versions: Some(ours),
                    client_versions: theirs,
                    chosen_version: chosen,
                }
            } else {
                VersionInformation {
                    server_versions: None,
                    client_versions: Some(ours),
                    chosen_version: chosen,
                }
            }
        });
    }

    /// The connection closed with `error`.
    pub(crate) fn qlog_closed(&mut self, now: Instant, error: &ConnectionError) {
        self.qlog.emit(now, || match error {
            ConnectionError::PeerTransport { code, .. } => {
                ConnectionClosed::transport(Initiator::Remote, code.0)
            }
            ConnectionError::PeerApplication { code, .. } => {
                ConnectionClosed::application(Initiator::Remote, code.into_inner(), None)
            }
            ConnectionError::Transport(e) => {
                ConnectionClosed::transport(Initiator::Local, e.code.0)
            }
            ConnectionError::LocallyClosed(code) => {
                let mut c =
                    ConnectionClosed::application(Initiator::Local, code.into_inner(), None);
                c.trigger = Some(ConnectionClosedTrigger::Application);
                c
            }
            ConnectionError::TimedOut => ConnectionClosed {
                trigger: Some(ConnectionClosedTrigger::IdleTimeout),
                ..Default::default()
            },
            ConnectionError::Reset => ConnectionClosed {
                trigger: Some(ConnectionClosedTrigger::StatelessReset),
                ..Default::default()
            },
            ConnectionError::VersionMismatch | ConnectionError::VersionNegotiation(_) => {
                ConnectionClosed {
                    trigger: Some(ConnectionClosedTrigger::VersionMismatch),
                    ..Default::default()
                }
            }
            ConnectionError::RetryTokenTooLong { .. } => ConnectionClosed {
                trigger: Some(ConnectionClosedTrigger::Aborted),
                ..Default::default()
            },
        });
        // Make what was logged so far reach the file even if the connection is dropped.
        self.qlog.with(|s| s.flush());
    }
}
