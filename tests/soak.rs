//! Soak (issue 17, item 5): `p4clone soft` forwards a continuous stream over
//! AF_PACKET ports on veth pairs, in a network namespace this test creates, while a
//! P4Runtime controller (the runtime client) rewrites its classify entry, clone
//! rewrites and clone sessions in atomic batches the whole time, and faults come and
//! go (controller reconnects, refused batches, garbage on the gRPC port, read-only
//! clients reading everything back).
//!
//! Topology (namespace `p4c-soak-*`): the test sends on `s0`, whose peer `s1` is the
//! target's port 1; port 1 is wired to port 2 (`w1`, captured on `w0`); clones leave
//! on port 3 (`k1`, captured on `k0`) or 4 (`l1`, captured on `l0`).
//!
//! Configuration `g` (the generation, one per Write batch of 5 updates): the classify
//! entry sends the stream to the live member `1 + g % 2`; both members' rewrites
//! carry `g` in their MACs (the live one's destination `02:5a:g`, the other's
//! `02:de:g`; source `02:5m:g`); both members' clone sessions send to a port that
//! depends on `g` and the member, and cut the clone to `96 + g % 64` bytes. So a
//! clone shows which classify entry (the member in its source MAC), which rewrite
//! (the generation in its MACs) and which session (its port and length) it went
//! through, and a frame classified against a half-applied batch (any mix of two
//! generations) gives a clone that matches no whole configuration.
//!
//! Checks: every clone matches exactly one whole configuration and carries the bytes
//! of the frame it copies; clone generations never go back in frame order; every
//! frame sent arrives once on port 2, in order, byte for byte; counters are exact at
//! the end (frames sent = clones requested = clones emitted = clones captured +
//! alloc_failed + driver_failed, per member, read over P4Runtime and
//! `p4clone.soft.v1.CloneDiagnostics`; no clone without a session or rewrite; the
//! target's own exit report agrees); the device reads back as the last acknowledged
//! configuration every second; the RSS of the `p4clone soft` process at the end is
//! within 8 MiB + 5 % of the RSS after the warm-up (a quarter of the run, at most
//! 30 s; the process runs with `MIMALLOC_PURGE_DELAY=0`); its descriptor count at the
//! end is not above the warm-up's.
//!
//! `soak_short` runs by `cargo test` (20 s, or `P4CLONE_SOAK_SECS`); the 10-minute
//! run: `cargo test -p p4clone --test soak -- --ignored --nocapture` (RELIABILITY.md,
//! "Soak"). Without the privilege to create a namespace or a raw socket, each prints
//! one `SKIP: soak: ...` line and passes.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::netns::{self, Netns, RawSocket};
use common::soft_process::Soft;
use p4clone_compiler::config::Target;
use p4clone_proto::bytestring;
use p4clone_proto::p4::v1::{
    action, entity, field_match, table_action, update, Action, FieldMatch, TableAction, TableEntry, Update,
};
use p4clone_proto::program::{actions, counters, tables};
use p4clone_runtime::client::{Client, ConnectOptions};
use p4clone_runtime::pipeline::PipelineArtifacts;
use p4clone_runtime::{replication, tables as rt_tables};

/// Seconds of the run, when set (both tests).
const SECS_ENV: &str = "P4CLONE_SOAK_SECS";
/// Frames per second the sender sends.
const RATE: u64 = 1000;
/// One Write batch (a new generation) this often.
const BATCH_EVERY: Duration = Duration::from_millis(10);
/// RSS tolerance: the end may exceed the warm-up figure by this many KiB plus
/// `RSS_PERCENT` of it.
const RSS_SLACK_KIB: u64 = 8 * 1024;
const RSS_PERCENT: u64 = 5;

#[test]
fn soak_short() {
    soak(duration_or(20));
}

#[test]
#[ignore = "10 minutes: cargo test -p p4clone --test soak -- --ignored --nocapture"]
fn soak_ten_minutes() {
    soak(duration_or(600));
}

fn duration_or(default_secs: u64) -> Duration {
    let secs = match std::env::var(SECS_ENV) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{SECS_ENV}={v:?}: not a number of seconds")),
        Err(_) => default_secs,
    };
    Duration::from_secs(secs.max(5))
}

// ---------------------------------------------------------------------------------
// the stream

const DST_MAC: [u8; 6] = [0x02, 0xdd, 0, 0, 0, 0x02];
const SRC_MAC: [u8; 6] = [0x02, 0x70, 0x34, 0xc1, 0x50, 0x4b];
const MAGIC: &[u8; 8] = b"p4csoak!";
/// Where the magic and the sequence number sit: after Ethernet, IPv4 and TCP.
const SEQ_AT: usize = 54;

