//! A sender's invitations, oldest first, found by sequence number.
//!
//! Every invitation lives the same TTL and sequence numbers grow with time within a
//! shard, so the ledger is sorted by both: expiry pops from the front, and lookup by
//! id is a binary search. Ended invitations stay as tombstones (so a second `accept`
//! says "already ended") until they would have expired, or until tombstones outnumber
//! live invitations, when they are compacted away.

mod pairs;

use std::collections::VecDeque;

pub(crate) use pairs::PendingRef;
use pairs::{index_add, index_remove, PairIndex};

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

/// One invitation of the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invite {
    pub(crate) seq: u64,
    pub(crate) recipient: u64,
    pub(crate) sent_at: u64,
    /// Instant of the latest reminder (meaningful when `reminders > 0`).
    pub(crate) last_reminder: u64,
    pub(crate) reminders: u8,
    pub(crate) ended: Option<Ending>,
}

/// Invitations a ledger keeps without a second allocation: most senders have one or
/// two pending at a time, and a ledger that fits here costs one allocation to create
/// and one to free.
const INLINE: usize = 2;

const BLANK: Invite = Invite {
    seq: 0,
    recipient: 0,
    sent_at: 0,
    last_reminder: 0,
    reminders: 0,
    ended: None,
};

/// The kept invitations, oldest first: inline while few, then a ring buffer.
#[derive(Debug, Clone)]
enum Store {
    Inline { len: u8, items: [Invite; INLINE] },
    Spilled(VecDeque<Invite>),
}

impl Default for Store {
    fn default() -> Self {
        Store::Inline {
            len: 0,
            items: [BLANK; INLINE],
        }
    }
}

impl PartialEq for Store {
    fn eq(&self, other: &Store) -> bool {
        self.len() == other.len() && self.iter_from(0).eq(other.iter_from(0))
    }
}

impl Eq for Store {}

impl Store {
    fn len(&self) -> usize {
        match self {
            Store::Inline { len, .. } => usize::from(*len),
            Store::Spilled(q) => q.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, at: usize) -> Option<&Invite> {
        match self {
            Store::Inline { len, items } => items[..usize::from(*len)].get(at),
            Store::Spilled(q) => q.get(at),
        }
    }

    fn get_mut(&mut self, at: usize) -> Option<&mut Invite> {
        match self {
            Store::Inline { len, items } => items[..usize::from(*len)].get_mut(at),
            Store::Spilled(q) => q.get_mut(at),
        }
    }

    fn front(&self) -> Option<&Invite> {
        self.get(0)
    }

    fn back(&self) -> Option<&Invite> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    #[inline]
    fn push_back(&mut self, invite: Invite) {
        match self {
            Store::Inline { len, items } if usize::from(*len) < INLINE => {
                items[usize::from(*len)] = invite;
                *len += 1;
            }
            Store::Inline { .. } => self.spill(invite),
            Store::Spilled(q) => q.push_back(invite),
        }
    }

    /// Moves the invitations to a ring buffer, then appends.
    #[cold]
    #[inline(never)]
    fn spill(&mut self, invite: Invite) {
        let mut q = VecDeque::with_capacity(2 * INLINE);
        q.extend(self.iter_from(0).copied());
        q.push_back(invite);
        *self = Store::Spilled(q);
    }

    fn pop_front(&mut self) {
        match self {
            Store::Inline { len, items } => {
                if *len > 0 {
                    items.copy_within(1..usize::from(*len), 0);
                    *len -= 1;
                }
            }
            Store::Spilled(q) => {
                q.pop_front();
            }
        }
    }

    /// The first position whose invitation does not satisfy `pred` (which holds for
    /// a prefix).
    fn partition_point(&self, pred: impl Fn(&Invite) -> bool) -> usize {
        match self {
            Store::Inline { len, items } => items[..usize::from(*len)].partition_point(pred),
            Store::Spilled(q) => q.partition_point(pred),
        }
    }

    fn iter_from(&self, start: usize) -> impl Iterator<Item = &Invite> {
        let (a, b): (&[Invite], &[Invite]) = match self {
            Store::Inline { len, items } => (&items[..usize::from(*len)], &[]),
            Store::Spilled(q) => q.as_slices(),
        };
        let (a, b) = if start <= a.len() {
            (&a[start..], b)
        } else {
            (&[][..], b.get(start - a.len()..).unwrap_or(&[]))
        };
        a.iter().chain(b)
    }

    fn retain(&mut self, keep: impl Fn(&Invite) -> bool) {
        match self {
            Store::Inline { len, items } => {
                let mut kept = 0;
                for i in 0..usize::from(*len) {
                    if keep(&items[i]) {
                        items[kept] = items[i];
                        kept += 1;
                    }
                }
                *len = kept as u8;
            }
            Store::Spilled(q) => q.retain(|i| keep(i)),
        }
    }
}

/// Ledgers longer than this keep an index of their pending invitations by recipient;
/// shorter ones are scanned, which reads nothing the send has not already read.
const SCAN: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Inner {
    invites: Store,
    live: u32,
    /// Pending invitations by recipient, once the ledger has been longer than [`SCAN`].
    index: Option<Box<PairIndex>>,
}

impl Inner {
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
        for i in self.invites.iter_from(0).filter(|i| i.ended.is_none()) {
            let p = PendingRef {
                seq: i.seq,
                sent_at: i.sent_at,
            };
            index_add(&mut index, i.recipient, p);
        }
        self.index = Some(Box::new(index));
    }

