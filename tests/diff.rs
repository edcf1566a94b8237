//! `p4clone diff` on the software target: identical runs, kept outputs, JSON,
//! and bad input. (Reporting an altered output is `tests/fidelity.rs`'s
//! `diff_reports_an_altered_output`; the decoder and comparison are unit-tested
//! in `src/jobs/compare.rs` and `src/commands/diff.rs`.)

mod common;

use common::p4clone;
use std::process::Output;

fn all(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const BASIC: [&str; 5] =
    ["examples/basic.yaml", "--pcap", "1=examples/basic-port1.pcap", "--pcap", "2=examples/basic-port2.pcap"];

#[test]
fn soft_vs_soft_is_identical_and_keeps_outputs_with_out() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("kept").display().to_string();
    let mut args = vec!["diff"];
    args.extend(BASIC);
    args.extend(["--a", "soft", "--b", "soft", "--out", &out, "--output", "json"]);
    let o = p4clone(&args);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["identical"], true);
    let c = &v["comparisons"][0];
    assert_eq!(c["a"], "soft (A)");
    assert_eq!(c["b"], "soft (B)");
    assert_eq!(c["name"], "examples/basic.yaml (device nic0)");
    let ports: Vec<u64> = c["ports"].as_array().unwrap().iter().map(|p| p["port"].as_u64().unwrap()).collect();
    assert_eq!(ports, vec![1, 2, 3]);
    let p3 = &c["ports"][2];
    assert_eq!((p3["a_frames"].as_u64(), p3["b_frames"].as_u64()), (Some(93), Some(93)));
    for side in ["a-soft", "b-soft"] {
        assert!(tmp.path().join("kept").join(side).join("port-3.pcap").is_file(), "{side}");
    }
}

#[test]
fn one_vector_case_on_soft() {
    let o = p4clone(&["diff", "--vectors", "tests/vectors/vlan-push"]);
    let t = all(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("vlan-push: soft vs expected: identical (5 ports"), "{t}");
    let o = p4clone(&["diff", "--vectors", "tests/vectors", "--case", "truncate", "--case", "ipv6"]);
    let t = all(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("result: identical (2 comparisons)"), "{t}");
}

#[test]
fn bad_input_is_exit_2() {
    let cases: Vec<Vec<&str>> = vec![
        vec!["diff", "examples/basic.yaml"],
        vec!["diff", "--vectors", "/nonexistent/vectors"],
        vec!["diff", "--vectors", "examples"],
        vec!["diff", "--vectors", "tests/vectors", "--case", "no-such-case"],
        vec!["diff", "examples/basic.yaml", "--pcap", "1=examples/basic-port1.pcap", "--vectors", "tests/vectors"],
        vec!["diff", "examples/basic.yaml", "--pcap", "1=/nonexistent.pcap", "--b", "soft"],
        vec!["diff", "examples/multi.yaml", "--pcap", "1=examples/basic-port1.pcap", "--b", "soft"],
        vec!["diff", "examples/basic.yaml", "--pcap", "1=examples/basic-port1.pcap", "--a", "tofino"],
    ];
    for args in cases {
        let o = p4clone(&args);
        let t = all(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}:\n{t}");
        assert!(t.contains("error"), "{args:?}:\n{t}");
        assert!(!t.contains("panicked"), "{args:?}:\n{t}");
    }
}
