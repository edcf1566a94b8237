//! Intent unit tests: hand-derived expectations on `examples/basic.yaml` and small
//! variations of it (dedup, conflicts, flow hash, VLAN, truncation, NAT, IPv6, hints,
//! limits, digests).

use std::net::IpAddr;

use p4clone_compiler::config::{Config, Distribution, NatBinding, Protocol, Target};
use p4clone_compiler::intent::{
    compile, home_block, summarize, Allocation, ClassifyRule, Family, Intent, MemberId, WirePair, RULE_PRIORITY,
};
use p4clone_compiler::net::Mac;
use p4clone_compiler::synthetic;

const BASIC: &str = include_str!("../../examples/basic.yaml");

fn basic() -> Config {
    serde_norway::from_str(BASIC).expect("basic.yaml parses")
}

fn ok(cfg: &Config) -> Intent {
    match compile(cfg, &Allocation::default()) {
        Ok(i) => i,
        Err(e) => panic!("compile failed: {e:#?}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

#[test]
fn basic_by_hand() {
    let intent = ok(&basic());
    assert_eq!(intent.devices.len(), 1);
    let d = &intent.devices[0];
    assert_eq!(
        (d.name.as_str(), d.target, d.address.as_str(), d.device_id),
        ("nic0", Target::Soft, "127.0.0.1:9559", 1)
    );
    assert_eq!(d.wires, vec![WirePair(1, 2)]);

    // One (profile, SE) key: ("ids", "se-1") at its home block.
    let b = home_block("ids", "se-1");
    assert_eq!(b, 333, "home block of (ids, se-1) = sha256(\"ids\\0se-1\")[..8] mod 3276");
    assert_eq!(d.blocks.len(), 1);
    let blk = &d.blocks[0];
    assert_eq!((blk.profile.as_str(), blk.se.as_str(), blk.index, blk.count), ("ids", "se-1", b, 2));
    assert_eq!(blk.first, MemberId(b * 10 + 1));
    assert_eq!(blk.mode, Distribution::RoundRobin);
    assert_eq!(blk.config_digest.to_string().len(), 16);

    // Two members: clone servers .10 and .11, leaving on mon0 (port 3), VLAN 50.
    assert_eq!(d.members.len(), 2);
    for (i, m) in d.members.iter().enumerate() {
        assert_eq!(m.id, MemberId(b * 10 + 1 + i as u16));
        assert_eq!(m.profile, "ids");
        assert_eq!(m.se, "se-1");
        assert_eq!(m.server_index, i as u8);
        assert_eq!(m.egress_port, 3);
        assert_eq!(m.src_mac, mac("02:00:00:00:00:03"));
        assert_eq!(m.vlan, Some(50));
        assert_eq!(m.truncate, 0);
        assert!(!m.nat_restore);
        assert_eq!(m.config_digest, blk.config_digest);
    }
    assert_eq!(d.members[0].clone_ip, ip("192.168.50.10"));
    assert_eq!(d.members[0].dst_mac, mac("02:00:00:00:50:10"));
    assert_eq!(d.members[1].clone_ip, ip("192.168.50.11"));
    assert_eq!(d.members[1].dst_mac, mac("02:00:00:00:50:11"));

    // Four rules: SE side 10.20.0.5 (backend0) <-> 10.20.1.11/12:8080, tcp.
    let key = |r: &ClassifyRule| {
        (r.src_addr.to_string(), r.src_len, r.dst_addr.to_string(), r.dst_len, r.protocol, r.l4_src_port, r.l4_dst_port)
    };
    let keys: Vec<_> = d.rules.iter().map(key).collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        keys,
        vec![
            (s("10.20.0.5"), 32, s("10.20.1.11"), 32, 6, None, Some(8080)),
            (s("10.20.0.5"), 32, s("10.20.1.12"), 32, 6, None, Some(8080)),
            (s("10.20.1.11"), 32, s("10.20.0.5"), 32, 6, Some(8080), None),
            (s("10.20.1.12"), 32, s("10.20.0.5"), 32, 6, Some(8080), None),
        ]
    );
    for r in &d.rules {
        assert_eq!(r.family, Family::V4);
        assert_eq!(r.priority, RULE_PRIORITY);
        assert_eq!(r.first_member, blk.first);
        assert_eq!(r.member_count, 2);
        assert_eq!(r.mode, Distribution::RoundRobin);
        assert_eq!(r.vs, vec!["vs-web".to_string()]);
        assert_eq!(r.owner_digest, d.rules[0].owner_digest);
    }
    assert!(d.nat.is_empty());

    let c = d.table_counts();
    assert_eq!((c.wire, c.clone_sessions, c.clone_rewrite, c.clone_classify_v4, c.clone_classify_v6), (2, 2, 2, 4, 0));
    assert_eq!(c.total(), 10);

    let sum = summarize(&basic(), &intent);
    assert_eq!(
        (sum.tenants, sum.virtual_services, sum.cloned_virtual_services, sum.profiles, sum.members),
        (2, 1, 1, 1, 2)
    );
}

#[test]
fn deterministic_and_order_independent() {
    let a = ok(&basic());
    assert_eq!(a, ok(&basic()));
    let mut cfg = synthetic::fleet(30, 3, 7, 3, 3);
    let i1 = ok(&cfg);
    cfg.virtual_services.reverse();
    cfg.traffic_clone_profiles.reverse();
    cfg.pools.reverse();
    cfg.se_groups.reverse();
    let i2 = ok(&cfg);
    assert_eq!(i1, i2, "object order in the file must not matter");
}

#[test]
fn identical_rules_from_two_vss_merge() {
    let mut cfg = basic();
    let mut vs2 = cfg.virtual_services[0].clone();
    vs2.name = "vs-web2".into();
    vs2.vip = "203.0.113.11".into();
    cfg.virtual_services.push(vs2);
    let d = &ok(&cfg).devices[0];
    assert_eq!(d.rules.len(), 4);
    assert_eq!(d.members.len(), 2, "same (profile, SE): one block");
    for r in &d.rules {
        assert_eq!(r.vs, vec!["vs-web".to_string(), "vs-web2".to_string()]);
    }
    let single = &ok(&basic()).devices[0];
    assert_ne!(d.rules[0].owner_digest, single.rules[0].owner_digest, "owners are part of the digest");
}

#[test]
fn identical_rules_with_different_profiles_conflict() {
    let mut cfg = basic();
    let mut p2 = cfg.traffic_clone_profiles[0].clone();
    p2.name = "ids2".into();
    cfg.traffic_clone_profiles.push(p2);
    let mut vs2 = cfg.virtual_services[0].clone();
    vs2.name = "vs-other".into();
    vs2.vip = "203.0.113.11".into();
    vs2.traffic_clone_profile = Some("ids2".into());
    cfg.virtual_services.push(vs2);
    let errs = compile(&cfg, &Allocation::default()).unwrap_err();
    assert_eq!(errs.len(), 1, "reported once per VS pair: {errs:#?}");
    assert_eq!(errs[0].path, "virtual_services[1]");
    assert!(errs[0].message.contains("vs-web") && errs[0].message.contains("vs-other"), "{}", errs[0].message);
}

#[test]
fn flow_hash_mode_reaches_rules_and_blocks() {
    let mut cfg = basic();
    cfg.traffic_clone_profiles[0].distribution = Distribution::FlowHash;
    let d = &ok(&cfg).devices[0];
    assert!(d.rules.iter().all(|r| r.mode == Distribution::FlowHash));
    assert_eq!(d.blocks[0].mode, Distribution::FlowHash);
    assert_ne!(d.blocks[0].config_digest, ok(&basic()).devices[0].blocks[0].config_digest);
}

#[test]
fn vlan_and_truncate() {
    let mut cfg = basic();
    cfg.networks[1].vlan = None;
    cfg.traffic_clone_profiles[0].truncate = 128;
    let d = &ok(&cfg).devices[0];
    assert!(d.members.iter().all(|m| m.vlan.is_none() && m.truncate == 128));
    cfg.networks[1].vlan = Some(4094);
    let d = &ok(&cfg).devices[0];
    assert!(d.members.iter().all(|m| m.vlan == Some(4094)));
    cfg.networks[1].vlan = Some(4095);
    let errs = compile(&cfg, &Allocation::default()).unwrap_err();
    assert_eq!(errs[0].path, "networks[1].vlan");
    cfg.networks[1].vlan = Some(50);
    cfg.traffic_clone_profiles[0].truncate = 70_000;
    let errs = compile(&cfg, &Allocation::default()).unwrap_err();
    assert_eq!(errs[0].path, "traffic_clone_profiles[0].truncate");
}

#[test]
fn nat_bindings_on_se_addresses() {
    let mut cfg = basic();
    cfg.traffic_clone_profiles[0].preserve_client_ip = true;
    cfg.nat_bindings = vec![
        NatBinding { se: "10.20.0.5:40001".into(), client: "198.51.100.7:51515".into(), protocol: Protocol::Tcp },
        // Same binding twice: one entry.
        NatBinding { se: "10.20.0.5:40001".into(), client: "198.51.100.7:51515".into(), protocol: Protocol::Tcp },
        // Not an SE address on any device: ignored.
        NatBinding { se: "10.20.9.9:40001".into(), client: "198.51.100.8:1".into(), protocol: Protocol::Udp },
    ];
    let d = &ok(&cfg).devices[0];
    assert_eq!(d.nat.len(), 1);
    let n = &d.nat[0];
    assert_eq!(
        (n.se_addr, n.se_port, n.client_addr, n.client_port, n.protocol),
        (ip("10.20.0.5"), 40001, ip("198.51.100.7"), 51515, 6)
    );
    assert!(d.members.iter().all(|m| m.nat_restore));
    let c = d.table_counts();
    assert_eq!((c.nat_src_v4, c.nat_dst_v4, c.nat_src_v6), (1, 1, 0));

    // The same SE endpoint bound to two clients is an error.
    cfg.nat_bindings[1].client = "198.51.100.9:1".into();
    let errs = compile(&cfg, &Allocation::default()).unwrap_err();
    assert!(errs[0].path.starts_with("nat_bindings["), "{errs:#?}");

    // Mixed families are an error, a malformed endpoint too; neither panics.
    cfg.nat_bindings =
        vec![NatBinding { se: "10.20.0.5:1".into(), client: "[2001:db8::1]:2".into(), protocol: Protocol::Tcp }];
    assert_eq!(compile(&cfg, &Allocation::default()).unwrap_err()[0].path, "nat_bindings[0].client");
    cfg.nat_bindings = vec![NatBinding { se: "10.20.0.5".into(), client: "x".into(), protocol: Protocol::Tcp }];
    assert_eq!(compile(&cfg, &Allocation::default()).unwrap_err().len(), 2);
}

#[test]
fn ipv6_pool_gives_v6_rules() {
    let mut cfg = basic();
    cfg.networks.push(p4clone_compiler::config::Network {
        name: "back6".into(),
        subnet: "2001:db8:20::/64".into(),
        vlan: None,
        gateway: None,
        mtu: None,
    });
    cfg.se_groups[0].service_engines[0].interfaces.push(p4clone_compiler::config::Interface {
        name: "backend6".into(),
        port: 4,
        mac: "02:00:00:00:00:04".into(),
        ip: "2001:db8:20::5/64".into(),
        network: "back6".into(),
    });
    cfg.pools[0].servers.push(p4clone_compiler::config::PoolServer { ip: "2001:db8:20::11".into(), port: 8443 });
    cfg.virtual_services[0].services.push(p4clone_compiler::config::Service { port: 53, protocol: Protocol::Udp });
    let d = &ok(&cfg).devices[0];
    // 3 servers x 2 protocols x 2 directions; the v6 server only pairs with backend6.
    assert_eq!(d.rules.len(), 12);
    let v6: Vec<_> = d.rules.iter().filter(|r| r.family == Family::V6).collect();
    assert_eq!(v6.len(), 4);
    assert!(v6.iter().all(|r| r.src_len == 128 && r.dst_len == 128));
    assert!(v6.iter().any(|r| r.src_addr == ip("2001:db8:20::5")
        && r.dst_addr == ip("2001:db8:20::11")
        && r.l4_dst_port == Some(8443)
        && r.protocol == 17));
    // v4 rules sort before v6 ones.
    assert!(d.rules.windows(2).all(|w| w[0].family <= w[1].family));
}

#[test]
fn hints_are_honoured_and_allocation_round_trips() {
    let cfg = basic();
    let mut hints = Allocation::default();
    hints.insert("nic0", "ids", "se-1", 7);
    hints.insert("nic0", "gone", "se-1", 8); // stale: ignored
    let d = compile(&cfg, &hints).unwrap().devices.remove(0);
    assert_eq!(d.members.iter().map(|m| m.id.0).collect::<Vec<_>>(), vec![71, 72]);
    assert!(d.rules.iter().all(|r| r.first_member == MemberId(71)));

    // Out-of-range hint: falls back to hashing.
    let mut bad = Allocation::default();
    bad.insert("nic0", "ids", "se-1", 5000);
    assert_eq!(compile(&cfg, &bad).unwrap(), ok(&cfg));

    let big = synthetic::fleet(50, 2, 20, 3, 2);
    let i1 = ok(&big);
    let alloc = i1.allocation();
    assert_eq!(alloc.len(), i1.devices.iter().map(|d| d.blocks.len()).sum::<usize>());
    assert_eq!(compile(&big, &alloc).unwrap(), i1);
}

#[test]
fn colliding_hints_keep_the_first() {
    let cfg = synthetic::fleet(4, 1, 2, 2, 1);
    let mut hints = Allocation::default();
    hints.insert("dev000", "prof0", "se0", 3);
    hints.insert("dev000", "prof1", "se0", 3);
    let d = compile(&cfg, &hints).unwrap().devices.remove(0);
    let p0 = d.blocks.iter().find(|b| b.profile == "prof0").unwrap();
    let p1 = d.blocks.iter().find(|b| b.profile == "prof1").unwrap();
    assert_eq!(p0.index, 3);
    assert_ne!(p1.index, 3);
}

#[test]
fn too_many_blocks_on_one_device() {
    // 3277 profiles, one VS each, all on one device: 3277 blocks > 3276.
    let cfg = synthetic::fleet(3277, 1, 3277, 1, 1);
    let errs = compile(&cfg, &Allocation::default()).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path, "devices[0]");
    assert!(errs[0].message.contains("needs more than 32767 clone sessions"), "{}", errs[0].message);
    // 3276 fit, and ids stay within 1..=32767.
    let cfg = synthetic::fleet(3276, 1, 3276, 1, 1);
    let i = ok(&cfg);
    let ids: Vec<u16> = i.devices[0].members.iter().map(|m| m.id.0).collect();
    assert_eq!(ids.len(), 3276);
    assert!(ids.iter().all(|&id| (1..=32760).contains(&id)));
}

#[test]
fn profile_digest_tracks_every_field_of_its_profile_only() {
    let base = ok(&synthetic::fleet(8, 1, 2, 2, 1));
    let digest = |i: &Intent, p: &str| i.devices[0].blocks.iter().find(|b| b.profile == p).unwrap().config_digest;
    let mut cfg = synthetic::fleet(8, 1, 2, 2, 1);
    cfg.traffic_clone_profiles[0].clone_servers[1].mac = "02:aa:00:00:00:01".into();
    let changed = ok(&cfg);
    assert_ne!(digest(&base, "prof0"), digest(&changed, "prof0"));
    assert_eq!(digest(&base, "prof1"), digest(&changed, "prof1"));
    cfg.traffic_clone_profiles[0].cloud = "other".into();
    assert_ne!(digest(&changed, "prof0"), digest(&ok(&cfg), "prof0"));
}

#[test]
fn devices_without_clones_keep_their_wires_and_are_sorted() {
    let mut cfg = basic();
    cfg.devices.insert(
        0,
        p4clone_compiler::config::Device {
            name: "zz-idle".into(),
            target: Target::Bmv2,
            address: "127.0.0.1:9560".into(),
            device_id: 7,
            wires: vec![[5, 6], [7, 8]],
            device_config: None,
        },
    );
    let i = ok(&cfg);
    assert_eq!(i.devices.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), vec!["nic0", "zz-idle"]);
    let idle = i.device("zz-idle").unwrap();
    assert_eq!(idle.wires, vec![WirePair(5, 6), WirePair(7, 8)]);
    assert!(idle.members.is_empty() && idle.rules.is_empty());
    assert_eq!(idle.table_counts().wire, 4);
}

