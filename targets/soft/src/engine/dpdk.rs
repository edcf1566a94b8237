//! The DPDK packet loop ([`run`], cargo feature `dpdk`): one loop per worker
//! lcore, each with its own queue on every device, until a stop flag
//! ([`stop_on_signals`]) or the end of the inputs.
//!
//! A worker runs the fast path of `ports::dpdk::lane` over its queues (burst RX →
//! [`Pipeline::process_burst`] → burst TX, straight from the mbufs). Several file
//! inputs (`net_pcap` replays) are merged by timestamp on one worker by the
//! generic engine's replay loop and [`Worker`](super::Worker) step, so the
//! outputs are those of the pcap backend. The counters of all workers are summed
//! into one [`RunReport`]. See [`crate::ports::dpdk`] for the EAL, devices and
//! mbufs.

use std::collections::BTreeMap;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p4clone_dpdk_sys as sys;
use p4clone_pipeline::Pipeline;

use super::generic::Engine;
use super::report::RunReport;
use super::stats::IoStats;
use super::table::PortTable;
use crate::ports::dpdk::device::{port_name, resolve, Device};
use crate::ports::dpdk::eal::{configure, global, Eal};
use crate::ports::dpdk::error::{ret_error, DpdkError, Result};
use crate::ports::dpdk::lane::Lane;
use crate::ports::dpdk::options::{DpdkOptions, MAX_RX_BURST};
use crate::ports::dpdk::port::DpdkPort;
use crate::ports::error::Result as PortResult;
use crate::ports::port::{BackendStats, Port, MAX_PORT};

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
    /// The fast path over its queues ([`Lane`]).
    Lane(Lane<'a>),
    /// The inputs of several replay devices merged by timestamp
    /// ([`PcapReplay`](crate::ports::PcapReplay)), through the generic engine's
    /// replay loop and burst step, on one worker.
    Merge(Engine),
}

impl Work<'_> {
    fn poll(&mut self, stop: &AtomicBool, abort: &AtomicBool) -> PortResult<()> {
        match self {
            Work::Lane(l) => l.poll(stop, abort),
            Work::Merge(e) => {
                e.replay_loop(|| stop.load(Ordering::Relaxed) || abort.load(Ordering::Relaxed))?;
                e.flush()
            }
        }
    }

    fn stats(&self) -> &IoStats {
        match self {
            Work::Lane(l) => l.stats(),
            Work::Merge(e) => e.stats(),
        }
    }

    /// Port `n`'s backend description and counters, if this worker has one.
    fn backend(&mut self, n: u16) -> Option<(String, BackendStats)> {
        match self {
            Work::Lane(l) => l.backend(n),
            Work::Merge(e) => e.backend(n),
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
        let r = catch_unwind(AssertUnwindSafe(|| self.work.poll(self.stop, self.abort)));
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
    if let Some(&n) = ports.keys().find(|&&n| n > MAX_PORT) {
        return Err(DpdkError::Run(format!("port {n} is out of range 0..={}", MAX_PORT)));
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
            Work::Merge(Engine::with_table(pipeline.clone(), PortTable::new(table), burst))
        } else {
            Work::Lane(Lane::new(pipeline, handles, burst))
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

/// The counters of all workers as one [`RunReport`]; the backends are those of
/// the first worker (every worker has a handle on every device).
fn report(p: &Pipeline, jobs: &mut [Box<Job<'_>>], elapsed: Duration) -> RunReport {
    let mut total = IoStats::default();
    for j in jobs.iter() {
        total.merge(j.work.stats());
    }
    let mut first = jobs.first_mut();
    RunReport::collect(p, &total, elapsed, |n| first.as_mut().and_then(|j| j.work.backend(n)))
}
