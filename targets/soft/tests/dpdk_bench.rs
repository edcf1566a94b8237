//! Side-by-side benchmark (ignored; run by `scripts/test-dpdk.sh --bench`):
//! `dpdk-testpmd --forward-mode=io` against p4clone's DPDK packet loop with the
//! 10,000-VS table loaded, on the same virtual devices and the same lcores, plus
//! the copy-versus-zero-copy measurement of the clone path. Prints markdown tables.
//!
//! `cargo test --release -p p4clone-soft --features dpdk --test dpdk_bench -- --ignored --nocapture`
//!
//! Environment: `P4CLONE_BENCH_SECS` (measured seconds per run, default 5),
//! `P4CLONE_BENCH_LCORES` (`-l`, default `0-1`: main lcore 0, one forwarding lcore),
//! `P4CLONE_DPDK_PMDS` (PMD directory), `P4CLONE_BENCH_ONLY` (comma-separated run
//! names to keep).
//!
//! Devices: ports 1 and 2 are `net_pcap` devices replaying a 4,096-frame pcap
//! forever (`infinite_rx=1`) and dropping what they transmit (no `tx_pcap`); the
//! clone port 3 is a `net_pcap` device with an empty input that drops what it
//! transmits. testpmd forwards 0 <-> 1 on the same two input devices. Rates are
//! frames received per second per port (one port direction), from the devices'
//! own counters over the measured window, after a one-second warm-up.
#![cfg(feature = "dpdk")]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use p4clone_compiler::intent::{self, Allocation};
use p4clone_compiler::{lower, synthetic};
use p4clone_pipeline::{Pipeline, Ternary, CLASSIFY_V4};
use p4clone_soft::engine::dpdk as dpdk_loop;
use p4clone_soft::engine::Engine;
use p4clone_soft::ports::dpdk::{self, CloneCopy, DpdkOptions, DpdkPort, Eal};
use p4clone_soft::ports::Port;
use p4clone_soft::server::SoftTarget;

mod common;
use common::write_pcap;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn secs() -> u64 {
    env_or("P4CLONE_BENCH_SECS", "5").parse().unwrap_or(5)
}

fn pmds() -> String {
    env_or("P4CLONE_DPDK_PMDS", dpdk::DEBIAN_PMD_DIR)
}

