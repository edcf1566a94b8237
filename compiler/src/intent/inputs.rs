//! What intent needs of the resolved model, in the compact form the per-device
//! loops read: the interfaces of every SE and the clone servers of every profile,
//! with whatever cannot be compiled reported (networks, SEs, profiles, in that
//! order, as [`crate::intent::compile`] always has).

use std::net::{IpAddr, Ipv4Addr};

use super::blocks::BLOCK_WIDTH;
use super::digest::{profile_digest, Digest};
use crate::config::EncapKind;
use crate::diag::Diagnostic;
use crate::filter::{Filter, SampleMode};
use crate::limits::{vlan_in_range, MAX_VLAN, MIN_VLAN};
use crate::model::Model;
use crate::net::{IfAddr, Mac};

/// An SE interface intent can use: its address and MAC parsed.
pub(super) struct IfInfo {
    /// Interface address.
    pub(super) addr: IfAddr,
    /// Its network, if the name resolves.
    pub(super) net: Option<usize>,
    /// Device port.
    pub(super) port: u32,
    /// Interface MAC.
    pub(super) mac: Mac,
}

/// A service engine as intent sees it.
pub(super) struct SeInfo<'c> {
    /// SE name.
    pub(super) name: &'c str,
    /// Its device, if the name resolves.
    pub(super) device: Option<usize>,
    /// Per interface: `None` when its address or MAC does not parse.
    pub(super) ifaces: Vec<Option<IfInfo>>,
}

/// A clone server as intent sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Server {
    /// On a directly connected network: (ip, mac, network index).
    Direct(IpAddr, Mac, usize),
    /// Behind a tunnel.
    Encap(EncapServer),
}

/// An encapsulated clone server.
#[derive(Debug, Clone, Copy)]
pub(super) struct EncapServer {
    /// Tunnel type.
    pub(super) kind: EncapKind,
    /// The remote collector.
    pub(super) remote: Ipv4Addr,
    /// Its MAC, when given (needed where it is directly connected).
    pub(super) mac: Option<Mac>,
    /// VNI, GRE key or ERSPAN session id.
    pub(super) id: u32,
    /// A GRE key is given.
    pub(super) key_present: bool,
}

/// A clone profile as intent sees it.
pub(super) struct ProfileInfo {
    /// The profile's config digest.
    pub(super) digest: Digest,
    /// Per clone server; `None` when something failed.
    pub(super) servers: Option<Vec<Server>>,
    /// Bytes kept per clone.
    pub(super) truncate: u16,
    /// Its filter rules, in order (all of them parsed, else the profile fails).
    pub(super) filters: Vec<Filter>,
    /// Its sampling.
    pub(super) sample: SampleMode,
}

/// The SEs (flattened, as in [`Model::ses`]) and profiles of a config.
pub(super) struct Inputs<'c> {
    /// Per SE.
    pub(super) ses: Vec<SeInfo<'c>>,
    /// Per clone profile.
    pub(super) profiles: Vec<ProfileInfo>,
}

impl<'c> Inputs<'c> {
    /// Reads networks, SEs and profiles from `model`, reporting what intent cannot
    /// compile into `errs`.
    pub(super) fn gather(model: &Model<'c>, errs: &mut Vec<Diagnostic>) -> Inputs<'c> {
        check_networks(model, errs);
        let ses = service_engines(model, errs);
        let profiles = profiles(model, errs);
        Inputs { ses, profiles }
    }
}

/// Subnets parse and VLANs are in range.
fn check_networks(model: &Model<'_>, errs: &mut Vec<Diagnostic>) {
    for (i, (n, resolved)) in model.config.networks.iter().zip(&model.networks).enumerate() {
        if let Err(e) = &resolved.subnet {
            errs.push(Diagnostic::error(format!("networks[{i}].subnet"), e.as_str()));
        }
        if let Some(v) = n.vlan.filter(|&v| !vlan_in_range(v)) {
            errs.push(Diagnostic::error(
                format!("networks[{i}].vlan"),
                format!("VLAN {v} is outside {MIN_VLAN}..{MAX_VLAN}"),
            ));
        }
    }
}

/// Every SE with its usable interfaces.
fn service_engines<'c>(model: &Model<'c>, errs: &mut Vec<Diagnostic>) -> Vec<SeInfo<'c>> {
    let cfg = model.config;
    let mut ses = Vec::with_capacity(model.ses.len());
    for (gi, g) in cfg.se_groups.iter().enumerate() {
        for (si, se) in g.service_engines.iter().enumerate() {
            let resolved = &model.ses[model.se_index(gi, si)];
            let path = || format!("se_groups[{gi}].service_engines[{si}]");
            if resolved.device.is_none() {
                errs.push(Diagnostic::error(format!("{}.device", path()), format!("unknown device `{}`", se.device)));
            }
            let ifaces = se
                .interfaces
                .iter()
                .zip(&model.interfaces[resolved.interfaces.clone()])
                .enumerate()
                .map(|(ii, (itf, r))| {
                    let ipath = || format!("{}.interfaces[{ii}]", path());
                    let addr = r
                        .addr
                        .as_ref()
                        .map_err(|e| errs.push(Diagnostic::error(format!("{}.ip", ipath()), e.as_str())))
                        .ok()?;
                    let mac = r
                        .mac
                        .as_ref()
                        .map_err(|e| errs.push(Diagnostic::error(format!("{}.mac", ipath()), e.as_str())))
                        .ok()?;
                    if r.network.is_none() {
                        errs.push(Diagnostic::error(
                            format!("{}.network", ipath()),
                            format!("unknown network `{}`", itf.network),
                        ));
                    }
                    Some(IfInfo { addr: *addr, net: r.network, port: itf.port, mac: *mac })
                })
                .collect();
            ses.push(SeInfo { name: se.name.as_str(), device: resolved.device, ifaces });
        }
    }
    ses
}

