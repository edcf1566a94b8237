//! Target-neutral, per-device intent: what each device must hold, as pure data.
//!
//! [`compile`] turns a validated [`Config`] into an [`Intent`]: for every device its
//! wire pairs, clone members (one per clone server per profile block, each a clone
//! session), classify rules (both directions of every VS ↔ pool-member pair) and NAT
//! bindings. Lowering to P4Runtime entities is [`crate::lower`]'s job; nothing here
//! knows ids or encodings, and nothing here does I/O.
//!
//! `compile` assumes [`crate::validate`] passed but never panics on a config that did
//! not: every string is re-parsed and every reference re-resolved, and problems come
//! back as [`Diagnostic`]s naming the object path.
//!
//! # Member ids (clone session ids)
//!
//! The allocation unit is a **block**: one (clone profile, service engine) pair on a
//! device. Every SE of a cloned VS's SE group that sits on the device gets its own
//! block of the profile's clone servers, so each SE has its own round-robin cursor
//! (the `rr_cursor` register is indexed by the block's first member id) and its own
//! per-clone-server statistics. Several VSs sharing a profile on one SE share the
//! block.
//!
//! Blocks are [`BLOCK_WIDTH`] (10, the maximum number of clone servers) ids wide:
//! block `b` (`0 <= b <` [`MAX_BLOCKS`] `= 3276`) holds member ids `10*b + 1 ..= 10*b + 10`,
//! so ids stay within BMv2's clone session range 1..=32767 (DESIGN §8). A profile with
//! `k` clone servers uses the first `k` ids of its block: clone server `i` (0-based, in
//! declaration order) is member `10*b + 1 + i`.
//!
//! Which block a key gets, per device:
//! 1. **Hints first.** `hints` ([`Allocation`], e.g. what the runtime read back from
//!    the device, or [`Intent::allocation`] of the previous compile) map
//!    (device, profile, SE) to a block. Every key still present keeps its hinted block,
//!    so ids never move across edits. Hints are taken in (profile, SE) order; a hint
//!    out of range or naming a block already taken by an earlier hint is ignored, and
//!    hints for keys that no longer exist are dropped.
//! 2. **Then hashing.** Each remaining key has a *home* block: the first 8 bytes
//!    (big-endian) of `sha256("profile\0se")` modulo 3276. Keys are placed in
//!    (home, profile, SE) order, each at its home or, if taken, the next free block
//!    (linear probing, wrapping around).
//!
//! The result depends only on the set of keys and the hints, never on the order of
//! objects in the file. Without hints, adding or removing a key moves at most keys
//! that had collided with it; with hints, nothing moves. A device needing more than
//! 3276 blocks is an error ("needs more than 32767 clone sessions").
//!
//! # Classify rules and priorities
//!
//! For each cloned VS, each SE of its SE group on the device, each pool server, each
//! interface of that SE whose network's subnet contains the server address (the "SE
//! side"), and each distinct protocol of the VS's services, two rules are generated:
//! - forward: `src = SE address/32|128, dst = server/32|128, protocol, sport *, dport = server port`;
//! - reverse: `src = server, dst = SE address, protocol, sport = server port, dport *`.
//!
//! Rules with identical keys from several VSs that select the same block are merged
//! into one (the owning VSs are listed); identical keys selecting different blocks are
//! an error naming both VSs. Every generated rule is exact on both addresses and the
//! protocol and exact on one port, so all rules have the same specificity: they all get
//! the constant priority [`RULE_PRIORITY`]. After deduplication two rules can only
//! overlap if an SE interface address is also a pool-member address.
//!
//! Rules are sorted by (family, src, src length, dst, dst length, protocol, sport,
//! dport); members by id; blocks by first id; NAT entries by (SE address, port,
//! protocol).
//!
//! # Digests
//!
//! A profile's `config_digest` is 16 hex characters of sha256 over the canonical JSON
//! serialization of every field of the profile, so any change to the profile changes
//! it (the runtime resets that profile's counters then). A rule's `owner_digest` is the
//! digest over its sorted owning VS names and its profile's digest. Lowering stores
//! these as entry metadata so a later sync can detect change.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::config::{Config, Distribution, Protocol, Target, TrafficCloneProfile, DEFAULT_TENANT};
use crate::diag::Diagnostic;
use crate::net::{parse_endpoint, FastHashMap, FastHashSet, IfAddr, Mac, Prefix};

/// Ids per block: the maximum number of clone servers in a profile.
pub const BLOCK_WIDTH: u16 = 10;
/// Number of blocks per device: `32767 / 10`, so the highest member id is 32760.
pub const MAX_BLOCKS: u16 = 3276;
/// Highest clone session id a device accepts (BMv2, DESIGN §8).
pub const MAX_SESSION_ID: u16 = 32767;
/// The priority of every generated classify rule (see the module docs).
pub const RULE_PRIORITY: i32 = 100;

/// The whole intent: one entry per configured device, sorted by device name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Intent {
    /// Per-device intent, sorted by name.
    pub devices: Vec<DeviceIntent>,
}

/// Everything one device must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceIntent {
    /// Device name.
    pub name: String,
    /// Data-plane kind.
    pub target: Target,
    /// P4Runtime endpoint `host:port`.
    pub address: String,
    /// P4Runtime device id.
    pub device_id: u64,
    /// Bump-in-the-wire port pairs, in declaration order.
    pub wires: Vec<WirePair>,
    /// Clone members (= clone sessions), sorted by id.
    pub members: Vec<CloneMember>,
    /// Classify rules, sorted by key.
    pub rules: Vec<ClassifyRule>,
    /// NAT bindings of SE addresses on this device, sorted by SE endpoint.
    pub nat: Vec<NatEntry>,
    /// Member blocks, one per (profile, SE), sorted by first member id.
    pub blocks: Vec<MemberBlock>,
}

