//! Clone semantics per docs/dataplane.md: member selection, egress rewrite, NAT
//! restore, truncation, counters, output order.

mod common;
use common::*;
use p4clone_pipeline::*;

const SE: u32 = 0x0A00_0001; // 10.0.0.1
const SRV: u32 = 0x0A00_0164; // 10.0.1.100
const MON: Port = 3;

/// Wire 1<->2, forward + reverse classify rules for SE<->SRV:80 pointing at
/// `first`..`first+count`, each member cloned to port 3 with `p`.
fn setup(first: u16, count: u16, mode: u8, p: RewriteParams) -> Pipeline {
    let pl = Pipeline::new();
    wire(&pl, 1, 2);
    classify_v4(&pl, v4_exact(SE, SRV, 6, None, Some(80)), 100, hit(first, count, mode));
    classify_v4(&pl, v4_exact(SRV, SE, 6, Some(80), None), 100, hit(first, count, mode));
    for m in first..first + count {
        member(&pl, m, MON, p);
    }
    pl
}

fn clone_members(out: &Out) -> Vec<u16> {
    out.iter().filter_map(|(_, _, m)| *m).collect()
}

#[test]
fn round_robin_two_and_three_members() {
    for count in [2u16, 3] {
        let pl = setup(11, count, MODE_ROUND_ROBIN, params(0, 0, false));
        let f = tcp4(SE, 40000, SRV, 80, b"hello");
        let r = tcp4(SRV, 80, SE, 40000, b"world");
        let mut seen = Vec::new();
        for i in 0..30 {
            let out = if i % 2 == 0 { run(&pl, 2, &f) } else { run(&pl, 1, &r) };
            seen.extend(clone_members(&out));
        }
        let expect: Vec<u16> = (0..30).map(|i| 11 + (i % count)).collect();
        assert_eq!(seen, expect, "count {count}");
        for m in 11..11 + count {
            assert_eq!(pl.counter(Counter::ClonesRequested, m.into()).unwrap().packets, u64::from(30 / count));
            assert_eq!(pl.counter(Counter::ClonesEmitted, m.into()).unwrap().packets, u64::from(30 / count));
        }
        // The cursor is the register at first_member.
        assert_eq!(pl.rr_cursor(11).unwrap(), 30 % count);
    }
}

#[test]
fn round_robin_guard_and_register_write() {
    let pl = setup(21, 3, MODE_ROUND_ROBIN, params(0, 0, false));
    let f = tcp4(SE, 40000, SRV, 80, b"");
    pl.set_rr_cursor(21, 2).unwrap();
    assert_eq!(clone_members(&run(&pl, 2, &f)), [23]);
    assert_eq!(pl.rr_cursor(21).unwrap(), 0);
    // Out of range cursor: `c >= count -> 0`.
    pl.set_rr_cursor(21, 500).unwrap();
    assert_eq!(clone_members(&run(&pl, 2, &f)), [21]);
    assert_eq!(pl.rr_cursor(21).unwrap(), 1);
    // Mode values other than 1 are round robin.
    let pl = setup(21, 2, 7, params(0, 0, false));
    let ms: Vec<u16> = (0..4).flat_map(|_| clone_members(&run(&pl, 2, &f))).collect();
    assert_eq!(ms, [21, 22, 21, 22]);
    assert!(pl.set_rr_cursor(32768, 0).is_err());
}

#[test]
fn flow_hash_symmetric_and_spread() {
    let count = 4u16;
    let pl = Pipeline::new();
    wire(&pl, 1, 2);
    // Any TCP to/from 10.0.1.0/24 port 80.
    let fwd = ClassifyKeyV4 {
        dst_addr: Ternary { value: SRV & 0xFFFF_FF00, mask: 0xFFFF_FF00 },
        protocol: Ternary::<u8>::exact(6),
        l4_dst_port: Ternary::<u16>::exact(80),
        ..Default::default()
    };
    let rev = ClassifyKeyV4 {
        src_addr: fwd.dst_addr,
        protocol: fwd.protocol,
        l4_src_port: fwd.l4_dst_port,
        ..Default::default()
    };
    classify_v4(&pl, fwd, 10, hit(31, count, MODE_FLOW_HASH));
    classify_v4(&pl, rev, 10, hit(31, count, MODE_FLOW_HASH));
    for m in 31..31 + count {
        member(&pl, m, MON, params(0, 0, false));
    }
    let mut per_member = [0u32; 4];
    for i in 0..400u32 {
        let client = 0xC0A8_0000 | i;
        let sport = 1024 + (i as u16 * 7);
        let server = (SRV & 0xFFFF_FF00) | (i % 200);
        let a = clone_members(&run(&pl, 2, &tcp4(client, sport, server, 80, b"x")));
        let b = clone_members(&run(&pl, 1, &tcp4(server, 80, client, sport, b"y")));
        assert_eq!(a.len(), 1);
        assert_eq!(a, b, "both directions of flow {i} pick the same member");
        // The contract: crc32 over the ordered fields, modulo the count.
        let h = hash::flow_hash_v4(client, sport, server, 80, 6);
        assert_eq!(a[0], 31 + (h % u32::from(count)) as u16);
        per_member[usize::from(a[0] - 31)] += 1;
    }
    assert!(per_member.iter().all(|&n| n > 60), "spread {per_member:?}");
    // Same flow, many packets: always the same member.
    let f = tcp4(0xC0A8_0101, 5555, SRV, 80, b"");
    let first = clone_members(&run(&pl, 2, &f));
    for _ in 0..10 {
        assert_eq!(clone_members(&run(&pl, 2, &f)), first);
    }
}

