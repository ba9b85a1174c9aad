//! Queries that change nothing: capacity and diagnosis. They share the member's
//! shard lock when the member's windows are already up to date, so they never wait
//! for one another, nor for a reader the machine descheduled while holding it.

use std::sync::atomic::Ordering;

use crate::ids::MemberId;
use crate::memory::engine::{Engine, EMPTY};
use crate::report::{Capacity, Diagnosis};
use crate::request::InviteRequest;
use crate::rules::precedence::{Subject, View};
use crate::rules::Rules;
use crate::sender::record::Member;

impl Engine {
    /// The member's use of every window and quota now. Changes nothing.
    pub fn capacity(&self, m: MemberId) -> Capacity {
        let now = self.time.now();
        {
            // Shared, unless the member's windows must be brought up to date first.
            let shard = self.lock_shared(m.0);
            let now = now.max(shard.now);
            if let Some(member) = shard.settled(m.0, now) {
                return member.capacity(now, &shard.rules);
            }
        }
        let mut shard = self.lock(m.0);
        let now = shard.observe(now);
        shard.settle(m.0, now);
        let member: &Member = shard.members.get(&m.0).unwrap_or(&EMPTY);
        member.capacity(now, &shard.rules)
    }

    /// Every rule that would deny a bare request (no note, no email) now.
    pub fn diagnose(&self, sender: MemberId, recipient: MemberId) -> Diagnosis {
        self.diagnose_request(&InviteRequest::new(sender, recipient))
    }

    /// Every rule that would deny `req` now, in precedence order. Changes nothing and
    /// does not count as an attempt.
    pub fn diagnose_request(&self, req: &InviteRequest) -> Diagnosis {
        let subject = Subject {
            sender: req.sender().0,
            recipient: req.recipient().0,
            note: req.trimmed_note(),
            key: req.key(),
        };
        let mut blockers = Vec::new();
        self.judge_without_commit(req, &subject, |now, member, view, rules| {
            let subject = subject.judged(&rules.policy);
            blockers = member.diagnose(now, &subject, view, rules);
        });
        Diagnosis { blockers }
    }

    /// Runs `f` on the settled sender's record and the recipient's facts, committing
    /// nothing: under the shared lock when the recipient needs no reading and the
    /// sender's windows are up to date, as they are most of the time.
    fn judge_without_commit(
        &self,
        req: &InviteRequest,
        s: &Subject<'_>,
        f: impl FnOnce(u64, &Member, View, &Rules),
    ) {
        let now = self.time.now();
        let email = self.email_match(req);
        let strangers = self.strangers.load(Ordering::Acquire);
        if !self.needs_recipient(s.sender, s.recipient, strangers) {
            let shard = self.lock_shared(s.sender);
            let now = now.max(shard.now);
            // The rules may have changed since the flag was read.
            let now_strangers = shard.rules.policy.spam.strangers.is_some();
            let plain = now_strangers == strangers
                || !self.needs_recipient(s.sender, s.recipient, now_strangers);
            let settled = if plain {
                shard.settled(s.sender, now)
            } else {
                None
            };
            if let Some(member) = settled {
                return f(now, member, View::plain(email.given), &shard.rules);
            }
        }
        self.with_sender(s, email, now, |_, shard, now, view| {
            shard.settle(s.sender, now);
            let member = shard.members.get(&s.sender).unwrap_or(&EMPTY);
            f(now, member, view, &shard.rules)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::{Engine, InviteRequest, ManualClock, MemberId, Timestamp};

    /// `capacity` and `diagnose` of a member whose windows are up to date share the
    /// shard lock: they answer while another reader holds it.
    #[test]
    fn queries_of_a_settled_member_share_the_shard_lock() {
        let clock = ManualClock::new(Timestamp::from_millis(1_000));
        let engine = Engine::builder().clock(clock.clone()).build().unwrap();
        engine
            .send(InviteRequest::new(MemberId(1), MemberId(2)))
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let held = engine.lock_shared(1);
        std::thread::scope(|s| {
            s.spawn(|| {
                let used = engine.capacity(MemberId(1)).daily.used;
                let clear = engine.diagnose(MemberId(1), MemberId(3)).is_clear();
                tx.send((used, clear)).unwrap();
            });
            let answer = rx.recv_timeout(Duration::from_secs(10));
            drop(held);
            assert_eq!(answer, Ok((1, true)), "the queries waited for the lock");
        });
        // A day on, the send leaves the window: settled under the exclusive lock.
        clock.advance(Duration::from_secs(24 * 3600));
        assert_eq!(engine.capacity(MemberId(1)).daily.used, 0);
        assert_eq!(engine.capacity(MemberId(1)).weekly.used, 1);
    }
}
