//! Many devices at once: `plan`, `push` and `stats` over the devices of a
//! config, concurrently (one tokio task per device, all joined). One failing
//! device never stops the others; each gets its own result.
//!
//! `push` runs in two rounds:
//! 1. per device, concurrently: connect and arbitrate (a backup stops here, it
//!    never writes), make sure our pipeline is installed (cookie), read the
//!    device's entities;
//! 2. compile the config once, with the member-block allocation read from every
//!    device as hints (so member ids never move, see [`crate::reconcile`]), then
//!    per device, concurrently: diff, read the counter cells to reset, write.
//!
//! `plan` does the same with a read-only connection (no arbitration, nothing
//! written; a device whose pipeline would be (re)installed is planned from empty).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use p4clone_compiler::config::{Config, Target};
use p4clone_compiler::diag::Diagnostic;
use p4clone_compiler::intent::{self, Allocation, Intent};
use serde::Serialize;
use tokio::task::JoinSet;

use crate::client::{Backoff, Client, ConnectOptions, TlsOptions};
use crate::error::{ClientError, ReconcileError};
use crate::pipeline::{self, PipelineArtifacts, PipelineStatus};
use crate::reconcile::{self, DeviceState, Plan, PushError, PushResult, ReconcileOptions, Reconciler};
use crate::stats::{self, DeviceCounters, StatsReport};
use crate::write::DEFAULT_BATCH_SIZE;

/// One device to talk to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceTarget {
    /// Device name in the config.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// P4Runtime device id.
    pub device_id: u64,
    /// Data-plane kind (selects the pipeline artifacts).
    #[serde(skip)]
    pub target: Target,
    /// The device config file the config names, if any.
    #[serde(skip)]
    pub device_config: Option<std::path::PathBuf>,
}

impl DeviceTarget {
    /// Every device of the config, in config order.
    pub fn from_config(cfg: &Config) -> Vec<DeviceTarget> {
        cfg.devices
            .iter()
            .map(|d| DeviceTarget {
                name: d.name.clone(),
                address: d.address.clone(),
                device_id: d.device_id,
                target: d.target,
                device_config: d.device_config.as_ref().map(std::path::PathBuf::from),
            })
            .collect()
    }

    /// What this device is programmed with ([`PipelineArtifacts::for_device`]).
    pub fn artifacts(
        &self,
        p4src_dir: Option<&std::path::Path>,
    ) -> Result<PipelineArtifacts, crate::error::PipelineError> {
        PipelineArtifacts::for_device(self.target, self.device_config.as_deref(), p4src_dir)
    }

    /// The devices a command works on (`--device NAME`, `--address HOST:PORT`):
    /// `device` keeps the device of that name (unknown name: error listing the
    /// names). `address`, when one device is left, replaces its address;
    /// otherwise it selects the devices configured with that address (none:
    /// error).
    pub fn select(cfg: &Config, device: Option<&str>, address: Option<&str>) -> Result<Vec<DeviceTarget>, String> {
        let mut all = DeviceTarget::from_config(cfg);
        if let Some(name) = device {
            if !all.iter().any(|d| d.name == name) {
                let names: Vec<&str> = cfg.devices.iter().map(|d| d.name.as_str()).collect();
                return Err(format!(
                    "no device `{name}` in the config (devices: {})",
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                ));
            }
            all.retain(|d| d.name == name);
        }
        if let Some(addr) = address {
            if all.len() == 1 {
                all[0].address = addr.to_string();
            } else {
                let norm = |a: &str| crate::client::normalize_address(a).unwrap_or_else(|_| a.to_string());
                let want = norm(addr);
                all.retain(|d| norm(&d.address) == want);
                if all.is_empty() {
                    return Err(format!(
                        "no device of the config has address {addr}; with several devices, --address selects \
                         the devices configured with that address (or name one with --device)"
                    ));
                }
            }
        }
        Ok(all)
    }
}

/// Options for fleet operations.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Election id (default 1).
    pub election_id: u128,
    /// TLS for every device.
    pub tls: Option<TlsOptions>,
    /// Connect / arbitration timeout.
    pub timeout: Duration,
    /// Per-RPC timeout.
    pub rpc_timeout: Duration,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// Updates per Write RPC.
    pub batch_size: usize,
    /// Where `build/traffic_clone.json` is looked for (BMv2).
    pub p4src_dir: Option<PathBuf>,
    /// Reset counters of changed / new members (default true).
    pub reset_counters: bool,
    /// Write RPCs in flight per device within a phase (default 4).
    pub in_flight: usize,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            election_id: 1,
            tls: None,
            timeout: Duration::from_secs(5),
            rpc_timeout: Duration::from_secs(120),
            backoff: Backoff::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            p4src_dir: None,
            reset_counters: true,
            in_flight: crate::write::DEFAULT_IN_FLIGHT,
        }
    }
}

