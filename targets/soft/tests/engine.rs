//! The packet loop with a pipeline loaded by hand: pcap replay to per-port outputs,
//! counters, transmit failure accounting, live polling.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use p4clone_pipeline::{
    ClassifyAction, ClassifyEntryV4, ClassifyKeyV4, CloneSession, CloneSessionEntry, Diag, Pipeline, Replica,
    RewriteAction, RewriteEntry, RewriteParams, Ternary, WireAction, WireEntry, MODE_ROUND_ROBIN,
};
use p4clone_pipeline::{CLASSIFY_V4, CLONE_REWRITE, WIRE};
use p4clone_soft::engine::{pcap_ports, Engine};
use p4clone_soft::ports::pcap::read_all;
use p4clone_soft::ports::{InputKind, Port, Result as PortResult, RxBatch, TxBurst, TxFailure};

mod common;
use common::{write_pcap_at, TempDir};

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const CLONE_MAC: [u8; 6] = [0x02, 0xc1, 0, 0, 0, 0x01];
const SE_MAC: [u8; 6] = [0x02, 0x5e, 0, 0, 0, 0x03];

/// Ethernet + IPv4 + TCP, `tag` in the payload's first byte.
fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, tag: u8) -> Vec<u8> {
    let (smac, dmac) = if src == CLIENT { (MAC_A, MAC_B) } else { (MAC_B, MAC_A) };
    let mut f = Vec::new();
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&smac);
    f.extend_from_slice(&[0x08, 0x00]);
    let payload = [tag, 0xee, 0xee, 0xee, 0xee, 0xee];
    let total = (20 + 20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(&payload);
    f
}

fn to_server(tag: u8) -> Vec<u8> {
    tcp(CLIENT, SERVER, 40000, 80, tag)
}
fn to_client(tag: u8) -> Vec<u8> {
    tcp(SERVER, CLIENT, 80, 40000, tag)
}
fn unmatched(tag: u8) -> Vec<u8> {
    tcp(CLIENT, SERVER, 40000, 443, tag)
}

/// The expected clone of `f`: MACs rewritten, the rest unchanged.
fn cloned(f: &[u8]) -> Vec<u8> {
    let mut c = f.to_vec();
    c[0..6].copy_from_slice(&CLONE_MAC);
    c[6..12].copy_from_slice(&SE_MAC);
    c
}

fn v4(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

/// Wire 1 <-> 2, classify both directions of CLIENT <-> SERVER:80 to member 1,
/// clone session 1 -> `clone_port`, rewrite member 1's MACs.
fn pipeline(clone_port: u16) -> Arc<Pipeline> {
    let p = Pipeline::new();
    p.write(|b| {
        b.insert(WIRE, WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] })?;
        b.insert(WIRE, WireEntry { ingress_port: 2, action: WireAction::Forward(1), metadata: vec![] })?;
        let hit = ClassifyAction::Hit { first_member: 1, member_count: 1, mode: MODE_ROUND_ROBIN };
        b.insert(
            CLASSIFY_V4,
            ClassifyEntryV4 {
                key: ClassifyKeyV4 {
                    src_addr: Ternary::<u32>::exact(v4(CLIENT)),
                    dst_addr: Ternary::<u32>::exact(v4(SERVER)),
                    protocol: Ternary::<u8>::exact(6),
                    l4_src_port: Ternary::<u16>::any(),
                    l4_dst_port: Ternary::<u16>::exact(80),
                },
                priority: 10,
                action: hit,
                metadata: vec![],
            },
        )?;
        b.insert(
            CLASSIFY_V4,
            ClassifyEntryV4 {
                key: ClassifyKeyV4 {
                    src_addr: Ternary::<u32>::exact(v4(SERVER)),
                    dst_addr: Ternary::<u32>::exact(v4(CLIENT)),
                    protocol: Ternary::<u8>::exact(6),
                    l4_src_port: Ternary::<u16>::exact(80),
                    l4_dst_port: Ternary::<u16>::any(),
                },
                priority: 10,
                action: hit,
                metadata: vec![],
            },
        )?;
        b.insert_clone_session(CloneSessionEntry {
            session_id: 1,
            session: CloneSession {
                replicas: vec![Replica { egress_port: clone_port, instance: 1 }],
                packet_length_bytes: 0,
            },
        })?;
        b.insert(
            CLONE_REWRITE,
            RewriteEntry {
                member: 1,
                action: RewriteAction::Set(RewriteParams {
                    dst_mac: CLONE_MAC,
                    src_mac: SE_MAC,
                    vlan_id: 0,
                    truncate_len: 0,
                    nat_restore: false,
                }),
                metadata: vec![],
            },
        )
    })
    .unwrap();
    Arc::new(p)
}

