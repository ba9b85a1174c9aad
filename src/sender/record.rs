//! One member's record: hot sender state inline, rarer facts boxed.

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::rules::precedence::{PairFacts, SenderState};
use crate::rules::spam::SpamState;
use crate::rules::window::{Log, SendLog};
use crate::sender::ledger::Ledger;

pub(crate) use super::extra::{Extra, FastMap, FastSet, IdemLog, IdemRecord};

/// A cached instant that is not part of the state: any two values compare equal.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hint(pub(crate) u64);

impl PartialEq for Hint {
    fn eq(&self, _: &Hint) -> bool {
        true
    }
}

impl Eq for Hint {}

/// A member's record: three cache lines. The first holds what every decision about
/// a sender reads — id, due instant, pair filter, status, tier, setting and the
/// pointers to its rarer facts — the second the send windows, the third the ledger's
/// header, so a commit reaches the sender's invitations with one indirection.
#[repr(C, align(64))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) id: u64,
    /// No window or queue of this record changes before this instant, so settling
    /// earlier touches nothing but the record (0: unknown, settle now).
    pub(crate) due: Hint,
    /// A bit per recipient this sender may have pair state with (pending invitations
    /// or a re-invite cooldown), so most sends to a new recipient look at neither the
    /// ledger nor the cooldowns. Cleared only when the sender has neither, so it never
    /// says "none" while either exists.
    pair_bloom: Hint,
    /// The status as a kind and an instant apart (see [`Member::status`]), so that
    /// the kind fits beside the tier and the send counts stay in the first line.
    status_until: u64,
    pub(crate) tier: Tier,
    pub(crate) setting: InviteSetting,
    status_kind: u8,
    pub(crate) extra: Option<Box<Extra>>,
    pub(crate) sends: SendLog,
    /// Spam signals' state, kept apart from `extra` so a sender judged by the signals
    /// pays for that alone.
    pub(crate) spam: Option<Box<SpamState>>,
    pub(crate) ledger: Ledger,
}

