//! [`FrameIter`]: the frames of one decrypted packet payload, checked against the packet type.

use crate::codec::Reader;
use crate::error::TransportError;
use crate::frame::parse::{parse_body, parse_type_info};
use crate::frame::Frame;
use crate::packet::PacketType;

/// Iterates over the frames of a decrypted packet payload, zero-copy.
///
/// Yields `Err` once and then stops (the iterator is fused) when:
/// - the payload is empty: PROTOCOL_VIOLATION, "An endpoint MUST treat receipt of a packet
///   containing no frames as a connection error of type PROTOCOL_VIOLATION" (RFC 9000 §12.4);
/// - a frame type is not in its shortest encoding: PROTOCOL_VIOLATION (§12.4);
/// - a frame type is unknown: FRAME_ENCODING_ERROR (§12.4);
/// - a frame is not allowed in this packet type: PROTOCOL_VIOLATION (§12.4, Table 3:
///   "An endpoint MUST treat receipt of a frame in a packet type that is not permitted as
///   a connection error of type PROTOCOL_VIOLATION"), checked before the frame's body is
///   read;
/// - a frame body is invalid: the error [`Frame::parse`] reports.
///
/// Every error but the empty payload carries the offending frame type when it could be read.
/// A connection must not act on any frame of a packet that yields an error; it closes.
///
/// ```
/// use quic_wire::frame::FrameIter;
/// use quic_wire::{Frame, FrameType, PacketType, TransportErrorCode};
///
/// let payload = [0x01, 0x00, 0x00]; // PING, then two bytes of PADDING
/// let mut frames = FrameIter::new(&payload, PacketType::Initial);
/// assert_eq!(frames.next(), Some(Ok(Frame::Ping)));
/// assert_eq!(frames.next(), Some(Ok(Frame::Padding { len: 2 })));
/// assert_eq!(frames.next(), None);
/// assert!(frames.ack_eliciting());
///
/// // HANDSHAKE_DONE is 1-RTT only (RFC 9000 Table 3).
/// let err = FrameIter::new(&[0x1e], PacketType::Handshake).next().unwrap().unwrap_err();
/// assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
/// assert_eq!(err.frame_type, Some(FrameType::HANDSHAKE_DONE));
/// ```
#[derive(Debug, Clone)]
pub struct FrameIter<'a> {
    r: Reader<'a>,
    packet_type: PacketType,
    state: State,
    ack_eliciting: bool,
    probing_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Running,
    Done,
}

impl<'a> FrameIter<'a> {
    /// Iterates over `payload`, the decrypted payload of a packet of type `packet_type`.
    pub fn new(payload: &'a [u8], packet_type: PacketType) -> Self {
        FrameIter {
            r: Reader::new(payload),
            packet_type,
            state: State::Start,
            ack_eliciting: false,
            probing_only: true,
        }
    }

    /// Whether any frame yielded so far is ack-eliciting (RFC 9000 §13.2). Once the iterator
    /// returned `None` without an error, this says whether the packet is ack-eliciting.
    #[inline]
    pub fn ack_eliciting(&self) -> bool {
        self.ack_eliciting
    }

    /// Whether every frame yielded so far is a probing frame (PATH_CHALLENGE,
    /// PATH_RESPONSE, NEW_CONNECTION_ID, PADDING). Once the iterator returned `None` without
    /// an error, this says whether the packet is a probing packet (RFC 9000 §9.1).
    #[inline]
    pub fn probing_only(&self) -> bool {
        self.probing_only
    }

    /// How many payload bytes have been consumed.
    #[inline]
    pub fn position(&self) -> usize {
        self.r.position()
    }

    fn next_frame(&mut self) -> Result<Frame<'a>, TransportError> {
        // One table lookup answers all four questions about the type: known, allowed here,
        // ack-eliciting, probing.
        let (ty, info) = parse_type_info(&mut self.r)?;
        if !info.allowed_in(self.packet_type) {
            return Err(TransportError::protocol_violation(
                "frame not allowed in this packet type",
            )
            .with_frame(ty));
        }
        let frame = parse_body(ty, &mut self.r)?;
        self.ack_eliciting |= info.ack_eliciting;
        self.probing_only &= info.probing;
        Ok(frame)
    }
}

impl<'a> Iterator for FrameIter<'a> {
    type Item = Result<Frame<'a>, TransportError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.state {
            State::Done => return None,
            State::Start if self.r.is_empty() => {
                self.state = State::Done;
                return Some(Err(TransportError::protocol_violation(
                    "packet containing no frames",
                )));
            }
            State::Start | State::Running => {}
        }
        if self.r.is_empty() {
            self.state = State::Done;
            return None;
        }
        self.state = State::Running;
        let item = self.next_frame();
        if item.is_err() {
            self.state = State::Done;
        }
        Some(item)
    }
}

impl core::iter::FusedIterator for FrameIter<'_> {}