#[test]
fn flow_hash_ipv6_symmetric() {
    let pl = Pipeline::new();
    wire(&pl, 1, 2);
    let se: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0001;
    let srv: u128 = 0x2001_0db8_0000_0001_0000_0000_0000_0064;
    for (key, _) in [
        (
            ClassifyKeyV6 {
                src_addr: Ternary::<u128>::exact(se),
                dst_addr: Ternary::<u128>::exact(srv),
                protocol: Ternary::<u8>::exact(17),
                l4_dst_port: Ternary::<u16>::exact(53),
                ..Default::default()
            },
            0,
        ),
        (
            ClassifyKeyV6 {
                src_addr: Ternary::<u128>::exact(srv),
                dst_addr: Ternary::<u128>::exact(se),
                protocol: Ternary::<u8>::exact(17),
                l4_src_port: Ternary::<u16>::exact(53),
                ..Default::default()
            },
            1,
        ),
    ] {
        p4_insert_v6(&pl, key, hit(41, 3, MODE_FLOW_HASH));
    }
    for m in 41..44 {
        member(&pl, m, MON, params(0, 0, false));
    }
    let mut seen = std::collections::HashSet::new();
    for sport in 2000..2030u16 {
        let a = clone_members(&run(&pl, 2, &udp6(se, sport, srv, 53, b"q")));
        let b = clone_members(&run(&pl, 1, &udp6(srv, 53, se, sport, b"r")));
        assert_eq!(a.len(), 1);
        assert_eq!(a, b);
        let h = hash::flow_hash_v6(se, sport, srv, 53, 17);
        assert_eq!(a[0], 41 + (h % 3) as u16);
        seen.insert(a[0]);
    }
    assert_eq!(seen.len(), 3);
}

fn p4_insert_v6(pl: &Pipeline, key: ClassifyKeyV6, action: ClassifyAction) {
    pl.write(|b| b.insert(CLASSIFY_V6, ClassifyEntry { key, priority: 1, action, metadata: vec![] })).unwrap();
}

#[test]
fn output_order_clone_first_then_original() {
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 0, false));
    // Clone to the same port as the original: the clone still comes first.
    pl.write(|b| {
        b.modify_clone_session(CloneSessionEntry {
            session_id: 11,
            session: CloneSession { replicas: vec![Replica { egress_port: 1, instance: 11 }], packet_length_bytes: 0 },
        })
    })
    .unwrap();
    let f = tcp4(SE, 40000, SRV, 80, b"abc");
    let g = tcp4(0x0B00_0001, 1, 0x0B00_0002, 2, b"other");
    let out = run_burst(&pl, &[(1, &f), (2, &f), (1, &g)]);
    let summary: Vec<(Port, Option<u16>)> = out.iter().map(|(p, _, m)| (*p, *m)).collect();
    assert_eq!(summary, [(1, Some(11)), (2, None), (1, Some(11)), (1, None), (2, None)]);
    assert_eq!(out[1].1, f);
    assert_eq!(out[4].1, g);
}

#[test]
fn rewrite_macs_untagged() {
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 0, false));
    let f = tcp4(SE, 40000, SRV, 80, b"payload");
    let out = run(&pl, 2, &f);
    assert_eq!(out.len(), 2);
    let (port, clone, m) = &out[0];
    assert_eq!((*port, *m), (MON, Some(11)));
    let mut expect = f.clone();
    expect[0..6].copy_from_slice(&MON_DST);
    expect[6..12].copy_from_slice(&MON_SRC);
    assert_eq!(clone, &expect);
    assert_eq!(out[1], (1, f, None));
}

