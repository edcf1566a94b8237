//! Tuple-space search for the ternary classify tables.
//!
//! Entries are grouped by their mask ("tuple"). Each tuple is one hash table
//! ([`FlatMap`]) from the masked key to the best entry for that key. Other
//! priorities of the same key sit in a side map that lookups never read. A lookup
//! visits tuples in order of their highest priority and stops as soon as the next
//! tuple's highest priority is below the current match. At equal priority it goes
//! on, because of the tie rule: higher priority wins, and at equal priority the
//! earlier insertion wins (compared via a per-handle sequence array, read only on
//! such ties).
//!
//! A lookup can run in three stages over a burst, to overlap cache misses:
//! [`TernaryTable::hash_and_prefetch`], [`TernaryTable::prefetch_slots`],
//! [`TernaryTable::lookup_hashed`].
//!
//! The 10,000-VS configuration has about 160,000 entries in two tuples (sport
//! wildcarded, dport wildcarded), so a lookup costs one or two hash probes.

use std::collections::HashMap;
use std::hash::Hash;

use super::fast_hash::FastBuild;
use super::flat::FlatMap;

/// A packed ternary key (value or mask).
pub trait PackedKey: Copy + Eq + Hash + Default + std::fmt::Debug + Send + Sync + 'static {
    /// `self & mask`.
    fn and(&self, mask: &Self) -> Self;
}

/// `clone_classify_v4` key packed into 128 bits:
/// `src(32) dst(32) sport(16) dport(16) proto(8) 0(24)`, most significant first.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PackedV4(pub u128);

impl PackedV4 {
    #[inline(always)]
    pub(crate) fn new(src: u32, dst: u32, proto: u8, sport: u16, dport: u16) -> Self {
        PackedV4(
            (u128::from(src) << 96)
                | (u128::from(dst) << 64)
                | (u128::from(sport) << 48)
                | (u128::from(dport) << 32)
                | (u128::from(proto) << 24),
        )
    }
    pub(crate) fn src(self) -> u32 {
        (self.0 >> 96) as u32
    }
    pub(crate) fn dst(self) -> u32 {
        (self.0 >> 64) as u32
    }
    pub(crate) fn sport(self) -> u16 {
        (self.0 >> 48) as u16
    }
    pub(crate) fn dport(self) -> u16 {
        (self.0 >> 32) as u16
    }
    pub(crate) fn proto(self) -> u8 {
        (self.0 >> 24) as u8
    }
}

impl PackedKey for PackedV4 {
    #[inline(always)]
    fn and(&self, mask: &Self) -> Self {
        PackedV4(self.0 & mask.0)
    }
}

/// `clone_classify_v6` key: addresses, then `sport(16) dport(16) next_header(8)` in `rest`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PackedV6 {
    pub src: u128,
    pub dst: u128,
    pub rest: u64,
}

impl PackedV6 {
    #[inline(always)]
    pub(crate) fn new(src: u128, dst: u128, nh: u8, sport: u16, dport: u16) -> Self {
        PackedV6 { src, dst, rest: (u64::from(sport) << 24) | (u64::from(dport) << 8) | u64::from(nh) }
    }
    pub(crate) fn sport(self) -> u16 {
        (self.rest >> 24) as u16
    }
    pub(crate) fn dport(self) -> u16 {
        (self.rest >> 8) as u16
    }
    pub(crate) fn nh(self) -> u8 {
        self.rest as u8
    }
}

impl PackedKey for PackedV6 {
    #[inline(always)]
    fn and(&self, mask: &Self) -> Self {
        PackedV6 { src: self.src & mask.src, dst: self.dst & mask.dst, rest: self.rest & mask.rest }
    }
}

/// What a lookup needs of one entry (16 bytes; with a v4 key a slot is 32 bytes,
/// two per cache line). The insertion sequence number, needed only to break ties,
/// lives in a side array indexed by handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Slot<A> {
    /// Priority.
    pub prio: i32,
    /// Direct-counter index, stable for the entry's life.
    pub handle: u32,
    /// Action.
    pub action: A,
}

struct Tuple<K: PackedKey, A: Copy> {
    mask: K,
    /// Creation order (deterministic across the two copies); orders tuples of equal `max_prio`.
    created: u64,
    /// Highest priority in the tuple.
    max_prio: i32,
    /// Entries at `max_prio`.
    max_count: u32,
    /// `max_prio`/`max_count` need a rescan.
    dirty: bool,
    len: usize,
    /// Masked key → best entry for that key.
    map: FlatMap<K, Slot<A>>,
    /// Masked key → the other entries with that key (other priorities), best first.
    overflow: HashMap<K, Vec<Slot<A>>, FastBuild>,
}

