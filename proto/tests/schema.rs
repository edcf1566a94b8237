//! P4Schema over a small inline P4Info.

use p4clone_proto::p4::config::v1::P4Info;
use p4clone_proto::schema::{CounterUnit, MatchKind, P4Schema};
use p4clone_proto::{format, Error};

const P4INFO: &str = r#"
pkg_info { arch: "v1model" }
tables {
  preamble { id: 33554433 name: "MyIngress.wire" alias: "wire" }
  match_fields { id: 1 name: "ingress_port" bitwidth: 9 match_type: EXACT }
  action_refs { id: 16777217 }
  action_refs { id: 16777218 }
  const_default_action_id: 16777218
  size: 512
}
tables {
  preamble { id: 33554434 name: "clone_classify_v4" alias: "clone_classify_v4" }
  match_fields { id: 1 name: "src_addr" bitwidth: 32 match_type: TERNARY }
  match_fields { id: 2 name: "dst_addr" bitwidth: 32 match_type: TERNARY }
  action_refs { id: 16777219 }
  direct_resource_ids: 318767105
  size: 262144
}
actions {
  preamble { id: 16777217 name: "wire_forward" alias: "wire_forward" }
  params { id: 1 name: "port" bitwidth: 9 }
}
actions {
  preamble { id: 16777218 name: "wire_drop" alias: "wire_drop" }
}
actions {
  preamble { id: 16777219 name: "classify_hit" alias: "classify_hit" }
  params { id: 1 name: "first_member" bitwidth: 16 }
  params { id: 2 name: "member_count" bitwidth: 16 }
  params { id: 3 name: "mode" bitwidth: 8 }
}
counters {
  preamble { id: 301989889 name: "clones_requested" alias: "clones_requested" }
  spec { unit: BOTH }
  size: 32768
}
direct_counters {
  preamble { id: 318767105 name: "classify_v4_hits" alias: "classify_v4_hits" }
  spec { unit: BOTH }
  direct_table_id: 33554434
}
registers {
  preamble { id: 369098753 name: "rr_cursor" alias: "rr_cursor" }
  type_spec { bitstring { bit { bitwidth: 16 } } }
  size: 32768
}
"#;

fn schema() -> P4Schema {
    P4Schema::from_text(P4INFO).unwrap()
}

#[test]
fn resolves_tables_by_name_alias_and_id() {
    let s = schema();
    let wire = s.table("wire").unwrap();
    assert_eq!(s.table("MyIngress.wire").unwrap(), wire);
    assert_eq!(s.table_by_id(0x0200_0001).unwrap(), wire);
    assert_eq!(wire.name, "MyIngress.wire");
    assert_eq!(wire.alias, "wire");
    assert_eq!(wire.size, 512);
    assert_eq!(wire.action_ids, [0x0100_0001, 0x0100_0002]);
    assert_eq!(wire.const_default_action_id, Some(0x0100_0002));
    assert!(!wire.is_const);
    assert!(!wire.needs_priority());
    assert!(wire.has_action(0x0100_0001) && !wire.has_action(0x0100_0003));

    let f = wire.match_field("ingress_port").unwrap();
    assert_eq!((f.id, f.bitwidth, &f.match_type), (1, 9, &MatchKind::Exact));
    assert_eq!(wire.match_field_by_id(1).unwrap(), f);

    let v4 = s.table("clone_classify_v4").unwrap();
    assert!(v4.needs_priority());
    assert_eq!(v4.const_default_action_id, None);
    assert_eq!(v4.direct_resource_ids, [0x1300_0001]);
    let dst = s.match_field("clone_classify_v4", "dst_addr").unwrap();
    assert_eq!((dst.id, dst.bitwidth, &dst.match_type), (2, 32, &MatchKind::Ternary));
    assert_eq!(s.tables().len(), 2);
}

#[test]
fn resolves_actions_and_params() {
    let s = schema();
    let hit = s.action("classify_hit").unwrap();
    assert_eq!(hit.id, 0x0100_0003);
    assert_eq!(s.action_by_id(0x0100_0003).unwrap(), hit);
    let names: Vec<_> = hit.params.iter().map(|p| (p.id, p.name.as_str(), p.bitwidth)).collect();
    assert_eq!(names, [(1, "first_member", 16), (2, "member_count", 16), (3, "mode", 8)]);
    assert_eq!(s.action_param("wire_forward", "port").unwrap().bitwidth, 9);
    assert_eq!(hit.param_by_id(3).unwrap().name, "mode");
    assert!(s.action("wire_drop").unwrap().params.is_empty());
    assert_eq!(s.actions().len(), 3);
}

