//! Security events (qlog QUIC events, "Security Events").

use serde::Serialize;

use crate::qlog::types::Hex;

/// `$KeyType`: which secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyType {
    /// `"server_initial_secret"`.
    ServerInitialSecret,
    /// `"client_initial_secret"`.
    ClientInitialSecret,
    /// `"server_handshake_secret"`.
    ServerHandshakeSecret,
    /// `"client_handshake_secret"`.
    ClientHandshakeSecret,
    /// `"server_0rtt_secret"`.
    #[serde(rename = "server_0rtt_secret")]
    Server0RttSecret,
    /// `"client_0rtt_secret"`.
    #[serde(rename = "client_0rtt_secret")]
    Client0RttSecret,
    /// `"server_1rtt_secret"`.
    #[serde(rename = "server_1rtt_secret")]
    Server1RttSecret,
    /// `"client_1rtt_secret"`.
    #[serde(rename = "client_1rtt_secret")]
    Client1RttSecret,
}

/// What caused a key change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyTrigger {
    /// TLS produced the keys (Initial, Handshake, 0-RTT, first 1-RTT).
    Tls,
    /// The peer started a key update.
    RemoteUpdate,
    /// This endpoint started a key update.
    LocalUpdate,
}

/// `quic:key_updated`. The secrets themselves (`old`, `new`) are optional; leave them out
/// unless the trace is meant to decrypt captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyUpdated<'a> {
    /// Which secret.
    pub key_type: KeyType,
    /// The previous secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Hex<&'a [u8]>>,
    /// The new secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Hex<&'a [u8]>>,
    /// The full key phase, for 1-RTT updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_phase: Option<u64>,
    /// What caused the update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<KeyTrigger>,
}

/// `quic:key_discarded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyDiscarded<'a> {
    /// Which secret.
    pub key_type: KeyType,
    /// The secret discarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Hex<&'a [u8]>>,
    /// The full key phase, for 1-RTT keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_phase: Option<u64>,
    /// What caused the discard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<KeyTrigger>,
}

crate::qlog::impl_event! {
    KeyUpdated<'_> => "quic:key_updated",
    KeyDiscarded<'_> => "quic:key_discarded",
}
