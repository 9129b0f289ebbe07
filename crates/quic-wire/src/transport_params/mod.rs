//! Transport parameters (RFC 9000 §7.4, §18) and the extensions' parameters:
//! max_datagram_frame_size (RFC 9221 §3), grease_quic_bit (RFC 9287 §3),
//! version_information (RFC 9368 §3), min_ack_delay (ack-frequency draft §3) and
//! initial_max_path_id (RFC 10069 §2.1).
//!
//! [`TransportParameters`] holds every parameter as a plain typed field whose
//! [`Default`] is the value an absent parameter stands for.
//! [`TransportParameters::decode`] reads the extension_data of a peer's
//! quic_transport_parameters extension and applies every rule that needs nothing but the
//! parameters themselves; [`TransportParameters::encode`] writes the non-default ones.
//!
//! Rules that need connection state stay with the connection: comparing the connection
//! IDs with the ones in the packet headers (RFC 9000 §7.3), requiring
//! initial_source_connection_id and the server's original_destination_connection_id to be
//! present, checking version_information against the version in use (RFC 9368 §4), and
//! the 0-RTT rules of RFC 9000 §7.4.1.
//!
//! Durations are integers whose unit is in the field name, as on the wire, so that every
//! value survives a round trip; [`TransportParameters::max_ack_delay`] and friends give
//! them as [`Duration`]s.

mod id;
mod values;

use core::time::Duration;

pub use id::TransportParameterId;
pub use values::{PreferredAddress, ReservedParameter, VersionInformation};

use crate::cid::{ConnectionId, ResetToken};
use crate::codec::{BufferTooSmall, Reader, Writer};
use crate::error::TransportError;
use crate::path::PathId;
use crate::stream_id::Side;
use crate::varint::VarInt;

/// The transport parameters one endpoint declares (RFC 9000 §18.2 and extensions).
///
/// `Default` gives the value of every parameter when it is absent: max_udp_payload_size
/// 65527, ack_delay_exponent 3, max_ack_delay 25 ms, active_connection_id_limit 2, and
/// zero, `false` or `None` for the rest.
///
/// Decoded values always satisfy [`TransportParameters::validate`]. Values built by hand
/// are written as they are; call `validate` before encoding to be sure the peer will accept
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TransportParameters {
    /// original_destination_connection_id (0x00): the Destination Connection ID of the
    /// client's first Initial. Server only.
    pub original_destination_connection_id: Option<ConnectionId>,
    /// max_idle_timeout (0x01) in milliseconds; 0 disables the idle timeout.
    pub max_idle_timeout_ms: VarInt,
    /// stateless_reset_token (0x02) for the handshake connection ID. Server only.
    pub stateless_reset_token: Option<ResetToken>,
    /// max_udp_payload_size (0x03): at least 1200, default 65527.
    pub max_udp_payload_size: VarInt,
    /// initial_max_data (0x04): the connection-level flow control limit.
    pub initial_max_data: VarInt,
    /// initial_max_stream_data_bidi_local (0x05): limit for bidirectional streams the
    /// sender of these parameters opens.
    pub initial_max_stream_data_bidi_local: VarInt,
    /// initial_max_stream_data_bidi_remote (0x06): limit for bidirectional streams the
    /// receiver of these parameters opens.
    pub initial_max_stream_data_bidi_remote: VarInt,
    /// initial_max_stream_data_uni (0x07): limit for unidirectional streams the receiver of
    /// these parameters opens.
    pub initial_max_stream_data_uni: VarInt,
    /// initial_max_streams_bidi (0x08): at most 2^60.
    pub initial_max_streams_bidi: VarInt,
    /// initial_max_streams_uni (0x09): at most 2^60.
    pub initial_max_streams_uni: VarInt,
    /// ack_delay_exponent (0x0a): at most 20, default 3.
    pub ack_delay_exponent: u8,
    /// max_ack_delay (0x0b) in milliseconds: below 2^14, default 25.
    pub max_ack_delay_ms: u16,
    /// disable_active_migration (0x0c).
    pub disable_active_migration: bool,
    /// preferred_address (0x0d). Server only.
    pub preferred_address: Option<PreferredAddress>,
    /// active_connection_id_limit (0x0e): at least 2, default 2.
    pub active_connection_id_limit: VarInt,
    /// initial_source_connection_id (0x0f): the Source Connection ID of the sender's first
    /// Initial.
    pub initial_source_connection_id: Option<ConnectionId>,
    /// retry_source_connection_id (0x10): the Source Connection ID of the server's Retry.
    /// Server only.
    pub retry_source_connection_id: Option<ConnectionId>,
    /// version_information (0x11, RFC 9368 §3).
    pub version_information: Option<VersionInformation>,
    /// max_datagram_frame_size (0x20, RFC 9221 §3): the largest DATAGRAM frame the sender
    /// accepts. `None` and `Some(0)` both mean no DATAGRAM support; they differ only on the
    /// wire.
    pub max_datagram_frame_size: Option<VarInt>,
    /// initial_max_path_id (0x3e, RFC 10069 §2.1): present when the sender supports
    /// multipath.
    pub initial_max_path_id: Option<PathId>,
    /// grease_quic_bit (0x2ab2, RFC 9287 §3): the sender accepts packets with the fixed bit
    /// cleared.
    pub grease_quic_bit: bool,
    /// min_ack_delay (0xff04de1b, ack-frequency draft §3) in microseconds: present when
    /// the sender accepts ACK_FREQUENCY and IMMEDIATE_ACK; not above max_ack_delay.
    pub min_ack_delay_us: Option<VarInt>,
}

