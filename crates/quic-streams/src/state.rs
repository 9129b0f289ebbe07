//! The stream state machines of RFC 9000 §3, as declared transition tables.
//!
//! Each half of a stream moves only through [`SendState::on`] / [`RecvState::on`], which look
//! the `(state, event)` pair up in a table written under the RFC's figure. A pair missing
//! from the table is a transition the RFC does not allow; the caller decides whether that
//! is a peer error, an API misuse, or a no-op (a late frame), and the state is unchanged.

/// States of the sending part of a stream (RFC 9000 §3.1, Figure 2).
///
/// ```text
///        o
///        | Create Stream (Sending)
///        | Peer Creates Bidirectional Stream
///        v
///    +-------+
///    | Ready | Send RESET_STREAM
///    |       |-----------------------.
///    +-------+                       |
///        |                           |
///        | Send STREAM /             |
///        |      STREAM_DATA_BLOCKED  |
///        v                           |
///    +-------+                       |
///    | Send  | Send RESET_STREAM     |
///    |       |---------------------->|
///    +-------+                       |
///        |                           |
///        | Send STREAM + FIN         |
///        v                           v
///    +-------+                   +-------+
///    | Data  | Send RESET_STREAM | Reset |
///    | Sent  |------------------>| Sent  |
///    +-------+                   +-------+
///        |                           |
///        | Recv All ACKs             | Recv ACK
///        v                           v
///    +-------+                   +-------+
///    | Data  |                   | Reset |
///    | Recvd |                   | Recvd |
///    +-------+                   +-------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendState {
    /// Created; nothing sent yet. Data written by the application may be buffered.
    Ready,
    /// Sending data (STREAM or STREAM_DATA_BLOCKED has been sent).
    Send,
    /// Every byte and the FIN have been sent; only retransmissions remain.
    DataSent,
    /// All data and the FIN were acknowledged. Terminal.
    DataRecvd,
    /// RESET_STREAM was sent; nothing else may be sent on this half.
    ResetSent,
    /// The RESET_STREAM was acknowledged. Terminal.
    ResetRecvd,
}

/// What moves the sending part (the edge labels of Figure 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendEvent {
    /// A STREAM frame without FIN, or STREAM_DATA_BLOCKED, was sent.
    SendData,
    /// A STREAM frame with FIN was sent.
    SendFin,
    /// RESET_STREAM was sent (or queued: the half stops sending data at once).
    SendReset,
    /// Every byte and the FIN were acknowledged.
    RecvAllAcks,
    /// The RESET_STREAM was acknowledged.
    RecvResetAck,
}

impl SendState {
    /// Every state, in Figure 2 order.
    pub const ALL: [SendState; 6] = [
        SendState::Ready,
        SendState::Send,
        SendState::DataSent,
        SendState::DataRecvd,
        SendState::ResetSent,
        SendState::ResetRecvd,
    ];

    /// The state after `event`, or `None` when Figure 2 has no such edge.
    pub const fn on(self, event: SendEvent) -> Option<SendState> {
        use SendEvent as E;
        use SendState as S;
        Some(match (self, event) {
            (S::Ready, E::SendData) => S::Send,
            // A first frame carrying FIN passes through "Send" in the same step.
            (S::Ready, E::SendFin) => S::DataSent,
            (S::Send, E::SendData) => S::Send,
            (S::Send, E::SendFin) => S::DataSent,
            // In "Data Sent" only retransmissions are sent, which do not change the state.
            (S::DataSent, E::SendData | E::SendFin) => S::DataSent,
            (S::Ready | S::Send | S::DataSent, E::SendReset) => S::ResetSent,
            (S::DataSent, E::RecvAllAcks) => S::DataRecvd,
            (S::ResetSent, E::RecvResetAck) => S::ResetRecvd,
            _ => return None,
        })
    }

    /// Whether this is a terminal state (RFC 9000 §3.1: "Data Recvd" or "Reset Recvd").
    pub const fn is_terminal(self) -> bool {
        matches!(self, SendState::DataRecvd | SendState::ResetRecvd)
    }

    /// Whether STREAM frames may still be sent (RFC 9000 §3.3: not after RESET_STREAM nor
    /// in a terminal state).
    pub const fn may_send_data(self) -> bool {
        matches!(
            self,
            SendState::Ready | SendState::Send | SendState::DataSent
        )
    }
}

/// States of the receiving part of a stream (RFC 9000 §3.2, Figure 3).
///
/// ```text
///        o
///        | Recv STREAM / STREAM_DATA_BLOCKED / RESET_STREAM
///        | Create Bidirectional Stream (Sending)
///        | Recv MAX_STREAM_DATA / STOP_SENDING (Bidirectional)
///        | Create Higher-Numbered Stream
///        v
///    +-------+
///    | Recv  | Recv RESET_STREAM
///    |       |-----------------------.
///    +-------+                       |
///        |                           |
///        | Recv STREAM + FIN         |
///        v                           |
///    +-------+                       |
///    | Size  | Recv RESET_STREAM     |
///    | Known |---------------------->|
///    +-------+                       |
///        |                           |
///        | Recv All Data             |
///        v                           v
///    +-------+ Recv RESET_STREAM +-------+
///    | Data  |--- (optional) --->| Reset |
///    | Recvd |  Receive All Data | Recvd |
///    +-------+<-- (optional) ----+-------+
///        |                           |
///        | App Read All Data         | App Read Reset
///        v                           v
///    +-------+                   +-------+
///    | Data  |                   | Reset |
///    | Read  |                   | Read  |
///    +-------+                   +-------+
/// ```
///
/// Of the two optional edges we take neither: a RESET_STREAM arriving once all data is in
/// is ignored (the application still gets every byte and the FIN), and data completing after
/// a reset is discarded (the application sees the reset). Both are allowed by §3.2 ("An
/// implementation is free to manage this situation as it chooses").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecvState {
    /// Receiving data; the final size is not known yet.
    Recv,
    /// A FIN arrived: the final size is known, some data may still be missing.
    SizeKnown,
    /// Every byte up to the final size arrived.
    DataRecvd,
    /// The application read everything (or stopped reading). Terminal.
    DataRead,
    /// RESET_STREAM arrived.
    ResetRecvd,
    /// The application was told of the reset. Terminal.
    ResetRead,
}

