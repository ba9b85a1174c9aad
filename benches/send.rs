//! Send-path benchmarks: the engine against governor's keyed limiter and a bare
//! DashMap increment, in the same run, on the same key stream.
//!
//! One criterion group per scenario and member count (`allowed_1M`, `daily_limit_1K`,
//! …), the contenders as functions inside, 1 and 2 threads as parameters; the time per
//! iteration is wall time per operation, less the time the bench's threads waited for a
//! processor behind other processes (`SEND_BENCH_WALL=1`: wall time alone; see
//! `common/ready.rs`). Select sizes with a filter:
//! `cargo bench --bench send -- _1K/` or `-- _1M/`.
//!
//! Scenarios:
//! - `allowed`: every send is allowed ([`common::unlimited_policy`]); with spam signals
//!   off, and once with them on (`engine_send_spam_on`) to show their cost.
//! - `daily_limit`: every sender has used its 30 sends of the day (default Free
//!   limits), every send is denied by the daily limit; `capacity` and `diagnose` of
//!   those senders too.
//! - `pair_at_cap`: every send goes to a recipient the sender already has 3 (the
//!   default cap) invitations pending with.
//!
//! Every scenario also times `governor_check_key` (30 per day, a single approximate
//! check) and `dashmap_increment` (the cost of touching a member at all) on the same
//! keys, so ratios come from one run.

#[allow(dead_code)] // each bench target uses its own part of the helpers
mod common;

use std::cell::RefCell;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use invite_limiter::{DenyReason, Engine, MemberId, Policy, SpamPolicy};

use common::{send, Cursor, Keys, Lazy, Outcomes, SIZES, THREADS};

/// Adds governor's `check_key` and the bare DashMap increment to a group, on the same
/// stream; `exhausted`: governor's quota is used up for every member, so it denies.
///
/// Otherwise each thread count gets a limiter of its own, so that at 1M members its
/// checks stay (almost all) allowed: one function makes 10–25 checks per key, within
/// the burst of 30. At 1K members every key is exhausted within milliseconds whatever
/// is done, so there governor's figure is that of a denying check (the tally printed
/// after each function says which).
fn baselines(
    group: &mut BenchmarkGroup<'_, WallTime>,
    keys: &Lazy<Keys, impl Fn() -> Keys>,
    exhausted: bool,
    label: &str,
) {
    let map =
        Lazy::new(|| common::timed(&format!("dashmap {label}"), || common::dashmap(keys.get())));
    let shared = Lazy::new(|| {
        common::timed(&format!("governor {label}"), || {
            common::governor(keys.get(), exhausted)
        })
    });
    for threads in THREADS {
        let own = Lazy::new(|| {
            common::timed(&format!("governor {label}/{threads}t"), || {
                common::governor(keys.get(), exhausted)
            })
        });
        let cursor = Cursor::default();
        let tally = Outcomes::new(format!("{label}/governor_check_key/{threads}t"), "allowed");
        let id = BenchmarkId::new("governor_check_key", common::threads_label(threads));
        group.bench_function(id, |b| {
            let limiter = if exhausted { shared.get() } else { own.get() };
            let keys = keys.get();
            b.iter_custom(|iters| {
                let op = |i: usize| limiter.check_key(&keys.at(i)).is_ok();
                let (elapsed, hits) = common::run(threads, iters, &cursor, &op);
                tally.add(iters, hits);
                elapsed
            });
        });
    }
    for threads in THREADS {
        let cursor = Cursor::default();
        let id = BenchmarkId::new("dashmap_increment", common::threads_label(threads));
        group.bench_function(id, |b| {
            let (map, keys) = (map.get(), keys.get());
            b.iter_custom(|iters| {
                let op = |i: usize| common::dashmap_increment(map, keys.at(i));
                common::run(threads, iters, &cursor, &op).0
            });
        });
    }
}

