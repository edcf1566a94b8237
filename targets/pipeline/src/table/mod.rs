//! Typed tables of the contract, their entries, actions, write operations and errors.
//!
//! These are plain Rust types with no P4Runtime in them. The P4Runtime server
//! translates `TableEntry`/`CloneSessionEntry`/... into [`TableOp`]s and maps
//! [`TableError`] back to status codes (`AlreadyExists` → ALREADY_EXISTS, `NotFound` →
//! NOT_FOUND, `TableFull` → RESOURCE_EXHAUSTED, `OutOfRange`/`NonCanonicalTernary` →
//! INVALID_ARGUMENT).
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
//! Crate-private sub-modules: `ternary` (the tuple-space search behind the classify
//! tables), `flat` (its prefetchable hash map) and `instance` (one copy of every
//! table, as the left-right scheme keeps two).

pub(crate) mod fast_hash;
pub(crate) mod flat;
pub(crate) mod instance;
pub(crate) mod ternary;

use std::fmt;

use thiserror::Error;

use crate::state::{Counter, CounterValue};

pub use crate::sizes::*;

/// `classify_hit` mode: round robin (also any value other than 1).
pub const MODE_ROUND_ROBIN: u8 = 0;
/// `classify_hit` mode: symmetric flow hash.
pub const MODE_FLOW_HASH: u8 = 1;

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
            fn canonical(&self) -> bool {
                self.value & !self.mask == 0
            }
        }
    )*};
}
ternary_impl!(u8, u16, u32, u128);

/// Key of `clone_classify_v4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClassifyKeyV4 {
    /// `src_addr` (ternary 32).
    pub src_addr: Ternary<u32>,
    /// `dst_addr` (ternary 32).
    pub dst_addr: Ternary<u32>,
    /// `protocol` (ternary 8).
    pub protocol: Ternary<u8>,
    /// `l4_src_port` (ternary 16).
    pub l4_src_port: Ternary<u16>,
    /// `l4_dst_port` (ternary 16).
    pub l4_dst_port: Ternary<u16>,
}

/// Key of `clone_classify_v6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClassifyKeyV6 {
    /// `src_addr` (ternary 128).
    pub src_addr: Ternary<u128>,
    /// `dst_addr` (ternary 128).
    pub dst_addr: Ternary<u128>,
    /// `next_header` (ternary 8).
    pub next_header: Ternary<u8>,
    /// `l4_src_port` (ternary 16).
    pub l4_src_port: Ternary<u16>,
    /// `l4_dst_port` (ternary 16).
    pub l4_dst_port: Ternary<u16>,
}

/// Action of the classify tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassifyAction {
    /// `classify_hit(first_member, member_count, mode)`.
    Hit {
        /// First member id of the profile block.
        first_member: u16,
        /// Number of members (0 = no clone).
        member_count: u16,
        /// [`MODE_ROUND_ROBIN`] or [`MODE_FLOW_HASH`] (other values: round robin).
        mode: u8,
    },
    /// `classify_miss`: nothing.
    Miss,
}

/// An entry of a classify table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyEntry<K> {
    /// Match key.
    pub key: K,
    /// Priority (higher wins).
    pub priority: i32,
    /// Action.
    pub action: ClassifyAction,
    /// Opaque P4Runtime `TableEntry.metadata`, stored and read back.
    pub metadata: Vec<u8>,
}
/// Entry of `clone_classify_v4`.
pub type ClassifyEntryV4 = ClassifyEntry<ClassifyKeyV4>;
/// Entry of `clone_classify_v6`.
pub type ClassifyEntryV6 = ClassifyEntry<ClassifyKeyV6>;

/// A classify entry as read back, with its direct counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyRecord<K> {
    /// The entry.
    pub entry: ClassifyEntry<K>,
    /// Its direct counter (`classify_v4_hits` / `classify_v6_hits`).
    pub counter: CounterValue,
}

/// Action of `wire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireAction {
    /// `wire_forward(port)`.
    Forward(Port),
    /// `wire_drop`.
    Drop,
}

/// An entry of `wire`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEntry {
    /// Key: `ingress_port`.
    pub ingress_port: Port,
    /// Action.
    pub action: WireAction,
    /// Opaque `TableEntry.metadata`.
    pub metadata: Vec<u8>,
}

/// Parameters of `clone_rewrite_set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RewriteParams {
    /// New destination MAC (the clone server's).
    pub dst_mac: [u8; 6],
    /// New source MAC (the SE interface's).
    pub src_mac: [u8; 6],
    /// 0 = leave untagged, 1..=4095 = leave with that VID.
    pub vlan_id: u16,
    /// 0 = whole frame, otherwise cut to this many bytes (counting a pushed tag).
    pub truncate_len: u16,
    /// Look the clone up in the `nat_*` tables.
    pub nat_restore: bool,
}

/// Action of `clone_rewrite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RewriteAction {
    /// `clone_rewrite_set(...)`.
    Set(RewriteParams),
    /// `clone_rewrite_miss`: `mark_to_drop`.
    Miss,
}

