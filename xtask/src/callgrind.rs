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
//! Callgrind counts each iteration of a `rep movsb` copy as an instruction, so large copies
//! weigh more here than on hardware; both stacks copy stream data the same number of times.

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
}

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
    for (stack, entries) in [("quinn", QUINN_ENTRIES), ("ours", OURS_ENTRIES)] {
        eprintln!(
            "callgrind: {stack}, bulk {mib} MiB and {} MiB (a minute or two) ...",
            4 * mib
        );
        let short = measure(dir, stack, entries, mib, "")?;
        let long = measure(dir, stack, entries, 4 * mib, ".long")?;
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
    println!("profiles: target/bench/callgrind.{{quinn,ours}}{{,.long}}.out (callgrind_annotate)");
    Ok(())
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
    Ok(Figures {
        datagrams,
        library,
        cipher,
    })
}

/// Datagrams both ends sent, from the run line "... N datagrams up, M down ...".
fn datagram_count(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.contains(" datagrams up, "))?;
    let mut words = line.split_whitespace();
    let mut up = None;
    let mut prev = "";
    for w in words.by_ref() {
        if w == "datagrams" {
            up = prev.parse::<u64>().ok();
        }
        if w == "down," && up.is_some() {
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
        .find_map(|l| {
            let (count, rest) = l.trim_start().split_once(' ')?;
            let name = rest.split_once(":").map(|(_, n)| n)?;
            let name = name.split(" [").next()?.trim();
            (name == function).then(|| count.replace(',', "").parse::<u64>().ok())?
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_datagram_counts_of_a_run_line() {
        let out = "ours bulk #1: 1124 MB/s, 0.95 CPU s/GiB, peak heap 4.1 MiB, 189068 \
                   datagrams up, 5918 down, 2.1 allocations per datagram\n";
        assert_eq!(datagram_count(out), Some(189_068 + 5_918));
        assert_eq!(datagram_count("nothing here"), None);
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
