//! Judging and committing a send, under the sender's shard lock: every rule, then the
//! ledger, windows, expiry queue, idempotency record and spam state in one step.

use crate::decide::{evaluate, Facts, Subject, Verdicts, View};
use crate::engine::{Engine, SPECIAL};
use crate::ids::{InviteId, MemberId};
use crate::member::{IdemRecord, Member};
use crate::outcome::{Denied, Sent};
use crate::rules::Rules;
use crate::shard::{settle, Shard, RECHECK};
use crate::spam::Attempt;
use crate::time::Timestamp;

impl Engine {
    /// Judges and, when allowed, commits a send; the caller holds the sender's shard.
    /// The sender's record is looked up once.
    pub(crate) fn decide(
        &self,
        shard: &mut Shard,
        now: u64,
        s: &Subject<'_>,
        view: View,
        count_attempt: bool,
        forced: Option<Option<u64>>,
    ) -> Result<Sent, Denied> {
        let Shard {
            members,
            expiries,
            idle,
            seq_floor,
            expired_unswept,
            rules,
            near_limit,
            ..
        } = shard;
        let rules: &Rules = rules;
        let (policy, spans) = (&*rules.policy, &rules.spans);
        let member = members.get_or_insert(s.sender, || {
            idle.push(std::cmp::Reverse((now.saturating_add(RECHECK), s.sender)));
        });
        settle(member, now, spans, policy, expired_unswept);
        if let Some(sent) = replay(member, s, spans.ttl) {
            return Ok(sent);
        }
        let spam_on = policy.spam.is_enabled();
        let attempt = Attempt {
            stranger: view.stranger,
            note: s.note,
        };
        let spam = if spam_on {
            let (kw, state) = (&rules.keywords, member.spam_mut());
            if count_attempt {
                state.attempt(now, &attempt, &policy.spam, kw)
            } else {
                state.check(now, &attempt, &policy.spam, kw)
            }
        } else {
            None
        };
        let mut verdicts = Verdicts::default();
        let mut shadowed = crate::shadow::ShadowTally::default();
        let facts = Facts {
            now,
            member,
            pair: member.pair(s.recipient, policy.max_pending_per_pair),
            view,
            spam,
            policy,
            spans,
        };
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
        if let Some(v) = spam {
            // A shadowed signal never escalates: a restriction is always enforced.
            let enforced = !shadow.contains(crate::ShadowRule::SpamSuspected);
            if let Some(until) = v.restrict_until.filter(|_| enforced) {
                crate::relations::impose_restriction(member, until, Some(v.signals));
                self.mark(s.sender, SPECIAL);
            }
        }
        let denied = verdicts.into_denied();
        *near_limit = self.near_limit(member, policy, denied.is_none());
        let seq = match forced {
            None => match denied {
                Some(denied) => return Err(denied),
                None => member.ledger.seq_at(now, *seq_floor),
            },
            // A replayed send whose sequence the sender has issued already (only when
            // the state diverged): skipped, so ids stay unique and the ledger ordered.
            Some(Some(seq)) if seq < member.ledger.next_seq() => return Err(REPLAYED_DENIAL),
            Some(Some(seq)) => seq,
            // A replayed denial: the value is discarded by the caller.
            Some(None) => return Err(denied.unwrap_or(REPLAYED_DENIAL)),
        };
        // Commit: everything below belongs to the sender and its shard.
        let expires = now.saturating_add(spans.ttl);
        expiries.push_back((expires, s.sender));
        member.pair_added(s.recipient);
        member.sends.push(now);
        member.ledger.push(seq, s.recipient, now);
        // Of everything pushed, the daily window or the TTL ends first.
        let first_change = now.saturating_add(spans.day.min(spans.ttl));
        member.due.0 = member.due.0.min(first_change);
        if spam_on {
            member.spam_mut().record_sent(now, &attempt, &policy.spam);
        }
        if s.note.is_some() || s.key.is_some() {
            let extra = member.extra_mut();
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
        Ok(Sent {
            id: InviteId::new(MemberId(s.sender), seq),
            expires_at: Timestamp::from_millis(expires),
            shadow_retry: shadowed.retry(),
            shadowed: shadowed.rules,
        })
    }
}

/// The earlier send made with this idempotency key to this recipient, if any.
fn replay(member: &Member, s: &Subject<'_>, ttl: u64) -> Option<Sent> {
    let key = s.key?;
    let rec = member.extra.as_deref()?.idem.get(key)?;
    (rec.recipient == s.recipient).then(|| Sent {
        id: InviteId::new(MemberId(s.sender), rec.seq),
        expires_at: Timestamp::from_millis(rec.sent_at.saturating_add(ttl)),
        shadow_retry: crate::outcome::NO_RETRY,
        shadowed: crate::Shadow::none(),
    })
}

/// What a replayed denial returns when the rules, re-run, would have allowed it.
const REPLAYED_DENIAL: Denied = Denied {
    reason: crate::outcome::DenyReason::SelfInvite,
    retry_at: None,
};
