//! Sweep benchmark: `sweep()` with 1,000,000 invitations due, against a bare DashMap
//! increment on the same 1M members in the same run.
//!
//! `engine_sweep_1M_due` times one `sweep()` that expires exactly 1,000,000
//! invitations, so its time divided by 1,000,000 (or its throughput) is the cost per
//! expired invitation; `dashmap_increment` is timed per operation.
//!
//! Setup of every sweep, untimed: each of the 1M members (all present since the first
//! round) sends one invitation, in a random order, to a random member, with the real
//! clock and a TTL of 1 ms; then 5 ms pass, so every one is due. Nothing else is due:
//! members' idle checks come a day after their first send, and there are no
//! withdrawals, so no cooldowns. The sweep does what it does in service for each
//! expired invitation: pop the shard's expiry queue, expire it from the sender's
//! ledger (and the ledger's recipient index, if it keeps one), count it.

#[allow(dead_code)] // each bench target uses its own part of the helpers
mod common;

use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use invite_limiter::{Engine, Policy};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use common::{Cursor, Keys, Lazy};

const MEMBERS: usize = 1_000_000;

/// An engine whose every member has sent once; refilled before each sweep.
struct Bed {
    engine: Engine,
    /// Member indices in the (fixed, random) order they send in.
    order: Vec<usize>,
}

impl Bed {
    fn new(keys: &Keys) -> Self {
        let policy = Policy {
            pending_ttl: Duration::from_millis(1),
            ..common::unlimited_policy()
        };
        let mut order: Vec<usize> = (0..keys.ids.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(7));
        Bed {
            engine: common::engine(policy),
            order,
        }
    }

    /// Every member sends one invitation; returns once all of them are due.
    fn refill(&self, keys: &Keys) {
        let ids = &keys.ids;
        let order = &self.order;
        let sender_ids: Vec<u64> = order.iter().map(|&i| ids[i]).collect();
        common::fill(&self.engine, &sender_ids, 1, |j| {
            ids[order[(j + 1) % order.len()]]
        });
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn sweep(c: &mut Criterion) {
    let keys = Lazy::new(|| Keys::new(MEMBERS));
    let bed = Lazy::new(|| Bed::new(keys.get()));
    let map = Lazy::new(|| common::dashmap(keys.get()));
    let mut group = c.benchmark_group("sweep_1M");
    // A sweep of 1M takes a fraction of a second and needs a refill of 1M sends
    // before it: ten samples of one sweep each.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Elements(MEMBERS as u64));
    group.bench_function(BenchmarkId::new("engine_sweep_1M_due", "1_thread"), |b| {
        let (keys, bed) = (keys.get(), bed.get());
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                bed.refill(keys);
                let start = Instant::now();
                let expired = bed.engine.sweep();
                elapsed += start.elapsed();
                assert_eq!(expired, MEMBERS, "every invitation sent is due");
            }
            elapsed
        });
    });
    group.throughput(Throughput::Elements(1));
    let cursor = Cursor::default();
    group.bench_function(BenchmarkId::new("dashmap_increment", "1_thread"), |b| {
        let (keys, map) = (keys.get(), map.get());
        b.iter_custom(|iters| {
            let op = |i: usize| common::dashmap_increment(map, keys.at(i));
            common::run(1, iters, &cursor, &op).0
        });
    });
    group.finish();
}

criterion_group!(sweep_benches, sweep);
criterion_main!(sweep_benches);
