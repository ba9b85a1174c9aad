//! Per-thread latency histograms and counters, merged after the run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::ops::{OpKind, KINDS};
use crate::outcome::{Outcome, OUTCOMES};

/// Longest latency a histogram holds exactly (larger values are clamped): 60 s.
const MAX_NS: u64 = 60_000_000_000;

pub fn histogram(sigfig: u8) -> Histogram<u64> {
    // Constant bounds with 2 or 3 significant figures: creation cannot fail.
    Histogram::new_with_bounds(1, MAX_NS, sigfig).expect("valid constant histogram bounds")
}

/// Adds `src` into `dst`; both come from [`histogram`], so their bounds match.
pub fn merge(dst: &mut Histogram<u64>, src: &Histogram<u64>) {
    if dst.add(src).is_err() {
        for v in src.iter_recorded() {
            dst.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// Calls, and their latency, in one interval of the timeline.
#[derive(Debug)]
pub struct Point {
    pub count: u64,
    pub hist: Histogram<u64>,
}

/// What one worker measured.
#[derive(Debug)]
pub struct ThreadStats {
    pub hist: Vec<Histogram<u64>>,
    pub outcomes: Vec<[u64; OUTCOMES]>,
    pub timeline: BTreeMap<u64, Point>,
    /// Generator steps executed (a burst is one step).
    pub steps: u64,
    pub calls: u64,
    pub finished_at: Option<Instant>,
    start: Instant,
    interval: Duration,
    current: Point,
    current_idx: u64,
    boundary: Instant,
}

impl ThreadStats {
    pub fn new(start: Instant, interval: Duration) -> Self {
        ThreadStats {
            hist: (0..KINDS).map(|_| histogram(3)).collect(),
            outcomes: vec![[0; OUTCOMES]; KINDS],
            timeline: BTreeMap::new(),
            steps: 0,
            calls: 0,
            finished_at: None,
            start,
            interval,
            current: Point {
                count: 0,
                hist: histogram(2),
            },
            current_idx: 0,
            boundary: start + interval,
        }
    }

    pub fn record(&mut self, kind: OpKind, outcome: Outcome, took: Duration, end: Instant) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.hist[kind.index()].saturating_record(ns);
        self.outcomes[kind.index()][outcome.index()] += 1;
        self.calls += 1;
        if end >= self.boundary {
            self.flush();
            let elapsed = end.saturating_duration_since(self.start).as_nanos();
            self.current_idx = (elapsed / self.interval.as_nanos().max(1)) as u64;
            let step = u64::try_from(self.interval.as_nanos()).unwrap_or(u64::MAX);
            let next = step.saturating_mul(self.current_idx.saturating_add(1));
            self.boundary = self.start + Duration::from_nanos(next);
        }
        self.current.count += 1;
        self.current.hist.saturating_record(ns);
    }

    fn flush(&mut self) {
        if self.current.count == 0 {
            return;
        }
        let done = std::mem::replace(
            &mut self.current,
            Point {
                count: 0,
                hist: histogram(2),
            },
        );
        self.timeline.insert(self.current_idx, done);
    }

    pub fn finish(&mut self) {
        self.flush();
        self.finished_at = Some(Instant::now());
    }
}

/// Every worker's measurements added up.
#[derive(Debug)]
pub struct Merged {
    pub hist: Vec<Histogram<u64>>,
    pub outcomes: Vec<[u64; OUTCOMES]>,
    pub timeline: BTreeMap<u64, Point>,
    pub calls: u64,
    pub steps_per_thread: Vec<u64>,
    pub wall: Duration,
}

impl Merged {
    pub fn new(threads: Vec<ThreadStats>, start: Instant) -> Self {
        let mut out = Merged {
            hist: (0..KINDS).map(|_| histogram(3)).collect(),
            outcomes: vec![[0; OUTCOMES]; KINDS],
            timeline: BTreeMap::new(),
            calls: 0,
            steps_per_thread: Vec::new(),
            wall: Duration::ZERO,
        };
        for t in threads {
            for (dst, src) in out.hist.iter_mut().zip(&t.hist) {
                merge(dst, src);
            }
            for (dst, src) in out.outcomes.iter_mut().zip(&t.outcomes) {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += s;
                }
            }
            for (idx, p) in t.timeline {
                let slot = out.timeline.entry(idx).or_insert_with(|| Point {
                    count: 0,
                    hist: histogram(2),
                });
                slot.count += p.count;
                merge(&mut slot.hist, &p.hist);
            }
            out.calls += t.calls;
            out.steps_per_thread.push(t.steps);
            let end = t.finished_at.unwrap_or(start);
            out.wall = out.wall.max(end.saturating_duration_since(start));
        }
        out
    }

    /// Latencies of every kind selected by `pick`, merged.
    pub fn combined(&self, pick: impl Fn(OpKind) -> bool) -> Histogram<u64> {
        let mut h = histogram(3);
        for kind in crate::ops::MIX_KINDS.iter().copied().filter(|k| pick(*k)) {
            merge(&mut h, &self.hist[kind.index()]);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_and_merge_add_up() {
        let start = Instant::now();
        let mut a = ThreadStats::new(start, Duration::from_millis(10));
        a.record(
            OpKind::Send,
            Outcome::Sent,
            Duration::from_nanos(500),
            start,
        );
        a.record(
            OpKind::Send,
            Outcome::DailyLimit,
            Duration::from_nanos(700),
            start + Duration::from_millis(25),
        );
        a.finish();
        let mut b = ThreadStats::new(start, Duration::from_millis(10));
        b.record(OpKind::Accept, Outcome::Ok, Duration::from_micros(3), start);
        b.finish();
        let m = Merged::new(vec![a, b], start);
        assert_eq!(m.calls, 3);
        assert_eq!(m.hist[OpKind::Send.index()].len(), 2);
        assert_eq!(
            m.outcomes[OpKind::Send.index()][Outcome::DailyLimit.index()],
            1
        );
        assert_eq!(m.timeline.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(m.timeline[&0].count, 2);
        assert_eq!(m.combined(OpKind::is_send).len(), 2);
    }
}
