//! A lost ACK-only datagram while the sender is congestion-window limited: nothing but the
//! probe timeout can bring the acknowledgment back (RFC 9002 §6.2), and it does so without
//! any packet declared lost or any congestion event.
//!
//! This is the mechanism behind the bench's "timer waits" under 1% random loss: a sender
//! whose whole window is answered by one ACK waits one PTO (RFC 9002 §6.2.1: smoothed_rtt +
//! max(4*rttvar, kGranularity) + the peer's max_ack_delay) for every such ACK the link drops.
#![cfg(feature = "rustls")]

mod util;

use std::cell::Cell;
use std::rc::Rc;

use quic_conn::conn::Config;
use quic_recovery::RecoveryStats;
use quic_streams::StreamRef;
use quic_wire::{Dir, PathId};
use util::{pattern, read_all, Pair};

/// Moves 64 KiB client to server over a 10 ms link; with `drop_first_ack`, the first
/// datagram the server sends after the handshake (the ACK of the client's first flight) is
/// lost. Returns the client's recovery counters of the transfer alone.
fn transfer(drop_first_ack: bool) -> RecoveryStats {
    // Without pacing the client sends its whole window at once, as in the bench where the
    // RTT is a few microseconds and the pacer's rate never holds a packet back; the server
    // then answers the flight with one ACK.
    let client = Config {
        recovery: quic_recovery::RecoveryConfig {
            pacing: false,
            ..Config::default().recovery
        },
        ..Config::default()
    };
    let mut pair = Pair::new(client, Config::default());
    pair.connect();
    let before = pair
        .client
        .path_stats(PathId::ZERO)
        .expect("path 0")
        .recovery;

    // From now on, drop the first datagram the server sends: the ACK of the client's first
    // flight of stream data.
    let armed = Rc::new(Cell::new(drop_first_ack));
    let dropped = Rc::new(Cell::new(0u32));
    let (a, d) = (armed.clone(), dropped.clone());
    pair.filter = Some(Box::new(move |to_server, _| {
        if !to_server && a.get() {
            a.set(false);
            d.set(d.get() + 1);
            return true;
        }
        false
    }));

    // More than one congestion window, so the first flight fills the window.
    let data = pattern(64 * 1024);
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("stream pending: {other:?}"),
    };
    let mut written = 0;
    let mut got = Vec::new();
    for _ in 0..10_000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
            if written == data.len() {
                pair.client.finish(id).expect("finish");
            }
        }
        pair.drive();
        if read_all(pair.server(), id, &mut got) {
            break;
        }
    }
    assert_eq!(got, data);
    pair.drive();
    assert_eq!(dropped.get(), u32::from(drop_first_ack));
    let after = pair
        .client
        .path_stats(PathId::ZERO)
        .expect("path 0")
        .recovery;
    RecoveryStats {
        lost_packets: after.lost_packets - before.lost_packets,
        lost_bytes: after.lost_bytes - before.lost_bytes,
        spurious_losses: after.spurious_losses - before.spurious_losses,
        congestion_events: after.congestion_events - before.congestion_events,
        persistent_congestion: after.persistent_congestion - before.persistent_congestion,
        ptos: after.ptos - before.ptos,
    }
}

#[test]
fn a_lost_ack_of_a_full_window_costs_one_pto_and_no_loss() {
    // The control: with every ACK delivered, no probe timeout at all.
    assert_eq!(transfer(false), RecoveryStats::default());
    let s = transfer(true);
    // Exactly one probe timeout repaired the lost acknowledgment ...
    assert_eq!(s.ptos, 1, "{s:?}");
    // ... and every data packet was acknowledged in the end: none declared lost, so no
    // retransmission, no congestion event and nothing spurious to undo.
    assert_eq!(
        s,
        RecoveryStats {
            ptos: 1,
            ..RecoveryStats::default()
        }
    );
}
