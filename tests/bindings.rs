//! Live NAT bindings end to end: `p4clone controller --bindings-listen`
//! against `p4clone soft` child processes over gRPC on loopback, fed by
//! `p4clone bindings`; what reaches the devices is read back over P4Runtime.
//! 100,000 bindings fed reach the devices, and removals too; a full NAT table
//! refuses with RESOURCE_EXHAUSTED and loses nothing accepted; a device
//! restarted empty gets its bindings back; on failover the new primary takes
//! the bindings from the device; bad input is INVALID_ARGUMENT naming the
//! field. Every wait is bounded.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use common::child::{self, collect_stderr, free_port, SoftAt};
use common::{root, stderr, stdout};
use p4clone_proto::program::tables;
use p4clone_runtime::controller::bindings::{entries, Binding};

/// How long any condition may take to become true.
const WAIT: Duration = Duration::from_secs(60);

/// Polls `f` until it is true; panics with `what` after [`WAIT`].
fn wait_for(what: &str, f: impl FnMut() -> bool) {
    child::wait_for(what, WAIT, f)
}

/// Waits for the stderr line containing `marker` and returns it.
fn line_with(rx: &mpsc::Receiver<String>, marker: &str, seen: &Arc<Mutex<Vec<String>>>) -> String {
    child::line_with(rx, marker, seen, WAIT)
}

/// `p4clone soft --p4rt ADDR`, killed on drop.
struct Soft;

impl Soft {
    fn start(addr: &str) -> SoftAt {
        SoftAt::start(addr, &[], WAIT)
    }
}

