//! Migration through the simulator, endpoints on hosts with several addresses: a client
//! probing a new local address before moving (RFC 9000 §9.1), the server's preferred
//! address (§9.6), and an on-path attacker's spurious migration (§9.3.2, §9.3.3).
#![cfg(feature = "sim")]

mod netutil;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use quic_conn::conn::{Config, Connection, Event};
use quic_conn::endpoint::{ConnectionHandle, Endpoint, EndpointConfig};
use quic_conn::sim::{DropCause, HostId, LinkConfig, Sim, TraceKind};
use quic_streams::StreamRef;
use quic_wire::{Dir, Ecn};

use netutil::{addr, endpoint, tls};

const C1: &str = "10.0.0.1:50000";
const C2: &str = "10.0.0.2:50000";
const S: &str = "192.0.2.1:443";
const P: &str = "192.0.2.99:443";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A datagram the simulator saw: when, what happened, from, to, size.
type Seen = (Duration, TraceKind, SocketAddr, SocketAddr, usize);

struct World {
    sim: Sim,
    client: HostId,
    server: HostId,
    ch: ConnectionHandle,
    /// The client connection's events.
    events: Vec<Event>,
    trace: Rc<RefCell<Vec<Seen>>>,
}

impl World {
    fn new(clients: &[&str], servers: &[&str], server_config: Config) -> World {
        World::with(clients, servers, server_config, |_| {})
    }

    /// Like [`World::new`]; `setup` runs on the simulator before the client connects.
    fn with(
        clients: &[&str],
        servers: &[&str],
        server_config: Config,
        setup: impl FnOnce(&mut Sim),
    ) -> World {
        let server_ep = EndpointConfig {
            connection: server_config,
            ..EndpointConfig::default()
        };
        World::build(clients, servers, server_ep, setup)
    }

    /// Like [`World::with`], with the server endpoint's whole configuration (its TLS is
    /// filled in).
    fn build(
        clients: &[&str],
        servers: &[&str],
        server_ep: EndpointConfig,
        setup: impl FnOnce(&mut Sim),
    ) -> World {
        let clients: Vec<SocketAddr> = clients.iter().map(|a| addr(a)).collect();
        let servers: Vec<SocketAddr> = servers.iter().map(|a| addr(a)).collect();
        let mut sim = Sim::new(7);
        let (client_tls, server_tls) = tls();
        let client_rng = sim.fork_rng();
        let server_rng = sim.fork_rng();
        let client = sim.add_host(endpoint(EndpointConfig::default(), client_rng), &clients);
        let server_ep = EndpointConfig {
            server_tls: Some(server_tls),
            ..server_ep
        };
        let server = sim.add_host(endpoint(server_ep, server_rng), &servers);
        for &c in &clients {
            for &s in &servers {
                sim.duplex(c, s, LinkConfig::with_delay(ms(10)));
            }
        }
        let trace = Rc::new(RefCell::new(Vec::new()));
        let t = trace.clone();
        sim.on_trace(move |e| {
            let at = Duration::from_nanos(e.time.as_nanos());
            t.borrow_mut()
                .push((at, e.kind, e.source, e.destination, e.len));
        });
        setup(&mut sim);
        let now = sim.now();
        let ch = sim
            .node_mut::<Endpoint>(client)
            .connect(now, client_tls, "localhost", clients[0], servers[0])
            .expect("connect");
        let mut w = World {
            sim,
            client,
            server,
            ch,
            events: Vec::new(),
            trace,
        };
        let up = w.run_until(ms(5000), |w| {
            w.client_conn().is_handshake_confirmed()
                && w.server_conn().is_some_and(|s| s.is_established())
        });
        assert!(up, "handshake");
        // The spare connection IDs arrive.
        w.run_for(ms(100));
        w
    }

    fn client_conn(&mut self) -> &mut Connection {
        let ch = self.ch;
        self.sim
            .node_mut::<Endpoint>(self.client)
            .connection(ch)
            .expect("client connection")
    }

    fn server_conn(&mut self) -> Option<&mut Connection> {
        let ep = self.sim.node_mut::<Endpoint>(self.server);
        let h = ep.handles().next()?;
        ep.connection(h)
    }

