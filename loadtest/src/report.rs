//! The run's report: one value, printed as text or written as JSON.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::ops::{OpKind, MIX_KINDS};
use crate::outcome::{ALL_OUTCOMES, OUTCOMES};
use crate::populate::{Catchup, MemoryPhases};
use crate::stats::Merged;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub config: Config,
    pub setup: SetupReport,
    pub run: RunSummary,
    /// One entry per operation kind that ran, in a fixed order.
    pub operations: Vec<OpReport>,
    /// Every engine call.
    pub all: Latency,
    /// Every `send` call (all send kinds).
    pub sends: Latency,
    /// Decisions of every send, by outcome: `Sent` or the deny reason.
    pub decisions: BTreeMap<&'static str, u64>,
    /// Resident memory of this process (in-memory engine only; `null` on Redis).
    pub memory: Option<MemoryReport>,
    /// The background sweeper (in-memory engine only; `null` on Redis, which expires
    /// invitations in each script).
    pub sweeper: Option<SweeperReport>,
    pub baseline: Option<BaselineReport>,
    /// What the backend did differently (operations mapped or skipped).
    pub notes: Vec<String>,
    pub timeline: Vec<TimelinePoint>,
}

/// The engine a run drove.
#[derive(Debug, Clone)]
pub struct BackendReport {
    /// `memory`, `redis URL` or `redis cluster URL,…`.
    pub name: String,
    pub connections: Option<u64>,
    pub redis_prefix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub backend: String,
    pub connections: Option<u64>,
    pub redis_prefix: Option<String>,
    pub members: u64,
    pub premium_share: f64,
    pub zipf: f64,
    pub threads: usize,
    pub duration_s: Option<f64>,
    pub ops: Option<u64>,
    pub seed: u64,
    pub time_factor: f64,
    pub pending: u64,
    pub recent: u64,
    pub spammers: usize,
    pub spam_burst: u32,
    pub mix: String,
    pub sweep_every_ms: u64,
    pub shards: Option<usize>,
    pub spam_signals: bool,
    pub interval_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    pub seconds: f64,
    pub pending_invitations: u64,
    pub in_window_sends: u64,
    /// The in-memory engine's catch-up sweep (`null` on Redis).
    pub catchup_sweep: Option<Catchup>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub wall_seconds: f64,
    pub sim_start_ms: u64,
    pub sim_end_ms: u64,
    pub simulated_hours: f64,
    pub calls: u64,
    pub throughput_per_sec: f64,
}

/// Latency percentiles in nanoseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub mean_ns: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency {
                count: 0,
                p50_ns: 0,
                p90_ns: 0,
                p99_ns: 0,
                p999_ns: 0,
                max_ns: 0,
                mean_ns: 0.0,
            };
        }
        Latency {
            count: h.len(),
            p50_ns: h.value_at_quantile(0.5),
            p90_ns: h.value_at_quantile(0.9),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
            mean_ns: h.mean(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub op: &'static str,
    pub count: u64,
    pub ops_per_sec: f64,
    pub latency: Latency,
    pub outcomes: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    #[serde(flatten)]
    pub phases: MemoryPhases,
    pub rss_end: Option<u64>,
    pub member_records_end: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweeperReport {
    pub interval_ms: u64,
    pub passes: u64,
    pub expired: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    pub name: &'static str,
    pub calls: u64,
    pub wall_seconds: f64,
    pub throughput_per_sec: f64,
    pub allowed: u64,
    pub denied: u64,
    pub latency: Latency,
    /// Our `send` latency on the same stream, for comparison.
    pub ours: Latency,
    /// Our send p99 divided by the baseline's.
    pub p99_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    pub t_s: f64,
    pub ops_per_sec: f64,
    pub p99_ns: u64,
}

fn outcome_map(counts: &[u64; OUTCOMES]) -> BTreeMap<&'static str, u64> {
    ALL_OUTCOMES
        .iter()
        .filter(|o| counts[o.index()] > 0)
        .map(|o| (o.name(), counts[o.index()]))
        .collect()
}

/// Per-operation figures, the combined latencies and the decisions, from merged stats.
pub struct Measured {
    pub operations: Vec<OpReport>,
    pub all: Latency,
    pub sends: Latency,
    pub decisions: BTreeMap<&'static str, u64>,
    pub timeline: Vec<TimelinePoint>,
}

pub fn measure(m: &Merged, interval_ms: u64) -> Measured {
    let secs = m.wall.as_secs_f64().max(1e-9);
    let operations = MIX_KINDS
        .iter()
        .filter(|k| !m.hist[k.index()].is_empty())
        .map(|k| {
            let h = &m.hist[k.index()];
            OpReport {
                op: k.mix_name(),
                count: h.len(),
                ops_per_sec: h.len() as f64 / secs,
                latency: Latency::of(h),
                outcomes: outcome_map(&m.outcomes[k.index()]),
            }
        })
        .collect();
    let mut decisions = [0u64; OUTCOMES];
    for k in MIX_KINDS.iter().filter(|k| k.is_send()) {
        for o in ALL_OUTCOMES.iter().filter(|o| o.is_decision()) {
            decisions[o.index()] += m.outcomes[k.index()][o.index()];
        }
    }
    let step = interval_ms as f64 / 1e3;
    let timeline = m
        .timeline
        .iter()
        .filter_map(|(idx, p)| {
            // The last interval is cut short by the end of the run.
            let begin = *idx as f64 * step;
            let end = ((*idx as f64 + 1.0) * step).min(secs);
            let length = end - begin;
            (length >= step / 4.0).then(|| TimelinePoint {
                t_s: end,
                ops_per_sec: p.count as f64 / length,
                p99_ns: if p.hist.is_empty() {
                    0
                } else {
                    p.hist.value_at_quantile(0.99)
                },
            })
        })
        .collect();
    Measured {
        operations,
        all: Latency::of(&m.combined(|_| true)),
        sends: Latency::of(&m.combined(OpKind::is_send)),
        decisions: outcome_map(&decisions),
        timeline,
    }
}

impl Report {
    /// The JSON form (pretty-printed).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}
