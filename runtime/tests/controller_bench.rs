//! Benchmarks (not timed tests) of the controller against an in-process
//! software target holding the runtime bench's ~100,000-entry config
//! (`synthetic::fleet(6000, 8, 1000, 4, 1)`: 100,002 table entries + 4,000
//! clone sessions), over real gRPC on loopback, with the controller's default
//! reconnect backoff (200 ms first delay, jittered):
//!
//! - `device_restart_to_in_sync`: the soft target is replaced by an empty one
//!   on the same address (a power cycle) under a running controller; time
//!   from the empty target serving to the controller reporting the device in
//!   sync again (reconnect, pipeline, read, compile, diff, 104,002 writes), and
//!   the device read back (same entity count as after the first push).
//! - `failover_to_in_sync`: two controllers (election ids 1 and 2) on the
//!   device; the primary (id 2) runs on its own tokio runtime, which is
//!   dropped at once (its tasks and sockets gone, as with SIGKILL); time from
//!   the kill to the backup (id 1) being primary, and to it having reconciled
//!   (a read of the 104,002 entities and a diff; nothing to write). Then a new
//!   id-2 controller is started (it takes over) for the next round.
//!
//! `cargo test --release -p p4clone-runtime --test controller_bench -- --ignored --nocapture --test-threads 1`
//! (`P4CLONE_BENCH_ROUNDS=N` rounds each, default 3).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{read_only, Device};
use p4clone_compiler::synthetic;
use p4clone_runtime::controller::{config_file, Controller, ControllerOptions, DeviceStatus, Role, StatusBoard};
use p4clone_runtime::reconcile;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEV: &str = "dev000";

fn rounds() -> usize {
    std::env::var("P4CLONE_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3)
}

/// Polls `f` every 500 µs; the time it first held.
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

fn status(board: &StatusBoard) -> DeviceStatus {
    board.devices()[DEV].clone()
}

/// The fleet config with dev000 at `addr`, written to `dir`.
fn write_config(dir: &Path, addr: &str) -> std::path::PathBuf {
    let mut cfg = synthetic::fleet(6000, 8, 1000, 4, 1);
    cfg.devices[0].address = addr.to_string();
    let path = dir.join("fleet.json");
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    path
}

fn controller(path: &Path, election_id: u128) -> Controller {
    let mut opts = ControllerOptions::new(path);
    opts.resync = Duration::from_secs(3600);
    opts.fleet.election_id = election_id;
    Controller::new(opts, config_file::load(path).unwrap())
}

/// Entities (table entries + clone sessions) on the device.
async fn entity_count(addr: &str) -> usize {
    let mut c = read_only(addr).await;
    let schema = p4clone_proto::program::schema().unwrap();
    reconcile::read_state(&mut c, schema).await.unwrap().len()
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
async fn device_restart_to_in_sync() {
    let mut dev = Device::start().await;
    let addr = dev.address();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &addr);
    let mut ctl = controller(&path, 1);
    let board = ctl.board();
    ctl.start();
    let t = Instant::now();
    wait("the cold push", Duration::from_secs(120), || board.health().is_ok()).await;
    println!("cold push of the 100k-entry device: {}", secs(t.elapsed()));
    let want = entity_count(&addr).await;
    println!("| round | stop + serve empty target | empty target serving → primary again | → in sync | writes |");
    println!("|---:|---:|---:|---:|---:|");
    for round in 1..=rounds() {
        let before = status(&board);
        let t0 = Instant::now();
        dev.power_cycle().await;
        let served = Instant::now();
        // The reconnect backoff keeps it disconnected for at least ~100 ms.
        wait("disconnected", Duration::from_secs(60), || status(&board).role == Role::Disconnected).await;
        let primary = wait("primary again", Duration::from_secs(60), || status(&board).role == Role::Primary).await;
        let synced = wait("in sync again", Duration::from_secs(120), || {
            let s = status(&board);
            s.reconciles > before.reconciles && s.in_sync
        })
        .await;
        let after = status(&board);
        assert_eq!(after.repairs, before.repairs + 1, "one repair");
        assert_eq!(entity_count(&addr).await, want, "entities on the device after round {round}");
        println!(
            "| {round} | {} | {} | {} | {} |",
            secs(served - t0),
            secs(primary.saturating_duration_since(served)),
            secs(synced - served),
            after.writes - before.writes
        );
    }
    tokio::time::timeout(Duration::from_secs(30), ctl.shutdown()).await.unwrap();
}

/// A controller on its own runtime, so that it can be killed at once.
struct Killable {
    rt: tokio::runtime::Runtime,
    board: Arc<StatusBoard>,
    _ctl: Controller,
}

impl Killable {
    fn start(path: &Path, election_id: u128) -> Killable {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let mut ctl = controller(path, election_id);
        let board = ctl.board();
        {
            let _g = rt.enter();
            ctl.start();
        }
        Killable { rt, board, _ctl: ctl }
    }

    /// Drops every task and socket of the controller without closing
    /// anything in order (as SIGKILL).
    fn kill(self) {
        self.rt.shutdown_background();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
async fn failover_to_in_sync() {
    let dev = Device::start().await;
    let addr = dev.address();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &addr);
    let mut primary = Killable::start(&path, 2);
    let t = Instant::now();
    wait("the cold push", Duration::from_secs(120), || status(&primary.board).in_sync).await;
    println!("cold push of the 100k-entry device (id 2): {}", secs(t.elapsed()));
    let want = entity_count(&addr).await;
    let mut backup = controller(&path, 1);
    let board = backup.board();
    backup.start();
    wait("id 1 backup", Duration::from_secs(30), || status(&board).role == Role::Backup).await;
    println!("| round | kill → id 1 primary | kill → id 1 in sync | writes by id 1 |");
    println!("|---:|---:|---:|---:|");
    for round in 1..=rounds() {
        let before = status(&board);
        let t0 = Instant::now();
        primary.kill();
        let promoted = wait("id 1 primary", Duration::from_secs(60), || status(&board).role == Role::Primary).await;
        let synced = wait("id 1 in sync", Duration::from_secs(120), || {
            let s = status(&board);
            s.reconciles > before.reconciles && s.in_sync
        })
        .await;
        let after = status(&board);
        assert_eq!(entity_count(&addr).await, want, "entities on the device after round {round}");
        println!(
            "| {round} | {:.1} ms | {} | {} |",
            (promoted - t0).as_secs_f64() * 1e3,
            secs(synced - t0),
            after.writes - before.writes
        );
        // A new id-2 controller takes over for the next round.
        primary = Killable::start(&path, 2);
        wait("id 2 primary and in sync", Duration::from_secs(120), || status(&primary.board).in_sync).await;
        wait("id 1 backup again", Duration::from_secs(30), || status(&board).role == Role::Backup).await;
    }
    primary.kill();
    tokio::time::timeout(Duration::from_secs(30), backup.shutdown()).await.unwrap();
}
