//! The one tokio runtime builder of every job and command.

use crate::jobs::error::JobError;

/// How many worker threads the runtime gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// Two: the gRPC server and client of an in-process software target (its
    /// packets are processed on a thread of their own); for `run`, `diff`, `soft`.
    InProcessTarget,
    /// One per CPU (tokio's default): many devices at once; for `plan`, `push`,
    /// `stats`.
    PerCpu,
}

/// A multi-threaded tokio runtime with every driver enabled, its threads named
/// `p4clone-rt`.
pub fn async_runtime(workers: Workers) -> Result<tokio::runtime::Runtime, JobError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if workers == Workers::InProcessTarget {
        builder.worker_threads(2);
    }
    builder
        .thread_name("p4clone-rt")
        .enable_all()
        .build()
        .map_err(|e| JobError::Runtime(format!("cannot start the async runtime: {e}")))
}
