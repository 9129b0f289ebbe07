//! Decoding frames: [`Frame::parse`], split into the frame type and the body so that
//! [`FrameIter`](super::FrameIter) can check the packet type in between.

use crate::cid::{ConnectionId, ResetToken};
use crate::codec::{Reader, UnexpectedEnd};
use crate::error::TransportError;
use crate::frame::ack::{AckError, AckFrame};
use crate::frame::{
    ConnectionClose, Frame, FrameType, FrameTypeInfo, NewConnectionId, StreamFrame, MAX_OFFSET,
    MAX_REQUESTED_ACK_DELAY_US, MAX_STREAM_COUNT,
};
use crate::path::PathId;
use crate::stream_id::{Dir, StreamId};
use crate::varint::VarInt;

/// Why a frame body is invalid, before it is tied to its frame type in one place
/// ([`parse_body`]).
enum Bad {
    /// FRAME_ENCODING_ERROR.
    Encoding(&'static str),
    /// PROTOCOL_VIOLATION.
    Protocol(&'static str),
}

impl From<UnexpectedEnd> for Bad {
    fn from(_: UnexpectedEnd) -> Self {
        Bad::Encoding("frame truncated")
    }
}

impl From<AckError> for Bad {
    fn from(e: AckError) -> Self {
        match e {
            AckError::Truncated => Bad::Encoding("frame truncated"),
            AckError::BelowZero => Bad::Encoding("ACK range below packet number 0"),
        }
    }
}

const PAST_END: Bad = Bad::Encoding("length field past the end of the packet");

/// Reads a frame type and checks it is known and minimally encoded (RFC 9000 §12.4).
pub(crate) fn parse_type(r: &mut Reader<'_>) -> Result<FrameType, TransportError> {
    parse_type_info(r).map(|(ty, _)| ty)
}

/// [`parse_type`], also giving the type's table entry (looked up once for both).
#[inline]
pub(crate) fn parse_type_info(
    r: &mut Reader<'_>,
) -> Result<(FrameType, FrameTypeInfo), TransportError> {
    let (v, len) = VarInt::decode_with_len(r)
        .map_err(|_| TransportError::frame_encoding("frame type truncated"))?;
    let ty = FrameType(v.into_inner());
    // RFC 9000 §12.4: "a frame type MUST use the shortest possible encoding." Receivers may
    // treat a longer encoding as PROTOCOL_VIOLATION; we do, for every type, known or not.
    if len != ty.size() {
        return Err(
            TransportError::protocol_violation("frame type not in its shortest encoding")
                .with_frame(ty),
        );
    }
    // RFC 9000 §12.4: "An endpoint MUST treat the receipt of a frame of unknown type as a
    // connection error of type FRAME_ENCODING_ERROR."
    // The eight STREAM types share one table entry: no table search for the most common
    // frames.
    const STREAM_INFO: Option<FrameTypeInfo> = FrameType::STREAM_BASE.info();
    let info = if ty.is_stream() {
        STREAM_INFO
    } else {
        ty.info()
    };
    match info {
        Some(info) => Ok((ty, info)),
        None => Err(TransportError::frame_encoding("unknown frame type").with_frame(ty)),
    }
}

/// Reads the body of a frame of type `ty` (already read by [`parse_type`]).
pub(crate) fn parse_body<'a>(
    ty: FrameType,
    r: &mut Reader<'a>,
) -> Result<Frame<'a>, TransportError> {
    // STREAM frames are most of what a busy connection receives: decoded before the
    // dispatch over every other type.
    let frame = if ty.is_stream() {
        stream(ty, r)
    } else {
        body(ty, r)
    };
    frame.map_err(|bad| bad_frame(bad, ty))
}

/// The connection error for an invalid body of a frame of type `ty`.
#[cold]
fn bad_frame(bad: Bad, ty: FrameType) -> TransportError {
    match bad {
        Bad::Encoding(reason) => TransportError::frame_encoding(reason),
        Bad::Protocol(reason) => TransportError::protocol_violation(reason),
    }
    .with_frame(ty)
}

