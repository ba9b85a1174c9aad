//! The engine-wide index of registered emails: normalised address → owner.
//!
//! Lock order: an entry of this index is held before the owner's shard lock, so a
//! registration's cap check, the member's record and the index change together.

use dashmap::mapref::entry::{OccupiedEntry, VacantEntry};
use dashmap::{DashMap, Entry};

use crate::ids::MemberId;

type Map = DashMap<String, MemberId, ahash::RandomState>;

/// Registered emails and their owners.
#[derive(Debug, Default)]
pub(crate) struct EmailIndex(Map);

/// An address no one holds, reserved while its entry is held.
pub(crate) struct Free<'a>(VacantEntry<'a, String, MemberId>);

/// An address held by the member who asked, while its entry is held.
pub(crate) struct Held<'a>(OccupiedEntry<'a, String, MemberId>);

/// What claiming an address found.
pub(crate) enum Claim<'a> {
    /// The member already holds it.
    Already,
    /// Another member holds it.
    TakenBy(MemberId),
    /// No one holds it: [`Free::take`] gives it to the member.
    Free(Free<'a>),
}

impl Free<'_> {
    /// Gives the address to `owner`, releasing the entry.
    pub(crate) fn take(self, owner: MemberId) {
        drop(self.0.insert(owner));
    }
}

impl Held<'_> {
    /// Frees the address, releasing the entry.
    pub(crate) fn release(self) {
        self.0.remove();
    }
}

impl EmailIndex {
    /// The owner of a normalised address.
    pub(crate) fn owner(&self, email: &str) -> Option<MemberId> {
        self.0.get(email).map(|m| *m)
    }

    /// Looks `email` up for `member` to register, holding its entry.
    pub(crate) fn claim(&self, email: String, member: MemberId) -> Claim<'_> {
        match self.0.entry(email) {
            Entry::Occupied(e) if *e.get() == member => Claim::Already,
            Entry::Occupied(e) => Claim::TakenBy(*e.get()),
            Entry::Vacant(v) => Claim::Free(Free(v)),
        }
    }

    /// The entry of `email` when `member` holds it, for unregistering.
    pub(crate) fn held_by(&self, email: String, member: MemberId) -> Option<Held<'_>> {
        match self.0.entry(email) {
            Entry::Occupied(e) if *e.get() == member => Some(Held(e)),
            _ => None,
        }
    }

    /// Records an owner read from a snapshot.
    pub(crate) fn restore(&self, email: String, owner: MemberId) {
        self.0.insert(email, owner);
    }

    /// Registered addresses.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Every (address, owner), in no order.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<(String, MemberId)> {
        self.0
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_has_one_owner_until_released() {
        let index = EmailIndex::default();
        let (a, b) = (MemberId(1), MemberId(2));
        match index.claim("x@example.com".into(), a) {
            Claim::Free(free) => free.take(a),
            _ => panic!("a new address is free"),
        }
        assert!(matches!(
            index.claim("x@example.com".into(), a),
            Claim::Already
        ));
        assert!(matches!(index.claim("x@example.com".into(), b), Claim::TakenBy(o) if o == a));
        assert!(index.held_by("x@example.com".into(), b).is_none());
        index
            .held_by("x@example.com".into(), a)
            .expect("a holds it")
            .release();
        assert_eq!(index.owner("x@example.com"), None);
        assert_eq!(index.len(), 0);
    }
}
