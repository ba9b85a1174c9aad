//! A live policy and shadow set reach every gateway on one Redis prefix: at once for
//! a gateway that reads the version before each decision (and for every gateway on a
//! standalone server's Lua script, which checks the version), by the change notice for one
//! whose refresh bound is long, and on connect for one that joins later.
#![cfg(feature = "redis")]

mod redis_support;

use std::time::Duration;

use invite_limiter::redis::{RedisEngine, RedisTarget, ServerSide};
use invite_limiter::{
    DenyReason, InviteRequest, ManualClock, MemberId, Policy, Shadow, ShadowRule, SpamPolicy,
    Timestamp,
};
use redis_support::{address, unique_prefix, CLUSTER, STANDALONE};

fn policy(daily: u32) -> Policy {
    let mut p = Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    };
    p.free.daily = daily;
    p
}

async fn gateway(
    addr: &str,
    prefix: &str,
    clock: &ManualClock,
    refresh: Duration,
    side: ServerSide,
) -> RedisEngine {
    RedisEngine::builder(RedisTarget::parse(addr))
        .server_side(side)
        .prefix(prefix)
        .policy(policy(30))
        .clock(clock.clone())
        .deadline(Duration::from_secs(2))
        .policy_refresh(refresh)
        .connect()
        .await
        .expect("connects")
}

fn req(s: u64, r: u64) -> InviteRequest {
    InviteRequest::new(MemberId(s), MemberId(r))
}

/// `standalone`: the server is standalone, where the script checks the version
/// itself (the module does not: there the bound is `policy_refresh`, as on a cluster).
async fn a_change_reaches_every_gateway(var: &str, name: &str, standalone: bool, side: ServerSide) {
    let Some(addr) = address(var) else { return };
    let prefix = unique_prefix(name);
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let gateway = |refresh| gateway(&addr, &prefix, &clock, refresh, side);
    let admin = gateway(Duration::from_secs(1)).await;
    let exact = gateway(Duration::ZERO).await;
    let notified = gateway(Duration::from_secs(3600)).await;
    // Read once, so the long bound alone would keep the builder's policy for an hour.
    assert_eq!(
        notified.capacity(MemberId(9)).await.unwrap().daily.limit,
        30
    );

    let slow = gateway(Duration::from_secs(3600)).await;
    assert_eq!(slow.capacity(MemberId(9)).await.unwrap().daily.limit, 30);
    admin.set_policy(policy(1)).await.expect("stored");
    if standalone && !slow.uses_module() {
        // No notice needed: the script refuses the old version, at once.
        slow.send(req(5, 6)).await.expect("first");
        let d = slow.send(req(5, 7)).await.unwrap_err();
        assert_eq!(*d.reason(), DenyReason::DailyLimit { used: 1, limit: 1 });
    }
    // Reading the version before each decision: the next one is under the new policy.
    exact.send(req(1, 2)).await.expect("first");
    let d = exact.send(req(1, 3)).await.unwrap_err();
    assert_eq!(*d.reason(), DenyReason::DailyLimit { used: 1, limit: 1 });
    // The change notice makes the other gateway read it before its next decision.
    let mut limit = 30;
    for _ in 0..200 {
        limit = notified.capacity(MemberId(9)).await.unwrap().daily.limit;
        if limit == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(limit, 1, "the notice arrived");
    assert_eq!(notified.policy().free.daily, 1);
    // A gateway that joins later decides under the stored policy, not its builder's.
    let late = gateway(Duration::from_secs(1)).await;
    assert_eq!(late.policy().free.daily, 1);

    // The shadow set is shared the same way.
    admin
        .set_shadow(Shadow::none().with(ShadowRule::DailyLimit))
        .await
        .expect("stored");
    let sent = exact.send(req(1, 4)).await.expect("shadowed");
    assert!(sent.shadowed().contains(ShadowRule::DailyLimit));
    assert_eq!(late.shadow(), Shadow::none(), "not read yet");
    // A policy change keeps the shadow set, and the reverse.
    admin.set_policy(policy(2)).await.expect("stored");
    assert_eq!(admin.shadow(), Shadow::none().with(ShadowRule::DailyLimit));
    let joined = gateway(Duration::from_secs(1)).await;
    assert_eq!(joined.policy().free.daily, 2);
    assert_eq!(joined.shadow(), Shadow::none().with(ShadowRule::DailyLimit));
}

#[tokio::test]
async fn standalone_change_reaches_every_gateway() {
    a_change_reaches_every_gateway(STANDALONE, "rollout", true, ServerSide::Auto).await;
}

/// On the script, even where the server has the module: an old policy is refused at
/// once.
#[tokio::test]
async fn standalone_script_change_reaches_every_gateway_at_once() {
    a_change_reaches_every_gateway(STANDALONE, "rollout-script", true, ServerSide::Script).await;
}

#[tokio::test]
async fn cluster_change_reaches_every_gateway() {
    a_change_reaches_every_gateway(CLUSTER, "rollout", false, ServerSide::Auto).await;
}

/// A live policy meets the bounds the builder holds a policy to on Redis: one it
/// would refuse at connect is refused here too, and the fleet keeps deciding.
#[tokio::test]
async fn a_live_policy_past_the_redis_bounds_is_refused() {
    let Some(addr) = address(STANDALONE) else {
        return;
    };
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let side = ServerSide::Auto;
    let g = gateway(
        &addr,
        &unique_prefix("bounds"),
        &clock,
        Duration::ZERO,
        side,
    )
    .await;
    let mut huge = policy(30);
    huge.pending_ttl = Duration::from_secs(200 * 365 * 24 * 3600);
    let refused = RedisEngine::builder(RedisTarget::parse(&addr))
        .policy(huge.clone())
        .connect()
        .await;
    assert!(refused.is_err(), "the builder refuses it");
    match g.set_policy(huge).await {
        Err(invite_limiter::redis::RolloutError::Config(e)) => {
            assert_eq!(e.field(), "pending_ttl", "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(g.policy().pending_ttl, policy(30).pending_ttl);
    g.send(req(1, 2)).await.expect("the fleet still decides");
}

/// A burst of calls under a policy the servers do not know yet (on a cluster, a
/// master learns it when a command on it first needs it) is decided in full: the
/// module's refusals of the unknown name do not open the circuit breaker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_under_a_policy_new_to_the_cluster_is_decided() {
    let Some(addr) = address(CLUSTER) else {
        return;
    };
    let mut fresh = policy(30);
    fresh.spam.keywords.push(unique_prefix("never-seen"));
    let engine = RedisEngine::builder(RedisTarget::parse(&addr))
        .prefix(unique_prefix("burst"))
        .policy(fresh)
        .deadline(Duration::from_secs(2))
        .connect()
        .await
        .expect("connects");
    let calls: Vec<_> = (1..=300)
        .map(|m| {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .set_tier(MemberId(m), invite_limiter::Tier::Premium)
                    .await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().expect("decided");
    }
}