#[test]
fn vlan_push_rewrite_strip() {
    let f = tcp4(SE, 40000, SRV, 80, b"payload");
    let tagged_in = tagged(&f, 5, true, 77);
    // Push onto an untagged frame: pcp 0, dei 0.
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(100, 0, false));
    let clone = &run(&pl, 2, &f)[0].1;
    let mut expect = tagged(&f, 0, false, 100);
    expect[0..6].copy_from_slice(&MON_DST);
    expect[6..12].copy_from_slice(&MON_SRC);
    assert_eq!(clone, &expect);
    // Rewrite on a tagged frame: vid replaced, pcp and dei kept.
    let clone = &run(&pl, 2, &tagged_in)[0].1;
    let mut expect = tagged(&f, 5, true, 100);
    expect[0..6].copy_from_slice(&MON_DST);
    expect[6..12].copy_from_slice(&MON_SRC);
    assert_eq!(clone, &expect);
    // Strip.
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 0, false));
    let out = run(&pl, 2, &tagged_in);
    let mut expect = f.clone();
    expect[0..6].copy_from_slice(&MON_DST);
    expect[6..12].copy_from_slice(&MON_SRC);
    assert_eq!(out[0].1, expect);
    // The original stays tagged.
    assert_eq!(out[1].1, tagged_in);
}

#[test]
fn truncate_with_and_without_push() {
    let f = tcp4(SE, 40000, SRV, 80, &[0xAB; 200]);
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 64, false));
    let c = &run(&pl, 2, &f)[0].1;
    assert_eq!(c.len(), 64);
    assert_eq!(c[12..64], f[12..64]);
    // The pushed tag counts: 64 bytes out, of which 60 from the frame after the MACs.
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(100, 64, false));
    let c = &run(&pl, 2, &f)[0].1;
    assert_eq!(c.len(), 64);
    assert_eq!(&c[12..16], &[0x81, 0x00, 0x00, 100]);
    assert_eq!(c[16..64], f[12..60]);
    // Truncate beyond the frame: whole frame.
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 9000, false));
    assert_eq!(run(&pl, 2, &f)[0].1.len(), f.len());
    // Truncate into the header (10 bytes) works too.
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 10, false));
    assert_eq!(run(&pl, 2, &f)[0].1, MON_DST.iter().chain(&MON_SRC[..4]).copied().collect::<Vec<_>>());
}

#[test]
fn packet_length_bytes_is_min_with_truncate() {
    let f = tcp4(SE, 40000, SRV, 80, &[7; 300]);
    for (trunc, plb, expect) in [(0u16, 100u32, 100usize), (80, 100, 80), (120, 90, 90), (0, 0, f.len() + 4)] {
        let pl = setup(11, 1, MODE_ROUND_ROBIN, params(55, trunc, false));
        pl.write(|b| {
            b.modify_clone_session(CloneSessionEntry {
                session_id: 11,
                session: CloneSession {
                    replicas: vec![Replica { egress_port: MON, instance: 11 }],
                    packet_length_bytes: plb,
                },
            })
        })
        .unwrap();
        let out = run(&pl, 2, &f);
        assert_eq!(out[0].1.len(), expect, "trunc {trunc} plb {plb}");
        // Port tx bytes count what is emitted.
        assert_eq!(pl.port_stats(MON).tx.bytes, expect as u64);
        // Clone counters count the ingress length.
        assert_eq!(pl.counter(Counter::ClonesEmitted, 11).unwrap().bytes, f.len() as u64);
    }
}

fn nat_setup(p: RewriteParams) -> Pipeline {
    let pl = setup(11, 1, MODE_ROUND_ROBIN, p);
    pl.apply([
        // SE address:port as seen on the backend -> client address:port.
        TableOp::insert(
            NatTable { family: V4, dir: NatDir::Src },
            NatEntryV4 {
                key: NatKeyV4 { addr: SE, port: 40000, protocol: 6 },
                action: NatAction::Set {
                    client_addr: 0xC633_6407, // 198.51.100.7
                    client_port: 51515,
                },
                metadata: b"nat1".to_vec(),
            },
        ),
        TableOp::insert(
            NatTable { family: V4, dir: NatDir::Dst },
            NatEntryV4 {
                key: NatKeyV4 { addr: SE, port: 40000, protocol: 6 },
                action: NatAction::Set { client_addr: 0xC633_6407, client_port: 51515 },
                metadata: vec![],
            },
        ),
        TableOp::insert(
            NatTable { family: V4, dir: NatDir::Src },
            NatEntryV4 {
                key: NatKeyV4 { addr: SE, port: 40001, protocol: 17 },
                action: NatAction::Set { client_addr: 0xC633_6408, client_port: 6000 },
                metadata: vec![],
            },
        ),
    ])
    .into_iter()
    .for_each(|r| r.unwrap());
    pl
}

