//! Interop with a third-party P4Runtime client: `p4runtime-shell` 0.0.6 (PyPI)
//! sets the pipeline, inserts a classify entry, a rewrite entry and a clone session,
//! reads them back and reads counters (`tests/p4rt_shell/interop.py`); between its
//! two phases this test pushes frames through the pipeline so the counters move.
//!
//! The venv comes from `scripts/setup-p4runtime-shell.sh` (idempotent; run here).
//! If it cannot be made (no `python3 -m venv`, PyPI unreachable) the test prints
//! why and skips, except under CI (`CI=true`), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use p4clone_pipeline::WorkerState;
use p4clone_pipeline::{EmitBatch, RxFrame};
use p4clone_soft::server::SoftTarget;

const DEVICE: u64 = 1;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, or why there is none.
fn venv_python() -> Result<PathBuf, String> {
    let script = root().join("scripts/setup-p4runtime-shell.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{} failed:\n{stderr}", script.display()));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let venv = stdout.lines().last().ok_or_else(|| format!("{} printed no venv path", script.display()))?;
    Ok(Path::new(venv.trim()).join("bin/python"))
}

/// Runs the interop script (at most 120 s) and returns its output, or panics with it.
fn run_phase(python: &Path, args: &[String]) -> String {
    let script = root().join("targets/soft/tests/p4rt_shell/interop.py");
    let mut child = Command::new(python)
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the interop script");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "$ {} {} {}\n--- stdout\n{}--- stderr\n{}",
        python.display(),
        script.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "p4runtime-shell interop failed:\n{text}");
    text
}

/// Ethernet + IPv4 + TCP from 10.0.0.1, 60 bytes.
fn tcp_frame() -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xbb]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&40u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&80u16.to_be_bytes());
    f[46] = 0x50;
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p4runtime_shell_programs_and_reads_the_soft_target() {
    let python = match tokio::task::spawn_blocking(venv_python).await.unwrap() {
        Ok(p) => p,
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("SKIPPED p4runtime-shell interop: no p4runtime-shell venv.\n{why}");
            return;
        }
        Err(why) => panic!("p4runtime-shell venv required under CI:\n{why}"),
    };

    let target = SoftTarget::new(DEVICE);
    let handle = target.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = handle.local_addr().to_string();
    let bin = std::env::temp_dir().join(format!("p4clone-interop-{}.bin", std::process::id()));
    std::fs::write(&bin, b"the soft target ignores the device config").unwrap();
    let p4info = root().join("p4src/traffic_clone.p4info.txtpb");

    let args: Vec<String> = [
        "--addr",
        &addr,
        "--device-id",
        &DEVICE.to_string(),
        "--election-low",
        "1",
        "--phase",
        "program",
        "--p4info",
        &p4info.to_string_lossy(),
        "--bin",
        &bin.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let py = python.clone();
    let out = tokio::task::spawn_blocking(move || run_phase(&py, &args)).await.unwrap();
    let _ = std::fs::remove_file(&bin);
    assert!(out.contains("program: ok"), "{out}");
    assert!(target.has_pipeline());
    assert_eq!(target.pipeline().table_sizes().classify_v4, 1);

    // Traffic: three matching frames on port 1, each cloned to member 5.
    let frame = tcp_frame();
    let frames = [RxFrame { port: 1, data: &frame }];
    let mut batch = EmitBatch::with_capacity(32);
    for _ in 0..3 {
        target.pipeline().process_burst(&frames, &mut WorkerState::new(), &mut batch);
        assert_eq!(batch.len(), 2, "clone and original");
    }

    let args: Vec<String> = [
        "--addr",
        &addr,
        "--device-id",
        &DEVICE.to_string(),
        "--election-low",
        "2",
        "--phase",
        "verify",
        "--packets",
        "3",
        "--bytes",
        &(3 * frame.len()).to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = tokio::task::spawn_blocking(move || run_phase(&python, &args)).await.unwrap();
    assert!(out.contains("verify: ok"), "{out}");
    let sizes = target.pipeline().table_sizes();
    assert_eq!((sizes.classify_v4, sizes.clone_sessions, sizes.wire), (0, 0, 0));
    handle.shutdown().await;
}
