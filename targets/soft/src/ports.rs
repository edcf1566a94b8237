//! Port backends: one [`Port`] trait, several ways to move frames in and out.
//!
//! | backend | spec | input | output |
//! |---|---|---|---|
//! | [`pcap`] | `N=pcap:IN.pcap` | a classic libpcap file, replayed | `DIR/port-<N>.pcap` |
//! | [`afpacket`] (Linux) | `N=afpacket:IFACE` | raw `AF_PACKET` socket | same socket |
//! | `dpdk` (cargo feature `dpdk`) | `N=dpdk:ID` | mbufs, zero-copy | mbufs, zero-copy |
//!
//! # The trait and zero copy
//! Receiving fills an [`RxBatch`]. A batch stores frames either in its own reusable
//! arena (pcap: the file is read straight into it; AF_PACKET: `recvmmsg` writes
//! into it, see [`RxBatch::spare`]) or as **external** buffers that stay owned by
//! the backend ([`RxBatch::push_external`]: a DPDK backend registers each mbuf's
//! data pointer and the mbuf itself as the frame's `token`, and frees the mbufs in
//! [`Port::release_rx`] after the burst was transmitted).
//!
//! Transmitting takes a [`TxBurst`]: the pipeline's emit descriptors for one egress
//! port, never owned buffers. Each [`TxFrame`] gives the two parts of the emitted
//! frame, `head` (a clone's rewritten header, in the pipeline's arena; empty for
//! originals) and `tail` (a slice of the input frame), plus the input frame's
//! `rx_token` and the clone's `tail_offset`. So:
//! - pcap writes `head` then `tail` after a record header;
//! - AF_PACKET hands both parts to `sendmmsg` as a two-element iovec (no copy in
//!   user space);
//! - DPDK sends an original as its input mbuf (`rte_mbuf_refcnt_update` +1), and a
//!   clone as a small header mbuf holding `head` chained in front of
//!   `rte_pktmbuf_clone(input)` adjusted by `tail_offset` and trimmed to
//!   `tail.len()`.
//!
//! # Transmit accounting
//! [`Port::send_burst`] returns `n`: the frames at indices `>= n` were not taken by
//! the driver. Below `n`, a backend may mark single frames it could not send with
//! [`TxBurst::fail`] ([`TxFailure::Alloc`] when it had no buffer, e.g. an empty
//! mbuf pool; [`TxFailure::Driver`] when the driver refused that frame, e.g. a frame
//! over the MTU). Every frame is therefore exactly one of: sent, alloc-failed,
//! driver-failed. The engine adds clone failures to the pipeline's per-member
//! `alloc_failed` / `driver_failed` diagnostics (the reference product's
//! `num_mbuf_alloc_failed` / `num_driver_failures`) and original failures to the
//! port's counters. Failed frames are dropped, never retried by the engine.
//!
//! # Port numbers
//! Backends do not know their port number: the caller (engine, [`PcapReplay`])
//! stamps the frames a backend appended with [`RxBatch::stamp_port`].

use std::fmt;
use std::io;
use std::path::PathBuf;

use p4clone_pipeline::{CloneFrame, Emit, EmitBatch, EmitKind, RxFrame};

#[cfg(target_os = "linux")]
pub mod afpacket;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod pcap;
mod replay;
mod spec;

pub use replay::PcapReplay;
pub use spec::{open_ports, parse_port_specs, BackendSpec, PortSpec};

/// Highest port number a spec may name (511 is the v1model drop port).
pub const MAX_PORT: u16 = 510;

/// Result of port operations.
pub type Result<T, E = PortError> = std::result::Result<T, E>;

/// Errors of the port backends. Every message names what failed: the bad spec, the
/// file and record, or the interface.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A CLI port spec could not be parsed or opened.
    #[error("invalid port spec {spec:?}: {reason}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// A pcap file is unsupported, corrupt or truncated.
    #[error("{}", pcap_message(path, *record, reason))]
    Pcap {
        /// The file.
        path: PathBuf,
        /// 1-based index of the record at fault (as Wireshark numbers frames), if
        /// the fault is in a record rather than the file header.
        record: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// An I/O error on a file or socket.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file or interface.
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An AF_PACKET socket could not be set up or failed.
    #[error("afpacket interface {iface:?}: {reason}")]
    AfPacket {
        /// The interface name.
        iface: String,
        /// What is wrong.
        reason: String,
    },
    /// Any other failure (e.g. a replay port that does not behave like one).
    #[error("{0}")]
    Other(String),
}

