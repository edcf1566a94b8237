//! The fidelity suite: is the software target what BMv2 is, and is the p4c
//! build what the repository says? `scripts/fidelity.sh` runs it (it is also
//! part of `cargo test`).
//!
//! | test | with BMv2 / p4c | without them (CI) |
//! |---|---|---|
//! | `vectors_on_soft` | every stored vector on the software target equals its expected frames | same |
//! | `vectors_on_bmv2` | every stored vector on BMv2 equals its expected frames | one SKIP line |
//! | `examples_soft_vs_soft` | `diff --a soft --b soft` over every example config and device with pcaps | same (proves the harness) |
//! | `examples_soft_vs_bmv2` | `diff --a soft --b bmv2` over the same | one SKIP line |
//! | `large_one_port_input_soft_vs_bmv2` | 5,000 frames on one port: identical, or BMv2's queue-overflow losses named per port (exit 1), never a difference | one SKIP line |
//! | `large_one_port_input_soft_vs_soft` | the same input through the software target twice is identical | same |
//! | `diff_reports_an_altered_output` | a vector with one byte flipped and one frame dropped must be reported (exit 1) | same |
//! | `p4c_build_is_fresh` | `p4src/build/SOURCE.sha256` matches the source, else FAIL | a stale/missing build is a WARN line |
//! | `p4c_compiles_cleanly_and_p4info_matches` | p4c (the `p4src/README.md` command) warns about nothing and its P4Info equals the hand-kept one semantically | one SKIP line |
//! | `committed_build_p4info_matches` | `p4src/build/traffic_clone.p4info.txtpb` equals the hand-kept P4Info semantically (a stale build: a WARN line) | one SKIP line while nothing is compiled |
//!
//! Tools are found as everywhere else: `$P4CLONE_BMV2` or `simple_switch_grpc`
//! on `PATH`; `$P4CLONE_P4C`, `p4c-bm2-ss` or `p4c` on `PATH`. SKIP / WARN lines
//! go straight to stderr, so they show in a normal `cargo test` run.
//! `$P4CLONE_FIDELITY_BMV2_ARGS` adds flags to every BMv2 run (e.g.
//! `--bmv2-window 2 --bmv2-settle 0.5` on a fast machine).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use p4clone_bmv2::{artifacts, locate, p4c};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A line on stderr that test capture does not swallow.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn p4clone(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p4clone")).current_dir(root()).args(args).output().expect("run p4clone")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn bmv2_extra() -> Vec<String> {
    std::env::var("P4CLONE_FIDELITY_BMV2_ARGS").unwrap_or_default().split_whitespace().map(String::from).collect()
}

/// The BMv2 binary, or `None` after printing the SKIP line for `what`.
fn bmv2_or_skip(what: &str) -> Option<PathBuf> {
    match locate::find_bmv2() {
        Ok(b) => Some(b),
        Err(e) => {
            say(&format!("SKIP: {what}: {}", e.to_string().lines().next().unwrap_or_default()));
            None
        }
    }
}

/// One example job: a config, a device, its pcaps.
struct Example {
    config: PathBuf,
    device: String,
    pcaps: Vec<(u16, PathBuf)>,
}

/// Every example config and device with input pcaps: `examples/<stem>-port<N>.pcap`
/// for a single-device config, `examples/<stem>-<device>-port<N>.pcap` otherwise.
fn examples() -> (Vec<Example>, Vec<String>) {
    let dir = root().join("examples");
    let rel = PathBuf::from("examples");
    let mut configs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "json"))
        .collect();
    configs.sort();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    let mut out = Vec::new();
    let mut without = Vec::new();
    for config in configs {
        let stem = config.file_stem().unwrap().to_string_lossy().into_owned();
        let loaded = p4clone_compiler::source::load_file(&config).expect("example config loads");
        let devices: Vec<String> = loaded.config.devices.iter().map(|d| d.name.clone()).collect();
        for d in &devices {
            let prefix = if devices.len() == 1 { format!("{stem}-port") } else { format!("{stem}-{d}-port") };
            let mut pcaps: Vec<(u16, PathBuf)> = names
                .iter()
                .filter_map(|n| Some((n.strip_prefix(&prefix)?.strip_suffix(".pcap")?.parse().ok()?, dir.join(n))))
                .collect();
            pcaps.sort();
            let config = rel.join(config.file_name().unwrap());
            let pcaps = pcaps.into_iter().map(|(p, f)| (p, rel.join(f.file_name().unwrap()))).collect::<Vec<_>>();
            if pcaps.is_empty() {
                without.push(format!("{} device {d}", config.display()));
            } else {
                out.push(Example { config, device: d.clone(), pcaps });
            }
        }
    }
    (out, without)
}

fn diff_example(e: &Example, a: &str, b: &str) -> Output {
    let mut args = vec!["diff".to_string(), e.config.display().to_string(), "--device".into(), e.device.clone()];
    for (p, f) in &e.pcaps {
        args.push("--pcap".into());
        args.push(format!("{p}={}", f.display()));
    }
    args.extend(s(&["--a", a, "--b", b]));
    if a == "bmv2" || b == "bmv2" {
        args.extend(bmv2_extra());
    }
    p4clone(&args)
}

