//! The pipeline: table writes in atomic batches (`write`), reads for P4Runtime
//! (`read`), and packet processing in bursts (`process`, `nat_restore`).
//!
//! # Atomic batches: left-right
//! The tables exist twice (left-right double buffering, Ramalhete & Correia).
//! [`Pipeline::write`] applies each operation to the back copy at once, which gives
//! per-operation results with CONTINUE_ON_ERROR semantics: a failed operation is
//! skipped and the others stay. When the batch closes it publishes the back copy with
//! one atomic swap, waits for the readers still in the old copy to leave (each holds
//! it for one burst), and replays the same resolved operations there. A batch costs
//! about twice its operations and never copies a table (figures: `BENCHMARKS.md`).
//!
//! Packet workers take no lock. Per burst they add and remove themselves on a striped
//! read indicator, so every packet of a burst sees one consistent set of tables. The
//! price is that a writer waits for readers: a worker descheduled in the middle of a
//! burst delays the publish until it runs again. Pinned, dedicated workers never are.
//!
//! Why not an arc-swapped snapshot with structural sharing (persistent maps)? Cheap
//! clones, but every lookup would walk a tree of nodes instead of one flat hash probe,
//! and old nodes need an epoch/RCU scheme to be freed. Left-right keeps the fastest
//! lookup structure, a flat hash table per mask tuple, for twice the table memory.
//!
//! # Processing
//! See `docs/dataplane.md`. [`Pipeline::process_burst`] parses each frame
//! ([`crate::wire::parse`]), applies `wire`, `clone_classify_*`, member selection,
//! the I2E clone to session `member` and the egress of each clone, and appends the
//! clones, then the original, to an [`crate::EmitBatch`]. Nothing is allocated per packet.
//! Frames are processed in passes over groups of [`BURST`], so that the cache misses
//! of different frames overlap (the tables are several MiB and accessed at random):
//! see [`Pipeline::process_burst`].
//!
//! Table semantics follow v1model literally. An action sets metadata (zeroed for each
//! clone), and the `if (table.apply().hit)` blocks run only on an entry hit. So a
//! default action can assign metadata without the `hit` block running (a
//! `clone_rewrite` default of `clone_rewrite_set` lets clones through unmodified),
//! and an entry whose action is the `*_miss`/`*_drop` one still counts as a hit.
//!
//! BMv2 details kept: the session id is `member & 0x7FFF`; counter and register
//! indices out of range are not counted or written (`member >= 32768`, round robin
//! reads 0); a frame or clone whose egress port is 511 (the drop port) is not emitted.

mod nat_restore;
mod process;
mod read;
mod write;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::state::{Counter, CounterStore, CounterValue, Diag, ErspanSeq, RrCursor};
use crate::sync::{LeftRight, WriterToken};
use crate::table::fast_hash::FastBuild;
use crate::table::instance::{Tables, TablesChange};
use crate::table::store::WriterState;
use crate::table::{TableError, TableId};

pub use process::WorkerState;
pub use read::TableSizes;
pub use write::WriteBatch;

/// Recommended burst size.
pub const BURST: usize = 32;

/// After a write of `v` to `c[index]`: a zeroed `clones_emitted` cell (a counter
/// reset) zeroes the member's [`Diag`] counts as well, since they count failures
/// among the clones that cell counts.
fn reset_diags_with(counters: &CounterStore, c: Counter, index: u32, v: CounterValue) {
    if c == Counter::ClonesEmitted && v.packets == 0 && v.bytes == 0 {
        if let Ok(member) = u16::try_from(index) {
            counters.set_diag(Diag::AllocFailed, member, 0);
            counters.set_diag(Diag::DriverFailed, member, 0);
        }
    }
}

fn check_index(field: &'static str, index: u32, size: usize) -> Result<usize, TableError> {
    let i = index as usize;
    if i >= size {
        return Err(crate::table::range_err(TableId::State, field, index.into(), (size - 1) as u128));
    }
    Ok(i)
}

struct Writer {
    token: WriterToken,
    st: WriterState,
    /// The changes of the open batch, replayed on the other copy at its end.
    log: Vec<TablesChange>,
}

/// The software data plane: tables, counters, registers and the packet path.
///
/// `Pipeline` is `Send + Sync`. Share it (e.g. in an `Arc`) between packet workers,
/// which call [`Pipeline::process_burst`] concurrently, and the control plane, which
/// calls [`Pipeline::write`] / [`Pipeline::apply`] and the read methods.
pub struct Pipeline {
    tables: LeftRight<Tables>,
    writer: Mutex<Writer>,
    counters: Arc<CounterStore>,
    rr: RrCursor,
    sample: RrCursor,
    erspan_seq: ErspanSeq,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

impl Pipeline {
    /// An empty pipeline: no entries, the program's default actions (`wire_drop`,
    /// `classify_miss`, `clone_rewrite_miss`, `nat_miss`), counters and registers zero.
    pub fn new() -> Self {
        let build = FastBuild::random();
        let (tables, token) = LeftRight::new(|| Tables::new(build));
        Pipeline {
            tables,
            writer: Mutex::new(Writer { token, st: WriterState::default(), log: Vec::new() }),
            counters: CounterStore::new(),
            rr: RrCursor::new(),
            sample: RrCursor::new(),
            erspan_seq: ErspanSeq::new(),
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}
