//! Counters and registers: the contract's `clones_requested`, `clones_emitted`, the
//! direct counters on the classify tables, the `rr_cursor` register, and diagnostics
//! (`clone_no_session`, `clone_rewrite_miss`, `alloc_failed`, `driver_failed`,
//! per-port rx/tx/drop).
//!
//! **Counters** are sharded per worker. Each `WorkerState` leases a shard on
//! its first burst, and only that worker writes it, with a relaxed load plus store:
//! no `lock` prefix, no contention. A read sums a `base` and every shard, wrapping.
//! A write (P4Runtime MODIFY, e.g. a reset) sets `base = value - Σ shards`, so
//! increments that race with it are neither lost nor counted twice. Shards live as
//! long as the pipeline: a dropped worker's counts stay, and its shard goes to the
//! next worker. Shard memory is allocated zeroed (and huge-page backed), so the
//! untouched parts of its ~7 MiB cost no RSS.
//!
//! Byte counts follow BMv2: every contract counter adds the frame's length as it
//! arrived at ingress (clones count the original's length). Port tx bytes count what
//! is actually emitted.
//!
//! **`rr_cursor`** is one `AtomicU16` per index, updated with a compare-and-swap
//! read-modify-write. It is exact with any number of workers.
//!
//! `alloc_failed` and `driver_failed` belong to the port backends, which call
//! [`crate::Pipeline::add_diag`]. They are plain atomics, since failures are rare.

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::mem::HugeBuf;
use crate::sizes::{CLASSIFY_V4_SIZE, CLASSIFY_V6_SIZE, ERSPAN_SEQ_SIZE, PORT_COUNT};

/// Size of the member-indexed counters and of `rr_cursor`.
pub const COUNTER_SIZE: usize = 32_768;
/// Size of `rr_cursor`.
pub const RR_CURSOR_SIZE: usize = 32_768;

/// A packets-and-bytes counter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct CounterValue {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// The member-indexed counters (index = member id, size [`COUNTER_SIZE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// `clones_requested` (P4Info 0x12000001): counted in ingress when a clone is requested.
    ClonesRequested,
    /// `clones_emitted` (P4Info 0x12000002): counted in egress when `clone_rewrite` hits.
    ClonesEmitted,
    /// Diagnostic: a classify hit whose member has no clone session (no copy made).
    CloneNoSession,
    /// Diagnostic, indexed by `egress_rid`: a clone dropped because
    /// `clone_rewrite` missed with the `clone_rewrite_miss` default.
    CloneRewriteMiss,
    /// `truncated_mtu` (P4Info 0x12000003), indexed by `egress_rid`: an
    /// encapsulated clone cut to fit its network's MTU.
    TruncatedMtu,
    /// `skipped_by_filter` (P4Info 0x12000004), indexed by a block's first member:
    /// a classified packet a filter rule skipped.
    SkippedByFilter,
    /// `not_sampled` (P4Info 0x12000005), indexed by a block's first member: a
    /// classified packet sampling left out.
    NotSampled,
}

/// Per-port counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortCounter {
    /// Frames received on the port (ingress length).
    Rx,
    /// Frames emitted on the port, originals and clones (emitted length).
    Tx,
    /// Frames received on the port whose original was dropped (wire miss with
    /// `wire_drop`, or egress port 511).
    Drop,
}

/// All counters of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PortStats {
    /// See [`PortCounter::Rx`].
    pub rx: CounterValue,
    /// See [`PortCounter::Tx`].
    pub tx: CounterValue,
    /// See [`PortCounter::Drop`].
    pub drop: CounterValue,
}

/// Diagnostics the port backends fill in (frame counts per member id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diag {
    /// A clone could not be allocated (e.g. mbuf pool empty).
    AllocFailed,
    /// The driver refused to send a clone.
    DriverFailed,
}

