//! Canonical P4Runtime bytestrings (P4Runtime spec §8.4).
//!
//! A value of a `bit<W>` field travels as big-endian bytes with no leading zero
//! bytes; the value 0 is a single zero byte. The empty string is never valid.
//! Servers also accept non-canonical strings (leading zeros) as long as the
//! value fits the field's bitwidth, which [`decode_checked`] and [`fits`] do.
//!
//! ```
//! use p4clone_proto::bytestring;
//! assert_eq!(bytestring::encode(0), [0]);
//! assert_eq!(bytestring::encode(256), [1, 0]);
//! assert_eq!(bytestring::decode(&[0, 1, 0]).unwrap(), 256);
//! assert!(!bytestring::is_canonical(&[0, 1, 0]));
//! assert!(bytestring::encode_checked(512, 9).is_err());
//! ```

use crate::{Bytes, Error};

/// Canonical encoding of `value`.
pub fn encode(value: u128) -> Vec<u8> {
    encode_bytes(&value.to_be_bytes())
}

/// Canonical encoding of `value`, failing if it does not fit in `bitwidth` bits.
pub fn encode_checked(value: u128, bitwidth: u32) -> Result<Vec<u8>, Error> {
    if !value_fits(value, bitwidth) {
        return Err(too_wide(&encode(value), bitwidth));
    }
    Ok(encode(value))
}

/// Canonical encoding of `value` as [`Bytes`], the type of protobuf `bytes` fields.
///
/// The same bytes as [`encode`]. Values below 65,536 (ports, protocols, session ids,
/// parameters) and prefix masks (`ff..ff00..00`) point into static tables, so they
/// cost no allocation and cloning them is free; other values are one exactly-sized
/// allocation. Encoding large tables is dominated by these small buffers.
pub fn encode_shared(value: u128) -> Bytes {
    if value < 1 << 16 {
        let i = value as usize * 2;
        let start = if value < 1 << 8 { i + 1 } else { i };
        return Bytes::from_static(&SMALL_VALUES[start..i + 2]);
    }
    let len = (value.ilog2() / 8 + 1) as usize;
    let aligned = value << (128 - 8 * len as u32);
    let ones = aligned.leading_ones();
    if ones as usize > 8 * (len - 1) && aligned.checked_shl(ones).unwrap_or(0) == 0 {
        return Bytes::from_static(&PREFIX_MASKS[ones as usize][..len]);
    }
    Bytes::from(value.to_be_bytes()[16 - len..].to_vec())
}

/// Every value below 65,536 as two big-endian bytes: `[2v, 2v + 2)` is the
/// canonical encoding of `v >= 256`, `[2v + 1, 2v + 2)` that of `v < 256`.
static SMALL_VALUES: [u8; 1 << 17] = {
    let mut t = [0u8; 1 << 17];
    let mut v = 0usize;
    while v < 1 << 16 {
        t[2 * v] = (v >> 8) as u8;
        t[2 * v + 1] = v as u8;
        v += 1;
    }
    t
};

/// Row `n`: `n` one bits followed by zero bits, over 16 bytes. A prefix mask of
/// `n` bits that is `len` bytes long is the first `len` bytes of row `n`.
static PREFIX_MASKS: [[u8; 16]; 129] = {
    let mut t = [[0u8; 16]; 129];
    let mut n = 0usize;
    while n <= 128 {
        let mut bit = 0usize;
        while bit < n {
            t[n][bit / 8] |= 0x80 >> (bit % 8);
            bit += 1;
        }
        n += 1;
    }
    t
};

/// Canonical form of big-endian `bytes`: leading zero bytes stripped, and a
/// single zero byte for zero (including the empty input).
pub fn encode_bytes(bytes: &[u8]) -> Vec<u8> {
    let significant = strip(bytes);
    if significant.is_empty() {
        vec![0]
    } else {
        significant.to_vec()
    }
}

/// The value of a (canonical or zero-padded) bytestring.
///
/// Fails on the empty string and on values wider than 128 bits.
pub fn decode(bytes: &[u8]) -> Result<u128, Error> {
    if bytes.is_empty() {
        return Err(Error::EmptyBytestring);
    }
    let significant = strip(bytes);
    if significant.len() > 16 {
        return Err(too_wide(bytes, 128));
    }
    Ok(significant.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b)))
}

/// [`decode`], additionally failing if the value does not fit in `bitwidth` bits.
pub fn decode_checked(bytes: &[u8], bitwidth: u32) -> Result<u128, Error> {
    check_fits(bytes, bitwidth)?;
    decode(bytes)
}

/// Whether `bytes` is non-empty and in canonical form.
pub fn is_canonical(bytes: &[u8]) -> bool {
    match bytes {
        [] => false,
        [_] => true,
        [first, ..] => *first != 0,
    }
}

/// Whether the value of `bytes` (leading zeros ignored) fits in `bitwidth`
/// bits. Any width is supported, not only up to 128. The empty string fits
/// nothing.
pub fn fits(bytes: &[u8], bitwidth: u32) -> bool {
    !bytes.is_empty() && significant_bits(bytes) <= u64::from(bitwidth)
}

/// Whether `value` fits in `bitwidth` bits.
pub fn value_fits(value: u128, bitwidth: u32) -> bool {
    bitwidth >= 128 || value >> bitwidth == 0
}

