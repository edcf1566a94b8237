//! Loading and validation: the examples are clean, each rule rejects a config that
//! breaks it at the exact object path (and line:column), and nothing panics.

use std::path::{Path, PathBuf};

use p4clone_compiler::diag::{Diagnostic, Location, Severity};
use p4clone_compiler::source::{load_file, load_str, Format, LoadError};
use p4clone_compiler::validate::{has_errors, validate};
use proptest::prelude::*;

use Severity::{Error, Warning};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn basic_text() -> String {
    std::fs::read_to_string(repo().join("examples/basic.yaml")).unwrap()
}

/// basic.yaml with each `(from, to)` replacement applied; `from` must occur exactly once.
fn patched(edits: &[(&str, &str)]) -> String {
    let mut text = basic_text();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "patch anchor {from:?} must occur exactly once");
        text = text.replace(from, to);
    }
    text
}

/// Loads YAML text, validates it and locates the diagnostics.
fn check(text: &str) -> Vec<Diagnostic> {
    match load_str(text, Format::Yaml) {
        Ok(loaded) => loaded.check(),
        Err(e) => panic!("config does not load: {e}\n{text}"),
    }
}

/// Asserts the diagnostics are exactly these (severity, path) pairs, in any order.
#[track_caller]
fn assert_paths(diags: &[Diagnostic], expected: &[(Severity, &str)]) {
    let mut got: Vec<(Severity, &str)> = diags.iter().map(|d| (d.severity, d.path.as_str())).collect();
    let mut want = expected.to_vec();
    got.sort();
    want.sort();
    assert_eq!(got, want, "diagnostics: {diags:#?}");
}

/// The single diagnostic at `path`, asserting its severity.
#[track_caller]
fn at<'d>(diags: &'d [Diagnostic], severity: Severity, path: &str) -> &'d Diagnostic {
    let found: Vec<&Diagnostic> = diags.iter().filter(|d| d.path == path).collect();
    assert_eq!(found.len(), 1, "want one diagnostic at {path}, got {diags:#?}");
    assert_eq!(found[0].severity, severity, "{:?}", found[0]);
    found[0]
}

/// Asserts the config yields exactly one diagnostic, an error at `path` whose
/// message contains every one of `words`; returns it.
#[track_caller]
fn only_error(text: &str, path: &str, words: &[&str]) -> Diagnostic {
    let diags = check(text);
    assert_paths(&diags, &[(Error, path)]);
    for w in words {
        assert!(diags[0].message.contains(w), "message {:?} lacks {w:?}", diags[0].message);
    }
    diags[0].clone()
}

fn line_col(d: &Diagnostic) -> (usize, usize) {
    let l = d.location.unwrap_or_else(|| panic!("no location: {d:?}"));
    (l.line, l.column)
}

// ----- examples -----

#[test]
fn examples_are_clean() {
    for name in ["basic.yaml", "multi.yaml", "ssl-tandem.yaml", "remote-vxlan.yaml"] {
        let loaded = load_file(&repo().join("examples").join(name)).unwrap_or_else(|e| panic!("{e}"));
        let diags = loaded.check();
        assert!(diags.is_empty(), "{name}: {diags:#?}");
    }
}

#[test]
fn test_vector_configs_are_clean() {
    // The shared packet test vectors (tests/vectors/*/config.yaml) must all be valid.
    let Ok(dirs) = std::fs::read_dir(repo().join("tests/vectors")) else { return };
    for dir in dirs.flatten() {
        let path = dir.path().join("config.yaml");
        if path.exists() {
            let diags = load_file(&path).unwrap_or_else(|e| panic!("{e}")).check();
            assert!(diags.is_empty(), "{}: {diags:#?}", path.display());
        }
    }
}

