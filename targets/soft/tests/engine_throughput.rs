//! Replay throughput of the engine with pcap ports (ignored by default).
//!
//! `cargo test --release -p p4clone-soft --test engine_throughput -- --ignored --nocapture`
//! (`P4CLONE_FRAMES` sets the frame count, default 1,000,000).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use p4clone_pipeline::{
    ClassifyAction, ClassifyEntryV4, ClassifyKeyV4, CloneSession, CloneSessionEntry, Pipeline, Replica, RewriteAction,
    RewriteEntry, RewriteParams, Ternary, WireAction, WireEntry, MODE_ROUND_ROBIN,
};
use p4clone_pipeline::{CLASSIFY_V4, CLONE_REWRITE, WIRE};
use p4clone_soft::engine::{pcap_ports, Engine};
use p4clone_soft::ports::pcap::PcapWriter;

fn frame(src: u32, dport: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    f.extend_from_slice(&[0x45, 0, 0, 46, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.to_be_bytes());
    f.extend_from_slice(&[10, 0, 0, 2]);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.resize(64, 0xee);
    f
}

#[test]
#[ignore = "throughput measurement; run in release"]
fn replay_throughput() {
    let total: usize = std::env::var("P4CLONE_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("p4clone-engine-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut inputs = BTreeMap::new();
    let t0 = 1_700_000_000_000_000_000u64;
    for port in [1u16, 2] {
        let path = dir.join(format!("in-{port}.pcap"));
        let mut w = PcapWriter::create(&path).unwrap();
        for i in 0..total / 2 {
            // 10% matching (dport 80), the rest dport 443.
            let dport = if i % 10 == 0 { 80 } else { 443 };
            w.write(t0 + (i as u64) * 2_000 + u64::from(port), &frame(0x0a00_0001 + i as u32 % 1000, dport)).unwrap();
        }
        w.flush().unwrap();
        inputs.insert(port, path);
    }
    let p = Pipeline::new();
    p.write(|b| {
        b.insert(WIRE, WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] })?;
        b.insert(WIRE, WireEntry { ingress_port: 2, action: WireAction::Forward(1), metadata: vec![] })?;
        b.insert(
            CLASSIFY_V4,
            ClassifyEntryV4 {
                key: ClassifyKeyV4 {
                    src_addr: Ternary::<u32>::any(),
                    dst_addr: Ternary::<u32>::exact(0x0a00_0002),
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
                    dst_mac: [2, 0xc1, 0, 0, 0, 1],
                    src_mac: [2, 0x5e, 0, 0, 0, 3],
                    vlan_id: 0,
                    truncate_len: 0,
                    nat_restore: false,
                }),
                metadata: vec![],
            },
        )
    })
    .unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut engine = Engine::new(Arc::new(p), pcap_ports(&inputs, &out).unwrap()).with_output_dir(&out);
    let start = Instant::now();
    let report = engine.run_until_drained().unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!("{report}");
    println!(
        "replay of {total} 64-byte frames (10% cloned), pcap in and out: {:.3} s, {:.0} frames/s in",
        secs,
        total as f64 / secs
    );
    assert_eq!(report.frames_in(), total as u64);
    assert_eq!(report.port(3).unwrap().io.tx_clones, (total / 10) as u64);
    let _ = std::fs::remove_dir_all(&dir);
}
