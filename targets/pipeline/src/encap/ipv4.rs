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

/// Writes the header into `h` (`LEN` bytes, zeroed).
pub(super) fn write(h: &mut [u8; LEN as usize], src: [u8; 4], dst: [u8; 4], protocol: u8, total_len: u16) {
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total_len.to_be_bytes());
    h[6..8].copy_from_slice(&DF.to_be_bytes());
    h[8] = TTL;
    h[9] = protocol;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    // The header's nine non-zero 16-bit words, summed directly (the same value as
    // `csum::checksum(&h)` over the 20 bytes, without the byte loop).
    let word = |b: [u8; 2]| u64::from(u16::from_be_bytes(b));
    let sum = 0x4500
        + u64::from(total_len)
        + u64::from(DF)
        + (u64::from(TTL) << 8 | u64::from(protocol))
        + word([src[0], src[1]])
        + word([src[2], src[3]])
        + word([dst[0], dst[1]])
        + word([dst[2], dst[3]]);
    let c = !csum::fold(sum);
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_word_sum_is_the_full_checksum() {
        for (src, dst, proto, len) in [
            ([192, 168, 50, 2], [198, 51, 100, 20], 17, 1500),
            ([255; 4], [255; 4], 47, 0xFFFF),
            ([0; 4], [0; 4], 17, 0),
        ] {
            let mut h = [0u8; super::LEN as usize];
            super::write(&mut h, src, dst, proto, len);
            assert_eq!(crate::csum::checksum(&h), 0, "{h:?}");
        }
    }
}
