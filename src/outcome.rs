//! What a send returns: an invitation, or a denial that says why and until when.

use std::fmt;

use crate::account::InviteSetting;
use crate::ids::{InviteId, MemberId};
use crate::outage::Outage;
use crate::rules::spam::signals::SpamSignals;
use crate::time::Timestamp;

/// An accepted send: the invitation is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sent {
    pub(crate) id: InviteId,
    pub(crate) expires_at: Timestamp,
    /// When every rule in shadow mode that would have denied the send clears
    /// (`NO_RETRY`: none would have, or one needs an action). Kept in one word with
    /// the set below, so a `Sent` stays as small as a `Denied` on the hot path.
    pub(crate) shadow_retry: u64,
    /// Every rule in shadow mode that would have denied the send.
    pub(crate) shadowed: crate::rules::shadow::Shadow,
}

/// `Sent::shadow_retry` when there is no instant to report.
pub(crate) const NO_RETRY: u64 = u64::MAX;

impl Sent {
    /// The new invitation.
    pub fn id(&self) -> InviteId {
        self.id
    }

    /// When the invitation stops being pending unless ended earlier.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// The rules in shadow mode (see [`crate::Shadow`]) that would have denied this
    /// send had they been enforced; empty when none would have, and for an idempotent
    /// repeat (which is not judged again).
    pub fn shadowed(&self) -> crate::rules::shadow::Shadow {
        self.shadowed
    }

    /// When the same request would have succeeded had the rules in shadow mode been
    /// enforced: the instant every one of [`Sent::shadowed`] clears, as a
    /// [`Denied::retry_at`] would say — `None` when one of them only clears by an
    /// action (a note too long), or when none would have denied.
    pub fn shadowed_retry_at(&self) -> Option<Timestamp> {
        (self.shadow_retry != NO_RETRY).then(|| Timestamp::from_millis(self.shadow_retry))
    }
}

/// Why a send is denied. Variants are listed in precedence order: a denial reports the
/// first that applies (except that of the daily and weekly limits, the one that clears
/// later is reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum DenyReason {
    /// The shared backend could not decide (only engines on shared state report this).
    Unavailable {
        /// What failed.
        cause: Outage,
    },
    /// The idempotency key was used, within 24 hours, for a send to another recipient.
    IdempotencyConflict {
        /// The key.
        key: u64,
        /// The recipient the key was first used for.
        first_recipient: MemberId,
    },
    /// A member cannot invite themselves.
    SelfInvite,
    /// The sender is banned.
    SenderBanned,
    /// The sender is restricted.
    SenderRestricted {
        /// When the restriction lifts by itself, if it does.
        until: Option<Timestamp>,
    },
    /// The recipient is banned and cannot be invited.
    RecipientUnavailable,
    /// The two members are already connected.
    AlreadyConnected,
    /// The recipient's invite setting does not admit this sender.
    RecipientNotAccepting {
        /// The recipient's setting.
        setting: InviteSetting,
    },
    /// Too many invitations from this sender to this recipient are pending.
    PairPendingLimit {
        /// Invitations pending between them.
        pending: u32,
        /// The most allowed.
        limit: u32,
    },
    /// The sender withdrew an invitation to this recipient too recently.
    ReinviteCooldown {
        /// When the cooldown ends.
        until: Timestamp,
    },
    /// The rolling 24-hour limit is reached.
    DailyLimit {
        /// Sends counted in the window.
        used: u32,
        /// The tier's limit.
        limit: u32,
    },
    /// The rolling 7-day limit is reached.
    WeeklyLimit {
        /// Sends counted in the window.
        used: u32,
        /// The tier's limit.
        limit: u32,
    },
    /// The rolling 30-day personalised-note quota is used up.
    NoteQuota {
        /// Notes counted in the window.
        used: u32,
        /// The tier's quota.
        limit: u32,
    },
    /// The note is longer than the tier allows.
    NoteTooLong {
        /// Characters in the trimmed note. A note longer in bytes than four times
        /// the longest note any tier allows is judged on its first bytes alone (see
        /// the engine's docs): then the characters counted there, more than `limit`
        /// but possibly fewer than the note has.
        chars: u32,
        /// The tier's maximum.
        limit: u32,
    },
    /// The sender's recent activity looks like spam.
    SpamSuspected {
        /// The signals that fired.
        signals: SpamSignals,
    },
}

