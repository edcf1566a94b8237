//! The pipeline: table writes in atomic batches, reads for P4Runtime, and packet
//! processing in bursts.
//!
//! # Atomic batches: left-right
//! The tables exist twice (left-right double buffering, Ramalhete & Correia).
//! [`Pipeline::write`] applies each operation to the back copy at once, which gives
//! per-operation results with CONTINUE_ON_ERROR semantics: a failed operation is
//! skipped and the others stay. When the batch closes it publishes the back copy with
//! one atomic swap, waits for the readers still in the old copy to leave (each holds
//! it for one burst), and replays the same resolved operations there. A batch costs
//! about twice its operations and never copies a table: 0.8 to 1.6 M entries/s of
//! writer CPU time on the 160,000-entry table (BENCH.md).
//!
//! Packet workers take no lock. Per burst they add and remove themselves on a striped
//! read indicator, so every packet of a burst sees one consistent set of tables. The
//! price is that a writer waits for readers: a worker descheduled in the middle of a
//! burst delays the publish until it runs again. Pinned, dedicated workers never are.
//!
//! Why not an arc-swapped snapshot with structural sharing (persistent maps)? Cheap
//! clones, but every lookup would walk a tree of nodes instead of one flat hash probe,
//! and old nodes need an epoch/RCU scheme to be freed. Left-right keeps the fastest
//! lookup structure, a flat hash table per mask tuple, for twice the table memory:
//! the loaded 10,000-VS pipeline is under 60 MiB RSS in total.
//!
//! # Processing
//! See `docs/dataplane.md`. [`Pipeline::process_burst`] parses each frame
//! ([`crate::wire::parse`]), applies `wire`, `clone_classify_*`, member selection,
//! the I2E clone to session `member` and the egress of each clone, and appends the
//! clones, then the original, to an [`EmitBatch`]. Nothing is allocated per packet.
//! Frames are processed in passes over groups of [`BURST`], so that the cache misses
//! of different frames overlap (the tables are several MiB and accessed at random):
//! see [`Pipeline::process_burst`].
//!
//! Table semantics follow v1model literally. An action sets metadata (zeroed for each
//! clone), and the `if (table.apply().hit)` blocks run only on an entry hit. So a
//! default action can assign metadata without the `hit` block running (a
//! `clone_rewrite` default of `clone_rewrite_set` lets clones through unmodified),
//! and an entry whose action is the `*_miss`/`*_drop` one still counts as a hit.
//!
//! BMv2 details kept: the session id is `member & 0x7FFF`; counter and register
//! indices out of range are not counted or written (`member >= 32768`, round robin
//! reads 0); a frame or clone whose egress port is 511 (the drop port) is not emitted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::csum;
use crate::emit::{CloneFrame, Emit, EmitBatch, EmitKind, RxFrame};
use crate::hash;
use crate::state::{layout, Counter, CounterStore, CounterValue, Diag, PortStats, RrCursor, Shard};
use crate::state::{PortCounter, COUNTER_SIZE, RR_CURSOR_SIZE};
use crate::sync::{LeftRight, WriterToken};
use crate::mem::prefetch;
use crate::table::instance::{Resolved, Tables};
use crate::table::fast_hash::FastBuild;
use crate::table::ternary::{Hashes, PackedV4, PackedV6, Slot, PREFETCH_TUPLES};
use crate::table::*;
use crate::wire::{self, EthernetFrame, Ipv4Packet, Ipv6Packet, ParsedFrame, L3, L4};

/// Recommended burst size.
pub const BURST: usize = 32;

/// After a write of `v` to `c[index]`: a zeroed `clones_emitted` cell (a counter
/// reset) zeroes the member's [`Diag`] counts as well, since they count failures
/// among the clones that cell counts.
fn reset_diags_with(counters: &CounterStore, c: Counter, index: u32, v: CounterValue) {
    if c == Counter::ClonesEmitted && v.packets == 0 && v.bytes == 0 {
        if let Ok(member) = u16::try_from(index) {
            counters.set_diag(Diag::AllocFailed, member, 0);
            counters.set_diag(Diag::DriverFailed, member, 0);
        }
    }
}

struct HandleAlloc {
    next: u32,
    cap: u32,
    free: Vec<u32>,
    /// Freed in the current batch: reused only after it completes, so a reader still
    /// in the old copy cannot count into a new entry's counter.
    pending: Vec<u32>,
}

impl HandleAlloc {
    fn new(cap: usize) -> Self {
        HandleAlloc { next: 0, cap: cap as u32, free: Vec::new(), pending: Vec::new() }
    }
    fn alloc(&mut self) -> Option<u32> {
        if let Some(h) = self.free.pop() {
            return Some(h);
        }
        if self.next < self.cap {
            self.next += 1;
            return Some(self.next - 1);
        }
        None
    }
    fn release_pending(&mut self) {
        self.free.append(&mut self.pending);
    }
}

#[derive(Default)]
struct Metadata {
    wire: HashMap<Port, Vec<u8>>,
    v4: HashMap<u32, Vec<u8>>,
    v6: HashMap<u32, Vec<u8>>,
    rewrite: HashMap<u16, Vec<u8>>,
    nat_v4: [HashMap<NatKeyV4, Vec<u8>>; 2],
    nat_v6: [HashMap<NatKeyV6, Vec<u8>>; 2],
}

fn set_meta<K: std::hash::Hash + Eq>(m: &mut HashMap<K, Vec<u8>>, k: K, v: Vec<u8>) {
    if v.is_empty() {
        m.remove(&k);
    } else {
        m.insert(k, v);
    }
}

struct WriterState {
    log: Vec<Resolved>,
    v4: HandleAlloc,
    v6: HandleAlloc,
    seq: u64,
    meta: Metadata,
}

struct Writer {
    token: WriterToken,
    st: WriterState,
}

/// The software data plane: tables, counters, registers and the packet path.
///
/// `Pipeline` is `Send + Sync`. Share it (e.g. in an `Arc`) between packet workers,
/// which call [`Pipeline::process_burst`] concurrently, and the control plane, which
/// calls [`Pipeline::write`] / [`Pipeline::apply`] and the read methods.
pub struct Pipeline {
    tables: LeftRight<Tables>,
    writer: Mutex<Writer>,
    counters: Arc<CounterStore>,
    rr: RrCursor,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

/// Ends a write batch: publish and replay, also when the batch closure panics.
struct Commit<'p> {
    p: &'p Pipeline,
    w: MutexGuard<'p, Writer>,
}

impl Drop for Commit<'_> {
    fn drop(&mut self) {
        let Writer { token, st } = &mut *self.w;
        if !st.log.is_empty() {
            self.p.tables.back_mut(token).finish();
            self.p.tables.publish(token);
            let other = self.p.tables.back_mut(token);
            for op in &st.log {
                other.apply(op);
            }
            other.finish();
            st.log.clear();
        }
        st.v4.release_pending();
        st.v6.release_pending();
    }
}

/// An open write batch (see [`Pipeline::write`]). Every method applies one operation
/// or fails without effect.
pub struct WriteBatch<'a> {
    t: &'a mut Tables,
    st: &'a mut WriterState,
    counters: &'a CounterStore,
    rr: &'a RrCursor,
}

fn range_err(table: TableId, field: &'static str, value: u128, max: u128) -> TableError {
    TableError::OutOfRange { table, field, value, max }
}

fn check_port(table: TableId, field: &'static str, p: Port) -> Result<(), TableError> {
    if usize::from(p) >= PORT_COUNT {
        return Err(range_err(table, field, p.into(), (PORT_COUNT - 1) as u128));
    }
    Ok(())
}

