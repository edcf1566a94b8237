//! The read API: table entries (typed, or as contract values for P4Runtime), clone
//! sessions, counters and registers.

use super::{check_index, Pipeline};
use crate::state::{layout, Counter, CounterValue, Diag, PortStats, COUNTER_SIZE, RR_CURSOR_SIZE};
use crate::table::instance::{InTables, Tables};
use crate::table::store::ReadCtx;
use crate::table::{
    record_values, with_table, ActionValues, CloneSession, CloneSessionEntry, EntryValues, MatchValues, Port,
    TableError, TableId, CLASSIFY_V4, CLASSIFY_V6, CLONE_REWRITE, NAT_DST_V4, NAT_DST_V6, NAT_SRC_V4, NAT_SRC_V6,
    PORT_COUNT, WIRE,
};

/// The table entry counts (for stats and capacity checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableSizes {
    /// `wire` entries.
    pub wire: usize,
    /// `clone_classify_v4` entries.
    pub classify_v4: usize,
    /// `clone_classify_v6` entries.
    pub classify_v6: usize,
    /// `clone_rewrite` entries.
    pub rewrite: usize,
    /// `nat_src_v4`, `nat_dst_v4` entries.
    pub nat_v4: [usize; 2],
    /// `nat_src_v6`, `nat_dst_v6` entries.
    pub nat_v6: [usize; 2],
    /// Clone sessions.
    pub clone_sessions: usize,
}

fn count<T: InTables>(t: &Tables, table: T) -> usize {
    T::len(table.store(t))
}

