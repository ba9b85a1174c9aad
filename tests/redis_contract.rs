//! The shared behaviour suite against the Redis engine, on a standalone server, on
//! a cluster and on a Sentinel-managed master; on the last two also with
//! `wait_for_replicas` (addresses from `INVITE_LIMITER_REDIS_URL`, `INVITE_LIMITER_REDIS_CLUSTER` and
//! `INVITE_LIMITER_REDIS_SENTINEL`). On the standalone server and the cluster it runs
//! once on the Lua script and once on the Redis module (which those servers must have
//! loaded, as `.ci/run` does); the Sentinel and strict suites run on what the engine
//! picks by default: the module where the server has it, else the script.
#![cfg(feature = "redis")]

mod contract;
mod redis_support;

use invite_limiter::redis::ServerSide::{self, Module, Script};

/// On the Lua script, even where the server has the module (`standalone_module` runs
/// the suite there).
mod standalone {
    use super::*;
    use invite_limiter::{ManualClock, Policy};

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        on_side(redis_support::STANDALONE, Script, p, c, name).await
    }

    contract_tests!(make);
}

/// The same suite on the Redis module (the servers must have it loaded, as `.ci/run`
/// does), on a standalone server and on
/// a cluster, where a send carries the recipient's value and an acceptance is two
/// commands.
mod standalone_module {
    use super::*;
    use invite_limiter::{ManualClock, Policy};

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        on_side(redis_support::STANDALONE, Module, p, c, name).await
    }

    contract_tests!(make);
}

mod cluster_module {
    use super::*;
    use invite_limiter::{ManualClock, Policy};

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        on_side(redis_support::CLUSTER, Module, p, c, name).await
    }

    contract_tests!(make);
}

/// An engine deciding on `side` (the module or the script, not `Auto`) at the
/// address in `var`.
async fn on_side(
    var: &str,
    side: ServerSide,
    p: invite_limiter::Policy,
    c: invite_limiter::ManualClock,
    name: &str,
) -> Option<invite_limiter::redis::RedisEngine> {
    let engine = redis_support::builder(var, name)?
        .limits(contract::limits())
        .policy(p)
        .clock(c)
        .server_side(side)
        .deadline(std::time::Duration::from_secs(2))
        .connect()
        .await
        .expect("connects (with the module, to a server that has it)");
    assert_eq!(engine.uses_module(), side == Module);
    Some(engine)
}

/// On the Lua script, as `standalone`.
mod cluster {
    use super::*;
    use invite_limiter::{ManualClock, Policy};

    async fn make(
        p: Policy,
        c: ManualClock,
        name: &str,
    ) -> Option<invite_limiter::redis::RedisEngine> {
        on_side(redis_support::CLUSTER, Script, p, c, name).await
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
