//! A deliberately simple reference model of the engine's rules with
//! `SpamPolicy::disabled()`, written straight from SPEC.md.
//!
//! Everything is brute force over plain vectors of what happened: every accepted
//! send, every invitation, every withdrawal, every idempotency record. Nothing is
//! expired, compacted or indexed; every answer is recomputed from the whole history
//! at the instant asked. Time never steps back: the model acts at
//! `max(clock, latest instant seen)`.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use invite_limiter::{AccountStatus, DenyReason, InviteSetting, MemberId, Policy, Tier, Timestamp};

pub(crate) const DAY: u64 = 86_400_000;
pub(crate) const WEEK: u64 = 7 * DAY;
pub(crate) const NOTE_WINDOW: u64 = 30 * DAY;
pub(crate) const IDEM_WINDOW: u64 = DAY;

/// Milliseconds of a duration.
pub(crate) fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).expect("duration fits in u64 milliseconds")
}

/// How an invitation ended before expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Accepted,
    Declined,
    Withdrawn,
    Reported,
}

/// A lifecycle operation on one invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LifecycleOp {
    Accept,
    Decline,
    Withdraw,
    ReportUnknown,
}

/// One accepted send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendRec {
    pub(crate) at: u64,
    pub(crate) sender: u64,
    pub(crate) has_note: bool,
}

/// One invitation (one per accepted, non-replayed send, in send order).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invitation {
    pub(crate) sender: u64,
    pub(crate) recipient: u64,
    pub(crate) sent_at: u64,
    /// How and when it ended before expiring.
    pub(crate) ended: Option<(Ending, u64)>,
    /// Already reported by a sweep as expired unanswered.
    pub(crate) swept: bool,
}

/// An accepted send made with an idempotency key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdemRec {
    pub(crate) sender: u64,
    pub(crate) key: u64,
    pub(crate) recipient: u64,
    pub(crate) invitation: usize,
    pub(crate) at: u64,
}

/// What the model says a send does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendOutcome {
    /// Sent: `invitation` is the model's invitation index; `fresh` is false for an
    /// idempotent replay.
    Sent {
        invitation: usize,
        expires_at: u64,
        fresh: bool,
    },
    Denied {
        reason: DenyReason,
        retry_at: Option<u64>,
    },
}

/// Use of one window, as `capacity` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowUse {
    pub(crate) used: u32,
    pub(crate) limit: u32,
    /// When the oldest counted event leaves the window.
    pub(crate) next_slot_at: Option<u64>,
    /// When the window next has room, if it is full now.
    pub(crate) available_at: Option<u64>,
}

/// What `capacity` should say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModelCapacity {
    pub(crate) daily: WindowUse,
    pub(crate) weekly: WindowUse,
    pub(crate) notes_used: u32,
    pub(crate) notes_limit: Option<u32>,
    pub(crate) notes_next_slot_at: Option<u64>,
    pub(crate) pending_sent: u32,
    pub(crate) tier: Tier,
    pub(crate) status: AccountStatus,
}

/// The reference model.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) policy: Policy,
    pub(crate) ttl: u64,
    pub(crate) cooldown: u64,
    pub(crate) latest: u64,
    pub(crate) sends: Vec<SendRec>,
    pub(crate) invitations: Vec<Invitation>,
    pub(crate) connections: BTreeSet<(u64, u64)>,
    pub(crate) withdrawals: Vec<(u64, u64, u64)>,
    pub(crate) tiers: BTreeMap<u64, Tier>,
    pub(crate) statuses: BTreeMap<u64, AccountStatus>,
    pub(crate) settings: BTreeMap<u64, InviteSetting>,
    /// (follower, followee)
    pub(crate) follows: BTreeSet<(u64, u64)>,
    pub(crate) idem: Vec<IdemRec>,
}

fn edge(a: u64, b: u64) -> (u64, u64) {
    (a.min(b), a.max(b))
}