/// RFC 9000 §18.2 defaults and bounds.
const DEFAULT_MAX_UDP_PAYLOAD_SIZE: u32 = 65527;
const MIN_MAX_UDP_PAYLOAD_SIZE: u64 = 1200;
const DEFAULT_ACK_DELAY_EXPONENT: u8 = 3;
const MAX_ACK_DELAY_EXPONENT: u8 = 20;
const DEFAULT_MAX_ACK_DELAY_MS: u16 = 25;
const MAX_ACK_DELAY_LIMIT_MS: u16 = 1 << 14;
const DEFAULT_ACTIVE_CONNECTION_ID_LIMIT: u32 = 2;
/// RFC 9000 §4.6: a stream count above 2^60 cannot be expressed as a stream ID.
const MAX_STREAMS: u64 = 1 << 60;

impl Default for TransportParameters {
    fn default() -> Self {
        TransportParameters {
            original_destination_connection_id: None,
            max_idle_timeout_ms: VarInt::ZERO,
            stateless_reset_token: None,
            max_udp_payload_size: VarInt::from_u32(DEFAULT_MAX_UDP_PAYLOAD_SIZE),
            initial_max_data: VarInt::ZERO,
            initial_max_stream_data_bidi_local: VarInt::ZERO,
            initial_max_stream_data_bidi_remote: VarInt::ZERO,
            initial_max_stream_data_uni: VarInt::ZERO,
            initial_max_streams_bidi: VarInt::ZERO,
            initial_max_streams_uni: VarInt::ZERO,
            ack_delay_exponent: DEFAULT_ACK_DELAY_EXPONENT,
            max_ack_delay_ms: DEFAULT_MAX_ACK_DELAY_MS,
            disable_active_migration: false,
            preferred_address: None,
            active_connection_id_limit: VarInt::from_u32(DEFAULT_ACTIVE_CONNECTION_ID_LIMIT),
            initial_source_connection_id: None,
            retry_source_connection_id: None,
            version_information: None,
            max_datagram_frame_size: None,
            initial_max_path_id: None,
            grease_quic_bit: false,
            min_ack_delay_us: None,
        }
    }
}

/// A TRANSPORT_PARAMETER_ERROR with a static reason.
#[inline]
const fn err(reason: &'static str) -> TransportError {
    TransportError::transport_parameter(reason)
}

