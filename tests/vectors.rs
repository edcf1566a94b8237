//! Replays every shared packet test vector (`tests/vectors/<case>/`, see its
//! README; cases read with `p4clone::jobs::vectors`, as `diff --vectors` reads
//! them) through the `p4clone` binary and compares each port's output with
//! `expected-<port>.pcap`, byte for byte and in order:
//!
//! - `vectors_through_run`: `p4clone run` (in-process software target, entities
//!   pushed over real P4Runtime gRPC, pcap replay merged by timestamp);
//! - `vectors_through_soft`: `p4clone soft --config` (entities loaded in process,
//!   pcap port backend);
//! - `vectors_through_run_as_tofino`: `p4clone run` on each case's config with its
//!   device's target set to `tofino` (the software target then runs the TNA
//!   program's P4Info with Stratum's clone-session rules, and the clone sessions,
//!   not the program, truncate). The `encap-*`, `filter-*` and `sample-*` cases
//!   are refused there (exit 2, "no encapsulated delivery" / "no filter or
//!   sampling actions"): the TNA program has neither yet.
//!
//! Every port named by an `in-`/`expected-` file is opened (inputs as `--pcap` /
//! `--port`; outputs are created for every port that sends). A port without an
//! expected file must emit nothing. All cases run; the failure lists every
//! mismatch (case, port, frame index, first differing byte).
//!
//! A case may be listed in [`KNOWN_FAILING`] only with the reason; it is then
//! reported loudly on stderr instead of failing, and a listed case that passes
//! fails the test (so the list cannot go stale).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use p4clone::jobs::compare::frames_of;
use p4clone::jobs::vectors::{output_file, output_ports, vector_cases, VectorCase};

/// `(case, reason)` of cases allowed to fail. Keep empty unless a failure is
/// understood and owned by someone; never list a case silently.
const KNOWN_FAILING: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cases of `tests/vectors`, read by the library's reader (as `diff --vectors`).
fn cases() -> Vec<VectorCase> {
    vector_cases(&root().join("tests/vectors")).expect("tests/vectors")
}

/// A pcap file's frames (none if it does not exist).
fn frames(path: &Path) -> Vec<Vec<u8>> {
    frames_of(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Mismatches of one port, as messages.
fn compare(case: &str, port: u16, got: &[Vec<u8>], want: &[Vec<u8>]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            let at = g.iter().zip(w.iter()).position(|(a, b)| a != b).unwrap_or(g.len().min(w.len()));
            out.push(format!(
                "{case}: port {port}: frame {i}: first difference at byte {at} (got {}, want {}; lengths {} vs {})",
                g.get(at).map_or("end".into(), |b| format!("{b:#04x}")),
                w.get(at).map_or("end".into(), |b| format!("{b:#04x}")),
                g.len(),
                w.len()
            ));
            if out.len() >= 3 {
                out.push(format!("{case}: port {port}: (further differing frames not listed)"));
                return out;
            }
        }
    }
    if got.len() != want.len() {
        out.push(format!("{case}: port {port}: {} frames emitted, {} expected", got.len(), want.len()));
    }
    out
}

