//! An open-addressing hash map for fixed-size keys, built so that a burst of lookups
//! can prefetch what they will touch.
//!
//! The layout is SwissTable's, simplified. Slots form groups of 8. Each group has one
//! `u64` of control bytes: `0xFF` empty, `0x80` deleted, `0x00..=0x7F` full with the
//! top 7 hash bits. Groups are probed triangularly and matched with SWAR bit tricks.
//! The control words are a dense array (8 bytes per 8 slots), so a miss usually
//! touches one cache line of it, and that line can be prefetched
//! ([`FlatMap::prefetch_group`]). A hit also touches the slot, which can be
//! prefetched once its control byte is known ([`FlatMap::prefetch_slot`]).
//!
//! The maximum load is 7/8. A DELETE leaves a tombstone only when its group has no
//! empty byte, since no probe sequence passes through a group that has one.

use std::hash::{BuildHasher, Hash};

use super::fast_hash::FastBuild;
use crate::mem::{prefetch, HugeBuf};

const EMPTY: u8 = 0xFF;
const DELETED: u8 = 0x80;
const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn h2(hash: u64) -> u8 {
    (hash >> 57) as u8
}

/// Bytes equal to `b` (may also flag a full byte just above a true match: callers
/// compare keys, and such false positives are always full slots).
#[inline(always)]
fn match_byte(g: u64, b: u8) -> u64 {
    let x = g ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

#[inline(always)]
fn match_empty(g: u64) -> u64 {
    g & (g << 1) & HI
}

#[inline(always)]
fn match_empty_or_deleted(g: u64) -> u64 {
    g & HI
}

#[inline(always)]
fn byte_index(m: u64) -> usize {
    (m.trailing_zeros() / 8) as usize
}

/// A hash map from `K` to `V` (both small `Copy` types) with prefetch hooks.
pub(crate) struct FlatMap<K: Copy, V: Copy> {
    ctrl: HugeBuf<u64>,
    slots: HugeBuf<(K, V)>,
    gmask: usize,
    len: usize,
    deleted: usize,
    build: FastBuild,
}

impl<K: Copy + Eq + Hash + Default, V: Copy + Default> FlatMap<K, V> {
    /// An empty map (one group).
    pub(crate) fn new(build: FastBuild) -> Self {
        Self::with_groups(1, build)
    }

    fn with_groups(groups: usize, build: FastBuild) -> Self {
        debug_assert!(groups.is_power_of_two());
        FlatMap {
            ctrl: HugeBuf::new(groups, u64::MAX),
            slots: HugeBuf::new(groups * 8, (K::default(), V::default())),
            gmask: groups - 1,
            len: 0,
            deleted: 0,
            build,
        }
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The hash of `k`.
    #[inline(always)]
    pub(crate) fn hash(&self, k: &K) -> u64 {
        self.build.hash_one(k)
    }

    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        (hash as usize) & self.gmask
    }

    #[inline(always)]
    fn ctrl_byte(&self, idx: usize) -> u8 {
        (self.ctrl[idx / 8] >> ((idx % 8) * 8)) as u8
    }

    #[inline(always)]
    fn set_ctrl(&mut self, idx: usize, b: u8) {
        let sh = (idx % 8) * 8;
        let g = &mut self.ctrl[idx / 8];
        *g = (*g & !(0xFFu64 << sh)) | (u64::from(b) << sh);
    }

    /// Stage 1 of a lookup: prefetch the home control word of `hash`.
    #[inline(always)]
    pub(crate) fn prefetch_group(&self, hash: u64) {
        if let Some(g) = self.ctrl.get(self.home(hash)) {
            prefetch(g);
        }
    }

    /// Stage 2 of a lookup: read the home control word and prefetch the first
    /// candidate slot, if any. Returns false when the key is certainly absent (no
    /// candidate in the home group, which also has an empty byte, so the probe ends there).
    #[inline(always)]
    pub(crate) fn prefetch_slot(&self, hash: u64) -> bool {
        let pos = self.home(hash);
        let Some(&g) = self.ctrl.get(pos) else {
            return true;
        };
        let m = match_byte(g, h2(hash));
        if m != 0 {
            if let Some(s) = self.slots.get(pos * 8 + byte_index(m)) {
                prefetch(s);
            }
            return true;
        }
        match_empty(g) == 0
    }

    #[inline(always)]
    fn find(&self, k: &K, hash: u64) -> Option<usize> {
        let tag = h2(hash);
        let mut pos = self.home(hash);
        let mut stride = 0;
        loop {
            let g = self.ctrl[pos];
            let mut m = match_byte(g, tag);
            while m != 0 {
                let i = pos * 8 + byte_index(m);
                if self.slots[i].0 == *k {
                    return Some(i);
                }
                m &= m - 1;
            }
            if match_empty(g) != 0 {
                return None;
            }
            stride += 1;
            if stride > self.gmask {
                return None;
            }
            pos = (pos + stride) & self.gmask;
        }
    }

    /// Looks `k` up given its hash (from [`FlatMap::hash`]).
    #[inline(always)]
    pub(crate) fn get_hashed(&self, k: &K, hash: u64) -> Option<&V> {
        self.find(k, hash).map(|i| &self.slots[i].1)
    }

    /// Looks `k` up.
    #[inline]
    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.get_hashed(k, self.hash(k))
    }

    /// Looks `k` up for modification.
    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let i = self.find(k, self.hash(k))?;
        Some(&mut self.slots[i].1)
    }

    fn find_insert_slot(&self, hash: u64) -> usize {
        let mut pos = self.home(hash);
        let mut stride = 0;
        loop {
            let m = match_empty_or_deleted(self.ctrl[pos]);
            if m != 0 {
                return pos * 8 + byte_index(m);
            }
            stride += 1;
            pos = (pos + stride) & self.gmask;
        }
    }

    fn insert_unchecked(&mut self, k: K, v: V, hash: u64) {
        let i = self.find_insert_slot(hash);
        if self.ctrl_byte(i) == DELETED {
            self.deleted -= 1;
        }
        self.set_ctrl(i, h2(hash));
        self.slots[i] = (k, v);
        self.len += 1;
    }

    /// Inserts `k` (which must be absent).
    pub(crate) fn insert_new(&mut self, k: K, v: V) {
        debug_assert!(self.get(&k).is_none());
        let cap = self.slots.len();
        if (self.len + self.deleted + 1) * 8 > cap * 7 {
            let need = (self.len + 1) * 8 / 7 + 1;
            let groups = need.div_ceil(8).next_power_of_two().max(1);
            // Mostly tombstones: rebuild at the same size; otherwise grow.
            let groups =
                if groups * 8 <= cap && (self.len + 1) * 2 <= cap { cap / 8 } else { (cap / 8 * 2).max(groups) };
            self.rebuild(groups);
        }
        let hash = self.hash(&k);
        self.insert_unchecked(k, v, hash);
    }

    fn rebuild(&mut self, groups: usize) {
        let old = std::mem::replace(self, Self::with_groups(groups, self.build));
        for (i, (k, v)) in old.slots.iter().enumerate() {
            if old.ctrl_byte(i) & 0x80 == 0 {
                let h = self.hash(k);
                self.insert_unchecked(*k, *v, h);
            }
        }
    }

    /// Removes `k`; returns its value.
    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        let i = self.find(k, self.hash(k))?;
        let b = if match_empty(self.ctrl[i / 8]) != 0 {
            EMPTY
        } else {
            self.deleted += 1;
            DELETED
        };
        self.set_ctrl(i, b);
        let (_, v) = std::mem::take(&mut self.slots[i]);
        self.len -= 1;
        if self.len == 0 && self.slots.len() > 8 {
            *self = Self::new(self.build);
        } else if self.slots.len() > 64 && self.len * 8 < self.slots.len() {
            let groups = ((self.len * 8 / 7 + 1).div_ceil(8)).next_power_of_two() * 2;
            self.rebuild(groups);
        }
        Some(v)
    }

    /// All entries, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().enumerate().filter(|(i, _)| self.ctrl_byte(*i) & 0x80 == 0).map(|(_, (k, v))| (k, v))
    }

    /// Values, in slot order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_like_a_hashmap() {
        let mut m: FlatMap<u64, u32> = FlatMap::new(FastBuild::random());
        let mut r: HashMap<u64, u32> = HashMap::new();
        let mut x = 0x9E37_79B9u64;
        // Under Miri a tenth of the steps (the same key space, so the map still grows
        // and shrinks).
        let steps = if cfg!(miri) { 20_000 } else { 200_000u32 };
        for step in 0..steps {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % 5000;
            if x.is_multiple_of(3) {
                assert_eq!(m.remove(&k), r.remove(&k), "step {step}");
            } else if let Some(v) = m.get_mut(&k) {
                *v = step;
                r.insert(k, step);
            } else {
                m.insert_new(k, step);
                r.insert(k, step);
            }
            assert_eq!(m.len(), r.len());
            if step.is_multiple_of(9973) {
                for (k, v) in &r {
                    assert_eq!(m.get(k), Some(v));
                }
                assert_eq!(m.iter().count(), r.len());
            }
        }
        for k in 0..5000 {
            assert_eq!(m.get(&k), r.get(&k));
            m.prefetch_group(m.hash(&k));
            m.prefetch_slot(m.hash(&k));
        }
        // Zero key (a fully wildcarded tuple's masked key) works like any other.
        let mut z: FlatMap<u128, u8> = FlatMap::new(FastBuild::random());
        assert_eq!(z.get(&0), None);
        z.insert_new(0, 7);
        assert_eq!(z.get(&0), Some(&7));
        assert_eq!(z.remove(&0), Some(7));
        assert_eq!(z.get(&0), None);
    }

    #[test]
    fn grows_to_expected_size() {
        let mut m: FlatMap<u128, u64> = FlatMap::new(FastBuild::random());
        // Under Miri, fewer keys: 5,000 fill 8,192 slots at most 7/8 full, as 80,000
        // fill 131,072.
        let (n, slots) = if cfg!(miri) { (5_000u128, 8_192) } else { (80_000u128, 131_072) };
        for k in 0..n {
            m.insert_new(k * 7919, 0);
        }
        assert_eq!(m.len() as u128, n);
        assert_eq!(m.slots.len(), slots);
        for k in 0..n {
            assert!(m.get(&(k * 7919)).is_some());
        }
        for k in 0..n {
            assert!(m.remove(&(k * 7919)).is_some());
        }
        assert_eq!(m.len(), 0);
        assert_eq!(m.slots.len(), 8);
    }
}
