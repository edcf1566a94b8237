//! Lowering tests: hand-checked entities for `examples/basic.yaml`, P4Info
//! consistency of everything emitted for all examples, protobuf round trips
//! (binary, text, JSON), ordering and error cases.

use p4clone_compiler::config::Config;
use p4clone_compiler::intent::{compile, Allocation, DeviceIntent, Intent};
use p4clone_compiler::lower::{
    default_action_entities, deletion_updates, lower_device, lower_entities, program_schema, verify_entity,
    write_request, LowerError,
};
use p4clone_proto::format;
use p4clone_proto::p4::v1::{
    entity, field_match, packet_replication_engine_entry, replica, table_action, update, write_request, Entity,
    TableEntry, Update, WriteRequest,
};
use p4clone_proto::schema::{MatchKind, P4Schema};
use prost::Message;

const EXAMPLES: [(&str, &str); 3] = [
    ("basic", include_str!("../../examples/basic.yaml")),
    ("multi", include_str!("../../examples/multi.yaml")),
    ("ssl-tandem", include_str!("../../examples/ssl-tandem.yaml")),
];

fn intent_of(text: &str) -> Intent {
    let cfg: Config = serde_norway::from_str(text).expect("example parses");
    compile(&cfg, &Allocation::default()).expect("example compiles")
}

fn schema() -> &'static P4Schema {
    program_schema().expect("embedded P4Info parses")
}

fn table_entry(e: &Entity) -> &TableEntry {
    match &e.entity {
        Some(entity::Entity::TableEntry(t)) => t,
        other => panic!("not a table entry: {other:?}"),
    }
}

fn table_name(e: &Entity) -> String {
    match &e.entity {
        Some(entity::Entity::TableEntry(t)) => schema().table_by_id(t.table_id).unwrap().name.clone(),
        Some(entity::Entity::PacketReplicationEngineEntry(_)) => "clone_session".to_string(),
        other => panic!("unexpected {other:?}"),
    }
}

fn exact(e: &TableEntry, field: &str) -> Vec<u8> {
    let t = schema().table_by_id(e.table_id).unwrap();
    let id = t.match_field(field).unwrap().id;
    match &e.r#match.iter().find(|m| m.field_id == id).unwrap().field_match_type {
        Some(field_match::FieldMatchType::Exact(x)) => x.value.to_vec(),
        other => panic!("{other:?}"),
    }
}

fn ternary(e: &TableEntry, field: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let t = schema().table_by_id(e.table_id).unwrap();
    let id = t.match_field(field).unwrap().id;
    e.r#match.iter().find(|m| m.field_id == id).map(|m| match &m.field_match_type {
        Some(field_match::FieldMatchType::Ternary(x)) => (x.value.to_vec(), x.mask.to_vec()),
        other => panic!("{other:?}"),
    })
}

fn params(e: &TableEntry) -> (String, Vec<(String, Vec<u8>)>) {
    let Some(table_action::Type::Action(a)) = e.action.as_ref().unwrap().r#type.as_ref() else { panic!() };
    let ai = schema().action_by_id(a.action_id).unwrap();
    (
        ai.name.clone(),
        a.params.iter().map(|p| (ai.param_by_id(p.param_id).unwrap().name.clone(), p.value.to_vec())).collect(),
    )
}

