//! Frames (RFC 9000 §12.4, §19; RFC 9221; ack-frequency; RFC 10069 §4).

pub mod types;

pub use types::{FrameType, FrameTypeInfo};

/// A frame parsed from a decrypted packet payload, borrowing from it.
///
/// Placeholder until the frame codec lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// PADDING bytes, run-length collapsed.
    Padding(usize),
    /// PING.
    Ping,
    /// Placeholder.
    Other(&'a [u8]),
}