    fn collect(&mut self) {
        // Bounded by the events queued.
        while let Some(e) = self.client_conn().poll_event() {
            self.events.push(e);
        }
    }

    /// Runs in 5 ms steps until `done` holds or `limit` passes.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut World) -> bool) -> bool {
        let end = self.sim.now() + limit;
        while self.sim.now() < end {
            self.collect();
            if done(self) {
                return true;
            }
            self.sim.run_for(ms(5)).expect("step budget");
        }
        self.collect();
        done(self)
    }

    fn run_for(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    /// The client sends `len` bytes on a new stream; true once the server read them all.
    fn upload(&mut self, len: usize) -> bool {
        let data = netutil::pattern(len, len as u64);
        let id = match self.client_conn().open(Dir::Uni).expect("open") {
            StreamRef::Id(id) => id,
            other => panic!("{other:?}"),
        };
        let n = self.client_conn().write(id, &data).expect("write");
        assert_eq!(n, len);
        self.client_conn().finish(id).expect("finish");
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        self.run_until(ms(10_000), |w| {
            let Some(s) = w.server_conn() else {
                return false;
            };
            // Bounded by the bytes buffered.
            loop {
                match s.read(id, &mut buf) {
                    Ok(r) if r.len > 0 || r.fin => {
                        got.extend_from_slice(&buf[..r.len]);
                        if r.fin {
                            return true;
                        }
                    }
                    _ => return false,
                }
            }
        }) && got == data
    }

    fn seen(&self) -> Vec<Seen> {
        self.trace.borrow().clone()
    }
}

#[test]
fn a_client_probes_a_new_local_address_then_moves_to_it() {
    let mut w = World::new(&[C1, C2], &[S], Config::default());
    let start = Duration::from_nanos(w.sim.now().as_nanos());
    let now = w.sim.now();
    w.client_conn()
        .probe_local_address(now, addr(C2), true)
        .expect("probe");
    let moved = w.run_until(ms(3000), |w| {
        w.events.iter().any(|e| matches!(e, Event::Migrated { .. }))
    });
    assert!(moved, "events: {:?}", w.events);
    assert!(w.events.contains(&Event::PathValidated {
        local: addr(C2),
        remote: addr(S)
    }));
    // Probing packets alone did not move the server (RFC 9000 §9.1, §9.3).
    assert_eq!(
        w.server_conn().expect("server").remote_address(),
        Some(addr(C1))
    );
    assert_eq!(w.client_conn().local_address(), Some(addr(C2)));
    // RFC 9000 §8.2.1, §8.2.2: the probe and its response were padded to 1200 bytes.
    let seen = w.seen();
    let probing: Vec<&Seen> = seen
        .iter()
        .filter(|(at, kind, src, dst, _)| {
            *at >= start && *kind == TraceKind::Sent && (*src == addr(C2) || *dst == addr(C2))
        })
        .take(2)
        .collect();
    assert_eq!(probing.len(), 2, "{probing:?}");
    assert!(probing.iter().all(|(.., len)| *len >= 1200), "{probing:?}");
    // The server follows the client's first non-probing packet and validates the path.
    let followed = w.run_until(ms(3000), |w| {
        w.server_conn()
            .is_some_and(|s| s.remote_address() == Some(addr(C2)) && s.is_path_validated())
    });
    assert!(followed);
    assert!(w.upload(100_000));
    assert_eq!(w.client_conn().error(), None);
}

#[test]
fn a_failed_probe_leaves_the_client_where_it_was() {
    let mut w = World::new(&[C1, C2], &[S], Config::default());
    let dead = w.sim.link_between(addr(C2), addr(S)).expect("link");
    w.sim.set_filter(dead, |_, _| false);
    let now = w.sim.now();
    w.client_conn()
        .probe_local_address(now, addr(C2), true)
        .expect("probe");
    let failed = w.run_until(ms(20_000), |w| {
        w.events.contains(&Event::PathValidationFailed {
            local: addr(C2),
            remote: addr(S),
        })
    });
    assert!(failed, "events: {:?}", w.events);
    // RFC 9000 §8.2.4: not before three times the PTO of a new path (kInitialRtt).
    let waited = w.sim.now().saturating_duration_since(now);
    assert!(waited >= Duration::from_millis(2997), "{waited:?}");
    assert!(!w.events.iter().any(|e| matches!(e, Event::Migrated { .. })));
    assert_eq!(w.client_conn().local_address(), Some(addr(C1)));
    // The challenge was sent again, backing off like a PTO.
    let tries = w
        .seen()
        .iter()
        .filter(|(_, kind, src, ..)| {
            *kind == TraceKind::Dropped(DropCause::Filter) && *src == addr(C2)
        })
        .count();
    assert!((3..=8).contains(&tries), "{tries} probes");
    assert!(w.upload(50_000));
}

