//! Decision and engine metrics through the `metrics` facade (feature `metrics`).
//!
//! Install a recorder (Prometheus, StatsD, …) and every engine reports to it; the
//! names and labels are listed in `docs/observability.md` and as constants here. No
//! label carries a member id: label values come from small fixed sets.
//!
//! A decision costs one counter increment on a handle registered at first use (so an
//! engine reports to the recorder installed when it made its first decision), and one
//! in [`LATENCY_SAMPLE`] also two clock reads and a histogram sample.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ::metrics::{Counter, Gauge, Histogram};

use crate::outcome::{Denied, DenyReason, Sent};

/// Counter: decisions, by `engine`, `outcome`, `reason` and `tier`.
pub const DECISIONS: &str = "invite_limiter_decisions_total";
/// Histogram: seconds from a send's call to its decision, by `engine`; one decision
/// in [`LATENCY_SAMPLE`] per thread is timed.
pub const DECISION_SECONDS: &str = "invite_limiter_decision_seconds";
/// Counter: rules in shadow mode that would have denied an admitted send, by
/// `engine` and `rule` (the [`crate::ShadowRule`] name).
pub const SHADOW_DENIALS: &str = "invite_limiter_shadow_denials_total";
/// Gauge: invitations pending, sampled by the background sweeper.
pub const PENDING_INVITATIONS: &str = "invite_limiter_pending_invitations";
/// Gauge: member records in memory, sampled by the background sweeper.
pub const MEMBER_RECORDS: &str = "invite_limiter_member_records";
/// Gauge: how late the sweeper's latest pass started, in seconds.
pub const SWEEPER_LAG_SECONDS: &str = "invite_limiter_sweeper_lag_seconds";
/// Counter: invitations that expired unanswered, as sweeps find them.
pub const INVITATIONS_EXPIRED: &str = "invite_limiter_invitations_expired_total";
/// Gauge: journal records queued for the writer.
pub const JOURNAL_QUEUE_DEPTH: &str = "invite_limiter_journal_queue_depth";
/// Gauge: seconds since the journal was last synced.
pub const JOURNAL_SYNC_AGE_SECONDS: &str = "invite_limiter_journal_last_sync_age_seconds";
/// Gauge: 1 when the journal has stopped writing, else 0.
pub const JOURNAL_FAILED: &str = "invite_limiter_journal_failed";
/// Counter: calls made to Redis.
pub const REDIS_ROUND_TRIPS: &str = "invite_limiter_redis_round_trips_total";
/// Counter: Redis calls that failed, by `cause`.
pub const REDIS_OUTAGES: &str = "invite_limiter_redis_outages_total";
/// Counter: sends the Redis engine denied from its near-cache, without a round trip.
pub const REDIS_NEAR_CACHE_HITS: &str = "invite_limiter_redis_near_cache_hits_total";
/// Gauge: the Redis circuit breaker: 0 closed, 1 open, 2 probing.
pub const REDIS_BREAKER_STATE: &str = "invite_limiter_redis_breaker_state";

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub(crate) use redis::RedisMetrics;

/// One decision in this many (per thread) is timed for the latency histogram: two
/// clock reads and a histogram sample cost more than the rest of the metrics together.
pub const LATENCY_SAMPLE: u32 = 16;

