//! Zero-copy typed views over packet bytes, and the contract's parser.
//!
//! In the style of smoltcp, every header type wraps a buffer `T: AsRef<[u8]>` and
//! reads (or, for `T: AsMut<[u8]>`, writes) fields in place. The only constructors
//! are `new_checked`, which check the length first. After that no accessor can
//! panic, whatever the bytes are. Multi-byte fields are big-endian on the wire and
//! are returned as host integers: an IPv4 address is a `u32` whose most significant
//! byte is the first on the wire, and an IPv6 address is a `u128` laid out the same way.
//!
//! [`parse`] implements the parser of `docs/dataplane.md` exactly: Ethernet, one
//! optional 802.1Q tag, IPv4 (`verify(version == 4 && ihl >= 5)`, options by IHL,
//! stop at `frag_offset != 0`) or IPv6 (`verify(version == 6)`, extension headers
//! not walked), then TCP or UDP. A failure stops the parser; the headers extracted
//! so far stay valid and the frame is never dropped for it.

use thiserror::Error;

/// Length of an Ethernet II header (no FCS).
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Length of one 802.1Q tag (TCI + inner EtherType).
pub const VLAN_TAG_LEN: usize = 4;
/// Length of an IPv4 header without options.
pub const IPV4_MIN_HEADER_LEN: usize = 20;
/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Length of the TCP header as the contract parses it (options are payload).
pub const TCP_HEADER_LEN: usize = 20;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// The longest L2..L4 header stack the parser can extract: Ethernet, one tag,
/// IPv4 with 40 bytes of options, TCP.
pub const MAX_HEADER_STACK: usize = ETHERNET_HEADER_LEN + VLAN_TAG_LEN + 60 + TCP_HEADER_LEN;

/// EtherType values the parser branches on.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IPv6.
    pub const IPV6: u16 = 0x86DD;
}

/// IP protocol numbers the parser branches on.
pub mod ip_proto {
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

/// Why a view could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// The buffer is shorter than the header.
    #[error("buffer too short for {header}: need {need} bytes, have {have}")]
    Truncated {
        /// Header name.
        header: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

#[inline(always)]
fn check(buf: &[u8], need: usize, header: &'static str) -> Result<(), WireError> {
    if buf.len() < need {
        Err(WireError::Truncated { header, need, have: buf.len() })
    } else {
        Ok(())
    }
}

// The accessors below index with constant offsets that the constructors checked.
// `get` + `unwrap_or` would hide a bug; plain indexing keeps the check the compiler
// can elide, and `new_checked` guarantees it never fails.
#[inline(always)]
fn rd16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}
#[inline(always)]
fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}
#[inline(always)]
fn rd128(b: &[u8], off: usize) -> u128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[off..off + 16]);
    u128::from_be_bytes(a)
}
#[inline(always)]
fn wr16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}
#[inline(always)]
fn wr32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}
#[inline(always)]
fn wr128(b: &mut [u8], off: usize, v: u128) {
    b[off..off + 16].copy_from_slice(&v.to_be_bytes());
}

macro_rules! view_common {
    ($name:ident, $len:expr, $hname:literal) => {
        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps `buffer` after checking it holds the whole header.
            pub fn new_checked(buffer: T) -> Result<Self, WireError> {
                check(buffer.as_ref(), $len, $hname)?;
                Ok(Self { buffer })
            }
            /// Gives the buffer back.
            pub fn into_inner(self) -> T {
                self.buffer
            }
            /// The header bytes (the fixed part).
            pub fn header_bytes(&self) -> &[u8] {
                &self.buffer.as_ref()[..$len]
            }
            /// Everything after the fixed header.
            pub fn payload(&self) -> &[u8] {
                &self.buffer.as_ref()[$len..]
            }
        }
    };
}

