//! Packet headers: parsing (RFC 9000 §17, RFC 9369 §3.2, RFC 8999 §5-6, RFC 9287).
//!
//! # Reading a packet is two-phase
//!
//! Header protection (RFC 9001 §5.4) masks the low bits of the first byte and the packet
//! number, so a received packet is read in two steps:
//!
//! 1. [`Packet::parse`] (or [`CoalescedPackets`](super::CoalescedPackets) for a whole
//!    datagram) reads what is not protected: header form, fixed bit, version, connection
//!    IDs, the Initial token, the Length field. A packet that needs decryption comes back
//!    as a [`ProtectedPacket`], which tells where its packet number starts
//!    ([`ProtectedPacket::pn_offset`]) and how long it is. Retry, Version Negotiation and
//!    long headers of versions this crate does not know have nothing protected and come
//!    back fully parsed.
//! 2. The caller removes header protection in place in its own `&mut [u8]` copy of the
//!    datagram (the crypto module, sampling at `pn_offset + 4`), then calls
//!    [`decode_protected_fields`] with the now clear first byte and the bytes from the
//!    packet-number offset on. That gives the packet-number length, the truncated packet
//!    number and (short header) the key phase.
//!
//! Then the caller decrypts the payload and, **only once the AEAD has authenticated the
//! packet**, calls [`ClearFields::check_reserved_bits`]: non-zero reserved bits are a
//! connection error, but only for an authenticated packet (RFC 9000 §17.2, §17.3.1;
//! RFC 9001 §9.5). Everything before that point is a silent drop ([`HeaderError`]).
//!
//! The parsed values borrow the datagram immutably; offsets (not slices) tell the caller
//! where to work on its mutable buffer: a packet starts at the offset the coalesced
//! iterator reports (0 for [`Packet::parse`]) and spans [`Packet::len`] bytes.

use core::{fmt, iter::FusedIterator, slice::ChunksExact};

use crate::{
    codec::{Reader, UnexpectedEnd},
    error::TransportError,
    packet::{PacketType, Space},
    pn::TruncatedPacketNumber,
    version::Version,
    ConnectionId,
};

/// Header Form bit: 1 for a long header, 0 for a short header (RFC 9000 §17.2, §17.3).
pub const FORM_BIT: u8 = 0x80;
/// The Fixed Bit, "QUIC Bit" in RFC 9287 (RFC 9000 §17.2, §17.3).
pub const FIXED_BIT: u8 = 0x40;
/// The latency spin bit of a short header (RFC 9000 §17.3.1, §17.4).
pub const SPIN_BIT: u8 = 0x20;
/// The key phase bit of a short header, protected (RFC 9000 §17.3.1).
pub const KEY_PHASE_BIT: u8 = 0x04;
/// The reserved bits of a long header, protected (RFC 9000 §17.2).
pub const LONG_RESERVED_BITS: u8 = 0x0c;
/// The reserved bits of a short header, protected (RFC 9000 §17.3.1).
pub const SHORT_RESERVED_BITS: u8 = 0x18;
/// The Packet Number Length bits (length minus one), protected (RFC 9000 §17.2, §17.3.1).
pub const PN_LEN_BITS: u8 = 0x03;
/// Length of the Retry Integrity Tag (RFC 9000 §17.2.5, RFC 9001 §5.8).
pub const RETRY_INTEGRITY_TAG_LEN: usize = 16;
/// Length of the header-protection sample (RFC 9001 §5.4.2: 16 bytes for every AEAD
/// QUIC v1 and v2 define).
pub const HP_SAMPLE_LEN: usize = 16;
/// The fewest bytes a protected packet can have from its packet-number offset on: the
/// sample is taken as if the packet number were 4 bytes long (RFC 9001 §5.4.2).
pub const MIN_LEN_FROM_PN_OFFSET: usize = 4 + HP_SAMPLE_LEN;

