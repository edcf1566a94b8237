//! The Tofino path end to end through the binary: `p4clone soft --as tofino` as a
//! child process, then `push` / `plan` / `stats` of `examples/tofino.yaml` against
//! it unchanged; the same config against a v1model software target is refused
//! (wrong program); `check` refuses a Tofino device with more clone sessions
//! than Stratum has, naming the device.

mod common;

use common::child::SoftAt;
use common::{assert_bad_input, p4clone, stderr, stdout};
use p4clone_compiler::config::Target;
use std::time::Duration;

/// `p4clone soft --p4rt 127.0.0.1:0 ARGS...`, killed on drop.
struct Soft;

impl Soft {
    fn start(args: &[&str]) -> SoftAt {
        SoftAt::start("127.0.0.1:0", args, Duration::from_secs(30))
    }
}

fn push_json(addr: &str) -> serde_json::Value {
    let o = p4clone(&["push", "examples/tofino.yaml", "--address", addr, "--output", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
    v["devices"][0].clone()
}

#[test]
fn push_plan_stats_against_soft_as_tofino() {
    let soft = Soft::start(&["--as", "tofino"]);
    let first = push_json(&soft.address);
    assert!(first["errors"].as_array().unwrap().is_empty(), "{first}");
    // 2 wire entries, 2 clone sessions, 2 rewrites, 4 classify rules (2 pool
    // servers, both directions).
    assert_eq!(first["inserted"], 10, "{first}");
    assert_eq!(first["pipeline"]["action"], "installed", "{first}");
    let again = push_json(&soft.address);
    assert_eq!((again["inserted"].as_u64(), again["modified"].as_u64()), (Some(0), Some(0)), "{again}");

    let plan = p4clone(&["plan", "examples/tofino.yaml", "--address", &soft.address, "--output", "json"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let stats = p4clone(&["stats", "examples/tofino.yaml", "--address", &soft.address, "--output", "json"]);
    assert!(stats.status.success(), "{}", stderr(&stats));
    assert!(stdout(&stats).contains("192.168.50.10"), "{}", stdout(&stats));
}

#[test]
fn a_v1model_target_refuses_the_tofino_pipeline() {
    let soft = Soft::start(&[]);
    let o = p4clone(&["push", "examples/tofino.yaml", "--address", &soft.address]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(all.contains("traffic_clone.p4"), "{all}");
}

#[test]
fn check_refuses_more_sessions_than_stratum_has() {
    let mut cfg = p4clone_compiler::synthetic::fleet(102, 1, 102, 1, 1);
    cfg.devices[0].target = Target::Tofino;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("too-many.json");
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let err = assert_bad_input(&p4clone(&["check", path.to_str().unwrap()]));
    assert!(err.contains(&format!("device `{}` (tofino)", cfg.devices[0].name)) && err.contains("1..=1015"), "{err}");
}
