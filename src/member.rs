//! One member's record: hot sender state inline, rarer facts boxed.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::ledger::Ledger;
use crate::spam::SpamState;
use crate::spam_signals::SpamSignals;
use crate::window::{Log, SendLog};

/// Fixed-key hashing: member ids and emails are assigned by the platform, not chosen
/// by an attacker, and a zero-sized hasher keeps every per-member set 32 bytes smaller.
pub(crate) type Hasher = std::hash::BuildHasherDefault<ahash::AHasher>;
pub(crate) type FastMap<K, V> = HashMap<K, V, Hasher>;
pub(crate) type FastSet<K> = HashSet<K, Hasher>;

/// An accepted send made with an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdemRecord {
    pub(crate) recipient: u64,
    pub(crate) seq: u64,
    pub(crate) sent_at: u64,
}

/// Idempotency records of one sender over the last 24 hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdemLog {
    by_key: FastMap<u64, IdemRecord>,
    order: VecDeque<u64>,
}

impl IdemLog {
    pub(crate) fn expire(&mut self, now: u64, window: u64) {
        while let Some(&key) = self.order.front() {
            let due = self
                .by_key
                .get(&key)
                .is_none_or(|r| r.sent_at.saturating_add(window) <= now);
            if !due {
                break;
            }
            self.by_key.remove(&key);
            self.order.pop_front();
        }
    }

    pub(crate) fn get(&self, key: u64) -> Option<&IdemRecord> {
        self.by_key.get(&key)
    }

    pub(crate) fn insert(&mut self, key: u64, record: IdemRecord) {
        if self.by_key.insert(key, record).is_none() {
            self.order.push_back(key);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Instant of the oldest record, if any.
    pub(crate) fn first_at(&self) -> Option<u64> {
        self.order
            .front()
            .and_then(|k| self.by_key.get(k))
            .map(|r| r.sent_at)
    }

    pub(crate) fn last_at(&self) -> Option<u64> {
        self.order
            .back()
            .and_then(|k| self.by_key.get(k))
            .map(|r| r.sent_at)
    }

    /// Records oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &IdemRecord)> {
        self.order
            .iter()
            .filter_map(|k| self.by_key.get(k).map(|r| (*k, r)))
    }
}

/// Facts most members do not have, kept out of the hot record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extra {
    pub(crate) notes: Log,
    pub(crate) idem: IdemLog,
    pub(crate) connections: FastSet<u64>,
    /// Members this member follows.
    pub(crate) follows: FastSet<u64>,
    /// Registered emails, normalised.
    pub(crate) emails: Vec<String>,
    /// Imported contacts, normalised, in import order.
    pub(crate) contacts: Vec<String>,
    pub(crate) contact_set: FastSet<String>,
    /// The spam signals behind the current restriction, if the engine imposed it.
    pub(crate) restricted_for: Option<SpamSignals>,
}

impl Extra {
    /// Whether a member with this and nothing else is indistinguishable from a new one.
    fn is_idle(&self) -> bool {
        self.notes.is_empty()
            && self.idem.is_empty()
            && self.connections.is_empty()
            && self.follows.is_empty()
            && self.emails.is_empty()
            && self.contacts.is_empty()
    }
}

/// A cached instant that is not part of the state: any two values compare equal.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hint(pub(crate) u64);

impl PartialEq for Hint {
    fn eq(&self, _: &Hint) -> bool {
        true
    }
}

impl Eq for Hint {}

/// A member's record: two cache lines, laid out so that a decision about a sender
/// reads only the first — id, due instant, pair filter, status, tier and the send
/// counts — unless it commits or a window changes.
#[repr(C, align(64))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) id: u64,
    /// No window or queue of this record changes before this instant, so settling
    /// earlier touches nothing but the record (0: unknown, settle now).
    pub(crate) due: Hint,
    /// A bit per recipient this sender may have pair state with (pending invitations
    /// or a re-invite cooldown in the shard's pair map), so most sends to a new
    /// recipient skip the pair map. Cleared only when `pair_count` drops to zero, so
    /// it never says "none" while an entry exists.
    pair_bloom: Hint,
    pub(crate) status: AccountStatus,
    pub(crate) tier: Tier,
    pub(crate) setting: InviteSetting,
    pair_count: u32,
    pub(crate) sends: SendLog,
    pub(crate) ledger: Ledger,
    pub(crate) extra: Option<Box<Extra>>,
    /// Spam signals' state, kept apart from `extra` so a sender judged by the signals
    /// pays for that alone.
    pub(crate) spam: Option<Box<SpamState>>,
}

