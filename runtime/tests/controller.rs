//! The controller as a library (`p4clone_runtime::controller`) against an
//! in-process software target: it reconciles at start; after a power cycle
//! (state lost) the device holds exactly the intent again, with no
//! duplicates; a config edit on disk is applied; shutdown returns; a
//! shutdown during a long reconcile stops it at a Write-batch boundary.

mod common;

use std::time::{Duration, Instant};

use common::{assert_device_equals_intent, read_only, Device, Model};
use p4clone_compiler::{intent, synthetic};
use p4clone_runtime::controller::{config_file, Controller, ControllerOptions, Role};
use p4clone_runtime::reconcile;

/// Polls `f` every 50 ms for at most 20 s.
async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cycled_device_is_put_back_exactly() {
    let mut dev = Device::start().await;
    let addr = dev.address();
    let model = Model::new().profile("ids", 3).profile("tap", 1).vs("web", Some(0), 4).vs("api", Some(1), 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, model.yaml(&addr)).unwrap();

    let mut opts = ControllerOptions::new(&path);
    opts.resync = Duration::from_secs(1);
    opts.reconnect_initial = Duration::from_millis(50);
    opts.reconnect_max = Duration::from_millis(500);
    opts.fleet.timeout = Duration::from_secs(3);
    let mut ctl = Controller::new(opts, config_file::load(&path).unwrap());
    let board = ctl.board();
    assert!(!board.health().is_ok(), "healthy before anything was reconciled");
    ctl.start();
    wait_for("the first reconcile", || board.health().is_ok()).await;
    assert_device_equals_intent(&model.config(&addr), &addr).await;
    let first = board.devices()["nic0"].clone();
    assert_eq!(first.role, Role::Primary);
    assert_eq!(first.repairs, 1);

    dev.power_cycle().await;
    wait_for("the repair after the power cycle", || {
        let d = &board.devices()["nic0"];
        d.repairs == 2 && d.in_sync
    })
    .await;
    assert_device_equals_intent(&model.config(&addr), &addr).await;

    // An edit on disk (one more clone server) is applied.
    let edited = Model::new().profile("ids", 4).profile("tap", 1).vs("web", Some(0), 4).vs("api", Some(1), 2);
    let tmp = dir.path().join("c.yaml.tmp");
    std::fs::write(&tmp, edited.yaml(&addr)).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    wait_for("the edit to be applied", || {
        let d = &board.devices()["nic0"];
        d.repairs == 3 && d.in_sync
    })
    .await;
    assert_device_equals_intent(&edited.config(&addr), &addr).await;
    assert!(board.health().is_ok());

    tokio::time::timeout(Duration::from_secs(10), ctl.shutdown()).await.expect("shutdown returns");
}

async fn entity_count(addr: &str) -> usize {
    let mut c = read_only(addr).await;
    reconcile::read_state(&mut c, p4clone_proto::program::schema().unwrap()).await.unwrap().len()
}

/// A cold push of several thousand entities, one update per Write RPC, is
/// stopped by the shutdown after the batch in flight: part of it is on the
/// device, shutdown returns at once, and a controller started next completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_a_reconcile_at_a_write_batch_boundary() {
    let dev = Device::start().await;
    let addr = dev.address();
    let mut cfg = synthetic::fleet(600, 8, 100, 4, 1);
    cfg.devices[0].address = addr.clone();
    let name = cfg.devices[0].name.clone();
    let schema = p4clone_proto::program::schema().unwrap();
    let compiled = intent::compile(&cfg, &Default::default()).unwrap();
    let total = reconcile::desired_entities(compiled.device(&name).unwrap(), schema).unwrap().len();
    assert!(total > 5000, "{total} entities");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.json");
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();

    let mut opts = ControllerOptions::new(&path);
    opts.resync = Duration::from_secs(3600);
    opts.fleet.batch_size = 1;
    opts.fleet.in_flight = 1;
    let mut ctl = Controller::new(opts, config_file::load(&path).unwrap());
    let board = ctl.board();
    ctl.start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dev.target.has_pipeline() || entity_count(&addr).await < 50 {
        assert!(Instant::now() < deadline, "the reconcile never started writing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), ctl.shutdown()).await.expect("shutdown returns");
    let stopped_in = t.elapsed();
    let written = entity_count(&addr).await;
    assert!(written < total, "the whole reconcile ran ({written} of {total}) before the shutdown returned");
    assert!(stopped_in < Duration::from_secs(3), "shutdown took {stopped_in:?}");
    let d = &board.devices()[&name];
    assert!(!d.in_sync && d.repairs == 0, "{d:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(entity_count(&addr).await, written, "written after the shutdown returned");

    // The next controller completes it.
    let mut ctl = Controller::new(ControllerOptions::new(&path), config_file::load(&path).unwrap());
    let board = ctl.board();
    ctl.start();
    wait_for("the next controller's reconcile", || board.health().is_ok()).await;
    assert_eq!(entity_count(&addr).await, total);
    tokio::time::timeout(Duration::from_secs(10), ctl.shutdown()).await.expect("shutdown returns");
}