#[test]
fn multi_example_has_what_it_promises() {
    let cfg = load_file(&repo().join("examples/multi.yaml")).unwrap().config;
    assert!(cfg.virtual_services.len() >= 4);
    assert!(cfg.tenants.iter().any(|t| t.name != "admin"));
    assert!(cfg
        .traffic_clone_profiles
        .iter()
        .any(|p| p.truncate == 128 && p.distribution == p4clone_compiler::config::Distribution::FlowHash));
    assert!(cfg.traffic_clone_profiles.iter().any(|p| p.preserve_client_ip));
    assert!(cfg.virtual_services.iter().any(|v| v.vip.contains(':')));
    assert!(cfg.networks.iter().any(|n| n.vlan.is_some()));
    assert!(!cfg.nat_bindings.is_empty());
    assert!(cfg.devices.len() >= 2);
}

#[test]
fn ssl_tandem_on_one_se_group_is_rejected() {
    let text = std::fs::read_to_string(repo().join("examples/ssl-tandem.yaml")).unwrap();
    let text = text.replace("se_group: seg-inner", "se_group: seg-edge");
    // vs-reencrypt's pool now must be reachable from seg-edge too: it is not, and
    // it is not cloned, so only the tandem rule fires.
    let diags = check(&text);
    assert_paths(&diags, &[(Error, "virtual_services[0].se_group")]);
    let m = &diags[0].message;
    assert!(m.contains("vs-front") && m.contains("vs-reencrypt") && m.contains("different SE groups"), "{m}");
}

#[test]
fn json_equal_to_basic_parses_equal() {
    let yaml = load_file(&repo().join("examples/basic.yaml")).unwrap();
    let json = load_file(&fixture("basic.json")).unwrap();
    assert_eq!(yaml.config, json.config);
    assert!(json.check().is_empty());
    // The YAML walker locates JSON too.
    let l = json.source_map.locate("traffic_clone_profiles[0].clone_servers[1].mac").unwrap();
    let line = std::fs::read_to_string(fixture("basic.json")).unwrap().lines().nth(l.line - 1).unwrap().to_string();
    assert_eq!(&line[l.column - 1..], "\"02:00:00:00:50:11\"");
}

// ----- loading errors -----

#[test]
fn unknown_field_is_rejected_with_location() {
    let err = load_file(&fixture("unknown-field.yaml")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unknown-field.yaml:61:5: "), "{msg}");
    // The path names the unknown key too, as for JSON.
    assert!(msg.contains("traffic_clone_profiles[0].colour: unknown field `colour`, expected one of"), "{msg}");
    assert_eq!(err.location(), Some(Location { line: 61, column: 5 }));
    assert!(!msg.ends_with("column 5"), "position given twice: {msg}");
}

#[test]
fn unknown_field_in_json_is_rejected_with_path() {
    let err = load_file(&fixture("unknown-field.json")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unknown-field.json:114:"), "{msg}");
    assert!(msg.contains("traffic_clone_profiles[0].clone_servers[1].port: unknown field `port`"), "{msg}");
}

#[test]
fn type_errors_name_path_and_position() {
    let text = patched(&[("      - [1, 2]", "      - [1, two]")]);
    let err = load_str(&text, Format::Yaml).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("21:"), "{msg}");
    assert!(msg.contains("devices[0].wires[0][1]: invalid type"), "{msg}");
    let err = load_str(
        &patched(&[("port: 8080 }\n      - { ip: 10.20.1.12", "port: 80800 }\n      - { ip: 10.20.1.12")]),
        Format::Yaml,
    )
    .unwrap_err();
    assert!(err.to_string().contains("pools[0].servers[0].port"), "{err}");
    let err = load_str(&patched(&[("target: soft", "target: fpga")]), Format::Yaml).unwrap_err();
    assert!(err.to_string().contains("unknown variant `fpga`"), "{err}");
}

#[test]
fn missing_required_field_is_rejected() {
    let err = load_str(&patched(&[("    se_group: seg-a\n", "")]), Format::Yaml).unwrap_err();
    assert!(err.to_string().contains("missing field `se_group`"), "{err}");
}

#[test]
fn unreadable_file_names_path_and_os_error() {
    let path = fixture("does-not-exist.yaml");
    let err = load_file(&path).unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }));
    let msg = err.to_string();
    assert!(msg.contains("does-not-exist.yaml") && msg.contains("No such file"), "{msg}");
}

