//! The end of time: the longest span a policy may hold, and its check.
//!
//! The engine acts at instants no later than [`Timestamp::MAX`] (clocks are clamped
//! to it), and every span it adds to such an instant is at most
//! [`Policy::LONGEST_SPAN`] — a few such sums still fit in a `u64` of milliseconds
//! with room to spare, so no window, expiry, cooldown or restriction ever saturates
//! and every comparison stays exact up to the last accepted instant.

use std::time::Duration;

use crate::policy::{ConfigError, Policy, ReminderPolicy};
use crate::time::{millis, Timestamp};

impl Policy {
    /// The longest duration any policy field may hold: as long as the whole range of
    /// instants the engine accepts, from the Unix epoch to [`Timestamp::MAX`] (about
    /// 8,000 years). A longer one is a [`ConfigError`].
    pub const LONGEST_SPAN: Duration = Duration::from_millis(Timestamp::MAX.as_millis() + 1);

    /// Every duration field, named as [`ConfigError::field`] names it, with whether
    /// it must be longer than zero.
    fn spans(&self) -> Vec<(String, Duration, bool)> {
        let spam = &self.spam;
        let on = spam.is_enabled();
        let mut spans = vec![
            ("pending_ttl".to_owned(), self.pending_ttl, true),
            (
                "reinvite_cooldown".to_owned(),
                self.reinvite_cooldown,
                false,
            ),
            ("spam.cooldown".to_owned(), spam.cooldown, on),
            ("spam.strike_memory".to_owned(), spam.strike_memory, false),
        ];
        let rules = [
            ("burst", spam.burst.map(|r| r.per)),
            ("strangers", spam.strangers.map(|r| r.per)),
            ("template", spam.template.map(|r| r.per)),
            ("reports", spam.reports.map(|r| r.per)),
            ("ignored", spam.ignored.map(|r| r.per)),
        ];
        for (name, per) in rules {
            if let Some(per) = per {
                spans.push((format!("spam.{name}"), per, true));
            }
        }
        for &step in &spam.restriction_ladder {
            spans.push(("spam.restriction_ladder".to_owned(), step, true));
        }
        spans
    }

    /// Checks that every duration fits: at most [`Policy::LONGEST_SPAN`], and at
    /// least a millisecond (the engine's resolution) where zero is not allowed.
    pub(crate) fn validate_spans(&self) -> Result<(), ConfigError> {
        for (field, span, positive) in self.spans() {
            check_span(&field, span, positive)?;
        }
        Ok(())
    }
}

impl ReminderPolicy {
    /// The most reminders one invitation may get.
    pub const MAX_REMINDERS: u32 = u8::MAX as u32;

    /// Checks that the reminder policy can work; the builder calls this.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `reminders.max` when it is above
    /// [`ReminderPolicy::MAX_REMINDERS`], or `reminders.spacing` when it is longer
    /// than [`Policy::LONGEST_SPAN`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max > Self::MAX_REMINDERS {
            return Err(ConfigError::new("reminders", "max", "must be at most 255"));
        }
        check_span("reminders.spacing", self.spacing, false)
    }
}

fn check_span(field: &str, span: Duration, positive: bool) -> Result<(), ConfigError> {
    if span > Policy::LONGEST_SPAN {
        return Err(ConfigError::new(
            "",
            field,
            "must be at most Policy::LONGEST_SPAN (about 8,000 years)",
        ));
    }
    if positive && millis(span) == 0 {
        return Err(ConfigError::new(
            "",
            field,
            "must be at least one millisecond",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RateRule;

    #[test]
    fn the_longest_span_from_the_last_instant_fits_many_times_over() {
        let end = Timestamp::MAX.as_millis();
        let longest = millis(Policy::LONGEST_SPAN);
        // An instant, a pending TTL, a feedback window and a restriction on top.
        assert!(end.checked_add(longest.checked_mul(8).unwrap()).is_some());
    }

    #[test]
    fn every_huge_duration_is_a_config_error_naming_its_field() {
        type Breaker = fn(&mut Policy, Duration);
        let cases: Vec<(Breaker, &str)> = vec![
            (|p, d| p.pending_ttl = d, "pending_ttl"),
            (|p, d| p.reinvite_cooldown = d, "reinvite_cooldown"),
            (|p, d| p.spam.cooldown = d, "spam.cooldown"),
            (|p, d| p.spam.strike_memory = d, "spam.strike_memory"),
            (
                |p, d| p.spam.restriction_ladder[1] = d,
                "spam.restriction_ladder",
            ),
            (
                |p, d| p.spam.burst = Some(RateRule { max: 1, per: d }),
                "spam.burst",
            ),
            (
                |p, d| p.spam.ignored.as_mut().unwrap().per = d,
                "spam.ignored",
            ),
        ];
        let just_over = Policy::LONGEST_SPAN + Duration::from_millis(1);
        for (break_it, field) in cases {
            for huge in [Duration::MAX, just_over] {
                let mut policy = Policy::default();
                break_it(&mut policy, huge);
                let err = policy.validate().unwrap_err();
                assert_eq!(err.field(), field);
                assert!(err.to_string().contains("LONGEST_SPAN"), "{err}");
            }
            let mut policy = Policy::default();
            break_it(&mut policy, Policy::LONGEST_SPAN);
            assert_eq!(policy.validate(), Ok(()), "{field} at the longest span");
        }
    }

    #[test]
    fn a_span_under_a_millisecond_is_zero_to_the_engine() {
        let policy = Policy {
            pending_ttl: Duration::from_micros(999),
            ..Policy::default()
        };
        assert_eq!(policy.validate().unwrap_err().field(), "pending_ttl");
        // Where zero means "none", a sub-millisecond span is accepted as none.
        let policy = Policy {
            reinvite_cooldown: Duration::from_micros(999),
            ..Policy::default()
        };
        assert_eq!(policy.validate(), Ok(()));
    }

    #[test]
    fn reminder_counts_above_a_byte_are_refused() {
        let ok = ReminderPolicy {
            max: 255,
            ..ReminderPolicy::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        let over = ReminderPolicy { max: 256, ..ok };
        assert_eq!(over.validate().unwrap_err().field(), "reminders.max");
        let far = ReminderPolicy {
            spacing: Duration::MAX,
            ..ok
        };
        assert_eq!(far.validate().unwrap_err().field(), "reminders.spacing");
    }
}