impl Pipeline {
    fn read_tables<R>(&self, f: impl FnOnce(&Tables, &ReadCtx<'_>) -> R) -> R {
        let w = self.lock_writer();
        f(self.tables.back(&w.token), &ReadCtx { counters: &self.counters, st: &w.st })
    }

    /// Entry counts of all tables.
    pub fn table_sizes(&self) -> TableSizes {
        self.read_tables(|t, _| TableSizes {
            wire: count(t, WIRE),
            classify_v4: count(t, CLASSIFY_V4),
            classify_v6: count(t, CLASSIFY_V6),
            rewrite: count(t, CLONE_REWRITE),
            nat_v4: [count(t, NAT_SRC_V4), count(t, NAT_DST_V4)],
            nat_v6: [count(t, NAT_SRC_V6), count(t, NAT_DST_V6)],
            clone_sessions: t.members.sessions_len(),
        })
    }

    /// Number of entries of table `t`.
    pub fn entry_count<T: InTables>(&self, t: T) -> usize {
        self.read_tables(|tables, _| count(tables, t))
    }

    /// All entries of table `t`: `wire` and `clone_rewrite` by key, the classify
    /// tables with their direct counters in insertion order, the NAT tables sorted
    /// by key.
    pub fn entries<T: InTables>(&self, t: T) -> Vec<T::Record> {
        self.read_tables(|tables, ctx| t.records(t.store(tables), ctx))
    }

    /// The entry of table `t` with this identity.
    pub fn entry<T: InTables>(&self, t: T, key: &T::Key) -> Option<T::Record> {
        self.read_tables(|tables, ctx| t.record(t.store(tables), ctx, key))
    }

    /// Table `t`'s default action.
    pub fn default_action<T: InTables>(&self, t: T) -> T::Action {
        self.read_tables(|tables, _| T::default_action(t.store(tables)))
    }

    /// Number of entries of a P4Info table (0 for other ids).
    pub fn entry_count_of(&self, id: TableId) -> usize {
        with_table!(id, t => self.entry_count(t), _ => 0)
    }

    /// All entries of a P4Info table as contract values, in [`Pipeline::entries`]
    /// order (empty for other ids).
    pub fn entries_as_values(&self, id: TableId) -> Vec<EntryValues> {
        fn go<T: InTables>(p: &Pipeline, t: T) -> Vec<EntryValues> {
            p.entries(t).into_iter().map(record_values::<T>).collect()
        }
        with_table!(id, t => go(self, t), _ => Vec::new())
    }

    /// The entry of a P4Info table with this identity, as contract values.
    pub fn entry_as_values(&self, id: TableId, key: &MatchValues) -> Option<EntryValues> {
        fn go<T: InTables>(p: &Pipeline, t: T, key: &MatchValues) -> Option<EntryValues> {
            p.entry(t, &T::key_from_values(key)).map(record_values::<T>)
        }
        with_table!(id, t => go(self, t, key), _ => None)
    }

    /// A P4Info table's default action as contract values (`None` for other ids).
    pub fn default_action_values(&self, id: TableId) -> Option<ActionValues> {
        fn go<T: InTables>(p: &Pipeline, t: T) -> ActionValues {
            T::action_values(&p.default_action(t))
        }
        with_table!(id, t => Some(go(self, t)), _ => None)
    }

    /// All clone sessions, by id.
    pub fn clone_sessions(&self) -> Vec<CloneSessionEntry> {
        self.read_tables(|t, _| {
            t.members
                .sessions
                .iter()
                .enumerate()
                .filter_map(|(id, s)| {
                    s.as_ref().map(|s| CloneSessionEntry { session_id: id as u16, session: s.clone() })
                })
                .collect()
        })
    }

    /// One clone session.
    pub fn clone_session(&self, session_id: u16) -> Option<CloneSession> {
        self.read_tables(|t, _| t.members.sessions.get(usize::from(session_id))?.clone())
    }

    /// One cell of a member-indexed counter.
    pub fn counter(&self, c: Counter, index: u32) -> Result<CounterValue, TableError> {
        let i = check_index("counter index", index, COUNTER_SIZE)?;
        Ok(self.counters.read(layout::member(c, i)))
    }

    /// All [`COUNTER_SIZE`] cells of a member-indexed counter.
    pub fn counters(&self, c: Counter) -> Vec<CounterValue> {
        self.counters.read_cells((0..COUNTER_SIZE).map(|m| layout::member(c, m)))
    }

    /// Counters of one port (zero for ports ≥ 512).
    pub fn port_stats(&self, port: Port) -> PortStats {
        if usize::from(port) >= PORT_COUNT {
            return PortStats::default();
        }
        let p = usize::from(port);
        PortStats {
            rx: self.counters.read(layout::PORT_RX + p),
            tx: self.counters.read(layout::PORT_TX + p),
            drop: self.counters.read(layout::PORT_DROP + p),
        }
    }

    /// A backend diagnostic counter of `member`.
    pub fn diag(&self, d: Diag, member: u16) -> u64 {
        self.counters.diag(d, member)
    }

    /// One `rr_cursor` cell.
    pub fn rr_cursor(&self, index: u32) -> Result<u16, TableError> {
        let i = check_index("rr_cursor index", index, RR_CURSOR_SIZE)?;
        Ok(self.rr.get(i).unwrap_or(0))
    }

    /// All [`RR_CURSOR_SIZE`] `rr_cursor` cells.
    pub fn rr_cursors(&self) -> Vec<u16> {
        self.rr.all()
    }

    /// One `sample_cursor` cell.
    pub fn sample_cursor(&self, index: u32) -> Result<u16, TableError> {
        let i = check_index("sample_cursor index", index, RR_CURSOR_SIZE)?;
        Ok(self.sample.get(i).unwrap_or(0))
    }

    /// All `sample_cursor` cells.
    pub fn sample_cursors(&self) -> Vec<u16> {
        self.sample.all()
    }

    /// One `erspan_seq` cell.
    pub fn erspan_seq(&self, index: u32) -> Result<u32, TableError> {
        let i = check_index("erspan_seq index", index, crate::sizes::ERSPAN_SEQ_SIZE)?;
        Ok(self.erspan_seq.get(i).unwrap_or(0))
    }

    /// All `erspan_seq` cells.
    pub fn erspan_seqs(&self) -> Vec<u32> {
        self.erspan_seq.all()
    }
}
