//! HTTP/3 SETTINGS (RFC 9114 §7.2.4, RFC 9204 §5).

use super::error::{err, Code, H3Error};
use super::varint::put_varint;
use alloc::vec::Vec;
use quic_wire::codec::Reader;

/// SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 §5).
pub const QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;
/// SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §7.2.4.1).
pub const MAX_FIELD_SECTION_SIZE: u64 = 0x06;
/// SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 §5).
pub const QPACK_BLOCKED_STREAMS: u64 = 0x07;

/// Most unknown settings kept from one SETTINGS frame (the rest are checked and dropped).
pub const MAX_OTHER_SETTINGS: usize = 16;

/// Whether `id` is a reserved (grease) identifier, `0x1f * N + 0x21` (RFC 9114 §7.2.4.1).
pub fn is_grease(id: u64) -> bool {
    id >= 0x21 && (id - 0x21) % 0x1f == 0
}

/// The settings one endpoint announces. Absent settings take their RFC defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY (default 0).
    pub qpack_max_table_capacity: u64,
    /// SETTINGS_QPACK_BLOCKED_STREAMS (default 0).
    pub qpack_blocked_streams: u64,
    /// SETTINGS_MAX_FIELD_SECTION_SIZE (default: unlimited).
    pub max_field_section_size: Option<u64>,
    /// Other (extension) settings, in order; at most [`MAX_OTHER_SETTINGS`] are kept.
    pub other: Vec<(u64, u64)>,
}

impl Default for Settings {
    /// The values an endpoint assumes before the peer's SETTINGS arrive (RFC 9114 §7.2.4.2).
    fn default() -> Self {
        Settings {
            qpack_max_table_capacity: 0,
            qpack_blocked_streams: 0,
            max_field_section_size: None,
            other: Vec::new(),
        }
    }
}

impl Settings {
    /// Parses a SETTINGS frame payload.
    pub fn parse(payload: &[u8]) -> Result<Settings, H3Error> {
        let mut s = Settings::default();
        let mut r = Reader::new(payload);
        let mut ids = Vec::new();
        while !r.is_empty() {
            let (id, value) = match (r.varint_u64(), r.varint_u64()) {
                (Ok(i), Ok(v)) => (i, v),
                _ => return Err(err(Code::H3_FRAME_ERROR, "truncated SETTINGS parameter")),
            };
            ids.push(id);
            match id {
                // RFC 9114 §7.2.4.1: identifiers reserved from HTTP/2 "MUST NOT be sent, and
                // their receipt MUST be treated as a connection error of type
                // H3_SETTINGS_ERROR."
                0x00 | 0x02..=0x05 => {
                    return Err(err(Code::H3_SETTINGS_ERROR, "HTTP/2 setting in SETTINGS"))
                }
                QPACK_MAX_TABLE_CAPACITY => s.qpack_max_table_capacity = value,
                QPACK_BLOCKED_STREAMS => s.qpack_blocked_streams = value,
                MAX_FIELD_SECTION_SIZE => s.max_field_section_size = Some(value),
                _ if is_grease(id) => {}
                _ if s.other.len() < MAX_OTHER_SETTINGS => s.other.push((id, value)),
                _ => {}
            }
        }
        // RFC 9114 §7.2.4: a repeated identifier MAY be treated as H3_SETTINGS_ERROR; we do.
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(err(Code::H3_SETTINGS_ERROR, "duplicate setting"));
        }
        Ok(s)
    }

    /// Appends the SETTINGS payload (not the frame header). `grease` adds one reserved
    /// setting, as RFC 9114 §7.2.4.1 suggests, so peers keep ignoring unknown identifiers.
    pub fn encode_payload(&self, grease: Option<(u64, u64)>, out: &mut Vec<u8>) {
        let mut put = |id: u64, v: u64| {
            put_varint(out, id);
            put_varint(out, v);
        };
        if self.qpack_max_table_capacity != 0 {
            put(QPACK_MAX_TABLE_CAPACITY, self.qpack_max_table_capacity);
        }
        if let Some(m) = self.max_field_section_size {
            put(MAX_FIELD_SECTION_SIZE, m);
        }
        if self.qpack_blocked_streams != 0 {
            put(QPACK_BLOCKED_STREAMS, self.qpack_blocked_streams);
        }
        for &(id, v) in &self.other {
            put(id, v);
        }
        if let Some((id, v)) = grease {
            put(id, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trips_and_ignores_grease() {
        let s = Settings {
            qpack_max_table_capacity: 4096,
            qpack_blocked_streams: 16,
            max_field_section_size: Some(1 << 16),
            other: vec![(0x08, 1)],
        };
        let mut p = vec![];
        s.encode_payload(Some((0x21 + 0x1f * 3, 7)), &mut p);
        assert_eq!(Settings::parse(&p), Ok(s));
    }

    #[test]
    fn rejects_http2_ids_duplicates_and_truncation() {
        for id in [0u8, 2, 3, 4, 5] {
            assert_eq!(
                Settings::parse(&[id, 1]).unwrap_err().code,
                Code::H3_SETTINGS_ERROR
            );
        }
        assert_eq!(
            Settings::parse(&[1, 1, 1, 2]).unwrap_err().code,
            Code::H3_SETTINGS_ERROR
        );
        assert_eq!(
            Settings::parse(&[1]).unwrap_err().code,
            Code::H3_FRAME_ERROR
        );
        assert_eq!(
            Settings::parse(&[0x40]).unwrap_err().code,
            Code::H3_FRAME_ERROR
        );
    }
}
