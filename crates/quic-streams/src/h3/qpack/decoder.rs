//! The QPACK decoder (RFC 9204 §2.2): decodes field sections, applies encoder-stream
//! instructions to its dynamic table, holds blocked sections until the entries they need
//! arrive, and produces decoder-stream instructions.
//!
//! Memory is bounded by the table capacity we advertise, the number of blocked streams we
//! advertise, the caller's cap on a field section's encoded size (blocked sections are kept
//! as the `Bytes` the caller handed in), and SETTINGS_MAX_FIELD_SECTION_SIZE for output.

use super::field::{decode_prefix, Line};
use super::instructions::{Cursor, DecoderInstruction, EncoderInstruction, ParseError};
use super::static_table;
use super::table::{entry_size, DynamicTable, Entry};
use super::Field;
use crate::h3::error::{err, Code, H3Error};
use alloc::vec::Vec;
use bytes::Bytes;

/// Limits the decoder advertises to the peer's encoder (RFC 9204 §5, RFC 9114 §4.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY.
    pub max_table_capacity: u64,
    /// SETTINGS_QPACK_BLOCKED_STREAMS.
    pub max_blocked_streams: u64,
    /// SETTINGS_MAX_FIELD_SECTION_SIZE: the largest decoded section we accept.
    pub max_field_section_size: u64,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_table_capacity: 4096,
            max_blocked_streams: 16,
            max_field_section_size: 64 * 1024,
        }
    }
}

/// Why a field section could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A connection error (QPACK_DECOMPRESSION_FAILED).
    Connection(H3Error),
    /// The decoded section would exceed SETTINGS_MAX_FIELD_SECTION_SIZE. The stream should be
    /// abandoned (and [`Decoder::cancel_stream`] called); the connection survives.
    TooLarge,
}

/// Result of decoding a field section.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// The fields, in order.
    Fields(Vec<Field>),
    /// The section needs entries not yet received; it is kept and returned by
    /// [`Decoder::poll_unblocked`] once they arrive.
    Blocked,
}

struct BlockedSection {
    stream: u64,
    ric: u64,
    data: Bytes,
}

/// A QPACK decoder for one connection.
pub struct Decoder {
    config: DecoderConfig,
    table: DynamicTable,
    /// Unparsed tail of the encoder stream.
    enc_buf: Vec<u8>,
    /// `enc_buf` must reach this length before parsing is worth retrying.
    enc_need: usize,
    /// Pending decoder-stream bytes.
    out: Vec<u8>,
    /// Insert count the encoder already knows we have (via acks and increments).
    acknowledged: u64,
    blocked: Vec<BlockedSection>,
}

fn failed(reason: &'static str) -> DecodeError {
    DecodeError::Connection(err(Code::QPACK_DECOMPRESSION_FAILED, reason))
}

fn enc_err(reason: &'static str) -> H3Error {
    err(Code::QPACK_ENCODER_STREAM_ERROR, reason)
}

