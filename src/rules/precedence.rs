//! The rules, in precedence order, evaluated on plain data: no locks, no clock.

use crate::account::AccountStatus;
use crate::outcome::{Denied, DenyReason};
use crate::policy::{Policy, TierLimits};
pub(crate) use crate::rules::recipient::View;
use crate::rules::spam::Verdict;
use crate::rules::window::{log_usage, Log, SendLog};
use crate::rules::Spans;
use crate::time::Timestamp;

/// The request, prepared for judging.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) sender: u64,
    pub(crate) recipient: u64,
    pub(crate) note: Option<&'a str>,
    pub(crate) key: Option<u64>,
}

impl<'a> Subject<'a> {
    /// The same request with its note cut to what the rules of `policy` read (see
    /// [`crate::request::bounded_note`]): taken under the sender's lock, with the
    /// policy that lock guards, so a policy change can never judge a cut note.
    pub(crate) fn judged(&self, policy: &crate::Policy) -> Subject<'a> {
        Subject {
            note: self.note.map(|n| crate::request::bounded_note(n, policy)),
            ..*self
        }
    }
}

/// What the pair rules read: invitations pending from a sender to a recipient, and
/// the re-invite cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairFacts {
    pub(crate) pending: u32,
    /// Sending instant of the invitation whose expiry frees a slot (when at the cap).
    pub(crate) frees: Option<u64>,
    /// End of the cooldown after a withdrawal (0: none).
    pub(crate) cooldown_until: u64,
}

/// What the rules read of the sender's own state (the record settled at `now`).
pub(crate) trait SenderState {
    /// The limits the sender sends under.
    fn limits<'a>(&'a self, policy: &'a Policy) -> &'a TierLimits;
    /// The account status as set (see [`AccountStatus::at`] for its value now).
    fn status(&self) -> AccountStatus;
    /// Whether the sender is connected to `other`.
    fn is_connected(&self, other: u64) -> bool;
    /// The recipient of the send made with idempotency `key` in the last 24 hours.
    fn keyed_recipient(&self, key: u64) -> Option<u64>;
    /// The sends in the rolling windows.
    fn sends(&self) -> &SendLog;
    /// The instants of the notes in the rolling 30 days, if any.
    fn notes(&self) -> Option<&Log>;
}

/// Everything the rules read, borrowed.
pub(crate) struct Facts<'a, M: SenderState> {
    pub(crate) now: u64,
    pub(crate) member: &'a M,
    pub(crate) pair: Option<PairFacts>,
    pub(crate) view: View,
    pub(crate) spam: Option<Verdict>,
    pub(crate) policy: &'a Policy,
    pub(crate) spans: &'a Spans,
}

/// Calls `deny` for every rule that denies, in precedence order, with that rule's own
/// instant of clearing (`None`: only an action clears it). The member must be settled
/// at `now`.
pub(crate) fn evaluate<M: SenderState>(
    f: &Facts<'_, M>,
    s: &Subject<'_>,
    deny: &mut impl FnMut(DenyReason, Option<u64>),
) {
    let m = f.member;
    let limits: &TierLimits = m.limits(f.policy);
    if let Some(key) = s.key {
        match m.keyed_recipient(key) {
            Some(first) if first != s.recipient => deny(
                DenyReason::IdempotencyConflict {
                    key,
                    first_recipient: crate::MemberId(first),
                },
                None,
            ),
            _ => {}
        }
    }
    if s.sender == s.recipient {
        deny(DenyReason::SelfInvite, None);
    }
    match m.status().at(Timestamp::from_millis(f.now)) {
        AccountStatus::Banned => deny(DenyReason::SenderBanned, None),
        AccountStatus::Restricted { until } => deny(
            DenyReason::SenderRestricted { until },
            until.map(Timestamp::as_millis),
        ),
        AccountStatus::Active => {}
    }
    if f.view.banned {
        deny(DenyReason::RecipientUnavailable, None);
    }
    if m.is_connected(s.recipient) {
        deny(DenyReason::AlreadyConnected, None);
    }
    if !f.view.admits {
        deny(
            DenyReason::RecipientNotAccepting {
                setting: f.view.setting,
            },
            None,
        );
    }
    if let Some(pair) = f.pair {
        let pending = pair.pending;
        if pending >= f.policy.max_pending_per_pair {
            // The pair frees a slot when enough of its oldest invitations expire.
            let frees = pair.frees.map(|t| t.saturating_add(f.spans.ttl));
            let limit = f.policy.max_pending_per_pair;
            deny(DenyReason::PairPendingLimit { pending, limit }, frees);
        }
        if pair.cooldown_until > f.now {
            let until = Timestamp::from_millis(pair.cooldown_until);
            deny(
                DenyReason::ReinviteCooldown { until },
                Some(pair.cooldown_until),
            );
        }
    }
    // The counts come from the record's first cache line; the log itself is read only
    // for the instant a full window frees.
    let sends = m.sends();
    let (day_used, week_used) = sends.counts();
    if day_used >= limits.daily {
        let day = sends.daily(limits.daily, f.spans.day);
        let reason = DenyReason::DailyLimit {
            used: day.used,
            limit: limits.daily,
        };
        deny(reason, day.frees_at);
    }
    if week_used >= limits.weekly {
        let week = sends.weekly(limits.weekly, f.spans.week);
        let reason = DenyReason::WeeklyLimit {
            used: week.used,
            limit: limits.weekly,
        };
        deny(reason, week.frees_at);
    }
    if let Some(note) = s.note {
        if let Some(limit) = limits.notes_per_30d {
            let usage = m
                .notes()
                .map(|notes| log_usage(notes, f.now, Some(limit), f.spans.note));
            let used = usage.map_or(0, |u| u.used);
            if used >= limit {
                deny(
                    DenyReason::NoteQuota { used, limit },
                    usage.and_then(|u| u.frees_at),
                );
            }
        }
        let chars = note.chars().count();
        if chars > limits.max_note_chars as usize {
            let chars = u32::try_from(chars).unwrap_or(u32::MAX);
            deny(
                DenyReason::NoteTooLong {
                    chars,
                    limit: limits.max_note_chars,
                },
                None,
            );
        }
    }
    if let Some(v) = f.spam {
        deny(
            DenyReason::SpamSuspected { signals: v.signals },
            Some(v.until),
        );
    }
}

