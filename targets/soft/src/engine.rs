//! The packet loop: receive bursts from the ports, run them through the pipeline,
//! hand each egress port its frames.
//!
//! Two loops share one burst step ([`Worker::run_burst`]), which a DPDK lcore loop
//! can reuse as is:
//! - [`Engine::run_until_drained`] replays pcap inputs. All inputs are merged into
//!   **one global order** ([`PcapReplay`]: timestamp, ties to the lower port), as
//!   BMv2's `--use-files` does, and processed in bursts of that order until every
//!   input is exhausted. Then every port is flushed. Frames go as fast as the loop
//!   runs: timestamps order the merge and are copied to the outputs, but nothing
//!   waits for them.
//! - [`Engine::run`] serves live ports until a stop flag is raised. It polls the
//!   ports round-robin, one burst (default [`BURST`] = 32) per port per pass. When
//!   a whole pass finds nothing it spins briefly, then sleeps from 50 µs up to 1 ms
//!   and flushes outputs about once a second. Replay ports in this loop are read
//!   like live ones, without the global merge. The loop also returns when no live
//!   port is left and every replay input is exhausted.
//!
//! Per burst, [`Worker::run_burst`]:
//! 1. counts each received frame (`rx`; zero-length ones also in `rx_zero_length`).
//!    A zero-length frame goes through the pipeline like any other: it cannot be
//!    parsed, so it is forwarded to the wire peer as a zero-length frame, never
//!    cloned, as BMv2 does (see `tests/vectors/zero-length`). Only pcap inputs can
//!    hold such a record: AF_PACKET and DPDK never deliver an empty frame;
//! 2. runs [`Pipeline::process_burst`];
//! 3. groups the emitted frames by egress port, keeping emission order, and calls
//!    each port's [`Port::send_burst`] once. Frames of one port therefore leave in
//!    emission order (for one input frame its clones first, then the original; input
//!    order across frames);
//! 4. accounts each frame as sent, alloc-failed or driver-failed (see
//!    [`crate::ports`]). A failed clone adds to the pipeline's per-member
//!    `Diag::AllocFailed` / `Diag::DriverFailed`; a failed original only to the
//!    port's counters.
//!
//! **Frames emitted to a port that has no backend.** With an output directory
//! ([`Engine::with_output_dir`]) the engine opens `DIR/port-<N>.pcap` for that port
//! on first use, so every port that sends frames gets a file. Without one the frames
//! are dropped and counted in the port's `tx_no_port`. Such a clone also counts as
//! `driver_failed` for its member, so `num_succeeded` only counts frames that
//! really left.
//!
//! Nothing is allocated per packet: the receive batch, the pipeline's emit batch,
//! the frame list and the per-port buckets are reused across bursts.
//!
//! Errors: a backend error (`Err` from `recv_burst`/`send_burst`, e.g. a pcap write
//! failing) stops the loop. Ports are flushed (best effort) and the error is
//! returned. Counters keep what happened up to that point.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p4clone_pipeline::table::PORT_COUNT;
use p4clone_pipeline::{
    Counter, CounterValue, Diag, EmitBatch, EmitKind, Pipeline, PortStats, RxFrame, WorkerState, BURST, COUNTER_SIZE,
};

use crate::ports::pcap::{output_path, PcapPort};
use crate::ports::{
    BackendStats, InputKind, PcapReplay, Port, PortError, Result, RxBatch, TxBurst, TxFailure, MAX_PORT,
};

/// The engine's I/O counters of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PortIo {
    /// Frames received from the backend (including zero-length ones).
    pub rx_frames: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Zero-length frames (forwarded to the wire peer, never cloned).
    pub rx_zero_length: u64,
    /// Frames the backend sent (originals and clones).
    pub tx_frames: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Clones among `tx_frames`.
    pub tx_clones: u64,
    /// Frames the driver did not take (`TxFailure::Driver`, or beyond what it took).
    pub tx_failed: u64,
    /// Frames the backend had no buffer for (`TxFailure::Alloc`).
    pub tx_alloc_failed: u64,
    /// Frames emitted to this port while it had no backend (dropped).
    pub tx_no_port: u64,
}

/// The engine's I/O counters: per port, plus clones actually sent per member.
#[derive(Clone, PartialEq, Eq)]
pub struct IoStats {
    ports: Box<[PortIo]>,
    member_sent: Box<[u64]>,
    /// Bursts processed.
    pub bursts: u64,
}

