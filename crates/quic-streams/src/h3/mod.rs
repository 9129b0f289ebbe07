//! HTTP/3 (RFC 9114) and QPACK (RFC 9204), sans-IO.
//!
//! Layers, bottom up:
//! - [`qpack`] — field compression (static table, Huffman, dynamic tables, instructions);
//! - [`frame`] — HTTP/3 frames and the incremental frame decoder;
//! - [`message`] — request, response and trailer validation;
//! - [`priority`] — RFC 9218 priorities;
//! - [`session`] — the [`H3`] state machine over a [`Transport`];
//! - [`stream_type`] — unidirectional stream types;
//! - [`settings`] — the SETTINGS frame;
//! - [`error`] — the HTTP/3 and QPACK error code table.

pub mod error;
pub mod frame;
pub mod message;
pub mod priority;
pub mod qpack;
mod request;
mod seen;
pub mod session;
pub mod settings;
pub mod stream_type;
pub mod transport;
pub mod varint;

/// The byte buffer type the API takes and returns (re-exported from the `bytes` crate).
pub use bytes::Bytes;
pub use error::{Code, H3Error};
pub use priority::Priority;
pub use qpack::Field;
pub use session::{Config, H3};
pub use transport::{Event, SendError, Transport, TransportError};