/// An engine in which every send is allowed, rebuilt between samples once its pending
/// invitations outgrow a budget.
///
/// Allowed sends accumulate: each one leaves a pending invitation (ledger slot, send-log
/// entry, expiry-queue entry, ~100 B) that only expires after the TTL. Criterion picks
/// the iteration count (millions per function here), so without a bound the
/// 1M-member engine would grow by gigabytes and a late sample would measure a
/// different engine from an early one. So every member starts with one pending
/// invitation, and once `64 × members` sends (at most 4M) have been made since the
/// build, the engine is rebuilt before the next sample. The rebuild happens outside
/// `iter_custom`, because criterion plans its iteration counts from the wall time of
/// the whole `iter_custom` call during warm-up. A sample can overshoot the budget by
/// its own size (at most a few million sends, in the warm-up's last doubling), so
/// senders hold between 1 and a few dozen pending invitations most of the time
/// (1K members: up to 65 between rebuilds; 1M members: up to ~5), as real senders do.
struct AllowedBed {
    policy: Policy,
    /// Whether the engine reports metrics (with the `metrics` feature).
    metrics: bool,
    budget: u64,
    engine: Option<Engine>,
    since_build: u64,
    label: String,
}

impl AllowedBed {
    fn new(policy: Policy, metrics: bool, members: usize, label: String) -> Self {
        AllowedBed {
            policy,
            metrics,
            budget: (64 * members as u64).min(4_000_000),
            engine: None,
            since_build: 0,
            label,
        }
    }

    /// Builds a fresh engine, every member present, if there is none or the budget is
    /// spent.
    fn make_room(&mut self, keys: &Keys) {
        if self.engine.is_some() && self.since_build < self.budget {
            return;
        }
        drop(self.engine.take());
        let engine = common::timed(&format!("engine {}", self.label), || {
            let engine = common::engine_with(self.policy.clone(), self.metrics);
            let n = keys.ids.len();
            common::fill(&engine, &keys.ids, 1, |i| keys.ids[(i + 1) % n]);
            engine
        });
        self.engine = Some(engine);
        self.since_build = 0;
    }
}

fn allowed(c: &mut Criterion, n: usize) {
    let size = common::size_label(n);
    let keys = Lazy::new(|| Keys::new(n));
    let mut group = c.benchmark_group(format!("allowed_{size}"));
    group.throughput(Throughput::Elements(1));
    // With the `metrics` feature, `engine_send` reports to a Prometheus recorder and
    // `engine_send_metrics_off` is the same engine built with `.metrics(false)`.
    let mut contenders = vec![
        ("engine_send", common::unlimited_policy(), true),
        (
            "engine_send_spam_on",
            common::unlimited_spam_on_policy(),
            true,
        ),
    ];
    if cfg!(feature = "metrics") {
        contenders.push(("engine_send_metrics_off", common::unlimited_policy(), false));
    }
    for (name, policy, metrics) in contenders {
        let label = format!("allowed_{size}/{name}");
        let bed = RefCell::new(AllowedBed::new(policy, metrics, n, label));
        for threads in THREADS {
            let cursor = Cursor::default();
            let tally = Outcomes::new(format!("allowed_{size}/{name}/{threads}t"), "allowed");
            let id = BenchmarkId::new(name, common::threads_label(threads));
            group.bench_function(id, |b| {
                let keys = keys.get();
                let mut bed = bed.borrow_mut();
                bed.make_room(keys);
                let AllowedBed {
                    engine,
                    since_build,
                    ..
                } = &mut *bed;
                let engine = engine.as_ref().expect("make_room built it");
                b.iter_custom(|iters| {
                    let op = |i: usize| send(engine, keys.at(i), keys.next(i)).is_ok();
                    let (elapsed, hits) = common::run(threads, iters, &cursor, &op);
                    *since_build += iters;
                    tally.add(iters, hits);
                    tally.assert_all();
                    elapsed
                });
            });
        }
    }
    baselines(&mut group, &keys, false, &format!("allowed_{size}"));
    group.finish();
}

/// The default policy with spam signals off.
fn default_policy() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

