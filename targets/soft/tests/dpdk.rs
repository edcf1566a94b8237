//! The DPDK port backend on virtual devices: the EAL runs with `--no-huge --no-pci
//! --in-memory` and `net_pcap` / `net_ring` / `net_null` devices, so no NIC,
//! hugepage or privilege is needed, only the system DPDK. Built with
//! `--features dpdk` only (`scripts/test-dpdk.sh`).
//!
//! - the shared packet test vectors, byte-exact on `net_pcap` devices, fed in the
//!   vectors' global order by hand, by the generic engine, and by [`dpdk_loop::run`]
//!   (which merges several file inputs by timestamp, as `p4clone soft --dpdk` runs
//!   them);
//! - the lcore fast path of [`dpdk_loop::run`] against the pcap backend on the same
//!   input, with clones copied and chained zero-copy;
//! - mbuf accounting: pools back to where they were after every run; a tiny TX
//!   pool gives `alloc_failed`, a full TX ring gives `driver_failed`, nothing leaks;
//! - SIGTERM in the middle of a run on two worker lcores (two queue pairs per
//!   device, RSS): clean exit, nothing leaked.
#![cfg(feature = "dpdk")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::{lower, source};
use p4clone_pipeline::{Pipeline, Ternary, WireAction, WIRE};
use p4clone_soft::engine::dpdk as dpdk_loop;
use p4clone_soft::engine::{pcap_ports, Engine, PortTable, Worker};
use p4clone_soft::ports::dpdk::{self, CloneCopy, DpdkOptions, DpdkPort, DpdkPortStats, Eal, PoolUsage};
use p4clone_soft::ports::pcap::{read_all, PcapWriter};
use p4clone_soft::ports::{Port, PortSpec, RxBatch};
use p4clone_soft::server::SoftTarget;

mod common;
use common::{records, write_pcap, TempDir};

// ------------------------------------------------------------------------ helpers

fn pmd_dir() -> String {
    std::env::var("P4CLONE_DPDK_PMDS").unwrap_or_else(|_| dpdk::DEBIAN_PMD_DIR.to_string())
}

