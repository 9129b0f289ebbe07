//! This project's stack (`quic-conn`: its `Endpoint` and `Connection`, rustls 0.23 on ring for
//! the handshake) behind the [`Stack`] trait.
//!
//! How each shared setting of [`StackConfig`] reaches our configuration:
//!
//! * TLS: TLS 1.3 only, through a ring `CryptoProvider` reduced to the one suite
//!   `TLS13_AES_128_GCM_SHA256` and the one group X25519 on both ends (the same provider the
//!   quinn module builds), wrapped in `quic_conn::tls::rustls::RustlsConfig`. The server holds
//!   the shared ECDSA P-256 certificate and key; the client's root store holds exactly that
//!   certificate, and rustls verifies it on every handshake. No ALPN on either side (quinn is
//!   given none either).
//! * Full handshakes only: the client's rustls resumption is disabled, the server sends no
//!   session tickets and keeps no session storage, early data stays off (`max_early_data_size`
//!   0, `enable_early_data` false), so there is no 0-RTT. NEW_TOKEN tokens are not issued
//!   (`EndpointConfig::new_tokens` is off, its default) and Retry is left off
//!   (`EndpointConfig::retry = false`), so no address-validation token is ever issued or
//!   stored.
//! * Datagrams: `Config::max_udp_payload` and `Config::initial_mtu` are both
//!   [`StackConfig::max_udp_payload`] (1452): our transport parameter and the fixed datagram
//!   size of the path from the first packet, which turns path MTU discovery off (quinn gets
//!   the same: initial and minimum MTU 1452, discovery off). Given room for several, a
//!   transmit holds up to that many full-size datagrams back to back (GSO, `segment_size`
//!   set), as quinn's does with its segmentation offload on. The congestion
//!   controller's `max_datagram_size` is set to the same value here: the library does not carry
//!   `max_udp_payload` over to `RecoveryConfig::max_datagram_size` (default 1200) by itself.
//! * Congestion control: [`StackConfig::congestion`]; CUBIC in the benchmark, as our
//!   `CcConfig::Cubic { hystart: true }`, which is our default (quinn's CUBIC has no HyStart++,
//!   so "each stack's default parameters" differ there). Pacing is our built-in pacer with its
//!   default burst of 10 datagrams.
//! * Flow control: stream receive window `stream_window` (4 MiB) and connection receive window
//!   `connection_window` (8 MiB), each with auto-tuning capped at the same value so the windows
//!   stay fixed as quinn's do; the send buffer is `send_window` (8 MiB). quinn bounds unsent plus
//!   unacknowledged data of the whole connection and also stops taking writes at the peer's
//!   flow-control credit (4 MiB for one stream); ours bounds each stream's buffer by the send
//!   buffer and by the peer's window for the stream (the most credit it granted beyond the
//!   acknowledged data, 4 MiB here), so both bulk senders hold about 4 MiB. The 1 KiB streams
//!   never reach either bound. The peer may open `max_bidi_streams` (100) bidirectional streams at once;
//!   unidirectional streams keep our default of 100, as quinn keeps its default of 100.
//! * Recovery internals stay at our defaults, including `SentConfig::initial_capacity` (0:
//!   the sent-packet ring grows with the packets in flight). Our endpoint keeps each
//!   `Connection` in its own allocation, which is most of what is left of our "heap per
//!   idle connection" figure (see `examples/idle_profile.rs` to break it down).
//! * Idle timeout: [`StackConfig::idle_timeout`] (30 s). Everything else is our default:
//!   8-byte connection IDs, ACK policy, DATAGRAM frames up to 1200 bytes accepted, greased
//!   fixed bit, no keep-alive.
//! * Randomness: every connection gets a ChaCha12 generator (rand's `StdRng`) seeded from
//!   [`StackConfig::seed`], as quinn seeds its `StdRng`s. The server derives stateless reset
//!   tokens with HMAC-SHA256 under a key from the same seed (quinn has reset keys by default).
//!
//! Adapting our API to the trait (none of it changes what goes on the wire):
//!
//! * `Endpoint::connection` needs `&mut self` while the trait's `is_established`/`is_closed`
//!   take `&self`, so each endpoint sits in a `RefCell`.
//! * Our `open` never refuses at the peer's stream limit: it returns a pending stream that
//!   starts when MAX_STREAMS arrives. The trait wants "not now" instead, so a pending stream is
//!   dropped again at once (it never reached the wire) and `open_bi` returns `None`.
//! * Our `poll_transmit` writes into an initialised `&mut [u8]`, so the driver's scratch
//!   buffer is zero-filled to the burst's full size the first time (quinn appends to the
//!   `Vec` directly).
//! * Connection events are drained after every application call on that connection (only
//!   "peer opened a bidirectional stream" is kept, for `accept_bi`); endpoint events after
//!   every datagram and timer (accepted and removed connections).
//!
//! Time: our stack takes `quic_wire::Instant` (nanoseconds from an arbitrary origin). The
//! module fixes the origin when the pair is built and converts the driver's
//! `std::time::Instant`s relative to it (one second in, so no deadline is ever computed below
//! zero).

