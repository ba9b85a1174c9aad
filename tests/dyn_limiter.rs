//! A backend picked at run time: `Arc<dyn DynLimiter>` holds either engine and is a
//! `Limiter` again, so code generic over `Limiter` runs on it unchanged.

#[cfg(feature = "redis")]
mod redis_support;

use std::sync::Arc;

use invite_limiter::*;

const T0: u64 = 1_700_000_000_000;

fn quiet() -> Policy {
    Policy {
        spam: SpamPolicy::disabled(),
        ..Policy::default()
    }
}

/// Code written once for any `Limiter`.
async fn pair_cap_then_accept<L: Limiter>(limiter: &L, sender: u64) {
    let (s, r) = (MemberId(sender), MemberId(sender + 1));
    let mut ids = Vec::new();
    for _ in 0..3 {
        let sent = limiter
            .send(InviteRequest::new(s, r))
            .await
            .expect("under the cap");
        ids.push(sent.id());
    }
    let denied = limiter
        .send(InviteRequest::new(s, r))
        .await
        .expect_err("a fourth to the same recipient");
    assert!(matches!(
        denied.reason(),
        DenyReason::PairPendingLimit { .. }
    ));
    assert_eq!(limiter.pending_between(s, r).await, Ok(3));
    limiter.accept(ids[0]).await.expect("pending");
    assert_eq!(limiter.are_connected(s, r).await, Ok(true));
    assert_eq!(limiter.capacity(s).await.expect("answers").daily.used, 3);
    limiter.set_tier(s, Tier::Premium).await.expect("answers");
    assert_eq!(
        limiter.capacity(s).await.expect("answers").tier,
        Tier::Premium
    );
}

/// The backends this run can reach, chosen at run time.
async fn backends(clock: &ManualClock) -> Vec<(&'static str, Arc<dyn DynLimiter>)> {
    let memory = Engine::builder()
        .clock(clock.clone())
        .policy(quiet())
        .build()
        .expect("valid");
    #[allow(unused_mut)]
    let mut all: Vec<(&'static str, Arc<dyn DynLimiter>)> = vec![("memory", Arc::new(memory))];
    #[cfg(feature = "redis")]
    if let Some(redis) =
        redis_support::engine(redis_support::STANDALONE, quiet(), clock.clone(), "dyn").await
    {
        all.push(("redis", Arc::new(redis)));
    }
    all
}

#[tokio::test]
async fn a_backend_chosen_at_run_time_runs_generic_code() {
    let clock = ManualClock::new(Timestamp::from_millis(T0));
    for (name, backend) in backends(&clock).await {
        eprintln!("backend: {name}");
        pair_cap_then_accept(&backend, 10).await;
        // The boxed methods, called directly.
        let sent = backend
            .send(InviteRequest::new(MemberId(20), MemberId(21)))
            .await
            .expect("allowed");
        backend.withdraw(sent.id()).await.expect("pending");
        let why = backend
            .diagnose_request(&InviteRequest::new(MemberId(20), MemberId(21)))
            .await;
        assert!(!why.is_clear(), "{name}: the re-invite cooldown");
    }
}

#[test]
fn an_engine_behind_an_arc_keeps_its_own_methods() {
    // With every trait of the crate in scope, an `Arc<Engine>` still calls the
    // engine's own synchronous methods.
    let engine = Arc::new(Engine::builder().build().expect("valid"));
    let sent: Result<Sent, Denied> = engine.send(InviteRequest::new(MemberId(1), MemberId(2)));
    assert!(sent.is_ok());
    assert_eq!(engine.pending_between(MemberId(1), MemberId(2)), 1);
}
