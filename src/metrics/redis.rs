//! The Redis engine's own metrics: round trips, outages, near-cache hits, breaker.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use ::metrics::Counter;

use super::{REDIS_BREAKER_STATE, REDIS_NEAR_CACHE_HITS, REDIS_OUTAGES, REDIS_ROUND_TRIPS};
use crate::health::BreakerState;

/// Handles of one Redis engine.
#[derive(Debug)]
pub(crate) struct RedisMetrics {
    engine: &'static str,
    on: bool,
    round_trips: OnceLock<Counter>,
    near_hits: OnceLock<Counter>,
    /// The breaker state last reported: 0 closed, 1 open, 2 probing.
    breaker_state: AtomicU8,
}

impl RedisMetrics {
    pub(crate) fn new(on: bool) -> Self {
        RedisMetrics {
            engine: "redis",
            on,
            round_trips: OnceLock::new(),
            near_hits: OnceLock::new(),
            breaker_state: AtomicU8::new(0),
        }
    }

    /// One Redis call made.
    #[inline]
    pub(crate) fn round_trip(&self) {
        if self.on {
            self.round_trips
                .get_or_init(|| ::metrics::counter!(REDIS_ROUND_TRIPS, "engine" => self.engine))
                .increment(1);
        }
    }

    /// One send denied from the near-cache.
    pub(crate) fn near_cache_hit(&self) {
        if self.on {
            self.near_hits
                .get_or_init(|| ::metrics::counter!(REDIS_NEAR_CACHE_HITS, "engine" => self.engine))
                .increment(1);
        }
    }

    /// A failed Redis call, and the breaker's state after it.
    pub(crate) fn outage(&self, cause: crate::outage::Outage, breaker: BreakerState) {
        if !self.on {
            return;
        }
        ::metrics::counter!(REDIS_OUTAGES, "engine" => self.engine, "cause" => outage_code(cause))
            .increment(1);
        self.breaker(breaker);
    }

    /// The breaker's state, set on a change only (a success after failures closes it).
    pub(crate) fn breaker(&self, state: BreakerState) {
        let code = match state {
            BreakerState::Closed => 0,
            BreakerState::Open { .. } => 1,
            _ => 2,
        };
        if self.on && self.breaker_state.swap(code, Ordering::Relaxed) != code {
            ::metrics::gauge!(REDIS_BREAKER_STATE, "engine" => self.engine).set(f64::from(code));
        }
    }

    /// Whether the breaker was last seen anything but closed.
    #[inline]
    pub(crate) fn breaker_was_open(&self) -> bool {
        self.breaker_state.load(Ordering::Relaxed) != 0
    }
}

/// The `cause` label of an outage.
fn outage_code(cause: crate::outage::Outage) -> &'static str {
    use crate::outage::Outage;
    match cause {
        Outage::Timeout => "timeout",
        Outage::Connection => "connection",
        Outage::CircuitOpen => "circuit_open",
        Outage::ClusterDown => "cluster_down",
        Outage::Refused => "refused",
        Outage::BadData => "bad_data",
        Outage::BlockingInAsync => "blocking_in_async",
        Outage::Journal => "journal",
        Outage::ReplicasUnconfirmed { .. } => "replicas_unconfirmed",
    }
}
