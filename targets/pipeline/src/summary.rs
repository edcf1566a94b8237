//! A one-line, tcpdump-like decode of a frame, for people reading differences
//! and traces: MACs, VLAN, IP addresses, protocol, ports, TCP flags, length, and
//! where the contract's parser stopped. It reads the frame through the views of
//! [`crate::wire`] and never panics, whatever the bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::{self, EthernetFrame, ParserError, TcpHeader, UdpHeader, VlanTag, L3, L4};

/// `aa:bb:cc:dd:ee:ff`.
fn mac(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// TCP flags in tcpdump's letters.
fn tcp_flags(b: u8) -> String {
    // tcpdump's order: SYN, FIN, RST, PSH, URG, then ACK as `.`
    let names = [(0x02, 'S'), (0x01, 'F'), (0x04, 'R'), (0x08, 'P'), (0x20, 'U'), (0x10, '.')];
    let s: String = names.iter().filter(|(m, _)| b & m != 0).map(|(_, c)| *c).collect();
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

/// A one-line decode of a frame: MACs, VLAN, IP addresses, protocol, ports,
/// TCP flags, length. Never panics, whatever the bytes.
pub fn summarize(frame: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return format!("{} bytes (shorter than an Ethernet header)", frame.len());
    };
    parts.push(format!("{} > {}", mac(eth.src()), mac(eth.dst())));
    let p = wire::parse(frame);
    let mut etype = eth.ethertype();
    if p.vlan {
        if let Ok(tag) = VlanTag::new_checked(&frame[wire::ETHERNET_HEADER_LEN..]) {
            parts.push(if tag.pcp() != 0 {
                format!("vlan {} pcp {}", tag.vid(), tag.pcp())
            } else {
                format!("vlan {}", tag.vid())
            });
            etype = tag.ethertype();
        }
    }
    match p.l3 {
        L3::Ipv4 { .. } => match wire::ipv4_addrs(frame, &p) {
            Some((s, d)) => parts.push(format!("IPv4 {} > {}", Ipv4Addr::from(s), Ipv4Addr::from(d))),
            None => parts.push("IPv4".into()),
        },
        L3::Ipv6 { .. } => match wire::ipv6_addrs(frame, &p) {
            Some((s, d)) => parts.push(format!("IPv6 {} > {}", Ipv6Addr::from(s), Ipv6Addr::from(d))),
            None => parts.push("IPv6".into()),
        },
        L3::None if p.ethernet && p.error.is_none() => parts.push(format!("ethertype 0x{etype:04x}")),
        L3::None => {}
    }
    let l4 = frame.get(usize::from(p.l4_offset)..).unwrap_or_default();
    match p.l4 {
        L4::Tcp => {
            if let Ok(t) = TcpHeader::new_checked(l4) {
                parts.push(format!("TCP {} > {} [{}]", t.src_port(), t.dst_port(), tcp_flags(t.header_bytes()[13])));
            }
        }
        L4::Udp => {
            if let Ok(u) = UdpHeader::new_checked(l4) {
                parts.push(format!("UDP {} > {}", u.src_port(), u.dst_port()));
            }
        }
        L4::None if !matches!(p.l3, L3::None) && p.error.is_none() => parts.push(format!("proto {}", p.ip_proto)),
        L4::None => {}
    }
    match p.error {
        Some(ParserError::PacketTooShort) => parts.push("(parser: packet too short)".into()),
        Some(ParserError::HeaderVerify) => parts.push("(parser: header verify failed)".into()),
        None => {}
    }
    parts.push(format!("{} bytes", frame.len()));
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_frame() -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&[2, 0, 0, 0, 0x50, 0x10]); // dst
        f.extend_from_slice(&[2, 0, 0, 0, 0, 3]); // src
        f.extend_from_slice(&[0x81, 0x00, 0x00, 50, 0x08, 0x00]); // vlan 50, IPv4
        let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 20, 0, 5, 10, 20, 1, 11];
        ip.extend_from_slice(&[0xa0, 0x29, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(&ip);
        f
    }

    #[test]
    fn summary_names_macs_vlan_ips_ports_flags_length() {
        let s = summarize(&tcp_frame());
        assert_eq!(
            s,
            "02:00:00:00:00:03 > 02:00:00:00:50:10, vlan 50, IPv4 10.20.0.5 > 10.20.1.11, TCP 41001 > 8080 [S.], 58 bytes"
        );
        assert_eq!(summarize(&[1, 2, 3]), "3 bytes (shorter than an Ethernet header)");
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.resize(60, 0);
        assert!(summarize(&arp).contains("ethertype 0x0806, 60 bytes"), "{}", summarize(&arp));
        let mut short = tcp_frame();
        short.truncate(40);
        assert!(summarize(&short).contains("(parser: packet too short)"), "{}", summarize(&short));
    }
}
