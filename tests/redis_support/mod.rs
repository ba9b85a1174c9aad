//! Where the Redis tests find their servers, and engines on them.

#![allow(dead_code)] // each test crate uses what it needs

pub(crate) mod drive;

use invite_limiter::redis::{RedisBuilder, RedisEngine, RedisTarget};
use invite_limiter::{ManualClock, Policy};

/// The address in `var`, or `None` (with a note) when the suite runs without Redis.
/// `INVITE_LIMITER_REQUIRE_REDIS=1` (set by `.ci/run`) turns a missing address into
/// a failure, so the suite cannot pass without running.
pub(crate) fn address(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("INVITE_LIMITER_REQUIRE_REDIS").is_err(),
                "{var} is not set but INVITE_LIMITER_REQUIRE_REDIS is"
            );
            eprintln!("skipped: {var} is not set (see README, \"Redis\")");
            None
        }
    }
}

pub(crate) const STANDALONE: &str = "INVITE_LIMITER_REDIS_URL";
pub(crate) const CLUSTER: &str = "INVITE_LIMITER_REDIS_CLUSTER";
/// A `redis+sentinel://` address of a master with one replica.
pub(crate) const SENTINEL: &str = "INVITE_LIMITER_REDIS_SENTINEL";

/// A key prefix no other test or run shares.
pub(crate) fn unique_prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("t{}:{name}:{nanos}", std::process::id())
}

pub(crate) fn builder(var: &str, name: &str) -> Option<RedisBuilder> {
    let addr = address(var)?;
    Some(RedisEngine::builder(RedisTarget::parse(&addr)).prefix(unique_prefix(name)))
}

pub(crate) async fn engine(
    var: &str,
    policy: Policy,
    clock: ManualClock,
    name: &str,
) -> Option<RedisEngine> {
    let b = builder(var, name)?;
    Some(
        b.policy(policy)
            .clock(clock)
            .deadline(std::time::Duration::from_secs(2))
            .connect()
            .await
            .expect("connects"),
    )
}
