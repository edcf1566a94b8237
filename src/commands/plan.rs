//! `p4clone plan CONFIG`: what a `push` would write, per device (`+ insert`,
//! `~ modify`, `- delete`, `0` counter resets); nothing is written. Also the
//! device-selection and TLS flags shared by `plan`, `push` and `stats`.

use std::path::PathBuf;

use clap::ValueEnum;
use p4clone_runtime::fleet::{self, DeviceTarget, FleetOptions};
use p4clone_runtime::TlsOptions;

use super::{load_and_compile, Compiled};
use crate::failure::{Failure, Outcome, EXIT_RUNTIME};
use crate::render::emit;

/// Output format of `plan` and `push`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FleetOutput {
    /// Human-readable, one block per device.
    Table,
    /// JSON (`{"devices":[...]}`).
    Json,
}

/// Which devices to talk to, and how (shared by `plan`, `push`, `stats`).
#[derive(Debug, Clone, clap::Args)]
pub struct DeviceArgs {
    /// Only this device of the config (default: every device)
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// P4Runtime address HOST:PORT: replaces the address of the one selected
    /// device; with several devices, selects those configured with it
    #[arg(long, value_name = "HOST:PORT")]
    pub address: Option<String>,
    /// CA certificate (PEM) to verify the devices with; enables TLS
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS (with --key); enables TLS
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS (with --cert)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl DeviceArgs {
    /// The selected devices (bad `--device` / `--address`: exit 2).
    pub fn targets(&self, compiled: &Compiled) -> Result<Vec<DeviceTarget>, Failure> {
        let targets = DeviceTarget::select(&compiled.config, self.device.as_deref(), self.address.as_deref())
            .map_err(Failure::Input)?;
        if targets.is_empty() {
            return Err(Failure::Input("the config has no devices".into()));
        }
        Ok(targets)
    }

    /// TLS options from `--ca` / `--cert` / `--key` (`None`: plaintext).
    pub fn tls(&self) -> Result<Option<TlsOptions>, Failure> {
        if self.ca.is_none() && self.cert.is_none() && self.key.is_none() {
            return Ok(None);
        }
        TlsOptions::from_files(self.ca.as_deref(), self.cert.as_deref(), self.key.as_deref())
            .map(Some)
            .map_err(|e| Failure::Input(e.to_string()))
    }

    /// Fleet options with these TLS settings (everything else default).
    pub fn fleet_options(&self) -> Result<FleetOptions, Failure> {
        Ok(FleetOptions { tls: self.tls()?, ..FleetOptions::default() })
    }
}

/// The multi-threaded tokio runtime of `plan` / `push` / `stats`.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("p4clone-rt")
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the async runtime: {e}")))
}

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
    let rt = runtime()?;
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
                    text.push_str(&format!(
                        "{n} update{} to write; nothing written (run `p4clone push`)\n",
                        super::plural(n)
                    ));
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
