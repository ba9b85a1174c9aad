//! The shared behaviour suite against the Redis engine, on a standalone server, on
//! a cluster and on a Sentinel-managed master; on the last two also with
//! `wait_for_replicas` (addresses from `INVITE_LIMITER_REDIS_URL`, `INVITE_LIMITER_REDIS_CLUSTER` and
//! `INVITE_LIMITER_REDIS_SENTINEL`).
#![cfg(feature = "redis")]

mod contract;
mod redis_support;

mod standalone {
    use super::*;
    use invite_limiter::{ManualClock, Policy};

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        redis_support::engine_with(redis_support::STANDALONE, p, contract::limits(), c, name).await
    }

    contract_tests!(make);
}

mod cluster {
    use super::*;
    use invite_limiter::{ManualClock, Policy};

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        redis_support::engine_with(redis_support::CLUSTER, p, contract::limits(), c, name).await
    }

    contract_tests!(make);
}

mod sentinel {
    use super::*;
    use invite_limiter::{ManualClock, Policy};

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        redis_support::engine_with(redis_support::SENTINEL, p, contract::limits(), c, name).await
    }

    contract_tests!(make);
}

mod sentinel_strict {
    use super::*;
    use invite_limiter::{ManualClock, Policy};
    use std::time::Duration;

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        let b = redis_support::builder(redis_support::SENTINEL, name)?.limits(contract::limits());
        Some(
            b.policy(p)
                .clock(c)
                .deadline(Duration::from_secs(2))
                .wait_for_replicas(1, Duration::from_secs(2))
                .connect()
                .await
                .expect("connects"),
        )
    }

    contract_tests!(make);
}

mod cluster_strict {
    use super::*;
    use invite_limiter::{ManualClock, Policy};
    use std::time::Duration;

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        let b = redis_support::builder(redis_support::CLUSTER, name)?.limits(contract::limits());
        Some(
            b.policy(p)
                .clock(c)
                .deadline(Duration::from_secs(2))
                .wait_for_replicas(1, Duration::from_secs(2))
                .connect()
                .await
                .expect("connects"),
        )
    }

    contract_tests!(make);
}