impl DenyReason {
    /// Plain words on what the member can do about it.
    pub fn remedy(&self) -> &'static str {
        match self {
            DenyReason::Unavailable { cause } => cause.remedy(),
            DenyReason::IdempotencyConflict { .. } => {
                "use a fresh idempotency key for a different recipient"
            }
            DenyReason::SelfInvite => "invite someone other than yourself",
            DenyReason::SenderBanned => "appeal the ban to customer support",
            DenyReason::SenderRestricted { .. } => {
                "wait for the restriction to lift, or appeal it to customer support"
            }
            DenyReason::RecipientUnavailable => "invite someone else",
            DenyReason::AlreadyConnected => "send them a message instead",
            DenyReason::RecipientNotAccepting { .. } => {
                "check the recipient's invitation settings: add their email, or re-sync your contacts so they know you"
            }
            DenyReason::PairPendingLimit { .. } => {
                "follow up with the recipient on your pending invitations, or withdraw one"
            }
            DenyReason::ReinviteCooldown { .. } => {
                "wait until the re-invite cooldown after your withdrawal ends"
            }
            DenyReason::DailyLimit { .. } | DenyReason::WeeklyLimit { .. } => {
                "pace your invitations over days and weeks, or upgrade to Premium for higher limits"
            }
            DenyReason::NoteQuota { .. } => {
                "send without a note, wait for the monthly note quota to free up, or upgrade to Premium"
            }
            DenyReason::NoteTooLong { .. } => "shorten the note",
            DenyReason::SpamSuspected { .. } => {
                "slow down, personalise your notes and invite people you know"
            }
        }
    }

    /// Whether this reason holds for every recipient the sender might try (their
    /// status, their windows, a spam cooldown), so trying another is pointless.
    pub(crate) fn holds_for_every_recipient(&self) -> bool {
        matches!(
            self,
            DenyReason::SenderBanned
                | DenyReason::SenderRestricted { .. }
                | DenyReason::DailyLimit { .. }
                | DenyReason::WeeklyLimit { .. }
                | DenyReason::SpamSuspected { .. }
        )
    }

    /// Whether only an action, not time, can clear this reason.
    pub fn needs_action(&self) -> bool {
        matches!(
            self,
            DenyReason::IdempotencyConflict { .. }
                | DenyReason::SelfInvite
                | DenyReason::SenderBanned
                | DenyReason::SenderRestricted { until: None }
                | DenyReason::RecipientUnavailable
                | DenyReason::AlreadyConnected
                | DenyReason::RecipientNotAccepting { .. }
                | DenyReason::NoteTooLong { .. }
                | DenyReason::Unavailable {
                    cause: Outage::BadData | Outage::BlockingInAsync | Outage::Journal
                }
                // A quota of zero notes never frees one.
                | DenyReason::NoteQuota { limit: 0, .. }
        )
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::Unavailable { cause } => write!(f, "no decision was made: {cause}"),
            DenyReason::IdempotencyConflict {
                key,
                first_recipient,
            } => write!(
                f,
                "idempotency key {key} was already used to invite {first_recipient}"
            ),
            DenyReason::SelfInvite => f.write_str("a member cannot invite themselves"),
            DenyReason::SenderBanned => f.write_str("the sender's account is banned"),
            DenyReason::SenderRestricted { until: Some(t) } => {
                write!(f, "the sender's account is restricted until {t}")
            }
            DenyReason::SenderRestricted { until: None } => {
                f.write_str("the sender's account is restricted")
            }
            DenyReason::RecipientUnavailable => f.write_str("the recipient is unavailable"),
            DenyReason::AlreadyConnected => f.write_str("the members are already connected"),
            DenyReason::RecipientNotAccepting { setting } => {
                write!(f, "the recipient accepts invitations only from {setting}")
            }
            DenyReason::PairPendingLimit { pending, limit } => write!(
                f,
                "{pending} invitations to this recipient are already pending (at most {limit})"
            ),
            DenyReason::ReinviteCooldown { until } => write!(
                f,
                "an invitation to this recipient was withdrawn within the re-invite cooldown (until {until})"
            ),
            DenyReason::DailyLimit { used, limit } => {
                write!(
                    f,
                    "{used} of {limit} invitations in the last 24 hours are used"
                )
            }
            DenyReason::WeeklyLimit { used, limit } => {
                write!(
                    f,
                    "{used} of {limit} invitations in the last 7 days are used"
                )
            }
            DenyReason::NoteQuota { used, limit } => {
                write!(
                    f,
                    "{used} of {limit} personalised notes in the last 30 days are used"
                )
            }
            DenyReason::NoteTooLong { chars, limit } => {
                write!(f, "the note has {chars} characters (at most {limit})")
            }
            DenyReason::SpamSuspected { signals } => {
                write!(f, "recent activity looks like spam ({signals})")
            }
        }
    }
}

