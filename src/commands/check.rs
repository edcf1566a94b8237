//! `p4clone check CONFIG`: validate and summarise.

use std::path::PathBuf;

use clap::ValueEnum;
use p4clone_compiler::intent::{summarize, Summary};

use crate::compiled::load_and_compile;
use crate::failure::{Failure, Outcome};
use crate::render::{emit, plural, target_name, Align, Table};

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    /// Aligned tables for people.
    Table,
    /// The summary as one JSON object.
    Json,
}

/// Validate a config; on success print a summary (object counts and entries per
/// table per device), on failure every problem with its object path and line:column.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config file (YAML, or JSON when it ends in .json)
    pub config: PathBuf,
    /// Output format of the summary
    #[arg(long, value_enum, default_value_t = CheckOutput::Table)]
    pub output: CheckOutput,
}

/// Runs `check`.
pub fn run(args: &Args) -> Outcome {
    let compiled = load_and_compile(&args.config)?;
    let summary = summarize(&compiled.config, &compiled.intent);
    let text = match args.output {
        CheckOutput::Table => render_summary(&args.config.display().to_string(), &summary, compiled.warnings),
        CheckOutput::Json => {
            let mut s = serde_json::to_string_pretty(&summary)
                .map_err(|e| Failure::Runtime(format!("cannot render the summary as JSON: {e}")))?;
            s.push('\n');
            s
        }
    };
    emit(&text, None)
}

/// The human summary: an object-count table, then entries per table per device.
pub fn render_summary(name: &str, s: &Summary, warnings: usize) -> String {
    let mut out = format!("{name}: valid");
    if warnings > 0 {
        out.push_str(&format!(" ({warnings} warning{})", plural(warnings)));
    }
    out.push_str("\n\n");
    let mut t = Table::new(&[("OBJECT", Align::Left), ("COUNT", Align::Right)]);
    t.row(["tenants".to_string(), s.tenants.to_string()]);
    t.row(["virtual services".to_string(), s.virtual_services.to_string()]);
    t.row(["  cloned".to_string(), s.cloned_virtual_services.to_string()]);
    t.row(["clone profiles".to_string(), s.profiles.to_string()]);
    t.row(["clone members".to_string(), s.members.to_string()]);
    t.row(["devices".to_string(), s.devices.len().to_string()]);
    out.push_str(&t.render());
    if s.devices.is_empty() {
        return out;
    }
    out.push('\n');
    let mut t = Table::new(&[
        ("DEVICE", Align::Left),
        ("TARGET", Align::Left),
        ("ADDRESS", Align::Left),
        ("ID", Align::Right),
        ("TABLE", Align::Left),
        ("ENTRIES", Align::Right),
    ]);
    for d in &s.devices {
        let mut first = true;
        let rows = d.tables.rows();
        for (table, n) in rows.iter().map(|(t, n)| (t.to_string(), *n)).chain([("total".to_string(), d.tables.total())])
        {
            let (dev, target, addr, id) = if first {
                (d.name.clone(), target_name(d.target).to_string(), d.address.clone(), d.device_id.to_string())
            } else {
                Default::default()
            };
            first = false;
            t.row([dev, target, addr, id, table, n.to_string()]);
        }
    }
    out.push_str(&t.render());
    out
}
