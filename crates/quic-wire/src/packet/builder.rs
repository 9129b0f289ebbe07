//! Building a protected packet in place: header, frames, padding, Length, AEAD seal and
//! header protection, straight into the caller's datagram buffer.
//!
//! ```text
//! let mut b = PacketBuilder::long(&mut buf[at..], &header, pn, largest_acked, TAG_LEN, true)?;
//! b.push(&Frame::Ping)?;                     // or b.write(|w| ...) for zero-copy data
//! let len = b.finish(PathId::ZERO, &keys.packet, &keys.header)?;
//! ```
//!
//! Several packets can be coalesced by building each into the rest of the same buffer
//! (RFC 9000 §12.2). Nothing allocates; the payload is encrypted where it was written.

use crate::codec::{BufferTooSmall, Writer};
use crate::crypto::{protect_header, CryptoError, HeaderKey, PacketKey, SAMPLE_LEN, SAMPLE_OFFSET};
use crate::frame::Frame;
use crate::packet::{HeaderLayout, LongHeader, ShortHeader, WriteError};
use crate::path::PathId;
use crate::pn::PacketNumber;

/// Why a packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The header could not be written.
    #[error("header: {0}")]
    Header(#[from] WriteError),
    /// The buffer has no room for what was asked.
    #[error("output buffer too small")]
    BufferTooSmall,
    /// The packet has no frame: RFC 9000 §12.4 makes that a PROTOCOL_VIOLATION at the peer.
    #[error("a packet must carry at least one frame")]
    Empty,
    /// Sealing or header protection failed.
    #[error("packet protection: {0}")]
    Crypto(#[from] CryptoError),
}

impl From<BufferTooSmall> for BuildError {
    fn from(_: BufferTooSmall) -> Self {
        BuildError::BufferTooSmall
    }
}

/// One packet being assembled at the start of a caller's buffer.
///
/// The buffer's length bounds the packet, AEAD tag included: give it a slice as long as
/// the datagram space left (path MTU, anti-amplification budget, congestion window).
#[derive(Debug)]
pub struct PacketBuilder<'a> {
    buf: &'a mut [u8],
    layout: HeaderLayout,
    pn: PacketNumber,
    /// End of what is written so far (header and frames).
    end: usize,
    /// Where frames must stop so the tag fits: `buf.len() - tag_len`.
    limit: usize,
    tag_len: usize,
}

impl<'a> PacketBuilder<'a> {
    /// Starts a long-header packet (Initial, 0-RTT, Handshake). The packet number is
    /// encoded as short as `largest_acked` allows (RFC 9000 §17.1); `tag_len` is the AEAD
    /// tag length of the key that will seal it; `fixed_bit` is `false` only to grease the
    /// QUIC bit (RFC 9287).
    pub fn long(
        buf: &'a mut [u8],
        header: &LongHeader<'_>,
        pn: PacketNumber,
        largest_acked: Option<PacketNumber>,
        tag_len: usize,
        fixed_bit: bool,
    ) -> Result<Self, BuildError> {
        let truncated = pn.truncate(largest_acked);
        Self::start(buf, pn, tag_len, |w| {
            header.write_with_length_placeholder(w, truncated, fixed_bit)
        })
    }

    /// Starts a short-header (1-RTT) packet; see [`PacketBuilder::long`].
    pub fn short(
        buf: &'a mut [u8],
        header: &ShortHeader,
        pn: PacketNumber,
        largest_acked: Option<PacketNumber>,
        tag_len: usize,
        fixed_bit: bool,
    ) -> Result<Self, BuildError> {
        let truncated = pn.truncate(largest_acked);
        Self::start(buf, pn, tag_len, |w| header.write(w, truncated, fixed_bit))
    }

