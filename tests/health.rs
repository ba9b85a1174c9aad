//! `health()`: the sweeper's liveness and lag, the journal's state, and Redis.

#[cfg(feature = "redis")]
mod redis_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use invite_limiter::*;

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_sweeper_is_reported_running_and_then_stopped() {
    let engine = Arc::new(Engine::builder().build().unwrap());
    let h = engine.health();
    let s = h
        .sweeper
        .clone()
        .expect("the in-memory engine reports its sweeper");
    assert!(!s.running);
    assert_eq!(s.every, None);
    assert_eq!(s.last_sweep_at, None);
    assert!(h.journal.is_none() && h.redis.is_none());
    assert!(h.is_ok());

    let sweeper = engine.start_sweeper(Duration::from_millis(5));
    let s = engine.health().sweeper.unwrap();
    assert!(s.running);
    assert_eq!(s.every, Some(Duration::from_millis(5)));
    wait_until("a pass", || sweeper.stats().passes() > 0);
    assert!(engine.health().sweeper.unwrap().last_sweep_at.is_some());
    drop(sweeper);
    let s = engine.health().sweeper.unwrap();
    assert!(!s.running);
    assert_eq!(s.lag, Duration::ZERO);
}

#[test]
fn a_direct_sweep_is_recorded_at_the_engines_instant() {
    let clock = ManualClock::new(Timestamp::from_millis(1_700_000_000_000));
    let engine = Engine::builder().clock(clock.clone()).build().unwrap();
    clock.advance(Duration::from_secs(3));
    engine.sweep();
    assert_eq!(
        engine.health().sweeper.unwrap().last_sweep_at,
        Some(Timestamp::from_millis(1_700_000_003_000))
    );
}

#[test]
fn a_journal_is_reported_writing() {
    let dir = std::env::temp_dir().join(format!("il-health-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let engine = Engine::builder()
        .persistence(&dir, Durability::SyncEachDecision)
        .open()
        .unwrap();
    engine
        .send(InviteRequest::new(MemberId(1), MemberId(2)))
        .unwrap();
    let j = engine.health().journal.expect("persistent");
    assert_eq!(j.failure, None);
    assert_eq!(j.queue_depth, 0, "a durable send returns once written");
    assert!(j.since_last_sync.is_some());
    assert!(engine.health().is_ok());
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "redis")]
#[test]
fn redis_health_pings_through_the_breaker() {
    use invite_limiter::redis::{RedisEngine, RedisTarget};
    let Some(addr) = redis_support::address(redis_support::STANDALONE) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let engine = RedisEngine::builder(RedisTarget::parse(&addr))
            .prefix(redis_support::unique_prefix("health"))
            .connect()
            .await
            .unwrap();
        let h = engine.health().await;
        assert!(h.sweeper.is_none() && h.journal.is_none());
        let r = h.redis.clone().unwrap();
        assert!(r.reachable && r.round_trip.is_some(), "{r:?}");
        assert_eq!(r.breaker, BreakerState::Closed);
        assert_eq!(r.last_error, None);
        assert!(h.is_ok());
    });
}
