//! Side-by-side benchmarks of this project's QUIC stack and quinn-proto.
//!
//! Both stacks sit behind one trait, [`stack::Stack`], and are driven by one in-memory harness,
//! [`driver::Driver`]: a client endpoint and a server endpoint in one thread, datagrams of at
//! most 1452 bytes handed from one to the other with no sockets, optional seeded random loss,
//! and time given to the stacks as an input. Like a socket loop, the driver asks each end for
//! up to 10 datagrams per send (GSO) and hands received datagrams over as views of one shared
//! receive buffer (what a `recvmmsg` or GRO read fills). The workloads in [`workloads`] run identically on
//! each stack and check every byte they receive. [`run`] repeats them and takes medians,
//! [`crypto`] measures what the cipher alone allows, and [`report`] prints the table and writes
//! JSON and an SVG chart. The binary (`cargo xtask bench`) installs the counting allocator of
//! [`alloc`] so the memory figures are real.

pub mod alloc;
pub mod cpu;
pub mod crypto;
pub mod driver;
pub mod loss;
pub mod ours;
pub mod quinn;
pub mod report;
pub mod run;
pub mod stack;
pub mod tls;
pub mod workloads;

/// Every stack the harness knows, in column order. A new stack is one module plus one entry.
pub const STACKS: &[stack::StackKind] = &[quinn::KIND, ours::KIND];

#[cfg(test)]
#[global_allocator]
static TEST_ALLOC: alloc::CountingAlloc = alloc::CountingAlloc;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{run::Options, stack::Side};

    fn config() -> stack::StackConfig {
        let tls = tls::TlsMaterial::generate("localhost").unwrap();
        run::stack_config(&tls, 1)
    }

    /// The same checks for every stack: each workload moves exactly the bytes it claims,
    /// lossless and under 1% loss, and the handshake pairs up within the datagram limit.
    macro_rules! stack_tests {
        ($name:ident, $kind:expr) => {
            mod $name {
                use super::*;
                use crate::stack::StackKind;

                const KIND: StackKind = $kind;

                #[test]
                fn bulk_moves_every_byte_intact() {
                    let c = config();
                    let total = Options::quick().bulk_bytes;
                    let b = workloads::bulk(&KIND, &c, total, 0.0, 1).unwrap();
                    assert_eq!(b.bytes, total);
                    assert!(b.intact);
                    assert_eq!(b.dropped_up + b.dropped_down, 0);
                    // At least one datagram per 1452 bytes of stream data went up.
                    assert!(b.datagrams_up >= total / 1452);
                    assert!(b.peak_heap > 0);
                }

                #[test]
                fn bulk_sends_fill_gso_bursts() {
                    // The driver offers up to 10 datagrams per send to every stack: a stack
                    // configured to ignore that (quinn with segmentation offload off) would
                    // pay its per-call costs per datagram, and the comparison would be unfair.
                    let c = config();
                    let b = workloads::bulk(&KIND, &c, 2 << 20, 0.0, 1).unwrap();
                    assert!(b.intact);
                    let per_send = b.datagrams_up as f64 / b.sends_up as f64;
                    assert!(
                        per_send > 3.0,
                        "{} datagrams in {} sends",
                        b.datagrams_up,
                        b.sends_up
                    );
                }

                #[test]
                fn bulk_under_loss_still_moves_every_byte() {
                    let c = config();
                    let total = 2 << 20;
                    let b = workloads::bulk(&KIND, &c, total, 1.0, 9).unwrap();
                    assert_eq!(b.bytes, total);
                    assert!(b.intact);
                    assert!(b.dropped_up > 0, "1% of {} datagrams", b.datagrams_up);
                }

                #[test]
                fn handshakes_streams_and_idle_connections() {
                    let c = config();
                    let h = workloads::handshakes(&KIND, &c, 20).unwrap();
                    assert_eq!(h.connections, 20);
                    assert!(h.intact);
                    let s = workloads::streams(&KIND, &c, 200).unwrap();
                    assert_eq!(s.streams, 200);
                    assert!(s.intact);
                    let m = workloads::idle_memory(&KIND, &c, 20).unwrap();
                    assert_eq!(m.connections, 20);
                    // Two ends of a QUIC connection hold at least some kilobytes between them.
                    assert!(
                        m.bytes_per_connection > 1000.0,
                        "{}",
                        m.bytes_per_connection
                    );
                }

                #[test]
                fn datagrams_never_exceed_the_limit_and_handshake_pairs_up() {
                    let c = config();
                    let mut d = driver::Driver::new((KIND.make)(&c).unwrap(), c.max_udp_payload);
                    let (cl, sv) = workloads::establish(&mut d).unwrap();
                    assert!(d.stack.is_established(Side::Client, cl));
                    assert!(d.stack.is_established(Side::Server, sv));
                    assert_eq!(d.stack.connection_count(Side::Server), 1);
                    assert!(d.links[0].sent > 0 && d.links[1].sent > 0);
                }
            }
        };
    }

    stack_tests!(quinn_stack, quinn::KIND);
    stack_tests!(our_stack, ours::KIND);

    #[test]
    fn quick_mode_runs_every_workload_on_every_stack() {
        let mut lines = Vec::new();
        let report =
            run::run(&Options::quick(), STACKS, &mut |l| lines.push(l.to_owned())).unwrap();
        assert_eq!(report.stacks.len(), STACKS.len());
        for (i, s) in report.stacks.iter().enumerate() {
            assert!(s.unavailable.is_none(), "{}", s.name);
            for m in &report.metrics {
                assert!(m.median(i).is_some_and(|v| v > 0.0), "{} {}", s.name, m.key);
            }
        }
        for m in &report.metrics {
            assert!(report.ratio(m).is_some(), "{}", m.key);
        }
        assert!(!lines.iter().any(|l| l.contains(": skipped,")));

        let dir = std::env::temp_dir().join(format!("quic-bench-test-{}", std::process::id()));
        let written = report.write_files(&dir).unwrap();
        let json = std::fs::read_to_string(&written[0]).unwrap();
        assert!(json.contains("\"bulk_goodput\"") && !json.contains("\"ours\": null"));
        let svg = std::fs::read_to_string(&written[1]).unwrap();
        assert!(svg.starts_with("<svg"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn counting_allocator_is_live_in_tests() {
        assert!(alloc::installed());
        let before = alloc::stats().current;
        let v = vec![0u8; 1 << 20];
        assert!(alloc::stats().current >= before + (1 << 20));
        assert!(alloc::stats().peak >= before + (1 << 20));
        drop(v);
        assert!(alloc::stats().current <= before);
    }
}