    /// An invitation stopped pending.
    fn unindex(&mut self, recipient: u64, seq: u64) {
        self.live -= 1;
        if let Some(index) = self.index.as_deref_mut() {
            index_remove(index, recipient, seq);
        }
    }
}

/// The sender's invitations, sorted by sequence and by sending instant. Boxed, so a
/// member without invitations pays one pointer in the hot record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger {
    inner: Option<Box<Inner>>,
}

/// Equal when they keep equal invitations, whether or not an empty one still holds
/// its allocation.
impl PartialEq for Ledger {
    fn eq(&self, other: &Ledger) -> bool {
        self.live() == other.live() && self.all().eq(other.all())
    }
}

impl Eq for Ledger {}

impl Ledger {
    fn inner_mut(&mut self) -> &mut Inner {
        self.inner.get_or_insert_with(Box::default)
    }

    /// Frees the box once nothing is kept.
    fn tidy(&mut self) {
        if self.inner.as_ref().is_some_and(|i| i.invites.is_empty()) {
            self.inner = None;
        }
    }

    fn invites(&self) -> Option<&Store> {
        self.inner.as_deref().map(|i| &i.invites)
    }

    /// Records a new pending invitation.
    pub(crate) fn push(&mut self, seq: u64, recipient: u64, sent_at: u64) {
        let inner = self.inner_mut();
        debug_assert!(inner.invites.back().is_none_or(|last| last.seq < seq));
        inner.append(Invite {
            seq,
            recipient,
            sent_at,
            last_reminder: 0,
            reminders: 0,
            ended: None,
        });
    }

    /// Restores an invitation read from a snapshot (in order).
    pub(crate) fn restore(&mut self, invite: Invite) -> bool {
        let inner = self.inner_mut();
        if inner
            .invites
            .back()
            .is_some_and(|last| last.seq >= invite.seq)
        {
            self.tidy();
            return false;
        }
        inner.append(invite);
        true
    }

    /// Pops invitations sent at or before `now - ttl`, calling `expired` for each that
    /// was still pending (it expired unanswered).
    pub(crate) fn expire(&mut self, now: u64, ttl: u64, mut expired: impl FnMut(&Invite)) {
        let Some(inner) = self.inner.as_deref_mut() else {
            return;
        };
        while let Some(&front) = inner.invites.front() {
            if front.sent_at.saturating_add(ttl) > now {
                break;
            }
            if front.ended.is_none() {
                inner.unindex(front.recipient, front.seq);
                expired(&front);
            }
            inner.invites.pop_front();
        }
        // The allocation stays for [`Ledger::release_if_empty`]: a sweep expiring a
        // batch leaves the freeing to whatever settles the sender next.
    }

    /// Frees the allocation once nothing is kept.
    pub(crate) fn release_if_empty(&mut self) {
        self.tidy();
    }

    /// When the oldest kept invitation expires (or its tombstone can go).
    pub(crate) fn first_expiry(&self, ttl: u64) -> Option<u64> {
        self.invites()?
            .front()
            .map(|i| i.sent_at.saturating_add(ttl))
    }

    /// Position of the invitation with sequence `seq`.
    pub(crate) fn find(&self, seq: u64) -> Option<usize> {
        let invites = self.invites()?;
        let at = invites.partition_point(|i| i.seq < seq);
        (invites.get(at)?.seq == seq).then_some(at)
    }

