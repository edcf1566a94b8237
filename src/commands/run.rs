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
//! `--target bmv2` does the same job on BMv2 `simple_switch_grpc` in pcap-file
//! mode ([`run_bmv2`], the `p4clone-bmv2` crate): one `-i N@...` per port of the
//! device, the pipeline (`p4src/build/traffic_clone.json` + P4Info) and the
//! entities pushed over P4Runtime inside its start-up window, outputs collected
//! once they stop changing. Counters come back over P4Runtime as well; what
//! BMv2 cannot measure (clone allocation / driver failures, drops) is `-`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;
use p4clone_bmv2::launch::{Bmv2, LaunchOptions, PortOutput};
use p4clone_bmv2::loss::{self, Losses, PortAccount};
use p4clone_bmv2::{artifacts, locate, push, Bmv2Error};
use p4clone_compiler::config::{Config, Target};
use p4clone_compiler::intent::DeviceIntent;
use p4clone_runtime::pipeline::{default_p4src_dir, PipelineArtifacts};
use p4clone_runtime::stats::{render_table, StatsReport};
use p4clone_soft::engine::{Engine, RunReport};
use p4clone_soft::ports::pcap::{output_path, PcapPort};
use p4clone_soft::ports::Port;
use p4clone_soft::server::SoftTarget;

use super::{load_and_compile, Compiled};
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

/// The data plane `run` (and `diff`) uses.
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

/// A positive, finite number of seconds (at most a day).
fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 86400]")),
    }
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

/// What one `run` on the software target produced.
pub struct RunResult {
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
    let (text, stats) = match args.target {
        RunTarget::Soft => {
            let out = run_soft(&compiled, device, &inputs, &args.out, true)?;
            (render(args.output, || render_text(&out, &args.out), || render_json(&out, &args.out))?, out.stats)
        }
        RunTarget::Bmv2 => {
            let out = run_bmv2(&compiled, device, &inputs, &args.out, &args.bmv2, &BTreeSet::new(), true)?;
            let text = render(args.output, || render_bmv2_text(&out, &args.out), || render_bmv2_json(&out, &args.out))?;
            if let Err(lost) = out.lossless() {
                emit(&text, None)?;
                return Err(lost);
            }
            (text, out.stats)
        }
    };
    emit(&text, None)?;
    stats_errors(&stats)
}

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

/// The software-target job: prepares `out`, serves the target on a loopback
/// port, pushes `device` over gRPC, replays `inputs` into `out/port-<N>.pcap`
/// and reads the counters back. `announce` prints the start line on stderr.
pub fn run_soft(
    compiled: &Compiled,
    device: &DeviceIntent,
    inputs: &[PcapInput],
    out: &Path,
    announce: bool,
) -> Result<RunResult, Failure> {
    let named: Vec<(&str, &Path)> = inputs.iter().map(|i| (i.text.as_str(), i.path.as_path())).collect();
    embedded::prepare_output_dir(out, &named)?;
    let ports = open_inputs(inputs, out)?;

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
    if announce {
        eprintln!(
            "p4clone run: in-process software target, device {} (id {}), P4Runtime {address}: {}{} entities written",
            device.name,
            device.device_id,
            pushed.pipeline.map(|p| format!("{p}; ")).unwrap_or_default(),
            pushed.inserted + pushed.modified
        );
    }

    let mut engine = Engine::new(target.pipeline(), ports).with_output_dir(out);
    let replayed = engine.run_until_drained();
    let report = engine.report();
    drop(engine);

    let stats = rt.block_on(async {
        let s = p4clone_runtime::stats::read_device_report(&mut client, &compiled.config, &device.name).await;
        drop(client);
        server.shutdown().await;
        s
    });
    replayed.map_err(port_failure)?;
    warn_diagnostics(&report);

    Ok(RunResult {
        device: device.name.clone(),
        device_id: device.device_id,
        address,
        written: pushed.inserted + pushed.modified,
        report,
        stats,
    })
}

/// What one `run --target bmv2` produced.
pub struct Bmv2Run {
    device: String,
    device_id: u64,
    address: String,
    command: String,
    written: usize,
    /// Frames in per port (every port opened).
    frames_in: BTreeMap<u16, u64>,
    /// What each port sent.
    pub outputs: Vec<PortOutput>,
    /// Per port: frames it should have sent (from the inputs and
    /// `clones_requested`) and what it wrote.
    pub accounts: Vec<PortAccount>,
    stats: StatsReport,
}

