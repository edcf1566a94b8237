//! One device's task: connect and hold the StreamChannel, follow the
//! arbitration, reconcile as primary (at start, on every reconnect, when the
//! config changes, when it becomes primary, every resync period), reconnect
//! with backoff when the stream is lost; a reconcile that fails on a
//! connected device is retried with backoff (capped at the resync period).
//! As primary it also writes the live bindings that changed ([`super::bindings`]),
//! batched: within the flush delay, at once when a batch is full; a reconcile
//! writes config + live bindings, adopting the device's bindings first when it
//! has just become primary (see the failover rule in [`super::bindings`]).
//! It never returns an error: failures are logged, counted on the
//! [`StatusBoard`] and retried.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use p4clone_compiler::config::Config;
use p4clone_compiler::intent::{self, Allocation, Intent};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::backoff::ReconnectBackoff;
use super::bindings::{entries, BindingTable};
use super::status::{Role, StatusBoard};
use super::ControllerOptions;
use crate::client::Client;
use crate::error::{PipelineError, ReconcileError};
use crate::fleet::{CompileError, DeviceTarget};
use crate::pipeline::{self, PipelineArtifacts, PipelineStatus};
use crate::reconcile::{Plan, ReconcileOptions, Reconciler};
use crate::{describe, write};

/// What a device task shares with the supervisor.
pub(super) struct DeviceContext {
    /// Device name in the config.
    pub name: String,
    pub opts: Arc<ControllerOptions>,
    pub board: Arc<StatusBoard>,
    /// The live NAT bindings.
    pub bindings: Arc<BindingTable>,
    /// The config in force.
    pub config: watch::Receiver<Arc<Config>>,
    /// `true` once the controller is stopping.
    pub shutdown: watch::Receiver<bool>,
}

/// Why a session with a connected device ended.
enum SessionEnd {
    /// The controller is stopping (the stream is closed).
    Shutdown,
    /// The stream or the device went away.
    Lost(String),
    /// The device's address or id changed in the config, or it left the config.
    Retarget,
}

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error("the device is not in the config")]
    NotInConfig,
    #[error("{failed} of {total} updates failed: {first}")]
    Writes { failed: usize, total: usize, first: String },
    /// The controller is stopping: nothing more is sent (the Write batches in
    /// flight finished).
    #[error("stopped by the shutdown after {written} of {total} updates")]
    Stopped { written: usize, total: usize },
}

impl SyncError {
    fn is_connection(&self) -> bool {
        matches!(self, SyncError::Reconcile(ReconcileError::Client(e)) if e.is_connection())
            || matches!(self, SyncError::Reconcile(ReconcileError::Pipeline(PipelineError::Client(e))) if e.is_connection())
    }
}

/// What one reconcile did.
struct Synced {
    pipeline: PipelineStatus,
    writes: usize,
    summary: Option<String>,
    /// Bindings read back from the device and adopted as live, and live
    /// bindings dropped because the device did not hold them.
    adopted: (usize, usize),
}

fn target_of(cfg: &Config, name: &str) -> Option<DeviceTarget> {
    DeviceTarget::from_config(cfg).into_iter().find(|t| t.name == name)
}

