//! The validator core: the objects of a config as nodes of a petgraph graph, with
//! edges for containment and for the references the model resolved, and the
//! look-ups the rules share (following edges, names, parsed values).

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::config::{Config, Protocol, DEFAULT_TENANT};
use crate::diag::Diagnostic;
use crate::model::{Kind, Model, TenantRef};
use crate::net::{fast_map, FastHashMap, IfAddr, Prefix};
use std::net::IpAddr;

/// One object of the config, by its position(s) in the config lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Obj {
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
    pub(super) fn path(self) -> String {
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
    pub(super) fn field(self, name: &str) -> String {
        format!("{}.{name}", self.path())
    }
}

/// Edge labels: containment, or the reference field that names the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rel {
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

/// Where each object's node is in the graph. Nodes are added in config order and
/// the children of an object right after it, so an index is a table look-up (and
/// an addition), never a hash.
#[derive(Debug, Default)]
pub(super) struct NodeIx {
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
    /// Per pool: its node (pool servers are not nodes).
    pools: Vec<usize>,
    vss: usize,
    /// Per profile: its node; its clone servers follow it.
    profiles: Vec<usize>,
    nat: usize,
}

impl NodeIx {
    pub(super) fn node(&self, o: Obj) -> NodeIndex {
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
    pub(super) fn se(&self, g: usize, s: usize) -> usize {
        self.group_first_se[g] + s
    }
}

/// What the connectivity rules need to know about the SEs, derived from the graph
/// once its reference edges are in ([`Validator::topology`]).
#[derive(Debug, Default)]
pub(super) struct Topology {
    /// Per SE group: its SEs, in config order.
    pub(super) group_ses: Vec<Vec<Obj>>,
    /// Per SE (flattened): the network of each interface, in interface order, when
    /// every interface has a known network with a valid subnet (`None` otherwise:
    /// see [`Validator::se_networks`]).
    pub(super) se_nets: Vec<Option<Vec<Obj>>>,
}

/// The state of one validation run: the model being checked, its object graph and
/// the diagnostics found so far. The rules are its methods, one file per group.
pub(super) struct Validator<'m, 'a> {
    pub(super) cfg: &'a Config,
    pub(super) model: &'m Model<'a>,
    pub(super) graph: DiGraph<Obj, Rel>,
    pub(super) ix: NodeIx,
    /// (duplicate, first) for every interface named like an earlier interface of
    /// its SE, found while adding the objects.
    pub(super) duplicate_interfaces: Vec<(Obj, Obj)>,
    pub(super) topo: Topology,
    pub(super) diags: Vec<Diagnostic>,
}

impl<'m, 'a> Validator<'m, 'a> {
    pub(super) fn new(model: &'m Model<'a>) -> Self {
        let mut v = Validator {
            cfg: model.config,
            model,
            graph: DiGraph::new(),
            ix: NodeIx::default(),
            duplicate_interfaces: Vec::new(),
            topo: Topology::default(),
            diags: Vec::new(),
        };
        v.add_objects();
        v
    }

    // ----- objects of the model -----

    /// The object of a resolved tenant reference.
    pub(super) fn tenant_obj(t: TenantRef) -> Obj {
        match t {
            TenantRef::Named(i) => Obj::Tenant(Some(i)),
            TenantRef::Admin => Obj::Tenant(None),
        }
    }

    /// The object of an SE by its flattened index.
    pub(super) fn se_obj(&self, i: usize) -> Obj {
        let se = &self.model.ses[i];
        Obj::Se(se.group, se.index)
    }

    // ----- diagnostics -----

