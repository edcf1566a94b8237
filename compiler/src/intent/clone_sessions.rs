//! Clone sessions of one device: a member block per (profile, SE) key, allocated
//! hints first ([`allocate_blocks_in`]) within the session ids the device's target
//! accepts ([`crate::target`]), and in each block one clone member (clone session
//! plus `clone_rewrite` entry) per clone server.

use super::blocks::{allocate_blocks_in, BLOCK_WIDTH};
use super::entities::MemberEncap;
use super::entities::{Allocation, CloneMember, MemberBlock, MemberId};
use super::inputs::{EncapServer, Inputs, Server};
use super::placement::DeviceAcc;
use crate::diag::Diagnostic;
use crate::model::Model;
use crate::net::Mac;
use crate::route::{route, NextHop};
use std::net::IpAddr;

/// The block of each key of device `di` (by key index), honouring `hints`, or
/// `None` (reported) when the device needs more blocks than there are.
pub(super) fn allocate(
    model: &Model<'_>,
    inputs: &Inputs<'_>,
    acc: &DeviceAcc,
    di: usize,
    hints: &Allocation,
    errs: &mut Vec<Diagnostic>,
) -> Option<Vec<u16>> {
    let cfg = model.config;
    let dev = &cfg.devices[di];
    let rules = dev.target.rules();
    let max_blocks = rules.max_session_id / BLOCK_WIDTH;
    let keys: Vec<(&str, &str)> =
        acc.keys.iter().map(|&(pi, se)| (cfg.traffic_clone_profiles[pi].name.as_str(), inputs.ses[se].name)).collect();
    let Some(alloc) = allocate_blocks_in(&keys, |p, s| hints.get(&dev.name, p, s), max_blocks) else {
        errs.push(Diagnostic::error(
            format!("devices[{di}]"),
            format!(
                "device `{}` ({}) needs more than {} clone sessions: {} (profile, service engine) \
                 blocks of {BLOCK_WIDTH} member ids, at most {max_blocks} fit in session ids 1..={}",
                dev.name,
                rules.name,
                rules.max_session_id,
                keys.len(),
                rules.max_session_id
            ),
        ));
        return None;
    };
    Some(keys.iter().map(|kn| alloc[kn]).collect())
}

