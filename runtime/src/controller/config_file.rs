//! The controller's config file: loading it with every check `p4clone check`
//! makes (syntax, validation, compilation), and noticing that it changed
//! (a filesystem watch on its directory, [`watch`], plus a [`fingerprint`]
//! the supervisor also polls, for filesystems without notifications).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use p4clone_compiler::config::Config;
use p4clone_compiler::diag::Severity;
use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::source;

/// Why a config was refused: every error, each with its object path and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .errors.join("; "))]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// One message per problem, each naming the file
    /// (`c.yaml: error: devices[0].address (line 4, column 14): ...`).
    pub errors: Vec<String>,
}

/// A config that loaded, validated and compiled.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The config.
    pub config: Config,
    /// Validation warnings, printable.
    pub warnings: Vec<String>,
    /// Fingerprint of the bytes it was loaded from ([`fingerprint`]).
    pub fingerprint: Option<u64>,
}

/// Loads `path`, validates it and compiles it once (without hints), so a
/// config that cannot be pushed is refused here, before anything is written.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let refuse = |errors: Vec<String>| ConfigError { path: path.to_path_buf(), errors };
    let located = |d: &p4clone_compiler::diag::Diagnostic| format!("{}: {d}", path.display());
    let fp = fingerprint(path);
    let loaded = source::load_file(path).map_err(|e| refuse(vec![e.to_string()]))?;
    let checked = loaded.check_resolved();
    let errors: Vec<String> =
        checked.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(located).collect();
    if !errors.is_empty() {
        return Err(refuse(errors));
    }
    let warnings = checked.diagnostics.iter().map(located).collect();
    if let Err(mut diags) = intent::compile(&loaded.config, &Allocation::default()) {
        loaded.source_map.annotate(&mut diags);
        return Err(refuse(diags.iter().map(located).collect()));
    }
    Ok(LoadedConfig { config: loaded.config, warnings, fingerprint: fp })
}

/// A hash of the file's bytes (`None` if it cannot be read): the watch
/// compares it with the last one seen.
pub fn fingerprint(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// Watches the directory of `path` and sends `()` on `tx` whenever an event
/// names the file (written, created, renamed over: editors that save by
/// rename are seen too). `None` when the platform or the directory cannot be
/// watched; the caller then relies on polling. The watch lasts as long as
/// the returned watcher.
pub fn watch(path: &Path, tx: tokio::sync::mpsc::UnboundedSender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name()?.to_owned();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(e) = event {
            if e.paths.iter().any(|p| p.file_name() == Some(name.as_os_str())) {
                let _ = tx.send(());
            }
        }
    })
    .ok()?;
    watcher.watch(&dir, notify::RecursiveMode::NonRecursive).ok()?;
    Some(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_config_names_path_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        let good =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/basic.yaml")).unwrap();
        std::fs::write(&p, good.replacen("device_id: 1", "device_id: -1", 1)).unwrap();
        let e = load(&p).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("devices[0].device_id"), "{m}");
        assert!(m.contains("c.yaml"), "{m}");
        std::fs::write(&p, good.replacen("address: 127.0.0.1:9559", "address: ''", 1)).unwrap();
        let m = load(&p).unwrap_err().to_string();
        assert!(m.contains("devices[0].address (line 18"), "{m}");
        assert!(fingerprint(&p).is_some());
        assert!(fingerprint(&dir.path().join("missing")).is_none());
    }

    #[tokio::test]
    async fn watch_reports_a_rename_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        std::fs::write(&p, "a").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let Some(_w) = watch(&p, tx) else { return };
        std::fs::write(dir.path().join("other.yaml"), "x").unwrap();
        let tmp = dir.path().join("c.yaml.tmp");
        std::fs::write(&tmp, "b").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await;
        assert!(matches!(got, Ok(Some(()))), "no event for the rename over the file");
    }

    #[test]
    fn example_config_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/basic.yaml");
        let c = load(&p).unwrap();
        assert_eq!(c.config.devices.len(), 1);
    }
}