/// Why a packet could not be read. Every variant means "drop this packet" (and, where
/// [`CoalescedPackets`](super::CoalescedPackets) says so, the rest of the datagram); none
/// is a connection error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The packet ended inside its header.
    #[error("packet truncated inside its header")]
    Truncated,
    /// The fixed bit is 0 and we did not advertise grease_quic_bit (RFC 9000 §17.2,
    /// RFC 9287 §3).
    #[error("fixed bit is 0")]
    FixedBitZero,
    /// A v1 or v2 connection ID longer than 20 bytes (RFC 9000 §17.2).
    #[error("connection ID of {0} bytes is longer than 20")]
    CidTooLong(usize),
    /// The Length field points past the end of the datagram (RFC 9000 §12.2).
    #[error("Length field runs past the end of the datagram")]
    LengthPastEnd,
    /// The packet is too short to hold a header-protection sample (RFC 9001 §5.4.2).
    #[error("packet too short for a header-protection sample")]
    TooShortForSample,
    /// A Retry packet with fewer than 16 bytes after its Source Connection ID.
    #[error("Retry packet too short for its integrity tag")]
    RetryTooShort,
    /// A Version Negotiation version list whose length is not a multiple of 4.
    #[error("Version Negotiation version list is not a whole number of versions")]
    BadVersionList,
    /// A coalesced packet whose Destination Connection ID differs from the first packet's
    /// in the datagram (RFC 9000 §12.2).
    #[error("destination connection ID differs from the first packet of the datagram")]
    DcidMismatch,
}

impl From<UnexpectedEnd> for HeaderError {
    fn from(_: UnexpectedEnd) -> Self {
        HeaderError::Truncated
    }
}

/// What the parser needs to know about the local endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseConfig {
    /// Length of the connection IDs this endpoint issues: short headers do not carry it
    /// (RFC 9000 §17.3). At most 20.
    pub short_dcid_len: usize,
    /// Accept packets whose fixed bit is 0: set once we advertised the grease_quic_bit
    /// transport parameter. RFC 9287 §3: "An endpoint that advertises the
    /// grease_quic_bit transport parameter MUST accept packets with the QUIC Bit set to a
    /// value of 0."
    pub accept_zero_fixed_bit: bool,
}

impl ParseConfig {
    /// A configuration for local connection IDs of `short_dcid_len` bytes that requires
    /// the fixed bit.
    #[inline]
    pub const fn new(short_dcid_len: usize) -> Self {
        ParseConfig {
            short_dcid_len,
            accept_zero_fixed_bit: false,
        }
    }

    /// The same configuration, accepting (or not) a fixed bit of 0.
    #[inline]
    pub const fn accept_zero_fixed_bit(mut self, accept: bool) -> Self {
        self.accept_zero_fixed_bit = accept;
        self
    }
}

/// The fields of an Initial, 0-RTT or Handshake long header that are not protected
/// (RFC 9000 §17.2.2-17.2.4). Also what [`LongHeader::write`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// [`PacketType::Initial`], [`PacketType::ZeroRtt`] or [`PacketType::Handshake`].
    pub ty: PacketType,
    /// QUIC v1 or v2: the type bits depend on it (RFC 9369 §3.2).
    pub version: Version,
    /// Destination Connection ID.
    pub dcid: ConnectionId,
    /// Source Connection ID.
    pub scid: ConnectionId,
    /// The Initial token (RFC 9000 §17.2.2); empty for other types.
    pub token: &'a [u8],
}

/// The fields of a 1-RTT short header (RFC 9000 §17.3.1). Also what
/// [`ShortHeader::write`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortHeader {
    /// Destination Connection ID.
    pub dcid: ConnectionId,
    /// The latency spin bit (RFC 9000 §17.4).
    pub spin: bool,
    /// The key phase (RFC 9001 §6).
    pub key_phase: bool,
}

