//! # quic-conn
//!
//! The sans-IO QUIC `Connection` (one connection, all its paths) and `Endpoint` (many
//! connections: connection-ID demultiplexing, stateless replies, timers, fair transmit),
//! composed from `quic-wire`, `quic-recovery`, `quic-streams` and `quic-sched`; the rustls
//! TLS adapter, qlog, statistics and the `sim` deterministic network simulator.
//!
//! Status: the crate is laid out; the connection is the subject of its own work item and is
//! not implemented yet.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;