/// Cell layout of a counter shard: each cell is (packets, bytes).
pub(crate) mod layout {
    use super::*;
    pub const PORT_RX: usize = 0;
    pub const PORT_TX: usize = PORT_RX + PORT_COUNT;
    pub const PORT_DROP: usize = PORT_TX + PORT_COUNT;
    /// The four member-indexed counters of member `m` share one 64-byte line:
    /// cells `MEMBERS + 4m + k`, k = requested, emitted, no_session, rewrite_miss.
    pub const MEMBERS: usize = PORT_DROP + PORT_COUNT;
    /// `truncated_mtu`, one cell per member (rare: kept off the hot line).
    pub const TRUNCATED_MTU: usize = MEMBERS + 4 * COUNTER_SIZE;
    /// `skipped_by_filter` and `not_sampled`, one cell per block (rare too).
    pub const SKIPPED_BY_FILTER: usize = TRUNCATED_MTU + COUNTER_SIZE;
    pub const NOT_SAMPLED: usize = SKIPPED_BY_FILTER + COUNTER_SIZE;
    pub const DIRECT_V4: usize = NOT_SAMPLED + COUNTER_SIZE;
    pub const DIRECT_V6: usize = DIRECT_V4 + CLASSIFY_V4_SIZE;
    pub const CELLS: usize = DIRECT_V6 + CLASSIFY_V6_SIZE;

    #[inline(always)]
    pub fn member(c: Counter, m: usize) -> usize {
        let k = match c {
            Counter::ClonesRequested => 0,
            Counter::ClonesEmitted => 1,
            Counter::CloneNoSession => 2,
            Counter::CloneRewriteMiss => 3,
            Counter::TruncatedMtu => return TRUNCATED_MTU + m,
            Counter::SkippedByFilter => return SKIPPED_BY_FILTER + m,
            Counter::NotSampled => return NOT_SAMPLED + m,
        };
        MEMBERS + 4 * m + k
    }

    pub fn port(c: PortCounter) -> usize {
        match c {
            PortCounter::Rx => PORT_RX,
            PortCounter::Tx => PORT_TX,
            PortCounter::Drop => PORT_DROP,
        }
    }
}

/// `n` zeroed atomics: untouched pages stay unmapped.
fn zeroed_atomics(n: usize) -> HugeBuf<AtomicU64> {
    HugeBuf::zeroed(n)
}

/// One worker's counters. Only the leasing worker increments it.
pub(crate) struct Shard {
    cells: HugeBuf<AtomicU64>,
}

impl Shard {
    fn new() -> Self {
        Shard { cells: zeroed_atomics(layout::CELLS * 2) }
    }

    /// Adds one packet of `bytes` to `cell`. Single writer: relaxed load + store.
    #[inline(always)]
    pub(crate) fn add(&self, cell: usize, bytes: u64) {
        let i = cell * 2;
        if let (Some(p), Some(b)) = (self.cells.get(i), self.cells.get(i + 1)) {
            p.store(p.load(Relaxed).wrapping_add(1), Relaxed);
            b.store(b.load(Relaxed).wrapping_add(bytes), Relaxed);
        }
    }

    /// Prefetches `cell` (it is about to be incremented).
    #[inline(always)]
    pub(crate) fn prefetch(&self, cell: usize) {
        if let Some(c) = self.cells.get(cell * 2) {
            crate::mem::prefetch(c);
        }
    }

    fn get(&self, cell: usize) -> (u64, u64) {
        (self.cells[cell * 2].load(Relaxed), self.cells[cell * 2 + 1].load(Relaxed))
    }
}

struct Registry {
    all: Vec<Arc<Shard>>,
    free: Vec<Arc<Shard>>,
}

/// All counters of a pipeline.
pub(crate) struct CounterStore {
    registry: Mutex<Registry>,
    base: HugeBuf<AtomicU64>,
    diag: [HugeBuf<AtomicU64>; 2],
}

/// A worker's lease on a shard; gives it back on drop.
pub(crate) struct ShardLease {
    pub shard: Arc<Shard>,
    store: Weak<CounterStore>,
    /// Read-indicator stripe of this worker (see `sync`).
    pub stripe: usize,
}

impl ShardLease {
    /// Whether this lease belongs to `store`.
    pub(crate) fn belongs_to(&self, store: &Arc<CounterStore>) -> bool {
        std::ptr::eq(self.store.as_ptr(), Arc::as_ptr(store))
    }
}

impl Drop for ShardLease {
    fn drop(&mut self) {
        if let Some(store) = self.store.upgrade() {
            store.lock().free.push(self.shard.clone());
        }
    }
}

