//! # quic-conn
//!
//! The sans-IO QUIC `Connection` (one connection, all its paths) and `Endpoint` (many
//! connections: connection-ID demultiplexing, stateless replies, timers, fair transmit),
//! composed from `quic-wire`, `quic-recovery`, `quic-streams` and `quic-sched`; the rustls
//! TLS adapter, qlog, statistics and the `sim` deterministic network simulator.
//!
//! [`io::SansIo`] is the contract every driver (an embedder's event loop, the simulator)
//! relies on.
//!
//! - [`conn::Connection`]: one connection; its documentation states the usage contract.
//! - [`endpoint::Endpoint`]: many connections behind one socket; implements [`SansIo`].
//! - [`tls`]: the TLS session interface; with feature `rustls`, `tls::rustls::RustlsConfig`.
//!
//! Randomness always comes from the embedder (`rand_core::CryptoRngCore`), time is always
//! an argument, and nothing here reads a clock or touches a socket.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod cid;
pub mod conn;
pub mod endpoint;
pub mod io;
#[cfg(feature = "qlog")]
pub mod qlog;
#[cfg(feature = "sim")]
pub mod sim;
pub mod tls;

pub use conn::{Config, Connection, ConnectionError, Event};
pub use endpoint::{ConnectionHandle, Endpoint, EndpointConfig, EndpointEvent, ResetTokens};
pub use io::{DatagramMeta, SansIo, Transmit};
