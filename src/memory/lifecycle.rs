//! What happens to an invitation after it is sent.

use crate::ids::{InviteId, MemberId};
use crate::memory::engine::{Engine, LINKED};
use crate::memory::shard::Shard;
use crate::outcome::InviteError;
use crate::persist::journal::Op;
use crate::report::PendingPage;
use crate::sender::ledger::{Ending, Invite};

impl Engine {
    /// Ends a pending invitation that needs only its sender's shard, at `at` when
    /// replaying (else now, journaled).
    pub(super) fn end_one(
        &self,
        id: InviteId,
        how: Ending,
        at: Option<u64>,
    ) -> Result<Invite, InviteError> {
        self.journal_refuses().map_err(InviteError::Unavailable)?;
        let s = id.sender().0;
        let mut shard = self.lock(s);
        let now = self.act_at(&mut shard, at);
        let Shard {
            members,
            rules,
            cooldowns,
            expired_unswept,
            ..
        } = &mut *shard;
        let member = members.get_mut(&s).ok_or(InviteError::Unknown(id))?;
        let ended = member.end(id.seq(), how, now, rules, expired_unswept)?;
        if let Some(until) = ended.cooldown_until {
            cooldowns.push_back((until, s, ended.invite.recipient));
        }
        let ticket = self.log_op(now, || Op::End(how, id));
        drop(shard);
        self.wait_logged(ticket).map_err(InviteError::Unavailable)?;
        Ok(ended.invite)
    }

    /// The recipient accepts: the members become connected and every invitation
    /// pending between them, in both directions, ends.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is unknown, already ended or expired.
    pub fn accept(&self, id: InviteId) -> Result<(), InviteError> {
        self.apply(Op::End(Ending::Accepted, id), None).ended()
    }

    /// [`Engine::accept`] at `at` when replaying (else now, journaled).
    pub(super) fn accept_at(&self, id: InviteId, at: Option<u64>) -> Result<(), InviteError> {
        self.journal_refuses().map_err(InviteError::Unavailable)?;
        let s = id.sender().0;
        let recipient = {
            let shard = self.lock(s);
            let probe = at.unwrap_or_else(|| self.time.now().max(shard.now));
            let member = shard.members.get(&s).ok_or(InviteError::Unknown(id))?;
            member.locate(id.seq(), probe, &shard.rules)?.1.recipient
        };
        let (mut own, other) = self.lock_pair(s, recipient);
        let now = self.act_at(&mut own, at);
        {
            let Shard {
                members,
                rules,
                expired_unswept,
                ..
            } = &mut *own;
            let member = members.get_mut(&s).ok_or(InviteError::Unknown(id))?;
            member.end(id.seq(), Ending::Accepted, now, rules, expired_unswept)?;
            member.end_pair(recipient, Ending::Accepted);
            member.extra_mut().connections.insert(recipient);
        }
        let mut theirs = other;
        let back: &mut Shard = match theirs.as_deref_mut() {
            Some(g) => {
                g.observe(now);
                g
            }
            None => &mut own,
        };
        back.settle(recipient, now);
        let them = back.member_mut(recipient);
        them.end_pair(s, Ending::Accepted);
        them.extra_mut().connections.insert(s);
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
        self.apply(Op::End(Ending::Declined, id), None).ended()
    }

    /// The sender withdraws; they may not invite the same recipient again until the
    /// re-invite cooldown has passed.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is unknown, already ended or expired.
    pub fn withdraw(&self, id: InviteId) -> Result<(), InviteError> {
        self.apply(Op::End(Ending::Withdrawn, id), None).ended()
    }

    /// The recipient says "I don't know this person": the invitation ends as declined
    /// and the report counts against the sender.
    ///
    /// # Errors
    /// [`InviteError`] when the invitation is unknown, already ended or expired.
    pub fn report_unknown(&self, id: InviteId) -> Result<(), InviteError> {
        self.apply(Op::End(Ending::Reported, id), None).ended()
    }

    /// Records a reminder on a pending invitation and returns how many it has had.
    ///
    /// # Errors
    /// [`InviteError::ReminderNotAllowed`] when it already had the most reminders, or
    /// the spacing since the sending or the previous reminder has not passed (with the
    /// instant it will have); the other [`InviteError`]s for an invitation not pending.
    pub fn remind(&self, id: InviteId) -> Result<u32, InviteError> {
        self.apply(Op::Remind(id), None).reminded()
    }

    /// [`Engine::remind`] at `at` when replaying (else now, journaled).
    pub(super) fn remind_at(&self, id: InviteId, at: Option<u64>) -> Result<u32, InviteError> {
        self.journal_refuses().map_err(InviteError::Unavailable)?;
        let s = id.sender().0;
        let mut shard = self.lock(s);
        let now = self.act_at(&mut shard, at);
        let Shard { members, rules, .. } = &mut *shard;
        let member = members.get_mut(&s).ok_or(InviteError::Unknown(id))?;
        let count = member.remind(id.seq(), now, rules, &self.reminders)?;
        let ticket = self.log_op(now, || Op::Remind(id));
        drop(shard);
        self.wait_logged(ticket).map_err(InviteError::Unavailable)?;
        Ok(count)
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
        let Some(member) = shard.members.get(&m.0) else {
            return PendingPage {
                items: Vec::new(),
                next: None,
            };
        };
        let from = after
            .filter(|a| a.sender() == m)
            .map_or(0, |a| a.seq().saturating_add(1));
        member.pending_page(from, limit, &shard.rules)
    }
}
