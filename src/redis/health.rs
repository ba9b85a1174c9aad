//! The Redis engine's health: a `PING` through the breaker, and what failed last.

use std::time::Instant;

use super::RedisEngine;
use crate::health::{Health, RedisHealth};
use crate::time::Timestamp;

impl RedisEngine {
    /// How the engine is doing: whether Redis answers a `PING` now (one round trip,
    /// within the engine's deadline and through its circuit breaker, so an open
    /// circuit reports unreachable without trying), the breaker's state, and the
    /// latest failed call.
    pub async fn health(&self) -> Health {
        let started = Instant::now();
        let ping = self.cmd::<String>(redis::cmd("PING")).await;
        let round_trip = ping.is_ok().then(|| started.elapsed());
        let last_error = *self.inner.last_error.lock();
        Health {
            sweeper: None,
            journal: None,
            redis: Some(RedisHealth {
                reachable: ping.is_ok(),
                round_trip,
                breaker: self.inner.breaker.state(),
                last_error: last_error.map(|(cause, at)| (cause, Timestamp::from_millis(at))),
            }),
        }
    }
}