fn wanted(name: &str) -> bool {
    match std::env::var("P4CLONE_BENCH_ONLY") {
        Ok(v) => v.split(',').any(|n| n.trim() == name),
        Err(_) => true,
    }
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn tcp_frame(len: usize, src: u32, dst: u32, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&((len - 14) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.to_be_bytes());
    f.extend_from_slice(&dst.to_be_bytes());
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.resize(len, 0xee);
    f
}

/// The compiler's 10,000-VS fleet on one device: 160,000 classify rules, 4,000
/// clone members (every third profile flow-hash, every fifth truncating to 128).
fn fleet_pipeline() -> Arc<Pipeline> {
    let cfg = synthetic::fleet(
        synthetic::DEFAULT_VS,
        synthetic::DEFAULT_MEMBERS_PER_POOL,
        synthetic::DEFAULT_PROFILES,
        synthetic::DEFAULT_SERVERS_PER_PROFILE,
        1,
    );
    let intent = intent::compile(&cfg, &Allocation::default()).unwrap();
    let d = &intent.devices[0];
    let schema = lower::program_schema().unwrap();
    let req = lower::write_request(d.device_id, lower::lower_device(d, schema).unwrap());
    let target = SoftTarget::new(d.device_id);
    target.set_pipeline_in_process(SoftTarget::program_p4info(), None).unwrap();
    target.apply_write(&req).unwrap();
    let p = target.pipeline();
    assert_eq!(p.table_sizes().classify_v4, 160_000);
    p
}

/// 4,096 64-byte frames, `pct` % of them hitting a random rule of `p`.
fn fleet_traffic(p: &Pipeline, pct: u64, seed: u64) -> Vec<Vec<u8>> {
    let rules = p.entries(CLASSIFY_V4);
    let mut rng = Rng(seed | 1);
    (0..4096)
        .map(|_| {
            if rng.next() % 100 < pct {
                let k = &rules[(rng.next() % rules.len() as u64) as usize].entry.key;
                let mut port =
                    |t: &Ternary<u16>| if t.mask == 0 { 40_000 + (rng.next() % 1000) as u16 } else { t.value };
                let sport = port(&k.l4_src_port);
                let dport = port(&k.l4_dst_port);
                tcp_frame(64, k.src_addr.value, k.dst_addr.value, sport, dport)
            } else {
                let a = 0xC000_0200 | (rng.next() % 256) as u32; // 192.0.2.0/24: no rule
                tcp_frame(64, a, 0xC633_6401, 40_000, 443)
            }
        })
        .collect()
}

/// Wire 1 <-> 2; TCP to port 80 cloned to member 1 on port 3 (VLAN push).
fn simple_pipeline() -> Arc<Pipeline> {
    common::clone_pipeline(Ternary::<u32>::any(), 100)
}

/// One measured run: frames/s received per port, sent per port, and the share
/// of a CPU the forwarding lcore got (the machine may be shared).
#[derive(Debug, Default, Clone)]
struct Rates {
    rx: Vec<f64>,
    tx: Vec<f64>,
    cpu: f64,
}

impl Rates {
    fn rx_per_port(&self) -> f64 {
        self.rx.iter().take(2).sum::<f64>() / 2.0
    }
    /// Frames received per port per second of forwarding-lcore CPU time: what a
    /// dedicated core would do.
    fn rx_per_port_cpu(&self) -> f64 {
        if self.cpu > 0.0 {
            self.rx_per_port() / self.cpu
        } else {
            0.0
        }
    }
}

/// CPU seconds (user + system) of process `pid`'s threads named `comm`.
fn thread_cpu(pid: u32, comm: &str) -> f64 {
    let tick = 100.0; // USER_HZ
    let mut total = 0.0;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0.0 };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else { continue };
        let (Some(a), Some(b)) = (stat.find('('), stat.rfind(')')) else { continue };
        if &stat[a + 1..b] != comm {
            continue;
        }
        let f: Vec<&str> = stat[b + 2..].split_whitespace().collect();
        // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the comm.
        let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        total += (ut + st) / tick;
    }
    total
}

/// The forwarding lcore's thread name (EAL: `rte-worker-<lcore>`), or the main one.
fn worker_comm(lcores: &str) -> String {
    let last = lcores.rsplit(['-', ',']).next().unwrap_or("0");
    if last == lcores.split(['-', ',']).next().unwrap_or("0") {
        String::new()
    } else {
        format!("rte-worker-{last}")
    }
}

/// testpmd on `vdevs` (io forwarding), Rx-pps per port averaged over the window.
fn testpmd(vdevs: &[String], lcores: &str) -> Rates {
    let secs = secs();
    let mut cmd = Command::new("dpdk-testpmd");
    cmd.args(["--no-huge", "-m", "1024", "--no-pci", "-d", &pmds(), "-l", lcores, "--file-prefix", "p4clone-bench-tp"]);
    for v in vdevs {
        cmd.arg(format!("--vdev={v}"));
    }
    cmd.args(["--", "--forward-mode=io", "--nb-cores=1", "--total-num-mbufs=16384", "--stats-period", "1"]);
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("dpdk-testpmd");
    let comm = worker_comm(lcores);
    std::thread::sleep(Duration::from_millis(2500));
    let c0 = thread_cpu(child.id(), &comm);
    let t0 = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let cpu = (thread_cpu(child.id(), &comm) - c0) / t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let _ = child.wait();
    // "NIC statistics for port N" blocks, each with "Rx-pps: X ... " and "Tx-pps: Y".
    let mut rx: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut tx: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut port = 0;
    for line in out.lines() {
        if let Some(i) = line.find("NIC statistics for port") {
            port = line[i + 23..].split_whitespace().next().unwrap_or("0").parse().unwrap_or(0);
        }
        let t = line.trim_start();
        let val = |t: &str| t.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        if t.starts_with("Rx-pps:") {
            rx.entry(port).or_default().push(val(t));
        } else if t.starts_with("Tx-pps:") {
            tx.entry(port).or_default().push(val(t));
        }
    }
    // Skip the start-up samples, keep the window.
    let avg = |v: &Vec<f64>| {
        let s: Vec<f64> = v.iter().skip(2).take(secs as usize).copied().collect();
        if s.is_empty() {
            0.0
        } else {
            s.iter().sum::<f64>() / s.len() as f64
        }
    };
    Rates { rx: rx.values().map(avg).collect(), tx: tx.values().map(avg).collect(), cpu }
}