#[test]
fn non_utf8_file_is_a_load_error() {
    let err = load_file(&fixture("not-utf8.yaml")).unwrap_err();
    assert_eq!(err.location(), Some(Location { line: 2, column: 14 }));
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}

#[test]
fn garbage_is_a_load_error() {
    for text in
        ["[", "tenants: 5", ":::\n- - :", "\u{0}\u{1}\u{2}", "{\"tenants\": [", "a: &x [*x]", "- 1\n- 2", "---\n---\n"]
    {
        for format in [Format::Yaml, Format::Json] {
            assert!(load_str(text, format).is_err(), "{format:?} {text:?} loaded");
        }
    }
    let err = load_str("tenants:\n  - name: a\n   bad", Format::Yaml).unwrap_err();
    assert!(err.location().is_some(), "{err}");
}

#[test]
fn empty_document_is_an_empty_config_or_an_error_never_a_panic() {
    for text in ["", "# nothing\n", "{}", "---\n"] {
        if let Ok(l) = load_str(text, Format::Yaml) {
            assert!(l.check().is_empty());
        }
    }
}

// ----- names -----

#[test]
fn empty_name() {
    let d = only_error(&patched(&[("  - name: blue", "  - name: \"\"")]), "tenants[1].name", &["empty"]);
    assert_eq!(line_col(&d), (6, 11));
}

#[test]
fn duplicate_network_name() {
    let text = patched(&[("\ndevices:", "  - name: backend\n    subnet: 10.21.0.0/16\n\ndevices:")]);
    only_error(&text, "networks[2].name", &["duplicate network name `backend`", "networks[0]"]);
}

#[test]
fn duplicate_se_name_across_groups() {
    let text = patched(&[(
        "\npools:",
        "  - name: seg-b\n    service_engines:\n      - name: se-1\n        device: nic0\n        interfaces: []\n\npools:",
    )]);
    only_error(&text, "se_groups[1].service_engines[0].name", &["se_groups[0].service_engines[0]"]);
}

#[test]
fn duplicate_interface_name_within_se() {
    let text = patched(&[("name: mon0", "name: backend0")]);
    only_error(&text, "se_groups[0].service_engines[0].interfaces[1].name", &["interface", "interfaces[0]"]);
}

// ----- references -----

#[test]
fn dangling_references() {
    let cases: &[(&str, &str, &str)] = &[
        ("    tenant: admin\n    vip:", "    tenant: nobody\n    vip:", "virtual_services[0].tenant"),
        ("se_group: seg-a", "se_group: seg-x", "virtual_services[0].se_group"),
        ("pool: web", "pool: webx", "virtual_services[0].pool"),
        ("traffic_clone_profile: ids", "traffic_clone_profile: idz", "virtual_services[0].traffic_clone_profile"),
        ("    tenant: admin\n    servers:", "    tenant: red\n    servers:", "pools[0].tenant"),
        ("    tenant: admin\n    cloud:", "    tenant: red\n    cloud:", "traffic_clone_profiles[0].tenant"),
        ("device: nic0", "device: nic9", "se_groups[0].service_engines[0].device"),
        ("network: backend", "network: backnd", "se_groups[0].service_engines[0].interfaces[0].network"),
        (
            "      - network: monitor\n        subnet: 192.168.50.0/24\n        ip: 192.168.50.10",
            "      - network: monitr\n        subnet: 192.168.50.0/24\n        ip: 192.168.50.10",
            "traffic_clone_profiles[0].clone_servers[0].network",
        ),
    ];
    for (from, to, path) in cases {
        only_error(&patched(&[(from, to)]), path, &["no ", "named"]);
    }
    let d = only_error(&patched(&[("pool: web", "pool: webx")]), "virtual_services[0].pool", &["did you mean `web`?"]);
    assert_eq!(line_col(&d), (54, 11));
}