/// A denied send: the reason, and the earliest instant the same request could succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Denied {
    pub(crate) reason: DenyReason,
    pub(crate) retry_at: Option<Timestamp>,
}

impl Denied {
    /// The first rule that denies.
    pub fn reason(&self) -> &DenyReason {
        &self.reason
    }

    /// When the same request could succeed if nothing else changes; `None` when only an
    /// action (not time) can clear one of the rules that deny it.
    pub fn retry_at(&self) -> Option<Timestamp> {
        self.retry_at
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invitation denied: {}", self.reason)?;
        match self.retry_at {
            Some(t) => write!(f, "; try again at {t}, or {}.", self.reason.remedy()),
            None => write!(f, "; {}.", self.reason.remedy()),
        }
    }
}

impl std::error::Error for Denied {}

/// Why an action on an invitation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InviteError {
    /// No pending or recently ended invitation has this id (it may have expired long ago).
    Unknown(InviteId),
    /// The invitation was already accepted, declined or withdrawn.
    AlreadyEnded(InviteId),
    /// The invitation expired at the given instant.
    Expired {
        /// The invitation.
        id: InviteId,
        /// When it expired.
        at: Timestamp,
    },
    /// The invitation already had the most reminders allowed, or the next one is not due.
    ReminderNotAllowed {
        /// The invitation.
        id: InviteId,
        /// When the next reminder is allowed; `None` when no more are.
        next_at: Option<Timestamp>,
    },
    /// The shared backend could not answer; nothing changed that the caller can rely
    /// on, and the same call may be repeated.
    Unavailable(Outage),
}

impl fmt::Display for InviteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InviteError::Unavailable(cause) => {
                write!(
                    f,
                    "the invitation was not changed: {cause}; {}",
                    cause.remedy()
                )
            }
            InviteError::Unknown(id) => write!(
                f,
                "invitation {id} is not known (it may have expired); check the id"
            ),
            InviteError::AlreadyEnded(id) => write!(
                f,
                "invitation {id} was already accepted, declined or withdrawn; nothing to do"
            ),
            InviteError::Expired { id, at } => write!(
                f,
                "invitation {id} expired at {at}; send a new invitation instead"
            ),
            InviteError::ReminderNotAllowed {
                id,
                next_at: Some(t),
            } => write!(
                f,
                "invitation {id} cannot be reminded yet; try again at {t}"
            ),
            InviteError::ReminderNotAllowed { id, next_at: None } => write!(
                f,
                "invitation {id} had all the reminders allowed; wait for an answer"
            ),
        }
    }
}

impl std::error::Error for InviteError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_reads_as_one_sentence() {
        let d = Denied {
            reason: DenyReason::DailyLimit {
                used: 30,
                limit: 30,
            },
            retry_at: Some(Timestamp::from_millis(5)),
        };
        let text = d.to_string();
        assert!(text.starts_with("invitation denied: 30 of 30"), "{text}");
        assert!(
            text.contains("try again at 1970-01-01T00:00:00.005Z"),
            "{text}"
        );
        assert!(text.ends_with("for higher limits."), "{text}");
        assert_eq!(text.matches(". ").count(), 0, "one sentence: {text}");

        let connected = Denied {
            reason: DenyReason::AlreadyConnected,
            retry_at: None,
        };
        assert_eq!(
            connected.to_string(),
            "invitation denied: the members are already connected; send them a message instead."
        );
    }

    #[test]
    fn action_reasons_are_marked() {
        assert!(DenyReason::SelfInvite.needs_action());
        assert!(DenyReason::SenderRestricted { until: None }.needs_action());
        assert!(!DenyReason::SenderRestricted {
            until: Some(Timestamp::from_millis(1))
        }
        .needs_action());
        assert!(!DenyReason::DailyLimit { used: 1, limit: 1 }.needs_action());
        assert!(DenyReason::NoteQuota { used: 0, limit: 0 }.needs_action());
        assert!(!DenyReason::NoteQuota { used: 5, limit: 5 }.needs_action());
    }
}
