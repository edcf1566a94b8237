//! Arbitrary frames through `Pipeline::process_burst` with a fixed clone pipeline
//! (the one of `targets/soft/tests/common/mod.rs::clone_pipeline`, destination any):
//! wire 1 <-> 2; TCP port 80 classified to member 1, cloned (session 1) to port 3
//! with a new MAC pair and, in one of the two pipelines, a pushed VLAN tag.
//!
//! Input: byte 0 picks the pipeline (bit 0: VLAN push); then frames, each
//! `[port byte][length: 2 bytes LE][data]` (the length clipped to what is left).
//!
//! Invariants on every output: an original is emitted byte-for-byte on the port its
//! ingress port is wired to; a clone leaves on port 3 with the configured MACs, and
//! its bytes beyond the rewritten L2 header equal the original's bytes beyond its
//! L2 header; every emit refers to a frame of the burst and its parts are in bounds.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use p4clone_pipeline::{
    ClassifyAction, ClassifyEntryV4, ClassifyKeyV4, CloneSession, CloneSessionEntry, EmitBatch, EmitKind, Pipeline,
    Replica, RewriteAction, RewriteEntry, RewriteParams, RxFrame, Ternary, WireAction, WireEntry, WorkerState,
    MODE_ROUND_ROBIN,
};
use p4clone_pipeline::{CLASSIFY_V4, CLONE_REWRITE, WIRE};

const CLONE_MAC: [u8; 6] = [0x02, 0xc1, 0, 0, 0, 0x01];
const SE_MAC: [u8; 6] = [0x02, 0x5e, 0, 0, 0, 0x03];
const VLAN: u16 = 100;
const MAX_FRAMES: usize = 64;

fn clone_pipeline(vlan_id: u16) -> Arc<Pipeline> {
    let p = Pipeline::new();
    p.write(|b| {
        b.insert(WIRE, WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] })?;
        b.insert(WIRE, WireEntry { ingress_port: 2, action: WireAction::Forward(1), metadata: vec![] })?;
        b.insert(
            CLASSIFY_V4,
            ClassifyEntryV4 {
                key: ClassifyKeyV4 {
                    src_addr: Ternary::<u32>::any(),
                    dst_addr: Ternary::<u32>::any(),
                    protocol: Ternary::<u8>::exact(6),
                    l4_src_port: Ternary::<u16>::any(),
                    l4_dst_port: Ternary::<u16>::exact(80),
                },
                priority: 1,
                action: ClassifyAction::Hit { first_member: 1, member_count: 1, mode: MODE_ROUND_ROBIN },
                metadata: vec![],
            },
        )?;
        b.insert_clone_session(CloneSessionEntry {
            session_id: 1,
            session: CloneSession { replicas: vec![Replica { egress_port: 3, instance: 1 }], packet_length_bytes: 0 },
        })?;
        b.insert(
            CLONE_REWRITE,
            RewriteEntry {
                member: 1,
                action: RewriteAction::Set(RewriteParams {
                    dst_mac: CLONE_MAC,
                    src_mac: SE_MAC,
                    vlan_id,
                    truncate_len: 0,
                    nat_restore: false,
                }),
                metadata: vec![],
            },
        )
    })
    .expect("the fixed pipeline loads");
    Arc::new(p)
}

fn pipelines() -> &'static [Arc<Pipeline>; 2] {
    static P: OnceLock<[Arc<Pipeline>; 2]> = OnceLock::new();
    P.get_or_init(|| [clone_pipeline(0), clone_pipeline(VLAN)])
}

/// Splits `data` into frames (see the module doc).
fn frames(mut data: &[u8]) -> Vec<RxFrame<'_>> {
    let mut out = Vec::new();
    while data.len() >= 3 && out.len() < MAX_FRAMES {
        let port = u16::from(data[0] & 3);
        let len = usize::from(u16::from_le_bytes([data[1], data[2]])).min(data.len() - 3);
        out.push(RxFrame { port, data: &data[3..3 + len] });
        data = &data[3 + len..];
    }
    out
}

/// Length of an Ethernet header with at most one 802.1Q tag.
fn l2_len(f: &[u8]) -> usize {
    if f.len() >= 18 && f[12..14] == [0x81, 0x00] {
        18
    } else {
        14
    }
}

fn check(frames: &[RxFrame<'_>], out: &EmitBatch, vlan_push: bool) {
    for e in out.iter() {
        let input = frames.get(e.input as usize).expect("emit refers to a frame of the burst");
        match e.kind {
            EmitKind::Original => {
                let want = match input.port {
                    1 => 2,
                    2 => 1,
                    p => panic!("original of a frame from unwired port {p} emitted on {}", e.port),
                };
                assert_eq!(e.port, want, "original on the wrong port");
                assert_eq!(out.to_vec(e, frames), input.data, "original changed");
            }
            EmitKind::Clone(c) => {
                assert_eq!(e.port, 3, "clone on the wrong port");
                let head = out.head(&c);
                assert_eq!(head.len(), c.head_used(), "clone head out of the arena");
                let t = c.tail_offset as usize;
                assert!(t + c.tail_len() <= input.data.len(), "clone tail beyond its input frame: {c:?}");
                let bytes = out.to_vec(e, frames);
                assert_eq!(bytes.len(), c.len as usize);
                assert_eq!(c.len as usize, c.head_used() + c.tail_len());
                // A rewritten clone: the new L2 header, then the original's bytes after its own L2 header.
                if c.head_len > 0 {
                    let new_l2 = if vlan_push { 18 } else { 14 };
                    assert_eq!(c.head_len as usize, new_l2, "rewritten head length");
                    assert_eq!(&head[..6], &CLONE_MAC[..], "clone destination MAC");
                    assert_eq!(&head[6..12], &SE_MAC[..], "clone source MAC");
                    assert_eq!(t, l2_len(input.data), "clone tail does not start after the original's L2 header");
                    assert_eq!(&bytes[new_l2..], &input.data[t..], "clone payload differs from the original's");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let vlan_push = sel & 1 == 1;
    let pipeline = &pipelines()[usize::from(vlan_push)];
    let frames = frames(rest);
    let mut worker = WorkerState::new();
    let mut out = EmitBatch::new();
    pipeline.process_burst(&frames, &mut worker, &mut out);
    check(&frames, &out, vlan_push);
    // The same burst again, on the same worker and batch: the same output.
    let first: Vec<_> = out.iter().map(|e| (e.port, e.input, out.to_vec(e, &frames))).collect();
    pipeline.process_burst(&frames, &mut worker, &mut out);
    let second: Vec<_> = out.iter().map(|e| (e.port, e.input, out.to_vec(e, &frames))).collect();
    assert_eq!(first, second, "processing the same burst twice differs");
});