fn pcap_message(path: &std::path::Path, record: Option<u64>, reason: &str) -> String {
    match record {
        Some(r) => format!("{}: record {r}: {reason}", path.display()),
        None => format!("{}: {reason}", path.display()),
    }
}

impl PortError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        PortError::Io { context: context.into(), source }
    }
}

/// Where a port's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// The port only transmits (e.g. a pcap output for a port with no input file).
    None,
    /// A recording (pcap): [`Port::recv_burst`] returns 0 only once the input is
    /// exhausted, and frame timestamps order the ports' inputs ([`PcapReplay`]).
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

/// A port backend. See the [module docs](self) for the design.
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

// ------------------------------------------------------------------------ RxBatch

#[derive(Debug, Clone, Copy)]
struct RxSlot {
    port: u16,
    external: bool,
    len: u32,
    ts_ns: u64,
    /// Arena offset, or the address of an external buffer.
    start: usize,
    token: usize,
}

/// A reusable batch of received frames, each with its port, timestamp and bytes.
///
/// Frame bytes live in the batch's arena (which only ever grows, so a steady
/// stream allocates nothing) or in external buffers owned by the backend.
pub struct RxBatch {
    slots: Vec<RxSlot>,
    arena: Vec<u8>,
    used: usize,
    cap: usize,
}

impl fmt::Debug for RxBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RxBatch")
            .field("len", &self.slots.len())
            .field("cap", &self.cap)
            .field("arena_used", &self.used)
            .finish()
    }
}