/// An Ethernet II header: destination, source, EtherType.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T> {
    buffer: T,
}
view_common!(EthernetFrame, ETHERNET_HEADER_LEN, "ethernet");

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Destination MAC.
    pub fn dst(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }
    /// Source MAC.
    pub fn src(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[6], b[7], b[8], b[9], b[10], b[11]]
    }
    /// EtherType.
    pub fn ethertype(&self) -> u16 {
        rd16(self.buffer.as_ref(), 12)
    }
}
/// One 802.1Q tag: TCI (pcp 3, dei 1, vid 12) and the inner EtherType.
#[derive(Debug, Clone)]
pub struct VlanTag<T> {
    buffer: T,
}
view_common!(VlanTag, VLAN_TAG_LEN, "802.1Q tag");

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// The whole TCI.
    pub fn tci(&self) -> u16 {
        rd16(self.buffer.as_ref(), 0)
    }
    /// Priority code point.
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }
    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }
    /// VLAN id.
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0FFF
    }
    /// EtherType of what follows the tag.
    pub fn ethertype(&self) -> u16 {
        rd16(self.buffer.as_ref(), 2)
    }
}
/// An IPv4 header (the fixed 20 bytes; options are reachable with [`Ipv4Packet::options`]).
#[derive(Debug, Clone)]
pub struct Ipv4Packet<T> {
    buffer: T,
}
view_common!(Ipv4Packet, IPV4_MIN_HEADER_LEN, "ipv4");

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }
    /// IHL in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x0F
    }
    /// `ihl * 4`.
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }
    /// The contract's `verify(version == 4 && ihl >= 5)`.
    pub fn verify(&self) -> bool {
        self.version() == 4 && self.ihl() >= 5
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), 2)
    }
    /// Fragment offset (13 bits, in 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        rd16(self.buffer.as_ref(), 6) & 0x1FFF
    }
    /// Protocol.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[9]
    }
    /// Header checksum.
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), 10)
    }
    /// Source address.
    pub fn src(&self) -> u32 {
        rd32(self.buffer.as_ref(), 12)
    }
    /// Destination address.
    pub fn dst(&self) -> u32 {
        rd32(self.buffer.as_ref(), 16)
    }
    /// The options, `(ihl - 5) * 4` bytes. `None` when IHL < 5 or the buffer is too short.
    pub fn options(&self) -> Option<&[u8]> {
        let hl = self.header_len();
        if hl < IPV4_MIN_HEADER_LEN {
            return None;
        }
        self.buffer.as_ref().get(IPV4_MIN_HEADER_LEN..hl)
    }
}
impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the source address.
    pub fn set_src(&mut self, v: u32) {
        wr32(self.buffer.as_mut(), 12, v);
    }
    /// Sets the destination address.
    pub fn set_dst(&mut self, v: u32) {
        wr32(self.buffer.as_mut(), 16, v);
    }
    /// Sets the header checksum.
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 10, v);
    }
}

/// The fixed IPv6 header.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T> {
    buffer: T,
}
view_common!(Ipv6Packet, IPV6_HEADER_LEN, "ipv6");

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }
    /// The contract's `verify(version == 6)`.
    pub fn verify(&self) -> bool {
        self.version() == 6
    }
    /// Payload length field.
    pub fn payload_len(&self) -> u16 {
        rd16(self.buffer.as_ref(), 4)
    }
    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[6]
    }
    /// Source address.
    pub fn src(&self) -> u128 {
        rd128(self.buffer.as_ref(), 8)
    }
    /// Destination address.
    pub fn dst(&self) -> u128 {
        rd128(self.buffer.as_ref(), 24)
    }
}
impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets the source address.
    pub fn set_src(&mut self, v: u128) {
        wr128(self.buffer.as_mut(), 8, v);
    }
    /// Sets the destination address.
    pub fn set_dst(&mut self, v: u128) {
        wr128(self.buffer.as_mut(), 24, v);
    }
}

/// The first 20 bytes of a TCP header.
#[derive(Debug, Clone)]
pub struct TcpHeader<T> {
    buffer: T,
}
view_common!(TcpHeader, TCP_HEADER_LEN, "tcp");

impl<T: AsRef<[u8]>> TcpHeader<T> {
    /// Source port.
    pub fn src_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), 2)
    }
    /// Checksum.
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), 16)
    }
}
impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpHeader<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 0, v);
    }
    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 2, v);
    }
    /// Sets the checksum.
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 16, v);
    }
}

/// A UDP header.
#[derive(Debug, Clone)]
pub struct UdpHeader<T> {
    buffer: T,
}
view_common!(UdpHeader, UDP_HEADER_LEN, "udp");

impl<T: AsRef<[u8]>> UdpHeader<T> {
    /// Source port.
    pub fn src_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        rd16(self.buffer.as_ref(), 2)
    }
    /// Length field.
    pub fn len(&self) -> u16 {
        rd16(self.buffer.as_ref(), 4)
    }
    /// True when the length field is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Checksum (0 = none).
    pub fn checksum(&self) -> u16 {
        rd16(self.buffer.as_ref(), 6)
    }
}
impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpHeader<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 0, v);
    }
    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 2, v);
    }
    /// Sets the checksum.
    pub fn set_checksum(&mut self, v: u16) {
        wr16(self.buffer.as_mut(), 6, v);
    }
}

