//! `p4clone controller CONFIG`: keep every device of the config in sync until
//! SIGTERM / SIGINT (the logic is in `p4clone_runtime::controller`; this is
//! the flags, the signals and the HTTP endpoints).

use std::path::PathBuf;
use std::time::Duration;

use crate::flags::TlsArgs;
use crate::signals::{Signal, Signals};
use p4clone::jobs::runtime::{async_runtime, Workers};
use p4clone_runtime::controller::{self, config_file, Controller, ControllerOptions};

use crate::failure::{Failure, Outcome, EXIT_INPUT};

const AFTER_HELP: &str = "\
What it does, per device of the config, independently:
  - holds the P4Runtime StreamChannel with the election id, reconnecting with
    capped exponential backoff (200 ms .. 10 s, with jitter);
  - as primary: installs the pipeline where the cookie differs and reconciles
    (read, diff, minimal ordered writes) at start, on every reconnect, when it
    becomes primary, when the config changes, and every --resync seconds
    (writes only when the device differs, and logs what it repaired);
  - as backup: never writes; reconciles at once when it becomes primary.
The config file is re-read when it changes (watched, and polled every second)
and on SIGHUP; a config that does not validate is not applied (the last good one
stays in force; the errors are logged and shown at /healthz).
SIGTERM / SIGINT: a reconcile in flight stops at a Write-batch boundary (the
Write RPCs in flight finish, no further batch is sent; accepted live bindings
not yet written are written), the streams close, exit 0.

Live NAT bindings (--bindings-listen ADDR): the gRPC service
p4clone.controller.v1.Bindings (Add, Remove, Apply, List; `p4clone bindings`
is its client) takes SE address:port -> client address:port bindings and writes
them, batched within a few ms, to the devices whose SEs own the SE address. A
reconcile writes config + live bindings and deletes neither. Per device and
address family the NAT table's size (or --max-bindings) bounds config + live
bindings: an add beyond it is refused (RESOURCE_EXHAUSTED) and counted. A
backup refuses changes (UNAVAILABLE). On becoming primary after another
controller was (failover), it reads the device's NAT entries back and takes
those not in its config as its live bindings for that device; at start it
merges them with the bindings accepted so far.

Examples:
  p4clone controller examples/basic.yaml
  p4clone controller examples/multi.yaml --election-id 2 --listen 127.0.0.1:9100 --resync 10
  p4clone controller examples/basic.yaml --bindings-listen 127.0.0.1:9600 --binding-idle-timeout 300";

/// Keep every device of a config in sync: hold the P4Runtime stream, reconcile
/// on start, reconnect, config change and every --resync seconds.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Config file (YAML, or JSON when it ends in .json); re-read when it changes and on SIGHUP
    pub config: PathBuf,
    /// Election id for arbitration (the highest connected id is primary; give an HA pair two ids)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub election_id: u64,
    /// Serve /metrics (clone statistics + controller metrics) and /healthz at http://ADDR
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Seconds between drift checks (a read and a diff per device; writes only when it differs)
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub resync: u64,
    /// Serve the live NAT bindings gRPC service (p4clone.controller.v1.Bindings) on ADDR
    #[arg(long, value_name = "ADDR")]
    pub bindings_listen: Option<String>,
    /// Bindings (config + live) per device and address family at most; default and upper bound: the NAT table's size in the program
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_bindings: Option<u64>,
    /// Remove live bindings no add refreshed for SECS seconds (default: never)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub binding_idle_timeout: Option<u64>,
    /// Updates per Write RPC
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: Option<u64>,
    /// TLS to the devices.
    #[command(flatten)]
    pub tls: TlsArgs,
}

impl Args {
    fn options(&self) -> Result<ControllerOptions, Failure> {
        let mut opts = ControllerOptions::new(&self.config);
        opts.fleet.election_id = u128::from(self.election_id);
        opts.fleet.tls = self.tls.options()?;
        if let Some(b) = self.batch {
            opts.fleet.batch_size = usize::try_from(b).unwrap_or(usize::MAX);
        }
        opts.resync = Duration::from_secs(self.resync);
        opts.max_bindings = self.max_bindings.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        opts.binding_idle_timeout = self.binding_idle_timeout.map(Duration::from_secs);
        Ok(opts)
    }
}

/// Runs `controller` until SIGTERM / SIGINT.
pub fn run(args: &Args) -> Outcome {
    let opts = args.options()?;
    let initial = config_file::load(&args.config).map_err(|e| {
        for line in &e.errors {
            eprintln!("{line}");
        }
        eprintln!("error: {}: the config is not valid; nothing started", e.path.display());
        Failure::Reported(EXIT_INPUT)
    })?;
    if initial.config.devices.is_empty() {
        return Err(Failure::Input(format!("{}: the config has no devices", args.config.display())));
    }
    for w in &initial.warnings {
        eprintln!("{w}");
    }
    // One line per event on stderr: UTC time, level, message, fields.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let rt = async_runtime(Workers::PerCpu)?;
    rt.block_on(async move {
        let mut signals = Signals::install(true)?;
        let devices = initial.config.devices.len();
        let mut ctl = Controller::new(opts, initial);
        // Bound before anything connects: a bad --listen exits 2 having written nothing.
        let server = match &args.listen {
            Some(addr) => Some(controller::http::serve(addr, &ctl).await.map_err(|e| Failure::Input(e.to_string()))?),
            None => None,
        };
        let bindings_server = match &args.bindings_listen {
            Some(addr) => Some(
                controller::bindings::serve(addr, ctl.bindings()).await.map_err(|e| Failure::Input(e.to_string()))?,
            ),
            None => None,
        };
        ctl.start();
        let listen = server.as_ref().map(|s| format!("http://{}", s.local_addr())).unwrap_or_else(|| "off".into());
        let bindings = bindings_server.as_ref().map(|s| s.local_addr().to_string()).unwrap_or_else(|| "off".into());
        tracing::info!(
            config = %args.config.display(),
            devices,
            election_id = args.election_id,
            resync_s = args.resync,
            listen = %listen,
            bindings = %bindings,
            "controller started"
        );
        loop {
            match signals.recv().await {
                Signal::Reload => ctl.reload(),
                Signal::Stop(name) => {
                    tracing::info!(signal = name, "stopping: finishing the Write batches in flight, closing streams");
                    break;
                }
            }
        }
        if let Some(s) = server {
            s.shutdown();
        }
        if let Some(s) = bindings_server {
            s.shutdown().await;
        }
        ctl.shutdown().await;
        Ok(())
    })
}
