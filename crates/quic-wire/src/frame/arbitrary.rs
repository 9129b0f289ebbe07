//! `Arbitrary` for [`Frame`]: only valid frames, whose byte fields borrow from the fuzzer's
//! input, so `parse(write(frame)) == frame` must hold for every one.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::cid::{ConnectionId, ResetToken};
use crate::frame::{
    AckFrame, ConnectionClose, Frame, FrameType, NewConnectionId, StreamFrame, MAX_OFFSET,
    MAX_REQUESTED_ACK_DELAY_US, MAX_STREAM_COUNT,
};
use crate::path::PathId;
use crate::stream_id::{Dir, StreamId};
use crate::varint::VarInt;

fn some_bytes<'a>(u: &mut Unstructured<'a>, min: usize) -> Result<&'a [u8]> {
    let len = u.int_in_range(min..=min.max(1500))?;
    let len = len.min(u.len()).max(min);
    u.bytes(len)
}

fn offset_for(u: &mut Unstructured<'_>, data: &[u8]) -> Result<u64> {
    u.int_in_range(0..=MAX_OFFSET - data.len() as u64)
}

impl<'a> Arbitrary<'a> for NewConnectionId {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let sequence = VarInt::arbitrary(u)?;
        let retire = u.int_in_range(0..=sequence.into_inner())?;
        let len = u.int_in_range(1..=ConnectionId::MAX_LEN)?;
        let cid =
            ConnectionId::new(u.bytes(len)?).map_err(|_| arbitrary::Error::IncorrectFormat)?;
        Ok(NewConnectionId {
            sequence,
            retire_prior_to: VarInt::from_u64_clamped(retire),
            cid,
            reset_token: ResetToken::arbitrary(u)?,
        })
    }
}

impl<'a> Arbitrary<'a> for Frame<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let v = |u: &mut Unstructured<'a>| VarInt::arbitrary(u);
        let id = |u: &mut Unstructured<'a>| StreamId::arbitrary(u);
        let p = |u: &mut Unstructured<'a>| PathId::arbitrary(u);
        Ok(match u.int_in_range(0u8..=33)? {
            0 => Frame::Padding {
                len: u.int_in_range(1..=64)?,
            },
            1 => Frame::Ping,
            2 => Frame::Ack(AckFrame::arbitrary(u)?),
            3 => Frame::ResetStream {
                id: id(u)?,
                error_code: v(u)?,
                final_size: v(u)?,
            },
            4 => Frame::StopSending {
                id: id(u)?,
                error_code: v(u)?,
            },
            5 => {
                let data = some_bytes(u, 0)?;
                Frame::Crypto {
                    offset: offset_for(u, data)?,
                    data,
                }
            }
            6 => Frame::NewToken {
                token: some_bytes(u, 1)?,
            },
            7 => {
                let data = some_bytes(u, 0)?;
                Frame::Stream(StreamFrame {
                    id: id(u)?,
                    offset: offset_for(u, data)?,
                    data,
                    fin: bool::arbitrary(u)?,
                    has_len: bool::arbitrary(u)?,
                })
            }
            8 => Frame::MaxData(v(u)?),
            9 => Frame::MaxStreamData {
                id: id(u)?,
                max: v(u)?,
            },
            10 => Frame::MaxStreams {
                dir: Dir::arbitrary(u)?,
                count: u.int_in_range(0..=MAX_STREAM_COUNT)?,
            },
            11 => Frame::DataBlocked(v(u)?),
            12 => Frame::StreamDataBlocked {
                id: id(u)?,
                limit: v(u)?,
            },
            13 => Frame::StreamsBlocked {
                dir: Dir::arbitrary(u)?,
                limit: u.int_in_range(0..=MAX_STREAM_COUNT)?,
            },
            14 => Frame::NewConnectionId(NewConnectionId::arbitrary(u)?),
            15 => Frame::RetireConnectionId { sequence: v(u)? },
            16 => Frame::PathChallenge(u.arbitrary()?),
            17 => Frame::PathResponse(u.arbitrary()?),
            18 => Frame::ConnectionClose(ConnectionClose {
                error_code: v(u)?,
                frame_type: if bool::arbitrary(u)? {
                    Some(FrameType(v(u)?.into_inner()))
                } else {
                    None
                },
                reason: some_bytes(u, 0)?,
            }),
            19 => Frame::HandshakeDone,
            20 => Frame::Datagram {
                data: some_bytes(u, 0)?,
                has_len: bool::arbitrary(u)?,
            },
            21 => Frame::AckFrequency {
                sequence: v(u)?,
                ack_eliciting_threshold: v(u)?,
                requested_max_ack_delay_us: VarInt::from_u64_clamped(
                    u.int_in_range(0..=MAX_REQUESTED_ACK_DELAY_US - 1)?,
                ),
                reordering_threshold: v(u)?,
            },
            22 => Frame::ImmediateAck,
            23 => Frame::PathAck {
                path_id: p(u)?,
                ack: AckFrame::arbitrary(u)?,
            },
            24 => Frame::PathAbandon {
                path_id: p(u)?,
                error_code: v(u)?,
            },
            25 => Frame::PathStatusBackup {
                path_id: p(u)?,
                sequence: v(u)?,
            },
            26 => Frame::PathStatusAvailable {
                path_id: p(u)?,
                sequence: v(u)?,
            },
            27 => Frame::PathNewConnectionId {
                path_id: p(u)?,
                frame: NewConnectionId::arbitrary(u)?,
            },
            28 => Frame::PathRetireConnectionId {
                path_id: p(u)?,
                sequence: v(u)?,
            },
            29 => Frame::MaxPathId(p(u)?),
            30 => Frame::PathsBlocked(p(u)?),
            31 => Frame::PathCidsBlocked {
                path_id: p(u)?,
                next_sequence: v(u)?,
            },
            _ => Frame::Ping,
        })
    }
}
