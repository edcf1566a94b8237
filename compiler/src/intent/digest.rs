//! Short digests of profiles and rule owners, stored as entry metadata so a later
//! sync can tell what changed (see the [`crate::intent`] module docs).

use std::fmt;

use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::config::TrafficCloneProfile;

/// A short digest: the first 8 bytes of a sha256, shown (and serialized, and stored
/// as entry metadata) as 16 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 8]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(bytes).as_slice())
    }

    fn from_sha256(h: &[u8]) -> Digest {
        let mut d = [0u8; 8];
        d.copy_from_slice(&h[..8]);
        Digest(d)
    }

    /// The 16 hex characters as ASCII bytes (what lowering stores as metadata).
    pub fn hex_bytes(&self) -> [u8; 16] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
        out
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex_bytes();
        // Always ASCII hex digits.
        f.write_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The config digest of a clone profile: sha256 over the canonical JSON
/// serialization of every field.
pub fn profile_digest(p: &TrafficCloneProfile) -> Digest {
    // Serializing plain structs of strings/numbers/bools cannot fail; fall back to
    // the Debug form rather than panic if it ever did.
    let bytes = serde_json::to_vec(p).unwrap_or_else(|_| format!("{p:?}").into_bytes());
    Digest::of(&bytes)
}

/// The owner digest of a rule: over its sorted owning VS names and its profile digest.
pub fn owner_digest(vs_sorted: &[String], profile_digest: Digest) -> Digest {
    let mut h = Sha256::new();
    for v in vs_sorted {
        h.update(v.as_bytes());
        h.update([0u8]);
    }
    h.update([0xffu8]);
    h.update(profile_digest.hex_bytes());
    Digest::from_sha256(h.finalize().as_slice())
}
