//! 1-RTT key updates (RFC 9001 §6).

mod util;

use std::time::Duration;

use quic_conn::conn::{Config, ConnectionError};
use quic_streams::StreamRef;
use quic_wire::{Dir, TransportErrorCode};
use util::{pattern, read_all, Pair};

fn send_and_check(pair: &mut Pair, len: usize) {
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(len);
    assert_eq!(pair.client.write(id, &data).expect("write"), len);
    pair.client.finish(id).expect("finish");
    pair.drive();
    let mut got = Vec::new();
    assert!(read_all(pair.server(), id, &mut got), "stream not finished");
    assert!(got == data);
}

#[test]
fn key_update_is_refused_before_the_handshake_is_confirmed() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let now = pair.now;
    assert!(!pair.client.initiate_key_update(now));
    assert!(!pair.client.key_phase());
}

#[test]
fn both_sides_follow_a_client_key_update_and_data_keeps_flowing() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    send_and_check(&mut pair, 10_000);
    let now = pair.now;
    assert!(pair.client.initiate_key_update(now));
    // A second update must wait for an acknowledgement in the new phase (RFC 9001 §6.1).
    assert!(!pair.client.initiate_key_update(now));
    send_and_check(&mut pair, 50_000);
    assert!(pair.client.key_phase());
    assert!(pair.server().key_phase());
    let now = pair.now;
    assert!(pair.client.initiate_key_update(now));
    send_and_check(&mut pair, 50_000);
    assert!(!pair.client.key_phase());
    assert!(!pair.server().key_phase());
}

#[test]
fn a_server_key_update_is_followed_by_the_client() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    send_and_check(&mut pair, 10_000);
    let now = pair.now;
    assert!(pair.server().initiate_key_update(now));
    send_and_check(&mut pair, 10_000);
    assert!(pair.client.key_phase());
    assert!(pair.server().key_phase());
}

/// The client sends one datagram carrying fresh stream data straight to the server, which
/// processes it and answers nothing yet.
fn one_client_datagram_to_server(pair: &mut Pair, fill: u8) {
    use bytes::BytesMut;
    use quic_conn::DatagramMeta;
    let id = match pair.client.open(Dir::Uni).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    pair.client.write(id, &[fill; 100]).expect("write");
    let now = pair.now;
    let mut buf = vec![0u8; 1500];
    let t = pair
        .client
        .poll_transmit(now, &mut buf)
        .expect("a datagram");
    let meta = DatagramMeta {
        remote: util::client_addr(),
        local: util::server_addr(),
        ecn: quic_wire::Ecn::NotEct,
    };
    pair.server()
        .handle_datagram(now, meta, BytesMut::from(&buf[..t.size]));
}

#[test]
fn a_second_update_before_we_acknowledged_the_first_is_a_key_update_error() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    send_and_check(&mut pair, 10_000);
    let now = pair.now;
    assert!(pair.client.initiate_key_update(now));
    one_client_datagram_to_server(&mut pair, 1);
    assert!(pair.server().key_phase(), "the server followed the update");
    // The server has not acknowledged anything in the new phase: the peer updating again
    // breaks RFC 9001 §6.2.
    assert!(pair.client.force_key_update(now));
    one_client_datagram_to_server(&mut pair, 2);
    match pair.server().error() {
        Some(ConnectionError::Transport(e)) => {
            assert_eq!(e.code, TransportErrorCode::KEY_UPDATE_ERROR)
        }
        other => panic!("expected KEY_UPDATE_ERROR, got {other:?}"),
    }
}

#[test]
fn a_second_update_after_our_acknowledgement_is_followed() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    send_and_check(&mut pair, 10_000);
    let now = pair.now;
    assert!(pair.client.initiate_key_update(now));
    one_client_datagram_to_server(&mut pair, 1);
    assert!(pair.server().key_phase());
    // The server's ACK in the new phase goes out (lost on the way: what counts is that
    // the peer could have received it).
    let later = now + std::time::Duration::from_millis(100);
    pair.now = later;
    pair.server().handle_timeout(later);
    let mut buf = vec![0u8; 1500];
    assert!(pair.server().poll_transmit(later, &mut buf).is_some());
    assert!(pair.client.force_key_update(later));
    one_client_datagram_to_server(&mut pair, 2);
    assert_eq!(pair.server().error(), None);
    assert!(
        !pair.server().key_phase(),
        "the server followed the second update"
    );
}

/// Regression (found by the quinn interop cells): the key-discard timer armed by a key
/// update (RFC 9001 §6.5) stayed set when the connection closed, and `poll_timeout` kept
/// reporting it although `handle_timeout` serves only the end of the closing period then,
/// so a driver spun on a deadline that never cleared.
#[test]
fn a_closing_connection_reports_no_deadline_it_will_not_serve() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.connect();
    send_and_check(&mut pair, 10_000);
    let now = pair.now;
    assert!(pair.client.initiate_key_update(now));
    let Ok(StreamRef::Id(id)) = pair.client.open(Dir::Uni) else {
        panic!("cannot open a stream");
    };
    assert_eq!(pair.client.write(id, &pattern(5000)).expect("write"), 5000);
    // Let the update go round (the server answers in the new phase), but not the timers.
    assert!(pair.drive_until(1_000, |p| p.server().key_phase()));
    pair.drive_bounded(1_000, Duration::from_millis(30));
    // Close a little later, so that the closing period outlasts the old key's grace period.
    let now = pair
        .now
        .checked_add(Duration::from_millis(100))
        .expect("time");
    pair.client
        .close(now, quic_wire::VarInt::from_u32(0), b"bye");
    // Bounded: every deadline served must move on, until the connection is drained.
    for _ in 0..100 {
        let Some(t) = pair.client.poll_timeout() else {
            break;
        };
        pair.client.handle_timeout(t);
        let next = pair.client.poll_timeout();
        assert!(
            next.is_none_or(|n| n > t),
            "deadline {t:?} served but still due"
        );
    }
    assert!(pair.client.is_drained());
}

/// RFC 9001 §6.6: keys are updated on our own well before the AEAD's confidentiality
/// limit; with a short interval the client updates many times during one transfer, the
/// server follows every time and nothing is lost or refused.
#[test]
fn periodic_key_updates_follow_the_configured_interval() {
    let client = Config {
        key_update_interval: 64,
        ..Config::default()
    };
    let mut pair = Pair::new(client, Config::default());
    pair.connect();
    let Ok(StreamRef::Id(id)) = pair.client.open(Dir::Uni) else {
        panic!("cannot open a stream");
    };
    let data = pattern(1_500_000);
    let (mut written, mut got) = (0, Vec::new());
    for _ in 0..10_000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
            if written == data.len() {
                pair.client.finish(id).expect("finish");
            }
        }
        pair.drive_bounded(50, Duration::from_millis(100));
        if read_all(pair.server(), id, &mut got) {
            break;
        }
    }
    assert!(got == data, "transfer incomplete");
    pair.drive();
    let (c, s) = (pair.client.stats(), pair.server().stats());
    // About 1,100 packets of 1,200+ bytes: an update every 64 sent packets at most, fewer
    // when waiting for an acknowledgement of the current phase (§6.1).
    assert!(c.key_updates >= 5, "{} updates", c.key_updates);
    assert!(c.key_updates <= c.packets_sent / 64 + 1);
    assert_eq!(
        s.key_updates, c.key_updates,
        "the server followed each update"
    );
    assert_eq!(pair.server().error(), None);
    assert_eq!(pair.client.error(), None);
    assert_eq!(c.decrypt_failures + s.decrypt_failures, 0);
}