/// The EAL of this test process: one lcore, 512 MB of ordinary memory.
fn eal() -> Eal {
    static EAL: OnceLock<Eal> = OnceLock::new();
    *EAL.get_or_init(|| {
        let pmds = pmd_dir();
        Eal::init_args(&["-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "-d", &pmds, "--log-level=4"])
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Test options: small rings and pools (the process has 512 MB for every device).
fn small() -> DpdkOptions {
    DpdkOptions { rx_desc: 256, tx_desc: 256, pool_cache: 32, ..DpdkOptions::default() }
}

/// A unique vdev name with driver prefix `driver`.
fn vdev_name(driver: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{driver}_t{}_{}", std::process::id() % 10_000, N.fetch_add(1, Ordering::Relaxed))
}

/// A temporary directory removed on drop.
/// A net_pcap device that only writes `tx` (no RX stream).
fn pcap_tx_vdev(tx: &Path) -> (String, u16) {
    let name = vdev_name("net_pcap");
    let id = eal().probe(&format!("{name},tx_pcap={}", tx.display())).unwrap();
    (name, id)
}

/// A net_pcap device reading `rx` (an empty file if `None`) and writing `tx`.
fn pcap_vdev(dir: &Path, rx: Option<&Path>, tx: &Path) -> (String, u16) {
    let empty = dir.join("empty.pcap");
    if !empty.exists() {
        write_pcap(&empty, &[]);
    }
    let name = vdev_name("net_pcap");
    let rx = rx.unwrap_or(&empty);
    let id = eal().probe(&format!("{name},rx_pcap={},tx_pcap={}", rx.display(), tx.display())).unwrap();
    (name, id)
}

/// 64..1514-byte IPv4/TCP frame from 10.0.0.1:40000 to 10.0.0.2:`dport`.
fn frame(len: usize, dport: u16, seq: u32) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    let ip_len = (len - 14) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.resize(len, 0);
    for (i, b) in f.iter_mut().enumerate().skip(54) {
        *b = (i as u32 ^ seq) as u8;
    }
    f
}

/// Wire 1 <-> 2; TCP to 10.0.0.2:80 cloned to member 1 (port 3, VLAN 7 pushed).
fn pipeline() -> Arc<Pipeline> {
    common::clone_pipeline(Ternary::<u32>::exact(0x0a00_0002), 7)
}

/// Receives everything `ports[from]` has (in bursts), runs it through the worker.
fn drain(worker: &mut Worker, p: &Pipeline, table: &mut PortTable, from: u16) -> u64 {
    let mut rx = RxBatch::new(32);
    let mut n = 0;
    let mut idle = 0;
    while idle < 3 {
        rx.clear();
        let k = table.ports_mut().get_mut(&from).unwrap().recv_burst(&mut rx).unwrap();
        if k == 0 {
            idle += 1;
            continue;
        }
        idle = 0;
        n += k as u64;
        rx.stamp_port(0, from);
        worker.run_burst(p, &rx, table).unwrap();
        table.ports_mut().get_mut(&from).unwrap().release_rx(&rx);
    }
    n
}

// ------------------------------------------------------------------ the vectors

/// The pipeline of a vector case, loaded as the compiler emits it.
fn load_case(config: &Path) -> Arc<Pipeline> {
    let loaded = source::load_file(config).unwrap_or_else(|e| panic!("{}: {e}", config.display()));
    let intent = intent::compile(&loaded.config, &Allocation::default())
        .unwrap_or_else(|d| panic!("{}: {d:?}", config.display()));
    assert_eq!(intent.devices.len(), 1, "{}", config.display());
    let d = &intent.devices[0];
    let schema = lower::program_schema().unwrap();
    let req = lower::write_request(d.device_id, lower::lower_device(d, schema).unwrap());
    let target = SoftTarget::new(d.device_id);
    target.set_pipeline_in_process(SoftTarget::program_p4info(), None).unwrap();
    target.apply_write(&req).unwrap_or_else(|e| panic!("{}: {e:?}", config.display()));
    target.pipeline()
}

fn file_ports(dir: &Path, prefix: &str) -> BTreeMap<u16, PathBuf> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if let Some(n) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(".pcap")) {
            m.insert(n.parse().unwrap(), p);
        }
    }
    m
}

/// How [`run_case`] drives the devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bursts fed by hand in the vectors' order; every clone copied; half the ports
    /// opened through the CLI's spec path.
    Copy,
    /// The same, every clone chained zero-copy (net_pcap linearises chains on TX
    /// without announcing the offload, hence `force_multi_seg`).
    ZeroCopy,
    /// `Engine::run_until_drained` over ports opened from specs: net_pcap file
    /// inputs are replays, merged by their timestamps.
    Engine,
    /// [`dpdk_loop::run`] (as `p4clone soft --dpdk`): a single file input goes through
    /// the lcore fast path, several are merged by their timestamps.
    Loop,
}