impl RxBatch {
    /// An empty batch holding at most `cap` frames (at least 1).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        RxBatch { slots: Vec::with_capacity(cap), arena: Vec::new(), used: 0, cap }
    }

    /// Maximum number of frames.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// How many more frames fit.
    pub fn room(&self) -> usize {
        self.cap - self.slots.len()
    }

    /// Forgets all frames (external buffers must have been released by then).
    /// Keeps the memory.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.used = 0;
    }

    fn ensure(&mut self, bytes: usize) {
        let need = self.used + bytes;
        if self.arena.len() < need {
            // Grows (at least doubling) to the largest burst seen; reused afterwards.
            self.arena.resize(need.max(self.arena.len() * 2), 0);
        }
    }

    /// Appends a copy of `data`. Returns false (and appends nothing) when full.
    pub fn push(&mut self, ts_ns: u64, data: &[u8]) -> bool {
        if self.room() == 0 {
            return false;
        }
        self.ensure(data.len());
        self.arena[self.used..self.used + data.len()].copy_from_slice(data);
        self.slots.push(RxSlot { port: 0, external: false, len: data.len() as u32, ts_ns, start: self.used, token: 0 });
        self.used += data.len();
        true
    }

    /// Appends a frame of `len` bytes that `fill` writes in place (e.g. a file read).
    /// If `fill` fails, nothing is appended. Returns `Ok(false)` when full.
    pub fn push_with<E>(
        &mut self,
        ts_ns: u64,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<bool, E> {
        if self.room() == 0 {
            return Ok(false);
        }
        self.ensure(len);
        fill(&mut self.arena[self.used..self.used + len])?;
        self.slots.push(RxSlot { port: 0, external: false, len: len as u32, ts_ns, start: self.used, token: 0 });
        self.used += len;
        Ok(true)
    }

    /// Unused arena space of `bytes` bytes after the frames already held, for a driver
    /// that writes several frames in place (AF_PACKET `recvmmsg`). Declare the frames
    /// with [`RxBatch::commit_spare`], then reserve the space with
    /// [`RxBatch::advance_spare`]. The arena only grows when needed, so the returned
    /// region's address is stable between calls that ask for no more space.
    pub fn spare(&mut self, bytes: usize) -> &mut [u8] {
        self.ensure(bytes);
        &mut self.arena[self.used..self.used + bytes]
    }

    /// Declares a frame at `offset..offset + len` of the current [`RxBatch::spare`]
    /// region. Returns false when full or out of the arena.
    pub fn commit_spare(&mut self, ts_ns: u64, offset: usize, len: usize) -> bool {
        let start = self.used + offset;
        if self.room() == 0 || start + len > self.arena.len() {
            return false;
        }
        self.slots.push(RxSlot { port: 0, external: false, len: len as u32, ts_ns, start, token: 0 });
        true
    }

    /// Marks `bytes` of the spare region as used by committed frames.
    pub fn advance_spare(&mut self, bytes: usize) {
        self.used = (self.used + bytes).min(self.arena.len());
    }

    /// Appends a frame whose bytes stay in a backend-owned buffer (zero copy), with
    /// an opaque `token` the backend gets back through [`RxBatch::token`] and
    /// [`TxFrame::rx_token`] (e.g. the `rte_mbuf` pointer). Returns false when full.
    ///
    /// # Safety
    /// `ptr..ptr + len` must be readable and unmodified until the batch is cleared or
    /// dropped (the backend releases it in [`Port::release_rx`]).
    pub unsafe fn push_external(&mut self, ts_ns: u64, ptr: *const u8, len: usize, token: usize) -> bool {
        if self.room() == 0 {
            return false;
        }
        self.slots.push(RxSlot { port: 0, external: true, len: len as u32, ts_ns, start: ptr as usize, token });
        true
    }

    /// Sets the port number of frames `from..`.
    pub fn stamp_port(&mut self, from: usize, port: u16) {
        for s in self.slots.iter_mut().skip(from) {
            s.port = port;
        }
    }

    /// Bytes of frame `i` (empty if out of range).
    pub fn frame(&self, i: usize) -> &[u8] {
        let Some(s) = self.slots.get(i) else {
            return &[];
        };
        if s.external {
            if s.len == 0 {
                return &[];
            }
            // SAFETY: `push_external`'s contract keeps the buffer valid and unmodified
            // while the batch holds the frame (until `clear` or drop).
            unsafe { std::slice::from_raw_parts(s.start as *const u8, s.len as usize) }
        } else {
            self.arena.get(s.start..s.start + s.len as usize).unwrap_or(&[])
        }
    }

    /// Port number of frame `i`.
    pub fn port(&self, i: usize) -> u16 {
        self.slots.get(i).map_or(0, |s| s.port)
    }

    /// Timestamp of frame `i`, nanoseconds since the Unix epoch.
    pub fn ts_ns(&self, i: usize) -> u64 {
        self.slots.get(i).map_or(0, |s| s.ts_ns)
    }

    /// Backend token of frame `i` (0 for arena frames).
    pub fn token(&self, i: usize) -> usize {
        self.slots.get(i).map_or(0, |s| s.token)
    }

    /// Whether frame `i` lives in a backend-owned buffer.
    pub fn is_external(&self, i: usize) -> bool {
        self.slots.get(i).is_some_and(|s| s.external)
    }

    /// Iterates over `(port, ts_ns, bytes)`.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u64, &[u8])> + '_ {
        (0..self.len()).map(move |i| (self.port(i), self.ts_ns(i), self.frame(i)))
    }
}

// ------------------------------------------------------------------------ TxBurst

/// Why a frame of a [`TxBurst`] was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxFailure {
    /// No buffer for the frame (`alloc_failed`).
    Alloc,
    /// The driver refused the frame (`driver_failed`).
    Driver,
}

/// The frames one egress port must send from one pipeline burst, in emission
/// order, as descriptors into the pipeline's output and the received batch.
pub struct TxBurst<'a> {
    out: &'a EmitBatch,
    frames: &'a [RxFrame<'a>],
    rx: &'a RxBatch,
    /// Pipeline input index -> `rx` index.
    map: &'a [u32],
    /// Indices into `out.emits()`.
    sel: &'a [u32],
    failed: &'a mut Vec<(u32, TxFailure)>,
}

