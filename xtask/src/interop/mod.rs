//! `cargo xtask interop`: QUIC interop matrix between implementations that run as processes.
//!
//! Each implementation is a client program and a server program with one command line (the
//! contract in `interop/README.md`, shared with the QUIC interop runner). For every selected
//! test case and every (client, server) pair, the harness serves a generated directory of
//! files from the server on 127.0.0.1, lets the client download all of them, compares each
//! download byte for byte with its source and records pass / fail / unsupported (exit 127).
//! Everything lives under `target/interop/`: the Python venv with aioquic, the test CA and
//! server certificate, the served files, one directory per run with logs, keylogs and
//! qlogs, and `matrix.json`. `interop/expected.json` lists the cells that must pass.
//!
//! Implementations: `aioquic` (our Python programs `interop/aioquic_*.py` on the aioquic
//! library from PyPI) and `ours` (the `h3-server` / `h3-client` examples of quic-conn, shown
//! as "not built" while those examples do not exist). quinn runs in memory against our
//! stack rather than as a process: [`quinn_cells`] runs the `quinn-interop` binary
//! (`interop/quinn-mem`) once per cell, both directions, and checks its downloads the same
//! way.

use std::{
    fmt::Write as _,
    fs,
    net::UdpSocket,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{cargo, run, Result};

mod json;
mod matrix;
mod quinn;

use matrix::{check_expected, matrix_json, print_matrix, read_expected};
use quinn::{quinn_cells, quinn_pairs, quinn_program};

/// The aioquic release the Python peers are written against (installed from PyPI).
const AIOQUIC_REQUIREMENT: &str = "aioquic==1.7.2";
/// Where the harness keeps everything it makes.
const OUT_DIR: &str = "target/interop";
/// How long a server gets to open its UDP socket before the client starts anyway.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server gets to exit after SIGTERM before it is killed.
const SERVER_STOP_GRACE: Duration = Duration::from_secs(2);
/// Exit status of a client or server that does not implement the test case.
const EXIT_UNSUPPORTED: i32 = 127;
/// Implementation names, in matrix order.
const IMPLS: &[&str] = &["aioquic", "ours", "quinn"];

/// One test case of the QUIC interop runner as this harness runs it.
struct Case {
    /// The runner's name, passed to both programs in `TESTCASE`.
    name: &'static str,
    /// The files served, as (name, size in bytes).
    files: fn() -> Vec<(String, usize)>,
    /// Time allowed for the client to finish.
    timeout: Duration,
    /// Whether the URLs go on the client's command line (otherwise in `REQUESTS`).
    urls_as_args: bool,
}

impl Case {
    /// The ALPN the case runs with: HTTP/3 for `http3`, HTTP/0.9 (hq-interop) otherwise,
    /// as in the interop runner.
    fn alpn(&self) -> &'static str {
        if self.name == "http3" {
            "h3"
        } else {
            "hq-interop"
        }
    }
}

/// `count` files named `prefix-N` of the given sizes (cycled).
fn files(prefix: &str, count: usize, sizes: &[usize]) -> Vec<(String, usize)> {
    (0..count)
        .map(|i| (format!("{prefix}-{i}"), sizes[i % sizes.len()]))
        .collect()
}

/// Client time limit for cases with small files (aioquic needs about 1 s).
const SHORT: Duration = Duration::from_secs(20);
/// Client time limit for transfer, multiplexing and keyupdate (aioquic needs 2 to 7 s).
const LONG: Duration = Duration::from_secs(60);
/// One mebibyte.
const MIB: usize = 1 << 20;

