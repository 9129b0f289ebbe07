//! The QPACK encoder (RFC 9204 §2.1): a single-pass encoder in the spirit of RFC 9204
//! Appendix C, with reference tracking so that it never evicts an entry the decoder may
//! still need (§2.1.1) and never blocks more streams than the peer allows (§2.1.2).
//!
//! Insertion policy: with [`InsertPolicy::Repeated`] a field is inserted into the dynamic
//! table the second time it is seen (a small ring of recent field hashes remembers what was
//! seen); with [`InsertPolicy::Always`] every indexable field that fits is inserted.

use super::field::{encode_prefix, Line};
use super::instructions::{DecoderInstruction, EncoderInstruction, ParseError};
use super::static_table::{self, StaticMatch};
use super::table::{entry_size, DynamicTable, Entry};
use super::Field;
use crate::h3::error::{err, Code, H3Error};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

/// When the encoder adds fields to the dynamic table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertPolicy {
    /// Never: only the static table and literals are used.
    Never,
    /// Insert a field the second time it is seen recently.
    Repeated,
    /// Insert every field that fits.
    Always,
}

/// Encoder configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderConfig {
    /// The dynamic table capacity we would like; the capacity used is the smaller of this and
    /// the peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY.
    pub max_table_capacity: u64,
    /// Insertion policy.
    pub policy: InsertPolicy,
    /// Whether references that may block the peer's decoder are allowed (up to the peer's
    /// SETTINGS_QPACK_BLOCKED_STREAMS).
    pub allow_blocking: bool,
    /// Whether string literals may be Huffman-coded (when that is shorter).
    pub huffman: bool,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            max_table_capacity: 4096,
            policy: InsertPolicy::Repeated,
            allow_blocking: true,
            huffman: true,
        }
    }
}

/// How many recently seen fields the `Repeated` policy remembers.
const SEEN_RING: usize = 64;

/// One encoded field section still awaiting acknowledgment.
struct Section {
    ric: u64,
    refs: Vec<u64>,
}

/// A QPACK encoder for one connection.
pub struct Encoder {
    config: EncoderConfig,
    table: DynamicTable,
    /// Outstanding references per absolute index.
    refs: BTreeMap<u64, u32>,
    /// Peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY (0 until its SETTINGS arrive).
    peer_max_capacity: u64,
    /// Peer's SETTINGS_QPACK_BLOCKED_STREAMS.
    peer_max_blocked: u64,
    /// Known Received Count (RFC 9204 §2.1.4).
    known_received: u64,
    /// Unacknowledged sections per stream, oldest first.
    sections: BTreeMap<u64, VecDeque<Section>>,
    seen: VecDeque<u64>,
    /// Pending encoder-stream bytes.
    out: Vec<u8>,
    /// Partial decoder-stream instruction.
    dec_buf: Vec<u8>,
    /// The stream whose section [`Encoder::encode`] recorded last, if the last call did.
    last_recorded: Option<u64>,
}

fn dec_err(reason: &'static str) -> H3Error {
    err(Code::QPACK_DECODER_STREAM_ERROR, reason)
}

