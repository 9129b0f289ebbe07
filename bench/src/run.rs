//! Runs every workload on every stack, several times, and gathers the medians.

use std::time::Duration;

use crate::{
    crypto,
    report::{Ceiling, Metric, Report, StackColumn},
    stack::{Congestion, StackConfig, StackKind},
    tls::TlsMaterial,
    workloads,
};

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct Options {
    /// Small sizes and one run each: a smoke test.
    pub quick: bool,
    /// Runs of each long workload (bulk, bulk with loss); the median is reported.
    pub runs: usize,
    /// Runs of each short workload (handshakes, streams, idle memory, crypto).
    pub short_runs: usize,
    /// Bytes of each bulk transfer.
    pub bulk_bytes: u64,
    /// Percent of datagrams dropped in each direction in the lossy bulk run.
    pub loss_percent: f64,
    /// Sequential connections in the handshake workload.
    pub handshakes: u64,
    /// Streams in the streams workload.
    pub streams: u64,
    /// Connections held idle for the memory figure.
    pub idle_connections: u64,
    /// Packets sealed and opened per crypto-ceiling measurement.
    pub crypto_packets: u64,
    /// Seed of the loss generators and the endpoints' random numbers.
    pub seed: u64,
    /// Only stacks whose names are listed (all when empty).
    pub only: Vec<String>,
    /// Only the workloads listed, from [`WORKLOADS`] (all when empty).
    pub workloads: Vec<String>,
}

/// Names of the workloads, for [`Options::workloads`].
pub const WORKLOADS: &[&str] = &["bulk", "loss", "handshakes", "streams", "idle"];

impl Options {
    /// Whether workload `name` is selected.
    pub fn wants(&self, name: &str) -> bool {
        self.workloads.is_empty() || self.workloads.iter().any(|w| w == name)
    }
}

impl Options {
    /// The full benchmark as the work item defines it.
    pub fn full() -> Self {
        Self {
            quick: false,
            runs: 3,
            short_runs: 5,
            bulk_bytes: 256 << 20,
            loss_percent: 1.0,
            handshakes: 2_000,
            streams: 50_000,
            idle_connections: 1_000,
            crypto_packets: 200_000,
            seed: 0x5eed_0001,
            only: Vec::new(),
            workloads: Vec::new(),
        }
    }

    /// A fast smoke run with small sizes, for tests and CI.
    pub fn quick() -> Self {
        Self {
            quick: true,
            runs: 1,
            short_runs: 1,
            bulk_bytes: 4 << 20,
            handshakes: 20,
            streams: 200,
            idle_connections: 20,
            crypto_packets: 2_000,
            ..Self::full()
        }
    }
}

/// The protocol settings every stack gets (see each stack module for how it applies them).
pub fn stack_config(tls: &TlsMaterial, seed: u64) -> StackConfig {
    StackConfig {
        cert_der: tls.cert_der.clone(),
        key_der: tls.key_der.clone(),
        server_name: tls.server_name.clone(),
        max_udp_payload: 1452,
        stream_window: 4 << 20,
        connection_window: 8 << 20,
        send_window: 8 << 20,
        max_bidi_streams: 100,
        congestion: Congestion::Cubic,
        idle_timeout: Duration::from_secs(30),
        seed,
    }
}

/// The median of `values` (mean of the middle two for an even count); None when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Samples of every per-stack figure, in the order of [`METRICS`].
#[derive(Debug, Default, Clone)]
struct Samples {
    values: Vec<Vec<f64>>,
}

/// Figures reported for each stack: key, label, unit, whether higher is better.
///
/// Goodput is bytes over real elapsed time. The ceiling shares compare CPU time with CPU time:
/// bytes per CPU second of the run against the ceiling's bytes per CPU second, so load from
/// other processes on a shared machine cancels out of them.
pub const METRICS: &[(&str, &str, &str, bool)] = &[
    ("bulk_goodput", "bulk 1 stream, goodput", "MB/s", true),
    ("bulk_cpu", "bulk, CPU per GiB", "CPU s/GiB", false),
    (
        "bulk_ceiling",
        "bulk, share of crypto ceiling (CPU)",
        "%",
        true,
    ),
    ("loss_goodput", "bulk 1% loss, goodput", "MB/s", true),
    ("loss_cpu", "bulk 1% loss, CPU per GiB", "CPU s/GiB", false),
    (
        "loss_ceiling",
        "bulk 1% loss, share of ceiling (CPU)",
        "%",
        true,
    ),
    (
        "handshakes",
        "sequential handshakes + req/resp",
        "conn/s",
        true,
    ),
    ("streams", "1 KiB req/resp streams", "streams/s", true),
    ("idle_heap", "heap per idle connection", "bytes", false),
    ("bulk_peak_heap", "peak heap during bulk", "MiB", false),
];

