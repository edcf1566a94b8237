//! # p4clone-pipeline: the clone pipeline as a software data plane
//!
//! The software target's packet pipeline. It behaves byte-for-byte like BMv2
//! running `p4src/traffic_clone.p4`, as specified in `docs/dataplane.md`. It does no
//! I/O: port backends (pcap, AF_PACKET, DPDK) feed it bursts of frames and transmit
//! what it emits, and the P4Runtime server translates P4Runtime entities into its
//! typed table operations.
//!
//! ## Contents
//! | module | what |
//! |---|---|
//! | [`wire`] | zero-copy header views (Ethernet, 802.1Q, IPv4, IPv6, TCP, UDP) and the contract's parser, [`wire::parse`] |
//! | [`summary`] | a one-line, tcpdump-like decode of a frame, for people (`p4clone diff`) |
//! | [`csum`] | Internet checksum and the RFC 1624 incremental updates used by the NAT restore |
//! | [`hash`] | BMv2's `crc32` and the symmetric flow hash |
//! | [`table`] | the tables as data: one [`Table`] definition per table (entries, actions, P4Info contract, storage), [`TableOp`], [`TableError`]; tuple-space search for the ternary tables |
//! | [`sizes`] | table, port and id sizes of the program |
//! | [`state`] | counters (sharded per worker), the `rr_cursor` register, diagnostics |
//! | [`emit`] | [`RxFrame`] in, [`EmitBatch`] out: originals by reference, clones as header + tail |
//! | [`pipeline`] | [`Pipeline`]: atomic write batches (left-right), reads, [`Pipeline::process_burst`] with a [`WorkerState`] |
//! | `sync` (private) | the left-right primitive: two copies, lock-free readers |
//! | `mem` (private) | cache-line/2 MiB-aligned arrays backed by transparent huge pages |
//!
//! ## Use
//! ```
//! use p4clone_pipeline::*;
//! let p = Pipeline::new();
//! let results = p.apply([
//!     TableOp::new(WIRE, Op::Insert(WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] })),
//!     TableOp::new(WIRE, Op::Delete(9)),
//! ]);
//! assert!(results[0].is_ok());
//! assert_eq!(results[1], Err(TableError::NotFound { table: TableId::Wire }));
//!
//! let frame = [0u8; 60];
//! let frames = [RxFrame { port: 1, data: &frame }];
//! let mut worker = WorkerState::new();
//! let mut out = EmitBatch::with_capacity(BURST);
//! p.process_burst(&frames, &mut worker, &mut out);
//! assert_eq!(out.len(), 1);
//! assert_eq!(out.to_vec(&out.emits()[0], &frames), frame);
//! ```
//!
//! ## Decisions
//! - **Tie rule**: the highest priority wins. Between overlapping entries of equal
//!   priority, the one inserted earliest wins (see [`table`]).
//! - **Atomic batches**: left-right double buffering. Operations go to the back copy,
//!   one atomic swap publishes it, and they are replayed on the other copy. Readers
//!   never lock (see [`pipeline`]).
//! - **Output**: originals by reference to the input frame; clones as a rewritten
//!   header in a reusable arena plus the unchanged tail of the input, cut to the
//!   emitted length, ready for pcap concatenation or DPDK mbuf chaining (see [`emit`]).
//! - **Counters**: per-worker shards (plain stores, no `lock` prefix), summed on
//!   read; MODIFY sets a base (see [`state`]).
#![warn(missing_docs)]

pub mod csum;
pub mod emit;
mod encap;
pub mod hash;
mod mem;
pub mod pipeline;
pub mod sizes;
pub mod state;
pub mod summary;
mod sync;
pub mod table;
pub mod wire;

pub use emit::{CloneFrame, Emit, EmitBatch, EmitKind, RxFrame};
pub use pipeline::{Pipeline, TableSizes, WorkerState, WriteBatch, BURST};
pub use state::{Counter, CounterValue, Diag, PortCounter, PortStats, COUNTER_SIZE, RR_CURSOR_SIZE};
pub use table::{
    ActionValues, ClassifyAction, ClassifyEntry, ClassifyEntryV4, ClassifyEntryV6, ClassifyKey, ClassifyKeyV4,
    ClassifyKeyV6, ClassifyRecord, ClassifyTable, CloneSession, CloneSessionEntry, EncapAction, EncapEntry, EncapTable,
    EntryOp, EntryValues, Family, MatchValues, NatAction, NatActionV4, NatActionV6, NatDir, NatEntry, NatEntryV4,
    NatEntryV6, NatKey, NatKeyV4, NatKeyV6, NatTable, Op, Outer, Port, Replica, RewriteAction, RewriteEntry,
    RewriteParams, RewriteTable, Schema, SessionOp, Table, TableError, TableId, TableOp, Ternary, ValuesOp, WireAction,
    WireEntry, WireTable, CLASSIFY_V4, CLASSIFY_V6, CLONE_ENCAP, CLONE_REWRITE, DROP_PORT, ENCAP_SIZE, ERSPAN_SEQ_SIZE,
    MODE_FLOW_HASH, MODE_ROUND_ROBIN, NAT_DST_V4, NAT_DST_V6, NAT_SRC_V4, NAT_SRC_V6, SAMPLE_FLOWS, SAMPLE_ONE_IN, V4,
    V6, WIRE,
};

/// Compile-time check that the pipeline can be shared between workers.
const _: fn() = || {
    fn sync<T: Send + Sync>() {}
    sync::<Pipeline>();
};