    /// Sets the tag's room aside and writes the header with `write_header`.
    fn start(
        buf: &'a mut [u8],
        pn: PacketNumber,
        tag_len: usize,
        write_header: impl FnOnce(&mut Writer<'_>) -> Result<HeaderLayout, WriteError>,
    ) -> Result<Self, BuildError> {
        let limit = buf
            .len()
            .checked_sub(tag_len)
            .ok_or(BuildError::BufferTooSmall)?;
        let mut w = Writer::new(buf.get_mut(..limit).ok_or(BuildError::BufferTooSmall)?);
        let layout = write_header(&mut w)?;
        let end = w.written();
        Ok(PacketBuilder {
            buf,
            layout,
            pn,
            end,
            limit,
            tag_len,
        })
    }

    /// The packet number this packet carries.
    #[inline]
    pub fn packet_number(&self) -> PacketNumber {
        self.pn
    }

    /// Bytes of frame payload that still fit (the tag's room is already set aside).
    #[inline]
    pub fn remaining(&self) -> usize {
        self.limit - self.end
    }

    /// The packet's length so far, header included and tag excluded.
    #[inline]
    pub fn len(&self) -> usize {
        self.end
    }

    /// The frames written so far, in plaintext (what a packet trace logs before
    /// [`PacketBuilder::finish`] encrypts them in place).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.layout.payload_offset()..self.end]
    }

    /// Whether no frame has been written yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.layout.payload_offset()
    }

    /// Appends one frame.
    pub fn push(&mut self, frame: &Frame<'_>) -> Result<(), BuildError> {
        self.write(|w| frame.write(w))?;
        Ok(())
    }

    /// Lets `f` write frames directly (a STREAM header followed by data copied from a send
    /// buffer, for one); what it writes is kept even when it then returns an error.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>) -> Result<T, E> {
        // `end <= limit <= buf.len()` holds from construction on.
        let mut w = Writer::new(&mut self.buf[self.end..self.limit]);
        let out = f(&mut w);
        self.end += w.written();
        out
    }

    /// Pads with PADDING frames so that the packet, tag included, is at least `len` bytes
    /// (or as long as the buffer allows, if shorter). Client Initials are padded this way to
    /// 1200 bytes (RFC 9000 §14.1).
    pub fn pad_to(&mut self, len: usize) {
        let target = len.saturating_sub(self.tag_len).min(self.limit);
        if target > self.end {
            self.buf[self.end..target].fill(0);
            self.end = target;
        }
    }

    /// Finishes the packet: pads it so header protection has its sample (RFC 9001 §5.4.2),
    /// writes the Length field of a long header, seals the payload with `packet_key` (whose
    /// nonce takes `path`, RFC 10069 §2.4) and applies header protection. Returns the
    /// packet's length, tag included; the packet is `buf[..len]`.
    pub fn finish<P, H>(
        mut self,
        path: PathId,
        packet_key: &P,
        header_key: &H,
    ) -> Result<usize, BuildError>
    where
        P: PacketKey + ?Sized,
        H: HeaderKey + ?Sized,
    {
        if self.is_empty() {
            return Err(BuildError::Empty);
        }
        if packet_key.tag_len() != self.tag_len {
            return Err(BuildError::Crypto(CryptoError::BadLength));
        }
        // The sample starts 4 bytes after the packet number offset and is 16 bytes long; the
        // tag counts towards it.
        let min_len = self.layout.pn_offset + SAMPLE_OFFSET + SAMPLE_LEN;
        if self.end + self.tag_len < min_len {
            self.pad_to(min_len);
            if self.end + self.tag_len < min_len {
                return Err(BuildError::BufferTooSmall);
            }
        }
        let total = self.end + self.tag_len;
        if self.layout.length_offset.is_some() {
            let payload_len = total - self.layout.payload_offset();
            self.layout.patch_length(self.buf, payload_len)?;
        }
        let packet = &mut self.buf[..total];
        packet_key.seal_packet(path, self.pn, packet, self.layout.payload_offset())?;
        protect_header(header_key, packet, self.layout.pn_offset)?;
        Ok(total)
    }
}
