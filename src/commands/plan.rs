//! `p4clone plan CONFIG`: what a `push` would write, per device (`+ insert`,
//! `~ modify`, `- delete`, `0` counter resets); nothing is written. Also the
//! device-selection and TLS flags shared by `plan`, `push` and `stats`.

use std::path::PathBuf;

use p4clone::jobs::runtime::{async_runtime, Workers};
use p4clone_runtime::fleet;

use crate::compiled::load_and_compile;
use crate::failure::{Failure, Outcome, EXIT_RUNTIME};
use crate::flags::{DeviceArgs, FleetOutput};
use crate::render::{emit, plural};

/// Show what a push would write to each device (`+ insert`, `~ modify`,
/// `- delete`, counter resets), reading the devices over P4Runtime (read-only,
/// no arbitration). Nothing is written. Exit 1 if a device cannot be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config file (YAML, or JSON when it ends in .json)
    pub config: PathBuf,
    #[command(flatten)]
    pub devices: DeviceArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = FleetOutput::Table)]
    pub output: FleetOutput,
}

/// Runs `plan`.
pub fn run(args: &Args) -> Outcome {
    let compiled = load_and_compile(&args.config)?;
    let targets = args.devices.targets(&compiled)?;
    let opts = args.devices.fleet_options()?;
    let rt = async_runtime(Workers::PerCpu)?;
    let plan =
        rt.block_on(fleet::plan(&compiled.config, &targets, &opts)).map_err(|e| Failure::Input(e.to_string()))?;
    match args.output {
        FleetOutput::Table => {
            let mut text = plan.to_string();
            if plan.ok() {
                let n = plan.write_count();
                if n == 0 && plan.devices.iter().all(|d| d.plan.as_ref().is_some_and(|p| p.is_empty())) {
                    text.push_str("nothing to do: every device is up to date\n");
                } else {
                    text.push_str(&format!("{n} update{} to write; nothing written (run `p4clone push`)\n", plural(n)));
                }
            }
            emit(&text, None)?;
        }
        FleetOutput::Json => {
            let s = serde_json::to_string_pretty(&plan)
                .map_err(|e| Failure::Runtime(format!("cannot render JSON: {e}")))?;
            emit(&format!("{s}\n"), None)?;
        }
    }
    if plan.ok() {
        Ok(())
    } else {
        for d in plan.devices.iter().filter(|d| d.error.is_some()) {
            if let Some(e) = &d.error {
                eprintln!("error: device {} ({}): {e}", d.device, d.address);
            }
        }
        Err(Failure::Reported(EXIT_RUNTIME))
    }
}
