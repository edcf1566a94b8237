//! BMv2 vs the software target, side by side in one run (BENCHMARKS.md, "BMv2
//! vs software target"). Not part of the normal suite:
//!
//! ```sh
//! cargo test --release --test bmv2_bench -- --ignored --nocapture
//! ```
//!
//! The 10,000-VS fleet (`synthetic::default_fleet(1)`, written as JSON), device
//! `dev000` (wire [1, 2], clones out of port 3 with VLAN 100); one pcap of
//! 64-byte Ethernet/IPv4/TCP frames arriving on port 2 from the SE
//! (10.255.0.1), 10% or 100% of them to pool members of the VSs on `dev000`
//! (cloned), the rest to an address no rule matches. Each pcap goes through
//! `p4clone run` on the software target and, where BMv2 is found, through
//! `p4clone run --target bmv2`. Frames out per second: the software target's
//! from its engine replay time (`elapsed_s`), BMv2's from its own send
//! timestamps (first to last output frame); BMv2's losses are the frames the
//! software target sent and BMv2 did not. `P4CLONE_BENCH_FRAMES` sets the
//! frame count (default 100,000), `P4CLONE_BENCH_BMV2_ARGS` adds flags to the
//! BMv2 runs (e.g. `--bmv2-window 60`).

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use p4clone_compiler::synthetic;
use p4clone_soft::ports::pcap::PcapWriter;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn csum(words: &[u8]) -> u16 {
    let mut s: u32 = words.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// A 64-byte Ethernet/IPv4/TCP frame (no FCS).
fn tcp64(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0x01, 0, 0, 0, 0x99, 0x02, 0x01, 0, 0, 0, 0, 0x08, 0x00];
    let mut ip = vec![0x45, 0, 0, 50, 0, 1, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(&tcp);
    f.resize(64, 0);
    f
}

/// `n` frames, `pct`% of them to members of VSs on `dev000`.
fn write_pcap(path: &Path, n: u64, pct: u64) {
    // VS i is on device (i + i / profiles) % devices; members 10.0.0.1 + 8i + k, port 8000 + k.
    let vss: Vec<usize> = (0..synthetic::DEFAULT_VS)
        .filter(|i| (i + i / synthetic::DEFAULT_PROFILES).is_multiple_of(synthetic::DEFAULT_DEVICES))
        .collect();
    let se = Ipv4Addr::new(10, 255, 0, 1);
    let mut w = PcapWriter::create(path).unwrap();
    for i in 0..n {
        let f = if (i * pct) % 100 < pct {
            let vs = vss[(i as usize / 7) % vss.len()];
            let k = (i % synthetic::DEFAULT_MEMBERS_PER_POOL as u64) as u32;
            let m = 0x0A00_0001u32 + (vs as u32) * synthetic::DEFAULT_MEMBERS_PER_POOL as u32 + k;
            tcp64(se, Ipv4Addr::from(m), 40_000 + (i % 20_000) as u16, 8000 + k as u16)
        } else {
            tcp64(se, Ipv4Addr::new(10, 254, 0, 1), 40_000 + (i % 20_000) as u16, 9)
        };
        w.write(1_700_000_000_000_000_000 + i * 1_000, &f).unwrap();
    }
    w.flush().unwrap();
}

/// Runs `p4clone` and parses its JSON report. A BMv2 run that lost frames exits
/// 1 after printing its report (BMv2 drops frames when it falls behind, which is
/// what this benchmark drives it to): its report still counts.
fn run(args: &[String]) -> Result<Value, String> {
    let o = Command::new(env!("CARGO_BIN_EXE_p4clone")).current_dir(root()).args(args).output().unwrap();
    let lossy = o.status.code() == Some(1) && String::from_utf8_lossy(&o.stderr).contains("(queue overflow)");
    if o.status.code() != Some(0) && !lossy {
        return Err(format!("{}: {}", o.status, String::from_utf8_lossy(&o.stderr)));
    }
    serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())
}

#[test]
#[ignore = "benchmark; run with --release --ignored --nocapture"]
fn bmv2_vs_soft() {
    let n: u64 = std::env::var("P4CLONE_BENCH_FRAMES").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("fleet.json");
    std::fs::write(&config, serde_json::to_string(&synthetic::default_fleet(1)).unwrap()).unwrap();
    let bmv2 = match p4clone_bmv2::locate::find_bmv2() {
        Ok(b) => Some(b),
        Err(e) => {
            say(&format!(
                "SKIP: BMv2 side of the benchmark: {}; software target only",
                e.to_string().lines().next().unwrap_or_default()
            ));
            None
        }
    };
    let extra: Vec<String> =
        std::env::var("P4CLONE_BENCH_BMV2_ARGS").unwrap_or_default().split_whitespace().map(String::from).collect();
    let mut rows = vec![
        "| cloned | frames in | soft: frames out | soft: frames out/s | BMv2: frames out | BMv2: lost | BMv2: frames out/s | soft / BMv2 |".to_string(),
        "|---:|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for pct in [10u64, 100] {
        let pcap = tmp.path().join(format!("bench-{pct}.pcap"));
        write_pcap(&pcap, n, pct);
        let base = |target: &str, out: &str| -> Vec<String> {
            let mut a: Vec<String> = ["run", &config.display().to_string(), "--device", "dev000", "--pcap"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            a.push(format!("2={}", pcap.display()));
            a.extend(["--out".into(), tmp.path().join(out).display().to_string(), "--output".into(), "json".into()]);
            a.extend(["--target".into(), target.into()]);
            a
        };
        let soft = run(&base("soft", &format!("soft-{pct}"))).unwrap_or_else(|e| panic!("soft run: {e}"));
        let soft_out = soft["frames_out"].as_u64().unwrap();
        let soft_rate = soft_out as f64 / soft["elapsed_s"].as_f64().unwrap();
        let mut row = format!("| {pct}% | {n} | {soft_out} | {soft_rate:.0} |");
        match &bmv2 {
            None => row.push_str(" (absent) | – | – | – |"),
            Some(_) => {
                let mut a = base("bmv2", &format!("bmv2-{pct}"));
                a.extend(extra.iter().cloned());
                match run(&a) {
                    Ok(b) => {
                        let out = b["frames_out"].as_u64().unwrap();
                        let rate = b["frames_per_s"].as_f64().unwrap_or(0.0);
                        let ratio = if rate > 0.0 { format!("{:.0}×", soft_rate / rate) } else { "–".into() };
                        row.push_str(&format!(" {out} | {} | {rate:.0} | {ratio} |", soft_out.saturating_sub(out)));
                    }
                    Err(e) => panic!("BMv2 run ({pct}% cloned): {e}"),
                }
            }
        }
        rows.push(row);
    }
    println!("{}", rows.join("\n"));
}