/// Runs one case on net_pcap devices; returns the mismatches.
fn run_case(case: &Path, mode: Mode) -> Vec<String> {
    let zero_copy = mode == Mode::ZeroCopy;
    let eal = eal();
    let p = load_case(&case.join("config.yaml"));
    let inputs = file_ports(case, "in-");
    let expected = file_ports(case, "expected-");
    let mut ports: BTreeSet<u16> = inputs.keys().chain(expected.keys()).copied().collect();
    for w in p.entries(WIRE) {
        ports.insert(w.ingress_port);
        if let WireAction::Forward(o) = w.action {
            ports.insert(o);
        }
    }
    for s in p.clone_sessions() {
        ports.extend(s.session.replicas.iter().map(|r| r.egress_port));
    }
    ports.retain(|&n| n <= p4clone_soft::ports::MAX_PORT);

    let tmp = common::tempdir("dpdk-vec");
    let mut table = BTreeMap::new();
    let mut loop_ports = BTreeMap::new();
    let mut ids = Vec::new();
    for &n in &ports {
        let out = tmp.path().join(format!("port-{n}.pcap"));
        let (name, id) = match inputs.get(&n) {
            // Output-only: a case with one input runs on the fast path.
            None if mode == Mode::Loop => pcap_tx_vdev(&out),
            input => pcap_vdev(tmp.path(), input.map(PathBuf::as_path), &out),
        };
        ids.push(id);
        if mode == Mode::Loop {
            loop_ports.insert(n, name);
            continue;
        }
        let port: Box<dyn Port> = if mode == Mode::Engine {
            PortSpec::parse(&format!("{n}=dpdk:{id}")).unwrap().open(tmp.path()).unwrap()
        } else if zero_copy {
            let o = DpdkOptions { clone_copy: CloneCopy::Never, force_multi_seg: true, ..small() };
            Box::new(DpdkPort::open_with(&name, &o).unwrap())
        } else if n % 2 == 0 {
            // The spec path (default options: clones this short are copied), by name.
            PortSpec::parse(&format!("{n}=dpdk:{name}")).unwrap().open(tmp.path()).unwrap()
        } else {
            let o = DpdkOptions { clone_copy: CloneCopy::Always, ..small() };
            Box::new(DpdkPort::open_with(&id.to_string(), &o).unwrap())
        };
        table.insert(n, port);
    }
    if mode == Mode::Loop {
        let report = dpdk_loop::run(&p, &loop_ports, &small(), &AtomicBool::new(false)).unwrap();
        let total: usize = inputs.values().map(|f| read_all(f).unwrap().len()).sum();
        assert_eq!(report.frames_in(), total as u64, "{}", case.display());
        let pools: Vec<PoolUsage> = ids.iter().map(|&id| eal.pool_usage(id).unwrap()).collect();
        for u in &pools {
            assert_eq!((u.rx_avail, u.tx_avail), (u.rx_size, u.tx_size), "{}: mbufs leaked", case.display());
        }
        return finish_case(case, &ids, &pools, &ports, &expected, tmp, mode);
    }
    let before: Vec<PoolUsage> = ids.iter().map(|&id| eal.pool_usage(id).unwrap()).collect();

    // The vectors' global order: heads of the input files, (timestamp, port).
    let recs: BTreeMap<u16, Vec<(u64, Vec<u8>)>> = inputs.iter().map(|(&n, f)| (n, read_all(f).unwrap())).collect();
    let mut pos: BTreeMap<u16, usize> = recs.keys().map(|&n| (n, 0)).collect();
    let mut order = Vec::new();
    loop {
        let next =
            recs.iter().filter(|(n, r)| pos[*n] < r.len()).min_by_key(|(n, r)| (r[pos[*n]].0, **n)).map(|(n, _)| *n);
        let Some(n) = next else { break };
        order.push(n);
        *pos.get_mut(&n).unwrap() += 1;
    }
    if mode == Mode::Engine {
        let mut engine = Engine::new(p.clone(), table);
        let report = engine.run_until_drained().unwrap();
        assert_eq!(report.frames_in(), order.len() as u64, "{}", case.display());
        engine.close().unwrap();
        drop(engine);
        return finish_case(case, &ids, &before, &ports, &expected, tmp, mode);
    }
    let mut table = PortTable::new(table);
    let mut worker = Worker::new(32);
    let mut i = 0;
    let mut fed: BTreeMap<u16, usize> = BTreeMap::new();
    while i < order.len() {
        let n = order[i];
        let run = order[i..].iter().take(32).take_while(|&&m| m == n).count();
        let mut rx = RxBatch::new(run);
        let got = table.ports_mut().get_mut(&n).unwrap().recv_burst(&mut rx).unwrap();
        assert_eq!(got, run, "{}: port {n} gave {got} frames, expected {run}", case.display());
        let base = *fed.get(&n).unwrap_or(&0);
        for k in 0..run {
            assert_eq!(rx.frame(k), recs[&n][base + k].1.as_slice(), "{}: port {n} frame {}", case.display(), base + k);
        }
        *fed.entry(n).or_default() += run;
        rx.stamp_port(0, n);
        worker.run_burst(&p, &rx, &mut table).unwrap();
        table.ports_mut().get_mut(&n).unwrap().release_rx(&rx);
        i += run;
    }
    drop(table);
    finish_case(case, &ids, &before, &ports, &expected, tmp, mode)
}

