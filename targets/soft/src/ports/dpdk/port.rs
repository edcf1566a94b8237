//! [`DpdkPort`]: one worker's handle on a device, the [`Port`] of the generic
//! engine, and the mbufs of transmitted frames (originals, copies, zero-copy
//! clones) that the lcore fast path (`lane`) builds the same way.

use std::ffi::c_int;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use p4clone_dpdk_sys as sys;
use p4clone_pipeline::EmitKind;

use super::device::{resolve, Device, DpdkPortStats};
use super::eal::{configure, global, require_up, Eal};
use super::error::{DpdkError, Result};
use super::options::{CloneCopy, DpdkOptions, MAX_RX_BURST};
use crate::ports::batch::{RxBatch, TxBurst, TxFailure, TxFrame};
use crate::ports::error::{PortError, Result as PortResult};
use crate::ports::port::{BackendStats, InputKind, Port};

/// One worker's handle on a DPDK device: its RX queue (if any) and a TX queue.
pub struct DpdkPort {
    pub(super) dev: Arc<Device>,
    pub(super) rxq: Option<u16>,
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
    pub(super) stats: DpdkPortStats,
    pub(super) closed: bool,
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

    pub(crate) fn handle(dev: Arc<Device>, rxq: Option<u16>, txq: u16, o: &DpdkOptions) -> Result<DpdkPort> {
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
    pub(super) fn flush_stats(&mut self) {
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
    fn build(&mut self, f: &TxFrame<'_>) -> std::result::Result<*mut sys::rte_mbuf, TxFailure> {
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
    pub(super) fn build_clone(
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
    pub(super) fn copy(&mut self, head: &[u8], tail: &[u8]) -> std::result::Result<*mut sys::rte_mbuf, TxFailure> {
        self.stats.tx_copied += 1;
        // SAFETY: the tx pool is a valid mempool.
        unsafe { copy_frame(self.dev.tx_pool.raw(), head, tail) }
    }

    /// Sends `mbufs` on this handle's TX queue (retrying [`DpdkOptions::tx_retries`]
    /// times when the driver takes nothing), frees what the driver did not take and
    /// counts it as `tx_driver_failed`. Returns how many were sent (a prefix).
    pub(super) fn tx_all(&mut self, mbufs: &mut [*mut sys::rte_mbuf]) -> usize {
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
pub(super) fn ensure_lcore() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_eal_everything_says_so() {
        if Eal::is_up() {
            return;
        }
        let e = DpdkPort::open("0").unwrap_err().to_string();
        assert!(e.contains("not initialised"), "{e}");
    }
}