fn check_wire_action(a: &WireAction) -> Result<(), TableError> {
    match a {
        WireAction::Forward(p) => check_port(TableId::Wire, "port", *p),
        WireAction::Drop => Ok(()),
    }
}

fn check_rewrite_action(a: &RewriteAction) -> Result<(), TableError> {
    if let RewriteAction::Set(p) = a {
        if p.vlan_id > 0x0FFF {
            return Err(range_err(TableId::CloneRewrite, "vlan_id", p.vlan_id.into(), 0x0FFF));
        }
    }
    Ok(())
}

fn check_session(e: &CloneSessionEntry) -> Result<(), TableError> {
    if e.session_id > MAX_SESSION_ID {
        return Err(range_err(TableId::CloneSessions, "session_id", e.session_id.into(), MAX_SESSION_ID.into()));
    }
    for r in &e.session.replicas {
        check_port(TableId::CloneSessions, "egress_port", r.egress_port)?;
    }
    Ok(())
}

fn pack_v4(k: &ClassifyKeyV4) -> (PackedV4, PackedV4) {
    let mask = PackedV4::new(k.src_addr.mask, k.dst_addr.mask, k.protocol.mask, k.l4_src_port.mask, k.l4_dst_port.mask);
    let value =
        PackedV4::new(k.src_addr.value, k.dst_addr.value, k.protocol.value, k.l4_src_port.value, k.l4_dst_port.value);
    (mask, value)
}

fn unpack_v4(mask: &PackedV4, value: &PackedV4) -> ClassifyKeyV4 {
    ClassifyKeyV4 {
        src_addr: Ternary { value: value.src(), mask: mask.src() },
        dst_addr: Ternary { value: value.dst(), mask: mask.dst() },
        protocol: Ternary { value: value.proto(), mask: mask.proto() },
        l4_src_port: Ternary { value: value.sport(), mask: mask.sport() },
        l4_dst_port: Ternary { value: value.dport(), mask: mask.dport() },
    }
}

fn pack_v6(k: &ClassifyKeyV6) -> (PackedV6, PackedV6) {
    let mask =
        PackedV6::new(k.src_addr.mask, k.dst_addr.mask, k.next_header.mask, k.l4_src_port.mask, k.l4_dst_port.mask);
    let value = PackedV6::new(
        k.src_addr.value,
        k.dst_addr.value,
        k.next_header.value,
        k.l4_src_port.value,
        k.l4_dst_port.value,
    );
    (mask, value)
}

fn unpack_v6(mask: &PackedV6, value: &PackedV6) -> ClassifyKeyV6 {
    ClassifyKeyV6 {
        src_addr: Ternary { value: value.src, mask: mask.src },
        dst_addr: Ternary { value: value.dst, mask: mask.dst },
        next_header: Ternary { value: value.nh(), mask: mask.nh() },
        l4_src_port: Ternary { value: value.sport(), mask: mask.sport() },
        l4_dst_port: Ternary { value: value.dport(), mask: mask.dport() },
    }
}

