//! `p4clone soft`: the software target as a process. With `--config` and pcap
//! ports it produces what `run` produces; with no ports it serves P4Runtime
//! until SIGINT / SIGTERM; without `--config` it waits for a controller before
//! replaying; `--hold` keeps serving after the replay so counters can be read.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::netns::{capture, Netns};
use common::soft_process::Soft;
use common::{frames, p4clone, root};
use p4clone_compiler::config::Target;
use p4clone_compiler::source::load_file;
use p4clone_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
use p4clone_proto::p4::v1::CapabilitiesRequest;
use p4clone_runtime::fleet::{self, DeviceTarget, FleetOptions};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The README main job through `run`, into `out`.
fn run_main_job(out: &Path) {
    let out = out.display().to_string();
    let o = p4clone(&[
        "run",
        "examples/basic.yaml",
        "--pcap",
        "1=examples/basic-port1.pcap",
        "--pcap",
        "2=examples/basic-port2.pcap",
        "--out",
        &out,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every `port-*.pcap` of two directories is identical, and the sets are equal.
fn assert_same_outputs(a: &Path, b: &Path) {
    let names = |d: &Path| {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(names(a), names(b));
    assert_eq!(names(a), ["port-1.pcap", "port-2.pcap", "port-3.pcap"]);
    for n in names(a) {
        assert_eq!(frames(&a.join(&n)), frames(&b.join(&n)), "{n} differs between run and soft");
    }
}

#[test]
fn soft_with_config_produces_what_run_produces() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("run"), tmp.path().join("soft"));
    run_main_job(&a);
    let out = b.display().to_string();
    let o = p4clone(&[
        "soft",
        "--p4rt",
        "127.0.0.1:0",
        "--config",
        "examples/basic.yaml",
        "--port",
        "1=pcap:examples/basic-port1.pcap",
        "--port",
        "2=pcap:examples/basic-port2.pcap",
        "--out",
        &out,
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", String::from_utf8_lossy(&o.stderr));
    assert_same_outputs(&a, &b);
    // Per-port rx/tx, per-member counters, clone_no_session, the reference stats.
    for want in [
        "rx",
        "tx",
        "no_session",
        "clones: requested 93, emitted 93, sent 93, alloc_failed 0, driver_failed 0, clone_no_session 0",
        "99 frames in, 192 out",
        "PROC_Aggregate",
        "192.168.50.11",
    ] {
        assert!(stdout.contains(want), "stdout lacks {want:?}:\n{stdout}");
    }
}

#[test]
fn soft_without_ports_answers_capabilities_and_exits_on_sigterm_and_sigint() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut soft = Soft::spawn(&["--p4rt", "127.0.0.1:0"]);
        let addr = soft.address();
        soft.wait_line("serving until SIGINT/SIGTERM");
        let version = rt().block_on(async {
            let mut c = P4RuntimeClient::connect(format!("http://{addr}")).await.expect("connect");
            c.capabilities(CapabilitiesRequest { device_id: 1 }).await.expect("Capabilities").into_inner()
        });
        assert!(version.p4runtime_api_version.starts_with("1."), "{version:?}");
        soft.signal(sig);
        let (o, err) = soft.finish();
        assert_eq!(o.status.code(), Some(0), "signal {sig}: stderr:\n{}", err.join("\n"));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("0 frames in"), "final report on stdout:\n{stdout}");
        assert!(err.iter().any(|l| l.contains("stopping")), "{err:?}");
    }
}

#[test]
fn soft_without_config_replays_after_a_controller_pushes_and_holds_for_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("run"), tmp.path().join("soft"));
    run_main_job(&a);
    let out = b.display().to_string();
    let mut soft = Soft::spawn(&[
        "--p4rt",
        "127.0.0.1:0",
        "--port",
        "1=pcap:examples/basic-port1.pcap",
        "--port",
        "2=pcap:examples/basic-port2.pcap",
        "--out",
        &out,
        "--settle-ms",
        "300",
        "--hold",
    ]);
    let addr = soft.address();
    soft.wait_line("waiting for a controller");
    // A controller pushes examples/basic.yaml (what `p4clone push` does).
    let cfg = load_file(&root().join("examples/basic.yaml")).unwrap().config;
    let mut targets = DeviceTarget::from_config(&cfg);
    targets[0].address = addr.clone();
    targets[0].target = Target::Soft;
    let opts = FleetOptions { timeout: Duration::from_secs(5), ..FleetOptions::default() };
    let rt = rt();
    let pushed = rt.block_on(fleet::push(&cfg, &targets, &opts, None)).expect("compiles");
    assert!(pushed.ok(), "{pushed:?}");
    soft.wait_line("inputs drained");
    // Still serving: the mirror counters read over P4Runtime.
    let stats = rt.block_on(fleet::stats(&cfg, &targets, &opts, None));
    assert!(stats.errors.is_empty(), "{stats:?}");
    let agg = stats.virtual_services[0].se_stats.last().unwrap();
    assert_eq!(agg.se, "PROC_Aggregate");
    let ok: Vec<Option<u64>> = agg.clone_srvr_stats.iter().map(|c| c.num_succeeded).collect();
    assert_eq!(ok, [Some(47), Some(46)]);
    soft.signal(libc::SIGTERM);
    let (o, err) = soft.finish();
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", err.join("\n"));
    assert_same_outputs(&a, &b);
}

