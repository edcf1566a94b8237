//! `p4clone soft`: the software target as a process of its own, serving
//! P4Runtime (default `127.0.0.1:9559`, device id 1) over port backends.
//!
//! Modes, by the ports given:
//! - **no ports**: serve P4Runtime until SIGINT / SIGTERM (a controller can
//!   push, read, read counters; no traffic);
//! - **pcap ports only**: replay the inputs (merged in timestamp order, ties to
//!   the lower port) once the entities are in, then exit (or, with `--hold`,
//!   keep serving until a signal). With `--config` the entities are loaded in
//!   process at start; without it, replay waits until a controller has set the
//!   forwarding pipeline and written at least one `wire` entry, and the tables
//!   have then not changed for `--settle-ms`;
//! - **any live port** (`afpacket`): forward until SIGINT / SIGTERM.
//!
//! A signal during a replay stops it after the current read-ahead; a second
//! signal exits at once (130). On exit the per-port and per-member counters are
//! printed (the engine's report, `clone_no_session` included) and, with
//! `--config`, the per-clone-server statistics read over P4Runtime.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p4clone::jobs::embedded::{self, connectable, Embedded};
use p4clone::jobs::runtime::{async_runtime, Workers};
use p4clone::JobError;
use p4clone_compiler::config::{Config, Target};
use p4clone_compiler::intent::DeviceIntent;
use p4clone_runtime::client::{Client, ConnectOptions};
use p4clone_runtime::stats::render_table;
use p4clone_soft::engine::{Engine, RunReport};
use p4clone_soft::ports::{
    open_ports, parse_port_specs, BackendSpec, BackendStats, InputKind, Port, PortSpec, Result as PortResult, RxBatch,
    TxBurst,
};
use p4clone_soft::server::{Dialect, SoftTarget, DEFAULT_PORT};

use crate::compiled::{load_and_compile, select_device};
use crate::failure::{Failure, Outcome};
use crate::render::{emit, warn_clones};
use crate::serve_flags::ServeArgs;
use crate::signals::Signals;

const AFTER_HELP: &str = "\
Modes:
  no --port          serve P4Runtime until SIGINT/SIGTERM
  pcap ports only    replay the inputs, then exit (--hold: keep serving until a
                     signal). Without --config, replay starts once a controller
                     has set the pipeline and written at least one wire entry,
                     and the tables have not changed for --settle-ms.
  any afpacket port  forward until SIGINT/SIGTERM
  only dpdk ports    (--dpdk) DPDK's packet loop: one loop per worker lcore of
                     the EAL's -l (the first lcore is the main one and serves
                     P4Runtime; with -l naming one lcore, the loop runs there),
                     each with its own RX/TX queue pair on every device, RSS
                     over IP/TCP/UDP where the device offers it. Forwards until
                     SIGINT/SIGTERM; if every input is a net_pcap file
                     (rx_pcap= without infinite_rx=1), stops once they are read
                     (several files are merged by timestamp, on one lcore).
                     Mixed with pcap/afpacket ports, every port runs on the
                     generic engine thread (one queue pair per device).

Pcap inputs of all ports are merged in timestamp order, ties to the lower port.
With --out DIR every port that sends frames and has no backend of its own
writes DIR/port-<N>.pcap (pcap ports always write there); old port-<N>.pcap
files in DIR are removed first. On exit the per-port rx/tx and per-member clone
counters (requested, emitted, sent, failures, clone_no_session) are printed,
and with --config the per-clone-server statistics.

Examples:
  p4clone soft
  p4clone soft --config examples/basic.yaml --port 1=pcap:examples/basic-port1.pcap \\
      --port 2=pcap:examples/basic-port2.pcap --out out/
  p4clone soft --port 1=afpacket:veth1 --port 2=afpacket:veth2 --out capture/ &
  p4clone soft --config examples/basic.yaml --dpdk '-l 0-2 -a 0000:01:00.0 -a 0000:01:00.1' \\
      --port 1=dpdk:0 --port 2=dpdk:1 --dpdk-burst 64
  p4clone push examples/basic.yaml --address 127.0.0.1:9559";

