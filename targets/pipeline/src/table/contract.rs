//! What every table shares: the [`Table`] trait, its contract ([`Schema`]) and
//! contract values, write operations ([`Op`]) and errors ([`TableError`]).

use std::fmt;

use thiserror::Error;

use crate::sizes::{Port, PORT_COUNT};
use crate::state::CounterValue;

/// `classify_hit` mode: round robin (also any value other than 1).
pub const MODE_ROUND_ROBIN: u8 = 0;
/// `classify_hit` mode: symmetric flow hash.
pub const MODE_FLOW_HASH: u8 = 1;
/// `classify_hit_sampled` sample mode: flows whose sampling bucket is below `sample_arg`.
pub const SAMPLE_FLOWS: u8 = 1;
/// `classify_hit_sampled` sample mode: the first packet of every `sample_arg`.
pub const SAMPLE_ONE_IN: u8 = 2;

/// A ternary match field: value and mask. P4Runtime requires `value & !mask == 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ternary<T> {
    /// Value (bits outside the mask must be zero).
    pub value: T,
    /// Mask (1 = compared).
    pub mask: T,
}

macro_rules! ternary_impl {
    ($($t:ty),*) => {$(
        impl Ternary<$t> {
            /// Matches exactly `value`.
            pub fn exact(value: $t) -> Self {
                Self { value, mask: <$t>::MAX }
            }
            /// Matches anything (the field is omitted in P4Runtime).
            pub fn any() -> Self {
                Self { value: 0, mask: 0 }
            }
            /// Whether `v` matches.
            pub fn matches(&self, v: $t) -> bool {
                v & self.mask == self.value
            }
        }
    )*};
}
ternary_impl!(u8, u16, u32, u128);

impl<T: Copy + Into<u128>> Ternary<T> {
    /// No value bit outside the mask (P4Runtime's canonical form).
    pub(crate) fn canonical(&self) -> bool {
        self.value.into() & !self.mask.into() == 0
    }

    /// (value, mask) as contract values.
    pub(crate) fn values(&self) -> (u128, u128) {
        (self.value.into(), self.mask.into())
    }
}

impl<T: TryFrom<u128> + Default> Ternary<T> {
    /// From (value, mask) contract values (widths checked by the caller).
    pub(crate) fn from_values(v: (u128, u128)) -> Self {
        Ternary { value: from_value(v.0), mask: from_value(v.1) }
    }
}

/// A contract value narrowed to its field type (widths are checked by the caller).
pub(crate) fn from_value<T: TryFrom<u128> + Default>(v: u128) -> T {
    T::try_from(v).unwrap_or_default()
}

/// An exact field as a contract (value, mask) pair.
pub(crate) fn exact_value<T: Into<u128>>(v: T) -> (u128, u128) {
    (v.into(), u128::MAX)
}

/// The tables (for errors and reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableId {
    /// `wire`.
    Wire,
    /// `clone_classify_v4`.
    ClassifyV4,
    /// `clone_classify_v6`.
    ClassifyV6,
    /// `clone_rewrite`.
    CloneRewrite,
    /// `nat_src_v4`.
    NatSrcV4,
    /// `nat_dst_v4`.
    NatDstV4,
    /// `nat_src_v6`.
    NatSrcV6,
    /// `nat_dst_v6`.
    NatDstV6,
    /// `clone_encap`.
    CloneEncap,
    /// The clone sessions of the replication engine.
    CloneSessions,
    /// Counters and registers (for index errors).
    State,
}

/// A match field or action parameter of the contract: (name, bit width).
pub type Param = (&'static str, u32);

/// A table's P4Info contract (`docs/dataplane.md`, "Tables"): every name and
/// width, in contract order. The P4Runtime server binds P4Info ids by these names.
#[derive(Debug, PartialEq, Eq)]
pub struct Schema {
    /// P4Info table name.
    pub name: &'static str,
    /// Ternary match fields (with priorities); otherwise exact.
    pub ternary: bool,
    /// Match fields.
    pub fields: &'static [Param],
    /// Actions with their parameters.
    pub actions: &'static [(&'static str, &'static [Param])],
    /// Index in `actions` of the program's default action.
    pub default_action: usize,
    /// A direct counter is attached.
    pub direct_counter: bool,
}

/// An entry's identity as contract values: one (value, mask) per match field in
/// contract order (exact fields: mask all ones), and the priority (0 for exact tables).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MatchValues {
    /// (value, mask) per field.
    pub fields: Vec<(u128, u128)>,
    /// Priority.
    pub priority: i32,
}

