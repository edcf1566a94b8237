//! How a job fails. The library never exits or prints an error: it returns a
//! [`JobError`], and the command line maps [`JobError::is_input`] to its exit
//! code (2 bad input, 1 runtime or device failure) and prints the message.

use std::path::PathBuf;

use p4clone_bmv2::loss::Losses;
use p4clone_bmv2::Bmv2Error;
use p4clone_soft::ports::PortError;

/// Why a job failed. The `Display` text is the whole message shown to people.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Bad input: a flag value, an input or output file, a config.
    #[error("{0}")]
    Input(String),
    /// A runtime or device failure (gRPC, the target, the system).
    #[error("{0}")]
    Runtime(String),
    /// A port or the packet engine failed: spec, pcap and file errors are bad
    /// input; sockets and anything else a runtime failure.
    #[error(transparent)]
    Port(#[from] PortError),
    /// Running BMv2 failed ([`Bmv2Error::is_input`] tells bad input apart).
    #[error(transparent)]
    Bmv2(#[from] Bmv2Error),
    /// A BMv2 failure after its work directory was created: the directory is
    /// kept for inspection and named in the message.
    #[error("{source}\n  BMv2 work directory (kept): {}", work_dir.display())]
    Bmv2Kept {
        /// The failure (never bad input).
        source: Box<JobError>,
        /// BMv2's work directory, left in place.
        work_dir: PathBuf,
    },
    /// BMv2 lost frames (its file mode drops them when an egress queue is full),
    /// so its outputs say nothing about the data plane: a failure, never a
    /// difference.
    #[error(
        "{0}\n  BMv2's file mode reads its inputs unpaced and drops frames when an egress queue (64 frames) is \
         full; its outputs are incomplete, so they say nothing about the data plane. Split the input into smaller \
         captures."
    )]
    Bmv2Lost(Losses),
}

impl JobError {
    /// Whether this is bad input (exit 2) rather than a runtime failure (exit 1).
    pub fn is_input(&self) -> bool {
        match self {
            JobError::Input(_) => true,
            JobError::Runtime(_) | JobError::Bmv2Kept { .. } | JobError::Bmv2Lost(_) => false,
            JobError::Port(e) => matches!(e, PortError::Spec { .. } | PortError::Pcap { .. } | PortError::Io { .. }),
            JobError::Bmv2(e) => e.is_input(),
        }
    }

    /// Names BMv2's kept work directory in a runtime failure; bad input is
    /// returned as it is.
    pub fn keeping(self, work_dir: PathBuf) -> JobError {
        if self.is_input() {
            self
        } else {
            JobError::Bmv2Kept { source: Box::new(self), work_dir }
        }
    }
}
