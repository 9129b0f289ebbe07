//! QPACK field compression for HTTP/3 (RFC 9204).
//!
//! - [`Encoder`] turns field lists into encoded field sections and encoder-stream
//!   instructions, and reads the peer decoder's acknowledgments.
//! - [`Decoder`] decodes field sections (possibly blocked until encoder-stream data arrives),
//!   applies encoder-stream instructions and produces decoder-stream instructions.
//!
//! Both sides are sans-IO: bytes in, bytes out. Errors carry the exact RFC 9204 §6 code.

pub mod decoder;
pub mod encoder;
pub mod field;
pub mod huffman;
mod huffman_table;
pub mod instructions;
pub mod prefix_int;
pub mod static_table;
pub mod table;

pub use decoder::{DecodeError, Decoded, Decoder, DecoderConfig};
pub use encoder::{Encoder, EncoderConfig};

use bytes::Bytes;

/// One field (header or trailer line): a name, a value, and whether it is sensitive.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Field name (lowercase for HTTP/3).
    pub name: Bytes,
    /// Field value.
    pub value: Bytes,
    /// Never index: the encoder keeps it out of the dynamic table and sets the 'N' bit
    /// (RFC 9204 §4.5.4, §7.1.3). Set on decoded fields that carried the 'N' bit.
    pub sensitive: bool,
}

impl Field {
    /// A field that may be indexed.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Field {
            name: name.into(),
            value: value.into(),
            sensitive: false,
        }
    }

    /// Returns the field with its sensitivity set.
    pub fn sensitive(mut self, sensitive: bool) -> Self {
        self.sensitive = sensitive;
        self
    }

    /// Size as counted against SETTINGS_MAX_FIELD_SECTION_SIZE and table capacity
    /// (name + value + 32; RFC 9114 §4.2.2, RFC 9204 §3.2.1).
    pub fn size(&self) -> usize {
        table::entry_size(&self.name, &self.value)
    }
}

impl core::fmt::Debug for Field {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = core::str::from_utf8(&self.name).unwrap_or("<bytes>");
        if self.sensitive {
            write!(f, "{name}: <sensitive>")
        } else {
            write!(f, "{name}: {:?}", bstr(&self.value))
        }
    }
}

struct Bstr<'a>(&'a [u8]);

fn bstr(b: &[u8]) -> Bstr<'_> {
    Bstr(b)
}

impl core::fmt::Debug for Bstr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match core::str::from_utf8(self.0) {
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "{:?}", self.0),
        }
    }
}
