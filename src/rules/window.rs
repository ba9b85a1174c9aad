//! Exact rolling windows over sorted event instants.
//!
//! An event at `t` counts in a window of length `len` at every `q` with
//! `t <= q < t + len`. Instants arrive in non-decreasing order (the engine never
//! lets time step backwards), so the log stays sorted by construction.

pub(crate) mod deque;

use deque::SmallDeque;

/// Sorted event instants within the longest window of interest; the first three kept
/// in place, so a member with few sends in the week needs no buffer of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Log {
    times: SmallDeque<u64, 3>,
}

impl Log {
    /// Drops events that no longer count in a window of `len` at `now`.
    pub(crate) fn expire(&mut self, now: u64, len: u64) {
        if self
            .times
            .front()
            .is_some_and(|&t| t.saturating_add(len) <= now)
        {
            let due = self
                .times
                .partition_point(|&t| t.saturating_add(len) <= now);
            self.times.drop_front(due);
        }
    }

    /// Records an event at `at` (clamped so the log stays sorted).
    pub(crate) fn push(&mut self, at: u64) {
        let at = self.times.back().map_or(at, |&last| at.max(last));
        self.times.push_back(at);
    }

    /// Events kept (after [`Log::expire`], the count in the window).
    pub(crate) fn len(&self) -> usize {
        self.times.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The events counted in a window of `len` at `now`, for `len` up to the one
    /// the log is expired with.
    pub(crate) fn count(&self, now: u64, len: u64) -> usize {
        let first = self
            .times
            .partition_point(|&t| t.saturating_add(len) <= now);
        self.times.len() - first
    }

    /// When a window of `len` holding `count` events (the newest ones) at `now` next
    /// has fewer than `limit`: `None` when it already has.
    pub(crate) fn frees_at(&self, count: usize, limit: usize, len: u64) -> Option<u64> {
        if count < limit {
            return None;
        }
        // The oldest `count - limit + 1` counted events must leave; the last of them
        // leaves at its instant plus `len`.
        let start = self.times.len() - count;
        self.times
            .get(start + count - limit)
            .map(|&t| t.saturating_add(len))
    }

    /// The newest event, if any.
    pub(crate) fn last(&self) -> Option<u64> {
        self.times.back().copied()
    }

    /// When the oldest event leaves a window of `len`, if any event is kept.
    pub(crate) fn first_exit(&self, len: u64) -> Option<u64> {
        self.times.front().map(|&t| t.saturating_add(len))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.times.iter().copied()
    }

    /// A log of `times` read from a snapshot; `None` unless they are sorted, since
    /// every window query assumes it.
    pub(crate) fn from_sorted(times: Vec<u64>) -> Option<Log> {
        let sorted = times.windows(2).all(|w| w[0] <= w[1]);
        sorted.then(|| Log {
            times: times.into_iter().collect(),
        })
    }
}

/// Accepted sends over the weekly window, with a cursor on the daily one.
///
/// The counts and the daily window's oldest instant are kept beside the log, at the
/// front of the struct, so that a decision reads them from the member's first cache
/// line without touching the log's buffer.
#[repr(C)]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SendLog {
    /// Instant of the oldest send in the daily window (meaningful when `day_count > 0`).
    day_front: u64,
    day_count: u32,
    week_count: u32,
    /// Index of the first send inside the daily window at the last `advance`.
    day_start: usize,
    log: Log,
}

/// Usage of one window: what counts now, and when it next has room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) used: u32,
    /// When the window next has fewer than `limit` (only when it is full now).
    pub(crate) frees_at: Option<u64>,
    /// When the oldest counted send leaves the window.
    pub(crate) next_slot: Option<u64>,
}

impl SendLog {
    /// Moves the windows to `now`; amortised constant time.
    pub(crate) fn advance(&mut self, now: u64, day: u64, week: u64) {
        let before = self.log.len();
        self.log.expire(now, week);
        let dropped = before - self.log.len();
        self.day_start = self.day_start.saturating_sub(dropped);
        while let Some(&t) = self.log.times.get(self.day_start) {
            if t.saturating_add(day) <= now {
                self.day_start += 1;
            } else {
                break;
            }
        }
        self.refresh();
    }

    /// Recomputes the counts and the daily front from the log.
    fn refresh(&mut self) {
        let len = self.log.len();
        self.week_count = u32::try_from(len).unwrap_or(u32::MAX);
        self.day_count = u32::try_from(len - self.day_start).unwrap_or(u32::MAX);
        self.day_front = self.log.times.get(self.day_start).copied().unwrap_or(0);
    }

    pub(crate) fn push(&mut self, at: u64) {
        self.log.push(at);
        if self.day_count == 0 {
            self.day_front = self.log.last().unwrap_or(at);
        }
        self.day_count = self.day_count.saturating_add(1);
        self.week_count = self.week_count.saturating_add(1);
    }

    /// The next instant [`SendLog::advance`] would change anything.
    pub(crate) fn next_change(&self, day: u64, week: u64) -> Option<u64> {
        let day_exit = self
            .log
            .times
            .get(self.day_start)
            .map(|&t| t.saturating_add(day));
        match (self.log.first_exit(week), day_exit) {
            (Some(w), Some(d)) => Some(w.min(d)),
            (w, d) => w.or(d),
        }
    }

