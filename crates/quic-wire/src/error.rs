//! Transport error codes (RFC 9000 §20.1, RFC 9368, RFC 10069 §4.2.1) and [`TransportError`].

use core::fmt;

use crate::frame::FrameType;

/// A QUIC transport error code: a 62-bit integer carried in CONNECTION_CLOSE (type 0x1c).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TransportErrorCode(pub u64);

macro_rules! transport_errors {
    ($($(#[$doc:meta])* $name:ident = $val:expr,)*) => {
        impl TransportErrorCode {
            $($(#[$doc])* pub const $name: TransportErrorCode = TransportErrorCode($val);)*

            /// The registered name of this code, or `None` for an unregistered or
            /// CRYPTO_ERROR code.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

transport_errors! {
    /// No error: an abrupt close without an error.
    NO_ERROR = 0x00,
    /// The endpoint hit an internal error.
    INTERNAL_ERROR = 0x01,
    /// The server refuses to accept a new connection.
    CONNECTION_REFUSED = 0x02,
    /// More data was received than the advertised limits allow.
    FLOW_CONTROL_ERROR = 0x03,
    /// A stream was opened beyond the advertised stream limit.
    STREAM_LIMIT_ERROR = 0x04,
    /// A frame arrived for a stream in a state that does not permit it.
    STREAM_STATE_ERROR = 0x05,
    /// A final size changed or data arrived past the final size.
    FINAL_SIZE_ERROR = 0x06,
    /// A frame was badly formatted.
    FRAME_ENCODING_ERROR = 0x07,
    /// Transport parameters were malformed, invalid or missing.
    TRANSPORT_PARAMETER_ERROR = 0x08,
    /// More connection IDs were provided than active_connection_id_limit allows.
    CONNECTION_ID_LIMIT_ERROR = 0x09,
    /// A protocol rule was broken that has no more specific code.
    PROTOCOL_VIOLATION = 0x0a,
    /// A server received an invalid token in a client Initial.
    INVALID_TOKEN = 0x0b,
    /// The application or application protocol caused the close.
    APPLICATION_ERROR = 0x0c,
    /// More CRYPTO data arrived than can be buffered.
    CRYPTO_BUFFER_EXCEEDED = 0x0d,
    /// An error in key update.
    KEY_UPDATE_ERROR = 0x0e,
    /// The AEAD integrity limit was reached (RFC 9001 §6.6).
    AEAD_LIMIT_REACHED = 0x0f,
    /// No viable network path exists.
    NO_VIABLE_PATH = 0x10,
    /// Compatible version negotiation failed (RFC 9368 §4).
    VERSION_NEGOTIATION_ERROR = 0x11,
    /// Multipath: the application asked to abandon the path (RFC 10069 §4.2.1).
    APPLICATION_ABANDON_PATH = 0x3e,
    /// Multipath: path abandoned for lack of resources (RFC 10069 §4.2.1).
    PATH_RESOURCE_LIMIT_REACHED = 0x3e75,
    /// Multipath: path abandoned because it is unstable or poor (RFC 10069 §4.2.1).
    PATH_UNSTABLE_OR_POOR = 0x3e76,
    /// Multipath: path abandoned for lack of a connection ID (RFC 10069 §4.2.1).
    NO_CID_AVAILABLE_FOR_PATH = 0x3e77,
}

impl TransportErrorCode {
    /// A CRYPTO_ERROR code carrying a TLS alert (RFC 9000 §20.1: 0x0100-0x01ff).
    #[inline]
    pub const fn crypto(alert: u8) -> Self {
        TransportErrorCode(0x0100 | alert as u64)
    }

    /// The TLS alert carried by a CRYPTO_ERROR code, if this is one.
    #[inline]
    pub const fn tls_alert(self) -> Option<u8> {
        if self.0 & !0xff == 0x0100 {
            Some(self.0 as u8)
        } else {
            None
        }
    }
}

impl fmt::Debug for TransportErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TransportErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.tls_alert()) {
            (Some(name), _) => f.write_str(name),
            (None, Some(alert)) => write!(f, "CRYPTO_ERROR(alert {alert})"),
            (None, None) => write!(f, "{:#x}", self.0),
        }
    }
}

/// A transport error as the wire path reports it: the code, the frame type that caused it
/// (for CONNECTION_CLOSE's Frame Type field), and a static reason for logs and the
/// Reason Phrase. Small and `Copy`: producing one never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportError {
    /// The error code.
    pub code: TransportErrorCode,
    /// The type of the frame that triggered the error, when one did.
    pub frame_type: Option<FrameType>,
    /// A short static explanation.
    pub reason: &'static str,
}

impl TransportError {
    /// An error with a code and a reason, not tied to a frame.
    #[inline]
    pub const fn new(code: TransportErrorCode, reason: &'static str) -> Self {
        TransportError {
            code,
            frame_type: None,
            reason,
        }
    }

    /// The same error, attributed to a frame type.
    #[inline]
    pub const fn with_frame(mut self, frame_type: FrameType) -> Self {
        self.frame_type = Some(frame_type);
        self
    }

    /// FRAME_ENCODING_ERROR.
    #[inline]
    pub const fn frame_encoding(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::FRAME_ENCODING_ERROR, reason)
    }

    /// PROTOCOL_VIOLATION.
    #[inline]
    pub const fn protocol_violation(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::PROTOCOL_VIOLATION, reason)
    }

    /// TRANSPORT_PARAMETER_ERROR.
    #[inline]
    pub const fn transport_parameter(reason: &'static str) -> Self {
        Self::new(TransportErrorCode::TRANSPORT_PARAMETER_ERROR, reason)
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(ft) = self.frame_type {
            write!(f, " in {ft}")?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

impl core::error::Error for TransportError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_their_registered_names() {
        assert_eq!(TransportErrorCode(0x0a).name(), Some("PROTOCOL_VIOLATION"));
        assert_eq!(
            TransportErrorCode(0x11).name(),
            Some("VERSION_NEGOTIATION_ERROR")
        );
        assert_eq!(
            TransportErrorCode(0x3e77).name(),
            Some("NO_CID_AVAILABLE_FOR_PATH")
        );
        assert_eq!(
            std::format!("{}", TransportErrorCode::crypto(40)),
            "CRYPTO_ERROR(alert 40)"
        );
        assert_eq!(TransportErrorCode(0x1ff).tls_alert(), Some(0xff));
        assert_eq!(TransportErrorCode(0x200).tls_alert(), None);
    }

    #[test]
    fn display_names_the_frame() {
        let e = TransportError::frame_encoding("bad").with_frame(FrameType::STREAM_BASE);
        assert_eq!(std::format!("{e}"), "FRAME_ENCODING_ERROR in STREAM: bad");
    }
}
