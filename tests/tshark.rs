//! A real decoder reads what p4clone sends: every encapsulation vector case is run
//! through `p4clone run`, and Wireshark's `tshark` dissects the clone port's output.
//! From its dissection: outer addresses, a valid outer IPv4 checksum, the VXLAN VNI
//! and UDP port, the GRE key, the ERSPAN session id, sequence numbers and original
//! VLAN, and the inner frame's addresses and ports equal to the original's; then
//! the inner bytes are the original frame's first bytes (as many as the outer
//! lengths say were kept).
//!
//! tshark (Debian package `tshark`) is installed by `scripts/setup-tshark.sh`, which
//! CI runs before the tests; where it is absent the test prints one SKIP line and
//! passes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use p4clone_soft::ports::pcap::read_all;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn have_tshark() -> bool {
    Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success())
}

/// tshark on PATH, else one SKIP line (`scripts/setup-tshark.sh` installs it;
/// CI runs that script first).
fn tshark_or_skip() -> bool {
    if have_tshark() {
        return true;
    }
    say("SKIP: tshark decoder checks: tshark not on PATH (install it with scripts/setup-tshark.sh)");
    false
}

/// One row per frame of `pcap`: the values of `fields` (a field that occurs twice,
/// outer then inner, is comma-separated).
fn dissect(pcap: &Path, fields: &[&str]) -> Vec<BTreeMap<String, String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap).args(["-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("run tshark");
    assert!(o.status.success(), "tshark failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| fields.iter().map(|f| f.to_string()).zip(l.split('\t').map(String::from)).collect())
        .collect()
}

/// The i-th value of a comma-separated field (outer = 0, inner = 1).
fn nth(row: &BTreeMap<String, String>, field: &str, i: usize) -> String {
    row.get(field).and_then(|v| v.split(',').nth(i)).unwrap_or_default().to_string()
}

/// The innermost value of a field: its last occurrence (ip.* occur outer then
/// inner; tcp.* only inner).
fn last(row: &BTreeMap<String, String>, field: &str) -> String {
    row.get(field).and_then(|v| v.rsplit(',').next()).unwrap_or_default().to_string()
}

/// The case's input frames merged by timestamp, ties to the lower port (the order
/// the target sees them; every input of these cases is cloned once).
fn merged_inputs(dir: &Path) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for port in [1u16, 2] {
        for (i, (ts, f)) in read_all(dir.join(format!("in-{port}.pcap"))).unwrap().into_iter().enumerate() {
            all.push((ts, port, i, f));
        }
    }
    all.sort_by_key(|r| (r.0, r.1, r.2));
    all.into_iter().map(|r| r.3).collect()
}

/// Runs `case` through `p4clone run`; the clone port's output pcap.
fn run_case(case: &str, out: &Path) -> (PathBuf, Vec<Vec<u8>>) {
    let dir = root().join("tests/vectors").join(case);
    let o = Command::new(env!("CARGO_BIN_EXE_p4clone"))
        .current_dir(root())
        .arg("run")
        .arg(dir.join("config.yaml"))
        .arg("--pcap")
        .arg(format!("1={}", dir.join("in-1.pcap").display()))
        .arg("--pcap")
        .arg(format!("2={}", dir.join("in-2.pcap").display()))
        .arg("--out")
        .arg(out)
        .output()
        .expect("run p4clone");
    assert!(o.status.success(), "{case}: {}", String::from_utf8_lossy(&o.stderr));
    (out.join("port-3.pcap"), merged_inputs(&dir))
}

const FIELDS: &[&str] = &[
    "ip.src",
    "ip.dst",
    "ip.len",
    "ip.id",
    "ip.checksum.status",
    "udp.srcport",
    "udp.dstport",
    "tcp.srcport",
    "tcp.dstport",
    "vxlan.vni",
    "gre.key",
    "gre.proto",
    "gre.sequence_number",
    "erspan.spanid",
    "erspan.vlan",
    "erspan.truncated",
    "vlan.id",
];

/// Checks one case; `tunnel` checks the tunnel fields of frame `i`, and `overhead`
/// gives the outer IPv4 + tunnel bytes of frame `i`.
fn check_case(
    case: &str,
    remotes: &[&str],
    overhead: impl Fn(usize) -> usize,
    tunnel: impl Fn(usize, &BTreeMap<String, String>),
) {
    let tmp = tempfile::tempdir().unwrap();
    let (out, inputs) = run_case(case, tmp.path());
    let rows = dissect(&out, FIELDS);
    let frames = read_all(&out).unwrap();
    assert_eq!(rows.len(), inputs.len(), "{case}: one copy per input frame");
    assert_eq!(frames.len(), rows.len());
    for (i, (row, (_, frame))) in rows.iter().zip(&frames).enumerate() {
        let at = format!("{case} frame {i}");
        assert_eq!(nth(row, "ip.src", 0), "192.168.50.2", "{at}: outer source");
        if !remotes.is_empty() {
            assert_eq!(nth(row, "ip.dst", 0), remotes[i % remotes.len()], "{at}: outer destination");
        }
        assert_eq!(nth(row, "ip.checksum.status", 0), "1", "{at}: outer IPv4 checksum is good");
        assert_eq!(nth(row, "ip.checksum.status", 1), "1", "{at}: inner IPv4 checksum unchanged and good");
        let original = &inputs[i];
        let inner = dissect_one(original);
        for f in ["ip.src", "ip.dst", "ip.id", "tcp.srcport", "tcp.dstport"] {
            assert_eq!(last(row, f), nth(&inner, f, 0), "{at}: inner {f}");
        }
        tunnel(i, row);
        // The inner frame is the original's first `kept` bytes.
        let total: usize = nth(row, "ip.len", 0).parse().unwrap();
        let kept = total - overhead(i);
        assert!(kept <= original.len(), "{at}");
        assert_eq!(&frame[frame.len() - kept..], &original[..kept], "{at}: inner bytes");
    }
    say(&format!("tshark: {case}: {} copies dissected and checked", rows.len()));
}

/// The dissection of one frame (written to a temporary pcap).
fn dissect_one(frame: &[u8]) -> BTreeMap<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("one.pcap");
    let mut w = p4clone_soft::ports::pcap::PcapWriter::create(&path).unwrap();
    w.write(0, frame).unwrap();
    drop(w);
    dissect(&path, FIELDS).into_iter().next().unwrap_or_default()
}