/// The blocks (sorted by first member id) and members (sorted by id) of one
/// device; a clone server on a network an SE has no interface on is reported.
pub(super) fn blocks_and_members(
    model: &Model<'_>,
    inputs: &Inputs<'_>,
    acc: &DeviceAcc,
    di: usize,
    block_of: &[u16],
    errs: &mut Vec<Diagnostic>,
) -> (Vec<MemberBlock>, Vec<CloneMember>) {
    let cfg = model.config;
    let dev = &cfg.devices[di];
    let rules = dev.target.rules();
    let mut blocks = Vec::with_capacity(acc.keys.len());
    let mut members = Vec::new();
    for (ki, &(pi, se)) in acc.keys.iter().enumerate() {
        let p = &cfg.traffic_clone_profiles[pi];
        let info = &inputs.profiles[pi];
        let Some(servers) = &info.servers else {
            continue;
        };
        let se_info = &inputs.ses[se];
        let index = block_of[ki];
        let first = index * BLOCK_WIDTH + 1;
        blocks.push(MemberBlock {
            profile: p.name.clone(),
            se: se_info.name.to_string(),
            index,
            first: MemberId(first),
            count: servers.len() as u16,
            mode: p.distribution,
            config_digest: info.digest,
        });
        for (ci, server) in servers.iter().enumerate() {
            let (ip, mac, net) = match *server {
                Server::Direct(ip, mac, net) => (ip, mac, net),
                Server::Encap(e) => {
                    let id = MemberId(first + ci as u16);
                    match encap_member(model, inputs, se, &e) {
                        Ok((port, src_mac, dst_mac, vlan, enc)) => members.push(CloneMember {
                            id,
                            profile: p.name.clone(),
                            se: se_info.name.to_string(),
                            server_index: ci as u8,
                            clone_ip: IpAddr::V4(e.remote),
                            egress_port: port,
                            src_mac,
                            dst_mac,
                            vlan,
                            truncate: info.truncate,
                            nat_restore: p.preserve_client_ip,
                            config_digest: info.digest,
                            encap: Some(enc),
                        }),
                        Err(msg) => errs.push(Diagnostic::error(
                            format!("traffic_clone_profiles[{pi}].clone_servers[{ci}].encap.remote"),
                            format!("service engine `{}`: {msg}", se_info.name),
                        )),
                    }
                    continue;
                }
            };
            let itf = se_info.ifaces.iter().flatten().find(|i| i.net == Some(net));
            let Some(itf) = itf else {
                let r = &model.ses[se];
                errs.push(Diagnostic::error(
                    format!("traffic_clone_profiles[{pi}].clone_servers[{ci}].network"),
                    format!(
                        "service engine `{}` (se_groups[{}].service_engines[{}]) has no interface on network `{}`, \
                         so clone server {} cannot be reached from it",
                        se_info.name, r.group, r.index, cfg.networks[net].name, p.clone_servers[ci].ip
                    ),
                ));
                continue;
            };
            if itf.port < rules.min_clone_port {
                let r = &model.ses[se];
                let ii =
                    se_info.ifaces.iter().position(|i| i.as_ref().is_some_and(|i| i.net == Some(net))).unwrap_or(0);
                errs.push(Diagnostic::error(
                    format!("se_groups[{}].service_engines[{}].interfaces[{ii}].port", r.group, r.index),
                    format!(
                        "device `{}` ({}) cannot clone to port {}: its clone sessions need a port of at least {} \
                         (service engine `{}`, clone server {} of profile `{}`)",
                        dev.name,
                        rules.name,
                        itf.port,
                        rules.min_clone_port,
                        se_info.name,
                        p.clone_servers[ci].ip,
                        p.name
                    ),
                ));
                continue;
            }
            members.push(CloneMember {
                id: MemberId(first + ci as u16),
                profile: p.name.clone(),
                se: se_info.name.to_string(),
                server_index: ci as u8,
                clone_ip: ip,
                egress_port: itf.port,
                src_mac: itf.mac,
                dst_mac: mac,
                vlan: model.networks[net].vlan,
                truncate: info.truncate,
                nat_restore: p.preserve_client_ip,
                config_digest: info.digest,
                encap: None,
            });
        }
    }
    blocks.sort_unstable_by_key(|b| b.first);
    members.sort_unstable_by_key(|m| m.id);
    (blocks, members)
}

/// The egress port, outer MACs, VLAN and tunnel of an encapsulated clone server
/// as seen from SE `se` ([`crate::route`]), or why it cannot be reached.
#[allow(clippy::type_complexity)]
fn encap_member(
    model: &Model<'_>,
    inputs: &Inputs<'_>,
    se: usize,
    e: &EncapServer,
) -> Result<(u32, Mac, Mac, Option<u16>, MemberEncap), String> {
    let r = route(model, se, IpAddr::V4(e.remote))
        .ok_or_else(|| format!("no interface reaches remote {} (directly or through a gateway)", e.remote))?;
    let k = r.interface - model.ses[se].interfaces.start;
    let itf = inputs.ses[se].ifaces.get(k).and_then(Option::as_ref).ok_or("its interface does not parse")?;
    let IpAddr::V4(src) = itf.addr.addr else {
        return Err(format!("interface for remote {} has no IPv4 address", e.remote));
    };
    let dst_mac = match r.next_hop {
        NextHop::Gateway(mac) => mac,
        NextHop::Direct => {
            e.mac.ok_or_else(|| format!("remote {} is directly connected: `mac` is required", e.remote))?
        }
    };
    let net = &model.networks[r.network];
    let mtu = u16::try_from(net.mtu).map_err(|_| format!("MTU {} does not fit 16 bits", net.mtu))?;
    let enc = MemberEncap { kind: e.kind, src, remote: e.remote, id: e.id, key_present: e.key_present, mtu };
    Ok((itf.port, itf.mac, dst_mac, net.vlan, enc))
}
