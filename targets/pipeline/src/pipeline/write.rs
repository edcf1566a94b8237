//! The write API: [`Pipeline::write`] batches and their [`WriteBatch`], plus the
//! immediate counter, register and diagnostic writes.

use std::sync::MutexGuard;

use super::{check_index, reset_diags_with, Pipeline, Writer};
use crate::sizes::ERSPAN_SEQ_SIZE;
use crate::state::{
    layout, Counter, CounterStore, CounterValue, Diag, ErspanSeq, PortCounter, RrCursor, COUNTER_SIZE, RR_CURSOR_SIZE,
};
use crate::table::instance::{InTables, Tables, TablesChange};
use crate::table::store::{WriteCtx, WriterState};
use crate::table::{
    check_port, ApplyOp, CloneSessionEntry, EntryOp, Op, Port, SessionOp, TableError, TableId, TableOp,
};

/// Ends a write batch: publish and replay, also when the batch closure panics.
struct Commit<'p> {
    p: &'p Pipeline,
    w: MutexGuard<'p, Writer>,
}

impl Drop for Commit<'_> {
    fn drop(&mut self) {
        let Writer { token, st, log } = &mut *self.w;
        if !log.is_empty() {
            self.p.tables.back_mut(token).finish();
            self.p.tables.publish(token);
            let other = self.p.tables.back_mut(token);
            for change in log.iter() {
                change(other);
            }
            other.finish();
            log.clear();
        }
        st.finish_batch();
    }
}

/// An open write batch (see [`Pipeline::write`]). Every method applies one operation
/// or fails without effect.
pub struct WriteBatch<'a> {
    t: &'a mut Tables,
    st: &'a mut WriterState,
    log: &'a mut Vec<TablesChange>,
    counters: &'a CounterStore,
    rr: &'a RrCursor,
    sample: &'a RrCursor,
    erspan_seq: &'a ErspanSeq,
}

impl WriteBatch<'_> {
    fn push(&mut self, change: TablesChange) {
        change(self.t);
        self.log.push(change);
    }

    /// Applies one [`TableOp`].
    pub fn apply(&mut self, op: TableOp) -> Result<(), TableError> {
        op.apply_to(self)
    }

    /// Applies one write to table `t`.
    pub fn table<T: InTables>(&mut self, t: T, op: EntryOp<T>) -> Result<(), TableError> {
        let mut ctx = WriteCtx { counters: self.counters, st: self.st };
        if let Some(change) = t.write(t.store(self.t), &mut ctx, op)? {
            self.push(Box::new(move |tables: &mut Tables| change(t.store_mut(tables))));
        }
        Ok(())
    }

    /// INSERT into table `t`.
    pub fn insert<T: InTables>(&mut self, t: T, e: T::Entry) -> Result<(), TableError> {
        self.table(t, Op::Insert(e))
    }

    /// MODIFY in table `t` (action and metadata; insertion order and counter kept).
    pub fn modify<T: InTables>(&mut self, t: T, e: T::Entry) -> Result<(), TableError> {
        self.table(t, Op::Modify(e))
    }

    /// DELETE from table `t`.
    pub fn delete<T: InTables>(&mut self, t: T, key: T::Key) -> Result<(), TableError> {
        self.table(t, Op::Delete(key))
    }

    /// MODIFY of table `t`'s default action.
    pub fn set_default<T: InTables>(&mut self, t: T, a: T::Action) -> Result<(), TableError> {
        self.table(t, Op::SetDefault(a))
    }

    /// Sets the direct counter of an entry of table `t` (immediate).
    pub fn set_direct_counter<T: InTables>(&mut self, t: T, key: T::Key, v: CounterValue) -> Result<(), TableError> {
        self.table(t, Op::SetDirectCounter(key, v))
    }

    /// Applies one write to the clone sessions.
    pub fn clone_session(&mut self, op: SessionOp) -> Result<(), TableError> {
        let (id, session) = self.t.members.check_session_op(op)?;
        self.push(Box::new(move |t: &mut Tables| t.members.set_session(id, session.as_ref())));
        Ok(())
    }

    /// INSERT of a clone session.
    pub fn insert_clone_session(&mut self, e: CloneSessionEntry) -> Result<(), TableError> {
        self.clone_session(SessionOp::Insert(e))
    }

    /// MODIFY of a clone session.
    pub fn modify_clone_session(&mut self, e: CloneSessionEntry) -> Result<(), TableError> {
        self.clone_session(SessionOp::Modify(e))
    }

    /// DELETE of a clone session.
    pub fn delete_clone_session(&mut self, session_id: u16) -> Result<(), TableError> {
        self.clone_session(SessionOp::Delete(session_id))
    }

    /// Sets one cell of a member-indexed counter (immediate, not double-buffered).
    /// Zeroing a member's `clones_emitted` cell also zeroes its backend
    /// diagnostics ([`Diag`]), which count failures among those emitted clones.
    pub fn write_counter(&mut self, c: Counter, index: u32, v: CounterValue) -> Result<(), TableError> {
        let i = check_index("counter index", index, COUNTER_SIZE)?;
        self.counters.write(layout::member(c, i), v);
        reset_diags_with(self.counters, c, index, v);
        Ok(())
    }

    /// Sets one `rr_cursor` cell (immediate).
    pub fn write_rr_cursor(&mut self, index: u32, value: u16) -> Result<(), TableError> {
        let i = check_index("rr_cursor index", index, RR_CURSOR_SIZE)?;
        self.rr.set(i, value);
        Ok(())
    }

    /// Sets one `sample_cursor` cell (immediate).
    pub fn write_sample_cursor(&mut self, index: u32, value: u16) -> Result<(), TableError> {
        let i = check_index("sample_cursor index", index, RR_CURSOR_SIZE)?;
        self.sample.set(i, value);
        Ok(())
    }

    /// Sets one `erspan_seq` cell (immediate).
    pub fn write_erspan_seq(&mut self, index: u32, value: u32) -> Result<(), TableError> {
        let i = check_index("erspan_seq index", index, ERSPAN_SEQ_SIZE)?;
        self.erspan_seq.set(i, value);
        Ok(())
    }
}