fn examples_between(a: &str, b: &str) {
    let (all, without) = examples();
    for w in &without {
        say(&format!("note: {w} has no example pcaps; not compared"));
    }
    let names: BTreeSet<String> =
        all.iter().map(|e| format!("{}:{}", e.config.file_name().unwrap().to_string_lossy(), e.device)).collect();
    for want in ["basic.yaml:nic0", "multi.yaml:nic0", "multi.yaml:sw1", "ssl-tandem.yaml:nic0", "ssl-tandem.yaml:nic1"]
    {
        assert!(names.contains(want), "example {want} has no pcaps (found {names:?})");
    }
    let mut failures = Vec::new();
    for e in &all {
        let o = diff_example(e, a, b);
        let t = text(&o);
        if o.status.code() == Some(0) && t.contains("result: identical") {
            say(&format!("fidelity: {} device {}: {a} vs {b}: identical", e.config.display(), e.device));
        } else {
            failures.push(format!("{} device {} ({a} vs {b}), {}:\n{t}", e.config.display(), e.device, o.status));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn vectors_on(target: &str) {
    let mut args = s(&["diff", "--vectors", "tests/vectors", "--a", target]);
    if target == "bmv2" {
        args.extend(bmv2_extra());
    }
    let o = p4clone(&args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "stored vectors on {target} differ from the expected frames:\n{t}");
    let n = std::fs::read_dir(root().join("tests/vectors"))
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().join("config.yaml").is_file()))
        .count();
    assert!(n >= 23, "expected at least 23 vectors, found {n}");
    assert!(t.contains(&format!("result: identical ({n} comparisons)")), "{t}");
    say(&format!("fidelity: {n} stored vectors on {target}: identical to the expected frames"));
}

#[test]
fn vectors_on_soft() {
    vectors_on("soft");
}

#[test]
fn vectors_on_bmv2() {
    if bmv2_or_skip("stored vectors on BMv2").is_some() {
        vectors_on("bmv2");
    }
}

#[test]
fn examples_soft_vs_soft() {
    examples_between("soft", "soft");
}

#[test]
fn examples_soft_vs_bmv2() {
    if bmv2_or_skip("examples soft vs BMv2").is_some() {
        examples_between("soft", "bmv2");
    }
}

/// 5,000 frames on one port (the basic example's port-1 capture, repeated with
/// fresh timestamps): the input size at which BMv2's file mode loses frames
/// when its egress queues overflow.
fn large_one_port_input(dir: &std::path::Path) -> PathBuf {
    use p4clone_soft::ports::pcap::{read_all, PcapWriter};
    let base = read_all(root().join("examples/basic-port1.pcap")).unwrap();
    let path = dir.join("large-port1.pcap");
    let mut w = PcapWriter::create(&path).unwrap();
    let t0 = base[0].0;
    for i in 0..5_000u64 {
        w.write(t0 + i * 1_000, &base[(i as usize) % base.len()].1).unwrap();
    }
    w.flush().unwrap();
    path
}

fn diff_large_input(b: &str) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let input = large_one_port_input(tmp.path());
    let mut args = s(&["diff", "examples/basic.yaml", "--pcap"]);
    args.push(format!("1={}", input.display()));
    args.extend(s(&["--a", "soft", "--b", b]));
    if b == "bmv2" {
        args.extend(bmv2_extra());
    }
    p4clone(&args)
}

/// 5,000 frames on one port through soft and BMv2: identical, or BMv2's losses
/// named per port (exit 1) — never a difference, never a false "identical".
#[test]
fn large_one_port_input_soft_vs_bmv2() {
    if bmv2_or_skip("5,000 frames on one port, soft vs BMv2").is_none() {
        return;
    }
    let o = diff_large_input("bmv2");
    let t = text(&o);
    if o.status.code() == Some(0) {
        assert!(t.contains("identical (2 ports, 9681 frames)"), "{t}");
        say("fidelity: 5,000 frames on one port: soft and BMv2 identical (BMv2 lost nothing)");
    } else {
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains("BMv2 dropped") && t.contains("(queue overflow)"), "a failure other than a loss:\n{t}");
        assert!(!t.contains("DIFFERENT on"), "BMv2's losses reported as a difference:\n{t}");
        say(&format!(
            "fidelity: 5,000 frames on one port: BMv2 lost frames, reported as such: {}",
            t.lines().find(|l| l.contains("BMv2 dropped")).unwrap_or_default()
        ));
    }
}

/// The same input on the software target twice: identical (the harness side of
/// the test above, which runs everywhere).
#[test]
fn large_one_port_input_soft_vs_soft() {
    let o = diff_large_input("soft");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    // 5,000 originals on port 2 and 4,681 clones on port 3 (the example's
    // non-matching frames are not cloned).
    assert!(t.contains("identical (2 ports, 9681 frames)"), "{t}");
}

