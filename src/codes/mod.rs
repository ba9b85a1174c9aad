//! Every code that leaves the process, defined once: the numbers snapshots, the
//! journal and the Redis engine store for tiers, settings, account statuses,
//! invitation endings and spam feedback, and the deny reasons' names and precedence
//! ranks (`reasons`). Spam signals travel as [`crate::SpamSignals`] bits.
//!
//! Codes are never reused: a new variant gets a new code, so old data keeps its
//! meaning. Every `*_code` function is an exhaustive match, so a variant cannot be
//! added without one.

#[cfg(any(feature = "server", feature = "redis"))]
pub(crate) mod names;
mod reasons;
#[cfg(any(feature = "server", feature = "redis"))]
pub(crate) mod words;

#[cfg(all(test, feature = "http"))]
pub(crate) use reasons::fixtures;
#[cfg(feature = "metrics")]
pub(crate) use reasons::RANKS;

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::codec::{DecodeError, Reader, Writer};
use crate::rules::spam::Feedback;
use crate::sender::ledger::Ending;
use crate::time::Timestamp;

/// Tiers by code.
const TIERS: [Tier; 2] = [Tier::Free, Tier::Premium];

pub(crate) fn tier_code(t: Tier) -> u8 {
    match t {
        Tier::Free => 0,
        Tier::Premium => 1,
    }
}

pub(crate) fn tier_from(code: u8) -> Option<Tier> {
    TIERS.get(usize::from(code)).copied()
}

/// Invite settings by code.
const SETTINGS: [InviteSetting; 6] = [
    InviteSetting::Everyone,
    InviteSetting::EmailOrContacts,
    InviteSetting::ContactsOnly,
    InviteSetting::NetworkOnly,
    InviteSetting::FollowingOnly,
    InviteSetting::Nobody,
];

pub(crate) fn setting_code(s: InviteSetting) -> u8 {
    match s {
        InviteSetting::Everyone => 0,
        InviteSetting::EmailOrContacts => 1,
        InviteSetting::ContactsOnly => 2,
        InviteSetting::NetworkOnly => 3,
        InviteSetting::FollowingOnly => 4,
        InviteSetting::Nobody => 5,
    }
}

pub(crate) fn setting_from(code: u8) -> Option<InviteSetting> {
    SETTINGS.get(usize::from(code)).copied()
}

/// Account status kinds; a restriction is followed by its optional `until`.
pub(crate) const ACTIVE: u8 = 0;
pub(crate) const RESTRICTED: u8 = 1;
pub(crate) const BANNED: u8 = 2;

/// The status's kind code and, for a restriction that lifts, its instant.
pub(crate) fn status_code(s: AccountStatus) -> (u8, Option<u64>) {
    match s {
        AccountStatus::Active => (ACTIVE, None),
        AccountStatus::Restricted { until } => (RESTRICTED, until.map(Timestamp::as_millis)),
        AccountStatus::Banned => (BANNED, None),
    }
}

/// Writes a status as snapshots and the journal store it.
pub(crate) fn write_status(w: &mut Writer, s: AccountStatus) {
    let (kind, until) = status_code(s);
    w.u8(kind);
    if kind == RESTRICTED {
        w.opt_u64(until);
    }
}

/// Reads a status written by [`write_status`].
pub(crate) fn read_status(r: &mut Reader<'_>) -> Result<AccountStatus, DecodeError> {
    Ok(match r.u8()? {
        ACTIVE => AccountStatus::Active,
        RESTRICTED => AccountStatus::Restricted {
            until: r.opt_u64()?.map(Timestamp::from_millis),
        },
        BANNED => AccountStatus::Banned,
        _ => return r.fail("invalid account status"),
    })
}

/// How an invitation ended (0: it has not).
pub(crate) fn ending_code(e: Option<Ending>) -> u8 {
    match e {
        None => 0,
        Some(Ending::Accepted) => 1,
        Some(Ending::Declined) => 2,
        Some(Ending::Withdrawn) => 3,
        Some(Ending::Reported) => 4,
    }
}

