//! Interop cells between this project's QUIC stack (quic-conn) and quinn-proto 0.11, run in
//! memory: one thread shuttles datagrams between our `Endpoint` and a quinn-proto `Endpoint`
//! over a simulated link ([`net`]) with virtual time, so a cell is deterministic (up to the
//! TLS randoms) and needs no sockets, no sleeps and no wall clock.
//!
//! Both ends speak hq-interop (HTTP/0.9 over QUIC, the QUIC interop runner's protocol): the
//! client opens one bidirectional stream per file, sends `GET /NAME\r\n` and FIN; the server
//! answers with the file's bytes and FIN. The client writes each body to `DOWNLOADS/NAME`,
//! where the caller (`cargo xtask interop`) compares it byte for byte with the source.
//!
//! Each test case also needs evidence that it really took place (a Retry on the wire, a
//! resumed session, 0-RTT requests read before the server's handshake completed, a changed
//! key phase, the negotiated cipher suite, ECN marks surviving validation, the server
//! following the client to its new address); [`check`] fails the cell when it is missing.
//!
//! Layout: [`net`] (link, clock, wire observer), [`tls`] (certificate, rustls set-up and the
//! hooks that count tickets and resumptions), [`ours`] and [`quinn`] (each stack as client
//! and server with its hq-interop application; [`quinn_tls`] watches quinn's keys), [`mod@run`]
//! (the driver), [`check`] (evidence).

#![forbid(unsafe_code)]

pub mod check;
pub mod net;
pub mod ours;
pub mod quinn;
pub mod quinn_tls;
pub mod run;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The QUIC interop runner's test cases this harness knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// A handshake and a few small files.
    Handshake,
    /// Files of several megabytes.
    Transfer,
    /// Many small files, more than one window of the server's stream limit.
    Multiplexing,
    /// HTTP/3 (quinn-proto has none: unsupported).
    Http3,
    /// Only TLS_CHACHA20_POLY1305_SHA256 offered by the client.
    ChaCha20,
    /// The server validates the client's address with Retry (RFC 9000 §8.1.2).
    Retry,
    /// A second connection resumes the first one's TLS session.
    Resumption,
    /// As resumption, with the second connection's requests in 0-RTT.
    ZeroRtt,
    /// The client updates the 1-RTT keys early in the transfer (RFC 9001 §6).
    KeyUpdate,
    /// QUIC version 2 (RFC 9369) by compatible version negotiation (RFC 9368).
    V2,
    /// ECN marks carried end to end and validated (RFC 9000 §13.4).
    Ecn,
    /// The server offers a preferred address (RFC 9000 §9.6) that the client moves to;
    /// where the client cannot, the client moves to a new local address during the
    /// transfer instead (RFC 9000 §9.2, see [`Case::preferred_address`]).
    ConnectionMigration,
}

impl Case {
    /// Every case, in the runner's order.
    pub const ALL: [Case; 12] = [
        Case::Handshake,
        Case::Transfer,
        Case::Multiplexing,
        Case::Http3,
        Case::ChaCha20,
        Case::Retry,
        Case::Resumption,
        Case::ZeroRtt,
        Case::KeyUpdate,
        Case::V2,
        Case::Ecn,
        Case::ConnectionMigration,
    ];

    /// The runner's name.
    pub fn name(self) -> &'static str {
        match self {
            Case::Handshake => "handshake",
            Case::Transfer => "transfer",
            Case::Multiplexing => "multiplexing",
            Case::Http3 => "http3",
            Case::ChaCha20 => "chacha20",
            Case::Retry => "retry",
            Case::Resumption => "resumption",
            Case::ZeroRtt => "zerortt",
            Case::KeyUpdate => "keyupdate",
            Case::V2 => "v2",
            Case::Ecn => "ecn",
            Case::ConnectionMigration => "connectionmigration",
        }
    }

    /// connectionmigration as the interop runner means it (the server offers a
    /// preferred_address and the client moves there) when the client can do that: ours.
    /// quinn-proto 0.11's client only takes the preferred address's connection ID (its
    /// `set_peer_params` adds it as sequence number 1) and never probes the address, so a
    /// quinn client migrates actively instead.
    pub fn preferred_address(self, client: Impl) -> bool {
        self == Case::ConnectionMigration && client == Impl::Ours
    }

    /// The case with the runner's name `name`.
    pub fn parse(name: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Which stack plays a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// This project's quic-conn.
    Ours,
    /// quinn-proto 0.11.
    Quinn,
}

