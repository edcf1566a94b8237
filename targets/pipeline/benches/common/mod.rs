//! Workload shared by the benchmarks: the 10,000-VS table, shaped like the
//! compiler's output, and 64-byte TCP frames.
#![allow(dead_code)]

use p4clone_pipeline::*;

/// Virtual services (compiler `synthetic::DEFAULT_VS`).
pub const VS: u32 = 10_000;
/// Pool members per VS (compiler `DEFAULT_MEMBERS_PER_POOL`).
pub const MEMBERS: u32 = 8;
/// Clone profiles; clone servers per profile.
pub const PROFILES: u32 = 1_000;
pub const SERVERS: u16 = 4;
/// SEs (one per device in the compiler's fleet, all loaded here into one table).
pub const SES: u32 = 4;
/// Frame length (no FCS).
pub const FRAME_LEN: usize = 64;
/// The compiler's constant rule priority.
pub const PRIORITY: i32 = 100;

pub fn se_addr(vs: u32) -> u32 {
    0x0A00_0001 + (vs % SES) // 10.0.0.1..4
}
pub fn server_addr(vs: u32, m: u32) -> u32 {
    0x0A01_0000 + vs * MEMBERS + m // unique, inside 10.0.0.0/8
}
pub fn server_port(m: u32) -> u16 {
    8000 + m as u16
}
pub fn first_member(profile: u32) -> u16 {
    (profile * 10 + 1) as u16
}

fn exact_key(src: u32, dst: u32, sport: Option<u16>, dport: Option<u16>) -> ClassifyKeyV4 {
    ClassifyKeyV4 {
        src_addr: Ternary::<u32>::exact(src),
        dst_addr: Ternary::<u32>::exact(dst),
        protocol: Ternary::<u8>::exact(6),
        l4_src_port: sport.map_or(Ternary::<u16>::any(), Ternary::<u16>::exact),
        l4_dst_port: dport.map_or(Ternary::<u16>::any(), Ternary::<u16>::exact),
    }
}

/// The 160,000 classify inserts (forward and reverse rule per VS × member).
pub fn classify_ops() -> Vec<TableOp> {
    classify_ops_with(Selection::All)
}

/// What the profiles select, for [`classify_ops_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Every packet (no filters, no sampling).
    All,
    /// Ten filter rules per profile that the compiler decides per classify rule
    /// (direction, protocol, prefixes, the member's port): no extra entry, only
    /// other actions (here the requests to member 7 are skipped).
    StaticFilters,
    /// Ten filter rules per profile, as the compiler folds them: nine decided per
    /// classify rule at compile time (they only change the action of some rules:
    /// here the requests to member 7 are skipped) and one with a range on the SE's
    /// port (`skip to_pool src_ports 0-1023`: one more ternary entry per forward
    /// rule, one block, at priority 101).
    Filters,
    /// [`Selection::Filters`] and flow sampling at 100% (`classify_hit_sampled`,
    /// every flow sampled): the hashing and the comparison with the clones unchanged.
    FiltersSampled,
}

/// The classify inserts for `sel` (see [`Selection`]).
pub fn classify_ops_with(sel: Selection) -> Vec<TableOp> {
    let mut ops = Vec::with_capacity((VS * MEMBERS * 3) as usize);
    for vs in 0..VS {
        let profile = vs % PROFILES;
        let (first_member, member_count) = (first_member(profile), SERVERS);
        let mode = if profile.is_multiple_of(3) { MODE_FLOW_HASH } else { MODE_ROUND_ROBIN };
        let action = match sel {
            Selection::FiltersSampled => ClassifyAction::HitSampled {
                first_member,
                member_count,
                mode,
                sample_mode: SAMPLE_FLOWS,
                sample_arg: 10_000,
            },
            _ => ClassifyAction::Hit { first_member, member_count, mode },
        };
        let skip = ClassifyAction::Skip { first_member };
        for m in 0..MEMBERS {
            let (se, srv, port) = (se_addr(vs), server_addr(vs, m), server_port(m));
            if matches!(sel, Selection::Filters | Selection::FiltersSampled) {
                let mut key = exact_key(se, srv, None, Some(port));
                key.l4_src_port = Ternary { value: 0, mask: 0xFC00 };
                ops.push(TableOp::insert(
                    CLASSIFY_V4,
                    ClassifyEntry { key, priority: PRIORITY + 1, action: skip, metadata: b"filter".to_vec() },
                ));
            }
            let forward = if sel != Selection::All && m == 7 { skip } else { action };
            let (se, srv, port) = (se_addr(vs), server_addr(vs, m), server_port(m));
            let digest = format!("{:016x}", (u64::from(vs) << 8) | u64::from(m)).into_bytes();
            ops.push(TableOp::insert(
                CLASSIFY_V4,
                ClassifyEntry {
                    key: exact_key(se, srv, None, Some(port)),
                    priority: PRIORITY,
                    action: forward,
                    metadata: digest.clone(),
                },
            ));
            ops.push(TableOp::insert(
                CLASSIFY_V4,
                ClassifyEntry {
                    key: exact_key(srv, se, Some(port), None),
                    priority: PRIORITY,
                    action,
                    metadata: digest,
                },
            ));
        }
    }
    ops
}