impl Bmv2Run {
    /// Frames out per second from BMv2's own send timestamps (first to last
    /// frame over all ports); `None` with fewer than two frames.
    pub fn rate(&self) -> Option<f64> {
        let first = self.outputs.iter().filter_map(|p| p.first_ts_ns).min()?;
        let last = self.outputs.iter().filter_map(|p| p.last_ts_ns).max()?;
        let n: u64 = self.outputs.iter().map(|p| p.frames).sum();
        (n >= 2 && last > first).then(|| (n - 1) as f64 / ((last - first) as f64 / 1e9))
    }

    fn frames_out(&self) -> u64 {
        self.outputs.iter().map(|p| p.frames).sum()
    }

    fn account(&self, port: u16) -> Option<&PortAccount> {
        self.accounts.iter().find(|a| a.port == port)
    }

    /// The ports where BMv2 lost frames (its file mode drops frames when an
    /// egress queue overflows); empty when every frame came out.
    pub fn losses(&self) -> Losses {
        loss::losses(&self.accounts)
    }

    /// `Err` naming every port that lost frames: not a data-plane difference,
    /// so its outputs cannot be compared.
    pub fn lossless(&self) -> Result<(), Failure> {
        let l = self.losses();
        if l.is_empty() {
            return Ok(());
        }
        Err(Failure::Runtime(format!(
            "{l}
  BMv2's file mode reads its inputs unpaced and drops frames when an egress queue (64 frames) \
             is full; its outputs are incomplete, so they say nothing about the data plane. Split the input into \
             smaller captures."
        )))
    }

    fn span_s(&self) -> f64 {
        let first = self.outputs.iter().filter_map(|p| p.first_ts_ns).min();
        let last = self.outputs.iter().filter_map(|p| p.last_ts_ns).max();
        match (first, last) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
            _ => 0.0,
        }
    }
}

/// Maps a BMv2 error to the exit code: bad input 2, everything else 1.
pub fn bmv2_failure(e: Bmv2Error) -> Failure {
    if e.is_input() {
        Failure::Input(e.to_string())
    } else {
        Failure::Runtime(e.to_string())
    }
}

/// The device ports of `device` in `cfg`: both ends of every wire, and every
/// interface of the service engines on it.
pub fn device_ports(cfg: &Config, device: &DeviceIntent) -> BTreeSet<u16> {
    let mut ports: BTreeSet<u16> = BTreeSet::new();
    for w in &device.wires {
        ports.extend([w.0, w.1].into_iter().filter_map(|p| u16::try_from(p).ok()));
    }
    for se in cfg.se_groups.iter().flat_map(|g| &g.service_engines).filter(|s| s.device == device.name) {
        ports.extend(se.interfaces.iter().filter_map(|i| u16::try_from(i.port).ok()));
    }
    ports.extend(device.members.iter().filter_map(|m| u16::try_from(m.egress_port).ok()));
    ports
}

/// The `--use-files` window when none is given: 4 s, plus 1 s per 500 entities.
fn default_window(device: &DeviceIntent) -> u32 {
    let entities = p4clone_compiler::lower::program_schema()
        .ok()
        .and_then(|schema| p4clone_runtime::reconcile::desired_entities(device, schema).ok())
        .map_or(0, |e| e.len());
    4 + (entities as u32).div_ceil(500)
}

/// A fresh work directory for BMv2 under the system temporary directory.
fn bmv2_work_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("p4clone-bmv2-{}-{nanos:09}", std::process::id()))
}

