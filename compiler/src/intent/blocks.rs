//! Member blocks: the home block of a (profile, SE) key and the allocation of
//! blocks on one device, hints first (see the [`crate::intent`] module docs).

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

use crate::limits::MAX_CLONE_SERVERS;
pub use crate::limits::MAX_SESSION_ID;

/// Ids per block: the maximum number of clone servers in a profile.
pub const BLOCK_WIDTH: u16 = MAX_CLONE_SERVERS as u16;
/// Number of blocks per device: `32767 / 10`, so the highest member id is 32760.
pub const MAX_BLOCKS: u16 = MAX_SESSION_ID / BLOCK_WIDTH;

/// The home block of a (profile, SE) key: first 8 bytes of `sha256("profile\0se")`
/// as a big-endian integer, modulo [`MAX_BLOCKS`].
pub fn home_block(profile: &str, se: &str) -> u16 {
    home_block_in(profile, se, MAX_BLOCKS)
}

/// The home block of a (profile, SE) key on a device with `blocks` blocks (a
/// target with fewer clone sessions, `crate::target`): the same hash, modulo `blocks`.
pub fn home_block_in(profile: &str, se: &str, blocks: u16) -> u16 {
    let mut h = Sha256::new();
    h.update(profile.as_bytes());
    h.update([0u8]);
    h.update(se.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) % u64::from(blocks.max(1))) as u16
}

/// Assigns blocks to `keys` (profile, SE) of one device, honouring `hint` first.
///
/// Returns `None` when there are more keys than blocks.
pub fn allocate_blocks<'k>(
    keys: &[(&'k str, &'k str)],
    hint: impl Fn(&str, &str) -> Option<u16>,
) -> Option<HashMap<(&'k str, &'k str), u16>> {
    allocate_blocks_in(keys, hint, MAX_BLOCKS)
}

/// [`allocate_blocks`] on a device with `blocks` blocks (at most [`MAX_BLOCKS`]).
pub fn allocate_blocks_in<'k>(
    keys: &[(&'k str, &'k str)],
    hint: impl Fn(&str, &str) -> Option<u16>,
    blocks: u16,
) -> Option<HashMap<(&'k str, &'k str), u16>> {
    if keys.len() > usize::from(blocks) {
        return None;
    }
    let mut sorted: Vec<(&str, &str)> = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut taken = vec![false; usize::from(blocks)];
    let mut out = HashMap::with_capacity(sorted.len());
    let mut rest = Vec::new();
    for &(p, s) in &sorted {
        match hint(p, s) {
            Some(b) if b < blocks && !taken[usize::from(b)] => {
                taken[usize::from(b)] = true;
                out.insert((p, s), b);
            }
            _ => rest.push((home_block_in(p, s, blocks), p, s)),
        }
    }
    rest.sort_unstable();
    for (home, p, s) in rest {
        let mut b = usize::from(home);
        while taken[b] {
            b = (b + 1) % usize::from(blocks);
        }
        taken[b] = true;
        out.insert((p, s), b as u16);
    }
    Some(out)
}
