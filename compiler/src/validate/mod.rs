//! Validation: every rule a config must satisfy before it can be compiled.
//!
//! [`validate`] builds the object graph of a [`Config`] with petgraph — one node
//! per object (tenant, network, device, SE group, service engine, interface, pool,
//! virtual service, clone profile, clone server, NAT binding), edges for
//! containment and for references by name — and runs the rules below, one small
//! function each, returning every problem at once (errors and warnings) in a
//! deterministic order: rule by rule, and within a rule in config order. Pool
//! members are the one kind of object that is not a node: nothing refers to them by
//! name, they are most of the objects of a large config, and the rules that need
//! them read them from their pool.
//!
//! Reference rules add the edges of the references the model resolved (a name
//! that resolves to nothing is a dangling reference); the semantic rules then follow edges: tenancy
//! (VS -> profile -> tenant), "directly connected" (VS -> SE group -> SE ->
//! interface -> network), SSL tandems (VS -> VS whose VIP is a pool member).
//!
//! Names are resolved and every address-like value (subnets, interface addresses,
//! pool members, VIPs, clone servers, NAT endpoints) is parsed once, up front, into
//! the [`Model`] ([`crate::model`]) the rules share and [`check`] returns for
//! [`crate::intent`] to compile. A value that fails to parse is reported once, by
//! its value rule; the rules that need the parsed value skip it, so one mistake
//! does not cascade.
//!
//! Layout: `validator.rs` holds the graph and the look-ups the rules share; the
//! rules are grouped by subject, one file each (`names`, `values`, `addressing`,
//! `profiles`, `encap`, `filters`, `ports`, `services`, `nat`); this file runs them in order and sorts
//! the result (`document_order`).
//!
//! The cost is linear in the size of the config: names are resolved through hash
//! maps, node indices are computed rather than looked up, and what the
//! connectivity rules need per SE and SE group is derived once, not per VS.
//!
//! Every diagnostic names the exact object path of the offending field, e.g.
//! `traffic_clone_profiles[0].clone_servers[2].subnet`; [`crate::source::SourceMap`]
//! turns paths into line:column.

mod addressing;
mod document_order;
mod encap;
mod filters;
mod names;
mod nat;
mod ports;
mod profiles;
mod services;
mod validator;
mod values;

use crate::config::Config;
use crate::diag::{Diagnostic, Severity};
use crate::model::Model;
use document_order::path_key;
use validator::Validator;

pub use crate::limits::{MAX_CLONE_SERVERS, MAX_DEVICE_PORT, MAX_TRUNCATE, MAX_VLAN, MIN_TRUNCATE};

/// A config checked: its resolved [`Model`] (what [`crate::intent::compile_model`]
/// compiles) and every problem found, as [`validate`] returns them.
#[derive(Debug, Clone)]
pub struct Checked<'c> {
    /// The config with names resolved and values parsed.
    pub model: Model<'c>,
    /// Errors and warnings, in document order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Resolves `cfg` into its [`Model`] and checks it against every rule: the model
/// is built once and serves both validation and, if there are no errors, intent.
pub fn check(cfg: &Config) -> Checked<'_> {
    let model = Model::resolve(cfg);
    let diagnostics = validate_model(&model);
    Checked { model, diagnostics }
}

/// Checks `cfg` against every rule and returns all problems found, errors and
/// warnings, in a deterministic order. An empty result means the config is valid
/// and clean; see [`has_errors`] for "valid".
pub fn validate(cfg: &Config) -> Vec<Diagnostic> {
    validate_model(&Model::resolve(cfg))
}

/// [`validate`] on an already resolved model.
pub fn validate_model(model: &Model<'_>) -> Vec<Diagnostic> {
    let mut v = Validator::new(model);
    run(&mut v);
    // Document order: by object path (indices numerically, fields in schema
    // order), then rule order for one path.
    v.diags.sort_by_cached_key(|d| path_key(&d.path));
    v.diags
}

/// Runs every rule, in order (later rules read the edges earlier ones add).
fn run(v: &mut Validator<'_, '_>) {
    // Names and references (these build the graph's reference edges).
    v.rule_names_non_empty();
    v.rule_duplicate_names();
    v.rule_references();
    v.topology();
    v.rule_cross_tenant();
    // Values.
    v.rule_macs();
    v.rule_network_subnets();
    v.rule_vlans();
    v.rule_interface_addresses();
    v.rule_pool_server_values();
    v.rule_vips();
    v.rule_clone_server_values();
    v.rule_encap_form();
    v.rule_encap_values();
    v.rule_network_gateway_mtu();
    v.rule_nat_endpoints();
    v.rule_device_addresses();
    v.rule_port_range();
    // Addressing.
    v.rule_interface_in_subnet();
    v.rule_clone_server_subnet();
    v.rule_clone_server_ip_family();
    // Clone profiles.
    v.rule_clone_server_count();
    v.rule_truncate();
    v.rule_clone_server_connected();
    v.rule_encap_reachable();
    v.rule_filter_values();
    v.rule_filter_reach();
    v.rule_filter_targets();
    // Device ports.
    v.rule_interface_port_clash();
    v.rule_wires();
    // Virtual services.
    v.rule_services();
    v.rule_back_to_back();
    v.rule_pool_reachability();
    // NAT bindings.
    v.rule_nat_families();
    v.rule_nat_se_address();
    v.rule_nat_duplicates();
    v.rule_nat_unused();
}

/// Whether any diagnostic is an error (warnings alone leave a config valid).
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_keys_sort_in_document_order() {
        let mut paths = vec![
            "pools[10].servers[0].ip",
            "networks[1].vlan",
            "pools[2].servers[1].ip",
            "devices[0].wires[1][0]",
            "pools[2].name",
            "devices[0].wires[1]",
            "nat_bindings[0]",
            "tenants[0].name",
        ];
        paths.sort_by_key(|p| path_key(p));
        assert_eq!(
            paths,
            [
                "tenants[0].name",
                "networks[1].vlan",
                "devices[0].wires[1]",
                "devices[0].wires[1][0]",
                "pools[2].name",
                "pools[2].servers[1].ip",
                "pools[10].servers[0].ip",
                "nat_bindings[0]",
            ]
        );
    }

    #[test]
    fn empty_config_is_valid() {
        assert!(validate(&Config::default()).is_empty());
    }
}
