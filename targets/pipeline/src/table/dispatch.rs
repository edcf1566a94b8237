//! The one map from table ids to table types ([`with_table!`]), and the write
//! operations of a batch ([`TableOp`]).

use super::classify::{ClassifyTable, CLASSIFY_V4, CLASSIFY_V6};
use super::contract::{EntryOp, EntryValues, Op, Schema, Table, TableError, TableId, ValuesOp};
use super::encap::{EncapTable, CLONE_ENCAP};
use super::family::{NatDir, V4, V6};
use super::instance::InTables;
use super::members::{CloneSessionEntry, RewriteTable, SessionOp, CLONE_REWRITE};
use super::nat::NatTable;
use super::wire::{WireTable, WIRE};
use crate::state::{Counter, CounterValue};

/// Runs `$body` with `$t` bound to the typed [`Table`] of a [`TableId`], or
/// evaluates `$other` for ids that are not P4Info tables. The one place that maps
/// table ids to table types.
macro_rules! with_table {
    ($id:expr, $t:ident => $body:expr, _ => $other:expr) => {
        match $id {
            $crate::table::TableId::Wire => {
                let $t = $crate::table::WIRE;
                $body
            }
            $crate::table::TableId::ClassifyV4 => {
                let $t = $crate::table::CLASSIFY_V4;
                $body
            }
            $crate::table::TableId::ClassifyV6 => {
                let $t = $crate::table::CLASSIFY_V6;
                $body
            }
            $crate::table::TableId::CloneRewrite => {
                let $t = $crate::table::CLONE_REWRITE;
                $body
            }
            $crate::table::TableId::NatSrcV4 => {
                let $t = $crate::table::NAT_SRC_V4;
                $body
            }
            $crate::table::TableId::NatDstV4 => {
                let $t = $crate::table::NAT_DST_V4;
                $body
            }
            $crate::table::TableId::NatSrcV6 => {
                let $t = $crate::table::NAT_SRC_V6;
                $body
            }
            $crate::table::TableId::NatDstV6 => {
                let $t = $crate::table::NAT_DST_V6;
                $body
            }
            $crate::table::TableId::CloneEncap => {
                let $t = $crate::table::CLONE_ENCAP;
                $body
            }
            $crate::table::TableId::CloneSessions | $crate::table::TableId::State => $other,
        }
    };
}
pub(crate) use with_table;

impl TableId {
    /// The P4Info tables, in P4Info order.
    pub const P4_TABLES: [TableId; 9] = [
        TableId::Wire,
        TableId::ClassifyV4,
        TableId::ClassifyV6,
        TableId::CloneRewrite,
        TableId::NatSrcV4,
        TableId::NatDstV4,
        TableId::NatSrcV6,
        TableId::NatDstV6,
        TableId::CloneEncap,
    ];

    /// The P4Info name (or a descriptive name for non-P4Info objects).
    pub fn name(self) -> &'static str {
        match self {
            TableId::CloneSessions => "clone sessions",
            TableId::State => "counters/registers",
            id => id.schema().map_or("", |s| s.name),
        }
    }

    /// The P4Info contract of a P4Info table (`None` for sessions and state).
    pub fn schema(self) -> Option<&'static Schema> {
        with_table!(self, t => Some(t.schema()), _ => None)
    }
}

