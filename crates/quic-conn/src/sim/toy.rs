//! Small [`SansIo`] nodes for exercising the simulator without a QUIC stack, and as
//! examples of the contract: [`Scripted`] sends what it is told when it is told and
//! records what arrives; [`Echo`] answers every datagram with the same bytes.

use core::{net::SocketAddr, time::Duration};
use std::{collections::VecDeque, vec::Vec};

use bytes::BytesMut;
use quic_wire::{Ecn, Instant};

use crate::io::{DatagramMeta, SansIo, Transmit};

/// A datagram (or GSO batch) a [`Scripted`] node will send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// When the node hands it out of `poll_transmit` (it asks for a timeout then).
    pub at: Instant,
    /// The source address, or `None` for the host's default.
    pub source: Option<SocketAddr>,
    /// Where to.
    pub destination: SocketAddr,
    /// ECN codepoint.
    pub ecn: Ecn,
    /// The bytes (several datagrams back to back when `segment_size` is set).
    pub payload: Vec<u8>,
    /// GSO segment size.
    pub segment_size: Option<usize>,
    /// Pacing time passed through in the [`Transmit`].
    pub send_at: Option<Instant>,
}

impl Planned {
    /// A plain datagram of `payload` to `destination` at `at`.
    pub fn new(at: Instant, destination: SocketAddr, payload: Vec<u8>) -> Self {
        Planned {
            at,
            source: None,
            destination,
            ecn: Ecn::NotEct,
            payload,
            segment_size: None,
            send_at: None,
        }
    }
}

/// A datagram a node received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// When it arrived.
    pub time: Instant,
    /// Where from, on which local address, with which ECN mark.
    pub meta: DatagramMeta,
    /// The payload.
    pub data: Vec<u8>,
}

impl Arrival {
    /// The sequence number written by [`numbered_payload`], if the payload is long enough.
    pub fn seq(&self) -> Option<u64> {
        let head: [u8; 8] = self.data.get(..8)?.try_into().ok()?;
        Some(u64::from_be_bytes(head))
    }
}

/// A payload of `len` bytes (at least 8) starting with `seq` in big-endian, padded with
/// a byte pattern derived from `seq`.
pub fn numbered_payload(seq: u64, len: usize) -> Vec<u8> {
    let mut payload = Vec::with_capacity(len.max(8));
    payload.extend_from_slice(&seq.to_be_bytes());
    payload.resize(len.max(8), seq.to_le_bytes()[0]);
    payload
}

/// Sends planned datagrams at their times and records everything that arrives.
#[derive(Debug, Clone, Default)]
pub struct Scripted {
    /// Not yet due, sorted by `at` (stable for equal times).
    plan: VecDeque<Planned>,
    /// Due, waiting for `poll_transmit`.
    outbox: VecDeque<Planned>,
    received: Vec<Arrival>,
}

impl Scripted {
    /// A node with nothing planned.
    pub fn new() -> Self {
        Scripted::default()
    }

    /// Plans a send, after any already planned for the same time.
    pub fn plan(&mut self, planned: Planned) {
        let at = self.plan.partition_point(|p| p.at <= planned.at);
        self.plan.insert(at, planned);
    }

    /// Plans `count` datagrams of `len` bytes to `destination`, numbered from 0, the
    /// first at `start` and then every `interval`.
    pub fn plan_numbered(
        &mut self,
        destination: SocketAddr,
        count: u64,
        len: usize,
        start: Instant,
        interval: Duration,
    ) {
        for seq in 0..count {
            let at = start + interval * u32::try_from(seq).unwrap_or(u32::MAX);
            self.plan(Planned::new(at, destination, numbered_payload(seq, len)));
        }
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> &[Arrival] {
        &self.received
    }

    /// The sequence numbers received so far, in arrival order.
    pub fn received_seqs(&self) -> Vec<u64> {
        self.received.iter().filter_map(Arrival::seq).collect()
    }

    fn release_due(&mut self, now: Instant) {
        while self.plan.front().is_some_and(|p| p.at <= now) {
            if let Some(p) = self.plan.pop_front() {
                self.outbox.push_back(p);
            }
        }
    }
}

impl SansIo for Scripted {
    fn handle_datagram(&mut self, now: Instant, meta: DatagramMeta, data: BytesMut) {
        self.received.push(Arrival {
            time: now,
            meta,
            data: data.to_vec(),
        });
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.release_due(now);
        let p = self.outbox.pop_front()?;
        let size = p.payload.len().min(buf.len());
        buf[..size].copy_from_slice(&p.payload[..size]);
        Some(Transmit {
            destination: p.destination,
            source: p.source,
            ecn: p.ecn,
            size,
            segment_size: p.segment_size,
            send_at: p.send_at,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.plan.front().map(|p| p.at)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.release_due(now);
    }
}

/// Answers every datagram with the same bytes, from the address it arrived on to the
/// address it came from.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    pending: VecDeque<(DatagramMeta, BytesMut)>,
    received: Vec<Arrival>,
    echoed: u64,
}

impl Echo {
    /// A new echo node.
    pub fn new() -> Self {
        Echo::default()
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> &[Arrival] {
        &self.received
    }

    /// How many datagrams it has sent back.
    pub fn echoed(&self) -> u64 {
        self.echoed
    }
}

impl SansIo for Echo {
    fn handle_datagram(&mut self, now: Instant, meta: DatagramMeta, data: BytesMut) {
        self.received.push(Arrival {
            time: now,
            meta,
            data: data.to_vec(),
        });
        self.pending.push_back((meta, data));
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (meta, data) = self.pending.pop_front()?;
        let size = data.len().min(buf.len());
        buf[..size].copy_from_slice(&data[..size]);
        self.echoed += 1;
        Some(Transmit {
            destination: meta.remote,
            source: Some(meta.local),
            ecn: meta.ecn,
            size,
            segment_size: None,
            send_at: None,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn handle_timeout(&mut self, _now: Instant) {}
}
