//! [`Engine`]: the generic packet loop over [`Port`] backends (see the [engine
//! docs](super)).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p4clone_pipeline::{Pipeline, BURST};

use super::report::RunReport;
#[cfg(feature = "dpdk")]
use super::stats::IoStats;
use super::table::PortTable;
use super::worker::Worker;
use crate::ports::batch::RxBatch;
use crate::ports::error::{PortError, Result};
use crate::ports::pcap::{output_path, PcapPort};
#[cfg(feature = "dpdk")]
use crate::ports::port::BackendStats;
use crate::ports::port::{InputKind, Port, MAX_PORT};
use crate::ports::replay::PcapReplay;

/// The software data plane's packet loop: a pipeline and its ports.
pub struct Engine {
    pipeline: Arc<Pipeline>,
    table: PortTable,
    worker: Worker,
    rx: RxBatch,
    burst: usize,
    elapsed: Duration,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").field("ports", &self.table).field("burst", &self.burst).finish()
    }
}

const _: fn() = || {
    fn send<T: Send>() {}
    send::<Engine>();
};

impl Engine {
    /// An engine running `pipeline` over `ports` (port number -> backend, 0..=510),
    /// with bursts of [`BURST`] frames.
    pub fn new(pipeline: Arc<Pipeline>, ports: BTreeMap<u16, Box<dyn Port>>) -> Self {
        Engine {
            pipeline,
            table: PortTable::new(ports),
            worker: Worker::new(BURST),
            rx: RxBatch::new(BURST),
            burst: BURST,
            elapsed: Duration::ZERO,
        }
    }

    /// An engine over a ready port table with bursts of `burst` frames (1..=1024):
    /// the replay merge of the DPDK lcore loop ([`super::dpdk`]).
    #[cfg(feature = "dpdk")]
    pub(crate) fn with_table(pipeline: Arc<Pipeline>, table: PortTable, burst: usize) -> Self {
        let burst = burst.clamp(1, 1024);
        Engine { pipeline, table, worker: Worker::new(burst), rx: RxBatch::new(burst), burst, elapsed: Duration::ZERO }
    }