impl<K: PackedKey, A: Copy + Default> Tuple<K, A> {
    fn new(mask: K, created: u64, build: FastBuild) -> Self {
        Tuple {
            mask,
            created,
            max_prio: i32::MIN,
            max_count: 0,
            dirty: false,
            len: 0,
            map: FlatMap::new(build),
            overflow: HashMap::with_hasher(build),
        }
    }

    fn note_insert(&mut self, s: &Slot<A>) {
        if self.len == 0 || s.prio > self.max_prio {
            self.max_prio = s.prio;
            self.max_count = 1;
        } else if s.prio == self.max_prio {
            self.max_count += 1;
        }
        self.len += 1;
    }

    fn note_remove(&mut self, s: &Slot<A>) {
        self.len -= 1;
        if s.prio == self.max_prio {
            self.max_count -= 1;
            if self.max_count == 0 {
                self.dirty = true;
            }
        }
    }

    fn rescan(&mut self) {
        let mut max = i32::MIN;
        let mut count = 0u32;
        let all = self.map.values().chain(self.overflow.values().flat_map(|v| v.iter()));
        for s in all {
            if s.prio > max {
                max = s.prio;
                count = 1;
            } else if s.prio == max {
                count += 1;
            }
        }
        self.max_prio = max;
        self.max_count = count;
        self.dirty = false;
    }
}

/// How many tuples a staged lookup hashes ahead and prefetches (the compiler's
/// tables have two).
pub(crate) const PREFETCH_TUPLES: usize = 2;

/// Stage-1 hashes of a key in the first [`PREFETCH_TUPLES`] tuples.
pub(crate) type Hashes = [u64; PREFETCH_TUPLES];

/// One ternary table (one copy of it).
pub struct TernaryTable<K: PackedKey, A: Copy> {
    tuples: Vec<Tuple<K, A>>,
    /// Insertion sequence number by handle (tie rule: lower wins).
    seqs: Vec<u64>,
    len: usize,
    created: u64,
    build: FastBuild,
    needs_sort: bool,
}

