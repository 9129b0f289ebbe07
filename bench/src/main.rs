//! `quic-bench`: runs the side-by-side benchmark and writes `target/bench/results.{json,svg}`.
//!
//! Usage: `quic-bench [--quick] [--runs N] [--short-runs N] [--bulk-mib N] [--loss PERCENT]
//! [--handshakes N] [--streams N] [--idle N] [--crypto-packets N] [--seed N] [--only NAME]...
//! [--workload NAME]... [--out DIR]`
#![forbid(unsafe_code)]

use std::path::PathBuf;

use quic_bench::{alloc::CountingAlloc, run::Options, STACKS};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const USAGE: &str = "\
usage: quic-bench [options]

  --quick              small sizes, one run each (a smoke test)
  --runs N             runs of each bulk workload (default 3)
  --short-runs N       runs of each short workload (default 5)
  --bulk-mib N         MiB per bulk transfer (default 256)
  --loss PERCENT       datagram loss of the lossy bulk run, each direction (default 1)
  --handshakes N       sequential connections (default 2000)
  --streams N          request/response streams on one connection (default 50000)
  --idle N             idle connections for the heap figure (default 1000)
  --crypto-packets N   packets per crypto-ceiling measurement (default 200000)
  --seed N             seed of the loss generators and endpoint randomness
  --only NAME          only this stack (repeatable): quinn, ours
  --workload NAME      only this workload (repeatable): bulk, loss, handshakes, streams, idle
  --out DIR            where results.json and results.svg go (default target/bench)
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, out) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("quic-bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = bench(&opts, &out) {
        eprintln!("quic-bench: {e}");
        std::process::exit(1);
    }
}

fn bench(opts: &Options, out: &std::path::Path) -> Result<(), String> {
    let report = quic_bench::run::run(opts, STACKS, &mut |line| eprintln!("{line}"))?;
    println!();
    print!("{}", report.table());
    for path in report.write_files(out)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn default_out() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || {
            let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest.parent().unwrap_or(manifest).join("target")
        },
        PathBuf::from,
    );
    target.join("bench")
}

fn parse(args: &[String]) -> Result<(Options, PathBuf), String> {
    // --quick sets the baseline sizes; the other flags override them in any order.
    let mut opts = if args.iter().any(|a| a == "--quick") {
        Options::quick()
    } else {
        Options::full()
    };
    let mut out = default_out();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--quick" {
            continue;
        }
        if flag == "-h" || flag == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("{flag} takes a number, got {value}"))
        };
        match flag.as_str() {
            "--runs" => opts.runs = num()?.max(1) as usize,
            "--short-runs" => opts.short_runs = num()?.max(1) as usize,
            "--bulk-mib" => opts.bulk_bytes = num()?.max(1) << 20,
            "--loss" => {
                opts.loss_percent = value
                    .parse()
                    .map_err(|_| format!("--loss takes a percentage, got {value}"))?
            }
            "--handshakes" => opts.handshakes = num()?.max(1),
            "--streams" => opts.streams = num()?.max(1),
            "--idle" => opts.idle_connections = num()?.max(1),
            "--crypto-packets" => opts.crypto_packets = num()?.max(1),
            "--seed" => opts.seed = num()?,
            "--only" => opts.only.push(value.clone()),
            "--workload" => {
                if !quic_bench::run::WORKLOADS.contains(&value.as_str()) {
                    return Err(format!("unknown workload {value}"));
                }
                opts.workloads.push(value.clone());
            }
            "--out" => out = PathBuf::from(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok((opts, out))
}
