//! The program's tables as data: one [`Table`] definition per table, the write
//! operations ([`Op`], [`TableOp`]) and their errors ([`TableError`]).
//!
//! These are plain Rust types with no P4Runtime in them. A table definition carries
//! its P4Info contract ([`Schema`]: names, widths, actions) and converts its keys and
//! actions to and from contract-ordered integers ([`MatchValues`], [`ActionValues`]),
//! so the P4Runtime server needs no per-table code: it translates entities into
//! [`TableOp::from_values`] and reads with `Pipeline::entries_as_values`, and maps
//! [`TableError`] back to status codes (`AlreadyExists` → ALREADY_EXISTS, `NotFound`
//! → NOT_FOUND, `TableFull` → RESOURCE_EXHAUSTED, `OutOfRange`/`NonCanonicalTernary`
//! → INVALID_ARGUMENT).
//!
//! Adding a table means: its P4 and P4Info; one definition file here (a type
//! implementing [`Table`]: entry types, contract, store and write rules); its id
//! ([`TableId`]), its store's place in `instance::Tables`, and its arms in
//! `dispatch` (table id → type, [`TableOp`]); and its packet logic in
//! `pipeline/process.rs`. The P4Runtime server needs no change.
//!
//! Entry identity follows P4Runtime. For the exact tables it is the key. For the
//! ternary `clone_classify_*` tables it is the (masked key, priority) pair: one key
//! may be installed at several priorities, and entries of equal priority with
//! different keys are accepted.
//!
//! **Tie rule.** A higher priority always wins. When two overlapping entries of
//! equal priority both match a packet, the one inserted **earliest** wins. A MODIFY
//! keeps an entry's insertion order. A DELETE followed by a re-INSERT makes it the
//! newest.
//!
//! | file | what |
//! |---|---|
//! | `contract` | [`Table`], [`Schema`], contract values, [`Op`], [`TableError`] |
//! | `dispatch` | table id → table type, [`TableOp`] |
//! | `family` | [`V4`] / [`V6`]: what differs between the `_v4` and `_v6` tables |
//! | `wire`, `classify`, `members`, `encap`, `nat` | the table definitions (`members`: `clone_rewrite` and the clone sessions) |
//! | `store` (private) | how a table is stored and written; the writer's own state |
//! | `member_keyed` (private) | the write rules of the tables keyed by member id alone |
//! | `instance` (private) | one copy of every table (the left-right scheme keeps two) |
//! | `ternary`, `flat`, `fast_hash` (private) | tuple-space search for the classify tables, its prefetchable hash map, their hasher |

mod classify;
mod contract;
mod member_keyed;
#[macro_use]
mod dispatch;
mod encap;
mod family;
pub(crate) mod fast_hash;
pub(crate) mod flat;
pub(crate) mod instance;
mod members;
mod nat;
pub(crate) mod store;
pub(crate) mod ternary;
mod wire;

pub use crate::sizes::*;
pub use classify::{
    ClassifyAction, ClassifyEntry, ClassifyEntryV4, ClassifyEntryV6, ClassifyKey, ClassifyKeyV4, ClassifyKeyV6,
    ClassifyRecord, ClassifyTable, CLASSIFY_V4, CLASSIFY_V6,
};
pub(crate) use contract::{check_port, range_err};
pub use contract::{
    ActionValues, EntryOp, EntryValues, MatchValues, Op, Param, Schema, Table, TableError, TableId, Ternary, ValuesOp,
    MODE_FLOW_HASH, MODE_ROUND_ROBIN, SAMPLE_FLOWS, SAMPLE_ONE_IN,
};
pub use dispatch::TableOp;
pub(crate) use dispatch::{record_values, with_table, ApplyOp};
pub use encap::{EncapAction, EncapEntry, EncapTable, Outer, CLONE_ENCAP};
pub use family::{Family, NatDir, V4, V6};
pub use members::{
    CloneSession, CloneSessionEntry, Replica, RewriteAction, RewriteEntry, RewriteParams, RewriteTable, SessionOp,
    CLONE_REWRITE,
};
pub use nat::{
    NatAction, NatActionV4, NatActionV6, NatEntry, NatEntryV4, NatEntryV6, NatKey, NatKeyV4, NatKeyV6, NatTable,
    NAT_DST_V4, NAT_DST_V6, NAT_SRC_V4, NAT_SRC_V6,
};
pub use wire::{WireAction, WireEntry, WireTable, WIRE};
