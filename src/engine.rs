//! The engine facade: sharded state behind locks, and the send decision.
//!
//! # Locking
//! Members are hashed onto shards, each behind one mutex. A decision about a sender
//! runs under the sender's shard lock, so everything that belongs to the sender is
//! checked and committed in one atomic step. Recipient facts (status, setting,
//! relations, contacts) are read under the recipient's shard lock, taken together
//! with the sender's: whenever two shard locks are held, they are taken in ascending
//! shard order, and no other lock is taken while a shard lock is held except the
//! email index, which is only ever taken first or alone — so no cycle can form.
//! A recipient with nothing special about them (the common case) is recognised from
//! a small flag table without touching their shard at all.

use std::sync::atomic::{AtomicU8, Ordering};

use dashmap::DashMap;
use parking_lot::{Mutex, MutexGuard};

use crate::account::InviteSetting;
use crate::builder::EngineBuilder;
use crate::decide::{evaluate, Facts, Subject, Verdicts, View};
use crate::ids::{InviteId, MemberId};
use crate::member::{IdemRecord, Member};
use crate::outcome::{Denied, Sent};
use crate::policy::Policy;
use crate::request::InviteRequest;
use crate::shard::{settle, Shard, Spans, RECHECK};
use crate::spam::{Attempt, Keywords};
use crate::time::{MonotonicTime, Timestamp};

/// Flag: the member has a non-default status, setting, email, contacts or follows.
pub(crate) const SPECIAL: u8 = 1;
/// Flag: the member has connections.
pub(crate) const LINKED: u8 = 2;
/// The flag table has 2^FLAG_BITS one-byte slots (256 KiB: it stays in cache).
pub(crate) const FLAG_BITS: u32 = 18;

/// Keeps each shard's lock on its own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// The invitation engine. `Send + Sync`; share it with `Arc`.
///
/// ```
/// use invite_limiter::{Engine, InviteRequest, ManualClock, MemberId, Timestamp};
///
/// let clock = ManualClock::new(Timestamp::from_millis(0));
/// let engine = Engine::builder().clock(clock).build().unwrap();
/// let sent = engine.send(InviteRequest::new(MemberId(1), MemberId(2))).unwrap();
/// assert_eq!(engine.pending_between(MemberId(1), MemberId(2)), 1);
/// engine.accept(sent.id()).unwrap();
/// assert!(engine.are_connected(MemberId(1), MemberId(2)));
/// ```
pub struct Engine {
    pub(crate) shards: Box<[Padded<Mutex<Shard>>]>,
    pub(crate) shard_bits: u32,
    pub(crate) policy: Policy,
    pub(crate) spans: Spans,
    pub(crate) time: MonotonicTime,
    pub(crate) keywords: Keywords,
    pub(crate) flags: Box<[AtomicU8]>,
    pub(crate) emails: DashMap<String, MemberId, ahash::RandomState>,
    /// The journal that state changes are appended to, when persistence is on.
    pub(crate) journal: Option<crate::journal::Journal>,
    /// Reminder limits.
    pub(crate) reminders: crate::policy::ReminderPolicy,
    /// The sweeper's liveness and the decision metrics.
    pub(crate) obs: crate::observe::Observer,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("shards", &self.shards.len())
            .field("policy", &self.policy)
            .field("time", &self.time)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

/// What the request's email says about the recipient.
#[derive(Debug, Clone, Copy)]
struct EmailMatch {
    /// An email was given that does not belong to another member.
    given: bool,
    /// The member the email is registered to.
    owner: Option<u64>,
}

impl Engine {
    /// A builder with the default policy and the system clock.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The instant the engine acts at now: its clock, never earlier than before.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.time.now())
    }

