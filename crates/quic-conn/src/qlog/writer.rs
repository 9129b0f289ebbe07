//! The JSON-SEQ writer (qlog main schema §5 `QlogFileSeq`, §11.2; RFC 7464).
//!
//! A file is a header record followed by one record per event. Every record starts with
//! the ASCII Record Separator (0x1E) and ends with a line feed. Each record is serialized
//! into a buffer the streamer keeps and reuses, then handed to the writer with one
//! `write_all`, so an event costs no allocation of its own and a failed serialization never
//! leaves half a record in the file.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use std::io::{self, Write};

use quic_wire::Instant;
use serde::Serialize;

use super::Event;

/// `file_schema` of a JSON-SEQ qlog file.
pub const FILE_SCHEMA: &str = "urn:ietf:params:qlog:file:sequential";
/// `serialization_format` of a JSON-SEQ qlog file (its media type).
pub const SERIALIZATION_FORMAT: &str = "application/qlog+json-seq";
/// Event schema URI of the QUIC events. Drafts identify themselves with a `-NN` suffix
/// (qlog QUIC events §3.1); the events follow the editor's copy after draft 13.
pub const QUIC_EVENT_SCHEMA: &str = "urn:ietf:params:qlog:events:quic-13";
/// Event schema URI of the HTTP/3 events (draft 13).
pub const HTTP3_EVENT_SCHEMA: &str = "urn:ietf:params:qlog:events:http3-13";

/// The record separator that starts every JSON-SEQ record (RFC 7464 §2).
pub const RECORD_SEPARATOR: u8 = 0x1e;

/// `VantagePointType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VantagePointType {
    /// The endpoint that initiates the connection.
    Client,
    /// The endpoint that accepts it.
    Server,
    /// An observer on the path.
    Network,
    /// Not known.
    Unknown,
}

impl From<quic_wire::Side> for VantagePointType {
    fn from(side: quic_wire::Side) -> Self {
        if side.is_client() {
            VantagePointType::Client
        } else {
            VantagePointType::Server
        }
    }
}

/// `VantagePoint`: where the trace was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VantagePoint {
    /// A free-form name, e.g. `"quic-conn client"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The kind of vantage point.
    #[serde(rename = "type")]
    pub ty: VantagePointType,
    /// For `network` vantage points: whose data flow they follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<VantagePointType>,
}

/// What goes into the header record of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    /// The file's title.
    pub title: Option<String>,
    /// The file's description.
    pub description: Option<String>,
    /// Where the trace is taken.
    pub vantage_point: VantagePoint,
    /// `common_fields.group_id`; for QUIC, the original destination connection ID in hex.
    pub group_id: Option<String>,
    /// `reference_time.wall_clock_time`: an RFC 3339 date and time matching the reference
    /// instant, if the embedder knows one.
    pub wall_clock_time: Option<String>,
    /// List the HTTP/3 event schema besides the QUIC one.
    pub http3: bool,
    /// Also write the header fields of older qlog versions that existing tools such as
    /// qvis look for: `qlog_version`, `qlog_format` and `common_fields.protocol_types`.
    /// They are extra keys the current schema neither defines nor forbids.
    pub compat_fields: bool,
}

impl TraceConfig {
    /// A trace for one connection: `side` gives the vantage point, `odcid` the group ID.
    /// HTTP/3 events and compatibility fields are on.
    pub fn connection(side: quic_wire::Side, odcid: &quic_wire::ConnectionId) -> Self {
        TraceConfig {
            title: None,
            description: None,
            vantage_point: VantagePoint {
                name: None,
                ty: side.into(),
                flow: None,
            },
            group_id: Some(alloc::format!("{}", super::types::Hex(odcid))),
            wall_clock_time: None,
            http3: true,
            compat_fields: true,
        }
    }
}

impl TraceConfig {
    /// A trace for events not tied to one connection (qlog QUIC events §1.3), such as
    /// `server_listening` or packets dropped for an unknown connection: no group ID.
    pub fn endpoint(side: quic_wire::Side) -> Self {
        TraceConfig {
            title: None,
            description: None,
            vantage_point: VantagePoint {
                name: None,
                ty: side.into(),
                flow: None,
            },
            group_id: None,
            wall_clock_time: None,
            http3: false,
            compat_fields: true,
        }
    }
}

