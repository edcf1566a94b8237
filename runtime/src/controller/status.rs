//! What the controller knows about each device, shared by the device tasks
//! (writers) and `/healthz`, `/metrics` and the logs (readers).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::metrics::Health;

/// This controller's role on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// No stream (connecting, or waiting to reconnect).
    Disconnected,
    /// Stream open, this controller is primary: it writes.
    Primary,
    /// Stream open, another controller is primary: nothing is written.
    Backup,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Disconnected => "disconnected",
            Role::Primary => "primary",
            Role::Backup => "backup",
        }
    }
}

/// One device's state and counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceStatus {
    /// `host:port`.
    pub address: String,
    /// Current role.
    pub role: Role,
    /// The device matches the config in force (as of the last reconcile, which
    /// was made against the current config).
    pub in_sync: bool,
    /// Reconciles completed (with or without writes).
    pub reconciles: u64,
    /// Reconciles that found the device different and wrote to it.
    pub repairs: u64,
    /// Updates written (inserts + modifies + deletes + counter resets).
    pub writes: u64,
    /// Failed connects, reads and writes.
    pub errors: u64,
    /// Unix time of the last successful reconcile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_unix: Option<u64>,
    /// The last error, cleared by a successful reconcile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl DeviceStatus {
    fn new(address: &str) -> DeviceStatus {
        DeviceStatus {
            address: address.to_string(),
            role: Role::Disconnected,
            in_sync: false,
            reconciles: 0,
            repairs: 0,
            writes: 0,
            errors: 0,
            last_success_unix: None,
            last_error: None,
        }
    }

    /// Healthy: in sync as primary, or connected as backup (a backup does not
    /// write, the primary keeps the device in sync).
    pub fn healthy(&self) -> bool {
        match self.role {
            Role::Primary => self.in_sync,
            Role::Backup => true,
            Role::Disconnected => false,
        }
    }

    /// Why not [`DeviceStatus::healthy`].
    fn reason(&self) -> String {
        let base = match self.role {
            Role::Disconnected => format!("not connected ({})", self.address),
            _ => "not in sync".to_string(),
        };
        match &self.last_error {
            Some(e) => format!("{base}: {e}"),
            None => base,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    devices: BTreeMap<String, DeviceStatus>,
    config_error: Option<String>,
    config_reload_errors: u64,
    config_reloads: u64,
}

/// The shared status of every device and of the config.
#[derive(Debug, Default)]
pub struct StatusBoard {
    inner: Mutex<Inner>,
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl StatusBoard {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut g = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    fn device<T>(&self, name: &str, address: &str, f: impl FnOnce(&mut DeviceStatus) -> T) -> T {
        self.with(|i| {
            let d = i.devices.entry(name.to_string()).or_insert_with(|| DeviceStatus::new(address));
            d.address = address.to_string();
            f(d)
        })
    }

    /// Adds a device not seen yet (disconnected, not in sync), so that
    /// `/healthz` is not "ok" before its first reconcile.
    pub fn register(&self, name: &str, address: &str) {
        self.with(|i| {
            i.devices.entry(name.to_string()).or_insert_with(|| DeviceStatus::new(address));
        });
    }

    /// Sets the role; returns whether it changed.
    pub fn set_role(&self, name: &str, address: &str, role: Role) -> bool {
        self.device(name, address, |d| {
            let changed = d.role != role;
            d.role = role;
            if role != Role::Primary {
                d.in_sync = false;
            }
            changed
        })
    }

    /// Marks the device out of sync (e.g. a new config is in force).
    pub fn mark_stale(&self, name: &str, address: &str) {
        self.device(name, address, |d| d.in_sync = false);
    }

    /// A successful reconcile that wrote `writes` updates.
    pub fn reconciled(&self, name: &str, address: &str, writes: usize) {
        self.device(name, address, |d| {
            d.reconciles += 1;
            if writes > 0 {
                d.repairs += 1;
                d.writes += writes as u64;
            }
            d.in_sync = true;
            d.last_success_unix = Some(now_unix());
            d.last_error = None;
        });
    }

    /// Updates written outside a reconcile (live bindings).
    pub fn wrote(&self, name: &str, address: &str, writes: usize) {
        self.device(name, address, |d| d.writes += writes as u64);
    }

    /// A failure (connect, read, write); the device is not in sync.
    pub fn failed(&self, name: &str, address: &str, error: &str, writes: usize) {
        self.device(name, address, |d| {
            d.errors += 1;
            d.writes += writes as u64;
            d.in_sync = false;
            d.last_error = Some(error.to_string());
        });
    }

    /// The device left the config.
    pub fn remove(&self, name: &str) {
        self.with(|i| i.devices.remove(name));
    }

    /// A config was applied (`None`) or refused (the error).
    pub fn set_config_result(&self, error: Option<String>) {
        self.with(|i| {
            if error.is_some() {
                i.config_reload_errors += 1;
            } else {
                i.config_reloads += 1;
            }
            i.config_error = error;
        });
    }

    /// A copy of every device's status.
    pub fn devices(&self) -> BTreeMap<String, DeviceStatus> {
        self.with(|i| i.devices.clone())
    }

    /// `/healthz`: ok when every device is healthy and the config file in
    /// force is the one on disk; else `degraded` with `not_in_sync`
    /// (device → reason) and `config_error`.
    pub fn health(&self) -> Health {
        self.with(|i| {
            let bad: serde_json::Map<String, serde_json::Value> = i
                .devices
                .iter()
                .filter(|(_, d)| !d.healthy())
                .map(|(n, d)| (n.clone(), serde_json::Value::from(d.reason())))
                .collect();
            let mut h = Health::ok();
            if !bad.is_empty() || i.config_error.is_some() {
                h.status = "degraded".into();
            }
            if !bad.is_empty() {
                h = h.with("not_in_sync", bad);
            }
            if let Some(e) = &i.config_error {
                h = h.with("config_error", e.clone());
            }
            let devices = serde_json::to_value(&i.devices).unwrap_or_default();
            h.with("devices", devices)
        })
    }

    /// The controller's metrics in Prometheus text form.
    pub fn render_prometheus(&self) -> String {
        self.with(|i| {
            let mut out = String::new();
            let gauge = |out: &mut String, name: &str, kind: &str, help: &str| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            };
            let series = |out: &mut String, name: &str, f: &dyn Fn(&DeviceStatus) -> Option<u64>| {
                for (n, d) in &i.devices {
                    if let Some(v) = f(d) {
                        let _ = writeln!(out, "{name}{{device=\"{}\",address=\"{}\"}} {v}", esc(n), esc(&d.address));
                    }
                }
            };
            gauge(&mut out, "p4clone_controller_device_connected", "gauge", "1 when the StreamChannel is open");
            series(&mut out, "p4clone_controller_device_connected", &|d| Some(u64::from(d.role != Role::Disconnected)));
            gauge(&mut out, "p4clone_controller_device_role", "gauge", "1 for the current role of this controller");
            for (n, d) in &i.devices {
                for r in [Role::Disconnected, Role::Primary, Role::Backup] {
                    let _ = writeln!(
                        out,
                        "p4clone_controller_device_role{{device=\"{}\",address=\"{}\",role=\"{}\"}} {}",
                        esc(n),
                        esc(&d.address),
                        r.name(),
                        u64::from(d.role == r)
                    );
                }
            }
            gauge(&mut out, "p4clone_controller_device_in_sync", "gauge", "1 when the device matches the config");
            series(&mut out, "p4clone_controller_device_in_sync", &|d| Some(u64::from(d.in_sync)));
            gauge(&mut out, "p4clone_controller_reconciles_total", "counter", "Reconciles completed");
            series(&mut out, "p4clone_controller_reconciles_total", &|d| Some(d.reconciles));
            gauge(&mut out, "p4clone_controller_repairs_total", "counter", "Reconciles that wrote to the device");
            series(&mut out, "p4clone_controller_repairs_total", &|d| Some(d.repairs));
            gauge(&mut out, "p4clone_controller_writes_total", "counter", "Updates written");
            series(&mut out, "p4clone_controller_writes_total", &|d| Some(d.writes));
            gauge(&mut out, "p4clone_controller_errors_total", "counter", "Failed connects, reads and writes");
            series(&mut out, "p4clone_controller_errors_total", &|d| Some(d.errors));
            gauge(
                &mut out,
                "p4clone_controller_last_success_timestamp_seconds",
                "gauge",
                "Unix time of the last successful reconcile",
            );
            series(&mut out, "p4clone_controller_last_success_timestamp_seconds", &|d| d.last_success_unix);
            gauge(&mut out, "p4clone_controller_config_valid", "gauge", "0 when the config file on disk was refused");
            let _ = writeln!(out, "p4clone_controller_config_valid {}", u64::from(i.config_error.is_none()));
            gauge(&mut out, "p4clone_controller_config_reload_errors_total", "counter", "Config reloads refused");
            let _ = writeln!(out, "p4clone_controller_config_reload_errors_total {}", i.config_reload_errors);
            gauge(&mut out, "p4clone_controller_config_reloads_total", "counter", "Configs applied");
            let _ = writeln!(out, "p4clone_controller_config_reloads_total {}", i.config_reloads);
            out
        })
    }
}

/// A Prometheus label value, escaped.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_names_devices_not_in_sync_and_config_errors() {
        let b = StatusBoard::default();
        b.register("a", "127.0.0.1:1");
        assert!(!b.health().is_ok(), "a device not reconciled yet is not healthy");
        b.set_role("a", "127.0.0.1:1", Role::Primary);
        b.reconciled("a", "127.0.0.1:1", 3);
        assert!(b.health().is_ok());
        b.failed("b", "127.0.0.1:2", "connection refused", 0);
        let h = b.health();
        assert!(!h.is_ok());
        let v = serde_json::to_value(&h).unwrap();
        assert!(v["not_in_sync"]["b"].as_str().unwrap().contains("connection refused"), "{v}");
        assert!(v["not_in_sync"].get("a").is_none(), "{v}");
        b.remove("b");
        b.set_config_result(Some("c.yaml: error: x (line 3, column 1): bad".into()));
        let v = serde_json::to_value(b.health()).unwrap();
        assert_eq!(v["status"], "degraded");
        assert!(v["config_error"].as_str().unwrap().contains("line 3"));
        let m = b.render_prometheus();
        assert!(m.contains("p4clone_controller_repairs_total{device=\"a\",address=\"127.0.0.1:1\"} 1"), "{m}");
        assert!(m.contains("p4clone_controller_config_valid 0"), "{m}");
    }
}