    pub(crate) fn shard_index(&self, member: u64) -> usize {
        if self.shard_bits == 0 {
            return 0;
        }
        (member.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.shard_bits)) as usize
    }

    pub(crate) fn lock(&self, member: u64) -> MutexGuard<'_, Shard> {
        self.shards[self.shard_index(member)].0.lock()
    }

    /// Locks the shards of `a` and `b` in ascending order; `None` for `b` when they share one.
    pub(crate) fn lock_pair(
        &self,
        a: u64,
        b: u64,
    ) -> (MutexGuard<'_, Shard>, Option<MutexGuard<'_, Shard>>) {
        let (ia, ib) = (self.shard_index(a), self.shard_index(b));
        if ia == ib {
            return (self.shards[ia].0.lock(), None);
        }
        if ia < ib {
            let ga = self.shards[ia].0.lock();
            let gb = self.shards[ib].0.lock();
            (ga, Some(gb))
        } else {
            let gb = self.shards[ib].0.lock();
            let ga = self.shards[ia].0.lock();
            (ga, Some(gb))
        }
    }

    fn flag_slot(&self, member: u64) -> &AtomicU8 {
        let slot = (member.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> (64 - FLAG_BITS)) as usize;
        &self.flags[slot]
    }

    pub(crate) fn mark(&self, member: u64, flag: u8) {
        self.flag_slot(member).fetch_or(flag, Ordering::Release);
    }

    fn flags_of(&self, member: u64) -> u8 {
        self.flag_slot(member).load(Ordering::Acquire)
    }

    fn email_match(&self, req: &InviteRequest) -> EmailMatch {
        let Some(raw) = req.email() else {
            return EmailMatch {
                given: false,
                owner: None,
            };
        };
        let Ok(email) = crate::email::normalize(raw) else {
            return EmailMatch {
                given: false,
                owner: None,
            };
        };
        let owner = self.emails.get(&email).map(|m| m.0);
        EmailMatch {
            given: owner.is_none_or(|o| o == req.recipient().0),
            owner,
        }
    }

    /// Whether the decision must read the recipient's record.
    fn needs_recipient(&self, sender: u64, recipient: u64) -> bool {
        if sender == recipient {
            return false;
        }
        let flags = self.flags_of(recipient);
        flags & SPECIAL != 0 || (flags & LINKED != 0 && self.policy.spam.strangers.is_some())
    }

    /// Sends an invitation, or says why not and until when.
    ///
    /// # Errors
    /// [`Denied`] with the first rule that denies (see [`crate::DenyReason`]) and the
    /// earliest instant the same request could succeed.
    pub fn send(&self, req: InviteRequest) -> Result<Sent, Denied> {
        self.send_counted(&req, true)
    }

    /// Sends; `count_attempt` false judges the spam signals without recording the
    /// attempt (for the second and later sends of one bulk action, which is one attempt).
    pub(crate) fn send_counted(
        &self,
        req: &InviteRequest,
        count_attempt: bool,
    ) -> Result<Sent, Denied> {
        #[cfg(feature = "metrics")]
        let started = self.obs.metrics.start();
        #[cfg(feature = "tracing")]
        let span = crate::observe::decision_span(req).entered();
        let now = self.time.now();
        let email = self.email_match(req);
        let subject = Subject {
            sender: req.sender().0,
            recipient: req.recipient().0,
            note: req.trimmed_note(),
            key: req.key(),
        };
        let (result, ticket, _near) =
            self.with_sender(&subject, email, now, |engine, shard, now, view| {
                let result = engine.decide(shard, now, &subject, view, count_attempt, None);
                let ticket = engine.log_send(now, &subject, view, count_attempt, &result);
                (result, ticket, shard.near_limit)
            });
        self.wait_logged(ticket);
        #[cfg(feature = "metrics")]
        self.obs.metrics.decided(started, &result, _near);
        #[cfg(feature = "tracing")]
        crate::observe::record_decision(&span, &result);
        result
    }

    /// Replays a journaled send at its instant with the recipient's facts as they were
    /// read then, forcing the recorded outcome: `Some(seq)` commits invitation `seq`.
    /// `false` when a recorded invitation could not be committed.
    pub(crate) fn replay_send(
        &self,
        now: u64,
        s: &Subject<'_>,
        view: View,
        count_attempt: bool,
        sent: Option<u64>,
    ) -> bool {
        let mut shard = self.lock(s.sender);
        shard.observe(now);
        let result = self.decide(&mut shard, now, s, view, count_attempt, Some(sent));
        sent.is_none() || result.is_ok()
    }

    /// Runs `f` under the sender's shard lock with the recipient's facts read.
    fn with_sender<R>(
        &self,
        s: &Subject<'_>,
        email: EmailMatch,
        now: u64,
        f: impl FnOnce(&Self, &mut Shard, u64, View) -> R,
    ) -> R {
        if !self.needs_recipient(s.sender, s.recipient) {
            let mut shard = self.lock(s.sender);
            let now = shard.observe(now);
            return f(self, &mut shard, now, View::plain(email.given));
        }
        let (mut own, other) = self.lock_pair(s.sender, s.recipient);
        let now = own.observe(now);
        let view = {
            let sender = own.members.get(&s.sender);
            let recipient = match &other {
                Some(g) => g.members.get(&s.recipient),
                None => own.members.get(&s.recipient),
            };
            self.view(sender, recipient, s, email, now)
        };
        drop(other);
        f(self, &mut own, now, view)
    }

    /// Runs `f` on the settled sender's record and the recipient's facts, committing
    /// nothing.
    pub(crate) fn judge_without_commit(
        &self,
        req: &InviteRequest,
        s: &Subject<'_>,
        f: impl FnOnce(u64, &Member, View),
    ) {
        let now = self.time.now();
        let email = self.email_match(req);
        self.with_sender(s, email, now, |engine, shard, now, view| {
            shard.settle(s.sender, now, &engine.spans, &engine.policy);
            let member = shard.members.get(&s.sender).unwrap_or(&EMPTY);
            f(now, member, view)
        })
    }

    fn view(
        &self,
        sender: Option<&Member>,
        recipient: Option<&Member>,
        s: &Subject<'_>,
        email: EmailMatch,
        now: u64,
    ) -> View {
        let sx = sender.and_then(|m| m.extra.as_deref());
        let rx = recipient.and_then(|m| m.extra.as_deref());
        let status = recipient.map(|m| m.status().at(Timestamp::from_millis(now)));
        let setting = recipient.map_or(InviteSetting::Everyone, |m| m.setting);
        // "A is in B's contacts": one of A's registered emails is in B's imported list.
        let in_contacts =
            |a: Option<&crate::member::Extra>, b: Option<&crate::member::Extra>| match (a, b) {
                (Some(a), Some(b)) => a.emails.iter().any(|e| b.contact_set.contains(e)),
                _ => false,
            };
        let shared = || shared_connection(sender, recipient);
        let admits = match setting {
            InviteSetting::Everyone => true,
            InviteSetting::EmailOrContacts => {
                email.owner == Some(s.recipient) || in_contacts(sx, rx)
            }
            InviteSetting::ContactsOnly => in_contacts(sx, rx),
            InviteSetting::NetworkOnly => shared(),
            InviteSetting::FollowingOnly => rx.is_some_and(|x| x.follows.contains(&s.sender)),
            InviteSetting::Nobody => false,
        };
        let stranger = self.policy.spam.strangers.is_some()
            && !email.given
            && !in_contacts(sx, rx)
            && !in_contacts(rx, sx)
            && !shared();
        View {
            banned: status == Some(crate::AccountStatus::Banned),
            setting,
            admits,
            stranger,
        }
    }

    /// Judges and, when allowed, commits a send; the caller holds the sender's shard.
    /// The sender's record is looked up once.
    fn decide(
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
            next_seq,
            expired_unswept,
            near_limit,
            ..
        } = shard;
        let member = members.get_or_insert(s.sender, || {
            idle.push(std::cmp::Reverse((now.saturating_add(RECHECK), s.sender)));
        });
        settle(member, now, &self.spans, &self.policy, expired_unswept);
        if let Some(sent) = self.replay(member, s) {
            return Ok(sent);
        }
        let spam_on = self.policy.spam.is_enabled();
        let attempt = Attempt {
            stranger: view.stranger,
            note: s.note,
        };
        let spam = if spam_on {
            let (kw, state) = (&self.keywords, member.spam_mut());
            if count_attempt {
                state.attempt(now, &attempt, &self.policy.spam, kw)
            } else {
                state.check(now, &attempt, &self.policy.spam, kw)
            }
        } else {
            None
        };
        let mut verdicts = Verdicts::default();
        let facts = Facts {
            now,
            member,
            pair: member.pair(s.recipient, self.policy.max_pending_per_pair),
            view,
            spam,
            policy: &self.policy,
            spans: &self.spans,
        };
        evaluate(&facts, s, &mut |reason, at| verdicts.add(reason, at));
        if let Some(v) = spam {
            if let Some(until) = v.restrict_until {
                crate::relations::impose_restriction(member, until, Some(v.signals));
                self.mark(s.sender, SPECIAL);
            }
        }
        let denied = verdicts.into_denied();
        *near_limit = self.near_limit(member, denied.is_none());
        let seq = match forced {
            None => match denied {
                Some(denied) => return Err(denied),
                None => *next_seq,
            },
            // A replayed send that would not be the sender's newest invitation (only
            // when the state diverged): skipped, so the ledger stays ordered.
            Some(Some(seq)) if member.ledger.last_seq().is_some_and(|l| l >= seq) => {
                return Err(REPLAYED_DENIAL)
            }
            Some(Some(seq)) => seq,
            // A replayed denial: the value is discarded by the caller.
            Some(None) => return Err(denied.unwrap_or(REPLAYED_DENIAL)),
        };
        // Commit: everything below belongs to the sender and its shard.
        *next_seq = (*next_seq).max(seq).saturating_add(1);
        let expires = now.saturating_add(self.spans.ttl);
        expiries.push_back((expires, s.sender));
        member.pair_added(s.recipient);
        member.sends.push(now);
        member.ledger.push(seq, s.recipient, now);
        // Of everything pushed, the daily window or the TTL ends first.
        let first_change = now.saturating_add(self.spans.day.min(self.spans.ttl));
        member.due.0 = member.due.0.min(first_change);
        if spam_on {
            member
                .spam_mut()
                .record_sent(now, &attempt, &self.policy.spam);
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
        })
    }

    /// The earlier send made with this idempotency key to this recipient, if any.
    fn replay(&self, member: &Member, s: &Subject<'_>) -> Option<Sent> {
        let key = s.key?;
        let rec = member.extra.as_deref()?.idem.get(key)?;
        (rec.recipient == s.recipient).then(|| Sent {
            id: InviteId::new(MemberId(s.sender), rec.seq),
            expires_at: Timestamp::from_millis(rec.sent_at.saturating_add(self.spans.ttl)),
        })
    }
}

/// What a replayed denial returns when the rules, re-run, would have allowed it.
const REPLAYED_DENIAL: Denied = Denied {
    reason: crate::outcome::DenyReason::SelfInvite,
    retry_at: None,
};

/// A member never seen: what every read of an absent record sees.
pub(crate) static EMPTY: std::sync::LazyLock<Member> = std::sync::LazyLock::new(Member::default);

/// Whether the two members share a connection: probes the smaller set into the larger,
/// so the cost is at most the smaller member's number of connections.
fn shared_connection(a: Option<&Member>, b: Option<&Member>) -> bool {
    let (Some(a), Some(b)) = (
        a.and_then(Member::connections),
        b.and_then(Member::connections),
    ) else {
        return false;
    };
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small.iter().any(|c| large.contains(c))
}