/// The header of a packet still under header protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectedHeader<'a> {
    /// Initial, 0-RTT or Handshake.
    Long(LongHeader<'a>),
    /// 1-RTT. The key phase is protected: it comes from [`decode_protected_fields`].
    Short {
        /// Destination Connection ID.
        dcid: ConnectionId,
        /// The latency spin bit, which header protection leaves clear.
        spin: bool,
    },
}

/// An Initial, 0-RTT, Handshake or 1-RTT packet as received: header protection and
/// packet protection still on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectedPacket<'a> {
    /// The unprotected header fields.
    pub header: ProtectedHeader<'a>,
    /// Whether the fixed bit was set (it is 0 only when greased, RFC 9287).
    pub fixed_bit: bool,
    /// Offset of the Packet Number field from the start of the packet.
    pub pn_offset: usize,
    /// The whole packet: header, packet number, payload and AEAD tag. Its length comes
    /// from the Length field (long header) or is the rest of the datagram (short header).
    pub bytes: &'a [u8],
}

impl ProtectedPacket<'_> {
    /// The packet type.
    #[inline]
    pub fn ty(&self) -> PacketType {
        match self.header {
            ProtectedHeader::Long(h) => h.ty,
            ProtectedHeader::Short { .. } => PacketType::OneRtt,
        }
    }

    /// The packet-number space the packet belongs to.
    #[inline]
    pub fn space(&self) -> Space {
        match self.ty() {
            PacketType::Initial => Space::Initial,
            PacketType::Handshake => Space::Handshake,
            _ => Space::Data,
        }
    }

    /// The version of a long header; `None` for a short header, whose version is the
    /// connection's.
    #[inline]
    pub fn version(&self) -> Option<Version> {
        match self.header {
            ProtectedHeader::Long(h) => Some(h.version),
            ProtectedHeader::Short { .. } => None,
        }
    }

    /// The Destination Connection ID.
    #[inline]
    pub fn dcid(&self) -> &ConnectionId {
        match &self.header {
            ProtectedHeader::Long(h) => &h.dcid,
            ProtectedHeader::Short { dcid, .. } => dcid,
        }
    }

    /// The packet's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the packet is empty (never true for a parsed packet).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Offset of the payload from the start of the packet, once the packet-number length
    /// is known.
    #[inline]
    pub fn payload_offset(&self, clear: &ClearFields) -> usize {
        self.pn_offset + clear.pn.len
    }

    /// The full short header once header protection is off; `None` for a long header.
    #[inline]
    pub fn short_header(&self, clear: &ClearFields) -> Option<ShortHeader> {
        match self.header {
            ProtectedHeader::Short { dcid, spin } => Some(ShortHeader {
                dcid,
                spin,
                key_phase: clear.key_phase,
            }),
            ProtectedHeader::Long(_) => None,
        }
    }

    /// RFC 9001 §5.4.2: "endpoints MUST discard packets that are not long enough to
    /// contain a complete sample."
    #[inline]
    pub fn check_sample_room(&self) -> Result<(), HeaderError> {
        if self.len().saturating_sub(self.pn_offset) < MIN_LEN_FROM_PN_OFFSET {
            return Err(HeaderError::TooShortForSample);
        }
        Ok(())
    }
}

/// The header of a Retry packet (RFC 9000 §17.2.5), without the integrity tag. Also
/// what [`RetryHeader::write`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryHeader<'a> {
    /// QUIC v1 or v2.
    pub version: Version,
    /// Destination Connection ID: the client's Source Connection ID.
    pub dcid: ConnectionId,
    /// Source Connection ID chosen by the server.
    pub scid: ConnectionId,
    /// The Retry Token. A client MUST discard a Retry with an empty token (RFC 9000
    /// §17.2.5.2); that check belongs to the client, which knows it is one.
    pub token: &'a [u8],
}

