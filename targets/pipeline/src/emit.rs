//! Input frames and the output of a burst.
//!
//! An **original** is emitted as (egress port, index of the input frame), byte-for-byte
//! the input. A **clone** is emitted as (egress port, a rewritten header in the
//! batch's arena, the offset in the input frame where the unchanged remainder
//! starts, and the total emitted length after truncation). The emitted clone is
//! `head[..min(head_len, len)]` followed by
//! `input[tail_offset .. tail_offset + (len - that)]`.
//!
//! That suits both kinds of backend:
//! - pcap / AF_PACKET: concatenate the two parts ([`EmitBatch::parts`],
//!   [`EmitBatch::write_to`], [`EmitBatch::materialize`]);
//! - DPDK zero-copy: put the head in a small mbuf and chain it in front of
//!   `rte_pktmbuf_clone(input)`, after `rte_pktmbuf_adj(tail_offset)` and
//!   `rte_pktmbuf_trim` to the tail length.
//!
//! The head holds the new L2 header (14 or 18 bytes). When a NAT restore changed
//! L3/L4 bytes it also holds the L3 header and the TCP (20 bytes) or UDP (8 bytes)
//! header, so the tail is never modified. A clone that `clone_rewrite` did not hit,
//! but whose default action let it through, has an empty head and `tail_offset` 0.
//!
//! The batch is reused across bursts: its vectors keep their capacity, so a steady
//! stream allocates nothing.

use std::io;

use crate::sizes::Port;

/// A frame arriving on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxFrame<'a> {
    /// Ingress port (0..=511; others are dropped uncounted).
    pub port: Port,
    /// The frame, from the destination MAC, without FCS.
    pub data: &'a [u8],
}

/// A clone's emitted form (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloneFrame {
    /// `egress_rid` (the replica's instance, normally the member id).
    pub member: u16,
    /// Start of the rewritten header in the arena.
    pub head_start: u32,
    /// Length of the rewritten header.
    pub head_len: u32,
    /// Offset in the input frame where the unchanged remainder starts.
    pub tail_offset: u32,
    /// Total emitted length, after `truncate_len` and `packet_length_bytes`.
    pub len: u32,
}

impl CloneFrame {
    /// Bytes of the head that are emitted (`min(head_len, len)`).
    pub fn head_used(&self) -> usize {
        self.head_len.min(self.len) as usize
    }
    /// Bytes taken from the input frame after `tail_offset`.
    pub fn tail_len(&self) -> usize {
        self.len as usize - self.head_used()
    }
}

/// What is emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitKind {
    /// The input frame, unchanged.
    Original,
    /// A clone.
    Clone(CloneFrame),
}

/// One emitted frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emit {
    /// Egress port.
    pub port: Port,
    /// Index of the input frame in the burst.
    pub input: u32,
    /// Original or clone.
    pub kind: EmitKind,
}

impl Emit {
    /// Emitted length in bytes (needs the input frame for originals).
    pub fn len(&self, frames: &[RxFrame<'_>]) -> usize {
        match self.kind {
            EmitKind::Original => frames.get(self.input as usize).map_or(0, |f| f.data.len()),
            EmitKind::Clone(c) => c.len as usize,
        }
    }

    /// True for a zero-length frame.
    pub fn is_empty(&self, frames: &[RxFrame<'_>]) -> bool {
        self.len(frames) == 0
    }

    /// True for a clone.
    pub fn is_clone(&self) -> bool {
        matches!(self.kind, EmitKind::Clone(_))
    }
}

/// The output of [`crate::Pipeline::process_burst`], in emission order: for each
/// input frame its clones (replica order), then its original; input order across
/// frames. Reuse one per worker, so that its vectors keep their capacity.
#[derive(Default)]
pub struct EmitBatch {
    pub(crate) emits: Vec<Emit>,
    pub(crate) arena: Vec<u8>,
}

impl std::fmt::Debug for EmitBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmitBatch").field("emits", &self.emits).field("arena_len", &self.arena.len()).finish()
    }
}

impl EmitBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch sized for bursts of `burst` frames.
    pub fn with_capacity(burst: usize) -> Self {
        EmitBatch { emits: Vec::with_capacity(burst * 2), arena: Vec::with_capacity(burst * 128) }
    }

    pub(crate) fn clear(&mut self) {
        self.emits.clear();
        self.arena.clear();
    }

    /// The emitted frames, in order.
    #[inline]
    pub fn emits(&self) -> &[Emit] {
        &self.emits
    }

    /// Iterates over the emitted frames.
    pub fn iter(&self) -> std::slice::Iter<'_, Emit> {
        self.emits.iter()
    }

    /// Number of emitted frames.
    pub fn len(&self) -> usize {
        self.emits.len()
    }

    /// True if nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.emits.is_empty()
    }

    /// The emitted part of a clone's rewritten header.
    #[inline]
    pub fn head(&self, c: &CloneFrame) -> &[u8] {
        let s = c.head_start as usize;
        self.arena.get(s..s + c.head_used()).unwrap_or(&[])
    }

    /// The two parts whose concatenation is the emitted frame: (head from the arena,
    /// part of the input frame). For originals the head is empty. `frames` must be
    /// the burst that produced this batch.
    #[inline]
    pub fn parts<'s, 'f>(&'s self, e: &Emit, frames: &[RxFrame<'f>]) -> (&'s [u8], &'f [u8]) {
        let Some(input) = frames.get(e.input as usize) else {
            return (&[], &[]);
        };
        match e.kind {
            EmitKind::Original => (&[], input.data),
            EmitKind::Clone(c) => {
                let t = c.tail_offset as usize;
                let tail = input.data.get(t..t + c.tail_len()).unwrap_or(&[]);
                (self.head(&c), tail)
            }
        }
    }

    /// Appends the emitted frame's bytes to `out`.
    pub fn materialize(&self, e: &Emit, frames: &[RxFrame<'_>], out: &mut Vec<u8>) {
        let (h, t) = self.parts(e, frames);
        out.extend_from_slice(h);
        out.extend_from_slice(t);
    }

    /// The emitted frame's bytes.
    pub fn to_vec(&self, e: &Emit, frames: &[RxFrame<'_>]) -> Vec<u8> {
        let mut v = Vec::with_capacity(e.len(frames));
        self.materialize(e, frames, &mut v);
        v
    }

    /// Writes the emitted frame's bytes to `w` (e.g. after a pcap record header).
    pub fn write_to<W: io::Write>(&self, e: &Emit, frames: &[RxFrame<'_>], w: &mut W) -> io::Result<()> {
        let (h, t) = self.parts(e, frames);
        w.write_all(h)?;
        w.write_all(t)
    }
}
