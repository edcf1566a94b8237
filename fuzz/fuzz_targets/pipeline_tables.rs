//! `Pipeline::process_burst` with table contents the fuzzer chooses: wire entries,
//! classify v4/v6 entries (ternary masks, priorities), `clone_rewrite` entries
//! (MACs, VLAN, truncation, NAT restore), `clone_encap` entries (VXLAN, GRE,
//! ERSPAN over IPv4, with an MTU), NAT entries, clone sessions and default actions,
//! all written through the pipeline's own write API (`Pipeline::write`); then a
//! burst of fuzzer frames.
//!
//! Input: byte 0 is the number of table operations (at most 24); each operation is
//! an opcode byte and its fields (`Ops::next`; bytes past the end read as 0); what
//! is left are frames `[port byte (& 7)][length: 2 bytes LE][data]`, at most 32.
//!
//! The harness keeps its own model of the tables from the operations the pipeline
//! accepted, and from `docs/dataplane.md` (not from the pipeline's code) predicts
//! every output. Checked on every input:
//! - output order: per input frame its clones, then its original; input order;
//! - an original leaves byte-for-byte on the port its ingress port is wired to
//!   (`wire_forward`), exactly once; it is dropped (never appears) when its ingress
//!   port has no wire entry, a `wire_drop` entry or a forward to the drop port;
//! - clones: only from frames whose port has a wire entry and that carry TCP/UDP
//!   over IPv4/IPv6; the clones of a frame are exactly the replicas (egress port,
//!   instance) of the session of one member the frame's classify result allows
//!   (the highest-priority matching entry, the earliest inserted on a tie, or the
//!   default: one member of the profile block for round robin, the flow-hash one
//!   for flow hash), less those whose rewrite misses or that go to the drop port;
//! - each clone's bytes: the new L2 header (MACs, VLAN push / rewrite / pop with
//!   PCP kept) or the outer headers of its encapsulation (outer L2, IPv4 with a
//!   valid header checksum, DF, TTL 64, its total length; UDP 4789 + VXLAN with the
//!   flow's source port; GRE with or without key; GRE with sequence + ERSPAN II
//!   with the frame's VLAN, the MTU-cut bit and per-member sequence numbers from 0),
//!   then the original's bytes beyond the L2 header it replaces (the whole frame
//!   when encapsulated), with the NAT-restored addresses and ports, cut to
//!   `truncate_len`, the MTU rule and `packet_length_bytes`; a clone whose rewrite
//!   misses but whose default rewrite is `clone_rewrite_set` is the frame itself,
//!   cut to `packet_length_bytes`;
//! - checksums after a NAT restore: the inner IPv4 header checksum verifies when the
//!   original's did; a TCP or UDP checksum verifies when the original's did (whole
//!   segment present); a UDP checksum 0 stays 0 and a non-zero one never becomes 0;
//! - every clone's head and tail are in bounds and its length is head + tail;
//! - the same burst again, with the `rr_cursor` and `erspan_seq` cells reset,
//!   gives the same output.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use p4clone_pipeline::wire::{self, ParsedFrame, L3, L4};
use p4clone_pipeline::{
    hash, ClassifyAction, ClassifyEntry, ClassifyKey, CloneSession, CloneSessionEntry, EmitBatch, EmitKind,
    EncapAction, EncapEntry, Family, NatAction, NatEntry, NatKey, Outer, Pipeline, Replica, RewriteAction,
    RewriteEntry, RewriteParams, RxFrame, Ternary, WireAction, WireEntry, WorkerState, CLASSIFY_V4, CLASSIFY_V6,
    CLONE_ENCAP, CLONE_REWRITE, DROP_PORT, MODE_FLOW_HASH, NAT_DST_V4, NAT_DST_V6, NAT_SRC_V4, NAT_SRC_V6,
    SAMPLE_FLOWS, SAMPLE_ONE_IN, V4, V6, WIRE,
};

const MAX_OPS: usize = 24;
const MAX_FRAMES: usize = 32;

/// Reads fields from the operation bytes; past the end, zeros.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn arr<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        for b in &mut a {
            *b = self.u8();
        }
        a
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.arr())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.arr())
    }
    fn u128(&mut self) -> u128 {
        u128::from_be_bytes(self.arr())
    }
    fn port(&mut self) -> u16 {
        match self.u8() {
            0xFF => DROP_PORT,
            b => u16::from(b & 7),
        }
    }
}

/// The tables as the harness believes them to be (what the pipeline accepted).
#[derive(Default)]
struct Model {
    wire: HashMap<u16, WireAction>,
    v4: Vec<ClassifyEntry<V4>>,
    v6: Vec<ClassifyEntry<V6>>,
    classify_default: [ClassifyAction; 2],
    rewrite: HashMap<u16, RewriteAction>,
    rewrite_default: Option<RewriteAction>,
    encap: HashMap<u16, EncapAction>,
    encap_default: Option<EncapAction>,
    /// [src, dst] of each family.
    nat_v4: [HashMap<(u32, u16, u8), NatAction<V4>>; 2],
    nat_v4_default: [Option<NatAction<V4>>; 2],
    nat_v6: [HashMap<(u128, u16, u8), NatAction<V6>>; 2],
    nat_v6_default: [Option<NatAction<V6>>; 2],
    sessions: HashMap<u16, CloneSession>,
}