    /// The newest kept invitation's sequence number.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.invites()?.back().map(|i| i.seq)
    }

    pub(crate) fn get(&self, at: usize) -> Option<&Invite> {
        self.invites()?.get(at)
    }

    /// Marks the invitation at `at` ended; compacts tombstones when they dominate.
    pub(crate) fn end(&mut self, at: usize, how: Ending) {
        let Some(inner) = self.inner.as_deref_mut() else {
            return;
        };
        if let Some(invite) = inner.invites.get_mut(at) {
            if invite.ended.is_none() {
                invite.ended = Some(how);
                let (recipient, seq) = (invite.recipient, invite.seq);
                inner.unindex(recipient, seq);
            }
        }
        let tombstones = inner.invites.len() - inner.live as usize;
        if tombstones > 64 && tombstones > 2 * inner.live as usize {
            inner.invites.retain(|i| i.ended.is_none());
        }
        self.tidy();
    }

    /// Records a reminder on the invitation at `at`.
    pub(crate) fn remind(&mut self, at: usize, now: u64) {
        let invite = self
            .inner
            .as_deref_mut()
            .and_then(|i| i.invites.get_mut(at));
        if let Some(invite) = invite {
            invite.reminders = invite.reminders.saturating_add(1);
            invite.last_reminder = now;
        }
    }

    /// Pending invitations (after [`Ledger::expire`]).
    pub(crate) fn live(&self) -> u32 {
        self.inner.as_deref().map_or(0, |i| i.live)
    }

    /// Whether nothing, pending or ended, is kept.
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.as_deref().is_none_or(|i| i.invites.is_empty())
    }

    /// Pending invitations from sequence `from` on, oldest first.
    pub(crate) fn pending_from(&self, from: u64) -> impl Iterator<Item = &Invite> {
        self.invites()
            .into_iter()
            .flat_map(move |invites| {
                let start = invites.partition_point(|i| i.seq < from);
                invites.iter_from(start)
            })
            .filter(|i| i.ended.is_none())
    }

    /// The invitations pending to `recipient`, oldest first (after
    /// [`Ledger::expire`]).
    pub(crate) fn pending_to(&self, recipient: u64) -> impl Iterator<Item = PendingRef> + '_ {
        let inner = self.inner.as_deref();
        let indexed = inner.and_then(|i| i.index.as_deref());
        let listed = indexed
            .and_then(|ix| ix.get(&recipient))
            .into_iter()
            .flat_map(|p| p.iter().copied());
        let scanned = inner
            .filter(|i| i.index.is_none())
            .into_iter()
            .flat_map(move |i| i.invites.iter_from(0))
            .filter(move |i| i.ended.is_none() && i.recipient == recipient)
            .map(|i| PendingRef {
                seq: i.seq,
                sent_at: i.sent_at,
            });
        listed.chain(scanned)
    }

    /// Every kept invitation, ended ones included, oldest first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Invite> {
        self.invites().into_iter().flat_map(|s| s.iter_from(0))
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
            l.pending_to(r).map(|p| (p.seq, p.sent_at)).collect()
        };
        for padding in [0u64, 2 * SCAN as u64] {
            let mut l = Ledger::default();
            for seq in 0..padding {
                l.push(seq, 1_000 + seq, seq);
            }
            assert_eq!(
                l.inner.as_ref().is_some_and(|i| i.index.is_some()),
                padding > 0
            );
            for seq in padding..padding + 30 {
                l.push(seq, seq % 3, seq * 10);
            }
            for seq in (padding..padding + 30).step_by(4) {
                let at = l.find(seq).unwrap();
                l.end(at, Ending::Withdrawn);
            }
            l.expire(padding * 10 + 100 + 55, 100, |_| {});
            for r in [0, 1, 2, 7] {
                assert_eq!(got(&l, r), brute(&l, r), "recipient {r}, padding {padding}");
            }
            assert!(!got(&l, 1).is_empty());
        }
    }

    #[test]
    fn restore_refuses_out_of_order() {
        let mut l = Ledger::default();
        let inv = Invite {
            seq: 4,
            recipient: 1,
            sent_at: 0,
            last_reminder: 0,
            reminders: 0,
            ended: None,
        };
        assert!(l.restore(inv));
        assert!(!l.restore(inv));
        assert_eq!(l.live(), 1);
    }
}
