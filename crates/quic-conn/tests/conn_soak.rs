//! Many seeds of a lossy, reordering link: the handshake completes and streams in both
//! directions carry their bytes exactly, every time.

mod util;

use std::time::Duration;

use quic_conn::conn::Config;
use quic_streams::StreamRef;
use quic_wire::Dir;
use util::{pattern, read_all, Pair};

fn run(seed: u64, loss: u32) {
    let (c, s) = util::tls_configs(0);
    let mut pair = Pair::seeded(Config::default(), Config::default(), (c, s), seed);
    pair.loss_percent = loss;
    pair.jitter = Duration::from_millis(15);
    let connected = pair.drive_until(200_000, |p| {
        p.client.is_handshake_confirmed() && p.server.as_ref().is_some_and(|s| s.is_established())
    });
    assert!(connected, "seed {seed}: handshake");
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let up = pattern(120_000 + seed as usize * 7);
    let down = pattern(80_000 + seed as usize * 13);
    let (mut w_up, mut w_down) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let (mut fin_up, mut fin_down) = (false, false);
    for _ in 0..20_000 {
        if w_up < up.len() {
            w_up += pair.client.write(id, &up[w_up..]).expect("write");
            if w_up == up.len() {
                pair.client.finish(id).expect("finish");
            }
        }
        pair.drive_bounded(20, Duration::from_secs(2));
        let server = pair.server();
        if !fin_up {
            fin_up = read_all(server, id, &mut got_up);
        }
        if !got_up.is_empty() && w_down < down.len() {
            if let Ok(n) = server.write(id, &down[w_down..]) {
                w_down += n;
                if w_down == down.len() {
                    server.finish(id).expect("finish");
                }
            }
        }
        if !fin_down {
            fin_down = read_all(&mut pair.client, id, &mut got_down);
        }
        if fin_up && fin_down {
            break;
        }
    }
    assert!(
        got_up == up,
        "seed {seed}: {} of {} bytes up",
        got_up.len(),
        up.len()
    );
    assert!(
        got_down == down,
        "seed {seed}: {} of {} bytes down",
        got_down.len(),
        down.len()
    );
    assert!(
        pair.client.error().is_none(),
        "seed {seed}: {:?}",
        pair.client.error()
    );
}

#[test]
fn transfers_are_exact_over_reordering_links_for_many_seeds() {
    for seed in 0..8 {
        run(seed, 0);
    }
}

#[test]
fn transfers_are_exact_over_lossy_reordering_links_for_many_seeds() {
    for seed in 10..18 {
        run(seed, 10);
    }
}

#[test]
fn transfers_are_exact_over_very_lossy_links() {
    for seed in 20..26 {
        run(seed, 30);
    }
}
