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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use p4clone_runtime::stats::{render_table, StatsReport};
use p4clone_soft::engine::{Engine, RunReport};
use p4clone_soft::ports::pcap::{output_path, PcapPort};
use p4clone_soft::ports::Port;
use p4clone_soft::server::SoftTarget;

use super::load_and_compile;
use crate::embedded::{self, parse_port_number, port_failure, Embedded};
use crate::failure::{Failure, Outcome};
use crate::render::{emit, Align, Table};

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

Example:
  p4clone run examples/basic.yaml --pcap 1=examples/basic-port1.pcap \\
      --pcap 2=examples/basic-port2.pcap --out out/";

/// Run the main job on the in-process software target: compile CONFIG, push it
/// over P4Runtime gRPC, replay pcap files, write one output pcap per port and
/// print per-clone-server statistics.
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
}

/// One `--pcap N=FILE`.
#[derive(Debug, Clone)]
pub struct PcapInput {
    /// Device port.
    pub port: u16,
    /// The file.
    pub path: PathBuf,
    /// The flag's value as given.
    pub text: String,
}

/// Parses the `--pcap` values; refuses bad syntax, out-of-range or repeated
/// ports and files that do not exist (exit 2, naming the value).
pub fn parse_pcap_inputs(specs: &[String]) -> Result<Vec<PcapInput>, Failure> {
    let mut out: BTreeMap<u16, PcapInput> = BTreeMap::new();
    for s in specs {
        let bad = |why: String| Failure::Input(format!("invalid --pcap {s:?}: {why}"));
        let Some((n, file)) = s.split_once('=') else {
            return Err(bad("expected N=FILE, e.g. 1=in.pcap".into()));
        };
        let port = parse_port_number(n).map_err(bad)?;
        if file.is_empty() {
            return Err(bad("missing file name".into()));
        }
        let path = PathBuf::from(file);
        if !path.is_file() {
            return Err(bad(if path.exists() {
                format!("{file} is not a regular file")
            } else {
                format!("pcap file {file} does not exist")
            }));
        }
        if let Some(prev) = out.get(&port) {
            return Err(bad(format!("port {port} is already given by --pcap {:?}", prev.text)));
        }
        out.insert(port, PcapInput { port, path, text: s.clone() });
    }
    Ok(out.into_values().collect())
}

/// Opens the inputs as pcap ports writing to `dir/port-<N>.pcap`.
fn open_inputs(inputs: &[PcapInput], dir: &Path) -> Result<BTreeMap<u16, Box<dyn Port>>, Failure> {
    let mut ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
    for i in inputs {
        let p = PcapPort::new(Some(&i.path), Some(output_path(dir, i.port)))
            .map_err(|e| Failure::Input(format!("--pcap {:?}: {e}", i.text)))?;
        ports.insert(i.port, Box::new(p));
    }
    Ok(ports)
}

/// What one `run` produced.
struct RunResult {
    device: String,
    device_id: u64,
    address: String,
    written: usize,
    report: RunReport,
    stats: StatsReport,
}

/// Runs `run`.
pub fn run(args: &Args) -> Outcome {
    let compiled = load_and_compile(&args.config)?;
    let device = embedded::select_device(&compiled.intent, &args.config, args.device.as_deref(), |_| None)?;
    let inputs = parse_pcap_inputs(&args.pcap)?;
    let named: Vec<(&str, &Path)> = inputs.iter().map(|i| (i.text.as_str(), i.path.as_path())).collect();
    embedded::prepare_output_dir(&args.out, &named)?;
    let ports = open_inputs(&inputs, &args.out)?;

    let rt = embedded::runtime()?;
    let target = SoftTarget::new(device.device_id);
    let (server, mut client, pushed) = rt.block_on(async {
        let server = Embedded::serve(&target, "127.0.0.1:0".parse().expect("address")).await?;
        let address = server.local_addr().to_string();
        match embedded::push_over_grpc(&address, device).await {
            Ok((client, pushed)) => Ok((server, client, pushed)),
            Err(e) => {
                server.shutdown().await;
                Err(e)
            }
        }
    })?;
    let address = server.local_addr().to_string();
    eprintln!(
        "p4clone run: in-process software target, device {} (id {}), P4Runtime {address}: {}{} entities written",
        device.name,
        device.device_id,
        pushed.pipeline.map(|p| format!("{p}; ")).unwrap_or_default(),
        pushed.inserted + pushed.modified
    );

    let mut engine = Engine::new(target.pipeline(), ports).with_output_dir(&args.out);
    let replayed = engine.run_until_drained();
    let report = engine.report();
    drop(engine);

    let stats = rt.block_on(async {
        let s = embedded::read_stats(&mut client, &compiled.config, &device.name, &report).await;
        drop(client);
        server.shutdown().await;
        s
    });
    replayed.map_err(port_failure)?;
    warn_diagnostics(&report);

    let out = RunResult {
        device: device.name.clone(),
        device_id: device.device_id,
        address,
        written: pushed.inserted + pushed.modified,
        report,
        stats,
    };
    let text = match args.output {
        RunOutput::Table => render_text(&out, &args.out),
        RunOutput::Json => {
            let mut s = serde_json::to_string_pretty(&render_json(&out, &args.out))
                .map_err(|e| Failure::Runtime(format!("cannot render JSON: {e}")))?;
            s.push('\n');
            s
        }
    };
    emit(&text, None)?;
    if !out.stats.errors.is_empty() {
        return Err(Failure::Runtime(format!(
            "cannot read the mirror counters back: {}",
            out.stats.errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(())
}

/// Warnings on stderr for clones that were requested but never left.
pub fn warn_diagnostics(report: &RunReport) {
    for m in &report.members {
        if m.no_session.packets > 0 {
            eprintln!(
                "warning: member {}: {} clone(s) requested with no clone session (clone_no_session)",
                m.member, m.no_session.packets
            );
        }
        if m.rewrite_miss.packets > 0 {
            eprintln!(
                "warning: member {}: {} clone(s) dropped by clone_rewrite_miss (no rewrite entry)",
                m.member, m.rewrite_miss.packets
            );
        }
        if m.alloc_failed + m.driver_failed > 0 {
            eprintln!(
                "warning: member {}: {} clone(s) not sent ({} no buffer, {} driver)",
                m.member,
                m.alloc_failed + m.driver_failed,
                m.alloc_failed,
                m.driver_failed
            );
        }
    }
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

fn render_text(o: &RunResult, dir: &Path) -> String {
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
    let mut t = Table::new(&[
        ("PORT", Align::Right),
        ("RX", Align::Right),
        ("TX", Align::Right),
        ("CLONES", Align::Right),
        ("DROPPED", Align::Right),
        ("OUTPUT", Align::Left),
    ]);
    for p in &r.ports {
        let output = embedded::sent_output(dir, r, p.port).map_or_else(|| "-".to_string(), |f| f.display().to_string());
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

fn render_json(o: &RunResult, dir: &Path) -> serde_json::Value {
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
                "output": embedded::sent_output(dir, r, p.port).map(|f| f.display().to_string()),
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
