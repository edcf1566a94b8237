//! load -> validate -> intent -> lower on arbitrary text (YAML, and JSON when the
//! first byte says so): never panics, and compiling twice gives identical output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p4clone_compiler::diag::Severity;
use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::lower::{lower_device, program_schema};
use p4clone_compiler::source::{load_str, Format};

/// The intent's Debug form and every device's lowered updates (Debug form), or
/// `None` where the pipeline stops on an error.
fn compile(text: &str, format: Format) -> Option<(String, Vec<String>)> {
    let loaded = load_str(text, format).ok()?;
    let checked = loaded.check_resolved();
    if checked.diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return None;
    }
    let intent = intent::compile_model(&checked.model, &Allocation::default()).ok()?;
    let schema = program_schema().expect("the built-in P4 schema loads");
    let lowered =
        intent.devices.iter().map(|d| format!("{:?}", lower_device(d, schema).map_err(|e| e.to_string()))).collect();
    Some((format!("{intent:?}"), lowered))
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = if first & 1 == 1 { Format::Json } else { Format::Yaml };
    let a = compile(text, format);
    let b = compile(text, format);
    assert_eq!(a, b, "compile is not deterministic on {text:?}");
});
