//! A sender's invitations, oldest first, found by sequence number.
//!
//! Every invitation lives the same TTL and a sender's sequence numbers grow with
//! time (see [`crate::ids::first_seq_at`]), so the ledger is sorted by both: expiry pops from the front, and lookup by
//! id is a binary search. Ended invitations stay as tombstones (so a second `accept`
//! says "already ended") until they would have expired, or until tombstones outnumber
//! live invitations, when they are compacted away.

mod pairs;

pub(crate) use pairs::PendingRef;
use pairs::{index_add, index_remove, PairIndex};

use crate::rules::window::deque::SmallDeque;
use crate::sender::record::FastMap;

/// How an invitation ended before expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Accepted,
    Declined,
    Withdrawn,
    Reported,
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
    /// The smallest sequence number this sender has not issued.
    next: u64,
    /// Never indexed, scanned at any length: a ledger decoded for one command (the
    /// Redis module's), whose index would cost more to build than its scans.
    scan_only: bool,
}

/// Equal when they keep equal invitations and reminders, whether or not one has built
/// its index.
impl PartialEq for Ledger {
    fn eq(&self, other: &Ledger) -> bool {
        self.live == other.live
            && self.next == other.next
            && self.invites == other.invites
            && self.reminders == other.reminders
    }
}

impl Eq for Ledger {}

impl Ledger {
    /// The sequence number of an invitation sent at `now`: above every one this
    /// sender has issued, and at least `floor` and the instant's first.
    pub(crate) fn seq_at(&self, now: u64, floor: u64) -> u64 {
        self.next.max(floor).max(crate::ids::first_seq_at(now))
    }

    /// The smallest sequence number not issued yet.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next
    }

    /// Records that every sequence below `next` has been issued (never lowers it).
    pub(crate) fn issued_below(&mut self, next: u64) {
        self.next = self.next.max(next);
    }

    /// Whether a fresh ledger would issue the same sequences from `now` on: nothing
    /// issued reaches past the instant's first.
    pub(crate) fn issues_as_new_at(&self, now: u64) -> bool {
        self.next <= crate::ids::first_seq_at(now)
    }

    /// Appends an invitation (the newest), indexing it when pending.
    fn append(&mut self, invite: Invite) {
        self.issued_below(invite.seq.saturating_add(1));
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
            None if self.invites.len() > SCAN && !self.scan_only => self.build_index(),
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

    /// An empty ledger that never builds an index (see `scan_only`).
    pub(crate) fn scan_only() -> Ledger {
        Ledger {
            scan_only: true,
            ..Ledger::default()
        }
    }

    /// How many invitations it holds, pending or ended.
    #[cfg(feature = "server")]
    pub(crate) fn len(&self) -> usize {
        self.invites.len()
    }

    /// Makes room for `n` invitations in all, before restoring them.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.invites.reserve(n);
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
mod tests;