#[test]
fn unreachable_clone_network_from_an_se_is_an_error() {
    let mut cfg = basic();
    cfg.se_groups[0].service_engines[0].interfaces.retain(|i| i.network != "monitor");
    let errs = compile(&cfg, &Allocation::default()).unwrap_err();
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0].path, "traffic_clone_profiles[0].clone_servers[0].network");
    assert!(errs[0].message.contains("se-1"), "{}", errs[0].message);
}

#[test]
fn garbage_values_are_diagnostics_not_panics() {
    let mut cfg = basic();
    cfg.networks[0].subnet = "10.20.0.1/16".into();
    cfg.se_groups[0].service_engines[0].interfaces[0].ip = "nope".into();
    cfg.se_groups[0].service_engines[0].device = "ghost".into();
    cfg.pools[0].servers[0].ip = "999.1.1.1".into();
    cfg.traffic_clone_profiles[0].clone_servers[0].mac = "zz".into();
    cfg.virtual_services[0].pool = "nowhere".into();
    let errs = compile(&cfg, &Allocation::default()).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    for want in [
        "networks[0].subnet",
        "se_groups[0].service_engines[0].interfaces[0].ip",
        "se_groups[0].service_engines[0].device",
        "traffic_clone_profiles[0].clone_servers[0].mac",
        "virtual_services[0].pool",
    ] {
        assert!(paths.contains(&want), "missing {want} in {paths:?}");
    }
    // Empty and oversized clone server lists.
    let mut cfg = basic();
    cfg.traffic_clone_profiles[0].clone_servers.clear();
    assert_eq!(compile(&cfg, &Allocation::default()).unwrap_err()[0].path, "traffic_clone_profiles[0].clone_servers");
    let mut cfg = basic();
    let cs = cfg.traffic_clone_profiles[0].clone_servers[0].clone();
    cfg.traffic_clone_profiles[0].clone_servers = vec![cs; 11];
    assert_eq!(compile(&cfg, &Allocation::default()).unwrap_err()[0].path, "traffic_clone_profiles[0].clone_servers");
    // An empty config compiles to nothing.
    assert_eq!(ok(&Config::default()), Intent { devices: vec![] });
}

#[test]
fn synthetic_default_scale_shape() {
    let cfg = synthetic::fleet(400, 8, 40, 4, 4);
    let i = ok(&cfg);
    let rules: usize = i.devices.iter().map(|d| d.rules.len()).sum();
    assert_eq!(rules, 400 * 8 * 2);
    let members: usize = i.devices.iter().map(|d| d.members.len()).sum();
    // Every profile is used on every device once VSs outnumber profiles 4:1.
    assert_eq!(members, 40 * 4 * 4);
}

#[test]
fn synthetic_fleets_validate_clean() {
    for (vs, m, p, s, d) in
        [(0, 0, 0, 1, 1), (1, 1, 1, 1, 1), (30, 3, 7, 3, 3), (200, 8, 20, 4, 4), (50, 2, 100, 10, 5)]
    {
        let cfg = synthetic::fleet(vs, m, p, s, d);
        let diags = p4clone_compiler::validate::validate(&cfg);
        assert!(diags.is_empty(), "fleet({vs},{m},{p},{s},{d}): {diags:#?}");
        ok(&cfg);
    }
}