#[test]
fn tshark_reads_vxlan_gre_and_erspan() {
    if !tshark_or_skip() {
        return;
    }
    check_case(
        "encap-vxlan",
        &["198.51.100.20", "192.168.50.20"],
        |_| 36,
        |i, r| {
            assert_eq!(nth(r, "udp.dstport", 0), "4789");
            let sport: u32 = nth(r, "udp.srcport", 0).parse().unwrap();
            assert!((49152..=65535).contains(&sport), "source port {sport}");
            assert_eq!(nth(r, "vxlan.vni", 0), ["5001", "16777215"][i % 2]);
        },
    );
    check_case(
        "encap-vxlan-vlan-truncate",
        &[],
        |_| 36,
        |_, r| {
            assert_eq!(nth(r, "vlan.id", 0), "50", "outer tag");
            assert!(["198.51.100.20", "203.0.113.77"].contains(&nth(r, "ip.dst", 0).as_str()));
            assert!(["7", "8"].contains(&nth(r, "vxlan.vni", 0).as_str()));
        },
    );
    check_case(
        "encap-gre",
        &["198.51.100.20", "203.0.113.78"],
        |i| if i % 2 == 0 { 28 } else { 24 },
        |i, r| {
            assert_eq!(nth(r, "gre.proto", 0), "0x6558");
            assert_eq!(nth(r, "gre.key", 0), if i % 2 == 0 { "0xdeadbeef" } else { "" });
        },
    );
    check_case(
        "encap-erspan",
        &["198.51.100.20", "192.168.50.20"],
        |_| 36,
        |i, r| {
            assert_eq!(nth(r, "gre.proto", 0), "0x88be");
            assert_eq!(nth(r, "erspan.spanid", 0), ["1", "1023"][i % 2]);
            assert_eq!(nth(r, "gre.sequence_number", 0), (i / 2).to_string(), "per-member sequence");
            assert_eq!(nth(r, "erspan.vlan", 0), "20", "the original VLAN");
            let cut = nth(r, "ip.len", 0) == "1500";
            assert_eq!(nth(r, "erspan.truncated", 0), if cut { "1" } else { "0" });
        },
    );
}
