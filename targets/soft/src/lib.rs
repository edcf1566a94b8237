//! The p4clone software target: the clone pipeline ([`p4clone_pipeline`]) behind
//! port backends, programmed through an embedded P4Runtime server, so the runtime
//! treats it exactly like a hardware switch.
//!
//! - [`server`]: the P4Runtime gRPC service (arbitration, pipeline config, Write, Read).
//! - [`translate`]: P4Runtime entities <-> pipeline table operations, through the P4Info.
//! - [`ports`]: the port trait and its backends (pcap files, AF_PACKET sockets and,
//!   with the cargo feature `dpdk`, DPDK ethdevs).
//! - [`engine`]: the packet loops: receive bursts, run the pipeline, transmit (the
//!   generic loop over any backend and, with `dpdk`, the DPDK lcore loop).

pub mod engine;
pub mod ports;
pub mod server;
pub mod translate;
