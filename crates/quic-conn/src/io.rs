//! The sans-IO surface: what goes in (datagrams, time) and what comes out (datagrams to
//! send, the next deadline). [`Endpoint`](crate) and the network simulator speak it; an
//! embedder's event loop drives it.

use core::net::SocketAddr;

use bytes::BytesMut;
use quic_wire::{Ecn, Instant};

/// Where a received datagram came from and how it was marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramMeta {
    /// The sender's address.
    pub remote: SocketAddr,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The ECN codepoint of the IP packet.
    pub ecn: Ecn,
}

/// A datagram (or a batch of same-size datagrams) written into the caller's buffer by
/// `poll_transmit`: send `buf[..size]` to `destination`.
#[must_use = "a Transmit describes bytes that must be sent"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send.
    pub destination: SocketAddr,
    /// The local address to send from, when it matters (several local addresses).
    pub source: Option<SocketAddr>,
    /// The ECN codepoint to mark the IP packet with.
    pub ecn: Ecn,
    /// How many bytes of the buffer were written.
    pub size: usize,
    /// When `size` holds several datagrams back to back (GSO), the size of each but
    /// possibly the last; `None` for a single datagram.
    pub segment_size: Option<usize>,
    /// The earliest time to put the datagram on the wire (pacing); `None` for now.
    pub send_at: Option<Instant>,
}

/// The sans-IO contract shared by an endpoint and anything that stands in for one (the
/// simulator's hosts): feed datagrams and time in, drain datagrams out, sleep until the
/// deadline. After any input, call [`SansIo::poll_transmit`] until it returns `None`, then
/// wait for the next datagram or [`SansIo::poll_timeout`].
pub trait SansIo {
    /// A datagram arrived. The buffer is taken by value so packets can be decrypted in
    /// place and stream data handed to the application without a copy.
    fn handle_datagram(&mut self, now: Instant, meta: DatagramMeta, data: BytesMut);

    /// Writes the next datagram to send into `buf` (the caller sizes it: 1500 bytes, or
    /// a multiple of that for GSO) and describes it, or returns `None` when there is
    /// nothing to send now.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit>;

    /// The next time [`SansIo::handle_timeout`] must be called, if any.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Time passed; deadlines at or before `now` fire.
    fn handle_timeout(&mut self, now: Instant);
}
