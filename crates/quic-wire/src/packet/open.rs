//! Opening a received packet in place: header protection off, packet number recovered,
//! payload decrypted, reserved bits checked.
//!
//! The order matters (RFC 9001 §5.4, §5.3, §9.5; RFC 9000 §17.2): the key phase that picks
//! the packet key is only readable once header protection is off, and the reserved bits may
//! only close the connection once the AEAD has shown the packet is genuine.

use core::ops::Range;

use crate::crypto::{unprotect_header, CryptoError, HeaderKey, PacketKey};
use crate::error::TransportError;
use crate::path::PathId;
use crate::pn::PacketNumber;

/// A packet whose protection was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The full packet number.
    pub pn: PacketNumber,
    /// The header's length, packet number included: the payload starts here.
    pub header_len: usize,
    /// The decrypted payload's length (frames only, the tag excluded).
    pub payload_len: usize,
    /// The key phase bit of a short header (`false` for long headers), RFC 9001 §6.
    pub key_phase: bool,
}

impl Opened {
    /// Where the decrypted frames are within the packet.
    #[inline]
    pub fn payload_range(&self) -> Range<usize> {
        self.header_len..self.header_len + self.payload_len
    }
}

/// Why a packet could not be opened, and what the receiver does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Header or packet protection failed: discard the packet (RFC 9001 §5.5). Count it
    /// towards the AEAD integrity limit when the AEAD failed (RFC 9001 §6.6).
    #[error("packet protection: {0}")]
    Crypto(#[from] CryptoError),
    /// No packet key for this key phase: discard the packet (RFC 9001 §6.3).
    #[error("no packet key for key phase {0}")]
    NoKey(bool),
    /// The packet is genuine but breaks a rule: close the connection with this error.
    #[error("{0}")]
    Violation(TransportError),
}

/// Opens the protected packet `packet` (one packet, as split from its datagram) in place.
///
/// `pn_offset` comes from the parsed header; `largest_received` is the largest packet number
/// received so far in this packet's number space (on this path); `packet_key` picks the key
/// for the packet's key phase (always the same key for long headers, where the phase is
/// `false`). The frames are then at `packet[opened.payload_range()]`.
pub fn open_in_place<'k, H, P>(
    packet: &mut [u8],
    pn_offset: usize,
    largest_received: Option<PacketNumber>,
    path: PathId,
    header_key: &H,
    packet_key: impl FnOnce(bool) -> Option<&'k P>,
) -> Result<Opened, OpenError>
where
    H: HeaderKey + ?Sized,
    P: PacketKey + ?Sized + 'k,
{
    let clear = unprotect_header(header_key, packet, pn_offset)?;
    // RFC 9000 §17.1, Appendix A.3.
    let pn = clear.pn.decode(largest_received);
    let header_len = pn_offset + clear.pn.len;
    let key = packet_key(clear.key_phase).ok_or(OpenError::NoKey(clear.key_phase))?;
    let payload_len = key.open_packet(path, pn, packet, header_len)?;
    // Only now that the AEAD vouched for the header (RFC 9000 §17.2, §17.3.1).
    clear.check_reserved_bits().map_err(OpenError::Violation)?;
    Ok(Opened {
        pn,
        header_len,
        payload_len,
        key_phase: clear.key_phase,
    })
}