use std::{
    cell::RefCell,
    collections::{BTreeMap, VecDeque},
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::BytesMut;
use quic_conn::{
    conn::Config,
    endpoint::HmacResetTokens,
    tls::{rustls::RustlsConfig, TlsConfig},
    ConnectionHandle, DatagramMeta, Endpoint, EndpointConfig, EndpointEvent, Event, SansIo,
};
use quic_recovery::CcConfig;
use quic_streams::{StreamEvent, StreamRef};
use quic_wire::{Dir, Ecn, VarInt};
use rand::{rngs::StdRng, SeedableRng};

use crate::stack::{
    Burst, Congestion, ConnId, ReadState, Side, Stack, StackConfig, StackKind, StreamId,
    Unavailable,
};
use crate::tls;

/// This project's stack in the table.
pub const KIND: StackKind = StackKind {
    name: "ours",
    description: "this project's quic-conn + rustls 0.23 (ring), CUBIC",
    make,
};

const CLIENT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000);
const SERVER_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 4433);

/// Where the driver's first instant lands on our clock.
const CLOCK_BASE: Duration = Duration::from_secs(1);

fn make(config: &StackConfig) -> Result<Box<dyn Stack>, Unavailable> {
    OurStack::new(config)
        .map(|s| Box::new(s) as Box<dyn Stack>)
        .map_err(Unavailable)
}

fn client_tls(config: &StackConfig) -> Result<RustlsConfig, String> {
    Ok(RustlsConfig::Client(Arc::new(tls::rustls_client(config)?)))
}

fn server_tls(config: &StackConfig) -> Result<RustlsConfig, String> {
    Ok(RustlsConfig::Server(Arc::new(tls::rustls_server(config)?)))
}

/// The connection settings both of our endpoints use.
fn connection_config(config: &StackConfig) -> Config {
    let base = Config::default();
    Config {
        // The path's datagram size from the start, with no path MTU discovery: what quinn
        // gets (`initial_mtu` = `min_mtu` = this size, discovery off).
        initial_mtu: config.max_udp_payload,
        max_udp_payload: config.max_udp_payload,
        recovery: quic_recovery::RecoveryConfig {
            max_datagram_size: u64::from(config.max_udp_payload),
            cc: match config.congestion {
                Congestion::Cubic => CcConfig::Cubic { hystart: true },
                Congestion::NewReno => CcConfig::NewReno,
            },
            ..base.recovery
        },
        idle_timeout: Some(config.idle_timeout),
        streams: quic_streams::Config {
            max_concurrent_bidi: config.max_bidi_streams,
            stream_window: config.stream_window,
            max_stream_window: config.stream_window,
            conn_window: config.connection_window,
            max_conn_window: config.connection_window,
            send_buffer: config.send_window,
            max_send_buffer: config.send_window,
            ..base.streams
        },
        ..base
    }
}

/// rand's `StdRng` (ChaCha12) seen through the `rand_core` 0.6 traits our library takes.
struct SeededRng(StdRng);

impl rand_core::RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        rand::Rng::next_u32(&mut self.0)
    }

    fn next_u64(&mut self) -> u64 {
        rand::Rng::next_u64(&mut self.0)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::Rng::fill_bytes(&mut self.0, dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        rand::Rng::fill_bytes(&mut self.0, dest);
        Ok(())
    }
}

