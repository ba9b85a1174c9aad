//! `redis-bench`: on one Redis backend, in one run, the same sender stream through
//!
//! * (a) the Redis engine's `send` on its Lua script (default limits, spam signals off,
//!   allowed-heavy);
//! * (b) the sliding-window log users write themselves: one Lua script doing
//!   `ZREMRANGEBYSCORE` / `ZCARD` / `ZADD` on one sorted set per sender (daily window);
//! * (c) the in-memory `Engine`, replaying exactly the decisions (a) made per task;
//! * (d) the engine with `--over-share` of the senders already at their daily limit,
//!   with the near-cache off and on.
//! * (e) with `--wait-for-replicas N`, (a) again with every change confirmed by N
//!   replicas (`RedisBuilder::wait_for_replicas`).
//! * (f) when the server has the Redis module loaded (`module/`), its `IL.SEND` on
//!   plain connections (see `bench_module`; standalone servers only);
//! * (g) with the module loaded, `RedisEngine::send` deciding with it (standalone
//!   and cluster).
//!
//! The engine's cases (a), (d) and (e) run on its Lua script even where the server has
//! the module, which the engine would otherwise pick (see [`on_script`]).
//!
//! Then, on a standalone server, Redis memory per pending invitation and per in-window
//! send, the engine's scripts against the module (see `bench_memory`).
//!
//! Each case runs with every `--connections` count: one task per connection (one
//! engine instance per connection), or on the in-memory engine one thread per count.
//! Every case uses fresh keys (its own prefix), deleted after it.

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use invite_limiter::redis::{RedisBuilder, RedisEngine, ServerSide};
use invite_limiter::{Engine, InviteRequest, MemberId, Policy, SpamPolicy};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::bench_memory::MemoryReport;
use crate::cli::RedisBenchArgs;
use crate::ops::mix64;
use crate::redis_run::{batch, connect, fresh_prefix, runtime};
use crate::redis_util::{command_calls, delete_keys, delta, masters, CommandDelta};
use crate::stats::{histogram, merge};
use crate::text::{count, ns};

/// The sliding-window log as users write it: drop what left the window, count, add.
const SLIDING_LOG: &str = r"
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

const DAY_MS: u64 = 86_400_000;
const NEAR_TTL: Duration = Duration::from_secs(1);

/// Every engine's policy here: the default limits, spam signals off (the
/// hand-written script has none either).
pub(crate) fn policy() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

/// An engine deciding with its Lua script: the cases on `RedisEngine` measure the
/// script, also where the server has the module (case (f) measures the module).
pub(crate) fn on_script(b: RedisBuilder) -> RedisBuilder {
    b.server_side(ServerSide::Script)
}

/// The (sender, recipient) stream of one task: uniform over `1..=senders`, never a
/// self-invite; the same for every case.
pub(crate) struct Stream {
    rng: SmallRng,
    senders: u64,
}

impl Stream {
    pub(crate) fn new(seed: u64, task: u64, senders: u64) -> Self {
        Stream {
            rng: SmallRng::seed_from_u64(mix64(seed ^ mix64(task.wrapping_add(0xBE4C)))),
            senders,
        }
    }

    pub(crate) fn next_pair(&mut self) -> (MemberId, MemberId) {
        let s = self.rng.random_range(1..=self.senders);
        let mut r = self.rng.random_range(1..=self.senders);
        if r == s {
            r = s % self.senders + 1;
        }
        (MemberId(s), MemberId(r))
    }
}

/// What one task or thread measured.
pub(crate) struct TaskStats {
    hist: Histogram<u64>,
    allowed: u64,
    denied: u64,
    unavailable: u64,
}

impl TaskStats {
    pub(crate) fn new() -> Self {
        TaskStats {
            hist: histogram(3),
            allowed: 0,
            denied: 0,
            unavailable: 0,
        }
    }

    pub(crate) fn record(&mut self, took: Duration, answer: Answer) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.hist.saturating_record(ns);
        match answer {
            Answer::Allowed => self.allowed += 1,
            Answer::Denied => self.denied += 1,
            Answer::Unavailable => self.unavailable += 1,
        }
    }

    fn decisions(&self) -> u64 {
        self.allowed + self.denied + self.unavailable
    }
}

