//! RFC 9000 §8.1: before it validated the client's address, a server sends at most three
//! times the bytes it received from it. Checked at every datagram the server sends, over
//! many seeds and loss patterns (108 handshakes: 12 seeds, 0/10/30% loss, three
//! patterns of what the client gets through), with a certificate large enough that the
//! server's first flight needs several times the client's Initial.
#![cfg(all(feature = "sim", feature = "rustls"))]

mod netutil;

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use netutil::{delay_ms, tls_with_big_cert, Net};
use quic_conn::conn::Config;
use quic_conn::sim::{LinkConfig, Loss, TraceEvent, TraceKind};
use quic_wire::packet::{Packet, ParseConfig, ProtectedHeader};
use quic_wire::PacketType;

/// Whether the datagram carries a Handshake packet or a short-header packet: the packets
/// that could validate the client's address (RFC 9000 §8.1), or arrive only after.
fn could_validate(datagram: &[u8]) -> bool {
    let cfg = ParseConfig::new(8).accept_zero_fixed_bit(true);
    let mut rest = datagram;
    while !rest.is_empty() {
        let Ok((p, next)) = Packet::parse(rest, &cfg) else {
            return false;
        };
        match p {
            Packet::Protected(p) => match p.header {
                ProtectedHeader::Long(h) if h.ty == PacketType::Initial => {}
                ProtectedHeader::Long(_) | ProtectedHeader::Short { .. } => return true,
            },
            _ => return false,
        }
        rest = next;
    }
    false
}

/// The bytes the server received from and sent to the client, and the worst ratio seen
/// at any send, as sent * 1000 / received.
#[derive(Debug, Default)]
struct Tally {
    received: u64,
    sent: u64,
    worst_permille: u64,
    violations: Vec<String>,
    /// A datagram that could validate the address arrived: counting stopped.
    validated: bool,
}

/// What the client gets through to the server.
#[derive(Debug, Clone, Copy)]
enum Pattern {
    /// Only its first datagram (its first Initial); everything after is lost.
    FirstInitialOnly,
    /// Every Initial-only datagram, but never one that could validate its address.
    InitialsOnly,
    /// Everything (but the random loss): the limit holds until the first datagram that
    /// could validate the address arrives.
    Everything,
}

/// FNV-1a, as the simulator's trace digests datagrams.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Runs one handshake attempt under `loss` on both links and `pattern` on the client's,
/// and returns the tally.
fn attempt(seed: u64, loss: f64, pattern: Pattern, extra_names: usize) -> Tally {
    let link = LinkConfig {
        loss: Loss::Random(loss),
        ..delay_ms(25)
    };
    let config = Config {
        idle_timeout: Some(Duration::from_secs(5)),
        ..Config::default()
    };
    let mut net = Net::build_with_tls(
        seed,
        link.clone(),
        link,
        config,
        config,
        tls_with_big_cert(extra_names),
    );
    let mut first = true;
    // Digests of the client's datagrams that could validate its address.
    let validating = Rc::new(RefCell::new(HashSet::new()));
    let v = Rc::clone(&validating);
    net.sim.set_filter(net.up, move |_, d| match pattern {
        Pattern::FirstInitialOnly => std::mem::replace(&mut first, false),
        Pattern::InitialsOnly => !could_validate(d),
        Pattern::Everything => {
            if could_validate(d) {
                v.borrow_mut().insert(fnv1a(d));
            }
            true
        }
    });
    let tally = Rc::new(RefCell::new(Tally::default()));
    let t = Rc::clone(&tally);
    let (up, down) = (net.up, net.down);
    net.sim.on_trace(move |e: &TraceEvent| {
        let mut t = t.borrow_mut();
        if t.validated {
            return;
        }
        if e.link == Some(up) && e.kind == TraceKind::Delivered {
            if validating.borrow().contains(&e.digest) {
                t.validated = true;
                return;
            }
            t.received += e.len as u64;
        }
        if e.link == Some(down) && e.kind == TraceKind::Sent {
            t.sent += e.len as u64;
            let permille = t.sent * 1000 / t.received.max(1);
            t.worst_permille = t.worst_permille.max(permille);
            if t.sent > 3 * t.received {
                let v = format!(
                    "{:?}: sent {} > 3 x received {}",
                    e.time, t.sent, t.received
                );
                t.violations.push(v);
            }
        }
    });
    net.connect();
    // The client gives up after its idle timeout; run past it.
    let _ = net.try_run_until(|_| false, Duration::from_secs(8));
    drop(net);
    Rc::try_unwrap(tally).expect("sole owner").into_inner()
}

#[test]
fn server_never_sends_more_than_3x_what_an_unvalidated_client_sent() {
    let mut worst = 0;
    let mut attempts = 0;
    for seed in 0..12u64 {
        for loss in [0.0, 0.1, 0.3] {
            for pattern in [
                Pattern::FirstInitialOnly,
                Pattern::InitialsOnly,
                Pattern::Everything,
            ] {
                let t = attempt(seed, loss, pattern, 120);
                assert!(
                    t.violations.is_empty(),
                    "seed {seed} loss {loss} {pattern:?}: {:?}",
                    t.violations
                );
                if matches!(pattern, Pattern::Everything) && loss == 0.0 {
                    assert!(t.validated, "seed {seed}: the handshake got through");
                }
                worst = worst.max(t.worst_permille);
                attempts += 1;
            }
        }
    }
    assert_eq!(attempts, 108);
    // The limit was reached, so the check had teeth: the server wanted to send more.
    assert!(worst > 2500, "worst ratio {worst}/1000");
}

#[test]
fn a_server_whose_client_only_sent_one_initial_sends_at_most_3x_of_it() {
    let t = attempt(99, 0.0, Pattern::FirstInitialOnly, 120);
    assert!(t.received >= 1200, "{t:?}");
    assert!(t.sent <= 3 * t.received, "{t:?}");
    // The certificate alone is several kilobytes: the server stopped at the limit.
    assert!(t.sent > 2 * t.received, "{t:?}");
}