#[test]
fn soft_bad_input_exits_2_and_a_busy_address_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().display().to_string();
    let code = |args: &[&str]| {
        let o = p4clone(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!err.contains("panicked"), "{err}");
        (o.status.code(), err)
    };
    let (c, e) = code(&["soft", "--p4rt", "127.0.0.1:0", "--port", "1=pcap:examples/nope.pcap", "--out", &out]);
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("examples/nope.pcap"), "{e}");
    let (c, e) = code(&["soft", "--p4rt", "127.0.0.1:0", "--port", "1=pcap:examples/basic-port1.pcap"]);
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("--out"), "{e}");
    let (c, e) = code(&["soft", "--p4rt", "127.0.0.1:0", "--port", "1=tap:x"]);
    assert_eq!(c, Some(2), "{e}");
    let (c, e) = code(&["soft", "--p4rt", "not an address"]);
    assert_eq!(c, Some(2), "{e}");
    let (c, _) = code(&["soft", "--device", "nic0"]);
    assert_eq!(c, Some(2), "--device needs --config");
    let (c, e) = code(&["soft", "--p4rt", "127.0.0.1:0", "--config", "examples/multi.yaml", "--device", "nope"]);
    assert_eq!(c, Some(2), "{e}");
    assert!(e.contains("nic0"), "{e}");
    // A port already in use: a runtime failure.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let (c, e) = code(&["soft", "--p4rt", &addr]);
    assert_eq!(c, Some(1), "{e}");
    assert!(e.contains(&addr), "{e}");
}