/// An action as contract values: its index in [`Schema::actions`] and its
/// parameters in contract order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionValues {
    /// Index in [`Schema::actions`].
    pub index: usize,
    /// Parameter values.
    pub params: Vec<u128>,
}

/// An entry as contract values, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryValues {
    /// Identity.
    pub key: MatchValues,
    /// Action.
    pub action: ActionValues,
    /// Opaque `TableEntry.metadata`.
    pub metadata: Vec<u8>,
    /// Direct counter (tables with one).
    pub counter: Option<CounterValue>,
}

/// One write to a table: what P4Runtime can do to a table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op<K, E, A> {
    /// INSERT of an entry.
    Insert(E),
    /// MODIFY of an entry (action and metadata; insertion order and counter kept).
    Modify(E),
    /// DELETE of the entry with this identity.
    Delete(K),
    /// MODIFY of the default action.
    SetDefault(A),
    /// MODIFY of an entry's direct counter (tables with one).
    SetDirectCounter(K, CounterValue),
}

/// A typed write to table `T`.
pub type EntryOp<T> = Op<<T as Table>::Key, <T as Table>::Entry, <T as Table>::Action>;
/// A write as contract values (see `TableOp::from_values`).
pub type ValuesOp = Op<MatchValues, EntryValues, ActionValues>;

/// One table of the program: its key, action and entry types and its contract.
/// Implemented by `WireTable`, `ClassifyTable<F>`, `RewriteTable` and
/// `NatTable<F>`; the constants `WIRE`, `CLASSIFY_V4`, ... name the tables.
pub trait Table: Copy + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// An entry's identity (for ternary tables: key and priority).
    type Key: Clone + PartialEq + fmt::Debug;
    /// An action.
    type Action: Copy + PartialEq + fmt::Debug;
    /// An entry.
    type Entry: Clone + PartialEq + fmt::Debug;
    /// An entry as read back (tables with a direct counter: with it).
    type Record: Clone + PartialEq + fmt::Debug;

    /// The table's id.
    fn id(self) -> TableId;
    /// The table's P4Info contract.
    fn schema(self) -> &'static Schema;
    /// An entry from its parts.
    fn entry(key: Self::Key, action: Self::Action, metadata: Vec<u8>) -> Self::Entry;
    /// An entry's parts.
    fn entry_parts(e: Self::Entry) -> (Self::Key, Self::Action, Vec<u8>);
    /// A read-back record's entry and direct counter.
    fn record_parts(r: Self::Record) -> (Self::Entry, Option<CounterValue>);

    /// A key from contract values.
    fn key_from_values(v: &MatchValues) -> Self::Key;
    /// A key as contract values.
    fn key_values(k: &Self::Key) -> MatchValues;
    /// An action from contract values.
    fn action_from_values(v: &ActionValues) -> Self::Action;
    /// An action as contract values.
    fn action_values(a: &Self::Action) -> ActionValues;
}

/// Why one write operation failed. A failed operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TableError {
    /// INSERT of an entry whose identity is already installed.
    #[error("{table}: entry already exists")]
    AlreadyExists {
        /// Table.
        table: TableId,
    },
    /// MODIFY/DELETE (or a direct counter access) of an entry that is not installed.
    #[error("{table}: entry not found")]
    NotFound {
        /// Table.
        table: TableId,
    },
    /// INSERT into a full table.
    #[error("{table}: table full ({capacity} entries)")]
    TableFull {
        /// Table.
        table: TableId,
        /// Its size.
        capacity: usize,
    },
    /// A key, parameter or index is out of its range.
    #[error("{table}: {field} = {value} out of range (max {max})")]
    OutOfRange {
        /// Table (or [`TableId::State`]).
        table: TableId,
        /// Field, parameter or object name.
        field: &'static str,
        /// The value given.
        value: u128,
        /// The largest allowed value.
        max: u128,
    },
    /// A ternary field has value bits outside its mask.
    #[error("{table}: ternary field {field} has value bits outside its mask")]
    NonCanonicalTernary {
        /// Table.
        table: TableId,
        /// Field.
        field: &'static str,
    },
}

pub(crate) fn range_err(table: TableId, field: &'static str, value: u128, max: u128) -> TableError {
    TableError::OutOfRange { table, field, value, max }
}

pub(crate) fn check_port(table: TableId, field: &'static str, p: Port) -> Result<(), TableError> {
    if usize::from(p) >= PORT_COUNT {
        return Err(range_err(table, field, p.into(), (PORT_COUNT - 1) as u128));
    }
    Ok(())
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