#[test]
fn resolves_counters_and_registers() {
    let s = schema();
    let c = s.counter("clones_requested").unwrap();
    assert_eq!((c.id, c.size, c.unit), (0x1200_0001, 32768, CounterUnit::Both));
    assert_eq!(s.counter_by_id(0x1200_0001).unwrap(), c);
    let d = s.direct_counter("classify_v4_hits").unwrap();
    assert_eq!((d.id, d.table_id), (0x1300_0001, 0x0200_0002));
    assert_eq!(s.direct_counter_by_id(0x1300_0001).unwrap(), d);
    assert_eq!(s.direct_counter_of_table(0x0200_0002), Some(d));
    assert_eq!(s.direct_counter_of_table(0x0200_0001), None);
    let r = s.register("rr_cursor").unwrap();
    assert_eq!((r.id, r.size, r.bitwidth), (0x1600_0001, 32768, Some(16)));
    assert_eq!(s.register_by_id(0x1600_0001).unwrap(), r);
    assert_eq!(s.p4info().pkg_info.as_ref().unwrap().arch, "v1model");
}

#[test]
fn unknown_names_are_clear_errors() {
    let s = schema();
    let err = s.table("foo").unwrap_err();
    assert!(matches!(err, Error::UnknownName { kind: "table", .. }));
    assert_eq!(err.to_string(), "no table `foo` in the P4Info (tables: MyIngress.wire, clone_classify_v4)");
    assert_eq!(
        s.action("nope").unwrap_err().to_string(),
        "no action `nope` in the P4Info (actions: wire_forward, wire_drop, classify_hit)"
    );
    assert_eq!(
        s.match_field("wire", "egress_port").unwrap_err().to_string(),
        "table `MyIngress.wire` has no match field `egress_port` (match fields: ingress_port)"
    );
    assert_eq!(
        s.action_param("classify_hit", "count").unwrap_err().to_string(),
        "action `classify_hit` has no parameter `count` \
         (parameters: first_member, member_count, mode)"
    );
    assert_eq!(
        s.action_param("wire_drop", "x").unwrap_err().to_string(),
        "action `wire_drop` has no parameter `x` (parameters: none)"
    );
    assert_eq!(s.table_by_id(0x0200_0009).unwrap_err().to_string(), "no table with id 0x02000009 in the P4Info");
    assert!(s.counter("rr_cursor").is_err());
    assert!(s.register("clones_requested").is_err());
    assert!(s.direct_counter("x").is_err());
    assert!(s.counter_by_id(1).is_err());
}

#[test]
fn rejects_malformed_p4info() {
    let dup_id = r#"
      actions { preamble { id: 1 name: "a" } }
      actions { preamble { id: 1 name: "b" } }"#;
    let err = P4Schema::from_text(dup_id).unwrap_err();
    assert!(matches!(err, Error::InvalidP4Info(_)), "{err}");

    let dup_name = r#"
      actions { preamble { id: 1 name: "a" } }
      actions { preamble { id: 2 name: "a" } }"#;
    assert!(P4Schema::from_text(dup_name).is_err());

    let no_kind = r#"tables { preamble { id: 1 name: "t" } match_fields { id: 1 name: "f" } }"#;
    assert!(P4Schema::from_text(no_kind).is_err());

    let no_preamble = "tables { size: 1 }";
    assert!(P4Schema::from_text(no_preamble).is_err());

    assert!(matches!(P4Schema::from_text("tables {").unwrap_err(), Error::TextFormat { .. }));
}

#[test]
fn names_shadow_aliases_and_new_takes_a_p4info() {
    // Table 2's alias equals table 1's name: the name wins.
    let info: P4Info = format::from_text(
        r#"
      tables { preamble { id: 1 name: "x" alias: "y" } }
      tables { preamble { id: 2 name: "a.x" alias: "x" } }"#,
    )
    .unwrap();
    let s = P4Schema::new(info).unwrap();
    assert_eq!(s.table("x").unwrap().id, 1);
    assert_eq!(s.table("y").unwrap().id, 1);
    assert_eq!(s.table("a.x").unwrap().id, 2);
}

#[test]
fn other_match_kinds_are_kept() {
    let s = P4Schema::from_text(
        r#"tables { preamble { id: 1 name: "t" }
             match_fields { id: 1 name: "f" bitwidth: 8 other_match_type: "selector" } }"#,
    )
    .unwrap();
    assert_eq!(s.match_field("t", "f").unwrap().match_type, MatchKind::Other("selector".into()));
}
