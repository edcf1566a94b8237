//! Table API: P4Runtime identity and priority semantics, typed errors, read-back.

mod common;
use common::*;
use p4clone_pipeline::*;

const A: u32 = 0x0A00_0001;
const B: u32 = 0x0A00_0002;

fn entry(key: ClassifyKeyV4, priority: i32, m: u16, meta: &[u8]) -> ClassifyEntryV4 {
    ClassifyEntry { key, priority, action: hit(m, 1, 0), metadata: meta.to_vec() }
}

/// Pipeline where member m clones to port 3; returns the member a packet picks.
fn pick(p: &Pipeline, f: &[u8]) -> Option<u16> {
    run(p, 1, f).iter().find_map(|(_, _, m)| *m)
}

fn with_members(ms: &[u16]) -> Pipeline {
    let p = Pipeline::new();
    wire(&p, 1, 2);
    for &m in ms {
        member(&p, m, 3, params(0, 0, false));
    }
    p
}

#[test]
fn higher_priority_wins() {
    let p = with_members(&[1, 2, 3]);
    let wide = ClassifyKeyV4 { dst_addr: Ternary::<u32>::exact(B), ..Default::default() };
    let narrow = v4_exact(A, B, 6, None, Some(80));
    let r = p.apply([
        TableOp::insert(CLASSIFY_V4, entry(wide, 10, 1, b"")),
        TableOp::insert(CLASSIFY_V4, entry(narrow, 5, 2, b"")),
    ]);
    assert!(r.iter().all(Result::is_ok));
    let f = tcp4(A, 1000, B, 80, b"");
    assert_eq!(pick(&p, &f), Some(1));
    // Raise the narrow one above.
    p.write(|b| b.insert(CLASSIFY_V4, entry(narrow, 20, 3, b""))).unwrap();
    assert_eq!(pick(&p, &f), Some(3));
    // Negative and extreme priorities order correctly too.
    p.write(|b| b.insert(CLASSIFY_V4, entry(wide, i32::MAX, 2, b""))).unwrap();
    assert_eq!(pick(&p, &f), Some(2));
    p.write(|b| b.delete(CLASSIFY_V4, (wide, i32::MAX))).unwrap();
    assert_eq!(pick(&p, &f), Some(3));
}

#[test]
fn equal_priority_earliest_insert_wins() {
    let p = with_members(&[1, 2]);
    let by_src = ClassifyKeyV4 { src_addr: Ternary::<u32>::exact(A), ..Default::default() };
    let by_dst = ClassifyKeyV4 { dst_addr: Ternary::<u32>::exact(B), ..Default::default() };
    let f = tcp4(A, 1000, B, 80, b"");
    p.write(|b| b.insert(CLASSIFY_V4, entry(by_dst, 7, 2, b""))).unwrap();
    p.write(|b| b.insert(CLASSIFY_V4, entry(by_src, 7, 1, b""))).unwrap();
    assert_eq!(pick(&p, &f), Some(2), "by_dst was inserted first");
    // MODIFY keeps the insertion order.
    p.write(|b| b.modify(CLASSIFY_V4, entry(by_dst, 7, 2, b"new-meta"))).unwrap();
    assert_eq!(pick(&p, &f), Some(2));
    // Delete and re-insert: now the newest, so by_src wins.
    p.write(|b| {
        b.delete(CLASSIFY_V4, (by_dst, 7))?;
        b.insert(CLASSIFY_V4, entry(by_dst, 7, 2, b""))
    })
    .unwrap();
    assert_eq!(pick(&p, &f), Some(1));
}

