//! Document order of diagnostics: object paths sorted with indices compared as
//! numbers and fields in the order the config schema declares them.

/// Field names in the order the config schema declares them (top level first).
const FIELD_ORDER: &[&str] = &[
    "tenants",
    "networks",
    "devices",
    "se_groups",
    "pools",
    "virtual_services",
    "traffic_clone_profiles",
    "nat_bindings",
    "name",
    "tenant",
    "subnet",
    "vlan",
    "target",
    "address",
    "device_id",
    "wires",
    "service_engines",
    "device",
    "interfaces",
    "port",
    "mac",
    "vip",
    "services",
    "protocol",
    "se_group",
    "pool",
    "traffic_clone_profile",
    "cloud",
    "preserve_client_ip",
    "distribution",
    "truncate",
    "clone_servers",
    "filters",
    "sample",
    "action",
    "direction",
    "src",
    "dst",
    "src_ports",
    "dst_ports",
    "flows_percent",
    "one_in",
    "network",
    "ip",
    "se",
    "client",
];

/// One step of an object path, ordered for sorting.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum PathStep {
    /// A field: its schema position, then its name (for names not in the list).
    Field(usize, String),
    /// A list index.
    Index(usize),
}

/// Sort key of an object path such as `pools[3].servers[10].ip`.
pub(super) fn path_key(path: &str) -> Vec<PathStep> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (field, rest) = part.split_once('[').map_or((part, ""), |(f, r)| (f, r));
        if !field.is_empty() {
            let rank = FIELD_ORDER.iter().position(|f| *f == field).unwrap_or(FIELD_ORDER.len());
            steps.push(PathStep::Field(rank, field.to_string()));
        }
        if !rest.is_empty() {
            for index in rest.split('[') {
                let digits = index.trim_end_matches(']');
                steps.push(PathStep::Index(digits.parse().unwrap_or(usize::MAX)));
            }
        }
    }
    steps
}
