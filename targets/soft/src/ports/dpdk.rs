//! DPDK port backend (`N=dpdk:ID`), built with the cargo feature `dpdk`.
//!
//! # EAL
//! The DPDK Environment Abstraction Layer is initialised **once per process** from
//! the user's arguments ([`Eal::init`], the CLI's `--dpdk "EAL ARGS"`), exactly as
//! `rte_eal_init` takes them (`-l 0-1 --no-huge -m 1024 --no-pci --vdev ... -d
//! PMD_DIR`). The thread that initialises it becomes the main lcore; every other
//! lcore of `-l` is a worker that runs the packet loop ([`run`]).
//!
//! # Devices and queues
//! A port spec `N=dpdk:ID` names an ethdev by port id (`0`) or by device name
//! (`net_pcap0`, `0000:01:00.0`). Each device is configured once, with one RX and
//! one TX queue per worker lcore (fewer if the device has fewer), RSS over IP/TCP/UDP
//! where `dev_info.flow_type_rss_offloads` offers it and there is more than one
//! queue, promiscuous mode, and two mempools of its own: `rx` (RX descriptors and
//! forwarded originals) and `tx` (clone headers, indirect clone mbufs and copies).
//! A [`DpdkPort`] is one worker's handle on one device: its RX queue (if it has one)
//! and a TX queue (shared under a lock when there are more workers than queues).
//!
//! A `net_pcap` device reading a file (`rx_pcap=`, without `infinite_rx=1`) is a
//! **replay** input ([`InputKind::Replay`]): its frames carry the records' times
//! (the RX timestamp field net_pcap fills) and it is exhausted when the file is,
//! so the engine merges it with the other inputs by timestamp exactly as it does
//! pcap ports, and `p4clone soft --dpdk` reproduces the pcap backend's output. A
//! `net_pcap` device without an RX stream only transmits ([`InputKind::None`]).
//! A thread that is not an EAL lcore (the generic engine's) registers itself
//! (`rte_thread_register`) on first use, so the mempool caches serve it too.
//!
//! # Zero copy
//! Received frames stay in their mbufs. In the lcore loop ([`run`], module `lane`)
//! they go into the pipeline as they lie and each original is handed to its TX queue
//! as is (ownership passes to the driver; dropped frames are freed in bulk). Through
//! the [`Port`] trait (the generic engine) they are [`RxBatch::push_external`]
//! frames (token = the mbuf pointer), freed in [`Port::release_rx`] after the burst
//! was sent. On transmit:
//! - an **original** is the received mbuf itself; through the [`Port`] trait its
//!   reference count is raised by one (`rte_mbuf_refcnt_update`), so releasing the
//!   batch and the driver's TX completion each drop one reference;
//! - a **clone** is either *zero-copy*: a fresh header mbuf holding the rewritten
//!   header (`head`), chained in front of `rte_pktmbuf_clone(original)` (an indirect
//!   mbuf sharing the original's buffer) advanced by `tail_offset` and trimmed to
//!   the tail length; or a *copy*: one mbuf with `head` and `tail` copied in. The
//!   copy needs one allocation instead of two, no atomic reference counts and a
//!   single-segment TX; it measured faster up to 1500-byte frames (BENCHMARKS.md,
//!   "DPDK"), so [`CloneCopy::Auto`] copies below [`ZERO_COPY_FROM`] bytes of tail
//!   and chains above. Zero copy needs a device that takes multi-segment frames
//!   (`RTE_ETH_TX_OFFLOAD_MULTI_SEGS`); other devices always get copies. Frames that did not arrive in a DPDK mbuf
//!   (another backend's input, or a multi-segment mbuf that was linearised on
//!   receive) are always copied.
//!
//! # Accounting
//! Every frame of a TX burst ends up exactly one of: sent; [`TxFailure::Alloc`] (the
//! `tx` pool had no mbuf: `alloc_failed`, the reference `num_mbuf_alloc_failed`);
//! or [`TxFailure::Driver`] (`rte_eth_tx_burst` did not take it, after
//! [`DpdkOptions::tx_retries`] retries: `driver_failed`, `num_driver_failures`). Mbufs
//! that were not sent are freed at once, so nothing leaks: after a run, every
//! pool's `rte_mempool_avail_count` is what it was before ([`Eal::pool_usage`]).
//!
//! # Running and shutting down
//! [`run`] configures the devices, starts one packet loop per worker lcore
//! (`rte_eal_remote_launch`; on the calling thread when `-l` names only the main
//! lcore), busy-polls its RX queues (burst RX → [`Pipeline::process_burst`] →
//! burst TX, without the [`Port`] layer: module `lane`) until the stop flag is
//! raised ([`stop_on_signals`]: SIGINT/SIGTERM) or its inputs ended (every queue
//! it reads is a replay read to its end), waits for the workers and returns the
//! counters. Several replay inputs are merged by timestamp ([`PcapReplay`], ties to
//! the lower port) on one worker through [`Worker::run_burst`], so the outputs are
//! those of the pcap backend. [`Eal::shutdown`] then stops and closes
//! every device, frees the pools and calls `rte_eal_cleanup`. The ports can also be
//! opened one by one through [`PortSpec::open`](super::PortSpec::open) (one queue,
//! for the generic [`Engine`](crate::engine::Engine)).

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use p4clone_dpdk_sys as sys;
use p4clone_pipeline::table::PORT_COUNT;
use p4clone_pipeline::{Counter, CounterValue, Diag, EmitKind, Pipeline, PortStats, BURST, COUNTER_SIZE};

use super::PcapReplay;
use super::{BackendStats, InputKind, Port, PortError, Result as PortResult, RxBatch, TxBurst, TxFailure};
use crate::engine::{IoStats, MemberReport, PortIo, PortReport, PortTable, RunReport, Worker};

mod lane;

/// Where Debian/Ubuntu's DPDK 22.11 packages put the PMD plugins (`-d` argument).
pub const DEBIAN_PMD_DIR: &str = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0";

/// Largest RX burst a handle asks the driver for.
const MAX_RX_BURST: usize = 1024;

// --------------------------------------------------------------------------- errors

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
fn last_error() -> String {
    // SAFETY: reads the calling thread's rte_errno; no other effect.
    strerror(unsafe { sys::p4c_rte_errno() })
}

/// Message for a negative errno-style return value.
fn ret_error(ret: c_int) -> String {
    strerror(ret.saturating_abs())
}

/// The DPDK version of the library in use (`rte_version()`).
pub fn version() -> String {
    // SAFETY: rte_version returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::p4c_version()).to_string_lossy().into_owned() }
}

// ----------------------------------------------------------------------- EAL state

#[derive(Debug)]
enum Phase {
    Uninit,
    Up { args: Vec<String> },
    Failed(String),
    Down,
}

struct Global {
    phase: Phase,
    devices: BTreeMap<u16, Arc<Device>>,
    /// Pools whose device was closed while some of their mbufs were still out
    /// (e.g. in another device's TX ring); freed at shutdown.
    deferred: Vec<Pool>,
    seq: u32,
    defaults: DpdkOptions,
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    phase: Phase::Uninit,
    devices: BTreeMap::new(),
    deferred: Vec::new(),
    seq: 0,
    defaults: DpdkOptions::DEFAULT,
});

fn global() -> MutexGuard<'static, Global> {
    GLOBAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn require_up(g: &Global) -> Result<()> {
    match &g.phase {
        Phase::Up { .. } => Ok(()),
        Phase::Uninit => Err(DpdkError::EalNotInitialised),
        Phase::Failed(why) => Err(DpdkError::EalGone(format!("initialisation failed before: {why}"))),
        Phase::Down => Err(DpdkError::EalGone("it was shut down".into())),
    }
}

/// Splits EAL arguments given as one string, shell style: whitespace separates,
/// single and double quotes group, a backslash escapes the next character.
pub fn split_args(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => match chars.next() {
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
                None => return Err("trailing backslash".into()),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Proof that the EAL is initialised; the entry point of the backend.
#[derive(Debug, Clone, Copy)]
pub struct Eal {
    _priv: (),
}

/// Mempool occupancy of one device ([`Eal::pool_usage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Free mbufs in the `rx` pool (including per-lcore caches).
    pub rx_avail: u32,
    /// Size of the `rx` pool.
    pub rx_size: u32,
    /// Free mbufs in the `tx` pool.
    pub tx_avail: u32,
    /// Size of the `tx` pool.
    pub tx_size: u32,
}

/// A device's counters ([`Eal::eth_stats`], `struct rte_eth_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EthStats {
    /// Frames received.
    pub ipackets: u64,
    /// Frames sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Frames the device dropped for lack of RX descriptors.
    pub imissed: u64,
    /// Erroneous frames received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// What the EAL knows of one ethdev ([`Eal::ports`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Port id.
    pub id: u16,
    /// Device name (`net_pcap0`, a PCI address, ...).
    pub name: String,
    /// Driver name.
    pub driver: String,
    /// Maximum RX queues.
    pub max_rx_queues: u16,
    /// Maximum TX queues.
    pub max_tx_queues: u16,
    /// RSS hash functions offered (`flow_type_rss_offloads`).
    pub rss_offloads: u64,
    /// Whether TX takes multi-segment mbufs (zero-copy clones).
    pub multi_seg_tx: bool,
}

