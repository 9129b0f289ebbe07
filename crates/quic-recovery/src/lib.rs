//! # quic-recovery
//!
//! Loss recovery for QUIC (RFC 9002), kept per path so that multipath (RFC 10069) is
//! "more than one path" rather than a second implementation:
//!
//! - receive history per (path, packet-number space) and the ACK policy, including the
//!   ack-frequency extension;
//! - sent-packet tracking with the caller's frame records, ACK processing in O(ranges +
//!   newly acknowledged), optimistic-ACK defence;
//! - RTT estimation, loss detection, PTO, persistent congestion;
//! - congestion control (NewReno, CUBIC with HyStart++, BBR) and pacing.
//!
//! Depends only on `quic-wire`. Status: the crate is laid out; its contents are the subject
//! of the recovery work item and are not implemented yet.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;