/// Run the software target: P4Runtime server plus pcap / AF_PACKET ports
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// P4Runtime listen address (port 0: an ephemeral port, printed on stderr)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9559")]
    pub p4rt: String,
    /// P4Runtime device id (default: the --config device's, else 1)
    #[arg(long, value_name = "N")]
    pub device_id: Option<u64>,
    /// A port: N=pcap:IN.pcap (replay IN.pcap, write DIR/port-N.pcap) or N=afpacket:IFACE; repeat per port
    #[arg(long = "port", value_name = "N=BACKEND:ARG")]
    pub ports: Vec<String>,
    /// Output directory for pcap outputs (required with pcap ports)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Load this config's entities for its device at start (no controller needed)
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// The --config device (default: the only device, else the one with --device-id, else the only soft one)
    #[arg(long, value_name = "NAME", requires = "config")]
    pub device: Option<String>,
    /// Behave like this device: v1model (BMv2's program and rules) or tofino (the TNA
    /// program, Stratum's clone-session rules) [default: the --config device's target, else v1model]
    #[arg(long = "as", value_name = "DEVICE", value_enum)]
    pub as_device: Option<SoftAs>,
    /// Without --config: how long the tables must stay unchanged before a pcap replay starts
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub settle_ms: u64,
    /// After a pcap replay, keep serving P4Runtime until SIGINT/SIGTERM (to read counters)
    #[arg(long)]
    pub hold: bool,
    /// TLS and limits of the P4Runtime service.
    #[command(flatten)]
    pub service: ServeArgs,
    /// DPDK EAL arguments for N=dpdk:ID ports, e.g. "-l 0-1 --no-huge -m 1024 --no-pci
    /// --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap -d /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"
    #[cfg(feature = "dpdk")]
    #[arg(long, value_name = "EAL ARGS", allow_hyphen_values = true)]
    pub dpdk: Option<String>,
    #[cfg(feature = "dpdk")]
    #[command(flatten)]
    pub dpdk_options: DpdkArgs,
}

/// The device `soft --as` stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SoftAs {
    /// BMv2 running p4src/traffic_clone.p4 (v1model).
    V1model,
    /// A Tofino switch under Stratum running p4src/traffic_clone_tna.p4 (TNA).
    Tofino,
}

/// Settings of the DPDK devices and packet loop (with `--dpdk`).
#[cfg(feature = "dpdk")]
#[derive(Debug, clap::Args)]
pub struct DpdkArgs {
    /// DPDK: frames per RX burst (1..=1024)
    #[arg(long = "dpdk-burst", value_name = "N", default_value_t = 32, requires = "dpdk",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub burst: u16,
    /// DPDK: RX descriptors per queue (adjusted to the device's limits)
    #[arg(long = "dpdk-rx-desc", value_name = "N", default_value_t = 1024, requires = "dpdk")]
    pub rx_desc: u16,
    /// DPDK: TX descriptors per queue (adjusted to the device's limits)
    #[arg(long = "dpdk-tx-desc", value_name = "N", default_value_t = 1024, requires = "dpdk")]
    pub tx_desc: u16,
    /// DPDK: mbufs in each device's RX pool (received frames, forwarded originals) [default: sized from queues
    /// and descriptors]
    #[arg(long = "dpdk-rx-pool", value_name = "MBUFS", requires = "dpdk")]
    pub rx_pool: Option<u32>,
    /// DPDK: mbufs in each device's TX pool (clones) [default: sized from queues and descriptors]
    #[arg(long = "dpdk-tx-pool", value_name = "MBUFS", requires = "dpdk")]
    pub tx_pool: Option<u32>,
    /// DPDK: per-lcore mempool cache (mbufs)
    #[arg(long = "dpdk-pool-cache", value_name = "MBUFS", default_value_t = 256, requires = "dpdk")]
    pub pool_cache: u32,
    /// DPDK: how clones are built: copy (one mbuf), zero-copy (header mbuf chained to an indirect mbuf of the
    /// input; devices without multi-segment TX get copies), auto (copy tails under 2048 bytes) or auto:BYTES
    #[arg(long = "dpdk-clone", value_name = "MODE", default_value = "auto", requires = "dpdk")]
    pub clone: p4clone_soft::ports::dpdk::CloneCopy,
    /// DPDK: extra rte_eth_tx_burst attempts when a TX ring takes nothing (then the frames count as
    /// driver_failed)
    #[arg(long = "dpdk-tx-retries", value_name = "N", default_value_t = 0, requires = "dpdk")]
    pub tx_retries: u32,
}

