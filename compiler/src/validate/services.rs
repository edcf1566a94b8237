//! Virtual service rules: service ports, SSL tandems on distinct SE groups, and
//! pool members reachable from the SE group of a cloned VS.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::validator::{proto_name, Obj, Rel, Validator};
use crate::config::Protocol;
use crate::diag::Diagnostic;
use crate::net::{fast_map, FastHashMap, Prefix};

impl Validator<'_, '_> {
    /// A VS has at least one service port; ports are non-zero and not repeated.
    pub(super) fn rule_services(&mut self) {
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
    pub(super) fn rule_back_to_back(&mut self) {
        let cfg = self.cfg;
        // VIP -> the VSs with that VIP, as a chain through `next_same_vip`.
        const END: usize = usize::MAX;
        let mut first_by_vip: FastHashMap<IpAddr, usize> = fast_map(cfg.virtual_services.len());
        let mut next_same_vip = vec![END; cfg.virtual_services.len()];
        for (v, vs) in self.model.virtual_services.iter().enumerate().rev() {
            if let Ok(ip) = vs.vip {
                if let Some(next) = first_by_vip.insert(ip, v) {
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
    pub(super) fn rule_pool_reachability(&mut self) {
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
}