/// Checks pools and counters, closes the devices, compares the outputs.
fn finish_case(
    case: &Path,
    ids: &[u16],
    before: &[PoolUsage],
    ports: &BTreeSet<u16>,
    expected: &BTreeMap<u16, PathBuf>,
    tmp: TempDir,
    mode: Mode,
) -> Vec<String> {
    let eal = eal();
    let zero_copy = mode == Mode::ZeroCopy;
    let after: Vec<PoolUsage> = ids.iter().map(|&id| eal.pool_usage(id).unwrap()).collect();
    assert_eq!(before, after, "{}: mbufs leaked", case.display());
    let c: Vec<DpdkPortStats> = ids.iter().map(|&id| eal.port_counters(id).unwrap()).collect();
    let copied: u64 = c.iter().map(|c| c.tx_copied).sum();
    let chained: u64 = c.iter().map(|c| c.tx_zero_copy).sum();
    let originals: u64 = c.iter().map(|c| c.tx_originals).sum();
    let sent: usize = expected.values().map(|f| records(f).len()).sum();
    assert_eq!(copied + chained + originals, sent as u64, "{}: {c:?}", case.display());
    if zero_copy {
        assert_eq!(copied, 0, "{}: {c:?}", case.display());
    } else {
        assert_eq!(chained, 0, "{}: {c:?}", case.display());
    }
    eal.close_ports(ids).unwrap();

    let mut bad = Vec::new();
    for &n in ports {
        let got = records(&tmp.path().join(format!("port-{n}.pcap")));
        let want = expected.get(&n).map(|f| records(f)).unwrap_or_default();
        if got != want {
            let first = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
            bad.push(format!(
                "{mode:?} {} port {n}: {} frames, expected {} (first difference at frame {first})",
                case.file_name().unwrap().to_string_lossy(),
                got.len(),
                want.len()
            ));
        }
    }
    bad
}

#[test]
fn shared_vectors_are_byte_exact_on_net_pcap() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "only {} cases under {}", cases.len(), root.display());
    let bad: Vec<String> = [Mode::Copy, Mode::ZeroCopy, Mode::Engine, Mode::Loop]
        .iter()
        .flat_map(|&m| cases.iter().flat_map(move |c| run_case(c, m)))
        .collect();
    assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
}

// ------------------------------------------------------- the loop vs pcap backend

/// 400 frames on port 1: every 4th to port 80 (cloned), 64 or 1400 bytes.
fn mixed_input() -> Vec<Vec<u8>> {
    (0..400u32).map(|i| frame(if i % 3 == 0 { 1400 } else { 64 }, if i % 4 == 0 { 80 } else { 443 }, i)).collect()
}

/// The pcap backend's output for `input` on port 1: (port 2, port 3).
fn pcap_reference(input: &[Vec<u8>]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let tmp = common::tempdir("dpdk-ref");
    let inp = tmp.path().join("in-1.pcap");
    write_pcap(&inp, input);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let ports = pcap_ports(&BTreeMap::from([(1u16, inp)]), &out).unwrap();
    let mut e = Engine::new(pipeline(), ports).with_output_dir(&out);
    e.run_until_drained().unwrap();
    e.close().unwrap();
    (records(&out.join("port-2.pcap")), records(&out.join("port-3.pcap")))
}

/// What [`dpdk_loop`] saw.
struct LoopRun {
    report: p4clone_soft::engine::RunReport,
    out2: Vec<Vec<u8>>,
    out3: Vec<Vec<u8>>,
    pipeline: Arc<Pipeline>,
    counters1: DpdkPortStats,
    counters2: DpdkPortStats,
    counters3: DpdkPortStats,
}