#[test]
fn nat_restore_ipv4_tcp_both_directions() {
    let pl = nat_setup(params(100, 0, true));
    // Forward: SE:40000 -> SRV:80, source restored.
    let f = tcp4(SE, 40000, SRV, 80, b"GET / HTTP/1.1\r\n\r\n");
    let out = run(&pl, 2, &f);
    let c = &out[0].1;
    assert!(v4_checksums_ok(c), "checksums after NAT restore");
    let l3 = l3_offset(c);
    assert_eq!(l3, 18);
    assert_eq!(&c[l3 + 12..l3 + 16], &[198, 51, 100, 7]);
    assert_eq!(&c[l3 + 16..l3 + 20], &SRV.to_be_bytes());
    assert_eq!(u16::from_be_bytes([c[l3 + 20], c[l3 + 21]]), 51515);
    assert_eq!(u16::from_be_bytes([c[l3 + 22], c[l3 + 23]]), 80);
    // Payload untouched, expected frame equals a freshly built one with new MACs/tag.
    let mut expect = tagged(&tcp4(0xC633_6407, 51515, SRV, 80, b"GET / HTTP/1.1\r\n\r\n"), 0, false, 100);
    expect[0..6].copy_from_slice(&MON_DST);
    expect[6..12].copy_from_slice(&MON_SRC);
    assert_eq!(c[..l3 + 10], expect[..l3 + 10]);
    assert_eq!(c[l3 + 12..l3 + 36], expect[l3 + 12..l3 + 36]);
    assert_eq!(c[l3 + 38..], expect[l3 + 38..]);
    // The original is untouched.
    assert_eq!(out[1].1, f);
    // Reverse: SRV:80 -> SE:40000, destination restored.
    let r = tcp4(SRV, 80, SE, 40000, b"HTTP/1.1 200 OK\r\n");
    let c = &run(&pl, 1, &r)[0].1;
    assert!(v4_checksums_ok(c));
    assert_eq!(&c[18 + 16..18 + 20], &[198, 51, 100, 7]);
    assert_eq!(u16::from_be_bytes([c[18 + 22], c[18 + 23]]), 51515);
    // nat_restore = 0: nothing restored.
    let pl = nat_setup(params(0, 0, false));
    let c = &run(&pl, 2, &f)[0].1;
    assert_eq!(c[12..], f[12..]);
    // Metadata read back.
    let e =
        pl.entry(NatTable { family: V4, dir: NatDir::Src }, &NatKeyV4 { addr: SE, port: 40000, protocol: 6 }).unwrap();
    assert_eq!(e.metadata, b"nat1");
    assert_eq!(pl.entries(NatTable { family: V4, dir: NatDir::Src }).len(), 2);
}

#[test]
fn nat_restore_ipv4_udp_and_zero_checksum() {
    let pl = nat_setup(params(0, 0, true));
    pl.write(|b| {
        b.insert(
            CLASSIFY_V4,
            ClassifyEntry {
                key: v4_exact(SE, SRV, 17, None, Some(53)),
                priority: 100,
                action: hit(11, 1, 0),
                metadata: vec![],
            },
        )
    })
    .unwrap();
    let f = udp4(SE, 40001, SRV, 53, b"dns query", true);
    let c = &run(&pl, 2, &f)[0].1;
    assert!(v4_checksums_ok(c));
    assert_ne!(u16::from_be_bytes([c[14 + 26], c[14 + 27]]), 0);
    assert_eq!(&c[14 + 12..14 + 16], &[198, 51, 100, 8]);
    assert_eq!(u16::from_be_bytes([c[14 + 20], c[14 + 21]]), 6000);
    // UDP checksum 0 stays 0; the IPv4 header checksum is still updated.
    let f = udp4(SE, 40001, SRV, 53, b"dns query", false);
    let c = &run(&pl, 2, &f)[0].1;
    assert_eq!(u16::from_be_bytes([c[14 + 26], c[14 + 27]]), 0);
    assert_eq!(csum::checksum(&c[14..34]), 0);
    assert_eq!(u16::from_be_bytes([c[14 + 20], c[14 + 21]]), 6000);
}

