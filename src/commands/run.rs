//! `p4clone run CONFIG --pcap N=FILE ... --out DIR`: the embedded main job.
//!
//! 1. Load, validate and compile CONFIG (any error: exit 2, every diagnostic).
//! 2. Choose the device (`--device`, else the only one), open the pcap inputs.
//! 3. Start the software target in this process with the device's id and serve
//!    P4Runtime on `127.0.0.1:0`; connect to it as a real P4Runtime client over
//!    gRPC (arbitration, `SetForwardingPipelineConfig` `VERIFY_AND_COMMIT`, ordered
//!    batched Writes: exactly what `push` does).
//! 4. Replay the inputs through the engine, merged in timestamp order (ties to
//!    the lower port); each port that sends frames gets `DIR/port-<N>.pcap`.
//! 5. Read `clones_requested` / `clones_emitted` back over P4Runtime, add the
//!    target's measured clone failures, and print the per-clone-server
//!    statistics (reference layout) with a per-port summary, or JSON.
//!
//! The jobs are the library's ([`p4clone::jobs::soft`], [`p4clone::jobs::bmv2`]);
//! this module is the command line and the report.
//!
//! `--target bmv2` does the same job on BMv2 `simple_switch_grpc` in pcap-file
//! mode ([`run_bmv2`], the `p4clone-bmv2` crate): one `-i N@...` per port of the
//! device, the pipeline (`p4src/build/traffic_clone.json` + P4Info) and the
//! entities pushed over P4Runtime inside its start-up window, outputs collected
//! once they stop changing. Counters come back over P4Runtime as well; what
//! BMv2 cannot measure (clone allocation / driver failures, drops) is `-`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use p4clone::jobs::bmv2::{run_bmv2, Bmv2Run};
use p4clone::jobs::embedded::sent_output;
use p4clone::jobs::inputs::parse_pcap_inputs;
use p4clone::jobs::soft::{run_soft, SoftRun};
use p4clone_runtime::stats::{render_table, StatsReport};
use p4clone_soft::engine::RunReport;

use crate::compiled::{load_and_compile, select_device};
use crate::failure::{Failure, Outcome};
use crate::flags::{Bmv2Args, RunTarget};
use crate::render::{emit, stderr_line, warn_clones, Align, Table};

/// Output format of `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunOutput {
    /// Per-port summary and the per-clone-server statistics, as aligned tables.
    Table,
    /// One JSON object: ports, members, and the statistics (`virtual_services`,
    /// `errors`, as `stats --output json`).
    Json,
}

const AFTER_HELP: &str = "\
The software target runs in this process and is programmed over real P4Runtime
gRPC on a loopback port, exactly as `push` programs a device. Input files are
merged in timestamp order, ties to the lower port (as BMv2 --use-files reads
them). DIR is created if needed; `port-<N>.pcap` files already in it are
replaced, so afterwards it holds exactly the ports that sent frames.

Statistics per clone server: num_total_pkts_cloned = clones requested (ingress),
num_succeeded = clones emitted (egress) minus those the port failed to send,
num_mbuf_alloc_failed / num_driver_failures as measured by the software target.

--target bmv2 runs BMv2 simple_switch_grpc ($P4CLONE_BMV2, else on PATH) in
pcap-file mode on a free loopback port, with every port of the device (and
of the inputs) as `-i N@...`, and pushes p4src/build/traffic_clone.json with
the P4Info over P4Runtime within its start-up window (--bmv2-window). The
outputs are complete once they stop growing (--bmv2-settle); BMv2 is then
stopped (SIGTERM, then SIGKILL). Output records carry BMv2's send time. BMv2
cannot report clone allocation or driver failures: those columns show `-`.
Set P4CLONE_BMV2_LOG_LEVEL=trace for a full BMv2 log, P4CLONE_BMV2_KEEP=1 to
keep its work directory.

Examples:
  p4clone run examples/basic.yaml --pcap 1=examples/basic-port1.pcap \\
      --pcap 2=examples/basic-port2.pcap --out out/
  p4clone run examples/basic.yaml --target bmv2 --pcap 1=examples/basic-port1.pcap \\
      --pcap 2=examples/basic-port2.pcap --out out-bmv2/";