impl FleetOptions {
    /// Connect options for `t`.
    pub fn connect_options(&self, t: &DeviceTarget) -> ConnectOptions {
        let mut o = ConnectOptions::new(t.address.clone(), t.device_id);
        o.election_id = self.election_id;
        o.tls = self.tls.clone();
        o.timeout = self.timeout;
        o.rpc_timeout = self.rpc_timeout;
        o.backoff = self.backoff;
        o
    }

    fn reconcile_options(&self) -> ReconcileOptions {
        ReconcileOptions { batch_size: self.batch_size, reset_counters: self.reset_counters, in_flight: self.in_flight }
    }
}

/// Where a device is in a fleet operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// Connecting and arbitrating.
    Connecting,
    /// Checking / installing the pipeline.
    Pipeline,
    /// Reading the device's entities.
    Reading,
    /// Diffing.
    Planning,
    /// Writing: `done` of `total` updates sent.
    Writing {
        /// Updates sent so far.
        done: usize,
        /// Updates in the push.
        total: usize,
    },
    /// Finished.
    Done {
        /// Without any error.
        ok: bool,
    },
}

/// A progress report from one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgressEvent {
    /// Device name.
    pub device: String,
    /// What it is doing.
    pub stage: Stage,
}

/// Progress callback (the CLI draws bars from it). Called from device tasks.
pub type ProgressFn = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

fn emit(p: &Option<ProgressFn>, device: &str, stage: Stage) {
    if let Some(p) = p {
        p(&ProgressEvent { device: device.to_string(), stage });
    }
}

/// The config did not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the config does not compile: {}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))]
pub struct CompileError(pub Vec<Diagnostic>);

/// Plan (or error) of one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevicePlan {
    /// Device name.
    pub device: String,
    /// `host:port`.
    pub address: String,
    /// The plan, if the device could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PushError>,
}

/// Plans of all devices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetPlan {
    /// Per device, in target order.
    pub devices: Vec<DevicePlan>,
}

impl FleetPlan {
    /// Whether every device could be planned.
    pub fn ok(&self) -> bool {
        self.devices.iter().all(|d| d.error.is_none())
    }

    /// Total updates the plans would write.
    pub fn write_count(&self) -> usize {
        self.devices.iter().filter_map(|d| d.plan.as_ref()).map(Plan::write_count).sum()
    }
}

impl fmt::Display for FleetPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.devices {
            match (&d.plan, &d.error) {
                (Some(p), _) => write!(f, "{p}")?,
                (None, Some(e)) => writeln!(f, "{} ({}): error: {e}", d.device, d.address)?,
                (None, None) => writeln!(f, "{} ({}): not planned", d.device, d.address)?,
            }
        }
        Ok(())
    }
}

/// Push results of all devices: `{"devices":[{"device":..,"inserted":..,...}]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetPush {
    /// Per device, in target order.
    pub devices: Vec<PushResult>,
}

impl FleetPush {
    /// Whether every device succeeded.
    pub fn ok(&self) -> bool {
        self.devices.iter().all(PushResult::ok)
    }

    /// Updates applied over all devices.
    pub fn writes(&self) -> usize {
        self.devices.iter().map(PushResult::writes).sum()
    }
}