/// Devices of one p4clone run (probed, closed afterwards).
struct Devs {
    ids: Vec<u16>,
    map: BTreeMap<u16, String>,
}

fn probe(eal: Eal, specs: &[(u16, String)]) -> Devs {
    let mut ids = Vec::new();
    let mut map = BTreeMap::new();
    for (n, devargs) in specs {
        let id = eal.probe(devargs).unwrap_or_else(|e| panic!("{e}"));
        ids.push(id);
        map.insert(*n, id.to_string());
    }
    Devs { ids, map }
}

/// Stops `stop` after warm-up + window, returning the rates of `ids` (in order).
fn measure(eal: Eal, ids: Vec<u16>, stop: Arc<AtomicBool>, comm: String) -> std::thread::JoinHandle<Rates> {
    std::thread::spawn(move || {
        let secs = secs();
        let pid = std::process::id();
        std::thread::sleep(Duration::from_secs(1));
        let a: Vec<_> = ids.iter().map(|&i| eal.eth_stats(i).unwrap()).collect();
        let c0 = thread_cpu(pid, &comm);
        let t = std::time::Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let b: Vec<_> = ids.iter().map(|&i| eal.eth_stats(i).unwrap()).collect();
        let dt = t.elapsed().as_secs_f64();
        let cpu = (thread_cpu(pid, &comm) - c0) / dt;
        stop.store(true, Ordering::SeqCst);
        Rates {
            rx: a.iter().zip(&b).map(|(a, b)| (b.ipackets - a.ipackets) as f64 / dt).collect(),
            tx: a.iter().zip(&b).map(|(a, b)| (b.opackets - a.opackets) as f64 / dt).collect(),
            cpu,
        }
    })
}

/// p4clone's lcore loop ([`dpdk_loop::run`]) over `specs`.
fn p4clone_run(eal: Eal, p: &Arc<Pipeline>, specs: &[(u16, String)], opts: &DpdkOptions) -> Rates {
    let devs = probe(eal, specs);
    let stop = Arc::new(AtomicBool::new(false));
    let comm = eal.worker_lcores().first().map_or_else(main_comm, |l| format!("rte-worker-{l}"));
    let m = measure(eal, devs.ids.clone(), stop.clone(), comm);
    let report = dpdk_loop::run(p, &devs.map, opts, &stop).unwrap_or_else(|e| panic!("{e}"));
    let rates = m.join().unwrap();
    let failed: u64 = report.members.iter().map(|m| m.alloc_failed + m.driver_failed).sum();
    if failed > 0 {
        eprintln!("  (clone failures: {failed})");
    }
    eal.close_ports(&devs.ids).unwrap();
    rates
}

