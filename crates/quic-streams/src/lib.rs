//! # quic-streams
//!
//! QUIC streams (RFC 9000 §2-4) as a sans-IO state machine: stream IDs and the send and
//! receive state machines, stream-count limits with automatic MAX_STREAMS replenishment
//! and a queue for streams opened past the peer's limit, connection and stream flow
//! control with window auto-tuning, send buffers (copying and zero-copy), bounded
//! out-of-order reassembly, the RFC 9218 priority scheduler, per-stream statistics, and
//! the packetization interface quic-conn builds packets with.
//!
//! [`Streams`] is the entry point; its documentation states the usage contract.
//!
//! | Module | What |
//! |---|---|
//! | [`state`] | the RFC 9000 §3 state machines as declared transitions |
//! | `send`, `recv` | the send buffer and the reassembly buffer |
//! | `flow`, `limits` | byte credit and stream-count credit |
//! | [`sched`] | RFC 9218 scheduling |
//! | `incoming` | frames from the peer, with the RFC's error codes |
//! | `packetize` | [`Streams::write_frames`] and the ack/loss callbacks |
//! | [`h3`] | HTTP/3 (RFC 9114) and QPACK (RFC 9204), generic over a small transport trait |
//!
//! Depends only on `quic-wire`. `#![no_std]` with `alloc`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod app;
mod error;
mod events;
mod flow;
mod incoming;
mod limits;
mod map;
mod packetize;
mod ranges;
pub mod recv;
pub mod sched;
mod send;
pub mod state;
mod stats;
mod stream;
mod streams;

#[cfg(test)]
mod tests;

pub use app::{Chunk, Read};
pub use error::StreamError;
pub use packetize::FrameRecord;
pub use sched::Priority;
pub use state::{RecvState, SendState};
pub use stats::StreamStats;
pub use streams::{
    Config, PeerLimits, PendingId, StreamEvent, StreamRef, Streams, CREDITLESS_BUFFER,
};
pub mod h3;
