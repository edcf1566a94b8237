//! Frame builders and checkers shared by the integration tests.
#![allow(dead_code)]

use p4clone_pipeline::csum;
use p4clone_pipeline::*;

pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const SE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const MON_DST: [u8; 6] = [0x02, 0xCC, 0, 0, 0, 0x01];
pub const MON_SRC: [u8; 6] = [0x02, 0xEE, 0, 0, 0, 0x03];

pub fn ip4(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

fn eth(etype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&SE_MAC);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&etype.to_be_bytes());
    f
}

fn ipv4_header(src: u32, dst: u32, proto: u8, l4_len: usize, options: &[u8]) -> Vec<u8> {
    let hl = 20 + options.len();
    assert_eq!(hl % 4, 0);
    let mut h = vec![0u8; hl];
    h[0] = 0x40 | (hl / 4) as u8;
    h[2..4].copy_from_slice(&((hl + l4_len) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    h[6] = 0x40; // DF
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.to_be_bytes());
    h[16..20].copy_from_slice(&dst.to_be_bytes());
    h[20..].copy_from_slice(options);
    let c = csum::ipv4_header_checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

fn tcp_segment(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    t[12] = 0x50;
    t[13] = 0x18;
    t[14..16].copy_from_slice(&1024u16.to_be_bytes());
    t.extend_from_slice(payload);
    t
}

fn udp_datagram(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(payload);
    u
}

/// An IPv4 TCP frame with valid checksums.
pub fn tcp4(src: u32, sport: u16, dst: u32, dport: u16, payload: &[u8]) -> Vec<u8> {
    tcp4_opts(src, sport, dst, dport, payload, &[])
}

/// An IPv4 TCP frame with IP options and valid checksums.
pub fn tcp4_opts(src: u32, sport: u16, dst: u32, dport: u16, payload: &[u8], opts: &[u8]) -> Vec<u8> {
    let mut seg = tcp_segment(sport, dport, payload);
    let c = csum::l4_checksum_v4(src, dst, 6, &seg, 16);
    seg[16..18].copy_from_slice(&c.to_be_bytes());
    let mut f = eth(0x0800);
    f.extend(ipv4_header(src, dst, 6, seg.len(), opts));
    f.extend(seg);
    f
}

/// An IPv4 UDP frame; checksum computed, or 0 when `with_checksum` is false.
pub fn udp4(src: u32, sport: u16, dst: u32, dport: u16, payload: &[u8], with_checksum: bool) -> Vec<u8> {
    let mut d = udp_datagram(sport, dport, payload);
    if with_checksum {
        let mut c = csum::l4_checksum_v4(src, dst, 17, &d, 6);
        if c == 0 {
            c = 0xFFFF;
        }
        d[6..8].copy_from_slice(&c.to_be_bytes());
    }
    let mut f = eth(0x0800);
    f.extend(ipv4_header(src, dst, 17, d.len(), &[]));
    f.extend(d);
    f
}

fn ipv6_header(src: u128, dst: u128, nh: u8, len: usize) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[0] = 0x60;
    h[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    h[6] = nh;
    h[7] = 64;
    h[8..24].copy_from_slice(&src.to_be_bytes());
    h[24..40].copy_from_slice(&dst.to_be_bytes());
    h
}

/// An IPv6 TCP frame with a valid checksum.
pub fn tcp6(src: u128, sport: u16, dst: u128, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut seg = tcp_segment(sport, dport, payload);
    let c = csum::l4_checksum_v6(src, dst, 6, &seg, 16);
    seg[16..18].copy_from_slice(&c.to_be_bytes());
    let mut f = eth(0x86DD);
    f.extend(ipv6_header(src, dst, 6, seg.len()));
    f.extend(seg);
    f
}

/// An IPv6 UDP frame with a valid checksum.
pub fn udp6(src: u128, sport: u16, dst: u128, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = udp_datagram(sport, dport, payload);
    let c = csum::l4_checksum_v6(src, dst, 17, &d, 6);
    d[6..8].copy_from_slice(&c.to_be_bytes());
    let mut f = eth(0x86DD);
    f.extend(ipv6_header(src, dst, 17, d.len()));
    f.extend(d);
    f
}

/// Inserts an 802.1Q tag after the MACs.
pub fn tagged(frame: &[u8], pcp: u8, dei: bool, vid: u16) -> Vec<u8> {
    let tci = (u16::from(pcp) << 13) | (u16::from(dei) << 12) | vid;
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&0x8100u16.to_be_bytes());
    f.extend_from_slice(&tci.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

/// Offset of the L3 header (after MACs and any 802.1Q tags).
pub fn l3_offset(f: &[u8]) -> usize {
    let mut off = 12;
    while u16::from_be_bytes([f[off], f[off + 1]]) == 0x8100 {
        off += 4;
    }
    off + 2
}

/// Checks an IPv4 frame's header checksum and TCP/UDP checksum by full recomputation.
/// A UDP checksum of 0 is accepted (none).
pub fn v4_checksums_ok(f: &[u8]) -> bool {
    let l3 = l3_offset(f);
    let ihl = usize::from(f[l3] & 0x0F) * 4;
    let ip = &f[l3..l3 + ihl];
    if csum::checksum(ip) != 0 {
        return false;
    }
    let src = u32::from_be_bytes(ip[12..16].try_into().unwrap());
    let dst = u32::from_be_bytes(ip[16..20].try_into().unwrap());
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let l4 = &f[l3 + ihl..l3 + total];
    let (off, proto) = match ip[9] {
        6 => (16, 6),
        17 => (6, 17),
        _ => return true,
    };
    let have = u16::from_be_bytes([l4[off], l4[off + 1]]);
    if proto == 17 && have == 0 {
        return true;
    }
    csum::equivalent(have, csum::l4_checksum_v4(src, dst, proto, l4, off))
}

/// Checks an IPv6 frame's TCP/UDP checksum by full recomputation.
pub fn v6_checksums_ok(f: &[u8]) -> bool {
    let l3 = l3_offset(f);
    let ip = &f[l3..l3 + 40];
    let src = u128::from_be_bytes(ip[8..24].try_into().unwrap());
    let dst = u128::from_be_bytes(ip[24..40].try_into().unwrap());
    let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let l4 = &f[l3 + 40..l3 + 40 + len];
    let off = match ip[6] {
        6 => 16,
        17 => 6,
        _ => return true,
    };
    let have = u16::from_be_bytes([l4[off], l4[off + 1]]);
    csum::equivalent(have, csum::l4_checksum_v6(src, dst, ip[6], l4, off))
}

pub fn wire(p: &Pipeline, a: Port, b: Port) {
    let r = p.apply([
        TableOp::insert(WIRE, WireEntry { ingress_port: a, action: WireAction::Forward(b), metadata: vec![] }),
        TableOp::insert(WIRE, WireEntry { ingress_port: b, action: WireAction::Forward(a), metadata: vec![] }),
    ]);
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
}

pub fn v4_exact(src: u32, dst: u32, proto: u8, sport: Option<u16>, dport: Option<u16>) -> ClassifyKeyV4 {
    ClassifyKeyV4 {
        src_addr: Ternary::<u32>::exact(src),
        dst_addr: Ternary::<u32>::exact(dst),
        protocol: Ternary::<u8>::exact(proto),
        l4_src_port: sport.map_or(Ternary::<u16>::any(), Ternary::<u16>::exact),
        l4_dst_port: dport.map_or(Ternary::<u16>::any(), Ternary::<u16>::exact),
    }
}

pub fn hit(first_member: u16, member_count: u16, mode: u8) -> ClassifyAction {
    ClassifyAction::Hit { first_member, member_count, mode }
}

pub fn classify_v4(p: &Pipeline, key: ClassifyKeyV4, priority: i32, action: ClassifyAction) {
    p.write(|b| b.insert(CLASSIFY_V4, ClassifyEntry { key, priority, action, metadata: vec![] })).unwrap();
}

/// Session `member` → one replica on `port` with instance `member`, and a rewrite entry.
pub fn member(p: &Pipeline, member: u16, port: Port, params: RewriteParams) {
    p.write(|b| {
        b.insert_clone_session(CloneSessionEntry {
            session_id: member,
            session: CloneSession {
                replicas: vec![Replica { egress_port: port, instance: member }],
                packet_length_bytes: 0,
            },
        })?;
        b.insert(CLONE_REWRITE, RewriteEntry { member, action: RewriteAction::Set(params), metadata: vec![] })
    })
    .unwrap();
}

pub fn params(vlan_id: u16, truncate_len: u16, nat_restore: bool) -> RewriteParams {
    RewriteParams { dst_mac: MON_DST, src_mac: MON_SRC, vlan_id, truncate_len, nat_restore }
}

/// Result of one frame: (port, bytes, is_clone, member) per emitted frame.
pub type Out = Vec<(Port, Vec<u8>, Option<u16>)>;

pub fn run(p: &Pipeline, port: Port, frame: &[u8]) -> Out {
    run_burst(p, &[(port, frame)])
}

pub fn run_burst(p: &Pipeline, frames: &[(Port, &[u8])]) -> Out {
    let rx: Vec<RxFrame<'_>> = frames.iter().map(|(port, data)| RxFrame { port: *port, data }).collect();
    let mut out = EmitBatch::new();
    p.process_burst(&rx, &mut WorkerState::new(), &mut out);
    out.iter()
        .map(|e| {
            let m = match e.kind {
                EmitKind::Clone(c) => Some(c.member),
                EmitKind::Original => None,
            };
            (e.port, out.to_vec(e, &rx), m)
        })
        .collect()
}
