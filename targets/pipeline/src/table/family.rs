//! IPv4 and IPv6: everything that differs between the `_v4` and `_v6` tables, so
//! that one classify table type and one NAT table type serve both.

use std::fmt::Debug;
use std::hash::{Hash, Hasher};

use super::contract::{Schema, TableId};
use super::ternary::{PackedKey, PackedV4, PackedV6};
use crate::sizes::{CLASSIFY_V4_SIZE, CLASSIFY_V6_SIZE, NAT_V4_SIZE, NAT_V6_SIZE};
use crate::state::layout;
use crate::wire::{self, Ipv4Packet, Ipv6Packet, ParsedFrame};
use crate::{csum, hash};

/// IPv4 (the `_v4` tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct V4;

/// IPv6 (the `_v6` tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct V6;

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

/// An address family: [`V4`] or [`V6`].
pub trait Family: Copy + Debug + Eq + Hash + Default + Send + Sync + 'static {
    /// An address (`u32` or `u128`).
    type Addr: Copy + Eq + Ord + Hash + Default + Debug + Into<u128> + TryFrom<u128> + Send + Sync + 'static;

    #[doc(hidden)]
    type Packed: PackedKey;
    #[doc(hidden)]
    /// Index of the family's classify table among the two (handles, tables).
    const INDEX: usize;
    #[doc(hidden)]
    const CLASSIFY_ID: TableId;
    #[doc(hidden)]
    const CLASSIFY_SIZE: usize;
    #[doc(hidden)]
    const NAT_SIZE: usize;
    /// First direct-counter cell of the classify table.
    #[doc(hidden)]
    const DIRECT_BASE: usize;

    #[doc(hidden)]
    fn nat_id(dir: NatDir) -> TableId;
    #[doc(hidden)]
    fn classify_schema() -> &'static Schema;
    #[doc(hidden)]
    fn nat_schema(dir: NatDir) -> &'static Schema;
    /// Packs classify key fields (or masks).
    #[doc(hidden)]
    fn pack(src: Self::Addr, dst: Self::Addr, protocol: u8, sport: u16, dport: u16) -> Self::Packed;
    /// The fields of a packed key: (src, dst, protocol, sport, dport).
    #[doc(hidden)]
    fn unpack(p: &Self::Packed) -> (Self::Addr, Self::Addr, u8, u16, u16);
    /// (src, dst) of a parsed frame of this family (zero if too short).
    #[doc(hidden)]
    fn frame_addrs(data: &[u8], p: &ParsedFrame) -> (Self::Addr, Self::Addr);
    /// The symmetric flow hash.
    #[doc(hidden)]
    fn flow_hash(src: Self::Addr, sport: u16, dst: Self::Addr, dport: u16, protocol: u8) -> u32;
    /// The flow sampling hash (CRC-32 of the sample key).
    #[doc(hidden)]
    fn sample_hash(src: Self::Addr, sport: u16, dst: Self::Addr, dport: u16, protocol: u8) -> u32;
    /// Hashes a NAT key.
    #[doc(hidden)]
    fn hash_nat_key<H: Hasher>(addr: Self::Addr, port: u16, protocol: u8, state: &mut H);
    /// (src, dst) of an L3 header.
    #[doc(hidden)]
    fn header_addrs(l3: &[u8]) -> Option<(Self::Addr, Self::Addr)>;
    /// Rewrites the addresses of an L3 header (and its checksum, IPv4). False if
    /// the header is too short.
    #[doc(hidden)]
    fn set_header_addrs(
        l3: &mut [u8],
        old: (Self::Addr, Self::Addr),
        src: Option<Self::Addr>,
        dst: Option<Self::Addr>,
    ) -> bool;
    /// RFC 1624 update of an L4 checksum for an address and a port.
    #[doc(hidden)]
    fn update_l4_checksum(c: u16, old: Self::Addr, new: Self::Addr, old_port: u16, new_port: u16) -> u16;
}

static CLASSIFY_ACTIONS: &[(&str, &[(&str, u32)])] = &[
    ("classify_hit", &[("first_member", 16), ("member_count", 16), ("mode", 8)]),
    ("classify_miss", &[]),
    (
        "classify_hit_sampled",
        &[("first_member", 16), ("member_count", 16), ("mode", 8), ("sample_mode", 8), ("sample_arg", 16)],
    ),
    ("classify_skip", &[("first_member", 16)]),
];

