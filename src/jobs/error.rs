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

#[cfg(test)]
mod tests {
    use p4clone_bmv2::loss::PortAccount;

    use super::*;

    #[test]
    fn lost_frames_are_a_runtime_failure_naming_the_port() {
        let lost = Losses(vec![PortAccount { port: 3, originals: 90, clones: 10, written: 97 }]);
        let e = JobError::Bmv2Lost(lost.clone());
        assert!(!e.is_input());
        let text = e.to_string();
        assert!(text.starts_with(&format!("{lost}\n  BMv2's file mode reads its inputs unpaced")), "{text}");
        assert!(text.contains("BMv2 dropped 3 frames on port 3 (queue overflow)"), "{text}");
        assert!(text.ends_with("(64 frames) is full; its outputs are incomplete, so they say nothing about the data plane. Split the input into smaller captures."), "{text}");
    }

    #[test]
    fn kept_work_directory_is_named_for_runtime_failures_only() {
        let e = JobError::Runtime("boom".into()).keeping(PathBuf::from("/tmp/w"));
        assert!(!e.is_input());
        assert_eq!(e.to_string(), "boom\n  BMv2 work directory (kept): /tmp/w");
        let e = JobError::Input("bad".into()).keeping(PathBuf::from("/tmp/w"));
        assert!(e.is_input());
        assert_eq!(e.to_string(), "bad");
        let port = JobError::from(PortError::Other("x".into()));
        assert!(!port.is_input());
        let spec = JobError::from(PortError::Spec { spec: "1=x".into(), reason: "no".into() });
        assert!(spec.is_input());
    }
}