impl TransportParameters {
    /// Reads the transport parameters `sender` declared (the extension_data of its
    /// quic_transport_parameters TLS extension, RFC 9001 §8.2).
    ///
    /// Unknown and reserved identifiers are skipped (RFC 9000 §7.4.2, §18.1). Every other
    /// failure is a TRANSPORT_PARAMETER_ERROR (RFC 9000 §7.4): a truncated parameter, a
    /// value that does not exactly fill its length, a parameter sent twice, a value out of
    /// range, or a server-only parameter sent by a client. See [`Self::validate`] for the
    /// value rules.
    pub fn decode(bytes: &[u8], sender: Side) -> Result<Self, TransportError> {
        let mut tp = TransportParameters::default();
        // Bit i set: the parameter at position i of the id table was seen.
        let mut seen: u32 = 0;
        let mut r = Reader::new(bytes);
        // Each pass consumes at least two bytes (id and length), so the loop ends.
        while !r.is_empty() {
            let id = r
                .varint_u64()
                .map_err(|_| err("truncated transport parameter id"))?;
            let len = r
                .varint_u64()
                .map_err(|_| err("truncated transport parameter length"))?;
            let value = usize::try_from(len)
                .ok()
                .and_then(|len| r.bytes(len).ok())
                .ok_or(err("transport parameter length runs past the end"))?;
            let id = TransportParameterId(id);
            // RFC 9000 §7.4.2: "An endpoint MUST ignore transport parameters that it does
            // not support"; reserved ids (§18.1) are among them.
            let Some(bit) = id.known_index() else {
                continue;
            };
            // RFC 9000 §7.4: "An endpoint SHOULD treat receipt of duplicate transport
            // parameters as a connection error of type TRANSPORT_PARAMETER_ERROR."
            if seen & (1 << bit) != 0 {
                return Err(err("duplicate transport parameter"));
            }
            seen |= 1 << bit;
            tp.set(id, value, sender)?;
        }
        tp.validate(sender)?;
        Ok(tp)
    }

    /// Stores the value of one known parameter, checking its form and the ranges the
    /// field's type cannot hold.
    fn set(
        &mut self,
        id: TransportParameterId,
        value: &[u8],
        sender: Side,
    ) -> Result<(), TransportError> {
        type Id = TransportParameterId;
        match id {
            Id::ORIGINAL_DESTINATION_CONNECTION_ID => {
                self.original_destination_connection_id = Some(cid(value)?);
            }
            Id::MAX_IDLE_TIMEOUT => self.max_idle_timeout_ms = int(value)?,
            Id::STATELESS_RESET_TOKEN => {
                // RFC 9000 §18.2: "This parameter is a sequence of 16 bytes."
                let token = value
                    .try_into()
                    .map_err(|_| err("stateless_reset_token is not 16 bytes"))?;
                self.stateless_reset_token = Some(ResetToken(token));
            }
            Id::MAX_UDP_PAYLOAD_SIZE => self.max_udp_payload_size = int(value)?,
            Id::INITIAL_MAX_DATA => self.initial_max_data = int(value)?,
            Id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL => {
                self.initial_max_stream_data_bidi_local = int(value)?;
            }
            Id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE => {
                self.initial_max_stream_data_bidi_remote = int(value)?;
            }
            Id::INITIAL_MAX_STREAM_DATA_UNI => self.initial_max_stream_data_uni = int(value)?,
            Id::INITIAL_MAX_STREAMS_BIDI => self.initial_max_streams_bidi = int(value)?,
            Id::INITIAL_MAX_STREAMS_UNI => self.initial_max_streams_uni = int(value)?,
            Id::ACK_DELAY_EXPONENT => {
                self.ack_delay_exponent = u8::try_from(int(value)?.into_inner())
                    .ok()
                    .filter(|&e| e <= MAX_ACK_DELAY_EXPONENT)
                    .ok_or(err(ERR_ACK_DELAY_EXPONENT))?;
            }
            Id::MAX_ACK_DELAY => {
                self.max_ack_delay_ms = u16::try_from(int(value)?.into_inner())
                    .ok()
                    .filter(|&d| d < MAX_ACK_DELAY_LIMIT_MS)
                    .ok_or(err(ERR_MAX_ACK_DELAY))?;
            }
            Id::DISABLE_ACTIVE_MIGRATION => {
                // RFC 9000 §18.2: "This parameter is a zero-length value."
                flag(value, "disable_active_migration has a value")?;
                self.disable_active_migration = true;
            }
            Id::PREFERRED_ADDRESS => {
                self.preferred_address = Some(PreferredAddress::decode(value)?);
            }
            Id::ACTIVE_CONNECTION_ID_LIMIT => self.active_connection_id_limit = int(value)?,
            Id::INITIAL_SOURCE_CONNECTION_ID => {
                self.initial_source_connection_id = Some(cid(value)?);
            }
            Id::RETRY_SOURCE_CONNECTION_ID => {
                self.retry_source_connection_id = Some(cid(value)?);
            }
            Id::VERSION_INFORMATION => {
                self.version_information = Some(VersionInformation::decode(value, sender)?);
            }
            Id::MAX_DATAGRAM_FRAME_SIZE => self.max_datagram_frame_size = Some(int(value)?),
            Id::INITIAL_MAX_PATH_ID => {
                // RFC 10069 §2.1: a value above 2^32-1 "MUST close the connection with an
                // error of type TRANSPORT_PARAMETER_ERROR".
                let path = PathId::from_u64(int(value)?.into_inner())
                    .ok_or(err("initial_max_path_id is above 2^32-1"))?;
                self.initial_max_path_id = Some(path);
            }
            Id::GREASE_QUIC_BIT => {
                // RFC 9287 §3: a value of non-zero length is a TRANSPORT_PARAMETER_ERROR.
                flag(value, "grease_quic_bit has a value")?;
                self.grease_quic_bit = true;
            }
            Id::MIN_ACK_DELAY => self.min_ack_delay_us = Some(int(value)?),
            // `decode` only passes ids from the table, and every one of them has an arm.
            _ => {}
        }
        Ok(())
    }

