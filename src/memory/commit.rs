//! Judging and committing a send under the sender's shard lock: the sender's state
//! machine decides, and the shard keeps what storage keeps (the record, the expiry
//! and idle queues, the flags).

use crate::memory::engine::{Engine, SPECIAL};
use crate::memory::shard::{Shard, RECHECK};
use crate::outcome::{Denied, Sent};
use crate::rules::precedence::{Subject, View};
use crate::rules::Rules;

impl Engine {
    /// Judges and, when allowed, commits a send; the caller holds the sender's shard.
    /// The sender's record is looked up once. `forced` replays a journaled outcome:
    /// `Some(Some(seq))` commits invitation `seq`, `Some(None)` commits nothing.
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
        let member = members.get_or_insert(s.sender, || {
            idle.push(std::cmp::Reverse((now.saturating_add(RECHECK), s.sender)));
        });
        let expired = member.settle(now, rules);
        if expired > 0 {
            *expired_unswept += expired;
        }
        if let Some(sent) = member.keyed_send(s, rules) {
            return Ok(sent);
        }
        let judged = member.judge(now, s, view, rules, count_attempt);
        if judged.restricted {
            self.mark(s.sender, SPECIAL);
        }
        let denied = judged.denied;
        *near_limit = self.near_limit(member, &rules.policy, denied.is_none());
        let seq = match forced {
            None => match denied {
                Some(denied) => return Err(denied),
                None => member.next_seq(now, *seq_floor),
            },
            // A replayed send whose sequence the sender has issued already (only when
            // the state diverged): skipped, so ids stay unique and the ledger ordered.
            Some(Some(seq)) if seq < member.ledger.next_seq() => return Err(REPLAYED_DENIAL),
            Some(Some(seq)) => seq,
            // A replayed denial: the value is discarded by the caller.
            Some(None) => return Err(denied.unwrap_or(REPLAYED_DENIAL)),
        };
        let sent = member.commit(now, s, view, seq, judged.shadowed, rules);
        expiries.push_back((sent.expires_at.as_millis(), s.sender));
        Ok(sent)
    }
}

/// What a replayed denial returns when the rules, re-run, would have allowed it.
const REPLAYED_DENIAL: Denied = Denied {
    reason: crate::outcome::DenyReason::SelfInvite,
    retry_at: None,
};