/// A Retry packet. Nothing in it is protected; the integrity tag is checked by the crypto
/// module over [`Retry::without_tag`] (RFC 9001 §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry<'a> {
    /// The header fields and token.
    pub header: RetryHeader<'a>,
    /// Whether the fixed bit was set.
    pub fixed_bit: bool,
    /// The Retry Integrity Tag.
    pub integrity_tag: [u8; RETRY_INTEGRITY_TAG_LEN],
    /// The whole packet, tag included.
    pub bytes: &'a [u8],
}

impl<'a> Retry<'a> {
    /// The packet without its integrity tag: the part of the Retry pseudo-packet that
    /// follows the Original Destination Connection ID (RFC 9001 §5.8).
    #[inline]
    pub fn without_tag(&self) -> &'a [u8] {
        let end = self.bytes.len().saturating_sub(RETRY_INTEGRITY_TAG_LEN);
        self.bytes.get(..end).unwrap_or_default()
    }
}

/// A Version Negotiation packet (RFC 9000 §17.2.1, RFC 8999 §6). Its connection IDs may
/// be up to 255 bytes long, since they echo those of a version we may not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionNegotiation<'a> {
    /// Destination Connection ID (our Source Connection ID, echoed).
    pub dcid: &'a [u8],
    /// Source Connection ID (our Destination Connection ID, echoed).
    pub scid: &'a [u8],
    /// Supported Version list; its length is a multiple of 4 (checked by the parser).
    versions: &'a [u8],
    /// The whole packet.
    pub bytes: &'a [u8],
}

impl<'a> VersionNegotiation<'a> {
    /// The versions the server lists, in its order.
    #[inline]
    pub fn versions(&self) -> VersionIter<'a> {
        VersionIter(self.versions.chunks_exact(4))
    }

    /// The raw Supported Version list.
    #[inline]
    pub fn versions_bytes(&self) -> &'a [u8] {
        self.versions
    }
}

/// Iterator over the versions of a [`VersionNegotiation`] packet.
#[derive(Debug, Clone)]
pub struct VersionIter<'a>(ChunksExact<'a, u8>);

impl Iterator for VersionIter<'_> {
    type Item = Version;

    #[inline]
    fn next(&mut self) -> Option<Version> {
        // `chunks_exact(4)` yields 4-byte chunks only, so the conversion always succeeds.
        let chunk = <[u8; 4]>::try_from(self.0.next()?).ok()?;
        Some(Version(u32::from_be_bytes(chunk)))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for VersionIter<'_> {}
impl FusedIterator for VersionIter<'_> {}

/// A long header of a version this crate does not know: only the version-independent
/// fields (RFC 8999 §5.1) are read, so that a server can answer with Version Negotiation
/// (RFC 9000 §6.1). Connection IDs may be up to 255 bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedVersion<'a> {
    /// The version the peer used.
    pub version: Version,
    /// Destination Connection ID (becomes the Version Negotiation SCID).
    pub dcid: &'a [u8],
    /// Source Connection ID (becomes the Version Negotiation DCID).
    pub scid: &'a [u8],
    /// The rest of the datagram from this packet on.
    pub bytes: &'a [u8],
}