/// Runs `input` through [`dpdk_loop::run`] on net_pcap devices 1 -> 2 (+ clones on 3).
fn dpdk_loop(input: &[Vec<u8>], opts: &DpdkOptions) -> LoopRun {
    let eal = eal();
    let tmp = common::tempdir("dpdk-loop");
    let inp = tmp.path().join("in.pcap");
    write_pcap(&inp, input);
    let (n1, id1) = pcap_vdev(tmp.path(), Some(&inp), &tmp.path().join("o1.pcap"));
    // Output-only devices: one file input, so the fast path runs (several file
    // inputs would be merged by timestamp, see `dpdk_loop::run`).
    let (_, id2) = pcap_tx_vdev(&tmp.path().join("o2.pcap"));
    let (n3, id3) = pcap_tx_vdev(&tmp.path().join("o3.pcap"));
    let ports = BTreeMap::from([(1u16, n1), (2, id2.to_string()), (3, n3)]);
    let p = pipeline();
    let stop = Arc::new(AtomicBool::new(false));
    let total = input.len() as u64;
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            while eal.eth_stats(id1).map_or(0, |s| s.ipackets) < total && t.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(5));
            }
            // The last burst is processed right after it was received.
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::SeqCst);
        })
    };
    let report = dpdk_loop::run(&p, &ports, opts, &stop).unwrap();
    stopper.join().unwrap();
    for id in [id1, id2, id3] {
        let u = eal.pool_usage(id).unwrap();
        assert_eq!((u.rx_avail, u.tx_avail), (u.rx_size, u.tx_size), "port {id}: mbufs leaked: {u:?}");
    }
    let counters1 = eal.port_counters(id1).unwrap();
    let counters2 = eal.port_counters(id2).unwrap();
    let counters3 = eal.port_counters(id3).unwrap();
    eal.close_ports(&[id1, id2, id3]).unwrap();
    LoopRun {
        report,
        out2: records(&tmp.path().join("o2.pcap")),
        out3: records(&tmp.path().join("o3.pcap")),
        pipeline: p,
        counters1,
        counters2,
        counters3,
    }
}

#[test]
fn packet_loop_matches_the_pcap_backend_copy_and_zero_copy() {
    let input = mixed_input();
    let (want2, want3) = pcap_reference(&input);
    assert_eq!(want2.len(), 400);
    assert_eq!(want3.len(), 100);
    // 34 of the 100 clones are 1400-byte frames (i % 12 == 0).
    for (copy, zero_copy) in
        [(CloneCopy::Always, 0), (CloneCopy::Never, 100), (CloneCopy::Auto { zero_copy_from: 512 }, 34)]
    {
        let opts = DpdkOptions { clone_copy: copy, force_multi_seg: true, ..small() };
        let LoopRun { report, out2, out3, counters2, counters3, .. } = dpdk_loop(&input, &opts);
        assert_eq!(out2, want2, "{copy:?}: port 2");
        assert_eq!(out3, want3, "{copy:?}: port 3");
        assert_eq!((counters2.tx_originals, counters2.tx_copied), (400, 0), "{copy:?}: originals zero-copy");
        assert_eq!((counters3.tx_zero_copy, counters3.tx_copied), (zero_copy, 100 - zero_copy), "{copy:?}");
        assert_eq!(report.port(1).unwrap().io.rx_frames, 400);
        assert_eq!(report.port(2).unwrap().io.tx_frames, 400);
        assert_eq!(report.port(3).unwrap().io.tx_clones, 100);
        let m = report.member(1).unwrap();
        assert_eq!((m.requested.packets, m.sent, m.alloc_failed, m.driver_failed), (100, 100, 0, 0), "{copy:?}");
    }
}