#[test]
fn nat_restore_ipv4_with_options() {
    let pl = nat_setup(params(0, 0, true));
    let opts = [1, 1, 1, 0, 0x44, 4, 5, 0]; // NOP NOP NOP EOL, timestamp-ish
    let f = tcp4_opts(SE, 40000, SRV, 80, b"data", &opts);
    let out = run(&pl, 2, &f);
    let c = &out[0].1;
    assert!(v4_checksums_ok(c));
    assert_eq!(&c[14 + 12..14 + 16], &[198, 51, 100, 7]);
    assert_eq!(u16::from_be_bytes([c[14 + 28], c[14 + 29]]), 51515);
    assert_eq!(c.len(), f.len());
}

#[test]
fn nat_restore_ipv6_tcp() {
    let pl = Pipeline::new();
    wire(&pl, 1, 2);
    let se: u128 = 0xfd00_0000_0000_0000_0000_0000_0000_0001;
    let srv: u128 = 0xfd00_0000_0000_0001_0000_0000_0000_0064;
    let client: u128 = 0x2001_0db8_1234_0000_0000_0000_0000_0042;
    p4_insert_v6(
        &pl,
        ClassifyKeyV6 {
            src_addr: Ternary::<u128>::exact(se),
            dst_addr: Ternary::<u128>::exact(srv),
            protocol: Ternary::<u8>::exact(6),
            l4_dst_port: Ternary::<u16>::exact(443),
            ..Default::default()
        },
        hit(5, 1, 0),
    );
    member(&pl, 5, MON, params(0, 0, true));
    pl.write(|b| {
        b.insert(
            NatTable { family: V6, dir: NatDir::Src },
            NatEntryV6 {
                key: NatKeyV6 { addr: se, port: 33333, protocol: 6 },
                action: NatAction::Set { client_addr: client, client_port: 44444 },
                metadata: vec![],
            },
        )
    })
    .unwrap();
    let f = tcp6(se, 33333, srv, 443, b"tls hello");
    let out = run(&pl, 2, &f);
    let c = &out[0].1;
    assert!(v6_checksums_ok(c));
    assert_eq!(&c[14 + 8..14 + 24], &client.to_be_bytes());
    assert_eq!(u16::from_be_bytes([c[54], c[55]]), 44444);
    // The clone's head holds L2+L3+L4, the tail is the payload.
    let rx = [RxFrame { port: 2, data: &f }];
    let mut batch = EmitBatch::new();
    pl.process_burst(&rx, &mut WorkerState::new(), &mut batch);
    let EmitKind::Clone(cf) = batch.emits()[0].kind else { panic!("clone first") };
    assert_eq!(cf.head_len, 14 + 40 + 20);
    assert_eq!(cf.tail_offset, 14 + 40 + 20);
    let (h, t) = batch.parts(&batch.emits()[0], &rx);
    assert_eq!(h.len() + t.len(), f.len());
    assert_eq!(t, b"tls hello");
}

#[test]
fn nat_miss_entries_and_defaults_follow_v1model() {
    // Default action nat_set_v4 on a miss assigns metadata but the rewrite needs a hit.
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 0, true));
    pl.write(|b| {
        b.set_default(NatTable { family: V4, dir: NatDir::Src }, NatAction::Set { client_addr: 1, client_port: 1 })
    })
    .unwrap();
    let f = tcp4(SE, 40000, SRV, 80, b"x");
    assert_eq!(run(&pl, 2, &f)[0].1[12..], f[12..]);
    // An explicit nat_miss entry is a hit that rewrites with the (zeroed) metadata.
    pl.write(|b| {
        b.set_default(NatTable { family: V4, dir: NatDir::Src }, NatAction::Miss)?;
        b.insert(
            NatTable { family: V4, dir: NatDir::Src },
            NatEntryV4 {
                key: NatKeyV4 { addr: SE, port: 40000, protocol: 6 },
                action: NatAction::Miss,
                metadata: vec![],
            },
        )
    })
    .unwrap();
    let c = &run(&pl, 2, &f)[0].1;
    assert_eq!(&c[26..30], &[0, 0, 0, 0]);
    assert_eq!(&c[34..36], &[0, 0]);
    assert!(v4_checksums_ok(c));
}