#[test]
fn identity_is_key_and_priority() {
    let p = with_members(&[1, 2]);
    let k = v4_exact(A, B, 6, None, Some(80));
    p.write(|b| b.insert(CLASSIFY_V4, entry(k, 1, 1, b""))).unwrap();
    // Same key, other priority: a distinct entry.
    p.write(|b| b.insert(CLASSIFY_V4, entry(k, 2, 2, b""))).unwrap();
    // Same key and priority: ALREADY_EXISTS, even with another action.
    let e = p.write(|b| b.insert(CLASSIFY_V4, entry(k, 2, 1, b"")));
    assert_eq!(e, Err(TableError::AlreadyExists { table: TableId::ClassifyV4 }));
    assert_eq!(p.table_sizes().classify_v4, 2);
    let f = tcp4(A, 1, B, 80, b"");
    assert_eq!(pick(&p, &f), Some(2));
    p.write(|b| b.delete(CLASSIFY_V4, (k, 2))).unwrap();
    assert_eq!(pick(&p, &f), Some(1));
    // Modify/delete of a missing identity: NOT_FOUND.
    let nf = Err(TableError::NotFound { table: TableId::ClassifyV4 });
    assert_eq!(p.write(|b| b.delete(CLASSIFY_V4, (k, 2))), nf);
    assert_eq!(p.write(|b| b.modify(CLASSIFY_V4, entry(k, 3, 1, b""))), nf);
    let other = v4_exact(A, B, 6, None, Some(81));
    assert_eq!(p.write(|b| b.delete(CLASSIFY_V4, (other, 1))), nf);
}

#[test]
fn non_canonical_and_ranges() {
    let p = Pipeline::new();
    let bad = ClassifyKeyV4 { src_addr: Ternary { value: 0x0A00_0001, mask: 0xFFFF_FF00 }, ..Default::default() };
    assert_eq!(
        p.write(|b| b.insert(CLASSIFY_V4, entry(bad, 1, 1, b""))),
        Err(TableError::NonCanonicalTernary { table: TableId::ClassifyV4, field: "src_addr" })
    );
    let r = p.apply([
        TableOp::insert(WIRE, WireEntry { ingress_port: 512, action: WireAction::Drop, metadata: vec![] }),
        TableOp::insert(WIRE, WireEntry { ingress_port: 1, action: WireAction::Forward(600), metadata: vec![] }),
        TableOp::insert(
            CLONE_REWRITE,
            RewriteEntry {
                member: 1,
                action: RewriteAction::Set(RewriteParams { vlan_id: 4096, ..Default::default() }),
                metadata: vec![],
            },
        ),
        TableOp::insert_clone_session(CloneSessionEntry { session_id: 32768, session: CloneSession::default() }),
        TableOp::WriteRrCursor { index: 40000, value: 1 },
    ]);
    for r in &r {
        assert!(matches!(r, Err(TableError::OutOfRange { .. })), "{r:?}");
    }
    assert_eq!(p.table_sizes(), TableSizes::default());
    // 32767 is the last session id accepted.
    assert_eq!(
        p.apply([TableOp::insert_clone_session(CloneSessionEntry {
            session_id: 32767,
            session: CloneSession::default(),
        })]),
        vec![Ok(())]
    );
    let msg = TableError::AlreadyExists { table: TableId::NatDstV6 }.to_string();
    assert_eq!(msg, "nat_dst_v6: entry already exists");
}

#[test]
fn continue_on_error_batch() {
    let p = Pipeline::new();
    let w = |port, to| {
        TableOp::insert(
            WIRE,
            WireEntry { ingress_port: port, action: WireAction::Forward(to), metadata: vec![port as u8] },
        )
    };
    let r = p.apply([w(1, 2), w(1, 3), TableOp::delete(WIRE, 5), w(2, 1)]);
    assert_eq!(
        r,
        vec![
            Ok(()),
            Err(TableError::AlreadyExists { table: TableId::Wire }),
            Err(TableError::NotFound { table: TableId::Wire }),
            Ok(())
        ]
    );
    let entries = p.entries(WIRE);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].action, WireAction::Forward(2));
    assert_eq!(entries[0].metadata, vec![1]);
    assert_eq!(p.entry(WIRE, &2).unwrap().metadata, vec![2]);
    assert_eq!(p.default_action(WIRE), WireAction::Drop);
}

