//! One copy of every table (the left-right scheme keeps two), and where each
//! table's store sits in it ([`InTables`]).

use super::classify::{ClassifyStore, ClassifyTable};
use super::encap::{EncapStore, EncapTable};
use super::family::{Family, NatDir, V4, V6};
use super::fast_hash::FastBuild;
use super::members::{MemberStore, RewriteTable};
use super::nat::{NatStore, NatTable};
use super::store::{Change, Stored};
use super::wire::{WireStore, WireTable};

/// A validated change to one copy of all tables (see [`Change`]).
pub type TablesChange = Change<Tables>;

/// One copy of all tables.
pub struct Tables {
    /// `wire`.
    pub(crate) wire: WireStore,
    /// `clone_classify_v4`.
    pub(crate) classify_v4: ClassifyStore<V4>,
    /// `clone_classify_v6`.
    pub(crate) classify_v6: ClassifyStore<V6>,
    /// `clone_rewrite` and the clone sessions.
    pub(crate) members: MemberStore,
    /// `clone_encap`.
    pub(crate) encap: EncapStore,
    /// `nat_src_v4`, `nat_dst_v4`.
    pub(crate) nat_v4: [NatStore<V4>; 2],
    /// `nat_src_v6`, `nat_dst_v6`.
    pub(crate) nat_v6: [NatStore<V6>; 2],
}

impl Tables {
    /// Empty tables with the program's default actions.
    pub(crate) fn new(build: FastBuild) -> Self {
        Tables {
            wire: WireStore::new(),
            classify_v4: ClassifyStore::new(build),
            classify_v6: ClassifyStore::new(build),
            members: MemberStore::new(),
            encap: EncapStore::new(),
            nat_v4: [NatStore::new(build), NatStore::new(build)],
            nat_v6: [NatStore::new(build), NatStore::new(build)],
        }
    }

    /// End of a batch: brings the ternary tables' tuple order up to date.
    pub(crate) fn finish(&mut self) {
        self.classify_v4.table.finish();
        self.classify_v6.table.finish();
    }
}

/// Where a table's store sits in [`Tables`].
pub trait InTables: Stored {
    /// The table's store.
    fn store(self, t: &Tables) -> &Self::Store;
    /// The table's store, for a change.
    fn store_mut(self, t: &mut Tables) -> &mut Self::Store;
}

/// Where a family's tables sit in [`Tables`].
pub trait FamilyTables: Family {
    /// The classify table.
    fn classify(t: &Tables) -> &ClassifyStore<Self>;
    /// The classify table, for a change.
    fn classify_mut(t: &mut Tables) -> &mut ClassifyStore<Self>;
    /// A NAT table.
    fn nat(t: &Tables, dir: NatDir) -> &NatStore<Self>;
    /// A NAT table, for a change.
    fn nat_mut(t: &mut Tables, dir: NatDir) -> &mut NatStore<Self>;
}

impl FamilyTables for V4 {
    #[inline(always)]
    fn classify(t: &Tables) -> &ClassifyStore<V4> {
        &t.classify_v4
    }
    fn classify_mut(t: &mut Tables) -> &mut ClassifyStore<V4> {
        &mut t.classify_v4
    }
    #[inline(always)]
    fn nat(t: &Tables, dir: NatDir) -> &NatStore<V4> {
        &t.nat_v4[dir.idx()]
    }
    fn nat_mut(t: &mut Tables, dir: NatDir) -> &mut NatStore<V4> {
        &mut t.nat_v4[dir.idx()]
    }
}

impl FamilyTables for V6 {
    #[inline(always)]
    fn classify(t: &Tables) -> &ClassifyStore<V6> {
        &t.classify_v6
    }
    fn classify_mut(t: &mut Tables) -> &mut ClassifyStore<V6> {
        &mut t.classify_v6
    }
    #[inline(always)]
    fn nat(t: &Tables, dir: NatDir) -> &NatStore<V6> {
        &t.nat_v6[dir.idx()]
    }
    fn nat_mut(t: &mut Tables, dir: NatDir) -> &mut NatStore<V6> {
        &mut t.nat_v6[dir.idx()]
    }
}

impl InTables for WireTable {
    fn store(self, t: &Tables) -> &WireStore {
        &t.wire
    }
    fn store_mut(self, t: &mut Tables) -> &mut WireStore {
        &mut t.wire
    }
}

impl<F: FamilyTables> InTables for ClassifyTable<F> {
    fn store(self, t: &Tables) -> &ClassifyStore<F> {
        F::classify(t)
    }
    fn store_mut(self, t: &mut Tables) -> &mut ClassifyStore<F> {
        F::classify_mut(t)
    }
}

impl InTables for RewriteTable {
    fn store(self, t: &Tables) -> &MemberStore {
        &t.members
    }
    fn store_mut(self, t: &mut Tables) -> &mut MemberStore {
        &mut t.members
    }
}

impl InTables for EncapTable {
    fn store(self, t: &Tables) -> &EncapStore {
        &t.encap
    }
    fn store_mut(self, t: &mut Tables) -> &mut EncapStore {
        &mut t.encap
    }
}

impl<F: FamilyTables> InTables for NatTable<F> {
    fn store(self, t: &Tables) -> &NatStore<F> {
        F::nat(t, self.dir)
    }
    fn store_mut(self, t: &mut Tables) -> &mut NatStore<F> {
        F::nat_mut(t, self.dir)
    }
}