/// FNV-1a over name and value; used only to remember fields seen recently.
fn field_hash(name: &[u8], value: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name.iter().chain(&[0xff]).chain(value) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Encoder {
    /// A new encoder. It uses no dynamic table until [`Encoder::set_peer_settings`].
    pub fn new(config: EncoderConfig) -> Self {
        Encoder {
            config,
            table: DynamicTable::new(),
            refs: BTreeMap::new(),
            peer_max_capacity: 0,
            peer_max_blocked: 0,
            known_received: 0,
            sections: BTreeMap::new(),
            seen: VecDeque::new(),
            out: Vec::new(),
            dec_buf: Vec::new(),
            last_recorded: None,
        }
    }

    /// The dynamic table (read-only).
    pub fn table(&self) -> &DynamicTable {
        &self.table
    }

    /// The Known Received Count.
    pub fn known_received_count(&self) -> u64 {
        self.known_received
    }

    /// Applies the peer's QPACK settings and, if a dynamic table is used, queues Set Dynamic
    /// Table Capacity. Call once, when the peer's SETTINGS arrive.
    pub fn set_peer_settings(&mut self, max_table_capacity: u64, max_blocked_streams: u64) {
        self.peer_max_capacity = max_table_capacity;
        self.peer_max_blocked = max_blocked_streams;
        let cap = self.config.max_table_capacity.min(max_table_capacity);
        if cap > 0 && self.config.policy != InsertPolicy::Never {
            if let Ok(c) = usize::try_from(cap) {
                EncoderInstruction::SetCapacity(cap).encode(&mut self.out);
                self.table.set_capacity(c);
            }
        }
    }

    /// Number of streams with a section that may block the decoder.
    fn blocked_streams(&self) -> usize {
        self.sections
            .values()
            .filter(|s| s.iter().any(|sec| sec.ric > self.known_received))
            .count()
    }

    fn stream_is_blocking(&self, stream: u64) -> bool {
        self.sections
            .get(&stream)
            .is_some_and(|s| s.iter().any(|sec| sec.ric > self.known_received))
    }

    /// Free space if every evictable entry (acknowledged and unreferenced, oldest first) were
    /// evicted (RFC 9204 §2.1.1).
    fn can_insert(&self, size: usize, in_use: &[u64]) -> bool {
        if size > self.table.capacity() {
            return false;
        }
        let mut limit = self.table.oldest();
        for (abs, _) in self.table.iter() {
            if abs >= self.known_received || self.refs.contains_key(&abs) || in_use.contains(&abs) {
                break;
            }
            limit = abs + 1;
        }
        self.table.space_if_evicting_below(limit) >= size
    }

    fn wants_insert(&mut self, f: &Field) -> bool {
        let size = f.size();
        match self.config.policy {
            InsertPolicy::Never => false,
            _ if f.sensitive || size > self.table.capacity() * 3 / 4 => false,
            InsertPolicy::Always => true,
            InsertPolicy::Repeated => {
                let h = field_hash(&f.name, &f.value);
                if self.seen.contains(&h) {
                    true
                } else {
                    if self.seen.len() == SEEN_RING {
                        self.seen.pop_front();
                    }
                    self.seen.push_back(h);
                    false
                }
            }
        }
    }

    /// Finds a dynamic entry: an exact match if any, else a name match (newest first).
    fn find_dynamic(&self, f: &Field) -> (Option<u64>, Option<u64>) {
        let mut name_match = None;
        for (abs, e) in self.table.iter().rev() {
            if e.name == f.name {
                if e.value == f.value && !f.sensitive {
                    return (Some(abs), name_match.or(Some(abs)));
                }
                name_match.get_or_insert(abs);
            }
        }
        (None, name_match)
    }

    /// Encodes `fields` as a field section for `stream`, appending it to `out`. Encoder
    /// instructions it needs are queued for [`Encoder::take_output`]; send them before or
    /// with the section (a decoder blocks, within limits, until they arrive).
    pub fn encode(&mut self, stream: u64, fields: &[Field], out: &mut Vec<u8>) {
        let base = self.table.insert_count();
        let may_block = self.config.allow_blocking
            && (self.stream_is_blocking(stream)
                || (self.blocked_streams() as u64) < self.peer_max_blocked);
        let mut lines = Vec::new();
        let mut used: Vec<u64> = Vec::new();
        for f in fields {
            let line = self.encode_field(f, base, may_block, &mut used);
            line.encode_with(&mut lines, self.config.huffman);
        }
        let ric = used.iter().max().map_or(0, |m| m + 1);
        encode_prefix(ric, base, self.peer_max_capacity, out);
        out.extend_from_slice(&lines);
        self.last_recorded = None;
        if ric > 0 {
            self.last_recorded = Some(stream);
            for &abs in &used {
                *self.refs.entry(abs).or_insert(0) += 1;
            }
            self.sections
                .entry(stream)
                .or_default()
                .push_back(Section { ric, refs: used });
        }
    }

    fn reference(abs: u64, base: u64) -> Line {
        if abs < base {
            Line::Indexed {
                is_static: false,
                index: base - 1 - abs,
            }
        } else {
            Line::IndexedPostBase(abs - base)
        }
    }

    fn usable(&self, abs: u64, may_block: bool) -> bool {
        abs < self.known_received || may_block
    }

    fn encode_field(&mut self, f: &Field, base: u64, may_block: bool, used: &mut Vec<u64>) -> Line {
        let stat = static_table::find(&f.name, &f.value);
        if let (Some(StaticMatch::Full(i)), false) = (stat, f.sensitive) {
            return Line::Indexed {
                is_static: true,
                index: i as u64,
            };
        }
        let (exact, name) = self.find_dynamic(f);
        if let Some(abs) = exact.filter(|&a| self.usable(a, may_block)) {
            used.push(abs);
            return Self::reference(abs, base);
        }
        if may_block && self.wants_insert(f) && self.can_insert(f.size(), used) {
            if let Some(abs) = self.insert(f, stat, name) {
                used.push(abs);
                return Self::reference(abs, base);
            }
        }
        let never_index = f.sensitive;
        match (stat, name.filter(|&a| self.usable(a, may_block))) {
            (Some(StaticMatch::Full(i) | StaticMatch::Name(i)), _) => Line::LiteralNameRef {
                never_index,
                is_static: true,
                index: i as u64,
                value: f.value.clone(),
            },
            (None, Some(abs)) => {
                used.push(abs);
                if abs < base {
                    Line::LiteralNameRef {
                        never_index,
                        is_static: false,
                        index: base - 1 - abs,
                        value: f.value.clone(),
                    }
                } else {
                    Line::LiteralPostBaseNameRef {
                        never_index,
                        index: abs - base,
                        value: f.value.clone(),
                    }
                }
            }
            (None, None) => Line::Literal {
                never_index,
                name: f.name.clone(),
                value: f.value.clone(),
            },
        }
    }

    /// Inserts `f` (the caller checked that eviction is allowed) and queues the instruction.
    fn insert(&mut self, f: &Field, stat: Option<StaticMatch>, name: Option<u64>) -> Option<u64> {
        let ins = match (stat, name) {
            (Some(StaticMatch::Full(i) | StaticMatch::Name(i)), _) => {
                EncoderInstruction::InsertWithNameRef {
                    is_static: true,
                    index: i as u64,
                    value: f.value.clone(),
                }
            }
            (None, Some(abs)) => EncoderInstruction::InsertWithNameRef {
                is_static: false,
                index: self.table.insert_count() - 1 - abs,
                value: f.value.clone(),
            },
            (None, None) => EncoderInstruction::InsertWithLiteralName {
                name: f.name.clone(),
                value: f.value.clone(),
            },
        };
        debug_assert!(entry_size(&f.name, &f.value) <= self.table.capacity());
        let abs = self
            .table
            .insert(Entry {
                name: f.name.clone(),
                value: f.value.clone(),
            })
            .ok()?;
        ins.encode_with(&mut self.out, self.config.huffman);
        Some(abs)
    }

    /// Forgets the section the last [`Encoder::encode`] call produced for `stream`, if it
    /// recorded one: for when that section could not be sent. Its dynamic table insertions
    /// stay (they are already on the encoder stream); only its references are dropped.
    pub fn retract_last_section(&mut self, stream: u64) {
        if self.last_recorded.take() != Some(stream) {
            return;
        }
        if let Some(sec) = self.sections.get_mut(&stream).and_then(VecDeque::pop_back) {
            if self.sections.get(&stream).is_some_and(VecDeque::is_empty) {
                self.sections.remove(&stream);
            }
            self.release(sec);
        }
    }

    fn release(&mut self, sec: Section) {
        for abs in sec.refs {
            if let Some(n) = self.refs.get_mut(&abs) {
                *n -= 1;
                if *n == 0 {
                    self.refs.remove(&abs);
                }
            }
        }
    }

    /// Feeds bytes received on the peer's decoder stream.
    pub fn on_decoder_stream(&mut self, data: &[u8]) -> Result<(), H3Error> {
        self.dec_buf.extend_from_slice(data);
        let mut pos = 0;
        let result = loop {
            match DecoderInstruction::parse(&self.dec_buf[pos..]) {
                Ok((ins, n)) => {
                    pos += n;
                    if let Err(e) = self.apply(ins) {
                        break Err(e);
                    }
                }
                Err(ParseError::Incomplete { .. }) => break Ok(()),
                Err(_) => break Err(dec_err("malformed decoder instruction")),
            }
        };
        self.dec_buf.drain(..pos);
        result
    }

    fn apply(&mut self, ins: DecoderInstruction) -> Result<(), H3Error> {
        match ins {
            DecoderInstruction::SectionAck(stream) => {
                let sec = self
                    .sections
                    .get_mut(&stream)
                    .and_then(VecDeque::pop_front)
                    // RFC 9204 §4.4.1: "If an encoder receives a Section Acknowledgment
                    // instruction referring to a stream on which every encoded field section
                    // with a non-zero Required Insert Count has already been acknowledged,
                    // this MUST be treated as a connection error of type
                    // QPACK_DECODER_STREAM_ERROR."
                    .ok_or_else(|| dec_err("Section Acknowledgment with nothing outstanding"))?;
                if self.sections.get(&stream).is_some_and(VecDeque::is_empty) {
                    self.sections.remove(&stream);
                }
                self.known_received = self.known_received.max(sec.ric);
                self.release(sec);
            }
            DecoderInstruction::StreamCancel(stream) => {
                for sec in self.sections.remove(&stream).unwrap_or_default() {
                    self.release(sec);
                }
            }
            DecoderInstruction::InsertCountIncrement(n) => {
                // RFC 9204 §4.4.3: an increment of zero, or one past what was sent, MUST be
                // treated as a connection error of type QPACK_DECODER_STREAM_ERROR.
                let new = self.known_received.saturating_add(n);
                if n == 0 || new > self.table.insert_count() {
                    return Err(dec_err("invalid Insert Count Increment"));
                }
                self.known_received = new;
            }
        }
        Ok(())
    }

    /// Whether encoder-stream bytes are waiting.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Takes the bytes to send on our encoder stream.
    pub fn take_output(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }
}
