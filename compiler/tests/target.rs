//! Target-aware compile: a Tofino device gets Stratum-shaped clone sessions
//! (one replica, instance 0, non-zero port, the truncation as
//! `packet_length_bytes`), at most 1015 session ids, and the configs that do
//! not fit are refused naming the device.

use p4clone_compiler::config::{Config, Target};
use p4clone_compiler::intent::{compile, Allocation, Intent};
use p4clone_compiler::lower::{lower_entities, verify_entity, verify_entity_for};
use p4clone_compiler::synthetic;
use p4clone_proto::p4::v1::{entity, packet_replication_engine_entry, Entity};
use p4clone_proto::program::{actions, tables};
use p4clone_proto::{bytestring, program_tna};

const TOFINO: &str = include_str!("../../examples/tofino.yaml");

fn tofino() -> Config {
    serde_norway::from_str(TOFINO).expect("tofino.yaml parses")
}

fn intent(cfg: &Config) -> Intent {
    compile(cfg, &Allocation::default()).unwrap_or_else(|e| panic!("compile failed: {e:#?}"))
}

fn errors(cfg: &Config) -> Vec<String> {
    match compile(cfg, &Allocation::default()) {
        Ok(_) => panic!("the config compiled"),
        Err(e) => e.into_iter().map(|d| format!("{}: {}", d.path, d.message)).collect(),
    }
}

fn sessions(es: &[Entity]) -> Vec<&p4clone_proto::p4::v1::CloneSessionEntry> {
    es.iter()
        .filter_map(|e| match &e.entity {
            Some(entity::Entity::PacketReplicationEngineEntry(p)) => match &p.r#type {
                Some(packet_replication_engine_entry::Type::CloneSessionEntry(c)) => Some(c),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn tofino_sessions_follow_stratum_and_the_session_truncates() {
    let cfg = tofino();
    let i = intent(&cfg);
    let d = &i.devices[0];
    assert_eq!(d.target, Target::Tofino);
    let schema = program_tna::schema().unwrap();
    let es = lower_entities(d, schema).unwrap();
    let s = sessions(&es);
    assert_eq!(s.len(), 2);
    for c in &s {
        assert!((1..=1015).contains(&c.session_id), "{}", c.session_id);
        assert_eq!(c.replicas.len(), 1);
        assert_eq!(c.replicas[0].instance, 0);
        assert_eq!(c.packet_length_bytes, 128);
        assert_eq!(c.class_of_service, 0);
    }
    // The rewrite entries carry truncate_len 0: the program does not cut.
    let a = schema.action(actions::CLONE_REWRITE_SET.name).unwrap();
    let truncate_len = a.param("truncate_len").unwrap().id;
    let rewrites: Vec<_> = es
        .iter()
        .filter_map(|e| match &e.entity {
            Some(entity::Entity::TableEntry(t)) if t.table_id == tables::CLONE_REWRITE.id => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(rewrites.len(), 2);
    for t in rewrites {
        let Some(p4clone_proto::p4::v1::table_action::Type::Action(act)) =
            t.action.as_ref().and_then(|a| a.r#type.as_ref())
        else {
            panic!("no action")
        };
        let p = act.params.iter().find(|p| p.param_id == truncate_len).unwrap();
        assert_eq!(p.value.to_vec(), bytestring::encode(0));
    }
    // Every entity passes Tofino's rules, and the sessions fail BMv2's.
    for e in &es {
        verify_entity_for(Target::Tofino.rules(), schema, e).unwrap();
    }
    assert!(es.iter().any(|e| verify_entity(schema, e).is_err()));
}

#[test]
fn the_same_config_on_bmv2_truncates_in_the_program() {
    let mut cfg = tofino();
    cfg.devices[0].target = Target::Bmv2;
    let i = intent(&cfg);
    let es = lower_entities(&i.devices[0], p4clone_proto::program::schema().unwrap()).unwrap();
    for c in sessions(&es) {
        assert_eq!(c.packet_length_bytes, 0);
        assert_eq!(c.replicas[0].instance, c.session_id);
    }
}

/// A one-device fleet with `keys` (profile, SE) blocks of `servers` clone servers.
fn fleet_on(target: Target, keys: usize, servers: usize) -> Config {
    let mut cfg = synthetic::fleet(keys, 1, keys, servers, 1);
    for d in &mut cfg.devices {
        d.target = target;
    }
    cfg
}

#[test]
fn a_tofino_device_holds_at_most_1015_sessions() {
    // 101 blocks of 10: 1010 members, every id within 1..=1015.
    let i = intent(&fleet_on(Target::Tofino, 101, 10));
    let d = &i.devices[0];
    assert_eq!(d.members.len(), 1010);
    assert!(d.members.iter().all(|m| (1..=1015).contains(&m.id.0)));

    // One block more does not fit; the error names the device and the limit.
    let cfg = fleet_on(Target::Tofino, 102, 1);
    let errs = errors(&cfg);
    let name = &cfg.devices[0].name;
    assert!(
        errs.iter().any(|e| e.starts_with("devices[0]:")
            && e.contains(&format!("device `{name}` (tofino)"))
            && e.contains("1..=1015")),
        "{errs:#?}"
    );
    // The same config fits a v1model device.
    intent(&fleet_on(Target::Bmv2, 102, 1));
}

#[test]
fn a_tofino_device_cannot_clone_to_port_0() {
    let mut cfg = tofino();
    let itf = cfg.se_groups[0].service_engines[0].interfaces.iter_mut().find(|i| i.network == "monitor").unwrap();
    itf.port = 0;
    let errs = errors(&cfg);
    assert!(
        errs.iter().any(|e| e.starts_with("se_groups[0].service_engines[0].interfaces[1].port:")
            && e.contains("device `nic0` (tofino) cannot clone to port 0")),
        "{errs:#?}"
    );
    cfg.devices[0].target = Target::Soft;
    intent(&cfg);
}
