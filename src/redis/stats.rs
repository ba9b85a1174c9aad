//! Counters of what one Redis engine did, for dashboards and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a [`RedisEngine`](super::RedisEngine) has done since it connected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisStats {
    /// Calls made to Redis (each one round trip).
    pub round_trips: u64,
    /// Sends denied by the near-cache without a round trip.
    pub near_cache_hits: u64,
    /// Recipients' facts answered by the facts cache (cluster only).
    pub facts_cache_hits: u64,
    /// Calls that failed: timeouts, lost connections, an open circuit, failovers.
    pub outages: u64,
    /// Answers that held data the engine did not write.
    pub bad_data: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    round_trips: AtomicU64,
    near_cache_hits: AtomicU64,
    facts_cache_hits: AtomicU64,
    outages: AtomicU64,
    bad_data: AtomicU64,
}

/// Which counter to bump.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    RoundTrip,
    NearCacheHit,
    FactsCacheHit,
    Outage,
    BadData,
}

impl Counters {
    pub(crate) fn bump(&self, which: Count) {
        let c = match which {
            Count::RoundTrip => &self.round_trips,
            Count::NearCacheHit => &self.near_cache_hits,
            Count::FactsCacheHit => &self.facts_cache_hits,
            Count::Outage => &self.outages,
            Count::BadData => &self.bad_data,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> RedisStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisStats {
            round_trips: get(&self.round_trips),
            near_cache_hits: get(&self.near_cache_hits),
            facts_cache_hits: get(&self.facts_cache_hits),
            outages: get(&self.outages),
            bad_data: get(&self.bad_data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_count_lands_in_its_field() {
        let c = Counters::default();
        for which in [
            Count::RoundTrip,
            Count::RoundTrip,
            Count::NearCacheHit,
            Count::FactsCacheHit,
            Count::Outage,
            Count::BadData,
        ] {
            c.bump(which);
        }
        assert_eq!(
            c.read(),
            RedisStats {
                round_trips: 2,
                near_cache_hits: 1,
                facts_cache_hits: 1,
                outages: 1,
                bad_data: 1,
            }
        );
    }
}