#[test]
fn implicit_admin_tenant() {
    let text = patched(&[("tenants:\n  - name: admin\n  - name: blue\n", "")]);
    assert!(check(&text).is_empty());
}

#[test]
fn cross_tenant_profile() {
    let d = only_error(
        &patched(&[("    tenant: admin\n    cloud:", "    tenant: blue\n    cloud:")]),
        "virtual_services[0].traffic_clone_profile",
        &["tenant `admin`", "tenant `blue`", "cross-tenant"],
    );
    assert_eq!(line_col(&d), (55, 28));
}

#[test]
fn cross_tenant_pool() {
    only_error(
        &patched(&[("    tenant: admin\n    servers:", "    tenant: blue\n    servers:")]),
        "virtual_services[0].pool",
        &["pool `web`", "cross-tenant"],
    );
}

// ----- malformed values -----

#[test]
fn malformed_values() {
    let with_nat = |b: &str| with_bindings(true, &[b]);
    let cases: Vec<(String, &str)> = vec![
        (
            patched(&[("\"02:00:00:00:00:02\"", "\"02:00:00:00:00:0g\"")]),
            "se_groups[0].service_engines[0].interfaces[0].mac",
        ),
        (patched(&[("\"02:00:00:00:50:11\"", "\"02:00:00:00:50\"")]), "traffic_clone_profiles[0].clone_servers[1].mac"),
        (patched(&[("subnet: 10.20.0.0/16", "subnet: 10.20.0.1/16")]), "networks[0].subnet"),
        (patched(&[("ip: 10.20.0.5/16", "ip: 10.20.0.5")]), "se_groups[0].service_engines[0].interfaces[0].ip"),
        (patched(&[("ip: 10.20.1.11,", "ip: 10.20.1.311,")]), "pools[0].servers[0].ip"),
        (patched(&[("vip: 203.0.113.10", "vip: 203.0.113")]), "virtual_services[0].vip"),
        (
            patched(&[(
                "subnet: 192.168.50.0/24\n        ip: 192.168.50.11",
                "subnet: 192.168.50.0/33\n        ip: 192.168.50.11",
            )]),
            "traffic_clone_profiles[0].clone_servers[1].subnet",
        ),
        (patched(&[("ip: 192.168.50.10", "ip: 192.168.50.x")]), "traffic_clone_profiles[0].clone_servers[0].ip"),
        (with_nat("{ se: \"10.20.0.5\", client: \"198.51.100.7:51515\" }"), "nat_bindings[0].se"),
        (with_nat("{ se: \"10.20.0.5:40001\", client: \"198.51.100.7:x\" }"), "nat_bindings[0].client"),
        (patched(&[("vlan: 50 ", "vlan: 4095 ")]), "networks[1].vlan"),
        (patched(&[("vlan: 50 ", "vlan: 0 ")]), "networks[1].vlan"),
        (patched(&[("port: 3", "port: 511")]), "se_groups[0].service_engines[0].interfaces[1].port"),
        (patched(&[("- [1, 2]", "- [1, 600]")]), "devices[0].wires[0]"),
        (patched(&[("address: 127.0.0.1:9559", "address: 127.0.0.1")]), "devices[0].address"),
        (
            patched(&[("port: 8080 }\n      - { ip: 10.20.1.12", "port: 0 }\n      - { ip: 10.20.1.12")]),
            "pools[0].servers[0].port",
        ),
    ];
    for (text, path) in &cases {
        let diags = check(text);
        let d = at(&diags, Error, path);
        assert!(d.location.is_some(), "{d:?}");
        assert!(!has_errors(&diags[..0]));
        // A malformed value is reported once, without cascading into other rules.
        assert_paths(&diags, &[(Error, path)]);
    }
    let d = only_error(&patched(&[("vlan: 50 ", "vlan: 4095 ")]), "networks[1].vlan", &["4095", "1..4094"]);
    assert_eq!(line_col(&d), (13, 11));
}