/// A member id, which is also the clone session id and the replica instance (1..=32767).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MemberId(pub u16);

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A wire: two device ports forwarded to each other, both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct WirePair(pub u32, pub u32);

/// The block of member ids of one (profile, SE) pair on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberBlock {
    /// Clone profile name.
    pub profile: String,
    /// Service engine name.
    pub se: String,
    /// Block index, `0..3276`.
    pub index: u16,
    /// First member id of the block (`10 * index + 1`).
    pub first: MemberId,
    /// Members used: the profile's clone server count.
    pub count: u16,
    /// Round robin or flow hash.
    #[serde(serialize_with = "ser_distribution")]
    pub mode: Distribution,
    /// The profile's config digest.
    pub config_digest: Digest,
}

/// One clone member: a clone server as seen from one SE; one clone session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloneMember {
    /// Member id = clone session id = replica instance.
    pub id: MemberId,
    /// Clone profile name.
    pub profile: String,
    /// Service engine name.
    pub se: String,
    /// Index of the clone server in the profile's list.
    pub server_index: u8,
    /// Clone server address (may be a dummy).
    pub clone_ip: IpAddr,
    /// Device port of the SE's interface on the clone server's network.
    pub egress_port: u32,
    /// That interface's MAC: the clone's source MAC.
    #[serde(serialize_with = "ser_display")]
    pub src_mac: Mac,
    /// The clone server's MAC: the clone's destination MAC.
    #[serde(serialize_with = "ser_display")]
    pub dst_mac: Mac,
    /// VLAN of the clone network; `None` = untagged.
    pub vlan: Option<u16>,
    /// Bytes kept per clone; 0 = whole frame.
    pub truncate: u16,
    /// Restore the client address from NAT bindings (`preserve_client_ip`).
    pub nat_restore: bool,
    /// The profile's config digest.
    pub config_digest: Digest,
}

/// IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Address width in bits.
    pub fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// One ternary classify rule selecting a member block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassifyRule {
    /// Address family (selects `clone_classify_v4` or `_v6`).
    pub family: Family,
    /// Source address (network bits).
    pub src_addr: IpAddr,
    /// Source prefix length; 0 = wildcard.
    pub src_len: u8,
    /// Destination address (network bits).
    pub dst_addr: IpAddr,
    /// Destination prefix length; 0 = wildcard.
    pub dst_len: u8,
    /// IP protocol / next header.
    pub protocol: u8,
    /// L4 source port; `None` = wildcard.
    pub l4_src_port: Option<u16>,
    /// L4 destination port; `None` = wildcard.
    pub l4_dst_port: Option<u16>,
    /// Ternary priority (higher wins).
    pub priority: i32,
    /// First member id of the selected block.
    pub first_member: MemberId,
    /// Members in the block.
    pub member_count: u16,
    /// Member selection mode.
    #[serde(serialize_with = "ser_distribution")]
    pub mode: Distribution,
    /// The VSs this rule clones for, sorted.
    pub vs: Vec<String>,
    /// Digest over the owning VSs and the profile digest.
    pub owner_digest: Digest,
}

/// A NAT binding on this device: SE `address:port` stands for client `address:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct NatEntry {
    /// SE-side address (an interface address of an SE on this device).
    pub se_addr: IpAddr,
    /// SE-side L4 port.
    pub se_port: u16,
    /// Client address.
    pub client_addr: IpAddr,
    /// Client L4 port.
    pub client_port: u16,
    /// IP protocol number.
    pub protocol: u8,
}

/// Block allocation hints: (device, profile, SE) → block index.
///
/// Pass the allocation of what is already on a device (or of the previous compile,
/// [`Intent::allocation`]) to [`compile`] so existing member ids never move.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Allocation {
    /// device → profile → SE → block index.
    pub devices: BTreeMap<String, BTreeMap<String, BTreeMap<String, u16>>>,
}

impl Allocation {
    /// Records that (device, profile, se) holds block `index`.
    pub fn insert(&mut self, device: &str, profile: &str, se: &str, index: u16) {
        self.devices
            .entry(device.to_string())
            .or_default()
            .entry(profile.to_string())
            .or_default()
            .insert(se.to_string(), index);
    }

    /// The block hinted for (device, profile, se), if any.
    pub fn get(&self, device: &str, profile: &str, se: &str) -> Option<u16> {
        self.devices.get(device)?.get(profile)?.get(se).copied()
    }

    /// Number of (device, profile, se) keys.
    pub fn len(&self) -> usize {
        self.devices.values().flat_map(|p| p.values()).map(|s| s.len()).sum()
    }

    /// Whether there are no hints.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Intent {
    /// The block allocation of this intent, to pass as hints to a later [`compile`].
    pub fn allocation(&self) -> Allocation {
        let mut a = Allocation::default();
        for d in &self.devices {
            for b in &d.blocks {
                a.insert(&d.name, &b.profile, &b.se, b.index);
            }
        }
        a
    }

    /// The device named `name`.
    pub fn device(&self, name: &str) -> Option<&DeviceIntent> {
        self.devices.iter().find(|d| d.name == name)
    }
}

