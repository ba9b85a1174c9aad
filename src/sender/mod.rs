//! One member's state and every rule over it, as a state machine driven by `now`.
//!
//! A [`Member`] record owns everything that belongs to one member as a sender and as
//! a holder of facts recipients are judged by: tier, status and restriction, invite
//! setting, the send and note windows, the pending ledger, re-invite cooldowns,
//! idempotency records, spam state and reminders. Its operations take the instant,
//! the [`Rules`] in force and what was read about the other party, and return
//! outcomes. There are no locks, no clock, no shard structures and no journal here:
//! storage around a record — the in-memory engine's shards, a snapshot — keeps it
//! and does what an outcome asks of it (queue an expiry, flag a restricted member).

pub(crate) mod admission;
mod extra;
pub(crate) mod ledger;
mod lifecycle;
pub(crate) mod record;
mod report;
#[cfg(test)]
mod tests;

use crate::account::AccountStatus;
use crate::ids::{InviteId, MemberId};
use crate::outcome::{Denied, Sent};
use crate::rules::precedence::{evaluate, Facts, Subject, Verdicts, View};
use crate::rules::shadow::ShadowTally;
use crate::rules::spam::{Attempt, Feedback, Verdict};
use crate::rules::Rules;
use crate::sender::record::{IdemRecord, Member};
use crate::time::Timestamp;

/// What the rules say about a send, before anything is committed.
#[derive(Debug)]
pub(crate) struct Judgement {
    /// The first rule that denies and the instant the request could succeed.
    pub(crate) denied: Option<Denied>,
    /// Rules in shadow mode that would have denied.
    pub(crate) shadowed: ShadowTally,
    /// The spam signals restricted the sender just now: storage that keeps flags
    /// of special members must set the sender's.
    pub(crate) restricted: bool,
}

impl Member {
    /// Brings the windows and invitations up to `now`: drops what no longer counts
    /// and records invitations that expired unanswered (as feedback to the spam
    /// signals at their expiry instant). Returns how many expired unanswered.
    #[inline]
    pub(crate) fn settle(&mut self, now: u64, rules: &Rules) -> u64 {
        if now < self.due.0 {
            return 0;
        }
        let spans = &rules.spans;
        self.sends.advance(now, spans.day, spans.week);
        let expired = self.expire_invitations(now, rules);
        if let Some(extra) = self.extra.as_deref_mut() {
            extra.notes.expire(now, spans.note);
            extra.idem.expire(now, spans.idem);
        }
        self.due.0 = self.next_due(spans);
        expired
    }

    /// The invitation part of [`Member::settle`]: pops what expired, counting the
    /// unanswered.
    pub(crate) fn expire_invitations(&mut self, now: u64, rules: &Rules) -> u64 {
        let (ttl, spam_policy) = (rules.spans.ttl, &rules.policy.spam);
        let Member { ledger, spam, .. } = self;
        let mut expired = 0;
        // As an answer's feedback does, an expiry creates the spam state when the
        // signals are on: a state with nothing in it is not stored (a snapshot or a
        // packed value drops it), yet its member's expiries still count.
        let tracked = spam_policy.is_enabled();
        ledger.expire(now, ttl, |inv| {
            expired += 1;
            if tracked {
                let at = inv.sent_at.saturating_add(ttl);
                spam.get_or_insert_with(Box::default).record_feedback(
                    at,
                    Feedback::Expired,
                    spam_policy,
                );
            }
        });
        self.pairs_changed();
        expired
    }

    /// The earlier send made with this idempotency key to this recipient, if any: a
    /// retry gets it back, consuming nothing and not judged again.
    #[inline]
    pub(crate) fn keyed_send(&self, s: &Subject<'_>, rules: &Rules) -> Option<Sent> {
        let key = s.key?;
        let rec = self.extra.as_deref()?.idem.get(key)?;
        (rec.recipient == s.recipient).then(|| Sent {
            id: InviteId::new(MemberId(self.id), rec.seq),
            expires_at: Timestamp::from_millis(rec.sent_at.saturating_add(rules.spans.ttl)),
            shadow_retry: crate::outcome::NO_RETRY,
            shadowed: crate::Shadow::none(),
        })
    }