/// Frame `seq` of the stream: IPv4/TCP 10.0.0.1:40000 -> 10.0.0.2:80 (the
/// classify entry's flow), 200..399 bytes, the magic and `seq` first in the payload.
fn frame(seq: u64) -> Vec<u8> {
    let len = 200 + (seq % 200) as usize;
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f.extend_from_slice(&[0x45, 0, (ip_len >> 8) as u8, ip_len as u8]);
    f.extend_from_slice(&(seq as u16).to_be_bytes());
    f.extend_from_slice(&[0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&80u16.to_be_bytes());
    f.extend_from_slice(&(seq as u32).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(MAGIC);
    f.extend_from_slice(&seq.to_be_bytes());
    let mut i = 0u8;
    while f.len() < len {
        f.push((seq as u8).wrapping_add(i));
        i = i.wrapping_add(1);
    }
    f
}

/// The sequence number of a frame of the stream (or of a clone of one).
fn seq_of(f: &[u8]) -> Option<u64> {
    if f.len() < SEQ_AT + 16 || &f[SEQ_AT..SEQ_AT + 8] != MAGIC {
        return None;
    }
    Some(u64::from_be_bytes(f[SEQ_AT + 8..SEQ_AT + 16].try_into().ok()?))
}

// ---------------------------------------------------------------------------------
// configuration g

/// The member the classify entry of generation `g` sends the stream to.
fn live(g: u64) -> u16 {
    1 + (g % 2) as u16
}

/// The egress port of member `m`'s clone session in generation `g` (3 or 4; the
/// live member's changes every other generation).
fn port_of(g: u64, m: u16) -> u16 {
    3 + ((g / 2 + u64::from(m)) % 2) as u16
}

/// The clone length of generation `g` (both sessions' `packet_length_bytes`).
fn cut(g: u64) -> usize {
    96 + (g % 64) as usize
}

/// Member `m`'s rewrite MACs in generation `g`: (destination, source).
fn macs(g: u64, m: u16) -> ([u8; 6], [u8; 6]) {
    let b = (g as u32).to_be_bytes();
    let mark = if m == live(g) { 0x5a } else { 0xde };
    ([0x02, mark, b[0], b[1], b[2], b[3]], [0x02, 0x50 + m as u8, b[0], b[1], b[2], b[3]])
}

fn mac_value(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |a, &b| (a << 8) | u128::from(b))
}

fn exact(field_id: u32, v: u128) -> FieldMatch {
    FieldMatch {
        field_id,
        field_match_type: Some(field_match::FieldMatchType::Exact(field_match::Exact {
            value: bytestring::encode_shared(v),
        })),
    }
}

fn ternary(field_id: u32, v: u128, mask: u128) -> FieldMatch {
    FieldMatch {
        field_id,
        field_match_type: Some(field_match::FieldMatchType::Ternary(field_match::Ternary {
            value: bytestring::encode_shared(v),
            mask: bytestring::encode_shared(mask),
        })),
    }
}

fn act(action_id: u32, params: &[u128]) -> Option<TableAction> {
    let params = params
        .iter()
        .enumerate()
        .map(|(i, &v)| action::Param { param_id: i as u32 + 1, value: bytestring::encode_shared(v) })
        .collect();
    Some(TableAction { r#type: Some(table_action::Type::Action(Action { action_id, params })) })
}

fn upd(kind: update::Type, e: TableEntry) -> Update {
    rt_tables::update_of(kind, rt_tables::entity_of(e))
}

/// `wire` port `from` -> `to` (field and parameter ids: docs/dataplane.md).
fn wire(from: u16, to: u16) -> TableEntry {
    TableEntry {
        table_id: tables::WIRE.id,
        r#match: vec![exact(1, from.into())],
        action: act(actions::WIRE_FORWARD.id, &[to.into()]),
        ..Default::default()
    }
}

/// The classify entry of generation `g`: dst 10.0.0.2, TCP, dst port 80.
fn classify(g: u64) -> TableEntry {
    TableEntry {
        table_id: tables::CLASSIFY_V4.id,
        r#match: vec![ternary(2, 0x0a00_0002, 0xffff_ffff), ternary(3, 6, 0xff), ternary(5, 80, 0xffff)],
        action: act(actions::CLASSIFY_HIT.id, &[live(g).into(), 1, 0]),
        priority: 10,
        ..Default::default()
    }
}

/// Member `m`'s `clone_rewrite` entry in generation `g` (untagged, no truncation,
/// no NAT restore: the session cuts).
fn rewrite(g: u64, m: u16) -> TableEntry {
    let (dst, src) = macs(g, m);
    TableEntry {
        table_id: tables::CLONE_REWRITE.id,
        r#match: vec![exact(1, m.into())],
        action: act(actions::CLONE_REWRITE_SET.id, &[mac_value(dst), mac_value(src), 0, 0, 0]),
        ..Default::default()
    }
}

fn session(g: u64, m: u16) -> Update {
    let mut s = replication::clone_session(m.into(), port_of(g, m).into(), m.into());
    s.packet_length_bytes = cut(g) as i32;
    let kind = if g == 0 { update::Type::Insert } else { update::Type::Modify };
    rt_tables::update_of(kind, replication::entity_of(s))
}

/// The batch that makes generation `g` (g = 0 inserts, later ones modify).
fn batch(g: u64) -> Vec<Update> {
    let kind = if g == 0 { update::Type::Insert } else { update::Type::Modify };
    vec![upd(kind, classify(g)), upd(kind, rewrite(g, 1)), upd(kind, rewrite(g, 2)), session(g, 1), session(g, 2)]
}

/// A batch every update of which the device must refuse (an insert of an existing
/// entry, modifications of a member that does not exist, a classify action naming
/// an unknown action), so it must change nothing.
fn refused_batch(g: u64) -> Vec<Update> {
    let mut bad_action = classify(g + 1);
    bad_action.action = act(0x0100_00ff, &[]);
    let mut s = replication::clone_session(777, 3, 777);
    s.packet_length_bytes = 100;
    vec![
        upd(update::Type::Insert, classify(g + 1)),
        upd(update::Type::Modify, rewrite(g + 1, 777)),
        rt_tables::update_of(update::Type::Modify, replication::entity_of(s)),
        upd(update::Type::Modify, bad_action),
    ]
}

/// What a clone received on `port` says, checked against the configuration it
/// names: `(seq, generation, member)`, or why it matches no whole configuration.
fn check_clone(port: u16, f: &[u8]) -> Result<(u64, u64, u16), String> {
    let seq = seq_of(f).ok_or_else(|| format!("port {port}: a clone without the stream's magic: {:02x?}", &f[..16]))?;
    let (dst, src) = (&f[0..6], &f[6..12]);
    if dst[0] != 0x02 || src[0] != 0x02 || dst[2..6] != src[2..6] || !(0x51..=0x52).contains(&src[1]) {
        return Err(format!("seq {seq} on port {port}: MACs {dst:02x?} {src:02x?} are no rewrite's"));
    }
    let g = u64::from(u32::from_be_bytes(dst[2..6].try_into().unwrap()));
    let m = u16::from(src[1] - 0x50);
    let torn = |what: String| Err(format!("seq {seq} on port {port}: torn configuration: {what}"));
    if m != live(g) || dst[1] != 0x5a {
        return torn(format!("member {m} with the rewrite of generation {g}, whose live member is {}", live(g)));
    }
    if port != port_of(g, m) {
        return torn(format!("generation {g} member {m} sends to port {}, not {port}", port_of(g, m)));
    }
    if f.len() != cut(g) {
        return torn(format!("generation {g} cuts clones to {} bytes, this one has {}", cut(g), f.len()));
    }
    let want = frame(seq);
    if f[12..] != want[12..cut(g)] {
        return Err(format!("seq {seq} on port {port}: clone bytes differ from the frame's"));
    }
    Ok((seq, g, m))
}

// ---------------------------------------------------------------------------------
// traffic

/// Sends the stream on `iface` at `RATE` until `stop`; the number sent.
fn sender(
    ns: String,
    iface: &str,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> std::thread::JoinHandle<Result<u64, String>> {
    let iface = iface.to_string();
    std::thread::spawn(move || {
        netns::enter(&ns)?;
        let s = RawSocket::open(&iface)?;
        let start = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let due = (start.elapsed().as_micros() as u64).saturating_mul(RATE) / 1_000_000;
            while n < due {
                s.send(&frame(n))?;
                n += 1;
                sent.store(n, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(n)
    })
}

/// What one capture saw.
#[derive(Default)]
struct Captured {
    /// Originals (port 2): sequence numbers in arrival order; clones: (seq, generation, member).
    originals: Vec<u64>,
    clones: Vec<(u64, u64, u16)>,
    /// Frames not of the stream (the links carry nothing else here, but do not count them).
    other: u64,
    /// Problems, the first 20, and how many.
    problems: Vec<String>,
    problem_count: u64,
    /// Frames the kernel dropped for the capture socket (a test-side loss).
    socket_drops: u64,
}

impl Captured {
    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < 20 {
            self.problems.push(p);
        }
    }
}

/// Captures `iface` (the peer of target port `port`; 2 = originals) until `stop`
/// is set and 300 ms passed without a frame.
fn capture(
    ns: String,
    iface: &str,
    port: u16,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<Captured, String>> {
    let iface = iface.to_string();
    let (ready_tx, ready_rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let opened = netns::enter(&ns).and_then(|()| RawSocket::open(&iface));
        let _ = ready_tx.send(());
        let mut s = opened?;
        s.set_rcvbuf(16 << 20);
        s.set_recv_timeout(Duration::from_millis(50));
        let mut c = Captured::default();
        let mut buf = vec![0u8; 65_536];
        let mut quiet_since: Option<Instant> = None;
        loop {
            match s.recv(&mut buf) {
                Some(n) => {
                    quiet_since = None;
                    let f = &buf[..n];
                    if seq_of(f).is_none() {
                        c.other += 1;
                    } else if port == 2 {
                        let seq = seq_of(f).unwrap_or(u64::MAX);
                        if f != frame(seq).as_slice() {
                            c.problem(format!("original seq {seq}: bytes differ from the frame sent"));
                        }
                        c.originals.push(seq);
                    } else {
                        match check_clone(port, f) {
                            Ok(x) => c.clones.push(x),
                            Err(e) => c.problem(e),
                        }
                    }
                }
                None if stop.load(Ordering::SeqCst) => {
                    let t = *quiet_since.get_or_insert_with(Instant::now);
                    if t.elapsed() >= Duration::from_millis(300) {
                        break;
                    }
                }
                None => {}
            }
        }
        c.socket_drops = s.drops();
        Ok(c)
    });
    let _ = ready_rx.recv_timeout(Duration::from_secs(5));
    h
}

// ---------------------------------------------------------------------------------
// the process

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Open descriptors of `pid`.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------
// the controller

/// What the controller did and read.
#[derive(Default, Debug)]
struct Controlled {
    /// The last generation written (acknowledged).
    last_gen: u64,
    reconnects: u64,
    refused_batches: u64,
    garbage_connections: u64,
    read_backs: u64,
    /// (seconds since the start, RSS KiB, descriptors), about once a second.
    samples: Vec<(f64, u64, usize)>,
    /// After the warm-up and at the end.
    rss_start: u64,
    rss_end: u64,
    fds_start: usize,
    fds_end: usize,
    /// Per member: requested, emitted (P4Runtime counters), alloc_failed,
    /// driver_failed (CloneDiagnostics), after the traffic stopped.
    counters: BTreeMap<u16, [u64; 4]>,
}

/// Signals from the test to the controller thread.
struct Plan {
    addr: String,
    pid: u32,
    duration: Duration,
    warm_up: Duration,
    /// The controller set: configured (generation 0 written).
    ready: mpsc::Sender<()>,
    /// The controller set: the writes are over.
    done: mpsc::Sender<()>,
    /// The test set: the traffic has stopped and been drained.
    traffic_over: Arc<AtomicBool>,
}

async fn connect(addr: &str) -> Result<Client, String> {
    let mut c = Client::connect(ConnectOptions::new(addr, 1)).await.map_err(|e| format!("connect: {e}"))?;
    if !c.wait_primary(Duration::from_secs(10)).await {
        return Err(format!("not primary on {addr}: {:?}", c.arbitration()));
    }
    Ok(c)
}

async fn write(c: &mut Client, updates: Vec<Update>, what: &str) -> Result<(), String> {
    let n = updates.len();
    let errors = c.write(updates).await.map_err(|e| format!("{what}: {e}"))?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: {} of {n} updates refused: {errors:?}", errors.len()))
    }
}

fn param(e: &TableEntry, i: usize) -> u128 {
    match e.action.as_ref().and_then(|a| a.r#type.as_ref()) {
        Some(table_action::Type::Action(a)) => {
            a.params.get(i).map_or(u128::MAX, |p| p.value.iter().fold(0u128, |x, &b| (x << 8) | u128::from(b)))
        }
        _ => u128::MAX,
    }
}

/// A read-only client reads the classify entries, rewrites and sessions back: they
/// must be generation `g`'s exactly.
async fn read_back(addr: &str, g: u64) -> Result<(), String> {
    let mut c =
        Client::connect(ConnectOptions::new(addr, 1).read_only()).await.map_err(|e| format!("read-only: {e}"))?;
    let got = c
        .read(vec![
            rt_tables::wildcard(tables::CLASSIFY_V4.id),
            rt_tables::wildcard(tables::CLONE_REWRITE.id),
            replication::wildcard(),
        ])
        .await
        .map_err(|e| format!("read back: {e}"))?;
    c.close().await;
    let mut classify_members = Vec::new();
    let mut rewrites = BTreeMap::new();
    let mut sessions = BTreeMap::new();
    for e in &got {
        if let Some(s) = replication::as_clone_session(e) {
            #[allow(deprecated)]
            let port = s.replicas.first().and_then(|r| match r.port_kind {
                Some(p4clone_proto::p4::v1::replica::PortKind::EgressPort(p)) => Some(p),
                _ => None,
            });
            sessions.insert(s.session_id, (port, s.packet_length_bytes));
        } else if let Some(entity::Entity::TableEntry(t)) = &e.entity {
            if t.table_id == tables::CLASSIFY_V4.id {
                classify_members.push(param(t, 0));
            } else {
                let member = match t.r#match.first().and_then(|m| m.field_match_type.as_ref()) {
                    Some(field_match::FieldMatchType::Exact(x)) => {
                        x.value.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b))
                    }
                    _ => u32::MAX,
                };
                rewrites.insert(member, (param(t, 0), param(t, 1)));
            }
        }
    }
    let want_rewrites: BTreeMap<u32, (u128, u128)> = [1u16, 2]
        .into_iter()
        .map(|m| {
            let (d, s) = macs(g, m);
            (u32::from(m), (mac_value(d), mac_value(s)))
        })
        .collect();
    let want_sessions: BTreeMap<u32, (Option<u32>, i32)> =
        [1u16, 2].into_iter().map(|m| (u32::from(m), (Some(u32::from(port_of(g, m))), cut(g) as i32))).collect();
    if classify_members != [u128::from(live(g))] || rewrites != want_rewrites || sessions != want_sessions {
        return Err(format!(
            "device state is not generation {g}: classify members {classify_members:?}, rewrites {rewrites:x?} \
             (want {want_rewrites:x?}), sessions {sessions:?} (want {want_sessions:?})"
        ));
    }
    Ok(())
}

/// Garbage of kind `k` on the P4Runtime port, then the connection closed.
fn garbage(addr: &str, k: u64, rng: &mut u64) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("garbage connect: {e}"))?;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                *rng as u8
            })
            .collect()
    };
    let bytes = match k % 4 {
        0 => random(1 + (k as usize * 997) % 4096),
        1 => b"GET / HTTP/1.1\r\nHost: p4clone\r\n\r\n".to_vec(),
        2 => b"PRI * HTTP/2.0\r\n".to_vec(),
        _ => {
            let mut v = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            v.extend(random(512));
            v
        }
    };
    let _ = s.write_all(&bytes);
    let _ = s.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// The P4Runtime counters and diagnostics of members 1 and 2.
