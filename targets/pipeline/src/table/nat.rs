//! `nat_src_*` / `nat_dst_*`: the exact NAT tables that restore a clone's client
//! address and port, one type for both families and directions.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::contract::{
    exact_value, from_value, ActionValues, EntryOp, MatchValues, Op, Schema, Table, TableError, TableId,
};
use super::family::{Family, NatDir, V4, V6};
use super::fast_hash::FastBuild;
use super::store::{Change, ReadCtx, Stored, WriteCtx};
use crate::state::CounterValue;

/// Key of a NAT table (field `protocol` is `next_header` in the v6 tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatKey<F: Family> {
    /// `addr` (exact 32 / 128).
    pub addr: F::Addr,
    /// `port` (exact 16).
    pub port: u16,
    /// `protocol` / `next_header` (exact 8).
    pub protocol: u8,
}
/// Key of `nat_src_v4` / `nat_dst_v4`.
pub type NatKeyV4 = NatKey<V4>;
/// Key of `nat_src_v6` / `nat_dst_v6`.
pub type NatKeyV6 = NatKey<V6>;

impl<F: Family> Hash for NatKey<F> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        F::hash_nat_key(self.addr, self.port, self.protocol, state);
    }
}

/// Action of the NAT tables (`nat_set_v4`/`nat_set_v6` or `nat_miss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatAction<F: Family> {
    /// `nat_set_*(client_addr, client_port)`.
    Set {
        /// The client's address.
        client_addr: F::Addr,
        /// The client's port.
        client_port: u16,
    },
    /// `nat_miss`: nothing.
    Miss,
}
/// Action of the IPv4 NAT tables.
pub type NatActionV4 = NatAction<V4>;
/// Action of the IPv6 NAT tables.
pub type NatActionV6 = NatAction<V6>;

/// An entry of a NAT table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatEntry<F: Family> {
    /// Key.
    pub key: NatKey<F>,
    /// Action.
    pub action: NatAction<F>,
    /// Opaque `TableEntry.metadata`.
    pub metadata: Vec<u8>,
}
/// Entry of `nat_src_v4` / `nat_dst_v4`.
pub type NatEntryV4 = NatEntry<V4>;
/// Entry of `nat_src_v6` / `nat_dst_v6`.
pub type NatEntryV6 = NatEntry<V6>;

/// A NAT table: family and direction (see [`NAT_SRC_V4`], ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatTable<F: Family> {
    /// Address family.
    pub family: F,
    /// Source or destination.
    pub dir: NatDir,
}

/// `nat_src_v4`.
pub const NAT_SRC_V4: NatTable<V4> = NatTable { family: V4, dir: NatDir::Src };
/// `nat_dst_v4`.
pub const NAT_DST_V4: NatTable<V4> = NatTable { family: V4, dir: NatDir::Dst };
/// `nat_src_v6`.
pub const NAT_SRC_V6: NatTable<V6> = NatTable { family: V6, dir: NatDir::Src };
/// `nat_dst_v6`.
pub const NAT_DST_V6: NatTable<V6> = NatTable { family: V6, dir: NatDir::Dst };

/// One copy of a NAT table.
pub struct NatStore<F: Family> {
    /// The entries.
    pub(crate) map: HashMap<NatKey<F>, NatAction<F>, FastBuild>,
    /// The default action.
    pub(crate) default: NatAction<F>,
}

impl<F: Family> NatStore<F> {
    /// No entries, default `nat_miss`.
    pub(crate) fn new(build: FastBuild) -> Self {
        NatStore { map: HashMap::with_hasher(build), default: NatAction::Miss }
    }
}

impl<F: Family> NatTable<F> {
    fn meta_key(self, k: &NatKey<F>) -> (TableId, u128, u32) {
        (F::nat_id(self.dir), k.addr.into(), (u32::from(k.port) << 8) | u32::from(k.protocol))
    }

    fn entry_of(self, ctx: &ReadCtx<'_>, key: &NatKey<F>, action: &NatAction<F>) -> NatEntry<F> {
        NatEntry { key: *key, action: *action, metadata: ctx.meta(&self.meta_key(key)) }
    }
}