/// What moves the receiving part (the edge labels of Figure 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecvEvent {
    /// A STREAM frame without FIN (or STREAM_DATA_BLOCKED) arrived.
    RecvData,
    /// A STREAM frame with FIN arrived.
    RecvFin,
    /// Every byte up to the final size is now buffered or read.
    RecvAllData,
    /// RESET_STREAM arrived.
    RecvReset,
    /// The application consumed everything up to the final size.
    AppReadAll,
    /// The application was told of the reset.
    AppReadReset,
}

impl RecvState {
    /// Every state, in Figure 3 order.
    pub const ALL: [RecvState; 6] = [
        RecvState::Recv,
        RecvState::SizeKnown,
        RecvState::DataRecvd,
        RecvState::DataRead,
        RecvState::ResetRecvd,
        RecvState::ResetRead,
    ];

    /// The state after `event`, or `None` when Figure 3 has no such edge (or it is one of
    /// the optional edges we do not take).
    pub const fn on(self, event: RecvEvent) -> Option<RecvState> {
        use RecvEvent as E;
        use RecvState as S;
        Some(match (self, event) {
            (S::Recv, E::RecvData) => S::Recv,
            (S::Recv, E::RecvFin) => S::SizeKnown,
            // More data (a retransmitted FIN included) while the size is known.
            (S::SizeKnown, E::RecvData | E::RecvFin) => S::SizeKnown,
            (S::SizeKnown, E::RecvAllData) => S::DataRecvd,
            (S::Recv | S::SizeKnown, E::RecvReset) => S::ResetRecvd,
            (S::DataRecvd, E::AppReadAll) => S::DataRead,
            (S::ResetRecvd, E::AppReadReset) => S::ResetRead,
            _ => return None,
        })
    }

    /// Whether this is a terminal state ("Data Read" or "Reset Read").
    pub const fn is_terminal(self) -> bool {
        matches!(self, RecvState::DataRead | RecvState::ResetRead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;
    use std::string::String;

    const SEND_EVENTS: [SendEvent; 5] = [
        SendEvent::SendData,
        SendEvent::SendFin,
        SendEvent::SendReset,
        SendEvent::RecvAllAcks,
        SendEvent::RecvResetAck,
    ];
    const RECV_EVENTS: [RecvEvent; 6] = [
        RecvEvent::RecvData,
        RecvEvent::RecvFin,
        RecvEvent::RecvAllData,
        RecvEvent::RecvReset,
        RecvEvent::AppReadAll,
        RecvEvent::AppReadReset,
    ];

    fn table<S: Copy + core::fmt::Debug, E: Copy + core::fmt::Debug>(
        states: &[S],
        events: &[E],
        on: impl Fn(S, E) -> Option<S>,
    ) -> String {
        let mut out = String::new();
        for &s in states {
            for &e in events {
                if let Some(n) = on(s, e) {
                    writeln!(out, "{s:?} --{e:?}--> {n:?}").unwrap();
                }
            }
        }
        out
    }

    /// The whole sending table, checked edge by edge against Figure 2.
    #[test]
    fn send_transition_table_matches_figure_2() {
        let t = table(&SendState::ALL, &SEND_EVENTS, SendState::on);
        std::println!("{t}");
        let expected = "\
Ready --SendData--> Send
Ready --SendFin--> DataSent
Ready --SendReset--> ResetSent
Send --SendData--> Send
Send --SendFin--> DataSent
Send --SendReset--> ResetSent
DataSent --SendData--> DataSent
DataSent --SendFin--> DataSent
DataSent --SendReset--> ResetSent
DataSent --RecvAllAcks--> DataRecvd
ResetSent --RecvResetAck--> ResetRecvd
";
        assert_eq!(t, expected);
    }

    /// The whole receiving table, checked edge by edge against Figure 3.
    #[test]
    fn recv_transition_table_matches_figure_3() {
        let t = table(&RecvState::ALL, &RECV_EVENTS, RecvState::on);
        std::println!("{t}");
        let expected = "\
Recv --RecvData--> Recv
Recv --RecvFin--> SizeKnown
Recv --RecvReset--> ResetRecvd
SizeKnown --RecvData--> SizeKnown
SizeKnown --RecvFin--> SizeKnown
SizeKnown --RecvAllData--> DataRecvd
SizeKnown --RecvReset--> ResetRecvd
DataRecvd --AppReadAll--> DataRead
ResetRecvd --AppReadReset--> ResetRead
";
        assert_eq!(t, expected);
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for s in SendState::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(SEND_EVENTS.iter().all(|&e| s.on(e).is_none()), "{s:?}");
        }
        for s in RecvState::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(RECV_EVENTS.iter().all(|&e| s.on(e).is_none()), "{s:?}");
        }
    }

    #[test]
    fn no_data_after_reset_sent() {
        assert!(!SendState::ResetSent.may_send_data());
        assert_eq!(SendState::ResetSent.on(SendEvent::SendData), None);
        assert_eq!(SendState::DataRecvd.on(SendEvent::SendReset), None);
    }
}