    /// Daily usage against `limit` (call [`SendLog::advance`] first).
    pub(crate) fn daily(&self, limit: u32, day: u64) -> Usage {
        let used = self.day_count;
        if used == 0 || used == limit {
            // The common cases, answered from the cached front.
            let next = (used > 0).then(|| self.day_front.saturating_add(day));
            return Usage {
                used,
                frees_at: if used < limit { None } else { next },
                next_slot: next,
            };
        }
        if used < limit {
            return Usage {
                used,
                frees_at: None,
                next_slot: Some(self.day_front.saturating_add(day)),
            };
        }
        self.usage(used as usize, limit, day)
    }

    /// Weekly usage against `limit` (call [`SendLog::advance`] first).
    pub(crate) fn weekly(&self, limit: u32, week: u64) -> Usage {
        if self.week_count < limit {
            return Usage {
                used: self.week_count,
                frees_at: None,
                next_slot: self.log.first_exit(week),
            };
        }
        self.usage(self.log.len(), limit, week)
    }

    /// Sends counted in the daily and weekly windows, from the cached counts alone.
    pub(crate) fn counts(&self) -> (u32, u32) {
        (self.day_count, self.week_count)
    }

    fn usage(&self, count: usize, limit: u32, len: u64) -> Usage {
        let start = self.log.len() - count;
        Usage {
            used: u32::try_from(count).unwrap_or(u32::MAX),
            frees_at: self.log.frees_at(count, limit as usize, len),
            next_slot: self.log.times.get(start).map(|&t| t.saturating_add(len)),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    pub(crate) fn last(&self) -> Option<u64> {
        self.log.last()
    }

    pub(crate) fn times(&self) -> impl Iterator<Item = u64> + '_ {
        self.log.iter()
    }

    /// The daily cursor, saved so a restored log answers exactly as the original.
    pub(crate) fn day_start(&self) -> usize {
        self.day_start
    }

    /// A send log read from a snapshot; `None` unless `times` are sorted and the
    /// cursor lies within them.
    pub(crate) fn from_parts(times: Vec<u64>, day_start: usize) -> Option<SendLog> {
        if day_start > times.len() {
            return None;
        }
        let log = Log::from_sorted(times)?;
        let mut send_log = SendLog {
            log,
            day_start,
            ..SendLog::default()
        };
        send_log.refresh();
        Some(send_log)
    }
}

/// Usage of a plain [`Log`] against a limit, for the note quota.
pub(crate) fn log_usage(log: &Log, now: u64, limit: Option<u32>, len: u64) -> Usage {
    let count = log.count(now, len);
    let start = log.len() - count;
    Usage {
        used: u32::try_from(count).unwrap_or(u32::MAX),
        frees_at: limit.and_then(|l| log.frees_at(count, l as usize, len)),
        next_slot: log.times.get(start).map(|&t| t.saturating_add(len)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;
    const WEEK: u64 = 7 * DAY;

    #[test]
    fn event_counts_until_just_before_its_window_ends() {
        let mut log = Log::default();
        log.push(1_000);
        assert_eq!(log.count(1_000, DAY), 1);
        assert_eq!(log.count(1_000 + DAY - 1, DAY), 1);
        assert_eq!(log.count(1_000 + DAY, DAY), 0);
        log.expire(1_000 + DAY - 1, DAY);
        assert_eq!(log.len(), 1);
        log.expire(1_000 + DAY, DAY);
        assert!(log.is_empty());
    }

    #[test]
    fn frees_at_is_when_the_count_drops_below_the_limit() {
        let mut log = Log::default();
        for t in [10, 20, 30, 40] {
            log.push(t);
        }
        assert_eq!(log.frees_at(4, 5, 100), None);
        assert_eq!(log.frees_at(4, 4, 100), Some(110));
        // Over the limit (a tier downgrade): two must leave.
        assert_eq!(log.frees_at(4, 3, 100), Some(120));
        // Only the newest two counted.
        assert_eq!(log.frees_at(2, 2, 100), Some(130));
    }

    #[test]
    fn send_log_tracks_day_and_week() {
        let mut s = SendLog::default();
        s.push(0);
        s.push(DAY / 2);
        s.advance(DAY, DAY, WEEK);
        assert_eq!(s.daily(30, DAY).used, 1);
        assert_eq!(s.weekly(300, WEEK).used, 2);
        let full = s.daily(1, DAY);
        assert_eq!(full.frees_at, Some(DAY / 2 + DAY));
        s.advance(WEEK, DAY, WEEK);
        assert_eq!(s.daily(30, DAY).used, 0);
        assert_eq!(s.weekly(300, WEEK).used, 1);
        s.advance(WEEK + DAY / 2, DAY, WEEK);
        assert!(s.is_empty());
        assert_eq!(s.daily(30, DAY).used, 0);
    }

    #[test]
    fn push_keeps_order_when_time_is_earlier() {
        let mut log = Log::default();
        log.push(50);
        log.push(40);
        assert_eq!(log.iter().collect::<Vec<_>>(), vec![50, 50]);
    }
}