#[test]
fn device_id_any_u64_and_address_forms() {
    let text = patched(&[("device_id: 1", "device_id: 18446744073709551615"), ("127.0.0.1:9559", "\"[::1]:9559\"")]);
    assert!(check(&text).is_empty());
    let text = patched(&[("127.0.0.1:9559", "switch-7.lab.example:50051")]);
    assert!(check(&text).is_empty());
}

#[test]
fn devices_sharing_an_endpoint() {
    let text = patched(&[(
        "\nse_groups:",
        "  - { name: nic1, target: bmv2, address: \"127.0.0.1:9559\", device_id: 1 }\n\nse_groups:",
    )]);
    only_error(&text, "devices[1].address", &["devices[0]", "device_id 1"]);
    let text = patched(&[(
        "\nse_groups:",
        "  - { name: nic1, target: bmv2, address: \"127.0.0.1:9559\", device_id: 2 }\n\nse_groups:",
    )]);
    assert!(check(&text).is_empty());
}

// ----- addressing -----

#[test]
fn interface_outside_its_subnet() {
    let d = only_error(
        &patched(&[("ip: 10.20.0.5/16", "ip: 10.21.0.5/16")]),
        "se_groups[0].service_engines[0].interfaces[0].ip",
        &["outside", "`backend`", "10.20.0.0/16"],
    );
    assert_eq!(line_col(&d), (32, 17));
    only_error(
        &patched(&[("ip: 10.20.0.5/16", "ip: \"2001:db8::5/64\"")]),
        "se_groups[0].service_engines[0].interfaces[0].ip",
        &["IPv6", "IPv4"],
    );
}

#[test]
fn interface_prefix_length_mismatch_is_a_warning() {
    let diags = check(&patched(&[("ip: 10.20.0.5/16", "ip: 10.20.0.5/24")]));
    assert_paths(&diags, &[(Warning, "se_groups[0].service_engines[0].interfaces[0].ip")]);
    assert!(!has_errors(&diags));
}

#[test]
fn clone_server_subnet_must_be_its_networks() {
    let text = patched(&[(
        "subnet: 192.168.50.0/24\n        ip: 192.168.50.10",
        "subnet: 192.168.51.0/24\n        ip: 192.168.50.10",
    )]);
    let d = only_error(
        &text,
        "traffic_clone_profiles[0].clone_servers[0].subnet",
        &["192.168.51.0/24", "`monitor`", "192.168.50.0/24"],
    );
    assert_eq!(line_col(&d), (66, 17));
}

#[test]
fn clone_server_ip_dummy_allowed_but_family_checked() {
    // A dummy outside the subnet is fine ("no destination IP").
    assert!(check(&patched(&[("ip: 192.168.50.10", "ip: 0.0.0.0")])).is_empty());
    assert!(check(&patched(&[("ip: 192.168.50.10", "ip: 10.1.2.3")])).is_empty());
    only_error(
        &patched(&[("ip: 192.168.50.10", "ip: \"2001:db8::10\"")]),
        "traffic_clone_profiles[0].clone_servers[0].ip",
        &["IPv6", "IPv4"],
    );
}

// ----- clone profiles -----

#[test]
fn clone_server_not_directly_connected() {
    // A second SE in seg-a without an interface on the monitor network.
    let text = patched(&[(
        "\npools:",
        "      - name: se-2\n        device: nic0\n        interfaces:\n          - { name: b0, port: 4, mac: \"02:00:00:00:00:04\", ip: 10.20.0.6/16, network: backend }\n\npools:",
    )]);
    let diags = check(&text);
    assert_paths(
        &diags,
        &[
            (Error, "traffic_clone_profiles[0].clone_servers[0].network"),
            (Error, "traffic_clone_profiles[0].clone_servers[1].network"),
        ],
    );
    let m = &diags[0].message;
    assert!(
        m.contains("`monitor`") && m.contains("`seg-a`") && m.contains("`vs-web`") && m.contains("SE `se-2`"),
        "{m}"
    );
}