/// Entries per data-plane table (and clone sessions) one device needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    /// `wire` entries (two per wire pair).
    pub wire: usize,
    /// Clone sessions (packet replication engine), one per member.
    pub clone_sessions: usize,
    /// `clone_rewrite` entries, one per member.
    pub clone_rewrite: usize,
    /// `clone_classify_v4` entries.
    pub clone_classify_v4: usize,
    /// `clone_classify_v6` entries.
    pub clone_classify_v6: usize,
    /// `nat_src_v4` entries.
    pub nat_src_v4: usize,
    /// `nat_dst_v4` entries.
    pub nat_dst_v4: usize,
    /// `nat_src_v6` entries.
    pub nat_src_v6: usize,
    /// `nat_dst_v6` entries.
    pub nat_dst_v6: usize,
}

impl TableCounts {
    /// (table name as in the data-plane contract, entries) in full-apply order;
    /// clone sessions are listed as `clone_sessions`.
    pub fn rows(&self) -> [(&'static str, usize); 9] {
        [
            ("wire", self.wire),
            ("clone_sessions", self.clone_sessions),
            ("clone_rewrite", self.clone_rewrite),
            ("nat_src_v4", self.nat_src_v4),
            ("nat_dst_v4", self.nat_dst_v4),
            ("nat_src_v6", self.nat_src_v6),
            ("nat_dst_v6", self.nat_dst_v6),
            ("clone_classify_v4", self.clone_classify_v4),
            ("clone_classify_v6", self.clone_classify_v6),
        ]
    }

    /// All entries, clone sessions included.
    pub fn total(&self) -> usize {
        self.rows().iter().map(|(_, n)| n).sum()
    }
}

impl DeviceIntent {
    /// How many entries of each table this device needs once lowered.
    pub fn table_counts(&self) -> TableCounts {
        let v4 = self.rules.iter().filter(|r| r.family == Family::V4).count();
        let nat4 = self.nat.iter().filter(|n| n.se_addr.is_ipv4()).count();
        TableCounts {
            wire: self.wires.len() * 2,
            clone_sessions: self.members.len(),
            clone_rewrite: self.members.len(),
            clone_classify_v4: v4,
            clone_classify_v6: self.rules.len() - v4,
            nat_src_v4: nat4,
            nat_dst_v4: nat4,
            nat_src_v6: self.nat.len() - nat4,
            nat_dst_v6: self.nat.len() - nat4,
        }
    }
}

/// One device's line in a [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSummary {
    /// Device name.
    pub name: String,
    /// Data-plane kind.
    pub target: Target,
    /// P4Runtime endpoint.
    pub address: String,
    /// P4Runtime device id.
    pub device_id: u64,
    /// Member blocks ((profile, SE) pairs).
    pub blocks: usize,
    /// Entries per table.
    pub tables: TableCounts,
}

/// Object and entry counts of a compiled config, for `p4clone check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Tenants (the implicit `admin` included).
    pub tenants: usize,
    /// Virtual services.
    pub virtual_services: usize,
    /// Virtual services with a clone profile.
    pub cloned_virtual_services: usize,
    /// Traffic clone profiles.
    pub profiles: usize,
    /// Clone members over all devices.
    pub members: usize,
    /// Per device, sorted by name.
    pub devices: Vec<DeviceSummary>,
}

/// Counts objects of `cfg` and entries of its `intent`.
pub fn summarize(cfg: &Config, intent: &Intent) -> Summary {
    let mut tenants: Vec<&str> = cfg.tenants.iter().map(|t| t.name.as_str()).collect();
    tenants.push(DEFAULT_TENANT);
    tenants.sort_unstable();
    tenants.dedup();
    Summary {
        tenants: tenants.len(),
        virtual_services: cfg.virtual_services.len(),
        cloned_virtual_services: cfg.virtual_services.iter().filter(|v| v.traffic_clone_profile.is_some()).count(),
        profiles: cfg.traffic_clone_profiles.len(),
        members: intent.devices.iter().map(|d| d.members.len()).sum(),
        devices: intent
            .devices
            .iter()
            .map(|d| DeviceSummary {
                name: d.name.clone(),
                target: d.target,
                address: d.address.clone(),
                device_id: d.device_id,
                blocks: d.blocks.len(),
                tables: d.table_counts(),
            })
            .collect(),
    }
}

fn ser_display<T: fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_distribution<S: Serializer>(d: &Distribution, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(distribution_name(*d))
}

/// The config spelling of a distribution mode.
pub fn distribution_name(d: Distribution) -> &'static str {
    match d {
        Distribution::RoundRobin => "round_robin",
        Distribution::FlowHash => "flow_hash",
    }
}

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

/// The home block of a (profile, SE) key: first 8 bytes of `sha256("profile\0se")`
/// as a big-endian integer, modulo [`MAX_BLOCKS`].
pub fn home_block(profile: &str, se: &str) -> u16 {
    let mut h = Sha256::new();
    h.update(profile.as_bytes());
    h.update([0u8]);
    h.update(se.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) % u64::from(MAX_BLOCKS)) as u16
}

