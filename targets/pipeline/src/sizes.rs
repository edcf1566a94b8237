//! Sizes of the program's tables, ports and ids (`p4src/traffic_clone.p4`).

/// A port number (9 bits in v1model: 0..=511).
pub type Port = u16;
/// Number of port numbers (`bit<9>`).
pub const PORT_COUNT: usize = 512;
/// v1model's drop port: `mark_to_drop` sets `egress_spec` to it, and a frame sent there never leaves.
pub const DROP_PORT: Port = 511;

/// Size of `wire`.
pub const WIRE_SIZE: usize = 512;
/// Size of `clone_classify_v4`.
pub const CLASSIFY_V4_SIZE: usize = 262_144;
/// Size of `clone_classify_v6`.
pub const CLASSIFY_V6_SIZE: usize = 65_536;
/// Size of `clone_rewrite`.
pub const REWRITE_SIZE: usize = 32_768;
/// Size of each of `nat_src_v4`, `nat_dst_v4`.
pub const NAT_V4_SIZE: usize = 65_536;
/// Size of each of `nat_src_v6`, `nat_dst_v6`.
pub const NAT_V6_SIZE: usize = 16_384;
/// Highest clone session id BMv2 accepts (32768 is refused).
pub const MAX_SESSION_ID: u16 = 32_767;
/// Size of `clone_encap`.
pub const ENCAP_SIZE: usize = 32_768;
/// Cells of the `erspan_seq` register (indexed by member id).
pub const ERSPAN_SEQ_SIZE: usize = 32_768;