pub(crate) enum Answer {
    Allowed,
    Denied,
    Unavailable,
}

fn engine_answer(r: &Result<invite_limiter::Sent, invite_limiter::Denied>) -> Answer {
    match r {
        Ok(_) => Answer::Allowed,
        Err(d) if matches!(d.reason(), invite_limiter::DenyReason::Unavailable { .. }) => {
            Answer::Unavailable
        }
        Err(_) => Answer::Denied,
    }
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub case: &'static str,
    pub label: String,
    pub connections: u64,
    /// Concurrent callers: tasks on Redis, threads on the in-memory engine.
    pub callers: u64,
    pub decisions: u64,
    pub seconds: f64,
    pub per_sec: f64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub allowed: u64,
    pub denied: u64,
    pub unavailable: u64,
    /// Commands the masters ran during the case (`INFO commandstats`); `null` in memory.
    pub server: Option<CommandDelta>,
    /// Decisions that ran no script (nor `IL.*` command): answered without a round
    /// trip to the sender's slot.
    pub local_answers: Option<u64>,
    /// Server time per decision, in µs: that of the scripts or `IL.*` commands.
    pub server_us_per_decision: Option<f64>,
}

/// The near-cache comparison at one connection count.
#[derive(Debug, Clone, Serialize)]
pub struct NearSummary {
    pub connections: u64,
    pub over_limit_senders: u64,
    pub throughput_ratio: f64,
    pub scripts_per_1000_off: f64,
    pub scripts_per_1000_on: f64,
    /// Script round trips saved per 1000 decisions.
    pub saved_per_1000: f64,
    pub local_answers_on: u64,
    pub denied_on: u64,
    /// Mean seconds between two decisions of one over-limit sender on the engine
    /// (one instance, whose connections share its near-cache).
    pub over_sender_interval_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub tool: &'static str,
    pub version: &'static str,
    pub backend: String,
    pub masters: Vec<String>,
    pub started_at_utc: String,
    /// Every case comes from this one run, on the same sender stream.
    pub same_run: bool,
    pub duration_s: f64,
    pub senders: u64,
    pub over_share: f64,
    pub seed: u64,
    pub daily_limit: u32,
    pub cases: Vec<CaseResult>,
    pub near_cache: Vec<NearSummary>,
    /// Whether the module case (f) ran, or why not.
    pub module_case: String,
    /// Redis memory per pending invitation and per in-window send (standalone only).
    pub memory: Option<MemoryReport>,
}

pub(crate) fn finish_case(
    case: &'static str,
    label: String,
    connections: u64,
    stats: Vec<TaskStats>,
    seconds: f64,
    server: Option<CommandDelta>,
) -> CaseResult {
    let mut hist = histogram(3);
    let (mut allowed, mut denied, mut unavailable) = (0, 0, 0);
    let callers = stats.len() as u64;
    for s in stats {
        merge(&mut hist, &s.hist);
        allowed += s.allowed;
        denied += s.denied;
        unavailable += s.unavailable;
    }
    let decisions = allowed + denied + unavailable;
    let q = |x| {
        if hist.is_empty() {
            0
        } else {
            hist.value_at_quantile(x)
        }
    };
    CaseResult {
        case,
        label,
        connections,
        callers,
        decisions,
        seconds,
        per_sec: decisions as f64 / seconds.max(1e-9),
        p50_ns: q(0.5),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        allowed,
        denied,
        unavailable,
        server,
        local_answers: server.map(|d| decisions.saturating_sub(d.decision_calls())),
        server_us_per_decision: server.map(|d| d.decision_usec() as f64 / decisions.max(1) as f64),
    }
}

/// Runs one task per caller until `duration` has passed; the wall time of the case.
pub(crate) async fn timed<T, F, Fut>(callers: u64, duration: Duration, f: F) -> (Vec<T>, f64)
where
    T: Send + 'static,
    F: Fn(u64, Arc<AtomicBool>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|t| tokio::spawn(f(t, Arc::clone(&stop))))
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut out = Vec::new();
    for h in handles {
        if let Ok(s) = h.await {
            out.push(s);
        }
    }
    (out, began.elapsed().as_secs_f64())
}

