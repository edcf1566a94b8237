//! What the end-to-end tests of the `p4clone` binary share: where the repository is,
//! running the binary, reading its output, and the bad-input contract.
//!
//! Each test file includes this with `mod common;` and uses what it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use p4clone_soft::ports::pcap::read_all;

pub mod child;
#[cfg(target_os = "linux")]
pub mod netns;
pub mod soft_process;

/// The repository root (the `p4clone` package), where examples and test data live.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `p4clone` binary from the repository root with `args`, backtraces on
/// so that a panic is recognisable in stderr.
pub fn p4clone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p4clone"))
        .current_dir(root())
        .env("RUST_BACKTRACE", "1")
        .args(args)
        .output()
        .expect("run p4clone")
}

/// The command's stdout, lossily decoded.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The command's stderr, lossily decoded.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Bad input: exit code 2, an `error: ` line, no panic or backtrace. Returns stderr.
pub fn assert_bad_input(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "want exit 2; stderr:\n{err}");
    assert!(err.contains("error: "), "no error line:\n{err}");
    assert!(!err.contains("panicked") && !err.contains("stack backtrace"), "panic:\n{err}");
    err
}

/// The frames of a pcap file, in order (timestamps dropped).
pub fn frames(path: &Path) -> Vec<Vec<u8>> {
    read_all(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_iter().map(|r| r.1).collect()
}