/// `config` with every `target: soft` device made a Tofino device, written next to `out`.
fn as_tofino(config: &Path, out: &Path) -> PathBuf {
    let text = std::fs::read_to_string(config).expect("read the case config");
    let re = |line: &str| {
        let t = line.trim_start();
        if t.starts_with("target: soft") {
            format!("{}target: tofino", &line[..line.len() - t.len()])
        } else {
            line.to_string()
        }
    };
    let tofino: Vec<String> = text.lines().map(re).collect();
    assert!(tofino.iter().any(|l| l.trim() == "target: tofino"), "{}: no soft device", config.display());
    let path = out.with_extension("tofino.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, tofino.join("\n") + "\n").unwrap();
    path
}

fn run_case(case: &VectorCase, how: &str, out: &Path) -> Output {
    let ins = case.input_ports();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_p4clone"));
    cmd.current_dir(root());
    let config = if how == "run-tofino" { as_tofino(&case.config(), out) } else { case.config() };
    match how {
        "run" | "run-tofino" => {
            cmd.arg("run").arg(&config).arg("--out").arg(out).args(["--output", "json"]);
            for p in &ins {
                cmd.arg("--pcap").arg(format!("{p}={}", case.input(*p).display()));
            }
        }
        "soft" => {
            cmd.args(["soft", "--p4rt", "127.0.0.1:0", "--config"]).arg(&config).arg("--out").arg(out);
            for p in &ins {
                cmd.arg("--port").arg(format!("{p}=pcap:{}", case.input(*p).display()));
            }
        }
        _ => unreachable!(),
    }
    cmd.output().expect("run p4clone")
}

/// Replays every case with `how`; returns (case, problems) per case.
fn replay_all(how: &str) -> Vec<(String, Vec<String>)> {
    let tmp = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for case in cases() {
        let name = case.name();
        let out = tmp.path().join(&name);
        let o = run_case(&case, how, &out);
        let mut problems = Vec::new();
        let config = std::fs::read_to_string(case.config()).unwrap();
        // The TNA program has no encapsulated delivery, filters or sampling yet:
        // `run` must refuse such a config, naming why, rather than send anything.
        let refusal = if config.contains("encap:") {
            Some("no encapsulated delivery")
        } else if config.contains("filters:") || config.contains("sample:") {
            Some("no filter or sampling actions")
        } else {
            None
        };
        if let (Some(why), "run-tofino") = (refusal, how) {
            let err = String::from_utf8_lossy(&o.stderr);
            if o.status.code() != Some(2) || !err.contains(why) {
                problems.push(format!("{name}: want exit 2 ({why} on tofino), got {}:\n{err}", o.status));
            }
        } else if !o.status.success() {
            problems.push(format!(
                "{name}: p4clone {how} failed ({}):\n{}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ));
        } else {
            let expected = case.expected_ports();
            let produced = output_ports(&out);
            for port in expected.union(&produced) {
                let got = frames(&output_file(&out, *port));
                let want = frames(&case.expected(*port));
                problems.extend(compare(&name, *port, &got, &want));
            }
        }
        results.push((name, problems));
    }
    results
}

fn check(how: &str) {
    let results = replay_all(how);
    assert!(results.len() >= 23, "expected at least 23 vector cases, found {}", results.len());
    let mut failures = Vec::new();
    for (case, problems) in &results {
        let known = KNOWN_FAILING.iter().find(|(c, _)| c == case);
        match (problems.is_empty(), known) {
            (true, None) => eprintln!("vector {case} ({how}): ok"),
            (true, Some(_)) => failures.push(format!("{case}: listed in KNOWN_FAILING but passes; remove it")),
            (false, Some((_, why))) => {
                eprintln!("!!!!!!!! KNOWN FAILING vector {case} ({how}): {why}");
                for p in problems {
                    eprintln!("!!!!!!!!   {p}");
                }
            }
            (false, None) => {
                eprintln!("vector {case} ({how}): FAILED");
                failures.extend(problems.iter().cloned());
            }
        }
    }
    assert!(failures.is_empty(), "{} vector problem(s) ({how}):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn vectors_through_run() {
    check("run");
}

#[test]
fn vectors_through_soft() {
    check("soft");
}

#[test]
fn vectors_through_run_as_tofino() {
    check("run-tofino");
}

#[test]
fn compare_names_frame_and_byte() {
    let want = vec![vec![1, 2, 3], vec![4, 5, 6]];
    assert!(compare("c", 3, &want, &want).is_empty());
    let got = vec![vec![1, 2, 3], vec![4, 9, 6]];
    let p = compare("c", 3, &got, &want);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("port 3: frame 1: first difference at byte 1 (got 0x09, want 0x05"), "{p:?}");
    let p = compare("c", 3, &want[..1], &want);
    assert!(p[0].contains("1 frames emitted, 2 expected"), "{p:?}");
    let p = compare("c", 3, &[vec![1, 2]], &want[..1]);
    assert!(p[0].contains("byte 2 (got end, want 0x03; lengths 2 vs 3)"), "{p:?}");
}
