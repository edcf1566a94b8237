//! The launcher's process handling, exercised where BMv2 is absent through
//! `stub_simple_switch_grpc.py`, a stand-in for BMv2's *process interface*
//! (options, files, port, signals; it copies frames and speaks no P4Runtime).
//! These tests prove the machinery (start, readiness, settling, SIGTERM,
//! collection, early-exit reports); they never stand in for a BMv2 result,
//! which only the fidelity suite on a real BMv2 gives.
//!
//! With a real `simple_switch_grpc` found (`$P4CLONE_BMV2` or `PATH`),
//! `real_bmv2_starts_and_stops` also starts it, waits for its P4Runtime port
//! and stops it.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use p4clone_bmv2::launch::{self, Bmv2, LaunchOptions};
use p4clone_bmv2::{locate, pcap, Bmv2Error};

fn stub() -> Option<PathBuf> {
    if locate::which("python3").is_none() {
        let _ =
            writeln!(std::io::stderr(), "SKIP: python3 not found; the launcher tests need it to run the process stub");
        return None;
    }
    Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stub_simple_switch_grpc.py"))
}

fn frame(tag: u8, len: usize) -> Vec<u8> {
    let mut f = vec![tag; len];
    f[12] = 0x08;
    f[13] = 0x00;
    f
}

fn input(dir: &Path, name: &str, frames: &[(u64, Vec<u8>)]) -> PathBuf {
    let p = dir.join(name);
    pcap::write(&p, frames.iter().map(|(t, d)| (*t, d.as_slice()))).unwrap();
    p
}

fn opts(binary: PathBuf, work: PathBuf) -> LaunchOptions {
    let mut o = LaunchOptions::new(binary, 1, work);
    o.window_s = 1;
    o.log_level = "warn".into();
    o.ready_timeout = Duration::from_secs(10);
    o
}

#[test]
fn stub_run_collects_outputs_per_port() {
    let Some(stub) = stub() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let ns = 1_700_000_000_000_000_000u64;
    let in1 = input(
        tmp.path(),
        "a.pcap",
        &(0..5).map(|i| (ns + i * 1_000_000, frame(1, 60 + i as usize))).collect::<Vec<_>>(),
    );
    let in2 = input(tmp.path(), "b.pcap", &(0..3).map(|i| (ns + i * 1_500_000, frame(2, 64))).collect::<Vec<_>>());
    let mut o = opts(stub, tmp.path().join("work"));
    o.ports = BTreeSet::from([1, 2, 3]);
    o.inputs.insert(1, in1);
    o.inputs.insert(2, in2);
    let mut b = Bmv2::launch(&o).expect("launch");
    // The stub has no P4Runtime: its window runs from when it listens, i.e. now.
    let t0 = Instant::now();
    assert!(b.command_line().contains("-i 1@"), "{}", b.command_line());
    assert!(b.command_line().contains("--thrift-port"), "the stub's --help lists --thrift-port: {}", b.command_line());
    assert_eq!(b.ports(), &[1, 2, 3]);
    assert_eq!(b.frames_in().values().copied().collect::<Vec<_>>(), vec![5, 3, 0]);
    let settled = b.wait_settled(b.processing_start(t0), Duration::from_millis(400), Duration::from_secs(20)).unwrap();
    assert!(settled.bytes > 3 * 24, "{settled:?}");
    b.stop(Duration::from_secs(5)).unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let ports = b.collect(&out).unwrap();
    assert_eq!(ports.iter().map(|p| (p.port, p.frames)).collect::<Vec<_>>(), vec![(1, 5), (2, 3), (3, 0)]);
    assert!(ports[2].path.is_none() && !out.join("port-3.pcap").exists());
    let p1 = pcap::read(&out.join("port-1.pcap")).unwrap();
    assert_eq!(p1.linktype, pcap::LINKTYPE_ETHERNET);
    assert_eq!(p1.records.iter().map(|r| r.data.len()).collect::<Vec<_>>(), vec![60, 61, 62, 63, 64]);
    assert!(ports[0].last_ts_ns >= ports[0].first_ts_ns);
    let work = b.work_dir().to_path_buf();
    b.cleanup();
    assert!(!work.exists());
}

#[test]
fn stub_early_exit_shows_the_end_of_its_output() {
    let Some(stub) = stub() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(stub, tmp.path().join("exit-early"));
    o.ports = BTreeSet::from([1]);
    let e = Bmv2::launch(&o).unwrap_err();
    assert!(matches!(e, Bmv2Error::ExitedEarly { .. }), "{e}");
    let m = e.to_string();
    assert!(m.contains("BMv2 exited early") && m.contains("Error while parsing command line arguments"), "{m}");
}

#[test]
fn unsuitable_binary_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(PathBuf::from("/bin/true"), tmp.path().join("work"));
    o.ports = BTreeSet::from([1]);
    let m = Bmv2::launch(&o).unwrap_err().to_string();
    assert!(m.contains("not a simple_switch_grpc"), "{m}");
    let mut o = opts(PathBuf::from("/nonexistent/simple_switch_grpc"), tmp.path().join("work"));
    o.ports = BTreeSet::from([1]);
    assert!(matches!(Bmv2::launch(&o), Err(Bmv2Error::Spawn { .. })));
}

#[test]
fn bad_log_level_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(PathBuf::from("/bin/true"), tmp.path().join("work"));
    o.log_level = "verbose".into();
    assert!(Bmv2::launch(&o).unwrap_err().to_string().contains("log level"));
}

#[test]
fn real_bmv2_starts_and_stops() {
    let binary = match locate::find_bmv2() {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: real BMv2 start/stop: {}",
                e.to_string().lines().next().unwrap_or_default()
            );
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(binary, tmp.path().join("work"));
    o.ports = BTreeSet::from([1, 2]);
    let mut b = Bmv2::launch(&o).unwrap_or_else(|e| panic!("{e}"));
    // No pipeline is set, so nothing is processed; it must still be alive.
    std::thread::sleep(Duration::from_millis(500));
    b.stop(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
    assert!(launch::output_file(b.work_dir(), 1).exists());
}
