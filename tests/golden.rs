//! Golden tests: `p4clone compile examples/X.yaml --output text` must equal
//! `tests/golden/X.txt` byte for byte.
//!
//! When the output changes on purpose, regenerate the files and review the diff:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test --test golden
//! git diff tests/golden
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compile_text(example: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_p4clone"))
        .current_dir(root())
        .args(["compile", &format!("examples/{example}.yaml"), "--output", "text"])
        .output()
        .expect("run p4clone");
    assert!(
        out.status.success(),
        "p4clone compile examples/{example}.yaml failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn check_golden(example: &str) {
    let actual = compile_text(example);
    let path: PathBuf = root().join("tests/golden").join(format!("{example}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let first = actual.lines().zip(expected.lines()).position(|(a, e)| a != e);
        panic!(
            "`p4clone compile examples/{example}.yaml --output text` differs from {} (first differing line: {}).\n\
             If the change is intended, regenerate with\n    UPDATE_GOLDEN=1 cargo test --test golden\n\
             and review `git diff tests/golden`.",
            rel(&path),
            first.map_or_else(|| "one output is a prefix of the other".to_string(), |l| (l + 1).to_string()),
        );
    }
    // Stable across runs.
    assert_eq!(actual, compile_text(example), "two runs differ");
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn golden_basic() {
    check_golden("basic");
}

#[test]
fn golden_multi() {
    check_golden("multi");
}

#[test]
fn golden_ssl_tandem() {
    check_golden("ssl-tandem");
}

/// A Tofino device: clone sessions with instance 0 and the truncation as
/// `packet_length_bytes`, `truncate_len` 0 (`compiler::target`).
#[test]
fn golden_tofino() {
    check_golden("tofino");
}

/// Filters and sampling: `classify_skip` entries, port blocks at priorities above
/// the VS's own, `classify_hit_sampled` with the bucket threshold.
#[test]
fn golden_remote_vxlan_filtered() {
    check_golden("remote-vxlan-filtered");
}
