//! `p4clone run`: the README main job end to end (stats read back over
//! P4Runtime equal the clone frames in the monitor port's output pcap), outputs,
//! and exit codes for bad input.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Instant;

use common::{frames, p4clone, root, stderr, stdout};
use p4clone_soft::ports::pcap::PcapWriter;
use serde_json::Value;

/// [`common::assert_bad_input`], and the error names `what`.
fn assert_bad_input(o: &Output, what: &str) -> String {
    let err = common::assert_bad_input(o);
    assert!(
        err.contains(what),
        "error does not name {what:?}:
{err}"
    );
    err
}

fn main_job(out: &Path, output: &str) -> Output {
    let out = out.display().to_string();
    p4clone(&[
        "run",
        "examples/basic.yaml",
        "--pcap",
        "1=examples/basic-port1.pcap",
        "--pcap",
        "2=examples/basic-port2.pcap",
        "--out",
        &out,
        "--output",
        output,
    ])
}

/// The `clone_srvr_stats` rows of the `PROC_Aggregate` entry of the only VS.
fn aggregate(v: &Value) -> Vec<Value> {
    let vss = v["virtual_services"].as_array().expect("virtual_services");
    assert_eq!(vss.len(), 1, "{v:#}");
    let se_stats = vss[0]["se_stats"].as_array().expect("se_stats");
    let agg = se_stats.iter().find(|s| s["se"] == "PROC_Aggregate").expect("PROC_Aggregate row");
    agg["clone_srvr_stats"].as_array().unwrap().clone()
}

#[test]
fn main_job_num_succeeded_equals_clone_frames_on_the_monitor_port() {
    let tmp = tempfile::tempdir().unwrap();
    let o = main_job(tmp.path(), "json");
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");

    let clones = frames(&tmp.path().join("port-3.pcap"));
    assert_eq!(clones.len(), 93, "examples/README.md: 93 clone frames on port 3");
    assert_eq!(frames(&tmp.path().join("port-1.pcap")).len(), 52);
    assert_eq!(frames(&tmp.path().join("port-2.pcap")).len(), 47);
    let mut names: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["port-1.pcap", "port-2.pcap", "port-3.pcap"], "one file per port that sent frames");

    let rows = aggregate(&v);
    let ips: Vec<&str> = rows.iter().map(|r| r["ip"].as_str().unwrap()).collect();
    assert_eq!(ips, ["192.168.50.10", "192.168.50.11"]);
    let succeeded: Vec<u64> = rows.iter().map(|r| r["num_succeeded"].as_u64().expect("num_succeeded known")).collect();
    assert_eq!(succeeded, [47, 46]);
    let total: u64 = succeeded.iter().sum();
    assert_eq!(total as usize, clones.len(), "num_succeeded must equal the clone frames in port-3.pcap");
    for r in &rows {
        assert_eq!(r["num_total_pkts_cloned"], r["num_succeeded"], "{r}");
        // The software target measures these: real numbers, not unknown.
        assert_eq!(r["num_mbuf_alloc_failed"], 0, "{r}");
        assert_eq!(r["num_driver_failures"], 0, "{r}");
    }
    // Per clone server, the frames on port 3 carry its MAC.
    for (ip, mac, want) in
        [("192.168.50.10", [2, 0, 0, 0, 0x50, 0x10], 47), ("192.168.50.11", [2, 0, 0, 0, 0x50, 0x11], 46)]
    {
        let n = clones.iter().filter(|f| f[..6] == mac).count();
        assert_eq!(n, want, "clones to {ip}");
    }
    // The per-SE row (se-1 on nic0) has the same numbers.
    let se1 = &v["virtual_services"][0]["se_stats"][0];
    assert_eq!(se1["se"], "se-1");
    assert_eq!(se1["device"], "nic0");
    assert_eq!(se1["clone_srvr_stats"][0]["num_succeeded"], 47);

    assert_eq!(v["device"], "nic0");
    assert_eq!(v["frames_in"], 99);
    assert_eq!(v["frames_out"], 192);
    let port3 = v["ports"].as_array().unwrap().iter().find(|p| p["port"] == 3).unwrap();
    assert_eq!(port3["tx_clones"], 93);
    assert!(v["entities_written"].as_u64().unwrap() > 0);
}

