//! Validation: every rule a config must satisfy before it can be compiled.
//!
//! [`validate`] builds the object graph of a [`Config`] with petgraph — one node
//! per object (tenant, network, device, SE group, service engine, interface, pool,
//! pool server, virtual service, clone profile, clone server, NAT binding), edges
//! for containment and for references by name — and runs the rules below, one
//! small function each, returning every problem at once (errors and warnings) in a
//! deterministic order: rule by rule, and within a rule in config order.
//!
//! Reference rules resolve names while adding the edges (a name that resolves to
//! nothing is a dangling reference); the semantic rules then follow edges: tenancy
//! (VS -> profile -> tenant), "directly connected" (VS -> SE group -> SE ->
//! interface -> network), SSL tandems (VS -> VS whose VIP is a pool member).
//!
//! A value that fails to parse is reported once, by its value rule; the rules that
//! need the parsed value skip it, so one mistake does not cascade.
//!
//! Every diagnostic names the exact object path of the offending field, e.g.
//! `traffic_clone_profiles[0].clone_servers[2].subnet`; [`crate::source::SourceMap`]
//! turns paths into line:column.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::config::{Config, Protocol, DEFAULT_TENANT};
use crate::diag::{Diagnostic, Severity};
use crate::net::{family_bits, family_name, parse_endpoint, parse_host_port, IfAddr, Mac, Prefix};

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
    /// Parent -> child (group -> SE -> interface, pool -> server, profile -> clone server).
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