impl Eal {
    /// Initialises the EAL from one argument string (split as a shell would; see
    /// [`split_args`]). See [`Eal::init_args`].
    pub fn init(args: &str) -> Result<Eal> {
        let v = split_args(args).map_err(|reason| DpdkError::EalArgs { args: args.into(), reason })?;
        Self::init_args(&v)
    }

    /// Initialises the EAL with `args` (the program name is prepended). Once per
    /// process: calling it again with the same arguments returns the running EAL,
    /// with other arguments it is an error. The calling thread becomes the main
    /// lcore (and is pinned to its core).
    pub fn init_args<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let joined = args.join(" ");
        let mut g = global();
        match &g.phase {
            Phase::Up { args: cur } if *cur == args => return Ok(Eal { _priv: () }),
            Phase::Up { args: cur } => {
                return Err(DpdkError::EalAlreadyUp { current: cur.join(" "), requested: joined })
            }
            Phase::Failed(_) | Phase::Down => return require_up(&g).map(|_| Eal { _priv: () }),
            Phase::Uninit => {}
        }
        if let Some(bad) = args.iter().find(|a| *a == "--") {
            return Err(DpdkError::EalArgs {
                args: joined,
                reason: format!("{bad:?}: only EAL arguments are taken (no application arguments)"),
            });
        }
        let mut c_args = Vec::with_capacity(args.len() + 1);
        for a in std::iter::once("p4clone").chain(args.iter().map(String::as_str)) {
            let c = CString::new(a).map_err(|_| DpdkError::EalArgs {
                args: joined.clone(),
                reason: format!("{a:?} contains a NUL byte"),
            })?;
            c_args.push(c);
        }
        // The EAL may keep pointers into argv (and permutes it): leak the strings
        // and the array, once per process.
        let argv: &'static mut [*mut c_char] = Vec::leak(c_args.into_iter().map(CString::into_raw).collect::<Vec<_>>());
        let argc = argv.len() as c_int;
        // SAFETY: argv holds argc valid NUL-terminated strings that live forever;
        // rte_eal_init is called at most once per process (the phase under the lock).
        let ret = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            let reason = last_error();
            g.phase = Phase::Failed(reason.clone());
            return Err(DpdkError::EalInit { args: joined, reason });
        }
        g.phase = Phase::Up { args };
        Ok(Eal { _priv: () })
    }

    /// The running EAL.
    pub fn get() -> Result<Eal> {
        require_up(&global()).map(|_| Eal { _priv: () })
    }

    /// Whether the EAL is up.
    pub fn is_up() -> bool {
        matches!(global().phase, Phase::Up { .. })
    }

    /// The EAL arguments in use.
    pub fn args(&self) -> Vec<String> {
        match &global().phase {
            Phase::Up { args } => args.clone(),
            _ => Vec::new(),
        }
    }

    /// The main lcore (the thread that called [`Eal::init`]).
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: plain getter, valid once the EAL is up.
        unsafe { sys::rte_get_main_lcore() }
    }

    /// The worker lcores (`-l` minus the main lcore), ascending.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut v = Vec::new();
        // SAFETY: plain getter iterating the EAL's lcore table (RTE_LCORE_FOREACH_WORKER).
        let mut i = unsafe { sys::rte_get_next_lcore(u32::MAX, 1, 0) };
        while i < sys::RTE_MAX_LCORE {
            v.push(i);
            // SAFETY: as above.
            i = unsafe { sys::rte_get_next_lcore(i, 1, 0) };
        }
        v
    }

    /// Every ethdev the EAL found.
    pub fn ports(&self) -> Vec<DeviceInfo> {
        (0..sys::RTE_MAX_ETHPORTS as u16).filter_map(device_info).collect()
    }

    /// Creates a device at run time (`rte_dev_probe`, e.g.
    /// `net_pcap7,rx_pcap=in.pcap,tx_pcap=out.pcap`) and returns its port id. It is
    /// removed again when closed ([`Eal::close_ports`]).
    pub fn probe(&self, devargs: &str) -> Result<u16> {
        let err = |reason: String| DpdkError::Probe { devargs: devargs.into(), reason };
        let name = devargs.split(',').next().unwrap_or_default().to_string();
        let c = CString::new(devargs).map_err(|_| err("contains a NUL byte".into()))?;
        let g = global();
        require_up(&g)?;
        // SAFETY: c is a valid NUL-terminated string; the EAL is up.
        let ret = unsafe { sys::rte_dev_probe(c.as_ptr()) };
        if ret < 0 {
            return Err(err(ret_error(ret)));
        }
        let id = port_by_name(&name).ok_or_else(|| err(format!("no ethdev named {name:?} after probing")))?;
        drop(g);
        PROBED.lock().unwrap_or_else(|p| p.into_inner()).push(name);
        Ok(id)
    }

    /// Occupancy of the pools of device `port`, if it is configured.
    pub fn pool_usage(&self, port: u16) -> Option<PoolUsage> {
        let g = global();
        let d = g.devices.get(&port)?;
        Some(PoolUsage {
            rx_avail: d.rx_pool.avail(),
            rx_size: d.rx_pool.size,
            tx_avail: d.tx_pool.avail(),
            tx_size: d.tx_pool.size,
        })
    }

    /// The backend's counters of device `port` (all its handles), if it is configured.
    pub fn port_counters(&self, port: u16) -> Option<DpdkPortStats> {
        global().devices.get(&port).map(|d| d.counters.get())
    }

    /// The device's own counters (`rte_eth_stats_get`), if `port` exists.
    pub fn eth_stats(&self, port: u16) -> Option<EthStats> {
        let mut st = sys::rte_eth_stats::default();
        // SAFETY: st is a valid out structure; an invalid port id only returns an error.
        if unsafe { sys::rte_eth_stats_get(port, &mut st) } != 0 {
            return None;
        }
        Some(EthStats {
            ipackets: st.ipackets,
            opackets: st.opackets,
            ibytes: st.ibytes,
            obytes: st.obytes,
            imissed: st.imissed,
            ierrors: st.ierrors,
            oerrors: st.oerrors,
            rx_nombuf: st.rx_nombuf,
        })
    }

    /// Sets the options used by ports opened through a spec ([`DpdkPort::open`]).
    pub fn set_default_options(&self, opts: DpdkOptions) {
        global().defaults = opts;
    }

    /// Stops and closes devices `ports` and frees their pools (a pool with mbufs
    /// still out is kept until [`Eal::shutdown`]). Devices created by
    /// [`Eal::probe`] are removed. Fails if a [`DpdkPort`] handle is still open.
    pub fn close_ports(&self, ports: &[u16]) -> Result<()> {
        let mut g = global();
        require_up(&g)?;
        close_devices(&mut g, ports)
    }

    /// Stops and closes every device, frees every pool and cleans the EAL up
    /// (`rte_eal_cleanup`). DPDK cannot be initialised again in this process.
    /// Every [`DpdkPort`] handle must be dropped before.
    pub fn shutdown() -> Result<()> {
        let mut g = global();
        if !matches!(g.phase, Phase::Up { .. }) {
            return Ok(());
        }
        let ids: Vec<u16> = g.devices.keys().copied().collect();
        close_devices(&mut g, &ids)?;
        for p in std::mem::take(&mut g.deferred) {
            p.free();
        }
        // SAFETY: every device is closed and every pool freed; called once (phase).
        let ret = unsafe { sys::rte_eal_cleanup() };
        g.phase = Phase::Down;
        if ret < 0 {
            return Err(DpdkError::EalGone(format!("rte_eal_cleanup failed: {}", ret_error(ret))));
        }
        Ok(())
    }
}

/// Names of devices created by [`Eal::probe`], removed when closed.
static PROBED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn port_by_name(name: &str) -> Option<u16> {
    let c = CString::new(name).ok()?;
    let mut id: u16 = 0;
    // SAFETY: c is NUL-terminated; id is a valid out pointer.
    let ret = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
    (ret == 0).then_some(id)
}