#[test]
fn the_client_moves_to_the_servers_preferred_address() {
    let server_config = Config {
        preferred_address: Some(addr(P)),
        ..Config::default()
    };
    let mut w = World::new(&[C1], &[S, P], server_config);
    let moved = w.run_until(ms(3000), |w| {
        w.events.contains(&Event::Migrated {
            local: addr(C1),
            remote: addr(P),
        })
    });
    assert!(moved, "events: {:?}", w.events);
    assert_eq!(w.client_conn().remote_address(), Some(addr(P)));
    let server_moved = w.run_until(ms(3000), |w| {
        w.server_conn()
            .is_some_and(|s| s.local_address() == Some(addr(P)) && s.is_path_validated())
    });
    assert!(server_moved);
    // The server validated the path from its preferred address before moving (RFC 9000
    // §9.6.2), and its first datagrams from there were padded probes and responses.
    let server_events: Vec<Event> = {
        let s = w.server_conn().expect("server");
        std::iter::from_fn(|| s.poll_event()).collect()
    };
    assert!(
        server_events.contains(&Event::Migrated {
            local: addr(P),
            remote: addr(C1)
        }),
        "{server_events:?}"
    );
    let from_p: Vec<usize> = w
        .seen()
        .iter()
        .filter(|(_, kind, src, ..)| *kind == TraceKind::Sent && *src == addr(P))
        .map(|s| s.4)
        .take(2)
        .collect();
    assert!(from_p.iter().all(|&n| n >= 1200), "{from_p:?}");
    let switched_at = Duration::from_nanos(w.sim.now().as_nanos());
    assert!(w.upload(100_000));
    // From then on, everything goes through the preferred address.
    let old_path_after = w
        .seen()
        .iter()
        .filter(|(at, kind, src, dst, _)| {
            *at > switched_at + ms(100)
                && *kind == TraceKind::Sent
                && (*src == addr(S) || *dst == addr(S))
        })
        .count();
    assert_eq!(old_path_after, 0);
    assert_eq!(w.client_conn().error(), None);
}

#[test]
fn an_unreachable_preferred_address_leaves_the_client_on_the_original_one() {
    let server_config = Config {
        preferred_address: Some(addr(P)),
        ..Config::default()
    };
    let mut w = World::with(&[C1], &[S, P], server_config, |sim| {
        let dead = sim.link_between(addr(C1), addr(P)).expect("link");
        sim.set_filter(dead, |_, _| false);
    });
    let failed = w.run_until(ms(20_000), |w| {
        w.events.contains(&Event::PathValidationFailed {
            local: addr(C1),
            remote: addr(P),
        })
    });
    assert!(failed, "events: {:?}", w.events);
    assert_eq!(w.client_conn().remote_address(), Some(addr(S)));
    assert!(w.upload(50_000));
    assert_eq!(w.client_conn().error(), None);
}

