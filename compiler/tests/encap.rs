//! Encapsulated clone servers (`encap`), network gateways and MTUs: a valid config
//! compiles to a `clone_encap` entry, and every rule rejects a config that breaks
//! it with one error at the exact object path.

use std::path::Path;

use p4clone_compiler::config::EncapKind;
use p4clone_compiler::diag::{Diagnostic, Severity};
use p4clone_compiler::intent::{compile, Allocation};
use p4clone_compiler::lower::{lower_entities, program_schema};
use p4clone_compiler::source::{load_str, Format};
use p4clone_proto::p4::v1::entity::Entity as E;
use p4clone_proto::program::{actions, tables};

fn basic_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/basic.yaml")).unwrap()
}

/// The second clone server of basic.yaml replaced by `server` (YAML lines at the
/// list's indentation), and the monitor network given `network_extra` lines.
fn config(server: &str, network_extra: &str) -> String {
    let text = basic_text();
    let plain = "      - network: monitor\n        subnet: 192.168.50.0/24\n        ip: 192.168.50.11\n        mac: \"02:00:00:00:50:11\"\n";
    assert_eq!(text.matches(plain).count(), 1);
    let net = "    vlan: 50                      # clones leave on this VLAN; omit for untagged\n";
    assert_eq!(text.matches(net).count(), 1);
    text.replace(plain, server).replace(net, &format!("{net}{network_extra}"))
}

const GATEWAY: &str = "    gateway: { ip: 192.168.50.1, mac: \"02:00:00:00:50:01\" }\n";
const VXLAN_ROUTED: &str = "      - encap: { type: vxlan, remote: 198.51.100.20, vni: 5001 }\n";

fn check(text: &str) -> Vec<Diagnostic> {
    load_str(text, Format::Yaml).unwrap_or_else(|e| panic!("does not load: {e}\n{text}")).check()
}

/// Exactly one diagnostic, an error at `path` containing every word.
#[track_caller]
fn only_error(text: &str, path: &str, words: &[&str]) {
    let d = check(text);
    assert_eq!(d.len(), 1, "want one error at {path}: {d:#?}");
    assert_eq!((d[0].severity, d[0].path.as_str()), (Severity::Error, path), "{d:#?}");
    for w in words {
        assert!(d[0].message.contains(w), "message {:?} lacks {w:?}", d[0].message);
    }
}

const CS1: &str = "traffic_clone_profiles[0].clone_servers[1]";

