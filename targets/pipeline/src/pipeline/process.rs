//! The packet path: [`Pipeline::process_burst`] and the per-worker state it uses.

use super::nat_restore::nat_restore;
use super::{Pipeline, BURST};
use crate::emit::{CloneFrame, Emit, EmitBatch, EmitKind, RxFrame};
use crate::encap::{self, OuterL2, PerCopy};
use crate::hash;
use crate::mem::prefetch;
use crate::state::{layout, Counter, ErspanSeq, Shard, ShardLease, COUNTER_SIZE};
use crate::table::instance::{FamilyTables, Tables};
use crate::table::ternary::{Hashes, PREFETCH_TUPLES};
use crate::table::{
    ClassifyAction, EncapAction, Family, Replica, RewriteAction, RewriteParams, DROP_PORT, MODE_FLOW_HASH,
    SAMPLE_FLOWS, SAMPLE_ONE_IN, V4, V6,
};
use crate::wire::{self, EthernetFrame, ParsedFrame, L3};
use crate::Port;

/// A packet worker's own state: its counter shard and the per-frame scratch of a
/// burst. Keep one per thread that calls [`Pipeline::process_burst`] and reuse it.
#[derive(Default)]
pub struct WorkerState {
    lease: Option<ShardLease>,
    stages: Vec<Stage>,
}

impl std::fmt::Debug for WorkerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerState").finish_non_exhaustive()
    }
}

impl WorkerState {
    /// A worker state with no shard yet (leased on the first burst).
    pub fn new() -> Self {
        WorkerState { lease: None, stages: Vec::with_capacity(BURST) }
    }
}

/// Which classify table a frame goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StageKey {
    /// Not classified (wire miss, no TCP/UDP).
    None,
    /// `clone_classify_v4`.
    V4,
    /// `clone_classify_v6`.
    V6,
}

/// Per-frame state carried between the passes of a burst (56 bytes).
#[derive(Clone, Copy, Debug)]
struct Stage {
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

/// The classify key of a frame of family `F`, packed.
#[inline(always)]
fn packet_key<F: Family>(data: &[u8], p: &ParsedFrame) -> F::Packed {
    let (src, dst) = F::frame_addrs(data, p);
    F::pack(src, dst, p.ip_proto, p.l4_src_port, p.l4_dst_port)
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
    let Some(w) = t.wire.fast.get(port) else {
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
            st.hashes = V4::classify(t).table.hash_and_prefetch(&packet_key::<V4>(f.data, &p));
            st.key = StageKey::V4;
        }
        L3::Ipv6 { .. } => {
            st.hashes = V6::classify(t).table.hash_and_prefetch(&packet_key::<V6>(f.data, &p));
            st.key = StageKey::V6;
        }
        L3::None => {}
    }
    st
}

/// Pass 2: prefetch the candidate entries, rule out certain misses.
#[inline]
fn stage_prefetch<F: FamilyTables>(t: &Tables, st: &mut Stage) {
    st.maybe = F::classify(t).table.prefetch_slots(&st.hashes).unwrap_or(u8::MAX);
}

