//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Every command installs what it needs (rustup targets, cargo-fuzz) so that a fresh machine
//! with only a Rust toolchain can run it.

use std::{
    env,
    path::{Path, PathBuf},
    process::{exit, Command, Stdio},
    time::Instant,
};

mod callgrind;
mod interop;

/// Library crates: checked for no_std and documented.
const LIB_CRATES: &[&str] = &[
    "quic-wire",
    "quic-recovery",
    "quic-streams",
    "quic-sched",
    "quic-conn",
];
/// The bare-metal target the no_std build is checked on.
const NOSTD_TARGET: &str = "thumbv7em-none-eabihf";
/// Seconds each fuzz target runs for in `ci`.
const CI_FUZZ_SECS: u64 = 30;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci               everything CI checks: fmt, clippy, tests, rustdoc, no_std, interop, fuzz smoke run
  demo [ARGS]      the main job: our HTTP/3 server and client on loopback download a 64 MiB
                   file and 200 small ones, checked byte for byte, then print packet, frame,
                   byte and rate statistics per connection and stream, and the keylog path
                   (ARGS: --large-mib N, --small N)
  bench [ARGS]     side-by-side benchmark of our stack and quinn-proto (release build);
                   prints a table, writes target/bench/results.{json,svg}; ARGS go to
                   quic-bench (--quick for a smoke run, --help for the rest)
  bench --micro [ARGS]
                   the library crates' criterion benchmarks (ARGS go to criterion)
  bench --callgrind [--bulk-mib N]
                   instructions per datagram outside the cipher, both stacks, from
                   callgrind over the bulk workload, and the functions they go to
                   (needs valgrind)
  fuzz [--secs N]  build every fuzz target and run each for N seconds (default 60)
  interop [--cases a,b] [--client X] [--server Y]
                   interop matrix against aioquic (and quinn); see interop/README.md
  nostd            build every library crate for thumbv7em-none-eabihf without std
  sim              the QUIC interop runner's network scenarios (handshakeloss, transferloss,
                   blackhole, longrtt, amplificationlimit, rebind, migration, ipv6, goodput,
                   crosstraffic ...) in the deterministic simulator, with their figures
                   (also written to target/sim/scenarios.txt)
";

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = project_root();
    env::set_current_dir(&root).expect("cannot enter the project root");
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => parse_secs(&args[1..]).and_then(fuzz),
        Some("nostd") => nostd(),
        Some("sim") => sim(),
        Some("interop") => interop::interop(&args[1..]),
        _ => {
            eprint!("{USAGE}");
            exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        exit(1);
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the project root")
        .to_path_buf()
}

fn parse_secs(args: &[String]) -> Result<u64> {
    match args {
        [] => Ok(60),
        [flag, n] if flag == "--secs" => n
            .parse()
            .map_err(|_| format!("--secs takes a number, got {n}")),
        _ => Err("usage: cargo xtask fuzz [--secs N]".into()),
    }
}

/// Runs a command, echoing it, and fails when it fails.
fn run(cmd: &mut Command) -> Result {
    eprintln!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {}: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("failed ({status}): {}", show(cmd)))
    }
}

/// Runs a command, echoing its output as it comes, and returns the output's lines
/// (stdout and stderr interleaved by line).
fn run_tee(cmd: &mut Command) -> Result<Vec<String>> {
    use std::io::{BufRead, BufReader};
    eprintln!("$ {}", show(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", show(cmd)))?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(out)
                .lines()
                .map_while(std::result::Result::ok)
            {
                println!("{line}");
                let _ = tx.send(line);
            }
        }));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(err)
                .lines()
                .map_while(std::result::Result::ok)
            {
                eprintln!("{line}");
                let _ = tx.send(line);
            }
        }));
    }
    drop(tx);
    let lines: Vec<String> = rx.iter().collect();
    for r in readers {
        let _ = r.join();
    }
    let status = child.wait().map_err(|e| format!("{}: {e}", show(cmd)))?;
    if status.success() {
        Ok(lines)
    } else {
        Err(format!("failed ({status}): {}", show(cmd)))
    }
}

