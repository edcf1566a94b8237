//! Push: applying a plan phase by phase ([`Reconciler`]) and what it did
//! ([`PushResult`], [`PushError`]).

use std::collections::HashSet;
use std::fmt;

use p4clone_compiler::config::Target;
use p4clone_compiler::intent::{Allocation, DeviceIntent};
use p4clone_proto::schema::P4Schema;
use serde::Serialize;

use super::diff::diff;
use super::order::Phase;
use super::plan::{Op, Plan};
use super::state::{allocation, read_state, DeviceState, Ids};
use crate::client::Client;
use crate::counters;
use crate::describe;
use crate::error::{ClientError, ReconcileError};
use crate::pipeline::PipelineStatus;
use crate::write::{self, UpdateError, DEFAULT_BATCH_SIZE};

/// A failure reported for one device: a refused update, or a device-level error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushError {
    /// The update's position in the push, for a refused update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// `insert` / `modify` / `delete`, for a refused update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<&'static str>,
    /// The entity, for a refused update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Canonical code (`ALREADY_EXISTS`, ...) or the error kind (`UNREACHABLE`,
    /// `NOT_PRIMARY`, `TIMEOUT`, `PIPELINE`, ...).
    pub code: String,
    /// The message.
    pub message: String,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.op, &self.entity) {
            (Some(op), Some(e)) => write!(f, "{op} {e}: {}: {}", self.code, self.message),
            _ => write!(f, "{}", self.message),
        }
    }
}

impl From<UpdateError> for PushError {
    fn from(e: UpdateError) -> Self {
        PushError {
            index: Some(e.index),
            op: Some(e.op),
            entity: Some(e.entity),
            code: e.code.to_string(),
            message: e.message,
        }
    }
}

impl From<&ReconcileError> for PushError {
    fn from(e: &ReconcileError) -> Self {
        let code = match e {
            ReconcileError::Client(c) | ReconcileError::Pipeline(crate::error::PipelineError::Client(c)) => {
                client_code(c)
            }
            ReconcileError::Pipeline(_) => "PIPELINE",
            ReconcileError::Lower { .. } => "LOWER",
        };
        PushError { index: None, op: None, entity: None, code: code.to_string(), message: e.to_string() }
    }
}

fn client_code(c: &ClientError) -> &'static str {
    match c {
        ClientError::Unreachable { .. } => "UNREACHABLE",
        ClientError::Timeout { .. } => "TIMEOUT",
        ClientError::NotPrimary(_) => "NOT_PRIMARY",
        ClientError::Arbitration { .. } => "ARBITRATION",
        ClientError::Disconnected { .. } => "DISCONNECTED",
        ClientError::Rpc { code, .. } => describe::code_name(*code as i32),
        ClientError::Tls { .. } => "TLS",
        ClientError::BadAddress { .. } => "BAD_ADDRESS",
        ClientError::Protocol { .. } => "PROTOCOL",
    }
}

/// What a push did on one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushResult {
    /// Device name.
    pub device: String,
    /// `host:port`.
    pub address: String,
    /// Pipeline status (`None` if not reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineStatus>,
    /// Entities inserted.
    pub inserted: usize,
    /// Entities modified.
    pub modified: usize,
    /// Entities deleted.
    pub deleted: usize,
    /// Counter cells reset (two per member).
    pub counters_reset: usize,
    /// Refused updates and device-level failures.
    pub errors: Vec<PushError>,
}

impl PushResult {
    /// An empty result for `device`.
    pub fn new(device: impl Into<String>, address: impl Into<String>) -> PushResult {
        PushResult {
            device: device.into(),
            address: address.into(),
            pipeline: None,
            inserted: 0,
            modified: 0,
            deleted: 0,
            counters_reset: 0,
            errors: Vec::new(),
        }
    }

    /// A result that failed before writing anything.
    pub fn failed(device: &str, address: &str, e: &ReconcileError) -> PushResult {
        let mut r = PushResult::new(device, address);
        r.errors.push(e.into());
        r
    }

    /// Whether everything succeeded.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Updates applied (pipeline not counted).
    pub fn writes(&self) -> usize {
        self.inserted + self.modified + self.deleted + self.counters_reset
    }
}

impl fmt::Display for PushResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): ", self.device, self.address)?;
        if self.writes() == 0 && self.errors.is_empty() && !self.pipeline.is_some_and(|p| p.installed()) {
            write!(f, "up to date, nothing written")?;
        } else {
            write!(
                f,
                "{} inserted, {} modified, {} deleted, {} counter cells reset",
                self.inserted, self.modified, self.deleted, self.counters_reset
            )?;
            if let Some(p) = self.pipeline.filter(|p| p.installed()) {
                write!(f, "; {p}")?;
            }
        }
        if !self.errors.is_empty() {
            write!(f, "; {} error{}", self.errors.len(), if self.errors.len() == 1 { "" } else { "s" })?;
            for e in &self.errors {
                write!(f, "\n  error: {e}")?;
            }
        }
        Ok(())
    }
}

/// Reconcile options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileOptions {
    /// Updates per Write RPC.
    pub batch_size: usize,
    /// Reset counters of changed / new members.
    pub reset_counters: bool,
    /// Write RPCs in flight at once within a phase (the updates of one phase
    /// never depend on each other).
    pub in_flight: usize,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions { batch_size: DEFAULT_BATCH_SIZE, reset_counters: true, in_flight: write::DEFAULT_IN_FLIGHT }
    }
}

