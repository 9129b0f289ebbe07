//! Packet headers: writing (RFC 9000 §17, RFC 9369 §3.2, RFC 9287).
//!
//! Each writer checks up front that the whole header fits, so a failed write leaves the
//! [`Writer`] where it was. Offsets in a [`HeaderLayout`] are positions in the writer's
//! buffer (not relative to the packet), so several packets can be coalesced in one buffer
//! and patched afterwards.

use crate::{
    codec::{BufferTooSmall, Writer},
    packet::{
        header::{LongHeader, RetryHeader, ShortHeader, FIXED_BIT, FORM_BIT, SPIN_BIT},
        PacketType,
    },
    pn::TruncatedPacketNumber,
    varint::{size_of_u64, VarInt},
    version::Version,
};

use super::header::KEY_PHASE_BIT;

/// Width of the Length field written by [`LongHeader::write_with_length_placeholder`]:
/// a 2-byte varint, so packets up to 16383 bytes.
pub const LENGTH_PLACEHOLDER_LEN: usize = 2;
/// The largest Length a [`LENGTH_PLACEHOLDER_LEN`]-byte field holds.
pub const MAX_PLACEHOLDER_LENGTH: usize = (1 << 14) - 1;

/// Why a header could not be written. Apart from [`WriteError::BufferTooSmall`], each is
/// a misuse by the caller, reported instead of panicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The output buffer has no room for the header.
    #[error("output buffer too small")]
    BufferTooSmall,
    /// The version is not one whose packet types this crate knows.
    #[error("cannot write long headers for version {0}")]
    UnsupportedVersion(Version),
    /// [`LongHeader`] was given a type other than Initial, 0-RTT or Handshake.
    #[error("{0:?} is not written with LongHeader")]
    WrongPacketType(PacketType),
    /// A token on a packet type other than Initial.
    #[error("only Initial packets carry a token")]
    TokenNotAllowed,
    /// A packet number whose length is not 1 to 4.
    #[error("packet number length {0} is not 1 to 4")]
    BadPacketNumberLength(usize),
    /// A Length value too large for its field.
    #[error("length {0} does not fit in the Length field")]
    LengthTooLarge(usize),
    /// A Version Negotiation connection ID longer than 255 bytes.
    #[error("connection ID of {0} bytes cannot be encoded")]
    CidTooLong(usize),
    /// A patch offset outside the buffer, or a layout without a Length field.
    #[error("no Length field at that position")]
    NoLengthField,
}

impl From<BufferTooSmall> for WriteError {
    fn from(_: BufferTooSmall) -> Self {
        WriteError::BufferTooSmall
    }
}

/// Where a written header's parts are, as positions in the writer's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLayout {
    /// Where the packet (its first byte) starts.
    pub start: usize,
    /// Where the Length field starts (long headers only).
    pub length_offset: Option<usize>,
    /// Width of the Length field in bytes (0 for short headers).
    pub length_len: usize,
    /// Where the packet number starts: header protection samples at `pn_offset + 4`.
    pub pn_offset: usize,
    /// Length of the packet number (1 to 4).
    pub pn_len: usize,
}

impl HeaderLayout {
    /// Where the payload starts: the end of the header.
    #[inline]
    pub const fn payload_offset(&self) -> usize {
        self.pn_offset + self.pn_len
    }

    /// The header's length, packet number included.
    #[inline]
    pub const fn header_len(&self) -> usize {
        self.payload_offset() - self.start
    }

    /// Writes the Length field now that the payload size is known: packet number plus
    /// `payload_len_incl_tag` (frames and AEAD tag), RFC 9000 §17.2. `buf` is the buffer
    /// the header was written into (`Writer::filled_mut` gives it), and the field keeps
    /// the width it was written with.
    pub fn patch_length(
        &self,
        buf: &mut [u8],
        payload_len_incl_tag: usize,
    ) -> Result<(), WriteError> {
        let at = self.length_offset.ok_or(WriteError::NoLengthField)?;
        let length = self
            .pn_len
            .checked_add(payload_len_incl_tag)
            .ok_or(WriteError::LengthTooLarge(usize::MAX))?;
        let end = at
            .checked_add(self.length_len)
            .ok_or(WriteError::NoLengthField)?;
        let field = buf.get_mut(at..end).ok_or(WriteError::NoLengthField)?;
        write_varint_fixed(field, length)
    }
}

