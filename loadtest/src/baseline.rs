//! The governor baseline: `check_key` on the sender of every send of the same stream.
//!
//! Each thread replays exactly the steps our worker of the same index ran (same seed,
//! same generator), calling `check_key` where we called `send` and skipping the calls
//! governor has no counterpart for (answers, capacity, diagnose). governor reads the
//! real clock, so its daily quota barely replenishes during the run: it answers the
//! same question ("may this key act now?") without our rules, windows or explanations.

use std::error::Error;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{Quota, RateLimiter};
use hdrhistogram::Histogram;
use indicatif::ProgressBar;

use crate::cli::RunArgs;
use crate::ops::{Generator, Population, Step};
use crate::stats::{histogram, merge};

/// What the baseline measured.
#[derive(Debug)]
pub struct BaselineRun {
    pub calls: u64,
    pub wall: Duration,
    pub allowed: u64,
    pub denied: u64,
    pub hist: Histogram<u64>,
}

type Keyed = governor::DefaultKeyedRateLimiter<u64>;

struct Counts {
    hist: Histogram<u64>,
    allowed: u64,
    denied: u64,
    end: Instant,
}

fn check(limiter: &Keyed, key: u64, c: &mut Counts) {
    let began = Instant::now();
    let ok = limiter.check_key(&key).is_ok();
    let took = began.elapsed();
    c.hist
        .saturating_record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1));
    if ok {
        c.allowed += 1;
    } else {
        c.denied += 1;
    }
}

pub fn governor(
    pop: &Population,
    args: &RunArgs,
    steps_per_thread: &[u64],
    bar: &ProgressBar,
) -> Result<BaselineRun, Box<dyn Error>> {
    let period = Duration::from_secs(86_400 / 30);
    let burst = NonZeroU32::new(30).ok_or("zero burst")?;
    let quota = Quota::with_period(period)
        .ok_or("zero replenish period")?
        .allow_burst(burst);
    let limiter: Keyed = RateLimiter::keyed(quota);
    // Warm, like the engine, whose members were all touched before the run.
    bar.set_length(pop.members);
    bar.set_message("warming every key");
    for key in 1..=pop.members {
        let _ = limiter.check_key(&key);
        if key.is_multiple_of(65_536) {
            bar.set_position(key);
        }
    }
    bar.set_message("same stream");
    let start = Instant::now();
    let limiter = &limiter;
    let results: Vec<Option<Counts>> = std::thread::scope(|s| {
        let handles: Vec<_> = steps_per_thread
            .iter()
            .enumerate()
            .map(|(thread, &steps)| {
                let builder = std::thread::Builder::new().name(format!("governor-{thread}"));
                builder.spawn_scoped(s, move || {
                    let mut gen =
                        Generator::new(pop, &args.mix, args.seed, thread as u64, args.spam_burst);
                    let mut c = Counts {
                        hist: histogram(3),
                        allowed: 0,
                        denied: 0,
                        end: start,
                    };
                    for _ in 0..steps {
                        match gen.next_step() {
                            Step::Send(spec) => check(limiter, spec.sender.0, &mut c),
                            Step::Burst { spammer, count, .. } => {
                                for _ in 0..count {
                                    check(limiter, spammer.0, &mut c);
                                }
                            }
                            _ => {}
                        }
                    }
                    c.end = Instant::now();
                    c
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.ok().and_then(|h| h.join().ok()))
            .collect()
    });
    let mut out = BaselineRun {
        calls: 0,
        wall: Duration::ZERO,
        allowed: 0,
        denied: 0,
        hist: histogram(3),
    };
    for c in results {
        let c = c.ok_or("a baseline thread could not start or panicked")?;
        merge(&mut out.hist, &c.hist);
        out.allowed += c.allowed;
        out.denied += c.denied;
        out.wall = out.wall.max(c.end.saturating_duration_since(start));
    }
    out.calls = out.allowed + out.denied;
    Ok(out)
}
