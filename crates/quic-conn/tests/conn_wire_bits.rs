//! Header bits on the wire: the latency spin bit (RFC 9000 §17.4) and the greased fixed
//! bit (RFC 9287).

mod util;

use std::cell::RefCell;
use std::rc::Rc;

use quic_conn::conn::Config;
use quic_streams::StreamRef;
use quic_wire::Dir;
use util::{pattern, read_all, Pair};

/// First bytes of the short-header packets each way: (to_server, byte).
fn transfer_and_watch(client: Config, server: Config) -> Vec<(bool, u8)> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut pair = Pair::new(client, server);
    pair.connect();
    let log = seen.clone();
    pair.filter = Some(Box::new(move |to_server, d| {
        if d[0] & 0x80 == 0 {
            log.borrow_mut().push((to_server, d[0]));
        }
        false
    }));
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let data = pattern(200_000);
    let mut written = 0;
    let mut got = Vec::new();
    for _ in 0..1000 {
        if written < data.len() {
            written += pair.client.write(id, &data[written..]).expect("write");
        }
        pair.drive_bounded(5, std::time::Duration::from_secs(1));
        read_all(pair.server(), id, &mut got);
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data);
    let v = seen.borrow().clone();
    v
}

#[test]
fn the_spin_bit_turns_over_during_a_transfer() {
    let seen = transfer_and_watch(Config::default(), Config::default());
    let spins: Vec<bool> = seen
        .iter()
        .filter(|p| p.0)
        .map(|p| p.1 & 0x20 != 0)
        .collect();
    let flips = spins.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        flips >= 2,
        "client spin bit flipped {flips} times over {} packets",
        spins.len()
    );
}

#[test]
fn the_fixed_bit_is_greased_when_both_sides_allow_it() {
    let seen = transfer_and_watch(Config::default(), Config::default());
    let zeros = seen.iter().filter(|p| p.1 & 0x40 == 0).count();
    assert!(
        zeros > 0 && zeros < seen.len(),
        "{zeros} of {} had the bit clear",
        seen.len()
    );
}

#[test]
fn the_fixed_bit_stays_set_when_the_peer_does_not_allow_greasing() {
    let no_grease = Config {
        grease_quic_bit: false,
        ..Config::default()
    };
    let seen = transfer_and_watch(Config::default(), no_grease);
    // The server did not advertise grease_quic_bit: the client never clears the bit.
    assert!(seen.iter().filter(|p| p.0).all(|p| p.1 & 0x40 != 0));
    // The client did, so the server may clear it.
    assert!(seen.iter().filter(|p| !p.0).any(|p| p.1 & 0x40 == 0));
}
