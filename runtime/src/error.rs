//! Error types. Every error names the device address (and, where known, the
//! device name) so a message alone tells which device failed.

use std::time::Duration;

use serde::Serialize;

/// What can go wrong talking to one P4Runtime device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The TCP/TLS connection could not be made (refused, unreachable, DNS...).
    #[error("cannot reach P4Runtime device at {address}: {reason}")]
    Unreachable {
        /// `host:port` as configured.
        address: String,
        /// Short cause, e.g. `connection refused`.
        reason: String,
    },
    /// The device did not answer in time.
    #[error("P4Runtime device at {address}: no answer to {what} within {}", fmt_duration(*.timeout))]
    Timeout {
        /// `host:port`.
        address: String,
        /// What was waited for (`connect`, `arbitration`, `Write`, ...).
        what: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// This controller is not the primary: it never writes.
    #[error("{0}")]
    NotPrimary(String),
    /// The arbitration (MasterArbitrationUpdate) was refused or malformed.
    #[error("P4Runtime device at {address}: arbitration failed: {message}")]
    Arbitration {
        /// `host:port`.
        address: String,
        /// What the device said.
        message: String,
    },
    /// The StreamChannel ended; the client must reconnect.
    #[error("P4Runtime device at {address}: stream channel closed ({reason}); reconnect first")]
    Disconnected {
        /// `host:port`.
        address: String,
        /// Why it ended, as far as known.
        reason: String,
    },
    /// An RPC failed as a whole (no per-update errors).
    #[error("P4Runtime device at {address}: {op} failed: {} ({message})", crate::describe::code_name(*.code as i32))]
    Rpc {
        /// `host:port`.
        address: String,
        /// RPC name (`Write`, `Read`, `SetForwardingPipelineConfig`, ...).
        op: &'static str,
        /// gRPC status code.
        code: tonic::Code,
        /// The device's message.
        message: String,
    },
    /// TLS material could not be loaded or used.
    #[error("TLS for P4Runtime device at {address}: {message}")]
    Tls {
        /// `host:port`.
        address: String,
        /// What is wrong.
        message: String,
    },
    /// The address is not a valid `host:port`.
    #[error("invalid P4Runtime address `{address}`: {message}")]
    BadAddress {
        /// As given.
        address: String,
        /// Why it is invalid.
        message: String,
    },
    /// The device answered something this client cannot use.
    #[error("P4Runtime device at {address}: {message}")]
    Protocol {
        /// `host:port`.
        address: String,
        /// What was wrong with the answer.
        message: String,
    },
}

/// Errors serialize as their message.
impl Serialize for ClientError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl ClientError {
    /// Whether retrying after a reconnect may help (connection-level failures).
    pub fn is_connection(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } | ClientError::Timeout { .. } | ClientError::Disconnected { .. } => true,
            ClientError::Rpc { code, .. } => {
                matches!(code, tonic::Code::Unavailable | tonic::Code::Cancelled)
            }
            _ => false,
        }
    }
}

/// `1.5 s`, `250 ms`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{} s", s as u64)
        } else {
            format!("{s:.1} s")
        }
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Pipeline installation errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// A compiled artifact is missing.
    #[error("missing pipeline artifact {path}: {hint}")]
    MissingArtifact {
        /// The file looked for.
        path: String,
        /// How it is produced.
        hint: String,
    },
    /// The target kind cannot be programmed (yet).
    #[error("target `{0}` is not supported yet")]
    Unsupported(String),
    /// The embedded P4Info is unusable.
    #[error("P4Info: {0}")]
    P4Info(String),
    /// The device refused or failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Reconcile (plan / push) errors for one device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// Talking to the device failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Setting the pipeline failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Lowering the intent failed.
    #[error("device `{device}`: {message}")]
    Lower {
        /// Device name.
        device: String,
        /// The lowering error.
        message: String,
    },
}
