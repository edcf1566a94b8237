//! Property tests: random frames and random tables never panic; the classify lookup
//! agrees with a linear-scan model of P4 ternary semantics and the tie rule; output
//! invariants hold.

mod common;
use common::*;
use p4clone_pipeline::wire::parse;
use p4clone_pipeline::*;
use proptest::prelude::*;

/// Frames biased towards parseable headers, then mutated and truncated.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let base = prop_oneof![
        (any::<u32>(), any::<u16>(), any::<u32>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(s, sp, d, dp, pl)| tcp4(s & 0xFF, sp % 4, d & 0xFF, dp % 4, &pl)),
        (any::<u32>(), any::<u16>(), any::<u32>(), any::<u16>(), any::<bool>()).prop_map(|(s, sp, d, dp, c)| udp4(
            s & 0xFF,
            sp % 4,
            d & 0xFF,
            dp % 4,
            b"pl",
            c
        )),
        (any::<u8>(), any::<u16>(), any::<u8>(), any::<u16>()).prop_map(|(s, sp, d, dp)| tcp6(
            u128::from(s),
            sp % 4,
            u128::from(d),
            dp % 4,
            b"x"
        )),
        (any::<u8>(), any::<u16>()).prop_map(|(s, sp)| tagged(&udp6(u128::from(s), sp % 4, 1, 2, b""), 3, true, 9)),
        proptest::collection::vec(any::<u8>(), 0..120),
    ];
    (
        base,
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(mut f, muts, cut, do_cut)| {
            if !f.is_empty() {
                for (i, b) in muts {
                    let i = i.index(f.len());
                    f[i] = b;
                }
                if do_cut {
                    f.truncate(cut.index(f.len() + 1));
                }
            }
            f
        })
}

fn ternary_u32() -> impl Strategy<Value = Ternary<u32>> {
    prop_oneof![
        Just(Ternary::<u32>::any()),
        (0u32..256).prop_map(Ternary::<u32>::exact),
        (any::<u32>(), any::<u32>()).prop_map(|(v, m)| Ternary { value: v & m, mask: m }),
    ]
}

fn ternary_u16() -> impl Strategy<Value = Ternary<u16>> {
    prop_oneof![
        Just(Ternary::<u16>::any()),
        (0u16..4).prop_map(Ternary::<u16>::exact),
        (any::<u16>(), any::<u16>()).prop_map(|(v, m)| Ternary { value: v & m, mask: m }),
    ]
}

fn key_v4() -> impl Strategy<Value = ClassifyKeyV4> {
    (
        ternary_u32(),
        ternary_u32(),
        prop_oneof![Just(Ternary::<u8>::any()), Just(Ternary::<u8>::exact(6)), Just(Ternary::<u8>::exact(17))],
        ternary_u16(),
        ternary_u16(),
    )
        .prop_map(|(s, d, p, sp, dp)| ClassifyKeyV4 {
            src_addr: s,
            dst_addr: d,
            protocol: p,
            l4_src_port: sp,
            l4_dst_port: dp,
        })
}

#[derive(Debug, Clone)]
enum Op {
    Insert(ClassifyKeyV4, i32, u16),
    Delete(usize),
    Session(u16, u16, u16, u32),
    Rewrite(u16, RewriteParams, bool),
    Nat(NatDir, u32, u16, u32, u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key_v4(), 0i32..4, 0u16..8).prop_map(|(k, p, m)| Op::Insert(k, p, m)),
        1 => any::<usize>().prop_map(Op::Delete),
        2 => (0u16..8, 0u16..8, 0u16..6, prop_oneof![Just(0u32), 1u32..100]).prop_map(|(s, port, inst, plb)| Op::Session(s, port, inst, plb)),
        2 => (0u16..8, (any::<u16>(), 0u16..100, any::<bool>()), any::<bool>()).prop_map(|(m, (vid, tr, nat), miss)| Op::Rewrite(m, params(vid & 0x0FFF, tr, nat), miss)),
        1 => (any::<bool>(), 0u32..256, 0u16..4, any::<u32>(), any::<u16>()).prop_map(|(d, a, p, ca, cp)| Op::Nat(if d { NatDir::Src } else { NatDir::Dst }, a, p, ca, cp)),
    ]
}

