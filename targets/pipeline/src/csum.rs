//! Internet checksum: full computation (for tests and tools) and the incremental
//! update of RFC 1624, eqn. 3: `HC' = ~(~HC + ~m + m')`.
//!
//! The incremental helpers fold with end-around carry and complement, exactly as
//! written in the contract. A field wider than 16 bits is one update over all of its
//! 16-bit words: `update32` adds `~m_hi + ~m_lo + m'_hi + m'_lo` in a single sum, and
//! does not apply two `update16` calls one after the other. The result is the same
//! one's-complement value either way; only the representation of zero (0x0000 vs
//! 0xFFFF) can differ, and it does so in one case in 65536.

/// Folds a 64-bit one's-complement accumulator into 16 bits (end-around carry).
#[inline(always)]
pub fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

/// One's-complement sum of `data` as big-endian 16-bit words (odd tail padded with a
/// zero byte), added to `initial`. Not folded.
pub fn sum_bytes(data: &[u8], initial: u64) -> u64 {
    let mut sum = initial;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// The Internet checksum of `data`: `~fold(sum)`.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum_bytes(data, 0))
}

/// Incremental update for a 16-bit field changing from `old` to `new`.
#[inline]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    let sum = u64::from(!hc) + u64::from(!old) + u64::from(new);
    !fold(sum)
}

/// Incremental update for a 32-bit field (e.g. an IPv4 address).
#[inline]
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    let sum = u64::from(!hc)
        + u64::from(!(old >> 16) as u16)
        + u64::from(!(old as u16))
        + u64::from((new >> 16) as u16)
        + u64::from(new as u16);
    !fold(sum)
}

/// Incremental update for a 128-bit field (an IPv6 address).
#[inline]
pub fn update128(hc: u16, old: u128, new: u128) -> u16 {
    let mut sum = u64::from(!hc);
    for i in 0..8 {
        let sh = i * 16;
        sum += u64::from(!((old >> sh) as u16));
        sum += u64::from((new >> sh) as u16);
    }
    !fold(sum)
}

/// Incremental update of a transport checksum for an address and a port changing
/// together, in ONE sum (`~HC + ~addr words + addr' words + ~port + port'`), which is
/// how `p4src/traffic_clone.p4` does it; the result is bit-identical to the program.
#[inline]
pub fn update_addr_port32(hc: u16, old: u32, new: u32, old_port: u16, new_port: u16) -> u16 {
    let sum = u64::from(!hc)
        + u64::from(!(old >> 16) as u16)
        + u64::from(!(old as u16))
        + u64::from((new >> 16) as u16)
        + u64::from(new as u16)
        + u64::from(!old_port)
        + u64::from(new_port);
    !fold(sum)
}

/// [`update_addr_port32`] for a 128-bit (IPv6) address.
#[inline]
pub fn update_addr_port128(hc: u16, old: u128, new: u128, old_port: u16, new_port: u16) -> u16 {
    let mut sum = u64::from(!hc) + u64::from(!old_port) + u64::from(new_port);
    for i in 0..8 {
        let sh = i * 16;
        sum += u64::from(!((old >> sh) as u16));
        sum += u64::from((new >> sh) as u16);
    }
    !fold(sum)
}

/// RFC 768: a computed UDP checksum of 0 is transmitted as all ones, because 0 means
/// "no checksum".
#[inline]
pub fn udp_nonzero(csum: u16) -> u16 {
    if csum == 0 {
        0xFFFF
    } else {
        csum
    }
}

/// True when `a` and `b` are the same one's-complement value (equal, or 0x0000/0xFFFF).
pub fn equivalent(a: u16, b: u16) -> bool {
    a == b || (a == 0 && b == 0xFFFF) || (a == 0xFFFF && b == 0)
}

