//! Encoding frames: [`Frame::encoded_len`] and [`Frame::write`].

use crate::codec::{BufferTooSmall, Writer};
use crate::frame::{ConnectionClose, Frame, NewConnectionId};
use crate::path::PathId;
use crate::varint::{size_of_u64, VarInt};

#[inline]
fn vl(v: VarInt) -> usize {
    v.size()
}

#[inline]
fn pl(p: PathId) -> usize {
    size_of_u64(p.as_u32().into())
}

/// A length-prefixed byte field.
#[inline]
fn bytes_len(b: &[u8]) -> usize {
    size_of_u64(b.len() as u64) + b.len()
}

impl NewConnectionId {
    fn body_len(&self) -> usize {
        vl(self.sequence) + vl(self.retire_prior_to) + 1 + self.cid.len() + 16
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        w.put_varint(self.sequence)?;
        w.put_varint(self.retire_prior_to)?;
        // A ConnectionId holds at most 20 bytes, so its length fits the 8-bit field.
        w.put_u8(self.cid.len() as u8)?;
        w.put_slice(self.cid.as_bytes())?;
        w.put_slice(&self.reset_token.0)
    }
}

impl ConnectionClose<'_> {
    fn body_len(&self) -> usize {
        vl(self.error_code)
            + self.frame_type.map_or(0, |t| size_of_u64(t.0))
            + bytes_len(self.reason)
    }
}