/// Live mode: AF_PACKET ports on veths, clones of port-2 traffic captured to
/// `DIR/port-3.pcap` (port 3 has no backend), stopped by SIGINT. The clones
/// equal those of `run` on the same frames. Skips without the privilege to
/// create a network namespace.
#[test]
fn soft_live_afpacket_ports_until_sigint() {
    let ns = match Netns::create("soft", &[("a0", "a1"), ("b0", "b1")]) {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("skipping soft afpacket test: {e}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let want = tmp.path().join("run");
    let o = p4clone(&[
        "run",
        "examples/basic.yaml",
        "--pcap",
        "2=examples/basic-port2.pcap",
        "--out",
        &want.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = tmp.path().join("live");
    // `ip netns exec` execs p4clone in place: the child's pid is p4clone's.
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_p4clone"), "soft", "--p4rt", "127.0.0.1:0"]);
    cmd.args(["--config", "examples/basic.yaml", "--port", "1=afpacket:a1", "--port", "2=afpacket:b1", "--out"]);
    cmd.arg(&got);
    let mut soft = Soft::spawn_cmd(cmd);
    soft.wait_line("forwarding until SIGINT/SIGTERM");
    let sent = frames(&root().join("examples/basic-port2.pcap"));
    ns.send("b0", sent).expect("inject frames on b0");
    // The engine flushes pcap outputs about once a second when idle, and at exit.
    std::thread::sleep(Duration::from_millis(300));
    soft.signal(libc::SIGINT);
    let (o, err) = soft.finish();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}\nstdout:\n{stdout}", err.join("\n"));
    assert!(err.iter().any(|l| l.contains("SIGINT, stopping")), "{err:?}");
    let clones = frames(&got.join("port-3.pcap"));
    assert_eq!(clones, frames(&want.join("port-3.pcap")), "live clones differ from run's");
    assert!(stdout.contains(&format!("clones: requested {n}, emitted {n}, sent {n}", n = clones.len())), "{stdout}");
    assert!(stdout.contains("afpacket"), "{stdout}");
}

/// `examples/basic.yaml` with an untagged monitor network and one clone server:
/// `encap` (a flow-style map) to the directly connected collector 192.168.50.20
/// whose MAC is `mac`.
fn encap_config(encap: &str, mac: &str) -> String {
    let text = std::fs::read_to_string(root().join("examples/basic.yaml")).unwrap();
    let text = text.replace("    vlan: 50                      # clones leave on this VLAN; omit for untagged\n", "");
    let servers = "      - network: monitor
        subnet: 192.168.50.0/24
        ip: 192.168.50.10
        mac: \"02:00:00:00:50:10\"
      - network: monitor
        subnet: 192.168.50.0/24
        ip: 192.168.50.11
        mac: \"02:00:00:00:50:11\"
";
    assert!(text.contains(servers) && !text.contains("vlan:"), "examples/basic.yaml changed shape");
    text.replace(servers, &format!("      - encap: {encap}\n        mac: \"{mac}\"\n"))
}

/// A real receiver: the Linux kernel's own `vxlan`, `gretap` and `erspan` devices,
/// on the far end (`m0`, 192.168.50.20) of the veth that is the SE's monitor port,
/// decapsulate what `p4clone soft` sends over AF_PACKET, and a capture on the
/// tunnel device sees the original frames (the same bytes `run` puts behind the
/// outer headers). Skips without the privilege to create a network namespace or
/// where the kernel lacks a tunnel module.
#[test]
fn kernel_tunnel_devices_decapsulate_what_soft_sends() {
    const MAC: &str = "02:00:00:00:50:20";
    // (config encap, kernel link arguments, outer bytes behind the outer Ethernet header)
    let cases: [(&str, &[&str], usize); 4] = [
        (
            "{ type: vxlan, remote: 192.168.50.20, vni: 5001 }",
            &["type", "vxlan", "id", "5001", "dstport", "4789", "local", "192.168.50.20", "dev", "m0"],
            36,
        ),
        (
            "{ type: gre, remote: 192.168.50.20, key: 77 }",
            &["type", "gretap", "local", "192.168.50.20", "remote", "192.168.50.2", "key", "77"],
            28,
        ),
        (
            "{ type: gre, remote: 192.168.50.20 }",
            &["type", "gretap", "local", "192.168.50.20", "remote", "192.168.50.2"],
            24,
        ),
        (
            "{ type: erspan, remote: 192.168.50.20, session: 123 }",
            &[
                "type",
                "erspan",
                "local",
                "192.168.50.20",
                "remote",
                "192.168.50.2",
                "seq",
                "key",
                "123",
                "erspan_ver",
                "1",
            ],
            36,
        ),
    ];
    for (encap, link, overhead) in cases {
        let ns = match Netns::create("soft", &[("a0", "a1"), ("b0", "b1")]) {
            Ok(ns) => ns,
            Err(e) => {
                eprintln!("SKIP: kernel tunnel receiver test: {e}");
                return;
            }
        };
        let setup = ns
            .ip(&["link", "add", "m0", "type", "veth", "peer", "name", "m1"])
            .and_then(|_| ns.ip(&["link", "set", "dev", "m0", "address", MAC]))
            .and_then(|_| ns.ip(&["addr", "add", "192.168.50.20/24", "dev", "m0"]))
            .and_then(|_| ns.ip(&["link", "set", "dev", "m0", "up"]))
            .and_then(|_| ns.ip(&["link", "set", "dev", "m1", "up"]));
        setup.expect("monitor veth");
        let mut add = vec!["link", "add", "tun0"];
        add.extend_from_slice(link);
        if let Err(e) = ns.ip(&add).and_then(|_| ns.ip(&["link", "set", "dev", "tun0", "up"])) {
            eprintln!("SKIP: kernel tunnel receiver test ({encap}): {e}");
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("encap.yaml");
        std::fs::write(&cfg, encap_config(encap, MAC)).unwrap();
        // What the copies carry: `run`'s clones on the same frames, outer headers off.
        let want_dir = tmp.path().join("run");
        let o = p4clone(&[
            "run",
            &cfg.display().to_string(),
            "--pcap",
            "2=examples/basic-port2.pcap",
            "--out",
            &want_dir.display().to_string(),
        ]);
        assert!(o.status.success(), "{encap}: {}", String::from_utf8_lossy(&o.stderr));
        let want: Vec<Vec<u8>> =
            frames(&want_dir.join("port-3.pcap")).into_iter().map(|f| f[14 + overhead..].to_vec()).collect();
        assert!(!want.is_empty(), "{encap}: run cloned nothing");

        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cap = capture(&ns.name, "tun0", stop.clone());
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_p4clone"), "soft", "--p4rt", "127.0.0.1:0"]);
        cmd.arg("--config").arg(&cfg);
        cmd.args(["--port", "1=afpacket:a1", "--port", "2=afpacket:b1", "--port", "3=afpacket:m1"]);
        let mut soft = Soft::spawn_cmd(cmd);
        soft.wait_line("forwarding until SIGINT/SIGTERM");
        ns.send("b0", frames(&root().join("examples/basic-port2.pcap"))).expect("inject frames on b0");
        std::thread::sleep(Duration::from_millis(300));
        soft.signal(libc::SIGINT);
        let (o, err) = soft.finish();
        assert_eq!(o.status.code(), Some(0), "{encap}: stderr:\n{}", err.join("\n"));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let got = cap.join().expect("capture thread").expect("capture on tun0");
        assert_eq!(got.len(), want.len(), "{encap}: frames the kernel decapsulated");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{encap}: frame {i}: the kernel's inner frame differs from the original");
        }
        eprintln!("kernel {}: {} frames decapsulated, equal to the originals", link[1], got.len());
    }
}
