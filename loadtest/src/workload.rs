//! The `run` command: set up, drive the clock, run the workers, report.

use std::error::Error;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use invite_limiter::{Clock, ManualClock, Policy, SpamPolicy, Timestamp};

use crate::cli::{Baseline, RunArgs};
use crate::ops::Population;
use crate::populate::{prepare, Plan};
use crate::report::{self, BaselineReport, Config, Latency, MemoryReport, Report, RunSummary};
use crate::report::{SetupReport, SweeperReport};
use crate::stats::{Merged, ThreadStats};
use crate::worker::{work, Shared};

/// A progress bar on stderr; indicatif draws nothing when stderr is not a terminal.
pub fn progress_bar(show: bool, prefix: &'static str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>8} [{elapsed_precise}] [{bar:36}] {percent:>3}% {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix);
    bar
}

pub fn run(args: &RunArgs) -> Result<(), Box<dyn Error>> {
    let threads = match args.threads {
        Some(t) => usize::try_from(t)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let pending = args.pending.unwrap_or(args.members / 2);
    let recent = args.recent.unwrap_or(args.members / 10);
    let pop = Arc::new(Population::new(
        args.members,
        args.premium_share,
        args.zipf,
        args.spammer_share,
        args.seed,
    )?);
    let policy = if args.no_spam {
        Policy {
            spam: SpamPolicy::disabled(),
            ..Policy::default()
        }
    } else {
        Policy::default()
    };
    let show = !args.no_progress;
    let plan = Plan {
        pending,
        recent,
        shards: args.shards,
        threads,
        seed: args.seed,
    };
    let bar = progress_bar(show, "setup");
    let setup = prepare(&pop, policy, &plan, &bar)?;
    bar.finish_and_clear();

    let sweeper = setup
        .engine
        .start_sweeper(Duration::from_millis(args.sweep_every_ms));
    let start = Instant::now();
    let shared = Shared {
        engine: Arc::clone(&setup.engine),
        pop: Arc::clone(&pop),
        mix: args.mix.clone(),
        seed: args.seed,
        burst: args.spam_burst,
        start,
        interval: Duration::from_millis(args.interval_ms),
        stop: AtomicBool::new(false),
        remaining: args.ops.map(AtomicU64::new),
        done: AtomicU64::new(0),
        finished: AtomicU64::new(0),
    };
    let clock_stop = AtomicBool::new(false);
    let bar = progress_bar(show, "run");
    let joined: Result<Vec<Option<ThreadStats>>, String> = std::thread::scope(|s| {
        let clock = setup.clock.clone();
        let base = setup.start.as_millis();
        let factor = args.time_factor;
        let clock_stop = &clock_stop;
        let named = |name: String| std::thread::Builder::new().name(name);
        let driver = named("sim-clock".into()).spawn_scoped(s, move || {
            drive_clock(&clock, base, factor, start, clock_stop)
        });
        let shared = &shared;
        let mut handles = Vec::new();
        let mut failure = driver.err().map(|e| e.to_string());
        for (i, ids) in setup.pools.iter().cloned().enumerate() {
            if failure.is_some() {
                break;
            }
            match named(format!("worker-{i}")).spawn_scoped(s, move || work(shared, i as u64, ids))
            {
                Ok(h) => handles.push(h),
                Err(e) => failure = Some(e.to_string()),
            }
        }
        if failure.is_some() {
            shared.stop.store(true, Ordering::Relaxed);
        }
        watch(shared, args, handles.len() as u64, &bar);
        let out: Vec<Option<ThreadStats>> = handles.into_iter().map(|h| h.join().ok()).collect();
        clock_stop.store(true, Ordering::Relaxed);
        failure.map_or(Ok(out), Err)
    });
    bar.finish_and_clear();
    let sim_end = setup.clock.now().as_millis();
    let joined = joined.map_err(|e| format!("cannot start a thread: {e}"))?;
    let stats: Vec<ThreadStats> = joined
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or("a worker thread panicked")?;
    let merged = Merged::new(stats, start);
    let sweep = SweeperReport {
        interval_ms: args.sweep_every_ms,
        passes: sweeper.stats().passes(),
        expired: sweeper.stats().expired(),
    };
    drop(sweeper);
    let rss_end = crate::memory::rss_bytes(setup.memory.page_size);
    let member_records_end = setup.engine.member_records();
    let measured = report::measure(&merged, args.interval_ms);

    let baseline = match args.baseline {
        Some(Baseline::Governor) => {
            let bar = progress_bar(show, "governor");
            let b = crate::baseline::governor(&pop, args, &merged.steps_per_thread, &bar)?;
            bar.finish_and_clear();
            let latency = Latency::of(&b.hist);
            Some(BaselineReport {
                name: "governor 0.10 check_key (RateLimiter::keyed, DashMap, 30 per day)",
                calls: b.calls,
                wall_seconds: b.wall.as_secs_f64(),
                throughput_per_sec: b.calls as f64 / b.wall.as_secs_f64().max(1e-9),
                allowed: b.allowed,
                denied: b.denied,
                latency,
                ours: measured.sends,
                p99_ratio: measured.sends.p99_ns as f64 / latency.p99_ns.max(1) as f64,
            })
        }
        None => None,
    };

    let wall = merged.wall.as_secs_f64();
    let report = Report {
        tool: "invite-loadtest",
        version: env!("CARGO_PKG_VERSION"),
        config: Config {
            members: args.members,
            premium_share: args.premium_share,
            zipf: args.zipf,
            threads,
            duration_s: args.ops.is_none().then_some(args.duration),
            ops: args.ops,
            seed: args.seed,
            time_factor: args.time_factor,
            pending,
            recent,
            spammers: pop.spammers().len(),
            spam_burst: args.spam_burst,
            mix: mix_text(args),
            sweep_every_ms: args.sweep_every_ms,
            shards: args.shards,
            spam_signals: !args.no_spam,
            interval_ms: args.interval_ms,
        },
        setup: SetupReport {
            seconds: setup.seconds,
            catchup_sweep: setup.catchup.clone(),
        },
        run: RunSummary {
            wall_seconds: wall,
            sim_start_ms: setup.start.as_millis(),
            sim_end_ms: sim_end,
            simulated_hours: sim_end.saturating_sub(setup.start.as_millis()) as f64 / 3.6e6,
            calls: merged.calls,
            throughput_per_sec: merged.calls as f64 / wall.max(1e-9),
        },
        operations: measured.operations,
        all: measured.all,
        sends: measured.sends,
        decisions: measured.decisions,
        memory: MemoryReport {
            phases: setup.memory.clone(),
            rss_end,
            member_records_end,
        },
        sweeper: sweep,
        baseline,
        timeline: measured.timeline,
    };
    emit(&report, args)
}

fn mix_text(args: &RunArgs) -> String {
    let parts: Vec<String> = args
        .mix
        .weights
        .iter()
        .map(|(k, w)| format!("{}={w}", k.mix_name()))
        .collect();
    parts.join(",")
}

fn emit(report: &Report, args: &RunArgs) -> Result<(), Box<dyn Error>> {
    let text = crate::text::render(report);
    let json_to_stdout = args.json.as_deref() == Some(Path::new("-"));
    if json_to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    if let Some(path) = &args.json {
        let json = report.to_json()?;
        if json_to_stdout {
            println!("{json}");
        } else {
            std::fs::write(path, json + "\n")
                .map_err(|e| format!("cannot write the JSON report to {}: {e}", path.display()))?;
        }
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "invite-loadtest: {} members, {} threads, seed {}",
            args.members, report.config.threads, args.seed
        );
        let svg = crate::plot::svg(&report.timeline, &title);
        std::fs::write(path, svg)
            .map_err(|e| format!("cannot write the plot to {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Sets the simulated time to `base + real elapsed × factor` until told to stop.
fn drive_clock(clock: &ManualClock, base: u64, factor: f64, start: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let sim = (start.elapsed().as_secs_f64() * factor * 1e3) as u64;
        clock.set(Timestamp::from_millis(base.saturating_add(sim)));
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Updates the progress bar and ends a timed run; returns when every worker is done.
fn watch(shared: &Shared, args: &RunArgs, threads: u64, bar: &ProgressBar) {
    let timed = args.ops.is_none();
    let limit = Duration::from_secs_f64(args.duration);
    bar.set_length(if timed {
        limit.as_millis() as u64
    } else {
        args.ops.unwrap_or(0)
    });
    let mut last = (Instant::now(), 0u64);
    while shared.finished.load(Ordering::Acquire) < threads {
        std::thread::sleep(Duration::from_millis(50));
        let elapsed = shared.start.elapsed();
        let done = shared.done.load(Ordering::Relaxed);
        if timed && elapsed >= limit {
            shared.stop.store(true, Ordering::Relaxed);
        }
        let now = Instant::now();
        if now.duration_since(last.0) >= Duration::from_millis(500) {
            let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
            bar.set_message(format!("{} calls/s", crate::text::count(rate as u64)));
            last = (now, done);
        }
        bar.set_position(if timed {
            elapsed.min(limit).as_millis() as u64
        } else {
            done
        });
    }
}
