//! Validation: every rule a config must satisfy before it can be compiled.
//!
//! [`validate`] builds the object graph of a [`Config`] with petgraph — one node
//! per object (tenant, network, device, SE group, service engine, interface, pool,
//! virtual service, clone profile, clone server, NAT binding), edges for
//! containment and for references by name — and runs the rules below, one small
//! function each, returning every problem at once (errors and warnings) in a
//! deterministic order: rule by rule, and within a rule in config order. Pool
//! members are the one kind of object that is not a node: nothing refers to them by
//! name, they are most of the objects of a large config, and the rules that need
//! them read them from their pool.
//!
//! Reference rules resolve names while adding the edges (a name that resolves to
//! nothing is a dangling reference); the semantic rules then follow edges: tenancy
//! (VS -> profile -> tenant), "directly connected" (VS -> SE group -> SE ->
//! interface -> network), SSL tandems (VS -> VS whose VIP is a pool member).
//!
//! Every address-like value (subnets, interface addresses, pool members, VIPs,
//! clone servers, NAT endpoints) is parsed once, up front, into a side table the
//! rules share. A value that fails to parse is reported once, by its value rule;
//! the rules that need the parsed value skip it, so one mistake does not cascade.
//!
//! The cost is linear in the size of the config: names are resolved through hash
//! maps, node indices are computed rather than looked up, and what the
//! connectivity rules need per SE and SE group is derived once, not per VS.
//!
//! Every diagnostic names the exact object path of the offending field, e.g.
//! `traffic_clone_profiles[0].clone_servers[2].subnet`; [`crate::source::SourceMap`]
//! turns paths into line:column.

use std::collections::hash_map::Entry;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::config::{Config, Protocol, DEFAULT_TENANT};
use crate::diag::{Diagnostic, Severity};
use crate::net::{
    family_bits, family_name, fast_map, parse_endpoint, parse_host_port, FastHashMap, FastHashSet, IfAddr, Mac, Prefix,
};

/// At most this many clone servers per profile (the reference product's limit).
pub const MAX_CLONE_SERVERS: usize = 10;

/// The highest usable device port: v1model/BMv2 ports are 9 bits and 511 is the
/// drop port.
pub const MAX_DEVICE_PORT: u32 = 510;

/// The smallest non-zero `truncate`: fewer bytes cannot hold Ethernet, a VLAN tag,
/// IP and L4 headers.
pub const MIN_TRUNCATE: u32 = 64;

/// The largest `truncate`: the largest jumbo frame.
pub const MAX_TRUNCATE: u32 = 9216;

/// Highest 802.1Q VLAN id (0 and 4095 are reserved).
pub const MAX_VLAN: u32 = 4094;

/// Checks `cfg` against every rule and returns all problems found, errors and
/// warnings, in a deterministic order. An empty result means the config is valid
/// and clean; see [`has_errors`] for "valid".
pub fn validate(cfg: &Config) -> Vec<Diagnostic> {
    let mut v = Validator::new(cfg);
    v.run();
    // Document order: by object path (indices numerically, fields in schema
    // order), then rule order for one path.
    v.diags.sort_by_cached_key(|d| path_key(&d.path));
    v.diags
}

/// Field names in the order the config schema declares them (top level first).
const FIELD_ORDER: &[&str] = &[
    "tenants",
    "networks",
    "devices",
    "se_groups",
    "pools",
    "virtual_services",
    "traffic_clone_profiles",
    "nat_bindings",
    "name",
    "tenant",
    "subnet",
    "vlan",
    "target",
    "address",
    "device_id",
    "wires",
    "service_engines",
    "device",
    "interfaces",
    "port",
    "mac",
    "vip",
    "services",
    "protocol",
    "se_group",
    "pool",
    "traffic_clone_profile",
    "cloud",
    "preserve_client_ip",
    "distribution",
    "truncate",
    "clone_servers",
    "network",
    "ip",
    "se",
    "client",
];

/// One step of an object path, ordered for sorting.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PathStep {
    /// A field: its schema position, then its name (for names not in the list).
    Field(usize, String),
    /// A list index.
    Index(usize),
}

/// Sort key of an object path such as `pools[3].servers[10].ip`.
fn path_key(path: &str) -> Vec<PathStep> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (field, rest) = part.split_once('[').map_or((part, ""), |(f, r)| (f, r));
        if !field.is_empty() {
            let rank = FIELD_ORDER.iter().position(|f| *f == field).unwrap_or(FIELD_ORDER.len());
            steps.push(PathStep::Field(rank, field.to_string()));
        }
        if !rest.is_empty() {
            for index in rest.split('[') {
                let digits = index.trim_end_matches(']');
                steps.push(PathStep::Index(digits.parse().unwrap_or(usize::MAX)));
            }
        }
    }
    steps
}

/// Whether any diagnostic is an error (warnings alone leave a config valid).
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

/// One object of the config, by its position(s) in the config lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Obj {
    /// `tenants[i]`; `None` is the implicit `admin` tenant.
    Tenant(Option<usize>),
    Network(usize),
    Device(usize),
    SeGroup(usize),
    Se(usize, usize),
    Interface(usize, usize, usize),
    Pool(usize),
    /// A pool member: named in diagnostics, but not a node of the graph.
    PoolServer(usize, usize),
    Vs(usize),
    Profile(usize),
    CloneServer(usize, usize),
    NatBinding(usize),
}

impl Obj {
    /// The object path of the object itself.
    fn path(self) -> String {
        match self {
            Obj::Tenant(Some(i)) => format!("tenants[{i}]"),
            Obj::Tenant(None) => "tenants".to_string(),
            Obj::Network(i) => format!("networks[{i}]"),
            Obj::Device(i) => format!("devices[{i}]"),
            Obj::SeGroup(g) => format!("se_groups[{g}]"),
            Obj::Se(g, s) => format!("se_groups[{g}].service_engines[{s}]"),
            Obj::Interface(g, s, k) => format!("se_groups[{g}].service_engines[{s}].interfaces[{k}]"),
            Obj::Pool(p) => format!("pools[{p}]"),
            Obj::PoolServer(p, k) => format!("pools[{p}].servers[{k}]"),
            Obj::Vs(v) => format!("virtual_services[{v}]"),
            Obj::Profile(t) => format!("traffic_clone_profiles[{t}]"),
            Obj::CloneServer(t, c) => format!("traffic_clone_profiles[{t}].clone_servers[{c}]"),
            Obj::NatBinding(n) => format!("nat_bindings[{n}]"),
        }
    }

    /// The path of one field of the object.
    fn field(self, name: &str) -> String {
        format!("{}.{name}", self.path())
    }
}

/// Edge labels: containment, or the reference field that names the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    /// Parent -> child (group -> SE -> interface, profile -> clone server).
    Has,
    /// `tenant` field.
    Tenant,
    /// VS `se_group`.
    SeGroup,
    /// VS `pool`.
    Pool,
    /// VS `traffic_clone_profile`.
    Profile,
    /// SE `device`.
    Device,
    /// Interface or clone server `network`.
    Network,
    /// VS -> VS whose VIP is one of the first VS's pool members (SSL tandem).
    Tandem,
    /// NAT binding -> the SE interface owning its SE-side address.
    Binds,
}

/// Kinds of named objects, each with its own name space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Tenant,
    Network,
    Device,
    SeGroup,
    Se,
    Pool,
    Vs,
    Profile,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Network => "network",
            Kind::Device => "device",
            Kind::SeGroup => "SE group",
            Kind::Se => "service engine",
            Kind::Pool => "pool",
            Kind::Vs => "virtual service",
            Kind::Profile => "traffic clone profile",
        }
    }
}