/// Assigns blocks to `keys` (profile, SE) of one device, honouring `hint` first.
///
/// Returns `None` when there are more keys than blocks.
pub fn allocate_blocks<'k>(
    keys: &[(&'k str, &'k str)],
    hint: impl Fn(&str, &str) -> Option<u16>,
) -> Option<HashMap<(&'k str, &'k str), u16>> {
    if keys.len() > usize::from(MAX_BLOCKS) {
        return None;
    }
    let mut sorted: Vec<(&str, &str)> = keys.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut taken = vec![false; usize::from(MAX_BLOCKS)];
    let mut out = HashMap::with_capacity(sorted.len());
    let mut rest = Vec::new();
    for &(p, s) in &sorted {
        match hint(p, s) {
            Some(b) if b < MAX_BLOCKS && !taken[usize::from(b)] => {
                taken[usize::from(b)] = true;
                out.insert((p, s), b);
            }
            _ => rest.push((home_block(p, s), p, s)),
        }
    }
    rest.sort_unstable();
    for (home, p, s) in rest {
        let mut b = usize::from(home);
        while taken[b] {
            b = (b + 1) % usize::from(MAX_BLOCKS);
        }
        taken[b] = true;
        out.insert((p, s), b as u16);
    }
    Some(out)
}

// ---------------------------------------------------------------------------------
// compile

/// A pool's servers once parsed: not yet looked at, some address does not parse,
/// or all parsed, as the range `start..end` of the shared server list.
#[derive(Debug, Clone, Copy)]
enum PoolState {
    Unparsed,
    Bad,
    Parsed(u32, u32),
}

struct NetInfo {
    prefix: Option<Prefix>,
    vlan: Option<u16>,
}

struct IfInfo {
    addr: IfAddr,
    net: Option<usize>,
    port: u32,
    mac: Mac,
}

struct SeInfo<'c> {
    name: &'c str,
    device: Option<usize>,
    ifaces: Vec<Option<IfInfo>>,
    path: String,
}

struct ProfileInfo {
    digest: Digest,
    /// (ip, mac, network index) per clone server; `None` when something failed.
    servers: Option<Vec<(IpAddr, Mac, usize)>>,
    truncate: u16,
}

/// A rule's match key in compact form. Field order = sort order: family, src, src
/// length, dst, dst length, protocol, sport, dport (ports: 0 = wildcard, else port + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RuleKey {
    v6: bool,
    src: u128,
    src_len: u8,
    dst: u128,
    dst_len: u8,
    protocol: u8,
    sport: u32,
    dport: u32,
}

impl RuleKey {
    /// An IPv4 key as one integer with the same order: src (32 bits), src length
    /// (8), dst (32), dst length (8), protocol (8), sport (17), dport (17).
    fn pack_v4(&self) -> u128 {
        debug_assert!(!self.v6 && self.src >> 32 == 0 && self.dst >> 32 == 0);
        (self.src << 90)
            | (u128::from(self.src_len) << 82)
            | (self.dst << 50)
            | (u128::from(self.dst_len) << 42)
            | (u128::from(self.protocol) << 34)
            | (u128::from(self.sport) << 17)
            | u128::from(self.dport)
    }

    /// The inverse of [`RuleKey::pack_v4`].
    fn unpack_v4(k: u128) -> RuleKey {
        const PORT: u128 = (1 << 17) - 1;
        RuleKey {
            v6: false,
            src: (k >> 90) & 0xffff_ffff,
            src_len: (k >> 82) as u8,
            dst: (k >> 50) & 0xffff_ffff,
            dst_len: (k >> 42) as u8,
            protocol: (k >> 34) as u8,
            sport: ((k >> 17) & PORT) as u32,
            dport: (k & PORT) as u32,
        }
    }
}

/// One generated rule before deduplication; `K` is a [`RuleKey`] or a packed IPv4 key.
#[derive(Debug, Clone, Copy)]
struct Cand<K> {
    key: K,
    block: u16,
    profile: u32,
    vs: u32,
}

/// The candidates of two lists sorted by key, in key order (`a`'s first on equal
/// keys, as a stable sort of `a` then `b` would have them).
fn merge_sorted<'a, K: Copy + Ord>(a: &'a [Cand<K>], b: &'a [Cand<K>]) -> impl Iterator<Item = Cand<K>> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if y.key < x.key => {
                j += 1;
                *y
            }
            (Some(x), _) => {
                i += 1;
                *x
            }
            (None, Some(y)) => {
                j += 1;
                *y
            }
            (None, None) => return None,
        };
        Some(next)
    })
}

/// Merging sorted candidates of one device into rules.
struct Merge<'c, 'e> {
    cfg: &'c Config,
    profs: &'c [ProfileInfo],
    device: &'c str,
    errs: &'e mut Vec<Diagnostic>,
    /// (first VS, other VS) pairs already reported as conflicting.
    reported: FastHashSet<(u32, u32)>,
    /// The owner digest of a rule owned by one VS alone, per VS.
    vs_digest: Vec<Option<Digest>>,
    owners: Vec<u32>,
}