/// An encapsulated profile: `ip` is each clone server's `remote`, bytes are the
/// originals' ingress lengths, and `truncated_mtu` counts the copies the MTU cut,
/// as the Python model's trace of `tests/vectors/encap-gre` says (MTU 1000: the
/// 1518-byte frames for member 0, the 1458-byte one for member 1).
#[test]
fn encap_stats_name_the_remote_and_count_mtu_cuts_and_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = "tests/vectors/encap-gre";
    let out = tmp.path().display().to_string();
    let o = p4clone(&[
        "run",
        &format!("{d}/config.yaml"),
        "--pcap",
        &format!("1={d}/in-1.pcap"),
        "--pcap",
        &format!("2={d}/in-2.pcap"),
        "--out",
        &out,
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let rows = aggregate(&v);
    let trace = std::fs::read_to_string(root().join(d).join("trace.txt")).unwrap();
    for (i, (remote, r)) in ["198.51.100.20", "203.0.113.78"].iter().zip(&rows).enumerate() {
        assert_eq!(r["ip"], *remote, "{r}");
        let cut = trace.lines().filter(|l| l.contains(&format!("clone m{i} ")) && l.contains("MTU 1000 cut")).count();
        assert!(cut > 0, "the vector cuts copies of member {i}");
        assert_eq!(r["truncated_mtu"], cut as u64, "{r}");
        assert_eq!(r["num_total_pkts_cloned"], 12, "{r}");
    }
    let bytes: u64 = rows.iter().map(|r| r["num_total_bytes_cloned"].as_u64().expect("bytes known")).sum();
    let inputs: u64 = ["in-1.pcap", "in-2.pcap"]
        .iter()
        .map(|f| frames(&root().join(d).join(f)).iter().map(|f| f.len() as u64).sum::<u64>())
        .sum();
    assert_eq!(bytes, inputs, "every input is cloned once: clone bytes are the inputs' bytes");
}

#[test]
fn main_job_table_output_is_the_reference_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let o = main_job(tmp.path(), "table");
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "vs-web",
        "PROC_Aggregate",
        "se-1",
        "clone_srvr_stats",
        "num_total_pkts_cloned",
        "num_mbuf_alloc_failed",
        "num_driver_failures",
        "num_succeeded",
        "num_total_bytes_cloned",
        "truncated_mtu",
        "192.168.50.10",
        "192.168.50.11",
        "port-3.pcap",
    ] {
        assert!(out.contains(want), "output lacks {want:?}:\n{out}");
    }
    let err = stderr(&o);
    assert!(err.contains("P4Runtime 127.0.0.1:"), "stderr names the loopback P4Runtime address:\n{err}");
}

#[test]
fn single_file_run_gives_the_same_clones() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    assert!(main_job(a.path(), "json").status.success());
    let out = b.path().display().to_string();
    let o = p4clone(&["run", "examples/basic.yaml", "--pcap", "1=examples/basic.pcap", "--out", &out]);
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(&o));
    assert_eq!(frames(&b.path().join("port-2.pcap")).len(), 99);
    assert_eq!(frames(&b.path().join("port-3.pcap")), frames(&a.path().join("port-3.pcap")));
    assert!(!b.path().join("port-1.pcap").exists(), "port 1 sent nothing");
}

#[test]
fn old_outputs_are_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("port-9.pcap"), b"stale").unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"keep").unwrap();
    assert!(main_job(tmp.path(), "json").status.success());
    assert!(!tmp.path().join("port-9.pcap").exists(), "a stale port output survived");
    assert!(tmp.path().join("notes.txt").exists(), "other files are left alone");
}

