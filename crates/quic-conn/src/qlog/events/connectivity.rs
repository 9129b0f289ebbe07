//! Connectivity events (qlog QUIC events, "Connectivity events").

use alloc::string::String;

use serde::Serialize;

use crate::qlog::types::{Cid, ErrorName, Initiator, TupleEndpointInfo};

/// `quic:server_listening`: the server starts accepting connections.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ServerListening {
    /// IPv4 address listened on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_v4: Option<core::net::IpAddr>,
    /// IPv4 port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_v4: Option<u16>,
    /// IPv6 address listened on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_v6: Option<core::net::IpAddr>,
    /// IPv6 port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_v6: Option<u16>,
    /// Whether every client Initial is answered with a Retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_required: Option<bool>,
}

/// `quic:connection_started`: a connection attempt (client) or acceptance (server).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ConnectionStarted {
    /// This endpoint's side of the tuple.
    pub local: TupleEndpointInfo,
    /// The peer's side of the tuple.
    pub remote: TupleEndpointInfo,
}

/// `trigger` of `quic:connection_closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionClosedTrigger {
    /// The idle timeout expired.
    IdleTimeout,
    /// The application closed the connection.
    Application,
    /// An error closed the connection.
    Error,
    /// Version negotiation failed.
    VersionMismatch,
    /// A stateless reset was received.
    StatelessReset,
    /// The connection was aborted.
    Aborted,
    /// The cause is not known.
    Unspecified,
}

/// `quic:connection_closed`: the connection was closed or discarded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ConnectionClosed {
    /// Which side closed the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiator: Option<Initiator>,
    /// A transport or crypto error name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_error: Option<ErrorName>,
    /// An application error name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_error: Option<ErrorName>,
    /// The raw code when the error name is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u64>,
    /// An implementation-specific code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_code: Option<u64>,
    /// Free-text reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the connection closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<ConnectionClosedTrigger>,
}

impl ConnectionClosed {
    /// A close with a transport error code (a CRYPTO_ERROR gives `crypto_error_0x1XX`).
    pub fn transport(initiator: Initiator, code: u64) -> Self {
        let name = ErrorName::transport(code);
        ConnectionClosed {
            initiator: Some(initiator),
            connection_error: Some(name),
            error_code: name.is_unknown().then_some(code),
            ..Default::default()
        }
    }

    /// A close with an application error code, named through `namer` when given.
    pub fn application(
        initiator: Initiator,
        code: u64,
        namer: Option<crate::qlog::types::AppErrorNamer>,
    ) -> Self {
        let name = ErrorName::application(code, namer);
        ConnectionClosed {
            initiator: Some(initiator),
            application_error: Some(name),
            error_code: name.is_unknown().then_some(code),
            ..Default::default()
        }
    }
}

/// `quic:connection_id_updated`: the connection ID in use by one side changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionIdUpdated {
    /// `local` when this endpoint changed its own ID, `remote` for the peer's.
    pub initiator: Initiator,
    /// The previous ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Cid>,
    /// The new ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Cid>,
}

/// `quic:spin_bit_updated`: the latency spin bit changed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpinBitUpdated {
    /// The new value.
    pub state: bool,
}

/// `$ConnectionState`: the base and granular connection states of the draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionState {
    /// An Initial was sent or received.
    Attempted,
    /// A Handshake packet was sent or received.
    HandshakeStarted,
    /// Both Finished messages were sent and verified.
    HandshakeComplete,
    /// Closed (CONNECTION_CLOSE, stateless reset, idle timeout; or state discarded).
    Closed,
    /// The peer's address is validated (RFC 9000 §8.1).
    PeerValidated,
    /// The server may send 1-RTT data before the handshake completes.
    EarlyWrite,
    /// HANDSHAKE_DONE sent or received (RFC 9001 §4.1.2).
    HandshakeConfirmed,
    /// CONNECTION_CLOSE sent.
    Closing,
    /// CONNECTION_CLOSE received.
    Draining,
}

/// `quic:connection_state_updated`: the connection moved to a new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConnectionStateUpdated {
    /// The previous state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<ConnectionState>,
    /// The new state.
    pub new: ConnectionState,
}

/// `quic:tuple_assigned`: associates a `TupleID` with a four-tuple. (Earlier drafts
/// called this `path_assigned`; the included text uses `tuple_assigned`.)
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TupleAssigned {
    /// The tuple's ID; `""` is the handshake tuple.
    pub tuple_id: String,
    /// The remote side (traffic towards the peer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuple_remote: Option<TupleEndpointInfo>,
    /// The local side (traffic arriving here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuple_local: Option<TupleEndpointInfo>,
}

/// `quic:mtu_updated`: the path MTU estimate changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MtuUpdated {
    /// The previous estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<u32>,
    /// The new estimate.
    pub new: u32,
    /// Whether discovery has stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<bool>,
}

crate::qlog::impl_event! {
    ServerListening => "quic:server_listening",
    ConnectionStarted => "quic:connection_started",
    ConnectionClosed => "quic:connection_closed",
    ConnectionIdUpdated => "quic:connection_id_updated",
    SpinBitUpdated => "quic:spin_bit_updated",
    ConnectionStateUpdated => "quic:connection_state_updated",
    TupleAssigned => "quic:tuple_assigned",
    MtuUpdated => "quic:mtu_updated",
}
