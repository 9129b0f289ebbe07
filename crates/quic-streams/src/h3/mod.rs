//! HTTP/3 (RFC 9114) and QPACK (RFC 9204), sans-IO.
//!
//! Layers, bottom up:
//! - [`qpack`]: field compression (static table, Huffman, dynamic tables, instructions);
//! - [`error`]: the HTTP/3 and QPACK error code table.

pub mod error;
pub mod qpack;

pub use error::{Code, H3Error};
