//! `clone_encap`: encapsulated delivery of a clone, keyed by `egress_rid` (the
//! member id). A hit wraps the clone, unchanged, in outer Ethernet + IPv4 + a tunnel
//! header (VXLAN, GRE or ERSPAN type II); the default leaves it a plain clone.

use super::contract::{
    exact_value, from_value, range_err, ActionValues, EntryOp, MatchValues, Schema, Table, TableError, TableId,
};
use super::member_keyed::{self, MemberKeyed};
use super::store::{Change, ReadCtx, Stored, WriteCtx};
use crate::sizes::ENCAP_SIZE;
use crate::state::CounterValue;

/// Number of `clone_encap` keys (`bit<16>`).
const ENCAP_KEYS: usize = 65_536;

/// The outer IPv4 addresses and MTU every encapsulation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Outer {
    /// Outer source address (the SE interface's).
    pub src_addr: [u8; 4],
    /// Outer destination address (the remote collector's).
    pub dst_addr: [u8; 4],
    /// The network's MTU: the outer IPv4 packet is cut to fit it.
    pub mtu: u16,
}

/// Action of `clone_encap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncapAction {
    /// `clone_encap_vxlan_v4(src_addr, dst_addr, vni, mtu)`.
    Vxlan {
        /// Addresses and MTU.
        outer: Outer,
        /// VXLAN network identifier (24 bits).
        vni: u32,
    },
    /// `clone_encap_gre_v4(src_addr, dst_addr, key, key_present, mtu)`.
    Gre {
        /// Addresses and MTU.
        outer: Outer,
        /// GRE key, sent when `key_present`.
        key: u32,
        /// Whether the GRE header carries the key.
        key_present: bool,
    },
    /// `clone_encap_erspan_v4(src_addr, dst_addr, session_id, mtu)`.
    Erspan {
        /// Addresses and MTU.
        outer: Outer,
        /// ERSPAN session id (10 bits).
        session_id: u16,
    },
    /// `clone_encap_none`: a plain clone.
    None,
}

impl EncapAction {
    /// The MTU of an encapsulation (0 for [`EncapAction::None`]).
    pub fn mtu(&self) -> u16 {
        match self {
            EncapAction::Vxlan { outer, .. } | EncapAction::Gre { outer, .. } | EncapAction::Erspan { outer, .. } => {
                outer.mtu
            }
            EncapAction::None => 0,
        }
    }
}

/// An entry of `clone_encap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncapEntry {
    /// Key: `member` (`egress_rid`).
    pub member: u16,
    /// Action.
    pub action: EncapAction,
    /// Opaque `TableEntry.metadata`.
    pub metadata: Vec<u8>,
}

/// The `clone_encap` table (see [`CLONE_ENCAP`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EncapTable;

/// `clone_encap`.
pub const CLONE_ENCAP: EncapTable = EncapTable;

static SCHEMA: Schema = Schema {
    name: "clone_encap",
    ternary: false,
    fields: &[("member", 16)],
    actions: &[
        ("clone_encap_vxlan_v4", &[("src_addr", 32), ("dst_addr", 32), ("vni", 24), ("mtu", 16)]),
        ("clone_encap_gre_v4", &[("src_addr", 32), ("dst_addr", 32), ("key", 32), ("key_present", 1), ("mtu", 16)]),
        ("clone_encap_erspan_v4", &[("src_addr", 32), ("dst_addr", 32), ("session_id", 10), ("mtu", 16)]),
        ("clone_encap_none", &[]),
    ],
    default_action: 3,
    direct_counter: false,
};

/// One copy of `clone_encap`.
pub struct EncapStore {
    /// By member id: the entry's action (`None` = no entry).
    pub(crate) entries: Box<[Option<EncapAction>]>,
    /// The default action.
    pub(crate) default: EncapAction,
    len: usize,
}

impl EncapStore {
    /// No entries, default `clone_encap_none`.
    pub(crate) fn new() -> Self {
        EncapStore { entries: vec![None; ENCAP_KEYS].into_boxed_slice(), default: EncapAction::None, len: 0 }
    }

    /// The action a clone of `member` gets (entry or default).
    #[inline(always)]
    pub(crate) fn action(&self, member: u16) -> EncapAction {
        self.entries.get(usize::from(member)).copied().flatten().unwrap_or(self.default)
    }

    fn set(&mut self, member: u16, a: Option<EncapAction>) {
        let i = usize::from(member);
        match (self.entries[i].is_some(), a.is_some()) {
            (false, true) => self.len += 1,
            (true, false) => self.len -= 1,
            _ => {}
        }
        self.entries[i] = a;
    }