/// One packet read from a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Initial, 0-RTT, Handshake or 1-RTT: remove header protection, then decrypt.
    Protected(ProtectedPacket<'a>),
    /// Retry.
    Retry(Retry<'a>),
    /// Version Negotiation.
    VersionNegotiation(VersionNegotiation<'a>),
    /// A long header with a version this crate does not know.
    UnsupportedVersion(UnsupportedVersion<'a>),
}

impl<'a> Packet<'a> {
    /// Reads the packet at the start of `datagram` and returns it with the bytes that
    /// follow it (other coalesced packets, RFC 9000 §12.2). Only Initial, 0-RTT and
    /// Handshake packets have a Length field; every other packet takes the rest of the
    /// datagram.
    ///
    /// A protected packet too short for a header-protection sample is refused with
    /// [`HeaderError::TooShortForSample`].
    pub fn parse(
        datagram: &'a [u8],
        cfg: &ParseConfig,
    ) -> Result<(Packet<'a>, &'a [u8]), HeaderError> {
        let packet = parse_one(datagram, cfg)?;
        if let Packet::Protected(p) = &packet {
            p.check_sample_room()?;
        }
        let rest = datagram.get(packet.len()..).unwrap_or_default();
        Ok((packet, rest))
    }

    /// The packet's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// Whether the packet is empty (never true for a parsed packet).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// The packet's bytes in the datagram.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        match self {
            Packet::Protected(p) => p.bytes,
            Packet::Retry(p) => p.bytes,
            Packet::VersionNegotiation(p) => p.bytes,
            Packet::UnsupportedVersion(p) => p.bytes,
        }
    }

    /// The Destination Connection ID.
    #[inline]
    pub fn dcid(&self) -> &[u8] {
        match self {
            Packet::Protected(p) => p.dcid().as_bytes(),
            Packet::Retry(p) => p.header.dcid.as_bytes(),
            Packet::VersionNegotiation(p) => p.dcid,
            Packet::UnsupportedVersion(p) => p.dcid,
        }
    }
}

/// Parses one packet without the sample-length check, which the coalesced iterator
/// applies after it knows where the packet ends.
pub(crate) fn parse_one<'a>(buf: &'a [u8], cfg: &ParseConfig) -> Result<Packet<'a>, HeaderError> {
    let first = *buf.first().ok_or(HeaderError::Truncated)?;
    if first & FORM_BIT != 0 {
        parse_long(buf, first, cfg)
    } else {
        parse_short(buf, first, cfg)
    }
}

fn check_fixed_bit(first: u8, cfg: &ParseConfig) -> Result<bool, HeaderError> {
    let fixed = first & FIXED_BIT != 0;
    // RFC 9000 §17.2, §17.3: "Packets containing a zero value for this bit are not valid
    // packets in this version and MUST be discarded", unless RFC 9287 applies.
    if !fixed && !cfg.accept_zero_fixed_bit {
        return Err(HeaderError::FixedBitZero);
    }
    Ok(fixed)
}

/// A v1/v2 connection ID: at most 20 bytes (RFC 9000 §17.2: "Endpoints that receive a
/// version 1 long header with a value larger than 20 MUST drop the packet.").
fn v1_cid(s: &[u8]) -> Result<ConnectionId, HeaderError> {
    ConnectionId::new(s).map_err(|e| HeaderError::CidTooLong(e.0))
}

/// Reads a length-prefixed connection ID of up to 255 bytes (RFC 8999 §5.1).
fn read_cid<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], HeaderError> {
    let len = r.u8()?;
    Ok(r.bytes(usize::from(len))?)
}

/// Reads a varint length and the bytes it covers, `LengthPastEnd` if they are not there.
fn read_len(r: &mut Reader<'_>) -> Result<usize, HeaderError> {
    let len = r.varint_u64()?;
    match usize::try_from(len) {
        Ok(n) if n <= r.remaining() => Ok(n),
        _ => Err(HeaderError::LengthPastEnd),
    }
}

