//! Account facts, relations and contacts: the setters and their queries.

use std::sync::atomic::Ordering;

use crate::account::{AccountStatus, InviteSetting, Tier};
use crate::ids::MemberId;
use crate::memory::engine::{Engine, LINKED, SPECIAL};
use crate::memory::shard::Shard;
use crate::persist::journal::Op;
use crate::policy::limits::RelationError;
use crate::rules::spam::signals::SpamSignals;
use crate::sender::record::{FastSet, Member};

impl Engine {
    /// Runs a setter on the member's record under its shard lock, except that
    /// setting a never-seen member's field to what a fresh record holds
    /// (`to_default`) creates no record: a gateway that syncs every member's tier
    /// pays only for those who differ.
    fn set(
        &self,
        m: MemberId,
        at: Option<u64>,
        op: impl FnOnce() -> Op,
        to_default: bool,
        f: impl FnOnce(&mut Member),
    ) {
        self.on_shard(m, at, op, |shard| {
            if !to_default {
                f(shard.member_mut(m.0));
            } else if let Some(record) = shard.members.get_mut(&m.0) {
                f(record);
            }
        });
    }

    /// Runs `f` on the member's record (created if new) under its shard's lock, at
    /// `at` when replaying (else now, journaling `op`).
    pub(crate) fn update<R>(
        &self,
        m: MemberId,
        at: Option<u64>,
        op: impl FnOnce() -> Op,
        f: impl FnOnce(&mut Member) -> R,
    ) -> R {
        self.on_shard(m, at, op, |shard| f(shard.member_mut(m.0)))
    }

    /// Runs `f` on the member's shard under its lock at `at` when replaying (else now,
    /// journaling `op`), and waits for the journal after the lock is released.
    fn on_shard<R>(
        &self,
        m: MemberId,
        at: Option<u64>,
        op: impl FnOnce() -> Op,
        f: impl FnOnce(&mut Shard) -> R,
    ) -> R {
        let mut shard = self.lock(m.0);
        let now = self.act_at(&mut shard, at);
        let ticket = self.log_op(now, op);
        let r = f(&mut shard);
        drop(shard);
        // Setters return nothing to report a failed journal with; the calls that
        // return a result check `journal_refuses` after this.
        let _ = self.wait_logged(ticket);
        r
    }

    /// Reads the member's record (a default one when never seen), sharing the lock.
    pub(crate) fn read<R>(&self, m: MemberId, f: impl FnOnce(&Member) -> R) -> R {
        let shard = self.lock_shared(m.0);
        f(shard
            .members
            .get(&m.0)
            .unwrap_or(&crate::memory::engine::EMPTY))
    }

    /// Sets the member's tier; limits change at once, counts are kept.
    pub fn set_tier(&self, m: MemberId, tier: Tier) {
        self.apply(Op::SetTier(m, tier), None);
    }

    pub(super) fn set_tier_at(&self, m: MemberId, tier: Tier, at: Option<u64>) {
        let to_default = tier == Tier::Free;
        self.set(
            m,
            at,
            || Op::SetTier(m, tier),
            to_default,
            |r| r.tier = tier,
        );
    }

    /// The member's tier.
    pub fn tier(&self, m: MemberId) -> Tier {
        self.read(m, |r| r.tier)
    }

    /// Sets the member's status. A restriction with `until` lifts by itself then.
    pub fn set_status(&self, m: MemberId, status: AccountStatus) {
        self.apply(Op::SetStatus(m, status), None);
    }

    pub(super) fn set_status_at(&self, m: MemberId, status: AccountStatus, at: Option<u64>) {
        let to_default = status == AccountStatus::Active;
        self.set(
            m,
            at,
            || Op::SetStatus(m, status),
            to_default,
            |r| {
                r.set_status(status);
                if let Some(extra) = r.extra.as_deref_mut() {
                    extra.restricted_for = None;
                }
            },
        );
        if status != AccountStatus::Active {
            self.mark(m.0, SPECIAL);
        }
    }