/// The IPv4 header checksum computed from scratch over `header` (with its checksum
/// field, bytes 10..12, taken as zero).
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let mut sum = 0u64;
    if header.len() >= 12 {
        sum = sum_bytes(&header[..10], sum);
        sum = sum_bytes(&header[12..], sum);
    } else {
        sum = sum_bytes(header, sum);
    }
    !fold(sum)
}

/// The TCP/UDP checksum over an IPv4 pseudo-header and the L4 segment `l4`, where
/// the checksum field at `csum_offset` in `l4` is taken as zero.
pub fn l4_checksum_v4(src: u32, dst: u32, proto: u8, l4: &[u8], csum_offset: usize) -> u16 {
    let mut sum = 0u64;
    sum += u64::from(src >> 16) + u64::from(src & 0xFFFF);
    sum += u64::from(dst >> 16) + u64::from(dst & 0xFFFF);
    sum += u64::from(proto) + l4.len() as u64;
    sum = sum_l4(l4, csum_offset, sum);
    !fold(sum)
}

/// The TCP/UDP checksum over an IPv6 pseudo-header and `l4` (checksum field at
/// `csum_offset` taken as zero).
pub fn l4_checksum_v6(src: u128, dst: u128, next_header: u8, l4: &[u8], csum_offset: usize) -> u16 {
    let mut sum = 0u64;
    for a in [src, dst] {
        for i in 0..8 {
            sum += u64::from((a >> (i * 16)) as u16);
        }
    }
    let len = l4.len() as u64;
    sum += (len >> 16) + (len & 0xFFFF) + u64::from(next_header);
    sum = sum_l4(l4, csum_offset, sum);
    !fold(sum)
}

fn sum_l4(l4: &[u8], csum_offset: usize, mut sum: u64) -> u64 {
    match l4.get(csum_offset..csum_offset + 2) {
        Some(_) => {
            sum = sum_bytes(&l4[..csum_offset], sum);
            sum_bytes(&l4[csum_offset + 2..], sum)
        }
        None => sum_bytes(l4, sum),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 -> sum 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_bytes(&d, 0)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn known_ipv4_header() {
        // A classic example header with checksum 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(ipv4_header_checksum(&h), 0xb861);
        assert_eq!(checksum(&h), 0);
    }

    proptest! {
        #[test]
        fn update16_matches_recompute(mut data in proptest::collection::vec(any::<u8>(), 2..64),
                                      idx in any::<prop::sample::Index>(), new in any::<u16>()) {
            let words = data.len() / 2;
            let w = idx.index(words) * 2;
            let before = checksum(&data);
            let old = u16::from_be_bytes([data[w], data[w + 1]]);
            data[w..w + 2].copy_from_slice(&new.to_be_bytes());
            let after = checksum(&data);
            prop_assert!(equivalent(update16(before, old, new), after));
        }

        #[test]
        fn update32_matches_recompute(mut data in proptest::collection::vec(any::<u8>(), 4..64),
                                      idx in any::<prop::sample::Index>(), new in any::<u32>()) {
            let words = data.len() / 2 - 1;
            let w = idx.index(words) * 2;
            let before = checksum(&data);
            let old = u32::from_be_bytes([data[w], data[w + 1], data[w + 2], data[w + 3]]);
            data[w..w + 4].copy_from_slice(&new.to_be_bytes());
            prop_assert!(equivalent(update32(before, old, new), checksum(&data)));
        }

        #[test]
        fn update128_matches_recompute(mut data in proptest::collection::vec(any::<u8>(), 16..96),
                                       idx in any::<prop::sample::Index>(), new in any::<u128>()) {
            let words = data.len() / 2 - 7;
            let w = idx.index(words) * 2;
            let before = checksum(&data);
            let mut o = [0u8; 16];
            o.copy_from_slice(&data[w..w + 16]);
            let old = u128::from_be_bytes(o);
            data[w..w + 16].copy_from_slice(&new.to_be_bytes());
            prop_assert!(equivalent(update128(before, old, new), checksum(&data)));
        }
    }
}