async fn member_counters(c: &mut Client) -> Result<BTreeMap<u16, [u64; 4]>, String> {
    let (req, emi) = (counters::CLONES_REQUESTED.id, counters::CLONES_EMITTED.id);
    let cells = p4clone_runtime::counters::read_cells(c, &[(req, 1), (req, 2), (emi, 1), (emi, 2)])
        .await
        .map_err(|e| format!("read counters: {e}"))?;
    let diags = c
        .read_clone_diagnostics(vec![1, 2])
        .await
        .map_err(|e| format!("read CloneDiagnostics: {e}"))?
        .ok_or("the target does not serve CloneDiagnostics")?;
    let mut out = BTreeMap::new();
    for m in [1u16, 2] {
        let cell = |id: u32| cells.iter().find(|x| x.0 == id && x.1 == i64::from(m)).map_or(0, |x| x.2.packets);
        let d = diags.iter().find(|d| d.member == u32::from(m));
        out.insert(m, [cell(req), cell(emi), d.map_or(0, |d| d.alloc_failed), d.map_or(0, |d| d.driver_failed)]);
    }
    Ok(out)
}

/// Sets the pipeline, writes the wire and generation 0, then a batch every
/// `BATCH_EVERY` for `duration`, with the faults; then reads the counters.
async fn controller(plan: Plan) -> Result<Controlled, String> {
    let addr = plan.addr.as_str();
    let mut out = Controlled::default();
    let mut c = connect(addr).await?;
    let artifacts = PipelineArtifacts::for_target(Target::Soft, None).map_err(|e| e.to_string())?;
    c.set_pipeline(artifacts.to_config()).await.map_err(|e| format!("set pipeline: {e}"))?;
    write(&mut c, vec![upd(update::Type::Insert, wire(1, 2)), upd(update::Type::Insert, wire(2, 1))], "wire").await?;
    write(&mut c, batch(0), "generation 0").await?;
    read_back(addr, 0).await?;
    let _ = plan.ready.send(());

    let start = Instant::now();
    let mut g = 0u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_tick = start;
    let mut second = 0u64;
    while start.elapsed() < plan.duration {
        g += 1;
        write(&mut c, batch(g), &format!("generation {g}")).await?;
        out.last_gen = g;
        let s = start.elapsed().as_secs();
        if s > second {
            // Once a second: a reader, a sample; every 2 s a refused batch, every
            // 3 s garbage, every 5 s a reconnect.
            second = s;
            read_back(addr, g).await?;
            out.read_backs += 1;
            if s.is_multiple_of(2) {
                let errors = c.write(refused_batch(g)).await.map_err(|e| format!("refused batch: {e}"))?;
                if errors.len() != refused_batch(g).len() {
                    return Err(format!("a batch of invalid updates was not refused whole: {errors:?}"));
                }
                out.refused_batches += 1;
                read_back(addr, g).await?;
            }
            if s.is_multiple_of(3) {
                garbage(addr, s / 3, &mut rng)?;
                out.garbage_connections += 1;
            }
            if s.is_multiple_of(5) {
                c.close().await;
                c = connect(addr).await?;
                out.reconnects += 1;
            }
            let sample = (start.elapsed().as_secs_f64(), rss_kib(plan.pid), fds(plan.pid));
            out.samples.push(sample);
            if out.rss_start == 0 && start.elapsed() >= plan.warm_up {
                // The reconnect and garbage of this second are over: let the
                // server close its side before the descriptor count.
                tokio::time::sleep(Duration::from_millis(200)).await;
                out.rss_start = rss_kib(plan.pid);
                out.fds_start = fds(plan.pid);
            }
        }
        next_tick += BATCH_EVERY;
        match next_tick.checked_duration_since(Instant::now()) {
            Some(d) => tokio::time::sleep(d).await,
            None => next_tick = Instant::now(),
        }
    }
    let _ = plan.done.send(());
    while !plan.traffic_over.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    read_back(addr, g).await?;
    out.counters = member_counters(&mut c).await?;
    // Descriptors: connections closed by peers go away once the server notices;
    // give it up to 5 s to come back to the warm-up count.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        out.fds_end = fds(plan.pid);
        if out.fds_end <= out.fds_start || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out.rss_end = rss_kib(plan.pid);
    c.close().await;
    Ok(out)
}