    /// Checks the rules on values that hold whatever their order on the wire, as the
    /// receiver of parameters sent by `sender` must (RFC 9000 §7.4: "An endpoint MUST treat
    /// receipt of a transport parameter with an invalid value as a connection error of type
    /// TRANSPORT_PARAMETER_ERROR"):
    ///
    /// - a client sent none of the server-only parameters (RFC 9000 §18.2);
    /// - max_udp_payload_size is at least 1200, ack_delay_exponent at most 20,
    ///   max_ack_delay below 2^14 ms, active_connection_id_limit at least 2, and each
    ///   initial_max_streams at most 2^60 (RFC 9000 §18.2, §4.6);
    /// - a preferred_address carries a non-empty connection ID, and is not sent by a server
    ///   whose initial_source_connection_id is empty (RFC 9000 §18.2);
    /// - version_information has no zero version, and a client's lists its chosen version
    ///   (RFC 9368 §4);
    /// - min_ack_delay is not above max_ack_delay (ack-frequency draft §3).
    ///
    /// [`Self::decode`] calls it; an endpoint can call it on its own parameters before
    /// sending them.
    pub fn validate(&self, sender: Side) -> Result<(), TransportError> {
        // RFC 9000 §18.2: "A server MUST treat receipt of any of these transport parameters
        // as a connection error of type TRANSPORT_PARAMETER_ERROR."
        if sender.is_client()
            && (self.original_destination_connection_id.is_some()
                || self.stateless_reset_token.is_some()
                || self.preferred_address.is_some()
                || self.retry_source_connection_id.is_some())
        {
            return Err(err("client sent a server-only transport parameter"));
        }
        if self.max_udp_payload_size.into_inner() < MIN_MAX_UDP_PAYLOAD_SIZE {
            return Err(err("max_udp_payload_size is below 1200"));
        }
        if self.ack_delay_exponent > MAX_ACK_DELAY_EXPONENT {
            return Err(err(ERR_ACK_DELAY_EXPONENT));
        }
        if self.max_ack_delay_ms >= MAX_ACK_DELAY_LIMIT_MS {
            return Err(err(ERR_MAX_ACK_DELAY));
        }
        // RFC 9000 §18.2: "An endpoint that receives a value less than 2 MUST close the
        // connection with an error of type TRANSPORT_PARAMETER_ERROR."
        if self.active_connection_id_limit.into_inner() < 2 {
            return Err(err("active_connection_id_limit is below 2"));
        }
        // RFC 9000 §4.6: a max_streams transport parameter above 2^60 closes the connection
        // "with a connection error of type TRANSPORT_PARAMETER_ERROR".
        if self.initial_max_streams_bidi.into_inner() > MAX_STREAMS
            || self.initial_max_streams_uni.into_inner() > MAX_STREAMS
        {
            return Err(err("initial_max_streams is above 2^60"));
        }
        if let Some(pa) = &self.preferred_address {
            // RFC 9000 §18.2: "A server that chooses a zero-length connection ID MUST NOT
            // provide a preferred address. Similarly, a server MUST NOT include a
            // zero-length connection ID in this transport parameter."
            if pa.connection_id.is_empty() {
                return Err(err("preferred_address has an empty connection ID"));
            }
            if self
                .initial_source_connection_id
                .is_some_and(|c| c.is_empty())
            {
                return Err(err(
                    "preferred_address from a server with an empty connection ID",
                ));
            }
        }
        if let Some(vi) = &self.version_information {
            vi.validate(sender)?;
        }
        // ack-frequency draft §3: "Endpoints that support this extension MUST treat receipt
        // of a min_ack_delay that is greater than the max_ack_delay as a connection error of
        // type TRANSPORT_PARAMETER_ERROR." (min in microseconds, max in milliseconds)
        if let Some(min) = self.min_ack_delay_us {
            if min.into_inner() > u64::from(self.max_ack_delay_ms) * 1000 {
                return Err(err("min_ack_delay is greater than max_ack_delay"));
            }
        }
        Ok(())
    }

