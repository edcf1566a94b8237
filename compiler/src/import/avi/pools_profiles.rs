//! Pools and traffic clone profiles (with their clone servers) of the imported config.

use super::convert::{key, Converter, DEFAULT_SERVER_PORT};
use super::fields::{self, Object};
use super::objects::Kind;
use super::references::{Entry, Scope};
use crate::config::{CloneServer, PoolServer, TrafficCloneProfile};

impl<'a> Converter<'a> {
    pub(super) fn pool(&mut self, e: &'a Entry) {
        if self.pools.contains_key(&key(e)) {
            return;
        }
        let b = &e.body;
        for unsupported in ["ipaddrgroup_ref", "nsx_securitygroup", "autoscale_policy_ref"] {
            if fields::get(b, unsupported).is_some() {
                self.errors.push(e.id.field_error(
                    unsupported,
                    "members from groups or autoscaling are not supported: p4clone needs the server addresses",
                ));
            }
        }
        let default_port = match fields::integer(b, "default_server_port") {
            Ok(p) => p.unwrap_or(DEFAULT_SERVER_PORT),
            Err(m) => {
                self.errors.push(e.id.field_error("default_server_port", m));
                DEFAULT_SERVER_PORT
            }
        };
        let servers = match fields::objects(b, "servers") {
            Ok(s) => s,
            Err(m) => {
                self.errors.push(e.id.field_error("servers", m));
                Vec::new()
            }
        };
        let mut out = Vec::new();
        for (i, s) in servers.iter().enumerate() {
            let f = |x: &str| format!("servers[{i}].{x}");
            match fields::boolean(s, "enabled") {
                Ok(Some(false)) => {
                    self.warnings.push(e.id.field_error(f("enabled"), "server disabled: left out of the pool"));
                    continue;
                }
                Ok(_) => {}
                Err(m) => self.errors.push(e.id.field_error(f("enabled"), m)),
            }
            let ip = match fields::object(s, "ip") {
                Ok(Some(a)) => match fields::ip_addr(a) {
                    Ok(ip) => ip,
                    Err((g, m)) => {
                        self.errors.push(e.id.field_error(f(&format!("ip.{g}")), m));
                        continue;
                    }
                },
                Ok(None) => {
                    self.errors.push(e.id.field_error(
                        f("ip"),
                        "missing (a server by hostname only is not supported: p4clone needs its address)",
                    ));
                    continue;
                }
                Err(m) => {
                    self.errors.push(e.id.field_error(f("ip"), m));
                    continue;
                }
            };
            let port = match fields::integer(s, "port") {
                Ok(p) => p.unwrap_or(default_port),
                Err(m) => {
                    self.errors.push(e.id.field_error(f("port"), m));
                    continue;
                }
            };
            let Ok(port) = u16::try_from(port) else {
                self.errors.push(e.id.field_error(f("port"), format!("{port} is not a port")));
                continue;
            };
            out.push(PoolServer { ip: ip.to_string(), port });
        }
        self.pools.insert(key(e), (e, out));
    }

    pub(super) fn profile(&mut self, e: &'a Entry) {
        if self.profiles.contains_key(&key(e)) {
            return;
        }
        let b = &e.body;
        let preserve_client_ip = match fields::boolean(b, "preserve_client_ip") {
            Ok(v) => v.unwrap_or(false),
            Err(m) => {
                self.errors.push(e.id.field_error("preserve_client_ip", m));
                false
            }
        };
        let cloud = match fields::text(b, "cloud_ref") {
            Ok(Some(text)) => match self.catalog.name_of(e, "cloud_ref", &text, Kind::Cloud) {
                Ok(n) => n,
                Err(err) => {
                    self.errors.push(err);
                    String::new()
                }
            },
            Ok(None) => "default".to_string(),
            Err(m) => {
                self.errors.push(e.id.field_error("cloud_ref", m));
                String::new()
            }
        };
        let servers = match fields::objects(b, "clone_servers") {
            Ok(s) => s,
            Err(m) => {
                self.errors.push(e.id.field_error("clone_servers", m));
                Vec::new()
            }
        };
        let mut clone_servers = Vec::new();
        for (i, s) in servers.iter().enumerate() {
            if let Some(cs) = self.clone_server(e, i, s) {
                clone_servers.push(cs);
            }
        }
        let profile = TrafficCloneProfile {
            name: e.id.name.clone(),
            tenant: e.tenant.clone(),
            cloud,
            preserve_client_ip,
            distribution: Default::default(),
            truncate: 0,
            clone_servers,
            filters: Vec::new(),
            sample: None,
        };
        self.profiles.insert(key(e), (e, profile));
    }

    pub(super) fn clone_server(&mut self, e: &'a Entry, i: usize, s: &Object) -> Option<CloneServer> {
        let f = |x: &str| format!("clone_servers[{i}].{x}");
        let ip = match fields::object(s, "ip_address") {
            Ok(Some(a)) => match fields::ip_addr(a) {
                Ok(ip) => ip,
                Err((g, m)) => {
                    self.errors.push(e.id.field_error(f(&format!("ip_address.{g}")), m));
                    return None;
                }
            },
            Ok(None) => {
                self.errors
                    .push(e.id.field_error(f("ip_address"), "missing: p4clone needs the clone server's address"));
                return None;
            }
            Err(m) => {
                self.errors.push(e.id.field_error(f("ip_address"), m));
                return None;
            }
        };
        let mac = match fields::text(s, "mac") {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.errors.push(e.id.field_error(
                    f("mac"),
                    "missing: p4clone's data plane does not resolve addresses, it needs the clone server's MAC",
                ));
                return None;
            }
            Err(m) => {
                self.errors.push(e.id.field_error(f("mac"), m));
                return None;
            }
        };
        let subnet = match fields::object(s, "subnet") {
            Ok(Some(p)) => match fields::ip_prefix(p) {
                Ok((a, len)) => Some(format!("{a}/{len}")),
                Err((g, m)) => {
                    self.errors.push(e.id.field_error(f(&format!("subnet.{g}")), m));
                    return None;
                }
            },
            Ok(None) => None,
            Err(m) => {
                self.errors.push(e.id.field_error(f("subnet"), m));
                return None;
            }
        };
        let network = match fields::text(s, "network_ref") {
            Ok(Some(text)) => {
                match self.catalog.resolve(e, &f("network_ref"), &text, Kind::Network, Scope::SharedFromAdmin) {
                    Ok(n) => self.use_network(n, Some(ip))?,
                    Err(err) => {
                        self.errors.push(err);
                        return None;
                    }
                }
            }
            Ok(None) => self.network_by_address(e, &f("network_ref"), ip, &e.tenant)?,
            Err(m) => {
                self.errors.push(e.id.field_error(f("network_ref"), m));
                return None;
            }
        };
        let subnet = subnet.unwrap_or_else(|| network.subnet.clone());
        Some(CloneServer { network: network.name, subnet, ip: ip.to_string(), mac, encap: None })
    }
}
