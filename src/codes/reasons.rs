//! Stable machine-readable names of the deny reasons, for clients, logs and metrics.

use crate::outcome::DenyReason;

impl DenyReason {
    /// A stable `snake_case` name of the rule, without the reason's data: what a
    /// client branches on, and what metrics and logs label a denial with.
    ///
    /// ```
    /// use invite_limiter::DenyReason;
    /// assert_eq!(DenyReason::DailyLimit { used: 30, limit: 30 }.code(), "daily_limit");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::Unavailable { .. } => "unavailable",
            DenyReason::IdempotencyConflict { .. } => "idempotency_conflict",
            DenyReason::SelfInvite => "self_invite",
            DenyReason::SenderBanned => "sender_banned",
            DenyReason::SenderRestricted { .. } => "sender_restricted",
            DenyReason::RecipientUnavailable => "recipient_unavailable",
            DenyReason::AlreadyConnected => "already_connected",
            DenyReason::RecipientNotAccepting { .. } => "recipient_not_accepting",
            DenyReason::PairPendingLimit { .. } => "pair_pending_limit",
            DenyReason::ReinviteCooldown { .. } => "reinvite_cooldown",
            DenyReason::DailyLimit { .. } => "daily_limit",
            DenyReason::WeeklyLimit { .. } => "weekly_limit",
            DenyReason::NoteQuota { .. } => "note_quota",
            DenyReason::NoteTooLong { .. } => "note_too_long",
            DenyReason::SpamSuspected { .. } => "spam_suspected",
        }
    }

    /// The reason's place in the contract's precedence, `0..RANKS` (an outage
    /// first): the order the Redis engine sorts a script's rules in, and the index
    /// of the metrics' counter table.
    #[cfg(any(test, feature = "metrics", feature = "redis"))]
    pub(crate) fn rank(&self) -> usize {
        match self {
            DenyReason::Unavailable { .. } => 0,
            DenyReason::IdempotencyConflict { .. } => 1,
            DenyReason::SelfInvite => 2,
            DenyReason::SenderBanned => 3,
            DenyReason::SenderRestricted { .. } => 4,
            DenyReason::RecipientUnavailable => 5,
            DenyReason::AlreadyConnected => 6,
            DenyReason::RecipientNotAccepting { .. } => 7,
            DenyReason::PairPendingLimit { .. } => 8,
            DenyReason::ReinviteCooldown { .. } => 9,
            DenyReason::DailyLimit { .. } => 10,
            DenyReason::WeeklyLimit { .. } => 11,
            DenyReason::NoteQuota { .. } => 12,
            DenyReason::NoteTooLong { .. } => 13,
            DenyReason::SpamSuspected { .. } => 14,
        }
    }
}

/// How many precedence ranks there are (the range of [`DenyReason::rank`]).
#[cfg(any(test, feature = "metrics"))]
pub(crate) const RANKS: usize = 15;

/// One reason of every kind, for the tests that map reasons.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::account::InviteSetting;
    use crate::ids::MemberId;
    use crate::outage::Outage;
    use crate::outcome::DenyReason;
    use crate::rules::spam::signals::SpamSignals;
    use crate::time::Timestamp;

    pub(crate) fn every_reason() -> Vec<DenyReason> {
        let t = Timestamp::from_millis(1_000);
        vec![
            DenyReason::Unavailable {
                cause: Outage::Timeout,
            },
            DenyReason::IdempotencyConflict {
                key: 7,
                first_recipient: MemberId(3),
            },
            DenyReason::SelfInvite,
            DenyReason::SenderBanned,
            DenyReason::SenderRestricted { until: Some(t) },
            DenyReason::RecipientUnavailable,
            DenyReason::AlreadyConnected,
            DenyReason::RecipientNotAccepting {
                setting: InviteSetting::Nobody,
            },
            DenyReason::PairPendingLimit {
                pending: 3,
                limit: 3,
            },
            DenyReason::ReinviteCooldown { until: t },
            DenyReason::DailyLimit {
                used: 30,
                limit: 30,
            },
            DenyReason::WeeklyLimit {
                used: 300,
                limit: 300,
            },
            DenyReason::NoteQuota { used: 5, limit: 5 },
            DenyReason::NoteTooLong {
                chars: 201,
                limit: 200,
            },
            DenyReason::SpamSuspected {
                signals: SpamSignals::empty(),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::every_reason;
    use super::RANKS;
    use crate::outcome::DenyReason;

    #[test]
    fn codes_are_distinct_snake_case() {
        let reasons = every_reason();
        let mut codes: Vec<_> = reasons.iter().map(DenyReason::code).collect();
        for c in &codes {
            assert!(
                c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{c}"
            );
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), reasons.len());
    }

    /// Every reason has its own rank, in the contract's precedence (the fixture
    /// lists them in that order).
    #[test]
    fn ranks_follow_the_contracts_precedence() {
        let ranks: Vec<_> = every_reason().iter().map(|r| r.rank()).collect();
        assert_eq!(ranks, (0..RANKS).collect::<Vec<_>>());
    }
}
