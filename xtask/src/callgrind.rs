//! `cargo xtask bench --callgrind [--bulk-mib N]`: instructions per datagram of each stack's
//! library calls, outside the cipher, counted by callgrind over the bulk workload.
//!
//! Both stacks run the same bulk transfer under `valgrind --tool=callgrind`. A stack's
//! library cost is the inclusive instruction count of the library entry points the benchmark
//! calls (for ours the endpoint's `SansIo` methods; for quinn-proto its endpoint and
//! connection methods); the cipher is the inclusive count of rustls' packet and header
//! protection calls, which both stacks make the same way (ring AES-128-GCM). What is left,
//! divided by the datagrams both ends sent, is the figure. The application's write and read
//! calls and the benchmark harness are not part of it.
//!
//! Each stack runs twice, N and 4N MiB. A whole run includes one handshake (a few hundred
//! instructions per datagram at 16 MiB, more for quinn); the difference of the two runs, per
//! datagram the longer one added, is the steady-state figure without it.
//!
//! Then, per stack, where the steady-state instructions go: the stack's own functions (our
//! four protocol crates; quinn-proto) by the instructions per datagram each executed itself,
//! with what was inlined into it, in the longer run minus the shorter. The application's
//! stream writes and reads are library functions too and are listed (a `write` or `read`
//! name says so); the harness is not. A profile led by one function has one place to cut; a
//! flat one does not. (Callgrind's `--toggle-collect` could limit the collection to the entry
//! points, but it miscounts quinn-proto's: half of its instructions went missing.)
//!
//! Callgrind counts each iteration of a `rep movsb` copy as an instruction, so large copies
//! weigh more here than on hardware; both stacks copy stream data the same number of times.

use std::collections::HashMap;
use std::process::Command;

use crate::{cargo, run, Result};

/// Library entry points per stack (callgrind function names, matched whole).
const OURS_ENTRIES: &[&str] = &[
    "<quic_conn::endpoint::Endpoint as quic_conn::io::SansIo>::handle_datagram",
    "<quic_conn::endpoint::Endpoint as quic_conn::io::SansIo>::poll_transmit",
    "<quic_conn::endpoint::Endpoint as quic_conn::io::SansIo>::handle_timeout",
    "<quic_conn::endpoint::Endpoint as quic_conn::io::SansIo>::poll_timeout",
];
const QUINN_ENTRIES: &[&str] = &[
    "quinn_proto::endpoint::Endpoint::handle",
    "quinn_proto::endpoint::Endpoint::handle_event",
    "quinn_proto::connection::Connection::handle_event",
    "quinn_proto::connection::Connection::poll_transmit",
    "quinn_proto::connection::Connection::poll_endpoint_events",
    "quinn_proto::connection::Connection::poll",
    "quinn_proto::connection::Connection::poll_timeout",
    "quinn_proto::connection::Connection::handle_timeout",
];
/// The cipher: packet sealing and opening, and header protection masks.
const CIPHER: &[&str] = &[
    "<rustls::crypto::ring::quic::PacketKey as rustls::quic::PacketKey>::encrypt_in_place",
    "<rustls::crypto::ring::quic::PacketKey as rustls::quic::PacketKey>::decrypt_in_place",
    "<rustls::crypto::ring::quic::HeaderProtectionKey as rustls::quic::HeaderProtectionKey>::encrypt_in_place",
    "<rustls::crypto::ring::quic::HeaderProtectionKey as rustls::quic::HeaderProtectionKey>::decrypt_in_place",
];

/// One stack's figures.
struct Figures {
    datagrams: u64,
    library: u64,
    cipher: u64,
    /// Instructions each of the stack's own functions executed itself (with what was
    /// inlined into it), by function name: see [`own_by_function`].
    own: HashMap<String, u64>,
}

/// Names that mark a stack's own functions, for the breakdown: our four protocol crates, or
/// quinn-proto.
const OURS_CRATES: &[&str] = &[
    "quic_conn::",
    "quic_wire::",
    "quic_streams::",
    "quic_recovery::",
];
const QUINN_CRATES: &[&str] = &["quinn_proto::"];
/// Functions listed in the breakdown, per stack.
const BREAKDOWN_ROWS: usize = 15;

