//! # quic-sched
//!
//! Multipath path scheduling: given a plain snapshot of every path (RTT, congestion window,
//! bytes in flight, status, loss), decide which path carries the next packet. Schedulers are
//! pluggable.
//!
//! Depends only on `quic-wire`. Status: the crate is laid out; schedulers come with the
//! multipath work.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;
