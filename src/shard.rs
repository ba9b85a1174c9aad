//! One lock's worth of state: members hashed here, their pairs and expiry queues.
//!
//! Everything here is plain data driven by `now`; the engine owns the locks.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::BinaryHeap;

use crate::ledger::Ending;
use crate::member::{FastMap, Member};
use crate::policy::Policy;
use crate::queue::ChunkQueue;
use crate::records::Members;
use crate::spam::Feedback;

/// Policy durations in milliseconds, computed once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spans {
    pub(crate) day: u64,
    pub(crate) week: u64,
    pub(crate) note: u64,
    pub(crate) idem: u64,
    pub(crate) ttl: u64,
    pub(crate) cooldown: u64,
}

impl Spans {
    pub(crate) fn new(policy: &Policy) -> Self {
        use crate::time::millis;
        Spans {
            day: millis(crate::policy::DAILY_WINDOW),
            week: millis(crate::policy::WEEKLY_WINDOW),
            note: millis(crate::policy::NOTE_WINDOW),
            idem: millis(crate::policy::IDEMPOTENCY_WINDOW),
            ttl: millis(policy.pending_ttl),
            cooldown: millis(policy.reinvite_cooldown),
        }
    }
}

/// Invitations pending from one sender to one recipient, and the re-invite cooldown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PairState {
    /// Pending invitations, oldest first.
    pub(crate) pending: PendingRefs,
    /// End of the cooldown after a withdrawal (0: none).
    pub(crate) cooldown_until: u64,
}

/// A pending invitation as its pair sees it: enough to say when the pair frees a
/// slot without searching the sender's ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PendingRef {
    pub(crate) seq: u64,
    pub(crate) sent_at: u64,
}

/// A pair's pending invitations, oldest first. The count and the oldest are kept in
/// place: almost every pair has one, and a denial at the pair cap reads just those
/// two (the oldest is the one whose expiry frees a slot). The others are on the
/// heap. A pair-map entry with its key is 56 bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PendingRefs {
    len: u32,
    /// Meaningful when `len > 0`; default otherwise, so equal lists compare equal.
    oldest: PendingRef,
    /// The second and later, present only when `len > 1`.
    // Boxed: a pointer, where a Vec would take three words in every entry.
    #[allow(clippy::box_collection)]
    newer: Option<Box<Vec<PendingRef>>>,
}

impl PendingRefs {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn get(&self, i: usize) -> Option<&PendingRef> {
        match i {
            _ if i >= self.len() => None,
            0 => Some(&self.oldest),
            _ => self.newer.as_deref().and_then(|v| v.get(i - 1)),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &PendingRef> {
        let oldest = (self.len > 0).then_some(&self.oldest);
        oldest
            .into_iter()
            .chain(self.newer.iter().flat_map(|v| v.iter()))
    }

    /// Appends the newest pending invitation.
    pub(crate) fn push(&mut self, p: PendingRef) {
        if self.len == 0 {
            self.oldest = p;
        } else {
            self.newer.get_or_insert_with(Box::default).push(p);
        }
        self.len = self.len.saturating_add(1);
    }

    /// Keeps the invitations `keep` accepts, in order.
    pub(crate) fn retain(&mut self, keep: impl Fn(&PendingRef) -> bool) {
        if self.len <= 1 {
            if self.len == 1 && !keep(&self.oldest) {
                *self = PendingRefs::default();
            }
            return;
        }
        let kept: Vec<PendingRef> = self.iter().copied().filter(|p| keep(p)).collect();
        *self = PendingRefs::default();
        for p in kept {
            self.push(p);
        }
    }
}

/// How often an idle check is repeated for a member that cannot be reclaimed yet.
pub(crate) const RECHECK: u64 = 24 * 3_600_000;

/// State of the members that hash to one shard.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    pub(crate) members: Members,
    pub(crate) pairs: FastMap<(u64, u64), PairState>,
    /// (expiry instant, sender) per pending invitation, sorted by construction.
    pub(crate) expiries: ChunkQueue<(u64, u64)>,
    /// (cooldown end, sender, recipient), sorted by construction.
    pub(crate) cooldowns: ChunkQueue<(u64, u64, u64)>,
    /// (instant, member): when to check whether the member's record can be dropped.
    pub(crate) idle: BinaryHeap<Reverse<(u64, u64)>>,
    pub(crate) next_seq: u64,
    /// Latest instant this shard has acted at.
    pub(crate) now: u64,
    /// Invitations that expired unanswered since the last sweep.
    pub(crate) expired_unswept: u64,
}

impl Shard {
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

