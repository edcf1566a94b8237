//! The frames of one burst: [`RxBatch`] (received) and [`TxBurst`] (to send on
//! one port), without owned copies (see the [ports docs](super)).

use std::fmt;
use std::io;

use p4clone_pipeline::{CloneFrame, Emit, EmitBatch, EmitKind, RxFrame};

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
    /// dropped (the backend releases it in [`Port::release_rx`](super::port::Port::release_rx)).
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

    /// Marks frame `i` as not sent, and why (see the [module docs](super)).
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
