//! One module per subcommand, plus what they share: loading and checking a config.

pub mod check;
pub mod compile;
pub mod diff;
pub mod plan;
pub mod push;
pub mod run;
pub mod soft;
pub mod stats;

use std::path::Path;

use p4clone_compiler::config::Config;
use p4clone_compiler::diag::{Diagnostic, Severity};
use p4clone_compiler::intent::{self, Allocation, Intent};
use p4clone_compiler::model::Model;
use p4clone_compiler::source::{self, SourceMap};

use crate::failure::{Failure, EXIT_INPUT};

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

/// `"s"` unless `n == 1`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Loads, validates and compiles `path`. Warnings go to stderr; any error (syntax,
/// types, validation, compilation) is reported on stderr and fails with exit 2.
pub fn load_and_compile(path: &Path) -> Result<Compiled, Failure> {
    let loaded = source::load_file(path).map_err(|e| Failure::Input(e.to_string()))?;
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