impl WriteBatch<'_> {
    fn push(&mut self, op: Resolved) {
        self.t.apply(&op);
        self.st.log.push(op);
    }

    /// Applies one [`TableOp`].
    pub fn apply(&mut self, op: TableOp) -> Result<(), TableError> {
        match op {
            TableOp::InsertWire(e) => self.insert_wire(e),
            TableOp::ModifyWire(e) => self.modify_wire(e),
            TableOp::DeleteWire { ingress_port } => self.delete_wire(ingress_port),
            TableOp::SetWireDefault(a) => self.set_wire_default(a),
            TableOp::InsertClassifyV4(e) => self.insert_classify_v4(e),
            TableOp::ModifyClassifyV4(e) => self.modify_classify_v4(e),
            TableOp::DeleteClassifyV4 { key, priority } => self.delete_classify_v4(&key, priority),
            TableOp::SetClassifyV4Default(a) => self.set_classify_v4_default(a),
            TableOp::InsertClassifyV6(e) => self.insert_classify_v6(e),
            TableOp::ModifyClassifyV6(e) => self.modify_classify_v6(e),
            TableOp::DeleteClassifyV6 { key, priority } => self.delete_classify_v6(&key, priority),
            TableOp::SetClassifyV6Default(a) => self.set_classify_v6_default(a),
            TableOp::InsertRewrite(e) => self.insert_rewrite(e),
            TableOp::ModifyRewrite(e) => self.modify_rewrite(e),
            TableOp::DeleteRewrite { member } => self.delete_rewrite(member),
            TableOp::SetRewriteDefault(a) => self.set_rewrite_default(a),
            TableOp::InsertNatV4(d, e) => self.insert_nat_v4(d, e),
            TableOp::ModifyNatV4(d, e) => self.modify_nat_v4(d, e),
            TableOp::DeleteNatV4(d, k) => self.delete_nat_v4(d, &k),
            TableOp::SetNatV4Default(d, a) => self.set_nat_v4_default(d, a),
            TableOp::InsertNatV6(d, e) => self.insert_nat_v6(d, e),
            TableOp::ModifyNatV6(d, e) => self.modify_nat_v6(d, e),
            TableOp::DeleteNatV6(d, k) => self.delete_nat_v6(d, &k),
            TableOp::SetNatV6Default(d, a) => self.set_nat_v6_default(d, a),
            TableOp::InsertCloneSession(e) => self.insert_clone_session(e),
            TableOp::ModifyCloneSession(e) => self.modify_clone_session(e),
            TableOp::DeleteCloneSession { session_id } => self.delete_clone_session(session_id),
            TableOp::WriteCounter { counter, index, value } => self.write_counter(counter, index, value),
            TableOp::WriteClassifyV4Counter { key, priority, value } => {
                self.write_classify_v4_counter(&key, priority, value)
            }
            TableOp::WriteClassifyV6Counter { key, priority, value } => {
                self.write_classify_v6_counter(&key, priority, value)
            }
            TableOp::WriteRrCursor { index, value } => self.write_rr_cursor(index, value),
        }
    }

    // ---- wire ----

    /// INSERT into `wire`.
    pub fn insert_wire(&mut self, e: WireEntry) -> Result<(), TableError> {
        check_port(TableId::Wire, "ingress_port", e.ingress_port)?;
        check_wire_action(&e.action)?;
        if self.t.wire[usize::from(e.ingress_port)].is_some() {
            return Err(TableError::AlreadyExists { table: TableId::Wire });
        }
        self.push(Resolved::Wire(e.ingress_port, Some(e.action)));
        set_meta(&mut self.st.meta.wire, e.ingress_port, e.metadata);
        Ok(())
    }

    /// MODIFY in `wire`.
    pub fn modify_wire(&mut self, e: WireEntry) -> Result<(), TableError> {
        check_port(TableId::Wire, "ingress_port", e.ingress_port)?;
        check_wire_action(&e.action)?;
        if self.t.wire[usize::from(e.ingress_port)].is_none() {
            return Err(TableError::NotFound { table: TableId::Wire });
        }
        self.push(Resolved::Wire(e.ingress_port, Some(e.action)));
        set_meta(&mut self.st.meta.wire, e.ingress_port, e.metadata);
        Ok(())
    }

    /// DELETE from `wire`.
    pub fn delete_wire(&mut self, ingress_port: Port) -> Result<(), TableError> {
        check_port(TableId::Wire, "ingress_port", ingress_port)?;
        if self.t.wire[usize::from(ingress_port)].is_none() {
            return Err(TableError::NotFound { table: TableId::Wire });
        }
        self.push(Resolved::Wire(ingress_port, None));
        self.st.meta.wire.remove(&ingress_port);
        Ok(())
    }

    /// MODIFY of `wire`'s default action.
    pub fn set_wire_default(&mut self, a: WireAction) -> Result<(), TableError> {
        check_wire_action(&a)?;
        self.push(Resolved::WireDefault(a));
        Ok(())
    }

    // ---- classify ----

    /// INSERT into `clone_classify_v4`.
    pub fn insert_classify_v4(&mut self, e: ClassifyEntryV4) -> Result<(), TableError> {
        check_ternary_v4(&e.key)?;
        let (mask, key) = pack_v4(&e.key);
        let table = TableId::ClassifyV4;
        if self.t.classify_v4.find(&mask, &key, e.priority).is_some() {
            return Err(TableError::AlreadyExists { table });
        }
        let full = TableError::TableFull { table, capacity: CLASSIFY_V4_SIZE };
        if self.t.classify_v4.len() >= CLASSIFY_V4_SIZE {
            return Err(full);
        }
        let handle = self.st.v4.alloc().ok_or(full)?;
        self.counters.zero(layout::DIRECT_V4 + handle as usize);
        let slot = Slot { prio: e.priority, handle, action: e.action };
        let seq = self.st.seq;
        self.st.seq += 1;
        self.push(Resolved::V4Insert(mask, key, slot, seq));
        set_meta(&mut self.st.meta.v4, handle, e.metadata);
        Ok(())
    }

    /// MODIFY in `clone_classify_v4` (action and metadata; insertion order and counter kept).
    pub fn modify_classify_v4(&mut self, e: ClassifyEntryV4) -> Result<(), TableError> {
        check_ternary_v4(&e.key)?;
        let (mask, key) = pack_v4(&e.key);
        let Some(s) = self.t.classify_v4.find(&mask, &key, e.priority) else {
            return Err(TableError::NotFound { table: TableId::ClassifyV4 });
        };
        let handle = s.handle;
        self.push(Resolved::V4Modify(mask, key, e.priority, e.action));
        set_meta(&mut self.st.meta.v4, handle, e.metadata);
        Ok(())
    }

    /// DELETE from `clone_classify_v4` (identity: key and priority).
    pub fn delete_classify_v4(&mut self, key: &ClassifyKeyV4, priority: i32) -> Result<(), TableError> {
        check_ternary_v4(key)?;
        let (mask, key) = pack_v4(key);
        let Some(s) = self.t.classify_v4.find(&mask, &key, priority) else {
            return Err(TableError::NotFound { table: TableId::ClassifyV4 });
        };
        let handle = s.handle;
        self.push(Resolved::V4Delete(mask, key, priority));
        self.st.v4.pending.push(handle);
        self.st.meta.v4.remove(&handle);
        Ok(())
    }

    /// MODIFY of `clone_classify_v4`'s default action.
    pub fn set_classify_v4_default(&mut self, a: ClassifyAction) -> Result<(), TableError> {
        self.push(Resolved::V4Default(a));
        Ok(())
    }

    /// INSERT into `clone_classify_v6`.
    pub fn insert_classify_v6(&mut self, e: ClassifyEntryV6) -> Result<(), TableError> {
        check_ternary_v6(&e.key)?;
        let (mask, key) = pack_v6(&e.key);
        let table = TableId::ClassifyV6;
        if self.t.classify_v6.find(&mask, &key, e.priority).is_some() {
            return Err(TableError::AlreadyExists { table });
        }
        let full = TableError::TableFull { table, capacity: CLASSIFY_V6_SIZE };
        if self.t.classify_v6.len() >= CLASSIFY_V6_SIZE {
            return Err(full);
        }
        let handle = self.st.v6.alloc().ok_or(full)?;
        self.counters.zero(layout::DIRECT_V6 + handle as usize);
        let slot = Slot { prio: e.priority, handle, action: e.action };
        let seq = self.st.seq;
        self.st.seq += 1;
        self.push(Resolved::V6Insert(mask, key, slot, seq));
        set_meta(&mut self.st.meta.v6, handle, e.metadata);
        Ok(())
    }

    /// MODIFY in `clone_classify_v6`.
    pub fn modify_classify_v6(&mut self, e: ClassifyEntryV6) -> Result<(), TableError> {
        check_ternary_v6(&e.key)?;
        let (mask, key) = pack_v6(&e.key);
        let Some(s) = self.t.classify_v6.find(&mask, &key, e.priority) else {
            return Err(TableError::NotFound { table: TableId::ClassifyV6 });
        };
        let handle = s.handle;
        self.push(Resolved::V6Modify(mask, key, e.priority, e.action));
        set_meta(&mut self.st.meta.v6, handle, e.metadata);
        Ok(())
    }

    /// DELETE from `clone_classify_v6`.
    pub fn delete_classify_v6(&mut self, key: &ClassifyKeyV6, priority: i32) -> Result<(), TableError> {
        check_ternary_v6(key)?;
        let (mask, key) = pack_v6(key);
        let Some(s) = self.t.classify_v6.find(&mask, &key, priority) else {
            return Err(TableError::NotFound { table: TableId::ClassifyV6 });
        };
        let handle = s.handle;
        self.push(Resolved::V6Delete(mask, key, priority));
        self.st.v6.pending.push(handle);
        self.st.meta.v6.remove(&handle);
        Ok(())
    }

    /// MODIFY of `clone_classify_v6`'s default action.
    pub fn set_classify_v6_default(&mut self, a: ClassifyAction) -> Result<(), TableError> {
        self.push(Resolved::V6Default(a));
        Ok(())
    }

    // ---- clone_rewrite ----

    /// INSERT into `clone_rewrite`.
    pub fn insert_rewrite(&mut self, e: RewriteEntry) -> Result<(), TableError> {
        check_rewrite_action(&e.action)?;
        let table = TableId::CloneRewrite;
        if self.t.members[usize::from(e.member)].rewrite.is_some() {
            return Err(TableError::AlreadyExists { table });
        }
        if self.t.rewrite_len >= REWRITE_SIZE {
            return Err(TableError::TableFull { table, capacity: REWRITE_SIZE });
        }
        self.push(Resolved::Rewrite(e.member, Some(e.action)));
        set_meta(&mut self.st.meta.rewrite, e.member, e.metadata);
        Ok(())
    }

    /// MODIFY in `clone_rewrite`.
    pub fn modify_rewrite(&mut self, e: RewriteEntry) -> Result<(), TableError> {
        check_rewrite_action(&e.action)?;
        if self.t.members[usize::from(e.member)].rewrite.is_none() {
            return Err(TableError::NotFound { table: TableId::CloneRewrite });
        }
        self.push(Resolved::Rewrite(e.member, Some(e.action)));
        set_meta(&mut self.st.meta.rewrite, e.member, e.metadata);
        Ok(())
    }

    /// DELETE from `clone_rewrite`.
    pub fn delete_rewrite(&mut self, member: u16) -> Result<(), TableError> {
        if self.t.members[usize::from(member)].rewrite.is_none() {
            return Err(TableError::NotFound { table: TableId::CloneRewrite });
        }
        self.push(Resolved::Rewrite(member, None));
        self.st.meta.rewrite.remove(&member);
        Ok(())
    }

    /// MODIFY of `clone_rewrite`'s default action.
    pub fn set_rewrite_default(&mut self, a: RewriteAction) -> Result<(), TableError> {
        check_rewrite_action(&a)?;
        self.push(Resolved::RewriteDefault(a));
        Ok(())
    }

    // ---- NAT ----

    /// INSERT into `nat_src_v4` / `nat_dst_v4`.
    pub fn insert_nat_v4(&mut self, dir: NatDir, e: NatEntryV4) -> Result<(), TableError> {
        let table = TableId::nat_v4(dir);
        let t = &self.t.nat_v4[dir.idx()];
        if t.contains_key(&e.key) {
            return Err(TableError::AlreadyExists { table });
        }
        if t.len() >= NAT_V4_SIZE {
            return Err(TableError::TableFull { table, capacity: NAT_V4_SIZE });
        }
        self.push(Resolved::NatV4(dir, e.key, Some(e.action)));
        set_meta(&mut self.st.meta.nat_v4[dir.idx()], e.key, e.metadata);
        Ok(())
    }

    /// MODIFY in `nat_src_v4` / `nat_dst_v4`.
    pub fn modify_nat_v4(&mut self, dir: NatDir, e: NatEntryV4) -> Result<(), TableError> {
        if !self.t.nat_v4[dir.idx()].contains_key(&e.key) {
            return Err(TableError::NotFound { table: TableId::nat_v4(dir) });
        }
        self.push(Resolved::NatV4(dir, e.key, Some(e.action)));
        set_meta(&mut self.st.meta.nat_v4[dir.idx()], e.key, e.metadata);
        Ok(())
    }

    /// DELETE from `nat_src_v4` / `nat_dst_v4`.
    pub fn delete_nat_v4(&mut self, dir: NatDir, key: &NatKeyV4) -> Result<(), TableError> {
        if !self.t.nat_v4[dir.idx()].contains_key(key) {
            return Err(TableError::NotFound { table: TableId::nat_v4(dir) });
        }
        self.push(Resolved::NatV4(dir, *key, None));
        self.st.meta.nat_v4[dir.idx()].remove(key);
        Ok(())
    }

    /// MODIFY of a v4 NAT table's default action.
    pub fn set_nat_v4_default(&mut self, dir: NatDir, a: NatActionV4) -> Result<(), TableError> {
        self.push(Resolved::NatV4Default(dir, a));
        Ok(())
    }

    /// INSERT into `nat_src_v6` / `nat_dst_v6`.
    pub fn insert_nat_v6(&mut self, dir: NatDir, e: NatEntryV6) -> Result<(), TableError> {
        let table = TableId::nat_v6(dir);
        let t = &self.t.nat_v6[dir.idx()];
        if t.contains_key(&e.key) {
            return Err(TableError::AlreadyExists { table });
        }
        if t.len() >= NAT_V6_SIZE {
            return Err(TableError::TableFull { table, capacity: NAT_V6_SIZE });
        }
        self.push(Resolved::NatV6(dir, e.key, Some(e.action)));
        set_meta(&mut self.st.meta.nat_v6[dir.idx()], e.key, e.metadata);
        Ok(())
    }

    /// MODIFY in `nat_src_v6` / `nat_dst_v6`.
    pub fn modify_nat_v6(&mut self, dir: NatDir, e: NatEntryV6) -> Result<(), TableError> {
        if !self.t.nat_v6[dir.idx()].contains_key(&e.key) {
            return Err(TableError::NotFound { table: TableId::nat_v6(dir) });
        }
        self.push(Resolved::NatV6(dir, e.key, Some(e.action)));
        set_meta(&mut self.st.meta.nat_v6[dir.idx()], e.key, e.metadata);
        Ok(())
    }

    /// DELETE from `nat_src_v6` / `nat_dst_v6`.
    pub fn delete_nat_v6(&mut self, dir: NatDir, key: &NatKeyV6) -> Result<(), TableError> {
        if !self.t.nat_v6[dir.idx()].contains_key(key) {
            return Err(TableError::NotFound { table: TableId::nat_v6(dir) });
        }
        self.push(Resolved::NatV6(dir, *key, None));
        self.st.meta.nat_v6[dir.idx()].remove(key);
        Ok(())
    }

    /// MODIFY of a v6 NAT table's default action.
    pub fn set_nat_v6_default(&mut self, dir: NatDir, a: NatActionV6) -> Result<(), TableError> {
        self.push(Resolved::NatV6Default(dir, a));
        Ok(())
    }

    // ---- clone sessions ----

    /// INSERT of a clone session.
    pub fn insert_clone_session(&mut self, e: CloneSessionEntry) -> Result<(), TableError> {
        check_session(&e)?;
        if self.t.sessions[usize::from(e.session_id)].is_some() {
            return Err(TableError::AlreadyExists { table: TableId::CloneSessions });
        }
        self.push(Resolved::Session(e.session_id, Some(e.session)));
        Ok(())
    }

    /// MODIFY of a clone session.
    pub fn modify_clone_session(&mut self, e: CloneSessionEntry) -> Result<(), TableError> {
        check_session(&e)?;
        if self.t.sessions[usize::from(e.session_id)].is_none() {
            return Err(TableError::NotFound { table: TableId::CloneSessions });
        }
        self.push(Resolved::Session(e.session_id, Some(e.session)));
        Ok(())
    }

    /// DELETE of a clone session.
    pub fn delete_clone_session(&mut self, session_id: u16) -> Result<(), TableError> {
        let bad = session_id > MAX_SESSION_ID;
        if bad || self.t.sessions[usize::from(session_id)].is_none() {
            return Err(TableError::NotFound { table: TableId::CloneSessions });
        }
        self.push(Resolved::Session(session_id, None));
        Ok(())
    }

    // ---- counters and registers (immediate) ----

    /// Sets one cell of a member-indexed counter (immediate, not double-buffered).
    /// Zeroing a member's `clones_emitted` cell also zeroes its backend
    /// diagnostics ([`Diag`]), which count failures among those emitted clones.
    pub fn write_counter(&mut self, c: Counter, index: u32, v: CounterValue) -> Result<(), TableError> {
        let i = check_index("counter index", index, COUNTER_SIZE)?;
        self.counters.write(layout::member(c, i), v);
        reset_diags_with(self.counters, c, index, v);
        Ok(())
    }

    /// Sets a `clone_classify_v4` entry's direct counter.
    pub fn write_classify_v4_counter(
        &mut self,
        key: &ClassifyKeyV4,
        priority: i32,
        v: CounterValue,
    ) -> Result<(), TableError> {
        check_ternary_v4(key)?;
        let (mask, key) = pack_v4(key);
        let Some(s) = self.t.classify_v4.find(&mask, &key, priority) else {
            return Err(TableError::NotFound { table: TableId::ClassifyV4 });
        };
        self.counters.write(layout::DIRECT_V4 + s.handle as usize, v);
        Ok(())
    }

    /// Sets a `clone_classify_v6` entry's direct counter.
    pub fn write_classify_v6_counter(
        &mut self,
        key: &ClassifyKeyV6,
        priority: i32,
        v: CounterValue,
    ) -> Result<(), TableError> {
        check_ternary_v6(key)?;
        let (mask, key) = pack_v6(key);
        let Some(s) = self.t.classify_v6.find(&mask, &key, priority) else {
            return Err(TableError::NotFound { table: TableId::ClassifyV6 });
        };
        self.counters.write(layout::DIRECT_V6 + s.handle as usize, v);
        Ok(())
    }

    /// Sets one `rr_cursor` cell (immediate).
    pub fn write_rr_cursor(&mut self, index: u32, value: u16) -> Result<(), TableError> {
        let i = check_index("rr_cursor index", index, RR_CURSOR_SIZE)?;
        self.rr.set(i, value);
        Ok(())
    }
}

