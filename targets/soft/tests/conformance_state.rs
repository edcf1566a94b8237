//! P4Runtime conformance of the software target's server, over real gRPC on
//! 127.0.0.1 (ephemeral port): counters, default actions, in-process writes,
//! robustness against garbage and large reads, clone diagnostics. Pipeline
//! configs, write codes and reads are in `conformance.rs`.

mod conformance_rig;

use conformance_rig::*;
use p4clone_pipeline::{EmitBatch, RxFrame};
use p4clone_pipeline::{WorkerState, CLONE_REWRITE};
use p4clone_proto::p4::v1::{
    self as p4, entity::Entity as E, field_match::FieldMatchType as Fm,
    packet_replication_engine_entry::Type as PreType, replica::PortKind, table_action::Type as TaType,
    update::Type as Ty, Entity, FieldMatch, TableAction, TableEntry, Update, WriteRequest,
};
use p4clone_proto::schema::P4Schema;
use p4clone_proto::status;
use p4clone_soft::server::SoftTarget;
use std::time::{Duration, Instant};
use tonic::Code;

// ---------------------------------------------------------------- counters

#[tokio::test]
async fn counters_count_packets_and_reset_via_modify() {
    let mut r = rig().await;
    let member = 7;
    r.write(vec![
        ins(r.wire(1, 2)),
        ins(r.classify(0x0a00_0001, 10, member)),
        ins(r.rewrite(member)),
        upd(Ty::Insert, r.session(member as u32, 3, member as u32)),
    ])
    .await
    .unwrap();
    let pipeline = r.target.pipeline();
    let frame = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2]);
    let frames = [RxFrame { port: 1, data: &frame }];
    let mut out = EmitBatch::with_capacity(32);
    for _ in 0..3 {
        pipeline.process_burst(&frames, &mut WorkerState::new(), &mut out);
        assert_eq!(out.len(), 2, "clone + original");
    }
    let n = frame.len() as i64;
    for name in ["clones_requested", "clones_emitted"] {
        let c = r.read(r.counter(name, Some(member as i64), None)).await;
        assert_eq!(counter_data(&c[0]), (member as i64, 3, 3 * n), "{name}");
    }
    let classify = r.classify(0x0a00_0001, 10, member);
    let direct = |te: &TableEntry| {
        let mut key = te.clone();
        key.action = None;
        E::DirectCounterEntry(Box::new(p4::DirectCounterEntry { table_entry: Some(key), data: None }))
    };
    let d = r.read(direct(&classify)).await;
    let Some(E::DirectCounterEntry(dc)) = &d[0].entity else { panic!() };
    assert_eq!(dc.data, Some(p4::CounterData { byte_count: 3 * n, packet_count: 3 }));

    // Reset one cell, then every cell (index unset), then the direct counter.
    r.write(vec![upd(Ty::Modify, r.counter("clones_requested", Some(member as i64), Some((0, 0))))]).await.unwrap();
    let c = r.read(r.counter("clones_requested", Some(member as i64), None)).await;
    assert_eq!(counter_data(&c[0]), (member as i64, 0, 0));
    r.write(vec![upd(Ty::Modify, r.counter("clones_emitted", None, Some((0, 0))))]).await.unwrap();
    let c = r.read(r.counter("clones_emitted", Some(member as i64), None)).await;
    assert_eq!(counter_data(&c[0]), (member as i64, 0, 0));
    let mut set = direct(&classify);
    if let E::DirectCounterEntry(dc) = &mut set {
        dc.data = Some(p4::CounterData::default());
    }
    r.write(vec![upd(Ty::Modify, set)]).await.unwrap();
    let d = r.read(direct(&classify)).await;
    let Some(E::DirectCounterEntry(dc)) = &d[0].entity else { panic!() };
    assert_eq!(dc.data, Some(p4::CounterData::default()));
    // Counting goes on from zero.
    pipeline.process_burst(&frames, &mut WorkerState::new(), &mut out);
    let c = r.read(r.counter("clones_requested", Some(member as i64), None)).await;
    assert_eq!(counter_data(&c[0]), (member as i64, 1, n));
    // A counter value can be set, not only reset.
    r.write(vec![upd(Ty::Modify, r.counter("clones_requested", Some(1), Some((5, 500))))]).await.unwrap();
    let c = r.read(r.counter("clones_requested", Some(1), None)).await;
    assert_eq!(counter_data(&c[0]), (1, 5, 500));
}

