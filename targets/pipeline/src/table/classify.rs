//! `clone_classify_v4` / `clone_classify_v6`: the ternary classify tables, one
//! type for both families, with a direct counter per entry.

use super::contract::{
    from_value, ActionValues, EntryOp, MatchValues, Op, Schema, Table, TableError, TableId, Ternary,
};
use super::family::{Family, V4, V6};
use super::fast_hash::FastBuild;
use super::store::{Change, ReadCtx, Stored, WriteCtx};
use super::ternary::{Slot, TernaryTable};
use crate::state::CounterValue;

/// Key of a classify table (field `protocol` is `next_header` in `clone_classify_v6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClassifyKey<F: Family> {
    /// `src_addr` (ternary 32 / 128).
    pub src_addr: Ternary<F::Addr>,
    /// `dst_addr` (ternary 32 / 128).
    pub dst_addr: Ternary<F::Addr>,
    /// `protocol` / `next_header` (ternary 8).
    pub protocol: Ternary<u8>,
    /// `l4_src_port` (ternary 16).
    pub l4_src_port: Ternary<u16>,
    /// `l4_dst_port` (ternary 16).
    pub l4_dst_port: Ternary<u16>,
}
/// Key of `clone_classify_v4`.
pub type ClassifyKeyV4 = ClassifyKey<V4>;
/// Key of `clone_classify_v6`.
pub type ClassifyKeyV6 = ClassifyKey<V6>;

/// Action of the classify tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClassifyAction {
    /// `classify_hit(first_member, member_count, mode)`.
    Hit {
        /// First member id of the profile block.
        first_member: u16,
        /// Number of members (0 = no clone).
        member_count: u16,
        /// [`crate::MODE_ROUND_ROBIN`] or [`crate::MODE_FLOW_HASH`] (other values: round robin).
        mode: u8,
    },
    /// `classify_miss`: nothing.
    #[default]
    Miss,
    /// `classify_hit_sampled(first_member, member_count, mode, sample_mode, sample_arg)`.
    HitSampled {
        /// First member id of the profile block.
        first_member: u16,
        /// Number of members (0 = no clone).
        member_count: u16,
        /// As [`ClassifyAction::Hit`]'s.
        mode: u8,
        /// [`crate::SAMPLE_FLOWS`], [`crate::SAMPLE_ONE_IN`]; other values: every packet.
        sample_mode: u8,
        /// The bucket threshold (flows) or N (one in N).
        sample_arg: u16,
    },
    /// `classify_skip(first_member)`: a filter skips the packet; counted in
    /// `skipped_by_filter[first_member]`.
    Skip {
        /// First member id of the profile block.
        first_member: u16,
    },
}

/// An entry of a classify table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyEntry<F: Family> {
    /// Match key.
    pub key: ClassifyKey<F>,
    /// Priority (higher wins).
    pub priority: i32,
    /// Action.
    pub action: ClassifyAction,
    /// Opaque P4Runtime `TableEntry.metadata`, stored and read back.
    pub metadata: Vec<u8>,
}
/// Entry of `clone_classify_v4`.
pub type ClassifyEntryV4 = ClassifyEntry<V4>;
/// Entry of `clone_classify_v6`.
pub type ClassifyEntryV6 = ClassifyEntry<V6>;

/// A classify entry as read back, with its direct counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyRecord<F: Family> {
    /// The entry.
    pub entry: ClassifyEntry<F>,
    /// Its direct counter (`classify_v4_hits` / `classify_v6_hits`).
    pub counter: CounterValue,
}

/// A classify table (see [`CLASSIFY_V4`], [`CLASSIFY_V6`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClassifyTable<F: Family>(pub F);

/// `clone_classify_v4`.
pub const CLASSIFY_V4: ClassifyTable<V4> = ClassifyTable(V4);
/// `clone_classify_v6`.
pub const CLASSIFY_V6: ClassifyTable<V6> = ClassifyTable(V6);

/// One copy of a classify table.
pub struct ClassifyStore<F: Family> {
    /// The entries (tuple-space search).
    pub(crate) table: TernaryTable<F::Packed, ClassifyAction>,
    /// The default action.
    pub(crate) default: ClassifyAction,
}

impl<F: Family> ClassifyStore<F> {
    /// No entries, default `classify_miss`.
    pub(crate) fn new(build: FastBuild) -> Self {
        ClassifyStore { table: TernaryTable::new(build), default: ClassifyAction::Miss }
    }

    fn record(
        &self,
        ctx: &ReadCtx<'_>,
        m: &F::Packed,
        k: &F::Packed,
        s: &Slot<ClassifyAction>,
        counter: CounterValue,
    ) -> ClassifyRecord<F> {
        ClassifyRecord {
            entry: ClassifyEntry {
                key: unpack(m, k),
                priority: s.prio,
                action: s.action,
                metadata: ctx.meta(&meta_key::<F>(s.handle)),
            },
            counter,
        }
    }
}

