//! The engine facade: sharded state behind locks, and the way to a sender's shard.
//!
//! # Locking
//! Members are hashed onto shards, each behind one reader-writer lock. A decision
//! about a sender runs under the sender's shard lock, held exclusively, so everything
//! that belongs to the sender is checked and committed in one atomic step. Queries
//! that change nothing (`capacity`, `diagnose`) share the lock when the member's
//! windows are already up to date, so they never wait for one another — nor for a
//! reader that the machine has descheduled while it held the lock. Recipient facts (status, setting,
//! relations, contacts) are read under the recipient's shard lock, taken together
//! with the sender's: whenever two shard locks are held, they are taken in ascending
//! shard order, and no other lock is taken while a shard lock is held except the
//! email index, which is only ever taken first or alone, and the engine's reference
//! to the rules in force, which is a leaf (nothing is taken while it is held) — so no
//! cycle can form. Changing the rules takes every shard lock (see [`crate::rules`]).
//! A recipient with nothing special about them (the common case) is recognised from
//! a small flag table without touching their shard at all.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::memory::builder::EngineBuilder;
use crate::memory::shard::Shard;
use crate::outcome::{Denied, Sent};
use crate::request::InviteRequest;
use crate::rules::precedence::{Subject, View};
use crate::rules::recipient::EmailMatch;
use crate::rules::Rules;
use crate::sender::admission::admission;
use crate::sender::record::Member;
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
    pub(crate) shards: Box<[Padded<RwLock<Shard>>]>,
    pub(crate) shard_bits: u32,
    /// The rules in force; each shard holds the same (see [`crate::rules`]).
    pub(crate) rules: Mutex<Arc<Rules>>,
    /// Whether the stranger signal is on in the rules in force.
    pub(crate) strangers: AtomicBool,
    pub(crate) time: MonotonicTime,
    pub(crate) flags: Box<[AtomicU8]>,
    pub(crate) emails: crate::memory::email_index::EmailIndex,
    /// The journal that state changes are appended to, when persistence is on.
    pub(crate) journal: Option<crate::persist::journal::Journal>,
    /// Reminder limits.
    pub(crate) reminders: crate::policy::ReminderPolicy,
    /// Caps on one member's relations and addresses.
    pub(crate) limits: crate::policy::limits::MemberLimits,
    /// Connections and follows refused at a cap by `connect` and `follow`.
    pub(crate) refused_relations: std::sync::atomic::AtomicU64,
    /// The sweeper's liveness and the decision metrics.
    pub(crate) obs: crate::memory::observe::Observer,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("shards", &self.shards.len())
            .field("policy", &self.policy())
            .field("time", &self.time)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder with the default policy and the system clock.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
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

    /// The member's shard, held exclusively.
    pub(crate) fn lock(&self, member: u64) -> RwLockWriteGuard<'_, Shard> {
        self.shards[self.shard_index(member)].0.write()
    }

    /// The member's shard, shared with other readers: for reads that change nothing.
    pub(crate) fn lock_shared(&self, member: u64) -> RwLockReadGuard<'_, Shard> {
        self.shards[self.shard_index(member)].0.read()
    }

    /// Locks the shards of `a` and `b` in ascending order; `None` for `b` when they share one.
    pub(crate) fn lock_pair(
        &self,
        a: u64,
        b: u64,
    ) -> (
        RwLockWriteGuard<'_, Shard>,
        Option<RwLockWriteGuard<'_, Shard>>,
    ) {
        let (ia, ib) = (self.shard_index(a), self.shard_index(b));
        if ia == ib {
            return (self.shards[ia].0.write(), None);
        }
        if ia < ib {
            let ga = self.shards[ia].0.write();
            let gb = self.shards[ib].0.write();
            (ga, Some(gb))
        } else {
            let gb = self.shards[ib].0.write();
            let ga = self.shards[ia].0.write();
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

    pub(crate) fn email_match(&self, req: &InviteRequest) -> EmailMatch {
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
        let owner = self.emails.owner(&email).map(|m| m.0);
        EmailMatch {
            given: owner.is_none_or(|o| o == req.recipient().0),
            owner,
        }
    }

    /// Whether the decision must read the recipient's record, with the stranger
    /// signal on or off.
    pub(crate) fn needs_recipient(&self, sender: u64, recipient: u64, strangers: bool) -> bool {
        if sender == recipient {
            return false;
        }
        let flags = self.flags_of(recipient);
        flags & SPECIAL != 0 || (flags & LINKED != 0 && strangers)
    }

    /// Sends an invitation, or says why not and until when.
    ///
    /// A note longer in bytes than four times the longest note any tier allows is
    /// too long for every tier: the rules read (and the journal keeps) only its first
    /// `4 × longest + 1` bytes or so, so a huge note costs no more time under the
    /// sender's lock than a long one. It is still denied by the first rule that
    /// denies, `NoteTooLong` only when none before it does.
    ///
    /// # Errors
    /// [`Denied`] with the first rule that denies (see [`crate::DenyReason`]) and the
    /// earliest instant the same request could succeed.
    #[must_use = "a denied invitation must not be delivered; act on the outcome"]
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
        let span = crate::trace::decision_span(req).entered();
        let (result, _near) = self.send_durably(req, count_attempt);
        #[cfg(feature = "metrics")]
        self.obs.metrics.decided(started, &result, _near);
        #[cfg(feature = "tracing")]
        crate::trace::record_decision(&span, &result);
        result
    }

    /// Decides and commits a send, acknowledged only once the journal's durability
    /// mode allows; also says whether the sender is near a limit (for metrics).
    fn send_durably(
        &self,
        req: &InviteRequest,
        count_attempt: bool,
    ) -> (Result<Sent, Denied>, bool) {
        if let Err(outage) = self.journal_refuses() {
            return (Err(crate::persist::journal::not_durable(outage)), false);
        }
        let now = self.time.now();
        let email = self.email_match(req);
        let subject = Subject {
            sender: req.sender().0,
            recipient: req.recipient().0,
            note: req.trimmed_note(),
            key: req.key(),
        };
        let (result, ticket, near) =
            self.with_sender(&subject, email, now, |engine, shard, now, view| {
                // Only the part of the note the rules read is judged and journaled.
                let subject = subject.judged(&shard.rules.policy);
                let result = engine.decide(shard, now, &subject, view, count_attempt, None);
                let ticket = engine.log_send(now, &subject, view, count_attempt, &result);
                (result, ticket, shard.near_limit)
            });
        if let Err(outage) = self.wait_logged(ticket) {
            return (Err(crate::persist::journal::not_durable(outage)), near);
        }
        (result, near)
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
    pub(crate) fn with_sender<R>(
        &self,
        s: &Subject<'_>,
        email: EmailMatch,
        now: u64,
        f: impl FnOnce(&Self, &mut Shard, u64, View) -> R,
    ) -> R {
        let strangers = self.strangers.load(Ordering::Acquire);
        let mut plain = None;
        if !self.needs_recipient(s.sender, s.recipient, strangers) {
            let shard = self.lock(s.sender);
            // The rules may have changed since the flag was read.
            let now_strangers = shard.rules.policy.spam.strangers.is_some();
            if now_strangers == strangers
                || !self.needs_recipient(s.sender, s.recipient, now_strangers)
            {
                plain = Some(shard);
            }
        }
        // One call of `f`, so that it is inlined here.
        let (mut own, now, view) = match plain {
            Some(mut shard) => {
                let now = shard.observe(now);
                (shard, now, View::plain(email.given))
            }
            None => self.lock_with_recipient(s, email, now),
        };
        f(self, &mut own, now, view)
    }

    /// The sender's shard, locked with the recipient's to read their facts; the
    /// recipient's is released before returning.
    fn lock_with_recipient(
        &self,
        s: &Subject<'_>,
        email: EmailMatch,
        now: u64,
    ) -> (RwLockWriteGuard<'_, Shard>, u64, View) {
        let (mut own, other) = self.lock_pair(s.sender, s.recipient);
        let now = own.observe(now);
        let view = {
            let sender = own.members.get(&s.sender);
            let recipient = match &other {
                Some(g) => g.members.get(&s.recipient),
                None => own.members.get(&s.recipient),
            };
            let strangers = own.rules.policy.spam.strangers.is_some();
            admission(sender, recipient, s, email, now, strangers)
        };
        drop(other);
        (own, now, view)
    }
}

/// A member never seen: what every read of an absent record sees.
pub(crate) static EMPTY: std::sync::LazyLock<Member> = std::sync::LazyLock::new(Member::default);
