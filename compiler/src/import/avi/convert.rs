//! Objects + site file to a p4clone [`Config`]: every reference resolved, every
//! field p4clone cannot express reported on its object (an error, or a warning
//! where a safe reading exists).

use std::collections::{BTreeMap, BTreeSet};

use super::fields::{self, Object};
use super::objects::{ImportError, Kind};
use super::references::{Catalog, Entry, Scope};
use super::shapes::{self, InputFile};
use super::site::Site;
use crate::config::{
    Config, Network, Pool, PoolServer, Protocol, SeGroup, Service, Tenant, TrafficCloneProfile, VirtualService,
    DEFAULT_TENANT,
};

/// The default of `Pool.default_server_port` in the API schema.
pub(super) const DEFAULT_SERVER_PORT: u64 = 80;

/// An imported config, where each object came from, and the warnings.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The p4clone config.
    pub config: Config,
    /// Per (config section, object name): where it came from (`VirtualService "vs" uuid ... in export.json`).
    pub origins: BTreeMap<(String, String), String>,
    /// Things read in a safe but lossy way, or left out, one per object.
    pub warnings: Vec<ImportError>,
}

impl Imported {
    /// Where the object at a config path (`traffic_clone_profiles[0].clone_servers[1].ip`,
    /// as validation names it) came from, when it came from the inputs.
    pub fn origin_of_path(&self, path: &str) -> Option<&str> {
        let (section, rest) = path.split_once('[')?;
        let index: usize = rest.split_once(']')?.0.parse().ok()?;
        let c = &self.config;
        let name = match section {
            "tenants" => &c.tenants.get(index)?.name,
            "networks" => &c.networks.get(index)?.name,
            "se_groups" => &c.se_groups.get(index)?.name,
            "pools" => &c.pools.get(index)?.name,
            "virtual_services" => &c.virtual_services.get(index)?.name,
            "traffic_clone_profiles" => &c.traffic_clone_profiles.get(index)?.name,
            _ => return None,
        };
        self.origins.get(&(section.to_string(), name.clone())).map(String::as_str)
    }
}

/// Converts `inputs` with `site`; only virtual services of `tenant` when given.
/// On failure, every error found (nothing is partially converted).
pub fn convert(inputs: &[InputFile], site: &Site, tenant: Option<&str>) -> Result<Imported, Vec<ImportError>> {
    let mut objects = Vec::new();
    let mut warnings = Vec::new();
    for input in inputs {
        let (objs, ignored) = shapes::split(input).map_err(|e| vec![e])?;
        if !ignored.is_empty() {
            warnings.push(ImportError::File {
                file: input.name.clone(),
                message: format!("object types p4clone does not use were not read: {}", ignored.join(", ")),
            });
        }
        objects.extend(objs);
    }
    let catalog = Catalog::build(objects)?;
    let mut c = Converter::default_for(&catalog, site);
    c.warnings = warnings;
    c.run(tenant);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    c.finish()
}

pub(super) type Key = (Kind, String, String);

pub(super) fn key(e: &Entry) -> Key {
    (e.id.kind, e.tenant.clone(), e.id.name.clone())
}

fn origin(e: &Entry) -> String {
    // Debug formatting escapes line breaks, so a name cannot end the YAML comment.
    let mut s = format!("{} {:?}", e.id.kind, e.id.name);
    if !e.id.uuid.is_empty() {
        s.push_str(&format!(" uuid {:?}", e.id.uuid));
    }
    if e.tenant != DEFAULT_TENANT && e.id.kind != Kind::Tenant {
        s.push_str(&format!(" tenant {:?}", e.tenant));
    }
    s.push_str(&format!(" from {:?}", e.id.file));
    s
}

/// A virtual service before names are made unique.
struct VsPlan<'a> {
    entry: &'a Entry,
    vip: String,
    services: Vec<Service>,
    se_group: String,
    pool: Key,
    profile: Option<Key>,
}

