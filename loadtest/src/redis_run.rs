//! `run --backend redis://…`: the same workload on the Redis engine.
//!
//! Workers are tokio tasks spread over `--connections` engine instances (each its own
//! connection), the engine's clock is the run's simulated `ManualClock`, and every key
//! carries a prefix unique to the run, deleted at the end unless `--redis-keep`. The
//! engines decide with the Redis module where the server has it loaded, else with the
//! engine's Lua script (the engine's default, `ServerSide::Auto`); a note says which.

use std::error::Error;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::ProgressBar;
use invite_limiter::redis::{RedisEngine, RedisTarget};
use invite_limiter::{InviteId, InviteRequest, Limiter, ManualClock, MemberId, Tier, Timestamp};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use crate::cli::RunArgs;
use crate::ops::{mix64, Population};
use crate::populate::RUN_START_MS;
use crate::redis_util::{command_calls, delete_keys, delta, masters, used_memory};
use crate::report::{BackendReport, SetupReport};
use crate::workload::{drive, emit, finish, progress_bar, Prepared, Resolved, Workers};

const DAY_MS: u64 = 86_400_000;
/// Pre-population calls in flight at one simulated instant.
const BATCH: usize = 512;

/// A tokio runtime with one worker thread per core.
pub fn runtime() -> Result<Runtime, Box<dyn Error>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .thread_name("redis-worker")
        .enable_all()
        .build()?)
}

/// A key prefix unique to this moment.
pub fn fresh_prefix(tag: &str) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{tag}-{ms}-{}", std::process::id())
}

/// `n` engine instances, each with its own connection.
pub async fn connect(
    urls: &str,
    n: u64,
    configure: impl Fn(invite_limiter::redis::RedisBuilder) -> invite_limiter::redis::RedisBuilder,
) -> Result<Vec<RedisEngine>, Box<dyn Error>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let builder = configure(RedisEngine::builder(RedisTarget::parse(urls)));
        out.push(builder.connect().await?);
    }
    Ok(out)
}

/// Runs `f(i, engine)` for every `i` in `from..to` concurrently, spreading the calls
/// over the engines (or connections); the first failure ends it.
pub async fn batch<E, T, F, Fut>(engines: &[E], from: u64, to: u64, f: F) -> Result<Vec<T>, String>
where
    E: Clone,
    T: Send + 'static,
    F: Fn(u64, E) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for i in from..to {
        let engine = engines[(i as usize) % engines.len()].clone();
        set.spawn(f(i, engine));
    }
    let mut out = Vec::with_capacity((to - from) as usize);
    while let Some(r) = set.join_next().await {
        out.push(r.map_err(|e| e.to_string())??);
    }
    Ok(out)
}

struct Populated {
    pools: Vec<Vec<InviteId>>,
    pending: u64,
    recent: u64,
}