fn ternary<T>(b: &mut Bytes<'_>, present: bool, raw: bool, read: impl Fn(&mut Bytes<'_>) -> T) -> Ternary<T>
where
    T: Copy + Default + std::ops::BitAnd<Output = T>,
{
    if !present {
        return Ternary { value: T::default(), mask: T::default() };
    }
    let value = read(b);
    let mask = read(b);
    Ternary { value: if raw { value } else { value & mask }, mask }
}

fn classify_action(b: &mut Bytes<'_>) -> ClassifyAction {
    let k = b.u8();
    if k & 0x80 != 0 {
        return match k & 0x60 {
            0x20 => ClassifyAction::Skip { first_member: b.u16() },
            0x40 => {
                let j = b.u8();
                ClassifyAction::HitSampled {
                    first_member: b.u16(),
                    member_count: u16::from(j & 3),
                    mode: (j >> 2) & 3,
                    sample_mode: (j >> 4) & 3,
                    sample_arg: b.u16(),
                }
            }
            _ => ClassifyAction::Miss,
        };
    }
    let first_member = if k & 0x40 != 0 { b.u16() } else { u16::from(b.u8()) };
    ClassifyAction::Hit { first_member, member_count: u16::from(k & 3), mode: (k >> 2) & 3 }
}

/// A classify key and priority; addresses of `F` read as `bytes` bytes.
fn classify_key<F: Family>(b: &mut Bytes<'_>, bytes: usize) -> (ClassifyKey<F>, i32) {
    let f = b.u8();
    let raw = f & 0x80 != 0;
    let addr = |b: &mut Bytes<'_>| (0..bytes).fold(0u128, |a, _| (a << 8) | u128::from(b.u8()));
    let to = |t: Ternary<u128>| Ternary {
        value: F::Addr::try_from(t.value).ok().unwrap_or_default(),
        mask: F::Addr::try_from(t.mask).ok().unwrap_or_default(),
    };
    let key = ClassifyKey {
        src_addr: to(ternary(b, f & 1 != 0, raw, addr)),
        dst_addr: to(ternary(b, f & 2 != 0, raw, addr)),
        protocol: ternary(b, f & 4 != 0, raw, |b: &mut Bytes<'_>| b.u8()),
        l4_src_port: ternary(b, f & 8 != 0, raw, |b: &mut Bytes<'_>| b.u16()),
        l4_dst_port: ternary(b, f & 16 != 0, raw, |b: &mut Bytes<'_>| b.u16()),
    };
    (key, i32::from(b.u8() & 15))
}

fn rewrite_action(b: &mut Bytes<'_>) -> RewriteAction {
    let k = b.u8();
    if k & 1 != 0 {
        return RewriteAction::Miss;
    }
    let dst_mac = b.arr();
    let src_mac = b.arr();
    let vlan_id = if k & 2 != 0 { b.u16() } else { 0 };
    let truncate_len = if k & 4 != 0 { b.u16() } else { 0 };
    RewriteAction::Set(RewriteParams { dst_mac, src_mac, vlan_id, truncate_len, nat_restore: k & 8 != 0 })
}

fn encap_action(b: &mut Bytes<'_>) -> EncapAction {
    let k = b.u8();
    let outer = Outer { src_addr: b.arr(), dst_addr: b.arr(), mtu: b.u16() };
    let x = b.u32();
    match k & 3 {
        0 => EncapAction::Vxlan { outer, vni: x },
        1 => EncapAction::Gre { outer, key: x, key_present: k & 4 != 0 },
        2 => EncapAction::Erspan { outer, session_id: x as u16 },
        _ => EncapAction::None,
    }
}

/// Applies one operation to the pipeline and, when it is accepted, to the model.
fn op(p: &Pipeline, m: &mut Model, b: &mut Bytes<'_>) {
    match b.u8() % 12 {
        0 => {
            let port = b.port();
            let t = b.u8();
            let action = if t & 0x80 != 0 { WireAction::Drop } else { WireAction::Forward(Bytes(&[t]).port()) };
            if p.write(|w| w.insert(WIRE, WireEntry { ingress_port: port, action, metadata: vec![] })).is_ok() {
                assert!(m.wire.insert(port, action).is_none(), "wire insert over an existing entry accepted");
            }
        }
        1 => {
            let port = b.port();
            let r = p.write(|w| w.delete(WIRE, port));
            assert_eq!(r.is_ok(), m.wire.remove(&port).is_some(), "wire delete of port {port}: {r:?}");
        }
        2 => {
            let (key, priority) = classify_key::<V4>(b, 4);
            let action = classify_action(b);
            let e = ClassifyEntry::<V4> { key, priority, action, metadata: vec![] };
            if p.write(|w| w.insert(CLASSIFY_V4, e.clone())).is_ok() {
                m.v4.push(e);
            }
        }
        3 => {
            let (key, priority) = classify_key::<V6>(b, 16);
            let action = classify_action(b);
            let e = ClassifyEntry::<V6> { key, priority, action, metadata: vec![] };
            if p.write(|w| w.insert(CLASSIFY_V6, e.clone())).is_ok() {
                m.v6.push(e);
            }
        }
        4 => {
            let member = b.u16();
            let action = rewrite_action(b);
            if p.write(|w| w.insert(CLONE_REWRITE, RewriteEntry { member, action, metadata: vec![] })).is_ok() {
                assert!(m.rewrite.insert(member, action).is_none(), "rewrite insert over an existing entry accepted");
            }
        }
        5 => {
            let member = b.u16();
            let r = p.write(|w| w.delete(CLONE_REWRITE, member));
            assert_eq!(r.is_ok(), m.rewrite.remove(&member).is_some(), "rewrite delete of {member}: {r:?}");
        }
        6 => {
            let member = b.u16();
            let action = encap_action(b);
            if p.write(|w| w.insert(CLONE_ENCAP, EncapEntry { member, action, metadata: vec![] })).is_ok() {
                assert!(m.encap.insert(member, action).is_none(), "encap insert over an existing entry accepted");
            }
        }
        7 => {
            let k = b.u8();
            let dir = usize::from(k & 1);
            let miss = k & 4 != 0;
            if k & 2 == 0 {
                let key = NatKey::<V4> { addr: b.u32(), port: b.u16(), protocol: b.u8() };
                let action =
                    if miss { NatAction::Miss } else { NatAction::Set { client_addr: b.u32(), client_port: b.u16() } };
                let t = [NAT_SRC_V4, NAT_DST_V4][dir];
                if p.write(|w| w.insert(t, NatEntry { key, action, metadata: vec![] })).is_ok() {
                    m.nat_v4[dir].insert((key.addr, key.port, key.protocol), action);
                }
            } else {
                let key = NatKey::<V6> { addr: b.u128(), port: b.u16(), protocol: b.u8() };
                let action =
                    if miss { NatAction::Miss } else { NatAction::Set { client_addr: b.u128(), client_port: b.u16() } };
                let t = [NAT_SRC_V6, NAT_DST_V6][dir];
                if p.write(|w| w.insert(t, NatEntry { key, action, metadata: vec![] })).is_ok() {
                    m.nat_v6[dir].insert((key.addr, key.port, key.protocol), action);
                }
            }
        }
        8 => {
            let session_id = b.u16();
            let n = b.u8();
            let replicas = (0..n % 4).map(|_| Replica { egress_port: b.port(), instance: b.u16() }).collect();
            let packet_length_bytes = if n & 0x80 != 0 { u32::from(b.u16()) } else { 0 };
            let session = CloneSession { replicas, packet_length_bytes };
            if p.write(|w| w.insert_clone_session(CloneSessionEntry { session_id, session: session.clone() })).is_ok() {
                assert!(m.sessions.insert(session_id, session).is_none(), "session insert over an existing one");
            }
        }
        9 => match b.u8() % 6 {
            0 => {
                let a = rewrite_action(b);
                if p.write(|w| w.set_default(CLONE_REWRITE, a)).is_ok() {
                    m.rewrite_default = Some(a);
                }
            }
            1 => {
                let a = classify_action(b);
                if p.write(|w| w.set_default(CLASSIFY_V4, a)).is_ok() {
                    m.classify_default[0] = a;
                }
            }
            2 => {
                let a = classify_action(b);
                if p.write(|w| w.set_default(CLASSIFY_V6, a)).is_ok() {
                    m.classify_default[1] = a;
                }
            }
            3 => {
                let a = encap_action(b);
                if p.write(|w| w.set_default(CLONE_ENCAP, a)).is_ok() {
                    m.encap_default = Some(a);
                }
            }
            4 => {
                let dir = usize::from(b.u8() & 1);
                let a = NatAction::Set { client_addr: b.u32(), client_port: b.u16() };
                if p.write(|w| w.set_default([NAT_SRC_V4, NAT_DST_V4][dir], a)).is_ok() {
                    m.nat_v4_default[dir] = Some(a);
                }
            }
            _ => {
                let dir = usize::from(b.u8() & 1);
                let a = NatAction::Set { client_addr: b.u128(), client_port: b.u16() };
                if p.write(|w| w.set_default([NAT_SRC_V6, NAT_DST_V6][dir], a)).is_ok() {
                    m.nat_v6_default[dir] = Some(a);
                }
            }
        },
        10 => {
            let id = b.u16();
            let r = p.write(|w| w.delete_clone_session(id));
            assert_eq!(r.is_ok(), m.sessions.remove(&id).is_some(), "session delete of {id}: {r:?}");
        }
        _ => {
            let member = b.u16();
            let action = rewrite_action(b);
            let r = p.write(|w| w.modify(CLONE_REWRITE, RewriteEntry { member, action, metadata: vec![] }));
            if r.is_ok() {
                assert!(m.rewrite.insert(member, action).is_some(), "rewrite modify of a missing entry accepted");
            } else {
                assert!(
                    !m.rewrite.contains_key(&member) || matches!(action, RewriteAction::Set(p) if p.vlan_id > 0xFFF),
                    "rewrite modify of {member} refused: {r:?}"
                );
            }
        }
    }
}

fn frames(mut data: &[u8]) -> Vec<RxFrame<'_>> {
    let mut out = Vec::new();
    while data.len() >= 3 && out.len() < MAX_FRAMES {
        let port = u16::from(data[0] & 7);
        let len = usize::from(u16::from_le_bytes([data[1], data[2]])).min(data.len() - 3);
        out.push(RxFrame { port, data: &data[3..3 + len] });
        data = &data[3 + len..];
    }
    out
}

fn be16(d: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([d[o], d[o + 1]])
}

/// The Internet checksum of `data` with an initial sum (this harness's own).
fn csum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// The frame's classify inputs: family, addresses (as u128), protocol, ports.
struct Flow {
    v6: bool,
    src: u128,
    dst: u128,
    proto: u8,
    sport: u16,
    dport: u16,
}

fn flow(data: &[u8], p: &ParsedFrame) -> Option<Flow> {
    if p.l4 == L4::None {
        return None;
    }
    let l3 = usize::from(p.l3_offset);
    let (v6, src, dst) = match p.l3 {
        L3::Ipv4 { .. } => (
            false,
            u128::from(u32::from_be_bytes(data[l3 + 12..l3 + 16].try_into().unwrap())),
            u128::from(u32::from_be_bytes(data[l3 + 16..l3 + 20].try_into().unwrap())),
        ),
        L3::Ipv6 { .. } => (
            true,
            u128::from_be_bytes(data[l3 + 8..l3 + 24].try_into().unwrap()),
            u128::from_be_bytes(data[l3 + 24..l3 + 40].try_into().unwrap()),
        ),
        L3::None => return None,
    };
    Some(Flow { v6, src, dst, proto: p.ip_proto, sport: p.l4_src_port, dport: p.l4_dst_port })
}

fn matches_key<F: Family>(k: &ClassifyKey<F>, f: &Flow) -> bool {
    let t = |t: &Ternary<F::Addr>, v: u128| v & t.mask.into() == t.value.into();
    t(&k.src_addr, f.src)
        && t(&k.dst_addr, f.dst)
        && f.proto & k.protocol.mask == k.protocol.value
        && f.sport & k.l4_src_port.mask == k.l4_src_port.value
        && f.dport & k.l4_dst_port.mask == k.l4_dst_port.value
}

/// Highest priority wins; on a tie, the earliest inserted.
fn best<F: Family>(entries: &[ClassifyEntry<F>], f: &Flow) -> Option<ClassifyAction> {
    let mut hit: Option<&ClassifyEntry<F>> = None;
    for e in entries {
        if matches_key(&e.key, f) && hit.is_none_or(|h| e.priority > h.priority) {
            hit = Some(e);
        }
    }
    hit.map(|e| e.action)
}

/// The members a frame may be cloned to (empty: no clone), and whether it may
/// also not be cloned at all (one-in-N sampling: the harness does not follow the
/// `sample_cursor` register).
fn members(m: &Model, f: &Flow) -> (Vec<u16>, bool) {
    let action = if f.v6 {
        best(&m.v6, f).unwrap_or(m.classify_default[1])
    } else {
        best(&m.v4, f).unwrap_or(m.classify_default[0])
    };
    let (first_member, member_count, mode, sample) = match action {
        ClassifyAction::Hit { first_member, member_count, mode } => (first_member, member_count, mode, None),
        ClassifyAction::HitSampled { first_member, member_count, mode, sample_mode, sample_arg } => {
            (first_member, member_count, mode, Some((sample_mode, sample_arg)))
        }
        ClassifyAction::Skip { .. } | ClassifyAction::Miss => return (Vec::new(), false),
    };
    if member_count == 0 {
        return (Vec::new(), false);
    }
    let mut may_skip = false;
    match sample {
        // docs/dataplane.md "Filters and sampling": crc32 of the sample key % 10000.
        Some((SAMPLE_FLOWS, arg)) => {
            let h = if f.v6 {
                hash::crc32(&hash::sample_key_v6(f.src, f.sport, f.dst, f.dport, f.proto))
            } else {
                hash::crc32(&hash::sample_key_v4(f.src as u32, f.sport, f.dst as u32, f.dport, f.proto))
            };
            if hash::sample_bucket(h) >= arg {
                return (Vec::new(), false);
            }
        }
        Some((SAMPLE_ONE_IN, _)) => may_skip = true,
        _ => {}
    }
    let members = if mode == MODE_FLOW_HASH {
        let h = if f.v6 {
            hash::flow_hash_v6(f.src, f.sport, f.dst, f.dport, f.proto)
        } else {
            hash::flow_hash_v4(f.src as u32, f.sport, f.dst as u32, f.dport, f.proto)
        };
        vec![first_member.wrapping_add(hash::member_offset(h, member_count))]
    } else {
        (0..member_count).map(|o| first_member.wrapping_add(o)).collect()
    };
    (members, may_skip)
}

/// What a NAT restore does to a frame: the frame with addresses and ports
/// restored (checksum fields left as they were), and where the checksums are.
struct Nat {
    data: Vec<u8>,
    /// IPv4 header checksum offset (and the header's range) when it was updated.
    ip_csum: Option<(usize, std::ops::Range<usize>)>,
    /// L4 checksum offset; whether UDP.
    l4_csum: (usize, bool),
}

fn nat(m: &Model, data: &[u8], p: &ParsedFrame) -> Option<Nat> {
    let f = flow(data, p)?;
    let l3 = usize::from(p.l3_offset);
    let l4 = usize::from(p.l4_offset);
    // `meta.nat_addr/nat_port` start at 0; an entry or the default assigns them;
    // only an entry hit rewrites (with what meta holds then).
    let mut meta = (0u128, 0u16);
    let mut look = |dir: usize, addr: u128, port: u16| -> Option<(u128, u16)> {
        let (hit, set) = if f.v6 {
            let e = m.nat_v6[dir].get(&(addr, port, f.proto)).copied();
            let a = e.or(m.nat_v6_default[dir]).and_then(|a| match a {
                NatAction::Set { client_addr, client_port } => Some((client_addr, client_port)),
                NatAction::Miss => None,
            });
            (e.is_some(), a)
        } else {
            let e = m.nat_v4[dir].get(&(addr as u32, port, f.proto)).copied();
            let a = e.or(m.nat_v4_default[dir]).and_then(|a| match a {
                NatAction::Set { client_addr, client_port } => Some((u128::from(client_addr), client_port)),
                NatAction::Miss => None,
            });
            (e.is_some(), a)
        };
        if let Some(s) = set {
            meta = s;
        }
        hit.then_some(meta)
    };
    let src = look(0, f.src, f.sport);
    let dst = look(1, f.dst, f.dport);
    if src.is_none() && dst.is_none() {
        return None;
    }
    let mut d = data.to_vec();
    let (a_off, a_len) = if f.v6 { (l3 + 8, 16) } else { (l3 + 12, 4) };
    if let Some((a, port)) = src {
        d[a_off..a_off + a_len].copy_from_slice(&a.to_be_bytes()[16 - a_len..]);
        d[l4..l4 + 2].copy_from_slice(&port.to_be_bytes());
    }
    if let Some((a, port)) = dst {
        d[a_off + a_len..a_off + 2 * a_len].copy_from_slice(&a.to_be_bytes()[16 - a_len..]);
        d[l4 + 2..l4 + 4].copy_from_slice(&port.to_be_bytes());
    }
    let ip_csum = match p.l3 {
        L3::Ipv4 { header_len, .. } => Some((l3 + 10, l3..l3 + usize::from(header_len))),
        _ => None,
    };
    let udp = p.l4 == L4::Udp;
    Some(Nat { data: d, ip_csum, l4_csum: (l4 + if udp { 6 } else { 16 }, udp) })
}

/// The L4 checksum of the segment of `d` (the frame as `p` parsed it), when the
/// IP length says the whole segment is there: Some(verifies).
fn l4_verifies(d: &[u8], p: &ParsedFrame) -> Option<bool> {
    let l3 = usize::from(p.l3_offset);
    let l4 = usize::from(p.l4_offset);
    let (end, pseudo) = match p.l3 {
        L3::Ipv4 { .. } => {
            let end = l3 + usize::from(be16(d, l3 + 2));
            let mut ph = d[l3 + 12..l3 + 20].to_vec();
            ph.extend_from_slice(&[0, p.ip_proto]);
            ph.extend_from_slice(&(end.checked_sub(l4)? as u16).to_be_bytes());
            (end, ph)
        }
        L3::Ipv6 { .. } => {
            let end = l3 + 40 + usize::from(be16(d, l3 + 4));
            let mut ph = d[l3 + 8..l3 + 40].to_vec();
            ph.extend_from_slice(&(end.checked_sub(l4)? as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, p.ip_proto]);
            (end, ph)
        }
        L3::None => return None,
    };
    if end < p.l4_end() || end > d.len() || pseudo.len() % 2 != 0 {
        return None;
    }
    let sum = u32::from(!csum(&pseudo, 0));
    Some(csum(&d[l4..end], sum) == 0)
}

/// One expected clone: its egress port, member and bytes (checksum fields that
/// the NAT restore recomputes are taken from the actual clone, then verified).
struct Expected {
    port: u16,
    member: u16,
    bytes: Vec<u8>,
    /// Offset of the original frame's first byte kept after the new headers, in
    /// the clone, and the offset in the frame it corresponds to.
    body: (usize, usize),
    nat: Option<Nat>,
    encap: Option<(EncapAction, usize)>,
    /// Whether the clone was cut (by any rule).
    cut: bool,
}

fn overhead(a: &EncapAction) -> Option<u16> {
    match a {
        EncapAction::Vxlan { .. } => Some(36),
        EncapAction::Gre { key_present, .. } => Some(if *key_present { 28 } else { 24 }),
        EncapAction::Erspan { .. } => Some(36),
        EncapAction::None => None,
    }
}

/// The clones of one frame sent to `member`, per the contract's egress block.
fn expect(
    m: &Model,
    data: &[u8],
    p: &ParsedFrame,
    f: &Flow,
    member: u16,
    seq: &mut HashMap<u16, u32>,
) -> Vec<Expected> {
    let Some(s) = m.sessions.get(&(member & 0x7FFF)) else {
        return Vec::new();
    };
    let plb = s.packet_length_bytes as usize;
    let mut out = Vec::new();
    for r in &s.replicas {
        let rid = r.instance;
        let (hit, action) = match m.rewrite.get(&rid) {
            Some(a) => (true, *a),
            None => (false, m.rewrite_default.unwrap_or(RewriteAction::Miss)),
        };
        let RewriteAction::Set(params) = action else { continue };
        if r.egress_port == DROP_PORT {
            continue;
        }
        let cut_plb = |n: usize| if plb != 0 { n.min(plb) } else { n };
        if !hit {
            let n = cut_plb(data.len());
            out.push(Expected {
                port: r.egress_port,
                member: rid,
                bytes: data[..n].to_vec(),
                body: (0, 0),
                nat: None,
                encap: None,
                cut: n < data.len(),
            });
            continue;
        }
        let nat = if params.nat_restore { nat(m, data, p) } else { None };
        let inner: &[u8] = nat.as_ref().map_or(data, |n| &n.data);
        let vid = params.vlan_id & 0xFFF;
        let encap = m.encap.get(&rid).copied().or(m.encap_default).filter(|a| overhead(a).is_some());
        if let Some(a) = encap {
            let ov = overhead(&a).unwrap();
            let (outer, proto) = match a {
                EncapAction::Vxlan { outer, .. } => (outer, 17u8),
                EncapAction::Gre { outer, .. } | EncapAction::Erspan { outer, .. } => (outer, 47),
                EncapAction::None => unreachable!(),
            };
            let frame_len = data.len() as u16;
            let mut kept = frame_len;
            if params.truncate_len != 0 && kept > params.truncate_len {
                kept = params.truncate_len;
            }
            let limit = outer.mtu.wrapping_sub(ov);
            let mtu_cut = kept > limit;
            if mtu_cut {
                kept = limit;
            }
            let mut h = Vec::new();
            h.extend_from_slice(&params.dst_mac);
            h.extend_from_slice(&params.src_mac);
            if vid != 0 {
                h.extend_from_slice(&[0x81, 0, (vid >> 8) as u8, vid as u8]);
            }
            h.extend_from_slice(&[8, 0]);
            let l2 = h.len();
            let total = ov.wrapping_add(kept);
            h.extend_from_slice(&[0x45, 0]);
            h.extend_from_slice(&total.to_be_bytes());
            h.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
            h.extend_from_slice(&outer.src_addr);
            h.extend_from_slice(&outer.dst_addr);
            let c = csum(&h[l2..l2 + 20], 0);
            h[l2 + 10..l2 + 12].copy_from_slice(&c.to_be_bytes());
            match a {
                EncapAction::Vxlan { vni, .. } => {
                    let fh = if f.v6 {
                        hash::flow_hash_v6(f.src, f.sport, f.dst, f.dport, f.proto)
                    } else {
                        hash::flow_hash_v4(f.src as u32, f.sport, f.dst as u32, f.dport, f.proto)
                    };
                    let sport = 49152 + (fh % 16384) as u16;
                    h.extend_from_slice(&sport.to_be_bytes());
                    h.extend_from_slice(&4789u16.to_be_bytes());
                    h.extend_from_slice(&(ov - 20).wrapping_add(kept).to_be_bytes());
                    h.extend_from_slice(&[0, 0, 0x08, 0, 0, 0]);
                    h.extend_from_slice(&vni.to_be_bytes()[1..]);
                    h.push(0);
                }
                EncapAction::Gre { key, key_present, .. } => {
                    h.extend_from_slice(&[if key_present { 0x20 } else { 0 }, 0, 0x65, 0x58]);
                    if key_present {
                        h.extend_from_slice(&key.to_be_bytes());
                    }
                }
                EncapAction::Erspan { session_id, .. } => {
                    let s = seq.entry(rid).or_insert(0);
                    let this = if rid < 32768 { *s } else { 0 };
                    if rid < 32768 {
                        *s = s.wrapping_add(1);
                    }
                    h.extend_from_slice(&[0x10, 0, 0x88, 0xBE]);
                    h.extend_from_slice(&this.to_be_bytes());
                    let (vlan, cos, en) = if p.vlan {
                        let tci = u32::from(be16(data, 14));
                        (tci & 0xFFF, tci >> 13, 3)
                    } else {
                        (0, 0, 0)
                    };
                    let w0 = (1 << 28)
                        | (vlan << 16)
                        | (cos << 13)
                        | (en << 11)
                        | (u32::from(mtu_cut) << 10)
                        | u32::from(session_id & 0x3FF);
                    h.extend_from_slice(&w0.to_be_bytes());
                    h.extend_from_slice(&[0; 4]);
                }
                EncapAction::None => unreachable!(),
            }
            assert_eq!(h.len(), l2 + usize::from(ov), "harness: outer header length");
            let body = h.len();
            h.extend_from_slice(inner);
            let full = h.len();
            let mut n = full;
            if kept != frame_len {
                n = n.min(usize::from((l2 as u16).wrapping_add(ov).wrapping_add(kept)));
            }
            let n = cut_plb(n);
            h.truncate(n);
            out.push(Expected {
                port: r.egress_port,
                member: rid,
                bytes: h,
                body: (body, 0),
                nat,
                encap: Some((a, l2)),
                cut: n < full,
            });
            continue;
        }
        // A plain clone: its own L2 header rewritten.
        let old_l2 = usize::from(p.l2_len);
        let inner_type = if p.vlan { be16(data, 16) } else { be16(data, 12) };
        let mut h = Vec::new();
        h.extend_from_slice(&params.dst_mac);
        h.extend_from_slice(&params.src_mac);
        if vid != 0 {
            let tci = if p.vlan { (be16(data, 14) & 0xF000) | vid } else { vid };
            h.extend_from_slice(&[0x81, 0]);
            h.extend_from_slice(&tci.to_be_bytes());
        }
        h.extend_from_slice(&inner_type.to_be_bytes());
        let body = h.len();
        h.extend_from_slice(&inner[old_l2..]);
        let full = h.len();
        let mut n = full;
        if params.truncate_len != 0 {
            n = n.min(usize::from(params.truncate_len));
        }
        let n = cut_plb(n);
        h.truncate(n);
        out.push(Expected {
            port: r.egress_port,
            member: rid,
            bytes: h,
            body: (body, old_l2),
            nat,
            encap: None,
            cut: n < full,
        });
    }
    out
}

/// Compares an actual clone with the expectation (see `Expected`).
fn check_clone(e: &Expected, actual: &[u8], data: &[u8], p: &ParsedFrame) {
    let mut want = e.bytes.clone();
    assert_eq!(actual.len(), want.len(), "clone length (member {}, port {})", e.member, e.port);
    // Where a frame offset lands in the clone.
    let n = want.len();
    let at = |off: usize| (off >= e.body.1).then(|| e.body.0 + off - e.body.1).filter(|&o| o + 2 <= n);
    if let Some(n) = &e.nat {
        if let Some((o, _)) = &n.ip_csum {
            if let Some(c) = at(*o) {
                want[c..c + 2].copy_from_slice(&actual[c..c + 2]);
            }
        }
        if let Some(c) = at(n.l4_csum.0) {
            want[c..c + 2].copy_from_slice(&actual[c..c + 2]);
        }
    }
    if want != actual {
        let d = want.iter().zip(actual).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "clone bytes differ (member {}, port {}) at {d}:\n want {:02x?}\n  got {:02x?}",
            e.member, e.port, want, actual
        );
    }
    if let Some((_, l2)) = e.encap {
        assert_eq!(csum(&actual[l2..(l2 + 20).min(actual.len())], 0), 0, "outer IPv4 checksum");
        if !e.cut {
            assert_eq!(usize::from(be16(actual, l2 + 2)), actual.len() - l2, "outer IPv4 total length");
        }
    }
    // Checksums after a NAT restore, on the restored frame with the clone's fields.
    if let Some(n) = &e.nat {
        let mut d = n.data.clone();
        let mut have = true;
        for &o in n.ip_csum.iter().map(|(o, _)| o).chain([&n.l4_csum.0]) {
            match at(o) {
                Some(c) => d[o..o + 2].copy_from_slice(&actual[c..c + 2]),
                None => have = false,
            }
        }
        if !have {
            return;
        }
        if let Some((_, r)) = &n.ip_csum {
            if r.end <= data.len() && csum(&data[r.clone()], 0) == 0 {
                assert_eq!(csum(&d[r.clone()], 0), 0, "a NAT-restored IPv4 header checksum does not verify");
            }
        }
        let (o, udp) = n.l4_csum;
        if udp && be16(data, o) == 0 {
            assert_eq!(be16(&d, o), 0, "a zero UDP checksum changed");
        } else {
            if udp {
                assert_ne!(be16(&d, o), 0, "a UDP checksum became 0");
            }
            if l4_verifies(data, p) == Some(true) {
                assert_eq!(l4_verifies(&d, p), Some(true), "a NAT-restored L4 checksum does not verify");
            }
        }
    }
}

/// `PIPELINE_TABLES_TRACE=1`: print every clone checked (to see what an input reaches).
fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("PIPELINE_TABLES_TRACE").is_some())
}