/// The test cases, in matrix order. retry, resumption, zerortt, keyupdate, v2, ecn and
/// connectionmigration run too: an implementation that lacks one answers 127 and its cell
/// shows "unsupported".
const CASES: &[Case] = &[
    Case {
        name: "handshake",
        files: || files("hs", 3, &[1024, 5 * 1024, 10 * 1024]),
        timeout: SHORT,
        urls_as_args: true,
    },
    Case {
        name: "transfer",
        files: || files("transfer", 3, &[2 * MIB, 3 * MIB, 5 * MIB]),
        timeout: LONG,
        urls_as_args: false,
    },
    Case {
        name: "multiplexing",
        files: || {
            // 1,200 small files of assorted sizes, more than one stream-limit window.
            (0..1200)
                .map(|i| (format!("mux-{i:04}"), 32 + (i * 37) % 2000))
                .collect()
        },
        timeout: LONG,
        urls_as_args: false,
    },
    Case {
        name: "http3",
        files: || files("h3", 3, &[3000, 20_000, 100_000]),
        timeout: SHORT,
        urls_as_args: true,
    },
    Case {
        name: "chacha20",
        files: || files("chacha", 3, &[1500, 15_000, 150_000]),
        timeout: SHORT,
        urls_as_args: false,
    },
    Case {
        name: "retry",
        files: || files("retry", 2, &[4000, 40_000]),
        timeout: SHORT,
        urls_as_args: false,
    },
    Case {
        name: "resumption",
        files: || files("resume", 3, &[2000, 20_000, 50_000]),
        timeout: SHORT,
        urls_as_args: false,
    },
    Case {
        name: "zerortt",
        files: || files("zrtt", 5, &[500, 1000, 2000, 4000, 8000]),
        timeout: SHORT,
        urls_as_args: false,
    },
    Case {
        name: "keyupdate",
        files: || files("keyupdate", 1, &[3 * MIB]),
        timeout: LONG,
        urls_as_args: false,
    },
    Case {
        name: "v2",
        files: || files("v2", 2, &[5000, 50_000]),
        timeout: SHORT,
        urls_as_args: false,
    },
    Case {
        name: "ecn",
        files: || files("ecn", 3, &[5000, 50_000, 200_000]),
        timeout: SHORT,
        urls_as_args: false,
    },
    Case {
        // The runner's case: the server offers a preferred_address (RFC 9000 §9.6) that the
        // client moves to. On loopback our server's preferred address is another port.
        // quinn -> ours runs the active-migration variant (see interop/README.md).
        name: "connectionmigration",
        files: || files("migration", 2, &[MIB, 2 * MIB]),
        timeout: LONG,
        urls_as_args: false,
    },
];

/// What one cell of the matrix came to.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// Every file downloaded and identical to its source.
    Pass,
    /// Something went wrong; the text says what.
    Fail(String),
    /// The client or the server exited with 127: it does not implement the test case.
    Unsupported(String),
    /// The pair could not be run (an implementation is not built yet); the text says why.
    NotAvailable(String),
}

impl Outcome {
    /// The symbol shown in the table.
    fn symbol(&self) -> &'static str {
        match self {
            Outcome::Pass => "✓",
            Outcome::Fail(_) => "✗",
            Outcome::Unsupported(_) => "–",
            Outcome::NotAvailable(_) => "n/a",
        }
    }

    /// The name used in matrix.json.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "fail",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::NotAvailable(_) => "n/a",
        }
    }

    /// Why it failed, was unsupported or not available ("" for a pass).
    fn detail(&self) -> &str {
        match self {
            Outcome::Pass => "",
            Outcome::Fail(s) | Outcome::Unsupported(s) | Outcome::NotAvailable(s) => s,
        }
    }
}

/// One cell: a test case between one client and one server.
struct Cell {
    case: &'static str,
    client: &'static str,
    server: &'static str,
    outcome: Outcome,
    seconds: f64,
    /// The run's directory (logs, downloads, qlogs), when it ran.
    dir: Option<PathBuf>,
}

/// A check of a finished run's logs (server side): `Err` says what evidence is missing.
type EvidenceCheck = fn(case: &str, run_dir: &Path) -> std::result::Result<(), String>;

/// A program to start: its argv prefix and extra environment.
#[derive(Clone)]
struct Program {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    /// For a server whose logs we know how to read: checks that the test case really
    /// happened (Retry sent, session resumed, ...), whatever the client claims.
    evidence: Option<EvidenceCheck>,
}