impl Pipeline {
    /// Processes a burst of frames, replacing the contents of `out` with what leaves
    /// the pipeline (see [`EmitBatch`] for the order). `worker` is the calling
    /// worker's own state. All frames of a burst see the same table state. Never
    /// panics and, once `out` has grown to the burst's needs, does not allocate.
    ///
    /// Frames are handled in groups of [`BURST`] and in four passes, so that the
    /// cache misses of different frames overlap: (1) `wire`, parse, hash the classify
    /// key, prefetch the hash groups; (2) prefetch the candidate entries and rule out
    /// certain misses; (3) in frame order: look up, select the member (round robin or
    /// flow hash), prefetch the counters, session and rewrite entry it will use;
    /// (4) in frame order: count, clone, egress, emit.
    pub fn process_burst(&self, frames: &[RxFrame<'_>], worker: &mut WorkerState, out: &mut EmitBatch) {
        out.clear();
        if !worker.lease.as_ref().is_some_and(|l| l.belongs_to(&self.counters)) {
            worker.lease = Some(self.counters.lease());
        }
        let WorkerState { lease, stages } = worker;
        let Some(lease) = lease.as_ref() else {
            return;
        };
        let EmitBatch { emits, arena } = out;
        emits.reserve(frames.len() * 2);
        arena.reserve(frames.len() * 64);
        let shard = &*lease.shard;
        let t = self.tables.read(lease.stripe);
        let t: &Tables = &t;
        let mut cx = Egress { t, erspan_seq: &self.erspan_seq, shard, emits, arena };
        for (c, chunk) in frames.chunks(BURST).enumerate() {
            stages.clear();
            for f in chunk {
                stages.push(stage_parse(t, shard, f));
            }
            for st in stages.iter_mut() {
                match st.key {
                    StageKey::V4 => stage_prefetch::<V4>(t, st),
                    StageKey::V6 => stage_prefetch::<V6>(t, st),
                    StageKey::None => {}
                }
            }
            for (st, f) in stages.iter_mut().zip(chunk) {
                match st.key {
                    StageKey::V4 => self.stage_select::<V4>(t, shard, f.data, st),
                    StageKey::V6 => self.stage_select::<V6>(t, shard, f.data, st),
                    StageKey::None => {}
                }
            }
            for (i, (st, f)) in stages.iter().zip(chunk).enumerate() {
                let idx = (c * BURST + i) as u32;
                cx.finish_frame(idx, f, st);
            }
        }
    }

    /// Pass 3: classify lookup, member selection, prefetches for pass 4.
    #[inline]
    fn stage_select<F: FamilyTables>(&self, t: &Tables, shard: &Shard, data: &[u8], st: &mut Stage) {
        let p = &st.parsed;
        let classify = F::classify(t);
        let hit = if st.maybe == 0 {
            None
        } else {
            classify.table.lookup_hashed(&packet_key::<F>(data, p), &st.hashes, st.maybe)
        };
        let action = match hit {
            Some(s) => {
                let cell = F::DIRECT_BASE + s.handle as usize;
                shard.prefetch(cell);
                st.direct = cell as u32;
                s.action
            }
            None => classify.default,
        };
        let (first_member, member_count, mode, sample) = match action {
            ClassifyAction::Hit { first_member, member_count, mode } => (first_member, member_count, mode, None),
            ClassifyAction::HitSampled { first_member, member_count, mode, sample_mode, sample_arg } => {
                (first_member, member_count, mode, Some((sample_mode, sample_arg)))
            }
            ClassifyAction::Skip { first_member } => {
                count_block(shard, Counter::SkippedByFilter, first_member, data.len());
                return;
            }
            ClassifyAction::Miss => return,
        };
        if member_count == 0 {
            return;
        }
        if let Some((sample_mode, arg)) = sample {
            // Before member selection: a packet left out moves no round-robin cursor.
            let sampled = match sample_mode {
                SAMPLE_FLOWS => {
                    let (src, dst) = F::frame_addrs(data, p);
                    hash::sample_bucket(F::sample_hash(src, p.l4_src_port, dst, p.l4_dst_port, p.ip_proto)) < arg
                }
                SAMPLE_ONE_IN => self.sample.step(first_member, arg) == 0,
                _ => true,
            };
            if !sampled {
                count_block(shard, Counter::NotSampled, first_member, data.len());
                return;
            }
        }
        let offset = if mode == MODE_FLOW_HASH {
            let (src, dst) = F::frame_addrs(data, p);
            let h = F::flow_hash(src, p.l4_src_port, dst, p.l4_dst_port, p.ip_proto);
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
        if let Some(f) = t.members.members.get(m & 0x7FFF) {
            prefetch(f);
        }
    }
}

/// Pass 4's view of a burst: the tables, the worker's counters and the output.
struct Egress<'a> {
    t: &'a Tables,
    erspan_seq: &'a ErspanSeq,
    shard: &'a Shard,
    emits: &'a mut Vec<Emit>,
    arena: &'a mut Vec<u8>,
}

impl Egress<'_> {
    /// Pass 4 for one frame: count, clone, egress, emit.
    #[inline(always)]
    fn finish_frame(&mut self, idx: u32, f: &RxFrame<'_>, st: &Stage) {
        if !st.valid_port {
            return;
        }
        let len = f.data.len() as u64;
        if st.direct != NO_CELL {
            self.shard.add(st.direct as usize, len);
        }
        if let Some(member) = st.member {
            self.clone_member(idx, f.data, &st.parsed, member);
        }
        let port = usize::from(f.port);
        if st.egress == DROP_PORT {
            self.shard.add(layout::PORT_DROP + port, len);
        } else {
            self.emits.push(Emit { port: st.egress, input: idx, kind: EmitKind::Original });
            self.shard.add(layout::PORT_TX + usize::from(st.egress), len);
        }
    }

