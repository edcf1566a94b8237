//! Benchmark (not a timed test) of live NAT bindings through the controller,
//! end to end: `BindingsClient` → gRPC `Apply` on loopback → the controller's
//! table → batched P4Runtime Writes → an in-process software target holding
//! the runtime bench's ~100,000-entry config (`synthetic::fleet(6000, 8, 1000,
//! 4, 1)`). Measures sustained bindings/s for adds and for removes (until the
//! device has acknowledged every Write, then read back and checked), and the
//! delay from an `Add` to its entry being readable on the device (p50/p99).
//!
//! `cargo test --release -p p4clone-runtime --test bindings_bench -- --ignored --nocapture`
//! (`P4CLONE_BENCH_BINDINGS=N` bindings per round, default 60,000; the IPv4
//! NAT tables hold 65,536).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{read_only, Device};
use p4clone_compiler::synthetic;
use p4clone_proto::p4::v1::{entity, Entity, TableEntry};
use p4clone_proto::program::tables;
use p4clone_runtime::controller::bindings::{self, entries, Binding, BindingOp, BindingsClient};
use p4clone_runtime::controller::{config_file, Controller, ControllerOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// se0's backend address in the synthetic fleet (device dev000).
const SE: &str = "10.255.0.1";

fn binding(i: usize, round: usize) -> Binding {
    bindings::binding::parse_binding(
        "",
        &format!("{SE}:{}", i + 1),
        &format!("198.51.{}.{}:{}", 100 + round, i % 250 + 1, 1024 + i % 60_000),
        "tcp",
    )
    .unwrap()
}

async fn wait(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Instant {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// The bindings in `nat_src_v4` of the device.
async fn on_device(addr: &str) -> BTreeSet<Binding> {
    let mut c = read_only(addr).await;
    let schema = p4clone_proto::program::schema().unwrap();
    let wildcard = Entity {
        entity: Some(entity::Entity::TableEntry(TableEntry { table_id: tables::NAT_SRC_V4.id, ..Default::default() })),
    };
    let got = c.read(vec![wildcard]).await.unwrap();
    got.iter()
        .filter_map(|e| match &e.entity {
            Some(entity::Entity::TableEntry(t)) => entries::decode(t, schema),
            _ => None,
        })
        .collect()
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
async fn bindings_through_apply_end_to_end() {
    let n: usize = std::env::var("P4CLONE_BENCH_BINDINGS").ok().and_then(|s| s.parse().ok()).unwrap_or(60_000);
    let dev = Device::start().await;
    let addr = dev.address();
    let mut cfg = synthetic::fleet(6000, 8, 1000, 4, 1);
    cfg.devices[0].address = addr.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.json");
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let mut opts = ControllerOptions::new(&path);
    opts.resync = Duration::from_secs(3600);
    let mut ctl = Controller::new(opts, config_file::load(&path).unwrap());
    let board = ctl.board();
    let server = bindings::serve("127.0.0.1:0", ctl.bindings()).await.unwrap();
    ctl.start();
    let t = Instant::now();
    wait("the cold push", Duration::from_secs(120), || board.health().is_ok()).await;
    println!("cold push of the 100k-entry device: {:.2} s", t.elapsed().as_secs_f64());
    let mut client = BindingsClient::connect(&server.local_addr().to_string()).await.unwrap();
    let writes = || board.devices()["dev000"].writes;

    // Sustained: n adds in one Apply (batches of 1,000), until every Write is acknowledged.
    let adds: Vec<BindingOp> = (0..n).map(|i| BindingOp::Add(binding(i, 0))).collect();
    let before = writes();
    let t0 = Instant::now();
    let r = client.apply(&adds, 1000).await.unwrap();
    let accepted = t0.elapsed();
    assert_eq!(r.added, n as u64);
    let done = wait("the adds on the device", Duration::from_secs(120), || writes() >= before + 2 * n as u64).await;
    let add_s = done.duration_since(t0).as_secs_f64();
    let want: BTreeSet<Binding> = (0..n).map(|i| binding(i, 0)).collect();
    assert_eq!(on_device(&addr).await, want, "read back after the adds");

    let removes: Vec<BindingOp> = (0..n).map(|i| BindingOp::Remove(binding(i, 0).key)).collect();
    let before = writes();
    let t0 = Instant::now();
    client.apply(&removes, 1000).await.unwrap();
    let done = wait("the removes on the device", Duration::from_secs(120), || writes() >= before + 2 * n as u64).await;
    let remove_s = done.duration_since(t0).as_secs_f64();
    assert!(on_device(&addr).await.is_empty(), "read back after the removes");

    // Add → readable on the device, one at a time, polling a Read of the entry.
    let schema = p4clone_proto::program::schema().unwrap();
    let mut reader = read_only(&addr).await;
    let samples = 500;
    let mut delays = Vec::with_capacity(samples);
    for i in 0..samples {
        let b = binding(i, 1);
        let entity = entries::lower(vec![b.nat_entry()], schema).unwrap().remove(0);
        let t0 = Instant::now();
        client.add(&b.key.se.to_string(), &b.client.to_string(), "tcp").await.unwrap();
        loop {
            if !reader.read(vec![entity.clone()]).await.unwrap().is_empty() {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "binding {i} never reached the device");
        }
        delays.push(t0.elapsed());
    }
    delays.sort_unstable();
    println!(
        "| bindings | adds: accepted in | adds: on device, bindings/s | removes: bindings/s | Add → on device p50 | p99 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {n} | {:.2} s | {:.0} | {:.0} | {:.2} ms | {:.2} ms |",
        accepted.as_secs_f64(),
        n as f64 / add_s,
        n as f64 / remove_s,
        pct(&delays, 0.5),
        pct(&delays, 0.99)
    );
    server.shutdown().await;
    tokio::time::timeout(Duration::from_secs(30), ctl.shutdown()).await.unwrap();
}