#[test]
fn packet_loop_forwards_empty_frames_and_linearises_chains() {
    // Zero-length records (forwarded to the peer port, never cloned; net_pcap
    // delivers them, a real NIC never does) and
    // 3,000-byte frames, which net_pcap receives as mbuf chains (the lane copies
    // them into one buffer and frees the chain), among ordinary frames.
    let input: Vec<Vec<u8>> = (0..120u32)
        .map(|i| match i % 6 {
            0 => Vec::new(),
            1 => frame(3000, if i % 4 == 1 { 80 } else { 443 }, i),
            _ => frame(64, if i % 4 == 0 { 80 } else { 443 }, i),
        })
        .collect();
    let (want2, want3) = pcap_reference(&input);
    assert_eq!(want2.len(), 120);
    let opts = DpdkOptions { clone_copy: CloneCopy::Never, force_multi_seg: true, ..small() };
    let LoopRun { report, out2, out3, counters1, .. } = dpdk_loop(&input, &opts);
    assert_eq!((counters1.rx, counters1.rx_linearized), (120, 20), "{counters1:?}");
    assert_eq!(out2, want2, "port 2");
    assert_eq!(out3, want3, "port 3");
    let p1 = report.port(1).unwrap().io;
    assert_eq!((p1.rx_frames, p1.rx_zero_length), (120, 20));
    assert_eq!(report.port(2).unwrap().io.tx_frames, 120);
}

// ------------------------------------------------------------ mbuf accounting

#[test]
fn exhausted_tx_pool_counts_alloc_failed_and_leaks_nothing() {
    // Every frame cloned; a TX pool of 8 mbufs and no cache: most clones of a burst
    // of 32 find no mbuf. Originals are forwarded zero-copy and need none.
    let input: Vec<Vec<u8>> = (0..256u32).map(|i| frame(64, 80, i)).collect();
    for copy in [CloneCopy::Always, CloneCopy::Never] {
        let opts = DpdkOptions { tx_pool: Some(8), pool_cache: 0, clone_copy: copy, force_multi_seg: true, ..small() };
        let LoopRun { report, out2, out3, pipeline: p, counters3, .. } = dpdk_loop(&input, &opts);
        assert_eq!(out2.len(), 256, "{copy:?}: every original forwarded");
        assert_eq!(counters3.tx_alloc_failed, report.member(1).unwrap().alloc_failed);
        let m = report.member(1).unwrap();
        assert_eq!(m.requested.packets, 256);
        assert!(m.alloc_failed > 0, "{copy:?}: {m:?}");
        assert_eq!(m.sent + m.alloc_failed, 256, "{copy:?}: {m:?}");
        assert_eq!(m.driver_failed, 0);
        assert_eq!(out3.len() as u64, m.sent);
        assert_eq!(p.diag(p4clone_pipeline::Diag::AllocFailed, 1), m.alloc_failed);
        let p3 = report.port(3).unwrap().io;
        assert_eq!((p3.tx_clones, p3.tx_alloc_failed), (m.sent, m.alloc_failed));
    }
}