const BULK_GOODPUT: usize = 0;
const BULK_CPU: usize = 1;
const BULK_CEILING: usize = 2;
const LOSS_GOODPUT: usize = 3;
const LOSS_CPU: usize = 4;
const LOSS_CEILING: usize = 5;
const HANDSHAKES: usize = 6;
const STREAMS: usize = 7;
const IDLE_HEAP: usize = 8;
const PEAK_HEAP: usize = 9;

/// Runs the benchmark. `log` receives one line per finished run.
pub fn run(
    opts: &Options,
    stacks: &[StackKind],
    log: &mut dyn FnMut(&str),
) -> Result<Report, String> {
    let tls = TlsMaterial::generate("localhost")?;
    let config = stack_config(&tls, opts.seed);
    let stacks: Vec<StackKind> = stacks
        .iter()
        .filter(|k| opts.only.is_empty() || opts.only.iter().any(|n| n == k.name))
        .copied()
        .collect();

    // The crypto ceiling first: it is the same for every stack.
    let mut ns_1200 = Vec::new();
    let mut ns_1452 = Vec::new();
    for _ in 0..opts.short_runs {
        ns_1200.push(crypto::seal_open_ns(1200, opts.crypto_packets)?);
        ns_1452.push(crypto::seal_open_ns(1452, opts.crypto_packets)?);
    }
    let ceiling = Ceiling {
        ns_1200: median(&ns_1200).unwrap_or(f64::NAN),
        ns_1452: median(&ns_1452).unwrap_or(f64::NAN),
    };
    log(&format!(
        "crypto ceiling: {:.0} ns per 1200-byte packet, {:.0} ns per 1452-byte packet \
         ({:.0} MB/s of 1452-byte datagrams)",
        ceiling.ns_1200,
        ceiling.ns_1452,
        ceiling.mbps()
    ));

    // Which stacks can run at all.
    let mut available = Vec::new();
    for k in &stacks {
        available.push(match (k.make)(&config) {
            Ok(_) => Ok(()),
            Err(e) => {
                log(&format!("{}: skipped, {}", k.name, e.0));
                Err(e.0)
            }
        });
    }
    let mut samples: Vec<Samples> = stacks
        .iter()
        .map(|_| Samples {
            values: vec![Vec::new(); METRICS.len()],
        })
        .collect();
    let live: Vec<usize> = (0..stacks.len())
        .filter(|&i| available[i].is_ok())
        .collect();

    // Runs alternate between stacks so that a noisy moment hurts each about equally.
    for run in 0..opts.runs {
        for &i in live.iter().filter(|_| opts.wants("bulk")) {
            let k = &stacks[i];
            let b = workloads::bulk(k, &config, opts.bulk_bytes, 0.0, opts.seed)?;
            if !b.intact {
                return Err(format!("{}: bulk transfer arrived damaged", k.name));
            }
            let v = &mut samples[i].values;
            v[BULK_GOODPUT].push(b.goodput_mbps());
            v[BULK_CPU].push(b.cpu_s_per_gib());
            v[BULK_CEILING].push(100.0 * b.cpu_goodput_mbps() / ceiling.mbps());
            v[PEAK_HEAP].push(b.peak_heap as f64 / f64::from(1u32 << 20));
            log(&format!(
                "{} bulk #{}: {:.0} MB/s, {:.2} CPU s/GiB, peak heap {:.1} MiB, {} datagrams up \
                 ({:.1} per send), {} down, {:.1} allocations per datagram, {:?} of timer waits \
                 skipped",
                k.name,
                run + 1,
                b.goodput_mbps(),
                b.cpu_s_per_gib(),
                b.peak_heap as f64 / f64::from(1u32 << 20),
                b.datagrams_up,
                b.datagrams_up as f64 / b.sends_up.max(1) as f64,
                b.datagrams_down,
                b.allocations as f64 / (b.datagrams_up + b.datagrams_down).max(1) as f64,
                b.skipped
            ));
        }
        for &i in live.iter().filter(|_| opts.wants("loss")) {
            let k = &stacks[i];
            let b = workloads::bulk(k, &config, opts.bulk_bytes, opts.loss_percent, opts.seed)?;
            if !b.intact {
                return Err(format!("{}: lossy bulk transfer arrived damaged", k.name));
            }
            let v = &mut samples[i].values;
            v[LOSS_GOODPUT].push(b.goodput_mbps());
            v[LOSS_CPU].push(b.cpu_s_per_gib());
            v[LOSS_CEILING].push(100.0 * b.cpu_goodput_mbps() / ceiling.mbps());
            log(&format!(
                "{} bulk {}% loss #{}: {:.0} MB/s, {:.2} CPU s/GiB, dropped {}/{} up, {}/{} down, \
                 {:?} of timer waits skipped",
                k.name,
                opts.loss_percent,
                run + 1,
                b.goodput_mbps(),
                b.cpu_s_per_gib(),
                b.dropped_up,
                b.datagrams_up,
                b.dropped_down,
                b.datagrams_down,
                b.skipped
            ));
        }
    }
    for run in 0..opts.short_runs {
        for &i in &live {
            let k = &stacks[i];
            if opts.wants("handshakes") {
                let h = workloads::handshakes(k, &config, opts.handshakes)?;
                if !h.intact {
                    return Err(format!("{}: a request or response arrived damaged", k.name));
                }
                samples[i].values[HANDSHAKES].push(h.per_sec());
                log(&format!(
                    "{} handshakes #{}: {:.0} conn/s",
                    k.name,
                    run + 1,
                    h.per_sec()
                ));
            }
            if opts.wants("streams") {
                let s = workloads::streams(k, &config, opts.streams)?;
                if !s.intact || s.streams != opts.streams {
                    return Err(format!("{}: a stream arrived damaged", k.name));
                }
                samples[i].values[STREAMS].push(s.per_sec());
                log(&format!(
                    "{} streams #{}: {:.0} streams/s",
                    k.name,
                    run + 1,
                    s.per_sec()
                ));
            }
            if opts.wants("idle") {
                let m = workloads::idle_memory(k, &config, opts.idle_connections)?;
                samples[i].values[IDLE_HEAP].push(m.bytes_per_connection);
                log(&format!(
                    "{} idle #{}: {:.0} heap bytes per connection ({} connections)",
                    k.name,
                    run + 1,
                    m.bytes_per_connection,
                    m.connections
                ));
            }
        }
    }

    let columns = stacks
        .iter()
        .zip(available)
        .map(|(k, a)| StackColumn {
            name: k.name.to_owned(),
            description: k.description.to_owned(),
            unavailable: a.err(),
        })
        .collect();
    let metrics = METRICS
        .iter()
        .enumerate()
        .map(|(m, &(key, label, unit, higher_is_better))| Metric {
            key: key.to_owned(),
            label: label.to_owned(),
            unit: unit.to_owned(),
            higher_is_better,
            samples: samples.iter().map(|s| s.values[m].clone()).collect(),
        })
        .collect();
    Ok(Report {
        quick: opts.quick,
        settings: settings(opts, &config),
        stacks: columns,
        metrics,
        ceiling,
    })
}