#[test]
fn non_matching_forwarded_not_cloned() {
    let pl = setup(11, 2, MODE_ROUND_ROBIN, params(0, 0, false));
    let frames = [
        tcp4(SE, 40000, SRV, 81, b"wrong port"),
        udp4(SE, 40000, SRV, 80, b"wrong proto", true),
        tcp4(0x0A00_0002, 40000, SRV, 80, b"wrong src"),
        tcp6(1, 2, 3, 4, b"v6, no v6 rules"),
    ];
    for f in &frames {
        let out = run(&pl, 1, f);
        assert_eq!(out, vec![(2, f.clone(), None)]);
    }
    assert_eq!(pl.port_stats(1).rx.packets, 4);
    assert_eq!(pl.port_stats(2).tx.packets, 4);
    assert_eq!(pl.port_stats(MON).tx.packets, 0);
    assert!(pl.counters(Counter::ClonesRequested).iter().all(|c| c.packets == 0));
}

#[test]
fn wire_miss_drops_and_is_never_classified() {
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 0, false));
    let f = tcp4(SE, 40000, SRV, 80, b"");
    assert!(run(&pl, 7, &f).is_empty());
    assert_eq!(pl.port_stats(7).drop.packets, 1);
    assert_eq!(pl.counter(Counter::ClonesRequested, 11).unwrap().packets, 0);
    // Ports beyond 9 bits are dropped uncounted.
    assert!(run(&pl, 600, &f).is_empty());
    // A wire entry with wire_drop is a hit: the frame is dropped but still cloned.
    pl.write(|b| b.insert(WIRE, WireEntry { ingress_port: 7, action: WireAction::Drop, metadata: vec![] })).unwrap();
    let out = run(&pl, 7, &f);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].2, Some(11));
    // Default wire_forward: forwarded, but a miss, so not classified.
    pl.write(|b| b.set_default(WIRE, WireAction::Forward(9))).unwrap();
    assert_eq!(run(&pl, 8, &f), vec![(9, f.clone(), None)]);
    // wire_forward(511) drops.
    pl.write(|b| {
        b.modify(WIRE, WireEntry { ingress_port: 7, action: WireAction::Forward(DROP_PORT), metadata: vec![] })
    })
    .unwrap();
    assert_eq!(run(&pl, 7, &f).len(), 1);
}

#[test]
fn clone_no_session_and_rewrite_miss() {
    let pl = Pipeline::new();
    wire(&pl, 1, 2);
    classify_v4(&pl, v4_exact(SE, SRV, 6, None, Some(80)), 1, hit(11, 2, 0));
    // Member 11 has a session but no rewrite entry; member 12 has neither.
    pl.write(|b| {
        b.insert_clone_session(CloneSessionEntry {
            session_id: 11,
            session: CloneSession {
                replicas: vec![Replica { egress_port: MON, instance: 11 }],
                packet_length_bytes: 0,
            },
        })
    })
    .unwrap();
    let f = tcp4(SE, 40000, SRV, 80, b"x");
    let len = f.len() as u64;
    assert_eq!(run(&pl, 2, &f).len(), 1); // rewrite miss: clone dropped
    assert_eq!(run(&pl, 2, &f).len(), 1); // no session: no copy
    let get = |c, m| pl.counter(c, m).unwrap();
    assert_eq!(get(Counter::ClonesRequested, 11).packets, 1);
    assert_eq!(get(Counter::ClonesRequested, 12).packets, 1);
    assert_eq!(get(Counter::ClonesEmitted, 11).packets, 0);
    assert_eq!(get(Counter::CloneRewriteMiss, 11), CounterValue { packets: 1, bytes: len });
    assert_eq!(get(Counter::CloneNoSession, 12), CounterValue { packets: 1, bytes: len });
    assert_eq!(get(Counter::CloneNoSession, 11).packets, 0);
    // Default clone_rewrite_set lets clones through unmodified and uncounted.
    pl.write(|b| b.set_default(CLONE_REWRITE, RewriteAction::Set(params(100, 20, true)))).unwrap();
    pl.set_rr_cursor(11, 0).unwrap();
    let out = run(&pl, 2, &f);
    assert_eq!(out[0], (MON, f.clone(), Some(11)));
    assert_eq!(get(Counter::ClonesEmitted, 11).packets, 0);
    // An explicit clone_rewrite_miss entry is a hit: counted as emitted, then dropped.
    pl.write(|b| b.insert(CLONE_REWRITE, RewriteEntry { member: 11, action: RewriteAction::Miss, metadata: vec![] }))
        .unwrap();
    pl.set_rr_cursor(11, 0).unwrap();
    let out = run(&pl, 2, &f);
    assert_eq!(out.len(), 1);
    assert_eq!(get(Counter::ClonesEmitted, 11).packets, 1);
}