#[test]
fn full_tx_ring_counts_driver_failed_and_frees_the_mbufs() {
    // Clones go to a net_ring device nobody reads: its ring (1023 slots) fills,
    // then rte_eth_tx_burst takes nothing more.
    let eal = eal();
    let tmp = common::tempdir("dpdk-ring");
    let input: Vec<Vec<u8>> = (0..2048u32).map(|i| frame(64, 80, i)).collect();
    let inp = tmp.path().join("in.pcap");
    write_pcap(&inp, &input);
    let (n1, id1) = pcap_vdev(tmp.path(), Some(&inp), &tmp.path().join("o1.pcap"));
    let (n2, id2) = pcap_vdev(tmp.path(), None, &tmp.path().join("o2.pcap"));
    let ring = vdev_name("net_ring");
    let id3 = eal.probe(&ring).unwrap();
    let o = DpdkOptions { tx_pool: Some(4095), ..small() };
    let mut ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
    ports.insert(1, Box::new(DpdkPort::open_with(&n1, &o).unwrap()));
    ports.insert(2, Box::new(DpdkPort::open_with(&n2, &o).unwrap()));
    ports.insert(3, Box::new(DpdkPort::open_with(&ring, &o).unwrap()));
    let before: Vec<PoolUsage> = [id1, id2, id3].iter().map(|&id| eal.pool_usage(id).unwrap()).collect();
    let p = pipeline();
    let mut table = PortTable::new(ports);
    let mut worker = Worker::new(32);
    assert_eq!(drain(&mut worker, &p, &mut table, 1), 2048);
    let io = worker.stats().port(3);
    let failed = p.diag(p4clone_pipeline::Diag::DriverFailed, 1);
    assert!(io.tx_frames > 0 && io.tx_frames < 2048, "{io:?}");
    assert_eq!(io.tx_frames + io.tx_failed, 2048, "{io:?}");
    assert_eq!(failed, io.tx_failed);
    assert_eq!(worker.stats().clones_sent(1), io.tx_frames);
    // The ring holds what it took; read it back (port 3 has no wire entry: dropped).
    let back = drain(&mut worker, &p, &mut table, 3);
    assert_eq!(back, io.tx_frames);
    let after: Vec<PoolUsage> = [id1, id2, id3].iter().map(|&id| eal.pool_usage(id).unwrap()).collect();
    assert_eq!(before, after, "mbufs leaked");
    drop(table);
    eal.close_ports(&[id1, id2, id3]).unwrap();
}

#[test]
fn net_pcap_file_input_is_a_replay_with_the_file_timestamps() {
    let tmp = common::tempdir("dpdk-replay");
    let inp = tmp.path().join("in.pcap");
    let frames: Vec<Vec<u8>> = (0..5u32).map(|i| frame(64, 443, i)).collect();
    let ts: Vec<u64> = vec![1_700_000_000_000_001_000, 1_700_000_000_000_001_000, 5_000, 1_700_000_009_999_999_000, 7];
    let mut w = PcapWriter::create(&inp).unwrap();
    for (t, f) in ts.iter().zip(&frames) {
        w.write(*t, f).unwrap();
    }
    w.flush().unwrap();
    let (name, id) = pcap_vdev(tmp.path(), Some(&inp), &tmp.path().join("o.pcap"));
    let mut port = DpdkPort::open_with(&name, &small()).unwrap();
    assert_eq!(port.input_kind(), p4clone_soft::ports::InputKind::Replay);
    assert!(!port.is_exhausted());
    let mut rx = RxBatch::new(32);
    assert_eq!(port.recv_burst(&mut rx).unwrap(), 5);
    for i in 0..5 {
        assert_eq!(rx.frame(i), frames[i].as_slice());
        // µs pcap: the record's time to the microsecond.
        assert_eq!(rx.ts_ns(i), ts[i] / 1_000 * 1_000, "frame {i}");
    }
    port.release_rx(&rx);
    rx.clear();
    assert_eq!(port.recv_burst(&mut rx).unwrap(), 0);
    assert!(port.is_exhausted());
    drop(port);
    // Without an RX stream, a net_pcap device only transmits.
    let name = vdev_name("net_pcap");
    let tx_only = eal().probe(&format!("{name},tx_pcap={}", tmp.path().join("t.pcap").display())).unwrap();
    let port = DpdkPort::open_with(&name, &small()).unwrap();
    assert_eq!(port.input_kind(), p4clone_soft::ports::InputKind::None);
    assert!(port.is_exhausted());
    drop(port);
    eal().close_ports(&[id, tx_only]).unwrap();
}

// ------------------------------------------------------------------- errors