/// The generic engine ([`Engine::run`], as `p4clone soft --dpdk` runs it): one
/// thread, the devices opened through their specs with one queue.
fn engine_run(eal: Eal, p: &Arc<Pipeline>, specs: &[(u16, String)], opts: &DpdkOptions) -> Rates {
    let devs = probe(eal, specs);
    let mut ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
    for (n, id) in &devs.map {
        ports.insert(*n, Box::new(DpdkPort::open_with(id, opts).unwrap()));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let m = measure(eal, devs.ids.clone(), stop.clone(), main_comm());
    let mut engine = Engine::new(p.clone(), ports);
    engine.run(stop).unwrap();
    drop(engine);
    let rates = m.join().unwrap();
    eal.close_ports(&devs.ids).unwrap();
    rates
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu_now() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out structure.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// [`Pipeline::process_burst`] alone (no I/O) on the frames of both ports, in
/// bursts of 32 alternating between ports 1 and 2, for about `secs()` of thread
/// CPU time: nanoseconds of CPU per frame.
fn burst_of(port: u16, c: &[Vec<u8>]) -> Vec<p4clone_pipeline::RxFrame<'_>> {
    c.iter().map(|d| p4clone_pipeline::RxFrame { port, data: d }).collect()
}

fn pipeline_only(p: &Pipeline, a: &[Vec<u8>], b: &[Vec<u8>]) -> f64 {
    let mut out = p4clone_pipeline::EmitBatch::with_capacity(32);
    let mut worker = p4clone_pipeline::WorkerState::new();
    let bursts: Vec<Vec<p4clone_pipeline::RxFrame<'_>>> =
        a.chunks(32).zip(b.chunks(32)).flat_map(|(x, y)| [burst_of(1, x), burst_of(2, y)]).collect();
    let (t0, mut frames) = (thread_cpu_now(), 0u64);
    while thread_cpu_now() - t0 < secs() as f64 {
        for burst in &bursts {
            p.process_burst(burst, &mut worker, &mut out);
            frames += burst.len() as u64;
        }
    }
    (thread_cpu_now() - t0) * 1e9 / frames as f64
}

/// The name of the calling (main lcore) thread.
fn main_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn mpps(x: f64) -> String {
    format!("{:.2}", x / 1e6)
}

#[test]
#[ignore = "benchmark: scripts/test-dpdk.sh --bench"]
fn dpdk_side_by_side() {
    let lcores = env_or("P4CLONE_BENCH_LCORES", "0-1");
    let dir = std::env::temp_dir().join(format!("p4clone-dpdk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pcap");
    write_pcap(&empty, &[]);
    let fleet = fleet_pipeline();
    let mut files = BTreeMap::new();
    for pct in [10u64, 100] {
        for port in [1u16, 2] {
            let f = dir.join(format!("fleet-{pct}-{port}.pcap"));
            write_pcap(&f, &fleet_traffic(&fleet, pct, pct * 10 + u64::from(port)));
            files.insert((pct, port), f);
        }
    }
    let pcap_in = |f: &Path, name: &str| format!("{name},rx_pcap={},infinite_rx=1", f.display());
    let mut rows: Vec<String> = Vec::new();
    let row = |name: &str, what: &str, r: &Rates, base: Option<&Rates>| {
        let clones = r.tx.get(2).map_or("–".to_string(), |&c| mpps(c));
        let vs = base.map_or("–".to_string(), |b| {
            format!("{:.2}× / {:.2}×", r.rx_per_port() / b.rx_per_port(), r.rx_per_port_cpu() / b.rx_per_port_cpu())
        });
        format!(
            "| {name} | {what} | {} | {:.0}% | {} | {clones} | {vs} |",
            mpps(r.rx_per_port()),
            r.cpu * 100.0,
            mpps(r.rx_per_port_cpu())
        )
    };

    // testpmd first, in its own process (its own EAL).
    let mut tp: BTreeMap<u64, Rates> = BTreeMap::new();
    for pct in [10u64, 100] {
        let name = format!("testpmd-{pct}");
        if wanted(&name) {
            let r =
                testpmd(&[pcap_in(&files[&(pct, 1)], "net_pcap0"), pcap_in(&files[&(pct, 2)], "net_pcap1")], &lcores);
            rows.push(row(&name, &format!("io forwarding, {pct}%-matching input"), &r, None));
            tp.insert(pct, r);
        }
    }
    let mut tp_null = None;
    if wanted("testpmd-null") {
        let r = testpmd(&["net_null0".to_string(), "net_null1".to_string()], &lcores);
        rows.push(row("testpmd-null", "io forwarding, net_null devices", &r, None));
        tp_null = Some(r);
    }

    let eal = Eal::init_args(&[
        "-l",
        &lcores,
        "--no-huge",
        "-m",
        "1024",
        "--no-pci",
        "--no-shconf",
        "-d",
        &pmds(),
        "--log-level=4",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    // infinite_rx keeps its 4,096 frames in mbufs of the RX pool.
    let opts = DpdkOptions { rx_pool: Some(16_383), ..DpdkOptions::default() };
    let seq = std::cell::Cell::new(0u32);
    let devs = |a: &Path, b: &Path| {
        let k = seq.get() + 1;
        seq.set(k);
        vec![
            (1u16, pcap_in(a, &format!("net_pcap_b{k}a"))),
            (2, pcap_in(b, &format!("net_pcap_b{k}b"))),
            (3, format!("net_pcap_b{k}c,rx_pcap={}", empty.display())),
        ]
    };
    // The floor: the pipeline alone on the same frames, per frame.
    let mut floor = Vec::new();
    for pct in [10u64, 100] {
        let name = format!("pipeline-{pct}");
        if wanted(&name) {
            let read = |port: u16| -> Vec<Vec<u8>> {
                p4clone_soft::ports::pcap::read_all(&files[&(pct, port)]).unwrap().into_iter().map(|r| r.1).collect()
            };
            let ns = pipeline_only(&fleet, &read(1), &read(2));
            floor.push(format!(
                "| {name} | `Pipeline::process_burst` alone, {pct}% matching | {ns:.1} ns per frame = {} Mpps per port \
                 per CPU-second |",
                mpps(1e9 / ns / 2.0)
            ));
        }
    }
    for pct in [10u64, 100] {
        let name = format!("p4clone-{pct}");
        if wanted(&name) {
            let r = p4clone_run(eal, &fleet, &devs(&files[&(pct, 1)], &files[&(pct, 2)]), &opts);
            rows.push(row(&name, &format!("10,000-VS table, {pct}% cloned, `dpdk_loop::run`"), &r, tp.get(&pct)));
        }
    }
    if wanted("engine-10") {
        let r = engine_run(eal, &fleet, &devs(&files[&(10, 1)], &files[&(10, 2)]), &opts);
        rows.push(row(
            "engine-10",
            "same as p4clone-10, generic `Engine::run` thread through the `Port` trait (mixed-backend path)",
            &r,
            tp.get(&10),
        ));
    }
    if wanted("p4clone-null") {
        let k = seq.get() + 1;
        seq.set(k);
        let specs = vec![
            (1u16, format!("net_null_b{k}a")),
            (2, format!("net_null_b{k}b")),
            (3, format!("net_pcap_b{k}c,rx_pcap={}", empty.display())),
        ];
        let r = p4clone_run(eal, &fleet, &specs, &opts);
        rows.push(row("p4clone-null", "10,000-VS table, net_null (zero frames: wire only)", &r, tp_null.as_ref()));
    }
    println!(
        "\n| run | what | rx Mpps per port | lcore CPU | rx Mpps per port per lcore CPU-second | clones Mpps | vs \
         testpmd (wall / per CPU) |\n|---|---|---:|---:|---:|---:|---|"
    );
    for r in &rows {
        println!("{r}");
    }
    if !floor.is_empty() {
        println!("\n| run | what | cost |\n|---|---|---|");
        for r in &floor {
            println!("{r}");
        }
    }

    // Copy versus zero-copy clones: every frame cloned in full, by frame size.
    let simple = simple_pipeline();
    let mut rows = Vec::new();
    for len in [64usize, 256, 512, 1024, 1500] {
        if !wanted(&format!("clone-{len}")) {
            continue;
        }
        let frames: Vec<Vec<u8>> =
            (0..4096u32).map(|i| tcp_frame(len, 0x0a00_0001 + i, 0x0a00_0002, 40_000, 80)).collect();
        let f = dir.join(format!("clone-{len}.pcap"));
        write_pcap(&f, &frames);
        let mut cells = Vec::new();
        for copy in [CloneCopy::Always, CloneCopy::Never] {
            let o = DpdkOptions { clone_copy: copy, force_multi_seg: true, ..opts.clone() };
            let r = p4clone_run(eal, &simple, &devs(&f, &f), &o);
            cells.push(r.rx_per_port_cpu());
        }
        rows.push(format!(
            "| {len} | {} | {} | {} |",
            mpps(cells[0]),
            mpps(cells[1]),
            if cells[0] >= cells[1] { "copy" } else { "zero-copy" }
        ));
    }
    if !rows.is_empty() {
        println!(
            "\n| frame bytes | copy: rx Mpps per port per lcore CPU-s | zero-copy: the same | faster |\n|---:|---:|---:|---|"
        );
        for r in &rows {
            println!("{r}");
        }
    }
    Eal::shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
