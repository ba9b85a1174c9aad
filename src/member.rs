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
    pub(crate) spam: SpamState,
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
    /// Whether a member with this and nothing else is indistinguishable from a new one
    /// at `now` with the given spam idle instant.
    fn is_idle(&self, now: u64, spam_idle_at: u64) -> bool {
        self.notes.is_empty()
            && self.idem.is_empty()
            && spam_idle_at <= now
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

/// Which recipients this sender may have pair state with (pending invitations or a
/// re-invite cooldown in the shard's pair map), so that most sends to a new recipient
/// skip the pair map. A bit set for every pair entry; cleared only when the count of
/// entries drops to zero, so it never says "none" while one exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PairIndex {
    bloom: Hint,
    count: u32,
}

impl PairIndex {
    fn bit(recipient: u64) -> u64 {
        1 << (recipient.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 58)
    }

    /// Whether the pair map may hold an entry for this sender and `recipient`.
    pub(crate) fn may_have(&self, recipient: u64) -> bool {
        self.bloom.0 & Self::bit(recipient) != 0
    }

    /// A pair entry for `recipient` was created.
    pub(crate) fn added(&mut self, recipient: u64) {
        self.bloom.0 |= Self::bit(recipient);
        self.count += 1;
    }

    /// A pair entry was removed.
    pub(crate) fn removed(&mut self) {
        self.count = self.count.saturating_sub(1);
        if self.count == 0 {
            self.bloom.0 = 0;
        }
    }

    /// Pair entries this sender has.
    pub(crate) fn count(&self) -> u32 {
        self.count
    }
}

/// A member's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Member {
    /// No window or queue of this record changes before this instant, so settling
    /// earlier touches nothing but the record (0: unknown, settle now).
    pub(crate) due: Hint,
    pub(crate) pairs: PairIndex,
    pub(crate) tier: Tier,
    pub(crate) status: AccountStatus,
    pub(crate) setting: InviteSetting,
    pub(crate) sends: SendLog,
    pub(crate) ledger: Ledger,
    pub(crate) extra: Option<Box<Extra>>,
}

impl Member {
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
            && self.pairs.count() == 0
            && self.status.at(crate::Timestamp::from_millis(now)) == AccountStatus::Active
            && self.setting == InviteSetting::Everyone
            && self.sends.is_empty()
            && self.ledger.is_empty()
            && self
                .extra
                .as_ref()
                .is_none_or(|e| e.is_idle(now, spam_idle_at(&e.spam)))
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_index_never_forgets_a_live_pair() {
        let mut index = PairIndex::default();
        assert!(!index.may_have(7));
        index.added(7);
        index.added(9);
        assert!(index.may_have(7) && index.may_have(9));
        index.removed();
        assert!(index.may_have(7) && index.may_have(9), "one entry is left");
        index.removed();
        assert_eq!(index.count(), 0);
        assert!(!index.may_have(7) && !index.may_have(9));
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