// ChaCha12 is a cryptographically secure generator.
impl rand_core::CryptoRng for SeededRng {}

/// An RNG factory for an endpoint: each connection gets its own `StdRng`, seeded from one
/// master generator derived from `seed`.
fn rng_factory(seed: u64) -> quic_conn::endpoint::RngFactory {
    let mut master = StdRng::seed_from_u64(seed);
    Box::new(move || {
        let mut s = [0u8; 32];
        rand::Rng::fill_bytes(&mut master, &mut s);
        Box::new(SeededRng(StdRng::from_seed(s)))
    })
}

/// One endpoint with what the harness needs on top of it.
struct End {
    /// In a `RefCell` because [`Endpoint::connection`] needs `&mut`, and the trait's
    /// `is_established`/`is_closed` take `&self`.
    endpoint: RefCell<Endpoint>,
    /// Bidirectional streams the peer opened, per connection, not yet handed to the workload.
    opened: BTreeMap<ConnectionHandle, VecDeque<quic_wire::StreamId>>,
    /// Connections accepted and not yet handed to the workload (server only).
    accepted: VecDeque<ConnectionHandle>,
    local: SocketAddr,
    peer: SocketAddr,
}

impl End {
    fn new(endpoint: Endpoint, local: SocketAddr, peer: SocketAddr) -> Self {
        Self {
            endpoint: RefCell::new(endpoint),
            opened: BTreeMap::new(),
            accepted: VecDeque::new(),
            local,
            peer,
        }
    }

    /// Takes the endpoint's events: accepted and removed connections.
    fn endpoint_events(&mut self) {
        let ep = self.endpoint.get_mut();
        while let Some(ev) = ep.poll_event() {
            match ev {
                EndpointEvent::Accepted(h) => self.accepted.push_back(h),
                EndpointEvent::Removed(h) => {
                    self.opened.remove(&h);
                }
                _ => {}
            }
        }
    }

    /// Drains the application events of connection `h`, keeping the streams the peer opened.
    /// Called after every application call on `h`, so the queue never grows unbounded.
    fn settle(&mut self, h: ConnectionHandle) {
        if let Some(c) = self.endpoint.get_mut().connection(h) {
            drain_events(h, c, &mut self.opened);
        }
    }

    /// Runs `f` on connection `h`, then drains its events: one lookup of the connection for
    /// both.
    fn with_conn<R>(
        &mut self,
        h: ConnectionHandle,
        f: impl FnOnce(&mut quic_conn::Connection) -> R,
    ) -> Option<R> {
        let c = self.endpoint.get_mut().connection(h)?;
        let r = f(c);
        drain_events(h, c, &mut self.opened);
        Some(r)
    }
}

/// Drains the application events of connection `h` (`c`), keeping the bidirectional streams
/// the peer opened in `opened`.
fn drain_events(
    h: ConnectionHandle,
    c: &mut quic_conn::Connection,
    opened: &mut BTreeMap<ConnectionHandle, VecDeque<quic_wire::StreamId>>,
) {
    while let Some(ev) = c.poll_event() {
        if let Event::Stream(StreamEvent::Opened { id }) = ev {
            if id.dir() == Dir::Bi {
                opened.entry(h).or_default().push_back(id);
            }
        }
    }
}

/// Our client and server endpoints in one value.
pub struct OurStack {
    client: End,
    server: End,
    client_tls: Arc<dyn TlsConfig>,
    server_name: String,
    origin: Instant,
    max_udp_payload: usize,
}

/// Our client and server endpoints as the benchmark configures them, and the client's TLS
/// configuration (for [`Endpoint::connect`]). Tests drive these directly.
pub struct Endpoints {
    /// The client endpoint (no server TLS).
    pub client: Endpoint,
    /// The server endpoint.
    pub server: Endpoint,
    /// What the client connects with.
    pub client_tls: Arc<dyn TlsConfig>,
}

