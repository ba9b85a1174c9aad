//! Rolling out limits, on every engine: shadow mode, a live policy change and a
//! member's own limits, through one small interface over each engine's methods.

use invite_limiter::{
    ConfigError, DenyReason, InviteRequest, Limiter, ManualClock, MemberId, Policy, Shadow,
    ShadowRule, TierLimits, Timestamp,
};

use super::{fill, quiet, DAY, T0};

/// The rollout calls, as each engine spells them (an outage fails the test).
pub(crate) trait Rollout: Limiter {
    async fn shadow_rules(&self, shadow: Shadow);
    async fn change_policy(&self, policy: Policy) -> Result<(), ConfigError>;
    async fn own_limits(&self, m: MemberId, limits: Option<TierLimits>) -> Result<(), ConfigError>;
}

impl Rollout for invite_limiter::Engine {
    async fn shadow_rules(&self, shadow: Shadow) {
        self.set_shadow(shadow);
    }
    async fn change_policy(&self, policy: Policy) -> Result<(), ConfigError> {
        self.set_policy(policy)
    }
    async fn own_limits(&self, m: MemberId, limits: Option<TierLimits>) -> Result<(), ConfigError> {
        self.set_limits_override(m, limits)
    }
}

#[cfg(feature = "redis")]
fn config(e: invite_limiter::redis::RolloutError) -> ConfigError {
    match e {
        invite_limiter::redis::RolloutError::Config(c) => c,
        other => panic!("{other}"),
    }
}

#[cfg(feature = "redis")]
impl Rollout for invite_limiter::redis::RedisEngine {
    async fn shadow_rules(&self, shadow: Shadow) {
        self.set_shadow(shadow).await.expect("stored");
    }
    async fn change_policy(&self, policy: Policy) -> Result<(), ConfigError> {
        self.set_policy(policy).await.map_err(config)
    }
    async fn own_limits(&self, m: MemberId, limits: Option<TierLimits>) -> Result<(), ConfigError> {
        self.set_limits_override(m, limits).await.map_err(config)
    }
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(MemberId(s), MemberId(r))
}

pub(crate) async fn shadow_mode_admits_reports_and_counts<L: Rollout>(l: L, _c: ManualClock) {
    fill(&l, 1, 100, 30).await;
    l.shadow_rules(Shadow::none().with(ShadowRule::DailyLimit))
        .await;
    let sent = l
        .send(req(1, 200))
        .await
        .expect("the daily limit only reports");
    assert_eq!(sent.shadowed(), Shadow::none().with(ShadowRule::DailyLimit));
    assert_eq!(
        sent.shadowed_retry_at(),
        Some(Timestamp::from_millis(T0 + DAY))
    );
    let within = l.send(req(2, 3)).await.expect("member 2 is within");
    assert!(within.shadowed().is_empty());
    let capacity = l.capacity(MemberId(1)).await.expect("answers");
    assert_eq!(capacity.daily.used, 31, "a shadowed send counts");
    assert!(l.diagnose_request(&req(1, 201)).await.is_clear());
    // Rules that protect a person are never shadowed.
    l.shadow_rules(Shadow::all()).await;
    let d = l.send(req(1, 1)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::SelfInvite);
    // Enforced again, with the shadowed send counted.
    l.shadow_rules(Shadow::none()).await;
    let d = l.send(req(1, 202)).await.unwrap_err();
    assert_eq!(
        *d.reason(),
        DenyReason::DailyLimit {
            used: 31,
            limit: 30
        }
    );
}

pub(crate) async fn a_live_policy_applies_at_once<L: Rollout>(l: L, _c: ManualClock) {
    fill(&l, 1, 100, 30).await;
    assert!(l.send(req(1, 200)).await.is_err());
    let mut higher = quiet();
    higher.free.daily = 40;
    l.change_policy(higher).await.expect("valid");
    l.send(req(1, 200))
        .await
        .expect("the higher limit admits at once");
    let mut broken = quiet();
    broken.free.weekly = 0;
    let err = l.change_policy(broken).await.unwrap_err();
    assert_eq!(err.field(), "free.weekly");
    let capacity = l.capacity(MemberId(1)).await.expect("answers");
    assert_eq!(
        capacity.daily.limit, 40,
        "the refused policy changed nothing"
    );
    let mut lower = quiet();
    lower.free.daily = 10;
    l.change_policy(lower).await.expect("valid");
    let d = l.send(req(1, 201)).await.unwrap_err();
    assert_eq!(
        *d.reason(),
        DenyReason::DailyLimit {
            used: 31,
            limit: 10
        }
    );
}

pub(crate) async fn a_member_override_replaces_the_tier_limits<L: Rollout>(l: L, _c: ManualClock) {
    let seat = TierLimits {
        daily: 2,
        weekly: 5,
        notes_per_30d: None,
        max_note_chars: 20,
    };
    l.own_limits(MemberId(1), Some(seat)).await.expect("valid");
    let capacity = l.capacity(MemberId(1)).await.expect("answers");
    assert_eq!((capacity.daily.limit, capacity.weekly.limit), (2, 5));
    assert_eq!(capacity.notes.limit, None);
    fill(&l, 1, 100, 2).await;
    let d = l.send(req(1, 200)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::DailyLimit { used: 2, limit: 2 });
    let long = req(2, 3).note("a note longer than twenty");
    assert!(
        l.send(long.clone()).await.is_ok(),
        "member 2 has the tier's"
    );
    let bad = TierLimits {
        daily: 9,
        weekly: 5,
        ..TierLimits::free()
    };
    let err = l.own_limits(MemberId(1), Some(bad)).await.unwrap_err();
    assert_eq!(err.field(), "limits.daily");
    l.own_limits(MemberId(1), None).await.expect("clearing");
    let capacity = l.capacity(MemberId(1)).await.expect("answers");
    assert_eq!(capacity.daily.limit, 30);
    l.send(req(1, 200)).await.expect("the tier's limit again");
}
