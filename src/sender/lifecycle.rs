//! What happens to a sender's invitations after they are sent: endings, the
//! re-invite cooldown, reminders and the pending listing.

use crate::ids::{InviteId, MemberId};
use crate::outcome::InviteError;
use crate::policy::ReminderPolicy;
use crate::report::{PendingInvite, PendingPage};
use crate::rules::spam::Feedback;
use crate::rules::Rules;
use crate::sender::ledger::{Ending, Invite};
use crate::sender::record::Member;
use crate::time::Timestamp;

/// An invitation that ended, and what storage must do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    pub(crate) invite: Invite,
    /// A withdrawal started the pair's re-invite cooldown, which ends then: storage
    /// queues its end.
    pub(crate) cooldown_until: Option<u64>,
}

impl Member {
    fn invite_id(&self, seq: u64) -> InviteId {
        InviteId::new(MemberId(self.id), seq)
    }

    /// The pending invitation `seq` and its ledger position, as of `now`.
    pub(crate) fn locate(
        &self,
        seq: u64,
        now: u64,
        rules: &Rules,
    ) -> Result<(usize, Invite), InviteError> {
        let id = self.invite_id(seq);
        let at = self.ledger.find(seq).ok_or(InviteError::Unknown(id))?;
        let inv = *self.ledger.get(at).ok_or(InviteError::Unknown(id))?;
        if inv.ended.is_some() {
            return Err(InviteError::AlreadyEnded(id));
        }
        let expires = inv.sent_at.saturating_add(rules.spans.ttl);
        if expires <= now {
            return Err(InviteError::Expired {
                id,
                at: Timestamp::from_millis(expires),
            });
        }
        Ok((at, inv))
    }

    /// Ends the pending invitation `seq` at `now`. The record is settled first (once
    /// the invitation is known), so invitations that expired meanwhile are recorded
    /// as expired before anything else ends; how many did is added to `expired`.
    /// A decline or report counts against the sender's spam signals; a withdrawal
    /// starts the pair's re-invite cooldown.
    pub(crate) fn end(
        &mut self,
        seq: u64,
        how: Ending,
        now: u64,
        rules: &Rules,
        expired: &mut u64,
    ) -> Result<Ended, InviteError> {
        self.locate(seq, now, rules)?;
        *expired += self.settle(now, rules);
        let (at, invite) = self.locate(seq, now, rules)?;
        self.ledger.end(at, how);
        self.pairs_changed();
        let feedback = match how {
            Ending::Accepted => Feedback::Accepted,
            Ending::Declined => Feedback::Declined,
            Ending::Reported => Feedback::Reported,
            Ending::Withdrawn => {
                let cooldown = rules.spans.cooldown;
                let cooldown_until = (cooldown > 0).then(|| {
                    let until = now.saturating_add(cooldown);
                    self.start_cooldown(invite.recipient, until);
                    until
                });
                return Ok(Ended {
                    invite,
                    cooldown_until,
                });
            }
        };
        self.record_feedback(now, feedback, rules);
        Ok(Ended {
            invite,
            cooldown_until: None,
        })
    }

    /// Ends every invitation pending from this sender to `recipient`.
    pub(crate) fn end_pair(&mut self, recipient: u64, how: Ending) {
        let mut seqs = Vec::new();
        self.ledger
            .for_each_pending_to(recipient, |p| seqs.push(p.seq));
        for seq in seqs {
            if let Some(at) = self.ledger.find(seq) {
                self.ledger.end(at, how);
            }
        }
        self.pairs_changed();
    }

    /// Starts (or extends) the re-invite cooldown with `recipient` until `until`.
    pub(crate) fn start_cooldown(&mut self, recipient: u64, until: u64) {
        self.pair_added(recipient);
        let end = self.extra_mut().cooldowns.entry(recipient).or_default();
        *end = (*end).max(until);
    }

    /// Ends the cooldown with `recipient` if it ran out by `now`.
    pub(crate) fn end_cooldown(&mut self, recipient: u64, now: u64) {
        if let Some(extra) = self.extra.as_deref_mut() {
            if extra
                .cooldowns
                .get(&recipient)
                .is_some_and(|&end| end <= now)
            {
                extra.cooldowns.remove(&recipient);
            }
        }
        self.pairs_changed();
    }

    /// Records a reminder of the pending invitation `seq` at `now`; returns how many
    /// it has had. Refused past the most reminders, or before the spacing since the
    /// sending (or the previous reminder) has passed.
    pub(crate) fn remind(
        &mut self,
        seq: u64,
        now: u64,
        rules: &Rules,
        policy: &ReminderPolicy,
    ) -> Result<u32, InviteError> {
        let id = self.invite_id(seq);
        let (at, inv) = self.locate(seq, now, rules)?;
        let reminders = self.ledger.reminders(inv.seq);
        let count = u32::from(reminders.count);
        if count >= policy.max {
            return Err(InviteError::ReminderNotAllowed { id, next_at: None });
        }
        let since = if count == 0 {
            inv.sent_at
        } else {
            reminders.last
        };
        let due = since.saturating_add(crate::time::millis(policy.spacing));
        if now < due {
            let expires = inv.sent_at.saturating_add(rules.spans.ttl);
            let next_at = (due < expires).then(|| Timestamp::from_millis(due));
            return Err(InviteError::ReminderNotAllowed { id, next_at });
        }
        self.ledger.remind(at, now);
        Ok(count + 1)
    }

    /// A page of the pending invitations from sequence `from` on, oldest first, at
    /// most `limit` long.
    pub(crate) fn pending_page(&self, from: u64, limit: usize, rules: &Rules) -> PendingPage {
        let ttl = rules.spans.ttl;
        let mut iter = self.ledger.pending_from(from);
        let items: Vec<PendingInvite> = iter
            .by_ref()
            .take(limit)
            .map(|inv| PendingInvite {
                id: self.invite_id(inv.seq),
                recipient: MemberId(inv.recipient),
                sent_at: Timestamp::from_millis(inv.sent_at),
                expires_at: Timestamp::from_millis(inv.sent_at.saturating_add(ttl)),
                reminders: u32::from(self.ledger.reminders(inv.seq).count),
            })
            .collect();
        let next = match iter.next() {
            Some(_) => items.last().map(|i| i.id),
            None => None,
        };
        PendingPage { items, next }
    }
}