#[tokio::test]
async fn counter_and_register_entries_check_type_and_index() {
    let mut r = rig().await;
    let register_id = r.s.register("rr_cursor").unwrap().id;
    let reg = |index: Option<i64>, data: Option<Vec<u8>>| {
        E::RegisterEntry(p4::RegisterEntry {
            register_id,
            index: index.map(|index| p4::Index { index }),
            data: data.map(|b| p4::P4Data { data: Some(p4::p4_data::Data::Bitstring(b.into())) }),
        })
    };
    let missing_direct = E::DirectCounterEntry(Box::new(p4::DirectCounterEntry {
        table_entry: Some(r.classify(1, 5, 1)),
        data: Some(p4::CounterData::default()),
    }));
    let e = r
        .write(vec![
            upd(Ty::Insert, r.counter("clones_requested", Some(1), Some((0, 0)))),
            upd(Ty::Delete, r.counter("clones_requested", Some(1), None)),
            upd(Ty::Modify, r.counter("clones_requested", Some(-1), Some((0, 0)))),
            upd(Ty::Modify, r.counter("clones_requested", Some(32768), Some((0, 0)))),
            upd(Ty::Modify, r.counter("clones_requested", Some(1), Some((-1, 0)))),
            upd(Ty::Insert, reg(Some(1), Some(vec![1]))),
            upd(Ty::Modify, reg(Some(32768), Some(vec![1]))),
            upd(Ty::Modify, reg(Some(1), Some(vec![1, 0, 0]))),
            upd(Ty::Modify, reg(Some(1), None)),
            upd(Ty::Modify, missing_direct),
            upd(Ty::Modify, reg(Some(3), Some(vec![2]))),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        codes(&e),
        [
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::OutOfRange,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::OutOfRange,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::NotFound,
            Code::Ok
        ]
    );
    assert_eq!(r.read(reg(Some(3), None)).await, [ent(reg(Some(3), Some(vec![2])))]);
    // Wildcard register write.
    r.write(vec![upd(Ty::Modify, reg(None, Some(vec![9])))]).await.unwrap();
    let cursors = r.target.pipeline().rr_cursors();
    assert!(cursors.iter().all(|&c| c == 9));
}

// ---------------------------------------------------------------- default entries

#[tokio::test]
async fn default_actions_can_be_modified_read_and_reset() {
    let mut r = rig().await;
    let t = r.tid("clone_rewrite");
    let default_key = TableEntry { table_id: t, is_default_action: true, ..Default::default() };
    let initial = r.read_tables(default_key.clone()).await;
    assert_eq!(initial, [TableEntry { action: Some(r.action("clone_rewrite_miss", &[])), ..default_key.clone() }]);
    let mut set = r.rewrite(0);
    set.r#match.clear();
    set.is_default_action = true;
    set.metadata = b"dflt".to_vec().into();
    r.write(vec![upd(Ty::Modify, E::TableEntry(set.clone()))]).await.unwrap();
    assert_eq!(r.read_tables(default_key.clone()).await, [set.clone()]);
    assert_eq!(
        r.target.pipeline().default_action(CLONE_REWRITE),
        p4clone_pipeline::RewriteAction::Set(p4clone_pipeline::RewriteParams {
            dst_mac: [2, 0, 0, 0, 0, 1],
            src_mac: [2, 0, 0, 0, 0, 2],
            ..Default::default()
        })
    );
    // All tables' defaults at once.
    let all = r.read_tables(TableEntry { is_default_action: true, ..Default::default() }).await;
    assert_eq!(all.len(), 9);
    // MODIFY without an action resets the default (and its metadata).
    r.write(vec![upd(Ty::Modify, E::TableEntry(default_key.clone()))]).await.unwrap();
    assert_eq!(r.read_tables(default_key.clone()).await, initial);
    // INSERT / DELETE of the default entry, or one with a match, are INVALID_ARGUMENT.
    let mut with_match = set.clone();
    with_match.r#match = vec![r.exact("clone_rewrite", "member", 1)];
    let e = r
        .write(vec![
            upd(Ty::Insert, E::TableEntry(set.clone())),
            upd(Ty::Delete, E::TableEntry(set.clone())),
            upd(Ty::Modify, E::TableEntry(with_match)),
        ])
        .await
        .unwrap_err();
    assert_eq!(codes(&e), [Code::InvalidArgument; 3]);
}

#[tokio::test]
async fn modify_without_action_keeps_the_action_and_sets_the_counter() {
    let mut r = rig().await;
    let e = r.classify(1, 5, 1);
    r.write(vec![ins(e.clone())]).await.unwrap();
    let mut m = e.clone();
    m.action = None;
    m.counter_data = Some(Box::new(p4::CounterData { byte_count: 10, packet_count: 1 }));
    r.write(vec![upd(Ty::Modify, E::TableEntry(m))]).await.unwrap();
    let got = r
        .read_tables(TableEntry { table_id: e.table_id, counter_data: Some(Default::default()), ..Default::default() })
        .await;
    assert_eq!(got[0].action, e.action);
    assert_eq!(got[0].counter_data, Some(Box::new(p4::CounterData { byte_count: 10, packet_count: 1 })));
    // INSERT with an initial counter value.
    let mut with_counter = r.classify(2, 5, 1);
    with_counter.counter_data = Some(Box::new(p4::CounterData { byte_count: 7, packet_count: 7 }));
    r.write(vec![ins(with_counter.clone())]).await.unwrap();
    let mut key = with_counter.clone();
    key.action = None;
    assert_eq!(r.read_tables(key).await, [with_counter]);
}

// ---------------------------------------------------------------- in-process

#[tokio::test]
async fn in_process_writes_use_the_same_validation() {
    let target = SoftTarget::new(3);
    let s = schema();
    let wire = TableEntry {
        table_id: s.table("wire").unwrap().id,
        r#match: vec![FieldMatch {
            field_id: 1,
            field_match_type: Some(Fm::Exact(p4::field_match::Exact { value: vec![1].into() })),
        }],
        action: Some(TableAction {
            r#type: Some(TaType::Action(p4::Action { action_id: s.action("wire_drop").unwrap().id, params: vec![] })),
        }),
        ..Default::default()
    };
    let req = |device_id, te: TableEntry| WriteRequest { device_id, updates: vec![ins(te)], ..Default::default() };
    assert_eq!(target.apply_write(&req(3, wire.clone())).unwrap_err().code(), Code::FailedPrecondition);
    let mut other = SoftTarget::program_p4info();
    other.tables.pop();
    assert_eq!(target.set_pipeline_in_process(other, None).unwrap_err().code(), Code::InvalidArgument);
    target.set_pipeline_in_process(SoftTarget::program_p4info(), Some(42)).unwrap();
    assert_eq!(target.cookie(), Some(42));
    assert_eq!(target.apply_write(&req(4, wire.clone())).unwrap_err().code(), Code::NotFound);
    target.apply_write(&req(3, wire.clone())).unwrap();
    let e = target.apply_write(&req(3, wire.clone())).unwrap_err();
    assert_eq!(codes(&e), [Code::AlreadyExists]);
    let mut bad = wire;
    bad.priority = 1;
    assert_eq!(codes(&target.apply_write(&req(3, bad)).unwrap_err()), [Code::InvalidArgument]);
    assert_eq!(target.pipeline().table_sizes().wire, 1);
}