#[test]
fn unused_profile_need_not_be_connected() {
    let text = patched(&[(
        "\n# SE-side",
        "  - name: spare\n    clone_servers:\n      - { network: backend, subnet: 10.20.0.0/16, ip: 10.20.9.9, mac: \"02:00:00:00:99:99\" }\n\n# SE-side",
    )]);
    assert!(check(&text).is_empty());
    // Used by the VS, the same profile needs an interface on `backend`: it has one.
    let text = text.replace("traffic_clone_profile: ids", "traffic_clone_profile: spare");
    assert!(check(&text).is_empty());
}

#[test]
fn too_many_and_no_clone_servers() {
    let servers: String = (0..11)
        .map(|i| format!("      - {{ network: monitor, subnet: 192.168.50.0/24, ip: 192.168.50.{}, mac: \"02:00:00:00:50:{:02}\" }}\n", 20 + i, i))
        .collect();
    let start = basic_text().find("    clone_servers:").unwrap();
    let end = basic_text().find("\n# SE-side").unwrap();
    let mut text = basic_text();
    text.replace_range(start..end, &format!("    clone_servers:\n{servers}"));
    let d = only_error(&text, "traffic_clone_profiles[0].clone_servers", &["11 clone servers", "at most 10"]);
    assert_eq!(line_col(&d), (64, 5));
    let mut text = basic_text();
    text.replace_range(start..end, "    clone_servers: []\n");
    only_error(&text, "traffic_clone_profiles[0].clone_servers", &["at least one"]);
}

#[test]
fn truncate_bounds() {
    for ok in [0, 64, 128, 1500, 9216] {
        assert!(check(&patched(&[("truncate: 0 ", &format!("truncate: {ok} "))])).is_empty(), "{ok}");
    }
    let d = only_error(
        &patched(&[("truncate: 0 ", "truncate: 63 ")]),
        "traffic_clone_profiles[0].truncate",
        &["too short to hold the headers", "use 0 for whole frames"],
    );
    assert_eq!(line_col(&d), (63, 15));
    only_error(&patched(&[("truncate: 0 ", "truncate: 1 ")]), "traffic_clone_profiles[0].truncate", &["too short"]);
    for big in [9217, 65536, 4_000_000_000u32] {
        only_error(
            &patched(&[("truncate: 0 ", &format!("truncate: {big} "))]),
            "traffic_clone_profiles[0].truncate",
            &["jumbo"],
        );
    }
}

// ----- device ports -----

#[test]
fn interface_port_clash() {
    let d = only_error(
        &patched(&[("port: 3", "port: 2")]),
        "se_groups[0].service_engines[0].interfaces[1].port",
        &["port 2 of device `nic0`", "`backend0`", "`se-1`"],
    );
    assert_eq!(line_col(&d), (35, 19));
}

#[test]
fn interface_port_clash_across_ses_on_one_device() {
    let text = patched(&[(
        "\npools:",
        "  - name: seg-b\n    service_engines:\n      - name: se-9\n        device: nic0\n        interfaces:\n          - { name: m, port: 3, mac: \"02:00:00:00:00:09\", ip: 192.168.50.9/24, network: monitor }\n\npools:",
    )]);
    only_error(&text, "se_groups[1].service_engines[0].interfaces[0].port", &["port 3", "`mon0`"]);
}

