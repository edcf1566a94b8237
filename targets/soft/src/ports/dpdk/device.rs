//! The ethdevs: looking them up ([`DeviceInfo`], [`resolve`]), configuring and
//! starting one with its two mempools ([`Device::configure`]), and its counters
//! ([`DpdkPortStats`]). The process-wide table of configured devices is in
//! [`eal`](super::eal).

use std::ffi::{c_char, c_int, CStr, CString};
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use p4clone_dpdk_sys as sys;

use super::error::{last_error, ret_error, DpdkError, Result};
use super::options::{DpdkOptions, MAX_RX_BURST};
use crate::ports::port::InputKind;

/// What the EAL knows of one ethdev ([`Eal::ports`](super::Eal::ports)).
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

pub(super) fn port_by_name(name: &str) -> Option<u16> {
    let c = CString::new(name).ok()?;
    let mut id: u16 = 0;
    // SAFETY: c is NUL-terminated; id is a valid out pointer.
    let ret = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
    (ret == 0).then_some(id)
}

pub(crate) fn port_name(id: u16) -> String {
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

pub(super) fn device_info(id: u16) -> Option<DeviceInfo> {
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
pub(super) fn dev_args(port: u16) -> String {
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
pub(super) fn device_input_kind(driver: &str, args: &str) -> InputKind {
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

/// Resolves `N=dpdk:ID`: a decimal port id or a device name.
pub(crate) fn resolve(id: &str) -> Result<u16> {
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
pub(super) struct Pool {
    ptr: NonNull<sys::rte_mempool>,
    pub(super) size: u32,
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

    pub(super) fn avail(&self) -> u32 {
        // SAFETY: valid pool (see the type's invariant).
        unsafe { sys::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    pub(super) fn in_use(&self) -> u32 {
        // SAFETY: valid pool.
        unsafe { sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    pub(super) fn raw(&self) -> *mut sys::rte_mempool {
        self.ptr.as_ptr()
    }

    pub(super) fn free(self) {
        // SAFETY: called once per pool, after everything using it was closed.
        unsafe { sys::rte_mempool_free(self.ptr.as_ptr()) }
    }
}

// ------------------------------------------------------------------------- devices

/// A configured and started ethdev with its pools.
pub(crate) struct Device {
    pub(crate) port: u16,
    pub(crate) name: String,
    pub(super) driver: String,
    pub(crate) queues: u16,
    pub(super) rss: bool,
    pub(super) multi_seg: bool,
    /// A finite file input (`net_pcap` with `rx_pcap=`, not `infinite_rx`).
    pub(crate) replay: bool,
    /// The RX timestamp dynamic field (offset, flag), when the device fills it.
    pub(super) ts_field: Option<(c_int, u64)>,
    pub(super) rx_pool: Pool,
    pub(super) tx_pool: Pool,
    pub(crate) rx_taken: Vec<AtomicBool>,
    pub(super) tx_locks: Vec<Mutex<()>>,
    pub(super) counters: Counters,
}

/// [`DpdkPortStats`] of all handles of a device, added once per burst.
#[derive(Default)]
pub(super) struct Counters([AtomicU64; 7]);

impl Counters {
    pub(super) fn add(&self, d: &DpdkPortStats) {
        let v =
            [d.rx, d.rx_linearized, d.tx_originals, d.tx_zero_copy, d.tx_copied, d.tx_alloc_failed, d.tx_driver_failed];
        for (c, x) in self.0.iter().zip(v) {
            if x != 0 {
                c.fetch_add(x, Ordering::Relaxed);
            }
        }
    }

    pub(super) fn get(&self) -> DpdkPortStats {
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

impl Device {
    /// Configures and starts device `port` with up to `want_queues` queue pairs, for
    /// `workers` packet loops; `seq` numbers the pools (unique names).
    pub(super) fn configure(
        port: u16,
        want_queues: u16,
        o: &DpdkOptions,
        workers: u32,
        seq: &mut u32,
    ) -> Result<Device> {
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
        let rx_n = o.rx_pool.unwrap_or_else(|| {
            round_pool(q * (u32::from(nrx) + u32::from(ntx)) + workers * (cache + 2 * burst) + 1024)
        });
        let tx_n =
            o.tx_pool.unwrap_or_else(|| round_pool(q * 2 * u32::from(ntx) + workers * (cache + 4 * burst) + 1024));
        *seq += 1;
        // SAFETY: plain getter.
        let buf = unsafe { sys::p4c_mbuf_default_buf_size() };
        let rx_pool = Pool::create(&format!("p4c_rx{port}_{}", *seq), rx_n, cache, buf, socket)?;
        let tx_pool = match Pool::create(&format!("p4c_tx{port}_{}", *seq), tx_n, cache, buf, socket) {
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
                let ret = unsafe {
                    sys::rte_eth_rx_queue_setup(port, qi, nrx, socket as u32, std::ptr::null(), rx_pool.raw())
                };
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
        Ok(Device {
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
        })
    }
}

/// Counters of the DPDK backend for one device ([`Eal::port_counters`](super::Eal::port_counters)).
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