fn port_name(id: u16) -> String {
    let mut buf = [0 as c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
    // SAFETY: buf has RTE_ETH_NAME_MAX_LEN bytes, as the function requires.
    let ret = unsafe { sys::rte_eth_dev_get_name_by_port(id, buf.as_mut_ptr()) };
    if ret != 0 {
        return format!("port{id}");
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

fn raw_info(id: u16) -> Option<sys::rte_eth_dev_info> {
    // SAFETY: plain validity check of a port id.
    if unsafe { sys::rte_eth_dev_is_valid_port(id) } == 0 {
        return None;
    }
    let mut info = sys::rte_eth_dev_info::default();
    // SAFETY: info is a valid, writable rte_eth_dev_info.
    let ret = unsafe { sys::rte_eth_dev_info_get(id, &mut info) };
    (ret == 0).then_some(info)
}

fn device_info(id: u16) -> Option<DeviceInfo> {
    let info = raw_info(id)?;
    let driver = if info.driver_name.is_null() {
        String::new()
    } else {
        // SAFETY: the driver name is a static NUL-terminated string of the PMD.
        unsafe { CStr::from_ptr(info.driver_name) }.to_string_lossy().into_owned()
    };
    // SAFETY: plain getter.
    let multi = info.tx_offload_capa & unsafe { sys::p4c_tx_offload_multi_segs() } != 0;
    Some(DeviceInfo {
        id,
        name: port_name(id),
        driver,
        max_rx_queues: info.max_rx_queues,
        max_tx_queues: info.max_tx_queues,
        rss_offloads: info.flow_type_rss_offloads,
        multi_seg_tx: multi,
    })
}

/// The arguments the device was created with (`rx_pcap=a.pcap,tx_pcap=b.pcap`).
fn dev_args(port: u16) -> String {
    // SAFETY: returns NULL or the NUL-terminated argument string the EAL keeps
    // for the device's lifetime; copied at once.
    unsafe {
        let p = sys::p4c_eth_dev_args(port);
        if p.is_null() {
            return String::new();
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// The RX timestamp dynamic field and flag, registered once per process.
fn rx_timestamp_field() -> Option<(c_int, u64)> {
    static FIELD: std::sync::OnceLock<Option<(c_int, u64)>> = std::sync::OnceLock::new();
    *FIELD.get_or_init(|| {
        let (mut off, mut flag) = (0 as c_int, 0u64);
        // SAFETY: valid out pointers; registering the standard field is idempotent.
        let ret = unsafe { sys::rte_mbuf_dyn_rx_timestamp_register(&mut off, &mut flag) };
        (ret == 0).then_some((off, flag))
    })
}

/// What a device's input is, from its driver and arguments: a `net_pcap` device
/// reading a file (`rx_pcap=` without `infinite_rx=1`) is a replay, one without
/// an RX stream only transmits (it still has an RX queue that never receives),
/// everything else is live.
fn device_input_kind(driver: &str, args: &str) -> InputKind {
    let has = |key: &str| args.split(',').any(|a| a.trim().starts_with(key));
    if driver != "net_pcap" {
        return InputKind::Live;
    }
    if has("rx_pcap=") {
        if has("infinite_rx=1") {
            InputKind::Live
        } else {
            InputKind::Replay
        }
    } else if has("rx_iface") || has("iface=") {
        InputKind::Live
    } else {
        InputKind::None
    }
}

/// The input kind of device `id` (a port id or device name) without configuring
/// it: how [`run`] will treat it (a replay ends the run once read; see
/// [`InputKind`]).
pub fn input_kind(id: &str) -> Result<InputKind> {
    require_up(&global())?;
    let port = resolve(id)?;
    let driver = device_info(port).map(|d| d.driver).unwrap_or_default();
    Ok(device_input_kind(&driver, &dev_args(port)))
}

/// Resolves `N=dpdk:ID`: a decimal port id or a device name.
fn resolve(id: &str) -> Result<u16> {
    let found = if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        id.parse::<u16>().ok().filter(|&p| {
            // SAFETY: plain validity check.
            unsafe { sys::rte_eth_dev_is_valid_port(p) != 0 }
        })
    } else {
        port_by_name(id)
    };
    found.ok_or_else(|| {
        let avail: Vec<String> =
            (0..sys::RTE_MAX_ETHPORTS as u16).filter_map(device_info).map(|d| format!("{}={}", d.id, d.name)).collect();
        DpdkError::PortNotFound {
            id: id.into(),
            available: if avail.is_empty() { "none".into() } else { avail.join(", ") },
        }
    })
}

// --------------------------------------------------------------------------- pools

#[derive(Debug)]
struct Pool {
    ptr: NonNull<sys::rte_mempool>,
    size: u32,
}

// SAFETY: an rte_mempool is made for concurrent use from many threads (its
// default ring is multi-producer/multi-consumer); the pointer stays valid until
// `free`, which runs only once no device or handle uses the pool.
unsafe impl Send for Pool {}
// SAFETY: as above; shared access only calls thread-safe mempool functions.
unsafe impl Sync for Pool {}

impl Pool {
    fn create(name: &str, n: u32, cache: u32, data_room: u32, socket: c_int) -> Result<Pool> {
        let buf = data_room;
        let err = |reason: String| DpdkError::Mempool { name: name.into(), n, buf, reason };
        let c = CString::new(name).map_err(|_| err("bad name".into()))?;
        let max_cache = sys::RTE_MEMPOOL_CACHE_MAX_SIZE.min(n * 2 / 3);
        // SAFETY: c is NUL-terminated; the sizes are in range (cache clamped as the
        // function requires, data room fits u16 by construction of the callers).
        let p =
            unsafe { sys::rte_pktmbuf_pool_create(c.as_ptr(), n, cache.min(max_cache), 0, data_room as u16, socket) };
        match NonNull::new(p) {
            Some(ptr) => Ok(Pool { ptr, size: n }),
            None => Err(err(last_error())),
        }
    }

    fn avail(&self) -> u32 {
        // SAFETY: valid pool (see the type's invariant).
        unsafe { sys::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    fn in_use(&self) -> u32 {
        // SAFETY: valid pool.
        unsafe { sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    fn raw(&self) -> *mut sys::rte_mempool {
        self.ptr.as_ptr()
    }

    fn free(self) {
        // SAFETY: called once per pool, after everything using it was closed.
        unsafe { sys::rte_mempool_free(self.ptr.as_ptr()) }
    }
}

// ------------------------------------------------------------------------- options

/// When a clone is copied rather than chained zero-copy (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneCopy {
    /// Copy when the tail (the part of the input frame a clone reuses) is shorter
    /// than this many bytes, chain zero-copy otherwise.
    Auto {
        /// Tail length from which clones are zero-copy.
        zero_copy_from: usize,
    },
    /// Always copy.
    Always,
    /// Always zero-copy where possible (input frame in an mbuf; device takes
    /// multi-segment frames unless [`DpdkOptions::force_multi_seg`]).
    Never,
}

impl fmt::Display for CloneCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloneCopy::Auto { zero_copy_from } => write!(f, "auto:{zero_copy_from}"),
            CloneCopy::Always => f.write_str("copy"),
            CloneCopy::Never => f.write_str("zero-copy"),
        }
    }
}

impl std::str::FromStr for CloneCopy {
    type Err = String;

    /// `copy`, `zero-copy`, `auto` (copy below [`ZERO_COPY_FROM`] bytes of tail) or
    /// `auto:BYTES`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "copy" => Ok(CloneCopy::Always),
            "zero-copy" => Ok(CloneCopy::Never),
            "auto" => Ok(CloneCopy::Auto { zero_copy_from: ZERO_COPY_FROM }),
            _ => match s.strip_prefix("auto:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(CloneCopy::Auto { zero_copy_from: n }),
                _ => Err(format!("{s:?} is not a clone mode: expected copy, zero-copy, auto or auto:BYTES")),
            },
        }
    }
}

/// Tail length from which [`CloneCopy::Auto`] chains clones zero-copy. Measured
/// (BENCHMARKS.md, "DPDK"): on the virtual devices the copy was faster at every
/// frame size of a 1500-byte MTU (64 to 1500 bytes), so only longer tails (jumbo
/// frames, with an `rx` pool of larger buffers) are chained. Where a NIC's DMA
/// leaves the payload cold in cache the break-even is lower: re-measure with the
/// benchmark's clone rows on that NIC.
pub const ZERO_COPY_FROM: usize = 2048;

/// Device and packet-loop settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkOptions {
    /// RX descriptors per queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// TX descriptors per queue.
    pub tx_desc: u16,
    /// Frames per RX burst.
    pub burst: usize,
    /// Mbufs in each device's `rx` pool (`None`: sized from queues and descriptors).
    pub rx_pool: Option<u32>,
    /// Mbufs in each device's `tx` pool (`None`: sized from queues and descriptors).
    pub tx_pool: Option<u32>,
    /// Per-lcore mempool cache.
    pub pool_cache: u32,
    /// Copy or chain clones.
    pub clone_copy: CloneCopy,
    /// Send zero-copy chains even where the device does not announce
    /// `RTE_ETH_TX_OFFLOAD_MULTI_SEGS` (e.g. `net_null`, which only frees them).
    pub force_multi_seg: bool,
    /// Extra `rte_eth_tx_burst` attempts for frames a full TX ring did not take.
    pub tx_retries: u32,
    /// Put the devices in promiscuous mode (a bump in the wire sees every MAC).
    pub promiscuous: bool,
}

impl DpdkOptions {
    /// The defaults (also [`Default`]).
    pub const DEFAULT: DpdkOptions = DpdkOptions {
        rx_desc: 1024,
        tx_desc: 1024,
        burst: BURST,
        rx_pool: None,
        tx_pool: None,
        pool_cache: 256,
        clone_copy: CloneCopy::Auto { zero_copy_from: ZERO_COPY_FROM },
        force_multi_seg: false,
        tx_retries: 0,
        promiscuous: true,
    };
}

impl Default for DpdkOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

// ------------------------------------------------------------------------- devices

/// A configured and started ethdev with its pools.
struct Device {
    port: u16,
    name: String,
    driver: String,
    queues: u16,
    rss: bool,
    multi_seg: bool,
    /// A finite file input (`net_pcap` with `rx_pcap=`, not `infinite_rx`).
    replay: bool,
    /// The RX timestamp dynamic field (offset, flag), when the device fills it.
    ts_field: Option<(c_int, u64)>,
    rx_pool: Pool,
    tx_pool: Pool,
    rx_taken: Vec<AtomicBool>,
    tx_locks: Vec<Mutex<()>>,
    counters: Counters,
}

/// [`DpdkPortStats`] of all handles of a device, added once per burst.
#[derive(Default)]
struct Counters([AtomicU64; 7]);

impl Counters {
    fn add(&self, d: &DpdkPortStats) {
        let v =
            [d.rx, d.rx_linearized, d.tx_originals, d.tx_zero_copy, d.tx_copied, d.tx_alloc_failed, d.tx_driver_failed];
        for (c, x) in self.0.iter().zip(v) {
            if x != 0 {
                c.fetch_add(x, Ordering::Relaxed);
            }
        }
    }

    fn get(&self) -> DpdkPortStats {
        let v: Vec<u64> = self.0.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        DpdkPortStats {
            rx: v[0],
            rx_linearized: v[1],
            tx_originals: v[2],
            tx_zero_copy: v[3],
            tx_copied: v[4],
            tx_alloc_failed: v[5],
            tx_driver_failed: v[6],
        }
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("port", &self.port)
            .field("name", &self.name)
            .field("queues", &self.queues)
            .finish()
    }
}

fn round_pool(n: u32) -> u32 {
    // Mempools are most memory-efficient at 2^k - 1 elements.
    n.max(63).saturating_add(1).next_power_of_two() - 1
}

/// Configures and starts device `port` with up to `want_queues` queue pairs.
fn configure(g: &mut Global, port: u16, want_queues: u16, o: &DpdkOptions, workers: u32) -> Result<Arc<Device>> {
    if let Some(d) = g.devices.get(&port) {
        return Ok(d.clone());
    }
    let name = port_name(port);
    let dev_err = |op: &'static str, reason: String| DpdkError::Device { port, name: name.clone(), op, reason };
    let info = raw_info(port).ok_or_else(|| dev_err("rte_eth_dev_info_get", "no such port".into()))?;
    let driver = device_info(port).map(|d| d.driver).unwrap_or_default();
    if info.max_tx_queues == 0 {
        return Err(dev_err(
            "queue setup",
            "the device has no TX queue (net_pcap: give tx_pcap= or tx_iface=, or neither to drop)".into(),
        ));
    }
    let kind = device_input_kind(&driver, &dev_args(port));
    let replay = kind == InputKind::Replay;
    let tx_only = kind == InputKind::None;
    // One queue pair per worker where the device has them; a device without RX
    // queues (net_pcap with only tx_pcap=) only transmits.
    let queues = want_queues.max(1).min(info.max_tx_queues);
    let rx_queues = if tx_only { 0 } else { queues.min(info.max_rx_queues) };
    // SAFETY: plain getters.
    let (want_rss, multi_seg_flag) = unsafe { (sys::p4c_rss_hf_ip_tcp_udp(), sys::p4c_tx_offload_multi_segs()) };
    // SAFETY: plain getter.
    let ts_flag = unsafe { sys::p4c_rx_offload_timestamp() };
    // net_pcap stamps every mbuf with the record's time (the standard RX
    // timestamp field) without announcing RTE_ETH_RX_OFFLOAD_TIMESTAMP; where a
    // device announces it, it is turned on.
    let ts_field = if replay { rx_timestamp_field() } else { None };
    let ts_offload = replay && info.rx_offload_capa & ts_flag != 0;
    let rss_hf = want_rss & info.flow_type_rss_offloads;
    let rss = rx_queues > 1 && rss_hf != 0;
    let multi_seg = info.tx_offload_capa & multi_seg_flag != 0;

    let mut conf = sys::rte_eth_conf::default();
    if rss {
        conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = std::ptr::null_mut();
        conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    }
    if multi_seg {
        conf.txmode.offloads |= multi_seg_flag;
    }
    if ts_offload {
        conf.rxmode.offloads |= ts_flag;
    }
    // SAFETY: conf is a valid configuration; the port exists and is not started.
    let ret = unsafe { sys::rte_eth_dev_configure(port, rx_queues, queues, &conf) };
    if ret < 0 {
        return Err(dev_err("rte_eth_dev_configure", ret_error(ret)));
    }
    let (mut nrx, mut ntx) = (o.rx_desc.max(1), o.tx_desc.max(1));
    // SAFETY: valid out pointers; the port is configured.
    let ret = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(port, &mut nrx, &mut ntx) };
    if ret < 0 {
        return Err(dev_err("rte_eth_dev_adjust_nb_rx_tx_desc", ret_error(ret)));
    }
    // SAFETY: plain getter.
    let socket = unsafe { sys::rte_eth_dev_socket_id(port) };
    let burst = o.burst.clamp(1, MAX_RX_BURST) as u32;
    let q = u32::from(queues);
    let cache = o.pool_cache;
    let rx_n = o
        .rx_pool
        .unwrap_or_else(|| round_pool(q * (u32::from(nrx) + u32::from(ntx)) + workers * (cache + 2 * burst) + 1024));
    let tx_n = o.tx_pool.unwrap_or_else(|| round_pool(q * 2 * u32::from(ntx) + workers * (cache + 4 * burst) + 1024));
    g.seq += 1;
    // SAFETY: plain getter.
    let buf = unsafe { sys::p4c_mbuf_default_buf_size() };
    let rx_pool = Pool::create(&format!("p4c_rx{port}_{}", g.seq), rx_n, cache, buf, socket)?;
    let tx_pool = match Pool::create(&format!("p4c_tx{port}_{}", g.seq), tx_n, cache, buf, socket) {
        Ok(p) => p,
        Err(e) => {
            rx_pool.free();
            return Err(e);
        }
    };
    let fail = |e: DpdkError, rx: Pool, tx: Pool| {
        // SAFETY: the port never started with these pools in use by a running queue.
        unsafe { sys::rte_eth_dev_close(port) };
        rx.free();
        tx.free();
        e
    };
    for qi in 0..queues {
        if qi < rx_queues {
            // SAFETY: the port is configured with `rx_queues` RX queues; a NULL
            // rxconf takes the driver's defaults (with the port's offloads); the
            // pool outlives the queue (freed after close).
            let ret =
                unsafe { sys::rte_eth_rx_queue_setup(port, qi, nrx, socket as u32, std::ptr::null(), rx_pool.raw()) };
            if ret < 0 {
                return Err(fail(dev_err("rte_eth_rx_queue_setup", ret_error(ret)), rx_pool, tx_pool));
            }
        }
        // SAFETY: as above for TX (the port-level offloads apply).
        let ret = unsafe { sys::rte_eth_tx_queue_setup(port, qi, ntx, socket as u32, std::ptr::null()) };
        if ret < 0 {
            return Err(fail(dev_err("rte_eth_tx_queue_setup", ret_error(ret)), rx_pool, tx_pool));
        }
    }
    if o.promiscuous {
        // Not every driver has it (ENOTSUP): not an error.
        // SAFETY: the port is configured.
        let _ = unsafe { sys::rte_eth_promiscuous_enable(port) };
    }
    // SAFETY: the port is configured with all its queues.
    let ret = unsafe { sys::rte_eth_dev_start(port) };
    if ret < 0 {
        return Err(fail(dev_err("rte_eth_dev_start", ret_error(ret)), rx_pool, tx_pool));
    }
    let dev = Arc::new(Device {
        port,
        name,
        driver,
        queues,
        rss,
        multi_seg,
        replay,
        ts_field,
        rx_pool,
        tx_pool,
        rx_taken: (0..rx_queues).map(|_| AtomicBool::new(false)).collect(),
        tx_locks: (0..queues).map(|_| Mutex::new(())).collect(),
        counters: Counters::default(),
    });
    g.devices.insert(port, dev.clone());
    Ok(dev)
}

fn close_devices(g: &mut Global, ports: &[u16]) -> Result<()> {
    for &p in ports {
        if let Some(d) = g.devices.get(&p) {
            let handles = Arc::strong_count(d) - 1;
            if handles > 0 {
                return Err(DpdkError::Busy {
                    port: p,
                    name: d.name.clone(),
                    reason: format!("cannot be closed: {handles} port handle(s) still open"),
                });
            }
        }
    }
    let mut closing = Vec::new();
    for &p in ports {
        if let Some(d) = g.devices.remove(&p) {
            // SAFETY: no handle uses the port any more (checked above).
            unsafe { sys::rte_eth_dev_stop(p) };
            closing.push(d);
        }
    }
    let mut probed = PROBED.lock().unwrap_or_else(|p| p.into_inner());
    for d in closing {
        // SAFETY: the port is stopped; closing releases its queues and the mbufs in
        // its rings (and, for net_pcap, flushes and closes its output file).
        unsafe { sys::rte_eth_dev_close(d.port) };
        if let Some(i) = probed.iter().position(|n| *n == d.name) {
            let name = probed.remove(i);
            if let Ok(c) = CString::new(name) {
                // SAFETY: NUL-terminated bus and device names of a device we probed.
                unsafe { sys::rte_eal_hotplug_remove(c"vdev".as_ptr(), c.as_ptr()) };
            }
        }
        let d = Arc::into_inner(d).expect("no handle left (checked above)");
        for pool in [d.rx_pool, d.tx_pool] {
            if pool.in_use() == 0 {
                pool.free();
            } else {
                g.deferred.push(pool);
            }
        }
    }
    Ok(())
}

// --------------------------------------------------------------------- port handle

/// Counters of the DPDK backend for one device ([`Eal::port_counters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DpdkPortStats {
    /// Frames received.
    pub rx: u64,
    /// Multi-segment frames copied into the batch on receive.
    pub rx_linearized: u64,
    /// Originals sent as their own mbuf.
    pub tx_originals: u64,
    /// Clones sent as header mbuf + indirect mbuf.
    pub tx_zero_copy: u64,
    /// Frames sent as a copy.
    pub tx_copied: u64,
    /// Frames that found no mbuf.
    pub tx_alloc_failed: u64,
    /// Frames the driver did not take.
    pub tx_driver_failed: u64,
}

