//! The ERSPAN type II header (8 bytes): version 1, the original VLAN, COS, the
//! encapsulation type (0 untagged, 3 tag kept in the frame), the truncation bit (the
//! MTU cut the copy), the session id; reserved and index 0.

/// Bytes of the header.
pub(super) const LEN: u16 = 8;
/// ERSPAN type II.
const VERSION: u32 = 1;
/// `En`: the original frame's VLAN tag is kept in the copy.
const EN_TAGGED: u32 = 3;

/// Writes the header into `h` (zeroed); `inner_tci` is the original frame's 802.1Q
/// TCI, if any.
pub(super) fn write(h: &mut [u8; LEN as usize], session_id: u16, inner_tci: Option<u16>, truncated: bool) {
    let (vlan, cos, en) = match inner_tci {
        Some(tci) => (u32::from(tci & 0x0FFF), u32::from(tci >> 13), EN_TAGGED),
        None => (0, 0, 0),
    };
    let w0 = (VERSION << 28)
        | (vlan << 16)
        | (cos << 13)
        | (en << 11)
        | (u32::from(truncated) << 10)
        | u32::from(session_id & 0x3FF);
    h[0..4].copy_from_slice(&w0.to_be_bytes());
}