impl fmt::Debug for IoStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ports: BTreeMap<usize, &PortIo> =
            self.ports.iter().enumerate().filter(|(_, p)| **p != PortIo::default()).collect();
        f.debug_struct("IoStats").field("ports", &ports).field("bursts", &self.bursts).finish()
    }
}

impl Default for IoStats {
    fn default() -> Self {
        IoStats {
            ports: vec![PortIo::default(); PORT_COUNT].into_boxed_slice(),
            member_sent: vec![0; COUNTER_SIZE].into_boxed_slice(),
            bursts: 0,
        }
    }
}

impl IoStats {
    /// Counters of `port` (zero beyond 511).
    pub fn port(&self, port: u16) -> PortIo {
        self.ports.get(usize::from(port)).copied().unwrap_or_default()
    }

    /// Clones of `member` that a backend actually sent.
    pub fn clones_sent(&self, member: u16) -> u64 {
        self.member_sent.get(usize::from(member)).copied().unwrap_or(0)
    }

    /// The counters of `port`, mutably (`None` beyond 511).
    pub(crate) fn port_mut(&mut self, port: u16) -> Option<&mut PortIo> {
        self.ports.get_mut(usize::from(port))
    }

    /// Counts `n` clones of `member` a backend actually sent.
    pub fn add_clones_sent(&mut self, member: u16, n: u64) {
        if let Some(m) = self.member_sent.get_mut(usize::from(member)) {
            *m += n;
        }
    }

    /// Adds `other` to these counters (workers' counters summed into one report).
    pub fn merge(&mut self, other: &IoStats) {
        for (a, b) in self.ports.iter_mut().zip(other.ports.iter()) {
            a.add(b);
        }
        for (a, b) in self.member_sent.iter_mut().zip(other.member_sent.iter()) {
            *a += b;
        }
        self.bursts += other.bursts;
    }
}

impl PortIo {
    /// Adds `b` field by field.
    pub fn add(&mut self, b: &PortIo) {
        self.rx_frames += b.rx_frames;
        self.rx_bytes += b.rx_bytes;
        self.rx_zero_length += b.rx_zero_length;
        self.tx_frames += b.tx_frames;
        self.tx_bytes += b.tx_bytes;
        self.tx_clones += b.tx_clones;
        self.tx_failed += b.tx_failed;
        self.tx_alloc_failed += b.tx_alloc_failed;
        self.tx_no_port += b.tx_no_port;
    }
}

/// The port backends by port number, plus the output directory for ports that
/// have none.
pub struct PortTable {
    ports: BTreeMap<u16, Box<dyn Port>>,
    out_dir: Option<PathBuf>,
}

impl fmt::Debug for PortTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m: BTreeMap<u16, String> = self.ports.iter().map(|(k, p)| (*k, p.describe())).collect();
        f.debug_struct("PortTable").field("ports", &m).field("out_dir", &self.out_dir).finish()
    }
}

impl PortTable {
    /// A table of `ports`; frames to other ports are dropped unless an output
    /// directory is set.
    pub fn new(ports: BTreeMap<u16, Box<dyn Port>>) -> Self {
        PortTable { ports, out_dir: None }
    }

    /// Frames to a port without a backend go to `dir/port-<N>.pcap`.
    pub fn set_output_dir(&mut self, dir: Option<PathBuf>) {
        self.out_dir = dir;
    }

    /// The backends.
    pub fn ports(&self) -> &BTreeMap<u16, Box<dyn Port>> {
        &self.ports
    }

    /// The backends, mutably.
    pub fn ports_mut(&mut self) -> &mut BTreeMap<u16, Box<dyn Port>> {
        &mut self.ports
    }

    /// The backend of `port`, creating a pcap output for it if an output directory
    /// is set. `None`: no backend (frames are dropped).
    pub fn get_or_create(&mut self, port: u16) -> Option<&mut Box<dyn Port>> {
        if !self.ports.contains_key(&port) {
            let dir = self.out_dir.as_ref()?;
            self.ports.insert(port, Box::new(PcapPort::output_only(output_path(dir, port))));
        }
        self.ports.get_mut(&port)
    }

