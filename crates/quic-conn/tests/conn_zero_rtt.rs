//! 0-RTT: a resuming client sends stream data before the handshake completes
//! (RFC 9001 §4.6, RFC 9000 §7.4.1).

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use quic_conn::conn::Config;
use quic_conn::tls::rustls::RustlsConfig;
use quic_streams::StreamRef;
use quic_wire::packet::{CoalescedPackets, Packet, ParseConfig};
use quic_wire::{Dir, PacketType};
use util::{read_all, Pair};

/// A first connection, so the client holds a ticket allowing early data.
fn earlier_connection(client: &RustlsConfig, server: &RustlsConfig) {
    let mut pair = Pair::with_tls(
        Config::default(),
        Config::default(),
        (client.clone(), server.clone()),
    );
    pair.connect();
    pair.drive();
}

/// Counts the 0-RTT packets the client sends.
fn count_zero_rtt(pair: &mut Pair) -> Rc<Cell<usize>> {
    let seen = Rc::new(Cell::new(0));
    let counter = seen.clone();
    pair.filter = Some(Box::new(move |to_server, d| {
        if to_server {
            for p in CoalescedPackets::new(d, ParseConfig::new(8)).flatten() {
                if let Packet::Protected(p) = p.packet {
                    if p.ty() == PacketType::ZeroRtt {
                        counter.set(counter.get() + 1);
                    }
                }
            }
        }
        false
    }));
    seen
}

/// Opens a stream allowed in 0-RTT and writes `data` with FIN.
fn write_early(pair: &mut Pair, data: &[u8]) -> quic_wire::StreamId {
    let id = match pair.client.open(Dir::Bi).expect("open") {
        StreamRef::Id(id) => id,
        other => panic!("stream pending: {other:?}"),
    };
    pair.client
        .streams()
        .set_0rtt_allowed(id, true)
        .expect("allow 0-RTT");
    assert_eq!(pair.client.write(id, data).expect("write"), data.len());
    pair.client.finish(id).expect("finish");
    id
}

#[test]
fn a_resumed_client_sends_stream_data_in_0rtt_and_the_server_accepts_it() {
    let (c, s) = util::tls_configs(0);
    let (c, s) = (c.with_early_data(), s.with_early_data());
    earlier_connection(&c, &s);
    let mut pair = Pair::seeded(Config::default(), Config::default(), (c, s), 1);
    assert!(
        pair.client.is_zero_rtt_active(),
        "0-RTT keys from the ticket"
    );
    let seen = count_zero_rtt(&mut pair);
    let id = write_early(&mut pair, b"early request");
    pair.connect();
    pair.drive();
    assert!(seen.get() > 0, "the data went in 0-RTT packets");
    assert!(pair.client.is_zero_rtt_accepted());
    let mut got = Vec::new();
    assert!(read_all(pair.server(), id, &mut got));
    assert_eq!(got, b"early request");
}

#[test]
fn refused_0rtt_data_is_sent_again_in_1rtt() {
    let (c, s) = util::tls_configs(0);
    let (c, s) = (c.with_early_data(), s.with_early_data());
    earlier_connection(&c, &s);
    // The same server (same session cache) now refuses early data.
    let RustlsConfig::Server(inner) = &s else {
        panic!("server config");
    };
    let mut refusing = (**inner).clone();
    refusing.max_early_data_size = 0;
    let refusing = RustlsConfig::Server(Arc::new(refusing));
    let mut pair = Pair::seeded(Config::default(), Config::default(), (c, refusing), 1);
    let seen = count_zero_rtt(&mut pair);
    let id = write_early(&mut pair, b"early request");
    pair.connect();
    pair.drive();
    assert!(seen.get() > 0, "the client tried 0-RTT");
    assert!(!pair.client.is_zero_rtt_accepted());
    let mut got = Vec::new();
    assert!(read_all(pair.server(), id, &mut got));
    assert_eq!(got, b"early request");
}

#[test]
fn without_a_ticket_there_is_no_0rtt() {
    let (c, s) = util::tls_configs(0);
    let pair = Pair::with_tls(
        Config::default(),
        Config::default(),
        (c.with_early_data(), s.with_early_data()),
    );
    assert!(!pair.client.is_zero_rtt_active());
}
