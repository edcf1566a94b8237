//! Memory and table-update throughput for the 10,000-VS table, plus a plain-loop
//! cross-check of the per-frame cost. Prints a report (no criterion).
//!
//! `cargo bench -p p4clone-pipeline --bench tables`

mod common;

use common::*;
use p4clone_pipeline::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// 100,000 more classify entries (a second SE address range), as inserts.
fn extra_ops() -> (Vec<TableOp>, Vec<TableOp>) {
    let mut ins = Vec::new();
    let mut del = Vec::new();
    for i in 0..50_000u32 {
        let se = 0x0B00_0001 + (i % 4);
        let srv = 0x0C00_0000 + i;
        for (s, d, sp, dp) in [(se, srv, None, Some(9000)), (srv, se, Some(9000), None)] {
            let key = ClassifyKeyV4 {
                src_addr: Ternary::<u32>::exact(s),
                dst_addr: Ternary::<u32>::exact(d),
                protocol: Ternary::<u8>::exact(6),
                l4_src_port: sp.map_or(Ternary::<u16>::any(), Ternary::<u16>::exact),
                l4_dst_port: dp.map_or(Ternary::<u16>::any(), Ternary::<u16>::exact),
            };
            ins.push(TableOp::insert(
                CLASSIFY_V4,
                ClassifyEntry {
                    key,
                    priority: PRIORITY,
                    action: ClassifyAction::Hit { first_member: 1, member_count: 4, mode: 0 },
                    metadata: b"0123456789abcdef".to_vec(),
                },
            ));
            del.push(TableOp::delete(CLASSIFY_V4, (key, PRIORITY)));
        }
    }
    (ins, del)
}

/// Loads `ops` in batches of 1000: (entries/s by wall clock, entries/s by the writer
/// thread's CPU time).
fn timed_load(p: &Pipeline, ops: Vec<TableOp>) -> (f64, f64) {
    let n = ops.len() as f64;
    let t = Instant::now();
    let c = thread_cpu_ns();
    load(p, ops);
    let cpu = (thread_cpu_ns() - c) as f64 / 1e9;
    (n / t.elapsed().as_secs_f64(), n / cpu)
}

fn rate((wall, cpu): (f64, f64)) -> String {
    format!("{:.0} entries/s (writer CPU time: {:.0} entries/s)", wall, cpu)
}

/// ns/frame over `dur`, measured in 100 ms windows of thread CPU time: (best
/// window, median window).
fn per_frame(p: &Pipeline, pct: u64, dur: Duration) -> (f64, f64) {
    let frames = frames(8192, pct, 0xBEEF + pct);
    let rx = rx(&frames);
    let mut worker = WorkerState::new();
    let mut out = EmitBatch::with_capacity(BURST);
    // Warm up.
    for c in rx.chunks(BURST) {
        p.process_burst(c, &mut worker, &mut out);
    }
    let mut windows = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < dur || windows.is_empty() {
        let start = thread_cpu_ns();
        let mut n = 0u64;
        while thread_cpu_ns() - start < 100_000_000 {
            for _ in 0..4 {
                for c in rx.chunks(BURST) {
                    p.process_burst(c, &mut worker, &mut out);
                    black_box(out.len());
                }
            }
            n += 4 * rx.len() as u64;
        }
        windows.push((thread_cpu_ns() - start) as f64 / n as f64);
    }
    windows.sort_by(f64::total_cmp);
    (windows[0], windows[windows.len() / 2])
}

