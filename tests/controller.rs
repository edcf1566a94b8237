//! `p4clone controller` against `p4clone soft` child processes over gRPC on
//! loopback: a device restarted empty is put back; drift made by another
//! client (a delete, a modify) is repaired at the next resync; a broken
//! config edit is not applied and `/healthz` says why, its fix is; an
//! unreachable device does not stop the other one, and `/healthz` names it;
//! of two controllers only the primary writes, and the backup takes over
//! when the primary is killed. Every wait is bounded.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::child::{self, collect_stderr, free_port, SoftAt};
use common::{p4clone, root};

/// How long any condition may take to become true.
const WAIT: Duration = Duration::from_secs(20);

/// Polls `f` until it is true; panics with `what` after [`WAIT`].
fn wait_for(what: &str, f: impl FnMut() -> bool) {
    child::wait_for(what, WAIT, f)
}

/// Waits for the stderr line containing `marker` and returns it.
fn line_with(rx: &mpsc::Receiver<String>, marker: &str, seen: &Arc<Mutex<Vec<String>>>) -> String {
    child::line_with(rx, marker, seen, WAIT)
}

/// `p4clone soft --p4rt ADDR`, killed on drop.
struct Soft;

impl Soft {
    fn start(addr: &str) -> SoftAt {
        SoftAt::start(addr, &[], WAIT)
    }
}