fn salt(name: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

/// Runs until the controller stops or the device leaves the config.
pub(super) async fn run(mut cx: DeviceContext) {
    let mut backoff = ReconnectBackoff::new(cx.opts.reconnect_initial, cx.opts.reconnect_max, salt(&cx.name));
    let mut last_error: Option<String> = None;
    // Take the device's bindings at the next reconcile as primary (see
    // `super::bindings`): at start, and after having seen another primary.
    let mut adopt = Adopt::Merge;
    loop {
        if *cx.shutdown.borrow() {
            return;
        }
        let current = cx.config.borrow().clone();
        let Some(target) = target_of(&current, &cx.name) else {
            cx.board.remove(&cx.name);
            tracing::info!(device = %cx.name, "no longer in the config; stream closed");
            return;
        };
        // What the device is programmed with (a BMv2 device needs the p4c
        // output): without it there is no point in connecting.
        let connected = match target.artifacts(cx.opts.fleet.p4src_dir.as_deref()) {
            Err(e) => Err(("cannot program the device; retrying with backoff", e.to_string())),
            Ok(artifacts) => {
                let connect = Client::connect(cx.opts.fleet.connect_options(&target));
                tokio::select! {
                    r = connect => r
                        .map(|c| (c, artifacts))
                        .map_err(|e| ("cannot connect; retrying with backoff", e.to_string())),
                    _ = cx.shutdown.changed() => return,
                }
            }
        };
        let delay = match connected {
            Ok((client, artifacts)) => {
                backoff.reset();
                last_error = None;
                let a = client.arbitration();
                tracing::info!(device = %cx.name, address = %target.address, election_id = a.election_id, "connected");
                match session(&mut cx, &target, client, &artifacts, &mut adopt).await {
                    SessionEnd::Shutdown => return,
                    SessionEnd::Retarget => {
                        cx.board.set_role(&cx.name, &target.address, Role::Disconnected);
                        continue;
                    }
                    SessionEnd::Lost(reason) => {
                        cx.board.set_role(&cx.name, &target.address, Role::Disconnected);
                        cx.board.failed(&cx.name, &target.address, &reason, 0);
                        let d = backoff.next_delay();
                        tracing::warn!(
                            device = %cx.name,
                            address = %target.address,
                            reason = %reason,
                            retry_ms = d.as_millis() as u64,
                            "disconnected; reconnecting"
                        );
                        d
                    }
                }
            }
            Err((what, msg)) => {
                cx.board.set_role(&cx.name, &target.address, Role::Disconnected);
                cx.board.failed(&cx.name, &target.address, &msg, 0);
                let d = backoff.next_delay();
                if last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(device = %cx.name, address = %target.address, error = %msg, "{what}");
                }
                last_error = Some(msg);
                d
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cx.shutdown.changed() => return,
            c = cx.config.changed() => if c.is_err() { return },
        }
    }
}

/// Holds one connection until it is lost, the target moves or the controller stops.
async fn session(
    cx: &mut DeviceContext,
    target: &DeviceTarget,
    client: Client,
    artifacts: &PipelineArtifacts,
    adopt: &mut Adopt,
) -> SessionEnd {
    let (name, address) = (cx.name.clone(), target.address.clone());
    let mut arb = client.arbitration_watch();
    let mut rec = match Reconciler::new(client, name.clone(), target.target) {
        Ok(r) => r.with_options(ReconcileOptions {
            batch_size: cx.opts.fleet.batch_size,
            reset_counters: cx.opts.fleet.reset_counters,
            in_flight: cx.opts.fleet.in_flight,
        }),
        Err(e) => return SessionEnd::Lost(e.to_string()),
    };
    let mut resync = tokio::time::interval_at(tokio::time::Instant::now() + cx.opts.resync, cx.opts.resync);
    resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut due = true;
    let mut compiled: Option<CompiledIntent> = None;
    // After a failed reconcile (device still connected): retry sooner than
    // the next resync, with backoff.
    let mut retry = ReconnectBackoff::new(cx.opts.reconnect_initial, cx.opts.resync, salt(&name));
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut in_sync = false;
    let bind_notify = cx.bindings.notifier(&name);
    let mut flush_at: Option<tokio::time::Instant> = None;
    loop {
        let a = *arb.borrow_and_update();
        if !a.connected {
            return SessionEnd::Lost("stream ended".into());
        }
        let role = if a.primary { Role::Primary } else { Role::Backup };
        if cx.board.set_role(&name, &address, role) {
            in_sync = false;
            cx.bindings.set_backup(&name, role == Role::Backup);
            match role {
                Role::Primary => {
                    tracing::info!(device = %name, address = %address, election_id = a.election_id, "primary");
                    due = true;
                }
                _ => {
                    *adopt = Adopt::Replace;
                    tracing::info!(
                    device = %name,
                    address = %address,
                    election_id = a.election_id,
                    primary_election_id = %a.primary_election_id.map_or_else(|| "higher".to_string(), |p| p.to_string()),
                    "backup; not writing"
                    )
                }
            }
        }
        if role == Role::Primary && due {
            due = false;
            retry_at = None;
            let cfg = cx.config.borrow().clone();
            let live = Live { table: &cx.bindings, adopt: *adopt };
            let stopping = cx.shutdown.clone();
            let stop = move || *stopping.borrow();
            let r = reconcile_once(
                &mut rec,
                artifacts,
                &cfg,
                &mut compiled,
                &name,
                cx.opts.fleet.reset_counters,
                live,
                &stop,
            )
            .await;
            match r {
                Ok(s) => {
                    *adopt = Adopt::No;
                    if s.adopted != (0, 0) {
                        tracing::info!(
                            device = %name,
                            address = %address,
                            adopted = s.adopted.0,
                            dropped = s.adopted.1,
                            "live bindings taken from the device"
                        );
                    }
                    cx.board.reconciled(&name, &address, s.writes);
                    if s.pipeline.installed() {
                        tracing::info!(device = %name, address = %address, "{}", s.pipeline);
                    }
                    if let Some(summary) = s.summary {
                        tracing::info!(device = %name, address = %address, writes = s.writes, "repaired: {summary}");
                    } else if !in_sync {
                        tracing::info!(device = %name, address = %address, "in sync");
                    }
                    in_sync = true;
                    retry.reset();
                }
                Err((SyncError::Stopped { written, total }, writes)) => {
                    // The shutdown branch below closes the stream.
                    in_sync = false;
                    cx.board.wrote(&name, &address, writes);
                    cx.board.mark_stale(&name, &address);
                    tracing::info!(
                        device = %name,
                        address = %address,
                        written,
                        total,
                        "stopping: reconcile interrupted at a Write-batch boundary"
                    );
                }
                Err((e, writes)) => {
                    in_sync = false;
                    let msg = e.to_string();
                    cx.board.failed(&name, &address, &msg, writes);
                    tracing::warn!(device = %name, address = %address, error = %msg, "reconcile failed");
                    if e.is_connection() || !rec.client().is_connected() {
                        rec.into_client().close_stream();
                        return SessionEnd::Lost(msg);
                    }
                    retry_at = Some(tokio::time::Instant::now() + retry.next_delay());
                }
            }
            continue;
        }
        tokio::select! {
            _ = cx.shutdown.changed() => {
                // Accepted bindings not written yet are written before the stream closes.
                while role == Role::Primary && cx.bindings.pending(&name) > 0 {
                    match flush(&mut rec, &cx.bindings, &name, cx.opts.fleet.batch_size, cx.opts.fleet.in_flight).await {
                        Ok(f) if f.error.is_none() => cx.board.wrote(&name, &address, f.writes),
                        Ok(f) => {
                            tracing::warn!(device = %name, address = %address, error = ?f.error, "writing live bindings failed while stopping");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(device = %name, address = %address, error = %e, "writing live bindings failed while stopping");
                            break;
                        }
                    }
                }
                rec.into_client().close().await;
                tracing::info!(device = %name, address = %address, "stream closed");
                return SessionEnd::Shutdown;
            }
            c = arb.changed() => if c.is_err() {
                return SessionEnd::Lost("stream ended".into());
            },
            c = cx.config.changed() => {
                if c.is_err() {
                    rec.into_client().close().await;
                    return SessionEnd::Shutdown;
                }
                let moved = target_of(&cx.config.borrow(), &name)
                    .is_none_or(|t| t.address != target.address || t.device_id != target.device_id || t.target != target.target);
                if moved {
                    rec.into_client().close().await;
                    return SessionEnd::Retarget;
                }
                cx.board.mark_stale(&name, &address);
                in_sync = false;
                due = true;
            }
            _ = resync.tick() => due = true,
            () = sleep_until(retry_at) => due = true,
            _ = bind_notify.notified() => {
                let now = tokio::time::Instant::now();
                if cx.bindings.pending(&name) >= cx.opts.fleet.batch_size {
                    flush_at = Some(now);
                } else {
                    flush_at.get_or_insert(now + cx.opts.binding_flush);
                }
            }
            () = sleep_until(flush_at) => {
                flush_at = None;
                // A backup writes nothing (the changes wait for the reconcile
                // on becoming primary); a due reconcile writes them anyway.
                if role != Role::Primary || due {
                    continue;
                }
                match flush(&mut rec, &cx.bindings, &name, cx.opts.fleet.batch_size, cx.opts.fleet.in_flight).await {
                    Ok(f) => {
                        if f.writes > 0 {
                            cx.board.wrote(&name, &address, f.writes);
                        }
                        if let Some(e) = f.error {
                            cx.board.failed(&name, &address, &e, 0);
                            tracing::warn!(device = %name, address = %address, error = %e, "writing live bindings failed; reconciling");
                            due = true;
                        } else if cx.bindings.pending(&name) > 0 {
                            flush_at = Some(tokio::time::Instant::now());
                        }
                    }
                    Err(msg) => {
                        cx.board.failed(&name, &address, &msg, 0);
                        rec.into_client().close_stream();
                        return SessionEnd::Lost(msg);
                    }
                }
            }
        }
    }
}

/// The intent of the config in force, compiled with the device's member
/// allocation as hints; reused by the drift checks while neither changes.
struct CompiledIntent {
    config: Arc<Config>,
    hints: Allocation,
    intent: Intent,
}

/// Sleeps until `at`, or forever when `None`.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// What one flush of live bindings did.
struct Flushed {
    /// Updates the device applied.
    writes: usize,
    /// Why some were not applied (the caller reconciles).
    error: Option<String>,
}

/// Writes up to a few batches of the device's changed live bindings. `Err`:
/// the connection is lost.
async fn flush(
    rec: &mut Reconciler,
    bindings: &BindingTable,
    name: &str,
    batch: usize,
    in_flight: usize,
) -> Result<Flushed, String> {
    let d = bindings.drain(name, batch.max(1) * in_flight.max(1) * 2);
    if d.is_empty() {
        return Ok(Flushed { writes: 0, error: None });
    }
    let counts = (d.inserts.len(), d.modifies.len(), d.deletes.len());
    let schema = rec.schema();
    let mut updates = Vec::with_capacity(d.len() * 2);
    use p4clone_proto::p4::v1::update::Type;
    let lowered = entries::push_updates(&mut updates, Type::Delete, d.deletes, schema)
        .and_then(|()| entries::push_updates(&mut updates, Type::Modify, d.modifies, schema))
        .and_then(|()| entries::push_updates(&mut updates, Type::Insert, d.inserts, schema));
    if let Err(e) = lowered {
        bindings.record_writes(name, (0, 0, 0), counts.0 + counts.1 + counts.2);
        return Ok(Flushed { writes: 0, error: Some(format!("cannot encode the bindings: {e}")) });
    }
    let describe = |i: usize| updates[i].entity.as_ref().map(|e| describe::entity(schema, e)).unwrap_or_default();
    let r = write::write_batched(rec.client(), updates.as_slice(), batch, in_flight, &describe, &mut |_, _| {}).await;
    match r {
        Ok(report) => {
            bindings.record_writes(name, counts, report.errors.len());
            let error = report
                .errors
                .first()
                .map(|e| format!("{} of {} updates failed: {e}", report.errors.len(), report.sent));
            Ok(Flushed { writes: report.applied, error })
        }
        Err((report, e)) => {
            bindings.record_writes(name, (0, 0, 0), updates.len() - report.applied);
            if e.is_connection() || !rec.client().is_connected() {
                return Err(e.to_string());
            }
            Ok(Flushed { writes: report.applied, error: Some(e.to_string()) })
        }
    }
}

/// Whether a reconcile first takes the device's bindings as live ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adopt {
    /// No: this controller's bindings are the truth.
    No,
    /// At start: adds the device's bindings to those accepted so far.
    Merge,
    /// After another controller was primary: the device's bindings replace
    /// this controller's (stale) ones.
    Replace,
}

