//! The symmetric flow hash: BMv2's `HashAlgorithm.crc32` over the contract's byte layout.
//!
//! BMv2's `crc32` (`src/bm_sim/calculations.cpp`) runs an MSB-first table for the
//! polynomial 0x04C11DB7. It reflects each input byte and then the final remainder,
//! with init and xor-out 0xFFFFFFFF. That is the standard reflected CRC-32 (IEEE
//! 802.3, zlib, check value 0xCBF43926), which this module computes the usual LSB-first
//! way with 0xEDB88320, slicing by 8. The `hash` extern then gives
//! `base + crc % max` (`modify_field_with_hash_based_offset`), here
//! `crc32 % member_count`.
//!
//! Byte layout (all big-endian, concatenated): IPv4 `lo_addr(4) hi_addr(4)
//! lo_port(2) hi_port(2) protocol(1)` = 13 bytes, IPv6 `16 16 2 2 1` = 37 bytes, where
//! `lo` is the smaller of `(src_addr, src_port)` and `(dst_addr, dst_port)` compared
//! as (address, then port). Both directions of a flow therefore hash alike.

const POLY: u32 = 0xEDB8_8320;

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// Standard CRC-32 (IEEE, reflected, init/xor-out 0xFFFFFFFF) of `data`, equal to BMv2's `crc32`.
#[inline]
pub fn crc32(data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u32::from(b)) & 0xFF) as usize];
    }
    !crc
}

/// The (address, port) pairs of a flow, smaller first (address, then port): both
/// directions of a connection give the same pair.
#[inline(always)]
fn ordered<A: Ord + Copy>(src: A, sport: u16, dst: A, dport: u16) -> ((A, u16), (A, u16)) {
    if (src, sport) <= (dst, dport) {
        ((src, sport), (dst, dport))
    } else {
        ((dst, dport), (src, sport))
    }
}

/// The 13 bytes hashed for an IPv4 flow (see the module doc).
#[inline]
pub fn flow_key_v4(src: u32, sport: u16, dst: u32, dport: u16, proto: u8) -> [u8; 13] {
    let ((la, lp), (ha, hp)) = ordered(src, sport, dst, dport);
    let mut k = [0u8; 13];
    k[0..4].copy_from_slice(&la.to_be_bytes());
    k[4..8].copy_from_slice(&ha.to_be_bytes());
    k[8..10].copy_from_slice(&lp.to_be_bytes());
    k[10..12].copy_from_slice(&hp.to_be_bytes());
    k[12] = proto;
    k
}

/// The 37 bytes hashed for an IPv6 flow (see the module doc).
#[inline]
pub fn flow_key_v6(src: u128, sport: u16, dst: u128, dport: u16, proto: u8) -> [u8; 37] {
    let ((la, lp), (ha, hp)) = ordered(src, sport, dst, dport);
    let mut k = [0u8; 37];
    k[0..16].copy_from_slice(&la.to_be_bytes());
    k[16..32].copy_from_slice(&ha.to_be_bytes());
    k[32..34].copy_from_slice(&lp.to_be_bytes());
    k[34..36].copy_from_slice(&hp.to_be_bytes());
    k[36] = proto;
    k
}

/// CRC-32 of the IPv4 flow key.
#[inline]
pub fn flow_hash_v4(src: u32, sport: u16, dst: u32, dport: u16, proto: u8) -> u32 {
    crc32(&flow_key_v4(src, sport, dst, dport, proto))
}

/// CRC-32 of the IPv6 flow key.
#[inline]
pub fn flow_hash_v6(src: u128, sport: u16, dst: u128, dport: u16, proto: u8) -> u32 {
    crc32(&flow_key_v6(src, sport, dst, dport, proto))
}

