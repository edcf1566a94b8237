//! Placement of cloned virtual services on devices: per device, the (profile, SE)
//! keys that need a member block and the rules to generate for each VS on each SE
//! ([`Work`]); the pools of cloned VSs, read once each.

use std::net::IpAddr;

use super::entities::NatEntry;
use super::inputs::Inputs;
use crate::config::Protocol;
use crate::diag::Diagnostic;
use crate::model::Model;
use crate::net::FastHashMap;

/// A pool's servers once read: not yet looked at, some address does not parse,
/// or all parsed, as the range `start..end` of [`Placement::pool_servers`].
#[derive(Debug, Clone, Copy)]
pub(super) enum PoolState {
    Unparsed,
    Bad,
    Parsed(u32, u32),
}

/// What one device needs, gathered over all VSs (and NAT bindings).
#[derive(Default)]
pub(super) struct DeviceAcc {
    /// (profile index, SE index) keys in first-seen order.
    pub(super) keys: Vec<(usize, usize)>,
    /// Index in `keys` of each key.
    key_ix: FastHashMap<(usize, usize), usize>,
    /// The rules to generate, in VS order.
    pub(super) work: Vec<Work>,
    /// NAT entries of SE addresses on this device, with their binding's index.
    pub(super) nat: Vec<(NatEntry, usize)>,
}

/// Rules to generate for one VS on one SE.
pub(super) struct Work {
    /// VS index.
    pub(super) vs: u32,
    /// Index of the (profile, SE) key in [`DeviceAcc::keys`].
    pub(super) key: u32,
    /// Pool index.
    pub(super) pool: u32,
    /// The distinct protocols of the VS's services ([`protocol_bit`]).
    pub(super) protocols: u8,
}

/// A protocol as one bit of a set; the bits are in protocol-number order.
pub(super) fn protocol_bit(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 1,
        Protocol::Udp => 2,
    }
}

/// The protocols of a [`protocol_bit`] set, in protocol-number order.
pub(super) const PROTOCOLS: [Protocol; 2] = [Protocol::Tcp, Protocol::Udp];

/// Cloned VSs placed on devices.
pub(super) struct Placement {
    /// Per device (config order).
    pub(super) devices: Vec<DeviceAcc>,
    /// Per pool: whether its servers were read, and where they are.
    pub(super) pool_state: Vec<PoolState>,
    /// Every read pool's (ip, port) servers, in one list (the rule loop reads them
    /// for every VS on every device, so they are kept close together).
    pub(super) pool_servers: Vec<(IpAddr, u16)>,
}

impl Placement {
    /// Places every cloned VS on the devices of its SE group's SEs, reporting
    /// unresolved references and unparsable members of the pools it uses.
    pub(super) fn of_virtual_services(model: &Model<'_>, inputs: &Inputs<'_>, errs: &mut Vec<Diagnostic>) -> Placement {
        let cfg = model.config;
        let mut placement = Placement {
            devices: (0..cfg.devices.len()).map(|_| DeviceAcc::default()).collect(),
            pool_state: vec![PoolState::Unparsed; cfg.pools.len()],
            pool_servers: Vec::new(),
        };
        for (vi, (vs, resolved)) in cfg.virtual_services.iter().zip(&model.virtual_services).enumerate() {
            let Some(pname) = vs.traffic_clone_profile.as_deref() else {
                continue;
            };
            let vpath = || format!("virtual_services[{vi}]");
            let Some(pi) = resolved.profile else {
                errs.push(Diagnostic::error(
                    format!("{}.traffic_clone_profile", vpath()),
                    format!("unknown traffic clone profile `{pname}`"),
                ));
                continue;
            };
            let Some(group) = resolved.se_group else {
                errs.push(Diagnostic::error(
                    format!("{}.se_group", vpath()),
                    format!("unknown SE group `{}`", vs.se_group),
                ));
                continue;
            };
            let Some(pool) = resolved.pool else {
                errs.push(Diagnostic::error(format!("{}.pool", vpath()), format!("unknown pool `{}`", vs.pool)));
                continue;
            };
            placement.read_pool(model, pool, errs);
            if inputs.profiles[pi].servers.is_none() {
                continue;
            }
            // The distinct protocols of the VS's services, as a set of bits.
            let protocols = vs.services.iter().fold(0u8, |set, s| set | protocol_bit(s.protocol));
            for se in model.groups[group].ses.clone() {
                let Some(d) = inputs.ses[se].device else { continue };
                let acc = &mut placement.devices[d];
                let key = *acc.key_ix.entry((pi, se)).or_insert_with(|| {
                    acc.keys.push((pi, se));
                    acc.keys.len() - 1
                });
                acc.work.push(Work { vs: vi as u32, key: key as u32, pool: pool as u32, protocols });
            }
        }
        placement
    }

    /// Reads the servers of `pool` the first time it is used, reporting members
    /// whose address does not parse.
    fn read_pool(&mut self, model: &Model<'_>, pool: usize, errs: &mut Vec<Diagnostic>) {
        if !matches!(self.pool_state[pool], PoolState::Unparsed) {
            return;
        }
        let start = self.pool_servers.len();
        let mut ok = true;
        let servers = &model.config.pools[pool].servers;
        for (si, (s, ip)) in servers.iter().zip(&model.pool_servers[model.pools[pool].servers.clone()]).enumerate() {
            match ip {
                Ok(ip) => self.pool_servers.push((*ip, s.port)),
                Err(e) => {
                    ok = false;
                    errs.push(Diagnostic::error(format!("pools[{pool}].servers[{si}].ip"), e.as_str()));
                }
            }
        }
        self.pool_state[pool] = if ok {
            PoolState::Parsed(start as u32, self.pool_servers.len() as u32)
        } else {
            self.pool_servers.truncate(start);
            PoolState::Bad
        };
    }

    /// The (ip, port) servers of `pool`, if it was read and every address parsed.
    pub(super) fn servers(&self, pool: usize) -> Option<&[(IpAddr, u16)]> {
        match self.pool_state[pool] {
            PoolState::Parsed(start, end) => Some(&self.pool_servers[start as usize..end as usize]),
            PoolState::Unparsed | PoolState::Bad => None,
        }
    }
}