/// Reference model: linear scan, highest priority, then earliest insertion.
fn model_lookup(entries: &[(ClassifyKeyV4, i32, u16)], s: u32, d: u32, proto: u8, sp: u16, dp: u16) -> Option<u16> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, (k, _, _))| {
            k.src_addr.matches(s)
                && k.dst_addr.matches(d)
                && k.protocol.matches(proto)
                && k.l4_src_port.matches(sp)
                && k.l4_dst_port.matches(dp)
        })
        .max_by(|(ia, (_, pa, _)), (ib, (_, pb, _))| pa.cmp(pb).then(ib.cmp(ia)))
        .map(|(_, (_, _, m))| *m)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_random_bytes(f in proptest::collection::vec(any::<u8>(), 0..200)) {
        let p = parse(&f);
        prop_assert!(usize::from(p.l2_len) <= f.len());
        prop_assert!(p.l4_end() <= f.len());
    }

    #[test]
    fn random_frames_and_tables_never_panic(ops in proptest::collection::vec(op(), 0..40),
                                            frames in proptest::collection::vec((0u16..4, frame()), 1..40)) {
        let p = Pipeline::new();
        wire(&p, 1, 2);
        let _ = p.write(|b| b.insert(WIRE, WireEntry { ingress_port: 3, action: WireAction::Drop, metadata: vec![] }));
        let mut installed: Vec<(ClassifyKeyV4, i32)> = Vec::new();
        for o in ops {
            let _ = p.write(|b| match o {
                Op::Insert(k, pr, m) => {
                    let r = b.insert(CLASSIFY_V4, ClassifyEntry { key: k, priority: pr, action: hit(m, m % 3, (m % 2) as u8), metadata: vec![1] });
                    if r.is_ok() { installed.push((k, pr)); }
                    r
                }
                Op::Delete(i) => {
                    if installed.is_empty() { return Ok(()); }
                    let (k, pr) = installed.remove(i % installed.len());
                    b.delete(CLASSIFY_V4, (k, pr))
                }
                Op::Session(s, port, inst, plb) => {
                    let e = CloneSessionEntry { session_id: s, session: CloneSession { replicas: vec![Replica { egress_port: port, instance: inst }, Replica { egress_port: 511, instance: inst }], packet_length_bytes: plb } };
                    b.insert_clone_session(e.clone()).or_else(|_| b.modify_clone_session(e))
                }
                Op::Rewrite(m, prm, miss) => {
                    let e = RewriteEntry { member: m, action: if miss { RewriteAction::Miss } else { RewriteAction::Set(prm) }, metadata: vec![] };
                    b.insert(CLONE_REWRITE, e.clone()).or_else(|_| b.modify(CLONE_REWRITE, e))
                }
                Op::Nat(d, a, port, ca, cp) => {
                    let e = NatEntry { key: NatKeyV4 { addr: a, port, protocol: 6 }, action: NatAction::Set { client_addr: ca, client_port: cp }, metadata: vec![] };
                    b.insert(NatTable { family: V4, dir: d }, e.clone()).or_else(|_| b.modify(NatTable { family: V4, dir: d }, e))
                }
            });
        }
        let rx: Vec<RxFrame<'_>> = frames.iter().map(|(port, f)| RxFrame { port: *port, data: f }).collect();
        let mut out = EmitBatch::new();
        p.process_burst(&rx, &mut WorkerState::new(), &mut out);
        let mut last_input = 0u32;
        for e in out.iter() {
            prop_assert!(e.input >= last_input, "input order");
            last_input = e.input;
            let bytes = out.to_vec(e, &rx);
            prop_assert_eq!(bytes.len(), e.len(&rx));
            match e.kind {
                EmitKind::Original => prop_assert_eq!(&bytes[..], rx[e.input as usize].data),
                EmitKind::Clone(c) => {
                    prop_assert!(c.tail_offset as usize <= rx[e.input as usize].data.len());
                    prop_assert!(e.port != DROP_PORT);
                }
            }
        }
        // Per input: clones before the original.
        for i in 0..rx.len() as u32 {
            let kinds: Vec<bool> = out.iter().filter(|e| e.input == i).map(|e| e.is_clone()).collect();
            prop_assert!(kinds.windows(2).all(|w| w[0] >= w[1]));
        }
        prop_assert_eq!(p.table_sizes().classify_v4, installed.len());
        prop_assert_eq!(p.entries(CLASSIFY_V4).len(), installed.len());
    }

    #[test]
    fn lookup_matches_linear_model(entries in proptest::collection::vec((key_v4(), 0i32..3, 1u16..60), 1..30),
                                   deletes in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
                                   pkts in proptest::collection::vec((0u32..256, 0u32..256, prop_oneof![Just(6u8), Just(17u8)], 0u16..4, 0u16..4), 1..40)) {
        let p = Pipeline::new();
        wire(&p, 1, 2);
        let ops = (1..60u16).flat_map(|m| [
            TableOp::insert_clone_session(CloneSessionEntry { session_id: m, session: CloneSession { replicas: vec![Replica { egress_port: 3, instance: m }], packet_length_bytes: 0 } }),
            TableOp::insert(CLONE_REWRITE, RewriteEntry { member: m, action: RewriteAction::Set(params(0, 0, false)), metadata: vec![] }),
        ]);
        prop_assert!(p.apply(ops).iter().all(Result::is_ok));
        let mut model: Vec<(ClassifyKeyV4, i32, u16)> = Vec::new();
        // Insert in a few batches to exercise replay.
        for chunk in entries.chunks(7) {
            let r = p.apply(chunk.iter().map(|(k, pr, m)| TableOp::insert(CLASSIFY_V4, ClassifyEntry { key: *k, priority: *pr, action: hit(*m, 1, 0), metadata: vec![] })));
            for ((k, pr, m), r) in chunk.iter().zip(r) {
                let dup = model.iter().any(|(mk, mp, _)| {
                    // Identity: masked key (keys are canonical) and priority.
                    mk == k && mp == pr
                });
                prop_assert_eq!(r.is_ok(), !dup);
                if !dup { model.push((*k, *pr, *m)); }
            }
        }
        for d in deletes {
            if model.is_empty() { break; }
            let (k, pr, _) = model.remove(d.index(model.len()));
            prop_assert_eq!(p.write(|b| b.delete(CLASSIFY_V4, (k, pr))), Ok(()));
        }
        for (s, d, proto, sp, dp) in pkts {
            let f = if proto == 6 { tcp4(s, sp, d, dp, b"") } else { udp4(s, sp, d, dp, b"", true) };
            let got = run(&p, 1, &f).iter().find_map(|(_, _, m)| *m);
            prop_assert_eq!(got, model_lookup(&model, s, d, proto, sp, dp));
        }
    }
}
