//! qlog output: the IETF qlog main schema (JSON-SEQ serialization) with the QUIC and
//! HTTP/3 event definitions, so traces open in qvis and other qlog tools.
//!
//! - [`events`]: one typed struct per event, serializing to the event's `data` with the
//!   field names and value spellings of the drafts; [`Event::NAME`] gives its `name`.
//! - [`frames`]: [`QuicFrame`], the qlog form of every [`quic_wire::frame::Frame`].
//! - [`types`]: shared data types (packet header, raw info, hex strings, error names).
//! - [`writer`]: [`QlogStreamer`] writes a trace to any [`std::io::Write`];
//!   [`Qlog`] is the handle a connection keeps, cheap to check when logging is off.
//! - [`file`](mod@file): file naming and the `QLOGDIR` convention.
//!
//! Sources: draft-ietf-quic-qlog-main-schema-14, the QUIC events editor's copy after
//! draft 13 and draft-ietf-quic-qlog-h3-events-13 (all in `/work/shared/specs`).
//!
//! # Example
//! ```
//! use quic_conn::qlog::events::recovery::RecoveryMetricsUpdated;
//! use quic_conn::qlog::{Qlog, TraceConfig};
//! use quic_wire::{ConnectionId, Instant, Side};
//!
//! let odcid = ConnectionId::new(&[0xab, 0xcd]).unwrap();
//! let config = TraceConfig::connection(Side::Client, &odcid);
//! let mut qlog = Qlog::start(Vec::new(), &config, Instant::ZERO).unwrap();
//! qlog.emit(Instant::from_nanos(1_500_000), || RecoveryMetricsUpdated {
//!     smoothed_rtt: Some(25.0),
//!     ..Default::default()
//! });
//! assert!(qlog.enabled());
//! ```

pub mod events;
pub mod file;
pub mod frames;
pub mod types;
pub mod writer;

pub use frames::{FrameOptions, QuicFrame};
pub use types::{Initiator, PacketHeader, RawInfo};
pub use writer::{
    relative_ms, BoxedStreamer, Qlog, QlogStreamer, TraceConfig, VantagePoint, VantagePointType,
};

/// A qlog event: its `data` is the serialized value, its `name` [`Event::NAME`].
pub trait Event: serde::Serialize {
    /// The event's `name`: namespace, colon, event type (e.g. `"quic:packet_sent"`).
    const NAME: &'static str;
}

/// Implements [`Event`] for event types, with their names.
macro_rules! impl_event {
    ($($ty:ty => $name:literal),* $(,)?) => {
        $(impl $crate::qlog::Event for $ty {
            const NAME: &'static str = $name;
        })*
    };
}
pub(crate) use impl_event;
