//! P4Runtime conformance of the software target's server, over real gRPC on
//! 127.0.0.1 (ephemeral port): capabilities, pipeline configs, status codes of
//! writes, read-after-write and wildcard reads. Counters, default actions,
//! in-process writes and robustness are in `conformance_state.rs`.

mod conformance_rig;

use conformance_rig::*;
use p4clone_proto::bytestring::encode;
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, field_match::FieldMatchType as Fm, forwarding_pipeline_config::Cookie,
    get_forwarding_pipeline_config_request::ResponseType, packet_replication_engine_entry::Type as PreType,
    replica::PortKind, set_forwarding_pipeline_config_request::Action as CfgAction, table_action::Type as TaType,
    update::Type as Ty, write_request::Atomicity, Entity, ForwardingPipelineConfig, ReadRequest, TableAction,
    TableEntry, Update, WriteRequest,
};
use p4clone_proto::status;
use p4clone_soft::server::SoftTarget;
use tonic::Code;

// ---------------------------------------------------------------- capabilities

#[tokio::test]
async fn capabilities_report_the_api_version() {
    let mut r = rig_without_pipeline().await;
    let v = r.client.capabilities(p4::CapabilitiesRequest::default()).await.unwrap().into_inner();
    assert_eq!(v.p4runtime_api_version, "1.4.1");
    r.handle.take().unwrap().shutdown().await;
}

// ------------------------------------------------------------ pipeline config

#[tokio::test]
async fn before_a_pipeline_write_and_read_are_failed_precondition() {
    let mut r = rig_without_pipeline().await;
    assert_eq!(r.get_config(ResponseType::All).await, None);
    let w = r.write(vec![ins(r.wire(1, 2))]).await.unwrap_err();
    assert_eq!(w.code(), Code::FailedPrecondition, "{w:?}");
    let rd = r.read_req(vec![ent(E::TableEntry(TableEntry::default()))]).await.unwrap_err();
    assert_eq!(rd.code(), Code::FailedPrecondition);
    assert!(!r.target.has_pipeline());
}

#[tokio::test]
async fn the_cookie_is_kept_and_returned_for_every_response_type() {
    let mut r = rig().await;
    let p4info = SoftTarget::program_p4info();
    let all = r.get_config(ResponseType::All).await.unwrap();
    assert_eq!(all.cookie, Some(Cookie { cookie: 7 }));
    assert_eq!(all.p4info.as_ref(), Some(&p4info));
    assert_eq!(all.p4_device_config.as_ref(), b"opaque device config");
    let c = r.get_config(ResponseType::CookieOnly).await.unwrap();
    assert_eq!((c.cookie, c.p4info, c.p4_device_config.len()), (Some(Cookie { cookie: 7 }), None, 0));
    let c = r.get_config(ResponseType::P4infoAndCookie).await.unwrap();
    assert_eq!((c.cookie, c.p4info, c.p4_device_config.len()), (Some(Cookie { cookie: 7 }), Some(p4info), 0));
    let c = r.get_config(ResponseType::DeviceConfigAndCookie).await.unwrap();
    assert_eq!(c.p4info, None);
    assert_eq!(c.p4_device_config.as_ref(), b"opaque device config");
    assert_eq!(r.target.cookie(), Some(7));
}