/// Wires, clone sessions and rewrite entries for every member of every profile.
pub fn base_ops() -> Vec<TableOp> {
    let mut ops = vec![
        TableOp::insert(
            WIRE,
            WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: b"wire:1-2".to_vec() },
        ),
        TableOp::insert(
            WIRE,
            WireEntry { ingress_port: 2, action: WireAction::Forward(1), metadata: b"wire:1-2".to_vec() },
        ),
    ];
    for profile in 0..PROFILES {
        for s in 0..SERVERS {
            let member = first_member(profile) + s;
            ops.push(TableOp::insert_clone_session(CloneSessionEntry {
                session_id: member,
                session: CloneSession {
                    replicas: vec![Replica { egress_port: 3, instance: member }],
                    packet_length_bytes: 0,
                },
            }));
            ops.push(TableOp::insert(
                CLONE_REWRITE,
                RewriteEntry {
                    member,
                    action: RewriteAction::Set(RewriteParams {
                        dst_mac: [2, 0xCC, 0, 0, (member >> 8) as u8, member as u8],
                        src_mac: [2, 0xEE, 0, 0, 0, 3],
                        vlan_id: 100,
                        truncate_len: if profile.is_multiple_of(5) { 128 } else { 0 },
                        nat_restore: false,
                    }),
                    metadata: b"0123456789abcdef".to_vec(),
                },
            ));
        }
    }
    ops
}

/// A `clone_encap` VXLAN entry for every member: every clone is encapsulated.
pub fn encap_ops() -> Vec<TableOp> {
    let mut ops = Vec::new();
    for profile in 0..PROFILES {
        for s in 0..SERVERS {
            let member = first_member(profile) + s;
            let outer = Outer { src_addr: [192, 168, 50, 2], dst_addr: [198, 51, 100, s as u8], mtu: 1500 };
            ops.push(TableOp::insert(
                CLONE_ENCAP,
                EncapEntry {
                    member,
                    action: EncapAction::Vxlan { outer, vni: u32::from(member) },
                    metadata: b"0123456789abcdef".to_vec(),
                },
            ));
        }
    }
    ops
}

/// A pipeline with the whole configuration loaded (batches of 1000).
pub fn loaded() -> Pipeline {
    let p = Pipeline::new();
    load(&p, base_ops());
    load(&p, classify_ops());
    p
}

pub fn load(p: &Pipeline, ops: Vec<TableOp>) {
    let mut it = ops.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<TableOp> = it.by_ref().take(1000).collect();
        for r in p.apply(chunk) {
            r.expect("load");
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A 64-byte IPv4 TCP frame (checksums are irrelevant to the pipeline unless NAT).
pub fn tcp_frame(src: u32, sport: u16, dst: u32, dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&((FRAME_LEN - 14) as u16).to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&src.to_be_bytes());
    f[30..34].copy_from_slice(&dst.to_be_bytes());
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[46] = 0x50;
    f
}

/// `n` frames of which about `match_pct`% hit a classify rule (random VS, member,
/// direction); the others are TCP between addresses no rule covers.
pub fn frames(n: usize, match_pct: u64, seed: u64) -> Vec<Vec<u8>> {
    let mut r = Rng(seed | 1);
    (0..n)
        .map(|_| {
            let client_port = 1024 + (r.next() % 60000) as u16;
            if r.next() % 100 < match_pct {
                let vs = (r.next() % u64::from(VS)) as u32;
                let m = (r.next() % u64::from(MEMBERS)) as u32;
                let (se, srv, port) = (se_addr(vs), server_addr(vs, m), server_port(m));
                if r.next().is_multiple_of(2) {
                    tcp_frame(se, client_port, srv, port)
                } else {
                    tcp_frame(srv, port, se, client_port)
                }
            } else {
                let a = 0xAC10_0000 | (r.next() as u32 & 0xFFFF);
                let b = 0xC0A8_0000 | (r.next() as u32 & 0xFFFF);
                tcp_frame(a, client_port, b, 443)
            }
        })
        .collect()
}

/// Rx frames for `frames`, alternating ports 1 and 2 by direction.
pub fn rx(frames: &[Vec<u8>]) -> Vec<RxFrame<'_>> {
    frames.iter().enumerate().map(|(i, f)| RxFrame { port: 1 + (i % 2) as u16, data: f }).collect()
}

/// Current resident set size in KiB (Linux `/proc/self/status` VmRSS).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// This thread's CPU time in ns (`CLOCK_THREAD_CPUTIME_ID`): time the thread was
/// preempted by other processes on a shared machine does not count.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Criterion measurement: thread CPU time (ns). Per-frame figures are then those of a
/// dedicated core, even when other processes share the machine.
pub struct ThreadCpuTime;

/// Formats [`ThreadCpuTime`] values like criterion's wall time (ns, elements/s).
pub struct CpuFormatter;

impl criterion::measurement::ValueFormatter for CpuFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else {
            (1e-6, "ms")
        };
        for v in values {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(&self, typical: f64, throughput: &criterion::Throughput, values: &mut [f64]) -> &'static str {
        let n = match *throughput {
            criterion::Throughput::Elements(n) => n,
            criterion::Throughput::ElementsAndBytes { elements, .. } => elements,
            criterion::Throughput::Bytes(n)
            | criterion::Throughput::BytesDecimal(n)
            | criterion::Throughput::Bits(n) => n,
        } as f64;
        let per_s = n * 1e9 / typical;
        let (div, unit) = if per_s < 1e6 { (1e3, "Kelem/s") } else { (1e6, "Melem/s") };
        for v in values {
            *v = n * 1e9 / *v / div;
        }
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl criterion::measurement::Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns() - i
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        &CpuFormatter
    }
}
