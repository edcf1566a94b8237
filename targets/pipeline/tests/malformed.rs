//! Malformed and unusual frames: forwarded per the contract (parser errors never
//! drop), cloned only when TCP/UDP was parsed, never a panic.

mod common;
use common::*;
use p4clone_pipeline::wire::{parse, ParserError, L3, L4};
use p4clone_pipeline::*;

const SE: u32 = 0x0A00_0001;
const SRV: u32 = 0x0A00_0164;

/// Wire 1<->2 and a catch-all classify rule (v4 and v6) cloning every TCP/UDP frame to port 3.
fn catch_all() -> Pipeline {
    let p = Pipeline::new();
    wire(&p, 1, 2);
    classify_v4(&p, ClassifyKeyV4::default(), 1, hit(1, 1, 0));
    p.write(|b| {
        b.insert(
            CLASSIFY_V6,
            ClassifyEntry { key: ClassifyKeyV6::default(), priority: 1, action: hit(1, 1, 0), metadata: vec![] },
        )
    })
    .unwrap();
    member(&p, 1, 3, params(0, 0, false));
    p
}

/// Sends `f` on port 1: it must come out unchanged on port 2, plus a clone iff `cloned`.
fn check(p: &Pipeline, f: &[u8], cloned: bool) {
    let out = run(p, 1, f);
    let original = out.last().expect("the original is forwarded");
    assert_eq!((original.0, &original.1, original.2), (2, &f.to_vec(), None));
    assert_eq!(out.len(), if cloned { 2 } else { 1 }, "frame {f:02x?}");
}

#[test]
fn good_frames_are_cloned() {
    let p = catch_all();
    check(&p, &tcp4(SE, 1, SRV, 80, b"x"), true);
    check(&p, &udp4(SE, 1, SRV, 53, b"x", true), true);
    check(&p, &tagged(&tcp4(SE, 1, SRV, 80, b""), 1, false, 10), true);
    check(&p, &tcp4_opts(SE, 1, SRV, 80, b"", &[1, 1, 1, 1, 1, 1, 1, 0]), true);
    check(&p, &tcp6(1, 2, 3, 4, b""), true);
    check(&p, &udp6(1, 2, 3, 4, b""), true);
    // Minimal frames: headers exactly, no payload.
    let f = tcp4(SE, 1, SRV, 80, b"");
    assert_eq!(f.len(), 54);
    check(&p, &f, true);
    let f = udp4(SE, 1, SRV, 80, b"", false);
    assert_eq!(f.len(), 42);
    check(&p, &f, true);
}

#[test]
fn truncated_frames_forwarded_not_cloned() {
    let p = catch_all();
    let full = tcp4(SE, 1, SRV, 80, b"payload");
    // Every truncation shorter than Ethernet + IPv4 + TCP.
    for n in 0..54 {
        check(&p, &full[..n], false);
    }
    let pf = parse(&full[..53]);
    assert_eq!(pf.l4, L4::None);
    assert_eq!(pf.error, Some(ParserError::PacketTooShort));
    let full6 = udp6(1, 2, 3, 4, b"");
    for n in 0..62 {
        check(&p, &full6[..n], false);
    }
    check(&p, &full6, true);
    // Truncated 802.1Q tag.
    let t = tagged(&full, 0, false, 5);
    check(&p, &t[..16], false);
    check(&p, &t[..17], false);
}

#[test]
fn zero_length_frame() {
    let p = catch_all();
    check(&p, &[], false);
    assert_eq!(p.port_stats(2).tx, CounterValue { packets: 1, bytes: 0 });
}

#[test]
fn bad_ipv4_headers() {
    let p = catch_all();
    let good = tcp4(SE, 1, SRV, 80, b"xyz");
    // IHL < 5.
    for ihl in 0..5u8 {
        let mut f = good.clone();
        f[14] = 0x40 | ihl;
        check(&p, &f, false);
        assert_eq!(parse(&f).error, Some(ParserError::HeaderVerify));
    }
    // Bad version.
    for v in [0u8, 5, 6, 15] {
        let mut f = good.clone();
        f[14] = (v << 4) | 5;
        check(&p, &f, false);
    }
    // IHL larger than the frame's remaining bytes (options do not fit).
    let mut f = good[..14 + 20 + 10].to_vec();
    f[14] = 0x4F;
    check(&p, &f, false);
    // Bad IPv6 version.
    let mut f6 = tcp6(1, 2, 3, 4, b"");
    f6[14] = 0x40;
    check(&p, &f6, false);
    assert_eq!(parse(&f6).l3, L3::Ipv6 { verified: false });
}

#[test]
fn fragments_are_not_classified() {
    let p = catch_all();
    let mut f = tcp4(SE, 1, SRV, 80, b"xyz");
    f[14 + 6] = 0x00;
    f[14 + 7] = 0x10; // offset 16 * 8 bytes
    check(&p, &f, false);
    // First fragment (MF set, offset 0) carries the L4 header: cloned.
    let mut f = tcp4(SE, 1, SRV, 80, b"xyz");
    f[14 + 6] = 0x20;
    check(&p, &f, true);
}

#[test]
fn other_protocols_and_ethertypes() {
    let p = catch_all();
    // ICMP over IPv4.
    let mut f = tcp4(SE, 1, SRV, 80, b"");
    f[14 + 9] = 1;
    check(&p, &f, false);
    // IPv6 with a hop-by-hop header first: extension headers are not walked.
    let mut f = tcp6(1, 2, 3, 4, b"");
    f[14 + 6] = 0;
    check(&p, &f, false);
    // ARP, and a double-tagged frame (the second tag is payload).
    let mut f = tcp4(SE, 1, SRV, 80, b"");
    f[12] = 0x08;
    f[13] = 0x06;
    check(&p, &f, false);
    let qinq = tagged(&tagged(&tcp4(SE, 1, SRV, 80, b""), 0, false, 20), 0, false, 10);
    check(&p, &qinq, false);
    // 0x88A8 (802.1ad) is not parsed.
    let mut f = tagged(&tcp4(SE, 1, SRV, 80, b""), 0, false, 10);
    f[12] = 0x88;
    f[13] = 0xA8;
    check(&p, &f, false);
}

#[test]
fn ethernet_padding_is_payload() {
    // A 60-byte minimum frame with an IPv4 total length shorter than the frame.
    let p = catch_all();
    let mut f = udp4(SE, 1, SRV, 53, b"", false);
    f.resize(60, 0);
    let out = run(&p, 1, &f);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].1.len(), 60);
    assert_eq!(out[1].1, f);
}