/// One worker's handle on a DPDK device: its RX queue (if any) and a TX queue.
pub struct DpdkPort {
    dev: Arc<Device>,
    rxq: Option<u16>,
    txq: u16,
    copy: CloneCopy,
    zero_copy_ok: bool,
    tx_retries: u32,
    burst: usize,
    /// Mbufs of frames handed to the current batch, freed in `release_rx`.
    held: Vec<*mut sys::rte_mbuf>,
    rx_mbufs: Vec<*mut sys::rte_mbuf>,
    rx_data: Vec<*const u8>,
    rx_len: Vec<u32>,
    tx_mbufs: Vec<*mut sys::rte_mbuf>,
    tx_index: Vec<u32>,
    stats: DpdkPortStats,
    closed: bool,
    /// A replay input returned no frame: its file is read to the end.
    exhausted: bool,
}

// SAFETY: the raw mbuf pointers are owned by the handle (the held RX mbufs) or are
// scratch space; DPDK allows allocating, sending and freeing mbufs from any thread,
// and the handle is only ever used by one thread at a time (`&mut self`).
unsafe impl Send for DpdkPort {}

impl fmt::Debug for DpdkPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpdkPort")
            .field("port", &self.dev.port)
            .field("rxq", &self.rxq)
            .field("txq", &self.txq)
            .finish()
    }
}

