//! Instants, and the clocks that tell the engine what time it is.

use std::fmt;
use std::ops::Add;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant, in milliseconds since the Unix epoch.
///
/// Arithmetic saturates: an instant never wraps around, whatever duration is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timestamp(u64);

impl Timestamp {
    /// The latest instant the engine accepts: 9999-12-31T23:59:59.999Z.
    ///
    /// Every entry point (clocks, snapshots, journals, replayed traces) keeps
    /// instants at or before it, so every span the engine adds to an instant it acts
    /// at stays exact: `MAX` plus the longest span a policy allows
    /// ([`crate::Policy::LONGEST_SPAN`]) still fits in a `u64` of milliseconds.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// The instant `ms` milliseconds after the Unix epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This instant, or [`Timestamp::MAX`] when it is later.
    pub(crate) const fn clamped(self) -> Timestamp {
        if self.0 > Timestamp::MAX.0 {
            Timestamp::MAX
        } else {
            self
        }
    }

    /// The time from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(millis(rhs)))
    }
}

/// As an RFC 3339 instant in UTC with milliseconds, e.g. `2024-06-01T12:00:00.000Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 % 1000;
        let secs = self.0 / 1000;
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (the well-known era-based
/// conversion: 400-year eras of 146,097 days, years starting in March).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A duration in whole milliseconds, saturating at `u64::MAX`.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A source of the current instant.
///
/// The engine reads its clock once per decision. A clock that steps backwards is
/// tolerated: the engine keeps acting at the latest instant it has seen. A reading
/// later than [`Timestamp::MAX`] is taken as `Timestamp::MAX`: the engine never acts
/// later than that, and once there it stays there, every rule still exact.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// A shared clock is a clock (so `.clock(Arc::clone(&c))` works).
impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// A boxed clock is a clock.
impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// A reading before the Unix epoch is the epoch; one after [`Timestamp::MAX`] is `MAX`.
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(millis(since_epoch)).clamped()
    }
}

/// A clock that moves only when told to; clones share one time.
///
/// It never reads later than [`Timestamp::MAX`]: setting or advancing it past that
/// instant leaves it at `MAX`.
///
/// ```
/// use invite_limiter::{Clock, ManualClock, Timestamp};
/// use std::time::Duration;
///
/// let clock = ManualClock::new(Timestamp::from_millis(1_000));
/// let handle = clock.clone();
/// handle.advance(Duration::from_secs(1));
/// assert_eq!(clock.now(), Timestamp::from_millis(2_000));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    ms: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading `start` (or [`Timestamp::MAX`], if `start` is later).
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            ms: Arc::new(AtomicU64::new(start.clamped().0)),
        }
    }

    /// Moves the shared time forward by `by`, stopping at [`Timestamp::MAX`].
    pub fn advance(&self, by: Duration) {
        let step = millis(by);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(Timestamp(t.saturating_add(step)).clamped().0)
            });
    }

    /// Sets the shared time to `to`, which may be earlier than the current reading
    /// (or to [`Timestamp::MAX`], if `to` is later).
    pub fn set(&self, to: Timestamp) {
        self.ms.store(to.clamped().0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.ms.load(Ordering::SeqCst))
    }
}

/// The engine's view of time: the clock, never allowed to step backwards.
pub(crate) struct MonotonicTime {
    clock: Box<dyn Clock>,
    latest: AtomicU64,
}

impl MonotonicTime {
    pub(crate) fn new(clock: Box<dyn Clock>) -> Self {
        MonotonicTime {
            clock,
            latest: AtomicU64::new(0),
        }
    }

    /// The later of the clock's reading and the latest instant seen so far, never
    /// later than [`Timestamp::MAX`] (whatever the clock says).
    pub(crate) fn now(&self) -> u64 {
        let read = self.clock.now().clamped().0;
        let seen = self.latest.load(Ordering::Relaxed);
        if read > seen {
            // The common case writes only when the millisecond changes.
            self.latest.fetch_max(read, Ordering::Relaxed).max(read)
        } else {
            seen
        }
    }

    /// Raises the latest instant seen (used when restoring state).
    pub(crate) fn observe(&self, at: u64) {
        let at = Timestamp(at).clamped().0;
        self.latest.fetch_max(at, Ordering::Relaxed);
    }
}

impl fmt::Debug for MonotonicTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonotonicTime")
            .field("latest", &self.latest.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_addition_saturates() {
        let t = Timestamp::from_millis(u64::MAX - 1) + Duration::from_secs(10);
        assert_eq!(t.as_millis(), u64::MAX);
    }

    #[test]
    fn timestamps_display_as_utc_instants() {
        assert_eq!(
            Timestamp::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        let t = Timestamp::from_millis(1_717_243_200_123);
        assert_eq!(t.to_string(), "2024-06-01T12:00:00.123Z");
        assert_eq!(
            Timestamp::from_millis(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
        // The largest instant still prints, far in the future.
        assert!(Timestamp::from_millis(u64::MAX).to_string().ends_with('Z'));
    }

    #[test]
    fn monotonic_time_never_steps_back() {
        let clock = ManualClock::new(Timestamp::from_millis(5_000));
        let time = MonotonicTime::new(Box::new(clock.clone()));
        assert_eq!(time.now(), 5_000);
        clock.set(Timestamp::from_millis(1_000));
        assert_eq!(time.now(), 5_000);
        clock.set(Timestamp::from_millis(6_000));
        assert_eq!(time.now(), 6_000);
    }

    #[test]
    fn shared_and_boxed_clocks_read_through() {
        let manual = ManualClock::new(Timestamp::from_millis(9));
        let shared: Arc<dyn Clock> = Arc::new(manual.clone());
        let boxed: Box<dyn Clock> = Box::new(manual.clone());
        manual.advance(Duration::from_millis(1));
        assert_eq!(shared.now(), Timestamp::from_millis(10));
        assert_eq!(boxed.now(), Timestamp::from_millis(10));
    }

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::new(Timestamp::from_millis(0));
        let b = a.clone();
        b.set(Timestamp::from_millis(42));
        assert_eq!(a.now().as_millis(), 42);
    }

    /// Any clock, however far it reads, is acted on at `Timestamp::MAX` at most.
    #[test]
    fn clocks_stop_at_the_end_of_time() {
        let beyond = Timestamp::from_millis(u64::MAX);
        let clock = ManualClock::new(beyond);
        assert_eq!(clock.now(), Timestamp::MAX);
        clock.set(Timestamp::from_millis(0));
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), Timestamp::MAX);
        clock.set(Timestamp::from_millis(Timestamp::MAX.as_millis() + 1));
        assert_eq!(clock.now(), Timestamp::MAX);

        struct Far;
        impl Clock for Far {
            fn now(&self) -> Timestamp {
                Timestamp::from_millis(u64::MAX)
            }
        }
        let time = MonotonicTime::new(Box::new(Far));
        assert_eq!(time.now(), Timestamp::MAX.as_millis());
        time.observe(u64::MAX);
        assert_eq!(time.now(), Timestamp::MAX.as_millis());
        assert!(SystemClock.now() < Timestamp::MAX);
    }

    #[test]
    fn max_is_the_last_millisecond_of_year_9999() {
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            (Timestamp::MAX + Duration::from_millis(1)).to_string(),
            "10000-01-01T00:00:00.000Z"
        );
    }
}