    /// The number of bytes [`Self::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        let mut len = 0;
        let counted: Result<(), BufferTooSmall> = self.for_each_param(|id, value| {
            // The id is below 2^62 (it comes from the table).
            len += VarInt::from_u64_clamped(id.0).size() + value.len_field().size() + value.len();
            Ok(())
        });
        debug_assert!(counted.is_ok(), "counting never fails");
        len
    }

    /// Writes every parameter whose value differs from its default, in increasing id order.
    ///
    /// Fails without writing anything when `w` has fewer than [`Self::encoded_len`] bytes of
    /// room.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        if w.remaining() < self.encoded_len() {
            return Err(BufferTooSmall);
        }
        self.for_each_param(|id, value| {
            w.put_varint_u64(id.0)?;
            w.put_varint(value.len_field())?;
            value.encode(w)
        })
    }

    /// Writes `grease` (a reserved parameter, RFC 9000 §18.1) followed by what
    /// [`Self::encode`] writes: `grease.encoded_len() + self.encoded_len()` bytes.
    ///
    /// Fails without writing anything when `w` has too little room.
    pub fn encode_with_grease(
        &self,
        grease: &ReservedParameter<'_>,
        w: &mut Writer<'_>,
    ) -> Result<(), BufferTooSmall> {
        let needed = grease
            .encoded_len()
            .checked_add(self.encoded_len())
            .ok_or(BufferTooSmall)?;
        if w.remaining() < needed {
            return Err(BufferTooSmall);
        }
        grease.encode(w)?;
        self.encode(w)
    }

    /// The idle timeout the sender asks for, or `None` when it disabled it (RFC 9000 §10.1).
    pub fn max_idle_timeout(&self) -> Option<Duration> {
        match self.max_idle_timeout_ms.into_inner() {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// The maximum acknowledgment delay as a duration.
    pub fn max_ack_delay(&self) -> Duration {
        Duration::from_millis(self.max_ack_delay_ms.into())
    }

    /// The minimum acknowledgment delay as a duration, when the sender supports the
    /// ack-frequency extension.
    pub fn min_ack_delay(&self) -> Option<Duration> {
        self.min_ack_delay_us
            .map(|us| Duration::from_micros(us.into_inner()))
    }

    /// Calls `f` with each parameter to write, in increasing id order. Defaults are left
    /// out; `Option` fields are written when `Some`.
    fn for_each_param(
        &self,
        mut f: impl FnMut(TransportParameterId, Value<'_>) -> Result<(), BufferTooSmall>,
    ) -> Result<(), BufferTooSmall> {
        type Id = TransportParameterId;
        let defaults = TransportParameters::default();

        if let Some(c) = &self.original_destination_connection_id {
            f(Id::ORIGINAL_DESTINATION_CONNECTION_ID, Value::Bytes(c))?;
        }
        if self.max_idle_timeout_ms != defaults.max_idle_timeout_ms {
            f(Id::MAX_IDLE_TIMEOUT, Value::Int(self.max_idle_timeout_ms))?;
        }
        if let Some(t) = &self.stateless_reset_token {
            f(Id::STATELESS_RESET_TOKEN, Value::Bytes(&t.0))?;
        }
        let ints = [
            (
                Id::MAX_UDP_PAYLOAD_SIZE,
                self.max_udp_payload_size,
                defaults.max_udp_payload_size,
            ),
            (Id::INITIAL_MAX_DATA, self.initial_max_data, VarInt::ZERO),
            (
                Id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
                self.initial_max_stream_data_bidi_local,
                VarInt::ZERO,
            ),
            (
                Id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
                self.initial_max_stream_data_bidi_remote,
                VarInt::ZERO,
            ),
            (
                Id::INITIAL_MAX_STREAM_DATA_UNI,
                self.initial_max_stream_data_uni,
                VarInt::ZERO,
            ),
            (
                Id::INITIAL_MAX_STREAMS_BIDI,
                self.initial_max_streams_bidi,
                VarInt::ZERO,
            ),
            (
                Id::INITIAL_MAX_STREAMS_UNI,
                self.initial_max_streams_uni,
                VarInt::ZERO,
            ),
            (
                Id::ACK_DELAY_EXPONENT,
                self.ack_delay_exponent.into(),
                defaults.ack_delay_exponent.into(),
            ),
            (
                Id::MAX_ACK_DELAY,
                self.max_ack_delay_ms.into(),
                defaults.max_ack_delay_ms.into(),
            ),
        ];
        for (id, v, default) in ints {
            if v != default {
                f(id, Value::Int(v))?;
            }
        }
        if self.disable_active_migration {
            f(Id::DISABLE_ACTIVE_MIGRATION, Value::Bytes(&[]))?;
        }
        if let Some(pa) = &self.preferred_address {
            f(Id::PREFERRED_ADDRESS, Value::PreferredAddress(pa))?;
        }
        if self.active_connection_id_limit != defaults.active_connection_id_limit {
            f(
                Id::ACTIVE_CONNECTION_ID_LIMIT,
                Value::Int(self.active_connection_id_limit),
            )?;
        }
        if let Some(c) = &self.initial_source_connection_id {
            f(Id::INITIAL_SOURCE_CONNECTION_ID, Value::Bytes(c))?;
        }
        if let Some(c) = &self.retry_source_connection_id {
            f(Id::RETRY_SOURCE_CONNECTION_ID, Value::Bytes(c))?;
        }
        if let Some(vi) = &self.version_information {
            f(Id::VERSION_INFORMATION, Value::VersionInformation(vi))?;
        }
        if let Some(v) = self.max_datagram_frame_size {
            f(Id::MAX_DATAGRAM_FRAME_SIZE, Value::Int(v))?;
        }
        if let Some(p) = self.initial_max_path_id {
            f(Id::INITIAL_MAX_PATH_ID, Value::Int(p.as_u32().into()))?;
        }
        if self.grease_quic_bit {
            f(Id::GREASE_QUIC_BIT, Value::Bytes(&[]))?;
        }
        if let Some(v) = self.min_ack_delay_us {
            f(Id::MIN_ACK_DELAY, Value::Int(v))?;
        }
        Ok(())
    }
}

const ERR_ACK_DELAY_EXPONENT: &str = "ack_delay_exponent is above 20";
const ERR_MAX_ACK_DELAY: &str = "max_ack_delay is 2^14 ms or more";

/// The value of one parameter about to be written.
enum Value<'a> {
    /// A variable-length integer.
    Int(VarInt),
    /// Raw bytes: a connection ID, a reset token, or nothing for a flag.
    Bytes(&'a [u8]),
    /// preferred_address.
    PreferredAddress(&'a PreferredAddress),
    /// version_information.
    VersionInformation(&'a VersionInformation),
}

impl Value<'_> {
    /// The number of value bytes.
    fn len(&self) -> usize {
        match self {
            Value::Int(v) => v.size(),
            Value::Bytes(b) => b.len(),
            Value::PreferredAddress(pa) => pa.encoded_len(),
            Value::VersionInformation(vi) => vi.encoded_len(),
        }
    }

    /// The Transport Parameter Length field.
    fn len_field(&self) -> VarInt {
        // Values are at most a few hundred bytes (the largest is version_information with
        // 16 versions), far below 2^62.
        VarInt::from_u64_clamped(self.len() as u64)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        match self {
            Value::Int(v) => w.put_varint(*v),
            Value::Bytes(b) => w.put_slice(b),
            Value::PreferredAddress(pa) => pa.encode(w),
            Value::VersionInformation(vi) => vi.encode(w),
        }
    }
}

/// An integer parameter: one variable-length integer that fills the value exactly.
fn int(value: &[u8]) -> Result<VarInt, TransportError> {
    let mut r = Reader::new(value);
    let v = r
        .varint()
        .map_err(|_| err("integer transport parameter is truncated"))?;
    if !r.is_empty() {
        return Err(err("integer transport parameter has trailing bytes"));
    }
    Ok(v)
}

/// A connection ID parameter: at most 20 bytes (RFC 9000 §17.2).
fn cid(value: &[u8]) -> Result<ConnectionId, TransportError> {
    ConnectionId::new(value).map_err(|_| err("connection ID is longer than 20 bytes"))
}

/// A flag parameter: present with an empty value.
fn flag(value: &[u8], reason: &'static str) -> Result<(), TransportError> {
    if value.is_empty() {
        Ok(())
    } else {
        Err(err(reason))
    }
}
