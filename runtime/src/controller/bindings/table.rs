//! [`BindingTable`]: the live bindings, which devices each goes to, what each
//! device still needs written, the per-device bound, and the counters.
//!
//! A binding goes to every device whose SEs own its SE address (as the
//! compiler places config `nat_bindings`). Per device and address family the
//! config bindings plus the live ones may not exceed the NAT table's size (the
//! program's P4Info, or a lower `max_bindings`): an add that would exceed it is
//! refused ([`BindingError::Full`]) and counted; nothing accepted is dropped.
//!
//! Per device the table keeps what it believes the device holds (`written`)
//! and the keys changed since (`dirty`); the device task drains them in
//! batches ([`BindingTable::drain`]) and, on every reconcile, takes a
//! snapshot of the device's live bindings ([`BindingTable::reconcile_snapshot`])
//! that becomes the new `written`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use p4clone_compiler::config::{Config, Target};
use p4clone_compiler::intent::NatEntry;
use p4clone_compiler::model::Model;
use p4clone_proto::program::tables;
use tokio::sync::Notify;

use super::binding::{Binding, BindingKey};

/// Why an op was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// No SE of the config has the SE address.
    #[error(
        "no SE of the config has the address {0} (a binding goes to the devices of the SEs that own its SE address)"
    )]
    UnknownSe(IpAddr),
    /// The SE endpoint is bound by the config file.
    #[error("{0} is bound by the config file (nat_bindings); a live binding cannot change it")]
    ConfigBound(BindingKey),
    /// A device's NAT table of that family is full.
    #[error(
        "the {family} NAT table of device {device} is full ({capacity} bindings, config and live); remove bindings first"
    )]
    Full {
        /// The full device.
        device: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// Its bound.
        capacity: usize,
    },
    /// Remove of an endpoint with no live binding.
    #[error("{0} has no live binding")]
    NotFound(BindingKey),
    /// This controller is backup of a device the binding goes to.
    #[error("this controller is backup of device {0}; send bindings to its primary controller")]
    NotPrimary(String),
}

/// An add or a remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingOp {
    /// Add, refresh or rebind.
    Add(Binding),
    /// Remove.
    Remove(BindingKey),
}

/// What a batch of ops did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Adds accepted (new, refreshed or rebound).
    pub added: u64,
    /// Removes of live bindings.
    pub removed: u64,
    /// Removes of endpoints with no live binding.
    pub not_found: u64,
}

/// What a device needs written: NAT entries to insert, modify and delete.
#[derive(Debug, Default)]
pub struct Drained {
    /// New bindings.
    pub inserts: Vec<NatEntry>,
    /// Rebound SE endpoints (the new client).
    pub modifies: Vec<NatEntry>,
    /// Removed bindings (as written).
    pub deletes: Vec<NatEntry>,
}

impl Drained {
    /// Number of bindings (each is two table entries).
    pub fn len(&self) -> usize {
        self.inserts.len() + self.modifies.len() + self.deletes.len()
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Live {
    client: SocketAddr,
    refreshed: Instant,
}

#[derive(Default)]
struct Slot {
    /// Per family: the most bindings (config + live) this device may hold (its
    /// program's NAT table size, or `--max-bindings` if lower).
    capacity: [usize; 2],
    /// Config bindings on this device, per family.
    config: [usize; 2],
    /// Live bindings going to this device, per family.
    live: [usize; 2],
    /// Live bindings as last written (or found by a reconcile).
    written: HashMap<BindingKey, SocketAddr>,
    /// Keys changed since.
    dirty: HashSet<BindingKey>,
    notify: Arc<Notify>,
    /// Another controller is primary: changes are refused.
    backup: bool,
    adds: u64,
    removes: u64,
    refused_full: u64,
    inserted: u64,
    modified: u64,
    deleted: u64,
    write_errors: u64,
}

#[derive(Default)]
struct Inner {
    /// SE address → devices of the SEs that own it.
    routes: HashMap<IpAddr, Vec<String>>,
    /// Keys bound by the config.
    config_keys: HashSet<BindingKey>,
    live: HashMap<BindingKey, Live>,
    devices: BTreeMap<String, Slot>,
    expired: u64,
    adopted: u64,
}

/// The live bindings of a controller (see the module docs).
pub struct BindingTable {
    inner: Mutex<Inner>,
    /// Per family: the most bindings (config + live) a v1model device may hold
    /// (a device's own bound, from its target's program, is in its slot).
    capacity: [usize; 2],
    /// `--max-bindings`.
    max_bindings: Option<usize>,
    /// Dirty keys of a device at which its task is woken at once.
    batch: usize,
}

impl std::fmt::Debug for BindingTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindingTable").field("capacity", &self.capacity).field("live", &self.len()).finish()
    }
}