/// Writes `v` as a varint filling exactly `field` (1, 2, 4 or 8 bytes).
fn write_varint_fixed(field: &mut [u8], v: usize) -> Result<(), WriteError> {
    let len = field.len();
    let fits = match len {
        1 => v < 1 << 6,
        2 => v < 1 << 14,
        4 => v < 1 << 30,
        8 => VarInt::try_from(v).is_ok(),
        _ => return Err(WriteError::NoLengthField),
    };
    if !fits {
        return Err(WriteError::LengthTooLarge(v));
    }
    // RFC 9000 §16: the two high bits of the first byte are log2 of the length.
    let bytes = (v as u64).to_be_bytes();
    let tail = bytes.get(8 - len..).ok_or(WriteError::NoLengthField)?;
    field.copy_from_slice(tail);
    if let Some(b) = field.first_mut() {
        *b |= (len.trailing_zeros() as u8) << 6;
    }
    Ok(())
}

fn check_pn(pn: TruncatedPacketNumber) -> Result<(), WriteError> {
    if !(1..=4).contains(&pn.len) {
        return Err(WriteError::BadPacketNumberLength(pn.len));
    }
    Ok(())
}

fn put_pn(w: &mut Writer<'_>, pn: TruncatedPacketNumber) -> Result<(), BufferTooSmall> {
    let bytes = pn.value.to_be_bytes();
    w.put_slice(bytes.get(4 - pn.len.min(4)..).unwrap_or_default())
}

fn fixed(fixed_bit: bool) -> u8 {
    if fixed_bit {
        FIXED_BIT
    } else {
        0
    }
}

fn ensure_room(w: &Writer<'_>, n: usize) -> Result<(), WriteError> {
    if w.remaining() < n {
        return Err(WriteError::BufferTooSmall);
    }
    Ok(())
}