fn pair_bit(recipient: u64) -> u64 {
    1 << (recipient.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 58)
}

impl Member {
    /// A fresh record: an active Free member accepting everyone.
    pub(crate) fn new(id: u64) -> Self {
        Member {
            id,
            ..Member::default()
        }
    }

    /// Whether the shard's pair map may hold an entry for this sender and `recipient`.
    pub(crate) fn may_have_pair(&self, recipient: u64) -> bool {
        self.pair_bloom.0 & pair_bit(recipient) != 0
    }

    /// A pair entry for this sender and `recipient` was created.
    pub(crate) fn pair_added(&mut self, recipient: u64) {
        self.pair_bloom.0 |= pair_bit(recipient);
        self.pair_count += 1;
    }

    /// A pair entry of this sender was removed.
    pub(crate) fn pair_removed(&mut self) {
        self.pair_count = self.pair_count.saturating_sub(1);
        if self.pair_count == 0 {
            self.pair_bloom.0 = 0;
        }
    }

    /// The earliest instant at which settling changes anything.
    pub(crate) fn next_due(&self, spans: &crate::shard::Spans) -> u64 {
        let mut due = u64::MAX;
        let mut take = |t: Option<u64>| {
            if let Some(t) = t {
                due = due.min(t);
            }
        };
        take(self.sends.next_change(spans.day, spans.week));
        take(self.ledger.first_expiry(spans.ttl));
        if let Some(extra) = &self.extra {
            take(extra.notes.first_exit(spans.note));
            take(extra.idem.first_at().map(|t| t.saturating_add(spans.idem)));
        }
        due
    }

    pub(crate) fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    pub(crate) fn spam_mut(&mut self) -> &mut SpamState {
        self.spam.get_or_insert_with(Box::default)
    }

    pub(crate) fn connections(&self) -> Option<&FastSet<u64>> {
        self.extra.as_ref().map(|e| &e.connections)
    }

    pub(crate) fn is_connected(&self, other: u64) -> bool {
        self.extra
            .as_ref()
            .is_some_and(|e| e.connections.contains(&other))
    }

    /// Whether the record can be dropped at `now` without changing any answer.
    pub(crate) fn is_idle(&self, now: u64, spam_idle_at: impl Fn(&SpamState) -> u64) -> bool {
        self.tier == Tier::Free
            && self.pair_count == 0
            && self.status.at(crate::Timestamp::from_millis(now)) == AccountStatus::Active
            && self.setting == InviteSetting::Everyone
            && self.sends.is_empty()
            && self.ledger.is_empty()
            && self.extra.as_ref().is_none_or(|e| e.is_idle())
            && self.spam.as_deref().is_none_or(|s| spam_idle_at(s) <= now)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_filter_never_forgets_a_live_pair() {
        let mut m = Member::new(1);
        assert!(!m.may_have_pair(7));
        m.pair_added(7);
        m.pair_added(9);
        assert!(m.may_have_pair(7) && m.may_have_pair(9));
        m.pair_removed();
        assert!(
            m.may_have_pair(7) && m.may_have_pair(9),
            "one entry is left"
        );
        m.pair_removed();
        assert!(!m.may_have_pair(7) && !m.may_have_pair(9));
    }

    #[test]
    fn hot_fields_share_the_first_cache_line() {
        let m = Member::new(1);
        let base = std::ptr::addr_of!(m) as usize;
        let end_of = |field: usize, size: usize| field - base + size;
        assert!(end_of(std::ptr::addr_of!(m.status) as usize, 16) <= 64);
        assert!(end_of(std::ptr::addr_of!(m.tier) as usize, 1) <= 64);
        assert!(end_of(std::ptr::addr_of!(m.sends) as usize, 16) <= 64);
    }

    #[test]
    fn idem_log_expires_oldest_first() {
        let mut log = IdemLog::default();
        let rec = |t| IdemRecord {
            recipient: 1,
            seq: 1,
            sent_at: t,
        };
        log.insert(5, rec(100));
        log.insert(6, rec(200));
        assert_eq!(log.first_at(), Some(100));
        log.expire(100 + 50 - 1, 50);
        assert!(log.get(5).is_some());
        log.expire(150, 50);
        assert!(log.get(5).is_none() && log.get(6).is_some());
        log.expire(250, 50);
        assert!(log.is_empty());
    }
}
