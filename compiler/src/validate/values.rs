//! Rules about single values: MACs, subnets, VLANs, addresses, endpoints, device
//! addresses and port numbers are well formed and in range. A value that does not
//! parse is reported here, once, with its parser's message (see [`crate::model`]).

use super::validator::{Obj, Validator};
use crate::limits::{vlan_in_range, MAX_DEVICE_PORT, MAX_VLAN, MIN_VLAN};
use crate::net::{parse_host_port, FastHashMap};

impl Validator<'_, '_> {
    /// Interface and clone server MACs parse.
    pub(super) fn rule_macs(&mut self) {
        let (cfg, model) = (self.cfg, self.model);
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                for k in 0..se.interfaces.len() {
                    if let Err(e) = &model.interfaces[self.model.interface_index(g, s, k)].mac {
                        self.error(Obj::Interface(g, s, k).field("mac"), e.as_str());
                    }
                }
            }
        }
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for (c, cs) in prof.clone_servers.iter().enumerate() {
                if cs.mac.is_empty() {
                    continue; // optional with `encap`, else reported by `rule_encap_form`
                }
                if let Err(e) = &model.clone_servers[self.model.clone_server_index(t, c)].mac {
                    self.error(Obj::CloneServer(t, c).field("mac"), e.as_str());
                }
            }
        }
    }

    /// Network subnets are prefixes with the host bits zero.
    pub(super) fn rule_network_subnets(&mut self) {
        let model = self.model;
        for (i, n) in model.networks.iter().enumerate() {
            if let Err(e) = &n.subnet {
                self.error(Obj::Network(i).field("subnet"), e.as_str());
            }
        }
    }

    /// VLAN ids are 1..4094.
    pub(super) fn rule_vlans(&mut self) {
        for (i, n) in self.cfg.networks.iter().enumerate() {
            if let Some(vlan) = n.vlan {
                if !vlan_in_range(vlan) {
                    self.error(
                        Obj::Network(i).field("vlan"),
                        format!("VLAN {vlan} is outside {MIN_VLAN}..{MAX_VLAN}; leave `vlan` out for untagged"),
                    );
                }
            }
        }
    }

    /// Interface addresses are `address/length`.
    pub(super) fn rule_interface_addresses(&mut self) {
        let (cfg, model) = (self.cfg, self.model);
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                for k in 0..se.interfaces.len() {
                    if let Err(e) = &model.interfaces[self.model.interface_index(g, s, k)].addr {
                        self.error(Obj::Interface(g, s, k).field("ip"), e.as_str());
                    }
                }
            }
        }
    }

    /// Pool member addresses parse; ports are not 0.
    pub(super) fn rule_pool_server_values(&mut self) {
        let (cfg, model) = (self.cfg, self.model);
        for (p, pool) in cfg.pools.iter().enumerate() {
            for (k, srv) in pool.servers.iter().enumerate() {
                if let Err(e) = &model.pool_servers[self.model.pool_server_index(p, k)] {
                    self.error(Obj::PoolServer(p, k).field("ip"), e.as_str());
                }
                if srv.port == 0 {
                    self.error(Obj::PoolServer(p, k).field("port"), "port 0 is not a usable L4 port");
                }
            }
        }
    }

    /// VS VIPs parse.
    pub(super) fn rule_vips(&mut self) {
        let model = self.model;
        for (v, vs) in model.virtual_services.iter().enumerate() {
            if let Err(e) = &vs.vip {
                self.error(Obj::Vs(v).field("vip"), e.as_str());
            }
        }
    }

    /// Clone server subnets are prefixes; clone server addresses parse (any value:
    /// dummies are allowed).
    pub(super) fn rule_clone_server_values(&mut self) {
        let (cfg, model) = (self.cfg, self.model);
        for (t, prof) in cfg.traffic_clone_profiles.iter().enumerate() {
            for c in 0..prof.clone_servers.len() {
                let cs = &model.clone_servers[self.model.clone_server_index(t, c)];
                let given = &self.cfg.traffic_clone_profiles[t].clone_servers[c];
                if given.encap.is_some() {
                    continue; // `rule_encap_form` reports any `subnet`/`ip` given with `encap`
                }
                if given.subnet.is_empty() || given.ip.is_empty() {
                    continue; // reported by `rule_encap_form`
                }
                if let Err(e) = &cs.subnet {
                    self.error(Obj::CloneServer(t, c).field("subnet"), e.as_str());
                }
                if let Err(e) = &cs.ip {
                    self.error(Obj::CloneServer(t, c).field("ip"), e.as_str());
                }
            }
        }
    }

    /// NAT binding endpoints are `ip:port`.
    pub(super) fn rule_nat_endpoints(&mut self) {
        let model = self.model;
        for (i, b) in model.nat_bindings.iter().enumerate() {
            for (field, value) in [("se", &b.se), ("client", &b.client)] {
                if let Err(e) = value {
                    self.error(Obj::NatBinding(i).field(field), e.as_str());
                }
            }
        }
    }

    /// Device addresses are `host:port`; no two devices share address and id.
    pub(super) fn rule_device_addresses(&mut self) {
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
    pub(super) fn rule_port_range(&mut self) {
        let cfg = self.cfg;
        let why = format!(
            "device ports are 0..{MAX_DEVICE_PORT} (9-bit port numbers; {} is the drop port)",
            MAX_DEVICE_PORT + 1
        );
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
}
