//! Object and entry counts of a compiled config, for `p4clone check`.

use serde::Serialize;

use super::entities::{Intent, TableCounts};
use crate::config::{Config, Target, DEFAULT_TENANT};

/// One device's line in a [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSummary {
    /// Device name.
    pub name: String,
    /// Data-plane kind.
    pub target: Target,
    /// P4Runtime endpoint.
    pub address: String,
    /// P4Runtime device id.
    pub device_id: u64,
    /// Member blocks ((profile, SE) pairs).
    pub blocks: usize,
    /// Entries per table.
    pub tables: TableCounts,
}

/// Object and entry counts of a compiled config, for `p4clone check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Tenants (the implicit `admin` included).
    pub tenants: usize,
    /// Virtual services.
    pub virtual_services: usize,
    /// Virtual services with a clone profile.
    pub cloned_virtual_services: usize,
    /// Traffic clone profiles.
    pub profiles: usize,
    /// Clone members over all devices.
    pub members: usize,
    /// Per device, sorted by name.
    pub devices: Vec<DeviceSummary>,
}

/// Counts objects of `cfg` and entries of its `intent`.
pub fn summarize(cfg: &Config, intent: &Intent) -> Summary {
    let mut tenants: Vec<&str> = cfg.tenants.iter().map(|t| t.name.as_str()).collect();
    tenants.push(DEFAULT_TENANT);
    tenants.sort_unstable();
    tenants.dedup();
    Summary {
        tenants: tenants.len(),
        virtual_services: cfg.virtual_services.len(),
        cloned_virtual_services: cfg.virtual_services.iter().filter(|v| v.traffic_clone_profile.is_some()).count(),
        profiles: cfg.traffic_clone_profiles.len(),
        members: intent.devices.iter().map(|d| d.members.len()).sum(),
        devices: intent
            .devices
            .iter()
            .map(|d| DeviceSummary {
                name: d.name.clone(),
                target: d.target,
                address: d.address.clone(),
                device_id: d.device_id,
                blocks: d.blocks.len(),
                tables: d.table_counts(),
            })
            .collect(),
    }
}
