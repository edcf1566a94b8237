//! The intent data model: what one device must hold (wires, clone members, classify
//! rules, NAT entries, member blocks), the block [`Allocation`] hints, and per-table
//! entry counts. Pure data, serializable; built by [`crate::intent::compile`].

use p4clone_proto::program::tables;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Serialize, Serializer};

use super::digest::Digest;
use crate::config::{Distribution, EncapKind, FilterAction, Target};
use crate::filter::SampleMode;
use crate::net::Mac;

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
    /// Encapsulated delivery (`clone_encap`); `None` = a plain clone. With it,
    /// `dst_mac`, `src_mac` and `vlan` are the outer header's (collector or gateway
    /// MAC, SE interface MAC, the egress network's VLAN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<MemberEncap>,
}

/// How a member's copies are encapsulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemberEncap {
    /// Tunnel type.
    pub kind: EncapKind,
    /// Outer source: the SE interface's address.
    pub src: Ipv4Addr,
    /// Outer destination: the remote collector.
    pub remote: Ipv4Addr,
    /// VNI, GRE key or ERSPAN session id.
    pub id: u32,
    /// A GRE key is sent.
    pub key_present: bool,
    /// The egress network's MTU.
    pub mtu: u16,
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
    /// Prefix length of the source port match (16 = exact; a filter's port range
    /// becomes blocks of shorter ones); meaningless when the port is a wildcard.
    #[serde(skip_serializing_if = "is_exact_port")]
    pub l4_src_len: u8,
    /// Prefix length of the destination port match.
    #[serde(skip_serializing_if = "is_exact_port")]
    pub l4_dst_len: u8,
    /// Clone (the default) or skip, as the profile's filters decide.
    #[serde(skip_serializing_if = "is_clone")]
    pub action: FilterAction,
    /// The profile's sampling (clone rules only).
    #[serde(skip_serializing_if = "is_all")]
    pub sample: SampleMode,
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

fn is_exact_port(len: &u8) -> bool {
    *len == 16
}

fn is_clone(a: &FilterAction) -> bool {
    *a == FilterAction::Clone
}

fn is_all(s: &SampleMode) -> bool {
    *s == SampleMode::All
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
/// [`Intent::allocation`]) to [`crate::intent::compile`] so existing member ids never move.
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
    /// The block allocation of this intent, to pass as hints to a later [`crate::intent::compile`].
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
    /// `clone_encap` entries, one per encapsulated member.
    pub clone_encap: usize,
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
    pub fn rows(&self) -> [(&'static str, usize); 10] {
        [
            (tables::WIRE.name, self.wire),
            ("clone_sessions", self.clone_sessions),
            (tables::CLONE_REWRITE.name, self.clone_rewrite),
            (tables::CLONE_ENCAP.name, self.clone_encap),
            (tables::NAT_SRC_V4.name, self.nat_src_v4),
            (tables::NAT_DST_V4.name, self.nat_dst_v4),
            (tables::NAT_SRC_V6.name, self.nat_src_v6),
            (tables::NAT_DST_V6.name, self.nat_dst_v6),
            (tables::CLASSIFY_V4.name, self.clone_classify_v4),
            (tables::CLASSIFY_V6.name, self.clone_classify_v6),
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
            clone_encap: self.members.iter().filter(|m| m.encap.is_some()).count(),
            clone_classify_v4: v4,
            clone_classify_v6: self.rules.len() - v4,
            nat_src_v4: nat4,
            nat_dst_v4: nat4,
            nat_src_v6: self.nat.len() - nat4,
            nat_dst_v6: self.nat.len() - nat4,
        }
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
