//! A sender's pending invitations grouped by recipient, for ledgers too long to scan.

use std::collections::hash_map::Entry;

use crate::sender::record::FastMap;

/// A pending invitation as its pair sees it: enough to say when the pair frees a
/// slot without searching the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PendingRef {
    pub(crate) seq: u64,
    pub(crate) sent_at: u64,
}

/// A pair's pending invitations, oldest first. The count and the oldest are kept in
/// place: almost every pair has one. The others are on the heap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PendingRefs {
    len: u32,
    /// Meaningful when `len > 0`; default otherwise, so equal lists compare equal.
    oldest: PendingRef,
    /// The second and later, present only when `len > 1`.
    // Boxed: a pointer, where a Vec would take three words in every entry.
    #[allow(clippy::box_collection)]
    newer: Option<Box<Vec<PendingRef>>>,
}

impl PendingRefs {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &PendingRef> {
        let oldest = (self.len > 0).then_some(&self.oldest);
        oldest
            .into_iter()
            .chain(self.newer.iter().flat_map(|v| v.iter()))
    }

    /// Appends the newest pending invitation.
    pub(crate) fn push(&mut self, p: PendingRef) {
        if self.len == 0 {
            self.oldest = p;
        } else {
            self.newer.get_or_insert_with(Box::default).push(p);
        }
        self.len = self.len.saturating_add(1);
    }

    /// Removes the invitation `seq`, keeping the others in order.
    pub(crate) fn remove(&mut self, seq: u64) {
        if self.len <= 1 {
            if self.len == 1 && self.oldest.seq == seq {
                *self = PendingRefs::default();
            }
            return;
        }
        let kept: Vec<PendingRef> = self.iter().copied().filter(|p| p.seq != seq).collect();
        *self = PendingRefs::default();
        for p in kept {
            self.push(p);
        }
    }
}

/// Pending invitations by recipient.
pub(crate) type PairIndex = FastMap<u64, PendingRefs>;

/// Adds a pending invitation to its recipient's list.
pub(crate) fn index_add(index: &mut PairIndex, recipient: u64, p: PendingRef) {
    index.entry(recipient).or_default().push(p);
}

/// Removes a pending invitation from its recipient's list, and the list once empty.
pub(crate) fn index_remove(index: &mut PairIndex, recipient: u64, seq: u64) {
    if let Entry::Occupied(mut list) = index.entry(recipient) {
        list.get_mut().remove(seq);
        if list.get().is_empty() {
            list.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_refs_keep_order_and_the_oldest_in_place() {
        let at = |seq| PendingRef {
            seq,
            sent_at: seq * 10,
        };
        let mut p = PendingRefs::default();
        assert!(p.is_empty() && p.iter().next().is_none());
        for seq in 1..=4 {
            p.push(at(seq));
        }
        assert_eq!(p.iter().count(), 4);
        p.remove(1);
        p.remove(3);
        assert_eq!(p.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 4]);
        p.remove(2);
        let mut one = PendingRefs::default();
        one.push(at(4));
        assert_eq!(p, one, "equal whatever was removed before");
        p.remove(9);
        assert_eq!(p, one, "an unknown seq changes nothing");
        p.remove(4);
        assert_eq!(p, PendingRefs::default());
    }

    #[test]
    fn index_drops_a_recipient_with_nothing_pending() {
        let mut ix = PairIndex::default();
        index_add(&mut ix, 7, PendingRef { seq: 1, sent_at: 5 });
        index_add(&mut ix, 7, PendingRef { seq: 2, sent_at: 6 });
        index_remove(&mut ix, 7, 1);
        assert_eq!(ix.get(&7).map(|p| p.iter().count()), Some(1));
        index_remove(&mut ix, 7, 2);
        assert!(ix.is_empty());
        index_remove(&mut ix, 8, 1);
        assert!(ix.is_empty());
    }
}
