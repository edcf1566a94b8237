//! The engine's I/O counters: [`PortIo`] per port, [`IoStats`] per worker.

use std::collections::BTreeMap;
use std::fmt;

use p4clone_pipeline::table::PORT_COUNT;
use p4clone_pipeline::COUNTER_SIZE;

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