/// Where each object's node is in the graph. Nodes are added in config order and
/// the children of an object right after it, so an index is a table look-up (and
/// an addition), never a hash.
#[derive(Debug, Default)]
struct NodeIx {
    tenants: usize,
    /// The implicit `admin` tenant, when no tenant is named so.
    admin: Option<usize>,
    networks: usize,
    devices: usize,
    groups: Vec<usize>,
    /// Per SE group, the index in `ses` of its first SE.
    group_first_se: Vec<usize>,
    /// Per SE (all groups, flattened): its node; its interfaces follow it.
    ses: Vec<usize>,
    /// Per SE (flattened): the index of its first interface among all interfaces.
    se_first_itf: Vec<usize>,
    /// Per pool: its node (pool servers are not nodes).
    pools: Vec<usize>,
    /// Per pool: the index of its first server among all pool servers.
    pool_first_srv: Vec<usize>,
    vss: usize,
    /// Per profile: its node; its clone servers follow it.
    profiles: Vec<usize>,
    /// Per profile: the index of its first clone server among all clone servers.
    profile_first_cs: Vec<usize>,
    nat: usize,
}

impl NodeIx {
    fn node(&self, o: Obj) -> NodeIndex {
        NodeIndex::new(match o {
            Obj::Tenant(Some(i)) => self.tenants + i,
            Obj::Tenant(None) => self.admin.expect("the implicit admin tenant is referenced only when it exists"),
            Obj::Network(i) => self.networks + i,
            Obj::Device(i) => self.devices + i,
            Obj::SeGroup(g) => self.groups[g],
            Obj::Se(g, s) => self.ses[self.group_first_se[g] + s],
            Obj::Interface(g, s, k) => self.ses[self.group_first_se[g] + s] + 1 + k,
            Obj::Pool(p) => self.pools[p],
            Obj::PoolServer(..) => unreachable!("pool servers are not graph nodes"),
            Obj::Vs(v) => self.vss + v,
            Obj::Profile(t) => self.profiles[t],
            Obj::CloneServer(t, c) => self.profiles[t] + 1 + c,
            Obj::NatBinding(i) => self.nat + i,
        })
    }

    /// Index of an SE among all SEs.
    fn se(&self, g: usize, s: usize) -> usize {
        self.group_first_se[g] + s
    }

    /// Index of an interface among all interfaces.
    fn itf(&self, g: usize, s: usize, k: usize) -> usize {
        self.se_first_itf[self.se(g, s)] + k
    }

    /// Index of a pool server among all pool servers.
    fn srv(&self, p: usize, k: usize) -> usize {
        self.pool_first_srv[p] + k
    }

    /// Index of a clone server among all clone servers.
    fn cs(&self, t: usize, c: usize) -> usize {
        self.profile_first_cs[t] + c
    }
}

/// Every address-like value of the config, parsed once (`None`: it does not parse;
/// its value rule reports why). Lists of children are flattened as in [`NodeIx`].
#[derive(Debug, Default)]
struct Values {
    subnets: Vec<Option<Prefix>>,
    itf_addrs: Vec<Option<IfAddr>>,
    srv_ips: Vec<Option<IpAddr>>,
    vips: Vec<Option<IpAddr>>,
    cs_subnets: Vec<Option<Prefix>>,
    cs_ips: Vec<Option<IpAddr>>,
    nat_se: Vec<Option<SocketAddr>>,
    nat_client: Vec<Option<SocketAddr>>,
}

impl Values {
    fn parse(cfg: &Config) -> Values {
        let mut v = Values {
            subnets: cfg.networks.iter().map(|n| n.subnet.parse().ok()).collect(),
            vips: cfg.virtual_services.iter().map(|vs| vs.vip.parse().ok()).collect(),
            nat_se: cfg.nat_bindings.iter().map(|b| parse_endpoint(&b.se).ok()).collect(),
            nat_client: cfg.nat_bindings.iter().map(|b| parse_endpoint(&b.client).ok()).collect(),
            ..Values::default()
        };
        for se in cfg.se_groups.iter().flat_map(|g| &g.service_engines) {
            v.itf_addrs.extend(se.interfaces.iter().map(|i| i.ip.parse().ok()));
        }
        v.srv_ips.reserve(cfg.pools.iter().map(|p| p.servers.len()).sum());
        for pool in &cfg.pools {
            v.srv_ips.extend(pool.servers.iter().map(|s| s.ip.parse().ok()));
        }
        let cs_count = cfg.traffic_clone_profiles.iter().map(|p| p.clone_servers.len()).sum();
        v.cs_subnets.reserve(cs_count);
        v.cs_ips.reserve(cs_count);
        for prof in &cfg.traffic_clone_profiles {
            v.cs_subnets.extend(prof.clone_servers.iter().map(|c| c.subnet.parse().ok()));
            v.cs_ips.extend(prof.clone_servers.iter().map(|c| c.ip.parse().ok()));
        }
        v
    }
}

/// What the connectivity rules need to know about the SEs, derived from the graph
/// once its reference edges are in ([`Validator::topology`]).
#[derive(Debug, Default)]
struct Topology {
    /// Per SE group: its SEs, in config order.
    group_ses: Vec<Vec<Obj>>,
    /// Per SE (flattened): the network of each interface, in interface order, when
    /// every interface has a known network with a valid subnet (`None` otherwise:
    /// see [`Validator::se_networks_known`]).
    se_nets: Vec<Option<Vec<Obj>>>,
}

/// The number of [`Kind`]s (name spaces).
const KINDS: usize = 8;

