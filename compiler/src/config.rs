//! The configuration model: serde types for the YAML/JSON config file.
//!
//! Field names and shapes are the user interface (see `examples/basic.yaml`).
//! Unknown fields are rejected. Values that need checking beyond their type
//! (addresses, prefixes, MACs, references) are kept as written here and checked
//! by [`crate::validate`], so that every problem in a file is reported at once
//! with its object path instead of stopping at the first one.

use serde::{Deserialize, Serialize};

/// The tenant every object belongs to when it names none; it always exists.
pub const DEFAULT_TENANT: &str = "admin";

/// A whole p4clone configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Tenants objects may belong to (`admin` exists implicitly).
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    /// L2/L3 networks the SE interfaces, pools and clone servers sit on.
    #[serde(default)]
    pub networks: Vec<Network>,
    /// P4 devices (bump-in-the-wire data planes) p4clone programs.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Service-engine groups: the SEs a virtual service runs on.
    #[serde(default)]
    pub se_groups: Vec<SeGroup>,
    /// Back-end server pools.
    #[serde(default)]
    pub pools: Vec<Pool>,
    /// Virtual services; the ones naming a clone profile have their back-end traffic cloned.
    #[serde(default)]
    pub virtual_services: Vec<VirtualService>,
    /// Traffic clone profiles: where clones go and how.
    #[serde(default)]
    pub traffic_clone_profiles: Vec<TrafficCloneProfile>,
    /// SE address:port -> client address:port bindings used by `preserve_client_ip`.
    #[serde(default)]
    pub nat_bindings: Vec<NatBinding>,
}

/// A tenant (administrative domain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Unique tenant name.
    pub name: String,
}

/// A network: one IPv4 or IPv6 subnet, optionally on an 802.1Q VLAN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Unique network name.
    pub name: String,
    /// Subnet prefix, e.g. `10.20.0.0/16` or `2001:db8::/64`.
    pub subnet: String,
    /// VLAN id (1..4094) frames on this network carry; absent = untagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u32>,
    /// Next hop towards addresses outside the subnet (encapsulated clones to a
    /// routed collector leave through it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Gateway>,
    /// IP MTU in bytes (576..9216); absent = 1500. Encapsulated clones are cut to fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// A network's gateway: next-hop address and MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Gateway address, inside the network's subnet.
    pub ip: String,
    /// Gateway MAC: the destination MAC of frames sent through it.
    pub mac: String,
}

/// Which kind of data plane a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// p4clone's own software data plane (serves P4Runtime itself).
    Soft,
    /// BMv2 `simple_switch_grpc` (v1model).
    Bmv2,
    /// Tofino-style switch (TNA).
    Tofino,
}

/// The default P4Runtime gRPC endpoint of a device.
pub fn default_address() -> String {
    "127.0.0.1:9559".to_string()
}

fn default_device_id() -> u64 {
    1
}

/// A P4 device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Unique device name.
    pub name: String,
    /// Data-plane kind.
    pub target: Target,
    /// P4Runtime gRPC endpoint `host:port`.
    #[serde(default = "default_address")]
    pub address: String,
    /// P4Runtime device id.
    #[serde(default = "default_device_id")]
    pub device_id: u64,
    /// Bump-in-the-wire port pairs, forwarded both ways.
    #[serde(default)]
    pub wires: Vec<[u32; 2]>,
    /// The file sent as the pipeline's `p4_device_config` with the P4Info (a
    /// Tofino switch under Stratum: the `bf_pipeline_builder` output of the
    /// compiled TNA program; README, "Running on Tofino"); a relative path is
    /// taken from the working directory. Absent: BMv2 uses
    /// `p4src/build/traffic_clone.json`, the software target needs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_config: Option<String>,
}

/// A service-engine group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeGroup {
    /// Unique SE group name.
    pub name: String,
    /// The service engines of the group.
    pub service_engines: Vec<ServiceEngine>,
}

/// A service engine: a load-balancer data-path instance behind one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEngine {
    /// SE name, unique across all SE groups.
    pub name: String,
    /// The device that sits in this SE's data path.
    pub device: String,
    /// The SE's interfaces, each behind one device port.
    pub interfaces: Vec<Interface>,
}

/// An SE interface: a device port, its MAC, address and network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Interface name, unique within its SE.
    pub name: String,
    /// Device port the interface sits behind.
    pub port: u32,
    /// Interface MAC (`02:00:00:00:00:02`).
    pub mac: String,
    /// Interface address with prefix length (`10.20.0.5/16`).
    pub ip: String,
    /// The network the interface is attached to.
    pub network: String,
}

/// A back-end pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Unique pool name.
    pub name: String,
    /// Owning tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Pool members.
    pub servers: Vec<PoolServer>,
}

/// One pool member, `ip:port`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolServer {
    /// Member address.
    pub ip: String,
    /// Member L4 port.
    pub port: u16,
}

/// L4 protocol of a service or binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
}

