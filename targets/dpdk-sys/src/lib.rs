//! Raw bindings to the system DPDK (22.11 or newer), generated at build time by
//! bindgen from the headers pkg-config's `libdpdk` points at, plus a small C shim
//! (`shim/shim.c`, functions prefixed `p4c_`) for the static-inline functions and
//! flag macros Rust cannot call or evaluate: `rte_eth_rx_burst`/`rte_eth_tx_burst`,
//! `rte_pktmbuf_alloc`/`free`/`adj`/`trim`/`append`/`chain`/`mtod`/`read`,
//! `rte_mbuf_refcnt_update`, `rte_lcore_id`, `rte_errno`, RSS and offload flags.
//!
//! Only what p4clone uses is bound (see `build.rs`); no struct layout is written
//! by hand. Everything here is `unsafe` and follows the DPDK documentation; the
//! safe wrapper is `p4clone_soft::ports::dpdk`.
//!
//! Without the `link` feature the crate is empty and [`AVAILABLE`] is false, so
//! the workspace builds without DPDK; p4clone-soft's `dpdk` feature turns it on.

#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, clippy::all, missing_docs)]

/// Whether the bindings were generated (feature `link`).
pub const AVAILABLE: bool = !cfg!(p4clone_dpdk_missing);

/// The DPDK version pkg-config reported at build time (empty without DPDK).
#[cfg(not(p4clone_dpdk_missing))]
pub const BUILD_VERSION: &str = env!("P4CLONE_DPDK_VERSION");
/// The DPDK version pkg-config reported at build time (empty without DPDK).
#[cfg(p4clone_dpdk_missing)]
pub const BUILD_VERSION: &str = "";

#[cfg(not(p4clone_dpdk_missing))]
include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