/// An entry of `clone_rewrite`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteEntry {
    /// Key: `member` (`egress_rid`).
    pub member: u16,
    /// Action.
    pub action: RewriteAction,
    /// Opaque `TableEntry.metadata`.
    pub metadata: Vec<u8>,
}

/// Which NAT table of a family: `nat_src_*` or `nat_dst_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatDir {
    /// `nat_src_v4` / `nat_src_v6`: keyed on the source address and port.
    Src,
    /// `nat_dst_v4` / `nat_dst_v6`: keyed on the destination address and port.
    Dst,
}

impl NatDir {
    pub(crate) fn idx(self) -> usize {
        match self {
            NatDir::Src => 0,
            NatDir::Dst => 1,
        }
    }
}

/// Key of `nat_src_v4` / `nat_dst_v4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatKeyV4 {
    /// `addr` (exact 32).
    pub addr: u32,
    /// `port` (exact 16).
    pub port: u16,
    /// `protocol` (exact 8).
    pub protocol: u8,
}

impl std::hash::Hash for NatKeyV4 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.addr) << 24) | (u64::from(self.port) << 8) | u64::from(self.protocol));
    }
}

/// Key of `nat_src_v6` / `nat_dst_v6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatKeyV6 {
    /// `addr` (exact 128).
    pub addr: u128,
    /// `port` (exact 16).
    pub port: u16,
    /// `next_header` (exact 8).
    pub next_header: u8,
}

impl std::hash::Hash for NatKeyV6 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.addr);
        state.write_u32((u32::from(self.port) << 8) | u32::from(self.next_header));
    }
}

/// Action of the NAT tables (`nat_set_v4`/`nat_set_v6` or `nat_miss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatAction<A> {
    /// `nat_set_*(client_addr, client_port)`.
    Set {
        /// The client's address.
        client_addr: A,
        /// The client's port.
        client_port: u16,
    },
    /// `nat_miss`: nothing.
    Miss,
}
/// Action of the IPv4 NAT tables.
pub type NatActionV4 = NatAction<u32>;
/// Action of the IPv6 NAT tables.
pub type NatActionV6 = NatAction<u128>;

/// An entry of a NAT table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatEntry<K, A> {
    /// Key.
    pub key: K,
    /// Action.
    pub action: NatAction<A>,
    /// Opaque `TableEntry.metadata`.
    pub metadata: Vec<u8>,
}
/// Entry of `nat_src_v4` / `nat_dst_v4`.
pub type NatEntryV4 = NatEntry<NatKeyV4, u32>;
/// Entry of `nat_src_v6` / `nat_dst_v6`.
pub type NatEntryV6 = NatEntry<NatKeyV6, u128>;

/// One replica of a clone session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Replica {
    /// Port the copy leaves on.
    pub egress_port: Port,
    /// `instance`, seen in egress as `egress_rid` (the `clone_rewrite` key).
    pub instance: u16,
}

/// A clone session (packet replication engine, not in the P4Info).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CloneSession {
    /// Replicas, emitted in this order.
    pub replicas: Vec<Replica>,
    /// 0 = whole clone, otherwise the emitted clone is cut to at most this many bytes
    /// after the egress rewrite (BMv2 refuses non-zero, the software target honours it).
    pub packet_length_bytes: u32,
}

/// A clone session with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneSessionEntry {
    /// Session id, 0..=[`MAX_SESSION_ID`].
    pub session_id: u16,
    /// The session.
    pub session: CloneSession,
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
    /// The clone sessions of the replication engine.
    CloneSessions,
    /// Counters and registers (for index errors).
    State,
}