#[test]
fn errors_name_what_is_wrong() {
    let eal = eal();
    let e = DpdkPort::open("no_such_dev").unwrap_err().to_string();
    assert!(e.contains("\"no_such_dev\" is not present") && e.contains("available"), "{e}");
    let e = DpdkPort::open("31").unwrap_err().to_string();
    assert!(e.contains("\"31\" is not present"), "{e}");
    let e = PortSpec::parse("4=dpdk:nope").unwrap().open(Path::new("/tmp")).err().unwrap().to_string();
    assert!(e.contains("4=dpdk:nope") && e.contains("not present"), "{e}");
    let e = Eal::init("-l 0 --no-huge").unwrap_err().to_string();
    assert!(e.contains("already initialised"), "{e}");
    assert_eq!(Eal::init_args(&eal.args()).unwrap().main_lcore(), eal.main_lcore());
    let e = eal.probe("net_nosuchdriver0").unwrap_err().to_string();
    assert!(e.contains("net_nosuchdriver0"), "{e}");

    // One device, two readers.
    let tmp = common::tempdir("dpdk-busy");
    let (name, id) = pcap_vdev(tmp.path(), None, &tmp.path().join("o.pcap"));
    let a = DpdkPort::open(&name).unwrap();
    let e = DpdkPort::open(&name).unwrap_err().to_string();
    assert!(e.contains("already open"), "{e}");
    let e = eal.close_ports(&[id]).unwrap_err().to_string();
    assert!(e.contains("still open"), "{e}");
    drop(a);
    eal.close_ports(&[id]).unwrap();
}

// ---------------------------------------------------------------- SIGTERM

const CHILD_ENV: &str = "P4CLONE_DPDK_SIGTERM_CHILD";

/// The child of `sigterm_mid_run_exits_cleanly` (does nothing unless run by it).
#[test]
fn sigterm_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    // Two worker lcores (1 and 2) on CPU 0, so every device gets two queue pairs
    // (RSS where offered) on any machine.
    let args = format!(
        "--lcores=0@0,1@0,2@0 --no-huge -m 256 --no-pci --no-shconf -d {} --log-level=4 --vdev net_null0 --vdev \
         net_null1",
        pmd_dir()
    );
    let eal = Eal::init(&args).unwrap_or_else(|e| panic!("{e}"));
    let stop = dpdk_loop::stop_on_signals();
    let ports = BTreeMap::from([(1u16, "net_null0".to_string()), (2, "net_null1".to_string())]);
    let opts = small();
    println!("READY workers={:?}", eal.worker_lcores());
    let report = dpdk_loop::run(&pipeline(), &ports, &opts, stop).unwrap_or_else(|e| panic!("{e}"));
    let mut leaked = 0;
    for id in [0u16, 1] {
        let u = eal.pool_usage(id).unwrap();
        leaked += (u.rx_size - u.rx_avail) + (u.tx_size - u.tx_avail);
    }
    println!("BACKEND {}", report.port(1).and_then(|p| p.backend.clone()).unwrap_or_default());
    println!("STOPPED frames_in={} frames_out={} leaked={leaked}", report.frames_in(), report.frames_out());
    Eal::shutdown().unwrap();
    println!("CLEAN");
}

#[test]
fn sigterm_mid_run_exits_cleanly() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "sigterm_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.iter().any(|l: &String| l.contains("READY")) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => lines.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("child never got ready: {lines:?}");
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child did not exit within 20 s of SIGTERM: {lines:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        lines.push(l);
    }
    assert!(status.success(), "child exit {status:?}: {lines:?}");
    let stopped = lines.iter().find_map(|l| l.find("STOPPED").map(|i| &l[i..])).unwrap_or_else(|| panic!("{lines:?}"));
    assert!(stopped.ends_with("leaked=0"), "{stopped}");
    let frames: u64 = stopped.split_whitespace().nth(1).unwrap().trim_start_matches("frames_in=").parse().unwrap();
    assert!(frames > 0, "{stopped}");
    assert!(lines.iter().any(|l| l.trim() == "CLEAN"), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("READY workers=[1, 2]")), "{lines:?}");
    let backend = lines.iter().find(|l| l.starts_with("BACKEND")).unwrap_or_else(|| panic!("{lines:?}"));
    assert!(backend.contains("txq 0 of 2, rss"), "{backend}");
}
