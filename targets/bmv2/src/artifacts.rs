//! The compiled program BMv2 runs: `p4src/build/traffic_clone.json` and the
//! P4Info p4c wrote beside it, and whether they were compiled from the current
//! `p4src/traffic_clone.p4` (`build/SOURCE.sha256`, see `p4src/README.md`).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Bmv2Error, Result};

pub use p4clone_proto::program::build::{BMV2_JSON as BUILD_JSON, BUILD_P4INFO, P4INFO, SOURCE, SOURCE_SHA256};
use p4clone_proto::program::build::{P4C_COMMAND, REBUILD_SCRIPT};

/// The command that (re)builds `p4src/build/`, for error messages.
pub static REBUILD_COMMAND: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{REBUILD_SCRIPT}   (or, in p4src/: mkdir -p build && {P4C_COMMAND} && sha256sum {SOURCE} > {SOURCE_SHA256})"
    )
});

/// The short form, for warnings.
pub const REBUILD_SHORT: &str = "scripts/p4c-check.sh --update (see p4src/README.md)";

/// sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Bmv2Error::io(format!("cannot read {}", path.display()), e))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Whether `build/` was compiled from the current source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// `SOURCE.sha256` matches the source.
    Fresh,
    /// No `SOURCE.sha256` (nothing compiled, or not recorded).
    Unrecorded,
    /// `SOURCE.sha256` names another source.
    Stale {
        /// The recorded hash.
        recorded: String,
        /// The source's hash.
        actual: String,
    },
    /// `SOURCE.sha256` or the source cannot be read or parsed.
    Unreadable(String),
}

impl std::fmt::Display for Freshness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Freshness::Fresh => write!(f, "p4src/build matches {SOURCE} (build/SOURCE.sha256)"),
            Freshness::Unrecorded => write!(
                f,
                "p4src/build/SOURCE.sha256 is missing: the compiled artifacts are absent or unrecorded; \
                 produce them with {REBUILD_SHORT}"
            ),
            Freshness::Stale { recorded, actual } => write!(
                f,
                "p4src/build is stale: build/SOURCE.sha256 records {recorded} but {SOURCE} is {actual}; \
                 refresh with {REBUILD_SHORT}"
            ),
            Freshness::Unreadable(m) => write!(f, "cannot check p4src/build/SOURCE.sha256: {m}"),
        }
    }
}

/// Parses a `sha256sum` line (`<64 hex>  name`): the hash, lowercase.
fn parse_record(text: &str) -> Option<String> {
    let first = text.split_whitespace().next()?;
    (first.len() == 64 && first.bytes().all(|b| b.is_ascii_hexdigit())).then(|| first.to_ascii_lowercase())
}

/// Compares `p4src/build/SOURCE.sha256` with the sha256 of `p4src/traffic_clone.p4`.
pub fn freshness(p4src: &Path) -> Freshness {
    let record = p4src.join(SOURCE_SHA256);
    let text = match std::fs::read_to_string(&record) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Freshness::Unrecorded,
        Err(e) => return Freshness::Unreadable(format!("{}: {e}", record.display())),
    };
    let Some(recorded) = parse_record(&text) else {
        return Freshness::Unreadable(format!("{} is not a `sha256sum` line", record.display()));
    };
    match sha256_file(&p4src.join(SOURCE)) {
        Ok(actual) if actual == recorded => Freshness::Fresh,
        Ok(actual) => Freshness::Stale { recorded, actual },
        Err(e) => Freshness::Unreadable(e.to_string()),
    }
}

/// The artifacts of a fresh build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// The BMv2 JSON.
    pub json: PathBuf,
    /// The P4Info p4c wrote.
    pub p4info: PathBuf,
}

/// Checks that `p4src/build/` holds the BMv2 JSON and P4Info and that they were
/// compiled from the current source. Missing or stale: an error naming the
/// command that rebuilds them.
pub fn check_artifacts(p4src: &Path) -> Result<Artifacts> {
    let json = p4src.join(BUILD_JSON);
    let p4info = p4src.join(BUILD_P4INFO);
    for p in [&json, &p4info] {
        match std::fs::metadata(p) {
            Ok(m) if m.is_file() && m.len() > 0 => {}
            Ok(_) => {
                return Err(Bmv2Error::ArtifactMissing {
                    path: p.clone(),
                    why: "empty or not a file".into(),
                    command: REBUILD_COMMAND.clone(),
                })
            }
            Err(e) => {
                return Err(Bmv2Error::ArtifactMissing {
                    path: p.clone(),
                    why: e.to_string(),
                    command: REBUILD_COMMAND.clone(),
                })
            }
        }
    }
    match freshness(p4src) {
        Freshness::Fresh => Ok(Artifacts { json, p4info }),
        Freshness::Stale { recorded, actual } => Err(Bmv2Error::ArtifactStale {
            dir: p4src.join("build"),
            recorded,
            actual,
            command: REBUILD_COMMAND.clone(),
        }),
        Freshness::Unrecorded => Err(Bmv2Error::ArtifactMissing {
            path: p4src.join(SOURCE_SHA256),
            why: "the build does not record which source it came from, so it may be stale".into(),
            command: REBUILD_COMMAND.clone(),
        }),
        Freshness::Unreadable(m) => Err(Bmv2Error::ArtifactMissing {
            path: p4src.join(SOURCE_SHA256),
            why: m,
            command: REBUILD_COMMAND.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p4src_with(source: &str, record: Option<&str>, artifacts: bool) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(SOURCE), source).unwrap();
        std::fs::create_dir_all(d.path().join("build")).unwrap();
        if let Some(r) = record {
            std::fs::write(d.path().join(SOURCE_SHA256), r).unwrap();
        }
        if artifacts {
            std::fs::write(d.path().join(BUILD_JSON), "{}").unwrap();
            std::fs::write(d.path().join(BUILD_P4INFO), "pkg_info {}").unwrap();
        }
        d
    }

    #[test]
    fn fresh_stale_unrecorded() {
        // sha256("x\n")
        let h = "73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac";
        let d = p4src_with("x\n", Some(&format!("{h}  traffic_clone.p4\n")), true);
        assert_eq!(freshness(d.path()), Freshness::Fresh);
        assert!(check_artifacts(d.path()).is_ok());

        let d = p4src_with("y\n", Some(&format!("{h}  traffic_clone.p4\n")), true);
        assert!(matches!(freshness(d.path()), Freshness::Stale { .. }));
        let m = check_artifacts(d.path()).unwrap_err().to_string();
        assert!(m.contains("stale") && m.contains("p4c"), "{m}");

        let d = p4src_with("x\n", None, true);
        assert_eq!(freshness(d.path()), Freshness::Unrecorded);
        assert!(check_artifacts(d.path()).unwrap_err().to_string().contains("SOURCE.sha256"));

        let d = p4src_with("x\n", Some("garbage"), true);
        assert!(matches!(freshness(d.path()), Freshness::Unreadable(_)));
    }

    #[test]
    fn missing_json_names_file_and_command() {
        let d = p4src_with("x\n", None, false);
        let m = check_artifacts(d.path()).unwrap_err().to_string();
        assert!(m.contains("build/traffic_clone.json"), "{m}");
        assert!(m.contains("p4c --target bmv2"), "{m}");
    }
}