fn check_index(field: &'static str, index: u32, size: usize) -> Result<usize, TableError> {
    let i = index as usize;
    if i >= size {
        return Err(range_err(TableId::State, field, index.into(), (size - 1) as u128));
    }
    Ok(i)
}

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

impl Pipeline {
    /// An empty pipeline: no entries, the program's default actions (`wire_drop`,
    /// `classify_miss`, `clone_rewrite_miss`, `nat_miss`), counters and registers zero.
    pub fn new() -> Self {
        let build = FastBuild::random();
        let (tables, token) = LeftRight::new(|| Tables::new(build));
        Pipeline {
            tables,
            writer: Mutex::new(Writer {
                token,
                st: WriterState {
                    log: Vec::new(),
                    v4: HandleAlloc::new(CLASSIFY_V4_SIZE),
                    v6: HandleAlloc::new(CLASSIFY_V6_SIZE),
                    seq: 0,
                    meta: Metadata::default(),
                },
            }),
            counters: CounterStore::new(),
            rr: RrCursor::new(),
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ------------------------------------------------------------------ writes

    /// Runs one write batch. `f` applies operations through the [`WriteBatch`]; each
    /// one succeeds or fails on its own (CONTINUE_ON_ERROR). When `f` returns, or
    /// panics, every successful table operation becomes visible to packets at once.
    /// Batches are serialised with each other and with the read methods: do not call
    /// `write` or a table read method of the same pipeline from inside `f` (it would
    /// deadlock). `process_burst` may run concurrently, on any thread.
    ///
    /// ```
    /// use p4clone_pipeline::{Pipeline, WireEntry, WireAction};
    /// let p = Pipeline::new();
    /// p.write(|b| {
    ///     b.insert_wire(WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] })?;
    ///     b.insert_wire(WireEntry { ingress_port: 2, action: WireAction::Forward(1), metadata: vec![] })
    /// })
    /// .unwrap();
    /// ```
    pub fn write<R>(&self, f: impl FnOnce(&mut WriteBatch<'_>) -> R) -> R {
        let mut commit = Commit { p: self, w: self.lock_writer() };
        let Writer { token, st } = &mut *commit.w;
        let mut batch = WriteBatch { t: self.tables.back_mut(token), st, counters: &self.counters, rr: &self.rr };
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

    // ------------------------------------------------------------------- reads

    fn read_tables<R>(&self, f: impl FnOnce(&Tables, &WriterState) -> R) -> R {
        let w = self.lock_writer();
        f(self.tables.back(&w.token), &w.st)
    }

    /// Entry counts of all tables.
    pub fn table_sizes(&self) -> TableSizes {
        self.read_tables(|t, _| TableSizes {
            wire: t.wire_len,
            classify_v4: t.classify_v4.len(),
            classify_v6: t.classify_v6.len(),
            rewrite: t.rewrite_len,
            nat_v4: [t.nat_v4[0].len(), t.nat_v4[1].len()],
            nat_v6: [t.nat_v6[0].len(), t.nat_v6[1].len()],
            clone_sessions: t.sessions_len,
        })
    }

    /// All `wire` entries, by port.
    pub fn wire_entries(&self) -> Vec<WireEntry> {
        self.read_tables(|t, st| {
            t.wire
                .iter()
                .enumerate()
                .filter_map(|(p, a)| {
                    let p = p as Port;
                    a.map(|action| WireEntry {
                        ingress_port: p,
                        action,
                        metadata: st.meta.wire.get(&p).cloned().unwrap_or_default(),
                    })
                })
                .collect()
        })
    }

    /// One `wire` entry.
    pub fn wire_entry(&self, ingress_port: Port) -> Option<WireEntry> {
        self.read_tables(|t, st| {
            let action = (*t.wire.get(usize::from(ingress_port))?)?;
            Some(WireEntry {
                ingress_port,
                action,
                metadata: st.meta.wire.get(&ingress_port).cloned().unwrap_or_default(),
            })
        })
    }

    /// `wire`'s default action.
    pub fn wire_default(&self) -> WireAction {
        self.read_tables(|t, _| t.wire_default)
    }

    fn v4_record(&self, st: &WriterState, mask: &PackedV4, key: &PackedV4, s: &Slot) -> ClassifyRecord<ClassifyKeyV4> {
        ClassifyRecord {
            entry: ClassifyEntry {
                key: unpack_v4(mask, key),
                priority: s.prio,
                action: s.action,
                metadata: st.meta.v4.get(&s.handle).cloned().unwrap_or_default(),
            },
            counter: self.counters.read(layout::DIRECT_V4 + s.handle as usize),
        }
    }

    fn v6_record(&self, st: &WriterState, mask: &PackedV6, key: &PackedV6, s: &Slot) -> ClassifyRecord<ClassifyKeyV6> {
        ClassifyRecord {
            entry: ClassifyEntry {
                key: unpack_v6(mask, key),
                priority: s.prio,
                action: s.action,
                metadata: st.meta.v6.get(&s.handle).cloned().unwrap_or_default(),
            },
            counter: self.counters.read(layout::DIRECT_V6 + s.handle as usize),
        }
    }

    /// All `clone_classify_v4` entries with their direct counters, in insertion order.
    pub fn classify_v4_entries(&self) -> Vec<ClassifyRecord<ClassifyKeyV4>> {
        self.read_tables(|t, st| {
            let mut v = Vec::with_capacity(t.classify_v4.len());
            let tt = &t.classify_v4;
            tt.for_each(|m, k, s| v.push((tt.seq(s.handle), *m, *k, *s)));
            v.sort_unstable_by_key(|e| e.0);
            let counters = self.counters.read_cells(v.iter().map(|(_, _, _, s)| layout::DIRECT_V4 + s.handle as usize));
            v.iter()
                .zip(counters)
                .map(|((_, m, k, s), counter)| ClassifyRecord {
                    entry: ClassifyEntry {
                        key: unpack_v4(m, k),
                        priority: s.prio,
                        action: s.action,
                        metadata: st.meta.v4.get(&s.handle).cloned().unwrap_or_default(),
                    },
                    counter,
                })
                .collect()
        })
    }

    /// One `clone_classify_v4` entry (identity: key and priority).
    pub fn classify_v4_entry(&self, key: &ClassifyKeyV4, priority: i32) -> Option<ClassifyRecord<ClassifyKeyV4>> {
        let (m, k) = pack_v4(key);
        self.read_tables(|t, st| {
            let s = t.classify_v4.find(&m, &k, priority)?;
            Some(self.v4_record(st, &m, &k, s))
        })
    }

    /// `clone_classify_v4`'s default action.
    pub fn classify_v4_default(&self) -> ClassifyAction {
        self.read_tables(|t, _| t.classify_v4_default)
    }

    /// All `clone_classify_v6` entries with their direct counters, in insertion order.
    pub fn classify_v6_entries(&self) -> Vec<ClassifyRecord<ClassifyKeyV6>> {
        self.read_tables(|t, st| {
            let mut v = Vec::with_capacity(t.classify_v6.len());
            let tt = &t.classify_v6;
            tt.for_each(|m, k, s| v.push((tt.seq(s.handle), *m, *k, *s)));
            v.sort_unstable_by_key(|e| e.0);
            let counters = self.counters.read_cells(v.iter().map(|(_, _, _, s)| layout::DIRECT_V6 + s.handle as usize));
            v.iter()
                .zip(counters)
                .map(|((_, m, k, s), counter)| ClassifyRecord {
                    entry: ClassifyEntry {
                        key: unpack_v6(m, k),
                        priority: s.prio,
                        action: s.action,
                        metadata: st.meta.v6.get(&s.handle).cloned().unwrap_or_default(),
                    },
                    counter,
                })
                .collect()
        })
    }

    /// One `clone_classify_v6` entry.
    pub fn classify_v6_entry(&self, key: &ClassifyKeyV6, priority: i32) -> Option<ClassifyRecord<ClassifyKeyV6>> {
        let (m, k) = pack_v6(key);
        self.read_tables(|t, st| {
            let s = t.classify_v6.find(&m, &k, priority)?;
            Some(self.v6_record(st, &m, &k, s))
        })
    }

    /// `clone_classify_v6`'s default action.
    pub fn classify_v6_default(&self) -> ClassifyAction {
        self.read_tables(|t, _| t.classify_v6_default)
    }

    /// All `clone_rewrite` entries, by member.
    pub fn rewrite_entries(&self) -> Vec<RewriteEntry> {
        self.read_tables(|t, st| {
            t.members
                .iter()
                .enumerate()
                .filter_map(|(m, f)| {
                    let member = m as u16;
                    f.rewrite.map(|action| RewriteEntry {
                        member,
                        action,
                        metadata: st.meta.rewrite.get(&member).cloned().unwrap_or_default(),
                    })
                })
                .collect()
        })
    }

    /// One `clone_rewrite` entry.
    pub fn rewrite_entry(&self, member: u16) -> Option<RewriteEntry> {
        self.read_tables(|t, st| {
            let action = t.members[usize::from(member)].rewrite?;
            Some(RewriteEntry { member, action, metadata: st.meta.rewrite.get(&member).cloned().unwrap_or_default() })
        })
    }

    /// `clone_rewrite`'s default action.
    pub fn rewrite_default(&self) -> RewriteAction {
        self.read_tables(|t, _| t.rewrite_default)
    }

    /// All entries of `nat_src_v4` or `nat_dst_v4`, sorted by key.
    pub fn nat_v4_entries(&self, dir: NatDir) -> Vec<NatEntryV4> {
        self.read_tables(|t, st| {
            let mut v: Vec<NatEntryV4> = t.nat_v4[dir.idx()]
                .iter()
                .map(|(k, a)| NatEntry {
                    key: *k,
                    action: *a,
                    metadata: st.meta.nat_v4[dir.idx()].get(k).cloned().unwrap_or_default(),
                })
                .collect();
            v.sort_by_key(|e| (e.key.addr, e.key.port, e.key.protocol));
            v
        })
    }

    /// One entry of `nat_src_v4` or `nat_dst_v4`.
    pub fn nat_v4_entry(&self, dir: NatDir, key: &NatKeyV4) -> Option<NatEntryV4> {
        self.read_tables(|t, st| {
            let a = t.nat_v4[dir.idx()].get(key)?;
            Some(NatEntry {
                key: *key,
                action: *a,
                metadata: st.meta.nat_v4[dir.idx()].get(key).cloned().unwrap_or_default(),
            })
        })
    }

    /// Default action of `nat_src_v4` or `nat_dst_v4`.
    pub fn nat_v4_default(&self, dir: NatDir) -> NatActionV4 {
        self.read_tables(|t, _| t.nat_v4_default[dir.idx()])
    }

    /// All entries of `nat_src_v6` or `nat_dst_v6`, sorted by key.
    pub fn nat_v6_entries(&self, dir: NatDir) -> Vec<NatEntryV6> {
        self.read_tables(|t, st| {
            let mut v: Vec<NatEntryV6> = t.nat_v6[dir.idx()]
                .iter()
                .map(|(k, a)| NatEntry {
                    key: *k,
                    action: *a,
                    metadata: st.meta.nat_v6[dir.idx()].get(k).cloned().unwrap_or_default(),
                })
                .collect();
            v.sort_by_key(|e| (e.key.addr, e.key.port, e.key.next_header));
            v
        })
    }

    /// One entry of `nat_src_v6` or `nat_dst_v6`.
    pub fn nat_v6_entry(&self, dir: NatDir, key: &NatKeyV6) -> Option<NatEntryV6> {
        self.read_tables(|t, st| {
            let a = t.nat_v6[dir.idx()].get(key)?;
            Some(NatEntry {
                key: *key,
                action: *a,
                metadata: st.meta.nat_v6[dir.idx()].get(key).cloned().unwrap_or_default(),
            })
        })
    }

    /// Default action of `nat_src_v6` or `nat_dst_v6`.
    pub fn nat_v6_default(&self, dir: NatDir) -> NatActionV6 {
        self.read_tables(|t, _| t.nat_v6_default[dir.idx()])
    }

    /// All clone sessions, by id.
    pub fn clone_sessions(&self) -> Vec<CloneSessionEntry> {
        self.read_tables(|t, _| {
            t.sessions
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
        self.read_tables(|t, _| t.sessions.get(usize::from(session_id))?.clone())
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

    // -------------------------------------------------------------- processing

    /// Processes a burst of frames, replacing the contents of `out` with what leaves
    /// the pipeline (see [`EmitBatch`] for the order). All frames of a burst see the
    /// same table state. Never panics and, once `out` has grown to the burst's
    /// needs, does not allocate.
    ///
    /// Frames are handled in groups of [`BURST`] and in four passes, so that the
    /// cache misses of different frames overlap: (1) `wire`, parse, hash the classify
    /// key, prefetch the hash groups; (2) prefetch the candidate entries and rule out
    /// certain misses; (3) in frame order: look up, select the member (round robin or
    /// flow hash), prefetch the counters, session and rewrite entry it will use;
    /// (4) in frame order: count, clone, egress, emit.
    pub fn process_burst(&self, frames: &[RxFrame<'_>], out: &mut EmitBatch) {
        out.clear();
        if !out.lease.as_ref().is_some_and(|l| l.belongs_to(&self.counters)) {
            out.lease = Some(self.counters.lease());
        }
        let EmitBatch { emits, arena, lease, stages } = out;
        let Some(lease) = lease.as_ref() else {
            return;
        };
        emits.reserve(frames.len() * 2);
        arena.reserve(frames.len() * 64);
        let shard = &*lease.shard;
        let t = self.tables.read(lease.stripe);
        let t: &Tables = &t;
        for (c, chunk) in frames.chunks(BURST).enumerate() {
            stages.clear();
            for f in chunk {
                stages.push(stage_parse(t, shard, f));
            }
            for st in stages.iter_mut() {
                let maybe = match st.key {
                    StageKey::V4 => t.classify_v4.prefetch_slots(&st.hashes),
                    StageKey::V6 => t.classify_v6.prefetch_slots(&st.hashes),
                    StageKey::None => continue,
                };
                st.maybe = maybe.unwrap_or(u8::MAX);
            }
            for (st, f) in stages.iter_mut().zip(chunk) {
                self.stage_select(t, shard, f.data, st);
            }
            for (i, (st, f)) in stages.iter().zip(chunk).enumerate() {
                let idx = (c * BURST + i) as u32;
                self.finish_frame(t, shard, idx, f, st, emits, arena);
            }
        }
    }

    /// Pass 3: classify lookup, member selection, prefetches for pass 4.
    #[inline]
    fn stage_select(&self, t: &Tables, shard: &Shard, data: &[u8], st: &mut Stage) {
        let p = &st.parsed;
        let (hit, default) = match st.key {
            StageKey::None => return,
            StageKey::V4 => {
                let hit = if st.maybe == 0 {
                    None
                } else {
                    t.classify_v4.lookup_hashed(&key_v4(data, p), &st.hashes, st.maybe)
                };
                (hit.map(|s| (layout::DIRECT_V4, s)), t.classify_v4_default)
            }
            StageKey::V6 => {
                let hit = if st.maybe == 0 {
                    None
                } else {
                    t.classify_v6.lookup_hashed(&key_v6(data, p), &st.hashes, st.maybe)
                };
                (hit.map(|s| (layout::DIRECT_V6, s)), t.classify_v6_default)
            }
        };
        let action = match hit {
            Some((base, s)) => {
                let cell = base + s.handle as usize;
                shard.prefetch(cell);
                st.direct = cell as u32;
                s.action
            }
            None => default,
        };
        let ClassifyAction::Hit { first_member, member_count, mode } = action else {
            return;
        };
        if member_count == 0 {
            return;
        }
        let offset = if mode == MODE_FLOW_HASH {
            let h = match st.key {
                StageKey::V6 => {
                    let k = key_v6(data, p);
                    hash::flow_hash_v6(k.src, p.l4_src_port, k.dst, p.l4_dst_port, p.ip_proto)
                }
                _ => {
                    let k = key_v4(data, p);
                    hash::flow_hash_v4(k.src(), p.l4_src_port, k.dst(), p.l4_dst_port, p.ip_proto)
                }
            };
            hash::member_offset(h, member_count)
        } else {
            self.rr.step(first_member, member_count)
        };
        let member = first_member.wrapping_add(offset);
        st.member = Some(member);
        let m = usize::from(member);
        // One line of counters, one line of session + rewrite entry (the replica's
        // instance is normally the member id).
        shard.prefetch(layout::member(Counter::ClonesRequested, m));
        if let Some(f) = t.members.get(m & 0x7FFF) {
            prefetch(f);
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn finish_frame(
        &self,
        t: &Tables,
        shard: &Shard,
        idx: u32,
        f: &RxFrame<'_>,
        st: &Stage,
        emits: &mut Vec<Emit>,
        arena: &mut Vec<u8>,
    ) {
        if !st.valid_port {
            return;
        }
        let len = f.data.len() as u64;
        if st.direct != NO_CELL {
            shard.add(st.direct as usize, len);
        }
        if let Some(member) = st.member {
            self.clone_member(t, shard, idx, f.data, &st.parsed, member, emits, arena);
        }
        let port = usize::from(f.port);
        if st.egress == DROP_PORT {
            shard.add(layout::PORT_DROP + port, len);
        } else {
            emits.push(Emit { port: st.egress, input: idx, kind: EmitKind::Original });
            shard.add(layout::PORT_TX + usize::from(st.egress), len);
        }
    }

    /// `clones_requested.count(member)` and the I2E clone to session `member`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn clone_member(
        &self,
        t: &Tables,
        shard: &Shard,
        idx: u32,
        data: &[u8],
        p: &ParsedFrame,
        member: u16,
        emits: &mut Vec<Emit>,
        arena: &mut Vec<u8>,
    ) {
        let len = data.len() as u64;
        if usize::from(member) < COUNTER_SIZE {
            shard.add(layout::member(Counter::ClonesRequested, member.into()), len);
        }
        // BMv2 keeps 15 bits of the session id (bit 15 marks "clone requested").
        let session_id = usize::from(member & 0x7FFF);
        let Some(s) = t.members.get(session_id).map(|f| f.session).filter(|s| s.present) else {
            shard.add(layout::member(Counter::CloneNoSession, session_id), len);
            return;
        };
        let plb = s.packet_length_bytes;
        if s.replicas == 1 {
            let r = Replica { egress_port: s.port, instance: s.instance };
            self.egress_clone(t, shard, idx, data, p, &r, plb, emits, arena);
        } else if let Some(Some(full)) = t.sessions.get(session_id) {
            for r in &full.replicas {
                self.egress_clone(t, shard, idx, data, p, r, plb, emits, arena);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn egress_clone(
        &self,
        t: &Tables,
        shard: &Shard,
        idx: u32,
        data: &[u8],
        p: &ParsedFrame,
        r: &Replica,
        packet_length_bytes: u32,
        emits: &mut Vec<Emit>,
        arena: &mut Vec<u8>,
    ) {
        let len = data.len() as u64;
        let rid = r.instance;
        let counted = usize::from(rid) < COUNTER_SIZE;
        let (hit, action) = match t.members.get(usize::from(rid)).and_then(|f| f.rewrite) {
            Some(a) => (true, a),
            None => (false, t.rewrite_default),
        };
        // Metadata starts zeroed for a clone; `clone_rewrite_set` assigns it,
        // `clone_rewrite_miss` marks the clone to drop.
        let (params, dropped) = match action {
            RewriteAction::Set(params) => (params, false),
            RewriteAction::Miss => (RewriteParams::default(), true),
        };
        if hit && counted {
            shard.add(layout::member(Counter::ClonesEmitted, rid.into()), len);
        }
        if dropped {
            if !hit && counted {
                shard.add(layout::member(Counter::CloneRewriteMiss, rid.into()), len);
            }
            return;
        }
        if r.egress_port == DROP_PORT {
            return;
        }
        let cut = |total: usize, truncate_len: u16| {
            let mut n = total;
            if truncate_len != 0 {
                n = n.min(usize::from(truncate_len));
            }
            if packet_length_bytes != 0 {
                n = n.min(packet_length_bytes as usize);
            }
            n
        };
        let head_start = arena.len();
        let tail_offset = if hit {
            let Ok(eth) = EthernetFrame::new_checked(data) else {
                return;
            };
            let old_l2 = usize::from(p.l2_len);
            let vid = params.vlan_id & 0x0FFF;
            let inner_type: [u8; 2] = if p.vlan {
                match data.get(16..18) {
                    Some(b) => [b[0], b[1]],
                    None => return,
                }
            } else {
                eth.ethertype().to_be_bytes()
            };
            let mut l2 = [0u8; 18];
            l2[0..6].copy_from_slice(&params.dst_mac);
            l2[6..12].copy_from_slice(&params.src_mac);
            let l2_len = if vid == 0 {
                l2[12..14].copy_from_slice(&inner_type);
                14
            } else {
                let tci = if p.vlan {
                    let old = data.get(14..16).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                    (old & 0xF000) | vid
                } else {
                    vid
                };
                l2[12..14].copy_from_slice(&wire::ethertype::VLAN.to_be_bytes());
                l2[14..16].copy_from_slice(&tci.to_be_bytes());
                l2[16..18].copy_from_slice(&inner_type);
                18
            };
            // Constant-size copy (no memmove call), then drop the unused tag bytes.
            arena.extend_from_slice(&l2);
            arena.truncate(arena.len() - (18 - l2_len));
            if params.nat_restore && nat_restore(t, data, p, arena) {
                p.l4_end()
            } else {
                old_l2
            }
        } else {
            // The default action let the clone through: no rewrite, no truncate().
            0
        };
        let head_len = arena.len() - head_start;
        let total = head_len + data.len().saturating_sub(tail_offset);
        let n = cut(total, if hit { params.truncate_len } else { 0 });
        emits.push(Emit {
            port: r.egress_port,
            input: idx,
            kind: EmitKind::Clone(CloneFrame {
                member: rid,
                head_start: head_start as u32,
                head_len: head_len as u32,
                tail_offset: tail_offset as u32,
                len: n as u32,
            }),
        });
        shard.add(layout::PORT_TX + usize::from(r.egress_port), n as u64);
    }
}

/// Which classify table a frame goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StageKey {
    /// Not classified (wire miss, no TCP/UDP).
    None,
    /// `clone_classify_v4`.
    V4,
    /// `clone_classify_v6`.
    V6,
}

/// Per-frame state carried between the passes of a burst (56 bytes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stage {
    valid_port: bool,
    key: StageKey,
    /// Stage-2 result: bit i set = tuple i may hold the key.
    maybe: u8,
    egress: Port,
    /// Direct counter cell to count, or [`NO_CELL`].
    direct: u32,
    /// Member selected in pass 3 (a clone is requested).
    member: Option<u16>,
    parsed: ParsedFrame,
    hashes: Hashes,
}

const NO_CELL: u32 = u32::MAX;

#[inline(always)]
fn key_v4(data: &[u8], p: &ParsedFrame) -> PackedV4 {
    let (src, dst) = wire::ipv4_addrs(data, p).unwrap_or_default();
    PackedV4::new(src, dst, p.ip_proto, p.l4_src_port, p.l4_dst_port)
}

#[inline(always)]
fn key_v6(data: &[u8], p: &ParsedFrame) -> PackedV6 {
    let (src, dst) = wire::ipv6_addrs(data, p).unwrap_or_default();
    PackedV6::new(src, dst, p.ip_proto, p.l4_src_port, p.l4_dst_port)
}

/// Pass 1: rx counter, `wire`, parser, classify key, prefetch of the hash groups.
#[inline]
fn stage_parse(t: &Tables, shard: &Shard, f: &RxFrame<'_>) -> Stage {
    let port = usize::from(f.port);
    let mut st = Stage {
        valid_port: false,
        key: StageKey::None,
        maybe: u8::MAX,
        egress: DROP_PORT,
        direct: NO_CELL,
        member: None,
        parsed: ParsedFrame::default(),
        hashes: [0; PREFETCH_TUPLES],
    };
    let Some(w) = t.wire_fast.get(port) else {
        return st;
    };
    st.valid_port = true;
    st.egress = w.egress;
    shard.add(layout::PORT_RX + port, f.data.len() as u64);
    if !w.hit {
        return st;
    }
    let p = wire::parse(f.data);
    st.parsed = p;
    if !p.l4_valid() {
        return st;
    }
    match p.l3 {
        L3::Ipv4 { .. } => {
            st.hashes = t.classify_v4.hash_and_prefetch(&key_v4(f.data, &p));
            st.key = StageKey::V4;
        }
        L3::Ipv6 { .. } => {
            st.hashes = t.classify_v6.hash_and_prefetch(&key_v6(f.data, &p));
            st.key = StageKey::V6;
        }
        L3::None => {}
    }
    st
}

/// The NAT restore of the egress block. Appends the rewritten L3+L4 headers to `arena`
/// and returns true when a NAT table hit; leaves `arena` alone and returns false
/// otherwise.
///
/// Literal v1model semantics: `meta.nat_addr`/`meta.nat_port` start at zero and are
/// assigned by `nat_set_*` (entry or default action); the rewrite runs only on an
/// entry hit, `nat_src_*` first, then `nat_dst_*` (keyed on the original destination).
/// Checksums: IPv4 header `update32(addr)`; TCP, or UDP when its checksum is not 0,
/// one update over the address words and the port together, source before
/// destination, exactly as the P4 program sums them; a UDP result of 0 is written as
/// 0xFFFF (RFC 768).
fn nat_restore(t: &Tables, data: &[u8], p: &ParsedFrame, arena: &mut Vec<u8>) -> bool {
    let l3 = usize::from(p.l3_offset);
    let l4 = usize::from(p.l4_offset);
    let end = p.l4_end();
    let Some(hdrs) = data.get(l3..end) else {
        return false;
    };
    let (sport, dport, proto) = (p.l4_src_port, p.l4_dst_port, p.ip_proto);
    let csum_off = match p.l4 {
        L4::Tcp => 16,
        L4::Udp => 6,
        L4::None => return false,
    };
    let l4_rel = l4 - l3;
    match p.l3 {
        L3::Ipv4 { .. } => {
            let Ok(ip) = Ipv4Packet::new_checked(hdrs) else {
                return false;
            };
            let (src, dst) = (ip.src(), ip.dst());
            let mut meta = (0u32, 0u16);
            let mut lookup = |dir: NatDir, key: NatKeyV4| -> Option<(u32, u16)> {
                let hit = t.nat_v4[dir.idx()].get(&key);
                let action = hit.copied().unwrap_or(t.nat_v4_default[dir.idx()]);
                if let NatAction::Set { client_addr, client_port } = action {
                    meta = (client_addr, client_port);
                }
                hit.map(|_| meta)
            };
            let new_src = lookup(NatDir::Src, NatKeyV4 { addr: src, port: sport, protocol: proto });
            let new_dst = lookup(NatDir::Dst, NatKeyV4 { addr: dst, port: dport, protocol: proto });
            if new_src.is_none() && new_dst.is_none() {
                return false;
            }
            let start = arena.len();
            arena.extend_from_slice(hdrs);
            let h = &mut arena[start..];
            let (ip_h, l4_h) = h.split_at_mut(l4_rel);
            let Ok(mut ip) = Ipv4Packet::new_checked(ip_h) else {
                return true;
            };
            let mut ip_csum = ip.checksum();
            let old_l4 = u16::from_be_bytes([l4_h[csum_off], l4_h[csum_off + 1]]);
            let do_l4 = p.l4 == L4::Tcp || old_l4 != 0;
            let mut l4_csum = old_l4;
            let is_udp = p.l4 == L4::Udp;
            let fix_udp = |c: u16| if is_udp { csum::udp_nonzero(c) } else { c };
            if let Some((a, port)) = new_src {
                ip_csum = csum::update32(ip_csum, src, a);
                ip.set_src(a);
                if do_l4 {
                    l4_csum = fix_udp(csum::update_addr_port32(l4_csum, src, a, sport, port));
                }
                l4_h[0..2].copy_from_slice(&port.to_be_bytes());
            }
            if let Some((a, port)) = new_dst {
                ip_csum = csum::update32(ip_csum, dst, a);
                ip.set_dst(a);
                if do_l4 {
                    l4_csum = fix_udp(csum::update_addr_port32(l4_csum, dst, a, dport, port));
                }
                l4_h[2..4].copy_from_slice(&port.to_be_bytes());
            }
            ip.set_checksum(ip_csum);
            l4_h[csum_off..csum_off + 2].copy_from_slice(&l4_csum.to_be_bytes());
            true
        }
        L3::Ipv6 { .. } => {
            let Ok(ip) = Ipv6Packet::new_checked(hdrs) else {
                return false;
            };
            let (src, dst) = (ip.src(), ip.dst());
            let mut meta = (0u128, 0u16);
            let mut lookup = |dir: NatDir, key: NatKeyV6| -> Option<(u128, u16)> {
                let hit = t.nat_v6[dir.idx()].get(&key);
                let action = hit.copied().unwrap_or(t.nat_v6_default[dir.idx()]);
                if let NatAction::Set { client_addr, client_port } = action {
                    meta = (client_addr, client_port);
                }
                hit.map(|_| meta)
            };
            let new_src = lookup(NatDir::Src, NatKeyV6 { addr: src, port: sport, next_header: proto });
            let new_dst = lookup(NatDir::Dst, NatKeyV6 { addr: dst, port: dport, next_header: proto });
            if new_src.is_none() && new_dst.is_none() {
                return false;
            }
            let start = arena.len();
            arena.extend_from_slice(hdrs);
            let h = &mut arena[start..];
            let (ip_h, l4_h) = h.split_at_mut(l4_rel);
            let Ok(mut ip) = Ipv6Packet::new_checked(ip_h) else {
                return true;
            };
            let old_l4 = u16::from_be_bytes([l4_h[csum_off], l4_h[csum_off + 1]]);
            let do_l4 = p.l4 == L4::Tcp || old_l4 != 0;
            let mut l4_csum = old_l4;
            let is_udp = p.l4 == L4::Udp;
            let fix_udp = |c: u16| if is_udp { csum::udp_nonzero(c) } else { c };
            if let Some((a, port)) = new_src {
                ip.set_src(a);
                if do_l4 {
                    l4_csum = fix_udp(csum::update_addr_port128(l4_csum, src, a, sport, port));
                }
                l4_h[0..2].copy_from_slice(&port.to_be_bytes());
            }
            if let Some((a, port)) = new_dst {
                ip.set_dst(a);
                if do_l4 {
                    l4_csum = fix_udp(csum::update_addr_port128(l4_csum, dst, a, dport, port));
                }
                l4_h[2..4].copy_from_slice(&port.to_be_bytes());
            }
            l4_h[csum_off..csum_off + 2].copy_from_slice(&l4_csum.to_be_bytes());
            true
        }
        L3::None => false,
    }
}
