//! # quic-wire: QUIC on the wire
//!
//! Everything that turns QUIC bytes into values and back, with no I/O, no clock, no heap
//! allocation on the hot path and no `unsafe`:
//!
//! - [`VarInt`] (RFC 9000 §16) and the byte cursors [`codec::Reader`] / [`codec::Writer`];
//! - identifiers: [`ConnectionId`], [`StreamId`], [`PathId`], [`PacketNumber`];
//! - [`packet`]: long and short headers, Version Negotiation, Retry, coalesced datagrams;
//! - [`frame`]: every frame of RFC 9000 §19, DATAGRAM, ACK_FREQUENCY, IMMEDIATE_ACK and the
//!   multipath frames, parsed zero-copy as [`frame::Frame`] and written into `&mut [u8]`;
//! - [`transport_params`]: the QUIC transport parameters (RFC 9000 §18);
//! - [`crypto`]: packet protection traits and, with feature `ring`, their implementation.
//!
//! It is the shared vocabulary of the crate family: every other crate speaks in these types.
//!
//! ## Features
//! - `std` (default): `std::error::Error` impls and `std::time` conversions.
//! - `ring` (default): packet protection with ring.
//! - `arbitrary`: `Arbitrary` impls for fuzzing.
//!
//! Without default features the crate is `#![no_std]` and needs no allocator.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod cid;
pub mod codec;
pub mod crypto;
pub mod ecn;
pub mod error;
pub mod frame;
pub mod packet;
pub mod path;
pub mod pn;
pub mod stream_id;
pub mod time;
pub mod transport_params;
pub mod varint;
pub mod version;

pub use cid::ConnectionId;
pub use ecn::Ecn;
pub use error::{TransportError, TransportErrorCode};
pub use frame::{Frame, FrameType};
pub use packet::{PacketType, Space};
pub use path::PathId;
pub use pn::PacketNumber;
pub use stream_id::{Dir, Side, StreamId};
pub use time::Instant;
pub use transport_params::TransportParameters;
pub use varint::VarInt;
pub use version::Version;
