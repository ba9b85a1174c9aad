//! One lock's worth of state: the members hashed here and their expiry queues.
//!
//! Everything here is plain data driven by `now`; the engine owns the locks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::memory::queue::ChunkQueue;
use crate::memory::records::Members;
use crate::rules::Rules;
use crate::sender::record::Member;

/// How often an idle check is repeated for a member that cannot be reclaimed yet.
pub(crate) const RECHECK: u64 = 24 * 3_600_000;

/// State of the members that hash to one shard.
#[derive(Debug)]
pub(crate) struct Shard {
    /// The rules in force, replaced only while every shard is locked.
    pub(crate) rules: Arc<Rules>,
    pub(crate) members: Members,
    /// (expiry instant, sender) per pending invitation, sorted by construction.
    pub(crate) expiries: ChunkQueue<(u64, u64)>,
    /// (cooldown end, sender, recipient), sorted by construction.
    pub(crate) cooldowns: ChunkQueue<(u64, u64, u64)>,
    /// (instant, member): when to check whether the member's record can be dropped.
    pub(crate) idle: BinaryHeap<Reverse<(u64, u64)>>,
    /// No sequence number below this is issued: the ids of a snapshot written when
    /// sequences were counted per shard (see `persist`), 0 otherwise.
    pub(crate) seq_floor: u64,
    /// Latest instant this shard has acted at.
    pub(crate) now: u64,
    /// Invitations that expired unanswered since the last sweep.
    pub(crate) expired_unswept: u64,
    /// Whether the latest decision left its sender's fullest send window at or past
    /// the near-limit share (set only while metrics are reported).
    pub(crate) near_limit: bool,
}

impl Shard {
    /// An empty shard under `rules`.
    pub(crate) fn new(rules: Arc<Rules>) -> Self {
        Shard {
            rules,
            members: Members::default(),
            expiries: ChunkQueue::default(),
            cooldowns: ChunkQueue::default(),
            idle: BinaryHeap::new(),
            seq_floor: 0,
            now: 0,
            expired_unswept: 0,
            near_limit: false,
        }
    }

    /// The instant to act at: never earlier than any instant acted at before.
    pub(crate) fn observe(&mut self, now: u64) -> u64 {
        self.now = self.now.max(now);
        self.now
    }

    /// The member's record, created on first use.
    pub(crate) fn member_mut(&mut self, id: u64) -> &mut Member {
        let now = self.now;
        let idle = &mut self.idle;
        self.members.get_or_insert(id, || {
            idle.push(Reverse((now.saturating_add(RECHECK), id)));
        })
    }

    /// Brings the member's windows and invitations up to `now` (see
    /// [`Member::settle`]).
    pub(crate) fn settle(&mut self, id: u64, now: u64) {
        if let Some(member) = self.members.get_mut(&id) {
            self.expired_unswept += member.settle(now, &self.rules);
        }
    }

    /// The member's record (an absent member's is empty) when settling it at `now`
    /// would change nothing, so that it can be read as it is; `None` when it must be
    /// settled first. One lookup either way.
    pub(crate) fn settled(&self, id: u64, now: u64) -> Option<&Member> {
        match self.members.get(&id) {
            None => Some(&crate::memory::engine::EMPTY),
            Some(m) if now < m.due.0 => Some(m),
            Some(_) => None,
        }
    }

    /// Starts the re-invite cooldown of a pair, and queues its end.
    pub(crate) fn start_cooldown(&mut self, sender: u64, recipient: u64, until: u64) {
        self.member_mut(sender).start_cooldown(recipient, until);
        self.cooldowns.push_back((until, sender, recipient));
    }

    /// Schedules an idle check of `id` no earlier than `at`, and always after now, so
    /// a sweep never meets the same check twice.
    pub(crate) fn recheck_idle(&mut self, id: u64, at: u64) {
        // Clocks stop at `Timestamp::MAX`, so there is always a later instant; were
        // there none, the record would just stay, rather than the sweep spin.
        if let Some(next) = self.now.checked_add(1) {
            self.idle.push(Reverse((at.max(next), id)));
        }
    }

    /// Processes at most `budget` due items; returns how many were processed.
    pub(crate) fn sweep_step(&mut self, now: u64, budget: usize) -> usize {
        let due = self
            .expiries
            .iter()
            .take(budget)
            .take_while(|&&(at, _)| at <= now)
            .count();
        self.warm(due);
        for _ in 0..due {
            let Some((_, sender)) = self.expiries.pop_front() else {
                break;
            };
            // Only the invitations: the member's windows are brought up to date by
            // whatever touches the member next.
            if let Some(member) = self.members.get_mut(&sender) {
                self.expired_unswept += member.expire_invitations(now, &self.rules);
                member.due.0 = 0;
            }
        }
        let mut done = due;
        while done < budget {
            match self.cooldowns.front() {
                Some(&(until, sender, recipient)) if until <= now => {
                    self.cooldowns.pop_front();
                    if let Some(member) = self.members.get_mut(&sender) {
                        member.end_cooldown(recipient, now);
                    }
                    done += 1;
                }
                _ => break,
            }
        }
        while done < budget {
            match self.idle.peek() {
                Some(&Reverse((due, id))) if due <= now => {
                    self.idle.pop();
                    self.check_idle(id, now);
                    done += 1;
                }
                _ => break,
            }
        }
        done
    }

    /// Reads, for the first `due` entries of the expiry queue, what expiring them
    /// will touch: each sender's record and oldest invitation. The reads of different
    /// senders do not depend on each other, so the processor overlaps their cache
    /// misses, which one-at-a-time processing would pay in turn; the expiry itself
    /// then finds its data in cache.
    fn warm(&self, due: usize) {
        if due < 2 {
            return;
        }
        let mut sink = 0u64;
        for &(_, sender) in self.expiries.iter().take(due) {
            sink ^= self
                .members
                .get(&sender)
                .and_then(|m| m.ledger.get(0))
                .map_or(0, |i| i.recipient);
        }
        std::hint::black_box(sink);
    }

    fn check_idle(&mut self, id: u64, now: u64) {
        self.settle(id, now);
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let (spans, policy) = (&self.rules.spans, &*self.rules.policy);
        if member.is_idle(now, |s| s.idle_at(&policy.spam)) {
            self.members.remove(&id);
        } else {
            let next = member
                .idle_estimate(spans, policy)
                .unwrap_or(now.saturating_add(RECHECK));
            self.recheck_idle(id, next);
        }
    }

    /// Whether every queue is drained up to `now`.
    pub(crate) fn nothing_due(&self, now: u64) -> bool {
        self.expiries.front().is_none_or(|&(d, _)| d > now)
            && self.cooldowns.front().is_none_or(|&(d, _, _)| d > now)
            && self.idle.peek().is_none_or(|&Reverse((d, _))| d > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_check_is_never_requeued_at_the_instant_it_ran() {
        let rules = Rules::new(
            Arc::new(crate::Policy::default()),
            crate::Shadow::none(),
            false,
        );
        let mut shard = Shard::new(rules);
        for now in [1_000, u64::MAX] {
            shard.observe(now);
            // Following someone keeps the record: its idle check is re-queued.
            shard.member_mut(1).extra_mut().follows.insert(2);
            for _ in 0..3 {
                shard.sweep_step(now, 8);
            }
            assert!(shard.nothing_due(now), "at {now}");
            assert_eq!(shard.members.len(), 1);
        }
    }
}
