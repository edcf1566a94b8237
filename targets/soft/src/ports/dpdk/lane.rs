//! The DPDK fast path: one worker lcore's burst step, straight from the RX mbufs
//! into the pipeline and from its emit descriptors into TX mbufs, without the
//! generic [`Port`] layer ([`RxBatch`](crate::ports::RxBatch),
//! per-port buckets, [`TxBurst`](crate::ports::TxBurst)).
//!
//! Per received burst, [`Lane::step`]:
//! 1. `rte_eth_rx_burst`; the frames become the pipeline's input as they lie in
//!    their mbufs (a multi-segment mbuf is copied into one buffer and freed). A
//!    zero-length frame (only `net_pcap` delivers them) is counted in
//!    `rx_zero_length` and goes through the pipeline like any other: it is
//!    forwarded to the wire peer, never cloned, as the generic engine does;
//! 2. [`Pipeline::process_burst`];
//! 3. walks the emits once, in emission order, appending one mbuf per emit to its
//!    egress port's TX list: an **original** is the received mbuf itself, whose
//!    ownership passes to the TX queue (no reference count update, no release
//!    afterwards); a **clone** is a copy or a zero-copy chain, built exactly as the
//!    generic path builds it ([`DpdkPort::build_clone`]). Every mbuf is built before
//!    any is transmitted, so clones never read a frame the driver already freed;
//! 4. one `rte_eth_tx_burst` per egress port (with [`DpdkOptions::tx_retries`](super::DpdkOptions::tx_retries)),
//!    accounting each frame as sent, alloc-failed or driver-failed exactly as the
//!    engine does (`PortIo`, clones sent per member, the pipeline's
//!    `alloc_failed` / `driver_failed` diagnostics);
//! 5. frees the received mbufs no TX list took (dropped frames), in one
//!    `rte_pktmbuf_free_bulk`.

use std::sync::atomic::{AtomicBool, Ordering};

use p4clone_dpdk_sys as sys;
use p4clone_pipeline::table::PORT_COUNT;
use p4clone_pipeline::{Diag, EmitBatch, EmitKind, Pipeline, RxFrame, WorkerState};

use super::options::MAX_RX_BURST;
use super::port::{ensure_lcore, DpdkPort};
use crate::engine::stats::{IoStats, PortIo};
use crate::engine::worker::recycle;
use crate::ports::batch::TxFailure;
use crate::ports::error::{PortError, Result as PortResult};
use crate::ports::port::{BackendStats, Port};

/// `by_port` value of a port this lane has no handle for.
const NO_HANDLE: u16 = u16::MAX;

/// One received frame of the current burst.
#[derive(Clone, Copy)]
struct Input {
    /// The received mbuf; null once copied (multi-segment) and freed.
    mbuf: *mut sys::rte_mbuf,
    /// Where the bytes are: the mbuf's data, or an offset into `Lane::linear`.
    ptr: *const u8,
    len: u32,
    /// True when the bytes were copied into `Lane::linear` (`ptr` is an offset).
    linear: bool,
    /// The mbuf went to a TX list (as an original): not ours to free any more.
    sent: bool,
}

/// What one TX list entry is, for the accounting after the burst.
#[derive(Clone, Copy)]
struct TxMeta {
    len: u32,
    /// Member of a clone; `None` for an original.
    member: Option<u16>,
}

/// The mbufs one egress port sends from the current burst.
#[derive(Default)]
struct TxList {
    mbufs: Vec<*mut sys::rte_mbuf>,
    meta: Vec<TxMeta>,
}

/// One worker's handles on every device plus the reusable state of its burst step.
pub(crate) struct Lane<'a> {
    pipeline: &'a Pipeline,
    /// The handles, with their p4clone port numbers.
    handles: Vec<(u16, DpdkPort)>,
    /// p4clone port number -> index into `handles`, or [`NO_HANDLE`].
    by_port: Box<[u16]>,
    /// Indices into `handles` of the ports this lane receives on, with "input
    /// exhausted" (a replay file read to its end).
    rx: Vec<(usize, bool)>,
    burst: usize,
    mbufs: Vec<*mut sys::rte_mbuf>,
    data: Vec<*const u8>,
    lens: Vec<u32>,
    inputs: Vec<Input>,
    frames: Vec<RxFrame<'static>>,
    linear: Vec<u8>,
    worker: WorkerState,
    out: EmitBatch,
    tx: Vec<TxList>,
    touched: Vec<usize>,
    release: Vec<*mut sys::rte_mbuf>,
    stats: IoStats,
}

// SAFETY: the raw mbuf pointers are scratch space between the calls of one burst
// step (empty between bursts) or owned by the handles, which are Send; a lane is
// used by one thread at a time.
unsafe impl Send for Lane<'_> {}

