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