impl Program {
    /// A `Command` for this program, before the per-run arguments.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// An implementation that runs as a client process and a server process.
struct ProcessImpl {
    name: &'static str,
    /// The client and server programs, or why they cannot run.
    programs: std::result::Result<(Program, Program), String>,
}

/// The command line: which cases and implementations to run.
struct Selection {
    cases: Vec<&'static Case>,
    clients: Vec<&'static str>,
    servers: Vec<&'static str>,
}

/// Parses a comma-separated `--flag` value against the known names; absent means all.
fn parse_list<T: Copy>(
    value: Option<&String>,
    flag: &str,
    all: &[T],
    name: impl Fn(&T) -> &str,
) -> Result<Vec<T>> {
    let Some(value) = value else {
        return Ok(all.to_vec());
    };
    let mut out = Vec::new();
    for want in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let found = all.iter().find(|x| name(x) == want).ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(&name).collect();
            format!("{flag}: unknown {want:?} (known: {})", known.join(", "))
        })?;
        out.push(*found);
    }
    if out.is_empty() {
        return Err(format!("{flag} needs at least one name"));
    }
    Ok(out)
}

/// The usage line of `cargo xtask interop`.
const USAGE: &str =
    "usage: cargo xtask interop [--cases a,b,...] [--client X,...] [--server Y,...]";

/// Parses `--cases`, `--client` and `--server`.
fn parse_args(args: &[String]) -> Result<Selection> {
    let mut cases = None;
    let mut clients = None;
    let mut servers = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--cases" => &mut cases,
            "--client" => &mut clients,
            "--server" => &mut servers,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        };
        *slot = Some(it.next().ok_or_else(|| format!("{flag} needs a value"))?);
    }
    let all_cases: Vec<&'static Case> = CASES.iter().collect();
    Ok(Selection {
        cases: parse_list(cases, "--cases", &all_cases, |c| c.name)?,
        clients: parse_list(clients, "--client", IMPLS, |s| s)?,
        servers: parse_list(servers, "--server", IMPLS, |s| s)?,
    })
}

/// Runs the matrix: `cargo xtask interop [--cases ..] [--client ..] [--server ..]`.
pub fn interop(args: &[String]) -> Result {
    let started = Instant::now();
    let sel = parse_args(args)?;
    let out = PathBuf::from(OUT_DIR);
    mkdir(&out)?;

    // Process implementations are built only for the process pairs selected (quinn cells
    // need our stack as a library, not the UDP examples).
    let process = ["aioquic", "ours"];
    let wants = |name: &str| {
        let clients = sel.clients.iter().filter(|c| process.contains(c));
        let servers: Vec<&&str> = sel.servers.iter().filter(|s| process.contains(s)).collect();
        clients
            .flat_map(|c| servers.iter().map(move |s| (*c, **s)))
            .any(|(c, s)| c == name || s == name)
    };
    let mut impls = Vec::new();
    if wants("aioquic") {
        impls.push(ProcessImpl {
            name: "aioquic",
            programs: aioquic_programs(&out),
        });
    }
    if wants("ours") {
        impls.push(ProcessImpl {
            name: "ours",
            programs: our_programs(),
        });
    }
    // Certificates need a Python with `cryptography`: the aioquic venv has one.
    let certs = if impls.is_empty() {
        None
    } else {
        Some(certificates(&out, &impls)?)
    };
    let quinn = quinn_pairs(&sel).next().is_some().then(quinn_program);

    let mut cells = Vec::new();
    for case in &sel.cases {
        let www = make_www(&out, case)?;
        for client in &impls {
            if !sel.clients.contains(&client.name) {
                continue;
            }
            for server in &impls {
                if !sel.servers.contains(&server.name) {
                    continue;
                }
                let cell = match (&client.programs, &server.programs, &certs) {
                    (Ok((c, _)), Ok((_, s)), Some(certs)) => {
                        let dir = out
                            .join("runs")
                            .join(case.name)
                            .join(format!("{}-{}", client.name, server.name));
                        let t = Instant::now();
                        let outcome = run_cell(case, c, s, &www, certs, &dir);
                        Cell {
                            case: case.name,
                            client: client.name,
                            server: server.name,
                            outcome,
                            seconds: t.elapsed().as_secs_f64(),
                            dir: Some(dir),
                        }
                    }
                    (Err(why), _, _) | (_, Err(why), _) => Cell {
                        case: case.name,
                        client: client.name,
                        server: server.name,
                        outcome: Outcome::NotAvailable(why.clone()),
                        seconds: 0.0,
                        dir: None,
                    },
                    // Certificates exist whenever a process implementation was selected.
                    (Ok(_), Ok(_), None) => continue,
                };
                report_cell(&cell);
                cells.push(cell);
            }
        }
        if let Some(program) = &quinn {
            cells.extend(quinn_cells(case, &sel, program, &www, &out));
        }
    }

    print_matrix(&sel, &cells);
    let json_path = out.join("matrix.json");
    fs::write(&json_path, matrix_json(&cells))
        .map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    println!("matrix written to {}", json_path.display());

    let expected = read_expected(Path::new("interop/expected.json"))?;
    let result = check_expected(&sel, &cells, &expected);
    println!(
        "interop: {} cells in {:.1}s",
        cells.len(),
        started.elapsed().as_secs_f64()
    );
    result
}