impl TableId {
    /// The P4Info name (or a descriptive name for non-P4Info objects).
    pub fn name(self) -> &'static str {
        match self {
            TableId::Wire => "wire",
            TableId::ClassifyV4 => "clone_classify_v4",
            TableId::ClassifyV6 => "clone_classify_v6",
            TableId::CloneRewrite => "clone_rewrite",
            TableId::NatSrcV4 => "nat_src_v4",
            TableId::NatDstV4 => "nat_dst_v4",
            TableId::NatSrcV6 => "nat_src_v6",
            TableId::NatDstV6 => "nat_dst_v6",
            TableId::CloneSessions => "clone sessions",
            TableId::State => "counters/registers",
        }
    }

    pub(crate) fn nat_v4(dir: NatDir) -> Self {
        match dir {
            NatDir::Src => TableId::NatSrcV4,
            NatDir::Dst => TableId::NatDstV4,
        }
    }

    pub(crate) fn nat_v6(dir: NatDir) -> Self {
        match dir {
            NatDir::Src => TableId::NatSrcV6,
            NatDir::Dst => TableId::NatDstV6,
        }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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

/// One write operation of a batch ([`crate::Pipeline::apply`]).
///
/// Table and clone-session operations become visible atomically with the rest of
/// their batch. Counter and register writes take effect at once, in their place in
/// the batch. They are not double-buffered state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableOp {
    /// INSERT into `wire`.
    InsertWire(WireEntry),
    /// MODIFY in `wire`.
    ModifyWire(WireEntry),
    /// DELETE from `wire`.
    DeleteWire {
        /// Key.
        ingress_port: Port,
    },
    /// MODIFY of `wire`'s default action.
    SetWireDefault(WireAction),
    /// INSERT into `clone_classify_v4`.
    InsertClassifyV4(ClassifyEntryV4),
    /// MODIFY in `clone_classify_v4` (action and metadata).
    ModifyClassifyV4(ClassifyEntryV4),
    /// DELETE from `clone_classify_v4`.
    DeleteClassifyV4 {
        /// Key.
        key: ClassifyKeyV4,
        /// Priority.
        priority: i32,
    },
    /// MODIFY of `clone_classify_v4`'s default action.
    SetClassifyV4Default(ClassifyAction),
    /// INSERT into `clone_classify_v6`.
    InsertClassifyV6(ClassifyEntryV6),
    /// MODIFY in `clone_classify_v6`.
    ModifyClassifyV6(ClassifyEntryV6),
    /// DELETE from `clone_classify_v6`.
    DeleteClassifyV6 {
        /// Key.
        key: ClassifyKeyV6,
        /// Priority.
        priority: i32,
    },
    /// MODIFY of `clone_classify_v6`'s default action.
    SetClassifyV6Default(ClassifyAction),
    /// INSERT into `clone_rewrite`.
    InsertRewrite(RewriteEntry),
    /// MODIFY in `clone_rewrite`.
    ModifyRewrite(RewriteEntry),
    /// DELETE from `clone_rewrite`.
    DeleteRewrite {
        /// Key.
        member: u16,
    },
    /// MODIFY of `clone_rewrite`'s default action.
    SetRewriteDefault(RewriteAction),
    /// INSERT into `nat_src_v4`/`nat_dst_v4`.
    InsertNatV4(NatDir, NatEntryV4),
    /// MODIFY in `nat_src_v4`/`nat_dst_v4`.
    ModifyNatV4(NatDir, NatEntryV4),
    /// DELETE from `nat_src_v4`/`nat_dst_v4`.
    DeleteNatV4(NatDir, NatKeyV4),
    /// MODIFY of a v4 NAT table's default action.
    SetNatV4Default(NatDir, NatActionV4),
    /// INSERT into `nat_src_v6`/`nat_dst_v6`.
    InsertNatV6(NatDir, NatEntryV6),
    /// MODIFY in `nat_src_v6`/`nat_dst_v6`.
    ModifyNatV6(NatDir, NatEntryV6),
    /// DELETE from `nat_src_v6`/`nat_dst_v6`.
    DeleteNatV6(NatDir, NatKeyV6),
    /// MODIFY of a v6 NAT table's default action.
    SetNatV6Default(NatDir, NatActionV6),
    /// INSERT of a clone session.
    InsertCloneSession(CloneSessionEntry),
    /// MODIFY of a clone session.
    ModifyCloneSession(CloneSessionEntry),
    /// DELETE of a clone session.
    DeleteCloneSession {
        /// Session id.
        session_id: u16,
    },
    /// MODIFY of one cell of an indirect counter (set, e.g. reset to zero).
    WriteCounter {
        /// Counter.
        counter: Counter,
        /// Index (member id).
        index: u32,
        /// New value.
        value: CounterValue,
    },
    /// MODIFY of a `clone_classify_v4` entry's direct counter.
    WriteClassifyV4Counter {
        /// Entry key.
        key: ClassifyKeyV4,
        /// Entry priority.
        priority: i32,
        /// New value.
        value: CounterValue,
    },
    /// MODIFY of a `clone_classify_v6` entry's direct counter.
    WriteClassifyV6Counter {
        /// Entry key.
        key: ClassifyKeyV6,
        /// Entry priority.
        priority: i32,
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
}

pub(crate) fn check_ternary_v4(k: &ClassifyKeyV4) -> Result<(), TableError> {
    let t = TableId::ClassifyV4;
    let bad = |field| Err(TableError::NonCanonicalTernary { table: t, field });
    if !k.src_addr.canonical() {
        return bad("src_addr");
    }
    if !k.dst_addr.canonical() {
        return bad("dst_addr");
    }
    if !k.protocol.canonical() {
        return bad("protocol");
    }
    if !k.l4_src_port.canonical() {
        return bad("l4_src_port");
    }
    if !k.l4_dst_port.canonical() {
        return bad("l4_dst_port");
    }
    Ok(())
}

pub(crate) fn check_ternary_v6(k: &ClassifyKeyV6) -> Result<(), TableError> {
    let t = TableId::ClassifyV6;
    let bad = |field| Err(TableError::NonCanonicalTernary { table: t, field });
    if !k.src_addr.canonical() {
        return bad("src_addr");
    }
    if !k.dst_addr.canonical() {
        return bad("dst_addr");
    }
    if !k.next_header.canonical() {
        return bad("next_header");
    }
    if !k.l4_src_port.canonical() {
        return bad("l4_src_port");
    }
    if !k.l4_dst_port.canonical() {
        return bad("l4_dst_port");
    }
    Ok(())
}