#[test]
fn wire_port_reuse_and_self_loop() {
    let d = only_error(
        &patched(&[("- [1, 2]", "- [1, 2]\n      - [2, 5]")]),
        "devices[0].wires[1]",
        &["port 2", "wires[0]"],
    );
    assert_eq!(line_col(&d), (22, 9));
    only_error(&patched(&[("- [1, 2]", "- [1, 2]\n      - [1, 2]")]), "devices[0].wires[1]", &["port 1"]);
    only_error(&patched(&[("- [1, 2]", "- [1, 2]\n      - [7, 7]")]), "devices[0].wires[1]", &["itself"]);
}

// ----- virtual services -----

#[test]
fn back_to_back_on_one_se_group() {
    let text = patched(&[(
        "\ntraffic_clone_profiles:",
        "  - name: vs-inner\n    vip: 10.20.1.11\n    services: [{ port: 8080 }]\n    se_group: seg-a\n    pool: web\n\ntraffic_clone_profiles:",
    )]);
    let diags = check(&text);
    // vs-web -> vs-inner (10.20.1.11 is a member of `web`), and vs-inner's own pool
    // holds its own VIP.
    assert_paths(&diags, &[(Error, "virtual_services[0].se_group"), (Error, "virtual_services[1].se_group")]);
    let d = at(&diags, Error, "virtual_services[0].se_group");
    assert!(d.message.contains("`vs-web`") && d.message.contains("`vs-inner`"), "{}", d.message);
    assert!(d.message.contains("SSL tandem VSs must be on different SE groups"), "{}", d.message);
    assert_eq!(line_col(d), (53, 15));
}

#[test]
fn pool_member_not_reachable_from_cloned_vs() {
    let text = patched(&[("ip: 10.20.1.12,", "ip: 10.99.1.12,")]);
    let d = only_error(&text, "pools[0].servers[1].ip", &["10.99.1.12", "`vs-web`", "`seg-a`", "backend 10.20.0.0/16"]);
    assert_eq!(line_col(&d), (45, 15));
    // The same member is fine when the VS is not cloned.
    let text = text.replace("    traffic_clone_profile: ids\n", "");
    assert!(check(&text).is_empty());
}

#[test]
fn vs_without_services() {
    let text = patched(&[("services:\n      - { port: 443, protocol: tcp }", "services: []")]);
    only_error(&text, "virtual_services[0].services", &["at least one"]);
    let text = patched(&[("- { port: 443, protocol: tcp }", "- { port: 443, protocol: tcp }\n      - { port: 443 }")]);
    only_error(&text, "virtual_services[0].services[1]", &["443/tcp"]);
}

// ----- NAT bindings -----

fn with_bindings(preserve: bool, bindings: &[&str]) -> String {
    let list: String = bindings.iter().map(|b| format!("\n  - {b}")).collect();
    patched(&[
        ("nat_bindings: []", &format!("nat_bindings:{list}")),
        ("preserve_client_ip: false", &format!("preserve_client_ip: {preserve}")),
    ])
}

#[test]
fn nat_binding_valid() {
    let text = with_bindings(true, &["{ se: \"10.20.0.5:40001\", client: \"198.51.100.7:51515\", protocol: tcp }"]);
    assert!(check(&text).is_empty());
    // Same SE address:port, other protocol: a different binding.
    let text = with_bindings(
        true,
        &[
            "{ se: \"10.20.0.5:40001\", client: \"198.51.100.7:1\" }",
            "{ se: \"10.20.0.5:40001\", client: \"198.51.100.7:2\", protocol: udp }",
        ],
    );
    assert!(check(&text).is_empty());
}

#[test]
fn nat_binding_family_mismatch() {
    let text = with_bindings(true, &["{ se: \"10.20.0.5:40001\", client: \"[2001:db8::7]:51515\" }"]);
    only_error(&text, "nat_bindings[0].client", &["IPv6", "IPv4"]);
}

#[test]
fn nat_binding_se_not_an_interface() {
    let text = with_bindings(true, &["{ se: \"10.20.0.99:40001\", client: \"198.51.100.7:51515\" }"]);
    let d = only_error(&text, "nat_bindings[0].se", &["10.20.0.99", "not the address of any SE interface"]);
    assert_eq!(line_col(&d), (76, 11));
}

