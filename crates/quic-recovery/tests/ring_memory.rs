//! What the sent-packet ring holds on to: nothing before the first packet, and, once asked
//! at the end of the handshake, nothing again after the ACK that empties it; that release
//! happens once, so a busy connection keeps its room.

mod common;

use common::{ack_frame, at, TestRng};
use quic_recovery::rate::DeliveryState;
use quic_recovery::{SentConfig, SentPackets};

fn send(sent: &mut SentPackets<u64>, n: u64, t: u64) {
    for _ in 0..n {
        let pn = sent.next_pn(&mut TestRng(0));
        sent.on_sent(at(t), 1200, true, true, pn, DeliveryState::default());
    }
}

/// Acknowledges `lo..=hi`; returns how many packets that newly acknowledged.
fn ack(sent: &mut SentPackets<u64>, lo: u64, hi: u64) -> u64 {
    let mut buf = [0u8; 64];
    let frame = ack_frame(&mut buf, &[lo..=hi], 0, None);
    sent.decode_ack(&frame).expect("valid ACK");
    sent.on_ack(hi, |_| {}).newly_acked
}

#[test]
fn the_ring_is_lazy_and_released_once_after_it_empties() {
    let config = SentConfig {
        skip_period: 0,
        ..SentConfig::default()
    };
    let mut sent: SentPackets<u64> = SentPackets::new(&config, &mut TestRng(1));
    assert_eq!(sent.ring_capacity(), 0, "nothing allocated before a packet");

    send(&mut sent, 3, 1);
    assert!(sent.ring_capacity() >= 3);
    assert_eq!(ack(&mut sent, 0, 2), 3);
    assert_eq!(sent.ring_len(), 0);
    assert!(sent.ring_capacity() >= 3, "kept: no release was asked for");

    sent.release_when_empty();
    send(&mut sent, 2, 2);
    assert_eq!(ack(&mut sent, 3, 3), 1);
    assert!(sent.ring_capacity() >= 2, "not empty yet: kept");
    assert_eq!(ack(&mut sent, 4, 4), 1);
    assert_eq!(
        sent.ring_capacity(),
        0,
        "empty after the release was asked for"
    );

    // Sending and acknowledging still work, and the ring keeps its room from now on.
    send(&mut sent, 2, 3);
    assert_eq!(ack(&mut sent, 5, 6), 2);
    assert_eq!(sent.bytes_in_flight(), 0);
    assert!(sent.ring_capacity() >= 2, "released once only");
}