impl<'a> Frame<'a> {
    /// Parses one frame from `r`, which borrows from a decrypted payload, and leaves `r`
    /// after it. A run of PADDING bytes is read as one [`Frame::Padding`].
    ///
    /// Does not check the packet type; [`FrameIter`](super::FrameIter) does. Errors carry
    /// the frame type when it was read.
    pub fn parse(r: &mut Reader<'a>) -> Result<Frame<'a>, TransportError> {
        let ty = parse_type(r)?;
        parse_body(ty, r)
    }
}

fn stream_id(r: &mut Reader<'_>) -> Result<StreamId, Bad> {
    Ok(StreamId::from(r.varint()?))
}

/// A length-prefixed byte field.
#[inline]
fn len_prefixed<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Bad> {
    let len = usize::try_from(r.varint_u64()?).map_err(|_| PAST_END)?;
    r.bytes(len).map_err(|_| PAST_END)
}

/// Multipath path IDs: RFC 10069 §2.1 bounds them to 2^32-1; a larger one is above any
/// maximum path ID, which §4 makes a PROTOCOL_VIOLATION.
fn path_id(v: u64) -> Result<PathId, Bad> {
    PathId::from_u64(v).ok_or(Bad::Protocol("path ID above 2^32-1"))
}

/// Offset plus length must stay within 2^62-1 (RFC 9000 §19.6, §19.8): "Receipt of a frame
/// that exceeds this limit MUST be treated as a connection error of type
/// FRAME_ENCODING_ERROR or ..." We pick FRAME_ENCODING_ERROR for both frames.
fn check_offset(offset: u64, data: &[u8]) -> Result<(), Bad> {
    match offset.checked_add(data.len() as u64) {
        Some(end) if end <= MAX_OFFSET => Ok(()),
        _ => Err(Bad::Encoding("offset plus length past 2^62-1")),
    }
}

/// MAX_STREAMS and STREAMS_BLOCKED (RFC 9000 §19.11, §19.14): "This value cannot exceed
/// 2^60"; larger values are a FRAME_ENCODING_ERROR (one of the two codes §19.14 allows).
fn stream_count(v: u64) -> Result<u64, Bad> {
    if v <= MAX_STREAM_COUNT {
        Ok(v)
    } else {
        Err(Bad::Encoding("stream count above 2^60"))
    }
}

fn new_connection_id(r: &mut Reader<'_>) -> Result<NewConnectionId, Bad> {
    let sequence = r.varint()?;
    let retire_prior_to = r.varint()?;
    let len = usize::from(r.u8()?);
    // RFC 9000 §19.15: "Values less than 1 and greater than 20 are invalid and MUST be
    // treated as a connection error of type FRAME_ENCODING_ERROR."
    if len == 0 || len > ConnectionId::MAX_LEN {
        return Err(Bad::Encoding("connection ID length not in 1..=20"));
    }
    let cid = ConnectionId::new(r.bytes(len)?)
        .map_err(|_| Bad::Encoding("connection ID length not in 1..=20"))?;
    let reset_token = ResetToken(r.array()?);
    // RFC 9000 §19.15: Retire Prior To greater than Sequence Number "MUST be treated as a
    // connection error of type FRAME_ENCODING_ERROR".
    if retire_prior_to > sequence {
        return Err(Bad::Encoding("Retire Prior To above Sequence Number"));
    }
    Ok(NewConnectionId {
        sequence,
        retire_prior_to,
        cid,
        reset_token,
    })
}

fn stream<'a>(ty: FrameType, r: &mut Reader<'a>) -> Result<Frame<'a>, Bad> {
    let id = stream_id(r)?;
    let offset = if ty.0 & FrameType::STREAM_OFF != 0 {
        r.varint_u64()?
    } else {
        0
    };
    let has_len = ty.0 & FrameType::STREAM_LEN != 0;
    // RFC 9000 §19.8: without the LEN bit the data extends to the end of the packet.
    let data = if has_len { len_prefixed(r)? } else { r.rest() };
    check_offset(offset, data)?;
    Ok(Frame::Stream(StreamFrame {
        id,
        offset,
        data,
        fin: ty.0 & FrameType::STREAM_FIN != 0,
        has_len,
    }))
}