/// Every profile's digest, clone servers and truncation.
fn profiles(model: &Model<'_>, errs: &mut Vec<Diagnostic>) -> Vec<ProfileInfo> {
    let cfg = model.config;
    cfg.traffic_clone_profiles
        .iter()
        .zip(&model.profiles)
        .enumerate()
        .map(|(pi, (p, resolved))| {
            let path = format!("traffic_clone_profiles[{pi}]");
            let mut ok = true;
            if p.clone_servers.is_empty() {
                errs.push(Diagnostic::error(format!("{path}.clone_servers"), "the profile has no clone servers"));
                ok = false;
            } else if p.clone_servers.len() > usize::from(BLOCK_WIDTH) {
                errs.push(Diagnostic::error(
                    format!("{path}.clone_servers"),
                    format!("{} clone servers; at most {BLOCK_WIDTH} are allowed", p.clone_servers.len()),
                ));
                ok = false;
            }
            let truncate = match u16::try_from(p.truncate) {
                Ok(t) => t,
                Err(_) => {
                    errs.push(Diagnostic::error(
                        format!("{path}.truncate"),
                        format!("truncate {} does not fit 16 bits (at most 65535)", p.truncate),
                    ));
                    ok = false;
                    0
                }
            };
            let mut servers = Vec::with_capacity(p.clone_servers.len());
            for (ci, (cs, r)) in
                p.clone_servers.iter().zip(&model.clone_servers[resolved.clone_servers.clone()]).enumerate()
            {
                if let Some(e) = &r.encap {
                    let cpath = format!("{path}.clone_servers[{ci}]");
                    match (&e.remote, u32::try_from(e.id)) {
                        (Ok(IpAddr::V4(remote)), Ok(id)) => servers.push(Server::Encap(EncapServer {
                            kind: e.kind,
                            remote: *remote,
                            mac: r.mac.as_ref().ok().copied(),
                            id,
                            key_present: e.key_present,
                        })),
                        _ => {
                            ok = false;
                            errs.push(Diagnostic::error(
                                format!("{cpath}.encap"),
                                "the tunnel needs an IPv4 `remote` and an id that fits 32 bits",
                            ));
                        }
                    }
                    continue;
                }
                match (&r.ip, &r.mac, r.network) {
                    (Ok(ip), Ok(mac), Some(net)) => servers.push(Server::Direct(*ip, *mac, net)),
                    (ip, mac, net) => {
                        ok = false;
                        let cpath = format!("{path}.clone_servers[{ci}]");
                        if let Err(e) = ip {
                            errs.push(Diagnostic::error(format!("{cpath}.ip"), e.as_str()));
                        }
                        if let Err(e) = mac {
                            errs.push(Diagnostic::error(format!("{cpath}.mac"), e.as_str()));
                        }
                        if net.is_none() {
                            errs.push(Diagnostic::error(
                                format!("{cpath}.network"),
                                format!("unknown network `{}`", cs.network),
                            ));
                        }
                    }
                }
            }
            let mut filters = Vec::with_capacity(resolved.filters.len());
            for (fi, f) in resolved.filters.iter().enumerate() {
                match f {
                    Ok(f) => filters.push(*f),
                    Err(fields) => {
                        ok = false;
                        for (field, msg) in fields {
                            errs.push(Diagnostic::error(format!("{path}.filters[{fi}].{field}"), msg.as_str()));
                        }
                    }
                }
            }
            let sample = match &resolved.sample {
                Ok(s) => *s,
                Err((field, msg)) => {
                    ok = false;
                    errs.push(Diagnostic::error(format!("{path}.sample.{field}"), msg.as_str()));
                    SampleMode::All
                }
            };
            ProfileInfo { digest: profile_digest(p), servers: ok.then_some(servers), truncate, filters, sample }
        })
        .collect()
}