fn meta_key<F: Family>(handle: u32) -> (TableId, u128, u32) {
    (F::CLASSIFY_ID, handle.into(), 0)
}

/// (mask, masked value), packed.
fn pack<F: Family>(k: &ClassifyKey<F>) -> (F::Packed, F::Packed) {
    let mask = F::pack(k.src_addr.mask, k.dst_addr.mask, k.protocol.mask, k.l4_src_port.mask, k.l4_dst_port.mask);
    let value = F::pack(k.src_addr.value, k.dst_addr.value, k.protocol.value, k.l4_src_port.value, k.l4_dst_port.value);
    (mask, value)
}

fn unpack<F: Family>(mask: &F::Packed, value: &F::Packed) -> ClassifyKey<F> {
    let (ms, md, mp, msp, mdp) = F::unpack(mask);
    let (vs, vd, vp, vsp, vdp) = F::unpack(value);
    ClassifyKey {
        src_addr: Ternary { value: vs, mask: ms },
        dst_addr: Ternary { value: vd, mask: md },
        protocol: Ternary { value: vp, mask: mp },
        l4_src_port: Ternary { value: vsp, mask: msp },
        l4_dst_port: Ternary { value: vdp, mask: mdp },
    }
}

/// P4Runtime's canonical ternary form, field by field in contract order.
fn check_ternary<F: Family>(k: &ClassifyKey<F>) -> Result<(), TableError> {
    let canonical = [
        k.src_addr.canonical(),
        k.dst_addr.canonical(),
        k.protocol.canonical(),
        k.l4_src_port.canonical(),
        k.l4_dst_port.canonical(),
    ];
    match canonical.iter().position(|ok| !ok) {
        Some(i) => {
            Err(TableError::NonCanonicalTernary { table: F::CLASSIFY_ID, field: F::classify_schema().fields[i].0 })
        }
        None => Ok(()),
    }
}

impl<F: Family> Table for ClassifyTable<F> {
    type Key = (ClassifyKey<F>, i32);
    type Action = ClassifyAction;
    type Entry = ClassifyEntry<F>;
    type Record = ClassifyRecord<F>;

    fn id(self) -> TableId {
        F::CLASSIFY_ID
    }
    fn schema(self) -> &'static Schema {
        F::classify_schema()
    }
    fn entry((key, priority): Self::Key, action: ClassifyAction, metadata: Vec<u8>) -> ClassifyEntry<F> {
        ClassifyEntry { key, priority, action, metadata }
    }
    fn entry_parts(e: ClassifyEntry<F>) -> (Self::Key, ClassifyAction, Vec<u8>) {
        ((e.key, e.priority), e.action, e.metadata)
    }
    fn record_parts(r: ClassifyRecord<F>) -> (ClassifyEntry<F>, Option<CounterValue>) {
        (r.entry, Some(r.counter))
    }
    fn key_from_values(v: &MatchValues) -> Self::Key {
        let f = &v.fields;
        let key = ClassifyKey {
            src_addr: Ternary::from_values(f[0]),
            dst_addr: Ternary::from_values(f[1]),
            protocol: Ternary::from_values(f[2]),
            l4_src_port: Ternary::from_values(f[3]),
            l4_dst_port: Ternary::from_values(f[4]),
        };
        (key, v.priority)
    }
    fn key_values((k, priority): &Self::Key) -> MatchValues {
        let fields = vec![
            k.src_addr.values(),
            k.dst_addr.values(),
            k.protocol.values(),
            k.l4_src_port.values(),
            k.l4_dst_port.values(),
        ];
        MatchValues { fields, priority: *priority }
    }
    fn action_from_values(v: &ActionValues) -> ClassifyAction {
        match v.index {
            0 => ClassifyAction::Hit {
                first_member: from_value(v.params[0]),
                member_count: from_value(v.params[1]),
                mode: from_value(v.params[2]),
            },
            2 => ClassifyAction::HitSampled {
                first_member: from_value(v.params[0]),
                member_count: from_value(v.params[1]),
                mode: from_value(v.params[2]),
                sample_mode: from_value(v.params[3]),
                sample_arg: from_value(v.params[4]),
            },
            3 => ClassifyAction::Skip { first_member: from_value(v.params[0]) },
            _ => ClassifyAction::Miss,
        }
    }
    fn action_values(a: &ClassifyAction) -> ActionValues {
        match a {
            ClassifyAction::Hit { first_member, member_count, mode } => {
                ActionValues { index: 0, params: vec![(*first_member).into(), (*member_count).into(), (*mode).into()] }
            }
            ClassifyAction::Miss => ActionValues { index: 1, params: vec![] },
            ClassifyAction::HitSampled { first_member, member_count, mode, sample_mode, sample_arg } => ActionValues {
                index: 2,
                params: vec![
                    (*first_member).into(),
                    (*member_count).into(),
                    (*mode).into(),
                    (*sample_mode).into(),
                    (*sample_arg).into(),
                ],
            },
            ClassifyAction::Skip { first_member } => ActionValues { index: 3, params: vec![(*first_member).into()] },
        }
    }
}