fn settings(opts: &Options, c: &StackConfig) -> Vec<(String, String)> {
    let mut s: Vec<(&str, String)> = vec![
        ("mode", if opts.quick { "quick" } else { "full" }.into()),
        ("runs (bulk)", opts.runs.to_string()),
        ("runs (short workloads)", opts.short_runs.to_string()),
        ("bulk bytes", opts.bulk_bytes.to_string()),
        ("loss percent", opts.loss_percent.to_string()),
        ("loss seed", opts.seed.to_string()),
        (
            "workloads",
            if opts.workloads.is_empty() {
                WORKLOADS.join(",")
            } else {
                opts.workloads.join(",")
            },
        ),
        ("handshakes", opts.handshakes.to_string()),
        ("streams", opts.streams.to_string()),
        ("idle connections", opts.idle_connections.to_string()),
        (
            "crypto packets per measurement",
            opts.crypto_packets.to_string(),
        ),
        ("max UDP payload / MTU", c.max_udp_payload.to_string()),
        (
            "datagrams per round, per end",
            crate::driver::BATCH.to_string(),
        ),
        (
            "datagrams per send (GSO)",
            crate::driver::GSO_SEGMENTS.to_string(),
        ),
        ("receive buffer (bytes)", crate::driver::ARENA.to_string()),
        ("stream window", c.stream_window.to_string()),
        ("connection window", c.connection_window.to_string()),
        ("send window", c.send_window.to_string()),
        ("max bidi streams", c.max_bidi_streams.to_string()),
        ("idle timeout (s)", c.idle_timeout.as_secs().to_string()),
        (
            "TLS",
            "TLS 1.3, AES-128-GCM, X25519, ECDSA P-256 cert, full handshakes".into(),
        ),
        ("congestion control", format!("{:?}", c.congestion)),
    ];
    s.push((
        "cores",
        std::thread::available_parallelism()
            .map_or(0, |n| n.get())
            .to_string(),
    ));
    s.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}
