//! What happens to an invitation after it is sent.

use crate::engine::{Engine, LINKED};
use crate::ids::{InviteId, MemberId};
use crate::journal::Op;
use crate::ledger::{Ending, Invite};
use crate::outcome::InviteError;
use crate::shard::Shard;
use crate::spam::Feedback;
use crate::time::Timestamp;

/// A pending invitation, as listed for its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingInvite {
    /// The invitation.
    pub id: InviteId,
    /// Who it was sent to.
    pub recipient: MemberId,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// When it expires unless ended earlier.
    pub expires_at: Timestamp,
    /// Reminders sent so far.
    pub reminders: u32,
}

/// One page of a member's pending invitations, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPage {
    /// The invitations on this page.
    pub items: Vec<PendingInvite>,
    /// Pass this as `after` to get the next page; `None` on the last page.
    pub next: Option<InviteId>,
}

impl Engine {
    /// Finds a pending invitation under its sender's shard lock.
    fn locate(
        &self,
        shard: &Shard,
        id: InviteId,
        now: u64,
    ) -> Result<(usize, Invite), InviteError> {
        let member = shard
            .members
            .get(&id.sender().0)
            .ok_or(InviteError::Unknown(id))?;
        let at = member
            .ledger
            .find(id.seq())
            .ok_or(InviteError::Unknown(id))?;
        let inv = *member.ledger.get(at).ok_or(InviteError::Unknown(id))?;
        if inv.ended.is_some() {
            return Err(InviteError::AlreadyEnded(id));
        }
        let expires = inv.sent_at.saturating_add(shard.rules.spans.ttl);
        if expires <= now {
            return Err(InviteError::Expired {
                id,
                at: Timestamp::from_millis(expires),
            });
        }
        Ok((at, inv))
    }

    /// Finds a pending invitation after settling its sender, so that invitations that
    /// expired meanwhile are recorded as expired before anything else ends.
    fn locate_settled(
        &self,
        shard: &mut Shard,
        id: InviteId,
        now: u64,
    ) -> Result<(usize, Invite), InviteError> {
        self.locate(shard, id, now)?;
        shard.settle(id.sender().0, now);
        self.locate(shard, id, now)
    }

    /// Ends a pending invitation that needs only its sender's shard, at `at` when
    /// replaying (else now, journaled).
    pub(crate) fn end_one(
        &self,
        id: InviteId,
        how: Ending,
        at: Option<u64>,
    ) -> Result<Invite, InviteError> {
        let feedback = match how {
            Ending::Declined => Some(Feedback::Declined),
            Ending::Reported => Some(Feedback::Reported),
            _ => None,
        };
        self.journal_refuses().map_err(InviteError::Unavailable)?;
        let s = id.sender().0;
        let mut shard = self.lock(s);
        let now = self.act_at(&mut shard, at);
        let (at, inv) = self.locate_settled(&mut shard, id, now)?;
        shard.end_invite(s, at, how);
        if let Some(feedback) = feedback {
            self.record_feedback(&mut shard, s, now, feedback);
        }
        let cooldown = shard.rules.spans.cooldown;
        if how == Ending::Withdrawn && cooldown > 0 {
            shard.start_cooldown(s, inv.recipient, now.saturating_add(cooldown));
        }
        let ticket = self.log_op(now, || Op::End(how, id));
        drop(shard);
        self.wait_logged(ticket).map_err(InviteError::Unavailable)?;
        Ok(inv)
    }

    fn record_feedback(&self, shard: &mut Shard, sender: u64, now: u64, feedback: Feedback) {
        if shard.rules.policy.spam.is_enabled() {
            let rules = std::sync::Arc::clone(&shard.rules);
            let spam = shard.member_mut(sender).spam_mut();
            spam.record_feedback(now, feedback, &rules.policy.spam);
        }
    }

    /// The recipient accepts: the members become connected and every invitation
    /// pending between them, in both directions, ends.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is unknown, already ended or expired.
    pub fn accept(&self, id: InviteId) -> Result<(), InviteError> {
        self.accept_at(id, None)
    }

    /// [`Engine::accept`] at `at` when replaying (else now, journaled).
    pub(crate) fn accept_at(&self, id: InviteId, at: Option<u64>) -> Result<(), InviteError> {
        self.journal_refuses().map_err(InviteError::Unavailable)?;
        let s = id.sender().0;
        let recipient = {
            let shard = self.lock(s);
            let probe = at.unwrap_or_else(|| self.time.now().max(shard.now));
            self.locate(&shard, id, probe)?.1.recipient
        };
        let (mut own, other) = self.lock_pair(s, recipient);
        let now = self.act_at(&mut own, at);
        let (at, _) = self.locate_settled(&mut own, id, now)?;
        own.end_invite(s, at, Ending::Accepted);
        own.end_pair(s, recipient, Ending::Accepted);
        self.record_feedback(&mut own, s, now, Feedback::Accepted);
        own.member_mut(s).extra_mut().connections.insert(recipient);
        let mut theirs = other;
        let back: &mut Shard = match theirs.as_deref_mut() {
            Some(g) => {
                g.observe(now);
                g
            }
            None => &mut own,
        };
        back.settle(recipient, now);
        back.end_pair(recipient, s, Ending::Accepted);
        back.member_mut(recipient).extra_mut().connections.insert(s);
        self.mark(s, LINKED);
        self.mark(recipient, LINKED);
        let ticket = self.log_op(now, || Op::End(Ending::Accepted, id));
        drop(theirs);
        drop(own);
        self.wait_logged(ticket).map_err(InviteError::Unavailable)?;
        Ok(())
    }

