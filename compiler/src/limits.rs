//! Every numeric limit a config is checked against, in one place: validation
//! reports values outside them, intent relies on them (block width, VLAN tags,
//! truncation lengths) and lowering encodes values within them.

/// At most this many clone servers per profile (the reference product's limit);
/// also the width of a block of member ids (see [`crate::intent`]).
pub const MAX_CLONE_SERVERS: usize = 10;

/// The highest usable device port: v1model/BMv2 ports are 9 bits and 511 is the
/// drop port.
pub const MAX_DEVICE_PORT: u32 = 510;

/// The smallest non-zero `truncate`: fewer bytes cannot hold Ethernet, a VLAN tag,
/// IP and L4 headers.
pub const MIN_TRUNCATE: u32 = 64;

/// The largest `truncate`: the largest jumbo frame.
pub const MAX_TRUNCATE: u32 = 9216;

/// Lowest usable 802.1Q VLAN id (0 means "priority tag only").
pub const MIN_VLAN: u32 = 1;

/// Highest 802.1Q VLAN id (0 and 4095 are reserved).
pub const MAX_VLAN: u32 = 4094;

/// Highest clone session id a device accepts (BMv2, `docs/targets.md`).
pub const MAX_SESSION_ID: u16 = 32767;

/// Whether `vlan` is a usable VLAN id ([`MIN_VLAN`]..=[`MAX_VLAN`]).
pub fn vlan_in_range(vlan: u32) -> bool {
    (MIN_VLAN..=MAX_VLAN).contains(&vlan)
}