// ---------------------------------------------------------------- robustness

/// xorshift64*: deterministic garbage.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self) -> Vec<u8> {
        let len = [0, 1, 1, 1, 2, 2, 4, 6, 16, 17][self.below(10) as usize];
        let mut v: Vec<u8> = (0..len).map(|_| self.next() as u8).collect();
        if self.below(3) == 0 && !v.is_empty() {
            v[0] = 0;
        }
        v
    }
    fn id(&mut self, valid: &[u32]) -> u32 {
        match self.below(4) {
            0 => self.next() as u32,
            1 => 0,
            _ => valid[self.below(valid.len() as u64) as usize],
        }
    }
}

fn garbage(rng: &mut Rng, s: &P4Schema) -> Update {
    let tables: Vec<u32> = s.tables().iter().map(|t| t.id).collect();
    let actions: Vec<u32> = s.actions().iter().map(|a| a.id).collect();
    let field = |rng: &mut Rng| FieldMatch {
        field_id: rng.below(7) as u32,
        field_match_type: match rng.below(6) {
            0 => None,
            1 | 2 => Some(Fm::Exact(p4::field_match::Exact { value: rng.bytes().into() })),
            3 | 4 => {
                Some(Fm::Ternary(p4::field_match::Ternary { value: rng.bytes().into(), mask: rng.bytes().into() }))
            }
            _ => Some(Fm::Lpm(p4::field_match::Lpm { value: rng.bytes().into(), prefix_len: rng.next() as i32 })),
        },
    };
    let entity = match rng.below(8) {
        0..=3 => E::TableEntry(TableEntry {
            table_id: rng.id(&tables),
            r#match: (0..rng.below(7)).map(|_| field(rng)).collect(),
            action: (rng.below(5) != 0).then(|| TableAction {
                r#type: Some(TaType::Action(p4::Action {
                    action_id: rng.id(&actions),
                    params: (0..rng.below(6))
                        .map(|_| p4::action::Param { param_id: rng.below(7) as u32, value: rng.bytes().into() })
                        .collect(),
                })),
            }),
            priority: [0, 1, -1, 5, i32::MAX, i32::MIN][rng.below(6) as usize],
            is_default_action: rng.below(8) == 0,
            metadata: rng.bytes().into(),
            counter_data: (rng.below(4) == 0)
                .then(|| Box::new(p4::CounterData { byte_count: rng.next() as i64, packet_count: rng.next() as i64 })),
            idle_timeout_ns: (rng.below(10) == 0) as i64,
            ..Default::default()
        }),
        4 =>
        {
            #[allow(deprecated)]
            E::PacketReplicationEngineEntry(p4::PacketReplicationEngineEntry {
                r#type: Some(PreType::CloneSessionEntry(p4::CloneSessionEntry {
                    session_id: [0, 1, 2, 32767, 32768, u32::MAX][rng.below(6) as usize],
                    replicas: (0..rng.below(3))
                        .map(|_| p4::Replica {
                            port_kind: match rng.below(3) {
                                0 => None,
                                1 => Some(PortKind::EgressPort(rng.below(600) as u32)),
                                _ => Some(PortKind::Port(rng.bytes().into())),
                            },
                            instance: rng.below(70000) as u32,
                            backup_replicas: vec![],
                        })
                        .collect(),
                    class_of_service: (rng.below(5) == 0) as u32,
                    packet_length_bytes: rng.next() as i32,
                })),
            })
        }
        5 => E::CounterEntry(p4::CounterEntry {
            counter_id: rng.id(&[0x1200_0001, 0x1200_0002]),
            index: (rng.below(3) != 0).then(|| p4::Index { index: rng.next() as i64 % 40000 }),
            data: (rng.below(3) != 0)
                .then(|| p4::CounterData { byte_count: rng.next() as i64, packet_count: rng.next() as i64 }),
        }),
        6 => E::RegisterEntry(p4::RegisterEntry {
            register_id: rng.id(&[0x1600_0001]),
            index: (rng.below(2) == 0).then(|| p4::Index { index: rng.next() as i64 % 40000 }),
            data: (rng.below(4) != 0)
                .then(|| p4::P4Data { data: Some(p4::p4_data::Data::Bitstring(rng.bytes().into())) }),
        }),
        _ => E::DirectCounterEntry(Box::new(p4::DirectCounterEntry {
            table_entry: Some(TableEntry {
                table_id: rng.id(&tables),
                r#match: (0..rng.below(6)).map(|_| field(rng)).collect(),
                priority: rng.below(3) as i32,
                ..Default::default()
            }),
            data: Some(p4::CounterData::default()),
        })),
    };
    Update { r#type: rng.below(5) as i32, entity: Some(ent(entity)) }
}