/// `p4clone controller CONFIG --listen 127.0.0.1:0 ...`; SIGTERM on drop.
struct Controller {
    child: Child,
    /// `host:port` of /metrics and /healthz.
    http: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Controller {
    fn start(config: &Path, extra: &[&str]) -> Controller {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p4clone"))
            .current_dir(root())
            .arg("controller")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn p4clone controller");
        let (log, rx) = collect_stderr(&mut child);
        let l = line_with(&rx, "controller started", &log);
        let http = l.split("http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Controller { child, http, log }
    }

    /// How many log lines contain `s`.
    fn count(&self, s: &str) -> usize {
        self.count_all(&[s])
    }

    /// How many log lines contain every one of `parts`.
    fn count_all(&self, parts: &[&str]) -> usize {
        self.log.lock().unwrap().iter().filter(|l| parts.iter().all(|p| l.contains(p))).count()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// `(status, body)` of `GET path`.
    fn get(&self, path: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(&self.http).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }

    /// `/healthz` as `(status, JSON)`.
    fn health(&self) -> (u16, serde_json::Value) {
        let (code, body) = self.get("/healthz");
        (code, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")))
    }

    /// SIGTERM, then the exit code (bounded wait).
    fn stop(mut self) -> Option<i32> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("controller did not stop on SIGTERM:\n{}", self.log());
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `examples/NAME` with each `(from, to)` replaced, written (atomically) to `path`.
fn write_config(path: &Path, example: &str, edits: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(root().join("examples").join(example)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{example} has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Whether `plan` finds `device` up to date with `config` (read-only).
fn up_to_date(config: &Path, device: &str) -> bool {
    let o = p4clone(&["plan", &config.display().to_string(), "--device", device]);
    o.status.success() && String::from_utf8_lossy(&o.stdout).contains("up to date, nothing to write")
}

fn config_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("controller.yaml")
}

#[test]
fn device_restarted_empty_is_back_in_sync() {
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    write_config(&cfg, "basic.yaml", &[("127.0.0.1:9559", &addr)]);
    let soft = Soft::start(&addr);
    let ctl = Controller::start(&cfg, &["--resync", "30"]);
    wait_for("the first reconcile", || up_to_date(&cfg, "nic0"));
    assert_eq!(ctl.health().0, 200, "{}", ctl.log());
    drop(soft);
    wait_for("the controller to see the device gone", || ctl.count("disconnected") >= 1);
    let _soft = Soft::start(&addr);
    let restarted = Instant::now();
    wait_for("the restarted device to be in sync", || ctl.count("repaired") >= 2 && up_to_date(&cfg, "nic0"));
    assert!(restarted.elapsed() < Duration::from_secs(10), "took {:?}", restarted.elapsed());
    wait_for("/healthz 200", || ctl.health().0 == 200);
    // The resync after the repair finds nothing to write: no duplicates, no churn.
    assert_eq!(ctl.count("pipeline installed"), 2, "{}", ctl.log());
    assert_eq!(ctl.stop(), Some(0));
}

/// What another client does to one table entry.
#[derive(Clone, Copy)]
enum Tamper {
    /// Deletes it.
    Delete,
    /// Changes the last byte of its action's first parameter.
    Modify,
}

/// Deletes or modifies one table entry with a Write of our own, carrying the
/// controller's election id (the soft target checks the id, not the stream).
fn tamper_one_entry(addr: &str, election_id: u64, how: Tamper) -> String {
    use p4clone_proto::p4::v1::{entity, p4_runtime_client::P4RuntimeClient, table_action, update, Entity};
    use p4clone_proto::p4::v1::{ReadRequest, TableEntry, Uint128, Update, WriteRequest};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let ch = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        let mut c = P4RuntimeClient::new(ch);
        let wildcard = Entity { entity: Some(entity::Entity::TableEntry(TableEntry::default())) };
        let mut stream = c
            .read(ReadRequest { device_id: 1, entities: vec![wildcard], ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        let has_params = |t: &TableEntry| {
            matches!(t.action.as_ref().and_then(|a| a.r#type.as_ref()),
                Some(table_action::Type::Action(a)) if !a.params.is_empty())
        };
        let mut found = None;
        while let Some(r) = stream.message().await.unwrap() {
            found = r.entities.into_iter().find(
                |e| matches!(&e.entity, Some(entity::Entity::TableEntry(t)) if !t.is_default_action && has_params(t)),
            );
            if found.is_some() {
                break;
            }
        }
        let mut e = found.expect("the device has table entries with action parameters");
        let text = format!("{e:?}");
        let kind = match how {
            Tamper::Delete => update::Type::Delete,
            Tamper::Modify => {
                if let Some(entity::Entity::TableEntry(t)) = e.entity.as_mut() {
                    if let Some(table_action::Type::Action(a)) = t.action.as_mut().and_then(|a| a.r#type.as_mut()) {
                        let v = a.params[0].value.to_vec();
                        let mut v = if v.is_empty() { vec![0] } else { v };
                        let last = v.len() - 1;
                        v[last] ^= 1;
                        a.params[0].value = v.into();
                    }
                }
                update::Type::Modify
            }
        };
        let req = WriteRequest {
            device_id: 1,
            election_id: Some(Uint128 { high: 0, low: election_id }),
            updates: vec![Update { r#type: kind as i32, entity: Some(e) }],
            ..Default::default()
        };
        c.write(req).await.expect("write accepted");
        text
    })
}

#[test]
fn drift_is_repaired_at_the_next_resync() {
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    write_config(&cfg, "basic.yaml", &[("127.0.0.1:9559", &addr)]);
    let _soft = Soft::start(&addr);
    let ctl = Controller::start(&cfg, &["--resync", "1", "--election-id", "5"]);
    wait_for("the first reconcile", || ctl.count("repaired") == 1 && up_to_date(&cfg, "nic0"));
    let deleted = tamper_one_entry(&addr, 5, Tamper::Delete);
    wait_for("the drift to be repaired", || ctl.count("repaired: 1 inserted") == 1);
    assert!(up_to_date(&cfg, "nic0"), "{deleted}\n{}", ctl.log());
    let modified = tamper_one_entry(&addr, 5, Tamper::Modify);
    wait_for("the modification to be repaired", || ctl.count("repaired: 1 modified") == 1);
    assert!(up_to_date(&cfg, "nic0"), "{modified}\n{}", ctl.log());
    assert_eq!(ctl.count("disconnected"), 0, "{}", ctl.log());
    let (_, metrics) = ctl.get("/metrics");
    assert!(metrics.contains("p4clone_controller_repairs_total{device=\"nic0\""), "{metrics}");
    assert!(metrics.contains("p4clone_clone_packets_total{"), "{metrics}");
    assert_eq!(ctl.stop(), Some(0));
}

#[test]
fn broken_config_edit_is_not_applied_and_its_fix_is() {
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    let good = [("127.0.0.1:9559", addr.as_str())];
    write_config(&cfg, "basic.yaml", &good);
    let _soft = Soft::start(&addr);
    let ctl = Controller::start(&cfg, &["--resync", "30"]);
    wait_for("the first reconcile", || up_to_date(&cfg, "nic0"));
    // Broken: a second wire on a port already wired is refused by validation.
    let before = std::fs::read_to_string(&cfg).unwrap();
    write_config(&cfg, "basic.yaml", &[good[0], ("      - [1, 2]", "      - [1, 2]\n      - [2, 1]")]);
    let o = p4clone(&["check", &cfg.display().to_string()]);
    assert_eq!(o.status.code(), Some(2), "the edit should be invalid");
    wait_for("/healthz 503 naming the config error", || {
        let (code, v) = ctl.health();
        code == 503 && v["config_error"].as_str().is_some_and(|e| e.contains("line "))
    });
    let (_, v) = ctl.health();
    assert!(v["config_error"].as_str().unwrap().contains("devices[0]"), "{v}");
    assert_eq!(ctl.count("config refused"), 1, "{}", ctl.log());
    // Nothing was written: the device still matches the previous config.
    let prev = dir.path().join("previous.yaml");
    std::fs::write(&prev, before).unwrap();
    assert!(up_to_date(&prev, "nic0"), "{}", ctl.log());
    // Fixed, with a change: applied.
    write_config(&cfg, "basic.yaml", &[good[0], ("      - [1, 2]", "      - [1, 2]\n      - [5, 6]")]);
    wait_for("the fixed config to be applied", || up_to_date(&cfg, "nic0"));
    wait_for("/healthz 200", || ctl.health().0 == 200);
    // SIGHUP re-reads the file even when it did not change.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(ctl.child.id() as i32, libc::SIGHUP) };
    wait_for("the SIGHUP reload", || ctl.count_all(&["config reloaded", "trigger=\"SIGHUP\""]) == 1);
    // The devices are reconciled with the re-read config (nothing to write).
    wait_for("/healthz 200 after the reload", || ctl.health().0 == 200);
    assert_eq!(ctl.count("repaired"), 2, "{}", ctl.log());
    assert_eq!(ctl.stop(), Some(0));
}

#[test]
fn unreachable_device_does_not_block_the_other() {
    let live = format!("127.0.0.1:{}", free_port());
    let dead = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    write_config(&cfg, "multi.yaml", &[("127.0.0.1:9559", &live), ("127.0.0.1:9560", &dead)]);
    let _soft = Soft::start(&live);
    let ctl = Controller::start(&cfg, &["--resync", "30"]);
    wait_for("nic0 to be reconciled", || up_to_date(&cfg, "nic0"));
    wait_for("/healthz to name sw1", || {
        let (code, v) = ctl.health();
        code == 503 && v["not_in_sync"]["sw1"].as_str().is_some_and(|r| r.contains(&dead))
    });
    let (_, v) = ctl.health();
    assert!(v["not_in_sync"].get("nic0").is_none(), "{v}");
    assert_eq!(v["devices"]["nic0"]["in_sync"], true, "{v}");
    // /metrics answers at once: the unreachable device is reported down, not waited for.
    let asked = Instant::now();
    let (code, metrics) = ctl.get("/metrics");
    assert!(asked.elapsed() < Duration::from_secs(2), "/metrics took {:?}", asked.elapsed());
    assert_eq!(code, 200, "{metrics}");
    assert!(metrics.contains("p4clone_device_up{device=\"nic0\"} 1"), "{metrics}");
    assert!(metrics.contains("p4clone_device_up{device=\"sw1\"} 0"), "{metrics}");
    assert!(
        metrics.contains(&format!("p4clone_controller_device_connected{{device=\"sw1\",address=\"{dead}\"}} 0")),
        "{metrics}"
    );
    assert_eq!(ctl.stop(), Some(0));
}

#[test]
fn bad_config_or_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "tenants: [{name: a}]\nvirtual_services: [{name: v, tenant: nope}]\n").unwrap();
    let o = p4clone(&["controller", &bad.display().to_string()]);
    common::assert_bad_input(&o);
    let o = p4clone(&["controller", "examples/basic.yaml", "--resync", "0"]);
    assert_eq!(o.status.code(), Some(2));
    // A bad --listen is refused before any device is connected.
    let o = p4clone(&["controller", "examples/basic.yaml", "--listen", "not-an-address"]);
    let err = common::assert_bad_input(&o);
    assert!(err.contains("not-an-address"), "{err}");
    assert!(!err.contains("connected") && !err.contains("cannot connect"), "{err}");
}

#[test]
fn backup_takes_over_when_the_primary_is_killed() {
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    write_config(&cfg, "basic.yaml", &[("127.0.0.1:9559", &addr)]);
    let _soft = Soft::start(&addr);
    let low = Controller::start(&cfg, &["--resync", "1", "--election-id", "1"]);
    wait_for("controller 1 to reconcile", || low.count("repaired") == 1 && up_to_date(&cfg, "nic0"));
    let mut high = Controller::start(&cfg, &["--resync", "1", "--election-id", "2"]);
    wait_for("controller 1 to become backup", || {
        low.count_all(&["backup; not writing", "election_id=1", "primary_election_id=2"]) == 1
    });
    wait_for("controller 2 to be primary and in sync", || {
        high.count_all(&["primary device=", "election_id=2"]) == 1
            && high.health().1["devices"]["nic0"]["in_sync"] == true
    });
    // Only the primary writes: controller 2 found nothing to do, controller 1 wrote nothing more.
    assert_eq!(high.count("repaired"), 0, "{}", high.log());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(low.count("repaired"), 1, "{}", low.log());
    // SIGKILL the primary: the backup is made primary and keeps the device in sync.
    let _ = high.child.kill();
    let _ = high.child.wait();
    wait_for("controller 1 to become primary again", || low.count_all(&["primary device=", "election_id=1"]) == 2);
    tamper_one_entry(&addr, 1, Tamper::Delete);
    wait_for("controller 1 to repair the drift", || low.count("repaired: 1 inserted") == 1);
    assert!(up_to_date(&cfg, "nic0"), "{}", low.log());
    assert_eq!(low.health().0, 200, "{}", low.log());
    // Restarted with its higher id, the first controller is primary again
    // (arbitration), finds the device in sync and writes nothing.
    drop(high);
    let high = Controller::start(&cfg, &["--resync", "1", "--election-id", "2"]);
    wait_for("controller 2 primary again, controller 1 backup", || {
        high.count("in sync device=nic0") == 1 && low.count("backup; not writing") == 2
    });
    assert_eq!(high.count("repaired"), 0, "{}", high.log());
    assert!(up_to_date(&cfg, "nic0"));
    drop(high);
    assert_eq!(low.stop(), Some(0));
}

#[test]
fn config_edit_moving_a_device_follows_it() {
    let (a, b) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(&dir);
    write_config(&cfg, "basic.yaml", &[("127.0.0.1:9559", &a)]);
    let (_soft_a, _soft_b) = (Soft::start(&a), Soft::start(&b));
    let ctl = Controller::start(&cfg, &["--resync", "30"]);
    wait_for("the device at the first address", || up_to_date(&cfg, "nic0"));
    write_config(&cfg, "basic.yaml", &[("127.0.0.1:9559", &b)]);
    wait_for("the device at the new address", || {
        ctl.count_all(&["connected device=nic0", &format!("address={b} ")]) == 1 && up_to_date(&cfg, "nic0")
    });
    wait_for("/healthz 200", || ctl.health().0 == 200);
    let (_, v) = ctl.health();
    assert_eq!(v["devices"]["nic0"]["address"], b.as_str(), "{v}");
    assert_eq!(ctl.stop(), Some(0));
}
