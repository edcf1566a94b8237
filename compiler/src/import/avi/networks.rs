//! Networks of the imported config: controller networks as they are used (first
//! configured subnet, site VLAN and subnet applied), the site file's own networks,
//! and placing a clone server without `network_ref` by its address.

use std::net::IpAddr;

use super::convert::Converter;
use super::fields;
use super::objects::{ImportError, Kind};
use super::references::Entry;
use crate::config::{Network, DEFAULT_TENANT};

impl<'a> Converter<'a> {
    /// Networks from the controller are added when used; the site's are added now
    /// (new ones) or remembered as overrides.
    pub(super) fn site_networks(&mut self) {
        for n in &self.site.networks {
            if self.find_network_by_name(&n.name).is_some() {
                continue;
            }
            match &n.subnet {
                Some(subnet) => {
                    let net = Network {
                        name: n.name.clone(),
                        subnet: subnet.clone(),
                        vlan: n.vlan,
                        gateway: None,
                        mtu: None,
                    };
                    self.networks.insert(n.name.clone(), (None, net));
                }
                None => self.errors.push(ImportError::Site {
                    file: "networks".to_string(),
                    message: format!("network \"{}\" is not in the inputs, so it needs a `subnet`", n.name),
                }),
            }
        }
    }

    pub(super) fn find_network_by_name(&self, name: &str) -> Option<&'a Entry> {
        let catalog = self.catalog;
        catalog
            .by_name(Kind::Network, DEFAULT_TENANT, name)
            .or_else(|| catalog.of_kind(Kind::Network).find(|e| e.id.name == name))
    }

    /// A controller network added to the output (site VLAN and subnet applied);
    /// `hint` is an address on it, to choose among its subnets.
    pub(super) fn use_network(&mut self, n: &'a Entry, hint: Option<IpAddr>) -> Option<Network> {
        if let Some((_, net)) = self.networks.get(&n.id.name) {
            return Some(net.clone());
        }
        let over = self.site.networks.iter().find(|s| s.name == n.id.name);
        let subnet = match over.and_then(|o| o.subnet.clone()) {
            Some(s) => s,
            None => match self.network_subnet(n, hint) {
                Ok(Some((a, len))) => format!("{a}/{len}"),
                Ok(None) => {
                    self.errors.push(n.id.field_error(
                        "configured_subnets",
                        "none: p4clone needs the network's subnet (add one, or give `subnet` in the site file)",
                    ));
                    return None;
                }
                Err(err) => {
                    self.errors.push(err);
                    return None;
                }
            },
        };
        let net =
            Network { name: n.id.name.clone(), subnet, vlan: over.and_then(|o| o.vlan), gateway: None, mtu: None };
        self.networks.insert(n.id.name.clone(), (Some(n), net.clone()));
        Some(net)
    }

    /// The configured subnet of a controller network p4clone uses: the first that
    /// holds `hint` (an address on the network), else the first; a warning when
    /// the network has more than one.
    pub(super) fn network_subnet(
        &mut self,
        n: &Entry,
        hint: Option<IpAddr>,
    ) -> Result<Option<(IpAddr, u8)>, ImportError> {
        let subnets =
            fields::objects(&n.body, "configured_subnets").map_err(|m| n.id.field_error("configured_subnets", m))?;
        let mut prefixes = Vec::new();
        for (i, s) in subnets.iter().enumerate() {
            let field = format!("configured_subnets[{i}].prefix");
            let prefix = fields::object(s, "prefix").map_err(|m| n.id.field_error(&field, m))?;
            let Some(prefix) = prefix else {
                return Err(n.id.field_error(field, "missing"));
            };
            prefixes.push(fields::ip_prefix(prefix).map_err(|(g, m)| n.id.field_error(format!("{field}.{g}"), m))?);
        }
        let chosen = hint
            .and_then(|ip| prefixes.iter().find(|(a, len)| fields::contains(*a, *len, ip)))
            .or(prefixes.first())
            .copied();
        if let (Some((a, len)), true) = (chosen, prefixes.len() > 1) {
            self.warnings.push(n.id.field_error(
                "configured_subnets",
                format!("p4clone takes one subnet per network; {a}/{len} is used, the others are not"),
            ));
        }
        Ok(chosen)
    }

    /// A clone server without `network_ref`: the one network (of its tenant or
    /// `admin`, or of the site file) whose subnet holds its address.
    pub(super) fn network_by_address(
        &mut self,
        e: &'a Entry,
        field: &str,
        ip: IpAddr,
        tenant: &str,
    ) -> Option<Network> {
        let catalog = self.catalog;
        let mut found: Vec<&'a Entry> = Vec::new();
        for n in catalog.of_kind(Kind::Network).filter(|n| n.tenant == tenant || n.tenant == DEFAULT_TENANT) {
            let mut probe = Vec::new();
            std::mem::swap(&mut probe, &mut self.warnings);
            let subnet = self.network_subnet(n, Some(ip));
            std::mem::swap(&mut probe, &mut self.warnings);
            if let Ok(Some((a, len))) = subnet {
                if fields::contains(a, len, ip) {
                    found.push(n);
                }
            }
        }
        let site_only: Vec<Network> = self
            .networks
            .values()
            .filter(|(src, net)| src.is_none() && subnet_holds(&net.subnet, ip))
            .map(|(_, net)| net.clone())
            .collect();
        match (found.as_slice(), site_only.as_slice()) {
            ([n], []) => self.use_network(n, Some(ip)),
            ([], [net]) => Some(net.clone()),
            ([], []) => {
                self.errors.push(e.id.field_error(
                    field,
                    format!("absent, and no Network's subnet holds the clone server's address {ip}"),
                ));
                None
            }
            _ => {
                let mut names: Vec<String> = found.iter().map(|n| n.id.name.clone()).collect();
                names.extend(site_only.iter().map(|n| n.name.clone()));
                self.errors.push(e.id.field_error(
                    field,
                    format!("absent, and several networks hold {ip}: {}; name one", names.join(", ")),
                ));
                None
            }
        }
    }
}

pub(super) fn subnet_holds(subnet: &str, ip: IpAddr) -> bool {
    let Some((a, len)) = subnet.split_once('/') else { return false };
    match (a.parse::<IpAddr>(), len.parse::<u8>()) {
        (Ok(a), Ok(len)) => fields::contains(a, len, ip),
        _ => false,
    }
}