    /// Judges a send at `now` (the record settled at `now`) against every rule, in
    /// precedence order, with the recipient's facts in `view`. `count_attempt`
    /// records the attempt in the spam state (the second and later sends of one bulk
    /// action judge without counting); a spam restriction is imposed here.
    #[inline]
    pub(crate) fn judge(
        &mut self,
        now: u64,
        s: &Subject<'_>,
        view: View,
        rules: &Rules,
        count_attempt: bool,
    ) -> Judgement {
        let policy = &*rules.policy;
        let attempt = Attempt {
            stranger: view.stranger,
            note: s.note,
        };
        let spam = if policy.spam.is_enabled() {
            let (kw, state) = (&rules.keywords, self.spam_mut());
            if count_attempt {
                state.attempt(now, &attempt, &policy.spam, kw)
            } else {
                state.check(now, &attempt, &policy.spam, kw)
            }
        } else {
            None
        };
        let mut verdicts = Verdicts::default();
        let mut shadowed = ShadowTally::default();
        let facts = self.facts(now, s, view, spam, rules);
        let shadow = rules.shadow;
        if shadow.is_empty() {
            // The common case, kept apart so that it costs what it did before
            // shadow mode existed.
            evaluate(&facts, s, &mut |reason, at| verdicts.add(reason, at));
        } else {
            evaluate(
                &facts,
                s,
                &mut |reason, at| match crate::ShadowRule::of(&reason)
                    .filter(|r| shadow.contains(*r))
                {
                    Some(rule) => shadowed.add(rule, at),
                    None => verdicts.add(reason, at),
                },
            );
        }
        let mut restricted = false;
        if let Some(v) = spam {
            // A shadowed signal never escalates: a restriction is always enforced.
            let enforced = !shadow.contains(crate::ShadowRule::SpamSuspected);
            if let Some(until) = v.restrict_until.filter(|_| enforced) {
                self.impose_restriction(until, Some(v.signals));
                restricted = true;
            }
        }
        Judgement {
            denied: verdicts.into_denied(),
            shadowed,
            restricted,
        }
    }

    /// Everything the rules read about a send `s` at `now`, borrowed from the record.
    #[inline]
    pub(crate) fn facts<'a>(
        &'a self,
        now: u64,
        s: &Subject<'_>,
        view: View,
        spam: Option<Verdict>,
        rules: &'a Rules,
    ) -> Facts<'a, Member> {
        let policy = &*rules.policy;
        Facts {
            now,
            member: self,
            pair: self.pair(s.recipient, policy.max_pending_per_pair),
            view,
            spam,
            policy,
            spans: &rules.spans,
        }
    }

    /// The sequence number a send at `now` gets: above every one this sender has
    /// issued, and at least `floor`.
    pub(crate) fn next_seq(&self, now: u64, floor: u64) -> u64 {
        self.ledger.seq_at(now, floor)
    }

    /// Commits an allowed send as invitation `seq`: the windows, the ledger, the note
    /// quota, the idempotency record and the spam state, in one step. Storage queues
    /// the invitation's expiry at the returned `expires_at`.
    #[inline]
    pub(crate) fn commit(
        &mut self,
        now: u64,
        s: &Subject<'_>,
        view: View,
        seq: u64,
        shadowed: ShadowTally,
        rules: &Rules,
    ) -> Sent {
        let (policy, spans) = (&*rules.policy, &rules.spans);
        let expires = now.saturating_add(spans.ttl);
        self.pair_added(s.recipient);
        self.sends.push(now);
        self.ledger.push(seq, s.recipient, now);
        // Of everything pushed, the daily window or the TTL ends first.
        let first_change = now.saturating_add(spans.day.min(spans.ttl));
        self.due.0 = self.due.0.min(first_change);
        if policy.spam.is_enabled() {
            let attempt = Attempt {
                stranger: view.stranger,
                note: s.note,
            };
            self.spam_mut().record_sent(now, &attempt, &policy.spam);
        }
        if s.note.is_some() || s.key.is_some() {
            let extra = self.extra_mut();
            if s.note.is_some() {
                extra.notes.push(now);
            }
            if let Some(key) = s.key {
                let record = IdemRecord {
                    recipient: s.recipient,
                    seq,
                    sent_at: now,
                };
                extra.idem.insert(key, record);
            }
        }
        Sent {
            id: InviteId::new(MemberId(self.id), seq),
            expires_at: Timestamp::from_millis(expires),
            shadow_retry: shadowed.retry(),
            shadowed: shadowed.rules,
        }
    }

    /// Records what a recipient's answer says about this sender, when the spam
    /// signals are on.
    pub(crate) fn record_feedback(&mut self, now: u64, feedback: Feedback, rules: &Rules) {
        if rules.policy.spam.is_enabled() {
            self.spam_mut()
                .record_feedback(now, feedback, &rules.policy.spam);
        }
    }

    /// Restricts the member until `until` for the given spam signals, unless a harsher
    /// status already holds.
    pub(crate) fn impose_restriction(&mut self, until: u64, why: Option<crate::SpamSignals>) {
        let until = Timestamp::from_millis(until);
        let harsher = match self.status() {
            AccountStatus::Banned | AccountStatus::Restricted { until: None } => true,
            AccountStatus::Restricted { until: Some(t) } => t >= until,
            AccountStatus::Active => false,
        };
        if !harsher {
            self.set_status(AccountStatus::Restricted { until: Some(until) });
            self.extra_mut().restricted_for = why;
        }
    }
}
