//! Addressing rules: interface addresses lie in their networks, clone servers
//! state their network's subnet and an address of its family.

use super::validator::{Obj, Rel, Validator};
use crate::net::{family_bits, family_name};

impl Validator<'_, '_> {
    /// An SE interface's address lies in its network's subnet.
    pub(super) fn rule_interface_in_subnet(&mut self) {
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
    pub(super) fn rule_clone_server_subnet(&mut self) {
        let cfg = self.cfg;
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for c in 0..prof.clone_servers.len() {
                let o = Obj::CloneServer(t, c);
                let Ok(stated) = self.model.clone_servers[self.model.clone_server_index(t, c)].subnet else { continue };
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
    pub(super) fn rule_clone_server_ip_family(&mut self) {
        let cfg = self.cfg;
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for c in 0..prof.clone_servers.len() {
                let x = self.model.clone_server_index(t, c);
                let cs = &self.model.clone_servers[x];
                let (Ok(ip), Ok(subnet)) = (&cs.ip, &cs.subnet) else { continue };
                let (ip, subnet) = (*ip, *subnet);
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
}
