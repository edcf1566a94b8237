//! The hand-kept `p4src/traffic_clone.p4info.txtpb` agrees with the contract
//! in `docs/dataplane.md` (ids, names, match kinds, bitwidths, sizes).

use p4clone_proto::schema::{CounterUnit, MatchKind, P4Schema};

const P4INFO: &str = include_str!("../../p4src/traffic_clone.p4info.txtpb");

use MatchKind::{Exact, Ternary};

/// (id, name, [(field id, name, kind, bits)], [actions], default action, size)
type TableRow =
    (u32, &'static str, &'static [(u32, &'static str, MatchKind, u32)], &'static [&'static str], &'static str, i64);

const TABLES: &[TableRow] = &[
    (0x0200_0001, "wire", &[(1, "ingress_port", Exact, 9)], &["wire_forward", "wire_drop"], "wire_drop", 512),
    (
        0x0200_0002,
        "clone_classify_v4",
        &[
            (1, "src_addr", Ternary, 32),
            (2, "dst_addr", Ternary, 32),
            (3, "protocol", Ternary, 8),
            (4, "l4_src_port", Ternary, 16),
            (5, "l4_dst_port", Ternary, 16),
        ],
        &["classify_hit", "classify_miss", "classify_hit_sampled", "classify_skip"],
        "classify_miss",
        262_144,
    ),
    (
        0x0200_0003,
        "clone_classify_v6",
        &[
            (1, "src_addr", Ternary, 128),
            (2, "dst_addr", Ternary, 128),
            (3, "next_header", Ternary, 8),
            (4, "l4_src_port", Ternary, 16),
            (5, "l4_dst_port", Ternary, 16),
        ],
        &["classify_hit", "classify_miss", "classify_hit_sampled", "classify_skip"],
        "classify_miss",
        65_536,
    ),
    (
        0x0200_0004,
        "clone_rewrite",
        &[(1, "member", Exact, 16)],
        &["clone_rewrite_set", "clone_rewrite_miss"],
        "clone_rewrite_miss",
        32_768,
    ),
    (
        0x0200_0005,
        "nat_src_v4",
        &[(1, "addr", Exact, 32), (2, "port", Exact, 16), (3, "protocol", Exact, 8)],
        &["nat_set_v4", "nat_miss"],
        "nat_miss",
        65_536,
    ),
    (
        0x0200_0006,
        "nat_dst_v4",
        &[(1, "addr", Exact, 32), (2, "port", Exact, 16), (3, "protocol", Exact, 8)],
        &["nat_set_v4", "nat_miss"],
        "nat_miss",
        65_536,
    ),
    (
        0x0200_0007,
        "nat_src_v6",
        &[(1, "addr", Exact, 128), (2, "port", Exact, 16), (3, "next_header", Exact, 8)],
        &["nat_set_v6", "nat_miss"],
        "nat_miss",
        16_384,
    ),
    (
        0x0200_0008,
        "nat_dst_v6",
        &[(1, "addr", Exact, 128), (2, "port", Exact, 16), (3, "next_header", Exact, 8)],
        &["nat_set_v6", "nat_miss"],
        "nat_miss",
        16_384,
    ),
    (
        0x0200_0009,
        "clone_encap",
        &[(1, "member", Exact, 16)],
        &["clone_encap_vxlan_v4", "clone_encap_gre_v4", "clone_encap_erspan_v4", "clone_encap_none"],
        "clone_encap_none",
        32_768,
    ),
];

/// (id, name, [(param id, name, bits)])
type ActionRow = (u32, &'static str, &'static [(u32, &'static str, u32)]);

const ACTIONS: &[ActionRow] = &[
    (0x0100_0001, "wire_forward", &[(1, "port", 9)]),
    (0x0100_0002, "wire_drop", &[]),
    (0x0100_0003, "classify_hit", &[(1, "first_member", 16), (2, "member_count", 16), (3, "mode", 8)]),
    (0x0100_0004, "classify_miss", &[]),
    (
        0x0100_0005,
        "clone_rewrite_set",
        &[(1, "dst_mac", 48), (2, "src_mac", 48), (3, "vlan_id", 12), (4, "truncate_len", 16), (5, "nat_restore", 1)],
    ),
    (0x0100_0006, "clone_rewrite_miss", &[]),
    (0x0100_0007, "nat_set_v4", &[(1, "client_addr", 32), (2, "client_port", 16)]),
    (0x0100_0008, "nat_set_v6", &[(1, "client_addr", 128), (2, "client_port", 16)]),
    (0x0100_0009, "nat_miss", &[]),
    (0x0100_000A, "clone_encap_vxlan_v4", &[(1, "src_addr", 32), (2, "dst_addr", 32), (3, "vni", 24), (4, "mtu", 16)]),
    (
        0x0100_000B,
        "clone_encap_gre_v4",
        &[(1, "src_addr", 32), (2, "dst_addr", 32), (3, "key", 32), (4, "key_present", 1), (5, "mtu", 16)],
    ),
    (
        0x0100_000C,
        "clone_encap_erspan_v4",
        &[(1, "src_addr", 32), (2, "dst_addr", 32), (3, "session_id", 10), (4, "mtu", 16)],
    ),
    (0x0100_000D, "clone_encap_none", &[]),
    (
        0x0100_000E,
        "classify_hit_sampled",
        &[
            (1, "first_member", 16),
            (2, "member_count", 16),
            (3, "mode", 8),
            (4, "sample_mode", 8),
            (5, "sample_arg", 16),
        ],
    ),
    (0x0100_000F, "classify_skip", &[(1, "first_member", 16)]),
];

const COUNTERS: &[(u32, &str, i64)] = &[
    (0x1200_0001, "clones_requested", 32_768),
    (0x1200_0002, "clones_emitted", 32_768),
    (0x1200_0003, "truncated_mtu", 32_768),
    (0x1200_0004, "skipped_by_filter", 32_768),
    (0x1200_0005, "not_sampled", 32_768),
];

const DIRECT_COUNTERS: &[(u32, &str, &str)] =
    &[(0x1300_0001, "classify_v4_hits", "clone_classify_v4"), (0x1300_0002, "classify_v6_hits", "clone_classify_v6")];

fn schema() -> P4Schema {
    P4Schema::from_text(P4INFO).unwrap_or_else(|e| panic!("p4src/traffic_clone.p4info.txtpb does not load: {e}"))
}

#[test]
fn tables_match_the_contract() {
    let s = schema();
    assert_eq!(s.tables().len(), TABLES.len(), "table count");
    for &(id, name, fields, actions, default, size) in TABLES {
        let t = s.table(name).unwrap();
        assert_eq!(t.id, id, "{name} id");
        assert_eq!(s.table_by_id(id).unwrap().name, name);
        assert_eq!(t.size, size, "{name} size");
        assert_eq!(t.match_fields.len(), fields.len(), "{name} key width");
        for (fid, fname, kind, bits) in fields {
            let f = t.match_field(fname).unwrap();
            assert_eq!((f.id, &f.match_type, f.bitwidth), (*fid, kind, *bits), "{name}.{fname}");
        }
        let action_ids: Vec<u32> = actions.iter().map(|a| s.action(a).unwrap().id).collect();
        let mut got = t.action_ids.clone();
        got.sort_unstable();
        let mut want = action_ids.clone();
        want.sort_unstable();
        assert_eq!(got, want, "{name} actions");
        // The default action is not const (the controller may change it); if
        // the P4Info states the initial one, it must be the documented one.
        let default_id = s.action(default).unwrap().id;
        if let Some(init) = t.initial_default_action_id {
            assert_eq!(init, default_id, "{name} initial default action");
        }
        if let Some(c) = t.const_default_action_id {
            assert_eq!(c, default_id, "{name} const default action");
        }
        let ternary = fields.iter().any(|f| f.2 == Ternary);
        assert_eq!(t.needs_priority(), ternary, "{name} priority");
    }
}

#[test]
fn actions_match_the_contract() {
    let s = schema();
    assert_eq!(s.actions().len(), ACTIONS.len(), "action count");
    for &(id, name, params) in ACTIONS {
        let a = s.action(name).unwrap();
        assert_eq!(a.id, id, "{name} id");
        assert_eq!(s.action_by_id(id).unwrap().name, name);
        let got: Vec<(u32, &str, u32)> = a.params.iter().map(|p| (p.id, p.name.as_str(), p.bitwidth)).collect();
        assert_eq!(got, params, "{name} params");
    }
}

#[test]
fn counters_and_register_match_the_contract() {
    let s = schema();
    assert_eq!(s.counters().len(), COUNTERS.len());
    for &(id, name, size) in COUNTERS {
        let c = s.counter(name).unwrap();
        assert_eq!((c.id, c.size, c.unit), (id, size, CounterUnit::Both), "{name}");
        assert_eq!(s.counter_by_id(id).unwrap().name, name);
    }
    assert_eq!(s.direct_counters().len(), DIRECT_COUNTERS.len());
    for &(id, name, table) in DIRECT_COUNTERS {
        let d = s.direct_counter(name).unwrap();
        let t = s.table(table).unwrap();
        assert_eq!((d.id, d.table_id, d.unit), (id, t.id, CounterUnit::Both), "{name}");
        assert!(t.direct_resource_ids.contains(&id), "{table} lists {name}");
        assert_eq!(s.direct_counter_of_table(t.id).unwrap().name, name);
    }
    assert_eq!(s.registers().len(), 3);
    let r = s.register("rr_cursor").unwrap();
    assert_eq!((r.id, r.size, r.bitwidth), (0x1600_0001, 32_768, Some(16)));
    let r = s.register("erspan_seq").unwrap();
    assert_eq!((r.id, r.size, r.bitwidth), (0x1600_0002, 32_768, Some(32)));
    let r = s.register("sample_cursor").unwrap();
    assert_eq!((r.id, r.size, r.bitwidth), (0x1600_0003, 32_768, Some(16)));
}

#[test]
fn every_id_carries_its_p4runtime_prefix() {
    let s = schema();
    let ok = |id: u32, prefix: u32| id >> 24 == prefix;
    assert!(s.tables().iter().all(|t| ok(t.id, 0x02)));
    assert!(s.actions().iter().all(|a| ok(a.id, 0x01)));
    assert!(s.counters().iter().all(|c| ok(c.id, 0x12)));
    assert!(s.direct_counters().iter().all(|c| ok(c.id, 0x13)));
    assert!(s.registers().iter().all(|r| ok(r.id, 0x16)));
}