impl LongHeader<'_> {
    /// Checks the header can be written and returns its type bits.
    fn type_bits(&self) -> Result<u8, WriteError> {
        if !matches!(
            self.ty,
            PacketType::Initial | PacketType::ZeroRtt | PacketType::Handshake
        ) {
            return Err(WriteError::WrongPacketType(self.ty));
        }
        if self.ty != PacketType::Initial && !self.token.is_empty() {
            return Err(WriteError::TokenNotAllowed);
        }
        self.version
            .packet_type_bits(self.ty)
            .ok_or(WriteError::UnsupportedVersion(self.version))
    }

    /// Bytes before the Length field.
    fn prefix_len(&self) -> usize {
        let token = if self.ty == PacketType::Initial {
            size_of_u64(self.token.len() as u64) + self.token.len()
        } else {
            0
        };
        1 + 4 + 1 + self.dcid.len() + 1 + self.scid.len() + token
    }

    /// The header's length, packet number included, as [`LongHeader::write`] writes it.
    pub fn encoded_len(&self, pn_len: usize, payload_len_incl_tag: usize) -> usize {
        let length = pn_len.saturating_add(payload_len_incl_tag);
        self.prefix_len() + size_of_u64(length as u64) + pn_len
    }

    /// The header's length, packet number included, as
    /// [`LongHeader::write_with_length_placeholder`] writes it.
    pub fn encoded_len_with_placeholder(&self, pn_len: usize) -> usize {
        self.prefix_len() + LENGTH_PLACEHOLDER_LEN + pn_len
    }

    /// Writes the header with its packet number, unprotected, with the reserved bits 0.
    /// The Length field (RFC 9000 §17.2) is `pn.len + payload_len_incl_tag`, in its
    /// shortest encoding. `fixed_bit` is `false` only to grease the QUIC bit for a peer
    /// that advertised grease_quic_bit (RFC 9287 §3).
    pub fn write(
        &self,
        w: &mut Writer<'_>,
        pn: TruncatedPacketNumber,
        payload_len_incl_tag: usize,
        fixed_bit: bool,
    ) -> Result<HeaderLayout, WriteError> {
        let length = pn
            .len
            .checked_add(payload_len_incl_tag)
            .and_then(|l| VarInt::try_from(l).ok())
            .ok_or(WriteError::LengthTooLarge(payload_len_incl_tag))?;
        self.write_inner(
            w,
            pn,
            fixed_bit,
            length.size(),
            length.into_inner() as usize,
        )
    }

    /// Writes the header with a 2-byte Length field holding 0, to be filled in by
    /// [`HeaderLayout::patch_length`] once the payload is written. Packets written this
    /// way can be at most [`MAX_PLACEHOLDER_LENGTH`] bytes from the packet number on.
    pub fn write_with_length_placeholder(
        &self,
        w: &mut Writer<'_>,
        pn: TruncatedPacketNumber,
        fixed_bit: bool,
    ) -> Result<HeaderLayout, WriteError> {
        self.write_inner(w, pn, fixed_bit, LENGTH_PLACEHOLDER_LEN, 0)
    }

    fn write_inner(
        &self,
        w: &mut Writer<'_>,
        pn: TruncatedPacketNumber,
        fixed_bit: bool,
        length_len: usize,
        length: usize,
    ) -> Result<HeaderLayout, WriteError> {
        let bits = self.type_bits()?;
        check_pn(pn)?;
        ensure_room(w, self.prefix_len() + length_len + pn.len)?;
        let start = w.written();
        // RFC 9000 §17.2: form 1, fixed bit, type (2), reserved (2) = 0, pn length - 1 (2).
        let first = FORM_BIT | fixed(fixed_bit) | (bits << 4) | (pn.len as u8 - 1);
        w.put_u8(first)?;
        w.put_u32(self.version.0)?;
        // ConnectionId holds at most 20 bytes, so the lengths fit in a byte.
        w.put_u8(self.dcid.len() as u8)?;
        w.put_slice(&self.dcid)?;
        w.put_u8(self.scid.len() as u8)?;
        w.put_slice(&self.scid)?;
        if self.ty == PacketType::Initial {
            w.put_varint_u64(self.token.len() as u64)?;
            w.put_slice(self.token)?;
        }
        let length_offset = w.reserve(length_len)?;
        write_varint_fixed(
            w.filled_mut()
                .get_mut(length_offset..)
                .ok_or(WriteError::NoLengthField)?,
            length,
        )?;
        let pn_offset = w.written();
        put_pn(w, pn)?;
        Ok(HeaderLayout {
            start,
            length_offset: Some(length_offset),
            length_len,
            pn_offset,
            pn_len: pn.len,
        })
    }
}

impl ShortHeader {
    /// The header's length, packet number included.
    pub fn encoded_len(&self, pn_len: usize) -> usize {
        1 + self.dcid.len() + pn_len
    }

    /// Writes the 1-RTT header with its packet number, unprotected, reserved bits 0
    /// (RFC 9000 §17.3.1). `fixed_bit` as for [`LongHeader::write`].
    pub fn write(
        &self,
        w: &mut Writer<'_>,
        pn: TruncatedPacketNumber,
        fixed_bit: bool,
    ) -> Result<HeaderLayout, WriteError> {
        check_pn(pn)?;
        ensure_room(w, self.encoded_len(pn.len))?;
        let start = w.written();
        let mut first = fixed(fixed_bit) | (pn.len as u8 - 1);
        if self.spin {
            first |= SPIN_BIT;
        }
        if self.key_phase {
            first |= KEY_PHASE_BIT;
        }
        w.put_u8(first)?;
        w.put_slice(&self.dcid)?;
        let pn_offset = w.written();
        put_pn(w, pn)?;
        Ok(HeaderLayout {
            start,
            length_offset: None,
            length_len: 0,
            pn_offset,
            pn_len: pn.len,
        })
    }
}

