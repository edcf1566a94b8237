//! The resolved model of a config: every name reference turned into an index and
//! every address-like value parsed, once, so that validation and intent read typed
//! values instead of re-parsing strings and re-resolving names.
//!
//! [`Model::resolve`] never fails: a value that does not parse keeps its parser's
//! message (`Err`), a reference that names nothing is `None`, and it is up to the
//! reader to report those (validation reports each once, by its value or reference
//! rule; intent reports what it cannot compile). Lists of children are flattened in
//! config order (all SEs of all groups, all interfaces of all SEs, ...), each parent
//! holding the range of its children.
//!
//! Names resolve to the **first** object of their kind with that name (later ones
//! are duplicates, recorded in [`Model::duplicates`]); the `admin` tenant exists
//! implicitly unless a tenant is named so.

use std::collections::hash_map::Entry;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use crate::config::{Config, EncapKind, DEFAULT_TENANT};
use crate::filter::{FieldError, Filter, SampleMode};
use crate::limits::vlan_in_range;
use crate::net::{parse_endpoint, FastHashMap, IfAddr, Mac, Prefix};

/// Kinds of named objects, each with its own name space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `tenants` (plus the implicit `admin`).
    Tenant,
    /// `networks`.
    Network,
    /// `devices`.
    Device,
    /// `se_groups`.
    SeGroup,
    /// Service engines, one name space across all SE groups.
    Se,
    /// `pools`.
    Pool,
    /// `virtual_services`.
    Vs,
    /// `traffic_clone_profiles`.
    Profile,
}

/// The number of [`Kind`]s (name spaces).
const KINDS: usize = 8;

impl Kind {
    /// What an object of this kind is called in messages.
    pub fn noun(self) -> &'static str {
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

/// A tenant an object belongs to: one of `tenants`, or the implicit `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TenantRef {
    /// `tenants[i]`.
    Named(usize),
    /// The implicit `admin` tenant (no tenant is named `admin`).
    Admin,
}

/// The name-map entry of the implicit `admin` tenant.
const ADMIN: u32 = u32::MAX;

/// A network: its subnet, parsed, and its VLAN when usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedNetwork {
    /// The subnet, or why `subnet` is not a prefix.
    pub subnet: Result<Prefix, String>,
    /// The VLAN tag, when `vlan` is given and in range (see [`crate::limits`]).
    pub vlan: Option<u16>,
    /// The gateway's address and MAC (each, or why it does not parse), if one is given.
    pub gateway: Option<(Result<IpAddr, String>, Result<Mac, String>)>,
    /// The MTU (`mtu`, default [`crate::limits::DEFAULT_MTU`]).
    pub mtu: u32,
}

impl ResolvedNetwork {
    /// The gateway, when given and both its values parse.
    pub fn gateway(&self) -> Option<(IpAddr, Mac)> {
        match &self.gateway {
            Some((Ok(ip), Ok(mac))) => Some((*ip, *mac)),
            _ => None,
        }
    }
}

/// An SE group: where its SEs are in [`Model::ses`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedGroup {
    /// Its SEs, as indices into [`Model::ses`].
    pub ses: Range<usize>,
}

/// A service engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSe {
    /// Its SE group (index into `se_groups`).
    pub group: usize,
    /// Its position in the group's `service_engines`.
    pub index: usize,
    /// The device it names, if that resolves.
    pub device: Option<usize>,
    /// Its interfaces, as indices into [`Model::interfaces`].
    pub interfaces: Range<usize>,
}

/// An SE interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedInterface {
    /// Its address, or why `ip` is not `address/length`.
    pub addr: Result<IfAddr, String>,
    /// Its MAC, or why `mac` is not one.
    pub mac: Result<Mac, String>,
    /// The network it names, if that resolves.
    pub network: Option<usize>,
}

/// A pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPool {
    /// Its tenant, if the name resolves.
    pub tenant: Option<TenantRef>,
    /// Its members, as indices into [`Model::pool_servers`].
    pub servers: Range<usize>,
}

/// A virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedVs {
    /// Its VIP, or why `vip` is not an address.
    pub vip: Result<IpAddr, String>,
    /// Its tenant, if the name resolves.
    pub tenant: Option<TenantRef>,
    /// Its SE group, if the name resolves.
    pub se_group: Option<usize>,
    /// Its pool, if the name resolves.
    pub pool: Option<usize>,
    /// Its clone profile, if it names one and the name resolves.
    pub profile: Option<usize>,
}