/// Why the parser stopped before the end of the header stack (v1model `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParserError {
    /// `error.PacketTooShort`: a header did not fit in the frame.
    PacketTooShort,
    /// A `verify` failed (IPv4 version/IHL, IPv6 version).
    HeaderVerify,
}

/// Which L3 header the parser extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3 {
    /// None.
    None,
    /// IPv4 at `ParsedFrame::l3_offset`, `header_len` bytes including options.
    /// `verified` is false when `verify` failed (the header was extracted, so in
    /// v1model it stays valid, but nothing after it was parsed).
    Ipv4 {
        /// Header length including options (`ihl * 4`).
        header_len: u8,
        /// Whether `verify(version == 4 && ihl >= 5)` passed and the options fit.
        verified: bool,
    },
    /// IPv6 at `ParsedFrame::l3_offset`.
    Ipv6 {
        /// Whether `verify(version == 6)` passed.
        verified: bool,
    },
}

/// Which L4 header the parser extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// None.
    None,
    /// TCP (20 bytes) at `ParsedFrame::l4_offset`.
    Tcp,
    /// UDP (8 bytes) at `ParsedFrame::l4_offset`.
    Udp,
}

/// What [`parse`] found: offsets of the valid headers, and the fields the pipeline keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedFrame {
    /// Ethernet header extracted.
    pub ethernet: bool,
    /// One 802.1Q tag extracted (at offset 14).
    pub vlan: bool,
    /// End of the L2 headers: 0 (no Ethernet), 14, or 18 (tagged).
    pub l2_len: u8,
    /// The L3 header.
    pub l3: L3,
    /// Offset of the L3 header (= `l2_len`).
    pub l3_offset: u8,
    /// The L4 header.
    pub l4: L4,
    /// Offset of the L4 header.
    pub l4_offset: u8,
    /// `meta.l4_src_port`: TCP/UDP source port, 0 when neither is valid.
    pub l4_src_port: u16,
    /// `meta.l4_dst_port`: TCP/UDP destination port, 0 when neither is valid.
    pub l4_dst_port: u16,
    /// IPv4 protocol or IPv6 next header (0 when no L3).
    pub ip_proto: u8,
    /// Why the parser stopped early, if it did.
    pub error: Option<ParserError>,
}

impl Default for ParsedFrame {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl ParsedFrame {
    const EMPTY: ParsedFrame = ParsedFrame {
        ethernet: false,
        vlan: false,
        l2_len: 0,
        l3: L3::None,
        l3_offset: 0,
        l4: L4::None,
        l4_offset: 0,
        l4_src_port: 0,
        l4_dst_port: 0,
        ip_proto: 0,
        error: None,
    };

    /// TCP or UDP valid (the condition for classification).
    #[inline]
    pub fn l4_valid(&self) -> bool {
        self.l4 != L4::None
    }

    /// Offset just past the L4 header (0 when no L4).
    #[inline]
    pub fn l4_end(&self) -> usize {
        match self.l4 {
            L4::None => 0,
            L4::Tcp => usize::from(self.l4_offset) + TCP_HEADER_LEN,
            L4::Udp => usize::from(self.l4_offset) + UDP_HEADER_LEN,
        }
    }
}

/// Parses `frame` exactly as the contract's P4 parser does. Never panics.
#[inline]
pub fn parse(frame: &[u8]) -> ParsedFrame {
    let mut p = ParsedFrame::EMPTY;
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        p.error = Some(ParserError::PacketTooShort);
        return p;
    };
    p.ethernet = true;
    p.l2_len = ETHERNET_HEADER_LEN as u8;
    let mut etype = eth.ethertype();
    if etype == ethertype::VLAN {
        let Ok(tag) = VlanTag::new_checked(&frame[ETHERNET_HEADER_LEN..]) else {
            p.error = Some(ParserError::PacketTooShort);
            return p;
        };
        p.vlan = true;
        p.l2_len = (ETHERNET_HEADER_LEN + VLAN_TAG_LEN) as u8;
        etype = tag.ethertype();
    }
    let l3_off = usize::from(p.l2_len);
    p.l3_offset = p.l2_len;
    let l3 = &frame[l3_off..];
    let (proto, l4_off) = match etype {
        ethertype::IPV4 => {
            let Ok(ip) = Ipv4Packet::new_checked(l3) else {
                p.error = Some(ParserError::PacketTooShort);
                return p;
            };
            let hl = ip.header_len();
            p.l3 = L3::Ipv4 { header_len: hl as u8, verified: false };
            p.ip_proto = ip.protocol();
            if !ip.verify() {
                p.error = Some(ParserError::HeaderVerify);
                return p;
            }
            if l3.len() < hl {
                // The options (varbit) did not fit.
                p.error = Some(ParserError::PacketTooShort);
                return p;
            }
            p.l3 = L3::Ipv4 { header_len: hl as u8, verified: true };
            if ip.frag_offset() != 0 {
                return p;
            }
            (ip.protocol(), l3_off + hl)
        }
        ethertype::IPV6 => {
            let Ok(ip) = Ipv6Packet::new_checked(l3) else {
                p.error = Some(ParserError::PacketTooShort);
                return p;
            };
            p.l3 = L3::Ipv6 { verified: false };
            p.ip_proto = ip.next_header();
            if !ip.verify() {
                p.error = Some(ParserError::HeaderVerify);
                return p;
            }
            p.l3 = L3::Ipv6 { verified: true };
            (ip.next_header(), l3_off + IPV6_HEADER_LEN)
        }
        _ => return p,
    };
    let l4 = &frame[l4_off..];
    match proto {
        ip_proto::TCP => {
            let Ok(tcp) = TcpHeader::new_checked(l4) else {
                p.error = Some(ParserError::PacketTooShort);
                return p;
            };
            p.l4 = L4::Tcp;
            p.l4_src_port = tcp.src_port();
            p.l4_dst_port = tcp.dst_port();
        }
        ip_proto::UDP => {
            let Ok(udp) = UdpHeader::new_checked(l4) else {
                p.error = Some(ParserError::PacketTooShort);
                return p;
            };
            p.l4 = L4::Udp;
            p.l4_src_port = udp.src_port();
            p.l4_dst_port = udp.dst_port();
        }
        _ => return p,
    }
    p.l4_offset = l4_off as u8;
    p
}