    /// The recipient declines.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is unknown, already ended or expired.
    pub fn decline(&self, id: InviteId) -> Result<(), InviteError> {
        self.end_one(id, Ending::Declined, None).map(|_| ())
    }

    /// The sender withdraws; they may not invite the same recipient again until the
    /// re-invite cooldown has passed.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is unknown, already ended or expired.
    pub fn withdraw(&self, id: InviteId) -> Result<(), InviteError> {
        self.end_one(id, Ending::Withdrawn, None).map(|_| ())
    }

    /// The recipient says "I don't know this person": the invitation ends as declined
    /// and the report counts against the sender.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is unknown, already ended or expired.
    pub fn report_unknown(&self, id: InviteId) -> Result<(), InviteError> {
        self.end_one(id, Ending::Reported, None).map(|_| ())
    }

    /// Records a reminder on a pending invitation and returns how many it has had.
    ///
    /// # Errors
    /// [`InviteError::ReminderNotAllowed`] when it already had the most reminders, or
    /// the spacing since the sending or the previous reminder has not passed (with the
    /// instant it will have); the other [`InviteError`]s for an invitation not pending.
    pub fn remind(&self, id: InviteId) -> Result<u32, InviteError> {
        self.remind_at(id, None)
    }

    /// [`Engine::remind`] at `at` when replaying (else now, journaled).
    pub(crate) fn remind_at(&self, id: InviteId, at: Option<u64>) -> Result<u32, InviteError> {
        self.journal_refuses().map_err(InviteError::Unavailable)?;
        let s = id.sender().0;
        let mut shard = self.lock(s);
        let now = self.act_at(&mut shard, at);
        let (at, inv) = self.locate(&shard, id, now)?;
        let reminders = shard
            .members
            .get(&s)
            .map(|m| m.ledger.reminders(inv.seq))
            .unwrap_or_default();
        let count = u32::from(reminders.count);
        if count >= self.reminders.max {
            return Err(InviteError::ReminderNotAllowed { id, next_at: None });
        }
        let since = if count == 0 {
            inv.sent_at
        } else {
            reminders.last
        };
        let due = since.saturating_add(crate::time::millis(self.reminders.spacing));
        if now < due {
            let expires = inv.sent_at.saturating_add(shard.rules.spans.ttl);
            let next_at = (due < expires).then(|| Timestamp::from_millis(due));
            return Err(InviteError::ReminderNotAllowed { id, next_at });
        }
        if let Some(member) = shard.members.get_mut(&s) {
            member.ledger.remind(at, now);
        }
        let ticket = self.log_op(now, || Op::Remind(id));
        drop(shard);
        self.wait_logged(ticket).map_err(InviteError::Unavailable)?;
        Ok(count + 1)
    }

    /// Invitations pending from `sender` to `recipient` now.
    pub fn pending_between(&self, sender: MemberId, recipient: MemberId) -> u32 {
        let mut shard = self.lock(sender.0);
        let now = shard.observe(self.time.now());
        shard.settle(sender.0, now);
        shard
            .members
            .get(&sender.0)
            .map_or(0, |m| m.ledger.pending_count_to(recipient.0, u32::MAX).0)
    }

    /// A page of the member's pending sent invitations, oldest first, starting after
    /// `after` (from the oldest when `None`), at most `limit` long.
    pub fn pending_sent(&self, m: MemberId, after: Option<InviteId>, limit: usize) -> PendingPage {
        let mut shard = self.lock(m.0);
        let now = shard.observe(self.time.now());
        shard.settle(m.0, now);
        let ttl = shard.rules.spans.ttl;
        let Some(member) = shard.members.get(&m.0) else {
            return PendingPage {
                items: Vec::new(),
                next: None,
            };
        };
        let from = after
            .filter(|a| a.sender() == m)
            .map_or(0, |a| a.seq().saturating_add(1));
        let mut iter = member.ledger.pending_from(from);
        let items: Vec<PendingInvite> = iter
            .by_ref()
            .take(limit)
            .map(|inv| PendingInvite {
                id: InviteId::new(m, inv.seq),
                recipient: MemberId(inv.recipient),
                sent_at: Timestamp::from_millis(inv.sent_at),
                expires_at: Timestamp::from_millis(inv.sent_at.saturating_add(ttl)),
                reminders: u32::from(member.ledger.reminders(inv.seq).count),
            })
            .collect();
        let more = iter.next().is_some();
        let next = if more {
            items.last().map(|i| i.id)
        } else {
            None
        };
        PendingPage { items, next }
    }
}