/// Builds both endpoints from the shared settings, exactly as [`OurStack`] does.
pub fn endpoints(config: &StackConfig) -> Result<Endpoints, String> {
    let conn = connection_config(config);
    let mut seeds = crate::loss::SplitMix64::new(config.seed);
    let mut reset_key = [0u8; 32];
    for chunk in reset_key.chunks_mut(8) {
        chunk.copy_from_slice(&seeds.next_u64().to_le_bytes());
    }
    let server_config = EndpointConfig {
        connection: conn,
        server_tls: Some(Arc::new(server_tls(config)?)),
        retry: false,
        reset_tokens: Some(Arc::new(HmacResetTokens::new(reset_key))),
        ..EndpointConfig::default()
    };
    let client_config = EndpointConfig {
        connection: conn,
        server_tls: None,
        retry: false,
        ..EndpointConfig::default()
    };
    let server = Endpoint::new(server_config, rng_factory(seeds.next_u64()));
    let client = Endpoint::new(client_config, rng_factory(seeds.next_u64()));
    Ok(Endpoints {
        client,
        server,
        client_tls: Arc::new(client_tls(config)?),
    })
}

impl OurStack {
    /// Builds both endpoints from the shared settings.
    pub fn new(config: &StackConfig) -> Result<Self, String> {
        let Endpoints {
            client,
            server,
            client_tls,
        } = endpoints(config)?;
        Ok(Self {
            client: End::new(client, CLIENT_ADDR, SERVER_ADDR),
            server: End::new(server, SERVER_ADDR, CLIENT_ADDR),
            client_tls,
            server_name: config.server_name.clone(),
            origin: Instant::now(),
            max_udp_payload: usize::from(config.max_udp_payload),
        })
    }

