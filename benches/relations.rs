//! Relations benchmark: a send to a recipient who accepts invitations only from people
//! sharing a connection with them (`NetworkOnly`).
//!
//! The recipient has 30,000 connections; each sender has 500. The engine probes the
//! smaller set into the larger one, so:
//! - `no_shared_connection`: the sender shares none, all 500 are probed (the worst
//!   case) and the send is denied;
//! - `one_shared_connection`: the sender shares exactly one, the probe stops when it
//!   meets it (on average half-way through the 500, in the set's iteration order) and
//!   the send is allowed;
//! - `everyone_recipient`: the same senders inviting a member who accepts everyone,
//!   the baseline the probe adds to.
//!
//! 64 senders of each kind take turns. Limits are out of reach and spam signals off
//! ([`common::unlimited_policy`]), so only the setting decides; every contender reads
//! the real clock. With 2 threads both threads lock the one recipient's shard.
//! Allowed sends pile up pending invitations, so the engine is rebuilt between samples
//! after every [`BUDGET`] sends (as in the send benches).

#[allow(dead_code)] // each bench target uses its own part of the helpers
mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use invite_limiter::{DenyReason, Engine, InviteSetting, MemberId};

use std::cell::RefCell;

use common::{send, Cursor, Outcomes, THREADS};

const RECIPIENT_CONNECTIONS: u64 = 30_000;
const SENDER_CONNECTIONS: u64 = 500;
const SENDERS: u64 = 64;
/// Sends after which the engine is rebuilt (about 15,000 pending per sender at most).
const BUDGET: u64 = 1_000_000;

const PICKY: u64 = 1;
const OPEN: u64 = 2;
const STRANGERS: u64 = 1_000;
const FRIENDS: u64 = 2_000;
const PICKY_CIRCLE: u64 = 1_000_000;
const SENDER_CIRCLES: u64 = 10_000_000;

struct Bed {
    engine: Engine,
}

impl Bed {
    fn new() -> Self {
        let engine = common::engine(common::unlimited_policy());
        let link = |a: u64, b: u64| engine.connect(MemberId(a), MemberId(b));
        for c in 0..RECIPIENT_CONNECTIONS {
            link(PICKY, PICKY_CIRCLE + c);
        }
        engine.set_invite_setting(MemberId(PICKY), InviteSetting::NetworkOnly);
        for k in 0..SENDERS {
            let circle = SENDER_CIRCLES + k * 2 * SENDER_CONNECTIONS;
            for c in 0..SENDER_CONNECTIONS {
                link(STRANGERS + k, circle + c);
            }
            // A friend of a friend: 499 connections of their own and one of the
            // recipient's.
            let circle = circle + SENDER_CONNECTIONS;
            for c in 0..SENDER_CONNECTIONS - 1 {
                link(FRIENDS + k, circle + c);
            }
            link(FRIENDS + k, PICKY_CIRCLE + k * 311);
        }
        assert_eq!(engine.connection_count(MemberId(PICKY)), 30_000);
        assert_eq!(engine.connection_count(MemberId(STRANGERS)), 500);
        assert_eq!(engine.connection_count(MemberId(FRIENDS)), 500);
        Bed { engine }
    }
}

fn network_only(c: &mut Criterion) {
    let bed: RefCell<Option<(Bed, u64)>> = RefCell::new(None);
    let mut group = c.benchmark_group("network_only_500_vs_30000");
    group.throughput(Throughput::Elements(1));
    type Op = fn(&Engine, u64) -> bool;
    let contenders: [(&str, &'static str, Op); 3] = [
        ("no_shared_connection", "denied by the setting", |e, k| {
            send(e, STRANGERS + k, PICKY)
                .is_err_and(|d| matches!(d.reason(), DenyReason::RecipientNotAccepting { .. }))
        }),
        ("one_shared_connection", "allowed", |e, k| {
            send(e, FRIENDS + k, PICKY).is_ok()
        }),
        ("everyone_recipient", "allowed", |e, k| {
            send(e, FRIENDS + k, OPEN).is_ok()
        }),
    ];
    for (name, expected, op) in contenders {
        for threads in THREADS {
            let cursor = Cursor::default();
            let tally = Outcomes::new(format!("network_only/{name}/{threads}t"), expected);
            let id = BenchmarkId::new(name, common::threads_label(threads));
            group.bench_function(id, |b| {
                let mut bed = bed.borrow_mut();
                if bed.as_ref().is_none_or(|(_, sent)| *sent >= BUDGET) {
                    *bed = None;
                    *bed = Some((common::timed("relations engine", Bed::new), 0));
                }
                let (Bed { engine }, sent) = bed.as_mut().expect("just built");
                b.iter_custom(|iters| {
                    let op = |i: usize| op(engine, i as u64 % SENDERS);
                    let (elapsed, hits) = common::run(threads, iters, &cursor, &op);
                    *sent += iters;
                    tally.add(iters, hits);
                    tally.assert_all();
                    elapsed
                });
            });
        }
    }
    group.finish();
}

criterion_group!(relations_benches, network_only);
criterion_main!(relations_benches);