#[tokio::test]
async fn garbage_never_crashes_the_server_or_corrupts_its_state() {
    let mut r = rig().await;
    let sentinel = TableEntry {
        table_id: r.tid("clone_classify_v6"),
        r#match: vec![r.tern("clone_classify_v6", "src_addr", 0x1234_5678_9abc_def0 << 64, u128::MAX)],
        action: Some(r.action("classify_miss", &[])),
        priority: 77,
        metadata: b"sentinel".to_vec().into(),
        ..Default::default()
    };
    r.write(vec![ins(sentinel.clone())]).await.unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let s = schema();
    let mut applied = 0;
    for _ in 0..60 {
        let updates: Vec<Update> = (0..40).map(|_| garbage(&mut rng, &s)).collect();
        let n = updates.len();
        match r.write(updates).await {
            Ok(()) => applied += n,
            Err(e) => {
                let errors = status::write_errors(&e).unwrap();
                assert_eq!(errors.len(), n, "{e:?}");
                applied += errors.iter().filter(|e| status::is_ok(e)).count();
            }
        }
        // Garbage reads too.
        let reads: Vec<Entity> = (0..5).map(|_| garbage(&mut rng, &s).entity.unwrap()).collect();
        if let Err(e) = r.read_req(reads).await {
            assert_eq!(e.code(), Code::Unknown, "{e:?}");
        }
    }
    assert!(applied > 0, "the generator should produce some valid updates");
    // The server still answers, the sentinel is intact, and everything it holds
    // reads back as entries it accepts again (MODIFY with itself succeeds).
    let mut key = sentinel.clone();
    key.action = None;
    key.metadata.clear();
    assert_eq!(r.read_tables(key).await, [sentinel]);
    let all = r.read_tables(TableEntry::default()).await;
    let sessions = r.read(r.session(0, 0, 0)).await;
    let mut again: Vec<Update> = all.into_iter().map(|e| upd(Ty::Modify, E::TableEntry(e))).collect();
    again.extend(sessions.into_iter().map(|e| Update { r#type: Ty::Modify as i32, entity: Some(e) }));
    r.write(again).await.unwrap();
}

#[tokio::test]
async fn a_160k_entry_table_reads_back_in_chunks() {
    let r0 = rig().await;
    let mut r = r0;
    let t = "clone_classify_v4";
    const N: u32 = 160_000;
    let start = Instant::now();
    for batch in 0..(N / 10_000) {
        let updates: Vec<Update> = (batch * 10_000..(batch + 1) * 10_000)
            .map(|i| {
                ins(TableEntry {
                    table_id: r.tid(t),
                    r#match: vec![
                        r.tern(t, "src_addr", 0x0a00_0000 | u128::from(i), 0xffff_ffff),
                        r.tern(t, "l4_dst_port", 80, 0xffff),
                    ],
                    action: Some(r.action("classify_hit", &[("first_member", 1), ("member_count", 2), ("mode", 1)])),
                    priority: 10,
                    ..Default::default()
                })
            })
            .collect();
        let req = WriteRequest { device_id: DEVICE, updates, ..Default::default() };
        r.target.apply_write(&req).unwrap();
    }
    let wrote = start.elapsed();
    let start = Instant::now();
    let (entities, messages) =
        r.read_req(vec![ent(E::TableEntry(TableEntry { table_id: r.tid(t), ..Default::default() }))]).await.unwrap();
    let read = start.elapsed();
    eprintln!("160k classify entries: write {wrote:?}, gRPC read {read:?} in {messages} messages");
    assert_eq!(entities.len(), N as usize);
    assert_eq!(messages, N as usize / 1000);
    // Debug builds are slow; this only guards against pathological behaviour.
    assert!(read < Duration::from_secs(60), "read took {read:?}");
}

/// `p4clone.soft.v1.CloneDiagnostics` beside P4Runtime: the ports' per-member
/// send failures, with the same device-id check as P4Runtime, range-checked
/// member ids, and reset by a P4Runtime reset of the member's `clones_emitted`.
#[tokio::test]
async fn clone_diagnostics_report_send_failures_and_reset_with_clones_emitted() {
    use p4clone_proto::p4clone::soft::v1::clone_diagnostics_client::CloneDiagnosticsClient;
    use p4clone_proto::p4clone::soft::v1::{MemberDiagnostics, ReadCloneDiagnosticsRequest};

    let mut r = rig().await;
    let addr = r.handle.as_ref().unwrap().local_addr();
    let mut diag = CloneDiagnosticsClient::connect(format!("http://{addr}")).await.unwrap();
    let read = |members: Vec<u32>| ReadCloneDiagnosticsRequest { device_id: DEVICE, members };
    let d = |member, alloc_failed, driver_failed| MemberDiagnostics { member, alloc_failed, driver_failed };

    // Nothing failed yet: an empty answer; named members are listed with zeros.
    assert_eq!(diag.read(read(vec![])).await.unwrap().into_inner().members, vec![]);
    assert_eq!(diag.read(read(vec![9, 3, 9])).await.unwrap().into_inner().members, vec![d(3, 0, 0), d(9, 0, 0)]);

    let pipeline = r.target.pipeline();
    pipeline.add_diag(p4clone_pipeline::Diag::AllocFailed, 7, 4);
    pipeline.add_diag(p4clone_pipeline::Diag::DriverFailed, 7, 1);
    pipeline.add_diag(p4clone_pipeline::Diag::DriverFailed, 32_767, 2);
    let all = diag.read(read(vec![])).await.unwrap().into_inner().members;
    assert_eq!(all, vec![d(7, 4, 1), d(32_767, 0, 2)]);

    // Bad requests: the device id as P4Runtime checks it, member ids 1..32767.
    let e = diag.read(ReadCloneDiagnosticsRequest { device_id: 2, members: vec![] }).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    for bad in [0, 32_768, u32::MAX] {
        let e = diag.read(read(vec![7, bad])).await.unwrap_err();
        assert_eq!(e.code(), Code::OutOfRange, "{bad}: {e:?}");
        assert!(e.message().contains(&bad.to_string()), "{e:?}");
    }

    // A P4Runtime reset of clones_requested leaves them; of clones_emitted, clears
    // that member's (a nonzero write does not).
    r.write(vec![upd(Ty::Modify, r.counter("clones_requested", Some(7), Some((0, 0))))]).await.unwrap();
    r.write(vec![upd(Ty::Modify, r.counter("clones_emitted", Some(32_767), Some((9, 0))))]).await.unwrap();
    assert_eq!(diag.read(read(vec![])).await.unwrap().into_inner().members, all);
    r.write(vec![upd(Ty::Modify, r.counter("clones_emitted", Some(7), Some((0, 0))))]).await.unwrap();
    assert_eq!(diag.read(read(vec![])).await.unwrap().into_inner().members, vec![d(32_767, 0, 2)]);
    r.write(vec![upd(Ty::Modify, r.counter("clones_emitted", None, Some((0, 0))))]).await.unwrap();
    assert_eq!(diag.read(read(vec![])).await.unwrap().into_inner().members, vec![]);
}