#[test]
fn read_back_everything() {
    let p = Pipeline::new();
    let k4 = v4_exact(A, B, 6, None, Some(80));
    let k6 = ClassifyKeyV6 {
        src_addr: Ternary { value: 0xfd00 << 112, mask: u128::MAX << 64 },
        protocol: Ternary::<u8>::exact(17),
        l4_dst_port: Ternary::<u16>::exact(53),
        ..Default::default()
    };
    let rw = RewriteEntry { member: 7, action: RewriteAction::Set(params(100, 128, true)), metadata: b"rw".to_vec() };
    let sess = CloneSessionEntry {
        session_id: 7,
        session: CloneSession { replicas: vec![Replica { egress_port: 3, instance: 7 }], packet_length_bytes: 0 },
    };
    let nat6 = NatEntryV6 {
        key: NatKeyV6 { addr: 1, port: 2, protocol: 6 },
        action: NatAction::Set { client_addr: u128::MAX, client_port: 9 },
        metadata: b"n6".to_vec(),
    };
    let r = p.apply([
        TableOp::insert(CLASSIFY_V4, entry(k4, 100, 7, b"owner:abc")),
        TableOp::insert(
            CLASSIFY_V6,
            ClassifyEntry { key: k6, priority: 3, action: hit(7, 1, 1), metadata: b"v6".to_vec() },
        ),
        TableOp::insert(CLONE_REWRITE, rw.clone()),
        TableOp::insert_clone_session(sess.clone()),
        TableOp::insert(NatTable { family: V6, dir: NatDir::Dst }, nat6.clone()),
        TableOp::set_default(NatTable { family: V6, dir: NatDir::Src }, NatAction::Miss),
        TableOp::set_default(CLONE_REWRITE, RewriteAction::Miss),
        TableOp::set_default(CLASSIFY_V6, ClassifyAction::Miss),
    ]);
    assert!(r.iter().all(Result::is_ok), "{r:?}");
    let v4 = p.entries(CLASSIFY_V4);
    assert_eq!(v4.len(), 1);
    assert_eq!(v4[0].entry, entry(k4, 100, 7, b"owner:abc"));
    assert_eq!(v4[0].counter, CounterValue::default());
    let v6 = p.entries(CLASSIFY_V6);
    assert_eq!(v6[0].entry.key, k6);
    assert_eq!(v6[0].entry.metadata, b"v6");
    assert_eq!(p.entry(CLASSIFY_V6, &(k6, 3)).unwrap().entry.action, hit(7, 1, 1));
    assert!(p.entry(CLASSIFY_V6, &(k6, 4)).is_none());
    assert_eq!(p.entries(CLONE_REWRITE), vec![rw.clone()]);
    assert_eq!(p.entry(CLONE_REWRITE, &7), Some(rw));
    assert_eq!(p.default_action(CLONE_REWRITE), RewriteAction::Miss);
    assert_eq!(p.clone_sessions(), vec![sess.clone()]);
    assert_eq!(p.clone_session(7), Some(sess.session));
    assert_eq!(p.entries(NatTable { family: V6, dir: NatDir::Dst }), vec![nat6.clone()]);
    assert_eq!(p.entry(NatTable { family: V6, dir: NatDir::Dst }, &nat6.key), Some(nat6));
    assert!(p.entries(NatTable { family: V6, dir: NatDir::Src }).is_empty());
    assert_eq!(p.default_action(NatTable { family: V6, dir: NatDir::Src }), NatAction::Miss);
    assert_eq!(p.default_action(NatTable { family: V4, dir: NatDir::Dst }), NatAction::Miss);
    assert_eq!(p.default_action(CLASSIFY_V6), ClassifyAction::Miss);
    // Modify metadata to empty, then delete everything.
    p.write(|b| b.modify(CLASSIFY_V4, entry(k4, 100, 8, b""))).unwrap();
    assert_eq!(p.entries(CLASSIFY_V4)[0].entry.metadata, b"");
    let r = p.apply([
        TableOp::delete(CLASSIFY_V4, (k4, 100)),
        TableOp::delete(CLASSIFY_V6, (k6, 3)),
        TableOp::delete(CLONE_REWRITE, 7),
        TableOp::delete_clone_session(7),
        TableOp::delete(NatTable { family: V6, dir: NatDir::Dst }, NatKeyV6 { addr: 1, port: 2, protocol: 6 }),
    ]);
    assert!(r.iter().all(Result::is_ok), "{r:?}");
    assert_eq!(p.table_sizes(), TableSizes::default());
    // Everything is NOT_FOUND now.
    let r = p.apply([
        TableOp::delete(CLONE_REWRITE, 7),
        TableOp::delete_clone_session(7),
        TableOp::modify_clone_session(CloneSessionEntry { session_id: 7, session: CloneSession::default() }),
        TableOp::modify(
            NatTable { family: V4, dir: NatDir::Src },
            NatEntry { key: NatKeyV4::default(), action: NatAction::Miss, metadata: vec![] },
        ),
        TableOp::delete(NatTable { family: V4, dir: NatDir::Src }, NatKeyV4::default()),
        TableOp::modify(CLONE_REWRITE, RewriteEntry { member: 1, action: RewriteAction::Miss, metadata: vec![] }),
        TableOp::modify(WIRE, WireEntry { ingress_port: 1, action: WireAction::Drop, metadata: vec![] }),
        TableOp::set_direct_counter(CLASSIFY_V4, (k4, 100), CounterValue::default()),
    ]);
    for r in r {
        assert!(matches!(r, Err(TableError::NotFound { .. })), "{r:?}");
    }
}