/// The flow sampling bytes of an IPv4 flow: the flow key's fields in another
/// order, `protocol(1) hi_port(2) lo_port(2) hi_addr(4) lo_addr(4)`, so the
/// sampling bucket does not follow the member choice.
#[inline]
pub fn sample_key_v4(src: u32, sport: u16, dst: u32, dport: u16, proto: u8) -> [u8; 13] {
    let ((la, lp), (ha, hp)) = ordered(src, sport, dst, dport);
    let mut k = [0u8; 13];
    k[0] = proto;
    k[1..3].copy_from_slice(&hp.to_be_bytes());
    k[3..5].copy_from_slice(&lp.to_be_bytes());
    k[5..9].copy_from_slice(&ha.to_be_bytes());
    k[9..13].copy_from_slice(&la.to_be_bytes());
    k
}

/// The flow sampling bytes of an IPv6 flow: `1 2 2 16 16`, as [`sample_key_v4`].
#[inline]
pub fn sample_key_v6(src: u128, sport: u16, dst: u128, dport: u16, proto: u8) -> [u8; 37] {
    let ((la, lp), (ha, hp)) = ordered(src, sport, dst, dport);
    let mut k = [0u8; 37];
    k[0] = proto;
    k[1..3].copy_from_slice(&hp.to_be_bytes());
    k[3..5].copy_from_slice(&lp.to_be_bytes());
    k[5..21].copy_from_slice(&ha.to_be_bytes());
    k[21..37].copy_from_slice(&la.to_be_bytes());
    k
}

/// The flow sampling bucket: `hash(.., 0, sample key, 10000)` = crc32 % 10000.
#[inline]
pub fn sample_bucket(hash: u32) -> u16 {
    (hash % SAMPLE_BUCKETS) as u16
}

/// Flow sampling buckets.
pub const SAMPLE_BUCKETS: u32 = 10_000;

/// The VXLAN source port of a flow: `hash(.., 49152, .., 16384)` =
/// 49152 + `hash` % 16384 (entropy for ECMP, the dynamic port range).
#[inline]
pub fn encap_sport(hash: u32) -> u16 {
    ENCAP_SPORT_BASE + (hash % ENCAP_SPORT_RANGE) as u16
}

/// First VXLAN source port (the dynamic port range 49152..=65535).
pub const ENCAP_SPORT_BASE: u16 = 49_152;
/// Number of VXLAN source ports.
pub const ENCAP_SPORT_RANGE: u32 = 16_384;

/// `hash % member_count` as the `hash` extern computes it (`member_count` must be non-zero).
#[inline]
pub fn member_offset(hash: u32, member_count: u16) -> u16 {
    (hash % u32::from(member_count)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-by-bit model of BMv2's `crc32` functor: MSB-first register, reflected
    /// input bytes, reflected output.
    fn bmv2_crc32(data: &[u8]) -> u32 {
        let mut rem: u32 = 0xFFFF_FFFF;
        for &b in data {
            rem ^= u32::from(b.reverse_bits()) << 24;
            for _ in 0..8 {
                rem = if rem & 0x8000_0000 != 0 { (rem << 1) ^ 0x04C1_1DB7 } else { rem << 1 };
            }
        }
        rem.reverse_bits() ^ 0xFFFF_FFFF
    }

    #[test]
    fn check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(bmv2_crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn equals_bmv2_model() {
        let mut x = 0x1234_5678u32;
        for len in 0..80 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert_eq!(crc32(&data), bmv2_crc32(&data), "len {len}");
        }
    }

    #[test]
    fn symmetric() {
        let a = flow_hash_v4(0x0A000001, 40000, 0x0A000002, 80, 6);
        let b = flow_hash_v4(0x0A000002, 80, 0x0A000001, 40000, 6);
        assert_eq!(a, b);
        // Same address both sides: ordering falls to the ports.
        assert_eq!(flow_key_v4(1, 9, 1, 3, 17), [0, 0, 0, 1, 0, 0, 0, 1, 0, 3, 0, 9, 17]);
        let a = flow_hash_v6(1 << 100, 1, 7, 2, 17);
        let b = flow_hash_v6(7, 2, 1 << 100, 1, 17);
        assert_eq!(a, b);
        assert_eq!(flow_key_v6(1, 2, 3, 4, 5).len(), 37);
    }
}
