//! CPU time of the calling thread, for CPU seconds per GiB.
//!
//! The harness is single-threaded, so the thread's CPU time is the run's, both ends included.
//! It comes from the `cpu-time` crate (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)` on Unix), which
//! is exact to the nanosecond; `/proc/*/schedstat` is not, as the kernel only brings the running
//! task's total up to date at scheduler ticks. Where the clock is unavailable the reading is
//! `None` and the harness reports wall time instead.

use std::time::Duration;

/// CPU time this thread has used so far, if the platform tells.
pub fn thread_cpu_time() -> Option<Duration> {
    cpu_time::ThreadTime::try_now()
        .ok()
        .map(|t| t.as_duration())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_time_advances_with_work() {
        let Some(a) = super::thread_cpu_time() else {
            return;
        };
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let b = super::thread_cpu_time().unwrap();
        assert!(b > a, "{x}");
    }
}
