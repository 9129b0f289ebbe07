//! quinn-proto 0.11 behind the [`Stack`] trait, with rustls 0.23 on ring.
//!
//! Settings, each chosen to match what the other stack gets from the same [`StackConfig`]:
//!
//! * TLS: TLS 1.3 only; a ring `CryptoProvider` cut down to the single suite
//!   `TLS13_AES_128_GCM_SHA256` and the single group X25519, on both client and server, so
//!   nothing else can be negotiated. The server presents the shared self-signed ECDSA P-256
//!   certificate; the client trusts exactly that certificate and verifies it on every handshake.
//! * Full handshakes only: client session resumption is disabled and the server issues no
//!   session tickets (so no 0-RTT either). quinn's address-validation tokens (NEW_TOKEN) are not
//!   sent, so the client never stores any.
//! * Datagrams: the endpoint's `max_udp_payload_size`, the initial MTU and the minimum MTU are all
//!   [`StackConfig::max_udp_payload`] (1452 in the benchmark) and path MTU discovery is off.
//!   Segmentation offload stays on (quinn's default), so `poll_transmit` returns up to the
//!   driver's `max_datagrams` datagrams back to back, as ours does: with it off, quinn-proto
//!   would send one datagram per call whatever the driver asked for.
//! * Congestion control: [`StackConfig::congestion`], CUBIC in the benchmark, with quinn's
//!   default parameters (`CubicConfig::default()`, also quinn's default controller). Pacing is
//!   quinn's built-in pacer, always on.
//! * Flow control: `stream_receive_window`, `receive_window` and `send_window` from the config
//!   (4 MiB, 8 MiB and 8 MiB in the benchmark: enough that the in-memory bulk transfer is never
//!   flow-control limited), `max_concurrent_bidi_streams` from the config (100), idle timeout
//!   from the config (30 s). Everything else is quinn's default.
//! * Endpoint random numbers are seeded from [`StackConfig::seed`]; stateless-reset and token
//!   keys are quinn's defaults (ring HMAC/HKDF keys from the system RNG).

use std::{
    collections::{HashMap, VecDeque},
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Instant,
};

use bytes::{Bytes, BytesMut};
use quinn_proto::{
    congestion::{CubicConfig, NewRenoConfig},
    crypto::rustls::{QuicClientConfig, QuicServerConfig},
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Dir, Endpoint, EndpointConfig,
    Event, IdleTimeout, ReadError, ServerConfig, TransportConfig, ValidationTokenConfig, VarInt,
};

use crate::stack::{
    Burst, Congestion, ConnId, ReadState, Side, Stack, StackConfig, StackKind, StreamId,
    Unavailable,
};
use crate::tls;

/// quinn-proto in the table.
pub const KIND: StackKind = StackKind {
    name: "quinn",
    description: "quinn-proto 0.11 + rustls 0.23 (ring), CUBIC",
    make,
};

const CLIENT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000);
const SERVER_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 4433);

fn make(config: &StackConfig) -> Result<Box<dyn Stack>, Unavailable> {
    QuinnStack::new(config)
        .map(|s| Box::new(s) as Box<dyn Stack>)
        .map_err(Unavailable)
}

fn transport(config: &StackConfig) -> Result<Arc<TransportConfig>, String> {
    let varint = |v: u64| VarInt::from_u64(v).map_err(|e| format!("{v}: {e}"));
    let mut t = TransportConfig::default();
    t.initial_mtu(config.max_udp_payload)
        .min_mtu(config.max_udp_payload)
        .mtu_discovery_config(None)
        // quinn's default, stated: GSO bursts of up to `max_datagrams`, as the driver asks.
        .enable_segmentation_offload(true)
        .stream_receive_window(varint(config.stream_window)?)
        .receive_window(varint(config.connection_window)?)
        .send_window(config.send_window)
        .max_concurrent_bidi_streams(varint(config.max_bidi_streams)?)
        .max_idle_timeout(Some(
            IdleTimeout::try_from(config.idle_timeout).map_err(|e| e.to_string())?,
        ));
    match config.congestion {
        Congestion::Cubic => t.congestion_controller_factory(Arc::new(CubicConfig::default())),
        Congestion::NewReno => t.congestion_controller_factory(Arc::new(NewRenoConfig::default())),
    };
    Ok(Arc::new(t))
}

fn client_config(config: &StackConfig) -> Result<ClientConfig, String> {
    let tls = tls::rustls_client(config)?;
    let quic = QuicClientConfig::try_from(tls).map_err(|e| e.to_string())?;
    let mut c = ClientConfig::new(Arc::new(quic));
    c.transport_config(transport(config)?);
    Ok(c)
}

fn server_config(config: &StackConfig) -> Result<ServerConfig, String> {
    let tls = tls::rustls_server(config)?;
    let quic = QuicServerConfig::try_from(tls).map_err(|e| e.to_string())?;
    let mut s = ServerConfig::with_crypto(Arc::new(quic));
    s.transport_config(transport(config)?);
    let mut tokens = ValidationTokenConfig::default();
    tokens.sent(0);
    s.validation_token_config(tokens);
    Ok(s)
}

