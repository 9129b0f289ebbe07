//! Holds `N` idle connection pairs of one stack and exits without dropping them, so a heap
//! profiler's "leaked" view (heaptrack, valgrind massif/dhat) is exactly the idle state.
//!
//! `cargo run --release -p quic-bench --example idle_profile -- ours|quinn [N]`, then for
//! example `heaptrack target/release/examples/idle_profile ours 1000` and
//! `heaptrack_print --flamegraph-cost-type leaked -F stacks.txt`.
#![forbid(unsafe_code)]

use std::time::Duration;

use quic_bench::{alloc, driver::Driver, run, tls, workloads, STACKS};

#[global_allocator]
static ALLOC: alloc::CountingAlloc = alloc::CountingAlloc;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("ours", String::as_str);
    let count: u64 = args
        .get(1)
        .map_or(Ok(1000), |n| n.parse())
        .map_err(|e| format!("{e}"))?;
    let kind = STACKS
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| format!("unknown stack {name}"))?;
    let material = tls::TlsMaterial::generate("localhost")?;
    let config = run::stack_config(&material, 1);
    let stack = (kind.make)(&config).map_err(|e| e.0)?;
    let mut d = Driver::new(stack, config.max_udp_payload);
    d.settle(Duration::from_secs(1))?;
    let before = alloc::stats().current;
    let mut conns = Vec::with_capacity(count as usize);
    for _ in 0..count {
        conns.push(workloads::establish(&mut d)?);
    }
    d.settle(Duration::from_secs(1))?;
    let after = alloc::stats().current;
    println!(
        "{name}: {:.0} heap bytes per idle connection pair ({count} pairs)",
        (after - before) as f64 / count.max(1) as f64
    );
    // Exit with everything still allocated: the profiler's leak view is the idle state.
    std::process::exit(0)
}