#[test]
fn table_full() {
    let p = Pipeline::new();
    let r = p.apply((0..16_385u32).map(|i| {
        TableOp::insert(
            NatTable { family: V6, dir: NatDir::Src },
            NatEntryV6 {
                key: NatKeyV6 { addr: u128::from(i), port: 1, protocol: 6 },
                action: NatAction::Miss,
                metadata: vec![],
            },
        )
    }));
    assert!(r[..16_384].iter().all(Result::is_ok));
    assert_eq!(r[16_384], Err(TableError::TableFull { table: TableId::NatSrcV6, capacity: 16_384 }));
}

#[test]
fn many_entries_two_masks_like_the_compiler() {
    // 2,000 forward + reverse rules; every one is found by its own packet.
    let p = with_members(&[]);
    let se = 0x0A00_0001;
    let mut ops = Vec::new();
    for i in 0..1000u32 {
        let srv = 0x0B00_0000 + i;
        ops.push(TableOp::insert(
            CLASSIFY_V4,
            entry(v4_exact(se, srv, 6, None, Some(8000)), 100, (i % 3000) as u16 + 1, b"d"),
        ));
        ops.push(TableOp::insert(
            CLASSIFY_V4,
            entry(v4_exact(srv, se, 6, Some(8000), None), 100, (i % 3000) as u16 + 1, b"d"),
        ));
    }
    assert!(p.apply(ops).iter().all(Result::is_ok));
    for i in (0..1000u32).step_by(37) {
        let m = i as u16 + 1;
        member(&p, m, 3, params(0, 0, false));
        let srv = 0x0B00_0000 + i;
        assert_eq!(pick(&p, &tcp4(se, 5000, srv, 8000, b"")), Some(m));
        assert_eq!(pick(&p, &tcp4(srv, 8000, se, 5000, b"")), Some(m));
        assert_eq!(pick(&p, &tcp4(srv, 8001, se, 5000, b"")), None);
    }
}