/// A traffic clone profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedProfile {
    /// Its tenant, if the name resolves.
    pub tenant: Option<TenantRef>,
    /// Its clone servers, as indices into [`Model::clone_servers`].
    pub clone_servers: Range<usize>,
    /// Its filter rules, each parsed or the problems of its fields.
    pub filters: Vec<Result<Filter, Vec<FieldError>>>,
    /// Its sampling, or the problem with `sample`.
    pub sample: Result<SampleMode, FieldError>,
}

/// A clone server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedCloneServer {
    /// The network it names, if that resolves.
    pub network: Option<usize>,
    /// Its stated subnet, or why `subnet` is not a prefix.
    pub subnet: Result<Prefix, String>,
    /// Its address, or why `ip` is not one.
    pub ip: Result<IpAddr, String>,
    /// Its MAC, or why `mac` is not one.
    pub mac: Result<Mac, String>,
    /// Its tunnel, for an encapsulated clone server.
    pub encap: Option<ResolvedEncap>,
}

/// A clone server's tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEncap {
    /// Tunnel type.
    pub kind: EncapKind,
    /// The remote collector's address, or why `remote` is not one.
    pub remote: Result<IpAddr, String>,
    /// The VNI, GRE key or ERSPAN session id (0 when absent).
    pub id: u64,
    /// Whether a GRE key is given.
    pub key_present: bool,
}

/// A NAT binding's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedNat {
    /// The SE side, or why `se` is not `ip:port`.
    pub se: Result<SocketAddr, String>,
    /// The client, or why `client` is not `ip:port`.
    pub client: Result<SocketAddr, String>,
}

/// A config with names resolved and values parsed (see the module docs). Lists are
/// in config order; index `i` of a list is object `i` of the config list of the
/// same name.
#[derive(Debug, Clone)]
pub struct Model<'c> {
    /// The config this model resolves.
    pub config: &'c Config,
    /// Per network.
    pub networks: Vec<ResolvedNetwork>,
    /// Per SE group.
    pub groups: Vec<ResolvedGroup>,
    /// Per SE, all groups flattened.
    pub ses: Vec<ResolvedSe>,
    /// Per SE interface, all SEs flattened.
    pub interfaces: Vec<ResolvedInterface>,
    /// Per pool.
    pub pools: Vec<ResolvedPool>,
    /// Per pool member's address (or why it is not one), all pools flattened.
    pub pool_servers: Vec<Result<IpAddr, String>>,
    /// Per virtual service.
    pub virtual_services: Vec<ResolvedVs>,
    /// Per clone profile.
    pub profiles: Vec<ResolvedProfile>,
    /// Per clone server, all profiles flattened.
    pub clone_servers: Vec<ResolvedCloneServer>,
    /// Per NAT binding.
    pub nat_bindings: Vec<ResolvedNat>,
    /// (kind, duplicate, first) for every object named like an earlier object of
    /// its kind, in config order (SE indices are flattened). Interfaces, whose
    /// names are per SE, are not included.
    pub duplicates: Vec<(Kind, usize, usize)>,
    /// Per kind: name -> index of the first object so named (tenants: [`ADMIN`]
    /// for the implicit `admin`).
    names: [FastHashMap<&'c str, u32>; KINDS],
}

