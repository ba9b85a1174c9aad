//! What an engine remembers about its own running, for `health()` and metrics.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::health::SweeperHealth;
use crate::time::Timestamp;

/// No instant recorded yet.
const NEVER: u64 = u64::MAX;

/// Lock-free facts about the sweeper, read by [`crate::Engine::health`].
#[derive(Debug)]
pub(crate) struct Observer {
    /// The origin of the real-time instants below.
    base: Instant,
    /// Sweeper threads running.
    sweepers: AtomicU32,
    /// The latest started sweeper's period, in milliseconds.
    every_ms: AtomicU64,
    /// Real time (since `base`, in ms) of the sweeper's latest pass or start.
    last_pass: AtomicU64,
    /// The engine's instant at the end of the latest sweep, by anyone.
    last_sweep_at: AtomicU64,
    /// Metric handles.
    #[cfg(feature = "metrics")]
    pub(crate) metrics: crate::metrics::EngineMetrics,
}

impl Observer {
    /// `metrics`: whether the engine reports metrics (ignored without the feature).
    pub(crate) fn new(metrics: bool) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = metrics;
        Observer {
            base: Instant::now(),
            sweepers: AtomicU32::new(0),
            every_ms: AtomicU64::new(0),
            last_pass: AtomicU64::new(NEVER),
            last_sweep_at: AtomicU64::new(NEVER),
            #[cfg(feature = "metrics")]
            metrics: crate::metrics::EngineMetrics::new("memory", metrics),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    pub(crate) fn sweeper_started(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        self.every_ms.store(ms, Ordering::Relaxed);
        self.last_pass.store(self.elapsed_ms(), Ordering::Relaxed);
        self.sweepers.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sweeper_stopped(&self) {
        self.sweepers.fetch_sub(1, Ordering::Relaxed);
    }

    /// A background pass ended; returns how late it started, in real time.
    pub(crate) fn sweeper_passed(&self) -> Duration {
        let now = self.elapsed_ms();
        let prev = self.last_pass.swap(now, Ordering::Relaxed);
        let every = self.every_ms.load(Ordering::Relaxed);
        Duration::from_millis(now.saturating_sub(prev).saturating_sub(every))
    }

    pub(crate) fn swept(&self, at: u64) {
        self.last_sweep_at.fetch_max(at, Ordering::Relaxed);
        // `fetch_max` against NEVER would keep NEVER: replace it first.
        let _ =
            self.last_sweep_at
                .compare_exchange(NEVER, at, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub(crate) fn sweeper(&self) -> SweeperHealth {
        let running = self.sweepers.load(Ordering::Relaxed) > 0;
        let every = Duration::from_millis(self.every_ms.load(Ordering::Relaxed));
        let last_pass = self.last_pass.load(Ordering::Relaxed);
        let lag = if running && last_pass != NEVER {
            let since = Duration::from_millis(self.elapsed_ms().saturating_sub(last_pass));
            since.saturating_sub(every)
        } else {
            Duration::ZERO
        };
        let at = self.last_sweep_at.load(Ordering::Relaxed);
        SweeperHealth {
            running,
            every: running.then_some(every),
            last_sweep_at: (at != NEVER).then(|| Timestamp::from_millis(at)),
            lag,
        }
    }
}

impl crate::memory::engine::Engine {
    /// How the engine is doing: its background sweeper (running, its lag) and, when
    /// opened with persistence, its journal (writing or failing and why, its queue,
    /// the time since its last sync). Reads a few atomics; cheap enough for every
    /// health probe.
    pub fn health(&self) -> crate::health::Health {
        crate::health::Health {
            sweeper: Some(self.obs.sweeper()),
            journal: self.journal.as_ref().map(|j| crate::health::JournalHealth {
                failure: j.failure().map(|e| e.to_string()),
                queue_depth: j.queue_depth(),
                since_last_sync: j.since_last_sync(),
            }),
            redis: None,
        }
    }
}

impl crate::memory::engine::Engine {
    /// Whether the sender's fullest send window is at or past the near-limit share
    /// once this decision is done (`adding`: it commits a send). Only computed when
    /// metrics are reported.
    #[inline]
    pub(crate) fn near_limit(
        &self,
        member: &crate::sender::record::Member,
        policy: &crate::policy::Policy,
        adding: bool,
    ) -> bool {
        #[cfg(feature = "metrics")]
        if self.obs.metrics.is_on() {
            let (day, week) = member.sends.counts();
            let (day, week) = (
                day.saturating_add(adding.into()),
                week.saturating_add(adding.into()),
            );
            let limits = member.limits(policy);
            return crate::metrics::is_near(day, limits.daily)
                || crate::metrics::is_near(week, limits.weekly);
        }
        let _ = (member, policy, adding);
        false
    }
}

/// How often the background sweeper samples the gauges that cost a pass over members.
#[cfg(feature = "metrics")]
const GAUGE_EVERY: Duration = Duration::from_secs(10);

#[cfg(feature = "metrics")]
impl crate::memory::engine::Engine {
    /// After a background sweep pass: its lateness, and (every [`GAUGE_EVERY`]) the
    /// gauges of member records, pending invitations and the journal.
    pub(crate) fn sample_metrics(&self, late: Duration, last_sample: &mut Option<Instant>) {
        let m = &self.obs.metrics;
        if !m.is_on() {
            return;
        }
        m.sweeper_lag(late);
        if last_sample.is_some_and(|t| t.elapsed() < GAUGE_EVERY) {
            return;
        }
        *last_sample = Some(Instant::now());
        let (mut records, mut pending) = (0usize, 0u64);
        for shard in self.shards.iter() {
            // One shard at a time, so senders wait for at most one shard's count.
            let g = shard.0.read();
            records += g.members.len();
            pending += g
                .members
                .iter()
                .map(|(_, m)| u64::from(m.ledger.live()))
                .sum::<u64>();
        }
        use crate::metrics::*;
        let set = |name, v: f64| {
            if let Some(g) = m.gauge(name) {
                g.set(v);
            }
        };
        set(MEMBER_RECORDS, records as f64);
        set(PENDING_INVITATIONS, pending as f64);
        if let Some(j) = &self.journal {
            set(JOURNAL_QUEUE_DEPTH, j.queue_depth() as f64);
            let age = j.since_last_sync().map_or(f64::NAN, |d| d.as_secs_f64());
            set(JOURNAL_SYNC_AGE_SECONDS, age);
            set(
                JOURNAL_FAILED,
                if j.failure().is_some() { 1.0 } else { 0.0 },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweeper_that_does_not_pass_falls_behind() {
        let obs = Observer::new(false);
        obs.sweeper_started(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(30));
        let s = obs.sweeper();
        assert!(s.running);
        assert!(s.lag >= Duration::from_millis(28), "{s:?}");
        // A pass catches up: it reports how late it was and the lag drops.
        assert!(obs.sweeper_passed() >= Duration::from_millis(28));
        assert!(obs.sweeper().lag < Duration::from_millis(28));
        obs.sweeper_stopped();
        assert!(!obs.sweeper().running);
        assert_eq!(obs.sweeper().lag, Duration::ZERO);
    }

    #[test]
    fn the_latest_sweep_instant_is_kept() {
        let obs = Observer::new(false);
        assert_eq!(obs.sweeper().last_sweep_at, None);
        obs.swept(5);
        obs.swept(3);
        assert_eq!(obs.sweeper().last_sweep_at, Some(Timestamp::from_millis(5)));
    }
}