const US: u64 = 1_000;
const T0: u64 = 1_700_000_000_000_000_000;

struct Case {
    dir: TempDir,
    inputs: BTreeMap<u16, PathBuf>,
    in1: Vec<(u64, Vec<u8>)>,
    in2: Vec<(u64, Vec<u8>)>,
}

/// Port 1 (client side) and port 2 (server side) inputs with interleaved and equal
/// timestamps.
fn case() -> Case {
    let dir = common::tempdir("engine");
    let in1 = vec![(T0 + US, to_server(1)), (T0 + 3 * US, unmatched(2)), (T0 + 5 * US, to_server(3))];
    let in2 = vec![(T0 + 2 * US, to_client(11)), (T0 + 3 * US, to_client(12)), (T0 + 4 * US, to_client(13))];
    let p1 = dir.path().join("in-1.pcap");
    let p2 = dir.path().join("in-2.pcap");
    write_pcap_at(&p1, &in1);
    write_pcap_at(&p2, &in2);
    let inputs = BTreeMap::from([(1, p1), (2, p2)]);
    Case { dir, inputs, in1, in2 }
}

#[test]
fn replay_writes_expected_per_port_outputs_and_counters() {
    let c = case();
    let out = c.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let p = pipeline(3);
    let ports = pcap_ports(&c.inputs, &out).unwrap();
    let mut engine = Engine::new(p.clone(), ports).with_output_dir(&out);
    let report = engine.run_until_drained().unwrap();

    // Originals on the wire peer, in input order, with their input timestamps.
    assert_eq!(read_all(out.join("port-2.pcap")).unwrap(), c.in1);
    assert_eq!(read_all(out.join("port-1.pcap")).unwrap(), c.in2);
    // Clones on port 3 in the one merged order: ts 1 (port 1), 2 (port 2), 3 (port 1's
    // frame is not cloned; port 2's comes after it on the tie), 4 (port 2), 5 (port 1).
    let want3: Vec<(u64, Vec<u8>)> = vec![
        (c.in1[0].0, cloned(&c.in1[0].1)),
        (c.in2[0].0, cloned(&c.in2[0].1)),
        (c.in2[1].0, cloned(&c.in2[1].1)),
        (c.in2[2].0, cloned(&c.in2[2].1)),
        (c.in1[2].0, cloned(&c.in1[2].1)),
    ];
    assert_eq!(read_all(out.join("port-3.pcap")).unwrap(), want3);

    let r1 = report.port(1).unwrap();
    assert_eq!((r1.io.rx_frames, r1.io.tx_frames, r1.io.tx_clones), (3, 3, 0));
    let r2 = report.port(2).unwrap();
    assert_eq!((r2.io.rx_frames, r2.io.tx_frames), (3, 3));
    let r3 = report.port(3).unwrap();
    assert_eq!((r3.io.rx_frames, r3.io.tx_frames, r3.io.tx_clones, r3.io.tx_failed), (0, 5, 5, 0));
    assert!(r3.backend.as_deref().unwrap().contains("port-3.pcap"));
    assert_eq!(r3.pipeline.tx.packets, 5);
    assert_eq!(report.frames_in(), 6);
    assert_eq!(report.frames_out(), 11);

    let m = report.member(1).unwrap();
    assert_eq!((m.requested.packets, m.emitted.packets, m.sent), (5, 5, 5));
    assert_eq!((m.alloc_failed, m.driver_failed), (0, 0));
    assert_eq!(report.members.len(), 1);
    let text = report.to_string();
    assert!(text.contains("member") && text.contains("frames/s"), "{text}");
    engine.close().unwrap();
}

#[test]
fn clone_before_original_on_the_same_port() {
    let c = case();
    let out = c.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // Clones leave on port 2, the client side's wire peer.
    let mut engine = Engine::new(pipeline(2), pcap_ports(&c.inputs, &out).unwrap());
    engine.run_until_drained().unwrap();
    let want2: Vec<(u64, Vec<u8>)> = vec![
        (c.in1[0].0, cloned(&c.in1[0].1)),
        c.in1[0].clone(),
        (c.in2[0].0, cloned(&c.in2[0].1)),
        c.in1[1].clone(),
        (c.in2[1].0, cloned(&c.in2[1].1)),
        (c.in2[2].0, cloned(&c.in2[2].1)),
        (c.in1[2].0, cloned(&c.in1[2].1)),
        c.in1[2].clone(),
    ];
    assert_eq!(read_all(out.join("port-2.pcap")).unwrap(), want2);
}