/// Events (instants) counted in a window of `len` at `q`.
fn counted(times: &[u64], q: u64, len: u64) -> Vec<u64> {
    times
        .iter()
        .copied()
        .filter(|&t| t <= q && q < t + len)
        .collect()
}

/// The first instant after `q` at which fewer than `limit` of `times` count in a
/// window of `len` (no new events assumed). `times` must all be `<= q`.
fn window_frees(times: &[u64], q: u64, len: u64, limit: u32) -> Option<u64> {
    let mut candidates: Vec<u64> = times.iter().map(|&t| t + len).filter(|&x| x > q).collect();
    candidates.sort_unstable();
    candidates
        .into_iter()
        .find(|&x| (counted(times, x, len).len() as u64) < u64::from(limit))
}

fn window_use(times: &[u64], q: u64, len: u64, limit: u32) -> WindowUse {
    let now = counted(times, q, len);
    let used = now.len() as u32;
    WindowUse {
        used,
        limit,
        next_slot_at: now.iter().min().map(|&t| t + len),
        available_at: if used >= limit {
            window_frees(&now, q, len, limit)
        } else {
            None
        },
    }
}

impl Model {
    pub(crate) fn new(policy: Policy, start: u64) -> Self {
        Model {
            ttl: ms(policy.pending_ttl),
            cooldown: ms(policy.reinvite_cooldown),
            policy,
            latest: start,
            sends: Vec::new(),
            invitations: Vec::new(),
            connections: BTreeSet::new(),
            withdrawals: Vec::new(),
            tiers: BTreeMap::new(),
            statuses: BTreeMap::new(),
            settings: BTreeMap::new(),
            follows: BTreeSet::new(),
            idem: Vec::new(),
        }
    }

    /// Observes a clock reading; returns the instant the model acts at.
    pub(crate) fn observe(&mut self, clock: u64) -> u64 {
        self.latest = self.latest.max(clock);
        self.latest
    }

    // ---- facts ----

    pub(crate) fn tier(&self, m: u64) -> Tier {
        self.tiers.get(&m).copied().unwrap_or(Tier::Free)
    }

    /// Status at `q`: a restriction whose `until` has come is Active.
    pub(crate) fn status_at(&self, m: u64, q: u64) -> AccountStatus {
        match self
            .statuses
            .get(&m)
            .copied()
            .unwrap_or(AccountStatus::Active)
        {
            AccountStatus::Restricted { until: Some(t) } if t.as_millis() <= q => {
                AccountStatus::Active
            }
            s => s,
        }
    }

    pub(crate) fn setting(&self, m: u64) -> InviteSetting {
        self.settings
            .get(&m)
            .copied()
            .unwrap_or(InviteSetting::Everyone)
    }

    pub(crate) fn are_connected(&self, a: u64, b: u64) -> bool {
        self.connections.contains(&edge(a, b))
    }

    fn neighbours(&self, m: u64) -> BTreeSet<u64> {
        self.connections
            .iter()
            .filter_map(|&(a, b)| {
                if a == m {
                    Some(b)
                } else if b == m {
                    Some(a)
                } else {
                    None
                }
            })
            .collect()
    }

    fn admits(&self, sender: u64, recipient: u64) -> bool {
        match self.setting(recipient) {
            InviteSetting::Everyone => true,
            InviteSetting::Nobody => false,
            InviteSetting::NetworkOnly => {
                let mine = self.neighbours(sender);
                self.neighbours(recipient).iter().any(|c| mine.contains(c))
            }
            InviteSetting::FollowingOnly => self.follows.contains(&(recipient, sender)),
            // Email-based settings are not modelled (no emails are registered).
            InviteSetting::EmailOrContacts | InviteSetting::ContactsOnly => false,
        }
    }

    pub(crate) fn is_pending(&self, i: usize, q: u64) -> bool {
        let inv = &self.invitations[i];
        inv.ended.is_none() && q < inv.sent_at + self.ttl
    }

