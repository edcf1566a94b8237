//! The `import::avi` conversion as a library (no I/O): small inputs built in the
//! test, checked on the resulting config and warnings.

use p4clone_compiler::config::Protocol;
use p4clone_compiler::import::avi::{convert, parse_site, InputFile, Site};
use serde_json::{json, Value};

const SITE: &str = r#"
devices:
  - { name: nic0, target: soft, wires: [[1, 2]] }
networks:
  - { name: monitor, subnet: 192.168.50.0/24, vlan: 50 }
se_groups:
  - name: seg-a
    service_engines:
      - name: se-1
        device: nic0
        interfaces:
          - { name: b0, port: 2, mac: "02:00:00:00:00:02", ip: 10.20.0.5/16, network: backend }
          - { name: m0, port: 3, mac: "02:00:00:00:00:03", ip: 192.168.50.2/24, network: monitor }
"#;

fn site() -> Site {
    parse_site("site.yaml", SITE).unwrap()
}

fn input(json: Value) -> InputFile {
    InputFile { name: "in.json".to_string(), json }
}

/// One tenant's VS, pool and profile named `vs`, `web`, `ids`.
fn tenant_objects(tenant: &str, vip: &str) -> Value {
    let t = format!("/api/tenant/?name={tenant}");
    json!({
        "Pool": [{"name": "web", "uuid": format!("pool-{tenant}"), "tenant_ref": t,
                  "servers": [{"ip": {"addr": "10.20.1.11", "type": "V4"}}]}],
        "TrafficCloneProfile": [{"name": "ids", "uuid": format!("trafficcloneprofile-{tenant}"), "tenant_ref": t,
            "clone_servers": [{"ip_address": {"addr": "192.168.50.10", "type": "V4"}, "mac": "02:00:00:00:50:10"}]}],
        "VirtualService": [{"name": "vs", "uuid": format!("virtualservice-{tenant}"), "tenant_ref": t,
            "se_group_ref": "/api/serviceenginegroup/?name=seg-a", "pool_ref": "/api/pool/?name=web",
            "vip": [{"vip_id": "1", "ip_address": {"addr": vip, "type": "V4"}}],
            "services": [{"port": 80}],
            "network_profile_ref": "/api/networkprofile/?name=System-UDP-Fast-Path",
            "traffic_clone_profile_ref": "/api/trafficcloneprofile/?name=ids"}]
    })
}

fn shared() -> Value {
    json!({
        "META": {},
        "Tenant": [{"name": "blue", "uuid": "tenant-blue"}],
        "Network": [{"name": "backend", "uuid": "network-b",
                     "configured_subnets": [{"prefix": {"ip_addr": {"addr": "10.20.0.0", "type": "V4"}, "mask": 16}}]}],
        "ServiceEngineGroup": [{"name": "seg-a", "uuid": "serviceenginegroup-a"}]
    })
}

#[test]
fn names_two_tenants_share_are_qualified_outside_admin() {
    let inputs =
        [input(shared()), input(tenant_objects("admin", "203.0.113.1")), input(tenant_objects("blue", "203.0.113.2"))];
    let imported = convert(&inputs, &site(), None).unwrap();
    let c = &imported.config;
    let names: Vec<&str> = c.virtual_services.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["blue-vs", "vs"]);
    let blue = &c.virtual_services[0];
    assert_eq!((blue.pool.as_str(), blue.traffic_clone_profile.as_deref()), ("blue-web", Some("blue-ids")));
    assert!(
        imported.warnings.iter().any(|w| w.to_string().contains("imported as \"blue-vs\"")),
        "{:?}",
        imported.warnings
    );
    // The network profile's name says UDP.
    assert_eq!(blue.services[0].protocol, Protocol::Udp);
    // A clone server without network_ref lands on the site network holding its address.
    assert_eq!(c.traffic_clone_profiles[0].clone_servers[0].network, "monitor");
}

#[test]
fn tenant_flag_keeps_one_tenant() {
    let inputs =
        [input(shared()), input(tenant_objects("admin", "203.0.113.1")), input(tenant_objects("blue", "203.0.113.2"))];
    let c = convert(&inputs, &site(), Some("blue")).unwrap().config;
    assert_eq!(c.virtual_services.len(), 1);
    assert_eq!(c.virtual_services[0].name, "vs");
    assert_eq!(c.virtual_services[0].tenant, "blue");
    let errs = convert(&inputs, &site(), Some("red")).unwrap_err();
    assert!(errs[0].to_string().contains("no VirtualService in tenant \"red\""), "{errs:?}");
}

#[test]
fn the_same_object_in_two_inputs_is_read_once() {
    let mut listed = tenant_objects("admin", "203.0.113.1");
    let pools = listed["Pool"].clone();
    let mut list = json!({"count": 1, "results": pools});
    list["results"][0]["url"] = json!("https://lb/api/pool/pool-admin");
    let inputs = [input(shared()), input(listed.take()), input(list)];
    assert!(convert(&inputs, &site(), None).is_ok());
    // A different object under the same uuid is an error.
    let mut other = json!({"count": 1, "results": pools});
    other["results"][0]["servers"] = json!([]);
    other["results"][0]["url"] = json!("https://lb/api/pool/pool-admin");
    let inputs = [input(shared()), input(tenant_objects("admin", "203.0.113.1")), input(other)];
    let errs = convert(&inputs, &site(), None).unwrap_err();
    assert!(errs.iter().any(|e| e.to_string().contains("uuid given twice")), "{errs:?}");
}

