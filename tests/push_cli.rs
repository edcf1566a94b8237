//! `p4clone plan` / `push` / `stats` against a `p4clone soft` child process on
//! an ephemeral loopback port: push writes, a second push writes nothing,
//! plan then has nothing to do, stats renders JSON and Prometheus; an
//! unreachable address exits 1 naming it; a bad config exits 2.

mod common;

use common::child::SoftAt;
use common::{p4clone, root};
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `p4clone soft --p4rt 127.0.0.1:0`, killed on drop.
struct Soft;

impl Soft {
    fn start() -> SoftAt {
        SoftAt::start("127.0.0.1:0", &[], Duration::from_secs(30))
    }
}

/// The counts of `push --output json` for the one device.
fn push_json(addr: &str) -> serde_json::Value {
    let o = p4clone(&["push", "examples/multi.yaml", "--device", "nic0", "--address", addr, "--output", "json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "push failed:\n{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{out}");
    assert_eq!(devices[0]["device"], "nic0");
    assert!(devices[0]["errors"].as_array().unwrap().is_empty(), "{out}");
    devices[0].clone()
}

#[test]
fn push_plan_stats_against_soft() {
    let soft = Soft::start();
    let addr = soft.address.as_str();

    // The first plan has inserts and writes nothing.
    let o = p4clone(&["plan", "examples/multi.yaml", "--device", "nic0", "--address", addr]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "plan failed:\n{out}\n{err}");
    assert!(out.contains("+ "), "{out}");
    assert!(out.contains("nothing written"), "{out}");

    // First push inserts.
    let d = push_json(addr);
    assert!(d["inserted"].as_u64().unwrap() > 0, "{d}");

    // Second push writes nothing and says so (table output).
    let o = p4clone(&["push", "examples/multi.yaml", "--device", "nic0", "--address", addr]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "second push failed:\n{out}\n{err}");
    assert!(out.contains("nothing written"), "{out}");
    let d = push_json(addr);
    for k in ["inserted", "modified", "deleted"] {
        assert_eq!(d[k], 0, "{k}: {d}");
    }

    // Plan: nothing to do.
    let o = p4clone(&["plan", "examples/multi.yaml", "--device", "nic0", "--address", addr]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "plan failed:\n{out}\n{err}");
    assert!(out.contains("nothing to do"), "{out}");
    assert!(!out.contains("\n  + ") && !out.contains("\n  - ") && !out.contains("\n  ~ "), "{out}");
    let o = p4clone(&["plan", "examples/multi.yaml", "--device", "nic0", "--address", addr, "--output", "json"]);
    let (out, _) = text(&o);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(v["devices"][0]["plan"]["inserts"].as_array().unwrap().is_empty(), "{out}");

    // Stats: JSON lists the cloned VSs behind nic0.
    let o = p4clone(&["stats", "examples/multi.yaml", "--device", "nic0", "--address", addr, "--output", "json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stats failed:\n{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let vss = v["virtual_services"].as_array().unwrap();
    assert!(!vss.is_empty(), "{out}");
    for vs in vss {
        assert!(vs["vs"].is_string(), "{vs}");
        let ses = vs["se_stats"].as_array().unwrap();
        assert_eq!(ses.last().unwrap()["se"], "PROC_Aggregate", "{vs}");
        for s in ses {
            for c in s["clone_srvr_stats"].as_array().unwrap() {
                assert_eq!(c["num_total_pkts_cloned"], 0, "{c}");
                assert!(c["num_mbuf_alloc_failed"].is_null() || c["num_mbuf_alloc_failed"].is_u64(), "{c}");
            }
        }
    }
    assert!(v["errors"].as_array().unwrap().is_empty(), "{out}");

    // Table: the reference layout.
    let o = p4clone(&["stats", "examples/multi.yaml", "--device", "nic0", "--address", addr]);
    let (out, _) = text(&o);
    assert!(o.status.success(), "{out}");
    for w in ["PROC_Aggregate", "clone_srvr_stats", "num_total_pkts_cloned", "num_succeeded", "[0]"] {
        assert!(out.contains(w), "{w} missing:\n{out}");
    }

    // Prometheus.
    let o = p4clone(&["stats", "examples/multi.yaml", "--device", "nic0", "--address", addr, "--output", "prometheus"]);
    let (out, _) = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("p4clone_clone_packets_total{"), "{out}");
    assert!(out.contains("p4clone_device_up{device=\"nic0\"} 1"), "{out}");

    // --vs restricts; an unknown one is bad input.
    let name = vss[0]["vs"].as_str().unwrap();
    let o = p4clone(&[
        "stats",
        "examples/multi.yaml",
        "--device",
        "nic0",
        "--address",
        addr,
        "--vs",
        name,
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["virtual_services"].as_array().unwrap().len(), 1);
    let o = p4clone(&["stats", "examples/multi.yaml", "--device", "nic0", "--address", addr, "--vs", "no-such-vs"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A port nobody listens on.
fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    drop(l);
    a
}

#[test]
fn unreachable_device_exits_1_naming_the_address() {
    let addr = dead_address();
    for cmd in ["plan", "push", "stats"] {
        let o = p4clone(&[cmd, "examples/multi.yaml", "--device", "nic0", "--address", &addr]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{cmd}:\n{out}\n{err}");
        assert!(format!("{out}{err}").contains(&addr), "{cmd} does not name {addr}:\n{out}\n{err}");
    }
}

#[test]
fn bad_config_and_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "tenants: [{name: a}]\nvirtual_services: [{name: v, tenant: nope}]\n").unwrap();
    let bad = bad.display().to_string();
    for cmd in ["plan", "push", "stats"] {
        let o = p4clone(&[cmd, &bad, "--address", "127.0.0.1:1"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", String::from_utf8_lossy(&o.stderr));
        let o = p4clone(&[cmd, "examples/multi.yaml", "--device", "no-such-device"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-device"));
    }
    let o = p4clone(&["push", "examples/multi.yaml", "--election-id", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn backup_controller_never_writes() {
    let soft = Soft::start();
    let addr = soft.address.clone();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // A primary with a higher election id holds the stream.
    let primary = rt.block_on(async {
        let mut o = p4clone_runtime::ConnectOptions::new(addr.clone(), 1);
        o.election_id = 10;
        p4clone_runtime::Client::connect(o).await.expect("primary connects")
    });
    assert!(primary.is_primary());
    let o = p4clone(&["push", "examples/multi.yaml", "--device", "nic0", "--address", &addr, "--election-id", "2"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(format!("{out}{err}").contains("backup"), "{out}\n{err}");
    // Nothing was written: a plan still has everything to insert.
    let o = p4clone(&["plan", "examples/multi.yaml", "--device", "nic0", "--address", &addr, "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!v["devices"][0]["plan"]["inserts"].as_array().unwrap().is_empty());
    drop(primary);
    drop(rt);
}

#[test]
fn stats_listen_serves_metrics() {
    use std::io::{Read, Write};
    let soft = Soft::start();
    let o = p4clone(&["push", "examples/multi.yaml", "--device", "nic0", "--address", &soft.address]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut child = Command::new(env!("CARGO_BIN_EXE_p4clone"))
        .current_dir(root())
        .args(["stats", "examples/multi.yaml", "--device", "nic0", "--address", &soft.address])
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}"));
    let hostport = url.trim_start_matches("http://").trim_end_matches("/metrics");
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("p4clone_clone_packets_total{"), "{body}");
}