    /// Brings the member's windows and invitations up to `now` (see [`settle`]).
    pub(crate) fn settle(&mut self, id: u64, now: u64, spans: &Spans, policy: &Policy) {
        if let Some(member) = self.members.get_mut(&id) {
            let pairs = &mut self.pairs;
            settle(member, now, spans, policy, pairs, &mut self.expired_unswept);
        }
    }

    /// Ends the sender's invitation at ledger position `at`.
    pub(crate) fn end_invite(&mut self, sender: u64, at: usize, how: Ending, now: u64) {
        let Some(member) = self.members.get_mut(&sender) else {
            return;
        };
        let Some(inv) = member.ledger.get(at).copied() else {
            return;
        };
        if inv.ended.is_some() {
            return;
        }
        member.ledger.end(at, how);
        if remove_from_pair(&mut self.pairs, sender, inv.recipient, inv.seq, now) {
            member.pair_removed();
        }
    }

    /// Ends every invitation pending from `sender` to `recipient`.
    pub(crate) fn end_pair(&mut self, sender: u64, recipient: u64, how: Ending, now: u64) {
        let seqs = match self.pairs.get(&(sender, recipient)) {
            Some(p) if !p.pending.is_empty() => p.pending.clone(),
            _ => return,
        };
        for &PendingRef { seq, .. } in seqs.iter() {
            let at = self.members.get(&sender).and_then(|m| m.ledger.find(seq));
            if let Some(at) = at {
                self.end_invite(sender, at, how, now);
            }
        }
    }

    /// Starts the re-invite cooldown of a pair.
    pub(crate) fn start_cooldown(&mut self, sender: u64, recipient: u64, until: u64) {
        if !self.pairs.contains_key(&(sender, recipient)) {
            self.member_mut(sender).pair_added(recipient);
        }
        let pair = self.pairs.entry((sender, recipient)).or_default();
        pair.cooldown_until = pair.cooldown_until.max(until);
        self.cooldowns.push_back((until, sender, recipient));
    }

    /// Pending invitations of the pair at `now` (after [`Shard::settle`]).
    pub(crate) fn pair_pending(&self, sender: u64, recipient: u64) -> Option<&PairState> {
        self.pairs.get(&(sender, recipient))
    }

    /// Schedules an idle check of `id` no earlier than `at`.
    pub(crate) fn recheck_idle(&mut self, id: u64, at: u64) {
        self.idle
            .push(Reverse((at.max(self.now.saturating_add(1)), id)));
    }

    /// Processes at most `budget` due items; returns how many were processed.
    pub(crate) fn sweep_step(
        &mut self,
        now: u64,
        budget: usize,
        spans: &Spans,
        policy: &Policy,
    ) -> usize {
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
                let pairs = &mut self.pairs;
                let expired = &mut self.expired_unswept;
                expire_invitations(member, now, spans, policy, pairs, expired);
                member.due.0 = 0;
            }
        }
        let mut done = due;
        while done < budget {
            match self.cooldowns.front() {
                Some(&(until, sender, recipient)) if until <= now => {
                    self.cooldowns.pop_front();
                    let key = (sender, recipient);
                    if self
                        .pairs
                        .get(&key)
                        .is_some_and(|p| p.pending.is_empty() && p.cooldown_until <= now)
                    {
                        self.pairs.remove(&key);
                        if let Some(member) = self.members.get_mut(&sender) {
                            member.pair_removed();
                        }
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
                    self.check_idle(id, now, spans, policy);
                    done += 1;
                }
                _ => break,
            }
        }
        done
    }

    /// Reads, for the first `due` entries of the expiry queue, what expiring them
    /// will touch: each sender's record and oldest invitation, then the pair entry.
    /// The reads of different senders do not depend on each other, so the processor
    /// overlaps their cache misses, which one-at-a-time processing would pay in turn;
    /// the expiry itself then finds its data in cache.
    fn warm(&self, due: usize) {
        if due < 2 {
            return;
        }
        let mut oldest = Vec::with_capacity(due);
        let mut sink = 0usize;
        for &(_, sender) in self.expiries.iter().take(due) {
            let recipient = self
                .members
                .get(&sender)
                .and_then(|m| m.ledger.get(0))
                .map(|i| i.recipient);
            oldest.push((sender, recipient));
        }
        for (sender, recipient) in oldest {
            if let Some(recipient) = recipient {
                sink ^= self
                    .pairs
                    .get(&(sender, recipient))
                    .map_or(0, |p| p.pending.len());
            }
        }
        std::hint::black_box(sink);
    }