#[test]
fn se_groups_missing_from_the_site_file() {
    let mut objs = tenant_objects("admin", "203.0.113.1");
    objs["ServiceEngineGroup"] = json!([{"name": "seg-x", "uuid": "serviceenginegroup-x"}]);
    objs["VirtualService"][0]["se_group_ref"] = json!("/api/serviceenginegroup/serviceenginegroup-x");
    // Cloned: an error naming the SE group.
    let errs = convert(&[input(shared()), input(objs.clone())], &site(), None).unwrap_err();
    assert!(
        errs.iter().any(|e| e.to_string().contains("no service engines for ServiceEngineGroup \"seg-x\"")),
        "{errs:?}"
    );
    // Not cloned: left out with a warning.
    objs["VirtualService"][0].as_object_mut().unwrap().remove("traffic_clone_profile_ref");
    let imported = convert(&[input(shared()), input(objs)], &site(), None).unwrap();
    assert!(imported.config.virtual_services.is_empty());
    assert!(imported.warnings.iter().any(|w| w.to_string().contains("left out")), "{:?}", imported.warnings);
}

#[test]
fn ambiguous_clone_server_placement_is_an_error() {
    let mut sh = shared();
    sh["Network"].as_array_mut().unwrap().push(json!({"name": "mon2", "uuid": "network-m2",
        "configured_subnets": [{"prefix": {"ip_addr": {"addr": "192.168.0.0", "type": "V4"}, "mask": 16}}]}));
    let errs = convert(&[input(sh), input(tenant_objects("admin", "203.0.113.1"))], &site(), None).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("clone_servers[0].network_ref") && e.contains("several networks hold 192.168.50.10")),
        "{text:?}"
    );
}

#[test]
fn bad_values_never_panic() {
    for bad in [json!(null), json!(1), json!("x"), json!([1, 2]), json!({"results": [1]}), json!({"Pool": {}})] {
        assert!(convert(&[input(bad)], &site(), None).is_err());
    }
    let mut objs = tenant_objects("admin", "203.0.113.1");
    objs["VirtualService"][0]["services"] = json!([{"port": "eighty"}, {"port": 70000}, {"port": [1]}]);
    objs["Pool"][0]["servers"][0]["ip"] = json!({"addr": "10.20.1.300", "type": "V4"});
    objs["TrafficCloneProfile"][0]["preserve_client_ip"] = json!("yes");
    let errs = convert(&[input(shared()), input(objs)], &site(), None).unwrap_err();
    let text = errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    for want in ["services[0].port", "services[1].port", "services[2].port", "servers[0].ip.addr", "preserve_client_ip"]
    {
        assert!(text.contains(want), "{want}:\n{text}");
    }
}

#[test]
fn a_network_with_several_subnets_uses_the_one_holding_its_user() {
    let mut sh = shared();
    sh["Network"].as_array_mut().unwrap().push(json!({"name": "mon", "uuid": "network-mon",
        "configured_subnets": [
            {"prefix": {"ip_addr": {"addr": "2001:db8:50::", "type": "V6"}, "mask": "64"}},
            {"prefix": {"ip_addr": {"addr": "192.168.60.0", "type": "V4"}, "mask": 24}}]}));
    let mut objs = tenant_objects("admin", "203.0.113.1");
    objs["TrafficCloneProfile"][0]["clone_servers"][0] = json!({
        "ip_address": {"addr": "192.168.60.10", "type": "V4"}, "mac": "02:00:00:00:60:10",
        "network_ref": "/api/network/network-mon"});
    let imported = convert(&[input(sh), input(objs)], &site(), None).unwrap();
    let mon = imported.config.networks.iter().find(|n| n.name == "mon").unwrap();
    assert_eq!(mon.subnet, "192.168.60.0/24");
    let cs = &imported.config.traffic_clone_profiles[0].clone_servers[0];
    assert_eq!((cs.network.as_str(), cs.subnet.as_str()), ("mon", "192.168.60.0/24"));
    assert!(
        imported.warnings.iter().any(|w| w.to_string().contains("one subnet per network")),
        "{:?}",
        imported.warnings
    );
}

#[test]
fn an_unknown_tenant_uuid_is_an_error() {
    let mut objs = tenant_objects("admin", "203.0.113.1");
    objs["Pool"][0]["tenant_ref"] = json!("/api/tenant/tenant-nope");
    let errs = convert(&[input(shared()), input(objs)], &site(), None).unwrap_err();
    let text = errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(
        text.contains("Pool \"web\" (uuid pool-admin): tenant_ref \"/api/tenant/tenant-nope\": no such Tenant"),
        "{text}"
    );
}

#[test]
fn a_bad_site_file_names_the_file_the_path_and_the_position() {
    let e = parse_site("site.yaml", "networks:\n  - name: mon\n    vlan: ten\n").unwrap_err().to_string();
    assert!(e.starts_with("site file site.yaml: 3:11: networks[0].vlan: invalid type"), "{e}");
    let e = parse_site("site.yaml", "networks:\n  - name: mon\n    colour: blue\n").unwrap_err().to_string();
    assert!(e.contains("3:5: networks[0].colour: unknown field `colour`"), "{e}");
    // Outside the fast parser's subset (an anchor), through the same reader.
    let site = parse_site("site.yaml", "networks:\n  - &n {name: mon, vlan: 5}\n").unwrap();
    assert_eq!(site.networks[0].vlan, Some(5));
}
