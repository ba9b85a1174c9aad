//! What the bench targets share: member ids, the key stream, the thread harness, the
//! contenders' warm states and the policies.
//!
//! Every contender walks the same precomputed stream of random member ids, reads its own
//! real clock, and starts with every member already present, so nobody pays first
//! inserts inside the timed loop.

mod ready;

use std::cell::{Cell, OnceCell};
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use invite_limiter::{
    Engine, InviteRequest, MemberId, Policy, RateRule, SpamPolicy, SystemClock, TierLimits,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The member counts every scenario runs at.
pub(crate) const SIZES: [usize; 2] = [1_000, 1_000_000];
/// The thread counts every contended case runs at.
pub(crate) const THREADS: [usize; 2] = [1, 2];

/// Stream length: a power of two, longer than the largest member set, so the 1M-member
/// cases keep missing the cache as they would in service.
const STREAM_LEN: usize = 1 << 21;
const STREAM_MASK: usize = STREAM_LEN - 1;
const SEED: u64 = 0x1DEA_5EED;

/// `1K` or `1M`: part of every group name, so `cargo bench -- _1M/` selects sizes.
pub(crate) fn size_label(n: usize) -> String {
    match n {
        1_000_000 => "1M".to_owned(),
        1_000 => "1K".to_owned(),
        n => n.to_string(),
    }
}

/// The thread count as a benchmark parameter.
pub(crate) fn threads_label(threads: usize) -> String {
    if threads == 1 {
        "1_thread".to_owned()
    } else {
        format!("{threads}_threads")
    }
}

/// A bijection on u64 (the splitmix64 finaliser): distinct, scattered member ids.
pub(crate) fn scramble(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The members and the key stream of one member count.
pub(crate) struct Keys {
    /// Every member, index `i` having id `ids[i]`.
    pub(crate) ids: Vec<u64>,
    /// Indices into `ids`, uniformly random, no two neighbours equal (also across the
    /// wrap), so `stream[i] → stream[i + 1]` is never a self-invitation.
    idx: Vec<u32>,
    /// `ids[idx[i]]`.
    pub(crate) stream: Vec<u64>,
}

impl Keys {
    /// The members and stream for `n` members, the same on every run.
    pub(crate) fn new(n: usize) -> Self {
        let ids: Vec<u64> = (0..n as u64).map(|i| scramble(i ^ SEED)).collect();
        let mut rng = StdRng::seed_from_u64(SEED ^ n as u64);
        let mut idx: Vec<u32> = Vec::with_capacity(STREAM_LEN);
        while idx.len() < STREAM_LEN {
            let k = rng.gen_range(0..n as u32);
            let clashes_prev = idx.last() == Some(&k);
            let clashes_first = idx.len() == STREAM_LEN - 1 && idx.first() == Some(&k);
            if !clashes_prev && !clashes_first {
                idx.push(k);
            }
        }
        let stream = idx.iter().map(|&k| ids[k as usize]).collect();
        Keys { ids, idx, stream }
    }

    /// The key at stream position `i` (already masked).
    #[inline]
    pub(crate) fn at(&self, i: usize) -> u64 {
        self.stream[i]
    }

    /// The key after it: the recipient of the send whose sender is `at(i)`.
    #[inline]
    pub(crate) fn next(&self, i: usize) -> u64 {
        self.stream[(i + 1) & STREAM_MASK]
    }

    /// For every stream position, the member following the sender in `ids` (its
    /// fixed partner in the pair scenarios).
    pub(crate) fn partners(&self) -> Vec<u64> {
        let n = self.ids.len();
        self.idx
            .iter()
            .map(|&k| self.ids[(k as usize + 1) % n])
            .collect()
    }
}

/// Where each bench function is in the stream, so successive samples move on instead
/// of replaying a stretch the cache has just seen.
#[derive(Default)]
pub(crate) struct Cursor(Cell<usize>);

/// Runs `iters` operations split over `threads` threads and returns the time of the
/// slowest thread (so time per iteration is time per operation) and how many
/// operations returned `true`. Thread `t` starts `t / threads` of the stream further
/// on, so threads work on different members. Spawning is outside the timed part: the
/// threads start together at a barrier and time themselves, in wall time less the
/// time they waited for a processor behind other processes (see [`ready`]).
pub(crate) fn run<F>(threads: usize, iters: u64, cursor: &Cursor, op: &F) -> (Duration, u64)
where
    F: Fn(usize) -> bool + Sync,
{
    let base = cursor.0.get();
    let share = iters / threads as u64;
    let extra = iters % threads as u64;
    cursor.0.set((base + share as usize + 1) & STREAM_MASK);
    let wall_only = ready::wall_only();
    let work = |t: usize| {
        let from = base + t * (STREAM_LEN / threads);
        let count = share + u64::from((t as u64) < extra);
        let mut hits = 0u64;
        let watch = ready::Stopwatch::start(wall_only);
        for j in 0..count as usize {
            hits += u64::from(op((from + j) & STREAM_MASK));
        }
        (watch.elapsed(), hits)
    };
    if threads == 1 {
        return work(0);
    }
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, work) = (&barrier, &work);
                s.spawn(move || {
                    barrier.wait();
                    work(t)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .fold((Duration::ZERO, 0), |(d, n), (dt, nt)| (d.max(dt), n + nt))
    })
}

/// Counts, per contender, how many operations had the expected outcome; printed when
/// dropped so the report can say what each contender actually did.
pub(crate) struct Outcomes {
    name: String,
    expected: &'static str,
    total: Cell<u64>,
    hits: Cell<u64>,
}

impl Outcomes {
    /// A tally for `name`, whose `true` results mean `expected`.
    pub(crate) fn new(name: impl Into<String>, expected: &'static str) -> Self {
        Outcomes {
            name: name.into(),
            expected,
            total: Cell::new(0),
            hits: Cell::new(0),
        }
    }

    /// Adds one sample's counts.
    pub(crate) fn add(&self, total: u64, hits: u64) {
        self.total.set(self.total.get() + total);
        self.hits.set(self.hits.get() + hits);
    }

    /// Panics unless every operation so far had the expected outcome: a bench that
    /// measures the wrong path must not report a figure.
    pub(crate) fn assert_all(&self) {
        assert_eq!(
            self.hits.get(),
            self.total.get(),
            "{}: not every operation was {}",
            self.name,
            self.expected
        );
    }
}

impl Drop for Outcomes {
    fn drop(&mut self) {
        let total = self.total.get();
        if total > 0 {
            let share = 100.0 * self.hits.get() as f64 / total as f64;
            eprintln!(
                "outcomes: {}: {share:.1}% of {total} operations {}",
                self.name, self.expected
            );
        }
    }
}

/// A value built on first use, so a filtered-out case never builds its 1M-member state.
pub(crate) struct Lazy<T, F: Fn() -> T> {
    value: OnceCell<T>,
    make: F,
}

impl<T, F: Fn() -> T> Lazy<T, F> {
    /// Builds nothing yet.
    pub(crate) fn new(make: F) -> Self {
        Lazy {
            value: OnceCell::new(),
            make,
        }
    }

    /// The value, built first if needed.
    pub(crate) fn get(&self) -> &T {
        self.value.get_or_init(&self.make)
    }
}

/// Prints how long a warm-up took and how much resident memory it added, when it was
/// long (the 1M-member builds): the memory is what each contender's state costs.
pub(crate) fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let (start, rss) = (Instant::now(), resident_bytes());
    let value = f();
    if start.elapsed() > Duration::from_millis(50) {
        let added = resident_bytes().saturating_sub(rss) as f64 / (1 << 20) as f64;
        eprintln!(
            "warm-up: {what} in {:.2?}, +{added:.0} MiB resident",
            start.elapsed()
        );
    }
    value
}

