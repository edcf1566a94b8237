//! `p4clone check CONFIG`: validate and summarise.

use std::path::PathBuf;

use clap::ValueEnum;
use p4clone_compiler::intent::summarize;

use crate::compiled::load_and_compile;
use crate::failure::{Failure, Outcome};
use crate::render::{emit, render_summary};

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
