//! The structured parameter values: preferred_address (RFC 9000 §18.2), version_information
//! (RFC 9368 §3), and the reserved parameter an endpoint may add to exercise its peer
//! (RFC 9000 §18.1).

use core::net::{Ipv4Addr, Ipv6Addr};

use super::{err, TransportParameterId};
use crate::cid::{ConnectionId, ResetToken};
use crate::codec::{BufferTooSmall, Reader, Writer};
use crate::error::TransportError;
use crate::stream_id::Side;
use crate::varint::VarInt;
use crate::version::Version;

/// The server's preferred address (RFC 9000 §18.2, §9.6).
///
/// On the wire both address families are always present; an all-zero address and port
/// (`0.0.0.0:0`, `[::]:0`) stands for "no address of this family". So `None` is written as
/// zeros, and `Some((Ipv4Addr::UNSPECIFIED, 0))` is written the same way and reads back as
/// `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PreferredAddress {
    /// The IPv4 address and port, if the server offers one.
    pub ipv4: Option<(Ipv4Addr, u16)>,
    /// The IPv6 address and port, if the server offers one.
    pub ipv6: Option<(Ipv6Addr, u16)>,
    /// A connection ID with sequence number 1 for use on the new address; never empty
    /// (RFC 9000 §18.2).
    pub connection_id: ConnectionId,
    /// The stateless reset token bound to `connection_id`.
    pub stateless_reset_token: ResetToken,
}

impl PreferredAddress {
    /// The fixed part of the encoding: 4 + 2 + 16 + 2 + 1 + 16 bytes, the connection ID
    /// aside.
    const FIXED_LEN: usize = 41;

    /// The number of bytes the value takes on the wire.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        Self::FIXED_LEN + self.connection_id.len()
    }

    /// Reads the value of a preferred_address parameter, which must be exactly `value`.
    pub(super) fn decode(value: &[u8]) -> Result<Self, TransportError> {
        const TRUNCATED: &str = "preferred_address is truncated";
        let mut r = Reader::new(value);
        let v4 = Ipv4Addr::from(r.array::<4>().map_err(|_| err(TRUNCATED))?);
        let v4_port = r.u16().map_err(|_| err(TRUNCATED))?;
        let v6 = Ipv6Addr::from(r.array::<16>().map_err(|_| err(TRUNCATED))?);
        let v6_port = r.u16().map_err(|_| err(TRUNCATED))?;
        let cid_len = r.u8().map_err(|_| err(TRUNCATED))?;
        let cid = r.bytes(cid_len.into()).map_err(|_| err(TRUNCATED))?;
        let connection_id = ConnectionId::new(cid)
            .map_err(|_| err("preferred_address connection ID is longer than 20 bytes"))?;
        let token = r
            .array::<{ ResetToken::LEN }>()
            .map_err(|_| err(TRUNCATED))?;
        if !r.is_empty() {
            return Err(err("preferred_address is longer than its fields"));
        }
        // RFC 9000 §18.2: "an all-zero address and port" marks the family as not offered.
        Ok(PreferredAddress {
            ipv4: (!(v4.is_unspecified() && v4_port == 0)).then_some((v4, v4_port)),
            ipv6: (!(v6.is_unspecified() && v6_port == 0)).then_some((v6, v6_port)),
            connection_id,
            stateless_reset_token: ResetToken(token),
        })
    }

    /// Writes the value (without id and length).
    pub(super) fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        let (v4, v4_port) = self.ipv4.unwrap_or((Ipv4Addr::UNSPECIFIED, 0));
        let (v6, v6_port) = self.ipv6.unwrap_or((Ipv6Addr::UNSPECIFIED, 0));
        w.put_slice(&v4.octets())?;
        w.put_u16(v4_port)?;
        w.put_slice(&v6.octets())?;
        w.put_u16(v6_port)?;
        // A ConnectionId holds at most 20 bytes, so its length fits a u8.
        w.put_u8(self.connection_id.len() as u8)?;
        w.put_slice(&self.connection_id)?;
        w.put_slice(&self.stateless_reset_token.0)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for PreferredAddress {
    /// Never produces an all-zero address and port in `Some`, which the wire cannot tell
    /// from `None`.
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let ipv4: Option<(Ipv4Addr, u16)> = u.arbitrary()?;
        let ipv6: Option<(Ipv6Addr, u16)> = u.arbitrary()?;
        Ok(PreferredAddress {
            ipv4: ipv4.filter(|(a, p)| !(a.is_unspecified() && *p == 0)),
            ipv6: ipv6.filter(|(a, p)| !(a.is_unspecified() && *p == 0)),
            connection_id: u.arbitrary()?,
            stateless_reset_token: u.arbitrary()?,
        })
    }
}

/// The version_information parameter (RFC 9368 §3): the version the sender chose and the
/// versions it lists as available, stored inline.
///
/// At most [`VersionInformation::CAPACITY`] available versions are kept. When a peer lists
/// more, the first `CAPACITY` are kept in order, except that if the chosen version appears
/// in the list but not among them, it takes the last kept slot, so that a client's list
/// still contains its chosen version (which RFC 9368 §4 requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionInformation {
    chosen: Version,
    // Invariant: slots at `len..` hold Version(0), so the derived comparisons see only the
    // list.
    available: [Version; VersionInformation::CAPACITY],
    len: u8,
}

impl VersionInformation {
    /// How many available versions are kept.
    pub const CAPACITY: usize = 16;