static CLASSIFY_V4_SCHEMA: Schema = Schema {
    name: "clone_classify_v4",
    ternary: true,
    fields: &[("src_addr", 32), ("dst_addr", 32), ("protocol", 8), ("l4_src_port", 16), ("l4_dst_port", 16)],
    actions: CLASSIFY_ACTIONS,
    default_action: 1,
    direct_counter: true,
};

static CLASSIFY_V6_SCHEMA: Schema = Schema {
    name: "clone_classify_v6",
    ternary: true,
    fields: &[("src_addr", 128), ("dst_addr", 128), ("next_header", 8), ("l4_src_port", 16), ("l4_dst_port", 16)],
    actions: CLASSIFY_ACTIONS,
    default_action: 1,
    direct_counter: true,
};

const NAT_V4_FIELDS: &[(&str, u32)] = &[("addr", 32), ("port", 16), ("protocol", 8)];
const NAT_V6_FIELDS: &[(&str, u32)] = &[("addr", 128), ("port", 16), ("next_header", 8)];
const NAT_V4_ACTIONS: &[(&str, &[(&str, u32)])] =
    &[("nat_set_v4", &[("client_addr", 32), ("client_port", 16)]), ("nat_miss", &[])];
const NAT_V6_ACTIONS: &[(&str, &[(&str, u32)])] =
    &[("nat_set_v6", &[("client_addr", 128), ("client_port", 16)]), ("nat_miss", &[])];

const fn nat_schema(
    name: &'static str,
    fields: &'static [(&'static str, u32)],
    actions: &'static [(&'static str, &'static [(&'static str, u32)])],
) -> Schema {
    Schema { name, ternary: false, fields, actions, default_action: 1, direct_counter: false }
}

static NAT_V4_SCHEMAS: [Schema; 2] =
    [nat_schema("nat_src_v4", NAT_V4_FIELDS, NAT_V4_ACTIONS), nat_schema("nat_dst_v4", NAT_V4_FIELDS, NAT_V4_ACTIONS)];
static NAT_V6_SCHEMAS: [Schema; 2] =
    [nat_schema("nat_src_v6", NAT_V6_FIELDS, NAT_V6_ACTIONS), nat_schema("nat_dst_v6", NAT_V6_FIELDS, NAT_V6_ACTIONS)];

impl Family for V4 {
    type Addr = u32;
    type Packed = PackedV4;
    const INDEX: usize = 0;
    const CLASSIFY_ID: TableId = TableId::ClassifyV4;
    const CLASSIFY_SIZE: usize = CLASSIFY_V4_SIZE;
    const NAT_SIZE: usize = NAT_V4_SIZE;
    const DIRECT_BASE: usize = layout::DIRECT_V4;

    fn nat_id(dir: NatDir) -> TableId {
        match dir {
            NatDir::Src => TableId::NatSrcV4,
            NatDir::Dst => TableId::NatDstV4,
        }
    }
    fn classify_schema() -> &'static Schema {
        &CLASSIFY_V4_SCHEMA
    }
    fn nat_schema(dir: NatDir) -> &'static Schema {
        &NAT_V4_SCHEMAS[dir.idx()]
    }
    #[inline(always)]
    fn pack(src: u32, dst: u32, protocol: u8, sport: u16, dport: u16) -> PackedV4 {
        PackedV4::new(src, dst, protocol, sport, dport)
    }
    fn unpack(p: &PackedV4) -> (u32, u32, u8, u16, u16) {
        (p.src(), p.dst(), p.proto(), p.sport(), p.dport())
    }
    #[inline(always)]
    fn frame_addrs(data: &[u8], p: &ParsedFrame) -> (u32, u32) {
        wire::ipv4_addrs(data, p).unwrap_or_default()
    }
    #[inline(always)]
    fn flow_hash(src: u32, sport: u16, dst: u32, dport: u16, protocol: u8) -> u32 {
        hash::flow_hash_v4(src, sport, dst, dport, protocol)
    }
    fn sample_hash(src: u32, sport: u16, dst: u32, dport: u16, protocol: u8) -> u32 {
        hash::crc32(&hash::sample_key_v4(src, sport, dst, dport, protocol))
    }
    #[inline]
    fn hash_nat_key<H: Hasher>(addr: u32, port: u16, protocol: u8, state: &mut H) {
        state.write_u64((u64::from(addr) << 24) | (u64::from(port) << 8) | u64::from(protocol));
    }
    fn header_addrs(l3: &[u8]) -> Option<(u32, u32)> {
        let ip = Ipv4Packet::new_checked(l3).ok()?;
        Some((ip.src(), ip.dst()))
    }
    fn set_header_addrs(l3: &mut [u8], old: (u32, u32), src: Option<u32>, dst: Option<u32>) -> bool {
        let Ok(mut ip) = Ipv4Packet::new_checked(l3) else {
            return false;
        };
        let mut c = ip.checksum();
        if let Some(a) = src {
            c = csum::update32(c, old.0, a);
            ip.set_src(a);
        }
        if let Some(a) = dst {
            c = csum::update32(c, old.1, a);
            ip.set_dst(a);
        }
        ip.set_checksum(c);
        true
    }
    fn update_l4_checksum(c: u16, old: u32, new: u32, old_port: u16, new_port: u16) -> u16 {
        csum::update_addr_port32(c, old, new, old_port, new_port)
    }
}