/// One write operation of a batch ([`crate::Pipeline::apply`]).
///
/// Table and clone-session operations become visible atomically with the rest of
/// their batch. Counter and register writes take effect at once, in their place in
/// the batch. They are not double-buffered state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableOp {
    /// A write to `wire`.
    Wire(EntryOp<WireTable>),
    /// A write to `clone_classify_v4`.
    ClassifyV4(EntryOp<ClassifyTable<V4>>),
    /// A write to `clone_classify_v6`.
    ClassifyV6(EntryOp<ClassifyTable<V6>>),
    /// A write to `clone_rewrite`.
    CloneRewrite(EntryOp<RewriteTable>),
    /// A write to `clone_encap`.
    CloneEncap(EntryOp<EncapTable>),
    /// A write to `nat_src_v4` / `nat_dst_v4`.
    NatV4(NatDir, EntryOp<NatTable<V4>>),
    /// A write to `nat_src_v6` / `nat_dst_v6`.
    NatV6(NatDir, EntryOp<NatTable<V6>>),
    /// A write to the clone sessions.
    CloneSession(SessionOp),
    /// MODIFY of one cell of an indirect counter (set, e.g. reset to zero).
    WriteCounter {
        /// Counter.
        counter: Counter,
        /// Index (member id).
        index: u32,
        /// New value.
        value: CounterValue,
    },
    /// MODIFY of one `rr_cursor` register cell.
    WriteRrCursor {
        /// Index (first member id).
        index: u32,
        /// New value.
        value: u16,
    },
    /// MODIFY of one `sample_cursor` register cell.
    WriteSampleCursor {
        /// Index (first member id).
        index: u32,
        /// New value.
        value: u16,
    },
    /// MODIFY of one `erspan_seq` register cell.
    WriteErspanSeq {
        /// Index (member id).
        index: u32,
        /// New value.
        value: u32,
    },
}

/// What a [`TableOp`] is applied to (the pipeline's write batch): one method per
/// kind of write.
pub(crate) trait ApplyOp {
    /// A write to table `t`.
    fn table<T: InTables>(&mut self, t: T, op: EntryOp<T>) -> Result<(), TableError>;
    /// A write to the clone sessions.
    fn clone_session(&mut self, op: SessionOp) -> Result<(), TableError>;
    /// A counter cell write.
    fn write_counter(&mut self, c: Counter, index: u32, v: CounterValue) -> Result<(), TableError>;
    /// An `rr_cursor` cell write.
    fn write_rr_cursor(&mut self, index: u32, value: u16) -> Result<(), TableError>;
    /// An `erspan_seq` cell write.
    fn write_erspan_seq(&mut self, index: u32, value: u32) -> Result<(), TableError>;
    /// A `sample_cursor` cell write.
    fn write_sample_cursor(&mut self, index: u32, value: u16) -> Result<(), TableError>;
}

impl TableOp {
    /// Hands the operation, typed, to `a`.
    pub(crate) fn apply_to(self, a: &mut impl ApplyOp) -> Result<(), TableError> {
        match self {
            TableOp::Wire(op) => a.table(WIRE, op),
            TableOp::ClassifyV4(op) => a.table(CLASSIFY_V4, op),
            TableOp::ClassifyV6(op) => a.table(CLASSIFY_V6, op),
            TableOp::CloneRewrite(op) => a.table(CLONE_REWRITE, op),
            TableOp::CloneEncap(op) => a.table(CLONE_ENCAP, op),
            TableOp::NatV4(dir, op) => a.table(NatTable { family: V4, dir }, op),
            TableOp::NatV6(dir, op) => a.table(NatTable { family: V6, dir }, op),
            TableOp::CloneSession(op) => a.clone_session(op),
            TableOp::WriteCounter { counter, index, value } => a.write_counter(counter, index, value),
            TableOp::WriteRrCursor { index, value } => a.write_rr_cursor(index, value),
            TableOp::WriteErspanSeq { index, value } => a.write_erspan_seq(index, value),
            TableOp::WriteSampleCursor { index, value } => a.write_sample_cursor(index, value),
        }
    }

    /// A typed write to table `t`.
    pub fn new<T: Table>(t: T, op: EntryOp<T>) -> Self
    where
        (T, EntryOp<T>): Into<TableOp>,
    {
        (t, op).into()
    }

    /// INSERT into table `t`.
    pub fn insert<T: Table>(t: T, e: T::Entry) -> Self
    where
        (T, EntryOp<T>): Into<TableOp>,
    {
        Self::new(t, Op::Insert(e))
    }

