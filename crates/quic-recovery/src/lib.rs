//! # quic-recovery
//!
//! Loss recovery for QUIC (RFC 9002), kept per path so that multipath (RFC 10069) is
//! "more than one path" rather than a second implementation. Nothing here reads a clock or
//! a system RNG: time comes in as [`quic_wire::Instant`], randomness as a
//! `&mut dyn rand_core::RngCore`, and every deadline goes out as an absolute `Instant`.
//!
//! - [`RecvHistory`] and [`AckTracker`]: the receive history per (path, packet-number space)
//!   and the ACK policy, with the receiver side of the ack-frequency extension;
//!   [`AckFrequencySender`] is the sender side (asking the peer for fewer ACKs);
//! - [`SentPackets`]: sent-packet tracking with the caller's frame records `F`, ACK
//!   processing in O(ranges + newly acknowledged), optimistic-ACK defence;
//! - [`RttEstimator`]; [`PathRecovery`]: loss detection, PTO, persistent congestion and
//!   spurious-loss undo for one path, driving a [`cc::CongestionController`] and a [`Pacer`];
//! - [`cc`]: NewReno, CUBIC with HyStart++, BBR (v3 model) and an adaptive CUBIC/BBR mode.
//!
//! ## Allocation
//! Rings and scratch buffers are allocated when a path is created and grow only to the
//! largest window seen; processing an ACK or recording a sent packet does not allocate in
//! steady state (`tests/no_alloc.rs` counts).
//!
//! ## Features
//! - `std` (default): nothing beyond `quic-wire/std` yet. Without it the crate is
//!   `#![no_std]` with `alloc`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod ack_frequency;
pub mod ack_policy;
pub mod cc;
pub mod loss;
pub mod pacer;
pub mod rate;
pub mod recv_history;
pub mod rtt;
pub mod sent;

/// The `rand_core` this crate takes its RNG trait from, for callers without their own.
pub use rand_core;

pub use ack_frequency::{AckFrequencyConfig, AckFrequencyRequest, AckFrequencySender};
pub use ack_policy::{AckConfig, AckTracker, AckWritten, Ecn};
pub use cc::{CcConfig, CongestionController};
pub use loss::{
    AckSummary, CongestionState, PathRecovery, RecoveryConfig, RecoverySink, RecoveryStats,
    TimeoutAction, Timer,
};
pub use pacer::Pacer;
pub use rate::{DeliveryState, RateSample, RateSampler};
pub use recv_history::{Inserted, RecvHistory};
pub use rtt::RttEstimator;
pub use sent::{Acked, LostPacket, SentConfig, SentPacket, SentPackets};
