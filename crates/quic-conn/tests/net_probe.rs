#![cfg(all(feature = "sim", feature = "rustls"))]
mod netutil;
use std::sync::Arc;
use std::time::Duration;
use netutil::*;
use quic_conn::sim::{LinkConfig, Loss};
#[test]
fn probe() {
    let link = LinkConfig { loss: Loss::Random(0.30), ..delay_ms(10) };
    let mut net = Net::new(30, link);
    let h = net.connect();
    net.upload(h, Arc::new(pattern(200_000, 30)));
    let t = net.run_uploads(Duration::from_secs(300));
    net.assert_uploads_delivered();
    eprintln!("done at {t:?} up {:?} down {:?}", net.sim.link_stats(net.up), net.sim.link_stats(net.down));
    let s = net.client_ep().connection(h).unwrap().stats();
    eprintln!("{s:?}");
}
