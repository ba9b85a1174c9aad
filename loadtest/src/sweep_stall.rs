//! `sweep-stall`: what a sweep of many due invitations does to the latency of the
//! sends around it. The engine is filled with `--due` invitations that all fall due
//! at one instant; sends by other members are timed first with nothing to sweep, then
//! while one thread sweeps everything due, on the same engine and the same clock.

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use invite_limiter::{Engine, InviteRequest, ManualClock, MemberId, Policy, SpamPolicy, Timestamp};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::cli::SweepStallArgs;
use crate::stats::histogram;

const T0: u64 = 1_700_000_000_000;

/// Send latency in one phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub sends: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

impl Phase {
    fn of(h: &Histogram<u64>) -> Self {
        Phase {
            sends: h.len(),
            p50_ns: h.value_at_quantile(0.50),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
        }
    }
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct StallReport {
    pub due_invitations: u64,
    pub senders_with_due: u64,
    pub expired_by_sweep: u64,
    pub sweep_seconds: f64,
    pub sweep_ns_per_invitation: f64,
    pub without_sweep: Phase,
    pub during_sweep: Phase,
    pub p99_ratio: f64,
}

/// Sends by members who have nothing due, timed one by one until `stop`.
fn timed_sends(
    engine: &Engine,
    seed: u64,
    first: u64,
    stop: &AtomicBool,
    min: Duration,
) -> Histogram<u64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut h = histogram(3);
    let began = Instant::now();
    // At least one send, however soon `stop` comes.
    loop {
        let s = first + rng.random_range(0..1_000_000u64);
        let r = first + 2_000_000 + rng.random_range(0..1_000_000u64);
        let t = Instant::now();
        let _ = std::hint::black_box(engine.send(InviteRequest::new(MemberId(s), MemberId(r))));
        h.saturating_record(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        if stop.load(Ordering::Acquire) && began.elapsed() >= min {
            return h;
        }
    }
}

pub fn run(args: &SweepStallArgs) -> Result<(), Box<dyn Error>> {
    let per_sender = 10u64;
    let senders = args.due.div_ceil(per_sender).max(1);
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    let policy = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    let ttl = policy.pending_ttl;
    let engine = Arc::new(
        Engine::builder()
            .policy(policy)
            .clock(clock.clone())
            .build()?,
    );
    let mut due = 0u64;
    for s in 1..=senders {
        for k in 0..per_sender {
            if due == args.due {
                break;
            }
            let r = senders + 1 + (s * per_sender + k);
            engine
                .send(InviteRequest::new(MemberId(s), MemberId(r)))
                .map_err(|d| format!("filling: {d}"))?;
            due += 1;
        }
    }
    // Everything falls due now; nothing has swept it yet.
    clock.set(Timestamp::from_millis(T0) + ttl);
    let first = 10 * senders + 10_000_000;
    let min = Duration::from_secs_f64(args.duration);

    let stop = AtomicBool::new(true);
    let without = timed_sends(&engine, args.seed, first, &stop, min);

    let stop = Arc::new(AtomicBool::new(false));
    let sweeper = {
        let engine = Arc::clone(&engine);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let began = Instant::now();
            let mut expired = 0u64;
            loop {
                let n = engine.sweep() as u64;
                expired += n;
                if n == 0 {
                    break;
                }
            }
            let secs = began.elapsed().as_secs_f64();
            stop.store(true, Ordering::Release);
            (expired, secs)
        })
    };
    // Timed while the sweep runs (at least a short while, however fast it is).
    let during = timed_sends(
        &engine,
        args.seed + 1,
        first + 5_000_000,
        &stop,
        Duration::ZERO,
    );
    let (expired, secs) = sweeper.join().map_err(|_| "the sweeper thread panicked")?;

    let report = StallReport {
        due_invitations: due,
        senders_with_due: senders,
        expired_by_sweep: expired,
        sweep_seconds: secs,
        sweep_ns_per_invitation: secs * 1e9 / expired.max(1) as f64,
        without_sweep: Phase::of(&without),
        during_sweep: Phase::of(&during),
        p99_ratio: during.value_at_quantile(0.99) as f64
            / without.value_at_quantile(0.99).max(1) as f64,
    };
    print(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}

fn print(r: &StallReport) {
    let us = |ns: u64| ns as f64 / 1000.0;
    println!(
        "sweep-stall: {} invitations of {} senders due at once; one thread sweeps them all \
         while another sends (spam signals off)",
        r.due_invitations, r.senders_with_due
    );
    println!(
        "sweep: {} expired in {:.3} s ({:.0} ns per invitation)",
        r.expired_by_sweep, r.sweep_seconds, r.sweep_ns_per_invitation
    );
    println!("  phase            sends      p50 µs   p99 µs  p99.9 µs   max µs");
    for (name, p) in [
        ("without sweep", &r.without_sweep),
        ("during sweep", &r.during_sweep),
    ] {
        println!(
            "  {:<14} {:>8} {:>10.2} {:>8.2} {:>9.2} {:>8.1}",
            name,
            p.sends,
            us(p.p50_ns),
            us(p.p99_ns),
            us(p.p999_ns),
            us(p.max_ns)
        );
    }
    println!("send p99 during the sweep / without: {:.2}x", r.p99_ratio);
}
