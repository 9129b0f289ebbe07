//! Hosts in the simulator: several addresses, NAT rebinding, GSO, pacing, timers, the
//! run loop's outcomes, and a reliable transfer over a hostile network.
#![cfg(feature = "sim")]

use core::{net::SocketAddr, time::Duration};
use std::{cell::RefCell, collections::VecDeque, rc::Rc};

use bytes::BytesMut;
use quic_conn::{
    sim::{
        toy::{numbered_payload, Echo, Planned, Scripted},
        DropCause, LinkConfig, Loss, RunError, Sim, TraceEvent, TraceKind,
    },
    DatagramMeta, SansIo, Transmit,
};
use quic_wire::{Ecn, Instant};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at_ms(n: u64) -> Instant {
    Instant::ZERO + ms(n)
}

#[test]
fn nat_rebinding_changes_the_source_seen_and_replies_follow_the_new_mapping() {
    let private = addr("10.0.0.1:5000");
    let old_public = addr("203.0.113.1:1000");
    let new_public = addr("203.0.113.1:2000");
    let server_addr = addr("192.0.2.1:443");

    let mut sim = Sim::new(1);
    let client = sim.add_host(Scripted::new(), &[private]);
    let server = sim.add_host(Echo::new(), &[server_addr]);
    let (up, down) = sim.duplex(private, server_addr, LinkConfig::with_delay(ms(10)));
    sim.nat(private, old_public);
    sim.rebind(private, at_ms(45), new_public);
    sim.node_mut::<Scripted>(client)
        .plan_numbered(server_addr, 10, 100, Instant::ZERO, ms(10));
    sim.run_until_idle(Duration::from_secs(1)).unwrap();

    // The server sees the public address in force when each datagram left the NAT.
    let seen: Vec<(u64, SocketAddr)> = sim
        .node::<Echo>(server)
        .received()
        .iter()
        .map(|a| (a.seq().unwrap(), a.meta.remote))
        .collect();
    let expected: Vec<(u64, SocketAddr)> = (0..10)
        .map(|s| (s, if s < 5 { old_public } else { new_public }))
        .collect();
    assert_eq!(seen, expected);

    // Replies to the new address reach the host; replies to the old one that arrive
    // after the rebinding (sent at 40 and 50 ms, arriving at 50 and 60 ms) are dropped.
    let replies = sim.node::<Scripted>(client).received();
    let seqs: Vec<u64> = replies.iter().map(|a| a.seq().unwrap()).collect();
    assert_eq!(seqs, [0, 1, 2, 5, 6, 7, 8, 9]);
    for r in replies {
        assert_eq!(r.meta.remote, server_addr);
        assert_eq!(r.meta.local, private);
    }
    assert_eq!(sim.link_stats(down).dropped_nat, 2);
    assert_eq!(sim.link_stats(down).dropped(DropCause::Nat), 2);
    assert_eq!(sim.link_stats(up).delivered, 10);
    assert_eq!(sim.public_address(private), new_public);
}

