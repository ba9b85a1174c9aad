//! A sender's invitations, oldest first, found by sequence number.
//!
//! Every invitation lives the same TTL and sequence numbers grow with time within a
//! shard, so the ledger is sorted by both: expiry pops from the front, and lookup by
//! id is a binary search. Ended invitations stay as tombstones (so a second `accept`
//! says "already ended") until they would have expired, or until tombstones outnumber
//! live invitations, when they are compacted away.

mod pairs;

pub(crate) use pairs::PendingRef;
use pairs::{index_add, index_remove, PairIndex};

use crate::member::FastMap;
use crate::window::deque::SmallDeque;

/// How an invitation ended before expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Accepted,
    Declined,
    Withdrawn,
    Reported,
}

impl Ending {
    pub(crate) fn code(self) -> u8 {
        match self {
            Ending::Accepted => 1,
            Ending::Declined => 2,
            Ending::Withdrawn => 3,
            Ending::Reported => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Option<Ending>> {
        Some(match code {
            0 => None,
            1 => Some(Ending::Accepted),
            2 => Some(Ending::Declined),
            3 => Some(Ending::Withdrawn),
            4 => Some(Ending::Reported),
            _ => return None,
        })
    }
}

/// One invitation of the sender: 32 bytes, two to a cache line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Invite {
    pub(crate) seq: u64,
    pub(crate) recipient: u64,
    pub(crate) sent_at: u64,
    pub(crate) ended: Option<Ending>,
}

/// The reminders a pending invitation has had: kept beside the ledger, as few
/// invitations get any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reminders {
    pub(crate) count: u8,
    /// Instant of the latest (meaningful when `count > 0`).
    pub(crate) last: u64,
}

/// Ledgers longer than this keep an index of their pending invitations by recipient;
/// shorter ones are scanned, which reads nothing the send has not already read.
const SCAN: usize = 8;

/// Whether a ledger of `len` invitations is short enough to give up its index: half
/// the length that builds one, so a ledger near the edge does not rebuild it often.
fn scanned_at(len: usize) -> bool {
    len <= SCAN / 2
}

/// The sender's invitations, sorted by sequence and by sending instant. The header
/// lives in the member's record; the invitations in one ring buffer sized to them
/// (none while empty), so reaching an invitation costs one indirection. Aligned so
/// the header fills a cache line of the record of its own.
#[repr(align(64))]
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger {
    invites: SmallDeque<Invite, 0>,
    live: u32,
    /// Pending invitations by recipient, once the ledger has been longer than [`SCAN`].
    index: Option<Box<PairIndex>>,
    /// Reminders by sequence, of pending invitations that had any (never empty).
    reminders: Option<Box<FastMap<u64, Reminders>>>,
}

/// Equal when they keep equal invitations and reminders, whether or not one has built
/// its index.
impl PartialEq for Ledger {
    fn eq(&self, other: &Ledger) -> bool {
        self.live == other.live
            && self.invites == other.invites
            && self.reminders == other.reminders
    }
}

impl Eq for Ledger {}

impl Ledger {
    /// Appends an invitation (the newest), indexing it when pending.
    fn append(&mut self, invite: Invite) {
        self.invites.push_back(invite);
        if invite.ended.is_some() {
            return;
        }
        self.live += 1;
        let p = PendingRef {
            seq: invite.seq,
            sent_at: invite.sent_at,
        };
        match self.index.as_deref_mut() {
            Some(index) => index_add(index, invite.recipient, p),
            None if self.invites.len() > SCAN => self.build_index(),
            None => {}
        }
    }

    #[cold]
    #[inline(never)]
    fn build_index(&mut self) {
        let mut index = PairIndex::default();
        for i in self.invites.iter().filter(|i| i.ended.is_none()) {
            let p = PendingRef {
                seq: i.seq,
                sent_at: i.sent_at,
            };
            index_add(&mut index, i.recipient, p);
        }
        self.index = Some(Box::new(index));
    }

    /// An invitation stopped pending: its reminders go with it.
    fn unindex(&mut self, recipient: u64, seq: u64) {
        self.live -= 1;
        if let Some(index) = self.index.as_deref_mut() {
            index_remove(index, recipient, seq);
        }
        if let Some(reminders) = self.reminders.as_deref_mut() {
            reminders.remove(&seq);
            if reminders.is_empty() {
                self.reminders = None;
            }
        }
    }

    /// Drops the index once the ledger is short enough to scan again.
    fn tidy(&mut self) {
        if scanned_at(self.invites.len()) {
            self.index = None;
        }
    }