    /// MODIFY in table `t`.
    pub fn modify<T: Table>(t: T, e: T::Entry) -> Self
    where
        (T, EntryOp<T>): Into<TableOp>,
    {
        Self::new(t, Op::Modify(e))
    }

    /// DELETE from table `t`.
    pub fn delete<T: Table>(t: T, key: T::Key) -> Self
    where
        (T, EntryOp<T>): Into<TableOp>,
    {
        Self::new(t, Op::Delete(key))
    }

    /// MODIFY of table `t`'s default action.
    pub fn set_default<T: Table>(t: T, a: T::Action) -> Self
    where
        (T, EntryOp<T>): Into<TableOp>,
    {
        Self::new(t, Op::SetDefault(a))
    }

    /// MODIFY of the direct counter of an entry of table `t`.
    pub fn set_direct_counter<T: Table>(t: T, key: T::Key, v: CounterValue) -> Self
    where
        (T, EntryOp<T>): Into<TableOp>,
    {
        Self::new(t, Op::SetDirectCounter(key, v))
    }

    /// INSERT of a clone session.
    pub fn insert_clone_session(e: CloneSessionEntry) -> Self {
        TableOp::CloneSession(SessionOp::Insert(e))
    }

    /// MODIFY of a clone session.
    pub fn modify_clone_session(e: CloneSessionEntry) -> Self {
        TableOp::CloneSession(SessionOp::Modify(e))
    }

    /// DELETE of a clone session.
    pub fn delete_clone_session(session_id: u16) -> Self {
        TableOp::CloneSession(SessionOp::Delete(session_id))
    }

    /// A write given as contract values to the P4Info table `table` (`None` for
    /// sessions and state). Values must fit their fields' widths.
    pub fn from_values(table: TableId, op: ValuesOp) -> Option<Self> {
        with_table!(table, t => Some(TableOp::new(t, typed_op(t, op))), _ => None)
    }
}

fn typed_op<T: Table>(_: T, op: ValuesOp) -> EntryOp<T> {
    let entry = |e: EntryValues| T::entry(T::key_from_values(&e.key), T::action_from_values(&e.action), e.metadata);
    match op {
        Op::Insert(e) => Op::Insert(entry(e)),
        Op::Modify(e) => Op::Modify(entry(e)),
        Op::Delete(k) => Op::Delete(T::key_from_values(&k)),
        Op::SetDefault(a) => Op::SetDefault(T::action_from_values(&a)),
        Op::SetDirectCounter(k, v) => Op::SetDirectCounter(T::key_from_values(&k), v),
    }
}

/// A read-back record as contract values.
pub(crate) fn record_values<T: Table>(r: T::Record) -> EntryValues {
    let (entry, counter) = T::record_parts(r);
    let (key, action, metadata) = T::entry_parts(entry);
    EntryValues { key: T::key_values(&key), action: T::action_values(&action), metadata, counter }
}

macro_rules! table_op_from {
    ($($ty:ty => |$t:ident, $op:ident| $e:expr;)*) => {$(
        impl From<($ty, EntryOp<$ty>)> for TableOp {
            fn from(($t, $op): ($ty, EntryOp<$ty>)) -> Self {
                $e
            }
        }
    )*};
}

table_op_from! {
    WireTable => |_t, op| TableOp::Wire(op);
    ClassifyTable<V4> => |_t, op| TableOp::ClassifyV4(op);
    ClassifyTable<V6> => |_t, op| TableOp::ClassifyV6(op);
    RewriteTable => |_t, op| TableOp::CloneRewrite(op);
    EncapTable => |_t, op| TableOp::CloneEncap(op);
    NatTable<V4> => |t, op| TableOp::NatV4(t.dir, op);
    NatTable<V6> => |t, op| TableOp::NatV6(t.dir, op);
}