#[test]
fn a_host_with_several_addresses_uses_the_link_of_each() {
    let wifi = addr("10.0.0.1:4000");
    let cell = addr("[2001:db8::1]:4000");
    let server_v4 = addr("192.0.2.1:443");
    let server_v6 = addr("[2001:db8::443]:443");

    let mut sim = Sim::new(1);
    let client = sim.add_host(Scripted::new(), &[wifi, cell]);
    let server = sim.add_host(Echo::new(), &[server_v4]);
    sim.add_address(server, server_v6);
    assert_eq!(sim.addresses(client), [wifi, cell]);
    sim.duplex(wifi, server_v4, LinkConfig::with_delay(ms(10)));
    sim.duplex(cell, server_v6, LinkConfig::with_delay(ms(30)));

    let c = sim.node_mut::<Scripted>(client);
    // No source: the default (first) address.
    c.plan(Planned::new(
        Instant::ZERO,
        server_v4,
        numbered_payload(0, 20),
    ));
    c.plan(Planned {
        source: Some(cell),
        ..Planned::new(Instant::ZERO, server_v6, numbered_payload(1, 20))
    });
    sim.run_until_idle(Duration::from_secs(1)).unwrap();

    let at_server: Vec<(Instant, SocketAddr, SocketAddr)> = sim
        .node::<Echo>(server)
        .received()
        .iter()
        .map(|a| (a.time, a.meta.remote, a.meta.local))
        .collect();
    assert_eq!(
        at_server,
        [(at_ms(10), wifi, server_v4), (at_ms(30), cell, server_v6)]
    );
    let at_client: Vec<(Instant, u64, SocketAddr, SocketAddr)> = sim
        .node::<Scripted>(client)
        .received()
        .iter()
        .map(|a| (a.time, a.seq().unwrap(), a.meta.remote, a.meta.local))
        .collect();
    assert_eq!(
        at_client,
        [
            (at_ms(20), 0, server_v4, wifi),
            (at_ms(60), 1, server_v6, cell)
        ]
    );
}

#[test]
fn datagrams_without_a_route_are_dropped_and_traced() {
    let a = addr("10.0.0.1:1");
    let b = addr("10.0.0.2:1");
    let mut sim = Sim::new(1);
    let sender = sim.add_host(Scripted::new(), &[a]);
    sim.add_host(Scripted::new(), &[b]);
    sim.link(a, b, LinkConfig::default());
    let trace = Rc::new(RefCell::new(Vec::<TraceEvent>::new()));
    let sink = Rc::clone(&trace);
    sim.on_trace(move |e| sink.borrow_mut().push(*e));

    let s = sim.node_mut::<Scripted>(sender);
    // No link towards this address.
    s.plan(Planned::new(Instant::ZERO, addr("10.0.0.9:1"), vec![1; 10]));
    // A source the host does not own.
    s.plan(Planned {
        source: Some(addr("10.0.0.7:1")),
        ..Planned::new(Instant::ZERO, b, vec![2; 10])
    });
    // Fine.
    s.plan(Planned::new(Instant::ZERO, b, vec![3; 10]));
    sim.run_until_idle(ms(10)).unwrap();

    assert_eq!(sim.no_route_drops(), 2);
    let kinds: Vec<TraceKind> = trace.borrow().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            TraceKind::Dropped(DropCause::NoRoute),
            TraceKind::Dropped(DropCause::NoRoute),
            TraceKind::Sent,
            TraceKind::Delivered,
        ]
    );
}

#[test]
fn a_gso_batch_is_split_into_datagrams_of_the_segment_size() {
    let a = addr("10.0.0.1:1");
    let b = addr("10.0.0.2:1");
    let mut sim = Sim::new(1);
    let sender = sim.add_host(Scripted::new(), &[a]);
    let receiver = sim.add_host(Scripted::new(), &[b]);
    let link = sim.link(
        a,
        b,
        LinkConfig {
            bandwidth_bps: Some(8_000_000),
            ..LinkConfig::default()
        },
    );
    let payload: Vec<u8> = (0..3500u32).map(|i| (i / 1000) as u8).collect();
    sim.node_mut::<Scripted>(sender).plan(Planned {
        segment_size: Some(1000),
        ecn: Ecn::Ect0,
        ..Planned::new(Instant::ZERO, b, payload)
    });
    sim.run_until_idle(ms(100)).unwrap();

    let got: Vec<(Instant, usize, u8, Ecn)> = sim
        .node::<Scripted>(receiver)
        .received()
        .iter()
        .map(|a| (a.time, a.data.len(), a.data[0], a.meta.ecn))
        .collect();
    let half = Duration::from_micros(500);
    assert_eq!(
        got,
        [
            (at_ms(1), 1000, 0, Ecn::Ect0),
            (at_ms(2), 1000, 1, Ecn::Ect0),
            (at_ms(3), 1000, 2, Ecn::Ect0),
            (at_ms(3) + half, 500, 3, Ecn::Ect0),
        ]
    );
    assert_eq!(sim.link_stats(link).sent, 4);
}

