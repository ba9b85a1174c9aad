//! The engine script's answers, parsed. Anything that does not parse is bad data
//! under the engine's keys, never a panic.

use crate::account::{AccountStatus, InviteSetting};
use crate::codes;
use crate::ids::MemberId;
use crate::outage::Outage;
use crate::outcome::DenyReason;
use crate::report::{window, Capacity, NoteCapacity};
use crate::request::InviteRequest;
use crate::rules::spam::signals::SpamSignals;
use crate::rules::window::Usage;
use crate::time::Timestamp;

/// One rule that denies, with its own instant of clearing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) reason: DenyReason,
    pub(crate) at: Option<u64>,
}

impl Rule {
    pub(crate) fn new(reason: DenyReason, at: Option<u64>) -> Self {
        Rule { reason, at }
    }

    /// Fills in what only the request knows (the idempotency key).
    pub(crate) fn complete(&mut self, req: &InviteRequest) {
        if let DenyReason::IdempotencyConflict { key, .. } = &mut self.reason {
            *key = req.key().unwrap_or_default();
        }
    }
}

/// The capacity fields as the script gives them; -1 is "none".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawCapacity(Vec<i64>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScriptReply {
    Sent {
        seq: u64,
        at: u64,
        /// Rules in shadow mode that would have denied the send.
        shadowed: Vec<Rule>,
    },
    Rules {
        now: u64,
        rules: Vec<Rule>,
    },
    Ended {
        recipient: u64,
    },
    Unknown,
    /// Ended before; when it was accepted, its recipient (so the caller can finish
    /// connecting that side).
    AlreadyEnded {
        accepted_by: Option<u64>,
    },
    Expired(u64),
    Pair(u32),
    Capacity(RawCapacity),
    Mirrored,
    /// The script saw another policy version stored than the one it was given.
    Stale,
}

/// The invite setting `code` (as stored in a member's hash) stands for.
pub(crate) fn setting_from(code: &str) -> Result<InviteSetting, Outage> {
    crate::codes::from_digit(code)
        .and_then(crate::codes::setting_from)
        .ok_or(Outage::BadData)
}

fn int<T: std::str::FromStr>(w: Option<&String>) -> Result<T, Outage> {
    w.and_then(|s| s.parse().ok()).ok_or(Outage::BadData)
}

fn instant(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
}

fn rule(code: &str, at: i64, a: &String, b: &String) -> Result<Rule, Outage> {
    let at = instant(at);
    let n = |w: &String| int::<u32>(Some(w));
    let reason = match code {
        "conflict" => DenyReason::IdempotencyConflict {
            key: 0,
            first_recipient: MemberId(int(Some(a))?),
        },
        "banned" => DenyReason::SenderBanned,
        "restricted" => DenyReason::SenderRestricted {
            until: at.map(Timestamp::from_millis),
        },
        "connected" => DenyReason::AlreadyConnected,
        "rbanned" => DenyReason::RecipientUnavailable,
        "closed" => DenyReason::RecipientNotAccepting {
            setting: setting_from(a)?,
        },
        "pair" => DenyReason::PairPendingLimit {
            pending: n(a)?,
            limit: n(b)?,
        },
        "cooldown" => DenyReason::ReinviteCooldown {
            until: Timestamp::from_millis(at.ok_or(Outage::BadData)?),
        },
        "daily" => DenyReason::DailyLimit {
            used: n(a)?,
            limit: n(b)?,
        },
        "weekly" => DenyReason::WeeklyLimit {
            used: n(a)?,
            limit: n(b)?,
        },
        "notes" => DenyReason::NoteQuota {
            used: n(a)?,
            limit: n(b)?,
        },
        "long" => DenyReason::NoteTooLong {
            chars: n(a)?,
            limit: n(b)?,
        },
        "spam" => {
            let bits = int::<u8>(Some(a))?;
            let signals = SpamSignals::from_bits(bits);
            if signals.is_empty() || signals.bits() != bits {
                return Err(Outage::BadData);
            }
            DenyReason::SpamSuspected { signals }
        }
        _ => return Err(Outage::BadData),
    };
    // Each rule's instant must agree with its kind, or the reply is not ours.
    if at.is_none() != reason.needs_action() {
        return Err(Outage::BadData);
    }
    Ok(Rule { reason, at })
}

/// Rules as the script lists them: code, instant, two numbers each.
fn rules(words: &[String]) -> Result<Vec<Rule>, Outage> {
    if !words.len().is_multiple_of(4) {
        return Err(Outage::BadData);
    }
    words
        .chunks(4)
        .map(|c| rule(&c[0], int(Some(&c[1]))?, &c[2], &c[3]))
        .collect()
}

impl ScriptReply {
    pub(crate) fn parse(words: Vec<String>) -> Result<Self, Outage> {
        let head = words.first().map(String::as_str).ok_or(Outage::BadData)?;
        Ok(match head {
            "sent" | "repeat" => ScriptReply::Sent {
                seq: int(words.get(1))?,
                at: int(words.get(2))?,
                shadowed: rules(words.get(3..).unwrap_or_default())?,
            },
            "rules" => {
                let now = int(words.get(1))?;
                let rules = rules(&words[2..])?;
                ScriptReply::Rules { now, rules }
            }
            "ok" if words.len() == 1 => ScriptReply::Mirrored,
            "ok" => ScriptReply::Ended {
                recipient: int(words.get(1))?,
            },
            "unknown" => ScriptReply::Unknown,
            "ended" => ScriptReply::AlreadyEnded {
                accepted_by: match words.get(1).map(String::as_str) {
                    Some("a") => Some(int(words.get(2))?),
                    _ => None,
                },
            },
            "expired" => ScriptReply::Expired(int(words.get(1))?),
            "pair" => ScriptReply::Pair(int(words.get(1))?),
            "stale" => ScriptReply::Stale,
            "capacity" => {
                let vals = words[1..]
                    .iter()
                    .map(|w| int::<i64>(Some(w)))
                    .collect::<Result<Vec<_>, _>>()?;
                if vals.len() != 17 {
                    return Err(Outage::BadData);
                }
                ScriptReply::Capacity(RawCapacity(vals))
            }
            _ => return Err(Outage::BadData),
        })
    }
}