impl Family for V6 {
    type Addr = u128;
    type Packed = PackedV6;
    const INDEX: usize = 1;
    const CLASSIFY_ID: TableId = TableId::ClassifyV6;
    const CLASSIFY_SIZE: usize = CLASSIFY_V6_SIZE;
    const NAT_SIZE: usize = NAT_V6_SIZE;
    const DIRECT_BASE: usize = layout::DIRECT_V6;

    fn nat_id(dir: NatDir) -> TableId {
        match dir {
            NatDir::Src => TableId::NatSrcV6,
            NatDir::Dst => TableId::NatDstV6,
        }
    }
    fn classify_schema() -> &'static Schema {
        &CLASSIFY_V6_SCHEMA
    }
    fn nat_schema(dir: NatDir) -> &'static Schema {
        &NAT_V6_SCHEMAS[dir.idx()]
    }
    #[inline(always)]
    fn pack(src: u128, dst: u128, protocol: u8, sport: u16, dport: u16) -> PackedV6 {
        PackedV6::new(src, dst, protocol, sport, dport)
    }
    fn unpack(p: &PackedV6) -> (u128, u128, u8, u16, u16) {
        (p.src, p.dst, p.nh(), p.sport(), p.dport())
    }
    #[inline(always)]
    fn frame_addrs(data: &[u8], p: &ParsedFrame) -> (u128, u128) {
        wire::ipv6_addrs(data, p).unwrap_or_default()
    }
    #[inline(always)]
    fn flow_hash(src: u128, sport: u16, dst: u128, dport: u16, protocol: u8) -> u32 {
        hash::flow_hash_v6(src, sport, dst, dport, protocol)
    }
    fn sample_hash(src: u128, sport: u16, dst: u128, dport: u16, protocol: u8) -> u32 {
        hash::crc32(&hash::sample_key_v6(src, sport, dst, dport, protocol))
    }
    #[inline]
    fn hash_nat_key<H: Hasher>(addr: u128, port: u16, protocol: u8, state: &mut H) {
        state.write_u128(addr);
        state.write_u32((u32::from(port) << 8) | u32::from(protocol));
    }
    fn header_addrs(l3: &[u8]) -> Option<(u128, u128)> {
        let ip = Ipv6Packet::new_checked(l3).ok()?;
        Some((ip.src(), ip.dst()))
    }
    fn set_header_addrs(l3: &mut [u8], _old: (u128, u128), src: Option<u128>, dst: Option<u128>) -> bool {
        let Ok(mut ip) = Ipv6Packet::new_checked(l3) else {
            return false;
        };
        if let Some(a) = src {
            ip.set_src(a);
        }
        if let Some(a) = dst {
            ip.set_dst(a);
        }
        true
    }
    fn update_l4_checksum(c: u16, old: u128, new: u128, old_port: u16, new_port: u16) -> u16 {
        csum::update_addr_port128(c, old, new, old_port, new_port)
    }
}