    /// Frames to ports without a backend go to `dir/port-<N>.pcap`, created on
    /// first use (see the [engine docs](super)).
    pub fn with_output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.table.set_output_dir(Some(dir.into()));
        self
    }

    /// Makes the outputs of `ports` exist now, even if they never send a frame: calls
    /// [`Port::open_output`] on existing backends, and creates pcap outputs in the
    /// output directory for the others (an error without one).
    pub fn open_outputs(&mut self, ports: impl IntoIterator<Item = u16>) -> Result<()> {
        for n in ports {
            match self.table.get_or_create(n) {
                Some(p) => p.open_output()?,
                None => {
                    return Err(PortError::Other(format!("port {n} has no backend and no output directory is set")))
                }
            }
        }
        Ok(())
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }

    /// The ports.
    pub fn ports(&self) -> &BTreeMap<u16, Box<dyn Port>> {
        self.table.ports()
    }

    /// The engine's I/O counters.
    #[cfg(feature = "dpdk")]
    pub(crate) fn stats(&self) -> &IoStats {
        self.worker.stats()
    }

    /// Port `n`'s backend description and counters, if it has one.
    #[cfg(feature = "dpdk")]
    pub(crate) fn backend(&mut self, n: u16) -> Option<(String, BackendStats)> {
        self.table.backend(n)
    }

    fn check_ports(&self) -> Result<()> {
        match self.table.ports().keys().find(|&&n| n > MAX_PORT) {
            Some(n) => Err(PortError::Other(format!("port {n} is out of range 0..={MAX_PORT}"))),
            None => Ok(()),
        }
    }

    /// Replays every pcap input, merged in timestamp order (ties to the lower port),
    /// until all are exhausted, then flushes every port. Refuses live ports.
    pub fn run_until_drained(&mut self) -> Result<RunReport> {
        self.check_ports()?;
        if let Some((n, p)) = self.table.ports().iter().find(|(_, p)| p.input_kind() == InputKind::Live) {
            return Err(PortError::Other(format!(
                "port {n} ({}) is live: run_until_drained replays pcap inputs only; use run()",
                p.describe()
            )));
        }
        let start = Instant::now();
        let res = self.replay_loop(|| false);
        let flushed = self.table.flush_all();
        self.elapsed += start.elapsed();
        res?;
        flushed?;
        Ok(self.report())
    }

    /// Replays every pcap input, merged in timestamp order, until all are exhausted
    /// or `stop()` says so. No flush.
    pub(crate) fn replay_loop(&mut self, stop: impl Fn() -> bool) -> Result<()> {
        let mut replay = PcapReplay::new(self.table.ports(), self.burst);
        while !stop() {
            self.rx.clear();
            let n = replay.fill(self.table.ports_mut(), &mut self.rx, self.burst)?;
            if n == 0 {
                break;
            }
            self.worker.run_burst(&self.pipeline, &self.rx, &mut self.table)?;
        }
        self.rx.clear();
        Ok(())
    }

    /// Serves the ports until `stop` is set (or until no live port is left and every
    /// replay input is exhausted), then flushes every port.
    pub fn run(&mut self, stop: Arc<AtomicBool>) -> Result<RunReport> {
        self.check_ports()?;
        let start = Instant::now();
        let res = self.live_loop(&stop);
        let flushed = self.table.flush_all();
        self.elapsed += start.elapsed();
        res?;
        flushed?;
        Ok(self.report())
    }

    fn live_loop(&mut self, stop: &AtomicBool) -> Result<()> {
        let inputs: Vec<u16> =
            self.table.ports().iter().filter(|(_, p)| p.input_kind() != InputKind::None).map(|(&n, _)| n).collect();
        let has_live = self.table.ports().values().any(|p| p.input_kind() == InputKind::Live);
        let mut idle: u32 = 0;
        let mut last_flush = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let mut got = 0;
            let mut pending_replay = false;
            for &n in &inputs {
                let Some(port) = self.table.ports_mut().get_mut(&n) else {
                    continue;
                };
                let replay = port.input_kind() == InputKind::Replay;
                if replay && port.is_exhausted() {
                    continue;
                }
                self.rx.clear();
                let k = port.recv_burst(&mut self.rx)?;
                if replay && !port.is_exhausted() {
                    pending_replay = true;
                }
                if k == 0 {
                    continue;
                }
                got += k;
                self.rx.stamp_port(0, n);
                let r = self.worker.run_burst(&self.pipeline, &self.rx, &mut self.table);
                if let Some(port) = self.table.ports_mut().get_mut(&n) {
                    port.release_rx(&self.rx);
                }
                self.rx.clear();
                r?;
            }
            if got > 0 {
                idle = 0;
                continue;
            }
            if !has_live && !pending_replay {
                return Ok(());
            }
            idle = idle.saturating_add(1);
            if idle < 64 {
                std::hint::spin_loop();
                std::thread::yield_now();
            } else {
                let shift = (idle - 64).min(5);
                std::thread::sleep(Duration::from_micros((50u64 << shift).min(1_000)));
                if last_flush.elapsed() >= Duration::from_secs(1) {
                    self.table.flush_all()?;
                    last_flush = Instant::now();
                }
            }
        }
        Ok(())
    }

    /// Flushes every port.
    pub fn flush(&mut self) -> Result<()> {
        self.table.flush_all()
    }

    /// Closes every port (flushing outputs); returns the first error.
    pub fn close(&mut self) -> Result<()> {
        self.table.close_all()
    }

    /// Counters so far: every port with a backend or any traffic, every member with
    /// a non-zero counter.
    pub fn report(&mut self) -> RunReport {
        let Engine { pipeline, table, worker, elapsed, .. } = self;
        RunReport::collect(pipeline, worker.stats(), *elapsed, |n| table.backend(n))
    }
}

/// Opens pcap ports for `inputs` (port -> input file) writing to
/// `out_dir/port-<N>.pcap`, ready for [`Engine::new`].
pub fn pcap_ports(inputs: &BTreeMap<u16, PathBuf>, out_dir: &Path) -> Result<BTreeMap<u16, Box<dyn Port>>> {
    let mut ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
    for (&n, path) in inputs {
        let p = PcapPort::new(Some(path), Some(output_path(out_dir, n)))?;
        ports.insert(n, Box::new(p));
    }
    Ok(ports)
}