/// Resident set size of this process (0 where `/proc` is missing).
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Huge daily and weekly limits, no pair cap to speak of, a TTL of a year and spam
/// signals off: every send in the stream is allowed, however often a pair repeats.
pub(crate) fn unlimited_policy() -> Policy {
    let unlimited = TierLimits {
        daily: u32::MAX,
        weekly: u32::MAX,
        ..TierLimits::free()
    };
    Policy {
        free: unlimited.clone(),
        premium: unlimited,
        max_pending_per_pair: u32::MAX,
        pending_ttl: Duration::from_secs(365 * 24 * 3600),
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

/// [`unlimited_policy`] with every spam signal on at its default, except the two that
/// any high-rate sender trips (burst, strangers), whose thresholds are out of reach:
/// they are still recorded and checked on every send, which is the cost to show.
pub(crate) fn unlimited_spam_on_policy() -> Policy {
    let never = |per: Duration| Some(RateRule { max: u32::MAX, per });
    Policy {
        spam: SpamPolicy {
            burst: never(Duration::from_secs(60)),
            strangers: never(Duration::from_secs(3600)),
            ..SpamPolicy::default()
        },
        ..unlimited_policy()
    }
}

/// A bare send from `sender` to `recipient`.
pub(crate) fn send(
    engine: &Engine,
    sender: u64,
    recipient: u64,
) -> Result<invite_limiter::Sent, invite_limiter::Denied> {
    engine.send(InviteRequest::new(MemberId(sender), MemberId(recipient)))
}

/// Builds an engine reading the system clock.
pub(crate) fn engine(policy: Policy) -> Engine {
    engine_with(policy, true)
}

/// An engine that reports metrics or not (the flag matters with the `metrics`
/// feature only).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn engine_with(policy: Policy, metrics: bool) -> Engine {
    let builder = Engine::builder().policy(policy).clock(SystemClock);
    #[cfg(feature = "metrics")]
    let builder = builder.metrics(metrics);
    builder.build().expect("bench policy is valid")
}

/// Installs a Prometheus recorder, drained every second as a server's scrapes and
/// upkeep would, so engines that report metrics pay what they would in service.
#[cfg(feature = "metrics")]
pub(crate) fn install_prometheus() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("no other recorder");
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
        handle.run_upkeep();
    });
}