impl fmt::Display for FleetPush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.devices {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

struct Prepared {
    rec: Reconciler,
    state: DeviceState,
    pipeline: PipelineStatus,
}

async fn prepare(
    t: DeviceTarget,
    opts: FleetOptions,
    push: bool,
    progress: Option<ProgressFn>,
) -> Result<Prepared, ReconcileError> {
    emit(&progress, &t.name, Stage::Connecting);
    let mut co = opts.connect_options(&t);
    if !push {
        co = co.read_only();
    }
    let client = Client::connect(co).await?;
    if push {
        // A backup stops here, saying who is primary; it never writes.
        client.ensure_primary()?;
    }
    let artifacts = t.artifacts(opts.p4src_dir.as_deref())?;
    let mut rec = Reconciler::new(client, t.name.clone(), t.target)?.with_options(opts.reconcile_options());
    emit(&progress, &t.name, Stage::Pipeline);
    let status = if push {
        pipeline::ensure_pipeline(rec.client(), &artifacts).await?
    } else {
        pipeline::check_pipeline(rec.client(), &artifacts).await?
    };
    emit(&progress, &t.name, Stage::Reading);
    let state = if !push && status.installed() { DeviceState::default() } else { rec.read_state().await? };
    Ok(Prepared { rec, state, pipeline: status })
}

/// Round 1 for every target, concurrently; then the compile with hints.
async fn prepare_all(
    cfg: &Config,
    targets: &[DeviceTarget],
    opts: &FleetOptions,
    push: bool,
    progress: &Option<ProgressFn>,
) -> Result<(Vec<Result<Prepared, ReconcileError>>, Arc<Intent>), CompileError> {
    let mut set = JoinSet::new();
    for (i, t) in targets.iter().cloned().enumerate() {
        let (opts, progress) = (opts.clone(), progress.clone());
        set.spawn(async move { (i, prepare(t, opts, push, progress).await) });
    }
    let mut out: Vec<Option<Result<Prepared, ReconcileError>>> = (0..targets.len()).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        if let Ok((i, r)) = r {
            out[i] = Some(r);
        }
    }
    let out: Vec<Result<Prepared, ReconcileError>> = out
        .into_iter()
        .zip(targets)
        .map(|(r, t)| {
            r.unwrap_or_else(|| {
                Err(ReconcileError::Client(ClientError::Protocol {
                    address: t.address.clone(),
                    message: "device task panicked".into(),
                }))
            })
        })
        .collect();
    let mut hints = Allocation::default();
    for p in out.iter().flatten() {
        reconcile::merge_allocation(&mut hints, &p.rec.allocation(&p.state));
    }
    let intent = intent::compile(cfg, &hints).map_err(CompileError)?;
    Ok((out, Arc::new(intent)))
}

fn not_in_config(t: &DeviceTarget) -> ReconcileError {
    ReconcileError::Lower { device: t.name.clone(), message: "the device is not in the config".into() }
}

/// Plans every target (nothing is written). `Err` only if the config does not
/// compile; device failures are in the per-device entries.
pub async fn plan(cfg: &Config, targets: &[DeviceTarget], opts: &FleetOptions) -> Result<FleetPlan, CompileError> {
    let (prepared, intent) = prepare_all(cfg, targets, opts, false, &None).await?;
    let mut set = JoinSet::new();
    for (i, (p, t)) in prepared.into_iter().zip(targets.iter().cloned()).enumerate() {
        let intent = Arc::clone(&intent);
        set.spawn(async move {
            let r = async {
                let mut p = p?;
                let d = intent.device(&t.name).ok_or_else(|| not_in_config(&t))?;
                if p.pipeline.installed() {
                    p.rec.options_mut().reset_counters = false;
                }
                let mut plan = p.rec.plan(d, &p.state).await?;
                plan.address = t.address.clone();
                plan.pipeline = Some(p.pipeline);
                Ok::<_, ReconcileError>(plan)
            }
            .await;
            (i, t, r)
        });
    }
    let mut devices: Vec<Option<DevicePlan>> = (0..targets.len()).map(|_| None).collect();
    while let Some(Ok((i, t, r))) = set.join_next().await {
        devices[i] = Some(match r {
            Ok(plan) => DevicePlan { device: t.name, address: t.address, plan: Some(plan), error: None },
            Err(e) => DevicePlan { device: t.name, address: t.address, plan: None, error: Some((&e).into()) },
        });
    }
    Ok(FleetPlan {
        devices: devices
            .into_iter()
            .zip(targets)
            .map(|(d, t)| {
                d.unwrap_or_else(|| DevicePlan {
                    device: t.name.clone(),
                    address: t.address.clone(),
                    plan: None,
                    error: Some(PushError {
                        index: None,
                        op: None,
                        entity: None,
                        code: "INTERNAL".into(),
                        message: "device task panicked".into(),
                    }),
                })
            })
            .collect(),
    })
}