fn main() {
    // Profiling aid: P4CLONE_PROFILE_PCT=10 runs only the per-frame loop (10 s).
    if std::env::var("P4CLONE_PROFILE_UPDATES").is_ok() {
        let p = loaded();
        let (ins, del) = extra_ops();
        for _ in 0..5 {
            println!("insert: {}", rate(timed_load(&p, ins.clone())));
            println!("delete: {}", rate(timed_load(&p, del.clone())));
        }
        return;
    }
    if let Ok(pct) = std::env::var("P4CLONE_PROFILE_PCT") {
        let p = loaded();
        let (best, median) = per_frame(&p, pct.parse().unwrap_or(10), Duration::from_secs(5));
        println!("{pct}% matching: best {best:.1} ns/frame, median {median:.1}");
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` runs us too: keep it quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    println!("# p4clone-pipeline tables bench{}", if quick { " (quick)" } else { "" });

    // ---- memory ----
    let rss0 = rss_kib();
    let p = Pipeline::new();
    let rss1 = rss_kib();
    load(&p, base_ops());
    let rss2 = rss_kib();
    let ops = classify_ops();
    let n = ops.len();
    let load_rate = timed_load(&p, ops);
    let rss3 = rss_kib();
    let sizes = p.table_sizes();
    println!("entries: classify_v4 {} sessions {} rewrite {}", sizes.classify_v4, sizes.clone_sessions, sizes.rewrite);
    println!("RSS before Pipeline::new      {:8.1} MiB", mib(rss0));
    println!("RSS empty pipeline            {:8.1} MiB (+{:.1})", mib(rss1), mib(rss1 - rss0));
    println!("RSS + sessions/rewrite/wire   {:8.1} MiB (+{:.1})", mib(rss2), mib(rss2 - rss1));
    println!("RSS + {n} classify entries {:8.1} MiB (+{:.1})", mib(rss3), mib(rss3 - rss2));
    // A worker touches its counter shard.
    per_frame(&p, 100, Duration::from_millis(if quick { 50 } else { 1000 }));
    let rss4 = rss_kib();
    println!("RSS after 1 worker ran        {:8.1} MiB (+{:.1})", mib(rss4), mib(rss4 - rss3));
    println!("total for the loaded pipeline {:8.1} MiB", mib(rss4 - rss0));

    // ---- update throughput ----
    println!("initial load: {n} classify entries, batches of 1000: {}", rate(load_rate));
    let (ins, del) = extra_ops();
    let (ins, del) = if quick { (ins[..2000].to_vec(), del[..2000].to_vec()) } else { (ins, del) };
    let k = ins.len();
    let r_ins = timed_load(&p, ins.clone());
    let r_del = timed_load(&p, del.clone());
    println!("loaded table, idle: insert {k}: {}; delete {k}: {}", rate(r_ins), rate(r_del));

    // Same while a worker processes bursts of 10%-matching traffic on the other core.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let p = Arc::new(p);
    let worker = {
        let (p, stop, done) = (p.clone(), stop.clone(), done.clone());
        std::thread::spawn(move || {
            let frames = frames(8192, 10, 99);
            let rx = rx(&frames);
            let mut worker = WorkerState::new();
            let mut out = EmitBatch::with_capacity(BURST);
            while !stop.load(Ordering::Relaxed) {
                for c in rx.chunks(BURST) {
                    p.process_burst(c, &mut worker, &mut out);
                }
                done.fetch_add(rx.len() as u64, Ordering::Relaxed);
            }
        })
    };
    let t = Instant::now();
    let r_ins = timed_load(&p, ins);
    let r_del = timed_load(&p, del);
    let el = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    let fps = done.load(Ordering::Relaxed) as f64 / el;
    println!(
        "loaded table, 1 busy worker: insert {k}: {}; delete {k}: {} (worker {:.1} Mpps meanwhile)",
        rate(r_ins),
        rate(r_del),
        fps / 1e6
    );

    // ---- per-frame cross-check (criterion has the detailed figures) ----
    let dur = Duration::from_millis(if quick { 100 } else { 5000 });
    for pct in [0u64, 10, 100] {
        let (best, median) = per_frame(&p, pct, dur);
        println!(
            "plain loop, {pct:3}% matching: best {best:6.1} ns/frame = {:5.1} Mpps (median of 100 ms windows {median:6.1} ns = {:5.1} Mpps)",
            1e3 / best,
            1e3 / median
        );
    }
}