    /// Indices of the invitations pending from `s` to `r` at `q`, oldest first.
    pub(crate) fn pending_pair(&self, s: u64, r: u64, q: u64) -> Vec<usize> {
        (0..self.invitations.len())
            .filter(|&i| {
                let inv = &self.invitations[i];
                inv.sender == s && inv.recipient == r && self.is_pending(i, q)
            })
            .collect()
    }

    fn send_times(&self, m: u64) -> Vec<u64> {
        self.sends
            .iter()
            .filter(|s| s.sender == m)
            .map(|s| s.at)
            .collect()
    }

    fn note_times(&self, m: u64) -> Vec<u64> {
        self.sends
            .iter()
            .filter(|s| s.sender == m && s.has_note)
            .map(|s| s.at)
            .collect()
    }

    fn live_idem(&self, sender: u64, key: u64, q: u64) -> Option<&IdemRec> {
        self.idem
            .iter()
            .rev()
            .find(|r| r.sender == sender && r.key == key && r.at <= q && q < r.at + IDEM_WINDOW)
    }

    // ---- sending ----

    /// The invitation an idempotent replay returns, if the request is one.
    pub(crate) fn replay(
        &self,
        sender: u64,
        recipient: u64,
        key: Option<u64>,
        q: u64,
    ) -> Option<usize> {
        let rec = self.live_idem(sender, key?, q)?;
        (rec.recipient == recipient).then_some(rec.invitation)
    }

    /// Every rule that denies the request at `q`, in precedence order, each with its own
    /// instant of clearing (`None`: only an action clears it). Does not consider replays.
    pub(crate) fn blockers(
        &self,
        sender: u64,
        recipient: u64,
        note: Option<&str>,
        key: Option<u64>,
        q: u64,
    ) -> Vec<(DenyReason, Option<u64>)> {
        let mut out = Vec::new();
        let limits = self.policy.limits(self.tier(sender)).clone();
        let note = note.map(str::trim).filter(|n| !n.is_empty());

        if let Some(key) = key {
            if let Some(rec) = self.live_idem(sender, key, q) {
                if rec.recipient != recipient {
                    out.push((
                        DenyReason::IdempotencyConflict {
                            key,
                            first_recipient: MemberId(rec.recipient),
                        },
                        None,
                    ));
                }
            }
        }
        if sender == recipient {
            out.push((DenyReason::SelfInvite, None));
        }
        match self.status_at(sender, q) {
            AccountStatus::Banned => out.push((DenyReason::SenderBanned, None)),
            AccountStatus::Restricted { until } => out.push((
                DenyReason::SenderRestricted { until },
                until.map(Timestamp::as_millis),
            )),
            AccountStatus::Active => {}
        }
        if sender != recipient {
            if self.status_at(recipient, q) == AccountStatus::Banned {
                out.push((DenyReason::RecipientUnavailable, None));
            }
            if self.are_connected(sender, recipient) {
                out.push((DenyReason::AlreadyConnected, None));
            }
            if !self.admits(sender, recipient) {
                out.push((
                    DenyReason::RecipientNotAccepting {
                        setting: self.setting(recipient),
                    },
                    None,
                ));
            }
        }
        let pending = self.pending_pair(sender, recipient, q);
        let cap = self.policy.max_pending_per_pair as usize;
        if pending.len() >= cap {
            // Frees when enough of them have expired: the (len - cap)-th oldest.
            let mut expiries: Vec<u64> = pending
                .iter()
                .map(|&i| self.invitations[i].sent_at + self.ttl)
                .collect();
            expiries.sort_unstable();
            out.push((
                DenyReason::PairPendingLimit {
                    pending: pending.len() as u32,
                    limit: cap as u32,
                },
                Some(expiries[pending.len() - cap]),
            ));
        }
        if self.cooldown > 0 {
            let until = self
                .withdrawals
                .iter()
                .filter(|w| w.0 == sender && w.1 == recipient)
                .map(|w| w.2 + self.cooldown)
                .filter(|&u| q < u)
                .max();
            if let Some(until) = until {
                out.push((
                    DenyReason::ReinviteCooldown {
                        until: Timestamp::from_millis(until),
                    },
                    Some(until),
                ));
            }
        }
        let times = self.send_times(sender);
        let day = window_use(&times, q, DAY, limits.daily);
        if day.used >= limits.daily {
            out.push((
                DenyReason::DailyLimit {
                    used: day.used,
                    limit: limits.daily,
                },
                day.available_at,
            ));
        }
        let week = window_use(&times, q, WEEK, limits.weekly);
        if week.used >= limits.weekly {
            out.push((
                DenyReason::WeeklyLimit {
                    used: week.used,
                    limit: limits.weekly,
                },
                week.available_at,
            ));
        }
        if let Some(note) = note {
            if let Some(limit) = limits.notes_per_30d {
                let notes = window_use(&self.note_times(sender), q, NOTE_WINDOW, limit);
                if notes.used >= limit {
                    out.push((
                        DenyReason::NoteQuota {
                            used: notes.used,
                            limit,
                        },
                        notes.available_at,
                    ));
                }
            }
            let chars = note.chars().count() as u32;
            if chars > limits.max_note_chars {
                out.push((
                    DenyReason::NoteTooLong {
                        chars,
                        limit: limits.max_note_chars,
                    },
                    None,
                ));
            }
        }
        out
    }