/// Prints one line as each cell finishes (cells that could not run are listed at the end).
fn report_cell(cell: &Cell) {
    if let Outcome::NotAvailable(_) = cell.outcome {
        return;
    }
    let line = format!(
        "interop: {:<19} {:>7} -> {:<7} {:<4} {:5.1}s {}",
        cell.case,
        cell.client,
        cell.server,
        cell.outcome.symbol(),
        cell.seconds,
        cell.outcome.detail()
    );
    eprintln!("{}", line.trim_end());
}

/// Creates a directory and its parents.
fn mkdir(dir: &Path) -> Result {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Whether a command runs and exits 0, with its output discarded.
fn quietly_succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure aioquic is installed (a venv under `out`, or `pip --target` where venv is
/// missing) and returns the two Python programs.
fn aioquic_programs(out: &Path) -> std::result::Result<(Program, Program), String> {
    let python = install_aioquic(out)?;
    let script = |name: &str| {
        Path::new("interop")
            .join(name)
            .to_string_lossy()
            .into_owned()
    };
    let mut env = vec![("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned())];
    env.extend(
        python
            .pythonpath
            .iter()
            .map(|p| ("PYTHONPATH".to_owned(), p.clone())),
    );
    let program = |name: &str, evidence| Program {
        argv: vec![python.exe.clone(), script(name)],
        env: env.clone(),
        evidence,
    };
    Ok((
        program("aioquic_client.py", None),
        program("aioquic_server.py", Some(aioquic_server_evidence)),
    ))
}

/// A Python interpreter that can import aioquic.
struct Python {
    exe: String,
    /// Set when aioquic was installed with `pip --target` rather than into a venv.
    pythonpath: Option<String>,
}

/// Whether `python` (with `pythonpath`) imports the pinned aioquic.
fn has_aioquic(python: &str, pythonpath: Option<&str>) -> bool {
    let version = AIOQUIC_REQUIREMENT.trim_start_matches("aioquic==");
    let mut cmd = Command::new(python);
    cmd.args([
        "-c",
        &format!("import sys, aioquic; sys.exit(aioquic.__version__ != {version:?})"),
    ]);
    if let Some(p) = pythonpath {
        cmd.env("PYTHONPATH", p);
    }
    quietly_succeeds(&mut cmd)
}

/// Returns a Python that imports the pinned aioquic, installing it when needed.
fn install_aioquic(out: &Path) -> std::result::Result<Python, String> {
    let venv = out.join("venv");
    let venv_python = venv.join("bin").join("python");
    let venv_python_s = venv_python.to_string_lossy().into_owned();
    if has_aioquic(&venv_python_s, None) {
        return Ok(Python {
            exe: venv_python_s,
            pythonpath: None,
        });
    }
    let target = out.join("pylib");
    let target_s = std::path::absolute(&target)
        .unwrap_or(target)
        .to_string_lossy()
        .into_owned();
    let system_python = ["python3", "python"]
        .into_iter()
        .find(|p| quietly_succeeds(Command::new(p).arg("--version")))
        .ok_or("no python3 found: install Python 3 (with pip) to run the aioquic peers")?;
    if has_aioquic(system_python, Some(&target_s)) {
        return Ok(Python {
            exe: system_python.into(),
            pythonpath: Some(target_s),
        });
    }
    let pip_args = [
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        AIOQUIC_REQUIREMENT,
    ];
    // A venv first; Debian-like systems without python3-venv fall back to `pip --target`.
    let _ = fs::remove_dir_all(&venv);
    if run(Command::new(system_python).args(["-m", "venv"]).arg(&venv)).is_ok() {
        run(Command::new(&venv_python).args(pip_args))?;
        return Ok(Python {
            exe: venv_python_s,
            pythonpath: None,
        });
    }
    eprintln!("interop: no venv available; installing aioquic with pip --target instead");
    run(Command::new(system_python)
        .args(pip_args)
        .args(["--target", &target_s]))
    .map_err(|e| {
        format!(
            "{e}\ncannot install aioquic: {system_python} has neither a working venv nor pip \
             (on Debian: apt-get install python3-venv python3-pip)"
        )
    })?;
    Ok(Python {
        exe: system_python.into(),
        pythonpath: Some(target_s),
    })
}

/// Builds our h3 examples in release mode, or says why they are not there.
fn our_programs() -> std::result::Result<(Program, Program), String> {
    let examples = Path::new("crates/quic-conn/examples");
    let exists = |name: &str| {
        examples.join(format!("{name}.rs")).is_file()
            || examples.join(name).join("main.rs").is_file()
    };
    if !exists("h3-server") || !exists("h3-client") {
        return Err("not built: quic-conn has no h3-server / h3-client examples yet".into());
    }
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "quic-conn",
        "--example",
        "h3-server",
        "--example",
        "h3-client",
    ]))
    .map_err(|e| format!("not built: {e}"))?;
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let bin = |name: &str, evidence| Program {
        argv: vec![Path::new(&target)
            .join("release/examples")
            .join(name)
            .to_string_lossy()
            .into_owned()],
        env: Vec::new(),
        evidence,
    };
    Ok((
        bin("h3-client", None),
        bin("h3-server", Some(ours_server_evidence)),
    ))
}

/// The test PKI: `ca.pem` (trusted by clients), `cert.pem` (server chain) and `key.pem`.
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// Makes the test CA and server certificate once (with `interop/make_certs.py`).
fn certificates(out: &Path, impls: &[ProcessImpl]) -> Result<Certs> {
    let dir = out.join("certs");
    let certs = Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if certs.ca.is_file() && certs.cert.is_file() && certs.key.is_file() {
        return Ok(certs);
    }
    // Any Python with `cryptography` will do; the aioquic one has it.
    let python = match impls.iter().find(|i| i.name == "aioquic") {
        Some(ProcessImpl {
            programs: Ok((client, _)),
            ..
        }) => client.clone(),
        _ => {
            let out = PathBuf::from(OUT_DIR);
            aioquic_programs(&out)?.0
        }
    };
    let mut cmd = Command::new(&python.argv[0]);
    cmd.arg("interop/make_certs.py").arg(&dir);
    for (k, v) in &python.env {
        cmd.env(k, v);
    }
    run(&mut cmd)?;
    Ok(certs)
}

/// Deterministic, incompressible file content: xorshift64* seeded from the file name.
fn content(name: &str, len: usize) -> Vec<u8> {
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut x = seed | 1;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        data.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    data.truncate(len);
    data
}

/// Writes the case's files under `out/www/<case>` and returns the directory. A stamp file
/// with the file list's fingerprint lets later runs reuse them until the list changes.
fn make_www(out: &Path, case: &Case) -> Result<PathBuf> {
    let dir = out.join("www").join(case.name);
    let stamp = out.join("www").join(format!("{}.done", case.name));
    let files = (case.files)();
    let mut fingerprint = format!("content v1, {} files\n", files.len());
    for (name, size) in &files {
        let _ = writeln!(fingerprint, "{name} {size}");
    }
    if dir.is_dir() && fs::read_to_string(&stamp).is_ok_and(|s| s == fingerprint) {
        return Ok(dir);
    }
    let _ = fs::remove_dir_all(&dir);
    mkdir(&dir)?;
    for (name, size) in &files {
        let path = dir.join(name);
        fs::write(&path, content(name, *size))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    fs::write(&stamp, fingerprint).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(dir)
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> Result<u16> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("cannot bind UDP: {e}"))?;
    let port = sock.local_addr().map_err(|e| e.to_string())?.port();
    Ok(port)
}

/// Whether some socket is bound to UDP `port` (Linux: /proc/net/udp*); `None` if unknown.
fn udp_port_bound(port: u16) -> Option<bool> {
    let needle = format!(":{port:04X}");
    let mut known = false;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        known = true;
        let bound = text.lines().skip(1).any(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(&needle))
        });
        if bound {
            return Some(true);
        }
    }
    known.then_some(false)
}

