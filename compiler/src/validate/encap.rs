//! Encapsulated clone servers and what they need of networks: the two clone server
//! forms, tunnel values (remote, VNI / GRE key / ERSPAN session ranges), gateways
//! and MTUs, and a route from every SE that clones to the remote
//! ([`crate::route`]).

use std::net::IpAddr;

use super::validator::{Obj, Rel, Validator};
use crate::config::{Encap, EncapKind};
use crate::limits::{MAX_ERSPAN_SESSION, MAX_GRE_KEY, MAX_MTU, MAX_VNI, MIN_MTU};
use crate::net::family_name;
use crate::route::{route, NextHop};

/// The config name of a tunnel type.
fn kind_name(k: EncapKind) -> &'static str {
    match k {
        EncapKind::Vxlan => "vxlan",
        EncapKind::Gre => "gre",
        EncapKind::Erspan => "erspan",
    }
}

impl Validator<'_, '_> {
    /// A clone server is either `network`/`subnet`/`ip`/`mac` or `encap` (+ `mac`).
    pub(super) fn rule_encap_form(&mut self) {
        for (t, prof) in self.cfg.traffic_clone_profiles.iter().enumerate() {
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                let o = Obj::CloneServer(t, c);
                let fields = [("network", &cs.network), ("subnet", &cs.subnet), ("ip", &cs.ip), ("mac", &cs.mac)];
                if cs.encap.is_some() {
                    for (f, v) in &fields[..3] {
                        if !v.is_empty() {
                            self.error(
                                o.field(f),
                                format!(
                                    "`{f}` is not used with `encap`: the copies leave through the SE network \
                                     that reaches the remote (its subnet holds it, or it has a gateway)"
                                ),
                            );
                        }
                    }
                } else {
                    for (f, v) in fields {
                        if v.is_empty() {
                            self.error(
                                o.field(f),
                                format!("`{f}` is required (or give `encap` to reach a remote collector)"),
                            );
                        }
                    }
                }
            }
        }
    }

    /// The remote is an IPv4 address; the tunnel's id field is its type's and in range.
    pub(super) fn rule_encap_values(&mut self) {
        for (t, prof) in self.cfg.traffic_clone_profiles.iter().enumerate() {
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                let Some(e) = &cs.encap else { continue };
                let o = Obj::CloneServer(t, c);
                let x = self.model.clone_server_index(t, c);
                match self.model.clone_servers[x].encap.as_ref().map(|r| r.remote.clone()) {
                    Some(Err(msg)) => self.error(o.field("encap.remote"), msg),
                    Some(Ok(IpAddr::V6(a))) => self.error(
                        o.field("encap.remote"),
                        format!("{a} is IPv6: encapsulated delivery uses an IPv4 outer header (an IPv4 remote)"),
                    ),
                    _ => {}
                }
                self.encap_id_rules(o, e);
            }
        }
    }

    fn encap_id_rules(&mut self, o: Obj, e: &Encap) {
        let kind = kind_name(e.kind);
        let (own, max) = match e.kind {
            EncapKind::Vxlan => ("vni", MAX_VNI),
            EncapKind::Gre => ("key", MAX_GRE_KEY),
            EncapKind::Erspan => ("session", MAX_ERSPAN_SESSION),
        };
        for (f, v) in [("vni", e.vni), ("key", e.key), ("session", e.session)] {
            match v {
                Some(_) if f != own => self.error(
                    o.field(&format!("encap.{f}")),
                    format!("`{f}` does not belong to a `{kind}` tunnel (it takes `{own}`)"),
                ),
                Some(n) if n > max => {
                    self.error(o.field(&format!("encap.{f}")), format!("{f} {n} is outside 0..{max}"))
                }
                None if f == own && e.kind != EncapKind::Gre => {
                    self.error(o.field("encap"), format!("a `{kind}` tunnel needs `{own}` (0..{max})"))
                }
                _ => {}
            }
        }
    }

    /// Gateways are addresses of their network's subnet with a MAC; MTUs are in range.
    pub(super) fn rule_network_gateway_mtu(&mut self) {
        let model = self.model;
        for (i, n) in self.cfg.networks.iter().enumerate() {
            let o = Obj::Network(i);
            if let Some(mtu) = n.mtu.filter(|m| !(MIN_MTU..=MAX_MTU).contains(m)) {
                self.error(o.field("mtu"), format!("MTU {mtu} is outside {MIN_MTU}..{MAX_MTU}"));
            }
            let Some((ip, mac)) = &model.networks[i].gateway else { continue };
            if let Err(e) = mac {
                self.error(o.field("gateway.mac"), e.as_str());
            }
            match (ip, model.subnet(i)) {
                (Err(e), _) => self.error(o.field("gateway.ip"), e.as_str()),
                (Ok(ip), Some(subnet)) if !subnet.contains(ip) => self.error(
                    o.field("gateway.ip"),
                    format!("gateway {ip} is not in the network's subnet {subnet} ({})", family_name(ip)),
                ),
                _ => {}
            }
        }
    }

    /// Every SE of every VS using a profile reaches each encapsulated clone server:
    /// through a directly connected network (then `mac` is the collector's) or a
    /// network with a gateway, of the remote's family.
    pub(super) fn rule_encap_reachable(&mut self) {
        let cfg = self.cfg;
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); cfg.traffic_clone_profiles.len()];
        for v in 0..cfg.virtual_services.len() {
            if let Some(Obj::Profile(t)) = self.follow(Obj::Vs(v), Rel::Profile) {
                users[t].push(v);
            }
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                let x = self.model.clone_server_index(t, c);
                let Some(Ok(remote)) = self.model.clone_servers[x].encap.as_ref().map(|e| e.remote.clone()) else {
                    continue;
                };
                if remote.is_ipv6() {
                    continue; // reported by `rule_encap_values`
                }
                let o = Obj::CloneServer(t, c);
                let mut seen = Vec::new();
                for &v in &users[t] {
                    for se in self.vs_ses(v).to_vec() {
                        let Obj::Se(g, s) = se else { continue };
                        if seen.contains(&(g, s)) {
                            continue;
                        }
                        seen.push((g, s));
                        let name = self.se_name(se);
                        let se_ix = self.model.se_index(g, s);
                        if let Some(d) = self.model.ses[se_ix].device {
                            let dev = &cfg.devices[d];
                            let rules = dev.target.rules();
                            if !rules.encapsulation {
                                self.error(
                                    o.field("encap"),
                                    format!(
                                        "SE `{name}` (of VS `{}`) is on device `{}` ({}), whose program has no \
                                         encapsulated delivery: use a directly connected clone server there",
                                        cfg.virtual_services[v].name, dev.name, rules.name
                                    ),
                                );
                                continue;
                            }
                        }
                        match route(self.model, self.model.se_index(g, s), remote) {
                            None => self.error(
                                o.field("encap.remote"),
                                format!(
                                    "SE `{name}` (of VS `{}`) cannot reach remote {remote}: no {} interface is on \
                                     a network whose subnet holds it or that has a gateway",
                                    cfg.virtual_services[v].name,
                                    family_name(&remote)
                                ),
                            ),
                            Some(r) if r.next_hop == NextHop::Direct && cs.mac.is_empty() => self.error(
                                o.field("mac"),
                                format!(
                                    "remote {remote} is on network `{}`, directly connected to SE `{name}`: \
                                     `mac` (the collector's MAC) is required",
                                    cfg.networks[r.network].name
                                ),
                            ),
                            Some(_) => {}
                        }
                    }
                }
            }
        }
    }
}
