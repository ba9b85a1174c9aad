//! Local caches in front of Redis: senders known to be over a sender-wide limit, and
//! recipients' account facts. Entries live a bounded time, so a change made through
//! another gateway reaches this one within that time.

use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::account::InviteSetting;
use crate::outcome::Denied;

/// Senders denied by a rule that holds for every recipient, until the denial's
/// `retry_at` or the cache's time to live, whichever comes first. It only ever
/// answers "denied", so it can never turn a denial into an allowed send.
#[derive(Debug)]
pub(crate) struct DeniedSenders {
    ttl: Duration,
    map: DashMap<u64, (Denied, Instant), ahash::RandomState>,
}

/// Entries a cache holds before a put first drops the expired ones.
const TIDY_AT: usize = 100_000;

impl DeniedSenders {
    pub(crate) fn new(ttl: Duration) -> Self {
        DeniedSenders {
            ttl,
            map: DashMap::with_hasher(ahash::RandomState::new()),
        }
    }

    /// The denial held for `sender`, if its time to live has not passed and, on the
    /// engine's clock (`now_ms`), its `retry_at` has not come.
    pub(crate) fn get(&self, sender: u64, now_ms: u64) -> Option<Denied> {
        let hit = self.map.get(&sender).map(|e| *e.value())?;
        let due = hit.0.retry_at().is_some_and(|t| now_ms >= t.as_millis());
        if Instant::now() < hit.1 && !due {
            return Some(hit.0);
        }
        self.map.remove_if(&sender, |_, v| v.1 == hit.1);
        None
    }

    /// Remembers `denied`, decided at `decided_ms` on the engine's clock.
    pub(crate) fn put(&self, sender: u64, denied: Denied, decided_ms: u64) {
        let hold = match denied.retry_at() {
            Some(at) => {
                Duration::from_millis(at.as_millis().saturating_sub(decided_ms)).min(self.ttl)
            }
            None => self.ttl,
        };
        if !hold.is_zero() {
            let now = Instant::now();
            if self.map.len() >= TIDY_AT {
                self.map.retain(|_, v| v.1 > now);
            }
            self.map.insert(sender, (denied, now + hold));
        }
    }

    pub(crate) fn forget(&self, sender: u64) {
        self.map.remove(&sender);
    }

    /// Drops everything (after a gap in change notices).
    pub(crate) fn clear(&self) {
        self.map.clear();
    }
}

/// What a send needs to know of its recipient's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) banned: bool,
    pub(crate) setting: InviteSetting,
}

/// Recipients' facts, each held for at most the time to live.
#[derive(Debug)]
pub(crate) struct FactsCache {
    ttl: Duration,
    map: DashMap<u64, (Facts, Instant), ahash::RandomState>,
}

impl FactsCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        FactsCache {
            ttl,
            map: DashMap::with_hasher(ahash::RandomState::new()),
        }
    }

    pub(crate) fn get(&self, m: u64) -> Option<Facts> {
        if self.ttl.is_zero() {
            return None;
        }
        let hit = self.map.get(&m).map(|e| *e.value())?;
        if Instant::now() < hit.1 {
            return Some(hit.0);
        }
        self.map.remove_if(&m, |_, v| v.1 == hit.1);
        None
    }

    pub(crate) fn put(&self, m: u64, facts: Facts) {
        if !self.ttl.is_zero() {
            let now = Instant::now();
            if self.map.len() >= TIDY_AT {
                self.map.retain(|_, v| v.1 > now);
            }
            self.map.insert(m, (facts, now + self.ttl));
        }
    }

    /// Drops everything (after a gap in change notices).
    pub(crate) fn clear(&self) {
        self.map.clear();
    }

    pub(crate) fn forget(&self, m: u64) {
        self.map.remove(&m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::DenyReason;
    use crate::time::Timestamp;

    fn daily(retry: Option<u64>) -> Denied {
        Denied {
            reason: DenyReason::DailyLimit { used: 1, limit: 1 },
            retry_at: retry.map(Timestamp::from_millis),
        }
    }

    #[test]
    fn a_denial_is_held_until_its_retry_at_or_the_ttl() {
        let near = DeniedSenders::new(Duration::from_secs(60));
        near.put(1, daily(Some(1_000 + 300)), 1_000);
        assert_eq!(near.get(1, 1_000), Some(daily(Some(1_300))));
        assert_eq!(
            near.get(1, 1_300),
            None,
            "retry_at came on the engine's clock"
        );
        near.put(4, daily(Some(1_000 + 30)), 1_000);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(near.get(4, 0), None, "its hold passed in real time");

        let short = DeniedSenders::new(Duration::from_millis(200));
        short.put(2, daily(Some(u64::MAX)), 0);
        assert!(short.get(2, 0).is_some());
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(short.get(2, 0), None, "ttl passed");

        near.put(3, daily(None), 0);
        near.forget(3);
        assert_eq!(near.get(3, 0), None);
    }

    #[test]
    fn facts_expire_and_a_zero_ttl_caches_nothing() {
        let facts = Facts {
            banned: true,
            setting: InviteSetting::Nobody,
        };
        let off = FactsCache::new(Duration::ZERO);
        off.put(1, facts);
        assert_eq!(off.get(1), None);
        let on = FactsCache::new(Duration::from_millis(200));
        on.put(1, facts);
        assert_eq!(on.get(1), Some(facts));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(on.get(1), None);
    }
}
