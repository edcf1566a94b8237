//! Encapsulated delivery (`clone_encap`, `docs/dataplane.md` "Encapsulated
//! delivery"): the outer headers put in front of a clone, one file per header, and
//! the length rules every target follows byte for byte.
//!
//! Lengths are 16-bit and wrap as the P4 program's `bit<16>` arithmetic does:
//! `kept = min(frame, truncate_len or ∞)`, then `kept = mtu - overhead` when it is
//! larger (an MTU cut); the outer IPv4 total length is `overhead + kept`.

mod erspan;
mod gre;
mod ipv4;
mod vxlan;

use crate::table::EncapAction;
use crate::wire::ethertype;

/// Bytes of an outer Ethernet header, untagged / tagged.
const L2_LEN: u16 = 14;
const L2_TAGGED_LEN: u16 = 18;

/// The outer L2 header: `clone_rewrite_set`'s MACs and VLAN.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OuterL2 {
    /// Destination MAC (collector or gateway).
    pub dst: [u8; 6],
    /// Source MAC (the SE interface).
    pub src: [u8; 6],
    /// 0 = untagged, otherwise the network's VID.
    pub vid: u16,
}

impl OuterL2 {
    /// Bytes of this L2 header.
    pub(crate) fn len(&self) -> u16 {
        if self.vid == 0 {
            L2_LEN
        } else {
            L2_TAGGED_LEN
        }
    }

    /// Writes the header into `h`; its length.
    fn write(&self, h: &mut [u8; L2_TAGGED_LEN as usize]) -> usize {
        h[0..6].copy_from_slice(&self.dst);
        h[6..12].copy_from_slice(&self.src);
        if self.vid != 0 {
            h[12..14].copy_from_slice(&ethertype::VLAN.to_be_bytes());
            h[14..16].copy_from_slice(&self.vid.to_be_bytes());
            h[16..18].copy_from_slice(&ethertype::IPV4.to_be_bytes());
            L2_TAGGED_LEN as usize
        } else {
            h[12..14].copy_from_slice(&ethertype::IPV4.to_be_bytes());
            L2_LEN as usize
        }
    }
}

/// What the outer headers depend on beyond the table entry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PerCopy {
    /// VXLAN UDP source port (49152 + the flow hash % 16384).
    pub sport: u16,
    /// ERSPAN sequence number.
    pub seq: u32,
    /// The original frame's 802.1Q TCI, when it has a tag.
    pub inner_tci: Option<u16>,
}

/// The size and cut of one encapsulated copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lengths {
    /// Outer IPv4 header plus tunnel headers.
    pub overhead: u16,
    /// Bytes of the original frame kept.
    pub kept: u16,
    /// The MTU, not `truncate_len`, decided `kept`.
    pub mtu_cut: bool,
}

/// Outer IPv4 header plus tunnel headers of `a`; `None` for a plain clone.
pub(crate) fn overhead(a: &EncapAction) -> Option<u16> {
    match a {
        EncapAction::Vxlan { .. } => Some(ipv4::LEN + vxlan::UDP_VXLAN_LEN),
        EncapAction::Gre { key_present, .. } => Some(ipv4::LEN + gre::len(*key_present)),
        EncapAction::Erspan { .. } => Some(ipv4::LEN + gre::SEQ_LEN + erspan::LEN),
        EncapAction::None => None,
    }
}

/// The contract's length rule for a frame of `frame_len` bytes.
pub(crate) fn lengths(frame_len: u16, truncate_len: u16, mtu: u16, overhead: u16) -> Lengths {
    let mut kept = frame_len;
    if truncate_len != 0 && kept > truncate_len {
        kept = truncate_len;
    }
    let limit = mtu.wrapping_sub(overhead);
    let mtu_cut = kept > limit;
    if mtu_cut {
        kept = limit;
    }
    Lengths { overhead, kept, mtu_cut }
}

/// The largest outer header: tagged Ethernet, IPv4 and UDP + VXLAN or GRE + ERSPAN.
const MAX_OUTER: usize = L2_TAGGED_LEN as usize + 36;