fn daily_limit(c: &mut Criterion, n: usize) {
    let size = common::size_label(n);
    let label = format!("daily_limit_{size}");
    let keys = Lazy::new(|| Keys::new(n));
    // Every member sends its 30 invitations of the day during the warm-up, with the
    // real clock. They all go to one member outside the set, with the pair cap raised
    // to 30 for that, so each sender's pair filter has one bit set and the measured
    // sends, to other recipients, mostly skip the pair state, as most sends to a new
    // recipient do. Tier limits stay the default Free ones (30 a day, 300 a week).
    let engine = Lazy::new(|| {
        common::timed(&format!("engine {label}"), || {
            let policy = Policy {
                max_pending_per_pair: 30,
                ..default_policy()
            };
            let engine = common::engine(policy);
            common::fill(&engine, &keys.get().ids, 30, |_| common::SINK);
            engine
        })
    });
    let mut group = c.benchmark_group(&label);
    group.throughput(Throughput::Elements(1));
    let is_daily = |r: &DenyReason| matches!(r, DenyReason::DailyLimit { .. });
    type Op = fn(&Engine, &Keys, usize, &dyn Fn(&DenyReason) -> bool) -> bool;
    let contenders: [(&str, &'static str, Op); 3] = [
        (
            "engine_send_denied",
            "denied by the daily limit",
            |e, k, i, is_daily| send(e, k.at(i), k.next(i)).is_err_and(|d| is_daily(d.reason())),
        ),
        ("engine_capacity", "at 30 of 30 today", |e, k, i, _| {
            e.capacity(MemberId(k.at(i))).daily.used == 30
        }),
        (
            "engine_diagnose",
            "blocked by the daily limit",
            |e, k, i, is_daily| {
                let d = e.diagnose(MemberId(k.at(i)), MemberId(k.next(i)));
                d.blockers().first().is_some_and(|b| is_daily(b.reason()))
            },
        ),
    ];
    for (name, expected, op) in contenders {
        for threads in THREADS {
            let cursor = Cursor::default();
            let tally = Outcomes::new(format!("{label}/{name}/{threads}t"), expected);
            group.bench_function(
                BenchmarkId::new(name, common::threads_label(threads)),
                |b| {
                    let (engine, keys) = (engine.get(), keys.get());
                    b.iter_custom(|iters| {
                        let op = |i: usize| op(engine, keys, i, &is_daily);
                        let (elapsed, hits) = common::run(threads, iters, &cursor, &op);
                        tally.add(iters, hits);
                        tally.assert_all();
                        elapsed
                    });
                },
            );
        }
    }
    // Governor with every key's quota used up: its check denies too.
    baselines(&mut group, &keys, true, &label);
    group.finish();
}

fn pair_at_cap(c: &mut Criterion, n: usize) {
    let size = common::size_label(n);
    let label = format!("pair_at_cap_{size}");
    let keys = Lazy::new(|| Keys::new(n));
    let partners = Lazy::new(|| keys.get().partners());
    // Every member has 3 invitations pending to the next member in `ids` (the default
    // pair cap), sent with the real clock; the stream sends to that partner again.
    let engine = Lazy::new(|| {
        common::timed(&format!("engine {label}"), || {
            let engine = common::engine(default_policy());
            let ids = &keys.get().ids;
            common::fill(&engine, ids, 3, |i| ids[(i + 1) % ids.len()]);
            engine
        })
    });
    let mut group = c.benchmark_group(&label);
    group.throughput(Throughput::Elements(1));
    for threads in THREADS {
        let cursor = Cursor::default();
        let tally = Outcomes::new(
            format!("{label}/engine_send_denied/{threads}t"),
            "denied by the pair cap",
        );
        let id = BenchmarkId::new("engine_send_denied", common::threads_label(threads));
        group.bench_function(id, |b| {
            let (engine, keys, partners) = (engine.get(), keys.get(), partners.get());
            b.iter_custom(|iters| {
                let op = |i: usize| {
                    send(engine, keys.at(i), partners[i])
                        .is_err_and(|d| matches!(d.reason(), DenyReason::PairPendingLimit { .. }))
                };
                let (elapsed, hits) = common::run(threads, iters, &cursor, &op);
                tally.add(iters, hits);
                tally.assert_all();
                elapsed
            });
        });
    }
    baselines(&mut group, &keys, false, &label);
    group.finish();
}

fn benches(c: &mut Criterion) {
    #[cfg(feature = "metrics")]
    common::install_prometheus();
    for n in SIZES {
        allowed(c, n);
        daily_limit(c, n);
        pair_at_cap(c, n);
    }
}

criterion_group!(send_benches, benches);
criterion_main!(send_benches);
