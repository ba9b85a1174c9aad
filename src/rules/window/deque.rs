//! A double-ended queue that keeps its first few items in place.
//!
//! Most members' logs hold a handful of instants at any time, and a `VecDeque` would
//! give each of them a heap buffer of its own. This queue is the size of a
//! `VecDeque`'s header (32 bytes) and holds up to `N` items inside it; past that it
//! moves them to a ring buffer on the heap, whose header still fits in the same 32
//! bytes, so reading an item costs no more indirections than with a `VecDeque`.

/// A queue of `Copy` items, inline up to `N`.
#[derive(Clone)]
pub(crate) enum SmallDeque<T: Copy + Default, const N: usize> {
    Inline {
        len: u8,
        items: [T; N],
    },
    /// A ring over a power-of-two buffer: item `i` is at `(head + i) & (cap - 1)`.
    Ring {
        buf: Box<[T]>,
        head: u32,
        len: u32,
    },
}

impl<T: Copy + Default, const N: usize> Default for SmallDeque<T, N> {
    fn default() -> Self {
        SmallDeque::Inline {
            len: 0,
            items: [T::default(); N],
        }
    }
}

impl<T: Copy + Default + std::fmt::Debug, const N: usize> std::fmt::Debug for SmallDeque<T, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when they hold equal items in the same order, wherever they keep them.
impl<T: Copy + Default + PartialEq, const N: usize> PartialEq for SmallDeque<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Copy + Default + Eq, const N: usize> Eq for SmallDeque<T, N> {}

impl<T: Copy + Default, const N: usize> SmallDeque<T, N> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            SmallDeque::Inline { len, .. } => usize::from(*len),
            SmallDeque::Ring { len, .. } => *len as usize,
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        match self {
            SmallDeque::Inline { len, items } => items[..usize::from(*len)].get(i),
            SmallDeque::Ring { buf, head, len } => {
                (i < *len as usize).then(|| &buf[(*head as usize + i) & (buf.len() - 1)])
            }
        }
    }

    #[inline]
    pub(crate) fn front(&self) -> Option<&T> {
        self.get(0)
    }

    #[inline]
    pub(crate) fn back(&self) -> Option<&T> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// Items oldest first, from position `start` on.
    pub(crate) fn iter_from(&self, start: usize) -> impl DoubleEndedIterator<Item = &T> + '_ {
        (start.min(self.len())..self.len()).filter_map(move |i| self.get(i))
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.iter_from(0)
    }

    #[inline]
    pub(crate) fn push_back(&mut self, item: T) {
        if self.is_full() {
            self.grow();
        }
        match self {
            SmallDeque::Inline { len, items } => {
                items[usize::from(*len)] = item;
                *len += 1;
            }
            SmallDeque::Ring { buf, head, len } => {
                let at = (*head as usize + *len as usize) & (buf.len() - 1);
                buf[at] = item;
                *len += 1;
            }
        }
    }

    #[inline]
    fn is_full(&self) -> bool {
        match self {
            SmallDeque::Inline { len, .. } => usize::from(*len) == N,
            SmallDeque::Ring { buf, len, .. } => *len as usize == buf.len(),
        }
    }

    /// Moves the items to a ring buffer twice their number (at least 4), a power of two.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        // A queue kept only on the heap starts at one item: most hold very few.
        let least = if N == 0 { 1 } else { 4 };
        self.grow_to((2 * self.len()).max(least));
    }

    /// Makes room for `n` items in all, so that filling a queue whose size is known
    /// (a decoded one) moves its items once.
    pub(crate) fn reserve(&mut self, n: usize) {
        let capacity = match self {
            SmallDeque::Inline { .. } => N,
            SmallDeque::Ring { buf, .. } => buf.len(),
        };
        if n > capacity {
            self.grow_to(n);
        }
    }

    /// Moves the items to a ring buffer of at least `cap` slots, a power of two.
    fn grow_to(&mut self, cap: usize) {
        let len = self.len();
        let cap = cap.max(len).next_power_of_two();
        let mut buf = vec![T::default(); cap].into_boxed_slice();
        for (slot, item) in buf.iter_mut().zip(self.iter()) {
            *slot = *item;
        }
        *self = SmallDeque::Ring {
            buf,
            head: 0,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        };
    }

    /// Removes the oldest item; an emptied queue gives its buffer back.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let first = *self.front()?;
        match self {
            SmallDeque::Inline { len, items } => {
                items.copy_within(1..usize::from(*len), 0);
                *len -= 1;
            }
            SmallDeque::Ring { buf, head, len } => {
                *head = ((*head as usize + 1) & (buf.len() - 1)) as u32;
                *len -= 1;
                if *len == 0 {
                    *self = SmallDeque::default();
                }
            }
        }
        Some(first)
    }

    /// Removes the oldest `n` items (all of them when fewer); an emptied queue gives
    /// its buffer back.
    pub(crate) fn drop_front(&mut self, n: usize) {
        let n = n.min(self.len());
        match self {
            SmallDeque::Inline { len, items } => {
                items.copy_within(n..usize::from(*len), 0);
                *len -= n as u8;
            }
            SmallDeque::Ring { buf, head, len } => {
                *head = ((*head as usize + n) & (buf.len() - 1)) as u32;
                *len -= n as u32;
                if *len == 0 {
                    *self = SmallDeque::default();
                }
            }
        }
    }

    /// Inserts `item` at position `at` (at most `len`), shifting later items back.
    pub(crate) fn insert(&mut self, at: usize, item: T) {
        let len = self.len();
        let at = at.min(len);
        self.push_back(item);
        for i in (at..len).rev() {
            let moved = self.get(i).copied();
            if let (Some(moved), Some(next)) = (moved, self.get_mut(i + 1)) {
                *next = moved;
            }
        }
        if let Some(slot) = self.get_mut(at) {
            *slot = item;
        }
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        match self {
            SmallDeque::Inline { len, items } => items[..usize::from(*len)].get_mut(i),
            SmallDeque::Ring { buf, head, len } => {
                let mask = buf.len() - 1;
                (i < *len as usize).then(|| &mut buf[(*head as usize + i) & mask])
            }
        }
    }

    /// The first position whose item does not satisfy `pred`, which holds for a prefix.
    pub(crate) fn partition_point(&self, pred: impl Fn(&T) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).is_some_and(&pred) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    pub(crate) fn clear(&mut self) {
        *self = SmallDeque::default();
    }
}

