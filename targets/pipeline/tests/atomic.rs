//! Atomic batches: packet workers never see half a batch, and writes proceed while
//! workers hammer the tables.

mod common;
use common::*;
use p4clone_pipeline::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const SE: u32 = 0x0A00_0001;
const KEY_A: u32 = 0x0A00_0A0A;
const KEY_B: u32 = 0x0A00_0B0B;

fn rule(dst: u32, m: u16) -> ClassifyEntryV4 {
    ClassifyEntry { key: v4_exact(SE, dst, 6, None, Some(80)), priority: 10, action: hit(m, 1, 0), metadata: vec![] }
}

#[test]
fn a_batch_moving_an_entry_is_seen_whole() {
    let p = Arc::new(Pipeline::new());
    wire(&p, 1, 2);
    member(&p, 1, 3, params(0, 0, false));
    member(&p, 2, 3, params(0, 0, false));
    // Invariant kept by every batch: exactly one of KEY_A / KEY_B is classified,
    // and its member is 1 or 2 (the batch also swaps the member, and the rewrite
    // entries of both are rewritten to the same VLAN in the same batch).
    p.write(|b| b.insert(CLASSIFY_V4, rule(KEY_A, 1))).unwrap();
    let fa = tcp4(SE, 1000, KEY_A, 80, b"a");
    let fb = tcp4(SE, 1000, KEY_B, 80, b"b");
    let stop = Arc::new(AtomicBool::new(false));
    let bursts = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (p, stop, bursts) = (p.clone(), stop.clone(), bursts.clone());
            let (fa, fb) = (fa.clone(), fb.clone());
            std::thread::spawn(move || {
                let frames: Vec<RxFrame<'_>> =
                    (0..BURST).map(|i| RxFrame { port: 2, data: if i % 2 == 0 { &fa } else { &fb } }).collect();
                let mut out = EmitBatch::with_capacity(BURST);
                while !stop.load(Ordering::Relaxed) {
                    p.process_burst(&frames, &mut WorkerState::new(), &mut out);
                    let clones: Vec<&CloneFrame> = out
                        .iter()
                        .filter_map(|e| match &e.kind {
                            EmitKind::Clone(c) => Some(c),
                            EmitKind::Original => None,
                        })
                        .collect();
                    // Exactly the A frames or exactly the B frames are cloned.
                    assert_eq!(clones.len(), BURST / 2, "half a batch seen");
                    let inputs: Vec<u32> = out.iter().filter(|e| e.is_clone()).map(|e| e.input % 2).collect();
                    assert!(inputs.windows(2).all(|w| w[0] == w[1]), "A and B mixed");
                    // All clones of a burst carry one member and one VLAN.
                    let m = clones[0].member;
                    assert!(clones.iter().all(|c| c.member == m));
                    let vids: Vec<Vec<u8>> =
                        out.iter().filter(|e| e.is_clone()).map(|e| out.to_vec(e, &frames)[12..16].to_vec()).collect();
                    assert!(vids.windows(2).all(|w| w[0] == w[1]));
                    bursts.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut on_a = true;
    let mut batches = 0u32;
    let t0 = std::time::Instant::now();
    while batches < 3000 || bursts.load(Ordering::Relaxed) < 3000 {
        let (from, to) = if on_a { (KEY_A, KEY_B) } else { (KEY_B, KEY_A) };
        let m = if batches.is_multiple_of(2) { 2 } else { 1 };
        let vid = (batches % 4000) as u16 + 1;
        let r = p.apply([
            TableOp::delete(CLASSIFY_V4, (v4_exact(SE, from, 6, None, Some(80)), 10)),
            TableOp::insert(CLASSIFY_V4, rule(to, m)),
            TableOp::modify(
                CLONE_REWRITE,
                RewriteEntry { member: 1, action: RewriteAction::Set(params(vid, 0, false)), metadata: vec![] },
            ),
            TableOp::modify(
                CLONE_REWRITE,
                RewriteEntry { member: 2, action: RewriteAction::Set(params(vid, 0, false)), metadata: vec![] },
            ),
        ]);
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        on_a = !on_a;
        batches += 1;
        assert!(t0.elapsed().as_secs() < 120, "test took too long");
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("reader saw a torn batch");
    }
    assert_eq!(p.table_sizes().classify_v4, 1);
    // Counters from both workers add up: every burst cloned BURST/2 frames.
    let total: u64 = p.counters(Counter::ClonesRequested).iter().map(|c| c.packets).sum();
    assert_eq!(total, bursts.load(Ordering::Relaxed) * (BURST as u64 / 2));
}

#[test]
fn both_copies_stay_identical_after_many_batches() {
    // Alternate batches land on alternating copies; a read after each batch must
    // match what a packet sees.
    let p = Pipeline::new();
    wire(&p, 1, 2);
    for m in 1..=4 {
        member(&p, m, 3, params(0, 0, false));
    }
    for i in 0..50u32 {
        let dst = 0x0B00_0000 + (i % 7);
        let m = (i % 4) as u16 + 1;
        let key = v4_exact(SE, dst, 6, None, Some(80));
        let _ = p.apply([TableOp::delete(CLASSIFY_V4, (key, 10)), TableOp::insert(CLASSIFY_V4, rule(dst, m))]);
        for d in 0..7u32 {
            let f = tcp4(SE, 1, 0x0B00_0000 + d, 80, b"");
            let want = p.entry(CLASSIFY_V4, &(v4_exact(SE, 0x0B00_0000 + d, 6, None, Some(80)), 10)).map(|r| {
                match r.entry.action {
                    ClassifyAction::Hit { first_member, .. }
                    | ClassifyAction::HitSampled { first_member, .. }
                    | ClassifyAction::Skip { first_member } => first_member,
                    ClassifyAction::Miss => 0,
                }
            });
            let got = run(&p, 1, &f).iter().find_map(|(_, _, m)| *m);
            assert_eq!(got, want, "batch {i} dst {d}");
        }
    }
}
