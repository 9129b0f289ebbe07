//! [`quic_streams::h3::Transport`] on a [`Connection`]'s streams, so an HTTP/3 session
//! runs on it.

use bytes::Bytes;
use quic_streams::h3::{Code, Transport, TransportError};
use quic_streams::{StreamError, StreamRef};
use quic_wire::{Dir, StreamId, VarInt};

use super::Connection;

fn map(e: StreamError) -> TransportError {
    match e {
        StreamError::IdsExhausted => TransportError::StreamLimit,
        _ => TransportError::Closed,
    }
}

impl Connection {
    fn open_now(&mut self, dir: Dir) -> Result<StreamId, TransportError> {
        match self.streams.open(dir).map_err(map)? {
            StreamRef::Id(id) => Ok(id),
            pending @ StreamRef::Pending(_) => {
                // HTTP/3 wants an ID now: give the queued stream back (it never reached
                // the wire) and report the limit.
                let _ = self.streams.reset(pending, VarInt::from_u32(0));
                Err(TransportError::StreamLimit)
            }
        }
    }
}

impl Transport for Connection {
    fn open_uni(&mut self) -> Result<StreamId, TransportError> {
        self.open_now(Dir::Uni)
    }

    fn open_bidi(&mut self) -> Result<StreamId, TransportError> {
        self.open_now(Dir::Bi)
    }

    fn write(
        &mut self,
        stream: StreamId,
        chunks: &[Bytes],
        fin: bool,
    ) -> Result<(), TransportError> {
        // All or nothing: check the room first, then hand over every chunk (zero-copy).
        let total: u64 = chunks.iter().map(|c| c.len() as u64).sum();
        let room = self.streams.write_room(stream).map_err(map)?;
        if total > room {
            return Err(TransportError::Blocked);
        }
        for c in chunks {
            if !c.is_empty() {
                self.streams.write_bytes(stream, c.clone()).map_err(map)?;
            }
        }
        if fin {
            self.streams.finish(stream).map_err(map)?;
        }
        Ok(())
    }

    fn reset(&mut self, stream: StreamId, code: Code) {
        let _ = self.streams.reset(stream, VarInt::from_u64_clamped(code.0));
    }

    fn stop_sending(&mut self, stream: StreamId, code: Code) {
        let _ = self
            .streams
            .stop_sending(stream, VarInt::from_u64_clamped(code.0));
    }
}