impl ApplyOp for WriteBatch<'_> {
    fn table<T: InTables>(&mut self, t: T, op: EntryOp<T>) -> Result<(), TableError> {
        WriteBatch::table(self, t, op)
    }
    fn clone_session(&mut self, op: SessionOp) -> Result<(), TableError> {
        WriteBatch::clone_session(self, op)
    }
    fn write_counter(&mut self, c: Counter, index: u32, v: CounterValue) -> Result<(), TableError> {
        WriteBatch::write_counter(self, c, index, v)
    }
    fn write_rr_cursor(&mut self, index: u32, value: u16) -> Result<(), TableError> {
        WriteBatch::write_rr_cursor(self, index, value)
    }
    fn write_erspan_seq(&mut self, index: u32, value: u32) -> Result<(), TableError> {
        WriteBatch::write_erspan_seq(self, index, value)
    }
    fn write_sample_cursor(&mut self, index: u32, value: u16) -> Result<(), TableError> {
        WriteBatch::write_sample_cursor(self, index, value)
    }
}

impl Pipeline {
    /// Runs one write batch. `f` applies operations through the [`WriteBatch`]; each
    /// one succeeds or fails on its own (CONTINUE_ON_ERROR). When `f` returns, or
    /// panics, every successful table operation becomes visible to packets at once.
    /// Batches are serialised with each other and with the read methods: do not call
    /// `write` or a table read method of the same pipeline from inside `f` (it would
    /// deadlock). `process_burst` may run concurrently, on any thread.
    ///
    /// ```
    /// use p4clone_pipeline::{Pipeline, WireEntry, WireAction, WIRE};
    /// let p = Pipeline::new();
    /// p.write(|b| {
    ///     b.insert(WIRE, WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] })?;
    ///     b.insert(WIRE, WireEntry { ingress_port: 2, action: WireAction::Forward(1), metadata: vec![] })
    /// })
    /// .unwrap();
    /// ```
    pub fn write<R>(&self, f: impl FnOnce(&mut WriteBatch<'_>) -> R) -> R {
        let mut commit = Commit { p: self, w: self.lock_writer() };
        let Writer { token, st, log } = &mut *commit.w;
        let mut batch = WriteBatch {
            t: self.tables.back_mut(token),
            st,
            log,
            counters: &self.counters,
            rr: &self.rr,
            sample: &self.sample,
            erspan_seq: &self.erspan_seq,
        };
        f(&mut batch)
    }

    /// Applies `ops` as one atomic batch and returns one result per operation, in
    /// order. A failed operation is skipped (CONTINUE_ON_ERROR).
    pub fn apply<I: IntoIterator<Item = TableOp>>(&self, ops: I) -> Vec<Result<(), TableError>> {
        self.write(|b| ops.into_iter().map(|op| b.apply(op)).collect())
    }

    /// Sets one cell of a member-indexed counter (P4Runtime MODIFY; reset = zero).
    /// Zeroing `clones_emitted` zeroes the member's [`Diag`] counts too.
    pub fn set_counter(&self, c: Counter, index: u32, v: CounterValue) -> Result<(), TableError> {
        let i = check_index("counter index", index, COUNTER_SIZE)?;
        self.counters.write(layout::member(c, i), v);
        reset_diags_with(&self.counters, c, index, v);
        Ok(())
    }

    /// Sets one `erspan_seq` cell.
    pub fn set_erspan_seq(&self, index: u32, value: u32) -> Result<(), TableError> {
        let i = check_index("erspan_seq index", index, ERSPAN_SEQ_SIZE)?;
        self.erspan_seq.set(i, value);
        Ok(())
    }

    /// Sets one `sample_cursor` cell.
    pub fn set_sample_cursor(&self, index: u32, value: u16) -> Result<(), TableError> {
        let i = check_index("sample_cursor index", index, RR_CURSOR_SIZE)?;
        self.sample.set(i, value);
        Ok(())
    }

    /// Sets one `rr_cursor` cell.
    pub fn set_rr_cursor(&self, index: u32, value: u16) -> Result<(), TableError> {
        let i = check_index("rr_cursor index", index, RR_CURSOR_SIZE)?;
        self.rr.set(i, value);
        Ok(())
    }

    /// Adds `n` to a backend diagnostic counter of `member` (ignored out of range).
    pub fn add_diag(&self, d: Diag, member: u16, n: u64) {
        self.counters.add_diag(d, member, n);
    }

    /// Sets a backend diagnostic counter of `member` (e.g. reset).
    pub fn set_diag(&self, d: Diag, member: u16, v: u64) {
        self.counters.set_diag(d, member, v);
    }

    /// Sets one port counter (e.g. reset).
    pub fn set_port_counter(&self, port: Port, c: PortCounter, v: CounterValue) -> Result<(), TableError> {
        check_port(TableId::State, "port", port)?;
        self.counters.write(layout::port(c) + usize::from(port), v);
        Ok(())
    }
}