type Output = Vec<(u16, u32, Vec<u8>)>;

fn run(p: &Pipeline, m: &Model, frames: &[RxFrame<'_>]) -> Output {
    let mut worker = WorkerState::new();
    let mut out = EmitBatch::new();
    p.process_burst(frames, &mut worker, &mut out);
    let mut seq = HashMap::new();
    let emits = out.emits();
    let mut i = 0;
    let mut last_input = 0;
    for (idx, fr) in frames.iter().enumerate() {
        let idx = idx as u32;
        let mut clones = Vec::new();
        let mut original = None;
        while let Some(e) = emits.get(i).filter(|e| e.input == idx) {
            assert!(original.is_none(), "an emit after the original of frame {idx}");
            match e.kind {
                EmitKind::Original => original = Some(e),
                EmitKind::Clone(c) => {
                    assert_eq!(out.head(&c).len(), c.head_used(), "clone head out of the arena");
                    let t = c.tail_offset as usize;
                    assert!(t + c.tail_len() <= fr.data.len(), "clone tail beyond its input frame: {c:?}");
                    assert_eq!(c.len as usize, c.head_used() + c.tail_len());
                    clones.push((e.port, c.member, out.to_vec(e, frames)));
                }
            }
            last_input = idx;
            i += 1;
        }
        let wired = m.wire.get(&fr.port).copied();
        match (wired, original) {
            (Some(WireAction::Forward(q)), Some(e)) if q != DROP_PORT => {
                assert_eq!(e.port, q, "original on the wrong port");
                assert_eq!(out.to_vec(e, frames), fr.data, "original changed");
            }
            (Some(WireAction::Forward(q)), None) if q != DROP_PORT => panic!("frame {idx} not forwarded to {q}"),
            (w, Some(e)) => panic!("frame {idx} from port {} ({w:?}) emitted on {}", fr.port, e.port),
            (_, None) => {}
        }
        let parsed = wire::parse(fr.data);
        let fl = if wired.is_some() { flow(fr.data, &parsed) } else { None };
        let Some(fl) = fl else {
            assert!(clones.is_empty(), "a clone of frame {idx}, which is not classified");
            continue;
        };
        // The member actually used: the one whose replicas match the clones.
        let (candidates, may_skip) = members(m, &fl);
        if candidates.is_empty() || (may_skip && clones.is_empty()) {
            assert!(clones.is_empty(), "a clone of frame {idx}, which its classify result does not clone");
            continue;
        }
        let mut matched = None;
        for member in candidates {
            let mut s = seq.clone();
            let want = expect(m, fr.data, &parsed, &fl, member, &mut s);
            let shape: Vec<_> = want.iter().map(|w| (w.port, w.member)).collect();
            let got: Vec<_> = clones.iter().map(|c| (c.0, c.1)).collect();
            if shape == got {
                matched = Some((want, s));
                break;
            }
        }
        let Some((want, s)) = matched else {
            panic!(
                "frame {idx}: clones {:?} are no member's replicas (candidates {:?})",
                clones.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
                members(m, &fl).0
            );
        };
        seq = s;
        for (w, c) in want.iter().zip(&clones) {
            if trace() {
                eprintln!("frame {idx}: clone to port {} member {}: {:02x?}", c.0, c.1, c.2);
            }
            check_clone(w, &c.2, fr.data, &parsed);
        }
    }
    assert_eq!(i, emits.len(), "emits out of input order (last input {last_input})");
    emits.iter().map(|e| (e.port, e.input, out.to_vec(e, frames))).collect()
}

/// Empties `p` of what `m` says it holds, through the write API, and checks that
/// it is empty: a pipeline is reused across inputs (a fresh one costs more than
/// the input), and deleting everything must leave it as a fresh one.
fn clear(p: &Pipeline, m: &Model) {
    p.write(|w| {
        for port in m.wire.keys() {
            w.delete(WIRE, *port).expect("wire delete");
        }
        for e in &m.v4 {
            w.delete(CLASSIFY_V4, (e.key, e.priority)).expect("classify v4 delete");
        }
        for e in &m.v6 {
            w.delete(CLASSIFY_V6, (e.key, e.priority)).expect("classify v6 delete");
        }
        for member in m.rewrite.keys() {
            w.delete(CLONE_REWRITE, *member).expect("rewrite delete");
        }
        for member in m.encap.keys() {
            w.delete(CLONE_ENCAP, *member).expect("encap delete");
        }
        for (dir, t) in [NAT_SRC_V4, NAT_DST_V4].into_iter().enumerate() {
            for &(addr, port, protocol) in m.nat_v4[dir].keys() {
                w.delete(t, NatKey { addr, port, protocol }).expect("nat v4 delete");
            }
            w.set_default(t, NatAction::Miss).expect("nat v4 default");
        }
        for (dir, t) in [NAT_SRC_V6, NAT_DST_V6].into_iter().enumerate() {
            for &(addr, port, protocol) in m.nat_v6[dir].keys() {
                w.delete(t, NatKey { addr, port, protocol }).expect("nat v6 delete");
            }
            w.set_default(t, NatAction::Miss).expect("nat v6 default");
        }
        for id in m.sessions.keys() {
            w.delete_clone_session(*id).expect("session delete");
        }
        w.set_default(CLASSIFY_V4, ClassifyAction::Miss).expect("classify v4 default");
        w.set_default(CLASSIFY_V6, ClassifyAction::Miss).expect("classify v6 default");
        w.set_default(CLONE_REWRITE, RewriteAction::Miss).expect("rewrite default");
        w.set_default(CLONE_ENCAP, EncapAction::None).expect("encap default");
    });
    reset_registers(p, m);
    assert_eq!(p.entry_count(WIRE), 0);
    assert_eq!(p.entry_count(CLASSIFY_V4), 0);
    assert_eq!(p.entry_count(CLASSIFY_V6), 0);
    assert_eq!(p.entry_count(CLONE_REWRITE), 0);
    assert_eq!(p.entry_count(CLONE_ENCAP), 0);
    for t in [NAT_SRC_V4, NAT_DST_V4] {
        assert_eq!(p.entry_count(t), 0);
    }
    for t in [NAT_SRC_V6, NAT_DST_V6] {
        assert_eq!(p.entry_count(t), 0);
    }
    for id in m.sessions.keys() {
        assert!(p.clone_session(*id).is_none(), "session {id} left after its delete");
    }
}

/// Resets the `rr_cursor` and `erspan_seq` cells the model's entries can move.
fn reset_registers(p: &Pipeline, m: &Model) {
    for e in m.v4.iter().map(|e| e.action).chain(m.v6.iter().map(|e| e.action)).chain(m.classify_default) {
        if let ClassifyAction::Hit { first_member, .. } = e {
            let _ = p.set_rr_cursor(first_member.into(), 0);
        }
    }
    for s in m.sessions.values() {
        for r in &s.replicas {
            let _ = p.set_erspan_seq(r.instance.into(), 0);
        }
    }
}

/// The pipeline reused across inputs and what it held at the end of the last one.
static POOL: std::sync::Mutex<Option<(Pipeline, Model)>> = std::sync::Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let pooled = POOL.lock().unwrap().take();
    let p = match pooled {
        Some((p, old)) => {
            clear(&p, &old);
            p
        }
        None => Pipeline::new(),
    };
    let mut m = Model::default();
    let mut b = Bytes(rest);
    for _ in 0..usize::from(n).min(MAX_OPS) {
        op(&p, &mut m, &mut b);
    }
    let frames = frames(b.0);
    let first = run(&p, &m, &frames);
    // Reset the registers the burst moved, then the same burst again.
    reset_registers(&p, &m);
    assert!(first == run(&p, &m, &frames), "processing the same burst twice differs");
    *POOL.lock().unwrap() = Some((p, m));
});