    /// `clones_requested.count(member)` and the I2E clone to session `member`.
    #[inline(always)]
    fn clone_member(&mut self, idx: u32, data: &[u8], p: &ParsedFrame, member: u16) {
        let len = data.len() as u64;
        if usize::from(member) < COUNTER_SIZE {
            self.shard.add(layout::member(Counter::ClonesRequested, member.into()), len);
        }
        // BMv2 keeps 15 bits of the session id (bit 15 marks "clone requested").
        let session_id = usize::from(member & 0x7FFF);
        let t = self.t;
        let Some(s) = t.members.members.get(session_id).map(|f| f.session).filter(|s| s.present) else {
            self.shard.add(layout::member(Counter::CloneNoSession, session_id), len);
            return;
        };
        let plb = s.packet_length_bytes;
        if s.replicas == 1 {
            let r = Replica { egress_port: s.port, instance: s.instance };
            self.egress_clone(idx, data, p, &r, plb);
        } else if let Some(Some(full)) = t.members.sessions.get(session_id) {
            for r in &full.replicas {
                self.egress_clone(idx, data, p, r, plb);
            }
        }
    }

    /// The egress of one clone: `clone_rewrite`, NAT restore, truncation, emit.
    #[inline]
    fn egress_clone(&mut self, idx: u32, data: &[u8], p: &ParsedFrame, r: &Replica, packet_length_bytes: u32) {
        let len = data.len() as u64;
        let rid = r.instance;
        let counted = usize::from(rid) < COUNTER_SIZE;
        let (hit, action) = match self.t.members.members.get(usize::from(rid)).and_then(|f| f.rewrite) {
            Some(a) => (true, a),
            None => (false, self.t.members.rewrite_default),
        };
        // Metadata starts zeroed for a clone; `clone_rewrite_set` assigns it,
        // `clone_rewrite_miss` marks the clone to drop.
        let (params, dropped) = match action {
            RewriteAction::Set(params) => (params, false),
            RewriteAction::Miss => (RewriteParams::default(), true),
        };
        if hit && counted {
            self.shard.add(layout::member(Counter::ClonesEmitted, rid.into()), len);
        }
        if dropped {
            if !hit && counted {
                self.shard.add(layout::member(Counter::CloneRewriteMiss, rid.into()), len);
            }
            return;
        }
        if r.egress_port == DROP_PORT {
            return;
        }
        if hit {
            let a = self.t.encap.action(rid);
            if let Some(overhead) = encap::overhead(&a) {
                self.egress_encap(idx, data, p, r, &params, &a, overhead, packet_length_bytes);
                return;
            }
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
        let arena = &mut *self.arena;
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
            if params.nat_restore && nat_restore(self.t, data, p, arena) {
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
        self.emits.push(Emit {
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
        self.shard.add(layout::PORT_TX + usize::from(r.egress_port), n as u64);
    }

    /// The egress of an encapsulated clone (`clone_encap` hit): the original frame,
    /// NAT-restored if asked, behind outer L2 (the rewrite's MACs and VLAN), IPv4 and
    /// tunnel headers; cut to `truncate_len` and to the MTU, counted in `truncated_mtu`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn egress_encap(
        &mut self,
        idx: u32,
        data: &[u8],
        p: &ParsedFrame,
        r: &Replica,
        params: &RewriteParams,
        a: &EncapAction,
        overhead: u16,
        packet_length_bytes: u32,
    ) {
        let rid = r.instance;
        // `(bit<16>)standard_metadata.packet_length`: the original's ingress length.
        let frame_len = data.len() as u16;
        let len = encap::lengths(frame_len, params.truncate_len, a.mtu(), overhead);
        if len.mtu_cut && usize::from(rid) < COUNTER_SIZE {
            self.shard.add(layout::member(Counter::TruncatedMtu, rid.into()), data.len() as u64);
        }
        let l2 = OuterL2 { dst: params.dst_mac, src: params.src_mac, vid: params.vlan_id & 0x0FFF };
        let mut c = PerCopy::default();
        match a {
            EncapAction::Vxlan { .. } => c.sport = encap_sport(data, p),
            EncapAction::Erspan { .. } => {
                c.seq = self.erspan_seq.next(rid);
                // Only ERSPAN carries the original VLAN.
                c.inner_tci = if p.vlan { data.get(14..16).map(|b| u16::from_be_bytes([b[0], b[1]])) } else { None };
            }
            EncapAction::Gre { .. } | EncapAction::None => {}
        }
        let arena = &mut *self.arena;
        let head_start = arena.len();
        encap::push_outer(arena, &l2, a, &len, &c);
        let old_l2 = usize::from(p.l2_len);
        arena.extend_from_slice(data.get(..old_l2).unwrap_or(&[]));
        let tail_offset = if params.nat_restore && nat_restore(self.t, data, p, arena) { p.l4_end() } else { old_l2 };
        let head_len = arena.len() - head_start;
        let outer_len = usize::from(l2.len()) + usize::from(overhead);
        let full = outer_len + data.len();
        // `truncate(outer_l2_len + encap_len + kept_len)` when something was cut
        // (16-bit sum, as in the program).
        let mut n = if len.kept != frame_len {
            full.min(usize::from(l2.len().wrapping_add(overhead).wrapping_add(len.kept)))
        } else {
            full
        };
        if packet_length_bytes != 0 {
            n = n.min(packet_length_bytes as usize);
        }
        self.emits.push(Emit {
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
        self.shard.add(layout::PORT_TX + usize::from(r.egress_port), n as u64);
    }
}

/// `meta.encap_sport`: 49152 + the symmetric flow hash % 16384, over the frame as
/// received (before any NAT restore).
/// Counts a packet in a block-indexed counter (`skipped_by_filter`, `not_sampled`);
/// an index past the counter is not counted (as BMv2).
#[inline]
fn count_block(shard: &Shard, c: Counter, first_member: u16, len: usize) {
    let m = usize::from(first_member);
    if m < COUNTER_SIZE {
        shard.add(layout::member(c, m), len as u64);
    }
}

fn encap_sport(data: &[u8], p: &ParsedFrame) -> u16 {
    let h = match p.l3 {
        L3::Ipv4 { .. } => {
            let (s, d) = V4::frame_addrs(data, p);
            V4::flow_hash(s, p.l4_src_port, d, p.l4_dst_port, p.ip_proto)
        }
        L3::Ipv6 { .. } => {
            let (s, d) = V6::frame_addrs(data, p);
            V6::flow_hash(s, p.l4_src_port, d, p.l4_dst_port, p.ip_proto)
        }
        L3::None => 0,
    };
    hash::encap_sport(h)
}