impl CounterStore {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(CounterStore {
            registry: Mutex::new(Registry { all: Vec::new(), free: Vec::new() }),
            base: zeroed_atomics(layout::CELLS * 2),
            diag: [zeroed_atomics(COUNTER_SIZE), zeroed_atomics(COUNTER_SIZE)],
        })
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leases a shard for one worker.
    pub(crate) fn lease(self: &Arc<Self>) -> ShardLease {
        let mut r = self.lock();
        let shard = match r.free.pop() {
            Some(s) => s,
            None => {
                let s = Arc::new(Shard::new());
                r.all.push(s.clone());
                s
            }
        };
        let stripe = r.all.iter().position(|s| Arc::ptr_eq(s, &shard)).unwrap_or(0);
        ShardLease { shard, store: Arc::downgrade(self), stripe }
    }

    fn sum(r: &Registry, cell: usize) -> (u64, u64) {
        r.all.iter().fold((0u64, 0u64), |(p, b), s| {
            let (sp, sb) = s.get(cell);
            (p.wrapping_add(sp), b.wrapping_add(sb))
        })
    }

    /// Reads one cell.
    pub(crate) fn read(&self, cell: usize) -> CounterValue {
        let r = self.lock();
        self.read_locked(&r, cell)
    }

    fn read_locked(&self, r: &Registry, cell: usize) -> CounterValue {
        let (p, b) = Self::sum(r, cell);
        CounterValue {
            packets: self.base[cell * 2].load(Relaxed).wrapping_add(p),
            bytes: self.base[cell * 2 + 1].load(Relaxed).wrapping_add(b),
        }
    }

    /// Reads the given cells.
    pub(crate) fn read_cells(&self, cells: impl Iterator<Item = usize>) -> Vec<CounterValue> {
        let r = self.lock();
        cells.map(|c| self.read_locked(&r, c)).collect()
    }

    /// Sets one cell (P4Runtime MODIFY).
    pub(crate) fn write(&self, cell: usize, v: CounterValue) {
        let r = self.lock();
        let (p, b) = Self::sum(&r, cell);
        self.base[cell * 2].store(v.packets.wrapping_sub(p), Relaxed);
        self.base[cell * 2 + 1].store(v.bytes.wrapping_sub(b), Relaxed);
    }

    /// Zeroes one cell everywhere. Only for cells no worker can be incrementing
    /// (a direct-counter handle being reused).
    pub(crate) fn zero(&self, cell: usize) {
        let r = self.lock();
        for s in &r.all {
            s.cells[cell * 2].store(0, Relaxed);
            s.cells[cell * 2 + 1].store(0, Relaxed);
        }
        self.base[cell * 2].store(0, Relaxed);
        self.base[cell * 2 + 1].store(0, Relaxed);
    }

    fn diag_cells(&self, d: Diag) -> &[AtomicU64] {
        match d {
            Diag::AllocFailed => &self.diag[0],
            Diag::DriverFailed => &self.diag[1],
        }
    }

    /// Adds `n` to a diagnostic counter (ignored when `member` is out of range).
    pub(crate) fn add_diag(&self, d: Diag, member: u16, n: u64) {
        if let Some(c) = self.diag_cells(d).get(usize::from(member)) {
            c.fetch_add(n, Relaxed);
        }
    }

    /// Reads a diagnostic counter.
    pub(crate) fn diag(&self, d: Diag, member: u16) -> u64 {
        self.diag_cells(d).get(usize::from(member)).map_or(0, |c| c.load(Relaxed))
    }

    /// Sets a diagnostic counter.
    pub(crate) fn set_diag(&self, d: Diag, member: u16, v: u64) {
        if let Some(c) = self.diag_cells(d).get(usize::from(member)) {
            c.store(v, Relaxed);
        }
    }
}

/// A wrapping cursor register (`bit<16>` × [`RR_CURSOR_SIZE`]): `rr_cursor`, and
/// `sample_cursor` (one in N: a packet is sampled when its step returns 0).
pub(crate) struct RrCursor {
    cells: Box<[AtomicU16]>,
}

impl RrCursor {
    pub(crate) fn new() -> Self {
        RrCursor { cells: (0..RR_CURSOR_SIZE).map(|_| AtomicU16::new(0)).collect() }
    }