impl DpdkPort {
    /// Opens `id` (a port id or a device name) for the generic engine: the device
    /// is configured with one queue pair if it is not yet, and this handle takes RX
    /// queue 0 and TX queue 0, with the options of [`Eal::set_default_options`].
    pub fn open(id: &str) -> Result<DpdkPort> {
        let o = global().defaults.clone();
        Self::open_with(id, &o)
    }

    /// [`DpdkPort::open`] with options `o` (used if this configures the device).
    pub fn open_with(id: &str, o: &DpdkOptions) -> Result<DpdkPort> {
        let mut g = global();
        require_up(&g)?;
        let port = resolve(id)?;
        let dev = configure(&mut g, port, 1, o, 1)?;
        drop(g);
        Self::handle(dev, Some(0), 0, o)
    }

    fn handle(dev: Arc<Device>, rxq: Option<u16>, txq: u16, o: &DpdkOptions) -> Result<DpdkPort> {
        // A device may have fewer RX queues than TX queues (or none).
        let rxq = rxq.filter(|&q| usize::from(q) < dev.rx_taken.len());
        if let Some(q) = rxq {
            if dev.rx_taken[usize::from(q)].swap(true, Ordering::AcqRel) {
                return Err(DpdkError::Busy {
                    port: dev.port,
                    name: dev.name.clone(),
                    reason: format!(
                        "is already open (RX queue {q} has a reader); a device can be named by one port spec only"
                    ),
                });
            }
        }
        let burst = o.burst.clamp(1, MAX_RX_BURST);
        Ok(DpdkPort {
            zero_copy_ok: dev.multi_seg || o.force_multi_seg,
            dev,
            rxq,
            txq,
            copy: o.clone_copy,
            tx_retries: o.tx_retries,
            burst,
            held: Vec::with_capacity(burst),
            rx_mbufs: Vec::new(),
            rx_data: Vec::new(),
            rx_len: Vec::new(),
            tx_mbufs: Vec::with_capacity(2 * burst),
            tx_index: Vec::with_capacity(2 * burst),
            stats: DpdkPortStats::default(),
            closed: false,
            exhausted: false,
        })
    }

    /// The ethdev port id.
    pub fn port_id(&self) -> u16 {
        self.dev.port
    }

    /// The counters of every handle of this device (as [`Eal::port_counters`]).
    pub fn stats(&self) -> DpdkPortStats {
        self.dev.counters.get()
    }

    /// Adds this burst's counts to the device's.
    fn flush_stats(&mut self) {
        if self.stats != DpdkPortStats::default() {
            self.dev.counters.add(&self.stats);
            self.stats = DpdkPortStats::default();
        }
    }

    fn free_held(&mut self) {
        if !self.held.is_empty() {
            // SAFETY: each held mbuf was received by this handle and is referenced
            // once by it; the batch that pointed into them is done with them.
            unsafe { sys::rte_pktmbuf_free_bulk(self.held.as_mut_ptr(), self.held.len() as u32) };
            self.held.clear();
        }
    }

    /// Builds the mbuf for frame `f`, or says why it could not.
    fn build(&mut self, f: &super::TxFrame<'_>) -> std::result::Result<*mut sys::rte_mbuf, TxFailure> {
        let m_in = f.rx_token as *mut sys::rte_mbuf;
        match f.emit.kind {
            EmitKind::Original if !m_in.is_null() => {
                // SAFETY: a non-zero token is an mbuf this process received on a DPDK
                // port (the only backend that sets tokens) and that stays referenced
                // by its RX handle until release_rx: one more reference for the TX.
                unsafe { sys::p4c_mbuf_refcnt_update(m_in, 1) };
                self.stats.tx_originals += 1;
                Ok(m_in)
            }
            EmitKind::Clone(_) => self.build_clone(m_in, f.head, f.tail, f.tail_offset()),
            EmitKind::Original => self.copy(f.head, f.tail),
        }
    }

    /// The mbuf of a clone: `head` + `tail`, where `tail` starts `tail_offset` bytes
    /// into the input frame held by `m_in` (null: the input is not an mbuf). Copied
    /// or chained zero-copy as the options say.
    fn build_clone(
        &mut self,
        m_in: *mut sys::rte_mbuf,
        head: &[u8],
        tail: &[u8],
        tail_offset: usize,
    ) -> std::result::Result<*mut sys::rte_mbuf, TxFailure> {
        if !m_in.is_null() && self.zero_copy_ok && self.chain_clone(tail.len()) {
            self.stats.tx_zero_copy += 1;
            // SAFETY: m_in is a live single-segment mbuf holding the input frame
            // (received by this process and not yet released or sent);
            // tail_offset + tail.len() lie within it.
            return unsafe { zero_copy_clone(self.dev.tx_pool.raw(), m_in, head, tail_offset, tail.len()) };
        }
        self.copy(head, tail)
    }

    /// A new mbuf holding `head` + `tail`.
    fn copy(&mut self, head: &[u8], tail: &[u8]) -> std::result::Result<*mut sys::rte_mbuf, TxFailure> {
        self.stats.tx_copied += 1;
        // SAFETY: the tx pool is a valid mempool.
        unsafe { copy_frame(self.dev.tx_pool.raw(), head, tail) }
    }