/// A child process that is killed (and reaped) when dropped, so no run outlives the harness.
struct Guard(Child);

impl Guard {
    /// Waits until the process exits or `deadline` passes.
    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            match self.0.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => return None,
            }
        }
    }

    /// Asks the process to stop (SIGTERM), then kills it after `grace`.
    fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.0.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let status = self.wait_until(Instant::now() + grace);
        if status.is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
        status
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `cmd` with its output going to `log`.
fn spawn_logged(cmd: &mut Command, log: &Path) -> std::result::Result<Guard, String> {
    let file =
        fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let file2 = file.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null())
        .stdout(file)
        .stderr(file2)
        .spawn()
        .map(Guard)
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))
}

/// The last non-empty line of a log, for the failure message.
fn last_line(log: &Path) -> String {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(200).collect())
        .unwrap_or_default()
}

/// An exit status in words: "exit code N" or the signal.
fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}

/// Runs one test case between one client and one server and checks the downloads.
fn run_cell(
    case: &Case,
    client: &Program,
    server: &Program,
    www: &Path,
    certs: &Certs,
    dir: &Path,
) -> Outcome {
    let first = match try_run_cell(case, client, server, www, certs, dir) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Fail(e),
    };
    // Cells run real processes over UDP on a shared machine: a failure is run once more,
    // and both the failure and the second outcome are reported, so that a flaky cell is
    // visible without failing the build on one bad scheduling moment. The first run's
    // files are kept next to the second's.
    let Outcome::Fail(why) = first else {
        return first;
    };
    let kept = dir.with_extension("first-run");
    let _ = fs::remove_dir_all(&kept);
    let _ = fs::rename(dir, &kept);
    let second = match try_run_cell(case, client, server, www, certs, dir) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Fail(e),
    };
    let pair = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    println!(
        "interop: {} {pair} failed once ({why}; files in {}), second run: {}",
        case.name,
        kept.display(),
        second.label()
    );
    second
}