    /// The contract's round-robin step for a profile at `first_member` with
    /// `count` (> 0) members. Returns `member_offset`.
    ///
    /// ```text
    /// rr_cursor.read(c, first_member); if (c >= count) c = 0;
    /// member_offset = c; c = c + 1; if (c >= count) c = 0;
    /// rr_cursor.write(first_member, c);
    /// ```
    /// An index out of range reads 0 and writes nothing (BMv2 leaves the
    /// destination untouched and logs an error; the local starts at 0).
    #[inline]
    pub(crate) fn step(&self, first_member: u16, count: u16) -> u16 {
        let Some(cell) = self.cells.get(usize::from(first_member)) else {
            return 0;
        };
        let next = |c: u16| {
            let c = if c >= count { 0 } else { c };
            let n = c.wrapping_add(1);
            if n >= count {
                0
            } else {
                n
            }
        };
        let prev = match cell.fetch_update(Relaxed, Relaxed, |c| Some(next(c))) {
            Ok(p) | Err(p) => p,
        };
        if prev >= count {
            0
        } else {
            prev
        }
    }

    pub(crate) fn get(&self, index: usize) -> Option<u16> {
        self.cells.get(index).map(|c| c.load(Relaxed))
    }

    pub(crate) fn set(&self, index: usize, v: u16) -> bool {
        match self.cells.get(index) {
            Some(c) => {
                c.store(v, Relaxed);
                true
            }
            None => false,
        }
    }

    pub(crate) fn all(&self) -> Vec<u16> {
        self.cells.iter().map(|c| c.load(Relaxed)).collect()
    }
}

/// The `erspan_seq` register (`bit<32>` × [`ERSPAN_SEQ_SIZE`]): the sequence
/// number of each member's next ERSPAN copy.
pub(crate) struct ErspanSeq {
    cells: Box<[AtomicU32]>,
}

impl ErspanSeq {
    pub(crate) fn new() -> Self {
        ErspanSeq { cells: (0..ERSPAN_SEQ_SIZE).map(|_| AtomicU32::new(0)).collect() }
    }

    /// `erspan_seq.read(s, i); erspan_seq.write(i, s + 1)`: returns `s`. An index out
    /// of range reads 0 and writes nothing (as BMv2).
    #[inline]
    pub(crate) fn next(&self, index: u16) -> u32 {
        self.cells.get(usize::from(index)).map_or(0, |c| c.fetch_add(1, Relaxed))
    }

    pub(crate) fn get(&self, index: usize) -> Option<u32> {
        self.cells.get(index).map(|c| c.load(Relaxed))
    }

    pub(crate) fn set(&self, index: usize, v: u32) -> bool {
        match self.cells.get(index) {
            Some(c) => {
                c.store(v, Relaxed);
                true
            }
            None => false,
        }
    }

    pub(crate) fn all(&self) -> Vec<u32> {
        self.cells.iter().map(|c| c.load(Relaxed)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rr_step_matches_contract() {
        let r = RrCursor::new();
        let seq: Vec<u16> = (0..7).map(|_| r.step(10, 3)).collect();
        assert_eq!(seq, [0, 1, 2, 0, 1, 2, 0]);
        // Read-side guard: a cursor beyond the count restarts at 0.
        r.set(10, 9);
        assert_eq!(r.step(10, 3), 0);
        assert_eq!(r.get(10), Some(1));
        assert_eq!(r.step(10, 1), 0);
        assert_eq!(r.get(10), Some(0));
        assert_eq!(r.step(40_000, 5), 0);
        // count 65535: c + 1 never wraps past the guard.
        r.set(11, 65_534);
        assert_eq!(r.step(11, 65_535), 65_534);
        assert_eq!(r.get(11), Some(0));
    }

    #[test]
    fn shards_sum_and_write() {
        let store = CounterStore::new();
        let a = store.lease();
        let b = store.lease();
        assert_ne!(a.stripe, b.stripe);
        a.shard.add(5, 100);
        b.shard.add(5, 50);
        assert_eq!(store.read(5), CounterValue { packets: 2, bytes: 150 });
        store.write(5, CounterValue::default());
        assert_eq!(store.read(5), CounterValue::default());
        a.shard.add(5, 10);
        assert_eq!(store.read(5), CounterValue { packets: 1, bytes: 10 });
        drop(a);
        // The dropped worker's counts stay; its shard is reused.
        let c = store.lease();
        assert_eq!(store.read(5).packets, 1);
        c.shard.add(5, 1);
        assert_eq!(store.read(5).packets, 2);
        store.zero(5);
        assert_eq!(store.read(5), CounterValue::default());
        store.add_diag(Diag::DriverFailed, 3, 2);
        assert_eq!(store.diag(Diag::DriverFailed, 3), 2);
        assert_eq!(store.diag(Diag::AllocFailed, 3), 0);
    }
}