impl<F: Family> Table for NatTable<F> {
    type Key = NatKey<F>;
    type Action = NatAction<F>;
    type Entry = NatEntry<F>;
    type Record = NatEntry<F>;

    fn id(self) -> TableId {
        F::nat_id(self.dir)
    }
    fn schema(self) -> &'static Schema {
        F::nat_schema(self.dir)
    }
    fn entry(key: NatKey<F>, action: NatAction<F>, metadata: Vec<u8>) -> NatEntry<F> {
        NatEntry { key, action, metadata }
    }
    fn entry_parts(e: NatEntry<F>) -> (NatKey<F>, NatAction<F>, Vec<u8>) {
        (e.key, e.action, e.metadata)
    }
    fn record_parts(r: NatEntry<F>) -> (NatEntry<F>, Option<CounterValue>) {
        (r, None)
    }
    fn key_from_values(v: &MatchValues) -> NatKey<F> {
        let f = &v.fields;
        NatKey { addr: from_value(f[0].0), port: from_value(f[1].0), protocol: from_value(f[2].0) }
    }
    fn key_values(k: &NatKey<F>) -> MatchValues {
        MatchValues { fields: vec![exact_value(k.addr), exact_value(k.port), exact_value(k.protocol)], priority: 0 }
    }
    fn action_from_values(v: &ActionValues) -> NatAction<F> {
        match v.index {
            0 => NatAction::Set { client_addr: from_value(v.params[0]), client_port: from_value(v.params[1]) },
            _ => NatAction::Miss,
        }
    }
    fn action_values(a: &NatAction<F>) -> ActionValues {
        match a {
            NatAction::Set { client_addr, client_port } => {
                ActionValues { index: 0, params: vec![(*client_addr).into(), (*client_port).into()] }
            }
            NatAction::Miss => ActionValues { index: 1, params: vec![] },
        }
    }
}

impl<F: Family> Stored for NatTable<F> {
    type Store = NatStore<F>;

    fn write(
        self,
        s: &NatStore<F>,
        ctx: &mut WriteCtx<'_>,
        op: EntryOp<Self>,
    ) -> Result<Option<Change<NatStore<F>>>, TableError> {
        let table = self.id();
        let (e, insert) = match op {
            Op::Insert(e) => (e, true),
            Op::Modify(e) => (e, false),
            Op::Delete(k) => {
                if !s.map.contains_key(&k) {
                    return Err(TableError::NotFound { table });
                }
                ctx.remove_meta(&self.meta_key(&k));
                return Ok(Some(Box::new(move |s: &mut NatStore<F>| {
                    s.map.remove(&k);
                })));
            }
            Op::SetDefault(a) => return Ok(Some(Box::new(move |s: &mut NatStore<F>| s.default = a))),
            Op::SetDirectCounter(..) => return Err(TableError::NotFound { table }),
        };
        let exists = s.map.contains_key(&e.key);
        if insert && exists {
            return Err(TableError::AlreadyExists { table });
        }
        if insert && s.map.len() >= F::NAT_SIZE {
            return Err(TableError::TableFull { table, capacity: F::NAT_SIZE });
        }
        if !insert && !exists {
            return Err(TableError::NotFound { table });
        }
        ctx.set_meta(self.meta_key(&e.key), e.metadata);
        let (k, a) = (e.key, e.action);
        Ok(Some(Box::new(move |s: &mut NatStore<F>| {
            s.map.insert(k, a);
        })))
    }

    fn len(s: &NatStore<F>) -> usize {
        s.map.len()
    }
    fn default_action(s: &NatStore<F>) -> NatAction<F> {
        s.default
    }
    fn record(self, s: &NatStore<F>, ctx: &ReadCtx<'_>, key: &NatKey<F>) -> Option<NatEntry<F>> {
        s.map.get(key).map(|a| self.entry_of(ctx, key, a))
    }
    /// Sorted by key.
    fn records(self, s: &NatStore<F>, ctx: &ReadCtx<'_>) -> Vec<NatEntry<F>> {
        let mut v: Vec<NatEntry<F>> = s.map.iter().map(|(k, a)| self.entry_of(ctx, k, a)).collect();
        v.sort_by_key(|e| (e.key.addr, e.key.port, e.key.protocol));
        v
    }
}
