//! HTTP/3 (RFC 9114) and QPACK (RFC 9204), sans-IO.
//!
//! Layers, bottom up:
//! - [`qpack`]: field compression (static table, Huffman, dynamic tables, instructions);
//! - [`frame`]: HTTP/3 frames and the incremental frame decoder;
//! - [`stream_type`]: unidirectional stream types;
//! - [`settings`]: SETTINGS;
//! - [`error`]: the HTTP/3 and QPACK error code table.

pub mod error;
pub mod frame;
pub mod qpack;
pub mod settings;
pub mod stream_type;
pub mod varint;

pub use error::{Code, H3Error};
