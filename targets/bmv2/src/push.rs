//! Programming a device over P4Runtime the way `p4clone push` does, with the
//! timing BMv2's start-up window needs, and reading the mirror counters back.
//!
//! The same path serves every target: [`program`] takes the pipeline artifacts
//! (for BMv2, `p4src/build/traffic_clone.json` with the program's P4Info; for
//! the software target, the P4Info alone), so CI exercises it against the
//! software target and BMv2 users run exactly that code.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use p4clone_compiler::config::{Config, Target};
use p4clone_compiler::intent::DeviceIntent;
use p4clone_runtime::client::{Client, ConnectOptions};
use p4clone_runtime::pipeline::{self, PipelineArtifacts, PipelineStatus};
use p4clone_runtime::reconcile::{PushResult, Reconciler};
use p4clone_runtime::stats::{self, DeviceCounters, DropCounts, StatsReport};

use crate::error::{Bmv2Error, Result};

/// A programmed device.
pub struct Programmed {
    /// The primary client (for reading counters afterwards).
    pub client: Client,
    /// What the push wrote.
    pub result: PushResult,
    /// What happened to the pipeline.
    pub pipeline: PipelineStatus,
    /// Just before the pipeline was checked and set: the earliest moment
    /// BMv2's `--use-files` window can have started.
    pub pipeline_started: Instant,
    /// When `SetForwardingPipelineConfig` had returned: the window started
    /// no later than this (BMv2 starts its file reader as the config commits).
    pub pipeline_set: Instant,
    /// After the last Write.
    pub done: Instant,
}

impl std::fmt::Debug for Programmed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Programmed").field("result", &self.result).field("pipeline", &self.pipeline).finish()
    }
}

/// Connects to `address` (election id 1), installs `artifacts` unless the
/// device runs them (cookie), reads what it holds, diffs against `device`'s
/// intent and writes the difference in ordered batches.
pub async fn program(
    address: &str,
    device: &DeviceIntent,
    artifacts: &PipelineArtifacts,
    timeout: Duration,
) -> Result<Programmed> {
    let fail = |e: &dyn std::fmt::Display| Bmv2Error::Push(format!("push to {} ({address}): {e}", device.name));
    let mut opts = ConnectOptions::new(address, device.device_id);
    opts.timeout = timeout;
    let mut client = Client::connect(opts).await.map_err(|e| fail(&e))?;
    client.ensure_primary().map_err(|e| fail(&e))?;
    let pipeline_started = Instant::now();
    let status = pipeline::ensure_pipeline(&mut client, artifacts).await.map_err(|e| fail(&e))?;
    let pipeline_set = Instant::now();
    let mut rec = Reconciler::new(client, device.name.clone(), Target::Bmv2).map_err(|e| fail(&e))?;
    let state = rec.read_state().await.map_err(|e| fail(&e))?;
    let mut plan = rec.plan(device, &state).await.map_err(|e| fail(&e))?;
    plan.pipeline = Some(status);
    let result = rec.apply(&plan, &mut |_, _| {}).await;
    let done = Instant::now();
    if !result.ok() {
        return Err(Bmv2Error::Push(format!("push to {} ({address}) failed: {result}", device.name)));
    }
    Ok(Programmed { client: rec.into_client(), result, pipeline: status, pipeline_started, pipeline_set, done })
}

/// Reads `clones_requested` / `clones_emitted` over P4Runtime and builds the
/// per-clone-server statistics of `device`. A device that cannot count clone
/// failures (BMv2) leaves `num_mbuf_alloc_failed` / `num_driver_failures`
/// unknown (`-` in tables, `null` in JSON); `num_succeeded` is what the egress
/// emitted.
pub async fn read_stats(client: &mut Client, cfg: &Config, device: &str) -> StatsReport {
    stats_report(cfg, device, read_counters(client).await)
}

/// Reads the per-member mirror counters (`clones_requested`, `clones_emitted`)
/// over P4Runtime, with clone failures marked unknown (BMv2 cannot count them).
pub async fn read_counters(client: &mut Client) -> std::result::Result<DeviceCounters, String> {
    let read = match p4clone_proto::program::schema() {
        Ok(schema) => stats::read_device_counters(client, schema).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    read.map(|mut c| {
        c.fill_drops(|_| DropCounts::default());
        c
    })
}

/// The per-clone-server statistics of `device` from what [`read_counters`] read.
pub fn stats_report(cfg: &Config, device: &str, read: std::result::Result<DeviceCounters, String>) -> StatsReport {
    let mut reads = BTreeMap::new();
    reads.insert(device.to_string(), read);
    stats::build_report(cfg, &reads, None)
}
