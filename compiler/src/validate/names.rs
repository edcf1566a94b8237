//! Rules about names and references: names are non-empty and unique, references
//! resolve (adding the reference edges to the graph), and a VS, its pool and its
//! clone profile are in one tenant.

use super::validator::{Obj, Rel, Validator};
use crate::config::Config;
use crate::model::Kind;

impl Validator<'_, '_> {
    /// Every object has a non-empty name.
    pub(super) fn rule_names_non_empty(&mut self) {
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
    /// while resolving the names ([`crate::model::Model::duplicates`]; interfaces:
    /// while adding the objects, [`Validator::add_objects`]).
    pub(super) fn rule_duplicate_names(&mut self) {
        let mut duplicates: Vec<(Obj, Obj)> = Vec::with_capacity(self.model.duplicates.len());
        for &(kind, dup, first) in &self.model.duplicates {
            duplicates.push((self.named_obj(kind, dup), self.named_obj(kind, first)));
        }
        duplicates.append(&mut self.duplicate_interfaces);
        for (o, f) in duplicates {
            let noun = match o {
                Obj::Interface(..) => "interface",
                other => kind_of(other).map_or("object", Kind::noun),
            };
            let msg = format!("duplicate {noun} name `{}` (first defined at {})", self.name_of(o), f.path());
            self.error(o.field("name"), msg);
        }
    }

    /// Every name reference resolves; adds the reference edges to the graph.
    pub(super) fn rule_references(&mut self) {
        let (cfg, model) = (self.cfg, self.model);
        let tenant = |t: Option<_>| t.map(Validator::tenant_obj);
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                let o = Obj::Se(g, s);
                let device = model.ses[self.ix.se(g, s)].device.map(Obj::Device);
                self.reference(o, Rel::Device, Kind::Device, &se.device, device, || o.field("device"));
                for (k, itf) in se.interfaces.iter().enumerate() {
                    let o = Obj::Interface(g, s, k);
                    let network = model.interfaces[self.model.interface_index(g, s, k)].network.map(Obj::Network);
                    self.reference(o, Rel::Network, Kind::Network, &itf.network, network, || o.field("network"));
                }
            }
        }
        for (p, pool) in cfg.pools.iter().enumerate() {
            let o = Obj::Pool(p);
            let to = tenant(model.pools[p].tenant);
            self.reference(o, Rel::Tenant, Kind::Tenant, &pool.tenant, to, || o.field("tenant"));
        }
        for (v, vs) in cfg.virtual_services.iter().enumerate() {
            let o = Obj::Vs(v);
            let r = &model.virtual_services[v];
            self.reference(o, Rel::Tenant, Kind::Tenant, &vs.tenant, tenant(r.tenant), || o.field("tenant"));
            let group = r.se_group.map(Obj::SeGroup);
            self.reference(o, Rel::SeGroup, Kind::SeGroup, &vs.se_group, group, || o.field("se_group"));
            self.reference(o, Rel::Pool, Kind::Pool, &vs.pool, r.pool.map(Obj::Pool), || o.field("pool"));
            if let Some(prof) = &vs.traffic_clone_profile {
                let to = r.profile.map(Obj::Profile);
                self.reference(o, Rel::Profile, Kind::Profile, prof, to, || o.field("traffic_clone_profile"));
            }
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            let o = Obj::Profile(t);
            let to = tenant(model.profiles[t].tenant);
            self.reference(o, Rel::Tenant, Kind::Tenant, &prof.tenant, to, || o.field("tenant"));
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                if cs.encap.is_some() || cs.network.is_empty() {
                    continue; // found by `rule_encap_reachable`; a missing one by `rule_encap_form`
                }
                let o = Obj::CloneServer(t, c);
                let network = model.clone_servers[self.model.clone_server_index(t, c)].network.map(Obj::Network);
                self.reference(o, Rel::Network, Kind::Network, &cs.network, network, || o.field("network"));
            }
        }
    }

    /// The object `i` of `kind` (SEs: flattened index).
    fn named_obj(&self, kind: Kind, i: usize) -> Obj {
        match kind {
            Kind::Tenant => Obj::Tenant(Some(i)),
            Kind::Network => Obj::Network(i),
            Kind::Device => Obj::Device(i),
            Kind::SeGroup => Obj::SeGroup(i),
            Kind::Se => self.se_obj(i),
            Kind::Pool => Obj::Pool(i),
            Kind::Vs => Obj::Vs(i),
            Kind::Profile => Obj::Profile(i),
        }
    }

    /// A VS, its pool and its clone profile are in one tenant.
    pub(super) fn rule_cross_tenant(&mut self) {
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
}

/// Calls `f` with every named object and its name, in config order.
pub(super) fn for_each_named<'c>(cfg: &'c Config, mut f: impl FnMut(Obj, &'c str)) {
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
pub(super) fn kind_of(o: Obj) -> Option<Kind> {
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
