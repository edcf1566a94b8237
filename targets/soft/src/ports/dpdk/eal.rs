//! The EAL, once per process ([`Eal`]), and the process-wide state of the
//! backend: the configured devices ([`configure`], [`Eal::close_ports`]) and the
//! default options.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::{Arc, Mutex, MutexGuard};

use p4clone_dpdk_sys as sys;

use super::device::{
    dev_args, device_info, device_input_kind, port_by_name, resolve, Device, DeviceInfo, DpdkPortStats, Pool,
};
use super::error::{last_error, ret_error, DpdkError, Result};
use super::options::DpdkOptions;
use crate::ports::port::InputKind;

/// Where Debian/Ubuntu's DPDK 22.11 packages put the PMD plugins (`-d` argument).
pub const DEBIAN_PMD_DIR: &str = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0";

/// The DPDK version of the library in use (`rte_version()`).
pub fn version() -> String {
    // SAFETY: rte_version returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::p4c_version()).to_string_lossy().into_owned() }
}

#[derive(Debug)]
enum Phase {
    Uninit,
    Up { args: Vec<String> },
    Failed(String),
    Down,
}

pub(crate) struct Global {
    phase: Phase,
    devices: BTreeMap<u16, Arc<Device>>,
    /// Pools whose device was closed while some of their mbufs were still out
    /// (e.g. in another device's TX ring); freed at shutdown.
    deferred: Vec<Pool>,
    seq: u32,
    pub(super) defaults: DpdkOptions,
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    phase: Phase::Uninit,
    devices: BTreeMap::new(),
    deferred: Vec::new(),
    seq: 0,
    defaults: DpdkOptions::DEFAULT,
});

pub(crate) fn global() -> MutexGuard<'static, Global> {
    GLOBAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn require_up(g: &Global) -> Result<()> {
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

    /// Sets the options used by ports opened through a spec ([`DpdkPort::open`](super::DpdkPort::open)).
    pub fn set_default_options(&self, opts: DpdkOptions) {
        global().defaults = opts;
    }

    /// Stops and closes devices `ports` and frees their pools (a pool with mbufs
    /// still out is kept until [`Eal::shutdown`]). Devices created by
    /// [`Eal::probe`] are removed. Fails if a [`DpdkPort`](super::DpdkPort) handle is still open.
    pub fn close_ports(&self, ports: &[u16]) -> Result<()> {
        let mut g = global();
        require_up(&g)?;
        close_devices(&mut g, ports)
    }

    /// Stops and closes every device, frees every pool and cleans the EAL up
    /// (`rte_eal_cleanup`). DPDK cannot be initialised again in this process.
    /// Every [`DpdkPort`](super::DpdkPort) handle must be dropped before.
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

/// The input kind of device `id` (a port id or device name) without configuring
/// it: how [`run`](crate::engine::dpdk::run) will treat it (a replay ends the run once read; see
/// [`InputKind`]).
pub fn input_kind(id: &str) -> Result<InputKind> {
    require_up(&global())?;
    let port = resolve(id)?;
    let driver = device_info(port).map(|d| d.driver).unwrap_or_default();
    Ok(device_input_kind(&driver, &dev_args(port)))
}

/// The device `port`, configured and started with up to `want_queues` queue pairs
/// for `workers` packet loops if it is not yet (see [`Device::configure`]).
pub(crate) fn configure(
    g: &mut Global,
    port: u16,
    want_queues: u16,
    o: &DpdkOptions,
    workers: u32,
) -> Result<Arc<Device>> {
    if let Some(d) = g.devices.get(&port) {
        return Ok(d.clone());
    }
    let dev = Arc::new(Device::configure(port, want_queues, o, workers, &mut g.seq)?);
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
}
