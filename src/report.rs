//! Telling the user: capacity and diagnosis, computed without side effects.

use std::fmt;
use std::sync::atomic::Ordering;

use crate::account::{AccountStatus, Tier};
use crate::decide::{evaluate, Facts, Subject, View};
use crate::engine::{Engine, EMPTY};
use crate::ids::MemberId;
use crate::member::Member;
use crate::outcome::DenyReason;
use crate::request::InviteRequest;
use crate::rules::Rules;
use crate::shard::Shard;
use crate::spam::Attempt;
use crate::time::Timestamp;
use crate::window::{log_usage, Usage};

/// Use of one rolling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WindowCapacity {
    /// Sends counted in the window now.
    pub used: u32,
    /// The tier's limit.
    pub limit: u32,
    /// When the oldest counted send leaves the window (`None` when none counts).
    pub next_slot_at: Option<Timestamp>,
    /// When a send fits again, if the window is full now (`None`: a send fits now).
    pub available_at: Option<Timestamp>,
}

/// Use of the personalised-note quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NoteCapacity {
    /// Notes counted in the last 30 days.
    pub used: u32,
    /// The tier's quota; `None` is unlimited.
    pub limit: Option<u32>,
    /// When the oldest counted note leaves the window (`None` when none counts).
    pub next_slot_at: Option<Timestamp>,
}

/// What a member may still send, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Capacity {
    /// The rolling 24-hour window.
    pub daily: WindowCapacity,
    /// The rolling 7-day window.
    pub weekly: WindowCapacity,
    /// The rolling 30-day note quota.
    pub notes: NoteCapacity,
    /// Invitations sent and still pending.
    pub pending_sent: u32,
    /// The member's tier.
    pub tier: Tier,
    /// The member's status now.
    pub status: AccountStatus,
}

/// One rule that would deny a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Blocker {
    pub(crate) reason: DenyReason,
    pub(crate) retry_at: Option<Timestamp>,
}

impl Blocker {
    /// The rule.
    pub fn reason(&self) -> &DenyReason {
        &self.reason
    }

    /// When this rule alone clears; `None` when only an action clears it.
    pub fn retry_at(&self) -> Option<Timestamp> {
        self.retry_at
    }

    /// What the member can do, in plain words.
    pub fn remedy(&self) -> &'static str {
        self.reason.remedy()
    }
}

/// Every rule that would deny a request right now, in precedence order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Diagnosis {
    pub(crate) blockers: Vec<Blocker>,
}

impl Diagnosis {
    /// The rules that would deny, in precedence order.
    pub fn blockers(&self) -> &[Blocker] {
        &self.blockers
    }

    /// Whether a send would succeed now.
    pub fn is_clear(&self) -> bool {
        self.blockers.is_empty()
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.blockers.is_empty() {
            return f.write_str("Nothing blocks this invitation: it can be sent now.");
        }
        write!(f, "{} rule(s) block this invitation:", self.blockers.len())?;
        for b in &self.blockers {
            write!(f, "\n- {}", b.reason)?;
            if let Some(t) = b.retry_at {
                write!(f, " (clears at {t})")?;
            }
            write!(f, "; {}.", b.remedy())?;
        }
        Ok(())
    }
}

pub(crate) fn window(u: Usage, limit: u32) -> WindowCapacity {
    WindowCapacity {
        used: u.used,
        limit,
        next_slot_at: u.next_slot.map(Timestamp::from_millis),
        available_at: u.frees_at.map(Timestamp::from_millis),
    }
}

impl Engine {
    /// The member's use of every window and quota now. Changes nothing.
    pub fn capacity(&self, m: MemberId) -> Capacity {
        let now = self.time.now();
        {
            // Shared, unless the member's windows must be brought up to date first.
            let shard = self.lock_shared(m.0);
            let now = now.max(shard.now);
            if shard.is_settled(m.0, now) {
                return capacity_of(&shard, m.0, now);
            }
        }
        let mut shard = self.lock(m.0);
        let now = shard.observe(now);
        shard.settle(m.0, now);
        capacity_of(&shard, m.0, now)
    }
}

impl Engine {
    /// Runs `f` on the settled sender's record and the recipient's facts, committing
    /// nothing: under the shared lock when the recipient needs no reading and the
    /// sender's windows are up to date, as they are most of the time.
    pub(crate) fn judge_without_commit(
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
            if plain && shard.is_settled(s.sender, now) {
                let member = shard.members.get(&s.sender).unwrap_or(&EMPTY);
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

/// The settled member's use of every window and quota at `now`.
fn capacity_of(shard: &Shard, id: u64, now: u64) -> Capacity {
    let member: &Member = shard.members.get(&id).unwrap_or(&EMPTY);
    let (policy, spans) = (&*shard.rules.policy, &shard.rules.spans);
    let limits = member.limits(policy);
    let notes = member.extra.as_deref().map_or(
        Usage {
            used: 0,
            frees_at: None,
            next_slot: None,
        },
        |e| log_usage(&e.notes, now, limits.notes_per_30d, spans.note),
    );
    Capacity {
        daily: window(member.sends.daily(limits.daily, spans.day), limits.daily),
        weekly: window(
            member.sends.weekly(limits.weekly, spans.week),
            limits.weekly,
        ),
        notes: NoteCapacity {
            used: notes.used,
            limit: limits.notes_per_30d,
            next_slot_at: notes.next_slot.map(Timestamp::from_millis),
        },
        pending_sent: member.ledger.live(),
        tier: member.tier,
        status: member.status().at(Timestamp::from_millis(now)),
    }
}

impl Engine {
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
            if let (Some(key), Some(extra)) = (subject.key, member.extra.as_deref()) {
                if extra
                    .idem
                    .get(key)
                    .is_some_and(|r| r.recipient == subject.recipient)
                {
                    return; // a replay of an accepted send succeeds
                }
            }
            let attempt = Attempt {
                stranger: view.stranger,
                note: subject.note,
            };
            let fresh = crate::spam::SpamState::default();
            let state = member.spam.as_deref().unwrap_or(&fresh);
            let policy = &*rules.policy;
            let spam = if policy.spam.is_enabled() {
                state.check(now, &attempt, &policy.spam, &rules.keywords)
            } else {
                None
            };
            let facts = Facts {
                now,
                member,
                pair: member.pair(subject.recipient, policy.max_pending_per_pair),
                view,
                spam,
                policy,
                spans: &rules.spans,
            };
            evaluate(&facts, &subject, &mut |reason, at| {
                // A shadowed rule denies nothing: the send would succeed.
                if rules.shadow.covers(&reason) {
                    return;
                }
                blockers.push(Blocker {
                    reason,
                    retry_at: at.map(Timestamp::from_millis),
                })
            });
        });
        Diagnosis { blockers }
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