thread_local! {
    /// Decisions started on this thread, for latency sampling.
    static TICK: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A started decision: the instant, when this one is timed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started(Option<Instant>);

/// The `tier` label values.
const TIERS: [&str; 3] = ["within_limit", "near_limit", "over_limit"];

static NEAR_LIMIT_PERCENT: AtomicU8 = AtomicU8::new(80);

/// Sets the share of a window, in percent, from which a decision is labelled
/// `near_limit` (default 80; values above 100 count as 100). Applies to every engine
/// in the process, like the recorder.
pub fn set_near_limit_percent(percent: u8) {
    NEAR_LIMIT_PERCENT.store(percent.min(100), Ordering::Relaxed);
}

/// The share of a window, in percent, from which a decision is `near_limit`.
pub fn near_limit_percent() -> u8 {
    NEAR_LIMIT_PERCENT.load(Ordering::Relaxed)
}

/// Whether `used` of `limit` reaches the near-limit share.
pub(crate) fn is_near(used: u32, limit: u32) -> bool {
    u64::from(used) * 100 >= u64::from(limit) * u64::from(near_limit_percent())
}

/// Whether the reason is a limit or cooldown the sender ran into (`over_limit`).
fn is_over_limit(reason: &DenyReason) -> bool {
    matches!(
        reason,
        DenyReason::PairPendingLimit { .. }
            | DenyReason::ReinviteCooldown { .. }
            | DenyReason::DailyLimit { .. }
            | DenyReason::WeeklyLimit { .. }
            | DenyReason::NoteQuota { .. }
            | DenyReason::SpamSuspected { .. }
    )
}

/// One engine's metric handles, registered on first use.
#[derive(Debug)]
pub(crate) struct EngineMetrics {
    engine: &'static str,
    on: bool,
    /// `[0]` allowed, `[1 + reason index]` denied; by tier.
    decisions: [[OnceLock<Counter>; 3]; crate::codes::RANKS + 1],
    /// By the rule's place in [`crate::ShadowRule::ALL`].
    shadowed: [OnceLock<Counter>; crate::rules::shadow::ShadowRule::ALL.len()],
    latency: OnceLock<Histogram>,
}

impl EngineMetrics {
    /// Handles for an engine labelled `engine`; `on` false records nothing.
    pub(crate) fn new(engine: &'static str, on: bool) -> Self {
        EngineMetrics {
            engine,
            on,
            decisions: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
            shadowed: std::array::from_fn(|_| OnceLock::new()),
            latency: OnceLock::new(),
        }
    }

    /// Whether this engine reports metrics.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Starts a decision: a clock read for one decision in [`LATENCY_SAMPLE`] on this
    /// thread, none for the others.
    #[inline]
    pub(crate) fn start(&self) -> Started {
        if !self.on {
            return Started(None);
        }
        let tick = TICK.with(|t| {
            let v = t.get();
            t.set(v.wrapping_add(1));
            v
        });
        Started(tick.is_multiple_of(LATENCY_SAMPLE).then(Instant::now))
    }

    /// Records a decision; `near` says whether the sender's fullest window reached the
    /// near-limit share after it.
    #[inline]
    pub(crate) fn decided(&self, started: Started, result: &Result<Sent, Denied>, near: bool) {
        if !self.on {
            return;
        }
        let (row, reason) = match result {
            Ok(_) => (0, "none"),
            Err(d) => (1 + d.reason().rank(), d.reason().code()),
        };
        // A send admitted only because a rule is shadowed counts as over the limit,
        // as it would have been if the rule were enforced.
        let shadowed = result
            .as_ref()
            .map_or(crate::Shadow::none(), Sent::shadowed);
        let tier = match result {
            Err(d) if is_over_limit(d.reason()) => 2,
            Ok(_) if !shadowed.is_empty() => 2,
            _ if near => 1,
            _ => 0,
        };
        let engine = self.engine;
        for (i, rule) in crate::rules::shadow::ShadowRule::ALL
            .into_iter()
            .enumerate()
        {
            if !shadowed.is_empty() && shadowed.contains(rule) {
                self.shadowed[i]
                    .get_or_init(|| {
                        ::metrics::counter!(SHADOW_DENIALS, "engine" => engine, "rule" => rule.name())
                    })
                    .increment(1);
            }
        }
        self.decisions[row][tier]
            .get_or_init(|| {
                let outcome = if row == 0 { "allowed" } else { "denied" };
                ::metrics::counter!(DECISIONS, "engine" => engine, "outcome" => outcome,
                    "reason" => reason, "tier" => TIERS[tier])
            })
            .increment(1);
        if let Some(t) = started.0 {
            self.latency
                .get_or_init(|| ::metrics::histogram!(DECISION_SECONDS, "engine" => engine))
                .record(t.elapsed().as_secs_f64());
        }
    }

    /// A gauge of this engine, looked up at the call (for periodic samples).
    pub(crate) fn gauge(&self, name: &'static str) -> Option<Gauge> {
        self.on
            .then(|| ::metrics::gauge!(name, "engine" => self.engine))
    }

    /// A counter of this engine, looked up at the call (for rare events).
    pub(crate) fn counter(&self, name: &'static str) -> Option<Counter> {
        self.on
            .then(|| ::metrics::counter!(name, "engine" => self.engine))
    }

    /// Samples the sweeper's lateness.
    pub(crate) fn sweeper_lag(&self, late: Duration) {
        if let Some(g) = self.gauge(SWEEPER_LAG_SECONDS) {
            g.set(late.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_limit_is_a_share_of_the_limit() {
        assert!(!is_near(23, 30));
        assert!(is_near(24, 30));
        assert!(is_near(30, 30));
    }
}
