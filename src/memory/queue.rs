//! A first-in first-out queue kept in fixed-size chunks.
//!
//! A `VecDeque` that outgrows its buffer copies every item into one twice the size:
//! with a million queued expiries that copy is megabytes moved under the shard lock,
//! a latency spike for whoever holds it and a burst of cache misses for everyone. This
//! queue never moves an item: it appends chunks and drops them from the front, and
//! keeps one emptied chunk for reuse, so a queue that stays about the same length
//! allocates nothing.

use std::collections::VecDeque;

/// Items per chunk: 4 KiB of `(u64, u64)`.
const CHUNK: usize = 256;

/// A queue of `Copy` items in chunks of [`CHUNK`].
#[derive(Clone)]
pub(crate) struct ChunkQueue<T: Copy + Default> {
    /// Full chunks but the last; the first is read from `head` on.
    chunks: VecDeque<Box<[T; CHUNK]>>,
    /// Position of the first item in the first chunk.
    head: usize,
    /// Items in the last chunk.
    tail: usize,
    len: usize,
    spare: Option<Box<[T; CHUNK]>>,
}

impl<T: Copy + Default> Default for ChunkQueue<T> {
    fn default() -> Self {
        ChunkQueue {
            chunks: VecDeque::new(),
            head: 0,
            tail: CHUNK,
            len: 0,
            spare: None,
        }
    }
}

impl<T: Copy + Default + std::fmt::Debug> std::fmt::Debug for ChunkQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when they hold equal items in the same order.
impl<T: Copy + Default + PartialEq> PartialEq for ChunkQueue<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Copy + Default> ChunkQueue<T> {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends at the back.
    #[inline]
    pub(crate) fn push_back(&mut self, item: T) {
        if self.tail == CHUNK {
            let chunk = self
                .spare
                .take()
                .unwrap_or_else(|| Box::new([T::default(); CHUNK]));
            self.chunks.push_back(chunk);
            self.tail = 0;
        }
        if let Some(last) = self.chunks.back_mut() {
            last[self.tail] = item;
            self.tail += 1;
            self.len += 1;
        }
    }

    /// The oldest item.
    #[inline]
    pub(crate) fn front(&self) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        self.chunks.front().map(|c| &c[self.head])
    }

    /// Removes and returns the oldest item.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let item = self.chunks.front().map(|c| c[self.head])?;
        self.head += 1;
        self.len -= 1;
        if self.len == 0 {
            // Empty: start over in the chunk already held.
            self.head = 0;
            self.tail = 0;
        } else if self.head == CHUNK {
            self.spare = self.chunks.pop_front();
            self.head = 0;
        }
        Some(item)
    }

    /// Items oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let last = self.chunks.len().saturating_sub(1);
        self.chunks.iter().enumerate().flat_map(move |(i, c)| {
            let from = if i == 0 { self.head } else { 0 };
            let to = if i == last { self.tail } else { CHUNK };
            c[from..to.max(from)].iter()
        })
    }

    /// Sorts the items (used once, when rebuilding from a snapshot).
    pub(crate) fn sort(&mut self)
    where
        T: Ord,
    {
        let mut items: Vec<T> = self.iter().copied().collect();
        items.sort_unstable();
        *self = ChunkQueue::default();
        for item in items {
            self.push_back(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_chunks_and_reuses_emptied_ones() {
        let mut q = ChunkQueue::<(u64, u64)>::default();
        assert!(q.is_empty() && q.front().is_none() && q.pop_front().is_none());
        let mut model = VecDeque::new();
        // Interleave pushes and pops so head and tail cross chunk edges many times.
        for round in 0..20u64 {
            for i in 0..(CHUNK as u64 + 37) {
                q.push_back((round, i));
                model.push_back((round, i));
            }
            for _ in 0..(CHUNK + 11 * round as usize) {
                assert_eq!(q.pop_front(), model.pop_front());
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.front(), model.front());
            assert!(q.iter().eq(model.iter()));
            assert!(q.chunks.len() <= model.len() / CHUNK + 2);
        }
        while let Some(x) = model.pop_front() {
            assert_eq!(q.pop_front(), Some(x));
        }
        assert!(q.is_empty() && q.pop_front().is_none() && q.iter().next().is_none());
        q.push_back((1, 1));
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), vec![(1, 1)]);
    }

    #[test]
    fn sort_orders_every_item() {
        let mut q = ChunkQueue::<u64>::default();
        for i in (0..1000u64).rev() {
            q.push_back(i * 7 % 1000);
        }
        q.sort();
        let items: Vec<u64> = q.iter().copied().collect();
        assert_eq!(items, (0..1000).collect::<Vec<_>>());
        let mut other = ChunkQueue::default();
        for i in 0..1000 {
            other.push_back(i);
        }
        assert_eq!(q, other);
    }
}