/// One connection and what the harness needs to know about it.
struct Conn {
    conn: Connection,
    established: bool,
    closed: bool,
}

/// One endpoint with its connections.
struct End {
    endpoint: Endpoint,
    conns: HashMap<ConnectionHandle, Conn>,
    /// Round-robin order for `poll_transmit`, so no connection starves the others.
    order: Vec<ConnectionHandle>,
    next: usize,
    /// Datagrams the endpoint itself produced (refusals, resets), sent before anything else.
    pending: VecDeque<Bytes>,
    /// Connections accepted and not yet handed to the workload (server only).
    accepted: VecDeque<ConnectionHandle>,
    /// Where this end's datagrams come from.
    peer: SocketAddr,
    scratch: Vec<u8>,
}

impl End {
    fn new(endpoint: Endpoint, peer: SocketAddr) -> Self {
        Self {
            endpoint,
            conns: HashMap::new(),
            order: Vec::new(),
            next: 0,
            pending: VecDeque::new(),
            accepted: VecDeque::new(),
            peer,
            scratch: Vec::new(),
        }
    }

    fn insert(&mut self, ch: ConnectionHandle, conn: Connection) {
        self.conns.insert(
            ch,
            Conn {
                conn,
                established: false,
                closed: false,
            },
        );
        self.order.push(ch);
    }

    /// Runs the endpoint/connection event exchange and drains application events for `ch`;
    /// forgets the connection once quinn reports it drained.
    fn settle(&mut self, ch: ConnectionHandle) {
        let Some(c) = self.conns.get_mut(&ch) else {
            return;
        };
        let mut drained = false;
        while let Some(ev) = c.conn.poll_endpoint_events() {
            drained |= ev.is_drained();
            if let Some(back) = self.endpoint.handle_event(ch, ev) {
                c.conn.handle_event(back);
            }
        }
        while let Some(ev) = c.conn.poll() {
            match ev {
                Event::Connected => c.established = true,
                Event::ConnectionLost { .. } => c.closed = true,
                _ => {}
            }
        }
        if drained {
            self.conns.remove(&ch);
            self.order.retain(|h| *h != ch);
        }
    }

    fn conn(&mut self, id: ConnId) -> Option<&mut Connection> {
        self.conns
            .get_mut(&ConnectionHandle(id.0))
            .map(|c| &mut c.conn)
    }
}

/// quinn-proto client and server endpoints in one value.
pub struct QuinnStack {
    client: End,
    server: End,
    client_config: ClientConfig,
    server_name: String,
}