impl<K: PackedKey, A: Copy + Default> TernaryTable<K, A> {
    /// An empty table hashing with `build`.
    pub(crate) fn new(build: FastBuild) -> Self {
        TernaryTable { tuples: Vec::new(), seqs: Vec::new(), len: 0, created: 0, build, needs_sort: false }
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of distinct masks.
    #[cfg(test)]
    pub(crate) fn tuple_count(&self) -> usize {
        self.tuples.len()
    }

    /// The insertion sequence number of the entry with `handle`.
    pub(crate) fn seq(&self, handle: u32) -> u64 {
        self.seqs.get(handle as usize).copied().unwrap_or(u64::MAX)
    }

    /// `a` wins over `b`: higher priority, or equal priority and inserted earlier.
    #[inline(always)]
    fn beats(&self, a: &Slot<A>, b: &Slot<A>) -> bool {
        a.prio > b.prio || (a.prio == b.prio && self.seq(a.handle) < self.seq(b.handle))
    }

    /// Lookup stage 1: hashes of `key` in the first [`PREFETCH_TUPLES`] tuples, with
    /// their control words prefetched.
    #[inline]
    pub(crate) fn hash_and_prefetch(&self, key: &K) -> Hashes {
        let mut h = [0u64; PREFETCH_TUPLES];
        for (t, h) in self.tuples.iter().zip(h.iter_mut()) {
            *h = t.map.hash(&key.and(&t.mask));
            t.map.prefetch_group(*h);
        }
        h
    }

    /// Lookup stage 2: prefetch the candidate slots (control words should be cached).
    /// Returns a bit per prefetched tuple that may hold the key (clear = certainly
    /// not there), or `None` if some tuple was not prefetched and must be probed.
    #[inline]
    pub(crate) fn prefetch_slots(&self, hashes: &Hashes) -> Option<u8> {
        let mut maybe = 0u8;
        for (i, (t, h)) in self.tuples.iter().zip(hashes).enumerate() {
            if t.map.prefetch_slot(*h) {
                maybe |= 1 << i;
            }
        }
        (self.tuples.len() <= PREFETCH_TUPLES).then_some(maybe)
    }

    /// The winning entry for a packet key, if any.
    #[cfg(test)]
    pub(crate) fn lookup(&self, key: &K) -> Option<&Slot<A>> {
        self.lookup_hashed(key, &self.hash_and_prefetch(key), u8::MAX)
    }

    /// Lookup stage 3: the winning entry for a packet key, given the stage-1 hashes
    /// and the stage-2 `maybe` bits (tuples whose bit is clear are skipped).
    #[inline]
    pub(crate) fn lookup_hashed(&self, key: &K, hashes: &Hashes, maybe: u8) -> Option<&Slot<A>> {
        let mut best: Option<&Slot<A>> = None;
        for (i, t) in self.tuples.iter().enumerate() {
            if let Some(b) = best {
                // Tuples are sorted by max priority: none after this one can win.
                if t.max_prio < b.prio {
                    break;
                }
            }
            if i < PREFETCH_TUPLES && maybe & (1 << i) == 0 {
                continue;
            }
            let k = key.and(&t.mask);
            let h = match hashes.get(i) {
                Some(h) => *h,
                None => t.map.hash(&k),
            };
            if let Some(s) = t.map.get_hashed(&k, h) {
                match best {
                    Some(b) if !self.beats(s, b) => {}
                    _ => best = Some(s),
                }
            }
        }
        best
    }

    fn tuple(&self, mask: &K) -> Option<&Tuple<K, A>> {
        self.tuples.iter().find(|t| t.mask == *mask)
    }

    fn tuple_mut(&mut self, mask: &K) -> Option<&mut Tuple<K, A>> {
        self.tuples.iter_mut().find(|t| t.mask == *mask)
    }

    /// The entry with this identity (masked key, priority).
    pub(crate) fn find(&self, mask: &K, key: &K, prio: i32) -> Option<&Slot<A>> {
        let t = self.tuple(mask)?;
        let s = t.map.get(key)?;
        if s.prio == prio {
            return Some(s);
        }
        t.overflow.get(key)?.iter().find(|s| s.prio == prio)
    }

    /// Inserts an entry whose identity is not installed (checked by the caller), with
    /// insertion sequence number `seq`.
    pub(crate) fn insert(&mut self, mask: &K, key: &K, slot: Slot<A>, seq: u64) {
        let h = slot.handle as usize;
        if self.seqs.len() <= h {
            self.seqs.resize(h + 1, u64::MAX);
        }
        self.seqs[h] = seq;
        if self.tuple(mask).is_none() {
            self.created += 1;
            let t = Tuple::new(*mask, self.created, self.build);
            self.tuples.push(t);
        }
        let seqs = &self.seqs;
        let beats = |a: &Slot<A>, b: &Slot<A>| {
            a.prio > b.prio || (a.prio == b.prio && seqs[a.handle as usize] < seqs[b.handle as usize])
        };
        let t = self.tuples.iter_mut().find(|t| t.mask == *mask).expect("tuple just ensured");
        match t.map.get_mut(key) {
            None => t.map.insert_new(*key, slot),
            Some(cur) => {
                let demoted = if beats(&slot, cur) { std::mem::replace(cur, slot) } else { slot };
                let v = t.overflow.entry(*key).or_default();
                let pos = v.iter().position(|s| beats(&demoted, s)).unwrap_or(v.len());
                v.insert(pos, demoted);
            }
        }
        t.note_insert(&slot);
        self.len += 1;
        self.needs_sort = true;
    }

    /// Replaces the action of an installed entry. Returns false if it is not installed.
    pub(crate) fn modify(&mut self, mask: &K, key: &K, prio: i32, action: A) -> bool {
        let Some(t) = self.tuple_mut(mask) else {
            return false;
        };
        if let Some(s) = t.map.get_mut(key) {
            if s.prio == prio {
                s.action = action;
                return true;
            }
        }
        if let Some(s) = t.overflow.get_mut(key).and_then(|v| v.iter_mut().find(|s| s.prio == prio)) {
            s.action = action;
            return true;
        }
        false
    }

    /// Removes an entry; returns it, or `None` if it is not installed.
    pub(crate) fn remove(&mut self, mask: &K, key: &K, prio: i32) -> Option<Slot<A>> {
        let t = self.tuple_mut(mask)?;
        let cur = t.map.get_mut(key)?;
        let removed = if cur.prio == prio {
            let removed = *cur;
            match t.overflow.get_mut(key) {
                Some(v) => {
                    *cur = v.remove(0);
                    if v.is_empty() {
                        t.overflow.remove(key);
                    }
                }
                None => {
                    t.map.remove(key);
                }
            }
            removed
        } else {
            let v = t.overflow.get_mut(key)?;
            let pos = v.iter().position(|s| s.prio == prio)?;
            let removed = v.remove(pos);
            if v.is_empty() {
                t.overflow.remove(key);
            }
            removed
        };
        t.note_remove(&removed);
        self.len -= 1;
        self.needs_sort = true;
        if let Some(s) = self.seqs.get_mut(removed.handle as usize) {
            *s = u64::MAX;
        }
        Some(removed)
    }

    /// Brings tuple summaries and order up to date. Called once at the end of a batch.
    pub(crate) fn finish(&mut self) {
        if !self.needs_sort {
            return;
        }
        for t in &mut self.tuples {
            if t.dirty {
                t.rescan();
            }
        }
        self.tuples.retain(|t| t.len > 0);
        self.tuples.sort_by(|a, b| b.max_prio.cmp(&a.max_prio).then(a.created.cmp(&b.created)));
        self.needs_sort = false;
    }

    /// Calls `f(mask, masked key, slot)` for every entry.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&K, &K, &Slot<A>)) {
        for t in &self.tuples {
            for (k, s) in t.map.iter() {
                f(&t.mask, k, s);
            }
            for (k, v) in &t.overflow {
                for s in v {
                    f(&t.mask, k, s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test action: the member id.
    fn act(m: u16) -> u16 {
        m
    }

    fn slot(prio: i32, seq: u64, m: u16) -> Slot<u16> {
        Slot { prio, handle: seq as u32, action: act(m) }
    }

    fn member(s: Option<&Slot<u16>>) -> Option<u16> {
        Some(s?.action)
    }

    const ALL: PackedV4 = PackedV4(u128::MAX);

    #[test]
    fn priorities_and_ties() {
        let mut t = TernaryTable::new(FastBuild::random());
        let exact_mask = PackedV4::new(!0, !0, 0xFF, 0, 0xFFFF);
        let dst_only = PackedV4::new(0, !0, 0, 0, 0);
        let pkt = PackedV4::new(1, 2, 6, 999, 80);
        t.insert(&exact_mask, &pkt.and(&exact_mask), slot(10, 1, 1), 1);
        t.insert(&dst_only, &pkt.and(&dst_only), slot(10, 0, 2), 0);
        t.finish();
        // Equal priority: the earlier insertion (seq 0) wins, though it is in the other tuple.
        assert_eq!(member(t.lookup(&pkt)), Some(2));
        t.insert(&dst_only, &pkt.and(&dst_only), slot(20, 2, 3), 2);
        t.finish();
        assert_eq!(member(t.lookup(&pkt)), Some(3));
        assert_eq!(t.len(), 3);
        assert_eq!(t.tuple_count(), 2);
        // Remove the winner at 20: back to seq 0.
        assert!(t.remove(&dst_only, &pkt.and(&dst_only), 20).is_some());
        t.finish();
        assert_eq!(member(t.lookup(&pkt)), Some(2));
        assert!(t.remove(&dst_only, &pkt.and(&dst_only), 10).is_some());
        t.finish();
        assert_eq!(member(t.lookup(&pkt)), Some(1));
        assert_eq!(t.tuple_count(), 1);
        assert!(t.modify(&exact_mask, &pkt.and(&exact_mask), 10, act(9)));
        assert_eq!(member(t.lookup(&pkt)), Some(9));
        assert!(!t.modify(&exact_mask, &pkt.and(&exact_mask), 11, act(9)));
        assert!(t.remove(&exact_mask, &pkt.and(&exact_mask), 10).is_some());
        t.finish();
        assert_eq!(t.lookup(&pkt), None);
        assert_eq!(t.tuple_count(), 0);
    }

    #[test]
    fn same_key_many_priorities() {
        let mut t = TernaryTable::new(FastBuild::random());
        let k = PackedV4::new(1, 2, 6, 3, 4);
        for (i, p) in [5, 50, 7, 50, 1].into_iter().enumerate() {
            if t.find(&ALL, &k, p).is_none() {
                t.insert(&ALL, &k, slot(p, i as u64, i as u16), i as u64);
            }
        }
        t.finish();
        assert_eq!(t.len(), 4);
        assert_eq!(member(t.lookup(&k)), Some(1));
        assert_eq!(t.find(&ALL, &k, 7).map(|s| t.seq(s.handle)), Some(2));
        t.remove(&ALL, &k, 50);
        t.finish();
        assert_eq!(member(t.lookup(&k)), Some(2));
        t.remove(&ALL, &k, 1);
        t.remove(&ALL, &k, 7);
        t.finish();
        assert_eq!(member(t.lookup(&k)), Some(0));
        let mut n = 0;
        t.for_each(|_, _, _| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn early_exit_respects_ties() {
        // Tuple A (older max) and tuple B; packet matches both at equal priority.
        let mut t = TernaryTable::new(FastBuild::random());
        let ma = PackedV4::new(!0, 0, 0, 0, 0);
        let mb = PackedV4::new(0, !0, 0, 0, 0);
        t.insert(&ma, &PackedV4::new(9, 0, 0, 0, 0), slot(5, 0, 100), 0); // unrelated, seq 0
        t.insert(&mb, &PackedV4::new(0, 2, 0, 0, 0), slot(5, 1, 2), 1); // matches, seq 1
        t.insert(&ma, &PackedV4::new(1, 0, 0, 0, 0), slot(5, 2, 1), 2); // matches, seq 2
        t.finish();
        let pkt = PackedV4::new(1, 2, 6, 7, 8);
        assert_eq!(member(t.lookup(&pkt)), Some(2));
    }
}