#[test]
fn counters_direct_and_indirect_read_write() {
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 0, false));
    let f = tcp4(SE, 40000, SRV, 80, b"abc");
    let r = tcp4(SRV, 80, SE, 40000, b"defgh");
    for _ in 0..3 {
        run(&pl, 2, &f);
    }
    run(&pl, 1, &r);
    let fwd = pl.entry(CLASSIFY_V4, &(v4_exact(SE, SRV, 6, None, Some(80)), 100)).unwrap();
    assert_eq!(fwd.counter, CounterValue { packets: 3, bytes: 3 * f.len() as u64 });
    let all = pl.entries(CLASSIFY_V4);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].counter, CounterValue { packets: 1, bytes: r.len() as u64 });
    let req = pl.counter(Counter::ClonesRequested, 11).unwrap();
    assert_eq!(req, CounterValue { packets: 4, bytes: 3 * f.len() as u64 + r.len() as u64 });
    // MODIFY = set; a reset then counts from zero.
    pl.set_counter(Counter::ClonesRequested, 11, CounterValue::default()).unwrap();
    let res = pl.apply([TableOp::set_direct_counter(
        CLASSIFY_V4,
        (v4_exact(SE, SRV, 6, None, Some(80)), 100),
        CounterValue { packets: 1000, bytes: 0 },
    )]);
    assert_eq!(res, vec![Ok(())]);
    run(&pl, 2, &f);
    assert_eq!(pl.counter(Counter::ClonesRequested, 11).unwrap().packets, 1);
    let fwd = pl.entry(CLASSIFY_V4, &(v4_exact(SE, SRV, 6, None, Some(80)), 100)).unwrap();
    assert_eq!(fwd.counter.packets, 1001);
    assert!(pl.counter(Counter::ClonesEmitted, 32768).is_err());
    // Port stats and diagnostics.
    let s = pl.port_stats(2);
    assert_eq!(s.rx.packets, 4);
    assert_eq!(s.tx.packets, 1);
    pl.add_diag(Diag::AllocFailed, 11, 2);
    pl.add_diag(Diag::DriverFailed, 11, 1);
    assert_eq!(pl.diag(Diag::AllocFailed, 11), 2);
    assert_eq!(pl.diag(Diag::DriverFailed, 11), 1);
    pl.set_diag(Diag::AllocFailed, 11, 0);
    assert_eq!(pl.diag(Diag::AllocFailed, 11), 0);
    // A reset of clones_emitted (zero written) zeroes the member's diagnostics;
    // other writes and other members keep theirs.
    pl.add_diag(Diag::AllocFailed, 11, 5);
    pl.add_diag(Diag::DriverFailed, 12, 4);
    pl.set_counter(Counter::ClonesRequested, 11, CounterValue::default()).unwrap();
    pl.set_counter(Counter::ClonesEmitted, 11, CounterValue { packets: 3, bytes: 0 }).unwrap();
    assert_eq!((pl.diag(Diag::AllocFailed, 11), pl.diag(Diag::DriverFailed, 11)), (5, 1));
    assert_eq!(
        pl.apply([TableOp::WriteCounter {
            counter: Counter::ClonesEmitted,
            index: 11,
            value: CounterValue::default()
        }]),
        vec![Ok(())]
    );
    assert_eq!((pl.diag(Diag::AllocFailed, 11), pl.diag(Diag::DriverFailed, 11)), (0, 0));
    assert_eq!(pl.diag(Diag::DriverFailed, 12), 4);
    pl.set_counter(Counter::ClonesEmitted, 12, CounterValue::default()).unwrap();
    assert_eq!(pl.diag(Diag::DriverFailed, 12), 0);
    pl.set_port_counter(2, PortCounter::Rx, CounterValue::default()).unwrap();
    assert_eq!(pl.port_stats(2).rx.packets, 0);
    // A re-inserted entry starts with a zero counter.
    pl.write(|b| b.delete(CLASSIFY_V4, (v4_exact(SE, SRV, 6, None, Some(80)), 100))).unwrap();
    classify_v4(&pl, v4_exact(SE, SRV, 6, None, Some(80)), 100, hit(11, 1, 0));
    let fwd = pl.entry(CLASSIFY_V4, &(v4_exact(SE, SRV, 6, None, Some(80)), 100)).unwrap();
    assert_eq!(fwd.counter, CounterValue::default());
}

