//! `p4clone run --target bmv2` and `p4clone diff` with BMv2: the failures a
//! user meets before BMv2 processes a frame, each with its exit code and a
//! message that says what to do. They run everywhere: BMv2 is forced absent
//! (`P4CLONE_BMV2` naming nothing), or stood in for by the process stub of
//! `targets/bmv2/tests/` (which speaks no P4Runtime, so the push fails as it
//! would against a wrong binary). A real BMv2 run is the fidelity suite's job
//! (`tests/fidelity.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stub() -> PathBuf {
    root().join("targets/bmv2/tests/stub_simple_switch_grpc.py")
}

fn have_python() -> bool {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: python3 not found (the BMv2 process stub needs it)");
    }
    ok
}

/// `p4clone ARGS` with `envs` set, BMv2 work directories under `tmp`.
fn p4clone(args: &[&str], envs: &[(&str, &Path)], tmp: &Path) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_p4clone"));
    c.current_dir(root()).env("TMPDIR", tmp).env_remove("P4CLONE_P4SRC").args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run p4clone")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const BASIC: [&str; 6] =
    ["examples/basic.yaml", "--pcap", "1=examples/basic-port1.pcap", "--pcap", "2=examples/basic-port2.pcap", "--out"];

fn run_bmv2(out: &Path, envs: &[(&str, &Path)], tmp: &Path) -> Output {
    let out = out.display().to_string();
    let mut args = vec!["run"];
    args.extend(BASIC);
    args.extend([out.as_str(), "--target", "bmv2"]);
    p4clone(&args, envs, tmp)
}

/// A `p4src` with the real source and P4Info, a placeholder BMv2 JSON, and a
/// `SOURCE.sha256` that matches (`fresh`) or not.
fn fake_p4src(dir: &Path, fresh: bool) -> PathBuf {
    let p = dir.join("p4src");
    std::fs::create_dir_all(p.join("build")).unwrap();
    std::fs::copy(root().join("p4src/traffic_clone.p4"), p.join("traffic_clone.p4")).unwrap();
    std::fs::copy(root().join("p4src/traffic_clone.p4info.txtpb"), p.join("traffic_clone.p4info.txtpb")).unwrap();
    std::fs::copy(root().join("p4src/traffic_clone.p4info.txtpb"), p.join("build/traffic_clone.p4info.txtpb")).unwrap();
    std::fs::write(p.join("build/traffic_clone.json"), "{}\n").unwrap();
    let hash = if fresh {
        let o = Command::new("sha256sum").arg("traffic_clone.p4").current_dir(&p).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    } else {
        format!("{}  traffic_clone.p4\n", "0".repeat(64))
    };
    std::fs::write(p.join("build/SOURCE.sha256"), hash).unwrap();
    p
}

#[test]
fn missing_bmv2_is_exit_1_saying_what_is_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let nothing = tmp.path().join("no/simple_switch_grpc");
    let o = run_bmv2(&tmp.path().join("out"), &[("P4CLONE_BMV2", &nothing)], tmp.path());
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("simple_switch_grpc not found"), "{e}");
    assert!(e.contains("P4CLONE_BMV2") && e.contains("built with P4Runtime support"), "{e}");
    assert!(!tmp.path().join("out").exists(), "nothing is prepared before the tools are found");

    // diff: an explicitly requested BMv2 that is missing is an error, not a skip.
    let o = p4clone(
        &["diff", "--vectors", "tests/vectors", "--case", "ipv6", "--a", "soft", "--b", "bmv2"],
        &[("P4CLONE_BMV2", &nothing)],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("simple_switch_grpc not found"), "{}", stderr(&o));
    let mut args = vec!["diff"];
    args.extend(&BASIC[..5]);
    let o = p4clone(&args, &[("P4CLONE_BMV2", &nothing)], tmp.path());
    assert_eq!(o.status.code(), Some(1), "diff defaults to --b bmv2: {}", stderr(&o));
}

#[test]
fn missing_or_stale_artifacts_name_the_p4c_command() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty-p4src");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(root().join("p4src/traffic_clone.p4"), empty.join("traffic_clone.p4")).unwrap();
    let stub = stub();
    let o = run_bmv2(&tmp.path().join("out"), &[("P4CLONE_BMV2", &stub), ("P4CLONE_P4SRC", &empty)], tmp.path());
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("build/traffic_clone.json is missing"), "{e}");
    assert!(e.contains("p4c --target bmv2 --arch v1model"), "{e}");

    let stale = fake_p4src(&tmp.path().join("stale"), false);
    let o = run_bmv2(&tmp.path().join("out"), &[("P4CLONE_BMV2", &stub), ("P4CLONE_P4SRC", &stale)], tmp.path());
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("are stale") && e.contains("scripts/p4c-check.sh --update"), "{e}");
}

#[test]
fn push_failure_shows_bmv2_output_and_keeps_its_work_directory() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let p4src = fake_p4src(tmp.path(), true);
    let stub = stub();
    let o = run_bmv2(&tmp.path().join("out"), &[("P4CLONE_BMV2", &stub), ("P4CLONE_P4SRC", &p4src)], tmp.path());
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("p4clone run: BMv2") && e.contains("ports [1, 2, 3]"), "{e}");
    assert!(e.contains("push to nic0"), "{e}");
    // the stub's stdout, as BMv2 prints it
    assert!(e.contains("Adding interface") && e.contains("as port 3 (files)"), "{e}");
    let kept = e.lines().find_map(|l| l.trim().strip_prefix("BMv2 work directory (kept): ")).expect("work dir named");
    assert!(Path::new(kept).join("p1_in.pcap").is_file(), "{kept}");
    assert!(Path::new(kept).join("p3_in.pcap").is_file(), "an empty input for the clone port: {kept}");
}

#[test]
fn unreadable_input_is_bad_input() {
    if !have_python() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let p4src = fake_p4src(tmp.path(), true);
    let bad = tmp.path().join("bad.pcap");
    std::fs::write(&bad, b"this is not a pcap file at all").unwrap();
    let spec = format!("1={}", bad.display());
    let out = tmp.path().join("out").display().to_string();
    let stub = stub();
    let o = p4clone(
        &["run", "examples/basic.yaml", "--target", "bmv2", "--pcap", &spec, "--out", &out],
        &[("P4CLONE_BMV2", &stub), ("P4CLONE_P4SRC", &p4src)],
        tmp.path(),
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("bad.pcap") && e.contains("not a classic pcap file"), "{e}");
}

#[test]
fn bad_bmv2_flags_are_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out").display().to_string();
    for flag in [["--bmv2-settle", "0"], ["--bmv2-timeout", "-3"], ["--bmv2-window", "0"], ["--target", "tofino"]] {
        let mut args = vec!["run"];
        args.extend(BASIC);
        args.push(&out);
        args.extend(flag);
        let o = p4clone(&args, &[], tmp.path());
        assert_eq!(o.status.code(), Some(2), "{flag:?}: {}", stderr(&o));
    }
}