impl fmt::Debug for TxBurst<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxBurst").field("len", &self.sel.len()).field("failed", &self.failed).finish()
    }
}

/// One frame to transmit. The emitted bytes are `head` followed by `tail`.
#[derive(Debug, Clone, Copy)]
pub struct TxFrame<'a> {
    /// The pipeline's descriptor.
    pub emit: Emit,
    /// A clone's rewritten header (empty for originals).
    pub head: &'a [u8],
    /// The rest, a slice of the input frame.
    pub tail: &'a [u8],
    /// Timestamp of the input frame (ns since the Unix epoch).
    pub ts_ns: u64,
    /// The input frame's backend token ([`RxBatch::push_external`]), 0 for arena frames.
    pub rx_token: usize,
    /// Ingress port of the input frame.
    pub rx_port: u16,
}

impl TxFrame<'_> {
    /// Emitted length.
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// True for a zero-length frame.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The clone descriptor, for clones.
    pub fn clone_frame(&self) -> Option<CloneFrame> {
        match self.emit.kind {
            EmitKind::Clone(c) => Some(c),
            EmitKind::Original => None,
        }
    }

    /// The clone's member (`egress_rid`), for clones.
    pub fn member(&self) -> Option<u16> {
        self.clone_frame().map(|c| c.member)
    }

    /// Offset in the input frame where `tail` starts (0 for originals).
    pub fn tail_offset(&self) -> usize {
        self.clone_frame().map_or(0, |c| c.tail_offset as usize)
    }

    /// Copies the frame into `buf`; returns the bytes written (truncated to `buf`).
    pub fn copy_to(&self, buf: &mut [u8]) -> usize {
        let h = self.head.len().min(buf.len());
        buf[..h].copy_from_slice(&self.head[..h]);
        let t = self.tail.len().min(buf.len() - h);
        buf[h..h + t].copy_from_slice(&self.tail[..t]);
        h + t
    }

    /// Writes the frame to `w`.
    pub fn write_to<W: io::Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(self.head)?;
        w.write_all(self.tail)
    }

    /// The frame's bytes (allocates; for tests and diagnostics).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        v.extend_from_slice(self.head);
        v.extend_from_slice(self.tail);
        v
    }
}

impl<'a> TxBurst<'a> {
    /// A burst selecting emits `sel` of `out`, which the pipeline produced from
    /// `frames`; `map[i]` is the `rx` index of `frames[i]`. `failed` must be empty
    /// and collects [`TxBurst::fail`] marks.
    pub fn new(
        out: &'a EmitBatch,
        frames: &'a [RxFrame<'a>],
        rx: &'a RxBatch,
        map: &'a [u32],
        sel: &'a [u32],
        failed: &'a mut Vec<(u32, TxFailure)>,
    ) -> Self {
        TxBurst { out, frames, rx, map, sel, failed }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.sel.len()
    }

    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.sel.is_empty()
    }

    /// Frame `i` (an empty original if out of range).
    pub fn get(&self, i: usize) -> TxFrame<'a> {
        let out: &'a EmitBatch = self.out;
        let emit = self.sel.get(i).and_then(|&e| out.emits().get(e as usize)).copied().unwrap_or(Emit {
            port: 0,
            input: u32::MAX,
            kind: EmitKind::Original,
        });
        let (head, tail) = out.parts(&emit, self.frames);
        let rx_i = self.map.get(emit.input as usize).map_or(usize::MAX, |&r| r as usize);
        TxFrame {
            emit,
            head,
            tail,
            ts_ns: self.rx.ts_ns(rx_i),
            rx_token: self.rx.token(rx_i),
            rx_port: self.rx.port(rx_i),
        }
    }

    /// Iterates over the frames in order.
    pub fn iter(&self) -> impl Iterator<Item = TxFrame<'a>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Marks frame `i` as not sent, and why (see the [module docs](self)).
    pub fn fail(&mut self, i: usize, why: TxFailure) {
        if i < self.sel.len() {
            self.failed.push((i as u32, why));
        }
    }

    /// Marks so far.
    pub fn failures(&self) -> &[(u32, TxFailure)] {
        self.failed
    }
}