#[test]
fn routed_vxlan_compiles_to_a_clone_encap_entry() {
    let text = config(VXLAN_ROUTED, &format!("{GATEWAY}    mtu: 9000\n"));
    assert!(check(&text).is_empty(), "{:#?}", check(&text));
    let cfg = load_str(&text, Format::Yaml).unwrap().config;
    let intent = compile(&cfg, &Allocation::default()).unwrap();
    let d = &intent.devices[0];
    let m = d.members.iter().find(|m| m.encap.is_some()).expect("an encapsulated member");
    let e = m.encap.unwrap();
    assert_eq!((e.kind, e.id, e.mtu), (EncapKind::Vxlan, 5001, 9000));
    assert_eq!(e.src.to_string(), "192.168.50.2");
    assert_eq!(e.remote.to_string(), "198.51.100.20");
    assert_eq!(m.dst_mac.to_string(), "02:00:00:00:50:01", "the gateway's MAC");
    assert_eq!((m.egress_port, m.vlan), (3, Some(50)));
    assert_eq!(d.table_counts().clone_encap, 1);
    let schema = program_schema().unwrap();
    let encap: Vec<_> = lower_entities(d, schema)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.entity {
            Some(E::TableEntry(t)) if t.table_id == tables::CLONE_ENCAP.id => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(encap.len(), 1);
    let a = encap[0].action.as_ref().and_then(|a| a.r#type.clone());
    assert!(format!("{a:?}").contains(&actions::CLONE_ENCAP_VXLAN_V4.id.to_string()), "{a:?}");
}

#[test]
fn a_directly_connected_remote_uses_its_mac() {
    let server = "      - encap: { type: gre, remote: 192.168.50.20 }\n        mac: \"02:00:00:00:50:20\"\n";
    let text = config(server, "");
    assert!(check(&text).is_empty(), "{:#?}", check(&text));
    let cfg = load_str(&text, Format::Yaml).unwrap().config;
    let intent = compile(&cfg, &Allocation::default()).unwrap();
    let m = intent.devices[0].members.iter().find(|m| m.encap.is_some()).unwrap();
    assert_eq!(m.dst_mac.to_string(), "02:00:00:00:50:20");
    assert!(!m.encap.unwrap().key_present);
}

#[test]
fn an_unreachable_remote_names_the_se() {
    only_error(&config(VXLAN_ROUTED, ""), &format!("{CS1}.encap.remote"), &["se-1", "198.51.100.20", "IPv4"]);
}

#[test]
fn a_directly_connected_remote_needs_a_mac() {
    let server = "      - encap: { type: vxlan, remote: 192.168.50.20, vni: 1 }\n";
    only_error(&config(server, ""), &format!("{CS1}.mac"), &["monitor", "se-1", "required"]);
}

#[test]
fn id_ranges() {
    let vni = "      - encap: { type: vxlan, remote: 198.51.100.20, vni: 16777216 }\n";
    only_error(&config(vni, GATEWAY), &format!("{CS1}.encap.vni"), &["16777216", "0..16777215"]);
    let key = "      - encap: { type: gre, remote: 198.51.100.20, key: 4294967296 }\n";
    only_error(&config(key, GATEWAY), &format!("{CS1}.encap.key"), &["4294967296"]);
    let session = "      - encap: { type: erspan, remote: 198.51.100.20, session: 1024 }\n";
    only_error(&config(session, GATEWAY), &format!("{CS1}.encap.session"), &["1024", "0..1023"]);
}

#[test]
fn the_id_field_belongs_to_the_type() {
    let missing = "      - encap: { type: erspan, remote: 198.51.100.20 }\n";
    only_error(&config(missing, GATEWAY), &format!("{CS1}.encap"), &["needs `session`"]);
    let foreign = "      - encap: { type: vxlan, remote: 198.51.100.20, vni: 1, key: 2 }\n";
    only_error(&config(foreign, GATEWAY), &format!("{CS1}.encap.key"), &["does not belong", "vxlan"]);
}

#[test]
fn the_remote_must_be_ipv4() {
    let v6 = "      - encap: { type: vxlan, remote: \"2001:db8::20\", vni: 1 }\n";
    only_error(&config(v6, GATEWAY), &format!("{CS1}.encap.remote"), &["IPv6"]);
    let bad = "      - encap: { type: vxlan, remote: nowhere, vni: 1 }\n";
    only_error(&config(bad, GATEWAY), &format!("{CS1}.encap.remote"), &["nowhere"]);
}

#[test]
fn the_two_forms_do_not_mix() {
    let both = "      - encap: { type: vxlan, remote: 198.51.100.20, vni: 1 }\n        network: monitor\n";
    only_error(&config(both, GATEWAY), &format!("{CS1}.network"), &["not used with `encap`"]);
    let neither = "      - network: monitor\n        subnet: 192.168.50.0/24\n        mac: \"02:00:00:00:50:11\"\n";
    only_error(&config(neither, ""), &format!("{CS1}.ip"), &["required", "encap"]);
}

#[test]
fn gateways_and_mtus_are_checked() {
    let outside = "    gateway: { ip: 10.9.9.9, mac: \"02:00:00:00:50:01\" }\n";
    only_error(&config(VXLAN_ROUTED, outside), "networks[1].gateway.ip", &["10.9.9.9", "192.168.50.0/24"]);
    let bad_mac = "    gateway: { ip: 192.168.50.1, mac: nope }\n";
    let d = check(&config(VXLAN_ROUTED, bad_mac));
    assert!(d.iter().any(|d| d.path == "networks[1].gateway.mac"), "{d:#?}");
    only_error(&config(VXLAN_ROUTED, &format!("{GATEWAY}    mtu: 100\n")), "networks[1].mtu", &["576..9216"]);
}

#[test]
fn a_tofino_device_has_no_encapsulated_delivery() {
    let text = config(VXLAN_ROUTED, GATEWAY);
    let target = "    target: soft                  # soft | bmv2 | tofino\n";
    assert_eq!(text.matches(target).count(), 1);
    let text = text.replace(target, "    target: tofino\n");
    only_error(&text, &format!("{CS1}.encap"), &["se-1", "tofino", "no encapsulated delivery"]);
}