    /// The member's status as it stands now.
    pub fn status(&self, m: MemberId) -> AccountStatus {
        let now = self.now();
        self.read(m, |r| r.status().at(now))
    }

    /// The spam signals behind the member's current restriction, when the engine
    /// imposed it.
    pub fn restriction_reason(&self, m: MemberId) -> Option<SpamSignals> {
        let now = self.now();
        self.read(m, |r| match r.status().at(now) {
            AccountStatus::Restricted { .. } => r.extra.as_ref().and_then(|e| e.restricted_for),
            _ => None,
        })
    }

    /// Sets who may send the member invitations.
    pub fn set_invite_setting(&self, m: MemberId, setting: InviteSetting) {
        self.apply(Op::SetInviteSetting(m, setting), None);
    }

    pub(super) fn set_invite_setting_at(
        &self,
        m: MemberId,
        setting: InviteSetting,
        at: Option<u64>,
    ) {
        let op = || Op::SetInviteSetting(m, setting);
        let to_default = setting == InviteSetting::Everyone;
        self.set(m, at, op, to_default, |r| r.setting = setting);
        if setting != InviteSetting::Everyone {
            self.mark(m.0, SPECIAL);
        }
    }

    /// The member's invite setting.
    pub fn invite_setting(&self, m: MemberId) -> InviteSetting {
        self.read(m, |r| r.setting)
    }