    fn check_idle(&mut self, id: u64, now: u64, spans: &Spans, policy: &Policy) {
        self.settle(id, now, spans, policy);
        let Some(member) = self.members.get(&id) else {
            return;
        };
        if member.is_idle(now, |s| s.idle_at(&policy.spam)) {
            self.members.remove(&id);
        } else {
            let next = idle_estimate(member, spans, policy).unwrap_or(now.saturating_add(RECHECK));
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

/// When, absent new events, everything in the member's windows will have expired;
/// `None` when it holds facts that never expire by themselves.
fn idle_estimate(member: &Member, spans: &Spans, policy: &Policy) -> Option<u64> {
    let mut at = 0u64;
    let mut bump = |t: Option<u64>, len: u64| {
        if let Some(t) = t {
            at = at.max(t.saturating_add(len));
        }
    };
    bump(member.sends.last(), spans.week);
    bump(member.ledger.all().last().map(|i| i.sent_at), spans.ttl);
    if let Some(spam) = member.spam.as_deref() {
        bump(Some(spam.idle_at(&policy.spam)), 0);
    }
    if let Some(extra) = &member.extra {
        bump(extra.notes.last(), spans.note);
        bump(extra.idem.last_at(), spans.idem);
        if !extra.connections.is_empty()
            || !extra.follows.is_empty()
            || !extra.emails.is_empty()
            || !extra.contacts.is_empty()
        {
            return None;
        }
    }
    if member.tier != crate::Tier::Free || member.setting != crate::InviteSetting::Everyone {
        return None;
    }
    match member.status {
        crate::AccountStatus::Active => Some(at),
        crate::AccountStatus::Restricted { until: Some(t) } => Some(at.max(t.as_millis())),
        _ => None,
    }
}

/// Brings a member's windows and invitations up to `now`: drops what no longer counts
/// and records invitations that expired unanswered (in `expired`, and as feedback to
/// the spam signals at their expiry instant).
pub(crate) fn settle(
    member: &mut Member,
    now: u64,
    spans: &Spans,
    policy: &Policy,
    pairs: &mut FastMap<(u64, u64), PairState>,
    expired: &mut u64,
) {
    if now < member.due.0 {
        return;
    }
    member.sends.advance(now, spans.day, spans.week);
    expire_invitations(member, now, spans, policy, pairs, expired);
    member.ledger.release_if_empty();
    if let Some(extra) = member.extra.as_deref_mut() {
        extra.notes.expire(now, spans.note);
        extra.idem.expire(now, spans.idem);
    }
    member.due.0 = member.next_due(spans);
}

/// The invitation part of [`settle`]: pops what expired, counting the unanswered.
fn expire_invitations(
    member: &mut Member,
    now: u64,
    spans: &Spans,
    policy: &Policy,
    pairs: &mut FastMap<(u64, u64), PairState>,
    expired: &mut u64,
) {
    let mut pairs_gone = 0;
    let Member {
        id, ledger, spam, ..
    } = member;
    let id = *id;
    ledger.expire(now, spans.ttl, |inv| {
        if remove_from_pair(pairs, id, inv.recipient, inv.seq, now) {
            pairs_gone += 1;
        }
        *expired += 1;
        if let Some(spam) = spam.as_deref_mut() {
            let at = inv.sent_at.saturating_add(spans.ttl);
            spam.record_feedback(at, Feedback::Expired, &policy.spam);
        }
    });
    for _ in 0..pairs_gone {
        member.pair_removed();
    }
}

/// Removes `seq` from its pair; returns whether the pair's entry went with it.
fn remove_from_pair(
    pairs: &mut FastMap<(u64, u64), PairState>,
    sender: u64,
    recipient: u64,
    seq: u64,
    now: u64,
) -> bool {
    // One probe: the entry found is the one removed.
    if let Entry::Occupied(mut pair) = pairs.entry((sender, recipient)) {
        let state = pair.get_mut();
        state.pending.retain(|p| p.seq != seq);
        if state.pending.is_empty() && state.cooldown_until <= now {
            pair.remove();
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_refs_keep_order_and_the_oldest_in_place() {
        assert_eq!(std::mem::size_of::<((u64, u64), PairState)>(), 56);
        let at = |seq| PendingRef {
            seq,
            sent_at: seq * 10,
        };
        let mut p = PendingRefs::default();
        assert!(p.is_empty() && p.get(0).is_none() && p.iter().next().is_none());
        for seq in 1..=4 {
            p.push(at(seq));
        }
        assert_eq!(p.len(), 4);
        assert_eq!(
            (p.get(0), p.get(3), p.get(4)),
            (Some(&at(1)), Some(&at(4)), None)
        );
        p.retain(|r| r.seq % 2 == 0);
        assert_eq!(p.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 4]);
        p.retain(|r| r.seq != 2);
        let mut one = PendingRefs::default();
        one.push(at(4));
        assert_eq!(p, one, "equal whatever was removed before");
        p.retain(|_| false);
        assert_eq!(p, PendingRefs::default());
    }
}
