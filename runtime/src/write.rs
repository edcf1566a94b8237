//! Batched writes: updates are sent in Write RPCs of at most `batch_size`
//! updates (`CONTINUE_ON_ERROR`), the device's per-update `p4.v1.Error`s are
//! decoded into [`UpdateError`]s naming the entity.
//!
//! A batch is encoded straight from borrowed entities ([`UpdateList`],
//! [`EncodedWriteRequest`], in [`crate::encode`]).

use p4clone_proto::p4::v1::update;
use serde::Serialize;

use crate::client::Client;
use crate::describe::code_name;
pub use crate::encode::{EncodedWriteRequest, UpdateList};
use crate::error::ClientError;

/// Default number of updates per Write RPC.
pub const DEFAULT_BATCH_SIZE: usize = 1000;

/// One update the device refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateError {
    /// Position of the update in the whole write (0-based, over all batches).
    pub index: usize,
    /// `insert`, `modify` or `delete`.
    pub op: &'static str,
    /// The entity, in [`crate::describe::entity`] form.
    pub entity: String,
    /// Canonical code, e.g. `ALREADY_EXISTS`.
    pub code: &'static str,
    /// The device's message.
    pub message: String,
}

impl std::fmt::Display for UpdateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "update {} ({} {}): {}: {}", self.index, self.op, self.entity, self.code, self.message)
    }
}

/// The name of an update type.
pub fn op_name(t: i32) -> &'static str {
    match update::Type::try_from(t) {
        Ok(update::Type::Insert) => "insert",
        Ok(update::Type::Modify) => "modify",
        Ok(update::Type::Delete) => "delete",
        _ => "unspecified",
    }
}

/// What a batched write did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriteReport {
    /// Updates sent.
    pub sent: usize,
    /// Updates the device applied.
    pub applied: usize,
    /// Updates the device refused.
    pub errors: Vec<UpdateError>,
}

/// A finished batch: its first index, its update types, the device's answer.
type BatchOutcome = (usize, Vec<i32>, Result<Vec<(usize, p4clone_proto::p4::v1::Error)>, ClientError>);

/// Default number of Write RPCs in flight at once within one phase.
pub const DEFAULT_IN_FLIGHT: usize = 4;

/// Sends `updates`, `batch_size` per Write RPC, with at most `in_flight` RPCs
/// outstanding (use 1 when the updates depend on each other: a device may apply
/// concurrent batches in any order), and calls `on_batch(done, total)` as
/// batches complete. `describe(i)` names update `i` for error messages.
/// Per-update failures are collected and the write goes on; a batch-level
/// failure (connection lost, not primary) stops it and is returned together
/// with what was done so far.
pub async fn write_batched(
    client: &mut Client,
    updates: &(impl UpdateList + ?Sized),
    batch_size: usize,
    in_flight: usize,
    describe: &(dyn Fn(usize) -> String + Sync),
    on_batch: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<WriteReport, (WriteReport, ClientError)> {
    write_batched_until(client, updates, batch_size, in_flight, describe, on_batch, &|| false).await
}

/// [`write_batched`] that sends no further batch once `stop()` is true (it is
/// asked before each batch is sent): the Write RPCs already in flight finish,
/// and the report says what was done (`sent` < `updates.len()` when it
/// stopped early).
pub async fn write_batched_until(
    client: &mut Client,
    updates: &(impl UpdateList + ?Sized),
    batch_size: usize,
    in_flight: usize,
    describe: &(dyn Fn(usize) -> String + Sync),
    on_batch: &mut (dyn FnMut(usize, usize) + Send),
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<WriteReport, (WriteReport, ClientError)> {
    let total = updates.len();
    let batch_size = batch_size.max(1);
    let in_flight = in_flight.max(1);
    let mut report = WriteReport::default();
    let mut start = 0;
    let mut done = 0;
    let mut fatal: Option<ClientError> = None;
    let mut stopped = false;
    let mut running: tokio::task::JoinSet<BatchOutcome> = tokio::task::JoinSet::new();
    loop {
        while fatal.is_none() && !stopped && start < total && running.len() < in_flight {
            if stop() {
                stopped = true;
                break;
            }
            let end = (start + batch_size).min(total);
            let n = end - start;
            let ops: Vec<i32> = (start..end).map(|i| updates.get(i).0).collect();
            match client.write_encoded_detached(updates, start..end) {
                Ok(fut) => {
                    let at = start;
                    running.spawn(async move { (at, ops, fut.await) });
                }
                Err(e) => fatal = Some(e),
            }
            start += n;
        }
        let Some(joined) = running.join_next().await else { break };
        let (at, ops, r) = match joined {
            Ok(v) => v,
            Err(e) => {
                fatal.get_or_insert(ClientError::Protocol {
                    address: client.address().to_string(),
                    message: format!("write task failed: {e}"),
                });
                continue;
            }
        };
        match r {
            Ok(errors) => {
                let n = ops.len();
                report.sent += n;
                report.applied += n - errors.len();
                for (i, e) in errors {
                    report.errors.push(UpdateError {
                        index: at + i,
                        op: op_name(ops[i]),
                        entity: describe(at + i),
                        code: code_name(e.canonical_code),
                        message: e.message,
                    });
                }
                done += n;
                on_batch(done, total);
            }
            Err(e) => {
                fatal.get_or_insert(e);
            }
        }
    }
    report.errors.sort_by_key(|e| e.index);
    match fatal {
        Some(e) => Err((report, e)),
        None => Ok(report),
    }
}
