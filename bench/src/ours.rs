//! This project's own stack behind the [`Stack`] trait.
//!
//! The project's `Connection`/`Endpoint` (crate `quic-conn`) is not usable yet, so this kind
//! refuses to build: the harness then prints "n/a" for every figure of this column and no ratio.
//! It never reports numbers it did not measure.
//!
//! When the stack lands, this file alone changes: build a client and a server endpoint from the
//! [`StackConfig`] with the same settings the quinn module documents (TLS 1.3 with
//! AES-128-GCM and X25519 only, the shared ECDSA P-256 certificate verified by the client, full
//! handshakes without resumption or tokens, 1452-byte datagrams with no MTU discovery, CUBIC,
//! the same flow-control windows, stream limit and idle timeout), and implement [`Stack`] for
//! the pair.

use crate::stack::{Stack, StackConfig, StackKind, Unavailable};

/// This project's stack in the table.
pub const KIND: StackKind = StackKind {
    name: "ours",
    description: "this project's quic-conn (not available yet)",
    make,
};

fn make(_config: &StackConfig) -> Result<Box<dyn Stack>, Unavailable> {
    Err(Unavailable(
        "not available yet: quic-conn has no usable Connection/Endpoint".into(),
    ))
}