impl Merge<'_, '_> {
    /// Merges runs of equal keys in `cands` (sorted by key, then VS) into rules;
    /// reports equal keys that select different blocks.
    fn run<K: Copy + Eq>(
        &mut self,
        cands: impl Iterator<Item = Cand<K>>,
        unpack: impl Fn(K) -> RuleKey,
        out: &mut Vec<ClassifyRule>,
    ) {
        let cfg = self.cfg;
        let mut cands = cands.peekable();
        while let Some(first) = cands.next() {
            self.owners.clear();
            self.owners.push(first.vs);
            while let Some(c) = cands.next_if(|c| c.key == first.key) {
                if c.block != first.block {
                    if self.reported.insert((first.vs, c.vs)) {
                        self.errs.push(Diagnostic::error(
                            format!("virtual_services[{}]", c.vs),
                            format!(
                                "virtual services `{}` and `{}` both clone traffic {} on device `{}` but to \
                                 different clone profiles or service engines (`{}` and `{}`)",
                                cfg.virtual_services[first.vs as usize].name,
                                cfg.virtual_services[c.vs as usize].name,
                                describe_key(&unpack(first.key)),
                                self.device,
                                cfg.traffic_clone_profiles[first.profile as usize].name,
                                cfg.traffic_clone_profiles[c.profile as usize].name,
                            ),
                        ));
                    }
                } else if self.owners.last() != Some(&c.vs) {
                    self.owners.push(c.vs);
                }
            }
            let pi = first.profile as usize;
            let info = &self.profs[pi];
            let (names, digest) = if let [vi] = self.owners[..] {
                let name = cfg.virtual_services[vi as usize].name.clone();
                let digest = *self.vs_digest[vi as usize]
                    .get_or_insert_with(|| owner_digest(std::slice::from_ref(&name), info.digest));
                (vec![name], digest)
            } else {
                let mut names: Vec<String> =
                    self.owners.iter().map(|&v| cfg.virtual_services[v as usize].name.clone()).collect();
                names.sort_unstable();
                names.dedup();
                let digest = owner_digest(&names, info.digest);
                (names, digest)
            };
            let k = unpack(first.key);
            out.push(ClassifyRule {
                family: if k.v6 { Family::V6 } else { Family::V4 },
                src_addr: u128_addr(k.v6, k.src),
                src_len: k.src_len,
                dst_addr: u128_addr(k.v6, k.dst),
                dst_len: k.dst_len,
                protocol: k.protocol,
                l4_src_port: port_of(k.sport),
                l4_dst_port: port_of(k.dport),
                priority: RULE_PRIORITY,
                first_member: MemberId(first.block * BLOCK_WIDTH + 1),
                member_count: info.servers.as_ref().map_or(0, |s| s.len() as u16),
                mode: cfg.traffic_clone_profiles[pi].distribution,
                vs: names,
                owner_digest: digest,
            });
        }
    }
}

fn addr_u128(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

fn u128_addr(v6: bool, a: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(a.into())
    } else {
        IpAddr::V4((a as u32).into())
    }
}

fn port_of(p: u32) -> Option<u16> {
    p.checked_sub(1).map(|p| p as u16)
}

#[derive(Default)]
struct DeviceAcc {
    /// (profile index, SE index) keys in first-seen order.
    keys: Vec<(usize, usize)>,
    /// Index in `keys` of each key.
    key_ix: FastHashMap<(usize, usize), usize>,
    /// The rules to generate, in VS order.
    work: Vec<Work>,
    nat: Vec<(NatEntry, usize)>,
}

/// Rules to generate for one VS on one SE.
struct Work {
    /// VS index.
    vs: u32,
    /// Index of the (profile, SE) key in [`DeviceAcc::keys`].
    key: u32,
    /// Pool index.
    pool: u32,
    /// The distinct protocols of the VS's services ([`protocol_bit`]).
    protocols: u8,
}

/// A protocol as one bit of a set; the bits are in protocol-number order.
fn protocol_bit(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 1,
        Protocol::Udp => 2,
    }
}

/// The protocols of a [`protocol_bit`] set, in protocol-number order.
const PROTOCOLS: [Protocol; 2] = [Protocol::Tcp, Protocol::Udp];

