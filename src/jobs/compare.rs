//! Comparing two targets' outputs (or a target's and a vector's expected
//! frames) frame by frame: per port, byte for byte and in order, timestamps
//! ignored; and a one-line decode of a frame for people to read the
//! differences.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use p4clone_pipeline::wire::{self, EthernetFrame, ParserError, TcpHeader, UdpHeader, VlanTag, L3, L4};
use p4clone_soft::ports::pcap::read_all;

use crate::jobs::error::JobError;

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

/// Ranges `[start, end]` (inclusive) of byte offsets where `a` and `b` differ,
/// over the common length; bytes only one of them has form a last range.
pub fn differing_ranges(a: &[u8], b: &[u8]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            match out.last_mut() {
                Some(r) if r.1 + 1 == i => r.1 = i,
                _ => out.push((i, i)),
            }
        }
    }
    let (short, long) = (a.len().min(b.len()), a.len().max(b.len()));
    if long > short {
        match out.last_mut() {
            Some(r) if r.1 + 1 == short => r.1 = long - 1,
            _ => out.push((short, long - 1)),
        }
    }
    out
}

/// One differing frame.
#[derive(Debug, Clone)]
pub struct FrameDiff {
    /// 0-based index in the port's output.
    pub index: usize,
    /// Side A's frame (`None`: A has no frame at this index).
    pub a: Option<Vec<u8>>,
    /// Side B's frame.
    pub b: Option<Vec<u8>>,
}

/// One port's comparison.
#[derive(Debug, Clone)]
pub struct PortDiff {
    /// The port.
    pub port: u16,
    /// Frames on side A.
    pub a_frames: usize,
    /// Frames on side B.
    pub b_frames: usize,
    /// Indices present on both sides whose frames differ.
    pub differing: usize,
    /// The first differences (mismatches, then frames only one side has).
    pub shown: Vec<FrameDiff>,
    /// What a count difference looks like, when it is simple.
    pub note: Option<String>,
}

impl PortDiff {
    /// Whether the port's outputs are identical.
    pub fn identical(&self) -> bool {
        self.differing == 0 && self.a_frames == self.b_frames
    }
}

/// Compares two ports' frame lists; `max` bounds [`PortDiff::shown`].
///
/// When one side is the other plus a run of extra frames (a frame lost or
/// added, everything else equal and in order), only those frames are shown;
/// otherwise frames are compared index by index.
pub fn compare_port(port: u16, a: &[Vec<u8>], b: &[Vec<u8>], a_name: &str, b_name: &str, max: usize) -> PortDiff {
    let common = a.len().min(b.len());
    let first = a.iter().zip(b).position(|(x, y)| x != y);
    if a.len() != b.len() {
        let (long, short, ln) = if a.len() > b.len() { (a, b, a_name) } else { (b, a, b_name) };
        let d = long.len() - short.len();
        let i = first.unwrap_or(common);
        if long[i + d..] == short[i..] {
            let a_long = a.len() > b.len();
            let shown = (i..i + d)
                .take(max)
                .map(|k| FrameDiff {
                    index: k,
                    a: if a_long { Some(long[k].clone()) } else { None },
                    b: if a_long { None } else { Some(long[k].clone()) },
                })
                .collect();
            let note = if d == 1 {
                format!("{ln} has one frame more: its frame {i}; all others match in order")
            } else {
                format!("{ln} has {d} frames more: its frames {i}..={}; all others match in order", i + d - 1)
            };
            return PortDiff { port, a_frames: a.len(), b_frames: b.len(), differing: 0, shown, note: Some(note) };
        }
    }
    let mut shown = Vec::new();
    let mut differing = 0;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            differing += 1;
            if shown.len() < max {
                shown.push(FrameDiff { index: i, a: Some(x.clone()), b: Some(y.clone()) });
            }
        }
    }
    if a.len() != b.len() && shown.len() < max {
        shown.push(FrameDiff { index: common, a: a.get(common).cloned(), b: b.get(common).cloned() });
    }
    let note = (a.len() != b.len())
        .then(|| format!("frame counts differ ({a_name} {}, {b_name} {}) and frames differ besides", a.len(), b.len()));
    PortDiff { port, a_frames: a.len(), b_frames: b.len(), differing, shown, note }
}

