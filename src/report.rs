//! Telling the user: capacity and diagnosis, computed without side effects.

use std::fmt;

use crate::account::{AccountStatus, Tier};
use crate::decide::{evaluate, Facts, Subject};
use crate::engine::{Engine, EMPTY};
use crate::ids::MemberId;
use crate::member::Member;
use crate::outcome::DenyReason;
use crate::request::InviteRequest;
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
        let mut shard = self.lock(m.0);
        let now = shard.observe(self.time.now());
        shard.settle(m.0, now);
        let member: &Member = shard.members.get(&m.0).unwrap_or(&EMPTY);
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
