//! One hot path at a time, on a large engine, for profilers and before/after
//! comparisons: `cargo run --release --example hot_path -- <case> [members] [ops]`.
//!
//! Cases (spam signals off, the system clock):
//! - `allowed1`, `allowed4`: every sender starts with 1 or 4 pending invitations and
//!   sends to a random member (limits and pair cap out of reach);
//! - `pair_cap`: every sender has 3 pending to its partner (the default cap) and sends
//!   to it again;
//! - `daily`: every sender has used its 30 sends of the day (default Free limits);
//! - `sweep`: `members / 10` senders with 10 invitations each all fall due; one
//!   `sweep()` expires them (a manual clock; `ops` is ignored).
//!
//! With the `metrics` feature, a fourth argument `metrics` installs a Prometheus
//! recorder and has the engine report to it; otherwise the engine reports nothing.
//!
//! Prints ns per operation. The timed part is the function `measure`, so
//! `valgrind --tool=callgrind --toggle-collect='hot_path::measure' …` counts only it.

#[allow(dead_code)] // the benches' helpers; this uses their policy and ids
#[path = "../common/mod.rs"]
mod common;

use common::{scramble, unlimited_policy as unlimited};
use invite_limiter::*;
use std::time::{Duration, Instant};

/// The timed loop: `ops` sends, sender `ids[picks[k]]`, recipient `to(k)`.
#[inline(never)]
fn measure(engine: &Engine, ids: &[u64], picks: &[usize], to: impl Fn(usize) -> u64) -> u64 {
    let mut allowed = 0;
    for (k, &i) in picks.iter().enumerate() {
        let req = InviteRequest::new(MemberId(ids[i]), MemberId(to(k)));
        allowed += u64::from(engine.send(req).is_ok());
    }
    allowed
}

fn sends(case: &str, n: usize, ops: usize, metrics: bool) {
    let (policy, rounds) = match case {
        "allowed1" => (unlimited(), 1),
        "allowed4" => (unlimited(), 4),
        "pair_cap" => (
            Policy {
                max_pending_per_pair: 3,
                ..unlimited()
            },
            3,
        ),
        "daily" => (
            Policy {
                spam: SpamPolicy::disabled(),
                max_pending_per_pair: 30,
                ..Policy::default()
            },
            30,
        ),
        other => panic!("unknown case {other}: allowed1, allowed4, pair_cap, daily, sweep"),
    };
    let builder = Engine::builder().policy(policy).clock(SystemClock);
    #[cfg(feature = "metrics")]
    let builder = {
        if metrics {
            let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("no other recorder");
            std::mem::forget(handle);
        }
        builder.metrics(metrics)
    };
    #[cfg(not(feature = "metrics"))]
    assert!(!metrics, "`metrics` needs the metrics feature");
    let engine = builder.build().expect("valid policy");
    let ids: Vec<u64> = (0..n as u64).map(|i| scramble(i ^ 0x1DEA_5EED)).collect();
    for i in 0..n {
        for r in 0..rounds {
            let to = match case {
                "pair_cap" => ids[(i + 1) % n],
                "daily" => u64::MAX,
                _ => ids[(i + 1 + r) % n],
            };
            let req = InviteRequest::new(MemberId(ids[i]), MemberId(to));
            engine.send(req).expect("the warm-up is allowed");
        }
    }
    let mut x = 12345u64;
    let picks: Vec<usize> = (0..=ops)
        .map(|_| {
            x = scramble(x);
            (x % n as u64) as usize
        })
        .collect();
    let start = Instant::now();
    let allowed = if case == "pair_cap" {
        measure(&engine, &ids, &picks[..ops], |k| ids[(picks[k] + 1) % n])
    } else {
        measure(&engine, &ids, &picks[..ops], |k| ids[picks[k + 1]])
    };
    let ns = start.elapsed().as_nanos() as f64 / ops as f64;
    println!("{case}: {n} members, {ops} sends, {allowed} allowed, {ns:.0} ns per send");
}

fn sweep(n: usize) {
    let policy = unlimited();
    let ttl = policy.pending_ttl;
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let engine = Engine::builder()
        .policy(policy)
        .clock(clock.clone())
        .build()
        .expect("valid policy");
    let senders = (n / 10).max(1) as u64;
    for s in 0..senders {
        for r in 0..10 {
            let req = InviteRequest::new(MemberId(s * 7919 + 1), MemberId(u64::MAX - s * 10 - r));
            engine.send(req).expect("the warm-up is allowed");
        }
    }
    clock.advance(ttl + Duration::from_millis(1));
    let start = Instant::now();
    let expired = engine.sweep();
    let ns = start.elapsed().as_nanos() as f64 / expired.max(1) as f64;
    println!("sweep: {senders} senders, {expired} expired, {ns:.0} ns per invitation");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "allowed1".to_owned());
    let n = args
        .next()
        .map_or(1_000_000, |s| s.parse().expect("members"));
    let ops = args.next().map_or(2_000_000, |s| s.parse().expect("ops"));
    let metrics = args.next().is_some_and(|s| s == "metrics");
    if case == "sweep" {
        sweep(n);
    } else {
        sends(&case, n, ops, metrics);
    }
}