    /// Sends `mbufs` on this handle's TX queue (retrying [`DpdkOptions::tx_retries`]
    /// times when the driver takes nothing), frees what the driver did not take and
    /// counts it as `tx_driver_failed`. Returns how many were sent (a prefix).
    fn tx_all(&mut self, mbufs: &mut [*mut sys::rte_mbuf]) -> usize {
        let total = mbufs.len();
        let mut sent = 0usize;
        {
            let _lock = self.dev.tx_locks[usize::from(self.txq)].lock().unwrap_or_else(|p| p.into_inner());
            let mut tries = 0;
            while sent < total {
                let k = (total - sent).min(usize::from(u16::MAX)) as u16;
                // SAFETY: mbufs[sent..] are valid mbufs owned by us; the driver
                // takes ownership of the first `r` of them; the TX queue is ours
                // (under its lock).
                let r =
                    unsafe { sys::p4c_eth_tx_burst(self.dev.port, self.txq, mbufs.as_mut_ptr().add(sent), k) } as usize;
                sent += r;
                if r == 0 {
                    if tries >= self.tx_retries {
                        break;
                    }
                    tries += 1;
                }
            }
        }
        if sent < total {
            // SAFETY: not taken by the driver: still ours to free (for an original
            // of the generic path this drops the reference taken in `build`).
            unsafe { sys::rte_pktmbuf_free_bulk(mbufs.as_mut_ptr().add(sent), (total - sent) as u32) };
            self.stats.tx_driver_failed += (total - sent) as u64;
        }
        sent
    }

    fn chain_clone(&self, tail: usize) -> bool {
        match self.copy {
            CloneCopy::Always => false,
            CloneCopy::Never => true,
            CloneCopy::Auto { zero_copy_from } => tail >= zero_copy_from,
        }
    }
}

/// Header mbuf with `head`, chained to an indirect clone of `m_in` cut to
/// `tail_offset..tail_offset + tail_len`.
///
/// # Safety
/// `pool` is a valid mempool; `m_in` a valid single-segment mbuf at least
/// `tail_offset + tail_len` bytes long.
unsafe fn zero_copy_clone(
    pool: *mut sys::rte_mempool,
    m_in: *mut sys::rte_mbuf,
    head: &[u8],
    tail_offset: usize,
    tail_len: usize,
) -> std::result::Result<*mut sys::rte_mbuf, TxFailure> {
    // SAFETY (whole body): the caller's contract; every mbuf created here is either
    // returned or freed on the error paths.
    unsafe {
        let c = sys::rte_pktmbuf_clone(m_in, pool);
        if c.is_null() {
            return Err(TxFailure::Alloc);
        }
        let have = usize::from(sys::p4c_pktmbuf_data_len(c));
        if tail_offset + tail_len > have
            || (tail_offset > 0 && sys::p4c_pktmbuf_adj(c, tail_offset as u16).is_null())
            || (have - tail_offset > tail_len && sys::p4c_pktmbuf_trim(c, (have - tail_offset - tail_len) as u16) != 0)
        {
            sys::p4c_pktmbuf_free(c);
            return Err(TxFailure::Driver);
        }
        if head.is_empty() {
            return Ok(c);
        }
        let h = sys::p4c_pktmbuf_alloc(pool);
        if h.is_null() {
            sys::p4c_pktmbuf_free(c);
            return Err(TxFailure::Alloc);
        }
        let dst = sys::p4c_pktmbuf_append(h, head.len() as u16);
        if dst.is_null() || sys::p4c_pktmbuf_chain(h, c) != 0 {
            sys::p4c_pktmbuf_free(h);
            sys::p4c_pktmbuf_free(c);
            return Err(TxFailure::Driver);
        }
        std::ptr::copy_nonoverlapping(head.as_ptr(), dst.cast::<u8>(), head.len());
        Ok(h)
    }
}

/// One mbuf (a chain if the frame is longer than a segment) holding `head` + `tail`.
///
/// # Safety
/// `pool` is a valid mempool.
unsafe fn copy_frame(
    pool: *mut sys::rte_mempool,
    head: &[u8],
    tail: &[u8],
) -> std::result::Result<*mut sys::rte_mbuf, TxFailure> {
    // SAFETY (whole body): pool is valid; each append returns `len` writable bytes
    // of the segment; the chain is freed as a whole on failure.
    unsafe {
        if let (Ok(hlen), Ok(tlen)) = (u16::try_from(head.len()), u16::try_from(tail.len())) {
            // The usual case: one segment, allocated and filled in one call.
            let mut no_room: c_int = 0;
            let m = sys::p4c_pktmbuf_copy2(pool, head.as_ptr(), hlen, tail.as_ptr(), tlen, &mut no_room);
            if !m.is_null() {
                return Ok(m);
            }
            if no_room == 0 {
                return Err(TxFailure::Alloc);
            }
        }
        let first = sys::p4c_pktmbuf_alloc(pool);
        if first.is_null() {
            return Err(TxFailure::Alloc);
        }
        // Longer than one segment: fill a chain.
        let seg_room = (sys::p4c_mbuf_default_buf_size() - sys::RTE_PKTMBUF_HEADROOM) as usize;
        let mut room = seg_room;
        for part in [head, tail] {
            let mut rest = part;
            while !rest.is_empty() {
                if room == 0 {
                    let next = sys::p4c_pktmbuf_alloc(pool);
                    if next.is_null() {
                        sys::p4c_pktmbuf_free(first);
                        return Err(TxFailure::Alloc);
                    }
                    if sys::p4c_pktmbuf_chain(first, next) != 0 {
                        sys::p4c_pktmbuf_free(next);
                        sys::p4c_pktmbuf_free(first);
                        return Err(TxFailure::Driver);
                    }
                    room = seg_room;
                }
                let k = rest.len().min(room);
                // Appending to the head grows the chain's last segment (`seg`) and
                // keeps the head's pkt_len.
                let dst = sys::p4c_pktmbuf_append(first, k as u16);
                if dst.is_null() {
                    sys::p4c_pktmbuf_free(first);
                    return Err(TxFailure::Driver);
                }
                std::ptr::copy_nonoverlapping(rest.as_ptr(), dst.cast::<u8>(), k);
                rest = &rest[k..];
                room -= k;
            }
        }
        Ok(first)
    }
}