    fn record(&self, ctx: &ReadCtx<'_>, member: u16) -> Option<EncapEntry> {
        let action = self.entries[usize::from(member)]?;
        Some(EncapEntry { member, action, metadata: ctx.meta(&meta_key(member)) })
    }
}

fn meta_key(member: u16) -> (TableId, u128, u32) {
    (TableId::CloneEncap, member.into(), 0)
}

fn check_action(a: &EncapAction) -> Result<(), TableError> {
    let t = TableId::CloneEncap;
    match *a {
        EncapAction::Vxlan { vni, .. } if vni > 0xFF_FFFF => Err(range_err(t, "vni", vni.into(), 0xFF_FFFF)),
        EncapAction::Erspan { session_id, .. } if session_id > 0x3FF => {
            Err(range_err(t, "session_id", session_id.into(), 0x3FF))
        }
        _ => Ok(()),
    }
}

fn addr(v: u128) -> [u8; 4] {
    (v as u32).to_be_bytes()
}

fn addr_value(a: &[u8; 4]) -> u128 {
    u32::from_be_bytes(*a).into()
}

impl Table for EncapTable {
    type Key = u16;
    type Action = EncapAction;
    type Entry = EncapEntry;
    type Record = EncapEntry;

    fn id(self) -> TableId {
        TableId::CloneEncap
    }
    fn schema(self) -> &'static Schema {
        &SCHEMA
    }
    fn entry(member: u16, action: EncapAction, metadata: Vec<u8>) -> EncapEntry {
        EncapEntry { member, action, metadata }
    }
    fn entry_parts(e: EncapEntry) -> (u16, EncapAction, Vec<u8>) {
        (e.member, e.action, e.metadata)
    }
    fn record_parts(r: EncapEntry) -> (EncapEntry, Option<CounterValue>) {
        (r, None)
    }
    fn key_from_values(v: &MatchValues) -> u16 {
        from_value(v.fields[0].0)
    }
    fn key_values(k: &u16) -> MatchValues {
        MatchValues { fields: vec![exact_value(*k)], priority: 0 }
    }
    fn action_from_values(v: &ActionValues) -> EncapAction {
        let p = &v.params;
        let outer = |mtu: u128| Outer { src_addr: addr(p[0]), dst_addr: addr(p[1]), mtu: from_value(mtu) };
        match v.index {
            0 => EncapAction::Vxlan { outer: outer(p[3]), vni: from_value(p[2]) },
            1 => EncapAction::Gre { outer: outer(p[4]), key: from_value(p[2]), key_present: p[3] != 0 },
            2 => EncapAction::Erspan { outer: outer(p[3]), session_id: from_value(p[2]) },
            _ => EncapAction::None,
        }
    }
    fn action_values(a: &EncapAction) -> ActionValues {
        let o = |o: &Outer| [addr_value(&o.src_addr), addr_value(&o.dst_addr)];
        match a {
            EncapAction::Vxlan { outer, vni } => {
                let [s, d] = o(outer);
                ActionValues { index: 0, params: vec![s, d, (*vni).into(), outer.mtu.into()] }
            }
            EncapAction::Gre { outer, key, key_present } => {
                let [s, d] = o(outer);
                ActionValues { index: 1, params: vec![s, d, (*key).into(), u128::from(*key_present), outer.mtu.into()] }
            }
            EncapAction::Erspan { outer, session_id } => {
                let [s, d] = o(outer);
                ActionValues { index: 2, params: vec![s, d, (*session_id).into(), outer.mtu.into()] }
            }
            EncapAction::None => ActionValues { index: 3, params: vec![] },
        }
    }
}

impl Stored for EncapTable {
    type Store = EncapStore;

    fn write(
        self,
        s: &EncapStore,
        ctx: &mut WriteCtx<'_>,
        op: EntryOp<Self>,
    ) -> Result<Option<Change<EncapStore>>, TableError> {
        let k = MemberKeyed {
            table: TableId::CloneEncap,
            capacity: ENCAP_SIZE,
            len: s.len,
            exists: |s: &EncapStore, m| s.entries[usize::from(m)].is_some(),
            check: check_action,
            set: EncapStore::set,
            set_default: |s: &mut EncapStore, a| s.default = a,
        };
        member_keyed::write::<Self, _>(k, s, ctx, op)
    }

    fn len(s: &EncapStore) -> usize {
        s.len
    }
    fn default_action(s: &EncapStore) -> EncapAction {
        s.default
    }
    fn record(self, s: &EncapStore, ctx: &ReadCtx<'_>, key: &u16) -> Option<EncapEntry> {
        s.record(ctx, *key)
    }
    fn records(self, s: &EncapStore, ctx: &ReadCtx<'_>) -> Vec<EncapEntry> {
        (0..=u16::MAX).filter_map(|m| s.record(ctx, m)).collect()
    }
}