    fn end(&self, side: Side) -> &End {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    fn end_mut(&mut self, side: Side) -> &mut End {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// The driver's instant on our clock.
    fn to_ours(&self, t: Instant) -> quic_wire::Instant {
        let since = t.saturating_duration_since(self.origin) + CLOCK_BASE;
        quic_wire::Instant::from_nanos(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Our instant on the driver's clock; `None` for a deadline too far away to represent.
    fn to_std(&self, t: quic_wire::Instant) -> Option<Instant> {
        let since = Duration::from_nanos(t.as_nanos());
        match since.checked_sub(CLOCK_BASE) {
            Some(d) => self.origin.checked_add(d),
            None => Some(self.origin),
        }
    }
}

fn handle(conn: ConnId) -> ConnectionHandle {
    ConnectionHandle(conn.0 as u64)
}

fn our_id(id: StreamId) -> Option<quic_wire::StreamId> {
    VarInt::from_u64(id.0).ok().map(quic_wire::StreamId::from)
}

impl Stack for OurStack {
    fn poll_transmit(
        &mut self,
        side: Side,
        now: Instant,
        buf: &mut Vec<u8>,
        max_datagrams: usize,
    ) -> Option<Burst> {
        let now = self.to_ours(now);
        let want = self.max_udp_payload * max_datagrams.max(1);
        let end = self.end_mut(side);
        // Zero-filled once: later calls find the scratch already long enough.
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let t = end
            .endpoint
            .get_mut()
            .poll_transmit(now, &mut buf[..want])?;
        Some(Burst::new(t.size, t.segment_size))
    }

    fn handle_datagram(&mut self, side: Side, now: Instant, datagram: BytesMut) {
        let now = self.to_ours(now);
        let end = self.end_mut(side);
        let meta = DatagramMeta {
            remote: end.peer,
            local: end.local,
            ecn: Ecn::NotEct,
        };
        end.endpoint.get_mut().handle_datagram(now, meta, datagram);
        end.endpoint_events();
    }

    fn poll_timeout(&mut self, side: Side) -> Option<Instant> {
        let t = self.end(side).endpoint.borrow().poll_timeout()?;
        self.to_std(t)
    }

    fn handle_timeout(&mut self, side: Side, now: Instant) {
        let now = self.to_ours(now);
        let end = self.end_mut(side);
        end.endpoint.get_mut().handle_timeout(now);
        end.endpoint_events();
    }

    fn connect(&mut self, now: Instant) -> Result<ConnId, String> {
        let now = self.to_ours(now);
        let h = self
            .client
            .endpoint
            .get_mut()
            .connect(
                now,
                self.client_tls.clone(),
                &self.server_name,
                CLIENT_ADDR,
                SERVER_ADDR,
            )
            .map_err(|e| e.to_string())?;
        self.client.settle(h);
        usize::try_from(h.0).map(ConnId).map_err(|e| e.to_string())
    }

    fn accept(&mut self) -> Option<ConnId> {
        let h = self.server.accepted.pop_front()?;
        usize::try_from(h.0).ok().map(ConnId)
    }

    fn is_established(&self, side: Side, conn: ConnId) -> bool {
        self.end(side)
            .endpoint
            .borrow_mut()
            .connection(handle(conn))
            .is_some_and(|c| c.is_established())
    }

    fn is_closed(&self, side: Side, conn: ConnId) -> bool {
        self.end(side)
            .endpoint
            .borrow_mut()
            .connection(handle(conn))
            .is_none_or(|c| c.is_closed())
    }

    fn connection_count(&self, side: Side) -> usize {
        self.end(side).endpoint.borrow().connection_count()
    }

    fn open_bi(&mut self, side: Side, conn: ConnId) -> Option<StreamId> {
        let opened = self.end_mut(side).with_conn(handle(conn), |c| {
            match c.open(Dir::Bi) {
                Ok(StreamRef::Id(id)) => Some(id),
                // Our library opens a stream beyond the peer's limit as a queued "pending"
                // stream; the trait wants "not now" instead, so the queued stream is
                // dropped again (it never reached the wire).
                Ok(StreamRef::Pending(p)) => {
                    let _ = c.reset(p, VarInt::ZERO);
                    None
                }
                Err(_) => None,
            }
        });
        opened.flatten().map(|id| StreamId(id.into_inner()))
    }

    fn accept_bi(&mut self, side: Side, conn: ConnId) -> Option<StreamId> {
        let h = handle(conn);
        let end = self.end_mut(side);
        end.settle(h);
        let id = end.opened.get_mut(&h)?.pop_front()?;
        Some(StreamId(id.into_inner()))
    }

    fn write(&mut self, side: Side, conn: ConnId, stream: StreamId, data: &[u8]) -> usize {
        let Some(id) = our_id(stream) else {
            return 0;
        };
        self.end_mut(side)
            .with_conn(handle(conn), |c| c.write(id, data).unwrap_or(0))
            .unwrap_or(0)
    }

    fn finish(&mut self, side: Side, conn: ConnId, stream: StreamId) {
        if let Some(id) = our_id(stream) {
            self.end_mut(side).with_conn(handle(conn), |c| {
                let _ = c.finish(id);
            });
        }
    }

    fn read(
        &mut self,
        side: Side,
        conn: ConnId,
        stream: StreamId,
        sink: &mut dyn FnMut(&[u8]),
    ) -> ReadState {
        let Some(id) = our_id(stream) else {
            return ReadState::Reset;
        };
        self.end_mut(side)
            .with_conn(handle(conn), |c| loop {
                match c.streams().read_chunk(id, usize::MAX) {
                    Ok(chunk) => {
                        if !chunk.data.is_empty() {
                            sink(&chunk.data);
                        }
                        if chunk.fin {
                            break ReadState::Finished;
                        }
                        if chunk.data.is_empty() {
                            break ReadState::Open;
                        }
                    }
                    // Reset by the peer, or unknown (already freed).
                    Err(_) => break ReadState::Reset,
                }
            })
            .unwrap_or(ReadState::Reset)
    }

    fn close(&mut self, side: Side, conn: ConnId, now: Instant) {
        let now = self.to_ours(now);
        self.end_mut(side).with_conn(handle(conn), |c| {
            c.close(now, VarInt::ZERO, &[]);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_conversion_round_trips() {
        let tls = crate::tls::TlsMaterial::generate("localhost").unwrap();
        let s = OurStack::new(&crate::run::stack_config(&tls, 1)).unwrap();
        let t = s.origin + Duration::from_millis(1234);
        assert_eq!(s.to_std(s.to_ours(t)), Some(t));
        assert_eq!(s.to_ours(s.origin).as_nanos(), 1_000_000_000);
    }
}