/// Gives a non-EAL thread that moves packets (the generic engine's thread) an
/// lcore id (`rte_thread_register`), so the mempools' per-lcore caches serve it;
/// released when the thread ends.
fn ensure_lcore() {
    struct Registered(bool);
    impl Drop for Registered {
        fn drop(&mut self) {
            if self.0 && Eal::is_up() {
                // SAFETY: this thread registered itself and the EAL is still up.
                unsafe { sys::rte_thread_unregister() };
            }
        }
    }
    thread_local! {
        static LCORE: std::cell::RefCell<Option<Registered>> = const { std::cell::RefCell::new(None) };
    }
    LCORE.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            // SAFETY: getters and registration of the calling thread.
            let registered = unsafe { sys::p4c_lcore_id() == u32::MAX && sys::rte_thread_register() == 0 };
            *c = Some(Registered(registered));
        }
    });
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl Port for DpdkPort {
    fn describe(&self) -> String {
        let rx = self.rxq.map_or_else(|| "no rx".to_string(), |q| format!("rxq {q}"));
        format!(
            "dpdk:{} ({}, {}, {rx}, txq {} of {}{})",
            self.dev.port,
            self.dev.name,
            self.dev.driver,
            self.txq,
            self.dev.queues,
            if self.dev.rss { ", rss" } else { "" }
        )
    }

    fn input_kind(&self) -> InputKind {
        match self.rxq {
            None => InputKind::None,
            Some(_) if self.dev.replay => InputKind::Replay,
            Some(_) => InputKind::Live,
        }
    }

    fn recv_burst(&mut self, batch: &mut RxBatch) -> PortResult<usize> {
        let Some(q) = self.rxq else { return Ok(0) };
        if self.closed {
            return Err(PortError::Other(format!("dpdk:{}: port is closed", self.dev.port)));
        }
        let room = batch.room().min(self.burst);
        if room == 0 {
            return Ok(0);
        }
        ensure_lcore();
        if self.rx_mbufs.len() < room {
            self.rx_mbufs.resize(room, std::ptr::null_mut());
            self.rx_data.resize(room, std::ptr::null());
            self.rx_len.resize(room, 0);
        }
        // SAFETY: the three arrays hold `room` elements; the device is started and
        // this handle is the only reader of RX queue q.
        let n = unsafe {
            sys::p4c_eth_rx_burst_meta(
                self.dev.port,
                q,
                self.rx_mbufs.as_mut_ptr(),
                room as u16,
                self.rx_data.as_mut_ptr(),
                self.rx_len.as_mut_ptr(),
            )
        } as usize;
        if n == 0 {
            // A file input gives nothing only at its end.
            self.exhausted = self.dev.replay;
            return Ok(0);
        }
        let now = now_ns();
        let ts_field = self.dev.ts_field;
        let mut pushed = 0;
        for i in 0..n {
            let m = self.rx_mbufs[i];
            let ts = match ts_field {
                // net_pcap (22.11) stores the record's time in microseconds.
                Some((off, flag)) => match unsafe {
                    // SAFETY: m is a valid received mbuf; off/flag come from the
                    // registration of the timestamp field.
                    sys::p4c_mbuf_rx_timestamp(m, off, flag)
                } {
                    u64::MAX => now,
                    us => us.saturating_mul(1_000),
                },
                None => now,
            };
            let ok = if self.rx_len[i] != u32::MAX {
                // SAFETY: rx_data[i]..+rx_len[i] is the only segment of mbuf m, which
                // this handle keeps (in `held`) unmodified until release_rx.
                unsafe { batch.push_external(ts, self.rx_data[i], self.rx_len[i] as usize, m as usize) }
            } else {
                self.stats.rx_linearized += 1;
                // SAFETY: m is a valid received mbuf; read copies pkt_len bytes out
                // of its segments into the batch's buffer.
                let len = unsafe { sys::p4c_pktmbuf_pkt_len(m) } as usize;
                let copied = batch.push_with(ts, len, |buf| {
                    // SAFETY: buf has len writable bytes; m has pkt_len = len bytes.
                    let src = unsafe { sys::p4c_pktmbuf_read(m, 0, len as u32, buf.as_mut_ptr().cast()) };
                    if !src.is_null() && src != buf.as_ptr().cast() {
                        // SAFETY: read returned a pointer to len contiguous bytes in m.
                        unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), buf.as_mut_ptr(), len) };
                    }
                    Ok::<(), ()>(())
                });
                // SAFETY: the bytes were copied (or the batch is full): m is ours to free.
                unsafe { sys::p4c_pktmbuf_free(m) };
                if copied == Ok(true) {
                    pushed += 1;
                }
                continue;
            };
            if ok {
                self.held.push(m);
                pushed += 1;
            } else {
                // SAFETY: not handed to the batch; still ours.
                unsafe { sys::p4c_pktmbuf_free(m) };
            }
        }
        self.stats.rx += pushed as u64;
        self.flush_stats();
        Ok(pushed)
    }

    fn release_rx(&mut self, _batch: &RxBatch) {
        self.free_held();
    }

    fn send_burst(&mut self, burst: &mut TxBurst<'_>) -> PortResult<usize> {
        let n = burst.len();
        if self.closed {
            return Err(PortError::Other(format!("dpdk:{}: port is closed", self.dev.port)));
        }
        ensure_lcore();
        self.tx_mbufs.clear();
        self.tx_index.clear();
        for i in 0..n {
            let f = burst.get(i);
            match self.build(&f) {
                Ok(m) => {
                    self.tx_mbufs.push(m);
                    self.tx_index.push(i as u32);
                }
                Err(why) => {
                    match why {
                        TxFailure::Alloc => self.stats.tx_alloc_failed += 1,
                        TxFailure::Driver => self.stats.tx_driver_failed += 1,
                    }
                    burst.fail(i, why);
                }
            }
        }
        let mut mbufs = std::mem::take(&mut self.tx_mbufs);
        let sent = self.tx_all(&mut mbufs);
        for k in sent..mbufs.len() {
            burst.fail(self.tx_index[k] as usize, TxFailure::Driver);
        }
        self.tx_mbufs = mbufs;
        self.flush_stats();
        Ok(n)
    }

    fn is_exhausted(&self) -> bool {
        match self.input_kind() {
            InputKind::None => true,
            InputKind::Replay => self.exhausted,
            InputKind::Live => false,
        }
    }

    fn close(&mut self) -> PortResult<()> {
        self.free_held();
        self.closed = true;
        Ok(())
    }

    fn backend_stats(&mut self) -> BackendStats {
        let mut st = sys::rte_eth_stats::default();
        // SAFETY: st is a valid out structure; the device is open.
        if unsafe { sys::rte_eth_stats_get(self.dev.port, &mut st) } != 0 {
            return BackendStats::default();
        }
        BackendStats { rx_dropped: st.imissed + st.rx_nombuf, rx_oversize: 0 }
    }
}

impl Drop for DpdkPort {
    fn drop(&mut self) {
        self.free_held();
        if let Some(q) = self.rxq {
            self.dev.rx_taken[usize::from(q)].store(false, Ordering::Release);
        }
    }
}

// ------------------------------------------------------------------------ the loop

/// Stop flag raised by SIGINT/SIGTERM once [`stop_on_signals`] installed the handlers.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: c_int) {
    if SIGNALLED.swap(true, Ordering::SeqCst) {
        // Second signal: the user insists; leave now (async-signal-safe).
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
}

/// Installs SIGINT and SIGTERM handlers that raise the returned flag (give it to
/// [`run`]); a second signal exits at once with status 128 + signal.
pub fn stop_on_signals() -> &'static AtomicBool {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: installs a handler that only touches an atomic and _exit, both
            // async-signal-safe; the sigaction structure is fully initialised.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                sa.sa_flags = libc::SA_RESTART;
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
    &SIGNALLED
}

/// What one worker does.
enum Work<'a> {
    /// The fast path over its queues ([`lane::Lane`]).
    Lane(lane::Lane<'a>),
    /// The inputs of several replay devices merged by timestamp ([`PcapReplay`]),
    /// through the generic burst step, on one worker.
    Merge(Merge<'a>),
}

/// The replay merge of [`Work::Merge`].
struct Merge<'a> {
    pipeline: &'a Pipeline,
    table: PortTable,
    worker: Worker,
    rx: RxBatch,
    burst: usize,
}

impl Merge<'_> {
    fn poll(&mut self, stop: &AtomicBool, abort: &AtomicBool) -> PortResult<()> {
        let mut replay = PcapReplay::new(self.table.ports(), self.burst);
        while !stop.load(Ordering::Relaxed) && !abort.load(Ordering::Relaxed) {
            self.rx.clear();
            if replay.fill(self.table.ports_mut(), &mut self.rx, self.burst)? == 0 {
                break;
            }
            self.worker.run_burst(self.pipeline, &self.rx, &mut self.table)?;
        }
        self.rx.clear();
        self.table.flush_all()
    }
}

impl Work<'_> {
    fn stats(&self) -> &IoStats {
        match self {
            Work::Lane(l) => l.stats(),
            Work::Merge(m) => m.worker.stats(),
        }
    }

    fn describe(&self, n: u16) -> Option<String> {
        match self {
            Work::Lane(l) => l.describe(n),
            Work::Merge(m) => m.table.ports().get(&n).map(|p| p.describe()),
        }
    }

    fn backend_stats(&mut self, n: u16) -> BackendStats {
        match self {
            Work::Lane(l) => l.backend_stats(n),
            Work::Merge(m) => m.table.ports_mut().get_mut(&n).map(|p| p.backend_stats()).unwrap_or_default(),
        }
    }
}

/// One worker lcore's share of the work.
struct Job<'a> {
    lcore: u32,
    work: Work<'a>,
    stop: &'a AtomicBool,
    abort: &'a AtomicBool,
    /// Jobs that returned (their inputs ended, or they failed).
    finished: &'a AtomicUsize,
    result: std::result::Result<(), String>,
}