/// Pre-populates like the in-memory run (same requests, in the same order), in batches
/// of concurrent calls at one simulated instant each: Premium tiers (Free is every
/// member's default, so Free members are not touched), pending invitations with ages
/// spanning the TTL, and sends in the last day declined at once.
async fn populate(
    engines: &[RedisEngine],
    clock: &ManualClock,
    pop: &Arc<Population>,
    r: &Resolved,
    seed: u64,
    bar: &ProgressBar,
) -> Result<Populated, String> {
    let ttl = u64::try_from(r.policy.pending_ttl.as_millis()).unwrap_or(u64::MAX);
    let origin = RUN_START_MS.saturating_sub(ttl);
    clock.set(Timestamp::from_millis(origin));
    bar.set_length(pop.members + r.pending + r.recent);

    bar.set_message("premium tiers");
    let step = BATCH as u64 * 8;
    let mut from = 1;
    while from <= pop.members {
        let to = (from + step).min(pop.members + 1);
        let p = Arc::clone(pop);
        batch(engines, from, to, move |id, e| {
            let p = Arc::clone(&p);
            async move {
                let m = MemberId(id);
                if !p.is_premium(m) {
                    return Ok(());
                }
                // A call may time out on a busy machine; the tier is idempotent.
                let mut last = String::new();
                for _ in 0..3 {
                    match e.set_tier(m, Tier::Premium).await {
                        Ok(()) => return Ok(()),
                        Err(o) => last = o.to_string(),
                    }
                }
                Err(format!("set_tier({id}): {last}"))
            }
        })
        .await?;
        bar.set_position(to - 1);
        from = to;
    }

    let mut rng = SmallRng::seed_from_u64(mix64(seed ^ 0x9E4D));
    bar.set_message("pending invitations");
    let span = RUN_START_MS.saturating_sub(DAY_MS).saturating_sub(origin);
    let mut ids = Vec::new();
    let mut i = 0;
    while i < r.pending {
        let end = (i + BATCH as u64).min(r.pending);
        let at = origin + (u128::from(span) * u128::from(i) / u128::from(r.pending)) as u64;
        clock.set(Timestamp::from_millis(at));
        let reqs: Vec<(MemberId, MemberId)> = (i..end)
            .map(|_| (pop.anyone(&mut rng), pop.anyone(&mut rng)))
            .collect();
        let reqs = Arc::new(reqs);
        let sent = batch(engines, i, end, move |j, e| {
            let (s, to) = reqs[(j - i) as usize];
            async move { Ok(e.send(InviteRequest::new(s, to)).await.ok().map(|s| s.id())) }
        })
        .await?;
        ids.extend(sent.into_iter().flatten());
        bar.set_position(pop.members + end);
        i = end;
    }

    bar.set_message("recent sends");
    let day_start = RUN_START_MS.saturating_sub(DAY_MS).max(origin);
    let mut recent = 0;
    let mut i = 0;
    while i < r.recent {
        let end = (i + BATCH as u64).min(r.recent);
        let at = day_start + (u128::from(DAY_MS) * u128::from(i) / u128::from(r.recent)) as u64;
        clock.set(Timestamp::from_millis(at.min(RUN_START_MS)));
        let reqs: Vec<(MemberId, MemberId)> = (i..end)
            .map(|_| (pop.anyone(&mut rng), pop.anyone(&mut rng)))
            .collect();
        let reqs = Arc::new(reqs);
        let done = batch(engines, i, end, move |j, e| {
            let (s, to) = reqs[(j - i) as usize];
            async move {
                Ok(match e.send(InviteRequest::new(s, to)).await {
                    Ok(sent) => Limiter::decline(&e, sent.id()).await.is_ok(),
                    Err(_) => false,
                })
            }
        })
        .await?;
        recent += done.into_iter().filter(|d| *d).count() as u64;
        bar.set_position(pop.members + r.pending + end);
        i = end;
    }
    clock.set(Timestamp::from_millis(RUN_START_MS));

    let pending = ids.len() as u64;
    let workers = r.threads.max(1);
    let mut pools: Vec<Vec<InviteId>> = vec![Vec::new(); workers];
    for (k, id) in ids.into_iter().enumerate() {
        pools[k % workers].push(id);
    }
    Ok(Populated {
        pools,
        pending,
        recent,
    })
}

