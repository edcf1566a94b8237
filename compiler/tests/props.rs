//! Property tests over small synthetic fleets: determinism (same config, and the
//! same config with its lists shuffled, give identical encoded WriteRequests) and
//! stability (adding or removing a VS or a profile, compiling with the previous
//! allocation as hints, moves no existing member id and no existing block).

use std::collections::BTreeMap;

use p4clone_compiler::config::Config;
use p4clone_compiler::intent::{compile, Allocation, Intent};
use p4clone_compiler::lower::{lower_device, lower_entities, program_schema, verify_entity, write_request};
use p4clone_compiler::synthetic;
use p4clone_proto::p4::v1::WriteRequest;
use proptest::prelude::*;
use prost::Message;

#[derive(Debug, Clone, Copy)]
struct Shape {
    vs: usize,
    members: usize,
    profiles: usize,
    servers: usize,
    devices: usize,
}

fn shape() -> impl Strategy<Value = Shape> {
    (1usize..40, 1usize..4, 1usize..12, 1usize..5, 1usize..4)
        .prop_map(|(vs, members, profiles, servers, devices)| Shape { vs, members, profiles, servers, devices })
}

fn fleet(s: Shape) -> Config {
    synthetic::fleet(s.vs, s.members, s.profiles, s.servers, s.devices)
}

fn intent(cfg: &Config, hints: &Allocation) -> Intent {
    compile(cfg, hints).unwrap_or_else(|e| panic!("compile failed: {e:#?}"))
}

fn encoded(i: &Intent) -> Vec<Vec<u8>> {
    let schema = program_schema().unwrap();
    i.devices.iter().map(|d| write_request(d.device_id, lower_device(d, schema).unwrap()).encode_to_vec()).collect()
}

/// (device, profile, se) -> block index.
fn blocks(i: &Intent) -> BTreeMap<(String, String, String), u16> {
    i.devices
        .iter()
        .flat_map(|d| d.blocks.iter().map(move |b| ((d.name.clone(), b.profile.clone(), b.se.clone()), b.index)))
        .collect()
}

/// (device, profile, se, server index) -> member id.
fn members(i: &Intent) -> BTreeMap<(String, String, String, u8), u16> {
    i.devices
        .iter()
        .flat_map(|d| {
            d.members.iter().map(move |m| ((d.name.clone(), m.profile.clone(), m.se.clone(), m.server_index), m.id.0))
        })
        .collect()
}

/// Every key of `small` is in `big` with the same value.
fn kept<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(small: &BTreeMap<K, V>, big: &BTreeMap<K, V>) {
    for (k, v) in small {
        assert_eq!(big.get(k), Some(v), "{k:?} moved");
    }
}

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn compile_is_deterministic(s in shape(), seed in any::<u64>()) {
        let cfg = fleet(s);
        let a = encoded(&intent(&cfg, &Allocation::default()));
        let b = encoded(&intent(&cfg, &Allocation::default()));
        prop_assert_eq!(&a, &b);
        let mut shuffled = cfg.clone();
        shuffle(&mut shuffled.virtual_services, seed);
        shuffle(&mut shuffled.traffic_clone_profiles, seed ^ 1);
        shuffle(&mut shuffled.pools, seed ^ 2);
        shuffle(&mut shuffled.devices, seed ^ 3);
        let c = encoded(&intent(&shuffled, &Allocation::default()));
        prop_assert_eq!(&a, &c);
    }

    #[test]
    fn everything_emitted_round_trips_and_resolves(s in shape()) {
        let schema = program_schema().unwrap();
        for d in intent(&fleet(s), &Allocation::default()).devices {
            for e in lower_entities(&d, schema).unwrap() {
                verify_entity(schema, &e).unwrap();
            }
            let wr = write_request(d.device_id, lower_device(&d, schema).unwrap());
            prop_assert_eq!(WriteRequest::decode(wr.encode_to_vec().as_slice()).unwrap(), wr);
        }
    }

    #[test]
    fn adding_a_vs_moves_nothing(s in shape(), with_hints in any::<bool>()) {
        let cfg = fleet(s);
        let before = intent(&cfg, &Allocation::default());
        let mut more = cfg.clone();
        let (vs, pool) = synthetic::virtual_service(s.vs, s.members, s.profiles, s.devices);
        more.virtual_services.push(vs);
        more.pools.push(pool);
        let hints = if with_hints { before.allocation() } else { Allocation::default() };
        let after = intent(&more, &hints);
        if with_hints {
            kept(&blocks(&before), &blocks(&after));
            kept(&members(&before), &members(&after));
        }
        // With or without hints every old rule survives (possibly pointing elsewhere
        // only if its block moved, which hints prevent).
        let rules = |i: &Intent| i.devices.iter().map(|d| d.rules.len()).sum::<usize>();
        prop_assert_eq!(rules(&after), rules(&before) + 2 * s.members);
    }

    #[test]
    fn adding_a_profile_moves_nothing(s in shape()) {
        let cfg = fleet(s);
        let before = intent(&cfg, &Allocation::default());
        let mut more = cfg.clone();
        let p = synthetic::profile(s.profiles, s.servers);
        let (mut vs, mut pool) = synthetic::virtual_service(s.vs, s.members, s.profiles, s.devices);
        vs.traffic_clone_profile = Some(p.name.clone());
        vs.tenant = p.tenant.clone();
        pool.tenant = p.tenant.clone();
        more.traffic_clone_profiles.push(p);
        more.virtual_services.push(vs);
        more.pools.push(pool);
        prop_assert!(!p4clone_compiler::validate::has_errors(&p4clone_compiler::validate::validate(&more)));
        let after = intent(&more, &before.allocation());
        kept(&blocks(&before), &blocks(&after));
        kept(&members(&before), &members(&after));
        prop_assert_eq!(blocks(&after).len(), blocks(&before).len() + 1);
    }

    #[test]
    fn removing_a_vs_or_a_profile_moves_nothing(s in shape(), pick in any::<usize>(), profile in any::<bool>()) {
        let cfg = fleet(s);
        let before = intent(&cfg, &Allocation::default());
        let mut less = cfg.clone();
        if profile {
            let name = less.traffic_clone_profiles.remove(pick % s.profiles).name;
            for v in &mut less.virtual_services {
                if v.traffic_clone_profile.as_deref() == Some(name.as_str()) {
                    v.traffic_clone_profile = None;
                }
            }
        } else {
            let v = less.virtual_services.remove(pick % s.vs);
            less.pools.retain(|p| p.name != v.pool);
        }
        prop_assert!(!p4clone_compiler::validate::has_errors(&p4clone_compiler::validate::validate(&less)));
        let after = intent(&less, &before.allocation());
        kept(&blocks(&after), &blocks(&before));
        kept(&members(&after), &members(&before));
    }
}
