//! The typed events, one module per section of the drafts. Every event type implements
//! [`crate::qlog::Event`], which gives its `name` (namespace and type, e.g.
//! `"quic:packet_sent"`); the struct serializes to the event's `data`.

pub mod connectivity;
pub mod data;
pub mod h3;
pub mod recovery;
pub mod security;
pub mod transport;
