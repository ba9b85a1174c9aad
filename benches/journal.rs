//! Cost of the journal on the send path: the same stream of allowed sends with no
//! persistence, with `Durability::FlushEvery(10 ms)` (the default) and with
//! `Durability::SyncEachDecision`, side by side in one run.
//!
//! Each contender gets its own engine (and persistence directory under the system's
//! temporary directory, removed afterwards) with no limits to speak of and spam
//! signals off, so every send is allowed and journaled; senders rotate over 100,000
//! members and every recipient is new.

#[allow(dead_code)] // each bench target uses its own part of the helpers
mod common;

use std::cell::Cell;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use invite_limiter::{Durability, Engine, InviteRequest, MemberId, SystemClock};

fn journal_send(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_send");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    let modes = [
        ("no_persistence", None),
        (
            "flush_every_10ms",
            Some(Durability::FlushEvery(Duration::from_millis(10))),
        ),
        ("sync_each_decision", Some(Durability::SyncEachDecision)),
    ];
    for (name, mode) in modes {
        let dir = std::env::temp_dir().join(format!(
            "invite-limiter-bench-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let builder = Engine::builder()
            .policy(common::unlimited_policy())
            .clock(SystemClock);
        let engine = match mode {
            None => builder.build().expect("bench policy is valid"),
            Some(d) => builder
                .persistence(&dir, d)
                .open()
                .expect("a fresh directory opens"),
        };
        let next = Cell::new(0u64);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let i = next.get();
                    next.set(i + 1);
                    let req = InviteRequest::new(MemberId(i % 100_000), MemberId(1_000_000 + i));
                    assert!(engine.send(req).is_ok(), "every bench send is allowed");
                }
                start.elapsed()
            })
        });
        drop(engine);
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

criterion_group!(benches, journal_send);
criterion_main!(benches);
