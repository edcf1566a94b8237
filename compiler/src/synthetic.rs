//! Generator of large, valid, deterministic configs for benchmarks and property tests.
//!
//! [`fleet`] builds a fleet of `devices` devices, each with one SE group of one
//! service engine; the SE has a `backend` interface (port 2, wired to port 1) and a
//! `monitor` interface (port 3). Every VS has its own pool of `members_per_pool`
//! servers (unique addresses in `10.0.0.0/8`, ports 8000, 8001, ...), one TCP service
//! and a clone profile; every profile has `servers_per_profile` clone servers on the
//! `monitor` network (`100.64.0.0/10`, VLAN 100). Profiles are spread over four
//! tenants; every third profile uses `flow_hash`, every fifth truncates to 128 bytes.
//!
//! VS `i` uses profile `i % profiles` and SE group `(i + i / profiles) % devices`, so
//! a profile is used on several devices once there are more VSs than profiles. Each
//! cloned VS yields `2 × members_per_pool` classify rules (forward and reverse); at the
//! default scale ([`DEFAULT_VS`] … [`DEFAULT_DEVICES`]) that is 160,000 rules and
//! 16,000 clone members.

use std::net::Ipv4Addr;

use crate::config::{
    CloneServer, Config, Device, Distribution, Interface, Network, Pool, PoolServer, Protocol, SeGroup, Service,
    ServiceEngine, Target, Tenant, TrafficCloneProfile, VirtualService,
};

/// Virtual services at the default (1×) scale.
pub const DEFAULT_VS: usize = 10_000;
/// Pool members per VS at the default scale.
pub const DEFAULT_MEMBERS_PER_POOL: usize = 8;
/// Clone profiles at the default scale.
pub const DEFAULT_PROFILES: usize = 1_000;
/// Clone servers per profile at the default scale.
pub const DEFAULT_SERVERS_PER_PROFILE: usize = 4;
/// Devices at the default scale.
pub const DEFAULT_DEVICES: usize = 4;

/// Tenants profiles (and so VSs and pools) are spread over.
const TENANTS: usize = 4;

/// The default-scale fleet times `scale`: VSs and profiles are multiplied, pool size,
/// clone servers per profile and device count stay (so `scale = 2` is 20,000 VSs).
pub fn default_fleet(scale: usize) -> Config {
    fleet(
        DEFAULT_VS * scale,
        DEFAULT_MEMBERS_PER_POOL,
        DEFAULT_PROFILES * scale,
        DEFAULT_SERVERS_PER_PROFILE,
        DEFAULT_DEVICES,
    )
}

fn v4(base: u32, offset: usize) -> String {
    Ipv4Addr::from(base.wrapping_add(offset as u32)).to_string()
}

