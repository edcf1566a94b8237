//! NAT entries: every binding whose SE side is the address of an SE interface, on
//! the devices of those SEs, deduplicated per device.

use std::net::IpAddr;

use super::entities::NatEntry;
use super::inputs::Inputs;
use super::placement::DeviceAcc;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::model::Model;
use crate::net::FastHashMap;

/// Adds every binding to the devices whose SEs own its SE-side address, reporting
/// bindings that do not parse or mix address families.
pub(super) fn place_bindings(
    model: &Model<'_>,
    inputs: &Inputs<'_>,
    devices: &mut [DeviceAcc],
    errs: &mut Vec<Diagnostic>,
) {
    let mut addr_dev: FastHashMap<IpAddr, Vec<usize>> = FastHashMap::default();
    for se in &inputs.ses {
        if let Some(d) = se.device {
            for itf in se.ifaces.iter().flatten() {
                let v = addr_dev.entry(itf.addr.addr).or_default();
                if !v.contains(&d) {
                    v.push(d);
                }
            }
        }
    }
    for (bi, (b, resolved)) in model.config.nat_bindings.iter().zip(&model.nat_bindings).enumerate() {
        let bpath = format!("nat_bindings[{bi}]");
        let se = resolved.se.as_ref().map_err(|e| errs.push(Diagnostic::error(format!("{bpath}.se"), e.as_str())));
        let client =
            resolved.client.as_ref().map_err(|e| errs.push(Diagnostic::error(format!("{bpath}.client"), e.as_str())));
        let (Ok(se), Ok(client)) = (se, client) else {
            continue;
        };
        if se.is_ipv4() != client.is_ipv4() {
            errs.push(Diagnostic::error(
                format!("{bpath}.client"),
                format!("client `{}` and SE `{}` are of different address families", b.client, b.se),
            ));
            continue;
        }
        let Some(devs) = addr_dev.get(&se.ip()) else {
            continue;
        };
        for &d in devs {
            devices[d].nat.push((
                NatEntry {
                    se_addr: se.ip(),
                    se_port: se.port(),
                    client_addr: client.ip(),
                    client_port: client.port(),
                    protocol: b.protocol.number(),
                },
                bi,
            ));
        }
    }
}

/// The NAT entries of one device, sorted by SE endpoint, one per SE endpoint and
/// protocol; an endpoint bound to two different clients is reported.
pub(super) fn device_entries(cfg: &Config, placed: &[(NatEntry, usize)], errs: &mut Vec<Diagnostic>) -> Vec<NatEntry> {
    let mut nat: Vec<(NatEntry, usize)> = placed.to_vec();
    nat.sort_unstable_by_key(|(n, bi)| (n.se_addr, n.se_port, n.protocol, n.client_addr, n.client_port, *bi));
    let mut out: Vec<NatEntry> = Vec::with_capacity(nat.len());
    let mut last_bi: Option<usize> = None;
    for (n, bi) in nat {
        if let Some(prev) = out.last() {
            if prev.se_addr == n.se_addr && prev.se_port == n.se_port && prev.protocol == n.protocol {
                if prev != &n {
                    errs.push(Diagnostic::error(
                        format!("nat_bindings[{bi}]"),
                        format!(
                            "SE endpoint `{}` is bound to two different clients (see nat_bindings[{}])",
                            cfg.nat_bindings[bi].se,
                            last_bi.unwrap_or(bi)
                        ),
                    ));
                }
                continue;
            }
        }
        last_bi = Some(bi);
        out.push(n);
    }
    out
}