/// A pcap file's frames in order, timestamps dropped (none if the file does
/// not exist).
pub fn frames_of(path: &Path) -> Result<Vec<Vec<u8>>, JobError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    read_all(path)
        .map(|v| v.into_iter().map(|r| r.1).collect())
        .map_err(|e| JobError::Runtime(format!("cannot read {}: {e}", path.display())))
}

/// One comparison: side A against side B over every port either has.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What was compared (config and device, or vector case).
    pub name: String,
    /// Side A's name (a target).
    pub a: String,
    /// Side B's name (a target or `expected`).
    pub b: String,
    /// Per port, ascending.
    pub ports: Vec<PortDiff>,
    /// A target failed instead of producing output.
    pub error: Option<String>,
}

impl Comparison {
    /// No port differs and no target failed.
    pub fn identical(&self) -> bool {
        self.error.is_none() && self.ports.iter().all(PortDiff::identical)
    }

    /// Frames on side A over all ports.
    pub fn frames(&self) -> usize {
        self.ports.iter().map(|p| p.a_frames).sum()
    }
}

/// Compares `a_dir/port-<N>.pcap` with `b_file(N)` over `ports`; `max`
/// bounds the differences kept per port. An unreadable file is a runtime failure.
pub fn compare_dirs(
    name: String,
    (a_name, a_dir): (&str, &Path),
    (b_name, b_file): (&str, &dyn Fn(u16) -> PathBuf),
    ports: &BTreeSet<u16>,
    max: usize,
) -> Result<Comparison, JobError> {
    let mut out = Vec::new();
    for &p in ports {
        let a = frames_of(&a_dir.join(format!("port-{p}.pcap")))?;
        let b = frames_of(&b_file(p))?;
        out.push(compare_port(p, &a, &b, a_name, b_name, max));
    }
    Ok(Comparison { name, a: a_name.into(), b: b_name.into(), ports: out, error: None })
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

    #[test]
    fn ranges_merge_and_cover_length_differences() {
        assert_eq!(differing_ranges(&[1, 2, 3, 4], &[1, 9, 9, 4]), vec![(1, 2)]);
        assert_eq!(differing_ranges(&[1, 2, 3], &[0, 2, 4]), vec![(0, 0), (2, 2)]);
        assert_eq!(differing_ranges(&[1, 2], &[1, 2, 3, 4]), vec![(2, 3)]);
        assert_eq!(differing_ranges(&[1, 5], &[1, 2, 3]), vec![(1, 2)]);
        assert!(differing_ranges(&[1, 2], &[1, 2]).is_empty());
    }

    #[test]
    fn port_compare_finds_flipped_byte_and_dropped_frame() {
        let a: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        assert!(compare_port(1, &a, &a, "x", "y", 5).identical());

        let mut flipped = a.clone();
        flipped[3][7] ^= 0xff;
        let d = compare_port(1, &a, &flipped, "x", "y", 5);
        assert!(!d.identical());
        assert_eq!(d.differing, 1);
        assert_eq!(d.shown[0].index, 3);
        assert_eq!(differing_ranges(d.shown[0].a.as_ref().unwrap(), d.shown[0].b.as_ref().unwrap()), vec![(7, 7)]);

        let mut dropped = a.clone();
        dropped.remove(2);
        let d = compare_port(1, &a, &dropped, "soft", "bmv2", 5);
        assert_eq!((d.a_frames, d.b_frames, d.differing), (5, 4, 0));
        assert!(!d.identical());
        assert_eq!(d.note.as_deref(), Some("soft has one frame more: its frame 2; all others match in order"));
        assert_eq!(d.shown.len(), 1);
        assert_eq!((d.shown[0].index, d.shown[0].a.is_some(), d.shown[0].b.is_none()), (2, true, true));
        // dropped and altered: index by index
        dropped[3][0] = 99;
        let d = compare_port(1, &a, &dropped, "soft", "bmv2", 5);
        assert!(d.differing >= 2 && d.note.as_deref().unwrap().starts_with("frame counts differ"), "{d:?}");
        let d = compare_port(1, &a[..3], &a, "soft", "bmv2", 5);
        assert_eq!(d.note.as_deref(), Some("bmv2 has 2 frames more: its frames 3..=4; all others match in order"));
    }
}