impl Protocol {
    /// The IP protocol / IPv6 next-header number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// A virtual service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualService {
    /// Unique VS name.
    pub name: String,
    /// Owning tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Virtual IP clients connect to.
    pub vip: String,
    /// Service ports; their protocols are the protocols cloned on the back end.
    pub services: Vec<Service>,
    /// SE group the VS is placed on.
    pub se_group: String,
    /// Back-end pool.
    pub pool: String,
    /// Clone profile; absent = the VS is not cloned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_clone_profile: Option<String>,
}

/// One VS service port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Front-end port.
    pub port: u16,
    /// L4 protocol.
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
}

/// How a profile spreads packets over its clone servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Per packet, in turn (the reference behaviour).
    #[default]
    RoundRobin,
    /// Symmetric 5-tuple hash: both directions of a flow reach one clone server.
    FlowHash,
}

/// A traffic clone profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficCloneProfile {
    /// Unique profile name.
    pub name: String,
    /// Owning tenant.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Cloud the profile belongs to (informational).
    #[serde(default = "default_cloud")]
    pub cloud: String,
    /// Restore the client's address on clones where a NAT binding is known.
    #[serde(default)]
    pub preserve_client_ip: bool,
    /// Round robin (default) or symmetric flow hash.
    #[serde(default)]
    pub distribution: Distribution,
    /// Bytes kept per clone; 0 = whole frame.
    #[serde(default)]
    pub truncate: u32,
    /// Up to 10 clone servers.
    pub clone_servers: Vec<CloneServer>,
    /// Ordered filter rules, first match wins; no match (or no rules) = clone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterRule>,
    /// Flow or packet sampling; absent = every matching packet is cloned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
}

/// What a filter rule does with the packets it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilterAction {
    /// Clone them (as if no rule matched).
    Clone,
    /// Do not clone them (counted as `skipped_by_filter`).
    Skip,
}

/// Which direction of the SE <-> pool traffic a filter rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Both directions.
    #[default]
    Both,
    /// SE -> pool member (requests).
    ToPool,
    /// Pool member -> SE (responses).
    FromPool,
}

/// One filter rule of a clone profile. Every field but `action` narrows the match;
/// an absent field matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRule {
    /// `clone` or `skip`.
    pub action: FilterAction,
    /// `both` (default), `to_pool` or `from_pool`.
    #[serde(default)]
    pub direction: Direction,
    /// `tcp` or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Source prefix or address (`10.0.0.0/8`, `10.1.1.5`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub src: String,
    /// Destination prefix or address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dst: String,
    /// Source port or range (`443`, `1024-65535`; a string in JSON).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub src_ports: String,
    /// Destination port or range.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dst_ports: String,
}

/// Sampling of a profile's traffic: exactly one of the two fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Clone every packet of this percentage of the connections (0.01..100, two
    /// decimals at most), chosen by the symmetric flow hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flows_percent: Option<f64>,
    /// Clone the first packet of every `one_in` (1..65535) of the profile block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_in: Option<u64>,
}

/// A clone server (IDS/IPS/probe): on a network directly connected to the SEs
/// (`network`, `subnet`, `ip`, `mac`), or reached through a tunnel (`encap`, plus
/// `mac` when the remote is on a directly connected subnet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloneServer {
    /// Network the clone server sits on (not with `encap`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    /// That network's subnet as the profile states it (not with `encap`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnet: String,
    /// Clone server address (may be a dummy inside the subnet's family; not with `encap`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// Clone server MAC (may be a dummy); with `encap`, the remote's MAC when it is
    /// on a directly connected subnet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// Encapsulated delivery to a remote collector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encap: Option<Encap>,
}

/// How clones reach a remote collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncapKind {
    /// UDP 4789 + VXLAN (`vni`).
    Vxlan,
    /// GRE transparent Ethernet bridging (optional `key`).
    Gre,
    /// GRE + ERSPAN type II (`session`).
    Erspan,
}

/// A tunnel to a remote collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encap {
    /// Tunnel type.
    #[serde(rename = "type")]
    pub kind: EncapKind,
    /// The collector's address (the outer destination).
    pub remote: String,
    /// VXLAN network identifier (0..16777215); VXLAN only, required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<u64>,
    /// GRE key (32 bits); GRE only, optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u64>,
    /// ERSPAN session id (0..1023); ERSPAN only, required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
}

/// A NAT binding: the SE-side `address:port` the SE used towards the pool, and the
/// client `address:port` it stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatBinding {
    /// SE-side `ip:port` (`[v6]:port` for IPv6).
    pub se: String,
    /// Client `ip:port`.
    pub client: String,
    /// L4 protocol.
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
}

fn default_tenant() -> String {
    DEFAULT_TENANT.to_string()
}

fn default_cloud() -> String {
    "default".to_string()
}

fn default_protocol() -> Protocol {
    Protocol::Tcp
}