fn dir(ty: FrameType, bidi: FrameType) -> Dir {
    if ty == bidi {
        Dir::Bi
    } else {
        Dir::Uni
    }
}

/// How many bytes at the start of `b` are zero, counted eight at a time (a padded
/// Initial carries over a thousand).
fn zero_run(b: &[u8]) -> usize {
    let mut chunks = b.chunks_exact(8);
    let mut n = 0;
    for c in &mut chunks {
        let w = <[u8; 8]>::try_from(c).map_or(u64::MAX, u64::from_le_bytes);
        if w != 0 {
            return n + (w.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + chunks.remainder().iter().take_while(|&&x| x == 0).count()
}

fn body<'a>(ty: FrameType, r: &mut Reader<'a>) -> Result<Frame<'a>, Bad> {
    Ok(match ty {
        FrameType::PADDING => {
            let more = zero_run(r.peek_rest());
            r.skip(more)?;
            Frame::Padding { len: more + 1 }
        }
        FrameType::PING => Frame::Ping,
        FrameType::ACK | FrameType::ACK_ECN => {
            Frame::Ack(AckFrame::decode(r, ty == FrameType::ACK_ECN)?)
        }
        FrameType::RESET_STREAM => Frame::ResetStream {
            id: stream_id(r)?,
            error_code: r.varint()?,
            final_size: r.varint()?,
        },
        FrameType::STOP_SENDING => Frame::StopSending {
            id: stream_id(r)?,
            error_code: r.varint()?,
        },
        FrameType::CRYPTO => {
            let offset = r.varint_u64()?;
            let data = len_prefixed(r)?;
            check_offset(offset, data)?;
            Frame::Crypto { offset, data }
        }
        FrameType::NEW_TOKEN => {
            let token = len_prefixed(r)?;
            // RFC 9000 §19.7: "A client MUST treat receipt of a NEW_TOKEN frame with an
            // empty Token field as a connection error of type FRAME_ENCODING_ERROR."
            if token.is_empty() {
                return Err(Bad::Encoding("empty NEW_TOKEN"));
            }
            Frame::NewToken { token }
        }
        _ if ty.is_stream() => stream(ty, r)?,
        FrameType::MAX_DATA => Frame::MaxData(r.varint()?),
        FrameType::MAX_STREAM_DATA => Frame::MaxStreamData {
            id: stream_id(r)?,
            max: r.varint()?,
        },
        FrameType::MAX_STREAMS_BIDI | FrameType::MAX_STREAMS_UNI => Frame::MaxStreams {
            dir: dir(ty, FrameType::MAX_STREAMS_BIDI),
            count: stream_count(r.varint_u64()?)?,
        },
        FrameType::DATA_BLOCKED => Frame::DataBlocked(r.varint()?),
        FrameType::STREAM_DATA_BLOCKED => Frame::StreamDataBlocked {
            id: stream_id(r)?,
            limit: r.varint()?,
        },
        FrameType::STREAMS_BLOCKED_BIDI | FrameType::STREAMS_BLOCKED_UNI => Frame::StreamsBlocked {
            dir: dir(ty, FrameType::STREAMS_BLOCKED_BIDI),
            limit: stream_count(r.varint_u64()?)?,
        },
        FrameType::NEW_CONNECTION_ID => Frame::NewConnectionId(new_connection_id(r)?),
        FrameType::RETIRE_CONNECTION_ID => Frame::RetireConnectionId {
            sequence: r.varint()?,
        },
        FrameType::PATH_CHALLENGE => Frame::PathChallenge(r.array()?),
        FrameType::PATH_RESPONSE => Frame::PathResponse(r.array()?),
        FrameType::CONNECTION_CLOSE | FrameType::CONNECTION_CLOSE_APP => {
            let error_code = r.varint()?;
            let frame_type = if ty == FrameType::CONNECTION_CLOSE {
                Some(FrameType(r.varint_u64()?))
            } else {
                None
            };
            Frame::ConnectionClose(ConnectionClose {
                error_code,
                frame_type,
                reason: len_prefixed(r)?,
            })
        }
        FrameType::HANDSHAKE_DONE => Frame::HandshakeDone,
        FrameType::IMMEDIATE_ACK => Frame::ImmediateAck,
        // RFC 9221 §4: type 0x30 has no Length field and extends to the end of the packet.
        FrameType::DATAGRAM => Frame::Datagram {
            data: r.rest(),
            has_len: false,
        },
        FrameType::DATAGRAM_LEN => Frame::Datagram {
            data: len_prefixed(r)?,
            has_len: true,
        },
        FrameType::ACK_FREQUENCY => {
            let sequence = r.varint()?;
            let ack_eliciting_threshold = r.varint()?;
            let requested_max_ack_delay_us = r.varint()?;
            let reordering_threshold = r.varint()?;
            // ack-frequency §4: values of 2^14 ms or more are invalid, and "Receipt of an
            // invalid value MUST be treated as a connection error of type
            // PROTOCOL_VIOLATION." (The min_ack_delay bound needs connection state.)
            if requested_max_ack_delay_us.into_inner() >= MAX_REQUESTED_ACK_DELAY_US {
                return Err(Bad::Protocol("Requested Max Ack Delay of 2^14 ms or more"));
            }
            Frame::AckFrequency {
                sequence,
                ack_eliciting_threshold,
                requested_max_ack_delay_us,
                reordering_threshold,
            }
        }
        FrameType::PATH_ACK | FrameType::PATH_ACK_ECN => {
            let raw_path = r.varint_u64()?;
            let ack = AckFrame::decode(r, ty == FrameType::PATH_ACK_ECN)?;
            Frame::PathAck {
                path_id: path_id(raw_path)?,
                ack,
            }
        }
        FrameType::PATH_ABANDON => {
            let (p, error_code) = (r.varint_u64()?, r.varint()?);
            Frame::PathAbandon {
                path_id: path_id(p)?,
                error_code,
            }
        }
        FrameType::PATH_STATUS_BACKUP => {
            let (p, sequence) = (r.varint_u64()?, r.varint()?);
            Frame::PathStatusBackup {
                path_id: path_id(p)?,
                sequence,
            }
        }
        FrameType::PATH_STATUS_AVAILABLE => {
            let (p, sequence) = (r.varint_u64()?, r.varint()?);
            Frame::PathStatusAvailable {
                path_id: path_id(p)?,
                sequence,
            }
        }
        FrameType::PATH_NEW_CONNECTION_ID => {
            let p = r.varint_u64()?;
            // RFC 10069 §4.4: the body is NEW_CONNECTION_ID's, with the same rules.
            let frame = new_connection_id(r)?;
            Frame::PathNewConnectionId {
                path_id: path_id(p)?,
                frame,
            }
        }
        FrameType::PATH_RETIRE_CONNECTION_ID => {
            let (p, sequence) = (r.varint_u64()?, r.varint()?);
            Frame::PathRetireConnectionId {
                path_id: path_id(p)?,
                sequence,
            }
        }
        // RFC 10069 §4.6: a Maximum Path Identifier above 2^32-1 "MUST be treated as a
        // connection error of type PROTOCOL_VIOLATION."
        FrameType::MAX_PATH_ID => Frame::MaxPathId(path_id(r.varint_u64()?)?),
        FrameType::PATHS_BLOCKED => Frame::PathsBlocked(path_id(r.varint_u64()?)?),
        FrameType::PATH_CIDS_BLOCKED => {
            let (p, next_sequence) = (r.varint_u64()?, r.varint()?);
            Frame::PathCidsBlocked {
                path_id: path_id(p)?,
                next_sequence,
            }
        }
        _ => return Err(Bad::Encoding("unknown frame type")),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_runs_are_counted_exactly_at_every_length_and_offset() {
        for len in 0..40 {
            for stop in 0..=len {
                let mut b = [0u8; 40];
                let b = &mut b[..len];
                if let Some(x) = b.get_mut(stop) {
                    *x = 0x80;
                }
                assert_eq!(super::zero_run(b), stop, "len {len} stop {stop}");
            }
        }
    }
}
