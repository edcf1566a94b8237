//! The site file: what the controller does not know. Which device sits in each
//! service engine's data path, which device port each SE interface is behind, its
//! MAC and address; the devices and their wires; VLANs of networks; NAT bindings.
//!
//! ```yaml
//! devices:                 # as in a p4clone config
//!   - { name: nic0, target: soft, wires: [[1, 2]] }
//! networks:                # optional: VLANs, or networks the controller does not have
//!   - { name: monitor, vlan: 50 }
//! se_groups:               # by the controller's ServiceEngineGroup name
//!   - name: Default-Group
//!     service_engines:
//!       - name: se-1
//!         device: nic0
//!         interfaces:
//!           - { name: backend0, port: 2, mac: "02:00:00:00:00:02", ip: 10.20.0.5/16, network: backend }
//! ```

use serde::Deserialize;

use super::objects::ImportError;
use crate::config::{Device, NatBinding, ServiceEngine};

/// A parsed site file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The P4 devices, as in a p4clone config.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// VLANs of imported networks, or networks the controller does not define.
    #[serde(default)]
    pub networks: Vec<SiteNetwork>,
    /// Service engines per SE group (the controller's SE group name).
    #[serde(default)]
    pub se_groups: Vec<SiteSeGroup>,
    /// NAT bindings copied into the config (for `preserve_client_ip`).
    #[serde(default)]
    pub nat_bindings: Vec<NatBinding>,
}

/// A network's site facts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteNetwork {
    /// The controller's Network name (or a new network's name).
    pub name: String,
    /// The subnet; required for a network the controller does not define,
    /// otherwise it replaces the controller's first configured subnet.
    #[serde(default)]
    pub subnet: Option<String>,
    /// The VLAN frames on this network carry.
    #[serde(default)]
    pub vlan: Option<u32>,
}

/// The service engines of one SE group.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSeGroup {
    /// The controller's ServiceEngineGroup name.
    pub name: String,
    /// Its service engines, as in a p4clone config.
    pub service_engines: Vec<ServiceEngine>,
}

/// Parses a site file's YAML text (the config's YAML reader, so errors carry the
/// object path and line:column); `file` names it in the error.
pub fn parse_site(file: &str, text: &str) -> Result<Site, ImportError> {
    crate::source::yaml_from_str(text).map_err(|e| ImportError::Site { file: file.to_string(), message: e.to_string() })
}
