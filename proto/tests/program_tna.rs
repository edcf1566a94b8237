//! The TNA program's P4Info (`p4src/traffic_clone_tna.p4info.txtpb`) against its
//! module's constants and against the v1model program's P4Info: every object
//! both programs have keeps its id, its name and (tables, actions) its match
//! fields and parameters; the only objects the TNA program lacks are the
//! direct counters and the encapsulation objects, and it has none of its own.

use p4clone_proto::p4::config::v1::{P4Info, Preamble};
use p4clone_proto::{program, program_tna};

fn pre(p: &Option<Preamble>) -> (u32, String) {
    p.as_ref().map_or((0, String::new()), |p| (p.id, p.name.clone()))
}

/// (id, name) of every object of one kind.
fn objects(info: &P4Info) -> Vec<(&'static str, u32, String)> {
    let mut v = Vec::new();
    v.extend(info.tables.iter().map(|t| ("table", pre(&t.preamble))));
    v.extend(info.actions.iter().map(|t| ("action", pre(&t.preamble))));
    v.extend(info.counters.iter().map(|t| ("counter", pre(&t.preamble))));
    v.extend(info.direct_counters.iter().map(|t| ("direct counter", pre(&t.preamble))));
    v.extend(info.registers.iter().map(|t| ("register", pre(&t.preamble))));
    v.into_iter().map(|(k, (id, name))| (k, id, name)).collect()
}

#[test]
fn every_constant_has_its_p4info_id_and_nothing_lacks_one() {
    let s = program_tna::schema().expect("the embedded TNA P4Info loads");
    for t in program_tna::tables::ALL {
        assert_eq!(s.table(t.name).unwrap().id, t.id, "table {}", t.name);
    }
    for a in program_tna::actions::ALL {
        assert_eq!(s.action(a.name).unwrap().id, a.id, "action {}", a.name);
    }
    for c in program_tna::counters::ALL {
        assert_eq!(s.counter(c.name).unwrap().id, c.id, "counter {}", c.name);
    }
    for r in program_tna::registers::ALL {
        assert_eq!(s.register(r.name).unwrap().id, r.id, "register {}", r.name);
    }
    let info = s.p4info();
    assert_eq!(info.tables.len(), program_tna::tables::ALL.len());
    assert_eq!(info.actions.len(), program_tna::actions::ALL.len());
    assert_eq!(info.counters.len(), program_tna::counters::ALL.len());
    assert_eq!(info.direct_counters.len(), program_tna::direct_counters::ALL.len());
    assert_eq!(info.registers.len(), program_tna::registers::ALL.len());
    assert_eq!(info.pkg_info.as_ref().map(|p| p.arch.as_str()), Some("tna"));
}

#[test]
fn shared_objects_keep_the_v1model_ids_and_names() {
    let tna = objects(program_tna::p4info().unwrap());
    let v1 = objects(program::p4info().unwrap());
    for (kind, id, name) in &tna {
        let by_name = v1.iter().find(|(k, _, n)| k == kind && n == name);
        let by_id = v1.iter().find(|(k, i, _)| k == kind && i == id);
        assert_eq!(by_name, by_id, "{kind} {name} ({id:#010x}): id and name must match one v1model object");
        assert!(by_name.is_some(), "{kind} {name} ({id:#010x}) is not in the v1model program");
    }
    // What the TNA program lacks: the direct counters, the encapsulation objects
    // and the filter and sampling ones.
    let missing: Vec<_> = v1.iter().filter(|o| !tna.contains(o)).map(|(k, _, n)| format!("{k} {n}")).collect();
    assert_eq!(
        missing,
        [
            "table clone_encap",
            "action clone_encap_vxlan_v4",
            "action clone_encap_gre_v4",
            "action clone_encap_erspan_v4",
            "action clone_encap_none",
            "action classify_hit_sampled",
            "action classify_skip",
            "counter truncated_mtu",
            "counter skipped_by_filter",
            "counter not_sampled",
            "direct counter classify_v4_hits",
            "direct counter classify_v6_hits",
            "register erspan_seq",
            "register sample_cursor",
        ]
    );
}

#[test]
fn shared_tables_and_actions_take_the_same_entries() {
    let tna = program_tna::schema().unwrap();
    let v1 = program::schema().unwrap();
    for t in tna.tables() {
        let r = v1.table_by_id(t.id).unwrap();
        let fields = |t: &p4clone_proto::schema::TableInfo| {
            t.match_fields.iter().map(|f| (f.id, f.name.clone(), f.bitwidth, f.match_type.clone())).collect::<Vec<_>>()
        };
        assert_eq!(fields(t), fields(r), "table {}", t.name);
        assert_eq!(t.needs_priority(), r.needs_priority(), "table {}", t.name);
        for a in program_tna::actions::ALL {
            assert_eq!(t.has_action(a.id), r.has_action(a.id), "table {} action {}", t.name, a.name);
        }
    }
    for a in tna.actions() {
        let r = v1.action_by_id(a.id).unwrap();
        let params = |a: &p4clone_proto::schema::ActionInfo| {
            a.params.iter().map(|p| (p.id, p.name.clone(), p.bitwidth)).collect::<Vec<_>>()
        };
        assert_eq!(params(a), params(r), "action {}", a.name);
    }
    for c in tna.counters() {
        assert_eq!(c.size, v1.counter_by_id(c.id).unwrap().size, "counter {}", c.name);
    }
}

#[test]
fn limits_fit_the_program() {
    use program_tna::limits;
    let s = program_tna::schema().unwrap();
    // Session ids (= member ids) fit MirrorId_t and the member-indexed objects.
    assert!(u32::from(limits::MAX_CLONE_SESSION) < 1 << limits::MIRROR_ID_BITS);
    let rewrite = s.table(program_tna::tables::CLONE_REWRITE.name).unwrap();
    assert!(rewrite.size > i64::from(limits::MAX_CLONE_SESSION));
    for c in program_tna::counters::ALL {
        assert!(s.counter(c.name).unwrap().size > i64::from(limits::MAX_CLONE_SESSION), "{}", c.name);
    }
    assert_eq!(limits::MAX_PACKET_LENGTH, u32::from(u16::MAX));
}