#[test]
fn a_spoofed_migration_is_undone_and_the_old_path_state_returns() {
    let mut w = World::new(&[C1], &[S], Config::default());
    assert!(w.upload(200_000));
    let cwnd = w.server_conn().expect("server").stats().cwnd;
    // An on-path attacker holds back the client's next datagram and delivers a copy from
    // its own address first (RFC 9000 §9.3.2).
    let attacker = addr("203.0.113.9:4444");
    let up = w.sim.link_between(addr(C1), addr(S)).expect("link");
    let stash: Rc<RefCell<Option<BytesMut>>> = Rc::new(RefCell::new(None));
    let s2 = stash.clone();
    w.sim.set_filter(up, move |_, d| {
        let mut s = s2.borrow_mut();
        if s.is_none() && d.first().is_some_and(|b| b & 0x80 == 0) {
            *s = Some(d.clone());
            return false;
        }
        true
    });
    let id = w.client_conn().open(Dir::Uni).expect("open");
    w.client_conn().write(id, b"ping").expect("write");
    assert!(w.run_until(ms(1000), |_| stash.borrow().is_some()));
    w.sim.clear_filter(up);
    let copy = stash.borrow_mut().take().expect("stashed");
    let injected = copy.len();
    let now = w.sim.now();
    w.sim.inject(now, attacker, addr(S), Ecn::NotEct, copy);
    let spoofed = w.run_until(ms(100), |w| {
        w.server_conn()
            .is_some_and(|s| s.remote_address() == Some(attacker))
    });
    assert!(spoofed, "the server followed the copy");
    // The server probes the old path (§9.3.3); the client's answer, with a higher packet
    // number, brings it back, with the old path's congestion state.
    let back = w.run_until(ms(5000), |w| {
        w.server_conn()
            .is_some_and(|s| s.remote_address() == Some(addr(C1)) && s.is_path_validated())
    });
    assert!(back);
    assert!(w.server_conn().expect("server").stats().cwnd >= cwnd);
    // Towards the attacker's address, no more than three times what it sent (§9.3.1).
    let to_attacker: usize = w
        .seen()
        .iter()
        .filter(|(_, kind, _, dst, _)| *kind == TraceKind::Sent && *dst == attacker)
        .map(|s| s.4)
        .sum();
    assert!(
        to_attacker <= 3 * injected,
        "{to_attacker} > 3 x {injected}"
    );
    assert!(w.upload(10_000));
    assert_eq!(w.server_conn().expect("server").error(), None);
}

#[test]
fn every_connection_id_the_server_issues_comes_from_its_quic_lb_generator() {
    use quic_conn::cid::{ConnectionIdGenerator, QuicLbPlaintext};
    use quic_wire::ConnectionId;
    let lb = QuicLbPlaintext::new(1, &[0x0a, 0x0b, 0x0c], 5).expect("config");
    let server_ep = EndpointConfig {
        cid_generator: Some(std::sync::Arc::new(lb.clone())),
        ..EndpointConfig::default()
    };
    // The Destination Connection IDs of the client's short-header packets.
    let dcids: Rc<RefCell<Vec<Vec<u8>>>> = Rc::new(RefCell::new(Vec::new()));
    let (d1, d2) = (dcids.clone(), dcids.clone());
    let mut w = World::build(&[C1, C2], &[S], server_ep, move |sim| {
        for (from, seen) in [(C1, d1), (C2, d2)] {
            let link = sim.link_between(addr(from), addr(S)).expect("link");
            sim.set_filter(link, move |_, d| {
                if d.first().is_some_and(|b| b & 0x80 == 0) {
                    if let Some(dcid) = d.get(1..10) {
                        seen.borrow_mut().push(dcid.to_vec());
                    }
                }
                true
            });
        }
    });
    // Moving makes the client use a connection ID from NEW_CONNECTION_ID.
    let now = w.sim.now();
    w.client_conn()
        .probe_local_address(now, addr(C2), true)
        .expect("probe");
    assert!(w.run_until(ms(3000), |w| {
        w.events.iter().any(|e| matches!(e, Event::Migrated { .. }))
    }));
    assert!(w.upload(20_000));
    let server_cid = w.server_conn().expect("server").local_cid();
    assert!(lb.validate(&server_cid));
    let seen = dcids.borrow();
    let mut distinct: Vec<&Vec<u8>> = seen.iter().collect();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 2, "{distinct:?}");
    for d in distinct {
        let cid = ConnectionId::new(d).expect("cid");
        let parts = QuicLbPlaintext::decode(&cid, 3).expect("QUIC-LB format");
        assert_eq!(parts.config_id, 1);
        assert_eq!(parts.server_id, [0x0a, 0x0b, 0x0c]);
    }
}