impl<'a> Lane<'a> {
    /// A lane over `handles` (port number, handle), bursts of `burst` frames.
    pub(crate) fn new(pipeline: &'a Pipeline, handles: Vec<(u16, DpdkPort)>, burst: usize) -> Self {
        let burst = burst.clamp(1, MAX_RX_BURST);
        let mut by_port = vec![NO_HANDLE; PORT_COUNT].into_boxed_slice();
        for (i, (n, _)) in handles.iter().enumerate() {
            if let Some(slot) = by_port.get_mut(usize::from(*n)) {
                *slot = i as u16;
            }
        }
        let rx = handles.iter().enumerate().filter(|(_, (_, h))| h.rxq.is_some()).map(|(i, _)| (i, false)).collect();
        Lane {
            pipeline,
            tx: (0..handles.len()).map(|_| TxList::default()).collect(),
            handles,
            by_port,
            rx,
            burst,
            mbufs: vec![std::ptr::null_mut(); burst],
            data: vec![std::ptr::null(); burst],
            lens: vec![0; burst],
            inputs: Vec::with_capacity(burst),
            frames: Vec::with_capacity(burst),
            linear: Vec::new(),
            worker: WorkerState::new(),
            out: EmitBatch::with_capacity(burst),
            touched: Vec::new(),
            release: Vec::with_capacity(burst),
            stats: IoStats::default(),
        }
    }

    /// The lane's I/O counters.
    pub(crate) fn stats(&self) -> &IoStats {
        &self.stats
    }

    /// The handle of port `n`, if this lane has one.
    fn port_mut(&mut self, n: u16) -> Option<&mut DpdkPort> {
        let i = *self.by_port.get(usize::from(n))?;
        self.handles.get_mut(usize::from(i)).map(|(_, h)| h)
    }

    /// The description and counters of port `n`'s handle, if this lane has one.
    pub(crate) fn backend(&mut self, n: u16) -> Option<(String, BackendStats)> {
        self.port_mut(n).map(|h| (h.describe(), h.backend_stats()))
    }

    /// Polls the RX queues until `stop` or `abort` is raised, or until no input is
    /// left (no live queue and every replay input read to its end).
    pub(crate) fn poll(&mut self, stop: &AtomicBool, abort: &AtomicBool) -> PortResult<()> {
        ensure_lcore();
        while !stop.load(Ordering::Relaxed) && !abort.load(Ordering::Relaxed) {
            let mut open = false;
            for k in 0..self.rx.len() {
                let (hi, exhausted) = self.rx[k];
                if exhausted {
                    continue;
                }
                open = true;
                if self.step(hi)? == 0 && self.handles[hi].1.dev.replay {
                    self.rx[k].1 = true;
                }
            }
            if !open {
                break;
            }
        }
        Ok(())
    }

    /// One burst from the RX queue of handle `hi`: receive, process, transmit,
    /// release. Returns the frames received.
    fn step(&mut self, hi: usize) -> PortResult<usize> {
        let n = self.receive(hi)?;
        if n == 0 {
            return Ok(0);
        }
        let port = self.handles[hi].0;
        let linear = std::mem::take(&mut self.linear);
        let mut frames: Vec<RxFrame<'_>> = recycle(std::mem::take(&mut self.frames));
        for inp in &self.inputs {
            let data: &[u8] = if inp.linear {
                let at = inp.ptr as usize;
                linear.get(at..at + inp.len as usize).unwrap_or(&[])
            } else if inp.len == 0 {
                &[]
            } else {
                // SAFETY: the bytes of a single-segment mbuf we received and still
                // own; nothing writes them until it is sent or freed below, after
                // the last use of `frames`.
                unsafe { std::slice::from_raw_parts(inp.ptr, inp.len as usize) }
            };
            frames.push(RxFrame { port, data });
        }
        self.pipeline.process_burst(&frames, &mut self.worker, &mut self.out);
        self.stats.bursts += 1;
        self.build_tx(&frames);
        self.frames = recycle(frames);
        self.linear = linear;
        self.transmit();
        self.release_unsent();
        for (_, h) in self.handles.iter_mut() {
            h.flush_stats();
        }
        Ok(n)
    }