const ACTIVE: u8 = 0;
const RESTRICTED: u8 = 1;
const RESTRICTED_UNTIL: u8 = 2;
const BANNED: u8 = 3;

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

    /// The account status as set (see [`AccountStatus::at`] for its value now).
    pub(crate) fn status(&self) -> AccountStatus {
        match self.status_kind {
            RESTRICTED => AccountStatus::Restricted { until: None },
            RESTRICTED_UNTIL => AccountStatus::Restricted {
                until: Some(crate::Timestamp::from_millis(self.status_until)),
            },
            BANNED => AccountStatus::Banned,
            _ => AccountStatus::Active,
        }
    }

    pub(crate) fn set_status(&mut self, status: AccountStatus) {
        (self.status_kind, self.status_until) = match status {
            AccountStatus::Active => (ACTIVE, 0),
            AccountStatus::Restricted { until: None } => (RESTRICTED, 0),
            AccountStatus::Restricted { until: Some(t) } => (RESTRICTED_UNTIL, t.as_millis()),
            AccountStatus::Banned => (BANNED, 0),
        };
    }

    /// Whether this sender may have pending invitations to, or a cooldown with,
    /// `recipient`.
    pub(crate) fn may_have_pair(&self, recipient: u64) -> bool {
        self.pair_bloom.0 & pair_bit(recipient) != 0
    }

    /// This sender now has a pending invitation to, or a cooldown with, `recipient`.
    pub(crate) fn pair_added(&mut self, recipient: u64) {
        self.pair_bloom.0 |= pair_bit(recipient);
    }

    /// Clears the pair filter once nothing is pending and no cooldown runs.
    pub(crate) fn pairs_changed(&mut self) {
        let cooldowns = self.extra.as_ref().is_some_and(|e| !e.cooldowns.is_empty());
        if self.ledger.live() == 0 && !cooldowns {
            self.pair_bloom.0 = 0;
        }
    }

    /// What the pair rules read about this sender and `recipient`: `None` when there
    /// is nothing between them. `frees` is the sending instant of the invitation whose
    /// expiry frees a slot, when `cap` or more are pending.
    pub(crate) fn pair(&self, recipient: u64, cap: u32) -> Option<PairFacts> {
        if !self.may_have_pair(recipient) {
            return None;
        }
        let (pending, frees) = self.ledger.pending_count_to(recipient, cap);
        let cooldown_until = self
            .extra
            .as_ref()
            .and_then(|e| e.cooldowns.get(&recipient).copied())
            .unwrap_or(0);
        (pending > 0 || cooldown_until > 0).then_some(PairFacts {
            pending,
            frees,
            cooldown_until,
        })
    }

    /// The earliest instant at which settling changes anything.
    pub(crate) fn next_due(&self, spans: &crate::rules::Spans) -> u64 {
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

    /// The limits the member sends under: their own override, else their tier's.
    pub(crate) fn limits<'a>(
        &'a self,
        policy: &'a crate::policy::Policy,
    ) -> &'a crate::policy::TierLimits {
        match self.extra.as_deref().and_then(|e| e.limits.as_deref()) {
            Some(own) => own,
            None => policy.limits(self.tier),
        }
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

    /// When, absent new events, everything in the record's windows will have
    /// expired; `None` when it holds facts that never expire by themselves.
    pub(crate) fn idle_estimate(
        &self,
        spans: &crate::rules::Spans,
        policy: &crate::policy::Policy,
    ) -> Option<u64> {
        let mut at = 0u64;
        let mut bump = |t: Option<u64>, len: u64| {
            if let Some(t) = t {
                at = at.max(t.saturating_add(len));
            }
        };
        bump(self.sends.last(), spans.week);
        bump(self.ledger.all().last().map(|i| i.sent_at), spans.ttl);
        if let Some(spam) = self.spam.as_deref() {
            bump(Some(spam.idle_at(&policy.spam)), 0);
        }
        if let Some(extra) = &self.extra {
            bump(extra.cooldowns.values().max().copied(), 0);
            bump(extra.notes.last(), spans.note);
            bump(extra.idem.last_at(), spans.idem);
            if !extra.connections.is_empty()
                || !extra.follows.is_empty()
                || !extra.emails.is_empty()
                || !extra.contacts.is_empty()
                || extra.limits.is_some()
            {
                return None;
            }
        }
        if self.tier != Tier::Free || self.setting != InviteSetting::Everyone {
            return None;
        }
        match self.status() {
            AccountStatus::Active => Some(at),
            AccountStatus::Restricted { until: Some(t) } => Some(at.max(t.as_millis())),
            _ => None,
        }
    }

    /// Whether the record can be dropped at `now` without changing any answer.
    pub(crate) fn is_idle(&self, now: u64, spam_idle_at: impl Fn(&SpamState) -> u64) -> bool {
        self.tier == Tier::Free
            && self.status().at(crate::Timestamp::from_millis(now)) == AccountStatus::Active
            && self.setting == InviteSetting::Everyone
            && self.sends.is_empty()
            && self.ledger.is_empty()
            && self.ledger.issues_as_new_at(now)
            && self.extra.as_ref().is_none_or(|e| e.is_idle())
            && self.spam.as_deref().is_none_or(|s| spam_idle_at(s) <= now)
    }
}
/// The rules read a record through this, so they need no access to its layout.
impl SenderState for Member {
    fn limits<'a>(&'a self, policy: &'a crate::policy::Policy) -> &'a crate::policy::TierLimits {
        Member::limits(self, policy)
    }

    fn status(&self) -> AccountStatus {
        Member::status(self)
    }

    fn is_connected(&self, other: u64) -> bool {
        Member::is_connected(self, other)
    }

    fn keyed_recipient(&self, key: u64) -> Option<u64> {
        let rec = self.extra.as_deref()?.idem.get(key)?;
        Some(rec.recipient)
    }

    fn sends(&self) -> &SendLog {
        &self.sends
    }

