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
//!
//! Files: the [`Port`] trait (`port.rs`), [`RxBatch`] / [`TxBurst`] (`batch.rs`),
//! [`PortError`] (`error.rs`), the pcap merge [`PcapReplay`] (`replay.rs`), CLI
//! specs (`spec.rs`), and one module per backend.

#[cfg(target_os = "linux")]
pub mod afpacket;
pub(crate) mod batch;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub(crate) mod error;
pub mod pcap;
pub(crate) mod port;
pub(crate) mod replay;
pub(crate) mod spec;

pub use batch::{RxBatch, TxBurst, TxFailure, TxFrame};
pub use error::{PortError, Result};
pub use port::{BackendStats, InputKind, Port, MAX_PORT};
pub use replay::PcapReplay;
pub use spec::{open_ports, parse_port_specs, BackendSpec, PortSpec};