/// `p4clone controller CONFIG --listen 127.0.0.1:0 --bindings-listen 127.0.0.1:0 ...`.
struct Controller {
    child: Child,
    http: String,
    bindings: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Controller {
    fn start(config: &Path, extra: &[&str]) -> Controller {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p4clone"))
            .current_dir(root())
            .arg("controller")
            .arg(config)
            .args(["--listen", "127.0.0.1:0", "--bindings-listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn p4clone controller");
        let (log, rx) = collect_stderr(&mut child);
        let l = line_with(&rx, "controller started", &log);
        let field = |k: &str| l.split(k).nth(1).unwrap().split_whitespace().next().unwrap().to_string();
        let (http, bindings) = (field("http://"), field("bindings="));
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Controller { child, http, bindings, log }
    }

    fn count_all(&self, parts: &[&str]) -> usize {
        self.log.lock().unwrap().iter().filter(|l| parts.iter().all(|p| l.contains(p))).count()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The value of the metric line starting with `series`.
    fn metric(&self, series: &str) -> Option<u64> {
        let mut s = std::net::TcpStream::connect(&self.http).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    /// `p4clone bindings ARGS --controller <this>`, with `stdin` fed.
    fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p4clone"))
            .current_dir(root())
            .env("RUST_BACKTRACE", "1")
            .arg("bindings")
            .args(args)
            .args(["--controller", &self.bindings])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let text = stdin.to_string();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(text.as_bytes());
        });
        let o = child.wait_with_output().unwrap();
        writer.join().unwrap();
        o
    }

    /// The live bindings as `bindings list` prints them.
    fn list(&self) -> BTreeSet<String> {
        let o = self.cli(&["list"], "");
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).lines().map(str::to_string).collect()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `examples/multi.yaml` with its devices at `nic0` and `sw1`.
fn multi_config(dir: &tempfile::TempDir, nic0: &str, sw1: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("examples/multi.yaml"))
        .unwrap()
        .replacen("127.0.0.1:9559", nic0, 1)
        .replacen("127.0.0.1:9560", sw1, 1);
    let path = dir.path().join("multi.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The bindings in the NAT tables of the device at `addr` (decoded from the
/// `nat_src_*` entries), and the number of `nat_dst_*` entries.
fn device_bindings(addr: &str) -> (BTreeSet<Binding>, usize) {
    use p4clone_proto::p4::v1::{entity, p4_runtime_client::P4RuntimeClient, Entity, ReadRequest, TableEntry};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let ch = tonic::transport::Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
        let mut c = P4RuntimeClient::new(ch).max_decoding_message_size(256 << 20);
        let schema = p4clone_proto::program::schema().unwrap();
        let (mut found, mut dst) = (BTreeSet::new(), 0);
        for t in [tables::NAT_SRC_V4, tables::NAT_SRC_V6, tables::NAT_DST_V4, tables::NAT_DST_V6] {
            let wildcard = Entity {
                entity: Some(entity::Entity::TableEntry(TableEntry { table_id: t.id, ..Default::default() })),
            };
            let req = ReadRequest { device_id: 1, entities: vec![wildcard], ..Default::default() };
            // Before the controller installs the pipeline the device refuses reads.
            let Ok(stream) = c.read(req).await else { return (BTreeSet::new(), usize::MAX) };
            let mut stream = stream.into_inner();
            while let Ok(Some(r)) = stream.message().await {
                for e in r.entities {
                    if let Some(entity::Entity::TableEntry(te)) = e.entity {
                        if t.id == tables::NAT_DST_V4.id || t.id == tables::NAT_DST_V6.id {
                            dst += 1;
                        } else if let Some(b) = entries::decode(&te, schema) {
                            found.insert(b);
                        }
                    }
                }
            }
        }
        (found, dst)
    })
}

/// The feed line adding `se` → `client`.
fn add_line(se: &str, client: &str, protocol: &str) -> String {
    format!(r#"{{"op":"add","se":"{se}","client":"{client}","protocol":"{protocol}"}}"#)
}

fn binding(se: &str, client: &str, protocol: &str) -> Binding {
    p4clone_runtime::controller::bindings::binding::parse_binding("", se, client, protocol).unwrap()
}

/// The config binding of multi.yaml (on nic0).
fn config_binding() -> Binding {
    binding("10.30.0.5:40001", "198.51.100.7:51515", "tcp")
}

/// `n` bindings of SE address `se_ip` (ports 1.., tcp then udp) to clients of 198.51.100.0/24.
fn bindings_of(se_ip: &str, n: usize) -> Vec<(String, String, &'static str)> {
    (0..n)
        .map(|i| {
            let (port, proto) = (i % 60_000 + 1, if i < 60_000 { "tcp" } else { "udp" });
            (format!("{se_ip}:{port}"), format!("198.51.100.{}:{}", i % 250 + 1, 1024 + i % 60_000), proto)
        })
        .collect()
}

#[test]
fn hundred_thousand_fed_bindings_reach_the_devices_and_removals_too() {
    let (a, b) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = multi_config(&dir, &a, &b);
    let (_soft_a, _soft_b) = (Soft::start(&a), Soft::start(&b));
    let ctl = Controller::start(&cfg, &["--resync", "5"]);
    // se-1 (10.20.0.5) is on nic0, se-2 (10.20.0.6) on sw1: 50,000 each.
    let mut all = bindings_of("10.20.0.5", 50_000);
    all.extend(bindings_of("10.20.0.6", 50_000));
    let input: String = all.iter().map(|(s, c, p)| add_line(s, c, p) + "\n").collect();
    let o = ctl.cli(&["feed"], &input);
    assert!(o.status.success(), "{}\n{}", stderr(&o), ctl.log());
    assert!(stdout(&o).contains("sent 100000: added 100000"), "{}", stdout(&o));
    let want = |ip: &str| -> BTreeSet<Binding> {
        all.iter().filter(|(s, _, _)| s.starts_with(ip)).map(|(s, c, p)| binding(s, c, p)).collect()
    };
    let (want_a, want_b) = (want("10.20.0.5:"), want("10.20.0.6:"));
    let mut with_config = want_a.clone();
    with_config.insert(config_binding());
    wait_for("100,000 bindings on the devices", || {
        device_bindings(&a) == (with_config.clone(), with_config.len())
            && device_bindings(&b) == (want_b.clone(), want_b.len())
    });
    assert_eq!(ctl.list().len(), 100_000);
    assert_eq!(ctl.metric("p4clone_controller_bindings{device=\"nic0\"}"), Some(50_000));
    assert_eq!(ctl.metric("p4clone_controller_bindings{device=\"sw1\"}"), Some(50_000));

    // Remove every other binding of each device (and one that is not bound).
    let removed: Vec<&(String, String, &str)> = all.iter().step_by(2).collect();
    let mut input: String =
        removed.iter().map(|(s, _, p)| format!(r#"{{"op":"remove","se":"{s}","protocol":"{p}"}}"#) + "\n").collect();
    input.push_str("{\"op\":\"remove\",\"se\":\"10.20.0.5:65000\"}\n");
    let o = ctl.cli(&["feed"], &input);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("removed 50000, 1 not bound"), "{}", stdout(&o));
    let gone: BTreeSet<Binding> = removed.iter().map(|(s, c, p)| binding(s, c, p)).collect();
    let keep = |w: &BTreeSet<Binding>| -> BTreeSet<Binding> { w.difference(&gone).copied().collect() };
    let (mut keep_a, keep_b) = (keep(&want_a), keep(&want_b));
    keep_a.insert(config_binding());
    wait_for("the removals on the devices", || {
        device_bindings(&a) == (keep_a.clone(), keep_a.len()) && device_bindings(&b) == (keep_b.clone(), keep_b.len())
    });
    // The drift check after it finds nothing to repair: live bindings are desired state.
    let repairs = ctl.count_all(&["repaired"]);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(ctl.count_all(&["repaired"]), repairs, "{}", ctl.log());
    assert_eq!(device_bindings(&a).0, keep_a);
}

#[test]
fn full_table_refuses_with_resource_exhausted_and_loses_nothing() {
    let (a, b) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = multi_config(&dir, &a, &b);
    let (_soft_a, _soft_b) = (Soft::start(&a), Soft::start(&b));
    let ctl = Controller::start(&cfg, &["--resync", "30"]);
    // nic0's IPv6 NAT tables hold 16,384 entries (the P4Info); the config has no IPv6 binding.
    let cap = 16_384;
    let lines: Vec<(String, String)> = (0..cap + 10)
        .map(|i| (format!("[2001:db8:20::5]:{}", i + 1), format!("[2001:db8:99::{:x}]:{}", i + 1, 40000)))
        .collect();
    let input: String = lines.iter().map(|(s, c)| add_line(s, c, "udp") + "\n").collect();
    let o = ctl.cli(&["feed"], &input);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("line {}: RESOURCE_EXHAUSTED", cap + 1)), "{err}");
    assert!(err.contains("IPv6 NAT table of device nic0 is full (16384"), "{err}");
    let accepted: BTreeSet<Binding> = lines[..cap].iter().map(|(s, c)| binding(s, c, "udp")).collect();
    let mut on_nic0 = accepted.clone();
    on_nic0.insert(config_binding());
    wait_for("every accepted binding on nic0", || device_bindings(&a) == (on_nic0.clone(), on_nic0.len()));
    assert_eq!(ctl.list().len(), cap);
    assert_eq!(ctl.metric("p4clone_controller_bindings_refused_full_total{device=\"nic0\"}"), Some(1));
    // One more, alone: refused too, counted; an IPv4 one still fits.
    let o = ctl.cli(&["add", "[2001:db8:20::5]:65000", "[2001:db8::1]:1", "--protocol", "udp"], "");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("RESOURCE_EXHAUSTED"), "{}", stderr(&o));
    assert_eq!(ctl.metric("p4clone_controller_bindings_refused_full_total{device=\"nic0\"}"), Some(2));
    let o = ctl.cli(&["add", "10.20.0.5:65000", "198.51.100.1:1"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    // A removal makes room.
    let o = ctl.cli(&["remove", "[2001:db8:20::5]:1", "--protocol", "udp"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = ctl.cli(&["add", "[2001:db8:20::5]:65000", "[2001:db8::1]:1", "--protocol", "udp"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    on_nic0.remove(&binding("[2001:db8:20::5]:1", "[2001:db8:99::1]:40000", "udp"));
    on_nic0.insert(binding("[2001:db8:20::5]:65000", "[2001:db8::1]:1", "udp"));
    on_nic0.insert(binding("10.20.0.5:65000", "198.51.100.1:1", "tcp"));
    wait_for("the swap on nic0", || device_bindings(&a) == (on_nic0.clone(), on_nic0.len()));
}

#[test]
fn bad_input_is_invalid_argument_naming_the_field() {
    let (a, b) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = multi_config(&dir, &a, &b);
    let ctl = Controller::start(&cfg, &["--resync", "30"]);
    // The gRPC service itself (the CLI checks the same things before sending).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use p4clone_proto::p4clone::controller::v1::{
            bindings_client::BindingsClient, AddBindingRequest, Binding as Pb,
        };
        let mut c = BindingsClient::connect(format!("http://{}", ctl.bindings)).await.unwrap();
        for (se, client, proto, code, field, what) in [
            ("10.20.0.5", "198.51.100.7:1", "tcp", tonic::Code::InvalidArgument, "binding.se:", "not an address:port"),
            ("10.20.0.5:1", "[2001:db8::1]:1", "tcp", tonic::Code::InvalidArgument, "binding.client:", "IPv6"),
            (
                "10.99.0.5:1",
                "198.51.100.7:1",
                "tcp",
                tonic::Code::InvalidArgument,
                "binding.se:",
                "no SE of the config",
            ),
            ("10.20.0.5:0", "198.51.100.7:1", "tcp", tonic::Code::InvalidArgument, "binding.se:", "port 0"),
            ("10.20.0.5:1", "198.51.100.7:0", "tcp", tonic::Code::InvalidArgument, "binding.client:", "port 0"),
            ("10.20.0.5:1", "198.51.100.7:1", "sctp", tonic::Code::InvalidArgument, "binding.protocol:", "sctp"),
            ("10.30.0.5:40001", "198.51.100.8:1", "tcp", tonic::Code::FailedPrecondition, "", "bound by the config"),
        ] {
            let req = AddBindingRequest {
                binding: Some(Pb { se: se.into(), client: client.into(), protocol: proto.into() }),
            };
            let e = c.add(req).await.expect_err(se);
            assert_eq!(e.code(), code, "{se} {client}: {e:?}");
            assert!(e.message().starts_with(field) && e.message().contains(what), "{se} {client}: {}", e.message());
        }
    });
    // The CLI: bad input exits 2 naming the field (and the line, for feed).
    let o = ctl.cli(&["add", "10.20.0.5:1", "not-an-address"], "");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("error: client: `not-an-address`"), "{}", stderr(&o));
    let o = ctl.cli(&["add", "10.99.0.5:1", "198.51.100.7:1"], "");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("INVALID_ARGUMENT: binding.se: no SE of the config has the address 10.99.0.5"),
        "{}",
        stderr(&o)
    );
    let input = format!(
        "{}\n\n{{\"se\":\"10.20.0.5:2\",\"client\":\"198.51.100.7:0\"}}\nnot json\n{}\n{}\n",
        add_line("10.20.0.5:1", "198.51.100.7:1", "tcp"),
        add_line("10.20.0.5:3", "198.51.100.7:3", "udp"),
        add_line("10.99.0.5:3", "198.51.100.7:3", "udp"),
    );
    let o = ctl.cli(&["feed"], &input);
    let err = stderr(&o);
    assert!(err.contains("line 3: client: `198.51.100.7:0`: port 0"), "{err}");
    assert!(err.contains("line 4: json: "), "{err}");
    assert!(err.contains("line 6: INVALID_ARGUMENT: batch ") && err.contains("no SE of the config"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // What was accepted before the refused op stays.
    assert_eq!(
        ctl.list(),
        [add_line("10.20.0.5:1", "198.51.100.7:1", "tcp"), add_line("10.20.0.5:3", "198.51.100.7:3", "udp")]
            .into_iter()
            .collect()
    );
}

#[test]
fn device_restarted_empty_gets_its_bindings_back() {
    let (a, b) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = multi_config(&dir, &a, &b);
    let soft_a = Soft::start(&a);
    let _soft_b = Soft::start(&b);
    let ctl = Controller::start(&cfg, &["--resync", "30"]);
    let all = bindings_of("10.20.0.5", 2_000);
    let input: String = all.iter().map(|(s, c, p)| add_line(s, c, p) + "\n").collect();
    let o = ctl.cli(&["feed"], &input);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut want: BTreeSet<Binding> = all.iter().map(|(s, c, p)| binding(s, c, p)).collect();
    want.insert(config_binding());
    wait_for("the bindings on nic0", || device_bindings(&a) == (want.clone(), want.len()));
    drop(soft_a);
    wait_for("the controller to see nic0 gone", || ctl.count_all(&["disconnected", "device=nic0"]) >= 1);
    // Bindings added while the device is away are kept and written on its return.
    let o = ctl.cli(&["add", "10.20.0.5:64000", "198.51.100.9:9"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    want.insert(binding("10.20.0.5:64000", "198.51.100.9:9", "tcp"));
    let _soft_a = Soft::start(&a);
    wait_for("the bindings back on the restarted nic0", || device_bindings(&a) == (want.clone(), want.len()));
    assert_eq!(ctl.list().len(), 2_001);
}

#[test]
fn on_failover_the_new_primary_takes_the_bindings_from_the_device() {
    let (a, b) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = multi_config(&dir, &a, &b);
    let (_soft_a, _soft_b) = (Soft::start(&a), Soft::start(&b));
    let low = Controller::start(&cfg, &["--resync", "1", "--election-id", "1"]);
    let o = low.cli(&["add", "10.20.0.5:1", "198.51.100.1:1"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let first: BTreeSet<Binding> = [binding("10.20.0.5:1", "198.51.100.1:1", "tcp"), config_binding()].into();
    wait_for("the binding on nic0", || device_bindings(&a).0 == first);
    let mut high = Controller::start(&cfg, &["--resync", "1", "--election-id", "2"]);
    wait_for("controller 2 primary of both devices", || {
        high.count_all(&["primary device=", "election_id=2"]) == 2 && low.count_all(&["backup; not writing"]) == 2
    });
    // Controller 2 took the binding from the device instead of deleting it.
    wait_for("controller 2 to list the binding", || high.list().len() == 1);
    // The backup refuses changes: they go to the primary.
    let o = low.cli(&["add", "10.20.0.5:2", "198.51.100.1:2"], "");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("UNAVAILABLE") && stderr(&o).contains("backup of device nic0"), "{}", stderr(&o));
    // Changes made through controller 2: two added, the first removed, on both devices.
    let input = [
        add_line("10.20.0.5:3", "198.51.100.1:3", "tcp"),
        add_line("10.20.0.6:4", "198.51.100.1:4", "udp"),
        "{\"op\":\"remove\",\"se\":\"10.20.0.5:1\"}".to_string(),
    ]
    .join("\n");
    let o = high.cli(&["feed"], &input);
    assert!(o.status.success(), "{}", stderr(&o));
    let want_a: BTreeSet<Binding> = [binding("10.20.0.5:3", "198.51.100.1:3", "tcp"), config_binding()].into();
    let want_b: BTreeSet<Binding> = [binding("10.20.0.6:4", "198.51.100.1:4", "udp")].into();
    wait_for("the changes on the devices", || device_bindings(&a).0 == want_a && device_bindings(&b).0 == want_b);
    // SIGKILL the primary: controller 1 becomes primary, takes the device's
    // bindings (not its own stale ones) and writes nothing back.
    let _ = high.child.kill();
    let _ = high.child.wait();
    wait_for("controller 1 primary again on both", || low.count_all(&["primary device=", "election_id=1"]) == 4);
    wait_for("controller 1 to list the device's bindings", || low.list().len() == 2);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(device_bindings(&a).0, want_a, "{}", low.log());
    assert_eq!(device_bindings(&b).0, want_b, "{}", low.log());
    assert!(low.count_all(&["live bindings taken from the device"]) >= 1, "{}", low.log());
    // And it serves them now.
    let o = low.cli(&["remove", "10.20.0.5:3"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    wait_for("the removal on nic0", || device_bindings(&a).0 == [config_binding()].into());
}