    /// Folds the denying rules into the reported reason and `retry_at`.
    pub(crate) fn fold(
        blockers: &[(DenyReason, Option<u64>)],
    ) -> Option<(DenyReason, Option<u64>)> {
        let (first, first_at) = *blockers.first()?;
        let mut reason = first;
        if matches!(first, DenyReason::DailyLimit { .. }) {
            if let Some(&(weekly, weekly_at)) = blockers
                .iter()
                .find(|(r, _)| matches!(r, DenyReason::WeeklyLimit { .. }))
            {
                let d = first_at.expect("a full daily window clears by time");
                let w = weekly_at.expect("a full weekly window clears by time");
                if w > d {
                    reason = weekly;
                }
            }
        }
        let retry = if blockers.iter().any(|(_, at)| at.is_none()) {
            None
        } else {
            blockers.iter().filter_map(|(_, at)| *at).max()
        };
        Some((reason, retry))
    }

    /// A send, observed at `clock`.
    pub(crate) fn send(
        &mut self,
        sender: u64,
        recipient: u64,
        note: Option<&str>,
        key: Option<u64>,
        clock: u64,
    ) -> SendOutcome {
        let q = self.observe(clock);
        if let Some(i) = self.replay(sender, recipient, key, q) {
            return SendOutcome::Sent {
                invitation: i,
                expires_at: self.invitations[i].sent_at + self.ttl,
                fresh: false,
            };
        }
        let blockers = self.blockers(sender, recipient, note, key, q);
        if let Some((reason, retry_at)) = Self::fold(&blockers) {
            return SendOutcome::Denied { reason, retry_at };
        }
        let has_note = note.map(str::trim).is_some_and(|n| !n.is_empty());
        self.sends.push(SendRec {
            at: q,
            sender,
            has_note,
        });
        let i = self.invitations.len();
        self.invitations.push(Invitation {
            sender,
            recipient,
            sent_at: q,
            ended: None,
            swept: false,
        });
        if let Some(key) = key {
            self.idem.push(IdemRec {
                sender,
                key,
                recipient,
                invitation: i,
                at: q,
            });
        }
        SendOutcome::Sent {
            invitation: i,
            expires_at: q + self.ttl,
            fresh: true,
        }
    }

    /// What `diagnose_request` should list: nothing for a replay, else every blocker.
    pub(crate) fn diagnose(
        &mut self,
        sender: u64,
        recipient: u64,
        note: Option<&str>,
        key: Option<u64>,
        clock: u64,
    ) -> Vec<(DenyReason, Option<u64>)> {
        let q = self.observe(clock);
        if self.replay(sender, recipient, key, q).is_some() {
            return Vec::new();
        }
        self.blockers(sender, recipient, note, key, q)
    }