/// Reads the IPv4 addresses of a frame whose [`ParsedFrame::l3`] is IPv4.
/// Returns `(src, dst)`, or `None` if the frame is too short.
#[inline]
pub fn ipv4_addrs(frame: &[u8], p: &ParsedFrame) -> Option<(u32, u32)> {
    let ip = Ipv4Packet::new_checked(frame.get(usize::from(p.l3_offset)..)?).ok()?;
    Some((ip.src(), ip.dst()))
}

/// Reads the IPv6 addresses of a frame whose [`ParsedFrame::l3`] is IPv6.
/// Returns `(src, dst)`, or `None` if the frame is too short.
#[inline]
pub fn ipv6_addrs(frame: &[u8], p: &ParsedFrame) -> Option<(u128, u128)> {
    let ip = Ipv6Packet::new_checked(frame.get(usize::from(p.l3_offset)..)?).ok()?;
    Some((ip.src(), ip.dst()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(etype: u16) -> Vec<u8> {
        let mut f = vec![0xAA; 12];
        f.extend_from_slice(&etype.to_be_bytes());
        f
    }

    fn ipv4(proto: u8, ihl: u8, frag: u16) -> Vec<u8> {
        let mut h = vec![0u8; usize::from(ihl.max(5)) * 4];
        h[0] = 0x40 | ihl;
        h[6..8].copy_from_slice(&frag.to_be_bytes());
        h[9] = proto;
        h[12..16].copy_from_slice(&[10, 0, 0, 1]);
        h[16..20].copy_from_slice(&[10, 0, 0, 2]);
        h
    }

    fn tcp(sp: u16, dp: u16) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[0..2].copy_from_slice(&sp.to_be_bytes());
        h[2..4].copy_from_slice(&dp.to_be_bytes());
        h[12] = 0x50;
        h
    }

    #[test]
    fn full_tcp_v4() {
        let mut f = eth(ethertype::IPV4);
        f.extend(ipv4(6, 5, 0));
        f.extend(tcp(1234, 80));
        let p = parse(&f);
        assert!(p.ethernet && !p.vlan);
        assert_eq!(p.l3, L3::Ipv4 { header_len: 20, verified: true });
        assert_eq!(p.l4, L4::Tcp);
        assert_eq!((p.l4_src_port, p.l4_dst_port), (1234, 80));
        assert_eq!(p.l4_offset, 34);
        assert_eq!(p.l4_end(), 54);
        assert_eq!(p.error, None);
        assert_eq!(ipv4_addrs(&f, &p), Some((0x0A000001, 0x0A000002)));
    }

    #[test]
    fn vlan_and_options() {
        let mut f = eth(ethertype::VLAN);
        f.extend_from_slice(&[0xE0, 0x64, 0x08, 0x00]);
        f.extend(ipv4(17, 7, 0));
        f.extend_from_slice(&[0, 53, 0, 99, 0, 8, 0, 0]);
        let p = parse(&f);
        assert!(p.vlan);
        assert_eq!(p.l2_len, 18);
        assert_eq!(p.l3, L3::Ipv4 { header_len: 28, verified: true });
        assert_eq!(p.l4, L4::Udp);
        assert_eq!(p.l4_offset, 18 + 28);
        assert_eq!((p.l4_src_port, p.l4_dst_port), (53, 99));
        let tag = VlanTag::new_checked(&f[14..]).unwrap();
        assert_eq!((tag.pcp(), tag.dei(), tag.vid()), (7, false, 100));
    }

    #[test]
    fn second_tag_is_payload() {
        let mut f = eth(ethertype::VLAN);
        f.extend_from_slice(&[0, 5, 0x81, 0x00]);
        f.extend_from_slice(&[0, 6, 0x08, 0x00]);
        f.extend(ipv4(6, 5, 0));
        f.extend(tcp(1, 2));
        let p = parse(&f);
        assert!(p.vlan);
        assert_eq!(p.l3, L3::None);
        assert_eq!(p.l4, L4::None);
        assert_eq!(p.error, None);
    }

    #[test]
    fn fragments_stop_before_l4() {
        let mut f = eth(ethertype::IPV4);
        f.extend(ipv4(6, 5, 3));
        f.extend(tcp(1, 2));
        let p = parse(&f);
        assert_eq!(p.l3, L3::Ipv4 { header_len: 20, verified: true });
        assert_eq!(p.l4, L4::None);
        assert_eq!((p.l4_src_port, p.l4_dst_port), (0, 0));
        // MF alone (offset 0) is parsed.
        let mut f = eth(ethertype::IPV4);
        f.extend(ipv4(6, 5, 0x2000));
        f.extend(tcp(1, 2));
        assert_eq!(parse(&f).l4, L4::Tcp);
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(&[]).error, Some(ParserError::PacketTooShort));
        assert!(!parse(&[0; 13]).ethernet);
        // IHL < 5.
        let mut f = eth(ethertype::IPV4);
        let mut ip = ipv4(6, 5, 0);
        ip[0] = 0x44;
        f.extend(ip);
        f.extend(tcp(1, 2));
        let p = parse(&f);
        assert_eq!(p.error, Some(ParserError::HeaderVerify));
        assert_eq!(p.l4, L4::None);
        // Bad version.
        let mut f = eth(ethertype::IPV4);
        let mut ip = ipv4(6, 5, 0);
        ip[0] = 0x65;
        f.extend(ip);
        f.extend(tcp(1, 2));
        assert_eq!(parse(&f).error, Some(ParserError::HeaderVerify));
        // Options longer than the frame.
        let mut f = eth(ethertype::IPV4);
        let mut ip = ipv4(6, 5, 0);
        ip[0] = 0x4F;
        f.extend(ip);
        let p = parse(&f);
        assert_eq!(p.error, Some(ParserError::PacketTooShort));
        assert_eq!(p.l4, L4::None);
        // Truncated TCP.
        let mut f = eth(ethertype::IPV4);
        f.extend(ipv4(6, 5, 0));
        f.extend(&tcp(1, 2)[..19]);
        let p = parse(&f);
        assert_eq!(p.error, Some(ParserError::PacketTooShort));
        assert_eq!(p.l4, L4::None);
        // Truncated IPv6.
        let mut f = eth(ethertype::IPV6);
        f.extend([0x60; 39]);
        assert_eq!(parse(&f).error, Some(ParserError::PacketTooShort));
        // Truncated tag.
        let mut f = eth(ethertype::VLAN);
        f.extend([0; 3]);
        let p = parse(&f);
        assert!(p.ethernet && !p.vlan);
    }

    #[test]
    fn setters_round_trip() {
        let mut b = [0u8; 40];
        let mut ip = Ipv6Packet::new_checked(&mut b[..]).unwrap();
        ip.set_src(0x2001_0db8 << 96 | 1);
        ip.set_dst(u128::MAX - 5);
        assert_eq!(ip.src(), 0x2001_0db8 << 96 | 1);
        assert_eq!(ip.dst(), u128::MAX - 5);
        let mut t = [0u8; 20];
        let mut tcp = TcpHeader::new_checked(&mut t[..]).unwrap();
        tcp.set_src_port(40000);
        tcp.set_dst_port(80);
        tcp.set_checksum(0xBEEF);
        assert_eq!((tcp.src_port(), tcp.dst_port(), tcp.checksum()), (40000, 80, 0xBEEF));
        assert!(Ipv4Packet::new_checked(&[0u8; 19][..]).is_err());
        assert!(UdpHeader::new_checked(&[0u8; 7][..]).is_err());
    }
}
