//! The shared behaviour suite against the Redis engine, on a standalone server and on
//! a cluster (addresses from `INVITE_LIMITER_REDIS_URL` and
//! `INVITE_LIMITER_REDIS_CLUSTER`).
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