struct Validator<'a> {
    cfg: &'a Config,
    graph: DiGraph<Obj, Rel>,
    ix: NodeIx,
    /// Per kind, the node of the first object with each name (a `u32` rather than
    /// the object keeps the entries small: these maps are looked up for every
    /// reference in the config).
    names: [FastHashMap<&'a str, u32>; KINDS],
    /// (duplicate, first) for every object named like an earlier one of its kind
    /// (interfaces: of its SE), found while registering names.
    duplicates: Vec<(Obj, Obj)>,
    vals: Values,
    topo: Topology,
    diags: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    fn new(cfg: &'a Config) -> Self {
        let mut v = Validator {
            cfg,
            graph: DiGraph::new(),
            ix: NodeIx::default(),
            names: Default::default(),
            duplicates: Vec::new(),
            vals: Values::parse(cfg),
            topo: Topology::default(),
            diags: Vec::new(),
        };
        v.add_objects();
        v
    }

    fn run(&mut self) {
        // Names and references (these build the graph's reference edges).
        self.rule_names_non_empty();
        self.rule_duplicate_names();
        self.rule_references();
        self.topology();
        self.rule_cross_tenant();
        // Values.
        self.rule_macs();
        self.rule_network_subnets();
        self.rule_vlans();
        self.rule_interface_addresses();
        self.rule_pool_server_values();
        self.rule_vips();
        self.rule_clone_server_values();
        self.rule_nat_endpoints();
        self.rule_device_addresses();
        self.rule_port_range();
        // Addressing.
        self.rule_interface_in_subnet();
        self.rule_clone_server_subnet();
        self.rule_clone_server_ip_family();
        // Clone profiles.
        self.rule_clone_server_count();
        self.rule_truncate();
        self.rule_clone_server_connected();
        // Device ports.
        self.rule_interface_port_clash();
        self.rule_wires();
        // Virtual services.
        self.rule_services();
        self.rule_back_to_back();
        self.rule_pool_reachability();
        // NAT bindings.
        self.rule_nat_families();
        self.rule_nat_se_address();
        self.rule_nat_duplicates();
        self.rule_nat_unused();
    }

    // ----- diagnostics -----

    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(path, message));
    }

    fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(path, message));
    }

    // ----- graph -----

    fn add_node(&mut self, o: Obj) -> usize {
        self.graph.add_node(o).index()
    }

    /// Adds a `rel` edge unless the same edge exists already (a pool may list one
    /// member twice, say).
    fn add_edge(&mut self, from: Obj, to: Obj, rel: Rel) {
        self.add_edge_between(self.ix.node(from), self.ix.node(to), rel);
    }

    /// [`Validator::add_edge`] by node.
    fn add_edge_between(&mut self, a: NodeIndex, b: NodeIndex, rel: Rel) {
        if rel == Rel::Has || !self.graph.edges_connecting(a, b).any(|e| *e.weight() == rel) {
            self.graph.add_edge(a, b, rel);
        }
    }

    /// Registers `o` as the object of `kind` named `name`, unless an earlier one
    /// has the name: then `o` is a duplicate.
    fn name(&mut self, kind: Kind, name: &'a str, o: Obj) {
        if !name.is_empty() {
            match self.names[kind as usize].entry(name) {
                Entry::Occupied(first) => {
                    let first = self.graph[NodeIndex::new(*first.get() as usize)];
                    self.duplicates.push((o, first));
                }
                Entry::Vacant(slot) => {
                    slot.insert(self.ix.node(o).index() as u32);
                }
            }
        }
    }

    /// Records duplicate interface names within the SE `(g, s)`.
    fn interface_names(&mut self, g: usize, s: usize) {
        let itfs = &self.cfg.se_groups[g].service_engines[s].interfaces;
        if itfs.len() <= 16 {
            for (k, itf) in itfs.iter().enumerate() {
                if itf.name.is_empty() {
                    continue;
                }
                if let Some(f) = itfs[..k].iter().position(|i| i.name == itf.name) {
                    self.duplicates.push((Obj::Interface(g, s, k), Obj::Interface(g, s, f)));
                }
            }
        } else {
            let mut first: FastHashMap<&str, usize> = fast_map(itfs.len());
            for (k, itf) in itfs.iter().enumerate() {
                if itf.name.is_empty() {
                    continue;
                }
                if let Some(&f) = first.get(itf.name.as_str()) {
                    self.duplicates.push((Obj::Interface(g, s, k), Obj::Interface(g, s, f)));
                } else {
                    first.insert(&itf.name, k);
                }
            }
        }
    }

    /// The name of a named object.
    fn name_of(&self, o: Obj) -> &'a str {
        let cfg = self.cfg;
        match o {
            Obj::Tenant(Some(i)) => &cfg.tenants[i].name,
            Obj::Tenant(None) => DEFAULT_TENANT,
            Obj::Network(i) => &cfg.networks[i].name,
            Obj::Device(i) => &cfg.devices[i].name,
            Obj::SeGroup(g) => &cfg.se_groups[g].name,
            Obj::Se(g, s) => &cfg.se_groups[g].service_engines[s].name,
            Obj::Interface(g, s, k) => &cfg.se_groups[g].service_engines[s].interfaces[k].name,
            Obj::Pool(p) => &cfg.pools[p].name,
            Obj::Vs(v) => &cfg.virtual_services[v].name,
            Obj::Profile(t) => &cfg.traffic_clone_profiles[t].name,
            Obj::PoolServer(..) | Obj::CloneServer(..) | Obj::NatBinding(_) => "",
        }
    }

    /// Adds every object as a node with its containment edges, and registers the
    /// first object of each kind and name as the target of references.
    fn add_objects(&mut self) {
        let cfg = self.cfg;
        let se_count: usize = cfg.se_groups.iter().map(|g| g.service_engines.len()).sum();
        let itf_count = self.vals.itf_addrs.len();
        let cs_count = self.vals.cs_ips.len();
        let nodes = cfg.tenants.len()
            + 1
            + cfg.networks.len()
            + cfg.devices.len()
            + cfg.se_groups.len()
            + se_count
            + itf_count
            + cfg.pools.len()
            + cfg.virtual_services.len()
            + cfg.traffic_clone_profiles.len()
            + cs_count
            + cfg.nat_bindings.len();
        // Containment edges, plus at most one reference edge per reference field.
        let edges = se_count * 2
            + itf_count * 2
            + cfg.pools.len()
            + cfg.virtual_services.len() * 4
            + cfg.traffic_clone_profiles.len()
            + cs_count * 2;
        self.graph = DiGraph::with_capacity(nodes, edges);
        self.ix.pools.reserve(cfg.pools.len());
        self.ix.pool_first_srv.reserve(cfg.pools.len());
        self.ix.profiles.reserve(cfg.traffic_clone_profiles.len());
        self.ix.profile_first_cs.reserve(cfg.traffic_clone_profiles.len());
        self.names[Kind::Pool as usize].reserve(cfg.pools.len());
        self.names[Kind::Vs as usize].reserve(cfg.virtual_services.len());
        self.names[Kind::Profile as usize].reserve(cfg.traffic_clone_profiles.len());

        self.ix.tenants = self.graph.node_count();
        for (i, t) in cfg.tenants.iter().enumerate() {
            self.add_node(Obj::Tenant(Some(i)));
            self.name(Kind::Tenant, &t.name, Obj::Tenant(Some(i)));
        }
        if !self.names[Kind::Tenant as usize].contains_key(DEFAULT_TENANT) {
            let admin = self.add_node(Obj::Tenant(None));
            self.ix.admin = Some(admin);
            self.names[Kind::Tenant as usize].insert(DEFAULT_TENANT, admin as u32);
        }
        self.ix.networks = self.graph.node_count();
        for (i, n) in cfg.networks.iter().enumerate() {
            self.add_node(Obj::Network(i));
            self.name(Kind::Network, &n.name, Obj::Network(i));
        }
        self.ix.devices = self.graph.node_count();
        for (i, d) in cfg.devices.iter().enumerate() {
            self.add_node(Obj::Device(i));
            self.name(Kind::Device, &d.name, Obj::Device(i));
        }
        let mut itf_seen = 0;
        for (g, group) in cfg.se_groups.iter().enumerate() {
            let gn = self.add_node(Obj::SeGroup(g));
            self.ix.groups.push(gn);
            self.ix.group_first_se.push(self.ix.ses.len());
            self.name(Kind::SeGroup, &group.name, Obj::SeGroup(g));
            for (s, se) in group.service_engines.iter().enumerate() {
                let sn = self.add_node(Obj::Se(g, s));
                self.ix.ses.push(sn);
                self.ix.se_first_itf.push(itf_seen);
                itf_seen += se.interfaces.len();
                self.add_edge(Obj::SeGroup(g), Obj::Se(g, s), Rel::Has);
                self.name(Kind::Se, &se.name, Obj::Se(g, s));
                for k in 0..se.interfaces.len() {
                    self.add_node(Obj::Interface(g, s, k));
                    self.add_edge(Obj::Se(g, s), Obj::Interface(g, s, k), Rel::Has);
                }
                self.interface_names(g, s);
            }
        }
        let mut srv_seen = 0;
        for (p, pool) in cfg.pools.iter().enumerate() {
            let pn = self.add_node(Obj::Pool(p));
            self.ix.pools.push(pn);
            self.ix.pool_first_srv.push(srv_seen);
            srv_seen += pool.servers.len();
            self.name(Kind::Pool, &pool.name, Obj::Pool(p));
        }
        self.ix.vss = self.graph.node_count();
        for (v, vs) in cfg.virtual_services.iter().enumerate() {
            self.add_node(Obj::Vs(v));
            self.name(Kind::Vs, &vs.name, Obj::Vs(v));
        }
        let mut cs_seen = 0;
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            let tn = self.add_node(Obj::Profile(t));
            self.ix.profiles.push(tn);
            self.ix.profile_first_cs.push(cs_seen);
            cs_seen += prof.clone_servers.len();
            self.name(Kind::Profile, &prof.name, Obj::Profile(t));
            for c in 0..prof.clone_servers.len() {
                self.add_node(Obj::CloneServer(t, c));
                self.add_edge(Obj::Profile(t), Obj::CloneServer(t, c), Rel::Has);
            }
        }
        self.ix.nat = self.graph.node_count();
        for i in 0..cfg.nat_bindings.len() {
            self.add_node(Obj::NatBinding(i));
        }
    }

    /// Derives [`Topology`] from the containment and reference edges.
    fn topology(&mut self) {
        let cfg = self.cfg;
        let mut topo = Topology { group_ses: Vec::with_capacity(cfg.se_groups.len()), se_nets: Vec::new() };
        for (g, group) in cfg.se_groups.iter().enumerate() {
            topo.group_ses.push(self.targets(Obj::SeGroup(g), Rel::Has));
            for s in 0..group.service_engines.len() {
                let nets: Option<Vec<Obj>> = self
                    .interfaces(Obj::Se(g, s))
                    .into_iter()
                    .map(|i| self.follow(i, Rel::Network).filter(|&n| self.subnet(n).is_some()))
                    .collect();
                topo.se_nets.push(nets);
            }
        }
        self.topo = topo;
    }

    /// The target of `from`'s `rel` edge, if the reference resolved.
    fn follow(&self, from: Obj, rel: Rel) -> Option<Obj> {
        self.graph
            .edges_directed(self.ix.node(from), Direction::Outgoing)
            .find(|e| *e.weight() == rel)
            .map(|e| self.graph[e.target()])
    }

    /// All targets of `from`'s `rel` edges, in config order.
    fn targets(&self, from: Obj, rel: Rel) -> Vec<Obj> {
        let mut out: Vec<Obj> = self
            .graph
            .edges_directed(self.ix.node(from), Direction::Outgoing)
            .filter(|e| *e.weight() == rel)
            .map(|e| self.graph[e.target()])
            .collect();
        out.sort();
        out
    }

    /// All objects with a `rel` edge to `to`, in config order.
    fn sources(&self, to: Obj, rel: Rel) -> Vec<Obj> {
        let mut out: Vec<Obj> = self
            .graph
            .edges_directed(self.ix.node(to), Direction::Incoming)
            .filter(|e| *e.weight() == rel)
            .map(|e| self.graph[e.source()])
            .collect();
        out.sort();
        out
    }

    /// The container of `o` (SE -> group, interface -> SE, ...).
    fn parent(&self, o: Obj) -> Option<Obj> {
        self.sources(o, Rel::Has).into_iter().next()
    }

    /// The SEs of the SE group a VS is placed on (empty if the group is unknown).
    fn vs_ses(&self, v: usize) -> &[Obj] {
        match self.follow(Obj::Vs(v), Rel::SeGroup) {
            Some(Obj::SeGroup(g)) => &self.topo.group_ses[g],
            _ => &[],
        }
    }

    /// The interfaces of an SE.
    fn interfaces(&self, se: Obj) -> Vec<Obj> {
        self.targets(se, Rel::Has)
    }

    /// The network of every interface of `se`, in order, if every interface has a
    /// known network with a valid subnet. Rules about connectivity skip SEs for
    /// which this is `None` (the broken reference or subnet is reported already,
    /// and may be the very one missing).
    fn se_networks(&self, se: Obj) -> Option<&[Obj]> {
        match se {
            Obj::Se(g, s) => self.topo.se_nets[self.ix.se(g, s)].as_deref(),
            _ => None,
        }
    }

    /// Resolves `name` as a `kind` reference from `from` (adding a `rel` edge) or
    /// reports it as dangling at `path()`.
    fn reference(&mut self, from: Obj, rel: Rel, kind: Kind, name: &str, path: impl FnOnce() -> String) {
        if name.is_empty() {
            self.error(path(), format!("is empty; name a {}", kind.noun()));
            return;
        }
        match self.names[kind as usize].get(name) {
            Some(&to) => self.add_edge_between(self.ix.node(from), NodeIndex::new(to as usize), rel),
            None => {
                let mut msg = format!("no {} named `{name}`", kind.noun());
                if let Some(s) = self.closest_name(kind, name) {
                    msg.push_str(&format!(" (did you mean `{s}`?)"));
                }
                self.error(path(), msg);
            }
        }
    }

    /// The defined name of `kind` closest to a misspelt `name`, if close enough.
    fn closest_name(&self, kind: Kind, name: &str) -> Option<&'a str> {
        let limit = (name.chars().count() / 3).max(1);
        self.names[kind as usize]
            .keys()
            .map(|n| (edit_distance(name, n), *n))
            .filter(|(d, _)| *d <= limit)
            .min()
            .map(|(_, n)| n)
    }

    // ----- values, parsed once (the value rules report failures) -----

    fn network_name(&self, n: Obj) -> &'a str {
        match n {
            Obj::Network(i) => &self.cfg.networks[i].name,
            _ => "?",
        }
    }

    fn subnet(&self, n: Obj) -> Option<Prefix> {
        match n {
            Obj::Network(i) => self.vals.subnets[i],
            _ => None,
        }
    }

    fn if_addr(&self, i: Obj) -> Option<IfAddr> {
        match i {
            Obj::Interface(g, s, k) => self.vals.itf_addrs[self.ix.itf(g, s, k)],
            _ => None,
        }
    }

    fn srv_ip(&self, p: usize, k: usize) -> Option<IpAddr> {
        self.vals.srv_ips[self.ix.srv(p, k)]
    }

    fn se_name(&self, se: Obj) -> &'a str {
        match se {
            Obj::Se(g, s) => &self.cfg.se_groups[g].service_engines[s].name,
            _ => "?",
        }
    }

    fn group_name(&self, g: Obj) -> &'a str {
        match g {
            Obj::SeGroup(g) => &self.cfg.se_groups[g].name,
            _ => "?",
        }
    }

    fn tenant_name(&self, t: Obj) -> &'a str {
        match t {
            Obj::Tenant(Some(i)) => &self.cfg.tenants[i].name,
            _ => DEFAULT_TENANT,
        }
    }

    // ----- rules: names and references -----

    /// Every object has a non-empty name.
    fn rule_names_non_empty(&mut self) {
        let mut empty = Vec::new();
        for_each_named(self.cfg, |o, name| {
            if name.trim().is_empty() {
                empty.push(o.field("name"));
            }
        });
        for path in empty {
            self.error(path, "name must not be empty");
        }
    }

    /// Names are unique per kind (SE names across all groups, interface names
    /// within their SE); reported at the later duplicate. The duplicates were found
    /// while registering the names ([`Validator::add_objects`]).
    fn rule_duplicate_names(&mut self) {
        for (o, f) in std::mem::take(&mut self.duplicates) {
            let noun = match o {
                Obj::Interface(..) => "interface",
                other => kind_of(other).map_or("object", Kind::noun),
            };
            let msg = format!("duplicate {noun} name `{}` (first defined at {})", self.name_of(o), f.path());
            self.error(o.field("name"), msg);
        }
    }

    /// Every name reference resolves; adds the reference edges to the graph.
    fn rule_references(&mut self) {
        let cfg = self.cfg;
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                let o = Obj::Se(g, s);
                self.reference(o, Rel::Device, Kind::Device, &se.device, || o.field("device"));
                for (k, itf) in se.interfaces.iter().enumerate() {
                    let o = Obj::Interface(g, s, k);
                    self.reference(o, Rel::Network, Kind::Network, &itf.network, || o.field("network"));
                }
            }
        }
        for (p, pool) in cfg.pools.iter().enumerate() {
            let o = Obj::Pool(p);
            self.reference(o, Rel::Tenant, Kind::Tenant, &pool.tenant, || o.field("tenant"));
        }
        for (v, vs) in cfg.virtual_services.iter().enumerate() {
            let o = Obj::Vs(v);
            self.reference(o, Rel::Tenant, Kind::Tenant, &vs.tenant, || o.field("tenant"));
            self.reference(o, Rel::SeGroup, Kind::SeGroup, &vs.se_group, || o.field("se_group"));
            self.reference(o, Rel::Pool, Kind::Pool, &vs.pool, || o.field("pool"));
            if let Some(prof) = &vs.traffic_clone_profile {
                self.reference(o, Rel::Profile, Kind::Profile, prof, || o.field("traffic_clone_profile"));
            }
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            let o = Obj::Profile(t);
            self.reference(o, Rel::Tenant, Kind::Tenant, &prof.tenant, || o.field("tenant"));
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                let o = Obj::CloneServer(t, c);
                self.reference(o, Rel::Network, Kind::Network, &cs.network, || o.field("network"));
            }
        }
    }

    /// A VS, its pool and its clone profile are in one tenant.
    fn rule_cross_tenant(&mut self) {
        for (v, vs) in self.cfg.virtual_services.iter().enumerate() {
            let Some(vt) = self.follow(Obj::Vs(v), Rel::Tenant) else { continue };
            for (rel, field, noun) in
                [(Rel::Pool, "pool", "pool"), (Rel::Profile, "traffic_clone_profile", "clone profile")]
            {
                let Some(target) = self.follow(Obj::Vs(v), rel) else { continue };
                let Some(tt) = self.follow(target, Rel::Tenant) else { continue };
                if tt != vt {
                    let target_name = match target {
                        Obj::Pool(p) => &self.cfg.pools[p].name,
                        Obj::Profile(t) => &self.cfg.traffic_clone_profiles[t].name,
                        _ => "?",
                    };
                    let msg = format!(
                        "VS `{}` is in tenant `{}` but its {noun} `{target_name}` is in tenant `{}`; \
                         cross-tenant references are not allowed",
                        vs.name,
                        self.tenant_name(vt),
                        self.tenant_name(tt)
                    );
                    self.error(Obj::Vs(v).field(field), msg);
                }
            }
        }
    }

    // ----- rules: values -----

    /// Interface and clone server MACs parse.
    fn rule_macs(&mut self) {
        let cfg = self.cfg;
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                for (k, itf) in se.interfaces.iter().enumerate() {
                    if let Err(e) = itf.mac.parse::<Mac>() {
                        self.error(Obj::Interface(g, s, k).field("mac"), e);
                    }
                }
            }
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                if let Err(e) = cs.mac.parse::<Mac>() {
                    self.error(Obj::CloneServer(t, c).field("mac"), e);
                }
            }
        }
    }

    /// Network subnets are prefixes with the host bits zero.
    fn rule_network_subnets(&mut self) {
        for (i, n) in self.cfg.networks.iter().enumerate() {
            if self.vals.subnets[i].is_some() {
                continue;
            }
            if let Err(e) = n.subnet.parse::<Prefix>() {
                self.error(Obj::Network(i).field("subnet"), e);
            }
        }
    }

    /// VLAN ids are 1..4094.
    fn rule_vlans(&mut self) {
        for (i, n) in self.cfg.networks.iter().enumerate() {
            if let Some(vlan) = n.vlan {
                if !(1..=MAX_VLAN).contains(&vlan) {
                    self.error(
                        Obj::Network(i).field("vlan"),
                        format!("VLAN {vlan} is outside 1..{MAX_VLAN}; leave `vlan` out for untagged"),
                    );
                }
            }
        }
    }

    /// Interface addresses are `address/length`.
    fn rule_interface_addresses(&mut self) {
        let cfg = self.cfg;
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                for (k, itf) in se.interfaces.iter().enumerate() {
                    if self.vals.itf_addrs[self.ix.itf(g, s, k)].is_some() {
                        continue;
                    }
                    if let Err(e) = itf.ip.parse::<IfAddr>() {
                        self.error(Obj::Interface(g, s, k).field("ip"), e);
                    }
                }
            }
        }
    }

    /// Pool member addresses parse; ports are not 0.
    fn rule_pool_server_values(&mut self) {
        let cfg = self.cfg;
        for (p, pool) in cfg.pools.iter().enumerate() {
            for (k, srv) in pool.servers.iter().enumerate() {
                if self.srv_ip(p, k).is_none() {
                    if let Err(e) = parse_ip(&srv.ip) {
                        self.error(Obj::PoolServer(p, k).field("ip"), e);
                    }
                }
                if srv.port == 0 {
                    self.error(Obj::PoolServer(p, k).field("port"), "port 0 is not a usable L4 port");
                }
            }
        }
    }

    /// VS VIPs parse.
    fn rule_vips(&mut self) {
        for (v, vs) in self.cfg.virtual_services.iter().enumerate() {
            if self.vals.vips[v].is_some() {
                continue;
            }
            if let Err(e) = parse_ip(&vs.vip) {
                self.error(Obj::Vs(v).field("vip"), e);
            }
        }
    }

    /// Clone server subnets are prefixes; clone server addresses parse (any value:
    /// dummies are allowed).
    fn rule_clone_server_values(&mut self) {
        let cfg = self.cfg;
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                let x = self.ix.cs(t, c);
                if self.vals.cs_subnets[x].is_none() {
                    if let Err(e) = cs.subnet.parse::<Prefix>() {
                        self.error(Obj::CloneServer(t, c).field("subnet"), e);
                    }
                }
                if self.vals.cs_ips[x].is_none() {
                    if let Err(e) = parse_ip(&cs.ip) {
                        self.error(Obj::CloneServer(t, c).field("ip"), e);
                    }
                }
            }
        }
    }

    /// NAT binding endpoints are `ip:port`.
    fn rule_nat_endpoints(&mut self) {
        for (i, b) in self.cfg.nat_bindings.iter().enumerate() {
            let parsed = [self.vals.nat_se[i].is_some(), self.vals.nat_client[i].is_some()];
            for ((field, value), ok) in [("se", &b.se), ("client", &b.client)].into_iter().zip(parsed) {
                if ok {
                    continue;
                }
                if let Err(e) = parse_endpoint(value) {
                    self.error(Obj::NatBinding(i).field(field), e);
                }
            }
        }
    }

    /// Device addresses are `host:port`; no two devices share address and id.
    fn rule_device_addresses(&mut self) {
        let mut seen: FastHashMap<(String, u16, u64), usize> = FastHashMap::default();
        for (i, d) in self.cfg.devices.iter().enumerate() {
            match parse_host_port(&d.address) {
                Err(e) => self.error(Obj::Device(i).field("address"), e),
                Ok((host, port)) => match seen.get(&(host.clone(), port, d.device_id)) {
                    Some(&first) => self.error(
                        Obj::Device(i).field("address"),
                        format!(
                            "devices[{first}] (`{}`) has the same P4Runtime address {} and device_id {}",
                            self.cfg.devices[first].name, d.address, d.device_id
                        ),
                    ),
                    None => {
                        seen.insert((host, port, d.device_id), i);
                    }
                },
            }
        }
    }

    /// Interface and wire ports are at most 510.
    fn rule_port_range(&mut self) {
        let cfg = self.cfg;
        let why = "device ports are 0..510 (9-bit port numbers; 511 is the drop port)";
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                for (k, itf) in se.interfaces.iter().enumerate() {
                    if itf.port > MAX_DEVICE_PORT {
                        self.error(Obj::Interface(g, s, k).field("port"), format!("port {}: {why}", itf.port));
                    }
                }
            }
        }
        for (d, dev) in cfg.devices.iter().enumerate() {
            for (w, wire) in dev.wires.iter().enumerate() {
                for port in wire.iter().filter(|p| **p > MAX_DEVICE_PORT) {
                    self.error(format!("devices[{d}].wires[{w}]"), format!("port {port}: {why}"));
                }
            }
        }
    }

    // ----- rules: addressing -----

    /// An SE interface's address lies in its network's subnet.
    fn rule_interface_in_subnet(&mut self) {
        let cfg = self.cfg;
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                for k in 0..se.interfaces.len() {
                    let itf = Obj::Interface(g, s, k);
                    let Some(addr) = self.if_addr(itf) else { continue };
                    let Some(net) = self.follow(itf, Rel::Network) else { continue };
                    let Some(subnet) = self.subnet(net) else { continue };
                    let net_name = self.network_name(net);
                    if family_bits(&addr.addr) != family_bits(&subnet.addr) {
                        self.error(
                            itf.field("ip"),
                            format!(
                                "{addr} is {} but network `{net_name}` is {} ({subnet})",
                                family_name(&addr.addr),
                                family_name(&subnet.addr)
                            ),
                        );
                    } else if !subnet.contains(&addr.addr) {
                        self.error(
                            itf.field("ip"),
                            format!("{} is outside network `{net_name}`'s subnet {subnet}", addr.addr),
                        );
                    } else if addr.len != subnet.len {
                        self.warning(
                            itf.field("ip"),
                            format!("prefix length /{} differs from network `{net_name}`'s {subnet}", addr.len),
                        );
                    }
                }
            }
        }
    }

    /// A clone server's `subnet` is its network's subnet.
    fn rule_clone_server_subnet(&mut self) {
        let cfg = self.cfg;
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for c in 0..prof.clone_servers.len() {
                let o = Obj::CloneServer(t, c);
                let Some(stated) = self.vals.cs_subnets[self.ix.cs(t, c)] else { continue };
                let Some(net) = self.follow(o, Rel::Network) else { continue };
                let Some(actual) = self.subnet(net) else { continue };
                if stated != actual {
                    self.error(
                        o.field("subnet"),
                        format!("subnet {stated} is not the subnet of network `{}` ({actual})", self.network_name(net)),
                    );
                }
            }
        }
    }

    /// A clone server's address (possibly a dummy) is of its subnet's family.
    fn rule_clone_server_ip_family(&mut self) {
        let cfg = self.cfg;
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for c in 0..prof.clone_servers.len() {
                let x = self.ix.cs(t, c);
                let (Some(ip), Some(subnet)) = (self.vals.cs_ips[x], self.vals.cs_subnets[x]) else { continue };
                if family_bits(&ip) != family_bits(&subnet.addr) {
                    self.error(
                        Obj::CloneServer(t, c).field("ip"),
                        format!(
                            "{ip} is {} but the subnet {subnet} is {}",
                            family_name(&ip),
                            family_name(&subnet.addr)
                        ),
                    );
                }
            }
        }
    }

    // ----- rules: clone profiles -----

    /// A profile has 1..10 clone servers.
    fn rule_clone_server_count(&mut self) {
        for (t, prof) in self.cfg.traffic_clone_profiles.iter().enumerate() {
            let n = prof.clone_servers.len();
            if n == 0 {
                self.error(Obj::Profile(t).field("clone_servers"), "a clone profile needs at least one clone server");
            } else if n > MAX_CLONE_SERVERS {
                self.error(
                    Obj::Profile(t).field("clone_servers"),
                    format!("{n} clone servers; a clone profile has at most {MAX_CLONE_SERVERS}"),
                );
            }
        }
    }

    /// `truncate` is 0 (whole frames) or 64..9216.
    fn rule_truncate(&mut self) {
        for (t, prof) in self.cfg.traffic_clone_profiles.iter().enumerate() {
            let n = prof.truncate;
            if (1..MIN_TRUNCATE).contains(&n) {
                self.error(
                    Obj::Profile(t).field("truncate"),
                    format!(
                        "truncate {n} is too short to hold the headers; use 0 for whole frames or at least {MIN_TRUNCATE}"
                    ),
                );
            } else if n > MAX_TRUNCATE {
                self.error(
                    Obj::Profile(t).field("truncate"),
                    format!(
                        "truncate {n} is larger than any jumbo frame ({MAX_TRUNCATE} bytes); use 0 for whole frames"
                    ),
                );
            }
        }
    }

    /// Every SE of every VS using a profile has an interface on each clone
    /// server's network (that interface is where the clones leave).
    fn rule_clone_server_connected(&mut self) {
        let cfg = self.cfg;
        // The users of each profile, in config order (= `sources(profile, Profile)`).
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); cfg.traffic_clone_profiles.len()];
        for v in 0..cfg.virtual_services.len() {
            if let Some(Obj::Profile(t)) = self.follow(Obj::Vs(v), Rel::Profile) {
                users[t].push(v);
            }
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for c in 0..prof.clone_servers.len() {
                let cs = Obj::CloneServer(t, c);
                let Some(net) = self.follow(cs, Rel::Network) else { continue };
                for &v in &users[t] {
                    let Some(group) = self.follow(Obj::Vs(v), Rel::SeGroup) else { continue };
                    let missing: Vec<&str> = self
                        .vs_ses(v)
                        .iter()
                        .filter(|&&se| self.se_networks(se).is_some_and(|nets| !nets.contains(&net)))
                        .map(|&se| self.se_name(se))
                        .collect();
                    if !missing.is_empty() {
                        let msg = format!(
                            "network `{}` is not directly connected to SE group `{}` of VS `{}`: {} {} no interface on it",
                            self.network_name(net),
                            self.group_name(group),
                            cfg.virtual_services[v].name,
                            ses_phrase(&missing),
                            if missing.len() == 1 { "has" } else { "have" }
                        );
                        self.error(cs.field("network"), msg);
                    }
                }
            }
        }
    }

    // ----- rules: device ports -----

    /// No device port is used by two interfaces (across all SEs on the device).
    fn rule_interface_port_clash(&mut self) {
        let cfg = self.cfg;
        let mut used: FastHashMap<(Obj, u32), Obj> = FastHashMap::default();
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                let Some(dev) = self.follow(Obj::Se(g, s), Rel::Device) else { continue };
                for (k, itf) in se.interfaces.iter().enumerate() {
                    let o = Obj::Interface(g, s, k);
                    match used.get(&(dev, itf.port)) {
                        Some(&first) => {
                            let Obj::Interface(fg, fs, fk) = first else { continue };
                            let fse = &cfg.se_groups[fg].service_engines[fs];
                            let msg = format!(
                                "port {} of device `{}` is already used by interface `{}` of SE `{}` ({})",
                                itf.port,
                                se.device,
                                fse.interfaces[fk].name,
                                fse.name,
                                first.path()
                            );
                            self.error(o.field("port"), msg);
                        }
                        None => {
                            used.insert((dev, itf.port), o);
                        }
                    }
                }
            }
        }
    }

    /// A wire joins two different ports, and a port is in at most one wire.
    fn rule_wires(&mut self) {
        for (d, dev) in self.cfg.devices.iter().enumerate() {
            let mut seen: FastHashMap<u32, usize> = FastHashMap::default();
            for (w, &[a, b]) in dev.wires.iter().enumerate() {
                let path = format!("devices[{d}].wires[{w}]");
                if a == b {
                    self.error(path, format!("wire joins port {a} to itself"));
                    continue;
                }
                let reused: Vec<String> = [a, b]
                    .iter()
                    .filter_map(|port| {
                        seen.get(port).map(|first| format!("port {port} is already in devices[{d}].wires[{first}]"))
                    })
                    .collect();
                seen.entry(a).or_insert(w);
                seen.entry(b).or_insert(w);
                if !reused.is_empty() {
                    self.error(path, reused.join("; "));
                }
            }
        }
    }

    // ----- rules: virtual services -----

    /// A VS has at least one service port; ports are non-zero and not repeated.
    fn rule_services(&mut self) {
        for (v, vs) in self.cfg.virtual_services.iter().enumerate() {
            let o = Obj::Vs(v);
            if vs.services.is_empty() {
                self.error(o.field("services"), "a virtual service needs at least one service port");
            }
            // The latest earlier listing of each (port, protocol): a backwards scan for
            // the usual handful of services, a map for long lists.
            let mut seen: FastHashMap<(u16, Protocol), usize> = FastHashMap::default();
            let long = vs.services.len() > 16;
            for (k, svc) in vs.services.iter().enumerate() {
                let path = || format!("{}[{k}]", o.field("services"));
                if svc.port == 0 {
                    self.error(format!("{}.port", path()), "port 0 is not a usable L4 port");
                    continue;
                }
                let earlier = if long {
                    seen.insert((svc.port, svc.protocol), k)
                } else {
                    vs.services[..k].iter().rposition(|e| e.port == svc.port && e.protocol == svc.protocol)
                };
                if let Some(first) = earlier {
                    self.error(
                        path(),
                        format!(
                            "service {}/{} is already listed at services[{first}]",
                            svc.port,
                            proto_name(svc.protocol)
                        ),
                    );
                }
            }
        }
    }

    /// SSL tandems (a VS whose pool member is another VS's VIP) use two SE groups.
    /// Adds the VS -> VS tandem edges.
    fn rule_back_to_back(&mut self) {
        let cfg = self.cfg;
        // VIP -> the VSs with that VIP, as a chain through `next_same_vip`.
        const END: usize = usize::MAX;
        let mut first_by_vip: FastHashMap<IpAddr, usize> = fast_map(cfg.virtual_services.len());
        let mut next_same_vip = vec![END; cfg.virtual_services.len()];
        for (v, vip) in self.vals.vips.iter().enumerate().rev() {
            if let Some(ip) = vip {
                if let Some(next) = first_by_vip.insert(*ip, v) {
                    next_same_vip[v] = next;
                }
            }
        }
        for v in 0..cfg.virtual_services.len() {
            let Some(Obj::Pool(p)) = self.follow(Obj::Vs(v), Rel::Pool) else { continue };
            for k in 0..cfg.pools[p].servers.len() {
                let Some(ip) = self.srv_ip(p, k) else { continue };
                let mut w = first_by_vip.get(&ip).copied().unwrap_or(END);
                while w != END {
                    self.add_edge(Obj::Vs(v), Obj::Vs(w), Rel::Tandem);
                    w = next_same_vip[w];
                }
            }
        }
        for v in 0..cfg.virtual_services.len() {
            let Some(group) = self.follow(Obj::Vs(v), Rel::SeGroup) else { continue };
            for back in self.targets(Obj::Vs(v), Rel::Tandem) {
                if self.follow(back, Rel::SeGroup) != Some(group) {
                    continue;
                }
                let Obj::Vs(w) = back else { continue };
                let (front_vs, back_vs) = (&cfg.virtual_services[v], &cfg.virtual_services[w]);
                let msg = if v == w {
                    format!(
                        "VS `{}` has its own VIP {} as a member of pool `{}`; a VS cannot be its own back end",
                        front_vs.name, front_vs.vip, front_vs.pool
                    )
                } else {
                    format!(
                        "VS `{}` and VS `{}` are back to back (VIP {} is a member of pool `{}`) on the same SE group `{}`; \
                         SSL tandem VSs must be on different SE groups",
                        front_vs.name,
                        back_vs.name,
                        back_vs.vip,
                        front_vs.pool,
                        self.group_name(group)
                    )
                };
                self.error(Obj::Vs(v).field("se_group"), msg);
            }
        }
    }

    /// Every pool member of a cloned VS lies on a network its SE group has an
    /// interface on (that interface's address is the "SE side" traffic is matched on).
    fn rule_pool_reachability(&mut self) {
        let cfg = self.cfg;
        // Per SE group, once first needed: the networks its SEs have interfaces on
        // and their subnets, or `None` when the group has no SE or an SE with an
        // unknown network.
        type Reach = Option<(Vec<Obj>, Vec<Prefix>)>;
        let mut group_nets: Vec<Option<Reach>> = vec![None; cfg.se_groups.len()];
        for (v, vs) in cfg.virtual_services.iter().enumerate() {
            if self.follow(Obj::Vs(v), Rel::Profile).is_none() {
                continue;
            }
            let (Some(group), Some(Obj::Pool(p))) =
                (self.follow(Obj::Vs(v), Rel::SeGroup), self.follow(Obj::Vs(v), Rel::Pool))
            else {
                continue;
            };
            let Obj::SeGroup(g) = group else { continue };
            let reach = group_nets[g].get_or_insert_with(|| {
                let ses = &self.topo.group_ses[g];
                let mut nets: BTreeSet<Obj> = BTreeSet::new();
                for &se in ses {
                    nets.extend(self.se_networks(se)?.iter().copied());
                }
                if ses.is_empty() {
                    return None;
                }
                let subnets: Vec<Prefix> = nets.iter().filter_map(|&n| self.subnet(n)).collect();
                Some((nets.into_iter().collect(), subnets))
            });
            let Some((nets, subnets)) = reach else { continue };
            for k in 0..cfg.pools[p].servers.len() {
                let Some(ip) = self.srv_ip(p, k) else { continue };
                if subnets.iter().any(|s| s.contains(&ip)) {
                    continue;
                }
                let known: Vec<String> = nets
                    .iter()
                    .filter_map(|&n| Some(format!("{} {}", self.network_name(n), self.subnet(n)?)))
                    .collect();
                let msg = format!(
                    "pool member {ip} of cloned VS `{}` is on no network SE group `{}` has an interface on ({}); \
                     its traffic could not be matched for cloning",
                    vs.name,
                    self.group_name(group),
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                );
                self.diags.push(Diagnostic::error(Obj::PoolServer(p, k).field("ip"), msg));
            }
        }
    }

    // ----- rules: NAT bindings -----

    /// A binding's SE side and client are of one address family.
    fn rule_nat_families(&mut self) {
        for i in 0..self.cfg.nat_bindings.len() {
            let (Some(se), Some(client)) = (self.vals.nat_se[i], self.vals.nat_client[i]) else { continue };
            if family_bits(&se.ip()) != family_bits(&client.ip()) {
                self.error(
                    Obj::NatBinding(i).field("client"),
                    format!(
                        "client {} is {} but the SE side {} is {}",
                        client.ip(),
                        family_name(&client.ip()),
                        se.ip(),
                        family_name(&se.ip())
                    ),
                );
            }
        }
    }

    /// A binding's SE-side address is the address of some SE interface. Adds the
    /// binding -> interface edges.
    fn rule_nat_se_address(&mut self) {
        let cfg = self.cfg;
        if cfg.nat_bindings.is_empty() {
            return;
        }
        let mut owners: FastHashMap<IpAddr, Vec<Obj>> = FastHashMap::default();
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                for k in 0..se.interfaces.len() {
                    let itf = Obj::Interface(g, s, k);
                    if let Some(a) = self.if_addr(itf) {
                        owners.entry(a.addr).or_default().push(itf);
                    }
                }
            }
        }
        for i in 0..cfg.nat_bindings.len() {
            let Some(se) = self.vals.nat_se[i] else { continue };
            match owners.get(&se.ip()) {
                Some(list) => {
                    for &itf in list {
                        self.add_edge(Obj::NatBinding(i), itf, Rel::Binds);
                    }
                }
                None => self.error(
                    Obj::NatBinding(i).field("se"),
                    format!("{} is not the address of any SE interface", se.ip()),
                ),
            }
        }
    }

    /// No two bindings for one SE-side address:port and protocol.
    fn rule_nat_duplicates(&mut self) {
        let mut seen: FastHashMap<(SocketAddr, Protocol), usize> = FastHashMap::default();
        for (i, b) in self.cfg.nat_bindings.iter().enumerate() {
            let Some(se) = self.vals.nat_se[i] else { continue };
            match seen.get(&(se, b.protocol)) {
                Some(&first) => self.error(
                    Obj::NatBinding(i).field("se"),
                    format!("{se} ({}) is already bound by nat_bindings[{first}]", proto_name(b.protocol)),
                ),
                None => {
                    seen.insert((se, b.protocol), i);
                }
            }
        }
    }

    /// Warns about a binding no cloned VS with `preserve_client_ip` can use.
    fn rule_nat_unused(&mut self) {
        let cfg = self.cfg;
        if cfg.nat_bindings.is_empty() {
            return;
        }
        // Per SE group: whether a VS on it uses a profile with preserve_client_ip.
        let mut preserving: FastHashSet<Obj> = FastHashSet::default();
        for v in 0..cfg.virtual_services.len() {
            if let (Some(group), Some(Obj::Profile(t))) =
                (self.follow(Obj::Vs(v), Rel::SeGroup), self.follow(Obj::Vs(v), Rel::Profile))
            {
                if cfg.traffic_clone_profiles[t].preserve_client_ip {
                    preserving.insert(group);
                }
            }
        }
        for i in 0..cfg.nat_bindings.len() {
            let ifaces = self.targets(Obj::NatBinding(i), Rel::Binds);
            if ifaces.is_empty() {
                continue;
            }
            let ses: BTreeSet<Obj> = ifaces.iter().filter_map(|&itf| self.parent(itf)).collect();
            let used = ses.iter().any(|&se| self.parent(se).is_some_and(|group| preserving.contains(&group)));
            if !used {
                let names: Vec<&str> = ses.iter().map(|&se| self.se_name(se)).collect();
                self.warning(
                    Obj::NatBinding(i).path(),
                    format!(
                        "no cloned VS on {} uses a clone profile with preserve_client_ip; the binding has no effect",
                        ses_phrase(&names)
                    ),
                );
            }
        }
    }
}