/// Runs a command with its output going to `log`; on failure prints the log's last lines.
fn run_logged(cmd: &mut Command, log: &Path) -> Result<String> {
    eprintln!("$ {} > {}", show(cmd), log.display());
    let file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let file2 = file.try_clone().map_err(|e| e.to_string())?;
    let status = cmd
        .stdout(file)
        .stderr(file2)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", show(cmd)))?;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    if status.success() {
        Ok(text)
    } else {
        let lines: Vec<&str> = text.lines().collect();
        for l in &lines[lines.len().saturating_sub(80)..] {
            eprintln!("{l}");
        }
        Err(format!(
            "failed ({status}): {} (log: {})",
            show(cmd),
            log.display()
        ))
    }
}

/// Whether a command runs and exits 0, quietly.
fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn step(name: &str, f: impl FnOnce() -> Result) -> Result {
    eprintln!("\n==> {name}");
    let t = Instant::now();
    f()?;
    eprintln!("==> {name}: ok ({:.1}s)", t.elapsed().as_secs_f64());
    Ok(())
}

fn ci() -> Result {
    let t = Instant::now();
    step("rustfmt", || {
        run(cargo().args(["fmt", "--all", "--", "--check"]))?;
        run(cargo().args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))
    })?;
    step("clippy", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))?;
        run(cargo().args([
            "clippy",
            "--workspace",
            "--lib",
            "--no-default-features",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    let mut passed = 0;
    step("tests", || {
        passed = tests()?;
        Ok(())
    })?;
    step("rustdoc", || {
        run(cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"))
    })?;
    step("no_std build", nostd)?;
    step("interop matrix (ours against aioquic and quinn)", || {
        interop::interop(&[])
    })?;
    step("fuzz smoke run", || fuzz(CI_FUZZ_SECS))?;
    eprintln!(
        "\nci: all steps passed in {:.0}s",
        t.elapsed().as_secs_f64()
    );
    // The plain closing line CI reads.
    println!("ci: {passed} passed, 0 failed");
    Ok(())
}

/// Runs the workspace tests and returns how many passed.
fn tests() -> Result<u64> {
    if succeeds(cargo().args(["nextest", "--version"])) {
        let out = run_tee(cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ]))?;
        // nextest does not run doctests.
        let doc = run_tee(cargo().args(["test", "--workspace", "--all-features", "--doc"]))?;
        Ok(nextest_passed(&out) + libtest_passed(&doc))
    } else {
        let out = run_tee(cargo().args(["test", "--workspace", "--all-features"]))?;
        Ok(libtest_passed(&out))
    }
}

/// The pass count from nextest's summary line ("... 300 tests run: 300 passed, ...").
fn nextest_passed(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter_map(|l| l.split("tests run: ").nth(1))
        .filter_map(|rest| rest.split(" passed").next()?.trim().parse::<u64>().ok())
        .sum()
}

/// The sum of libtest's "test result: ok. N passed; ..." lines.
fn libtest_passed(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter_map(|l| l.split("test result: ok. ").nth(1))
        .filter_map(|rest| rest.split(" passed").next()?.trim().parse::<u64>().ok())
        .sum()
}

/// The scenario names `net_runner` starts its figure lines with.
const SIM_SCENARIOS: &[&str] = &[
    "handshakeloss",
    "handshakecorruption",
    "transferloss",
    "transfercorruption",
    "blackhole",
    "longrtt",
    "amplificationlimit",
    "rebind-port",
    "rebind-addr",
    "connectionmigration",
    "ipv6",
    "goodput",
    "crosstraffic",
];

/// Runs the interop runner's scenarios in the simulator (the `net_runner` tests of
/// quic-conn, optimised) and prints each scenario's figure line.
fn sim() -> Result {
    let lines = run_tee(cargo().args([
        "test",
        "--release",
        "-p",
        "quic-conn",
        "--features",
        "sim",
        "--test",
        "net_runner",
        "--",
        "--nocapture",
        "--test-threads=1",
    ]))?;
    let figures: Vec<&String> = lines
        .iter()
        .filter(|l| SIM_SCENARIOS.iter().any(|s| l.starts_with(s)))
        .collect();
    let dir = Path::new("target/sim");
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text: String = figures.iter().map(|l| format!("{l}\n")).collect();
    let out = dir.join("scenarios.txt");
    std::fs::write(&out, &text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("\nscenarios (virtual time, fixed seeds; each transfer checked byte for byte):");
    print!("{text}");
    println!("written to {}", out.display());
    Ok(())
}

fn nostd() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == NOSTD_TARGET)
    {
        run(Command::new("rustup").args(["target", "add", NOSTD_TARGET]))?;
    }
    for krate in LIB_CRATES {
        run(cargo().args([
            "build",
            "-p",
            krate,
            "--no-default-features",
            "--target",
            NOSTD_TARGET,
        ]))?;
    }
    Ok(())
}

