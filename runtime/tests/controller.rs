//! The controller as a library (`p4clone_runtime::controller`) against an
//! in-process software target: it reconciles at start; after a power cycle
//! (state lost) the device holds exactly the intent again, with no
//! duplicates; a config edit on disk is applied; shutdown returns.

mod common;

use std::time::{Duration, Instant};

use common::{assert_device_equals_intent, Device, Model};
use p4clone_runtime::controller::{config_file, Controller, ControllerOptions, Role};

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
