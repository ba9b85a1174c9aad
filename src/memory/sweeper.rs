//! Releasing what is due: the synchronous sweep, and a thread that runs it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::memory::engine::Engine;

/// Items a sweep handles per lock hold, so senders on the same shard wait briefly.
const BATCH: usize = 256;

impl Engine {
    /// Releases what is due: expires invitations, ends re-invite cooldowns, and drops
    /// the records of members with nothing left in any window. Returns how many
    /// invitations expired unanswered since the previous sweep (including those
    /// noticed by other calls in between). Its cost grows with what is due, not with
    /// the number of members.
    pub fn sweep(&self) -> usize {
        let now = self.time.now();
        let mut expired = 0u64;
        for shard in self.shards.iter() {
            loop {
                let mut g = shard.0.write();
                let now = g.observe(now);
                let done = g.sweep_step(now, BATCH);
                if done < BATCH || g.nothing_due(now) {
                    expired += std::mem::take(&mut g.expired_unswept);
                    break;
                }
            }
        }
        self.obs.swept(now);
        #[cfg(feature = "metrics")]
        if expired > 0 {
            if let Some(c) = self
                .obs
                .metrics
                .counter(crate::metrics::INVITATIONS_EXPIRED)
            {
                c.increment(expired);
            }
        }
        usize::try_from(expired).unwrap_or(usize::MAX)
    }

    /// Members with a record in memory (for measuring; reclaimed members are not counted).
    pub fn member_records(&self) -> usize {
        self.shards.iter().map(|s| s.0.read().members.len()).sum()
    }

    /// Starts a thread that calls [`Engine::sweep`] every `every` until the returned
    /// handle is dropped (or the engine is).
    pub fn start_sweeper(self: &Arc<Self>, every: Duration) -> Sweeper {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let stats = Arc::new(SweepStats::default());
        let engine = Arc::downgrade(self);
        let thread_stats = Arc::clone(&stats);
        self.obs.sweeper_started(every);
        let thread = std::thread::Builder::new()
            .name("invite-limiter-sweeper".into())
            .spawn(move || run(engine, every, stopped, thread_stats))
            .ok();
        if thread.is_none() {
            self.obs.sweeper_stopped();
        }
        Sweeper {
            stop: Some(stop),
            thread,
            stats,
        }
    }
}

fn run(engine: Weak<Engine>, every: Duration, stopped: Receiver<()>, stats: Arc<SweepStats>) {
    passes(&engine, every, &stopped, &stats);
    if let Some(engine) = engine.upgrade() {
        engine.obs.sweeper_stopped();
    }
}

fn passes(engine: &Weak<Engine>, every: Duration, stopped: &Receiver<()>, stats: &SweepStats) {
    #[cfg(feature = "metrics")]
    let mut sampled = None;
    loop {
        match stopped.recv_timeout(every) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let expired = engine.sweep();
        let _late = engine.obs.sweeper_passed();
        #[cfg(feature = "metrics")]
        engine.sample_metrics(_late, &mut sampled);
        stats.passes.fetch_add(1, Ordering::Relaxed);
        stats.expired.fetch_add(expired as u64, Ordering::Relaxed);
    }
}

/// Counters of a background sweeper.
#[derive(Debug, Default)]
pub struct SweepStats {
    passes: AtomicU64,
    expired: AtomicU64,
}

impl SweepStats {
    /// Sweeps run so far.
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }

    /// Invitations expired by those sweeps.
    pub fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }
}

/// A running background sweeper; dropping it stops the thread and waits for it.
#[derive(Debug)]
pub struct Sweeper {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<SweepStats>,
}

impl Sweeper {
    /// The sweeper's counters.
    pub fn stats(&self) -> &SweepStats {
        &self.stats
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        // Disconnecting the channel wakes the thread at once.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
