//! The seeded hasher of the table lookups: a folded 64×64→128 multiply, as in
//! foldhash, for fixed-size keys.

use std::hash::{BuildHasher, Hasher};

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xD6E8_FEB8_6659_FD93;

#[inline(always)]
fn folded_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A fast, seeded hasher for fixed-size keys (folded 64×64→128 multiply, as in foldhash).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = folded_mul(self.0 ^ i, K0);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.0 = folded_mul(self.0 ^ (i as u64), ((i >> 64) as u64) ^ K1);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FastHasher`]s from a per-pipeline random seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastBuild {
    seed: u64,
}

impl FastBuild {
    /// A builder with a random seed (from std's `RandomState`).
    pub(crate) fn random() -> Self {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64);
        Self { seed: seed | 1 }
    }
}

impl BuildHasher for FastBuild {
    type Hasher = FastHasher;
    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.seed)
    }
}