impl<T: Copy + Default, const N: usize> FromIterator<T> for SmallDeque<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut q = SmallDeque::default();
        for item in iter {
            q.push_back(item);
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn header_is_no_larger_than_a_vecdeque() {
        assert_eq!(std::mem::size_of::<SmallDeque<u64, 3>>(), 32);
        assert_eq!(std::mem::size_of::<SmallDeque<(u64, u64), 1>>(), 32);
    }

    #[test]
    fn behaves_as_a_vecdeque_through_spills_and_wraps() {
        let mut q: SmallDeque<u64, 3> = SmallDeque::default();
        let mut model = VecDeque::new();
        let mut x = 7u64;
        for step in 0..2_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match x >> 61 {
                0..=3 => {
                    q.push_back(step);
                    model.push_back(step);
                }
                4 => assert_eq!(q.pop_front(), model.pop_front()),
                5 => {
                    let n = (x >> 24) as usize % 4;
                    q.drop_front(n);
                    model.drain(..n.min(model.len()));
                }
                6 => {
                    let at = (x >> 20) as usize % (model.len() + 1);
                    q.insert(at, step);
                    model.insert(at, step);
                }
                _ => {
                    let from = (x >> 20) as usize % (model.len() + 2);
                    let got: Vec<u64> = q.iter_from(from).copied().collect();
                    let want: Vec<u64> = model.iter().skip(from).copied().collect();
                    assert_eq!(got, want);
                }
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.front(), model.front());
            assert_eq!(q.back(), model.back());
            let mid = model.len() / 2;
            assert_eq!(q.get(mid), model.get(mid));
        }
        let sorted: SmallDeque<u64, 3> = (0..10).map(|i| i * 10).collect();
        assert_eq!(sorted.partition_point(|&t| t < 35), 4);
        assert_eq!(sorted.partition_point(|&t| t < 1_000), 10);
        let mut empty = sorted.clone();
        empty.clear();
        assert!(empty.is_empty() && empty == SmallDeque::default());
    }
}
