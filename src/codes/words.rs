//! A deny reason as the Redis module answers it: its code and up to two numbers
//! (`[used, limit]`, `[pending, limit]`, `[until]`, the setting's code, the spam
//! signals' bits, the idempotency key and first recipient), and back.

use crate::outcome::DenyReason;
use crate::time::Timestamp;

/// The reason's code and its numbers.
#[cfg(any(test, feature = "server"))]
pub(crate) fn reason_words(r: &DenyReason) -> (&'static str, Vec<u64>) {
    let details = match *r {
        DenyReason::IdempotencyConflict {
            key,
            first_recipient,
        } => vec![key, first_recipient.0],
        DenyReason::SenderRestricted { until } => {
            until.map(Timestamp::as_millis).into_iter().collect()
        }
        DenyReason::RecipientNotAccepting { setting } => {
            vec![u64::from(super::setting_code(setting))]
        }
        DenyReason::PairPendingLimit { pending, limit }
        | DenyReason::DailyLimit {
            used: pending,
            limit,
        }
        | DenyReason::WeeklyLimit {
            used: pending,
            limit,
        }
        | DenyReason::NoteQuota {
            used: pending,
            limit,
        } => vec![pending.into(), limit.into()],
        DenyReason::NoteTooLong { chars, limit } => vec![chars.into(), limit.into()],
        DenyReason::ReinviteCooldown { until } => vec![until.as_millis()],
        DenyReason::SpamSuspected { signals } => vec![u64::from(signals.bits())],
        DenyReason::Unavailable { .. }
        | DenyReason::SelfInvite
        | DenyReason::SenderBanned
        | DenyReason::RecipientUnavailable
        | DenyReason::AlreadyConnected => Vec::new(),
    };
    (r.code(), details)
}

/// The reason `code` with `details` names; `None` for anything malformed.
#[cfg(any(test, feature = "redis"))]
pub(crate) fn reason_from_words(code: &str, details: &[u64]) -> Option<DenyReason> {
    use crate::ids::MemberId;
    use crate::outage::Outage;
    use crate::rules::spam::signals::SpamSignals;
    let n = |i: usize| details.get(i).copied();
    let small = |i: usize| n(i).and_then(|v| u32::try_from(v).ok());
    let at = |i: usize| n(i).map(Timestamp::from_millis);
    Some(match code {
        "unavailable" => DenyReason::Unavailable {
            cause: Outage::BadData,
        },
        "idempotency_conflict" => DenyReason::IdempotencyConflict {
            key: n(0)?,
            first_recipient: MemberId(n(1)?),
        },
        "self_invite" => DenyReason::SelfInvite,
        "sender_banned" => DenyReason::SenderBanned,
        "sender_restricted" => DenyReason::SenderRestricted { until: at(0) },
        "recipient_unavailable" => DenyReason::RecipientUnavailable,
        "already_connected" => DenyReason::AlreadyConnected,
        "recipient_not_accepting" => DenyReason::RecipientNotAccepting {
            setting: super::setting_from(u8::try_from(n(0)?).ok()?)?,
        },
        "pair_pending_limit" => DenyReason::PairPendingLimit {
            pending: small(0)?,
            limit: small(1)?,
        },
        "reinvite_cooldown" => DenyReason::ReinviteCooldown { until: at(0)? },
        "daily_limit" => DenyReason::DailyLimit {
            used: small(0)?,
            limit: small(1)?,
        },
        "weekly_limit" => DenyReason::WeeklyLimit {
            used: small(0)?,
            limit: small(1)?,
        },
        "note_quota" => DenyReason::NoteQuota {
            used: small(0)?,
            limit: small(1)?,
        },
        "note_too_long" => DenyReason::NoteTooLong {
            chars: small(0)?,
            limit: small(1)?,
        },
        "spam_suspected" => DenyReason::SpamSuspected {
            signals: SpamSignals::from_bits(u8::try_from(n(0)?).ok()?),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_its_words() {
        for r in super::super::reasons::fixtures::every_reason() {
            let (code, details) = reason_words(&r);
            let back = reason_from_words(code, &details).expect(code);
            match r {
                // The cause of an outage is the client's to say, not the server's.
                DenyReason::Unavailable { .. } => assert_eq!(back.code(), "unavailable"),
                _ => assert_eq!(back, r),
            }
        }
        assert_eq!(reason_from_words("daily_limit", &[1]), None);
        assert_eq!(reason_from_words("nonsense", &[]), None);
    }
}