#[test]
fn paced_datagrams_leave_at_their_send_time() {
    let a = addr("10.0.0.1:1");
    let b = addr("10.0.0.2:1");
    let mut sim = Sim::new(1);
    let sender = sim.add_host(Scripted::new(), &[a]);
    let receiver = sim.add_host(Scripted::new(), &[b]);
    sim.link(a, b, LinkConfig::with_delay(ms(1)));
    let s = sim.node_mut::<Scripted>(sender);
    let paced = |at, send_at: Option<Instant>, seq| Planned {
        send_at,
        ..Planned::new(at, b, numbered_payload(seq, 10))
    };
    s.plan(paced(Instant::ZERO, Some(at_ms(5)), 0));
    s.plan(paced(Instant::ZERO, Some(at_ms(3)), 1));
    s.plan(paced(Instant::ZERO, None, 2));
    // A send time already past: leaves when handed over.
    s.plan(paced(at_ms(10), Some(at_ms(2)), 3));
    sim.run_until_idle(ms(100)).unwrap();

    let got: Vec<(u64, Instant)> = sim
        .node::<Scripted>(receiver)
        .received()
        .iter()
        .map(|a| (a.seq().unwrap(), a.time))
        .collect();
    assert_eq!(
        got,
        [(2, at_ms(1)), (1, at_ms(4)), (0, at_ms(6)), (3, at_ms(11))]
    );
}

/// Fires a timer every millisecond, forever.
#[derive(Default)]
struct Ticker {
    next: Option<Instant>,
    ticks: Vec<Instant>,
}

impl SansIo for Ticker {
    fn handle_datagram(&mut self, _: Instant, _: DatagramMeta, _: BytesMut) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next.unwrap_or(at_ms(1)))
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.ticks.push(now);
        self.next = Some(now + ms(1));
    }
}

/// Always asks for a timeout at the origin: a broken node.
struct Spinner;

impl SansIo for Spinner {
    fn handle_datagram(&mut self, _: Instant, _: DatagramMeta, _: BytesMut) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::ZERO)
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

#[test]
fn runs_end_stalled_timed_out_or_out_of_steps() {
    let mut empty = Sim::new(1);
    assert_eq!(
        empty.run_until(|_| false, Duration::from_secs(1)),
        Err(RunError::Stalled { at: Instant::ZERO })
    );

    let mut sim = Sim::new(1);
    let t = sim.add_host(Ticker::default(), &[addr("10.0.0.1:1")]);
    assert_eq!(
        sim.run_until(|_| false, ms(10)),
        Err(RunError::TimedOut { at: at_ms(10) })
    );
    assert_eq!(sim.now(), at_ms(10));
    let ticks = &sim.node::<Ticker>(t).ticks;
    assert_eq!(*ticks, (1..=10).map(at_ms).collect::<Vec<_>>());
    // The predicate is checked before every step: it holds at the fifth tick after now.
    let start = sim.now();
    let when = sim
        .run_until(|s| s.node::<Ticker>(t).ticks.len() == 15, ms(100))
        .unwrap();
    assert_eq!(when, start + ms(5));
    sim.run_for(ms(3)).unwrap();
    assert_eq!(sim.now(), start + ms(8));

    let mut sim = Sim::new(1);
    sim.add_host(Spinner, &[addr("10.0.0.1:1")]);
    sim.set_max_steps(1000);
    assert_eq!(
        sim.run_until(|_| false, ms(10)),
        Err(RunError::StepLimit {
            at: Instant::ZERO,
            steps: 1000
        })
    );
}

/// Sends what the test pushes into it; no timers, so only the simulator's polling after
/// `node_mut` gets the data out.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
}