impl Impl {
    /// The name on the command line and in the matrix.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::Quinn => "quinn",
        }
    }

    /// The stack named `name`.
    pub fn parse(name: &str) -> Option<Impl> {
        [Impl::Ours, Impl::Quinn]
            .into_iter()
            .find(|i| i.name() == name)
    }
}

/// The QUIC version 2 number (RFC 9369 §3.1).
pub const QUIC_V2: u32 = 0x6b33_43cf;

/// Why `case` cannot run between `client` and `server`, or `None` when it can.
pub fn unsupported(case: Case, client: Impl, server: Impl) -> Option<String> {
    let quinn = client == Impl::Quinn || server == Impl::Quinn;
    match case {
        Case::Http3 if quinn => Some(
            "quinn-proto has no HTTP/3 (h3 lives in separate crates on quinn's async API)".into(),
        ),
        // Read from quinn-proto itself, so this changes when quinn learns version 2.
        Case::V2 if quinn && !quinn_proto::DEFAULT_SUPPORTED_VERSIONS.contains(&QUIC_V2) => {
            Some(format!(
                "quinn-proto 0.11 does not support QUIC v2: its versions are {}",
                quinn_proto::DEFAULT_SUPPORTED_VERSIONS
                    .iter()
                    .map(|v| format!("{v:#x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        Case::V2 => Some("this in-memory harness does not run version 2 (yet)".into()),
        Case::Http3 => Some("this in-memory harness speaks hq-interop only".into()),
        _ => None,
    }
}

/// One cell to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The test case.
    pub case: Case,
    /// The client's stack.
    pub client: Impl,
    /// The server's stack.
    pub server: Impl,
    /// The files the server serves (every regular file of the directory is fetched).
    pub www: PathBuf,
    /// Where the client saves each body as `NAME`.
    pub downloads: PathBuf,
    /// TLS secrets of both ends in NSS key log format, if wanted.
    pub keylog: Option<PathBuf>,
    /// Clear ECN marks on the link (shows that ECN validation can fail).
    pub bleach_ecn: bool,
    /// Whether the server offers a preferred address (connectionmigration); `None` for the
    /// case's own choice, [`Case::preferred_address`].
    pub offer_preferred: Option<bool>,
}

/// How a cell ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every file downloaded and the case's evidence found; the text sums it up.
    Pass(String),
    /// The pair cannot run the case; the text says why.
    Unsupported(String),
    /// Something failed; the text says what.
    Fail(String),
}

/// Addresses on the simulated network.
pub mod addr {
    use super::SocketAddr;

    /// The server.
    pub fn server() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], 4433))
    }

    /// The client, before any migration.
    pub fn client() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 2], 50_000))
    }

    /// The client's second address (connectionmigration): another IP and port.
    pub fn client_migrated() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 3], 50_001))
    }

    /// The server's preferred address (connectionmigration, RFC 9000 §9.6): another IP
    /// on the server's port, as a host with two addresses and one socket has (a quinn
    /// endpoint is one socket).
    pub fn server_preferred() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 9], 4433))
    }
}

/// One-way delay of the simulated link.
pub const LINK_DELAY: Duration = Duration::from_millis(5);

/// The server's name, in its certificate and the client's SNI.
pub const SERVER_NAME: &str = "localhost";

/// The application protocol both ends use.
pub const ALPN: &[u8] = b"hq-interop";

pub use run::run;
