//! The packet loop: receive bursts from the ports, run them through the pipeline,
//! hand each egress port its frames.
//!
//! The generic loops of [`Engine`] share one burst step ([`Worker::run_burst`]):
//! - [`Engine::run_until_drained`] replays pcap inputs. All inputs are merged into
//!   **one global order** ([`PcapReplay`](crate::ports::PcapReplay): timestamp, ties to the lower port), as
//!   BMv2's `--use-files` does, and processed in bursts of that order until every
//!   input is exhausted. Then every port is flushed. Frames go as fast as the loop
//!   runs: timestamps order the merge and are copied to the outputs, but nothing
//!   waits for them.
//! - [`Engine::run`] serves live ports until a stop flag is raised. It polls the
//!   ports round-robin, one burst (default [`BURST`](p4clone_pipeline::BURST) = 32) per port per pass. When
//!   a whole pass finds nothing it spins briefly, then sleeps from 50 µs up to 1 ms
//!   and flushes outputs about once a second. Replay ports in this loop are read
//!   like live ones, without the global merge. The loop also returns when no live
//!   port is left and every replay input is exhausted.
//!
//! The DPDK lcore loop (`dpdk::run`, cargo feature `dpdk`) runs one loop per
//! worker lcore with its own fast burst step straight from the mbufs
//! (`ports::dpdk::lane`, accounting as below); several file inputs are merged by
//! timestamp on one lcore by the replay loop of [`Engine::run_until_drained`]. All
//! loops report through [`RunReport`], built the same way.
//!
//! Per burst, [`Worker::run_burst`]:
//! 1. counts each received frame (`rx`; zero-length ones also in `rx_zero_length`).
//!    A zero-length frame goes through the pipeline like any other: it cannot be
//!    parsed, so it is forwarded to the wire peer as a zero-length frame, never
//!    cloned, as BMv2 does (see `tests/vectors/zero-length`). Only file inputs can
//!    hold such a record (pcap, or a DPDK `net_pcap` device reading a file):
//!    AF_PACKET and NICs never deliver an empty frame;
//! 2. runs [`Pipeline::process_burst`](p4clone_pipeline::Pipeline::process_burst);
//! 3. groups the emitted frames by egress port, keeping emission order, and calls
//!    each port's [`Port::send_burst`](crate::ports::Port::send_burst) once. Frames of one port therefore leave in
//!    emission order (for one input frame its clones first, then the original; input
//!    order across frames);
//! 4. accounts each frame as sent, alloc-failed or driver-failed (see
//!    [`crate::ports`]). A failed clone adds to the pipeline's per-member
//!    `Diag::AllocFailed` / `Diag::DriverFailed`; a failed original only to the
//!    port's counters.
//!
//! **Frames emitted to a port that has no backend.** With an output directory
//! ([`Engine::with_output_dir`]) the engine opens `DIR/port-<N>.pcap` for that port
//! on first use, so every port that sends frames gets a file. Without one the frames
//! are dropped and counted in the port's `tx_no_port`. Such a clone also counts as
//! `driver_failed` for its member, so `num_succeeded` only counts frames that
//! really left.
//!
//! Nothing is allocated per packet: the receive batch, the pipeline's emit batch,
//! the frame list and the per-port buckets are reused across bursts.
//!
//! Errors: a backend error (`Err` from `recv_burst`/`send_burst`, e.g. a pcap write
//! failing) stops the loop. Ports are flushed (best effort) and the error is
//! returned. Counters keep what happened up to that point.
//!
//! Files: [`Engine`] (`generic.rs`), [`Worker`] (`worker.rs`), [`PortTable`]
//! (`table.rs`), [`IoStats`] / [`PortIo`] (`stats.rs`), [`RunReport`]
//! (`report.rs`), the DPDK lcore loop (`dpdk.rs`).

#[cfg(feature = "dpdk")]
pub mod dpdk;
pub(crate) mod generic;
pub(crate) mod report;
pub(crate) mod stats;
pub(crate) mod table;
pub(crate) mod worker;

pub use generic::{pcap_ports, Engine};
pub use report::{MemberReport, PortReport, RunReport};
pub use stats::{IoStats, PortIo};
pub use table::PortTable;
pub use worker::Worker;