impl<F: Family> Stored for ClassifyTable<F> {
    type Store = ClassifyStore<F>;

    fn write(
        self,
        s: &ClassifyStore<F>,
        ctx: &mut WriteCtx<'_>,
        op: EntryOp<Self>,
    ) -> Result<Option<Change<ClassifyStore<F>>>, TableError> {
        let table = F::CLASSIFY_ID;
        let not_found = TableError::NotFound { table };
        match op {
            Op::Insert(e) => {
                check_ternary(&e.key)?;
                let (mask, key) = pack(&e.key);
                if s.table.find(&mask, &key, e.priority).is_some() {
                    return Err(TableError::AlreadyExists { table });
                }
                let full = TableError::TableFull { table, capacity: F::CLASSIFY_SIZE };
                if s.table.len() >= F::CLASSIFY_SIZE {
                    return Err(full);
                }
                let handle = ctx.st.handles[F::INDEX].alloc().ok_or(full)?;
                ctx.counters.zero(F::DIRECT_BASE + handle as usize);
                let slot = Slot { prio: e.priority, handle, action: e.action };
                let seq = ctx.next_seq();
                ctx.set_meta(meta_key::<F>(handle), e.metadata);
                Ok(Some(Box::new(move |s: &mut ClassifyStore<F>| s.table.insert(&mask, &key, slot, seq))))
            }
            Op::Modify(e) => {
                check_ternary(&e.key)?;
                let (mask, key) = pack(&e.key);
                let handle = s.table.find(&mask, &key, e.priority).ok_or(not_found)?.handle;
                ctx.set_meta(meta_key::<F>(handle), e.metadata);
                let (priority, action) = (e.priority, e.action);
                Ok(Some(Box::new(move |s: &mut ClassifyStore<F>| {
                    s.table.modify(&mask, &key, priority, action);
                })))
            }
            Op::Delete((k, priority)) => {
                check_ternary(&k)?;
                let (mask, key) = pack(&k);
                let handle = s.table.find(&mask, &key, priority).ok_or(not_found)?.handle;
                ctx.st.handles[F::INDEX].release(handle);
                ctx.remove_meta(&meta_key::<F>(handle));
                Ok(Some(Box::new(move |s: &mut ClassifyStore<F>| {
                    s.table.remove(&mask, &key, priority);
                })))
            }
            Op::SetDefault(a) => Ok(Some(Box::new(move |s: &mut ClassifyStore<F>| s.default = a))),
            Op::SetDirectCounter((k, priority), v) => {
                check_ternary(&k)?;
                let (mask, key) = pack(&k);
                let handle = s.table.find(&mask, &key, priority).ok_or(not_found)?.handle;
                ctx.counters.write(F::DIRECT_BASE + handle as usize, v);
                Ok(None)
            }
        }
    }

    fn len(s: &ClassifyStore<F>) -> usize {
        s.table.len()
    }
    fn default_action(s: &ClassifyStore<F>) -> ClassifyAction {
        s.default
    }
    fn record(self, s: &ClassifyStore<F>, ctx: &ReadCtx<'_>, (k, priority): &Self::Key) -> Option<ClassifyRecord<F>> {
        let (m, k) = pack(k);
        let slot = s.table.find(&m, &k, *priority)?;
        let counter = ctx.counters.read(F::DIRECT_BASE + slot.handle as usize);
        Some(s.record(ctx, &m, &k, slot, counter))
    }
    /// In insertion order.
    fn records(self, s: &ClassifyStore<F>, ctx: &ReadCtx<'_>) -> Vec<ClassifyRecord<F>> {
        let t = &s.table;
        let mut v = Vec::with_capacity(t.len());
        t.for_each(|m, k, slot| v.push((t.seq(slot.handle), *m, *k, *slot)));
        v.sort_unstable_by_key(|e| e.0);
        let counters = ctx.counters.read_cells(v.iter().map(|(_, _, _, slot)| F::DIRECT_BASE + slot.handle as usize));
        v.iter().zip(counters).map(|((_, m, k, slot), counter)| s.record(ctx, m, k, slot, counter)).collect()
    }
}
