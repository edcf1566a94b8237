//! Finding `simple_switch_grpc` and p4c.
//!
//! - BMv2: `$P4CLONE_BMV2` if set (a path, or a name looked up on `PATH`), else
//!   `simple_switch_grpc` on `PATH`.
//! - p4c: `$P4CLONE_P4C` if set, else `p4c-bm2-ss` on `PATH`, else `p4c`. Either
//!   the driver (`p4c`) or the BMv2 back end (`p4c-bm2-ss`); [`P4c::kind`] says
//!   which, because their `-o` differs.
//!
//! A variable that is set but names nothing executable is an error, never a
//! silent fall back to `PATH`: the user asked for that binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::error::{Bmv2Error, Result};

/// Environment variable naming the `simple_switch_grpc` binary.
pub const BMV2_ENV: &str = "P4CLONE_BMV2";
/// Environment variable naming the p4c binary (`p4c` or `p4c-bm2-ss`).
pub const P4C_ENV: &str = "P4CLONE_P4C";
/// The BMv2 binary looked up on `PATH`.
pub const BMV2_NAME: &str = "simple_switch_grpc";

const BMV2_NEEDED: &str = "BMv2 `simple_switch_grpc` built with P4Runtime support (PI): put it on PATH or set \
                           P4CLONE_BMV2=/path/to/simple_switch_grpc (README: \"Testing on BMv2\")";
const P4C_NEEDED: &str = "p4c with the BMv2 back end (`p4c-bm2-ss`, or the `p4c` driver), 2024 or later: put it on \
                          PATH or set P4CLONE_P4C=/path/to/p4c-bm2-ss (README: \"Testing on BMv2\")";

/// Whether `p` is an executable regular file.
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `name` looked up on `PATH` (or `name` itself when it contains a `/`).
pub fn which(name: impl AsRef<OsStr>) -> Option<PathBuf> {
    let name = Path::new(name.as_ref());
    if name.as_os_str().is_empty() {
        return None;
    }
    if name.components().count() > 1 || name.is_absolute() {
        return is_executable(name).then(|| name.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

/// Resolves `$var` if set: `Ok(Some(path))`, `Ok(None)` when unset, an error
/// naming the variable when it names nothing executable.
fn from_env(var: &str, tool: &'static str, needed: &'static str) -> Result<Option<PathBuf>> {
    match std::env::var_os(var) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => which(&v).map(Some).ok_or_else(|| Bmv2Error::NotFound {
            tool,
            detail: format!("{var}={} is not an executable file (nor a name on PATH)", Path::new(&v).display()),
            needed,
        }),
    }
}

/// The `simple_switch_grpc` to run.
pub fn find_bmv2() -> Result<PathBuf> {
    if let Some(p) = from_env(BMV2_ENV, BMV2_NAME, BMV2_NEEDED)? {
        return Ok(p);
    }
    which(BMV2_NAME).ok_or_else(|| Bmv2Error::NotFound {
        tool: BMV2_NAME,
        detail: format!("no `{BMV2_NAME}` on PATH and {BMV2_ENV} is not set"),
        needed: BMV2_NEEDED,
    })
}

/// Which p4c front end a binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P4cKind {
    /// The `p4c` driver: `--target bmv2 --arch v1model ... -o DIR`.
    Driver,
    /// The BMv2 back end: `--arch v1model ... -o FILE.json`.
    Bm2Ss,
}

/// A p4c binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P4c {
    /// The binary.
    pub path: PathBuf,
    /// Driver or back end.
    pub kind: P4cKind,
}

impl P4c {
    /// A p4c at `path`, its kind taken from the file name.
    pub fn at(path: PathBuf) -> P4c {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let kind = if name.starts_with("p4c-bm2-ss") { P4cKind::Bm2Ss } else { P4cKind::Driver };
        P4c { path, kind }
    }
}

/// The p4c to compile with.
pub fn find_p4c() -> Result<P4c> {
    if let Some(p) = from_env(P4C_ENV, "p4c", P4C_NEEDED)? {
        return Ok(P4c::at(p));
    }
    which("p4c-bm2-ss").or_else(|| which("p4c")).map(P4c::at).ok_or_else(|| Bmv2Error::NotFound {
        tool: "p4c",
        detail: format!("neither `p4c-bm2-ss` nor `p4c` is on PATH and {P4C_ENV} is not set"),
        needed: P4C_NEEDED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_sh_and_refuses_missing() {
        assert!(which("sh").is_some());
        assert!(which("/bin/sh").is_some());
        assert!(which("p4clone-no-such-binary-xyz").is_none());
        assert!(which("/nonexistent/dir/tool").is_none());
        assert!(which("").is_none());
    }

    #[test]
    fn p4c_kind_from_name() {
        assert_eq!(P4c::at("/usr/local/bin/p4c-bm2-ss".into()).kind, P4cKind::Bm2Ss);
        assert_eq!(P4c::at("/usr/bin/p4c".into()).kind, P4cKind::Driver);
    }

    #[test]
    fn not_found_says_what_is_needed() {
        let e = Bmv2Error::NotFound { tool: BMV2_NAME, detail: "x".into(), needed: BMV2_NEEDED };
        let m = e.to_string();
        assert!(m.contains("simple_switch_grpc not found"), "{m}");
        assert!(m.contains("P4CLONE_BMV2"), "{m}");
    }
}