impl QuinnStack {
    /// Builds both endpoints from the shared settings.
    pub fn new(config: &StackConfig) -> Result<Self, String> {
        let mut endpoint_config = EndpointConfig::default();
        endpoint_config
            .max_udp_payload_size(config.max_udp_payload)
            .map_err(|e| e.to_string())?;
        let mut seed = [0u8; 32];
        let mut rng = crate::loss::SplitMix64::new(config.seed);
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        let endpoint_config = Arc::new(endpoint_config);
        let server = Endpoint::new(
            endpoint_config.clone(),
            Some(Arc::new(server_config(config)?)),
            false,
            Some(seed),
        );
        seed[0] ^= 0xff;
        let client = Endpoint::new(endpoint_config, None, false, Some(seed));
        Ok(Self {
            client: End::new(client, SERVER_ADDR),
            server: End::new(server, CLIENT_ADDR),
            client_config: client_config(config)?,
            server_name: config.server_name.clone(),
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
}

impl Stack for QuinnStack {
    fn poll_transmit(
        &mut self,
        side: Side,
        now: Instant,
        buf: &mut Vec<u8>,
        max_datagrams: usize,
    ) -> Option<Burst> {
        let end = self.end_mut(side);
        buf.clear();
        if let Some(d) = end.pending.pop_front() {
            buf.extend_from_slice(&d);
            return Some(Burst::new(d.len(), None));
        }
        let n = end.order.len();
        for i in 0..n {
            let idx = (end.next + i) % n;
            let ch = end.order[idx];
            let Some(c) = end.conns.get_mut(&ch) else {
                continue;
            };
            if let Some(t) = c.conn.poll_transmit(now, max_datagrams.max(1), buf) {
                buf.truncate(t.size);
                end.next = (idx + 1) % n;
                end.settle(ch);
                return Some(Burst::new(t.size, t.segment_size));
            }
        }
        None
    }

    fn handle_datagram(&mut self, side: Side, now: Instant, data: BytesMut) {
        let end = self.end_mut(side);
        let mut resp = std::mem::take(&mut end.scratch);
        resp.clear();
        match end
            .endpoint
            .handle(now, end.peer, None, None, data, &mut resp)
        {
            Some(DatagramEvent::ConnectionEvent(ch, ev)) => {
                if let Some(c) = end.conns.get_mut(&ch) {
                    c.conn.handle_event(ev);
                    end.settle(ch);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                resp.clear();
                match end.endpoint.accept(incoming, now, &mut resp, None) {
                    Ok((ch, conn)) => {
                        end.insert(ch, conn);
                        end.accepted.push_back(ch);
                        end.settle(ch);
                    }
                    Err(e) => {
                        if let Some(t) = e.response {
                            end.pending
                                .push_back(Bytes::copy_from_slice(&resp[..t.size]));
                        }
                    }
                }
            }
            Some(DatagramEvent::Response(t)) => {
                end.pending
                    .push_back(Bytes::copy_from_slice(&resp[..t.size]));
            }
            None => {}
        }
        end.scratch = resp;
    }

    fn poll_timeout(&mut self, side: Side) -> Option<Instant> {
        self.end_mut(side)
            .conns
            .values_mut()
            .filter_map(|c| c.conn.poll_timeout())
            .min()
    }

    fn handle_timeout(&mut self, side: Side, now: Instant) {
        let end = self.end_mut(side);
        let due: Vec<ConnectionHandle> = end
            .conns
            .iter_mut()
            .filter_map(|(h, c)| {
                c.conn
                    .poll_timeout()
                    .is_some_and(|t| t <= now)
                    .then_some(*h)
            })
            .collect();
        for ch in due {
            if let Some(c) = end.conns.get_mut(&ch) {
                c.conn.handle_timeout(now);
            }
            end.settle(ch);
        }
    }

    fn connect(&mut self, now: Instant) -> Result<ConnId, String> {
        let (ch, conn) = self
            .client
            .endpoint
            .connect(
                now,
                self.client_config.clone(),
                SERVER_ADDR,
                &self.server_name,
            )
            .map_err(|e| e.to_string())?;
        self.client.insert(ch, conn);
        self.client.settle(ch);
        Ok(ConnId(ch.0))
    }

    fn accept(&mut self) -> Option<ConnId> {
        self.server.accepted.pop_front().map(|h| ConnId(h.0))
    }

    fn is_established(&self, side: Side, conn: ConnId) -> bool {
        self.end(side)
            .conns
            .get(&ConnectionHandle(conn.0))
            .is_some_and(|c| c.established && !c.closed)
    }

    fn is_closed(&self, side: Side, conn: ConnId) -> bool {
        self.end(side)
            .conns
            .get(&ConnectionHandle(conn.0))
            .is_none_or(|c| c.closed)
    }

    fn connection_count(&self, side: Side) -> usize {
        self.end(side).conns.len()
    }

    fn open_bi(&mut self, side: Side, conn: ConnId) -> Option<StreamId> {
        let id = self.end_mut(side).conn(conn)?.streams().open(Dir::Bi)?;
        Some(StreamId(u64::from(id)))
    }

    fn accept_bi(&mut self, side: Side, conn: ConnId) -> Option<StreamId> {
        let id = self.end_mut(side).conn(conn)?.streams().accept(Dir::Bi)?;
        Some(StreamId(u64::from(id)))
    }

    fn write(&mut self, side: Side, conn: ConnId, stream: StreamId, data: &[u8]) -> usize {
        let end = self.end_mut(side);
        let Some(c) = end.conn(conn) else {
            return 0;
        };
        let n = c.send_stream(quinn_id(stream)).write(data).unwrap_or(0);
        end.settle(ConnectionHandle(conn.0));
        n
    }

    fn finish(&mut self, side: Side, conn: ConnId, stream: StreamId) {
        let end = self.end_mut(side);
        if let Some(c) = end.conn(conn) {
            let _ = c.send_stream(quinn_id(stream)).finish();
            end.settle(ConnectionHandle(conn.0));
        }
    }

    fn read(
        &mut self,
        side: Side,
        conn: ConnId,
        stream: StreamId,
        sink: &mut dyn FnMut(&[u8]),
    ) -> ReadState {
        let end = self.end_mut(side);
        let Some(c) = end.conn(conn) else {
            return ReadState::Reset;
        };
        let mut recv = c.recv_stream(quinn_id(stream));
        let state = match recv.read(true) {
            Err(_) => ReadState::Reset,
            Ok(mut chunks) => {
                let state = loop {
                    match chunks.next(usize::MAX) {
                        Ok(Some(chunk)) => sink(&chunk.bytes),
                        Ok(None) => break ReadState::Finished,
                        Err(ReadError::Blocked) => break ReadState::Open,
                        Err(ReadError::Reset(_)) => break ReadState::Reset,
                    }
                };
                let _ = chunks.finalize();
                state
            }
        };
        end.settle(ConnectionHandle(conn.0));
        state
    }

    fn close(&mut self, side: Side, conn: ConnId, now: Instant) {
        let end = self.end_mut(side);
        if let Some(c) = end.conn(conn) {
            c.close(now, VarInt::from_u32(0), Bytes::new());
            end.settle(ConnectionHandle(conn.0));
        }
    }
}

fn quinn_id(id: StreamId) -> quinn_proto::StreamId {
    // Stream IDs handed out by this module came from quinn and fit in a varint.
    quinn_proto::StreamId::from(VarInt::from_u64(id.0).unwrap_or(VarInt::MAX))
}