/// The BMv2 job: finds `simple_switch_grpc`, checks `p4src/build/`, prepares
/// `out`, starts BMv2 on every port of the device plus the inputs' and
/// `extra_ports`, pushes over P4Runtime inside the start-up window, waits for
/// the outputs to settle, reads the counters, stops BMv2 and writes
/// `out/port-<N>.pcap` for every port that sent frames.
pub fn run_bmv2(
    compiled: &Compiled,
    device: &DeviceIntent,
    inputs: &[PcapInput],
    out: &Path,
    opts: &Bmv2Args,
    extra_ports: &BTreeSet<u16>,
    announce: bool,
) -> Result<Bmv2Run, Failure> {
    let binary = locate::find_bmv2().map_err(bmv2_failure)?;
    let p4src = default_p4src_dir();
    artifacts::check_artifacts(&p4src).map_err(bmv2_failure)?;
    let arts = PipelineArtifacts::for_target(Target::Bmv2, Some(&p4src))
        .map_err(|e| Failure::Runtime(format!("BMv2 artifacts: {e}")))?;
    let named: Vec<(&str, &Path)> = inputs.iter().map(|i| (i.text.as_str(), i.path.as_path())).collect();
    embedded::prepare_output_dir(out, &named)?;

    let mut lo = LaunchOptions::new(binary, device.device_id, bmv2_work_dir());
    lo.ports = device_ports(&compiled.config, device);
    lo.ports.extend(extra_ports);
    lo.inputs = inputs.iter().map(|i| (i.port, i.path.clone())).collect();
    lo.window_s = opts.window.unwrap_or_else(|| default_window(device));
    let mut bmv2 = Bmv2::launch(&lo).map_err(bmv2_failure)?;
    let address = bmv2.address().to_string();
    let kept = |e: Failure, b: &Bmv2| match e {
        Failure::Runtime(m) => {
            Failure::Runtime(format!("{m}\n  BMv2 work directory (kept): {}", b.work_dir().display()))
        }
        other => other,
    };
    if announce {
        eprintln!(
            "p4clone run: BMv2 {}, device {} (id {}), P4Runtime {address}, ports {:?}, start-up window {} s",
            lo.binary.display(),
            device.name,
            device.device_id,
            bmv2.ports(),
            lo.window_s
        );
    }

    let rt = embedded::runtime()?;
    let pushed = rt.block_on(push::program(&address, device, &arts, Duration::from_secs(10)));
    let mut programmed = match pushed {
        Ok(p) => p,
        Err(e) => {
            let tail = bmv2.log_tails();
            return Err(kept(Failure::Runtime(format!("{e}\n  end of BMv2's output:\n{tail}")), &bmv2));
        }
    };
    let written = programmed.result.inserted + programmed.result.modified;
    let settle = (|| {
        bmv2.check_window(programmed.pipeline_started, programmed.done)?;
        if announce {
            eprintln!(
                "p4clone run: {}; {written} entities written in {:.2} s; BMv2 reads its inputs {} s after the pipeline was set",
                programmed.pipeline,
                programmed.done.duration_since(programmed.pipeline_started).as_secs_f64(),
                lo.window_s
            );
        }
        let start = bmv2.processing_start(programmed.pipeline_set);
        bmv2.wait_settled(start, Duration::from_secs_f64(opts.settle), Duration::from_secs_f64(opts.timeout))
    })();
    let counters = rt.block_on(async {
        let s = match &settle {
            Ok(_) => Some(push::read_counters(&mut programmed.client).await),
            Err(_) => None,
        };
        drop(programmed);
        s
    });
    settle.map_err(|e| kept(bmv2_failure(e), &bmv2))?;
    let counters = counters.unwrap_or_else(|| Err("not read".into()));
    bmv2.stop(Duration::from_secs(5)).map_err(|e| kept(bmv2_failure(e), &bmv2))?;
    let outputs = bmv2.collect(out).map_err(|e| kept(bmv2_failure(e), &bmv2))?;
    let requested: HashMap<u16, u64> = match &counters {
        Ok(c) => c.members.iter().map(|(&id, m)| (id, m.requested.map_or(0, |v| v.packets))).collect(),
        Err(e) => {
            return Err(kept(
                Failure::Runtime(format!(
                    "cannot read clones_requested back from BMv2 ({e}), so its outputs cannot be checked for lost \
                     frames"
                )),
                &bmv2,
            ))
        }
    };
    let sent: BTreeMap<u16, u64> = outputs.iter().map(|p| (p.port, p.frames)).collect();
    let accounts = loss::account(device, bmv2.frames_in(), &requested, &sent);
    let stats = push::stats_report(&compiled.config, &device.name, counters);
    let run = Bmv2Run {
        device: device.name.clone(),
        device_id: device.device_id,
        address,
        command: bmv2.command_line(),
        written,
        frames_in: bmv2.frames_in().clone(),
        outputs,
        accounts,
        stats,
    };
    bmv2.cleanup();
    Ok(run)
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
    let mut t = port_table();
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