/// [`run_cell`] with `?`: an `Err` is a failure of the harness for this cell (no port, cannot
/// spawn, ...), reported as a failed cell.
fn try_run_cell(
    case: &Case,
    client: &Program,
    server: &Program,
    www: &Path,
    certs: &Certs,
    dir: &Path,
) -> Result<Outcome> {
    let _ = fs::remove_dir_all(dir);
    let downloads = dir.join("downloads");
    mkdir(&downloads)?;
    let (server_log, client_log) = (dir.join("server.log"), dir.join("client.log"));
    let files = (case.files)();
    let port = free_port()?;

    let mut cmd = server.command();
    cmd.arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--cert")
        .arg(&certs.cert)
        .arg("--key")
        .arg(&certs.key)
        .arg("--www")
        .arg(www)
        .args(["--alpn", case.alpn()])
        .arg("--keylog")
        .arg(dir.join("keylog-server.txt"))
        .arg("--qlog-dir")
        .arg(dir.join("qlog-server"))
        .env("TESTCASE", case.name);
    if case.name == "retry" {
        cmd.arg("--retry");
    }
    let mut server_proc = spawn_logged(&mut cmd, &server_log)?;

    // Wait until the server has its socket (or has exited).
    let deadline = Instant::now() + SERVER_START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = server_proc.0.try_wait() {
            return Ok(if status.code() == Some(EXIT_UNSUPPORTED) {
                Outcome::Unsupported("server exit 127".into())
            } else {
                Outcome::Fail(format!(
                    "server exited at start ({}): {}",
                    describe(status),
                    last_line(&server_log)
                ))
            });
        }
        match udp_port_bound(port) {
            Some(true) => break,
            None => {
                thread::sleep(Duration::from_secs(1));
                break;
            }
            Some(false) if Instant::now() >= deadline => break,
            Some(false) => thread::sleep(Duration::from_millis(20)),
        }
    }

    let urls: Vec<String> = files
        .iter()
        .map(|(name, _)| format!("https://127.0.0.1:{port}/{name}"))
        .collect();
    let mut cmd = client.command();
    cmd.arg("--ca")
        .arg(&certs.ca)
        .arg("--downloads")
        .arg(&downloads)
        .args(["--alpn", case.alpn()])
        .arg("--keylog")
        .arg(dir.join("keylog-client.txt"))
        .arg("--qlog-dir")
        .arg(dir.join("qlog-client"))
        .env("TESTCASE", case.name);
    if case.urls_as_args {
        cmd.args(&urls);
    } else {
        cmd.env("REQUESTS", urls.join(" "));
    }
    let mut client_proc = spawn_logged(&mut cmd, &client_log)?;
    let client_status = client_proc.wait_until(Instant::now() + case.timeout);
    if client_status.is_none() {
        drop(client_proc);
    }
    // A server runs until it is stopped: one that is gone already has crashed.
    let server_crash = server_proc.0.try_wait().ok().flatten();
    let server_status = server_proc.stop(SERVER_STOP_GRACE);

    let Some(client_status) = client_status else {
        return Ok(Outcome::Fail(format!(
            "timeout: client still running after {}s",
            case.timeout.as_secs()
        )));
    };
    if client_status.code() == Some(EXIT_UNSUPPORTED) {
        return Ok(Outcome::Unsupported("client exit 127".into()));
    }
    if !client_status.success() {
        return Ok(Outcome::Fail(format!(
            "client {}: {}",
            describe(client_status),
            last_line(&client_log)
        )));
    }
    let (missing, differing) = compare_downloads(&downloads, &files);
    if missing + differing > 0 {
        return Ok(Outcome::Fail(format!(
            "client exited 0 but {missing} of {} files missing, {differing} differ",
            files.len()
        )));
    }
    // A server that died before we stopped it, or failed on SIGTERM, fails the cell even
    // if the client was happy. (A server killed by the SIGTERM itself is fine.)
    if let Some(status) = server_crash {
        return Ok(Outcome::Fail(format!(
            "server exited during the run ({}): {}",
            describe(status),
            last_line(&server_log)
        )));
    }
    if let Some(status) = server_status {
        if !status.success() && status.code().is_some() {
            return Ok(Outcome::Fail(format!(
                "server {} when stopped: {}",
                describe(status),
                last_line(&server_log)
            )));
        }
    }
    if let Some(check) = server.evidence {
        if let Err(missing) = check(case.name, dir) {
            return Ok(Outcome::Fail(missing));
        }
    }
    Ok(Outcome::Pass)
}