    /// Connects two members (undirected). Connecting a member to themselves does
    /// nothing, and so does connecting a member who already has
    /// [`crate::MemberLimits::max_connections`] connections: the refusal is counted
    /// in [`Engine::refused_relations`]; [`Engine::try_connect`] reports it.
    pub fn connect(&self, a: MemberId, b: MemberId) {
        if self.apply(Op::Link(a, b, true), None).relation().is_err() {
            self.refused_relations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Connects two members, or says which of them is at the connection cap.
    ///
    /// # Errors
    /// [`RelationError::ConnectionLimit`] naming a member who already has
    /// [`crate::MemberLimits::max_connections`] connections; nothing changes then.
    pub fn try_connect(&self, a: MemberId, b: MemberId) -> Result<(), RelationError> {
        self.apply(Op::Link(a, b, true), None).relation()
    }

    /// Removes the connection between two members, if any.
    pub fn disconnect(&self, a: MemberId, b: MemberId) {
        // Only adding can meet a cap.
        let _ = self.apply(Op::Link(a, b, false), None);
    }

    /// Connections and follows that `connect` and `follow` refused at a cap since
    /// the engine was built.
    pub fn refused_relations(&self) -> u64 {
        self.refused_relations.load(Ordering::Relaxed)
    }

    /// Links or unlinks `a` and `b` at `at` when replaying (no cap then: the change
    /// was accepted when it was made), else now.
    pub(super) fn link(
        &self,
        a: MemberId,
        b: MemberId,
        on: bool,
        at: Option<u64>,
    ) -> Result<(), RelationError> {
        if a == b {
            return Ok(());
        }
        let (mut ga, gb) = self.lock_pair(a.0, b.0);
        let now = self.act_at(&mut ga, at);
        let mut gb = gb;
        if on && at.is_none() {
            let max = self.limits.max_connections;
            let b_shard = gb.as_deref().unwrap_or(&ga);
            for (member, other, shard) in [(a, b, &*ga), (b, a, b_shard)] {
                if at_cap(shard, member.0, max as usize, |x| &x.connections, other.0) {
                    return Err(RelationError::ConnectionLimit { member, max });
                }
            }
        }
        let set = |member: &mut Member, other: u64| {
            if on {
                member.extra_mut().connections.insert(other);
            } else if let Some(extra) = member.extra.as_deref_mut() {
                extra.connections.remove(&other);
            }
        };
        set(ga.member_mut(a.0), b.0);
        match gb.as_deref_mut() {
            Some(gb) => {
                gb.observe(now);
                set(gb.member_mut(b.0), a.0);
            }
            None => set(ga.member_mut(b.0), a.0),
        }
        if on {
            self.mark(a.0, LINKED);
            self.mark(b.0, LINKED);
        }
        let ticket = self.log_op(now, || Op::Link(a, b, on));
        drop(gb);
        drop(ga);
        let _ = self.wait_logged(ticket);
        Ok(())
    }

    /// Whether the two members are connected.
    pub fn are_connected(&self, a: MemberId, b: MemberId) -> bool {
        self.read(a, |r| r.is_connected(b.0))
    }

    /// Number of the member's connections.
    pub fn connection_count(&self, m: MemberId) -> usize {
        self.read(m, |r| r.connections().map_or(0, FastSet::len))
    }

    /// `follower` follows `followee` (directed). Past
    /// [`crate::MemberLimits::max_follows`] this does nothing and is counted in
    /// [`Engine::refused_relations`]; [`Engine::try_follow`] reports it.
    pub fn follow(&self, follower: MemberId, followee: MemberId) {
        if self
            .apply(Op::Follow(follower, followee, true), None)
            .relation()
            .is_err()
        {
            self.refused_relations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `follower` follows `followee`, or says that `follower` is at the follow cap.
    ///
    /// # Errors
    /// [`RelationError::FollowLimit`] when `follower` already follows
    /// [`crate::MemberLimits::max_follows`] members; nothing changes then.
    pub fn try_follow(&self, follower: MemberId, followee: MemberId) -> Result<(), RelationError> {
        self.apply(Op::Follow(follower, followee, true), None)
            .relation()
    }

    pub(super) fn follow_at(
        &self,
        follower: MemberId,
        followee: MemberId,
        on: bool,
        at: Option<u64>,
    ) -> Result<(), RelationError> {
        let mut shard = self.lock(follower.0);
        let now = self.act_at(&mut shard, at);
        let max = self.limits.max_follows;
        if on
            && at.is_none()
            && at_cap(&shard, follower.0, max as usize, |x| &x.follows, followee.0)
        {
            return Err(RelationError::FollowLimit {
                member: follower,
                max,
            });
        }
        let ticket = self.log_op(now, || Op::Follow(follower, followee, on));
        if on {
            shard
                .member_mut(follower.0)
                .extra_mut()
                .follows
                .insert(followee.0);
        } else if let Some(extra) = shard
            .members
            .get_mut(&follower.0)
            .and_then(|r| r.extra.as_deref_mut())
        {
            extra.follows.remove(&followee.0);
        }
        drop(shard);
        let _ = self.wait_logged(ticket);
        if on {
            self.mark(follower.0, SPECIAL);
        }
        Ok(())
    }

    /// `follower` stops following `followee`.
    pub fn unfollow(&self, follower: MemberId, followee: MemberId) {
        // Only adding can meet a cap.
        let _ = self.apply(Op::Follow(follower, followee, false), None);
    }

    /// Whether `follower` follows `followee`.
    pub fn follows(&self, follower: MemberId, followee: MemberId) -> bool {
        self.read(follower, |r| {
            r.extra
                .as_ref()
                .is_some_and(|e| e.follows.contains(&followee.0))
        })
    }
}

/// Whether `member` (in `shard`) already holds `max` items in the set `of` picks,
/// `other` not among them, so adding `other` would pass the cap.
fn at_cap(
    shard: &Shard,
    member: u64,
    max: usize,
    of: impl Fn(&crate::sender::record::Extra) -> &FastSet<u64>,
    other: u64,
) -> bool {
    shard
        .members
        .get(&member)
        .and_then(|r| r.extra.as_deref())
        .is_some_and(|x| {
            let set = of(x);
            set.len() >= max && !set.contains(&other)
        })
}