/// Reads, plans and applies for one device over one [`Client`].
#[derive(Debug)]
pub struct Reconciler {
    client: Client,
    device: String,
    schema: &'static P4Schema,
    opts: ReconcileOptions,
}

impl Reconciler {
    /// A reconciler for device `device` (its name in the config), a `target`
    /// device: it reads and writes the objects of the program that target runs.
    pub fn new(client: Client, device: impl Into<String>, target: Target) -> Result<Reconciler, ReconcileError> {
        let device = device.into();
        let schema = target
            .rules()
            .schema()
            .map_err(|e| ReconcileError::Lower { device: device.clone(), message: e.to_string() })?;
        Ok(Reconciler { client, device, schema, opts: ReconcileOptions::default() })
    }

    /// Sets the options.
    pub fn with_options(mut self, opts: ReconcileOptions) -> Reconciler {
        self.opts = opts;
        self
    }

    /// The client.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The options, to change between calls.
    pub fn options_mut(&mut self) -> &mut ReconcileOptions {
        &mut self.opts
    }

    /// Gives the client back.
    pub fn into_client(self) -> Client {
        self.client
    }

    /// Device name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The schema in use.
    pub fn schema(&self) -> &'static P4Schema {
        self.schema
    }

    /// Reads what the program owns on the device (see [`crate::reconcile`]).
    pub async fn read_state(&mut self) -> Result<DeviceState, ReconcileError> {
        read_state(&mut self.client, self.schema).await.map_err(Into::into)
    }

    /// The allocation recorded on the device, as compile hints.
    pub fn allocation(&self, state: &DeviceState) -> Allocation {
        allocation(&self.device, state, self.schema)
    }

    /// [`diff`], then reads the counter cells of the reset candidates and keeps
    /// only members with a non-zero cell (if the read fails, all candidates stay).
    pub async fn plan(&mut self, intent: &DeviceIntent, state: &DeviceState) -> Result<Plan, ReconcileError> {
        let mut plan = diff(intent, self.client.address(), state, self.schema)?;
        if !self.opts.reset_counters {
            plan.counter_resets.clear();
        } else if !plan.counter_resets.is_empty() {
            let ids = Ids::new(self.schema);
            let resets = ids.reset_counters();
            let mut want = Vec::with_capacity(plan.counter_resets.len() * resets.len());
            for r in &plan.counter_resets {
                for c in resets.iter().filter(|c| c.applies_to(r.member)) {
                    want.push((c.id, i64::from(r.member)));
                }
            }
            if let Ok(cells) = counters::read_cells(&mut self.client, &want).await {
                let nonzero: HashSet<i64> =
                    cells.iter().filter(|(_, _, v)| v.packets != 0 || v.bytes != 0).map(|&(_, i, _)| i).collect();
                plan.counter_resets.retain(|r| nonzero.contains(&i64::from(r.member)));
            }
        }
        Ok(plan)
    }

    /// Applies `plan` in dependency order, in batches; `progress(done, total)`
    /// after every batch. Refused updates are collected and the push goes on; a
    /// device-level failure stops it and is reported in the result.
    pub async fn apply(&mut self, plan: &Plan, progress: &mut (dyn FnMut(usize, usize) + Send)) -> PushResult {
        self.apply_until(plan, progress, &|| false).await
    }

    /// [`Reconciler::apply`] that stops at a Write-batch boundary once
    /// `stop()` is true (asked before each batch is sent; the batches in
    /// flight finish, no later phase starts): the result then holds fewer
    /// writes than [`Plan::write_count`] and no error.
    pub async fn apply_until(
        &mut self,
        plan: &Plan,
        progress: &mut (dyn FnMut(usize, usize) + Send),
        stop: &(dyn Fn() -> bool + Sync),
    ) -> PushResult {
        let ids = Ids::new(self.schema);
        let mut result = PushResult::new(&plan.device, &plan.address);
        result.pipeline = plan.pipeline;
        let resets = ids.reset_counters();
        let phases = plan.phases(&resets);
        let total: usize = phases.iter().map(write::UpdateList::len).sum();
        let mut offset = 0;
        for phase in phases {
            let n = write::UpdateList::len(&phase);
            let op = match &phase {
                Phase::Changes { op, .. } => Some(*op),
                Phase::Resets { .. } => None,
            };
            let base = offset;
            let describe = |i: usize| phase.name(i);
            let mut cb = |done: usize, _: usize| progress(base + done, total);
            if stop() {
                return result;
            }
            let r = write::write_batched_until(
                &mut self.client,
                &phase,
                self.opts.batch_size,
                self.opts.in_flight,
                &describe,
                &mut cb,
                stop,
            )
            .await;
            let (report, fatal) = match r {
                Ok(rep) => (rep, None),
                Err((rep, e)) => (rep, Some(e)),
            };
            match op {
                None => result.counters_reset += report.applied,
                Some(Op::Insert) => result.inserted += report.applied,
                Some(Op::Modify) => result.modified += report.applied,
                Some(Op::Delete) => result.deleted += report.applied,
            }
            for mut e in report.errors {
                e.index += base;
                result.errors.push(e.into());
            }
            if let Some(e) = fatal {
                result.errors.push((&ReconcileError::Client(e)).into());
                return result;
            }
            offset += n;
        }
        result
    }
}
