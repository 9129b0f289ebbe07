//! qlog files on disk (qlog main schema §12.1): one JSON-SEQ file per connection, named
//! after the original destination connection ID and the vantage point, in the directory
//! the `QLOGDIR` environment variable names.
//!
//! The library never reads the environment by itself; an embedder that wants the
//! convention calls [`Qlog::from_qlogdir_env`] when it creates a connection.

use alloc::format;
use alloc::string::String;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use quic_wire::{ConnectionId, Instant, Side};

use super::types::Hex;
use super::writer::{Qlog, TraceConfig, VantagePointType};

/// The environment variable naming the directory qlog files go to.
pub const QLOGDIR: &str = "QLOGDIR";

/// The file name for a connection's trace: `<odcid hex>_<client|server>.sqlog` (the
/// extension of JSON-SEQ qlog files, main schema §11.2).
pub fn file_name(odcid: &ConnectionId, side: Side) -> String {
    let vantage = match VantagePointType::from(side) {
        VantagePointType::Client => "client",
        _ => "server",
    };
    format!("{}_{vantage}.sqlog", Hex(odcid))
}

impl Qlog {
    /// Creates `dir/<file_name>` (buffered) and starts a connection trace in it, with
    /// [`TraceConfig::connection`] settings.
    pub fn create_in_dir(
        dir: &Path,
        side: Side,
        odcid: &ConnectionId,
        reference: Instant,
    ) -> io::Result<Qlog> {
        let file = File::create(dir.join(file_name(odcid, side)))?;
        Qlog::start(
            BufWriter::new(file),
            &TraceConfig::connection(side, odcid),
            reference,
        )
    }

    /// Like [`Qlog::create_in_dir`] in the directory `QLOGDIR` names; a disabled handle
    /// when the variable is unset or empty.
    pub fn from_qlogdir_env(
        side: Side,
        odcid: &ConnectionId,
        reference: Instant,
    ) -> io::Result<Qlog> {
        match std::env::var_os(QLOGDIR) {
            Some(dir) if !dir.is_empty() => {
                Qlog::create_in_dir(Path::new(&dir), side, odcid, reference)
            }
            _ => Ok(Qlog::disabled()),
        }
    }
}

/// Starts the qlog trace of each connection an [`Endpoint`](crate::Endpoint) creates,
/// before the connection handles its first packet (so a server's trace begins with the
/// client's first Initial). Set it as [`EndpointConfig::qlog`](crate::endpoint::EndpointConfig::qlog).
pub trait QlogFactory: Send + Sync {
    /// The trace for a new connection on `side` whose original destination connection ID
    /// is `odcid`, starting at `now`; `None` leaves that connection unlogged.
    fn start(&self, side: Side, odcid: &ConnectionId, now: Instant) -> Option<Qlog>;
}

/// A [`QlogFactory`] writing one file per connection into a directory (named by
/// [`file_name`]). A file that cannot be created leaves its connection unlogged; the last
/// such error is kept for [`QlogDir::take_error`].
#[derive(Debug)]
pub struct QlogDir {
    dir: std::path::PathBuf,
    error: std::sync::Mutex<Option<io::Error>>,
}

impl QlogDir {
    /// Traces go to `dir`, which must exist.
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Self {
        QlogDir {
            dir: dir.into(),
            error: std::sync::Mutex::new(None),
        }
    }

    /// The directory `QLOGDIR` names, if set and not empty.
    pub fn from_env() -> Option<Self> {
        match std::env::var_os(QLOGDIR) {
            Some(dir) if !dir.is_empty() => Some(QlogDir::new(dir)),
            _ => None,
        }
    }

    /// The error of the last file that could not be created, if any.
    pub fn take_error(&self) -> Option<io::Error> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }
}

impl QlogFactory for QlogDir {
    fn start(&self, side: Side, odcid: &ConnectionId, now: Instant) -> Option<Qlog> {
        match Qlog::create_in_dir(&self.dir, side, odcid, now) {
            Ok(q) => Some(q),
            Err(e) => {
                if let Ok(mut slot) = self.error.lock() {
                    *slot = Some(e);
                }
                None
            }
        }
    }
}
