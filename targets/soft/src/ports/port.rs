//! The [`Port`] trait every backend implements, and what it tells the engine
//! about itself ([`InputKind`], [`BackendStats`]).

use super::batch::{RxBatch, TxBurst};
use super::error::Result;

/// Highest port number a spec may name (511 is the v1model drop port).
pub const MAX_PORT: u16 = 510;

/// Where a port's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// The port only transmits (e.g. a pcap output for a port with no input file).
    None,
    /// A recording (pcap): [`Port::recv_burst`] returns 0 only once the input is
    /// exhausted, and frame timestamps order the ports' inputs ([`PcapReplay`](super::PcapReplay)).
    Replay,
    /// A live interface: 0 means "nothing right now".
    Live,
}

/// Counters a backend keeps for itself (0 where it has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct BackendStats {
    /// Frames the kernel or NIC dropped before the backend read them (AF_PACKET:
    /// `PACKET_STATISTICS.tp_drops`).
    pub rx_dropped: u64,
    /// Frames larger than the receive buffer, dropped by the backend.
    pub rx_oversize: u64,
}

/// A port backend. See the [module docs](super) for the design.
pub trait Port: Send {
    /// Human-readable description, e.g. `pcap:in.pcap -> out/port-1.pcap`.
    fn describe(&self) -> String;

    /// Where this port's input comes from.
    fn input_kind(&self) -> InputKind;

    /// Appends up to [`RxBatch::room`] frames to `batch` without blocking and returns
    /// how many it appended (0 = nothing now; for a replay port, the input is
    /// exhausted). Leaves the frames' port number to the caller.
    fn recv_burst(&mut self, batch: &mut RxBatch) -> Result<usize>;

    /// Gives back backend-owned buffers of frames this port appended to `batch` (see
    /// [`RxBatch::push_external`]). Called once the batch's frames were processed
    /// and transmitted, before the batch is cleared. Default: nothing to release.
    fn release_rx(&mut self, _batch: &RxBatch) {}

    /// Transmits the frames of `burst`, in order. Returns `n`: frames at indices `>= n`
    /// were not taken; frames below `n` were sent unless marked with
    /// [`TxBurst::fail`]. `Err` means the port is unusable: every frame of the burst
    /// counts as driver-failed and the engine stops.
    fn send_burst(&mut self, burst: &mut TxBurst<'_>) -> Result<usize>;

    /// True once a replay input is drained (always true without input, false for
    /// live ports).
    fn is_exhausted(&self) -> bool;

    /// Makes the output exist now even if nothing is ever sent (pcap: creates the
    /// file with its header). Default: nothing to do.
    fn open_output(&mut self) -> Result<()> {
        Ok(())
    }

    /// Pushes buffered output to its destination.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Flushes and releases the port's resources; the port is unusable afterwards.
    fn close(&mut self) -> Result<()> {
        self.flush()
    }

    /// Backend counters.
    fn backend_stats(&mut self) -> BackendStats {
        BackendStats::default()
    }
}