const FAMILY: [&str; 2] = ["IPv4", "IPv6"];

/// A per-device metric: name, kind, help, value.
type SlotMetric = (&'static str, &'static str, &'static str, fn(&Slot) -> u64);

/// The NAT tables' sizes in the v1model program's P4Info, per family (the
/// `nat_src_*` and `nat_dst_*` tables of a family have the same size; the smaller
/// counts).
pub fn program_capacity() -> [usize; 2] {
    target_capacity(Target::Soft)
}

/// [`program_capacity`] of the program a `target` device runs (Tofino's NAT
/// tables are smaller).
pub fn target_capacity(target: Target) -> [usize; 2] {
    let size = |ids: [u32; 2]| -> usize {
        target
            .rules()
            .schema()
            .ok()
            .and_then(|s| ids.iter().map(|&id| s.table_by_id(id).ok().map(|t| t.size)).min().flatten())
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    };
    [size([tables::NAT_SRC_V4.id, tables::NAT_DST_V4.id]), size([tables::NAT_SRC_V6.id, tables::NAT_DST_V6.id])]
}

impl BindingTable {
    /// An empty table for `cfg`; per family a device holds at most the NAT
    /// table's size, or `max_bindings` if lower; `batch`: dirty keys at which
    /// a device task is woken without waiting for its flush delay.
    pub fn new(cfg: &Config, max_bindings: Option<usize>, batch: usize) -> BindingTable {
        let cap = program_capacity().map(|c| max_bindings.map_or(c, |m| m.min(c)));
        let t = BindingTable { inner: Mutex::new(Inner::default()), capacity: cap, max_bindings, batch: batch.max(1) };
        t.set_config(cfg);
        t
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Per family, the most bindings a device may hold.
    pub fn capacity(&self) -> [usize; 2] {
        self.capacity
    }

    /// Number of live bindings.
    pub fn len(&self) -> usize {
        self.with(|i| i.live.len())
    }

    /// Whether there is no live binding.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes a new config: routes, config bindings and devices. Live bindings
    /// the config now binds, or whose SE address no SE owns any more, are
    /// dropped; their descriptions are returned (for the log).
    pub fn set_config(&self, cfg: &Config) -> Vec<String> {
        let model = Model::resolve(cfg);
        let mut routes: HashMap<IpAddr, Vec<String>> = HashMap::new();
        for se in &model.ses {
            let Some(d) = se.device else { continue };
            for itf in &model.interfaces[se.interfaces.clone()] {
                if let Ok(a) = &itf.addr {
                    let v = routes.entry(a.addr).or_default();
                    if !v.contains(&cfg.devices[d].name) {
                        v.push(cfg.devices[d].name.clone());
                    }
                }
            }
        }
        let mut config_keys = HashSet::new();
        let mut config_counts: HashMap<String, [usize; 2]> = HashMap::new();
        for (b, r) in cfg.nat_bindings.iter().zip(&model.nat_bindings) {
            let Ok(se) = r.se else { continue };
            let key = BindingKey { se, protocol: b.protocol };
            if config_keys.insert(key) {
                for d in routes.get(&se.ip()).into_iter().flatten() {
                    config_counts.entry(d.clone()).or_default()[key.family()] += 1;
                }
            }
        }
        self.with(|i| {
            let mut dropped = Vec::new();
            i.live.retain(|k, l| {
                let why = if config_keys.contains(k) {
                    "the config now binds it"
                } else if !routes.contains_key(&k.se.ip()) {
                    "no SE of the config owns its SE address any more"
                } else {
                    return true;
                };
                dropped.push(format!("{} dropped: {why}", Binding { key: *k, client: l.client }));
                false
            });
            i.devices.retain(|name, _| cfg.devices.iter().any(|d| &d.name == name));
            for d in &cfg.devices {
                let s = i.devices.entry(d.name.clone()).or_default();
                s.capacity = target_capacity(d.target).map(|c| self.max_bindings.map_or(c, |m| m.min(c)));
                s.config = config_counts.get(d.name.as_str()).copied().unwrap_or_default();
                s.live = [0; 2];
            }
            for k in i.live.keys() {
                for d in routes.get(&k.se.ip()).into_iter().flatten() {
                    if let Some(s) = i.devices.get_mut(d) {
                        s.live[k.family()] += 1;
                    }
                }
            }
            i.routes = routes;
            i.config_keys = config_keys;
            dropped
        })
    }

    /// The devices a binding of SE address `addr` goes to.
    pub fn devices_of(&self, addr: IpAddr) -> Result<Vec<String>, BindingError> {
        self.with(|i| i.routes.get(&addr).cloned().ok_or(BindingError::UnknownSe(addr)))
    }

    /// Applies `ops` in order, stopping at the first refused one: what was
    /// accepted, and the refused op's index and error.
    pub fn apply(&self, ops: &[BindingOp]) -> (Applied, Option<(usize, BindingError)>) {
        let now = Instant::now();
        self.with(|i| {
            let mut done = Applied::default();
            for (n, op) in ops.iter().enumerate() {
                let r = match op {
                    BindingOp::Add(b) => i.add(b, now, self.batch).map(|()| done.added += 1),
                    BindingOp::Remove(k) => match i.remove_checked(k, self.batch) {
                        Ok(_) => {
                            done.removed += 1;
                            Ok(())
                        }
                        Err(BindingError::NotFound(_)) => {
                            done.not_found += 1;
                            Ok(())
                        }
                        Err(e) => Err(e),
                    },
                };
                if let Err(e) = r {
                    return (done, Some((n, e)));
                }
            }
            (done, None)
        })
    }

    /// Adds (or refreshes, or rebinds) one binding.
    pub fn add(&self, b: Binding) -> Result<(), BindingError> {
        self.with(|i| i.add(&b, Instant::now(), self.batch))
    }

    /// Removes the binding of `key`; returns its client.
    pub fn remove(&self, key: &BindingKey) -> Result<SocketAddr, BindingError> {
        self.with(|i| i.remove_checked(key, self.batch))
    }

    /// Every live binding, sorted by SE endpoint.
    pub fn list(&self) -> Vec<Binding> {
        let mut v: Vec<Binding> =
            self.with(|i| i.live.iter().map(|(k, l)| Binding { key: *k, client: l.client }).collect());
        v.sort_unstable();
        v
    }

    /// Removes the bindings no add refreshed for `idle`; returns how many.
    pub fn expire(&self, idle: Duration) -> usize {
        let now = Instant::now();
        self.with(|i| {
            let old: Vec<BindingKey> =
                i.live.iter().filter(|(_, l)| now.duration_since(l.refreshed) >= idle).map(|(k, _)| *k).collect();
            for k in &old {
                let _ = i.remove(k, self.batch);
            }
            i.expired += old.len() as u64;
            old.len()
        })
    }

    /// What wakes `device`'s task when it has bindings to write.
    pub fn notifier(&self, device: &str) -> Arc<Notify> {
        self.with(|i| Arc::clone(&i.devices.entry(device.to_string()).or_default().notify))
    }

    /// Whether this controller is backup of `device` (another controller is
    /// primary): adds and removes of its bindings are then refused.
    pub fn set_backup(&self, device: &str, backup: bool) {
        self.with(|i| i.devices.entry(device.to_string()).or_default().backup = backup);
    }

    /// Keys of `device` waiting to be written.
    pub fn pending(&self, device: &str) -> usize {
        self.with(|i| i.devices.get(device).map_or(0, |s| s.dirty.len()))
    }

    /// The live bindings of `device`, as NAT entries, for a reconcile (which
    /// writes config + these); from now on the table takes them as written.
    pub fn reconcile_snapshot(&self, device: &str) -> Vec<NatEntry> {
        self.with(|i| {
            let Inner { routes, live, devices, .. } = i;
            let Some(slot) = devices.get_mut(device) else { return Vec::new() };
            slot.dirty.clear();
            slot.written.clear();
            let mut out = Vec::new();
            for (k, l) in live.iter() {
                if routes.get(&k.se.ip()).is_some_and(|ds| ds.iter().any(|d| d == device)) {
                    slot.written.insert(*k, l.client);
                    out.push(Binding { key: *k, client: l.client }.nat_entry());
                }
            }
            out
        })
    }

    /// Up to `max` changed bindings of `device` to write; the table takes them
    /// as written (a failed write triggers a reconcile, which corrects it).
    pub fn drain(&self, device: &str, max: usize) -> Drained {
        self.with(|i| {
            let Inner { routes, live, devices, .. } = i;
            let mut out = Drained::default();
            let Some(slot) = devices.get_mut(device) else { return out };
            let keys: Vec<BindingKey> = slot.dirty.iter().take(max).copied().collect();
            for k in keys {
                slot.dirty.remove(&k);
                let routed = routes.get(&k.se.ip()).is_some_and(|ds| ds.iter().any(|d| d == device));
                let want = live.get(&k).filter(|_| routed).map(|l| l.client);
                match (want, slot.written.get(&k).copied()) {
                    (Some(c), None) => out.inserts.push(Binding { key: k, client: c }.nat_entry()),
                    (Some(c), Some(was)) if c != was => out.modifies.push(Binding { key: k, client: c }.nat_entry()),
                    (None, Some(was)) => out.deletes.push(Binding { key: k, client: was }.nat_entry()),
                    _ => continue,
                }
                match want {
                    Some(c) => slot.written.insert(k, c),
                    None => slot.written.remove(&k),
                };
            }
            out
        })
    }

    /// Counts what a flush of `device` wrote (bindings inserted, modified,
    /// deleted) and how many updates failed.
    pub fn record_writes(&self, device: &str, (inserted, modified, deleted): (usize, usize, usize), errors: usize) {
        self.with(|i| {
            if let Some(s) = i.devices.get_mut(device) {
                s.inserted += inserted as u64;
                s.modified += modified as u64;
                s.deleted += deleted as u64;
                s.write_errors += errors as u64;
            }
        });
    }

    /// Takes the bindings read from `device` that are not config bindings
    /// and whose SE address an SE of `device` owns as live bindings (within
    /// the bound). With `replace` (failover: the device is the truth) the
    /// live bindings of `device` it does not hold are dropped. Returns
    /// (adopted, dropped).
    pub fn adopt(&self, device: &str, found: impl IntoIterator<Item = Binding>, replace: bool) -> (usize, usize) {
        let now = Instant::now();
        self.with(|i| {
            let routed =
                |i: &Inner, k: &BindingKey| i.routes.get(&k.se.ip()).is_some_and(|ds| ds.iter().any(|d| d == device));
            let mut seen = HashSet::new();
            let mut adopted = 0;
            for b in found {
                if !routed(i, &b.key) || i.config_keys.contains(&b.key) {
                    continue;
                }
                seen.insert(b.key);
                if i.live.get(&b.key).is_some_and(|l| l.client == b.client) {
                    continue;
                }
                if i.add(&b, now, self.batch).is_ok() {
                    adopted += 1;
                }
            }
            let stale: Vec<BindingKey> = if replace {
                i.live.keys().filter(|k| routed(i, k) && !seen.contains(k)).copied().collect()
            } else {
                Vec::new()
            };
            for k in &stale {
                let _ = i.remove(k, self.batch);
            }
            i.adopted += adopted as u64;
            (adopted, stale.len())
        })
    }

    /// The bindings metrics (Prometheus text).
    pub fn render_prometheus(&self) -> String {
        self.with(|i| {
            let mut out = String::new();
            let head = |out: &mut String, name: &str, kind: &str, help: &str| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            };
            head(&mut out, "p4clone_controller_bindings_live", "gauge", "Live NAT bindings (all devices)");
            let _ = writeln!(out, "p4clone_controller_bindings_live {}", i.live.len());
            head(&mut out, "p4clone_controller_bindings_expired_total", "counter", "Live bindings idle-timed out");
            let _ = writeln!(out, "p4clone_controller_bindings_expired_total {}", i.expired);
            head(
                &mut out,
                "p4clone_controller_bindings_adopted_total",
                "counter",
                "Bindings read back from a device and adopted on becoming primary",
            );
            let _ = writeln!(out, "p4clone_controller_bindings_adopted_total {}", i.adopted);
            head(
                &mut out,
                "p4clone_controller_bindings_capacity",
                "gauge",
                "Bindings a device of the default program may hold per family (per device: the next metric)",
            );
            for (f, c) in FAMILY.iter().zip(self.capacity) {
                let _ = writeln!(out, "p4clone_controller_bindings_capacity{{family=\"{f}\"}} {c}");
            }
            let per_device: [SlotMetric; 10] = [
                ("p4clone_controller_bindings", "gauge", "Live bindings going to the device", |s| {
                    (s.live[0] + s.live[1]) as u64
                }),
                ("p4clone_controller_bindings_config", "gauge", "Config bindings on the device", |s| {
                    (s.config[0] + s.config[1]) as u64
                }),
                ("p4clone_controller_bindings_pending", "gauge", "Bindings waiting to be written", |s| {
                    s.dirty.len() as u64
                }),
                ("p4clone_controller_binding_adds_total", "counter", "Adds accepted (new, refreshed, rebound)", |s| {
                    s.adds
                }),
                ("p4clone_controller_binding_removes_total", "counter", "Removes accepted", |s| s.removes),
                (
                    "p4clone_controller_bindings_refused_full_total",
                    "counter",
                    "Adds refused because the device's NAT table is full",
                    |s| s.refused_full,
                ),
                ("p4clone_controller_binding_inserts_total", "counter", "Bindings inserted on the device", |s| {
                    s.inserted
                }),
                ("p4clone_controller_binding_modifies_total", "counter", "Bindings rebound on the device", |s| {
                    s.modified
                }),
                ("p4clone_controller_binding_deletes_total", "counter", "Bindings deleted from the device", |s| {
                    s.deleted
                }),
                (
                    "p4clone_controller_binding_write_errors_total",
                    "counter",
                    "Binding updates the device refused",
                    |s| s.write_errors,
                ),
            ];
            let device_label = |d: &str| d.replace('\\', "\\\\").replace('"', "\\\"");
            for (name, kind, help, f) in per_device {
                head(&mut out, name, kind, help);
                for (d, s) in &i.devices {
                    let _ = writeln!(out, "{name}{{device=\"{}\"}} {}", device_label(d), f(s));
                }
            }
            let name = "p4clone_controller_device_bindings_capacity";
            head(&mut out, name, "gauge", "Bindings the device may hold per family (its program's NAT tables)");
            for (d, s) in &i.devices {
                for (f, c) in FAMILY.iter().zip(s.capacity) {
                    let _ = writeln!(out, "{name}{{device=\"{}\",family=\"{f}\"}} {c}", device_label(d));
                }
            }
            out
        })
    }
}

impl Inner {
    fn mark(&mut self, k: &BindingKey, batch: usize, count: impl Fn(&mut Slot)) {
        for d in self.routes.get(&k.se.ip()).into_iter().flatten() {
            if let Some(s) = self.devices.get_mut(d) {
                count(s);
                if s.dirty.insert(*k) && (s.dirty.len() == 1 || s.dirty.len() == batch) {
                    s.notify.notify_one();
                }
            }
        }
    }

    fn add(&mut self, b: &Binding, now: Instant, batch: usize) -> Result<(), BindingError> {
        let k = b.key;
        if self.config_keys.contains(&k) {
            return Err(BindingError::ConfigBound(k));
        }
        let Some(devs) = self.routes.get(&k.se.ip()) else {
            return Err(BindingError::UnknownSe(k.se.ip()));
        };
        if let Some(d) = devs.iter().find(|d| self.devices.get(*d).is_some_and(|s| s.backup)) {
            return Err(BindingError::NotPrimary(d.clone()));
        }
        let f = k.family();
        if let Some(l) = self.live.get_mut(&k) {
            l.refreshed = now;
            if l.client == b.client {
                for d in devs {
                    if let Some(s) = self.devices.get_mut(d) {
                        s.adds += 1;
                    }
                }
                return Ok(());
            }
            l.client = b.client;
            self.mark(&k, batch, |s| s.adds += 1);
            return Ok(());
        }
        let mut full = None;
        for d in devs {
            if let Some(s) = self.devices.get_mut(d) {
                if s.config[f] + s.live[f] >= s.capacity[f] {
                    s.refused_full += 1;
                    full.get_or_insert_with(|| (d.clone(), s.capacity[f]));
                }
            }
        }
        if let Some((device, capacity)) = full {
            return Err(BindingError::Full { device, family: FAMILY[f], capacity });
        }
        self.live.insert(k, Live { client: b.client, refreshed: now });
        self.mark(&k, batch, |s| {
            s.adds += 1;
            s.live[f] += 1;
        });
        Ok(())
    }

    /// A remove by a client: refused where this controller is backup.
    fn remove_checked(&mut self, k: &BindingKey, batch: usize) -> Result<SocketAddr, BindingError> {
        let backup =
            self.routes.get(&k.se.ip()).into_iter().flatten().find(|d| self.devices.get(*d).is_some_and(|s| s.backup));
        if let Some(d) = backup {
            return Err(BindingError::NotPrimary(d.clone()));
        }
        self.remove(k, batch)
    }

    fn remove(&mut self, k: &BindingKey, batch: usize) -> Result<SocketAddr, BindingError> {
        let l = self.live.remove(k).ok_or(BindingError::NotFound(*k))?;
        let f = k.family();
        self.mark(k, batch, |s| {
            s.removes += 1;
            s.live[f] = s.live[f].saturating_sub(1);
        });
        Ok(l.client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::bindings::binding::parse_binding;

    fn cfg() -> Config {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/multi.yaml")).unwrap();
        p4clone_compiler::source::load_str(&text, p4clone_compiler::source::Format::Yaml).unwrap().config
    }

    fn b(se: &str, client: &str) -> Binding {
        parse_binding("", se, client, "tcp").unwrap()
    }

    #[test]
    fn bound_per_device_and_family_counts_config_bindings() {
        // nic0 holds multi.yaml's one config binding (IPv4): 2 more fit with a bound of 3.
        let t = BindingTable::new(&cfg(), Some(3), 10);
        assert_eq!(t.capacity(), [3, 3]);
        t.add(b("10.20.0.5:1", "1.1.1.1:1")).unwrap();
        t.add(b("10.30.0.5:2", "1.1.1.1:2")).unwrap();
        let e = t.add(b("10.20.0.5:3", "1.1.1.1:3")).unwrap_err();
        assert!(matches!(&e, BindingError::Full { device, family: "IPv4", capacity: 3 } if device == "nic0"), "{e}");
        // A refresh and a rebind of an existing binding still go through; sw1 has room.
        t.add(b("10.20.0.5:1", "1.1.1.1:1")).unwrap();
        t.add(b("10.20.0.5:1", "1.1.1.1:9")).unwrap();
        t.add(b("10.20.0.6:1", "1.1.1.1:1")).unwrap();
        assert!(t.render_prometheus().contains("p4clone_controller_bindings_refused_full_total{device=\"nic0\"} 1"));
        assert_eq!(t.len(), 3);
        let cfg_key = b("10.30.0.5:40001", "9.9.9.9:9");
        assert!(matches!(t.add(cfg_key), Err(BindingError::ConfigBound(_))));
        assert!(matches!(t.add(b("10.99.0.5:1", "1.1.1.1:1")), Err(BindingError::UnknownSe(_))));
    }

    #[test]
    fn a_tofino_device_is_bounded_by_its_own_program() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/tofino.yaml")).unwrap();
        let cfg = p4clone_compiler::source::load_str(&text, p4clone_compiler::source::Format::Yaml).unwrap().config;
        let tofino = target_capacity(Target::Tofino);
        assert!(tofino[0] < program_capacity()[0] && tofino[1] < program_capacity()[1], "{tofino:?}");
        let t = BindingTable::new(&cfg, None, 1 << 20);
        for i in 0..tofino[0] {
            t.add(b(&format!("10.20.0.5:{}", i + 1), "1.1.1.1:1")).unwrap();
        }
        let e = t.add(b("10.20.0.5:65535", "1.1.1.1:1")).unwrap_err();
        assert!(
            matches!(&e, BindingError::Full { device, capacity, .. } if device == "nic0" && *capacity == tofino[0]),
            "{e}"
        );
        let text = t.render_prometheus();
        let want =
            format!("p4clone_controller_device_bindings_capacity{{device=\"nic0\",family=\"IPv4\"}} {}", tofino[0]);
        assert!(text.contains(&want), "{text}");
        // --max-bindings still lowers it.
        let t = BindingTable::new(&cfg, Some(2), 10);
        t.add(b("10.20.0.5:1", "1.1.1.1:1")).unwrap();
        t.add(b("10.20.0.5:2", "1.1.1.1:1")).unwrap();
        assert!(matches!(t.add(b("10.20.0.5:3", "1.1.1.1:1")), Err(BindingError::Full { capacity: 2, .. })));
    }

    #[test]
    fn drain_coalesces_and_snapshots_reset_what_is_written() {
        let t = BindingTable::new(&cfg(), None, 10);
        t.add(b("10.20.0.5:1", "1.1.1.1:1")).unwrap();
        t.add(b("10.20.0.5:2", "1.1.1.1:2")).unwrap();
        t.remove(&b("10.20.0.5:2", "1.1.1.1:2").key).unwrap();
        let d = t.drain("nic0", 100);
        assert_eq!((d.inserts.len(), d.modifies.len(), d.deletes.len()), (1, 0, 0), "add + remove: nothing");
        assert!(t.drain("sw1", 100).is_empty());
        t.add(b("10.20.0.5:1", "1.1.1.1:7")).unwrap();
        t.remove(&b("10.20.0.5:1", "1.1.1.1:7").key).unwrap();
        let d = t.drain("nic0", 100);
        assert_eq!((d.inserts.len(), d.modifies.len(), d.deletes.len()), (0, 0, 1), "rebind + remove: a delete");
        t.add(b("10.20.0.5:5", "1.1.1.1:5")).unwrap();
        assert_eq!(t.reconcile_snapshot("nic0").len(), 1);
        assert_eq!(t.pending("nic0"), 0);
        assert!(t.drain("nic0", 100).is_empty(), "the reconcile wrote it");
    }

    #[test]
    fn adoption_merges_at_start_and_replaces_after_failover() {
        let t = BindingTable::new(&cfg(), None, 10);
        t.add(b("10.20.0.5:1", "1.1.1.1:1")).unwrap();
        let found =
            [b("10.20.0.5:2", "1.1.1.1:2"), b("10.30.0.5:40001", "198.51.100.7:51515"), b("10.20.0.6:3", "1.1.1.1:3")];
        // Config bindings and bindings of another device's SE are not taken.
        assert_eq!(t.adopt("nic0", found, false), (1, 0));
        assert_eq!(t.len(), 2);
        assert_eq!(t.adopt("nic0", [b("10.20.0.5:2", "1.1.1.1:2")], true), (0, 1));
        assert_eq!(t.list(), vec![b("10.20.0.5:2", "1.1.1.1:2")]);
        t.set_backup("nic0", true);
        assert!(matches!(t.add(b("10.20.0.5:9", "1.1.1.1:9")), Err(BindingError::NotPrimary(d)) if d == "nic0"));
        assert!(t.add(b("10.20.0.6:9", "1.1.1.1:9")).is_ok(), "sw1 is not backed up");
    }
}
