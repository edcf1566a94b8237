//! Faults against `p4clone soft` processes on loopback (issue 17, item 5):
//!
//! - a large push (a synthetic config) with the target killed by SIGKILL in the
//!   middle, the target restarted on the same address: one more `push` converges,
//!   the device holds exactly the intent (no duplicate entries or clone sessions)
//!   and `plan` has nothing to do; the same with the *push* killed mid-way and the
//!   target left holding a partial state;
//! - clients that open many RPCs and streams and never read their answers: another
//!   client's Write and Read still complete in bounded time;
//! - garbage on the gRPC port (random bytes, a bad HTTP/2 preface, HTTP/1.1, a
//!   truncated gRPC frame): the target keeps serving and never panics.
//!
//! Every wait is bounded; the timeouts are generous for a loaded 2-core machine.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::root;
use p4clone_compiler::config::Config;
use p4clone_compiler::{intent, lower, synthetic};
use p4clone_proto::p4::v1::entity;
use p4clone_runtime::client::{Client, ConnectOptions};
use p4clone_runtime::reconcile::{self, DeviceState};
use p4clone_runtime::replication;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A `p4clone soft` child process; its stderr is collected (to look for panics).
/// SIGKILLed on drop.
struct Soft {
    child: Child,
    address: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Soft {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Soft {
    /// Starts on `addr`; retries for 10 s while the address is still busy (a
    /// restart on the port of a killed process).
    fn start(addr: &str) -> Soft {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Soft::try_start(addr) {
                Ok(s) => return s,
                Err(e) if Instant::now() < deadline && e.contains("cannot listen") => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => panic!("p4clone soft --p4rt {addr} did not start:\n{e}"),
            }
        }
    }

    fn try_start(addr: &str) -> Result<Soft, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p4clone"))
            .current_dir(root())
            .args(["soft", "--p4rt", addr])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn p4clone soft");
        let err = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let keep = lines.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(l.clone());
                let _ = tx.send(l);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) => {
                    if let Some(rest) = l.split("P4Runtime on ").nth(1) {
                        let address =
                            rest.split_whitespace().next().unwrap().trim_end_matches([',', ';', ')']).to_string();
                        return Ok(Soft { child, address, stderr: lines });
                    }
                }
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(50));
        let seen = lines.lock().unwrap().join("\n");
        Err(seen)
    }

    fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process is still running and has never printed a panic.
    fn assert_alive_without_panic(&mut self) {
        assert!(self.child.try_wait().unwrap().is_none(), "p4clone soft exited:\n{}", self.stderr());
        let err = self.stderr();
        assert!(!err.contains("panicked"), "p4clone soft panicked:\n{err}");
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

/// A one-device synthetic fleet (`vs` VSs of 8 members, 4 clone servers per
/// profile) whose device `dev000` is at `address`, written as JSON into `dir`.
fn synthetic_config(dir: &Path, vs: usize, address: &str) -> (Config, String) {
    let mut cfg = synthetic::fleet(vs, 8, (vs / 10).max(1), 4, 1);
    cfg.devices[0].address = address.to_string();
    let path = dir.join(format!("fleet-{vs}.json"));
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    (cfg, path.display().to_string())
}

fn p4clone(args: &[&str]) -> std::process::Output {
    common::p4clone(args)
}

fn text(o: &std::process::Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `push CONFIG --output json`; the device's counts.
fn push(config: &str) -> serde_json::Value {
    // An election id above those of the stuck streams of
    // `clients_that_never_read_do_not_stop_others`: this push is the primary.
    let o = p4clone(&["push", config, "--output", "json", "--batch", "500", "--election-id", "1000000"]);
    assert!(o.status.success(), "push failed:\n{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let d = v["devices"][0].clone();
    assert!(d["errors"].as_array().unwrap().is_empty(), "{v}");
    d
}

async fn read_only(addr: &str) -> Client {
    let opts = ConnectOptions::new(addr, 1).read_only();
    tokio::time::timeout(Duration::from_secs(20), Client::connect(opts))
        .await
        .expect("connect in 20 s")
        .expect("connect")
}

/// The device's entries and clone sessions (read-only client).
fn read_state(addr: &str) -> DeviceState {
    rt().block_on(async {
        let schema = lower::program_schema().unwrap();
        let mut c = read_only(addr).await;
        let s = tokio::time::timeout(Duration::from_secs(60), reconcile::read_state(&mut c, schema))
            .await
            .expect("read in 60 s")
            .expect("read");
        c.close().await;
        s
    })
}

/// The device holds exactly the compiled intent of `cfg` for `dev000`: no
/// duplicate entry or session, nothing missing, nothing extra.
fn assert_device_equals_intent(cfg: &Config, addr: &str) -> usize {
    let schema = lower::program_schema().unwrap();
    let state = read_state(addr);
    let hints = reconcile::allocation("dev000", &state, schema);
    let intent = intent::compile(cfg, &hints).unwrap();
    let desired = reconcile::desired_entities(intent.device("dev000").unwrap(), schema).unwrap();
    let mut want = DeviceState::default();
    for e in desired {
        if let Some(s) = replication::as_clone_session(&e) {
            want.sessions.push(s.clone());
        } else if let Some(entity::Entity::TableEntry(t)) = e.entity {
            want.entries.push(t);
        }
    }
    let keys = |s: &DeviceState| {
        let mut seen = HashSet::new();
        let mut dup = 0;
        for e in &s.entries {
            if !seen.insert((reconcile::entry_key(e), reconcile::entry_value(e))) {
                dup += 1;
            }
        }
        for x in &s.sessions {
            if !seen.insert((x.session_id.to_be_bytes().to_vec(), reconcile::session_value(x))) {
                dup += 1;
            }
        }
        (seen, dup)
    };
    let (have, dup) = keys(&state);
    assert_eq!(dup, 0, "duplicate entries or sessions on the device");
    let mut ids: Vec<u32> = state.sessions.iter().map(|s| s.session_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), state.sessions.len(), "duplicate clone session ids");
    let (wanted, _) = keys(&want);
    assert_eq!(state.entries.len(), want.entries.len(), "table entries");
    assert_eq!(state.sessions.len(), want.sessions.len(), "clone sessions");
    assert!(have == wanted, "the device differs from the intent");
    state.len()
}

fn assert_plan_nothing_to_do(config: &str) {
    let o = p4clone(&["plan", config]);
    assert!(o.status.success(), "plan failed:\n{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("nothing to do"), "{out}");
}

/// Entries + sessions on the device, `None` if it cannot be read right now.
fn count(addr: &str) -> Option<usize> {
    rt().block_on(async {
        let schema = lower::program_schema().unwrap();
        let mut c =
            tokio::time::timeout(Duration::from_secs(5), Client::connect(ConnectOptions::new(addr, 1).read_only()))
                .await
                .ok()?
                .ok()?;
        let s =
            tokio::time::timeout(Duration::from_secs(20), reconcile::read_state(&mut c, schema)).await.ok()?.ok()?;
        c.close().await;
        Some(s.len())
    })
}

/// Starts `push CONFIG --batch 200` and returns once the device holds part of
/// it (more than nothing, less than `total`), with the push still running.
fn push_until_partial(config: &str, addr: &str, total: usize) -> (Child, usize) {
    let mut push = Command::new(env!("CARGO_BIN_EXE_p4clone"))
        .current_dir(root())
        .args(["push", config, "--batch", "200", "--output", "json", "--election-id", "1000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn push");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the push wrote nothing in 120 s");
        if let Some(status) = push.try_wait().unwrap() {
            let mut out = String::new();
            let _ = push.stdout.take().unwrap().read_to_string(&mut out);
            panic!("the push ended ({status}) before a partial state was seen: {out}");
        }
        match count(addr) {
            Some(n) if n > 0 => {
                assert!(n < total, "the device already holds everything ({n}): the config is too small");
                return (push, n);
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Waits at most 60 s for `child` to exit; its output.
fn wait(mut child: Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            return (st, text(&o));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the push did not end in 60 s after the target was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigkill_mid_push_then_one_more_push_converges() {
    let tmp = tempfile::tempdir().unwrap();
    let mut soft = Soft::start("127.0.0.1:0");
    let addr = soft.address.clone();
    // 1,500 VSs × 8 members: 24,000 classify rules (plus rewrites, sessions…),
    // written in batches of 200.
    let (cfg, config) = synthetic_config(tmp.path(), 1500, &addr);
    let total = {
        let schema = lower::program_schema().unwrap();
        let intent = intent::compile(&cfg, &Default::default()).unwrap();
        reconcile::desired_entities(intent.device("dev000").unwrap(), schema).unwrap().len()
    };
    assert!(total > 20_000, "{total}");

    // 1. The push client is SIGKILLed mid-way: the target keeps a partial state
    //    (whole batches); the next push completes it.
    let (mut p, n) = push_until_partial(&config, &addr, total);
    let _ = p.kill();
    let _ = p.wait();
    let partial = count(&addr).expect("readable");
    assert!(partial >= n && partial < total, "partial {partial}, seen {n}, total {total}");
    eprintln!("push killed with {partial} of {total} entities on the device");
    let d = push(&config);
    let inserted = d["inserted"].as_u64().unwrap() as usize;
    assert!(inserted > 0 && inserted <= total - partial, "inserted {inserted} after {partial} of {total}: {d}");
    assert_eq!(assert_device_equals_intent(&cfg, &addr), total);
    assert_plan_nothing_to_do(&config);
    soft.assert_alive_without_panic();

    // 2. The target is SIGKILLed mid-push and restarted on the same address: the
    //    push that was running fails naming the address; one more push converges.
    //    (The software target keeps no state across a restart: the push re-installs
    //    the pipeline and writes everything.)
    drop(soft);
    let mut soft = Soft::start(&addr);
    let (p, n) = push_until_partial(&config, &addr, total);
    soft.sigkill();
    eprintln!("target killed with at least {n} of {total} entities written");
    let (status, out) = wait(p);
    assert!(!status.success(), "the push succeeded against a killed target:\n{out}");
    assert!(out.contains(&addr), "the failure does not name the address:\n{out}");
    let mut soft = Soft::start(&addr);
    assert_eq!(soft.address, addr);
    let d = push(&config);
    assert_eq!(d["inserted"].as_u64().unwrap() as usize, total, "{d}");
    assert_eq!(assert_device_equals_intent(&cfg, &addr), total);
    assert_plan_nothing_to_do(&config);
    let d = push(&config);
    for k in ["inserted", "modified", "deleted"] {
        assert_eq!(d[k], 0, "{k}: {d}");
    }
    soft.assert_alive_without_panic();
}

// ---- raw HTTP/2 on the gRPC port ----

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn h2_frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len() as u32;
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, ty, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// HPACK "literal header field without indexing", new name, no Huffman.
fn hpack_literal(out: &mut Vec<u8>, name: &str, value: &str) {
    assert!(name.len() < 127 && value.len() < 127);
    out.push(0);
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

/// HEADERS (END_HEADERS) of a gRPC call of `method` on stream `stream`.
fn grpc_headers(stream: u32, method: &str) -> Vec<u8> {
    let mut h = Vec::new();
    for (n, v) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", &format!("/p4.v1.P4Runtime/{method}")[..]),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        hpack_literal(&mut h, n, v);
    }
    h2_frame(1, 0x4, stream, &h)
}

/// A gRPC length-prefixed message.
fn grpc_message(body: &[u8]) -> Vec<u8> {
    let mut m = vec![0];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// A read-everything `ReadRequest`, encoded.
fn read_all_request() -> Vec<u8> {
    use p4clone_proto::p4::v1::ReadRequest;
    use prost::Message;
    let schema = lower::program_schema().unwrap();
    let mut entities: Vec<_> = schema.tables().iter().map(|t| p4clone_runtime::tables::wildcard(t.id)).collect();
    entities.push(replication::wildcard());
    ReadRequest { device_id: 1, entities, ..Default::default() }.encode_to_vec()
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Another client's Write and Read complete within `limit`: a push of `config`
/// (arbitration, pipeline check, writes) and a full read.
fn assert_serves(config: &str, addr: &str, limit: Duration) {
    let started = Instant::now();
    let d = push(config);
    assert!(d["errors"].as_array().unwrap().is_empty(), "{d}");
    assert!(count(addr).is_some_and(|n| n > 0), "the device could not be read");
    assert!(started.elapsed() < limit, "push + read took {:?}", started.elapsed());
}

#[test]
fn clients_that_never_read_do_not_stop_others() {
    let tmp = tempfile::tempdir().unwrap();
    let mut soft = Soft::start("127.0.0.1:0");
    let addr = soft.address.clone();
    // 200 VSs: 3,200 classify rules; a full read answers several hundred KiB,
    // more than the HTTP/2 windows and socket buffers hold.
    let (_, config) = synthetic_config(tmp.path(), 200, &addr);
    push(&config);
    let read = grpc_message(&read_all_request());

    // Raw connections that ask for everything, on every stream they may open, and
    // never read a byte of the answers (nor the server's SETTINGS).
    let mut stuck = Vec::new();
    for _ in 0..4 {
        let mut s = connect(&addr);
        let mut out = PREFACE.to_vec();
        out.extend(h2_frame(4, 0, 0, &[]));
        for i in 0..30u32 {
            let id = 2 * i + 1;
            out.extend(grpc_headers(id, "Read"));
            out.extend(h2_frame(0, 0x1, id, &read));
        }
        // The server may stop reading this connection once its answers pile up:
        // what was written is enough.
        let _ = s.write_all(&out);
        stuck.push(s);
    }
    // tonic clients that start Reads and StreamChannels and never poll the
    // answers (their connections are read by the client library, so HTTP/2 flow
    // control is what stops the server).
    let rt = rt();
    let held = rt.block_on(async {
        use p4clone_proto::p4::v1::p4_runtime_client::P4RuntimeClient;
        use p4clone_proto::p4::v1::{
            stream_message_request, MasterArbitrationUpdate, ReadRequest, StreamMessageRequest, Uint128,
        };
        use prost::Message;
        let req = ReadRequest::decode(&read[5..]).unwrap();
        let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
        for c in 0..4u64 {
            let ch =
                tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
            let mut client = P4RuntimeClient::new(ch).max_decoding_message_size(64 << 20);
            for _ in 0..20 {
                let r = tokio::time::timeout(Duration::from_secs(10), client.read(req.clone())).await;
                held.push(Box::new(r));
            }
            for s in 0..10u64 {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let _ = tx.send(StreamMessageRequest {
                    update: Some(stream_message_request::Update::Arbitration(MasterArbitrationUpdate {
                        device_id: 1,
                        election_id: Some(Uint128 { high: 0, low: 100 + c * 10 + s }),
                        ..Default::default()
                    })),
                });
                let stream = tonic::codegen::tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
                let r = tokio::time::timeout(Duration::from_secs(10), client.stream_channel(stream)).await;
                held.push(Box::new((tx, r)));
            }
            held.push(Box::new(client));
        }
        held
    });

    // Another client: push (arbitration with a higher election id, Writes) and
    // Read, twice, each within 60 s.
    let (cfg2, config2) = synthetic_config(tmp.path(), 210, &addr);
    let d = push(&config2);
    assert!(d["inserted"].as_u64().unwrap() > 0, "{d}");
    assert_device_equals_intent(&cfg2, &addr);
    assert_serves(&config, &addr, Duration::from_secs(90));
    soft.assert_alive_without_panic();
    drop(held);
    drop(stuck);
    // Once they leave, still serving.
    assert_serves(&config2, &addr, Duration::from_secs(90));
    soft.assert_alive_without_panic();
}

/// A deterministic xorshift byte source.
struct Noise(u64);

impl Noise {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 >> 24) as u8
            })
            .collect()
    }
}

/// Sends `bytes` on a new connection, then reads what the server answers until it
/// closes or 2 s pass (bounded); returns the number of bytes received.
fn send_garbage(addr: &str, bytes: &[u8], half_close: bool) -> usize {
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = s.write_all(bytes);
    if half_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut got = 0;
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got
}

#[test]
fn garbage_on_the_grpc_port_is_survived() {
    let tmp = tempfile::tempdir().unwrap();
    let mut soft = Soft::start("127.0.0.1:0");
    let addr = soft.address.clone();
    let (cfg, config) = synthetic_config(tmp.path(), 20, &addr);
    push(&config);
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let settings = h2_frame(4, 0, 0, &[]);
    let write_body = grpc_message(&read_all_request());
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for n in [1, 7, 24, 100, 4096, 65536] {
        cases.push((format!("{n} random bytes"), noise.bytes(n)));
    }
    // Random bytes after a valid preface: a broken frame layer.
    for n in [9, 100, 5000] {
        let mut b = PREFACE.to_vec();
        b.extend(noise.bytes(n));
        cases.push((format!("preface + {n} random bytes"), b));
    }
    cases.push(("a bad HTTP/2 preface".into(), b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".to_vec()));
    cases.push(("half a preface".into(), PREFACE[..10].to_vec()));
    cases.push(("HTTP/1.1".into(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()));
    cases.push((
        "HTTP/1.1 gRPC POST".into(),
        b"POST /p4.v1.P4Runtime/Write HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\0\0\0\0\x09"
            .to_vec(),
    ));
    // A gRPC frame announcing 4,096 bytes and carrying 10, then END_STREAM.
    let mut truncated = PREFACE.to_vec();
    truncated.extend(&settings);
    truncated.extend(grpc_headers(1, "Write"));
    let mut frame = vec![0, 0, 0, 0x10, 0];
    frame.extend(noise.bytes(10));
    truncated.extend(h2_frame(0, 0x1, 1, &frame));
    cases.push(("a truncated gRPC frame, END_STREAM".into(), truncated.clone()));
    // The same without END_STREAM, the connection closed mid-message.
    let mut cut = PREFACE.to_vec();
    cut.extend(&settings);
    cut.extend(grpc_headers(1, "Read"));
    cut.extend(h2_frame(0, 0, 1, &write_body[..write_body.len() / 2]));
    cases.push(("half a Read, then the connection closed".into(), cut));
    // A gRPC message that is not protobuf, to every method.
    for m in ["Write", "Read", "SetForwardingPipelineConfig", "StreamChannel", "Capabilities", "Nope"] {
        let mut b = PREFACE.to_vec();
        b.extend(&settings);
        b.extend(grpc_headers(1, m));
        b.extend(h2_frame(0, 0x1, 1, &grpc_message(&noise.bytes(64))));
        cases.push((format!("random protobuf to {m}"), b));
    }
    // A compressed-flag message (no compression negotiated).
    let mut b = PREFACE.to_vec();
    b.extend(&settings);
    b.extend(grpc_headers(1, "Write"));
    let mut m = grpc_message(&noise.bytes(8));
    m[0] = 1;
    b.extend(h2_frame(0, 0x1, 1, &m));
    cases.push(("a compressed message".into(), b));
    // HEADERS on stream 0, a DATA frame on an unopened stream, a frame longer than
    // the default max frame size.
    let mut b = PREFACE.to_vec();
    b.extend(&settings);
    b.extend(grpc_headers(0, "Write"));
    cases.push(("HEADERS on stream 0".into(), b));
    let mut b = PREFACE.to_vec();
    b.extend(&settings);
    b.extend(h2_frame(0, 0x1, 7, b"hello"));
    cases.push(("DATA on an idle stream".into(), b));
    let mut b = PREFACE.to_vec();
    b.extend(&settings);
    b.extend(h2_frame(0, 0, 1, &noise.bytes(20_000)));
    cases.push(("an oversized frame".into(), b));

    for (i, (what, bytes)) in cases.iter().enumerate() {
        send_garbage(&addr, bytes, i % 2 == 0);
        soft.assert_alive_without_panic();
        // The target still answers a real client (every few cases: a full read).
        if i % 4 == 3 {
            assert!(count(&addr).is_some_and(|n| n > 0), "no read after {what}");
        }
    }
    // All at once, on parallel connections, then a push + read.
    let threads: Vec<_> = cases
        .into_iter()
        .map(|(_, b)| {
            let a = addr.clone();
            std::thread::spawn(move || send_garbage(&a, &b, false))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_serves(&config, &addr, Duration::from_secs(60));
    assert_device_equals_intent(&cfg, &addr);
    soft.assert_alive_without_panic();
}