#[test]
fn when_the_spoofed_path_fails_validation_the_server_returns_to_the_last_validated_one() {
    let mut w = World::new(&[C1], &[S], Config::default());
    assert!(w.upload(50_000));
    let attacker = addr("203.0.113.9:4444");
    // From now on nothing of the client's reaches the server (the attacker holds the
    // first datagram back for its copy), so only the validation timer can undo the move.
    let up = w.sim.link_between(addr(C1), addr(S)).expect("link");
    let stash: Rc<RefCell<Option<BytesMut>>> = Rc::new(RefCell::new(None));
    let s2 = stash.clone();
    w.sim.set_filter(up, move |_, d| {
        let mut s = s2.borrow_mut();
        if s.is_none() && d.first().is_some_and(|b| b & 0x80 == 0) {
            *s = Some(d.clone());
        }
        false
    });
    let id = w.client_conn().open(Dir::Uni).expect("open");
    w.client_conn().write(id, b"ping").expect("write");
    assert!(w.run_until(ms(1000), |_| stash.borrow().is_some()));
    let copy = stash.borrow_mut().take().expect("stashed");
    let now = w.sim.now();
    w.sim.inject(now, attacker, addr(S), Ecn::NotEct, copy);
    assert!(w.run_until(ms(100), |w| {
        w.server_conn()
            .is_some_and(|s| s.remote_address() == Some(attacker))
    }));
    let moved_at = w.sim.now();
    // RFC 9000 §9.3.2: validation of the attacker's address fails (three PTOs, §8.2.4)
    // and the server reverts to the last validated address.
    let back = w.run_until(ms(10_000), |w| {
        w.server_conn()
            .is_some_and(|s| s.remote_address() == Some(addr(C1)) && s.is_path_validated())
    });
    assert!(back);
    let waited = w.sim.now().saturating_duration_since(moved_at);
    assert!(waited >= Duration::from_millis(2997), "{waited:?}");
    let server_events: Vec<Event> = {
        let s = w.server_conn().expect("server");
        std::iter::from_fn(|| s.poll_event()).collect()
    };
    assert!(
        server_events.contains(&Event::PathValidationFailed {
            local: addr(S),
            remote: attacker
        }),
        "{server_events:?}"
    );
    // The client gets through again.
    w.sim.clear_filter(up);
    assert!(w.upload(10_000));
    assert_eq!(w.server_conn().expect("server").error(), None);
}

/// RFC 9000 §5.1.1, §19.15: the preferred address's connection ID has sequence number 1;
/// a NEW_CONNECTION_ID giving sequence 1 another ID is a PROTOCOL_VIOLATION.
#[test]
fn a_new_connection_id_contradicting_the_preferred_address_is_a_protocol_violation() {
    use quic_conn::conn::ConnectionError;
    use quic_wire::{Space, TransportErrorCode};
    let server_config = Config {
        preferred_address: Some(addr(P)),
        ..Config::default()
    };
    let mut w = World::new(&[C1], &[S, P], server_config);
    let pa = w
        .client_conn()
        .peer_params()
        .and_then(|p| p.preferred_address)
        .expect("preferred_address");
    assert!(!pa.connection_id.is_empty());
    let mut frame = vec![0x18, 0x01, 0x00, 0x08];
    frame.extend_from_slice(&[0x77; 8]);
    frame.extend_from_slice(&[0x55; 16]);
    w.server_conn()
        .expect("server")
        .inject_raw_frames(Space::Data, frame);
    let closed = w.run_until(ms(2000), |w| w.client_conn().error().is_some());
    assert!(closed);
    match w.client_conn().error() {
        Some(ConnectionError::Transport(e)) => {
            assert_eq!(e.code, TransportErrorCode::PROTOCOL_VIOLATION);
        }
        other => panic!("{other:?}"),
    }
}