pub(crate) fn ending_from(code: u8) -> Option<Option<Ending>> {
    Some(match code {
        0 => None,
        1 => Some(Ending::Accepted),
        2 => Some(Ending::Declined),
        3 => Some(Ending::Withdrawn),
        4 => Some(Ending::Reported),
        _ => return None,
    })
}

/// A recipient's answer as the spam state records it.
pub(crate) fn feedback_code(f: Feedback) -> u8 {
    match f {
        Feedback::Accepted => 0,
        Feedback::Declined => 1,
        Feedback::Expired => 2,
        Feedback::Reported => 3,
    }
}

pub(crate) fn feedback_from(code: u8) -> Option<Feedback> {
    Some(match code {
        0 => Feedback::Accepted,
        1 => Feedback::Declined,
        2 => Feedback::Expired,
        3 => Feedback::Reported,
        _ => return None,
    })
}

/// A code as the Redis engine stores it in a member's hash: its decimal digit.
#[cfg(feature = "redis")]
pub(crate) fn digit(code: u8) -> &'static str {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    DIGITS.get(usize::from(code)).copied().unwrap_or("?")
}

/// A code read back from a member's Redis hash.
#[cfg(feature = "redis")]
pub(crate) fn from_digit(text: &str) -> Option<u8> {
    match text.as_bytes() {
        [d @ b'0'..=b'9'] => Some(d - b'0'),
        _ => None,
    }
}

/// A member's own limits as one text field, `daily,weekly,notes,max_note_chars`
/// (notes -1: unlimited): the Redis engine's hash field and the module's `IL.GET`.
#[cfg(any(feature = "redis", feature = "server"))]
pub(crate) fn limits_text(l: &crate::policy::TierLimits) -> String {
    let notes = l.notes_per_30d.map_or(-1, i64::from);
    format!("{},{},{notes},{}", l.daily, l.weekly, l.max_note_chars)
}

/// Reads what [`limits_text`] writes.
#[cfg(feature = "redis")]
pub(crate) fn limits_from_text(v: &str) -> Option<crate::policy::TierLimits> {
    let mut it = v.split(',');
    let daily = it.next()?.parse().ok()?;
    let weekly = it.next()?.parse().ok()?;
    let notes_per_30d = match it.next()?.parse::<i64>().ok()? {
        -1 => None,
        n => Some(u32::try_from(n).ok()?),
    };
    let max_note_chars = it.next()?.parse().ok()?;
    it.next().is_none().then_some(crate::policy::TierLimits {
        daily,
        weekly,
        notes_per_30d,
        max_note_chars,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_and_unknown_codes_do_not() {
        for t in TIERS {
            assert_eq!(tier_from(tier_code(t)), Some(t));
        }
        for s in SETTINGS {
            assert_eq!(setting_from(setting_code(s)), Some(s));
        }
        assert_eq!((tier_from(2), setting_from(6)), (None, None));
        for e in [None, Some(Ending::Accepted), Some(Ending::Reported)] {
            assert_eq!(ending_from(ending_code(e)), Some(e));
        }
        assert_eq!(ending_from(5), None);
        for f in [Feedback::Accepted, Feedback::Expired, Feedback::Reported] {
            assert_eq!(feedback_from(feedback_code(f)), Some(f));
        }
        assert_eq!(feedback_from(4), None);
        let until = Some(Timestamp::from_millis(9));
        for s in [
            AccountStatus::Active,
            AccountStatus::Banned,
            AccountStatus::Restricted { until },
            AccountStatus::Restricted { until: None },
        ] {
            let mut w = Writer::default();
            write_status(&mut w, s);
            let bytes = w.into_bytes();
            assert_eq!(read_status(&mut Reader::new(&bytes, 0)), Ok(s));
        }
        assert!(read_status(&mut Reader::new(&[3], 0)).is_err());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn digits_read_back() {
        for code in 0..10 {
            assert_eq!(from_digit(digit(code)), Some(code));
        }
        assert_eq!(
            (from_digit("10"), from_digit(""), from_digit("x")),
            (None, None, None)
        );
    }
}