    /// Records a new pending invitation.
    pub(crate) fn push(&mut self, seq: u64, recipient: u64, sent_at: u64) {
        debug_assert!(self.invites.back().is_none_or(|last| last.seq < seq));
        self.append(Invite {
            seq,
            recipient,
            sent_at,
            ended: None,
        });
    }

    /// Restores an invitation read from a snapshot (in order), with its reminders
    /// (kept only while it is pending).
    pub(crate) fn restore(&mut self, invite: Invite, reminders: Reminders) -> bool {
        if self
            .invites
            .back()
            .is_some_and(|last| last.seq >= invite.seq)
        {
            return false;
        }
        self.append(invite);
        if invite.ended.is_none() && reminders.count > 0 {
            let map = self.reminders.get_or_insert_with(Box::default);
            map.insert(invite.seq, reminders);
        }
        true
    }

    /// Pops invitations sent at or before `now - ttl`, calling `expired` for each that
    /// was still pending (it expired unanswered).
    pub(crate) fn expire(&mut self, now: u64, ttl: u64, mut expired: impl FnMut(&Invite)) {
        let due = self
            .invites
            .partition_point(|i| i.sent_at.saturating_add(ttl) <= now);
        if due == 0 {
            return;
        }
        if scanned_at(self.invites.len() - due) {
            // What is left will be scanned: no point keeping the index up to date.
            self.index = None;
        }
        for at in 0..due {
            let Some(&invite) = self.invites.get(at) else {
                break;
            };
            if invite.ended.is_none() {
                self.unindex(invite.recipient, invite.seq);
                expired(&invite);
            }
        }
        self.invites.drop_front(due);
        self.tidy();
    }

    /// When the oldest kept invitation expires (or its tombstone can go).
    pub(crate) fn first_expiry(&self, ttl: u64) -> Option<u64> {
        self.invites.front().map(|i| i.sent_at.saturating_add(ttl))
    }

    /// Position of the invitation with sequence `seq`.
    pub(crate) fn find(&self, seq: u64) -> Option<usize> {
        let at = self.invites.partition_point(|i| i.seq < seq);
        (self.invites.get(at)?.seq == seq).then_some(at)
    }