/// Run the main job on the in-process software target (or BMv2 with --target
/// bmv2): compile CONFIG, push it over P4Runtime gRPC, replay pcap files, write
/// one output pcap per port and print per-clone-server statistics.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Config file (YAML, or JSON when it ends in .json)
    pub config: PathBuf,
    /// Frames arriving on device port N (0..=510), a classic pcap file; repeat per port
    #[arg(long = "pcap", value_name = "N=FILE", required = true)]
    pub pcap: Vec<String>,
    /// Output directory: DIR/port-<N>.pcap for every port that sent frames
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The device to run (default: the only device of the config)
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = RunOutput::Table)]
    pub output: RunOutput,
    /// The data plane: the in-process software target or BMv2
    #[arg(long, value_enum, default_value_t = RunTarget::Soft)]
    pub target: RunTarget,
    /// BMv2 options.
    #[command(flatten)]
    pub bmv2: Bmv2Args,
}

/// Runs `run`.
pub fn run(args: &Args) -> Outcome {
    let compiled = load_and_compile(&args.config)?;
    let device = select_device(&compiled.intent, &args.config, args.device.as_deref(), |_| None)?;
    let inputs = parse_pcap_inputs(&args.pcap)?;
    let (text, stats) = match args.target {
        RunTarget::Soft => {
            let out = run_soft(&compiled.config, device, &inputs, &args.out, &stderr_line)?;
            warn_clones(&out.report);
            (render(args.output, || render_text(&out, &args.out), || render_json(&out, &args.out))?, out.stats)
        }
        RunTarget::Bmv2 => {
            let out = run_bmv2(
                &compiled.config,
                device,
                &inputs,
                &args.out,
                &args.bmv2.options(),
                &BTreeSet::new(),
                &stderr_line,
            )?;
            let text = render(args.output, || render_bmv2_text(&out, &args.out), || render_bmv2_json(&out, &args.out))?;
            if let Err(lost) = out.lossless() {
                emit(&text, None)?;
                return Err(lost.into());
            }
            (text, out.stats)
        }
    };
    emit(&text, None)?;
    stats_errors(&stats)
}

/// The report as text or pretty JSON (with a final newline).
fn render(
    output: RunOutput,
    table: impl FnOnce() -> String,
    json: impl FnOnce() -> serde_json::Value,
) -> Result<String, Failure> {
    Ok(match output {
        RunOutput::Table => table(),
        RunOutput::Json => {
            let mut s = serde_json::to_string_pretty(&json())
                .map_err(|e| Failure::Runtime(format!("cannot render JSON: {e}")))?;
            s.push('\n');
            s
        }
    })
}

