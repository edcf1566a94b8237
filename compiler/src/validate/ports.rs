//! Device port rules: no port used by two interfaces, wires join two distinct
//! ports each in at most one wire.

use super::validator::{Obj, Rel, Validator};
use crate::net::FastHashMap;

impl Validator<'_, '_> {
    /// No device port is used by two interfaces (across all SEs on the device).
    pub(super) fn rule_interface_port_clash(&mut self) {
        let cfg = self.cfg;
        let mut used: FastHashMap<(Obj, u32), Obj> = FastHashMap::default();
        for (g, group) in cfg.se_groups.iter().enumerate() {
            for (s, se) in group.service_engines.iter().enumerate() {
                let Some(dev) = self.follow(Obj::Se(g, s), Rel::Device) else { continue };
                for (k, itf) in se.interfaces.iter().enumerate() {
                    let o = Obj::Interface(g, s, k);
                    match used.get(&(dev, itf.port)) {
                        Some(&first) => {
                            let Obj::Interface(fg, fs, fk) = first else { continue };
                            let fse = &cfg.se_groups[fg].service_engines[fs];
                            let msg = format!(
                                "port {} of device `{}` is already used by interface `{}` of SE `{}` ({})",
                                itf.port,
                                se.device,
                                fse.interfaces[fk].name,
                                fse.name,
                                first.path()
                            );
                            self.error(o.field("port"), msg);
                        }
                        None => {
                            used.insert((dev, itf.port), o);
                        }
                    }
                }
            }
        }
    }

    /// A wire joins two different ports, and a port is in at most one wire.
    pub(super) fn rule_wires(&mut self) {
        for (d, dev) in self.cfg.devices.iter().enumerate() {
            let mut seen: FastHashMap<u32, usize> = FastHashMap::default();
            for (w, &[a, b]) in dev.wires.iter().enumerate() {
                let path = format!("devices[{d}].wires[{w}]");
                if a == b {
                    self.error(path, format!("wire joins port {a} to itself"));
                    continue;
                }
                let reused: Vec<String> = [a, b]
                    .iter()
                    .filter_map(|port| {
                        seen.get(port).map(|first| format!("port {port} is already in devices[{d}].wires[{first}]"))
                    })
                    .collect();
                seen.entry(a).or_insert(w);
                seen.entry(b).or_insert(w);
                if !reused.is_empty() {
                    self.error(path, reused.join("; "));
                }
            }
        }
    }
}