#[cfg(feature = "dpdk")]
impl DpdkArgs {
    /// The backend's options.
    fn options(&self) -> p4clone_soft::ports::dpdk::DpdkOptions {
        p4clone_soft::ports::dpdk::DpdkOptions {
            rx_desc: self.rx_desc,
            tx_desc: self.tx_desc,
            burst: usize::from(self.burst),
            rx_pool: self.rx_pool,
            tx_pool: self.tx_pool,
            pool_cache: self.pool_cache,
            clone_copy: self.clone,
            tx_retries: self.tx_retries,
            ..p4clone_soft::ports::dpdk::DpdkOptions::DEFAULT
        }
    }
}

/// The DPDK ids of `specs` if every port is a DPDK port (and there is one): such a
/// run goes through DPDK's own packet loop.
#[cfg(feature = "dpdk")]
fn dpdk_only(specs: &BTreeMap<u16, PortSpec>) -> Option<BTreeMap<u16, String>> {
    let ids: BTreeMap<u16, String> = specs
        .iter()
        .filter_map(|(&n, s)| match &s.backend {
            BackendSpec::Dpdk(id) => Some((n, id.clone())),
            _ => None,
        })
        .collect();
    (!ids.is_empty() && ids.len() == specs.len()).then_some(ids)
}

/// Parses `--p4rt` (a socket address or `host:port`).
fn parse_listen(s: &str) -> Result<SocketAddr, Failure> {
    let bad = |why: String| Failure::Input(format!("invalid --p4rt {s:?}: {why}"));
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let with_port = if s.contains(':') { s.to_string() } else { format!("{s}:{DEFAULT_PORT}") };
    with_port
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("resolves to no address".into()))
}

/// A port that reports itself exhausted once `stop` is set, so a pcap replay
/// ([`Engine::run_until_drained`]) ends early on a signal.
struct StopPort {
    inner: Box<dyn Port>,
    stop: Arc<AtomicBool>,
}

impl Port for StopPort {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn input_kind(&self) -> InputKind {
        self.inner.input_kind()
    }
    fn recv_burst(&mut self, batch: &mut RxBatch) -> PortResult<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Ok(0);
        }
        self.inner.recv_burst(batch)
    }
    fn release_rx(&mut self, batch: &RxBatch) {
        self.inner.release_rx(batch)
    }
    fn send_burst(&mut self, burst: &mut TxBurst<'_>) -> PortResult<usize> {
        self.inner.send_burst(burst)
    }
    fn is_exhausted(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.inner.is_exhausted()
    }
    fn open_output(&mut self) -> PortResult<()> {
        self.inner.open_output()
    }
    fn flush(&mut self) -> PortResult<()> {
        self.inner.flush()
    }
    fn close(&mut self) -> PortResult<()> {
        self.inner.close()
    }
    fn backend_stats(&mut self) -> BackendStats {
        self.inner.backend_stats()
    }
}

/// The `--config` device: see [`Args::device`].
fn choose_device<'a>(
    intent: &'a p4clone_compiler::intent::Intent,
    config: &Path,
    name: Option<&str>,
    device_id: Option<u64>,
) -> Result<&'a DeviceIntent, Failure> {
    select_device(intent, config, name, |all| {
        let one = |v: Vec<&'a DeviceIntent>| if v.len() == 1 { v.first().copied() } else { None };
        device_id
            .and_then(|id| one(all.iter().filter(|d| d.device_id == id).collect()))
            .or_else(|| one(all.iter().filter(|d| d.target == Target::Soft).collect()))
    })
}

/// Waits until a controller has set the pipeline, written a `wire` entry, and
/// the tables stayed unchanged for `settle`. `Some(signal)` if interrupted.
async fn wait_for_controller(target: &SoftTarget, settle: Duration, signals: &mut Signals) -> Option<&'static str> {
    let mut last = None;
    let mut since = Instant::now();
    loop {
        tokio::select! {
            s = signals.stop() => return Some(s),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        if !target.has_pipeline() {
            last = None;
            continue;
        }
        let sizes = target.pipeline().table_sizes();
        if last != Some(sizes) {
            last = Some(sizes);
            since = Instant::now();
        } else if sizes.wire > 0 && since.elapsed() >= settle {
            return None;
        }
    }
}