/// Exit 1 if the counters could not be read back.
fn stats_errors(stats: &StatsReport) -> Outcome {
    if !stats.errors.is_empty() {
        return Err(Failure::Runtime(format!(
            "cannot read the mirror counters back: {}",
            stats.errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(())
}

/// The per-port table of a run's text report (one row per port), headers only.
fn port_table() -> Table {
    Table::new(&[
        ("PORT", Align::Right),
        ("RX", Align::Right),
        ("TX", Align::Right),
        ("CLONES", Align::Right),
        ("DROPPED", Align::Right),
        ("OUTPUT", Align::Left),
    ])
}

/// The text report of a BMv2 run: a summary line, the per-port table, the statistics.
fn render_bmv2_text(o: &Bmv2Run, dir: &Path) -> String {
    let frames_in: u64 = o.frames_in.values().sum();
    let mut out = format!(
        "{} (BMv2): {} frames in, {} out in {:.3} s of BMv2 send time ({}); outputs in {}\n\n",
        o.device,
        frames_in,
        o.frames_out(),
        o.span_s(),
        o.rate().map_or_else(|| "rate unknown".to_string(), |r| format!("{r:.0} frames/s")),
        dir.display()
    );
    let mut t = port_table();
    for p in &o.outputs {
        t.row([
            p.port.to_string(),
            o.frames_in.get(&p.port).copied().unwrap_or(0).to_string(),
            p.frames.to_string(),
            o.account(p.port).map_or_else(|| "-".to_string(), |a| a.clones.to_string()),
            "-".to_string(),
            p.path.as_ref().map_or_else(|| "-".to_string(), |f| f.display().to_string()),
        ]);
    }
    out.push_str(&t.render());
    out.push('\n');
    out.push_str(&render_table(&o.stats));
    out
}

/// The JSON report of a BMv2 run.
fn render_bmv2_json(o: &Bmv2Run, dir: &Path) -> serde_json::Value {
    use serde_json::json;
    let ports: Vec<serde_json::Value> = o
        .outputs
        .iter()
        .map(|p| {
            json!({
                "port": p.port,
                "rx_frames": o.frames_in.get(&p.port).copied().unwrap_or(0),
                "rx_bytes": null,
                "tx_frames": p.frames,
                "tx_bytes": p.bytes,
                "tx_clones": null,
                "clones_requested": o.account(p.port).map(|a| a.clones),
                "expected_frames": o.account(p.port).map(|a| a.expected()),
                "lost": o.account(p.port).map(|a| a.lost()),
                "dropped": null,
                "tx_failed": null,
                "output": p.path.as_ref().map(|f| f.display().to_string()),
            })
        })
        .collect();
    let stats = serde_json::to_value(&o.stats).unwrap_or_default();
    json!({
        "target": "bmv2",
        "device": o.device,
        "device_id": o.device_id,
        "p4runtime_address": o.address,
        "bmv2_command": o.command,
        "entities_written": o.written,
        "frames_in": o.frames_in.values().sum::<u64>(),
        "frames_out": o.frames_out(),
        "elapsed_s": o.span_s(),
        "frames_per_s": o.rate().map(f64::round),
        "out_dir": dir.display().to_string(),
        "ports": ports,
        "members": null,
        "virtual_services": stats.get("virtual_services").cloned().unwrap_or_default(),
        "errors": stats.get("errors").cloned().unwrap_or_default(),
    })
}

/// Frames per second, for display.
fn rate(report: &RunReport) -> f64 {
    let s = report.elapsed.as_secs_f64();
    if s > 0.0 {
        report.frames_in() as f64 / s
    } else {
        0.0
    }
}

/// The text report of a software-target run: a summary line, the per-port table,
/// the statistics.
fn render_text(o: &SoftRun, dir: &Path) -> String {
    let r = &o.report;
    let mut out = format!(
        "{}: {} frames in, {} out in {:.3} s ({:.0} frames/s); outputs in {}\n\n",
        o.device,
        r.frames_in(),
        r.frames_out(),
        r.elapsed.as_secs_f64(),
        rate(r),
        dir.display()
    );
    let mut t = port_table();
    for p in &r.ports {
        let output = sent_output(dir, r, p.port).map_or_else(|| "-".to_string(), |f| f.display().to_string());
        t.row([
            p.port.to_string(),
            p.io.rx_frames.to_string(),
            p.io.tx_frames.to_string(),
            p.io.tx_clones.to_string(),
            (p.pipeline.drop.packets + p.io.rx_zero_length).to_string(),
            output,
        ]);
    }
    out.push_str(&t.render());
    out.push('\n');
    out.push_str(&render_table(&o.stats));
    out
}

/// The JSON report of a software-target run.
fn render_json(o: &SoftRun, dir: &Path) -> serde_json::Value {
    use serde_json::json;
    let r = &o.report;
    let ports: Vec<serde_json::Value> = r
        .ports
        .iter()
        .map(|p| {
            json!({
                "port": p.port,
                "rx_frames": p.io.rx_frames,
                "rx_bytes": p.io.rx_bytes,
                "tx_frames": p.io.tx_frames,
                "tx_bytes": p.io.tx_bytes,
                "tx_clones": p.io.tx_clones,
                "dropped": p.pipeline.drop.packets + p.io.rx_zero_length,
                "tx_failed": p.io.tx_failed + p.io.tx_alloc_failed,
                "output": sent_output(dir, r, p.port).map(|f| f.display().to_string()),
            })
        })
        .collect();
    let members: Vec<serde_json::Value> = r
        .members
        .iter()
        .map(|m| {
            json!({
                "member": m.member,
                "clones_requested": m.requested.packets,
                "clones_emitted": m.emitted.packets,
                "sent": m.sent,
                "alloc_failed": m.alloc_failed,
                "driver_failed": m.driver_failed,
                "clone_no_session": m.no_session.packets,
                "clone_rewrite_miss": m.rewrite_miss.packets,
            })
        })
        .collect();
    let stats = serde_json::to_value(&o.stats).unwrap_or_default();
    json!({
        "device": o.device,
        "device_id": o.device_id,
        "p4runtime_address": o.address,
        "entities_written": o.written,
        "frames_in": r.frames_in(),
        "frames_out": r.frames_out(),
        "elapsed_s": r.elapsed.as_secs_f64(),
        "frames_per_s": rate(r).round(),
        "out_dir": dir.display().to_string(),
        "ports": ports,
        "members": members,
        "virtual_services": stats.get("virtual_services").cloned().unwrap_or_default(),
        "errors": stats.get("errors").cloned().unwrap_or_default(),
    })
}
