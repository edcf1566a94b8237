//! Everything that can go wrong on the way to a BMv2 run, with the message a
//! user needs to act on it.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// Result of this crate.
pub type Result<T, E = Bmv2Error> = std::result::Result<T, E>;

/// A BMv2 / p4c failure. [`Bmv2Error::is_input`] tells bad input (exit 2)
/// from run-time failures (exit 1).
#[derive(Debug, Error)]
pub enum Bmv2Error {
    /// A tool is not installed (or not where the environment says).
    #[error("{tool} not found: {detail}\n  needed: {needed}")]
    NotFound {
        /// `simple_switch_grpc` or `p4c`.
        tool: &'static str,
        /// Where we looked.
        detail: String,
        /// What to install or set.
        needed: &'static str,
    },

    /// The binary is there but is not what we need.
    #[error("{binary}: {reason}")]
    Unsuitable {
        /// The binary.
        binary: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// `p4src/build/` lacks a compiled artifact.
    #[error("BMv2 artifact {path} is missing: {why}\n  produce it with p4c (see p4src/README.md): {command}")]
    ArtifactMissing {
        /// The missing file.
        path: PathBuf,
        /// What is wrong.
        why: String,
        /// The command that produces it.
        command: String,
    },

    /// `p4src/build/` was compiled from another version of the program.
    #[error(
        "BMv2 artifacts in {dir} are stale: build/SOURCE.sha256 records {recorded}, but traffic_clone.p4 is now \
         {actual}\n  recompile with p4c (see p4src/README.md): {command}"
    )]
    ArtifactStale {
        /// The `build/` directory.
        dir: PathBuf,
        /// Hash recorded in `SOURCE.sha256`.
        recorded: String,
        /// Hash of the current source.
        actual: String,
        /// The command that refreshes them.
        command: String,
    },

    /// An input pcap cannot be used (bad input).
    #[error("{path}: {reason}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// `simple_switch_grpc` could not be started.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// BMv2 exited before we stopped it.
    #[error("BMv2 exited early ({status}) {when}; end of its output ({log}):\n{tail}")]
    ExitedEarly {
        /// How it ended.
        status: String,
        /// What we were waiting for.
        when: String,
        /// Where the full output is.
        log: PathBuf,
        /// The last lines.
        tail: String,
    },

    /// The P4Runtime server never accepted connections.
    #[error("BMv2 P4Runtime server at {address} did not accept connections within {waited:?}; end of its output ({log}):\n{tail}")]
    NotReady {
        /// The gRPC address.
        address: String,
        /// How long we waited.
        waited: Duration,
        /// Where the full output is.
        log: PathBuf,
        /// The last lines.
        tail: String,
    },

    /// The push did not finish inside BMv2's `--use-files` start-up window, so
    /// frames may have been processed before every entity was installed.
    #[error(
        "start-up window missed: programming BMv2 took {took:.1?} but it starts reading its input files \
         {window} s after the pipeline is set (--use-files {window}); frames may have met an incomplete \
         pipeline. Rerun with a larger window (--bmv2-window SECONDS)"
    )]
    WindowMissed {
        /// From `SetForwardingPipelineConfig` to the last Write.
        took: Duration,
        /// The window, seconds.
        window: u32,
    },

    /// The outputs never stopped changing.
    #[error(
        "BMv2 outputs still changing after {waited:?} ({frames} frames written so far); raise --bmv2-timeout \
         or use a smaller input"
    )]
    Timeout {
        /// How long we waited after processing started.
        waited: Duration,
        /// Frames in the output files so far.
        frames: u64,
    },

    /// Programming BMv2 over P4Runtime failed.
    #[error("{0}")]
    Push(String),

    /// p4c failed or warned.
    #[error("{0}")]
    Compile(String),
}

impl Bmv2Error {
    /// Whether this is bad input (exit 2) rather than a run-time failure (exit 1).
    pub fn is_input(&self) -> bool {
        matches!(self, Bmv2Error::Input { .. })
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Bmv2Error {
        Bmv2Error::Io { what: what.into(), source }
    }
}
