//! [`Worker`]: the burst step shared by every packet loop (see the [engine
//! docs](super)).

use std::fmt;

use p4clone_pipeline::table::PORT_COUNT;
use p4clone_pipeline::{Diag, EmitBatch, EmitKind, Pipeline, RxFrame, WorkerState};

use super::stats::IoStats;
use super::table::PortTable;
use crate::ports::batch::{RxBatch, TxBurst, TxFailure};
use crate::ports::error::Result;

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
    /// transmits the result through `ports`. See the [engine docs](super).
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
                if let Some(m) = member {
                    stats.add_clones_sent(m, 1);
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