impl<'c> Model<'c> {
    /// Resolves every name and parses every value of `cfg` (see the module docs).
    pub fn resolve(cfg: &'c Config) -> Model<'c> {
        let se_count: usize = cfg.se_groups.iter().map(|g| g.service_engines.len()).sum();
        let mut m = Model {
            config: cfg,
            networks: Vec::with_capacity(cfg.networks.len()),
            groups: Vec::with_capacity(cfg.se_groups.len()),
            ses: Vec::with_capacity(se_count),
            interfaces: Vec::new(),
            pools: Vec::with_capacity(cfg.pools.len()),
            pool_servers: Vec::with_capacity(cfg.pools.iter().map(|p| p.servers.len()).sum()),
            virtual_services: Vec::with_capacity(cfg.virtual_services.len()),
            profiles: Vec::with_capacity(cfg.traffic_clone_profiles.len()),
            clone_servers: Vec::with_capacity(cfg.traffic_clone_profiles.iter().map(|p| p.clone_servers.len()).sum()),
            nat_bindings: Vec::with_capacity(cfg.nat_bindings.len()),
            duplicates: Vec::new(),
            names: Default::default(),
        };
        m.register_names();
        m.resolve_objects();
        m
    }

    /// Fills the name maps (first object of each name wins) and the duplicates.
    fn register_names(&mut self) {
        let cfg = self.config;
        self.names[Kind::Pool as usize].reserve(cfg.pools.len());
        self.names[Kind::Vs as usize].reserve(cfg.virtual_services.len());
        self.names[Kind::Profile as usize].reserve(cfg.traffic_clone_profiles.len());
        for (i, t) in cfg.tenants.iter().enumerate() {
            self.register(Kind::Tenant, &t.name, i);
        }
        self.names[Kind::Tenant as usize].entry(DEFAULT_TENANT).or_insert(ADMIN);
        for (i, n) in cfg.networks.iter().enumerate() {
            self.register(Kind::Network, &n.name, i);
        }
        for (i, d) in cfg.devices.iter().enumerate() {
            self.register(Kind::Device, &d.name, i);
        }
        let mut se = 0;
        for (g, group) in cfg.se_groups.iter().enumerate() {
            self.register(Kind::SeGroup, &group.name, g);
            for engine in &group.service_engines {
                self.register(Kind::Se, &engine.name, se);
                se += 1;
            }
        }
        for (i, p) in cfg.pools.iter().enumerate() {
            self.register(Kind::Pool, &p.name, i);
        }
        for (i, v) in cfg.virtual_services.iter().enumerate() {
            self.register(Kind::Vs, &v.name, i);
        }
        for (i, t) in cfg.traffic_clone_profiles.iter().enumerate() {
            self.register(Kind::Profile, &t.name, i);
        }
    }

    /// Registers object `i` of `kind` as `name`, or records it as a duplicate.
    fn register(&mut self, kind: Kind, name: &'c str, i: usize) {
        if name.is_empty() {
            return;
        }
        match self.names[kind as usize].entry(name) {
            Entry::Occupied(first) => self.duplicates.push((kind, i, *first.get() as usize)),
            Entry::Vacant(slot) => {
                slot.insert(i as u32);
            }
        }
    }

    /// Parses every value and resolves every reference, object by object.
    fn resolve_objects(&mut self) {
        let cfg = self.config;
        for n in &cfg.networks {
            let vlan = n.vlan.filter(|&v| vlan_in_range(v)).map(|v| v as u16);
            let gateway = n.gateway.as_ref().map(|g| (parse_ip(&g.ip), g.mac.parse()));
            let mtu = n.mtu.unwrap_or(crate::limits::DEFAULT_MTU);
            self.networks.push(ResolvedNetwork { subnet: n.subnet.parse(), vlan, gateway, mtu });
        }
        for (g, group) in cfg.se_groups.iter().enumerate() {
            let first = self.ses.len();
            for (s, se) in group.service_engines.iter().enumerate() {
                let start = self.interfaces.len();
                for itf in &se.interfaces {
                    let network = self.lookup(Kind::Network, &itf.network);
                    self.interfaces.push(ResolvedInterface { addr: itf.ip.parse(), mac: itf.mac.parse(), network });
                }
                let device = self.lookup(Kind::Device, &se.device);
                self.ses.push(ResolvedSe { group: g, index: s, device, interfaces: start..self.interfaces.len() });
            }
            self.groups.push(ResolvedGroup { ses: first..self.ses.len() });
        }
        for pool in &cfg.pools {
            let start = self.pool_servers.len();
            self.pool_servers.extend(pool.servers.iter().map(|s| parse_ip(&s.ip)));
            let tenant = self.tenant(&pool.tenant);
            self.pools.push(ResolvedPool { tenant, servers: start..self.pool_servers.len() });
        }
        for vs in &cfg.virtual_services {
            let resolved = ResolvedVs {
                vip: parse_ip(&vs.vip),
                tenant: self.tenant(&vs.tenant),
                se_group: self.lookup(Kind::SeGroup, &vs.se_group),
                pool: self.lookup(Kind::Pool, &vs.pool),
                profile: vs.traffic_clone_profile.as_deref().and_then(|p| self.lookup(Kind::Profile, p)),
            };
            self.virtual_services.push(resolved);
        }
        for prof in &cfg.traffic_clone_profiles {
            let start = self.clone_servers.len();
            for cs in &prof.clone_servers {
                let network = self.lookup(Kind::Network, &cs.network);
                let encap = cs.encap.as_ref().map(|e| ResolvedEncap {
                    kind: e.kind,
                    remote: parse_ip(&e.remote),
                    id: e.vni.or(e.key).or(e.session).unwrap_or(0),
                    key_present: e.key.is_some(),
                });
                self.clone_servers.push(ResolvedCloneServer {
                    network,
                    subnet: cs.subnet.parse(),
                    ip: parse_ip(&cs.ip),
                    mac: cs.mac.parse(),
                    encap,
                });
            }
            let tenant = self.tenant(&prof.tenant);
            self.profiles.push(ResolvedProfile {
                tenant,
                clone_servers: start..self.clone_servers.len(),
                filters: prof.filters.iter().map(Filter::parse).collect(),
                sample: SampleMode::parse(prof.sample.as_ref()),
            });
        }
        for b in &cfg.nat_bindings {
            self.nat_bindings.push(ResolvedNat { se: parse_endpoint(&b.se), client: parse_endpoint(&b.client) });
        }
    }

    /// The index of the first object of `kind` named `name`.
    pub fn lookup(&self, kind: Kind, name: &str) -> Option<usize> {
        debug_assert!(kind != Kind::Tenant, "tenants resolve through Model::tenant");
        self.names[kind as usize].get(name).map(|&i| i as usize)
    }

    /// The tenant named `name`.
    pub fn tenant(&self, name: &str) -> Option<TenantRef> {
        self.names[Kind::Tenant as usize].get(name).map(|&i| match i {
            ADMIN => TenantRef::Admin,
            i => TenantRef::Named(i as usize),
        })
    }

    /// Every name of `kind` (the implicit `admin` among tenants), in no order.
    pub fn names(&self, kind: Kind) -> impl Iterator<Item = &'c str> + '_ {
        self.names[kind as usize].keys().copied()
    }

    /// Whether the implicit `admin` tenant exists (no tenant is named `admin`).
    pub fn has_implicit_admin(&self) -> bool {
        self.names[Kind::Tenant as usize].get(DEFAULT_TENANT) == Some(&ADMIN)
    }

    /// The subnet of network `i`, if it parses.
    pub fn subnet(&self, i: usize) -> Option<Prefix> {
        self.networks[i].subnet.as_ref().ok().copied()
    }

    /// The address of interface `i` (flattened), if it parses.
    pub fn if_addr(&self, i: usize) -> Option<IfAddr> {
        self.interfaces[i].addr.as_ref().ok().copied()
    }

    /// The address of pool member `i` (flattened), if it parses.
    pub fn pool_server_ip(&self, i: usize) -> Option<IpAddr> {
        self.pool_servers[i].as_ref().ok().copied()
    }

    /// The VIP of virtual service `i`, if it parses.
    pub fn vip(&self, i: usize) -> Option<IpAddr> {
        self.virtual_services[i].vip.as_ref().ok().copied()
    }

    /// The flattened index of SE `s` of group `g`.
    pub fn se_index(&self, g: usize, s: usize) -> usize {
        self.groups[g].ses.start + s
    }

    /// The flattened index of interface `k` of SE `s` of group `g`.
    pub fn interface_index(&self, g: usize, s: usize, k: usize) -> usize {
        self.ses[self.se_index(g, s)].interfaces.start + k
    }

    /// The flattened index of member `k` of pool `p`.
    pub fn pool_server_index(&self, p: usize, k: usize) -> usize {
        self.pools[p].servers.start + k
    }

    /// The flattened index of clone server `c` of profile `t`.
    pub fn clone_server_index(&self, t: usize, c: usize) -> usize {
        self.profiles[t].clone_servers.start + c
    }
}

/// Parses an IP address with a message in the style of [`crate::net`].
pub fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("`{s}` is not an IP address"))
}