#[test]
fn bad_input_exits_2_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out").display().to_string();
    let run = |extra: &[&str]| {
        let mut a = vec!["run", "examples/basic.yaml", "--out", &out];
        a.extend_from_slice(extra);
        p4clone(&a)
    };
    assert_bad_input(&run(&["--pcap", "examples/basic-port1.pcap"]), "examples/basic-port1.pcap");
    assert_bad_input(&run(&["--pcap", "x=examples/basic-port1.pcap"]), "\"x\"");
    assert_bad_input(&run(&["--pcap", "600=examples/basic-port1.pcap"]), "out of range");
    assert_bad_input(&run(&["--pcap", "1=examples/nope.pcap"]), "examples/nope.pcap");
    assert_bad_input(&run(&["--pcap", "1=examples"]), "not a regular file");
    assert_bad_input(
        &run(&["--pcap", "1=examples/basic-port1.pcap", "--pcap", "1=examples/basic-port2.pcap"]),
        "already given",
    );
    // Not a pcap file: named, exit 2.
    assert_bad_input(&run(&["--pcap", "1=examples/basic.yaml"]), "examples/basic.yaml");
    // Missing --pcap / --out: clap, exit 2.
    assert_eq!(p4clone(&["run", "examples/basic.yaml", "--out", &out]).status.code(), Some(2));
    assert_eq!(p4clone(&["run", "examples/basic.yaml", "--pcap", "1=examples/basic.pcap"]).status.code(), Some(2));
    // Unknown device, several devices without --device.
    let e = assert_bad_input(&run(&["--pcap", "1=examples/basic.pcap", "--device", "nope"]), "nope");
    assert!(e.contains("nic0"), "lists the devices:\n{e}");
    let o = p4clone(&["run", "examples/multi.yaml", "--pcap", "1=examples/basic.pcap", "--out", &out]);
    let e = assert_bad_input(&o, "--device");
    assert!(e.contains("nic0") && e.contains("sw1"), "lists the devices:\n{e}");
    // Invalid config: every diagnostic, exit 2.
    let bad = tmp.path().join("bad.yaml");
    let text = std::fs::read_to_string(root().join("examples/basic.yaml")).unwrap();
    std::fs::write(&bad, text.replace("ip: 192.168.50.10", "ip: 192.168.50.10/99")).unwrap();
    let o = p4clone(&["run", &bad.display().to_string(), "--pcap", "1=examples/basic.pcap", "--out", &out]);
    assert_bad_input(&o, "clone_servers[0]");
    // An input that is one of the outputs would be overwritten.
    std::fs::create_dir_all(&out).unwrap();
    let clash = tmp.path().join("out/port-2.pcap");
    std::fs::copy(root().join("examples/basic-port1.pcap"), &clash).unwrap();
    let o = run(&["--pcap", &format!("1={}", clash.display())]);
    assert_bad_input(&o, "output file of port 2");
    assert!(clash.exists(), "the input was not removed");
}

/// An Ethernet/IPv4/TCP frame of 64 bytes.
fn tcp64(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]);
    let total: u16 = 50;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    f.resize(64, 0);
    f
}

/// Writes `n` 64-byte TCP frames for port 2 of `examples/basic.yaml`: every
/// tenth is SE → pool member 10.20.1.11:8080 (cloned), the others go to an
/// address no rule matches (forwarded only).
fn write_bench_pcap(path: &Path, n: u64) {
    let mut w = PcapWriter::create(path).unwrap();
    let hit = tcp64([10, 20, 0, 5], [10, 20, 1, 11], 40000, 8080);
    let miss = tcp64([10, 20, 0, 5], [10, 20, 9, 9], 40000, 9999);
    for i in 0..n {
        let f = if i % 10 == 0 { &hit } else { &miss };
        w.write(1_700_000_000_000_000_000 + i * 1_000, f).unwrap();
    }
    w.flush().unwrap();
}

/// `run` on a 1,000,000-frame pcap (10% cloned). Not part of the normal suite:
/// `cargo test --release --test run -- --ignored --nocapture run_million_frames`.
#[test]
#[ignore = "benchmark; run with --release --ignored"]
fn run_million_frames() {
    let n: u64 = std::env::var("P4CLONE_BENCH_FRAMES").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("bench.pcap");
    write_bench_pcap(&input, n);
    let out = tmp.path().join("out").display().to_string();
    let spec = format!("2={}", input.display());
    let t = Instant::now();
    let o = p4clone(&["run", "examples/basic.yaml", "--pcap", &spec, "--out", &out, "--output", "json"]);
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["frames_in"], n);
    let clones: u64 = aggregate(&v).iter().map(|r| r["num_succeeded"].as_u64().unwrap()).sum();
    assert_eq!(clones, n.div_ceil(10));
    let engine = v["elapsed_s"].as_f64().unwrap();
    println!(
        "run: {n} frames ({} cloned): command {wall:.3} s wall ({:.0} frames/s); engine replay {engine:.3} s ({:.0} frames/s)",
        clones,
        n as f64 / wall,
        n as f64 / engine
    );
}

/// The README's "Remote cloning" section shows what `run` prints for
/// `examples/remote-vxlan.yaml`: every statistics line of it, verbatim.
#[test]
fn readme_remote_cloning_output_is_what_run_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().display().to_string();
    let o = p4clone(&[
        "run",
        "examples/remote-vxlan.yaml",
        "--pcap",
        "1=examples/basic-port1.pcap",
        "--pcap",
        "2=examples/basic-port2.pcap",
        "--out",
        &out,
    ]);
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(&o));
    let printed = stdout(&o);
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split("## Remote cloning").nth(1).expect("README has a Remote cloning section");
    let stats: Vec<&str> = printed.lines().skip_while(|l| !l.starts_with("vs-web")).filter(|l| !l.is_empty()).collect();
    assert_eq!(stats.len(), 6, "{printed}");
    for l in stats {
        assert!(section.contains(l), "README's Remote cloning section lacks the line\n{l}\nof:\n{printed}");
    }
}
