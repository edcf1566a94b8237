//! AF_PACKET backend on veth pairs inside a network namespace this test creates.
//!
//! Needs root (or CAP_NET_ADMIN + CAP_NET_RAW + CAP_SYS_ADMIN for `setns`) and
//! iproute2. Without them each test prints "skipping afpacket test: ..." and passes.
//! The namespace is deleted by a drop guard, so it goes away even when a test panics.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p4clone_pipeline::{Pipeline, Ternary, WireAction, WireEntry, WIRE};
use p4clone_soft::engine::{Engine, PortTable, Worker};
use p4clone_soft::ports::afpacket::AfPacketPort;
use p4clone_soft::ports::{InputKind, Port, RxBatch};

mod common;
use common::{CLONE_MAC, SE_MAC};

/// A network namespace, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create() -> Result<Self, String> {
        match Command::new("ip").arg("-V").output() {
            Ok(o) if o.status.success() => {}
            _ => return Err("`ip` (iproute2) is not installed".into()),
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("p4c-afp-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let out =
            Command::new("ip").args(["netns", "add", &name]).output().map_err(|e| format!("ip netns add: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot create a network namespace (needs root or CAP_NET_ADMIN): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Netns { name })
    }

    /// `ip -n NS args...`
    fn ip(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new("ip").arg("-n").arg(&self.name).args(args).output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("ip -n {} {}: {}", self.name, args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    fn veth(&self, a: &str, b: &str) -> Result<(), String> {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b])?;
        for d in [a, b] {
            self.ip(&["link", "set", "dev", d, "up"])?;
        }
        Ok(())
    }

    /// Moves the calling thread into the namespace `name` (only this thread).
    fn enter(name: &str) -> Result<(), String> {
        let f = File::open(format!("/run/netns/{name}"))
            .or_else(|_| File::open(format!("/var/run/netns/{name}")))
            .map_err(|e| format!("cannot open the namespace: {e}"))?;
        // SAFETY: a valid namespace descriptor; affects only the calling thread.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        // Quiet links: no IPv6 router solicitations, DAD or MLD on the test veths.
        for k in ["all", "default"] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{k}/disable_ipv6"), "1");
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

enum Outcome {
    Skip(String),
}

/// Runs `f` on a fresh thread inside a new namespace with the given veth pairs.
/// Prints a skip message and returns when privileges or tools are missing.
fn in_netns(pairs: &[(&str, &str)], f: impl FnOnce() -> Result<(), Outcome> + Send + 'static) {
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("skipping afpacket test: {e}");
            return;
        }
    };
    for (a, b) in pairs {
        if let Err(e) = ns.veth(a, b) {
            eprintln!("skipping afpacket test: cannot create veth pair {a}/{b}: {e}");
            return;
        }
    }
    // The thread gets the name only: the guard `ns` alone deletes the namespace.
    // (It used to get a second `Netns` that it `mem::forget`, leaking its name:
    // the 60 bytes LeakSanitizer reported, 15 per test.)
    let name = ns.name.clone();
    let th = std::thread::spawn(move || Netns::enter(&name).map_err(Outcome::Skip).and_then(|()| f()));
    let res = th.join();
    drop(ns);
    match res {
        Ok(Ok(())) => {}
        Ok(Err(Outcome::Skip(m))) => eprintln!("skipping afpacket test: {m}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn open(iface: &str) -> Result<Box<dyn Port>, Outcome> {
    AfPacketPort::open(iface).map(|p| Box::new(p) as Box<dyn Port>).map_err(|e| {
        let m = e.to_string();
        if m.contains("CAP_NET_RAW") {
            Outcome::Skip(m)
        } else {
            panic!("{m}")
        }
    })
}

const TEST_SRC: [u8; 6] = [0x02, 0x70, 0x34, 0xc1, 0, 0];

/// IPv4/TCP frame from TEST_SRC with `tag` in the source MAC and payload; `vlan`
/// adds an 802.1Q tag.
fn frame(tag: u8, dport: u16, vlan: Option<u16>, payload: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0xdd, 0, 0, 0, 0x01];
    let mut src = TEST_SRC;
    src[5] = tag;
    f.extend_from_slice(&src);
    if let Some(v) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (40 + payload) as u16;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend((0..payload).map(|i| tag.wrapping_add(i as u8)));
    f
}

fn is_test_frame(f: &[u8]) -> bool {
    f.len() >= 12 && (f[6..11] == TEST_SRC[..5] || f[6..12] == SE_MAC)
}

/// Sends `frames` out of `port` through the real transmit path: a pipeline wiring
/// port 1 (the frames' ingress) to port 2 (`port`).
fn inject(port: Box<dyn Port>, frames: &[Vec<u8>]) -> Box<dyn Port> {
    let p = Pipeline::new();
    p.write(|b| b.insert(WIRE, WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] }))
        .unwrap();
    let mut table = PortTable::new(BTreeMap::from([(2u16, port)]));
    let mut worker = Worker::new(64);
    let mut rx = RxBatch::new(64);
    for f in frames {
        assert!(rx.push(0, f));
    }
    rx.stamp_port(0, 1);
    worker.run_burst(&p, &rx, &mut table).unwrap();
    let io = worker.stats().port(2);
    assert_eq!((io.tx_frames, io.tx_failed), (frames.len() as u64, 0), "inject");
    table.ports_mut().remove(&2).unwrap()
}

/// Receives test frames on `port` until `want` arrived or 5 s passed.
fn collect(port: &mut Box<dyn Port>, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut b = RxBatch::new(32);
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < want && Instant::now() < deadline {
        b.clear();
        let n = port.recv_burst(&mut b).unwrap();
        for i in 0..n {
            if is_test_frame(b.frame(i)) {
                got.push(b.frame(i).to_vec());
            }
        }
        if n == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    got
}

#[test]
fn veth_send_and_receive() {
    in_netns(&[("p4cA", "p4cB")], || {
        let a = open("p4cA")?;
        let mut b = open("p4cB")?;
        assert_eq!(a.input_kind(), InputKind::Live);
        assert!(!a.is_exhausted());
        let frames = vec![frame(1, 80, None, 6), frame(2, 80, Some(0x2064), 100), frame(3, 443, None, 1460)];
        let mut a = inject(a, &frames);
        let got = collect(&mut b, frames.len());
        // VLAN tag restored from the kernel's metadata, bytes identical.
        assert_eq!(got, frames);
        // The sender never sees its own frames (PACKET_OUTGOING ignored).
        let mut batch = RxBatch::new(32);
        std::thread::sleep(Duration::from_millis(20));
        let n = a.recv_burst(&mut batch).unwrap();
        assert!((0..n).all(|i| !is_test_frame(batch.frame(i))), "own frames looped back");
        a.close().unwrap();
        assert!(a.recv_burst(&mut batch).is_err());
        Ok(())
    });
}

#[test]
fn veth_missing_interface() {
    in_netns(&[], || {
        let e = AfPacketPort::open("nosuch0").err().unwrap().to_string();
        if e.contains("CAP_NET_RAW") {
            return Err(Outcome::Skip(e));
        }
        assert!(e.contains("\"nosuch0\"") && e.contains("no such interface"), "{e}");
        Ok(())
    });
}

#[test]
fn veth_frame_over_mtu_is_a_driver_failure() {
    in_netns(&[("p4cM", "p4cN")], || {
        let m = open("p4cM")?;
        let p = Pipeline::new();
        p.write(|b| b.insert(WIRE, WireEntry { ingress_port: 1, action: WireAction::Forward(2), metadata: vec![] }))
            .unwrap();
        let mut table = PortTable::new(BTreeMap::from([(2u16, m)]));
        let mut worker = Worker::new(8);
        let mut rx = RxBatch::new(8);
        rx.push(0, &frame(1, 80, None, 10));
        rx.push(0, &frame(2, 80, None, 3000));
        rx.push(0, &frame(3, 80, None, 10));
        rx.stamp_port(0, 1);
        worker.run_burst(&p, &rx, &mut table).unwrap();
        let io = worker.stats().port(2);
        assert_eq!((io.tx_frames, io.tx_failed), (2, 1));
        Ok(())
    });
}

/// The engine between three veth pairs: port 1 = a1, 2 = b1 (wire), 3 = c1 (clone
/// port). Frames injected on a0 come out on b0, clones on c0; b0 -> a0 too.
#[test]
fn veth_engine_forwards_and_clones() {
    in_netns(&[("p4a0", "p4a1"), ("p4b0", "p4b1"), ("p4c0", "p4c1")], || {
        let p = common::clone_pipeline(Ternary::<u32>::exact(0x0a00_0002), 0);
        let mut ports: BTreeMap<u16, Box<dyn Port>> = BTreeMap::new();
        ports.insert(1, open("p4a1")?);
        ports.insert(2, open("p4b1")?);
        ports.insert(3, open("p4c1")?);
        let a0 = open("p4a0")?;
        let mut b0 = open("p4b0")?;
        let mut c0 = open("p4c0")?;

        let mut engine = Engine::new(p.clone(), ports);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let th = std::thread::spawn(move || engine.run(s));

        let to_b = vec![frame(1, 80, None, 20), frame(2, 443, None, 20), frame(3, 80, None, 600)];
        let mut a0 = inject(a0, &to_b);
        let fwd = collect(&mut b0, 3);
        let clones = collect(&mut c0, 2);
        let to_a = vec![frame(9, 22, Some(7), 30)];
        let b0 = inject(b0, &to_a);
        let back = collect(&mut a0, 1);
        stop.store(true, Ordering::Relaxed);
        let report = th.join().unwrap().unwrap();
        drop(b0);

        assert_eq!(fwd, to_b);
        let mut want = vec![to_b[0].clone(), to_b[2].clone()];
        for w in &mut want {
            w[0..6].copy_from_slice(&CLONE_MAC);
            w[6..12].copy_from_slice(&SE_MAC);
        }
        assert_eq!(clones, want);
        assert_eq!(back, to_a);
        // Counters: at least our frames (the links may carry other traffic).
        let r1 = report.port(1).unwrap();
        assert!(r1.io.rx_frames >= 3 && r1.io.tx_frames >= 1, "{report}");
        let r3 = report.port(3).unwrap();
        assert_eq!(r3.io.tx_clones, 2, "{report}");
        let m = report.member(1).unwrap();
        assert_eq!((m.requested.packets, m.sent, m.driver_failed), (2, 2, 0), "{report}");
        Ok(())
    });
}