#[tokio::test]
async fn a_modified_p4info_is_invalid_argument_naming_the_first_difference() {
    let mut r = rig().await;
    r.write(vec![ins(r.wire(1, 2))]).await.unwrap();
    let mut p4info = SoftTarget::program_p4info();
    let t = p4info.tables.iter_mut().find(|t| t.preamble.as_ref().unwrap().name == "clone_rewrite").unwrap();
    t.match_fields[0].bitwidth = 9;
    for action in [CfgAction::Verify, CfgAction::VerifyAndCommit, CfgAction::ReconcileAndCommit] {
        let e = r.set_config(action, Some(config(p4info.clone(), 99))).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(
            e.message().contains("table clone_rewrite (id 0x02000004): match field 1 bitwidth 9, expected 16"),
            "{}",
            e.message()
        );
    }
    let mut p4info = SoftTarget::program_p4info();
    p4info.actions.pop();
    let e = r.set_config(CfgAction::VerifyAndCommit, Some(config(p4info, 99))).await.unwrap_err();
    assert!(e.message().contains("action classify_skip (id 0x0100000f) is missing"), "{}", e.message());
    let e = r.set_config(CfgAction::VerifyAndCommit, Some(ForwardingPipelineConfig::default())).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = r.set_config(CfgAction::VerifyAndCommit, None).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = r.set_config(CfgAction::Unspecified, None).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // Nothing changed.
    assert_eq!(r.target.cookie(), Some(7));
    assert_eq!(r.read_tables(TableEntry::default()).await.len(), 1);
}