    /// Flushes every port; returns the first error.
    pub fn flush_all(&mut self) -> Result<()> {
        let mut first = Ok(());
        for p in self.ports.values_mut() {
            let r = p.flush();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Closes every port; returns the first error.
    pub fn close_all(&mut self) -> Result<()> {
        let mut first = Ok(());
        for p in self.ports.values_mut() {
            let r = p.close();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// Reuses a frame list's allocation with another lifetime (in-place collect of an
/// empty vector keeps its buffer).
pub(crate) fn recycle<'b>(mut v: Vec<RxFrame<'_>>) -> Vec<RxFrame<'b>> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

/// One worker's reusable state for the burst step: pipeline output, frame list,
/// per-port buckets, counters.
pub struct Worker {
    state: WorkerState,
    out: EmitBatch,
    frames: Vec<RxFrame<'static>>,
    map: Vec<u32>,
    buckets: Vec<Vec<u32>>,
    touched: Vec<u16>,
    failed: Vec<(u32, TxFailure)>,
    stats: IoStats,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker").field("stats", &self.stats).finish()
    }
}

impl Worker {
    /// A worker sized for bursts of `burst` frames.
    pub fn new(burst: usize) -> Self {
        Worker {
            state: WorkerState::new(),
            out: EmitBatch::with_capacity(burst),
            frames: Vec::with_capacity(burst),
            map: Vec::with_capacity(burst),
            buckets: (0..PORT_COUNT).map(|_| Vec::new()).collect(),
            touched: Vec::with_capacity(16),
            failed: Vec::with_capacity(burst),
            stats: IoStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &IoStats {
        &self.stats
    }

    /// Processes the frames of `rx` (port numbers stamped) through `pipeline` and
    /// transmits the result through `ports`. See the [module docs](self).
    pub fn run_burst(&mut self, pipeline: &Pipeline, rx: &RxBatch, ports: &mut PortTable) -> Result<()> {
        let Worker { state, out, frames: frames_store, map, buckets, touched, failed, stats } = self;
        let mut frames: Vec<RxFrame<'_>> = recycle(std::mem::take(frames_store));
        map.clear();
        for i in 0..rx.len() {
            let port = rx.port(i);
            let data = rx.frame(i);
            if let Some(st) = stats.port_mut(port) {
                st.rx_frames += 1;
                st.rx_bytes += data.len() as u64;
                st.rx_zero_length += u64::from(data.is_empty());
            }
            frames.push(RxFrame { port, data });
            map.push(i as u32);
        }
        stats.bursts += 1;
        pipeline.process_burst(&frames, state, out);

        for (k, e) in out.emits().iter().enumerate() {
            if let Some(b) = buckets.get_mut(usize::from(e.port)) {
                if b.is_empty() {
                    touched.push(e.port);
                }
                b.push(k as u32);
            }
        }
        let mut result = Ok(());
        for &p in touched.iter() {
            let sel = &buckets[usize::from(p)];
            failed.clear();
            let sent = match ports.get_or_create(p) {
                None => {
                    if let Some(st) = stats.port_mut(p) {
                        st.tx_no_port += sel.len() as u64;
                    }
                    for &ei in sel {
                        if let EmitKind::Clone(c) = out.emits()[ei as usize].kind {
                            pipeline.add_diag(Diag::DriverFailed, c.member, 1);
                        }
                    }
                    continue;
                }
                Some(port) => {
                    let mut burst = TxBurst::new(out, &frames, rx, map, sel, failed);
                    port.send_burst(&mut burst)
                }
            };
            let r = account(pipeline, stats, out, &frames, p, sel, failed, sent);
            if result.is_ok() {
                result = r;
            }
        }
        for &p in touched.iter() {
            buckets[usize::from(p)].clear();
        }
        touched.clear();
        *frames_store = recycle(frames);
        result
    }
}

/// Counts each frame of one port's burst as sent, alloc-failed or driver-failed.
#[allow(clippy::too_many_arguments)]
fn account(
    pipeline: &Pipeline,
    stats: &mut IoStats,
    out: &EmitBatch,
    frames: &[RxFrame<'_>],
    port: u16,
    sel: &[u32],
    failed: &mut [(u32, TxFailure)],
    sent: Result<usize>,
) -> Result<()> {
    let (n, err) = match sent {
        Ok(n) => (n.min(sel.len()), None),
        Err(e) => (0, Some(e)),
    };
    failed.sort_unstable_by_key(|f| f.0);
    let mut fi = 0;
    for (i, &ei) in sel.iter().enumerate() {
        let e = &out.emits()[ei as usize];
        let mut mark = None;
        while fi < failed.len() && (failed[fi].0 as usize) <= i {
            if failed[fi].0 as usize == i && mark.is_none() {
                mark = Some(failed[fi].1);
            }
            fi += 1;
        }
        if mark.is_none() && i >= n {
            mark = Some(TxFailure::Driver);
        }
        let member = match e.kind {
            EmitKind::Clone(c) => Some(c.member),
            EmitKind::Original => None,
        };
        match mark {
            None => {
                if let Some(st) = stats.port_mut(port) {
                    st.tx_frames += 1;
                    st.tx_bytes += e.len(frames) as u64;
                    if member.is_some() {
                        st.tx_clones += 1;
                    }
                }
                if let Some(m) = member.and_then(|m| stats.member_sent.get_mut(usize::from(m))) {
                    *m += 1;
                }
            }
            Some(why) => {
                if let Some(st) = stats.port_mut(port) {
                    match why {
                        TxFailure::Alloc => st.tx_alloc_failed += 1,
                        TxFailure::Driver => st.tx_failed += 1,
                    }
                }
                if let Some(m) = member {
                    let d = match why {
                        TxFailure::Alloc => Diag::AllocFailed,
                        TxFailure::Driver => Diag::DriverFailed,
                    };
                    pipeline.add_diag(d, m, 1);
                }
            }
        }
    }
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Per-port line of a [`RunReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortReport {
    /// Port number.
    pub port: u16,
    /// The backend ([`Port::describe`]), if the port has one.
    pub backend: Option<String>,
    /// The engine's I/O counters.
    pub io: PortIo,
    /// The pipeline's counters (rx, tx as emitted, drop = wire miss / drop).
    pub pipeline: PortStats,
    /// The backend's own counters.
    pub backend_stats: BackendStats,
}

/// Per-member line of a [`RunReport`] (members with any non-zero counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberReport {
    /// Member id (clone session / `egress_rid`).
    pub member: u16,
    /// `clones_requested` (ingress).
    pub requested: CounterValue,
    /// `clones_emitted` (egress, `clone_rewrite` hit).
    pub emitted: CounterValue,
    /// Clones a backend actually sent (engine count).
    pub sent: u64,
    /// `alloc_failed` diagnostic.
    pub alloc_failed: u64,
    /// `driver_failed` diagnostic.
    pub driver_failed: u64,
    /// `clone_no_session` diagnostic (classify hit, no clone session).
    pub no_session: CounterValue,
    /// `clone_rewrite_miss` diagnostic (clone dropped by the rewrite default).
    pub rewrite_miss: CounterValue,
}

/// What a run did: per-port and per-member counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Every port with a backend or any traffic, ascending.
    pub ports: Vec<PortReport>,
    /// Every member with a non-zero counter, ascending.
    pub members: Vec<MemberReport>,
    /// Time spent in the loop.
    pub elapsed: Duration,
}

impl RunReport {
    /// Frames received on all ports.
    pub fn frames_in(&self) -> u64 {
        self.ports.iter().map(|p| p.io.rx_frames).sum()
    }

    /// Frames sent on all ports.
    pub fn frames_out(&self) -> u64 {
        self.ports.iter().map(|p| p.io.tx_frames).sum()
    }

    /// The line of `port`, if listed.
    pub fn port(&self, port: u16) -> Option<&PortReport> {
        self.ports.iter().find(|p| p.port == port)
    }

    /// The line of `member`, if listed.
    pub fn member(&self, member: u16) -> Option<&MemberReport> {
        self.members.iter().find(|m| m.member == member)
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>4}  {:>10}  {:>10}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>9}  backend",
            "port", "rx", "tx", "tx_clones", "wire_drop", "tx_failed", "no_buffer", "no_port", "zero_len"
        )?;
        for p in &self.ports {
            writeln!(
                f,
                "{:>4}  {:>10}  {:>10}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>9}  {}",
                p.port,
                p.io.rx_frames,
                p.io.tx_frames,
                p.io.tx_clones,
                p.pipeline.drop.packets,
                p.io.tx_failed,
                p.io.tx_alloc_failed,
                p.io.tx_no_port,
                p.io.rx_zero_length,
                p.backend.as_deref().unwrap_or("(none)")
            )?;
        }
        if !self.members.is_empty() {
            writeln!(
                f,
                "{:>6}  {:>10}  {:>10}  {:>10}  {:>12}  {:>13}  {:>10}  {:>12}",
                "member", "requested", "emitted", "sent", "alloc_failed", "driver_failed", "no_session", "rewrite_miss"
            )?;
            for m in &self.members {
                writeln!(
                    f,
                    "{:>6}  {:>10}  {:>10}  {:>10}  {:>12}  {:>13}  {:>10}  {:>12}",
                    m.member,
                    m.requested.packets,
                    m.emitted.packets,
                    m.sent,
                    m.alloc_failed,
                    m.driver_failed,
                    m.no_session.packets,
                    m.rewrite_miss.packets
                )?;
            }
        }
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { self.frames_in() as f64 / secs } else { 0.0 };
        write!(
            f,
            "{} frames in, {} out in {:.3} s ({:.0} frames/s in)",
            self.frames_in(),
            self.frames_out(),
            secs,
            rate
        )
    }
}

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

    /// Sets the burst size (1..=1024).
    pub fn with_burst(mut self, burst: usize) -> Self {
        let b = burst.clamp(1, 1024);
        self.burst = b;
        self.rx = RxBatch::new(b);
        self.worker = Worker::new(b);
        self
    }

    /// Frames to ports without a backend go to `dir/port-<N>.pcap`, created on
    /// first use (see the [module docs](self)).
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
    pub fn io_stats(&self) -> &IoStats {
        self.worker.stats()
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
        let mut replay = PcapReplay::new(self.table.ports(), self.burst);
        let res = self.replay_loop(&mut replay);
        let flushed = self.table.flush_all();
        self.elapsed += start.elapsed();
        res?;
        flushed?;
        Ok(self.report())
    }

    fn replay_loop(&mut self, replay: &mut PcapReplay) -> Result<()> {
        loop {
            self.rx.clear();
            let n = replay.fill(self.table.ports_mut(), &mut self.rx, self.burst)?;
            if n == 0 {
                return Ok(());
            }
            self.worker.run_burst(&self.pipeline, &self.rx, &mut self.table)?;
        }
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
        let p = &self.pipeline;
        let io = self.worker.stats();
        let mut ports = Vec::new();
        for n in 0..PORT_COUNT as u16 {
            let backend = self.table.ports.get_mut(&n);
            let pio = io.port(n);
            let pst = p.port_stats(n);
            if backend.is_none() && pio == PortIo::default() && pst == PortStats::default() {
                continue;
            }
            let (desc, bst) = match backend {
                Some(b) => (Some(b.describe()), b.backend_stats()),
                None => (None, BackendStats::default()),
            };
            ports.push(PortReport { port: n, backend: desc, io: pio, pipeline: pst, backend_stats: bst });
        }
        let req = p.counters(Counter::ClonesRequested);
        let emi = p.counters(Counter::ClonesEmitted);
        let nos = p.counters(Counter::CloneNoSession);
        let miss = p.counters(Counter::CloneRewriteMiss);
        let mut members = Vec::new();
        for m in 0..COUNTER_SIZE {
            let id = m as u16;
            let r = MemberReport {
                member: id,
                requested: req[m],
                emitted: emi[m],
                sent: io.clones_sent(id),
                alloc_failed: p.diag(Diag::AllocFailed, id),
                driver_failed: p.diag(Diag::DriverFailed, id),
                no_session: nos[m],
                rewrite_miss: miss[m],
            };
            let zero = CounterValue::default();
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
        RunReport { ports, members, elapsed: self.elapsed }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycle_keeps_the_allocation() {
        let data = [1u8; 4];
        let mut v: Vec<RxFrame<'_>> = Vec::with_capacity(32);
        v.push(RxFrame { port: 1, data: &data });
        let ptr = v.as_ptr() as usize;
        let w: Vec<RxFrame<'static>> = recycle(v);
        assert!(w.capacity() >= 32);
        assert_eq!(w.as_ptr() as usize, ptr);
    }
}