#[test]
fn basic_entities_by_hand() {
    let intent = intent_of(EXAMPLES[0].1);
    let d = &intent.devices[0];
    let ents = lower_entities(d, schema()).unwrap();
    let names: Vec<String> = ents.iter().map(table_name).collect();
    assert_eq!(
        names,
        [
            "wire",
            "wire",
            "clone_session",
            "clone_session",
            "clone_rewrite",
            "clone_rewrite",
            "clone_classify_v4",
            "clone_classify_v4",
            "clone_classify_v4",
            "clone_classify_v4"
        ]
    );

    // wire 1 -> 2 and 2 -> 1, no priority.
    let w0 = table_entry(&ents[0]);
    assert_eq!(exact(w0, "ingress_port"), vec![1]);
    assert_eq!(params(w0), ("wire_forward".into(), vec![("port".into(), vec![2])]));
    assert_eq!(w0.priority, 0);
    assert_eq!(w0.metadata.as_ref(), b"wire:1-2");
    assert_eq!(exact(table_entry(&ents[1]), "ingress_port"), vec![2]);

    // Clone session 3331 (block 333): one replica to port 3, instance = id, no truncation.
    let first = d.members[0].id.0;
    assert_eq!(first, 3331);
    let Some(entity::Entity::PacketReplicationEngineEntry(pre)) = &ents[2].entity else { panic!() };
    let Some(packet_replication_engine_entry::Type::CloneSessionEntry(cs)) = &pre.r#type else { panic!() };
    assert_eq!((cs.session_id, cs.packet_length_bytes, cs.class_of_service), (3331, 0, 0));
    assert_eq!(cs.replicas.len(), 1);
    assert_eq!(cs.replicas[0].instance, 3331);
    #[allow(deprecated)]
    let port = replica::PortKind::EgressPort(3);
    assert_eq!(cs.replicas[0].port_kind, Some(port));

    // clone_rewrite for 3331: MACs, VLAN 50, no truncation, no NAT.
    let rw = table_entry(&ents[4]);
    assert_eq!(exact(rw, "member"), vec![0x0d, 0x03]);
    assert_eq!(
        params(rw),
        (
            "clone_rewrite_set".into(),
            vec![
                ("dst_mac".into(), vec![2, 0, 0, 0, 0x50, 0x10]),
                ("src_mac".into(), vec![2, 0, 0, 0, 0, 3]),
                ("vlan_id".into(), vec![50]),
                ("truncate_len".into(), vec![0]),
                ("nat_restore".into(), vec![0]),
            ]
        )
    );
    let mut meta = d.members[0].config_digest.hex_bytes().to_vec();
    meta.extend_from_slice(b"\0ids\0se-1");
    assert_eq!(rw.metadata, meta);

    // Forward rule: src 10.20.0.5, dst 10.20.1.11, tcp, sport omitted, dport 8080.
    let fwd = table_entry(&ents[6]);
    assert_eq!(ternary(fwd, "src_addr"), Some((vec![10, 20, 0, 5], vec![255; 4])));
    assert_eq!(ternary(fwd, "dst_addr"), Some((vec![10, 20, 1, 11], vec![255; 4])));
    assert_eq!(ternary(fwd, "protocol"), Some((vec![6], vec![255])));
    assert_eq!(ternary(fwd, "l4_src_port"), None, "wildcard ternary fields are omitted");
    assert_eq!(ternary(fwd, "l4_dst_port"), Some((vec![0x1f, 0x90], vec![255, 255])));
    assert_eq!(fwd.priority, 100);
    assert_eq!(
        params(fwd),
        (
            "classify_hit".into(),
            vec![("first_member".into(), vec![0x0d, 0x03]), ("member_count".into(), vec![2]), ("mode".into(), vec![0]),]
        )
    );
    assert_eq!(fwd.metadata.as_ref(), d.rules[0].owner_digest.hex_bytes());
    // Reverse rule: sport 8080, dport omitted.
    let rev = table_entry(&ents[8]);
    assert_eq!(ternary(rev, "src_addr"), Some((vec![10, 20, 1, 11], vec![255; 4])));
    assert_eq!(ternary(rev, "l4_src_port"), Some((vec![0x1f, 0x90], vec![255, 255])));
    assert_eq!(ternary(rev, "l4_dst_port"), None);

    // Updates: all INSERT, same order; one WriteRequest.
    let ups = lower_device(d, schema()).unwrap();
    assert!(ups.iter().all(|u| u.r#type == update::Type::Insert as i32));
    assert_eq!(ups.iter().map(|u| u.entity.clone().unwrap()).collect::<Vec<_>>(), ents);
    let wr = write_request(d.device_id, ups);
    assert_eq!(wr.device_id, 1);
    assert_eq!(wr.atomicity, write_request::Atomicity::ContinueOnError as i32);
    assert!(wr.election_id.is_none());
}

/// Independent re-check of an entity against the schema (not through `verify_entity`).
fn check_against_p4info(e: &Entity) {
    let s = schema();
    match &e.entity {
        Some(entity::Entity::TableEntry(te)) => {
            let t = s.table_by_id(te.table_id).expect("table id exists");
            for m in &te.r#match {
                let f = t.match_field_by_id(m.field_id).expect("field belongs to the table");
                match (&m.field_match_type, &f.match_type) {
                    (Some(field_match::FieldMatchType::Exact(x)), MatchKind::Exact) => {
                        assert!(p4clone_proto::bytestring::fits(&x.value, f.bitwidth));
                        assert!(p4clone_proto::bytestring::is_canonical(&x.value));
                    }
                    (Some(field_match::FieldMatchType::Ternary(x)), MatchKind::Ternary) => {
                        assert!(p4clone_proto::bytestring::fits(&x.value, f.bitwidth));
                        assert!(p4clone_proto::bytestring::fits(&x.mask, f.bitwidth));
                        assert!(p4clone_proto::bytestring::is_canonical(&x.value));
                        assert!(p4clone_proto::bytestring::is_canonical(&x.mask));
                        assert!(p4clone_proto::bytestring::is_masked(&x.value, &x.mask));
                    }
                    other => panic!("match kind mismatch in {}: {other:?}", t.name),
                }
            }
            assert_eq!(te.priority != 0, t.needs_priority(), "{}", t.name);
            let Some(table_action::Type::Action(a)) = te.action.as_ref().unwrap().r#type.as_ref() else { panic!() };
            assert!(t.has_action(a.action_id), "action belongs to {}", t.name);
            let ai = s.action_by_id(a.action_id).unwrap();
            assert_eq!(a.params.len(), ai.params.len());
            for p in &a.params {
                let pi = ai.param_by_id(p.param_id).expect("param belongs to the action");
                assert!(p4clone_proto::bytestring::fits(&p.value, pi.bitwidth), "{}.{}", ai.name, pi.name);
                assert!(p4clone_proto::bytestring::is_canonical(&p.value));
            }
            assert!(!te.metadata.is_empty());
        }
        Some(entity::Entity::PacketReplicationEngineEntry(_)) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn every_entity_of_every_example_matches_the_p4info() {
    for (name, text) in EXAMPLES {
        let intent = intent_of(text);
        assert!(!intent.devices.is_empty(), "{name}");
        for d in &intent.devices {
            let ents = lower_entities(d, schema()).unwrap_or_else(|e| panic!("{name}/{}: {e}", d.name));
            assert_eq!(ents.len(), d.table_counts().total(), "{name}/{}", d.name);
            for e in &ents {
                verify_entity(schema(), e).unwrap_or_else(|err| panic!("{name}/{}: {err}", d.name));
                check_against_p4info(e);
            }
        }
    }
}

#[test]
fn the_schema_matches_the_dataplane_contract_ids() {
    // docs/dataplane.md lists these ids; lowering itself never hard-codes them.
    let s = schema();
    for (name, id) in [
        ("wire", 0x0200_0001),
        ("clone_classify_v4", 0x0200_0002),
        ("clone_classify_v6", 0x0200_0003),
        ("clone_rewrite", 0x0200_0004),
        ("nat_src_v4", 0x0200_0005),
        ("nat_dst_v4", 0x0200_0006),
        ("nat_src_v6", 0x0200_0007),
        ("nat_dst_v6", 0x0200_0008),
    ] {
        assert_eq!(s.table(name).unwrap().id, id, "{name}");
    }
    for e in default_action_entities(s).unwrap() {
        let te = table_entry(&e);
        assert!(te.is_default_action);
    }
}

fn all_requests() -> Vec<(String, WriteRequest)> {
    let mut out = Vec::new();
    for (name, text) in EXAMPLES {
        for d in intent_of(text).devices {
            out.push((format!("{name}/{}", d.name), write_request(d.device_id, lower_device(&d, schema()).unwrap())));
        }
    }
    out
}

#[test]
fn protobuf_round_trips() {
    for (name, wr) in all_requests() {
        let bytes = wr.encode_to_vec();
        assert_eq!(WriteRequest::decode(bytes.as_slice()).unwrap(), wr, "{name}: binary");
        let text = format::to_text(&wr);
        assert_eq!(format::from_text::<WriteRequest>(&text).unwrap(), wr, "{name}: text");
        let json = format::to_json_string(&wr).unwrap();
        assert_eq!(format::from_json::<WriteRequest>(&json).unwrap(), wr, "{name}: json");
    }
}

#[test]
fn deletions_go_in_reverse_order() {
    let intent = intent_of(EXAMPLES[0].1);
    let ents = lower_entities(&intent.devices[0], schema()).unwrap();
    let dels: Vec<Update> = deletion_updates(ents.clone());
    assert!(dels.iter().all(|u| u.r#type == update::Type::Delete as i32));
    let mut rev = ents;
    rev.reverse();
    assert_eq!(dels.into_iter().map(|u| u.entity.unwrap()).collect::<Vec<_>>(), rev);
}

#[test]
fn values_too_wide_for_the_program_are_errors() {
    let mut d: DeviceIntent = intent_of(EXAMPLES[0].1).devices.remove(0);
    d.wires[0].1 = 512; // ports are 9 bits
    match lower_entities(&d, schema()) {
        Err(LowerError::TooWide { bits: 9, value: 512, .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut d: DeviceIntent = intent_of(EXAMPLES[0].1).devices.remove(0);
    d.members[0].egress_port = 600;
    assert!(matches!(lower_entities(&d, schema()), Err(LowerError::TooWide { .. })));
    let mut d: DeviceIntent = intent_of(EXAMPLES[0].1).devices.remove(0);
    d.rules[0].src_addr = "2001:db8::1".parse().unwrap();
    assert!(matches!(lower_entities(&d, schema()), Err(LowerError::Intent { .. })));
}

#[test]
fn a_p4info_that_breaks_the_contract_is_rejected() {
    let renamed = p4clone_compiler::lower::P4INFO_TEXT.replace("\"clone_rewrite\"", "\"clone_rewrite_x\"");
    let s = P4Schema::from_text(&renamed).unwrap();
    let d = &intent_of(EXAMPLES[0].1).devices[0];
    let err = lower_entities(d, &s).unwrap_err();
    assert!(matches!(err, LowerError::Schema(_)), "{err}");
    assert!(err.to_string().contains("clone_rewrite"), "{err}");
}

#[test]
fn allocation_is_recoverable_from_clone_rewrite_metadata() {
    use p4clone_compiler::lower::{allocation_from_rewrites, parse_rewrite_metadata};
    for (name, text) in EXAMPLES {
        let intent = intent_of(text);
        for d in &intent.devices {
            let ents = lower_entities(d, schema()).unwrap();
            let rewrite_id = schema().table("clone_rewrite").unwrap().id;
            let read_back: Vec<(u16, Vec<u8>)> = ents
                .iter()
                .filter_map(|e| match &e.entity {
                    Some(entity::Entity::TableEntry(t)) if t.table_id == rewrite_id => {
                        let id = p4clone_proto::bytestring::decode(&exact(t, "member")).unwrap() as u16;
                        Some((id, t.metadata.to_vec()))
                    }
                    _ => None,
                })
                .collect();
            let got = allocation_from_rewrites(&d.name, read_back.iter().map(|(i, m)| (*i, m.as_slice())));
            let mut want = Allocation::default();
            for b in &d.blocks {
                want.insert(&d.name, &b.profile, &b.se, b.index);
            }
            assert_eq!(got, want, "{name}/{}", d.name);
        }
    }
    assert_eq!(parse_rewrite_metadata(b"nonsense"), None);
    assert_eq!(
        parse_rewrite_metadata(b"0123456789abcdef\0p\0s"),
        Some(("0123456789abcdef".into(), "p".into(), "s".into()))
    );
}