// ---------------------------------------------------------------------------------
// the exit report

/// The `p4clone soft` exit report: port rows (rx, tx, tx_clones, wire_drop,
/// tx_failed, no_buffer, no_port, zero_len) and the `clones:` totals line.
fn port_rows(stdout: &str) -> BTreeMap<u16, Vec<u64>> {
    let mut rows = BTreeMap::new();
    let mut in_ports = false;
    for l in stdout.lines() {
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.first() == Some(&"port") {
            in_ports = true;
            continue;
        }
        if t.first() == Some(&"member") {
            in_ports = false;
        }
        if in_ports && t.len() >= 10 {
            if let Ok(p) = t[0].parse::<u16>() {
                rows.insert(p, t[1..9].iter().map(|v| v.parse().unwrap_or(u64::MAX)).collect());
            }
        }
    }
    rows
}

/// `name N` of the `clones:` totals line.
fn total(stdout: &str, name: &str) -> Option<u64> {
    let l = stdout.lines().find(|l| l.starts_with("clones: "))?;
    let at = l.find(&format!(" {name} "))? + name.len() + 2;
    l[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

// ---------------------------------------------------------------------------------
// the test

fn soak(duration: Duration) {
    let pairs = [("s0", "s1"), ("w0", "w1"), ("k0", "k1"), ("l0", "l1")];
    let ns = match Netns::create("soak", &pairs) {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("SKIP: soak: {e}");
            return;
        }
    };
    // A raw socket needs CAP_NET_RAW, which creating a namespace did not prove.
    let probe = {
        let name = ns.name.clone();
        std::thread::spawn(move || netns::enter(&name).and_then(|()| RawSocket::open("s0")).map(drop)).join()
    };
    if let Ok(Err(e)) = probe {
        eprintln!("SKIP: soak: {e}");
        return;
    }
    let started = Instant::now();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_p4clone"), "soft", "--p4rt", "127.0.0.1:0"]);
    // mimalloc returns freed memory to the kernel at once rather than after its purge
    // delay, so that the RSS follows what the process holds (otherwise the ~75 MiB
    // the first pipeline set-up frees stay resident for about 10 s).
    cmd.env("MIMALLOC_PURGE_DELAY", "0");
    for (n, (_, inside)) in pairs.iter().enumerate() {
        cmd.args(["--port", &format!("{}=afpacket:{inside}", n + 1)]);
    }
    let mut soft = Soft::spawn_cmd(cmd);
    let addr = soft.address();
    soft.wait_line("forwarding until SIGINT/SIGTERM");
    let pid = soft.pid();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "p4clone", "pid {pid} is not the p4clone process");

    let stop_capture = Arc::new(AtomicBool::new(false));
    let caps: Vec<_> = [("w0", 2u16), ("k0", 3), ("l0", 4)]
        .into_iter()
        .map(|(i, p)| (p, capture(ns.name.clone(), i, p, stop_capture.clone())))
        .collect();

    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let traffic_over = Arc::new(AtomicBool::new(false));
    let plan = Plan {
        addr: addr.clone(),
        pid,
        duration,
        warm_up: (duration / 4).min(Duration::from_secs(30)),
        ready: ready_tx,
        done: done_tx,
        traffic_over: traffic_over.clone(),
    };
    let ns_name = ns.name.clone();
    let ctl = std::thread::spawn(move || -> Result<Controlled, String> {
        netns::enter(&ns_name)?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(controller(plan))
    });
    if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let r = ctl.join().expect("controller thread");
        panic!("the controller did not configure the target: {:?}", r.err());
    }
    let stop_send = Arc::new(AtomicBool::new(false));
    let sent_so_far = Arc::new(AtomicU64::new(0));
    let tx = sender(ns.name.clone(), "s0", stop_send.clone(), sent_so_far.clone());

    // Until the controller is done (or fails, or the target exits).
    loop {
        match done_rx.recv_timeout(Duration::from_millis(500)) {
            Ok(()) => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(st) = soft.exited() {
            stop_send.store(true, Ordering::SeqCst);
            panic!("p4clone soft exited during the soak: {st}");
        }
    }
    stop_send.store(true, Ordering::SeqCst);
    let sent = tx.join().expect("sender thread").expect("sender");
    std::thread::sleep(Duration::from_millis(500));
    traffic_over.store(true, Ordering::SeqCst);
    let controlled = ctl.join().expect("controller thread");
    stop_capture.store(true, Ordering::SeqCst);
    let mut captured: BTreeMap<u16, Captured> = BTreeMap::new();
    for (p, h) in caps {
        captured.insert(p, h.join().expect("capture thread").unwrap_or_else(|e| panic!("capture port {p}: {e}")));
    }
    soft.signal(libc::SIGINT);
    let (o, err) = soft.finish();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let elapsed = started.elapsed();
    let controlled = controlled.unwrap_or_else(|e| panic!("controller: {e}\np4clone soft stderr:\n{}", err.join("\n")));
    assert_eq!(o.status.code(), Some(0), "p4clone soft exit; stderr:\n{}\nstdout:\n{stdout}", err.join("\n"));
    assert!(!err.iter().any(|l| l.contains("panicked")), "p4clone soft panicked:\n{}", err.join("\n"));

    // --- figures
    let originals = &captured[&2].originals;
    let clones: Vec<(u64, u64, u16)> = {
        let mut v: Vec<_> = captured[&3].clones.iter().chain(&captured[&4].clones).copied().collect();
        v.sort_unstable();
        v
    };
    let rows = port_rows(&stdout);
    let row = |p: u16| rows.get(&p).cloned().unwrap_or_else(|| panic!("no port {p} row in the exit report:\n{stdout}"));
    let gens: std::collections::BTreeSet<u64> = clones.iter().map(|c| c.1).collect();
    let c = &controlled;
    let figures = format!(
        "soak: {:.0} s ({:.0} s of writes): {sent} frames sent, {} received on port 2, {} clones received \
         (port 3: {}, port 4: {}); {} batches ({} updates) applied, {} generations seen in clones; faults: {} \
         controller reconnects, {} refused batches, {} garbage connections, {} read-backs; RSS {} KiB after \
         warm-up -> {} KiB at the end (max {} KiB); fds {} -> {}; capture socket drops {}; counters {:?}",
        elapsed.as_secs_f64(),
        duration.as_secs_f64(),
        originals.len(),
        clones.len(),
        captured[&3].clones.len(),
        captured[&4].clones.len(),
        c.last_gen + 1,
        (c.last_gen + 1) * 5,
        gens.len(),
        c.reconnects,
        c.refused_batches,
        c.garbage_connections,
        c.read_backs,
        c.rss_start,
        c.rss_end,
        c.samples.iter().map(|s| s.1).max().unwrap_or(0),
        c.fds_start,
        c.fds_end,
        captured.values().map(|x| x.socket_drops).sum::<u64>(),
        c.counters,
    );
    eprintln!("{figures}");
    let samples: Vec<String> = c.samples.iter().map(|s| format!("{:.0}s:{}KiB/{}fd", s.0, s.1, s.2)).collect();
    eprintln!("soak samples: {}", samples.join(" "));

    // --- whole configurations only
    for (p, cap) in &captured {
        assert!(
            cap.problem_count == 0,
            "port {p}: {} problems, first ones:\n{}",
            cap.problem_count,
            cap.problems.join("\n")
        );
    }
    // The stream must have run, and the configuration must have changed under it.
    assert!(sent >= RATE * duration.as_secs() / 2, "only {sent} frames sent in {duration:?}");
    assert!(c.last_gen >= 100, "only {} batches", c.last_gen);
    assert!(gens.len() >= 10, "clones of only {} generations", gens.len());
    // Generations never go back in frame order (every burst sees one published
    // state, each later than the one before).
    for w in clones.windows(2) {
        assert!(w[0].0 != w[1].0, "seq {} cloned twice", w[0].0);
        assert!(
            w[0].1 <= w[1].1,
            "seq {} saw generation {}, the later seq {} generation {}",
            w[0].0,
            w[0].1,
            w[1].0,
            w[1].1
        );
    }
    assert!(clones.iter().all(|x| x.1 <= c.last_gen && x.0 < sent), "a clone of a generation or frame never made");

    // --- frames in = frames out + drops
    let (p1, p2, p3, p4) = (row(1), row(2), row(3), row(4));
    let drops = captured.values().map(|x| x.socket_drops).sum::<u64>();
    assert_eq!(drops, 0, "the capture sockets dropped frames: the test lost them, not the target");
    assert_eq!(p1[0], sent, "port 1 received (the target's count) vs sent:\n{stdout}");
    assert_eq!(p1[3], 0, "wire drops on port 1:\n{stdout}");
    assert_eq!(p2[0] + p3[0] + p4[0], 0, "nothing is sent towards the target on ports 2-4:\n{stdout}");
    assert_eq!(p2[1], originals.len() as u64, "port 2: sent by the target vs received:\n{stdout}");
    assert_eq!(p2[1] + p2[4] + p2[5], sent, "frames sent vs forwarded on port 2 + failed there:\n{stdout}");
    assert!(originals.windows(2).all(|w| w[0] < w[1]), "originals out of order or repeated on port 2");
    let clone_tx = p3[2] + p4[2];
    assert_eq!(clone_tx, clones.len() as u64, "clones the target sent vs clones received:\n{stdout}");

    // --- counters exact
    let req: u64 = c.counters.values().map(|v| v[0]).sum();
    assert_eq!(req, sent, "clones_requested (P4Runtime) vs frames sent: {:?}", c.counters);
    for (m, v) in &c.counters {
        let got = clones.iter().filter(|x| x.2 == *m).count() as u64;
        assert_eq!(v[0], v[1], "member {m}: clones_requested != clones_emitted: {v:?}");
        assert_eq!(v[1], got + v[2] + v[3], "member {m}: emitted != received + alloc_failed + driver_failed: {v:?}");
    }
    for (name, want) in [("requested", sent), ("emitted", sent), ("clone_no_session", 0), ("clone_rewrite_miss", 0)] {
        assert_eq!(total(&stdout, name), Some(want), "exit report `{name}`:\n{stdout}");
    }

    // --- resources
    assert!(c.rss_start > 0 && c.fds_start > 0, "no warm-up sample: {c:?}");
    let limit = c.rss_start + RSS_SLACK_KIB + c.rss_start * RSS_PERCENT / 100;
    assert!(
        c.rss_end <= limit,
        "RSS grew from {} KiB to {} KiB (limit {limit} KiB): {samples:?}",
        c.rss_start,
        c.rss_end
    );
    assert!(c.fds_end <= c.fds_start, "descriptors grew from {} to {}: {samples:?}", c.fds_start, c.fds_end);
}