    /// Receives one burst on handle `hi` into `inputs`; returns the frames received.
    fn receive(&mut self, hi: usize) -> PortResult<usize> {
        let (port, h) = &mut self.handles[hi];
        let port = *port;
        let Some(q) = h.rxq else { return Ok(0) };
        if h.closed {
            return Err(PortError::Other(format!("dpdk:{}: port is closed", h.dev.port)));
        }
        // SAFETY: the three arrays hold `burst` elements; the device is started and
        // this handle is the only reader of RX queue q.
        let n = unsafe {
            sys::p4c_eth_rx_burst_meta(
                h.dev.port,
                q,
                self.mbufs.as_mut_ptr(),
                self.burst as u16,
                self.data.as_mut_ptr(),
                self.lens.as_mut_ptr(),
            )
        } as usize;
        self.inputs.clear();
        self.linear.clear();
        let mut bytes = 0u64;
        let mut zero = 0u64;
        for i in 0..n {
            let m = self.mbufs[i];
            let mut inp = Input { mbuf: m, ptr: self.data[i], len: self.lens[i], linear: false, sent: false };
            if inp.len == u32::MAX {
                // A chain: copy it into one buffer, give the mbufs back.
                // SAFETY: m is a valid received mbuf.
                let len = unsafe { sys::p4c_pktmbuf_pkt_len(m) } as usize;
                let at = self.linear.len();
                self.linear.resize(at + len, 0);
                let buf = &mut self.linear[at..];
                // SAFETY: buf has len writable bytes; m holds pkt_len = len bytes.
                let src = unsafe { sys::p4c_pktmbuf_read(m, 0, len as u32, buf.as_mut_ptr().cast()) };
                if !src.is_null() && src != buf.as_ptr().cast() {
                    // SAFETY: read returned a pointer to len contiguous bytes in m.
                    unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), buf.as_mut_ptr(), len) };
                }
                // SAFETY: the bytes were copied; m is ours to free.
                unsafe { sys::p4c_pktmbuf_free(m) };
                h.stats.rx_linearized += 1;
                inp = Input {
                    mbuf: std::ptr::null_mut(),
                    ptr: at as *const u8,
                    len: len as u32,
                    linear: true,
                    sent: false,
                };
            }
            bytes += u64::from(inp.len);
            zero += u64::from(inp.len == 0);
            self.inputs.push(inp);
        }
        h.stats.rx += n as u64;
        if let Some(st) = self.stats.port_mut(port) {
            st.rx_frames += n as u64;
            st.rx_bytes += bytes;
            st.rx_zero_length += zero;
        }
        Ok(n)
    }

    /// Step 3: one mbuf per emit onto its port's TX list (see the module docs).
    fn build_tx(&mut self, frames: &[RxFrame<'_>]) {
        let Lane { pipeline, handles, by_port, inputs, out, tx, touched, stats, .. } = self;
        for e in out.emits() {
            let member = match e.kind {
                EmitKind::Clone(c) => Some(c.member),
                EmitKind::Original => None,
            };
            let hi = by_port.get(usize::from(e.port)).copied().unwrap_or(NO_HANDLE);
            if hi == NO_HANDLE {
                if let Some(st) = stats.port_mut(e.port) {
                    st.tx_no_port += 1;
                }
                if let Some(m) = member {
                    pipeline.add_diag(Diag::DriverFailed, m, 1);
                }
                continue;
            }
            let hi = usize::from(hi);
            let h = &mut handles[hi].1;
            let (head, tail) = out.parts(e, frames);
            let Some(inp) = inputs.get_mut(e.input as usize) else { continue };
            let built = match e.kind {
                EmitKind::Original if !inp.mbuf.is_null() && !inp.sent => {
                    inp.sent = true;
                    h.stats.tx_originals += 1;
                    Ok(inp.mbuf)
                }
                EmitKind::Original => h.copy(head, tail),
                EmitKind::Clone(c) => h.build_clone(inp.mbuf, head, tail, c.tail_offset as usize),
            };
            match built {
                Ok(m) => {
                    let list = &mut tx[hi];
                    if list.mbufs.is_empty() {
                        touched.push(hi);
                    }
                    list.mbufs.push(m);
                    list.meta.push(TxMeta { len: (head.len() + tail.len()) as u32, member });
                }
                Err(why) => {
                    let st = stats.port_mut(e.port);
                    match why {
                        TxFailure::Alloc => {
                            h.stats.tx_alloc_failed += 1;
                            if let Some(st) = st {
                                st.tx_alloc_failed += 1;
                            }
                        }
                        TxFailure::Driver => {
                            h.stats.tx_driver_failed += 1;
                            if let Some(st) = st {
                                st.tx_failed += 1;
                            }
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
    }

    /// Step 4: one TX burst per touched port, then the accounting.
    fn transmit(&mut self) {
        let Lane { pipeline, handles, tx, touched, stats, .. } = self;
        for &hi in touched.iter() {
            let (port, h) = &mut handles[hi];
            let list = &mut tx[hi];
            let sent = h.tx_all(&mut list.mbufs);
            let mut io = PortIo::default();
            for m in &list.meta[..sent] {
                io.tx_frames += 1;
                io.tx_bytes += u64::from(m.len);
                if let Some(member) = m.member {
                    io.tx_clones += 1;
                    stats.add_clones_sent(member, 1);
                }
            }
            for m in &list.meta[sent..] {
                io.tx_failed += 1;
                if let Some(member) = m.member {
                    pipeline.add_diag(Diag::DriverFailed, member, 1);
                }
            }
            if let Some(st) = stats.port_mut(*port) {
                st.add(&io);
            }
            list.mbufs.clear();
            list.meta.clear();
        }
        touched.clear();
    }

    /// Step 5: frees the received mbufs no TX list took.
    fn release_unsent(&mut self) {
        for inp in &self.inputs {
            if !inp.sent && !inp.mbuf.is_null() {
                self.release.push(inp.mbuf);
            }
        }
        self.inputs.clear();
        if !self.release.is_empty() {
            // SAFETY: each mbuf was received by this lane, is referenced once by it,
            // and no frame slice into it is used any more.
            unsafe { sys::rte_pktmbuf_free_bulk(self.release.as_mut_ptr(), self.release.len() as u32) };
            self.release.clear();
        }
    }
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        self.release_unsent();
    }
}