/// Folds the denying rules into one denial: the first reason (of the daily and
/// weekly limits, the one that clears later), and the instant all of them clear.
#[derive(Debug, Default)]
pub(crate) struct Verdicts {
    first: Option<(DenyReason, Option<u64>)>,
    retry: Option<u64>,
    needs_action: bool,
}

impl Verdicts {
    pub(crate) fn add(&mut self, reason: DenyReason, at: Option<u64>) {
        // Each rule's instant and its kind must agree on whether time can clear it.
        debug_assert_eq!(at.is_none(), reason.needs_action(), "{reason:?}");
        match at {
            None => self.needs_action = true,
            Some(t) => self.retry = Some(self.retry.map_or(t, |r| r.max(t))),
        }
        match self.first {
            None => self.first = Some((reason, at)),
            Some((DenyReason::DailyLimit { .. }, daily_at))
                if matches!(reason, DenyReason::WeeklyLimit { .. }) && at > daily_at =>
            {
                self.first = Some((reason, at));
            }
            Some(_) => {}
        }
    }

    pub(crate) fn into_denied(self) -> Option<Denied> {
        let (reason, _) = self.first?;
        let retry_at = if self.needs_action {
            None
        } else {
            self.retry.map(Timestamp::from_millis)
        };
        Some(Denied { reason, retry_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_of_daily_and_weekly_is_reported() {
        let mut v = Verdicts::default();
        v.add(DenyReason::DailyLimit { used: 1, limit: 1 }, Some(10));
        v.add(DenyReason::WeeklyLimit { used: 1, limit: 1 }, Some(20));
        let d = v.into_denied().unwrap();
        assert!(matches!(d.reason, DenyReason::WeeklyLimit { .. }));
        assert_eq!(d.retry_at, Some(Timestamp::from_millis(20)));

        let mut tie = Verdicts::default();
        tie.add(DenyReason::DailyLimit { used: 1, limit: 1 }, Some(20));
        tie.add(DenyReason::WeeklyLimit { used: 1, limit: 1 }, Some(20));
        assert!(matches!(
            tie.into_denied().unwrap().reason,
            DenyReason::DailyLimit { .. }
        ));
    }

    #[test]
    fn any_action_rule_makes_retry_none() {
        let mut v = Verdicts::default();
        v.add(DenyReason::DailyLimit { used: 1, limit: 1 }, Some(10));
        v.add(DenyReason::NoteTooLong { chars: 9, limit: 1 }, None);
        let d = v.into_denied().unwrap();
        assert!(matches!(d.reason, DenyReason::DailyLimit { .. }));
        assert_eq!(d.retry_at, None);
        assert!(Verdicts::default().into_denied().is_none());
    }
}