    /// Version information with a chosen version and a list of available versions, or
    /// `None` when the list is longer than [`VersionInformation::CAPACITY`].
    pub fn new(chosen: Version, available: &[Version]) -> Option<Self> {
        let mut out = VersionInformation {
            chosen,
            available: [Version(0); Self::CAPACITY],
            len: 0,
        };
        out.available
            .get_mut(..available.len())?
            .copy_from_slice(available);
        // At most CAPACITY (16), checked just above.
        out.len = available.len() as u8;
        Some(out)
    }

    /// The version the sender chose for this connection.
    #[inline]
    pub const fn chosen(&self) -> Version {
        self.chosen
    }

    /// The available versions, in the order they were listed.
    #[inline]
    pub fn available(&self) -> &[Version] {
        &self.available[..usize::from(self.len).min(Self::CAPACITY)]
    }

    /// The number of bytes the value takes on the wire.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        4 * (1 + self.available().len())
    }

    /// RFC 9368 §4 checks on a kept list (see [`TransportParameters::validate`]).
    ///
    /// [`TransportParameters::validate`]: super::TransportParameters::validate
    pub(super) fn validate(&self, sender: Side) -> Result<(), TransportError> {
        check_versions(self.chosen, self.available().iter().copied(), sender)
    }

    /// Reads the value of a version_information parameter sent by `sender`.
    pub(super) fn decode(value: &[u8], sender: Side) -> Result<Self, TransportError> {
        // RFC 9368 §4: a value "too short or [whose] length is not divisible by four" is a
        // parsing failure, which QUIC v1 reports as TRANSPORT_PARAMETER_ERROR.
        if value.len() < 4 || value.len() % 4 != 0 {
            return Err(err(
                "version_information length is not a positive multiple of 4",
            ));
        }
        // Each chunk has exactly 4 bytes, so the indexing below cannot fail.
        let mut versions = value
            .chunks_exact(4)
            .map(|c| Version(u32::from_be_bytes([c[0], c[1], c[2], c[3]])));
        let chosen = versions.next().unwrap_or(Version(0));
        // Every listed version is checked, including those past the capacity.
        check_versions(chosen, versions.clone(), sender)?;

        let mut out = VersionInformation {
            chosen,
            available: [Version(0); Self::CAPACITY],
            len: 0,
        };
        let mut kept = 0;
        let mut chosen_dropped = false;
        for v in versions {
            if let Some(slot) = out.available.get_mut(kept) {
                *slot = v;
                kept += 1;
            } else if v == chosen {
                chosen_dropped = true;
            }
        }
        if chosen_dropped && !out.available.contains(&chosen) {
            if let Some(last) = out.available.last_mut() {
                *last = chosen;
            }
        }
        // kept <= CAPACITY (16): it only grows when a slot exists.
        out.len = kept as u8;
        Ok(out)
    }

    /// Writes the value (without id and length).
    pub(super) fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.put_u32(self.chosen.0)?;
        for v in self.available() {
            w.put_u32(v.0)?;
        }
        Ok(())
    }
}

/// RFC 9368 §4: "If an endpoint receives a Chosen Version equal to zero, or any Available
/// Version equal to zero, it MUST treat it as a parsing failure. If a server receives
/// Version Information where the Chosen Version is not included in Available Versions, it
/// MUST treat it as a parsing failure."
fn check_versions(
    chosen: Version,
    mut available: impl Iterator<Item = Version>,
    sender: Side,
) -> Result<(), TransportError> {
    if chosen == Version(0) {
        return Err(err("version_information chosen version is zero"));
    }
    let mut listed = false;
    for v in &mut available {
        if v == Version(0) {
            return Err(err("version_information lists version zero"));
        }
        listed |= v == chosen;
    }
    if sender.is_client() && !listed {
        return Err(err(
            "client version_information does not list its chosen version",
        ));
    }
    Ok(())
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for VersionInformation {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let chosen = u.arbitrary()?;
        let len = u.int_in_range(0..=Self::CAPACITY)?;
        let mut list = [Version(0); Self::CAPACITY];
        for slot in list.iter_mut().take(len) {
            *slot = u.arbitrary()?;
        }
        Ok(Self::new(chosen, &list[..len]).expect("len is at most CAPACITY"))
    }
}

/// A reserved transport parameter (RFC 9000 §18.1): id `31 * N + 27` with a value of the
/// caller's choosing. Sending one exercises the peer's duty to ignore unknown parameters.
///
/// quic-wire has no randomness, so the caller picks `N` and the value bytes (RFC 9000
/// §18.1 suggests random ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedParameter<'a> {
    id: TransportParameterId,
    len: VarInt,
    value: &'a [u8],
}

impl<'a> ReservedParameter<'a> {
    /// The reserved parameter with id `31 * n + 27` and `value`, or `None` when the id or the
    /// length would not fit in a variable-length integer.
    pub fn new(n: u64, value: &'a [u8]) -> Option<Self> {
        Some(ReservedParameter {
            id: TransportParameterId::reserved(n)?,
            len: VarInt::try_from(value.len()).ok()?,
            value,
        })
    }

    /// The parameter's identifier.
    #[inline]
    pub const fn id(&self) -> TransportParameterId {
        self.id
    }

    /// The value bytes.
    #[inline]
    pub const fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The number of bytes the whole parameter (id, length and value) takes.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        // The id is below 2^62 by construction.
        VarInt::from_u64_clamped(self.id.0).size() + self.len.size() + self.value.len()
    }

    /// Writes the whole parameter.
    pub(super) fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.put_varint_u64(self.id.0)?;
        w.put_varint(self.len)?;
        w.put_slice(self.value)
    }
}