/// Counts downloads that are missing and that differ, byte for byte, from the content the
/// harness generated (not from the served copy, which could itself have been damaged).
fn compare_downloads(downloads: &Path, files: &[(String, usize)]) -> (usize, usize) {
    let (mut missing, mut differing) = (0, 0);
    for (name, size) in files {
        match fs::read(downloads.join(name)) {
            Ok(got) if got == content(name, *size) => {}
            Ok(_) => differing += 1,
            Err(_) => missing += 1,
        }
    }
    (missing, differing)
}

/// Evidence from aioquic_server.py's log ("handshake done" lines) and qlog that the test
/// case took place: a Retry, a resumed session, 0-RTT data, version 2, a key update
/// started by the client.
fn aioquic_server_evidence(case: &str, dir: &Path) -> std::result::Result<(), String> {
    let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let handshakes: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("aioquic_server: handshake done:"))
        .collect();
    let any = |needle: &str| handshakes.iter().any(|l| l.contains(needle));
    let qlog_has = |needle: &str| {
        fs::read_dir(dir.join("qlog-server"))
            .into_iter()
            .flatten()
            .filter_map(|e| fs::read_to_string(e.ok()?.path()).ok())
            .any(|text| text.contains(needle))
    };
    let missing = match case {
        "retry" if !any(" retry=True") => "the server validated no address with Retry",
        "resumption" if !any(" resumed=True") => "the server resumed no session",
        "zerortt" if !any(" early_data=True") => "the server accepted no 0-RTT",
        "zerortt" if !qlog_has("\"packet_type\": \"0RTT\"") => {
            "the server received no 0-RTT packet"
        }
        "v2" if !any(" version=0x6b3343cf") => "no connection used QUIC version 2",
        "keyupdate" if !qlog_has("\"trigger\": \"remote_update\"") => {
            "the server saw no key update from the client"
        }
        _ if handshakes.is_empty() => "the server completed no handshake",
        _ => return Ok(()),
    };
    Err(format!("{missing} (server evidence)"))
}

