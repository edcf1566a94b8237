//! Replay throughput of the engine with pcap ports (ignored by default).
//!
//! `cargo test --release -p p4clone-soft --test engine_throughput -- --ignored --nocapture`
//! (`P4CLONE_FRAMES` sets the frame count, default 1,000,000).

use std::collections::BTreeMap;
use std::time::Instant;

use p4clone_pipeline::Ternary;
use p4clone_soft::engine::{pcap_ports, Engine};
use p4clone_soft::ports::pcap::PcapWriter;

mod common;

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
    let tmp = common::tempdir("engine-throughput");
    let dir = tmp.path();
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
    let p = common::clone_pipeline(Ternary::<u32>::exact(0x0a00_0002), 0);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut engine = Engine::new(p, pcap_ports(&inputs, &out).unwrap()).with_output_dir(&out);
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
}