    pub(super) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(path, message));
    }

    pub(super) fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(path, message));
    }

    // ----- graph -----

    pub(super) fn add_node(&mut self, o: Obj) -> usize {
        self.graph.add_node(o).index()
    }

    /// Adds a `rel` edge unless the same edge exists already (a pool may list one
    /// member twice, say).
    pub(super) fn add_edge(&mut self, from: Obj, to: Obj, rel: Rel) {
        self.add_edge_between(self.ix.node(from), self.ix.node(to), rel);
    }

    /// [`Validator::add_edge`] by node.
    pub(super) fn add_edge_between(&mut self, a: NodeIndex, b: NodeIndex, rel: Rel) {
        if rel == Rel::Has || !self.graph.edges_connecting(a, b).any(|e| *e.weight() == rel) {
            self.graph.add_edge(a, b, rel);
        }
    }

    /// Records duplicate interface names within the SE `(g, s)`.
    pub(super) fn interface_names(&mut self, g: usize, s: usize) {
        let itfs = &self.cfg.se_groups[g].service_engines[s].interfaces;
        if itfs.len() <= 16 {
            for (k, itf) in itfs.iter().enumerate() {
                if itf.name.is_empty() {
                    continue;
                }
                if let Some(f) = itfs[..k].iter().position(|i| i.name == itf.name) {
                    self.duplicate_interfaces.push((Obj::Interface(g, s, k), Obj::Interface(g, s, f)));
                }
            }
        } else {
            let mut first: FastHashMap<&str, usize> = fast_map(itfs.len());
            for (k, itf) in itfs.iter().enumerate() {
                if itf.name.is_empty() {
                    continue;
                }
                if let Some(&f) = first.get(itf.name.as_str()) {
                    self.duplicate_interfaces.push((Obj::Interface(g, s, k), Obj::Interface(g, s, f)));
                } else {
                    first.insert(&itf.name, k);
                }
            }
        }
    }

    /// The name of a named object.
    pub(super) fn name_of(&self, o: Obj) -> &'a str {
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

    /// Adds every object as a node with its containment edges, and records
    /// duplicate interface names (other names were resolved by the model).
    pub(super) fn add_objects(&mut self) {
        let cfg = self.cfg;
        let se_count: usize = cfg.se_groups.iter().map(|g| g.service_engines.len()).sum();
        let itf_count = self.model.interfaces.len();
        let cs_count = self.model.clone_servers.len();
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
        self.ix.profiles.reserve(cfg.traffic_clone_profiles.len());

        self.ix.tenants = self.graph.node_count();
        for i in 0..cfg.tenants.len() {
            self.add_node(Obj::Tenant(Some(i)));
        }
        if self.model.has_implicit_admin() {
            let admin = self.add_node(Obj::Tenant(None));
            self.ix.admin = Some(admin);
        }
        self.ix.networks = self.graph.node_count();
        for i in 0..cfg.networks.len() {
            self.add_node(Obj::Network(i));
        }
        self.ix.devices = self.graph.node_count();
        for i in 0..cfg.devices.len() {
            self.add_node(Obj::Device(i));
        }
        for (g, group) in cfg.se_groups.iter().enumerate() {
            let gn = self.add_node(Obj::SeGroup(g));
            self.ix.groups.push(gn);
            self.ix.group_first_se.push(self.ix.ses.len());
            for (s, se) in group.service_engines.iter().enumerate() {
                let sn = self.add_node(Obj::Se(g, s));
                self.ix.ses.push(sn);
                self.add_edge(Obj::SeGroup(g), Obj::Se(g, s), Rel::Has);
                for k in 0..se.interfaces.len() {
                    self.add_node(Obj::Interface(g, s, k));
                    self.add_edge(Obj::Se(g, s), Obj::Interface(g, s, k), Rel::Has);
                }
                self.interface_names(g, s);
            }
        }
        for p in 0..cfg.pools.len() {
            let pn = self.add_node(Obj::Pool(p));
            self.ix.pools.push(pn);
        }
        self.ix.vss = self.graph.node_count();
        for v in 0..cfg.virtual_services.len() {
            self.add_node(Obj::Vs(v));
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            let tn = self.add_node(Obj::Profile(t));
            self.ix.profiles.push(tn);
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
    pub(super) fn topology(&mut self) {
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
    pub(super) fn follow(&self, from: Obj, rel: Rel) -> Option<Obj> {
        self.graph
            .edges_directed(self.ix.node(from), Direction::Outgoing)
            .find(|e| *e.weight() == rel)
            .map(|e| self.graph[e.target()])
    }

    /// All targets of `from`'s `rel` edges, in config order.
    pub(super) fn targets(&self, from: Obj, rel: Rel) -> Vec<Obj> {
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
    pub(super) fn sources(&self, to: Obj, rel: Rel) -> Vec<Obj> {
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
    pub(super) fn parent(&self, o: Obj) -> Option<Obj> {
        self.sources(o, Rel::Has).into_iter().next()
    }

    /// The SEs of the SE group a VS is placed on (empty if the group is unknown).
    pub(super) fn vs_ses(&self, v: usize) -> &[Obj] {
        match self.follow(Obj::Vs(v), Rel::SeGroup) {
            Some(Obj::SeGroup(g)) => &self.topo.group_ses[g],
            _ => &[],
        }
    }

    /// The interfaces of an SE.
    pub(super) fn interfaces(&self, se: Obj) -> Vec<Obj> {
        self.targets(se, Rel::Has)
    }

    /// The network of every interface of `se`, in order, if every interface has a
    /// known network with a valid subnet. Rules about connectivity skip SEs for
    /// which this is `None` (the broken reference or subnet is reported already,
    /// and may be the very one missing).
    pub(super) fn se_networks(&self, se: Obj) -> Option<&[Obj]> {
        match se {
            Obj::Se(g, s) => self.topo.se_nets[self.ix.se(g, s)].as_deref(),
            _ => None,
        }
    }

    /// Adds the `rel` edge from `from` to `to`, the object a `kind` reference
    /// `name` resolved to in the model, or reports the reference as empty or
    /// dangling at `path()`.
    pub(super) fn reference(
        &mut self,
        from: Obj,
        rel: Rel,
        kind: Kind,
        name: &str,
        to: Option<Obj>,
        path: impl FnOnce() -> String,
    ) {
        if name.is_empty() {
            self.error(path(), format!("is empty; name a {}", kind.noun()));
            return;
        }
        match to {
            Some(to) => self.add_edge(from, to, rel),
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
    pub(super) fn closest_name(&self, kind: Kind, name: &str) -> Option<&'a str> {
        let limit = (name.chars().count() / 3).max(1);
        self.model.names(kind).map(|n| (edit_distance(name, n), n)).filter(|(d, _)| *d <= limit).min().map(|(_, n)| n)
    }

    // ----- values, parsed once (the value rules report failures) -----

    pub(super) fn network_name(&self, n: Obj) -> &'a str {
        match n {
            Obj::Network(i) => &self.cfg.networks[i].name,
            _ => "?",
        }
    }

    pub(super) fn subnet(&self, n: Obj) -> Option<Prefix> {
        match n {
            Obj::Network(i) => self.model.subnet(i),
            _ => None,
        }
    }

    pub(super) fn if_addr(&self, i: Obj) -> Option<IfAddr> {
        match i {
            Obj::Interface(g, s, k) => self.model.if_addr(self.model.interface_index(g, s, k)),
            _ => None,
        }
    }

    pub(super) fn srv_ip(&self, p: usize, k: usize) -> Option<IpAddr> {
        self.model.pool_server_ip(self.model.pool_server_index(p, k))
    }

    pub(super) fn se_name(&self, se: Obj) -> &'a str {
        match se {
            Obj::Se(g, s) => &self.cfg.se_groups[g].service_engines[s].name,
            _ => "?",
        }
    }

    pub(super) fn group_name(&self, g: Obj) -> &'a str {
        match g {
            Obj::SeGroup(g) => &self.cfg.se_groups[g].name,
            _ => "?",
        }
    }

    pub(super) fn tenant_name(&self, t: Obj) -> &'a str {
        match t {
            Obj::Tenant(Some(i)) => &self.cfg.tenants[i].name,
            _ => DEFAULT_TENANT,
        }
    }
}

/// `SE `a`` / `SEs `a`, `b``.
pub(super) fn ses_phrase(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    if quoted.len() == 1 {
        format!("SE {}", quoted[0])
    } else {
        format!("SEs {}", quoted.join(", "))
    }
}

/// `tcp` / `udp`.
pub(super) fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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
    use super::edit_distance;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("web", "web"), 0);
        assert_eq!(edit_distance("webx", "web"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
