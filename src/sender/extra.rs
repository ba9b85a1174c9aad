//! A member's rarer facts, kept out of the hot record: notes, idempotency records,
//! relations, emails and contacts, cooldowns and own limits.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::rules::spam::signals::SpamSignals;
use crate::rules::window::Log;

/// ahash with its per-process keys. Some keys here are chosen by members (imported
/// contacts, idempotency keys); what keeps them from being crafted to collide is
/// that `AHasher::default()` takes the keys ahash draws from the operating system's
/// random source once per process (its `runtime-rng` feature, required explicitly
/// in Cargo.toml), so they are unknown outside the process. Zero-sized, the hasher
/// keeps every per-member set 32 bytes smaller than a per-map `RandomState` would.
pub(crate) type Hasher = std::hash::BuildHasherDefault<ahash::AHasher>;
pub(crate) type FastMap<K, V> = HashMap<K, V, Hasher>;
pub(crate) type FastSet<K> = HashSet<K, Hasher>;

/// An accepted send made with an idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdemRecord {
    pub(crate) recipient: u64,
    pub(crate) seq: u64,
    pub(crate) sent_at: u64,
}

/// Idempotency records of one sender over the last 24 hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IdemLog {
    by_key: FastMap<u64, IdemRecord>,
    order: VecDeque<u64>,
}

impl IdemLog {
    pub(crate) fn expire(&mut self, now: u64, window: u64) {
        while let Some(&key) = self.order.front() {
            let due = self
                .by_key
                .get(&key)
                .is_none_or(|r| r.sent_at.saturating_add(window) <= now);
            if !due {
                break;
            }
            self.by_key.remove(&key);
            self.order.pop_front();
        }
    }

    pub(crate) fn get(&self, key: u64) -> Option<&IdemRecord> {
        self.by_key.get(&key)
    }

    pub(crate) fn insert(&mut self, key: u64, record: IdemRecord) {
        if self.by_key.insert(key, record).is_none() {
            self.order.push_back(key);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Instant of the oldest record, if any.
    pub(crate) fn first_at(&self) -> Option<u64> {
        self.order
            .front()
            .and_then(|k| self.by_key.get(k))
            .map(|r| r.sent_at)
    }

    pub(crate) fn last_at(&self) -> Option<u64> {
        self.order
            .back()
            .and_then(|k| self.by_key.get(k))
            .map(|r| r.sent_at)
    }

    /// Records oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &IdemRecord)> {
        self.order
            .iter()
            .filter_map(|k| self.by_key.get(k).map(|r| (*k, r)))
    }
}

/// Facts most members do not have, kept out of the hot record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Extra {
    pub(crate) notes: Log,
    pub(crate) idem: IdemLog,
    pub(crate) connections: FastSet<u64>,
    /// Members this member follows.
    pub(crate) follows: FastSet<u64>,
    /// Registered emails, normalised (a set: registering and unregistering cost
    /// constant time).
    pub(crate) emails: FastSet<String>,
    /// Imported contacts, normalised, in import order.
    pub(crate) contacts: Vec<String>,
    pub(crate) contact_set: FastSet<String>,
    /// The spam signals behind the current restriction, if the engine imposed it.
    pub(crate) restricted_for: Option<SpamSignals>,
    /// End of the re-invite cooldown by recipient, after a withdrawal.
    pub(crate) cooldowns: FastMap<u64, u64>,
    /// Limits of this member alone, in place of their tier's.
    pub(crate) limits: Option<Box<crate::policy::TierLimits>>,
}

impl Extra {
    /// Whether a member with this and nothing else is indistinguishable from a new one.
    pub(crate) fn is_idle(&self) -> bool {
        self.notes.is_empty()
            && self.idem.is_empty()
            && self.connections.is_empty()
            && self.follows.is_empty()
            && self.emails.is_empty()
            && self.contacts.is_empty()
            && self.cooldowns.is_empty()
            && self.limits.is_none()
    }
}
