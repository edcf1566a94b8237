//! [`PcapReplay`]: the inputs of all replay ports merged into one stream, in
//! timestamp order, ties to the lower port number (`docs/dataplane.md`).
//!
//! BMv2's `--use-files` reader keeps the next record of every input file and always
//! takes the earliest one; on equal timestamps the file added first wins, and
//! p4clone adds them in port order. Within one file, records keep their file order
//! even if their timestamps go backwards: only the head record of each file
//! competes. This is a k-way merge over those heads with a binary heap keyed by
//! `(timestamp, port)`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use super::batch::RxBatch;
use super::error::{PortError, Result};
use super::port::{InputKind, Port};

struct Source {
    port: u16,
    pending: RxBatch,
    pos: usize,
}

/// The merged, ordered input of every [`InputKind::Replay`] port.
///
/// Frames are copied from each port's read-ahead batch into the caller's batch.
pub struct PcapReplay {
    sources: Vec<Source>,
    heap: BinaryHeap<Reverse<(u64, u16, usize)>>,
    started: bool,
    burst: usize,
}

impl std::fmt::Debug for PcapReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapReplay")
            .field("ports", &self.sources.iter().map(|s| s.port).collect::<Vec<_>>())
            .field("started", &self.started)
            .finish()
    }
}

impl PcapReplay {
    /// A replay of the [`InputKind::Replay`] ports of `ports`, reading ahead `burst`
    /// frames per port.
    pub fn new(ports: &BTreeMap<u16, Box<dyn Port>>, burst: usize) -> Self {
        let sources = ports
            .iter()
            .filter(|(_, p)| p.input_kind() == InputKind::Replay)
            .map(|(&port, _)| Source { port, pending: RxBatch::new(burst), pos: 0 })
            .collect::<Vec<_>>();
        PcapReplay { heap: BinaryHeap::with_capacity(sources.len()), sources, started: false, burst: burst.max(1) }
    }

    /// The ports being merged, ascending.
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.sources.iter().map(|s| s.port)
    }

    /// Reads the next batch of `port` into its source; pushes its head onto the heap.
    fn refill(&mut self, idx: usize, ports: &mut BTreeMap<u16, Box<dyn Port>>) -> Result<()> {
        let s = &mut self.sources[idx];
        let Some(p) = ports.get_mut(&s.port) else {
            return Err(PortError::Other(format!("replay port {} disappeared from the port table", s.port)));
        };
        p.release_rx(&s.pending);
        s.pending.clear();
        s.pos = 0;
        let n = p.recv_burst(&mut s.pending)?;
        s.pending.stamp_port(0, s.port);
        if n == 0 {
            if !p.is_exhausted() {
                return Err(PortError::Other(format!(
                    "replay port {} ({}) returned no frame before the end of its input",
                    s.port,
                    p.describe()
                )));
            }
            return Ok(());
        }
        self.heap.push(Reverse((s.pending.ts_ns(0), s.port, idx)));
        Ok(())
    }

    /// Appends up to `max` (and up to [`RxBatch::room`]) frames in merged order to
    /// `out` and returns how many. 0 means every input is drained.
    pub fn fill(&mut self, ports: &mut BTreeMap<u16, Box<dyn Port>>, out: &mut RxBatch, max: usize) -> Result<usize> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.refill(i, ports)?;
            }
        }
        let mut n = 0;
        while n < max && out.room() > 0 {
            let Some(Reverse((ts, port, idx))) = self.heap.pop() else {
                break;
            };
            let s = &mut self.sources[idx];
            let from = out.len();
            out.push(ts, s.pending.frame(s.pos));
            out.stamp_port(from, port);
            n += 1;
            s.pos += 1;
            if s.pos < s.pending.len() {
                let next = s.pending.ts_ns(s.pos);
                self.heap.push(Reverse((next, port, idx)));
            } else {
                self.refill(idx, ports)?;
            }
        }
        Ok(n)
    }

    /// True once every input is drained.
    pub fn is_drained(&self) -> bool {
        self.started && self.heap.is_empty()
    }

    /// Read-ahead size per port.
    pub fn burst(&self) -> usize {
        self.burst
    }
}