fn parse_long<'a>(buf: &'a [u8], first: u8, cfg: &ParseConfig) -> Result<Packet<'a>, HeaderError> {
    let mut r = Reader::new(buf);
    r.skip(1)?;
    let version = Version(r.u32()?);
    let dcid = read_cid(&mut r)?;
    let scid = read_cid(&mut r)?;

    if version == Version::NEGOTIATION {
        // RFC 9000 §17.2.1: the Unused bits, fixed bit included, are ignored.
        let versions = r.rest();
        if versions.len() % 4 != 0 {
            return Err(HeaderError::BadVersionList);
        }
        return Ok(Packet::VersionNegotiation(VersionNegotiation {
            dcid,
            scid,
            versions,
            bytes: buf,
        }));
    }

    // The type bits mean something only in a version we know (RFC 8999 §5.1).
    let Some(ty) = version.packet_type_from_bits(first >> 4) else {
        return Ok(Packet::UnsupportedVersion(UnsupportedVersion {
            version,
            dcid,
            scid,
            bytes: buf,
        }));
    };
    let dcid = v1_cid(dcid)?;
    let scid = v1_cid(scid)?;
    let fixed_bit = check_fixed_bit(first, cfg)?;

    let token = match ty {
        PacketType::Retry => return parse_retry(buf, r, version, dcid, scid, fixed_bit),
        // RFC 9000 §17.2.2: Token Length (i), Token (..).
        PacketType::Initial => {
            let n = read_len(&mut r)?;
            r.bytes(n)?
        }
        _ => &[][..],
    };
    // RFC 9000 §17.2: Length covers the Packet Number and the Payload.
    let length = read_len(&mut r)?;
    let pn_offset = r.position();
    let end = pn_offset + length; // both at most buf.len(): no overflow
    let bytes = buf.get(..end).ok_or(HeaderError::LengthPastEnd)?;
    Ok(Packet::Protected(ProtectedPacket {
        header: ProtectedHeader::Long(LongHeader {
            ty,
            version,
            dcid,
            scid,
            token,
        }),
        fixed_bit,
        pn_offset,
        bytes,
    }))
}

fn parse_retry<'a>(
    buf: &'a [u8],
    mut r: Reader<'a>,
    version: Version,
    dcid: ConnectionId,
    scid: ConnectionId,
    fixed_bit: bool,
) -> Result<Packet<'a>, HeaderError> {
    // RFC 9000 §17.2.5: Retry Token (..), Retry Integrity Tag (128), to the end.
    let token_len = r
        .remaining()
        .checked_sub(RETRY_INTEGRITY_TAG_LEN)
        .ok_or(HeaderError::RetryTooShort)?;
    let token = r.bytes(token_len)?;
    let integrity_tag = r.array::<RETRY_INTEGRITY_TAG_LEN>()?;
    Ok(Packet::Retry(Retry {
        header: RetryHeader {
            version,
            dcid,
            scid,
            token,
        },
        fixed_bit,
        integrity_tag,
        bytes: buf,
    }))
}

fn parse_short<'a>(buf: &'a [u8], first: u8, cfg: &ParseConfig) -> Result<Packet<'a>, HeaderError> {
    let fixed_bit = check_fixed_bit(first, cfg)?;
    let mut r = Reader::new(buf);
    r.skip(1)?;
    // RFC 9000 §17.3: the DCID length is not on the wire; it is the length we issue.
    let dcid = v1_cid(r.bytes(cfg.short_dcid_len)?)?;
    Ok(Packet::Protected(ProtectedPacket {
        header: ProtectedHeader::Short {
            dcid,
            spin: first & SPIN_BIT != 0,
        },
        fixed_bit,
        pn_offset: r.position(),
        bytes: buf,
    }))
}

/// A short-header (1-RTT) packet's visible fields, read in place: what [`Packet::parse`]
/// finds for such a packet, without building a [`Packet`]. A short-header packet takes the
/// rest of the datagram (RFC 9000 §17.3), so this is the whole datagram's only packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortPacketFields<'a> {
    /// Destination Connection ID (`ParseConfig`'s short-header length).
    pub dcid: &'a [u8],
    /// The latency spin bit.
    pub spin: bool,
    /// Whether the fixed bit was set.
    pub fixed_bit: bool,
    /// Offset of the Packet Number field.
    pub pn_offset: usize,
}

