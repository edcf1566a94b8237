//! The NAT restore of the egress block: a clone's client address and port put back
//! from the `nat_src_*` / `nat_dst_*` tables, one generic path for both families.

use crate::csum;
use crate::table::instance::{FamilyTables, Tables};
use crate::table::{Family, NatAction, NatDir, NatKey, V4, V6};
use crate::wire::{ParsedFrame, TcpHeader, UdpHeader, L3, L4};

/// Appends the rewritten L3+L4 headers to `arena` and returns true when a NAT table
/// hit; leaves `arena` alone and returns false otherwise.
///
/// Literal v1model semantics: `meta.nat_addr`/`meta.nat_port` start at zero and are
/// assigned by `nat_set_*` (entry or default action); the rewrite runs only on an
/// entry hit, `nat_src_*` first, then `nat_dst_*` (keyed on the original destination).
/// Checksums: IPv4 header `update32(addr)`; TCP, or UDP when its checksum is not 0,
/// one update over the address words and the port together, source before
/// destination, exactly as the P4 program sums them; a UDP result of 0 is written as
/// 0xFFFF (RFC 768).
pub(super) fn nat_restore(t: &Tables, data: &[u8], p: &ParsedFrame, arena: &mut Vec<u8>) -> bool {
    match p.l3 {
        L3::Ipv4 { .. } => restore::<V4>(t, data, p, arena),
        L3::Ipv6 { .. } => restore::<V6>(t, data, p, arena),
        L3::None => false,
    }
}

fn restore<F: FamilyTables>(t: &Tables, data: &[u8], p: &ParsedFrame, arena: &mut Vec<u8>) -> bool {
    let l3 = usize::from(p.l3_offset);
    let l4 = usize::from(p.l4_offset);
    let Some(hdrs) = data.get(l3..p.l4_end()) else {
        return false;
    };
    if p.l4 == L4::None {
        return false;
    }
    let Some((src, dst)) = F::header_addrs(hdrs) else {
        return false;
    };
    let (sport, dport, protocol) = (p.l4_src_port, p.l4_dst_port, p.ip_proto);
    let mut meta = (F::Addr::default(), 0u16);
    let mut lookup = |dir: NatDir, key: NatKey<F>| -> Option<(F::Addr, u16)> {
        let nat = F::nat(t, dir);
        let hit = nat.map.get(&key);
        if let NatAction::Set { client_addr, client_port } = hit.copied().unwrap_or(nat.default) {
            meta = (client_addr, client_port);
        }
        hit.map(|_| meta)
    };
    let new_src = lookup(NatDir::Src, NatKey { addr: src, port: sport, protocol });
    let new_dst = lookup(NatDir::Dst, NatKey { addr: dst, port: dport, protocol });
    if new_src.is_none() && new_dst.is_none() {
        return false;
    }
    let start = arena.len();
    arena.extend_from_slice(hdrs);
    let (ip_h, l4_h) = arena[start..].split_at_mut(l4 - l3);
    if !F::set_header_addrs(ip_h, (src, dst), new_src.map(|n| n.0), new_dst.map(|n| n.0)) {
        return true;
    }
    let rewrite = L4Rewrite::<F> { old_src: (src, sport), old_dst: (dst, dport), new_src, new_dst };
    match p.l4 {
        L4::Tcp => {
            if let Ok(mut h) = TcpHeader::new_checked(l4_h) {
                h.set_checksum(rewrite.checksum(h.checksum(), false));
                if let Some((_, port)) = new_src {
                    h.set_src_port(port);
                }
                if let Some((_, port)) = new_dst {
                    h.set_dst_port(port);
                }
            }
        }
        L4::Udp => {
            if let Ok(mut h) = UdpHeader::new_checked(l4_h) {
                h.set_checksum(rewrite.checksum(h.checksum(), true));
                if let Some((_, port)) = new_src {
                    h.set_src_port(port);
                }
                if let Some((_, port)) = new_dst {
                    h.set_dst_port(port);
                }
            }
        }
        L4::None => {}
    }
    true
}

/// The (address, port) pairs an L4 header's checksum covers, before and after.
struct L4Rewrite<F: Family> {
    old_src: (F::Addr, u16),
    old_dst: (F::Addr, u16),
    new_src: Option<(F::Addr, u16)>,
    new_dst: Option<(F::Addr, u16)>,
}

impl<F: Family> L4Rewrite<F> {
    /// The new checksum: TCP always, UDP only when it has one (not 0), source
    /// before destination, a UDP result of 0 written as 0xFFFF after each step.
    fn checksum(&self, old: u16, udp: bool) -> u16 {
        if udp && old == 0 {
            return old;
        }
        let fix = |c: u16| if udp { csum::udp_nonzero(c) } else { c };
        let mut c = old;
        if let Some((a, port)) = self.new_src {
            c = fix(F::update_l4_checksum(c, self.old_src.0, a, self.old_src.1, port));
        }
        if let Some((a, port)) = self.new_dst {
            c = fix(F::update_l4_checksum(c, self.old_dst.0, a, self.old_dst.1, port));
        }
        c
    }
}
