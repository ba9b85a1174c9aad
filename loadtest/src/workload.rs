//! The `run` command: set up, drive the clock, run the workers, report.

use std::error::Error;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use invite_limiter::{Clock, InviteId, Limiter, ManualClock, Policy, SpamPolicy, Timestamp};

use crate::cli::{Backend, Baseline, RunArgs};
use crate::ops::Population;
use crate::populate::{prepare, Plan};
use crate::report::{self, BackendReport, BaselineReport, Config, Latency, MemoryReport, Report};
use crate::report::{RunSummary, SetupReport, SweeperReport};
use crate::stats::{Merged, ThreadStats};
use crate::worker::{block_on, work, Shared};

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

/// The run's parameters once backend defaults are applied.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub members: u64,
    pub threads: usize,
    pub pending: u64,
    pub recent: u64,
    pub policy: Policy,
    pub spam_signals: bool,
}

/// Members by default: pre-populating the Redis engine costs a round trip per operation.
pub const MEMBERS_MEMORY: u64 = 1_000_000;
pub const MEMBERS_REDIS: u64 = 100_000;
/// Workers by default on Redis: tasks that mostly wait for replies.
pub const TASKS_REDIS: usize = 16;

pub fn resolve(args: &RunArgs) -> Result<Resolved, Box<dyn Error>> {
    let redis = args.backend.is_redis();
    if !redis && (args.connections != 1 || args.redis_prefix.is_some() || args.redis_keep) {
        return Err("--connections, --redis-prefix and --redis-keep need a Redis --backend".into());
    }
    let members = args
        .members
        .unwrap_or(if redis { MEMBERS_REDIS } else { MEMBERS_MEMORY });
    let threads = match args.threads {
        Some(t) => usize::try_from(t)?,
        None if redis => TASKS_REDIS,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    // Off by default on Redis, so its runs compare with the published ones; `--spam`
    // turns them on there too.
    let spam_signals = if redis { args.spam } else { !args.no_spam };
    let policy = if spam_signals {
        Policy::default()
    } else {
        Policy {
            spam: SpamPolicy::disabled(),
            ..Policy::default()
        }
    };
    Ok(Resolved {
        members,
        threads,
        pending: args.pending.unwrap_or(members / 2),
        recent: args.recent.unwrap_or(members / 10),
        policy,
        spam_signals,
    })
}

/// How the workers run.
pub enum Workers<'r> {
    /// One thread each, driving ready futures (the in-memory engine).
    Threads,
    /// One task each on this runtime.
    Tasks(&'r tokio::runtime::Runtime),
}

/// What a backend prepared: engines on a clock at the run's start, and invitation ids
/// dealt to the workers.
pub struct Prepared<L> {
    pub engines: Vec<Arc<L>>,
    pub clock: ManualClock,
    pub start: Timestamp,
    pub pools: Vec<Vec<InviteId>>,
}

/// What the workers measured.
pub struct Driven {
    pub merged: Merged,
    pub sim_end: u64,
}

/// Runs the workers on `prepared` while a thread drives the clock; returns when the
/// run is over.
pub fn drive<L: Limiter + 'static>(
    args: &RunArgs,
    pop: &Arc<Population>,
    prepared: Prepared<L>,
    workers: Workers<'_>,
) -> Result<Driven, Box<dyn Error>> {
    let show = !args.no_progress;
    let start = Instant::now();
    let shared = Arc::new(Shared {
        engines: prepared.engines,
        pop: Arc::clone(pop),
        mix: args.mix.clone(),
        seed: args.seed,
        burst: args.spam_burst,
        start,
        interval: Duration::from_millis(args.interval_ms),
        stop: AtomicBool::new(false),
        remaining: args.ops.map(AtomicU64::new),
        done: AtomicU64::new(0),
        finished: AtomicU64::new(0),
    });
    let clock_stop = Arc::new(AtomicBool::new(false));
    let bar = progress_bar(show, "run");
    let driver = {
        let (clock, stop) = (prepared.clock.clone(), Arc::clone(&clock_stop));
        let (base, factor) = (prepared.start.as_millis(), args.time_factor);
        std::thread::Builder::new()
            .name("sim-clock".into())
            .spawn(move || drive_clock(&clock, base, factor, start, &stop))
            .map_err(|e| format!("cannot start a thread: {e}"))?
    };
    let named = |name: String| std::thread::Builder::new().name(name);
    let mut threads = Vec::new();
    let mut tasks = Vec::new();
    let mut failure = None;
    for (i, ids) in prepared.pools.into_iter().enumerate() {
        let shared = Arc::clone(&shared);
        match workers {
            Workers::Threads => {
                match named(format!("worker-{i}"))
                    .spawn(move || block_on(work(&shared, i as u64, ids)))
                {
                    Ok(h) => threads.push(h),
                    Err(e) => {
                        failure = Some(e.to_string());
                        break;
                    }
                }
            }
            Workers::Tasks(rt) => {
                tasks.push(rt.spawn(async move { work(&shared, i as u64, ids).await }));
            }
        }
    }
    if failure.is_some() {
        shared.stop.store(true, Ordering::Relaxed);
    }
    watch(&shared, args, (threads.len() + tasks.len()) as u64, &bar);
    let mut out: Vec<Option<ThreadStats>> = threads.into_iter().map(|h| h.join().ok()).collect();
    if let Workers::Tasks(rt) = workers {
        out.extend(tasks.into_iter().map(|t| rt.block_on(t).ok()));
    }
    clock_stop.store(true, Ordering::Relaxed);
    let _ = driver.join();
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(format!("cannot start a thread: {e}").into());
    }
    let stats: Vec<ThreadStats> = out
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or("a worker panicked")?;
    Ok(Driven {
        merged: Merged::new(stats, start),
        sim_end: prepared.clock.now().as_millis(),
    })
}