/// Runs the measurement; `args` may hold `--bulk-mib N` (default 16).
pub fn callgrind(args: &[String]) -> Result {
    let mib = match args {
        [] => 16,
        [flag, n] if flag == "--bulk-mib" => n
            .parse::<u64>()
            .map_err(|_| format!("--bulk-mib wants a number, got {n}"))?,
        _ => return Err("usage: cargo xtask bench --callgrind [--bulk-mib N]".into()),
    };
    for tool in ["valgrind", "callgrind_annotate"] {
        // Only whether it runs: callgrind_annotate answers --version with a failure code.
        let found = Command::new(tool).arg("--version").output().is_ok();
        if !found {
            return Err(format!(
                "{tool} not found: install valgrind (e.g. `apt-get install valgrind`)"
            ));
        }
    }
    run(cargo().args(["build", "--release", "-p", "quic-bench"]))?;
    let dir = std::path::Path::new("target/bench");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut rows = Vec::new();
    for (stack, entries, crates) in [
        ("quinn", QUINN_ENTRIES, QUINN_CRATES),
        ("ours", OURS_ENTRIES, OURS_CRATES),
    ] {
        eprintln!(
            "callgrind: {stack}, bulk {mib} MiB and {} MiB (a minute or two) ...",
            4 * mib
        );
        let short = measure(dir, stack, entries, crates, mib, "")?;
        let long = measure(dir, stack, entries, crates, 4 * mib, ".long")?;
        rows.push((stack, short, long));
    }
    println!();
    println!(
        "{:<6} {:>8} {:>10} {:>14} {:>14} {:>16}",
        "stack", "MiB", "datagrams", "library/dgram", "cipher/dgram", "outside cipher"
    );
    for (stack, short, long) in &rows {
        for (m, f) in [(mib, short), (4 * mib, long)] {
            let per = |n: u64| n as f64 / f.datagrams.max(1) as f64;
            println!(
                "{:<6} {:>8} {:>10} {:>14.0} {:>14.0} {:>16.0}",
                stack,
                m,
                f.datagrams,
                per(f.library),
                per(f.cipher),
                per(f.library.saturating_sub(f.cipher))
            );
        }
    }
    println!();
    println!(
        "steady state (the {}-MiB run minus the {mib}-MiB run: no handshake, no setup):",
        4 * mib
    );
    let mut steady = Vec::new();
    for (stack, short, long) in &rows {
        let s = marginal(short, long);
        println!("{stack:<6} {s:>8.0} instructions per datagram outside the cipher");
        steady.push(s);
    }
    if let ([(_, q, _), (_, o, _)], [sq, so]) = (rows.as_slice(), steady.as_slice()) {
        let outside =
            |f: &Figures| f.library.saturating_sub(f.cipher) as f64 / f.datagrams.max(1) as f64;
        println!(
            "ours/quinn, instructions per datagram outside the cipher: {:.2} ({mib} MiB), {:.2} (steady state)",
            outside(o) / outside(q).max(1.0),
            so / sq.max(1.0)
        );
    }
    for (stack, short, long) in &rows {
        print_breakdown(stack, short, long);
    }
    println!("profiles: target/bench/callgrind.{{quinn,ours}}{{,.long}}.out (callgrind_annotate)");
    Ok(())
}

/// Where a stack's steady-state instructions go: its own functions by the instructions per
/// datagram the longer run added, largest first, each with its share of the steady-state
/// figure outside the cipher. A profile with one dominant function has one place to cut; a
/// flat one has none.
fn print_breakdown(stack: &str, short: &Figures, long: &Figures) {
    let steady = marginal(short, long).max(1.0);
    let rows = steady_by_function(short, long);
    let listed: f64 = rows.iter().map(|(_, n)| n).sum();
    println!();
    println!(
        "{stack}: own functions, instructions per datagram in the steady state, the application's \
         stream calls included ({steady:.0} outside the cipher in the entry points; all own \
         functions together: {listed:.0})"
    );
    for (name, n) in rows.iter().take(BREAKDOWN_ROWS) {
        println!(
            "{n:>8.0} {:>5.1}%  {}",
            100.0 * n / steady,
            short_name(name)
        );
    }
}