/// Compiles a config into per-device intent, honouring block `hints`.
///
/// Assumes [`crate::validate::validate`] passed, but reports (never panics on) any
/// problem it meets: unparsable values, dangling references, unreachable clone
/// networks, conflicting rules, too many blocks on a device.
pub fn compile(cfg: &Config, hints: &Allocation) -> Result<Intent, Vec<Diagnostic>> {
    let mut errs: Vec<Diagnostic> = Vec::new();

    // --- name indices
    let net_ix: FastHashMap<&str, usize> = cfg.networks.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
    let nets: Vec<NetInfo> = cfg
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let prefix = match n.subnet.parse::<Prefix>() {
                Ok(p) => Some(p),
                Err(e) => {
                    errs.push(Diagnostic::error(format!("networks[{i}].subnet"), e));
                    None
                }
            };
            let vlan = match n.vlan {
                None => None,
                Some(v) if (1..=4094).contains(&v) => Some(v as u16),
                Some(v) => {
                    errs.push(Diagnostic::error(format!("networks[{i}].vlan"), format!("VLAN {v} is outside 1..4094")));
                    None
                }
            };
            NetInfo { prefix, vlan }
        })
        .collect();
    let dev_ix: FastHashMap<&str, usize> = cfg.devices.iter().enumerate().map(|(i, d)| (d.name.as_str(), i)).collect();

    // --- service engines, flattened
    let mut ses: Vec<SeInfo> = Vec::new();
    let mut seg_ses: FastHashMap<&str, Vec<usize>> = FastHashMap::default();
    for (gi, g) in cfg.se_groups.iter().enumerate() {
        let list = seg_ses.entry(g.name.as_str()).or_default();
        for (si, se) in g.service_engines.iter().enumerate() {
            let path = format!("se_groups[{gi}].service_engines[{si}]");
            let device = dev_ix.get(se.device.as_str()).copied();
            if device.is_none() {
                errs.push(Diagnostic::error(format!("{path}.device"), format!("unknown device `{}`", se.device)));
            }
            let ifaces = se
                .interfaces
                .iter()
                .enumerate()
                .map(|(ii, itf)| {
                    let ipath = format!("{path}.interfaces[{ii}]");
                    let addr = itf
                        .ip
                        .parse::<IfAddr>()
                        .map_err(|e| errs.push(Diagnostic::error(format!("{ipath}.ip"), e)))
                        .ok()?;
                    let mac = itf
                        .mac
                        .parse::<Mac>()
                        .map_err(|e| errs.push(Diagnostic::error(format!("{ipath}.mac"), e)))
                        .ok()?;
                    let net = net_ix.get(itf.network.as_str()).copied();
                    if net.is_none() {
                        errs.push(Diagnostic::error(
                            format!("{ipath}.network"),
                            format!("unknown network `{}`", itf.network),
                        ));
                    }
                    Some(IfInfo { addr, net, port: itf.port, mac })
                })
                .collect();
            list.push(ses.len());
            ses.push(SeInfo { name: se.name.as_str(), device, ifaces, path });
        }
    }

    // --- profiles
    let prof_ix: FastHashMap<&str, usize> =
        cfg.traffic_clone_profiles.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let profs: Vec<ProfileInfo> = cfg
        .traffic_clone_profiles
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let path = format!("traffic_clone_profiles[{pi}]");
            let mut ok = true;
            if p.clone_servers.is_empty() {
                errs.push(Diagnostic::error(format!("{path}.clone_servers"), "the profile has no clone servers"));
                ok = false;
            } else if p.clone_servers.len() > usize::from(BLOCK_WIDTH) {
                errs.push(Diagnostic::error(
                    format!("{path}.clone_servers"),
                    format!("{} clone servers; at most {BLOCK_WIDTH} are allowed", p.clone_servers.len()),
                ));
                ok = false;
            }
            let truncate = match u16::try_from(p.truncate) {
                Ok(t) => t,
                Err(_) => {
                    errs.push(Diagnostic::error(
                        format!("{path}.truncate"),
                        format!("truncate {} does not fit 16 bits (at most 65535)", p.truncate),
                    ));
                    ok = false;
                    0
                }
            };
            let mut servers = Vec::with_capacity(p.clone_servers.len());
            for (ci, cs) in p.clone_servers.iter().enumerate() {
                let cpath = format!("{path}.clone_servers[{ci}]");
                let ip = cs.ip.parse::<IpAddr>();
                let mac = cs.mac.parse::<Mac>();
                let net = net_ix.get(cs.network.as_str()).copied();
                match (ip, mac, net) {
                    (Ok(ip), Ok(mac), Some(net)) => servers.push((ip, mac, net)),
                    (ip, mac, net) => {
                        ok = false;
                        if ip.is_err() {
                            errs.push(Diagnostic::error(
                                format!("{cpath}.ip"),
                                format!("`{}` is not an IP address", cs.ip),
                            ));
                        }
                        if let Err(e) = mac {
                            errs.push(Diagnostic::error(format!("{cpath}.mac"), e));
                        }
                        if net.is_none() {
                            errs.push(Diagnostic::error(
                                format!("{cpath}.network"),
                                format!("unknown network `{}`", cs.network),
                            ));
                        }
                    }
                }
            }
            ProfileInfo { digest: profile_digest(p), servers: ok.then_some(servers), truncate }
        })
        .collect();

    // --- pools: parsed lazily, once each
    let pool_ix: FastHashMap<&str, usize> = cfg.pools.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    // Every pool's parsed (ip, port) servers, in one list (the rule loop below reads
    // them for every VS on every device, so they are kept close together).
    let mut pool_state = vec![PoolState::Unparsed; cfg.pools.len()];
    let mut pool_servers: Vec<(IpAddr, u16)> = Vec::new();

    // --- per-device accumulation of keys and VS work
    let mut accs: Vec<DeviceAcc> = (0..cfg.devices.len()).map(|_| DeviceAcc::default()).collect();
    for (vi, vs) in cfg.virtual_services.iter().enumerate() {
        let Some(pname) = vs.traffic_clone_profile.as_deref() else {
            continue;
        };
        let vpath = || format!("virtual_services[{vi}]");
        let Some(&pi) = prof_ix.get(pname) else {
            errs.push(Diagnostic::error(
                format!("{}.traffic_clone_profile", vpath()),
                format!("unknown traffic clone profile `{pname}`"),
            ));
            continue;
        };
        let Some(group) = seg_ses.get(vs.se_group.as_str()) else {
            errs.push(Diagnostic::error(
                format!("{}.se_group", vpath()),
                format!("unknown SE group `{}`", vs.se_group),
            ));
            continue;
        };
        let Some(&pool) = pool_ix.get(vs.pool.as_str()) else {
            errs.push(Diagnostic::error(format!("{}.pool", vpath()), format!("unknown pool `{}`", vs.pool)));
            continue;
        };
        if let PoolState::Unparsed = pool_state[pool] {
            let start = pool_servers.len();
            let mut ok = true;
            for (si, s) in cfg.pools[pool].servers.iter().enumerate() {
                match s.ip.parse::<IpAddr>() {
                    Ok(ip) => pool_servers.push((ip, s.port)),
                    Err(_) => {
                        ok = false;
                        errs.push(Diagnostic::error(
                            format!("pools[{pool}].servers[{si}].ip"),
                            format!("`{}` is not an IP address", s.ip),
                        ));
                    }
                }
            }
            pool_state[pool] = if ok {
                PoolState::Parsed(start as u32, pool_servers.len() as u32)
            } else {
                pool_servers.truncate(start);
                PoolState::Bad
            };
        }
        if profs[pi].servers.is_none() {
            continue;
        }
        // The distinct protocols of the VS's services, as a set of bits.
        let protocols = vs.services.iter().fold(0u8, |set, s| set | protocol_bit(s.protocol));
        for &se in group {
            let Some(d) = ses[se].device else { continue };
            let acc = &mut accs[d];
            let key = *acc.key_ix.entry((pi, se)).or_insert_with(|| {
                acc.keys.push((pi, se));
                acc.keys.len() - 1
            });
            acc.work.push(Work { vs: vi as u32, key: key as u32, pool: pool as u32, protocols });
        }
    }

    // --- NAT bindings: by SE interface address
    let mut addr_dev: FastHashMap<IpAddr, Vec<usize>> = FastHashMap::default();
    for se in &ses {
        if let Some(d) = se.device {
            for itf in se.ifaces.iter().flatten() {
                let v = addr_dev.entry(itf.addr.addr).or_default();
                if !v.contains(&d) {
                    v.push(d);
                }
            }
        }
    }
    for (bi, b) in cfg.nat_bindings.iter().enumerate() {
        let bpath = format!("nat_bindings[{bi}]");
        let se = parse_endpoint(&b.se).map_err(|e| errs.push(Diagnostic::error(format!("{bpath}.se"), e)));
        let client = parse_endpoint(&b.client).map_err(|e| errs.push(Diagnostic::error(format!("{bpath}.client"), e)));
        let (Ok(se), Ok(client)) = (se, client) else {
            continue;
        };
        if se.is_ipv4() != client.is_ipv4() {
            errs.push(Diagnostic::error(
                format!("{bpath}.client"),
                format!("client `{}` and SE `{}` are of different address families", b.client, b.se),
            ));
            continue;
        }
        let Some(devs) = addr_dev.get(&se.ip()) else {
            continue;
        };
        for &d in devs {
            accs[d].nat.push((
                NatEntry {
                    se_addr: se.ip(),
                    se_port: se.port(),
                    client_addr: client.ip(),
                    client_port: client.port(),
                    protocol: b.protocol.number(),
                },
                bi,
            ));
        }
    }

    // --- per device: allocate, members, rules
    let mut devices = Vec::with_capacity(cfg.devices.len());
    // Rule candidates, reused from device to device (see below).
    let mut fwd4: Vec<Cand<u128>> = Vec::new();
    let mut rev4: Vec<Cand<u128>> = Vec::new();
    let mut cands6: Vec<Cand<RuleKey>> = Vec::new();
    let mut protos: Vec<u8> = Vec::with_capacity(PROTOCOLS.len());
    for (di, dev) in cfg.devices.iter().enumerate() {
        let acc = &accs[di];
        let keys: Vec<(&str, &str)> =
            acc.keys.iter().map(|&(pi, se)| (cfg.traffic_clone_profiles[pi].name.as_str(), ses[se].name)).collect();
        let Some(alloc) = allocate_blocks(&keys, |p, s| hints.get(&dev.name, p, s)) else {
            errs.push(Diagnostic::error(
                format!("devices[{di}]"),
                format!(
                    "device `{}` needs more than {MAX_SESSION_ID} clone sessions: {} (profile, service engine) \
                     blocks of {BLOCK_WIDTH}, at most {MAX_BLOCKS} fit",
                    dev.name,
                    keys.len()
                ),
            ));
            continue;
        };
        // The block of each key, by key index.
        let block_of: Vec<u16> = keys.iter().map(|kn| alloc[kn]).collect();

        // blocks and members
        let mut blocks = Vec::with_capacity(acc.keys.len());
        let mut members = Vec::new();
        for (ki, &(pi, se)) in acc.keys.iter().enumerate() {
            let p = &cfg.traffic_clone_profiles[pi];
            let info = &profs[pi];
            let Some(servers) = &info.servers else {
                continue;
            };
            let index = block_of[ki];
            let first = index * BLOCK_WIDTH + 1;
            blocks.push(MemberBlock {
                profile: p.name.clone(),
                se: ses[se].name.to_string(),
                index,
                first: MemberId(first),
                count: servers.len() as u16,
                mode: p.distribution,
                config_digest: info.digest,
            });
            for (ci, &(ip, mac, net)) in servers.iter().enumerate() {
                let itf = ses[se].ifaces.iter().flatten().find(|i| i.net == Some(net));
                let Some(itf) = itf else {
                    errs.push(Diagnostic::error(
                        format!("traffic_clone_profiles[{pi}].clone_servers[{ci}].network"),
                        format!(
                            "service engine `{}` ({}) has no interface on network `{}`, so clone server {} \
                             cannot be reached from it",
                            ses[se].name, ses[se].path, cfg.networks[net].name, p.clone_servers[ci].ip
                        ),
                    ));
                    continue;
                };
                members.push(CloneMember {
                    id: MemberId(first + ci as u16),
                    profile: p.name.clone(),
                    se: ses[se].name.to_string(),
                    server_index: ci as u8,
                    clone_ip: ip,
                    egress_port: itf.port,
                    src_mac: itf.mac,
                    dst_mac: mac,
                    vlan: nets[net].vlan,
                    truncate: info.truncate,
                    nat_restore: p.preserve_client_ip,
                    config_digest: info.digest,
                });
            }
        }
        blocks.sort_unstable_by_key(|b| b.first);
        members.sort_unstable_by_key(|m| m.id);

        // rules: generate every candidate, sort by key, merge equal keys. IPv4 keys
        // are packed into one integer (cheap to sort); all IPv4 rules sort before
        // all IPv6 ones. Candidates are generated in VS order, so a stable sort by
        // key alone leaves equal keys in VS order. Forward and reverse candidates go
        // to separate lists: each is often nearly sorted already (addresses
        // allocated in order), which the stable sort takes advantage of; the two
        // sorted lists are then merged on the fly. The lists are reused from
        // device to device.
        fwd4.clear();
        rev4.clear();
        cands6.clear();
        for w in &acc.work {
            let (vi, ki) = (w.vs as usize, w.key as usize);
            let (pi, se) = acc.keys[ki];
            let block = block_of[ki];
            let PoolState::Parsed(start, end) = pool_state[w.pool as usize] else {
                continue;
            };
            let servers = &pool_servers[start as usize..end as usize];
            protos.clear();
            protos.extend(PROTOCOLS.iter().filter(|&&p| w.protocols & protocol_bit(p) != 0).map(|p| p.number()));
            let (profile, vs_ix) = (pi as u32, vi as u32);
            for &(sip, sport) in servers {
                for itf in ses[se].ifaces.iter().flatten() {
                    let Some(net) = itf.net else { continue };
                    let Some(prefix) = &nets[net].prefix else {
                        continue;
                    };
                    if Family::of(&itf.addr.addr) != Family::of(&sip) || !prefix.contains(&sip) {
                        continue;
                    }
                    let v6 = sip.is_ipv6();
                    let bits = crate::net::family_bits(&sip);
                    let (se_ip, srv) = (addr_u128(&itf.addr.addr), addr_u128(&sip));
                    let port = u32::from(sport) + 1;
                    for &proto in &protos {
                        let fwd = RuleKey {
                            v6,
                            src: se_ip,
                            src_len: bits,
                            dst: srv,
                            dst_len: bits,
                            protocol: proto,
                            sport: 0,
                            dport: port,
                        };
                        let rev = RuleKey {
                            v6,
                            src: srv,
                            src_len: bits,
                            dst: se_ip,
                            dst_len: bits,
                            protocol: proto,
                            sport: port,
                            dport: 0,
                        };
                        if v6 {
                            cands6.push(Cand { key: fwd, block, profile, vs: vs_ix });
                            cands6.push(Cand { key: rev, block, profile, vs: vs_ix });
                        } else {
                            fwd4.push(Cand { key: fwd.pack_v4(), block, profile, vs: vs_ix });
                            rev4.push(Cand { key: rev.pack_v4(), block, profile, vs: vs_ix });
                        }
                    }
                }
            }
        }
        fwd4.sort_by_key(|c| c.key);
        rev4.sort_by_key(|c| c.key);
        cands6.sort_by_key(|c| c.key);
        let mut out_rules: Vec<ClassifyRule> = Vec::with_capacity(fwd4.len() + rev4.len() + cands6.len());
        let mut merge = Merge {
            cfg,
            profs: &profs,
            device: &dev.name,
            errs: &mut errs,
            reported: FastHashSet::default(),
            vs_digest: vec![None; cfg.virtual_services.len()],
            owners: Vec::new(),
        };
        merge.run(merge_sorted(&fwd4, &rev4), RuleKey::unpack_v4, &mut out_rules);
        merge.run(cands6.iter().copied(), |k| k, &mut out_rules);

        // NAT
        let mut nat: Vec<(NatEntry, usize)> = acc.nat.clone();
        nat.sort_unstable_by_key(|(n, bi)| (n.se_addr, n.se_port, n.protocol, n.client_addr, n.client_port, *bi));
        let mut nat_out: Vec<NatEntry> = Vec::with_capacity(nat.len());
        let mut last_bi: Option<usize> = None;
        for (n, bi) in nat {
            if let Some(prev) = nat_out.last() {
                if prev.se_addr == n.se_addr && prev.se_port == n.se_port && prev.protocol == n.protocol {
                    if prev != &n {
                        errs.push(Diagnostic::error(
                            format!("nat_bindings[{bi}]"),
                            format!(
                                "SE endpoint `{}` is bound to two different clients (see nat_bindings[{}])",
                                cfg.nat_bindings[bi].se,
                                last_bi.unwrap_or(bi)
                            ),
                        ));
                    }
                    continue;
                }
            }
            last_bi = Some(bi);
            nat_out.push(n);
        }

        devices.push(DeviceIntent {
            name: dev.name.clone(),
            target: dev.target,
            address: dev.address.clone(),
            device_id: dev.device_id,
            wires: dev.wires.iter().map(|w| WirePair(w[0], w[1])).collect(),
            members,
            rules: out_rules,
            nat: nat_out,
            blocks,
        });
    }

    if !errs.is_empty() {
        return Err(errs);
    }
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Intent { devices })
}

fn describe_key(k: &RuleKey) -> String {
    let port = |p: u32| port_of(p).map_or_else(|| "*".to_string(), |p| p.to_string());
    format!(
        "{}/{} port {} -> {}/{} port {} protocol {}",
        u128_addr(k.v6, k.src),
        k.src_len,
        port(k.sport),
        u128_addr(k.v6, k.dst),
        k.dst_len,
        port(k.dport),
        k.protocol
    )
}