impl Frame<'_> {
    /// The exact number of bytes [`Frame::write`] writes for this frame.
    pub fn encoded_len(&self) -> usize {
        let body = match self {
            // Every PADDING byte is a frame of its own: the run is exactly `len` bytes.
            Frame::Padding { len } => return *len,
            Frame::Ping | Frame::HandshakeDone | Frame::ImmediateAck => 0,
            Frame::Ack(ack) => ack.body_len(),
            Frame::ResetStream {
                id,
                error_code,
                final_size,
            } => vl(id.as_varint()) + vl(*error_code) + vl(*final_size),
            Frame::StopSending { id, error_code } => vl(id.as_varint()) + vl(*error_code),
            Frame::Crypto { offset, data } => size_of_u64(*offset) + bytes_len(data),
            Frame::NewToken { token } => bytes_len(token),
            Frame::Stream(s) => return s.header().encoded_len() + s.data.len(),
            Frame::MaxData(v) | Frame::DataBlocked(v) => vl(*v),
            Frame::MaxStreamData { id, max: v } | Frame::StreamDataBlocked { id, limit: v } => {
                vl(id.as_varint()) + vl(*v)
            }
            Frame::MaxStreams { count: v, .. } | Frame::StreamsBlocked { limit: v, .. } => {
                size_of_u64(*v)
            }
            Frame::NewConnectionId(ncid) => ncid.body_len(),
            Frame::RetireConnectionId { sequence } => vl(*sequence),
            Frame::PathChallenge(_) | Frame::PathResponse(_) => 8,
            Frame::ConnectionClose(c) => c.body_len(),
            Frame::Datagram { data, has_len } => {
                if *has_len {
                    bytes_len(data)
                } else {
                    data.len()
                }
            }
            Frame::AckFrequency {
                sequence,
                ack_eliciting_threshold,
                requested_max_ack_delay_us,
                reordering_threshold,
            } => {
                vl(*sequence)
                    + vl(*ack_eliciting_threshold)
                    + vl(*requested_max_ack_delay_us)
                    + vl(*reordering_threshold)
            }
            Frame::PathAck { path_id, ack } => pl(*path_id) + ack.body_len(),
            Frame::PathAbandon {
                path_id,
                error_code: v,
            }
            | Frame::PathStatusBackup {
                path_id,
                sequence: v,
            }
            | Frame::PathStatusAvailable {
                path_id,
                sequence: v,
            }
            | Frame::PathRetireConnectionId {
                path_id,
                sequence: v,
            }
            | Frame::PathCidsBlocked {
                path_id,
                next_sequence: v,
            } => pl(*path_id) + vl(*v),
            Frame::PathNewConnectionId { path_id, frame } => pl(*path_id) + frame.body_len(),
            Frame::MaxPathId(p) | Frame::PathsBlocked(p) => pl(*p),
        };
        self.ty().size() + body
    }

    /// Writes the frame. Writes nothing and returns `Err` when it does not fit.
    ///
    /// A STREAM frame without a Length field and a DATAGRAM of type 0x30 extend to the end
    /// of the packet: the caller writes them last.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), BufferTooSmall> {
        if w.remaining() < self.encoded_len() {
            return Err(BufferTooSmall);
        }
        // From here on every write fits: `encoded_len` counts exactly what follows.
        if let Frame::Padding { len } = self {
            return w.put_bytes(0, *len);
        }
        if let Frame::Stream(s) = self {
            s.header().write(w)?;
            return w.put_slice(s.data);
        }
        w.put_varint_u64(self.ty().0)?;
        match self {
            Frame::Padding { .. } | Frame::Stream(_) => {}
            Frame::Ping | Frame::HandshakeDone | Frame::ImmediateAck => {}
            Frame::Ack(ack) => ack.encode_body(w)?,
            Frame::ResetStream {
                id,
                error_code,
                final_size,
            } => {
                w.put_varint(id.as_varint())?;
                w.put_varint(*error_code)?;
                w.put_varint(*final_size)?;
            }
            Frame::StopSending { id, error_code } => {
                w.put_varint(id.as_varint())?;
                w.put_varint(*error_code)?;
            }
            Frame::Crypto { offset, data } => {
                w.put_varint_u64(*offset)?;
                put_bytes(w, data)?;
            }
            Frame::NewToken { token } => put_bytes(w, token)?,
            Frame::MaxData(v) | Frame::DataBlocked(v) => w.put_varint(*v)?,
            Frame::MaxStreamData { id, max: v } | Frame::StreamDataBlocked { id, limit: v } => {
                w.put_varint(id.as_varint())?;
                w.put_varint(*v)?;
            }
            Frame::MaxStreams { count: v, .. } | Frame::StreamsBlocked { limit: v, .. } => {
                w.put_varint_u64(*v)?;
            }
            Frame::NewConnectionId(ncid) => ncid.encode(w)?,
            Frame::RetireConnectionId { sequence } => w.put_varint(*sequence)?,
            Frame::PathChallenge(data) | Frame::PathResponse(data) => w.put_slice(data)?,
            Frame::ConnectionClose(c) => {
                w.put_varint(c.error_code)?;
                if let Some(ty) = c.frame_type {
                    w.put_varint_u64(ty.0)?;
                }
                put_bytes(w, c.reason)?;
            }
            Frame::Datagram { data, has_len } => {
                if *has_len {
                    put_bytes(w, data)?;
                } else {
                    w.put_slice(data)?;
                }
            }
            Frame::AckFrequency {
                sequence,
                ack_eliciting_threshold,
                requested_max_ack_delay_us,
                reordering_threshold,
            } => {
                w.put_varint(*sequence)?;
                w.put_varint(*ack_eliciting_threshold)?;
                w.put_varint(*requested_max_ack_delay_us)?;
                w.put_varint(*reordering_threshold)?;
            }
            Frame::PathAck { path_id, ack } => {
                put_path(w, *path_id)?;
                ack.encode_body(w)?;
            }
            Frame::PathAbandon {
                path_id,
                error_code: v,
            }
            | Frame::PathStatusBackup {
                path_id,
                sequence: v,
            }
            | Frame::PathStatusAvailable {
                path_id,
                sequence: v,
            }
            | Frame::PathRetireConnectionId {
                path_id,
                sequence: v,
            }
            | Frame::PathCidsBlocked {
                path_id,
                next_sequence: v,
            } => {
                put_path(w, *path_id)?;
                w.put_varint(*v)?;
            }
            Frame::PathNewConnectionId { path_id, frame } => {
                put_path(w, *path_id)?;
                frame.encode(w)?;
            }
            Frame::MaxPathId(p) | Frame::PathsBlocked(p) => put_path(w, *p)?,
        }
        Ok(())
    }
}

#[inline]
fn put_bytes(w: &mut Writer<'_>, b: &[u8]) -> Result<(), BufferTooSmall> {
    w.put_varint_u64(b.len() as u64)?;
    w.put_slice(b)
}

#[inline]
fn put_path(w: &mut Writer<'_>, p: PathId) -> Result<(), BufferTooSmall> {
    w.put_varint_u64(p.as_u32().into())
}
