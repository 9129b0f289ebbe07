//! Frame counters by kind, for [`Stats`](super::Stats).

use quic_wire::Frame;

/// How many frames of each kind went one way. Related frame types share a counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameStats {
    /// PADDING (a run of padding bytes counts once).
    pub padding: u64,
    /// PING.
    pub ping: u64,
    /// ACK and PATH_ACK.
    pub ack: u64,
    /// CRYPTO.
    pub crypto: u64,
    /// STREAM.
    pub stream: u64,
    /// MAX_DATA, MAX_STREAM_DATA and MAX_STREAMS.
    pub flow_control: u64,
    /// DATA_BLOCKED, STREAM_DATA_BLOCKED and STREAMS_BLOCKED.
    pub blocked: u64,
    /// RESET_STREAM and STOP_SENDING.
    pub stream_control: u64,
    /// NEW_CONNECTION_ID, RETIRE_CONNECTION_ID and their multipath forms.
    pub connection_ids: u64,
    /// PATH_CHALLENGE and PATH_RESPONSE.
    pub path_validation: u64,
    /// DATAGRAM.
    pub datagram: u64,
    /// Everything else: NEW_TOKEN, HANDSHAKE_DONE, CONNECTION_CLOSE, ACK_FREQUENCY,
    /// IMMEDIATE_ACK and the other multipath frames.
    pub other: u64,
}

impl FrameStats {
    /// Counts `frame`.
    #[inline]
    pub(crate) fn record(&mut self, frame: &Frame<'_>) {
        let slot = match frame {
            Frame::Padding { .. } => &mut self.padding,
            Frame::Ping => &mut self.ping,
            Frame::Ack(_) | Frame::PathAck { .. } => &mut self.ack,
            Frame::Crypto { .. } => &mut self.crypto,
            Frame::Stream(_) => &mut self.stream,
            Frame::MaxData(_) | Frame::MaxStreamData { .. } | Frame::MaxStreams { .. } => {
                &mut self.flow_control
            }
            Frame::DataBlocked(_)
            | Frame::StreamDataBlocked { .. }
            | Frame::StreamsBlocked { .. } => &mut self.blocked,
            Frame::ResetStream { .. } | Frame::StopSending { .. } => &mut self.stream_control,
            Frame::NewConnectionId(_)
            | Frame::RetireConnectionId { .. }
            | Frame::PathNewConnectionId { .. }
            | Frame::PathRetireConnectionId { .. } => &mut self.connection_ids,
            Frame::PathChallenge(_) | Frame::PathResponse(_) => &mut self.path_validation,
            Frame::Datagram { .. } => &mut self.datagram,
            _ => &mut self.other,
        };
        *slot += 1;
    }

    /// Every frame counted.
    pub fn total(&self) -> u64 {
        self.padding
            + self.ping
            + self.ack
            + self.crypto
            + self.stream
            + self.flow_control
            + self.blocked
            + self.stream_control
            + self.connection_ids
            + self.path_validation
            + self.datagram
            + self.other
    }
}

/// Counts the frames of a packet of type `ty` about to be sealed, when `on`
/// ([`Config::frame_stats`](super::Config::frame_stats)).
#[inline]
pub(crate) fn count_sent(
    on: bool,
    stats: &mut FrameStats,
    payload: &[u8],
    ty: quic_wire::packet::PacketType,
) {
    if on {
        for f in quic_wire::frame::FrameIter::new(payload, ty).map_while(Result::ok) {
            stats.record(&f);
        }
    }
}