/// Pushes to every target concurrently. `Err` only if the config does not
/// compile; device failures are in the per-device results.
pub async fn push(
    cfg: &Config,
    targets: &[DeviceTarget],
    opts: &FleetOptions,
    progress: Option<ProgressFn>,
) -> Result<FleetPush, CompileError> {
    let (prepared, intent) = prepare_all(cfg, targets, opts, true, &progress).await?;
    let mut set = JoinSet::new();
    for (i, (p, t)) in prepared.into_iter().zip(targets.iter().cloned()).enumerate() {
        let intent = Arc::clone(&intent);
        let progress = progress.clone();
        set.spawn(async move {
            let result = match p {
                Err(e) => PushResult::failed(&t.name, &t.address, &e),
                Ok(mut p) => {
                    emit(&progress, &t.name, Stage::Planning);
                    if p.pipeline.installed() {
                        // A pipeline just set starts with zeroed counters.
                        p.rec.options_mut().reset_counters = false;
                    }
                    let planned = match intent.device(&t.name) {
                        None => Err(not_in_config(&t)),
                        Some(d) => p.rec.plan(d, &p.state).await,
                    };
                    match planned {
                        Err(e) => {
                            let mut r = PushResult::failed(&t.name, &t.address, &e);
                            r.pipeline = Some(p.pipeline);
                            r
                        }
                        Ok(mut plan) => {
                            plan.address = t.address.clone();
                            plan.pipeline = Some(p.pipeline);
                            let name = t.name.clone();
                            let pr = progress.clone();
                            let mut cb = move |done: usize, total: usize| {
                                emit(&pr, &name, Stage::Writing { done, total });
                            };
                            let r = p.rec.apply(&plan, &mut cb).await;
                            p.rec.into_client().close().await;
                            r
                        }
                    }
                }
            };
            emit(&progress, &t.name, Stage::Done { ok: result.ok() });
            (i, result)
        });
    }
    let mut devices: Vec<Option<PushResult>> = (0..targets.len()).map(|_| None).collect();
    while let Some(Ok((i, r))) = set.join_next().await {
        devices[i] = Some(r);
    }
    Ok(FleetPush {
        devices: devices
            .into_iter()
            .zip(targets)
            .map(|(d, t)| {
                d.unwrap_or_else(|| {
                    let mut r = PushResult::new(&t.name, &t.address);
                    r.errors.push(PushError {
                        index: None,
                        op: None,
                        entity: None,
                        code: "INTERNAL".into(),
                        message: "device task panicked".into(),
                    });
                    r
                })
            })
            .collect(),
    })
}

/// Reads mirror counters from many devices, keeping read-only connections
/// open between calls (for `stats --watch` and `--listen`); a device that
/// fails is reconnected on the next call.
#[derive(Debug)]
pub struct StatsCollector {
    targets: Vec<DeviceTarget>,
    opts: FleetOptions,
    clients: Vec<Option<Client>>,
}

impl StatsCollector {
    /// A collector for `targets` (nothing is connected yet).
    pub fn new(targets: Vec<DeviceTarget>, opts: FleetOptions) -> StatsCollector {
        let clients = targets.iter().map(|_| None).collect();
        StatsCollector { targets, opts, clients }
    }

    /// Reads every device concurrently: device name → counters or error message.
    pub async fn read(&mut self) -> BTreeMap<String, Result<DeviceCounters, String>> {
        let mut set = JoinSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            // Each device is read with the program its target runs.
            let schema = match t.target.rules().schema() {
                Ok(s) => s,
                Err(e) => {
                    let e = e.to_string();
                    set.spawn(async move { (i, None, Err(e)) });
                    continue;
                }
            };
            let client = self.clients[i].take();
            let co = self.opts.connect_options(t).read_only();
            set.spawn(async move {
                let mut client = match client {
                    Some(c) => c,
                    None => match Client::connect(co).await {
                        Ok(c) => c,
                        Err(e) => return (i, None, Err(e.to_string())),
                    },
                };
                match stats::read_device_counters(&mut client, schema).await {
                    Ok(c) => (i, Some(client), Ok(c)),
                    Err(e) => (i, None, Err(e.to_string())),
                }
            });
        }
        let mut out = BTreeMap::new();
        while let Some(Ok((i, client, r))) = set.join_next().await {
            self.clients[i] = client;
            out.insert(self.targets[i].name.clone(), r);
        }
        for t in &self.targets {
            out.entry(t.name.clone()).or_insert_with(|| Err("device task panicked".into()));
        }
        out
    }

    /// Reads every device and builds the report (`vs` restricts to one VS).
    pub async fn collect(&mut self, cfg: &Config, vs: Option<&str>) -> StatsReport {
        let reads = self.read().await;
        stats::build_report(cfg, &reads, vs)
    }
}

/// One-shot [`StatsCollector::collect`].
pub async fn stats(cfg: &Config, targets: &[DeviceTarget], opts: &FleetOptions, vs: Option<&str>) -> StatsReport {
    StatsCollector::new(targets.to_vec(), opts.clone()).collect(cfg, vs).await
}
