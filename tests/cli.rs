//! End-to-end tests of the `p4clone` binary: exit codes (0 ok, 2 bad input), error
//! messages on stderr, no panics, and the shape of `check` / `compile` output.

mod common;

use std::path::Path;

use common::{assert_bad_input, p4clone, root, stderr, stdout};
use p4clone_proto::format;
use p4clone_proto::p4::v1::WriteRequest;

const EXAMPLES: [&str; 3] = ["examples/basic.yaml", "examples/multi.yaml", "examples/ssl-tandem.yaml"];

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn basic_text() -> String {
    std::fs::read_to_string(root().join("examples/basic.yaml")).unwrap()
}

#[test]
fn help_is_useful_on_its_own() {
    let o = p4clone(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for want in ["check", "compile", "Exit codes", "clone servers", "bad input"] {
        assert!(out.contains(want), "--help lacks {want:?}:\n{out}");
    }
    assert_eq!(p4clone(&["compile", "--help"]).status.code(), Some(0));
    let o = p4clone(&["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn check_accepts_every_example() {
    for ex in EXAMPLES {
        let o = p4clone(&["check", ex]);
        assert_eq!(o.status.code(), Some(0), "{ex}: {}", stderr(&o));
        let out = stdout(&o);
        for want in ["valid", "virtual services", "clone members", "DEVICE", "clone_classify_v4", "total"] {
            assert!(out.contains(want), "{ex}: summary lacks {want:?}:\n{out}");
        }
    }
}

#[test]
fn check_summary_counts_basic() {
    let out = stdout(&p4clone(&["check", "examples/basic.yaml"]));
    let line = |name: &str| out.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or("").to_string();
    assert!(line("clone members").ends_with(" 2"), "{out}");
    assert!(line("tenants").ends_with(" 2"), "{out}");
    let o = p4clone(&["check", "examples/basic.yaml", "--output", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("check --output json is JSON");
    assert_eq!(v["members"], 2);
    assert_eq!(v["devices"][0]["tables"]["clone_classify_v4"], 4);
    assert_eq!(v["devices"][0]["tables"]["wire"], 2);
}

#[test]
fn unreachable_clone_subnet_names_the_clone_server() {
    let dir = tempfile::tempdir().unwrap();
    // A clone network no SE interface is attached to.
    let text = basic_text()
        .replace(
            "  - name: monitor\n    subnet: 192.168.50.0/24",
            "  - name: isolated\n    subnet: 192.168.99.0/24\n  - name: monitor\n    subnet: 192.168.50.0/24",
        )
        .replacen(
            "      - network: monitor\n        subnet: 192.168.50.0/24\n        ip: 192.168.50.10",
            "      - network: isolated\n        subnet: 192.168.99.0/24\n        ip: 192.168.99.10",
            1,
        );
    assert!(text.contains("isolated"), "fixture edit applied");
    let f = write(dir.path(), "unreachable.yaml", &text);
    let o = p4clone(&["check", &f]);
    let err = assert_bad_input(&o);
    assert!(err.contains("traffic_clone_profiles[0].clone_servers[0]"), "path missing:\n{err}");
    assert!(err.contains("line "), "no line:column:\n{err}");
    assert!(err.lines().last().unwrap().contains("error"), "final count line:\n{err}");
    assert!(stdout(&o).is_empty());
    // compile refuses the same config.
    assert_bad_input(&p4clone(&["compile", &f]));
}

#[test]
fn garbage_yaml_wrong_types_and_missing_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("garbage.yaml", "::: [ { unbalanced\n\t- :"),
        ("types.yaml", "devices: 5\n"),
        ("unknown.yaml", "devicez: []\n"),
        ("binary.yaml", "\u{0}\u{1}\u{2}"),
        ("bad.json", "{\"devices\": [}"),
    ] {
        let f = write(dir.path(), name, text);
        let err = assert_bad_input(&p4clone(&["check", &f]));
        assert!(err.contains(name), "{name}: message should name the file:\n{err}");
        assert_bad_input(&p4clone(&["compile", &f]));
    }
    let err = assert_bad_input(&p4clone(&["check", "does/not/exist.yaml"]));
    assert!(err.contains("does/not/exist.yaml"), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear message:\n{err}");
}

#[test]
fn json_config_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let v: serde_json::Value = serde_norway::from_str(&basic_text()).unwrap();
    let f = write(dir.path(), "basic.json", &serde_json::to_string_pretty(&v).unwrap());
    let o = p4clone(&["compile", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&p4clone(&["compile", "examples/basic.yaml"])));
}

#[test]
fn unknown_device_exits_2_listing_known_ones() {
    let err = assert_bad_input(&p4clone(&["compile", "examples/multi.yaml", "--device", "nope"]));
    assert!(err.contains("`nope`"), "{err}");
    assert!(err.contains("nic0"), "lists known devices: {err}");
}

#[test]
fn compile_text_parses_back_per_device() {
    for ex in EXAMPLES {
        let o = p4clone(&["compile", ex]);
        assert_eq!(o.status.code(), Some(0), "{ex}: {}", stderr(&o));
        let out = stdout(&o);
        let mut sections: Vec<(String, String)> = Vec::new();
        for line in out.lines() {
            if let Some(h) = line.strip_prefix("# device ") {
                sections.push((h.to_string(), String::new()));
            } else {
                let s = &mut sections.last_mut().expect("output starts with a device comment").1;
                s.push_str(line);
                s.push('\n');
            }
        }
        assert!(!sections.is_empty());
        for (h, text) in sections {
            let wr: WriteRequest = format::from_text(&text).unwrap_or_else(|e| panic!("{ex} {h}: {e}"));
            assert!(!wr.updates.is_empty(), "{ex} {h}");
            assert_eq!(wr.device_id, 1);
        }
    }
}

#[test]
fn compile_json_is_an_array_of_devices() {
    let o = p4clone(&["compile", "examples/multi.yaml", "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    let arr = v.as_array().expect("array");
    assert!(arr.len() >= 2);
    let mut names: Vec<&str> = arr.iter().map(|d| d["device"].as_str().unwrap()).collect();
    let sorted = {
        let mut s = names.clone();
        s.sort();
        s
    };
    assert_eq!(names, sorted, "devices sorted by name");
    for d in arr {
        let wr: WriteRequest = format::from_json(&d["write_request"].to_string()).expect("proto3 JSON");
        assert!(!wr.updates.is_empty());
    }
    // --device narrows to one element.
    let o = p4clone(&["compile", "examples/multi.yaml", "--output", "json", "--device", names[0]]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    names.truncate(1);
    assert_eq!(v[0]["device"], names[0]);
}

#[test]
fn output_file_and_unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("out.txt");
    let o = p4clone(&["compile", "examples/basic.yaml", "-o", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    assert_eq!(std::fs::read_to_string(&f).unwrap(), stdout(&p4clone(&["compile", "examples/basic.yaml"])));
    let bad = dir.path().join("no/such/dir/out.txt");
    let err = assert_bad_input(&p4clone(&["compile", "examples/basic.yaml", "-o", bad.to_str().unwrap()]));
    assert!(err.contains("out.txt"), "{err}");
}