/// Evidence from h3-server's log that the test case took place. v2: a connection ended in
/// QUIC version 2 after starting in version 1 (compatible version negotiation, RFC 9368
/// §2.3). connectionmigration: a client's connection moved to the server's preferred
/// address and the server validated the client's address there (RFC 9000 §9.6.2).
fn ours_server_evidence(case: &str, dir: &Path) -> std::result::Result<(), String> {
    let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let switched = log.lines().any(|l| {
        l.starts_with("h3-server: handshake done:")
            && l.contains(" version=0x6b3343cf")
            && l.contains(" initial_version=0x00000001")
    });
    let on_preferred = log.lines().any(|l| {
        l.starts_with("h3-server: preferred address in use:") && l.ends_with(" path validated")
    });
    match case {
        "v2" if !switched => {
            Err("no connection moved from version 1 to version 2 (server evidence)".into())
        }
        "connectionmigration" if !on_preferred => Err(
            "no client moved to the preferred address with its path validated (server evidence)"
                .into(),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_expected_shape() {
        let v = json::parse(r#"{"a": [1, "x\n\u0041", true, null], "b": {}}"#).unwrap();
        let a = v.get("a").and_then(json::Value::as_array).unwrap();
        assert_eq!(a[1].as_str(), Some("x\nA"));
        assert_eq!(a[0], json::Value::Number(1.0));
        assert!(json::parse("[1,]").is_err());
        assert!(json::parse("{} x").is_err());
    }

    #[test]
    fn v2_evidence_needs_a_connection_moved_from_v1_to_v2() {
        let dir = std::env::temp_dir().join(format!("xtask-v2-evidence-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("server.log");
        let check = |text: &str| {
            fs::write(&log, text).unwrap();
            ours_server_evidence("v2", &dir)
        };
        let switched = "h3-server: handshake done: version=0x6b3343cf initial_version=0x00000001\n";
        assert!(check(switched).is_ok());
        // v2 from the start, or staying in v1, is no compatible negotiation.
        let v2_only = "h3-server: handshake done: version=0x6b3343cf initial_version=0x6b3343cf\n";
        assert!(check(v2_only).is_err());
        let v1 = "h3-server: handshake done: version=0x00000001 initial_version=0x00000001\n";
        assert!(check(v1).is_err());
        // Other cases are not checked here.
        fs::write(&log, v1).unwrap();
        assert!(ours_server_evidence("handshake", &dir).is_ok());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn migration_evidence_needs_the_preferred_address_validated() {
        let dir = std::env::temp_dir().join(format!("xtask-cm-evidence-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("server.log");
        let check = |text: &str| {
            fs::write(&log, text).unwrap();
            ours_server_evidence("connectionmigration", &dir)
        };
        let hs = "h3-server: handshake done: version=0x00000001 initial_version=0x00000001\n";
        assert!(check(hs).is_err());
        let moved = "h3-server: preferred address in use: local=127.0.0.1:2 \
                     remote=127.0.0.1:3 path validated\n";
        assert!(check(&format!("{hs}{moved}")).is_ok());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn content_is_deterministic_and_sized() {
        assert_eq!(content("f", 1000), content("f", 1000));
        assert_ne!(content("f", 64), content("g", 64));
        assert_eq!(content("f", 13).len(), 13);
    }

    #[test]
    fn arguments_select_cases_and_implementations() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let sel = parse_args(&args("--cases v2,handshake --client ours")).unwrap();
        let names: Vec<&str> = sel.cases.iter().map(|c| c.name).collect();
        assert_eq!(names, ["v2", "handshake"]);
        assert_eq!(sel.clients, ["ours"]);
        assert_eq!(sel.servers, IMPLS);
        assert!(parse_args(&args("--cases nope")).is_err());
        assert!(parse_args(&args("--client")).is_err());
        assert!(parse_args(&args("--frobnicate x")).is_err());
    }

    #[test]
    fn every_case_serves_files_with_distinct_names() {
        for case in CASES {
            let files = (case.files)();
            let mut names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), files.len(), "{}", case.name);
        }
        let mux = CASES.iter().find(|c| c.name == "multiplexing").unwrap();
        assert!((mux.files)().len() >= 1000);
    }

    #[test]
    fn expected_file_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/expected.json");
        assert!(!read_expected(&root).unwrap().is_empty());
    }
}