#[test]
fn frames_to_a_port_without_backend_are_dropped_and_counted() {
    let c = case();
    let out = c.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let p = pipeline(3);
    let mut engine = Engine::new(p.clone(), pcap_ports(&c.inputs, &out).unwrap());
    let report = engine.run_until_drained().unwrap();
    assert!(!out.join("port-3.pcap").exists());
    let r3 = report.port(3).unwrap();
    assert_eq!(r3.backend, None);
    assert_eq!((r3.io.tx_frames, r3.io.tx_no_port), (0, 5));
    let m = report.member(1).unwrap();
    assert_eq!((m.emitted.packets, m.sent, m.driver_failed), (5, 0, 5));
    assert_eq!(p.diag(Diag::DriverFailed, 1), 5);
}

#[test]
fn open_outputs_creates_empty_files() {
    let c = case();
    let out = c.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut engine = Engine::new(pipeline(3), pcap_ports(&c.inputs, &out).unwrap()).with_output_dir(&out);
    engine.open_outputs([1, 9]).unwrap();
    engine.run_until_drained().unwrap();
    assert!(read_all(out.join("port-9.pcap")).unwrap().is_empty());
    assert_eq!(read_all(out.join("port-1.pcap")).unwrap().len(), 3);

    let mut bare = Engine::new(pipeline(3), BTreeMap::new());
    assert!(bare.open_outputs([4]).unwrap_err().to_string().contains("no output directory"));
}

#[test]
fn zero_length_frames_are_forwarded_to_the_peer_and_never_cloned() {
    // As BMv2 does: a zero-length record on a wire port leaves the peer port as a
    // zero-length frame, with no classification and no round-robin advance.
    let dir = common::tempdir("engine");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let in1 = vec![(T0, to_server(1)), (T0 + US, vec![]), (T0 + 2 * US, to_server(2))];
    let p1 = dir.path().join("in-1.pcap");
    write_pcap_at(&p1, &in1);
    let p = pipeline(3);
    let mut engine =
        Engine::new(p.clone(), pcap_ports(&BTreeMap::from([(1, p1)]), &out).unwrap()).with_output_dir(&out);
    let report = engine.run_until_drained().unwrap();
    assert_eq!(read_all(out.join("port-2.pcap")).unwrap(), in1);
    assert_eq!(read_all(out.join("port-3.pcap")).unwrap().len(), 2);
    let r1 = report.port(1).unwrap();
    assert_eq!((r1.io.rx_frames, r1.io.rx_zero_length, r1.pipeline.rx.packets), (3, 1, 3));
    assert_eq!(report.port(2).unwrap().io.tx_frames, 3);
}

// ------------------------------------------------------------------ mock ports

/// In-memory input (replay or live) that records what it is asked to send.
struct Mock {
    kind: InputKind,
    input: Arc<Mutex<VecDeque<Vec<u8>>>>,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Per burst: (marks, how many to report taken); `None` = take all.
    script: VecDeque<(Vec<(usize, TxFailure)>, usize)>,
}

impl Mock {
    fn new(kind: InputKind, input: Vec<Vec<u8>>) -> Self {
        Mock {
            kind,
            input: Arc::new(Mutex::new(input.into())),
            sent: Arc::new(Mutex::new(Vec::new())),
            script: VecDeque::new(),
        }
    }
}

impl Port for Mock {
    fn describe(&self) -> String {
        "mock".into()
    }
    fn input_kind(&self) -> InputKind {
        self.kind
    }
    fn recv_burst(&mut self, batch: &mut RxBatch) -> PortResult<usize> {
        let mut q = self.input.lock().unwrap();
        let mut n = 0;
        while batch.room() > 0 {
            let Some(f) = q.pop_front() else { break };
            batch.push(n as u64, &f);
            n += 1;
        }
        Ok(n)
    }
    fn send_burst(&mut self, burst: &mut TxBurst<'_>) -> PortResult<usize> {
        let (marks, taken) = self.script.pop_front().unwrap_or((vec![], usize::MAX));
        for &(i, why) in &marks {
            burst.fail(i, why);
        }
        let taken = taken.min(burst.len());
        let mut sent = self.sent.lock().unwrap();
        for i in 0..taken {
            if !marks.iter().any(|m| m.0 == i) {
                sent.push(burst.get(i).to_vec());
            }
        }
        Ok(taken)
    }
    fn is_exhausted(&self) -> bool {
        match self.kind {
            InputKind::Live => false,
            _ => self.input.lock().unwrap().is_empty(),
        }
    }
}

