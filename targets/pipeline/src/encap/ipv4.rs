//! The outer IPv4 header: 20 bytes, no options, identification 0 with DF set
//! (RFC 6864: an atomic datagram), TTL 64, full header checksum.

use crate::csum;

/// Bytes of the outer IPv4 header.
pub(super) const LEN: u16 = 20;
/// IP protocol UDP (VXLAN).
pub(super) const PROTO_UDP: u8 = 17;
/// IP protocol GRE.
pub(super) const PROTO_GRE: u8 = 47;
/// Time to live of the outer header.
const TTL: u8 = 64;
/// Flags DF, fragment offset 0.
const DF: u16 = 0x4000;

/// Appends the header.
pub(super) fn push(out: &mut Vec<u8>, src: [u8; 4], dst: [u8; 4], protocol: u8, total_len: u16) {
    let mut h = [0u8; LEN as usize];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total_len.to_be_bytes());
    h[6..8].copy_from_slice(&DF.to_be_bytes());
    h[8] = TTL;
    h[9] = protocol;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let c = csum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    out.extend_from_slice(&h);
}
