//! Handshake and a byte-exact upload through client and server endpoints in the
//! simulator, under each kind of impairment, each with a fixed seed.
#![cfg(all(feature = "sim", feature = "rustls"))]

mod netutil;

use std::sync::Arc;
use std::time::Duration;

use netutil::{delay_ms, pattern, Net};
use quic_conn::sim::{GilbertElliott, LinkConfig, Loss, Reorder};

/// Connects, uploads `len` bytes on one stream and checks the server read exactly them.
fn upload(seed: u64, link: LinkConfig, len: usize, limit: Duration) -> Net {
    let mut net = Net::new(seed, link);
    let h = net.connect();
    net.upload(h, Arc::new(pattern(len, seed)));
    net.run_uploads(limit);
    net.assert_uploads_delivered();
    net
}

#[test]
fn transfer_is_byte_exact_without_loss() {
    let net = upload(1, delay_ms(20), 2_000_000, Duration::from_secs(30));
    let s = net.sim.link_stats(net.up);
    assert_eq!(s.dropped_total(), 0);
}

#[test]
fn transfer_is_byte_exact_under_2_percent_loss() {
    let link = LinkConfig {
        loss: Loss::Random(0.02),
        ..delay_ms(20)
    };
    let net = upload(2, link, 1_000_000, Duration::from_secs(60));
    assert!(net.sim.link_stats(net.up).lost > 0);
    assert!(net.sim.link_stats(net.down).lost > 0);
}

#[test]
fn transfer_is_byte_exact_under_30_percent_loss() {
    let link = LinkConfig {
        loss: Loss::Random(0.30),
        ..delay_ms(10)
    };
    let net = upload(30, link, 200_000, Duration::from_secs(300));
    assert!(net.sim.link_stats(net.up).lost > 50);
}

#[test]
fn transfer_is_byte_exact_under_bursty_loss() {
    // Mean burst of 1/0.25 = 4 datagrams, entered after 1 in 50 on average.
    let link = LinkConfig {
        loss: Loss::GilbertElliott(GilbertElliott {
            p_enter_bad: 0.02,
            p_leave_bad: 0.25,
            loss_good: 0.0,
            loss_bad: 1.0,
        }),
        ..delay_ms(15)
    };
    let net = upload(4, link, 1_000_000, Duration::from_secs(120));
    assert!(net.sim.link_stats(net.up).lost > 10);
}

#[test]
fn transfer_is_byte_exact_under_reordering() {
    let link = LinkConfig {
        reorder: Reorder {
            p: 0.2,
            extra_delay: Duration::from_millis(15),
        },
        jitter: Duration::from_millis(5),
        ..delay_ms(20)
    };
    let net = upload(5, link, 1_000_000, Duration::from_secs(60));
    assert!(net.sim.link_stats(net.up).reordered > 50);
}

#[test]
fn transfer_is_byte_exact_under_duplication() {
    let link = LinkConfig {
        duplicate: 0.2,
        ..delay_ms(20)
    };
    let net = upload(6, link, 1_000_000, Duration::from_secs(60));
    assert!(net.sim.link_stats(net.up).duplicated > 50);
}

#[test]
fn transfer_is_byte_exact_under_corruption() {
    let link = LinkConfig {
        corrupt: 0.05,
        ..delay_ms(20)
    };
    let mut net = upload(7, link, 1_000_000, Duration::from_secs(60));
    assert!(net.sim.link_stats(net.up).corrupted > 20);
    // The corrupted copies failed authentication and were dropped, never delivered as data.
    let h = net.app.accepted[0];
    let stats = net
        .server_ep()
        .connection(h)
        .expect("server connection")
        .stats();
    assert!(stats.decrypt_failures > 0, "{stats:?}");
}

#[test]
fn transfer_is_byte_exact_on_a_path_with_an_mtu_of_exactly_1200() {
    let link = LinkConfig {
        mtu: 1200,
        ..delay_ms(20)
    };
    let mut net = upload(8, link, 1_000_000, Duration::from_secs(60));
    // Path MTU discovery may probe beyond 1200; only such probes were dropped, and both
    // ends stayed at 1200.
    for l in [net.up, net.down] {
        let s = net.sim.link_stats(l);
        assert_eq!(s.dropped_total(), s.dropped_mtu, "{s:?}");
    }
    let h = net.uploads[0].0;
    assert_eq!(
        net.client_ep().connection(h).expect("client").stats().mtu,
        1200
    );
    let s = net.app.accepted[0];
    assert_eq!(
        net.server_ep().connection(s).expect("server").stats().mtu,
        1200
    );
}