/// Runs `soft`.
pub fn run(args: &Args) -> Outcome {
    let listen = parse_listen(&args.p4rt)?;
    let serve = args.service.options()?;
    if let Some(w) = args.service.plaintext_warning(listen) {
        eprintln!("p4clone soft: {w}");
    }
    let specs = parse_port_specs(&args.ports).map_err(JobError::from)?;
    let has_pcap = specs.values().any(|s| matches!(s.backend, BackendSpec::Pcap(_)));
    let live = specs.values().any(|s| !matches!(s.backend, BackendSpec::Pcap(_)));
    if has_pcap && args.out.is_none() {
        return Err(Failure::Input("pcap ports need an output directory: add --out DIR".into()));
    }
    let compiled = match &args.config {
        Some(path) => {
            let c = load_and_compile(path)?;
            let d = choose_device(&c.intent, path, args.device.as_deref(), args.device_id)?.clone();
            Some((c.config, d))
        }
        None => None,
    };
    let device_id = args.device_id.or_else(|| compiled.as_ref().map(|(_, d)| d.device_id)).unwrap_or(1);
    if let Some(dir) = &args.out {
        let inputs: Vec<(&str, &Path)> = specs
            .values()
            .filter_map(|s| match &s.backend {
                BackendSpec::Pcap(p) => Some((s.text.as_str(), p.as_path())),
                _ => None,
            })
            .collect();
        embedded::prepare_output_dir(dir, &inputs)?;
    }
    let out_dir = args.out.clone().unwrap_or_default();
    #[cfg(feature = "dpdk")]
    if let Some(eal) = &args.dpdk {
        let eal = p4clone_soft::ports::dpdk::Eal::init(eal).map_err(|e| Failure::Runtime(e.to_string()))?;
        eal.set_default_options(args.dpdk_options.options());
    }
    // Only DPDK ports: DPDK's multi-lcore packet loop opens them itself.
    #[cfg(feature = "dpdk")]
    let dpdk_ports = if args.dpdk.is_some() { dpdk_only(&specs) } else { None };
    #[cfg(not(feature = "dpdk"))]
    let dpdk_ports: Option<BTreeMap<u16, String>> = None;
    let (ports, live) = match &dpdk_ports {
        #[cfg(feature = "dpdk")]
        Some(ids) => {
            let mut any_live = false;
            for id in ids.values() {
                let kind = p4clone_soft::ports::dpdk::input_kind(id)
                    .map_err(|e| JobError::from(p4clone_soft::ports::PortError::from(e)))?;
                any_live |= kind == InputKind::Live;
            }
            (BTreeMap::new(), any_live)
        }
        _ => {
            let ports = open_ports(&specs, &out_dir).map_err(JobError::from)?;
            // A DPDK file input (net_pcap rx_pcap=) is a replay: merged by timestamp like pcap.
            #[cfg(feature = "dpdk")]
            let live = live && ports.values().any(|p| p.input_kind() == InputKind::Live);
            (ports, live)
        }
    };

    let dialect = match (args.as_device, &compiled) {
        (Some(SoftAs::V1model), _) => Dialect::V1model,
        (Some(SoftAs::Tofino), _) => Dialect::Tofino,
        (None, Some((_, d))) => embedded::soft_stand_in(d.target).0,
        (None, None) => Dialect::V1model,
    };
    if let (Some((_, d)), true) = (&compiled, args.as_device.is_some()) {
        if embedded::soft_stand_in(d.target).0 != dialect {
            return Err(Failure::Input(format!(
                "--as {} cannot load device `{}` of {}: its target is {}",
                if dialect == Dialect::Tofino { "tofino" } else { "v1model" },
                d.name,
                show(args.config.as_deref()),
                d.target.rules().name
            )));
        }
    }
    let target = SoftTarget::new_as(device_id, dialect);
    if let Some((_, d)) = &compiled {
        let n = embedded::load_in_process(&target, d)?;
        eprintln!("p4clone soft: loaded {n} entities of device {} from {}", d.name, show(args.config.as_deref()));
    }
    let rt = async_runtime(Workers::InProcessTarget)?;
    let (server, mut signals) = rt.block_on(async {
        let signals = Signals::install(false)?;
        let server = Embedded::serve_with(&target, listen, &serve).await?;
        Ok::<_, Failure>((server, signals))
    })?;
    let addr = server.local_addr();
    eprintln!(
        "p4clone soft: device id {device_id}, P4Runtime on {addr}; {}",
        if specs.is_empty() {
            "no ports".to_string()
        } else {
            specs.values().map(PortSpec::to_string).collect::<Vec<_>>().join(", ")
        }
    );

    let stop = Arc::new(AtomicBool::new(false));
    let mut interrupted = None;
    let (report, result) = if specs.is_empty() {
        eprintln!("p4clone soft: serving until SIGINT/SIGTERM");
        interrupted = Some(rt.block_on(signals.stop()));
        (Engine::new(target.pipeline(), BTreeMap::new()).report(), Ok(()))
    } else {
        if !live && compiled.is_none() {
            eprintln!(
                "p4clone soft: waiting for a controller to set the pipeline and write its entries \
                 (replay starts {} ms after the last change)",
                args.settle_ms
            );
            interrupted =
                rt.block_on(wait_for_controller(&target, Duration::from_millis(args.settle_ms), &mut signals));
        }
        if interrupted.is_some() {
            (Engine::new(target.pipeline(), ports).report(), Ok(()))
        } else if let Some(ids) = &dpdk_ports {
            if live {
                eprintln!("p4clone soft: forwarding until SIGINT/SIGTERM");
            }
            let (report, r, signal) = run_dpdk_loop(&rt, &target, ids, args, &stop)?;
            interrupted = signal;
            (report, r)
        } else {
            let ports: BTreeMap<u16, Box<dyn Port>> = ports
                .into_iter()
                .map(|(n, p)| (n, Box::new(StopPort { inner: p, stop: stop.clone() }) as Box<dyn Port>))
                .collect();
            let mut engine = Engine::new(target.pipeline(), ports);
            if let Some(dir) = &args.out {
                engine = engine.with_output_dir(dir);
            }
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
            let stop2 = stop.clone();
            let worker = std::thread::Builder::new()
                .name("p4clone-engine".into())
                .spawn(move || {
                    let r = if live { engine.run(stop2) } else { engine.run_until_drained() };
                    let _ = done_tx.send(());
                    (engine, r)
                })
                .map_err(|e| Failure::Runtime(format!("cannot start the packet engine thread: {e}")))?;
            if live {
                eprintln!("p4clone soft: forwarding until SIGINT/SIGTERM");
            }
            interrupted = rt.block_on(async {
                tokio::select! {
                    s = signals.stop() => Some(s),
                    _ = done_rx => None,
                }
            });
            if let Some(s) = interrupted {
                stop.store(true, Ordering::Relaxed);
                eprintln!("p4clone soft: {s}, stopping (again to exit at once)");
                exit_on_next_signal(&rt);
            }
            let (mut engine, r) =
                worker.join().map_err(|_| Failure::Runtime("the packet engine thread panicked".into()))?;
            let report = engine.report();
            let _ = engine.close();
            (report, r.map(|_| ()))
        }
    };
    let announce = |s: &str| {
        eprintln!("p4clone soft: {s}, stopping (again to exit at once)");
        exit_on_next_signal(&rt);
    };
    match interrupted {
        Some(_) if stop.load(Ordering::Relaxed) => {} // announced above
        Some(s) => announce(s),
        None if args.hold && !specs.is_empty() => {
            eprintln!("p4clone soft: inputs drained; serving P4Runtime on {addr} until SIGINT/SIGTERM (--hold)");
            announce(rt.block_on(signals.stop()));
        }
        None => {}
    }

    let stats = match &compiled {
        // The server takes TLS clients only, and this process holds no client identity.
        Some(_) if serve.tls.is_some() => {
            eprintln!(
                "p4clone soft: per-clone-server statistics are not read at exit when serving TLS; \
                 read them with `p4clone stats --ca ...` (and --hold)"
            );
            None
        }
        Some((cfg, d)) => Some(rt.block_on(read_own_stats(connectable(addr), device_id, cfg, d))),
        None => None,
    };
    rt.block_on(server.shutdown());
    rt.shutdown_timeout(Duration::from_millis(100));

    // Every port handle is dropped by now: stop and close the devices (flushing
    // net_pcap outputs), free the pools, rte_eal_cleanup.
    #[cfg(feature = "dpdk")]
    if let Err(e) = p4clone_soft::ports::dpdk::Eal::shutdown() {
        eprintln!("p4clone soft: {e}");
    }
    warn_clones(&report);
    let mut text = format!("{report}\n{}\n", clone_totals(&report));
    if let Some(s) = &stats {
        text.push('\n');
        text.push_str(&render_table(s));
    }
    emit(&text, None)?;
    result.map_err(|e| JobError::from(e).into())
}

