//! NAT binding rules: one family per binding, SE side on an SE interface, no
//! duplicate bindings, and a warning for bindings nothing uses.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use super::validator::{proto_name, ses_phrase, Obj, Rel, Validator};
use crate::config::Protocol;
use crate::net::{family_bits, family_name, FastHashMap, FastHashSet};

impl Validator<'_, '_> {
    /// A binding's SE side and client are of one address family.
    pub(super) fn rule_nat_families(&mut self) {
        for i in 0..self.cfg.nat_bindings.len() {
            let b = &self.model.nat_bindings[i];
            let (Ok(se), Ok(client)) = (&b.se, &b.client) else { continue };
            let (se, client) = (*se, *client);
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
    pub(super) fn rule_nat_se_address(&mut self) {
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
            let Ok(se) = self.model.nat_bindings[i].se else { continue };
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
    pub(super) fn rule_nat_duplicates(&mut self) {
        let mut seen: FastHashMap<(SocketAddr, Protocol), usize> = FastHashMap::default();
        for (i, b) in self.cfg.nat_bindings.iter().enumerate() {
            let Ok(se) = self.model.nat_bindings[i].se else { continue };
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
    pub(super) fn rule_nat_unused(&mut self) {
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