/// A comparison that cannot fail is worthless: feed `diff` a vector whose
/// expected output was altered (one byte flipped, one frame dropped).
#[test]
fn diff_reports_an_altered_output() {
    use p4clone_soft::ports::pcap::{read_all, PcapWriter};
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("rr-2-servers-altered");
    std::fs::create_dir_all(&case).unwrap();
    let src = root().join("tests/vectors/rr-2-servers");
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), case.join(e.file_name())).unwrap();
    }
    type Records = Vec<(u64, Vec<u8>)>;
    let rewrite = |name: &str, f: &dyn Fn(&mut Records)| {
        let p = case.join(name);
        let mut recs = read_all(&p).unwrap();
        f(&mut recs);
        let mut w = PcapWriter::create(&p).unwrap();
        for (ts, d) in &recs {
            w.write(*ts, d).unwrap();
        }
        w.flush().unwrap();
    };
    // Clone frame 4 on port 3: flip the last byte of the IPv4 destination address (offset 33).
    rewrite("expected-3.pcap", &|r| r[4].1[33] ^= 0xff);
    // Port 1: drop frame 6.
    rewrite("expected-1.pcap", &|r| {
        r.remove(6);
    });
    let o = p4clone(&["diff".into(), "--vectors".into(), case.display().to_string(), "--a".into(), "soft".into()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "an altered output must be reported with exit 1:\n{t}");
    assert!(t.contains("rr-2-servers-altered: soft vs expected: DIFFERENT on 2 of 3 ports"), "{t}");
    assert!(t.contains("port 3: soft 34 frames, expected 34; 1 frame differs"), "{t}");
    assert!(t.contains("frame 4:"), "{t}");
    assert!(t.contains("differ    bytes 33"), "{t}");
    assert!(t.contains("port 1: soft 19 frames, expected 18"), "{t}");
    assert!(t.contains("soft has one frame more: its frame 6"), "{t}");
    assert!(t.contains("TCP "), "decoded summaries: {t}");
    assert!(t.contains("result: DIFFERENT"), "{t}");

    // The same in JSON.
    let o = p4clone(&["diff".into(), "--vectors".into(), case.display().to_string(), "--output".into(), "json".into()]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["identical"], false);
    let ports = v["comparisons"][0]["ports"].as_array().unwrap();
    let p3 = ports.iter().find(|p| p["port"] == 3).unwrap();
    assert_eq!(p3["differences"][0]["frame"], 4);
    assert_eq!(p3["differences"][0]["ranges"], serde_json::json!([[33, 33]]));
    let p1 = ports.iter().find(|p| p["port"] == 1).unwrap();
    assert_eq!((p1["a_frames"].as_u64(), p1["b_frames"].as_u64()), (Some(19), Some(18)));
}

#[test]
fn p4c_build_is_fresh() {
    let p4src = root().join("p4src");
    let fresh = artifacts::freshness(&p4src);
    match (locate::find_p4c(), &fresh) {
        (_, artifacts::Freshness::Fresh) => say(&format!("fidelity: {fresh}")),
        (Err(_), _) => say(&format!("WARN: {fresh} (a warning only because p4c is absent)")),
        (Ok(p), _) => panic!("{fresh} (p4c is available: {})", p.path.display()),
    }
}

#[test]
fn p4c_compiles_cleanly_and_p4info_matches() {
    let p4c = match locate::find_p4c() {
        Ok(p) => p,
        Err(e) => {
            say(&format!("SKIP: p4c checks: {}", e.to_string().lines().next().unwrap_or_default()));
            return;
        }
    };
    let p4src = root().join("p4src");
    let tmp = tempfile::tempdir().unwrap();
    let compiled = p4c::compile(&p4c, &p4src, tmp.path()).unwrap_or_else(|e| panic!("{e}"));
    let diffs = p4c::compare_p4info(&p4src, &compiled.p4info).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        diffs.is_empty(),
        "p4src/traffic_clone.p4info.txtpb differs from the P4Info p4c generates ({}):\n  {}",
        compiled.command,
        diffs.join("\n  ")
    );
    say(&format!("fidelity: p4c compiles {} cleanly and its P4Info equals the hand-kept one", artifacts::SOURCE));
}

#[test]
fn committed_build_p4info_matches() {
    let p4src = root().join("p4src");
    let built = p4src.join(artifacts::BUILD_P4INFO);
    if !built.is_file() {
        say(&format!("SKIP: committed P4Info check: {} is absent (nothing compiled by p4c yet)", built.display()));
        return;
    }
    // A build older than the source is expected to differ: `p4c_build_is_fresh` reports it
    // (a WARN without p4c), and the next p4c round (`scripts/p4c-check.sh --update`) refreshes it.
    let fresh = artifacts::freshness(&p4src);
    if !matches!(fresh, artifacts::Freshness::Fresh) {
        say(&format!("WARN: committed P4Info check skipped: {fresh}"));
        return;
    }
    let diffs = p4c::compare_p4info(&p4src, &built).unwrap_or_else(|e| panic!("{e}"));
    assert!(diffs.is_empty(), "p4src/build's P4Info differs from the hand-kept one:\n  {}", diffs.join("\n  "));
}