struct Validator<'a> {
    cfg: &'a Config,
    graph: DiGraph<Obj, Rel>,
    nodes: HashMap<Obj, NodeIndex>,
    /// The first object of each kind with each name.
    names: HashMap<(Kind, &'a str), Obj>,
    diags: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    fn new(cfg: &'a Config) -> Self {
        let mut v =
            Validator { cfg, graph: DiGraph::new(), nodes: HashMap::new(), names: HashMap::new(), diags: Vec::new() };
        v.add_objects();
        v
    }

    fn run(&mut self) {
        // Names and references (these build the graph's reference edges).
        self.rule_names_non_empty();
        self.rule_duplicate_names();
        self.rule_references();
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

    fn add_node(&mut self, o: Obj) -> NodeIndex {
        let n = self.graph.add_node(o);
        self.nodes.insert(o, n);
        n
    }

    /// Adds a `rel` edge unless the same edge exists already (a pool may list one
    /// member twice, say).
    fn add_edge(&mut self, from: Obj, to: Obj, rel: Rel) {
        let (a, b) = (self.nodes[&from], self.nodes[&to]);
        if rel == Rel::Has || !self.graph.edges_connecting(a, b).any(|e| *e.weight() == rel) {
            self.graph.add_edge(a, b, rel);
        }
    }

    fn name(&mut self, kind: Kind, name: &'a str, o: Obj) {
        if !name.is_empty() {
            self.names.entry((kind, name)).or_insert(o);
        }
    }

    /// Adds every object as a node with its containment edges, and registers the
    /// first object of each kind and name as the target of references.
    fn add_objects(&mut self) {
        let cfg = self.cfg;
        for (i, t) in cfg.tenants.iter().enumerate() {
            self.add_node(Obj::Tenant(Some(i)));
            self.name(Kind::Tenant, &t.name, Obj::Tenant(Some(i)));
        }
        if !self.names.contains_key(&(Kind::Tenant, DEFAULT_TENANT)) {
            self.add_node(Obj::Tenant(None));
            self.names.insert((Kind::Tenant, DEFAULT_TENANT), Obj::Tenant(None));
        }
        for (i, n) in cfg.networks.iter().enumerate() {
            self.add_node(Obj::Network(i));
            self.name(Kind::Network, &n.name, Obj::Network(i));
        }
        for (i, d) in cfg.devices.iter().enumerate() {
            self.add_node(Obj::Device(i));
            self.name(Kind::Device, &d.name, Obj::Device(i));
        }
        for (g, group) in cfg.se_groups.iter().enumerate() {
            self.add_node(Obj::SeGroup(g));
            self.name(Kind::SeGroup, &group.name, Obj::SeGroup(g));
            for (s, se) in group.service_engines.iter().enumerate() {
                self.add_node(Obj::Se(g, s));
                self.add_edge(Obj::SeGroup(g), Obj::Se(g, s), Rel::Has);
                self.name(Kind::Se, &se.name, Obj::Se(g, s));
                for k in 0..se.interfaces.len() {
                    self.add_node(Obj::Interface(g, s, k));
                    self.add_edge(Obj::Se(g, s), Obj::Interface(g, s, k), Rel::Has);
                }
            }
        }
        for (p, pool) in cfg.pools.iter().enumerate() {
            self.add_node(Obj::Pool(p));
            self.name(Kind::Pool, &pool.name, Obj::Pool(p));
            for k in 0..pool.servers.len() {
                self.add_node(Obj::PoolServer(p, k));
                self.add_edge(Obj::Pool(p), Obj::PoolServer(p, k), Rel::Has);
            }
        }
        for (v, vs) in cfg.virtual_services.iter().enumerate() {
            self.add_node(Obj::Vs(v));
            self.name(Kind::Vs, &vs.name, Obj::Vs(v));
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            self.add_node(Obj::Profile(t));
            self.name(Kind::Profile, &prof.name, Obj::Profile(t));
            for c in 0..prof.clone_servers.len() {
                self.add_node(Obj::CloneServer(t, c));
                self.add_edge(Obj::Profile(t), Obj::CloneServer(t, c), Rel::Has);
            }
        }
        for i in 0..cfg.nat_bindings.len() {
            self.add_node(Obj::NatBinding(i));
        }
    }

    /// The target of `from`'s `rel` edge, if the reference resolved.
    fn follow(&self, from: Obj, rel: Rel) -> Option<Obj> {
        self.graph
            .edges_directed(self.nodes[&from], Direction::Outgoing)
            .find(|e| *e.weight() == rel)
            .map(|e| self.graph[e.target()])
    }

    /// All targets of `from`'s `rel` edges, in config order.
    fn targets(&self, from: Obj, rel: Rel) -> Vec<Obj> {
        let mut out: Vec<Obj> = self
            .graph
            .edges_directed(self.nodes[&from], Direction::Outgoing)
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
            .edges_directed(self.nodes[&to], Direction::Incoming)
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
    fn vs_ses(&self, v: usize) -> Vec<Obj> {
        self.follow(Obj::Vs(v), Rel::SeGroup).map(|g| self.targets(g, Rel::Has)).unwrap_or_default()
    }

    /// The interfaces of an SE.
    fn interfaces(&self, se: Obj) -> Vec<Obj> {
        self.targets(se, Rel::Has)
    }

    /// Whether every interface of `se` has a known network with a valid subnet;
    /// rules about connectivity skip SEs for which this fails (the broken
    /// reference or subnet is reported already, and may be the very one missing).
    fn se_networks_known(&self, se: Obj) -> bool {
        self.interfaces(se).into_iter().all(|i| self.follow(i, Rel::Network).and_then(|n| self.subnet(n)).is_some())
    }

    /// Resolves `name` as a `kind` reference from `from` (adding a `rel` edge) or
    /// reports it as dangling at `path`.
    fn reference(&mut self, from: Obj, rel: Rel, kind: Kind, name: &str, path: String) {
        if name.is_empty() {
            self.error(path, format!("is empty; name a {}", kind.noun()));
            return;
        }
        match self.names.get(&(kind, name)) {
            Some(&to) => self.add_edge(from, to, rel),
            None => {
                let mut msg = format!("no {} named `{name}`", kind.noun());
                if let Some(s) = self.closest_name(kind, name) {
                    msg.push_str(&format!(" (did you mean `{s}`?)"));
                }
                self.error(path, msg);
            }
        }
    }

    /// The defined name of `kind` closest to a misspelt `name`, if close enough.
    fn closest_name(&self, kind: Kind, name: &str) -> Option<&'a str> {
        let limit = (name.chars().count() / 3).max(1);
        self.names
            .keys()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| (edit_distance(name, n), *n))
            .filter(|(d, _)| *d <= limit)
            .min()
            .map(|(_, n)| n)
    }

    // ----- values, parsed silently (the value rules report failures) -----

    fn network_name(&self, n: Obj) -> &'a str {
        match n {
            Obj::Network(i) => &self.cfg.networks[i].name,
            _ => "?",
        }
    }

    fn subnet(&self, n: Obj) -> Option<Prefix> {
        match n {
            Obj::Network(i) => self.cfg.networks[i].subnet.parse().ok(),
            _ => None,
        }
    }

    fn if_addr(&self, i: Obj) -> Option<IfAddr> {
        match i {
            Obj::Interface(g, s, k) => self.cfg.se_groups[g].service_engines[s].interfaces[k].ip.parse().ok(),
            _ => None,
        }
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
    /// within their SE); reported at the later duplicate.
    fn rule_duplicate_names(&mut self) {
        let mut first: HashMap<(Option<Obj>, &'static str, &str), Obj> = HashMap::new();
        let mut dups = Vec::new();
        for_each_named(self.cfg, |o, name| {
            if name.is_empty() {
                return;
            }
            // Interfaces are scoped to their SE, everything else is global per kind.
            let (scope, noun) = match o {
                Obj::Interface(g, s, _) => (Some(Obj::Se(g, s)), "interface"),
                other => (None, kind_of(other).map_or("object", Kind::noun)),
            };
            match first.get(&(scope, noun, name)) {
                Some(f) => dups.push((o, format!("duplicate {noun} name `{name}` (first defined at {})", f.path()))),
                None => {
                    first.insert((scope, noun, name), o);
                }
            }
        });
        for (o, msg) in dups {
            self.error(o.field("name"), msg);
        }
    }

    /// Every name reference resolves; adds the reference edges to the graph.
    fn rule_references(&mut self) {
        let cfg = self.cfg;
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                let o = Obj::Se(g, s);
                self.reference(o, Rel::Device, Kind::Device, &se.device, o.field("device"));
                for (k, itf) in se.interfaces.iter().enumerate() {
                    let o = Obj::Interface(g, s, k);
                    self.reference(o, Rel::Network, Kind::Network, &itf.network, o.field("network"));
                }
            }
        }
        for (p, pool) in cfg.pools.iter().enumerate() {
            let o = Obj::Pool(p);
            self.reference(o, Rel::Tenant, Kind::Tenant, &pool.tenant, o.field("tenant"));
        }
        for (v, vs) in cfg.virtual_services.iter().enumerate() {
            let o = Obj::Vs(v);
            self.reference(o, Rel::Tenant, Kind::Tenant, &vs.tenant, o.field("tenant"));
            self.reference(o, Rel::SeGroup, Kind::SeGroup, &vs.se_group, o.field("se_group"));
            self.reference(o, Rel::Pool, Kind::Pool, &vs.pool, o.field("pool"));
            if let Some(prof) = &vs.traffic_clone_profile {
                self.reference(o, Rel::Profile, Kind::Profile, prof, o.field("traffic_clone_profile"));
            }
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            let o = Obj::Profile(t);
            self.reference(o, Rel::Tenant, Kind::Tenant, &prof.tenant, o.field("tenant"));
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                let o = Obj::CloneServer(t, c);
                self.reference(o, Rel::Network, Kind::Network, &cs.network, o.field("network"));
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
                if let Err(e) = parse_ip(&srv.ip) {
                    self.error(Obj::PoolServer(p, k).field("ip"), e);
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
                if let Err(e) = cs.subnet.parse::<Prefix>() {
                    self.error(Obj::CloneServer(t, c).field("subnet"), e);
                }
                if let Err(e) = parse_ip(&cs.ip) {
                    self.error(Obj::CloneServer(t, c).field("ip"), e);
                }
            }
        }
    }

    /// NAT binding endpoints are `ip:port`.
    fn rule_nat_endpoints(&mut self) {
        for (i, b) in self.cfg.nat_bindings.iter().enumerate() {
            for (field, value) in [("se", &b.se), ("client", &b.client)] {
                if let Err(e) = parse_endpoint(value) {
                    self.error(Obj::NatBinding(i).field(field), e);
                }
            }
        }
    }

    /// Device addresses are `host:port`; no two devices share address and id.
    fn rule_device_addresses(&mut self) {
        let mut seen: HashMap<(String, u16, u64), usize> = HashMap::new();
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
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                let o = Obj::CloneServer(t, c);
                let Ok(stated) = cs.subnet.parse::<Prefix>() else { continue };
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
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                let (Ok(ip), Ok(subnet)) = (parse_ip(&cs.ip), cs.subnet.parse::<Prefix>()) else { continue };
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
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            let users = self.sources(Obj::Profile(t), Rel::Profile);
            for c in 0..prof.clone_servers.len() {
                let cs = Obj::CloneServer(t, c);
                let Some(net) = self.follow(cs, Rel::Network) else { continue };
                for &vs in &users {
                    let Obj::Vs(v) = vs else { continue };
                    let Some(group) = self.follow(vs, Rel::SeGroup) else { continue };
                    let missing: Vec<&str> = self
                        .vs_ses(v)
                        .into_iter()
                        .filter(|&se| self.se_networks_known(se))
                        .filter(|&se| {
                            !self.interfaces(se).into_iter().any(|i| self.follow(i, Rel::Network) == Some(net))
                        })
                        .map(|se| self.se_name(se))
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
        let mut used: HashMap<(Obj, u32), Obj> = HashMap::new();
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
            let mut seen: HashMap<u32, usize> = HashMap::new();
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
            let mut seen = HashMap::new();
            for (k, svc) in vs.services.iter().enumerate() {
                let path = format!("{}[{k}]", o.field("services"));
                if svc.port == 0 {
                    self.error(format!("{path}.port"), "port 0 is not a usable L4 port");
                } else if let Some(first) = seen.insert((svc.port, svc.protocol), k) {
                    self.error(
                        path,
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
        let mut by_vip: HashMap<IpAddr, Vec<usize>> = HashMap::new();
        for (v, vs) in cfg.virtual_services.iter().enumerate() {
            if let Ok(ip) = parse_ip(&vs.vip) {
                by_vip.entry(ip).or_default().push(v);
            }
        }
        for v in 0..cfg.virtual_services.len() {
            let Some(pool) = self.follow(Obj::Vs(v), Rel::Pool) else { continue };
            for srv in self.targets(pool, Rel::Has) {
                let Obj::PoolServer(p, k) = srv else { continue };
                let Ok(ip) = parse_ip(&cfg.pools[p].servers[k].ip) else { continue };
                for &w in by_vip.get(&ip).map(Vec::as_slice).unwrap_or_default() {
                    self.add_edge(Obj::Vs(v), Obj::Vs(w), Rel::Tandem);
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
        for (v, vs) in cfg.virtual_services.iter().enumerate() {
            if self.follow(Obj::Vs(v), Rel::Profile).is_none() {
                continue;
            }
            let (Some(group), Some(pool)) = (self.follow(Obj::Vs(v), Rel::SeGroup), self.follow(Obj::Vs(v), Rel::Pool))
            else {
                continue;
            };
            let ses = self.vs_ses(v);
            if ses.is_empty() || !ses.iter().all(|&se| self.se_networks_known(se)) {
                continue;
            }
            let nets: BTreeSet<Obj> =
                ses.iter().flat_map(|&se| self.interfaces(se)).filter_map(|i| self.follow(i, Rel::Network)).collect();
            let subnets: Vec<Prefix> = nets.iter().filter_map(|&n| self.subnet(n)).collect();
            for srv in self.targets(pool, Rel::Has) {
                let Obj::PoolServer(p, k) = srv else { continue };
                let Ok(ip) = parse_ip(&cfg.pools[p].servers[k].ip) else { continue };
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
                self.error(srv.field("ip"), msg);
            }
        }
    }

    // ----- rules: NAT bindings -----

    /// A binding's SE side and client are of one address family.
    fn rule_nat_families(&mut self) {
        for (i, b) in self.cfg.nat_bindings.iter().enumerate() {
            let (Ok(se), Ok(client)) = (parse_endpoint(&b.se), parse_endpoint(&b.client)) else { continue };
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
        let mut owners: HashMap<IpAddr, Vec<Obj>> = HashMap::new();
        let ifaces: Vec<Obj> = self.graph.node_weights().copied().filter(|o| matches!(o, Obj::Interface(..))).collect();
        for itf in ifaces {
            if let Some(a) = self.if_addr(itf) {
                owners.entry(a.addr).or_default().push(itf);
            }
        }
        for (i, b) in self.cfg.nat_bindings.iter().enumerate() {
            let Ok(se) = parse_endpoint(&b.se) else { continue };
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
        let mut seen: HashMap<(SocketAddr, Protocol), usize> = HashMap::new();
        for (i, b) in self.cfg.nat_bindings.iter().enumerate() {
            let Ok(se) = parse_endpoint(&b.se) else { continue };
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
        for i in 0..cfg.nat_bindings.len() {
            let ifaces = self.targets(Obj::NatBinding(i), Rel::Binds);
            if ifaces.is_empty() {
                continue;
            }
            let ses: BTreeSet<Obj> = ifaces.iter().filter_map(|&itf| self.parent(itf)).collect();
            let used = ses.iter().any(|&se| {
                let Some(group) = self.parent(se) else { return false };
                self.sources(group, Rel::SeGroup).into_iter().any(|vs| {
                    matches!(self.follow(vs, Rel::Profile), Some(Obj::Profile(t))
                        if cfg.traffic_clone_profiles[t].preserve_client_ip)
                })
            });
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
