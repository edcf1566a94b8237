//! `p4clone stats CONFIG`: per-clone-server statistics from the devices'
//! mirror counters, in the reference layout (per VS: per SE and
//! `PROC_Aggregate`, `clone_srvr_stats[i]`). Fields a target cannot measure
//! are `-` (`null` in JSON, absent in Prometheus). `--watch` refreshes,
//! `--listen` serves Prometheus text at `/metrics`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use p4clone::jobs::runtime::{async_runtime, Workers};
use p4clone_compiler::config::Config;
use p4clone_runtime::fleet::StatsCollector;
use p4clone_runtime::{metrics, stats, StatsReport};

use crate::compiled::load_and_compile;
use crate::failure::{Failure, Outcome, EXIT_RUNTIME};
use crate::flags::DeviceArgs;
use crate::render::emit;

/// Output format of `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsOutput {
    /// Aligned table per VS (reference layout).
    Table,
    /// JSON (`{"virtual_services":[...],"errors":[...]}`; unknown values are null).
    Json,
    /// Prometheus text exposition format.
    Prometheus,
}

/// Read the mirror counters of the devices and print per-clone-server
/// statistics per VS (per SE and PROC_Aggregate). Exit 1 if a device cannot
/// be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config file (YAML, or JSON when it ends in .json)
    pub config: PathBuf,
    /// Only this virtual service
    #[arg(long, value_name = "NAME")]
    pub vs: Option<String>,
    #[command(flatten)]
    pub devices: DeviceArgs,
    /// Refresh every SECS seconds until Ctrl-C
    #[arg(long, value_name = "SECS", conflicts_with = "listen", value_parser = parse_secs)]
    pub watch: Option<Duration>,
    /// Output format
    #[arg(long, value_enum, default_value_t = StatsOutput::Table)]
    pub output: StatsOutput,
    /// Serve Prometheus text at http://ADDR/metrics (each scrape reads the devices) and a health check at /healthz, until Ctrl-C
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("`{s}` is not a positive number of seconds")),
    }
}

fn render(r: &StatsReport, output: StatsOutput) -> String {
    match output {
        StatsOutput::Table => stats::render_table(r),
        StatsOutput::Json => {
            let mut s = stats::render_json(r);
            s.push('\n');
            s
        }
        StatsOutput::Prometheus => stats::render_prometheus(r),
    }
}

/// Runs `stats`.
pub fn run(args: &Args) -> Outcome {
    let compiled = load_and_compile(&args.config)?;
    if let Some(vs) = &args.vs {
        let cfg = &compiled.config;
        if !cfg.virtual_services.iter().any(|v| &v.name == vs) {
            let names: Vec<&str> = cfg.virtual_services.iter().map(|v| v.name.as_str()).collect();
            return Err(Failure::Input(format!(
                "no virtual service `{vs}` in {} (virtual services: {})",
                args.config.display(),
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            )));
        }
    }
    let targets = args.devices.targets(&compiled)?;
    let opts = args.devices.fleet_options()?;
    let collector = StatsCollector::new(targets, opts);
    let cfg = Arc::new(compiled.config);
    let rt = async_runtime(Workers::PerCpu)?;
    if let Some(addr) = &args.listen {
        return rt.block_on(listen(addr, collector, cfg, args.vs.clone()));
    }
    rt.block_on(async move {
        let mut collector = collector;
        let Some(every) = args.watch else {
            let report = collector.collect(&cfg, args.vs.as_deref()).await;
            emit(&render(&report, args.output), None)?;
            return if report.errors.is_empty() { Ok(()) } else { Err(Failure::Reported(EXIT_RUNTIME)) };
        };
        let clear = std::io::stdout().is_terminal() && args.output == StatsOutput::Table;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
            let report = collector.collect(&cfg, args.vs.as_deref()).await;
            let mut out = std::io::stdout().lock();
            if clear {
                let _ = write!(out, "\x1b[2J\x1b[H");
                let _ = writeln!(out, "every {:?}; Ctrl-C to stop\n", every);
            }
            // A closed stdout (`| head`) ends the watch.
            if write!(out, "{}", render(&report, args.output)).and_then(|()| out.flush()).is_err() {
                return Ok(());
            }
        }
    })
}

async fn listen(addr: &str, collector: StatsCollector, cfg: Arc<Config>, vs: Option<String>) -> Outcome {
    let collector = Arc::new(tokio::sync::Mutex::new(collector));
    let server = metrics::serve(addr, move || {
        let (collector, cfg, vs) = (Arc::clone(&collector), Arc::clone(&cfg), vs.clone());
        async move {
            let report = collector.lock().await.collect(&cfg, vs.as_deref()).await;
            Ok::<_, String>(stats::render_prometheus(&report))
        }
    })
    .await
    .map_err(|e| Failure::Runtime(e.to_string()))?;
    emit(&format!("serving Prometheus metrics at http://{}/metrics (Ctrl-C to stop)\n", server.local_addr()), None)?;
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown();
    Ok(())
}