/// The Redis engine's `send` on every task's stream.
async fn engine_sends(
    engines: &[RedisEngine],
    callers: u64,
    duration: Duration,
    seed: u64,
    senders: u64,
) -> (Vec<TaskStats>, f64) {
    let streams = (0..callers)
        .map(|t| Stream::new(seed, t, senders))
        .collect();
    let (out, secs) = engine_slice(engines, streams, duration).await;
    (out.into_iter().map(|(st, _)| st).collect(), secs)
}

/// The Redis engine's `send` for `duration`, task `t` going on with `streams[t]`;
/// hands the streams back so a later slice continues them.
async fn engine_slice(
    engines: &[RedisEngine],
    streams: Vec<Stream>,
    duration: Duration,
) -> (Vec<(TaskStats, Stream)>, f64) {
    let streams: Vec<std::sync::Mutex<Option<Stream>>> = streams
        .into_iter()
        .map(|s| std::sync::Mutex::new(Some(s)))
        .collect();
    let callers = streams.len() as u64;
    let (out, secs) = timed(callers, duration, |t, stop| {
        let engine = engines[(t as usize) % engines.len()].clone();
        let mut stream = streams[t as usize]
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .expect("one stream per task");
        async move {
            let mut st = TaskStats::new();
            while !stop.load(Ordering::Relaxed) {
                let (s, r) = stream.next_pair();
                let req = InviteRequest::new(s, r);
                let began = Instant::now();
                let res = engine.send(req).await;
                st.record(began.elapsed(), engine_answer(&res));
            }
            (st, stream)
        }
    })
    .await;
    (out, secs)
}