/// The live bindings a reconcile writes besides the config.
struct Live<'a> {
    table: &'a BindingTable,
    adopt: Adopt,
}

/// Pipeline (where the cookie differs), read, diff, and the minimal ordered
/// writes when the device differs. `Err` carries the updates written anyway.
/// Once `stop()` is true (the controller is stopping) nothing more is written:
/// it returns [`SyncError::Stopped`] after the read, or after the Write
/// batches in flight.
#[allow(clippy::too_many_arguments)]
async fn reconcile_once(
    rec: &mut Reconciler,
    artifacts: &PipelineArtifacts,
    cfg: &Arc<Config>,
    compiled: &mut Option<CompiledIntent>,
    name: &str,
    reset_counters: bool,
    live: Live<'_>,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Synced, (SyncError, usize)> {
    let no_writes = |e: SyncError| (e, 0);
    if stop() {
        return Err(no_writes(SyncError::Stopped { written: 0, total: 0 }));
    }
    rec.client().ensure_primary().map_err(|e| no_writes(ReconcileError::from(e).into()))?;
    let pipeline = pipeline::ensure_pipeline(rec.client(), artifacts)
        .await
        .map_err(|e| no_writes(ReconcileError::from(e).into()))?;
    let state = rec.read_state().await.map_err(|e| no_writes(e.into()))?;
    if stop() {
        return Err(no_writes(SyncError::Stopped { written: 0, total: 0 }));
    }
    let hints = rec.allocation(&state);
    let fresh = compiled.as_ref().is_some_and(|c| Arc::ptr_eq(&c.config, cfg) && c.hints == hints);
    if !fresh {
        let intent = intent::compile(cfg, &hints).map_err(|d| no_writes(CompileError(d).into()))?;
        *compiled = Some(CompiledIntent { config: Arc::clone(cfg), hints, intent });
    }
    let device =
        compiled.as_ref().and_then(|c| c.intent.device(name)).ok_or_else(|| no_writes(SyncError::NotInConfig))?;
    // Desired = config + live bindings (adopted from the device first after a failover).
    let schema = rec.schema();
    let adopted = if live.adopt != Adopt::No {
        let found = state.entries.iter().filter_map(|e| entries::decode(e, schema));
        live.table.adopt(name, found, live.adopt == Adopt::Replace)
    } else {
        (0, 0)
    };
    let live_nat = live.table.reconcile_snapshot(name);
    let merged;
    let device = if live_nat.is_empty() {
        device
    } else {
        let mut d = device.clone();
        d.nat.extend(live_nat);
        d.nat.sort_unstable();
        merged = d;
        &merged
    };
    // A pipeline just set starts with zeroed counters.
    rec.options_mut().reset_counters = reset_counters && !pipeline.installed();
    let plan = rec.plan(device, &state).await.map_err(|e| no_writes(e.into()))?;
    if plan.write_count() == 0 {
        return Ok(Synced { pipeline, writes: 0, summary: None, adopted });
    }
    let result = rec.apply_until(&plan, &mut |_, _| {}, stop).await;
    let writes = result.writes();
    let total = plan.write_count();
    if stop() && writes + result.errors.len() < total {
        return Err((SyncError::Stopped { written: writes, total }, writes));
    }
    if let Some(first) = result.errors.first() {
        return Err((
            SyncError::Writes { failed: result.errors.len(), total: plan.write_count(), first: first.to_string() },
            writes,
        ));
    }
    Ok(Synced { pipeline, writes, summary: Some(summary(&plan)), adopted })
}

/// `2 inserted, 1 deleted (+ wire …; - clone_rewrite …)`, at most five changes named.
fn summary(plan: &Plan) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (plan.inserts.len(), "inserted"),
        (plan.modifies.len(), "modified"),
        (plan.deletes.len(), "deleted"),
        (plan.counter_resets.len(), "counter cells reset"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let changes: Vec<String> = plan
        .inserts
        .iter()
        .map(|c| format!("+ {}", c.entity()))
        .chain(plan.modifies.iter().map(|c| format!("~ {}", c.entity())))
        .chain(plan.deletes.iter().map(|c| format!("- {}", c.entity())))
        .collect();
    let mut s = parts.join(", ");
    if !changes.is_empty() {
        let more = changes.len().saturating_sub(5);
        s.push_str(&format!(" ({}", changes.into_iter().take(5).collect::<Vec<_>>().join("; ")));
        if more > 0 {
            s.push_str(&format!("; {more} more"));
        }
        s.push(')');
    }
    s
}
