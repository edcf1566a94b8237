//! [`DpdkError`] and DPDK's error strings.

use std::ffi::{c_int, CStr};

use p4clone_dpdk_sys as sys;

use crate::ports::error::PortError;

/// Errors of the DPDK backend. Each names what failed and, where DPDK gave one,
/// its reason (`rte_strerror`).
#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    /// `rte_eal_init` failed.
    #[error(
        "DPDK EAL initialisation failed with arguments {args:?}: {reason} (common causes: no hugepages \
         without --no-huge, too little memory for -m, a PMD plugin directory missing from -d, an unknown \
         --vdev driver, or another DPDK process using the same --file-prefix)"
    )]
    EalInit {
        /// The arguments given.
        args: String,
        /// `rte_strerror(rte_errno)`.
        reason: String,
    },
    /// The EAL arguments could not be split or are not allowed.
    #[error("invalid EAL arguments {args:?}: {reason}")]
    EalArgs {
        /// The arguments given.
        args: String,
        /// What is wrong.
        reason: String,
    },
    /// A DPDK call needs the EAL, which is not initialised.
    #[error("the DPDK EAL is not initialised: give the EAL arguments first (p4clone soft --dpdk \"-l 0-1 ...\")")]
    EalNotInitialised,
    /// The EAL is already up with other arguments (DPDK initialises once per process).
    #[error("the DPDK EAL is already initialised with {current:?}; it cannot be initialised again with {requested:?}")]
    EalAlreadyUp {
        /// Arguments in use.
        current: String,
        /// Arguments refused.
        requested: String,
    },
    /// The EAL was cleaned up or failed before: DPDK cannot start again in this process.
    #[error("the DPDK EAL cannot be initialised again in this process: {0}")]
    EalGone(String),
    /// No ethdev with that id or name.
    #[error("DPDK port {id:?} is not present (available: {available}); check the --vdev / -a arguments and that the NIC is bound to a DPDK driver (dpdk-devbind.py --status)")]
    PortNotFound {
        /// The id or name asked for.
        id: String,
        /// The ports the EAL found, `id=name`.
        available: String,
    },
    /// A device operation failed.
    #[error("DPDK port {port} ({name}): {op} failed: {reason}")]
    Device {
        /// Port id.
        port: u16,
        /// Device name.
        name: String,
        /// The operation (`rte_eth_dev_configure`, ...).
        op: &'static str,
        /// What DPDK said.
        reason: String,
    },
    /// A device is still in use.
    #[error("DPDK port {port} ({name}) {reason}")]
    Busy {
        /// Port id.
        port: u16,
        /// Device name.
        name: String,
        /// Why it cannot be used or closed.
        reason: String,
    },
    /// A mempool could not be created.
    #[error(
        "creating mempool {name} ({n} mbufs of {buf} bytes) failed: {reason}; give the EAL more memory (-m, \
         hugepages) or use fewer descriptors"
    )]
    Mempool {
        /// Pool name.
        name: String,
        /// Number of mbufs.
        n: u32,
        /// Data room per mbuf.
        buf: u32,
        /// `rte_strerror(rte_errno)`.
        reason: String,
    },
    /// A virtual device could not be created.
    #[error("creating DPDK device {devargs:?} failed: {reason}")]
    Probe {
        /// The device arguments.
        devargs: String,
        /// What DPDK said.
        reason: String,
    },
    /// The packet loop could not start, or a worker failed.
    #[error("DPDK packet loop: {0}")]
    Run(String),
    /// A port backend error inside the packet loop.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl From<DpdkError> for PortError {
    fn from(e: DpdkError) -> Self {
        match e {
            DpdkError::Port(p) => p,
            other => PortError::Other(other.to_string()),
        }
    }
}

/// Result of the DPDK functions.
pub type Result<T, E = DpdkError> = std::result::Result<T, E>;

/// `rte_strerror(errnum)`.
fn strerror(errnum: c_int) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local,
    // NUL-terminated string; it is copied before anything else can overwrite it.
    unsafe {
        let p = sys::rte_strerror(errnum);
        if p.is_null() {
            return format!("error {errnum}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// `rte_strerror(rte_errno)` of the calling thread.
pub(super) fn last_error() -> String {
    // SAFETY: reads the calling thread's rte_errno; no other effect.
    strerror(unsafe { sys::p4c_rte_errno() })
}

/// Message for a negative errno-style return value.
pub(crate) fn ret_error(ret: c_int) -> String {
    strerror(ret.saturating_abs())
}
