//! UDP + VXLAN (RFC 7348): destination port 4789, UDP checksum 0, flags 0x08.

/// Bytes of the UDP and VXLAN headers.
pub(super) const UDP_VXLAN_LEN: u16 = 16;
/// The IANA VXLAN port.
const PORT: u16 = 4789;
/// The "VNI valid" flag.
const FLAG_VNI: u8 = 0x08;

/// Writes the UDP header (`udp_len` = UDP header + VXLAN + inner) and the VXLAN
/// header into `h` (zeroed).
pub(super) fn write(h: &mut [u8; UDP_VXLAN_LEN as usize], sport: u16, udp_len: u16, vni: u32) {
    h[0..2].copy_from_slice(&sport.to_be_bytes());
    h[2..4].copy_from_slice(&PORT.to_be_bytes());
    h[4..6].copy_from_slice(&udp_len.to_be_bytes());
    h[8] = FLAG_VNI;
    let v = (vni & 0xFF_FFFF).to_be_bytes();
    h[12..15].copy_from_slice(&v[1..4]);
}