#[derive(Serialize)]
struct ReferenceTime<'a> {
    clock_type: &'static str,
    epoch: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    wall_clock_time: Option<&'a str>,
}

#[derive(Serialize)]
struct CommonFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<&'a str>,
    time_format: &'static str,
    reference_time: ReferenceTime<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol_types: Option<&'static [&'static str]>,
}

#[derive(Serialize)]
struct TraceSeq<'a> {
    common_fields: CommonFields<'a>,
    vantage_point: &'a VantagePoint,
    event_schemas: &'a [&'static str],
}

#[derive(Serialize)]
struct QlogFileSeq<'a> {
    file_schema: &'static str,
    serialization_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    qlog_version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qlog_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    trace: TraceSeq<'a>,
}

#[derive(Serialize)]
struct EventRecord<'a, E> {
    time: f64,
    name: &'static str,
    data: &'a E,
    #[serde(skip_serializing_if = "Option::is_none")]
    tuple: Option<&'a str>,
}

/// Milliseconds from `reference` to `now`, the unit of an event's `time`; 0 when `now` is
/// earlier than `reference`.
pub fn relative_ms(reference: Instant, now: Instant) -> f64 {
    let ns = now.as_nanos().saturating_sub(reference.as_nanos());
    // Whole milliseconds and the remainder separately, so nanoseconds survive the float.
    (ns / 1_000_000) as f64 + (ns % 1_000_000) as f64 / 1_000_000.0
}

fn json_error(e: serde_json::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, alloc::format!("{e}"))
}

/// Writes one qlog trace as JSON-SEQ to any [`Write`].
///
/// [`QlogStreamer::new`] writes the header record; [`QlogStreamer::log`] appends one event.
/// Event times are milliseconds since the reference instant given at creation
/// (`time_format` `relative_to_epoch`, `reference_time` a monotonic clock with an unknown
/// epoch: the epoch is the reference instant).
pub struct QlogStreamer<W: Write> {
    out: W,
    reference: Instant,
    buf: Vec<u8>,
}

impl<W: Write> fmt::Debug for QlogStreamer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QlogStreamer")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

impl<W: Write> QlogStreamer<W> {
    /// Starts a trace whose event times count from `reference`, writing its header record.
    pub fn new(out: W, config: &TraceConfig, reference: Instant) -> io::Result<Self> {
        let mut streamer = QlogStreamer {
            out,
            reference,
            buf: Vec::with_capacity(512),
        };
        let schemas: &[&str] = if config.http3 {
            &[QUIC_EVENT_SCHEMA, HTTP3_EVENT_SCHEMA]
        } else {
            &[QUIC_EVENT_SCHEMA]
        };
        let protocols: &'static [&'static str] = if config.http3 {
            &["QUIC", "HTTP3"]
        } else {
            &["QUIC"]
        };
        let header = QlogFileSeq {
            file_schema: FILE_SCHEMA,
            serialization_format: SERIALIZATION_FORMAT,
            qlog_version: config.compat_fields.then_some("0.3"),
            qlog_format: config.compat_fields.then_some("JSON-SEQ"),
            title: config.title.as_deref(),
            description: config.description.as_deref(),
            trace: TraceSeq {
                common_fields: CommonFields {
                    group_id: config.group_id.as_deref(),
                    time_format: "relative_to_epoch",
                    reference_time: ReferenceTime {
                        clock_type: "monotonic",
                        epoch: "unknown",
                        wall_clock_time: config.wall_clock_time.as_deref(),
                    },
                    protocol_types: config.compat_fields.then_some(protocols),
                },
                vantage_point: &config.vantage_point,
                event_schemas: schemas,
            },
        };
        streamer.write_record(&header)?;
        Ok(streamer)
    }

    /// The instant event times are measured from.
    pub fn reference(&self) -> Instant {
        self.reference
    }

    /// Appends `event`, which happened at `now`.
    pub fn log<E: Event>(&mut self, now: Instant, event: &E) -> io::Result<()> {
        self.log_record(now, event, None)
    }

    /// Appends `event` with the per-event `tuple` field (a `TupleID`, see
    /// [`super::events::connectivity::TupleAssigned`]).
    pub fn log_on_tuple<E: Event>(
        &mut self,
        now: Instant,
        tuple: &str,
        event: &E,
    ) -> io::Result<()> {
        self.log_record(now, event, Some(tuple))
    }

    fn log_record<E: Event>(
        &mut self,
        now: Instant,
        event: &E,
        tuple: Option<&str>,
    ) -> io::Result<()> {
        let record = EventRecord {
            time: relative_ms(self.reference, now),
            name: E::NAME,
            data: event,
            tuple,
        };
        self.write_record(&record)
    }

    fn write_record<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        self.buf.clear();
        self.buf.push(RECORD_SEPARATOR);
        serde_json::to_writer(&mut self.buf, record).map_err(json_error)?;
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The streamer type a connection holds: the writer boxed so the connection type does not
/// depend on it.
pub type BoxedStreamer = QlogStreamer<Box<dyn Write + Send>>;

