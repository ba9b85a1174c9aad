//! One worker: draws steps from its generator and times each engine call.
//!
//! The worker is written once over the library's `Limiter` trait. On the in-memory
//! engine each worker is a thread that drives it with [`block_on`] (the engine's
//! futures are ready when created, so nothing ever waits); on Redis each worker is a
//! tokio task.

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use invite_limiter::{InviteId, InviteRequest, Limiter};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::cli::Mix;
use crate::ops::{mix64, Generator, OpKind, Population, SendSpec, Step};
use crate::outcome::Outcome;
use crate::stats::ThreadStats;

/// Engine calls a worker claims at a time.
const CHUNK: u64 = 256;
/// Most invitation ids a worker keeps to answer later.
const POOL_CAP: usize = 200_000;

/// What every worker shares.
#[derive(Debug)]
pub struct Shared<L> {
    /// Worker `i` drives `engines[i % len]` (Redis: one engine per connection).
    pub engines: Vec<Arc<L>>,
    pub pop: Arc<Population>,
    pub mix: Mix,
    pub seed: u64,
    pub burst: u32,
    pub start: Instant,
    pub interval: Duration,
    /// Set to stop a timed run.
    pub stop: AtomicBool,
    /// Engine calls still to make in a counted run.
    pub remaining: Option<AtomicU64>,
    /// Engine calls made so far (updated per chunk, for the progress bar).
    pub done: AtomicU64,
    /// Workers that have finished.
    pub finished: AtomicU64,
}

impl<L> Shared<L> {
    /// Claims the next chunk of calls; `None` when the run is over.
    fn claim(&self) -> Option<u64> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        match &self.remaining {
            None => Some(CHUNK),
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                    (r > 0).then(|| r.saturating_sub(CHUNK))
                })
                .ok()
                .map(|r| r.min(CHUNK)),
        }
    }
}

/// The ids a worker may accept, decline, withdraw or report.
struct Pool {
    ids: Vec<InviteId>,
    rng: SmallRng,
}

impl Pool {
    fn add(&mut self, id: InviteId) {
        if self.ids.len() < POOL_CAP {
            self.ids.push(id);
        } else {
            let at = self.rng.random_range(0..self.ids.len());
            self.ids[at] = id;
        }
    }

    fn take(&mut self) -> Option<InviteId> {
        if self.ids.is_empty() {
            return None;
        }
        let at = self.rng.random_range(0..self.ids.len());
        Some(self.ids.swap_remove(at))
    }
}

/// Counts the worker as finished when it returns or unwinds, so the watcher never waits forever.
struct Finished<'a>(&'a AtomicU64);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Runs a future to completion on this thread, parking while it waits.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

pub async fn work<L: Limiter>(shared: &Shared<L>, thread: u64, ids: Vec<InviteId>) -> ThreadStats {
    let _finished = Finished(&shared.finished);
    let engine = &*shared.engines[(thread as usize) % shared.engines.len()];
    let mut stats = ThreadStats::new(shared.start, shared.interval);
    let mut gen = Generator::new(&shared.pop, &shared.mix, shared.seed, thread, shared.burst);
    let mut pool = Pool {
        ids,
        rng: SmallRng::seed_from_u64(mix64(shared.seed ^ 0xB001 ^ thread)),
    };
    let mut budget: u64 = 0;
    let mut unreported: u64 = 0;
    loop {
        if budget == 0 {
            shared.done.fetch_add(unreported, Ordering::Relaxed);
            unreported = 0;
            match shared.claim() {
                Some(n) => budget = n,
                None => break,
            }
        }
        let step = gen.next_step();
        stats.steps += 1;
        let calls = execute(engine, shared, step, &mut pool, &mut stats).await;
        // A step that made no call (nothing to answer) still counts, so a run ends.
        budget = budget.saturating_sub(calls.max(1));
        unreported += calls;
    }
    stats.finish();
    stats
}

async fn execute<L: Limiter>(
    engine: &L,
    shared: &Shared<L>,
    step: Step,
    pool: &mut Pool,
    stats: &mut ThreadStats,
) -> u64 {
    match step {
        Step::Send(spec) => {
            send(engine, spec, pool, stats).await;
            1
        }
        Step::Burst {
            spammer,
            seed,
            count,
        } => {
            for spec in Step::burst_sends(&shared.pop, spammer, seed, count) {
                send(engine, spec, pool, stats).await;
            }
            u64::from(count)
        }
        Step::Lifecycle(kind) => {
            let Some(id) = pool.take() else {
                return 0;
            };
            let began = Instant::now();
            let result = match kind {
                OpKind::Accept => engine.accept(id).await,
                OpKind::Decline => engine.decline(id).await,
                OpKind::Withdraw => engine.withdraw(id).await,
                _ => engine.report_unknown(id).await,
            };
            let end = Instant::now();
            let outcome = match result {
                Ok(()) => Outcome::Ok,
                Err(e) => Outcome::invite_error(&e),
            };
            stats.record(kind, outcome, end - began, end);
            1
        }
        Step::Capacity(m) => {
            let began = Instant::now();
            let read = black_box(engine.capacity(m).await);
            let end = Instant::now();
            let outcome = match read {
                Ok(_) => Outcome::Read,
                Err(_) => Outcome::Unavailable,
            };
            stats.record(OpKind::Capacity, outcome, end - began, end);
            1
        }
        Step::Diagnose(sender, recipient) => {
            let req = InviteRequest::new(sender, recipient);
            let began = Instant::now();
            let diagnosis = engine.diagnose_request(&req).await;
            let end = Instant::now();
            let outcome = diagnosis
                .blockers()
                .first()
                .map_or(Outcome::Clear, |b| Outcome::denial(b.reason()));
            stats.record(OpKind::Diagnose, outcome, end - began, end);
            1
        }
    }
}

async fn send<L: Limiter>(engine: &L, spec: SendSpec, pool: &mut Pool, stats: &mut ThreadStats) {
    let req = spec.request();
    let began = Instant::now();
    let result = engine.send(req).await;
    let end = Instant::now();
    let outcome = match result {
        Ok(sent) => {
            if spec.kind != OpKind::Retry {
                pool.add(sent.id());
            }
            Outcome::Sent
        }
        Err(denied) => Outcome::denial(denied.reason()),
    };
    stats.record(spec.kind, outcome, end - began, end);
}