/// [`fits`] as a `Result`, naming the value and width on failure.
pub fn check_fits(bytes: &[u8], bitwidth: u32) -> Result<(), Error> {
    if bytes.is_empty() {
        Err(Error::EmptyBytestring)
    } else if fits(bytes, bitwidth) {
        Ok(())
    } else {
        Err(too_wide(bytes, bitwidth))
    }
}

/// Zero-pads (or canonicalises, then pads) `bytes` to exactly
/// `ceil(bitwidth / 8)` bytes, failing if the value does not fit.
pub fn to_width(bytes: &[u8], bitwidth: u32) -> Result<Vec<u8>, Error> {
    check_fits(bytes, bitwidth)?;
    let len = byte_len(bitwidth);
    let significant = strip(bytes);
    let mut out = vec![0u8; len.saturating_sub(significant.len())];
    out.extend_from_slice(significant);
    Ok(out)
}

/// Number of bytes needed for `bitwidth` bits (`ceil(bitwidth / 8)`).
pub fn byte_len(bitwidth: u32) -> usize {
    bitwidth.div_ceil(8) as usize
}

/// All-ones mask of `bitwidth` bits (`bitwidth` is capped at 128).
pub fn mask(bitwidth: u32) -> u128 {
    if bitwidth >= 128 {
        u128::MAX
    } else {
        (1u128 << bitwidth) - 1
    }
}

/// Canonical all-ones ternary mask for a field of `bitwidth` bits (any width).
pub fn full_mask(bitwidth: u32) -> Vec<u8> {
    if bitwidth == 0 {
        return vec![0];
    }
    let mut out = vec![0xffu8; byte_len(bitwidth)];
    let spare = byte_len(bitwidth) * 8 - bitwidth as usize;
    out[0] >>= spare;
    out
}

/// Canonical ternary mask equivalent to an LPM prefix of `prefix_len` bits in
/// a field of `bitwidth` bits (any width).
pub fn prefix_mask(prefix_len: u32, bitwidth: u32) -> Result<Vec<u8>, Error> {
    if prefix_len > bitwidth {
        return Err(Error::BadPrefixLen { prefix_len, bitwidth });
    }
    let len = byte_len(bitwidth);
    let mut out = vec![0u8; len];
    // Bit i (0 = most significant bit of the field) lives at
    // position i + spare counted from the top of the padded bytes.
    let spare = len * 8 - bitwidth as usize;
    for i in 0..prefix_len as usize {
        let pos = i + spare;
        out[pos / 8] |= 0x80 >> (pos % 8);
    }
    Ok(encode_bytes(&out))
}

/// `value & mask`, canonical. Inputs may have different lengths (they are
/// right-aligned, as big-endian numbers).
pub fn apply_mask(value: &[u8], mask: &[u8]) -> Vec<u8> {
    let len = value.len().max(mask.len());
    let v = left_pad(value, len);
    let m = left_pad(mask, len);
    let anded: Vec<u8> = v.iter().zip(&m).map(|(a, b)| a & b).collect();
    encode_bytes(&anded)
}

/// Whether a ternary `value` has no bits set outside `mask` (P4Runtime
/// requires masked-off bits to be zero).
pub fn is_masked(value: &[u8], mask: &[u8]) -> bool {
    let len = value.len().max(mask.len());
    let v = left_pad(value, len);
    let m = left_pad(mask, len);
    v.iter().zip(&m).all(|(a, b)| a & !b == 0)
}

fn strip(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn significant_bits(bytes: &[u8]) -> u64 {
    let s = strip(bytes);
    match s.first() {
        None => 0,
        Some(&b) => (s.len() as u64 - 1) * 8 + u64::from(8 - b.leading_zeros()),
    }
}

fn left_pad(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len - bytes.len()];
    out.extend_from_slice(bytes);
    out
}

fn too_wide(bytes: &[u8], bitwidth: u32) -> Error {
    let s = strip(bytes);
    let value = if s.is_empty() {
        "0".to_string()
    } else {
        let hex: String = s.iter().map(|b| format!("{b:02x}")).collect();
        hex.trim_start_matches('0').to_string()
    };
    Error::ValueTooWide { value, bitwidth }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_bits_counts() {
        assert_eq!(significant_bits(&[0]), 0);
        assert_eq!(significant_bits(&[1]), 1);
        assert_eq!(significant_bits(&[0, 0x80]), 8);
        assert_eq!(significant_bits(&[1, 0]), 9);
    }

    #[test]
    fn encode_shared_matches_encode() {
        let mut values: Vec<u128> = (0..=70_000).collect();
        for bits in [8u32, 16, 24, 32, 48, 64, 128] {
            for len in 1..=bits {
                let full = mask(bits);
                values.push(full & !full.checked_shr(len).unwrap_or(0));
            }
        }
        values.extend([0xffff_ff01, 0xff00_ff00, 0x8000_0001, 0x0a14_010b, u128::MAX, u128::MAX - 1, 1 << 127]);
        values.extend((0..128).map(|s| 0x1234_5678_9abc_def0_u128.rotate_left(s)));
        for v in values {
            assert_eq!(encode_shared(v).as_ref(), encode(v).as_slice(), "value {v:#x}");
        }
    }
}