/// Has member `ids[i]` send `rounds` invitations to `recipient(i)`, on two threads,
/// each member's sends one after the other (so 30M warm-up sends stay cache-friendly
/// and take seconds). Panics if any is denied.
pub(crate) fn fill(
    engine: &Engine,
    ids: &[u64],
    rounds: usize,
    recipient: impl Fn(usize) -> u64 + Sync,
) {
    let half = ids.len().div_ceil(2);
    let recipient = &recipient;
    std::thread::scope(|s| {
        for part in 0..2 {
            s.spawn(move || {
                let end = ((part + 1) * half).min(ids.len());
                for (i, &id) in ids.iter().enumerate().take(end).skip(part * half) {
                    for _ in 0..rounds {
                        let req = InviteRequest::new(MemberId(id), MemberId(recipient(i)));
                        if let Err(denied) = engine.send(req) {
                            panic!("warm-up send denied: {denied:?}");
                        }
                    }
                }
            });
        }
    });
}

/// A member id outside every member set: the recipient of warm-up sends that must
/// not collide with the measured pairs.
pub(crate) const SINK: u64 = u64::MAX;

/// The peer a user would pick instead: governor's keyed limiter, DashMap store,
/// 30 per day, with every member's key already present; `exhausted` uses up every
/// key's 30 during the warm-up, so its checks deny.
pub(crate) fn governor(keys: &Keys, exhausted: bool) -> DefaultKeyedRateLimiter<u64> {
    // One cell every 48 minutes, bursts of 30: 30 a day.
    let burst = NonZeroU32::new(30).expect("30 is not zero");
    let quota = Quota::with_period(Duration::from_secs(24 * 3600 / 30))
        .expect("period is not zero")
        .allow_burst(burst);
    let limiter = RateLimiter::keyed(quota);
    let cells = if exhausted { burst } else { NonZeroU32::MIN };
    for id in &keys.ids {
        let fits = limiter.check_key_n(id, cells).expect("within the burst");
        assert!(fits.is_ok(), "a fresh key has its whole burst");
    }
    limiter
}

/// The floor: a bare `DashMap<u64, u64>` (std hasher, as governor's store) holding
/// every member.
pub(crate) fn dashmap(keys: &Keys) -> DashMap<u64, u64> {
    let map = DashMap::with_hasher(RandomState::new());
    for &id in &keys.ids {
        map.insert(id, 0);
    }
    map
}

/// One floor operation: find the member's entry and increment it.
#[inline]
pub(crate) fn dashmap_increment<S: BuildHasher + Clone>(
    map: &DashMap<u64, u64, S>,
    key: u64,
) -> bool {
    let mut entry = map.entry(key).or_insert(0);
    *entry += 1;
    true
}
