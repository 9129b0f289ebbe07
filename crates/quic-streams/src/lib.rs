//! # quic-streams
//!
//! QUIC streams (RFC 9000 §2-4): stream IDs and the send/receive state machines,
//! stream-count and data flow control, send buffers (copying and zero-copy), receive
//! reassembly, and RFC 9218 priorities; HTTP/3 and QPACK live in module `h3`.
//!
//! Depends only on `quic-wire`. Status: the crate is laid out; its contents are the subject
//! of the streams work item and are not implemented yet.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod h3;