impl Job<'_> {
    fn run(&mut self) {
        let r = catch_unwind(AssertUnwindSafe(|| match &mut self.work {
            Work::Lane(l) => l.poll(self.stop, self.abort),
            Work::Merge(m) => m.poll(self.stop, self.abort),
        }));
        self.result = match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("lcore {}: {e}", self.lcore)),
            Err(_) => Err(format!("lcore {}: the packet loop panicked", self.lcore)),
        };
        if self.result.is_err() {
            self.abort.store(true, Ordering::SeqCst);
        }
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe extern "C" fn lcore_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Job` that `run` launched on this lcore; `run` keeps it
    // alive and untouched until rte_eal_wait_lcore returned for this lcore.
    let job = unsafe { &mut *arg.cast::<Job<'_>>() };
    job.run();
    i32::from(job.result.is_err())
}

/// Runs `pipeline` over the DPDK devices `ports` (p4clone port number → DPDK port
/// id or device name) until `stop` is raised, then returns the counters. One packet
/// loop per worker lcore, each with its own queue on every device; with no worker
/// lcore (`-l` names one core) the loop runs on the calling thread. With worker
/// lcores, call it from the thread that initialised the EAL.
///
/// The devices stay configured afterwards (see [`Eal::pool_usage`],
/// [`Eal::close_ports`], [`Eal::shutdown`]).
pub fn run(
    pipeline: &Arc<Pipeline>,
    ports: &BTreeMap<u16, String>,
    opts: &DpdkOptions,
    stop: &AtomicBool,
) -> Result<RunReport> {
    let eal = Eal::get()?;
    let lcores = eal.worker_lcores();
    let workers = lcores.len().max(1);
    if !lcores.is_empty() {
        // SAFETY: plain getter of the calling thread's lcore id.
        let me = unsafe { sys::p4c_lcore_id() };
        if me != eal.main_lcore() {
            return Err(DpdkError::Run(format!(
                "with worker lcores ({lcores:?}), run the packet loop from the thread that initialised the EAL \
                 (main lcore {}); this thread is lcore {}",
                eal.main_lcore(),
                if me == u32::MAX { "none".to_string() } else { me.to_string() }
            )));
        }
    }
    if let Some(&n) = ports.keys().find(|&&n| n > super::MAX_PORT) {
        return Err(DpdkError::Run(format!("port {n} is out of range 0..={}", super::MAX_PORT)));
    }
    let mut devices: BTreeMap<u16, Arc<Device>> = BTreeMap::new();
    {
        let mut g = global();
        let mut seen: BTreeMap<u16, u16> = BTreeMap::new();
        for (&n, id) in ports {
            let port = resolve(id)?;
            if let Some(prev) = seen.insert(port, n) {
                return Err(DpdkError::Run(format!(
                    "ports {prev} and {n} both name DPDK port {port} ({})",
                    port_name(port)
                )));
            }
            let dev = configure(&mut g, port, workers as u16, opts, workers as u32)?;
            devices.insert(n, dev);
        }
    }
    let abort = AtomicBool::new(false);
    let finished = AtomicUsize::new(0);
    let burst = opts.burst.clamp(1, MAX_RX_BURST);
    // Several file inputs must be merged by timestamp (as the pcap backend does):
    // one worker does it, through the generic burst step.
    let replays = devices.values().filter(|d| d.replay && !d.rx_taken.is_empty()).count();
    let merge = replays > 1;
    let mut jobs: Vec<Box<Job<'_>>> = Vec::with_capacity(workers);
    for w in 0..if merge { 1 } else { workers } {
        let mut handles = Vec::new();
        for (&n, dev) in &devices {
            let rxq = (w < dev.rx_taken.len()).then_some(w as u16);
            let txq = (w % usize::from(dev.queues)) as u16;
            handles.push((n, DpdkPort::handle(dev.clone(), rxq, txq, opts)?));
        }
        let work = if merge {
            let table = handles.into_iter().map(|(n, h)| (n, Box::new(h) as Box<dyn Port>)).collect();
            Work::Merge(Merge {
                pipeline,
                table: PortTable::new(table),
                worker: Worker::new(burst),
                rx: RxBatch::new(burst),
                burst,
            })
        } else {
            Work::Lane(lane::Lane::new(pipeline, handles, burst))
        };
        jobs.push(Box::new(Job {
            lcore: lcores.get(w).copied().unwrap_or_else(|| eal.main_lcore()),
            work,
            stop,
            abort: &abort,
            finished: &finished,
            result: Ok(()),
        }));
    }
    let start = Instant::now();
    if lcores.is_empty() {
        jobs[0].run();
    } else {
        let mut launched = Vec::new();
        let mut launch_err = None;
        for job in jobs.iter_mut() {
            let arg = (&mut **job as *mut Job<'_>).cast::<c_void>();
            // SAFETY: the job outlives the lcore's run: we wait for every launched
            // lcore below before `jobs` is touched or dropped.
            let ret = unsafe { sys::rte_eal_remote_launch(Some(lcore_main), arg, job.lcore) };
            if ret != 0 {
                launch_err = Some(format!("rte_eal_remote_launch on lcore {}: {}", job.lcore, ret_error(ret)));
                abort.store(true, Ordering::SeqCst);
                break;
            }
            launched.push(job.lcore);
        }
        // rte_eal_wait_lcore spins: sleep on the main lcore until the workers are
        // told to stop or have all returned, so it does not take CPU from them (or
        // from the control plane).
        while finished.load(Ordering::SeqCst) < launched.len()
            && !stop.load(Ordering::Relaxed)
            && !abort.load(Ordering::Relaxed)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        for l in launched {
            // SAFETY: waits for the lcore launched above.
            unsafe { sys::rte_eal_wait_lcore(l) };
        }
        if let Some(e) = launch_err {
            return Err(DpdkError::Run(e));
        }
    }
    let elapsed = start.elapsed();
    let errors: Vec<String> = jobs.iter().filter_map(|j| j.result.clone().err()).collect();
    let report = report(pipeline, &mut jobs, elapsed);
    drop(jobs);
    if !errors.is_empty() {
        return Err(DpdkError::Run(errors.join("; ")));
    }
    Ok(report)
}

/// The counters of all workers as one [`RunReport`] (as `Engine::report`).
fn report(p: &Pipeline, jobs: &mut [Box<Job<'_>>], elapsed: Duration) -> RunReport {
    let mut total = IoStats::default();
    for j in jobs.iter() {
        total.merge(j.work.stats());
    }
    let stats = [total];
    let mut ports = Vec::new();
    for n in 0..PORT_COUNT as u16 {
        let io = stats[0].port(n);
        let pst = p.port_stats(n);
        let backend = jobs.first().and_then(|j| j.work.describe(n));
        if backend.is_none() && io == PortIo::default() && pst == PortStats::default() {
            continue;
        }
        ports.push(PortReport { port: n, backend, io, pipeline: pst, backend_stats: BackendStats::default() });
    }
    if let Some(j) = jobs.first_mut() {
        for pr in ports.iter_mut() {
            pr.backend_stats = j.work.backend_stats(pr.port);
        }
    }
    let req = p.counters(Counter::ClonesRequested);
    let emi = p.counters(Counter::ClonesEmitted);
    let nos = p.counters(Counter::CloneNoSession);
    let miss = p.counters(Counter::CloneRewriteMiss);
    let zero = CounterValue::default();
    let mut members = Vec::new();
    for m in 0..COUNTER_SIZE {
        let id = m as u16;
        let r = MemberReport {
            member: id,
            requested: req[m],
            emitted: emi[m],
            sent: stats.iter().map(|s| s.clones_sent(id)).sum(),
            alloc_failed: p.diag(Diag::AllocFailed, id),
            driver_failed: p.diag(Diag::DriverFailed, id),
            no_session: nos[m],
            rewrite_miss: miss[m],
        };
        if r.requested != zero
            || r.emitted != zero
            || r.sent != 0
            || r.alloc_failed != 0
            || r.driver_failed != 0
            || r.no_session != zero
            || r.rewrite_miss != zero
        {
            members.push(r);
        }
    }
    RunReport { ports, members, elapsed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_args_like_a_shell() {
        assert_eq!(
            split_args(r#" -l 0-1  --vdev 'net_pcap0,rx_pcap=a b.pcap' --vdev="net_null0" -d\ x "#).unwrap(),
            vec!["-l", "0-1", "--vdev", "net_pcap0,rx_pcap=a b.pcap", "--vdev=net_null0", "-d x"]
        );
        assert_eq!(split_args("").unwrap(), Vec::<String>::new());
        assert_eq!(split_args("''").unwrap(), vec![""]);
        assert!(split_args("'open").unwrap_err().contains("unterminated"));
        assert!(split_args("x\\").unwrap_err().contains("backslash"));
    }

    #[test]
    fn clone_modes_parse_and_print() {
        for (text, mode) in [
            ("copy", CloneCopy::Always),
            ("zero-copy", CloneCopy::Never),
            ("auto:512", CloneCopy::Auto { zero_copy_from: 512 }),
        ] {
            assert_eq!(text.parse::<CloneCopy>().unwrap(), mode);
            assert_eq!(mode.to_string(), text);
        }
        assert_eq!("auto".parse::<CloneCopy>().unwrap(), CloneCopy::Auto { zero_copy_from: ZERO_COPY_FROM });
        assert!("auto:x".parse::<CloneCopy>().unwrap_err().contains("not a clone mode"));
        assert!("chain".parse::<CloneCopy>().is_err());
    }

    #[test]
    fn input_kinds_from_driver_and_arguments() {
        let k = device_input_kind;
        assert_eq!(k("net_pcap", "rx_pcap=a.pcap,tx_pcap=b.pcap"), InputKind::Replay);
        assert_eq!(k("net_pcap", "rx_pcap=a.pcap,infinite_rx=1"), InputKind::Live);
        assert_eq!(k("net_pcap", "tx_pcap=b.pcap"), InputKind::None);
        assert_eq!(k("net_pcap", "iface=eth0"), InputKind::Live);
        assert_eq!(k("net_null", ""), InputKind::Live);
        assert_eq!(k("net_ring", "rx_pcap=a.pcap"), InputKind::Live);
    }

    #[test]
    fn pool_sizes_are_powers_of_two_minus_one() {
        assert_eq!(round_pool(1), 63);
        assert_eq!(round_pool(3392), 4095);
        assert_eq!(round_pool(4095), 4095);
        assert_eq!(round_pool(4096), 8191);
    }

    #[test]
    fn without_eal_everything_says_so() {
        if Eal::is_up() {
            return;
        }
        let e = DpdkPort::open("0").unwrap_err().to_string();
        assert!(e.contains("not initialised"), "{e}");
    }
}
