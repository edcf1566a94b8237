//! How a table is stored and written: the crate-private half of a table definition
//! ([`Stored`]), and the writer-side state that is not double-buffered
//! ([`WriterState`]: direct-counter handles, insertion sequence, metadata).

use std::collections::HashMap;

use super::contract::{EntryOp, Table, TableError, TableId};
use crate::sizes::{CLASSIFY_V4_SIZE, CLASSIFY_V6_SIZE};
use crate::state::CounterStore;

/// A validated change, applied identically to both copies of a store: it carries
/// everything decided on the way (direct-counter handle, insertion sequence
/// number), so replaying it on the other copy is deterministic and cannot fail.
pub type Change<S> = Box<dyn Fn(&mut S) + Send>;

/// A table's storage and write rules.
pub trait Stored: Table {
    /// One copy of the table (the left-right scheme keeps two).
    type Store;

    /// Validates `op` against `store` (the back copy) and resolves it. `Ok(None)`:
    /// done, with no table change (direct counter writes).
    fn write(
        self,
        store: &Self::Store,
        ctx: &mut WriteCtx<'_>,
        op: EntryOp<Self>,
    ) -> Result<Option<Change<Self::Store>>, TableError>;
    /// Number of entries.
    fn len(store: &Self::Store) -> usize;
    /// The default action.
    fn default_action(store: &Self::Store) -> Self::Action;
    /// The entry with this identity.
    fn record(self, store: &Self::Store, ctx: &ReadCtx<'_>, key: &Self::Key) -> Option<Self::Record>;
    /// Every entry, in the table's read order.
    fn records(self, store: &Self::Store, ctx: &ReadCtx<'_>) -> Vec<Self::Record>;
}

/// Direct-counter handles of one table.
pub struct HandleAlloc {
    next: u32,
    cap: u32,
    free: Vec<u32>,
    /// Freed in the current batch: reused only after it completes, so a reader still
    /// in the old copy cannot count into a new entry's counter.
    pending: Vec<u32>,
}

impl HandleAlloc {
    fn new(cap: usize) -> Self {
        HandleAlloc { next: 0, cap: cap as u32, free: Vec::new(), pending: Vec::new() }
    }

    /// A free handle, if any.
    pub(crate) fn alloc(&mut self) -> Option<u32> {
        if let Some(h) = self.free.pop() {
            return Some(h);
        }
        if self.next < self.cap {
            self.next += 1;
            return Some(self.next - 1);
        }
        None
    }

    /// Frees `h` at the end of the batch.
    pub(crate) fn release(&mut self, h: u32) {
        self.pending.push(h);
    }

    fn release_pending(&mut self) {
        self.free.append(&mut self.pending);
    }
}

/// An entry's metadata slot: table, and a key or handle packed in 160 bits.
pub(crate) type MetaKey = (TableId, u128, u32);

/// The writer's own state (not double-buffered).
pub struct WriterState {
    /// Direct-counter handles of `clone_classify_v4`, `clone_classify_v6`.
    pub(crate) handles: [HandleAlloc; 2],
    /// Next insertion sequence number (tie rule).
    pub(crate) seq: u64,
    /// Opaque `TableEntry.metadata` of the entries that have some.
    meta: HashMap<MetaKey, Vec<u8>>,
}

impl Default for WriterState {
    fn default() -> Self {
        WriterState {
            handles: [HandleAlloc::new(CLASSIFY_V4_SIZE), HandleAlloc::new(CLASSIFY_V6_SIZE)],
            seq: 0,
            meta: HashMap::new(),
        }
    }
}

impl WriterState {
    /// End of a batch: freed handles become reusable.
    pub(crate) fn finish_batch(&mut self) {
        for h in &mut self.handles {
            h.release_pending();
        }
    }

    fn meta(&self, k: &MetaKey) -> Vec<u8> {
        self.meta.get(k).cloned().unwrap_or_default()
    }
}

/// What a table write may use besides its store.
pub struct WriteCtx<'a> {
    pub(crate) counters: &'a CounterStore,
    pub(crate) st: &'a mut WriterState,
}

impl WriteCtx<'_> {
    /// Stores an entry's metadata (empty: none).
    pub(crate) fn set_meta(&mut self, k: MetaKey, v: Vec<u8>) {
        if v.is_empty() {
            self.st.meta.remove(&k);
        } else {
            self.st.meta.insert(k, v);
        }
    }

    /// Forgets an entry's metadata.
    pub(crate) fn remove_meta(&mut self, k: &MetaKey) {
        self.st.meta.remove(k);
    }

    /// The next insertion sequence number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.st.seq += 1;
        self.st.seq - 1
    }
}

/// What a table read may use besides its store.
pub struct ReadCtx<'a> {
    pub(crate) counters: &'a CounterStore,
    pub(crate) st: &'a WriterState,
}

impl ReadCtx<'_> {
    /// An entry's metadata (empty if none).
    pub(crate) fn meta(&self, k: &MetaKey) -> Vec<u8> {
        self.st.meta(k)
    }
}