/// RFC 9000 §9.5: "an endpoint MUST NOT reuse a connection ID when sending to more than
/// one destination address": the server answers the client's probes from a new address,
/// and then follows it there, under another of the client's IDs than it used before.
#[test]
fn the_server_uses_a_separate_client_id_towards_each_client_address() {
    type Seen = Rc<RefCell<Vec<Vec<u8>>>>;
    let to_c1: Seen = Rc::new(RefCell::new(Vec::new()));
    let to_c2: Seen = Rc::new(RefCell::new(Vec::new()));
    let (a, b) = (to_c1.clone(), to_c2.clone());
    let mut w = World::with(&[C1, C2], &[S], Config::default(), move |sim| {
        for (to, seen) in [(C1, a), (C2, b)] {
            let link = sim.link_between(addr(S), addr(to)).expect("link");
            sim.set_filter(link, move |_, d| {
                if d.first().is_some_and(|b| b & 0x80 == 0) {
                    if let Some(dcid) = d.get(1..9) {
                        seen.borrow_mut().push(dcid.to_vec());
                    }
                }
                true
            });
        }
    });
    let now = w.sim.now();
    w.client_conn()
        .probe_local_address(now, addr(C2), true)
        .expect("probe");
    assert!(w.run_until(ms(3000), |w| {
        w.events.iter().any(|e| matches!(e, Event::Migrated { .. }))
    }));
    assert!(w.upload(20_000));
    let (c1, c2) = (to_c1.borrow(), to_c2.borrow());
    assert!(!c1.is_empty() && !c2.is_empty());
    assert!(c2.iter().all(|d| !c1.contains(d)), "{c1:?} / {c2:?}");
    assert_eq!(w.server_conn().expect("server").error(), None);
}

/// Probing without moving, again and again: each probe validates, and the connection IDs
/// it used are retired and replaced, so probes never run out of them.
#[test]
fn repeated_probes_without_moving_do_not_use_up_connection_ids() {
    let mut w = World::new(&[C1, C2], &[S], Config::default());
    for round in 0..8 {
        let now = w.sim.now();
        w.client_conn()
            .probe_local_address(now, addr(C2), false)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let before = w.events.len();
        let validated = w.run_until(ms(2000), |w| {
            w.events[before..].contains(&Event::PathValidated {
                local: addr(C2),
                remote: addr(S),
            })
        });
        assert!(validated, "round {round}");
        // The replacement ID arrives.
        w.run_for(ms(100));
    }
    assert_eq!(w.client_conn().local_address(), Some(addr(C1)));
    assert!(!w.events.iter().any(|e| matches!(e, Event::Migrated { .. })));
    assert!(w.upload(10_000));
}

/// RFC 9000 §9.6.2: a server on its preferred address is not taken back to the old one
/// by a newer packet arriving there.
#[test]
fn a_newer_packet_on_the_old_server_address_does_not_move_the_server_back() {
    let server_config = Config {
        preferred_address: Some(addr(P)),
        ..Config::default()
    };
    let mut w = World::new(&[C1], &[S, P], server_config);
    assert!(w.run_until(ms(3000), |w| {
        w.server_conn()
            .is_some_and(|s| s.local_address() == Some(addr(P)) && s.is_path_validated())
    }));
    // The client's next packet to the preferred address is held back and a copy arrives
    // at the old address instead.
    let link = w.sim.link_between(addr(C1), addr(P)).expect("link");
    let stash: Rc<RefCell<Option<BytesMut>>> = Rc::new(RefCell::new(None));
    let s2 = stash.clone();
    w.sim.set_filter(link, move |_, d| {
        let mut s = s2.borrow_mut();
        if s.is_none() && d.first().is_some_and(|b| b & 0x80 == 0) {
            *s = Some(d.clone());
            return false;
        }
        true
    });
    let id = w.client_conn().open(Dir::Uni).expect("open");
    w.client_conn().write(id, b"ping").expect("write");
    assert!(w.run_until(ms(1000), |_| stash.borrow().is_some()));
    w.sim.clear_filter(link);
    let copy = stash.borrow_mut().take().expect("stashed");
    let now = w.sim.now();
    w.sim.inject(now, addr(C1), addr(S), Ecn::NotEct, copy);
    // Right after the copy (before the client's next packet could undo anything).
    w.sim.run_for(ms(1)).expect("step");
    let server = w.server_conn().expect("server");
    assert_eq!(server.local_address(), Some(addr(P)));
    w.run_for(ms(200));
    let server = w.server_conn().expect("server");
    assert_eq!(server.local_address(), Some(addr(P)));
    assert_eq!(server.error(), None);
    assert!(w.upload(10_000));
}
