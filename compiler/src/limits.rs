//! Every numeric limit a config is checked against, in one place: validation
//! reports values outside them, intent relies on them (block width, VLAN tags,
//! truncation lengths) and lowering encodes values within them.

use p4clone_proto::program::limits as program;

/// At most this many clone servers per profile (the reference product's limit);
/// also the width of a block of member ids (see [`crate::intent`]).
pub const MAX_CLONE_SERVERS: usize = 10;

/// The highest usable device port: v1model/BMv2 ports are 9 bits and 511 is the
/// drop port (the program's limit, `p4clone_proto::program::limits`).
pub const MAX_DEVICE_PORT: u32 = program::MAX_DEVICE_PORT as u32;

/// The smallest non-zero `truncate`: fewer bytes cannot hold Ethernet, a VLAN tag,
/// IP and L4 headers.
pub const MIN_TRUNCATE: u32 = 64;

/// The largest `truncate`: the largest jumbo frame.
pub const MAX_TRUNCATE: u32 = 9216;

/// A network's MTU when it states none.
pub const DEFAULT_MTU: u32 = 1500;

/// The smallest MTU a network may state (the IPv4 minimum datagram every host takes).
pub const MIN_MTU: u32 = 576;

/// The largest MTU a network may state (the largest jumbo frame).
pub const MAX_MTU: u32 = 9216;

/// The largest VXLAN network identifier (24 bits).
pub const MAX_VNI: u64 = (1 << 24) - 1;

/// The largest GRE key (32 bits).
pub const MAX_GRE_KEY: u64 = u32::MAX as u64;

/// The largest ERSPAN session id (10 bits).
pub const MAX_ERSPAN_SESSION: u64 = 1023;

/// Lowest usable 802.1Q VLAN id (0 means "priority tag only").
pub const MIN_VLAN: u32 = 1;

/// Highest 802.1Q VLAN id (0 and 4095 are reserved).
pub const MAX_VLAN: u32 = program::MAX_VLAN as u32;

/// Highest clone session id a device accepts (BMv2, `docs/targets.md`).
pub const MAX_SESSION_ID: u16 = program::MAX_CLONE_SESSION;

/// Whether `vlan` is a usable VLAN id ([`MIN_VLAN`]..=[`MAX_VLAN`]).
pub fn vlan_in_range(vlan: u32) -> bool {
    (MIN_VLAN..=MAX_VLAN).contains(&vlan)
}