    fn notes(&self) -> Option<&Log> {
        self.extra.as_deref().map(|e| &e.notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender::extra::Hasher;

    #[test]
    fn pair_filter_never_forgets_a_live_pair() {
        let mut m = Member::new(1);
        assert!(!m.may_have_pair(7) && m.pair(7, 3).is_none());
        m.ledger.push(1, 7, 100);
        m.pair_added(7);
        m.extra_mut().cooldowns.insert(9, 500);
        m.pair_added(9);
        m.pairs_changed();
        assert!(m.may_have_pair(7) && m.may_have_pair(9), "both are live");
        let at = m.ledger.find(1).unwrap();
        m.ledger.end(at, crate::sender::ledger::Ending::Withdrawn);
        m.pairs_changed();
        assert!(m.may_have_pair(9), "the cooldown is left");
        m.extra_mut().cooldowns.clear();
        m.pairs_changed();
        assert!(!m.may_have_pair(7) && !m.may_have_pair(9));
    }

    #[test]
    fn pair_facts_name_the_invitation_whose_expiry_frees_a_slot() {
        let mut m = Member::new(1);
        for i in 1..=4 {
            m.ledger.push(2 * i, 7, i * 10);
            m.ledger.push(2 * i + 1, 8, i * 10 + 1);
        }
        m.pair_added(7);
        m.extra_mut().cooldowns.insert(7, 999);
        let facts = m.pair(7, 3).unwrap();
        assert_eq!(facts.pending, 4);
        assert_eq!(
            facts.frees,
            Some(20),
            "the second oldest frees the fourth slot"
        );
        assert_eq!(facts.cooldown_until, 999);
        assert_eq!(m.pair(7, 5).unwrap().frees, None);
    }

    #[test]
    fn each_part_of_the_record_keeps_to_its_cache_line() {
        use std::mem::size_of_val;
        let m = Member::new(1);
        let base = std::ptr::addr_of!(m) as usize;
        let line = |at: usize, size: usize| {
            let (from, to) = (at - base, at - base + size - 1);
            assert_eq!(from / 64, to / 64, "bytes {from}..={to} cross a line");
            from / 64
        };
        assert_eq!(line(std::ptr::addr_of!(m.id) as usize, 8), 0);
        assert_eq!(line(std::ptr::addr_of!(m.status_until) as usize, 8), 0);
        assert_eq!(line(std::ptr::addr_of!(m.status_kind) as usize, 1), 0);
        assert_eq!(line(std::ptr::addr_of!(m.setting) as usize, 1), 0);
        assert_eq!(line(std::ptr::addr_of!(m.extra) as usize, 8), 0);
        // The send counts lead the send log: a denial at a limit reads the first line.
        assert_eq!(line(std::ptr::addr_of!(m.sends) as usize, 16), 0);
        assert_eq!(line(std::ptr::addr_of!(m.spam) as usize, 8), 1);
        let ledger = std::ptr::addr_of!(m.ledger) as usize;
        assert_eq!(line(ledger, size_of_val(&m.ledger)), 2);
    }

    #[test]
    fn status_reads_back_as_set() {
        let mut m = Member::new(1);
        assert_eq!(m.status(), AccountStatus::Active);
        let t = |ms| Some(crate::Timestamp::from_millis(ms));
        for status in [
            AccountStatus::Restricted { until: None },
            AccountStatus::Restricted { until: t(0) },
            AccountStatus::Restricted { until: t(u64::MAX) },
            AccountStatus::Banned,
            AccountStatus::Active,
        ] {
            m.set_status(status);
            assert_eq!(m.status(), status);
        }
        assert_eq!(m, Member::new(1), "back to active is a fresh record");
    }

    /// The sets' keys are not ahash's compiled-in fallback (used when no random
    /// source is compiled in), which anyone could craft collisions for.
    #[test]
    fn set_hashing_is_keyed_at_random_per_process() {
        use std::hash::BuildHasher;
        // ahash's fallback keys, as `with_seeds` takes them (its PI xor PI2).
        let fallback = ahash::RandomState::with_seeds(
            0x6117_4b6e_bd73_1ba4,
            0xad4d_ece1_3799_7f28,
            0x64a5_1195_e0e3_610d,
            0x37aa_2f2d_5909_659e,
        );
        let contact = "someone@example.com";
        assert_ne!(
            Hasher::default().hash_one(contact),
            fallback.hash_one(contact)
        );
        let map = Hasher::default();
        assert_eq!(map.hash_one(contact), Hasher::default().hash_one(contact));
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
