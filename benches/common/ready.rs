//! Time a thread spent ready to run but without a processor, from the scheduler's
//! own account (`/proc/thread-self/schedstat`, second field, in nanoseconds).
//!
//! On a shared 2-core machine, a second bench thread often waits its turn behind
//! other processes; wall time counts that wait as if the code under test had made
//! it, so a busy machine reads as contention. The harness subtracts it, for every
//! contender alike. Time a thread spends blocked on its own (parked on a lock, in a
//! system call) is not run-queue time: it stays in the figure.

use std::time::{Duration, Instant};

/// Set `SEND_BENCH_WALL=1` to time with the wall clock alone.
pub(crate) fn wall_only() -> bool {
    std::env::var_os("SEND_BENCH_WALL").is_some_and(|v| v == "1")
}

/// Nanoseconds the calling thread has waited on a run queue so far (0 where the
/// kernel does not say).
fn waited_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// A stopwatch for the calling thread: wall time less run-queue wait.
pub(crate) struct Stopwatch {
    start: Instant,
    waited: Option<u64>,
}

impl Stopwatch {
    pub(crate) fn start(wall_only: bool) -> Self {
        let waited = (!wall_only).then(waited_ns);
        Stopwatch {
            start: Instant::now(),
            waited,
        }
    }

    /// The time since `start`, less what the thread spent waiting for a processor.
    pub(crate) fn elapsed(&self) -> Duration {
        let wall = self.start.elapsed();
        let waited = self.waited.map_or(0, |w0| waited_ns().saturating_sub(w0));
        wall.saturating_sub(Duration::from_nanos(waited))
    }
}
