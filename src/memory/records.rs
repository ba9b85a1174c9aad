//! The members of one shard: an open-addressing table of cache-line-aligned records
//! that carry their own id, so a lookup touches the control bytes and one line.

use hashbrown::HashTable;

use crate::sender::record::Member;

/// Member records keyed by the id inside them.
#[derive(Debug, Default)]
pub(crate) struct Members {
    table: HashTable<Member>,
}

/// A mix of the id unrelated to the shard index (which uses the id's top bits), so
/// hashbrown's control tags stay spread within a shard.
fn hash(id: u64) -> u64 {
    let mut h = id ^ (id >> 31);
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 32)
}

impl Members {
    pub(crate) fn get(&self, id: &u64) -> Option<&Member> {
        self.table.find(hash(*id), |m| m.id == *id)
    }

    pub(crate) fn get_mut(&mut self, id: &u64) -> Option<&mut Member> {
        self.table.find_mut(hash(*id), |m| m.id == *id)
    }

    /// The record of `id`, created (and `created` called) when absent.
    pub(crate) fn get_or_insert(&mut self, id: u64, created: impl FnOnce()) -> &mut Member {
        let entry = self.table.entry(hash(id), |m| m.id == id, |m| hash(m.id));
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_table::Entry::Vacant(v) => {
                created();
                v.insert(Member::new(id)).into_mut()
            }
        }
    }

    pub(crate) fn remove(&mut self, id: &u64) -> Option<Member> {
        match self.table.find_entry(hash(*id), |m| m.id == *id) {
            Ok(entry) => Some(entry.remove().0),
            Err(_) => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Every record with its id, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&u64, &Member)> {
        self.table.iter().map(|m| (&m.id, m))
    }
}

/// Equal when they hold equal records, whatever the order of the table.
impl PartialEq for Members {
    fn eq(&self, other: &Members) -> bool {
        self.len() == other.len() && self.iter().all(|(id, m)| other.get(id) == Some(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_found_by_their_own_id() {
        let mut members = Members::default();
        let mut created = 0;
        for id in [0u64, 7, u64::MAX] {
            members.get_or_insert(id, || created += 1);
        }
        members.get_or_insert(7, || created += 1);
        assert_eq!(created, 3);
        assert_eq!(members.len(), 3);
        assert_eq!(members.get(&u64::MAX).map(|m| m.id), Some(u64::MAX));
        assert!(members.get(&8).is_none());
        assert_eq!(members.remove(&7).map(|m| m.id), Some(7));
        assert!(members.remove(&7).is_none());
        let mut ids: Vec<u64> = members.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![0, u64::MAX]);
    }

    #[test]
    fn a_record_is_three_aligned_cache_lines() {
        assert_eq!(std::mem::align_of::<Member>(), 64);
        assert_eq!(std::mem::size_of::<Member>(), 192);
    }
}