/// A connection's qlog handle: either off, or a [`BoxedStreamer`].
///
/// Check [`Qlog::enabled`] (or use [`Qlog::emit`], which takes a closure) so that nothing
/// is built when qlog is off. A write error turns logging off for good and is kept for
/// [`Qlog::take_error`]: a failing log file never fails the connection.
#[derive(Default)]
pub struct Qlog {
    streamer: Option<BoxedStreamer>,
    error: Option<io::Error>,
    /// The plaintext frames of the packet being sent, copied before encryption so that
    /// `packet_sent` can list them (only while enabled).
    sent_payload: alloc::vec::Vec<u8>,
}

impl fmt::Debug for Qlog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Qlog")
            .field("enabled", &self.enabled())
            .field("error", &self.error)
            .finish()
    }
}

impl Qlog {
    /// Logging off.
    pub const fn disabled() -> Self {
        Qlog {
            streamer: None,
            error: None,
            sent_payload: alloc::vec::Vec::new(),
        }
    }

    /// Logging into `streamer`.
    pub fn new(streamer: BoxedStreamer) -> Self {
        Qlog {
            streamer: Some(streamer),
            error: None,
            sent_payload: alloc::vec::Vec::new(),
        }
    }

    /// Starts a trace on `out` (writing the header) and logs into it.
    pub fn start<W: Write + Send + 'static>(
        out: W,
        config: &TraceConfig,
        reference: Instant,
    ) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = Box::new(out);
        Ok(Qlog::new(QlogStreamer::new(out, config, reference)?))
    }

    /// Whether events are being written.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.streamer.is_some()
    }

    /// Builds the event with `build` and logs it, only when enabled.
    #[inline]
    pub fn emit<E: Event>(&mut self, now: Instant, build: impl FnOnce() -> E) {
        if let Some(s) = &mut self.streamer {
            let result = s.log(now, &build());
            self.check(result);
        }
    }

    /// Runs `f` with the streamer, only when enabled; for events that borrow data built
    /// just for them (such as the frames of a `packet_sent`).
    #[inline]
    pub fn with(&mut self, f: impl FnOnce(&mut BoxedStreamer) -> io::Result<()>) {
        if let Some(s) = &mut self.streamer {
            let result = f(s);
            self.check(result);
        }
    }

    fn check(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.streamer = None;
            self.error = Some(e);
        }
    }

    /// Keeps a copy of `payload`, the plaintext frames of the packet about to be sealed,
    /// for the `packet_sent` event that follows (nothing is copied while disabled).
    #[inline]
    pub(crate) fn capture_sent(&mut self, payload: &[u8]) {
        if self.enabled() {
            self.sent_payload.clear();
            self.sent_payload.extend_from_slice(payload);
        }
    }

    /// Takes the payload kept by [`Qlog::capture_sent`] (empty if none).
    pub(crate) fn take_sent(&mut self) -> alloc::vec::Vec<u8> {
        core::mem::take(&mut self.sent_payload)
    }

    /// Gives back the buffer of [`Qlog::take_sent`] so its capacity is reused.
    pub(crate) fn restore_sent(&mut self, mut buf: alloc::vec::Vec<u8>) {
        buf.clear();
        self.sent_payload = buf;
    }

    /// Flushes the writer; an error turns logging off.
    pub fn flush(&mut self) {
        self.with(|s| s.flush());
    }

    /// The write error that turned logging off, if any.
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}