/// The conversion's state: inputs, problems found, objects converted so far.
pub(super) struct Converter<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) site: &'a Site,
    pub(super) errors: Vec<ImportError>,
    pub(super) warnings: Vec<ImportError>,
    services: Vec<VsPlan<'a>>,
    /// Pools used, with their members.
    pub(super) pools: BTreeMap<Key, (&'a Entry, Vec<PoolServer>)>,
    /// Profiles used.
    pub(super) profiles: BTreeMap<Key, (&'a Entry, TrafficCloneProfile)>,
    /// Networks of the output by name, with the controller object they came from.
    pub(super) networks: BTreeMap<String, (Option<&'a Entry>, Network)>,
}

impl<'a> Converter<'a> {
    fn default_for(catalog: &'a Catalog, site: &'a Site) -> Converter<'a> {
        Converter {
            catalog,
            site,
            errors: Vec::new(),
            warnings: Vec::new(),
            services: Vec::new(),
            pools: BTreeMap::new(),
            profiles: BTreeMap::new(),
            networks: BTreeMap::new(),
        }
    }

    fn run(&mut self, tenant: Option<&str>) {
        self.site_networks();
        let catalog = self.catalog;
        for vs in catalog.of_kind(Kind::VirtualService) {
            if tenant.is_some_and(|t| t != vs.tenant) {
                continue;
            }
            if let Some(plan) = self.virtual_service(vs) {
                self.services.push(plan);
            }
        }
        if tenant.is_some_and(|t| !catalog.of_kind(Kind::VirtualService).any(|vs| vs.tenant == t)) {
            self.errors.push(ImportError::File {
                file: "--tenant".to_string(),
                message: format!("no VirtualService in tenant \"{}\"", tenant.unwrap_or_default()),
            });
        }
    }

    fn virtual_service(&mut self, e: &'a Entry) -> Option<VsPlan<'a>> {
        let before = self.errors.len();
        let b = &e.body;
        let profile = self.reference(e, "traffic_clone_profile_ref", Kind::TrafficCloneProfile, Scope::SameTenant);
        let cloned = profile.is_some();
        // SE group: its SEs come from the site file.
        let se_group = self.reference(e, "se_group_ref", Kind::ServiceEngineGroup, Scope::SharedFromAdmin);
        let se_group = match se_group {
            Some(g) if self.site.se_groups.iter().any(|s| s.name == g.id.name) => Some(g.id.name.clone()),
            Some(g) if cloned => {
                self.errors.push(e.id.field_error(
                    "se_group_ref",
                    format!("the site file has no service engines for ServiceEngineGroup \"{}\"", g.id.name),
                ));
                None
            }
            Some(g) => {
                self.warnings.push(e.id.error(format!(
                    "left out: not cloned, and the site file has no service engines for its ServiceEngineGroup \"{}\"",
                    g.id.name
                )));
                return None;
            }
            None => {
                if self.errors.len() == before {
                    self.errors.push(e.id.field_error("se_group_ref", "missing"));
                }
                None
            }
        };
        // Pool (pool groups cannot be expressed).
        let pool = if fields::get(b, "pool_group_ref").is_some() {
            self.errors.push(e.id.field_error(
                "pool_group_ref",
                "pool groups are not supported: p4clone needs one pool per virtual service (use pool_ref)",
            ));
            None
        } else if fields::get(b, "pool_ref").is_none() {
            self.errors.push(e.id.field_error("pool_ref", "missing: p4clone needs the back-end pool"));
            None
        } else {
            self.reference(e, "pool_ref", Kind::Pool, Scope::SameTenant)
        };
        if let Some(p) = pool {
            self.pool(p);
        }
        if let Some(p) = profile {
            self.profile(p);
        }
        self.informational(e, "cloud_ref", Kind::Cloud);
        self.informational(e, "vrf_context_ref", Kind::VrfContext);
        let vip = self.vip(e);
        let services = self.vs_services(e);
        if self.errors.len() != before {
            return None;
        }
        Some(VsPlan { entry: e, vip: vip?, services, se_group: se_group?, pool: key(pool?), profile: profile.map(key) })
    }

    /// Resolves an optional reference field; errors are recorded.
    pub(super) fn reference(&mut self, e: &'a Entry, field: &str, want: Kind, scope: Scope) -> Option<&'a Entry> {
        let text = match fields::text(&e.body, field) {
            Ok(t) => t?,
            Err(m) => {
                self.errors.push(e.id.field_error(field, m));
                return None;
            }
        };
        match self.catalog.resolve(e, field, &text, want, scope) {
            Ok(target) => Some(target),
            Err(err) => {
                self.errors.push(err);
                None
            }
        }
    }

    /// A reference p4clone does not use (cloud, VRF): checked, a warning when it
    /// cannot be resolved (its objects are often not exported).
    fn informational(&mut self, e: &'a Entry, field: &str, want: Kind) {
        let text = match fields::text(&e.body, field) {
            Ok(Some(t)) => t,
            Ok(None) => return,
            Err(m) => {
                self.errors.push(e.id.field_error(field, m));
                return;
            }
        };
        if let Err(err) = self.catalog.name_of(e, field, &text, want) {
            self.warnings.push(err);
        }
    }

    /// The VIP: from `vsvip_ref`, else the inline `vip[]`; one address.
    fn vip(&mut self, e: &'a Entry) -> Option<String> {
        let (owner, field_prefix) = match fields::get(&e.body, "vsvip_ref") {
            Some(_) => (self.reference(e, "vsvip_ref", Kind::VsVip, Scope::SameTenant)?, "vip"),
            None => (e, "vip"),
        };
        let vips = match fields::objects(&owner.body, "vip") {
            Ok(v) => v,
            Err(m) => {
                self.errors.push(owner.id.field_error("vip", m));
                return None;
            }
        };
        let Some(first) = vips.first() else {
            self.errors.push(owner.id.field_error("vip", "no VIP: p4clone needs the virtual service's address"));
            return None;
        };
        let mut addresses = Vec::new();
        for field in ["ip_address", "ip6_address"] {
            match fields::object(first, field) {
                Ok(Some(a)) => match fields::ip_addr(a) {
                    Ok(ip) => addresses.push(ip),
                    Err((f, m)) => {
                        self.errors.push(owner.id.field_error(format!("{field_prefix}[0].{field}.{f}"), m));
                        return None;
                    }
                },
                Ok(None) => {}
                Err(m) => {
                    self.errors.push(owner.id.field_error(format!("{field_prefix}[0].{field}"), m));
                    return None;
                }
            }
        }
        let Some(ip) = addresses.first() else {
            self.errors.push(owner.id.field_error("vip[0]", "no ip_address or ip6_address"));
            return None;
        };
        if vips.len() > 1 || addresses.len() > 1 {
            self.warnings.push(owner.id.field_error(
                "vip",
                format!("p4clone takes one VIP per virtual service; {ip} is used, the other addresses are not"),
            ));
        }
        Some(ip.to_string())
    }

    fn vs_services(&mut self, e: &'a Entry) -> Vec<Service> {
        let list = match fields::objects(&e.body, "services") {
            Ok(l) => l,
            Err(m) => {
                self.errors.push(e.id.field_error("services", m));
                return Vec::new();
            }
        };
        if list.is_empty() {
            self.errors.push(e.id.field_error("services", "no services: p4clone needs at least one port"));
        }
        let vs_protocol = self.protocol(e, &e.body, "network_profile_ref", Protocol::Tcp);
        let mut out = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let port = match fields::integer(s, "port") {
                Ok(Some(p)) if (1..=65535).contains(&p) => p as u16,
                Ok(Some(p)) => {
                    self.errors
                        .push(e.id.field_error(format!("services[{i}].port"), format!("{p} is not a port (1..65535)")));
                    continue;
                }
                Ok(None) => {
                    self.errors.push(e.id.field_error(format!("services[{i}].port"), "missing"));
                    continue;
                }
                Err(m) => {
                    self.errors.push(e.id.field_error(format!("services[{i}].port"), m));
                    continue;
                }
            };
            match fields::integer(s, "port_range_end") {
                Ok(Some(end)) if end != u64::from(port) && end != 0 => {
                    self.errors.push(e.id.field_error(
                        format!("services[{i}].port_range_end"),
                        format!("port ranges are not supported ({port}-{end}): list each port as its own service"),
                    ));
                    continue;
                }
                Ok(_) => {}
                Err(m) => self.errors.push(e.id.field_error(format!("services[{i}].port_range_end"), m)),
            }
            if let Err(m) = fields::boolean(s, "enable_ssl") {
                self.errors.push(e.id.field_error(format!("services[{i}].enable_ssl"), m));
            }
            let protocol = self.protocol(e, s, "override_network_profile_ref", vs_protocol);
            out.push(Service { port, protocol });
        }
        out
    }

    /// The L4 protocol a network profile reference implies: UDP when its name says
    /// so (`System-UDP-Fast-Path`), TCP otherwise.
    fn protocol(&mut self, e: &'a Entry, obj: &Object, field: &str, default: Protocol) -> Protocol {
        let Ok(Some(text)) = fields::text(obj, field) else { return default };
        match self.catalog.name_of(e, field, &text, Kind::NetworkProfile) {
            Ok(name) if name.to_ascii_uppercase().contains("UDP") => Protocol::Udp,
            Ok(_) => Protocol::Tcp,
            Err(_) => {
                self.warnings.push(e.id.field_error(
                    field,
                    format!("\"{text}\": cannot tell the network profile's protocol (no name); TCP assumed"),
                ));
                default
            }
        }
    }

    /// The config, names made unique, sections sorted; errors found on the way
    /// (networks of the site's interfaces) fail it.
    fn finish(mut self) -> Result<Imported, Vec<ImportError>> {
        let mut origins = BTreeMap::new();
        // Names are unique per kind in p4clone, per tenant in the controller.
        let vs_names = unique_names(self.services.iter().map(|p| key(p.entry)), &mut self.warnings, "VirtualService");
        let pool_names = unique_names(self.pools.keys().cloned(), &mut self.warnings, "Pool");
        let profile_names = unique_names(self.profiles.keys().cloned(), &mut self.warnings, "TrafficCloneProfile");
        let mut config = Config::default();
        let mut tenants = BTreeSet::new();
        tenants.insert(DEFAULT_TENANT.to_string());
        let mut used_groups = BTreeSet::new();
        for plan in &self.services {
            let name = vs_names[&key(plan.entry)].clone();
            origins.insert(("virtual_services".to_string(), name.clone()), origin(plan.entry));
            tenants.insert(plan.entry.tenant.clone());
            used_groups.insert(plan.se_group.clone());
            config.virtual_services.push(VirtualService {
                name,
                tenant: plan.entry.tenant.clone(),
                vip: plan.vip.clone(),
                services: plan.services.clone(),
                se_group: plan.se_group.clone(),
                pool: pool_names[&plan.pool].clone(),
                traffic_clone_profile: plan.profile.as_ref().map(|k| profile_names[k].clone()),
            });
        }
        config.virtual_services.sort_by(|a, b| a.name.cmp(&b.name));
        for (k, (e, servers)) in &self.pools {
            let name = pool_names[k].clone();
            origins.insert(("pools".to_string(), name.clone()), origin(e));
            config.pools.push(Pool { name, tenant: e.tenant.clone(), servers: servers.clone() });
        }
        config.pools.sort_by(|a, b| a.name.cmp(&b.name));
        for (k, (e, profile)) in &self.profiles {
            let name = profile_names[k].clone();
            origins.insert(("traffic_clone_profiles".to_string(), name.clone()), origin(e));
            config.traffic_clone_profiles.push(TrafficCloneProfile { name, ..profile.clone() });
        }
        config.traffic_clone_profiles.sort_by(|a, b| a.name.cmp(&b.name));
        for g in &self.site.se_groups {
            if !used_groups.contains(&g.name) {
                self.warnings.push(ImportError::Site {
                    file: "se_groups".to_string(),
                    message: format!("SE group \"{}\": no imported virtual service uses it; left out", g.name),
                });
                continue;
            }
            if let Some(e) = self.catalog.by_name(Kind::ServiceEngineGroup, DEFAULT_TENANT, &g.name) {
                origins.insert(("se_groups".to_string(), g.name.clone()), origin(e));
            }
            config.se_groups.push(SeGroup { name: g.name.clone(), service_engines: g.service_engines.clone() });
        }
        config.se_groups.sort_by(|a, b| a.name.cmp(&b.name));
        // Networks the SE interfaces sit on.
        let interface_networks: BTreeSet<String> = config
            .se_groups
            .iter()
            .flat_map(|g| &g.service_engines)
            .flat_map(|se| &se.interfaces)
            .map(|i| i.network.clone())
            .collect();
        for name in interface_networks {
            if self.networks.contains_key(&name) {
                continue;
            }
            // An interface address on the network chooses among its subnets.
            let hint = config
                .se_groups
                .iter()
                .flat_map(|g| &g.service_engines)
                .flat_map(|se| &se.interfaces)
                .filter(|i| i.network == name)
                .find_map(|i| i.ip.split('/').next().and_then(|a| a.parse().ok()));
            match self.find_network_by_name(&name) {
                Some(n) => {
                    let _ = self.use_network(n, hint);
                }
                None => self.errors.push(ImportError::Site {
                    file: "se_groups".to_string(),
                    message: format!(
                        "an interface is on network \"{name}\", which neither the inputs nor the site file's `networks` define"
                    ),
                }),
            }
        }
        for (name, (src, net)) in &self.networks {
            if let Some(e) = src {
                origins.insert(("networks".to_string(), name.clone()), origin(e));
            }
            config.networks.push(net.clone());
        }
        config.devices = self.site.devices.clone();
        config.nat_bindings = self.site.nat_bindings.clone();
        for p in &config.pools {
            tenants.insert(p.tenant.clone());
        }
        config.tenants = tenants.into_iter().map(|name| Tenant { name }).collect();
        for t in self.catalog.of_kind(Kind::Tenant) {
            origins.insert(("tenants".to_string(), t.id.name.clone()), origin(t));
        }
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        Ok(Imported { config, origins, warnings: self.warnings })
    }
}

/// Output names: the controller's name, or `TENANT-NAME` outside `admin` when two
/// tenants use one name (p4clone names are unique per kind).
fn unique_names(keys: impl Iterator<Item = Key>, warnings: &mut Vec<ImportError>, noun: &str) -> BTreeMap<Key, String> {
    let keys: Vec<Key> = keys.collect();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, name) in &keys {
        *count.entry(name.as_str()).or_default() += 1;
    }
    let mut out = BTreeMap::new();
    for k in &keys {
        let (_, tenant, name) = k;
        let renamed = if count[name.as_str()] > 1 && tenant != DEFAULT_TENANT {
            let new = format!("{tenant}-{name}");
            warnings.push(ImportError::File {
                file: format!("tenant {tenant}"),
                message: format!("{noun} \"{name}\" is also used in another tenant; imported as \"{new}\""),
            });
            new
        } else {
            name.clone()
        };
        out.insert(k.clone(), renamed);
    }
    out
}
