//! A sender's invitations, oldest first, found by sequence number.
//!
//! Every invitation lives the same TTL and sequence numbers grow with time within a
//! shard, so the ledger is sorted by both: expiry pops from the front, and lookup by
//! id is a binary search. Ended invitations stay as tombstones (so a second `accept`
//! says "already ended") until they would have expired, or until tombstones outnumber
//! live invitations, when they are compacted away.

use std::collections::VecDeque;

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

/// The sender's invitations, sorted by sequence and by sending instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ledger {
    invites: VecDeque<Invite>,
    live: u32,
}

impl Ledger {
    /// Records a new pending invitation.
    pub(crate) fn push(&mut self, seq: u64, recipient: u64, sent_at: u64) {
        debug_assert!(self.invites.back().is_none_or(|last| last.seq < seq));
        self.invites.push_back(Invite {
            seq,
            recipient,
            sent_at,
            last_reminder: 0,
            reminders: 0,
            ended: None,
        });
        self.live += 1;
    }

    /// Restores an invitation read from a snapshot (in order).
    pub(crate) fn restore(&mut self, invite: Invite) -> bool {
        if self
            .invites
            .back()
            .is_some_and(|last| last.seq >= invite.seq)
        {
            return false;
        }
        if invite.ended.is_none() {
            self.live += 1;
        }
        self.invites.push_back(invite);
        true
    }

    /// Pops invitations sent at or before `now - ttl`, calling `expired` for each that
    /// was still pending (it expired unanswered).
    pub(crate) fn expire(&mut self, now: u64, ttl: u64, mut expired: impl FnMut(&Invite)) {
        while let Some(front) = self.invites.front() {
            if front.sent_at.saturating_add(ttl) > now {
                break;
            }
            if front.ended.is_none() {
                self.live -= 1;
                expired(front);
            }
            self.invites.pop_front();
        }
    }

    /// When the oldest kept invitation expires (or its tombstone can go).
    pub(crate) fn first_expiry(&self, ttl: u64) -> Option<u64> {
        self.invites.front().map(|i| i.sent_at.saturating_add(ttl))
    }

    /// Position of the invitation with sequence `seq`.
    pub(crate) fn find(&self, seq: u64) -> Option<usize> {
        self.invites.binary_search_by_key(&seq, |i| i.seq).ok()
    }

    pub(crate) fn get(&self, at: usize) -> Option<&Invite> {
        self.invites.get(at)
    }

    /// Marks the invitation at `at` ended; compacts tombstones when they dominate.
    pub(crate) fn end(&mut self, at: usize, how: Ending) {
        if let Some(invite) = self.invites.get_mut(at) {
            if invite.ended.is_none() {
                invite.ended = Some(how);
                self.live -= 1;
            }
        }
        let tombstones = self.invites.len() - self.live as usize;
        if tombstones > 64 && tombstones > 2 * self.live as usize {
            self.invites.retain(|i| i.ended.is_none());
        }
    }

    /// Records a reminder on the invitation at `at`.
    pub(crate) fn remind(&mut self, at: usize, now: u64) {
        if let Some(invite) = self.invites.get_mut(at) {
            invite.reminders = invite.reminders.saturating_add(1);
            invite.last_reminder = now;
        }
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
        self.invites.range(start..).filter(|i| i.ended.is_none())
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
