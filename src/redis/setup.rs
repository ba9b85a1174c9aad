//! Bounds on the durations the Redis engine is built with.
//!
//! The script computes in Lua numbers (doubles, exact to 2^53 ms, about 285,000
//! years) and sums spans for key expiries; the client adds its waits to
//! `Instant`s. A policy span past [`MAX_SPAN`] or a wait past [`MAX_WAIT`] is
//! refused when the engine is built, so no sum can overflow or lose precision.

use std::time::Duration;

use super::{BreakerPolicy, RedisSetupError};
use crate::policy::{ConfigError, Policy};

/// The longest policy span the Redis engine accepts: 100 years.
pub(crate) const MAX_SPAN: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// The longest wait (deadline, cache lifetime, breaker backoff) it accepts: 1 day.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Every policy span at most [`MAX_SPAN`].
pub(crate) fn check_policy(p: &Policy) -> Result<(), RedisSetupError> {
    let s = &p.spam;
    let rules = [
        ("burst", s.burst),
        ("strangers", s.strangers),
        ("template", s.template),
        ("reports", s.reports),
    ];
    let mut spans: Vec<(&str, &str, Duration)> = vec![
        ("", "pending_ttl", p.pending_ttl),
        ("", "reinvite_cooldown", p.reinvite_cooldown),
        ("spam", "cooldown", s.cooldown),
        ("spam", "strike_memory", s.strike_memory),
    ];
    spans.extend(
        rules
            .iter()
            .filter_map(|(f, r)| r.map(|r| ("spam", *f, r.per))),
    );
    spans.extend(s.ignored.map(|r| ("spam", "ignored", r.per)));
    spans.extend(
        s.restriction_ladder
            .iter()
            .map(|d| ("spam", "restriction_ladder", *d)),
    );
    match spans.into_iter().find(|(_, _, d)| *d > MAX_SPAN) {
        Some((section, field, _)) => Err(RedisSetupError::Config(ConfigError::new(
            section,
            field,
            "must be at most 100 years for the Redis engine",
        ))),
        None => Ok(()),
    }
}

/// The builder's waits: at most [`MAX_WAIT`], and a deadline longer than zero.
pub(crate) fn check_waits(
    deadline: Duration,
    near_cache: Option<Duration>,
    facts_ttl: Duration,
    breaker: &BreakerPolicy,
) -> Result<(), RedisSetupError> {
    if deadline.is_zero() {
        return Err(RedisSetupError::Setting {
            field: "deadline",
            problem: "must be longer than zero",
        });
    }
    let waits = [
        ("deadline", deadline),
        ("near_cache", near_cache.unwrap_or_default()),
        ("facts_ttl", facts_ttl),
        ("breaker.backoff", breaker.backoff),
        ("breaker.max_backoff", breaker.max_backoff),
    ];
    match waits.into_iter().find(|(_, d)| *d > MAX_WAIT) {
        Some((field, _)) => Err(RedisSetupError::Setting {
            field,
            problem: "must be at most one day",
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: RedisSetupError) -> String {
        match e {
            RedisSetupError::Config(c) => c.field().to_owned(),
            RedisSetupError::Setting { field, .. } => field.to_owned(),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn huge_policy_spans_are_refused_naming_the_field() {
        assert!(check_policy(&Policy::default()).is_ok());
        type Breaker = fn(&mut Policy);
        let cases: [(Breaker, &str); 5] = [
            (|p| p.pending_ttl = Duration::MAX, "pending_ttl"),
            (|p| p.reinvite_cooldown = Duration::MAX, "reinvite_cooldown"),
            (
                |p| p.spam.strike_memory = Duration::MAX,
                "spam.strike_memory",
            ),
            (|p| p.spam.cooldown = MAX_SPAN * 2, "spam.cooldown"),
            (
                |p| p.spam.restriction_ladder.push(Duration::MAX),
                "spam.restriction_ladder",
            ),
        ];
        for (break_it, name) in cases {
            let mut p = Policy::default();
            break_it(&mut p);
            assert_eq!(field(check_policy(&p).unwrap_err()), name);
        }
        let p = Policy {
            pending_ttl: MAX_SPAN,
            ..Policy::default()
        };
        assert!(check_policy(&p).is_ok(), "the bound itself is fine");
    }

    #[test]
    fn huge_waits_are_refused_naming_the_setting() {
        let b = BreakerPolicy::default();
        let ok = Duration::from_millis(200);
        assert!(check_waits(ok, Some(MAX_WAIT), ok, &b).is_ok());
        let max = Duration::MAX;
        let huge = BreakerPolicy {
            max_backoff: max,
            ..b
        };
        let cases = [
            (check_waits(max, None, ok, &b), "deadline"),
            (check_waits(Duration::ZERO, None, ok, &b), "deadline"),
            (check_waits(ok, Some(max), ok, &b), "near_cache"),
            (check_waits(ok, None, max, &b), "facts_ttl"),
            (check_waits(ok, None, ok, &huge), "breaker.max_backoff"),
        ];
        for (got, name) in cases {
            let err = got.unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
            assert_eq!(field(err), name);
        }
    }
}
