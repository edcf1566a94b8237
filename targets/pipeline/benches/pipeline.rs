//! Per-frame cost of the pipeline with the 10,000-VS table (160,000 classify
//! entries) loaded: one core, bursts of 32 64-byte TCP frames, 0%, 10% and 100% of
//! frames matching a rule (matching frames are cloned once, to a VLAN-pushing
//! rewrite).
//!
//! `cargo bench -p p4clone-pipeline --bench pipeline`. Criterion reports the time per
//! burst of 32 frames and elements/s (= frames/s), measured in thread CPU time
//! (`ThreadCpuTime`), so that other processes on a shared machine do not inflate them.

mod common;

use common::*;
use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use p4clone_pipeline::*;

const POOL: usize = 8192;

fn bench<M: Measurement>(c: &mut Criterion<M>) {
    let p = loaded();
    assert_eq!(p.table_sizes().classify_v4, 160_000);
    let mut g = c.benchmark_group("process_burst");
    g.throughput(Throughput::Elements(BURST as u64));
    for pct in [0u64, 10, 100] {
        let frames = frames(POOL, pct, 0xC0FFEE + pct);
        let rx = rx(&frames);
        let mut worker = WorkerState::new();
        let mut out = EmitBatch::with_capacity(BURST);
        let mut at = 0usize;
        g.bench_function(format!("{pct}pct_matching"), |b| {
            b.iter(|| {
                p.process_burst(&rx[at..at + BURST], &mut worker, &mut out);
                at = (at + BURST) % POOL;
                out.len()
            })
        });
    }
    // Plus materialising every emitted frame into one buffer, as a pcap writer
    // would (the DPDK zero-copy path does not).
    let frames = frames(POOL, 100, 7);
    let rx = rx(&frames);
    let mut worker = WorkerState::new();
    let mut out = EmitBatch::with_capacity(BURST);
    let mut buf = Vec::with_capacity(BURST * 2 * 128);
    let mut at = 0usize;
    g.bench_function("100pct_matching+materialize", |b| {
        b.iter(|| {
            let burst = &rx[at..at + BURST];
            p.process_burst(burst, &mut worker, &mut out);
            buf.clear();
            for e in out.iter() {
                out.materialize(e, burst, &mut buf);
            }
            at = (at + BURST) % POOL;
            buf.len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .sample_size(30)
        .measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