fn mac(kind: u8, n: usize) -> String {
    let n = n as u32;
    format!("02:{kind:02x}:{:02x}:{:02x}:{:02x}:{:02x}", n >> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// Name of profile `p` in a generated fleet.
pub fn profile_name(p: usize) -> String {
    format!("prof{p}")
}

/// Name of VS `i` in a generated fleet.
pub fn vs_name(i: usize) -> String {
    format!("vs{i}")
}

/// Name of the SE group (and, with `se`, of the SE) on device `d`.
pub fn se_group_name(d: usize) -> String {
    format!("seg{d}")
}

/// A clone profile as [`fleet`] generates profile number `p`.
pub fn profile(p: usize, servers_per_profile: usize) -> TrafficCloneProfile {
    let k = servers_per_profile.clamp(1, 10);
    TrafficCloneProfile {
        name: profile_name(p),
        tenant: format!("t{}", p % TENANTS),
        cloud: "default".to_string(),
        preserve_client_ip: false,
        distribution: if p.is_multiple_of(3) { Distribution::FlowHash } else { Distribution::RoundRobin },
        truncate: if p.is_multiple_of(5) { 128 } else { 0 },
        clone_servers: (0..k)
            .map(|c| CloneServer {
                network: "monitor".to_string(),
                subnet: "100.64.0.0/10".to_string(),
                ip: v4(0x6441_0000, p * 10 + c), // 100.65.0.0 + ...
                mac: mac(2, p * 10 + c),
                encap: None,
            })
            .collect(),
        filters: Vec::new(),
        sample: None,
    }
}

/// A VS (and its own pool) as [`fleet`] generates VS number `i`.
///
/// `profiles == 0` leaves the VS uncloned.
pub fn virtual_service(i: usize, members_per_pool: usize, profiles: usize, devices: usize) -> (VirtualService, Pool) {
    let devices = devices.max(1);
    let (tenant, profile, d) = if profiles == 0 {
        ("admin".to_string(), None, i % devices)
    } else {
        let p = i % profiles;
        (format!("t{}", p % TENANTS), Some(profile_name(p)), (i + i / profiles) % devices)
    };
    let pool = Pool {
        name: format!("pool{i}"),
        tenant: tenant.clone(),
        servers: (0..members_per_pool)
            .map(|k| PoolServer {
                ip: v4(0x0A00_0001, i * members_per_pool + k), // 10.0.0.1 + ...
                port: 8000 + (k % 1000) as u16,
            })
            .collect(),
    };
    let vs = VirtualService {
        name: vs_name(i),
        tenant,
        vip: v4(0xAC10_0001, i), // 172.16.0.1 + i
        services: vec![Service { port: 443, protocol: Protocol::Tcp }],
        se_group: se_group_name(d),
        pool: pool.name.clone(),
        traffic_clone_profile: profile,
    };
    (vs, pool)
}

/// A valid (validation-clean), deterministic config of the given size.
///
/// `servers_per_profile` is clamped to 1..=10 and `devices` to at least 1.
pub fn fleet(
    vs: usize,
    members_per_pool: usize,
    profiles: usize,
    servers_per_profile: usize,
    devices: usize,
) -> Config {
    let devices = devices.max(1);
    let mut tenants = vec![Tenant { name: "admin".to_string() }];
    tenants.extend((0..TENANTS).map(|t| Tenant { name: format!("t{t}") }));
    let networks = vec![
        Network { name: "backend".to_string(), subnet: "10.0.0.0/8".to_string(), vlan: None, gateway: None, mtu: None },
        Network {
            name: "monitor".to_string(),
            subnet: "100.64.0.0/10".to_string(),
            vlan: Some(100),
            gateway: None,
            mtu: None,
        },
    ];
    let devs = (0..devices)
        .map(|d| Device {
            name: format!("dev{d:03}"),
            target: Target::Soft,
            address: format!("127.0.0.1:{}", 9559 + d),
            device_id: d as u64 + 1,
            wires: vec![[1, 2]],
            device_config: None,
        })
        .collect();
    let se_groups = (0..devices)
        .map(|d| SeGroup {
            name: se_group_name(d),
            service_engines: vec![ServiceEngine {
                name: format!("se{d}"),
                device: format!("dev{d:03}"),
                interfaces: vec![
                    Interface {
                        name: "backend0".to_string(),
                        port: 2,
                        mac: mac(1, d * 2),
                        ip: format!("{}/8", v4(0x0AFF_0001, d)), // 10.255.0.1 + d
                        network: "backend".to_string(),
                    },
                    Interface {
                        name: "mon0".to_string(),
                        port: 3,
                        mac: mac(1, d * 2 + 1),
                        ip: format!("{}/10", v4(0x6440_0001, d)), // 100.64.0.1 + d
                        network: "monitor".to_string(),
                    },
                ],
            }],
        })
        .collect();
    let mut pools = Vec::with_capacity(vs);
    let mut vss = Vec::with_capacity(vs);
    for i in 0..vs {
        let (v, p) = virtual_service(i, members_per_pool, profiles, devices);
        vss.push(v);
        pools.push(p);
    }
    Config {
        tenants,
        networks,
        devices: devs,
        se_groups,
        pools,
        virtual_services: vss,
        traffic_clone_profiles: (0..profiles).map(|p| profile(p, servers_per_profile)).collect(),
        nat_bindings: Vec::new(),
    }
}
