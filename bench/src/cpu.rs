//! CPU time of the calling thread, for CPU seconds per GiB.
//!
//! The harness is single-threaded, so the thread's CPU time is the run's. Linux exposes it in
//! nanoseconds in `/proc/thread-self/schedstat` (first field); elsewhere the reading is `None`
//! and the harness reports wall time instead.

use std::time::Duration;

/// CPU time this thread has used so far, if the platform tells.
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}
