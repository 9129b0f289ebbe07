//! HTTP/3 and QPACK application error codes (RFC 9114 §8.1, RFC 9204 §6) and the error
//! values the h3 module reports.
//!
//! All codes live in one table, the `h3_codes!` macro invocation, which generates the constants and the names used
//! by `Debug`/`Display`.

use core::fmt;

/// An HTTP/3 application error code, as carried in CONNECTION_CLOSE, RESET_STREAM and
/// STOP_SENDING frames.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(pub u64);

macro_rules! h3_codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr,)*) => {
        impl Code {
            $($(#[$doc])* pub const $name: Code = Code($value);)*

            /// The registered name of this code, if it is one of the codes defined by
            /// RFC 9114 or RFC 9204.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }

        /// Every code in the table, in order (used by tests and diagnostics).
        pub const ALL_CODES: &[Code] = &[$(Code::$name),*];
    };
}

h3_codes! {
    /// No error; used when closing a connection or stream with no error to signal.
    H3_NO_ERROR = 0x0100,
    /// A protocol error with no more specific code.
    H3_GENERAL_PROTOCOL_ERROR = 0x0101,
    /// An internal error in the HTTP stack.
    H3_INTERNAL_ERROR = 0x0102,
    /// The peer created a stream that is not acceptable.
    H3_STREAM_CREATION_ERROR = 0x0103,
    /// A stream the connection requires was closed or reset.
    H3_CLOSED_CRITICAL_STREAM = 0x0104,
    /// A frame not permitted in the current state or on the current stream.
    H3_FRAME_UNEXPECTED = 0x0105,
    /// A frame that does not satisfy layout requirements, or whose size was invalid.
    H3_FRAME_ERROR = 0x0106,
    /// The peer is generating excessive load.
    H3_EXCESSIVE_LOAD = 0x0107,
    /// A stream ID or push ID was used incorrectly.
    H3_ID_ERROR = 0x0108,
    /// A SETTINGS frame carried an invalid value or parameter.
    H3_SETTINGS_ERROR = 0x0109,
    /// No SETTINGS frame at the start of the control stream.
    H3_MISSING_SETTINGS = 0x010a,
    /// The server rejected a request without any application processing.
    H3_REQUEST_REJECTED = 0x010b,
    /// The request or its response (including pushed responses) is cancelled.
    H3_REQUEST_CANCELLED = 0x010c,
    /// The client's stream terminated without containing a fully formed request.
    H3_REQUEST_INCOMPLETE = 0x010d,
    /// An HTTP message was malformed and cannot be processed.
    H3_MESSAGE_ERROR = 0x010e,
    /// The TCP connection established in response to a CONNECT request was reset.
    H3_CONNECT_ERROR = 0x010f,
    /// The requested operation cannot be served over HTTP/3.
    H3_VERSION_FALLBACK = 0x0110,
    /// QPACK: the decoder failed to interpret an encoded field section (RFC 9204 §6).
    QPACK_DECOMPRESSION_FAILED = 0x0200,
    /// QPACK: the decoder failed to interpret an encoder instruction (RFC 9204 §6).
    QPACK_ENCODER_STREAM_ERROR = 0x0201,
    /// QPACK: the encoder failed to interpret a decoder instruction (RFC 9204 §6).
    QPACK_DECODER_STREAM_ERROR = 0x0202,
}

impl Code {
    /// Whether `self` is a reserved (greased) error code, `0x1f * N + 0x21` (RFC 9114 §8.1).
    pub fn is_reserved(self) -> bool {
        self.0 >= 0x21 && (self.0 - 0x21) % 0x1f == 0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "Code({:#x})", self.0),
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An error that closes the HTTP/3 connection: the code to put in CONNECTION_CLOSE and a
/// short static reason. Small and `Copy`; never allocates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct H3Error {
    /// The application error code.
    pub code: Code,
    /// Why, for logs and the CONNECTION_CLOSE reason phrase.
    pub reason: &'static str,
}

impl H3Error {
    /// Builds an error from a code and a reason.
    pub const fn new(code: Code, reason: &'static str) -> Self {
        H3Error { code, reason }
    }
}

impl fmt::Debug for H3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.reason)
    }
}

impl fmt::Display for H3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl core::error::Error for H3Error {}

/// Shorthand constructors used throughout the module.
pub(crate) const fn err(code: Code, reason: &'static str) -> H3Error {
    H3Error::new(code, reason)
}