/// Lists the fuzz targets from `fuzz/fuzz_targets/*.rs`.
fn fuzz_targets() -> Result<Vec<String>> {
    let mut targets: Vec<String> = std::fs::read_dir("fuzz/fuzz_targets")
        .map_err(|e| format!("cannot list fuzz targets: {e}"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    targets.sort();
    Ok(targets)
}

/// A cargo invocation on nightly, or on stable with RUSTC_BOOTSTRAP=1 when no nightly exists.
fn nightly_cargo() -> Command {
    if succeeds(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        let mut c = Command::new("rustup");
        c.args(["run", "nightly", "cargo"]);
        c
    } else {
        eprintln!("xtask: no nightly toolchain; using RUSTC_BOOTSTRAP=1 on the default toolchain");
        let mut c = Command::new("cargo");
        c.env("RUSTC_BOOTSTRAP", "1");
        c
    }
}

fn ensure_cargo_fuzz() -> Result {
    if !succeeds(cargo().args(["fuzz", "--version"])) {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

fn fuzz(secs: u64) -> Result {
    ensure_cargo_fuzz()?;
    let targets = fuzz_targets()?;
    let log_dir = PathBuf::from("target/xtask/fuzz");
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
    run(nightly_cargo()
        .current_dir("fuzz")
        .args(["fuzz", "build", "-O"]))?;
    for t in &targets {
        let corpus = format!("fuzz/corpus/{t}");
        std::fs::create_dir_all(&corpus).map_err(|e| format!("cannot create {corpus}: {e}"))?;
        let seeds = format!("fuzz/seeds/{t}");
        let mut cmd = nightly_cargo();
        cmd.current_dir("fuzz")
            .args(["fuzz", "run", "-O", t, &format!("corpus/{t}")]);
        if Path::new(&seeds).is_dir() {
            cmd.arg(format!("seeds/{t}"));
        }
        cmd.args([
            "--",
            &format!("-max_total_time={secs}"),
            "-print_final_stats=1",
        ]);
        let log = log_dir.join(format!("{t}.log"));
        let out = run_logged(&mut cmd, &log)?;
        let done = out
            .lines()
            .find(|l| l.starts_with("Done "))
            .unwrap_or("finished");
        eprintln!("fuzz {t}: {done}, no crash");
    }
    Ok(())
}

/// `cargo xtask bench [ARGS]`: the side-by-side benchmark (our stack and quinn-proto in one
/// in-memory harness), release build, ARGS passed to `quic-bench` (`--quick`, `--runs N`, ...).
/// `cargo xtask bench --micro [ARGS]`: the library crates' criterion benchmarks instead, ARGS
/// passed to criterion.
fn bench(args: &[String]) -> Result {
    if let Some(("--micro", rest)) = args.split_first().map(|(f, r)| (f.as_str(), r)) {
        let mut cmd = cargo();
        cmd.args([
            "bench",
            "--workspace",
            "--exclude",
            "quic-bench",
            "--benches",
        ]);
        if !rest.is_empty() {
            cmd.arg("--").args(rest);
        }
        return run(&mut cmd);
    }
    if let Some(("--callgrind", rest)) = args.split_first().map(|(f, r)| (f.as_str(), r)) {
        return callgrind::callgrind(rest);
    }
    let mut cmd = cargo();
    cmd.args(["run", "--release", "-p", "quic-bench", "--"])
        .args(args);
    run(&mut cmd)
}

/// `cargo xtask demo [ARGS]`: our HTTP/3 server and client on loopback download a large
/// file and many small ones, checked byte for byte, then print connection and stream
/// statistics (release build; ARGS go to the example: `--large-mib N`, `--small N`).
fn demo(args: &[String]) -> Result {
    run(cargo()
        .args([
            "run",
            "--release",
            "-p",
            "quic-conn",
            "--features",
            "qlog",
            "--example",
            "demo",
            "--",
        ])
        .args(args))
}