impl Decoder {
    /// A decoder advertising `config`.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder {
            config,
            table: DynamicTable::new(),
            enc_buf: Vec::new(),
            enc_need: 0,
            out: Vec::new(),
            acknowledged: 0,
            blocked: Vec::new(),
        }
    }

    /// The limits this decoder advertises.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// The dynamic table (read-only).
    pub fn table(&self) -> &DynamicTable {
        &self.table
    }

    /// Number of streams currently blocked (a stream counts once, however many of its
    /// sections wait).
    pub fn blocked_streams(&self) -> usize {
        self.blocked
            .iter()
            .enumerate()
            .filter(|(i, b)| !self.blocked[..*i].iter().any(|o| o.stream == b.stream))
            .count()
    }

    /// Decodes the field section carried by one HEADERS or PUSH_PROMISE frame on `stream`.
    pub fn decode_section(&mut self, stream: u64, data: Bytes) -> Result<Decoded, DecodeError> {
        let mut c = Cursor::new(&data);
        let (ric, _) = decode_prefix(
            &mut c,
            self.config.max_table_capacity,
            self.table.insert_count(),
        )
        .map_err(|_| failed("bad field section prefix"))?;
        if ric > self.table.insert_count() {
            // RFC 9204 §2.1.2: "If a decoder encounters more blocked streams than it promised
            // to support, it MUST treat this as a connection error of type
            // QPACK_DECOMPRESSION_FAILED."
            let already = self.blocked.iter().any(|b| b.stream == stream);
            if !already && self.blocked_streams() as u64 >= self.config.max_blocked_streams {
                return Err(failed("too many blocked streams"));
            }
            self.blocked.push(BlockedSection { stream, ric, data });
            return Ok(Decoded::Blocked);
        }
        self.decode_now(stream, &data).map(Decoded::Fields)
    }

    fn decode_now(&mut self, stream: u64, data: &[u8]) -> Result<Vec<Field>, DecodeError> {
        let mut c = Cursor::new(data);
        let (ric, base) = decode_prefix(
            &mut c,
            self.config.max_table_capacity,
            self.table.insert_count(),
        )
        .map_err(|_| failed("bad field section prefix"))?;
        let limit = self.config.max_field_section_size;
        let mut size: u64 = 0;
        let mut fields = Vec::new();
        while !c.is_empty() {
            let budget = usize::try_from(limit.saturating_sub(size)).unwrap_or(usize::MAX);
            let line = Line::parse(&mut c, budget).map_err(|e| match e {
                ParseError::TooLong => DecodeError::TooLarge,
                _ => failed("malformed field line"),
            })?;
            let field = self.resolve(line, ric, base)?;
            size = size.saturating_add(entry_size(&field.name, &field.value) as u64);
            if size > limit {
                return Err(DecodeError::TooLarge);
            }
            fields.push(field);
        }
        if ric > 0 {
            // RFC 9204 §2.2.2.1: after decoding a section with dynamic references the decoder
            // MUST emit a Section Acknowledgment.
            DecoderInstruction::SectionAck(stream).encode(&mut self.out);
            self.acknowledged = self.acknowledged.max(ric);
        }
        Ok(fields)
    }

    /// Looks up a dynamic entry by absolute index, which must be below the section's Required
    /// Insert Count and still in the table (RFC 9204 §2.2.3).
    fn dynamic(&self, abs: Option<u64>, ric: u64) -> Result<&Entry, DecodeError> {
        abs.filter(|&a| a < ric)
            .and_then(|a| self.table.get(a))
            .ok_or_else(|| failed("invalid dynamic table reference"))
    }

    fn resolve(&self, line: Line, ric: u64, base: u64) -> Result<Field, DecodeError> {
        let relative = |i: u64| base.checked_sub(i).and_then(|b| b.checked_sub(1));
        let post_base = |i: u64| base.checked_add(i);
        let name_of_static = |i: u64| {
            static_table::get(i)
                .map(|(n, v)| (Bytes::from_static(n), Bytes::from_static(v)))
                .ok_or_else(|| failed("invalid static table index"))
        };
        Ok(match line {
            Line::Indexed {
                is_static: true,
                index,
            } => {
                let (name, value) = name_of_static(index)?;
                Field::new(name, value)
            }
            Line::Indexed {
                is_static: false,
                index,
            } => {
                let e = self.dynamic(relative(index), ric)?;
                Field::new(e.name.clone(), e.value.clone())
            }
            Line::IndexedPostBase(index) => {
                let e = self.dynamic(post_base(index), ric)?;
                Field::new(e.name.clone(), e.value.clone())
            }
            Line::LiteralNameRef {
                never_index,
                is_static,
                index,
                value,
            } => {
                let name = if is_static {
                    name_of_static(index)?.0
                } else {
                    self.dynamic(relative(index), ric)?.name.clone()
                };
                Field::new(name, value).sensitive(never_index)
            }
            Line::LiteralPostBaseNameRef {
                never_index,
                index,
                value,
            } => {
                let name = self.dynamic(post_base(index), ric)?.name.clone();
                Field::new(name, value).sensitive(never_index)
            }
            Line::Literal {
                never_index,
                name,
                value,
            } => Field::new(name, value).sensitive(never_index),
        })
    }

    /// Feeds bytes received on the peer's encoder stream.
    pub fn on_encoder_stream(&mut self, data: &[u8]) -> Result<(), H3Error> {
        self.enc_buf.extend_from_slice(data);
        if self.enc_buf.len() < self.enc_need {
            return Ok(());
        }
        let max_string = usize::try_from(self.config.max_table_capacity).unwrap_or(usize::MAX);
        let mut pos = 0;
        let result = loop {
            match EncoderInstruction::parse(&self.enc_buf[pos..], max_string) {
                Ok((ins, used)) => {
                    pos += used;
                    if let Err(e) = self.apply(ins) {
                        break Err(e);
                    }
                }
                Err(ParseError::Incomplete { need }) => {
                    self.enc_need = need;
                    break Ok(());
                }
                Err(ParseError::TooLong) => break Err(enc_err("entry larger than max capacity")),
                Err(ParseError::Invalid(r)) => break Err(enc_err(r)),
            }
        };
        self.enc_buf.drain(..pos);
        result
    }

    fn apply(&mut self, ins: EncoderInstruction) -> Result<(), H3Error> {
        let relative = |t: &DynamicTable, i: u64| {
            t.insert_count()
                .checked_sub(i)
                .and_then(|x| x.checked_sub(1))
                .and_then(|a| t.get(a))
                .cloned()
                .ok_or_else(|| enc_err("reference to a missing dynamic entry"))
        };
        let entry = match ins {
            EncoderInstruction::SetCapacity(c) => {
                // RFC 9204 §4.3.1: "The decoder MUST treat a new dynamic table capacity value
                // that exceeds this limit as a connection error of type
                // QPACK_ENCODER_STREAM_ERROR."
                if c > self.config.max_table_capacity {
                    return Err(enc_err("capacity above the advertised maximum"));
                }
                // The check above bounds c by a value we chose, so it fits in usize.
                self.table.set_capacity(c as usize);
                return Ok(());
            }
            EncoderInstruction::InsertWithNameRef {
                is_static: true,
                index,
                value,
            } => {
                let (name, _) =
                    static_table::get(index).ok_or_else(|| enc_err("invalid static index"))?;
                Entry {
                    name: Bytes::from_static(name),
                    value,
                }
            }
            EncoderInstruction::InsertWithNameRef {
                is_static: false,
                index,
                value,
            } => Entry {
                name: relative(&self.table, index)?.name,
                value,
            },
            EncoderInstruction::InsertWithLiteralName { name, value } => Entry { name, value },
            EncoderInstruction::Duplicate(index) => relative(&self.table, index)?,
        };
        // RFC 9204 §3.2.2: an entry larger than the capacity is a connection error of type
        // QPACK_ENCODER_STREAM_ERROR.
        self.table
            .insert(entry)
            .map(|_| ())
            .map_err(|_| enc_err("entry larger than the table capacity"))
    }

    /// Returns a stream whose blocked section can now be decoded, with the result of decoding
    /// it. Call after [`Decoder::on_encoder_stream`] until it returns `None`.
    pub fn poll_unblocked(&mut self) -> Option<(u64, Result<Vec<Field>, DecodeError>)> {
        // A stream's sections are decoded in order: only its oldest waiting one may go.
        let insert_count = self.table.insert_count();
        let ready = self.blocked.iter().enumerate().position(|(i, b)| {
            b.ric <= insert_count && !self.blocked[..i].iter().any(|o| o.stream == b.stream)
        })?;
        let b = self.blocked.remove(ready);
        let result = self.decode_now(b.stream, &b.data);
        Some((b.stream, result))
    }

    /// Forgets any section blocked on `stream` and tells the encoder the stream's references
    /// are gone (RFC 9204 §4.4.2). Call when a request stream is reset or abandoned.
    pub fn cancel_stream(&mut self, stream: u64) {
        self.blocked.retain(|b| b.stream != stream);
        // §2.2.2.2: a decoder whose maximum capacity is zero MAY omit Stream Cancellation.
        if self.config.max_table_capacity > 0 {
            DecoderInstruction::StreamCancel(stream).encode(&mut self.out);
        }
    }

    /// Whether decoder-stream bytes are waiting (including an Insert Count Increment).
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || self.table.insert_count() > self.acknowledged
    }

    /// Takes the bytes to send on our decoder stream, adding an Insert Count Increment for
    /// entries not yet acknowledged (RFC 9204 §4.4.3).
    pub fn take_output(&mut self) -> Vec<u8> {
        let unacked = self.table.insert_count() - self.acknowledged;
        if unacked > 0 {
            DecoderInstruction::InsertCountIncrement(unacked).encode(&mut self.out);
            self.acknowledged = self.table.insert_count();
        }
        core::mem::take(&mut self.out)
    }
}