/// Per function of the stack's own: instructions per datagram the longer run added over the
/// shorter (the steady state), largest first; functions that added nothing are left out.
fn steady_by_function(short: &Figures, long: &Figures) -> Vec<(String, f64)> {
    let datagrams = long.datagrams.saturating_sub(short.datagrams).max(1) as f64;
    let mut rows: Vec<(String, f64)> = long
        .own
        .iter()
        .map(|(name, &n)| {
            let before = short.own.get(name).copied().unwrap_or(0);
            (name.clone(), n.saturating_sub(before) as f64 / datagrams)
        })
        .filter(|(_, n)| *n >= 0.5)
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

/// A function name without the generic parameters of its impl block, which make the
/// quinn-proto names several lines long: `<a::B<C> as d::E>::f` stays readable as
/// `<a::B as d::E>::f`.
fn short_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    let mut prev = ' ';
    for c in name.chars() {
        match c {
            // A `<` right after a path segment opens generic parameters; one at the start
            // or after a space opens a qualified path, which is kept.
            '<' if depth > 0 || prev.is_alphanumeric() || prev == '_' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
        prev = c;
    }
    out
}

/// Instructions per datagram outside the cipher that the longer run added over the shorter:
/// the per-datagram cost with the handshake, setup and teardown taken out, which both runs
/// share.
fn marginal(short: &Figures, long: &Figures) -> f64 {
    let outside = |f: &Figures| f.library.saturating_sub(f.cipher) as f64;
    let datagrams = long.datagrams.saturating_sub(short.datagrams).max(1) as f64;
    (outside(long) - outside(short)) / datagrams
}

fn measure(
    dir: &std::path::Path,
    stack: &str,
    entries: &[&str],
    crates: &[&str],
    mib: u64,
    suffix: &str,
) -> Result<Figures> {
    let profile = dir.join(format!("callgrind.{stack}{suffix}.out"));
    let out = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg("target/release/quic-bench")
        .args(["--only", stack, "--workload", "bulk", "--runs", "1"])
        .args(["--bulk-mib", &mib.to_string(), "--crypto-packets", "1"])
        .arg("--out")
        .arg(dir.join(format!("callgrind-{stack}{suffix}")))
        .output()
        .map_err(|e| format!("valgrind: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "quic-bench under callgrind failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // The per-run lines go to standard error, the table to standard output.
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let datagrams = datagram_count(&printed)
        .ok_or_else(|| format!("no datagram counts in quic-bench's output:\n{printed}"))?;
    let annotated = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(&profile)
        .output()
        .map_err(|e| format!("callgrind_annotate: {e}"))?;
    let text = String::from_utf8_lossy(&annotated.stdout);
    let library = entries.iter().map(|f| inclusive(&text, f)).sum();
    let cipher = CIPHER.iter().map(|f| inclusive(&text, f)).sum();
    let exclusive = Command::new("callgrind_annotate")
        .args(["--auto=no", "--threshold=100"])
        .arg(&profile)
        .output()
        .map_err(|e| format!("callgrind_annotate: {e}"))?;
    let own = own_by_function(&String::from_utf8_lossy(&exclusive.stdout), crates);
    Ok(Figures {
        datagrams,
        library,
        cipher,
        own,
    })
}

/// From callgrind_annotate's exclusive listing: the instructions each function whose name
/// mentions one of `crates` executed itself (the crate's own functions, and generic code
/// instantiated for its types), summed over the source files it has lines in (code inlined
/// into it from elsewhere counts as its own).
fn own_by_function(annotated: &str, crates: &[&str]) -> HashMap<String, u64> {
    let mut own = HashMap::new();
    for (count, name) in annotated.lines().filter_map(listing_line) {
        // Functions of the stack's own; the benchmark harness's are not.
        if crates.iter().any(|c| name.contains(c)) && !name.contains("quic_bench") {
            *own.entry(name.to_string()).or_insert(0) += count;
        }
    }
    own
}

/// Datagrams both ends sent, from the run line "... N datagrams up (X per send), M down ..."
/// (older runs print no "(X per send)").
fn datagram_count(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.contains(" datagrams up"))?;
    let mut up = None;
    let mut prev = "";
    for w in line.split_whitespace() {
        if w == "datagrams" && up.is_none() {
            up = Some(prev.parse::<u64>().ok()?);
        }
        if w == "down," {
            let down = prev.parse::<u64>().ok()?;
            return Some(up? + down);
        }
        prev = w;
    }
    None
}

/// The inclusive count callgrind_annotate gives `function` (0 when it is not listed).
fn inclusive(annotated: &str, function: &str) -> u64 {
    annotated
        .lines()
        .filter_map(listing_line)
        .find_map(|(count, name)| (name == function).then_some(count))
        .unwrap_or(0)
}

/// A function line of callgrind_annotate's listing, `1,234 (12.34%)  file:function [object]`
/// (the file may be `???`): its count and function name.
fn listing_line(l: &str) -> Option<(u64, &str)> {
    let (count, rest) = l.trim_start().split_once(' ')?;
    let count = count.replace(',', "").parse::<u64>().ok()?;
    let (_, name) = rest.split_once(':')?;
    Some((count, name.split(" [").next()?.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_datagram_counts_of_a_run_line() {
        let out = "ours bulk #1: 1124 MB/s, 0.95 CPU s/GiB, peak heap 4.1 MiB, 189068 \
                   datagrams up, 5918 down, 2.1 allocations per datagram\n";
        assert_eq!(datagram_count(out), Some(189_068 + 5_918));
        // The line as quic-bench prints it now, with the datagrams per send.
        let out = "quinn bulk #1: 8 MB/s, 129.02 CPU s/GiB, peak heap 4.3 MiB, 11816 datagrams up \
                   (7.9 per send), 377 down, 0.2 allocations per datagram, 36ms of timer waits \
                   skipped\n";
        assert_eq!(datagram_count(out), Some(11_816 + 377));
        assert_eq!(datagram_count("nothing here"), None);
    }

    #[test]
    fn own_counts_sum_a_function_s_files_and_leave_out_others() {
        let text = "1,000 (50.00%)  crates/quic-conn/src/conn/recv.rs:quic_conn::conn::recv::<impl quic_conn::conn::Connection>::handle_datagram [/x]\n\
                    300 (15.00%)  /rustc/abc/library/core/src/option.rs:quic_conn::conn::recv::<impl quic_conn::conn::Connection>::handle_datagram [/x]\n\
                    200 (10.00%)  ???:<quic_bench::ours::OurStack as quic_bench::stack::Stack>::read [/x]\n\
                    100 ( 5.00%)  ring/aes.S:ring_core_aes_encrypt [/x]\n\
                    1,277,842,697 (100.0%)  PROGRAM TOTALS\n";
        let own = own_by_function(text, OURS_CRATES);
        assert_eq!(own.len(), 1);
        assert_eq!(
            own.get("quic_conn::conn::recv::<impl quic_conn::conn::Connection>::handle_datagram"),
            Some(&1_300)
        );
        assert!(own_by_function(text, QUINN_CRATES).is_empty());
    }

    #[test]
    fn the_steady_state_per_function_is_what_the_longer_run_added() {
        let figures = |datagrams, own: &[(&str, u64)]| Figures {
            datagrams,
            library: 0,
            cipher: 0,
            own: own.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
        };
        let short = figures(100, &[("a", 5_000), ("b", 1_000), ("setup", 9_000)]);
        let long = figures(
            400,
            &[("a", 20_000), ("b", 4_000), ("setup", 9_000), ("c", 300)],
        );
        // 300 more datagrams: a added 15,000, b 3,000, c 300; setup nothing.
        let rows = steady_by_function(&short, &long);
        assert_eq!(
            rows,
            vec![("a".into(), 50.0), ("b".into(), 10.0), ("c".into(), 1.0)]
        );
    }

    #[test]
    fn short_names_drop_generic_parameters_but_keep_qualified_paths() {
        assert_eq!(
            short_name("quic_recovery::loss::PathRecovery<F>::on_ack_received::{{closure}}"),
            "quic_recovery::loss::PathRecovery::on_ack_received::{{closure}}"
        );
        assert_eq!(
            short_name("<quinn_proto::connection::Connection<alloc::vec::Vec<u8>> as core::fmt::Debug>::fmt"),
            "<quinn_proto::connection::Connection as core::fmt::Debug>::fmt"
        );
        assert_eq!(
            short_name(
                "quic_conn::conn::recv::<impl quic_conn::conn::Connection>::handle_datagram"
            ),
            "quic_conn::conn::recv::<impl quic_conn::conn::Connection>::handle_datagram"
        );
    }

    #[test]
    fn finds_a_function_s_inclusive_count_by_its_whole_name() {
        let text = "  1,234 (10.00%)  ???:quinn_proto::connection::Connection::poll [/x]\n\
                    5,678 (20.00%)  ???:quinn_proto::connection::Connection::poll_transmit [/x]\n";
        assert_eq!(
            inclusive(text, "quinn_proto::connection::Connection::poll_transmit"),
            5678
        );
        assert_eq!(
            inclusive(text, "quinn_proto::connection::Connection::poll"),
            1234
        );
        assert_eq!(inclusive(text, "missing"), 0);
    }
}
