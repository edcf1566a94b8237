//! DPDK port backend (`N=dpdk:ID`), built with the cargo feature `dpdk`.
//!
//! # EAL
//! The DPDK Environment Abstraction Layer is initialised **once per process** from
//! the user's arguments ([`Eal::init`], the CLI's `--dpdk "EAL ARGS"`), exactly as
//! `rte_eal_init` takes them (`-l 0-1 --no-huge -m 1024 --no-pci --vdev ... -d
//! PMD_DIR`). The thread that initialises it becomes the main lcore; every other
//! lcore of `-l` is a worker that runs the packet loop ([`engine::dpdk::run`](crate::engine::dpdk::run)).
//!
//! # Devices and queues
//! A port spec `N=dpdk:ID` names an ethdev by port id (`0`) or by device name
//! (`net_pcap0`, `0000:01:00.0`). Each device is configured once, with one RX and
//! one TX queue per worker lcore (fewer if the device has fewer), RSS over IP/TCP/UDP
//! where `dev_info.flow_type_rss_offloads` offers it and there is more than one
//! queue, promiscuous mode, and two mempools of its own: `rx` (RX descriptors and
//! forwarded originals) and `tx` (clone headers, indirect clone mbufs and copies).
//! A [`DpdkPort`] is one worker's handle on one device: its RX queue (if it has one)
//! and a TX queue (shared under a lock when there are more workers than queues).
//!
//! A `net_pcap` device reading a file (`rx_pcap=`, without `infinite_rx=1`) is a
//! **replay** input ([`InputKind::Replay`](crate::ports::InputKind::Replay)): its frames carry the records' times
//! (the RX timestamp field net_pcap fills) and it is exhausted when the file is,
//! so the engine merges it with the other inputs by timestamp exactly as it does
//! pcap ports, and `p4clone soft --dpdk` reproduces the pcap backend's output. A
//! `net_pcap` device without an RX stream only transmits ([`InputKind::None`](crate::ports::InputKind::None)).
//! A thread that is not an EAL lcore (the generic engine's) registers itself
//! (`rte_thread_register`) on first use, so the mempool caches serve it too.
//!
//! # Zero copy
//! Received frames stay in their mbufs. In the lcore loop (module `lane`) they go
//! into the pipeline as they lie and each original is handed to its TX queue as is
//! (ownership passes to the driver; dropped frames are freed in bulk). Through the
//! [`Port`](crate::ports::Port) trait (the generic engine) they are
//! [`RxBatch::push_external`](crate::ports::RxBatch::push_external) frames
//! (token = the mbuf pointer), freed in [`Port::release_rx`](crate::ports::Port::release_rx) after the burst was
//! sent. On transmit:
//! - an **original** is the received mbuf itself; through the [`Port`](crate::ports::Port) trait its
//!   reference count is raised by one (`rte_mbuf_refcnt_update`), so releasing the
//!   batch and the driver's TX completion each drop one reference;
//! - a **clone** is either *zero-copy*: a fresh header mbuf holding the rewritten
//!   header (`head`), chained in front of `rte_pktmbuf_clone(original)` (an indirect
//!   mbuf sharing the original's buffer) advanced by `tail_offset` and trimmed to
//!   the tail length; or a *copy*: one mbuf with `head` and `tail` copied in. The
//!   copy needs one allocation instead of two, no atomic reference counts and a
//!   single-segment TX, so [`CloneCopy::Auto`] copies below [`ZERO_COPY_FROM`]
//!   bytes of tail and chains above (the measurements are in BENCHMARKS.md,
//!   "DPDK"). Zero copy needs a device that takes multi-segment frames
//!   (`RTE_ETH_TX_OFFLOAD_MULTI_SEGS`); other devices always get copies. Frames
//!   that did not arrive in a DPDK mbuf (another backend's input, or a
//!   multi-segment mbuf that was linearised on receive) are always copied.
//!
//! # Accounting
//! Every frame of a TX burst ends up exactly one of: sent; [`TxFailure::Alloc`](crate::ports::TxFailure::Alloc) (the
//! `tx` pool had no mbuf: `alloc_failed`, the reference `num_mbuf_alloc_failed`);
//! or [`TxFailure::Driver`](crate::ports::TxFailure::Driver) (`rte_eth_tx_burst` did not take it, after
//! [`DpdkOptions::tx_retries`] retries: `driver_failed`, `num_driver_failures`). Mbufs
//! that were not sent are freed at once, so nothing leaks: after a run, every
//! pool's `rte_mempool_avail_count` is what it was before ([`Eal::pool_usage`]).
//!
//! # Running and shutting down
//! The packet loop over the devices is [`engine::dpdk::run`](crate::engine::dpdk::run):
//! it configures the devices, runs one loop per worker lcore and returns the
//! counters. [`Eal::shutdown`] then stops and closes every device, frees the pools
//! and calls `rte_eal_cleanup`. The ports can also be opened one by one through
//! [`PortSpec::open`](super::PortSpec::open) (one queue, for the generic
//! [`Engine`](crate::engine::Engine)).
//!
//! # Files
//! `eal.rs` (the EAL and the process-wide device table), `device.rs` (ethdevs,
//! their configuration and mempools), `port.rs` ([`DpdkPort`] and the mbufs of
//! transmitted frames), `lane.rs` (the lcore fast path), `options.rs`, `error.rs`.

pub(crate) mod device;
pub(crate) mod eal;
pub(crate) mod error;
pub(crate) mod lane;
pub(crate) mod options;
pub(crate) mod port;

pub use device::{DeviceInfo, DpdkPortStats};
pub use eal::{input_kind, split_args, version, Eal, EthStats, PoolUsage, DEBIAN_PMD_DIR};
pub use error::{DpdkError, Result};
pub use options::{CloneCopy, DpdkOptions, ZERO_COPY_FROM};
pub use port::DpdkPort;