impl RetryHeader<'_> {
    /// The length of the header and token, without the integrity tag.
    pub fn encoded_len(&self) -> usize {
        1 + 4 + 1 + self.dcid.len() + 1 + self.scid.len() + self.token.len()
    }

    /// Writes the Retry header and token (RFC 9000 §17.2.5) and returns where the packet
    /// starts; the crypto module appends the integrity tag (RFC 9001 §5.8). The Unused
    /// bits are written as 0.
    pub fn write(&self, w: &mut Writer<'_>, fixed_bit: bool) -> Result<usize, WriteError> {
        let bits = self
            .version
            .packet_type_bits(PacketType::Retry)
            .ok_or(WriteError::UnsupportedVersion(self.version))?;
        ensure_room(w, self.encoded_len())?;
        let start = w.written();
        w.put_u8(FORM_BIT | fixed(fixed_bit) | (bits << 4))?;
        w.put_u32(self.version.0)?;
        w.put_u8(self.dcid.len() as u8)?;
        w.put_slice(&self.dcid)?;
        w.put_u8(self.scid.len() as u8)?;
        w.put_slice(&self.scid)?;
        w.put_slice(self.token)?;
        Ok(start)
    }
}

/// The length of a Version Negotiation packet.
pub fn version_negotiation_len(dcid_len: usize, scid_len: usize, versions: usize) -> usize {
    1 + 4 + 1 + dcid_len + 1 + scid_len + 4 * versions
}

/// Writes a Version Negotiation packet (RFC 9000 §17.2.1, RFC 8999 §6) and returns
/// where it starts. `dcid` and `scid` are the client's SCID and DCID echoed (RFC 9000
/// §17.2.1: "The server MUST include the value from the Source Connection ID field of the
/// packet it receives in the Destination Connection ID field"), up to 255 bytes each.
///
/// The first byte is 1 (form), 1 (0x40, which RFC 9000 §17.2.1 says servers SHOULD set so
/// the packet looks like it has a fixed bit), then the low six bits of
/// `first_byte_random_bits`, which the server should pick at random.
pub fn write_version_negotiation(
    w: &mut Writer<'_>,
    dcid: &[u8],
    scid: &[u8],
    versions: &[Version],
    first_byte_random_bits: u8,
) -> Result<usize, WriteError> {
    let dcid_len = u8::try_from(dcid.len()).map_err(|_| WriteError::CidTooLong(dcid.len()))?;
    let scid_len = u8::try_from(scid.len()).map_err(|_| WriteError::CidTooLong(scid.len()))?;
    ensure_room(
        w,
        version_negotiation_len(dcid.len(), scid.len(), versions.len()),
    )?;
    let start = w.written();
    w.put_u8(FORM_BIT | FIXED_BIT | (first_byte_random_bits & 0x3f))?;
    w.put_u32(Version::NEGOTIATION.0)?;
    w.put_u8(dcid_len)?;
    w.put_slice(dcid)?;
    w.put_u8(scid_len)?;
    w.put_slice(scid)?;
    for v in versions {
        w.put_u32(v.0)?;
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Reader;

    #[test]
    fn fixed_width_varints_decode_to_the_value_at_every_width() {
        for (width, v) in [
            (1, 0),
            (1, 63),
            (2, 64),
            (2, 16_383),
            (4, 16_384),
            (4, (1 << 30) - 1),
            (8, 1 << 30),
            (8, 7),
        ] {
            let mut field = [0u8; 8];
            write_varint_fixed(&mut field[..width], v).unwrap();
            let mut r = Reader::new(&field[..width]);
            let (got, len) = VarInt::decode_with_len(&mut r).unwrap();
            assert_eq!((got.into_inner(), len), (v as u64, width));
        }
        let mut field = [0u8; 4];
        assert_eq!(
            write_varint_fixed(&mut field[..1], 64),
            Err(WriteError::LengthTooLarge(64))
        );
        assert_eq!(
            write_varint_fixed(&mut field[..3], 1),
            Err(WriteError::NoLengthField)
        );
    }

    #[test]
    fn patch_outside_the_buffer_is_an_error() {
        let layout = HeaderLayout {
            start: 0,
            length_offset: Some(10),
            length_len: 2,
            pn_offset: 12,
            pn_len: 1,
        };
        assert_eq!(
            layout.patch_length(&mut [0u8; 11], 5),
            Err(WriteError::NoLengthField)
        );
        let mut buf = [0u8; 12];
        layout.patch_length(&mut buf, 5).unwrap();
        assert_eq!(buf[10..], [0x40, 6]);
    }
}
