//! Telling the member: capacity and diagnosis, read from a settled record without
//! changing it.

use crate::report::{window, Blocker, Capacity, NoteCapacity};
use crate::rules::precedence::{evaluate, Subject, View};
use crate::rules::spam::{Attempt, SpamState};
use crate::rules::window::{log_usage, Usage};
use crate::rules::Rules;
use crate::sender::record::Member;
use crate::time::Timestamp;

impl Member {
    /// The use of every window and quota at `now` (the record settled at `now`).
    pub(crate) fn capacity(&self, now: u64, rules: &Rules) -> Capacity {
        let (policy, spans) = (&*rules.policy, &rules.spans);
        let limits = self.limits(policy);
        let notes = self.extra.as_deref().map_or(
            Usage {
                used: 0,
                frees_at: None,
                next_slot: None,
            },
            |e| log_usage(&e.notes, now, limits.notes_per_30d, spans.note),
        );
        Capacity {
            daily: window(self.sends.daily(limits.daily, spans.day), limits.daily),
            weekly: window(self.sends.weekly(limits.weekly, spans.week), limits.weekly),
            notes: NoteCapacity {
                used: notes.used,
                limit: limits.notes_per_30d,
                next_slot_at: notes.next_slot.map(Timestamp::from_millis),
            },
            pending_sent: self.ledger.live(),
            tier: self.tier,
            status: self.status().at(Timestamp::from_millis(now)),
        }
    }

    /// Every rule that would deny the send `s` at `now` (the record settled at
    /// `now`), in precedence order; rules in shadow mode deny nothing. The spam
    /// signals are judged without recording an attempt.
    pub(crate) fn diagnose(
        &self,
        now: u64,
        s: &Subject<'_>,
        view: View,
        rules: &Rules,
    ) -> Vec<Blocker> {
        let mut blockers = Vec::new();
        if let (Some(key), Some(extra)) = (s.key, self.extra.as_deref()) {
            if extra
                .idem
                .get(key)
                .is_some_and(|r| r.recipient == s.recipient)
            {
                return blockers; // a replay of an accepted send succeeds
            }
        }
        let attempt = Attempt {
            stranger: view.stranger,
            note: s.note,
        };
        let fresh = SpamState::default();
        let state = self.spam.as_deref().unwrap_or(&fresh);
        let policy = &*rules.policy;
        let spam = if policy.spam.is_enabled() {
            state.check(now, &attempt, &policy.spam, &rules.keywords)
        } else {
            None
        };
        let facts = self.facts(now, s, view, spam, rules);
        evaluate(&facts, s, &mut |reason, at| {
            if !rules.shadow.covers(&reason) {
                blockers.push(Blocker {
                    reason,
                    retry_at: at.map(Timestamp::from_millis),
                });
            }
        });
        blockers
    }
}