/// Runs DPDK's packet loop (`engine::dpdk::run`) on this thread, the EAL's main
/// lcore, until a signal (or until every file input is read). Returns the report,
/// the loop's result and the signal that stopped it, if one did.
#[cfg(feature = "dpdk")]
fn run_dpdk_loop(
    rt: &tokio::runtime::Runtime,
    target: &SoftTarget,
    ids: &BTreeMap<u16, String>,
    args: &Args,
    stop: &Arc<AtomicBool>,
) -> Result<(RunReport, PortResult<()>, Option<&'static str>), Failure> {
    use p4clone_soft::engine::dpdk;
    if args.out.is_some() {
        eprintln!("p4clone soft: --out is not used: every port is a DPDK device");
    }
    let waiter = {
        let stop = stop.clone();
        let mut signals = rt.block_on(async { Signals::install(false) })?;
        rt.spawn(async move {
            let s = signals.stop().await;
            stop.store(true, Ordering::Relaxed);
            eprintln!("p4clone soft: {s}, stopping (again to exit at once)");
            s
        })
    };
    let pipeline = target.pipeline();
    let result = dpdk::run(&pipeline, ids, &args.dpdk_options.options(), stop);
    let signal = if stop.load(Ordering::Relaxed) {
        let s = rt.block_on(waiter).ok();
        exit_on_next_signal(rt);
        s
    } else {
        waiter.abort();
        None
    };
    // A failure still goes through the orderly shutdown (server, devices, EAL).
    match result {
        Ok(report) => Ok((report, Ok(()), signal)),
        Err(e) => Ok((Engine::new(pipeline, BTreeMap::new()).report(), Err(e.into()), signal)),
    }
}