impl SansIo for Outbox {
    fn handle_datagram(&mut self, _: Instant, _: DatagramMeta, _: BytesMut) {}
    fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (destination, data) = self.queue.pop_front()?;
        buf[..data.len()].copy_from_slice(&data);
        Some(Transmit {
            destination,
            source: None,
            ecn: Ecn::NotEct,
            size: data.len(),
            segment_size: None,
            send_at: None,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

#[test]
fn touching_a_node_between_runs_gets_its_output_polled() {
    let a = addr("10.0.0.1:1");
    let b = addr("10.0.0.2:1");
    let mut sim = Sim::new(1);
    let app = sim.add_host(Outbox::default(), &[a]);
    let receiver = sim.add_host(Scripted::new(), &[b]);
    sim.link(a, b, LinkConfig::with_delay(ms(7)));
    sim.run_for(ms(100)).unwrap();
    sim.node_mut::<Outbox>(app)
        .queue
        .push_back((b, vec![42; 5]));
    let when = sim
        .run_until(
            |s| !s.node::<Scripted>(receiver).received().is_empty(),
            ms(50),
        )
        .unwrap();
    assert_eq!(when, at_ms(107));
    assert_eq!(sim.node::<Scripted>(receiver).received()[0].data, [42; 5]);
}

/// Stop-and-wait sender: chunk `k` goes out as `[k: u64][bytes]` until acknowledged,
/// retransmitted after `RTO` of silence.
struct SawSender {
    peer: SocketAddr,
    chunks: Vec<Vec<u8>>,
    next: usize,
    send_now: bool,
    deadline: Option<Instant>,
    retransmissions: u64,
}

const RTO: Duration = Duration::from_millis(50);

impl SansIo for SawSender {
    fn handle_datagram(&mut self, _: Instant, _: DatagramMeta, data: BytesMut) {
        let acked = u64::from_be_bytes(data[..8].try_into().unwrap());
        if acked == self.next as u64 {
            self.next += 1;
            self.deadline = None;
            self.send_now = self.next < self.chunks.len();
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if !self.send_now {
            return None;
        }
        self.send_now = false;
        let chunk = &self.chunks[self.next];
        buf[..8].copy_from_slice(&(self.next as u64).to_be_bytes());
        buf[8..8 + chunk.len()].copy_from_slice(chunk);
        self.deadline = Some(now + RTO);
        Some(Transmit {
            destination: self.peer,
            source: None,
            ecn: Ecn::NotEct,
            size: 8 + chunk.len(),
            segment_size: None,
            send_at: None,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.deadline = None;
            self.send_now = true;
            self.retransmissions += 1;
        }
    }
}

/// Stop-and-wait receiver: keeps in-order chunks, acknowledges every one it has.
#[derive(Default)]
struct SawReceiver {
    expected: u64,
    data: Vec<u8>,
    acks: VecDeque<(SocketAddr, u64)>,
}

impl SansIo for SawReceiver {
    fn handle_datagram(&mut self, _: Instant, meta: DatagramMeta, data: BytesMut) {
        let seq = u64::from_be_bytes(data[..8].try_into().unwrap());
        if seq == self.expected {
            self.data.extend_from_slice(&data[8..]);
            self.expected += 1;
        }
        if seq < self.expected {
            self.acks.push_back((meta.remote, seq));
        }
    }
    fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let (to, seq) = self.acks.pop_front()?;
        buf[..8].copy_from_slice(&seq.to_be_bytes());
        Some(Transmit {
            destination: to,
            source: None,
            ecn: Ecn::NotEct,
            size: 8,
            segment_size: None,
            send_at: None,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

#[test]
fn stop_and_wait_delivers_everything_over_a_lossy_duplicating_link() {
    let a = addr("10.0.0.1:1");
    let b = addr("10.0.0.2:1");
    let chunks: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 1000]).collect();
    let expected: Vec<u8> = chunks.concat();
    let mut sim = Sim::new(2024);
    let sender = sim.add_host(
        SawSender {
            peer: b,
            chunks,
            next: 0,
            send_now: true,
            deadline: None,
            retransmissions: 0,
        },
        &[a],
    );
    let receiver = sim.add_host(SawReceiver::default(), &[b]);
    let config = LinkConfig {
        delay: ms(10),
        jitter: ms(2),
        loss: Loss::Random(0.2),
        duplicate: 0.05,
        ..LinkConfig::default()
    };
    let (ab, ba) = sim.duplex(a, b, config);
    let done = sim
        .run_until(
            |s| s.node::<SawReceiver>(receiver).data.len() == expected.len(),
            Duration::from_secs(600),
        )
        .unwrap();
    assert_eq!(sim.node::<SawReceiver>(receiver).data, expected);
    // Fifty round trips of at least 20 ms each.
    assert!(done >= at_ms(1000), "finished at {done:?}");
    let lost = sim.link_stats(ab).lost + sim.link_stats(ba).lost;
    assert!(lost > 0);
    // Only losses of chunks and of their first acknowledgement cost a retransmission
    // (acknowledgements of duplicates may be lost for free), so there are at most as
    // many retransmissions as losses, and some.
    let retransmissions = sim.node::<SawSender>(sender).retransmissions;
    assert!(
        retransmissions > 0 && retransmissions <= lost,
        "{retransmissions} vs {lost}"
    );
}

/// Never stops transmitting: a broken node.
struct Chatterbox {
    peer: SocketAddr,
}

impl SansIo for Chatterbox {
    fn handle_datagram(&mut self, _: Instant, _: DatagramMeta, _: BytesMut) {}
    fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<Transmit> {
        buf[0] = 1;
        Some(Transmit {
            destination: self.peer,
            source: None,
            ecn: Ecn::NotEct,
            size: 1,
            segment_size: None,
            send_at: None,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::FAR_FUTURE)
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

#[test]
fn a_node_that_never_stops_sending_exhausts_the_step_budget() {
    let a = addr("10.0.0.1:1");
    let b = addr("10.0.0.2:1");
    let mut sim = Sim::new(1);
    sim.add_host(Chatterbox { peer: b }, &[a]);
    sim.add_host(Scripted::new(), &[b]);
    let link = sim.link(a, b, LinkConfig::default());
    sim.set_max_steps(5);
    let result = sim.run_until(|_| false, ms(10));
    assert!(
        matches!(result, Err(RunError::StepLimit { steps: 5, .. })),
        "{result:?}"
    );
    // It was drained in bounded batches, all at time zero.
    assert!(sim.link_stats(link).sent > 0);
    assert_eq!(sim.now(), Instant::ZERO);
}

#[test]
fn a_far_future_deadline_counts_as_none() {
    struct Disarmed;
    impl SansIo for Disarmed {
        fn handle_datagram(&mut self, _: Instant, _: DatagramMeta, _: BytesMut) {}
        fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(Instant::FAR_FUTURE)
        }
        fn handle_timeout(&mut self, _: Instant) {
            panic!("a disarmed timer fired");
        }
    }
    let mut sim = Sim::new(1);
    sim.add_host(Disarmed, &[addr("10.0.0.1:1")]);
    assert_eq!(sim.run_until_idle(Duration::MAX), Ok(Instant::ZERO));
}

#[test]
fn a_link_filter_drops_and_rewrites_scripted_datagrams() {
    let a = addr("10.0.0.1:1");
    let b = addr("10.0.0.2:1");
    let mut sim = Sim::new(1);
    let sender = sim.add_host(Scripted::new(), &[a]);
    let receiver = sim.add_host(Scripted::new(), &[b]);
    let link = sim.link(a, b, LinkConfig::with_delay(ms(1)));
    let mut seen = 0;
    sim.set_filter(link, move |_, data| {
        seen += 1;
        match seen {
            // Lose the first two.
            1 | 2 => false,
            // Tamper with the third: last byte.
            3 => {
                let last = data.len() - 1;
                data[last] = 0xff;
                true
            }
            _ => true,
        }
    });
    sim.node_mut::<Scripted>(sender)
        .plan_numbered(b, 5, 16, Instant::ZERO, ms(1));
    sim.run_until_idle(ms(100)).unwrap();

    let received = sim.node::<Scripted>(receiver).received();
    let seqs: Vec<u64> = received.iter().map(|a| a.seq().unwrap()).collect();
    assert_eq!(seqs, [2, 3, 4]);
    assert_eq!(received[0].data[15], 0xff);
    assert_eq!(received[1].data, numbered_payload(3, 16));
    let stats = sim.link_stats(link);
    assert_eq!(stats.dropped_filter, 2);
    assert_eq!(stats.dropped(DropCause::Filter), 2);

    // Without the filter everything passes again.
    sim.clear_filter(link);
    let now = sim.now();
    sim.node_mut::<Scripted>(sender)
        .plan(Planned::new(now, b, vec![7; 16]));
    sim.run_until_idle(ms(100)).unwrap();
    assert_eq!(sim.node::<Scripted>(receiver).received().len(), 4);
}

#[test]
fn an_injected_datagram_arrives_from_the_claimed_address_at_the_given_time() {
    let b = addr("10.0.0.2:1");
    let spoofed = addr("198.51.100.66:666");
    let mut sim = Sim::new(1);
    let receiver = sim.add_host(Scripted::new(), &[b]);
    let trace = Rc::new(RefCell::new(Vec::<TraceEvent>::new()));
    let sink = Rc::clone(&trace);
    sim.on_trace(move |e| sink.borrow_mut().push(*e));
    sim.inject(at_ms(3), spoofed, b, Ecn::Ce, BytesMut::from(&b"hello"[..]));
    sim.inject(
        at_ms(4),
        spoofed,
        addr("10.0.0.3:1"),
        Ecn::NotEct,
        BytesMut::new(),
    );
    sim.run_until_idle(ms(100)).unwrap();

    let got = sim.node::<Scripted>(receiver).received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].time, at_ms(3));
    assert_eq!(got[0].meta.remote, spoofed);
    assert_eq!(got[0].meta.local, b);
    assert_eq!(got[0].meta.ecn, Ecn::Ce);
    assert_eq!(got[0].data, b"hello");
    assert_eq!(sim.no_route_drops(), 1);
    let kinds: Vec<(TraceKind, Option<quic_conn::sim::LinkId>)> =
        trace.borrow().iter().map(|e| (e.kind, e.link)).collect();
    assert_eq!(
        kinds,
        [
            (TraceKind::Delivered, None),
            (TraceKind::Dropped(DropCause::NoRoute), None)
        ]
    );
}

#[test]
fn boxed_hosts_of_mixed_types_can_be_added_in_a_loop() {
    let nodes: Vec<(Box<dyn quic_conn::sim::Node>, SocketAddr)> = vec![
        (Box::new(Echo::new()), addr("10.0.0.1:1")),
        (Box::new(Scripted::new()), addr("10.0.0.2:1")),
    ];
    let mut sim = Sim::new(1);
    let ids: Vec<_> = nodes
        .into_iter()
        .map(|(node, a)| sim.add_boxed_host(node, &[a]))
        .collect();
    sim.duplex(
        addr("10.0.0.1:1"),
        addr("10.0.0.2:1"),
        LinkConfig::default(),
    );
    sim.node_mut::<Scripted>(ids[1]).plan(Planned::new(
        Instant::ZERO,
        addr("10.0.0.1:1"),
        vec![5; 3],
    ));
    sim.run_until_idle(ms(10)).unwrap();
    assert_eq!(sim.node::<Echo>(ids[0]).echoed(), 1);
    assert_eq!(sim.node::<Scripted>(ids[1]).received()[0].data, [5; 3]);
}
