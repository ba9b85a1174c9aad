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

impl DeniedSenders {
    pub(crate) fn new(ttl: Duration) -> Self {
        DeniedSenders {
            ttl,
            map: DashMap::with_hasher(ahash::RandomState::new()),
        }
    }

    pub(crate) fn get(&self, sender: u64) -> Option<Denied> {
        let hit = self.map.get(&sender).map(|e| *e.value())?;
        if Instant::now() < hit.1 {
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
            self.map.insert(sender, (denied, Instant::now() + hold));
        }
    }

    pub(crate) fn forget(&self, sender: u64) {
        self.map.remove(&sender);
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
            self.map.insert(m, (facts, Instant::now() + self.ttl));
        }
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
        near.put(1, daily(Some(1_000 + 30)), 1_000);
        assert_eq!(near.get(1), Some(daily(Some(1_030))));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(near.get(1), None, "retry_at passed");

        let short = DeniedSenders::new(Duration::from_millis(20));
        short.put(2, daily(Some(u64::MAX)), 0);
        assert!(short.get(2).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(short.get(2), None, "ttl passed");

        near.put(3, daily(None), 0);
        near.forget(3);
        assert_eq!(near.get(3), None);
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
        let on = FactsCache::new(Duration::from_millis(20));
        on.put(1, facts);
        assert_eq!(on.get(1), Some(facts));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(on.get(1), None);
    }
}