    // ---- lifecycle ----

    /// A lifecycle operation on invitation `i`; `Err(())` when it is not pending.
    pub(crate) fn lifecycle(&mut self, op: LifecycleOp, i: usize, clock: u64) -> Result<(), ()> {
        let q = self.observe(clock);
        if !self.is_pending(i, q) {
            return Err(());
        }
        let Invitation {
            sender, recipient, ..
        } = self.invitations[i];
        match op {
            LifecycleOp::Accept => {
                for j in 0..self.invitations.len() {
                    let inv = self.invitations[j];
                    let between = (inv.sender == sender && inv.recipient == recipient)
                        || (inv.sender == recipient && inv.recipient == sender);
                    if between && self.is_pending(j, q) {
                        self.invitations[j].ended = Some((Ending::Accepted, q));
                    }
                }
                self.connections.insert(edge(sender, recipient));
            }
            LifecycleOp::Decline => self.invitations[i].ended = Some((Ending::Declined, q)),
            LifecycleOp::ReportUnknown => self.invitations[i].ended = Some((Ending::Reported, q)),
            LifecycleOp::Withdraw => {
                self.invitations[i].ended = Some((Ending::Withdrawn, q));
                if self.cooldown > 0 {
                    self.withdrawals.push((sender, recipient, q));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn pending_between(&mut self, s: u64, r: u64, clock: u64) -> u32 {
        let q = self.observe(clock);
        self.pending_pair(s, r, q).len() as u32
    }

    /// How many invitations expired unanswered since the previous sweep.
    pub(crate) fn sweep(&mut self, clock: u64) -> usize {
        let q = self.observe(clock);
        let ttl = self.ttl;
        let mut n = 0;
        for inv in &mut self.invitations {
            if inv.ended.is_none() && !inv.swept && inv.sent_at + ttl <= q {
                inv.swept = true;
                n += 1;
            }
        }
        n
    }

    pub(crate) fn capacity(&mut self, m: u64, clock: u64) -> ModelCapacity {
        let q = self.observe(clock);
        let limits = self.policy.limits(self.tier(m)).clone();
        let times = self.send_times(m);
        let notes = counted(&self.note_times(m), q, NOTE_WINDOW);
        ModelCapacity {
            daily: window_use(&times, q, DAY, limits.daily),
            weekly: window_use(&times, q, WEEK, limits.weekly),
            notes_used: notes.len() as u32,
            notes_limit: limits.notes_per_30d,
            notes_next_slot_at: notes.iter().min().map(|&t| t + NOTE_WINDOW),
            pending_sent: (0..self.invitations.len())
                .filter(|&i| self.invitations[i].sender == m && self.is_pending(i, q))
                .count() as u32,
            tier: self.tier(m),
            status: self.status_at(m, q),
        }
    }

    // ---- setters ----

    pub(crate) fn set_tier(&mut self, m: u64, tier: Tier) {
        self.tiers.insert(m, tier);
    }

    pub(crate) fn set_status(&mut self, m: u64, status: AccountStatus) {
        self.statuses.insert(m, status);
    }

    pub(crate) fn set_setting(&mut self, m: u64, setting: InviteSetting) {
        self.settings.insert(m, setting);
    }

    pub(crate) fn connect(&mut self, a: u64, b: u64) {
        if a != b {
            self.connections.insert(edge(a, b));
        }
    }

    pub(crate) fn disconnect(&mut self, a: u64, b: u64) {
        self.connections.remove(&edge(a, b));
    }

    pub(crate) fn follow(&mut self, follower: u64, followee: u64, on: bool) {
        if on {
            self.follows.insert((follower, followee));
        } else {
            self.follows.remove(&(follower, followee));
        }
    }
}