#[test]
fn nat_binding_duplicate() {
    let text = with_bindings(
        true,
        &[
            "{ se: \"10.20.0.5:40001\", client: \"198.51.100.7:1\" }",
            "{ se: \"10.20.0.5:40001\", client: \"198.51.100.8:2\", protocol: tcp }",
        ],
    );
    only_error(&text, "nat_bindings[1].se", &["already bound by nat_bindings[0]"]);
}

#[test]
fn nat_binding_without_preserve_client_ip_is_a_warning() {
    let text = with_bindings(false, &["{ se: \"10.20.0.5:40001\", client: \"198.51.100.7:51515\" }"]);
    let diags = check(&text);
    assert_paths(&diags, &[(Warning, "nat_bindings[0]")]);
    assert!(!has_errors(&diags));
    assert!(diags[0].message.contains("preserve_client_ip") && diags[0].message.contains("`se-1`"));
    // Not cloned at all: also a warning.
    let text = text.replace("    traffic_clone_profile: ids\n", "");
    assert_paths(&check(&text), &[(Warning, "nat_bindings[0]")]);
}

// ----- all at once -----

#[test]
fn several_problems_are_reported_together() {
    let loaded = load_file(&fixture("many-problems.yaml")).unwrap();
    let diags = loaded.check();
    assert_paths(
        &diags,
        &[
            (Error, "networks[0].subnet"),
            (Error, "networks[1].vlan"),
            (Error, "devices[0].address"),
            (Error, "devices[0].wires[1]"),
            (Error, "devices[0].wires[1]"),
            (Error, "se_groups[0].service_engines[0].interfaces[1].mac"),
            (Error, "se_groups[0].service_engines[0].interfaces[1].port"),
            (Error, "virtual_services[0].pool"),
            (Error, "traffic_clone_profiles[0].truncate"),
            (Error, "traffic_clone_profiles[0].clone_servers[0].subnet"),
        ],
    );
    assert!(has_errors(&diags));
    assert!(diags.iter().all(|d| d.location.is_some()), "{diags:#?}");
    let d = at(&diags, Error, "networks[0].subnet");
    assert_eq!(line_col(d), (4, 13));
    assert_eq!(
        d.to_string(),
        "error: networks[0].subnet (line 4, column 13): `10.20.0.1/16` has host bits set (did you mean the network address?)"
    );
}

#[test]
fn output_is_deterministic() {
    let cfg = load_file(&fixture("many-problems.yaml")).unwrap().config;
    let first = validate(&cfg);
    for _ in 0..5 {
        assert_eq!(validate(&cfg), first);
    }
}

// ----- robustness -----

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        for format in [Format::Yaml, Format::Json] {
            if let Ok(l) = load_str(&text, format) {
                let _ = l.check();
            }
        }
    }

    #[test]
    fn random_yaml_never_panics(text in "[a-z_:\\-\\[\\]{}, \n0-9.'\"&*!#|>?]{0,200}") {
        for format in [Format::Yaml, Format::Json] {
            if let Ok(l) = load_str(&text, format) {
                let _ = l.check();
            }
        }
    }

    #[test]
    fn mutated_basic_never_panics(
        cut in 0usize..2000,
        len in 0usize..40,
        insert in "[a-z0-9:./\\-\\[\\] \n{},]{0,12}",
    ) {
        let mut text = basic_text();
        let start = cut.min(text.len());
        let end = (start + len).min(text.len());
        if text.is_char_boundary(start) && text.is_char_boundary(end) {
            text.replace_range(start..end, &insert);
        }
        for format in [Format::Yaml, Format::Json] {
            if let Ok(l) = load_str(&text, format) {
                let diags = l.check();
                prop_assert!(diags.iter().all(|d| !d.path.is_empty()));
            }
        }
    }
}
