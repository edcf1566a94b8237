//! Flags shared by several commands: device selection and TLS (`plan`, `push`,
//! `stats`), the fleet output format (`plan`, `push`), the data plane and the
//! BMv2 knobs (`run`, `diff`).

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use p4clone::jobs::bmv2::Bmv2Options;
use p4clone_runtime::fleet::{DeviceTarget, FleetOptions};
use p4clone_runtime::TlsOptions;

use crate::compiled::Compiled;
use crate::failure::Failure;

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
    /// TLS to the devices.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// TLS to the devices: `--ca`, `--cert`, `--key` (shared by `plan`, `push`,
/// `stats` and `controller`).
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
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
        self.tls.options()
    }

    /// Fleet options with these TLS settings (everything else default).
    pub fn fleet_options(&self) -> Result<FleetOptions, Failure> {
        Ok(FleetOptions { tls: self.tls()?, ..FleetOptions::default() })
    }
}

impl TlsArgs {
    /// TLS options from `--ca` / `--cert` / `--key` (`None`: plaintext; an
    /// unreadable or invalid file: exit 2).
    pub fn options(&self) -> Result<Option<TlsOptions>, Failure> {
        if self.ca.is_none() && self.cert.is_none() && self.key.is_none() {
            return Ok(None);
        }
        TlsOptions::from_files(self.ca.as_deref(), self.cert.as_deref(), self.key.as_deref())
            .map(Some)
            .map_err(|e| Failure::Input(e.to_string()))
    }
}

/// The data plane `run` and `diff` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunTarget {
    /// The p4clone software target, in this process.
    Soft,
    /// BMv2 `simple_switch_grpc` in pcap-file mode (`$P4CLONE_BMV2` or on PATH).
    Bmv2,
}

impl RunTarget {
    /// `soft` / `bmv2`.
    pub fn name(self) -> &'static str {
        match self {
            RunTarget::Soft => "soft",
            RunTarget::Bmv2 => "bmv2",
        }
    }
}

/// The BMv2 knobs of `run` and `diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct Bmv2Args {
    /// BMv2 only: seconds from setting the pipeline until BMv2 reads its inputs
    /// (`--use-files`); the push must fit in it [default: 4 + 1 per 500 entities]
    #[arg(long = "bmv2-window", value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub window: Option<u32>,
    /// BMv2 only: the outputs are complete once they have not grown for this long
    #[arg(long = "bmv2-settle", value_name = "SECONDS", default_value_t = 1.0, value_parser = positive_seconds)]
    pub settle: f64,
    /// BMv2 only: fail if the outputs are still growing this long after processing starts
    #[arg(long = "bmv2-timeout", value_name = "SECONDS", default_value_t = 300.0, value_parser = positive_seconds)]
    pub timeout: f64,
}

impl Bmv2Args {
    /// The job's options.
    pub fn options(&self) -> Bmv2Options {
        Bmv2Options {
            window: self.window,
            settle: Duration::from_secs_f64(self.settle),
            timeout: Duration::from_secs_f64(self.timeout),
        }
    }
}

/// A positive, finite number of seconds (at most a day).
fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 86400]")),
    }
}