impl RawCapacity {
    /// Fields: now, tier, status, until, then used / next slot / frees-at for the day
    /// and the week, notes used / next slot, pending, then the limits judged by:
    /// daily, weekly, notes (-1 none) and note length.
    pub(crate) fn into_capacity(self) -> Result<Capacity, Outage> {
        let v = self.0;
        let code = |x: i64| u8::try_from(x).map_err(|_| Outage::BadData);
        let tier = codes::tier_from(code(v[1])?).ok_or(Outage::BadData)?;
        let status = match code(v[2])? {
            codes::ACTIVE => AccountStatus::Active,
            codes::RESTRICTED => AccountStatus::Restricted {
                until: instant(v[3]).map(Timestamp::from_millis),
            },
            codes::BANNED => AccountStatus::Banned,
            _ => return Err(Outage::BadData),
        };
        let count = |x: i64| u32::try_from(x).map_err(|_| Outage::BadData);
        let usage = |used: i64, next: i64, frees: i64| -> Result<Usage, Outage> {
            Ok(Usage {
                used: count(used)?,
                next_slot: instant(next),
                frees_at: instant(frees),
            })
        };
        // The limits the script judged by: the tier's, or the member's own.
        let limits = crate::policy::TierLimits {
            daily: count(v[13])?,
            weekly: count(v[14])?,
            notes_per_30d: match v[15] {
                -1 => None,
                n => Some(count(n)?),
            },
            max_note_chars: count(v[16])?,
        };
        Ok(Capacity {
            daily: window(usage(v[4], v[5], v[6])?, limits.daily),
            weekly: window(usage(v[7], v[8], v[9])?, limits.weekly),
            notes: NoteCapacity {
                used: count(v[10])?,
                limit: limits.notes_per_30d,
                next_slot_at: instant(v[11]).map(Timestamp::from_millis),
            },
            pending_sent: count(v[12])?,
            tier,
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Tier;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rules_parse_in_order_with_their_instants() {
        let r = ScriptReply::parse(words(&[
            "rules", "100", "daily", "500", "30", "30", "long", "-1", "250", "200",
        ]))
        .unwrap();
        let ScriptReply::Rules { now, rules } = r else {
            panic!("not rules")
        };
        assert_eq!(now, 100);
        assert_eq!(
            rules,
            vec![
                Rule::new(
                    DenyReason::DailyLimit {
                        used: 30,
                        limit: 30
                    },
                    Some(500)
                ),
                Rule::new(
                    DenyReason::NoteTooLong {
                        chars: 250,
                        limit: 200
                    },
                    None
                ),
            ]
        );
    }

    #[test]
    fn foreign_replies_are_bad_data() {
        for bad in [
            words(&[]),
            words(&["what"]),
            words(&["sent", "x", "1"]),
            words(&["rules", "1", "daily", "5"]),
            words(&["rules", "1", "daily", "-1", "30", "30"]),
            words(&["rules", "1", "banned", "7", "0", "0"]),
            words(&["capacity", "1", "2"]),
            words(&["rules", "1", "pair", "9", "-3", "3"]),
        ] {
            assert_eq!(
                ScriptReply::parse(bad.clone()),
                Err(Outage::BadData),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn capacity_maps_every_field() {
        let raw = ScriptReply::parse(words(&[
            "capacity", "1000", "1", "1", "5000", "3", "9000", "-1", "4", "8000", "-1", "2",
            "7000", "4", "100", "500", "-1", "300",
        ]))
        .unwrap();
        let ScriptReply::Capacity(raw) = raw else {
            panic!("not capacity")
        };
        let c = raw.into_capacity().unwrap();
        assert_eq!(c.tier, Tier::Premium);
        assert_eq!(
            c.status,
            AccountStatus::Restricted {
                until: Some(Timestamp::from_millis(5000))
            }
        );
        assert_eq!(c.daily.used, 3);
        assert_eq!(c.daily.limit, 100);
        assert_eq!(c.daily.next_slot_at, Some(Timestamp::from_millis(9000)));
        assert_eq!(c.daily.available_at, None);
        assert_eq!(c.notes.used, 2);
        assert_eq!(c.pending_sent, 4);
        assert_eq!(c.notes.limit, None);
        assert_eq!(c.weekly.limit, 500);
    }

    #[test]
    fn a_send_carries_its_shadowed_rules() {
        let reply = ScriptReply::parse(words(&["sent", "7", "100", "daily", "900", "3", "3"]));
        let Ok(ScriptReply::Sent { seq, shadowed, .. }) = reply else {
            panic!("not a send: {reply:?}")
        };
        assert_eq!(seq, 7);
        assert_eq!(
            shadowed,
            vec![Rule::new(
                DenyReason::DailyLimit { used: 3, limit: 3 },
                Some(900)
            )]
        );
        let torn = words(&["sent", "7", "100", "daily", "900"]);
        assert_eq!(ScriptReply::parse(torn), Err(Outage::BadData));
    }
}