#[tokio::test]
async fn verify_save_and_commit_follow_the_spec() {
    let mut r = rig_without_pipeline().await;
    let cfg = |c| Some(config(SoftTarget::program_p4info(), c));
    r.set_config(CfgAction::Verify, cfg(1)).await.unwrap();
    assert!(!r.target.has_pipeline());
    let e = r.set_config(CfgAction::Commit, None).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    r.set_config(CfgAction::VerifyAndSave, cfg(2)).await.unwrap();
    // A saved config already governs Read / Write.
    r.write(vec![ins(r.wire(1, 2))]).await.unwrap();
    assert_eq!(r.get_config(ResponseType::CookieOnly).await, None);
    let e = r.set_config(CfgAction::Commit, cfg(2)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    r.set_config(CfgAction::Commit, None).await.unwrap();
    assert_eq!(r.target.cookie(), Some(2));
    // COMMIT replays what was written since the save: the entry is still there.
    assert_eq!(r.read_tables(TableEntry::default()).await.len(), 1);
    let e = r.set_config(CfgAction::Commit, None).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn verify_and_commit_clears_state_and_reconcile_keeps_it() {
    let mut r = rig().await;
    let member = 5;
    r.write(vec![
        ins(r.wire(1, 2)),
        ins(r.classify(0x0a00_0001, 10, member)),
        upd(Ty::Insert, r.session(5, 3, 5)),
        upd(Ty::Modify, r.counter("clones_requested", Some(5), Some((4, 400)))),
        upd(
            Ty::Modify,
            E::RegisterEntry(p4::RegisterEntry {
                register_id: r.s.register("rr_cursor").unwrap().id,
                index: Some(p4::Index { index: 5 }),
                data: Some(p4::P4Data { data: Some(p4::p4_data::Data::Bitstring(vec![1].into())) }),
            }),
        ),
    ])
    .await
    .unwrap();
    let cfg = |c| Some(config(SoftTarget::program_p4info(), c));
    r.set_config(CfgAction::ReconcileAndCommit, cfg(8)).await.unwrap();
    assert_eq!(r.target.cookie(), Some(8));
    assert_eq!(r.read_tables(TableEntry::default()).await.len(), 2);
    r.set_config(CfgAction::VerifyAndCommit, cfg(9)).await.unwrap();
    assert_eq!(r.target.cookie(), Some(9));
    assert!(r.read_tables(TableEntry::default()).await.is_empty());
    assert!(r.read(r.session(0, 0, 0)).await.is_empty());
    let c = r.read(r.counter("clones_requested", Some(5), None)).await;
    assert_eq!(counter_data(&c[0]), (5, 0, 0));
    assert_eq!(r.target.pipeline().rr_cursor(5).unwrap(), 0);
}

#[tokio::test]
async fn setting_the_pipeline_needs_the_primary() {
    let mut r = rig().await;
    for election in [None, Some(3), Some(11)] {
        let e = r
            .client
            .set_forwarding_pipeline_config(p4::SetForwardingPipelineConfigRequest {
                device_id: DEVICE,
                election_id: election.map(u128_msg),
                action: CfgAction::VerifyAndCommit as i32,
                config: Some(config(SoftTarget::program_p4info(), 1)),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{election:?}");
    }
    let e = r
        .client
        .set_forwarding_pipeline_config(p4::SetForwardingPipelineConfigRequest {
            device_id: DEVICE + 1,
            election_id: Some(u128_msg(PRIMARY)),
            action: CfgAction::VerifyAndCommit as i32,
            config: Some(config(SoftTarget::program_p4info(), 1)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(r.target.cookie(), Some(7));
}

#[tokio::test]
async fn a_wrong_device_id_is_not_found() {
    let mut r = rig().await;
    let w = r
        .client
        .write(WriteRequest {
            device_id: 2,
            election_id: Some(u128_msg(PRIMARY)),
            updates: vec![ins(r.wire(1, 2))],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(w.code(), Code::NotFound);
    let rd = r.client.read(ReadRequest { device_id: 2, entities: vec![], ..Default::default() }).await.unwrap_err();
    assert_eq!(rd.code(), Code::NotFound);
    let g = r
        .client
        .get_forwarding_pipeline_config(p4::GetForwardingPipelineConfigRequest { device_id: 2, response_type: 0 })
        .await
        .unwrap_err();
    assert_eq!(g.code(), Code::NotFound);
    let role = r
        .client
        .write(WriteRequest {
            device_id: DEVICE,
            role: "sdn".into(),
            election_id: Some(u128_msg(PRIMARY)),
            updates: vec![ins(r.wire(1, 2))],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(role.code(), Code::NotFound);
}

// ---------------------------------------------------------------- write codes

#[tokio::test]
async fn a_duplicate_insert_is_already_exists() {
    let mut r = rig().await;
    r.write(vec![ins(r.wire(1, 2)), ins(r.classify(1, 5, 1)), upd(Ty::Insert, r.session(1, 2, 1))]).await.unwrap();
    let mut changed = r.wire(1, 3);
    changed.metadata = b"x".to_vec().into();
    let e =
        r.write(vec![ins(changed), ins(r.classify(1, 5, 2)), upd(Ty::Insert, r.session(1, 3, 1))]).await.unwrap_err();
    assert_eq!(codes(&e), [Code::AlreadyExists; 3]);
    // The existing entry is unchanged.
    assert_eq!(r.read_tables(r.wire(1, 0)).await, [r.wire(1, 2)]);
}

#[tokio::test]
async fn modify_and_delete_of_a_missing_entry_are_not_found() {
    let mut r = rig().await;
    let e = r
        .write(vec![
            upd(Ty::Modify, E::TableEntry(r.wire(1, 2))),
            upd(Ty::Delete, E::TableEntry(r.wire(1, 2))),
            upd(Ty::Modify, E::TableEntry(r.classify(1, 5, 1))),
            upd(Ty::Delete, E::TableEntry(r.classify(1, 5, 1))),
            upd(Ty::Modify, r.session(1, 2, 1)),
            upd(Ty::Delete, r.session(1, 2, 1)),
        ])
        .await
        .unwrap_err();
    assert_eq!(codes(&e), [Code::NotFound; 6]);
}

#[tokio::test]
async fn unknown_ids_are_invalid_argument() {
    let mut r = rig().await;
    let mut bad_table = r.wire(1, 2);
    bad_table.table_id = 0x0200_0099;
    let mut bad_field = r.wire(1, 2);
    bad_field.r#match[0].field_id = 7;
    let mut bad_action = r.wire(1, 2);
    bad_action.action =
        Some(TableAction { r#type: Some(TaType::Action(p4::Action { action_id: 0x0100_0099, params: vec![] })) });
    let mut foreign_action = r.wire(1, 2);
    foreign_action.action = Some(r.action("classify_miss", &[]));
    let mut bad_param = r.wire(1, 2);
    if let Some(TaType::Action(a)) = &mut bad_param.action.as_mut().unwrap().r#type {
        a.params[0].param_id = 9;
    }
    let updates = vec![ins(bad_table), ins(bad_field), ins(bad_action), ins(foreign_action), ins(bad_param)];
    let e = r.write(updates).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 5]);
    let errors = status::write_errors(&e).unwrap();
    assert!(errors[0].message.contains("no table with id 0x02000099"), "{}", errors[0].message);
    assert!(errors[1].message.contains("no match field with id 7"), "{}", errors[1].message);
    assert!(errors[2].message.contains("no action with id 0x01000099"), "{}", errors[2].message);
    assert!(errors[3].message.contains("classify_miss is not an action of table wire"), "{}", errors[3].message);
    assert!(errors[4].message.contains("no parameter with id 9"), "{}", errors[4].message);
    let e = r
        .write(vec![
            upd(Ty::Modify, r.counter("", Some(1), Some((0, 0)))),
            upd(Ty::Modify, E::RegisterEntry(p4::RegisterEntry { register_id: 0x1600_0009, ..Default::default() })),
        ])
        .await
        .unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 2]);
}

#[tokio::test]
async fn a_value_wider_than_its_bitwidth_is_invalid_argument() {
    let mut r = rig().await;
    // ingress_port is bit<9>: 512 does not fit.
    let (code, msg) = code1(r.write(vec![ins(r.wire(512, 2))]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("does not fit in 9 bits"), "{msg}");
    // vlan_id is bit<12>.
    let mut e = r.rewrite(1);
    if let Some(TaType::Action(a)) = &mut e.action.as_mut().unwrap().r#type {
        a.params[2].value = encode(4096).into();
    }
    let (code, msg) = code1(r.write(vec![ins(e)]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("vlan_id"), "{msg}");
    // An empty bytestring is never valid.
    let mut e = r.wire(1, 2);
    e.r#match[0].field_match_type = Some(Fm::Exact(p4::field_match::Exact { value: vec![].into() }));
    assert_eq!(code1(r.write(vec![ins(e)]).await).0, Code::InvalidArgument);
}

#[tokio::test]
async fn a_non_canonical_bytestring_is_invalid_argument() {
    let mut r = rig().await;
    let mut e = r.wire(1, 2);
    e.r#match[0].field_match_type = Some(Fm::Exact(p4::field_match::Exact { value: vec![0, 1].into() }));
    let (code, msg) = code1(r.write(vec![ins(e.clone())]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("not canonical"), "{msg}");
    // Spec/BMv2 leniency on request: padded strings whose value fits are accepted,
    // and read back canonical.
    r.target.set_accept_padded_bytestrings(true);
    r.write(vec![ins(e)]).await.unwrap();
    assert_eq!(r.read_tables(r.wire(1, 0)).await, [r.wire(1, 2)]);
}

#[tokio::test]
async fn a_ternary_entry_without_priority_is_invalid_argument() {
    let mut r = rig().await;
    let (code, msg) = code1(r.write(vec![ins(r.classify(1, 0, 1))]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("need a non-zero priority"), "{msg}");
}

#[tokio::test]
async fn a_priority_on_an_exact_table_is_invalid_argument() {
    let mut r = rig().await;
    let mut e = r.wire(1, 2);
    e.priority = 3;
    let (code, msg) = code1(r.write(vec![ins(e)]).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(msg.contains("priority must be 0"), "{msg}");
}

#[tokio::test]
async fn ternary_bits_outside_the_mask_and_zero_masks_are_invalid_argument() {
    let mut r = rig().await;
    let t = "clone_classify_v4";
    let mut outside = r.classify(1, 5, 1);
    outside.r#match[0] = r.tern(t, "src_addr", 0x0a00_00ff, 0xffff_ff00);
    let mut zero = r.classify(1, 5, 1);
    zero.r#match[0] = r.tern(t, "src_addr", 0, 0);
    let e = r.write(vec![ins(outside), ins(zero)]).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 2]);
    let errors = status::write_errors(&e).unwrap();
    assert!(errors[0].message.contains("bits outside mask"), "{}", errors[0].message);
    assert!(errors[1].message.contains("omit the field"), "{}", errors[1].message);
}

#[tokio::test]
async fn malformed_matches_and_actions_are_invalid_argument() {
    let mut r = rig().await;
    let t = "clone_classify_v4";
    let mut wrong_kind = r.classify(1, 5, 1);
    wrong_kind.r#match[1] = r.exact(t, "protocol", 6);
    let mut dup = r.classify(1, 5, 1);
    dup.r#match.push(r.tern(t, "protocol", 17, 0xff));
    let mut no_exact = r.wire(1, 2);
    no_exact.r#match.clear();
    let mut missing_param = r.wire(1, 2);
    missing_param.action = Some(TableAction {
        r#type: Some(TaType::Action(p4::Action { action_id: r.aid("wire_forward"), params: vec![] })),
    });
    let mut no_action = r.wire(1, 2);
    no_action.action = None;
    let mut member = r.wire(1, 2);
    member.action = Some(TableAction { r#type: Some(TaType::ActionProfileMemberId(1)) });
    let mut idle = r.wire(1, 2);
    idle.idle_timeout_ns = 5;
    let mut counter_on_wire = r.wire(1, 2);
    counter_on_wire.counter_data = Some(Box::default());
    let mut is_const = r.wire(1, 2);
    is_const.is_const = true;
    let updates = [wrong_kind, dup, no_exact, missing_param, no_action, member, idle, counter_on_wire, is_const]
        .into_iter()
        .map(ins)
        .chain([Update { r#type: Ty::Unspecified as i32, entity: Some(ent(E::TableEntry(r.wire(1, 2)))) }])
        .chain([Update { r#type: Ty::Insert as i32, entity: Some(Entity { entity: None }) }])
        .collect();
    let e = r.write(updates).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 11]);
    assert!(r.read_tables(TableEntry::default()).await.is_empty());
}

#[tokio::test]
async fn a_non_primary_writer_is_permission_denied() {
    let mut r = rig().await;
    for election in [None, Some(0), Some(9), Some(11)] {
        let e = r.write_as(election, vec![ins(r.wire(1, 2))]).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{election:?}");
        assert!(e.details().is_empty() || status::write_errors(&e).unwrap().is_empty());
    }
    assert!(r.read_tables(TableEntry::default()).await.is_empty());
}

#[tokio::test]
async fn only_continue_on_error_atomicity_is_implemented() {
    let mut r = rig().await;
    for a in [Atomicity::RollbackOnError, Atomicity::DataplaneAtomic] {
        let e = r
            .client
            .write(WriteRequest {
                device_id: DEVICE,
                election_id: Some(u128_msg(PRIMARY)),
                updates: vec![ins(r.wire(1, 2))],
                atomicity: a as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unimplemented);
    }
}

#[tokio::test]
async fn a_partial_batch_reports_each_update_and_applies_the_good_ones() {
    let mut r = rig().await;
    r.write(vec![ins(r.wire(3, 4))]).await.unwrap();
    let e = r
        .write(vec![
            ins(r.wire(1, 2)),
            ins(r.wire(3, 4)),        // ALREADY_EXISTS
            ins(r.classify(1, 0, 1)), // INVALID_ARGUMENT (no priority)
            ins(r.classify(1, 5, 1)),
            upd(Ty::Delete, E::TableEntry(r.wire(9, 0))), // NOT_FOUND
            upd(Ty::Insert, r.session(40000, 1, 1)),      // INVALID_ARGUMENT
            upd(Ty::Insert, r.session(1, 1, 1)),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        codes(&e),
        [
            Code::Ok,
            Code::AlreadyExists,
            Code::InvalidArgument,
            Code::Ok,
            Code::NotFound,
            Code::InvalidArgument,
            Code::Ok
        ]
    );
    let tables = r.read_tables(TableEntry::default()).await;
    assert_eq!(tables, [r.wire(1, 2), r.wire(3, 4), r.classify(1, 5, 1)]);
    assert_eq!(r.read(r.session(0, 0, 0)).await, [ent(r.session(1, 1, 1))]);
}

// ------------------------------------------------------------ read after write

#[tokio::test]
async fn every_table_reads_back_what_was_written() {
    let mut r = rig().await;
    let t4 = "clone_classify_v4";
    let t6 = "clone_classify_v6";
    let mut wire = r.wire(7, 8);
    wire.metadata = b"wire meta".to_vec().into();
    let mut v4 = TableEntry {
        table_id: r.tid(t4),
        r#match: vec![
            r.tern(t4, "src_addr", 0x0a00_0000, 0xff00_0000),
            r.tern(t4, "dst_addr", 0xc0a8_0101, 0xffff_ffff),
            r.tern(t4, "protocol", 17, 0xff),
            r.tern(t4, "l4_src_port", 0, 0xfc00),
            r.tern(t4, "l4_dst_port", 53, 0xffff),
        ],
        action: Some(r.action("classify_hit", &[("first_member", 100), ("member_count", 3), ("mode", 1)])),
        priority: 1000,
        metadata: vec![0, 1, 2, 255].into(),
        ..Default::default()
    };
    let v6 = TableEntry {
        table_id: r.tid(t6),
        r#match: vec![
            r.tern(t6, "src_addr", 0x2001_0db8 << 96, u128::MAX << 64),
            r.tern(t6, "next_header", 6, 0xff),
            r.tern(t6, "l4_dst_port", 443, 0xffff),
        ],
        action: Some(r.action("classify_miss", &[])),
        priority: 1,
        metadata: b"v6".to_vec().into(),
        ..Default::default()
    };
    let mut rewrite = r.rewrite(100);
    if let Some(TaType::Action(a)) = &mut rewrite.action.as_mut().unwrap().r#type {
        a.params[2].value = encode(4094).into();
        a.params[3].value = encode(64).into();
        a.params[4].value = encode(1).into();
    }
    let nat = |table: &str, action: &str, addr: u128, last: &str| TableEntry {
        table_id: r.tid(table),
        r#match: vec![r.exact(table, "addr", addr), r.exact(table, "port", 8080), r.exact(table, last, 6)],
        action: Some(r.action(action, &[("client_addr", addr + 1), ("client_port", 40000)])),
        ..Default::default()
    };
    let nats = [
        nat("nat_src_v4", "nat_set_v4", 0x0a00_0005, "protocol"),
        nat("nat_dst_v4", "nat_set_v4", 0x0a00_0006, "protocol"),
        nat("nat_src_v6", "nat_set_v6", 0xfd00 << 112, "next_header"),
        nat("nat_dst_v6", "nat_set_v6", (0xfd00 << 112) | 9, "next_header"),
    ];
    let mut all = vec![wire.clone(), v4.clone(), v6.clone(), rewrite.clone()];
    all.extend(nats.iter().cloned());
    r.write(all.iter().cloned().map(ins).collect()).await.unwrap();

    // One table at a time, exact key, and all tables at once (in P4Info order).
    for e in &all {
        let only_table = TableEntry { table_id: e.table_id, ..Default::default() };
        assert_eq!(&r.read_tables(only_table).await, std::slice::from_ref(e));
        let mut key = e.clone();
        key.action = None;
        key.metadata.clear();
        assert_eq!(&r.read_tables(key).await, std::slice::from_ref(e));
    }
    assert_eq!(r.read_tables(TableEntry::default()).await, all);

    // MODIFY replaces action and metadata.
    v4.action = Some(r.action("classify_hit", &[("first_member", 200), ("member_count", 1), ("mode", 0)]));
    v4.metadata = b"new".to_vec().into();
    r.write(vec![upd(Ty::Modify, E::TableEntry(v4.clone()))]).await.unwrap();
    let got = r.read_tables(TableEntry { table_id: r.tid(t4), ..Default::default() }).await;
    assert_eq!(got, [v4.clone()]);

    // DELETE needs only the key; other fields are ignored.
    let mut key = v4.clone();
    key.action = Some(TableAction { r#type: Some(TaType::ActionProfileGroupId(3)) });
    key.idle_timeout_ns = 77;
    r.write(vec![upd(Ty::Delete, E::TableEntry(key))]).await.unwrap();
    assert!(r.read_tables(TableEntry { table_id: r.tid(t4), ..Default::default() }).await.is_empty());
}

#[tokio::test]
async fn equal_priorities_and_a_classify_entry_without_session_are_accepted() {
    let mut r = rig().await;
    r.write(vec![
        ins(r.classify(1, 5, 4000)),
        ins(r.classify(2, 5, 4000)),
        ins(r.classify(1, 6, 4000)), // same key, other priority: another entry
    ])
    .await
    .unwrap();
    assert_eq!(r.read_tables(TableEntry { table_id: r.tid("clone_classify_v4"), ..Default::default() }).await.len(), 3);
}

#[tokio::test]
async fn clone_sessions_read_back_in_the_form_written() {
    let mut r = rig().await;
    let bytes_form = E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::CloneSessionEntry(p4::CloneSessionEntry {
            session_id: 32767,
            replicas: vec![
                p4::Replica {
                    port_kind: Some(PortKind::Port(encode(300).into())),
                    instance: 65535,
                    backup_replicas: vec![],
                },
                p4::Replica { port_kind: Some(PortKind::Port(encode(5).into())), instance: 0, backup_replicas: vec![] },
            ],
            class_of_service: 0,
            packet_length_bytes: 128,
        })),
    });
    r.write(vec![upd(Ty::Insert, r.session(1, 3, 1)), upd(Ty::Insert, bytes_form.clone())]).await.unwrap();
    assert_eq!(r.read(r.session(0, 0, 0)).await, [ent(r.session(1, 3, 1)), ent(bytes_form.clone())]);
    assert_eq!(r.read(r.session(32767, 0, 0)).await, [ent(bytes_form)]);
    assert!(r.read(r.session(2, 0, 0)).await.is_empty());
    r.write(vec![upd(Ty::Modify, r.session(1, 4, 1))]).await.unwrap();
    assert_eq!(r.read(r.session(1, 0, 0)).await, [ent(r.session(1, 4, 1))]);
    let session = r.target.pipeline().clone_session(32767).unwrap();
    assert_eq!(session.packet_length_bytes, 128);

    // Ids 0 and 32768 (BMv2: "out of range") are INVALID_ARGUMENT; multicast is
    // UNIMPLEMENTED; an unknown port or an instance over 16 bits is INVALID_ARGUMENT.
    let mcast = E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::MulticastGroupEntry(p4::MulticastGroupEntry {
            multicast_group_id: 1,
            ..Default::default()
        })),
    });
    let mut cos = r.session(9, 1, 9);
    if let E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
        r#type: Some(PreType::CloneSessionEntry(c)),
    }) = &mut cos
    {
        c.class_of_service = 2;
    }
    let e = r
        .write(vec![
            upd(Ty::Insert, r.session(0, 1, 1)),
            upd(Ty::Insert, r.session(32768, 1, 1)),
            upd(Ty::Insert, mcast),
            upd(Ty::Insert, r.session(9, 512, 1)),
            upd(Ty::Insert, r.session(9, 1, 65536)),
            upd(Ty::Insert, cos),
            upd(Ty::Insert, r.session(1, 3, 1)),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        codes(&e),
        [
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::Unimplemented,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::AlreadyExists
        ]
    );
    r.write(vec![upd(Ty::Delete, r.session(1, 0, 0))]).await.unwrap();
    assert_eq!(r.read(r.session(0, 0, 0)).await.len(), 1);
}

// -------------------------------------------------------------- wildcard reads

#[tokio::test]
async fn wildcard_reads_follow_the_spec_filters() {
    let mut r = rig().await;
    let mut a = r.classify(1, 5, 1);
    a.metadata = b"a".to_vec().into();
    let b = r.classify(2, 5, 2);
    let c = r.classify(1, 9, 3);
    let mut miss = r.classify(3, 9, 1);
    miss.action = Some(r.action("classify_miss", &[]));
    r.write(vec![ins(r.wire(1, 2)), ins(a.clone()), ins(b.clone()), ins(c.clone()), ins(miss.clone())]).await.unwrap();
    let t = r.tid("clone_classify_v4");
    let table = TableEntry { table_id: t, ..Default::default() };
    assert_eq!(r.read_tables(table.clone()).await, [a.clone(), b.clone(), c.clone(), miss.clone()]);
    assert_eq!(r.read_tables(TableEntry::default()).await.len(), 5);
    // Priority filter.
    let by_prio = TableEntry { priority: 9, ..table.clone() };
    assert_eq!(r.read_tables(by_prio).await, [c.clone(), miss.clone()]);
    // Match with priority 0 on a ternary table: every priority of that match.
    let mut by_match = a.clone();
    by_match.priority = 0;
    by_match.action = None;
    by_match.metadata.clear();
    assert_eq!(r.read_tables(by_match).await, [a.clone(), c.clone()]);
    // Action filter.
    let by_action = TableEntry {
        action: Some(TableAction {
            r#type: Some(TaType::Action(p4::Action { action_id: r.aid("classify_miss"), params: vec![] })),
        }),
        ..table.clone()
    };
    assert_eq!(r.read_tables(by_action).await, [miss.clone()]);
    // Metadata filter.
    let by_meta = TableEntry { metadata: b"a".to_vec().into(), ..table.clone() };
    assert_eq!(r.read_tables(by_meta).await, [a.clone()]);
    // A missing exact key reads nothing.
    assert!(r.read_tables(r.wire(9, 0)).await.is_empty());
    // table_id 0 with a match is INVALID_ARGUMENT.
    let mut bad = r.wire(1, 2);
    bad.table_id = 0;
    let e = r.read_req(vec![ent(E::TableEntry(bad))]).await.unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument]);
    // Direct counters come with the entries when asked for.
    let with_counters = TableEntry { counter_data: Some(Box::default()), ..table.clone() };
    let got = r.read_tables(with_counters).await;
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|e| e.counter_data == Some(Box::default())));
    assert!(r.read_tables(table.clone()).await.iter().all(|e| e.counter_data.is_none()));
    // Indexed counters: all counters, all cells.
    let all = r.read(r.counter("", None, None)).await;
    assert_eq!(all.len(), 5 * 32768);
    let one = r.read(r.counter("clones_emitted", None, None)).await;
    assert_eq!(one.len(), 32768);
    assert_eq!(counter_data(&one[32767]), (32767, 0, 0));
    // Registers: all cells.
    let regs = r.read(E::RegisterEntry(p4::RegisterEntry::default())).await;
    assert_eq!(regs.len(), 3 * 32768);
    // Direct counters: every entry of every table with one.
    let direct = r.read(E::DirectCounterEntry(Box::default())).await;
    assert_eq!(direct.len(), 4);
}

#[tokio::test]
async fn a_read_batch_reports_each_request() {
    let mut r = rig().await;
    r.write(vec![ins(r.wire(1, 2))]).await.unwrap();
    let (entities, _) = r.read_req(vec![ent(E::TableEntry(r.wire(1, 0)))]).await.unwrap();
    assert_eq!(entities.len(), 1);
    let mut stream = r
        .client
        .read(ReadRequest {
            device_id: DEVICE,
            entities: vec![
                ent(E::TableEntry(TableEntry { table_id: 0x0200_0077, ..Default::default() })),
                ent(E::TableEntry(r.wire(1, 0))),
                Entity { entity: None },
                ent(r.counter("clones_requested", Some(-1), None)),
                ent(r.counter("clones_requested", Some(32768), None)),
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(first.entities.len(), 1);
    let e = stream.message().await.unwrap_err();
    assert_eq!(
        codes(&e),
        [Code::InvalidArgument, Code::Ok, Code::InvalidArgument, Code::InvalidArgument, Code::OutOfRange]
    );
}