/// Calls `f` with every named object and its name, in config order.
fn for_each_named<'c>(cfg: &'c Config, mut f: impl FnMut(Obj, &'c str)) {
    for (i, t) in cfg.tenants.iter().enumerate() {
        f(Obj::Tenant(Some(i)), &t.name);
    }
    for (i, n) in cfg.networks.iter().enumerate() {
        f(Obj::Network(i), &n.name);
    }
    for (i, d) in cfg.devices.iter().enumerate() {
        f(Obj::Device(i), &d.name);
    }
    for (g, group) in cfg.se_groups.iter().enumerate() {
        f(Obj::SeGroup(g), &group.name);
    }
    for (g, group) in cfg.se_groups.iter().enumerate() {
        for (s, se) in group.service_engines.iter().enumerate() {
            f(Obj::Se(g, s), &se.name);
            for (k, itf) in se.interfaces.iter().enumerate() {
                f(Obj::Interface(g, s, k), &itf.name);
            }
        }
    }
    for (i, p) in cfg.pools.iter().enumerate() {
        f(Obj::Pool(i), &p.name);
    }
    for (i, v) in cfg.virtual_services.iter().enumerate() {
        f(Obj::Vs(i), &v.name);
    }
    for (i, t) in cfg.traffic_clone_profiles.iter().enumerate() {
        f(Obj::Profile(i), &t.name);
    }
}