#[test]
fn multiple_replicas_in_order() {
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 0, false));
    member_rewrite(&pl, 500, params(200, 0, false));
    pl.write(|b| {
        b.modify_clone_session(CloneSessionEntry {
            session_id: 11,
            session: CloneSession {
                replicas: vec![Replica { egress_port: 4, instance: 500 }, Replica { egress_port: MON, instance: 11 }],
                packet_length_bytes: 0,
            },
        })
    })
    .unwrap();
    let f = tcp4(SE, 40000, SRV, 80, b"x");
    let out = run(&pl, 2, &f);
    let summary: Vec<(Port, Option<u16>)> = out.iter().map(|(p, _, m)| (*p, *m)).collect();
    assert_eq!(summary, [(4, Some(500)), (MON, Some(11)), (1, None)]);
    assert_eq!(out[0].1.len(), f.len() + 4);
    assert_eq!(pl.counter(Counter::ClonesEmitted, 500).unwrap().packets, 1);
}

fn member_rewrite(pl: &Pipeline, m: u16, p: RewriteParams) {
    pl.write(|b| b.insert(CLONE_REWRITE, RewriteEntry { member: m, action: RewriteAction::Set(p), metadata: vec![] }))
        .unwrap();
}

#[test]
fn member_wraps_and_session_id_keeps_15_bits() {
    // first_member 32767 + offset 1 = 32768: session 0 (BMv2 masks to 15 bits),
    // not counted in the 32768-cell counters.
    let pl = Pipeline::new();
    wire(&pl, 1, 2);
    classify_v4(&pl, v4_exact(SE, SRV, 6, None, Some(80)), 1, hit(32767, 2, 0));
    member(&pl, 32767, MON, params(0, 0, false));
    member(&pl, 0, MON, params(0, 0, false));
    let f = tcp4(SE, 40000, SRV, 80, b"x");
    assert_eq!(clone_members(&run(&pl, 2, &f)), [32767]);
    assert_eq!(clone_members(&run(&pl, 2, &f)), [0]);
    assert_eq!(pl.counter(Counter::ClonesRequested, 32767).unwrap().packets, 1);
    assert_eq!(pl.counter(Counter::ClonesRequested, 0).unwrap().packets, 0);
    assert_eq!(pl.counter(Counter::ClonesEmitted, 0).unwrap().packets, 1);
}

#[test]
fn member_count_zero_and_classify_miss() {
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(0, 0, false));
    classify_v4(&pl, v4_exact(SE, SRV, 6, None, Some(81)), 100, hit(11, 0, 0));
    classify_v4(&pl, v4_exact(SE, SRV, 6, None, Some(82)), 100, ClassifyAction::Miss);
    for port in [81, 82] {
        let f = tcp4(SE, 1, SRV, port, b"");
        assert_eq!(run(&pl, 2, &f).len(), 1);
    }
    // Both hit their entries (direct counters count them).
    let e = pl.entry(CLASSIFY_V4, &(v4_exact(SE, SRV, 6, None, Some(82)), 100)).unwrap();
    assert_eq!(e.counter.packets, 1);
    // A default classify_hit clones everything TCP/UDP that misses.
    pl.write(|b| b.set_default(CLASSIFY_V4, hit(11, 1, 0))).unwrap();
    let f = tcp4(1, 1, 2, 2, b"");
    assert_eq!(clone_members(&run(&pl, 2, &f)), [11]);
    assert_eq!(pl.default_action(CLASSIFY_V4), hit(11, 1, 0));
}

#[test]
fn zero_copy_parts_of_a_plain_clone() {
    let pl = setup(11, 1, MODE_ROUND_ROBIN, params(100, 0, false));
    let f = tcp4(SE, 40000, SRV, 80, &[1; 100]);
    let rx = [RxFrame { port: 2, data: &f }];
    let mut out = EmitBatch::with_capacity(BURST);
    pl.process_burst(&rx, &mut WorkerState::new(), &mut out);
    let e = out.emits()[0];
    let EmitKind::Clone(c) = e.kind else { panic!() };
    assert_eq!((c.head_len, c.tail_offset, c.len as usize), (18, 14, f.len() + 4));
    let (h, t) = out.parts(&e, &rx);
    assert_eq!(h.len(), 18);
    assert_eq!(t, &f[14..]);
    let mut w = Vec::new();
    out.write_to(&e, &rx, &mut w).unwrap();
    assert_eq!(w, out.to_vec(&e, &rx));
    assert_eq!(e.len(&rx), w.len());
    assert!(e.is_clone());
    assert!(!out.emits()[1].is_clone());
    // Reuse of the batch: the previous burst's output is gone.
    pl.process_burst(&[], &mut WorkerState::new(), &mut out);
    assert!(out.is_empty());
}