/// Without the `dpdk` feature there are no DPDK ports (`dpdk_ports` is always `None`).
#[cfg(not(feature = "dpdk"))]
fn run_dpdk_loop(
    _rt: &tokio::runtime::Runtime,
    _target: &SoftTarget,
    _ids: &BTreeMap<u16, String>,
    _args: &Args,
    _stop: &Arc<AtomicBool>,
) -> Result<(RunReport, PortResult<()>, Option<&'static str>), Failure> {
    Err(Failure::Input("this p4clone is built without DPDK (cargo feature dpdk)".into()))
}

/// The per-clone-server statistics of `device`, read over P4Runtime from this
/// process's own server (read-only client: it never competes with a controller).
async fn read_own_stats(
    addr: SocketAddr,
    device_id: u64,
    cfg: &Config,
    device: &DeviceIntent,
) -> p4clone_runtime::StatsReport {
    let opts = ConnectOptions::new(addr.to_string(), device_id).read_only();
    match Client::connect(opts).await {
        Ok(mut c) => p4clone_runtime::stats::read_device_report(&mut c, cfg, &device.name).await,
        Err(e) => p4clone_runtime::StatsReport {
            errors: vec![p4clone_runtime::stats::DeviceFailure { device: device.name.clone(), message: e.to_string() }],
            ..Default::default()
        },
    }
}

/// After a first signal: a second one exits at once with 130.
fn exit_on_next_signal(rt: &tokio::runtime::Runtime) {
    rt.spawn(async move {
        if let Ok(mut signals) = Signals::install(false) {
            let s = signals.stop().await;
            eprintln!("p4clone soft: {s} again, exiting now");
            std::process::exit(130);
        }
    });
}

/// One line of clone counters summed over members.
fn clone_totals(r: &RunReport) -> String {
    let sum = |f: fn(&p4clone_soft::engine::MemberReport) -> u64| r.members.iter().map(f).sum::<u64>();
    format!(
        "clones: requested {}, emitted {}, sent {}, alloc_failed {}, driver_failed {}, clone_no_session {}, \
         clone_rewrite_miss {}",
        sum(|m| m.requested.packets),
        sum(|m| m.emitted.packets),
        sum(|m| m.sent),
        sum(|m| m.alloc_failed),
        sum(|m| m.driver_failed),
        sum(|m| m.no_session.packets),
        sum(|m| m.rewrite_miss.packets)
    )
}

fn show(p: Option<&Path>) -> String {
    p.map_or_else(String::new, |p| p.display().to_string())
}