/// A plain connection of the kind the engine uses.
#[derive(Clone)]
pub(crate) enum Plain {
    Single(redis::aio::ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Plain {
    pub(crate) async fn open(urls: &str) -> Result<Plain, Box<dyn Error>> {
        let nodes: Vec<&str> = urls.split(',').collect();
        Ok(if nodes.len() == 1 {
            let client = redis::Client::open(nodes[0])?;
            Plain::Single(redis::aio::ConnectionManager::new(client).await?)
        } else {
            let client = redis::cluster::ClusterClient::new(nodes)?;
            Plain::Cluster(client.get_async_connection().await?)
        })
    }

    async fn invoke(&self, inv: redis::ScriptInvocation<'_>) -> redis::RedisResult<i64> {
        match self {
            Plain::Single(c) => inv.invoke_async(&mut c.clone()).await,
            Plain::Cluster(c) => inv.invoke_async(&mut c.clone()).await,
        }
    }

    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> redis::RedisResult<T> {
        match self {
            Plain::Single(c) => cmd.query_async(&mut c.clone()).await,
            Plain::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }
}

/// The sliding-window log on every task's stream.
async fn sliding_log(
    conns: &[Plain],
    prefix: &str,
    limit: u32,
    callers: u64,
    duration: Duration,
    seed: u64,
    senders: u64,
) -> (Vec<TaskStats>, f64) {
    let script = Arc::new(redis::Script::new(SLIDING_LOG));
    timed(callers, duration, |t, stop| {
        let conn = conns[(t as usize) % conns.len()].clone();
        let (script, prefix) = (Arc::clone(&script), prefix.to_string());
        async move {
            let mut st = TaskStats::new();
            let mut stream = Stream::new(seed, t, senders);
            let mut n: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                let (s, _r) = stream.next_pair();
                let key = format!("{{{prefix}:{}}}:sw", s.0);
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                n += 1;
                let mut inv = script.prepare_invoke();
                inv.key(key)
                    .arg(now)
                    .arg(DAY_MS)
                    .arg(limit)
                    .arg(format!("{now}-{t}-{n}"));
                let began = Instant::now();
                let res = conn.invoke(inv).await;
                let answer = match res {
                    Ok(1) => Answer::Allowed,
                    Ok(_) => Answer::Denied,
                    Err(_) => Answer::Unavailable,
                };
                st.record(began.elapsed(), answer);
            }
            st
        }
    })
    .await
}

/// The in-memory engine replaying, per thread, exactly the decisions the engine case
/// made per task; repeated on fresh engines until `duration` of calls is measured.
fn memory_replay(
    per_task: &[u64],
    duration: Duration,
    seed: u64,
    senders: u64,
) -> Result<(Vec<TaskStats>, f64), Box<dyn Error>> {
    let policy = policy();
    let mut total: Vec<TaskStats> = per_task.iter().map(|_| TaskStats::new()).collect();
    let mut seconds = 0.0;
    if per_task.iter().sum::<u64>() == 0 {
        return Ok((total, 0.0));
    }
    while seconds < duration.as_secs_f64() {
        let engine = Engine::builder().policy(policy.clone()).build()?;
        let engine = &engine;
        let began = Instant::now();
        let rep: Vec<Option<TaskStats>> = std::thread::scope(|s| {
            let handles: Vec<_> = per_task
                .iter()
                .enumerate()
                .map(|(t, &n)| {
                    s.spawn(move || {
                        let mut st = TaskStats::new();
                        let mut stream = Stream::new(seed, t as u64, senders);
                        for _ in 0..n {
                            let (s, r) = stream.next_pair();
                            let req = InviteRequest::new(s, r);
                            let began = Instant::now();
                            let res = engine.send(req);
                            st.record(began.elapsed(), engine_answer(&res));
                        }
                        st
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().ok()).collect()
        });
        seconds += began.elapsed().as_secs_f64();
        for (dst, src) in total.iter_mut().zip(rep) {
            let src = src.ok_or("an in-memory thread panicked")?;
            merge(&mut dst.hist, &src.hist);
            dst.allowed += src.allowed;
            dst.denied += src.denied;
            dst.unavailable += src.unavailable;
        }
    }
    Ok((total, seconds))
}

/// Brings senders `1..=over` to their daily limit; returns the sends allowed.
async fn prefill(
    engines: &[RedisEngine],
    over: u64,
    senders: u64,
    daily: u32,
) -> Result<u64, String> {
    let daily = u64::from(daily);
    let total = over * daily;
    let mut allowed = 0;
    let mut from = 0;
    while from < total {
        let to = (from + 512).min(total);
        let got = batch(engines, from, to, move |j, e| async move {
            let s = j / daily + 1;
            let mut r = (s - 1 + j % daily + 1) % senders + 1;
            if r == s {
                r = s % senders + 1;
            }
            Ok(e.send(InviteRequest::new(MemberId(s), MemberId(r)))
                .await
                .is_ok())
        })
        .await?;
        allowed += got.into_iter().filter(|a| *a).count() as u64;
        from = to;
    }
    Ok(allowed)
}

/// One side of the near-cache comparison.
struct Side {
    prefix: String,
    engines: Vec<RedisEngine>,
    /// Each task's stream, continued from slice to slice.
    streams: Option<Vec<Stream>>,
    stats: Vec<TaskStats>,
    secs: f64,
    /// `None` once a reading of the counters failed.
    server: Option<CommandDelta>,
}

pub(crate) struct Ctx<'a> {
    pub(crate) args: &'a RedisBenchArgs,
    pub(crate) rt: &'a Runtime,
    pub(crate) servers: &'a [String],
    pub(crate) duration: Duration,
    /// Whether the masters run the Redis module's `IL.*` commands (cases (f), (g)).
    pub(crate) module: bool,
    /// Whether the backend is a cluster (case (f) is skipped there).
    pub(crate) cluster: bool,
}

impl Ctx<'_> {
    pub(crate) fn counted<T>(&self, f: impl FnOnce() -> T) -> (T, Option<CommandDelta>) {
        let before = command_calls(self.servers).ok();
        let out = f();
        let after = command_calls(self.servers).ok();
        let d = match (before, after) {
            (Some(b), Some(a)) => Some(delta(&b, &a)),
            _ => None,
        };
        (out, d)
    }

    pub(crate) fn cleanup(&self, prefix: &str) {
        if !self.args.redis_keep {
            if let Err(e) = delete_keys(self.servers, prefix) {
                eprintln!("redis-bench: could not delete keys `{{{prefix}:*`: {e}");
            }
        }
    }

    /// `RedisEngine::send` at `n` connections, one engine each, on fresh keys under a
    /// prefix made from `names.0`: the bench's policy, the rest of the engine from
    /// `configure`. The row (named `names.1`) and each task's decisions.
    pub(crate) fn engine_case(
        &self,
        n: u64,
        names: (&str, &'static str),
        label: String,
        configure: impl Fn(RedisBuilder) -> RedisBuilder,
    ) -> Result<(CaseResult, Vec<u64>), Box<dyn Error>> {
        let a = &self.args;
        let prefix = fresh_prefix(names.0);
        let engines = self.rt.block_on(connect(&a.backend, n, |b| {
            configure(b).prefix(prefix.clone()).policy(policy())
        }))?;
        let ((stats, secs), server) = self.counted(|| {
            self.rt
                .block_on(engine_sends(&engines, n, self.duration, a.seed, a.senders))
        });
        drop(engines);
        self.cleanup(&prefix);
        let per_task = stats.iter().map(TaskStats::decisions).collect();
        let row = finish_case(names.1, label, n, stats, secs, server);
        Ok((row, per_task))
    }

    /// (a), (e), (b), (f) then (c) at `n` connections.
    fn trio(&self, n: u64, cases: &mut Vec<CaseResult>) -> Result<(), Box<dyn Error>> {
        let a = &self.args;
        let (row, per_task) = self.engine_case(
            n,
            ("ilb-send", "engine_send"),
            "(a) RedisEngine::send (Lua script)".into(),
            on_script,
        )?;
        cases.push(row);

        if let Some(replicas) = a.wait_for_replicas {
            let (row, _) = self.engine_case(
                n,
                ("ilb-strict", "engine_send_strict"),
                format!("(e) send, wait_for_replicas({replicas})"),
                |b| on_script(b).wait_for_replicas(replicas, Duration::from_secs(1)),
            )?;
            cases.push(row);
        }

        let prefix = fresh_prefix("ilb-log");
        let conns: Vec<Plain> = self.rt.block_on(async {
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(Plain::open(&a.backend).await?);
            }
            Ok::<_, Box<dyn Error>>(v)
        })?;
        let daily = Policy::default().free.daily;
        let ((stats, secs), server) = self.counted(|| {
            self.rt.block_on(sliding_log(
                &conns,
                &prefix,
                daily,
                n,
                self.duration,
                a.seed,
                a.senders,
            ))
        });
        drop(conns);
        self.cleanup(&prefix);
        cases.push(finish_case(
            "sliding_log",
            "(b) sliding-window log, Lua".into(),
            n,
            stats,
            secs,
            server,
        ));
        if self.module {
            if !self.cluster {
                cases.push(self.module_case(n)?);
            }
            cases.push(self.engine_module_case(n)?);
        }

        let (stats, secs) = memory_replay(&per_task, self.duration, a.seed, a.senders)?;
        cases.push(finish_case(
            "memory_engine",
            "(c) in-memory Engine (a)'s stream".into(),
            n,
            stats,
            secs,
            None,
        ));
        Ok(())
    }

    /// (d) at `n` connections: near-cache off and on, each on its own prefilled keys;
    /// with `--duration` of 6 s or more they alternate in slices of at least 3 s, so that
    /// both see the same load.
    fn near(&self, n: u64, cases: &mut Vec<CaseResult>) -> Result<NearSummary, Box<dyn Error>> {
        let a = &self.args;
        let daily = Policy::default().free.daily;
        let over = ((a.senders as f64) * a.over_share).round() as u64;
        let mut sides = Vec::new();
        for on in [false, true] {
            let prefix = fresh_prefix(if on { "ilb-near-on" } else { "ilb-near-off" });
            // One gateway: one engine whose `n` connections share its near-cache.
            let pool = usize::try_from(n).unwrap_or(usize::MAX);
            let one = self.rt.block_on(connect(&a.backend, 1, |b| {
                let b = on_script(b)
                    .prefix(prefix.clone())
                    .policy(policy())
                    .connections(pool);
                if on {
                    b.near_cache(NEAR_TTL)
                } else {
                    b
                }
            }))?;
            let engines: Vec<RedisEngine> = (0..n).map(|_| one[0].clone()).collect();
            let filled = self
                .rt
                .block_on(prefill(&engines, over, a.senders, daily))
                .map_err(|e| format!("prefill failed: {e}"))?;
            if filled != over * u64::from(daily) {
                eprintln!(
                    "redis-bench: prefill allowed {filled} of {} sends",
                    over * u64::from(daily)
                );
            }
            let streams: Vec<Stream> = (0..n).map(|t| Stream::new(a.seed, t, a.senders)).collect();
            let stats: Vec<TaskStats> = (0..n).map(|_| TaskStats::new()).collect();
            sides.push(Side {
                prefix,
                engines,
                streams: Some(streams),
                stats,
                secs: 0.0,
                server: Some(CommandDelta::default()),
            });
        }
        // Slices of at least three cache lifetimes: each slice starts with a cold cache.
        let slices = (self.duration.as_secs_f64() / (3 * NEAR_TTL).as_secs_f64())
            .floor()
            .max(1.0) as u32;
        let slice = self.duration / slices;
        for _ in 0..slices {
            for side in sides.iter_mut() {
                let input = side.streams.take().unwrap_or_default();
                let ((out, took), d) =
                    self.counted(|| self.rt.block_on(engine_slice(&side.engines, input, slice)));
                let mut back = Vec::new();
                for (dst, (src, stream)) in side.stats.iter_mut().zip(out) {
                    merge(&mut dst.hist, &src.hist);
                    dst.allowed += src.allowed;
                    dst.denied += src.denied;
                    dst.unavailable += src.unavailable;
                    back.push(stream);
                }
                side.streams = Some(back);
                side.secs += took;
                side.server = match (side.server, d) {
                    (Some(s), Some(d)) => Some(s.add(d)),
                    _ => None,
                };
            }
        }
        let mut rows = Vec::new();
        for (on, side) in [false, true].into_iter().zip(sides) {
            drop(side.engines);
            self.cleanup(&side.prefix);
            let (case, label) = if on {
                ("near_cache_on", "(d) over-limit, near-cache 1 s")
            } else {
                ("near_cache_off", "(d) over-limit, near-cache off")
            };
            let row = finish_case(case, label.into(), n, side.stats, side.secs, side.server);
            rows.push(row.clone());
            cases.push(row);
        }
        let per1000 = |r: &CaseResult| {
            r.server.map_or(f64::NAN, |d| {
                d.scripts as f64 * 1000.0 / r.decisions.max(1) as f64
            })
        };
        let (off, on) = (&rows[0], &rows[1]);
        Ok(NearSummary {
            connections: n,
            over_limit_senders: over,
            throughput_ratio: on.per_sec / off.per_sec.max(1e-9),
            scripts_per_1000_off: per1000(off),
            scripts_per_1000_on: per1000(on),
            saved_per_1000: per1000(off) - per1000(on),
            local_answers_on: on.local_answers.unwrap_or(0),
            denied_on: on.denied,
            over_sender_interval_s: on.seconds * over as f64
                / (on.decisions as f64 * a.over_share).max(1e-9),
        })
    }
}

pub fn run(args: &RedisBenchArgs) -> Result<(), Box<dyn Error>> {
    let servers = masters(&args.backend)?;
    let rt = runtime()?;
    let started_at_utc = utc_now();
    let module = crate::bench_module::status(&servers);
    let cluster = args.backend.contains(',') || servers.len() != 1;
    let module_case = match &module {
        Ok(()) if cluster => {
            let why = crate::bench_module::CLUSTER_SKIP;
            eprintln!("redis-bench: the raw module case (f) is skipped: {why}");
            format!("(f) skipped: {why}; (g) ran")
        }
        Ok(()) => "(f) and (g) ran".to_string(),
        Err(why) => {
            eprintln!("redis-bench: the Redis module cases (f) and (g) are skipped: {why}");
            format!("skipped: {why}")
        }
    };
    let ctx = Ctx {
        args,
        rt: &rt,
        servers: &servers,
        duration: Duration::from_secs_f64(args.duration),
        module: module.is_ok(),
        cluster,
    };
    let mut cases = Vec::new();
    let mut near = Vec::new();
    for &n in &args.connections.0 {
        let module = if ctx.module { "module, " } else { "" };
        eprintln!(
            "redis-bench: {n} connection(s): engine send, sliding-window log, {module}in-memory"
        );
        ctx.trio(n, &mut cases)?;
    }
    for &n in &args.connections.0 {
        eprintln!("redis-bench: {n} connection(s): near-cache off and on");
        near.push(ctx.near(n, &mut cases)?);
    }
    let memory = ctx.memory()?;
    let report = BenchReport {
        tool: "invite-loadtest redis-bench",
        version: env!("CARGO_PKG_VERSION"),
        backend: args.backend.clone(),
        masters: servers.clone(),
        started_at_utc,
        same_run: true,
        duration_s: args.duration,
        senders: args.senders,
        over_share: args.over_share,
        seed: args.seed,
        daily_limit: Policy::default().free.daily,
        cases,
        near_cache: near,
        module_case,
        memory,
    };
    let text = render(&report);
    let to_stdout = args.json.as_deref() == Some(Path::new("-"));
    if to_stdout {
        eprint!("{text}");
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{text}");
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

fn render(r: &BenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "redis-bench {} on {} ({} master(s)), started {}",
        r.version,
        r.backend,
        r.masters.len(),
        r.started_at_utc
    );
    let _ = writeln!(
        out,
        "every row comes from this one run: same sender stream (seed {}, {} senders and \
         recipients, uniform), {} s per case, Free daily limit {}",
        r.seed,
        count(r.senders),
        r.duration_s,
        r.daily_limit
    );
    let _ = writeln!(
        out,
        "\n  {:<34} {:>5} {:>10} {:>10} {:>9} {:>9} {:>8} {:>7} {:>7} {:>7} {:>6}",
        "case",
        "conns",
        "decisions",
        "per sec",
        "p50",
        "p99",
        "allowed",
        "cmds/d",
        "calls/d",
        "µs/call",
        "µs/d"
    );
    for c in &r.cases {
        let per = |v: u64| format!("{:.2}", v as f64 / c.decisions.max(1) as f64);
        let (cmds, calls, usec, usec_d) = match c.server {
            Some(d) => (
                per(d.commands),
                per(d.decision_calls()),
                format!(
                    "{:.1}",
                    d.decision_usec() as f64 / d.decision_calls().max(1) as f64
                ),
                format!("{:.1}", c.server_us_per_decision.unwrap_or(f64::NAN)),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "  {:<34} {:>5} {:>10} {:>10} {:>9} {:>9} {:>7.1}% {:>7} {:>7} {:>7} {:>6}",
            c.label,
            c.connections,
            count(c.decisions),
            count(c.per_sec.round() as u64),
            ns(c.p50_ns),
            ns(c.p99_ns),
            c.allowed as f64 * 100.0 / c.decisions.max(1) as f64,
            cmds,
            calls,
            usec,
            usec_d,
        );
    }
    for n in &r.near_cache {
        let _ = writeln!(
            out,
            "\nnear-cache at {} connection(s), {} senders over the limit: throughput x{:.2}; \
             scripts per 1000 decisions {:.0} off, {:.0} on ({:.0} round trips saved per 1000); \
             {} of {} denials answered locally; an over-limit sender came back to the \
             engine every {:.2} s on average (the cache holds a denial {} s)",
            n.connections,
            count(n.over_limit_senders),
            n.throughput_ratio,
            n.scripts_per_1000_off,
            n.scripts_per_1000_on,
            n.saved_per_1000,
            count(n.local_answers_on),
            count(n.denied_on),
            n.over_sender_interval_s,
            NEAR_TTL.as_secs(),
        );
    }
    if let Some(m) = &r.memory {
        crate::bench_memory::render(m, &mut out);
    }
    let _ = writeln!(
        out,
        "\ncalls/d: EVALSHA/EVAL calls (for (f) and (g), IL.* commands) on the masters per \
         decision, i.e. round trips to the sender's slot (a decision that ran none was \
         answered locally); cmds/d: every command the masters ran per decision, counting \
         those the scripts call; µs/call: server time per such call, the commands a \
         script calls included; µs/d: that server time per decision (INFO commandstats \
         before and after each case; any other client counts too). The module cases: \
         {}. Unavailable answers: {}.",
        r.module_case,
        r.cases.iter().map(|c| c.unavailable).sum::<u64>()
    );
    out
}

/// The current UTC time in RFC 3339, as the engine's timestamps print.
fn utc_now() -> String {
    use invite_limiter::Clock;
    invite_limiter::SystemClock.now().to_string()
}