/// Appends the outer headers of `a` (not [`EncapAction::None`]) to `out`: written
/// into one stack buffer at fixed offsets, then appended in one copy.
#[inline]
pub(crate) fn push_outer(out: &mut Vec<u8>, l2: &OuterL2, a: &EncapAction, len: &Lengths, c: &PerCopy) {
    let (outer, protocol) = match a {
        EncapAction::Vxlan { outer, .. } => (outer, ipv4::PROTO_UDP),
        EncapAction::Gre { outer, .. } | EncapAction::Erspan { outer, .. } => (outer, ipv4::PROTO_GRE),
        EncapAction::None => return,
    };
    let mut h = [0u8; MAX_OUTER];
    let l2_len = l2.write((&mut h[..L2_TAGGED_LEN as usize]).try_into().expect("18 bytes"));
    // The IP header starts right after the L2 header actually written.
    let rest = &mut h[l2_len..];
    let (iph, tun) = rest.split_at_mut(ipv4::LEN as usize);
    let total = len.overhead.wrapping_add(len.kept);
    ipv4::write(iph.try_into().expect("20 bytes"), outer.src_addr, outer.dst_addr, protocol, total);
    let tun_len = match *a {
        EncapAction::Vxlan { vni, .. } => {
            let t = &mut tun[..vxlan::UDP_VXLAN_LEN as usize];
            vxlan::write(
                t.try_into().expect("16 bytes"),
                c.sport,
                (len.overhead - ipv4::LEN).wrapping_add(len.kept),
                vni,
            );
            vxlan::UDP_VXLAN_LEN
        }
        EncapAction::Gre { key, key_present, .. } => {
            gre::write_teb((&mut tun[..8]).try_into().expect("8 bytes"), key_present.then_some(key))
        }
        EncapAction::Erspan { session_id, .. } => {
            let (g, e) = tun.split_at_mut(gre::SEQ_LEN as usize);
            gre::write_erspan(g.try_into().expect("8 bytes"), c.seq);
            erspan::write(
                (&mut e[..erspan::LEN as usize]).try_into().expect("8 bytes"),
                session_id,
                c.inner_tci,
                len.mtu_cut,
            );
            gre::SEQ_LEN + erspan::LEN
        }
        EncapAction::None => 0,
    };
    // Constant-size copy (no memcpy call), then drop the unused bytes.
    out.extend_from_slice(&h);
    out.truncate(out.len() - (MAX_OUTER - (l2_len + usize::from(ipv4::LEN + tun_len))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Outer;

    #[test]
    fn lengths_follow_truncate_then_mtu() {
        // 1514-byte frame, VXLAN (36), MTU 1500: 1464 kept, cut by the MTU.
        assert_eq!(lengths(1514, 0, 1500, 36), Lengths { overhead: 36, kept: 1464, mtu_cut: true });
        // truncate 128 wins over the MTU.
        assert_eq!(lengths(1514, 128, 1500, 36), Lengths { overhead: 36, kept: 128, mtu_cut: false });
        // Small frames are whole.
        assert_eq!(lengths(60, 0, 1500, 28), Lengths { overhead: 28, kept: 60, mtu_cut: false });
        // An MTU below the overhead wraps as bit<16> does: no cut.
        assert!(!lengths(60, 0, 10, 36).mtu_cut);
    }

    #[test]
    fn outer_headers_are_consistent() {
        let a = EncapAction::Vxlan {
            outer: Outer { src_addr: [10, 0, 0, 1], dst_addr: [10, 0, 0, 2], mtu: 1500 },
            vni: 0x12_3456,
        };
        let l2 = OuterL2 { dst: [2; 6], src: [4; 6], vid: 50 };
        let len = lengths(100, 0, 1500, overhead(&a).unwrap());
        let mut out = Vec::new();
        push_outer(&mut out, &l2, &a, &len, &PerCopy { sport: 0xC001, ..Default::default() });
        assert_eq!(out.len(), 18 + 36);
        let ip = &out[18..38];
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 136);
        assert_eq!(crate::csum::checksum(ip), 0, "the header checksum verifies");
        assert_eq!(&out[38..40], &0xC001u16.to_be_bytes());
        assert_eq!(u16::from_be_bytes([out[42], out[43]]), 116);
        assert_eq!(&out[46..54], &[0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
    }
}