pub fn run(
    args: &RunArgs,
    r: &Resolved,
    pop: &Arc<Population>,
    urls: &str,
) -> Result<(), Box<dyn Error>> {
    let show = !args.no_progress;
    let prefix = args
        .redis_prefix
        .clone()
        .unwrap_or_else(|| fresh_prefix("ilt"));
    let servers = masters(urls)?;
    let rt = runtime()?;
    let began = Instant::now();
    let clock = ManualClock::new(Timestamp::from_millis(RUN_START_MS));
    let engines = rt.block_on(connect(urls, args.connections, |b| {
        b.server_side(args.server_side.into())
            .policy(r.policy.clone())
            .clock(clock.clone())
            .prefix(prefix.clone())
            .deadline(std::time::Duration::from_millis(args.deadline_ms))
    }))?;
    let memory_before = used_memory(&servers).ok();
    let bar = progress_bar(show, "setup");
    let populated = rt.block_on(populate(&engines, &clock, pop, r, args.seed, &bar));
    bar.finish_and_clear();
    let populated = match populated {
        Ok(p) => p,
        Err(e) => {
            let _ = cleanup(args, &servers, &prefix);
            return Err(format!("pre-population failed: {e}").into());
        }
    };
    let memory_after = used_memory(&servers).ok();
    let setup = SetupReport {
        seconds: began.elapsed().as_secs_f64(),
        pending_invitations: populated.pending,
        in_window_sends: populated.recent,
        catchup_sweep: None,
    };

    let on_module = engines.iter().any(RedisEngine::uses_module);
    let calls_before = command_calls(&servers).ok();
    let prepared = Prepared {
        engines: engines.into_iter().map(Arc::new).collect(),
        clock,
        start: Timestamp::from_millis(RUN_START_MS),
        pools: populated.pools,
    };
    let driven = drive(args, pop, prepared, Workers::Tasks(&rt));
    let calls_after = command_calls(&servers).ok();
    let driven = match driven {
        Ok(d) => d,
        Err(e) => {
            let _ = cleanup(args, &servers, &prefix);
            return Err(e);
        }
    };

    let (path, calls) = if on_module {
        (
            "the Redis module (`IL.*` commands), found at connect",
            "module commands (`IL.*`)",
        )
    } else {
        (
            "the engine's Lua script",
            "scripts (EVALSHA/EVAL, one per round trip to a sender's slot)",
        )
    };
    let mut notes = vec![
        format!("decided by {path}"),
        "no background sweeper and no catch-up sweep: each script or module command \
         first releases what its member has due"
            .to_string(),
        "pre-population touches only Premium members (Free is the default of an unseen \
         member)"
            .to_string(),
    ];
    if !r.spam_signals {
        notes.push(
            "spam signals off (the default with Redis; --spam turns them on); `spam` steps \
             are bursts of one template note judged by every other rule"
                .to_string(),
        );
    }
    if let (Some(b), Some(a)) = (memory_before, memory_after) {
        notes.push(format!(
            "Redis used_memory {:+.1} MiB over the pre-population (all masters)",
            (a as f64 - b as f64) / 1048576.0
        ));
    }
    if let (Some(b), Some(a)) = (&calls_before, &calls_after) {
        let d = delta(b, a);
        let per = driven.merged.calls.max(1) as f64;
        notes.push(format!(
            "on the masters during the run, per engine call: {:.2} {calls} and {:.2} \
             commands in all, counting those the scripts call (INFO commandstats; any \
             other client counts too)",
            d.decision_calls() as f64 / per,
            d.commands as f64 / per,
        ));
    }
    match cleanup(args, &servers, &prefix) {
        Ok(Some(n)) => notes.push(format!("deleted the run's {n} keys (`{{{prefix}:*`)")),
        Ok(None) => notes.push(format!("kept the run's keys (`{{{prefix}:*`)")),
        Err(e) => notes.push(format!("could not delete the run's keys: {e}")),
    }
    drop(rt);
    let report = finish(
        args,
        r,
        pop,
        &driven,
        BackendReport {
            name: args.backend.describe(),
            connections: Some(args.connections),
            redis_prefix: Some(prefix),
        },
        setup,
        None,
        None,
        notes,
    )?;
    emit(&report, args)
}

fn cleanup(
    args: &RunArgs,
    servers: &[String],
    prefix: &str,
) -> Result<Option<u64>, Box<dyn Error>> {
    if args.redis_keep {
        return Ok(None);
    }
    delete_keys(servers, prefix).map(Some)
}
