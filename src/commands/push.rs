//! `p4clone push CONFIG`: reconcile every selected device with the config,
//! concurrently (one failing device never stops the others), with a progress
//! display on a terminal and a per-device summary.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use p4clone::jobs::runtime::{async_runtime, Workers};
use p4clone_runtime::fleet::{self, DeviceTarget, ProgressEvent, ProgressFn, Stage};

use crate::compiled::load_and_compile;
use crate::failure::{Failure, Outcome, EXIT_RUNTIME};
use crate::flags::{DeviceArgs, FleetOutput};
use crate::render::emit;

/// Apply a config to its devices over P4Runtime: arbitrate (a backup never
/// writes), install the pipeline if needed, then write the minimal ordered
/// updates. All selected devices are pushed concurrently; exit 1 if any failed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config file (YAML, or JSON when it ends in .json)
    pub config: PathBuf,
    #[command(flatten)]
    pub devices: DeviceArgs,
    /// Election id for arbitration (the highest connected id is primary)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub election_id: u64,
    /// Updates per Write RPC
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: Option<u64>,
    /// Output format
    #[arg(long, value_enum, default_value_t = FleetOutput::Table)]
    pub output: FleetOutput,
}

/// Runs `push`.
pub fn run(args: &Args) -> Outcome {
    let compiled = load_and_compile(&args.config)?;
    let targets = args.devices.targets(&compiled)?;
    let mut opts = args.devices.fleet_options()?;
    opts.election_id = u128::from(args.election_id);
    if let Some(b) = args.batch {
        opts.batch_size = usize::try_from(b).unwrap_or(usize::MAX);
    }
    let bars = std::io::stderr().is_terminal().then(|| Bars::new(&targets));
    let progress = bars.as_ref().map(Bars::callback);
    let rt = async_runtime(Workers::PerCpu)?;
    let result = rt
        .block_on(fleet::push(&compiled.config, &targets, &opts, progress))
        .map_err(|e| Failure::Input(e.to_string()))?;
    if let Some(b) = bars {
        b.clear();
    }
    match args.output {
        FleetOutput::Table => {
            let mut text = result.to_string();
            let failed = result.devices.iter().filter(|d| !d.ok()).count();
            if result.devices.len() > 1 {
                text.push_str(&format!(
                    "{} devices: {} updates written, {failed} failed\n",
                    result.devices.len(),
                    result.writes()
                ));
            }
            emit(&text, None)?;
        }
        FleetOutput::Json => {
            let s = serde_json::to_string_pretty(&result)
                .map_err(|e| Failure::Runtime(format!("cannot render JSON: {e}")))?;
            emit(&format!("{s}\n"), None)?;
        }
    }
    if result.ok() {
        Ok(())
    } else {
        for d in result.devices.iter().filter(|d| !d.ok()) {
            let backup = d.errors.iter().any(|e| e.code == "NOT_PRIMARY");
            let first = d.errors.first().map(ToString::to_string).unwrap_or_default();
            if backup {
                eprintln!(
                    "error: device {} ({}): this controller is backup, nothing written: {first}",
                    d.device, d.address
                );
            } else {
                eprintln!("error: device {} ({}): push failed: {first}", d.device, d.address);
            }
        }
        Err(Failure::Reported(EXIT_RUNTIME))
    }
}

/// One progress bar per device on stderr.
struct Bars {
    multi: MultiProgress,
    bars: Arc<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(targets: &[DeviceTarget]) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos:>7}/{len:7} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let width = targets.iter().map(|t| t.name.len()).max().unwrap_or(0);
        let bars = targets
            .iter()
            .map(|t| {
                let b = multi.add(ProgressBar::new(0));
                b.set_style(style.clone());
                b.set_prefix(format!("{:>width$}", t.name));
                b.set_message("waiting");
                b.enable_steady_tick(Duration::from_millis(200));
                (t.name.clone(), b)
            })
            .collect();
        Bars { multi, bars: Arc::new(bars) }
    }

    fn callback(&self) -> ProgressFn {
        let bars = Arc::clone(&self.bars);
        Arc::new(move |ev: &ProgressEvent| {
            let Some(b) = bars.get(&ev.device) else { return };
            match &ev.stage {
                Stage::Connecting => b.set_message("connecting"),
                Stage::Pipeline => b.set_message("pipeline"),
                Stage::Reading => b.set_message("reading"),
                Stage::Planning => b.set_message("planning"),
                Stage::Writing { done, total } => {
                    b.set_length(*total as u64);
                    b.set_position(*done as u64);
                    b.set_message("writing");
                }
                Stage::Done { ok } => b.finish_with_message(if *ok { "done" } else { "failed" }),
            }
        })
    }

    fn clear(self) {
        for b in self.bars.values() {
            b.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}