/// The name space of a named object (interfaces have per-SE name spaces).
fn kind_of(o: Obj) -> Option<Kind> {
    Some(match o {
        Obj::Tenant(_) => Kind::Tenant,
        Obj::Network(_) => Kind::Network,
        Obj::Device(_) => Kind::Device,
        Obj::SeGroup(_) => Kind::SeGroup,
        Obj::Se(..) => Kind::Se,
        Obj::Pool(_) => Kind::Pool,
        Obj::Vs(_) => Kind::Vs,
        Obj::Profile(_) => Kind::Profile,
        _ => return None,
    })
}

/// Parses an IP address with a message in the style of [`crate::net`].
fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("`{s}` is not an IP address"))
}

/// `SE `a`` / `SEs `a`, `b``.
fn ses_phrase(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    if quoted.len() == 1 {
        format!("SE {}", quoted[0])
    } else {
        format!("SEs {}", quoted.join(", "))
    }
}

/// `tcp` / `udp`.
fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("web", "web"), 0);
        assert_eq!(edit_distance("webx", "web"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn path_keys_sort_in_document_order() {
        let mut paths = vec![
            "pools[10].servers[0].ip",
            "networks[1].vlan",
            "pools[2].servers[1].ip",
            "devices[0].wires[1][0]",
            "pools[2].name",
            "devices[0].wires[1]",
            "nat_bindings[0]",
            "tenants[0].name",
        ];
        paths.sort_by_key(|p| path_key(p));
        assert_eq!(
            paths,
            [
                "tenants[0].name",
                "networks[1].vlan",
                "devices[0].wires[1]",
                "devices[0].wires[1][0]",
                "pools[2].name",
                "pools[2].servers[1].ip",
                "pools[10].servers[0].ip",
                "nat_bindings[0]",
            ]
        );
    }

    #[test]
    fn empty_config_is_valid() {
        assert!(validate(&Config::default()).is_empty());
    }
}