#[test]
fn transmit_failures_are_accounted_exactly() {
    let p = pipeline(3);
    let frames: Vec<Vec<u8>> = (0..5).map(to_server).collect();
    let input = Mock::new(InputKind::Replay, frames.clone());
    let peer = Mock::new(InputKind::None, vec![]);
    let peer_sent = peer.sent.clone();
    let mut clone_port = Mock::new(InputKind::None, vec![]);
    // Clone 0: no buffer; clone 1: refused; driver takes 3 (so 3 and 4 fail too).
    clone_port.script.push_back((vec![(0, TxFailure::Alloc), (1, TxFailure::Driver)], 3));
    let clone_sent = clone_port.sent.clone();
    let ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::from([
        (1, Box::new(input) as Box<dyn Port>),
        (2, Box::new(peer) as _),
        (3, Box::new(clone_port) as _),
    ]);
    let mut engine = Engine::new(p.clone(), ports);
    let report = engine.run_until_drained().unwrap();

    assert_eq!(*peer_sent.lock().unwrap(), frames);
    assert_eq!(*clone_sent.lock().unwrap(), vec![cloned(&frames[2])]);
    let r3 = report.port(3).unwrap();
    assert_eq!((r3.io.tx_frames, r3.io.tx_alloc_failed, r3.io.tx_failed), (1, 1, 3));
    let m = report.member(1).unwrap();
    assert_eq!((m.emitted.packets, m.sent, m.alloc_failed, m.driver_failed), (5, 1, 1, 3));
    assert_eq!(m.sent + m.alloc_failed + m.driver_failed, m.emitted.packets);
    assert_eq!(p.diag(Diag::AllocFailed, 1), 1);
    assert_eq!(p.diag(Diag::DriverFailed, 1), 3);
}

#[test]
fn run_until_drained_refuses_live_ports() {
    let ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::from([(1, Box::new(Mock::new(InputKind::Live, vec![])) as _)]);
    let mut engine = Engine::new(pipeline(3), ports);
    let e = engine.run_until_drained().unwrap_err().to_string();
    assert!(e.contains("port 1 (mock) is live"), "{e}");
}

#[test]
fn run_polls_live_ports_until_stopped() {
    let p = pipeline(3);
    let a = Mock::new(InputKind::Live, vec![]);
    let b = Mock::new(InputKind::Live, vec![]);
    let mon = Mock::new(InputKind::None, vec![]);
    let (a_in, b_in) = (a.input.clone(), b.input.clone());
    let (a_out, b_out, mon_out) = (a.sent.clone(), b.sent.clone(), mon.sent.clone());
    let ports: BTreeMap<u16, Box<dyn Port>> =
        BTreeMap::from([(1, Box::new(a) as Box<dyn Port>), (2, Box::new(b) as _), (3, Box::new(mon) as _)]);
    let mut engine = Engine::new(p, ports);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let th = std::thread::spawn(move || {
        let r = engine.run(s);
        (engine, r)
    });
    // Frames arrive while the engine polls (and sleeps when idle).
    for i in 0..50u8 {
        a_in.lock().unwrap().push_back(to_server(i));
        if i % 2 == 0 {
            b_in.lock().unwrap().push_back(to_client(i));
        }
        if i % 10 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while mon_out.lock().unwrap().len() < 75 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    stop.store(true, Ordering::Relaxed);
    let (_engine, r) = th.join().unwrap();
    let report = r.unwrap();
    assert_eq!(b_out.lock().unwrap().len(), 50);
    assert_eq!(a_out.lock().unwrap().len(), 25);
    assert_eq!(mon_out.lock().unwrap().len(), 75);
    // Per port, frames leave in arrival order.
    let got: Vec<Vec<u8>> = b_out.lock().unwrap().clone();
    assert_eq!(got, (0..50).map(to_server).collect::<Vec<_>>());
    assert_eq!(report.port(1).unwrap().io.rx_frames, 50);
    assert_eq!(report.member(1).unwrap().sent, 75);
}

#[test]
fn run_returns_when_replay_inputs_are_drained() {
    let c = case();
    let out = c.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut engine = Engine::new(pipeline(3), pcap_ports(&c.inputs, &out).unwrap()).with_output_dir(&out);
    let report = engine.run(Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(report.frames_in(), 6);
    assert_eq!(read_all(out.join("port-2.pcap")).unwrap(), c.in1);
    assert_eq!(read_all(out.join("port-1.pcap")).unwrap(), c.in2);
    assert_eq!(read_all(out.join("port-3.pcap")).unwrap().len(), 5);
}
