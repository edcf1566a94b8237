//! `p4clone import avi` on arbitrary bytes: the pure importer
//! (`p4clone_compiler::import::avi`: `parse_site`, `convert`, `render_yaml`) called
//! as `src/commands/import.rs` calls it, then the written YAML loaded and checked as
//! the CLI and `check` do.
//!
//! Input: byte 0 selects
//! - bit 0: the site file is fuzzed too: bytes 1-2 (LE) are its length, then its
//!   text; otherwise the site is `examples/avi/site.yaml`;
//! - bit 1: `--tenant admin`;
//!
//! the rest is up to 4 input files separated by NUL bytes, each UTF-8 JSON text
//! (an input that is not JSON is refused by the CLI before the importer: skipped).
//!
//! Checked on every input: no panic; the import is deterministic (the same inputs
//! twice give the same YAML, or the same errors); when the importer accepts, the
//! YAML renders, loads back (`source::load_str`, the CLI's own check that it
//! "parses back") to exactly the imported `Config`, validation runs, and when it
//! reports no error the config compiles (`intent::compile_model`) and lowers
//! (`lower::lower_device`) as `check` / `push` would, twice identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p4clone_compiler::diag::Severity;
use p4clone_compiler::import::avi::{self, InputFile};
use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::lower::{lower_device, program_schema};
use p4clone_compiler::source::{load_str, Format};

const SITE: &str = include_str!("../../examples/avi/site.yaml");
const MAX_INPUTS: usize = 4;

/// The imported YAML, or the errors' text.
fn import(inputs: &[InputFile], site: &str, tenant: Option<&str>) -> Result<String, Vec<String>> {
    let site = avi::parse_site("site.yaml", site).map_err(|e| vec![e.to_string()])?;
    let imported =
        avi::convert(inputs, &site, tenant).map_err(|e| e.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let text = avi::render_yaml(&imported, &names, "site.yaml").expect("an accepted import renders as YAML");
    let loaded = load_str(&text, Format::Yaml)
        .unwrap_or_else(|e| panic!("the imported config does not parse back: {e}\n{text}"));
    assert!(loaded.config == imported.config, "the imported config reads back different:\n{text}");
    let checked = loaded.check_resolved();
    if !checked.diagnostics.iter().any(|d| d.severity == Severity::Error) {
        // Every error path of the CLI's `reject_invalid` names an origin or not; both
        // must not panic.
        for d in &checked.diagnostics {
            let _ = imported.origin_of_path(&d.path);
        }
        if let Ok(intent) = intent::compile_model(&checked.model, &Allocation::default()) {
            let schema = program_schema().expect("the built-in P4 schema loads");
            for d in &intent.devices {
                let _ = lower_device(d, schema);
            }
        }
    } else {
        for d in &checked.diagnostics {
            let _ = imported.origin_of_path(&d.path);
        }
    }
    Ok(text)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let site = if sel & 1 != 0 {
        if rest.len() < 2 {
            return;
        }
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let Ok(s) = std::str::from_utf8(&rest[2..2 + n]) else {
            return;
        };
        rest = &rest[2 + n..];
        s
    } else {
        SITE
    };
    let tenant = (sel & 2 != 0).then_some("admin");
    let mut inputs = Vec::new();
    for (i, part) in rest.split(|&b| b == 0).take(MAX_INPUTS).enumerate() {
        let Ok(text) = std::str::from_utf8(part) else {
            return;
        };
        let Ok(json) = serde_json::from_str(text) else {
            return;
        };
        inputs.push(InputFile { name: format!("input-{i}.json"), json });
    }
    let a = import(&inputs, site, tenant);
    let b = import(&inputs, site, tenant);
    assert_eq!(a, b, "import avi is not deterministic");
    if std::env::var_os("IMPORT_AVI_TRACE").is_some() {
        match &a {
            Ok(text) => eprintln!("accepted: {} lines of YAML", text.lines().count()),
            Err(e) => eprintln!("refused: {e:?}"),
        }
    }
});