    /// The newest kept invitation's sequence number.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.invites.back().map(|i| i.seq)
    }

    pub(crate) fn get(&self, at: usize) -> Option<&Invite> {
        self.invites.get(at)
    }

    /// Marks the invitation at `at` ended; compacts tombstones when they dominate.
    pub(crate) fn end(&mut self, at: usize, how: Ending) {
        if let Some(invite) = self.invites.get_mut(at) {
            if invite.ended.is_none() {
                invite.ended = Some(how);
                let (recipient, seq) = (invite.recipient, invite.seq);
                self.unindex(recipient, seq);
            }
        }
        let tombstones = self.invites.len() - self.live as usize;
        if tombstones > 64 && tombstones > 2 * self.live as usize {
            let kept = self.invites.iter().filter(|i| i.ended.is_none()).copied();
            self.invites = kept.collect();
        }
        self.tidy();
    }

    /// Records a reminder on the invitation at `at`, if it is pending.
    pub(crate) fn remind(&mut self, at: usize, now: u64) {
        let Some(&invite) = self.invites.get(at) else {
            return;
        };
        if invite.ended.is_none() {
            let map = self.reminders.get_or_insert_with(Box::default);
            let r = map.entry(invite.seq).or_default();
            r.count = r.count.saturating_add(1);
            r.last = now;
        }
    }

    /// The reminders the invitation `seq` has had (none once it stopped pending).
    pub(crate) fn reminders(&self, seq: u64) -> Reminders {
        self.reminders
            .as_deref()
            .and_then(|m| m.get(&seq).copied())
            .unwrap_or_default()
    }

    /// Pending invitations (after [`Ledger::expire`]).
    pub(crate) fn live(&self) -> u32 {
        self.live
    }

    /// Whether nothing, pending or ended, is kept.
    pub(crate) fn is_empty(&self) -> bool {
        self.invites.is_empty()
    }

    /// Pending invitations from sequence `from` on, oldest first.
    pub(crate) fn pending_from(&self, from: u64) -> impl Iterator<Item = &Invite> {
        let start = self.invites.partition_point(|i| i.seq < from);
        self.invites.iter_from(start).filter(|i| i.ended.is_none())
    }

    /// Calls `f` for each invitation pending to `recipient`, oldest first (after
    /// [`Ledger::expire`]): from the index when there is one, else by scanning.
    pub(crate) fn for_each_pending_to(&self, recipient: u64, mut f: impl FnMut(PendingRef)) {
        match self.index.as_deref() {
            Some(index) => index
                .get(&recipient)
                .into_iter()
                .flat_map(|p| p.iter())
                .for_each(|&p| f(p)),
            None => self
                .invites
                .iter()
                .filter(|i| i.ended.is_none() && i.recipient == recipient)
                .for_each(|i| {
                    f(PendingRef {
                        seq: i.seq,
                        sent_at: i.sent_at,
                    })
                }),
        }
    }

    /// How many invitations are pending to `recipient` and, when `cap` or more are,
    /// the sending instant of the one whose expiry brings them below `cap` (the
    /// `cap`-th newest): one pass, keeping the latest few instants.
    pub(crate) fn pending_count_to(&self, recipient: u64, cap: u32) -> (u32, Option<u64>) {
        const KEEP: usize = 8;
        let mut latest = [0u64; KEEP];
        let mut count = 0usize;
        let mut note = |sent_at: u64| {
            latest[count % KEEP] = sent_at;
            count += 1;
        };
        self.for_each_pending_to(recipient, |p| note(p.sent_at));
        let pending = u32::try_from(count).unwrap_or(u32::MAX);
        let frees = pending.checked_sub(cap).and_then(|idx| {
            let idx = idx as usize;
            if count - idx <= KEEP {
                Some(latest[idx % KEEP])
            } else {
                let (mut at, mut found) = (0, None);
                self.for_each_pending_to(recipient, |p| {
                    if at == idx {
                        found = Some(p.sent_at);
                    }
                    at += 1;
                });
                found
            }
        });
        (pending, frees)
    }

    /// Every kept invitation, ended ones included, oldest first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Invite> {
        self.invites.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_pops_due_and_reports_only_unanswered() {
        let mut l = Ledger::default();
        l.push(1, 10, 100);
        l.push(2, 11, 200);
        l.push(3, 12, 300);
        let at = l.find(2).unwrap();
        l.end(at, Ending::Declined);
        assert_eq!(l.live(), 2);
        let mut seen = vec![];
        l.expire(100 + 1_000 - 1, 1_000, |i| seen.push(i.seq));
        assert!(seen.is_empty());
        l.expire(200 + 1_000, 1_000, |i| seen.push(i.seq));
        assert_eq!(seen, vec![1]);
        assert_eq!(l.live(), 1);
        assert_eq!(l.find(1), None);
        assert_eq!(
            l.pending_from(0).map(|i| i.seq).collect::<Vec<_>>(),
            vec![3]
        );
    }

    #[test]
    fn find_locates_by_sequence_and_end_is_idempotent() {
        let mut l = Ledger::default();
        for seq in [5, 9, 14] {
            l.push(seq, 1, seq * 10);
        }
        assert_eq!(l.find(9), Some(1));
        assert_eq!(l.find(10), None);
        l.end(1, Ending::Accepted);
        l.end(1, Ending::Withdrawn);
        assert_eq!(l.get(1).unwrap().ended, Some(Ending::Accepted));
        assert_eq!(l.live(), 2);
    }

    #[test]
    fn tombstones_are_compacted_when_they_dominate() {
        let mut l = Ledger::default();
        for seq in 0..200 {
            l.push(seq, seq, seq);
        }
        for seq in 0..150 {
            let at = l.find(seq).unwrap();
            l.end(at, Ending::Withdrawn);
        }
        assert_eq!(l.live(), 50);
        assert!(l.all().count() < 200);
        assert_eq!(l.pending_from(0).count(), 50);
        assert!(l.find(199).is_some());
    }

    #[test]
    fn inline_and_spilled_ledgers_answer_alike() {
        let mut l = Ledger::default();
        for seq in 1..=5 {
            l.push(seq, seq, seq * 10);
            assert_eq!(l.last_seq(), Some(seq));
            assert_eq!(l.find(seq), Some(seq as usize - 1));
        }
        let at = l.find(2).unwrap();
        l.end(at, Ending::Declined);
        let mut seen = vec![];
        l.expire(30 + 100, 100, |i| seen.push(i.seq));
        assert_eq!(seen, vec![1, 3]);
        assert_eq!(l.all().map(|i| i.seq).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(
            l.pending_from(5).map(|i| i.seq).collect::<Vec<_>>(),
            vec![5]
        );
        assert_eq!(l.find(3), None);
        let mut small = Ledger::default();
        small.push(4, 4, 40);
        small.push(5, 5, 50);
        assert_eq!(l, small, "equal whatever the storage");
        l.expire(u64::MAX, 100, |_| {});
        assert!(l.is_empty());
    }

    #[test]
    fn pending_by_recipient_agrees_whether_scanned_or_indexed() {
        // The same history on a ledger that stays short (scanned) and on one pushed
        // past the scan length first (indexed), checked against a plain filter.
        let brute = |l: &Ledger, r: u64| -> Vec<(u64, u64)> {
            l.all()
                .filter(|i| i.ended.is_none() && i.recipient == r)
                .map(|i| (i.seq, i.sent_at))
                .collect()
        };
        let got = |l: &Ledger, r: u64| -> Vec<(u64, u64)> {
            let mut got = Vec::new();
            l.for_each_pending_to(r, |p| got.push((p.seq, p.sent_at)));
            got
        };
        for padding in [0u64, 2 * SCAN as u64] {
            let mut l = Ledger::default();
            for seq in 0..padding {
                l.push(seq, 1_000 + seq, seq);
            }
            assert_eq!(l.index.is_some(), padding > 0);
            for seq in padding..padding + 30 {
                l.push(seq, seq % 3, seq * 10);
            }
            for seq in (padding..padding + 30).step_by(4) {
                let at = l.find(seq).unwrap();
                l.end(at, Ending::Withdrawn);
            }
            l.expire(padding * 10 + 100 + 55, 100, |_| {});
            for r in [0, 1, 2, 7] {
                let want = brute(&l, r);
                assert_eq!(got(&l, r), want, "recipient {r}, padding {padding}");
                for cap in [1, 2, 3, 9, 40] {
                    let frees = want.len().checked_sub(cap).map(|i| want[i].1);
                    let summary = (want.len() as u32, frees);
                    assert_eq!(l.pending_count_to(r, cap as u32), summary, "cap {cap}");
                }
            }
            assert!(!got(&l, 1).is_empty());
        }
    }

    #[test]
    fn pending_by_recipient_stays_right_as_the_index_comes_and_goes() {
        let mut l = Ledger::default();
        let (mut seq, mut now, mut x) = (0u64, 0u64, 99u64);
        let mut had_index = false;
        for _ in 0..3_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            now += (x >> 60) % 4;
            match (x >> 33) % 8 {
                0..=3 => {
                    seq += 1;
                    l.push(seq, (x >> 20) % 4, now);
                }
                4 | 5 => {
                    if l.live() > 0 {
                        let at = (x >> 10) as usize % l.all().count();
                        l.end(at, Ending::Declined);
                    }
                }
                _ => l.expire(now, 40, |_| {}),
            }
            had_index |= l.index.is_some();
            for r in 0..4 {
                let want: Vec<u64> = l
                    .all()
                    .filter(|i| i.ended.is_none() && i.recipient == r)
                    .map(|i| i.seq)
                    .collect();
                let mut got: Vec<u64> = Vec::new();
                l.for_each_pending_to(r, |p| got.push(p.seq));
                assert_eq!(got, want);
            }
            assert_eq!(
                l.live() as usize,
                l.all().filter(|i| i.ended.is_none()).count()
            );
        }
        assert!(had_index, "the history built an index at some point");
    }

    #[test]
    fn pending_count_reaches_past_the_instants_it_keeps() {
        let mut l = Ledger::default();
        for seq in 0..20 {
            l.push(seq, 5, 1_000 + seq);
        }
        assert_eq!(l.pending_count_to(5, 10), (20, Some(1_010)));
        assert_eq!(l.pending_count_to(5, 20), (20, Some(1_000)));
        assert_eq!(l.pending_count_to(5, 21), (20, None));
        assert_eq!(l.pending_count_to(6, 1), (0, None));
    }

    #[test]
    fn restore_refuses_out_of_order() {
        let mut l = Ledger::default();
        let inv = Invite {
            seq: 4,
            recipient: 1,
            sent_at: 0,
            ended: None,
        };
        let none = Reminders::default();
        assert!(l.restore(inv, none));
        assert!(!l.restore(inv, none));
        assert_eq!(l.live(), 1);
    }

    #[test]
    fn reminders_follow_a_pending_invitation_and_go_when_it_ends() {
        let mut l = Ledger::default();
        l.push(1, 7, 100);
        l.push(2, 8, 200);
        assert_eq!(std::mem::size_of::<Invite>(), 32);
        l.remind(0, 150);
        l.remind(0, 170);
        assert_eq!(
            l.reminders(1),
            Reminders {
                count: 2,
                last: 170
            }
        );
        assert_eq!(l.reminders(2), Reminders::default());
        let mut other = Ledger::default();
        other.push(1, 7, 100);
        other.push(2, 8, 200);
        assert_ne!(l, other, "reminders are part of the state");
        l.end(0, Ending::Declined);
        assert_eq!(l.reminders(1), Reminders::default());
        l.remind(0, 180);
        assert_eq!(
            l.reminders(1),
            Reminders::default(),
            "an ended one gets none"
        );
        assert!(l.reminders.is_none());
        l.remind(1, 250);
        l.expire(200 + 1_000, 1_000, |_| {});
        assert!(l.reminders.is_none(), "expiry takes them too");
    }
}