/// For a datagram whose first byte has the short-header form: its packet's fields, checked
/// exactly as [`Packet::parse`] checks them (fixed bit, connection ID, room for the
/// header-protection sample). `None` for a long-header datagram.
pub fn parse_short_fields<'a>(
    datagram: &'a [u8],
    cfg: &ParseConfig,
) -> Option<Result<ShortPacketFields<'a>, HeaderError>> {
    let first = *datagram.first()?;
    if first & FORM_BIT != 0 {
        return None;
    }
    Some(short_fields(datagram, first, cfg))
}

fn short_fields<'a>(
    buf: &'a [u8],
    first: u8,
    cfg: &ParseConfig,
) -> Result<ShortPacketFields<'a>, HeaderError> {
    let fixed_bit = check_fixed_bit(first, cfg)?;
    let pn_offset = 1 + cfg.short_dcid_len;
    let dcid = buf.get(1..pn_offset).ok_or(HeaderError::Truncated)?;
    if dcid.len() > ConnectionId::MAX_LEN {
        return Err(HeaderError::CidTooLong(dcid.len()));
    }
    if buf.len().saturating_sub(pn_offset) < MIN_LEN_FROM_PN_OFFSET {
        return Err(HeaderError::TooShortForSample);
    }
    Ok(ShortPacketFields {
        dcid,
        spin: first & SPIN_BIT != 0,
        fixed_bit,
        pn_offset,
    })
}

/// The fields header protection hid, read once it is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearFields {
    /// The truncated packet number; decode it with the space's largest received number.
    pub pn: TruncatedPacketNumber,
    /// The key phase bit of a short header; `false` for a long header.
    pub key_phase: bool,
    /// The reserved bits as received (still in place: 0x0c long, 0x18 short).
    pub reserved_bits: u8,
}

impl ClearFields {
    /// Checks the reserved bits. Call this **after** the AEAD has authenticated the
    /// packet: RFC 9000 §17.2 / §17.3.1: "An endpoint MUST treat receipt of a packet that
    /// has a non-zero value for these bits, after removing both packet and header
    /// protection, as a connection error of type PROTOCOL_VIOLATION." Before
    /// authentication a failure would let an attacker close the connection with a forged
    /// packet (RFC 9001 §9.5).
    #[inline]
    pub fn check_reserved_bits(&self) -> Result<(), TransportError> {
        if self.reserved_bits != 0 {
            return Err(TransportError::protocol_violation(
                "reserved header bits are not zero",
            ));
        }
        Ok(())
    }
}

/// The packet-number length (1 to 4) encoded in a first byte whose protection is off.
#[inline]
pub const fn pn_len_from_first_byte(first_byte: u8) -> usize {
    (first_byte & PN_LEN_BITS) as usize + 1
}

/// Reads the fields header protection hides, from the first byte of a packet whose header
/// protection has been removed and the bytes from its packet-number offset on (`pn_bytes`
/// may run on into the payload; only the packet-number length is read). The header form
/// bit is never protected, so `first_byte` tells long from short.
///
/// Fails with [`HeaderError::Truncated`] when `pn_bytes` is shorter than the packet
/// number. Non-zero reserved bits are *not* an error here: see
/// [`ClearFields::check_reserved_bits`] for when to check them.
pub fn decode_protected_fields(
    first_byte: u8,
    pn_bytes: &[u8],
) -> Result<ClearFields, HeaderError> {
    let len = pn_len_from_first_byte(first_byte);
    let raw = pn_bytes.get(..len).ok_or(HeaderError::Truncated)?;
    let value = raw.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b));
    let long = first_byte & FORM_BIT != 0;
    let (reserved_mask, key_phase) = if long {
        (LONG_RESERVED_BITS, false)
    } else {
        (SHORT_RESERVED_BITS, first_byte & KEY_PHASE_BIT != 0)
    };
    Ok(ClearFields {
        pn: TruncatedPacketNumber { value, len },
        key_phase,
        reserved_bits: first_byte & reserved_mask,
    })
}

impl fmt::Display for ProtectedPacket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} dcid={} len={}", self.ty(), self.dcid(), self.len())
    }
}
