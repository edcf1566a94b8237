//! Loading, validating and compiling a config file for a command, with every
//! diagnostic printed on stderr; and choosing the device a command works on.

use std::path::Path;

use p4clone_compiler::config::Config;
use p4clone_compiler::diag::{Diagnostic, Severity};
use p4clone_compiler::intent::{self, Allocation, DeviceIntent, Intent};
use p4clone_compiler::model::Model;
use p4clone_compiler::source::{self, SourceMap};

use crate::failure::{Failure, EXIT_INPUT};
use crate::render::plural;

/// A config that loaded, validated and compiled.
pub struct Compiled {
    /// The config as parsed.
    pub config: Config,
    /// Its per-device intent.
    pub intent: Intent,
    /// Validation warnings (already printed on stderr).
    pub warnings: usize,
}

/// Prints errors (and warnings) on stderr, errors last, then a count line, and
/// returns the failure to exit with.
fn reject(path: &Path, diags: &[Diagnostic]) -> Failure {
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    for d in diags.iter().filter(|d| d.severity == Severity::Warning) {
        eprintln!("{d}");
    }
    for d in diags.iter().filter(|d| d.severity == Severity::Error) {
        eprintln!("{d}");
    }
    eprintln!("error: {}: {errors} error{} found; nothing compiled", path.display(), plural(errors));
    Failure::Reported(EXIT_INPUT)
}

/// Loads, validates and compiles `path`. Warnings go to stderr; any error (syntax,
/// types, validation, compilation) is reported on stderr and fails with exit 2.
pub fn load_and_compile(path: &Path) -> Result<Compiled, Failure> {
    let loaded = source::load_file(path).map_err(|e| Failure::Input(e.to_string()))?;
    compile_loaded(path, loaded)
}

/// [`load_and_compile`] for YAML text held in memory (e.g. a config `import` made);
/// `name` stands for the file in messages.
pub fn compile_yaml_text(name: &Path, text: String) -> Result<Compiled, Failure> {
    let loaded = source::load_string(text, source::Format::Yaml)
        .map_err(|e| Failure::Input(format!("{}: {e}", name.display())))?;
    compile_loaded(name, loaded)
}

fn compile_loaded(path: &Path, loaded: source::Loaded) -> Result<Compiled, Failure> {
    let (intent, warnings) = {
        // Resolved once: validation and intent read the same model.
        let checked = loaded.check_resolved();
        let diags = &checked.diagnostics;
        if diags.iter().any(|d| d.severity == Severity::Error) {
            return Err(reject(path, diags));
        }
        for d in diags {
            eprintln!("{d}");
        }
        let intent = compile_intent(&checked.model, &loaded.source_map).map_err(|diags| reject(path, &diags))?;
        (intent, diags.len())
    };
    Ok(Compiled { config: loaded.config, intent, warnings })
}

/// [`intent::compile_model`] with no hints, diagnostics located in the source.
fn compile_intent(model: &Model<'_>, map: &SourceMap) -> Result<Intent, Vec<Diagnostic>> {
    intent::compile_model(model, &Allocation::default()).map_err(|mut diags| {
        map.annotate(&mut diags);
        diags
    })
}

/// The device of `intent` a command works on: `name` if given (unknown: exit 2
/// listing the devices); otherwise the only device; otherwise `fallback` (e.g.
/// "the only soft device"), else exit 2 listing the devices and asking for
/// `--device`.
pub fn select_device<'a>(
    intent: &'a Intent,
    config: &Path,
    name: Option<&str>,
    fallback: impl Fn(&'a [DeviceIntent]) -> Option<&'a DeviceIntent>,
) -> Result<&'a DeviceIntent, Failure> {
    let names = || {
        let n: Vec<&str> = intent.devices.iter().map(|d| d.name.as_str()).collect();
        if n.is_empty() {
            "none".to_string()
        } else {
            n.join(", ")
        }
    };
    if let Some(name) = name {
        return intent.device(name).ok_or_else(|| {
            Failure::Input(format!("no device `{name}` in {} (devices: {})", config.display(), names()))
        });
    }
    match intent.devices.as_slice() {
        [] => Err(Failure::Input(format!("{} has no devices; nothing to run", config.display()))),
        [only] => Ok(only),
        all => fallback(all).ok_or_else(|| {
            Failure::Input(format!(
                "{} has {} devices ({}); choose one with --device NAME",
                config.display(),
                all.len(),
                names()
            ))
        }),
    }
}
