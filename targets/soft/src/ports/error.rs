//! [`PortError`]: what the port backends report.

use std::io;
use std::path::PathBuf;

/// Result of port operations.
pub type Result<T, E = PortError> = std::result::Result<T, E>;

/// Errors of the port backends. Every message names what failed: the bad spec, the
/// file and record, or the interface.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A CLI port spec could not be parsed or opened.
    #[error("invalid port spec {spec:?}: {reason}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// A pcap file is unsupported, corrupt or truncated.
    #[error("{}", pcap_message(path, *record, reason))]
    Pcap {
        /// The file.
        path: PathBuf,
        /// 1-based index of the record at fault (as Wireshark numbers frames), if
        /// the fault is in a record rather than the file header.
        record: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// An I/O error on a file or socket.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file or interface.
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An AF_PACKET socket could not be set up or failed.
    #[error("afpacket interface {iface:?}: {reason}")]
    AfPacket {
        /// The interface name.
        iface: String,
        /// What is wrong.
        reason: String,
    },
    /// Any other failure (e.g. a replay port that does not behave like one).
    #[error("{0}")]
    Other(String),
}

fn pcap_message(path: &std::path::Path, record: Option<u64>, reason: &str) -> String {
    match record {
        Some(r) => format!("{}: record {r}: {reason}", path.display()),
        None => format!("{}: {reason}", path.display()),
    }
}

impl PortError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        PortError::Io { context: context.into(), source }
    }
}