pub fn run(args: &RunArgs) -> Result<(), Box<dyn Error>> {
    let r = resolve(args)?;
    let pop = Arc::new(Population::new(
        r.members,
        args.premium_share,
        args.zipf,
        args.spammer_share,
        args.seed,
    )?);
    match &args.backend {
        Backend::Memory => run_memory(args, &r, &pop),
        Backend::Redis(urls) => crate::redis_run::run(args, &r, &pop, urls),
    }
}

fn run_memory(args: &RunArgs, r: &Resolved, pop: &Arc<Population>) -> Result<(), Box<dyn Error>> {
    let show = !args.no_progress;
    let plan = Plan {
        pending: r.pending,
        recent: r.recent,
        shards: args.shards,
        threads: r.threads,
        seed: args.seed,
    };
    let bar = progress_bar(show, "setup");
    let setup = prepare(pop, r.policy.clone(), &plan, &bar)?;
    bar.finish_and_clear();

    let sweeper = setup
        .engine
        .start_sweeper(Duration::from_millis(args.sweep_every_ms));
    let prepared = Prepared {
        engines: vec![Arc::clone(&setup.engine)],
        clock: setup.clock.clone(),
        start: setup.start,
        pools: setup.pools.clone(),
    };
    let driven = drive(args, pop, prepared, Workers::Threads)?;
    let sweep = SweeperReport {
        interval_ms: args.sweep_every_ms,
        passes: sweeper.stats().passes(),
        expired: sweeper.stats().expired(),
    };
    drop(sweeper);
    let rss_end = crate::memory::rss_bytes(setup.memory.page_size);
    let memory = MemoryReport {
        phases: setup.memory.clone(),
        rss_end,
        member_records_end: setup.engine.member_records(),
    };
    let setup_report = SetupReport {
        seconds: setup.seconds,
        pending_invitations: setup.memory.pending_invitations,
        in_window_sends: setup.memory.in_window_sends,
        catchup_sweep: Some(setup.catchup.clone()),
    };
    let report = finish(
        args,
        r,
        pop,
        &driven,
        BackendReport {
            name: args.backend.describe(),
            connections: None,
            redis_prefix: None,
        },
        setup_report,
        Some(memory),
        Some(sweep),
        Vec::new(),
    )?;
    emit(&report, args)
}

/// Builds the report of a run from what was measured (and runs the baseline, if asked).
#[allow(clippy::too_many_arguments)]
pub fn finish(
    args: &RunArgs,
    r: &Resolved,
    pop: &Population,
    driven: &Driven,
    backend: BackendReport,
    setup: SetupReport,
    memory: Option<MemoryReport>,
    sweeper: Option<SweeperReport>,
    notes: Vec<String>,
) -> Result<Report, Box<dyn Error>> {
    let show = !args.no_progress;
    let merged = &driven.merged;
    let measured = report::measure(merged, args.interval_ms);
    let baseline = match args.baseline {
        Some(Baseline::Governor) => {
            let bar = progress_bar(show, "governor");
            let b = crate::baseline::governor(pop, args, &merged.steps_per_thread, &bar)?;
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
    let start_ms = crate::populate::RUN_START_MS;
    Ok(Report {
        tool: "invite-loadtest",
        version: env!("CARGO_PKG_VERSION"),
        config: Config {
            backend: backend.name,
            connections: backend.connections,
            redis_prefix: backend.redis_prefix,
            members: r.members,
            premium_share: args.premium_share,
            zipf: args.zipf,
            threads: r.threads,
            duration_s: args.ops.is_none().then_some(args.duration),
            ops: args.ops,
            seed: args.seed,
            time_factor: args.time_factor,
            pending: r.pending,
            recent: r.recent,
            spammers: pop.spammers().len(),
            spam_burst: args.spam_burst,
            mix: mix_text(args),
            sweep_every_ms: args.sweep_every_ms,
            shards: args.shards,
            spam_signals: r.spam_signals,
            interval_ms: args.interval_ms,
        },
        setup,
        run: RunSummary {
            wall_seconds: wall,
            sim_start_ms: start_ms,
            sim_end_ms: driven.sim_end,
            simulated_hours: driven.sim_end.saturating_sub(start_ms) as f64 / 3.6e6,
            calls: merged.calls,
            throughput_per_sec: merged.calls as f64 / wall.max(1e-9),
        },
        operations: measured.operations,
        all: measured.all,
        sends: measured.sends,
        decisions: measured.decisions,
        memory,
        sweeper,
        baseline,
        notes,
        timeline: measured.timeline,
    })
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

pub fn emit(report: &Report, args: &RunArgs) -> Result<(), Box<dyn Error>> {
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
            "invite-loadtest on {}: {} members, {} workers, seed {}",
            report.config.backend, report.config.members, report.config.threads, args.seed
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
fn watch<L>(shared: &Shared<L>, args: &RunArgs, threads: u64, bar: &ProgressBar) {
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
